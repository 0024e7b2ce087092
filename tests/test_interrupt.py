"""Ctrl-C is an interrupt (issue 14, item 7): a SIGINT during a solver's search ends
`verify` with exit status 130 and `{"error": "interrupted"}`, writes no certificate, and an
audit campaign stores no answer for the interrupted query — never "unknown, timeout"."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from verisnn.interrupts import check_z3_reason, interruptible
from verisnn.model import Dense, InputSpec, Model, Neuron
from verisnn.model_format import save_model
from verisnn.store import Store

STARTUP_S = 5.0  # for the process to import verisnn and reach the solver (it then searches for much longer)


@pytest.fixture(scope="module")
def hard(tmp_path_factory) -> dict[str, Path]:
    """A small model and a flips-8 region that CP-SAT and z3 search for far longer than a minute."""
    folder = tmp_path_factory.mktemp("hard")
    rng = np.random.default_rng(0)
    n, h, T = 24, 24, 10
    neuron = dict(model="lif", threshold=10, v_decay=(3, 2))
    model = Model(time_steps=T, input=InputSpec(size=n), name="hard", layers=(
        Dense(weight=rng.integers(-8, 9, (h, n)).tolist(), neuron=Neuron(size=h, **neuron)),
        Dense(weight=rng.integers(-8, 9, (4, h)).tolist(), neuron=Neuron(size=4, **neuron))))
    save_model(model, folder / "hard.snn.json")
    np.save(folder / "centre.npy", (rng.random((T, n)) < 0.3).astype(np.int8))
    (folder / "flips8.yaml").write_text("{region: {flips: 8}, condition: robust}\n")
    return {"folder": folder, "model": folder / "hard.snn.json", "centre": folder / "centre.npy",
            "property": folder / "flips8.yaml"}


def _interrupt_after(proc: subprocess.Popen, seconds: float, target: int | None = None) -> float:
    time.sleep(seconds)
    assert proc.poll() is None, "the solver finished before it could be interrupted"
    os.kill(target or proc.pid, signal.SIGINT)
    return time.monotonic()


@pytest.mark.parametrize("method", ["cpsat", "smt"])
def test_ctrl_c_during_a_solver_search_exits_130_without_a_certificate(hard, tmp_path, method):
    certificate = tmp_path / "c.json"
    proc = subprocess.Popen([sys.executable, "-m", "verisnn", "verify", str(hard["model"]), "--input",
                             str(hard["centre"]), "--property", str(hard["property"]), "--method", method,
                             "--timeout", "120", "--certificate", str(certificate), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        sent = _interrupt_after(proc, STARTUP_S)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, out
    assert json.loads(out)["error"] == "interrupted"
    assert time.monotonic() - sent < 30  # stopped by the interrupt, not by the 120 s timeout
    assert not certificate.exists()


def _workers(pid: int) -> list[psutil.Process]:
    """The campaign's worker processes (not multiprocessing's resource tracker)."""
    return [c for c in psutil.Process(pid).children() if "resource_tracker" not in " ".join(c.cmdline())]


def test_ctrl_c_to_an_audit_worker_stores_no_answer(hard, tmp_path):
    config = tmp_path / "audit.yaml"
    config.write_text(json.dumps({"name": "hard", "model": str(hard["model"]), "inputs": {"file": "X.npy"},
                                  "properties": [{"name": "flips8", "file": str(hard["property"])}],
                                  "verify": {"method": "cpsat", "timeout": 120}}))
    np.save(tmp_path / "X.npy", np.load(hard["centre"])[None])
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "verisnn", "audit", str(config), "--out", str(out), "--workers",
                             "1", "--no-progress", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not (workers := _workers(proc.pid)):  # spawned when the pool starts
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.05)
        (worker,) = workers
        _interrupt_after(proc, STARTUP_S, worker.pid)  # the worker alone: the parent would go on storing
        stdout, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, stdout
    with Store(out, writable=False) as store:
        assert store.rows() == []  # nothing stored for the interrupted query: a rerun asks it again
        (run,) = store.runs()
    assert run["status"] == "interrupted"


def test_interruptible_stops_the_call_and_raises():
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    release = threading.Event()
    stopped = []
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    try:
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            interruptible(lambda: release.wait(20), lambda: (stopped.append(True), release.set()))
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert stopped == [True]
    assert interruptible(lambda: 42, lambda: None) == 42
    with pytest.raises(ZeroDivisionError):
        interruptible(lambda: 1 / 0, lambda: None)


def test_z3s_reason_for_a_caught_ctrl_c_is_an_interrupt():
    with pytest.raises(KeyboardInterrupt):
        check_z3_reason("interrupted from keyboard")
    for reason in (None, "timeout", "canceled", "incomplete quantifiers"):
        check_z3_reason(reason)
