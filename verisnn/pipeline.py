"""Train -> quantize -> evaluate, driven by a small YAML/JSON config.

Used by ``verisnn train`` / ``verisnn quantize`` and by the case studies. A config::

    name: digits-lif
    dataset: digits              # digits | iris | mnist, or {npz: path/to/data.npz}
    seed: 0
    time_steps: 8
    encoding: {type: rate}       # rate | latency; lo/hi default to the data set's range
    layers: [{type: dense, size: 64}]          # hidden layers; or hidden: [64]
    neuron: {model: lif, v_decay: [7, 3]}      # hidden and output neurons (v1 neuron fields)
    output_neuron: {model: li, v_decay: [7, 3]}   # optional, default: neuron
    readout: {type: spike_count, ties: invalid}
    training: {epochs: 30, batch_size: 64, lr: 0.002}
    quantization: {scale: auto, v_bits: 24}   # or a number

Every key is checked against a JSON Schema; a bad config names the key.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from .checkpoint import load_checkpoint, save_checkpoint
from .datasets import Dataset, load_dataset, load_npz
from .documents import StrictValidator, load_document
from .encoders import encoder_from_spec
from .errors import VerisnnError
from .limits import require_memory
from .model import InputSpec, Neuron, Readout
from .model_format import first_schema_error, neuron_from_dict, save_model
from .paths import check_name
from .quantize import accuracy, quantize
from .torch_sim import LayerSpec, SpikingNetwork
from .training import TrainConfig, predict_float, train, training_bytes

MAX_CONFIG_BYTES = 1 << 20  # a config is a few lines
# Bounds of the sizes a config may ask for (the memory budget is checked as well, before allocating):
# far beyond any network verisnn can verify, small enough that no product of them overflows.
MAX_LAYER = 1_000_000  # neurons of a dense layer, channels of a convolution
MAX_KERNEL = 1024  # kernel side, stride and padding of a convolution
_SIZE = {"type": "integer", "minimum": 1, "maximum": MAX_LAYER}
_SIDE = {"type": "integer", "minimum": 1, "maximum": MAX_KERNEL}
_DELAY = {"type": "integer", "minimum": 0, "maximum": 10000}

CONFIG_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "dataset", "time_steps"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 128},
        "dataset": {"oneOf": [{"type": "string"},
                              {"type": "object", "additionalProperties": False, "required": ["npz"],
                               "properties": {"npz": {"type": "string"}}}]},
        "seed": {"type": "integer", "minimum": 0, "maximum": 2**32 - 1},
        "time_steps": {"type": "integer", "minimum": 1, "maximum": 10000},
        "encoding": {"type": "object", "required": ["type"], "properties": {"type": {"enum": ["rate", "latency"]}}},
        "hidden": {"type": "array", "maxItems": 100, "items": _SIZE},
        "layers": {"type": "array", "maxItems": 100, "items": {"type": "object", "required": ["type"], "oneOf": [
            {"additionalProperties": False, "required": ["size"],
             "properties": {"type": {"const": "dense"}, "size": _SIZE, "recurrent": {"type": "boolean"},
                            "delay": _DELAY}},
            {"additionalProperties": False, "required": ["channels", "kernel"],
             "properties": {"type": {"const": "conv2d"}, "channels": _SIZE, "kernel": _SIDE, "stride": _SIDE,
                            "padding": {"type": "integer", "minimum": 0, "maximum": MAX_KERNEL},
                            "delay": _DELAY}}]}},
        "neuron": {"type": "object"},
        "output_neuron": {"type": "object"},
        "readout": {"type": "object"},
        "training": {"type": "object", "additionalProperties": False,
                     "properties": {"epochs": {"type": "integer", "minimum": 1, "maximum": 100_000},
                                    "batch_size": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
                                    **{k: {"type": "number"} for k in ("lr", "weight_decay", "logit_scale",
                                                                       "flip_noise")}}},
        "quantization": {"type": "object", "additionalProperties": False,
                         "properties": {"scale": {"oneOf": [{"const": "auto"}, {"type": "number", "exclusiveMinimum": 0}]},
                                        "calibration_samples": {"type": "integer", "minimum": 1,
                                                                "maximum": 10_000_000}}},
    },
    "not": {"required": ["hidden", "layers"]},
}

_NEURON_DEFAULTS = {"model": "lif", "v_decay": [7, 3], "threshold": 1}


def load_config(config: str | Path | dict) -> dict:
    """Parse (strict JSON for ``.json``, else strict YAML: :mod:`verisnn.documents`) and
    validate a training config."""
    doc = config if isinstance(config, dict) else load_document(config, MAX_CONFIG_BYTES, VerisnnError,
                                                                  "training config")
    if not isinstance(doc, dict):
        raise VerisnnError("a config is a mapping of keys to values", "config")
    first_schema_error(StrictValidator(CONFIG_SCHEMA), doc, VerisnnError, "config")
    return doc


def _neuron(cfg: dict, key: str, size: int) -> Neuron:
    key = key if key in cfg else "neuron"  # output_neuron defaults to neuron: name where the value came from
    d = {**_NEURON_DEFAULTS, **cfg.get(key, {})}
    if d.get("model") == "li":
        d["threshold"] = None
    try:
        return neuron_from_dict(d, size)
    except VerisnnError as e:
        raise VerisnnError(e.message, f"config.{key}.{e.path.removeprefix('neuron.') if e.path else ''}") from None
    except TypeError as e:
        raise VerisnnError(str(e), f"config.{key}") from None


def architecture(cfg: dict, in_shape: tuple[int, ...], n_classes: int) -> list[LayerSpec]:
    """Layer specs from the config: hidden layers, then a dense output layer of ``n_classes``."""
    layers = cfg.get("layers") or [{"type": "dense", "size": h} for h in cfg.get("hidden", [])]
    shape = tuple(in_shape)
    specs = []
    for k, ld in enumerate(layers):
        in_size = int(np.prod(shape))
        if ld["type"] == "dense":
            specs.append(LayerSpec("dense", in_size, ld["size"], _neuron(cfg, "neuron", ld["size"]),
                                   delay=ld.get("delay", 0), recurrent=ld.get("recurrent", False)))
            shape = (ld["size"],)
        else:
            if len(shape) != 3:
                raise VerisnnError(f"a conv2d layer needs a [C, H, W] input, got {list(shape)}", f"config.layers[{k}]")
            kk, st, pd = ld["kernel"], ld.get("stride", 1), ld.get("padding", 0)
            oh, ow = ((shape[1] + 2 * pd - kk) // st + 1), ((shape[2] + 2 * pd - kk) // st + 1)
            if oh < 1 or ow < 1:
                raise VerisnnError("kernel larger than the padded input", f"config.layers[{k}]")
            out = ld["channels"] * oh * ow
            specs.append(LayerSpec("conv2d", in_size, out, _neuron(cfg, "neuron", out), delay=ld.get("delay", 0),
                                   input_shape=shape, kernel=(kk, kk), out_channels=ld["channels"],
                                   stride=(st, st), padding=(pd, pd)))
            shape = (ld["channels"], oh, ow)
    specs.append(LayerSpec("dense", int(np.prod(shape)), n_classes, _neuron(cfg, "output_neuron", n_classes)))
    return specs


def _dataset(cfg: dict) -> Dataset:
    ds = cfg["dataset"]
    return load_npz(ds["npz"]) if isinstance(ds, dict) else load_dataset(ds, seed=cfg.get("seed", 0))


def _encoder(cfg: dict, data: Dataset):
    spec = {"lo": float(data.value_range[0]), "hi": float(data.value_range[1]), **cfg.get("encoding", {"type": "rate"}),
            "time_steps": cfg["time_steps"]}
    try:
        return encoder_from_spec(spec)
    except VerisnnError as e:
        raise VerisnnError(e.message, "config.encoding") from None


def _readout(cfg: dict) -> Readout:
    try:
        return Readout(**cfg.get("readout", {}))
    except TypeError as e:
        raise VerisnnError(str(e), "config.readout") from None


def run_training(config: str | Path | dict, out_dir: str | Path, *, epochs: int | None = None,
                 seed: int | None = None, progress: bool = True) -> dict:
    """Train the float network of ``config``; write ``OUT/float.pt``; return a JSON-ready summary."""
    t0 = time.perf_counter()
    cfg = dict(load_config(config))
    if seed is not None:
        cfg["seed"] = seed
    if epochs is not None:
        cfg["training"] = {**cfg.get("training", {}), "epochs": epochs}
    cfg = load_config(cfg)  # the overrides within the same bounds
    data = _dataset(cfg)
    enc = _encoder(cfg, data)
    specs = architecture(cfg, data.feature_shape, data.n_classes)
    tc = cfg.get("training", {})
    train_cfg = TrainConfig(**{k: (int(v) if k in ("epochs", "batch_size") else float(v)) for k, v in tc.items()},
                            seed=cfg.get("seed", 0))
    require_memory(training_bytes(specs, cfg["time_steps"], len(data.x_train) + len(data.x_test), train_cfg.batch_size),
                   f"training the network of config {cfg['name']!r} on its data")
    net = SpikingNetwork(specs, cfg["time_steps"], _readout(cfg), seed=cfg.get("seed", 0))
    x_train, x_test = enc.encode(data.x_train), enc.encode(data.x_test)
    history = train(net, x_train, data.y_train, train_cfg, progress=progress)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / "float.pt"
    save_checkpoint(net, ckpt, {"config": cfg, "encoding": enc.to_spec()})
    return {"checkpoint": str(ckpt), "name": cfg["name"], "epochs": train_cfg.epochs, "seed": train_cfg.seed,
            "final_loss": history[-1]["loss"], "train_accuracy": history[-1]["train_accuracy"],
            "float_test_accuracy": accuracy(predict_float(net, x_test), data.y_test),
            "time_s": round(time.perf_counter() - t0, 3)}


def run_quantize(checkpoint: str | Path, out: str | Path, *, scale: float | None = None,
                 data: str | Path | None = None, progress: bool = True) -> dict:
    """Quantize a checkpoint into a v1 model at ``out``; report float vs integer accuracy side by side.

    The data default to the checkpoint's own data set; ``data`` names an ``.npz`` instead.
    """
    t0 = time.perf_counter()
    net, meta = load_checkpoint(checkpoint)
    cfg = meta.get("config", {})
    if data is not None:
        dataset = load_npz(data)
    elif "dataset" in cfg:
        dataset = _dataset(cfg)
    else:
        raise VerisnnError("the checkpoint names no data set: give --data", str(checkpoint))
    enc = encoder_from_spec(meta["encoding"])
    x_train, x_test = enc.encode(dataset.x_train), enc.encode(dataset.x_test)
    if x_train.shape[-1] != net.specs[0].in_size:
        raise VerisnnError(f"{math.prod(dataset.feature_shape)} features per sample make {x_train.shape[-1]} input "
                           f"channels; the checkpoint's network takes {net.specs[0].in_size}",
                           str(data) if data is not None else "dataset")
    qcfg = cfg.get("quantization", {})
    if scale is None and qcfg.get("scale", "auto") != "auto":
        scale = float(qcfg["scale"])
    n_cal = qcfg.get("calibration_samples", 1000)
    inp = InputSpec(size=int(np.prod(dataset.feature_shape)), shape=tuple(dataset.feature_shape),
                    encoding=enc.to_spec())
    prov = {"trained_with": f"verisnn {__import__('verisnn').__version__} surrogate-gradient BPTT (torch "
                            f"{torch.__version__})", "dataset": dataset.name, "config": cfg}
    result = quantize(net, input_spec=inp, name=cfg.get("name", "model"), provenance=prov, scale=scale,
                      calibration=(x_train[:n_cal], dataset.y_train[:n_cal]), evaluation=(x_test, dataset.y_test))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    digest = save_model(result.model, out)
    return {"model": str(out), "sha256": digest, **result.summary(), "test_samples": int(len(x_test)),
            "time_s": round(time.perf_counter() - t0, 3)}


def build_case_study(config: str | Path | dict, out_dir: str | Path, *, progress: bool = True) -> dict:
    """Train, quantize and write everything a case study leaves behind:
    ``OUT/NAME.snn.json``, ``OUT/float.pt``, ``OUT/test_inputs.npy`` (``[B, T, n]`` int8),
    ``OUT/test_labels.npy`` and ``OUT/summary.json``."""
    cfg = load_config(config)
    check_name(cfg["name"], "config.name")  # it names the model file: checked before training
    out = Path(out_dir)
    trained = run_training(cfg, out, progress=progress)
    quant = run_quantize(trained["checkpoint"], out / f"{cfg['name']}.snn.json", progress=progress)
    data = _dataset(cfg)
    _, meta = load_checkpoint(trained["checkpoint"])
    x_test = encoder_from_spec(meta["encoding"]).encode(data.x_test)
    np.save(out / "test_inputs.npy", x_test.astype(np.int8), allow_pickle=False)
    np.save(out / "test_labels.npy", np.asarray(data.y_test, dtype=np.int64), allow_pickle=False)
    summary = {"name": cfg["name"], "training": trained, "quantization": quant,
               "test_inputs": str(out / "test_inputs.npy"), "test_labels": str(out / "test_labels.npy")}
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def case_study_main(config: Path, argv: list[str]) -> int:
    """The command line of a case study's ``build.py``: build into ``--out`` (default
    ``artifacts/<folder>``) and print float versus integer accuracy."""
    import argparse

    parser = argparse.ArgumentParser(description=f"Build the case study of {config}")
    parser.add_argument("--out", default=str(Path("artifacts") / config.parent.name))
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    args = parser.parse_args(argv)
    try:
        summary = build_case_study(config, args.out, progress=not args.json)
    except VerisnnError as e:
        print(f"error: {e}", file=__import__("sys").stderr)
        return 2
    if args.json:
        print(json.dumps(summary))
        return 0
    q = summary["quantization"]
    print(f"{summary['name']}: trained in {summary['training']['time_s']:.1f} s, "
          f"quantized at scale {q['scale']:g} -> {q['model']}")
    print(f"  test accuracy   float {q['float_accuracy']:.4f}   integer {q['integer_accuracy']:.4f}   "
          f"(same decision on {q['float_integer_agreement']:.4f} of {q['test_samples']} inputs)")
    print(f"  test inputs     {summary['test_inputs']}")
    return 0
