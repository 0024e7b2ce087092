r"""Intensity regions as exact, finite sets of rasters.

An ``intensity: eps`` region around an analog centre ``c`` is (docs/properties.md)

.. math::  \{\, \mathrm{enc}(x) : x \text{ binary64},\ \max_j |x_j - c_j| \le \varepsilon \,\}

with ``enc`` the model's own ``input.encoding``. Every encoder acts on independent
groups of inputs: rate and latency codes turn each analog value ``x_j`` into the spike
train of channel ``j``; delta modulation turns the series ``x[:, f]`` of feature ``f``
into the ON/OFF channel pair ``(f, c+f)``. So the region is a product over these
:class:`TrainGroup` s of the sub-rasters each group can produce, and
:func:`intensity_region` computes every group's set *exactly*:

* **ball edges** — the smallest and largest binary64 numbers within ``eps`` of each
  ``c_j``, found in exact rational arithmetic (not by rounding ``c_j ± eps``);
* **rate / latency** — the encoder's ``levels`` is monotone in ``x_j`` (see
  :mod:`verisnn.encoders`), so the reachable levels are found by a breakpoint scan:
  from the lowest float of the ball, bisect over the *ordered binary64 numbers* for the
  first one whose level is higher, until the highest level is reached. Every level
  found comes with the smallest ball value that produces it (its witness); levels the
  float grid skips are never listed;
* **delta** — see :func:`_delta_group`: given the series' first value ``x0``, each step
  is decided by its own value, so a pattern is reachable iff one ``x0`` meets every
  step's condition; each condition is an interval of ``x0``, and a breadth-first
  search over steps keeps the interval of ``x0`` that still works.

No encoder draws random numbers, so no seed enters the region. Every listed sub-raster
is replayed through the encoder from its witness before the region is returned (a
mismatch is an ``internal:`` :class:`~verisnn.errors.VerisnnError`, never a region).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Iterator

import numpy as np

from .encoders import DeltaEncoder, Encoder, LatencyEncoder, RateEncoder, _analog, encoder_from_model
from .errors import InputError, ModelError, VerisnnError
from .limits import count_json, count_text
from .properties import Intensity, PropertyError, _raster


class IntensityLimit(PropertyError):
    """A valid intensity region that this module cannot list exactly: too many trains in
    one group, or binary64 too coarse for the delta search. A limit, not bad input: the
    verifier answers ``unknown`` with this reason."""


MAX_TRAINS_PER_GROUP = 200_000  # delta: ON/OFF patterns one feature may reach before we refuse (memory)
_PATH = "region.intensity"
_MAX_FLOAT = float(np.finfo(np.float64).max)
_SIGN_BIT = np.int64(-(1 << 63))
_MAGNITUDE = np.int64((1 << 63) - 1)


# ---------------------------------------------------------------- binary64 numbers in order

def _keys(x: np.ndarray) -> np.ndarray:
    """int64 keys with the order of the finite float64s ``x`` (``-0.0`` and ``0.0`` share key 0)."""
    bits = np.ascontiguousarray(x, dtype=np.float64).view(np.int64)
    return np.where(bits < 0, -(bits & _MAGNITUDE), bits)


def _floats(keys: np.ndarray) -> np.ndarray:
    """The float64s of int64 keys (inverse of :func:`_keys`; key 0 gives ``0.0``)."""
    k = np.asarray(keys, dtype=np.int64)
    return np.where(k < 0, (-k) | _SIGN_BIT, k).astype(np.int64).view(np.float64)


def _midpoint(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``floor((lo + hi) / 2)`` without overflowing int64."""
    return (lo >> 1) + (hi >> 1) + (lo & hi & 1)


def _first_true(pred: Callable[[np.ndarray], np.ndarray], lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Per element, the smallest key ``k`` in ``[lo, hi]`` with ``pred(k)``, for a ``pred``
    that is false then true along the keys (``hi + 1`` where it is never true)."""
    lo, hi = np.asarray(lo, dtype=np.int64), np.asarray(hi, dtype=np.int64)
    at_hi = pred(hi)
    at_lo = pred(lo)
    left, right = lo.copy(), hi.copy()  # pred(left) false (unless at_lo), pred(right) true
    active = at_hi & ~at_lo & (right > left + 1)
    while active.any():
        mid = np.where(active, _midpoint(left, right), right)
        ok = pred(mid)
        right = np.where(active & ok, mid, right)
        left = np.where(active & ~ok, mid, left)
        active &= right > left + 1
    return np.where(at_lo, lo, np.where(at_hi, right, hi + 1))


def _ball_edges(centre: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Per element, the smallest and the largest finite float64 ``x`` with ``|x - c| <= eps``
    in exact real arithmetic."""
    e = Fraction(eps)
    low, high = np.empty(centre.size), np.empty(centre.size)
    for i, c in enumerate(centre.ravel().tolist()):
        low[i] = _float_at_least(Fraction(c) - e)
        high[i] = 0.0 - _float_at_least(-(Fraction(c) + e))  # 0.0 - : never -0.0
    return low.reshape(centre.shape), high.reshape(centre.shape)


def _float_at_least(q: Fraction) -> float:
    """The smallest finite float64 ``>= q`` (``q <= max float``; ``-max float`` if ``q`` is below every float)."""
    if q <= -Fraction(_MAX_FLOAT):
        return -_MAX_FLOAT
    f = float(q)  # correctly rounded; the two loops below make it exact whatever the rounding
    while Fraction(f) < q:
        f = math.nextafter(f, math.inf)
    while f > -_MAX_FLOAT and Fraction(math.nextafter(f, -math.inf)) >= q:
        f = math.nextafter(f, -math.inf)
    return f + 0.0  # never -0.0


def in_ball(x: Any, centre: Any, eps: float) -> bool:
    """Whether every ``|x_j - c_j| <= eps`` in exact real arithmetic (``x``, ``centre`` float64)."""
    e = Fraction(float(eps))
    xs = np.asarray(x, dtype=np.float64).ravel().tolist()
    cs = np.asarray(centre, dtype=np.float64).ravel().tolist()
    return len(xs) == len(cs) and all(math.isfinite(a) and abs(Fraction(a) - Fraction(b)) <= e
                                      for a, b in zip(xs, cs))


# ---------------------------------------------------------------- the region

@dataclass(frozen=True, eq=False)  # numpy fields
class TrainGroup:
    """One independent factor of an intensity region: the raster columns ``channels``
    that the analog inputs ``inputs`` (flat indices into the centre) alone decide.

    ``trains[i]`` (``[T, len(channels)]`` int8) is one sub-raster they can produce, all
    distinct, ``trains[0]`` the centre's; ``witness_x[i]`` (``[len(inputs)]`` float64)
    are values within the ball that encode to it; ``levels[i]`` is the encoder level of
    ``trains[i]`` (rate and latency; ``None`` for delta)."""

    channels: tuple[int, ...]
    inputs: tuple[int, ...]
    trains: np.ndarray
    witness_x: np.ndarray
    levels: np.ndarray | None = None

    @property
    def count(self) -> int:
        return int(self.trains.shape[0])


@dataclass(frozen=True, eq=False)  # numpy fields
class IntensityRegion:
    """The exact raster set of an ``intensity: eps`` region around the analog ``x_centre``:
    the product over ``groups`` of their trains (see the module docstring).

    ``x_low`` / ``x_high`` are the ball's edges (shaped like ``x_centre``), ``centre_raster``
    is ``enc(x_centre)`` (``[T, n]`` int8)."""

    encoder: Encoder
    eps: float
    x_centre: np.ndarray
    x_low: np.ndarray
    x_high: np.ndarray
    centre_raster: np.ndarray
    groups: tuple[TrainGroup, ...]
    _index: tuple[dict, ...] = field(init=False, repr=False)

    def __post_init__(self):
        for arr in (self.x_centre, self.x_low, self.x_high, self.centre_raster):
            arr.flags.writeable = False  # a region is a value; iter_batches copies before writing
        for g in self.groups:
            for arr in (g.trains, g.witness_x) + ((g.levels,) if g.levels is not None else ()):
                arr.flags.writeable = False
        index = tuple({g.trains[i].tobytes(): i for i in range(g.count)} for g in self.groups)
        object.__setattr__(self, "_index", index)

    @property
    def size(self) -> int:
        """The exact number of rasters in the region (a Python int)."""
        return math.prod(g.count for g in self.groups)

    @property
    def changeable(self) -> np.ndarray:
        """``[T, n]`` bool: the bits some raster of the region sets differently from the centre."""
        free = np.zeros(self.centre_raster.shape, dtype=bool)
        for g in self.groups:
            free[:, list(g.channels)] = (g.trains != g.trains[0]).any(axis=0)
        return free

    @property
    def channel_trains(self) -> tuple[np.ndarray, ...] | None:
        """Per input channel ``j``, its reachable trains ``[m_j, T]`` int8 (the centre's first),
        for the channel-wise encoders (rate, latency); ``None`` for delta, whose factors are
        ON/OFF channel pairs (see ``groups``)."""
        if any(len(g.channels) != 1 for g in self.groups):
            return None
        by_channel = sorted(self.groups, key=lambda g: g.channels[0])
        return tuple(g.trains[:, :, 0] for g in by_channel)

    def iter_batches(self, batch: int) -> Iterator[np.ndarray]:
        """Every raster of the region exactly once, ``[B, T, n]`` int8 per batch (``B <= batch``),
        in mixed-radix order over the groups; the first raster is the centre's."""
        if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
            raise VerisnnError(f"batch must be a positive integer, got {batch!r}", "batch")
        size = self.size
        if size >= 1 << 62:
            raise VerisnnError(f"the intensity region has {count_text(size)} rasters, too many to enumerate", _PATH)
        varying = [g for g in self.groups if g.count > 1]
        radices = np.array([g.count for g in varying], dtype=np.int64)
        for start in range(0, size, int(batch)):
            idx = np.arange(start, min(start + int(batch), size), dtype=np.int64)
            out = np.repeat(self.centre_raster[None], idx.size, axis=0)
            for g, radix in zip(reversed(varying), reversed(radices)):  # the last group varies fastest
                out[:, :, list(g.channels)] = g.trains[idx % radix]
                idx = idx // radix
            yield out

    def sample(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """``count`` rasters drawn uniformly from the region (``[count, T, n]`` int8)."""
        out = np.repeat(self.centre_raster[None], count, axis=0)
        for g in self.groups:
            if g.count > 1:
                out[:, :, list(g.channels)] = g.trains[rng.integers(0, g.count, size=count)]
        return out

    def _train_indices(self, raster: Any) -> list[int] | None:
        r = _raster(raster, "raster")
        if r.shape != self.centre_raster.shape:
            return None
        found = []
        for g, index in zip(self.groups, self._index):
            i = index.get(np.ascontiguousarray(r[:, list(g.channels)]).tobytes())
            if i is None:
                return None
            found.append(i)
        return found

    def contains(self, raster: Any) -> bool:
        """Whether the ``[T, n]`` 0/1 raster is ``enc(x)`` for some ``x`` in the ball."""
        return self._train_indices(raster) is not None

    def analog_witness(self, raster: Any) -> np.ndarray:
        """An analog input ``x`` (shaped like ``x_centre``, float64) within ``eps`` of the centre
        whose encoding is ``raster``; a raster outside the region raises :class:`InputError`."""
        found = self._train_indices(raster)
        if found is None:
            raise InputError("the raster is not the encoding of any input in the intensity region", "raster")
        x = self.x_centre.astype(np.float64).ravel()
        for g, i in zip(self.groups, found):
            if i:  # a group at its centre train keeps the centre's values
                x[list(g.inputs)] = g.witness_x[i]
        x = x.reshape(self.x_centre.shape)
        if not (np.array_equal(_encode_one(self.encoder, x), _raster(raster, "raster")) and
                in_ball(x, self.x_centre, self.eps)):
            raise VerisnnError("internal: an intensity witness does not replay through the encoder", _PATH)
        return x

    def summary(self) -> dict:
        """A JSON-ready description for evidence records."""
        return {"encoder": self.encoder.to_spec(), "eps": self.eps,
                "centre_x_sha256": hashlib.sha256(np.ascontiguousarray(self.x_centre, np.float64).tobytes())
                .hexdigest(),
                "region_size": count_json(self.size), "changeable_bits": int(self.changeable.sum()),
                "trains_per_group": [g.count for g in self.groups]}


# ---------------------------------------------------------------- building it

def intensity_region(model: Any, x_centre: Any, eps: float | Intensity) -> IntensityRegion:
    """The exact raster set of ``intensity: eps`` around the analog ``x_centre`` for ``model``.

    ``x_centre``: for rate and latency encoders ``[n]`` or ``model.input.shape`` (``n =
    input.size``); for delta a series ``[T, c]`` with ``T = time_steps`` and ``2c = input.size``.
    ``eps``: a finite number ``>= 0`` or an :class:`~verisnn.properties.Intensity`.

    Raises :class:`PropertyError` (``region.intensity``) for a bad ``eps`` or a model
    without a usable encoder; :class:`IntensityLimit` (a ``PropertyError``) for a region
    it cannot list exactly (delta only); :class:`InputError` (``input``) for a centre that
    is not finite or has the wrong shape. ``internal:`` :class:`VerisnnError` s mean a
    failed self-check (a bug), never a region."""
    region = eps if isinstance(eps, Intensity) else Intensity(eps)
    enc = _model_encoder(model)
    T, n = model.time_steps, model.input.size
    x = _analog(x_centre, "input")
    if isinstance(enc, DeltaEncoder):
        if n % 2:
            raise PropertyError(f"a delta encoder gives 2 channels per feature; input.size {n} is odd", _PATH)
        if x.ndim != 2 or x.shape[0] != T or 2 * x.shape[1] != n:
            raise InputError(f"a delta-encoded model takes a series [T, c] = [{T}, {n // 2}], got shape "
                             f"{list(x.shape)}", "input")
    else:
        shapes = {(n,)} | ({tuple(model.input.shape)} if model.input.shape else set())
        if x.shape not in shapes:
            raise InputError(f"expected an analog input of shape {' or '.join(str(list(s)) for s in sorted(shapes))}"
                             f", got {list(x.shape)}", "input")
    low, high = _ball_edges(x, region.eps)
    centre_raster = _encode_one(enc, x)
    if centre_raster.shape != (T, n):  # cannot happen after the shape checks; never build on it
        raise VerisnnError(f"internal: the encoder gave a {list(centre_raster.shape)} raster", _PATH)
    if isinstance(enc, DeltaEncoder):
        groups = tuple(_delta_group(enc, x[:, f], low[:, f], high[:, f], f, x.shape[1]) for f in range(x.shape[1]))
    else:
        groups = _level_groups(enc, x.ravel(), low.ravel(), high.ravel())
    result = IntensityRegion(enc, region.eps, x, low, high, centre_raster, groups)
    _replay(result)
    return result


def _model_encoder(model: Any) -> Encoder:
    if model.input.encoding is None:
        raise PropertyError("an intensity region needs the model's input.encoding (the model has none)", _PATH)
    try:
        return encoder_from_model(model)
    except ModelError as e:
        raise PropertyError(f"the model's encoder is unusable: {e}", _PATH) from None


def _encode_one(enc: Encoder, x: np.ndarray) -> np.ndarray:
    return enc.encode(x, batched=False)


def _level_groups(enc: RateEncoder | LatencyEncoder, centre: np.ndarray, low: np.ndarray,
                  high: np.ndarray) -> tuple[TrainGroup, ...]:
    """Rate / latency: per channel, every level some float in ``[low, high]`` reaches (the
    breakpoint scan of the module docstring), each with the smallest such float as its
    witness; the centre's level first."""
    def level(keys: np.ndarray) -> np.ndarray:  # levels is element-wise: any number of channels
        return enc.levels(_floats(keys)[None, :])[0]

    n = centre.size
    k_low, k_high = _keys(low), _keys(high)
    top = level(k_high)
    key, lvl = k_low.copy(), level(k_low)
    found: list[list[tuple[int, int]]] = [[(int(lvl[j]), int(k_low[j]))] for j in range(n)]
    active = np.flatnonzero(lvl < top)
    while active.size:
        below = lvl[active]
        # the first float above the current one with a higher level; it exists, since level(high) is higher
        nxt = _first_true(lambda k, below=below: level(k) > below, key[active] + 1, k_high[active])
        new = level(nxt)
        for j, k, v in zip(active.tolist(), nxt.tolist(), new.tolist()):
            found[j].append((v, k))
        key[active], lvl[active] = nxt, new
        active = active[new < top[active]]
    centre_level = enc.levels(centre[None, :])[0]
    groups = []
    for j in range(n):
        levels = np.array([v for v, _ in found[j]], dtype=np.int64)
        witness = _floats(np.array([k for _, k in found[j]], dtype=np.int64))
        at = np.flatnonzero(levels == centre_level[j])
        if at.size != 1:
            raise VerisnnError(f"internal: channel {j}'s centre level is not among its reachable levels", _PATH)
        order = np.concatenate([at, np.delete(np.arange(levels.size), at)])
        levels, witness = levels[order], witness[order]
        groups.append(TrainGroup((j,), (j,), enc.raster(levels[:, None]), witness[:, None], levels))
    return tuple(groups)


def _delta_group(enc: DeltaEncoder, x: np.ndarray, low: np.ndarray, high: np.ndarray, f: int,
                 features: int) -> TrainGroup:
    """Delta modulation, feature ``f``: every ON/OFF pattern of channels ``(f, features + f)``
    some series in the ball produces.

    With ``d_t = clip((x_t - x_0) / threshold, ±(T+1))`` (the encoder's own binary64
    arithmetic) and ``m`` the reference offset before step ``t``, step ``t`` is ON iff
    ``floor(d_t) >= m+1``, OFF iff ``ceil(d_t) <= m-1``, else silent. ``d_t`` is monotone
    (up in ``x_t``, down in ``x_0``), and ``x_t`` acts at step ``t`` only. So for a fixed
    ``x_0``: ON is possible iff ``floor(d(high_t)) >= m+1``, OFF iff ``ceil(d(low_t)) <= m-1``,
    silence iff ``floor(d(low_t)) <= m`` and ``ceil(d(high_t)) >= m`` — the last needs
    consecutive floats to move ``d`` by less than 2, which holds when the float spacing at
    the series' largest magnitude is at most ``threshold / 2`` (checked; otherwise refused).
    Each condition is an interval of ``x_0`` (found by bisection over the ordered floats),
    and a pattern is reachable iff the intersection of its steps' intervals is not empty."""
    T, th = x.size, enc.threshold
    biggest = float(max(np.abs(low).max(), np.abs(high).max()))
    spacing = float(np.spacing(biggest))
    if not (math.isfinite(4 * biggest) and 2 * spacing <= th):
        raise IntensityLimit(f"feature {f}: the ball reaches {biggest!r}, where binary64 numbers are {spacing!r} "
                            f"apart; the exact search needs a spacing of at most half the delta threshold "
                            f"{th!r}", _PATH)

    def floor_ceil(xt: np.ndarray, x0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(over="ignore"):
            d = (xt - x0) / th  # exactly DeltaEncoder.encode's operations, in its order
        d = np.clip(d, -(T + 1), T + 1)
        return np.floor(d).astype(np.int64), np.ceil(d).astype(np.int64)

    k_low, k_high = _keys(low), _keys(high)
    # the x_0 interval of each (step t, offset m) condition; offsets m in [-(T-1), T-1] at column m + T
    qt, qm = np.meshgrid(np.arange(1, T), np.arange(-T + 1, T), indexing="ij")
    qt, qm = qt.ravel(), qm.ravel()
    a, b = low[qt], high[qt]
    lo0, hi0 = np.full(qt.size, k_low[0]), np.full(qt.size, k_high[0])
    on_last = _first_true(lambda k: floor_ceil(b, _floats(k))[0] < qm + 1, lo0, hi0) - 1
    off_first = _first_true(lambda k: floor_ceil(a, _floats(k))[1] <= qm - 1, lo0, hi0)
    quiet_first = _first_true(lambda k: floor_ceil(a, _floats(k))[0] <= qm, lo0, hi0)
    quiet_last = _first_true(lambda k: floor_ceil(b, _floats(k))[1] < qm, lo0, hi0) - 1

    def table(v: np.ndarray) -> np.ndarray:
        out = np.zeros((T, 2 * T + 1), dtype=np.int64)
        out[qt, qm + T] = v
        return out

    on_last, off_first, quiet_first, quiet_last = map(table, (on_last, off_first, quiet_first, quiet_last))
    # breadth-first over steps: every reachable prefix with the x_0 interval [left, right] that realises it
    m = np.zeros(1, dtype=np.int64)
    left, right = k_low[:1].copy(), k_high[:1].copy()
    patterns = np.zeros((1, T, 2), dtype=np.int8)
    for t in range(1, T):
        col = m + T
        cases = ((left, np.minimum(right, on_last[t, col]), 1, 0),
                 (np.maximum(left, off_first[t, col]), right, -1, 1),
                 (np.maximum(left, quiet_first[t, col]), np.minimum(right, quiet_last[t, col]), 0, None))
        parts = []
        for lo_k, hi_k, step, channel in cases:
            keep = lo_k <= hi_k
            p = patterns[keep].copy()
            if channel is not None:
                p[:, t, channel] = 1
            parts.append((m[keep] + step, lo_k[keep], hi_k[keep], p))
        m, left, right, patterns = (np.concatenate(z) for z in zip(*parts))
        if m.size > MAX_TRAINS_PER_GROUP:
            raise IntensityLimit(f"feature {f}: more than {MAX_TRAINS_PER_GROUP} ON/OFF patterns are reachable "
                                f"by step {t}; this intensity region is too large to list", _PATH)
    witness = np.empty((m.size, T))
    x0 = _floats(left)
    witness[:, 0] = x0
    offset = np.zeros(m.size, dtype=np.int64)  # m before each step
    for t in range(1, T):
        on, off = patterns[:, t, 0] == 1, patterns[:, t, 1] == 1
        witness[on, t], witness[off, t] = high[t], low[t]
        quiet = np.flatnonzero(~on & ~off)
        if quiet.size:  # the first float with d > m - 1; by the spacing condition it has d < m + 1
            want = offset[quiet]
            first = _first_true(lambda k: floor_ceil(_floats(k), x0[quiet])[1] >= want,
                                np.full(quiet.size, k_low[t]), np.full(quiet.size, k_high[t]))
            witness[quiet, t] = _floats(first)
        offset += on.astype(np.int64) - off.astype(np.int64)
    centre_pattern = enc.encode(x[:, None], batched=False)
    at = np.flatnonzero((patterns == centre_pattern).all(axis=(1, 2)))
    if at.size != 1:
        raise VerisnnError(f"internal: feature {f}'s centre pattern is not among its reachable patterns", _PATH)
    order = np.concatenate([at, np.delete(np.arange(m.size), at)])
    patterns, witness = patterns[order], witness[order]
    inputs = tuple(t * features + f for t in range(T))
    return TrainGroup((f, features + f), inputs, patterns, witness, None)


def _replay(region: IntensityRegion) -> None:
    """Check every group's trains against the encoder on their witnesses (and the ball)."""
    enc = region.encoder
    for g in region.groups:
        if not np.array_equal(g.trains[0], region.centre_raster[:, list(g.channels)]):
            raise VerisnnError("internal: a group's first train is not the centre's", _PATH)
        w = g.witness_x
        lo, hi = region.x_low.ravel()[list(g.inputs)], region.x_high.ravel()[list(g.inputs)]
        if not (np.all(lo <= w) and np.all(w <= hi)):
            raise VerisnnError("internal: an intensity witness lies outside the ball", _PATH)
        if isinstance(enc, DeltaEncoder):
            got = enc.encode(w[:, :, None])  # [m, T, 1] series -> [m, T, 2]
        else:
            got = enc.encode(w)  # [m, 1] -> [m, T, 1]
        if not np.array_equal(got, g.trains):
            raise VerisnnError("internal: an intensity witness does not replay through the encoder", _PATH)
