"""The state of a network run as one integer vector, for any domain.

A run of the model is a path of a finite-state machine whose state is every layer's live
fields (:func:`verisnn.semantics.live_fields`: membranes, currents, refractory counters,
last spikes where recurrent synapses read them), the delayed inputs not yet delivered,
and — when a safety monitor watches the run (:mod:`verisnn.monitors`) — the monitor's
window of the last ``L`` observations. :class:`StateLayout` flattens such a state into
one vector and back: numpy ``[B, D]`` rows for explicit-state search and automata,
object arrays ``[D]`` of solver terms for the SMT transition system.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from . import semantics
from .model import Model
from .monitors import Monitor
from .semantics import LayerState, NetworkState

INF = float("inf")


def object_array(shape: tuple[int, ...], fill: Callable[[tuple[int, ...]], Any]) -> np.ndarray:
    """An object array filled element by element (``np.array`` on a list of solver terms
    would try to look inside them)."""
    out = np.empty(shape, dtype=object)
    for idx in np.ndindex(shape):
        out[idx] = fill(idx)
    return out


@dataclass(frozen=True)
class Slot:
    """One block of the state vector: ``kind`` is a live field (``v``, ``i``, ``r``, ``s``)
    of layer ``layer``, ``pending`` (the ``index``-th oldest undelivered input of
    ``layer``) or ``history`` (the monitor's row ``index``, oldest first)."""

    kind: str
    layer: int | None
    index: int
    size: int

    @property
    def name(self) -> str:
        if self.kind == "history":
            return f"h{self.index}"
        if self.kind == "pending":
            return f"l{self.layer}_q{self.index}"
        return f"l{self.layer}_{self.kind}"


class StateLayout:
    """The state vector of ``model`` (under ``monitor``, if any): its slots, in order, and
    the maps between a :class:`~verisnn.semantics.NetworkState` plus a monitor window and
    one flat vector (numpy ``[B, D]`` or an object array ``[D]`` of terms)."""

    def __init__(self, model: Model, monitor: Monitor | None = None):
        self.model, self.monitor = model, monitor
        slots, size = [], model.input.size
        for k, layer in enumerate(model.layers):
            slots += [Slot(f, k, 0, layer.out_size) for f in semantics.live_fields(layer)]
            slots += [Slot("pending", k, j, size) for j in range(layer.delay)]
            size = layer.out_size
        self.width = 0 if monitor is None else len(monitor.bounds())
        self.length = 0 if monitor is None else monitor.length
        slots += [Slot("history", None, j, self.width) for j in range(self.length)]
        self.slots = slots
        self.offsets = np.cumsum([0] + [s.size for s in slots])
        self.dim = int(self.offsets[-1])

    def names(self) -> list[str]:
        """One name per state component (``l0_v3``: layer 0's membrane of neuron 3)."""
        return [f"{s.name}_{j}" for s in self.slots for j in range(s.size)]

    def type_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Bounds that hold by construction (spikes 0/1, refractory counters within the
        period, monitor entries within their ranges); ``±inf`` elsewhere."""
        lo, hi = np.full(self.dim, -INF), np.full(self.dim, INF)
        mon = self.monitor.bounds() if self.monitor is not None else []
        for slot, off in zip(self.slots, self.offsets):
            sl = slice(off, off + slot.size)
            if slot.kind in ("s", "pending"):
                lo[sl], hi[sl] = 0, 1
            elif slot.kind == "r":
                lo[sl], hi[sl] = 0, self.model.layers[slot.layer].neuron.max_refractory
            elif slot.kind == "history":
                lo[sl], hi[sl] = [b[0] for b in mon], [b[1] for b in mon]
        return lo, hi

    def pack(self, state: NetworkState, window: Sequence[Sequence[Any]] = (), symbolic: bool = False) -> Any:
        """The flat vector of a network state and a monitor window (``L`` rows)."""
        parts = []
        lead = np.shape(state.layers[0].v)[:-1]  # the batch shape (() for terms)
        for slot in self.slots:
            if slot.kind == "history":
                row = window[slot.index]
                parts.append(object_array((len(row),), lambda i: row[i[0]]) if symbolic else
                             np.stack([np.broadcast_to(np.asarray(e, dtype=np.int64), lead) for e in row], axis=-1))
            elif slot.kind == "pending":
                parts.append(state.pending[slot.layer][slot.index])
            else:
                parts.append(getattr(state.layers[slot.layer], slot.kind))
        if symbolic:
            return np.concatenate([np.asarray(p, dtype=object).reshape(-1) for p in parts])
        return np.concatenate([np.asarray(p, dtype=np.int64) for p in parts], axis=-1)

    def unpack(self, flat: Any, ops: semantics.Ops, batch: tuple[int, ...], cast=None
               ) -> tuple[NetworkState, list[list[Any]]]:
        """The network state and monitor window of a flat vector; fields the next step does
        not read are the domain's zeros. ``cast(block, kind)`` converts a numpy block to the
        domain's value type (spikes and values may differ)."""
        cast = cast or (lambda block, kind: block)
        blocks = {}
        for slot, off in zip(self.slots, self.offsets):
            blocks[(slot.kind, slot.layer, slot.index)] = cast(flat[..., off: off + slot.size], slot.kind)
        layers, pending = [], []
        for k, layer in enumerate(self.model.layers):
            z = ops.zeros(batch, layer.out_size)
            fields = {f: blocks.get((f, k, 0)) for f in ("v", "i", "r", "s")}
            layers.append(LayerState(
                v=fields["v"], i=z if fields["i"] is None else fields["i"], r=z if fields["r"] is None else fields["r"],
                s=ops.zero_spikes(z) if fields["s"] is None else fields["s"]))
            pending.append(tuple(blocks[("pending", k, j)] for j in range(layer.delay)))
        window = []
        for j in range(self.length):
            block = blocks[("history", None, j)]
            window.append([_column(block, e) for e in range(self.width)])
        return NetworkState(tuple(layers), tuple(pending)), window


def _column(block: Any, e: int) -> Any:
    r = block[..., e]
    return r[()] if isinstance(r, np.ndarray) and r.ndim == 0 else r
