"""The numpy reference simulator: semantics v1 interpreted over exact integers.

Batched over inputs. Synaptic products use the fastest method that is provably
exact: inputs are 0/1 spikes, so every partial sum of ``W · x`` is bounded by
the row's sum of ``|W|``. Weights within int8 with row sums below 2^31 go through
an int8 x int8 -> int32 integer kernel (large products); otherwise BLAS in
float32 below 2^24 or float64 below 2^53, where every intermediate is an exactly
representable integer; above that int64. Everything else is integer arithmetic in
int32 where the model's bounds prove that no value or product can leave it
(half the memory traffic), else int64; models whose values could leave int64
are refused with a :class:`ModelError`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterator, Sequence

import numpy as np

from . import semantics
from .errors import InputError, ModelError
from .limits import batch_within_budget, check_deadline, require_memory, time_left
from .model import Model
from .readout import decide, first_spike_times, spike_counts
from .semantics import LayerParams, OperatorOps

F32_EXACT = 1 << 24
F64_EXACT = 1 << 53
CURRENT_LIMIT = 1 << 48  # |i| * num (num <= 2^14) must stay inside int64
_BLOCK_ROWS = 1024  # rows of input per BLAS call in ExactMatrix


_BLOCK_ENTRIES = 1 << 22  # entries of a large matrix handled at once: no whole-matrix temporaries, and a
# caller's time limit is checked between blocks (a conv2d layer's dense matrix has hundreds of millions)


def _row_blocks(m: np.ndarray) -> Iterator[slice]:
    rows = max(1, _BLOCK_ENTRIES // max(m.shape[1], 1))
    for k in range(0, m.shape[0], rows):
        check_deadline()
        yield slice(k, k + rows)


def row_bound(matrix: np.ndarray) -> int:
    """The largest ``|W · x|`` over 0/1 vectors ``x``: the largest row sum of ``|W|``."""
    m = np.asarray(matrix, dtype=np.int64)
    if not m.size:
        return 0
    return max(int(np.abs(m[rows]).sum(axis=1).max()) for rows in _row_blocks(m))


_INT8_MACS = 1 << 22  # products at least this large go through the int8 kernel when it applies...
_INT8_IMPORT_MACS = 1 << 36  # ...once torch is loaded; importing it (about 2 s) pays off only beyond this
_TORCH_IMPORT_S = 3.0  # the longest a first `import torch` takes: not started with less time left


@lru_cache(maxsize=1)
def _int8_kernel():
    """torch's int8 x int8 -> int32 matrix product (oneDNN / fbgemm), if present and exact
    on a self-test against numpy int64; else None. It is a private torch function, hence
    the self-test; ``tests/test_differential.py`` compares it with every other path."""
    try:
        import torch

        rng = np.random.default_rng(0)
        x = rng.integers(0, 2, (37, 300), dtype=np.int8)
        w = rng.integers(-128, 128, (300, 19), dtype=np.int8)
        got = torch._int_mm(torch.from_numpy(x), torch.from_numpy(w)).numpy()
        if not np.array_equal(got, x.astype(np.int64) @ w.astype(np.int64)):
            return None
        return lambda a, b: torch._int_mm(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    except Exception:  # no torch, or no such kernel: the float and int64 paths remain
        return None


def expect_products(macs: int) -> None:
    """Announce about ``macs`` multiply-adds of work to come: when that is enough to pay for
    importing torch (about 2 s), load its int8 kernel now so that every large product
    from here on uses it."""
    left = time_left()
    if macs >= _INT8_IMPORT_MACS and (left is None or left > _TORCH_IMPORT_S):  # the import cannot be interrupted
        _int8_kernel()


class ExactMatrix:
    """An integer matrix applied to 0/1 vectors by the cheapest exact method; results in
    ``out_dtype``.

    Methods, by ``dtype``: ``int8`` (weights within int8 and row sums of ``|W|`` below
    2^31: an int8 x int8 -> int32 integer product, for large products), ``float32``
    (row sums below 2^24), ``float64`` (below 2^53), ``int64`` (otherwise). Every
    intermediate of each is an exact integer.

    ``part``: ``"positive"`` / ``"negative"`` applies only the matrix's positive / negative
    entries (the halves interval bounds use), without a whole copy of either.
    """

    def __init__(self, matrix: np.ndarray, out_dtype=np.int64, part: str | None = None):
        m = np.asarray(matrix, dtype=np.int64)
        keep = {None: lambda a: a, "positive": lambda a: np.maximum(a, 0), "negative": lambda a: np.minimum(a, 0)}[part]
        # one pass for the bound and the range, one to fill the transposed copies: a block at a time
        self.bound, lo, hi = 0, 0, 0
        for rows in _row_blocks(m) if m.size else ():
            block = keep(m[rows])
            self.bound = max(self.bound, int(np.abs(block).sum(axis=1).max()))
            lo, hi = min(lo, int(block.min())), max(hi, int(block.max()))
        self.dtype = np.float32 if self.bound < F32_EXACT else np.float64 if self.bound < F64_EXACT else np.int64
        self.out_dtype = out_dtype
        self.t = np.empty(m.shape[::-1], dtype=self.dtype)
        fits_int8 = m.size and -128 <= lo and hi <= 127 and self.bound < (1 << 31)
        self.t8 = np.empty(m.shape[::-1], dtype=np.int8) if fits_int8 else None
        for rows in _row_blocks(m):
            block = keep(m[rows]).T
            self.t[:, rows] = block
            if self.t8 is not None:
                self.t8[:, rows] = block
        self.int8_from = _INT8_MACS  # below this many multiply-adds the kernel's overhead dominates

    def __call__(self, x: np.ndarray) -> np.ndarray:
        flat = x.reshape(-1, x.shape[-1])
        macs = flat.shape[0] * self.t8.size if self.t8 is not None else 0
        if macs >= self.int8_from and ("torch" in sys.modules or macs >= _INT8_IMPORT_MACS) \
                and _int8_kernel() is not None:
            y = _int8_kernel()(np.ascontiguousarray(flat, dtype=np.int8), self.t8)
            return y.astype(self.out_dtype, copy=False).reshape(*x.shape[:-1], self.t8.shape[1])
        if self.dtype is np.int64:
            return (x.astype(np.int64, copy=False) @ self.t).astype(self.out_dtype, copy=False)
        # In blocks of rows: the float copy of the input and the float product stay in cache
        # and are reused, instead of a [T*B, n] float array that is written once and read once.
        out = np.empty((flat.shape[0], self.t.shape[1]), dtype=self.out_dtype)
        block = np.empty((min(_BLOCK_ROWS, flat.shape[0]), flat.shape[1]), dtype=self.dtype)
        for start in range(0, flat.shape[0], _BLOCK_ROWS):
            rows = block[: min(_BLOCK_ROWS, flat.shape[0] - start)]
            rows[...] = flat[start: start + len(rows)]
            out[start: start + len(rows)] = rows @ self.t
        return out.reshape(*x.shape[:-1], self.t.shape[1])


def _neuron_values(x, size: int, dtype) -> np.ndarray:
    return np.broadcast_to(np.asarray(x, dtype=dtype), (size,))


def _decay_values(d, size: int, dtype) -> tuple[Any, Any] | None:
    if d is None:
        return None
    arr = np.asarray(d, dtype=np.int64)
    if arr.ndim == 1:  # one pair for the whole layer: scalars multiply faster than broadcast rows
        return dtype(arr[0]), dtype(arr[1])
    return np.ascontiguousarray(arr[:, 0], dtype=dtype), np.ascontiguousarray(arr[:, 1], dtype=dtype)


def _max_num(d) -> int:
    return 0 if d is None else int(np.asarray(d, dtype=np.int64).reshape(-1, 2)[:, 0].max())


def _count_dtype(n_terms: int):
    """The narrowest integer type that holds a sum of ``n_terms`` 0/1 values (sums of
    int8 spikes run several times faster in a narrow accumulator than in int64)."""
    return np.int16 if n_terms < (1 << 15) else np.int32 if n_terms < (1 << 31) else np.int64


def count_spikes(spikes: np.ndarray, axis) -> np.ndarray:
    """Exact int64 sums of 0/1 spikes over ``axis``."""
    n_terms = int(np.prod([spikes.shape[a] for a in np.atleast_1d(axis)]))
    return spikes.sum(axis=axis, dtype=_count_dtype(n_terms)).astype(np.int64)


_INT32_LIMIT = 1 << 31
_INT64_LIMIT = 1 << 62


@dataclass(frozen=True)
class _LayerBounds:
    """Largest magnitudes one layer's arithmetic can reach (see :func:`value_dtype`)."""

    synaptic: int  # |W·x + b + R·s|
    current: int  # |i| (cuba_lif: accumulates over T steps)
    membrane: int  # |u| before the overflow policy, |v| * v_decay num, |i| * i_decay num


def _bounds(model: Model, layer) -> _LayerBounds:
    n = layer.neuron
    rec = row_bound(layer.recurrent) if layer.recurrent is not None else 0
    a = row_bound(layer.dense_weight()) + int(np.abs(layer.neuron_bias()).max(initial=0)) + rec
    i = a * model.time_steps if n.model == "cuba_lif" else a
    v = 1 << (n.v_bits - 1)
    # u = decay(v) + i before the overflow policy; wrap adds another 2^(bits-1) to it
    return _LayerBounds(synaptic=a, current=i,
                        membrane=max(2 * v + i, v * _max_num(n.v_decay), i * _max_num(n.i_decay)))


def value_dtype(bounds: Sequence[_LayerBounds]):
    """int32 when every value and product provably fits (half the memory traffic of
    int64 in the per-step updates), else int64."""
    worst = max(max(b.synaptic, b.current, b.membrane) for b in bounds)
    return np.int32 if worst < _INT32_LIMIT else np.int64


def layer_params(model: Model, widest: bool = False) -> tuple[list[LayerParams], type]:
    """Integer parameters of every layer, checked to stay inside the exact range, and the
    integer type that every value of the run provably fits in (int64 if ``widest``)."""
    bounds = [_bounds(model, layer) for layer in model.layers]
    for k, (layer, b) in enumerate(zip(model.layers, bounds)):
        if layer.neuron.model == "cuba_lif" and b.current >= CURRENT_LIMIT:
            raise ModelError(f"synaptic currents may reach {b.current}, beyond the exact "
                             f"int64 range of the reference simulator (2^48)", f"layers[{k}]")
        if b.synaptic >= _INT64_LIMIT:
            raise ModelError(f"synaptic input may reach {b.synaptic}, beyond the exact int64 range of the "
                             f"reference simulator (2^62)", f"layers[{k}]")
    dtype = np.int64 if widest else value_dtype(bounds)
    params = []
    for layer in model.layers:
        n = layer.neuron
        params.append(LayerParams(
            weight=ExactMatrix(layer.dense_weight(), dtype),
            bias=np.asarray(layer.neuron_bias(), dtype=dtype),
            recurrent=ExactMatrix(layer.recurrent, dtype) if layer.recurrent is not None else None,
            threshold=_neuron_values(n.threshold if n.fires else 0, n.size, dtype),
            v_reset=_neuron_values(n.v_reset, n.size, dtype),
            v_decay=_decay_values(n.v_decay, n.size, dtype),
            i_decay=_decay_values(n.i_decay, n.size, dtype),
            refractory=_neuron_values(n.refractory, n.size, dtype),
        ))
    return params, dtype


class ArraySequences:
    """Time series of domains whose values are numpy arrays (of numbers or of terms): the
    first axis is time; a delay shifts in the domain's zero spikes (delays act on spikes)."""

    def stack(self, items):
        return np.stack(items)

    def delay_time(self, seq, d):
        out = self.zero_spikes(seq)
        if d < seq.shape[0]:
            out[d:] = seq[: seq.shape[0] - d]
        return out


class NumpyOps(ArraySequences, OperatorOps[np.ndarray]):
    """Exact integer interpretation: ``dtype`` (int32 or int64) values, int8 spikes.

    The caller picks ``dtype`` so that no value or product can leave it
    (:func:`layer_params`); every operation keeps that type.
    """

    def __init__(self, dtype=np.int64):
        self.dtype = dtype

    def synapse(self, p, x):
        y = p.weight(x)
        return y + p.bias if p.bias.any() else y  # no bias (the common case): skip a pass over [T, B, n]

    def decay(self, x, decay, rounding):
        num, shift = decay
        if np.all(num == np.left_shift(1, shift)):
            return x
        if rounding == "floor":
            y = x * num
            y >>= shift  # arithmetic shift: floor division by 2^shift (in place on the fresh product)
            return y
        mag = np.abs(x) * num
        mag >>= shift
        return np.negative(mag, out=mag, where=x < 0)

    def overflow(self, u, bits, policy):
        half = 1 << (bits - 1)
        if policy == "saturate":
            return np.clip(u, -half, half - 1)
        return ((u + half) & ((1 << bits) - 1)) - half

    def fire(self, u, threshold, strict):
        return (u > threshold if strict else u >= threshold).view(np.int8)  # bool bytes are 0/1: no copy

    def select(self, mask, a, b):
        return np.where(mask.view(bool), a, b)

    def is_refractory(self, r):
        return r > 0

    def countdown(self, r, s, period):
        return np.where(s.view(bool), period, np.maximum(r - 1, 0))

    def zeros(self, batch, n):
        return np.zeros(batch + (n,), dtype=self.dtype)

    def zero_spikes(self, like):
        return np.zeros(like.shape, dtype=np.int8)


_OPS = {np.int32: NumpyOps(np.int32), np.int64: NumpyOps(np.int64)}


@dataclass
class SimResult:
    """What a batch of runs produced. Arrays are over the batch ``B``.

    ``prediction`` is ``-1`` where there is no decision; ``first_spike`` is ``-1``
    for an output neuron that never fired. ``layer_outputs[k]`` is layer ``k``'s
    ``[B, T, n]`` spikes (membranes for an ``li`` layer); ``membranes`` (when
    recorded) the ``[B, T, n]`` membranes after reset.
    """

    prediction: np.ndarray
    counts: np.ndarray
    first_spike: np.ndarray
    output_spikes: np.ndarray
    total_spikes: np.ndarray
    synops: np.ndarray
    layer_outputs: list[np.ndarray]
    membranes: list[np.ndarray] | None = None
    batched: bool = True

    def to_json(self) -> dict[str, Any]:
        """The ``simulate --json`` contract of DESIGN.md (lists over the batch when batched)."""
        def one(b: int) -> dict[str, Any]:
            return {
                "prediction": None if self.prediction[b] < 0 else int(self.prediction[b]),
                "counts": self.counts[b].tolist(),
                "first_spike": [None if t < 0 else int(t) for t in self.first_spike[b]],
                "output_spikes": self.output_spikes[b].astype(int).tolist(),
                "total_spikes": int(self.total_spikes[b]),
                "synops": int(self.synops[b]),
            }
        if not self.batched:
            return one(0)
        rows = [one(b) for b in range(len(self.prediction))]
        return {key: [r[key] for r in rows] for key in rows[0]} if rows else {
            k: [] for k in ("prediction", "counts", "first_spike", "output_spikes", "total_spikes", "synops")}


def check_raster(model: Model, raster: Any) -> tuple[np.ndarray, bool]:
    """Validate an input raster (``[T, n]`` or ``[B, T, n]`` of 0/1) and return it as
    ``[B, T, n]`` int8, plus whether it was batched."""
    arr = np.asarray(raster)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool):
        if np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise InputError(f"raster must hold integers 0/1, got dtype {arr.dtype}", "input")
    batched = arr.ndim == 3
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise InputError(f"raster must be [T, n] or [B, T, n], got shape {list(np.shape(raster))}", "input")
    _, T, n = arr.shape
    if T != model.time_steps or n != model.input.size:
        raise InputError(f"raster has T={T}, n={n}; the model expects T={model.time_steps}, "
                         f"n={model.input.size}", "input")
    if arr.size and (arr.min() < 0 or arr.max() > 1):
        raise InputError("raster entries must be 0 or 1", "input")
    return arr.astype(np.int8), batched


def single_raster(model: Model, raster: Any, what: str, *, error: type = InputError,
                  path: str = "input") -> np.ndarray:
    """:func:`check_raster` for one raster ``[T, n]``, returned as int8 ``[T, n]``; a
    batch raises ``error("<what> [T, n], not a batch", path)``."""
    arr, batched = check_raster(model, raster)
    if batched:
        raise error(f"{what} [T, n], not a batch", path)
    return arr[0]


@lru_cache(maxsize=16)
def _plan(model: Model) -> tuple[NumpyOps, list[LayerParams]]:
    params, dtype = layer_params(model)
    return _OPS[dtype], params


def synops(model: Model, raster_tbn: np.ndarray, outputs: Sequence[np.ndarray]) -> np.ndarray:
    """Synaptic events within the ``T`` steps: every input or neuron spike that is
    delivered before the run ends, times its non-zero outgoing synapses."""
    T = model.time_steps
    total = np.zeros(raster_tbn.shape[1], dtype=np.int64)
    x = raster_tbn
    for layer, out in zip(model.layers, outputs):
        fanout = layer.fanout()
        if layer.delay < T:
            total += count_spikes(x[: T - layer.delay], axis=0) @ fanout
        if layer.recurrent is not None and layer.neuron.fires:
            total += count_spikes(out[: T - 1], axis=0) @ (layer.recurrent != 0).sum(axis=0)
        x = out
    return total


def _batch_major(seq: np.ndarray, spikes: bool) -> np.ndarray:
    """``[T, B, n]`` -> ``[B, T, n]``; membranes as int64 whatever type the run used."""
    out = seq.transpose(1, 0, 2)
    return out if spikes else out.astype(np.int64)


_STEP_OBJECT_BYTES = 256  # per layer and step, whatever the batch: the per-step arrays' own overhead


def run_bytes(model: Model, batch: int, record_membranes: bool = False) -> int:
    """About the peak bytes :func:`simulate` takes for ``batch`` rasters, from the declared
    sizes (int64 values assumed): the input and its copies, and per layer its synaptic
    input, its spikes and, if recorded, its membranes over all ``T`` steps."""
    T = model.time_steps
    per_step = 3 * model.input.size  # the raster, its int8 copy and its time-major copy
    for layer in model.layers:
        if layer.delay:  # a delayed copy of the input
            per_step += layer.in_size
        per_step += layer.out_size * (2 * 8 + 2 + (16 if record_membranes else 0))
    return batch * T * per_step + T * len(model.layers) * _STEP_OBJECT_BYTES


def simulation_batch(model: Model, wanted: int, what: str = "simulating a raster") -> int:
    """The most rasters (at most ``wanted``) one :func:`simulate` call may take within the
    memory budget's share for a batch; refused when even one raster does not fit."""
    return batch_within_budget(run_bytes(model, 1), wanted, f"{what} of {model.time_steps} steps")


def simulate(model: Model, raster: Any, record_membranes: bool = False) -> SimResult:
    """Run ``model`` on an input raster ``[T, n]`` or ``[B, T, n]`` of 0/1 spikes (refused,
    :class:`~verisnn.errors.ResourceError`, when the run would not fit the memory budget)."""
    arr, batched = check_raster(model, raster)
    require_memory(run_bytes(model, arr.shape[0], record_membranes),
                   f"simulating {arr.shape[0]} raster(s) of {model.time_steps} steps")
    x = np.ascontiguousarray(arr.transpose(1, 0, 2))  # [T, B, n]
    ops, params = _plan(model)
    outputs, membranes = semantics.run_layers(ops, model, params, x, (x.shape[1],), record_membranes)
    return sim_result(model, x, outputs, membranes, batched)


def sim_result(model: Model, x: np.ndarray, outputs: Sequence[np.ndarray],
               membranes: Sequence[np.ndarray] | None = None, batched: bool = True) -> SimResult:
    """The :class:`SimResult` of runs on the ``[T, B, n]`` inputs ``x`` whose layers
    produced the ``[T, B, n]`` ``outputs`` (and, if recorded, ``membranes``)."""
    last = outputs[-1]
    spiking_last = last if model.layers[-1].neuron.fires else np.zeros(last.shape, dtype=np.int8)
    total = np.zeros(x.shape[1], dtype=np.int64)
    for out, layer in zip(outputs, model.layers):
        if layer.neuron.fires:
            total += count_spikes(out, axis=(0, 2))
    return SimResult(
        prediction=decide(model.readout, last),
        counts=spike_counts(spiking_last),
        first_spike=first_spike_times(spiking_last),
        output_spikes=spiking_last.transpose(1, 0, 2),
        total_spikes=total,
        synops=synops(model, x, outputs),
        layer_outputs=[_batch_major(o, layer.neuron.fires) for o, layer in zip(outputs, model.layers)],
        membranes=None if membranes is None else [_batch_major(m, False) for m in membranes],
        batched=batched,
    )


def step_network(model: Model, raster: Any) -> list[np.ndarray]:
    """Run ``model`` step by step through :func:`semantics.network_step` (the
    transition-system view); returns each layer's ``[B, T, n]`` outputs. Slower than
    :func:`simulate`; it exists so that the two traversal orders can be compared."""
    arr, _ = check_raster(model, raster)
    ops, params = _plan(model)
    state = semantics.initial_network_state(ops, model, (arr.shape[0],))
    per_step = []
    for t in range(model.time_steps):
        state, outs = semantics.network_step(ops, model, params, state, arr[:, t])
        per_step.append(outs)
    return [np.stack([step[k] for step in per_step], axis=1) for k in range(len(model.layers))]
