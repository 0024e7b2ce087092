"""The kernel's interval-bound argument (verisnn/kernel/intervals.py) against brute force and
against the engine's ``bounds`` method: (a) sound — whenever ``prove`` says True, no raster of
the region (enumerated here from the region's definition) violates the condition on the
engine's reference simulator; (b) at least as tight as the engine — whenever
``bounds_verify(...).holds`` is True the kernel proves it too (else engine certificates could
not be re-validated). The tests may import the engine; the kernel never does."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import lively_models, models, rasters, reference_decision
from verisnn.bounds import bounds_verify
from verisnn.kernel.guard import NO_LIMITS
from verisnn.kernel.intervals import prove
from verisnn.kernel.network import read_network
from verisnn.model import Dense, InputSpec, Model, Neuron, Readout
from verisnn.model_format import model_to_dict
from verisnn.properties import (AnyInput, DecidedBy, Deletions, FirstSpikeBy, Flips, Insertions, Jitter, NeverFires,
                                NoOverflow, Property, Robust, SpikesAtMost, SynopsAtMost, region_contains)
from verisnn.verify import violations

MAX_CELLS = 9  # T * n: the whole input space (2^9 rasters) is enumerated per example


def region_rasters(region, centre: np.ndarray, changeable: np.ndarray | None = None) -> np.ndarray:
    """Every raster of ``region`` around ``centre`` (or, for a ``changeable`` mask, every raster
    equal to the centre outside it), from docs/properties.md's definitions."""
    T, n = centre.shape
    every = np.array(list(itertools.product((0, 1), repeat=T * n)), dtype=np.int8).reshape(-1, T, n)
    diff = (every.astype(int) - centre.astype(int)[None]).reshape(len(every), -1)
    changed = np.abs(diff).sum(axis=1)
    if changeable is not None:
        keep = (diff[:, ~changeable.reshape(-1)] == 0).all(axis=1)
    elif isinstance(region, AnyInput):
        keep = np.ones(len(every), dtype=bool)
    elif isinstance(region, Flips):
        keep = changed <= region.k
    elif isinstance(region, Deletions):
        keep = (changed <= region.k) & (diff <= 0).all(axis=1)
    elif isinstance(region, Insertions):
        keep = (changed <= region.k) & (diff >= 0).all(axis=1)
    else:  # jitter: the engine's own membership test, on the few rasters keeping every spike count
        same_counts = (every.sum(axis=1) == centre.sum(axis=0)).all(axis=1)
        keep = same_counts & np.array([bool(same) and region_contains(region, centre, r)
                                       for same, r in zip(same_counts, every)])
    return every[keep]


@st.composite
def regions(draw, T: int):
    kind = draw(st.sampled_from(("flips", "flips", "deletions", "insertions", "jitter", "any")))
    if kind == "any":
        return AnyInput()
    if kind == "jitter":
        return Jitter(draw(st.integers(0, max(0, T - 1))), draw(st.integers(0, 2)))
    return {"flips": Flips, "deletions": Deletions, "insertions": Insertions}[kind](draw(st.integers(0, 2)))


def conditions(model: Model) -> list:
    """Every bounded condition the model accepts, with limits spread over small values."""
    T = model.time_steps
    out = [Robust(), NoOverflow(), DecidedBy(max(1, T // 2)), DecidedBy(T)]
    out += [SpikesAtMost(e) for e in (0, 2, 6, 20)] + [SynopsAtMost(s) for s in (0, 6, 30, 120)]
    if model.layers[-1].neuron.fires:
        out += [FirstSpikeBy(1), FirstSpikeBy(T)]
    for li, layer in enumerate(model.layers):
        if layer.neuron.fires:
            out += [NeverFires(li, j) for j in range(min(2, layer.out_size))]
    return out


def compare(model: Model, centre: np.ndarray, region, tally: Counter, changeable: np.ndarray | None = None) -> None:
    """For every condition: the kernel proves only what holds on every raster of the region,
    and proves whatever the engine's bounds prove (``changeable``: the kernel gets the mask,
    the engine the ``any`` region, which it contains)."""
    net = read_network(model_to_dict(model))
    reference = reference_decision(model, centre)
    members = region_rasters(region, centre, changeable)
    for cond in conditions(model):
        prop = Property(region, cond)
        proved, why = prove(net, changeable if changeable is not None else region.to_dict(), centre,
                            cond.to_dict(), reference, NO_LIMITS)
        assert isinstance(why, str) and why
        tally["cases"] += 1
        if proved:
            tally["kernel"] += 1
            bad = violations(model, prop, members, reference)
            assert not bad.any(), f"kernel proved {cond.to_dict()} on {region.to_dict()}, violated by " \
                                  f"{members[bad][0].tolist()} ({why})"
        if changeable is None and bounds_verify(model, centre, prop, reference).holds is True:
            tally["engine"] += 1
            assert proved, f"the engine's bounds prove {cond.to_dict()} on {region.to_dict()}, the kernel not: {why}"
            if members.shape[0] > 1:
                tally["engine, region of several rasters"] += 1


def tallied(strategy_for_model, examples: int, minimum_engine: int, region_of=regions) -> Counter:
    tally = Counter()

    @settings(max_examples=examples, deadline=None)
    @given(data=st.data(), model=strategy_for_model)
    def check(data, model):
        centre = data.draw(rasters(model), label="centre")
        compare(model, centre, data.draw(region_of(model.time_steps), label="region"), tally)

    check()
    # not vacuous: the engine proved (and so the kernel re-proved) a good number of cases
    assert tally["engine"] >= minimum_engine, tally
    assert tally["engine, region of several rasters"] >= minimum_engine // 3, tally
    return tally


def test_sound_and_as_tight_as_the_engine_on_lively_models():
    tallied(lively_models(max_bits=MAX_CELLS), examples=70, minimum_engine=200)


def test_sound_and_as_tight_as_the_engine_on_every_option():
    """Conv layers, three layers, delays up to T, tiny v_bits with wrap, every readout."""
    small = models(max_layers=3, max_time_steps=3).filter(lambda m: m.time_steps * m.input.size <= MAX_CELLS)
    tallied(small, examples=50, minimum_engine=150)


@settings(max_examples=25, deadline=None)
@given(data=st.data(), model=lively_models(max_bits=MAX_CELLS))
def test_changeable_mask_is_sound_and_as_tight_as_any(data, model):
    """The mask form (intensity regions): sound on its rasters, and the all-true mask proves
    what the engine proves on ``any``."""
    centre = data.draw(rasters(model))
    mask = data.draw(rasters(model)).astype(bool)
    compare(model, centre, AnyInput(), Counter(), changeable=mask)
    net = read_network(model_to_dict(model))
    reference = reference_decision(model, centre)
    everything = np.ones(centre.shape, dtype=bool)
    for cond in conditions(model):
        if bounds_verify(model, centre, Property(AnyInput(), cond), reference).holds is True:
            assert prove(net, everything, centre, cond.to_dict(), reference, NO_LIMITS)[0], cond


def tie_model(weights: list[list[int]], ties: str, readout: str = "spike_count") -> Model:
    """One input channel, T = 2, if neurons of threshold 1 with the given input weights."""
    neuron = Neuron(size=len(weights), model="if", threshold=1, reset="subtract")
    return Model(time_steps=2, input=InputSpec(1), layers=(Dense(weight=np.array(weights), neuron=neuron),),
                 readout=Readout(readout, ties=ties))


@pytest.mark.parametrize("readout", ["spike_count", "first_spike"])
def test_the_tie_rule_of_lowest_index(readout):
    """Neurons 0 and 1 both spike at every step for every raster near an all-ones centre
    (weight 1 and a bias-free threshold of 1): a sure tie. Under lowest_index class 0 surely
    wins (ties go to the lower index) and class 1 never does; under invalid nobody wins."""
    centre = np.ones((2, 1), dtype=np.int8)
    for ties, provable in (("lowest_index", {0}), ("invalid", set())):
        model = tie_model([[1], [1]], ties, readout)
        net = read_network(model_to_dict(model))
        for c in (0, 1):
            proved, why = prove(net, {"deletions": 0}, centre, "robust", c, NO_LIMITS)
            assert proved == (c in provable), (ties, c, why)
        # a sure tie is never a decision within the first step either, unless lowest_index
        assert prove(net, {"deletions": 0}, centre, {"decided_by": 1}, None, NO_LIMITS)[0] == (ties == "lowest_index")


def test_refuses_bad_documents():
    model = tie_model([[1], [1]], "invalid")
    net = read_network(model_to_dict(model))
    centre = np.ones((2, 1), dtype=np.int8)
    for region, cond, what in (({"flips": -1}, "robust", "region.flips"),
                               ({"flips": 1}, {"decided_by": 3}, "decided_by"),
                               ({"flips": 1}, {"never_fires": [1, 0]}, "never_fires"),
                               ("all", "robust", "region"),
                               ({"flips": 1}, "robust_to_noise", "condition"),
                               (np.ones((2, 2), dtype=bool), "robust", "changeable mask")):
        with pytest.raises(ValueError, match=what):
            prove(net, region, centre, cond, 0, NO_LIMITS)
    with pytest.raises(ValueError, match="centre"):
        prove(net, "any", np.ones((3, 1), dtype=np.int8), "robust", 0, NO_LIMITS)
