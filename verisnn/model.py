"""The model: layers, neurons, input and readout of model format v1.

One small frozen dataclass per primitive, validated at construction, in the
style of NIR. All numbers are Python ints (or tuples of ints, one per neuron).
The equations these parameters feed are in :mod:`verisnn.semantics`, which is
the only place the network update is written.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import numpy as np

from .errors import ModelError
from .limits import check_deadline, human_bytes, require_memory

NEURON_MODELS = ("if", "lif", "cuba_lif", "li")
FIRE_WHEN = (">=", ">")
ROUNDINGS = ("floor", "toward_zero")
RESETS = ("subtract", "to_value", "none")
OVERFLOWS = ("saturate", "wrap")
READOUTS = ("spike_count", "first_spike", "membrane_final", "membrane_max")
TIES = ("invalid", "lowest_index")
MAX_V_BITS = 48  # keeps every product of the exact simulator inside int64
MAX_DECAY_SHIFT = 14
MAX_REFRACTORY = 100_000  # no longer than the longest run (time_steps <= 100000); keeps counters in int64
# budgeted per entry of a conv2d layer's dense matrix: its int64 entries and up to three exact
# products' copies (simulator.ExactMatrix: float64 and int8), the simulator's and the interval
# bounds' positive and negative halves
DENSE_ENTRY_BYTES = 8 + 3 * (8 + 1)


def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _int(x: Any, path: str) -> int:
    if not _is_int(x):
        raise ModelError(f"expected an integer, got {type(x).__name__} {x!r}", path)
    return int(x)


def _per_neuron(x: Any, size: int, path: str) -> int | tuple[int, ...]:
    """A scalar int, or a list with one int per neuron."""
    if isinstance(x, (list, tuple, np.ndarray)):
        vals = tuple(_int(v, f"{path}[{k}]") for k, v in enumerate(x))
        if len(vals) != size:
            raise ModelError(f"has {len(vals)} values, expected one per neuron ({size})", path)
        return vals
    return _int(x, path)


def _decay(x: Any, size: int, path: str) -> tuple | None:
    """``[num, shift]``, or a list of such pairs, one per neuron."""
    if x is None:
        return None
    if not isinstance(x, (list, tuple)) or len(x) == 0:
        raise ModelError("expected [num, shift] or a list of [num, shift] pairs", path)
    if isinstance(x[0], (list, tuple)):
        if len(x) != size:
            raise ModelError(f"has {len(x)} pairs, expected one per neuron ({size})", path)
        return tuple(_decay_pair(p, f"{path}[{k}]") for k, p in enumerate(x))
    return _decay_pair(x, path)


def _decay_pair(p: Any, path: str) -> tuple[int, int]:
    if not isinstance(p, (list, tuple)) or len(p) != 2:
        raise ModelError("expected a pair [num, shift]", path)
    num, shift = _int(p[0], f"{path}[0]"), _int(p[1], f"{path}[1]")
    if not 0 <= shift <= MAX_DECAY_SHIFT:
        raise ModelError(f"shift {shift} outside [0, {MAX_DECAY_SHIFT}]", f"{path}[1]")
    if not 0 <= num <= (1 << shift):
        raise ModelError(f"num {num} outside [0, 2^shift = {1 << shift}] (a decay never amplifies)", f"{path}[0]")
    return (num, shift)


def _choice(x: Any, options: Sequence[str], path: str) -> str:
    if x not in options:
        raise ModelError(f"{x!r} is not one of {', '.join(map(repr, options))}", path)
    return x


def _values(x: int | tuple) -> tuple[int, ...]:
    return x if isinstance(x, tuple) else (x,)


@dataclass(frozen=True)
class Neuron:
    r"""The neuron model of one layer (semantics v1, see :mod:`verisnn.semantics`).

    .. math::
        i[t] &= \mathrm{decay}(i[t-1], i_{decay}) + a[t] \quad (\text{cuba\_lif; else } i[t] = a[t]) \\
        u &= \mathrm{ovf}_{v\_bits}(\mathrm{decay}(v[t-1], v_{decay}) + i[t]) \\
        s[t] &= [u \ge \theta] \ (\text{or } u > \theta),\ 0 \text{ while refractory} \\
        v[t] &= u - \theta s[t] \ |\ v_{reset} \text{ where } s[t] \ |\ u

    ``decay(x, [num, shift]) = round(x * num / 2**shift)`` with ``rounding``
    ``floor`` or ``toward_zero``. ``size`` is the number of neurons, used to check
    per-neuron lists.
    """

    size: int
    model: str = "lif"
    threshold: int | tuple[int, ...] | None = 1
    fire_when: str = ">="
    v_decay: tuple | None = (1, 0)
    i_decay: tuple | None = None
    rounding: str = "floor"
    reset: str = "subtract"
    v_reset: int | tuple[int, ...] = 0
    refractory: int | tuple[int, ...] = 0
    v_bits: int = 24
    on_overflow: str = "saturate"

    def __post_init__(self):
        p = "neuron"
        _choice(self.model, NEURON_MODELS, f"{p}.model")
        _choice(self.fire_when, FIRE_WHEN, f"{p}.fire_when")
        _choice(self.rounding, ROUNDINGS, f"{p}.rounding")
        _choice(self.reset, RESETS, f"{p}.reset")
        _choice(self.on_overflow, OVERFLOWS, f"{p}.on_overflow")
        bits = _int(self.v_bits, f"{p}.v_bits")
        if not 2 <= bits <= MAX_V_BITS:
            raise ModelError(f"{bits} outside [2, {MAX_V_BITS}]", f"{p}.v_bits")
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731 - frozen dataclass
        v_decay = _decay(self.v_decay, self.size, f"{p}.v_decay")
        set_("v_decay", (1, 0) if v_decay is None else v_decay)
        set_("i_decay", _decay(self.i_decay, self.size, f"{p}.i_decay"))
        if self.model == "cuba_lif" and self.i_decay is None:
            raise ModelError("a cuba_lif neuron needs i_decay", f"{p}.i_decay")
        if self.model != "cuba_lif" and self.i_decay is not None:
            raise ModelError(f"only cuba_lif has a current; {self.model!r} must have i_decay null", f"{p}.i_decay")
        if self.model == "if" and self.v_decay != (1, 0):
            decays = self.v_decay if isinstance(self.v_decay[0], tuple) else (self.v_decay,)
            if any(num != 1 << shift for num, shift in decays):
                raise ModelError("an 'if' neuron does not leak: v_decay must be [1, 0] or null", f"{p}.v_decay")
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        set_("v_reset", _per_neuron(self.v_reset, self.size, f"{p}.v_reset"))
        for v in _values(self.v_reset):
            if not lo <= v <= hi:
                raise ModelError(f"{v} does not fit in {bits} signed bits", f"{p}.v_reset")
        set_("refractory", _per_neuron(self.refractory, self.size, f"{p}.refractory"))
        if any(not 0 <= r <= MAX_REFRACTORY for r in _values(self.refractory)):
            raise ModelError(f"must be in [0, {MAX_REFRACTORY}]", f"{p}.refractory")
        if self.model == "li":
            if self.threshold is not None:
                raise ModelError("an 'li' neuron never fires: threshold must be null", f"{p}.threshold")
        else:
            if self.threshold is None:
                raise ModelError(f"a {self.model!r} neuron needs a threshold", f"{p}.threshold")
            set_("threshold", _per_neuron(self.threshold, self.size, f"{p}.threshold"))
            for th in _values(self.threshold):
                if not 0 <= th <= hi:
                    raise ModelError(f"{th} outside [0, 2^(v_bits-1)-1 = {hi}]", f"{p}.threshold")

    @property
    def fires(self) -> bool:
        return self.model != "li"

    @property
    def v_range(self) -> tuple[int, int]:
        return -(1 << (self.v_bits - 1)), (1 << (self.v_bits - 1)) - 1

    @property
    def max_refractory(self) -> int:
        return max(_values(self.refractory))


def _matrix(x: Any, ndim: int, path: str) -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=object)
    except Exception:  # ragged nested lists
        raise ModelError("is not a rectangular array", path) from None
    if arr.ndim != ndim:
        if any(isinstance(v, (list, tuple)) for v in arr.flat):  # numpy keeps ragged rows as list objects
            raise ModelError("is not a rectangular array (its rows differ in length)", path)
        raise ModelError(f"has {arr.ndim} dimensions, expected {ndim}", path)
    for idx, v in np.ndenumerate(arr):
        if not _is_int(v):
            raise ModelError(f"entry {list(idx)} is {v!r}, expected an integer", path)
    try:
        out = arr.astype(np.int64) if arr.size else np.zeros(arr.shape, dtype=np.int64)
    except OverflowError:  # an entry beyond int64, e.g. 2**80
        raise ModelError("entries must be below 2^40 in magnitude", path) from None
    if arr.size and (out.max() >= 1 << 40 or out.min() <= -(1 << 40)):  # not np.abs: abs(-2^63) < 0
        raise ModelError("entries must be below 2^40 in magnitude", path)
    out.setflags(write=False)
    return out


def _vector(x: Any, size: int, path: str) -> np.ndarray:
    if x is None:
        out = np.zeros(size, dtype=np.int64)
        out.setflags(write=False)
        return out
    v = _matrix(x, 1, path)
    if v.shape[0] != size:
        raise ModelError(f"has {v.shape[0]} entries, expected {size}", path)
    return v


@dataclass(frozen=True, eq=False)
class Dense:
    r"""Fully connected synapses: :math:`a[t] = W s_{in}[t - d] + b \ (+ R s[t-1])`.

    ``weight`` is ``[out][in]``; ``recurrent`` (optional) is ``[out][out]``.
    """

    weight: Any
    neuron: Neuron
    bias: Any = None
    delay: int = 0
    recurrent: Any = None

    def __post_init__(self):
        w = _matrix(self.weight, 2, "weight")
        object.__setattr__(self, "weight", w)
        object.__setattr__(self, "bias", _vector(self.bias, w.shape[0], "bias"))
        _common_post_init(self, w.shape[0])

    @property
    def in_size(self) -> int:
        return int(self.weight.shape[1])

    @property
    def out_size(self) -> int:
        return int(self.weight.shape[0])

    def dense_weight(self) -> np.ndarray:
        return self.weight

    def fanout(self) -> np.ndarray:
        """``[in]``: each input's synapses with a non-zero weight."""
        return np.count_nonzero(self.weight, axis=0).astype(np.int64)

    def synapses(self) -> int:
        """Synapses with a non-zero weight (recurrent ones not included)."""
        return int(np.count_nonzero(self.weight))

    def neuron_bias(self) -> np.ndarray:
        return self.bias


def _common_post_init(layer, out_size: int) -> None:
    set_ = lambda k, v: object.__setattr__(layer, k, v)  # noqa: E731
    set_("delay", _int(layer.delay, "delay"))
    if not 0 <= layer.delay <= 1024:
        raise ModelError(f"{layer.delay} outside [0, 1024]", "delay")
    if layer.recurrent is not None:
        r = _matrix(layer.recurrent, 2, "recurrent")
        if r.shape != (out_size, out_size):
            raise ModelError(f"has shape {list(r.shape)}, expected [{out_size}, {out_size}]", "recurrent")
        set_("recurrent", r)
        if isinstance(layer.neuron, Neuron) and not layer.neuron.fires:
            raise ModelError("an 'li' layer never spikes, so recurrent weights would never act", "recurrent")
    if not isinstance(layer.neuron, Neuron):
        raise ModelError("expected a Neuron", "neuron")
    if layer.neuron.size != out_size:
        raise ModelError(f"neuron.size is {layer.neuron.size}, the layer has {out_size} outputs", "neuron")


@dataclass(frozen=True, eq=False)
class Conv2d:
    r"""2-D convolution: :math:`a[t] = W \star s_{in}[t-d] + b \ (+ R s[t-1])`.

    ``weight`` is ``[out_ch][in_ch][kh][kw]``; ``input_shape`` is ``[in_ch, h, w]``;
    ``bias`` has one value per output channel (default zeros). Neurons are laid out channel-major
    (``[out_ch, oh, ow]`` flattened), the same as ``numpy.reshape``.
    """

    weight: Any
    input_shape: tuple[int, int, int]
    neuron: Neuron
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    bias: Any = None
    delay: int = 0
    recurrent: Any = None

    def __post_init__(self):
        w = _matrix(self.weight, 4, "weight")
        object.__setattr__(self, "weight", w)
        shp = _int_tuple(self.input_shape, 3, "input_shape", minimum=1)
        stride = _int_tuple(self.stride, 2, "stride", minimum=1)
        pad = _int_tuple(self.padding, 2, "padding", minimum=0)
        object.__setattr__(self, "input_shape", shp)
        object.__setattr__(self, "stride", stride)
        object.__setattr__(self, "padding", pad)
        if w.shape[1] != shp[0]:
            raise ModelError(f"weight has {w.shape[1]} input channels, input_shape has {shp[0]}", "weight")
        oh, ow = self.output_shape[1:]
        if oh < 1 or ow < 1:
            raise ModelError("kernel larger than the padded input", "weight")
        object.__setattr__(self, "bias", _vector(self.bias, w.shape[0], "bias"))
        _common_post_init(self, self.out_size)

    @property
    def output_shape(self) -> tuple[int, int, int]:
        oh, ow = conv_output_hw(self.input_shape[1:], self.weight.shape[2:], self.stride, self.padding)
        return (int(self.weight.shape[0]), oh, ow)

    def neuron_bias(self) -> np.ndarray:
        """One bias per output channel, repeated over that channel's neurons."""
        oh, ow = self.output_shape[1:]
        return np.repeat(self.bias, oh * ow)

    @property
    def in_size(self) -> int:
        return math.prod(self.input_shape)

    @property
    def out_size(self) -> int:
        return math.prod(self.output_shape)

    def _taps(self) -> Iterator[tuple[int, int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        """Per kernel tap ``(dy, dx)`` that reaches the input: the output rows and columns
        it reaches the input from, and the input rows and columns it reads."""
        (_, h, w), (kh, kw) = self.input_shape, self.weight.shape[2:]
        oh, ow = self.output_shape[1:]
        ys, xs = np.arange(oh), np.arange(ow)
        for dy in range(kh):
            iy = ys * self.stride[0] - self.padding[0] + dy
            y_in = (iy >= 0) & (iy < h)
            for dx in range(kw):
                check_deadline()
                ix = xs * self.stride[1] - self.padding[1] + dx
                x_in = (ix >= 0) & (ix < w)
                if y_in.any() and x_in.any():
                    yield dy, dx, ys[y_in], xs[x_in], iy[y_in], ix[x_in]

    def fanout(self) -> np.ndarray:
        """``[in]``: each input's synapses with a non-zero weight, from the kernel alone (no
        dense matrix: a tap reaches each input at most once per output channel)."""
        cached = self.__dict__.get("_fanout")
        if cached is not None:
            return cached
        require_memory(3 * 8 * self.in_size, f"the fan-outs of a conv2d layer's {self.in_size} inputs")
        fan = np.zeros(self.input_shape, dtype=np.int64)
        for dy, dx, _, _, iy, ix in self._taps():
            fan[:, iy[:, None], ix[None, :]] += np.count_nonzero(self.weight[:, :, dy, dx], axis=0)[:, None, None]
        fan = fan.reshape(-1)
        fan.setflags(write=False)
        object.__setattr__(self, "_fanout", fan)
        return fan

    def synapses(self) -> int:
        """Synapses with a non-zero weight (recurrent ones not included): per kernel tap, its
        non-zero weights times the output positions it reaches the input from."""
        return sum(int(np.count_nonzero(self.weight[:, :, dy, dx])) * y.size * x.size
                   for dy, dx, y, x, _, _ in self._taps())

    def dense_weight(self) -> np.ndarray:
        """The equivalent ``[out][in]`` matrix (cached): every interpretation may
        treat a convolution as the dense map it is. Its size comes from the declared shapes,
        so it is budgeted first (:data:`DENSE_ENTRY_BYTES` per entry)."""
        cached = self.__dict__.get("_dense")
        if cached is not None:
            return cached
        oc, oh, ow = self.output_shape
        ic, h, w = self.input_shape
        require_memory(DENSE_ENTRY_BYTES * self.out_size * self.in_size,
                       f"the dense {self.out_size} x {self.in_size} matrix of a conv2d layer (input "
                       f"{list(self.input_shape)}, {human_bytes(8 * self.out_size * self.in_size)} of int64, and "
                       f"the copies the methods make)")
        mat = np.zeros((oc, oh, ow, ic, h, w), dtype=np.int64)
        for dy, dx, y, x, iy, ix in self._taps():  # each tap: every output position it reaches at once
            mat[:, y[:, None], x[None, :], :, iy[:, None], ix[None, :]] = self.weight[:, :, dy, dx]
        mat = mat.reshape(oc * oh * ow, ic * h * w)
        mat.setflags(write=False)
        object.__setattr__(self, "_dense", mat)
        return mat


def conv_output_hw(hw, kernel, stride, padding) -> tuple[int, int]:
    """Output height and width of a convolution."""
    return tuple(int((hw[k] + 2 * padding[k] - kernel[k]) // stride[k] + 1) for k in range(2))


def _int_tuple(x: Any, n: int, path: str, minimum: int) -> tuple[int, ...]:
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool) and n == 2:
        x = (x, x)
    if not isinstance(x, (list, tuple)) or len(x) != n:
        raise ModelError(f"expected a list of {n} integers", path)
    vals = tuple(_int(v, f"{path}[{k}]") for k, v in enumerate(x))
    if any(v < minimum for v in vals):
        raise ModelError(f"entries must be >= {minimum}", path)
    return vals


Layer = Dense | Conv2d


@dataclass(frozen=True)
class InputSpec:
    """The input: ``size`` binary spike channels, an optional ``shape`` (e.g. ``[1, 8, 8]``)
    and the encoder that turns analog data into spikes (a plain dict, see
    :mod:`verisnn.encoders`)."""

    size: int
    shape: tuple[int, ...] | None = None
    encoding: dict | None = None

    def __post_init__(self):
        size = _int(self.size, "input.size")
        if size < 1:
            raise ModelError("must be >= 1", "input.size")
        if self.shape is not None:
            shp = tuple(_int(v, f"input.shape[{k}]") for k, v in enumerate(self.shape))
            if math.prod(shp) != size:
                raise ModelError(f"{list(shp)} has {math.prod(shp)} elements, input.size is {size}", "input.shape")
            object.__setattr__(self, "shape", shp)
        if self.encoding is not None and not isinstance(self.encoding, dict):
            raise ModelError("expected an object", "input.encoding")


@dataclass(frozen=True)
class Readout:
    """How the output layer's activity becomes a decision, and how ties are read."""

    type: str = "spike_count"
    ties: str = "invalid"

    def __post_init__(self):
        _choice(self.type, READOUTS, "readout.type")
        _choice(self.ties, TIES, "readout.ties")


@dataclass(frozen=True, eq=False)
class Model:
    """A whole network: ``time_steps`` steps, an input, layers in order, a readout."""

    time_steps: int
    input: InputSpec
    layers: tuple[Layer, ...]
    readout: Readout = field(default_factory=Readout)
    name: str = "model"
    provenance: dict = field(default_factory=dict)

    def __post_init__(self):
        t = _int(self.time_steps, "time_steps")
        if not 1 <= t <= 100_000:
            raise ModelError(f"{t} outside [1, 100000]", "time_steps")
        if not isinstance(self.input, InputSpec):
            raise ModelError("expected an InputSpec", "input")
        layers = tuple(self.layers)
        if not layers:
            raise ModelError("a model needs at least one layer", "layers")
        object.__setattr__(self, "layers", layers)
        size = self.input.size
        for k, layer in enumerate(layers):
            if not isinstance(layer, (Dense, Conv2d)):
                raise ModelError(f"expected a Dense or Conv2d layer, got {type(layer).__name__}", f"layers[{k}]")
            if layer.in_size != size:
                raise ModelError(f"takes {layer.in_size} inputs, the layer below gives {size}", f"layers[{k}]")
            if not layer.neuron.fires and k != len(layers) - 1:
                raise ModelError("an 'li' layer emits no spikes, so it can only be the last layer", f"layers[{k}].neuron.model")
            size = layer.out_size
        last = layers[-1].neuron
        if self.readout.type.startswith("membrane") and last.fires:
            raise ModelError(f"{self.readout.type!r} reads a membrane: the last layer must be 'li'", "readout.type")
        if not self.readout.type.startswith("membrane") and not last.fires:
            raise ModelError(f"{self.readout.type!r} reads spikes, but the last layer is 'li'", "readout.type")
        if not isinstance(self.provenance, dict):
            raise ModelError("expected an object", "provenance")

    @property
    def output_size(self) -> int:
        return self.layers[-1].out_size
