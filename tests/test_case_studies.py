"""The case studies build from a fresh clone with a fixed seed, reach their accuracy,
and their integer models run identically in the numpy and torch simulators."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from verisnn import load_model, model_hash, simulate
from verisnn.torch_sim import simulate_torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("study, min_accuracy, shape", [
    ("digits", 0.90, (64, 64, 10)),
    ("iris", 0.80, (4, 5, 3)),
    ("mnist", 0.90, (784, 256, 10)),
])
def test_case_study_builds(tmp_path, study, min_accuracy, shape):
    out = tmp_path / study
    proc = subprocess.run([sys.executable, str(ROOT / "case_studies" / study / "build.py"), "--out", str(out),
                           "--json"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    q = summary["quantization"]
    assert q["integer_accuracy"] >= min_accuracy, q
    model = load_model(q["model"])
    assert model_hash(model) == q["sha256"]
    assert (model.input.size, model.layers[0].out_size, model.output_size) == shape
    x = np.load(out / "test_inputs.npy", allow_pickle=False)
    y = np.load(out / "test_labels.npy", allow_pickle=False)
    assert x.dtype == np.int8 and x.shape[1:] == (model.time_steps, model.input.size)
    result = simulate(model, x)
    assert np.mean(result.prediction == y) == pytest.approx(q["integer_accuracy"])
    for a, b in zip(result.layer_outputs, simulate_torch(model, x[:200])):
        assert np.array_equal(a[:200], b)
