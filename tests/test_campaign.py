"""Audit campaigns (verisnn.campaign, verisnn.store): config validation, answers equal
to direct verify() calls, the append-only store, kill -9 and resume with nothing lost
and nothing run twice, and the same answers on 1 or 2 worker processes and on Dask."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
import yaml

from verisnn.campaign import (CampaignConfig, CampaignError, campaign_results, certificate_path, default_runner,
                              load_config, plan_queries, run_campaign, write_json_atomic)
from verisnn.errors import InputError
from verisnn.model import Dense, InputSpec, Model, Neuron, Readout
from verisnn.model_format import save_model
from verisnn.properties import parse_property
from verisnn.store import Store, StoreError
from verisnn.verify import verify

PROPS = {
    "flips1": {"region": {"flips": 1}, "condition": "robust"},
    "del2": {"region": {"deletions": 2}, "condition": {"spikes_at_most": 6}},
    "del1": {"region": {"deletions": 1}, "condition": {"spikes_at_most": 30}},
}
UNBOUNDED = {"region": "any", "condition": {"never_fires": [1, 0]}, "horizon": "unbounded"}
N_INPUTS = 8


def tiny_model() -> Model:
    rng = np.random.default_rng(0)
    hidden = Dense(rng.integers(-3, 4, (5, 6)).tolist(), Neuron(5, "lif", threshold=3, v_decay=(1, 1)))
    out = Dense(rng.integers(-3, 4, (3, 5)).tolist(), Neuron(3, "lif", threshold=2, v_decay=(1, 1)))
    return Model(time_steps=4, input=InputSpec(6), layers=(hidden, out), readout=Readout("spike_count"))


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A campaign folder: tiny.snn.json, inputs, labels, three property files, an alphabet, config.yaml."""
    d = tmp_path_factory.mktemp("campaign")
    save_model(tiny_model(), d / "tiny.snn.json")
    rng = np.random.default_rng(1)
    np.save(d / "inputs.npy", rng.integers(0, 2, (N_INPUTS, 4, 6)).astype(np.int8))
    np.save(d / "labels.npy", rng.integers(0, 3, N_INPUTS).astype(np.int64))
    (d / "props").mkdir()
    for name, doc in PROPS.items():
        (d / "props" / f"{name}.yaml").write_text(yaml.safe_dump(doc))
    (d / "alphabet.json").write_text('{"letters": []}')
    write_config(d / "config.yaml", base_config())
    return d


def base_config(**changes) -> dict:
    doc = {"name": "tiny", "model": "tiny.snn.json",
           "inputs": {"file": "inputs.npy", "labels": "labels.npy"},
           "properties": [{"name": n, "file": f"props/{n}.yaml"} for n in PROPS] + [
               {"name": "quiet", "property": UNBOUNDED}],
           "verify": {"method": "auto", "timeout": 20}}
    doc.update(changes)
    return doc


def write_config(path: Path, doc: dict) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def plain(result: dict) -> dict:
    """A stored or direct answer without its timings (they differ between runs)."""
    def strip(x):
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items() if k != "time_s" and not k.endswith("_time_s")}
        if isinstance(x, list):
            return [strip(v) for v in x]
        return x
    return strip(json.loads(json.dumps(result)))


def answers(out: Path) -> dict[str, tuple]:
    return {r["key"]: (r["input_index"], r["property_name"], r["verdict"], plain(r["result"]))
            for r in campaign_results(out)}


def failing_runner(query, out_dir):
    """Raises on input 2 (an error row), answers the rest."""
    if query.index == 2:
        raise RuntimeError("boom on input 2")
    return default_runner(query, out_dir)


def crashing_runner(query, out_dir):
    """Kills its worker process on input 5, once (a marker file remembers)."""
    marker = out_dir / "crashed-once"
    if query.index == 5 and not marker.exists():
        marker.touch()
        os._exit(1)
    return default_runner(query, out_dir)


def certifying_runner(query, out_dir):
    """Writes a (toy) certificate per verify query; runs extractions as a count of inputs."""
    if query.kind == "extract":
        return {"verdict": "done", "method": query.method,
                "result": {"kind": query.method, "inputs": len(query.indices),
                           "alphabet": Path(query.extraction["alphabet"]).name if "alphabet" in query.extraction
                           else None}}
    outcome = default_runner(query, out_dir)
    path = write_json_atomic(certificate_path(out_dir, query.key), {"key": query.key, "verdict": outcome["verdict"]})
    return {**outcome, "certificate": str(path)}


# ----------------------------------------------------------------------------- config validation

BAD_CONFIGS = [
    (lambda d: d.pop("name"), "(top level)", "'name' is a required property"),
    (lambda d: d.update(name=3), "name", "not of type"),
    (lambda d: d.update(colour="red"), "(top level)", "colour"),
    (lambda d: d.pop("model"), "model", "exactly one of model"),
    (lambda d: d.update(case_study="digits"), "model", "exactly one of model"),
    (lambda d: d.update(model="missing.snn.json"), "model", "no such file"),
    (lambda d: d.update(model="inputs.npy"), "model: inputs.npy", "not UTF-8"),
    (lambda d: d.update(inputs={"file": "nope.npy"}), "inputs.file", "no such file"),
    (lambda d: d.update(inputs={"file": "labels.npy"}), "inputs.file", "rasters [N, T, n]"),
    (lambda d: d.update(inputs={"file": "inputs.npy", "labels": "inputs.npy"}), "inputs.labels", "integers [N]"),
    (lambda d: d.update(inputs={"file": "inputs.npy", "select": {"first": 0}}), "inputs.select.first", "minimum"),
    (lambda d: d.update(inputs={"file": "inputs.npy", "select": {"first": 99}}), "inputs.select.first", "of 8"),
    (lambda d: d.update(inputs={"file": "inputs.npy", "select": {"indices": [1, 8]}}), "inputs.select.indices[1]",
     "out of range"),
    (lambda d: d.update(inputs={"file": "inputs.npy", "select": {"first": 1, "indices": [0]}}), "inputs.select",
     "too many properties"),
    (lambda d: d.update(inputs={"file": "inputs.npy", "extra": 1}), "inputs", "extra"),
    (lambda d: d.pop("inputs"), "inputs", "needs centre rasters"),
    (lambda d: d["properties"].append({"name": "flips1", "property": PROPS["del1"]}), "properties[4].name",
     "already names"),
    (lambda d: d["properties"].append({"name": "x", "property": PROPS["flips1"]}), "properties[4]", "same property"),
    (lambda d: d["properties"].append({"name": "x"}), "properties[4]", "exactly one of file"),
    (lambda d: d["properties"].append({"name": "x", "file": "props/none.yaml"}), "properties[4].file",
     "no such file"),
    (lambda d: d["properties"].append({"name": "x", "property": {"condition": "fast"}}),
     "properties[4].property: condition", "expected"),
    (lambda d: d["properties"].append({"name": "x", "property": {"region": {"flips": 1},
                                                                 "condition": {"decided_by": 9}}}),
     "properties[4] (x) does not fit the model: condition.decided_by", "time_steps"),
    (lambda d: d["properties"].append({"name": "x", "property": PROPS["flips1"], "method": "magic"}),
     "properties[4].method", "is not one of"),
    (lambda d: d["properties"].append({"name": "x", "property": PROPS["flips1"], "method": "pdr"}),
     "properties[4].method", "does not decide bounded"),
    (lambda d: d.update(verify={"method": "enumerate"}), "verify.method", "does not decide unbounded"),
    (lambda d: d.update(verify={"timeout": 0}), "verify.timeout", "less than or equal to the minimum"),
    (lambda d: d.update(verify={"timeout": "long"}), "verify.timeout", "not of type"),
    (lambda d: d.update(properties=[]), "properties", "at least one property or extraction"),
    (lambda d: d.update(extractions=[{"kind": "forest"}]), "extractions[0].kind", "is not one of"),
    (lambda d: d.update(extractions=[{"kind": "automaton", "alphabet": "none.json"}]), "extractions[0].alphabet",
     "no such file"),
    (lambda d: d.update(extractions=[{"kind": "tree"}, {"kind": "tree"}]), "extractions[1]", "same task"),
    (lambda d: d.update(extractions=[{"kind": "tree", "select": {"first": 99}}]), "extractions[0].select.first",
     f"first 99 of {N_INPUTS} inputs"),
    (lambda d: d.update(extractions=[{"kind": "tree", "select": {"indices": [1, 8]}}]),
     "extractions[0].select.indices[1]", "index 8 out of range"),
    (lambda d: d.update(extractions=[{"kind": "tree", "select": "some"}]), "extractions[0].select", "'all' was expected"),
    (lambda d: d.update(certificates="yes"), "certificates", "not of type"),
    (lambda d: d.update(certificates={"model": "disk"}), "certificates.model", "is not one of"),
    (lambda d: d.update(certificates={}), "certificates", "'model' is a required property"),
    (lambda d: d.update(profile=""), "profile", "non-empty"),
    (lambda d: d.update(profile="loihi9"), "profile", "unknown profile 'loihi9'"),
    (lambda d: d.update(profile="chips/mine.yaml"), "profile", "no such profile file"),
]


@pytest.mark.parametrize("change, path, words", BAD_CONFIGS)
def test_config_errors_name_the_key(folder, change, path, words):
    doc = base_config()
    change(doc)
    with pytest.raises(InputError) as info:
        load_config(write_config(folder / "bad.yaml", doc))
    assert info.value.path == path, str(info.value)
    assert words in info.value.message, str(info.value)


def test_config_file_errors(folder, monkeypatch, tmp_path):
    cases = {"dup.yaml": "name: a\nname: b\n", "alias.yaml": "name: &n a\nmodel: *n\n", "list.yaml": "- 1\n",
             "broken.yaml": "name: [a\n", "code.yaml": "name: !!python/object/apply:os.system ['true']\n"}
    for fname, text in cases.items():
        (folder / fname).write_text(text)
        with pytest.raises(InputError) as info:
            load_config(folder / fname)
        assert "Traceback" not in str(info.value)
    with pytest.raises(InputError, match="no such file"):
        load_config(folder / "absent.yaml")
    # case studies: an unknown name, a name with several models, a model that is not built
    with pytest.raises(InputError, match="unknown case study 'chess'"):
        load_config({"name": "x", "case_study": "chess", "properties": [{"name": "p", "property": UNBOUNDED}]})
    with pytest.raises(InputError, match="robot/naive, robot/safe"):
        load_config({"name": "x", "case_study": "robot", "properties": [{"name": "p", "property": UNBOUNDED}]})
    monkeypatch.setenv("VERISNN_ARTIFACTS", str(tmp_path))
    with pytest.raises(InputError, match="the iris model is not built") as info:
        load_config({"name": "x", "case_study": "iris", "properties": [{"name": "p", "property": UNBOUNDED}]})
    assert info.value.path == "case_study"


def test_case_study_resolves_to_the_built_model(folder, tmp_path, monkeypatch):
    # a built "digits" case study in an artifacts folder of its own (CI runs the tests on a
    # clean clone, where artifacts/ is not built)
    built = tmp_path / "digits"
    built.mkdir()
    save_model(tiny_model(), built / "digits-lif.snn.json")
    for name in ("inputs", "labels"):
        (built / f"test_{name}.npy").write_bytes((folder / f"{name}.npy").read_bytes())
    monkeypatch.setenv("VERISNN_ARTIFACTS", str(tmp_path))
    cfg = load_config({"name": "d", "case_study": "digits", "inputs": {"select": {"first": 3}},
                       "properties": [{"name": "p", "property": PROPS["flips1"]}]})
    assert cfg.model_path == (built / "digits-lif.snn.json").resolve()
    assert cfg.inputs_path == (built / "test_inputs.npy").resolve()
    assert cfg.labels_path == (built / "test_labels.npy").resolve()
    assert [q.index for q in plan_queries(cfg)] == [0, 1, 2]


# ----------------------------------------------------------------------------- queries and answers


def test_keys_are_stable_and_name_what_the_answer_depends_on(folder):
    cfg = load_config(folder / "config.yaml")
    queries = plan_queries(cfg)
    assert len(queries) == N_INPUTS * len(PROPS) + 1  # the unbounded property is one query
    assert len({q.key for q in queries}) == len(queries)
    assert [q.key for q in plan_queries(load_config(folder / "config.yaml"))] == [q.key for q in queries]
    # renaming a property or switching file <-> inline keeps the keys; a new timeout changes them
    doc = base_config()
    doc["properties"][0] = {"name": "renamed", "property": PROPS["flips1"]}
    assert [q.key for q in plan_queries(load_config(write_config(folder / "c2.yaml", doc)))] == \
        [q.key for q in queries]
    changed = plan_queries(load_config(write_config(folder / "c3.yaml", base_config(verify={"timeout": 7}))))
    assert not {q.key for q in changed} & {q.key for q in queries}
    # certificates embedding the model are what `true` asks for; naming it by file is another answer
    keys = {}
    for name, value in (("true", True), ("embedded", {"model": "embedded"}), ("file", {"model": "file"})):
        planned = plan_queries(load_config(write_config(folder / f"c-{name}.yaml", base_config(certificates=value))))
        keys[name] = [q.key for q in planned]
        assert {q.certificate_model for q in planned} == {value["model"] if isinstance(value, dict) else "embedded"}
    assert keys["true"] == keys["embedded"] and not set(keys["file"]) & set(keys["true"])


def test_campaign_answers_equal_direct_verify_calls(folder, tmp_path):
    summary = run_campaign(folder / "config.yaml", tmp_path / "out", workers=1, progress=False)
    model = tiny_model()
    X, y = np.load(folder / "inputs.npy"), np.load(folder / "labels.npy")
    rows = campaign_results(tmp_path / "out", folder / "config.yaml")
    assert len(rows) == summary["queries"] == N_INPUTS * len(PROPS) + 1
    for row in rows:
        prop = parse_property(PROPS[row["property_name"]] if row["property_name"] in PROPS else UNBOUNDED)
        if row["input_index"] is None:
            direct = verify(model, None, prop, timeout=20)
        else:
            direct = verify(model, X[row["input_index"]], prop, timeout=20)
            assert row["label"] == int(y[row["input_index"]])
        assert plain(row["result"]) == plain(direct.to_json()), row["key"]
        assert row["verdict"] == direct.verdict and row["worker"] and row["stored_at"]
    verdicts = [r["verdict"] for r in rows]
    assert {"verified", "falsified"} <= set(verdicts)  # the campaign exercises both answers
    assert summary["verified"] == verdicts.count("verified") and summary["falsified"] == verdicts.count("falsified")
    assert summary["errors"] == 0 and summary["skipped_done"] == 0 and summary["report"] is None
    # a rerun finds everything done and runs nothing
    again = run_campaign(folder / "config.yaml", tmp_path / "out", workers=1, progress=False)
    assert again["skipped_done"] == again["queries"] and again["ran"] == 0
    assert {k: summary[k] for k in ("verified", "falsified", "unknown", "errors")} == \
        {k: again[k] for k in ("verified", "falsified", "unknown", "errors")}
    # adding a property runs only its queries
    doc = base_config()
    doc["properties"].append({"name": "flips1-lia", "property": PROPS["flips1"], "method": "enumerate"})
    more = run_campaign(write_config(folder / "more.yaml", doc), tmp_path / "out", workers=1, progress=False)
    assert more["skipped_done"] == summary["queries"] and more["ran"] == N_INPUTS


def test_one_and_two_workers_and_dask_give_the_same_answers(folder, tmp_path):
    from distributed import LocalCluster

    one = run_campaign(folder / "config.yaml", tmp_path / "one", workers=1, progress=False)
    two = run_campaign(folder / "config.yaml", tmp_path / "two", workers=2, progress=False)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        dask = run_campaign(folder / "config.yaml", tmp_path / "dask", scheduler=cluster, progress=False)
    reference = answers(tmp_path / "one")
    assert answers(tmp_path / "two") == reference
    assert answers(tmp_path / "dask") == reference
    assert len({r["worker"] for r in campaign_results(tmp_path / "two")}) == 2
    drop = ("time_s", "out", "ran")
    assert {k: v for k, v in one.items() if k not in drop} == {k: v for k, v in two.items() if k not in drop} == \
        {k: v for k, v in dask.items() if k not in drop}
    with Store(tmp_path / "dask", writable=False) as store:
        (run,) = store.runs()
    assert run["scheduler"] == "LocalCluster" and run["status"] == "completed"


def test_query_errors_become_error_rows_and_the_campaign_goes_on(folder, tmp_path):
    summary = run_campaign(folder / "config.yaml", tmp_path / "out", workers=2, progress=False,
                           task_runner=failing_runner)
    rows = campaign_results(tmp_path / "out")
    errors = [r for r in rows if r["verdict"] == "error"]
    assert len(errors) == len(PROPS) and {r["input_index"] for r in errors} == {2}
    assert all("RuntimeError: boom on input 2" == r["reason"] for r in errors)
    assert summary["errors"] == len(PROPS) and len(rows) == summary["queries"]
    # an error is an answer: a rerun does not repeat it
    assert run_campaign(folder / "config.yaml", tmp_path / "out", workers=1, progress=False)["ran"] == 0


def test_a_dead_worker_stops_the_campaign_and_a_rerun_resumes(folder, tmp_path):
    with pytest.raises(InputError, match="module-level function") as info:
        run_campaign(folder / "config.yaml", tmp_path / "out", workers=1, progress=False,
                     task_runner=lambda q, d: default_runner(q, d))
    assert info.value.path == "task_runner"
    with pytest.raises(CampaignError, match="a worker process died"):
        run_campaign(folder / "config.yaml", tmp_path / "out", workers=2, progress=False,
                     task_runner=crashing_runner)
    before = campaign_results(tmp_path / "out")
    assert len(before) < N_INPUTS * len(PROPS) + 1
    summary = run_campaign(folder / "config.yaml", tmp_path / "out", workers=2, progress=False,
                           task_runner=crashing_runner)
    after = campaign_results(tmp_path / "out")
    assert summary["skipped_done"] == len(before) and summary["errors"] == 0
    assert after[: len(before)] == before and len({r["key"] for r in after}) == len(after) == summary["queries"]
    with Store(tmp_path / "out", writable=False) as store:
        assert [r["status"] for r in store.runs()] == ["failed", "completed"]


def test_certificates_and_extractions_through_the_task_runner(folder, tmp_path):
    doc = base_config(certificates=True, extractions=[{"kind": "tree", "max_depth": 3},
                                                      {"kind": "automaton", "alphabet": "alphabet.json"}])
    doc["inputs"]["select"] = {"indices": [0, 3]}
    cfg_path = write_config(folder / "certs.yaml", doc)
    with pytest.raises(InputError) as info:
        run_campaign(cfg_path, tmp_path / "plain", workers=1, progress=False)
    assert info.value.path == "certificates"
    summary = run_campaign(cfg_path, tmp_path / "out", workers=2, progress=False, task_runner=certifying_runner)
    assert summary["queries"] == 2 * len(PROPS) + 1 + 2 and summary["extracted"] == 2
    rows = campaign_results(tmp_path / "out", cfg_path)
    for r in rows:
        if r["kind"] == "verify":
            assert r["certificate"] == f"certificates/{r['key']}.json"
            data = (tmp_path / "out" / r["certificate"]).read_bytes()
            assert json.loads(data)["verdict"] == r["verdict"]
            assert r["certificate_sha256"] == hashlib.sha256(data).hexdigest()
        else:
            assert r["verdict"] == "done" and r["certificate"] is None
    tree, automaton = [r for r in rows if r["kind"] == "extract"]
    assert tree["result"] == {"kind": "tree", "inputs": 2, "alphabet": None}
    # an extraction may learn from its own selection of the inputs; it is another task (another key)
    for select, n in (("all", N_INPUTS), ({"first": 5}, 5), ({"indices": [0, 3]}, 2)):
        doc["extractions"][0] = {"kind": "tree", "max_depth": 3, "select": select}
        planned = [q for q in plan_queries(load_config(write_config(folder / "select.yaml", doc))) if q.kind == "extract"]
        assert len(planned[0].indices) == n and planned[0].key != tree["key"]
        assert planned[1].key == automaton["key"]  # the automaton's own task is untouched
    summary = run_campaign(folder / "select.yaml", tmp_path / "out2", workers=1, progress=False,
                           task_runner=certifying_runner)
    rows = [r for r in campaign_results(tmp_path / "out2", folder / "select.yaml") if r["kind"] == "extract"]
    assert rows[0]["result"]["inputs"] == 2 and rows[0]["extraction"]["select"] == {"indices": [0, 3]}
    assert automaton["result"]["alphabet"] == "alphabet.json" and automaton["extraction"]["kind"] == "automaton"


def test_the_store_is_append_only_and_locked(folder, tmp_path):
    run_campaign(folder / "config.yaml", tmp_path / "out", workers=1, progress=False)
    db = sqlite3.connect(tmp_path / "out" / "campaign.sqlite")
    for sql in ("UPDATE results SET verdict = 'verified'", "DELETE FROM results", "DELETE FROM runs",
                "UPDATE campaign SET name = 'other'"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute(sql)
    row = db.execute("SELECT * FROM results LIMIT 1").fetchone()
    with pytest.raises(sqlite3.IntegrityError):
        db.execute(f"INSERT INTO results VALUES ({', '.join('?' * len(row))})", row)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    with Store(tmp_path / "out") as held:
        with pytest.raises(StoreError, match="lock"):
            run_campaign(folder / "config.yaml", tmp_path / "out", workers=1, progress=False)
        assert held.campaign()["name"] == "tiny"
    with pytest.raises(StoreError, match="holds campaign 'tiny'"):
        run_campaign(write_config(folder / "other.yaml", base_config(name="other")), tmp_path / "out",
                     workers=1, progress=False)


# ----------------------------------------------------------------------------- kill -9 and resume

SLOW_SCRIPT = """
import sys, time
from verisnn.campaign import default_runner, run_campaign


def slow_runner(query, out_dir):
    time.sleep(0.4)  # slow enough that the kill lands mid-campaign
    return default_runner(query, out_dir)


if __name__ == "__main__":
    run_campaign(sys.argv[1], sys.argv[2], workers=2, task_runner=slow_runner, progress=False)
"""


def _stored(out: Path) -> int:
    try:
        with Store(out, writable=False) as store:
            return len(store.done_keys())
    except (StoreError, sqlite3.DatabaseError):
        return 0


def test_kill_minus_nine_and_resume(folder, tmp_path):
    script = tmp_path / "slow_campaign.py"
    script.write_text(textwrap.dedent(SLOW_SCRIPT))
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, str(script), str(folder / "config.yaml"), str(out)],
                            cwd=tmp_path, start_new_session=True, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while _stored(out) < 6:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the campaign stored nothing in 60 s"
            time.sleep(0.05)
        workers = psutil.Process(proc.pid).children(recursive=True)
        assert len(workers) >= 2
        os.kill(proc.pid, signal.SIGKILL)  # the parent only: its workers must not live on as orphans
        proc.wait(10)
        gone, alive = psutil.wait_procs(workers, timeout=10)
        assert not alive, f"orphan workers {alive}"
    finally:  # whatever happened, nothing of the killed campaign's session lives on
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    total = N_INPUTS * len(PROPS) + 1
    before = campaign_results(out)
    assert 6 <= len(before) < total, "the kill should land mid-campaign"
    with Store(out, writable=False) as store:
        (killed_run,) = store.runs()
    assert killed_run["status"] is None  # a run killed by -9 never wrote its end

    # resume: the same script, not killed this time
    done = subprocess.run([sys.executable, str(script), str(folder / "config.yaml"), str(out)], cwd=tmp_path,
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    after = campaign_results(out)
    keys = [r["key"] for r in after]
    assert len(keys) == len(set(keys)) == total  # every query exactly once
    assert after[: len(before)] == before  # the rows stored before the kill are untouched
    with Store(out, writable=False) as store:
        runs = store.runs()
    assert [r["status"] for r in runs] == [None, "completed"]
    assert runs[1]["already_done"] == len(before) and runs[1]["stored"] == total - len(before)
    # and the answers equal those of an uninterrupted campaign
    run_campaign(folder / "config.yaml", tmp_path / "straight", workers=2, progress=False)
    assert answers(out) == answers(tmp_path / "straight")


def test_intensity_properties_take_analog_centres(tmp_path, monkeypatch):
    neuron = Neuron(2, "if", threshold=2)
    model = Model(time_steps=4, input=InputSpec(2, encoding={"type": "rate", "time_steps": 4, "lo": 0.0, "hi": 1.0}),
                  layers=(Dense([[1, 0], [0, 1]], neuron),), readout=Readout("spike_count"))
    save_model(model, tmp_path / "enc.snn.json")
    analog = np.array([[0.9, 0.1], [0.55, 0.45], [0.2, 0.7]])
    np.save(tmp_path / "signals.npy", analog)
    prop = {"region": {"intensity": 0.1}, "condition": "robust"}
    doc = {"name": "analog", "model": "enc.snn.json", "inputs": {"analog": "signals.npy"},
           "properties": [{"name": "eps", "property": prop}]}
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match="give inputs.analog"):
        load_config({**doc, "inputs": {}})
    run_campaign(doc, tmp_path / "out", workers=1, progress=False)
    rows = campaign_results(tmp_path / "out", doc)
    assert [r["input_index"] for r in rows] == [0, 1, 2]
    for r, x in zip(rows, analog):
        assert plain(r["result"]) == plain(verify(model, x, parse_property(prop)).to_json())
    assert {r["verdict"] for r in rows} == {"verified", "falsified"}


def test_configs_given_as_documents(folder, tmp_path, monkeypatch):
    monkeypatch.chdir(folder)
    cfg = load_config(base_config())
    assert isinstance(cfg, CampaignConfig) and cfg.base_dir == folder
    summary = run_campaign(cfg, tmp_path / "out", workers=1, progress=False)
    assert summary["queries"] == N_INPUTS * len(PROPS) + 1
