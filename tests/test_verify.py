"""The verification engine's enumerate method, differentially against brute force:
every raster of the whole input space is classified by the region's own definition
(written here from docs/properties.md, independently of the engine's enumerator)
and checked on the reference simulator."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import models, rasters
from verisnn import simulate
from verisnn.model import Dense, InputSpec, Model, Neuron, Readout
from verisnn.model_format import save_model
from verisnn.properties import (DecidedBy, Deletions, FirstSpikeBy, Flips, Insertions, Jitter, NeverFires,
                                NoOverflow, Property, Robust, SpikesAtMost, SynopsAtMost, region_contains)
from verisnn.verify import overflowed, verify


def _in_region(region, centre: np.ndarray, r: np.ndarray) -> bool:
    diff = r.astype(int) - centre.astype(int)
    if isinstance(region, Flips):
        return int(np.abs(diff).sum()) <= region.k
    if isinstance(region, Deletions):
        return bool((diff <= 0).all()) and int(-diff.sum()) <= region.k
    if isinstance(region, Insertions):
        return bool((diff >= 0).all()) and int(diff.sum()) <= region.k
    # jitter: the property module's own membership test (a min-cost assignment per channel),
    # independent of the engine's enumerator
    return region_contains(region, centre, r)


def _violates(model, cond, r: np.ndarray, reference) -> bool:
    """The condition, evaluated from the simulator's plain outputs (not the engine's check)."""
    res = simulate(model, r)
    if isinstance(cond, Robust):
        return reference is None or int(res.prediction[0]) != reference
    if isinstance(cond, SpikesAtMost):
        return int(res.total_spikes[0]) > cond.e
    if isinstance(cond, SynopsAtMost):
        return int(res.synops[0]) > cond.s
    if isinstance(cond, NeverFires):
        return bool(res.layer_outputs[cond.layer][0, :, cond.neuron].any())
    if isinstance(cond, FirstSpikeBy):
        return not res.output_spikes[0, : cond.k].any()
    if isinstance(cond, DecidedBy):
        early = simulate(Model(time_steps=cond.k, input=model.input, layers=model.layers, readout=model.readout),
                         r[: cond.k]).prediction[0]
        return early < 0 or early != res.prediction[0]
    if isinstance(cond, NoOverflow):
        return bool(overflowed(model, r[None])[0])
    raise AssertionError(cond)


def _conditions(model) -> list:
    conds = [SpikesAtMost(3), SynopsAtMost(10), NoOverflow()]
    if model.layers[-1].neuron.fires:
        conds += [FirstSpikeBy(max(1, model.time_steps - 1)), NeverFires(0, 0) if model.layers[0].neuron.fires
                  else SpikesAtMost(0)]
    if model.readout.type == "spike_count":
        conds += [Robust(), DecidedBy(max(1, model.time_steps - 1))]
    return conds


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_methods_agree_with_brute_force(data):
    model = data.draw(models().filter(lambda m: m.time_steps * m.input.size <= 8))
    centre = data.draw(rasters(model))
    region = data.draw(st.sampled_from([Flips(1), Flips(2), Deletions(2), Insertions(1), Jitter(1, 2),
                                        Jitter(2, 1)]).filter(lambda r: not isinstance(r, Jitter)
                                                              or r.shift < model.time_steps))
    cond = data.draw(st.sampled_from(_conditions(model)))
    prop = Property(region=region, condition=cond)
    reference = int(simulate(model, centre).prediction[0])
    reference = None if reference < 0 else reference
    T, n = centre.shape
    space = [np.array(bits, dtype=np.int8).reshape(T, n) for bits in itertools.product((0, 1), repeat=T * n)]
    members = [r for r in space if _in_region(region, centre, r)]
    bad = [r for r in members if _violates(model, cond, r, reference)]
    methods = ["enumerate", "auto", "bounds"]
    if not isinstance(region, Jitter):
        methods += ["smt", "auto-via-cpsat", "bab", "cpsat", "auto-via-bab", "auto-priced"]
    method = data.draw(st.sampled_from(methods))
    if method == "auto-via-cpsat":  # a region "too large to enumerate": auto's solver stage decides
        result = verify(model, centre, prop, method="auto", max_region=0, bab_max_region=0)
    elif method == "auto-via-bab":  # too large to enumerate, not for the tree: auto's tree decides
        result = verify(model, centre, prop, method="auto", max_region=0)
    elif method == "auto-priced":  # more than one batch: auto prices the enumeration first
        result = verify(model, centre, prop, method="auto", batch=2)
    else:
        result = verify(model, centre, prop, method=method)
    if method == "bounds":  # bounds only prove: verified only where nothing is bad, else unknown
        if isinstance(cond, Robust) and reference is None:  # the centre is its own counterexample, any method
            assert result.verdict == "falsified"
            return
        assert result.verdict in ("verified", "unknown"), result.reason
        assert not (result.verdict == "verified" and bad)
        return
    assert result.verdict in ("verified", "falsified"), result.reason
    if isinstance(cond, Robust) and reference is None:
        assert result.verdict == "falsified"
    else:
        assert (result.verdict == "verified") == (not bad), (result.verdict, len(bad))
        if result.verdict == "verified" and result.evidence["method"] == "enumerate":
            assert result.evidence["region_size"] == len(members) == result.evidence["rasters_checked"]
    if result.verdict == "falsified":
        assert _in_region(region, centre, result.witness) or (isinstance(cond, Robust) and reference is None)
        assert _violates(model, cond, result.witness, reference)


@pytest.mark.parametrize("per_raster, stage", [(1.0, "bab"), (1e-12, "enumerate")])
def test_auto_gives_the_tree_part_of_the_enumeration_time(monkeypatch, per_raster, stage):
    """Past one batch, auto prices the enumeration on two small batches; an expensive one
    goes to the step-by-step tree with that much time (here: plenty), then to enumeration
    when the tree has not finished (here: no time at all). Every answer is brute force's."""
    import verisnn.verify as engine

    model = _tiny_model()
    centre = np.array([[1, 0], [1, 0], [1, 1], [1, 0]], dtype=np.int8)  # decided 0, by a margin
    monkeypatch.setattr(engine, "ENUMERATE_AT_ONCE_S", 0.0)
    monkeypatch.setattr(engine, "_price_enumeration", lambda *a: (None, per_raster))
    space = [np.array(b, dtype=np.int8).reshape(4, 2) for b in itertools.product((0, 1), repeat=8)]
    verdicts = set()
    for region in (Flips(2), Deletions(2), Flips(1)):
        prop = Property(region=region, condition=Robust())
        reference = int(simulate(model, centre).prediction[0])
        bad = [r for r in space if _in_region(region, centre, r) and _violates(model, Robust(), r, reference)]
        result = verify(model, centre, prop, method="auto", batch=2)
        assert result.details["stage"] == stage
        assert result.verdict == ("falsified" if bad else "verified")
        verdicts.add(result.verdict)
    assert verdicts == {"verified", "falsified"}
    small = verify(model, centre, Property(region=Flips(1), condition=Robust()), method="auto")
    assert small.details["stage"] == "enumerate"  # one batch: enumerated at once, never priced


def test_auto_enumerates_a_region_priced_cheap_at_once(monkeypatch):
    import verisnn.verify as engine

    def no_tree(*args, **kwargs):
        raise AssertionError("a region priced cheap is enumerated without trying the tree")

    monkeypatch.setattr(engine, "_bab", no_tree)
    model = _tiny_model()
    centre = np.array([[1, 0], [1, 0], [1, 1], [1, 0]], dtype=np.int8)
    result = verify(model, centre, Property(region=Deletions(2), condition=Robust()), method="auto", batch=2)
    assert result.details["stage"] == "enumerate" and result.verdict == "verified"  # 16 rasters in 8 batches


def test_auto_turns_to_the_solver_when_the_tree_cannot_finish_a_region_too_large_to_enumerate(monkeypatch):
    import verisnn.verify as engine

    def tree_out_of_time(model, centre, prop, reference, size, deadline, t0, details, method="bab"):
        return engine.Result("unknown", method, 0.0, reason="timeout", details=dict(details))

    monkeypatch.setattr(engine, "_bab", tree_out_of_time)
    model = _tiny_model()
    centre = np.array([[1, 0], [1, 0], [1, 1], [1, 0]], dtype=np.int8)
    result = verify(model, centre, Property(region=Flips(1), condition=Robust()), method="auto", max_region=0)
    assert result.details["stage"] == "cpsat" and result.verdict == "verified"


def _tiny_model() -> Model:
    # two inputs, two outputs, IF neurons with threshold 2: out0 counts input 0, out1 input 1
    neuron = Neuron(2, "if", threshold=2)
    return Model(time_steps=4, input=InputSpec(2), layers=(Dense([[1, 0], [0, 1]], neuron),),
                 readout=Readout("spike_count"))


def _encoded_tiny_model() -> Model:
    """The tiny model behind a rate encoder of analog inputs in [0, 1]."""
    tiny = _tiny_model()
    return Model(time_steps=4, input=InputSpec(2, encoding={"type": "rate", "time_steps": 4, "lo": 0.0, "hi": 1.0}),
                 layers=tiny.layers, readout=tiny.readout)


def _verify_cli(tmp_path, model: Model, centre: np.ndarray, prop: dict, *extra: str) -> subprocess.CompletedProcess:
    """``verisnn verify --json`` run as a user would, on files written to ``tmp_path``."""
    save_model(model, tmp_path / "m.snn.json")
    np.save(tmp_path / "x.npy", centre)
    (tmp_path / "p.json").write_text(json.dumps(prop))
    return subprocess.run([sys.executable, "-m", "verisnn", "verify", str(tmp_path / "m.snn.json"), "--input",
                           str(tmp_path / "x.npy"), "--property", str(tmp_path / "p.json"), "--json", *extra],
                          capture_output=True, text=True, timeout=120)


def test_robust_by_hand():
    model = _tiny_model()
    centre = np.array([[1, 0], [1, 0], [1, 0], [1, 0]])  # out0: 2 spikes, out1: 0
    assert verify(model, centre, Property(Flips(1), Robust())).verdict == "verified"
    result = verify(model, centre, Property(Flips(3), Robust()))
    assert result.verdict == "falsified"
    assert simulate(model, result.witness).prediction[0] != 0  # the replayed witness really flips the decision


def test_limits_give_unknown_and_bad_input_gives_error():
    model = _tiny_model()
    centre = np.zeros((4, 2), dtype=np.int8)
    centre[:, 0] = 1
    r = verify(model, centre, Property(Flips(8), SpikesAtMost(100)), method="enumerate", max_region=10)
    assert r.verdict == "unknown" and "enumeration limit" in r.reason
    r = verify(model, centre, Property(Flips(8), SpikesAtMost(100)), method="enumerate", timeout=0.0)
    assert r.verdict == "unknown" and "timeout" in r.reason
    r = verify(model, np.zeros((3, 2)), Property(Flips(1), Robust()))
    assert r.verdict == "error" and "T=3" in r.reason
    r = verify(model, centre, Property(Flips(1), Robust()), method="magic")
    assert r.verdict == "error" and "magic" in r.reason


def test_cli_verify_contract(tmp_path):
    model = _tiny_model()
    centre = np.array([[1, 0], [1, 0], [1, 0], [1, 0]], dtype=np.int8)
    proc = _verify_cli(tmp_path, model, centre, {"region": {"flips": 3}, "condition": "robust"})
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["verdict"] == "falsified" and answer["method"] == "auto"
    assert isinstance(answer["time_s"], float) and answer["replayed"] is True
    witness = np.array(answer["witness"], dtype=np.int8)
    assert simulate(model, witness).prediction[0] != 0
    proc = _verify_cli(tmp_path, model, centre, {"region": {"flips": -1}, "condition": "robust"})
    assert proc.returncode == 2
    assert "region.flips" in json.loads(proc.stdout)["error"]


def test_auto_falsifies_by_search_beyond_the_enumeration_limit():
    """A region far too large to enumerate: the greedy search still finds the flips that
    change the decision, and the witness replays."""
    model = _tiny_model()
    centre = np.array([[1, 0], [1, 0], [1, 0], [1, 0]])
    prop = Property(Flips(4), Robust())
    assert verify(model, centre, prop, method="enumerate", max_region=5).verdict == "unknown"
    result = verify(model, centre, prop, method="auto", max_region=5)
    assert result.verdict == "falsified" and result.details["stage"] in ("greedy", "random")
    assert simulate(model, result.witness).prediction[0] != 0
    assert int(np.count_nonzero(result.witness != centre)) <= 4


def test_intensity_regions_are_decided_through_the_encoder():
    from verisnn.intensity import intensity_region
    from verisnn.properties import Intensity

    model = _encoded_tiny_model()
    x = np.array([0.9, 0.2])
    for eps, expected in ((0.05, "verified"), (0.6, "falsified")):
        region = intensity_region(model, x, eps)
        truth = any(simulate(model, r).prediction[0] != simulate(model, region.centre_raster).prediction[0]
                    for batch in region.iter_batches(64) for r in batch)
        assert truth == (expected == "falsified")
        result = verify(model, x, Property(Intensity(eps), Robust()))
        assert result.verdict == expected, result.reason
        if expected == "falsified":
            analog = np.array(result.details["analog_witness"])
            assert np.abs(analog - x).max() <= eps and region.contains(result.witness)
        else:
            assert result.evidence["region_size"] == region.size
    result = verify(model, x, Property(Intensity(0.6), Robust()), method="smt")
    assert result.verdict == "unknown" and "intensity" in result.reason


def test_cli_verify_intensity_takes_an_analog_input(tmp_path):
    model = _encoded_tiny_model()
    proc = _verify_cli(tmp_path, model, np.array([0.9, 0.2]), {"region": {"intensity": 0.6}, "condition": "robust"})
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["verdict"] == "falsified" and answer["replayed"] is True
    analog = np.array(answer["analog_witness"])
    assert np.abs(analog - [0.9, 0.2]).max() <= 0.6
    from verisnn.encoders import encoder_from_model

    centre = encoder_from_model(model).encode(np.array([0.9, 0.2]), batched=False)
    assert np.array_equal(encoder_from_model(model).encode(analog, batched=False), answer["witness"])
    assert simulate(model, np.array(answer["witness"])).prediction[0] != simulate(model, centre).prediction[0]


def test_cli_verify_smt_logic_and_solver(tmp_path):
    model = _tiny_model()
    centre = np.array([[1, 0], [1, 0], [1, 0], [1, 0]], dtype=np.int8)
    for extra in (["--smt-logic", "bv"], ["--solver", "z3-native"], ["--solver", "cvc5", "--smt-logic", "bv"]):
        proc = _verify_cli(tmp_path, model, centre, {"region": {"flips": 1}, "condition": "robust"},
                           "--method", "smt", *extra)
        assert proc.returncode == 0, proc.stderr
        answer = json.loads(proc.stdout)
        assert answer["verdict"] == "verified" and answer["evidence"]["logic"] == (
            "QF_BV" if "bv" in extra else "QF_LIA")


def test_spike_bounds_of_a_network_without_spiking_layers_are_decided():
    """A network of leaky integrators never spikes: ``spikes_at_most`` holds everywhere,
    and the gradient falsifier (which has no spike count to differentiate) stands aside
    instead of failing (found by hypothesis in test_methods_agree_with_brute_force)."""
    from verisnn.falsify import gradient_search
    from verisnn.properties import parse_property

    model = Model(time_steps=3, input=InputSpec(4),
                  layers=(Dense([[1, -1, 2, 0], [0, 1, 1, -2]], Neuron(2, "li", threshold=None, v_decay=(1, 1))),),
                  readout=Readout("membrane_final"))
    prop = parse_property({"region": {"flips": 2}, "condition": {"spikes_at_most": 0}})
    centre = np.zeros((3, 4), dtype=np.int8)
    assert gradient_search(model, prop, centre, None, lambda r, res=None: np.zeros(len(r), bool)) is None
    # auto with nothing to enumerate: the searches (the gradient one included) find nothing, bounds prove it
    assert verify(model, centre, prop, method="auto", max_region=0, bab_max_region=0).verdict == "verified"
    assert verify(model, centre, prop, method="enumerate").verdict == "verified"
