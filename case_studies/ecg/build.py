"""ECG case study: a spiking anomaly detector on a synthetic ECG, with certified decision
latency and energy on the Loihi cost model.

1. **Signal** (:mod:`synth_ecg`): beat-aligned windows of a synthetic two-lead ECG, 64
   samples at 80 Hz, labelled normal (0) or anomalous (1: premature ventricular beat, wide
   QRS, missing P wave), with noise and baseline wander, from fixed seeds.
2. **Encoding**: :class:`verisnn.encoders.DeltaEncoder` (ON / OFF spikes when a lead moves
   by ``threshold`` mV) turns each window ``[64, 2]`` into a raster ``[64, 4]``; the model file
   carries the encoder (``input.encoding``), so ``encoder_from_model`` rebuilds it.
3. **Model**: 4 -> 32 LIF -> 2 LIF, spike-count readout, trained with surrogate gradients
   (:func:`verisnn.training.train`) and quantized to the exact integer model
   (:func:`verisnn.quantize.quantize`, scale chosen on training windows).
4. **Certified decision latency**: for each of the first ``certify.windows`` test windows,
   the smallest ``k`` such that ``decided_by: k`` holds on the region (``flips: 1``: every
   raster within one flipped spike bit) is found by simulating the region, then
   :func:`verisnn.verify.verify` must answer ``verified`` at ``k`` and ``falsified`` (a replayed
   witness) at ``k - 1``; only then is ``k`` reported. Converted to µs with
   :func:`verisnn.hardware.decision_latency` on the Loihi profile, for the window itself and
   as the maximum over every raster of the region (enumerated: the region is small).
5. **Energy**: per-inference energy of every test window (:func:`verisnn.hardware.cost`); the
   certified worst case over the region of the first ``worst_case.windows`` windows
   (:func:`verisnn.worst_case.worst_case`), cross-checked against the maximum of ``cost`` over
   the enumerated region; and CP-SAT's bracket of the worst case over every input raster.

Run: ``python case_studies/ecg/build.py [--out DIR] [--config YAML] [--json]`` (default
``artifacts/ecg`` and ``config.yaml`` beside this file).
Writes ``ecg-delta-lif.snn.json``, ``float.pt``, ``test_signals.npy`` (``[B, 64, 2]`` float64
mV), ``test_inputs.npy`` (``[B, 64, 4]`` int8), ``test_labels.npy``, ``test_kinds.json``
and ``summary.json``. See ``docs/ecg.md``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections import Counter
from pathlib import Path

import jsonschema
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # synth_ecg.py beside this file

import synth_ecg  # noqa: E402

import verisnn  # noqa: E402
from verisnn import hardware  # noqa: E402
from verisnn.checkpoint import save_checkpoint  # noqa: E402
from verisnn.documents import load_document  # noqa: E402
from verisnn.encoders import DeltaEncoder  # noqa: E402
from verisnn.errors import VerisnnError  # noqa: E402
from verisnn.model import InputSpec, Model, Readout  # noqa: E402
from verisnn.model_format import first_schema_error, model_hash, neuron_from_dict, save_model  # noqa: E402
from verisnn.properties import parse_property  # noqa: E402
from verisnn.quantize import accuracy, quantize  # noqa: E402
from verisnn.readout import decide  # noqa: E402
from verisnn.simulator import simulate  # noqa: E402
from verisnn.torch_sim import LayerSpec, SpikingNetwork  # noqa: E402
from verisnn.training import TrainConfig, train  # noqa: E402
from verisnn.verify import verify  # noqa: E402

CONFIG = Path(__file__).with_name("config.yaml")
R_INDEX = round(-synth_ecg.WINDOW_S[0] * synth_ecg.FS)  # the sample of the centre beat's R peak (24)


_NUMBER, _COUNT = {"type": "number", "exclusiveMinimum": 0}, {"type": "integer", "minimum": 1}
_FLIPS = {"type": "object", "additionalProperties": False, "required": ["flips"],
          "properties": {"flips": {"type": "integer", "minimum": 0, "maximum": 2}}}


def _object(required: dict, optional: dict | None = None) -> dict:
    return {"type": "object", "additionalProperties": False, "required": list(required),
            "properties": {**required, **(optional or {})}}


CONFIG_SCHEMA = _object({
    "name": {"type": "string", "minLength": 1},
    "signal": _object({"train": _COUNT, "test": _COUNT, "train_seed": {"type": "integer", "minimum": 0},
                       "test_seed": {"type": "integer", "minimum": 0}}),
    "encoding": _object({"threshold": _NUMBER}),
    "hidden": _COUNT,
    "neuron": {"type": "object"},
    "readout": {"type": "object"},
    "seed": {"type": "integer", "minimum": 0},
    "training": _object({"epochs": _COUNT, "batch_size": _COUNT, "lr": _NUMBER}, {"logit_scale": _NUMBER}),
    "quantization": _object({"calibration_samples": _COUNT}),
    "certify": _object({"profile": {"type": "string"}, "region": _FLIPS, "windows": _COUNT,
                        "method": {"enum": ["auto", "enumerate", "bab", "bounds", "smt", "cpsat"]},
                        "timeout_s": _NUMBER}),
    "worst_case": _object({"region": _FLIPS, "windows": {"type": "integer", "minimum": 0}, "timeout_s": _NUMBER},
                          {"any": _object({"timeout_s": _NUMBER})}),
})


def load_config(path: Path = CONFIG) -> dict:
    doc = load_document(path, 1 << 20, VerisnnError, "config")  # strict: no aliases, tags or duplicate keys
    if not isinstance(doc, dict):
        raise VerisnnError("a config is a mapping of keys to values", str(path))
    first_schema_error(jsonschema.Draft202012Validator(CONFIG_SCHEMA), doc, VerisnnError, "config")
    return doc


# ----------------------------------------------------------------------------- data and model


def data(cfg: dict) -> tuple[synth_ecg.Windows, synth_ecg.Windows, DeltaEncoder]:
    """Training and test windows (separate seeds) and the model's encoder."""
    s = cfg["signal"]
    enc = DeltaEncoder(threshold=float(cfg["encoding"]["threshold"]), time_steps=synth_ecg.T)
    return synth_ecg.generate(s["train"], s["train_seed"]), synth_ecg.generate(s["test"], s["test_seed"]), enc


def network(cfg: dict) -> SpikingNetwork:
    """The float network: 2 x leads inputs -> hidden LIF -> 2 LIF outputs."""
    n_in, hidden = 2 * synth_ecg.LEADS, int(cfg["hidden"])
    try:
        neuron = lambda n: neuron_from_dict({"threshold": 1, **cfg["neuron"]}, n)  # noqa: E731
        specs = [LayerSpec("dense", n_in, hidden, neuron(hidden)), LayerSpec("dense", hidden, 2, neuron(2))]
        readout = Readout(**cfg["readout"])
    except TypeError as e:  # an unknown key
        raise VerisnnError(str(e), "config.neuron / config.readout") from None
    return SpikingNetwork(specs, synth_ecg.T, readout, seed=int(cfg["seed"]))


def train_and_quantize(cfg: dict, x_train, y_train, x_test, y_test, enc: DeltaEncoder,
                       progress: bool) -> tuple[SpikingNetwork, dict, object]:
    net = network(cfg)
    tc = cfg["training"]
    t0 = time.perf_counter()
    config = TrainConfig(epochs=int(tc["epochs"]), batch_size=int(tc["batch_size"]), lr=float(tc["lr"]),
                         logit_scale=float(tc.get("logit_scale", 1.0)), seed=int(cfg["seed"]))
    history = train(net, x_train, y_train, config, progress=progress)
    t_train = time.perf_counter() - t0
    n_cal = int(cfg["quantization"]["calibration_samples"])
    prov = {"trained_with": f"verisnn {verisnn.__version__} surrogate-gradient BPTT (torch {torch.__version__})",
            "dataset": "synthetic two-lead ECG, case_studies/ecg/synth_ecg.py "
                       f"(train seed {cfg['signal']['train_seed']}, {cfg['signal']['train']} windows)",
            "config": cfg}
    q = quantize(net, input_spec=InputSpec(size=2 * synth_ecg.LEADS, shape=(synth_ecg.LEADS * 2,),
                                           encoding=enc.to_spec()),
                 name=cfg["name"], provenance=prov, calibration=(x_train[:n_cal], y_train[:n_cal]),
                 evaluation=(x_test, y_test))
    training = {"epochs": int(tc["epochs"]), "final_loss": history[-1]["loss"],
                "train_accuracy": history[-1]["train_accuracy"], "time_s": round(t_train, 2)}
    return net, training, q


# ----------------------------------------------------------------------------- certification


def flips_rasters(centre: np.ndarray, k: int) -> np.ndarray:
    """Every raster within ``k`` flipped bits of ``centre`` (the ``flips: k`` region), ``[N, T, n]``."""
    flat = centre.reshape(-1)
    rows = [flat.copy()]
    for j in range(1, k + 1):
        for idx in itertools.combinations(range(flat.size), j):
            r = flat.copy()
            r[list(idx)] ^= 1
            rows.append(r)
    return np.stack(rows).reshape(-1, *centre.shape).astype(np.int8)


def smallest_decided_by(model: Model, rasters: np.ndarray) -> int | None:
    """The smallest ``k`` such that every raster of ``rasters`` (``[B, T, n]``) has a unique
    decision over its ``T`` steps that its first ``k`` steps already give (None: some raster
    has no unique decision at all). A proposal, found by simulation; ``verify`` certifies it."""
    out = np.ascontiguousarray(simulate(model, rasters).layer_outputs[-1].transpose(1, 0, 2))  # [T, B, n]
    final = decide(model.readout, out)
    if (final < 0).any():
        return None
    for k in range(1, model.time_steps + 1):
        if np.array_equal(decide(model.readout, out[:k]), final):
            return k
    raise AssertionError("unreachable: the first T steps decide as the whole run")


def certify_window(model: Model, centre: np.ndarray, region: dict, method: str, timeout: float) -> dict:
    """The smallest ``k`` for which ``verify`` answers ``verified`` to ``decided_by: k`` on the
    ``flips`` ``region`` around ``centre``. The candidate comes from simulating every raster of
    the region; ``verify`` must then answer ``verified`` at ``k`` and ``falsified`` (a replayed
    witness) at ``k - 1``, else no bound is claimed. When some raster of the region has no unique
    decision, ``verify`` must falsify ``decided_by: T`` (no ``k`` holds)."""
    t0 = time.perf_counter()
    T = model.time_steps
    # auto without the step-by-step tree: on a region of a few hundred rasters the enumeration
    # is ~20x faster here (centre, bounds, then exhaustive enumeration)
    ask = lambda k: verify(model, centre, parse_property({"region": region, "condition": {"decided_by": k}}),  # noqa
                           method=method, timeout=timeout, bab_max_region=0)
    candidate = smallest_decided_by(model, flips_rasters(centre, int(region["flips"])))
    row: dict = {"k": None, "candidate": candidate}
    if candidate is None:
        r = ask(T)
        row.update(verdict=r.verdict, at=T, stage=r.details.get("stage"),
                   reason="a raster of the region has no unique decision: no k holds" if r.verdict == "falsified"
                   else r.reason)
    else:
        r = ask(candidate)
        row.update(verdict=r.verdict, at=candidate, stage=r.details.get("stage"))
        below = ask(candidate - 1) if candidate > 1 else None
        row["below"] = None if below is None else below.verdict
        if r.verdict == "verified" and (below is None or below.verdict == "falsified"):
            row["k"] = candidate
        else:
            row["reason"] = r.reason or (below.reason if below is not None else None)
    return {**row, "time_s": round(time.perf_counter() - t0, 4)}


def distribution(values) -> dict:
    vals = np.asarray([v for v in values if v is not None], dtype=float)
    if not len(vals):
        return {"n": 0}
    return {"n": int(len(vals)), "min": float(vals.min()), "median": float(np.median(vals)),
            "mean": round(float(vals.mean()), 6), "p90": float(np.percentile(vals, 90)), "max": float(vals.max())}


def _flips_region(region: dict) -> int:
    """The ``k`` of a ``flips: k`` region (the config schema allows only these, k <= 2: the
    study enumerates the region to propose and cross-check)."""
    return int(region["flips"])


def certify_latency(model: Model, rasters: np.ndarray, labels: np.ndarray, kinds: tuple[str, ...], cfg: dict,
                    profile) -> dict:
    """Certified decision latency (steps, signal time, µs) of the first ``certify.windows`` test windows."""
    c = cfg["certify"]
    region, n = c["region"], int(c["windows"])
    flips = _flips_region(region)
    rows = []
    for i, centre in enumerate(rasters[:n]):
        row = {"window": i, **certify_window(model, centre, region, c["method"], float(c["timeout_s"]))}
        if row["k"] is not None:
            row["latency_us"] = hardware.decision_latency(model, centre, profile, row["k"])
            # the time of the first k steps varies with the input: its maximum over the region
            row["latency_us_region_max"] = max(hardware.decision_latency(model, flips_rasters(centre, flips),
                                                                         profile, row["k"]))
        rows.append(row)
    ks = [r["k"] for r in rows]
    full = hardware.cost(model, rasters[:n], profile).latency_us
    return {"region": region, "method": c["method"], "windows": len(rows),
            "certified": sum(k is not None for k in ks),
            "no_k_holds": sum(r["candidate"] is None and r["verdict"] == "falsified" for r in rows),
            # verify unknown or error (a limit, or a bad setting), or an answer against the
            # simulations (a defect somewhere): no claim either way
            "undecided": sum(r["k"] is None and not (r["candidate"] is None and r["verdict"] == "falsified")
                             for r in rows),
            "time_steps": model.time_steps,
            "k_histogram": {str(k): v for k, v in sorted(Counter(k for k in ks if k is not None).items())},
            "k_steps": distribution(ks),
            "k_steps_per_class": {str(c): distribution(k for k, y in zip(ks, labels) if y == c) for c in (0, 1)},
            "per_kind": {kind: {"windows": sum(kd == kind for kd in kinds[:n]),
                                "no_k": sum(k is None and kd == kind for k, kd in zip(ks, kinds)),
                                "k_steps": distribution(k for k, kd in zip(ks, kinds) if kd == kind)}
                         for kind in synth_ecg.KINDS},
            # in a streaming detector step t waits for sample t: the decision comes when sample k - 1
            # arrives, this long after the centre beat's R peak (sample R_INDEX)
            "signal_ms_after_r_peak": distribution(None if k is None else (k - 1 - R_INDEX) * 1000 / synth_ecg.FS
                                                   for k in ks),
            "latency_us": distribution(r.get("latency_us") for r in rows),
            "latency_us_region_max": distribution(r.get("latency_us_region_max") for r in rows),
            "full_window_latency_us": distribution(full),
            "time_s": round(sum(r["time_s"] for r in rows), 2), "per_window": rows}


def energy(model: Model, rasters: np.ndarray, labels: np.ndarray, cfg: dict, profile) -> dict:
    """Per-inference energy of every test window; the certified worst case over the region of
    the first ``worst_case.windows``; a CP-SAT bracket of the worst case over every input."""
    report = hardware.cost(model, rasters, profile)
    e = np.asarray(report.energy_uj)
    out = {"profile": profile.name, "per_inference_uj": distribution(e),
           "per_class_mean_uj": {str(c): round(float(e[labels == c].mean()), 6) for c in (0, 1)},
           "synops": distribution(report.synops), "spikes": distribution(report.spikes)}
    wc = cfg["worst_case"]
    try:
        from verisnn.worst_case import worst_case
    except ImportError as err:  # the module is optional for this study: say so instead of a number
        out["worst_case"] = {"available": False, "reason": f"verisnn.worst_case not importable: {err}"}
        return out
    region = wc["region"]
    flips = _flips_region(region)
    rows = []
    for i in range(int(wc["windows"])):
        w = worst_case(model, rasters[i], region, "energy_uj", profile, float(wc["timeout_s"]))
        rows.append({"window": i, "status": w.status, "method": w.details.get("method"), "value_uj": w.value,
                     "bound_uj": w.bound, "centre_uj": float(e[i]),
                     # the exhaustive cross-check, computed here independently of worst_case
                     "enumerated_max_uj": max(hardware.cost(model, flips_rasters(rasters[i], flips),
                                                            profile).energy_uj),
                     "time_s": round(w.time_s, 3)})
    ratio = [r["value_uj"] / r["centre_uj"] for r in rows]
    out["worst_case"] = {"available": True, "region": region, "windows": len(rows),
                         "certified": sum(r["status"] == "optimal" for r in rows),
                         "agrees_with_enumeration": all(r["value_uj"] == r["enumerated_max_uj"] for r in rows),
                         "value_uj": distribution(r["value_uj"] for r in rows),
                         "ratio_to_centre": distribution(ratio), "per_window": rows}
    anyw = wc.get("any")
    if anyw:  # every input raster: far beyond enumeration (2^(T n)), CP-SAT brackets the maximum
        try:
            w = worst_case(model, rasters[0], "any", "energy_uj", profile, float(anyw["timeout_s"]), method="cpsat")
            out["worst_case_any_input"] = {"status": w.status, "lower_uj": w.value, "upper_uj": w.bound,
                                           "reason": w.reason, "time_s": round(w.time_s, 3)}
        except (VerisnnError, RuntimeError) as err:  # a defect of the encoding is reported, never a number
            out["worst_case_any_input"] = {"status": "error", "reason": str(err)}
    return out


# ----------------------------------------------------------------------------- the build


def build(out: Path, config: dict | None = None, progress: bool = True) -> dict:
    """Everything the module docstring lists, into ``out``; returns the summary."""
    threads = torch.get_num_threads()
    # one thread: these small matrices gain little from more, and two runs sharing two cores
    # with two threads each were measured 15x slower than with one each
    torch.set_num_threads(1)
    try:
        return _build(out, config or load_config(), progress)
    finally:
        torch.set_num_threads(threads)


def _build(out: Path, cfg: dict, progress: bool) -> dict:
    t_all = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    train_w, test_w, enc = data(cfg)
    x_train, x_test = enc.encode(train_w.x), enc.encode(test_w.x)
    t_data = time.perf_counter() - t0
    net, training, q = train_and_quantize(cfg, x_train, train_w.y, x_test, test_w.y, enc, progress)
    model = q.model
    model_path = out / f"{cfg['name']}.snn.json"
    digest = save_model(model, model_path)
    save_checkpoint(net, out / "float.pt", {"config": cfg, "encoding": enc.to_spec()})
    np.save(out / "test_signals.npy", test_w.x, allow_pickle=False)
    np.save(out / "test_inputs.npy", x_test.astype(np.int8), allow_pickle=False)
    np.save(out / "test_labels.npy", test_w.y, allow_pickle=False)
    (out / "test_kinds.json").write_text(json.dumps(list(test_w.kinds)) + "\n")

    pred = simulate(model, x_test).prediction
    kinds = np.array(test_w.kinds)
    per_kind = {k: {"windows": int((kinds == k).sum()), "accuracy": accuracy(pred[kinds == k], test_w.y[kinds == k])}
                for k in synth_ecg.KINDS}
    profile = hardware.load_profile(cfg["certify"]["profile"])
    t0 = time.perf_counter()
    latency = certify_latency(model, x_test, test_w.y, test_w.kinds, cfg, profile)
    t_latency = time.perf_counter() - t0
    t0 = time.perf_counter()
    costs = energy(model, x_test, test_w.y, cfg, profile)
    t_energy = time.perf_counter() - t0
    summary = {
        "name": cfg["name"], "model": str(model_path), "sha256": digest,
        "shape": [model.input.size, model.layers[0].out_size, model.output_size], "time_steps": model.time_steps,
        "encoding": enc.to_spec(),
        "data": {"train": len(train_w.y), "test": len(test_w.y), "test_anomalous_fraction": float(test_w.y.mean()),
                 "test_kinds": dict(Counter(test_w.kinds))},
        "training": training,
        "quantization": {"scale": q.scale, "float_accuracy": q.float_accuracy, "integer_accuracy": q.integer_accuracy,
                         "float_integer_agreement": q.agreement, "candidates": list(q.candidates)},
        "test_accuracy_per_kind": per_kind,
        "decision_latency": latency,
        "energy": costs,
        "test_inputs": str(out / "test_inputs.npy"), "test_labels": str(out / "test_labels.npy"),
        "time_s": {"data": round(t_data, 2), "training": training["time_s"], "latency": round(t_latency, 2),
                   "energy": round(t_energy, 2), "total": round(time.perf_counter() - t_all, 2)},
    }
    assert model_hash(model) == digest
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Build the ECG case study (see the module docstring).")
    parser.add_argument("--out", default=str(Path("artifacts") / "ecg"), help="output folder")
    parser.add_argument("--config", default=str(CONFIG), help="the build's settings (default: config.yaml here)")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    args = parser.parse_args(argv)
    try:
        s = build(Path(args.out), load_config(args.config), progress=not args.json)
    except VerisnnError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(s))
        return 0
    q, lat, en = s["quantization"], s["decision_latency"], s["energy"]
    ks, us, e = lat["k_steps"], lat["latency_us_region_max"], en["per_inference_uj"]
    print(f"{s['name']}: {s['shape'][0]}-{s['shape'][1]}-{s['shape'][2]} over {s['time_steps']} steps, "
          f"scale {q['scale']:g} -> {s['model']}")
    print(f"  test accuracy   float {q['float_accuracy']:.4f}   integer {q['integer_accuracy']:.4f}")
    print(f"  decided_by k on {lat['region']}: verified for {lat['certified']} of {lat['windows']} windows "
          f"(no k holds for {lat['no_k_holds']}); k median {ks.get('median')}, max {ks.get('max')} steps; "
          f"first k steps on {en['profile']}: median {us.get('median')} µs, max {us.get('max')} µs")
    print(f"  energy per inference: mean {e.get('mean')} µJ, max {e.get('max')} µJ")
    wc = en["worst_case"]
    if wc["available"]:
        print(f"  worst-case energy on {wc['region']}: certified for {wc['certified']} of {wc['windows']} windows, "
              f"at most {wc['ratio_to_centre'].get('max', 0):.4f} x the window's own")
    else:
        print(f"  worst-case energy: {wc['reason']}")
    anyw = en.get("worst_case_any_input")
    if anyw:
        print(f"  worst-case energy over every input: {anyw['status']}, [{anyw.get('lower_uj')}, "
              f"{anyw.get('upper_uj')}] µJ")
    print(f"  total {s['time_s']['total']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
