"""The audit report: every section renders from a bundle; report.html is self-contained
(every image an inline data URI, no script, no external reference) and opens in headless
Chromium with every image loaded and nothing logged as an error; report.md names figure
files that exist; text from the bundle is escaped in the HTML.

The browser test needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs
them) and the ``selenium`` package; without them it fails, it is never skipped."""

from __future__ import annotations

import re

import numpy as np
import pytest

from verisnn.automaton import MealyMachine
from verisnn.errors import InputError
from verisnn.model import Dense, InputSpec, Model, Neuron, Readout
from verisnn.model_format import model_hash
from verisnn.report import open_in_browser, render_report


def tiny_model() -> Model:
    layer = Dense(weight=[[2, 1, 0], [0, 1, 2]], neuron=Neuron(size=2, model="if", threshold=2, v_bits=8))
    return Model(time_steps=4, input=InputSpec(size=3), layers=(layer,), readout=Readout("spike_count", "invalid"),
                 name="tiny <b>model</b>")


def bundle(model: Model) -> dict:
    rng = np.random.default_rng(0)
    centre = (rng.random((4, 3)) < 0.5).astype(int)
    witness = centre.copy()
    witness[1, 2] ^= 1
    rules = {"format": "verisnn-rules/1", "model_sha256": model_hash(model), "time_steps": 4, "channels": 3,
             "features": {"f0": {"kind": "count", "channel": 0, "from": 0, "to": 4},
                          "f1": {"kind": "first_spike", "channel": 2}},
             "rules": [{"if": [["f0", ">=", 2], ["f1", "<=", 1]], "then": 0, "precision": 0.9, "coverage": 0.4,
                        "certified": "verified"},
                       {"if": [["f0", "<=", 1]], "then": None, "precision": 0.7, "coverage": 0.3,
                        "certified": "falsified"}],
             "default": 1}
    machine = MealyMachine(inputs=("a", "b"), next_state=[[1, 0], [1, 0]], output=[[0, -1], [1, -1]], initial=0)
    sal = rng.normal(size=(4, 3)).tolist()
    return {
        "title": "Audit of <script>alert(1)</script>", "created": "2026-11-29T00:00:00Z", "verisnn": "test",
        "model": {"name": model.name, "sha256": model_hash(model), "path": "m.snn.json", "shape": [3, 2],
                  "time_steps": 4},
        "profile": "loihi",
        "summary": {"queries": 6, "verified": 3, "falsified": 2, "unknown": 1, "errors": 0},
        "properties": [{"name": "robust-1", "text": "{flips: 1} robust", "verified": 3, "falsified": 2,
                        "unknown": 1, "errors": 0, "median_time_s": 0.012}],
        "robustness_curve": [{"k": 1, "n": 6, "verified": 4, "falsified": 2}, {"k": 2, "n": 6, "verified": 2,
                                                                                "falsified": 3}],
        "costs": {"latency_us": rng.random(30).tolist(), "energy_uj": rng.random(30).tolist()},
        "counterexamples": [{"property": "robust-1", "input": 3, "centre": centre.tolist(),
                             "witness": witness.tolist(), "centre_decision": 0, "witness_decision": None}],
        "rules": {"document": rules, "certified_share": 0.5, "region": {"flips": 1},
                  "fidelity": {"value": 0.9, "ci": [0.8, 0.95], "n": 100, "distribution": "draws <i>here</i>"}},
        "automata": [{"name": "learned", "machine": machine, "summary": {"states": 2, "fidelity": 1.0}}],
        "explanations": {"inputs": [{"input": 0, "raster": centre.tolist(), "saliency": {"gradient": sal}}],
                         "faithfulness": {"gradient": {"auc_deletion": 0.3, "random_auc_deletion": 0.5,
                                                       "auc_insertion": 0.7, "random_auc_insertion": 0.5,
                                                       "explained": 5}},
                         "psth": (rng.random((5, 4, 3)) < 0.5).astype(np.int8).tolist()},
        "certificates": [{"path": "certificates/a.json", "property": "robust-1", "input": 3, "verdict": "falsified",
                          "valid": True, "how": "valid (kernel)", "reason": None, "produce_s": 0.5,
                          "check_s": 0.01},
                         {"path": "certificates/b.json", "property": "robust-1", "input": 4, "verdict": "verified",
                          "valid": False, "how": "INVALID", "reason": "model hash differs", "produce_s": 0.5,
                          "check_s": 0.02}],
    }


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    model = tiny_model()
    return render_report(bundle(model), out, model=model), out


def test_every_section_is_written_and_self_contained(report):
    paths, out = report
    html = paths["html"].read_text()
    for heading in ("Summary", "Robustness versus flip budget", "Latency and energy", "Counterexamples", "Rules",
                    "Automata", "Explanations", "Certificates"):
        assert f"<h2>{heading}" in html, heading
    images = re.findall(r'<img src="([^"]+)"', html)
    assert len(images) == len(list((out / "figures").glob("*.svg"))) == 7
    assert all(src.startswith("data:image/svg+xml;base64,") for src in images)
    assert "<script" not in html.lower().replace("&lt;script", "")  # the title's script is text, escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "tiny &lt;b&gt;model&lt;/b&gt;" in html
    assert "http://" not in html and "https://" not in html
    assert "not accuracy" in html and "INVALID: model hash differs" in html


def test_markdown_names_existing_figures(report):
    paths, out = report
    md = paths["markdown"].read_text()
    files = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(files) == 7 and all((out / f).is_file() for f in files)
    assert "| robust-1 |" in md and "`verisnn check CERTIFICATE.json`" in md


def test_report_opens_in_headless_chromium_with_every_image_loaded(report):
    paths, _ = report
    opened = open_in_browser(paths["html"])  # fails loudly without chromium / chromium-driver
    assert opened["images"] == 7
    assert not opened["broken"], f"images that did not load: {opened['broken']}"
    assert not opened["errors"], opened["errors"]
    assert opened["title"].startswith("Audit of <script>")  # shown as text, not run


def test_a_bundle_without_its_summary_is_refused(tmp_path):
    doc = bundle(tiny_model())
    del doc["summary"]
    with pytest.raises(InputError, match="summary"):
        render_report(doc, tmp_path)
    unlearned = {**bundle(tiny_model()), "automata": [{"name": "capped", "machine": None,
                                                       "summary": {"status": "unknown", "reason": "over 20 states"}}]}
    html = render_report(unlearned, tmp_path / "unlearned")["html"].read_text()
    assert "Automaton capped: not learned" in html and "over 20 states" in html
    minimal = {k: bundle(tiny_model())[k] for k in ("title", "model", "summary")}
    paths = render_report(minimal, tmp_path / "minimal")
    assert "<img" not in paths["html"].read_text()
