"""`verisnn audit` end to end on a tiny model: every (input, property) answered and
certified, each certificate valid on the trusted kernel's check, the rules and the learned
automaton extracted, the report written with every section the bundle has; a rerun runs
nothing again; the campaign's answers equal direct verify() calls; a tampered certificate
in the bundle is caught by `verisnn check`."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from verisnn import cli
from verisnn.campaign import campaign_results
from verisnn.checker import check_certificate
from verisnn.model import Dense, InputSpec, Model, Neuron, Readout
from verisnn.model_format import model_hash, save_model
from verisnn.properties import parse_property
from verisnn.verify import verify

PROPERTIES = {
    "robust1": {"region": {"flips": 1}, "condition": "robust"},
    "robust2": {"region": {"flips": 2}, "condition": "robust"},
    "quiet": {"region": {"flips": 1}, "condition": {"spikes_at_most": 9}},
}


def tiny_model() -> Model:
    hidden = Dense(weight=[[3, 1, 0, -1], [0, 2, 2, 0], [-1, 0, 1, 3]], recurrent=[[0, -1, 0], [0, 0, 0], [0, 0, 0]],
                   neuron=Neuron(size=3, model="lif", threshold=3, v_decay=(1, 1), v_bits=4))
    out = Dense(weight=[[2, 0, -1], [-1, 1, 2]], neuron=Neuron(size=2, model="lif", threshold=2, v_decay=(1, 1),
                                                            v_bits=4))
    return Model(time_steps=3, input=InputSpec(size=4), layers=(hidden, out),
                 readout=Readout("spike_count", "lowest_index"), name="tiny")


@pytest.fixture(scope="module")
def audit(tmp_path_factory):
    folder = tmp_path_factory.mktemp("audit")
    rng = np.random.default_rng(3)
    save_model(tiny_model(), folder / "m.snn.json")
    np.save(folder / "X.npy", (rng.random((12, 3, 4)) < 0.45).astype(np.int8))
    (folder / "A.json").write_text(json.dumps({"letters": {"a": [[1, 0, 0, 0]], "b": [[0, 0, 1, 1]],
                                                           "z": [[0, 0, 0, 0]]}}))
    config = {"name": "tiny-audit", "model": "m.snn.json", "inputs": {"file": "X.npy", "select": {"first": 6}},
              "properties": [{"name": k, "property": v} for k, v in PROPERTIES.items()],
              "verify": {"method": "auto", "timeout": 30},
              "extractions": [{"kind": "tree", "name": "rules", "max_rules": 5, "split": "draws", "n_samples": 2000,
                               "n_eval": 2000},
                              {"kind": "automaton", "name": "machine", "alphabet": "A.json", "oracle": "exact"}],
              "certificates": True, "profile": "loihi",
              "report": {"explain_inputs": 1, "faithfulness_inputs": 3, "saliency": ["deletion", "sam"]}}
    (folder / "audit.yaml").write_text(json.dumps(config))
    out = folder / "out"
    code = cli.main(["audit", str(folder / "audit.yaml"), "--out", str(out), "--workers", "2", "--no-progress",
                     "--json"])
    assert code == 0
    return folder, out


def test_every_query_answered_certified_and_checked(audit):
    folder, out = audit
    summary = json.loads((out / "summary.json").read_text())
    assert summary["queries"] == 6 * len(PROPERTIES) + 2 and summary["errors"] == 0 and summary["extracted"] == 2
    assert summary["verified"] + summary["falsified"] + summary["unknown"] == 6 * len(PROPERTIES)
    assert summary["certificates"]["written"] == summary["certificates"]["valid"] == 6 * len(PROPERTIES)
    rows = campaign_results(out)
    x = np.load(folder / "X.npy")
    for r in rows:
        if r["kind"] != "verify":
            continue
        direct = verify(tiny_model(), x[r["input_index"]], parse_property(r["property"]), method="auto", timeout=30)
        assert r["verdict"] == direct.verdict, r["property_name"]
        assert r["result"]["certificate_check"]["valid"] is True
        assert check_certificate(out / r["certificate"]).valid


def test_extractions_and_report(audit):
    _, out = audit
    assert (out / "extractions" / "rules" / "rules.json").is_file()
    assert (out / "extractions" / "machine" / "automaton.json").is_file()
    html = (out / "report.html").read_text()
    for heading in ("Summary", "Robustness versus flip budget", "Latency and energy", "Rules", "Automata",
                    "Explanations", "Certificates"):
        assert f"<h2>{heading}" in html, heading
    assert "INVALID" not in html
    n = 6 * len(PROPERTIES)
    rows = [r for r in campaign_results(out) if r["kind"] == "verify"]
    claims = sum(r["verdict"] in ("verified", "falsified") for r in rows)
    # how each was re-validated: every claim by the kernel alone (tiny regions), the rest make none
    assert re.search(rf"{n} certificates, {n} valid: {claims} re-derived by the trusted kernel \(.*\), 0 "
                     rf"solver-trusted \(.*\), {n - claims} without a claim \(unknown, error\); each embeds the "
                     rf"model", html), html[html.index("certificates,") - 10:][:400]
    assert html.count(">valid (kernel)<") == claims


def test_rerun_runs_nothing_again_and_tampering_is_caught(audit, capsys):
    folder, out = audit
    before = campaign_results(out)
    code = cli.main(["audit", str(folder / "audit.yaml"), "--out", str(out), "--workers", "1", "--no-progress",
                     "--json"])
    answer = json.loads(capsys.readouterr().out)
    assert code == 0 and answer["ran"] == 0 and answer["skipped_done"] == answer["queries"]
    assert campaign_results(out) == before
    row = next(r for r in before if r["verdict"] == "verified")
    doc = json.loads((out / row["certificate"]).read_text())
    doc["verdict"] = "falsified"
    (folder / "tampered.json").write_text(json.dumps(doc))
    assert not check_certificate(folder / "tampered.json").valid


def test_a_bundle_is_re_checked_in_one_command(audit, tmp_path, capsys):
    """`verisnn check DIR` checks every certificate of an audit folder and tallies them;
    a tampered certificate and a file that is not JSON are named, the rest still checked."""
    import shutil

    _, out = audit
    n = 6 * len(PROPERTIES)
    assert cli.main(["check", str(out), "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["valid"] is True and answer["count"] == answer["valid_count"] == n
    copy = tmp_path / "certs"
    shutil.copytree(out / "certificates", copy)
    first = sorted(copy.iterdir())[0]
    doc = json.loads(first.read_text())
    doc["centre"]["reference_decision"] = 1 - (doc["centre"]["reference_decision"] or 0)
    first.write_text(json.dumps(doc))
    (copy / "zz-broken.json").write_text("{not json")
    assert cli.main(["check", str(copy), "--json"]) == 0  # the check answered
    answer = json.loads(capsys.readouterr().out)
    bad = {r["path"]: r["failures"] for r in answer["certificates"] if not r["valid"]}
    assert answer["valid"] is False and answer["count"] == n + 1 and answer["valid_count"] == n - 1
    assert set(bad) == {str(first), str(copy / "zz-broken.json")}
    assert any(f.startswith("centre") for f in bad[str(first)]) and bad[str(copy / "zz-broken.json")][0].startswith("read")
    assert cli.main(["check", str(first), str(sorted(copy.iterdir())[1]), "--json"]) == 0  # several files
    assert json.loads(capsys.readouterr().out)["count"] == 2
    (tmp_path / "empty").mkdir()
    assert cli.main(["check", str(tmp_path / "empty"), "--json"]) == 2
    assert "no certificates" in json.loads(capsys.readouterr().out)["error"]


def test_certificates_may_name_the_bundle_s_model_by_file(audit, tmp_path, capsys):
    """``certificates: {model: file}``: one copy of the model in ``DIR/models``, every
    certificate naming it by a path relative to itself; the bundle checks valid wherever
    it is moved, and an edit of that one file invalidates every certificate."""
    folder, _ = audit
    config = json.loads((folder / "audit.yaml").read_text())
    config.update(name="by-file", inputs={"file": str(folder / "X.npy"), "select": {"first": 3}},
                  model=str(folder / "m.snn.json"), properties=[{"name": "robust1", "property": PROPERTIES["robust1"]}],
                  extractions=[], certificates={"model": "file"},
                  report={"explain_inputs": 0, "faithfulness_inputs": 0})
    (tmp_path / "by-file.yaml").write_text(json.dumps(config))
    out = tmp_path / "bundle"
    assert cli.main(["audit", str(tmp_path / "by-file.yaml"), "--out", str(out), "--workers", "1", "--no-progress",
                     "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["certificates"]["written"] == summary["certificates"]["valid"] == 3
    sha = model_hash(tiny_model())
    assert [p.name for p in (out / "models").iterdir()] == [f"{sha}.snn.json"]
    certs = sorted((out / "certificates").iterdir())
    report = (out / "report.md").read_text()
    assert "3 certificates, 3 valid: " in report and "each names the model by its SHA-256 and the " \
           f"bundle's one copy of it, `models/{sha}.snn.json`" in report
    for c in certs:
        model = json.loads(c.read_text())["model"]
        assert model["document"] is None and model["path"] == f"../models/{sha}.snn.json"
    moved = tmp_path / "handed-over"
    out.rename(moved)
    assert all(check_certificate(moved / "certificates" / c.name).valid for c in certs)
    model_file = moved / "models" / f"{sha}.snn.json"
    doc = json.loads(model_file.read_text())
    doc["layers"][1]["weight"][0][0] += 1
    model_file.write_text(json.dumps(doc))
    assert cli.main(["check", str(moved / "certificates" / certs[0].name), "--json"]) == 0  # an answer: not valid
    answer = json.loads(capsys.readouterr().out)
    assert answer["valid"] is False and any(c["name"] == "model" and not c["ok"] for c in answer["checks"])


def test_bad_config_is_bad_input(tmp_path, capsys):
    (tmp_path / "bad.yaml").write_text("name: x\nmodel: missing.snn.json\nproperties: []\n")
    code = cli.main(["audit", str(tmp_path / "bad.yaml"), "--out", str(tmp_path / "o"), "--json"])
    answer = json.loads(capsys.readouterr().out)
    assert code == 2 and "bad.yaml" in answer["error"]
