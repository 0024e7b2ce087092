r"""Signal- and parameter-space attributions over an input raster, and how faithful they are.

An attribution gives every entry ``(t, i)`` of an input raster ``x`` (``[T, n]`` of 0/1)
a number saying how much it matters to the model's decision for class ``c`` (by
default the network's own decision on ``x``). The class-``c`` *score* is what the
model's readout compares (:func:`class_scores`): the spike count, ``T - first spike
time``, or the final / peak membrane.

Three methods (``docs/explanations.md`` has the equations):

* ``"gradient"`` — surrogate-gradient saliency: ``∂ score_c / ∂ x`` through the torch
  interpretation of the *same* integer model. Its forward pass is the exact integer
  semantics (the spikes equal the reference simulator's, which is checked on every
  call); only the backward pass replaces the derivative of each spike by the
  fast-sigmoid surrogate that training uses (:class:`verisnn.torch_sim.SurrogateSpike`)
  and the derivative of each rounded decay by its slope ``num / 2^shift``. Gradient
  times input by default (``times_input=False``: the plain gradient).
* ``"deletion"`` — spike-deletion attribution: for every input spike, the drop of
  ``score_c`` when that spike alone is deleted, from the exact simulator (all
  deletions in one batched run). Zero where the raster has no spike.
* ``"sam"`` — Spike Activation Map (Kim & Panda 2021), forward only, from spike
  times (:func:`spike_activation_map`, :func:`sam`).

Faithfulness (Petsiuk et al. 2018): the *deletion curve* removes the raster's spikes
in decreasing saliency order and records ``score_c`` and whether the decision is
still ``c`` after each step; the *insertion curve* inserts them, in the same order,
into the empty raster. The area under the score curve, normalised so that the full
raster scores 1 and the empty one 0, is low for a faithful saliency under deletion
and high under insertion; a random order is the baseline (:func:`faithfulness`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Sequence

import numpy as np

from ..errors import InputError, ModelError
from ..model import Conv2d, Model
from ..simulator import SimResult, check_raster, simulate

METHODS = ("gradient", "deletion", "sam")
DEFAULT_GAMMA = 0.5  # SAM's temporal decay: exp(-0.5) ~ 0.61 per step of inter-spike interval


# --------------------------------------------------------------------------- scores

def class_scores(model: Model, result: SimResult) -> np.ndarray:
    """``[B, classes]`` scores that the model's readout compares (so that the decision
    is their argmax under the tie rule): spike counts (``spike_count``), ``T - t_first``
    or ``-1`` for no spike (``first_spike``), final or peak membrane (``membrane_*``)."""
    kind = model.readout.type
    if kind == "spike_count":
        return result.counts.astype(np.float64)
    if kind == "first_spike":
        first = result.first_spike
        return np.where(first < 0, -1, model.time_steps - first).astype(np.float64)
    out = result.layer_outputs[-1]  # [B, T, n] membranes of the li layer
    return (out[:, -1] if kind == "membrane_final" else out.max(axis=1)).astype(np.float64)


def _single_raster(model: Model, raster: Any) -> np.ndarray:
    arr, batched = check_raster(model, raster)
    if batched:
        raise InputError(f"expected one raster [T, n], got a batch of shape {list(np.shape(raster))}", "raster")
    return arr[0]


def _target(model: Model, raster: np.ndarray, target: int | None) -> int:
    """The class explained: ``target``, or the network's own decision on ``raster``."""
    if target is None:
        pred = int(simulate(model, raster).prediction[0])
        if pred < 0:
            raise InputError("the network makes no decision on this raster (a tie or no output); "
                             "pass target= to explain one class", "target")
        return pred
    if isinstance(target, bool) or not isinstance(target, (int, np.integer)) \
            or not 0 <= target < model.output_size:
        raise InputError(f"target {target!r} is not a class index in [0, {model.output_size})", "target")
    return int(target)


# --------------------------------------------------------------------------- gradient

def _surrogate_ops(slope: float):
    """Torch operations whose forward values are the exact integer semantics
    (``TorchOps(exact=True)``) and whose backward is training's surrogate: each spike
    differentiates like :class:`SurrogateSpike` at ``u - threshold``, each rounded decay
    like its slope ``num / 2^shift``, each select like training's blend ``m·a + (1-m)·b``.
    The forward value is ``exact + (g - g.detach())`` with ``g`` the differentiable
    stand-in, which is ``exact`` to the bit."""
    from ..torch_sim import SurrogateSpike, TorchOps

    class ExactForwardSurrogateOps(TorchOps):
        def __init__(self):
            super().__init__(exact=True, slope=slope)

        def fire(self, u, threshold, strict):
            smooth = SurrogateSpike.apply(u - threshold, self.slope)
            return super().fire(u, threshold, strict) + (smooth - smooth.detach())

        def decay(self, x, decay, rounding):
            num, shift = decay
            linear = x * (num / 2.0 ** shift)
            return super().decay(x, decay, rounding) + (linear - linear.detach())

        def select(self, mask, a, b):
            m = mask.to(self.dtype)  # 0/1, so the blend is exactly a or b
            return m * a + (1 - m) * b

    return ExactForwardSurrogateOps()


@lru_cache(maxsize=8)
def _torch_layer_params(model: Model):
    """The integer model's parameters as float64 tensors that need no gradient."""
    from ..torch_sim import SpikingNetwork
    import torch

    net = SpikingNetwork.from_model(model)
    net.requires_grad_(False)
    return net.layer_params(torch.float64)


def _torch_scores(model: Model, output):
    """Differentiable ``[B, classes]`` class scores from the output layer's ``[B, T, n]``
    outputs; on exact spikes they equal :func:`class_scores` (``first_spike``: a neuron
    that never fires scores 0 here, -1 there — a constant, so the gradient is the same)."""
    import torch

    from ..training import logits

    if model.readout.type != "first_spike":
        return logits(model.readout, output)
    T = output.shape[1]
    # T - t at the first spike: sum_t (T - t) s_t prod_{t' < t} (1 - s_t')
    not_yet = torch.cumprod(torch.cat([torch.ones_like(output[:, :1]), 1 - output[:, :-1]], dim=1), dim=1)
    weights = torch.arange(T, 0, -1, dtype=output.dtype).reshape(1, T, 1)
    return (weights * output * not_yet).sum(dim=1)


def surrogate_forward(model: Model, rasters: Any, slope: float = 5.0):
    """Run ``rasters`` (``[T, n]`` or ``[B, T, n]``) through the exact-forward, surrogate-backward
    torch interpretation of ``model``. Returns the input as a float64 tensor ``[T, B, n]``
    that requires a gradient, and every layer's ``[T, B, n]`` outputs. Raises
    :class:`ModelError` unless every layer's outputs equal the reference simulator's."""
    import torch

    from .. import semantics

    arr, _ = check_raster(model, rasters)
    exact = simulate(model, arr)
    x = torch.tensor(arr.transpose(1, 0, 2), dtype=torch.float64, requires_grad=True)
    outputs, _ = semantics.run_layers(_surrogate_ops(slope), model, _torch_layer_params(model), x, (arr.shape[0],))
    for k, (out, ref) in enumerate(zip(outputs, exact.layer_outputs)):
        if not np.array_equal(out.detach().numpy().transpose(1, 0, 2), ref):
            raise ModelError("the surrogate-gradient forward pass differs from the reference simulator "
                             "(values beyond float64's exact range?)", f"layers[{k}]")
    return x, outputs


def gradient_saliency(model: Model, rasters: Any, targets: Sequence[int], times_input: bool = True,
                      slope: float = 5.0) -> np.ndarray:
    """``[B, T, n]`` surrogate gradients of each raster's class-``targets[b]`` score with
    respect to its input raster (times the input if ``times_input``), through
    :func:`surrogate_forward` (whose spikes are checked against the reference simulator)."""
    import torch

    arr, _ = check_raster(model, rasters)
    if len(targets) != arr.shape[0]:
        raise InputError(f"{len(targets)} targets for {arr.shape[0]} rasters", "targets")
    for c in targets:
        _target(model, arr[0], c)  # a class index of this model, else an InputError
    x, outputs = surrogate_forward(model, arr, slope)
    scores = _torch_scores(model, outputs[-1].transpose(0, 1))
    idx = torch.as_tensor(np.asarray(targets, dtype=np.int64))
    scores.gather(1, idx[:, None]).sum().backward()  # raster b's score depends on raster b alone
    grad = x.grad.numpy().transpose(1, 0, 2).copy()
    return grad * arr if times_input else grad


# --------------------------------------------------------------------------- deletion

def deletion_saliency(model: Model, raster: Any, target: int) -> np.ndarray:
    """``[T, n]``: at each input spike, ``score_c(x) - score_c(x without that spike)``
    (exact simulator, one batched run); 0 where ``x`` has no spike."""
    x = _single_raster(model, raster)
    where = np.argwhere(x == 1)
    batch = np.repeat(x[None], len(where) + 1, axis=0)
    batch[np.arange(1, len(where) + 1), where[:, 0], where[:, 1]] = 0
    scores = class_scores(model, simulate(model, batch))[:, target]
    sal = np.zeros(x.shape, dtype=np.float64)
    sal[where[:, 0], where[:, 1]] = scores[0] - scores[1:]
    return sal


# --------------------------------------------------------------------------- SAM

def neuronal_contribution(spikes: Any, gamma: float = DEFAULT_GAMMA) -> np.ndarray:
    r"""Kim & Panda's neuronal contribution score ``N[t] = Σ_{t' < t, s[t'] = 1} exp(-γ (t - t'))``
    of every neuron, from its ``[..., T, k]`` spikes (time on axis -2): large when the
    neuron fired shortly before ``t`` (short inter-spike intervals)."""
    s = np.asarray(spikes, dtype=np.float64)
    if s.ndim < 2:
        raise InputError(f"expected spikes [..., T, k], got shape {list(s.shape)}", "spikes")
    if not gamma >= 0:
        raise InputError(f"gamma must be >= 0, got {gamma!r}", "gamma")
    ncs = np.zeros_like(s)
    decay = np.exp(-gamma)
    for t in range(1, s.shape[-2]):  # N[t] = e^{-γ} (N[t-1] + s[t-1])
        ncs[..., t, :] = decay * (ncs[..., t - 1, :] + s[..., t - 1, :])
    return ncs


def spike_activation_map(spikes: Any, gamma: float = DEFAULT_GAMMA) -> np.ndarray:
    """Per-neuron SAM ``A[t, k] = N_k[t] · s_k[t]``: a neuron counts at the steps it fires,
    weighted by how recently it fired before (``[..., T, k]``, like ``spikes``)."""
    s = np.asarray(spikes, dtype=np.float64)
    return neuronal_contribution(s, gamma) * s


def _first_layer_aligned(model: Model) -> bool:
    """A first convolution whose output map has the input's height and width: its
    locations are the input's pixels, as in the paper's convolutional networks."""
    layer = model.layers[0]
    return isinstance(layer, Conv2d) and layer.output_shape[1:] == layer.input_shape[1:]


def sam(model: Model, raster: Any, gamma: float = DEFAULT_GAMMA, layer: str = "first") -> np.ndarray:
    r"""Spike Activation Map over the input raster, ``[T, n]`` (Kim & Panda 2021).

    ``layer="first"``: the map of the first neuron layer, brought to the input.
    With a first ``conv2d`` layer whose output has the input's height and width
    this is the paper's map: ``M[t, y, x] = Σ_k A_k[t, y, x]`` over the layer's
    channels ``k``, the same at every input channel of pixel ``(y, x)``. A dense
    first layer has no spatial map (adaptation, stated in ``docs/explanations.md``):
    each first-layer neuron's ``A_k[t]`` is shared out over the input spikes that
    drive it in that step, in proportion to their excitatory weight,
    ``M[t, i] = Σ_k A_k[t + d] · x[t, i] W⁺_{ki} / Σ_j x[t, j] W⁺_{kj}`` (``d`` the
    layer's delay; terms with a zero denominator are 0). ``layer="input"``: the map of
    the input raster itself, ``M = N(x) · x`` — model-independent.
    Like the paper's, both maps ignore the class.
    """
    x = _single_raster(model, raster).astype(np.float64)
    if layer == "input":
        return spike_activation_map(x, gamma)
    if layer != "first":
        raise InputError(f"layer must be 'first' or 'input', got {layer!r}", "layer")
    first = model.layers[0]
    T = model.time_steps
    act = spike_activation_map(simulate(model, x).layer_outputs[0][0], gamma)  # [T, k]
    d = first.delay
    aligned = np.zeros_like(act)  # step t of the input reaches the layer at t + d
    if d < T:
        aligned[: T - d] = act[d:]
    if _first_layer_aligned(model):
        oc, h, w = first.output_shape
        per_pixel = aligned.reshape(T, oc, h * w).sum(axis=1)  # [T, h*w]
        return np.tile(per_pixel, (1, first.input_shape[0]))  # channel-major input layout
    w_pos = np.maximum(first.dense_weight(), 0).astype(np.float64)  # [k, n]
    drive = x @ w_pos.T  # [T, k]: excitatory drive of each neuron in each step
    share = np.divide(aligned, drive, out=np.zeros_like(aligned), where=drive > 0)
    return x * (share @ w_pos)


# --------------------------------------------------------------------------- API

def saliency(model: Model, raster: Any, method: str = "gradient", target: int | None = None,
             **options: Any) -> np.ndarray:
    """Attribution ``[T, n]`` of ``raster`` for class ``target`` (default: the network's
    decision). ``method``: ``"gradient"`` (options ``times_input=True``, ``slope=5.0``),
    ``"deletion"``, or ``"sam"`` (options ``gamma``, ``layer``; class-independent)."""
    x = _single_raster(model, raster)
    if method not in METHODS:
        raise InputError(f"method {method!r} is not one of {', '.join(METHODS)}", "method")
    if method == "sam":
        if target is not None:
            _target(model, x, target)  # validated, though SAM does not depend on the class
        return sam(model, x, **options)
    c = _target(model, x, target)
    if method == "deletion":
        if options:
            raise InputError(f"deletion takes no options, got {sorted(options)}", "options")
        return deletion_saliency(model, x, c)
    return gradient_saliency(model, x[None], [c], **options)[0]


@dataclass(frozen=True, eq=False)
class Curve:
    """A deletion or insertion curve of one raster for class ``target``.

    Point ``j`` has ``changed[j]`` spikes removed from the raster (deletion) or inserted
    into the empty raster (insertion), in decreasing saliency order; ``score[j]`` is the
    class score there and ``kept[j]`` whether the decision is ``target``. ``full`` and
    ``empty`` are the scores of the whole raster and of the raster with no spikes.
    """

    kind: str
    target: int
    changed: np.ndarray
    score: np.ndarray
    kept: np.ndarray
    full: float
    empty: float

    @property
    def fraction(self) -> np.ndarray:
        """Fraction of the raster's spikes removed / inserted at each point."""
        total = self.changed[-1]
        return self.changed / total if total else np.zeros(len(self.changed))

    @property
    def normalized(self) -> np.ndarray:
        """``(score - empty) / (full - empty)``: 1 at the whole raster, 0 at the empty one."""
        span = self.full - self.empty
        return (self.score - self.empty) / span if span else np.full(len(self.score), np.nan)

    @property
    def auc(self) -> float:
        """Area under the normalised score over the fraction changed (trapezoid rule); NaN when
        the raster has no spike or the full and empty rasters score the same."""
        if len(self.changed) < 2 or self.full == self.empty:
            return float("nan")
        return float(np.trapezoid(self.normalized, self.fraction))

    @property
    def decision_auc(self) -> float:
        """Area under "the decision is still ``target``" over the fraction changed."""
        if len(self.changed) < 2:
            return float("nan")
        return float(np.trapezoid(self.kept.astype(np.float64), self.fraction))

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "target": self.target, "changed": self.changed.tolist(),
                "score": self.score.tolist(), "kept": self.kept.tolist(), "full": self.full,
                "empty": self.empty, "auc": self.auc, "decision_auc": self.decision_auc}


def _order(x: np.ndarray, sal: np.ndarray, seed: int) -> np.ndarray:
    """The raster's spikes as flat indices, most salient first; ties in a seeded random order
    (a fixed scan order would favour early steps or low channels)."""
    spikes = np.flatnonzero(x.reshape(-1) == 1)
    tiebreak = np.random.default_rng(seed).permutation(len(spikes))
    return spikes[np.lexsort((tiebreak, -sal.reshape(-1)[spikes]))]


def _counts(k: int, steps: int | None) -> np.ndarray:
    if steps is None or steps >= k:
        return np.arange(k + 1)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise InputError(f"steps must be a positive integer or None, got {steps!r}", "steps")
    return np.unique(np.round(np.linspace(0, k, steps + 1)).astype(np.int64))


def _curve(model: Model, raster: Any, sal: Any, kind: str, steps: int | None, target: int | None,
           seed: int) -> Curve:
    x = _single_raster(model, raster)
    s = np.asarray(sal, dtype=np.float64)
    if s.shape != x.shape:
        raise InputError(f"saliency has shape {list(s.shape)}, the raster {list(x.shape)}", "saliency")
    if not np.all(np.isfinite(s)):
        raise InputError("saliency has NaN or infinite entries", "saliency")
    c = _target(model, x, target)
    order = _order(x, s, seed)
    counts = _counts(len(order), steps)
    flat = x.reshape(-1)
    # rank[p] = position of spike p in the order; point j changes the spikes with rank < counts[j]
    rank = np.full(flat.size, np.iinfo(np.int64).max)
    rank[order] = np.arange(len(order))
    changed = rank[None, :] < counts[:, None]  # [points, T*n]
    if kind == "deletion":
        batch = np.where(changed, 0, flat[None, :])
    else:
        batch = np.where(changed, flat[None, :], 0)
    ends = np.stack([flat, np.zeros_like(flat)])
    res = simulate(model, np.concatenate([batch, ends]).reshape(-1, *x.shape).astype(np.int8))
    scores = class_scores(model, res)[:, c]
    return Curve(kind=kind, target=c, changed=counts, score=scores[:-2], kept=res.prediction[:-2] == c,
                 full=float(scores[-2]), empty=float(scores[-1]))


def deletion_curve(model: Model, raster: Any, sal: Any, steps: int | None = None, target: int | None = None,
                   seed: int = 0) -> Curve:
    """Remove the raster's spikes in decreasing ``sal`` order (``steps`` evenly spaced points,
    or every spike when None) and score each result for class ``target`` (default: the
    network's decision on the whole raster). Lower area = more faithful."""
    return _curve(model, raster, sal, "deletion", steps, target, seed)


def insertion_curve(model: Model, raster: Any, sal: Any, steps: int | None = None, target: int | None = None,
                    seed: int = 0) -> Curve:
    """Insert the raster's spikes into the empty raster in decreasing ``sal`` order and score
    each result for class ``target``. Higher area = more faithful."""
    return _curve(model, raster, sal, "insertion", steps, target, seed)


def _nanmean(values: Sequence[float]) -> float | None:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(v.mean()) if len(v) else None


def faithfulness(model: Model, rasters: Any, method: str, steps: int | None = None, seeds: int = 5,
                 target: int | None = None, **options: Any) -> dict[str, Any]:
    """Faithfulness of ``method`` on ``rasters`` (``[B, T, n]``), as plain data.

    For each raster with a decision (or for class ``target``): the saliency, its deletion
    and insertion curves, and the same curves for ``seeds`` random orders. Returns means
    over rasters: ``auc_deletion`` (lower is better), ``auc_insertion`` (higher is
    better), ``random_auc_deletion``, ``random_auc_insertion`` (mean over seeds), the
    same four for the decision (``decision_auc_*``: the fraction of the curve where the
    decision is still the class), ``saliency_time_s`` (mean seconds to compute one
    saliency), and the counts ``rasters``, ``explained``, ``no_decision`` (skipped),
    ``degenerate`` (rasters whose score AUC is undefined: no spikes, or full = empty).
    """
    if method not in METHODS:
        raise InputError(f"method {method!r} is not one of {', '.join(METHODS)}", "method")
    if isinstance(seeds, bool) or not isinstance(seeds, (int, np.integer)) or seeds < 1:
        raise InputError(f"seeds must be a positive integer, got {seeds!r}", "seeds")
    arr, batched = check_raster(model, rasters)
    if not batched:
        raise InputError("expected a batch of rasters [B, T, n]", "rasters")
    preds = simulate(model, arr).prediction
    keys = ("auc_deletion", "auc_insertion", "random_auc_deletion", "random_auc_insertion",
            "decision_auc_deletion", "decision_auc_insertion", "random_decision_auc_deletion",
            "random_decision_auc_insertion")
    per = {k: [] for k in keys}
    times, skipped = [], 0
    for b, x in enumerate(arr):
        c = target if target is not None else int(preds[b])
        if c < 0:
            skipped += 1
            continue
        start = time.perf_counter()
        sal = saliency(model, x, method, target=c, **options)
        times.append(time.perf_counter() - start)
        dele = deletion_curve(model, x, sal, steps, c)
        ins = insertion_curve(model, x, sal, steps, c)
        rng = np.random.default_rng(b)
        rand = [(deletion_curve(model, x, r, steps, c, seed=s), insertion_curve(model, x, r, steps, c, seed=s))
                for s, r in enumerate(rng.random((seeds, *x.shape)))]
        per["auc_deletion"].append(dele.auc)
        per["auc_insertion"].append(ins.auc)
        per["decision_auc_deletion"].append(dele.decision_auc)
        per["decision_auc_insertion"].append(ins.decision_auc)
        per["random_auc_deletion"].append(_nanmean([d.auc for d, _ in rand]) if np.isfinite(dele.auc) else np.nan)
        per["random_auc_insertion"].append(_nanmean([i.auc for _, i in rand]) if np.isfinite(ins.auc) else np.nan)
        per["random_decision_auc_deletion"].append(_nanmean([d.decision_auc for d, _ in rand]))
        per["random_decision_auc_insertion"].append(_nanmean([i.decision_auc for _, i in rand]))
    summary: dict[str, Any] = {"method": method, "options": dict(options), "steps": steps, "seeds": seeds,
                               "rasters": int(len(arr)), "explained": len(times), "no_decision": skipped,
                               "degenerate": int(sum(not np.isfinite(v) for v in per["auc_deletion"]))}
    for k in keys:
        summary[k] = _nanmean([np.nan if v is None else v for v in per[k]])
    summary["saliency_time_s"] = float(np.mean(times)) if times else None
    summary["per_raster"] = {k: [None if v is None or not np.isfinite(v) else float(v) for v in per[k]]
                             for k in ("auc_deletion", "auc_insertion")}
    return summary
