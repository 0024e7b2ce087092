"""Intensity regions (verisnn.intensity) against brute force.

Exactness is shown two ways: where a ball holds few binary64 numbers, *every* input in
it is encoded and the resulting raster set must equal the computed one; elsewhere dense
sampling (uniform, the ball's edges, both sides of every breakpoint found) must land
inside the computed set, and every computed train must come with a witness input that
lies in the ball (checked in exact rationals here) and encodes to it.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verisnn.encoders import DeltaEncoder, LatencyEncoder, RateEncoder
from verisnn.errors import InputError, VerisnnError
from verisnn.intensity import MAX_TRAINS_PER_GROUP, IntensityLimit, IntensityRegion, intensity_region
from verisnn.model import Dense, InputSpec, Model, Neuron
from verisnn.properties import Intensity, PropertyError

FEW = settings(max_examples=25, deadline=None)


def model_for(encoder, n: int, T: int, shape=None) -> Model:
    spec = encoder.to_spec() if encoder is not None else None
    return Model(time_steps=T, input=InputSpec(n, shape=shape, encoding=spec),
                 layers=(Dense([[1] * n, [0] * n], Neuron(2, "if", threshold=1)),))


def exactly_in_ball(x, centre, eps) -> bool:
    """|x_j - c_j| <= eps in rationals (independent of the module's own check)."""
    return all(abs(Fraction(float(a)) - Fraction(float(c))) <= Fraction(float(eps))
               for a, c in zip(np.ravel(x), np.ravel(centre)))


def every_float(a: float, b: float, limit: int = 5000) -> np.ndarray:
    """Every float64 in [a, b] (a short interval)."""
    out = [a]
    while out[-1] < b:
        out.append(math.nextafter(out[-1], math.inf))
        assert len(out) <= limit, "the test's ball holds too many floats"
    return np.array(out)


def ball_floats(c: float, eps: float) -> np.ndarray:
    """Every float64 within eps of c, found independently of the module (by stepping)."""
    lo = c
    while abs(Fraction(math.nextafter(lo, -math.inf)) - Fraction(c)) <= Fraction(eps):
        lo = math.nextafter(lo, -math.inf)
    hi = c
    while abs(Fraction(math.nextafter(hi, math.inf)) - Fraction(c)) <= Fraction(eps):
        hi = math.nextafter(hi, math.inf)
    return every_float(lo, hi)


def check_witnesses(region: IntensityRegion) -> None:
    enc = region.encoder
    for g in region.groups:
        assert len({t.tobytes() for t in g.trains}) == g.count  # distinct
        assert np.array_equal(g.trains[0], region.centre_raster[:, list(g.channels)])
        for train, w in zip(g.trains, g.witness_x):
            x = np.array(region.x_centre, dtype=np.float64).ravel()
            x[list(g.inputs)] = w
            x = x.reshape(region.x_centre.shape)
            assert exactly_in_ball(x, region.x_centre, region.eps)
            assert np.array_equal(enc.encode(x, batched=False)[:, list(g.channels)], train)


def check_enumeration(region: IntensityRegion, batch: int = 7) -> np.ndarray:
    """iter_batches: size rasters, distinct, all contained, the centre first; returns them."""
    batches = list(region.iter_batches(batch))
    assert all(1 <= len(b) <= batch for b in batches)
    allr = np.concatenate(batches) if batches else np.zeros((0,) + region.centre_raster.shape, np.int8)
    assert len(allr) == region.size
    assert len({r.tobytes() for r in allr}) == region.size
    assert np.array_equal(allr[0], region.centre_raster)
    assert all(region.contains(r) for r in allr)
    assert np.array_equal(region.changeable, (allr != region.centre_raster).any(axis=0))
    return allr


# ---------------------------------------------------------------- rate / latency: every float of the ball

EXHAUSTIVE_STATIC = [
    # the ball straddles the round-half-up breakpoint p T = 2.5 (x = 0.3125), a few dozen floats
    (RateEncoder(8, 0.0, 1.0), 0.3125, 4e-16),
    # binary64 near 2^53 is spaced 2 apart: p T jumps by 3.125 and levels are skipped
    (RateEncoder(100, 2.0 ** 53, 2.0 ** 53 + 64), 2.0 ** 53 + 32, 40.0),
    # p > threshold is strict; just above 0.25, round(4 p) = 1: latency level 0 is skipped
    (LatencyEncoder(5, 0.0, 1.0, threshold=0.25), 0.25, 1e-16),
    (LatencyEncoder(64, 2.0 ** 53, 2.0 ** 53 + 16), 2.0 ** 53 + 2, 6.0),
    # the ball runs past lo: everything below lo encodes like lo
    (RateEncoder(4, 1.0, 2.0), 1.0 + 2 ** -50, 2 ** -49),
]


@pytest.mark.parametrize("enc, c, eps", EXHAUSTIVE_STATIC)
def test_static_encoders_against_every_float_of_the_ball(enc, c, eps):
    xs = ball_floats(c, eps)
    brute = {t.tobytes() for t in enc.encode(xs[:, None])}
    model = model_for(enc, 1, enc.time_steps)
    region = intensity_region(model, np.array([c]), eps)
    assert {t.tobytes() for t in region.groups[0].trains} == brute
    assert region.size == len(brute)
    assert region.x_low[0] == xs[0] and region.x_high[0] == xs[-1]
    check_witnesses(region)
    # each level's witness is the smallest float of the ball that reaches it
    levels = enc.levels(xs[:, None])[:, 0]
    for lv, w in zip(region.groups[0].levels, region.groups[0].witness_x[:, 0]):
        assert w == xs[np.argmax(levels == lv)]


def test_skipped_levels_are_not_listed():
    enc = RateEncoder(100, 2.0 ** 53, 2.0 ** 53 + 64)
    region = intensity_region(model_for(enc, 1, 100), np.array([2.0 ** 53 + 32]), 40.0)
    levels = sorted(region.groups[0].levels.tolist())
    assert levels[0] == 0 and levels[-1] == 100
    assert len(levels) < 101 and set(np.diff(levels)) <= {3, 4}  # 3.125 per float step, rounded
    lat = LatencyEncoder(5, 0.0, 1.0, threshold=0.25)
    assert sorted(intensity_region(model_for(lat, 1, 5), np.array([0.25]), 1e-16).groups[0].levels) == [-1, 1]


def test_whole_region_against_the_product_of_every_float():
    """Three channels whose balls hold few floats: every combination of inputs, encoded."""
    enc = RateEncoder(6, 0.0, 1.0)
    centre = np.array([0.25, 0.75, 1.0])  # p T = 1.5 and 4.5: breakpoints; 1.0: the top, clipped above
    eps = 3e-16
    per_channel = [ball_floats(c, eps) for c in centre]
    combos = np.array(list(itertools.product(*per_channel)))
    brute = {r.tobytes() for r in enc.encode(combos)}
    region = intensity_region(model_for(enc, 3, 6), centre, eps)
    allr = check_enumeration(region, batch=3)
    assert {r.tobytes() for r in allr} == brute and region.size == 4
    check_witnesses(region)


# ---------------------------------------------------------------- rate / latency: dense sampling

@st.composite
def static_cases(draw):
    T = draw(st.integers(1, 16))
    lo = draw(st.floats(-50, 50))
    hi = lo + draw(st.floats(0.01, 100))
    if draw(st.booleans()):
        enc = RateEncoder(T, lo, hi)
    else:
        enc = LatencyEncoder(T, lo, hi, threshold=draw(st.sampled_from([0.0, 0.1, 0.5, 0.9])))
    n = draw(st.integers(1, 3))
    span = hi - lo
    centre = np.array([draw(st.floats(lo - span / 2, hi + span / 2)) for _ in range(n)])
    eps = draw(st.sampled_from([0.0, span / (4 * T), span / T, span / 3, 10 * span, 1e300]))
    return enc, centre, eps


@FEW
@given(static_cases(), st.integers(0, 2 ** 32 - 1))
def test_static_encoders_against_dense_sampling(case, seed):
    enc, centre, eps = case
    n = centre.size
    region = intensity_region(model_for(enc, n, enc.time_steps), centre, eps)
    check_witnesses(region)
    assert region.size == math.prod(g.count for g in region.groups)
    assert region.centre_raster.tolist() == enc.encode(centre, batched=False).tolist()
    rng = np.random.default_rng(seed)
    for j, g in enumerate(region.groups):
        a, b = region.x_low[j], region.x_high[j]
        assert exactly_in_ball([a], [centre[j]], eps) and exactly_in_ball([b], [centre[j]], eps)
        assert not exactly_in_ball([math.nextafter(a, -math.inf)], [centre[j]], eps)
        assert not exactly_in_ball([math.nextafter(b, math.inf)], [centre[j]], eps)
        around = [w for w in g.witness_x[:, 0]] + [math.nextafter(w, -math.inf) for w in g.witness_x[:, 0]]
        xs = np.concatenate([rng.uniform(a, b, 400) if np.isfinite(b - a) else rng.uniform(-1e3, 1e3, 400),
                             [a, b, centre[j], enc.lo, enc.hi], around])
        xs = xs[(xs >= a) & (xs <= b)]
        listed = {t.tobytes() for t in g.trains}
        assert {t.tobytes() for t in enc.encode(xs[:, None])} <= listed
        # the level just below each witness (other than the lowest) is the next lower listed level
        levels = np.sort(g.levels)
        for lv, w in zip(g.levels, g.witness_x[:, 0]):
            if lv != levels[0]:
                below = enc.levels(np.array([[math.nextafter(w, -math.inf)]]))[0, 0]
                assert below == levels[np.searchsorted(levels, lv) - 1]
    if region.size <= 400:
        check_enumeration(region)


def test_eps_zero_is_the_centre_alone():
    enc = LatencyEncoder(6, 0.0, 1.0, threshold=0.1)
    centre = np.array([0.0, 0.1, 0.33, 0.99, 5.0])
    region = intensity_region(model_for(enc, 5, 6), centre, 0)
    assert region.size == 1 and not region.changeable.any()
    assert np.array_equal(region.x_low, centre) and np.array_equal(region.x_high, centre)
    assert [r.tolist() for r in np.concatenate(list(region.iter_batches(10)))] == [region.centre_raster.tolist()]


def test_huge_eps_reaches_every_level():
    T = 6
    rate = intensity_region(model_for(RateEncoder(T, 0.0, 1.0), 2, T), np.array([0.5, -3.0]), 1e308)
    assert [sorted(g.levels.tolist()) for g in rate.groups] == [list(range(T + 1))] * 2
    assert rate.size == (T + 1) ** 2
    assert rate.x_low.tolist() == [math.nextafter(-1e308, 0), -1e308]  # the floats at or above c - eps
    lat = intensity_region(model_for(LatencyEncoder(T, 0.0, 1.0), 1, T), np.array([0.5]), 1e308)
    assert sorted(lat.groups[0].levels.tolist()) == list(range(-1, T))
    # with a threshold, small levels are never reached: p just above 0.6 already rounds to 3
    lat = intensity_region(model_for(LatencyEncoder(T, 0.0, 1.0, threshold=0.6), 1, T), np.array([0.5]), 1e308)
    assert sorted(lat.groups[0].levels.tolist()) == [-1, 3, 4, 5]
    check_witnesses(lat)


def test_range_edges_clip():
    enc = RateEncoder(4, 0.0, 1.0)
    far = intensity_region(model_for(enc, 1, 4), np.array([11.0]), 1.0)  # the whole ball is above hi
    assert far.size == 1 and far.centre_raster[:, 0].tolist() == [1, 1, 1, 1]
    edge = intensity_region(model_for(enc, 1, 4), np.array([-0.5]), 0.6)  # [-1.1, 0.1]: p T <= 0.4
    assert edge.size == 1
    edge = intensity_region(model_for(enc, 1, 4), np.array([-0.5]), 0.7)  # [-1.2, 0.2]: p T up to 0.8
    assert sorted(edge.groups[0].levels.tolist()) == [0, 1]
    assert edge.groups[0].witness_x[0, 0] == edge.x_low[0] < 0  # an input below lo encodes like lo


# ---------------------------------------------------------------- delta

def delta_brute(enc: DeltaEncoder, series: np.ndarray, eps: float) -> set[bytes]:
    """Every ON/OFF pattern of a one-feature series, over every float combination of the ball."""
    per_step = [ball_floats(v, eps) for v in series]
    combos = np.array(list(itertools.product(*per_step)))
    return {p.tobytes() for p in enc.encode(combos[:, :, None])}


BIG = 2.0 ** 52  # floats in [2^52, 2^53) are the integers: a ball of radius 2 holds 5 of them


@pytest.mark.parametrize("threshold", [2.0, 2.5, 3.0, 7.0])
@pytest.mark.parametrize("offsets", [[0, 0, 0, 0], [0, 2, 5, 3], [4, 1, 0, 6], [3, 8, 1, 3]])
def test_delta_against_every_float_of_the_ball(threshold, offsets):
    """d = (x_t - x_0) / threshold hits integers exactly (threshold 2), or rounds (3, 7)."""
    enc = DeltaEncoder(threshold)
    series = BIG + 4 + np.array(offsets, dtype=np.float64)
    for eps in (1.5, 2.0):
        brute = delta_brute(enc, series, eps)
        region = intensity_region(model_for(enc, 2, 4), series[:, None], eps)
        assert {t.tobytes() for t in region.groups[0].trains} == brute
        assert region.size == len(brute)
        check_witnesses(region)
        check_enumeration(region)


@pytest.mark.parametrize("threshold, steps", [(0.1, [0, 1, 2, 1]), (0.1, [0, 1, 3, 3]), (0.3, [0, -1, -2, 0]),
                                              (0.25, [0, 1, 1, 2])])
def test_delta_on_its_own_grid_against_every_float_of_the_ball(threshold, steps):
    """A series on the threshold's grid sits on the ON/OFF boundaries; a ball of a few
    ulps around it decides each boundary by binary64 rounding alone."""
    enc = DeltaEncoder(threshold)
    series = 1.0 + np.array(steps) * threshold
    brute = delta_brute(enc, series, 5e-16)
    region = intensity_region(model_for(enc, 2, 4), series[:, None], 5e-16)
    assert {t.tobytes() for t in region.groups[0].trains} == brute and len(brute) > 1
    check_witnesses(region)


@st.composite
def delta_cases(draw):
    T = draw(st.integers(1, 6))
    c = draw(st.integers(1, 2))
    th = draw(st.sampled_from([0.1, 0.25, 0.3, 1.0]))
    series = np.array([[draw(st.floats(-1, 1)) for _ in range(c)] for _ in range(T)])
    if draw(st.booleans()):  # on a grid of the threshold: many exact ties
        series = np.round(series / th) * th
    eps = draw(st.sampled_from([0.0, th / 4, th / 2, th, 1.5 * th]))
    return DeltaEncoder(th, time_steps=draw(st.sampled_from([None, T]))), series, eps


@FEW
@given(delta_cases(), st.integers(0, 2 ** 32 - 1))
def test_delta_against_dense_sampling(case, seed):
    enc, series, eps = case
    T, c = series.shape
    region = intensity_region(model_for(enc, 2 * c, T), series, eps)
    check_witnesses(region)
    assert region.channel_trains is None and all(len(g.channels) == 2 for g in region.groups)
    rng = np.random.default_rng(seed)
    lo, hi = region.x_low, region.x_high
    samples = [rng.uniform(lo, hi, (1500, T, c)),
               np.where(rng.integers(0, 2, (500, T, c)) == 1, lo, hi),  # corners
               np.clip(np.round(rng.uniform(lo, hi, (500, T, c)) / enc.threshold) * enc.threshold
                       + rng.choice([0.0, 1e-12, -1e-12], (500, T, c)), lo, hi)]  # near the grid
    for xs in samples:
        assert all(region.contains(r) for r in enc.encode(xs))
    if region.size <= 500:
        check_enumeration(region)


def test_delta_documented_example():
    enc = DeltaEncoder(0.5)
    s = np.array([[0.0, 2.0], [0.6, 2.0], [0.9, 1.2], [2.0, 1.0], [2.0, 1.0], [0.0, 1.0]])
    model = model_for(enc, 4, 6)
    centre_only = intensity_region(model, s, 0.0)
    assert centre_only.size == 1
    assert centre_only.centre_raster.T.tolist() == enc.encode(s, batched=False).T.tolist()
    region = intensity_region(model, s, 0.05)
    assert [g.channels for g in region.groups] == [(0, 2), (1, 3)]
    assert [g.inputs for g in region.groups] == [(0, 2, 4, 6, 8, 10), (1, 3, 5, 7, 9, 11)]
    check_witnesses(region)
    check_enumeration(region)


def test_delta_refuses_coarse_floats_and_huge_regions():
    enc = DeltaEncoder(1.0)  # at 2^52 floats are 1 apart: more than half the threshold
    with pytest.raises(IntensityLimit, match="half the delta threshold") as e:
        intensity_region(model_for(enc, 2, 3), np.full((3, 1), BIG), 1.0)
    assert e.value.path == "region.intensity"
    with pytest.raises(IntensityLimit, match="too large to list"):
        intensity_region(model_for(DeltaEncoder(0.1), 2, 16), np.zeros((16, 1)), 10.0)
    assert MAX_TRAINS_PER_GROUP < 3 ** 15


# ---------------------------------------------------------------- the region's API

def test_contains_and_analog_witness():
    enc = RateEncoder(5, 0.0, 1.0)
    centre = np.array([0.0, 0.3, 0.5, 0.7, 1.0])
    region = intensity_region(model_for(enc, 5, 5), centre, 0.05)
    assert [sorted(g.levels.tolist()) for g in region.groups] == [[0], [1, 2], [2, 3], [3, 4], [5]]
    assert region.size == 8 and len(region.channel_trains) == 5
    assert [t.shape for t in region.channel_trains] == [(1, 5), (2, 5), (2, 5), (2, 5), (1, 5)]
    for r in check_enumeration(region, batch=3):
        x = region.analog_witness(r)
        assert x.shape == centre.shape and exactly_in_ball(x, centre, 0.05)
        assert np.array_equal(enc.encode(x, batched=False), r)
        unchanged = (r == region.centre_raster).all(axis=0)
        assert np.array_equal(x[unchanged], centre[unchanged])  # only the channels that must move
    outside = region.centre_raster.copy()
    outside[4, 0] = 1  # channel 0 is fixed at 0 spikes
    assert not region.contains(outside)
    assert not region.contains(np.zeros((4, 5), dtype=np.int8))  # another shape
    with pytest.raises(InputError):
        region.analog_witness(outside)
    with pytest.raises(InputError):
        region.contains(np.full((5, 5), 2))
    rasters = region.sample(np.random.default_rng(0), 50)
    assert rasters.shape == (50, 5, 5) and all(region.contains(r) for r in rasters)
    with pytest.raises(VerisnnError, match="batch"):
        next(region.iter_batches(0))
    summary = region.summary()
    assert summary["region_size"] == 8 and summary["encoder"] == enc.to_spec() and summary["eps"] == 0.05


def test_model_shaped_centre_and_a_digits_sized_region():
    T = 8
    enc = RateEncoder(T, 0.0, 16.0)
    model = model_for(enc, 64, T, shape=(1, 8, 8))
    centre = np.random.default_rng(1).integers(0, 17, (1, 8, 8)).astype(float)
    region = intensity_region(model, centre, 1.0)
    assert region.x_centre.shape == (1, 8, 8)
    assert region.centre_raster.shape == (T, 64)
    # p T = x / 2 is exact for these x, and x +- 1 moves it by +-1/2: an oracle in rationals
    for j, g in enumerate(region.groups):
        y = Fraction(int(centre.ravel()[j]) * T, 16)
        expect = {min(max(math.floor(v + Fraction(1, 2)), 0), T) for v in (y - Fraction(1, 2), y + Fraction(1, 2))}
        assert set(g.levels.tolist()) == expect
    x = region.analog_witness(region.sample(np.random.default_rng(2), 1)[0])
    assert x.shape == (1, 8, 8)


@pytest.mark.parametrize("bad, path, words", [
    (np.array([0.1, np.nan, 0.2]), "input", "NaN"),
    (np.array([0.1, np.inf, 0.2]), "input", "NaN or infinity"),
    (np.array([0.1, 0.2]), "input", "shape"),
    (np.array([[0.1, 0.2, 0.3]]), "input", "shape"),
    (np.array(["a", "b", "c"]), "input", "real numbers"),
])
def test_bad_centres(bad, path, words):
    with pytest.raises(InputError, match=words) as e:
        intensity_region(model_for(RateEncoder(4), 3, 4), bad, 0.1)
    assert e.value.path == path


def test_bad_eps_models_and_delta_shapes():
    model = model_for(RateEncoder(4), 3, 4)
    x = np.array([0.1, 0.2, 0.3])
    for eps in (-0.1, float("nan"), float("inf"), True, "0.1"):
        with pytest.raises(PropertyError) as e:
            intensity_region(model, x, eps)
        assert e.value.path == "region.intensity"
    assert intensity_region(model, x, Intensity(0.1)).eps == 0.1
    with pytest.raises(PropertyError, match="has none"):
        intensity_region(model_for(None, 3, 4), x, 0.1)
    with pytest.raises(PropertyError, match="unusable"):
        intensity_region(model_for(RateEncoder(5), 3, 4), x, 0.1)  # time_steps 5 != 4
    delta = model_for(DeltaEncoder(0.5), 4, 3)
    for shape in ((3, 1), (2, 2), (3, 2, 1), (6,)):
        with pytest.raises(InputError, match=r"series \[T, c\] = \[3, 2\]"):
            intensity_region(delta, np.zeros(shape), 0.1)
    assert intensity_region(delta, np.zeros((3, 2)), 0.1).size >= 1
    with pytest.raises(PropertyError, match="odd"):
        intensity_region(model_for(DeltaEncoder(0.5), 3, 3), np.zeros((3, 1)), 0.1)


def test_ball_edges_are_exact_at_extremes():
    big = float(np.finfo(np.float64).max)
    enc = RateEncoder(3, -1.0, 1.0)
    region = intensity_region(model_for(enc, 3, 3), np.array([big, -big, 0.1]), big)
    assert region.x_low.tolist()[:2] == [0.0, -big] and region.x_high.tolist()[:2] == [big, 0.0]
    c, eps = 0.1, 0.2  # 0.1 - 0.2 in binary64 is not the real difference of the two floats
    # 0.1 - big lies just inside the finite floats, 0.1 + big beyond them
    assert region.x_low[2] == math.nextafter(-big, 0) and region.x_high[2] == big
    tight = intensity_region(model_for(enc, 1, 3), np.array([c]), eps)
    a, b = tight.x_low[0], tight.x_high[0]
    q_lo, q_hi = Fraction(c) - Fraction(eps), Fraction(c) + Fraction(eps)
    assert Fraction(a) >= q_lo > Fraction(math.nextafter(a, -math.inf))
    assert Fraction(b) <= q_hi < Fraction(math.nextafter(b, math.inf))
