"""The kernel's own reading of a model document (docs/model-format.md, normal form) and its
own simulation of semantics v1 (docs/semantics.md), step-major and batched over rasters.

Everything is int64 numpy. ``read_network`` refuses what would leave int64: a row bound
``Σ|W| + |b| + Σ|R|`` of ``2^62`` or more, and a ``cuba_lif`` current that could reach
``2^48`` (its decay product ``|i| · num`` must stay below ``2^62``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np

from .guard import NO_LIMITS, Limits

FORMAT = "verisnn.model/1"
MAX_ENTRY = 1 << 40  # |weight|, |bias| < 2^40 (docs/model-format.md)
ROW_LIMIT = 1 << 62
CURRENT_LIMIT = 1 << 48
MODELS = ("if", "lif", "cuba_lif", "li")
READOUTS = ("spike_count", "first_spike", "membrane_final", "membrane_max")
FLOAT_EXACT = 1 << 53  # 0/1 inputs: every partial sum of W·x is a subset sum of a row, exact in float64 below this


def document_sha256(doc: dict) -> str:
    """SHA-256 of the canonical JSON of a document (docs/model-format.md "Normal form and identity")."""
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def raster_sha256(raster: np.ndarray) -> str:
    """SHA-256 of a raster's int8 bytes in C order."""
    return hashlib.sha256(np.ascontiguousarray(np.asarray(raster, dtype=np.int8)).tobytes()).hexdigest()


def row_bounds(M: np.ndarray) -> np.ndarray:
    """Per row, ``Σ|M|`` as exact Python ints: int64 sums over blocks of 2^22 columns (entries below
    2^40, so each block's sum is below 2^62), the blocks added as Python ints."""
    total = np.zeros(M.shape[0], dtype=object)
    for lo in range(0, M.shape[1], 1 << 22):
        total += np.abs(M[:, lo: lo + (1 << 22)]).sum(axis=1)
    return total


def _transposed(M: np.ndarray) -> np.ndarray:
    """``M.T`` for :func:`_product`: float64 when every row sum of ``|M|`` is below 2^53 (then every
    partial sum of a product with 0/1 inputs is a subset sum of a row, an exact float64), else int64."""
    exact_in_float = int(row_bounds(M).max(initial=0)) < FLOAT_EXACT
    return np.ascontiguousarray(M.T, dtype=np.float64 if exact_in_float else np.int64)


def _product(x: np.ndarray, Mt: np.ndarray) -> np.ndarray:
    if Mt.dtype == np.float64:
        return (x.astype(np.float64) @ Mt).astype(np.int64)  # exact integers (see _transposed)
    return x.astype(np.int64) @ Mt


@dataclass
class Layer:
    """One layer as dense int64 arrays; neuron parameters are one value per neuron."""

    W: np.ndarray  # [n_out, n_in]; a conv2d layer's dense matrix
    b: np.ndarray  # [n_out]
    R: np.ndarray | None  # [n_out, n_out] or None
    delay: int
    model: str
    fires: bool
    n_in: int
    n_out: int
    threshold: np.ndarray | None
    strict: bool  # fire_when ">"
    v_decay: tuple[np.ndarray, np.ndarray]  # (num, shift), per neuron
    i_decay: tuple[np.ndarray, np.ndarray] | None
    rounding: str
    reset: str
    v_reset: np.ndarray
    refractory: np.ndarray
    v_bits: int
    on_overflow: str
    fanout: np.ndarray = field(init=False)  # [n_in]: non-zero synapses out of each input
    rec_fanout: np.ndarray | None = field(init=False)  # [n_out]: non-zero recurrent synapses out of each neuron

    def __post_init__(self):
        self.fanout = np.count_nonzero(self.W, axis=0).astype(np.int64)
        self.rec_fanout = None if self.R is None else np.count_nonzero(self.R, axis=0).astype(np.int64)
        self._Wt, self._Rt = _transposed(self.W), None if self.R is None else _transposed(self.R)

    def synaptic_input(self, delivered: np.ndarray, own: np.ndarray) -> np.ndarray:
        """``a = W · x[t - d] + b (+ R · s[t-1])`` for 0/1 ``delivered`` [B, n_in] and ``own`` [B, n_out]."""
        a = _product(delivered, self._Wt) + self.b
        if self.R is not None and self.fires:
            a += _product(own, self._Rt)
        return a


@dataclass
class Network:
    T: int
    n_in: int
    layers: list[Layer]
    readout_type: str
    ties: str
    encoding: dict | None

    @property
    def n_out(self) -> int:
        return self.layers[-1].n_out


# ----------------------------------------------------------------------------- reading


def _int(x, what: str, lo: int | None = None, hi: int | None = None) -> int:
    if type(x) is not int:  # bool is not an integer here, nor 1.0
        raise ValueError(f"{what}: expected an integer, got {x!r}")
    if (lo is not None and x < lo) or (hi is not None and x > hi):
        raise ValueError(f"{what}: {x} outside [{lo}, {hi}]")
    return x


def _int_array(x, ndim: int, what: str) -> np.ndarray:
    """A rectangular nested list of integers of depth ``ndim``, each ``|v| < 2^40``."""
    shape, level = [], [x]
    for _ in range(ndim):
        if not all(isinstance(v, list) for v in level):
            raise ValueError(f"{what}: expected a {ndim}-dimensional array of integers")
        lengths = {len(v) for v in level}
        if len(lengths) != 1 or 0 in lengths:
            raise ValueError(f"{what}: not a rectangular, non-empty array")
        shape.append(lengths.pop())
        level = [e for v in level for e in v]
    if not all(type(v) is int and -MAX_ENTRY < v < MAX_ENTRY for v in level):
        raise ValueError(f"{what}: entries must be integers of magnitude below 2^40")
    return np.array(level, dtype=np.int64).reshape(shape)


def _per_neuron(x, n: int, what: str, lo: int, hi: int) -> np.ndarray:
    values = x if isinstance(x, list) else [x]
    if isinstance(x, list) and len(x) != n:
        raise ValueError(f"{what}: {len(x)} values for {n} neurons")
    return np.broadcast_to(np.array([_int(v, what, lo, hi) for v in values], dtype=np.int64), (n,)).copy()


def _decay(x, n: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    """``[num, shift]`` or one pair per neuron; ``0 <= shift <= 14``, ``0 <= num <= 2^shift``."""
    if x is None and what.endswith("v_decay"):
        x = [1, 0]  # null means no leak (docs/model-format.md)
    pairs = x if isinstance(x, list) and x and isinstance(x[0], list) else [x]
    if len(pairs) not in (1, n):
        raise ValueError(f"{what}: {len(pairs)} pairs for {n} neurons")
    nums, shifts = [], []
    for pair in pairs:
        if not isinstance(pair, list) or len(pair) != 2:
            raise ValueError(f"{what}: expected [num, shift], got {pair!r}")
        shift = _int(pair[1], f"{what} shift", 0, 14)
        nums.append(_int(pair[0], f"{what} num", 0, 1 << shift))
        shifts.append(shift)
    as_array = lambda v: np.broadcast_to(np.array(v, dtype=np.int64), (n,)).copy()  # noqa: E731
    return as_array(nums), as_array(shifts)


def _choice(x, options, what: str) -> str:
    if x not in options or not isinstance(x, str):
        raise ValueError(f"{what}: {x!r} is not one of {', '.join(options)}")
    return x


def conv_dense(weight: np.ndarray, input_shape, stride, padding, limits: Limits) -> np.ndarray:
    """The dense ``[oc·oh·ow, ic·h·w]`` matrix of a conv2d layer (docs/semantics.md "Convolution"):
    ``out[c, y, x] = Σ W[c][c'][dy][dx] · in[c', y·sh - ph + dy, x·sw - pw + dx]``, channel-major."""
    oc, ic, kh, kw = weight.shape
    _, h, w = input_shape
    (sh, sw), (ph, pw) = stride, padding
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    if oh < 1 or ow < 1:
        raise ValueError("conv2d: the kernel does not fit the padded input")
    limits.need(16 * oc * oh * ow * ic * h * w, "a conv2d layer's dense matrix and its transposed copy")
    dense = np.zeros((oc * oh * ow, ic * h * w), dtype=np.int64)
    out_channels, in_channels = np.arange(oc) * (oh * ow), np.arange(ic) * (h * w)
    for y in range(oh):
        limits.tick()
        for x in range(ow):
            for dy in range(kh):
                for dx in range(kw):
                    iy, ix = y * sh - ph + dy, x * sw - pw + dx
                    if 0 <= iy < h and 0 <= ix < w:  # outside the input: zero padding
                        rows, cols = out_channels + y * ow + x, in_channels + iy * w + ix
                        dense[rows[:, None], cols[None, :]] = weight[:, :, dy, dx]
    return dense


def _layer(doc: dict, k: int, n_in: int, T: int, last: bool, limits: Limits) -> Layer:
    where = f"layers[{k}]"
    if not isinstance(doc, dict):
        raise ValueError(f"{where}: expected an object")
    kind = _choice(doc.get("type"), ("dense", "conv2d"), f"{where}.type")
    if kind == "dense":
        W = _int_array(doc.get("weight"), 2, f"{where}.weight")
        n_out = W.shape[0]
        bias = _int_array(doc.get("bias"), 1, f"{where}.bias")
        if bias.shape != (n_out,):
            raise ValueError(f"{where}.bias: {bias.size} values for {n_out} neurons")
    else:
        kernel = _int_array(doc.get("weight"), 4, f"{where}.weight")
        shape = [_int(v, f"{where}.input_shape", 1) for v in _list(doc.get("input_shape"), 3, f"{where}.input_shape")]
        stride = [_int(v, f"{where}.stride", 1) for v in _list(doc.get("stride"), 2, f"{where}.stride")]
        padding = [_int(v, f"{where}.padding", 0) for v in _list(doc.get("padding"), 2, f"{where}.padding")]
        if shape[0] != kernel.shape[1]:
            raise ValueError(f"{where}.input_shape: {shape[0]} channels, the kernel takes {kernel.shape[1]}")
        if shape[0] * shape[1] * shape[2] != n_in:
            raise ValueError(f"{where}.input_shape: {shape} holds {shape[0] * shape[1] * shape[2]} inputs, "
                             f"the layer below gives {n_in}")
        W = conv_dense(kernel, shape, stride, padding, limits)
        n_out = W.shape[0]
        channel_bias = _int_array(doc.get("bias"), 1, f"{where}.bias")
        if channel_bias.shape != (kernel.shape[0],):
            raise ValueError(f"{where}.bias: {channel_bias.size} values for {kernel.shape[0]} output channels")
        bias = np.repeat(channel_bias, n_out // kernel.shape[0])  # one per channel, to each of its positions
    if W.shape[1] != n_in:
        raise ValueError(f"{where}: takes {W.shape[1]} inputs, the layer below gives {n_in}")
    R = None if doc.get("recurrent") is None else _int_array(doc["recurrent"], 2, f"{where}.recurrent")
    if R is not None and R.shape != (n_out, n_out):
        raise ValueError(f"{where}.recurrent: shape {list(R.shape)}, expected [{n_out}, {n_out}]")
    delay = _int(doc.get("delay"), f"{where}.delay", 0, 1024)

    nd, nw = doc.get("neuron"), f"{where}.neuron"
    if not isinstance(nd, dict):
        raise ValueError(f"{nw}: expected an object")
    model = _choice(nd.get("model"), MODELS, f"{nw}.model")
    fires = model != "li"
    if not fires and not last:
        raise ValueError(f"{nw}.model: an 'li' layer may only be the last layer")
    bits = _int(nd.get("v_bits"), f"{nw}.v_bits", 2, 48)
    top = (1 << (bits - 1)) - 1
    threshold = None
    if fires:
        threshold = _per_neuron(nd.get("threshold"), n_out, f"{nw}.threshold", 0, top)
    elif nd.get("threshold") is not None:
        raise ValueError(f"{nw}.threshold: must be null for 'li'")
    i_decay = None
    if model == "cuba_lif":
        i_decay = _decay(nd.get("i_decay"), n_out, f"{nw}.i_decay")
    elif nd.get("i_decay") is not None:
        raise ValueError(f"{nw}.i_decay: must be null for {model!r}")
    row = row_bounds(W) + np.abs(bias) + (0 if R is None else row_bounds(R))
    bound = int(row.max())
    if bound >= ROW_LIMIT:
        raise ValueError(f"{where}: a row bound Σ|W| + |b| + Σ|R| of {bound} is 2^62 or more")
    if model == "cuba_lif" and bound * T >= CURRENT_LIMIT:
        raise ValueError(f"{where}: the cuba_lif current could reach {bound} · {T} >= 2^48")
    return Layer(W=W, b=bias, R=R, delay=delay, model=model, fires=fires, n_in=n_in, n_out=n_out,
                 threshold=threshold, strict=_choice(nd.get("fire_when"), (">=", ">"), f"{nw}.fire_when") == ">",
                 v_decay=_decay(nd.get("v_decay"), n_out, f"{nw}.v_decay"), i_decay=i_decay,
                 rounding=_choice(nd.get("rounding"), ("floor", "toward_zero"), f"{nw}.rounding"),
                 reset=_choice(nd.get("reset"), ("subtract", "to_value", "none"), f"{nw}.reset"),
                 v_reset=_per_neuron(nd.get("v_reset"), n_out, f"{nw}.v_reset", -top - 1, top),
                 refractory=_per_neuron(nd.get("refractory"), n_out, f"{nw}.refractory", 0, 100_000),
                 v_bits=bits, on_overflow=_choice(nd.get("on_overflow"), ("saturate", "wrap"), f"{nw}.on_overflow"))


def _list(x, n: int, what: str) -> list:
    if not isinstance(x, list) or len(x) != n:
        raise ValueError(f"{what}: expected a list of {n} integers, got {x!r}")
    return x


def read_network(doc: dict, limits: Limits = NO_LIMITS) -> Network:
    """A :class:`Network` from a model document in normal form (docs/model-format.md)."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"not a model document of format {FORMAT!r}")
    T = _int(doc.get("time_steps"), "time_steps", 1, 100_000)
    inp = doc.get("input")
    if not isinstance(inp, dict):
        raise ValueError("input: expected an object")
    n_in = _int(inp.get("size"), "input.size", 1)
    docs = doc.get("layers")
    if not isinstance(docs, list) or not docs:
        raise ValueError("layers: expected a non-empty list")
    layers, n = [], n_in
    for k, layer_doc in enumerate(docs):
        limits.tick()
        layers.append(_layer(layer_doc, k, n, T, k == len(docs) - 1, limits))
        n = layers[-1].n_out
    readout = doc.get("readout")
    if not isinstance(readout, dict):
        raise ValueError("readout: expected an object")
    kind = _choice(readout.get("type"), READOUTS, "readout.type")
    if kind.startswith("membrane") == layers[-1].fires:
        raise ValueError(f"readout.type: {kind!r} does not fit a last layer of model {layers[-1].model!r}")
    encoding = inp.get("encoding")
    if encoding is not None and not isinstance(encoding, dict):
        raise ValueError("input.encoding: expected an object or null")
    return Network(T=T, n_in=n_in, layers=layers, readout_type=kind,
                   ties=_choice(readout.get("ties"), ("invalid", "lowest_index"), "readout.ties"), encoding=encoding)


# ----------------------------------------------------------------------------- one step


@dataclass
class LayerState:
    v: np.ndarray  # [B, n] membrane after reset and refractory hold
    i: np.ndarray  # [B, n] current (cuba_lif)
    r: np.ndarray  # [B, n] refractory steps left
    s: np.ndarray  # [B, n] int8 spikes of the last step
    queue: list  # delay d < T: the d most recent inputs not yet delivered, oldest first


@dataclass
class State:
    t: int
    layers: list[LayerState]
    outputs: list  # this step's per-layer outputs: int8 spikes, or int64 u for li
    overflow: np.ndarray  # [B] bool: some pre-overflow u of this step lay outside its v_bits range
    synops: np.ndarray  # [B] int64: synaptic events delivered at this step


def select(state: State, idx) -> State:
    """The states ``idx`` of a batch (rows picked, or repeated, as ``idx`` says)."""
    return State(t=state.t, layers=[LayerState(v=ls.v[idx], i=ls.i[idx], r=ls.r[idx], s=ls.s[idx],
                                               queue=[q[idx] for q in ls.queue]) for ls in state.layers],
                 outputs=[], overflow=state.overflow[idx], synops=state.synops[idx])


def initial_state(net: Network, batch: int, limits: Limits = NO_LIMITS) -> State:
    """All states 0 before the first step; an empty input ``x[t'] = 0`` for ``t' < 0``."""
    layers = []
    for layer in net.layers:
        queued = layer.delay if layer.delay < net.T else 0  # a delay >= T never delivers: nothing to keep
        limits.need(batch * (32 * layer.n_out + queued * layer.n_in), "the network's state")
        zero = lambda: np.zeros((batch, layer.n_out), dtype=np.int64)  # noqa: E731
        layers.append(LayerState(v=zero(), i=zero(), r=zero(), s=np.zeros((batch, layer.n_out), dtype=np.int8),
                                 queue=[np.zeros((batch, layer.n_in), dtype=np.int8) for _ in range(queued)]))
    return State(t=0, layers=layers, outputs=[], overflow=np.zeros(batch, dtype=bool),
                 synops=np.zeros(batch, dtype=np.int64))




def decay(x: np.ndarray, num: np.ndarray, shift: np.ndarray, rounding: str) -> np.ndarray:
    """``round(x · num / 2^shift)`` (docs/semantics.md "Decay and rounding")."""
    if rounding == "floor":
        return (x * num) >> shift  # numpy's >> on int64 is an arithmetic shift: the floor
    return np.sign(x) * ((np.abs(x) * num) >> shift)


def overflow(u: np.ndarray, bits: int, policy: str) -> np.ndarray:
    """Fit ``u`` in ``bits`` signed bits (docs/semantics.md "Overflow")."""
    half = 1 << (bits - 1)
    if policy == "saturate":
        return np.clip(u, -half, half - 1)
    return np.mod(u + half, 2 * half) - half  # np.mod with a positive divisor is non-negative


def step(net: Network, state: State, x: np.ndarray) -> State:
    """One step of the whole network on input spikes ``x`` [B, n_in] (docs/semantics.md
    "The update, per step, in order"; step-major view with per-layer delay queues)."""
    if state.t >= net.T:
        raise ValueError(f"the run has only {net.T} steps")
    B = x.shape[0]
    new_layers, outputs = [], []
    flags, synops = np.zeros(B, dtype=bool), np.zeros(B, dtype=np.int64)
    for layer, ls in zip(net.layers, state.layers):
        queue = ls.queue
        if layer.delay == 0:
            delivered = x
        elif layer.delay >= net.T:
            delivered = np.zeros_like(x)
        else:
            delivered, queue = queue[0], queue[1:] + [x]
        synops += delivered.astype(np.int64) @ layer.fanout  # delivered at step t < T: counted
        if layer.R is not None and layer.fires:
            synops += ls.s.astype(np.int64) @ layer.rec_fanout
        a = layer.synaptic_input(delivered, ls.s)
        i = decay(ls.i, *layer.i_decay, layer.rounding) + a if layer.model == "cuba_lif" else a
        raw = decay(ls.v, *layer.v_decay, layer.rounding) + i
        half = 1 << (layer.v_bits - 1)
        flags |= ((raw < -half) | (raw > half - 1)).any(axis=1)
        u = overflow(raw, layer.v_bits, layer.on_overflow)
        if not layer.fires:
            new_layers.append(LayerState(v=u, i=i, r=ls.r, s=ls.s, queue=queue))
            outputs.append(u)
            continue  # li is the last layer
        f = (u > layer.threshold) if layer.strict else (u >= layer.threshold)
        held = ls.r > 0
        s = f & ~held
        if layer.reset == "subtract":
            v = u - layer.threshold * s
        elif layer.reset == "to_value":
            v = np.where(s, layer.v_reset, u)
        else:
            v = u
        v = np.where(held, layer.v_reset, v)
        r = np.where(s, layer.refractory, np.maximum(ls.r - 1, 0))
        x = s.astype(np.int8)
        new_layers.append(LayerState(v=v, i=i, r=r, s=x, queue=queue))
        outputs.append(x)
    return State(t=state.t + 1, layers=new_layers, outputs=outputs, overflow=flags, synops=synops)


# ----------------------------------------------------------------------------- a whole run


@dataclass
class Run:
    """What runs on a batch of rasters produced (docs/semantics.md "What a simulation reports")."""

    rasters: np.ndarray  # [B, T, n_in] int8, the inputs
    outputs: np.ndarray  # [B, T, n_out]: the output layer's spikes (int8), or its u (int64) for li
    total_spikes: np.ndarray  # [B] neuron spikes of all layers
    synops: np.ndarray  # [B]
    overflow: np.ndarray  # [B] bool: some pre-overflow u, any layer, any step, outside its range
    layer_spikes: list  # per layer [B, T, n] int8 (zeros for li)
    membranes: list | None = None  # per layer [B, T, n] v after reset, when recorded


def check_rasters(net: Network, rasters) -> np.ndarray:
    """``[T, n]`` or ``[B, T, n]`` of 0/1 as ``[B, T, n]`` int8; ValueError otherwise."""
    arr = np.asarray(rasters)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1:] != (net.T, net.n_in):
        raise ValueError(f"rasters of shape {list(np.shape(rasters))}; the model takes [B, {net.T}, {net.n_in}]")
    if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool) or (arr.size and not
                                                                           ((arr == 0) | (arr == 1)).all()):
        raise ValueError("raster entries must be integers 0 or 1")
    return arr.astype(np.int8)


def run(net: Network, rasters, limits: Limits = NO_LIMITS, record_membranes: bool = False) -> Run:
    """Run ``net`` on a batch of rasters for its ``T`` steps, step by step."""
    x = check_rasters(net, rasters)
    B, T = x.shape[0], net.T
    width = sum(layer.n_out for layer in net.layers)
    limits.need(B * T * (width + 8 * net.n_out + (8 * width if record_membranes else 0)), "recording the runs")
    spikes = [np.zeros((B, T, layer.n_out), dtype=np.int8) for layer in net.layers]
    membranes = [np.zeros((B, T, layer.n_out), dtype=np.int64) for layer in net.layers] if record_membranes else None
    last = net.layers[-1]
    outputs = spikes[-1] if last.fires else np.zeros((B, T, last.n_out), dtype=np.int64)
    synops, flags = np.zeros(B, dtype=np.int64), np.zeros(B, dtype=bool)
    state = initial_state(net, B, limits)
    for t in range(T):
        limits.tick()
        state = step(net, state, x[:, t])
        synops += state.synops
        flags |= state.overflow
        for k, (layer, out) in enumerate(zip(net.layers, state.outputs)):
            if layer.fires:
                spikes[k][:, t] = out
            else:
                outputs[:, t] = out
            if record_membranes:
                membranes[k][:, t] = state.layers[k].v
    total = sum(s.sum(axis=(1, 2), dtype=np.int64) for s, layer in zip(spikes, net.layers) if layer.fires)
    return Run(rasters=x, outputs=outputs, total_spikes=np.zeros(B, dtype=np.int64) + total, synops=synops,
               overflow=flags, layer_spikes=spikes, membranes=membranes)
