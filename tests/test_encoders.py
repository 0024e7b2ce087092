"""Encoders: hand-computed rasters, spike-count and monotonicity properties, specs, errors."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verisnn.encoders import (DeltaEncoder, LatencyEncoder, RateEncoder, encoder_from_model, encoder_from_spec)
from verisnn.errors import InputError, ModelError
from verisnn.model import Dense, InputSpec, Model, Neuron

FEW = settings(max_examples=60, deadline=None)


def exact_rate_level(x, T, lo, hi):
    """Oracle: round-half-up of p*T in exact rationals (valid where binary64 is exact)."""
    p = (Fraction(min(max(x, lo), hi)) - Fraction(lo)) / (Fraction(hi) - Fraction(lo))
    y = p * T
    return int(y) + (y - int(y) >= Fraction(1, 2))


# ---------------------------------------------------------------- rate

def test_rate_hand_computed_T4():
    enc = RateEncoder(time_steps=4, lo=0, hi=4)
    raster = enc.encode(np.array([[0.0, 1.0, 2.0, 3.0, 4.0]]))
    assert raster.dtype == np.int8 and raster.shape == (1, 4, 5)
    # columns are the five channels, rows the steps: k = 0, 1, 2, 3, 4 spikes
    assert raster[0].tolist() == [
        [0, 0, 0, 0, 1],
        [0, 0, 1, 1, 1],
        [0, 0, 0, 1, 1],
        [0, 1, 1, 1, 1],
    ]


def test_rate_hand_computed_T5_rounding_and_clipping():
    enc = RateEncoder(time_steps=5, lo=-1.0, hi=1.0)
    # p = 0.3 -> 1.5 spikes rounds half up to 2; p = 0.6 -> 3; -7 clips to p = 0; 9 clips to p = 1
    x = np.array([-0.4, 0.2, -7.0, 9.0])
    assert enc.levels(x, batched=False).tolist() == [2, 3, 0, 5]
    assert enc.encode(x, batched=False).T.tolist() == [
        [0, 0, 1, 0, 1],
        [0, 1, 0, 1, 1],
        [0, 0, 0, 0, 0],
        [1, 1, 1, 1, 1],
    ]


def test_rate_flattens_features_in_c_order():
    enc = RateEncoder(time_steps=2, lo=0, hi=2)
    x = np.array([[[[0, 1], [2, 0]]], [[[2, 2], [0, 1]]]])  # [B=2, 1, 2, 2]
    out = enc.encode(x)
    assert out.shape == (2, 2, 4)
    assert out.sum(axis=1).tolist() == [[0, 1, 2, 0], [2, 2, 0, 1]]
    assert np.array_equal(enc.encode(x[1], batched=False), out[1])


@FEW
@given(T=st.integers(1, 40), xs=st.lists(st.integers(-3, 35), min_size=1, max_size=12))
def test_rate_spike_count_and_prefix_counts(T, xs):
    enc = RateEncoder(time_steps=T, lo=0, hi=32)  # x / 32 * T is exact in binary64
    raster = enc.encode(np.array(xs, dtype=float), batched=False)
    k = np.array([exact_rate_level(x, T, 0, 32) for x in xs])
    assert np.array_equal(raster.sum(axis=0), k)
    m = np.arange(1, T + 1)[:, None]
    assert np.array_equal(np.cumsum(raster, axis=0), (m * k[None, :]) // T)
    assert set(np.unique(raster)) <= {0, 1}


@FEW
@given(T=st.integers(1, 30), a=st.lists(st.floats(-2, 3), min_size=1, max_size=8),
       d=st.lists(st.floats(0, 2), min_size=8, max_size=8))
def test_rate_prefix_counts_monotone(T, a, d):
    enc = RateEncoder(time_steps=T, lo=-1.0, hi=2.0)
    x = np.array(a)
    y = x + np.array(d[:len(a)])
    cx = np.cumsum(enc.encode(x, batched=False), axis=0)
    cy = np.cumsum(enc.encode(y, batched=False), axis=0)
    assert np.all(cx <= cy)


def test_rate_level_bounds_enclose_sampled_points():
    enc = RateEncoder(time_steps=10, lo=0, hi=1)
    x = np.array([[0.13, 0.5, 0.96, 0.0]])
    lo_k, hi_k = enc.level_bounds(x, 0.07)
    assert lo_k.tolist() == [[1, 4, 9, 0]] and hi_k.tolist() == [[2, 6, 10, 1]]
    for x2 in np.linspace(x - 0.07, x + 0.07, 41):
        k = enc.levels(x2)
        assert np.all(lo_k <= k) and np.all(k <= hi_k)
    assert np.array_equal(enc.raster(enc.levels(x)), enc.encode(x))


# ---------------------------------------------------------------- latency

def test_latency_hand_computed_T4():
    enc = LatencyEncoder(time_steps=4, lo=0, hi=1)
    # p = 0 never fires; 0.1 -> q = round(0.3) = 0 -> t = 3; 0.5 -> q = round(1.5) = 2 -> t = 1;
    # 0.8 -> q = round(2.4) = 2 -> t = 1; 1 -> q = 3 -> t = 0
    x = np.array([0.0, 0.1, 0.5, 0.8, 1.0])
    assert enc.levels(x, batched=False).tolist() == [-1, 0, 2, 2, 3]
    assert enc.encode(x, batched=False).T.tolist() == [
        [0, 0, 0, 0],
        [0, 0, 0, 1],
        [0, 1, 0, 0],
        [0, 1, 0, 0],
        [1, 0, 0, 0],
    ]


def test_latency_threshold_is_strict():
    enc = LatencyEncoder(time_steps=3, lo=0, hi=4, threshold=0.25)
    # p = 0.25 is not > 0.25: silent; p = 0.5 -> q = 1 -> t = 1
    assert enc.encode(np.array([[1.0, 2.0]])).tolist() == [[[0, 0], [0, 1], [0, 0]]]


def test_latency_single_step():
    enc = LatencyEncoder(time_steps=1, lo=0, hi=1)
    assert enc.encode(np.array([0.0, 0.01, 1.0]), batched=False).tolist() == [[0, 1, 1]]


@FEW
@given(T=st.integers(1, 30), th=st.sampled_from([0.0, 0.1, 0.5]),
       a=st.lists(st.floats(-1, 2), min_size=1, max_size=8), d=st.lists(st.floats(0, 2), min_size=8, max_size=8))
def test_latency_at_most_one_spike_and_monotone(T, th, a, d):
    enc = LatencyEncoder(time_steps=T, lo=0.0, hi=1.0, threshold=th)
    x = np.array(a)
    y = x + np.array(d[:len(a)])
    rx, ry = enc.encode(x, batched=False), enc.encode(y, batched=False)
    assert np.all(rx.sum(axis=0) <= 1)

    def first(r):
        return np.where(r.any(axis=0), r.argmax(axis=0), T)  # T = never
    assert np.all(first(ry) <= first(rx))
    assert np.all(enc.levels(x, batched=False) <= enc.levels(y, batched=False))


# ---------------------------------------------------------------- delta

def test_delta_hand_computed():
    enc = DeltaEncoder(threshold=1.0, time_steps=6)
    x = np.array([[0.0], [0.5], [1.2], [3.5], [3.5], [1.0]])
    out = enc.encode(x, batched=False)
    assert out.shape == (6, 2) and out.dtype == np.int8
    # reference 0; 1.2 -> ON (ref 1); 3.5 -> ON (ref 2), ON again (ref 3) while catching up;
    # 1.0 is 2 below the reference -> one OFF (ref 2)
    assert out.T.tolist() == [[0, 0, 1, 1, 1, 0],
                              [0, 0, 0, 0, 0, 1]]


def test_delta_channel_layout_on_then_off():
    enc = DeltaEncoder(threshold=0.5)
    x = np.array([[[0.0, 1.0], [0.5, 0.0], [0.5, 0.0]]])  # [B=1, T=3, c=2]
    out = enc.encode(x)
    assert out.shape == (1, 3, 4)
    # columns: on_0, on_1, off_0, off_1
    assert out[0].tolist() == [[0, 0, 0, 0],
                               [1, 0, 0, 1],
                               [0, 0, 0, 1]]


def test_delta_no_drift_with_repeated_steps():
    # with r += 0.1 in floats, 0.1 + 0.1 + 0.1 != 0.3 would lose spikes; the integer
    # reference counter compares (x[t] - x[0]) / 0.1 instead
    enc = DeltaEncoder(threshold=0.1)
    x = np.arange(11)[:, None] * 0.1
    assert enc.encode(x, batched=False)[:, 0].tolist() == [0] + [1] * 10


def delta_oracle(series, th):
    """Reference-level delta modulation in exact rationals, one step at a time."""
    th = Fraction(th)
    ref = [Fraction(v) for v in series[0]]
    c = len(ref)
    out = [[0] * (2 * c)]
    for row in series[1:]:
        spikes = [0] * (2 * c)
        for j, v in enumerate(row):
            v = Fraction(v)
            if v - ref[j] >= th:
                spikes[j], ref[j] = 1, ref[j] + th
            elif ref[j] - v >= th:
                spikes[c + j], ref[j] = 1, ref[j] - th
        out.append(spikes)
    return out


@FEW
@given(th=st.sampled_from([0.25, 0.5, 0.75, 1.0, 1.5, 3.0]),
       data=st.lists(st.lists(st.integers(-64, 64), min_size=2, max_size=2), min_size=1, max_size=20))
def test_delta_matches_exact_oracle(th, data):
    series = np.array(data, dtype=float) / 8  # multiples of 1/8: differences are exact
    out = DeltaEncoder(threshold=th).encode(series, batched=False)
    assert out.tolist() == delta_oracle(series.tolist(), th)


def test_delta_batch_equals_each_series():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 12, 2)).cumsum(axis=1)
    enc = DeltaEncoder(threshold=0.3)
    out = enc.encode(x)
    for b in range(3):
        assert np.array_equal(out[b], enc.encode(x[b], batched=False))


def test_delta_shape_errors():
    enc = DeltaEncoder(threshold=1.0, time_steps=4)
    with pytest.raises(InputError, match="batched=False"):
        enc.encode(np.zeros((4, 2)))
    with pytest.raises(InputError, match="3 time steps"):
        enc.encode(np.zeros((1, 3, 2)))
    with pytest.raises(InputError, match=r"\[T, c\]"):
        enc.encode(np.zeros((1, 4, 2)), batched=False)


# ---------------------------------------------------------------- purity, specs, errors

@pytest.mark.parametrize("enc, x", [
    (RateEncoder(6, 0, 1), np.linspace(-0.2, 1.2, 10)[None]),
    (LatencyEncoder(6, 0, 1, threshold=0.2), np.linspace(-0.2, 1.2, 10)[None]),
    (DeltaEncoder(0.2, time_steps=10), np.sin(np.linspace(0, 3, 10))[None, :, None]),
])
def test_encode_is_pure_and_does_not_touch_input(enc, x):
    before = x.copy()
    first, second = enc.encode(x), enc.encode(x)
    assert np.array_equal(first, second) and np.array_equal(x, before)
    assert first.dtype == np.int8 and set(np.unique(first)) <= {0, 1}


@pytest.mark.parametrize("enc", [
    RateEncoder(8, 0, 16), RateEncoder(3, -0.1, 0.30000000000000004),
    LatencyEncoder(10, -1e-3, 255), LatencyEncoder(5, 0, 1, threshold=0.1),
    DeltaEncoder(0.1), DeltaEncoder(2, time_steps=100),
])
def test_spec_round_trips_exactly_through_json(enc):
    spec = enc.to_spec()
    again = json.loads(json.dumps(spec))
    assert again == spec
    rebuilt = encoder_from_spec(again)
    assert rebuilt == enc and type(rebuilt) is type(enc) and rebuilt.to_spec() == spec


def test_int_and_float_parameters_are_the_same_encoder():
    assert RateEncoder(8, 0, 16) == RateEncoder(8, 0.0, 16.0)
    assert isinstance(RateEncoder(8, 0, 16).to_spec()["hi"], float)


@pytest.mark.parametrize("build, path", [
    (lambda: RateEncoder(0, 0, 1), "input.encoding.time_steps"),
    (lambda: RateEncoder(8.0, 0, 1), "input.encoding.time_steps"),
    (lambda: RateEncoder(True, 0, 1), "input.encoding.time_steps"),
    (lambda: RateEncoder(8, 1, 1), "input.encoding.hi"),
    (lambda: RateEncoder(8, float("nan"), 1), "input.encoding.lo"),
    (lambda: RateEncoder(8, "0", 1), "input.encoding.lo"),
    (lambda: RateEncoder(8, -1e308, 1e308), "input.encoding.hi"),
    (lambda: RateEncoder(8, 0, 2**60 + 1), "input.encoding.hi"),
    (lambda: LatencyEncoder(8, 0, 1, threshold=1.0), "input.encoding.threshold"),
    (lambda: LatencyEncoder(8, 0, 1, threshold=-0.1), "input.encoding.threshold"),
    (lambda: DeltaEncoder(0.0), "input.encoding.threshold"),
    (lambda: DeltaEncoder(float("inf")), "input.encoding.threshold"),
    (lambda: DeltaEncoder(1.0, time_steps=0), "input.encoding.time_steps"),
])
def test_bad_parameters_name_the_parameter(build, path):
    with pytest.raises(ModelError) as err:
        build()
    assert err.value.path == path


@pytest.mark.parametrize("spec, path", [
    ([1, 2], "input.encoding"),
    ({"time_steps": 8}, "input.encoding.type"),
    ({"type": "poisson", "time_steps": 8}, "input.encoding.type"),
    ({"type": "rate", "time_steps": 8, "lo": 0}, "input.encoding.hi"),
    ({"type": "rate", "time_steps": 8, "lo": 0, "hi": 1, "seed": 3}, "input.encoding.seed"),
    ({"type": "rate", "time_steps": 8, "lo": 0, "hi": 1, "threshold": 0.1}, "input.encoding.threshold"),
    ({"type": "latency", "time_steps": "8", "lo": 0, "hi": 1}, "input.encoding.time_steps"),
    ({"type": "delta"}, "input.encoding.threshold"),
])
def test_bad_specs_name_the_key(spec, path):
    with pytest.raises(ModelError) as err:
        encoder_from_spec(spec)
    assert err.value.path == path


def test_spec_optional_keys_take_defaults():
    assert encoder_from_spec({"type": "latency", "time_steps": 4, "lo": 0, "hi": 1}) == LatencyEncoder(4, 0, 1, 0.0)
    assert encoder_from_spec({"type": "delta", "threshold": 1}) == DeltaEncoder(1.0, None)


@pytest.mark.parametrize("x, match", [
    (np.array([[0.1, np.nan]]), "NaN"),
    (np.array([[0.1, np.inf]]), "NaN or infinity"),
    (np.array([["a", "b"]]), "dtype"),
    (np.array([[{}, 1]], dtype=object), "dtype"),
    (np.array(0.5), "batched=False"),
    (np.zeros((3, 0)), "no features"),
])
def test_bad_data_is_an_input_error(x, match):
    with pytest.raises(InputError, match=match):
        RateEncoder(4, 0, 1).encode(x)


def test_bad_levels_are_input_errors():
    with pytest.raises(InputError, match=r"\[0, 4\]"):
        RateEncoder(4, 0, 1).raster(np.array([[5]]))
    with pytest.raises(InputError, match=r"\[-1, 3\]"):
        LatencyEncoder(4, 0, 1).raster(np.array([[-2]]))
    with pytest.raises(InputError, match="integer"):
        RateEncoder(4, 0, 1).raster(np.array([[1.0]]))


def test_encoder_from_model_checks_time_steps():
    layer = Dense(weight=((1,),), bias=(0,), neuron=Neuron(size=1, threshold=1))
    def model(enc):
        return Model(time_steps=4, input=InputSpec(size=1, encoding=enc), layers=(layer,))
    assert encoder_from_model(model(None)) is None
    assert encoder_from_model(model(RateEncoder(4, 0, 1).to_spec())) == RateEncoder(4, 0, 1)
    with pytest.raises(ModelError) as err:
        encoder_from_model(model(LatencyEncoder(5, 0, 1).to_spec()))
    assert err.value.path == "input.encoding.time_steps"


def test_docs_examples_run():
    """Every ``>>>`` example in docs/encoders.md gives the output written there."""
    import doctest
    from pathlib import Path

    from verisnn.datasets import load_dataset

    text = (Path(__file__).parent.parent / "docs" / "encoders.md").read_text()
    text = "\n".join(line for line in text.splitlines() if not line.startswith("```"))
    globs = dict(np=np, RateEncoder=RateEncoder, LatencyEncoder=LatencyEncoder, DeltaEncoder=DeltaEncoder,
                 load_dataset=load_dataset)
    test = doctest.DocTestParser().get_doctest(text, globs, "encoders.md", "docs/encoders.md", 0)
    assert len(test.examples) >= 10
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
