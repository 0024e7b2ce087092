"""`verisnn verify --certificate` writes a certificate that `verisnn check` validates; a
tampered one is reported not valid (exit 0: the check answered); an unreadable one is bad
input (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from verisnn import cli
from verisnn.model import Dense, InputSpec, Model, Neuron, Readout
from verisnn.model_format import save_model


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    model = Model(time_steps=3, input=InputSpec(size=3), layers=(
        Dense(weight=[[3, 1, 0], [0, 1, 3]], neuron=Neuron(size=2, model="if", threshold=3, v_bits=8)),),
        readout=Readout("spike_count", "invalid"))
    paths = {"model": tmp_path / "m.snn.json", "input": tmp_path / "x.npy", "robust": tmp_path / "robust.yaml",
             "fragile": tmp_path / "fragile.yaml"}
    save_model(model, paths["model"])
    np.save(paths["input"], np.array([[1, 0, 0], [1, 0, 0], [1, 0, 0]], dtype=np.int8))
    paths["robust"].write_text("region: {flips: 1}\ncondition: robust\n")
    paths["fragile"].write_text("region: {flips: 3}\ncondition: robust\n")
    return paths


def run(capsys, *argv) -> tuple[int, dict]:
    code = cli.main([str(a) for a in argv] + ["--json"])
    out, _ = capsys.readouterr()
    return code, json.loads(out)


@pytest.mark.parametrize("prop,verdict", [("robust", "verified"), ("fragile", "falsified")])
def test_certificate_round_trip_and_tampering(capsys, files, tmp_path, prop, verdict):
    cert = tmp_path / f"{prop}.json"
    code, answer = run(capsys, "verify", files["model"], "--input", files["input"], "--property", files[prop],
                       "--certificate", cert)
    assert code == 0 and answer["verdict"] == verdict and answer["certificate"] == str(cert)
    code, report = run(capsys, "check", cert)
    assert code == 0 and report["valid"] is True, report
    code, again = run(capsys, "check", cert, "--independent")
    assert code == 0 and again["valid"] is True and again.keys() == report.keys()
    doc = json.loads(cert.read_text())
    doc["verdict"] = "falsified" if verdict == "verified" else "verified"
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(doc))
    code, report = run(capsys, "check", tampered)
    assert code == 0 and report["valid"] is False
    assert any(not c["ok"] for c in report["checks"])


def test_a_certificate_may_name_the_model_file(capsys, files, tmp_path, monkeypatch):
    """``--certificate-model file``: the certificate names MODEL by its path relative to
    the certificate, wherever the command ran; without that file it is not valid."""
    (tmp_path / "certs").mkdir()
    monkeypatch.chdir(tmp_path / "certs")
    code, answer = run(capsys, "verify", "../m.snn.json", "--input", files["input"], "--property", files["robust"],
                       "--certificate", tmp_path / "certs" / "c.json", "--certificate-model", "file")
    assert code == 0 and answer["verdict"] == "verified"
    model = json.loads((tmp_path / "certs" / "c.json").read_text())["model"]
    assert model["document"] is None and model["path"] == "../m.snn.json"
    monkeypatch.chdir(tmp_path)
    code, report = run(capsys, "check", "certs/c.json")
    assert code == 0 and report["valid"] is True, report
    files["model"].rename(tmp_path / "moved.snn.json")
    code, report = run(capsys, "check", "certs/c.json")
    assert code == 0 and report["valid"] is False
    assert [c["name"] for c in report["checks"] if not c["ok"]] == ["model"]


def test_unreadable_certificates_are_bad_input(capsys, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, answer = run(capsys, "check", bad)
    assert code == 2 and str(bad) in answer["error"]
    code, answer = run(capsys, "check", tmp_path / "missing.json")
    assert code == 2 and "missing.json" in answer["error"]
