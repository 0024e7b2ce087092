"""The network as a transition system: states, one step, an invariant box, and the SMT form.

A run of the model on an input of any length is a path of a finite-state machine whose

* **state** is every layer's live fields (:func:`verisnn.semantics.live_fields`: membranes,
  currents, refractory counters, last spikes where recurrent synapses read them), the
  delayed inputs not yet delivered, and the safety monitor's window of the last ``L``
  observations (:mod:`verisnn.monitors`);
* **input letter** is one step's input spikes (any 0/1 vector, or one of a given list);
* **output** is that step's spikes of every layer.

:class:`StateLayout` flattens such a state into one integer vector (and back) for any
domain; the step itself is :func:`verisnn.semantics.network_step` interpreted by the
domain's ``Ops`` — the numpy simulator's for explicit-state search, :class:`SymbolicOps`
over SMT terms here — so the LIF update is not written again.

:func:`reachable_box` over-approximates the reachable states by a box, found by interval
abstract interpretation of the same step (:class:`verisnn.bounds.IntervalOps`) to a
post-fixpoint; it is an invariant (the initial state is in it and one step of any state in
it, on any input, stays in it), so k-induction and PDR may assume it.

:class:`TransitionSystem` is the SMT form (z3 terms in linear integer arithmetic): fresh
state vectors, the initial state, one symbolic step, the ``bad`` predicate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from verisnn import semantics
from verisnn.bounds import Interval, IntervalOps, interval_params
from verisnn.limits import check_deadline
from verisnn.model import Model
from verisnn.monitors import Monitor
from verisnn.semantics import NetworkState
from verisnn.state import StateLayout

from .smt import INF, IntTerms, SymbolicOps, Z3Factory, _objects, symbolic_params

MAX_BOX_ITERATIONS = 64  # plain interval iterations before widening the components still growing
WIDEN_LIMIT = 1 << 40  # widened bounds stay far inside int64 so that interval steps stay exact


# ---------------------------------------------------------------- the invariant box


@dataclass
class Box:
    """A box of states that contains every reachable state: per state component, ``lo``
    and ``hi`` (``±inf`` where no finite bound was established); ``iterations`` of interval
    steps and whether widening was needed."""

    lo: np.ndarray
    hi: np.ndarray
    iterations: int
    widened: bool

    def to_json(self) -> dict:
        fin = lambda a: [None if abs(x) == INF else int(x) for x in a]  # noqa: E731
        return {"lo": fin(self.lo), "hi": fin(self.hi), "iterations": self.iterations, "widened": self.widened}


def _interval_state(layout: StateLayout, lo: np.ndarray, hi: np.ndarray, ops: IntervalOps) -> NetworkState:
    state, _ = layout.unpack(np.stack([lo, hi]), ops, (),
                             cast=lambda block, kind: Interval(block[0].astype(np.int64), block[1].astype(np.int64)))
    return state


def _flat_network(layout: StateLayout, state: NetworkState) -> tuple[np.ndarray, np.ndarray]:
    """The network part of the flat vector of an interval state (history left at 0)."""
    los, his = [], []
    for slot in layout.slots:
        if slot.kind == "history":
            z = np.zeros(slot.size, dtype=np.int64)
            los.append(z)
            his.append(z)
            continue
        v = state.pending[slot.layer][slot.index] if slot.kind == "pending" else getattr(state.layers[slot.layer],
                                                                                          slot.kind)
        los.append(np.asarray(v.lo, dtype=np.int64).reshape(-1))
        his.append(np.asarray(v.hi, dtype=np.int64).reshape(-1))
    return np.concatenate(los), np.concatenate(his)


def reachable_box(layout: StateLayout, input_lo: np.ndarray, input_hi: np.ndarray) -> Box:
    """An invariant box of the network part of the state (the monitor part keeps its type
    bounds), for inputs within ``[input_lo, input_hi]`` per channel.

    Interval steps from the initial state, joined, until nothing grows; components still
    growing after :data:`MAX_BOX_ITERATIONS` are widened by doubling until one interval
    step maps the box into itself (a post-fixpoint, hence an invariant). Where no finite
    bound is found the component is left unbounded."""
    model = layout.model
    params = interval_params(model)
    x = Interval(np.asarray(input_lo, dtype=np.int64), np.asarray(input_hi, dtype=np.int64))
    network = np.array([s.kind != "history" for s in layout.slots for _ in range(s.size)])
    lo = np.zeros(layout.dim, dtype=np.int64)
    hi = np.zeros(layout.dim, dtype=np.int64)

    def step(lo, hi):
        ops = IntervalOps()
        state = _interval_state(layout, lo, hi, ops)
        nxt, _ = semantics.network_step(ops, model, params, state, x)
        nlo, nhi = _flat_network(layout, nxt)
        return np.minimum(lo, nlo), np.maximum(hi, nhi)

    for it in range(1, MAX_BOX_ITERATIONS + 1):
        nlo, nhi = step(lo, hi)
        if np.array_equal(nlo, lo) and np.array_equal(nhi, hi):
            return _box(layout, lo, hi, network, it, False)
        lo, hi = nlo, nhi
    # widen what still grows, then check that the widened box is closed under a step
    growing_lo, growing_hi = step(lo, hi)
    grow_lo, grow_hi = growing_lo < lo, growing_hi > hi
    while True:
        lo = np.where(grow_lo, np.minimum(2 * lo - 1, lo), lo)
        hi = np.where(grow_hi, np.maximum(2 * hi + 1, hi), hi)
        if np.any(np.abs(lo) > WIDEN_LIMIT) or np.any(np.abs(hi) > WIDEN_LIMIT):
            break
        nlo, nhi = step(lo, hi)
        if np.array_equal(nlo, lo) and np.array_equal(nhi, hi):
            return _box(layout, lo, hi, network, MAX_BOX_ITERATIONS, True)
        grow_lo, grow_hi = grow_lo | (nlo < lo), grow_hi | (nhi > hi)
    # no finite post-fixpoint: only the type bounds remain
    tlo, thi = layout.type_bounds()
    return Box(tlo, thi, MAX_BOX_ITERATIONS, True)


def _box(layout: StateLayout, lo: np.ndarray, hi: np.ndarray, network: np.ndarray, iterations: int,
         widened: bool) -> Box:
    tlo, thi = layout.type_bounds()
    return Box(np.where(network, lo, tlo).astype(float), np.where(network, hi, thi).astype(float), iterations,
               widened)


# ---------------------------------------------------------------- the SMT form


class TransitionSystem:
    """The product of the network and a monitor, as z3 terms in linear integer arithmetic.

    ``letters``: ``None`` (every 0/1 input vector is a letter) or an ``[m, n]`` array of
    the allowed input vectors. ``box``: an invariant :class:`Box` (assumed of every state
    vector made by :meth:`state`), or ``None``: type bounds only.
    """

    def __init__(self, model: Model, monitor: Monitor, letters: np.ndarray | None = None, box: Box | None = None):
        self.model, self.monitor = model, monitor
        self.layout = StateLayout(model, monitor)
        self.letters = None if letters is None else np.asarray(letters, dtype=np.int64)
        self.box = box
        self.factory = Z3Factory()
        self.terms = IntTerms(self.factory)
        self.params = symbolic_params(model)
        self.lo, self.hi = (box.lo, box.hi) if box is not None else self.layout.type_bounds()
        self.names = self.layout.names()

    @property
    def ctx(self):
        return self.factory.ctx

    def expr(self, t: Any):
        """The z3 expression of a term or known integer."""
        return self.factory.expr(self.terms.term(t) if self.terms.value(t) is not None else t)

    def initial(self) -> np.ndarray:
        """The initial state: every component 0 (the network at rest, an empty window)."""
        return _objects((self.layout.dim,), lambda i: 0)

    def state(self, tag: str) -> tuple[np.ndarray, Any]:
        """A fresh state vector (one integer variable per component, named ``{tag}_{name}``)
        and the constraint that it lies in the box."""
        t = self.terms
        out, cons = [], []
        for name, lo, hi in zip(self.names, self.lo, self.hi):
            check_deadline()  # one variable per state component: thousands on a conv2d model
            v = t.f.int_var(f"{tag}_{name}")
            parts = ([t.le(int(lo), v)] if lo > -INF else []) + ([t.le(v, int(hi))] if hi < INF else [])
            cons += parts
            out.append(v)
        for v, lo, hi in zip(out, self.lo, self.hi):
            t.known_bounds(v, lo, hi)  # after building the constraints that assert them
        return _objects((self.layout.dim,), lambda i: out[i[0]]), t.and_(cons)

    def inputs(self, tag: str) -> tuple[np.ndarray, Any]:
        """A fresh input letter ``x_{tag}_{i}`` (0/1 each) and its constraint."""
        t = self.terms
        n = self.model.input.size
        xs, cons = [], []
        for i in range(n):
            check_deadline()
            x, c = t.input_bit(f"x{tag}_{i}")
            xs.append(x)
            cons.append(c)
        if self.letters is not None:
            cons.append(t.or_([t.and_([t.eq(xs[i], int(row[i])) for i in range(n)]) for row in self.letters]))
        return _objects((n,), lambda i: xs[i[0]]), t.and_(cons)

    def step(self, s: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, Any]:
        """The next state of ``s`` on input ``x`` (terms) and the definitions it needs
        (the constraints fixing the fresh variables of ``decay`` and ``wrap``)."""
        t = self.terms
        ops = SymbolicOps(t)
        before = len(t.definitions)
        state, window = self.layout.unpack(s, ops, ())
        nxt, outputs = semantics.network_step(ops, self.model, self.params, state, x)
        out_of_range = []
        for u, bits in ops.pre_overflow:
            lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
            out_of_range += [t.or_([t.lt(v, lo), t.gt(v, hi)]) for v in np.asarray(u).reshape(-1)]
        row = self.monitor.row(t, x, outputs, t.spike(t.or_(out_of_range)))
        return self.layout.pack(nxt, window[1:] + [row], symbolic=True), t.and_(t.definitions[before:])

    def bad(self, s: np.ndarray) -> Any:
        """The monitor's verdict on the window held in ``s``."""
        _, window = self.layout.unpack(s, SymbolicOps(self.terms), ())
        return self.monitor.bad(self.terms, window)

    def equal(self, a: np.ndarray, b: np.ndarray) -> Any:
        t = self.terms
        return t.and_([t.eq(x, y) for x, y in zip(a, b)])
