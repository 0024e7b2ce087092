"""Quantization: a trained float :class:`SpikingNetwork` -> an integer v1 :class:`Model`.

One ``scale`` maps the float network to integers: weights, biases and thresholds
are multiplied by it and rounded to the nearest integer. Decays are already exact
``[num, shift]`` pairs (the float network trains with ``num / 2**shift``), so the
only differences between the float and the integer network are the rounding of
weights, biases and thresholds and the rounding of each decay step (the float
network does not round). With ``scale=None`` the scale is chosen on calibration
data: the smallest candidate whose integer accuracy is within ``tolerance`` of the
best candidate's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .errors import ModelError, VerisnnError
from .model import Conv2d, Dense, InputSpec, Model
from .simulator import simulate
from .torch_sim import SpikingNetwork
from .training import predict_float

DEFAULT_SCALES = (4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0)


def _round(x) -> np.ndarray:
    a = np.rint(np.asarray(x.detach().cpu().double().numpy()))
    if a.size and not np.abs(a).max() < 2.0 ** 53:  # beyond it int64 conversion is no longer exact (or defined)
        raise VerisnnError("a scaled parameter exceeds 2^53: the scale is far too large", "scale")
    return a.astype(np.int64)


def _scalar_or_list(a: np.ndarray):
    return int(a[0]) if np.all(a == a[0]) else [int(v) for v in a]


def to_model(net: SpikingNetwork, scale: float, *, input_spec: InputSpec, name: str = "model",
             provenance: dict | None = None) -> Model:
    """The integer model of ``net`` at ``scale`` (weights, biases, thresholds × scale, rounded)."""
    if not 0 < scale < float("inf"):
        raise VerisnnError(f"must be a finite number > 0, got {scale!r}", "scale")
    layers = []
    for k, spec in enumerate(net.specs):
        w = _round(net.weight[k] * scale)
        b = _round(net.bias[k] * scale)
        rec = _round(net.recurrent[k] * scale) if spec.recurrent else None
        n = spec.neuron
        threshold = None
        if n.fires:
            th = np.maximum(_round(net.thresholds()[k] * scale), 1)
            threshold = _scalar_or_list(th)
        try:
            neuron = dataclasses.replace(n, threshold=threshold)
            if spec.kind == "dense":
                layers.append(Dense(weight=w, bias=b, neuron=neuron, delay=spec.delay, recurrent=rec))
            else:
                layers.append(Conv2d(weight=w, bias=b, input_shape=spec.input_shape, stride=spec.stride,
                                     padding=spec.padding, neuron=neuron, delay=spec.delay, recurrent=rec))
        except ModelError as e:  # the integers do not fit the model format: the scale's doing
            raise VerisnnError(f"at scale {scale:g}, layers[{k}].{e.path}: {e.message}", "scale") from None
    prov = dict(provenance or {})
    prov["quantization"] = {"scale": float(scale), "rounding": "nearest"}
    return Model(time_steps=net.time_steps, input=input_spec, layers=tuple(layers), readout=net.readout,
                 name=name, provenance=prov)


def accuracy(predictions: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of correct decisions (no decision, ``-1``, counts as wrong)."""
    labels = np.asarray(labels)
    return float(np.mean(predictions == labels)) if len(labels) else float("nan")


def integer_predictions(model: Model, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    return np.concatenate([simulate(model, x[k:k + batch_size]).prediction for k in range(0, len(x), batch_size)])


@dataclass(frozen=True)
class QuantizationResult:
    """The chosen integer model and the numbers that justify it.

    ``candidates`` lists every scale tried with its calibration accuracy and largest
    integer weight; ``float_accuracy`` / ``integer_accuracy`` / ``agreement`` (same
    decision, float vs integer) are measured on the evaluation data, side by side.
    """

    model: Model
    scale: float
    float_accuracy: float | None
    integer_accuracy: float | None
    agreement: float | None
    candidates: tuple[dict, ...]

    def summary(self) -> dict:
        return {"scale": self.scale, "float_accuracy": self.float_accuracy,
                "integer_accuracy": self.integer_accuracy, "float_integer_agreement": self.agreement,
                "candidates": list(self.candidates)}


def quantize(net: SpikingNetwork, *, input_spec: InputSpec, name: str = "model", provenance: dict | None = None,
             scale: float | None = None, calibration: tuple[np.ndarray, np.ndarray] | None = None,
             evaluation: tuple[np.ndarray, np.ndarray] | None = None,
             candidates: Sequence[float] = DEFAULT_SCALES, tolerance: float = 0.005) -> QuantizationResult:
    """Quantize ``net``; choose the scale on ``calibration`` data when ``scale`` is None."""
    rows = []
    if scale is None:
        if calibration is None:
            raise VerisnnError("choosing a scale needs calibration data (or give a scale)", "scale")
        xc, yc = calibration
        for s in candidates:
            m = to_model(net, s, input_spec=input_spec, name=name, provenance=provenance)
            rows.append({"scale": float(s), "calibration_accuracy": accuracy(integer_predictions(m, xc), yc),
                         "max_abs_weight": int(max(np.abs(l.weight).max() for l in m.layers))})
        best = max(r["calibration_accuracy"] for r in rows)
        scale = next(r["scale"] for r in rows if r["calibration_accuracy"] >= best - tolerance)
    model = to_model(net, scale, input_spec=input_spec, name=name, provenance=provenance)
    fa = ia = agree = None
    if evaluation is not None:
        xe, ye = evaluation
        pf, pi = predict_float(net, xe), integer_predictions(model, xe)
        fa, ia, agree = accuracy(pf, ye), accuracy(pi, ye), float(np.mean(pf == pi))
    return QuantizationResult(model=model, scale=float(scale), float_accuracy=fa, integer_accuracy=ia,
                              agreement=agree, candidates=tuple(rows))
