"""Certified rules: does the network really do what a rule says, near the data the rule covers?

The claim for rule ``i`` of a decision list (``docs/rules.md``), a region (``flips: k``,
``deletions: k`` or ``insertions: k``) and data points ``x``:

    every raster ``r`` within the region of some data point ``x`` that rule ``i`` covers
    (rule ``i`` is ``x``'s first match), such that rule ``i`` is also ``r``'s first match,
    gets the decision ``then`` from the network (``then = null``: no decision).

Verdicts (one per rule, :func:`certify_rules`):

* ``verified`` — every covered centre's region was walked to the end (``enumerate``), or
  every covered centre was proved: the solver answered UNSAT (``smt``) or the network is
  robust around it (``robust``);
* ``falsified`` — with a witness raster that lies in the region of a covered centre, whose
  first match is rule ``i`` (:meth:`RuleSet.first_match` of :mod:`verisnn.extractors.rules`,
  the one feature evaluator) and whose decision on the reference simulator, run on the
  witness alone, differs from ``then``;
* ``unknown`` — a limit (time, region size), a rule that covers no data, or an answer that
  did not replay; ``reason`` says which;
* ``error`` — a solver crashed (never ``verified``).

Methods: ``enumerate`` (every raster of every covered centre's region, from
:mod:`verisnn.verify`'s region generators, batched through :func:`verisnn.simulator.simulate`),
``smt`` (per covered centre, the SMT encoding of :mod:`verisnn.encodings.smt` with the rule's
first-match conditions as extra constraints over the input and hidden spike terms),
``robust`` (per covered centre, the sufficient condition "the network is robust there",
decided by :func:`verisnn.verify.verify`; its counterexample refutes the rule only when
the rule is its first match, else the centre stays undecided), ``auto`` (``enumerate`` when
the rule's regions hold at most ``max_region`` rasters in all, else ``robust`` and then
``smt`` for each centre that ``robust`` leaves undecided: ``robust+smt``).

Every covered data point lies in its own region, so a covered point that the network
decides otherwise is the first witness looked for, whatever the method.
"""

from __future__ import annotations

import copy
import math
import time
from typing import Any, Iterator

import numpy as np

from ..errors import VerisnnError
from ..limits import count_json, count_text
from ..model import Model
from ..properties import Deletions, Flips, Insertions, Property, PropertyError, Robust, parse_property, \
    region_contains, region_size
from ..simulator import check_raster, simulate
from ..verify import DEFAULT_BATCH, DEFAULT_MAX_REGION, region_batches
from .rules import NO_DECISION, Count, FirstSpike, HiddenCount, RuleSet, ruleset_from_json

METHODS = ("auto", "enumerate", "smt", "robust")
REGIONS = (Flips, Deletions, Insertions)  # the regions every method covers
LOGICS = ("lia", "bv")  # the smt method's arithmetics (verisnn.encodings.smt)
DOCUMENT_VERDICTS = {"verified": "verified", "falsified": "falsified", "unknown": "unknown", "error": "unknown"}


# ---------------------------------------------------------------- arguments


def parse_region(region: Any):
    """A ``flips`` / ``deletions`` / ``insertions`` region from its file form (``{"flips": 1}``)
    or a region object; anything else is a :class:`PropertyError` naming ``region``."""
    if isinstance(region, REGIONS):
        return region
    if not isinstance(region, dict):
        raise PropertyError(f"expected a region such as {{'flips': 1}}, got {region!r}", "region")
    parsed = parse_property({"region": region, "condition": "robust"}).region  # the property language's checks
    if not isinstance(parsed, REGIONS):
        raise PropertyError(f"rules are certified on flips, deletions and insertions regions, not "
                            f"{type(parsed).__name__.lower()}", "region")
    return parsed


def _ruleset(ruleset: Any) -> RuleSet:
    return ruleset if isinstance(ruleset, RuleSet) else ruleset_from_json(ruleset)


def _check_options(method: str, timeout: Any, max_region: Any, batch: Any, solver: Any, logic: Any) -> None:
    if method not in METHODS:
        raise VerisnnError(f"unknown method {method!r}; available: {', '.join(METHODS)}", "method")
    if logic not in LOGICS:
        raise VerisnnError(f"unknown logic {logic!r}; available: {', '.join(LOGICS)}", "logic")
    if not isinstance(solver, str):
        raise VerisnnError(f"expected a solver name, got {solver!r}", "solver")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or not math.isfinite(timeout) or timeout < 0):
        raise VerisnnError(f"expected a non-negative timeout in seconds, got {timeout!r}", "timeout")
    for name, v, least in (("max_region", max_region, 0), ("batch", batch, 1)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < least:
            raise VerisnnError(f"expected an integer >= {least}, got {v!r}", name)


def _prefix(ruleset: RuleSet, i: int) -> RuleSet:
    """Rules ``0..i`` over only the features they read: rule ``i`` is the first match of this
    list exactly when it is the first match of the whole list (later rules never matter),
    and hidden features are simulated only if these rules read them."""
    rules = ruleset.rules[: i + 1]
    used = {c.feature for r in rules for c in r.conditions}
    features = {name: f for name, f in ruleset.features.items() if name in used}
    return RuleSet(features, rules, ruleset.default, ruleset.model_sha256, ruleset.time_steps,
                   ruleset.channels)


# ---------------------------------------------------------------- the claim, concretely


def first_is(model: Model, prefix: RuleSet, i: int, rasters: np.ndarray) -> np.ndarray:
    """``[B]`` flags: rule ``i`` is the first match of each raster (``prefix``: rules ``0..i``)."""
    return prefix.first_match(prefix.feature_values(model, rasters)) == i


def replay(model: Model, prefix: RuleSet, i: int, region, centre: np.ndarray, witness: np.ndarray) -> str | None:
    """Why ``witness`` is NOT a counterexample to rule ``i`` around ``centre`` (``None``: it is
    one): it lies in the region, rule ``i`` is its first match, and the reference simulator,
    run on it alone, gives a decision other than the rule's."""
    if not region_contains(region, centre, witness):
        return "the witness lies outside the region of its centre"
    if not first_is(model, prefix, i, witness[None])[0]:
        return f"rule {i} is not the witness's first match"
    decision = int(simulate(model, witness).prediction[0])
    if decision == prefix.rules[i].then:
        return "the network gives the witness the rule's decision"
    return None


# ---------------------------------------------------------------- enumeration


def _rebatch(pieces: Iterator[tuple[int, np.ndarray]], batch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Pieces ``(owner, [b, T, n])`` joined into batches of at least ``batch`` rasters (the last
    may be smaller), with each raster's owner (the index of its centre)."""
    buf, owners, size = [], [], 0
    for owner, rasters in pieces:
        buf.append(rasters)
        owners.append(np.full(len(rasters), owner, dtype=np.int64))
        size += len(rasters)
        if size >= batch:
            yield np.concatenate(buf), np.concatenate(owners)
            buf, owners, size = [], [], 0
    if buf:
        yield np.concatenate(buf), np.concatenate(owners)


def _round_robin(centres: np.ndarray, region, batch: int) -> Iterator[tuple[int, np.ndarray]]:
    """``(centre index, rasters)`` from every centre's region generator in turn: each
    generator goes from 0 changes up, so the rasters closest to the data come first for
    every centre (a counterexample with one flip is met before anyone's two-flip rasters)."""
    live = [(c, region_batches(centre, region, batch)) for c, centre in enumerate(centres)]
    while live:
        still = []
        for c, gen in live:
            piece = next(gen, None)
            if piece is not None:
                yield c, piece
                still.append((c, gen))
        live = still


def _enumerate(model, prefix: RuleSet, i: int, region, centres: np.ndarray, total: int,
               deadline: float | None, batch: int) -> dict:
    then = prefix.rules[i].then
    checked = 0
    for rasters, owner in _rebatch(_round_robin(centres, region, batch), batch):
        if deadline is not None and time.perf_counter() > deadline:
            return {"verdict": "unknown", "checked": checked,
                    "reason": f"timeout ({checked} of {total} rasters checked)"}
        # rasters where rule i is not the first match are outside the claim: not simulated
        claimed = np.flatnonzero(first_is(model, prefix, i, rasters))
        checked += len(rasters)
        if not claimed.size:
            continue
        bad = claimed[simulate(model, rasters[claimed]).prediction != then]
        if bad.size:
            k = int(bad[0])
            return _witness(model, prefix, i, region, centres, int(owner[k]), rasters[k], checked)
    if checked != total:  # the walk and the count disagree: never claim a proof on it
        return {"verdict": "unknown", "checked": checked,
                "reason": f"internal: enumerated {checked} rasters, the regions hold {total}"}
    return {"verdict": "verified", "checked": checked, "reason": None}


def _witness(model, prefix, i, region, centres, owner: int, witness: np.ndarray, checked: int) -> dict:
    why = replay(model, prefix, i, region, centres[owner], witness)
    if why is not None:
        return {"verdict": "unknown", "checked": checked, "reason": f"internal: a counterexample did not replay "
                f"({why})"}
    return {"verdict": "falsified", "checked": checked, "reason": None, "witness": witness.astype(int).tolist(),
            "witness_centre": owner}


# ---------------------------------------------------------------- SMT


class Unencodable(Exception):
    """The rule reads something the SMT encoding cannot express."""


def _at_most(terms, feature, m: int, x: np.ndarray, outputs: list, model: Model):
    """The Boolean term ``feature <= m`` for an integer ``m`` (features are integers)."""
    T = model.time_steps
    if isinstance(feature, FirstSpike):  # first spike <= m  <=>  some spike at a step <= m (T if silent)
        if m >= T:
            return terms.TRUE
        return terms.or_([terms.as_bool(x[t, feature.channel]) for t in range(max(m + 1, 0))])
    if isinstance(feature, Count):
        spikes = [x[t, feature.channel] for t in range(feature.start, feature.stop)]
    elif isinstance(feature, HiddenCount):
        if not model.layers[feature.layer].neuron.fires:
            raise Unencodable(f"hidden_count on layer {feature.layer}, which emits no spikes")
        spikes = [outputs[feature.layer][t, feature.neuron] for t in range(feature.start, feature.stop)]
    else:
        raise Unencodable(f"no encoding of the feature {type(feature).__name__}")
    return terms.le(terms.plus(spikes), m)


def condition_term(terms, feature, op: str, threshold, x, outputs, model: Model):
    """``feature op threshold`` as a Boolean term; ``threshold`` is a finite number and the
    feature an integer, so each comparison is exactly one of ``f <= m`` or its negation."""
    at_most = lambda m: _at_most(terms, feature, m, x, outputs, model)  # noqa: E731
    lo, hi = math.floor(threshold), math.ceil(threshold)  # exact for ints and floats
    if op == "<=":
        return at_most(lo)
    if op == "<":
        return at_most(hi - 1)
    if op == ">":
        return terms.not_(at_most(lo))
    if op == ">=":
        return terms.not_(at_most(hi - 1))
    if op == "==":
        return terms.and_([at_most(lo), terms.not_(at_most(lo - 1))]) if lo == hi else terms.FALSE
    raise Unencodable(f"unknown operator {op!r}")


def first_match_term(terms, prefix: RuleSet, i: int, x, outputs, model: Model):
    """Rule ``i`` holds and no earlier rule does."""
    def holds(rule):
        return terms.and_([condition_term(terms, prefix.features[c.feature], c.op, c.threshold, x, outputs, model)
                           for c in rule.conditions])
    return terms.and_([holds(prefix.rules[i])] + [terms.not_(holds(r)) for r in prefix.rules[:i]])


def _smt_stage(model, prefix: RuleSet, i: int, region, solver: str, logic: str):
    """The counterexample query around one centre: the region, the network, rule ``i`` as
    the first match, and a decision other than ``then``. The query's condition is ``robust``:
    every centre here already has the decision ``then`` (the caller checked), so its
    reference decision is ``then`` and ``robust``'s violation is "the decision is not
    ``then``"; for ``then = null`` the reference is None, the violation is TRUE, and the
    extra constraint adds "some class is decided"."""
    import z3
    from pysmt.exceptions import PysmtException

    from ..encodings.smt import EncodingTimeout, decides, encode, readout_scores

    then = prefix.rules[i].then
    prop = Property(region, Robust())

    def extra(terms, x, outputs):
        claim = first_match_term(terms, prefix, i, x, outputs, model)
        if then != NO_DECISION:
            return claim
        scores, valid = readout_scores(terms, model.readout, outputs[-1])
        decided = terms.or_([decides(terms, model.readout, scores, valid, j) for j in range(len(scores))])
        return terms.and_([claim, decided])

    def stage(centre: np.ndarray, deadline: float | None) -> tuple[str, str | None, np.ndarray | None]:
        try:
            enc = encode(model, centre, prop, deadline=deadline, logic=logic, solver=solver, extra=extra)
        except EncodingTimeout:
            return "unknown", "timeout while encoding", None
        except Unencodable as e:
            return "unknown", f"the smt method cannot encode the rule: {e}", None
        except (PysmtException, z3.Z3Exception, RecursionError) as e:
            return "error", f"encoding failed: {type(e).__name__}: {e}", None
        if enc.reference != (None if then == NO_DECISION else then):  # the caller's check failed: no proof
            return "unknown", "internal: a centre's decision differs from the rule's in the encoding", None
        left = None if deadline is None else deadline - time.perf_counter()
        if left is not None and left <= 0:
            return "unknown", "timeout while encoding", None
        try:
            ans = enc.solve(left)
        except Exception as e:  # a solver crash is an answer we cannot use, never a proof
            return "error", f"solver {solver!r} failed: {type(e).__name__}: {e}", None
        if ans.answer == "unknown":
            return "unknown", ans.reason, None
        if ans.answer == "sat":
            witness = enc.witness(ans.values)
            why = replay(model, prefix, i, region, centre, witness)
            if why is not None:
                return "unknown", f"the solver's counterexample did not replay ({why})", None
            return "falsified", None, witness
        return "proved", None, None  # unsat: no counterexample around this centre
    return stage


def _robust_stage(model, prefix: RuleSet, i: int, region):
    """A sufficient condition: the network is robust around the centre (every raster of its
    region gets the centre's decision, which is ``then``), decided by
    :func:`verisnn.verify.verify` (``auto``: search, bounds, branch and bound, CP-SAT). A
    robustness counterexample refutes the rule only if rule ``i`` is its first match; else
    the stage is inconclusive and the next one takes the centre."""
    from ..verify import verify

    then = prefix.rules[i].then
    prop = Property(region, Robust())

    def stage(centre: np.ndarray, deadline: float | None) -> tuple[str, str | None, np.ndarray | None]:
        if then == NO_DECISION:  # "no decision" everywhere is not a robustness claim
            return "inconclusive", "a rule without decision is not a robustness claim", None
        left = None if deadline is None else max(deadline - time.perf_counter(), 0.0)
        result = verify(model, centre, prop, method="auto", timeout=left)
        if result.verdict == "verified":
            return "proved", None, None
        if result.verdict == "falsified":
            if replay(model, prefix, i, region, centre, result.witness) is None:
                return "falsified", None, result.witness
            return "inconclusive", "the network is not robust around the centre, outside the rule's claim", None
        return result.verdict, result.reason, None  # unknown (a limit) or error (a solver crash)
    return stage


def _per_centre(stages: dict, centres: np.ndarray, deadline: float | None) -> dict:
    """Each centre in turn through the named stages until one proves or refutes the claim
    around it; ``decided_by`` counts the centres each stage decided."""
    proved = 0
    decided_by = {name: 0 for name in stages}

    def stopped(verdict: str, why: str) -> dict:
        return {"verdict": verdict, "checked": proved, "decided_by": decided_by,
                "reason": f"{why} ({proved} of {len(centres)} centres proved)"}

    for c, centre in enumerate(centres):
        why = "no stage decided the centre"
        for name, stage in stages.items():
            if deadline is not None and time.perf_counter() >= deadline:
                return stopped("unknown", "timeout")
            outcome, reason, witness = stage(centre, deadline)
            if outcome in ("proved", "falsified"):
                decided_by[name] += 1
            if outcome == "proved":
                proved += 1
                break
            if outcome == "falsified":
                return {"verdict": "falsified", "checked": proved, "decided_by": decided_by, "reason": None,
                        "witness": witness.astype(int).tolist(), "witness_centre": c}
            if outcome != "inconclusive":
                return stopped(outcome, reason)
            why = reason
        else:
            return stopped("unknown", why)
    return {"verdict": "verified", "checked": proved, "decided_by": decided_by, "reason": None}


# ---------------------------------------------------------------- the API


def certify_rules(model: Model, ruleset: Any, data: Any, region: Any = None, *, method: str = "auto",
                  timeout: float | None = None, max_region: int = DEFAULT_MAX_REGION, batch: int = DEFAULT_BATCH,
                  solver: str = "z3", logic: str = "lia") -> list[dict]:
    """Certify every rule of ``ruleset`` (a :class:`RuleSet` or its JSON document) on ``model``
    within ``region`` (default ``{"flips": 1}``) of the data points ``data`` ``[B, T, n]`` it
    covers. One dict per rule, in order::

        {"rule": i, "then": class | None, "verdict": "verified" | "falsified" | "unknown" | "error",
         "region": {...}, "covered": data points covered, "centres": distinct ones,
         "region_size": rasters in their regions, "method": "enumerate" | "smt" | "robust" | "robust+smt",
         "time_s": s, "checked": rasters enumerated (enumerate) | centres proved (the others),
         "witness": [[...]] | None, "witness_centre": index into ``data`` of the witness's centre | None,
         "reason": str | None}

    (plus ``"decided_by"``, the centres each stage decided, for the per-centre methods)

    ``timeout`` (seconds) bounds each rule; ``max_region``: the most rasters ``auto``
    enumerates for one rule (``enumerate`` answers ``unknown`` beyond it); ``batch``: rasters
    per simulator call; ``solver``, ``logic``: the SMT method's (:func:`verisnn.encodings.smt.encode`).
    Bad arguments raise a :class:`verisnn.errors.VerisnnError` naming the field."""
    rules = _ruleset(ruleset)
    rules.check_model(model)
    region = parse_region({"flips": 1} if region is None else region)
    _check_options(method, timeout, max_region, batch, solver, logic)
    arr, _ = check_raster(model, data)
    first = rules.first_match(rules.feature_values(model, arr))
    decisions = simulate(model, arr).prediction if len(arr) else np.zeros(0, dtype=np.int64)
    return [_certify_one(model, rules, i, arr, first, decisions, region, method, timeout, max_region, batch,
                         solver, logic) for i in range(len(rules.rules))]


def _certify_one(model, rules: RuleSet, i: int, data, first, decisions, region, method, timeout, max_region,
                 batch, solver, logic) -> dict:
    t0 = time.perf_counter()
    then = rules.rules[i].then
    where = np.flatnonzero(first == i)  # indices of the covered data points
    covered = data[where]
    # each distinct point once; ``origin[c]``: the data index of centre ``c``
    centres, keep = np.unique(covered, axis=0, return_index=True) if len(covered) else (covered, where)
    origin = where[keep]
    out = {"rule": i, "then": None if then == NO_DECISION else int(then), "region": region.to_dict(),
           "covered": int(len(covered)), "centres": int(len(centres)), "region_size": 0, "method": method,
           "checked": 0, "witness": None, "witness_centre": None}

    def done(**answer) -> dict:
        if answer.get("witness_centre") is not None:
            answer["witness_centre"] = int(origin[answer["witness_centre"]])
        return {**out, **answer, "time_s": round(time.perf_counter() - t0, 6)}

    if not len(covered):
        return done(verdict="unknown", reason="covers no data")
    total = sum(region_size(region, c) for c in centres)
    out["region_size"] = count_json(total)  # a long model's regions can hold more rasters than Python prints
    prefix = _prefix(rules, i)
    chosen = method if method != "auto" else "enumerate" if total <= max_region else "robust+smt"
    # each covered point lies in its own region: one the network decides otherwise is the witness
    wrong = np.flatnonzero(decisions[where] != then)
    if wrong.size:
        w = covered[int(wrong[0])]
        owner = int(np.flatnonzero((centres == w).all(axis=(1, 2)))[0])
        return done(method=chosen, **_witness(model, prefix, i, region, centres, owner, w, 0))
    deadline = None if timeout is None else t0 + timeout
    if chosen == "enumerate":
        if total > max_region:
            return done(method=chosen, verdict="unknown",
                        reason=f"the covered regions hold {count_text(total)} rasters, more than max_region "
                               f"{max_region}")
        return done(method=chosen, **_enumerate(model, prefix, i, region, centres, total, deadline, batch))
    make = {"robust": lambda: _robust_stage(model, prefix, i, region),
            "smt": lambda: _smt_stage(model, prefix, i, region, solver, logic)}
    stages = {name: make[name]() for name in chosen.split("+")}
    return done(method=chosen, **_per_centre(stages, centres, deadline))


def certified_share(results: list[dict], *, covering_only: bool = False) -> float:
    """The share of rules whose verdict is ``verified`` (``covering_only``: among the rules
    that cover some data); 0.0 when there is none to count."""
    counted = [r for r in results if r["covered"] > 0] if covering_only else list(results)
    return sum(r["verdict"] == "verified" for r in counted) / len(counted) if counted else 0.0


CERTIFICATION_KEYS = ("region", "covered", "centres", "region_size", "method", "time_s", "checked", "witness",
                      "witness_centre", "reason")  # and "decided_by" where the method has stages


def annotate_rules(document: Any, results: list[dict]) -> dict:
    """A copy of the rules document (a JSON document or :class:`RuleSet`) with each rule's
    ``"certified"`` (its verdict; a solver ``error`` is written ``unknown``, the rules format
    knows three verdicts, and the reason says so) and ``"certification"`` (the record)."""
    doc = copy.deepcopy(document.to_json() if isinstance(document, RuleSet) else document)
    rules = _ruleset(doc).rules  # validates the document first
    if len(results) != len(rules) or [r["rule"] for r in results] != list(range(len(rules))):
        raise VerisnnError(f"expected one result per rule, in order ({len(rules)}), got {len(results)}", "results")
    for rule, r in zip(doc["rules"], results):
        record = {k: r[k] for k in CERTIFICATION_KEYS + ("decided_by",) if k in r}
        if r["verdict"] == "error":
            record["reason"] = f"error: {r['reason']}"
        rule["certified"] = DOCUMENT_VERDICTS[r["verdict"]]
        rule["certification"] = record
    ruleset_from_json(doc)  # still a valid rules document
    return doc


__all__ = ["METHODS", "annotate_rules", "certified_share", "certify_rules", "condition_term", "first_match_term",
           "parse_region", "replay"]
