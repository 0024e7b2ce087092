"""The ``verisnn`` command line.

Every subcommand is one small function ``cmd_<name>(args) -> (answer, human)``:
``answer`` is the JSON object printed with ``--json``, ``human`` the short text
printed otherwise. Everything shared is written once here: argument parsing,
loading a model or a raster with errors that name the argument, JSON printing,
and the mapping of failures to exit statuses:

* 0: a completed answer;
* 2: bad input (any :class:`~verisnn.errors.VerisnnError`, bad arguments,
  missing or unreadable files) -> ``{"error": ..., "kind": "bad_input"}``;
* 1: an internal failure -> ``{"error": ..., "kind": "internal"}`` (a traceback
  only with ``--debug``).

With ``--json``, stdout carries exactly one JSON object: while a subcommand runs,
anything else written to ``sys.stdout`` (progress, stray prints) goes to stderr.
Heavy modules (torch, nir) are imported inside the subcommands that need them,
so ``verisnn info`` and ``verisnn simulate`` start quickly.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import sys
import traceback
from pathlib import Path
from typing import Any, Callable, NoReturn, Sequence

import numpy as np

from . import __version__
from .documents import clip, parse_yaml
from .errors import InputError, VerisnnError
from .limits import count_json, memory_limit, parse_bytes, require_memory
from .paths import set_models_dirs

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT = 0, 1, 2
MAX_ERROR_CHARS = 2000  # of an error message


class UsageError(VerisnnError):
    """Bad command-line arguments (what argparse would print before exiting 2)."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises :class:`UsageError` instead of exiting, so that
    ``--json`` still gets one JSON object for a bad argument."""

    def error(self, message: str) -> NoReturn:
        usage = " ".join(self.format_usage().split()).removeprefix("usage: ")
        raise UsageError(f"{message} (usage: {usage})")


class _VersionAction(argparse.Action):
    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        raise _Done({"version": __version__}, f"verisnn {__version__}")


class _Done(Exception):
    """Ends parsing early with a completed answer (``--version``)."""

    def __init__(self, answer: dict, human: str):
        super().__init__(human)
        self.answer, self.human = answer, human


# ----------------------------------------------------------------------------- shared loading


def existing_file(path: str, field: str) -> Path:
    """``path`` as a :class:`Path`, or :class:`InputError` naming ``field`` if it is not a readable file."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"no such file: {path}", field)
    if not p.is_file():
        raise InputError(f"not a file: {path}", field)
    return p


def load_model_arg(path: str):
    """The model named on the command line (a ``*.snn.json`` file)."""
    from .model_format import load_model

    existing_file(path, "MODEL")
    return load_model(path)


def load_npy(path: str, field: str, budget_per_row: int = 0, work: str = "") -> np.ndarray:
    """A plain ``.npy`` array: never unpickles, and checks the header before reading the data.
    ``budget_per_row``: what the caller's work takes per row of a batch ``[B, ...]`` of three
    or more dimensions (``work`` says what it is), budgeted with the array before it is read."""
    p = existing_file(path, field)
    try:
        mapped = np.load(p, mmap_mode="r", allow_pickle=False)
    except ValueError as e:  # pickled objects, a truncated file, or not .npy at all
        raise InputError(f"{path} is not a plain .npy array: {e}", field) from None
    except (OSError, EOFError) as e:
        raise InputError(f"cannot read {path} as .npy: {e}", field) from None
    if isinstance(mapped, np.lib.npyio.NpzFile):
        mapped.close()
        raise InputError(f"{path} is an .npz archive; expected one .npy array", field)
    if mapped.dtype.fields is not None:
        raise InputError(f"{path} holds a structured array (dtype {mapped.dtype}); expected numbers", field)
    rows = mapped.shape[0] if mapped.ndim >= 3 else 1
    require_memory(mapped.nbytes + budget_per_row * rows,
                   f"{field} {path} ({mapped.dtype}, shape {list(mapped.shape)}){work}")
    return np.array(mapped)


def output_path(path: str, field: str = "--out") -> Path:
    """Where a subcommand will write: its folder must exist."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{path} is a folder; give a file name", field)
    if not p.parent.is_dir():
        raise InputError(f"folder {str(p.parent)!r} does not exist", field)
    return p


@contextlib.contextmanager
def writing(field: str):
    """Turns an OS error while writing an output into bad input naming the argument."""
    try:
        yield
    except OSError as e:
        raise InputError(f"cannot write: {e.strerror or e}", field) from None


def jsonable(x: Any) -> Any:
    """Plain JSON values from numpy scalars/arrays, dataclasses, paths, tuples and sets.
    Non-finite floats become ``null`` (JSON has no NaN)."""
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return {f.name: jsonable(getattr(x, f.name)) for f in dataclasses.fields(x)}
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, (set, frozenset)):
        return sorted(jsonable(v) for v in x)
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, np.generic):
        return jsonable(x.item())
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, Path):
        return str(x)
    if isinstance(x, int) and not isinstance(x, bool):
        return count_json(x)  # a count too long for Python to print becomes its text (2^k, about m.mmmeX)
    if x is None or isinstance(x, (str, bool)):
        return x
    return str(x)


# ----------------------------------------------------------------------------- simulate


def _fmt_times(times: Sequence) -> str:
    return "[" + ", ".join("-" if t is None else str(t) for t in times) + "]"


def cmd_simulate(args) -> tuple[dict, str]:
    from .simulator import run_bytes, simulate

    model = load_model_arg(args.model)
    raster = load_npy(args.input, "--input", run_bytes(model, 1), " and simulating it")
    try:
        result = simulate(model, raster)
    except InputError as e:  # the raster does not fit the model
        raise InputError(e.message, f"--input {args.input}") from None
    answer = result.to_json()
    return answer, _simulate_human(model, result, answer)


def _simulate_human(model, result, answer: dict) -> str:
    """A few readable lines: one run in full, a batch as a summary."""
    if not result.batched:
        decision = answer["prediction"] if answer["prediction"] is not None else "none (no decision)"
        lines = [f"prediction   {decision}   (readout {model.readout.type}, ties {model.readout.ties})"]
        if model.layers[-1].neuron.fires:
            lines += [f"counts       {answer['counts']}", f"first spike  {_fmt_times(answer['first_spike'])}"]
        else:
            membrane = result.layer_outputs[-1][0]
            lines.append(f"membrane     final {membrane[-1].tolist()}, max {membrane.max(axis=0).tolist()}")
        lines.append(f"spikes       {answer['total_spikes']}   synops {answer['synops']}   (T={model.time_steps})")
        return "\n".join(lines)
    preds = answer["prediction"]
    B = len(preds)
    decided = [p for p in preds if p is not None]
    histogram = np.bincount(np.asarray(decided, dtype=np.int64), minlength=model.output_size).tolist()
    spikes, ops = np.asarray(result.total_spikes), np.asarray(result.synops)
    lines = [f"batch of {B} rasters (T={model.time_steps}, readout {model.readout.type})",
             f"predictions  {preds[:16]}{' ...' if B > 16 else ''}",
             f"decided      {len(decided)} of {B}; per class {histogram}"]
    if B:
        lines.append(f"spikes       mean {spikes.mean():.1f} (min {spikes.min()}, max {spikes.max()})   "
                     f"synops mean {ops.mean():.1f} (min {ops.min()}, max {ops.max()})")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- info


def _decay_summary(decay: Any) -> Any:
    """A decay for display: ``[num, shift]``, or for per-neuron pairs their range by ``num / 2^shift``."""
    if decay is None:
        return None
    if isinstance(decay[0], tuple):
        by_factor = sorted(set(decay), key=lambda pair: pair[0] / (1 << pair[1]))
        return {"per_neuron": len(decay), "min": list(by_factor[0]), "max": list(by_factor[-1])}
    return list(decay)


def _per_neuron_ints(value: Any) -> Any:
    """Thresholds, resets, refractory periods: a scalar or a per-neuron range."""
    if value is None or isinstance(value, int):
        return value
    return {"per_neuron": len(value), "min": min(value), "max": max(value)}


def layer_summary(k: int, layer) -> dict:
    """What ``info`` says about one layer."""
    from .model import Conv2d

    n = layer.neuron
    weights = layer.weight.size + layer.bias.size + (layer.recurrent.size if layer.recurrent is not None else 0)
    d = {
        "index": k,
        "type": "conv2d" if isinstance(layer, Conv2d) else "dense",
        "in_size": layer.in_size,
        "out_size": layer.out_size,
        "neuron_model": n.model,
        "threshold": _per_neuron_ints(n.threshold),
        "fire_when": n.fire_when if n.fires else None,
        "v_decay": _decay_summary(n.v_decay),
        "i_decay": _decay_summary(n.i_decay),
        "rounding": n.rounding,
        "reset": n.reset if n.fires else None,
        "v_reset": _per_neuron_ints(n.v_reset),
        "refractory": _per_neuron_ints(n.refractory),
        "v_bits": n.v_bits,
        "on_overflow": n.on_overflow,
        "delay": layer.delay,
        "recurrent": layer.recurrent is not None,
        "nonzero_weights": int(np.count_nonzero(layer.weight)),
        "synapses": layer.synapses()  # from the kernel: info never builds a conv2d layer's dense matrix
                    + (int(np.count_nonzero(layer.recurrent)) if layer.recurrent is not None else 0),
        "parameters": int(weights),
    }
    if isinstance(layer, Conv2d):
        d.update(input_shape=list(layer.input_shape), output_shape=list(layer.output_shape),
                 kernel=list(layer.weight.shape[2:]), stride=list(layer.stride), padding=list(layer.padding))
    return d


def _human_value(v: Any) -> str:
    if isinstance(v, dict) and "per_neuron" in v:
        return f"{_human_value(v['min'])}..{_human_value(v['max'])} (per neuron)"
    if isinstance(v, list) and len(v) == 2:
        return f"{v[0]}/2^{v[1]}"
    return str(v)


def _clip(text: str, width: int = 100) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def cmd_info(args) -> tuple[dict, str]:
    from .model_format import FORMAT, model_hash

    model = load_model_arg(args.model)
    layers = [layer_summary(k, layer) for k, layer in enumerate(model.layers)]
    encoding = model.input.encoding
    answer = {
        "name": model.name,
        "format": FORMAT,
        "sha256": model_hash(model),
        "time_steps": model.time_steps,
        "input": {"size": model.input.size, "shape": list(model.input.shape) if model.input.shape else None,
                  "encoding": encoding},
        "layers": layers,
        "readout": {"type": model.readout.type, "ties": model.readout.ties},
        "provenance": model.provenance,
        "parameters": sum(d["parameters"] for d in layers),
    }
    enc = encoding.get("type", "given") if isinstance(encoding, dict) else "none given"
    shape = f"shape {answer['input']['shape']}" if model.input.shape else "no shape"
    lines = [f"{model.name}  ({FORMAT})", f"sha256      {answer['sha256']}", f"time steps  {model.time_steps}",
             f"input       {model.input.size} spike channels, {shape}, encoding {enc}",
             "layers"]
    for d in layers:
        parts = [f"  {d['index']} {d['type']:<6} {d['in_size']} -> {d['out_size']}  {d['neuron_model']}"]
        if d["threshold"] is not None:
            parts.append(f"threshold {_human_value(d['threshold'])} ({d['fire_when']})")
        parts.append("no leak" if d["v_decay"] == [1, 0] else f"v_decay {_human_value(d['v_decay'])}")
        if d["i_decay"] is not None:
            parts.append(f"i_decay {_human_value(d['i_decay'])}")
        if d["reset"] is not None:
            parts.append(f"reset {d['reset']}")
        parts.append(f"{d['v_bits']}-bit {d['on_overflow']}")
        if d["delay"]:
            parts.append(f"delay {d['delay']}")
        if d["recurrent"]:
            parts.append("recurrent")
        parts.append(f"{d['nonzero_weights']:,} non-zero weights")
        lines.append(", ".join(parts))
    lines += [f"readout     {model.readout.type} (ties: {model.readout.ties})",
              f"parameters  {answer['parameters']:,}",
              "provenance" + ("  (none)" if not model.provenance else "")]
    lines += [f"  {key}: {_clip(json.dumps(value, ensure_ascii=False))}" for key, value in sorted(model.provenance.items())]
    return answer, "\n".join(lines)


# ----------------------------------------------------------------------------- NIR


_IMPORT_NIR_ARGS = {"dt": "--dt", "scale": "--scale", "time_steps": "--time-steps", "decay_shift": "--decay-shift",
                    "v_bits": "--v-bits"}


def cmd_import_nir(args) -> tuple[dict, str]:
    from . import nir_io
    from .model_format import save_model

    existing_file(args.graph, "GRAPH")
    out = output_path(args.out)
    try:
        imported = nir_io.import_nir(args.graph, dt=args.dt, scale=args.scale, time_steps=args.time_steps,
                                     decay_shift=args.decay_shift, v_bits=args.v_bits)
    except VerisnnError as e:  # name the argument, not the function's parameter
        arg = _IMPORT_NIR_ARGS.get(e.path or "")
        if arg is None and "scale" in e.message:
            raise type(e)(f"{e.message} [command line: --scale]", e.path) from None
        raise type(e)(e.message, arg or e.path) from None
    with writing("--out"):
        digest = save_model(imported.model, out)
    conventions = jsonable(imported.conventions)
    answer = {"model": str(out), "sha256": digest, "name": imported.model.name,
              "time_steps": imported.model.time_steps, "layers": len(imported.model.layers),
              "conventions": conventions}
    lines = [f"wrote {out} ({len(imported.model.layers)} layers, T={imported.model.time_steps})",
             f"sha256 {digest}", "conventions:"] + [f"  - {_convention_text(c)}" for c in conventions]
    return answer, "\n".join(lines)


def cmd_export_nir(args) -> tuple[dict, str]:
    from . import nir_io
    from .model_format import model_hash

    model = load_model_arg(args.model)
    out = output_path(args.out)
    try:
        exported = nir_io.export_nir(model, dt=args.dt, scale=args.scale, allow_lossy=args.allow_lossy)
    except VerisnnError as e:
        if "allow_lossy" in e.message:  # say it in the command line's own words
            raise type(e)(f"{e.message} [command line: --allow-lossy]", e.path) from None
        raise
    with writing("--out"):
        nir_io.write_nir(exported.graph, out)
    conventions = jsonable(exported.conventions)
    answer = {"graph": str(out), "sha256": model_hash(model), "nodes": sorted(exported.graph.nodes),
              "conventions": conventions}
    lines = [f"wrote {out} ({len(exported.graph.nodes)} nodes) from model sha256 {answer['sha256']}",
             "conventions:"] + [f"  - {_convention_text(c)}" for c in conventions]
    return answer, "\n".join(lines)


def _convention_text(c: Any) -> str:
    if isinstance(c, dict):
        return "; ".join(f"{k}: {v}" for k, v in c.items())
    return str(c)


# ----------------------------------------------------------------------------- training pipeline


def _summary_lines(result: dict) -> str:
    """A dict from the pipeline as ``key  value`` lines (nested values as compact JSON)."""
    width = max((len(str(k)) for k in result), default=0)
    return "\n".join(f"{str(k):<{width}}  {v if isinstance(v, (str, int, float)) or v is None else json.dumps(v)}"
                     for k, v in result.items())


def cmd_train(args) -> tuple[dict, str]:
    from . import pipeline

    existing_file(args.config, "CONFIG")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{args.out} exists and is not a folder", "--out")
    with writing("--out"):
        out.mkdir(parents=True, exist_ok=True)
    result = jsonable(pipeline.run_training(args.config, args.out, epochs=args.epochs, seed=args.seed,
                                            progress=not args.json))
    return result, _summary_lines(result)


def cmd_quantize(args) -> tuple[dict, str]:
    from . import pipeline

    existing_file(args.checkpoint, "CHECKPOINT")
    if args.data is not None:
        existing_file(args.data, "--data")
    output_path(args.out)
    try:
        result = jsonable(pipeline.run_quantize(args.checkpoint, args.out, scale=args.scale, data=args.data,
                                                progress=not args.json))
    except VerisnnError as e:
        if e.path == "scale" and args.scale is not None:
            raise type(e)(e.message, "--scale") from None
        if args.data is not None and (e.path or "").startswith(args.data):
            raise type(e)(e.message, f"--data {e.path}") from None
        raise
    return result, _summary_lines(result)


def cmd_verify(args) -> tuple[dict, str]:
    from .properties import load_property
    from .verify import verify

    from .unbounded import METHODS as UNBOUNDED_METHODS
    from .verify import METHODS

    if args.solver != "z3":  # z3, the default, is a dependency; any other name is checked before any work
        from .encodings.smt import installed_solvers

        if args.solver not in installed_solvers():
            raise UsageError(f"unknown solver {args.solver!r}; installed: {', '.join(installed_solvers())}",
                             "--solver")
    model = load_model_arg(args.model)
    prop = load_property(existing_file(args.property, "--property"))
    unbounded = prop.horizon == "unbounded"
    allowed = UNBOUNDED_METHODS if unbounded else METHODS
    if args.method not in allowed:
        raise InputError(f"method {args.method!r} decides {'bounded' if unbounded else 'unbounded'} properties; "
                         f"for this {prop.horizon} property use one of {', '.join(allowed)}", "--method")
    if unbounded and args.input is not None:
        raise InputError("an unbounded property covers every input of every length (region any): "
                         "give no --input", "--input")
    if not unbounded and args.input is None:
        raise InputError("a bounded property needs --input (the centre raster [T, n])", "--input")
    raster = None if unbounded else load_npy(args.input, "--input")
    if args.letters is not None:
        if not unbounded:
            raise InputError("--letters restricts the inputs of an unbounded property", "--letters")
        alphabet = load_alphabet_arg(args.letters, model, "--letters")
        if alphabet.w != 1:
            raise InputError(f"each letter of --letters is one step's input (w = 1), got w = {alphabet.w}",
                             "--letters")
        from .unbounded import verify_unbounded

        result = verify_unbounded(model, prop, method=args.method, timeout=args.timeout, max_depth=args.max_depth,
                                  max_states=args.max_states, letters=alphabet.rasters[:, 0, :])
    else:
        result = verify(model, raster, prop, method=args.method, timeout=args.timeout, solver=args.solver,
                        logic=args.smt_logic, max_depth=args.max_depth, max_states=args.max_states)
    certificate = None
    if args.certificate is not None:  # written first: an error verdict is still a record
        from .certificate import make_certificate, write_certificate

        with writing("--certificate"):
            embed = args.certificate_model == "embedded"
            # by file: the model's path as the certificate's folder sees it
            model_path = args.model if embed else os.path.relpath(Path(args.model).resolve(),
                                                                   Path(args.certificate).resolve().parent)
            write_certificate(args.certificate, make_certificate(model, prop, raster, result, model_path=model_path,
                                                                 embed_model=embed))
        certificate = str(args.certificate)
    if result.verdict == "error":
        if (result.reason or "").startswith("internal"):
            raise RuntimeError(result.reason)
        raise InputError(result.reason or "cannot verify", "verify")
    answer = result.to_json()
    lines = [f"{result.verdict}   ({result.method}, {result.time_s:.3f} s)"]
    if certificate is not None:
        answer["certificate"] = certificate
        lines.append(f"certificate {certificate} (re-check: verisnn check {certificate})")
    if result.reason:
        lines.append(f"reason     {result.reason}")
    if result.witness is not None and unbounded:
        lines.append(f"witness    an input raster of {result.witness.shape[0]} steps; the condition fails at step "
                     f"{result.details.get('violation_step')}; replayed by the reference simulator")
    elif result.witness is not None and "analog_witness" in result.details:
        lines.append("witness    the encoding of an analog input inside the ball (`analog_witness` in --json); "
                     "replayed by the reference simulator")
    elif result.witness is not None:
        flips = np.argwhere(result.witness != raster.reshape(result.witness.shape))
        lines.append(f"witness    differs from the input at (t, channel) {flips.tolist()[:12]}"
                     f"{' ...' if len(flips) > 12 else ''}; replayed by the reference simulator")
    if result.evidence and unbounded:
        ev = result.evidence
        proof = {"kinduction": lambda: f"{ev['depth']}-inductive (k-induction at depth {ev['depth']})",
                 "pdr": lambda: f"inductive invariant of {ev['invariant_size']} term nodes (Spacer), re-checked: "
                                f"{', '.join(f'{k} {v}' for k, v in ev['recheck'].items())}",
                 "explore": lambda: f"all {ev['reachable_states']} reachable states explored"}[ev["method"]]()
        lines.append(f"proof      {proof}; --json has the evidence")
    elif result.evidence:
        lines.append(f"evidence   {_clip(json.dumps(jsonable(result.evidence)), 200)}")
    return answer, "\n".join(lines)


# ----------------------------------------------------------------------------- automaton


def load_alphabet_arg(path: str, model, field: str = "--alphabet"):
    """The alphabet file of ``field`` for ``model``; errors name the argument."""
    from .automaton import load_alphabet

    try:
        return load_alphabet(existing_file(path, field), model)
    except InputError as e:
        raise InputError(e.message, f"{field} {e.path}" if e.path else field) from None


def out_folder(path: str) -> Path:
    """An output folder given as ``--out``: absent or a folder, never a file."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise InputError(f"{path} exists and is not a folder", "--out")
    return out


def cmd_automaton(args) -> tuple[dict, str]:
    from .automaton import build_automaton, latency_bound, save_machine
    from .model_format import model_hash

    model = load_model_arg(args.model)
    alphabet = load_alphabet_arg(args.alphabet, model)
    out = out_folder(args.out)
    result = build_automaton(model, alphabet, max_states=args.max_states, timeout=args.timeout)
    explored = result.to_json()
    answer = {"status": result.status, "states_explored": result.states_explored, "states": explored["states"],
              "minimal_states": None, "transitions": result.transitions, "time_s": result.time_s,
              "states_per_s": explored["states_per_s"], "latency": None, "files": {}, "reason": result.reason}
    lines = [f"{result.status}   {result.states_explored:,} states explored, {result.transitions:,} transitions "
             f"in {result.time_s:.3f} s ({result.states_per_s:,.0f} states/s)"]
    if result.machine is None:
        lines.append(f"reason     {result.reason}")
        return answer, "\n".join(lines)
    machine = result.machine if args.no_minimize else result.machine.minimize()
    machine.provenance = {"model_sha256": model_hash(model), "model_name": model.name,
                          "letters": alphabet.to_json()["letters"], "minimized": not args.no_minimize}
    with writing("--out"):
        out.mkdir(parents=True, exist_ok=True)
        files = save_machine(machine, out)
    latency = {start: latency_bound(machine, start).to_json() for start in ("initial", "any")}
    answer.update(minimal_states=None if args.no_minimize else machine.num_states, latency=latency,
                  files={kind: str(path) for kind, path in files.items()})
    lines.append(f"states     {result.machine.num_states:,} reachable"
                 + ("" if args.no_minimize else f", {machine.num_states:,} after minimisation"))
    for start, lat in latency.items():
        wait = (f"at most {lat['bound']} letters ({lat['steps']} steps)" if lat["bound"] is not None
                else f"unbounded (no-decision cycle: {' '.join(lat['witness'])}, the last {lat['cycle']} repeating)")
        lines.append(f"latency    from {'the initial state' if start == 'initial' else 'any state'}: {wait}")
    lines.append("wrote      " + ", ".join(answer["files"].values()))
    return answer, "\n".join(lines)


def cmd_check(args) -> tuple[dict, str]:
    for folder in args.models_dir or ():
        if not Path(folder).is_dir():
            raise InputError(f"not a folder: {folder}", "--models-dir")
    set_models_dirs(args.models_dir)
    try:
        return _check(args)
    finally:
        set_models_dirs(None)


def _check(args) -> tuple[dict, str]:
    from .checker import check_certificate, check_certificates

    if len(args.certificate) > 1 or Path(args.certificate[0]).is_dir():  # a bundle: one line each, and the tally
        answer = check_certificates(args.certificate, timeout=args.timeout, independent=args.independent)
        lines = [f"{'valid' if r['valid'] else 'NOT VALID':9}  {r['path']} ({_trust_words(r)}{r['time_s']:.3f} s)" +
                 "".join(f"\n  FAIL {f}" for f in r["failures"]) for r in answer["certificates"]]
        lines.append(f"{answer['valid_count']} of {answer['count']} certificates valid ({answer['time_s']:.1f} s)")
        return answer, "\n".join(lines)
    path = args.certificate[0]
    try:
        report = check_certificate(existing_file(path, "certificate"), timeout=args.timeout,
                                   independent=args.independent)
    except InputError as e:
        raise InputError(e.message, f"{path}: {e.path}" if e.path else path) from None
    answer = report.to_json()
    lines = [f"{'valid' if report.valid else 'NOT VALID'}   {path} ({_trust_words(answer)}{answer['time_s']:.3f} s)"]
    for c in answer["checks"]:
        lines.append(f"  {'ok  ' if c['ok'] else 'FAIL'} {c['name']}" + (f": {c['detail']}" if c.get("detail") else ""))
    return answer, "\n".join(lines)


def _trust_words(answer: dict) -> str:
    """How a valid certificate was re-validated: by the kernel alone, or trusting a solver or the engine."""
    return "" if not answer["valid"] or answer.get("trust") is None else f"{answer['trust']}; "


def cmd_audit(args) -> tuple[dict, str]:
    from .audit import run_audit

    config = existing_file(args.config, "config")
    try:
        with writing("--out"):  # a full disk or a read-only folder while the report is written
            summary = run_audit(config, Path(args.out), workers=args.workers, scheduler=args.scheduler,
                                progress=not args.no_progress)
    except InputError as e:
        raise InputError(e.message, f"{args.config}: {e.path}" if e.path else args.config) from None
    certs = summary["certificates"]
    lines = [f"queries    {summary['queries']}: {summary['verified']} verified, {summary['falsified']} falsified, "
             f"{summary['unknown']} unknown, {summary['errors']} errors"
             + (f"; {summary['extracted']} extractions" if summary.get("extracted") else "")
             + f" ({summary['ran']} run now, {summary['skipped_done']} already stored; {summary['time_s']:.1f} s)"]
    if certs["written"]:
        ratio = certs["median_check_over_produce"]
        lines.append(f"certified  {certs['valid']} of {certs['written']} certificates valid on the kernel's check"
                     + ("" if ratio is None else f" (median check / produce time {ratio:.2f})"))
    lines.append(f"report     {summary['report']}")
    return summary, "\n".join(lines)


# ----------------------------------------------------------------------------- extraction


def _region_arg(text: str, field: str) -> dict:
    """A region given on the command line, in the property-file form ('{flips: 1}')."""
    from .extractors.certify import parse_region

    try:
        return parse_region(parse_yaml(text.encode(), "region", InputError, field)).to_dict()
    except VerisnnError as e:
        raise InputError(e.message, field) from None


def cmd_extract_tree(args) -> tuple[dict, str]:
    from .extractors.certify import annotate_rules, certified_share, certify_rules
    from .extractors.rules import render_html, render_markdown, ruleset_from_json
    from .extractors.tree import run_tree_extraction

    model = load_model_arg(args.model)
    data = load_npy(args.data, "--data")
    if data.ndim != 3:
        raise InputError(f"expected data rasters [N, T, n], got shape {list(data.shape)}", "--data")
    labels = None if args.labels is None else load_npy(args.labels, "--labels")
    evaluation = None if args.eval is None else load_npy(args.eval, "--eval")
    region = _region_arg(args.certify, "--certify")
    out = out_folder(args.out)
    try:
        run = run_tree_extraction(model, data, labels, evaluation, max_rules=args.max_rules, features=args.features,
                                  profile=args.profile, seed=args.seed, data_name=Path(args.data).name,
                                  split=args.split, fold_default=args.fold_default, refine=args.refine,
                                  refine_region=region, refine_max_loss=args.refine_max_loss)
    except InputError as e:
        field = {"labels": "--labels", "X": "--data", "eval_X": "--eval"}.get(e.path or "", e.path)
        raise InputError(e.message, field) from None
    results = certify_rules(model, run["ruleset"], data, region, timeout=args.timeout)
    document = annotate_rules(run["ruleset"], results)
    share = certified_share(results)
    ruleset = ruleset_from_json(document)
    extra = {"fidelity": run["fidelity"], "certified_share": share, "certification_region": region,
             **({"eval_fidelity": run["eval_fidelity"]} if "eval_fidelity" in run else {})}
    with writing("--out"):
        out.mkdir(parents=True, exist_ok=True)
        files = {"json": out / "rules.json", "markdown": out / "rules.md", "html": out / "rules.html"}
        files["json"].write_text(json.dumps(jsonable(document), indent=1) + "\n")
        files["markdown"].write_text(render_markdown(ruleset, extra))
        files["html"].write_text(render_html(ruleset, extra, title=f"Rules of {model.name or Path(args.model).name}"))
    answer = {"fidelity": run["fidelity"], "rules": document["rules"], "default": document["default"],
              "certified_share": share, "certification_region": region, "n_rules": run["n_rules"],
              "files": {k: str(v) for k, v in files.items()}}
    for key in ("eval_fidelity", "network_accuracy", "rules_accuracy"):
        if key in run:
            answer[key] = run[key]
    fid = run["fidelity"]
    verdicts = [r["verdict"] for r in results]
    lines = [f"rules      {run['n_rules']} (first match wins), fitted in {run['fit_time_s']:.1f} s",
             f"fidelity   {fid['value']:.4f}, 95% CI [{fid['ci'][0]:.4f}, {fid['ci'][1]:.4f}], n={fid['n']} "
             f"(agreement with the network on {fid['distribution']}; not accuracy)"]
    if "eval_fidelity" in run:
        e = run["eval_fidelity"]
        lines.append(f"           on --eval: {e['value']:.4f}, 95% CI [{e['ci'][0]:.4f}, {e['ci'][1]:.4f}], n={e['n']}")
    lines.append(f"certified  {share:.0%} of rules verified within {json.dumps(region)} of the data they cover "
                 f"({verdicts.count('verified')} verified, {verdicts.count('falsified')} falsified, "
                 f"{verdicts.count('unknown') + verdicts.count('error')} unknown)")
    lines.append("wrote      " + ", ".join(answer["files"].values()))
    return answer, "\n".join(lines)


def cmd_extract_automaton(args) -> tuple[dict, str]:
    from .extractors.learn import run_automaton_extraction

    model = load_model_arg(args.model)
    alphabet = load_alphabet_arg(args.alphabet, model)
    out = out_folder(args.out)
    options = {"epsilon": args.epsilon, "delta": args.delta, "seed": args.seed, "timeout": args.timeout}
    if args.max_states is not None:
        options["max_states"] = args.max_states
    with writing("--out"):
        out.mkdir(parents=True, exist_ok=True)
        answer = run_automaton_extraction(model, alphabet, out, algorithm=args.algorithm, oracle=args.oracle,
                                          profile=args.profile, **options)
    lines = [f"{answer['status']}   {answer['algorithm']} with the {answer['oracle']} oracle: "
             f"{answer['states']} states, {answer['membership_queries']} membership and "
             f"{answer['equivalence_queries']} equivalence queries, {answer['simulator_steps']:,} network steps, "
             f"{answer['time_s']:.2f} s"]
    if answer.get("reason"):
        lines.append(f"reason     {answer['reason']}")
    fid = answer.get("fidelity")
    if fid:
        lines.append(f"fidelity   {fid['value']:.4f}, 95% CI [{fid['ci'][0]:.4f}, {fid['ci'][1]:.4f}], n={fid['n']} "
                     f"({fid['distribution']})")
    if answer.get("equals_exact") is not None:
        lines.append("exact      " + ("equal to the exact (minimised) machine" if answer["equals_exact"]
                                      else "differs from the exact machine"))
    latency = answer.get("latency")
    if latency and latency.get("check"):
        check, times = latency["check"], [t for row in latency["transition_us"] for t in row]
        lines.append(f"latency    {latency['steps_per_letter']} steps per letter, {min(times):.4g}-{max(times):.4g} µs "
                     f"per transition on {latency['profile']}; measured by the cost model on {check['letters']} "
                     f"letters, {check['disagreeing_letters']} disagree"
                     + (f" (at most {check['max_abs_diff_us']:.4g} µs per letter: the machine merges network states "
                        "that take different hardware time)" if check["disagreeing_letters"] else ""))
    if answer.get("files"):
        lines.append("wrote      " + ", ".join(str(v) for v in answer["files"].values()))
    return answer, "\n".join(lines)


# ----------------------------------------------------------------------------- hardware cost


def cmd_cost(args) -> tuple[dict, str]:
    from .hardware import cost, load_placement, load_profile, place

    model = load_model_arg(args.model)
    raster = load_npy(args.input, "--input")
    try:
        profile = load_profile(args.profile)
    except InputError as e:
        raise InputError(e.message, f"--profile {e.path}" if e.path not in (None, "profile") else "--profile") from None
    placement = None
    if args.placement is not None:
        try:
            placement = place(model, profile, load_placement(args.placement))
        except InputError as e:
            raise InputError(e.message, f"--placement {e.path}" if e.path not in (None, "placement")
                             else "--placement") from None
    try:
        report = cost(model, raster, profile, placement)
    except InputError as e:
        if e.path == "input":  # the raster does not fit the model
            raise InputError(e.message, f"--input {args.input}") from None
        raise
    answer, human = report.to_json(), _cost_human(profile, report)
    # --worst-case: the largest cost over a region around the input (verisnn/worst_case.py, CP-SAT)
    if args.worst_case is not None:
        worst = _cost_worst_case(args, model, raster, profile, placement)
        answer["worst_case"] = worst.to_json()
        human += "\n" + _worst_case_human(worst)
    elif args.region is not None or args.property is not None:
        raise UsageError("--region and --property give the region of --worst-case QUANTITY, which is missing")
    return answer, human


_COST_QUANTITIES = ("latency_us", "energy_uj", "synops", "spikes")  # worst_case.QUANTITIES (not imported: CP-SAT)
_COST_UNITS = {"latency_us": " us", "energy_uj": " uJ", "synops": " synops", "spikes": " spikes"}


def _cost_worst_case(args, model, raster, profile, placement):
    """The worst case of ``--worst-case QUANTITY`` over ``--region`` or ``--property``'s region."""
    from .properties import load_property
    from .worst_case import worst_case

    if (args.region is None) == (args.property is None):
        raise UsageError("--worst-case needs exactly one of --region REGION and --property PROP.yaml")
    if args.property is not None:
        region = load_property(existing_file(args.property, "--property")).region
    else:
        region = parse_yaml(args.region.encode(), "region", UsageError, "--region")  # the file form: '{flips: 2}'
    try:
        return worst_case(model, raster, region, args.worst_case, profile, args.timeout, placement=placement)
    except InputError as e:
        if e.path == "input":  # a batch, or a raster that does not fit the model
            raise InputError(e.message, f"--input {args.input}") from None
        raise
    except VerisnnError as e:
        if args.region is not None and (e.path or "").startswith("region"):
            raise UsageError(e.message, f"--region {e.path}") from None
        raise


def _worst_case_human(worst) -> str:
    unit = _COST_UNITS[worst.quantity]
    if worst.status == "optimal":
        return (f"worst case   {worst.quantity} {worst.value}{unit}: the certified maximum over the region "
                "(witness in --json)")
    if worst.status == "feasible" and worst.bound is not None:
        return (f"worst case   {worst.quantity} between {worst.value} and {worst.bound}{unit} "
                f"(not closed: {worst.reason})")
    if worst.status == "feasible":
        return (f"worst case   {worst.quantity} at least {worst.value}{unit}, no upper bound proven "
                f"({worst.reason})")
    return f"worst case   {worst.quantity} unknown: at least {worst.value}{unit} ({worst.reason})"


def _cost_human(profile, report) -> str:
    """A few readable lines: one run with its layers and cores, a batch as a summary."""
    head = f"profile      {profile.name} ({profile.figures}; {_clip(profile.source, 80)})"
    if report.batched:
        lat, energy = np.asarray(report.latency_us), np.asarray(report.energy_uj)
        lines = [head, f"batch of {len(report)} rasters (T={report.steps}), {len(report.cores)} cores in use"]
        if len(report):
            lines += [f"latency      mean {lat.mean():.6g} us (min {lat.min():.6g}, max {lat.max():.6g})",
                      f"energy       mean {energy.mean():.6g} uJ (min {energy.min():.6g}, max {energy.max():.6g})"]
        return "\n".join(lines)
    answer = report.to_json()
    lines = [head, f"latency      {answer['latency_us']:.6g} us over {report.steps} steps on {len(report.cores)} cores",
             f"energy       {answer['energy_uj']:.6g} uJ",
             f"events       {answer['synops']} synops, {answer['spikes']} spikes, {report.active_updates} active and "
             f"{report.inactive_updates} inactive neuron updates"]
    lines += [f"  layer {d['layer']}    {d['synops']} synops, {d['spikes']} spikes, {d['active_updates']} active / "
              f"{d['inactive_updates']} inactive updates, {d['energy_uj']:.6g} uJ" for d in answer["per_layer"]]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- parser and main


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def _memory_size(text: str) -> int:
    try:
        return parse_bytes(text, "--memory-budget")
    except VerisnnError as e:
        raise argparse.ArgumentTypeError(e.message) from None


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


Command = Callable[[argparse.Namespace], tuple[dict, str]]


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    # SUPPRESS: a flag given before the subcommand is not overwritten by the subcommand's default.
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print exactly one JSON object on stdout")
    common.add_argument("--memory-budget", type=_memory_size, default=argparse.SUPPRESS, metavar="SIZE",
                        help="refuse work that would need more memory than SIZE (e.g. 8G, 512M; default 4G or "
                             "VERISNN_MEMORY_BUDGET)")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="print a full traceback on an internal failure")

    parser = _Parser(prog="verisnn", description="Make trained spiking neural networks auditable.",
                     epilog="exit status: 0 answer, 2 bad input, 1 internal failure")
    parser.add_argument("--version", action=_VersionAction, help="print the version and exit")
    parser.add_argument("--json", action="store_true", default=False, help=argparse.SUPPRESS)
    parser.add_argument("--debug", action="store_true", default=False, help=argparse.SUPPRESS)
    parser.add_argument("--memory-budget", type=_memory_size, default=None, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, func: Command, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help, description=help)
        p.set_defaults(func=func)
        return p

    p = add("simulate", cmd_simulate, "run a model on an input raster with the exact integer simulator")
    p.add_argument("model", metavar="MODEL", help="model file (*.snn.json)")
    p.add_argument("--input", required=True, metavar="RASTER.npy", help="0/1 integer array [T, n] or [B, T, n]")

    from .unbounded import METHODS as UNBOUNDED_METHODS
    from .verify import METHODS

    p = add("verify", cmd_verify, "decide a property of a model around an input raster, or for all time")
    p.add_argument("model", metavar="MODEL", help="model file (*.snn.json)")
    p.add_argument("--input", default=None, metavar="RASTER.npy",
                   help="the centre: a 0/1 integer array [T, n] (bounded properties; none for unbounded ones)")
    p.add_argument("--property", required=True, metavar="PROP.yaml", help="property file (YAML or JSON)")
    p.add_argument("--method", choices=list(dict.fromkeys(METHODS + UNBOUNDED_METHODS)), default="auto",
                   help=f"decision method (default auto); bounded: {', '.join(METHODS)}; "
                        f"unbounded: {', '.join(UNBOUNDED_METHODS)}")
    p.add_argument("--max-depth", type=_positive_int, default=None, metavar="K",
                   help="unbounded: unrolling depth of bmc and kinduction (default 24)")
    p.add_argument("--max-states", type=_positive_int, default=None, metavar="N",
                   help="unbounded: state budget of explore (default 200000)")
    p.add_argument("--letters", default=None, metavar="A.json",
                   help="unbounded: the allowed input vectors, as an alphabet of one-step letters "
                        "(default: every 0/1 vector)")
    p.add_argument("--timeout", type=_positive_float, default=None, metavar="S", help="give up after S seconds: unknown")
    p.add_argument("--solver", default="z3", help="solver of the smt method: z3, cvc5 (through pysmt) or z3-native "
                   "(z3's own API) (default z3)")
    p.add_argument("--smt-logic", choices=("lia", "bv"), default="lia",
                   help="the smt method's encoding: linear integer arithmetic or bit-vectors (default lia)")
    p.add_argument("--certificate", default=None, metavar="C.json",
                   help="also write a certificate of the answer (docs/certificate.md); `verisnn check` re-checks it")
    p.add_argument("--certificate-model", choices=("embedded", "file"), default="embedded",
                   help="embedded (default): the certificate holds the whole model; file: it names MODEL by path "
                        "(relative to the certificate) and hash, for large models")

    p = add("audit", cmd_audit, "run an audit campaign (every input x property, certificates, extractions) and "
            "write its report")
    p.add_argument("config", metavar="CONFIG.yaml", help="campaign config (docs/audit.md)")
    p.add_argument("--out", required=True, metavar="DIR", help="campaign folder: store, certificates, report")
    p.add_argument("--workers", type=_positive_int, default=None, metavar="N",
                   help="local worker processes (default: one per CPU)")
    p.add_argument("--scheduler", default=None, metavar="ADDR", help="a Dask scheduler address (tcp://host:port): "
                   "run the queries on that cluster instead")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")

    p = add("check", cmd_check, "re-check a certificate with the trusted kernel (verisnn/kernel/, no engine code): "
            "model hash, witness replay, regions re-enumerated, bab trees and bounds re-derived; SMT-family proofs "
            "of large regions re-solved by both solver families (solver-trusted)")
    p.add_argument("certificate", metavar="C.json|DIR", nargs="+",
                   help="certificate written by `verisnn verify --certificate`; several, or a folder of them (an "
                        "audit folder: its certificates/), are checked in one process and tallied")
    p.add_argument("--timeout", type=_positive_float, default=120.0, metavar="S",
                   help="limit of each certificate's whole check (default 120; running out makes it not valid)")
    p.add_argument("--independent", action="store_true",
                   help="accept only claims the kernel re-derived alone (solver- and engine-trusted ones are not valid)")
    p.add_argument("--models-dir", action="append", default=None, metavar="DIR",
                   help="also look for the model files certificates name in DIR, by file name (repeatable); "
                        "otherwise only the certificate's folder and the one above it are looked in")

    p = add("info", cmd_info, "summarize a model: hash, input, layers, readout, provenance")
    p.add_argument("model", metavar="MODEL", help="model file (*.snn.json)")

    p = add("import-nir", cmd_import_nir, "import a NIR graph as an integer model")
    p.add_argument("graph", metavar="GRAPH.nir", help="NIR graph file (HDF5)")
    p.add_argument("--dt", required=True, type=_positive_float, help="time step in seconds")
    p.add_argument("--scale", required=True, type=_positive_float, help="integer units per unit of weight/threshold")
    p.add_argument("--time-steps", required=True, type=_positive_int, metavar="T", help="number of time steps")
    p.add_argument("--out", required=True, metavar="MODEL.snn.json", help="model file to write")
    p.add_argument("--decay-shift", type=_int, default=12, metavar="K", help="decays as num/2^K (default 12)")
    p.add_argument("--v-bits", type=_int, default=24, metavar="B", help="membrane width in bits (default 24)")

    p = add("export-nir", cmd_export_nir, "export a model as a NIR graph")
    p.add_argument("model", metavar="MODEL", help="model file (*.snn.json)")
    p.add_argument("--dt", required=True, type=_positive_float, help="time step in seconds")
    p.add_argument("--scale", required=True, type=_positive_float, help="integer units per unit of weight/threshold")
    p.add_argument("--out", required=True, metavar="GRAPH.nir", help="NIR file to write")
    p.add_argument("--allow-lossy", action="store_true", help="export even where NIR cannot express the model exactly")

    p = add("train", cmd_train, "train a float SNN from a YAML config")
    p.add_argument("config", metavar="CONFIG.yaml", help="training configuration")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--epochs", type=_positive_int, default=None, help="override the config's epochs")
    p.add_argument("--seed", type=_int, default=None, help="override the config's seed")

    p = add("quantize", cmd_quantize, "quantize a trained checkpoint to an integer model")
    p.add_argument("checkpoint", metavar="CHECKPOINT.pt", help="checkpoint written by `verisnn train`")
    p.add_argument("--out", required=True, metavar="MODEL.snn.json", help="model file to write")
    p.add_argument("--scale", type=_positive_float, default=None, help="fixed quantization scale (default: chosen)")
    p.add_argument("--data", default=None, metavar="DATA.npz", help="data to measure integer accuracy on")

    p = add("automaton", cmd_automaton, "build the Mealy machine of a model over an input alphabet by exhaustive "
            "exploration of its reachable states")
    p.add_argument("model", metavar="MODEL", help="model file (*.snn.json)")
    p.add_argument("--alphabet", required=True, metavar="ALPHABET.json",
                   help='letters: {"letters": {"a": [[0/1] * n] * w, ...}}')
    p.add_argument("--max-states", type=_positive_int, default=100_000, metavar="N",
                   help="give up beyond N distinct states: unknown (default 100000)")
    p.add_argument("--timeout", type=_positive_float, default=None, metavar="S", help="give up after S seconds: unknown")
    p.add_argument("--no-minimize", action="store_true", help="write the full reachable machine, not the minimal one")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for automaton.json/.dot/.smv/.aalpy.dot")

    p = sub.add_parser("extract", help="extract readable explanations: decision-tree rules or a learned automaton",
                       description="extract readable explanations: decision-tree rules or a learned automaton")
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True, parser_class=_Parser)

    def add_kind(name: str, func: Command, help: str) -> argparse.ArgumentParser:
        q = kinds.add_parser(name, parents=[common], help=help, description=help)
        q.set_defaults(func=func)
        q.add_argument("model", metavar="MODEL", help="model file (*.snn.json)")
        q.add_argument("--out", required=True, metavar="DIR", help="output folder")
        q.add_argument("--profile", default="loihi", metavar="NAME|PROFILE.yaml",
                       help="hardware profile of the latency annotations (default loihi)")
        q.add_argument("--seed", type=_int, default=0, help="random seed (default 0)")
        q.add_argument("--timeout", type=_positive_float, default=None, metavar="S",
                       help="tree: per rule certification; automaton: the learning (then unknown)")
        return q

    q = add_kind("tree", cmd_extract_tree, "decision-tree rules that mimic the network's decisions, with fidelity "
                 "and certification")
    q.add_argument("--data", required=True, metavar="X.npy", help="data rasters [N, T, n]")
    q.add_argument("--labels", default=None, metavar="y.npy", help="dataset labels of --data (accuracies only; "
                   "the rules always learn the network's decisions)")
    q.add_argument("--eval", default=None, metavar="X2.npy", help="also report fidelity on these rasters")
    q.add_argument("--max-rules", type=_positive_int, default=40, metavar="K", help="at most K rules (default 40)")
    q.add_argument("--features", default="counts", choices=("counts", "counts+first_spike",
                                                             "counts+first_spike+hidden"),
                   help="feature families (default counts)")
    q.add_argument("--split", choices=("rasters", "draws"), default="rasters",
                   help="rasters: judge fidelity around data rasters the fit never saw (30%%, default); draws: "
                        "fit around all of --data and judge on fresh draws around the same rasters")
    q.add_argument("--fold-default", action="store_true",
                   help="the class with the most leaves becomes the default (fewer rules; its inputs are "
                        "covered by no rule, so certification says nothing about them)")
    q.add_argument("--refine", action="store_true",
                   help="narrow (or drop) each rule the network refutes within --certify of its data until it "
                        "holds (docs/rules.md); costs fidelity")
    q.add_argument("--refine-max-loss", type=_positive_float, default=None, metavar="L",
                   help="with --refine: fix a rule only if that loses at most L of exact agreement (e.g. 0.003)")
    q.add_argument("--certify", default="{flips: 1}", metavar="REGION",
                   help="certify each rule within this region of the data it covers (default '{flips: 1}')")

    q = add_kind("automaton", cmd_extract_automaton, "learn a Mealy machine of the network over an input alphabet "
                 "(AALpy: L*, KV or RPNI)")
    q.add_argument("--alphabet", required=True, metavar="ALPHABET.json",
                   help='letters: {"letters": {"a": [[0/1] * n] * w, ...}}')
    q.add_argument("--algorithm", choices=("lstar", "kv", "rpni"), default="lstar", help="default lstar")
    q.add_argument("--oracle", choices=("auto", "exact", "wmethod", "pac"), default="auto",
                   help="equivalence oracle: exact (the explored machine) when it fits, else PAC (default auto)")
    q.add_argument("--epsilon", type=_positive_float, default=0.01, help="PAC error (default 0.01)")
    q.add_argument("--delta", type=_positive_float, default=0.01, help="PAC confidence (default 0.01)")
    q.add_argument("--max-states", type=_positive_int, default=None, metavar="N",
                   help="give up on hypotheses larger than N states")

    p = add("cost", cmd_cost, "count the hardware events of a run and price them with a neuromorphic chip profile")
    p.add_argument("model", metavar="MODEL", help="model file (*.snn.json)")
    p.add_argument("--input", required=True, metavar="RASTER.npy", help="0/1 integer array [T, n] or [B, T, n]")
    p.add_argument("--profile", required=True, metavar="NAME|PROFILE.yaml",
                   help="a built-in profile (loihi, spinnaker2, truenorth) or a profile YAML file")
    p.add_argument("--placement", default=None, metavar="P.json",
                   help="cores per layer: [core or [core per neuron], ...] (default: layer by layer, full cores)")
    # --worst-case: the largest cost over an input region, certified by CP-SAT (verisnn/worst_case.py)
    p.add_argument("--worst-case", default=None, choices=_COST_QUANTITIES, metavar="QUANTITY",
                   help=f"also maximise QUANTITY ({', '.join(_COST_QUANTITIES)}) over a region around the input "
                        "[T, n]: the certified maximum, or bounds and a witness")
    p.add_argument("--region", default=None, metavar="REGION",
                   help="with --worst-case: the region as in a property file, e.g. '{flips: 2}' or any")
    p.add_argument("--property", default=None, metavar="PROP.yaml", help="with --worst-case: take the region of "
                   "this property file")
    p.add_argument("--timeout", type=_positive_float, default=None, metavar="S",
                   help="with --worst-case: give up after S seconds (then bounds, not the maximum)")
    return parser


def _emit(answer: dict, human: str, json_mode: bool, stdout) -> None:
    if json_mode:
        stdout.write(json.dumps(jsonable(answer), allow_nan=False) + "\n")
    elif human:
        stdout.write(human + "\n")
    stdout.flush()


def _fail(kind: str, message: str, json_mode: bool, stdout) -> None:
    message = clip(message, MAX_ERROR_CHARS)  # whatever a message quotes of a hostile file, it stays readable
    print(f"verisnn: {'error' if kind == 'bad_input' else 'internal error'}: {message}", file=sys.stderr)
    if json_mode:
        stdout.write(json.dumps({"error": message, "kind": kind}) + "\n")
        stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # Known before parsing, so that even an argument error answers in JSON.
    json_mode, debug = "--json" in argv, "--debug" in argv
    stdout = sys.stdout
    try:
        try:
            args = build_parser().parse_args(argv)
        except _Done as done:
            _emit(done.answer, done.human, json_mode, stdout)
            return EXIT_OK
        except SystemExit as e:  # --help has been printed
            return EXIT_OK if e.code in (0, None) else EXIT_BAD_INPUT
        json_mode, debug = args.json, args.debug
        # Nothing but the answer may reach stdout: progress and stray prints go to stderr.
        with contextlib.redirect_stdout(sys.stderr), memory_limit(args.memory_budget):
            answer, human = args.func(args)
        try:
            _emit(answer, human, json_mode, stdout)
        except BrokenPipeError:  # the reader went away (`| head`): not worth a traceback
            os.dup2(os.open(os.devnull, os.O_WRONLY), stdout.fileno())
            return EXIT_INTERNAL
        return EXIT_OK
    except VerisnnError as e:
        if debug:
            traceback.print_exc(file=sys.stderr)
        _fail("bad_input", str(e), json_mode, stdout)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        _fail("internal", "interrupted", json_mode, stdout)
        return 130
    except Exception as e:  # noqa: BLE001 - the one place that turns any failure into exit 1
        if debug:
            traceback.print_exc(file=sys.stderr)
        message = f"{type(e).__name__}: {e}".splitlines()[0] if str(e) else type(e).__name__
        _fail("internal", message + ("" if debug else " (run with --debug for the traceback)"), json_mode, stdout)
        return EXIT_INTERNAL


if __name__ == "__main__":
    raise SystemExit(main())
