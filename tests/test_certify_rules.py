"""Certified rules (:mod:`verisnn.extractors.certify`), differentially against brute force:
every raster of every covered data point's region is listed here (conftest's
``region_members``, from the region's definition), the claim of each rule is checked on
the reference simulator, and each verdict must agree: verified exactly when no raster
violates the claim, falsified only with a witness that lies in a covered point's region,
matches the rule first and gets another decision. Every method is checked (``enumerate``,
``smt`` in both arithmetics, ``robust`` and ``auto`` beyond its enumeration limit), and the
SMT rule conditions term by term against the rules module's feature values, on constant
inputs."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from conftest import models, rasters, region_members
from verisnn import semantics, simulate
from verisnn.encodings.smt import IntTerms, PysmtFactory, SymbolicOps, smt_verify, symbolic_params
from verisnn.errors import VerisnnError
from verisnn.extractors.certify import (annotate_rules, certified_share, certify_rules, condition_term,
                                        first_match_term, parse_region)
from verisnn.extractors.rules import (OPS, Condition, Count, FirstSpike, HiddenCount, Rule, RuleSet,
                                      ruleset_from_json)
from verisnn.model import Dense, InputSpec, Model, Neuron, Readout
from verisnn.model_format import model_hash
from verisnn.properties import Deletions, Flips, Insertions, Property, Robust

METHODS = ("enumerate", "smt")


# ---------------------------------------------------------------- brute force


def brute_force(model, ruleset: RuleSet, data: np.ndarray, region) -> list[list[np.ndarray]]:
    """Per rule: every raster that violates its claim (listed from the region's definition)."""
    first = ruleset.first_match(ruleset.feature_values(model, data))
    out = []
    for i, rule in enumerate(ruleset.rules):
        bad = []
        for centre in data[first == i]:
            members = region_members(region, centre)
            claimed = ruleset.first_match(ruleset.feature_values(model, members)) == i
            wrong = simulate(model, members).prediction != rule.then
            bad += list(members[claimed & wrong])
        out.append(bad)
    return out


def assert_sound(model, ruleset: RuleSet, data, region, results, *, decided: bool = True):
    """Every verdict agrees with brute force (``decided``: no unknown except for rules
    that cover no data)."""
    first = ruleset.first_match(ruleset.feature_values(model, data))
    bad = brute_force(model, ruleset, data, region)
    assert [r["rule"] for r in results] == list(range(len(ruleset.rules)))
    for i, (r, violations) in enumerate(zip(results, bad)):
        covered = int((first == i).sum())
        assert r["covered"] == covered
        if covered == 0:
            assert r["verdict"] == "unknown" and r["reason"] == "covers no data"
            continue
        if decided:
            assert r["verdict"] in ("verified", "falsified"), r["reason"]
        if r["verdict"] == "verified":
            assert not violations
        elif r["verdict"] == "falsified":
            assert violations
            w = np.array(r["witness"], dtype=np.int8)
            assert any(np.array_equal(w, v) for v in violations)  # in a covered region, first match, wrong
            centre = data[r["witness_centre"]]
            assert first[r["witness_centre"]] == i
            assert any(np.array_equal(w, m) for m in region_members(region, centre))
        else:
            assert r["verdict"] == "unknown" and r["reason"]


# ---------------------------------------------------------------- a model small enough to reason about


def tiny_model() -> Model:
    """Two channels, T = 2; each output neuron repeats its channel's spikes (IF, threshold 1),
    spike-count readout with ties invalid: class 0 iff channel 0 has more spikes, class 1 iff
    channel 1 has, no decision on a tie."""
    return Model(time_steps=2, input=InputSpec(2), layers=(Dense([[1, 0], [0, 1]], Neuron(2, "if", threshold=1)),),
                 readout=Readout("spike_count", "invalid"), name="tiny")


FEATURES = {"c0": Count(0, 0, 2), "c1": Count(1, 0, 2), "fs0": FirstSpike(0), "h0": HiddenCount(0, 0, 0, 2)}
A = np.array([[1, 0], [1, 0]], dtype=np.int8)  # channel 0 twice: class 0
Z = np.zeros((2, 2), dtype=np.int8)  # silent: no decision


def tiny_rules(model, *rules: tuple[list, int]) -> RuleSet:
    return RuleSet(FEATURES, tuple(Rule(tuple(Condition(*c) for c in conds), then) for conds, then in rules), -1,
                   model_hash(model), model.time_steps, model.input.size)


@pytest.mark.parametrize("options", [{"method": "enumerate"}, {"method": "smt"}, {"method": "auto", "max_region": 0},
                                     {"method": "smt", "logic": "bv", "solver": "z3-native"}])
def test_hand_made_rules(options):
    model = tiny_model()
    method = options["method"]
    data = np.stack([A, Z])
    right = tiny_rules(model, ([("c0", ">=", 1)], 0))
    # flips:1 around A keeps channel 0 ahead; flips:2 reaches the ties (1, 1) and (2, 2): no decision
    (r,) = certify_rules(model, right, data[:1], {"flips": 1}, **options)
    assert r["verdict"] == "verified" and r["checked"] == (5 if method == "enumerate" else 1)
    assert r["method"] == {"auto": "robust+smt"}.get(method, method)
    (r,) = certify_rules(model, right, data[:1], {"flips": 2}, **options)
    assert r["verdict"] == "falsified"
    w = np.array(r["witness"])
    assert w[:, 0].sum() == w[:, 1].sum() >= 1 and int(simulate(model, w).prediction[0]) == -1  # a tie
    # decision-list semantics: an earlier rule takes every raster with a channel-1 spike
    listed = tiny_rules(model, ([("c1", ">=", 1)], 1), ([("c0", ">=", 1)], 0))
    results = certify_rules(model, listed, data[:1], {"flips": 2}, **options)
    assert [r["verdict"] for r in results] == ["unknown", "verified"]
    assert results[0]["reason"] == "covers no data"
    # no decision (then = null): only Z matches the first, a spike on channel 0 matches the second
    nulls = tiny_rules(model, ([("c0", "<=", 0.5), ("c1", "<=", 0.5)], -1))
    assert certify_rules(model, nulls, data[1:], {"flips": 1}, **options)[0]["verdict"] == "verified"
    wrong_null = tiny_rules(model, ([("c0", "<=", 1.5), ("c1", "<", 0.5)], -1))
    (r,) = certify_rules(model, wrong_null, data[1:], {"flips": 1}, **options)
    assert r["verdict"] == "falsified" and r["then"] is None
    assert int(simulate(model, np.array(r["witness"])).prediction[0]) == 0
    # first spike and hidden count features
    fs = tiny_rules(model, ([("fs0", "<=", 0)], 0))
    assert certify_rules(model, fs, data[:1], {"flips": 1}, **options)[0]["verdict"] == "verified"
    hidden = tiny_rules(model, ([("h0", ">=", 2)], 0))
    assert certify_rules(model, hidden, data[:1], {"flips": 1}, **options)[0]["verdict"] == "verified"
    (r,) = certify_rules(model, hidden, data[:1], {"flips": 2}, **options)
    assert r["verdict"] == "falsified" and np.array(r["witness"]).sum(axis=0).tolist() == [2, 2]
    for rules, region in ((right, {"deletions": 2}), (right, {"insertions": 2}), (listed, {"flips": 2}),
                          (hidden, {"flips": 2}), (wrong_null, {"flips": 1})):
        assert_sound(model, rules, data, parse_region(region),
                     certify_rules(model, rules, data, region, **options))


def test_a_wrong_rule_is_falsified_by_its_own_data():
    model = tiny_model()
    rules = tiny_rules(model, ([("c0", ">=", 1)], 1))  # A is class 0, not 1
    (r,) = certify_rules(model, rules, np.stack([Z, A]), {"flips": 0})
    assert r["verdict"] == "falsified" and r["witness"] == A.tolist() and r["witness_centre"] == 1


@pytest.mark.parametrize("method, max_region", [("enumerate", 10**6), ("smt", 0), ("robust", 0), ("auto", 10**6),
                                                ("auto", 0)])
def test_no_time_is_never_verified(method, max_region):
    model = tiny_model()
    rules = tiny_rules(model, ([("c0", ">=", 1)], 0), ([("c1", ">=", 0)], -1))
    results = certify_rules(model, rules, np.stack([A, Z]), {"flips": 1}, method=method, timeout=0,
                            max_region=max_region)
    assert [r["verdict"] for r in results] == ["unknown", "unknown"]
    assert all("timeout" in r["reason"] for r in results)


def test_enumerate_refuses_regions_beyond_max_region_and_auto_turns_to_the_solvers():
    model = tiny_model()
    rules = tiny_rules(model, ([("c0", ">=", 1)], 0))
    (r,) = certify_rules(model, rules, A[None], {"flips": 1}, method="enumerate", max_region=4)
    assert r["verdict"] == "unknown" and "max_region" in r["reason"] and r["region_size"] == 5
    (r,) = certify_rules(model, rules, A[None], {"flips": 1}, method="auto", max_region=4)
    assert r["verdict"] == "verified" and r["method"] == "robust+smt" and r["checked"] == 1
    (r,) = certify_rules(model, rules, A[None], {"flips": 1}, method="auto")
    assert r["verdict"] == "verified" and r["method"] == "enumerate" and r["checked"] == 5


@pytest.mark.parametrize("region", [{"flips": -1}, {"flips": 1.5}, {"flips": True}, {"bends": 1}, 3, {},
                                    {"jitter": {"shift": 1, "spikes": 1}}, "any", {"intensity": 0.1},
                                    {"flips": 1, "deletions": 1}])
def test_malformed_regions_are_refused(region):
    model = tiny_model()
    with pytest.raises(VerisnnError) as e:
        certify_rules(model, tiny_rules(model, ([("c0", ">=", 1)], 0)), A[None], region)
    assert "region" in str(e.value)


def test_bad_arguments_are_refused():
    model = tiny_model()
    rules = tiny_rules(model, ([("c0", ">=", 1)], 0))
    for kwargs, field in (({"method": "guess"}, "method"), ({"timeout": -1}, "timeout"),
                          ({"max_region": -1}, "max_region"), ({"batch": 0}, "batch"), ({"logic": "nra"}, "logic"),
                          ({"solver": None}, "solver")):
        with pytest.raises(VerisnnError) as e:
            certify_rules(model, rules, A[None], {"flips": 1}, **kwargs)
        assert e.value.path == field
    with pytest.raises(VerisnnError):  # data of the wrong shape
        certify_rules(model, rules, np.zeros((1, 3, 2), dtype=np.int8))
    other = Model(time_steps=2, input=InputSpec(2), layers=(Dense([[2, 0], [0, 1]], Neuron(2, "if", threshold=1)),),
                  readout=Readout("spike_count", "invalid"))
    with pytest.raises(VerisnnError) as e:  # rules of another model
        certify_rules(other, rules, A[None])
    assert e.value.path == "model_sha256"


def test_annotated_document_and_share():
    model = tiny_model()
    rules = tiny_rules(model, ([("c1", ">=", 1)], 1), ([("c0", ">=", 1)], 0), ([("c0", "<=", 1.5)], 0))
    results = certify_rules(model, rules, np.stack([A, Z]), {"flips": 1})
    assert [r["verdict"] for r in results] == ["unknown", "verified", "falsified"]
    assert certified_share(results) == pytest.approx(1 / 3)
    assert certified_share(results, covering_only=True) == pytest.approx(1 / 2)
    assert certified_share([]) == 0.0
    doc = annotate_rules(rules.to_json(), results)
    back = ruleset_from_json(doc)
    assert [r.certified for r in back.rules] == ["unknown", "verified", "falsified"]
    cert = doc["rules"][2]["certification"]
    assert cert["region"] == {"flips": 1} and cert["witness"] == Z.tolist() and cert["covered"] == 1
    assert set(cert) >= {"region", "covered", "method", "time_s", "checked", "witness", "reason"}
    assert "certified" not in rules.to_json()["rules"][0]  # a copy: the input is untouched
    crashed = [dict(results[0]), *results[1:]]
    crashed[0].update(verdict="error", reason="solver 'z3' failed")
    doc = annotate_rules(rules, crashed)  # the rules format knows three verdicts: an error is unknown there
    assert doc["rules"][0]["certified"] == "unknown" and doc["rules"][0]["certification"]["reason"].startswith("error")
    with pytest.raises(VerisnnError):
        annotate_rules(rules, results[:2])


def test_the_smt_hook_restricts_the_query():
    model = tiny_model()
    prop = Property(Flips(2), Robust())
    assert smt_verify(model, A, prop).verdict == "falsified"  # the ties (1, 1), (2, 2), (0, 0)
    # only rasters that keep a channel-0 spike and leave channel 1 silent: no tie is in reach
    keep = lambda t, x, outputs: t.and_([t.as_bool(x[0, 0]), t.not_(t.as_bool(x[0, 1])),  # noqa: E731
                                         t.not_(t.as_bool(x[1, 1]))])
    result = smt_verify(model, A, prop, extra=keep)
    assert result.verdict == "verified" and "x_0_0" in result.evidence["smtlib"]
    # and a centre without a decision is no longer its own counterexample when extra excludes it
    assert smt_verify(model, Z, prop, extra=lambda t, x, o: t.as_bool(x[0, 0])).verdict == "falsified"
    assert smt_verify(model, Z, prop, extra=lambda t, x, o: t.FALSE).verdict == "verified"


# ---------------------------------------------------------------- random models and rules


@st.composite
def features(draw, model: Model) -> dict:
    T, n = model.time_steps, model.input.size
    firing = [k for k, layer in enumerate(model.layers) if layer.neuron.fires]
    out = {}
    for k in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(("count", "first_spike", "hidden_count") if firing else ("count", "first_spike")))
        if kind == "first_spike":
            out[f"f{k}"] = FirstSpike(draw(st.integers(0, n - 1)))
            continue
        start = draw(st.integers(0, T - 1))
        stop = draw(st.integers(start + 1, T))
        if kind == "count":
            out[f"f{k}"] = Count(draw(st.integers(0, n - 1)), start, stop)
        else:
            layer = draw(st.sampled_from(firing))
            out[f"f{k}"] = HiddenCount(layer, draw(st.integers(0, model.layers[layer].out_size - 1)), start, stop)
    return out


@st.composite
def conditions(draw, names, T: int):
    threshold = draw(st.integers(-1, T + 1)) + draw(st.sampled_from((0, 0, 0.5, -0.25)))
    return Condition(draw(st.sampled_from(names)), draw(st.sampled_from(OPS)), threshold)


def random_case(seed: int):
    """A two-layer network with low thresholds and small weights (its decisions change under a
    flip or two, where conftest's models are often silent and every claim holds), one
    feature of each kind, one or two data points, rules whose classes are the decision of
    the first data point each covers, and a region; drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    T, n, h, m = (int(rng.integers(lo, hi)) for lo, hi in ((2, 4), (2, 5), (2, 4), (2, 4)))
    kind = str(rng.choice(["if", "lif"]))

    def neuron(size):
        return Neuron(size, kind, threshold=int(rng.integers(1, 3)), v_decay=None if kind == "if" else [3, 2])
    model = Model(time_steps=T, input=InputSpec(n),
                  layers=(Dense(rng.integers(-2, 4, (h, n)), neuron(h)), Dense(rng.integers(-2, 4, (m, h)), neuron(m))),
                  readout=Readout(str(rng.choice(["spike_count", "first_spike"])),
                                  str(rng.choice(["invalid", "lowest_index"]))), name="random")
    a = int(rng.integers(0, T))
    b = int(rng.integers(a + 1, T + 1))
    feats = {"f0": Count(int(rng.integers(0, n)), a, b), "f1": FirstSpike(int(rng.integers(0, n))),
             "f2": HiddenCount(0, int(rng.integers(0, h)), a, b)}
    data = rng.integers(0, 2, (int(rng.integers(1, 3)), T, n)).astype(np.int8)
    drafts = [tuple(Condition(f"f{int(rng.integers(0, 3))}", str(rng.choice(OPS)),
                              int(rng.integers(0, T + 1)) + float(rng.choice([0, 0.5])))
                    for _ in range(int(rng.integers(0, 3)))) for _ in range(int(rng.integers(1, 4)))]
    sha = model_hash(model)
    draft = RuleSet(feats, tuple(Rule(c, 0) for c in drafts), -1, sha, T, n)
    first = draft.first_match(draft.feature_values(model, data))
    decisions = simulate(model, data).prediction
    rules = tuple(Rule(c, int(decisions[first == i][0]) if (first == i).any() else -1) for i, c in enumerate(drafts))
    region = (Flips, Flips, Deletions, Insertions)[int(rng.integers(0, 4))](int(rng.integers(1, 3)))
    return model, RuleSet(feats, rules, -1, sha, T, n), data, region


@st.composite
def cases(draw, max_bits: int = 24):
    """A small model, a few data points, a rule set whose classes are mostly the decisions of
    the first data point each rule covers (so that both verdicts occur), a region."""
    model = draw(models(max_layers=2, max_time_steps=3))
    T, n = model.time_steps, model.input.size
    assume(T * n <= max_bits)
    data = draw(rasters(model, batch=draw(st.integers(1, 3))))
    feats = draw(features(model))
    names = list(feats)
    drafts = [(tuple(draw(st.lists(conditions(names, T), max_size=2))), draw(st.integers(-1, 2)))
              for _ in range(draw(st.integers(1, 4)))]
    sha = model_hash(model)
    ruleset = RuleSet(feats, tuple(Rule(c, then) for c, then in drafts), -1, sha, T, n)
    first = ruleset.first_match(ruleset.feature_values(model, data))
    decisions = simulate(model, data).prediction
    fitted = []
    for i, (conds, then) in enumerate(drafts):
        covered = np.flatnonzero(first == i)
        if covered.size and draw(st.integers(0, 4)):
            then = int(decisions[covered[0]])
        fitted.append(Rule(conds, then))
    kind = draw(st.sampled_from((Flips, Flips, Deletions, Insertions)))
    region = kind(draw(st.sampled_from((0, 1, 1, 2, 2))))
    return model, RuleSet(feats, tuple(fitted), -1, sha, T, n), data, region


SEEDS = st.integers(0, 2**32 - 1).map(random_case)


@settings(max_examples=150, deadline=None)
@given(st.one_of(cases(), SEEDS))
def test_enumerate_agrees_with_brute_force(case):
    model, ruleset, data, region = case
    assert_sound(model, ruleset, data, region, certify_rules(model, ruleset, data, region, method="enumerate"))


@settings(max_examples=100, deadline=None)
@given(st.one_of(cases(max_bits=16), SEEDS), st.sampled_from(("lia", "bv")))
def test_smt_agrees_with_brute_force_and_enumeration(case, logic):
    model, ruleset, data, region = case
    by_smt = certify_rules(model, ruleset, data, region, method="smt", logic=logic)
    assert_sound(model, ruleset, data, region, by_smt)
    by_enumeration = certify_rules(model, ruleset, data, region, method="enumerate")
    assert [r["verdict"] for r in by_smt] == [r["verdict"] for r in by_enumeration]


def test_random_cases_reach_every_verdict():
    """The random cases above are not all vacuous: over fixed seeds both methods verify
    rules, and falsify rules with witnesses found in the regions (not only in the data);
    ``auto`` beyond its enumeration limit (robustness, then SMT) decides the same, and
    ``robust`` alone is sound, decides some rules and leaves others undecided."""
    seen = Counter()
    for seed in range(40):
        model, ruleset, data, region = random_case(seed)
        verdicts = {}
        for method in METHODS:
            results = certify_rules(model, ruleset, data, region, method=method)
            assert_sound(model, ruleset, data, region, results)
            verdicts[method] = [r["verdict"] for r in results]
            for r in results:
                in_data = r["verdict"] == "falsified" and r["witness"] == data[r["witness_centre"]].tolist()
                seen[method, r["verdict"], in_data] += 1
        assert verdicts["smt"] == verdicts["enumerate"]
        beyond = certify_rules(model, ruleset, data, region, method="auto", max_region=0)
        assert_sound(model, ruleset, data, region, beyond)
        assert [r["verdict"] for r in beyond] == verdicts["enumerate"]
        for r in beyond:
            for stage, n in r.get("decided_by", {}).items():
                seen["auto", stage] += n
        robust = certify_rules(model, ruleset, data, region, method="robust")
        assert_sound(model, ruleset, data, region, robust, decided=False)  # a sufficient condition only
        seen["robust", "decided"] += sum(r["verdict"] != "unknown" for r in robust if r["covered"])
        seen["robust", "undecided"] += sum(r["verdict"] == "unknown" for r in robust if r["covered"])
    assert seen["robust", "decided"] >= 5 and seen["robust", "undecided"] >= 1, seen
    assert seen["auto", "robust"] >= 5 and seen["auto", "smt"] >= 5, seen  # both stages take centres
    for method in METHODS:
        assert seen[method, "verified", False] >= 5 and seen[method, "falsified", False] >= 5, seen


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_rule_terms_match_the_feature_values(data):
    """On constant inputs every term folds to TRUE or FALSE: it must be exactly what the
    rules module computes (the encoding and the one feature evaluator agree)."""
    model = data.draw(models(max_layers=2, max_time_steps=4))
    raster = data.draw(rasters(model))
    feats = data.draw(features(model))
    names = list(feats)
    conds = data.draw(st.lists(conditions(names, model.time_steps), min_size=1, max_size=6))
    ruleset = RuleSet(feats, tuple(Rule((c,), 0) for c in conds), -1, model_hash(model), model.time_steps,
                      model.input.size)
    terms = IntTerms(PysmtFactory())
    with terms.f.active():
        x = np.empty(raster.shape, dtype=object)
        for idx in np.ndindex(*raster.shape):
            x[idx] = int(raster[idx])
        outputs, _ = semantics.run_layers(SymbolicOps(terms), model, symbolic_params(model), x, ())
        values = ruleset.feature_values(model, raster[None])[0]
        for j, c in enumerate(conds):
            term = condition_term(terms, feats[c.feature], c.op, c.threshold, x, outputs, model)
            assert term is (terms.TRUE if c.holds(values[names.index(c.feature)]) else terms.FALSE)
        first = int(ruleset.first_match(values[None])[0])
        for i in range(len(conds)):
            term = first_match_term(terms, ruleset, i, x, outputs, model)
            assert term is (terms.TRUE if first == i else terms.FALSE)
