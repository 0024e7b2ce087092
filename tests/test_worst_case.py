"""Certified worst-case hardware costs and the hardware conditions, against brute force.

On random tiny models (every semantics option, from conftest) and random hardware profiles
(several cores, so the per-step maximum over cores matters; fixed ticks; inactive updates
dearer than active ones): the maximum of :func:`verisnn.hardware.cost` over every raster of
the region equals :func:`verisnn.worst_case.worst_case`'s certified value; the verdicts of
``latency_us_at_most`` / ``energy_uj_at_most`` agree with brute force for every method that
decides them; the encoding's event terms evaluated at an input equal ``cost()`` exactly
(integer fJ / ps, per step and per core). Also: timeouts never certify, bad properties and
arguments give clear errors, and the engines without an encoding refuse the conditions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import lively_models, models, rasters, reference_decision, region_members
from verisnn import simulate
from verisnn.bounds import bounds_verify
from verisnn.encodings.cpsat import cpsat_verify
from verisnn.encodings.smt import smt_verify
from verisnn.errors import VerisnnError
from verisnn.hardware import HardwareProfile, cost, load_profile, place
from verisnn.model import Dense, InputSpec, Model, Neuron, Readout
from verisnn.properties import (AnyInput, Deletions, EnergyAtMost, Flips, Insertions, Jitter, LatencyAtMost, Property,
                                PropertyError, check_against_model, parse_property, region_contains)
from verisnn.verify import verify, violations
from verisnn.worst_case import QUANTITIES, evaluate_terms, replay, worst_case

REGIONS = [Flips(1), Flips(2), Deletions(2), Insertions(1), AnyInput()]


# ---------------------------------------------------------------- strategies


def _figure(lo: int = 0, hi: int = 200_000):
    """A figure with at most 3 decimals (an int, or a float such as 23.6)."""
    return st.integers(lo, hi).map(lambda milli: milli // 1000 if milli % 1000 == 0 else milli / 1000)


@st.composite
def profiles(draw) -> HardwareProfile:
    """Built-in profiles, or a random one: few neurons per core (several cores per layer, so
    the busiest core changes from step to step), either per-event times with a barrier or a
    fixed tick, and any order of the active / inactive figures."""
    if draw(st.booleans()):
        return load_profile(draw(st.sampled_from(("loihi", "truenorth", "spinnaker2"))))
    energy = {k: draw(_figure()) for k in ("synop", "neuron_active", "neuron_inactive", "spike")}
    times = {k: draw(_figure(0, 20_000)) for k in ("synop", "neuron_active", "neuron_inactive")}
    timing = {}
    if draw(st.integers(0, 4)) == 0:
        timing["step_ns"] = draw(_figure(1, 10**6))
        if draw(st.booleans()):
            timing["time_ns"] = times
    else:
        points = sorted(draw(st.sets(st.integers(1, 8), min_size=1, max_size=3)))
        timing.update(time_ns=times, sync_ns=[[c, draw(_figure(0, 500_000))] for c in points])
    return HardwareProfile(name="random", source="test", figures="user", energy_pj=energy,
                           neurons_per_core=draw(st.integers(1, 3)), cores_per_chip=64, **timing)


def small_models() -> st.SearchStrategy:
    """Lively two-layer models small enough to enumerate every raster."""
    return lively_models(max_bits=9, drawn_readout=False)


def tiny_models():
    """conftest's models (conv layers, every readout) small enough to enumerate, or ours."""
    return models(max_layers=2, max_time_steps=4).filter(lambda m: m.time_steps * m.input.size <= 8) | small_models()


def _fits(model: Model, profile: HardwareProfile) -> bool:
    try:
        place(model, profile)
        return True
    except VerisnnError:
        return False


def _exact(report, quantity: str) -> np.ndarray:
    return {"latency_us": report.latency_ps, "energy_uj": report.energy_fj,
            "synops": report.layer_synops.sum(axis=1), "spikes": report.layer_spikes.sum(axis=1)}[quantity]


def _brute(model, centre, region, quantity, profile) -> tuple[int, np.ndarray]:
    """Every raster of the region (conftest's independent enumeration) priced by cost()."""
    members = region_members(region, centre)
    values = [int(v) for v in _exact(cost(model, members, profile), quantity)]
    return max(values), members


# ---------------------------------------------------------------- the cross-check


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_event_terms_at_an_input_equal_cost_exactly(data):
    model = data.draw(models(max_layers=3, max_time_steps=5) | small_models())
    profile = data.draw(profiles().filter(lambda p: _fits(model, p)))
    raster = data.draw(rasters(model))
    centre = data.draw(st.none() | rasters(model))  # both polarities of the input literals
    got = evaluate_terms(model, raster, profile, centre=centre)
    report = cost(model, raster, profile)
    assert got["energy_fj"] == int(report.energy_fj[0])
    assert got["latency_ps"] == int(report.latency_ps[0])
    assert got["step_ps"] == [int(v) for v in report.step_ps[0]]  # per step: max over cores + sync (or the tick)
    assert got["cores"] == list(report.cores)
    assert got["core_synops"] == report.core_synops[0].tolist()
    assert got["core_active"] == report.core_active[0].tolist()
    if report.core_busy_ps is None:
        assert got["core_busy_ps"] is None
    else:
        assert got["core_busy_ps"] == [int(v) for v in report.core_busy_ps[0]]
    assert got["layer_synops"] == report.layer_synops[0].tolist()
    assert got["layer_active"] == report.layer_active[0].tolist()
    assert got["layer_spikes"] == report.layer_spikes[0].tolist()
    run = simulate(model, raster)
    assert got["synops"] == int(run.synops[0]) == int(report.layer_synops[0].sum())
    assert got["spikes"] == int(run.total_spikes[0])


def test_event_terms_on_a_multi_core_recurrent_model_by_hand():
    """One input worked out by hand: two cores for the hidden layer, recurrence, a delay."""
    hidden = Dense(weight=[[1, 0], [1, 1], [0, 1]], neuron=Neuron(size=3, model="if", threshold=1))
    out = Dense(weight=[[1, 1, 1]], neuron=Neuron(size=1, model="if", threshold=2), delay=1, recurrent=[[1]])
    model = Model(time_steps=3, input=InputSpec(2), layers=(hidden, out), readout=Readout("spike_count"))
    profile = HardwareProfile(name="hand", source="test", figures="user",
                              energy_pj={"synop": 1, "neuron_active": 10, "neuron_inactive": 100, "spike": 1000},
                              time_ns={"synop": 1, "neuron_active": 2, "neuron_inactive": 3},
                              sync_ns=[[1, 0], [3, 20]], neurons_per_core=2, cores_per_chip=8)
    raster = np.array([[1, 0], [0, 1], [0, 0]])
    # hidden spikes: t0 [1,1,0], t1 [0,1,1], t2 [0,0,0]; output (delay 1): t1 gets 2 -> spike, t2 gets 2+1 -> spike
    report = cost(model, raster, profile)
    assert report.cores == (0, 1, 2)
    # step 0: core0 (h0,h1) 2 synops 2 active = 2+4; core1 (h2) 1 inactive = 3; core2 (out) inactive = 3
    # step 1: core0 1 synop (h1) 1 active 1 inactive = 1+2+3; core1 1 synop active = 1+2; core2 2 synops active = 2+2
    # step 2: core0 2 inactive = 6; core1 inactive = 3; core2: 2 (h1,h2 at t1) + 1 recurrent = 3 synops active = 5
    sync = 20_000  # 3 cores in use
    assert [int(v) for v in report.step_ps[0]] == [6000 + sync, 6000 + sync, 6000 + sync]
    got = evaluate_terms(model, raster, profile)
    assert got["step_ps"] == [26000, 26000, 26000] and got["latency_ps"] == 78000
    assert got["synops"] == 2 + 1 + 1 + 2 + 3 == 9
    assert got["energy_fj"] == int(report.energy_fj[0])


# ---------------------------------------------------------------- worst case against brute force


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_worst_case_is_the_brute_force_maximum(data):
    model = data.draw(tiny_models())
    profile = data.draw(profiles().filter(lambda p: _fits(model, p)))
    centre = data.draw(rasters(model))
    region = data.draw(st.sampled_from(REGIONS))
    quantity = data.draw(st.sampled_from(QUANTITIES))
    best, _ = _brute(model, centre, region, quantity, profile)
    for method in ("cpsat", "enumerate"):
        result = worst_case(model, centre, region, quantity, profile, method=method,
                            greedy=data.draw(st.booleans()))
        assert result.status == "optimal", result.reason
        assert result.exact_value == result.exact_bound == best, (method, result.details)
        assert region_contains(region, centre, result.witness)
        assert replay(model, result.witness, quantity, profile) == best
        scale = {"latency_us": 10**6, "energy_uj": 10**9}.get(quantity, 1)
        assert result.value == (best / scale if scale > 1 else best)


@pytest.mark.parametrize("active,inactive", [(81, 52), (52, 81)])
@pytest.mark.parametrize("quantity", ["energy_uj", "latency_us"])
def test_an_update_is_active_exactly_when_a_spike_arrives(active, inactive, quantity):
    """A budget of one flip leaves most neurons with several possible arrivals and none
    arriving: the maximum depends on "active iff some arrival" in both directions (whichever
    of the two updates is dearer)."""
    model = Model(time_steps=3, input=InputSpec(3), layers=(
        Dense(weight=[[1, 1, 0], [0, 1, 1], [1, 0, 1]], neuron=Neuron(size=3, model="if", threshold=5)),
        Dense(weight=[[1, 1, 1]], neuron=Neuron(size=1, model="if", threshold=1), delay=1)),
        readout=Readout("spike_count"))
    profile = HardwareProfile(name="p", source="test", figures="user",
                              energy_pj={"synop": 1, "neuron_active": active, "neuron_inactive": inactive, "spike": 3},
                              time_ns={"synop": 1, "neuron_active": active, "neuron_inactive": inactive},
                              sync_ns=[[1, 10]], neurons_per_core=2, cores_per_chip=4)
    for centre in (np.zeros((3, 3), dtype=np.int8), np.eye(3, dtype=np.int8)):
        for region in (Flips(1), Deletions(1), Insertions(2)):
            best, _ = _brute(model, centre, region, quantity, profile)
            result = worst_case(model, centre, region, quantity, profile, method="cpsat", greedy=False)
            assert (result.status, result.exact_value) == ("optimal", best)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_hardware_verdicts_agree_with_brute_force(data):
    model = data.draw(tiny_models())
    profile = data.draw(profiles().filter(lambda p: _fits(model, p)))
    centre = data.draw(rasters(model))
    region = data.draw(st.sampled_from(REGIONS))
    quantity = data.draw(st.sampled_from(("latency_us", "energy_uj")))
    best, members = _brute(model, centre, region, quantity, profile)
    values = [int(v) for v in _exact(cost(model, members, profile), quantity)]
    # a limit at the maximum (holds), just below it (falsified), or at a random value of the region
    limit = data.draw(st.sampled_from((best, best - 1, data.draw(st.sampled_from(values)))))
    limit = max(limit, 0)
    scale = 10**6 if quantity == "latency_us" else 10**9
    number = limit // scale if limit % scale == 0 else float(f"{limit / scale:.12g}")
    cond = LatencyAtMost(number, profile=_path_of(profile, data)) if quantity == "latency_us" else \
        EnergyAtMost(number, profile=_path_of(profile, data))
    assert (cond.limit_ps() if quantity == "latency_us" else cond.limit_fj()) == limit
    prop = Property(region, cond)
    truth = "falsified" if max(values) > limit else "verified"
    reference = reference_decision(model, centre)
    assert violations(model, prop, members, reference).tolist() == [v > limit for v in values]
    for method, options in (("cpsat", {}), ("enumerate", {}), ("bab", {}), ("auto", {}),
                            ("auto", {"max_region": 0})):  # the last: past enumeration, to CP-SAT
        result = verify(model, centre, prop, method=method, **options)
        assert result.verdict == truth, (method, result.reason, result.details)
        if options:
            assert result.details["stage"] in ("centre", "greedy", "random", "cpsat")
        if truth == "falsified":
            assert result.details["replayed"] is True
            assert int(_exact(cost(model, result.witness, profile), quantity)[0]) > limit
        else:
            assert result.evidence["hardware_profile"] == profile.to_dict()


_PROFILE_FILES: dict[str, str] = {}


def _path_of(profile: HardwareProfile, data) -> str:
    """The name of a built-in profile, or a YAML file holding a random one."""
    if profile.name != "random":
        return profile.name
    import tempfile

    import yaml

    text = yaml.safe_dump(profile.to_dict())
    if text not in _PROFILE_FILES:
        f = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
        f.write(text)
        f.close()
        _PROFILE_FILES[text] = f.name
    return _PROFILE_FILES[text]


def test_the_limit_is_the_decimal_written():
    assert LatencyAtMost(1.1).limit_ps() == 1_100_000
    assert LatencyAtMost(0.0000015).limit_ps() == 1  # 1.5 ps: a latency of 2 ps exceeds it, 1 ps does not
    assert EnergyAtMost(0.3).limit_fj() == 300_000_000
    assert EnergyAtMost(2).limit_fj() == 2 * 10**9
    assert EnergyAtMost(1e-10).limit_fj() == 0
    assert LatencyAtMost(3).profile == EnergyAtMost(3).profile == "loihi"


# ---------------------------------------------------------------- time limits


def _medium_model() -> Model:
    rng = np.random.default_rng(5)
    hidden = Dense(weight=rng.integers(-3, 6, (24, 16)), neuron=Neuron(size=24, model="lif", threshold=6,
                                                                         v_decay=[7, 3]))
    out = Dense(weight=rng.integers(-3, 6, (4, 24)), neuron=Neuron(size=4, threshold=5))
    return Model(time_steps=8, input=InputSpec(16), layers=(hidden, out), readout=Readout("spike_count"))


def test_timeouts_never_certify():
    model = _medium_model()
    centre = np.random.default_rng(1).integers(0, 2, (8, 16))
    start = cost(model, centre, "loihi")
    for timeout in (0, 0.001):
        for quantity in QUANTITIES:
            result = worst_case(model, centre, Flips(20), quantity, "loihi", timeout=timeout, method="cpsat")
            assert result.status in ("feasible", "unknown"), result.status
            assert result.reason and "timeout" in result.reason
            assert replay(model, result.witness, quantity, "loihi") == result.exact_value  # still a true lower bound
            if result.status == "unknown":
                assert result.exact_value == replay(model, centre, quantity, "loihi")
        result = worst_case(model, centre, Flips(20), "energy_uj", "loihi", timeout=timeout, method="enumerate",
                            max_region=10**30)
        assert result.status in ("feasible", "unknown") and result.exact_bound is None
    # a limit far above the centre and every nearby input: only a proof could say verified, and it has no time
    limit = int(start.energy_fj[0]) * 3 / 10**9
    prop = Property(Flips(20), EnergyAtMost(limit))
    for method, timeout in (("cpsat", 0), ("cpsat", 0.001), ("auto", 0.001), ("enumerate", 0.001)):
        result = verify(model, centre, prop, method=method, timeout=timeout)
        assert result.verdict == "unknown", (method, result.verdict, result.reason)
    assert cpsat_verify(model, centre, prop, timeout=0).verdict == "unknown"


def test_feasible_reports_an_honest_gap():
    """Stopped early, the answer keeps lower bound <= upper bound and both hold (brute force)."""
    model = Model(time_steps=3, input=InputSpec(3), layers=(
        Dense(weight=[[2, 3, 1], [3, 1, 2], [1, 1, 4], [2, 2, 2]], neuron=Neuron(size=4, model="if", threshold=3)),
        Dense(weight=[[1, 1, 1, 1], [2, -1, 1, 0]], neuron=Neuron(size=2, threshold=2))),
        readout=Readout("spike_count"))
    centre = np.zeros((3, 3), dtype=np.int8)
    best, _ = _brute(model, centre, AnyInput(), "latency_us", "loihi")
    result = worst_case(model, centre, AnyInput(), "latency_us", "loihi", method="cpsat",
                        parameters={"max_number_of_conflicts": 0, "cp_model_presolve": False})
    assert result.exact_value <= best <= result.exact_bound
    if result.status == "optimal":
        assert result.exact_value == best


# ---------------------------------------------------------------- errors and refusals


@pytest.mark.parametrize("doc,path,word", [
    ({"condition": {"latency_us_at_most": -1}}, "condition.latency_us_at_most", "non-negative"),
    ({"condition": {"latency_us_at_most": "fast"}}, "condition.latency_us_at_most", "'fast'"),
    ({"condition": {"energy_uj_at_most": {"uj": 1, "profil": "loihi"}}}, "condition.energy_uj_at_most", "profil"),
    ({"condition": {"energy_uj_at_most": {"profile": "loihi"}}}, "condition.energy_uj_at_most", "uj"),
    ({"condition": {"energy_uj_at_most": {"uj": 1, "profile": 3}}}, "condition.energy_uj_at_most.profile", "3"),
    ({"condition": {"energy_uj_at_most": {"uj": True}}}, "condition.energy_uj_at_most.uj", "True"),
    ({"condition": {"energy_uj_at_most": float("inf")}}, "condition.energy_uj_at_most.uj", "inf"),
    ({"region": "any", "condition": {"latency_us_at_most": 3}, "horizon": "unbounded"}, "horizon", "safety"),
])
def test_bad_hardware_conditions_name_the_key(doc, path, word):
    with pytest.raises(PropertyError) as info:
        parse_property(doc)
    assert info.value.path == path
    assert word in info.value.message


def test_hardware_conditions_parse_and_round_trip():
    assert parse_property({"condition": {"latency_us_at_most": 2.5}}).condition == LatencyAtMost(2.5, "loihi")
    prop = parse_property({"region": {"flips": 1},
                           "condition": {"energy_uj_at_most": {"uj": 1, "profile": "truenorth"}}})
    assert prop == Property(Flips(1), EnergyAtMost(1, "truenorth"))
    assert parse_property(prop.to_dict()) == prop
    assert prop.to_dict()["condition"] == {"energy_uj_at_most": {"uj": 1, "profile": "truenorth"}}


def _tiny() -> Model:
    return Model(time_steps=2, input=InputSpec(2), layers=(
        Dense(weight=[[1, 2], [2, 1], [1, 1]], neuron=Neuron(size=3, model="if", threshold=2)),),
        readout=Readout("spike_count"))


def test_profiles_that_do_not_fit_are_errors(tmp_path):
    model, centre = _tiny(), np.zeros((2, 2), dtype=np.int8)
    prop = Property(Flips(1), EnergyAtMost(1, "nonesuch"))
    with pytest.raises(PropertyError) as info:
        check_against_model(prop, model)
    assert info.value.path == "condition.energy_uj_at_most.profile" and "nonesuch" in info.value.message
    small = load_profile("loihi").to_dict()
    small.update(name="small", neurons_per_core=1, cores_per_chip=2)
    path = tmp_path / "small.yaml"
    import yaml

    path.write_text(yaml.safe_dump(small))
    prop = Property(Flips(1), LatencyAtMost(1, str(path)))
    with pytest.raises(PropertyError) as info:
        check_against_model(prop, model)
    assert info.value.path == "condition.latency_us_at_most.profile" and "cores_per_chip" in info.value.message
    for method in ("auto", "cpsat", "enumerate", "bab", "smt", "bounds"):
        result = verify(model, centre, prop, method=method)
        assert result.verdict == "error" and "cores_per_chip" in result.reason, method


def test_engines_without_an_encoding_refuse():
    model, centre = _tiny(), np.array([[1, 0], [0, 1]])
    for cond in (LatencyAtMost(100), EnergyAtMost(100)):
        prop = Property(Flips(1), cond)
        for method in ("smt", "bounds"):
            result = verify(model, centre, prop, method=method)
            assert result.verdict == "error" and "does not decide" in result.reason
        result = smt_verify(model, centre, prop)
        assert result.verdict == "error" and "does not decide" in result.reason
        with pytest.raises(VerisnnError):
            bounds_verify(model, centre, prop, None)
        # jitter: no CP-SAT encoding (unknown), decided by enumeration
        jitter = Property(Jitter(1, 1), cond)
        assert cpsat_verify(model, centre, jitter).verdict == "unknown"
        assert verify(model, centre, jitter, method="enumerate").verdict == "verified"
        assert verify(model, centre, jitter, method="auto").verdict == "verified"


def test_bad_worst_case_arguments_are_errors():
    model, centre = _tiny(), np.zeros((2, 2), dtype=np.int8)
    cases = [
        dict(quantity="power"), dict(region=Jitter(1, 1)), dict(region={"flips": -1}), dict(profile=None),
        dict(profile="nonesuch"), dict(timeout=-1), dict(method="magic"), dict(workers=0),
        dict(placement=[[0, 0, 5000]]),
    ]
    for case in cases:
        args = dict(region=Flips(1), quantity="energy_uj", profile="loihi") | case
        with pytest.raises(VerisnnError):
            worst_case(model, centre, args.pop("region"), args.pop("quantity"), args.pop("profile"), **args)
    with pytest.raises(VerisnnError):
        worst_case(model, np.zeros((3, 2), dtype=np.int8), Flips(1), "spikes")
    # counts need no profile; the file form of a region is accepted
    assert worst_case(model, centre, {"flips": 1}, "spikes").status == "optimal"
    assert worst_case(model, centre, "any", "synops", method="cpsat").exact_value == 4 * 3


def test_a_placement_override_changes_latency_not_energy():
    model, centre = _tiny(), np.zeros((2, 2), dtype=np.int8)
    one = worst_case(model, centre, AnyInput(), "latency_us", "loihi", method="cpsat")
    spread = worst_case(model, centre, AnyInput(), "latency_us", "loihi", method="cpsat", placement=[[0, 1, 2]])
    assert one.status == spread.status == "optimal"
    assert spread.exact_value == max(int(cost(model, r, "loihi", place(model, "loihi", [[0, 1, 2]])).latency_ps[0])
                                     for r in region_members(AnyInput(), centre))
    assert spread.exact_value != one.exact_value  # three cores: each step is one neuron's work plus a longer barrier
    energy = [worst_case(model, centre, AnyInput(), "energy_uj", "loihi", method="cpsat", placement=p).exact_value
              for p in (None, [[0, 1, 2]])]
    assert energy[0] == energy[1]
