"""The robot case study: the build runs from the command line; the safe controller's
"never forward within W steps of a centre-obstacle spike" is proved for all time by
k-induction and by PDR; the naive controller's counterexample replays on the reference
simulator and really shows forward firing right after an obstacle spike."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from verisnn import load_model, model_hash, simulate
from verisnn.properties import NeverFiresAfter, load_property
from verisnn.unbounded import replay_unbounded, verify_unbounded

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "case_studies" / "robot"
CENTRE, GO = 1, 3  # input channels
FORWARD = 0  # output neuron


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    """Run the build once from the command line; its summary and output folder."""
    out = tmp_path_factory.mktemp("robot")
    proc = subprocess.run([sys.executable, str(STUDY / "build.py"), "--out", str(out), "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), out


@pytest.fixture(scope="module")
def prop():
    p = load_property(STUDY / "never_forward_after_obstacle.yaml")
    assert isinstance(p.condition, NeverFiresAfter) and p.horizon == "unbounded"
    assert (p.condition.inputs, p.condition.layer, p.condition.neuron) == ((CENTRE,), 1, FORWARD)
    return p


def models(build):
    _, out = build
    return load_model(out / "robot-safe.snn.json"), load_model(out / "robot-naive.snn.json")


def violations(model, raster: np.ndarray, within: int) -> list[int]:
    """Steps where forward fires with a centre spike at that step or the within-1 before,
    read off the reference simulator (not the engine's monitor)."""
    run = simulate(dataclasses.replace(model, time_steps=len(raster)), raster)
    forward, centre = run.output_spikes[0][:, FORWARD], raster[:, CENTRE]
    return [t for t in range(len(raster)) if forward[t] and centre[max(0, t - within + 1): t + 1].any()]


def test_build_from_command_line(build, prop):
    summary, out = build
    assert (out / "summary.json").is_file()
    assert json.loads((out / "summary.json").read_text())["models"] == summary["models"]
    for name, rec in summary["models"].items():
        model = load_model(rec["path"])
        assert model.name == name and model_hash(model) == rec["sha256"]
        assert (model.input.size, model.output_size, len(model.layers)) == (4, 3, 2)
        assert model.layers[0].out_size <= 8
    assert summary["failed_expectations"] == []
    v = summary["verification"]
    assert v["within"] == prop.condition.within
    assert v["safe_kinduction"]["verdict"] == "verified" and v["safe_kinduction"]["evidence"]["depth"] >= 1
    assert v["safe_pdr"]["verdict"] == "verified" and v["safe_pdr"]["evidence"]["recheck"] == {
        "initiation": "unsat", "consecution": "unsat", "safety": "unsat"}
    assert v["safe_explore"]["verdict"] == "verified"
    naive = v["naive_bmc"]
    assert naive["verdict"] == "falsified" and naive["replay_first_violation"] is not None
    assert naive["simulated_violations"] and naive["simulated_violations"][0] == naive["replay_first_violation"]
    tight = v[f"safe_within_{prop.condition.within + 1}_bmc"]
    assert tight["verdict"] == "falsified" and tight["simulated_violations"]
    for extra in ("turns_at_obstacle", "no_overflow"):
        assert v[f"safe_{extra}"]["verdict"] == "verified"
    safe_run, naive_run = summary["episode"]["robot-safe"], summary["episode"]["robot-naive"]
    assert safe_run["property_violations"] == 0 and safe_run["collisions_within_window"] == 0
    assert naive_run["property_violations"] > 0
    for run in (safe_run, naive_run):  # drives forward in free space, turns at every centre spike
        assert run["forward_in_free_space"] >= 0.9 and run["turn_on_centre_spike"] == 1.0 and run["moves"] > 50


@pytest.mark.parametrize("method", ["kinduction", "pdr"])
def test_safe_controller_proved_for_all_time(build, prop, method):
    safe, _ = models(build)
    result = verify_unbounded(safe, prop, method=method, timeout=60)
    assert result.verdict == "verified", result.reason
    assert result.method == method and result.witness is None
    if method == "kinduction":
        assert result.evidence["depth"] >= 1
    else:
        assert result.evidence["invariant_size"] > 0


def test_naive_controller_falsified_with_a_replayed_witness(build, prop):
    safe, naive = models(build)
    within = prop.condition.within
    result = verify_unbounded(naive, prop, method="bmc", timeout=60)
    assert result.verdict == "falsified", result.reason
    witness = result.witness
    step = replay_unbounded(naive, prop, witness)
    assert step is not None and step == result.details["violation_step"]
    # directly on the simulator: forward fires at `step`, a centre spike is at most within-1 steps before
    assert violations(naive, witness, within)[0] == step
    run = simulate(dataclasses.replace(naive, time_steps=len(witness)), witness)
    assert run.output_spikes[0][step, FORWARD] == 1
    assert witness[max(0, step - within + 1): step + 1, CENTRE].any()
    # the same input is harmless for the safe controller
    assert replay_unbounded(safe, prop, witness) is None and violations(safe, witness, within) == []


def test_alarm_hold_is_exactly_the_window(build, prop):
    """The proof is not vacuous: a centre spike, then go on every step, drives the safe
    controller forward exactly `within` steps later (and the naive one sooner)."""
    safe, naive = models(build)
    within = prop.condition.within
    raster = np.zeros((within + 4, 4), dtype=np.int8)
    raster[0, CENTRE] = 1
    raster[:, GO] = 1
    forward = simulate(dataclasses.replace(safe, time_steps=len(raster)), raster).output_spikes[0][:, FORWARD]
    assert forward.tolist() == [0] * within + [1] * 4
    assert violations(naive, raster, within)


def test_exhaustive_short_runs_agree_with_the_verdicts(build, prop):
    """Independent of the engine: every input of 5 steps (16^5 rasters) on the simulator;
    none violates the property on the safe controller, some do on the naive one."""
    safe, naive = models(build)
    steps, within = 5, prop.condition.within
    codes = np.arange(16 ** steps)[:, None] >> np.arange(4 * steps)
    rasters = (codes & 1).astype(np.int8).reshape(-1, steps, 4)
    recent = np.stack([rasters[:, max(0, t - within + 1): t + 1, CENTRE].any(axis=1) for t in range(steps)], axis=1)
    bad = {}
    for model in (safe, naive):
        forward = simulate(dataclasses.replace(model, time_steps=steps), rasters).output_spikes[:, :, FORWARD]
        bad[model.name] = int((forward.astype(bool) & recent).any(axis=1).sum())
    assert bad["robot-safe"] == 0 and bad["robot-naive"] > 0


def test_worst_case_cost_over_every_input_is_certified(build):
    """Per-inference latency and energy on Loihi: CP-SAT certifies the maximum over all
    2^64 input rasters of the safe controller; no random raster exceeds it, and the energy
    budget at the maximum is verified while one femtojoule less is falsified."""
    from verisnn.hardware import cost
    from verisnn.properties import AnyInput, EnergyAtMost, Property
    from verisnn.verify import verify
    from verisnn.worst_case import worst_case

    safe, _ = models(build)
    centre = np.zeros((safe.time_steps, safe.input.size), dtype=np.int8)
    sample = (np.random.default_rng(0).random((5000, *centre.shape)) < 0.3).astype(np.int8)
    priced = cost(safe, sample, "loihi")
    for quantity, exact in (("latency_us", priced.latency_ps), ("energy_uj", priced.energy_fj)):
        worst = worst_case(safe, centre, AnyInput(), quantity, "loihi", timeout=60, method="cpsat")
        assert worst.status == "optimal", worst.reason
        assert max(int(v) for v in exact) <= worst.exact_value
    top = worst.exact_value  # energy, fJ
    assert verify(safe, centre, Property(AnyInput(), EnergyAtMost(top / 10**9)), method="cpsat",
                  timeout=60).verdict == "verified"
    below = verify(safe, centre, Property(AnyInput(), EnergyAtMost((top - 1) / 10**9)), method="cpsat", timeout=60)
    assert below.verdict == "falsified"
    assert int(cost(safe, below.witness, "loihi").energy_fj[0]) == top  # above top - 1, at most the maximum
