"""Certification-guided refinement: specialise rules until they hold near their data.

A rule of a decision list can fail its certification claim (``extractors/certify.py``)
in two ways: a data point it covers gets another decision from the network, or a raster
within the region (``flips: 1``, ...) of such a point, with the rule as its first match,
does. Both are counterexamples about the NETWORK, so no certifier can repair them: the
rule itself must change. :func:`refine_rules` does this CEGIS-style, never adding rules:

1. the **pool**: every raster of every data point's region (for ``flips: 1`` on digits,
   513 per point), each with the network's decision (reference simulator) and the values
   of the rule set's features and of the *candidate* features (counts per window, first
   spikes, ...). A raster's weight is its probability under "a data point (uniform), then
   ``j ~ U{0..k}`` changes, uniform among the region's rasters with ``j`` changes" — for
   ``flips: k`` exactly the sampling distribution of :mod:`.sampling`;
2. the rules are walked **in order**. Rule ``i``'s claim depends only on rules ``0..i``
   (its first-match set and the data it covers), so once fixed it stays fixed while later
   rules change: one pass is exact. A rule with violators (claim rasters whose decision
   differs from ``then``) gets conditions ``feature <= v`` / ``feature >= v`` (``v`` an
   integer: an integer midpoint), at most ``max_conditions``, chosen with one step of
   lookahead (:func:`_plan`): a condition removes a violator by excluding it or the covered
   data point whose region holds it, and costs the distribution agreement it loses
   (rasters the narrowed rule no longer matches fall through to later rules or the
   default; computed exactly on the pool). Dropping the rule is one more candidate fix
   (``allow_drop``); a rule left covering no data point is dropped. The conjunction stays
   simplified (:func:`.tree.simplify_conjunction`);
3. a fix is made only if it removes every violator and loses at most ``max_loss``; else
   the rule stays as it was (falsified);
4. the result is certified by :func:`.certify.certify_rules` (``enumerate``) — an
   independent check of the pool's bookkeeping — and reported in the log.

Refinement never adds a rule, keeps the default, and leaves a rule that already holds
unchanged (its conditions; the statistics of every rule are recomputed when a ``sample``
is given, since narrowing earlier rules changes later rules' first-match sets).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import InputError
from ..model import Model
from ..properties import region_size
from ..simulator import check_raster
from ..verify import region_batches
from .certify import certified_share, certify_rules, parse_region
from .rules import Condition, Feature, Rule, RuleSet, compute_features
from .sampling import network_decisions
from .tree import candidate_features, simplify_conjunction, with_sample_stats

DEFAULT_MAX_POOL = 2_000_000  # rasters in all regions: above it, refinement refuses (memory)
STALE_ANNOTATIONS = ("certified", "certification", "latency")  # judged on the old list's first-match sets
_CHUNK = 16384


# ---------------------------------------------------------------- the pool


@dataclass(frozen=True)
class RegionPool:
    """Every raster of every data point's region, one row per (data point, raster):
    ``owner`` (index into the data), ``changes`` (bits changed from it), ``weight`` (its
    probability, see the module docstring; rows sum to 1), the network's ``decision``
    (``-1``: none), ``values`` ``[P, F]`` of ``features`` (integers), and ``centre_row``
    ``[N]``: the row of each data point itself."""

    owner: np.ndarray
    changes: np.ndarray
    weight: np.ndarray
    decision: np.ndarray
    values: np.ndarray
    features: Mapping[str, Feature]
    centre_row: np.ndarray

    def column(self) -> dict[str, int]:
        return {name: j for j, name in enumerate(self.features)}


def region_pool(model: Model, data: np.ndarray, region, features: Mapping[str, Feature], *,
                max_rows: int = DEFAULT_MAX_POOL) -> RegionPool:
    """The pool of ``data`` ``[N, T, n]`` in ``region`` (a ``flips`` / ``deletions`` /
    ``insertions`` region), with ``features`` evaluated on every raster."""
    total = sum(region_size(region, x) for x in data)
    if total > max_rows:
        raise InputError(f"the data's regions hold {total} rasters, more than max_pool {max_rows}: refine around "
                         "fewer data points or in a smaller region", "region")
    dtype = np.int8 if model.time_steps < 127 else np.int32  # every feature lies in [0, T]
    owner, changes, decision, values = [], [], [], []
    buf, buf_owner = [], []

    def flush():
        if not buf:
            return
        rasters = np.concatenate(buf)
        who = np.concatenate(buf_owner)
        owner.append(who)
        changes.append((rasters != data[who]).sum(axis=(1, 2)))
        decision.append(network_decisions(model, rasters))
        values.append(compute_features(model, features, rasters).astype(dtype))
        buf.clear()
        buf_owner.clear()

    size = 0
    for d, centre in enumerate(data):
        for rasters in region_batches(centre, region, _CHUNK):
            buf.append(rasters)
            buf_owner.append(np.full(len(rasters), d, dtype=np.int64))
            size += len(rasters)
            if size >= _CHUNK:
                flush()
                size = 0
    flush()
    owner_a = np.concatenate(owner)
    changes_a = np.concatenate(changes)
    # weight: 1/N per data point, split evenly over its change counts, then over the rasters with that count
    per = np.zeros((len(data), int(changes_a.max()) + 1))
    np.add.at(per, (owner_a, changes_a), 1)
    levels = (per > 0).sum(axis=1)
    weight = 1.0 / (len(data) * levels[owner_a] * per[owner_a, changes_a])
    centre_row = np.full(len(data), -1, dtype=np.int64)
    rows = np.flatnonzero(changes_a == 0)
    centre_row[owner_a[rows]] = rows
    return RegionPool(owner_a, changes_a, weight, np.concatenate(decision), np.concatenate(values),
                      dict(features), centre_row)


# ---------------------------------------------------------------- bookkeeping over the pool


def _holds(conditions: Sequence[Condition], values: np.ndarray, col: Mapping[str, int]) -> np.ndarray:
    out = np.ones(len(values), dtype=bool)
    for c in conditions:
        out &= c.holds(values[:, col[c.feature]])
    return out


def _first_match(rules: Sequence[dict], values: np.ndarray, col: Mapping[str, int], start: int = 0) -> np.ndarray:
    """Index of the first live rule ``>= start`` that holds on each row (``-1``: none)."""
    first = np.full(len(values), -1, dtype=np.int64)
    open_ = np.ones(len(values), dtype=bool)
    for i in range(start, len(rules)):
        if not rules[i]["alive"] or not open_.any():
            continue
        idx = np.flatnonzero(open_)
        hit = idx[_holds(rules[i]["conditions"], values[idx], col)]
        first[hit] = i
        open_[hit] = False
    return first


def _classes(rules: Sequence[dict], default: int, first: np.ndarray) -> np.ndarray:
    table = np.array([r["then"] for r in rules] + [default], dtype=np.int64)
    return table[np.where(first < 0, len(rules), first)]


def _violators(pool: RegionPool, rules, first: np.ndarray, i: int) -> np.ndarray:
    """Rows that refute rule ``i``'s claim: first match ``i``, a data point covered by ``i``
    (first match ``i`` at the point itself), and another decision."""
    covered = first[pool.centre_row] == i
    return (first == i) & covered[pool.owner] & (pool.decision != rules[i]["then"])


def _status(pool: RegionPool, rules, first: np.ndarray) -> dict:
    """Per live rule: covered data points, violators; and the pool-exact figures."""
    covered_by = first[pool.centre_row]
    out = {}
    for i, r in enumerate(rules):
        if r["alive"]:
            out[i] = {"covered": int((covered_by == i).sum()), "violators": int(_violators(pool, rules, first, i).sum())}
    verified = [i for i, s in out.items() if s["covered"] and not s["violators"]]
    claim = np.isin(first, verified) & (covered_by[pool.owner] == first)  # the guaranteed part
    return {"rules": out, "verified": verified, "matched_by_verified": float(pool.weight[np.isin(first, verified)].sum()),
            "claimed_by_verified": float(pool.weight[claim].sum())}


# ---------------------------------------------------------------- choosing one condition


@dataclass(frozen=True)
class _Choice:
    condition: Condition | None  # None: drop the rule
    violators_left: int
    loss: float  # distribution agreement lost (negative: gained)


@dataclass(frozen=True)
class _Rows:
    """A rule's rows in the pool while it is refined: ``rows`` (pool indices), ``live`` (still
    its first match), ``covered`` (its data point still covered by the rule), ``bad``
    (violators: live, covered, another decision), ``gain`` (agreement gained if the row
    falls through to the later rules / the default), and the feature values of each row
    (``vr``) and of its data point (``vc``)."""

    rows: np.ndarray
    live: np.ndarray
    covered: np.ndarray
    bad: np.ndarray
    gain: np.ndarray
    vr: np.ndarray
    vc: np.ndarray

    def narrowed(self, cond: Condition, j: int) -> _Rows:
        """The rows once ``cond`` (on column ``j``) is added to the rule."""
        on_r, on_c = cond.holds(self.vr[:, j]), cond.holds(self.vc[:, j])
        live = self.live & on_r
        covered = self.covered & on_c
        return _Rows(self.rows, live, covered, self.bad & live & covered, self.gain, self.vr, self.vc)


def _choose(r: _Rows, names: Sequence[str], mode: str, allow_drop: bool, top: int = 1,
            floor: float = 1e-12) -> list[_Choice]:
    """Conditions for a rule in state ``r``, best first (at most ``top``): each candidate
    ``f <= v`` / ``f >= v`` is scored at once from per-value histograms: a violator is
    removed when it, or its data point, no longer matches; a candidate that leaves no
    covered data point drops the rule (only with ``allow_drop``; so does the explicit drop,
    ``condition = None``). ``mode``: ``"fix"``, only candidates that remove every violator,
    the least loss first; ``"ratio"``, the most violators removed per unit of agreement lost
    (a loss below ``floor`` counts as ``floor``); ``"removed"``, the most violators removed.
    Empty when no candidate removes a violator."""
    live = r.live
    vr, vc = r.vr[live], r.vc[live]
    bad, gain, covered = r.bad[live], r.gain[live], r.covered[live]
    F = vr.shape[1]
    V = int(max(vr.max(initial=0), vc.max(initial=0))) + 1
    offs = (np.arange(F) * V)[None, :]

    def hist(vals: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        if not len(vals):
            return np.zeros((F, V))
        w = None if weights is None else np.repeat(weights, F)
        return np.bincount((vals.astype(np.int64) + offs).ravel(), weights=w, minlength=F * V).reshape(F, V)

    def rev_cumsum(h: np.ndarray) -> np.ndarray:
        return np.cumsum(h[:, ::-1], axis=1)[:, ::-1]

    v0 = int(bad.sum())
    drop_loss = -float(gain.sum())
    # "<= v" keeps a violator iff max(raster, its point) <= v; ">= v" iff min(...) >= v
    bad_le = np.cumsum(hist(np.maximum(vr[bad], vc[bad])), axis=1)
    bad_ge = rev_cumsum(hist(np.minimum(vr[bad], vc[bad])))
    g = hist(vr, gain)
    loss_le = -rev_cumsum(g)[:, 1:]  # "<= v": rows with value > v fall through
    loss_ge = -np.cumsum(g, axis=1)[:, :-1]  # ">= v": rows with value < v fall through
    hc = hist(vc[covered])  # > 0 where some covered data point keeps matching
    kept_le, kept_ge = np.cumsum(hc, axis=1), rev_cumsum(hc)
    # column v of each table is the threshold v: "<= v" for v in 0..V-2, ">= v" for v in 1..V-1
    tables = [("<=", 0, bad_le[:, :-1], loss_le, kept_le[:, :-1]), (">=", 1, bad_ge[:, 1:], loss_ge, kept_ge[:, 1:])]

    must_fix = mode == "fix"

    def key(removed, loss):
        if mode == "removed":
            return removed - 1e-3 * np.tanh(loss)  # ties: the smaller loss
        return -loss if must_fix else removed / np.maximum(loss, floor)

    out: list[tuple[float, _Choice]] = []
    if allow_drop:
        out.append((float(key(v0, drop_loss)), _Choice(None, 0, drop_loss)))
    for op, shift, left, loss, kept in tables:
        useful = (left < v0) & (kept > 0)
        if must_fix:
            useful &= left == 0
        if not useful.any():
            continue
        k = np.where(useful, key(v0 - left, loss), -np.inf).ravel()
        n = min(top, int(useful.sum()))
        for flat in np.argpartition(-k, n - 1)[:n]:
            f, v = divmod(int(flat), k.size // F)
            out.append((float(k[flat]), _Choice(Condition(names[f], op, v + shift), int(left[f, v]),
                                                float(loss[f, v]))))
    out.sort(key=lambda kc: -kc[0])
    return [c for _, c in out[:top]]


def _plan(r: _Rows, names: Sequence[str], col: Mapping[str, int], budget: int, allow_drop: bool,
          top: int, floor: float) -> tuple[list[Condition], bool, float]:
    """Conditions (at most ``budget``) that remove every violator of state ``r`` at little
    loss, with one step of lookahead: at each step, the cheapest condition that fixes all
    now is compared with each of the ``top`` best partial conditions (by violators removed
    per loss, and by violators removed) followed by the cheapest condition that fixes the
    rest. Returns ``(conditions, drop, loss)``; violators may remain when nothing fixes
    them within the budget."""
    conds: list[Condition] = []
    total = 0.0
    for step in range(budget):
        if not r.bad.any():
            break
        fix = _choose(r, names, "fix", allow_drop)
        best_total = fix[0].loss if fix else np.inf
        best_move: _Choice | None = fix[0] if fix else None
        if step < budget - 1:
            partial = _choose(r, names, "ratio", allow_drop, top, floor)
            by_removed = _choose(r, names, "removed", allow_drop, top)
            seen = set()
            for c in partial + by_removed:
                if c.condition is None or c.condition in seen or c.violators_left == 0:
                    continue
                seen.add(c.condition)
                after = r.narrowed(c.condition, col[c.condition.feature])
                rest = _choose(after, names, "fix", allow_drop)
                if rest and c.loss + rest[0].loss < best_total:
                    best_total, best_move = c.loss + rest[0].loss, c
        if best_move is None:  # nothing removes a violator: leave it falsified
            if step < budget - 1:
                partial = _choose(r, names, "ratio", allow_drop, 1, floor)
                if partial and partial[0].condition is not None:
                    best_move = partial[0]
            if best_move is None:
                break
        total += best_move.loss
        if best_move.condition is None:
            return conds, True, total
        conds.append(best_move.condition)
        r = r.narrowed(best_move.condition, col[best_move.condition.feature])
    return conds, False, total


# ---------------------------------------------------------------- the API


def _merged_features(ruleset: RuleSet, candidates: Mapping[str, Feature]) -> dict[str, Feature]:
    """The rule set's features plus the candidates it lacks, under fresh names ``f<k>``."""
    merged = dict(ruleset.features)
    known = set(merged.values())
    k = 0
    for f in candidates.values():
        if f in known:
            continue
        while f"f{k}" in merged:
            k += 1
        merged[f"f{k}"] = f
        known.add(f)
    return merged


def refine_rules(model: Model, ruleset: RuleSet, data: Any, region: Any = None, *, max_conditions: int = 4,
                 candidates: Mapping[str, Feature] | None = None, windows: Any = 2,
                 allow_drop: bool = True, max_loss: float | None = None, top: int = 6,
                 sample: tuple[Any, Any] | None = None,
                 max_pool: int = DEFAULT_MAX_POOL, certify: bool = True) -> tuple[RuleSet, dict]:
    """Specialise the rules of ``ruleset`` until each holds within ``region`` (default
    ``{"flips": 1}``) of the data points ``data`` ``[N, T, n]`` it covers (module docstring).

    ``candidates``: the features a new condition may read (default: counts over ``windows``
    and first spikes of every channel, :func:`.tree.candidate_features`), besides the rule
    set's own; ``max_conditions``: conditions added to a rule at most (a rule that many
    conditions cannot fix stays as it is);
    ``allow_drop``: dropping a rule (or narrowing it to cover no data point) counts as a
    fix, scored by the agreement it loses like any condition; ``max_loss``: a rule is
    refined only if its fix loses at most this much exact agreement (a probability under
    the pool's distribution; ``None``: any), else it stays falsified; ``top``: partial
    conditions looked ahead from at each step; ``sample``: ``(rasters, network
    decisions)`` to recompute every rule's precision / coverage / support on (else a changed
    rule has none, and the others keep theirs); ``certify``: finish with
    :func:`.certify.certify_rules` (``enumerate``) and put its verdicts in the log.

    Returns the refined rule set (same default, at most as many rules; annotations that the
    change makes stale — ``certified``, ``certification``, ``latency`` — are removed when
    anything changed) and a log (plain data)."""
    t0 = time.perf_counter()
    x, _ = check_raster(model, data)
    if len(x) == 0:
        raise InputError("no data rasters to refine around", "input")
    ruleset.check_model(model)
    reg = parse_region({"flips": 1} if region is None else region)
    for name, v in (("max_conditions", max_conditions), ("top", top)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise InputError(f"expected an integer >= 1, got {v!r}", name)
    if max_loss is not None and (isinstance(max_loss, bool) or not isinstance(max_loss, (int, float))
                                 or not np.isfinite(max_loss)):
        raise InputError(f"expected a number or None, got {max_loss!r}", "max_loss")
    cands = candidate_features(model, "counts+first_spike", windows) if candidates is None else dict(candidates)
    merged = _merged_features(ruleset, cands)
    pool = region_pool(model, x.astype(np.int8), reg, merged, max_rows=max_pool)
    col = pool.column()
    names = list(merged)
    t_pool = time.perf_counter() - t0
    rules = [{"conditions": list(r.conditions), "then": r.then, "alive": True, "added": [], "origin": i}
             for i, r in enumerate(ruleset.rules)]
    first = _first_match(rules, pool.values, col)
    before = _status(pool, rules, first)
    fid_before = float(pool.weight[_classes(rules, ruleset.default, first) == pool.decision].sum())
    steps: list[dict] = []
    floor = float(pool.weight.min())  # one raster's weight: a "free" condition still costs this much
    # one pass in order is exact: rule i's claim depends on rules 0..i only, all final when i is refined
    for i, rule in enumerate(rules):
        rows = np.flatnonzero(first == i)
        covered = (first[pool.centre_row] == i)[pool.owner[rows]]
        bad = covered & (pool.decision[rows] != rule["then"])
        if not bad.any():
            continue
        fall = _first_match(rules, pool.values[rows], col, start=i + 1)  # later rules: fixed while i changes
        gain = pool.weight[rows] * ((_classes(rules, ruleset.default, fall) == pool.decision[rows]).astype(float)
                                    - (pool.decision[rows] == rule["then"]))
        state = _Rows(rows, np.ones(len(rows), dtype=bool), covered, bad, gain, pool.values[rows],
                      pool.values[pool.centre_row[pool.owner[rows]]])
        conds, drop, loss = _plan(state, names, col, max_conditions, allow_drop, top, floor)
        for c in conds:
            state = state.narrowed(c, col[c.feature])
        fixed = drop or not state.bad.any()
        record = {"rule": i, "violators": int(bad.sum()), "conditions": [c.to_json() for c in conds], "drop": drop,
                  "fixed": fixed, "loss": loss, "applied": fixed and (max_loss is None or loss <= max_loss)}
        steps.append(record)
        if not record["applied"]:  # not fixable within the budget, or too costly: the rule stays as it is
            continue
        if drop or not state.covered.any():  # a rule left covering no data point is dropped
            rule["alive"] = False
            first[rows] = fall
            continue
        rule["conditions"] = simplify_conjunction(rule["conditions"] + conds, merged, model.time_steps)
        rule["added"] = [c.to_json() for c in conds]
        first[rows[~state.live]] = fall[~state.live]
    after = _status(pool, rules, first)
    fid_after = float(pool.weight[_classes(rules, ruleset.default, first) == pool.decision].sum())
    refined = _build(ruleset, rules, merged, sample, model)
    log = {
        "region": reg.to_dict(), "data_points": int(len(x)), "pool_rasters": int(len(pool.owner)),
        "rules_before": len(ruleset.rules), "rules_after": len(refined.rules),
        "refined": [r["origin"] for r in rules if r["alive"] and r["added"]],
        "dropped": [r["origin"] for r in rules if not r["alive"]],
        "left_falsified": [r["origin"] for i, r in enumerate(rules) if r["alive"] and after["rules"][i]["violators"]],
        "conditions_added": {str(r["origin"]): r["added"] for r in rules if r["added"]},
        "conditions_before": sum(len(r.conditions) for r in ruleset.rules),
        "conditions_after": sum(len(r.conditions) for r in refined.rules),
        "pool": _pool_summary(before, fid_before, len(ruleset.rules), reg),
        "pool_after": _pool_summary(after, fid_after, len(refined.rules), reg),
        "steps": steps, "pool_time_s": round(t_pool, 3),
    }
    if certify:
        t1 = time.perf_counter()
        results = certify_rules(model, refined, x, reg, method="enumerate", max_region=max(max_pool, 1))
        log["verdicts"] = [r["verdict"] for r in results]
        log["certified_share"] = certified_share(results)
        log["certify_time_s"] = round(time.perf_counter() - t1, 3)
    log["time_s"] = round(time.perf_counter() - t0, 3)
    return refined, log


def _pool_summary(status: dict, fidelity_exact: float, n_rules: int, region) -> dict:
    """The pool-exact figures: fidelity on the distribution of the pool's weights, the share
    of rules verified, and the probability mass matched by a verified rule (first match) and
    inside a verified rule's claim (first match AND its data point covered by the rule)."""
    return {"fidelity_exact": fidelity_exact, "verified": len(status["verified"]),
            "verified_share": len(status["verified"]) / n_rules if n_rules else 0.0,
            "matched_by_verified": status["matched_by_verified"],
            "claimed_by_verified": status["claimed_by_verified"],
            "distribution": f"each data point (uniform), then j ~ U{{0..k}} changes of the {region.to_dict()} "
                            "region (uniform among those with j changes)"}


def _build(ruleset: RuleSet, rules: Sequence[dict], merged: Mapping[str, Feature], sample, model) -> RuleSet:
    changed = any(r["added"] or not r["alive"] for r in rules)
    if not changed and sample is None:
        return ruleset
    out = []
    for r, old in zip(rules, ruleset.rules):
        if not r["alive"]:
            continue
        if r["added"]:
            out.append(Rule(tuple(r["conditions"]), r["then"]))
        else:
            keep = {k: v for k, v in old.annotations.items() if not (changed and k in STALE_ANNOTATIONS)}
            out.append(Rule(old.conditions, old.then, old.precision, old.coverage, old.support, keep))
    used = {c.feature for r in out for c in r.conditions}
    # the rule set's own features keep their names and order (unused ones too, as before); new ones follow
    features = {name: f for name, f in merged.items() if name in ruleset.features or name in used}
    refined = RuleSet(features, tuple(out), ruleset.default, ruleset.model_sha256, ruleset.time_steps,
                      ruleset.channels, ruleset.info)
    if sample is not None:
        rasters, labels = sample
        refined = with_sample_stats(refined, refined.feature_values(model, rasters), np.asarray(labels))
    return refined


__all__ = ["RegionPool", "refine_rules", "region_pool"]
