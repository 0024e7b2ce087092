"""The verification engine: answer a property on a model around a centre input.

Every answer is a :class:`Result` with exactly one verdict:

* ``verified`` — the condition holds on the whole region; ``evidence`` records how
  (for ``enumerate``: the region, its size, how many rasters were simulated);
* ``falsified`` — ``witness`` is an input in the region that violates the
  condition, **replayed by the reference simulator** before it is reported;
* ``unknown`` — a limit was reached (time, region size); ``reason`` says which;
* ``error`` — the model, the input or the property cannot be used; ``reason`` says why.

Methods: ``enumerate`` (vectorised exhaustive simulation of every raster in the region,
batched through the exact simulator), ``bab`` (branch and bound over the input bits step
by step, :mod:`verisnn.bab`), ``bounds`` (sound interval bound propagation, which can
only prove), ``smt`` (the unrolled network in linear integer arithmetic or bit-vectors, through pysmt
or z3's own API, :mod:`verisnn.encodings.smt`),
``cpsat`` (the unrolled network as a CP-SAT model constrained by the bounds,
:mod:`verisnn.encodings.cpsat`) and ``auto``: the centre; falsification (greedy, random
and surrogate-gradient search) for large regions; the bounds; enumeration when the
region is one batch or two small batches price it under ``ENUMERATE_AT_ONCE_S``, else the
``bab`` tree with half as long as enumerating would take, then enumeration (jitter regions:
enumeration); CP-SAT with the time that is left.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from . import semantics
from .errors import ResourceError, VerisnnError
from .limits import DeadlineReached, count_json, count_text, time_limit
from .model import Model
from .model_format import model_hash
from .properties import (HARDWARE_CONDITIONS, AnyInput, Deletions, DecidedBy, EnergyAtMost, FirstSpikeBy, Flips,
                         Insertions, Intensity, Jitter, LatencyAtMost, NeverFires, NoOverflow, Property, PropertyError,
                         Robust, SpikesAtMost, SynopsAtMost, changeable_positions, check_against_model,
                         region_contains, region_size)
from .readout import decide
from .bab import Search
from .bounds import bounds_verify
from .falsify import gradient_search, greedy_search, random_search
from .simulator import NumpyOps, SimResult, _plan, check_raster, simulate, simulation_batch, single_raster

VERDICTS = ("verified", "falsified", "unknown", "error")
METHODS = ("auto", "enumerate", "bab", "bounds", "smt", "cpsat")
DEFAULT_MAX_REGION = 5_000_000
DEFAULT_BATCH = 2048
SEARCH_FIRST_ABOVE = 200_000  # regions with more rasters get falsification search before anything exhaustive
BAB_MAX_REGION = 10**9  # regions with more rasters than this go past the step-by-step tree (it cannot finish)
ENUMERATE_AT_ONCE_S = 0.25  # auto enumerates a region it can enumerate in this long without trying the tree
PRICING_BATCH = 512  # rasters per batch when auto prices an enumeration (smaller ones overprice it)
TREE_SHARE = 0.5  # of an enumeration's price, the time auto gives the step-by-step tree first
SMT_MAX_TERMS = 500_000  # synapses x steps beyond which auto does not try a solver encoding (it cannot finish)


@dataclass
class Result:
    """One answer. ``witness`` is a ``[T, n]`` int8 raster (``falsified`` only)."""

    verdict: str
    method: str
    time_s: float
    witness: np.ndarray | None = None
    reason: str | None = None
    evidence: dict | None = None
    details: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}")  # a programming error, never user input

    def to_json(self) -> dict[str, Any]:
        """The ``verify --json`` answer of DESIGN.md."""
        return {"verdict": self.verdict,
                "witness": None if self.witness is None else self.witness.astype(int).tolist(),
                "method": self.method, "time_s": round(self.time_s, 6), "reason": self.reason,
                "evidence": self.evidence, **self.details}


class OverflowRecordingOps(NumpyOps):
    """The exact integer interpretation that also records, per batch element, whether
    any membrane needed the overflow policy (the ``no_overflow`` condition)."""

    def __init__(self, dtype, batch: int):
        super().__init__(dtype)
        self.overflowed = np.zeros(batch, dtype=bool)
        self.calls: list[np.ndarray] = []  # per call of ``overflow`` (one layer, one step): [B] flags

    def overflow(self, u, bits, policy):
        half = 1 << (bits - 1)
        outside = (u < -half) | (u > half - 1)
        flags = outside.reshape(len(self.overflowed), -1).any(axis=1)
        self.calls.append(flags)
        self.overflowed |= flags
        return super().overflow(u, bits, policy)


def overflowed(model: Model, rasters: np.ndarray) -> np.ndarray:
    """``[B]`` flags: did any membrane of the run on each ``[T, n]`` raster need the overflow policy?"""
    arr, _ = check_raster(model, rasters)
    ops, params = _plan(model)
    rec = OverflowRecordingOps(ops.dtype, arr.shape[0])
    x = np.ascontiguousarray(arr.transpose(1, 0, 2))
    semantics.run_layers(rec, model, params, x, (arr.shape[0],))
    return rec.overflowed


def violations(model: Model, prop: Property, rasters: np.ndarray, reference: int | None,
               result: SimResult | None = None) -> np.ndarray:
    """``[B]`` flags: which of the ``[B, T, n]`` rasters violate the property's condition
    (``result``: their simulation, if the caller already has it)."""
    c = prop.condition
    if isinstance(c, NoOverflow):
        return overflowed(model, rasters)
    res = result if result is not None else simulate(model, rasters)
    if isinstance(c, Robust):
        return (res.prediction < 0) | (res.prediction != (-1 if reference is None else reference))
    if isinstance(c, DecidedBy):
        last = res.layer_outputs[-1]  # [B, T, n]
        early = decide(model.readout, np.ascontiguousarray(last[:, : c.k].transpose(1, 0, 2)))
        return (early < 0) | (early != res.prediction)
    if isinstance(c, FirstSpikeBy):
        return ~res.output_spikes[:, : c.k].any(axis=(1, 2))
    if isinstance(c, SpikesAtMost):
        return res.total_spikes > c.e
    if isinstance(c, SynopsAtMost):
        return res.synops > c.s
    if isinstance(c, NeverFires):
        return res.layer_outputs[c.layer][:, :, c.neuron].astype(bool).any(axis=1)
    if isinstance(c, (LatencyAtMost, EnergyAtMost)):
        from .hardware import cost  # the hardware model prices the reference simulator's events

        report = cost(model, rasters, c.profile)
        if isinstance(c, LatencyAtMost):
            return np.array([int(ps) > c.limit_ps() for ps in report.latency_ps], dtype=bool)
        return np.array([int(fj) > c.limit_fj() for fj in report.energy_fj], dtype=bool)
    raise VerisnnError(f"the enumerate method has no check for {type(c).__name__}", "condition")


def _flip_batches(centre: np.ndarray, region, batch: int) -> Iterator[np.ndarray]:
    """Rasters of a flips / deletions / insertions / any region, ``[B, T, n]`` per batch:
    for each size ``j <= k``, every ``j``-subset of the changeable positions flipped."""
    flat = centre.reshape(-1)
    pos = changeable_positions(region, centre)
    k = pos.size if isinstance(region, AnyInput) else region.k
    for j in range(min(k, pos.size) + 1):
        subsets = itertools.combinations(range(pos.size), j)
        while chunk := list(itertools.islice(subsets, batch)):
            idx = np.array(chunk, dtype=np.int64).reshape(len(chunk), j)
            rows = np.repeat(flat[None], len(chunk), axis=0)
            rows[np.arange(len(chunk))[:, None], pos[idx]] ^= 1
            yield rows.reshape(len(chunk), *centre.shape)


def _jitter_rasters(centre: np.ndarray, shift: int, spikes: int) -> Iterator[np.ndarray]:
    """Every raster of the jitter region, each exactly once: choose at most ``spikes`` of
    the centre's spikes and a non-zero offset in ``[-shift, shift]`` for each; the moved
    spikes land inside the run, in their own channel, on distinct slots not held by an
    unmoved spike (no merging, the spike count is kept)."""
    T = centre.shape[0]
    ts, ch = np.nonzero(centre)
    offsets = [d for d in range(-shift, shift + 1) if d != 0]
    seen: set[bytes] = set()
    for j in range(min(spikes, len(ts)) + 1):
        for chosen in itertools.combinations(range(len(ts)), j):
            for moves in itertools.product(offsets, repeat=j):
                out = centre.copy()
                for s in chosen:
                    out[ts[s], ch[s]] = 0
                targets = [(ts[s] + d, ch[s]) for s, d in zip(chosen, moves)]
                if any(not 0 <= t < T for t, _ in targets) or len(set(targets)) != len(targets):
                    continue
                if any(out[t, c] for t, c in targets):  # an unmoved spike holds the slot
                    continue
                for t, c in targets:
                    out[t, c] = 1
                key = out.tobytes()
                if key not in seen:
                    seen.add(key)
                    yield out


def region_batches(centre: np.ndarray, region, batch: int) -> Iterator[np.ndarray]:
    """Every raster of a flips, deletions, insertions, any or jitter ``region`` around
    ``centre``, each once, in ``[<=batch, T, n]`` arrays (what enumeration checks)."""
    if isinstance(region, Jitter):
        buf = []
        for r in _jitter_rasters(centre, region.shift, region.spikes):
            buf.append(r)
            if len(buf) == batch:
                yield np.stack(buf)
                buf = []
        if buf:
            yield np.stack(buf)
        return
    yield from _flip_batches(centre, region, batch)


def raster_sha256(a: np.ndarray) -> str:
    """SHA-256 of a 0/1 raster's int8 bytes (how evidence names a centre)."""
    return hashlib.sha256(np.ascontiguousarray(a, dtype=np.int8).tobytes()).hexdigest()


def verify(model: Model, centre: Any, prop: Property, *, method: str = "auto", timeout: float | None = None,
           max_region: int = DEFAULT_MAX_REGION, batch: int = DEFAULT_BATCH, solver: str = "z3",
           logic: str = "lia", bab_max_region: int = BAB_MAX_REGION, max_depth: int | None = None,
           max_states: int | None = None) -> Result:
    """Decide ``prop`` on ``model`` around the ``[T, n]`` raster ``centre``.

    ``max_region`` / ``bab_max_region``: the largest regions ``auto`` walks by enumeration /
    by the step-by-step tree before turning to a solver; ``solver`` (``z3``, ``cvc5``,
    ``z3-native``, any pysmt solver) and ``logic`` (``lia`` or ``bv``): the ``smt`` method's.

    A property with ``horizon: unbounded`` goes to :func:`verisnn.unbounded.verify_unbounded`
    (``centre`` is ignored there: its region is every input of every length; ``method`` one
    of :data:`verisnn.unbounded.METHODS`, with ``max_depth`` and ``max_states``)."""
    t0 = time.perf_counter()
    elapsed = lambda: time.perf_counter() - t0  # noqa: E731
    if isinstance(prop, Property) and prop.horizon == "unbounded":
        from .unbounded import verify_unbounded

        return verify_unbounded(model, prop, method=method, timeout=timeout, max_depth=max_depth,
                                max_states=max_states)
    try:
        if method not in METHODS:
            raise VerisnnError(f"unknown method {method!r}; available: {', '.join(METHODS)}", "method")
        intensity = isinstance(prop.region, Intensity)  # then the centre is an analog input, not a raster
        if not intensity:
            centre = single_raster(model, centre, "verify takes one centre raster", error=VerisnnError)
        check_against_model(prop, model)
    except VerisnnError as e:
        return Result("error", method, elapsed(), reason=str(e))
    details: dict[str, Any] = {}  # filled as the answer takes shape: a timeout still reports it
    deadline = None if timeout is None else t0 + timeout
    try:
        with time_limit(deadline):
            batch = simulation_batch(model, batch, "enumerating the region: simulating a raster")
            if intensity:
                return _intensity(model, centre, prop, method, timeout, max_region, batch, t0, details)
            return _decide(model, centre, prop, method, timeout, max_region, batch, t0, details, deadline, solver,
                           logic, bab_max_region)
    except DeadlineReached:
        return Result("unknown", method, elapsed(), reason=timeout_reason(t0, timeout), details=details)
    except ResourceError as e:  # a resource limit reached: unknown, saying which (DESIGN.md)
        return Result("unknown", method, elapsed(), reason=str(e), details=details)


def timeout_reason(t0: float, timeout: float | None, progress: str = "") -> str:
    """The reason of an answer that ran out of time: the time really spent, and the limit."""
    spent = time.perf_counter() - t0
    limit = "" if timeout is None else f" (limit {timeout:g} s)"
    return f"timeout after {spent:.1f} s{limit}" + (f": {progress}" if progress else "")


def _decide(model, centre, prop, method, timeout, max_region, batch, t0, details, deadline, solver, logic,
            bab_max_region) -> Result:
    """:func:`verify` on a raster region, within its time limit; fills ``details``."""
    elapsed = lambda: time.perf_counter() - t0  # noqa: E731
    try:
        size = region_size(prop.region, centre)
    except PropertyError as e:  # a jitter region too large even to count: far past any enumeration limit
        return Result("unknown", method, elapsed(), reason=str(e))
    details["region_size"] = count_json(size)
    reference = int(simulate(model, centre).prediction[0])
    reference = None if reference < 0 else reference
    details["reference_decision"] = reference
    if isinstance(prop.condition, Robust) and reference is None:
        # the centre itself has no unique decision: it is its own counterexample
        return report_witness(model, prop, centre, centre, None, method, elapsed(), details)
    if isinstance(prop.condition, HARDWARE_CONDITIONS):
        return _hardware(model, centre, prop, method, reference, size, deadline, max_region, batch, t0, details)
    if method == "bounds":
        proved = _bounds(model, centre, prop, reference, "bounds", t0, details)
        return proved or Result("unknown", "bounds", elapsed(), reason="the interval bounds do not decide the "
                                "condition (they can only prove it)", details=details)
    if method == "smt":
        from .encodings.smt import smt_verify  # the SMT layer builds on this module's Result

        return smt_verify(model, centre, prop, solver=solver, timeout=timeout, logic=logic, started=t0)
    if method == "cpsat":
        from .encodings.cpsat import cpsat_verify

        return cpsat_verify(model, centre, prop, timeout=timeout, started=t0)
    if method == "bab":
        return _bab(model, centre, prop, reference, size, deadline, t0, details)
    if method == "auto":
        return _auto(model, centre, prop, reference, size, deadline, max_region, batch, t0, details, bab_max_region)
    return _enumerate(model, centre, prop, reference, size, deadline, max_region, batch, t0, details)


def _scan(model: Model, prop: Property, batches: Iterator[np.ndarray], reference: int | None,
          deadline: float | None) -> tuple[np.ndarray | None, int, bool]:
    """Check batches of rasters in turn. Returns the first violating raster (or None), how
    many rasters were checked, and whether the deadline stopped the scan."""
    checked = 0
    for rasters in batches:
        if deadline is not None and time.perf_counter() > deadline:
            return None, checked, True
        bad = violations(model, prop, rasters, reference)
        checked += len(rasters)
        if bad.any():
            return rasters[int(np.argmax(bad))], checked, False
    return None, checked, False


def _enumerate(model, centre, prop, reference, size, deadline, max_region, batch, t0, details,
               method: str = "enumerate") -> Result:
    """Simulate every raster of the region (a vectorised exhaustive check)."""
    elapsed = lambda: time.perf_counter() - t0  # noqa: E731
    if size > max_region:
        return Result("unknown", method, elapsed(), reason=f"region has {count_text(size)} rasters, more than the "
                      f"enumeration limit {max_region}", details=details)
    witness, checked, timed_out = _scan(model, prop, region_batches(centre, prop.region, batch), reference, deadline)
    if timed_out:
        return Result("unknown", method, elapsed(), reason=timeout_reason(t0, deadline - t0, f"{checked} of "
                      f"{count_text(size)} rasters checked"), details=details)
    if witness is not None:
        return report_witness(model, prop, centre, witness, reference, method, elapsed(), details)
    if checked != size:  # the enumeration and the count disagree: never claim a proof on it
        return Result("error", method, elapsed(), reason=f"internal: enumerated {checked} rasters, "
                      f"the region has {count_text(size)}", details=details)
    evidence = {"method": "enumerate", "model_sha256": model_hash(model),
                "centre_sha256": raster_sha256(centre),
                "property": prop.to_dict(), "region_size": count_json(size), "rasters_checked": checked,
                "reference_decision": reference}
    return Result("verified", method, elapsed(), evidence=evidence, details=details)


def _price_enumeration(model, prop, centre, reference, batch: int) -> tuple[np.ndarray | None, float]:
    """Check the region's first two small batches of rasters: a violating raster (or None),
    and the seconds per raster that the second batch took (the first pays one-time set-up),
    which prices enumerating the whole region."""
    per_raster = math.inf
    batches = itertools.islice(region_batches(centre, prop.region, min(PRICING_BATCH, batch)), 2)
    for k, rasters in enumerate(batches):
        t = time.perf_counter()
        bad = violations(model, prop, rasters, reference)
        if bad.any():
            return rasters[int(np.argmax(bad))], per_raster
        if k == 1:
            per_raster = (time.perf_counter() - t) / len(rasters)
    return None, per_raster


def _bab(model, centre, prop, reference, size, deadline, t0, details, method: str = "bab") -> Result:
    """Branch and bound over the region's input bits, step by step (:mod:`verisnn.bab`)."""
    elapsed = lambda: time.perf_counter() - t0  # noqa: E731
    if not isinstance(prop.region, (Flips, Deletions, Insertions, AnyInput)):
        return Result("unknown", method, elapsed(), reason=f"the bab method walks flips, deletions, insertions and "
                      f"any regions, not {type(prop.region).__name__}", details=details)
    search = Search(model, prop, centre, reference)
    outcome, witness = search.run(deadline)
    details = {**details, **search.record()}
    if outcome == "falsified":
        return report_witness(model, prop, centre, witness, reference, method, elapsed(), details)
    covered = search.simulated + search.pruned
    if outcome == "timeout":
        return Result("unknown", method, elapsed(), reason=timeout_reason(t0, deadline - t0, f"{count_text(covered)} "
                      f"of {count_text(size)} rasters covered"), details=details)
    if covered != size:  # the walk and the count disagree: never claim a proof on it
        return Result("error", method, elapsed(), reason=f"internal: the search covered {count_text(covered)} "
                      f"rasters, the region has {count_text(size)}", details=details)
    evidence = {"method": "bab", "model_sha256": model_hash(model), "centre_sha256": raster_sha256(centre),
                "property": prop.to_dict(), "region_size": count_json(size), "reference_decision": reference,
                **search.proof()}
    return Result("verified", method, elapsed(), evidence=evidence, details=details)


def _auto(model, centre, prop, reference, size, deadline, max_region, batch, t0, details, bab_max_region) -> Result:
    """Cheapest first: the centre, then falsification (greedy beam, random sampling,
    surrogate gradients) on large regions, then interval bounds, then an exhaustive walk —
    enumeration or the step-by-step tree, whichever two small batches of the region
    predict cheaper — else CP-SAT with the time that is left."""
    violates = lambda r, res=None: violations(model, prop, r, reference, res)  # noqa: E731
    elapsed = lambda: time.perf_counter() - t0  # noqa: E731

    def enumerated() -> Result:  # the whole region, every raster checked
        result = _enumerate(model, centre, prop, reference, size, deadline, max_region, batch, t0, details, "auto")
        result.details["stage"] = "enumerate"
        return result

    if violates(centre[None])[0]:
        return report_witness(model, prop, centre, centre, reference, "auto", elapsed(),
                          {**details, "stage": "centre"})
    # a small region is enumerated at once, which falsifies as fast as a search
    if size > min(SEARCH_FIRST_ABOVE, max_region):
        for stage, search in (("greedy", lambda: greedy_search(model, prop, centre, reference, violates,
                                                                deadline=deadline)),
                              ("random", lambda: random_search(model, prop, centre, violates, deadline=deadline)),
                              ("gradient", lambda: gradient_search(model, prop, centre, reference, violates,
                                                                   deadline=deadline))):
            witness = search()
            if witness is not None:
                return report_witness(model, prop, centre, witness, reference, "auto", elapsed(),
                                  {**details, "stage": stage})
    proved = _bounds(model, centre, prop, reference, "auto", t0, details)
    if proved is not None:
        proved.details["stage"] = "bounds"
        return proved
    if isinstance(prop.region, (Flips, Deletions, Insertions, AnyInput)) and size <= bab_max_region:
        # The step-by-step tree prunes settled prefixes, but pays a step's overhead per node:
        # on long, narrow networks it is many times slower than enumerating. A region of one
        # batch is enumerated at once; otherwise two small batches (checked, not only timed)
        # price the enumeration: a cheap one runs at once, else the tree gets half as long as
        # enumerating would take (where it wins, it wins by more) before the enumeration does.
        enumerable = size <= max_region
        predicted = None
        if enumerable and size > batch:  # (one batch is enumerated at once: no walk is cheaper)
            witness, per_raster = _price_enumeration(model, prop, centre, reference, batch)
            predicted = per_raster * size
            if witness is not None:
                return report_witness(model, prop, centre, witness, reference, "auto", elapsed(),
                                      {**details, "stage": "enumerate"})
        if enumerable and (size <= batch or predicted <= ENUMERATE_AT_ONCE_S):
            return enumerated()
        budgeted = enumerable and math.isfinite(predicted)
        tree_deadline = deadline if not budgeted else \
            min(deadline if deadline is not None else math.inf, time.perf_counter() + TREE_SHARE * predicted)
        try:
            result = _bab(model, centre, prop, reference, size, tree_deadline, t0, details, "auto")
        except ResourceError:  # the tree of this model does not fit the memory budget: the other methods
            result = None
        if result is not None:
            result.details["stage"] = "bab"
            if result.verdict != "unknown" or (enumerable and (not budgeted or tree_deadline == deadline)):
                return result
        if enumerable:  # the tree, given half an enumeration's time, did not finish (or did not fit)
            return enumerated()
        # too large to enumerate and the tree ran out of time: the solver, with what is left
    elif size <= max_region:
        return enumerated()
    if not isinstance(prop.region, (Flips, Deletions, Insertions, AnyInput)):
        return Result("unknown", "auto", elapsed(), reason=f"region has {count_text(size)} rasters, more than the "
                      f"enumeration limit {max_region}, and no symbolic method covers it yet", details=details)
    terms = model.time_steps * sum(layer.synapses() for layer in model.layers)
    if terms > SMT_MAX_TERMS:
        return Result("unknown", "auto", elapsed(), reason=f"region has {count_text(size)} rasters, more than the "
                      f"enumeration limit {max_region}, and the model ({terms} synapse-steps) is beyond what the "
                      f"solver encodings decide (limit {SMT_MAX_TERMS})", details=details)
    remaining = None if deadline is None else deadline - time.perf_counter()
    if remaining is not None and remaining <= 0:
        return Result("unknown", "auto", elapsed(), reason=timeout_reason(t0, deadline - t0, "falsification "
                      "search found nothing; the region is too large to enumerate"), details=details)
    # the last resort, a solver over the whole unrolled network: CP-SAT, which decides digits
    # queries that z3 does not (docs/benchmarks.md)
    from .encodings.cpsat import cpsat_verify

    result, stage = cpsat_verify(model, centre, prop, timeout=None if deadline is None else deadline - t0,
                                 started=t0), "cpsat"
    result.method = "auto"
    result.time_s = elapsed()
    result.details = {**details, **result.details, "stage": stage}
    return result


def _hardware(model, centre, prop, method, reference, size, deadline, max_region, batch, t0, details) -> Result:
    """``latency_us_at_most`` / ``energy_uj_at_most``: decided exactly by ``enumerate`` and
    ``bab`` (every raster's run priced by :func:`verisnn.hardware.cost`) and by ``cpsat`` (the
    event terms of :mod:`verisnn.worst_case`: verified only on INFEASIBLE); the ``bounds`` and
    ``smt`` methods have no encoding of them and refuse. ``auto``: the centre; enumeration of
    a small region; falsification (greedy, random); enumeration of a region within
    ``max_region``; CP-SAT beyond. A verified answer's evidence carries the profile."""
    elapsed = lambda: time.perf_counter() - t0  # noqa: E731
    key = next(iter(prop.condition.to_dict()))
    if method in ("bounds", "smt"):
        return Result("error", method, elapsed(), reason=f"the {method} method does not decide {key} (hardware "
                      f"costs are decided by the cpsat, enumerate, bab and auto methods)", details=details)
    if method == "cpsat":
        from .encodings.cpsat import cpsat_verify

        result = cpsat_verify(model, centre, prop, timeout=None if deadline is None else deadline - t0, started=t0)
    elif method == "bab":
        result = _bab(model, centre, prop, reference, size, deadline, t0, details)
    elif method == "enumerate":
        result = _enumerate(model, centre, prop, reference, size, deadline, max_region, batch, t0, details)
    else:
        result = _auto_hardware(model, centre, prop, reference, size, deadline, max_region, batch, t0, details)
    if result.verdict == "verified" and result.evidence is not None:
        from .hardware import load_profile

        result.evidence["hardware_profile"] = load_profile(prop.condition.profile).to_dict()
    return result


def _auto_hardware(model, centre, prop, reference, size, deadline, max_region, batch, t0, details) -> Result:
    violates = lambda r, res=None: violations(model, prop, r, reference, res)  # noqa: E731
    elapsed = lambda: time.perf_counter() - t0  # noqa: E731

    def staged(result: Result, stage: str) -> Result:
        result.method, result.time_s = "auto", elapsed()
        result.details = {**details, **result.details, "stage": stage}
        return result

    if violates(centre[None])[0]:
        return report_witness(model, prop, centre, centre, reference, "auto", elapsed(), {**details, "stage": "centre"})
    small = min(SEARCH_FIRST_ABOVE, max_region)
    if size <= small:  # enumerated at once: as fast as a search, and exact
        return staged(_enumerate(model, centre, prop, reference, size, deadline, max_region, batch, t0, details,
                                 "auto"), "enumerate")
    for stage, search in (("greedy", lambda: greedy_search(model, prop, centre, reference, violates,
                                                            deadline=deadline)),
                          ("random", lambda: random_search(model, prop, centre, violates, deadline=deadline))):
        witness = search()
        if witness is not None:
            return report_witness(model, prop, centre, witness, reference, "auto", elapsed(),
                                  {**details, "stage": stage})
    if size <= max_region:  # exact, and predictable: every raster priced once
        return staged(_enumerate(model, centre, prop, reference, size, deadline, max_region, batch, t0, details,
                                 "auto"), "enumerate")
    flips_like = isinstance(prop.region, (Flips, Deletions, Insertions, AnyInput))
    terms = model.time_steps * sum(layer.synapses() for layer in model.layers)
    if not flips_like or terms > SMT_MAX_TERMS:
        why = (f"the model ({terms} synapse-steps) is beyond the solver encodings (limit {SMT_MAX_TERMS})"
               if flips_like else "no solver encoding covers the region")
        return Result("unknown", "auto", elapsed(), reason=f"region has {count_text(size)} rasters, more than the "
                      f"enumeration limit {max_region}, and {why}", details=details)
    left = None if deadline is None else deadline - time.perf_counter()
    if left is not None and left <= 0:
        return Result("unknown", "auto", elapsed(), reason=timeout_reason(t0, deadline - t0, "falsification search "
                      "found nothing; the region is too large to enumerate"), details=details)
    from .encodings.cpsat import cpsat_verify

    return staged(cpsat_verify(model, centre, prop, timeout=None if deadline is None else deadline - t0,
                               started=t0), "cpsat")


def _bounds(model, centre, prop, reference, method: str, t0: float, details: dict) -> Result | None:
    """``verified`` if sound interval bounds over the whole region prove the condition, else None."""
    report = bounds_verify(model, centre, prop, reference)
    details["undecided_spikes"] = report.undecided_spikes
    if report.holds is not True:
        return None
    evidence = {"method": "bounds", "model_sha256": model_hash(model),
                "centre_sha256": raster_sha256(centre),
                "property": prop.to_dict(), "reference_decision": reference, "bounds": report.details}
    return Result("verified", method, time.perf_counter() - t0, evidence=evidence, details=details)


def report_witness(model: Model, prop: Property, centre: np.ndarray, witness: np.ndarray, reference, method: str,
                   t: float, details: dict) -> Result:
    """``falsified`` with ``witness`` — only once it is checked to lie in the region and has
    been replayed alone through the reference simulator; otherwise an internal ``error``."""
    try:
        inside = region_contains(prop.region, centre, witness)
    except VerisnnError:  # not even a 0/1 raster of the right shape
        inside = False
    if not inside:
        return Result("error", method, t, reason="internal: a counterexample outside the region", details=details)
    if not violations(model, prop, witness[None], reference)[0]:
        return Result("error", method, t, reason="internal: a counterexample did not replay", details=details)
    return Result("falsified", method, t, witness=witness.astype(np.int8), details={**details, "replayed": True})


def _intensity(model: Model, x: Any, prop: Property, method: str, timeout: float | None, max_region: int,
               batch: int, t0: float, details: dict) -> Result:
    """An ``intensity`` region: the exact set of rasters the encoder makes of the L∞ ball
    (:mod:`verisnn.intensity`), enumerated, or sampled when it is too large; witnesses
    carry an analog input inside the ball that encodes to them."""
    from .intensity import IntensityLimit, intensity_region

    elapsed = lambda: time.perf_counter() - t0  # noqa: E731
    try:
        region = intensity_region(model, x, prop.region)
    except IntensityLimit as e:
        return Result("unknown", method, elapsed(), reason=str(e))
    except VerisnnError as e:
        return Result("error", method, elapsed(), reason=str(e))
    if method not in ("auto", "enumerate"):
        return Result("unknown", method, elapsed(), reason=f"the {method} method works on raster regions; "
                      "intensity regions are decided by enumerate and auto")
    centre = region.centre_raster
    reference = int(simulate(model, centre).prediction[0])
    reference = None if reference < 0 else reference
    details.update(region_size=count_json(region.size), reference_decision=reference, region=region.summary())
    deadline = None if timeout is None else t0 + timeout

    def witness_result(w: np.ndarray) -> Result:
        if not region.contains(w) or not violations(model, prop, w[None], reference)[0]:
            return Result("error", method, elapsed(), reason="internal: a counterexample outside the region or "
                          "not replayed", details=details)
        return Result("falsified", method, elapsed(), witness=w.astype(np.int8),
                      details={**details, "replayed": True, "analog_witness": region.analog_witness(w).tolist()})

    if isinstance(prop.condition, Robust) and reference is None:
        return witness_result(centre)
    if region.size > max_region:
        if method == "auto":  # falsification by sampling the region
            rng = np.random.default_rng(0)
            while deadline is None or time.perf_counter() < deadline:
                sample = region.sample(rng, batch)
                bad = violations(model, prop, sample, reference)
                if bad.any():
                    return witness_result(sample[int(np.argmax(bad))])
                if deadline is None:
                    break
        return Result("unknown", method, elapsed(), reason=f"region has {count_text(region.size)} rasters, more "
                      f"than the enumeration limit {max_region}", details=details)
    witness, checked, timed_out = _scan(model, prop, region.iter_batches(batch), reference, deadline)
    if timed_out:
        return Result("unknown", method, elapsed(), reason=timeout_reason(t0, timeout, f"{checked} of "
                      f"{count_text(region.size)} rasters checked"), details=details)
    if witness is not None:
        return witness_result(witness)
    if checked != region.size:
        return Result("error", method, elapsed(), reason=f"internal: enumerated {checked} rasters, the region "
                      f"has {count_text(region.size)}", details=details)
    evidence = {"method": "enumerate", "model_sha256": model_hash(model), "centre_sha256": raster_sha256(centre),
                "analog_centre": np.asarray(x, dtype=np.float64).tolist(), "property": prop.to_dict(),
                "region_size": count_json(region.size), "rasters_checked": checked, "reference_decision": reference}
    return Result("verified", method, elapsed(), evidence=evidence, details=details)
