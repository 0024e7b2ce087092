"""The hardware cost model: profiles, placement, event counts and costs, the `cost` command.

The events of a 2-layer model with a delay and recurrence are worked out by hand below
(`HAND_*`); random models (conftest's ``models()``) check that the event counts equal the
simulator's (``synops``, ``total_spikes``) and that the vectorised costs equal a plain
loop over the definitions of docs/hardware.md, for random placements and batches.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from conftest import models, rasters, region_members
from hypothesis import given, settings
from hypothesis import strategies as st

from verisnn import cli
from verisnn.errors import InputError
from verisnn.hardware import (HardwareProfile, Placement, cost, decision_latency, list_profiles,
                              load_profile, place, profile_from_dict)
from verisnn.model import Dense, InputSpec, Model, Neuron
from verisnn.model_format import save_model
from verisnn.simulator import simulate

# ----------------------------------------------------------------------------- the hand-computed case
#
# input (T=4, n=2): t0 [1,0]  t1 [0,1]  t2 [1,1]  t3 [0,0]
# layer 0: W=[[1,0],[1,1],[0,2]], delay 1, IF threshold 2 (>=), reset subtract.
#   arrivals (the input one step later): t1 [1,0], t2 [0,1], t3 [1,1]
#   synops per neuron: t0 [0,0,0]  t1 [1,1,0]  t2 [0,1,1]  t3 [1,2,1]  -> 8; active 0+2+2+3 = 7 of 12
#   a: n0 0,1,0,1 -> fires t3;  n1 0,1,1,2 -> fires t2, t3;  n2 0,0,2,2 -> fires t2, t3
#   spikes: t2 [0,1,1]  t3 [1,1,1]  -> 5
# layer 1: W=[[1,1,0],[0,0,1]], R=[[0,1],[0,0]] (neuron 1 -> neuron 0 one step later), IF threshold 1.
#   feed-forward synops: t2 [1,1]  t3 [2,1]; recurrent: neuron 1 fires at t2 -> 1 synop into n0 at t3
#   a0: 0,0,1,3 -> fires t2, t3;  a1: 0,0,1,1 -> fires t2, t3  -> 4 spikes
#   synops per neuron: t2 [1,1]  t3 [3,1] -> 6; active 0+0+2+2 = 4 of 8
# totals: synops 14 (the simulator: input 2+2+4, layer 0's 5 spikes one synapse each, 1 recurrent),
#   spikes 9, active 11, inactive 9.
# Profile HAND: 2 neurons per core -> layer 0 on cores 0 (n0, n1) and 1 (n2), layer 1 on core 2.
#   per core and step (synops/active): core 0: 0/0 2/2 1/1 3/2;  core 1: 0/0 0/0 1/1 1/1;  core 2: 0/0 0/0 2/2 4/2
#   time: synop 1.5 ns, active 4, inactive 2 -> busy (ns)
#     core 0: 4, 11, 7.5, 12.5 (=35);  core 1: 2, 2, 5.5, 5.5 (=15);  core 2: 4, 4, 11, 14 (=33)
#   sync for 3 cores on [[1, 10], [5, 30]]: 10 + 20 * 2/4 = 20 ns -> steps 24, 31, 31, 34 -> 120 ns
#   energy: synop 0.5 pJ, active 10, inactive 1, spike 100
#     layer 0: 8*0.5 + 7*10 + 5*1 + 5*100 = 579 pJ; layer 1: 6*0.5 + 4*10 + 4*1 + 4*100 = 447 pJ; total 1026 pJ

HAND_RASTER = np.array([[1, 0], [0, 1], [1, 1], [0, 0]], dtype=np.int8)
HAND_PROFILE = {
    "name": "hand", "source": "worked out by hand in tests/test_hardware.py", "figures": "user",
    "energy_pj": {"synop": 0.5, "neuron_active": 10, "neuron_inactive": 1, "spike": 100},
    "time_ns": {"synop": 1.5, "neuron_active": 4, "neuron_inactive": 2},
    "sync_ns": [[1, 10], [5, 30]], "neurons_per_core": 2, "cores_per_chip": 8,
}


def hand_model() -> Model:
    hidden = Dense(weight=[[1, 0], [1, 1], [0, 2]], delay=1, neuron=Neuron(size=3, model="if", threshold=2))
    out = Dense(weight=[[1, 1, 0], [0, 0, 1]], recurrent=[[0, 1], [0, 0]],
                neuron=Neuron(size=2, model="if", threshold=1))
    return Model(time_steps=4, input=InputSpec(size=2), layers=(hidden, out), name="hand")


def test_hand_computed_events_and_costs():
    model, profile = hand_model(), profile_from_dict(HAND_PROFILE)
    sim = simulate(model, HAND_RASTER)
    assert sim.layer_outputs[0][0].tolist() == [[0, 0, 0], [0, 0, 0], [0, 1, 1], [1, 1, 1]]
    assert sim.layer_outputs[1][0].tolist() == [[0, 0], [0, 0], [1, 1], [1, 1]]
    report = cost(model, HAND_RASTER, profile)
    assert not report.batched
    assert report.layer_synops.tolist() == [[8, 6]] and report.synops == 14 == int(sim.synops[0])
    assert report.layer_spikes.tolist() == [[5, 4]] and report.spikes == 9 == int(sim.total_spikes[0])
    assert report.layer_active.tolist() == [[7, 4]] and report.layer_inactive.tolist() == [[5, 4]]
    assert report.cores == (0, 1, 2) and report.core_neurons == (2, 1, 2)
    assert report.core_layers == ((0,), (0,), (1,))
    assert report.core_synops.tolist() == [[6, 2, 6]]
    assert report.core_active.tolist() == [[5, 2, 4]] and report.core_inactive.tolist() == [[3, 2, 4]]
    assert report.core_busy_ps.tolist() == [[35_000, 15_000, 33_000]]
    assert profile.sync_ps(3) == 20_000
    assert report.step_ps.tolist() == [[24_000, 31_000, 31_000, 34_000]]
    assert int(report.latency_ps[0]) == 120_000 and report.latency_us == 0.12
    assert report.layer_energy_fj.tolist() == [[579_000, 447_000]]
    assert int(report.energy_fj[0]) == 1_026_000 and report.energy_uj == 0.001026
    assert decision_latency(model, HAND_RASTER, profile, 2) == 0.055
    assert decision_latency(model, HAND_RASTER, profile, 4) == 0.12

    answer = report.to_json()
    assert list(answer) == ["steps", "latency_us", "energy_uj", "spikes", "synops", "profile", "per_layer", "per_core"]
    assert answer["per_layer"][1] == {"layer": 1, "spikes": 4, "synops": 6, "active_updates": 4,
                                      "inactive_updates": 4, "energy_uj": 0.000447}
    assert answer["per_core"][0] == {"core": 0, "layer": 0, "neurons": 2, "synops": 6, "active_updates": 5,
                                     "inactive_updates": 3, "busy_us": 0.035}


def test_hand_case_with_a_fixed_step_and_a_shared_core():
    # step_ns replaces per-event times and sync; everything on core 5 (5 neurons, capacity 8).
    doc = dict(HAND_PROFILE, neurons_per_core=8, step_ns=1000.25)
    del doc["sync_ns"]
    model = hand_model()
    report = cost(model, HAND_RASTER, profile_from_dict(doc), place(model, profile_from_dict(doc), [5, 5]))
    assert report.cores == (5,) and report.core_layers == ((0, 1),) and report.core_neurons == (5,)
    assert report.step_ps.tolist() == [[1_000_250] * 4] and report.latency_us == 4.001
    # all five neurons on one core: busy = 14 synops*1.5 + 11 active*4 + 9 inactive*2 = 83 ns
    assert report.core_busy_ps.tolist() == [[83_000]]
    assert report.to_json()["per_core"][0]["layer"] == [0, 1]


def test_batched_reports_are_per_input():
    model, profile = hand_model(), profile_from_dict(HAND_PROFILE)
    batch = np.stack([HAND_RASTER, np.zeros_like(HAND_RASTER), HAND_RASTER[::-1]])
    report = cost(model, batch, profile)
    assert report.batched and len(report) == 3
    for b in range(3):
        single = cost(model, batch[b], profile)
        assert report[b].to_json() == single.to_json() == report[b - 3].to_json()
    # silent input: no synops, every update inactive, 5 neurons x 4 steps x 1 pJ
    assert report.synops[1] == 0 and int(report.energy_fj[1]) == 20_000 and report.energy_uj[1] == 2e-05
    answer = report.to_json()
    assert answer["profile"] == "hand" and answer["steps"] == 4
    assert answer["synops"] == [14, 0, report.synops[2]] and len(answer["per_core"]) == 3
    assert decision_latency(model, batch, profile, 2)[0] == 0.055
    empty = cost(model, np.zeros((0, 4, 2), dtype=np.int8), profile)
    assert len(empty) == 0 and empty.to_json()["latency_us"] == []


# ----------------------------------------------------------------------------- random models: one definition


def reference_costs(model: Model, raster: np.ndarray, profile: HardwareProfile, placement: Placement) -> dict:
    """The definitions of docs/hardware.md as plain loops over steps, neurons and synapses."""
    sim = simulate(model, raster)
    T = model.time_steps
    core_of = {}
    for k, cores in enumerate(placement.cores):
        for j, c in enumerate(cores):
            core_of[(k, j)] = int(c)
    in_use = sorted(set(core_of.values()))
    syn = {}  # (k, j, t) -> synops
    x = raster
    for k, layer in enumerate(model.layers):
        W, R, d = layer.dense_weight(), layer.recurrent, layer.delay
        out = sim.layer_outputs[k][0]
        for t in range(T):
            for j in range(layer.out_size):
                n = 0
                if t >= d:
                    n += sum(1 for i in range(layer.in_size) if W[j, i] != 0 and x[t - d][i] == 1)
                if R is not None and t >= 1:
                    n += sum(1 for i in range(layer.out_size) if R[j, i] != 0 and out[t - 1][i] == 1)
                syn[(k, j, t)] = n
        x = out
    e, tp = profile.energy_fj, profile.time_ps
    synops = sum(syn.values())
    active = sum(1 for v in syn.values() if v > 0)
    inactive = len(syn) - active
    spikes = sum(int(sim.layer_outputs[k].sum()) for k, layer in enumerate(model.layers) if layer.neuron.fires)
    energy = synops * e["synop"] + active * e["neuron_active"] + inactive * e["neuron_inactive"] + spikes * e["spike"]
    steps = []
    for t in range(T):
        if profile.step_ps is not None:
            steps.append(profile.step_ps)
            continue
        busy = dict.fromkeys(in_use, 0)
        for (k, j, tt), v in syn.items():
            if tt == t:
                busy[core_of[(k, j)]] += v * tp["synop"] + (tp["neuron_active"] if v else tp["neuron_inactive"])
        pts = profile.sync_points_ps
        c = len(in_use)
        if c <= pts[0][0]:
            sync = pts[0][1]
        elif c >= pts[-1][0]:
            sync = pts[-1][1]
        else:
            (c0, s0), (c1, s1) = next((p, q) for p, q in zip(pts, pts[1:]) if p[0] <= c <= q[0])
            sync = math.ceil(s0 + Fraction(s1 - s0) * (c - c0) / (c1 - c0))
        steps.append(max(busy.values()) + sync)
    return {"synops": synops, "active": active, "inactive": inactive, "spikes": spikes, "energy_fj": energy,
            "step_ps": steps, "sim_synops": int(sim.synops[0]), "sim_spikes": int(sim.total_spikes[0])}


@st.composite
def profiles(draw) -> HardwareProfile:
    figure = st.integers(0, 5000).map(lambda m: m / 1000 if m % 3 else m // 1000)  # up to 3 decimals, ints too
    doc = {"name": "random", "source": "drawn by hypothesis", "figures": "user",
           "energy_pj": {k: draw(figure) for k in ("synop", "neuron_active", "neuron_inactive", "spike")},
           "neurons_per_core": draw(st.integers(1, 4)), "cores_per_chip": 64}
    if draw(st.booleans()):
        doc["step_ns"] = draw(figure)
    else:
        doc["time_ns"] = {k: draw(figure) for k in ("synop", "neuron_active", "neuron_inactive")}
        cores = sorted(draw(st.sets(st.integers(1, 20), min_size=1, max_size=3)))
        doc["sync_ns"] = [[c, draw(figure)] for c in cores]
    return profile_from_dict(doc)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_costs_match_the_definitions_on_random_models(data):
    model = data.draw(models())
    profile = data.draw(profiles())
    batch = data.draw(rasters(model, batch=data.draw(st.integers(1, 3))))
    if data.draw(st.booleans()):  # a random placement: a random permutation of slots, capacity respected
        sizes = [layer.out_size for layer in model.layers]
        slots = data.draw(st.permutations(range(sum(sizes))))
        cores = np.asarray(slots) // profile.neurons_per_core
        bounds = np.cumsum([0] + sizes)
        placement = place(model, profile, [cores[bounds[k]: bounds[k + 1]].tolist() for k in range(len(sizes))])
    else:
        placement = place(model, profile)
    report = cost(model, batch, profile, placement)
    sim = simulate(model, batch)
    assert report.synops == sim.synops.tolist()
    assert report.spikes == sim.total_spikes.tolist()
    T, n = model.time_steps, sum(layer.out_size for layer in model.layers)
    assert (report.layer_active + report.layer_inactive).sum(axis=1).tolist() == [T * n] * len(batch)
    assert report.core_synops.sum(axis=1).tolist() == report.synops
    assert report.core_active.sum(axis=1).tolist() == report.active_updates
    for b in range(len(batch)):
        ref = reference_costs(model, batch[b], profile, placement)
        assert ref["synops"] == ref["sim_synops"] == report.synops[b]
        assert ref["spikes"] == ref["sim_spikes"] == report.spikes[b]
        assert (ref["active"], ref["inactive"]) == (report.active_updates[b], report.inactive_updates[b])
        assert ref["energy_fj"] == int(report.energy_fj[b])
        assert ref["step_ps"] == [int(s) for s in report.step_ps[b]]
        assert sum(ref["step_ps"]) == int(report.latency_ps[b])
        assert report[b].to_json() == cost(model, batch[b], profile, placement).to_json()


def test_large_figures_stay_exact():
    # Figures near the maximum: sums leave int64's comfortable range only as Python ints, exactly.
    doc = dict(HAND_PROFILE, energy_pj={"synop": 999_999_999.999, "neuron_active": 1e9, "neuron_inactive": 0.001,
                                        "spike": 123_456_789.123})
    report = cost(hand_model(), HAND_RASTER, profile_from_dict(doc))
    expected = 14 * 999_999_999_999 + 11 * 10**12 + 9 * 1 + 9 * 123_456_789_123
    assert int(report.energy_fj[0]) == expected


# ----------------------------------------------------------------------------- placement


def wide_model(sizes=(5, 3, 4)) -> Model:
    layers, n_in = [], 2
    for size in sizes:
        layers.append(Dense(weight=np.ones((size, n_in), dtype=np.int64), neuron=Neuron(size=size, threshold=1)))
        n_in = size
    return Model(time_steps=2, input=InputSpec(size=2), layers=tuple(layers))


def test_default_placement_fills_cores_layer_by_layer():
    profile = profile_from_dict(dict(HAND_PROFILE, neurons_per_core=2))
    placement = place(wide_model(), profile)
    assert [c.tolist() for c in placement.cores] == [[0, 0, 1, 1, 2], [3, 3, 4], [5, 5, 6, 6]]
    assert placement.cores_in_use == tuple(range(7)) and placement.num_cores == 7
    assert placement.to_json() == {"cores_in_use": 7, "layers": [[0, 0, 1, 1, 2], [3, 3, 4], [5, 5, 6, 6]]}
    assert [c.tolist() for c in place(wide_model(), profile, placement.to_json()).cores] == \
        [c.tolist() for c in placement.cores]
    # loihi: 1,024 neurons per core, so each small layer takes one core
    assert [c.tolist() for c in place(wide_model(), "loihi").cores] == [[0] * 5, [1] * 3, [2] * 4]


def test_default_placement_beyond_one_chip_is_refused():
    profile = profile_from_dict(dict(HAND_PROFILE, neurons_per_core=2, cores_per_chip=6))
    with pytest.raises(InputError, match="needs 7 cores.*multi-chip"):
        place(wide_model(), profile)


@pytest.mark.parametrize("override, message", [
    ([0, 1], "has 2 entries, the model has 3 layers"),
    ([0, 1, [2, 2, 3]], r"placement.layers\[2\]: has 3 cores, the layer has 4 neurons"),
    ([0, 0, 1], "core 0 holds 8 neurons, more than the profile's neurons_per_core 6"),
    ([0, 1, 8], r"placement.layers\[2\]: core 8 outside \[0, 7\]"),
    ([0, -1, 2], r"placement.layers\[1\]: core -1 outside"),
    ([0, True, 2], r"placement.layers\[1\]: expected a core index"),
    ([0, 1, [2, 2, "3", 3]], r"placement.layers\[2\]\[2\]: expected a core index"),
    ({"layers": [0, 1, 2], "extra": 1}, "unknown key 'extra'"),
    ({"layers": [0, 1, 2], "cores_in_use": 2}, "placement.cores_in_use: says 2, the layers use 3 cores"),
    ("0,1,2", "expected a list with one entry per layer"),
])
def test_placement_override_is_validated(override, message):
    profile = profile_from_dict(dict(HAND_PROFILE, neurons_per_core=6))
    assert place(wide_model(), profile, [0, 1, [2, 2, 3, 3]]).cores[2].tolist() == [2, 2, 3, 3]
    with pytest.raises(InputError, match=message):
        place(wide_model(), profile, override)


def test_cost_refuses_a_placement_of_another_model_or_profile():
    profile = profile_from_dict(HAND_PROFILE)
    with pytest.raises(InputError, match="does not fit the model"):
        cost(hand_model(), HAND_RASTER, profile, place(wide_model(), "loihi"))
    crowded = place(hand_model(), "loihi", [0, 0])  # 5 neurons on core 0: fine on loihi, not with 2 per core
    with pytest.raises(InputError, match="core 0 holds 5 neurons"):
        cost(hand_model(), HAND_RASTER, profile, crowded)


# ----------------------------------------------------------------------------- profiles


def test_builtin_profiles_load_with_sources():
    assert list_profiles() == ["loihi", "spinnaker2", "truenorth"]
    loihi = load_profile("loihi")
    assert loihi.figures == "simulation" and "Davies" in loihi.source and "Table 2" in loihi.source
    assert dict(loihi.energy_fj) == {"synop": 23_600, "neuron_active": 81_000, "neuron_inactive": 52_000,
                                     "spike": 1_700}
    assert dict(loihi.time_ps) == {"synop": 3_500, "neuron_active": 8_400, "neuron_inactive": 5_300}
    assert (loihi.neurons_per_core, loihi.cores_per_chip) == (1024, 128)
    assert loihi.sync_ps(1) == 113_000 and loihi.sync_ps(32) == loihi.sync_ps(100) == 465_000
    assert loihi.sync_ps(2) == 124_355  # 113 + 352/31 ns = 124.3548... rounded up to whole ps
    assert "lower bound" in loihi.notes
    truenorth = load_profile("truenorth")
    assert truenorth.figures == "whole-chip average" and truenorth.step_ps == 10**9 and truenorth.time_ps is None
    assert truenorth.energy_fj["synop"] == 26_000 and truenorth.neurons_per_core == 256
    spinnaker = load_profile("spinnaker2")
    assert spinnaker.energy_fj["synop"] == 450_000 and spinnaker.energy_fj["neuron_active"] == 2_190_000
    assert "ASSUMES" in spinnaker.notes
    for name in list_profiles():
        profile = load_profile(name)
        assert profile.name == name and profile.source and profile.notes
        assert profile_from_dict(profile.to_dict()) == profile


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "profile.yaml"
    path.write_text(text)
    return path


def loihi_doc() -> dict:
    return load_profile("loihi").to_dict()


@pytest.mark.parametrize("change, message", [
    (lambda d: d.pop("source"), "profile.source: missing"),
    (lambda d: d["energy_pj"].pop("spike"), "profile.energy_pj.spike: missing"),
    (lambda d: d["energy_pj"].update(synop=-1), "profile.energy_pj.synop: expected a non-negative number, got -1"),
    (lambda d: d["energy_pj"].update(synop="x"), "profile.energy_pj.synop: expected a non-negative number, got 'x'"),
    (lambda d: d["time_ns"].update(synop=True), "profile.time_ns.synop: expected a non-negative number, got True"),
    (lambda d: d["time_ns"].update(synop=float("nan")), "profile.time_ns.synop: expected a non-negative number"),
    (lambda d: d["time_ns"].update(synop=0.0005), "profile.time_ns.synop: 0.0005 has more than 3 decimals"),
    (lambda d: d["time_ns"].update(synop=1e12), "profile.time_ns.synop: .* larger than"),
    (lambda d: d["energy_pj"].update(extra=1), "profile.energy_pj: unknown key 'extra'"),
    (lambda d: d.update(colour="blue"), "profile: unknown key 'colour'"),
    (lambda d: d.update(neurons_per_core=0), "profile.neurons_per_core: 0 outside"),
    (lambda d: d.update(cores_per_chip=2.5), "profile.cores_per_chip: expected an integer"),
    (lambda d: d.update(figures="guess"), "profile.figures: 'guess' is not one of"),
    (lambda d: d.update(name=""), "profile.name: expected a non-empty string"),
    (lambda d: d.update(sync_ns=[[2, 10], [2, 20]]), r"profile.sync_ns\[1\]\[0\]: cores must increase"),
    (lambda d: d.update(sync_ns=[[1, 10, 3]]), r"profile.sync_ns\[0\]: expected a pair"),
    (lambda d: d.update(sync_ns=[]), "profile.sync_ns: expected a non-empty list"),
    (lambda d: d.pop("sync_ns"), "profile.sync_ns: missing"),
    (lambda d: d.pop("time_ns"), "profile.time_ns: missing"),
    (lambda d: d.update(step_ns=1000), "profile.sync_ns: not used together with step_ns"),
    (lambda d: d.update(energy_pj=5), "profile.energy_pj: expected an object"),
])
def test_profile_validation_names_the_field(tmp_path, change, message):
    doc = loihi_doc()
    change(doc)
    with pytest.raises(InputError, match=message):
        profile_from_dict(doc)
    import yaml

    path = write(tmp_path, yaml.safe_dump(doc))
    with pytest.raises(InputError, match=f"profile.yaml: {message}"):
        load_profile(path)


def test_profile_built_in_python_is_validated_too():
    with pytest.raises(InputError, match="profile.energy_pj.neuron_active: expected a non-negative number"):
        HardwareProfile(name="x", source="s", figures="user", neurons_per_core=1, cores_per_chip=1, step_ns=1,
                        energy_pj={"synop": 1, "neuron_active": None, "neuron_inactive": 1, "spike": 1})
    profile = HardwareProfile(name="x", source="s", figures="user", neurons_per_core=1, cores_per_chip=1, step_ns=2.5,
                              energy_pj={"synop": 0.1, "neuron_active": 1, "neuron_inactive": 1, "spike": 0.007})
    assert profile.step_ps == 2500 and profile.energy_fj["synop"] == 100 and profile.energy_fj["spike"] == 7
    with pytest.raises(TypeError):  # read-only figures: the exact forms cannot drift from them
        profile.energy_pj["synop"] = 3


def test_unknown_profile_name_and_missing_file():
    with pytest.raises(InputError, match="unknown profile 'loihi3'; built-in profiles: loihi, spinnaker2, truenorth"):
        load_profile("loihi3")
    with pytest.raises(InputError, match="no such profile file"):
        load_profile("does/not/exist.yaml")


def test_malicious_or_malformed_yaml_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = write(tmp_path, f"!!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(InputError, match="not a usable YAML document"):
        load_profile(path)
    assert not marker.exists()
    path = write(tmp_path, "name: !!python/name:os.system\nsource: s\n")
    with pytest.raises(InputError, match="not a usable YAML document"):
        load_profile(path)
    path = write(tmp_path, "a: &x [1, 2]\nb: *x\n")
    with pytest.raises(InputError, match="aliases"):
        load_profile(path)
    path = write(tmp_path, "name: a\nname: b\n")
    with pytest.raises(InputError, match="appears twice"):
        load_profile(path)
    path = write(tmp_path, "- just\n- a list\n")
    with pytest.raises(InputError, match="a profile is an object"):
        load_profile(path)
    path = write(tmp_path, "energy_pj: {synop: [unclosed\n")
    with pytest.raises(InputError, match="not a usable YAML document"):
        load_profile(path)


def test_decision_latency_checks_k():
    with pytest.raises(InputError, match=r"k: expected a number of steps in \[1, 4\], got 5"):
        decision_latency(hand_model(), HAND_RASTER, "loihi", 5)
    with pytest.raises(InputError, match="got 0"):
        decision_latency(hand_model(), HAND_RASTER, "loihi", 0)


def test_cost_checks_the_raster():
    with pytest.raises(InputError, match="the model expects T=4"):
        cost(hand_model(), np.zeros((3, 2), dtype=np.int8), "loihi")


# ----------------------------------------------------------------------------- the cost command


@pytest.fixture
def cost_files(tmp_path: Path) -> dict[str, Path]:
    paths = {"model": tmp_path / "hand.snn.json", "raster": tmp_path / "raster.npy",
             "batch": tmp_path / "batch.npy", "profile": tmp_path / "hand.yaml",
             "placement": tmp_path / "placement.json"}
    save_model(hand_model(), paths["model"])
    np.save(paths["raster"], HAND_RASTER)
    np.save(paths["batch"], np.stack([HAND_RASTER, np.zeros_like(HAND_RASTER)]))
    import yaml

    paths["profile"].write_text(yaml.safe_dump(HAND_PROFILE))
    paths["placement"].write_text(json.dumps([[0, 0, 1], 3]))
    return paths


def run_cli(capsys, *argv) -> tuple[int, dict]:
    code = cli.main([str(a) for a in argv] + ["--json"])
    out, _ = capsys.readouterr()
    assert out.count("\n") == 1
    return code, json.loads(out)


def test_cli_cost_one_raster(capsys, cost_files):
    code, answer = run_cli(capsys, "cost", cost_files["model"], "--input", cost_files["raster"],
                           "--profile", cost_files["profile"])
    assert code == 0
    assert answer == cost(hand_model(), HAND_RASTER, profile_from_dict(HAND_PROFILE)).to_json()
    assert answer["latency_us"] == 0.12 and answer["energy_uj"] == 0.001026 and answer["synops"] == 14
    code, answer = run_cli(capsys, "cost", cost_files["model"], "--input", cost_files["raster"], "--profile", "loihi")
    assert code == 0 and answer["profile"] == "loihi" and answer["spikes"] == 9
    assert [d["core"] for d in answer["per_core"]] == [0, 1]


def test_cli_cost_batch_and_placement(capsys, cost_files):
    code, answer = run_cli(capsys, "cost", cost_files["model"], "--input", cost_files["batch"],
                           "--profile", cost_files["profile"], "--placement", cost_files["placement"])
    assert code == 0
    assert list(answer) == ["profile", "steps", "latency_us", "energy_uj", "spikes", "synops", "per_layer",
                            "per_core"]
    assert answer["synops"] == [14, 0] and answer["spikes"] == [9, 0] and len(answer["per_layer"]) == 2
    assert [d["core"] for d in answer["per_core"][0]] == [0, 1, 3]
    assert [d["neurons"] for d in answer["per_core"][0]] == [2, 1, 2]
    code = cli.main(["cost", str(cost_files["model"]), "--input", str(cost_files["batch"]), "--profile", "truenorth"])
    out, _ = capsys.readouterr()
    assert code == 0 and "batch of 2 rasters" in out and "latency" in out


@pytest.mark.parametrize("profile, message", [
    ("nope", "--profile: unknown profile 'nope'"),
    ("{bad}", "--profile .*profile.yaml: profile.source: missing"),
])
def test_cli_cost_bad_profile_exits_2(capsys, cost_files, tmp_path, profile, message):
    if profile == "{bad}":
        profile = tmp_path / "profile.yaml"
        profile.write_text("name: x\nfigures: user\n")
    code, answer = run_cli(capsys, "cost", cost_files["model"], "--input", cost_files["raster"], "--profile", profile)
    assert code == 2 and answer["kind"] == "bad_input"
    assert __import__("re").search(message, answer["error"]), answer["error"]


def test_cli_cost_bad_placement_and_raster_exit_2(capsys, cost_files, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[0, 200]")
    code, answer = run_cli(capsys, "cost", cost_files["model"], "--input", cost_files["raster"], "--profile", "loihi",
                           "--placement", bad)
    assert code == 2 and answer["error"].startswith("--placement placement.layers[1]: core 200 outside")
    short = tmp_path / "short.npy"
    np.save(short, np.zeros((3, 2), dtype=np.int8))
    code, answer = run_cli(capsys, "cost", cost_files["model"], "--input", short, "--profile", "loihi")
    assert code == 2 and answer["error"].startswith(f"--input {short}: raster has T=3")
    code, answer = run_cli(capsys, "cost", cost_files["model"], "--input", cost_files["raster"])
    assert code == 2 and "--profile" in answer["error"]


def test_cli_cost_worst_case_over_a_region(capsys, cost_files, tmp_path):
    from verisnn.properties import Flips
    from verisnn.worst_case import QUANTITIES

    assert cli._COST_QUANTITIES == QUANTITIES
    members = region_members(Flips(2), HAND_RASTER)  # every raster within 2 flips, by the region's definition
    every = cost(hand_model(), members, profile_from_dict(HAND_PROFILE))
    for quantity, exact in (("latency_us", every.latency_ps), ("synops", every.synops)):
        code, answer = run_cli(capsys, "cost", cost_files["model"], "--input", cost_files["raster"],
                               "--profile", cost_files["profile"], "--worst-case", quantity, "--region", "{flips: 2}")
        assert code == 0 and answer["synops"] == 14  # the centre's report, plus the worst case
        worst = answer["worst_case"]
        assert worst["quantity"] == quantity and worst["exact_value"] == max(int(v) for v in exact)
        assert worst["exact_bound"] == worst["exact_value"]  # the certified maximum
        witness = np.array(worst["witness"], dtype=np.int8)
        assert (witness != HAND_RASTER).sum() <= 2
    prop = tmp_path / "prop.yaml"
    prop.write_text("region: {deletions: 1}\ncondition: robust\n")
    code = cli.main(["cost", str(cost_files["model"]), "--input", str(cost_files["raster"]), "--profile", "loihi",
                     "--worst-case", "spikes", "--property", str(prop)])
    out, _ = capsys.readouterr()
    assert code == 0 and "worst case   spikes" in out
    code, answer = run_cli(capsys, "cost", cost_files["model"], "--input", cost_files["raster"], "--profile", "loihi",
                           "--region", "{flips: 1}")
    assert code == 2 and "--worst-case" in answer["error"]
    code, answer = run_cli(capsys, "cost", cost_files["model"], "--input", cost_files["batch"], "--profile", "loihi",
                           "--worst-case", "spikes", "--region", "any")
    assert code == 2 and answer["error"].startswith("--input")


def test_cli_worst_case_human_line_says_what_is_known():
    from verisnn.worst_case import WorstCase

    def line(status, value, bound, reason=None):
        worst = WorstCase("synops", status, value, value, bound, bound, HAND_RASTER, "loihi", 0.1, reason)
        return cli._worst_case_human(worst)

    assert "14 synops: the certified maximum" in line("optimal", 14, 14)
    assert "between 14 and 20 synops" in line("feasible", 14, 20, "timeout")
    cut = line("feasible", 14, None, "timeout after 1 s: 300 of 900 rasters checked")
    assert "at least 14 synops, no upper bound proven" in cut and "None" not in cut
    assert "unknown: at least 14 synops" in line("unknown", 14, None, "timeout")
