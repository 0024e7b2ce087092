"""Hostile files and arguments (issue 14, items 5, 6 and 10): every user file is read by
the one strict reader of :mod:`verisnn.documents`, sizes are bounded before anything is
allocated, names that become paths stay in their folder, and every message names the
argument, key or node and stays short."""

from __future__ import annotations

import errno
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from verisnn import cli
from verisnn.documents import (MAX_DEPTH, StrictValidator, clip, load_document, parse_json, parse_yaml,
                               read_bounded)
from verisnn.errors import InputError
from verisnn.model_format import save_model

sys.path.insert(0, str(Path(__file__).parent))
from test_cli import RASTER, tiny_model  # noqa: E402

# A billion-laughs document: 9^4 copies of "lol" behind 40 lines of aliases.
LAUGHS = """name: x
dataset: iris
time_steps: 4
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
hidden: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
"""


def run_json(capsys, *argv) -> tuple[int, dict]:
    code = cli.main([str(a) for a in argv] + ["--json"])
    out, _ = capsys.readouterr()
    assert out.count("\n") == 1, out[:300]
    return code, json.loads(out)


# ----------------------------------------------------------------------------- the strict reader


@pytest.mark.parametrize("text, problem", [
    (b"a: &x [1, 2]\nb: *x\n", "aliases"),
    (b"a: 1\nb: 2\na: 3\n", "key 'a' appears twice"),
    (b"a: \xff\xfe\n", "unacceptable character"),
    (b"[" * 5000 + b"]" * 5000, f"deeper than {MAX_DEPTH} levels"),
    (b"n: " + b"9" * 5000 + b"\n", "4300 digits"),
    (b"!!python/object/apply:os.system ['true']\n", "could not determine a constructor"),
    (b"x: !!binary aGVsbG8=\n", "makes no JSON value"),
    (b"x: !!set {a, b}\n", "makes no JSON value"),
])
def test_yaml_refusals_name_the_problem_and_the_place(text, problem):
    with pytest.raises(InputError, match=problem) as err:
        parse_yaml(text, "config", InputError, "CONFIG")
    assert err.value.path == "CONFIG" and len(str(err.value)) < 300


def test_yaml_keeps_plain_values_and_reads_a_bare_date_as_text():
    assert parse_yaml(b"name: 2024-01-01\nn: [1, 2.5, null, true]\n") == {"name": "2024-01-01",
                                                                       "n": [1, 2.5, None, True]}


@pytest.mark.parametrize("text, problem", [
    (b'{"a": 1, "a": 2}', "appears twice"), (b"[" * 100_000, "nests too deeply"), (b"\xff", "not UTF-8"),
    (b"[NaN]", "NaN"), (b"1" * 5000, "4300 digits"), (b"{", "not valid JSON"),
])
def test_json_refusals_use_the_callers_error_class(text, problem):
    with pytest.raises(InputError, match=problem):
        parse_json(text, "config", InputError)


def test_a_duplicate_key_of_a_megabyte_is_quoted_clipped():
    key = "k" * 1_000_000
    with pytest.raises(InputError) as err:
        parse_json(json.dumps({key: 1, **{}}).replace("}", f', "{key}": 2}}').encode(), "x", InputError)
    assert len(str(err.value)) < 300
    assert clip("a" * 50 + "b" * 50, 20) == "aaaaaaaaaaaaaaa...(80 characters left out)...bbbbb"


def test_load_document_picks_json_by_suffix_and_names_the_file(tmp_path):
    (tmp_path / "c.json").write_text('{"a": 1, "a": 1}')
    (tmp_path / "c.yaml").write_text('{"a": 1}')
    with pytest.raises(InputError, match="appears twice") as err:
        load_document(tmp_path / "c.json", 1 << 10, InputError, "config")
    assert err.value.path == "c.json"
    assert load_document(tmp_path / "c.yaml", 1 << 10, InputError, "config") == {"a": 1}
    with pytest.raises(InputError, match="larger than the 8 bytes"):
        read_bounded(tmp_path / "c.json", 8, InputError, "config")


def test_schema_integers_are_json_integers():
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    assert list(StrictValidator(schema).iter_errors({"n": 5.0}))
    assert not list(StrictValidator(schema).iter_errors({"n": 5}))


# ----------------------------------------------------------------------------- train's config (item 5)


@pytest.mark.parametrize("content, problem", [
    (LAUGHS.encode(), "aliases"),
    (b"name: x\nname: y\ndataset: iris\ntime_steps: 4\n", "'name' appears twice"),
    (b"name: \xff\xfe\ndataset: iris\ntime_steps: 4\n", "unacceptable character"),
    (b"[" * 5000 + b"]" * 5000, "nests deeper"),
    (b"name: x\ndataset: iris\ntime_steps: 4\nhidden: [1000000000]\n", "hidden\\[0\\]: 1000000000 is greater"),
    (b"name: x\ndataset: iris\ntime_steps: 4\nhidden: [5.0]\n", "hidden\\[0\\]: 5.0 is not of type 'integer'"),
    (b"name: x\ndataset: iris\ntime_steps: 4\ntraining: {epochs: 1.0e+300}\n", "training.epochs"),
    (b"name: x\ndataset: iris\ntime_steps: 4\ntraining: {batch_size: 10000000}\n", "training.batch_size"),
    (b"name: x\ndataset: iris\ntime_steps: 4\nseed: 100000000000000000000\n", "config.seed"),
    (b'{"name": "x", "name": "y", "dataset": "iris", "time_steps": 4}', "'name' appears twice"),
])
def test_train_refuses_a_hostile_config_with_exit_2(tmp_path, capsys, content, problem):
    config = tmp_path / ("c.json" if content.startswith(b"{") else "c.yaml")
    config.write_bytes(content)
    code, answer = run_json(capsys, "train", config, "--out", tmp_path / "out")
    assert code == 2, answer
    assert answer["kind"] == "bad_input"
    assert problem.replace("\\", "") in answer["error"] or __import__("re").search(problem, answer["error"])
    assert len(answer["error"]) < 400
    assert not (tmp_path / "out" / "float.pt").exists()


def test_train_budgets_the_network_before_allocating_it(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("name: x\ndataset: iris\ntime_steps: 4\nhidden: [200000]\n")  # 200000^2 floats: 160 GB
    code, answer = run_json(capsys, "train", config, "--out", tmp_path / "out")
    assert code == 2 and "memory budget" in answer["error"] and "VERISNN_MEMORY_BUDGET" in answer["error"]


def test_train_overrides_stay_within_the_config_bounds(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("name: x\ndataset: iris\ntime_steps: 4\nhidden: [2]\n")
    code, answer = run_json(capsys, "train", config, "--out", tmp_path / "out", "--seed", "-1")
    assert code == 2 and "config.seed" in answer["error"]


def test_a_config_value_quoted_in_a_schema_error_is_clipped(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("name: " + "x" * 500_000 + "\ndataset: iris\ntime_steps: 4\n")  # 'xxx...' is too long
    code, answer = run_json(capsys, "train", config, "--out", tmp_path / "out")
    assert code == 2 and "too long" in answer["error"] and len(answer["error"]) < 400


@pytest.mark.parametrize("kind", ["property", "profile", "campaign"])
def test_every_yaml_loader_refuses_aliases(tmp_path, kind):
    from verisnn.campaign import load_config
    from verisnn.hardware import load_profile
    from verisnn.properties import load_property

    path = tmp_path / "f.yaml"
    path.write_text("a: &a [1, 2]\nname: x\nb: *a\n")
    load = {"property": load_property, "profile": load_profile, "campaign": load_config}[kind]
    with pytest.raises(InputError if kind != "property" else Exception, match="aliases"):
        load(path)


def test_case_study_configs_read_through_the_strict_reader():
    for study in ("ecg", "tomita"):
        text = (Path(__file__).parents[1] / "case_studies" / study / "build.py").read_text()
        assert "yaml.safe_load" not in text and "load_document" in text


# ----------------------------------------------------------------------------- arguments (item 10)


@pytest.fixture
def tiny(tmp_path) -> dict[str, Path]:
    paths = {"model": tmp_path / "tiny.snn.json", "raster": tmp_path / "r.npy", "data": tmp_path / "data.npy",
             "prop": tmp_path / "p.yaml"}
    save_model(tiny_model(), paths["model"])
    np.save(paths["raster"], RASTER)
    np.save(paths["data"], np.stack([RASTER] * 10))
    paths["prop"].write_text("{region: {flips: 1}, condition: robust}\n")
    return paths


def test_an_unknown_solver_is_refused_naming_solver(tiny, capsys):
    code, answer = run_json(capsys, "verify", tiny["model"], "--input", tiny["raster"], "--property", tiny["prop"],
                            "--solver", "bogus")
    assert code == 2 and answer["error"].startswith("--solver: unknown solver 'bogus'")


def test_float_labels_are_refused(tiny, tmp_path, capsys):
    np.save(tmp_path / "y.npy", np.arange(10) * 0.5)
    code, answer = run_json(capsys, "extract", "tree", tiny["model"], "--data", tiny["data"], "--labels",
                            tmp_path / "y.npy", "--out", tmp_path / "o")
    assert code == 2 and answer["error"] == "--labels: expected integer class labels, got dtype float64"


@pytest.mark.parametrize("arg", ["--data", "--eval"])
def test_rasters_that_do_not_fit_name_their_argument(tiny, tmp_path, capsys, arg):
    np.save(tmp_path / "bad.npy", np.zeros((2, 3, 3), dtype=np.int8))
    data = tmp_path / "bad.npy" if arg == "--data" else tiny["data"]
    extra = ["--eval", tmp_path / "bad.npy"] if arg == "--eval" else []
    code, answer = run_json(capsys, "extract", "tree", tiny["model"], "--data", data, *extra, "--out", tmp_path / "o")
    assert code == 2 and answer["error"].startswith(f"{arg}: raster has T=3, n=3")


@pytest.mark.parametrize("region, problem", [("{flops: 2}", "flops"), ("[1", "not a usable YAML document"),
                                             ("{jitter: {shift: 1, spikes: 2}}", "not jitter")])
def test_cost_region_errors_name_region(tiny, capsys, region, problem):
    code, answer = run_json(capsys, "cost", tiny["model"], "--input", tiny["raster"], "--profile", "loihi",
                            "--worst-case", "spikes", "--region", region)
    assert code == 2 and answer["error"].startswith("--region") and problem in answer["error"]


@pytest.fixture
def graph(tmp_path) -> Path:
    """A NIR file of the tiny model whose metadata names it with 10,000 characters."""
    import dataclasses

    from verisnn import nir_io

    model = dataclasses.replace(tiny_model(), name="n" * 10_000)
    path = tmp_path / "tiny.nir"
    nir_io.write_nir(nir_io.export_nir(model, dt=1e-3, scale=1.0, allow_lossy=True).graph, path)
    return path


def test_import_nir_shortens_a_name_the_model_format_refuses(graph, tmp_path, capsys):
    from verisnn.model_format import load_model, schema

    out = tmp_path / "m.snn.json"
    code, answer = run_json(capsys, "import-nir", graph, "--dt", "0.001", "--scale", "1", "--time-steps", "4",
                            "--out", out)
    assert code == 0, answer
    limit = schema()["properties"]["name"]["maxLength"]
    assert load_model(out).name == "n" * limit  # the written model loads
    assert any("shortened" in c for c in answer["conventions"])


@pytest.mark.parametrize("argv, arg", [(["--v-bits", "999"], "--v-bits"), (["--v-bits", "1"], "--v-bits"),
                                       (["--decay-shift", "99"], "--decay-shift"),
                                       (["--scale", "1e300"], "--scale")])
def test_import_nir_arguments_are_checked_even_with_metadata(graph, tmp_path, capsys, argv, arg):
    base = {"--dt": "0.001", "--scale": "1", "--time-steps": "4"}
    base.update(dict(zip(argv[::2], argv[1::2])))
    code, answer = run_json(capsys, "import-nir", graph, *[x for kv in base.items() for x in kv],
                            "--out", tmp_path / "m.snn.json")
    assert code == 2 and arg in answer["error"], answer
    assert not (tmp_path / "m.snn.json").exists()


def test_a_malformed_nir_node_is_named(tmp_path):
    import nir

    from verisnn.errors import NIRError
    from verisnn.nir_io import import_nir

    graph = nir.NIRGraph(nodes={"input": nir.Input(np.array([2])),
                                "lin": nir.Linear(weight=np.array([[1e70, 0.0], [0.0, 1.0]])),
                                "lif": nir.IF(r=np.ones(2) * 1e3, v_threshold=np.ones(2)),
                                "output": nir.Output(np.array([2]))},
                         edges=[("input", "lin"), ("lin", "lif"), ("lif", "output")])
    with pytest.raises(NIRError, match="exceeds 2\\^62") as err:
        import_nir(graph, dt=1e-3, scale=1.0, time_steps=4)
    assert err.value.path == "node 'lif' (IF)"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    from verisnn.pipeline import run_training

    out = tmp_path_factory.mktemp("train")
    return Path(run_training({"name": "x", "dataset": "iris", "time_steps": 4, "hidden": [3],
                              "training": {"epochs": 1}}, out, progress=False)["checkpoint"])


@pytest.mark.parametrize("scale, problem", [("1e300", "exceeds 2^53"), ("1e10", "layers[0].neuron.threshold")])
def test_quantize_scale_errors_name_scale(checkpoint, tmp_path, capsys, scale, problem):
    code, answer = run_json(capsys, "quantize", checkpoint, "--out", tmp_path / "m.snn.json", "--scale", scale)
    assert code == 2 and answer["error"].startswith("--scale: ") and problem in answer["error"], answer


def test_quantize_data_that_do_not_fit_name_data(checkpoint, tmp_path, capsys):
    data = tmp_path / "d.npz"
    np.savez(data, x_train=np.random.rand(3, 7), y_train=np.arange(3), x_test=np.random.rand(3, 7),
             y_test=np.arange(3))
    code, answer = run_json(capsys, "quantize", checkpoint, "--out", tmp_path / "m.snn.json", "--data", data)
    assert code == 2 and answer["error"].startswith(f"--data {data}: 7 features per sample"), answer


# ----------------------------------------------------------------------------- paths (item 6)


@pytest.mark.parametrize("name", ["../../../x", "/tmp/x", ".hidden", "a/b", "", "x" * 101, "-rf", 5])
def test_unsafe_file_names_are_refused(name):
    from verisnn.paths import check_name

    with pytest.raises(InputError, match="not a usable file name") as err:
        check_name(name, "extractions[0].name")
    assert err.value.path == "extractions[0].name"


def test_safe_file_names_pass():
    from verisnn.paths import check_name

    for name in ("rules", "tree-1", "machine_v2.0", "x" * 100, "_a"):
        assert check_name(name, "name") == name


def test_inside_refuses_escapes_and_links_out(tmp_path):
    from verisnn.paths import inside

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "link").symlink_to(tmp_path)
    assert inside(tmp_path / "out", "a/b.json", "f") == (tmp_path / "out" / "a" / "b.json").resolve()
    for escape in ("../x", "/etc/passwd", "link/x", "a/../../x"):
        with pytest.raises(InputError, match="lies outside"):
            inside(tmp_path / "out", escape, "f")


@pytest.mark.parametrize("name", ["../../../escaped", "/tmp/escaped-extraction"])
def test_an_audit_extraction_name_cannot_leave_the_campaign_folder(tmp_path, capsys, name):
    save_model(tiny_model(), tmp_path / "m.snn.json")
    np.save(tmp_path / "X.npy", np.stack([RASTER] * 4))
    config = {"name": "a", "model": "m.snn.json", "inputs": {"file": "X.npy"},
              "extractions": [{"kind": "tree", "name": name, "max_rules": 2}]}
    (tmp_path / "audit.yaml").write_text(json.dumps(config))
    code, answer = run_json(capsys, "audit", tmp_path / "audit.yaml", "--out", tmp_path / "out" / "a" / "b",
                            "--no-progress")
    assert code == 2 and "extractions[0].name" in answer["error"] and "not a usable file name" in answer["error"]
    assert not (tmp_path / "escaped").exists() and not Path("/tmp/escaped-extraction").exists()


def test_the_extraction_folder_is_checked_where_it_is_written(tmp_path):
    """A query that bypasses the config (the Python API) is refused where the folder is made."""
    from verisnn.audit import _extraction_dir
    from verisnn.campaign import Query

    query = Query(key="k" * 64, kind="extract", model_path="m", model_sha256="s", method="tree",
                  extraction={"kind": "tree", "name": "../../escaped"})
    with pytest.raises(InputError, match="not a usable file name"):
        _extraction_dir(query, tmp_path / "out")
    assert not (tmp_path / "escaped").exists()


def test_the_report_reads_back_only_files_inside_the_audit_folder(tmp_path):
    from verisnn.audit import _stored_json

    (tmp_path / "out").mkdir()
    (tmp_path / "secret.json").write_text('{"a": 1}')
    (tmp_path / "out" / "ok.json").write_text('{"a": 2}')
    assert _stored_json(tmp_path / "out", "ok.json", "rules") == {"a": 2}
    for escape in ("../secret.json", str(tmp_path / "secret.json")):
        with pytest.raises(InputError, match="lies outside"):
            _stored_json(tmp_path / "out", escape, "rules")


def _certificate_naming(tmp_path: Path, model_path: str) -> Path:
    """A certificate of the tiny model (naming its model by file) in ``tmp_path/bundle/certs``."""
    from verisnn.certificate import make_certificate, write_certificate
    from verisnn.properties import load_property
    from verisnn.verify import verify

    model = tiny_model()
    prop_file = tmp_path / "p.yaml"
    prop_file.write_text("{region: {flips: 1}, condition: robust}\n")
    prop = load_property(prop_file)
    result = verify(model, RASTER, prop, method="enumerate")
    path = tmp_path / "bundle" / "certs" / "c.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_certificate(path, make_certificate(model, prop, RASTER, result, model_path=model_path, embed_model=False))
    return path


@pytest.mark.parametrize("where", ["absolute", "relative"])
def test_the_checker_opens_a_model_file_only_inside_the_bundle(tmp_path, capsys, where):
    outside = tmp_path / "elsewhere" / "m.snn.json"  # a genuine model, but outside the bundle
    outside.parent.mkdir()
    save_model(tiny_model(), outside)
    cert = _certificate_naming(tmp_path, str(outside) if where == "absolute" else "../../elsewhere/m.snn.json")
    code, answer = run_json(capsys, "check", cert)
    assert code == 0 and answer["valid"] is False
    failure = next(c for c in answer["checks"] if not c["ok"])
    assert failure["name"] == "model" and "not found inside the bundle" in failure["detail"]
    # a folder the reviewer names is looked in, by file name
    code, answer = run_json(capsys, "check", cert, "--models-dir", outside.parent)
    assert code == 0 and answer["valid"] is True, answer
    code, answer = run_json(capsys, "check", cert)  # and only for that command
    assert answer["valid"] is False


def test_the_checker_finds_a_model_in_the_certificates_folder_or_the_one_above(tmp_path, capsys):
    cert = _certificate_naming(tmp_path, "../m.snn.json")
    save_model(tiny_model(), tmp_path / "bundle" / "m.snn.json")
    code, answer = run_json(capsys, "check", cert)
    assert code == 0 and answer["valid"] is True, answer
    code, answer = run_json(capsys, "check", cert, "--models-dir", tmp_path / "nothing")
    assert code == 2 and answer["error"].startswith("--models-dir")


def test_a_case_study_name_cannot_name_a_file_outside_its_folder(tmp_path):
    from verisnn.pipeline import build_case_study

    with pytest.raises(InputError, match="not a usable file name") as err:
        build_case_study({"name": "../../escaped", "dataset": "iris", "time_steps": 4, "hidden": [2],
                          "training": {"epochs": 1}}, tmp_path / "a" / "b", progress=False)
    assert err.value.path == "config.name" and not (tmp_path / "a").exists()


# ----------------------------------------------------------------------------- the audit store (item 8)


def _filled_store(out: Path, rows: int = 5) -> None:
    """A campaign store named 'a' (the audit config below) holding ``rows`` results."""
    from verisnn.store import RESULT_COLUMNS, Store

    with Store(out) as store:
        store.ensure_campaign("a", "0" * 64)
        run = store.begin_run(config={}, config_sha256="0" * 64, queries=rows, already_done=0, workers=1,
                              scheduler=None, version="test")
        for i in range(rows):
            row = dict.fromkeys(RESULT_COLUMNS)
            row.update(key=f"k{i}", kind="verify", model_sha256="m", method="auto", verdict="verified",
                       result={"verdict": "verified", "pad": "x" * 2000}, run_id=run)
            row.pop("stored_at")
            store.add(row)


def _audit_config(tmp_path: Path, inputs: int = 3) -> Path:
    save_model(tiny_model(), tmp_path / "m.snn.json")
    np.save(tmp_path / "X.npy", np.stack([RASTER] * inputs))
    config = tmp_path / "audit.yaml"
    config.write_text(json.dumps({"name": "a", "model": "m.snn.json", "inputs": {"file": "X.npy"},
                                  "properties": [{"name": "f1", "property": {"region": {"flips": 1},
                                                                             "condition": "robust"}}]}))
    return config


def _stored_rows(out: Path) -> list[dict]:
    from verisnn.store import Store

    with Store(out, writable=False) as store:
        return store.rows()


def _pages_capped(monkeypatch, cap) -> None:
    """SQLite as on a full disk: the database may not grow beyond ``cap(db)`` pages."""
    import sqlite3

    from verisnn import store

    real = sqlite3.connect

    def connect(*args, **kwargs):
        db = real(*args, **kwargs)
        db.execute(f"PRAGMA max_page_count = {cap(db)}")
        return db
    monkeypatch.setattr(store.sqlite3, "connect", connect)


def test_a_full_disk_is_named_and_what_was_stored_stays(tmp_path, monkeypatch):
    from verisnn.store import RESULT_COLUMNS, Store, StoreError

    _filled_store(tmp_path / "out")
    before = _stored_rows(tmp_path / "out")
    _pages_capped(monkeypatch, lambda db: db.execute("PRAGMA page_count").fetchone()[0])
    with Store(tmp_path / "out") as store, pytest.raises(StoreError, match="the disk is full") as err:
        for i in range(100):
            row = {**dict.fromkeys(RESULT_COLUMNS), "key": f"new{i}", "kind": "verify", "model_sha256": "m",
                   "method": "auto", "verdict": "unknown", "result": {"pad": "y" * 4000}, "run_id": 1}
            row.pop("stored_at")
            store.add(row)
    assert "cannot rollback" not in str(err.value)
    monkeypatch.undo()
    after = _stored_rows(tmp_path / "out")
    assert after[: len(before)] == before  # intact, and whatever fitted is whole


def test_audit_on_a_full_disk_exits_2_naming_it(tmp_path, capsys, monkeypatch):
    config = _audit_config(tmp_path, inputs=40)  # more answers than the pages left hold
    _pages_capped(monkeypatch, lambda db: 8)
    code, answer = run_json(capsys, "audit", config, "--out", tmp_path / "out", "--workers", "1", "--no-progress")
    assert code == 2 and "the disk is full" in answer["error"] and "cannot rollback" not in answer["error"], answer
    monkeypatch.undo()
    assert 0 < len(_stored_rows(tmp_path / "out")) < 40  # the answers stored before the disk filled are kept


def test_rerunning_an_audit_on_a_read_only_store_exits_2_and_changes_nothing(tmp_path, capsys, monkeypatch):
    import hashlib
    import sqlite3

    from verisnn import store

    config = _audit_config(tmp_path)
    _filled_store(tmp_path / "out")
    digest = hashlib.sha256((tmp_path / "out" / "campaign.sqlite").read_bytes()).hexdigest()
    real = sqlite3.connect
    monkeypatch.setattr(store.sqlite3, "connect", lambda path, **kw: real(
        path if str(path).startswith("file:") else f"file:{path}?mode=ro", uri=True, **kw))
    code, answer = run_json(capsys, "audit", config, "--out", tmp_path / "out", "--workers", "1", "--no-progress")
    assert code == 2 and "read-only" in answer["error"] and "--out" in answer["error"], answer
    real_open = os.open

    def read_only_fs(path, flags, *args):  # root ignores permissions: refuse writes as a read-only mount does
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args)
    monkeypatch.setattr(store.os, "open", read_only_fs)
    code, answer = run_json(capsys, "audit", config, "--out", tmp_path / "out", "--workers", "1", "--no-progress")
    assert code == 2 and "Read-only file system" in answer["error"], answer
    monkeypatch.undo()
    assert hashlib.sha256((tmp_path / "out" / "campaign.sqlite").read_bytes()).hexdigest() == digest


@pytest.mark.parametrize("offset", [100, 4096])
def test_a_damaged_store_is_named(tmp_path, capsys, offset):
    import sqlite3

    from verisnn.store import Store, StoreError

    config = _audit_config(tmp_path)
    _filled_store(tmp_path / "out")
    db = sqlite3.connect(tmp_path / "out" / "campaign.sqlite")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the file itself
    db.close()
    path = tmp_path / "out" / "campaign.sqlite"
    data = bytearray(path.read_bytes())
    data[offset:offset + 200] = b"\x5a" * 200
    path.write_bytes(bytes(data))
    code, answer = run_json(capsys, "audit", config, "--out", tmp_path / "out", "--workers", "1", "--no-progress")
    assert code == 2 and "the campaign store is damaged" in answer["error"], answer
    with pytest.raises(StoreError, match="damaged"), Store(tmp_path / "out", writable=False) as store:
        store.campaign(), store.rows()  # the report's reads name it too
    assert path.read_bytes() == bytes(data)  # left as it was, for the user to restore


def test_no_error_message_is_longer_than_the_limit(tmp_path, capsys, monkeypatch):
    """Whatever a message quotes, the command line prints at most MAX_ERROR_CHARS of it."""
    from verisnn import pipeline

    def huge(*args, **kwargs):
        raise InputError("x" * 10_000_000, "config")
    monkeypatch.setattr(pipeline, "run_training", huge)
    config = tmp_path / "c.yaml"
    config.write_text("name: x\n")
    code, answer = run_json(capsys, "train", config, "--out", tmp_path / "out")
    assert code == 2 and len(answer["error"]) <= cli.MAX_ERROR_CHARS + 100


def test_an_extraction_asking_for_billions_of_draws_is_budgeted_first(tmp_path):
    from verisnn.errors import ResourceError
    from verisnn.extractors.tree import run_tree_extraction

    with pytest.raises(ResourceError, match="memory budget"):
        run_tree_extraction(tiny_model(), np.stack([RASTER] * 4), n_samples=10**12, max_rules=2)
