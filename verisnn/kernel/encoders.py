"""The input encoders of docs/encoders.md (rate, latency, delta) and the rasters of an intensity
region (docs/properties.md, "Intensity, precisely"), re-implemented for the checking kernel.

Every binary64 operation is done on Python floats (IEEE-754 binary64, correctly rounded) in the
order docs/encoders.md writes it, so the rasters equal the engine's bit for bit; everything after
the floating-point step (rounding half up, floor, ceil, the trains) is exact.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from typing import Iterator

import numpy as np

from .guard import NO_LIMITS, Limits

MAX_FLOAT = 1.7976931348623157e308  # the largest finite binary64 number


class NotSupported(Exception):
    """The kernel lists no intensity region for this encoder (delta: a spike depends on the whole
    series, so levels are not per channel); the caller labels such claims as not re-checked."""


# ---------------------------------------------------------------- reading the documents

def _number(value, where: str) -> float:
    """A finite JSON number as a binary64 float (an integer must convert exactly)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where}: expected a number, got {value!r}")
    as_float = float(value)
    if not math.isfinite(as_float) or (isinstance(value, int) and int(as_float) != value):
        raise ValueError(f"{where}: not a finite binary64 number: {value!r}")
    return as_float


def read_encoding(doc, T: int) -> dict:
    """The encoding document (docs/encoders.md, a model's ``input.encoding``), checked against
    the model's ``T``: a dict with ``type`` and its float / int parameters."""
    allowed = {"rate": {"time_steps", "lo", "hi"}, "latency": {"time_steps", "lo", "hi", "threshold"},
               "delta": {"threshold", "time_steps"}}
    if not isinstance(doc, dict) or doc.get("type") not in allowed:
        raise ValueError(f"input.encoding: expected an object with type rate, latency or delta, got {doc!r}")
    kind = doc["type"]
    required = {"threshold"} if kind == "delta" else {"time_steps", "lo", "hi"}
    if not required <= set(doc) - {"type"} <= allowed[kind]:
        raise ValueError(f"input.encoding: a {kind} encoder takes {sorted(allowed[kind])} "
                         f"(needs {sorted(required)}), got {sorted(doc)}")
    steps = doc.get("time_steps")
    if steps is None and kind == "delta":
        pass  # a delta encoder may leave time_steps open: the series length decides
    elif isinstance(steps, bool) or not isinstance(steps, int) or steps != T:
        raise ValueError(f"input.encoding.time_steps: {steps!r} is not the model's time_steps {T}")
    spec = {"type": kind, "T": T}
    if kind == "delta":
        spec["threshold"] = _number(doc["threshold"], "input.encoding.threshold")
        if not spec["threshold"] > 0:
            raise ValueError("input.encoding.threshold: a delta threshold must be > 0")
        return spec
    spec["lo"], spec["hi"] = _number(doc["lo"], "input.encoding.lo"), _number(doc["hi"], "input.encoding.hi")
    if not (spec["hi"] > spec["lo"] and math.isfinite(spec["hi"] - spec["lo"])):
        raise ValueError("input.encoding.hi: must exceed lo, and hi - lo must be a finite binary64 number")
    spec["threshold"] = _number(doc.get("threshold", 0.0), "input.encoding.threshold")
    if not 0.0 <= spec["threshold"] < 1.0:
        raise ValueError("input.encoding.threshold: a latency threshold lies in [0, 1)")
    return spec


def _analog(x, count: int, what: str) -> list[float]:
    """``x`` flattened in C order to ``count`` finite binary64 numbers."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "iuf" or arr.size != count:
        raise ValueError(f"{what}: expected {count} real numbers, got shape {list(arr.shape)} dtype {arr.dtype}")
    values = arr.astype(np.float64).reshape(-1).tolist()
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"{what}: NaN or infinity in the analog input")
    return values


# ---------------------------------------------------------------- rate and latency: levels, then trains

def _round_half_up(y: float) -> int:
    """``floor(y + 1/2)`` in exact rationals (docs/encoders.md: the rounding is exact)."""
    return math.floor(Fraction(y) + Fraction(1, 2))


def level(spec: dict, x: float) -> int:
    """The channel's level (docs/encoders.md): rate ``k = floor(p T + 1/2)``; latency
    ``q = floor(p (T-1) + 1/2)`` if ``p > threshold`` else ``-1``; with the binary64
    ``p = (clip(x, lo, hi) - lo) / (hi - lo)``."""
    lo, hi, T = spec["lo"], spec["hi"], spec["T"]
    p = (min(max(x, lo), hi) - lo) / (hi - lo)
    if spec["type"] == "rate":
        return _round_half_up(p * T)
    return _round_half_up(p * (T - 1)) if p > spec["threshold"] else -1


def train(spec: dict, lvl: int) -> np.ndarray:
    """The ``[T]`` int8 spike train of a level: rate ``s[t] = floor((t+1)k/T) - floor(tk/T)``;
    latency one spike at ``T-1-q`` (none for ``q = -1``)."""
    T = spec["T"]
    if spec["type"] == "rate":
        return np.array([(t + 1) * lvl // T - t * lvl // T for t in range(T)], dtype=np.int8)
    return np.array([1 if lvl >= 0 and t == T - 1 - lvl else 0 for t in range(T)], dtype=np.int8)


def _delta(spec: dict, series: list[float], T: int, features: int) -> np.ndarray:
    """docs/encoders.md, "Delta modulation": ``d = (x[t] - x[0]) / threshold`` in binary64 (an
    overflow gives an infinity), clipped to ``±(T+1)``; ON iff ``floor(d) >= m + 1``, OFF iff
    ``ceil(d) <= m - 1``, ``m`` the reference offset, which moves by ON - OFF."""
    out = np.zeros((T, 2 * features), dtype=np.int8)
    for f in range(features):
        start, m = series[f], 0
        for t in range(1, T):
            d = min(max((series[t * features + f] - start) / spec["threshold"], -(T + 1.0)), T + 1.0)
            on, off = math.floor(d) >= m + 1, math.ceil(d) <= m - 1
            out[t, f], out[t, features + f] = on, off
            m += int(on) - int(off)
    return out


def encode(encoding_doc, analog, T: int, n: int) -> np.ndarray:
    """The ``[T, n]`` int8 raster of one analog input: ``n`` numbers (rate, latency) or a
    ``[T, n/2]`` series (delta)."""
    spec = read_encoding(encoding_doc, T)
    if spec["type"] == "delta":
        if n % 2 or np.shape(analog) != (T, n // 2):
            raise ValueError(f"a delta encoder reads a [T, n/2] = [{T}, {n / 2}] series into n = {n} "
                             f"channels, got shape {list(np.shape(analog))}")
        return _delta(spec, _analog(analog, T * (n // 2), "analog"), T, n // 2)
    values = _analog(analog, n, "analog")
    if not values:
        return np.zeros((T, 0), dtype=np.int8)
    return np.stack([train(spec, level(spec, x)) for x in values], axis=1).reshape(T, n)


# ---------------------------------------------------------------- the ball and the intensity region

def _eps(eps) -> Fraction:
    e = _number(eps, "region.intensity")
    if e < 0:
        raise ValueError(f"region.intensity: expected a non-negative number, got {eps!r}")
    return Fraction(e)


def in_ball(x, c, eps) -> bool:
    """Whether every ``|x_j - c_j| <= eps`` in exact real arithmetic (binary64 ``x``, ``c``)."""
    cs = np.asarray(c, dtype=np.float64).reshape(-1).tolist()
    if not all(math.isfinite(v) for v in cs):
        raise ValueError("the analog centre holds NaN or infinity")
    e = _eps(eps)
    xs = np.asarray(x, dtype=np.float64).reshape(-1).tolist()
    return len(xs) == len(cs) and all(math.isfinite(a) and abs(Fraction(a) - Fraction(b)) <= e
                                      for a, b in zip(xs, cs))


def _float_at_least(q: Fraction) -> float:
    """The smallest binary64 number ``>= q``, for ``-MAX_FLOAT <= q <= MAX_FLOAT``: the nearest
    float (``float(Fraction)`` rounds correctly), one step up if it lies below ``q``."""
    f = float(q)
    return math.nextafter(f, math.inf) if Fraction(f) < q else f


def ball_edges(c: float, e: Fraction) -> tuple[float, float]:
    """The smallest and the largest binary64 number of ``[c - e, c + e]``, exactly (docs/properties.md,
    "Intensity, precisely": rounding ``c ± eps`` in binary64 can land outside the ball)."""
    top = Fraction(MAX_FLOAT)
    return _float_at_least(max(Fraction(c) - e, -top)), -_float_at_least(-min(Fraction(c) + e, top))


def _level_ranges(spec: dict, centre: list[float], e: Fraction) -> list[tuple[int, int, int]]:
    """Per channel ``(centre level, lowest, highest)``: the levels of the ball's edges; levels are
    monotone in ``x``, so every float of the ball has a level in between."""
    return [(level(spec, c), *(level(spec, edge) for edge in ball_edges(c, e))) for c in centre]


def _prepare(encoding_doc, analog_centre, eps, T: int, n: int) -> tuple[dict, list[tuple[int, int, int]]]:
    spec = read_encoding(encoding_doc, T)
    if spec["type"] == "delta":
        raise NotSupported("the kernel lists no intensity region for a delta encoder")
    return spec, _level_ranges(spec, _analog(analog_centre, n, "analog centre"), _eps(eps))


def intensity_size_bound(encoding_doc, analog_centre, eps, T: int, n: int) -> int:
    """How many rasters :func:`intensity_batches` yields (at least the region's size)."""
    _, ranges = _prepare(encoding_doc, analog_centre, eps, T, n)
    return math.prod(high - low + 1 for _, low, high in ranges)


def intensity_batches(encoding_doc, analog_centre, eps, T: int, n: int, limits: Limits = NO_LIMITS,
                      batch: int = 4096) -> Iterator[np.ndarray]:
    """Rasters ``[B, T, n]`` int8, each once, holding every raster of the intensity region (rate,
    latency): per channel every level from the lowest to the highest of its ball, all channels
    combined; the centre's encoding first. Checking a superset is sound for a proof."""
    spec, ranges = _prepare(encoding_doc, analog_centre, eps, T, n)
    widest = max(high - low + 1 for _, low, high in ranges)
    limits.need(n * widest * T * 9, "the trains of an intensity region")
    trains = np.zeros((n, widest, T), dtype=np.int8)  # trains[j, i]: channel j's i-th level
    for j, (mid, low, high) in enumerate(ranges):
        limits.tick()
        for i, lvl in enumerate([mid] + [v for v in range(low, high + 1) if v != mid]):
            trains[j, i] = train(spec, lvl)
    room = limits.batch(n * T + n * 8, max(1, batch))
    limits.need(room * (n * T * 2 + n * 8), "a batch of rasters")
    choices = itertools.product(*[range(high - low + 1) for _, low, high in ranges])
    for chunk in limits.chunks(choices, room):
        picked = np.array(chunk, dtype=np.int64).reshape(len(chunk), n)
        yield np.ascontiguousarray(trains[np.arange(n)[None, :], picked].transpose(0, 2, 1))


def intensity_changeable(encoding_doc, analog_centre, eps, T: int, n: int, limits: Limits = NO_LIMITS) -> np.ndarray:
    """``[T, n]`` bool: the cells some raster of :func:`intensity_batches`' superset sets
    differently from the centre's encoding (rate, latency) — the region as cells for the
    interval bounds, which then treat each such cell as free."""
    spec, ranges = _prepare(encoding_doc, analog_centre, eps, T, n)
    free = np.zeros((T, n), dtype=bool)
    for j, (mid, low, high) in enumerate(ranges):
        limits.tick()
        centre_train = train(spec, mid)
        for lvl in range(low, high + 1):
            free[:, j] |= train(spec, lvl) != centre_train
    return free
