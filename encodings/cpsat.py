"""The CP-SAT encoding: semantics v1 interpreted over OR-Tools CP-SAT, constrained by the bounds.

:class:`CpSatOps` is one more interpretation of :mod:`verisnn.semantics`: every value is a
:class:`Sym`, a numpy object array of Python ints (a value that is the same for every raster
of the region, folded) or CP-SAT linear expressions / variables, **together with** the
interval that :class:`verisnn.bounds.IntervalOps` computes for it over the whole region.
:func:`verisnn.semantics.run_layers` unrolls the network; each operation runs the interval
operation of ``bounds.py`` in lockstep (the same computation as :func:`verisnn.bounds.propagate`,
first-layer budget and reset correlation included) and the exact integer operation in CP-SAT:

* ``synapse``: ``Σ w·x + b`` over the non-zero weights, constants folded;
* ``decay``: a fresh integer ``q`` with ``2^shift·q <= num·x <= 2^shift·q + 2^shift - 1``
  (``toward_zero``: the ceiling when ``x < 0``, through a sign literal);
* ``overflow``: ``saturate`` as ``AddMaxEquality`` / ``AddMinEquality``, ``wrap`` as
  ``u = w + 2^bits·m`` with ``w`` in range;
* ``fire``: a Boolean ``s`` with ``u >= θ`` if ``s`` and ``u <= θ - 1`` if not ``s``;
* ``select`` / ``countdown`` / ``is_refractory``: enforced equalities, ``AddMaxEquality``.

Every fresh variable's domain is its interval, and every value whose interval is a single
point — in particular every spike the bounds decide — is the constant itself, with no
variable and no constraint. The intervals hold every value of every raster of the region,
so this removes no run: the CP-SAT model has exactly one solution per raster of the region
(the run's values), restricted by the negation of the condition. FEASIBLE is therefore a
counterexample and INFEASIBLE a proof. See ``docs/cpsat.md``.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np
import ortools
from ortools.sat.python import cp_model
from ortools.sat.python.cp_model_helper import NotBooleanVariable

from verisnn import semantics
from verisnn.bounds import Interval, IntervalOps, interval_params
from verisnn.bounds import input_bounds as bounds_input_bounds
from verisnn.errors import VerisnnError
from verisnn.interrupts import solve_cpsat
from verisnn.limits import DeadlineReached, check_deadline, count_json, time_limit
from verisnn.model import Model
from verisnn.model_format import model_hash
from verisnn.properties import (HARDWARE_CONDITIONS, AnyInput, DecidedBy, Deletions, FirstSpikeBy, Flips, Insertions,
                                Intensity, Jitter, NeverFires, NoOverflow, Property, Robust, SpikesAtMost, SynopsAtMost,
                                check_against_model, region_size)
from verisnn.semantics import LayerParams, Ops
from verisnn.simulator import simulate, single_raster
from verisnn.state import object_array as _objects
from verisnn.verify import Result, raster_sha256, report_witness, timeout_reason, violations

METHOD = "cpsat"
SOLVER = f"OR-Tools CP-SAT {ortools.__version__}"
DEFAULT_WORKERS = 2


class EncodingTimeout(Exception):
    """Building the CP-SAT model ran past its deadline."""


# ---------------------------------------------------------------- values


@dataclass(frozen=True, eq=False)  # numpy fields
class Sym:
    """A value of the CP-SAT domain: ``cp`` element-wise (a Python int, or a CP-SAT linear
    expression / variable) and ``iv``, an interval holding every value the element takes over
    the rasters of the region (what :class:`verisnn.bounds.IntervalOps` computes for it)."""

    cp: np.ndarray  # dtype object
    iv: Interval

    @property
    def shape(self) -> tuple[int, ...]:
        return self.cp.shape

    def __getitem__(self, idx) -> "Sym":
        return Sym(self.cp[idx], self.iv[idx])


def _is_const(x: Any) -> bool:
    return isinstance(x, int)


def _is_literal(x: Any) -> bool:
    """A CP-SAT Boolean variable or its negation (what ``OnlyEnforceIf`` accepts)."""
    return isinstance(x, cp_model.IntVar) and x.is_boolean or isinstance(x, NotBooleanVariable)


def _spread(x: Any, shape: tuple[int, ...]) -> np.ndarray:
    """A parameter (scalar or per neuron) broadcast to ``shape``, as an object array of Python ints."""
    arr = np.broadcast_to(np.asarray(x, dtype=np.int64), shape)
    return _objects(shape, lambda i: int(arr[i]))


class _Matrix:
    """An integer matrix in both domains: applied to an :class:`Interval` it is the bounds'
    interval product (the budgeted one for the first layer); ``w`` is the exact matrix for
    the CP-SAT sums."""

    def __init__(self, matrix: np.ndarray, interval_product: Callable[[Interval], Interval]):
        self.w = np.asarray(matrix, dtype=np.int64)
        self.product = interval_product

    def __call__(self, x: Interval) -> Interval:
        return self.product(x)


def cpsat_params(model: Model, centre: np.ndarray, free: np.ndarray, budget: int | None) -> list[LayerParams]:
    """Every layer's numbers: :func:`verisnn.bounds.interval_params` (exactly what
    :func:`verisnn.bounds.propagate` uses), with the matrices also kept as integers."""
    params = interval_params(model, centre, free, budget)
    out = []
    for layer, p in zip(model.layers, params):
        rec = None if layer.recurrent is None else _Matrix(layer.recurrent, p.recurrent)
        out.append(replace(p, weight=_Matrix(layer.dense_weight(), p.weight), recurrent=rec))
    return out


# ---------------------------------------------------------------- the interpretation


class CpSatOps(Ops):
    """Semantics v1 over CP-SAT (exact integers), constrained by the interval bounds.

    Values are :class:`Sym`. Each operation computes the interval with
    :class:`verisnn.bounds.IntervalOps` and the exact value in ``model``: a constant where
    the interval is a point, else a linear expression or a fresh variable whose domain is
    the interval. ``pre_overflow`` keeps every membrane before the overflow policy with its
    ``v_bits`` (for ``no_overflow``); ``fresh`` counts the fresh variables by kind.
    ``materialize``: give every non-constant membrane its own variable (domain: its
    interval) instead of passing the linear expression on.
    """

    def __init__(self, model: cp_model.CpModel | None = None, deadline: float | None = None,
                 materialize: bool = True):
        self.model = model if model is not None else cp_model.CpModel()
        self.intervals = IntervalOps()
        self.deadline = deadline  # a time.perf_counter() value past which building stops
        self.materialize = materialize
        self.pre_overflow: list[tuple[Sym, int]] = []
        self.fresh: Counter = Counter()
        # (t, i) -> the literal "input bit (t, i) is 1", for each bit the region may change
        # (set by region_inputs; the hardware event terms need the inputs as literals)
        self.input_literals: dict[tuple[int, int], Any] = {}

    # -- helpers

    def _check_time(self) -> None:
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise EncodingTimeout()

    def new_var(self, lo: int, hi: int, kind: str):
        """A fresh variable with domain ``[lo, hi]`` (Boolean when that is ``[0, 1]``)."""
        lo, hi = int(lo), int(hi)
        self.fresh[kind] += 1
        name = f"{kind}{self.fresh[kind]}"
        if lo == 0 and hi == 1:
            return self.model.new_bool_var(name)
        return self.model.new_int_var(lo, hi, name)

    def _build(self, iv: Interval, one: Callable[[tuple, int, int], Any]) -> Sym:
        """A :class:`Sym` with interval ``iv``: the point where ``iv`` is one, else ``one(idx, lo, hi)``."""
        self._check_time()
        lo, hi = iv.lo, iv.hi

        def fill(idx):
            a, b = int(lo[idx]), int(hi[idx])
            return a if a == b else one(idx, a, b)
        return Sym(_objects(iv.shape, fill), iv)

    def _materialized(self, x: Any, lo: int, hi: int, kind: str) -> Any:
        """``x``, or (``materialize``) a variable with domain ``[lo, hi]`` equal to it."""
        if not self.materialize or _is_const(x) or isinstance(x, cp_model.IntVar):
            return x
        v = self.new_var(lo, hi, kind)
        self.model.add(v == x)
        return v

    def _select_one(self, m: Any, a: Any, b: Any, lo: int, hi: int, kind: str = "sel") -> Any:
        """``a`` if the literal (or 0/1 constant) ``m``, else ``b``; the result lies in ``[lo, hi]``."""
        if _is_const(m):
            return a if m else b
        if a is b or (_is_const(a) and _is_const(b) and a == b):
            return a
        if not _is_literal(m):
            raise AssertionError("internal: a mask that is not a CP-SAT literal")
        if _is_const(a) and _is_const(b):
            if (a, b) == (1, 0):
                return m
            if (a, b) == (0, 1):
                return ~m
            if not (0 <= lo and hi <= 1):
                return b + (a - b) * m  # an affine expression of the literal, no variable
        y = self.new_var(lo, hi, kind)  # a Boolean when the result is 0/1, so it is a literal again
        self.model.add(y == a).only_enforce_if(m)
        self.model.add(y == b).only_enforce_if(~m)
        return y

    # -- Ops

    def _affine(self, matrix: _Matrix, x: Sym, bias: np.ndarray | None, iv: Interval) -> Sym:
        lead = x.shape[:-1]
        out_n = matrix.w.shape[0]
        cp = np.empty(lead + (out_n,), dtype=object)
        for pre in np.ndindex(*lead):
            self._check_time()
            xs = x.cp[pre]
            const_mask = np.array([_is_const(v) for v in xs], dtype=bool)
            consts = np.array([v if c else 0 for v, c in zip(xs, const_mask)], dtype=np.int64)
            base = matrix.w @ consts
            if bias is not None:
                base = base + bias
            var_cols = np.flatnonzero(~const_mask)
            for o in range(out_n):
                a, b = int(iv.lo[pre + (o,)]), int(iv.hi[pre + (o,)])
                if a == b:
                    cp[pre + (o,)] = a
                    continue
                w = matrix.w[o, var_cols]
                used = np.flatnonzero(w)
                expr = cp_model.LinearExpr.weighted_sum([xs[var_cols[j]] for j in used], [int(w[j]) for j in used])
                cp[pre + (o,)] = expr + int(base[o]) if base[o] else expr
        return Sym(cp, iv)

    def synapse(self, p: LayerParams, x: Sym) -> Sym:
        iv = self.intervals.synapse(p, x.iv)
        return self._affine(p.weight, x, np.asarray(p.bias, dtype=np.int64), iv)

    def recurrent(self, p: LayerParams, s: Sym) -> Sym:
        return self._affine(p.recurrent, s, None, self.intervals.recurrent(p, s.iv))

    def add(self, a: Sym, b: Sym) -> Sym:
        return self._build(self.intervals.add(a.iv, b.iv), lambda i, lo, hi: a.cp[i] + b.cp[i])

    def sub(self, a: Sym, b: Sym) -> Sym:
        return self._build(self.intervals.sub(a.iv, b.iv), lambda i, lo, hi: a.cp[i] - b.cp[i])

    def decay(self, x: Sym, decay, rounding: str) -> Sym:
        iv = self.intervals.decay(x.iv, decay, rounding)
        num, shift = (np.broadcast_to(np.asarray(d, dtype=np.int64), x.shape) for d in decay)

        def one(i, lo, hi):
            n, d = int(num[i]), 1 << int(shift[i])
            if n == d:
                return x.cp[i]
            q = self.new_var(lo, hi, "decay")
            y, dq = n * x.cp[i], d * q
            m = self.model
            xlo, xhi = int(x.iv.lo[i]), int(x.iv.hi[i])
            if rounding == "floor" or xlo >= 0:  # q = floor(y / d)
                m.add(dq <= y)
                m.add(y <= dq + (d - 1))
            elif xhi <= 0:  # toward zero of a non-positive y: q = ceil(y / d)
                m.add(dq - (d - 1) <= y)
                m.add(y <= dq)
            else:  # toward zero, either sign: a literal for x >= 0 chooses floor or ceiling
                nonneg = self.new_var(0, 1, "sign")
                m.add(x.cp[i] >= 0).only_enforce_if(nonneg)
                m.add(x.cp[i] <= -1).only_enforce_if(~nonneg)
                m.add(dq <= y).only_enforce_if(nonneg)
                m.add(y <= dq + (d - 1)).only_enforce_if(nonneg)
                m.add(dq - (d - 1) <= y).only_enforce_if(~nonneg)
                m.add(y <= dq).only_enforce_if(~nonneg)
            return q
        return self._build(iv, one)

    def overflow(self, u: Sym, bits: int, policy: str) -> Sym:
        self.pre_overflow.append((u, bits))
        iv = self.intervals.overflow(u.iv, bits, policy)
        half = 1 << (bits - 1)
        lo_r, hi_r = -half, half - 1

        def one(i, lo, hi):
            x, xlo, xhi = u.cp[i], int(u.iv.lo[i]), int(u.iv.hi[i])
            m = self.model
            if lo_r <= xlo and xhi <= hi_r:  # provably in range: both policies leave it alone
                return self._materialized(x, lo, hi, "u")
            if policy == "saturate":
                y = self.new_var(lo, hi, "sat")
                if xlo < lo_r and xhi > hi_r:
                    z = self.new_var(max(xlo, lo_r), max(xhi, lo_r), "sat")
                    m.add_max_equality(z, [x, lo_r])
                    m.add_min_equality(y, [z, hi_r])
                elif xhi > hi_r:
                    m.add_min_equality(y, [x, hi_r])
                else:
                    m.add_max_equality(y, [x, lo_r])
                return y
            q_lo, q_hi = (xlo + half) >> bits, (xhi + half) >> bits
            if q_lo == q_hi:  # one 2^bits window: the wrap is a constant shift
                return self._materialized(x - (q_lo << bits), lo, hi, "u")
            w = self.new_var(lo, hi, "wrap")
            k = self.new_var(q_lo, q_hi, "wraps")
            m.add(x == w + (1 << bits) * k)
            return w
        return self._build(iv, one)

    def fire(self, u: Sym, threshold, strict: bool) -> Sym:
        iv = self.intervals.fire(u.iv, threshold, strict)  # keeps u.iv: the reset uses the correlation
        cut = np.broadcast_to(np.asarray(threshold, dtype=np.int64) + (1 if strict else 0), u.shape)

        def one(i, lo, hi):
            s = self.new_var(0, 1, "spike")
            self.model.add(u.cp[i] >= int(cut[i])).only_enforce_if(s)
            self.model.add(u.cp[i] <= int(cut[i]) - 1).only_enforce_if(~s)
            return s
        return self._build(iv, one)

    def select(self, mask: Sym, a, b: Sym) -> Sym:
        a_cp = a.cp if isinstance(a, Sym) else _spread(a, b.shape)
        iv = self.intervals.select(mask.iv, a.iv if isinstance(a, Sym) else a, b.iv)
        return self._build(iv, lambda i, lo, hi: self._select_one(mask.cp[i], a_cp[i], b.cp[i], lo, hi))

    def spike_scale(self, s: Sym, c) -> Sym:
        iv = self.intervals.spike_scale(s.iv, c)  # keeps s.iv: the reset uses the correlation
        cs = np.broadcast_to(np.asarray(c, dtype=np.int64), s.shape)
        return self._build(iv, lambda i, lo, hi: int(cs[i]) * s.cp[i])

    def is_refractory(self, r: Sym) -> Sym:
        def one(i, lo, hi):
            h = self.new_var(0, 1, "held")
            self.model.add(r.cp[i] >= 1).only_enforce_if(h)
            self.model.add(r.cp[i] <= 0).only_enforce_if(~h)
            return h
        return self._build(self.intervals.is_refractory(r.iv), one)

    def countdown(self, r: Sym, s: Sym, period) -> Sym:
        iv = self.intervals.countdown(r.iv, s.iv, period)
        per = np.broadcast_to(np.asarray(period, dtype=np.int64), r.shape)

        def one(i, lo, hi):
            x, xlo, xhi = r.cp[i], int(r.iv.lo[i]), int(r.iv.hi[i])
            if xlo >= 1:
                down = x - 1
            elif xhi <= 0:
                down = 0
            elif xhi == 1:  # r in [0, 1]: max(r - 1, 0) = 0
                down = 0
            else:  # max(r - 1, 0)
                down = self.new_var(0, xhi - 1, "down")
                self.model.add_max_equality(down, [x - 1, 0])
            return self._select_one(s.cp[i], int(per[i]), down, lo, hi, "refr")
        return self._build(iv, one)

    def zeros(self, batch, n) -> Sym:
        iv = self.intervals.zeros(batch, n)
        return Sym(_objects(iv.shape, lambda i: 0), iv)

    def zero_spikes(self, like: Sym) -> Sym:
        iv = self.intervals.zero_spikes(like.iv)
        return Sym(_objects(iv.shape, lambda i: 0), iv)

    def at(self, seq: Sym, t: int) -> Sym:
        return seq[t]

    def stack(self, items: Sequence[Sym]) -> Sym:
        return Sym(np.stack([x.cp for x in items]), self.intervals.stack([x.iv for x in items]))

    def delay_time(self, seq: Sym, d: int) -> Sym:
        cp = _objects(seq.shape, lambda i: 0)
        if d < seq.shape[0]:
            cp[d:] = seq.cp[: seq.shape[0] - d]
        return Sym(cp, self.intervals.delay_time(seq.iv, d))


# ---------------------------------------------------------------- conditions (their negations)


class Lin(NamedTuple):
    """A linear expression (or Python int) with an interval holding all its values over the region."""

    expr: Any
    lo: int
    hi: int


def _lin(x: Sym, idx) -> Lin:
    return Lin(x.cp[idx], int(x.iv.lo[idx]), int(x.iv.hi[idx]))


def _sum(items: Sequence[Lin], coeffs: Sequence[int] | None = None) -> Lin:
    coeffs = [1] * len(items) if coeffs is None else [int(c) for c in coeffs]
    const, exprs, cs, lo, hi = 0, [], [], 0, 0
    for x, c in zip(items, coeffs):
        if c == 0:
            continue
        if _is_const(x.expr):
            const += c * x.expr
        else:
            exprs.append(x.expr)
            cs.append(c)
        lo += min(c * x.lo, c * x.hi)
        hi += max(c * x.lo, c * x.hi)
    if lo == hi:
        return Lin(lo, lo, hi)
    expr = cp_model.LinearExpr.weighted_sum(exprs, cs) + const if exprs else const
    return Lin(expr, lo, hi)


TRUE, FALSE = True, False  # atoms decided by the intervals


class Violation:
    """Builds the negation of a condition in a CP-SAT model from *atoms*: ``True``/``False``
    where the intervals decide a comparison, else a fresh literal that implies it
    (half-reified: a literal may be false while its comparison holds, which is enough to ask
    whether some run satisfies a disjunction)."""

    def __init__(self, ops: CpSatOps):
        self.ops = ops
        self.m = ops.model

    def le(self, e: Lin, c: int) -> Any:
        """An atom for ``e <= c``."""
        if e.hi <= c:
            return TRUE
        if e.lo > c:
            return FALSE
        self.ops._check_time()
        b = self.ops.new_var(0, 1, "atom")
        self.m.add(e.expr <= c).only_enforce_if(b)
        return b

    def ge(self, e: Lin, c: int) -> Any:
        """An atom for ``e >= c``."""
        return self.le(Lin(-e.expr, -e.hi, -e.lo), -c)

    @staticmethod
    def spike(x: Any) -> Any:
        """The atom "this spike is 1" of a 0/1 constant or literal."""
        return bool(x) if _is_const(x) else x

    def all_zero(self, spikes: Sequence[Any]) -> Any:
        """An atom for "every one of these spikes (constants or literals) is 0"."""
        lits = [x for x in spikes if not _is_const(x)]
        if any(_is_const(x) and x for x in spikes):
            return FALSE
        if not lits:
            return TRUE
        b = self.ops.new_var(0, 1, "atom")
        for x in lits:
            self.m.add_implication(b, ~x)
        return b

    def clause(self, atoms: Sequence[Any]) -> None:
        """Require at least one atom (no atom left: the model is infeasible)."""
        if any(a is TRUE for a in atoms):
            return
        self.m.add_bool_or([a for a in atoms if a is not FALSE])


def _first_spike_scores(v: Violation, seq: Sym) -> tuple[list[Lin], list[Any]]:
    """``first_spike`` scores ``steps - first`` (``-1`` for never) through prefix literals
    ``p_t`` ("fired at some step <= t"): the score is ``Σ_t p_t - 1 + p_last``. Also returns
    each class's ``p_last``."""
    steps, m = seq.shape
    scores, fired = [], []
    for j in range(m):
        p, prefix = 0, []
        for t in range(steps):
            s = seq.cp[t, j]
            if _is_const(p) and p == 1 or _is_const(s) and s == 1:
                p = 1
            elif _is_const(s):  # s == 0: p stays
                pass
            elif _is_const(p):  # p == 0: p is s
                p = s
            else:
                q = v.ops.new_var(0, 1, "fired")
                v.m.add_max_equality(q, [p, s])
                p = q
            prefix.append(Lin(p, p if _is_const(p) else 0, p if _is_const(p) else 1))
        scores.append(_sum(prefix + [Lin(-1, -1, -1), prefix[-1]]))
        fired.append(prefix[-1].expr)
    return scores, fired


def readout_scores(v: Violation, readout, seq: Sym) -> tuple[list[Lin], Any]:
    """The readout's per-class scores over ``seq`` ``[T', m]`` (a larger score wins, as in
    :func:`verisnn.readout.decide`) and the atom "no decision is possible at all"."""
    steps, m = seq.shape
    if readout.type == "spike_count":
        return [_sum([_lin(seq, (t, j)) for t in range(steps)]) for j in range(m)], FALSE
    if readout.type == "first_spike":
        scores, fired = _first_spike_scores(v, seq)
        return scores, v.all_zero(fired)
    if readout.type == "membrane_final":
        return [_lin(seq, (steps - 1, j)) for j in range(m)], FALSE
    if readout.type == "membrane_max":
        scores = []
        for j in range(m):
            items = [_lin(seq, (t, j)) for t in range(steps)]
            lo, hi = max(x.lo for x in items), max(x.hi for x in items)
            live = [x for x in items if x.hi >= lo]  # an element below another's minimum is never the max
            if lo == hi:
                scores.append(Lin(lo, lo, hi))
            elif len(live) == 1:
                scores.append(live[0])
            else:
                best = v.ops.new_var(lo, hi, "max")
                v.m.add_max_equality(best, [x.expr for x in live])
                scores.append(Lin(best, lo, hi))
        return scores, FALSE
    raise VerisnnError(f"the cpsat method has no encoding of readout {readout.type!r}", "readout")


def _loses_to(v: Violation, ties: str, scores: list[Lin], j: int, i: int) -> Any:
    """An atom for "class ``j`` does not beat class ``i``" (``j`` beats ``i``: a larger
    score, or an equal one when ``ties`` is ``lowest_index`` and ``j < i``)."""
    d = _sum([scores[j], scores[i]], [1, -1])
    return v.le(d, -1) if ties == "lowest_index" and j < i else v.le(d, 0)


def not_decides(v: Violation, readout, scores: list[Lin], no_decision: Any, j: int) -> list[Any]:
    """Atoms whose disjunction says "the decision is not class ``j``": no decision is possible,
    or SOME other class ties or beats ``j`` (a disjunction over the other classes)."""
    return [no_decision] + [_loses_to(v, readout.ties, scores, j, i) for i in range(len(scores)) if i != j]


def _synops(model: Model, raster: Sym, outputs: list[Sym]) -> Lin:
    """DESIGN.md's synops as a linear expression (see :func:`verisnn.simulator.synops`)."""
    T = model.time_steps
    items, coeffs, x = [], [], raster
    for layer, out in zip(model.layers, outputs):
        fanout = layer.fanout()
        for step in range(max(0, T - layer.delay)):
            for i in np.flatnonzero(fanout):
                items.append(_lin(x, (step, i)))
                coeffs.append(int(fanout[i]))
        if layer.recurrent is not None and layer.neuron.fires:
            rec = (np.asarray(layer.recurrent) != 0).sum(axis=0)
            for step in range(T - 1):
                for j in np.flatnonzero(rec):
                    items.append(_lin(out, (step, j)))
                    coeffs.append(int(rec[j]))
        x = out
    return _sum(items, coeffs)


def add_violation(ops: CpSatOps, model: Model, cond, raster: Sym, outputs: list[Sym],
                  reference: int | None) -> None:
    """Constrain ``ops.model`` to the runs that violate ``cond`` (what
    :func:`verisnn.verify.violations` checks), so that FEASIBLE means a counterexample."""
    v = Violation(ops)
    last = outputs[-1]
    ro = model.readout
    if isinstance(cond, Robust):
        if reference is None:
            return  # the centre has no decision: every input violates robustness
        scores, none = readout_scores(v, ro, last)
        v.clause(not_decides(v, ro, scores, none, reference))
    elif isinstance(cond, DecidedBy):
        # violated iff for every class j: j is not the early decision or not the final one
        early, early_none = readout_scores(v, ro, last[: cond.k])
        final, final_none = readout_scores(v, ro, last)
        for j in range(len(final)):
            v.clause(not_decides(v, ro, early, early_none, j) + not_decides(v, ro, final, final_none, j))
    elif isinstance(cond, FirstSpikeBy):
        v.clause([v.all_zero(list(last.cp[: cond.k].reshape(-1)))])
    elif isinstance(cond, SpikesAtMost):
        spikes = [_lin(out, i) for out, layer in zip(outputs, model.layers) if layer.neuron.fires
                  for i in np.ndindex(*out.shape)]
        v.clause([v.ge(_sum(spikes), cond.e + 1)])
    elif isinstance(cond, SynopsAtMost):
        v.clause([v.ge(_synops(model, raster, outputs), cond.s + 1)])
    elif isinstance(cond, NeverFires):
        v.clause([v.spike(x) for x in outputs[cond.layer].cp[:, cond.neuron]])
    elif isinstance(cond, HARDWARE_CONDITIONS):
        from verisnn.worst_case import add_hardware_violation  # the hardware event terms build on this module

        add_hardware_violation(v, model, cond, raster, outputs)
    elif isinstance(cond, NoOverflow):
        atoms = []
        for u, bits in ops.pre_overflow:
            lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
            for i in np.ndindex(*u.shape):
                x = _lin(u, i)
                atoms += [v.le(x, lo - 1), v.ge(x, hi + 1)]
        v.clause(atoms)
    else:
        raise VerisnnError(f"the cpsat method has no encoding of the condition {type(cond).__name__}", "condition")


# ---------------------------------------------------------------- regions


def input_bounds(region, centre: np.ndarray, step_budget: np.ndarray | None = None
                 ) -> tuple[np.ndarray, int | np.ndarray | None, Interval]:
    """:func:`verisnn.bounds.input_bounds` for the regions this encoding covers."""
    if not isinstance(region, (Flips, Deletions, Insertions, AnyInput)):
        raise VerisnnError(f"the cpsat method has no encoding of the region {type(region).__name__} "
                           f"(flips, deletions, insertions and any are encoded)", "region")
    return bounds_input_bounds(region, centre, step_budget)


def region_inputs(ops: CpSatOps, region, centre: np.ndarray, step_budget: np.ndarray | None = None
                  ) -> tuple[Sym, list[tuple[int, int, Any]], np.ndarray, int | np.ndarray | None]:
    """The input raster ``[T, n]`` as a :class:`Sym`: ``centre XOR flip`` (the linear
    ``c + (1 - 2c)·f``) with a Boolean flip ``f`` per bit the region may change, the centre's
    constant elsewhere, and ``Σ f <= k`` (and ``Σ_i f[t, i] <= step_budget[t]``). Returns the
    raster, the flips ``(t, i, f)`` and the free bits and budget the bounds use."""
    free, budget, iv = input_bounds(region, centre, step_budget)
    flips = []

    def bit(idx):
        c = int(centre[idx])
        if not free[idx]:
            return c
        check_deadline()  # one flip variable per free input bit: up to T * n of them
        f = ops.model.new_bool_var(f"flip_{idx[0]}_{idx[1]}")
        flips.append((idx[0], idx[1], f))
        ops.input_literals[(int(idx[0]), int(idx[1]))] = f if c == 0 else ~f
        return f if c == 0 else 1 - f
    x = Sym(_objects(centre.shape, bit), iv)
    k = None if isinstance(region, AnyInput) else region.k
    if k is not None and k < len(flips):
        ops.model.add(sum(f for _, _, f in flips) <= k)
    if step_budget is not None:
        by_step: dict[int, list] = {}
        for s, _, f in flips:
            by_step.setdefault(int(s), []).append(f)
        for t, at_t in by_step.items():
            check_deadline()
            if int(budget[t]) < len(at_t):
                ops.model.add(sum(at_t) <= int(budget[t]))
    return x, flips, free, budget


# ---------------------------------------------------------------- the encoding


@dataclass
class Encoding:
    """The counterexample query of one property: ``model`` is FEASIBLE exactly when some
    raster of the region violates the condition.

    ``flips[(t, i, f)]``: the Boolean ``f`` flips input bit ``(t, i)`` of ``centre``;
    ``spikes``: the spike variables the bounds leave undecided, earliest step first, then
    layer order (the search's branching order); ``stats``: sizes for the report.
    """

    model: cp_model.CpModel
    centre: np.ndarray
    flips: list[tuple[int, int, Any]]
    spikes: list[Any]
    reference: int | None
    stats: dict = field(default_factory=dict)

    def witness(self, value: Callable[[Any], int]) -> np.ndarray:
        """The ``[T, n]`` raster of a solution (``value`` reads a variable)."""
        out = self.centre.astype(np.int8).copy()
        for t, i, f in self.flips:
            if value(f):
                out[t, i] ^= 1
        return out

    def export_model(self, path: str | Path) -> None:
        """Write the CP-SAT model as protobuf text (``CpModelProto``); :func:`load_model_text`
        reads it back, and any CP-SAT can solve it again."""
        Path(path).write_text(str(self.model.proto))

    def proto_sha256(self) -> str:
        """SHA-256 of the model proto's serialized (binary) bytes."""
        fd, name = tempfile.mkstemp(suffix=".pb")
        os.close(fd)
        try:
            if not self.model.export_to_file(name):
                raise VerisnnError("internal: could not serialize the CP-SAT model")
            return hashlib.sha256(Path(name).read_bytes()).hexdigest()
        finally:
            os.unlink(name)


def load_model_text(text: str) -> cp_model.CpModel:
    """A CP-SAT model from the protobuf text :meth:`Encoding.export_model` writes."""
    model = cp_model.CpModel()
    if not model.proto.parse_text_format(text):
        raise VerisnnError("not a CP-SAT model in protobuf text form", "model")
    return model


def _reference(model: Model, centre: np.ndarray) -> int | None:
    ref = int(simulate(model, centre).prediction[0])
    return None if ref < 0 else ref


STRATEGIES = ("spikes", "flips", "none")


def encode(model: Model, centre: Any, prop: Property, *, deadline: float | None = None,
           strategy: str = "spikes", materialize: bool = True, value: str = "min", hint: bool = False,
           step_budget: np.ndarray | None = None, budgeted: bool = True) -> Encoding:
    """The counterexample query of ``prop`` around the ``[T, n]`` raster ``centre``
    (``deadline``: a ``time.perf_counter()`` value past which :class:`EncodingTimeout` is raised).

    ``strategy``: the decision strategy added to the model — ``spikes`` (the spikes the
    bounds leave undecided, earliest step first, then layer order: branch and bound on the
    hidden activity), ``flips`` (the input flips) or ``none``; ``value`` tries ``min``
    (0, no spike / no flip) or ``max`` first; ``hint`` gives CP-SAT the centre's run as a
    solution hint (:func:`add_centre_hint`); ``materialize``: see :class:`CpSatOps`;
    ``step_budget`` (``[T]``): only the rasters with at most ``step_budget[t]`` changes at
    step ``t``, with the bounds of that case; ``budgeted=False`` leaves out the bounds' use of
    the region's budget in the first layer (plain interval arithmetic: looser domains, fewer
    spikes fixed — for comparison)."""
    centre = single_raster(model, centre, "encode takes one centre raster", error=VerisnnError)
    check_against_model(prop, model)
    if strategy not in STRATEGIES:
        raise VerisnnError(f"unknown strategy {strategy!r}; available: {', '.join(STRATEGIES)}", "strategy")
    if value not in ("min", "max"):
        raise VerisnnError(f"unknown value order {value!r}; available: min, max", "value")
    reference = _reference(model, centre)
    ops = CpSatOps(deadline=deadline, materialize=materialize)
    c64 = centre.astype(np.int64)
    x, flips, free, budget = region_inputs(ops, prop.region, c64, step_budget)
    params = cpsat_params(model, c64, free, budget if budgeted else None)
    outputs, _ = semantics.run_layers(ops, model, params, x, ())
    enc = Encoding(model=ops.model, centre=centre, flips=flips, spikes=[], reference=reference)
    hinted = add_centre_hint(enc, deadline) if hint else False
    add_violation(ops, model, prop.condition, x, outputs, reference)
    fires = [k for k, layer in enumerate(model.layers) if layer.neuron.fires]
    spikes = [outputs[k].cp[t, j] for t in range(model.time_steps) for k in fires
              for j in range(outputs[k].shape[1]) if not _is_const(outputs[k].cp[t, j])]
    total = sum(outputs[k].cp.size for k in fires)
    order = {"spikes": spikes, "flips": [f for _, _, f in flips], "none": []}[strategy]
    if order:
        pick = cp_model.SELECT_MIN_VALUE if value == "min" else cp_model.SELECT_MAX_VALUE
        ops.model.add_decision_strategy(order, cp_model.CHOOSE_FIRST, pick)
    stats = {"flip_variables": len(flips), "spikes": total, "undecided_spikes": len(spikes),
             "spikes_fixed_by_bounds": total - len(spikes), "fresh_variables": dict(ops.fresh),
             "may_overflow": ops.intervals.may_overflow, "centre_hint": hinted}
    enc.spikes, enc.stats = spikes, stats
    return enc


def add_centre_hint(enc: Encoding, deadline: float | None = None) -> bool:
    """Hint every variable with its value on the centre's run (all flips 0): solved on a copy
    of the model with the flips fixed and without the violation, which propagation decides.
    Must be called before the violation is added. Returns whether a hint was added."""
    copy = enc.model.clone()
    for _, _, f in enc.flips:
        copy.add(copy.get_bool_var_from_proto_index(f.index) == 0)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    if deadline is not None:
        left = deadline - time.perf_counter()
        if left <= 0:
            return False
        solver.parameters.max_time_in_seconds = left
    if solve_cpsat(solver, copy) not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return False
    values = solver.response_proto.solution
    for k in range(len(enc.model.proto.variables)):
        enc.model.add_hint(enc.model.get_int_var_from_proto_index(k), int(values[k]))
    return True


# ---------------------------------------------------------------- solving


def _set_parameters(solver: cp_model.CpSolver, parameters: dict[str, Any]) -> None:
    """Set CP-SAT parameters by name (``SatParameters`` fields; enum values by their name)."""
    for key, val in parameters.items():
        if not hasattr(solver.parameters, key) or key.startswith("_"):
            raise VerisnnError(f"unknown CP-SAT parameter {key!r}", "parameters")
        if isinstance(val, str):
            if not hasattr(solver.parameters, val):
                raise VerisnnError(f"unknown value {val!r} for CP-SAT parameter {key!r}", f"parameters.{key}")
            val = getattr(solver.parameters, val)
        try:
            setattr(solver.parameters, key, val)
        except (TypeError, ValueError) as e:
            raise VerisnnError(f"bad value {val!r} for CP-SAT parameter {key!r}: {e}", f"parameters.{key}") from None


def cpsat_verify(model: Model, centre: Any, prop: Property, *, timeout: float | None = None,
                 workers: int = DEFAULT_WORKERS, strategy: str = "spikes", value: str = "min",
                 materialize: bool = True, hint: bool = False, budgeted: bool = True,
                 parameters: dict[str, Any] | None = None, started: float | None = None) -> Result:
    """Decide ``prop`` with CP-SAT. ``timeout`` (seconds) bounds building and solving together;
    running out of it is ``unknown``, never ``verified``. ``workers``: CP-SAT's ``num_workers``;
    ``parameters``: further ``SatParameters`` by name (e.g. ``{"linearization_level": 2}``);
    ``strategy``, ``value``, ``materialize``, ``hint``, ``budgeted``: see :func:`encode`.
    ``started``: the ``time.perf_counter()`` the timeout counts from (default: now; a caller
    that spent part of its limit already passes its own start)."""
    t0 = time.perf_counter() if started is None else started
    elapsed = lambda: time.perf_counter() - t0  # noqa: E731
    try:
        centre = single_raster(model, centre, "verify takes one centre raster", error=VerisnnError)
        check_against_model(prop, model)
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
            raise VerisnnError(f"expected a positive number of workers, got {workers!r}", "workers")
        if timeout is not None and not (isinstance(timeout, (int, float)) and timeout >= 0):
            raise VerisnnError(f"expected a non-negative timeout in seconds, got {timeout!r}", "timeout")
        solver = cp_model.CpSolver()
        _set_parameters(solver, parameters or {})
    except VerisnnError as e:
        return Result("error", METHOD, elapsed(), reason=str(e))
    if isinstance(prop.region, (Jitter, Intensity)):
        return Result("unknown", METHOD, elapsed(), reason=f"the cpsat method does not encode "
                      f"{type(prop.region).__name__.lower()} regions (flips, deletions, insertions and any are "
                      f"encoded); use the enumerate or auto method")
    details: dict[str, Any] = {}
    try:
        with time_limit(None if timeout is None else t0 + timeout):
            return _decide(model, centre, prop, solver, workers, t0, timeout, details, strategy=strategy, value=value,
                           materialize=materialize, hint=hint, budgeted=budgeted)
    except DeadlineReached:
        return Result("unknown", METHOD, time.perf_counter() - t0, reason=timeout_reason(t0, timeout), details=details)


def _decide(model: Model, centre: np.ndarray, prop: Property, solver: cp_model.CpSolver, workers: int, t0: float,
            timeout: float | None, details: dict, **options) -> Result:
    """:func:`cpsat_verify` once its arguments are checked, within its time limit; fills ``details``."""
    elapsed = lambda: time.perf_counter() - t0  # noqa: E731
    deadline = None if timeout is None else t0 + timeout
    size = region_size(prop.region, centre)
    reference = _reference(model, centre)
    details.update(region_size=count_json(size), reference_decision=reference)
    if violations(model, prop, centre[None], reference)[0]:  # the centre is its own counterexample
        return report_witness(model, prop, centre, centre, reference, METHOD, elapsed(), {**details, "stage": "centre"})
    try:
        enc = encode(model, centre, prop, deadline=deadline, **options)
    except EncodingTimeout:
        return Result("unknown", METHOD, elapsed(), reason=timeout_reason(t0, timeout, "while building the model"),
                      details=details)
    except VerisnnError as e:
        return Result("error", METHOD, elapsed(), reason=str(e), details=details)
    except Exception as e:  # a defect of the encoding or of the CP-SAT wrapper: never a verdict
        return Result("error", METHOD, elapsed(), reason=f"internal: building the CP-SAT model failed: "
                      f"{type(e).__name__}: {e}", details=details)
    build_s = elapsed()
    details.update(enc.stats, build_s=round(build_s, 6))
    if deadline is not None and time.perf_counter() >= deadline:
        return Result("unknown", METHOD, elapsed(), reason=timeout_reason(t0, timeout, "while building the model"),
                      details=details)
    solver.parameters.num_workers = workers
    if deadline is not None:
        solver.parameters.max_time_in_seconds = max(deadline - time.perf_counter(), 1e-3)
    try:
        status = solve_cpsat(solver, enc.model)  # a Ctrl-C raises KeyboardInterrupt, never UNKNOWN
    except Exception as e:  # a solver crash is an answer we cannot use, never a proof
        return Result("error", METHOD, elapsed(), reason=f"internal: CP-SAT failed: {type(e).__name__}: {e}",
                      details=details)
    name = solver.status_name(status)
    details.update(status=name, solve_s=round(solver.wall_time, 6), branches=solver.num_branches,
                   conflicts=solver.num_conflicts)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        witness = enc.witness(lambda f: solver.value(f))
        return report_witness(model, prop, centre, witness, reference, METHOD, elapsed(), details)
    if status == cp_model.INFEASIBLE:
        proto = enc.model.proto
        evidence = {"method": METHOD, "model_sha256": model_hash(model), "centre_sha256": raster_sha256(centre),
                    "property": prop.to_dict(), "region_size": count_json(size), "reference_decision": reference,
                    "solver": SOLVER, "status": name, "variables": len(proto.variables),
                    "constraints": len(proto.constraints), "model_sha256_cpsat": enc.proto_sha256()}
        return Result("verified", METHOD, elapsed(), evidence=evidence, details=details)
    if status == cp_model.MODEL_INVALID:
        return Result("error", METHOD, elapsed(), reason=f"internal: CP-SAT found the model invalid: "
                      f"{enc.model.validate()}", details=details)
    answered = f"CP-SAT answered {name} ({solver.solution_info() or 'no reason given'})"
    return Result("unknown", METHOD, elapsed(), reason=answered if timeout is None else
                  timeout_reason(t0, timeout, answered), details=details)


__all__ = ["CpSatOps", "Encoding", "EncodingTimeout", "Sym", "add_violation", "cpsat_verify", "encode",
           "load_model_text", "readout_scores", "region_inputs"]
