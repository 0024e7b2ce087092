"""The bab method (verisnn.bab): branch and bound over the input bits, step by step,
differentially against brute force over the whole input space of tiny models."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import models, rasters, reference_decision
from test_verify import _conditions, _in_region, _violates
from verisnn import simulate
from verisnn.bab import Search
from verisnn.model import Dense, InputSpec, Model, Neuron, Readout
from verisnn.properties import AnyInput, Deletions, Flips, Insertions, Property, Robust, region_size
from verisnn.verify import verify




@settings(max_examples=200, deadline=None)
@given(st.data())
def test_search_agrees_with_brute_force(data):
    model = data.draw(models().filter(lambda m: m.time_steps * m.input.size <= 8))
    centre = data.draw(rasters(model))
    region = data.draw(st.sampled_from([Flips(1), Flips(2), Flips(3), Deletions(2), Insertions(2), AnyInput()]))
    conds = _conditions(model)
    # the conditions the search prunes on, half of the time
    settles = [c for c in conds if type(c).__name__ in ("Robust", "DecidedBy", "FirstSpikeBy")]
    cond = data.draw(st.sampled_from(settles if settles and data.draw(st.booleans()) else conds))
    prop = Property(region=region, condition=cond)
    reference = reference_decision(model, centre)
    if isinstance(cond, Robust) and reference is None:
        return  # verify() answers this from the centre alone, before any method
    search = Search(model, prop, centre, reference, chunk=data.draw(st.sampled_from([1, 3, 64])),
                    lookahead=data.draw(st.sampled_from([0, 1, 3])))
    outcome, witness = search.run()
    T, n = centre.shape
    space = [np.array(bits, dtype=np.int8).reshape(T, n) for bits in itertools.product((0, 1), repeat=T * n)]
    members = [r for r in space if isinstance(region, AnyInput) or _in_region(region, centre, r)]
    bad = [r for r in members if _violates(model, cond, r, reference)]
    assert outcome == ("falsified" if bad else "verified")
    if outcome == "verified":  # every raster of the region simulated or under a pruned node, once
        assert search.simulated + search.pruned == len(members) == region_size(region, centre)
    else:
        assert isinstance(region, AnyInput) or _in_region(region, centre, witness)
        assert _violates(model, cond, witness, reference)


def _counter_model() -> Model:
    # out0 counts input 0, out1 counts input 1 (IF neurons, threshold 1)
    return Model(time_steps=6, input=InputSpec(2), layers=(Dense([[1, 0], [0, 1]], Neuron(2, "if", threshold=1)),),
                 readout=Readout("spike_count"))


def test_prunes_once_the_decision_is_settled():
    model = _counter_model()
    centre = np.array([[1, 0]] * 6, dtype=np.int8)  # out0 fires 6 times, out1 never
    result = verify(model, centre, Property(Flips(2), Robust()), method="bab")
    assert result.verdict == "verified"
    ev = result.evidence
    assert ev["method"] == "bab" and ev["rasters_pruned"] > 0
    assert ev["rasters_simulated"] + ev["rasters_pruned"] == ev["region_size"] == 1 + 12 + 66
    # a lead of t spikes after t steps exceeds the T - t steps left from t = 4 on, not before
    assert sum(ev["nodes_pruned_by_step"][:4]) == 0 and ev["nodes_pruned_by_step"][4] > 0
    falsified = verify(model, centre, Property(Flips(6), Robust()), method="bab")
    assert falsified.verdict == "falsified" and falsified.details["replayed"] is True
    assert simulate(model, falsified.witness).prediction[0] != 0


def test_timeout_is_unknown_and_other_regions_are_refused():
    from verisnn.properties import Jitter

    model = _counter_model()
    centre = np.array([[1, 0]] * 6, dtype=np.int8)
    r = verify(model, centre, Property(Flips(3), Robust()), method="bab", timeout=0.0)
    assert r.verdict == "unknown" and "timeout" in r.reason
    r = verify(model, centre, Property(Jitter(1, 1), Robust()), method="bab")
    assert r.verdict == "unknown" and "Jitter" in r.reason


def test_agrees_with_enumeration_on_a_larger_random_network():
    """16 inputs, 12 hidden, 3 outputs, T=5 (80 input bits): every flips:2 query around a few
    centres answered alike by bab and by plain enumeration."""
    rng = np.random.default_rng(7)
    neuron = Neuron(12, "lif", threshold=8, v_decay=(7, 3))
    model = Model(time_steps=5, input=InputSpec(16),
                  layers=(Dense(rng.integers(-6, 7, (12, 16)).tolist(), neuron),
                          Dense(rng.integers(-6, 7, (3, 12)).tolist(), Neuron(3, "lif", threshold=6, v_decay=(7, 3)))),
                  readout=Readout("spike_count", ties="lowest_index"))
    verdicts = set()
    for _ in range(6):
        centre = (rng.random((5, 16)) < 0.4).astype(np.int8)
        prop = Property(Flips(2), Robust())
        a, b = verify(model, centre, prop, method="bab"), verify(model, centre, prop, method="enumerate")
        assert a.verdict == b.verdict and a.verdict in ("verified", "falsified")
        verdicts.add(a.verdict)
