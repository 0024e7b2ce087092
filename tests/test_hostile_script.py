"""benchmarks/hostile_inputs.py, the instrument of issue 14's figures, cannot rot: its quick
mode runs a few cases of every category end to end, and its judges tell a clear refusal
from a traceback, an accepted tampered certificate, a write outside the output folder."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "hostile_inputs.py"


@pytest.fixture(scope="module")
def hostile():
    spec = importlib.util.spec_from_file_location("hostile_inputs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def run(hostile, exit, stdout="", stderr="", elapsed=0.5):
    return hostile.Run(["x"], exit, elapsed, 100.0, stdout, stderr)


def test_the_quick_run_measures_every_category(tmp_path):
    results = tmp_path / "r.json"
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--json", str(results)], capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    doc = json.loads(results.read_text())
    assert doc["quick"] and doc["commit"] and doc["machine"]["cores"]
    for category in ("bad", "resource", "tamper", "interrupt"):
        assert doc["figures"][category]["tried"] >= 1, category
    for record in doc["cases"]:
        assert {"category", "name", "command", "exit", "elapsed_s", "peak_rss_mib", "passed", "why"} <= set(record)
    controls = [r for r in doc["cases"] if r["category"] == "control"]
    assert controls and all(r["passed"] for r in controls), [r for r in controls if not r["passed"]]
    by_name = {r["name"]: r for r in doc["cases"]}
    assert by_name["info.MODEL.missing"]["passed"] and by_name["info.MODEL.missing"]["exit"] == 2
    assert "| bad inputs |" in done.stdout and "| tampered certificates |" in done.stdout


def test_a_refusal_is_one_named_json_error_with_exit_2(hostile):
    ok = json.dumps({"error": "m.snn.json: time_steps: 0 is less than 1", "kind": "bad_input"})
    assert hostile.refusal(run(hostile, 2, ok))[0]
    assert not hostile.refusal(run(hostile, 1, json.dumps({"error": "KeyError: x", "kind": "internal"})))[0]
    assert not hostile.refusal(run(hostile, 0, json.dumps({"verdict": "verified"})))[0]
    assert not hostile.refusal(run(hostile, 2, ok + "\n" + ok))[0]
    assert not hostile.refusal(run(hostile, 2, json.dumps({"error": "", "kind": "bad_input"})))[0]
    assert not hostile.refusal(run(hostile, 2, json.dumps({"error": "x" * 5000, "kind": "bad_input"})))[0]
    assert not hostile.refusal(run(hostile, 2, ok, "Traceback (most recent call last):\n  ..."))[0]
    assert not hostile.refusal(run(hostile, None, ""))[0]  # killed at the limit


def test_a_tampered_certificate_must_be_rejected_in_time(hostile):
    assert hostile.rejected(run(hostile, 0, json.dumps({"valid": False, "checks": [{"name": "pdr", "ok": False}]})))[0]
    assert not hostile.rejected(run(hostile, 0, json.dumps({"valid": True, "checks": []})))[0]
    assert not hostile.rejected(run(hostile, None, ""))[0]
    assert hostile.bounded(run(hostile, 0, json.dumps({"verdict": "unknown"}), elapsed=3.0), 10.0)[0]
    assert not hostile.bounded(run(hostile, 0, json.dumps({"verdict": "unknown"}), elapsed=12.0), 10.0)[0]
    late = json.dumps({"verdict": "unknown", "time_s": 8.6})  # a 5 s --timeout overrun, inside the wall limit
    assert not hostile.bounded(run(hostile, 0, late, elapsed=9.0), 10.5, 5.0)[0]


def test_writes_outside_the_output_folder_are_found(hostile, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "given.json").write_text("{}")
    before = hostile.snapshot(tmp_path)
    (tmp_path / "out" / "fine.json").write_text("{}")
    (tmp_path / "escaped").write_text("x")
    (tmp_path / "given.json").write_text('{"changed": 1}')
    assert hostile.written_outside(before, hostile.snapshot(tmp_path), ("out",)) == ["escaped", "given.json"]
    before = hostile.snapshot(tmp_path)
    (tmp_path / "out" / "a" / "b" / "audit").mkdir(parents=True)  # the folders on the way are allowed
    (tmp_path / "out" / "a" / "x").write_text("../../../x from out/a/b/audit/extractions")
    assert hostile.written_outside(before, hostile.snapshot(tmp_path), ("out/a/b/audit",)) == ["out/a/x"]


def test_every_edit_of_a_certificate_field_changes_it(hostile):
    for value in (True, 3, 0.5, "z3", "a" * 64, "text", None, [], [[0, 1], [1, 0]], ["a", "b"], {"k": 1}, [2, 3]):
        assert hostile.mutate(value) != value, value
    doc = {"evidence": {"depth": 1}}
    assert hostile.set_at(doc, ("evidence", "depth"), 2) == {"evidence": {"depth": 2}} and doc["evidence"]["depth"] == 1
