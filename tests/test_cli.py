"""The command line: the JSON contract of every subcommand, and its exit statuses.

Most tests call ``verisnn.cli.main(argv)`` in-process and read stdout/stderr with
capsys; a few run ``python -m verisnn`` (and the ``verisnn`` console script) as real
processes to check exit codes and that stdout is exactly one JSON object.

The small models are built from ``verisnn.model`` dataclasses; the expected
simulate answers were worked out by hand from semantics v1 (see ``tiny_model``).
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from verisnn import cli
from verisnn.model import Conv2d, Dense, InputSpec, Model, Neuron, Readout
from verisnn.model_format import model_hash, model_to_dict, save_model

# The hand-checked example (semantics v1, IF neurons, reset by subtraction, no leak):
# input (T=4, n=2):  t0 [1,0]  t1 [0,1]  t2 [1,1]  t3 [0,0]
# layer 0: W=[[3,0],[1,1]], threshold 2
#   neuron 0: a = 3,0,3,0 -> u = 3 (fire, v=1), 1, 4 (fire, v=2), 2 (fire, v=0)  -> spikes 1,0,1,1
#   neuron 1: a = 1,1,2,0 -> u = 1, 2 (fire, v=0), 2 (fire, v=0), 0               -> spikes 0,1,1,0
# layer 1: identity weights, threshold 1: copies layer 0's spikes -> counts [3, 2], prediction 0
# total spikes: 5 (layer 0) + 5 (layer 1) = 10
# synops: input 0 spikes twice with 2 non-zero synapses, input 1 twice with 1 -> 6; layer 0's
#   5 spikes reach one synapse each -> 5; the output layer has no outgoing synapses -> 11.
RASTER = np.array([[1, 0], [0, 1], [1, 1], [0, 0]], dtype=np.int8)
EXPECTED = {
    "prediction": 0,
    "counts": [3, 2],
    "first_spike": [0, 1],
    "output_spikes": [[1, 0], [0, 1], [1, 1], [1, 0]],
    "total_spikes": 10,
    "synops": 11,
}
# An all-zero raster: nothing fires; a tie of zero counts under ties=invalid is no decision.
EXPECTED_SILENT = {
    "prediction": None,
    "counts": [0, 0],
    "first_spike": [None, None],
    "output_spikes": [[0, 0]] * 4,
    "total_spikes": 0,
    "synops": 0,
}
FIELDS = ("prediction", "counts", "first_spike", "output_spikes", "total_spikes", "synops")


def tiny_model(li_output: bool = False) -> Model:
    hidden = Dense(weight=[[3, 0], [1, 1]], neuron=Neuron(size=2, model="if", threshold=2))
    if li_output:
        out = Dense(weight=[[1, 0], [0, 1]], neuron=Neuron(size=2, model="li", threshold=None))
        return Model(time_steps=4, input=InputSpec(size=2), layers=(hidden, out),
                     readout=Readout(type="membrane_final"), name="tiny-li")
    out = Dense(weight=[[1, 0], [0, 1]], neuron=Neuron(size=2, model="if", threshold=1))
    return Model(time_steps=4, input=InputSpec(size=2), layers=(hidden, out), name="tiny",
                 provenance={"trained_with": "hand"})


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """The tiny models and rasters on disk."""
    paths = {"model": tmp_path / "tiny.snn.json", "li": tmp_path / "tiny-li.snn.json",
             "raster": tmp_path / "raster.npy", "batch": tmp_path / "batch.npy"}
    save_model(tiny_model(), paths["model"])
    save_model(tiny_model(li_output=True), paths["li"])
    np.save(paths["raster"], RASTER)
    np.save(paths["batch"], np.stack([RASTER, np.zeros_like(RASTER), RASTER]))
    return paths


def run(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv) -> tuple[int, dict, str]:
    """Run with --json; stdout must be exactly one JSON object on one line."""
    code, out, err = run(capsys, *argv, "--json")
    assert out.endswith("\n") and out.count("\n") == 1, f"stdout is not one line: {out!r}"
    answer = json.loads(out)
    assert isinstance(answer, dict)
    return code, answer, err


# ----------------------------------------------------------------------------- simulate


def test_simulate_single_raster_matches_hand_computation(capsys, files):
    code, answer, _ = run_json(capsys, "simulate", files["model"], "--input", files["raster"])
    assert code == 0
    assert list(answer) == list(FIELDS)
    for field in FIELDS:
        assert answer[field] == EXPECTED[field], field


def test_simulate_batched_raster_gives_lists_over_the_batch(capsys, files):
    code, answer, _ = run_json(capsys, "simulate", files["model"], "--input", files["batch"])
    assert code == 0
    assert list(answer) == list(FIELDS)
    for field in FIELDS:
        assert answer[field] == [EXPECTED[field], EXPECTED_SILENT[field], EXPECTED[field]], field


def test_simulate_empty_batch(capsys, files, tmp_path):
    path = tmp_path / "empty.npy"
    np.save(path, np.zeros((0, 4, 2), dtype=np.int8))
    code, answer, _ = run_json(capsys, "simulate", files["model"], "--input", path)
    assert code == 0 and answer == {field: [] for field in FIELDS}
    code, out, _ = run(capsys, "simulate", files["model"], "--input", path)
    assert code == 0 and "batch of 0 rasters" in out


def test_simulate_li_output_layer(capsys, files):
    # The li layer integrates layer 0's spikes without leak: final membranes [3, 2] -> class 0.
    # It never fires, so counts/first spikes/output spikes are empty and only layer 0's 5 spikes count;
    # synops still include layer 0's spikes into the li layer (6 + 5).
    code, answer, _ = run_json(capsys, "simulate", files["li"], "--input", files["raster"])
    assert code == 0
    assert answer == {"prediction": 0, "counts": [0, 0], "first_spike": [None, None],
                      "output_spikes": [[0, 0]] * 4, "total_spikes": 5, "synops": 11}


def test_simulate_json_flag_before_subcommand(capsys, files):
    code, answer, _ = run_json(capsys, "simulate", files["model"], "--input", files["raster"])
    code2, out, _ = run(capsys, "--json", "simulate", files["model"], "--input", files["raster"])
    assert code == code2 == 0 and json.loads(out) == answer


def test_simulate_human_output(capsys, files):
    code, out, err = run(capsys, "simulate", files["model"], "--input", files["raster"])
    assert code == 0 and err == ""
    assert "prediction   0" in out and "counts       [3, 2]" in out and "spikes       10   synops 11" in out
    code, out, _ = run(capsys, "simulate", files["model"], "--input", files["batch"])
    assert code == 0
    assert "batch of 3 rasters" in out and "decided      2 of 3" in out
    code, out, _ = run(capsys, "simulate", files["li"], "--input", files["raster"])
    assert code == 0 and "final [3, 2]" in out


def test_simulate_accepts_bool_and_integer_valued_float_rasters(capsys, files, tmp_path):
    for dtype in (bool, np.float64, np.uint8):
        path = tmp_path / f"raster-{np.dtype(dtype).name}.npy"
        np.save(path, RASTER.astype(dtype))
        code, answer, _ = run_json(capsys, "simulate", files["model"], "--input", path)
        assert code == 0 and answer == EXPECTED


# ----------------------------------------------------------------------------- bad input: exit 2


def assert_bad_input(capsys, *argv, naming: str) -> dict:
    """Exit 2, one JSON error object naming ``naming``, a one-line message on stderr, no traceback."""
    code, answer, err = run_json(capsys, *argv)
    assert code == 2, answer
    assert answer["kind"] == "bad_input" and set(answer) == {"error", "kind"}
    assert naming in answer["error"], answer["error"]
    assert "Traceback" not in err and err.startswith("verisnn: error:")
    return answer


def test_missing_model(capsys, files, tmp_path):
    assert_bad_input(capsys, "simulate", tmp_path / "nope.snn.json", "--input", files["raster"], naming="MODEL")
    assert_bad_input(capsys, "info", tmp_path / "nope.snn.json", naming="nope.snn.json")
    assert_bad_input(capsys, "info", tmp_path, naming="not a file")


def test_malformed_models(capsys, files, tmp_path):
    bad_json = tmp_path / "bad.snn.json"
    bad_json.write_text('{"format": "verisnn.model/1", ')
    assert_bad_input(capsys, "simulate", bad_json, "--input", files["raster"], naming="not valid JSON")

    doc = model_to_dict(tiny_model())
    doc["layers"][1]["neuron"]["threshold"] = -3
    bad_field = tmp_path / "neg.snn.json"
    bad_field.write_text(json.dumps(doc))
    assert_bad_input(capsys, "info", bad_field, naming="layers[1].neuron.threshold")

    doc = model_to_dict(tiny_model())
    doc["layers"][0]["weight"] = [[1, 2, 3], [4, 5, 6]]  # takes 3 inputs, the model has 2
    wrong_shape = tmp_path / "shape.snn.json"
    wrong_shape.write_text(json.dumps(doc))
    assert_bad_input(capsys, "simulate", wrong_shape, "--input", files["raster"], naming="layers[0]")

    nan = tmp_path / "nan.snn.json"
    nan.write_text(json.dumps(model_to_dict(tiny_model())).replace('"time_steps": 4', '"time_steps": NaN'))
    assert_bad_input(capsys, "info", nan, naming="NaN")


@pytest.mark.parametrize("raster, naming", [
    (np.zeros((3, 2), dtype=np.int8), "T=3"),             # too few steps
    (np.zeros((4, 5), dtype=np.int8), "n=5"),             # too many channels
    (np.zeros((2, 2, 4, 2), dtype=np.int8), "shape"),     # four dimensions
    (np.full((4, 2), 2, dtype=np.int8), "0 or 1"),        # not spikes
    (np.full((4, 2), -1, dtype=np.int64), "0 or 1"),
    (np.full((4, 2), 0.5), "dtype float64"),              # fractional values
    (np.full((4, 2), np.nan), "dtype float64"),
    (np.array([["a", "b"]] * 4), "dtype <U1"),
])
def test_rasters_that_do_not_fit(capsys, files, tmp_path, raster, naming):
    path = tmp_path / "bad.npy"
    np.save(path, raster)
    answer = assert_bad_input(capsys, "simulate", files["model"], "--input", path, naming=naming)
    assert "--input" in answer["error"]


def test_rasters_that_are_not_plain_npy(capsys, files, tmp_path):
    pickled = tmp_path / "pickled.npy"
    np.save(pickled, np.array([object(), 1], dtype=object), allow_pickle=True)
    assert_bad_input(capsys, "simulate", files["model"], "--input", pickled, naming="--input")

    # A raw pickle: loading it with pickle would run code; np.load must refuse it.
    raw = tmp_path / "raw.npy"
    raw.write_bytes(pickle.dumps(RASTER))
    assert_bad_input(capsys, "simulate", files["model"], "--input", raw, naming="not a plain .npy")

    archive = tmp_path / "archive.npy"
    with open(archive, "wb") as f:
        np.savez(f, x=RASTER)
    assert_bad_input(capsys, "simulate", files["model"], "--input", archive, naming=".npz archive")

    truncated = tmp_path / "truncated.npy"
    truncated.write_bytes(files["raster"].read_bytes()[:-3])
    assert_bad_input(capsys, "simulate", files["model"], "--input", truncated, naming="--input")

    structured = tmp_path / "structured.npy"
    np.save(structured, np.zeros(4, dtype=[("a", "i4"), ("b", "i4")]))
    assert_bad_input(capsys, "simulate", files["model"], "--input", structured, naming="structured")

    empty = tmp_path / "empty.npy"
    empty.write_bytes(b"")
    assert_bad_input(capsys, "simulate", files["model"], "--input", empty, naming="--input")

    assert_bad_input(capsys, "simulate", files["model"], "--input", tmp_path / "missing.npy", naming="no such file")


@pytest.mark.parametrize("argv, naming", [
    ([], "COMMAND"),
    (["frobnicate"], "invalid choice"),
    (["simulate"], "MODEL"),
    (["simulate", "m.snn.json"], "--input"),
    (["simulate", "m.snn.json", "--input", "x.npy", "--bogus"], "unrecognized arguments"),
    (["import-nir", "g.nir", "--dt", "abc", "--scale", "1", "--time-steps", "4", "--out", "m.json"], "--dt"),
    (["import-nir", "g.nir", "--dt", "0", "--scale", "1", "--time-steps", "4", "--out", "m.json"], "--dt"),
    (["import-nir", "g.nir", "--dt", "1e-3", "--scale", "1", "--time-steps", "0", "--out", "m.json"], "--time-steps"),
    (["export-nir", "m.snn.json", "--dt", "1e-3", "--scale", "inf", "--out", "g.nir"], "--scale"),
    (["train", "c.yaml", "--out", "d", "--epochs", "-1"], "--epochs"),
])
def test_bad_arguments_exit_2_with_one_json_object(capsys, argv, naming):
    assert_bad_input(capsys, *argv, naming=naming)


def test_bad_arguments_without_json_print_usage_to_stderr(capsys):
    code, out, err = run(capsys, "simulate")
    assert code == 2 and out == ""
    assert "usage: verisnn simulate" in err and "\n" == err[-1] and err.count("\n") == 1


# ----------------------------------------------------------------------------- internal failures: exit 1


def test_internal_failure_exits_1_without_traceback(capsys, files, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("simulator exploded\nsecond line")

    monkeypatch.setattr("verisnn.simulator.simulate", broken)
    code, answer, err = run_json(capsys, "simulate", files["model"], "--input", files["raster"])
    assert code == 1
    assert answer["kind"] == "internal" and "RuntimeError: simulator exploded" in answer["error"]
    assert "second line" not in answer["error"]
    assert "Traceback" not in err and err.count("\n") == 1

    code, out, err = run(capsys, "simulate", files["model"], "--input", files["raster"], "--debug")
    assert code == 1 and out == ""
    assert "Traceback" in err and "simulator exploded" in err


def test_stray_prints_go_to_stderr_in_json_mode(capsys, files, monkeypatch):
    import verisnn.simulator

    real = verisnn.simulator.simulate

    def chatty(*args, **kwargs):
        print("progress 50%")
        return real(*args, **kwargs)

    monkeypatch.setattr("verisnn.simulator.simulate", chatty)
    code, answer, err = run_json(capsys, "simulate", files["model"], "--input", files["raster"])
    assert code == 0 and answer == EXPECTED and "progress 50%" in err


# ----------------------------------------------------------------------------- info and --version


def test_info_json(capsys, files):
    code, answer, _ = run_json(capsys, "info", files["model"])
    assert code == 0
    assert answer["name"] == "tiny" and answer["format"] == "verisnn.model/1"
    assert answer["sha256"] == model_hash(tiny_model())
    assert answer["time_steps"] == 4
    assert answer["input"] == {"size": 2, "shape": None, "encoding": None}
    assert answer["readout"] == {"type": "spike_count", "ties": "invalid"}
    assert answer["provenance"] == {"trained_with": "hand"}
    first, second = answer["layers"]
    assert first == {
        "index": 0, "type": "dense", "in_size": 2, "out_size": 2, "neuron_model": "if", "threshold": 2,
        "fire_when": ">=", "v_decay": [1, 0], "i_decay": None, "rounding": "floor", "reset": "subtract",
        "v_reset": 0, "refractory": 0, "v_bits": 24, "on_overflow": "saturate", "delay": 0, "recurrent": False,
        "nonzero_weights": 3, "synapses": 3, "parameters": 6}
    assert second["nonzero_weights"] == 2 and second["threshold"] == 1
    assert answer["parameters"] == 12  # 4 + 2 weights and biases per layer


def test_info_conv_recurrent_per_neuron_and_li(capsys, tmp_path):
    conv = Conv2d(weight=np.ones((2, 1, 2, 2), dtype=int), input_shape=(1, 3, 3), bias=[1, 0], delay=1,
                  neuron=Neuron(size=8, model="cuba_lif", threshold=[1, 2, 3, 4, 5, 6, 7, 8], v_decay=(7, 3),
                                i_decay=(1, 1), reset="to_value", v_bits=16, on_overflow="wrap"),
                  recurrent=np.eye(8, dtype=int))
    li = Dense(weight=np.zeros((3, 8), dtype=int), neuron=Neuron(size=3, model="li", threshold=None,
                                                                v_decay=[(1, 1), (3, 2), (1, 0)]))
    model = Model(time_steps=2, input=InputSpec(size=9, shape=(1, 3, 3), encoding={"type": "rate"}),
                  layers=(conv, li), readout=Readout(type="membrane_max", ties="lowest_index"), name="mixed")
    path = tmp_path / "mixed.snn.json"
    save_model(model, path)
    code, answer, _ = run_json(capsys, "info", path)
    assert code == 0
    c, d = answer["layers"]
    assert c["type"] == "conv2d" and c["in_size"] == 9 and c["out_size"] == 8
    assert c["input_shape"] == [1, 3, 3] and c["output_shape"] == [2, 2, 2] and c["kernel"] == [2, 2]
    assert c["stride"] == [1, 1] and c["padding"] == [0, 0]
    assert c["threshold"] == {"per_neuron": 8, "min": 1, "max": 8}
    assert c["i_decay"] == [1, 1] and c["reset"] == "to_value" and c["recurrent"] is True and c["delay"] == 1
    assert c["nonzero_weights"] == 8 and c["synapses"] == 2 * 4 * 4 + 8  # dense equivalent plus recurrent
    assert c["parameters"] == 8 + 2 + 64
    assert d["neuron_model"] == "li" and d["threshold"] is None and d["fire_when"] is None and d["reset"] is None
    assert d["v_decay"] == {"per_neuron": 3, "min": [1, 1], "max": [1, 0]}  # 1/2 < 3/4 < 1
    assert d["nonzero_weights"] == 0
    assert answer["input"] == {"size": 9, "shape": [1, 3, 3], "encoding": {"type": "rate"}}
    code, out, _ = run(capsys, "info", path)
    assert code == 0 and "conv2d 9 -> 8  cuba_lif" in out and "1..8 (per neuron)" in out and "recurrent" in out


def test_info_human(capsys, files):
    code, out, _ = run(capsys, "info", files["model"])
    assert code == 0
    assert out.startswith("tiny  (verisnn.model/1)") and model_hash(tiny_model()) in out
    assert "0 dense  2 -> 2  if, threshold 2 (>=)" in out and "parameters  12" in out


def test_version(capsys):
    from verisnn import __version__

    assert run(capsys, "--version")[:2] == (0, f"verisnn {__version__}\n")
    code, answer, _ = run_json(capsys, "--version")
    assert code == 0 and answer == {"version": __version__}


# ----------------------------------------------------------------------------- real processes


def subprocess_run(*argv, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "verisnn", *map(str, argv)], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL, cwd=cwd)


def test_python_m_verisnn_simulate_and_bad_input(files):
    done = subprocess_run("simulate", files["model"], "--input", files["batch"], "--json")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1 and json.loads(done.stdout)["prediction"] == [0, None, 0]

    done = subprocess_run("simulate", files["model"].with_name("missing.snn.json"), "--input", files["raster"],
                          "--json")
    assert done.returncode == 2
    assert json.loads(done.stdout)["kind"] == "bad_input" and "Traceback" not in done.stderr

    done = subprocess_run("simulate", "--json")  # an argparse error
    assert done.returncode == 2 and json.loads(done.stdout)["kind"] == "bad_input"

    done = subprocess_run("info", files["model"])
    assert done.returncode == 0 and "sha256" in done.stdout and done.stderr == ""


def test_console_script(files):
    script = Path(sys.executable).with_name("verisnn")
    done = subprocess.run([str(script), "simulate", str(files["model"]), "--input", str(files["raster"]), "--json"],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == EXPECTED


# ----------------------------------------------------------------------------- train and quantize


TINY_CONFIG = """\
name: iris-tiny
dataset: iris
seed: 3
time_steps: 4
encoding: {type: rate}
hidden: [3]
neuron: {model: lif, v_decay: [7, 3]}
training: {epochs: 5, batch_size: 32, lr: 0.01}
quantization: {scale: 16}
"""


def test_train_then_quantize_then_simulate(capsys, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(TINY_CONFIG)
    code, trained, _ = run_json(capsys, "train", config, "--out", tmp_path / "run", "--epochs", 1, "--seed", 5)
    assert code == 0, trained
    assert trained["epochs"] == 1 and trained["seed"] == 5 and trained["name"] == "iris-tiny"
    assert Path(trained["checkpoint"]) == tmp_path / "run" / "float.pt" and Path(trained["checkpoint"]).is_file()
    assert 0.0 <= trained["float_test_accuracy"] <= 1.0

    out = tmp_path / "run" / "iris.snn.json"
    code, quant, _ = run_json(capsys, "quantize", trained["checkpoint"], "--out", out)
    assert code == 0, quant
    assert quant["model"] == str(out) and quant["scale"] == 16.0
    from verisnn.model_format import load_model

    model = load_model(out)
    assert quant["sha256"] == model_hash(model)
    assert 0.0 <= quant["integer_accuracy"] <= 1.0

    code, info, _ = run_json(capsys, "info", out)
    assert code == 0 and info["sha256"] == quant["sha256"] and info["time_steps"] == 4
    assert [(d["in_size"], d["out_size"]) for d in info["layers"]] == [(4, 3), (3, 3)]
    raster = tmp_path / "one.npy"
    np.save(raster, np.ones((4, 4), dtype=np.int8))
    code, answer, _ = run_json(capsys, "simulate", out, "--input", raster)
    assert code == 0 and len(answer["counts"]) == 3

    code, text, _ = run(capsys, "quantize", trained["checkpoint"], "--out", out, "--scale", 8)
    assert code == 0 and "integer_accuracy" in text and "scale" in text


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch.load(weights_only=True) refusing a pickle
def test_train_and_quantize_bad_input(capsys, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(TINY_CONFIG.replace("time_steps: 4", "time_steps: four"))
    assert_bad_input(capsys, "train", config, "--out", tmp_path / "run", naming="time_steps")
    config.write_text("name: [unclosed")
    assert_bad_input(capsys, "train", config, "--out", tmp_path / "run", naming="YAML")
    assert_bad_input(capsys, "train", tmp_path / "missing.yaml", "--out", tmp_path / "run", naming="CONFIG")
    assert_bad_input(capsys, "quantize", tmp_path / "missing.pt", "--out", tmp_path / "m.snn.json",
                     naming="CHECKPOINT")
    not_a_checkpoint = tmp_path / "evil.pt"
    not_a_checkpoint.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    assert_bad_input(capsys, "quantize", not_a_checkpoint, "--out", tmp_path / "m.snn.json", naming="evil.pt")
    assert_bad_input(capsys, "quantize", not_a_checkpoint, "--out", tmp_path / "no" / "m.snn.json",
                     naming="--out")


# ----------------------------------------------------------------------------- NIR


def tiny_nir_graph(path: Path) -> None:
    """A 2-2 LIF graph written with nir itself: β = 1 - dt/τ = 7/8 at dt = 1 ms, unit gain."""
    import nir

    dt, beta = 1e-3, 0.875
    tau = dt / (1 - beta)
    graph = nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([2])),
               "fc": nir.Linear(weight=np.array([[0.5, -0.25], [1.0, 0.0]])),
               "lif": nir.LIF(tau=np.full(2, tau), r=np.full(2, tau / dt), v_leak=np.zeros(2),
                              v_threshold=np.ones(2)),
               "output": nir.Output(output_type=np.array([2]))},
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")])
    nir.write(path, graph)


def test_import_nir_then_export_nir(capsys, tmp_path):
    from verisnn.model_format import load_model

    graph = tmp_path / "g.nir"
    tiny_nir_graph(graph)
    out = tmp_path / "g.snn.json"
    code, answer, _ = run_json(capsys, "import-nir", graph, "--dt", "1e-3", "--scale", 64, "--time-steps", 5,
                               "--out", out, "--decay-shift", 3, "--v-bits", 16)
    assert code == 0, answer
    assert answer["model"] == str(out) and answer["time_steps"] == 5 and answer["layers"] == 1
    model = load_model(out)
    assert answer["sha256"] == model_hash(model)
    assert answer["conventions"] and all(isinstance(c, str) for c in answer["conventions"])
    layer = model.layers[0]
    assert layer.weight.tolist() == [[32, -16], [64, 0]]  # weights × scale
    n = layer.neuron
    assert (n.model, n.threshold, n.fire_when, n.v_decay, n.reset, n.v_bits) == ("lif", 64, ">", (7, 3),
                                                                                 "to_value", 16)

    exported = tmp_path / "back.nir"
    code, answer, _ = run_json(capsys, "export-nir", out, "--dt", "1e-3", "--scale", 64, "--out", exported)
    assert code == 0, answer
    assert answer["graph"] == str(exported) and exported.is_file()
    assert answer["sha256"] == model_hash(model) and answer["conventions"]
    again = tmp_path / "again.snn.json"
    code, _, _ = run_json(capsys, "import-nir", exported, "--dt", "1e-3", "--scale", 64, "--time-steps", 5,
                          "--out", again)
    assert code == 0
    back = load_model(again).layers[0]
    assert back.weight.tolist() == layer.weight.tolist() and back.neuron == n  # exact round trip


def test_nir_bad_input(capsys, files, tmp_path):
    graph = tmp_path / "g.nir"
    tiny_nir_graph(graph)
    common = ["--dt", "1e-3", "--scale", 64]
    assert_bad_input(capsys, "import-nir", tmp_path / "missing.nir", *common, "--time-steps", 5,
                     "--out", tmp_path / "m.snn.json", naming="GRAPH")
    assert_bad_input(capsys, "import-nir", files["raster"], *common, "--time-steps", 5,
                     "--out", tmp_path / "m.snn.json", naming="not an HDF5 file")
    assert_bad_input(capsys, "import-nir", graph, *common, "--time-steps", 5,
                     "--out", tmp_path / "no-such-folder" / "m.snn.json", naming="--out")
    assert_bad_input(capsys, "import-nir", graph, *common, "--time-steps", 5, "--decay-shift", 99,
                     "--out", tmp_path / "m.snn.json", naming="--decay-shift")
    # Subtractive reset has no NIR equivalent: refused unless --allow-lossy, which records it.
    assert_bad_input(capsys, "export-nir", files["model"], *common, "--out", tmp_path / "t.nir",
                     naming="--allow-lossy")
    code, answer, _ = run_json(capsys, "export-nir", files["model"], *common, "--out", tmp_path / "t.nir",
                               "--allow-lossy")
    assert code == 0 and any(c.startswith("LOSSY:") for c in answer["conventions"])


# ----------------------------------------------------------------------------- verify: unbounded horizon


def _unbounded_property(tmp_path: Path, condition) -> Path:
    path = tmp_path / "unbounded.json"
    path.write_text(json.dumps({"region": "any", "horizon": "unbounded", "condition": condition}))
    return path


def test_verify_unbounded_falsified_witness_replays(capsys, files, tmp_path):
    from verisnn.properties import load_property
    from verisnn.unbounded import replay_unbounded

    prop = _unbounded_property(tmp_path, {"never_fires": [1, 1]})
    for method in ("auto", "bmc", "explore"):
        code, answer, _ = run_json(capsys, "verify", files["model"], "--property", prop, "--method", method)
        assert code == 0 and answer["verdict"] == "falsified", answer
        witness = np.array(answer["witness"])
        step = replay_unbounded(tiny_model(), load_property(prop), witness)
        assert step == answer["violation_step"] == len(witness) - 1


def test_verify_unbounded_verified_with_evidence(capsys, files, tmp_path):
    prop = _unbounded_property(tmp_path, {"window_spikes_at_most": {"window": 2, "spikes": 8}})  # 4 neurons
    quiet = tmp_path / "quiet.json"
    quiet.write_text(json.dumps({"letters": {"quiet": [[0, 0]], "right": [[0, 1]]}}))
    # the integrate-and-fire membranes grow without bound: explore needs the inputs restricted
    expected = {"kinduction": ("depth", []), "pdr": ("invariant", []),
                "explore": ("reachable_states", ["--letters", quiet, "--max-states", "5000"])}
    for method, (key, extra) in expected.items():
        code, answer, _ = run_json(capsys, "verify", files["model"], "--property", prop, "--method", method, *extra)
        assert code == 0 and answer["verdict"] == "verified", answer
        assert answer["evidence"]["method"] == method and key in answer["evidence"]
        assert answer["evidence"]["model_sha256"] == model_hash(tiny_model())
    code, out, _ = run(capsys, "verify", files["model"], "--property", prop, "--method", "pdr")
    assert code == 0 and out.startswith("verified") and "re-checked" in out


def test_verify_unbounded_out_of_reach_is_unknown_in_time(capsys, files, tmp_path):
    # the integrate-and-fire hidden neuron 0 gains 3 - 2 per step on input 0: it overflows, but
    # only after millions of steps, beyond any unrolling; no method may claim either verdict
    prop = _unbounded_property(tmp_path, "no_overflow")
    code, answer, _ = run_json(capsys, "verify", files["model"], "--property", prop, "--timeout", "4")
    assert code == 0 and answer["verdict"] == "unknown" and answer["time_s"] < 15, answer


def test_verify_unbounded_letters_restrict_the_inputs(capsys, files, tmp_path):
    prop = _unbounded_property(tmp_path, {"never_fires": [1, 0]})
    code, answer, _ = run_json(capsys, "verify", files["model"], "--property", prop)
    assert code == 0 and answer["verdict"] == "falsified", answer
    letters = tmp_path / "letters.json"
    letters.write_text(json.dumps({"letters": {"right": [[0, 1]], "quiet": [[0, 0]]}}))
    code, answer, _ = run_json(capsys, "verify", files["model"], "--property", prop, "--letters", letters)
    assert code == 0 and answer["verdict"] == "verified", answer  # only input 0 reaches output 0


def test_verify_unbounded_bad_usage(capsys, files, tmp_path):
    prop = _unbounded_property(tmp_path, {"never_fires": [1, 1]})
    assert_bad_input(capsys, "verify", files["model"], "--property", prop, "--input", files["raster"],
                     naming="--input")
    assert_bad_input(capsys, "verify", files["model"], "--property", prop, "--method", "bab", naming="--method")
    wide = tmp_path / "wide.json"
    wide.write_text(json.dumps({"letters": {"a": [[1, 0], [0, 0]]}}))
    assert_bad_input(capsys, "verify", files["model"], "--property", prop, "--letters", wide, naming="--letters")
    bounded = tmp_path / "bounded.json"
    bounded.write_text(json.dumps({"region": {"flips": 1}, "condition": "robust"}))
    assert_bad_input(capsys, "verify", files["model"], "--property", bounded, naming="--input")
    assert_bad_input(capsys, "verify", files["model"], "--property", bounded, "--input", files["raster"],
                     "--method", "pdr", naming="--method")
    outside = _unbounded_property(tmp_path, {"never_fires_after": {"inputs": [5], "within": 2, "neuron": [1, 0]}})
    assert_bad_input(capsys, "verify", files["model"], "--property", outside, naming="input channel 5")
