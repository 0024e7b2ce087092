"""The SMT encoding: semantics v1 interpreted over pysmt terms, and a verifier on it.

:class:`SymbolicOps` is one more interpretation of :mod:`verisnn.semantics` (next to the
numpy and torch ones): every value is a numpy object array of pysmt integer terms,
and :func:`verisnn.semantics.run_layers` unrolls the network over the ``T`` steps.
The LIF update is not written here; only its operations are, each one exact in
linear integer arithmetic (QF_LIA):

* ``synapse``: ``Σ w·x + b`` with the layer's constant integer weights, zero weights skipped;
* ``decay``: ``floor(num·x / 2^shift)`` as a fresh integer ``q`` with
  ``2^shift·q <= num·x <= 2^shift·q + 2^shift - 1`` (``toward_zero``: the mirrored
  bounds when ``x < 0``), recorded as a *definition* that fixes ``q`` uniquely;
* ``overflow``: ``saturate`` as a clamp of ``Ite``s, ``wrap`` as fresh ``w, m`` with
  ``u = w + 2^bits·m`` and ``w`` in range (again unique); every pre-overflow ``u`` is
  kept for the ``no_overflow`` condition;
* ``fire`` / ``select`` / ``countdown`` / ``is_refractory``: ``Ite`` terms.

Operations on constants are folded (fixed input bits make most of the first layer
constant). :func:`encode` asks for a *counterexample*: the region's inputs, the
definitions, and the negation of the condition; :func:`smt_verify` solves it, reports
``verified`` only on UNSAT (with the SMT-LIB text as evidence) and ``falsified`` only
for a model whose input raster replays on the reference simulator. See ``docs/smt.md``.
"""

from __future__ import annotations

import io
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
from pysmt.environment import Environment, pop_env, push_env
from pysmt.exceptions import PysmtException, SolverReturnedUnknownResultError
from pysmt.fnode import FNode
from pysmt.logics import QF_LIA
from pysmt.smtlib.parser import SmtLibParser
from pysmt.smtlib.script import smtlibscript_from_formula
from pysmt.typing import INT

from verisnn import semantics
from verisnn.errors import VerisnnError
from verisnn.model import Model
from verisnn.model_format import model_hash
from verisnn.properties import (AnyInput, DecidedBy, Deletions, FirstSpikeBy, Flips, Insertions, NeverFires,
                                NoOverflow, Property, Robust, SpikesAtMost, SynopsAtMost, check_against_model,
                                region_size)
from verisnn.semantics import LayerParams, Ops
from verisnn.simulator import ArraySequences, check_raster, simulate
from verisnn.verify import Result, raster_sha256, report_witness

INF = float("inf")
LOGIC = QF_LIA  # quantifier-free linear integer arithmetic
METHOD = "smt"


@contextmanager
def using(env: Environment):
    """Make ``env`` pysmt's current environment: some pysmt functions (free variables,
    printing) consult the global one, and every term here belongs to ``env``."""
    push_env(env)
    try:
        yield env
    finally:
        pop_env()


def _objects(shape: tuple[int, ...], fill: Callable[[tuple[int, ...]], Any]) -> np.ndarray:
    """An object array filled element by element (``np.array`` on a list of terms would
    try to look inside them)."""
    out = np.empty(shape, dtype=object)
    for idx in np.ndindex(shape):
        out[idx] = fill(idx)
    return out


def _lift(x: Any) -> np.ndarray:
    """A value as an object array (Python ints and terms stay as they are)."""
    if isinstance(x, np.ndarray) and x.dtype == object:
        return x
    arr = np.asarray(x)
    return _objects(arr.shape, lambda i: int(arr[i]) if arr.dtype != object else arr[i])


class Terms:
    """Term constructors over one pysmt :class:`FormulaManager` that fold constants
    (Python ints are accepted wherever a term is)."""

    def __init__(self, env: Environment):
        self.env = env
        self.mgr = env.formula_manager
        self.TRUE, self.FALSE = self.mgr.TRUE(), self.mgr.FALSE()
        self._bounds: dict[FNode, tuple[float, float]] = {}

    def int_(self, x: Any) -> FNode:
        return x if isinstance(x, FNode) else self.mgr.Int(int(x))

    def known_bounds(self, v: FNode, lo: float, hi: float) -> None:
        """Record that every value of the variable ``v`` lies in ``[lo, hi]``. Only call this
        AFTER building the constraint that makes it so: the bounds fold comparisons, and a
        constraint built with them would fold itself away."""
        self._bounds[v] = (lo, hi)

    def bounds(self, t: Any) -> tuple[float, float]:
        """An interval holding every value ``t`` can take (``±inf`` where unknown). Recorded
        when each term is built, so looking it up never recurses."""
        v = self.value(t)
        if v is not None:
            return v, v
        return self._bounds.get(t, (-INF, INF))

    def _bounded(self, t: FNode, lo: float, hi: float) -> FNode:
        if t not in self._bounds:
            self._bounds[t] = (lo, hi)
        return t

    @staticmethod
    def value(t: Any) -> int | None:
        """The integer a term is, if it is a constant."""
        if isinstance(t, FNode):
            return int(t.constant_value()) if t.is_int_constant() else None
        return int(t)

    def plus(self, terms: Sequence[Any]) -> FNode:
        const, rest = 0, []
        for t in terms:
            v = self.value(t)
            if v is None:
                rest.append(t)
            else:
                const += v
        if const:
            rest.append(self.mgr.Int(const))
        if not rest:
            return self.mgr.Int(0)
        if len(rest) == 1:
            return rest[0]
        spans = [self.bounds(x) for x in rest]
        return self._bounded(self.mgr.Plus(rest), sum(b[0] for b in spans), sum(b[1] for b in spans))

    def minus(self, a: Any, b: Any) -> FNode:
        va, vb = self.value(a), self.value(b)
        if va is not None and vb is not None:
            return self.mgr.Int(va - vb)
        if vb == 0:
            return self.int_(a)
        (alo, ahi), (blo, bhi) = self.bounds(a), self.bounds(b)
        return self._bounded(self.mgr.Minus(self.int_(a), self.int_(b)), alo - bhi, ahi - blo)

    def times(self, c: int, t: Any) -> FNode:
        """``c · t`` for a constant ``c``; a 0/1 ``Ite`` becomes an ``Ite`` of constants."""
        c = int(c)
        v = self.value(t)
        if v is not None:
            return self.mgr.Int(c * v)
        if c == 0:
            return self.mgr.Int(0)
        if c == 1:
            return t
        if t.is_ite() and self.value(t.arg(1)) is not None and self.value(t.arg(2)) is not None:
            return self.ite(t.arg(0), c * self.value(t.arg(1)), c * self.value(t.arg(2)))
        lo, hi = self.bounds(t)
        return self._bounded(self.mgr.Times(self.mgr.Int(c), t), *sorted((c * lo, c * hi)))

    def ite(self, cond: FNode, a: Any, b: Any) -> FNode:
        if cond.is_true():
            return self.int_(a)
        if cond.is_false():
            return self.int_(b)
        a, b = self.int_(a), self.int_(b)
        if a is b:
            return a
        (alo, ahi), (blo, bhi) = self.bounds(a), self.bounds(b)
        return self._bounded(self.mgr.Ite(cond, a, b), min(alo, blo), max(ahi, bhi))

    def le(self, a, b, strict: bool = False) -> FNode:
        """``a <= b`` (``a < b`` if ``strict``), decided outright where the bounds decide it."""
        (alo, ahi), (blo, bhi) = self.bounds(a), self.bounds(b)
        holds = (lambda x, y: x < y) if strict else (lambda x, y: x <= y)
        if holds(ahi, blo):  # even the largest a against the smallest b
            return self.TRUE
        if not holds(alo, bhi):  # not even the smallest a against the largest b
            return self.FALSE
        return (self.mgr.LT if strict else self.mgr.LE)(self.int_(a), self.int_(b))

    def lt(self, a, b):
        return self.le(a, b, strict=True)

    def ge(self, a, b):
        return self.le(b, a)

    def gt(self, a, b):
        return self.lt(b, a)

    def eq(self, a, b):
        (alo, ahi), (blo, bhi) = self.bounds(a), self.bounds(b)
        if alo == ahi == blo == bhi:
            return self.TRUE
        if ahi < blo or bhi < alo:  # disjoint ranges
            return self.FALSE
        return self.mgr.Equals(self.int_(a), self.int_(b))

    def and_(self, items: Sequence[FNode]) -> FNode:
        rest = []
        for f in items:
            if f.is_false():
                return self.FALSE
            if not f.is_true():
                rest.append(f)
        return self.TRUE if not rest else rest[0] if len(rest) == 1 else self.mgr.And(rest)

    def or_(self, items: Sequence[FNode]) -> FNode:
        rest = []
        for f in items:
            if f.is_true():
                return self.TRUE
            if not f.is_false():
                rest.append(f)
        return self.FALSE if not rest else rest[0] if len(rest) == 1 else self.mgr.Or(rest)

    def not_(self, f: FNode) -> FNode:
        return self.FALSE if f.is_true() else self.TRUE if f.is_false() else self.mgr.Not(f)

    def as_bool(self, t: Any) -> FNode:
        """A mask (Boolean term) or a 0/1 spike term as a Boolean: ``Ite(c, 1, 0)`` is ``c``."""
        if isinstance(t, FNode) and t.get_type().is_bool_type():
            return t
        v = self.value(t)
        if v is not None:
            return self.mgr.Bool(v != 0)
        if t.is_ite():
            a, b = self.as_bool(t.arg(1)), self.as_bool(t.arg(2))
            c = t.arg(0)
            if a.is_true() and b.is_false():
                return c
            if a.is_false() and b.is_true():
                return self.not_(c)
            if a.is_false():
                return self.and_([self.not_(c), b])
            if b.is_false():
                return self.and_([c, a])
            return self.mgr.Ite(c, a, b)
        return self.mgr.Equals(t, self.mgr.Int(1))

    def spike(self, cond: FNode) -> FNode:
        """The 0/1 integer term of a Boolean."""
        return self.ite(cond, 1, 0)


def _map(f: Callable, *args: Any) -> np.ndarray:
    """``f`` elementwise over broadcast object arrays."""
    arrs = np.broadcast_arrays(*[_lift(a) for a in args])
    return _objects(arrs[0].shape, lambda i: f(*(a[i] for a in arrs)))


class SymbolicOps(ArraySequences, Ops):
    """Semantics v1 over pysmt integer terms (exact, QF_LIA).

    ``definitions`` collects the constraints that define the fresh variables of
    ``decay`` and ``wrap`` (each fixes its variable uniquely, so asserting them adds no
    behaviour); ``pre_overflow`` every membrane before the overflow policy, with its
    ``v_bits``.
    """

    def __init__(self, terms: Terms, deadline: float | None = None):
        self.t = terms
        self.definitions: list[FNode] = []
        self.pre_overflow: list[tuple[np.ndarray, int]] = []
        self.deadline = deadline  # time.perf_counter() value past which building stops (EncodingTimeout)

    def _check_time(self) -> None:
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise EncodingTimeout()

    def _fresh(self, template: str) -> FNode:
        return self.t.mgr.FreshSymbol(INT, template=template + "%d")

    def _affine(self, matrix: np.ndarray, x: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
        t = self.t
        rows = [[(int(w), j) for j, w in enumerate(row) if w != 0] for row in np.asarray(matrix)]
        lead = x.shape[:-1]

        def one(idx):
            *pre, o = idx
            if o == 0:  # once per output vector: the bulk of the encoding's time is spent here
                self._check_time()
            xs = x[tuple(pre)]
            terms = [t.times(w, xs[j]) for w, j in rows[o]]
            if bias is not None:
                terms.append(int(bias[o]))
            return t.plus(terms)
        return _objects(lead + (len(rows),), one)

    def synapse(self, p: LayerParams, x):
        return self._affine(p.weight, x, p.bias)

    def recurrent(self, p: LayerParams, s):
        return self._affine(p.recurrent, s, None)

    def add(self, a, b):
        return _map(lambda x, y: self.t.plus([x, y]), a, b)

    def sub(self, a, b):
        return _map(self.t.minus, a, b)

    def _decay_one(self, x, num, shift, rounding: str):
        t = self.t
        num, shift = int(num), int(shift)
        d = 1 << shift
        if num == d:
            return x
        v = t.value(x)
        if num == 0 or v == 0:
            return t.int_(0)
        if v is not None:  # exact Python integers
            return t.int_((v * num) >> shift if rounding == "floor" or v >= 0 else -((-v * num) >> shift))
        q = self._fresh("decay_")
        y, dq = t.times(num, x), t.times(d, q)
        floor = t.and_([t.le(dq, y), t.le(y, t.plus([dq, d - 1]))])  # q = floor(y / d)
        if rounding == "floor":
            self.definitions.append(floor)
        else:
            ceil = t.and_([t.le(t.plus([dq, -(d - 1)]), y), t.le(y, dq)])  # q = ceil(y / d) when y < 0
            nonneg = t.ge(x, 0)
            self.definitions.append(t.and_([t.mgr.Implies(nonneg, floor), t.mgr.Implies(t.not_(nonneg), ceil)]))
        # q is nondecreasing in x (num >= 0): x's extremes map to q's
        t.known_bounds(q, *(e if abs(e) == INF else t.value(self._decay_one(e, num, shift, rounding))
                            for e in t.bounds(x)))
        return q

    def decay(self, x, decay, rounding):
        num, shift = decay
        return _map(lambda a, n, s: self._decay_one(a, n, s, rounding), x, num, shift)

    def overflow(self, u, bits, policy):
        t = self.t
        self.pre_overflow.append((u, bits))
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1

        def one(x):
            xlo, xhi = t.bounds(x)
            if lo <= xlo and xhi <= hi:  # provably in range: both policies leave it alone
                return x
            v = t.value(x)
            if v is not None:
                if policy == "saturate":
                    return t.int_(min(max(v, lo), hi))
                return t.int_(((v + (1 << (bits - 1))) & ((1 << bits) - 1)) + lo)
            if policy == "saturate":
                return t.ite(t.lt(x, lo), lo, t.ite(t.gt(x, hi), hi, x))
            w, m = self._fresh("wrap_"), self._fresh("wraps_")
            self.definitions.append(t.and_([t.eq(x, t.plus([w, t.times(1 << bits, m)])), t.le(lo, w), t.le(w, hi)]))
            t.known_bounds(w, lo, hi)
            return w
        return _map(one, u)

    def fire(self, u, threshold, strict):
        t = self.t
        return _map(lambda x, th: t.spike(t.gt(x, th) if strict else t.ge(x, th)), u, threshold)

    def select(self, mask, a, b):
        t = self.t
        return _map(lambda m, x, y: t.ite(t.as_bool(m), x, y), mask, a, b)

    def spike_scale(self, s, c):
        return _map(lambda x, k: self.t.times(k, x), s, c)

    def is_refractory(self, r):
        return _map(lambda x: self.t.gt(x, 0), r)

    def countdown(self, r, s, period):
        t = self.t
        return _map(lambda x, f, p: t.ite(t.as_bool(f), p, t.ite(t.gt(x, 0), t.minus(x, 1), 0)), r, s, period)

    def zeros(self, batch, n):
        zero = self.t.int_(0)
        return _objects(tuple(batch) + (n,), lambda i: zero)

    def zero_spikes(self, like):
        zero = self.t.int_(0)
        return _objects(like.shape, lambda i: zero)


def _per_neuron(x: Any, size: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(x, dtype=object), (size,))


def _decays(d: Any, size: int) -> tuple[np.ndarray, np.ndarray] | None:
    if d is None:
        return None
    arr = np.asarray(d, dtype=np.int64).reshape(-1, 2)
    arr = np.broadcast_to(arr, (size, 2))
    return _lift(arr[:, 0]), _lift(arr[:, 1])


def symbolic_params(model: Model) -> list[LayerParams]:
    """Every layer's numbers as Python integers (weights as integer matrices)."""
    params = []
    for layer in model.layers:
        n = layer.neuron
        params.append(LayerParams(
            weight=np.asarray(layer.dense_weight(), dtype=np.int64),
            bias=np.asarray(layer.neuron_bias(), dtype=np.int64),
            recurrent=None if layer.recurrent is None else np.asarray(layer.recurrent, dtype=np.int64),
            threshold=_lift(_per_neuron(n.threshold if n.fires else 0, n.size)),
            v_reset=_lift(_per_neuron(n.v_reset, n.size)),
            v_decay=_decays(n.v_decay, n.size),
            i_decay=_decays(n.i_decay, n.size),
            refractory=_lift(_per_neuron(n.refractory, n.size)),
        ))
    return params


# ---------------------------------------------------------------- readouts and conditions


def readout_scores(terms: Terms, readout, seq: np.ndarray) -> tuple[list[FNode], FNode]:
    """The readout's per-class scores over the output sequence ``seq`` ``[T', m]`` and
    whether a decision is possible at all (``first_spike``: some output spiked) —
    :func:`verisnn.readout.decide`'s scores, as terms."""
    t = terms
    steps, m = seq.shape
    if readout.type == "spike_count":
        return [t.plus(list(seq[:, j])) for j in range(m)], t.TRUE
    if readout.type == "first_spike":
        scores = []
        for j in range(m):
            s = t.int_(-1)  # never fired
            for step in reversed(range(steps)):
                s = t.ite(t.as_bool(seq[step, j]), steps - step, s)  # earlier is larger
            scores.append(s)
        return scores, t.or_([t.as_bool(x) for x in seq.reshape(-1)])
    if readout.type == "membrane_final":
        return [t.int_(seq[-1, j]) for j in range(m)], t.TRUE
    if readout.type == "membrane_max":
        scores = []
        for j in range(m):
            best = seq[0, j]
            for step in range(1, steps):
                best = t.ite(t.gt(seq[step, j], best), seq[step, j], best)
            scores.append(t.int_(best))
        return scores, t.TRUE
    raise VerisnnError(f"the smt method has no encoding of readout {readout.type!r}", "readout")


def _beats(terms: Terms, ties: str, scores: list[FNode], j: int, i: int) -> FNode:
    """Class ``j`` wins against class ``i`` (under ``lowest_index`` a tie goes to the lower index)."""
    if ties == "lowest_index" and j < i:
        return terms.ge(scores[j], scores[i])
    return terms.gt(scores[j], scores[i])


def decides(terms: Terms, readout, scores: list[FNode], valid: FNode, j: int) -> FNode:
    """The decision is class ``j``."""
    return terms.and_([valid] + [_beats(terms, readout.ties, scores, j, i) for i in range(len(scores)) if i != j])


def not_decides(terms: Terms, readout, scores: list[FNode], valid: FNode, j: int) -> FNode:
    """The decision is not class ``j``: no decision is possible, or SOME other class ``i``
    ties or beats ``j`` — a disjunction over ``i`` (a conjunction here would only find
    inputs where every other class beats ``j`` at once, and claim robustness wrongly)."""
    others = [terms.not_(_beats(terms, readout.ties, scores, j, i)) for i in range(len(scores)) if i != j]
    return terms.or_([terms.not_(valid)] + others)


def _synops(terms: Terms, model: Model, raster: np.ndarray, outputs: list[np.ndarray]) -> FNode:
    """DESIGN.md's synops as a linear term (see :func:`verisnn.simulator.synops`)."""
    T = model.time_steps
    parts, x = [], raster
    for layer, out in zip(model.layers, outputs):
        fanout = (np.asarray(layer.dense_weight()) != 0).sum(axis=0)
        for step in range(max(0, T - layer.delay)):
            parts += [terms.times(int(f), x[step, i]) for i, f in enumerate(fanout) if f]
        if layer.recurrent is not None and layer.neuron.fires:
            rec = (np.asarray(layer.recurrent) != 0).sum(axis=0)
            for step in range(T - 1):
                parts += [terms.times(int(f), out[step, j]) for j, f in enumerate(rec) if f]
        x = out
    return terms.plus(parts)


def violation(terms: Terms, ops: SymbolicOps, model: Model, cond, raster: np.ndarray, outputs: list[np.ndarray],
              reference: int | None) -> FNode:
    """The negation of ``cond`` on the unrolled run (what :func:`verisnn.verify.violations` checks)."""
    t = terms
    last = outputs[-1]
    if isinstance(cond, Robust):
        if reference is None:
            return t.TRUE  # the centre has no decision: every input violates robustness
        scores, valid = readout_scores(t, model.readout, last)
        return not_decides(t, model.readout, scores, valid, reference)
    if isinstance(cond, DecidedBy):
        early, early_valid = readout_scores(t, model.readout, last[: cond.k])
        final, final_valid = readout_scores(t, model.readout, last)
        classes = range(len(final))
        early_is = [decides(t, model.readout, early, early_valid, j) for j in classes]
        differs = [t.and_([early_is[j], not_decides(t, model.readout, final, final_valid, j)]) for j in classes]
        return t.or_([t.not_(t.or_(early_is))] + differs)
    if isinstance(cond, FirstSpikeBy):
        return t.not_(t.or_([t.as_bool(x) for x in last[: cond.k].reshape(-1)]))
    if isinstance(cond, SpikesAtMost):
        spikes = [x for out, layer in zip(outputs, model.layers) if layer.neuron.fires for x in out.reshape(-1)]
        return t.gt(t.plus(spikes), cond.e)
    if isinstance(cond, SynopsAtMost):
        return t.gt(_synops(t, model, raster, outputs), cond.s)
    if isinstance(cond, NeverFires):
        return t.or_([t.as_bool(x) for x in outputs[cond.layer][:, cond.neuron]])
    if isinstance(cond, NoOverflow):
        out = []
        for u, bits in ops.pre_overflow:
            lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
            out += [t.or_([t.lt(x, lo), t.gt(x, hi)]) for x in u.reshape(-1)]
        return t.or_(out)
    raise VerisnnError(f"the smt method has no encoding of the condition {type(cond).__name__}", "condition")


# ---------------------------------------------------------------- regions


def region_inputs(terms: Terms, region, centre: np.ndarray) -> tuple[np.ndarray, FNode]:
    """The input raster as terms ``[T, n]`` (a 0/1 integer variable ``x_t_i`` per bit the
    region may change, the centre's constant elsewhere) and the region's constraint."""
    t = terms
    T, n = centre.shape
    if isinstance(region, (Flips, AnyInput)):
        free = np.ones(centre.shape, dtype=bool)
    elif isinstance(region, Deletions):
        free = centre == 1
    elif isinstance(region, Insertions):
        free = centre == 0
    else:
        raise VerisnnError(f"the smt method has no encoding of the region {type(region).__name__} "
                           f"(flips, deletions, insertions and any are encoded)", "region")
    x = _objects((T, n), lambda i: t.mgr.Symbol(f"x_{i[0]}_{i[1]}", INT) if free[i] else t.int_(centre[i]))
    bits = [t.and_([t.le(0, x[i]), t.le(x[i], 1)]) for i in zip(*np.nonzero(free))]
    for i in zip(*np.nonzero(free)):
        t.known_bounds(x[i], 0, 1)  # now asserted by ``bits``
    changes = [x[i] if centre[i] == 0 else t.minus(1, x[i]) for i in zip(*np.nonzero(free))]  # |x - c|, linearly
    k = None if isinstance(region, AnyInput) else region.k
    budget = t.TRUE if k is None or k >= len(changes) else t.le(t.plus(changes), k)
    return x, t.and_(bits + [budget])


# ---------------------------------------------------------------- the encoding


@dataclass
class Encoding:
    """The counterexample query of one property: ``formula`` is satisfiable exactly when
    some raster of the region violates the condition.

    ``formula`` is the conjunction of ``parts`` (``region``, ``definitions``,
    ``violation``); ``input_vars[t][i]`` is the term of input bit ``(t, i)`` (a 0/1
    integer variable, or the centre's constant where the region fixes the bit);
    ``scores`` the final readout scores (``[]`` when the condition needs none).
    """

    formula: FNode
    input_vars: list[list[FNode]]
    env: Environment
    parts: dict[str, FNode]
    reference: int | None
    scores: list[FNode] = field(default_factory=list)
    logic: Any = LOGIC

    def to_smtlib(self) -> str:
        """The query as an SMT-LIB 2 script (``set-logic``, declarations, one ``assert``, ``check-sat``)."""
        with using(self.env):
            script = smtlibscript_from_formula(self.formula, logic=self.logic)
            buf = io.StringIO()
            script.serialize(buf, daggify=True)
        return buf.getvalue()

    def witness(self, value: Callable[[FNode], FNode]) -> np.ndarray:
        """The ``[T, n]`` raster of a model (``value`` evaluates a term in it)."""
        return np.array([[int(value(v).constant_value()) for v in row] for row in self.input_vars], dtype=np.int8)


def _reference(model: Model, centre: np.ndarray) -> int | None:
    ref = int(simulate(model, centre).prediction[0])
    return None if ref < 0 else ref


class EncodingTimeout(Exception):
    """Building the encoding ran past its deadline."""


def encode(model: Model, centre: Any, prop: Property, env: Environment | None = None,
           deadline: float | None = None) -> Encoding:
    """The counterexample query of ``prop`` around the ``[T, n]`` raster ``centre``
    (``deadline``: a ``time.perf_counter()`` value past which :class:`EncodingTimeout` is raised)."""
    arr, batched = check_raster(model, centre)
    if batched:
        raise VerisnnError("encode takes one centre raster [T, n], not a batch", "input")
    centre = arr[0]
    check_against_model(prop, model)
    env = env or Environment()
    reference = _reference(model, centre)
    with using(env):
        terms = Terms(env)
        x, region = region_inputs(terms, prop.region, centre)
        ops = SymbolicOps(terms, deadline)
        outputs, _ = semantics.run_layers(ops, model, symbolic_params(model), x, ())
        bad = violation(terms, ops, model, prop.condition, x, outputs, reference)
        scores = []
        if isinstance(prop.condition, Robust) and reference is not None:
            scores = readout_scores(terms, model.readout, outputs[-1])[0]
        parts = {"region": region, "definitions": terms.and_(ops.definitions), "violation": bad}
        formula = terms.and_(list(parts.values()))
    return Encoding(formula=formula, input_vars=[list(row) for row in x], env=env, parts=parts,
                    reference=reference, scores=scores)


# ---------------------------------------------------------------- solving


@dataclass
class Answer:
    """What a solver said: ``sat``, ``unsat`` or ``unknown`` (with ``reason``); on
    ``sat``, ``value`` evaluates a term in the model."""

    answer: str
    reason: str | None = None
    value: Callable[[FNode], FNode] | None = None


def solve(formula: FNode, env: Environment, solver: str = "z3", timeout: float | None = None,
          logic: Any = LOGIC) -> Answer:
    """Check ``formula`` with the pysmt solver ``solver``; ``timeout`` in seconds (z3 only)."""
    with using(env):
        options = {}
        if timeout is not None:
            if solver != "z3":
                return Answer("unknown", f"a timeout is only supported with z3 here, not {solver!r}")
            options["solver_options"] = {"timeout": max(1, int(timeout * 1000))}  # z3: milliseconds
        available = env.factory.all_solvers()
        if solver not in available:
            return Answer("unknown", f"solver {solver!r} is not installed (available: "
                                     f"{', '.join(sorted(available)) or 'none'})")
        s = env.factory.Solver(name=solver, logic=logic, **options)
        try:
            s.add_assertion(formula)
            try:
                sat = s.solve()
            except SolverReturnedUnknownResultError:
                why = s.z3.reason_unknown() if solver == "z3" else "no reason given"
                if "timeout" in why or "canceled" in why:
                    return Answer("unknown", f"solver timeout after {timeout} s ({why})")
                return Answer("unknown", f"solver answered unknown ({why})")
            if not sat:
                return Answer("unsat")
            model = s.get_model()
            values = {v: model.get_value(v) for v in formula.get_free_variables()}
            zero = env.formula_manager.Int(0)  # a variable the formula does not mention: any value
            return Answer("sat", value=lambda term: term if term.is_constant() else values.get(term, zero))
        finally:
            s.exit()


def _public(details: dict) -> dict:
    return {k: v for k, v in details.items() if k != "centre"}


def smt_verify(model: Model, centre: Any, prop: Property, *, solver: str = "z3", timeout: float | None = None
               ) -> Result:
    """Decide ``prop`` with an SMT solver. ``timeout`` (seconds) bounds encoding and solving
    together; running out of it is ``unknown``, never ``verified``."""
    t0 = time.perf_counter()
    elapsed = lambda: time.perf_counter() - t0  # noqa: E731
    try:
        arr, batched = check_raster(model, centre)
        if batched:
            raise VerisnnError("verify takes one centre raster [T, n], not a batch", "input")
        centre = arr[0]
        check_against_model(prop, model)
        size = region_size(prop.region, centre)
        reference = _reference(model, centre)
    except VerisnnError as e:
        return Result("error", METHOD, elapsed(), reason=str(e))
    details = {"region_size": size, "reference_decision": reference, "solver": solver, "centre": centre}
    if isinstance(prop.condition, Robust) and reference is None:
        # the centre is its own counterexample
        return report_witness(model, prop, centre, centre, None, METHOD, elapsed(), _public(details))
    try:
        enc = encode(model, centre, prop, deadline=None if timeout is None else t0 + timeout)
    except EncodingTimeout:
        return Result("unknown", METHOD, elapsed(), reason=f"timeout after {timeout} s (while encoding)",
                      details=_public(details))
    except VerisnnError as e:
        return Result("error", METHOD, elapsed(), reason=str(e), details=_public(details))
    except (PysmtException, RecursionError) as e:
        return Result("error", METHOD, elapsed(), reason=f"encoding failed: {e}", details=_public(details))
    if timeout is not None and elapsed() >= timeout:
        return Result("unknown", METHOD, elapsed(), reason=f"timeout after {timeout} s (while encoding)",
                      details=_public(details))
    try:
        ans = solve(enc.formula, enc.env, solver, None if timeout is None else timeout - elapsed())
    except Exception as e:  # a solver crash is an answer we cannot use, never a proof
        return Result("error", METHOD, elapsed(), reason=f"solver {solver!r} failed: {type(e).__name__}: {e}",
                      details=_public(details))
    if ans.answer == "unknown":
        return Result("unknown", METHOD, elapsed(), reason=ans.reason, details=_public(details))
    if ans.answer == "sat":
        return report_witness(model, prop, centre, enc.witness(ans.value), reference, METHOD, elapsed(),
                              _public(details))
    evidence = {"method": METHOD, "solver": solver, "answer": "unsat", "logic": str(enc.logic),
                "smtlib": enc.to_smtlib(), "model_sha256": model_hash(model),
                "centre_sha256": raster_sha256(centre),
                "property": prop.to_dict(), "region_size": size, "reference_decision": reference}
    return Result("verified", METHOD, elapsed(), evidence=evidence, details=_public(details))


def parse_smtlib(text: str, env: Environment | None = None) -> tuple[FNode, Environment]:
    """The asserted formula of an SMT-LIB script (for checking exported queries)."""
    env = env or Environment()
    with using(env):
        script = SmtLibParser(environment=env).get_script(io.StringIO(text))
        return script.get_last_formula(env.formula_manager), env


__all__ = ["Encoding", "SymbolicOps", "Terms", "encode", "parse_smtlib", "smt_verify", "solve", "symbolic_params"]
