"""Sound interval bound propagation: the ``bounds`` verification method.

Semantics v1 (:mod:`verisnn.semantics`) is interpreted over integer intervals by
:class:`IntervalOps`: a value is an :class:`Interval` ``[lo, hi]`` of int64 arrays
that contains the exact value of the reference simulator (:class:`NumpyOps`) for
*every* input raster of a region. A spike is an interval within ``[0, 1]``; it is
*decided* when ``lo == hi``. Every operation over-approximates the exact integer one
(decay, saturation, thresholding are monotone, so they are applied to both ends).

The input region becomes one interval per input bit: fixed at the centre where the
region cannot change the bit, ``[0, 1]`` where it can. For regions with a budget
(``Flips(k)``, ``Deletions(k)``, ``Insertions(k)``, ``Jitter(shift, m)``) the first
layer's synaptic input at each step is also bounded by the centre's plus the ``k``
largest possible changes among that step's changeable inputs (:class:`BudgetedMatrix`),
and the two bounds are intersected. Deeper layers use plain interval arithmetic.
The reset keeps the correlation of a spike with the membrane it was fired from
(:class:`Spikes`): ``u - θ·s`` is ``u`` below the threshold and ``u - θ`` at or above
it, much tighter than the independent difference.

:func:`propagate` runs the network through :func:`semantics.run_layers` (never a second
copy of the update); :func:`bounds_verify` decides a condition from the bounds. Bounds
can prove a condition (``holds=True``) but never refute it (``holds`` is then ``None``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from . import semantics
from .errors import VerisnnError
from .model import Model
from .properties import (AnyInput, Condition, DecidedBy, Deletions, FirstSpikeBy, Flips, Insertions, Jitter,
                         NeverFires, NoOverflow, Property, Region, Robust, SpikesAtMost, SynopsAtMost,
                         changeable_positions, check_against_model)
from .semantics import LayerParams, Ops
from .simulator import ExactMatrix, NumpyOps, _decay_values, _neuron_values, layer_params, single_raster

_EXACT = NumpyOps(np.int64)  # the exact end-point operations (decay, saturation) are monotone


@dataclass(frozen=True, eq=False)  # numpy fields: compare with np.array_equal
class Interval:
    """Integer intervals ``[lo, hi]``, element-wise (int64 arrays of one shape)."""

    lo: np.ndarray
    hi: np.ndarray

    def __getitem__(self, idx) -> "Interval":
        return Interval(self.lo[idx], self.hi[idx])

    @property
    def shape(self) -> tuple[int, ...]:
        return self.lo.shape

    def contains(self, x: np.ndarray) -> bool:
        return bool(np.all(self.lo <= x) and np.all(x <= self.hi))

    def decided(self) -> np.ndarray:
        return self.lo == self.hi


@dataclass(frozen=True, eq=False)  # numpy fields: compare with np.array_equal
class Spikes(Interval):
    """Spike intervals that remember the membrane they were fired from: ``s = [u >= cut]``
    element-wise, with ``u`` the very :class:`Interval` object given to :meth:`IntervalOps.fire`.
    The reset can then use the correlation of ``s`` and ``u`` (a spike means ``u >= cut``,
    no spike means ``u < cut``) instead of treating them as independent."""

    u: Interval | None = None
    cut: np.ndarray | None = None


@dataclass(frozen=True, eq=False)  # numpy fields: compare with np.array_equal
class ScaledSpikes(Interval):
    """``c · s`` for :class:`Spikes` ``s``, remembering both (see :meth:`IntervalOps.sub`)."""

    spikes: Spikes | None = None
    scale: np.ndarray | None = None


def _split(s: Spikes) -> tuple[np.ndarray, Interval, np.ndarray, Interval]:
    """The two cases of ``s = [u >= cut]``: where no spike is possible (a mask) and the
    part of ``u`` below the cut; where a spike is possible and the part at or above it."""
    u = s.u
    quiet_possible = u.lo < s.cut
    spike_possible = u.hi >= s.cut
    below = Interval(u.lo, np.minimum(u.hi, s.cut - 1))
    above = Interval(np.maximum(u.lo, s.cut), u.hi)
    return quiet_possible, below, spike_possible, above


def _hull_of_cases(use_a: np.ndarray, a: Interval, use_b: np.ndarray, b: Interval) -> Interval:
    """Element-wise hull of ``a`` where ``use_a`` and ``b`` where ``use_b`` (at least one holds)."""
    big = np.iinfo(np.int64)
    lo = np.minimum(np.where(use_a, a.lo, big.max), np.where(use_b, b.lo, big.max))
    hi = np.maximum(np.where(use_a, a.hi, big.min), np.where(use_b, b.hi, big.min))
    return Interval(lo, hi)


def _const(x: Any) -> Interval:
    a = np.asarray(x, dtype=np.int64)
    return Interval(a, a)


def _as_interval(x: Any) -> Interval:
    return x if isinstance(x, Interval) else _const(x)


def _intersect(a: Interval, b: Interval) -> Interval:
    return Interval(np.maximum(a.lo, b.lo), np.minimum(a.hi, b.hi))


class IntervalMatrix:
    """An integer matrix ``W`` applied to an interval vector within ``[0, 1]`` per component:
    ``lo = Σ min(W x.lo, W x.hi)``, ``hi = Σ max(...)`` (exact int64 products)."""

    def __init__(self, matrix: np.ndarray):
        m = np.asarray(matrix, dtype=np.int64)
        # the exact simulator's products (BLAS where exact): the ends are 0/1 vectors
        self.pos = ExactMatrix(m, part="positive")
        self.neg = ExactMatrix(m, part="negative")

    def __call__(self, x: Interval) -> Interval:
        return Interval(self.pos(x.lo) + self.neg(x.hi), self.pos(x.hi) + self.neg(x.lo))


class BudgetedMatrix(IntervalMatrix):
    """The first layer's ``W · x`` when at most ``budget`` input bits *per step* differ from
    the centre (and only bits in ``changeable``): per neuron and step, the centre's value
    plus the sum of the ``budget`` largest possible increases (flipping a 0 with ``W > 0``
    or a 1 with ``W < 0``) and minus that of the ``budget`` largest decreases; intersected
    with the plain interval product. ``centre``/``changeable`` are ``[T, n]``, already
    delayed like the layer's input."""

    def __init__(self, matrix: np.ndarray, centre: np.ndarray, changeable: np.ndarray, budget: int | np.ndarray):
        super().__init__(matrix)
        self.w = np.asarray(matrix, dtype=np.int64)
        self.centre = np.asarray(centre, dtype=np.int64)
        self.changeable = np.asarray(changeable, dtype=bool)
        # one budget for every step, or one per step (already delayed like the input)
        self.budget = np.broadcast_to(np.asarray(budget, dtype=np.int64), (self.centre.shape[0],))

    @staticmethod
    def _top_sum(gains: np.ndarray, budget: int) -> np.ndarray:
        """Sum of the ``budget`` largest entries of each row of ``gains`` ``[out, m]`` (all >= 0)."""
        m = gains.shape[1]
        if budget >= m:
            return gains.sum(axis=1)
        if budget == 0:
            return np.zeros(gains.shape[0], dtype=np.int64)
        return np.partition(gains, m - budget, axis=1)[:, m - budget:].sum(axis=1)

    def __call__(self, x: Interval) -> Interval:
        plain = super().__call__(x)
        if x.shape != self.centre.shape:  # not the sequence this bound was made for: plain bounds only
            return plain
        base = self.centre @ self.w.T  # [T, out]
        lo, hi = base.copy(), base.copy()
        for t in range(self.centre.shape[0]):
            cols = np.flatnonzero(self.changeable[t])
            if cols.size == 0:
                continue
            # change of neuron i's input when bit j flips: W[i, j] * (1 - 2 c[j])
            delta = self.w[:, cols] * (1 - 2 * self.centre[t, cols])[None, :]
            hi[t] += self._top_sum(np.maximum(delta, 0), int(self.budget[t]))
            lo[t] -= self._top_sum(np.maximum(-delta, 0), int(self.budget[t]))
        return _intersect(plain, Interval(lo, hi))


class IntervalOps(Ops[Interval]):
    """Semantics v1 over integer intervals: every operation contains the exact result of
    :class:`verisnn.simulator.NumpyOps` for every combination of values in its operands.

    ``may_overflow`` records whether some pre-overflow membrane interval leaves its
    ``v_bits`` range (if not, no run of the region ever needs the overflow policy)."""

    def __init__(self):
        self.may_overflow = False

    def synapse(self, p: LayerParams, x: Interval) -> Interval:
        return self.add(p.weight(x), _const(p.bias))

    def recurrent(self, p: LayerParams, s: Interval) -> Interval:
        return p.recurrent(s)

    def add(self, a: Interval, b: Interval) -> Interval:
        return Interval(a.lo + b.lo, a.hi + b.hi)

    def sub(self, a: Interval, b: Interval) -> Interval:
        if isinstance(b, ScaledSpikes) and b.spikes is not None and b.spikes.u is a:
            # the subtract reset u - c·[u >= cut]: u where u < cut, u - c where u >= cut
            quiet, below, fired, above = _split(b.spikes)
            return _hull_of_cases(quiet, below, fired, Interval(above.lo - b.scale, above.hi - b.scale))
        return Interval(a.lo - b.hi, a.hi - b.lo)

    def decay(self, x: Interval, decay, rounding: str) -> Interval:
        # floor and toward_zero of x * num / 2^shift with num >= 0 are non-decreasing in x
        return Interval(_EXACT.decay(x.lo, decay, rounding), _EXACT.decay(x.hi, decay, rounding))

    def overflow(self, u: Interval, bits: int, policy: str) -> Interval:
        half = 1 << (bits - 1)
        if np.any(u.lo < -half) or np.any(u.hi > half - 1):
            self.may_overflow = True
        if policy == "saturate":  # clamping is monotone
            return Interval(_EXACT.overflow(u.lo, bits, policy), _EXACT.overflow(u.hi, bits, policy))
        # wrap: where both ends lie in the same 2^bits window the wrap is one shift of the
        # whole interval; elsewhere the result may be anything in the range
        q_lo, q_hi = (u.lo + half) >> bits, (u.hi + half) >> bits
        same = q_lo == q_hi
        shift = q_lo << bits
        return Interval(np.where(same, u.lo - shift, -half), np.where(same, u.hi - shift, half - 1))

    def fire(self, u: Interval, threshold, strict: bool) -> Interval:
        cut = np.asarray(threshold, dtype=np.int64) + (1 if strict else 0)  # u > θ  <=>  u >= θ + 1
        cut = np.broadcast_to(cut, u.lo.shape)
        return Spikes((u.lo >= cut).astype(np.int64), (u.hi >= cut).astype(np.int64), u=u, cut=cut)

    def select(self, mask: Interval, a, b) -> Interval:
        if isinstance(mask, Spikes) and mask.u is not None and mask.u is b:
            # the to_value reset: a where u >= cut, else u (which is then below the cut)
            quiet, below, fired, _ = _split(mask)
            return _hull_of_cases(quiet, below, fired, _as_interval(a))
        a, b = _as_interval(a), _as_interval(b)
        sure, never = mask.lo >= 1, mask.hi <= 0  # decided true / decided false; else the hull
        lo = np.where(sure, a.lo, np.where(never, b.lo, np.minimum(a.lo, b.lo)))
        hi = np.where(sure, a.hi, np.where(never, b.hi, np.maximum(a.hi, b.hi)))
        return Interval(lo, hi)

    def spike_scale(self, s: Interval, c) -> Interval:
        c = np.asarray(c, dtype=np.int64)  # thresholds: c >= 0, so the ends keep their order
        return ScaledSpikes(s.lo * c, s.hi * c, spikes=s if isinstance(s, Spikes) else None, scale=c)

    def is_refractory(self, r: Interval) -> Interval:
        return Interval((r.lo > 0).astype(np.int64), (r.hi > 0).astype(np.int64))

    def countdown(self, r: Interval, s: Interval, period) -> Interval:
        down = Interval(np.maximum(r.lo - 1, 0), np.maximum(r.hi - 1, 0))  # monotone
        return self.select(s, _const(period), down)

    def zeros(self, batch, n) -> Interval:
        z = np.zeros(tuple(batch) + (n,), dtype=np.int64)
        return Interval(z, z)

    def zero_spikes(self, like: Interval) -> Interval:
        z = np.zeros(like.shape, dtype=np.int64)
        return Interval(z, z)

    def at(self, seq: Interval, t: int) -> Interval:
        return seq[t]

    def stack(self, items: Sequence[Interval]) -> Interval:
        return Interval(np.stack([i.lo for i in items]), np.stack([i.hi for i in items]))

    def delay_time(self, seq: Interval, d: int) -> Interval:
        return Interval(_EXACT.delay_time(seq.lo, d), _EXACT.delay_time(seq.hi, d))


# ---------------------------------------------------------------- regions as input intervals


def region_budget(region: Region) -> int | None:
    """The most input bits the region can change at one step (``None``: no limit)."""
    if isinstance(region, (Flips, Deletions, Insertions)):
        return region.k
    if isinstance(region, Jitter):  # a moved spike changes one bit at each of two different steps
        return region.spikes
    return None


def changeable_bits(region: Region, centre: np.ndarray) -> np.ndarray:
    """``[T, n]`` bool: the bits some raster of the region may set differently from the centre."""
    c = np.asarray(centre, dtype=np.int64)
    if isinstance(region, (AnyInput, Flips, Deletions, Insertions)):
        free = np.zeros(c.size, dtype=bool)
        if isinstance(region, AnyInput) or region.k > 0:
            free[changeable_positions(region, c)] = True
        return free.reshape(c.shape)
    if isinstance(region, Jitter):
        if region.spikes == 0 or region.shift == 0:
            return np.zeros(c.shape, dtype=bool)
        T = c.shape[0]
        near = np.zeros(c.shape, dtype=bool)
        for d in range(-region.shift, region.shift + 1):  # within `shift` steps of a centre spike
            lo, hi = max(0, d), min(T, T + d)
            if lo < hi:
                near[lo:hi] |= c[lo - d: hi - d] == 1
        return near
    raise VerisnnError(f"the bounds method works on raster regions (flips, deletions, insertions, jitter, any), "
                       f"not {type(region).__name__}", "region")


def input_interval(region: Region, centre: np.ndarray) -> Interval:
    """One interval per input bit: the centre's bit where fixed, ``[0, 1]`` where it may change."""
    c = np.asarray(centre, dtype=np.int64)
    free = changeable_bits(region, c)
    return Interval(np.where(free, 0, c), np.where(free, 1, c))


# ---------------------------------------------------------------- propagation


@dataclass(frozen=True)
class Bounds:
    """The result of :func:`propagate`: ``[T, n]`` intervals of the inputs, of every layer's
    output (spikes, or membranes ``u`` for an ``li`` layer) and of every layer's membrane
    after reset; ``may_overflow`` is False only if no run of the region needs the overflow
    policy."""

    centre: np.ndarray
    inputs: Interval
    outputs: list[Interval]
    membranes: list[Interval]
    may_overflow: bool
    changeable: np.ndarray
    budget: int | None


def interval_params(model: Model, centre: np.ndarray | None = None, changeable: np.ndarray | None = None,
                    budget: int | np.ndarray | None = None) -> list[LayerParams]:
    """Every layer's parameters for :class:`IntervalOps`; with a budget, the first layer's
    synapse is a :class:`BudgetedMatrix` around ``centre``."""
    layer_params(model, widest=True)  # refuses models whose values could leave int64 (ModelError)
    params = []
    for k, layer in enumerate(model.layers):
        n = layer.neuron
        w = layer.dense_weight()
        weight = IntervalMatrix(w)
        if k == 0 and budget is not None and centre is not None:
            d = layer.delay
            step_budget = np.broadcast_to(np.asarray(budget, dtype=np.int64), (model.time_steps,))
            weight = BudgetedMatrix(w, _EXACT.delay_time(np.asarray(centre, dtype=np.int64), d),
                                    _EXACT.delay_time(np.asarray(changeable, dtype=bool), d),
                                    _EXACT.delay_time(step_budget, d))
        params.append(LayerParams(
            weight=weight,
            bias=np.asarray(layer.neuron_bias(), dtype=np.int64),
            recurrent=IntervalMatrix(layer.recurrent) if layer.recurrent is not None else None,
            threshold=_neuron_values(n.threshold if n.fires else 0, n.size, np.int64),
            v_reset=_neuron_values(n.v_reset, n.size, np.int64),
            v_decay=_decay_values(n.v_decay, n.size, np.int64),
            i_decay=_decay_values(n.i_decay, n.size, np.int64),
            refractory=_neuron_values(n.refractory, n.size, np.int64),
        ))
    return params


def input_bounds(region: Region, centre: np.ndarray, step_budget: np.ndarray | None = None
                 ) -> tuple[np.ndarray, int | np.ndarray | None, Interval]:
    """Where :func:`propagate` starts from: the bits the region may change, the budget of
    changes per step, and the input interval (``[0, 1]`` where a bit may change, the
    centre's bit elsewhere); with ``step_budget`` (``[T]``, flips / deletions / insertions),
    at most ``step_budget[t]`` changes at step ``t``."""
    c = np.asarray(centre, dtype=np.int64)
    free = changeable_bits(region, c)
    budget = region_budget(region)
    if step_budget is not None:
        if not isinstance(region, (Flips, Deletions, Insertions)):
            raise VerisnnError("per-step budgets split flips, deletions and insertions regions only", "region")
        budget = np.minimum(np.asarray(step_budget, dtype=np.int64), budget)
        free = free & (budget[:, None] > 0)
    return free, budget, Interval(np.where(free, 0, c), np.where(free, 1, c))


def propagate(model: Model, centre_raster: Any, region: Region, step_budget: np.ndarray | None = None) -> Bounds:
    """Interval bounds of every layer, every step, over all rasters of ``region`` around
    the ``[T, n]`` raster ``centre_raster``; with ``step_budget`` (``[T]``, for flips,
    deletions and insertions), over those of its rasters that change at most
    ``step_budget[t]`` bits at step ``t``."""
    centre = single_raster(model, centre_raster, "bounds take one centre raster", error=VerisnnError)
    centre = centre.astype(np.int64)
    free, budget, x = input_bounds(region, centre, step_budget)
    ops = IntervalOps()
    params = interval_params(model, centre, free, budget)
    outputs, membranes = semantics.run_layers(ops, model, params, x, (), record_membranes=True)
    return Bounds(centre, x, outputs, membranes, ops.may_overflow, free, budget)


# ---------------------------------------------------------------- deciding conditions


@dataclass(frozen=True)
class BoundsReport:
    """What the bounds say about one condition. ``holds`` is True only when proved, never
    False (bounds cannot refute), else None; ``decided`` is ``holds is True``.
    ``details`` is the evidence record (JSON-ready)."""

    decided: bool
    holds: bool | None
    layer_spikes: list[Interval]
    layer_membranes: list[Interval]
    undecided_spikes: int
    details: dict = field(default_factory=dict)


def score_bounds(model: Model, out: Interval, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Bounds ``[lo, hi]`` of each output neuron's readout score over the first ``steps``
    steps; a larger score wins (as in :func:`verisnn.readout.decide`)."""
    r = model.readout.type
    o = out[:steps]
    if r == "spike_count":
        return o.lo.sum(axis=0), o.hi.sum(axis=0)
    if r == "first_spike":  # score T - first spike, -1 for never
        def score(spikes: np.ndarray) -> np.ndarray:
            fired = spikes.astype(bool)
            first = fired.argmax(axis=0)
            return np.where(fired.any(axis=0), steps - first, -1).astype(np.int64)
        # a sure spike bounds the first spike from above; a possible one from below
        return score(o.lo), score(o.hi)
    if r == "membrane_final":
        return o.lo[-1], o.hi[-1]
    if r == "membrane_max":
        return o.lo.max(axis=0), o.hi.max(axis=0)
    raise VerisnnError(f"unknown readout {r!r}", "readout")


def surely_wins(model: Model, lo: np.ndarray, hi: np.ndarray, c: int) -> np.ndarray:
    """``[B]``: does class ``c`` win the readout for every score vector within ``[lo, hi]``
    (``[B, n]`` score bounds, one row per case)?"""
    n = lo.shape[-1]
    others = np.arange(n) != c
    below = np.arange(n) < c
    lo_c = lo[..., c:c + 1]
    if model.readout.ties == "lowest_index":  # c wins ties against higher indices only
        ok = np.where(below, lo_c > hi, lo_c >= hi)
    else:
        ok = lo_c > hi
    wins = np.all(ok[..., others], axis=-1)
    if model.readout.type == "first_spike":  # c must surely spike for any decision
        wins &= lo[..., c] >= 0
    return wins


def _surely_wins(model: Model, lo: np.ndarray, hi: np.ndarray, c: int) -> bool:
    return bool(surely_wins(model, lo[None], hi[None], c)[0])


def _synops_bound(model: Model, b: Bounds) -> int:
    """An upper bound on DESIGN.md's synops over the region."""
    T = model.time_steps
    total = 0
    x = b.inputs
    for k, (layer, out) in enumerate(zip(model.layers, b.outputs)):
        fanout = layer.fanout()
        if layer.delay < T:
            delivered = slice(0, T - layer.delay)
            plain = int(x.hi[delivered].sum(axis=0) @ fanout)
            if k == 0 and b.budget is not None:
                # at most `budget` bits turn on over the whole run (flips, insertions: k; jitter:
                # one per moved spike): the centre's events plus the largest such fan-outs
                c = b.centre[delivered]
                may_turn_on = b.changeable[delivered] & (c == 0)
                gains = np.sort(np.broadcast_to(fanout, c.shape)[may_turn_on])[::-1]
                plain = min(plain, int(c.sum(axis=0) @ fanout) + int(gains[: b.budget].sum()))
            total += plain
        if layer.recurrent is not None and layer.neuron.fires:
            total += int(out.hi[: T - 1].sum(axis=0) @ (layer.recurrent != 0).sum(axis=0))
        x = out
    return total


def bounds_verify(model: Model, centre: Any, prop: Property, reference_decision: int | None,
                  prop_bounds: Bounds | None = None) -> BoundsReport:
    """Try to prove ``prop.condition`` on the whole region from interval bounds."""
    check_against_model(prop, model)
    b = prop_bounds if prop_bounds is not None else propagate(model, centre, prop.region)
    cond: Condition = prop.condition
    fires = [layer.neuron.fires for layer in model.layers]
    spikes = [o for o, f in zip(b.outputs, fires) if f]
    undecided = int(sum(int((~s.decided()).sum()) for s in spikes))
    T = model.time_steps
    out = b.outputs[-1]
    details: dict[str, Any] = {"method": "bounds", "property": prop.to_dict(), "reference_decision": reference_decision,
                               "budget_per_step": b.budget, "changeable_input_bits": int(b.changeable.sum()),
                               "undecided_spikes": undecided}
    holds = False
    if isinstance(cond, Robust):
        lo, hi = score_bounds(model, out, T)
        details["score_bounds"] = {"lo": lo.tolist(), "hi": hi.tolist(), "readout": model.readout.type,
                                   "ties": model.readout.ties}
        holds = reference_decision is not None and _surely_wins(model, lo, hi, reference_decision)
    elif isinstance(cond, DecidedBy):
        k = min(cond.k, T)
        lo_k, hi_k = score_bounds(model, out, k)
        lo, hi = score_bounds(model, out, T)
        details["score_bounds_first_k"] = {"lo": lo_k.tolist(), "hi": hi_k.tolist()}
        details["score_bounds"] = {"lo": lo.tolist(), "hi": hi.tolist()}
        winners = [c for c in range(lo.size)
                   if _surely_wins(model, lo_k, hi_k, c) and _surely_wins(model, lo, hi, c)]
        details["decided_class"] = winners[0] if winners else None
        holds = bool(winners)
    elif isinstance(cond, FirstSpikeBy):
        if model.layers[-1].neuron.fires:
            sure = out.lo[: cond.k].astype(bool)
            details["sure_early_spikes"] = int(sure.sum())
            holds = bool(sure.any())
    elif isinstance(cond, SpikesAtMost):
        most = int(sum(int(s.hi.sum()) for s in spikes))
        details["spikes_upper_bound"] = most
        holds = most <= cond.e
    elif isinstance(cond, SynopsAtMost):
        most = _synops_bound(model, b)
        details["synops_upper_bound"] = most
        holds = most <= cond.s
    elif isinstance(cond, NeverFires):
        o = b.outputs[cond.layer][:, cond.neuron]
        details["neuron_max_output"] = int(o.hi.max(initial=0))
        holds = bool(np.all(o.lo == 0) and np.all(o.hi == 0))
    elif isinstance(cond, NoOverflow):
        details["may_overflow"] = b.may_overflow
        holds = not b.may_overflow
    else:
        raise VerisnnError(f"the bounds method has no rule for {type(cond).__name__}", "condition")
    return BoundsReport(decided=bool(holds), holds=True if holds else None, layer_spikes=list(b.outputs),
                        layer_membranes=list(b.membranes), undecided_spikes=undecided, details=details)


__all__ = ["BoundsReport", "Bounds", "BudgetedMatrix", "Interval", "IntervalMatrix", "IntervalOps",
           "bounds_verify", "input_bounds", "surely_wins", "changeable_bits", "input_interval", "propagate", "region_budget"]
