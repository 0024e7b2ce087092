"""The SMT encoding: semantics v1 interpreted over solver terms, and a verifier on it.

:class:`SymbolicOps` is one more interpretation of :mod:`verisnn.semantics` (next to the
numpy and torch ones): every value is a numpy object array of terms (Python ``int`` where
a value is a known constant), and :func:`verisnn.semantics.run_layers` unrolls the network
over the ``T`` steps. The LIF update is not written here; only its operations are, and
only once, over a :class:`Terms` object that folds constants and tracks a sound interval
per term. Two *arithmetics* and two *solver APIs* combine freely:

* arithmetic (``logic``): :class:`IntTerms` — exact linear integer arithmetic (QF_LIA),
  where ``decay`` is a fresh integer fixed by linear bounds and ``wrap`` a fresh quotient —
  or :class:`BVTerms` — bit-vectors (QF_BV), every term exactly as wide as its interval
  needs, ``decay`` an arithmetic shift right and ``wrap`` the low ``v_bits`` bits (bit-true
  two's complement);
* term factory (``solver``): :class:`PysmtFactory` (pysmt terms, solved by any pysmt
  solver: z3, cvc5) or :class:`Z3Factory` (z3 Python API terms built directly, solver
  ``"z3-native"``).

:func:`encode` asks for a *counterexample*: the region's inputs, the definitions, and the
negation of the condition; :func:`smt_verify` solves it, reports ``verified`` only on UNSAT
(with the SMT-LIB text as evidence) and ``falsified`` only for a model whose input raster
replays on the reference simulator. See ``docs/smt.md``.
"""

from __future__ import annotations

import io
import time
from abc import ABC, abstractmethod
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import z3
from z3 import z3core as zc
from z3.z3 import _to_expr_ref  # an AST of any sort as its Python API expression
from pysmt.environment import Environment, pop_env, push_env
from pysmt.exceptions import PysmtException, SolverReturnedUnknownResultError
from pysmt.fnode import FNode
from pysmt.logics import convert_logic_from_string
from pysmt.smtlib.parser import SmtLibParser
from pysmt.smtlib.script import smtlibscript_from_formula
from pysmt.typing import BOOL, INT

from verisnn import semantics
from verisnn.errors import VerisnnError
from verisnn.interrupts import check_z3_reason
from verisnn.limits import DeadlineReached, check_deadline, count_json, time_limit
from verisnn.model import Model
from verisnn.model_format import model_hash
from verisnn.properties import (HARDWARE_CONDITIONS, AnyInput, DecidedBy, Deletions, FirstSpikeBy, Flips, Insertions,
                                NeverFires, NoOverflow, Property, Robust, SpikesAtMost, SynopsAtMost,
                                check_against_model, region_size)
from verisnn.semantics import LayerParams, Ops
from verisnn.simulator import ArraySequences, simulate, single_raster
from verisnn.state import object_array as _objects
from verisnn.verify import Result, raster_sha256, report_witness, timeout_reason

INF = float("inf")
METHOD = "smt"
LOGICS = {"lia": "QF_LIA", "bv": "QF_BV"}  # smt_verify's ``logic`` -> the SMT-LIB logic of the query
NATIVE_Z3 = "z3-native"  # the solver name that builds z3 terms directly instead of through pysmt
Term = Any  # a solver term (pysmt FNode or z3 ExprRef) or a Python int


@contextmanager
def using(env: Environment):
    """Make ``env`` pysmt's current environment: some pysmt functions (free variables,
    printing) consult the global one, and every term here belongs to ``env``."""
    push_env(env)
    try:
        yield env
    finally:
        pop_env()


def _lift(x: Any) -> np.ndarray:
    """A value as an object array (numbers become Python ints; terms stay as they are)."""
    if isinstance(x, np.ndarray) and x.dtype == object:
        return x
    arr = np.asarray(x)
    return _objects(arr.shape, lambda i: int(arr[i]) if arr.dtype != object else arr[i])


def decay_const(v: int, num: int, shift: int, rounding: str) -> int:
    """The ``decay`` operation on a known integer (``floor`` or ``toward_zero``)."""
    return (v * num) >> shift if rounding == "floor" or v >= 0 else -((-v * num) >> shift)


def signed_width(lo: float, hi: float) -> int:
    """The fewest two's-complement bits that hold every integer of ``[lo, hi]``."""
    if lo == -INF or hi == INF:
        raise VerisnnError("internal: a bit-vector term without finite bounds", "logic")

    def one(v: int) -> int:
        return (v.bit_length() if v >= 0 else (-v - 1).bit_length()) + 1
    return max(one(int(lo)), one(int(hi)))


# ---------------------------------------------------------------- term factories (solver APIs)


@dataclass
class Answer:
    """What a solver said: ``sat``, ``unsat`` or ``unknown`` (with ``reason``); on ``sat``,
    ``values`` holds the integer value of each term asked for."""

    answer: str
    reason: str | None = None
    values: list[int] | None = None


class TermFactory(ABC):
    """Raw term constructors of one solver API, no folding (that is :class:`Terms`' job).

    Integer operations act on the solver's integer sort; ``bv_*`` on bit-vectors of equal
    widths (comparisons signed). ``key(t)`` is a hashable identity of a term (terms are
    hash-consed in both APIs, so equal terms have equal keys).
    """

    name: str
    TRUE: Term
    FALSE: Term

    @abstractmethod
    def bool_var(self, name: str) -> Term: ...
    @abstractmethod
    def int_var(self, name: str) -> Term: ...
    @abstractmethod
    def int_const(self, v: int) -> Term: ...
    @abstractmethod
    def bv_const(self, v: int, width: int) -> Term:
        """``v`` modulo ``2^width``."""
    @abstractmethod
    def and_(self, items: Sequence[Term]) -> Term: ...
    @abstractmethod
    def or_(self, items: Sequence[Term]) -> Term: ...
    @abstractmethod
    def not_(self, f: Term) -> Term: ...
    @abstractmethod
    def implies(self, a: Term, b: Term) -> Term: ...
    @abstractmethod
    def ite(self, c: Term, a: Term, b: Term) -> Term: ...
    @abstractmethod
    def eq(self, a: Term, b: Term) -> Term: ...
    @abstractmethod
    def plus(self, items: Sequence[Term]) -> Term: ...
    @abstractmethod
    def minus(self, a: Term, b: Term) -> Term: ...
    @abstractmethod
    def times(self, c: int, t: Term) -> Term: ...
    @abstractmethod
    def le(self, a: Term, b: Term) -> Term: ...
    @abstractmethod
    def lt(self, a: Term, b: Term) -> Term: ...
    @abstractmethod
    def bv_add(self, items: Sequence[Term]) -> Term: ...
    @abstractmethod
    def bv_sub(self, a: Term, b: Term) -> Term: ...
    @abstractmethod
    def bv_mul(self, a: Term, b: Term) -> Term: ...
    @abstractmethod
    def bv_sle(self, a: Term, b: Term) -> Term: ...
    @abstractmethod
    def bv_slt(self, a: Term, b: Term) -> Term: ...
    @abstractmethod
    def sext(self, t: Term, extra: int) -> Term:
        """``t`` sign-extended by ``extra`` bits."""
    @abstractmethod
    def low_bits(self, t: Term, width: int) -> Term:
        """The low ``width`` bits of ``t`` (``extract``)."""
    @abstractmethod
    def ashr(self, t: Term, shift: int, width: int) -> Term:
        """Arithmetic shift right of the ``width``-bit ``t`` by the constant ``shift < width``."""
    @abstractmethod
    def key(self, t: Term) -> Any: ...
    @abstractmethod
    def is_bool(self, t: Term) -> bool: ...

    def active(self):
        """A context in which terms of this factory may be built and printed."""
        return nullcontext()

    @abstractmethod
    def smtlib(self, formula: Term, logic: str) -> str:
        """``formula`` as an SMT-LIB 2 script: ``set-logic``, declarations, one ``assert``, ``check-sat``."""

    @abstractmethod
    def check(self, formula: Term, logic: str, timeout: float | None, wanted: Sequence[Term]) -> Answer:
        """Satisfiability of ``formula``; on ``sat`` the values of ``wanted``. ``timeout`` in seconds."""


def _balanced(add: Callable[[Term, Term], Term], items: Sequence[Term]) -> Term:
    """The sum of ``items`` with a binary ``add``, as a balanced tree (``bvadd`` is binary:
    a left-leaning chain of thousands of nodes is slow to build, solve and free)."""
    items = list(items)
    while len(items) > 1:
        items = [add(items[i], items[i + 1]) if i + 1 < len(items) else items[i] for i in range(0, len(items), 2)]
    return items[0]


def _timeout_reason(why: str, timeout: float | None) -> str:
    check_z3_reason(why)  # a Ctrl-C that z3 caught is an interrupt, not an unknown
    if "timeout" in why or "canceled" in why:
        return f"solver timeout after {timeout} s ({why})"
    return f"solver answered unknown ({why})"


class PysmtFactory(TermFactory):
    """pysmt terms in one :class:`Environment`, solved by the pysmt solver ``solver``
    (``z3``, or ``cvc5`` when its Python bindings are installed)."""

    def __init__(self, env: Environment | None = None, solver: str = "z3"):
        self.env = env or Environment()
        self.mgr = self.env.formula_manager
        self.name = solver
        self.TRUE, self.FALSE = self.mgr.TRUE(), self.mgr.FALSE()

    def bool_var(self, name):
        return self.mgr.Symbol(name, BOOL)

    def int_var(self, name):
        return self.mgr.Symbol(name, INT)

    def int_const(self, v):
        return self.mgr.Int(v)

    def and_(self, items):
        return self.mgr.And(items)

    def or_(self, items):
        return self.mgr.Or(items)

    def not_(self, f):
        return self.mgr.Not(f)

    def implies(self, a, b):
        return self.mgr.Implies(a, b)

    def ite(self, c, a, b):
        return self.mgr.Ite(c, a, b)

    def eq(self, a, b):
        return self.mgr.Equals(a, b)

    def plus(self, items):
        return self.mgr.Plus(items)

    def minus(self, a, b):
        return self.mgr.Minus(a, b)

    def le(self, a, b):
        return self.mgr.LE(a, b)

    def lt(self, a, b):
        return self.mgr.LT(a, b)

    def bv_sub(self, a, b):
        return self.mgr.BVSub(a, b)

    def bv_mul(self, a, b):
        return self.mgr.BVMul(a, b)

    def bv_sle(self, a, b):
        return self.mgr.BVSLE(a, b)

    def bv_slt(self, a, b):
        return self.mgr.BVSLT(a, b)

    def bv_const(self, v, width):
        return self.mgr.BV(v % (1 << width), width)

    def times(self, c, t):
        return self.mgr.Times(self.mgr.Int(c), t)

    def bv_add(self, items):
        return _balanced(self.mgr.BVAdd, items)

    def sext(self, t, extra):
        return self.mgr.BVSExt(t, extra)

    def low_bits(self, t, width):
        return self.mgr.BVExtract(t, 0, width - 1)

    def ashr(self, t, shift, width):
        return self.mgr.BVAShr(t, self.mgr.BV(shift, width))

    def key(self, t):
        return t

    def is_bool(self, t):
        return t.get_type().is_bool_type()

    def active(self):
        return using(self.env)

    def smtlib(self, formula, logic):
        with using(self.env):
            script = smtlibscript_from_formula(formula, logic=convert_logic_from_string(logic))
            buf = io.StringIO()
            script.serialize(buf, daggify=True)
        return buf.getvalue()

    def check(self, formula, logic, timeout, wanted):
        solver = self.name
        start = time.perf_counter()
        with using(self.env):
            if timeout is not None and solver not in ("z3", "cvc5"):
                return Answer("unknown", f"a timeout is only supported with z3 and cvc5 here, not {solver!r}")
            available = self.env.factory.all_solvers()
            if solver not in available:
                return Answer("unknown", f"solver {solver!r} is not installed (available: "
                                         f"{', '.join(sorted(available) + [NATIVE_Z3])})")
            s = self.env.factory.Solver(name=solver, logic=convert_logic_from_string(logic))
            try:
                s.add_assertion(formula)  # pysmt translates its terms into the solver's here
                if timeout is not None:
                    # the translation took part of the time: the search gets the rest
                    left = timeout - (time.perf_counter() - start)
                    if left <= 0:
                        return Answer("unknown", f"solver timeout after {timeout} s (while translating the "
                                                 f"query for {solver})")
                    ms = max(1, int(left * 1000))
                    if solver == "z3":
                        s.z3.set("timeout", ms)
                    else:
                        s.cvc5.setOption("tlimit-per", str(ms))
                try:
                    sat = s.solve()
                except SolverReturnedUnknownResultError:
                    return Answer("unknown", _timeout_reason(self._why_unknown(s), timeout))
                if not sat:
                    return Answer("unsat")
                return Answer("sat", values=[t if isinstance(t, int) else _pysmt_int(s.get_value(t))
                                             for t in wanted])
            finally:
                s.exit()

    @staticmethod
    def _why_unknown(s) -> str:
        if hasattr(s, "z3"):
            return s.z3.reason_unknown()
        if hasattr(s, "cvc5"):
            why = s.cvc5.getInfo("reason-unknown")
            return why.decode() if isinstance(why, bytes) else str(why)
        return "no reason given"


def _pysmt_int(node: FNode) -> int:
    if node.is_bool_constant():
        return int(node.is_true())
    if node.is_bv_constant():
        return node.bv_signed_value()
    return int(node.constant_value())


class _Z3Term:
    """A z3 AST made by :class:`Z3Factory` (one object per AST, so identity is equality)."""

    __slots__ = ("ast", "is_bool")

    def __init__(self, ast, is_bool: bool):
        self.ast, self.is_bool = ast, is_bool


class Z3Factory(TermFactory):
    """z3 terms built directly through z3's C API (one call per node, as pysmt's own
    converter does), in a context of their own; solved by ``z3.SolverFor(logic)`` — what
    pysmt's z3 backend uses too, so the two paths differ only in how terms are built.

    z3 hash-conses its terms; every AST is wrapped once (``_made``) and its reference count
    raised once, so it lives as long as the context.
    """

    name = NATIVE_Z3

    def __init__(self):
        self.ctx = z3.Context()
        self._ref = self.ctx.ref()
        self._sorts = {"bool": z3.BoolSort(self.ctx), "int": z3.IntSort(self.ctx)}  # kept alive here
        self._made: dict[int, _Z3Term] = {}
        self.TRUE = self._term(zc.Z3_mk_true(self._ref), True)
        self.FALSE = self._term(zc.Z3_mk_false(self._ref), True)

    def __del__(self):
        # hand every reference back before the context goes: z3 frees a context that still
        # holds referenced terms far more slowly (seconds for deep terms)
        for t in getattr(self, "_made", {}).values():
            zc.Z3_dec_ref(self._ref, t.ast)
        self._made = {}

    def _term(self, ast, is_bool: bool) -> _Z3Term:
        t = self._made.get(ast.value)
        if t is None:
            zc.Z3_inc_ref(self._ref, ast)
            t = self._made[ast.value] = _Z3Term(ast, is_bool)
        return t

    def _sort(self, width: int | None):
        if width is None:
            return self._sorts["int"].ast
        if width not in self._sorts:
            self._sorts[width] = z3.BitVecSort(width, self.ctx)
        return self._sorts[width].ast

    @staticmethod
    def _array(items):
        return (z3.Ast * len(items))(*(t.ast for t in items))

    def _var(self, name, sort, is_bool=False):
        return self._term(zc.Z3_mk_const(self._ref, zc.Z3_mk_string_symbol(self._ref, name), sort), is_bool)

    def bool_var(self, name):
        return self._var(name, self._sorts["bool"].ast, True)

    def int_var(self, name):
        return self._var(name, self._sort(None))

    def int_const(self, v):
        return self._term(zc.Z3_mk_numeral(self._ref, str(v), self._sort(None)), False)

    def bv_const(self, v, width):
        return self._term(zc.Z3_mk_numeral(self._ref, str(v % (1 << width)), self._sort(width)), False)

    def and_(self, items):
        return self._term(zc.Z3_mk_and(self._ref, len(items), self._array(items)), True)

    def or_(self, items):
        return self._term(zc.Z3_mk_or(self._ref, len(items), self._array(items)), True)

    def not_(self, f):
        return self._term(zc.Z3_mk_not(self._ref, f.ast), True)

    def implies(self, a, b):
        return self._term(zc.Z3_mk_implies(self._ref, a.ast, b.ast), True)

    def ite(self, c, a, b):
        return self._term(zc.Z3_mk_ite(self._ref, c.ast, a.ast, b.ast), a.is_bool)

    def eq(self, a, b):
        return self._term(zc.Z3_mk_eq(self._ref, a.ast, b.ast), True)

    def plus(self, items):
        return self._term(zc.Z3_mk_add(self._ref, len(items), self._array(items)), False)

    def minus(self, a, b):
        return self._term(zc.Z3_mk_sub(self._ref, 2, self._array([a, b])), False)

    def times(self, c, t):
        return self._term(zc.Z3_mk_mul(self._ref, 2, self._array([self.int_const(c), t])), False)

    def le(self, a, b):
        return self._term(zc.Z3_mk_le(self._ref, a.ast, b.ast), True)

    def lt(self, a, b):
        return self._term(zc.Z3_mk_lt(self._ref, a.ast, b.ast), True)

    def bv_add(self, items):
        return _balanced(lambda a, b: self._term(zc.Z3_mk_bvadd(self._ref, a.ast, b.ast), False), items)

    def bv_sub(self, a, b):
        return self._term(zc.Z3_mk_bvsub(self._ref, a.ast, b.ast), False)

    def bv_mul(self, a, b):
        return self._term(zc.Z3_mk_bvmul(self._ref, a.ast, b.ast), False)

    def bv_sle(self, a, b):
        return self._term(zc.Z3_mk_bvsle(self._ref, a.ast, b.ast), True)

    def bv_slt(self, a, b):
        return self._term(zc.Z3_mk_bvslt(self._ref, a.ast, b.ast), True)

    def sext(self, t, extra):
        return self._term(zc.Z3_mk_sign_ext(self._ref, extra, t.ast), False)

    def low_bits(self, t, width):
        return self._term(zc.Z3_mk_extract(self._ref, width - 1, 0, t.ast), False)

    def ashr(self, t, shift, width):
        return self._term(zc.Z3_mk_bvashr(self._ref, t.ast, self.bv_const(shift, width).ast), False)

    def key(self, t):
        return t

    def is_bool(self, t):
        return t.is_bool

    def expr(self, t: _Z3Term) -> z3.ExprRef:
        """``t`` as a z3 Python API expression."""
        return z3.BoolRef(t.ast, self.ctx) if t.is_bool else _to_expr_ref(t.ast, self.ctx)

    def smtlib(self, formula, logic):
        s = z3.SolverFor(logic, ctx=self.ctx)
        s.add(self.expr(formula))
        return f"(set-logic {logic})\n" + s.to_smt2()

    def check(self, formula, logic, timeout, wanted):
        start = time.perf_counter()
        s = z3.SolverFor(logic, ctx=self.ctx)
        s.add(formula if isinstance(formula, z3.ExprRef) else self.expr(formula))
        if timeout is not None:
            s.set("timeout", max(1, int((timeout - (time.perf_counter() - start)) * 1000)))
        r = s.check()
        if r == z3.unknown:
            return Answer("unknown", _timeout_reason(s.reason_unknown(), timeout))
        if r == z3.unsat:
            return Answer("unsat")
        m = s.model()
        return Answer("sat", values=[t if isinstance(t, int) else
                                     _z3_int(m.eval(self.expr(t) if isinstance(t, _Z3Term) else t,
                                                    model_completion=True)) for t in wanted])


def _z3_int(v) -> int:
    if z3.is_bool(v):
        return int(z3.is_true(v))
    if z3.is_bv_value(v):
        return v.as_signed_long()
    return v.as_long()


# ---------------------------------------------------------------- folding terms (one arithmetic each)


class Terms(ABC):
    """Term constructors that fold constants and keep, for every term they build, an
    interval holding all its values (recorded when the term is built, so looking it up
    never recurses). Known constants are Python ints, accepted wherever a term is.

    The folding is written once here; an arithmetic (:class:`IntTerms`, :class:`BVTerms`)
    says how a non-constant sum, difference, scaling, ``Ite`` and comparison is built,
    and how ``decay``, ``wrap`` and an input bit are encoded. ``definitions`` collects the
    constraints that fix fresh variables (each fixes its variable uniquely, so asserting
    them adds no behaviour).
    """

    logic: str  # the SMT-LIB logic of the queries built with it

    def __init__(self, factory: TermFactory):
        self.f = factory
        self.TRUE, self.FALSE = factory.TRUE, factory.FALSE
        self.definitions: list[Term] = []
        self._bounds: dict[Any, tuple[float, float, Term]] = {}  # key -> (lo, hi, the term: kept alive)
        self._ites: dict[Any, tuple[Term, Any, Any]] = {}  # key of an Ite built here -> (cond, then, else)
        self._fresh = 0

    # -- bookkeeping

    def fresh_name(self, template: str) -> str:
        self._fresh += 1
        return f"{template}{self._fresh}"

    def known_bounds(self, v: Term, lo: float, hi: float) -> None:
        """Record that every value of the variable ``v`` lies in ``[lo, hi]``. Only call this
        AFTER building the constraint that makes it so: the bounds fold comparisons, and a
        constraint built with them would fold itself away."""
        self._bounds[self.f.key(v)] = (lo, hi, v)

    def _bounded(self, t: Term, lo: float, hi: float) -> Term:
        k = self.f.key(t)
        if k not in self._bounds:
            self._bounds[k] = (lo, hi, t)
        return t

    @staticmethod
    def value(t: Any) -> int | None:
        """The integer ``t`` is, if it is a known constant."""
        if isinstance(t, (int, np.integer)):
            return int(t)
        return None

    def bounds(self, t: Any) -> tuple[float, float]:
        """An interval holding every value ``t`` can take (``±inf`` where unknown)."""
        v = self.value(t)
        if v is not None:
            return v, v
        lo, hi, _ = self._bounds.get(self.f.key(t), (-INF, INF, None))
        return lo, hi

    def ite_parts(self, t: Any) -> tuple[Term, int, int] | None:
        """``(cond, a, b)`` if ``t`` is an ``Ite`` of two constants built here."""
        if self.value(t) is not None:
            return None
        parts = self._ites.get(self.f.key(t))
        if parts is None or self.value(parts[1]) is None or self.value(parts[2]) is None:
            return None
        return parts

    # -- integer-valued terms

    def plus(self, terms: Sequence[Any]) -> Any:
        const, rest = 0, []
        for t in terms:
            v = self.value(t)
            if v is None:
                rest.append(t)
            else:
                const += v
        if not rest:
            return const
        if len(rest) == 1 and const == 0:
            return rest[0]
        spans = [self.bounds(x) for x in rest]
        lo, hi = sum(b[0] for b in spans) + const, sum(b[1] for b in spans) + const
        return self._bounded(self._sum(rest, const, lo, hi), lo, hi)

    def minus(self, a: Any, b: Any) -> Any:
        va, vb = self.value(a), self.value(b)
        if va is not None and vb is not None:
            return va - vb
        if vb == 0:
            return a
        (alo, ahi), (blo, bhi) = self.bounds(a), self.bounds(b)
        return self._bounded(self._diff(a, b, alo - bhi, ahi - blo), alo - bhi, ahi - blo)

    def times(self, c: int, t: Any) -> Any:
        """``c · t`` for a constant ``c``; a 0/1 ``Ite`` becomes an ``Ite`` of constants."""
        c = int(c)
        v = self.value(t)
        if v is not None:
            return c * v
        if c == 0:
            return 0
        if c == 1:
            return t
        parts = self.ite_parts(t)
        if parts is not None:
            return self.ite(parts[0], c * parts[1], c * parts[2])
        lo, hi = sorted(c * e for e in self.bounds(t))
        return self._bounded(self._scale(c, t, lo, hi), lo, hi)

    def ite(self, cond: Term, a: Any, b: Any) -> Any:
        if cond is self.TRUE:
            return a
        if cond is self.FALSE:
            return b
        va, vb = self.value(a), self.value(b)
        if a is b or (va is not None and va == vb):
            return a
        (alo, ahi), (blo, bhi) = self.bounds(a), self.bounds(b)
        lo, hi = min(alo, blo), max(ahi, bhi)
        t = self._bounded(self._ite(cond, a, b, lo, hi), lo, hi)
        self._ites.setdefault(self.f.key(t), (cond, a, b))
        return t

    def spike(self, cond: Term) -> Any:
        """The 0/1 integer term of a Boolean."""
        return self.ite(cond, 1, 0)

    # -- Boolean terms

    def le(self, a, b, strict: bool = False) -> Term:
        """``a <= b`` (``a < b`` if ``strict``), decided outright where the bounds decide it."""
        (alo, ahi), (blo, bhi) = self.bounds(a), self.bounds(b)
        holds = (lambda x, y: x < y) if strict else (lambda x, y: x <= y)
        if holds(ahi, blo):  # even the largest a against the smallest b
            return self.TRUE
        if not holds(alo, bhi):  # not even the smallest a against the largest b
            return self.FALSE
        return self._compare("lt" if strict else "le", a, b)

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
        return self._compare("eq", a, b)

    def and_(self, items: Sequence[Term]) -> Term:
        rest = []
        for f in items:
            if f is self.FALSE:
                return self.FALSE
            if f is not self.TRUE:
                rest.append(f)
        return self.TRUE if not rest else rest[0] if len(rest) == 1 else self.f.and_(rest)

    def or_(self, items: Sequence[Term]) -> Term:
        rest = []
        for f in items:
            if f is self.TRUE:
                return self.TRUE
            if f is not self.FALSE:
                rest.append(f)
        return self.FALSE if not rest else rest[0] if len(rest) == 1 else self.f.or_(rest)

    def not_(self, f: Term) -> Term:
        return self.FALSE if f is self.TRUE else self.TRUE if f is self.FALSE else self.f.not_(f)

    def implies(self, a: Term, b: Term) -> Term:
        return self.or_([self.not_(a), b]) if a is self.TRUE or a is self.FALSE else self.f.implies(a, b)

    def as_bool(self, t: Any) -> Term:
        """A mask (Boolean term) or a 0/1 spike term as a Boolean: ``Ite(c, 1, 0)`` is ``c``."""
        v = self.value(t)
        if v is not None:
            return self.TRUE if v != 0 else self.FALSE
        if self.f.is_bool(t):
            return t
        parts = self._ites.get(self.f.key(t))
        if parts is not None:
            c, a, b = parts
            a, b = self.as_bool(a), self.as_bool(b)
            if a is self.TRUE and b is self.FALSE:
                return c
            if a is self.FALSE and b is self.TRUE:
                return self.not_(c)
            if a is self.FALSE:
                return self.and_([self.not_(c), b])
            if b is self.FALSE:
                return self.and_([c, a])
            return self.f.ite(c, a, b)
        return self.eq(t, 1)

    # -- what an arithmetic supplies

    @abstractmethod
    def term(self, x: Any) -> Term:
        """``x`` as a solver term (a constant is materialized)."""

    @abstractmethod
    def _sum(self, rest: list[Term], const: int, lo: float, hi: float) -> Term: ...

    @abstractmethod
    def _diff(self, a: Any, b: Any, lo: float, hi: float) -> Term: ...

    @abstractmethod
    def _scale(self, c: int, t: Term, lo: float, hi: float) -> Term: ...

    @abstractmethod
    def _ite(self, cond: Term, a: Any, b: Any, lo: float, hi: float) -> Term: ...

    @abstractmethod
    def _compare(self, op: str, a: Any, b: Any) -> Term:
        """``op`` is ``le``, ``lt`` or ``eq``."""

    @abstractmethod
    def decay(self, x: Term, num: int, shift: int, rounding: str) -> Term:
        """``decay`` of a non-constant ``x`` with ``0 < num < 2^shift``."""

    @abstractmethod
    def wrap(self, x: Term, bits: int) -> Term:
        """Two's complement wrap of a non-constant ``x`` that may leave the ``bits``-bit range."""

    @abstractmethod
    def input_bit(self, name: str) -> tuple[Term, Term]:
        """A free 0/1 input value and the constraint that makes it 0/1."""


class IntTerms(Terms):
    """Mathematical integers (QF_LIA). ``decay`` and ``wrap`` introduce fresh integers fixed
    uniquely by linear definitions."""

    logic = LOGICS["lia"]

    def term(self, x):
        v = self.value(x)
        return self.f.int_const(v) if v is not None else x

    def _sum(self, rest, const, lo, hi):
        return self.f.plus(rest + [self.f.int_const(const)] if const else rest)

    def _diff(self, a, b, lo, hi):
        return self.f.minus(self.term(a), self.term(b))

    def _scale(self, c, t, lo, hi):
        return self.f.times(c, t)

    def _ite(self, cond, a, b, lo, hi):
        return self.f.ite(cond, self.term(a), self.term(b))

    def _compare(self, op, a, b):
        return getattr(self.f, op)(self.term(a), self.term(b))

    def _var(self, template: str) -> Term:
        return self.f.int_var(self.fresh_name(template))

    def decay(self, x, num, shift, rounding):
        d = 1 << shift
        q = self._var("decay_")
        y, dq = self.times(num, x), self.times(d, q)
        floor = self.and_([self.le(dq, y), self.le(y, self.plus([dq, d - 1]))])  # q = floor(y / d)
        if rounding == "floor":
            self.definitions.append(floor)
        else:
            ceil = self.and_([self.le(self.plus([dq, -(d - 1)]), y), self.le(y, dq)])  # q = ceil(y / d) when y < 0
            nonneg = self.ge(x, 0)
            self.definitions.append(self.and_([self.implies(nonneg, floor), self.implies(self.not_(nonneg), ceil)]))
        # q is nondecreasing in x (num >= 0): x's extremes map to q's
        self.known_bounds(q, *(e if abs(e) == INF else decay_const(int(e), num, shift, rounding)
                               for e in self.bounds(x)))
        return q

    def wrap(self, x, bits):
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        w, m = self._var("wrap_"), self._var("wraps_")
        self.definitions.append(self.and_([self.eq(x, self.plus([w, self.times(1 << bits, m)])),
                                           self.le(lo, w), self.le(w, hi)]))
        self.known_bounds(w, lo, hi)
        return w

    def input_bit(self, name):
        x = self.f.int_var(name)
        constraint = self.and_([self.le(0, x), self.le(x, 1)])
        self.known_bounds(x, 0, 1)  # now asserted by ``constraint``
        return x, constraint


class BVTerms(Terms):
    """Bit-vectors (QF_BV), exact by construction: **every term is exactly as wide as its
    interval needs** (:func:`signed_width` of its bounds), so no operation ever overflows.

    Why that is exact: a sum, difference or scaling is built at the width ``W`` of its
    result's interval; each operand is first brought to ``W`` bits by sign extension (which
    keeps its value) or by taking its low ``W`` bits (which keeps it modulo ``2^W``), and a
    constant is taken modulo ``2^W``. ``bvadd``/``bvsub``/``bvmul`` compute modulo ``2^W``,
    so the result is congruent to the true integer modulo ``2^W``; the true integer lies in
    the interval, inside the ``W``-bit signed range, and the signed reading of a ``W``-bit
    vector is the one integer of that range in its class — so the bit-vector *is* the true
    integer. ``Ite`` and comparisons sign-extend both sides to the wider width (no
    truncation at all). The intervals are sound (interval arithmetic over the semantics'
    own operations, every input in ``[0, 1]``), so the pre-overflow membrane ``u`` is
    represented exactly, and ``no_overflow`` compares the true ``u``.

    ``decay`` (``floor``) is ``bvashr`` of ``num·x`` by ``shift`` — the arithmetic shift of
    a two's-complement number is floor division by ``2^shift`` — and ``toward_zero`` is
    the mirrored ``-(bvashr(-(num·x)))`` where ``x < 0``. ``wrap`` is the low ``v_bits``
    bits read as signed: bit-true two's complement. An input bit is ``Ite(b, 1, 0)`` of a
    Boolean ``b`` (no range constraint needed).
    """

    logic = LOGICS["bv"]

    def width(self, t: Any) -> int:
        return signed_width(*self.bounds(t))

    def _fit(self, t: Any, w: int) -> Term:
        """``t`` as a ``w``-bit vector congruent to it modulo ``2^w`` (equal to it when it fits)."""
        v = self.value(t)
        if v is not None:
            return self.f.bv_const(v, w)
        cur = self.width(t)
        if cur < w:
            return self.f.sext(t, w - cur)
        if cur > w:
            return self.f.low_bits(t, w)
        return t

    def term(self, x):
        return self._fit(x, self.width(x))

    def _sum(self, rest, const, lo, hi):
        w = signed_width(lo, hi)
        items = [self._fit(t, w) for t in rest]
        if const % (1 << w):
            items.append(self.f.bv_const(const, w))
        return items[0] if len(items) == 1 else self.f.bv_add(items)

    def _diff(self, a, b, lo, hi):
        w = signed_width(lo, hi)
        return self.f.bv_sub(self._fit(a, w), self._fit(b, w))

    def _scale(self, c, t, lo, hi):
        w = signed_width(lo, hi)
        return self.f.bv_mul(self.f.bv_const(c, w), self._fit(t, w))

    def _ite(self, cond, a, b, lo, hi):
        w = signed_width(lo, hi)  # the wider of the branches' widths: extension only
        return self.f.ite(cond, self._fit(a, w), self._fit(b, w))

    def _compare(self, op, a, b):
        w = max(self.width(a), self.width(b))  # extension only
        a, b = self._fit(a, w), self._fit(b, w)
        return {"le": self.f.bv_sle, "lt": self.f.bv_slt, "eq": self.f.eq}[op](a, b)

    def _ashr(self, y: Any, shift: int) -> Any:
        """``floor(y / 2^shift)``."""
        v = self.value(y)
        if v is not None:
            return v >> shift
        parts = self.ite_parts(y)
        if parts is not None:
            return self.ite(parts[0], parts[1] >> shift, parts[2] >> shift)
        lo, hi = self.bounds(y)
        rlo, rhi = int(lo) >> shift, int(hi) >> shift
        w = self.width(y)
        # a shift by w - 1 or more leaves only the sign: -1 or 0, which is floor(y / 2^shift) then
        r = self.f.ashr(y, min(shift, w - 1), w)
        rw = signed_width(rlo, rhi)
        if rw < w:  # the quotient fits in fewer bits: its low bits are it
            r = self.f.low_bits(r, rw)
        return self._bounded(r, rlo, rhi)

    def decay(self, x, num, shift, rounding):
        y = self.times(num, x)
        if rounding == "floor":
            return self._ashr(y, shift)
        toward = self.minus(0, self._ashr(self.minus(0, y), shift))  # -floor(-y / 2^shift) = ceil(y / 2^shift)
        return self.ite(self.ge(x, 0), self._ashr(y, shift), toward)

    def wrap(self, x, bits):
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        return self._bounded(self._fit(x, bits), lo, hi)  # x needs more bits: its low ``bits`` bits, signed

    def input_bit(self, name):
        return self.ite(self.f.bool_var(name), 1, 0), self.TRUE


def _map(f: Callable, *args: Any) -> np.ndarray:
    """``f`` elementwise over broadcast object arrays."""
    arrs = np.broadcast_arrays(*[_lift(a) for a in args])
    return _objects(arrs[0].shape, lambda i: f(*(a[i] for a in arrs)))


# ---------------------------------------------------------------- the interpretation


class SymbolicOps(ArraySequences, Ops):
    """Semantics v1 over the terms of ``terms`` (exact in either arithmetic).

    ``definitions`` are the constraints that fix the fresh variables of the arithmetic
    (QF_LIA's ``decay`` and ``wrap``); ``pre_overflow`` every membrane before the
    overflow policy, with its ``v_bits``.
    """

    def __init__(self, terms: Terms, deadline: float | None = None):
        self.t = terms
        self.pre_overflow: list[tuple[np.ndarray, int]] = []
        self.deadline = deadline  # time.perf_counter() value past which building stops (EncodingTimeout)

    @property
    def definitions(self) -> list[Term]:
        return self.t.definitions

    def _check_time(self) -> None:
        check_deadline()  # the caller's time limit, if any (the transition system sets no deadline of its own)
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise EncodingTimeout()

    def _affine(self, matrix: np.ndarray, x: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
        t = self.t
        rows = []
        for row in np.asarray(matrix):  # the non-zero weights of each row (a conv2d layer's are few)
            self._check_time()
            nonzero = np.flatnonzero(row)
            rows.append(list(zip(row[nonzero].tolist(), nonzero.tolist())))
        lead = x.shape[:-1]

        def one(idx):
            *pre, o = idx
            self._check_time()  # the bulk of the encoding's time is spent here
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
        if num == 1 << shift:
            return x
        v = t.value(x)
        if num == 0 or v == 0:
            return 0
        if v is not None:
            return decay_const(v, num, shift, rounding)
        parts = t.ite_parts(x)
        if parts is not None:  # a choice of two constants: decay each
            c, a, b = parts
            return t.ite(c, decay_const(a, num, shift, rounding), decay_const(b, num, shift, rounding))
        return t.decay(x, num, shift, rounding)

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
                    return min(max(v, lo), hi)
                return ((v + (1 << (bits - 1))) & ((1 << bits) - 1)) + lo
            if policy == "saturate":
                return t.ite(t.lt(x, lo), lo, t.ite(t.gt(x, hi), hi, x))
            return t.wrap(x, bits)
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
        return _objects(tuple(batch) + (n,), lambda i: 0)

    def zero_spikes(self, like):
        return _objects(like.shape, lambda i: 0)


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


def readout_scores(terms: Terms, readout, seq: np.ndarray) -> tuple[list[Any], Term]:
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
            s = -1  # never fired
            for step in reversed(range(steps)):
                s = t.ite(t.as_bool(seq[step, j]), steps - step, s)  # earlier is larger
            scores.append(s)
        return scores, t.or_([t.as_bool(x) for x in seq.reshape(-1)])
    if readout.type == "membrane_final":
        return [seq[-1, j] for j in range(m)], t.TRUE
    if readout.type == "membrane_max":
        scores = []
        for j in range(m):
            best = seq[0, j]
            for step in range(1, steps):
                best = t.ite(t.gt(seq[step, j], best), seq[step, j], best)
            scores.append(best)
        return scores, t.TRUE
    raise VerisnnError(f"the smt method has no encoding of readout {readout.type!r}", "readout")


def _beats(terms: Terms, ties: str, scores: list[Any], j: int, i: int) -> Term:
    """Class ``j`` wins against class ``i`` (under ``lowest_index`` a tie goes to the lower index)."""
    if ties == "lowest_index" and j < i:
        return terms.ge(scores[j], scores[i])
    return terms.gt(scores[j], scores[i])


def decides(terms: Terms, readout, scores: list[Any], valid: Term, j: int) -> Term:
    """The decision is class ``j``."""
    return terms.and_([valid] + [_beats(terms, readout.ties, scores, j, i) for i in range(len(scores)) if i != j])


def not_decides(terms: Terms, readout, scores: list[Any], valid: Term, j: int) -> Term:
    """The decision is not class ``j``: no decision is possible, or SOME other class ``i``
    ties or beats ``j`` — a disjunction over ``i`` (a conjunction here would only find
    inputs where every other class beats ``j`` at once, and claim robustness wrongly)."""
    others = [terms.not_(_beats(terms, readout.ties, scores, j, i)) for i in range(len(scores)) if i != j]
    return terms.or_([terms.not_(valid)] + others)


def _synops(terms: Terms, model: Model, raster: np.ndarray, outputs: list[np.ndarray]) -> Any:
    """DESIGN.md's synops as a linear term (see :func:`verisnn.simulator.synops`)."""
    T = model.time_steps
    parts, x = [], raster
    for layer, out in zip(model.layers, outputs):
        fanout = layer.fanout()
        for step in range(max(0, T - layer.delay)):
            parts += [terms.times(int(f), x[step, i]) for i, f in enumerate(fanout) if f]
        if layer.recurrent is not None and layer.neuron.fires:
            rec = (np.asarray(layer.recurrent) != 0).sum(axis=0)
            for step in range(T - 1):
                parts += [terms.times(int(f), out[step, j]) for j, f in enumerate(rec) if f]
        x = out
    return terms.plus(parts)


_NO_HARDWARE = ("the smt method does not decide the hardware conditions latency_us_at_most and energy_uj_at_most "
                "(use the cpsat, enumerate, bab or auto method)")


def violation(terms: Terms, ops: SymbolicOps, model: Model, cond, raster: np.ndarray, outputs: list[np.ndarray],
              reference: int | None) -> Term:
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
    if isinstance(cond, HARDWARE_CONDITIONS):
        raise VerisnnError(_NO_HARDWARE, "condition")
    if isinstance(cond, NoOverflow):
        out = []
        for u, bits in ops.pre_overflow:
            lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
            out += [t.or_([t.lt(x, lo), t.gt(x, hi)]) for x in u.reshape(-1)]
        return t.or_(out)
    raise VerisnnError(f"the smt method has no encoding of the condition {type(cond).__name__}", "condition")


# ---------------------------------------------------------------- regions


def region_inputs(terms: Terms, region, centre: np.ndarray) -> tuple[np.ndarray, Term]:
    """The input raster ``[T, n]`` (a free 0/1 value ``x_t_i`` per bit the region may change,
    the centre's constant elsewhere) and the region's constraint."""
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
    x = _objects((T, n), lambda i: int(centre[i]))
    bits = []
    changes = []  # |x - c| per free bit, linearly
    for i in zip(*np.nonzero(free)):
        check_deadline()  # one free bit per input and step: T * n of them
        x[i], constraint = t.input_bit(f"x_{i[0]}_{i[1]}")
        bits.append(constraint)
        changes.append(x[i] if centre[i] == 0 else t.minus(1, x[i]))
    k = None if isinstance(region, AnyInput) else region.k
    budget = t.TRUE if k is None or k >= len(changes) else t.le(t.plus(changes), k)
    return x, t.and_(bits + [budget])


# ---------------------------------------------------------------- the encoding


@dataclass
class Encoding:
    """The counterexample query of one property: ``formula`` is satisfiable exactly when
    some raster of the region violates the condition.

    ``formula`` is the conjunction of ``parts`` (``region``, ``definitions``,
    ``violation``); ``input_vars[t][i]`` is the term of input bit ``(t, i)`` (its 0/1
    value in a model; the centre's constant where the region fixes the bit); ``scores``
    the final readout scores as terms (``[]`` when the condition needs none); ``factory``
    the solver API the terms belong to; ``logic`` the SMT-LIB logic.
    """

    formula: Term
    input_vars: list[list[Term]]
    factory: TermFactory
    parts: dict[str, Term]
    reference: int | None
    scores: list[Term] = field(default_factory=list)
    logic: str = LOGICS["lia"]

    @property
    def env(self) -> Environment | None:
        """The pysmt environment of the terms (``None`` for z3-native terms)."""
        return getattr(self.factory, "env", None)

    def to_smtlib(self) -> str:
        """The query as an SMT-LIB 2 script (``set-logic``, declarations, one ``assert``, ``check-sat``)."""
        return self.factory.smtlib(self.formula, self.logic)

    def solve(self, timeout: float | None = None) -> Answer:
        """Check the query; on ``sat`` the answer's ``values`` are the input bits, row by row."""
        return self.factory.check(self.formula, self.logic, timeout, [v for row in self.input_vars for v in row])

    def witness(self, values: Sequence[int]) -> np.ndarray:
        """The ``[T, n]`` raster of a sat answer's ``values``."""
        return np.array(values, dtype=np.int8).reshape(len(self.input_vars), -1)


def _reference(model: Model, centre: np.ndarray) -> int | None:
    ref = int(simulate(model, centre).prediction[0])
    return None if ref < 0 else ref


class EncodingTimeout(Exception):
    """Building the encoding ran past its deadline."""


ARITHMETICS = {"lia": IntTerms, "bv": BVTerms}


def installed_solvers() -> list[str]:
    """The names a ``solver`` argument may take: pysmt's installed solvers, then ``z3-native``."""
    return sorted(Environment().factory.all_solvers()) + [NATIVE_Z3]


def make_factory(solver: str = "z3", env: Environment | None = None) -> TermFactory:
    """The term factory of ``solver``: ``z3-native`` builds z3 terms directly; any other
    name is a pysmt solver (``z3``, ``cvc5``)."""
    return Z3Factory() if solver == NATIVE_Z3 else PysmtFactory(env, solver)


Extra = Callable[["Terms", np.ndarray, list], Term]  # (terms, input raster [T, n], layer outputs) -> Boolean term


def encode(model: Model, centre: Any, prop: Property, env: Environment | None = None,
           deadline: float | None = None, *, logic: str = "lia", solver: str = "z3",
           extra: Extra | None = None) -> Encoding:
    """The counterexample query of ``prop`` around the ``[T, n]`` raster ``centre``, in the
    arithmetic ``logic`` (``lia`` or ``bv``) with the terms of ``solver`` (``z3-native``: z3
    terms; otherwise pysmt terms in ``env``, a fresh environment by default). ``deadline``:
    a ``time.perf_counter()`` value past which :class:`EncodingTimeout` is raised.

    ``extra``: further constraints on the run, conjoined to the query as ``parts["extra"]``:
    called with the :class:`Terms`, the input raster ``[T, n]`` (terms and constants) and
    each layer's ``[T, n]`` outputs, it returns a Boolean term built with those terms (the
    query then asks for a raster of the region that satisfies it and violates the condition;
    e.g. the conditions of a rule, :mod:`verisnn.extractors.certify`)."""
    if logic not in ARITHMETICS:
        raise VerisnnError(f"unknown logic {logic!r}; available: {', '.join(ARITHMETICS)}", "logic")
    centre = single_raster(model, centre, "encode takes one centre raster", error=VerisnnError)
    check_against_model(prop, model)
    factory = make_factory(solver, env)
    reference = _reference(model, centre)
    with factory.active():
        terms = ARITHMETICS[logic](factory)
        x, region = region_inputs(terms, prop.region, centre)
        ops = SymbolicOps(terms, deadline)
        outputs, _ = semantics.run_layers(ops, model, symbolic_params(model), x, ())
        bad = violation(terms, ops, model, prop.condition, x, outputs, reference)
        constraint = None if extra is None else extra(terms, x, outputs)  # before the definitions are collected
        scores = []
        if isinstance(prop.condition, Robust) and reference is not None:
            scores = [terms.term(s) for s in readout_scores(terms, model.readout, outputs[-1])[0]]
        parts = {"region": region, "definitions": terms.and_(terms.definitions), "violation": bad}
        if constraint is not None:
            parts["extra"] = constraint
        formula = terms.and_(list(parts.values()))
        input_vars = [[terms.term(v) for v in row] for row in x]
    return Encoding(formula=formula, input_vars=input_vars, factory=factory,
                    parts=parts, reference=reference, scores=scores, logic=terms.logic)


# ---------------------------------------------------------------- solving


def solve(formula: FNode, env: Environment, solver: str = "z3", timeout: float | None = None,
          logic: str = LOGICS["lia"]) -> Answer:
    """Check a pysmt ``formula`` (e.g. a parsed SMT-LIB query) with the pysmt solver ``solver``;
    ``timeout`` in seconds (z3 and cvc5)."""
    return PysmtFactory(env, solver).check(formula, logic, timeout, [])


def _public(details: dict) -> dict:
    return {k: v for k, v in details.items() if k != "centre"}


def smt_verify(model: Model, centre: Any, prop: Property, *, solver: str = "z3", timeout: float | None = None,
               logic: str = "lia", extra: Extra | None = None, started: float | None = None) -> Result:
    """Decide ``prop`` with an SMT solver. ``solver``: a pysmt solver name (``z3``, ``cvc5``)
    or ``z3-native`` (z3 terms built directly); ``logic``: ``lia`` (linear integer
    arithmetic) or ``bv`` (bit-vectors). ``timeout`` (seconds) bounds encoding and solving
    together; running out of it is ``unknown``, never ``verified``. ``started``: the
    ``time.perf_counter()`` the timeout counts from (default: now).

    ``extra`` (see :func:`encode`) restricts the region to the rasters whose runs satisfy it:
    ``verified`` then means no such raster violates the condition. A witness is replayed
    against the condition only; what ``extra`` means is the caller's to replay."""
    t0 = time.perf_counter() if started is None else started
    details: dict[str, Any] = {"solver": solver, "logic": logic}
    try:
        with time_limit(None if timeout is None else t0 + timeout):
            return _decide(model, centre, prop, solver, timeout, logic, extra, t0, details)
    except DeadlineReached:
        return Result("unknown", METHOD, time.perf_counter() - t0, reason=timeout_reason(t0, timeout, "while encoding"),
                      details=_public(details))


def _decide(model: Model, centre: Any, prop: Property, solver: str, timeout: float | None, logic: str,
            extra: Extra | None, t0: float, details: dict) -> Result:
    """:func:`smt_verify` within its time limit; fills ``details``."""
    elapsed = lambda: time.perf_counter() - t0  # noqa: E731
    try:
        if logic not in ARITHMETICS:
            raise VerisnnError(f"unknown logic {logic!r}; available: {', '.join(ARITHMETICS)}", "logic")
        centre = single_raster(model, centre, "verify takes one centre raster", error=VerisnnError)
        check_against_model(prop, model)
        if isinstance(prop.condition, HARDWARE_CONDITIONS):
            raise VerisnnError(_NO_HARDWARE, "condition")
        size = region_size(prop.region, centre)
        reference = _reference(model, centre)
    except VerisnnError as e:
        return Result("error", METHOD, elapsed(), reason=str(e))
    details.update(region_size=count_json(size), reference_decision=reference, centre=centre)
    if isinstance(prop.condition, Robust) and reference is None and extra is None:
        # the centre is its own counterexample (with ``extra`` it may lie outside the restricted region)
        return report_witness(model, prop, centre, centre, None, METHOD, elapsed(), _public(details))
    try:
        enc = encode(model, centre, prop, deadline=None if timeout is None else t0 + timeout, logic=logic,
                     solver=solver, extra=extra)
    except EncodingTimeout:
        return Result("unknown", METHOD, elapsed(), reason=timeout_reason(t0, timeout, "while encoding"),
                      details=_public(details))
    except VerisnnError as e:
        return Result("error", METHOD, elapsed(), reason=str(e), details=_public(details))
    except (PysmtException, z3.Z3Exception, RecursionError) as e:
        return Result("error", METHOD, elapsed(), reason=f"encoding failed: {e}", details=_public(details))
    if timeout is not None and elapsed() >= timeout:
        return Result("unknown", METHOD, elapsed(), reason=timeout_reason(t0, timeout, "while encoding"),
                      details=_public(details))
    try:
        ans = enc.solve(None if timeout is None else timeout - elapsed())
    except Exception as e:  # a solver crash is an answer we cannot use, never a proof
        return Result("error", METHOD, elapsed(), reason=f"solver {solver!r} failed: {type(e).__name__}: {e}",
                      details=_public(details))
    if ans.answer == "unknown":
        return Result("unknown", METHOD, elapsed(), reason=ans.reason, details=_public(details))
    if ans.answer == "sat":
        return report_witness(model, prop, centre, enc.witness(ans.values), reference, METHOD, elapsed(),
                              _public(details))
    evidence = {"method": METHOD, "solver": solver, "answer": "unsat", "logic": enc.logic,
                "smtlib": enc.to_smtlib(), "model_sha256": model_hash(model),
                "centre_sha256": raster_sha256(centre),
                "property": prop.to_dict(), "region_size": count_json(size), "reference_decision": reference}
    return Result("verified", METHOD, elapsed(), evidence=evidence, details=_public(details))


def parse_smtlib(text: str, env: Environment | None = None) -> tuple[FNode, Environment]:
    """The asserted formula of an SMT-LIB script (for checking exported queries)."""
    env = env or Environment()
    with using(env):
        script = SmtLibParser(environment=env).get_script(io.StringIO(text))
        return script.get_last_formula(env.formula_manager), env


__all__ = ["Answer", "BVTerms", "Encoding", "IntTerms", "NATIVE_Z3", "PysmtFactory", "SymbolicOps", "TermFactory",
           "Terms", "Z3Factory", "encode", "make_factory", "parse_smtlib", "smt_verify", "solve",
           "symbolic_params"]
