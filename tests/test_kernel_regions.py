"""The kernel's regions and encoders (verisnn/kernel/regions.py, encoders.py) against brute force
over every raster of small shapes, against the engine (verisnn.properties, verisnn.encoders,
verisnn.intensity), and on the edge cases docs/properties.md and docs/encoders.md name."""

from __future__ import annotations

import itertools
import math
import time
from fractions import Fraction

import numpy as np
import pytest

from verisnn.encoders import DeltaEncoder, LatencyEncoder, RateEncoder
from verisnn.intensity import in_ball as engine_in_ball
from verisnn.intensity import intensity_region
from verisnn.kernel import encoders as kenc
from verisnn.kernel import regions as kreg
from verisnn.kernel.guard import KernelLimit, Limits
from verisnn.model import Dense, InputSpec, Model, Neuron
from verisnn.properties import Deletions, Flips, Insertions, Jitter, AnyInput, region_contains, region_size

# ---------------------------------------------------------------- brute force from the definitions


def all_rasters(T: int, n: int) -> np.ndarray:
    """Every [T, n] raster, [2^(T n), T, n] int8."""
    bits = (np.arange(2 ** (T * n))[:, None] >> np.arange(T * n)[None, :]) & 1
    return bits.astype(np.int8).reshape(-1, T, n)


def brute_jitter_moves(centre_col, col, d: int) -> int | None:
    """Fewest moved spikes over every bijection (all permutations): the definition, literally."""
    a, b = np.flatnonzero(centre_col).tolist(), np.flatnonzero(col).tolist()
    if len(a) != len(b):
        return None
    best = None
    for perm in itertools.permutations(b):
        if all(abs(s - t) <= d for s, t in zip(a, perm)):
            moved = sum(s != t for s, t in zip(a, perm))
            best = moved if best is None else min(best, moved)
    return best


def brute_members(region, c: np.ndarray, rasters: np.ndarray) -> np.ndarray:
    """bool [R]: which rasters lie in the region, straight from the table of docs/properties.md."""
    diff = (rasters != c).reshape(len(rasters), -1).sum(axis=1)
    if region == "any":
        return np.ones(len(rasters), dtype=bool)
    ((kind, arg),) = region.items()
    if kind == "flips":
        return diff <= arg
    if kind == "deletions":
        return (diff <= arg) & (rasters <= c).all(axis=(1, 2))
    if kind == "insertions":
        return (diff <= arg) & (rasters >= c).all(axis=(1, 2))
    memo: dict = {}
    out = []
    for r in rasters:
        total = 0
        for ch in range(c.shape[1]):
            key = (c[:, ch].tobytes(), r[:, ch].tobytes())
            if key not in memo:
                memo[key] = brute_jitter_moves(c[:, ch], r[:, ch], arg["shift"])
            if memo[key] is None:
                total = None
                break
            total += memo[key]
        out.append(total is not None and total <= arg["spikes"])
    return np.array(out, dtype=bool)


def engine_region(doc):
    if doc == "any":
        return AnyInput()
    ((kind, arg),) = doc.items()
    return {"flips": Flips, "deletions": Deletions, "insertions": Insertions}[kind](arg) if kind != "jitter" \
        else Jitter(shift=arg["shift"], spikes=arg["spikes"])


REGIONS = (["any"] + [{kind: k} for kind in ("flips", "deletions", "insertions") for k in range(4)]
           + [{"jitter": {"shift": d, "spikes": k}} for d in range(4) for k in range(4)])
SHAPES = [(1, 1), (2, 1), (1, 3), (4, 1), (2, 2), (3, 2), (2, 3), (8, 1), (4, 2), (2, 4), (1, 8)]


def centres_for(T: int, n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(T * 10 + n)
    return [np.ones((T, n), np.int8), rng.integers(0, 2, (T, n)).astype(np.int8),
            (rng.random((T, n)) < 0.6).astype(np.int8)]


@pytest.mark.parametrize("T, n", SHAPES)
def test_every_region_against_brute_force(T, n):
    rasters = all_rasters(T, n)
    for c in centres_for(T, n):
        for region in REGIONS:
            members = brute_members(region, c, rasters)
            where = f"{region} around {c.T.tolist()}"
            # contains, against the definition and the engine
            kernel_says = np.array([kreg.contains(region, c, r) for r in rasters])
            assert np.array_equal(kernel_says, members), where
            assert kreg.size(region, c) == int(members.sum()) == region_size(engine_region(region), c), where
            if "jitter" in region:  # the engine's assignment, on the rasters that keep the counts
                for r in rasters[(rasters.sum(axis=1) == c.sum(axis=0)).all(axis=1)]:
                    assert region_contains(engine_region(region), c, r) == kreg.contains(region, c, r), where
            # batches: every member once, the centre first, nothing else
            got = np.concatenate(list(kreg.batches(region, c, batch=5)))
            assert got.dtype == np.int8 and got.shape[1:] == (T, n)
            assert np.array_equal(got[0], c), where
            keys = [r.tobytes() for r in got]
            assert len(set(keys)) == len(keys), f"{where}: a raster came twice"
            assert set(keys) == {r.tobytes() for r in rasters[members]}, where
            # changeable: exactly the cells some member sets differently
            assert np.array_equal(kreg.changeable(region, c), (rasters[members] != c).any(axis=0)), where


def test_jitter_chains_need_every_move():
    """docs/properties.md: with d = 1, {0, 1} -> {1, 2} moves both spikes (0 -> 2 is too far)."""
    c = np.array([[1], [1], [0]], np.int8)
    r = np.array([[0], [1], [1]], np.int8)
    assert not kreg.contains({"jitter": {"shift": 1, "spikes": 1}}, c, r)
    assert kreg.contains({"jitter": {"shift": 1, "spikes": 2}}, c, r)
    assert kreg.contains({"jitter": {"shift": 2, "spikes": 1}}, c, r)  # now 0 -> 2 alone will do
    one = {"jitter": {"shift": 1, "spikes": 1}}
    assert kreg.size(one, c) == 2 and kreg.changeable(one, c)[:, 0].tolist() == [False, True, True]
    # spikes never merge, never leave the window, never change channel
    assert not kreg.contains({"jitter": {"shift": 5, "spikes": 5}}, c, np.array([[0], [1], [0]], np.int8))
    two = np.array([[1, 0], [0, 0], [0, 0]], np.int8)
    assert not kreg.contains({"jitter": {"shift": 2, "spikes": 2}}, two, np.array([[0, 1], [0, 0], [0, 0]], np.int8))
    assert kreg.size({"jitter": {"shift": 9, "spikes": 1}}, two) == 3  # steps 0, 1, 2 only
    # a long chain: four spikes each one step right costs four moves
    long_c = np.array([[1], [1], [1], [1], [0]], np.int8)
    long_r = np.array([[0], [1], [1], [1], [1]], np.int8)
    assert not kreg.contains({"jitter": {"shift": 1, "spikes": 3}}, long_c, long_r)
    assert kreg.contains({"jitter": {"shift": 1, "spikes": 4}}, long_c, long_r)


def test_larger_jitter_and_flips_match_the_engine():
    rng = np.random.default_rng(7)
    c = (rng.random((12, 4)) < 0.35).astype(np.int8)
    for region in ({"jitter": {"shift": 2, "spikes": 3}}, {"flips": 2}, {"deletions": 3}, {"insertions": 2}):
        got = np.concatenate(list(kreg.batches(region, c, batch=1000)))
        assert len(got) == kreg.size(region, c) == region_size(engine_region(region), c)
        assert len({r.tobytes() for r in got}) == len(got)
        for r in got[rng.choice(len(got), 150, replace=False)]:
            assert region_contains(engine_region(region), c, r) and kreg.contains(region, c, r)
    assert kreg.size({"flips": 3}, np.zeros((100, 40), np.int8)) == sum(math.comb(4000, j) for j in range(4))
    assert kreg.size("any", np.zeros((30, 20), np.int8)) == 2 ** 600


def test_bad_documents_are_refused():
    c = np.zeros((3, 2), np.int8)
    for bad in ({"intensity": 0.1}, {"flips": -1}, {"flips": True}, {"flips": 1.0}, {"flop": 1}, "all",
                {"flips": 1, "deletions": 1}, {"jitter": {"shift": 1}}, {"jitter": {"shift": 1, "spikes": -2}}, None):
        with pytest.raises(ValueError):
            kreg.size(bad, c)
    for bad_centre in (np.full((3, 2), 2), np.zeros(6), np.zeros((3, 2)) + 0.5):
        with pytest.raises(ValueError):
            kreg.contains({"flips": 1}, bad_centre, c)
    assert not kreg.contains({"flips": 99}, c, np.zeros((2, 3), np.int8))  # another shape: not a member


def test_limits_stop_the_work():
    c = np.zeros((20, 20), np.int8)
    with pytest.raises(KernelLimit):
        list(kreg.batches({"flips": 3}, c, Limits(deadline=time.perf_counter() - 1)))
    with pytest.raises(KernelLimit):
        kreg.size({"jitter": {"shift": 3, "spikes": 3}}, np.ones((20, 20), np.int8), Limits(time.perf_counter() - 1))
    with pytest.raises(KernelLimit):
        next(kreg.batches({"flips": 3}, c, Limits(budget=100)))


# ---------------------------------------------------------------- encoders

SPECS = [RateEncoder(8, 0, 16), RateEncoder(3, -0.1, 0.30000000000000004), RateEncoder(5, 0.0, 1.0),
         RateEncoder(100, 2.0 ** 53, 2.0 ** 53 + 64), RateEncoder(1, -1.0, 1.0),
         LatencyEncoder(10, -1e-3, 255), LatencyEncoder(5, 0, 1, threshold=0.1), LatencyEncoder(1, 0, 1),
         LatencyEncoder(6, 0.0, 1.0, threshold=0.6), LatencyEncoder(64, 2.0 ** 53, 2.0 ** 53 + 16)]


def analog_samples(enc, n: int, rng) -> list[np.ndarray]:
    """Uniform values, values outside the range, and the breakpoints of the levels with their
    float neighbours (where a wrong operation order would show)."""
    lo, hi, T = enc.lo, enc.hi, enc.time_steps
    span = hi - lo
    breaks = [lo + (i + 0.5) / T * span for i in range(T + 1)] + [lo + enc.__dict__.get("threshold", 0) * span]
    edges = [math.nextafter(b, s) for b in breaks for s in (-math.inf, math.inf)] + breaks
    pool = np.array(edges + [lo, hi, -1e308, 1e308, 0.0, -0.0])
    out = [rng.uniform(lo - span / 3, hi + span / 3, n) for _ in range(20)]
    out += [rng.choice(pool, n) for _ in range(60)]
    return out


@pytest.mark.parametrize("enc", SPECS, ids=repr)
def test_static_encoders_equal_the_engine(enc):
    rng = np.random.default_rng(1)
    n, spec = 7, enc.to_spec()
    for x in analog_samples(enc, n, rng):
        assert np.array_equal(kenc.encode(spec, x, enc.time_steps, n), enc.encode(x, batched=False)), x.tolist()


@pytest.mark.parametrize("enc", [DeltaEncoder(0.1), DeltaEncoder(2, time_steps=12), DeltaEncoder(0.3),
                                 DeltaEncoder(0.25), DeltaEncoder(1e-300)], ids=repr)
def test_delta_encoder_equals_the_engine(enc):
    rng = np.random.default_rng(2)
    T, F = 12, 3
    spec = enc.to_spec()
    for trial in range(40):
        if trial % 4 == 0:  # on the threshold's grid, where a drifting reference would go wrong
            x = np.round(rng.normal(0, 1, (T, F)) / enc.threshold) * enc.threshold
        elif trial % 4 == 1:
            x = rng.choice([-1e308, 1e308, 0.0, 0.1, 0.2, 0.30000000000000004], (T, F))
        else:
            x = np.cumsum(rng.normal(0, 3 * enc.threshold, (T, F)), axis=0)
        assert np.array_equal(kenc.encode(spec, x, T, 2 * F), enc.encode(x, batched=False)), x.tolist()
    assert kenc.encode(spec, np.zeros((T, F)), T, 2 * F).sum() == 0
    with pytest.raises(ValueError):
        kenc.encode(spec, np.zeros((F, T)), T, 2 * F)


def test_encoding_documents_are_checked():
    for bad in ({"type": "rate", "time_steps": 5, "lo": 1.0, "hi": 1.0}, {"type": "rate", "time_steps": 4, "lo": 0, "hi": 1},
                {"type": "rate", "time_steps": 5, "lo": 0.0}, {"type": "latency", "time_steps": 5, "lo": 0, "hi": 1,
                                                               "threshold": 1.0},
                {"type": "delta", "threshold": 0.0}, {"type": "delta", "threshold": 1.0, "time_steps": 4},
                {"type": "rate", "time_steps": True, "lo": 0, "hi": 1}, {"type": "poisson"}, None,
                {"type": "rate", "time_steps": 5, "lo": 0, "hi": 1, "seed": 3}):
        with pytest.raises(ValueError):
            kenc.encode(bad, np.zeros(2), 5, 2)
    with pytest.raises(ValueError):
        kenc.encode(RateEncoder(5).to_spec(), np.array([0.1, np.nan]), 5, 2)


def test_in_ball_is_exact():
    cases = [(0.30000000000000004, 0.1, 0.2), (0.3, 0.1, 0.2), (math.nextafter(0.1 - 0.2, 0), 0.1, 0.2),
             (0.1 - 0.2, 0.1, 0.2), (-1e308, 1e308, 1.7976931348623157e308), (2.0 ** 53 + 2, 2.0 ** 53, 1.0)]
    for x, c, eps in cases:
        exact = abs(Fraction(x) - Fraction(c)) <= Fraction(eps)
        assert kenc.in_ball([x], [c], eps) == exact == engine_in_ball([x], [c], eps), (x, c, eps)
    assert not kenc.in_ball([0.0, math.inf], [0.0, 0.0], 1.0)
    assert not kenc.in_ball([0.0], [0.0, 0.0], 1.0)
    with pytest.raises(ValueError):
        kenc.in_ball([0.0], [0.0], -1.0)


def test_ball_edges_are_the_extreme_floats_of_the_ball():
    big = 1.7976931348623157e308
    rng = np.random.default_rng(3)
    cases = [(0.1, 0.2), (0.3125, 4e-16), (big, big), (-big, big), (0.1, big), (5.0, 0.0), (2.0 ** 53 + 2, 1.0)]
    cases += [(float(c), float(e)) for c, e in zip(rng.normal(0, 10, 40), rng.exponential(1, 40) * 10.0 ** rng.integers(-17, 3, 40))]
    for c, eps in cases:
        low, high = kenc.ball_edges(c, Fraction(eps))
        lo_q, hi_q = Fraction(c) - Fraction(eps), Fraction(c) + Fraction(eps)
        assert Fraction(low) >= lo_q and (low == -big or Fraction(math.nextafter(low, -math.inf)) < lo_q), (c, eps)
        assert Fraction(high) <= hi_q and (high == big or Fraction(math.nextafter(high, math.inf)) > hi_q), (c, eps)


# ---------------------------------------------------------------- intensity: a superset of the engine's region

def model_for(encoder, n: int, T: int) -> Model:
    return Model(time_steps=T, input=InputSpec(n, encoding=encoder.to_spec()),
                 layers=(Dense([[1] * n, [0] * n], Neuron(2, "if", threshold=1)),))


INTENSITY_CASES = [
    (RateEncoder(8, 0.0, 1.0), [0.3125], 4e-16),
    (RateEncoder(100, 2.0 ** 53, 2.0 ** 53 + 64), [2.0 ** 53 + 32], 40.0),  # skipped levels
    (LatencyEncoder(5, 0.0, 1.0, threshold=0.25), [0.25], 1e-16),  # level 0 skipped
    (LatencyEncoder(64, 2.0 ** 53, 2.0 ** 53 + 16), [2.0 ** 53 + 2], 6.0),
    (RateEncoder(4, 1.0, 2.0), [1.0 + 2 ** -50], 2 ** -49),
    (RateEncoder(6, 0.0, 1.0), [0.25, 0.75, 1.0], 3e-16),
    (RateEncoder(6, 0.0, 1.0), [0.5, -3.0], 1e308),
    (LatencyEncoder(6, 0.0, 1.0, threshold=0.6), [0.5], 1e308),
    (RateEncoder(4, 0.0, 1.0), [11.0], 1.0), (RateEncoder(4, 0.0, 1.0), [-0.5], 0.7),
    (RateEncoder(5, 0.0, 1.0), [0.0, 0.3, 0.5, 0.7, 1.0], 0.05),
    (LatencyEncoder(6, 0.0, 1.0, threshold=0.1), [0.0, 0.1, 0.33, 0.99, 5.0], 0.0),
    (RateEncoder(3, -1.0, 1.0), [1.7976931348623157e308, -1.7976931348623157e308, 0.1], 1.7976931348623157e308),
    (LatencyEncoder(7, -2.0, 3.0, threshold=0.1), [0.1, -1.5, 2.9], 0.4),
]


@pytest.mark.parametrize("enc, centre, eps", INTENSITY_CASES)
def test_intensity_superset_holds_the_engine_region(enc, centre, eps):
    centre = np.array(centre)
    T, n, spec = enc.time_steps, len(centre), enc.to_spec()
    region = intensity_region(model_for(enc, n, T), centre, eps)
    ours = np.concatenate(list(kenc.intensity_batches(spec, centre, eps, T, n, batch=3)))
    keys = {r.tobytes() for r in ours}
    assert len(keys) == len(ours) == kenc.intensity_size_bound(spec, centre, eps, T, n) >= region.size
    assert np.array_equal(ours[0], region.centre_raster)
    assert {r.tobytes() for r in np.concatenate(list(region.iter_batches(50)))} <= keys
    # the superset is no looser than the ball's edges: its extreme levels are theirs
    lowest, highest = enc.levels(region.x_low, batched=False), enc.levels(region.x_high, batched=False)
    assert [(low, high) for _, low, high in kenc._level_ranges(kenc.read_encoding(spec, T), centre.tolist(),
                                                                Fraction(eps))] == list(zip(lowest, highest))


def test_intensity_for_delta_is_not_supported():
    spec = DeltaEncoder(0.5).to_spec()
    with pytest.raises(kenc.NotSupported):
        next(kenc.intensity_batches(spec, np.zeros((4, 1)), 0.1, 4, 2))
    with pytest.raises(kenc.NotSupported):
        kenc.intensity_size_bound(spec, np.zeros((4, 1)), 0.1, 4, 2)
