"""The kernel's own simulation, readouts, conditions and hardware costs (verisnn/kernel/network.py,
conditions.py, hardware.py) against the engine on random models, and on the hand-worked examples of
docs/semantics.md. The tests may import the engine; the kernel never does."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import lively_models, models, rasters, reference_decision
from verisnn.hardware import cost, load_profile, profile_from_dict
from verisnn.kernel.conditions import decision, violates
from verisnn.kernel.guard import KernelLimit, Limits
from verisnn.kernel import network
from verisnn.kernel.hardware import cost_json, costs
from verisnn.kernel.network import decay, document_sha256, raster_sha256, read_network, run
from verisnn.model_format import model_from_dict, model_hash, model_to_dict
from verisnn.properties import (AnyInput, DecidedBy, EnergyAtMost, FirstSpikeBy, LatencyAtMost, NeverFires, NoOverflow,
                                Property, Robust, SpikesAtMost, SynopsAtMost)
from verisnn.simulator import simulate
from verisnn.verify import overflowed, violations
from verisnn.verify import raster_sha256 as engine_raster_sha256

BUILTIN_PROFILES = ("loihi", "spinnaker2", "truenorth")
# Two neurons per core (the busiest core changes from step to step), a three-point barrier curve with
# interpolation that needs rounding up, inactive updates dearer than active ones, figures with decimals.
SMALL_CORES = profile_from_dict(dict(
    name="small-cores", source="test", figures="user", neurons_per_core=2, cores_per_chip=64,
    energy_pj=dict(synop=1.5, neuron_active=2.25, neuron_inactive=3, spike=0.001),
    time_ns=dict(synop=0.7, neuron_active=1, neuron_inactive=2.5), sync_ns=[[1, 0.5], [3, 7.333], [5, 9]]))


def kernel_of(model):
    return read_network(model_to_dict(model))


def assert_same_run(model, batch: np.ndarray) -> None:
    """Everything the kernel's run reports equals the reference simulator's."""
    net = kernel_of(model)
    mine = run(net, batch, record_membranes=True)
    ref = simulate(model, batch, record_membranes=True)
    assert np.array_equal(mine.outputs, ref.layer_outputs[-1])
    assert np.array_equal(decision(net, mine.outputs), ref.prediction)
    assert np.array_equal(mine.total_spikes, ref.total_spikes)
    assert np.array_equal(mine.synops, ref.synops)
    assert np.array_equal(mine.overflow, overflowed(model, batch))
    for k, layer in enumerate(model.layers):
        if layer.neuron.fires:
            assert np.array_equal(mine.layer_spikes[k], ref.layer_outputs[k]), f"layer {k} spikes"
        else:
            assert not mine.layer_spikes[k].any()
        assert np.array_equal(mine.membranes[k], ref.membranes[k]), f"layer {k} membranes"


@settings(max_examples=120)
@given(st.data())
def test_runs_equal_the_reference_simulator(data):
    model = data.draw(models())
    assert_same_run(model, data.draw(rasters(model, batch=4)))


@settings(max_examples=60)
@given(st.data())
def test_lively_runs_equal_the_reference_simulator(data):
    model = data.draw(lively_models())
    assert_same_run(model, data.draw(rasters(model, batch=6)))


def _neurons(model):
    return [layer.neuron for layer in model.layers]


# Each semantic option, forced to appear (conftest's models() draws them all, but only by chance).
FEATURES = {
    "if": lambda m: any(n.model == "if" for n in _neurons(m)),
    "lif": lambda m: any(n.model == "lif" for n in _neurons(m)),
    "cuba_lif": lambda m: any(n.model == "cuba_lif" for n in _neurons(m)),
    "li": lambda m: not m.layers[-1].neuron.fires,
    "conv2d": lambda m: any(type(layer).__name__ == "Conv2d" for layer in m.layers),
    "recurrent": lambda m: any(layer.recurrent is not None for layer in m.layers),
    "delay": lambda m: any(0 < layer.delay < m.time_steps for layer in m.layers),
    "wrap": lambda m: any(n.on_overflow == "wrap" for n in _neurons(m)),
    "toward_zero": lambda m: any(n.rounding == "toward_zero" and n.model != "if" for n in _neurons(m)),
    "strict_fire": lambda m: any(n.fire_when == ">" and n.fires for n in _neurons(m)),
    "to_value": lambda m: any(n.reset == "to_value" and n.fires for n in _neurons(m)),
    "no_reset": lambda m: any(n.reset == "none" and n.fires for n in _neurons(m)),
    "refractory": lambda m: any(n.max_refractory > 0 and n.fires for n in _neurons(m)),
}


@pytest.mark.parametrize("feature", sorted(FEATURES))
@settings(max_examples=12)
@given(data=st.data())
def test_every_option_is_simulated_like_the_reference(feature, data):
    model = data.draw(models().filter(FEATURES[feature]))
    assert_same_run(model, data.draw(rasters(model, batch=4)))


def _conditions(model, batch_costs: dict) -> list:
    """Every bounded condition that fits ``model``; budgets taken from the batch's own values,
    so that both answers occur and the boundary (equal to the budget) is met."""
    T = model.time_steps
    out = [Robust(), NoOverflow(), SpikesAtMost(int(batch_costs["spikes"])), SynopsAtMost(int(batch_costs["synops"]))]
    out += [DecidedBy(k) for k in range(1, T + 1)]
    if model.layers[-1].neuron.fires:
        out += [FirstSpikeBy(k) for k in range(1, T + 1)]
    out += [NeverFires(k, j) for k, layer in enumerate(model.layers) if layer.neuron.fires
            for j in range(layer.out_size)]
    for name in ("loihi", "spinnaker2"):
        out += [LatencyAtMost(us, name) for us in batch_costs[name]["latency_us"]]
        out += [EnergyAtMost(uj, name) for uj in batch_costs[name]["energy_uj"]]
    return out


@settings(max_examples=40)
@given(st.data())
def test_violates_equals_the_engine_on_every_condition(data):
    model = data.draw(lively_models() if data.draw(st.booleans()) else models())
    batch = data.draw(rasters(model, batch=5))
    reference = data.draw(st.sampled_from([reference_decision(model, batch[0]), None, 0]))
    net = kernel_of(model)
    mine = run(net, batch)
    sim = simulate(model, batch)
    values = {"spikes": int(np.median(sim.total_spikes)), "synops": int(np.median(sim.synops))}
    for name in ("loihi", "spinnaker2"):
        report = cost(model, batch, name).to_json()
        values[name] = {"latency_us": report["latency_us"][:2], "energy_uj": report["energy_uj"][:2]}
    for cond in _conditions(model, values):
        prop = Property(AnyInput(), cond)
        profile = load_profile(cond.profile).to_dict() if hasattr(cond, "profile") else None
        expected = violations(model, prop, batch, reference, sim)
        got = violates(net, cond.to_dict(), mine, reference, profile)
        assert np.array_equal(got, expected), cond.to_dict()


@settings(max_examples=30)
@given(st.data())
def test_costs_equal_the_engine_on_every_profile(data):
    model = data.draw(models())
    batch = data.draw(rasters(model, batch=3))
    net = kernel_of(model)
    for profile in [load_profile(name) for name in BUILTIN_PROFILES] + [SMALL_CORES]:
        mine = costs(net, batch, profile.to_dict())
        for b in range(len(batch)):
            expected = cost(model, batch[b], profile).to_json()
            # compared as JSON text: 1 and 1.0, 0 and false differ there
            assert json.dumps(mine[b], sort_keys=True) == json.dumps(expected, sort_keys=True), profile.name
        assert cost_json(net, batch[0], profile.to_dict()) == mine[0]


# ----------------------------------------------------------------------------- hand-worked examples


def one_layer(neuron: dict, weight: int, T: int, readout: str = "spike_count") -> dict:
    """A normal-form document: one input channel, one neuron of one layer."""
    full = {"fire_when": ">=", "v_decay": [1, 0], "i_decay": None, "rounding": "floor", "reset": "subtract",
            "v_reset": 0, "refractory": 0, "v_bits": 24, "on_overflow": "saturate", **neuron}
    doc = {"format": "verisnn.model/1", "name": "hand", "time_steps": T,
           "input": {"size": 1, "shape": None, "encoding": None},
           "layers": [{"type": "dense", "weight": [[weight]], "bias": [0], "delay": 0, "recurrent": None,
                       "neuron": full}],
           "readout": {"type": readout, "ties": "invalid"}, "provenance": {}}
    assert model_to_dict(model_from_dict(doc)) == doc  # it is the normal form
    return doc


def test_refractory_table_of_the_semantics():
    """docs/semantics.md "Refractory timing": if, threshold 3, input 3 per step, v_reset 1, refractory 2."""
    net = read_network(one_layer({"model": "if", "threshold": 3, "v_reset": 1, "refractory": 2}, 3, 6))
    out = run(net, np.ones((6, 1), dtype=np.int8), record_membranes=True)
    assert out.layer_spikes[0][0, :, 0].tolist() == [1, 0, 0, 1, 0, 0]
    assert out.membranes[0][0, :, 0].tolist() == [0, 1, 1, 1, 1, 1]


@pytest.mark.parametrize("policy, expected", [("saturate", [5, 7, 7]), ("wrap", [5, -6, -1])])
def test_overflow_example_of_the_semantics(policy, expected):
    """docs/semantics.md "Overflow": 4 bits, input 5 per step, no reset (an li neuron shows u)."""
    doc = one_layer({"model": "li", "threshold": None, "v_bits": 4, "on_overflow": policy}, 5, 3, "membrane_final")
    out = run(read_network(doc), np.ones((3, 1), dtype=np.int8))
    assert out.outputs[0, :, 0].tolist() == expected
    assert out.overflow.tolist() == [True]
    assert violates(read_network(doc), "no_overflow", out, None).tolist() == [True]
    quiet = run(read_network(doc), np.array([[1], [0], [0]], dtype=np.int8))
    assert quiet.overflow.tolist() == [False]


@pytest.mark.parametrize("rounding, trajectory",
                         [("floor", [-5, -4, -3, -3, -3]), ("toward_zero", [-5, -3, -2, -1, 0])])
def test_decay_table_of_the_semantics(rounding, trajectory):
    """docs/semantics.md "Decay and rounding", decay [3, 2]: the table and a membrane left alone."""
    table = decay(np.array([5, -5, -3, -1]), np.array(3), np.array(2), rounding)
    assert table.tolist() == ([3, -4, -3, -1] if rounding == "floor" else [3, -3, -2, 0])
    doc = one_layer({"model": "li", "threshold": None, "v_decay": [3, 2], "rounding": rounding}, -5, 5,
                    "membrane_final")
    out = run(read_network(doc), np.array([[1], [0], [0], [0], [0]], dtype=np.int8))
    assert out.outputs[0, :, 0].tolist() == trajectory


def test_readouts_and_ties_by_hand():
    doc = one_layer({"model": "if", "threshold": 1}, 1, 3, "first_spike")
    doc["layers"][0].update(weight=[[1], [1]], bias=[0, 0])  # two output neurons
    net = read_network(doc)
    spikes = np.array([[[0, 0], [1, 1], [1, 0]],    # both first at step 1: a tie
                       [[0, 0], [0, 1], [1, 0]],    # neuron 1 first
                       [[0, 0], [0, 0], [0, 0]]])   # no spike: no decision under either rule
    assert decision(net, spikes).tolist() == [-1, 1, -1]
    net.ties = "lowest_index"
    assert decision(net, spikes).tolist() == [0, 1, -1]
    net.readout_type = "spike_count"
    assert decision(net, spikes).tolist() == [0, 0, 0]  # no spike at all: every neuron ties at 0
    net.ties = "invalid"
    assert decision(net, spikes).tolist() == [0, -1, -1]


# ----------------------------------------------------------------------------- documents


@settings(max_examples=20)
@given(st.data())
def test_hashes_equal_the_engines(data):
    model = data.draw(models())
    raster = data.draw(rasters(model))
    assert document_sha256(model_to_dict(model)) == model_hash(model)
    assert raster_sha256(raster) == engine_raster_sha256(raster)


def test_malformed_documents_are_refused():
    good = one_layer({"model": "if", "threshold": 2}, 3, 2)
    read_network(good)

    def broken(change):
        doc = json.loads(json.dumps(good))
        change(doc)
        with pytest.raises(ValueError):
            read_network(doc)

    broken(lambda d: d["layers"][0].update(weight=[[True]]))  # a bool is not an integer
    broken(lambda d: d["layers"][0].update(weight=[[1.0]]))
    broken(lambda d: d["layers"][0].update(weight=[[1], [1, 2]]))
    broken(lambda d: d["layers"][0].update(weight=[[1 << 40]]))
    broken(lambda d: d["layers"][0]["neuron"].update(threshold=1 << 23))  # outside 24 bits
    broken(lambda d: d["layers"][0]["neuron"].update(v_decay=[5, 2]))  # amplifies
    broken(lambda d: d["layers"][0]["neuron"].update(model="li"))  # li with a threshold
    broken(lambda d: d["readout"].update(type="membrane_final"))  # a firing last layer
    broken(lambda d: d["input"].update(size=2))
    broken(lambda d: d.update(format="verisnn.model/2"))
    with pytest.raises(ValueError):
        run(read_network(good), np.full((2, 1), 2))  # not a 0/1 raster


def test_values_that_could_leave_int64_are_refused(monkeypatch):
    # a cuba_lif current of up to (2^40 - 1) · 2^9 steps reaches 2^48
    doc = one_layer({"model": "cuba_lif", "threshold": 1, "v_decay": [1, 1], "i_decay": [1, 1]}, (1 << 40) - 1, 512)
    with pytest.raises(ValueError, match="2\\^48"):
        read_network(doc)
    # the refusal of a row bound >= 2^62, shown at a lower limit (a real one needs 2^22 weights of 2^40)
    doc = one_layer({"model": "if", "threshold": 1}, 60, 1)
    doc["layers"][0].update(recurrent=[[-40]], bias=[4])
    read_network(doc)
    monkeypatch.setattr(network, "ROW_LIMIT", 104)
    with pytest.raises(ValueError, match="2\\^62"):
        read_network(doc)
    # and the bound of such a row is exact, not wrapped around in int64
    wide = np.full((1, 1 << 23), (1 << 40) - 1, dtype=np.int64)
    assert network.row_bounds(wide)[0] == (1 << 23) * ((1 << 40) - 1)


def test_limits_are_kept():
    model_doc = one_layer({"model": "if", "threshold": 1}, 1, 3)
    with pytest.raises(KernelLimit):
        run(read_network(model_doc), np.ones((1000, 3, 1), dtype=np.int8), Limits(budget=1000))
    with pytest.raises(KernelLimit):
        run(read_network(model_doc), np.ones((1, 3, 1), dtype=np.int8), Limits(deadline=0.0))
