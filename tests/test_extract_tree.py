"""Decision-tree rules (verisnn.extractors): the rules JSON format, features, the tree
extractor, sampling, fidelity intervals, the latency cross-check and the renderings.

The JSON documents are checked with an evaluator written here from docs/rules.md in plain
Python (json only), independently of verisnn.extractors.rules.
"""

from __future__ import annotations

import copy
import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verisnn import simulate
from verisnn.errors import InputError
from verisnn.extractors.fidelity import fidelity
from verisnn.extractors.rules import (Condition, Count, FirstSpike, HiddenCount, RuleSet, RulesError, compute_features,
                                      feature_from_json, load_rules, render_html, render_markdown)
from verisnn.extractors.sampling import Perturbation, draw, extra_queries, network_decisions
from verisnn.extractors.tree import (TreeRules, annotate_latency, network_decision_steps, run_tree_extraction,
                                     simplify_conjunction)
from verisnn.hardware import decision_latency
from verisnn.model import Dense, InputSpec, Model, Neuron, Readout
from verisnn.model_format import model_hash
from verisnn.properties import Deletions, Flips, Jitter, region_contains

from conftest import rules_json_decisions

# ---------------------------------------------------------------- tiny models


def small_model(seed: int = 0, T: int = 5, n: int = 6) -> Model:
    """A 6-4-3 LIF network with random weights (one hidden layer, spike-count readout)."""
    rng = np.random.default_rng(seed)
    neuron = lambda size: Neuron(size=size, model="lif", threshold=4, v_decay=(3, 2))  # noqa: E731
    hidden = Dense(weight=rng.integers(-3, 6, (4, n)), neuron=neuron(4))
    out = Dense(weight=rng.integers(-3, 6, (3, 4)), neuron=neuron(3))
    return Model(time_steps=T, input=InputSpec(size=n), layers=(hidden, out), name="small")


def relay_model() -> Model:
    """Output neuron j spikes exactly when input channel j does (IF, threshold 1)."""
    out = Dense(weight=np.eye(2, dtype=np.int64), neuron=Neuron(size=2, model="if", threshold=1))
    return Model(time_steps=4, input=InputSpec(size=2), layers=(out,), readout=Readout("spike_count", "invalid"))


def random_rasters(model: Model, size: int, seed: int, p: float = 0.4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((size, model.time_steps, model.input.size)) < p).astype(np.int8)


@pytest.fixture(scope="module")
def fitted():
    model = small_model()
    X = random_rasters(model, 150, seed=1)
    est = TreeRules(model, max_rules=8, features="counts+first_spike+hidden", windows=2, n_samples=600,
                    flips=2, seed=3).fit(X, y=np.arange(150) % 3)
    return model, X, est


# ---------------------------------------------------------------- features


def test_features_by_hand():
    r = np.zeros((1, 5, 3), dtype=np.int8)
    r[0, [1, 2, 4], 0] = 1  # channel 0 spikes at steps 1, 2, 4
    r[0, 3, 1] = 1  # channel 1 at step 3; channel 2 silent
    feats = {"a": Count(0, 0, 2), "b": Count(0, 2, 5), "c": Count(0, 0, 5), "d": Count(1, 0, 3),
             "e": FirstSpike(0), "f": FirstSpike(1), "g": FirstSpike(2)}
    got = compute_features(None, feats, r)
    assert got.tolist() == [[1, 2, 3, 0, 1, 3, 5]]  # half-open windows; silent channel -> T


def test_hidden_counts_come_from_the_simulator():
    model = relay_model()  # the output layer repeats the input: its counts are the input's
    r = np.array([[[1, 0], [0, 1], [1, 1], [0, 0]]], dtype=np.int8)
    feats = {"h": HiddenCount(0, 0, 0, 3), "k": HiddenCount(0, 1, 1, 4), "c": Count(0, 0, 3)}
    assert compute_features(model, feats, r).tolist() == [[2, 2, 2]]
    with pytest.raises(RulesError, match=r"features.x.neuron: neuron 2 outside"):
        compute_features(model, {"x": HiddenCount(0, 2, 0, 1)}, r)
    with pytest.raises(RulesError, match=r"features.x.layer"):
        compute_features(model, {"x": HiddenCount(1, 0, 0, 1)}, r)


def test_feature_json_round_trip_and_errors():
    for f in (Count(3, 1, 4), FirstSpike(2), HiddenCount(1, 5, 0, 8)):
        assert feature_from_json(f.to_json()) == f
    with pytest.raises(RulesError, match="empty window"):
        feature_from_json({"kind": "count", "channel": 0, "from": 3, "to": 3})
    with pytest.raises(RulesError, match="unknown kind"):
        feature_from_json({"kind": "mean", "channel": 0})
    with pytest.raises(RulesError, match="expected an integer"):
        feature_from_json({"kind": "first_spike", "channel": 1.5})


# ---------------------------------------------------------------- the rules document


def good_doc() -> dict:
    return {
        "format": "verisnn-rules/1", "model_sha256": "ab" * 32, "time_steps": 5, "channels": 3,
        "features": {"f0": {"kind": "count", "channel": 0, "from": 0, "to": 2},
                     "f1": {"kind": "first_spike", "channel": 2}},
        "rules": [{"if": [["f0", ">", 1.5], ["f1", "<=", 2]], "then": 4, "precision": 0.9, "coverage": 0.1,
                   "support": 7, "certified": "unknown"},
                  {"if": [["f1", "==", 5]], "then": None}],
        "default": 1,
    }


def test_document_round_trip_and_evaluation():
    rs = RuleSet.from_json(good_doc())
    assert rs.to_json() == good_doc()
    r = np.zeros((3, 5, 3), dtype=np.int8)
    r[0, :2, 0] = 1
    r[0, 1, 2] = 1  # rule 0
    r[1, 3, 2] = 1  # f1 = 3: no rule -> default
    assert rs.first_match(rs.feature_values(None, r)).tolist() == [0, -1, 1]  # raster 2: channel 2 silent
    assert rs.decide(None, r).tolist() == [4, 1, -1]
    assert rules_json_decisions(json.dumps(rs.to_json()), r.tolist()) == [4, 1, -1]


def _mutate(path, value):
    def apply(doc):
        target = doc
        for key in path[:-1]:
            target = target[key]
        if value is KeyError:
            del target[path[-1]]
        else:
            target[path[-1]] = value
        return doc
    return apply


BAD = [
    (_mutate(["format"], "rules/0"), "format: expected 'verisnn-rules/1'"),
    (_mutate(["model_sha256"], "xyz"), "model_sha256: expected 64"),
    (_mutate(["time_steps"], 0), "time_steps: 0 outside"),
    (_mutate(["channels"], True), "channels: expected an integer"),
    (_mutate(["default"], -1), "default: -1 outside"),
    (_mutate(["default"], KeyError), "missing key 'default'"),
    (_mutate(["extra"], 1), "unknown key 'extra'"),
    (_mutate(["features"], []), "features: expected an object"),
    (_mutate(["features", "f0", "channel"], 3), "features.f0.channel: channel 3 outside"),
    (_mutate(["features", "f0", "to"], 6), "features.f0.to: window end 6 beyond"),
    (_mutate(["features", "f0", "colour"], 1), "features.f0: unknown key 'colour'"),
    (_mutate(["features", "1x"], {"kind": "first_spike", "channel": 0}), "features.1x: a feature name"),
    (_mutate(["rules"], {}), "rules: expected a list"),
    (_mutate(["rules", 0], "rule"), r"rules\[0\]: expected an object"),
    (_mutate(["rules", 0, "then"], KeyError), r"rules\[0\]: missing key 'then'"),
    (_mutate(["rules", 0, "then"], "4"), r"rules\[0\].then: expected an integer"),
    (_mutate(["rules", 0, "if"], "f0 > 1"), r"rules\[0\].if: expected a list"),
    (_mutate(["rules", 1, "if", 0], ["f1", "=="]), r"rules\[1\].if\[0\]: expected \[feature, op, threshold\]"),
    (_mutate(["rules", 1, "if", 0, 0], "f99"), r"rules\[1\].if\[0\]: unknown feature 'f99'"),
    (_mutate(["rules", 1, "if", 0, 1], "!="), r"rules\[1\].if\[0\]: unknown operator '!='"),
    (_mutate(["rules", 1, "if", 0, 2], "5"), r"rules\[1\].if\[0\]\[2\]: expected a number"),
    (_mutate(["rules", 1, "if", 0, 2], float("nan")), r"rules\[1\].if\[0\]\[2\]: expected a finite number"),
    (_mutate(["rules", 0, "precision"], 1.5), r"rules\[0\].precision: 1.5 outside \[0, 1\]"),
    (_mutate(["rules", 0, "support"], -2), r"rules\[0\].support: -2 outside"),
    (_mutate(["rules", 0, "certified"], "proved"), r"rules\[0\].certified: expected one of"),
]


@pytest.mark.parametrize("mutation,message", BAD)
def test_malformed_documents_name_the_path(mutation, message):
    with pytest.raises(RulesError, match=message):
        RuleSet.from_json(mutation(copy.deepcopy(good_doc())))


def test_load_rules_is_strict_json(tmp_path):
    p = tmp_path / "r.json"
    p.write_text(json.dumps(good_doc()))
    assert load_rules(p).to_json() == good_doc()
    p.write_text(json.dumps(good_doc()).replace("0.9", "NaN"))
    with pytest.raises(RulesError, match="NaN"):
        load_rules(p)
    p.write_bytes(b"\x80\x04K\x01.")  # a pickle is not JSON
    with pytest.raises(RulesError):
        load_rules(p)
    with pytest.raises(RulesError, match="cannot read"):
        load_rules(tmp_path / "missing.json")


# ---------------------------------------------------------------- sympy simplification


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from(["<", "<=", ">", ">=", "=="]),
                          st.sampled_from([-1, 0, 0.5, 1, 1.5, 2, 2.5, 3, 4, 5.5, 7])), max_size=6))
def test_simplification_keeps_semantics(conds):
    features = {"a": Count(0, 0, 3), "b": FirstSpike(1), "c": Count(2, 1, 5)}
    T = 6
    conditions = [Condition(*c) for c in conds]
    simple = simplify_conjunction(conditions, features, T)
    ranges = [range(lo, hi + 1) for lo, hi in (f.value_range(T) for f in features.values())]
    col = {"a": 0, "b": 1, "c": 2}
    for point in itertools.product(*ranges):  # every value the features can take
        v = np.array([point], dtype=float)
        before = all(c.holds(v[:, col[c.feature]])[0] for c in conditions)
        after = simple is not None and all(c.holds(v[:, col[c.feature]])[0] for c in simple)
        assert before == after
    if simple is not None:  # at most one lower and one upper bound per feature
        for name in col:
            assert len([c for c in simple if c.feature == name]) <= 2


# ---------------------------------------------------------------- the tree extractor


def test_json_and_predict_agree_on_random_rasters(fitted):
    model, X, est = fitted
    doc = est.to_json()
    text = json.dumps(doc)
    R = np.concatenate([random_rasters(model, 200, seed=7, p=0.2), random_rasters(model, 200, seed=8, p=0.6)])
    hidden = [[layer[b].tolist() for layer in simulate(model, R).layer_outputs] for b in range(len(R))]
    assert rules_json_decisions(text, R.tolist(), hidden) == est.predict(R).tolist()
    # the document reloads to the same rules; every listed feature is used
    assert RuleSet.from_json(json.loads(text)).to_json() == doc
    used = {c[0] for r in doc["rules"] for c in r["if"]}
    assert used == set(doc["features"])
    assert doc["model_sha256"] == model_hash(model)
    assert 2 <= len(doc["rules"]) <= 8


def test_fit_statistics_and_labels(fitted):
    model, X, est = fitted
    rs = est.rules_
    assert sum(r.support for r in rs.rules) == est.n_fit_  # the leaves partition the sample
    assert math.isclose(sum(r.coverage for r in rs.rules), 1.0)
    net = network_decisions(model, X)
    assert est.network_accuracy_ == pytest.approx(float((net == np.arange(150) % 3).mean()))
    assert est.rules_accuracy_ == pytest.approx(float((est.predict(X) == np.arange(150) % 3).mean()))
    assert est.score(X) == pytest.approx(float((est.predict(X) == net).mean()))
    # the tree's own labels are the network's decisions: refit on the sample reproduces precision
    first = rs.first_match(rs.feature_values(model, X))
    for i, r in enumerate(rs.rules):
        if r.support:
            assert 0 <= r.precision <= 1
    assert set(first.tolist()) <= set(range(len(rs.rules)))
    assert set(est.get_params()) >= {"model", "max_rules", "features", "windows", "seed"}


def test_fold_default_and_trepan_queries():
    model = small_model(seed=5)
    X = random_rasters(model, 120, seed=2)
    est = TreeRules(model, max_rules=5, features="counts", windows=1, n_samples=300, fold_default=True,
                    min_leaf_samples=30, trepan_rounds=1, max_tries=300, seed=0).fit(X)
    rs = est.rules_
    assert len(rs.rules) <= 5
    assert est.tree_.get_n_leaves() >= len(rs.rules)
    assert all(r.then != rs.default for r in rs.rules)  # the folded class is left to the default
    assert est.n_extra_queries_ > 0  # leaves under 30 samples asked for more
    plain = TreeRules(model, max_rules=5, features="counts", windows=1, n_samples=300, fold_default=True,
                      min_leaf_samples=0, seed=0).fit(X)
    assert plain.n_extra_queries_ == 0
    doc = json.dumps(rs.to_json())
    R = random_rasters(model, 100, seed=9)
    assert rules_json_decisions(doc, R.tolist()) == est.predict(R).tolist()


def test_bad_parameters_are_input_errors():
    model = small_model()
    X = random_rasters(model, 10, seed=0)
    with pytest.raises(InputError, match="features"):
        TreeRules(model, features="everything", n_samples=0).fit(X)
    with pytest.raises(InputError, match="max_rules"):
        TreeRules(model, max_rules=1, n_samples=0).fit(X)
    with pytest.raises(InputError, match="windows"):
        TreeRules(model, windows=9, n_samples=0).fit(X)
    with pytest.raises(InputError):
        TreeRules(model, n_samples=0).fit(X[:, :2])


def test_run_tree_extraction_returns_plain_data():
    model = small_model(seed=2)
    X = random_rasters(model, 80, seed=4)
    for split in ("rasters", "draws"):
        r = run_tree_extraction(model, X, labels=np.arange(80) % 3, eval_X=X[:10], max_rules=6,
                                features="counts+first_spike", n_samples=200, n_eval=300, seed=1, split=split)
        json.dumps(r)  # plain data
        assert r["n_rules"] == len(r["rules"]) == len(r["ruleset"]["rules"]) <= 6
        lo, hi = r["fidelity"]["ci"]
        assert lo <= r["fidelity"]["value"] <= hi and r["fidelity"]["n"] == 300
        assert "up to 1 bit flip" in r["fidelity"]["distribution"]
        assert r["eval_fidelity"]["n"] == 10
        assert {"network_accuracy", "rules_accuracy"} <= set(r)
        assert all("latency" in rule for rule in r["rules"])
        RuleSet.from_json(r["ruleset"])
    with pytest.raises(InputError, match="split"):
        run_tree_extraction(model, X, split="halves")


# ---------------------------------------------------------------- sampling


def test_draws_stay_in_their_regions():
    model = small_model(T=6)
    X = random_rasters(model, 5, seed=3, p=0.5)
    rng = np.random.default_rng(0)
    for pert, region in ((Perturbation(flips=3), Flips(3)), (Perturbation(flips=0, deletions=2), Deletions(2)),
                         (Perturbation(flips=0, jitter_shift=2, jitter_spikes=2), Jitter(2, 2))):
        for x in X:
            d = draw(model, x[None], 200, pert, rng)
            assert d.dtype == np.uint8 and d.shape == (200, 6, 6)
            assert all(region_contains(region, x, r) for r in d)
            assert len({r.tobytes() for r in d}) > 3  # they do move
    # the flip count is uniform on 0..k: about a quarter unperturbed for k = 3
    d = draw(model, X[:1], 4000, Perturbation(flips=3), rng)
    changed = (d != X[:1]).reshape(4000, -1).sum(axis=1)
    assert set(np.unique(changed)) == {0, 1, 2, 3}
    assert abs((changed == 0).mean() - 0.25) < 0.04


def test_extra_queries_satisfy_the_acceptance_test():
    model = small_model()
    X = random_rasters(model, 20, seed=5)
    accept = lambda r: r[:, :, 0].sum(axis=1) >= 2  # noqa: E731 - e.g. a leaf's "count(ch 0) >= 2"
    q = extra_queries(model, X, accept, 50, Perturbation(flips=2), np.random.default_rng(1), max_tries=5000)
    assert 0 < len(q.rasters) <= 50 and q.tried <= 5000
    assert accept(q.rasters).all()
    assert q.labels.tolist() == simulate(model, q.rasters).prediction.tolist()
    none = extra_queries(model, X, lambda r: np.zeros(len(r), bool), 5, Perturbation(), np.random.default_rng(1),
                         max_tries=100)
    assert len(none.rasters) == 0 and none.tried == 100


# ---------------------------------------------------------------- fidelity


def test_fidelity_interval_covers_the_true_rate():
    # a finite population: every raster of a 2-channel, 3-step model, the rules fitted on a few
    model = small_model(T=3, n=2)
    everything = np.array(list(itertools.product([0, 1], repeat=6)), dtype=np.int8).reshape(-1, 3, 2)
    est = TreeRules(model, max_rules=2, features="counts", windows=1, n_samples=0, seed=0).fit(everything[::7])
    agree = est.predict(everything) == network_decisions(model, everything)
    truth = agree.mean()
    assert 0.2 < truth < 1  # a rate the interval has to work for
    rng = np.random.default_rng(0)
    hits = 0
    reps = 300
    for _ in range(reps):
        idx = rng.integers(0, len(everything), 40)
        f = fidelity(est.predict(everything[idx]), network_decisions(model, everything[idx]), "all rasters")
        hits += f.ci[0] <= truth <= f.ci[1]
    assert hits / reps >= 0.93


def test_fidelity_fields_and_errors():
    f = fidelity([1, 2, -1, 3], [1, 2, -1, 0], "four draws")
    assert (f.value, f.n, f.agree, f.confidence) == (0.75, 4, 3, 0.95)
    assert 0 < f.ci[0] < 0.75 < f.ci[1] <= 1
    assert "fidelity 75.0%" in str(f) and "accuracy" not in str(f)
    with pytest.raises(InputError):
        fidelity([], [], "none")
    with pytest.raises(InputError, match="distribution"):
        fidelity([1], [1], " ")
    with pytest.raises(InputError):
        fidelity([1, 2], [1], "x")


# ---------------------------------------------------------------- latency cross-check


def test_network_decision_steps_by_hand():
    model = relay_model()
    a = [[1, 0], [0, 0], [0, 0], [0, 0]]  # decided (class 0) from step 1 on
    b = [[1, 0], [0, 1], [0, 1], [0, 0]]  # prefixes: 0, tie, 1, 1 -> 3 steps
    c = [[1, 0], [0, 1], [0, 1], [1, 0]]  # prefixes: 0, tie, 1, tie -> final "no decision" after 4
    final, steps = network_decision_steps(model, np.array([a, b, c], dtype=np.int8))
    assert final.tolist() == [0, 1, -1] and steps.tolist() == [1, 3, 4]


def test_first_spike_horizons():
    f = FirstSpike(0)
    T = 6
    cases = {("<=", 2): 3, ("<=", 2.5): 3, (">", 2): 3, (">", 2.5): 3, ("<", 3): 3, ("<", 2.5): 3,
             (">=", 3): 3, (">=", 2.5): 3, ("==", 2): 3, ("==", 6): 6, ("<=", -1): 0, (">=", 9): 0, ("==", 2.5): 0}
    for (op, c), k in cases.items():
        assert f.horizon(op, c, T) == k, (op, c)
        # by brute force: the smallest k such that the first k steps settle the condition
        rasters = np.array(list(itertools.product([0, 1], repeat=T)), dtype=np.int8)[:, :, None]
        values = compute_features(None, {"f": f}, rasters)[:, 0]
        holds = Condition("f", op, c).holds(values)
        settled = min(j for j in range(T + 1)
                      if all(len(set(holds[(rasters[:, :j, 0] == p).all(axis=1)])) <= 1
                             for p in np.unique(rasters[:, :j, 0], axis=0)))
        assert k == settled, (op, c)
    assert Count(0, 1, 4).horizon(">=", 1, T) == 4 and HiddenCount(0, 0, 0, 2).horizon("<", 1, T) == 2


def test_latency_annotation_by_hand():
    model = relay_model()
    doc = {"format": "verisnn-rules/1", "model_sha256": model_hash(model), "time_steps": 4, "channels": 2,
           "features": {"f0": {"kind": "count", "channel": 1, "from": 0, "to": 2},
                        "f1": {"kind": "first_spike", "channel": 0}},
           "rules": [{"if": [["f0", ">=", 1]], "then": 1}, {"if": [["f1", "<=", 0.5]], "then": 0},
                     {"if": [], "then": None}],
           "default": None}
    X = np.array([[[1, 0], [0, 0], [0, 0], [0, 0]],   # rule 1 (first spike 0), network decided after 1 step
                  [[1, 0], [0, 1], [0, 1], [0, 0]],   # rule 0 (horizon 2), network needs 3 steps
                  [[1, 0], [0, 1], [0, 1], [1, 0]]],  # rule 0, network needs 4 steps
                 dtype=np.int8)
    rs = annotate_latency(model, RuleSet.from_json(doc), X, profile="loihi")
    lat = [r.annotations["latency"] for r in rs.rules]
    assert [x["steps"] for x in lat] == [2, 1, 4]
    assert lat[0]["measured"]["n"] == 2 and lat[0]["measured"]["median_steps"] == 3.5
    assert lat[0]["measured"]["max_steps"] == 4 and lat[0]["disagreements"] == 2
    assert lat[1]["measured"]["n"] == 1 and lat[1]["measured"]["max_steps"] == 1 and lat[1]["disagreements"] == 0
    assert lat[2]["measured"]["n"] == 0 and lat[2]["us"] is None and lat[2]["disagreements"] == 0
    expect = [decision_latency(model, X[i], "loihi", k) for i, k in ((1, 2), (2, 2))]
    assert lat[0]["us"] == pytest.approx(float(np.median(expect)))
    assert lat[0]["measured"]["max_us"] == pytest.approx(decision_latency(model, X[2], "loihi", 4))
    assert lat[1]["us"] == pytest.approx(decision_latency(model, X[0], "loihi", 1))
    assert all(x["profile"] == "loihi" for x in lat)
    json.dumps(rs.to_json())  # annotations stay JSON
    assert "decided by step 2" in render_markdown(rs)


# ---------------------------------------------------------------- renderings


def test_renderings_escape_text():
    rs = RuleSet.from_json(good_doc())
    page = render_html(rs, extra={"distribution": "<script>alert('x')</script> & more"}, title="a <b> title")
    assert "<script>" not in page and "&lt;script&gt;" in page and "&amp; more" in page
    assert "a &lt;b&gt; title" in page
    assert page.startswith("<!DOCTYPE html>") and "http" not in page  # self-contained
    assert "count(ch 0, steps 0\u20131) &gt; 1.5" in page
    md = render_markdown(rs, extra={"fidelity": 0.5})
    assert "1. IF count(ch 0, steps 0\u20131) > 1.5 AND first spike(ch 2) \u2264 2 THEN class 4" in md
    assert "precision 90%, coverage 10%, support 7, certified: unknown" in md
    assert "2. IF first spike(ch 2) = 5 THEN no decision" in md
    assert "3. OTHERWISE class 1" in md
