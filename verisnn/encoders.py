r"""Input encoders: analog data to binary spike rasters.

Every encoder is a small frozen dataclass, validated at construction, with

* ``encode(x, batched=True) -> np.ndarray`` of int8 0/1: a batch ``[B, ...]``
  becomes ``[B, T, n]``; with ``batched=False`` ``x`` is one sample and the
  result is ``[T, n]``;
* ``to_spec() -> dict``: a JSON-safe description, stored in a model's
  ``input.encoding``; :func:`encoder_from_spec` rebuilds the identical encoder.

Encoders are deterministic (no randomness) and ``encode`` is a pure function of
``x``. Bad parameters raise :class:`~verisnn.errors.ModelError` with the path
``input.encoding.<parameter>``; bad data raises :class:`~verisnn.errors.InputError`.

The static encoders (:class:`RateEncoder`, :class:`LatencyEncoder`) work in two
stages, which is the hook an ``intensity`` region needs:

1. ``levels(x)``: one integer *level* per channel, a monotone non-decreasing
   function of that channel's value (and of nothing else);
2. ``raster(levels)``: a fixed integer map from levels to spike trains.

So the rasters reachable from ``x'`` with ``|x' - x|_inf <= eps`` are, channel by
channel, the trains of the levels in ``level_bounds(x, eps)``. Floating-point
work is confined to stage 1, is IEEE-754 binary64 in a stated order (every
operation correctly rounded, hence monotone) and is bit-reproducible; the
rounding to an integer level and stage 2 are exact.

See ``docs/encoders.md`` for worked examples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .errors import InputError, ModelError

_PATH = "input.encoding"


# ---------------------------------------------------------------- validation

def _int_param(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ModelError(f"expected an integer, got {type(value).__name__} {value!r}", f"{_PATH}.{name}")
    if value < minimum:
        raise ModelError(f"must be >= {minimum}, got {int(value)}", f"{_PATH}.{name}")
    return int(value)


def _real_param(value: Any, name: str) -> float:
    """A finite number, stored as a Python float (ints must convert exactly)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ModelError(f"expected a number, got {type(value).__name__} {value!r}", f"{_PATH}.{name}")
    as_float = float(value)
    if not math.isfinite(as_float):
        raise ModelError(f"must be finite, got {value!r}", f"{_PATH}.{name}")
    if isinstance(value, (int, np.integer)) and int(as_float) != int(value):
        raise ModelError(f"{int(value)} is not exactly representable as a float", f"{_PATH}.{name}")
    return as_float


def _range_params(lo: Any, hi: Any) -> tuple[float, float]:
    lo_f, hi_f = _real_param(lo, "lo"), _real_param(hi, "hi")
    if not hi_f > lo_f:
        raise ModelError(f"must be greater than lo ({lo_f!r}), got {hi_f!r}", f"{_PATH}.hi")
    if not math.isfinite(hi_f - lo_f):
        raise ModelError(f"hi - lo = {hi_f!r} - {lo_f!r} overflows a float", f"{_PATH}.hi")
    return lo_f, hi_f


def _analog(x: Any, name: str = "x") -> np.ndarray:
    """``x`` as a finite float64 array; anything else is an InputError."""
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and other non-arrays
        raise InputError(f"cannot be read as an array ({exc})", name) from None
    if arr.dtype.kind not in "biuf":
        raise InputError(f"expected real numbers, got dtype {arr.dtype}", name)
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise InputError("contains NaN or infinity", name)
    return arr


def _features(x: Any, batched: bool) -> np.ndarray:
    """Static data (``[B, *feat]``, or ``[*feat]`` when not batched) as ``[B, n]``."""
    arr = _analog(x)
    if not isinstance(batched, bool):
        raise InputError(f"batched must be True or False, got {batched!r}", "batched")
    if batched:
        if arr.ndim < 1:
            raise InputError("a batch needs a leading batch dimension [B, *features]; "
                             "pass batched=False for a single sample", "x")
        arr2 = arr.reshape(arr.shape[0], -1) if arr.shape[0] else arr.reshape(0, math.prod(arr.shape[1:]))
    else:
        arr2 = arr.reshape(1, -1)
    if arr2.shape[1] == 0:
        raise InputError(f"has no features (shape {list(arr.shape)})", "x")
    return arr2


def _round_half_up(y: np.ndarray) -> np.ndarray:
    """Exact round-half-up of float64 ``y >= 0`` (``y - floor(y)`` is exact in binary64)."""
    whole = np.floor(y)
    return (whole + (y - whole >= 0.5)).astype(np.int64)


def _unit(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``p = (clip(x, lo, hi) - lo) / (hi - lo)`` in binary64: monotone, in [0, 1]."""
    return (np.clip(x, lo, hi) - lo) / (hi - lo)


def _bounds_around(x: Any, eps: Any, batched: bool) -> tuple[np.ndarray, np.ndarray]:
    arr = _analog(x)
    e = _analog(eps, "eps")
    if np.any(e < 0):
        raise InputError("must be >= 0", "eps")
    try:
        e = np.broadcast_to(e, arr.shape)
    except ValueError:
        raise InputError(f"shape {list(e.shape)} does not broadcast to x's {list(arr.shape)}", "eps") from None
    # x - eps rounds to the nearest float: if it lands below the real x - eps the
    # enclosure only grows, so it stays sound.
    with np.errstate(over="ignore"):
        low, high = arr - e, arr + e
    low = np.clip(low, -np.finfo(np.float64).max, None)
    high = np.clip(high, None, np.finfo(np.float64).max)
    return _features(low, batched), _features(high, batched)


# ---------------------------------------------------------------- encoders

@dataclass(frozen=True)
class RateEncoder:
    r"""Deterministic rate code over ``time_steps`` steps.

    .. math::
        p &= (\mathrm{clip}(x, lo, hi) - lo) / (hi - lo) \in [0, 1] \\
        k &= \lfloor p T + 1/2 \rfloor \quad (\text{the level: spikes in the window}) \\
        s[t] &= \lfloor (t+1) k / T \rfloor - \lfloor t k / T \rfloor \in \{0, 1\}

    ``p`` and ``p T`` are computed in binary64; the rounding and ``s`` are exact
    integer arithmetic. The ``k`` spikes are spread evenly, the first at step
    ``ceil(T / k) - 1``; the spike count in the first ``m`` steps is
    ``floor(m k / T)``. Hence every prefix count (and the total ``k``) is
    monotone non-decreasing in ``x``; single spike bits are not.

    Features of any shape ``[B, *feat]`` are flattened in C order to ``n``
    channels: output ``[B, T, n]``.
    """

    time_steps: int
    lo: float = 0.0
    hi: float = 1.0
    type: ClassVar[str] = "rate"

    def __post_init__(self):
        object.__setattr__(self, "time_steps", _int_param(self.time_steps, "time_steps", 1))
        lo, hi = _range_params(self.lo, self.hi)
        object.__setattr__(self, "lo", lo)
        object.__setattr__(self, "hi", hi)

    @property
    def level_domain(self) -> tuple[int, int]:
        """Smallest and largest level: ``0`` (silent) to ``T`` (a spike every step)."""
        return 0, self.time_steps

    def levels(self, x: Any, batched: bool = True) -> np.ndarray:
        """Spike count ``k`` per channel: ``[B, n]`` int64 (``[n]`` if not batched)."""
        k = _round_half_up(_unit(_features(x, batched), self.lo, self.hi) * self.time_steps)
        return k if batched else k[0]

    def raster(self, levels: Any) -> np.ndarray:
        """Spike trains of integer levels ``[..., n]`` in ``[0, T]``: ``[..., T, n]`` int8."""
        k = _levels_array(levels, self.level_domain)
        T = self.time_steps
        out = np.empty(k.shape[:-1] + (T, k.shape[-1]), dtype=np.int8)
        below = np.zeros_like(k)  # floor(t k / T); one step at a time keeps temporaries [..., n]
        for t in range(T):
            upto = ((t + 1) * k) // T
            out[..., t, :] = upto - below
            below = upto
        return out

    def encode(self, x: Any, batched: bool = True) -> np.ndarray:
        """``[B, *feat]`` -> ``[B, T, n]`` int8 0/1; one sample ``[*feat]`` -> ``[T, n]``
        when ``batched=False``."""
        return self.raster(self.levels(x, batched))

    def level_bounds(self, x: Any, eps: Any, batched: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel ``(lowest, highest)`` level over ``|x' - x|_inf <= eps`` (a sound
        enclosure, by monotonicity of :meth:`levels`)."""
        low, high = _bounds_around(x, eps, batched)
        lo_k, hi_k = self.levels(low), self.levels(high)
        return (lo_k, hi_k) if batched else (lo_k[0], hi_k[0])

    def to_spec(self) -> dict:
        return {"type": self.type, "time_steps": self.time_steps, "lo": self.lo, "hi": self.hi}


@dataclass(frozen=True)
class LatencyEncoder:
    r"""Time-to-first-spike code: at most one spike per channel, larger values earlier.

    .. math::
        p &= (\mathrm{clip}(x, lo, hi) - lo) / (hi - lo) \in [0, 1] \\
        q &= \lfloor p (T-1) + 1/2 \rfloor \ \text{if } p > \theta, \text{ else } q = -1
             \quad (\text{the level}) \\
        t_{spike} &= (T - 1) - q \quad (\text{no spike when } q = -1)

    ``p`` and ``p (T-1)`` are computed in binary64, the comparison ``p > threshold``
    and the rounding exactly. ``p = 1`` fires at step 0, a ``p`` just above
    ``threshold`` fires near step ``T-1``; ``p <= threshold`` (with the default
    ``threshold = 0``: ``x <= lo``) never fires. The level ``q`` is monotone
    non-decreasing in ``x``, so the spike time is monotone non-increasing.
    Output ``[B, T, n]`` as for :class:`RateEncoder`.
    """

    time_steps: int
    lo: float = 0.0
    hi: float = 1.0
    threshold: float = 0.0
    type: ClassVar[str] = "latency"

    def __post_init__(self):
        object.__setattr__(self, "time_steps", _int_param(self.time_steps, "time_steps", 1))
        lo, hi = _range_params(self.lo, self.hi)
        object.__setattr__(self, "lo", lo)
        object.__setattr__(self, "hi", hi)
        th = _real_param(self.threshold, "threshold")
        if not 0.0 <= th < 1.0:
            raise ModelError(f"must lie in [0, 1) (a fraction of hi - lo), got {th!r}", f"{_PATH}.threshold")
        object.__setattr__(self, "threshold", th)

    @property
    def level_domain(self) -> tuple[int, int]:
        """Smallest and largest level: ``-1`` (no spike) to ``T-1`` (spike at step 0)."""
        return -1, self.time_steps - 1

    def levels(self, x: Any, batched: bool = True) -> np.ndarray:
        """Level ``q`` per channel (spike at ``T-1-q``, none if ``q = -1``): ``[B, n]`` int64."""
        p = _unit(_features(x, batched), self.lo, self.hi)
        q = np.where(p > self.threshold, _round_half_up(p * (self.time_steps - 1)), -1)
        return q if batched else q[0]

    def raster(self, levels: Any) -> np.ndarray:
        """Spike trains of integer levels ``[..., n]`` in ``[-1, T-1]``: ``[..., T, n]`` int8."""
        spike_time = (self.time_steps - 1) - _levels_array(levels, self.level_domain)
        t = np.arange(self.time_steps, dtype=np.int64).reshape((self.time_steps, 1))
        return (t == spike_time[..., None, :]).astype(np.int8)

    def encode(self, x: Any, batched: bool = True) -> np.ndarray:
        """``[B, *feat]`` -> ``[B, T, n]`` int8 0/1; one sample ``[*feat]`` -> ``[T, n]``
        when ``batched=False``."""
        return self.raster(self.levels(x, batched))

    def level_bounds(self, x: Any, eps: Any, batched: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel ``(lowest, highest)`` level over ``|x' - x|_inf <= eps`` (a sound
        enclosure: levels between the two need not all be reachable)."""
        low, high = _bounds_around(x, eps, batched)
        lo_q, hi_q = self.levels(low), self.levels(high)
        return (lo_q, hi_q) if batched else (lo_q[0], hi_q[0])

    def to_spec(self) -> dict:
        return {"type": self.type, "time_steps": self.time_steps, "lo": self.lo, "hi": self.hi,
                "threshold": self.threshold}


@dataclass(frozen=True)
class DeltaEncoder:
    r"""Delta modulation of a time series ``x[t, c]``: ON / OFF spikes when the signal
    has moved by ``threshold`` from a reference that follows it in steps of ``threshold``.

    .. math::
        r[0] &= x[0], \quad \text{no spike at } t = 0 \\
        \mathrm{on}[t] &= [\,x[t] - r[t-1] \ge \theta\,], \quad
        \mathrm{off}[t] = [\,r[t-1] - x[t] \ge \theta\,] \\
        r[t] &= r[t-1] + \theta\,(\mathrm{on}[t] - \mathrm{off}[t])

    At most one spike per channel per step: a jump of several ``threshold`` is
    reported over several steps while the reference catches up. Computed without
    drift: ``r[t] = x[0] + m[t] \theta`` with an integer ``m``, and the tests are
    ``floor(d) >= m + 1`` (ON) and ``ceil(d) <= m - 1`` (OFF) on
    ``d = (x[t] - x[0]) / threshold``, the only binary64 step.

    Input ``[B, T, c]`` (or one series ``[T, c]`` with ``batched=False``); output
    ``[B, T, 2c]`` laid out ``[on_0 .. on_{c-1}, off_0 .. off_{c-1}]``.
    ``time_steps``, if given, must equal the series length ``T``.
    """

    threshold: float
    time_steps: int | None = None
    type: ClassVar[str] = "delta"

    def __post_init__(self):
        th = _real_param(self.threshold, "threshold")
        if not th > 0.0:
            raise ModelError(f"must be > 0, got {th!r}", f"{_PATH}.threshold")
        object.__setattr__(self, "threshold", th)
        if self.time_steps is not None:
            object.__setattr__(self, "time_steps", _int_param(self.time_steps, "time_steps", 1))

    def encode(self, x: Any, batched: bool = True) -> np.ndarray:
        """``[B, T, c]`` -> ``[B, T, 2c]`` int8 0/1; one series ``[T, c]`` -> ``[T, 2c]``
        when ``batched=False``."""
        arr = _analog(x)
        if not isinstance(batched, bool):
            raise InputError(f"batched must be True or False, got {batched!r}", "batched")
        want = 3 if batched else 2
        if arr.ndim != want:
            hint = "; pass batched=False for a single series [T, c]" if batched and arr.ndim == 2 else ""
            raise InputError(f"expected {'[B, T, c]' if batched else '[T, c]'}, got shape {list(arr.shape)}{hint}",
                             "x")
        if not batched:
            arr = arr[None]
        B, T, c = arr.shape
        if T == 0 or c == 0:
            raise InputError(f"has no time steps or no channels (shape {list(arr.shape)})", "x")
        if self.time_steps is not None and T != self.time_steps:
            raise InputError(f"series has {T} time steps, the encoder's time_steps is {self.time_steps}", "x")
        with np.errstate(over="ignore"):
            d = (arr - arr[:, :1, :]) / self.threshold
        # m changes by at most 1 per step, so |m| <= T; larger |d| acts the same, and
        # clipping keeps the integer conversion in range.
        d = np.clip(d, -(T + 1), T + 1)
        up, down = np.floor(d).astype(np.int64), np.ceil(d).astype(np.int64)
        out = np.zeros((B, T, 2 * c), dtype=np.int8)
        m = np.zeros((B, c), dtype=np.int64)
        for t in range(1, T):
            on, off = up[:, t] >= m + 1, down[:, t] <= m - 1
            out[:, t, :c], out[:, t, c:] = on, off
            m += on.astype(np.int64) - off.astype(np.int64)
        return out if batched else out[0]

    def to_spec(self) -> dict:
        return {"type": self.type, "threshold": self.threshold, "time_steps": self.time_steps}


def _levels_array(levels: Any, domain: tuple[int, int]) -> np.ndarray:
    arr = np.asarray(levels)
    if arr.dtype.kind not in "iu" or arr.ndim < 1:
        raise InputError(f"levels must be an integer array [..., n], got dtype {arr.dtype}, "
                         f"shape {list(arr.shape)}", "levels")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < domain[0] or arr.max() > domain[1]):
        raise InputError(f"levels must lie in [{domain[0]}, {domain[1]}]", "levels")
    return arr


# ---------------------------------------------------------------- specs

Encoder = RateEncoder | LatencyEncoder | DeltaEncoder

ENCODERS: dict[str, type] = {cls.type: cls for cls in (RateEncoder, LatencyEncoder, DeltaEncoder)}
_REQUIRED = {"rate": ("time_steps", "lo", "hi"), "latency": ("time_steps", "lo", "hi"), "delta": ("threshold",)}
_OPTIONAL = {"rate": (), "latency": ("threshold",), "delta": ("time_steps",)}


def encoder_from_spec(spec: Any) -> Encoder:
    """Rebuild an encoder from its :meth:`to_spec` dict (a model's ``input.encoding``).

    Unknown ``type``, unknown or missing keys and bad values raise
    :class:`~verisnn.errors.ModelError` with the path ``input.encoding.<key>``.
    """
    if not isinstance(spec, dict):
        raise ModelError(f"expected an object, got {type(spec).__name__}", _PATH)
    kind = spec.get("type")
    if kind not in ENCODERS:
        raise ModelError(f"{kind!r} is not one of {', '.join(map(repr, ENCODERS))}", f"{_PATH}.type")
    allowed = ("type",) + _REQUIRED[kind] + _OPTIONAL[kind]
    for key in spec:
        if key not in allowed:
            raise ModelError(f"unknown key for a {kind!r} encoder (allowed: {', '.join(allowed)})",
                             f"{_PATH}.{key}")
    for key in _REQUIRED[kind]:
        if key not in spec:
            raise ModelError(f"missing (a {kind!r} encoder needs {', '.join(_REQUIRED[kind])})", f"{_PATH}.{key}")
    return ENCODERS[kind](**{k: v for k, v in spec.items() if k != "type"})


def encoder_from_model(model: Any) -> Encoder | None:
    """The encoder stored in ``model.input.encoding`` (``None`` if there is none),
    checked against the model's ``time_steps``. Whether its ``n`` channels match
    ``input.size`` depends on the data and is checked where rasters are used."""
    spec = model.input.encoding
    if spec is None:
        return None
    enc = encoder_from_spec(spec)
    if enc.time_steps is not None and enc.time_steps != model.time_steps:
        raise ModelError(f"{enc.time_steps} differs from the model's time_steps {model.time_steps}",
                         f"{_PATH}.time_steps")
    return enc
