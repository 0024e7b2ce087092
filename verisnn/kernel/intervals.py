"""The kernel's own interval-bound argument, for ``bounds`` certificates (docs/verification.md,
method ``bounds``), written afresh from docs/semantics.md and docs/properties.md.

Every quantity of semantics v1 is bounded, per neuron and step, by an integer interval
``[lo, hi]`` that holds its exact value for *every* raster of the region. The input is
``[0, 1]`` where the region may change a cell and the centre's bit elsewhere. The first
layer's ``W · x`` is further bounded per step by the centre's product plus (minus) the
``k`` largest changes that flipping one changeable cell can make, ``k`` the most cells the
region changes at one step (flips / deletions / insertions: ``k``; jitter: ``spikes``, as a
moved spike changes one cell at each of two different steps). Every other operation is
monotone (decay, saturation, the threshold test) or is split into its cases (reset, wrap,
refractory hold) and the hull taken. A condition is proved when the bounds decide it;
bounds never refute.
"""

from __future__ import annotations

import numpy as np

from .conditions import count, firing_neuron
from .guard import Limits
from .network import Layer, Network
from .regions import read_raster, read_region


class Bounds:
    """Per layer ``[T, n]`` output intervals (spikes, or ``u`` of an ``li`` layer), whether some
    pre-overflow ``u`` may leave its ``v_bits`` range, and where propagation started: the
    centre, its changeable cells, the per-step budget and the input intervals."""

    def __init__(self, centre: np.ndarray, free: np.ndarray, budget: int | None):
        self.centre, self.free, self.budget = centre, free, budget
        self.inputs = (np.where(free, 0, centre), np.where(free, 1, centre))
        self.outputs: list[tuple[np.ndarray, np.ndarray]] = []
        self.may_overflow = False


# ---------------------------------------------------------------- the region as input intervals

def _input(region, centre: np.ndarray, T: int) -> tuple[np.ndarray, int | None]:
    """The cells the region may change (``[T, n]`` bool) and the most it changes at one step
    (``None``: no limit). ``region`` is a raster region document (docs/properties.md
    "Regions") or a ``[T, n]`` bool mask of changeable cells (used for intensity regions,
    where the caller has the encoder's changeable cells; no per-step budget then)."""
    if isinstance(region, np.ndarray):
        if region.dtype != bool or region.shape != centre.shape:
            raise ValueError(f"changeable mask: expected a bool array of shape {list(centre.shape)}, "
                             f"got {region.dtype} {list(region.shape)}")
        return region.copy(), None
    kind, params = read_region(region)
    free = np.zeros(centre.shape, dtype=bool)
    if kind == "any":
        return ~free, None
    if kind == "jitter":
        shift, budget = params["shift"], params["spikes"]
        if budget > 0 and shift > 0:  # cells within `shift` steps of a centre spike of their channel
            for d in range(-min(shift, T), min(shift, T) + 1):
                lo, hi = max(0, d), min(T, T + d)
                free[lo:hi] |= centre[lo - d:hi - d] == 1
        return free, budget
    budget = params["k"]
    if budget > 0:
        free[:] = True if kind == "flips" else (centre == (1 if kind == "deletions" else 0))
    return free, budget


def _delayed(x: np.ndarray, d: int) -> np.ndarray:
    """``x[t - d]`` at step ``t``, zeros before (docs/semantics.md "Synaptic delay")."""
    out = np.zeros_like(x)
    if d < x.shape[0]:
        out[d:] = x[:x.shape[0] - d]
    return out


def _product(M: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``M · x`` over ``x`` in ``[lo, hi]`` (rows of ``[T, m]``): each weight takes the end that
    makes it smallest / largest. Exact int64 (numpy integer matmul)."""
    pos, neg = np.maximum(M, 0).T, np.minimum(M, 0).T
    return lo @ pos + hi @ neg, hi @ pos + lo @ neg


def _top_sum(gains: np.ndarray, k: int) -> np.ndarray:
    """Per row, the sum of the ``k`` largest entries (all >= 0)."""
    m = gains.shape[1]
    return np.sort(gains, axis=1)[:, m - min(k, m):].sum(axis=1)


def _budgeted(W, centre, free, budget: int, lo, hi, limits: Limits) -> tuple[np.ndarray, np.ndarray]:
    """Narrow the first layer's ``[lo, hi]`` of ``W · x`` with the per-step budget: at most
    ``budget`` changeable cells of a step differ from the (delayed) centre."""
    base = centre @ W.T
    for t in range(centre.shape[0]):
        limits.tick()
        cols = np.flatnonzero(free[t])
        if cols.size:
            change = W[:, cols] * (1 - 2 * centre[t, cols])  # what flipping each cell adds
            hi[t] = np.minimum(hi[t], base[t] + _top_sum(np.maximum(change, 0), budget))
            lo[t] = np.maximum(lo[t], base[t] - _top_sum(np.maximum(-change, 0), budget))
    return lo, hi


# ---------------------------------------------------------------- one layer over intervals

def _decay(x, pair, rounding: str):
    """docs/semantics.md "Decay and rounding"; non-decreasing in ``x`` (``num >= 0``)."""
    num, shift = pair
    if rounding == "floor":
        return (x * num) >> shift
    return np.sign(x) * ((np.abs(x) * num) >> shift)


def _overflow(lo, hi, bits: int, policy: str):
    """docs/semantics.md "Overflow": saturation is monotone; a wrap shifts the whole interval
    when both ends fall in one window of ``2^bits``, else it may give any value of the range."""
    half = 1 << (bits - 1)
    if policy == "saturate":
        return np.clip(lo, -half, half - 1), np.clip(hi, -half, half - 1)
    window_lo, window_hi = (lo + half) >> bits, (hi + half) >> bits
    one = window_lo == window_hi
    shift = window_lo << bits
    return np.where(one, lo - shift, -half), np.where(one, hi - shift, half - 1)


def _hull(cases):
    """Element-wise hull of ``(possible, lo, hi)`` cases; at least one is possible everywhere."""
    big = np.iinfo(np.int64)
    lo = np.min([np.where(p, l, big.max) for p, l, _ in cases], axis=0)
    hi = np.max([np.where(p, h, big.min) for p, _, h in cases], axis=0)
    return lo, hi


def _layer(layer: Layer, a_lo, a_hi, T: int, bounds: Bounds, limits: Limits):
    """docs/semantics.md "The update, per step, in order", steps 1-10, over intervals, given the
    ``[T, n]`` bounds of ``W · x[t - d] + b``. Returns the output intervals ``[T, n]``."""
    n = layer.n_out
    zero = np.zeros(n, dtype=np.int64)
    v_lo, v_hi, i_lo, i_hi, r_lo, r_hi, s_lo, s_hi = (zero,) * 8
    out_lo, out_hi = np.zeros((T, n), dtype=np.int64), np.zeros((T, n), dtype=np.int64)
    half = 1 << (layer.v_bits - 1)
    for t in range(T):
        limits.tick()
        lo, hi = a_lo[t], a_hi[t]
        if layer.R is not None and layer.fires:  # R · s[t-1]
            r_part = _product(layer.R, s_lo[None], s_hi[None])
            lo, hi = lo + r_part[0][0], hi + r_part[1][0]
        if layer.model == "cuba_lif":
            i_lo = _decay(i_lo, layer.i_decay, layer.rounding) + lo
            i_hi = _decay(i_hi, layer.i_decay, layer.rounding) + hi
            lo, hi = i_lo, i_hi
        u_lo = _decay(v_lo, layer.v_decay, layer.rounding) + lo
        u_hi = _decay(v_hi, layer.v_decay, layer.rounding) + hi
        if np.any(u_lo < -half) or np.any(u_hi > half - 1):
            bounds.may_overflow = True
        u_lo, u_hi = _overflow(u_lo, u_hi, layer.v_bits, layer.on_overflow)
        if not layer.fires:  # li: the output is u, and v = u
            v_lo, v_hi = u_lo, u_hi
            out_lo[t], out_hi[t] = u_lo, u_hi
            continue
        cut = layer.threshold + (1 if layer.strict else 0)  # u > θ  <=>  u >= θ + 1
        held_surely, held_maybe = r_lo > 0, r_hi > 0
        can_stay_below, can_reach = u_lo < cut, u_hi >= cut
        s_lo = ((u_lo >= cut) & ~held_maybe).astype(np.int64)
        s_hi = (can_reach & ~held_surely).astype(np.int64)
        # v by cases: held (v_reset); free and u < cut (v = u); free and u >= cut (the reset)
        below_hi = np.minimum(u_hi, cut - 1)
        above_lo = np.maximum(u_lo, cut)
        if layer.reset == "subtract":
            fired = (above_lo - layer.threshold, u_hi - layer.threshold)
        elif layer.reset == "to_value":
            fired = (layer.v_reset, layer.v_reset)
        else:
            fired = (above_lo, u_hi)
        v_lo, v_hi = _hull([(held_maybe, layer.v_reset, layer.v_reset),
                            (~held_surely & can_stay_below, u_lo, below_hi),
                            (~held_surely & can_reach, *fired)])
        # r = refractory where s, else max(r - 1, 0)
        r_lo, r_hi = _hull([(s_hi == 1, layer.refractory, layer.refractory),
                            (s_lo == 0, np.maximum(r_lo - 1, 0), np.maximum(r_hi - 1, 0))])
        out_lo[t], out_hi[t] = s_lo, s_hi
    return out_lo, out_hi


def propagate(net: Network, region, centre, limits: Limits) -> Bounds:
    """Interval bounds of every layer's output over all rasters of the region around ``centre``."""
    c = read_raster(centre).astype(np.int64)
    if c.shape != (net.T, net.n_in):
        raise ValueError(f"centre: shape {list(c.shape)}; the model takes [{net.T}, {net.n_in}]")
    free, budget = _input(region, c, net.T)
    bounds = Bounds(c, free, budget)
    x_lo, x_hi = bounds.inputs
    for k, layer in enumerate(net.layers):
        limits.tick()
        limits.need(8 * (net.T * (layer.n_in * 4 + layer.n_out * 8) + 2 * layer.W.size),
                    f"interval bounds of layer {k}")
        d = layer.delay
        a_lo, a_hi = _product(layer.W, _delayed(x_lo, d), _delayed(x_hi, d))
        if k == 0 and budget is not None:
            a_lo, a_hi = _budgeted(layer.W, _delayed(c, d), _delayed(free, d), budget, a_lo, a_hi, limits)
        x_lo, x_hi = _layer(layer, a_lo + layer.b, a_hi + layer.b, net.T, bounds, limits)
        bounds.outputs.append((x_lo, x_hi))
    return bounds


# ---------------------------------------------------------------- deciding conditions

def score_bounds(net: Network, out_lo, out_hi, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of each output neuron's readout score over steps ``0..steps-1``, larger wins
    (docs/semantics.md "Readouts and decisions"; first_spike: ``steps - first``, -1 never)."""
    lo, hi = out_lo[:steps], out_hi[:steps]
    kind = net.readout_type
    if kind == "spike_count":
        return lo.sum(axis=0), hi.sum(axis=0)
    if kind == "first_spike":
        def score(spikes):  # a sure spike bounds the first spike from above, a possible one from below
            return np.where(spikes.any(axis=0), steps - spikes.argmax(axis=0), -1)
        return score(lo.astype(bool)), score(hi.astype(bool))
    if kind == "membrane_final":
        return lo[-1], hi[-1]
    return lo.max(axis=0), hi.max(axis=0)  # membrane_max


def surely_wins(net: Network, lo: np.ndarray, hi: np.ndarray, c: int) -> bool:
    """Does class ``c`` win for every score vector in ``[lo, hi]``? A tie is no decision under
    ``invalid``; under ``lowest_index`` the lowest tied index wins, so ``c`` needs a strict lead
    over every lower index and at least a tie with every higher one."""
    for j in range(lo.size):
        if j != c and not (lo[c] > hi[j] or (net.ties == "lowest_index" and j > c and lo[c] >= hi[j])):
            return False
    return net.readout_type != "first_spike" or lo[c] >= 0  # first_spike: c must surely spike


def _synops_most(net: Network, b: Bounds) -> int:
    """An upper bound of synops (docs/semantics.md "What a simulation reports"): spikes
    delivered within the T steps times their non-zero outgoing synapses, recurrent ones too."""
    T, total = net.T, 0
    x_hi = b.inputs[1]
    for k, (layer, (_, out_hi)) in enumerate(zip(net.layers, b.outputs)):
        if layer.delay < T:
            delivered = slice(0, T - layer.delay)
            most = int(x_hi[delivered].sum(axis=0) @ layer.fanout)
            if k == 0 and b.budget is not None:  # at most `budget` cells turn on over the whole run
                c = b.centre[delivered]
                gains = np.sort(np.broadcast_to(layer.fanout, c.shape)[b.free[delivered] & (c == 0)])[::-1]
                most = min(most, int(c.sum(axis=0) @ layer.fanout) + int(gains[:b.budget].sum()))
            total += most
        if layer.R is not None and layer.fires:
            total += int(out_hi[:T - 1].sum(axis=0) @ layer.rec_fanout)
        x_hi = out_hi
    return total


def decide(net: Network, b: Bounds, condition, reference: int | None) -> tuple[bool, str]:
    """Whether the bounds prove the condition (docs/properties.md "Conditions"), and why."""
    T, (out_lo, out_hi) = net.T, b.outputs[-1]
    spiking = [o for layer, o in zip(net.layers, b.outputs) if layer.fires]
    if condition == "robust":
        # the centre is in the region, so a class that surely wins everywhere is its decision:
        # the reference given cannot make a false claim pass, only fail to prove a true one
        if reference is None:
            return False, "robust: the centre has no decision"
        if isinstance(reference, bool) or not isinstance(reference, (int, np.integer)) \
                or not 0 <= reference < net.n_out:
            raise ValueError(f"reference decision: expected a class in [0, {net.n_out}), got {reference!r}")
        lo, hi = score_bounds(net, out_lo, out_hi, T)
        ok = surely_wins(net, lo, hi, int(reference))
        return ok, (f"robust: class {reference} {'surely wins' if ok else 'may lose'} "
                    f"(score bounds {lo.tolist()} .. {hi.tolist()})")
    if condition == "no_overflow":
        return (not b.may_overflow), (f"no_overflow: the pre-overflow membranes "
                                      f"{'may leave' if b.may_overflow else 'stay in'} their ranges")
    if not isinstance(condition, dict) or len(condition) != 1:
        raise ValueError(f"condition: not a bounded condition: {condition!r}")
    (key, body), = condition.items()
    if key == "decided_by":
        if type(body) is not int or not 1 <= body <= T:
            raise ValueError(f"condition.decided_by: expected a number of steps in [1, {T}], got {body!r}")
        early, full = score_bounds(net, out_lo, out_hi, body), score_bounds(net, out_lo, out_hi, T)
        winners = [c for c in range(net.n_out) if surely_wins(net, *early, c) and surely_wins(net, *full, c)]
        return bool(winners), f"decided_by {body}: " + (f"class {winners[0]} surely wins by step {body} and at the end"
                                                        if winners else "no class surely wins both")
    if key == "first_spike_by":
        if type(body) is not int or not 1 <= body <= T or not net.layers[-1].fires:
            raise ValueError(f"condition.first_spike_by: expected steps in [1, {T}] and a firing output layer")
        sure = int(out_lo[:body].sum())
        return sure > 0, f"first_spike_by {body}: {sure} sure output spikes before step {body}"
    if key == "spikes_at_most":
        most = sum(int(hi.sum()) for _, hi in spiking)
        return most <= count(body, key), f"spikes_at_most {body}: at most {most} spikes"
    if key == "synops_at_most":
        most = _synops_most(net, b)
        return most <= count(body, key), f"synops_at_most {body}: at most {most} synaptic events"
    if key == "never_fires":
        layer, j = firing_neuron(net, body)
        most = int(b.outputs[layer][1][:, j].sum())
        return most == 0, f"never_fires [{layer}, {j}]: at most {most} spikes"
    if key in ("latency_us_at_most", "energy_uj_at_most"):
        return False, f"{key}: the interval bounds have no rule for hardware costs"
    raise ValueError(f"condition: not a bounded condition: {key!r}")


def prove(net: Network, region_doc, centre, condition_doc, reference: int | None, limits: Limits,
          profile_doc: dict | None = None) -> tuple[bool, str]:
    """True when the kernel's interval bounds prove ``condition_doc`` for every raster of the
    region (a raster region document, or a ``[T, n]`` bool mask of changeable cells around the
    centre's raster for an intensity region), with a one-line explanation. Never refutes."""
    del profile_doc  # hardware conditions have no interval rule (as in the engine's bounds)
    return decide(net, propagate(net, region_doc, centre, limits), condition_doc, reference)
