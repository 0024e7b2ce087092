r"""Semantics v1: the discrete-time network update, written once.

Every consumer of a model — the numpy reference simulator, the torch training
simulator, and (in later issues) the SMT encoding, interval bounds, the
transition-system view and the hardware cost model — *interprets* the functions
in this module by supplying an :class:`Ops`: one implementation of the handful
of operations the update is made of, in its own domain (integers, floats with
surrogate gradients, symbolic terms, intervals, event counts). The LIF update
itself appears nowhere else.

For a layer at step ``t`` with input spikes ``x`` (see ``docs/semantics.md``)::

    a    = W · x[t - delay] + b  (+ R · s[t-1])               # synapse, recurrent
    i    = decay(i[t-1], i_decay) + a   (cuba_lif)  |  a        # current
    u    = overflow(decay(v[t-1], v_decay) + i)                 # membrane
    s    = u >= θ  (or u > θ), forced to 0 while refractory     # fire
    v    = u - θ·s  |  v_reset where s  |  u                    # reset
    v    = v_reset while refractory;  r = refractory where s, else max(r - 1, 0)

An ``li`` layer stops after the membrane: it never fires, and its output is ``u``.

Two traversal orders share these pieces: :func:`run_layers` (layer by layer over
the whole time series — what simulators use, because the synaptic input of a
layer can then be computed for all steps at once) and :func:`network_step` (one
step of the whole network — the transition-system view). They agree by
construction; ``tests/test_semantics.py`` checks it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, Sequence, TypeVar

from .limits import check_deadline
from .model import Model, Neuron

V = TypeVar("V")  # a value of the domain: an array, a tensor, a term, an interval


@dataclass(frozen=True)
class LayerParams(Generic[V]):
    """One layer's numbers, as values of some domain.

    ``weight``/``bias``/``recurrent`` are whatever the domain's :meth:`Ops.synapse`
    and :meth:`Ops.recurrent` expect; the neuron parameters are per-neuron values
    (or scalars) of the domain; decays are ``(num, shift)`` pairs.
    """

    weight: Any
    bias: Any
    recurrent: Any | None
    threshold: Any
    v_reset: Any
    v_decay: tuple[Any, Any]
    i_decay: tuple[Any, Any] | None
    refractory: Any


class LayerState(NamedTuple):
    """The state a layer carries from one step to the next."""

    v: Any  # membrane
    i: Any  # synaptic current (cuba_lif; else the last synaptic input, unused)
    r: Any  # refractory steps left
    s: Any  # spikes of the previous step (read by recurrent synapses)


class NetworkState(NamedTuple):
    """The state of the whole network: one :class:`LayerState` per layer and, per
    layer with a delay ``d``, the ``d`` most recent inputs not yet delivered (oldest
    first)."""

    layers: tuple[LayerState, ...]
    pending: tuple[tuple[Any, ...], ...]


class Ops(ABC, Generic[V]):
    """The operations the update is written over. One subclass per domain.

    Values carry any leading batch (and time) dimensions; the last dimension is
    the neuron. Spikes are the domain's 0/1 values; masks are what :meth:`select`
    accepts as a condition (spikes are valid masks).
    """

    @abstractmethod
    def synapse(self, p: LayerParams, x: V) -> V:
        """``W · x + b`` (dense or convolution), over all leading dimensions of ``x``."""

    @abstractmethod
    def recurrent(self, p: LayerParams, s: V) -> V:
        """``R · s``."""

    @abstractmethod
    def add(self, a: V, b: V) -> V: ...

    @abstractmethod
    def sub(self, a: V, b: V) -> V: ...

    @abstractmethod
    def decay(self, x: V, decay: tuple[Any, Any], rounding: str) -> V:
        """``round(x * num / 2**shift)`` with ``rounding`` ``floor`` or ``toward_zero``."""

    @abstractmethod
    def overflow(self, u: V, bits: int, policy: str) -> V:
        """Fit ``u`` in ``bits`` signed bits: ``saturate`` clamps, ``wrap`` is two's complement."""

    @abstractmethod
    def fire(self, u: V, threshold: Any, strict: bool) -> V:
        """Spikes: ``u > threshold`` if ``strict`` else ``u >= threshold``."""

    @abstractmethod
    def select(self, mask: V, a: Any, b: V) -> V:
        """``a`` where ``mask``, else ``b``."""

    @abstractmethod
    def spike_scale(self, s: V, c: Any) -> V:
        """``c · s``: the amount a spike subtracts."""

    @abstractmethod
    def is_refractory(self, r: V) -> V:
        """Mask of neurons with refractory steps left (``r > 0``)."""

    @abstractmethod
    def countdown(self, r: V, s: V, period: Any) -> V:
        """``period`` where ``s`` fired, else ``max(r - 1, 0)``."""

    @abstractmethod
    def zeros(self, batch: tuple[int, ...], n: int) -> V:
        """A zero state of ``n`` neurons with leading dimensions ``batch``."""

    @abstractmethod
    def zero_spikes(self, like: V) -> V:
        """Spikes that are all 0, shaped like ``like``."""

    # Sequences over time (first axis).
    def at(self, seq: V, t: int) -> V:
        return seq[t]

    @abstractmethod
    def stack(self, items: Sequence[V]) -> V:
        """The time series made of the per-step values ``items``."""

    @abstractmethod
    def delay_time(self, seq: V, d: int) -> V:
        """``seq`` delayed by ``d`` steps along the first axis, zeros shifted in."""


class OperatorOps(Ops[V]):
    """The operations any domain with ``+``, ``-`` and ``*`` on its values gets for free,
    when a layer's ``weight`` and ``recurrent`` are callables that apply the matrix."""

    def synapse(self, p: LayerParams, x: V) -> V:
        return p.weight(x) + p.bias

    def recurrent(self, p: LayerParams, s: V) -> V:
        return p.recurrent(s)

    def add(self, a: V, b: V) -> V:
        return a + b

    def sub(self, a: V, b: V) -> V:
        return a - b

    def spike_scale(self, s: V, c: Any) -> V:
        return s * c


def initial_state(ops: Ops, neuron: Neuron, batch: tuple[int, ...]) -> LayerState:
    z = ops.zeros(batch, neuron.size)
    return LayerState(v=z, i=z, r=z, s=ops.zero_spikes(z))


def neuron_step(ops: Ops, neuron: Neuron, p: LayerParams, state: LayerState, a: V) -> tuple[LayerState, V]:
    """One step of one layer's neurons, given its synaptic input ``a`` (``W·x + b``).

    Returns the new state and the layer's output: spikes, or the membrane ``u``
    for an ``li`` layer.
    """
    if p.recurrent is not None:
        a = ops.add(a, ops.recurrent(p, state.s))
    if neuron.model == "cuba_lif":
        i = ops.add(ops.decay(state.i, p.i_decay, neuron.rounding), a)
    else:
        i = a
    u = ops.add(ops.decay(state.v, p.v_decay, neuron.rounding), i)
    u = ops.overflow(u, neuron.v_bits, neuron.on_overflow)
    if not neuron.fires:
        return LayerState(v=u, i=i, r=state.r, s=state.s), u
    s = ops.fire(u, p.threshold, strict=neuron.fire_when == ">")
    has_refractory = neuron.max_refractory > 0
    if has_refractory:
        held = ops.is_refractory(state.r)
        s = ops.select(held, ops.zero_spikes(s), s)
    if neuron.reset == "subtract":
        v = ops.sub(u, ops.spike_scale(s, p.threshold))
    elif neuron.reset == "to_value":
        v = ops.select(s, p.v_reset, u)
    else:
        v = u
    r = state.r
    if has_refractory:
        v = ops.select(held, p.v_reset, v)
        r = ops.countdown(state.r, s, p.refractory)
    return LayerState(v=v, i=i, r=r, s=s), s


def run_layers(ops: Ops, model: Model, params: Sequence[LayerParams], x_seq: V, batch: tuple[int, ...],
               record_membranes: bool = False) -> tuple[list[V], list[V] | None]:
    """Run the network layer by layer over the whole time series ``x_seq``
    (first axis: time, ``model.time_steps`` long).

    Returns every layer's output sequence (spikes, or membranes for ``li``) and,
    if asked, every layer's membrane sequence (after reset).
    """
    outputs, membranes = [], [] if record_membranes else None
    for layer, p in zip(model.layers, params):
        x_seq = ops.delay_time(x_seq, layer.delay) if layer.delay else x_seq
        a_seq = ops.synapse(p, x_seq)
        state = initial_state(ops, layer.neuron, batch)
        outs, vs = [], []
        for t in range(model.time_steps):
            check_deadline()  # a long run keeps the caller's time limit (verisnn.limits.time_limit)
            state, out = neuron_step(ops, layer.neuron, p, state, ops.at(a_seq, t))
            outs.append(out)
            if record_membranes:
                vs.append(state.v)
        x_seq = ops.stack(outs)
        outputs.append(x_seq)
        if record_membranes:
            membranes.append(ops.stack(vs))
    return outputs, membranes


def initial_network_state(ops: Ops, model: Model, batch: tuple[int, ...]) -> NetworkState:
    layers, pending = [], []
    size = model.input.size
    for layer in model.layers:
        layers.append(initial_state(ops, layer.neuron, batch))
        zero_in = ops.zero_spikes(ops.zeros(batch, size))
        pending.append((zero_in,) * layer.delay)
        size = layer.out_size
    return NetworkState(tuple(layers), tuple(pending))


def live_fields(layer) -> tuple[str, ...]:
    """The :class:`LayerState` fields of ``layer`` that the next step reads: ``v`` always,
    ``i`` for ``cuba_lif``, ``r`` when some refractory period is non-zero, ``s`` when there
    are recurrent synapses. The other fields only echo this step (``i`` of a ``lif`` layer
    is the synaptic input) and carry no state: a transition system or an explicit-state
    exploration keys states by the live fields alone."""
    neuron = layer.neuron
    fields = ["v"]
    if neuron.model == "cuba_lif":
        fields.append("i")
    if neuron.fires and neuron.max_refractory > 0:
        fields.append("r")
    if neuron.fires and layer.recurrent is not None:
        fields.append("s")
    return tuple(fields)


def network_step(ops: Ops, model: Model, params: Sequence[LayerParams], state: NetworkState, x: V
                 ) -> tuple[NetworkState, list[V]]:
    """One time step of the whole network on input spikes ``x``: the
    transition-system view. Returns the new state and every layer's output."""
    check_deadline()
    new_layers, new_pending, outputs = [], [], []
    for layer, p, ls, queue in zip(model.layers, params, state.layers, state.pending):
        if layer.delay:
            delivered, queue = queue[0], queue[1:] + (x,)
        else:
            delivered = x
        ls, x = neuron_step(ops, layer.neuron, p, ls, ops.synapse(p, delivered))
        new_layers.append(ls)
        new_pending.append(queue)
        outputs.append(x)
    return NetworkState(tuple(new_layers), tuple(new_pending)), outputs
