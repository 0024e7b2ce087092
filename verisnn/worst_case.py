"""Certified worst-case hardware costs over input regions, and the hardware conditions.

The events of one inference (:mod:`verisnn.hardware`: synops, active and inactive neuron
updates, spikes; per step the busiest core's work plus the barrier) are, over the CP-SAT
encoding of :mod:`verisnn.encodings.cpsat`, linear expressions of the spike literals:

* a neuron's synops at step ``t``: the sum of its arriving spikes (input bits of step
  ``t - d`` or the spikes of the layer below, through non-zero weights; its own layer's
  spikes of step ``t - 1`` through non-zero recurrent weights);
* its update is active: a literal equal to the OR of those arrivals (``a -> OR``, each
  arrival ``-> a``), or the arrival itself when there is one, a constant when the bounds
  decide them all;
* a core's busy time at step ``t``: ``Σ synops·time.synop + Σ active·(time.neuron_active -
  time.neuron_inactive) + neurons·time.neuron_inactive``; the step's time is
  ``AddMaxEquality`` over the cores (cores that can never be the busiest left out) plus the
  barrier ``sync_ps(cores in use)`` (or the profile's fixed ``step_ns``);
* latency and energy are sums of those, in integer ps and fJ — exactly the integers of
  :func:`verisnn.hardware.cost`, from the same :class:`~verisnn.hardware.HardwareProfile`
  and :class:`~verisnn.hardware.Placement`.

The encoding has exactly one solution per raster of the region (the run's values), so:

* :func:`worst_case` maximises a quantity over the region: ``optimal`` is CP-SAT's proof
  that no raster of the region costs more than the witness (a certified maximum); short of
  that, the witness's cost is a lower bound and CP-SAT's objective bound (capped by the
  interval bound of the expression) an upper bound, said as such;
* :func:`add_hardware_violation` adds "this run costs more than ``X``" to a counterexample
  query, so ``latency_us_at_most`` / ``energy_uj_at_most`` are verified only when that
  query is INFEASIBLE and falsified only with a witness replayed through
  :func:`verisnn.hardware.cost`.

Every value reported is the witness replayed through the reference simulator and
:func:`verisnn.hardware.cost`, and must equal the solver's value of the expression; a
difference is a defect and raises. See ``docs/worst-case.md``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from . import semantics
from .encodings.cpsat import (DEFAULT_WORKERS, SOLVER, CpSatOps, EncodingTimeout, Lin, Sym, Violation, _is_const,
                              _is_literal, _lin, _set_parameters, _sum, cpsat_params, region_inputs)
from .errors import InputError, VerisnnError
from .interrupts import solve_cpsat
from .limits import DeadlineReached, batch_within_budget, count_json, count_text, time_limit
from .hardware import HardwareProfile, Placement, cost, load_profile, place
from .model import Model
from .model_format import model_hash
from .properties import (AnyInput, Deletions, EnergyAtMost, Flips, Insertions, LatencyAtMost, PropertyError,
                         Region, changeable_positions, parse_property, region_contains, region_size)
from .simulator import check_raster, run_bytes, simulate, single_raster
from .verify import region_batches, raster_sha256, timeout_reason

QUANTITIES = ("latency_us", "energy_uj", "synops", "spikes")
METHODS = ("auto", "enumerate", "cpsat")
DEFAULT_MAX_REGION = 200_000  # auto enumerates regions up to this many rasters (CP-SAT rarely beats it there)
MAX_GREEDY_ROUNDS = 64
STATUSES = ("optimal", "feasible", "unknown")
_EXACT_UNIT = {"latency_us": "ps", "energy_uj": "fJ", "synops": "synops", "spikes": "spikes"}
_SCALE = {"latency_us": 10**6, "energy_uj": 10**9, "synops": 1, "spikes": 1}  # exact unit per reported unit
ENCODED_REGIONS = (Flips, Deletions, Insertions, AnyInput)


# ---------------------------------------------------------------- the event terms


@dataclass
class EventTerms:
    """The hardware events of the run as CP-SAT terms (:class:`~verisnn.encodings.cpsat.Lin`:
    an expression or int with an interval holding its values over the region).

    Totals ``synops``, ``spikes``, ``active``; per layer ``layer_synops``, ``layer_active``,
    ``layer_spikes``; per core in use (``cores``, increasing, as in
    :class:`~verisnn.hardware.CostReport`) ``core_synops``, ``core_active`` and ``core_busy_ps``
    (summed over the steps). With a profile: ``energy_fj``, ``latency_ps`` and ``step_ps``
    (per step); ``core_busy_ps`` is None for a profile without per-event times."""

    synops: Lin
    spikes: Lin
    active: Lin
    layer_synops: list[Lin]
    layer_active: list[Lin]
    layer_spikes: list[Lin]
    cores: tuple[int, ...] = ()
    core_synops: list[Lin] = field(default_factory=list)
    core_active: list[Lin] = field(default_factory=list)
    core_busy_ps: list[Lin] | None = None
    step_ps: list[Lin] | None = None
    energy_fj: Lin | None = None
    latency_ps: Lin | None = None

    def quantity(self, name: str) -> Lin:
        """The term of a :data:`QUANTITIES` name, in its exact unit (ps, fJ, counts)."""
        return {"latency_us": self.latency_ps, "energy_uj": self.energy_fj, "synops": self.synops,
                "spikes": self.spikes}[name]


class _Count:
    """A sum of 0/1 literals plus a constant, built up term by term."""

    def __init__(self):
        self.const = 0
        self.lits: list[Any] = []

    def add(self, x: Any) -> None:
        if _is_const(x):
            self.const += x
        else:
            self.lits.append(x)

    def extend(self, other: "_Count") -> None:
        self.const += other.const
        self.lits += other.lits

    def lin(self) -> Lin:
        if not self.lits:
            return Lin(self.const, self.const, self.const)
        return Lin(cp_model.LinearExpr.sum(self.lits) + self.const, self.const, self.const + len(self.lits))


def _literal(ops: CpSatOps, x: Any) -> Any:
    """A 0/1 value as a constant or a CP-SAT literal (a Boolean equal to it if it is neither)."""
    if _is_const(x) or _is_literal(x):
        return x
    b = ops.new_var(0, 1, "lit")
    ops.model.add(b == x)
    return b


def _any_of(ops: CpSatOps, items: list[Any]) -> Any:
    """The OR of 0/1 constants and literals, exactly: a constant, the one literal, or a fresh
    Boolean ``a`` with ``a -> OR(items)`` and ``item -> a`` for each."""
    if any(_is_const(x) and x for x in items):
        return 1
    lits = [x for x in items if not _is_const(x)]
    if not lits:
        return 0
    if len(lits) == 1:
        return lits[0]
    a = ops.new_var(0, 1, "active")
    ops.model.add_bool_or(lits).only_enforce_if(a)
    for x in lits:
        ops.model.add_implication(x, a)
    return a


def _max(ops: CpSatOps, items: list[Lin]) -> Lin:
    """``max(items)`` exactly (``AddMaxEquality``), leaving out items that can never be the largest."""
    lo, hi = max(x.lo for x in items), max(x.hi for x in items)
    if lo == hi:
        return Lin(lo, lo, hi)
    live = [x for x in items if x.hi >= lo]
    if len(live) == 1:
        return live[0]
    ops._check_time()
    m = ops.new_var(lo, hi, "step")
    ops.model.add_max_equality(m, [x.expr for x in live])
    return Lin(m, lo, hi)


def event_terms(ops: CpSatOps, model: Model, raster: Sym, outputs: list[Sym],
                profile: HardwareProfile | None = None, placement: Placement | None = None) -> EventTerms:
    """The hardware events of the run encoded in ``ops`` (``raster``: the ``[T, n]`` input as
    built by :func:`~verisnn.encodings.cpsat.region_inputs`; ``outputs``: every layer's
    output sequence from :func:`verisnn.semantics.run_layers`). Without ``profile`` only the
    counts; ``placement`` defaults to :func:`verisnn.hardware.place`'s."""
    T = model.time_steps
    if profile is not None and placement is None:
        placement = place(model, profile)

    def input_bit(t: int, i: int) -> Any:
        x = raster.cp[t, i]
        return x if _is_const(x) else ops.input_literals[(t, i)]

    def spike(k: int, t: int, i: int) -> Any:
        return _literal(ops, outputs[k].cp[t, i])

    cores = placement.cores_in_use if placement is not None else ()
    column = {core: c for c, core in enumerate(cores)}
    core_syn = [[_Count() for _ in cores] for _ in range(T)]
    core_act = [[_Count() for _ in cores] for _ in range(T)]
    core_neurons = [0] * len(cores)
    layer_syn, layer_act, layer_spk = [], [], []
    for k, layer in enumerate(model.layers):
        feed = np.asarray(layer.dense_weight()) != 0
        feed_cols = [np.flatnonzero(row) for row in feed]
        rec = None if layer.recurrent is None else np.asarray(layer.recurrent) != 0
        rec_cols = None if rec is None else [np.flatnonzero(row) for row in rec]
        source = (lambda t, i: input_bit(t, i)) if k == 0 else (lambda t, i, k=k: spike(k - 1, t, i))
        cols = [column[int(c)] for c in placement.cores[k]] if placement is not None else None
        if cols is not None:
            for c in cols:
                core_neurons[c] += 1
        syn_total, act_total = _Count(), _Count()
        fed = [int(i) for i in np.flatnonzero(feed.any(axis=0))]  # sources with a non-zero synapse
        looped = [] if rec is None else [int(i) for i in np.flatnonzero(rec.any(axis=0))]
        for t in range(T):
            ops._check_time()
            # source index -> its 0/1 value arriving at step t (nothing arrives before the delay)
            delivered = {i: source(t - layer.delay, i) for i in fed} if t >= layer.delay else {}
            own = {i: spike(k, t - 1, i) for i in looped} if t >= 1 else {}
            for j in range(layer.out_size):
                arrivals = [delivered[int(i)] for i in feed_cols[j]] if delivered else []
                if own:
                    arrivals += [own[int(i)] for i in rec_cols[j]]
                syn = _Count()
                for x in arrivals:
                    syn.add(x)
                act = _any_of(ops, arrivals)
                syn_total.extend(syn)
                act_total.add(act)
                if cols is not None:
                    core_syn[t][cols[j]].extend(syn)
                    core_act[t][cols[j]].add(act)
        layer_syn.append(syn_total.lin())
        layer_act.append(act_total.lin())
        if layer.neuron.fires:
            out = outputs[k]
            layer_spk.append(_sum([_lin(out, idx) for idx in np.ndindex(*out.shape)]))
        else:
            layer_spk.append(Lin(0, 0, 0))
    terms = EventTerms(synops=_sum(layer_syn), spikes=_sum(layer_spk), active=_sum(layer_act),
                       layer_synops=layer_syn, layer_active=layer_act, layer_spikes=layer_spk, cores=cores)
    if profile is None:
        return terms
    per_core = [(_Count(), _Count()) for _ in cores]
    for t in range(T):
        for c in range(len(cores)):
            per_core[c][0].extend(core_syn[t][c])
            per_core[c][1].extend(core_act[t][c])
    terms.core_synops = [s.lin() for s, _ in per_core]
    terms.core_active = [a.lin() for _, a in per_core]
    neurons = sum(layer.out_size for layer in model.layers)
    e = profile.energy_fj
    inactive_fj = T * neurons * e["neuron_inactive"]
    terms.energy_fj = _sum([terms.synops, terms.active, terms.spikes, Lin(inactive_fj, inactive_fj, inactive_fj)],
                           [e["synop"], e["neuron_active"] - e["neuron_inactive"], e["spike"], 1])
    if profile.time_ps is not None:
        tp = profile.time_ps
        busy = [[_sum([core_syn[t][c].lin(), core_act[t][c].lin(),
                       Lin(core_neurons[c], core_neurons[c], core_neurons[c])],
                      [tp["synop"], tp["neuron_active"] - tp["neuron_inactive"], tp["neuron_inactive"]])
                 for c in range(len(cores))] for t in range(T)]
        terms.core_busy_ps = [_sum([busy[t][c] for t in range(T)]) for c in range(len(cores))]
    if profile.step_ps is not None:
        terms.step_ps = [Lin(profile.step_ps, profile.step_ps, profile.step_ps)] * T
    else:
        sync = profile.sync_ps(len(cores))
        terms.step_ps = [_sum([_max(ops, busy[t]), Lin(sync, sync, sync)]) for t in range(T)]
    terms.latency_ps = _sum(terms.step_ps)
    return terms


def add_hardware_violation(v: Violation, model: Model, cond: Any, raster: Sym, outputs: list[Sym]) -> None:
    """Constrain the counterexample query to the runs that violate ``cond``
    (:class:`~verisnn.properties.LatencyAtMost` or :class:`~verisnn.properties.EnergyAtMost`):
    latency in ps above ``floor(us·10^6)``, energy in fJ above ``floor(uj·10^9)``."""
    profile = load_profile(cond.profile)
    terms = event_terms(v.ops, model, raster, outputs, profile, place(model, profile))
    if isinstance(cond, LatencyAtMost):
        v.clause([v.ge(terms.latency_ps, cond.limit_ps() + 1)])
    elif isinstance(cond, EnergyAtMost):
        v.clause([v.ge(terms.energy_fj, cond.limit_fj() + 1)])
    else:
        raise VerisnnError(f"not a hardware condition: {type(cond).__name__}", "condition")


# ---------------------------------------------------------------- building


@dataclass
class _Built:
    ops: CpSatOps
    flips: list[tuple[int, int, Any]]
    terms: EventTerms


def _build(model: Model, centre: np.ndarray, region: Region, profile: HardwareProfile | None,
           placement: Placement | None, deadline: float | None) -> _Built:
    """The region's runs as a CP-SAT model (:mod:`verisnn.encodings.cpsat`) with their event terms."""
    ops = CpSatOps(deadline=deadline)
    c64 = centre.astype(np.int64)
    x, flips, free, budget = region_inputs(ops, region, c64)
    params = cpsat_params(model, c64, free, budget)
    outputs, _ = semantics.run_layers(ops, model, params, x, ())
    return _Built(ops, flips, event_terms(ops, model, x, outputs, profile, placement))


def _hint(model_cp: cp_model.CpModel, flips: list[tuple[int, int, Any]], centre: np.ndarray, seed: np.ndarray,
          deadline: float | None) -> bool:
    """Hint every variable with its value on the run of ``seed`` (solved on a copy with the
    flips fixed, which propagation decides), so that CP-SAT starts from that solution; only
    the flips when that copy does not solve in time. Returns whether the full hint was set."""
    copy = model_cp.clone()
    copy.clear_objective()
    for t, i, f in flips:
        copy.add(copy.get_bool_var_from_proto_index(f.index) == int(seed[t, i] != centre[t, i]))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    if deadline is not None:
        solver.parameters.max_time_in_seconds = max(deadline - time.perf_counter(), 1e-3)
    if solve_cpsat(solver, copy) in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        values = solver.response_proto.solution
        for k in range(len(model_cp.proto.variables)):
            model_cp.add_hint(model_cp.get_int_var_from_proto_index(k), int(values[k]))
        return True
    for t, i, f in flips:
        model_cp.add_hint(f, int(seed[t, i] != centre[t, i]))
    return False


def _witness(centre: np.ndarray, flips: list[tuple[int, int, Any]], value) -> np.ndarray:
    out = centre.astype(np.int8).copy()
    for t, i, f in flips:
        if value(f):
            out[t, i] ^= 1
    return out


# ---------------------------------------------------------------- worst case


@dataclass
class WorstCase:
    """The largest ``quantity`` over a region, or what is known of it.

    ``status``: ``optimal`` — ``value`` is the maximum, certified (``bound == value``): every
    raster of the region was replayed (``details["method"] == "enumerate"``), or CP-SAT proved
    that none exceeds it; ``feasible`` — the search found ``witness`` but did not certify it
    within the time: ``value`` is a lower bound and the maximum lies in ``[value, bound]``
    (``bound`` None: no upper bound was proven); ``unknown`` — the time ran out before the
    search produced anything: ``value`` is the centre's (a lower bound, the centre is in the
    region). ``value`` / ``bound`` are in µs, µJ or counts; ``exact_value`` / ``exact_bound``
    the integers in ``exact_unit`` (ps, fJ, synops, spikes). ``witness``, a ``[T, n]`` raster of
    the region, replays (reference simulator, :func:`verisnn.hardware.cost`) to ``exact_value``."""

    quantity: str
    status: str
    value: float | int
    exact_value: int
    bound: float | int | None
    exact_bound: int | None
    witness: np.ndarray
    profile: str | None
    time_s: float
    reason: str | None = None
    details: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")  # a programming error, never user input

    @property
    def exact_unit(self) -> str:
        return _EXACT_UNIT[self.quantity]

    def to_json(self) -> dict[str, Any]:
        # the details first: the solver's own words (its "status" among them) never hide ours
        return {**self.details, "quantity": self.quantity, "status": self.status, "value": self.value,
                "bound": self.bound, "exact_unit": self.exact_unit, "exact_value": self.exact_value,
                "exact_bound": self.exact_bound, "witness": self.witness.astype(int).tolist(),
                "profile": self.profile, "time_s": round(self.time_s, 6), "reason": self.reason}


def _in_unit(quantity: str, exact: int | None) -> float | int | None:
    if exact is None:
        return None
    scale = _SCALE[quantity]
    return exact if scale == 1 else exact / scale


def _values(model: Model, rasters: np.ndarray, quantity: str, profile: HardwareProfile | None,
            placement: Placement | None) -> list[int]:
    """The exact ``quantity`` of each ``[B, T, n]`` raster (Python ints)."""
    if quantity in ("latency_us", "energy_uj"):
        report = cost(model, rasters, profile, placement)
        return [int(v) for v in (report.latency_ps if quantity == "latency_us" else report.energy_fj)]
    run = simulate(model, rasters)
    return [int(v) for v in (run.synops if quantity == "synops" else run.total_spikes)]


def replay(model: Model, raster: np.ndarray, quantity: str, profile: HardwareProfile | None,
           placement: Placement | None = None) -> int:
    """The exact ``quantity`` (ps, fJ, synops, spikes) of the run on the ``[T, n]`` raster:
    the reference simulator and :func:`verisnn.hardware.cost`."""
    return _values(model, np.asarray(raster)[None], quantity, profile, placement)[0]


def _batch(model: Model, wanted: int) -> int:
    """Rasters per batch of replays within the memory budget (a replay with its costs: about
    twice a simulation)."""
    return batch_within_budget(2 * run_bytes(model, 1), wanted, f"replaying a raster of {model.time_steps} steps")


def _region(region: Any) -> Region:
    if isinstance(region, Region):
        return region
    return parse_property({"region": region, "condition": "robust"}).region  # the file form: {"flips": 2}, "any"


def _greedy(model: Model, centre: np.ndarray, region: Region, quantity: str, profile, placement,
            deadline: float | None, start: int, chunk: int = 2048) -> tuple[np.ndarray, int]:
    """A lower bound: from the centre, repeatedly take the single change (within the
    region's budget) that raises the quantity most, while one does. Returns the best raster
    and its exact value."""
    pos = changeable_positions(region, centre)
    budget = pos.size if isinstance(region, AnyInput) else min(region.k, pos.size)
    chunk = _batch(model, chunk)
    flat = centre.reshape(-1)
    best, best_value = flat.copy(), start
    for _ in range(min(budget, MAX_GREEDY_ROUNDS)):
        free = pos[best[pos] == flat[pos]]  # changes not made yet (undoing one never raises the budget's use)
        if free.size == 0:
            break
        top, top_value = None, best_value  # the first single change that raises the quantity most
        for lo in range(0, free.size, chunk):  # made a chunk at a time: all at once is free x cells bytes
            if deadline is not None and time.perf_counter() > deadline:
                return best.reshape(centre.shape), best_value
            rows = np.repeat(best[None], min(chunk, free.size - lo), axis=0)
            rows[np.arange(len(rows)), free[lo: lo + chunk]] ^= 1
            values = _values(model, rows.reshape(-1, *centre.shape), quantity, profile, placement)
            k = int(np.argmax(np.array(values, dtype=object)))
            if values[k] > top_value:
                top, top_value = rows[k], values[k]
        if top is None:
            break
        best, best_value = top, top_value
    return best.reshape(centre.shape), best_value


def worst_case(model: Model, centre: Any, region: Any, quantity: str,
               profile: str | Path | HardwareProfile | None = None, timeout: float | None = None, *,
               method: str = "auto", max_region: int = DEFAULT_MAX_REGION, placement: Any = None,
               workers: int = DEFAULT_WORKERS, greedy: bool = True, batch: int = 2048,
               parameters: dict[str, Any] | None = None) -> WorstCase:
    """The largest ``quantity`` (``latency_us``, ``energy_uj``, ``synops``, ``spikes``) over the
    rasters of ``region`` (a :class:`~verisnn.properties.Region` of the kinds flips, deletions,
    insertions or any, or its file form) around the ``[T, n]`` raster ``centre``, on
    ``profile``'s hardware (a name, a path or a :class:`~verisnn.hardware.HardwareProfile`;
    needed for latency and energy) with ``placement`` (default :func:`verisnn.hardware.place`'s;
    an override as :func:`~verisnn.hardware.place` takes it).

    ``method``: ``enumerate`` (every raster of the region replayed through
    :func:`verisnn.hardware.cost`; the maximum is certified by exhaustion, the count checked
    against :func:`~verisnn.properties.region_size`), ``cpsat`` (CP-SAT maximises the
    quantity's exact integer term, :func:`event_terms`; ``optimal`` is its proof), ``auto``
    (enumeration for regions of at most ``max_region`` rasters, else CP-SAT). ``timeout``
    (seconds) bounds the whole search. See :class:`WorstCase` for what each status certifies.
    ``greedy``: start CP-SAT from a greedy search's raster (a hint and a lower bound);
    ``workers``: CP-SAT's ``num_workers``; ``parameters``: further ``SatParameters`` by name.

    Bad arguments raise :class:`~verisnn.errors.VerisnnError`; a disagreement between the
    encoding and the replay (a defect) raises ``RuntimeError``, never a result."""
    t0 = time.perf_counter()
    elapsed = lambda: time.perf_counter() - t0  # noqa: E731
    if quantity not in QUANTITIES:
        raise InputError(f"unknown quantity {quantity!r}; available: {', '.join(QUANTITIES)}", "quantity")
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; available: {', '.join(METHODS)}", "method")
    centre = single_raster(model, centre, "worst_case takes one centre raster")
    region = _region(region)
    if not isinstance(region, ENCODED_REGIONS):
        raise PropertyError(f"worst_case covers flips, deletions, insertions and any regions, not "
                            f"{type(region).__name__.lower()}", "region")
    if profile is None and quantity in ("latency_us", "energy_uj"):
        raise InputError(f"{quantity} needs a hardware profile (e.g. 'loihi')", "profile")
    hw = None if profile is None else load_profile(profile)
    if hw is not None:
        placement = place(model, hw, placement)  # the default, or the override validated against the profile
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or not timeout >= 0):
        raise InputError(f"expected a non-negative timeout in seconds, got {timeout!r}", "timeout")
    for name, x in (("workers", workers), ("batch", batch)):
        if not isinstance(x, int) or isinstance(x, bool) or x < 1:
            raise InputError(f"expected a positive integer, got {x!r}", name)
    if not isinstance(max_region, int) or isinstance(max_region, bool) or max_region < 0:
        raise InputError(f"expected a non-negative integer, got {max_region!r}", "max_region")
    solver = cp_model.CpSolver()
    _set_parameters(solver, parameters or {})

    details: dict[str, Any] = {"region": region.to_dict(), "model_sha256": model_hash(model),
                               "centre_sha256": raster_sha256(centre)}
    # the centre's value is every answer's lower bound: replayed before the time limit starts counting
    centre_value = replay(model, centre, quantity, hw, placement)
    deadline = None if timeout is None else t0 + timeout
    limit = lambda: "" if timeout is None else timeout_reason(t0, timeout) + ": "  # noqa: E731

    def answer(status, witness, exact, bound, reason=None, **more) -> WorstCase:
        if not region_contains(region, centre, witness):
            raise RuntimeError("internal: a worst-case witness outside the region")
        replayed = centre_value if witness is centre else replay(model, witness, quantity, hw, placement)
        if replayed != exact:
            raise RuntimeError(f"internal: the witness of {quantity} {exact} does not replay to it")
        if bound is not None and bound < exact:
            raise RuntimeError(f"internal: the upper bound {bound} is below the replayed value {exact}")
        return WorstCase(quantity, status, _in_unit(quantity, exact), exact, _in_unit(quantity, bound), bound,
                         witness.astype(np.int8), None if hw is None else hw.name, elapsed(), reason,
                         {**details, **more})

    def search() -> WorstCase:
        size = region_size(region, centre)
        details["region_size"] = count_json(size)
        if method == "enumerate" or (method == "auto" and size <= max_region):
            if size > max_region:
                return answer("unknown", centre, centre_value, None, f"region has {count_text(size)} rasters, more "
                              f"than the enumeration limit {max_region}; the value is the centre's (a lower bound)",
                              method="enumerate")
            best, best_value, checked = centre, centre_value, 0
            for rasters in region_batches(centre, region, _batch(model, batch)):
                if deadline is not None and time.perf_counter() > deadline:
                    status = "feasible" if checked else "unknown"
                    return answer(status, best, best_value, None, f"{limit()}{checked} of {count_text(size)} rasters "
                                  "checked; the value is a lower bound", method="enumerate", rasters_checked=checked)
                values = _values(model, rasters, quantity, hw, placement)
                top = int(np.argmax(np.array(values, dtype=object)))
                checked += len(rasters)
                if values[top] > best_value:
                    best, best_value = rasters[top], values[top]
            if checked != size:  # the enumeration and the count disagree: never certify on it
                raise RuntimeError(f"internal: enumerated {checked} rasters, the region has {count_text(size)}")
            return answer("optimal", best, best_value, best_value, method="enumerate", rasters_checked=checked)

        details.update(method="cpsat", solver=SOLVER)
        try:
            built = _build(model, centre, region, hw, placement, deadline)
        except EncodingTimeout:
            return answer("unknown", centre, centre_value, None, f"{limit()}building the CP-SAT model did not "
                          "finish; the value is the centre's (a lower bound)")
        objective = built.terms.quantity(quantity)
        details.update(flip_variables=len(built.flips), variables=len(built.ops.model.proto.variables),
                       constraints=len(built.ops.model.proto.constraints), build_s=round(elapsed(), 6),
                       interval_bound=objective.hi)
        if objective.lo == objective.hi:  # the bounds fix it on the whole region: every raster attains it
            if centre_value != objective.lo:
                raise RuntimeError(f"internal: the encoding fixes {quantity} at {objective.lo}, the centre replays "
                                   f"{centre_value}")
            return answer("optimal", centre, centre_value, centre_value, stage="bounds")
        seed, seed_value = centre, centre_value
        if greedy:
            seed, seed_value = _greedy(model, centre, region, quantity, hw, placement, deadline, centre_value)
            details.update(greedy_value=seed_value, greedy_s=round(elapsed() - details["build_s"], 6))
        if deadline is not None and time.perf_counter() >= deadline:
            status = "feasible" if greedy else "unknown"
            return answer(status, seed, seed_value, objective.hi, f"{limit()}before CP-SAT ran; the value is a "
                          "lower bound, the bound the interval bound")
        model_cp = built.ops.model
        model_cp.maximize(objective.expr)
        _hint(model_cp, built.flips, centre, seed, deadline)
        solver.parameters.num_workers = workers
        if deadline is not None:
            solver.parameters.max_time_in_seconds = max(deadline - time.perf_counter(), 1e-3)
        status = solve_cpsat(solver, model_cp)  # a Ctrl-C raises KeyboardInterrupt, never UNKNOWN
        name = solver.status_name(status)
        details.update(status=name, solve_s=round(solver.wall_time, 6), branches=solver.num_branches,
                       conflicts=solver.num_conflicts)
        if status in (cp_model.INFEASIBLE, cp_model.MODEL_INVALID):  # the centre is a solution: a defect
            raise RuntimeError(f"internal: CP-SAT answered {name} for a region that holds the centre "
                               f"({model_cp.validate() or solver.solution_info()})")
        # CP-SAT's proven bound on the maximum, capped by the interval bound of the expression; only
        # with a solution is it one (after UNKNOWN CP-SAT reports 0, a value that proves nothing)
        bound = objective.hi
        cp_bound = solver.best_objective_bound  # a double: exact for integers below 2^53
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) and math.isfinite(cp_bound) and abs(cp_bound) < 2.0**52:
            bound = min(bound, math.ceil(cp_bound))
        best, best_value, found = seed, seed_value, "greedy search" if greedy else "centre"
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            witness = _witness(centre, built.flips, solver.boolean_value)
            exact = replay(model, witness, quantity, hw, placement)
            solved = int(solver.value(objective.expr))
            if exact != solved:
                raise RuntimeError(f"internal: the encoding's {quantity} of the witness is {solved}, the replay "
                                   f"gives {exact}")
            if status == cp_model.OPTIMAL:
                return answer("optimal", witness, exact, exact)
            if exact >= best_value:
                best, best_value, found = witness, exact, "CP-SAT"
        if bound <= best_value:  # CP-SAT proved nothing exceeds a value that a replayed raster attains
            return answer("optimal", best, best_value, best_value, stage=f"{found} and CP-SAT's bound")
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE) and not greedy:
            return answer("unknown", best, best_value, bound, f"{limit()}CP-SAT found no solution ({name}); the "
                          "value is the centre's (a lower bound)")
        return answer("feasible", best, best_value, bound, f"{limit()}the maximum lies in [{best_value}, {bound}] "
                      f"{_EXACT_UNIT[quantity]} (the {found}'s raster; CP-SAT's bound)")

    try:
        with time_limit(deadline):
            return search()
    except DeadlineReached:
        return answer("unknown", centre, centre_value, None, f"{limit()}the value is the centre's (a lower bound)")


# ---------------------------------------------------------------- the cross-check


def evaluate_terms(model: Model, raster: Any, profile: str | Path | HardwareProfile,
                   placement: Placement | None = None, centre: Any | None = None) -> dict[str, Any]:
    """The encoding's event terms evaluated at one input: the region ``any`` around ``centre``
    (default: all zeros; every input bit a flip variable) with the flips fixed to give
    ``raster``, solved. Returns exact integers in the layout of
    :class:`~verisnn.hardware.CostReport` (``energy_fj``, ``latency_ps``, ``step_ps`` [T],
    ``layer_synops`` / ``layer_active`` / ``layer_spikes`` [L], ``core_synops`` /
    ``core_active`` / ``core_busy_ps`` [C], ``synops``, ``spikes``, ``active``), for the
    cross-check against :func:`verisnn.hardware.cost` on the same input."""
    raster = single_raster(model, raster, "evaluate_terms takes one raster")
    c = np.zeros_like(raster) if centre is None else check_raster(model, centre)[0][0]
    hw = load_profile(profile)
    placement = place(model, hw, placement)
    built = _build(model, c, AnyInput(), hw, placement, None)
    for t, i, f in built.flips:
        built.ops.model.add(f == int(raster[t, i] != c[t, i]))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    status = solve_cpsat(solver, built.ops.model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise RuntimeError(f"internal: the encoding has no run for this input ({solver.status_name(status)})")
    value = lambda x: int(solver.value(x.expr)) if not _is_const(x.expr) else int(x.expr)  # noqa: E731
    terms = built.terms
    out: dict[str, Any] = {key: value(getattr(terms, key)) for key in ("synops", "spikes", "active", "energy_fj",
                                                                      "latency_ps")}
    for key in ("step_ps", "layer_synops", "layer_active", "layer_spikes", "core_synops", "core_active",
                "core_busy_ps"):
        items = getattr(terms, key)
        out[key] = None if items is None else [value(x) for x in items]
    out["cores"] = list(terms.cores)
    return out


__all__ = ["ENCODED_REGIONS", "EventTerms", "METHODS", "QUANTITIES", "WorstCase", "add_hardware_violation",
           "evaluate_terms", "event_terms", "replay", "worst_case"]
