"""Interval bound propagation (``verisnn.bounds``), checked for soundness by brute force:
for every raster of a small region (enumerated here, independently of the engine),
the exact simulator's spikes and membranes lie inside the propagated intervals, and
whenever the bounds claim a condition holds, no raster of the region violates it."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import models, rasters
from verisnn import simulate
from verisnn.bounds import (BudgetedMatrix, Interval, IntervalMatrix, IntervalOps, bounds_verify, changeable_bits,
                            propagate)
from verisnn.errors import VerisnnError
from verisnn.model import Dense, InputSpec, Model, Neuron, Readout
from verisnn.properties import (AnyInput, DecidedBy, Deletions, FirstSpikeBy, Flips, Insertions, Intensity, Jitter,
                                NeverFires, NoOverflow, Property, Robust, SpikesAtMost, SynopsAtMost,
                                region_contains)
from verisnn.verify import violations

MAX_CELLS = 10  # T * n: the whole input space (2^10 rasters) is enumerated per example


def region_rasters(region, centre: np.ndarray) -> np.ndarray:
    """Every raster of ``region`` around ``centre``: all 2^(T n) rasters, filtered by the
    region's definition (flips/deletions/insertions counted here; jitter by the property
    module's own membership test)."""
    T, n = centre.shape
    every = np.array(list(itertools.product((0, 1), repeat=T * n)), dtype=np.int8).reshape(-1, T, n)
    diff = every.astype(int) - centre.astype(int)[None]
    changed = np.abs(diff).reshape(len(every), -1).sum(axis=1)
    if isinstance(region, AnyInput):
        keep = np.ones(len(every), dtype=bool)
    elif isinstance(region, Flips):
        keep = changed <= region.k
    elif isinstance(region, Deletions):
        keep = (changed <= region.k) & (diff <= 0).reshape(len(every), -1).all(axis=1)
    elif isinstance(region, Insertions):
        keep = (changed <= region.k) & (diff >= 0).reshape(len(every), -1).all(axis=1)
    else:
        keep = np.array([region_contains(region, centre, r) for r in every])
    return every[keep]


@st.composite
def regions(draw, T: int):
    kind = draw(st.sampled_from(("flips", "deletions", "insertions", "jitter", "any")))
    if kind == "flips":
        return Flips(draw(st.integers(0, 2)))
    if kind == "deletions":
        return Deletions(draw(st.integers(0, 2)))
    if kind == "insertions":
        return Insertions(draw(st.integers(0, 2)))
    if kind == "jitter":
        return Jitter(draw(st.integers(0, max(0, T - 1))), draw(st.integers(0, 2)))
    return AnyInput()


def conditions(model: Model) -> list:
    """Conditions the model accepts, with limits spread over small values."""
    T = model.time_steps
    out = [Robust(), NoOverflow(), DecidedBy(max(1, T // 2)), DecidedBy(T)]
    out += [SpikesAtMost(e) for e in (0, 2, 5, 10, 40)] + [SynopsAtMost(s) for s in (0, 5, 20, 80, 400)]
    if model.layers[-1].neuron.fires:
        out += [FirstSpikeBy(1), FirstSpikeBy(T)]
    for li, layer in enumerate(model.layers):
        if layer.neuron.fires:
            out += [NeverFires(li, j) for j in range(layer.out_size)]
    return out


small_models = models(max_layers=3, max_time_steps=4).filter(lambda m: m.time_steps * m.input.size <= MAX_CELLS)


@settings(max_examples=120, deadline=None)
@given(data=st.data())
def test_bounds_are_sound_against_every_raster_of_the_region(data):
    model = data.draw(small_models)
    centre = data.draw(rasters(model))
    region = data.draw(regions(model.time_steps))
    b = propagate(model, centre, region)
    inside = region_rasters(region, centre)
    assert len(inside) >= 1  # the centre itself
    res = simulate(model, inside, record_membranes=True)
    for k in range(len(model.layers)):
        out, mem = b.outputs[k], b.membranes[k]
        assert out.shape == mem.shape == (model.time_steps, model.layers[k].out_size)
        assert np.all(out.lo <= out.hi) and np.all(mem.lo <= mem.hi)
        got = res.layer_outputs[k]
        assert np.all(out.lo[None] <= got) and np.all(got <= out.hi[None]), f"layer {k} outputs"
        got = res.membranes[k]
        assert np.all(mem.lo[None] <= got) and np.all(got <= mem.hi[None]), f"layer {k} membranes"
    # the numbers the conditions use bound every run
    report = bounds_verify(model, centre, Property(region, SpikesAtMost(0)), None, b)
    assert report.details["spikes_upper_bound"] >= res.total_spikes.max()
    report = bounds_verify(model, centre, Property(region, SynopsAtMost(0)), None, b)
    assert report.details["synops_upper_bound"] >= res.synops.max()
    # every claimed proof survives the reference simulator on the whole region
    ref = int(simulate(model, centre).prediction[0])
    ref = None if ref < 0 else ref
    for cond in conditions(model):
        prop = Property(region, cond)
        report = bounds_verify(model, centre, prop, ref, b)
        assert report.holds in (True, None)
        assert report.decided == (report.holds is True)
        if report.holds:
            bad = violations(model, prop, inside, ref)
            assert not bad.any(), f"bounds proved {cond} but {int(bad.sum())} rasters violate it"


def _two_class_model(threshold_1: int = 6) -> Model:
    """Memoryless neurons (v decays to 0 each step). Class 0 fires when input 0 or 1
    (weight 3 each, threshold 3) carries a spike; class 1 needs ``threshold_1`` from
    input 2 alone (weight 3)."""
    neuron = Neuron(size=2, model="lif", threshold=(3, threshold_1), v_decay=(0, 0))
    return Model(time_steps=4, input=InputSpec(size=3, shape=(3,)),
                 layers=(Dense(weight=np.array([[3, 3, 0], [0, 0, 3]]), neuron=neuron),),
                 readout=Readout(type="spike_count", ties="invalid"))


CENTRE = np.array([[1, 1, 0]] * 4, dtype=np.int8)


def test_budgeted_first_layer_proves_robustness_for_one_flip():
    model = _two_class_model()
    prop = Property(Flips(1), Robust())
    report = bounds_verify(model, CENTRE, prop, 0)
    assert report.holds is True and report.decided
    assert report.details["score_bounds"]["lo"][0] == 4 and report.details["score_bounds"]["hi"][1] == 0
    assert report.undecided_spikes == 0
    every = region_rasters(Flips(1), CENTRE)
    assert not violations(model, prop, every, 0).any()
    # the budget is what proves it: plain interval arithmetic alone cannot
    plain = IntervalMatrix(model.layers[0].dense_weight())(Interval(np.zeros((4, 3), np.int64),
                                                                     np.ones((4, 3), np.int64)))
    assert plain.lo[:, 0].tolist() == [0] * 4


def test_bounds_cannot_decide_what_is_not_robust():
    model = _two_class_model()
    # eight deletions silence class 0 at every step: a tie at 0 spikes, no decision
    prop = Property(Deletions(8), Robust())
    report = bounds_verify(model, CENTRE, prop, 0)
    assert report.holds is None and not report.decided
    assert violations(model, prop, region_rasters(Deletions(8), CENTRE), 0).any()


def test_bounds_cannot_decide_across_steps():
    # one flip makes class 1 fire at most once (1 spike against 4), but the budget is per
    # step: the intervals let class 1 fire at every step. Robust, yet undecided by bounds.
    model = _two_class_model(threshold_1=3)
    prop = Property(Flips(1), Robust())
    assert not violations(model, prop, region_rasters(Flips(1), CENTRE), 0).any()
    report = bounds_verify(model, CENTRE, prop, 0)
    assert report.holds is None and report.undecided_spikes > 0


def test_lowest_index_ties_are_handled_exactly():
    neuron = Neuron(size=2, model="if", threshold=1)
    model = Model(time_steps=2, input=InputSpec(size=1, shape=(1,)),
                  layers=(Dense(weight=np.array([[1], [1]]), neuron=neuron),),
                  readout=Readout(type="spike_count", ties="lowest_index"))
    centre = np.array([[1], [1]], dtype=np.int8)
    assert bounds_verify(model, centre, Property(Flips(0), Robust()), 0).holds is True  # 2 vs 2: index 0 wins
    tie_invalid = Model(time_steps=2, input=model.input, layers=model.layers,
                        readout=Readout(type="spike_count", ties="invalid"))
    assert bounds_verify(tie_invalid, centre, Property(Flips(0), Robust()), 0).holds is None


def test_budgeted_matrix_takes_the_largest_changes():
    w = np.array([[5, -2, 1, 4]])
    centre = np.array([[0, 1, 0, 1]])
    m = BudgetedMatrix(w, centre, np.ones((1, 4), bool), budget=1)
    got = m(Interval(np.zeros((1, 4), np.int64), np.ones((1, 4), np.int64)))
    # centre value 2; best increase +5 (turn on input 0), best decrease -4 (turn off input 3)
    assert (int(got.lo[0, 0]), int(got.hi[0, 0])) == (-2, 7)
    m2 = BudgetedMatrix(w, centre, np.ones((1, 4), bool), budget=2)
    got = m2(Interval(np.zeros((1, 4), np.int64), np.ones((1, 4), np.int64)))
    assert (int(got.lo[0, 0]), int(got.hi[0, 0])) == (-2, 9)  # up 5 + 2 of [5, 2, 1]; down only 4


def test_interval_ops_wrap_and_select():
    ops = IntervalOps()
    u = Interval(np.array([-3, 5, 9, 2]), np.array([3, 8, 12, 20]))
    w = ops.overflow(u, 4, "wrap")  # range [-8, 7]
    assert w.lo.tolist() == [-3, -8, -7, -8] and w.hi.tolist() == [3, 7, -4, 7]
    assert ops.may_overflow
    s = ops.select(Interval(np.array([0, 1, 0]), np.array([0, 1, 1])), np.array([7, 7, 7]),
                   Interval(np.array([1, 1, 1]), np.array([2, 2, 2])))
    assert s.lo.tolist() == [1, 7, 1] and s.hi.tolist() == [2, 7, 7]


def test_jitter_changeable_bits_are_near_centre_spikes():
    centre = np.array([[0, 0], [1, 0], [0, 0], [0, 0], [0, 1]], dtype=np.int8)
    free = changeable_bits(Jitter(1, 1), centre)
    assert free[:, 0].tolist() == [True, True, True, False, False]
    assert free[:, 1].tolist() == [False, False, False, True, True]
    assert not changeable_bits(Jitter(1, 0), centre).any()


def test_intensity_region_is_refused_clearly():
    model = _two_class_model()
    with pytest.raises(VerisnnError, match="raster regions"):
        propagate(model, CENTRE, Intensity(0.1))


def test_reset_uses_the_correlation_of_spike_and_membrane():
    ops = IntervalOps()
    u = Interval(np.array([2, 2, 6]), np.array([9, 4, 9]))
    theta = np.array([5, 5, 5])
    s = ops.fire(u, theta, strict=False)
    assert s.lo.tolist() == [0, 0, 1] and s.hi.tolist() == [1, 0, 1]
    v = ops.sub(u, ops.spike_scale(s, theta))
    # u in [2, 4]: no spike, v = u; u in [5, 9]: spike, v = u - 5 in [0, 4]
    assert v.lo.tolist() == [0, 2, 1] and v.hi.tolist() == [4, 4, 4]
    v = ops.select(s, np.array([-1, -1, -1]), u)  # to_value reset to -1
    assert v.lo.tolist() == [-1, 2, -1] and v.hi.tolist() == [4, 4, -1]
    # a mask that is not the membrane's own spikes gets the plain hull
    other = ops.select(s, np.array([-1, -1, -1]), Interval(u.lo.copy(), u.hi.copy()))
    assert other.lo.tolist() == [-1, 2, -1] and other.hi.tolist() == [9, 4, -1]
    strict = ops.fire(u, theta, strict=True)  # u > 5: spikes from 6
    v = ops.sub(u, ops.spike_scale(strict, theta))
    assert v.lo.tolist() == [1, 2, 1] and v.hi.tolist() == [5, 4, 4]


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_per_step_budgets_bound_every_raster_they_cover(data):
    """``step_budget[t]`` limits the bits changed at step t: every raster of the region that
    respects it lies inside the intervals (and the intervals are no wider than without it)."""
    model = data.draw(small_models)
    centre = data.draw(rasters(model))
    T = model.time_steps
    k = data.draw(st.integers(1, 2))
    region = data.draw(st.sampled_from([Flips(k), Deletions(k), Insertions(k)]))
    step_budget = np.array(data.draw(st.lists(st.integers(0, k), min_size=T, max_size=T)))
    b = propagate(model, centre, region, step_budget=step_budget)
    whole = propagate(model, centre, region)
    covered = [r for r in region_rasters(region, centre)
               if np.all(np.count_nonzero(r != centre, axis=1) <= step_budget)]
    res = simulate(model, np.stack(covered), record_membranes=True)
    for k_layer in range(len(model.layers)):
        out, mem = b.outputs[k_layer], b.membranes[k_layer]
        got, gm = res.layer_outputs[k_layer], res.membranes[k_layer]
        assert np.all(out.lo[None] <= got) and np.all(got <= out.hi[None])
        assert np.all(mem.lo[None] <= gm) and np.all(gm <= mem.hi[None])
        assert np.all(whole.outputs[k_layer].lo <= out.lo) and np.all(out.hi <= whole.outputs[k_layer].hi)
