"""Unbounded-horizon verification: safety for every step of every run, for ever.

A property with ``horizon: unbounded`` (region ``any``) asks that a safety condition —
``never_fires``, ``no_overflow``, ``window_spikes_at_most``, ``never_fires_after``,
``responds_within`` — holds at every step of every input of every length. The model is
the transition system of :mod:`verisnn.encodings.transition` (the network and the
condition's window monitor); four methods decide it:

* ``bmc`` — bounded model checking: unroll from the initial state, one step deeper at a
  time, until a violation shows (``falsified``, with the input raster of exactly the
  length it needs) or ``max_depth`` (then ``unknown``: BMC alone proves nothing);
* ``kinduction`` — BMC for the base case plus the induction step "``k`` steps without a
  violation from any state of the invariant box (on a loop-free path) cannot end in
  one"; ``verified`` reports the depth ``k``;
* ``pdr`` — IC3/PDR: z3's Spacer on the constrained Horn clauses ``Init ⇒ Inv``,
  ``Inv ∧ Trans ⇒ Inv'``, ``Inv ∧ Bad ⇒ false``; ``verified`` reports the inductive
  invariant, after re-checking its three clauses with a plain SMT solver (a Spacer answer
  that fails the re-check is never reported as ``verified``);
* ``explore`` — explicit-state search of the product of the network and the monitor
  over every input letter, exhaustive: ``verified`` when every reachable state has been
  seen (the count is the evidence), ``unknown`` past the state budget.

``auto`` simulates random inputs first (cheap falsification on any model), then runs
k-induction, then PDR with the time left. Every ``falsified`` carries a
witness raster that :func:`replay_unbounded` (the reference simulator plus the monitor)
confirms; a solver ``unknown``, a timeout or an error is never ``verified``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import threading
import time
from typing import Any

import numpy as np
import z3

from . import semantics
from .errors import InputError, ModelError, VerisnnError
from .interrupts import check_z3_reason
from .model import Model
from .model_format import model_hash
from .monitors import Monitor, NumpyLogic, first_violation, monitor_for
from .properties import NoOverflow, Property, PropertyError, check_against_model
from .simulator import NumpyOps, _plan, layer_params, simulate
from .smt_terms import parse_term
from .limits import DeadlineReached, check_deadline, time_limit
from .verify import OverflowRecordingOps, Result, timeout_reason

METHODS = ("auto", "kinduction", "pdr", "bmc", "explore")
DEFAULT_MAX_DEPTH = 24  # unrolling depth of bmc and k-induction
MAX_KINDUCTION_DEPTH = 256  # k-induction stops here whatever max_depth says (certificates: the schema's bound)
DEFAULT_MAX_STATES = 200_000  # explicit-state budget
EXPLORE_MAX_LETTERS = 1 << 12  # explore enumerates every input letter; beyond this many it refuses
EXACT_LIMIT = 1 << 40  # explore's state values stay below this, so every int64 product is exact
KINDUCTION_SHARE = 0.4  # of auto's time; PDR gets the rest
RANDOM_TRIES, RANDOM_BUDGET = 256, 4_000_000  # auto's random simulations: rasters, and input bits in all


# ---------------------------------------------------------------- the concrete check


def _longer(model: Model, steps: int) -> Model:
    return dataclasses.replace(model, time_steps=int(steps))


def _check_input(model: Model, raster: Any) -> np.ndarray:
    arr = np.asarray(raster)
    if arr.ndim != 2 or arr.shape[1] != model.input.size or arr.shape[0] < 1:
        raise InputError(f"expected an input raster [L, {model.input.size}] with L >= 1, got shape "
                         f"{list(arr.shape)}", "input")
    if not np.isin(arr, (0, 1)).all():
        raise InputError("an input raster holds 0/1 values only", "input")
    return arr.astype(np.int8)


def replay_unbounded(model: Model, prop: Property, raster: Any) -> int | None:
    """The first step at which the run of the reference simulator on ``raster`` (``[L, n]``,
    any length ``L``) violates the unbounded property ``prop``; ``None`` if no step does."""
    check_against_model(prop, model, unbounded=True)
    arr = _check_input(model, raster)
    first = _first_violations(model, prop, arr[None])
    return None if first[0] < 0 else int(first[0])


def _first_violations(model: Model, prop: Property, rasters: np.ndarray) -> np.ndarray:
    """``[B]`` first violating steps (``-1``: none) of the reference simulator's runs on the
    ``[B, L, n]`` 0/1 rasters."""
    B, steps = rasters.shape[:2]
    longer = _longer(model, steps)
    res = simulate(longer, rasters)
    overflowed = np.zeros((B, steps), dtype=np.int64)
    if isinstance(prop.condition, NoOverflow):
        ops, params = _plan(longer)
        rec = OverflowRecordingOps(ops.dtype, B)
        semantics.run_layers(rec, longer, params, np.ascontiguousarray(rasters.transpose(1, 0, 2)), (B,))
        per_call = np.array(rec.calls).reshape(len(model.layers), steps, B)  # layer-major: layer, step
        overflowed = per_call.any(axis=0).T.astype(np.int64)
    return first_violation(monitor_for(prop.condition, model), rasters, list(res.layer_outputs), overflowed)


def _random_search(model: Model, prop: Property, letters: np.ndarray | None, seed: int = 0) -> np.ndarray | None:
    """Falsification by simulation: random input rasters (every density from sparse to
    dense; from the allowed letters if given) of a few window lengths; the shortest prefix
    that shows a violation, or ``None``. Cheap on any model; proves nothing."""
    rng = np.random.default_rng(seed)
    steps = 4 * monitor_for(prop.condition, model).length + 60
    n = model.input.size
    batch = max(8, min(RANDOM_TRIES, RANDOM_BUDGET // (steps * max(n, 1))))
    if letters is None:
        density = np.linspace(0.05, 0.95, batch)[:, None, None]
        rasters = (rng.random((batch, steps, n)) < density).astype(np.int8)
    else:
        rasters = letters[rng.integers(0, len(letters), (batch, steps))]
    first = _first_violations(model, prop, rasters)
    hits = np.flatnonzero(first >= 0)
    if not len(hits):
        return None
    k = hits[np.argmin(first[hits])]
    return rasters[k, : first[k] + 1]


def _falsified(model: Model, prop: Property, witness: np.ndarray, method: str, elapsed: float,
               details: dict, letters: np.ndarray | None = None) -> Result:
    """A witness found by a method, replayed on the reference simulator (and checked to use
    only the allowed ``letters``) before it is reported."""
    step = replay_unbounded(model, prop, witness)
    outside = letters is not None and not (witness[:, None, :] == letters[None]).all(axis=2).any(axis=1).all()
    if step is None or outside:
        why = "uses an input outside the allowed letters" if outside else \
            "does not violate the property on the reference simulator"
        return Result("error", method, elapsed, reason=f"internal error: the witness found {why} (an encoding "
                      f"defect; please report it)", details=details)
    return Result("falsified", method, elapsed, witness=witness,
                  details={**details, "witness_length": int(witness.shape[0]), "violation_step": step})


# ---------------------------------------------------------------- explicit-state search


def _all_letters(n: int) -> np.ndarray:
    if n > 12:
        raise VerisnnError(f"explore tries every input letter at every state: 2^{n} letters is too many "
                           f"(at most {EXPLORE_MAX_LETTERS}); use kinduction or pdr", "method")
    return np.array(list(itertools.product((0, 1), repeat=n)), dtype=np.int8).reshape(-1, n)


def _explore(model: Model, monitor: Monitor, letters: np.ndarray, max_states: int, deadline: float | None
             ) -> tuple[str, Any, dict]:
    """Breadth-first search of the reachable (network, window) states. Returns
    ``('safe', None, stats)``, ``('unsafe', witness, stats)`` or ``('unknown', reason, stats)``."""
    from .state import StateLayout
    layout = StateLayout(model, monitor)
    # int64 throughout: the simulator's narrower type is chosen for T steps, and runs here are
    # longer; values are checked against EXACT_LIMIT as they come (a current without leak grows)
    params, _ = layer_params(model, widest=True)
    ops = NumpyOps(np.int64)
    m = len(letters)

    def cast(block, kind):
        return block.astype(np.int8) if kind in ("s", "pending") else block.astype(ops.dtype)

    start = np.zeros((1, layout.dim), dtype=np.int64)
    seen = {start.tobytes(): 0}
    parent, via = [-1], [-1]  # per state: the state and letter it was first reached from
    frontier, frontier_ids = start, np.array([0])
    t0 = time.perf_counter()

    def stats():
        spent = time.perf_counter() - t0
        return {"states": len(seen), "state_dim": layout.dim, "letters": m,
                "states_per_s": round(len(seen) / spent, 1) if spent > 0 else None}

    def word(state_id: int, last: int) -> np.ndarray:
        path = [last]
        while parent[state_id] >= 0:
            path.append(via[state_id])
            state_id = parent[state_id]
        return letters[path[::-1]]

    while len(frontier):
        if deadline is not None and time.perf_counter() > deadline:
            return "unknown", "timeout (while exploring)", stats()
        chunk = max(1, 65536 // m)
        next_rows, next_parent = [], []
        for lo in range(0, len(frontier), chunk):
            src, ids = frontier[lo: lo + chunk], frontier_ids[lo: lo + chunk]
            B = len(src) * m
            flat = np.repeat(src, m, axis=0)
            x = np.tile(letters, (len(src), 1))
            rec = OverflowRecordingOps(ops.dtype, B)
            state, window = layout.unpack(flat, rec, (B,), cast)
            nxt, outputs = semantics.network_step(rec, model, params, state, x)
            row = monitor.row(NumpyLogic, x, outputs, rec.overflowed.astype(np.int64))
            window = window[1:] + [row]
            bad = np.broadcast_to(monitor.bad(NumpyLogic, window), (B,))
            if bad.any():
                k = int(np.argmax(bad))
                return "unsafe", word(int(ids[k // m]), k % m), stats()
            packed = layout.pack(nxt, window)
            if np.abs(packed).max(initial=0) > EXACT_LIMIT:
                return "unknown", (f"a state value passed {EXACT_LIMIT} (an unbounded current?): beyond the range "
                                   f"explored exactly"), stats()
            uniq, first = np.unique(packed, axis=0, return_index=True)
            for r, f in zip(uniq, first):
                key = r.tobytes()
                if key not in seen:
                    seen[key] = len(parent)
                    parent.append(int(ids[f // m]))
                    via.append(int(f % m))
                    next_rows.append(r)
                    next_parent.append(seen[key])
            if len(seen) > max_states:
                return "unknown", f"state budget of {max_states} states reached", stats()
        frontier = np.array(next_rows, dtype=np.int64).reshape(-1, layout.dim)
        frontier_ids = np.array(next_parent, dtype=np.int64)
    return "safe", None, stats()


# ---------------------------------------------------------------- SMT engines


class _Clock:
    def __init__(self, timeout: float | None):
        self.t0 = time.perf_counter()
        self.deadline = None if timeout is None else self.t0 + timeout

    def share(self, fraction: float) -> "_Clock":
        """A clock started with this one whose deadline comes after ``fraction`` of its time."""
        part = _Clock(None)
        part.t0 = self.t0
        part.deadline = None if self.deadline is None else self.t0 + fraction * (self.deadline - self.t0)
        return part

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def left_ms(self) -> int | None:
        if self.deadline is None:
            return None
        return max(1, int(1000 * (self.deadline - time.perf_counter())))

    def over(self) -> bool:
        return self.deadline is not None and time.perf_counter() > self.deadline

    def reason(self, reasons: list[str]) -> str:
        """Why an answer is unknown: each method's word, after the time really spent once it ran out."""
        said = "; ".join(reasons)
        return timeout_reason(self.t0, self.deadline - self.t0, said) if self.over() else said


def _check(s: z3.Solver, clock: _Clock, *assumptions) -> tuple[z3.CheckSatResult, str | None]:
    """``s.check`` within the clock: the solver's own timeout, and an interrupt of its
    context at the deadline for the engines that do not watch that timeout (Spacer)."""
    ms = clock.left_ms()
    timer = None
    if ms is not None:
        s.set("timeout", ms)
        timer = threading.Timer(ms / 1000 + 0.5, s.ctx.interrupt)
        timer.daemon = True
        timer.start()
    try:
        r = s.check(*assumptions)
    finally:
        if timer is not None:
            timer.cancel()
    why = s.reason_unknown() if r == z3.unknown else None
    check_z3_reason(why)  # a Ctrl-C that z3 caught is an interrupt, not an unknown
    return r, why


def _raster(ts, model_z3: z3.ModelRef, xs: list[np.ndarray]) -> np.ndarray:
    rows = [[model_z3.eval(ts.expr(v), model_completion=True).as_long() for v in x] for x in xs]
    return np.array(rows, dtype=np.int8)


def _new_system(model: Model, monitor: Monitor, letters, box):
    from .encodings.transition import TransitionSystem
    return TransitionSystem(model, monitor, letters=letters, box=box)


class _Unroll:
    """A BMC unrolling from the initial state, one step at a time, on its own solver."""

    def __init__(self, ts, clock: _Clock):
        self.ts, self.clock = ts, clock
        self.solver = z3.Solver(ctx=ts.ctx)
        self.state = ts.initial()
        self.inputs: list[np.ndarray] = []

    def deepen(self) -> tuple[str, np.ndarray | None, str | None]:
        """One step deeper; is a violation reachable at the new depth? ``('sat', witness)``,
        ``('unsat', None)`` or ``('unknown', None, reason)``."""
        ts = self.ts
        x, cx = ts.inputs(f"b{len(self.inputs)}")
        self.state, defs = ts.step(self.state, x)
        self.inputs.append(x)
        self.solver.add(ts.expr(cx), ts.expr(defs))
        self.solver.push()
        self.solver.add(ts.expr(ts.bad(self.state)))
        r, why = _check(self.solver, self.clock)
        witness = _raster(ts, self.solver.model(), self.inputs) if r == z3.sat else None
        self.solver.pop()
        return str(r), witness, why


def _bmc(ts, clock: _Clock, max_depth: int) -> tuple[str, Any, int]:
    unroll = _Unroll(ts, clock)
    for depth in range(1, max_depth + 1):
        r, witness, why = unroll.deepen()
        if r == "sat":
            return "unsafe", witness, depth
        if r == "unknown" or clock.over():
            return "unknown", f"solver unknown at depth {depth}: {why or 'timeout'}", depth
    return "bounded", None, max_depth


def _kinduction(ts, clock: _Clock, max_depth: int) -> tuple[str, Any, int]:
    """k-induction with loop-free paths. Returns ``('safe', None, k)``, ``('unsafe', witness,
    depth)`` or ``('unknown', reason, k)``."""
    unroll = _Unroll(ts, clock)
    step = z3.Solver(ctx=ts.ctx)
    s0, dom = ts.state("k0")
    step.add(ts.expr(dom))
    path = [s0]
    for k in range(1, max_depth + 1):
        r, witness, why = unroll.deepen()  # base: no violation within k steps of the initial state
        if r == "sat":
            return "unsafe", witness, k
        if r == "unknown" or clock.over():
            return "unknown", f"base case unknown at depth {k}: {why or 'timeout'}", k
        x, cx = ts.inputs(f"k{k}")
        sk, defs = ts.step(path[-1], x)
        step.add(ts.expr(cx), ts.expr(defs), ts.expr(ts.terms.not_(ts.bad(path[-1]))))
        for earlier in path:  # loop-free: the shortest path to a violation repeats no state
            step.add(ts.expr(ts.terms.not_(ts.equal(sk, earlier))))
        path.append(sk)
        r, why = _check(step, clock, ts.expr(ts.bad(sk)))
        if r == z3.unsat:
            return "safe", None, k
        if r == z3.unknown or clock.over():
            return "unknown", f"induction step unknown at depth {k}: {why or 'timeout'}", k
    return "unknown", f"not {max_depth}-inductive (no proof up to depth {max_depth})", max_depth


def _pdr(ts, clock: _Clock) -> tuple[str, Any, dict]:
    """IC3/PDR with z3's Spacer. Returns ``('safe', invariant_record, stats)``,
    ``('unsafe', None, stats)`` or ``('unknown', reason, stats)``."""
    ctx = ts.ctx
    s, dom = ts.state("s")
    x, cx = ts.inputs("")
    nxt, defs = ts.step(s, x)
    primed, _ = ts.state("n")
    S = [ts.expr(v) for v in s]
    P = [ts.expr(v) for v in primed]
    sorts = [z3.IntSort(ctx)] * len(S)
    inv = z3.Function("Inv", *sorts, z3.BoolSort(ctx))
    trans = z3.And(ts.expr(dom), ts.expr(cx), ts.expr(defs), ts.expr(ts.equal(primed, nxt)))
    bad = z3.And(ts.expr(dom), ts.expr(ts.bad(s)))
    init = [ts.expr(v) for v in ts.initial()]

    def forall(body):
        vs = _constants(body)
        return z3.ForAll(vs, body) if vs else body

    horn = z3.SolverFor("HORN", ctx=ctx)  # Spacer, z3's IC3/PDR for Horn clauses
    horn.add(inv(*init))
    horn.add(forall(z3.Implies(z3.And(inv(*S), trans), inv(*P))))
    horn.add(forall(z3.Implies(z3.And(inv(*S), bad), z3.BoolVal(False, ctx))))
    r, why = _check(horn, clock)
    stats = {"state_variables": len(S)}
    if r == z3.unsat:
        return "unsafe", None, stats
    if r == z3.unknown:
        return "unknown", f"spacer unknown: {why}", stats
    found = horn.model().eval(inv(*S))  # no model completion: that would fix the state variables too
    text = found.sexpr()
    try:  # what a certificate carries and its checker reads: re-check exactly that
        invariant = parse_term(text, {v.decl().name(): v for v in S}, ctx)
    except VerisnnError as e:
        return "unknown", f"the invariant Spacer returned cannot be written in a certificate: {e}", stats
    # re-check the invariant's three clauses with a plain SMT solver before believing it
    checks = {
        "initiation": z3.Not(z3.substitute(invariant, *zip(S, init))),
        "consecution": z3.And(invariant, trans, z3.Not(z3.substitute(invariant, *zip(S, P)))),
        "safety": z3.And(invariant, bad),
    }
    results = {}
    for name, query in checks.items():
        plain = z3.Solver(ctx=ctx)
        plain.add(query)
        rr, why = _check(plain, clock)
        results[name] = str(rr)
        if rr != z3.unsat:
            return "unknown", f"the invariant Spacer returned failed its {name} re-check ({rr}{': ' + why if why else ''})", stats
    record = {"invariant": text, "invariant_sha256": hashlib.sha256(text.encode()).hexdigest(),
              "invariant_size": _size(invariant), "recheck": results, "state_names": ts.names}
    return "safe", record, stats


def _nodes(e: z3.ExprRef) -> list[z3.ExprRef]:
    """Every distinct node of ``e``'s DAG (by id: ``z3util.get_vars`` compares by printing)."""
    seen, out, todo = set(), [], [e]
    while todo:
        check_deadline()  # an invariant or a transition relation can have millions of nodes
        a = todo.pop()
        if a.get_id() in seen:
            continue
        seen.add(a.get_id())
        out.append(a)
        todo += a.children()
    return out


def _size(e: z3.ExprRef) -> int:
    return len(_nodes(e))


def _constants(e: z3.ExprRef) -> list[z3.ExprRef]:
    """The uninterpreted constants (the variables) of ``e``."""
    return [a for a in _nodes(e) if z3.is_const(a) and a.decl().kind() == z3.Z3_OP_UNINTERPRETED]


# ---------------------------------------------------------------- the entry point


def verify_unbounded(model: Model, prop: Property, method: str = "auto", timeout: float | None = None,
                     max_depth: int | None = None, max_states: int | None = None,
                     letters: Any = None) -> Result:
    """Decide an unbounded-horizon property of ``model`` (see the module docstring).

    ``max_depth``: unrolling depth of ``bmc`` and ``kinduction`` (default
    :data:`DEFAULT_MAX_DEPTH`; k-induction at most :data:`MAX_KINDUCTION_DEPTH`);
    ``max_states``: the explicit-state budget of ``explore``;
    ``letters``: ``None`` (every 0/1 input vector at every step) or an ``[m, n]`` array of
    the allowed input vectors; ``timeout`` in seconds for the whole call."""
    clock = _Clock(timeout)
    depth = DEFAULT_MAX_DEPTH if max_depth is None else int(max_depth)
    budget = DEFAULT_MAX_STATES if max_states is None else int(max_states)
    try:
        if method not in METHODS:
            raise VerisnnError(f"unknown method {method!r} for an unbounded property; available: "
                               f"{', '.join(METHODS)}", "method")
        if not isinstance(prop, Property) or prop.horizon != "unbounded":
            raise PropertyError("verify_unbounded decides properties with horizon: unbounded", "horizon")
        check_against_model(prop, model, unbounded=True)
        if depth < 1 or budget < 1:
            raise VerisnnError("max_depth and max_states must be positive", "method")
        if letters is not None:
            letters = np.asarray(letters)
            if letters.ndim != 2 or letters.shape[1] != model.input.size or not np.isin(letters, (0, 1)).all() \
                    or len(letters) == 0:
                raise InputError(f"letters must be a non-empty 0/1 array [m, {model.input.size}]", "letters")
            letters = np.unique(letters.astype(np.int8), axis=0)
        monitor = monitor_for(prop.condition, model)
    except VerisnnError as e:
        return Result("error", method, clock.elapsed(), reason=str(e))
    details: dict[str, Any] = {"horizon": "unbounded", "model_sha256": model_hash(model)}
    if letters is not None:  # the claim covers these input vectors only: certificates record them
        details["letters_allowed"] = letters.tolist()
    try:
        with time_limit(clock.deadline):  # what the engines do not watch themselves (the box, building terms)
            if method == "explore":
                return _run_explore(model, prop, monitor, letters, budget, clock, details)
            return _run_smt(model, prop, monitor, letters, method, depth, clock, details)
    except DeadlineReached:
        return Result("unknown", method, clock.elapsed(), reason=clock.reason([]), details=details)
    except (ModelError, VerisnnError) as e:
        return Result("error", method, clock.elapsed(), reason=str(e), details=details)
    except z3.Z3Exception as e:
        return Result("error", method, clock.elapsed(), reason=f"z3 failed: {e}", details=details)


def _run_explore(model, prop, monitor, letters, budget, clock, details) -> Result:
    alphabet = letters if letters is not None else _all_letters(model.input.size)
    outcome, payload, stats = _explore(model, monitor, alphabet, budget, clock.deadline)
    details = {**details, **stats}
    if outcome == "unsafe":
        return _falsified(model, prop, payload, "explore", clock.elapsed(), details, letters)
    if outcome == "unknown":
        return Result("unknown", "explore", clock.elapsed(), reason=payload, details=details)
    evidence = {"method": "explore", "reachable_states": stats["states"], "letters": stats["letters"],
                "model_sha256": details["model_sha256"], "property": prop.to_dict(),
                "record": "every reachable state of the network and the monitor was visited; none violates"}
    return Result("verified", "explore", clock.elapsed(), evidence=evidence, details=details)


def _run_smt(model, prop, monitor, letters, method, depth, clock, details) -> Result:
    from .encodings.transition import StateLayout, reachable_box
    layout = StateLayout(model, monitor)
    n = model.input.size
    in_lo = np.zeros(n, dtype=np.int64) if letters is None else letters.min(axis=0)
    in_hi = np.ones(n, dtype=np.int64) if letters is None else letters.max(axis=0)
    box = reachable_box(layout, in_lo, in_hi)
    details = {**details, "state_dim": layout.dim, "box": {"iterations": box.iterations, "widened": box.widened,
                                                           "unbounded_components": int(np.sum(np.isinf(box.hi)))}}
    base_evidence = {"model_sha256": details["model_sha256"], "property": prop.to_dict(),
                     "box": box.to_json(), "state_names": layout.names()}
    if method == "bmc":
        ts = _new_system(model, monitor, letters, box)
        outcome, payload, reached = _bmc(ts, clock, depth)
        details["depth"] = reached
        if outcome == "unsafe":
            return _falsified(model, prop, payload, "bmc", clock.elapsed(), details, letters)
        reason = payload if outcome == "unknown" else (f"no violation within {depth} steps; bounded model "
                                                         f"checking proves nothing beyond its depth")
        return Result("unknown", "bmc", clock.elapsed(), reason=reason, details=details)
    reasons = []
    if method == "auto":
        witness = _random_search(model, prop, letters)
        if witness is not None:
            return _falsified(model, prop, witness, "auto (random simulation)", clock.elapsed(), details, letters)
    if method in ("kinduction", "auto"):
        ts = _new_system(model, monitor, letters, box)
        share = clock if method == "kinduction" else clock.share(KINDUCTION_SHARE)
        outcome, payload, k = _kinduction(ts, share, min(depth, MAX_KINDUCTION_DEPTH))
        details["induction_depth"] = k
        if outcome == "unsafe":
            return _falsified(model, prop, payload, "kinduction", clock.elapsed(), details, letters)
        if outcome == "safe":
            evidence = {"method": "kinduction", "depth": k, **base_evidence,
                        "record": f"no violation within {k} steps of the initial state, and every loop-free path "
                                  f"of {k} violation-free steps from the invariant box stays violation-free"}
            return Result("verified", "kinduction", clock.elapsed(), evidence=evidence, details=details)
        reasons.append(f"kinduction: {payload}")
        if method == "kinduction" or clock.over():
            return Result("unknown", method, clock.elapsed(), reason=clock.reason(reasons), details=details)
    ts = _new_system(model, monitor, letters, box)
    outcome, payload, stats = _pdr(ts, clock)
    details.update({f"pdr_{k}": v for k, v in stats.items()})
    if outcome == "safe":
        evidence = {"method": "pdr", **base_evidence, **payload}
        details["invariant_size"] = payload["invariant_size"]
        return Result("verified", "pdr", clock.elapsed(), evidence=evidence, details=details)
    if outcome == "unsafe":
        # Spacer saw a violation; BMC produces the input that shows it
        ts = _new_system(model, monitor, letters, box)
        found, witness, reached = _bmc(ts, clock, max(depth, 4 * monitor.length + 64))
        if found == "unsafe":
            return _falsified(model, prop, witness, "pdr", clock.elapsed(), {**details, "depth": reached}, letters)
        reasons.append(f"pdr: a violation is reachable, but bmc found no witness within {reached} steps")
    else:
        reasons.append(f"pdr: {payload}")
    return Result("unknown", method, clock.elapsed(), reason=clock.reason(reasons), details=details)


__all__ = ["METHODS", "replay_unbounded", "verify_unbounded"]
