"""Certification-guided refinement (verisnn.extractors.refine), against brute force: every
raster of every covered data point's region is listed here (conftest's ``region_members``,
from the region's definition) and each refined rule's claim is checked on the reference
simulator. Also: refinement never adds a rule, leaves a rule that holds unchanged, keeps
the default, its JSON evaluates (an evaluator written here, json only) as ``predict`` does,
its exact pool figures match a direct computation, and ``TreeRules(refine=True)`` gives
rules that ``certify_rules`` verifies."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import region_members, rules_json_decisions
from verisnn import simulate
from verisnn.errors import InputError, VerisnnError
from verisnn.extractors.certify import certify_rules, parse_region
from verisnn.extractors.refine import refine_rules, region_pool
from verisnn.extractors.rules import OPS, Condition, Count, FirstSpike, HiddenCount, Rule, RuleSet
from verisnn.extractors.tree import TreeRules, run_tree_extraction
from verisnn.model import Dense, InputSpec, Model, Neuron, Readout
from verisnn.model_format import model_hash
from verisnn.properties import Deletions, Flips, Insertions

# ---------------------------------------------------------------- brute force and an independent evaluator


def violations(model, ruleset: RuleSet, data: np.ndarray, region) -> list[int]:
    """Per rule: how many rasters refute its claim (some covered data point's region, the
    rule first, another decision), or -1 for a rule that covers no data point."""
    first = ruleset.first_match(ruleset.feature_values(model, data))
    out = []
    for i, rule in enumerate(ruleset.rules):
        centres = data[first == i]
        if not len(centres):
            out.append(-1)
            continue
        bad = 0
        for centre in centres:
            members = region_members(region, centre)
            claimed = ruleset.first_match(ruleset.feature_values(model, members)) == i
            bad += int((claimed & (simulate(model, members).prediction != rule.then)).sum())
        out.append(bad)
    return out


# ---------------------------------------------------------------- small random cases


def random_case(seed: int, hidden: bool = True):
    """A two-layer network with low thresholds (its decision changes under a flip or two),
    a handful of data points, rules over counts / first spikes (/ a hidden count) whose
    classes are the decision of the first data point each covers, and a region."""
    rng = np.random.default_rng(seed)
    T, n, h = int(rng.integers(2, 4)), int(rng.integers(2, 4)), int(rng.integers(2, 4))
    kind = str(rng.choice(["if", "lif"]))

    def neuron(size):
        return Neuron(size, kind, threshold=int(rng.integers(1, 3)), v_decay=None if kind == "if" else [3, 2])
    model = Model(time_steps=T, input=InputSpec(n),
                  layers=(Dense(rng.integers(-2, 4, (h, n)), neuron(h)), Dense(rng.integers(-2, 4, (3, h)), neuron(3))),
                  readout=Readout("spike_count", str(rng.choice(["invalid", "lowest_index"]))), name="random")
    feats = {"f0": Count(int(rng.integers(0, n)), 0, T), "f1": FirstSpike(int(rng.integers(0, n))),
             "f2": Count(int(rng.integers(0, n)), 0, max(1, T // 2))}
    if hidden:
        feats["f3"] = HiddenCount(0, int(rng.integers(0, h)), 0, T)
    data = rng.integers(0, 2, (int(rng.integers(3, 8)), T, n)).astype(np.int8)
    names = list(feats)
    drafts = [tuple(Condition(str(rng.choice(names)), str(rng.choice(OPS)), int(rng.integers(0, T + 1))
                              + float(rng.choice([0, 0.5]))) for _ in range(int(rng.integers(0, 3))))
              for _ in range(int(rng.integers(2, 6)))]
    sha = model_hash(model)
    default = int(rng.integers(-1, 3))
    draft = RuleSet(feats, tuple(Rule(c, 0) for c in drafts), default, sha, T, n)
    first = draft.first_match(draft.feature_values(model, data))
    decisions = simulate(model, data).prediction
    rules = tuple(Rule(c, int(decisions[first == i][0]) if (first == i).any() else -1, 0.5, 0.25, 3,
                       {"certified": "unknown", "note": "kept"}) for i, c in enumerate(drafts))
    region = (Flips, Flips, Deletions, Insertions)[int(rng.integers(0, 4))](int(rng.integers(1, 3)))
    return model, RuleSet(feats, rules, default, sha, T, n), data, region


def check_refinement(model, ruleset: RuleSet, data, region, refined: RuleSet, log: dict) -> None:
    after = violations(model, refined, data, region)
    assert len(refined.rules) <= len(ruleset.rules)
    assert refined.default == ruleset.default and refined.model_sha256 == ruleset.model_sha256
    # every rule that covers data now holds (a fix can always drop the rule), and the verdicts say so
    assert all(v <= 0 for v in after), after
    assert log["verdicts"] == ["verified" if v == 0 else "unknown" for v in after]
    # the survivors, in order: a rule that held at its turn (every earlier rule unchanged) is unchanged
    kept = [i for i in range(len(ruleset.rules)) if i not in log["dropped"]]
    assert len(kept) == len(refined.rules)
    for new, old in zip(refined.rules, (ruleset.rules[i] for i in kept)):
        assert new.then == old.then
    # a rule that holds at its turn (the rules before it final, itself and later ones as given) is untouched,
    # and one that does not is refined or dropped
    touched = sorted(log["dropped"] + log["refined"])
    for i in range(len(ruleset.rules)):
        earlier = [r for r, k in zip(refined.rules, kept) if k < i]
        at_turn = ruleset.with_rules(earlier + list(ruleset.rules[i:]))
        holds = violations(model, at_turn, data, region)[len(earlier)] <= 0
        assert (i not in touched) == holds
        if holds:
            assert refined.rules[kept.index(i)].conditions == ruleset.rules[i].conditions
    for i in log["refined"]:  # a refined rule reads at least what it read (narrowed, never widened)
        new = refined.rules[kept.index(i)]
        old_holds = ruleset.matches(ruleset.feature_values(model, data))[:, i]
        assert not (refined.matches(refined.feature_values(model, data))[:, kept.index(i)] & ~old_holds).any()
        assert new.precision is None and "certified" not in new.annotations
    if touched:  # the old verdicts are stale once anything changed; other annotations stay
        assert all("certified" not in r.annotations for r in refined.rules)
        assert all(r.annotations.get("note") == "kept" for r, i in zip(refined.rules, kept) if i not in touched)
    else:
        assert refined is ruleset


SEEDS = st.integers(0, 2**32 - 1)


@settings(max_examples=60, deadline=None)
@given(SEEDS)
def test_refined_rules_hold_by_brute_force(seed):
    model, ruleset, data, region = random_case(seed)
    refined, log = refine_rules(model, ruleset, data, region, candidates={}, windows=1)
    check_refinement(model, ruleset, data, region, refined, log)


@settings(max_examples=25, deadline=None)
@given(SEEDS, st.sampled_from([1, 2]), st.booleans())
def test_refinement_with_candidate_features_and_its_json(seed, max_conditions, allow_drop):
    model, ruleset, data, region = random_case(seed, hidden=False)
    refined, log = refine_rules(model, ruleset, data, region, max_conditions=max_conditions, allow_drop=allow_drop)
    after = violations(model, refined, data, region)
    assert len(refined.rules) <= len(ruleset.rules)
    assert log["verdicts"] == ["verified" if v == 0 else "falsified" if v > 0 else "unknown" for v in after]
    # a rule left falsified is one whose fix was not made: unchanged
    for i, v in enumerate(after):
        if v > 0:
            old = log["refined"] + log["dropped"]
            assert refined.rules[i].conditions in [r.conditions for j, r in enumerate(ruleset.rules) if j not in old]
    if allow_drop:
        assert all(v <= 0 for v in after)
    rasters = np.array([m for centre in data for m in region_members(region, centre)], dtype=np.int8)
    text = json.dumps(refined.to_json())
    assert rules_json_decisions(text, rasters.tolist()) == refined.decide(model, rasters).tolist()


def test_the_exact_pool_figures_match_a_direct_computation():
    model, ruleset, data, _ = random_case(7, hidden=False)
    for region in (Flips(1), Flips(2), Deletions(1), Insertions(2)):
        pool = region_pool(model, data, region, dict(ruleset.features))
        assert math.isclose(pool.weight.sum(), 1.0)
        # "a data point (uniform), then j ~ U{0..k} changes, uniform among those with j changes"
        want = 0.0
        for centre in data:
            members = region_members(region, centre)
            changes = (members != centre).sum(axis=(1, 2))
            agree = ruleset.decide(model, members) == simulate(model, members).prediction
            levels = np.unique(changes)
            want += sum(agree[changes == j].mean() for j in levels) / len(levels) / len(data)
        _, log = refine_rules(model, ruleset, data, region, certify=False, max_loss=-1.0)  # no fix made
        assert math.isclose(log["pool"]["fidelity_exact"], want)
        assert log["pool"]["fidelity_exact"] == log["pool_after"]["fidelity_exact"]


def test_hand_made_fix_and_a_rule_that_holds_stays():
    """Two channels, T = 2, each output neuron repeats its channel: class 0 iff channel 0 has
    more spikes, 1 iff channel 1 has, no decision on a tie."""
    model = Model(time_steps=2, input=InputSpec(2),
                  layers=(Dense([[1, 0], [0, 1]], Neuron(2, "if", threshold=1)),),
                  readout=Readout("spike_count", "invalid"), name="tiny")
    feats = {"c0": Count(0, 0, 2), "c1": Count(1, 0, 2)}
    A = np.array([[1, 0], [1, 0]], dtype=np.int8)  # (2, 0): class 0, robust at flips 1
    B = np.array([[1, 0], [0, 0]], dtype=np.int8)  # (1, 0): class 0, a flip on channel 1 ties
    good = Rule((Condition("c0", ">=", 2),), 0)
    loose = Rule((Condition("c0", ">=", 1),), 0)  # covers B, whose neighbour (1, 1) is a tie
    rules = RuleSet(feats, (good, loose), 1, model_hash(model), 2, 2)
    refined, log = refine_rules(model, rules, np.stack([A, B]), {"flips": 1}, allow_drop=False)
    assert refined.rules[0] == good and log["refined"] == [1] and log["verdicts"] == ["verified", "verified"]
    assert refined.rules[1].conditions == (Condition("c0", ">=", 1), Condition("c1", "==", 0))  # simplified
    # already true: the same object back
    same, log = refine_rules(model, RuleSet(feats, (good,), 1, model_hash(model), 2, 2), A[None])
    assert log["refined"] == log["dropped"] == [] and log["verdicts"] == ["verified"]


def test_tree_rules_refined_are_certified():
    rng = np.random.default_rng(3)
    model = Model(time_steps=3, input=InputSpec(4),
                  layers=(Dense(rng.integers(-1, 4, (4, 4)), Neuron(4, "if", threshold=2)),
                          Dense(rng.integers(-1, 4, (3, 4)), Neuron(3, "if", threshold=1))),
                  readout=Readout("spike_count", "invalid"), name="small")
    x = rng.integers(0, 2, (24, 3, 4)).astype(np.int8)
    plain = TreeRules(model, max_rules=8, n_samples=400, fold_default=True, seed=1).fit(x)
    est = TreeRules(model, max_rules=8, n_samples=400, fold_default=True, refine=True, seed=1).fit(x)
    assert len(est.rules_.rules) <= len(plain.rules_.rules) <= 8
    assert est.rules_.default == plain.rules_.default
    results = certify_rules(model, est.rules_, x, {"flips": 1}, method="enumerate")
    assert all(r["verdict"] == "verified" for r in results if r["covered"]), [r["verdict"] for r in results]
    assert est.refinement_["rules_before"] == len(plain.rules_.rules)
    assert sum(r.support for r in est.rules_.rules) <= est.n_fit_  # statistics recomputed on the fit sample
    out = run_tree_extraction(model, x, split="draws", max_rules=8, n_samples=400, n_eval=500, fold_default=True,
                              refine=True, seed=1)
    assert out["ruleset"]["info"]["fit"]["refinement"]["rules_after"] == out["n_rules"]
    assert out["ruleset"]["info"]["fit"]["params"]["refine"] is True


def test_bad_arguments_are_refused():
    model, ruleset, data, _ = random_case(11, hidden=False)
    with pytest.raises(InputError, match="integer >= 1"):
        refine_rules(model, ruleset, data, max_conditions=0)
    with pytest.raises(InputError, match="max_loss"):
        refine_rules(model, ruleset, data, max_loss=float("nan"))
    with pytest.raises(VerisnnError, match="region"):
        refine_rules(model, ruleset, data, {"jitter": {"shift": 1, "spikes": 1}})
    with pytest.raises(InputError, match="max_pool"):
        refine_rules(model, ruleset, data, {"flips": 2}, max_pool=3)
    with pytest.raises(InputError, match="no data"):
        refine_rules(model, ruleset, data[:0])
    parse_region({"flips": 1})  # the same parser as certification
