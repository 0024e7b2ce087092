"""`verisnn extract tree` and `verisnn extract automaton` end to end on tiny models: the
answers' contracts, the files they write (rules JSON readable without verisnn's
evaluator, Markdown, HTML; automaton exports), certification verdicts that agree with
the rules' records, and bad input named by its argument."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from verisnn import cli, simulate
from verisnn.automaton import build_automaton, parse_alphabet
from verisnn.model import Dense, InputSpec, Model, Neuron, Readout
from verisnn.model_format import save_model

from conftest import rules_json_decisions


def classifier() -> Model:
    hidden = Dense(weight=[[3, 1, 0, -1], [0, 2, 2, 0], [-1, 0, 1, 3]],
                   neuron=Neuron(size=3, model="lif", threshold=3, v_decay=(1, 1), v_bits=8))
    out = Dense(weight=[[2, 0, -1], [-1, 1, 2]], neuron=Neuron(size=2, model="if", threshold=2, v_bits=8))
    return Model(time_steps=4, input=InputSpec(size=4), layers=(hidden, out),
                 readout=Readout("spike_count", "lowest_index"), name="tiny-classifier")


def recurrent() -> Model:
    layer = Dense(weight=[[3, 0], [0, 3]], recurrent=[[0, -2], [-2, 0]],
                  neuron=Neuron(size=2, model="lif", threshold=4, v_decay=(3, 2), v_bits=6))
    return Model(time_steps=2, input=InputSpec(size=2), layers=(layer,), readout=Readout("spike_count", "invalid"))


LETTERS = {"a": [[1, 0], [0, 0]], "b": [[0, 1], [0, 0]], "z": [[0, 0], [0, 0]]}


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    data = (rng.random((60, 4, 4)) < 0.4).astype(np.int8)
    paths = {"model": tmp_path / "m.snn.json", "data": tmp_path / "X.npy", "labels": tmp_path / "y.npy",
             "rec": tmp_path / "r.snn.json", "alphabet": tmp_path / "A.json"}
    save_model(classifier(), paths["model"])
    save_model(recurrent(), paths["rec"])
    np.save(paths["data"], data)
    np.save(paths["labels"], rng.integers(0, 2, 60))
    paths["alphabet"].write_text(json.dumps({"letters": LETTERS}))
    return paths


def run(capsys, *argv) -> tuple[int, dict]:
    code = cli.main([str(a) for a in argv] + ["--json"])
    out, _ = capsys.readouterr()
    assert out.count("\n") == 1, out
    return code, json.loads(out)


def decisions(doc: dict, rasters) -> list[int]:
    """The rules document evaluated from its JSON alone (docs/rules.md); -1: no decision."""
    return rules_json_decisions(json.dumps(doc), np.asarray(rasters).tolist())


def test_extract_tree_end_to_end(capsys, files, tmp_path):
    out = tmp_path / "rules"
    code, answer = run(capsys, "extract", "tree", files["model"], "--data", files["data"], "--labels",
                       files["labels"], "--eval", files["data"], "--out", out, "--max-rules", 6,
                       "--features", "counts+first_spike", "--split", "draws")
    assert code == 0, answer
    assert set(answer) >= {"fidelity", "rules", "certified_share", "eval_fidelity", "network_accuracy",
                           "rules_accuracy", "files"}
    fid = answer["fidelity"]
    assert 0 <= fid["ci"][0] <= fid["value"] <= fid["ci"][1] <= 1 and fid["n"] > 0 and fid["distribution"]
    assert 1 <= len(answer["rules"]) <= 6
    verdicts = [r["certified"] for r in answer["rules"]]
    assert set(verdicts) <= {"verified", "falsified", "unknown"}
    assert answer["certified_share"] == pytest.approx(verdicts.count("verified") / len(verdicts))
    doc = json.loads((out / "rules.json").read_text())
    assert doc["rules"] == answer["rules"]
    # the JSON alone reproduces the rules' decisions: the --eval fidelity is their agreement with the network
    data = np.load(files["data"])
    network = simulate(classifier(), data).prediction
    agree = np.mean(np.array(decisions(doc, data)) == network)
    assert answer["eval_fidelity"]["value"] == pytest.approx(agree)
    for rule in doc["rules"]:  # a falsified rule's witness is within one flip of a centre and replays
        record = rule["certification"]
        if rule["certified"] == "falsified":
            witness = np.array(record["witness"], dtype=np.int8)
            assert (witness != data[record["witness_centre"]]).sum() <= 1
            assert decisions(doc, [witness])[0] == (-1 if rule["then"] is None else rule["then"])
            decided = simulate(classifier(), witness).prediction
            assert (None if decided == -1 else decided) != rule["then"]
    assert "<html" in (out / "rules.html").read_text().lower()
    assert (out / "rules.md").read_text().startswith("# ")


def test_extract_automaton_end_to_end(capsys, files, tmp_path):
    out = tmp_path / "machine"
    code, answer = run(capsys, "extract", "automaton", files["rec"], "--alphabet", files["alphabet"], "--out", out,
                       "--algorithm", "kv", "--oracle", "exact")
    assert code == 0, answer
    exact = build_automaton(recurrent(), parse_alphabet({"letters": LETTERS})).machine.minimize()
    assert answer["status"] == "complete" and answer["equals_exact"] is True
    assert answer["states"] == exact.num_states
    assert answer["fidelity"]["value"] == 1.0
    assert answer["latency"]["check"]["letters"] > 0
    for path in answer["files"].values():
        assert Path(path).is_file()


@pytest.mark.parametrize("extra,naming", [
    (["--certify", "{flipz: 1}"], "--certify"),
    (["--certify", "[1, 2"], "--certify"),
    (["--labels", "BAD_LABELS"], "--labels"),
    (["--data", "FLAT"], "--data"),
])
def test_extract_tree_bad_input_names_the_argument(capsys, files, tmp_path, extra, naming):
    np.save(tmp_path / "bad_labels.npy", np.zeros(3, dtype=np.int64))
    np.save(tmp_path / "flat.npy", np.zeros((4, 4), dtype=np.int8))
    extra = [str(tmp_path / "bad_labels.npy") if a == "BAD_LABELS" else str(tmp_path / "flat.npy") if a == "FLAT"
             else a for a in extra]
    argv = ["extract", "tree", files["model"], "--data", files["data"], "--out", tmp_path / "o", *extra]
    code, answer = run(capsys, *argv)
    assert code == 2 and answer["kind"] == "bad_input" and naming in answer["error"], answer


def test_extract_automaton_bad_alphabet(capsys, files, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"letters": {"a": [[1, 0, 1]]}}))  # three channels for a two-input model
    code, answer = run(capsys, "extract", "automaton", files["rec"], "--alphabet", bad, "--out", tmp_path / "o")
    assert code == 2 and "--alphabet" in answer["error"]
    code, answer = run(capsys, "extract", "forest", files["rec"])
    assert code == 2 and "forest" in answer["error"]


def test_extract_tree_refined_rules_all_hold(capsys, files, tmp_path):
    """--refine without a loss limit narrows or drops every rule the network refutes near
    its data: what is left is verified, and no rule is added."""
    plain = run(capsys, "extract", "tree", files["model"], "--data", files["data"], "--out", tmp_path / "a",
                "--max-rules", 8, "--split", "draws")[1]
    code, refined = run(capsys, "extract", "tree", files["model"], "--data", files["data"], "--out", tmp_path / "b",
                        "--max-rules", 8, "--split", "draws", "--refine")
    assert code == 0 and len(refined["rules"]) <= len(plain["rules"])
    assert plain["certified_share"] < 1.0  # the plain rules are refuted somewhere: refinement has work
    assert all(r["certified"] == "verified" for r in refined["rules"]) and refined["certified_share"] == 1.0
