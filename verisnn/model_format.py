"""Model format v1: ``*.snn.json`` files, their JSON Schema, and model identity.

Loading never executes anything: the file is parsed as strict JSON (no NaN,
no duplicate keys), validated against ``schemas/model-v1.schema.json``, then
turned into validated dataclasses. Every problem raises :class:`ModelError`
naming the field (``layers[1].neuron.threshold``) and what is wrong.

Identity: ``model_hash`` is the SHA-256 of the model's canonical JSON — its
normal form (:func:`model_to_dict`, every field explicit) dumped with sorted
keys and no whitespace. :func:`save_model` writes the normal form, so the hash
of a saved file can be recomputed from the file alone.
"""

from __future__ import annotations

import hashlib
import json
import math
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np

from .documents import clip, parse_json, read_bounded  # noqa: F401 - parse_json, read_bounded re-exported
from .errors import ModelError
from .model import Conv2d, Dense, InputSpec, Model, Neuron, Readout, conv_output_hw

FORMAT = "verisnn.model/1"
MAX_FILE_BYTES = 1 << 30


@lru_cache(maxsize=1)
def schema() -> dict:
    """The JSON Schema of model format v1."""
    return json.loads(resources.files("verisnn.schemas").joinpath("model-v1.schema.json").read_text())


@lru_cache(maxsize=1)
def _loading_validator() -> jsonschema.Draft202012Validator:
    """The schema with weight matrices checked only as arrays: the loader checks their
    entries itself (same rule, naming the entry), about 20x faster on large layers."""
    s = json.loads(json.dumps(schema()))
    s["$defs"]["matrix2"] = s["$defs"]["matrix4"] = {"type": "array"}
    return jsonschema.Draft202012Validator(s)


def _path(parts) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def validate_dict(doc: Any) -> None:
    """Check ``doc`` against the JSON Schema; raise :class:`ModelError` at the first problem."""
    if not isinstance(doc, dict):
        raise ModelError(f"a model file holds a JSON object, got {type(doc).__name__}")
    if doc.get("format") != FORMAT:
        raise ModelError(f"expected {FORMAT!r}, got {doc.get('format')!r}", "format")
    first_schema_error(_loading_validator(), doc, ModelError)


def first_schema_error(validator: jsonschema.protocols.Validator, doc: Any, error_cls: type, prefix: str = "") -> None:
    """Raise ``error_cls(message, path)`` for the most relevant schema violation, if any."""
    error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    if error is not None:
        # A oneOf over alternatives reports on the whole object; descend to the real culprit.
        while error.context:
            error = jsonschema.exceptions.best_match(error.context)
        path = _path(error.absolute_path)
        # clipped: the message quotes the offending value, which may be a huge piece of the document
        raise error_cls(clip(error.message), f"{prefix}.{path}" if prefix and error.absolute_path else (prefix or path))


def neuron_from_dict(d: dict, size: int) -> Neuron:
    keys = ("model", "threshold", "fire_when", "v_decay", "i_decay", "rounding", "reset", "v_reset",
            "refractory", "v_bits", "on_overflow")
    return Neuron(size=size, **{k: d[k] for k in keys if k in d})


def _layer(d: dict) -> Dense | Conv2d:
    common = dict(bias=d.get("bias"), delay=d.get("delay", 0), recurrent=d.get("recurrent"))
    if d["type"] == "dense":
        size = len(d["weight"])
        return Dense(weight=d["weight"], neuron=neuron_from_dict(d["neuron"], size), **common)
    w = np.asarray(d["weight"], dtype=object)
    stride, pad = d.get("stride", [1, 1]), d.get("padding", [0, 0])
    kernel = tuple(w.shape[2:4]) if w.ndim == 4 else (1, 1)  # Conv2d reports a malformed kernel itself
    oc = w.shape[0] if w.ndim >= 1 else 0
    size = oc * math.prod(conv_output_hw(d["input_shape"][1:], kernel, stride, pad))
    return Conv2d(weight=d["weight"], input_shape=d["input_shape"], stride=stride, padding=pad,
                  neuron=neuron_from_dict(d["neuron"], max(size, 1)), **common)


def model_from_dict(doc: Any) -> Model:
    """Build a :class:`Model` from a parsed v1 document (validated first)."""
    validate_dict(doc)
    layers = []
    for k, ld in enumerate(doc["layers"]):
        try:
            layers.append(_layer(ld))
        except ModelError as e:
            raise ModelError(e.message, f"layers[{k}]" + (f".{e.path}" if e.path else "")) from None
    inp = doc["input"]
    ro = doc.get("readout", {})
    try:
        return Model(
            time_steps=doc["time_steps"],
            input=InputSpec(size=inp["size"], shape=inp.get("shape"), encoding=inp.get("encoding")),
            layers=tuple(layers),
            readout=Readout(type=ro.get("type", "spike_count"), ties=ro.get("ties", "invalid")),
            name=doc.get("name", "model"),
            provenance=doc.get("provenance", {}),
        )
    except ModelError:
        raise
    except (TypeError, ValueError) as e:  # a combination the schema cannot see
        raise ModelError(str(e)) from None


def _plain(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, tuple):
        return [_plain(v) for v in x]
    if isinstance(x, np.integer):
        return int(x)
    return x


def neuron_to_dict(n: Neuron) -> dict:
    return {"model": n.model, "threshold": _plain(n.threshold), "fire_when": n.fire_when,
            "v_decay": _plain(n.v_decay), "i_decay": _plain(n.i_decay), "rounding": n.rounding,
            "reset": n.reset, "v_reset": _plain(n.v_reset), "refractory": _plain(n.refractory),
            "v_bits": n.v_bits, "on_overflow": n.on_overflow}


def model_to_dict(model: Model) -> dict:
    """The normal form of ``model``: a v1 document with every field explicit."""
    layers = []
    for layer in model.layers:
        d: dict[str, Any] = {"type": "dense" if isinstance(layer, Dense) else "conv2d",
                             "weight": _plain(layer.weight), "bias": _plain(layer.bias)}
        if isinstance(layer, Conv2d):
            d.update(input_shape=list(layer.input_shape), stride=list(layer.stride), padding=list(layer.padding))
        d.update(delay=layer.delay, recurrent=_plain(layer.recurrent), neuron=neuron_to_dict(layer.neuron))
        layers.append(d)
    return {
        "format": FORMAT,
        "name": model.name,
        "time_steps": model.time_steps,
        "input": {"size": model.input.size, "shape": _plain(model.input.shape), "encoding": model.input.encoding},
        "layers": layers,
        "readout": {"type": model.readout.type, "ties": model.readout.ties},
        "provenance": model.provenance,
    }


def canonical_json(doc: dict) -> str:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def model_hash(model: Model | dict) -> str:
    """SHA-256 (hex) of the canonical JSON of the model's normal form."""
    doc = model_to_dict(model) if isinstance(model, Model) else model_to_dict(model_from_dict(model))
    return hashlib.sha256(canonical_json(doc).encode()).hexdigest()


def load_model(path: str | Path) -> Model:
    """Read and validate a ``*.snn.json`` file."""
    p = Path(path)
    data = read_bounded(p, MAX_FILE_BYTES, ModelError, "model")
    try:
        return model_from_dict(parse_json(data))
    except ModelError as e:
        raise ModelError(e.message, f"{p.name}: {e.path}" if e.path else p.name) from None


def _readable(obj: Any, indent: int = 0) -> str:
    """JSON with one key per line and every list of plain numbers on one line
    (a weight row per line): easy to read and to diff."""
    pad, inner = " " * indent, " " * (indent + 1)
    if isinstance(obj, dict) and obj:
        items = [f"{inner}{json.dumps(k)}: {_readable(v, indent + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(obj, list) and obj and not all(isinstance(v, (int, float)) for v in obj):
        return "[\n" + ",\n".join(inner + _readable(v, indent + 1) for v in obj) + f"\n{pad}]"
    return json.dumps(obj, separators=(", ", ": "), allow_nan=False)


def save_model(model: Model, path: str | Path) -> str:
    """Write ``model`` in normal form (atomically: a temporary file, then rename); returns its hash."""
    p = Path(path)
    doc = model_to_dict(model)
    text = _readable(doc)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(text + "\n")
    tmp.replace(p)
    return hashlib.sha256(canonical_json(doc).encode()).hexdigest()
