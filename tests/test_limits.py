"""The memory budget and printable counts (verisnn.limits)."""

import json

import pytest

from verisnn.errors import ResourceError, VerisnnError
from verisnn.limits import (BUDGET_ENV, DEFAULT_MEMORY_BUDGET, count_json, count_log10, count_text, memory_budget,
                            parse_bytes, require_memory, set_memory_budget)


def test_counts_beyond_pythons_digit_limit_print():
    huge = 2 ** 16000  # the region `any` of a T = 8000, n = 2 model
    with pytest.raises(ValueError):
        str(huge)  # what used to make verify exit 1
    assert count_text(huge) == "2^16000"
    assert count_json(huge) == "2^16000"
    odd = 3 ** 10000
    assert count_text(odd) == "about 1.631e4771"
    assert json.dumps(count_json(odd)) == '"about 1.631e4771"'
    assert abs(count_log10(odd) - 10000 * 0.47712125472) < 1e-6


def test_small_counts_stay_exact_integers():
    assert count_json(0) == 0
    assert count_json(10 ** 999) == 10 ** 999
    assert isinstance(count_json(10 ** 1000), str)
    assert count_text(12345) == "12345"


def test_budget_refuses_before_allocating_and_names_how_to_raise_it(monkeypatch):
    monkeypatch.delenv(BUDGET_ENV, raising=False)
    assert memory_budget() == DEFAULT_MEMORY_BUDGET
    require_memory(DEFAULT_MEMORY_BUDGET, "exactly the budget")
    with pytest.raises(ResourceError, match=r"layer 0 needs about 8 GiB, more than the memory budget of 4 GiB; "
                                            r"raise it with --memory-budget or VERISNN_MEMORY_BUDGET"):
        require_memory(8 << 30, "layer 0")
    monkeypatch.setenv(BUDGET_ENV, "16G")
    assert memory_budget() == 16 << 30
    require_memory(8 << 30, "layer 0")
    set_memory_budget(1 << 20)
    try:
        with pytest.raises(ResourceError, match="1 MiB"):
            require_memory(2 << 20, "x")
    finally:
        set_memory_budget(None)


@pytest.mark.parametrize("text, value", [("4G", 4 << 30), ("512m", 512 << 20), ("1073741824", 1 << 30),
                                         ("1.5G", 3 << 29), ("2GiB", 2 << 30)])
def test_parse_bytes(text, value):
    assert parse_bytes(text) == value


@pytest.mark.parametrize("text", ["", "lots", "-1G", "0", "4X", "1e9"])
def test_parse_bytes_refuses_what_is_not_a_size(text):
    with pytest.raises(VerisnnError, match=BUDGET_ENV):
        parse_bytes(text)


def test_read_bounded_refuses_devices_and_pipes_without_reading_them(tmp_path):
    import os
    from pathlib import Path

    from verisnn.errors import ModelError
    from verisnn.model_format import read_bounded

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # opening it for reading in blocking mode would wait for a writer for ever
    for path in (Path("/dev/zero"), fifo):
        with pytest.raises(ModelError, match="not a regular file"):
            read_bounded(path, 1 << 20, ModelError, "model")
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 2048)
    with pytest.raises(ModelError, match="2048 bytes: larger than"):
        read_bounded(big, 1024, ModelError, "model")
    assert read_bounded(big, 4096, ModelError, "model") == b" " * 2048


def test_npy_input_larger_than_the_budget_is_refused_before_it_is_read(tmp_path, capsys):
    """A sparse .npy whose header declares 64 GiB: refused from its header, nothing copied."""
    import numpy as np

    from test_cli import run_json, tiny_model
    from verisnn.model_format import save_model

    save_model(tiny_model(), tmp_path / "tiny.snn.json")
    shape = (1 << 20, 8192, 8)
    with open(tmp_path / "huge.npy", "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "|i1", "fortran_order": False, "shape": shape})
        f.truncate(f.tell() + int(np.prod(shape)))
    code, answer, _ = run_json(capsys, "simulate", tmp_path / "tiny.snn.json", "--input", tmp_path / "huge.npy")
    assert code == 2 and answer["kind"] == "bad_input"
    assert "--input" in answer["error"] and "GiB, more than the memory budget" in answer["error"]


def test_checkpoint_declaring_a_huge_network_is_refused_before_it_is_built(tmp_path):
    import json as _json

    import torch

    from verisnn.checkpoint import load_checkpoint, save_checkpoint
    from test_training import _net

    save_checkpoint(_net(seed=5), tmp_path / "c.pt", {})
    payload = torch.load(tmp_path / "c.pt", weights_only=True)
    arch = _json.loads(payload["architecture"])
    arch["specs"][0]["in_size"] = arch["specs"][0]["out_size"] = 1 << 20  # 4 TiB of float32 weights
    payload["architecture"] = _json.dumps(arch)
    torch.save(payload, tmp_path / "huge.pt")
    with pytest.raises(ResourceError, match="huge.pt.*4 TiB, more than the memory budget"):
        load_checkpoint(tmp_path / "huge.pt")


def test_checkpoint_that_unpacks_beyond_the_budget_is_refused_before_torch_reads_it(tmp_path):
    """A few KiB of deflated zeros that would unpack to 64 MiB, under a 16 MiB budget."""
    import zipfile

    from verisnn.checkpoint import load_checkpoint

    bomb = tmp_path / "bomb.pt"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("archive/data/0", b"\0" * (64 << 20))
    assert bomb.stat().st_size < 1 << 20
    set_memory_budget(16 << 20)
    try:
        with pytest.raises(ResourceError, match="bomb.pt.*64 MiB, more than the memory budget of 16 MiB"):
            load_checkpoint(bomb)
    finally:
        set_memory_budget(None)


def test_npz_data_are_budgeted_from_their_headers_before_they_unpack(tmp_path):
    import numpy as np

    from verisnn.datasets import load_npz

    zeros = np.zeros((4096, 4096), dtype=np.uint8)  # 16 MiB that deflate to about 16 KiB
    np.savez_compressed(tmp_path / "bomb.npz", x_train=zeros, y_train=np.zeros(4096, dtype=np.int64),
                        x_test=zeros[:10], y_test=np.zeros(10, dtype=np.int64), value_range=np.array([0.0, 1.0]))
    assert (tmp_path / "bomb.npz").stat().st_size < 1 << 20
    set_memory_budget(64 << 20)  # the float64 copy alone would be 128 MiB
    try:
        with pytest.raises(ResourceError, match=r"the data bomb.npz needs about 144 MiB"):
            load_npz(tmp_path / "bomb.npz")
        set_memory_budget(1 << 30)
        assert load_npz(tmp_path / "bomb.npz").x_train.shape == (4096, 4096)
    finally:
        set_memory_budget(None)


def test_json_documents_are_budgeted_before_they_are_parsed(tmp_path):
    """A model file of one-digit numbers expands about 20-fold into Python objects."""
    from verisnn.errors import ModelError
    from verisnn.model_format import load_model

    path = tmp_path / "wide.snn.json"
    path.write_text('{"format": "verisnn.model/1", "layers": [[' + "1," * (1 << 20) + "1]]}")
    set_memory_budget(16 << 20)
    try:
        with pytest.raises(ResourceError, match=r"parsing the model \(2 MiB of JSON\) needs about 48 MiB"):
            load_model(path)
        set_memory_budget(64 << 20)
        with pytest.raises(ModelError):  # parsed, then refused by the schema
            load_model(path)
    finally:
        set_memory_budget(None)


@pytest.mark.parametrize("region", [{"flips": 10 ** 400}, {"deletions": 2 ** 53 + 1},
                                    {"jitter": {"shift": 1, "spikes": 10 ** 30}}])
def test_property_counts_past_2_53_are_refused_naming_the_key(region, tmp_path, capsys):
    """flips: 10^400 reached numpy as an int64 and verify exited 1 (OverflowError)."""
    import numpy as np

    from test_cli import run_json, tiny_model
    from verisnn.model_format import save_model
    from verisnn.properties import Flips, PropertyError

    save_model(tiny_model(), tmp_path / "tiny.snn.json")
    np.save(tmp_path / "x.npy", np.zeros((4, 2), dtype=np.int8))
    (tmp_path / "p.json").write_text(json.dumps({"region": region, "condition": "robust"}))
    code, answer, _ = run_json(capsys, "verify", tmp_path / "tiny.snn.json", "--input", tmp_path / "x.npy",
                               "--property", tmp_path / "p.json")
    assert code == 2 and answer["kind"] == "bad_input", answer
    assert "region." in answer["error"] and "at most 2^53" in answer["error"] and len(answer["error"]) < 300
    with pytest.raises(PropertyError, match="more than the 2\\^53"):
        Flips(10 ** 400)
    (tmp_path / "p.json").write_text(json.dumps({"region": {"flips": 2 ** 53}, "condition": "robust"}))
    code, answer, _ = run_json(capsys, "verify", tmp_path / "tiny.snn.json", "--input", tmp_path / "x.npy",
                               "--property", tmp_path / "p.json", "--timeout", "10")
    assert code == 0 and answer["verdict"] in ("verified", "falsified"), answer  # the largest count still works


def test_a_batch_too_large_to_simulate_is_refused_from_the_header(tmp_path, capsys):
    """A 2 GiB batch fitted the budget as an array and was read, checked and only then refused
    by the simulator (20 s, 4.1 GB); the simulation it asks for is now budgeted with it."""
    import numpy as np

    from test_cli import run_json, tiny_model
    from verisnn.model_format import save_model
    from verisnn.simulator import run_bytes

    model = tiny_model()
    save_model(model, tmp_path / "tiny.snn.json")
    batch = 1 << 20
    with open(tmp_path / "batch.npy", "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "|i1", "fortran_order": False,
                                                 "shape": (batch, model.time_steps, model.input.size)})
        f.truncate(f.tell() + batch * model.time_steps * model.input.size)
    set_memory_budget(64 << 20)
    assert batch * model.time_steps * model.input.size < 64 << 20 < run_bytes(model, batch)
    try:
        code, answer, _ = run_json(capsys, "simulate", tmp_path / "tiny.snn.json", "--input", tmp_path / "batch.npy")
    finally:
        set_memory_budget(None)
    assert code == 2 and "--input" in answer["error"] and "and simulating it needs about" in answer["error"], answer
