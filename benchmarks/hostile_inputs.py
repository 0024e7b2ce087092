"""Hostile inputs: issue 14's attacks replayed against the command line, and what verisnn did.

Every case is a fresh ``python -m verisnn ... --json`` process in its own folder of a
temporary tree, under an address-space cap (``RLIMIT_AS``, ``--memory-cap``, so the machine
never swaps), with a wall-clock limit, its peak RSS recorded (VmHWM, summed over its
processes). Four categories:

* **bad inputs** over every subcommand: malformed, truncated, duplicate-key, aliased
  (billion laughs), invalid UTF-8, deeply nested, wrongly typed and out-of-range files
  (models, properties, rasters, alphabets, configs, certificates, checkpoints, NIR graphs,
  profiles, placements), missing files, folders, devices, bad arguments, path-traversal
  names. PASS: exit 2, exactly one JSON object ``{"error": <a message of < 4096 characters,
  no traceback>, "kind": "bad_input"}``, nothing written outside the case's output folder,
  within 20 s (40 s for commands that load torch). ``check`` may also answer ``valid:
  false`` (a document that breaks the schema is a checked, invalid certificate).
* **resource abuse**: long ``T``, huge declared convolutions, ``any`` regions of 2^16000
  rasters, compressed NIR weights, many letters, big files, certificates that drive long
  loops. PASS: an answer (exit 0) or a refusal (exit 2, one JSON object) within
  ``timeout * 1.1 + 5`` s (commands without ``--timeout``: 20 s) and the memory cap.
* **tampered certificates**: genuine certificates of every kind, then each bound field
  edited, keys added, SMT-LIB injected into the PDR invariant and the obligation, model
  paths out of the bundle (``../../etc/passwd``, absolute, a 2 GiB sparse file, a FIFO,
  a device), bad depths. PASS: ``check --json`` says ``valid: false`` (or exit 2), no file
  written (the injected paths and the case folder watched), within the limit. A certificate
  that embeds its model may instead be valid with a named file out of its bundle ignored
  (the check says the embedded document was used).
* **interruptions**: a small audit with certificates on 2 workers, stopped by ``kill -9``
  of the parent, of its process group or of a worker, SIGINT, SIGTERM, at several
  moments, a full disk (a small tmpfs) and a read-only re-run (a read-only bind mount);
  plus Ctrl-C of single verify / check / cost runs. PASS: the stopped run exits non-zero
  (SIGINT: 130) and claims no timeout; the re-run completes; every row stored before the
  stop is still there, unchanged; no key twice; the answers equal those of an
  uninterrupted run; every stored certificate file matches its stored hash.

Deterministic (seeded data, fixed cases); cases run on a pool of ``--workers`` (at most 2).
Writes a JSON results file (per case: category, name, command, exit code, elapsed, peak
RSS, pass/fail, why) and prints the machine, the commit, a summary table and every failure.

    .venv/bin/python benchmarks/hostile_inputs.py [--quick] [--categories bad,resource,tamper,interrupt]
        [--workers 2] [--timeout 5] [--memory-cap 6GiB] [--json artifacts/hostile_inputs.json] [--keep DIR]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import copy
import dataclasses
import hashlib
import json
import os
import pickle
import platform
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import h5py
import numpy as np
import psutil

from verisnn.model import Conv2d, Dense, InputSpec, Model, Neuron, Readout
from verisnn.model_format import model_hash, save_model

ROOT = Path(__file__).resolve().parents[1]
SEED = 14
MESSAGE_LIMIT = 4096     # a message is bounded (clipped near 2000 characters is fine; 34.7 MB is not)
BAD_LIMIT_S = 20.0       # bad inputs: an answer within this (torch commands: TORCH_LIMIT_S)
TORCH_LIMIT_S = 40.0
PLAIN_LIMIT_S = 20.0     # resource cases of commands without --timeout
SLACK_S, SLACK_FACTOR = 5.0, 1.1
GIB = 1 << 30
# Started by the launcher so the cap is set before Python, numpy or torch take address space.
LAUNCHER = ("import os, resource, signal, sys\n"
            "cap, fsize = int(sys.argv[1]), int(sys.argv[2])\n"
            "if cap: resource.setrlimit(resource.RLIMIT_AS, (cap, cap))\n"
            "if fsize:\n"
            "    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
            "    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))\n"
            "os.execv(sys.argv[3], sys.argv[3:])\n")
CATEGORIES = {"bad": "bad inputs", "resource": "resource abuse", "tamper": "tampered certificates",
              "interrupt": "interruptions"}


# ----------------------------------------------------------------------------- running one command

@dataclasses.dataclass
class Run:
    argv: list[str]
    exit: int | None          # None: killed at the limit
    elapsed_s: float
    peak_rss_mib: float
    stdout: str
    stderr: str

    @property
    def timed_out(self) -> bool:
        return self.exit is None


class Runner:
    """Starts ``python -m verisnn`` (or any command) under the memory cap, in its own session."""

    def __init__(self, memory_cap: int, logs: Path):
        self.memory_cap = memory_cap
        self.logs = logs
        self.env = dict(os.environ, PYTHONHASHSEED="0", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
                        OPENBLAS_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
        self._n = 0
        self._lock = threading.Lock()

    def command(self, argv: list) -> list[str]:
        return [sys.executable, "-m", "verisnn", *map(str, argv), "--json"]

    def start(self, command: list[str], cwd: Path, *, fsize: int = 0):
        with self._lock:
            self._n += 1
            n = self._n
        out, err = self.logs / f"{n}.out", self.logs / f"{n}.err"
        with open(out, "wb") as o, open(err, "wb") as e:
            proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", LAUNCHER,
                                     str(self.memory_cap), str(fsize), *command],
                                    cwd=cwd, stdin=subprocess.DEVNULL, stdout=o, stderr=e, env=self.env,
                                    start_new_session=True)
        return proc, out, err, time.monotonic()

    @staticmethod
    def reap(proc, started: float, limit_s: float | None) -> tuple[int | None, float, float]:
        """Waits for the process (killing its session at ``limit_s``): exit status (negative:
        the signal; None: killed at the limit), seconds, peak RSS in MiB.

        The peak is each process's VmHWM (its high-water mark since its last exec), summed over
        the process and its children, read while they run: ``wait4``'s ru_maxrss would also
        count the RSS of this benchmark, which the child inherits at fork and exec records."""
        peaks: dict[int, int] = {}
        killed, tick = False, 0
        while not _exited(proc):
            if limit_s is not None and time.monotonic() - started > limit_s:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                killed = True
                break
            pids = [proc.pid]
            if tick % 10 == 0:
                with contextlib.suppress(psutil.Error):
                    pids += [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
            for pid in pids:
                peaks[pid] = max(peaks.get(pid, 0), _hwm_kib(pid))
            tick += 1
            time.sleep(0.01)
        _, status = os.waitpid(proc.pid, 0)
        elapsed = time.monotonic() - started
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        with contextlib.suppress(ProcessLookupError):  # workers left behind
            os.killpg(proc.pid, signal.SIGKILL)
        return None if killed else proc.returncode, elapsed, sum(peaks.values()) / 1024

    def run(self, argv: list, cwd: Path, limit_s: float, *, fsize: int = 0, raw: bool = False) -> Run:
        command = [str(a) for a in argv] if raw else self.command(argv)
        proc, out, err, started = self.start(command, cwd, fsize=fsize)
        code, elapsed, rss = self.reap(proc, started, limit_s)
        return Run([str(a) for a in argv], code, round(elapsed, 3), round(rss, 1), _read(out), _read(err))


def _hwm_kib(pid: int) -> int:
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    return 0


def _read(path: Path, limit: int = 64 << 20) -> str:
    with open(path, "rb") as f:
        data = f.read(limit)
    return data.decode("utf-8", "replace")


# ----------------------------------------------------------------------------- judging

def one_json_object(stdout: str) -> tuple[dict | None, str]:
    """The single JSON object on stdout, or None and why not."""
    text = stdout.strip()
    if not text:
        return None, "nothing on stdout"
    try:
        obj, end = json.JSONDecoder().raw_decode(text)
    except ValueError:
        return None, f"stdout is not JSON: {text[:120]!r}"
    if text[end:].strip():
        return None, "more than one JSON object on stdout"
    if not isinstance(obj, dict):
        return None, "stdout holds JSON but not an object"
    return obj, ""


def traceback_in(run: Run) -> bool:
    return "Traceback (most recent call last)" in run.stdout or "Traceback (most recent call last)" in run.stderr


def refusal(run: Run) -> tuple[bool, str]:
    """Exit 2 with exactly one {"error", "kind": "bad_input"} naming something."""
    if run.timed_out:
        return False, f"hang: no answer within {run.elapsed_s:.0f} s"
    if traceback_in(run):
        return False, f"traceback (exit {run.exit})"
    obj, why = one_json_object(run.stdout)
    if run.exit != 2:
        what = {0: "exit 0: accepted", 1: "exit 1: internal error"}.get(run.exit, f"exit {run.exit}")
        if run.exit is not None and run.exit < 0:
            what = f"killed by signal {-run.exit} ({_signame(-run.exit)})"
        detail = (obj or {}).get("error") if obj else why
        return False, f"{what}" + (f": {str(detail)[:160]}" if detail else "")
    if obj is None:
        return False, f"exit 2 but {why}"
    if obj.get("kind") != "bad_input":
        return False, f"exit 2 but kind {obj.get('kind')!r}"
    message = obj.get("error")
    if not isinstance(message, str) or not message.strip():
        return False, "exit 2 with an empty message"
    if len(message) >= MESSAGE_LIMIT:
        return False, f"message of {len(message)} characters"
    return True, message[:200]


def answered(run: Run, hang: str) -> tuple[dict | None, tuple[bool, str] | None]:
    """``(the JSON object of an exit-0 run, None)``, or ``(None, the judgement)`` of a run
    that did not answer: a hang (``hang`` says how), a refusal (exit 2) or another exit."""
    if run.timed_out:
        return None, (False, hang)
    if run.exit == 2:
        ok, why = refusal(run)
        return None, (ok, ("refused: " + why) if ok else why)
    if run.exit != 0:
        return None, refusal(run)
    obj, why = one_json_object(run.stdout)
    return (obj, None) if obj is not None else (None, (False, f"exit 0 but {why}"))


def bounded(run: Run, limit_s: float, timeout_s: float | None = None) -> tuple[bool, str]:
    """An answer (exit 0, one JSON object) or a refusal (exit 2) within the limit; an answer
    that reports its ``time_s`` keeps within ``--timeout`` plus docs/cli.md's slack."""
    obj, judged = answered(run, f"no answer within {limit_s:.1f} s (peak RSS {run.peak_rss_mib:.0f} MiB)")
    if judged:
        return judged
    summary = {k: obj[k] for k in ("verdict", "status", "valid", "reason", "time_s") if k in obj}
    if run.elapsed_s > limit_s:
        return False, f"answered after {run.elapsed_s:.2f} s > {limit_s:.2f} s: {json.dumps(summary)[:160]}"
    if timeout_s and isinstance(obj.get("time_s"), (int, float)) and \
            obj["time_s"] > timeout_s + max(1.0, 0.05 * timeout_s):
        return False, (f"answered after {obj['time_s']:.1f} s of a {timeout_s:g} s --timeout, past the stated slack "
                       f"(S + max(1 s, 5%)): " + json.dumps(summary)[:160])
    return True, "answered " + json.dumps(summary)[:200]


def rejected(run: Run) -> tuple[bool, str]:
    """``check --json``: valid false (exit 0), or exit 2."""
    obj, judged = answered(run, f"hang: no answer within {run.elapsed_s:.0f} s (peak RSS {run.peak_rss_mib:.0f} MiB)")
    if judged:
        return judged
    if obj.get("valid") is True:
        return False, "VALID: the tampered certificate was accepted"
    if obj.get("valid") is not False:
        return False, f"no valid field: {json.dumps(obj)[:160]}"
    failures = [f"{c['name']}: {c.get('detail', '')}" for c in obj.get("checks", []) if not c.get("ok")]
    return True, "not valid: " + ("; ".join(failures)[:200] if failures else "")


def rejected_or_ignored(run: Run) -> tuple[bool, str]:
    """A certificate that embeds its model and names a file out of its bundle: not valid, or
    valid with the embedded document checked and the named file left alone."""
    ok, why = rejected(run)
    if ok or not why.startswith("VALID"):
        return ok, why
    obj, _ = one_json_object(run.stdout)
    detail = next((c.get("detail", "") for c in obj.get("checks", []) if c.get("name") == "model"), "")
    if "embedded" in detail and "same hash" not in detail:
        return True, "valid, the named file ignored: " + detail[:160]
    return False, "VALID: the tampered certificate was accepted, the named file used: " + detail[:160]


def refusal_or_invalid(run: Run) -> tuple[bool, str]:
    """``check`` of a file that is not a certificate: exit 2, or a checked document not valid."""
    if run.exit == 0:
        return rejected(run)
    return refusal(run)


def _signame(n: int) -> str:
    with contextlib.suppress(ValueError):
        return signal.Signals(n).name
    return str(n)


# ----------------------------------------------------------------------------- cases

@dataclasses.dataclass
class Case:
    category: str                  # bad, resource, tamper, interrupt, control
    name: str
    argv: list = dataclasses.field(default_factory=list)
    expect: str = "refusal"        # refusal | bounded | rejected | refusal_or_invalid | answer | valid
    limit_s: float = BAD_LIMIT_S
    setup: Callable[[Path], None] | None = None      # writes the case's hostile files into its folder
    watch: list = dataclasses.field(default_factory=list)   # paths that must not appear
    allowed: tuple = ("out",)      # the only folders of the case it may write into
    post: Callable[[Path, "Run"], tuple[bool, str]] | None = None   # a further check after the run
    custom: Callable[["Case", Path], dict] | None = None            # interruptions
    quick: bool = False
    group: str = ""                # what it attacks, for the summary


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every path under ``folder``: files by mode, size and mtime, folders by mode (a folder's
    mtime moves when an allowed folder is made inside it)."""
    seen = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            with contextlib.suppress(FileNotFoundError):
                st = os.lstat(p)
                seen[os.path.relpath(p, folder)] = (st.st_mode,) if name in dirnames else \
                    (st.st_mode, st.st_size, st.st_mtime_ns)
    return seen


def written_outside(before: dict, after: dict, allowed: tuple) -> list[str]:
    """Paths new or changed outside the allowed folders (a folder on the way to one is allowed)."""
    def inside(rel: str) -> bool:
        return any(rel == a or rel.startswith(a + os.sep) or (a + os.sep).startswith(rel + os.sep) for a in allowed)
    return sorted(rel for rel, sig in after.items() if before.get(rel) != sig and not inside(rel))


def execute(case: Case, runner: Runner, work: Path) -> dict:
    folder = work / "cases" / case.category / case.name
    folder.mkdir(parents=True)
    (folder / "out").mkdir()
    record = {"category": case.category, "name": case.name, "group": case.group}
    try:
        if case.setup:
            case.setup(folder)
        if case.custom:
            record.update(case.custom(case, folder))
            return record
        before = snapshot(folder)
        run = runner.run(case.argv, folder, case.limit_s)
        after = snapshot(folder)
        timeout = _timeout_of(case.argv)
        judge = {"refusal": lambda r: refusal(r), "bounded": lambda r: bounded(r, case.limit_s, timeout),
                 "rejected": rejected, "refusal_or_invalid": refusal_or_invalid,
                 "rejected_or_ignored": rejected_or_ignored,
                 "answer": lambda r: answer_ok(r), "valid": valid_ok}[case.expect]
        ok, why = judge(run)
        outside = written_outside(before, after, case.allowed)
        appeared = [str(p) for p in case.watch if os.path.lexists(p)]
        if outside:
            ok, why = False, f"wrote outside its output folder: {', '.join(outside[:4])}"
        if appeared:
            ok, why = False, f"wrote {', '.join(appeared)}"
        if ok and case.post:
            ok, why = case.post(folder, run)
        record.update(command="verisnn " + " ".join(_short(a, folder) for a in run.argv), exit=run.exit,
                      elapsed_s=run.elapsed_s, peak_rss_mib=run.peak_rss_mib, passed=ok, why=why)
    except Exception as e:  # noqa: BLE001 - a broken case is reported, the others go on
        record.update(passed=False, why=f"the benchmark's case broke: {type(e).__name__}: {e}", exit=None,
                      elapsed_s=None, peak_rss_mib=None, command="")
    return record


def _timeout_of(argv: list) -> float | None:
    with contextlib.suppress(ValueError):
        return next((float(b) for a, b in zip(argv, argv[1:]) if a == "--timeout"), None)
    return None


def answer_ok(run: Run) -> tuple[bool, str]:
    """A refusal, or an answer (exit 0, one JSON object) that ``post`` then checks."""
    if run.exit == 2:
        return refusal(run)
    if run.exit != 0:
        return False, refusal(run)[1]
    obj, why = one_json_object(run.stdout)
    return obj is not None, why or "answered"


def valid_ok(run: Run) -> tuple[bool, str]:
    obj, why = one_json_object(run.stdout)
    if run.exit != 0 or obj is None:
        return False, f"exit {run.exit}: {why or (obj or {}).get('error')}"
    if obj.get("valid") is not True:
        return False, "the genuine certificate is not valid: " + "; ".join(
            f"{c['name']}: {c.get('detail', '')}" for c in obj.get("checks", []) if not c.get("ok"))[:300]
    return True, "valid"


def _short(arg: str, folder: Path) -> str:
    return arg.replace(str(folder) + os.sep, "").replace(str(folder.parents[2]) + os.sep, "")


# ----------------------------------------------------------------------------- fixtures

def tiny_model() -> Model:
    return Model(time_steps=3, input=InputSpec(size=3), name="tiny", readout=Readout("spike_count", "invalid"),
                 layers=(Dense(weight=[[3, 1, 0], [0, 1, 3]], neuron=Neuron(size=2, model="if", threshold=3,
                                                                           v_bits=8)),))


def small_model() -> Model:
    rng = np.random.default_rng(1)
    n1 = Neuron(size=4, model="lif", threshold=5, v_decay=(3, 2), v_bits=8)
    n2 = Neuron(size=3, model="lif", threshold=4, v_decay=(3, 2), v_bits=8)
    return Model(time_steps=4, input=InputSpec(3), name="small", readout=Readout("spike_count"),
                 layers=(Dense(rng.integers(-3, 6, (4, 3)).tolist(), n1),
                         Dense(rng.integers(-2, 5, (3, 4)).tolist(), n2)))


def smoke_model() -> Model:
    n1 = Neuron(size=3, model="lif", threshold=3, v_decay=(3, 2), reset="subtract", v_bits=8, refractory=1)
    n2 = Neuron(size=2, model="lif", threshold=2, v_decay=(1, 1), reset="to_value", v_bits=8)
    l1 = Dense(weight=[[2, 1], [1, -1], [-1, 2]], bias=[0, 0, 0], neuron=n1,
               recurrent=[[0, 1, 0], [0, 0, -1], [1, 0, 0]])
    l2 = Dense(weight=[[1, 1, -2], [-1, 0, 2]], bias=[0, 0], neuron=n2, delay=1)
    return Model(time_steps=4, input=InputSpec(2), layers=(l1, l2), readout=Readout("spike_count"), name="smoke")


def gate_model() -> Model:
    neuron = Neuron(1, "lif", threshold=1, v_decay=(0, 1), reset="to_value", v_bits=4)
    return Model(time_steps=4, input=InputSpec(2), layers=(Dense([[2, -2]], neuron),), readout=Readout("spike_count"),
                 name="gate")


def counter_model() -> Model:
    return Model(time_steps=2, input=InputSpec(1), layers=(Dense([[1]], Neuron(1, "if", threshold=3)),),
                 readout=Readout("spike_count"), name="counter")


def random_model(seed: int, n_in: int, hidden: int, out: int, steps: int, name: str) -> Model:
    """A leaky recurrent-free network (benchmarks/smt_backends.py's random_model)."""
    rng = np.random.default_rng(seed)
    h = Neuron(hidden, "lif", threshold=6, v_decay=(3, 2), v_bits=12)
    o = Neuron(out, "lif", threshold=6, v_decay=(3, 2), v_bits=12)
    return Model(time_steps=steps, input=InputSpec(n_in), readout=Readout("spike_count", "lowest_index"), name=name,
                 layers=(Dense(rng.integers(-4, 5, (hidden, n_in)), h), Dense(rng.integers(-4, 5, (out, hidden)), o)))


def conv_model(h: int, w: int, steps: int = 4) -> Model:
    rng = np.random.default_rng(2)
    conv = Conv2d(weight=rng.integers(-2, 4, (2, 1, 3, 3)).tolist(), input_shape=(1, h, w),
                  neuron=Neuron(2 * (h - 2) * (w - 2), "lif", threshold=4, v_decay=(3, 2), v_bits=10))
    dense = Dense(rng.integers(-2, 4, (2, 2 * (h - 2) * (w - 2))).tolist(), Neuron(2, "lif", threshold=6, v_bits=12))
    return Model(time_steps=steps, input=InputSpec(h * w, shape=(1, h, w)), layers=(conv, dense),
                 readout=Readout("spike_count", "lowest_index"), name=f"conv{h}x{w}")


def write_json(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc))
    return path


def model_doc(model: Model, folder: Path, name: str) -> dict:
    path = folder / f"{name}.snn.json"
    save_model(model, path)
    return json.loads(path.read_text())


class Fixtures:
    """Files every case may read (never write): models, rasters, properties, alphabets,
    configs, a NIR graph; built once, seeded."""

    def __init__(self, folder: Path, quick: bool):
        self.dir = folder
        folder.mkdir(parents=True)
        rng = np.random.default_rng(SEED)
        f = folder
        self.tiny_doc = model_doc(tiny_model(), f, "tiny")
        self.tiny = f / "tiny.snn.json"
        for make in (small_model, smoke_model, gate_model, counter_model):
            model_doc(make(), f, make.__name__.replace("_model", ""))
        self.small, self.smoke, self.gate, self.counter = (f / f"{n}.snn.json" for n in ("small", "smoke", "gate",
                                                                                          "counter"))
        np.save(f / "x.npy", np.array([[1, 0, 0]] * 3, dtype=np.int8))
        np.save(f / "c.npy", np.array([[1, 0, 1], [1, 0, 1], [1, 0, 0], [0, 0, 0]], dtype=np.int8))
        np.save(f / "X.npy", (rng.random((40, 3, 3)) < 0.4).astype(np.int8))
        np.save(f / "y.npy", rng.integers(0, 2, 40).astype(np.int64))
        self.x, self.c, self.X, self.y = f / "x.npy", f / "c.npy", f / "X.npy", f / "y.npy"
        props = {"f1": "region: {flips: 1}\ncondition: robust\n", "f3": "region: {flips: 3}\ncondition: robust\n",
                 "d2": "region: {deletions: 2}\ncondition: robust\n",
                 "f2spk": "region: {flips: 2}\ncondition: {spikes_at_most: 28}\n",
                 "f6": "region: {flips: 6}\ncondition: robust\n", "f10": "region: {flips: 10}\ncondition: robust\n",
                 "any": "region: any\ncondition: robust\n",
                 "anyspk": "region: any\ncondition: {spikes_at_most: 1000000}\n",
                 "nf": "region: any\ncondition: {never_fires: [1, 0]}\nhorizon: unbounded\n",
                 "nf00": "region: any\ncondition: {never_fires: [0, 0]}\nhorizon: unbounded\n"}
        for name, text in props.items():
            (f / f"{name}.yaml").write_text(text)
        self.prop = {name: f / f"{name}.yaml" for name in props}
        self.alphabet_doc = {"letters": {"a": [[1, 0, 0]], "b": [[0, 0, 1]], "z": [[0, 0, 0]]}}
        self.alphabet = write_json(f / "A3.json", self.alphabet_doc)
        self.alphabet2 = write_json(f / "A2.json", {"letters": {"a": [[1, 0]], "b": [[0, 1]], "z": [[0, 0]]}})
        self.placement = write_json(f / "placement.json", [0])
        self.profile_text = (ROOT / "verisnn" / "profiles" / "loihi.yaml").read_text()
        (f / "profile.yaml").write_text(self.profile_text)
        self.profile = f / "profile.yaml"
        # an audit of the tiny model (the bad-config slot), the report kept small
        self.audit_doc = {"name": "hostile-audit", "model": "tiny.snn.json",
                          "inputs": {"file": "X.npy", "select": {"first": 2}},
                          "properties": [{"name": "flips1", "file": "f1.yaml"}],
                          "verify": {"method": "enumerate", "timeout": 10}, "certificates": True, "profile": "loihi",
                          "report": {"explain_inputs": 0, "faithfulness_inputs": 0, "saliency": [],
                                     "counterexamples": 0}}
        self.audit = write_json(f / "audit.yaml", self.audit_doc)
        # training: iris at T = 4, one epoch
        self.train_doc = {"name": "hostile-train", "dataset": "iris", "seed": 0, "time_steps": 4,
                          "encoding": {"type": "rate"}, "hidden": [3], "neuron": {"model": "lif", "v_decay": [15, 4]},
                          "readout": {"type": "spike_count", "ties": "invalid"},
                          "training": {"epochs": 1, "batch_size": 16, "lr": 0.01}, "quantization": {"scale": 8}}
        self.train = write_json(f / "train.yaml", self.train_doc)
        self.checkpoint = f / "trained" / "float.pt"
        xs = rng.random((30, 4))
        np.savez(f / "data.npz", x_train=xs[:20], y_train=rng.integers(0, 3, 20), x_test=xs[20:],
                 y_test=rng.integers(0, 3, 10))
        self.data = f / "data.npz"
        # a NIR graph of the small model (Linear -> LIF -> Linear -> LIF)
        from verisnn.nir_io import export_nir, write_nir
        write_nir(export_nir(small_model(), dt=1e-3, scale=16, allow_lossy=True).graph, f / "g.nir")
        self.nir = f / "g.nir"
        # the resource models: long, wide, convolutions
        long = copy.deepcopy(self.tiny_doc)
        long["input"]["size"] = 2
        long["layers"][0]["weight"] = [[3, 1], [1, 3]]
        for steps in (40000, 100000, 8000):
            doc = dict(long, time_steps=steps, name=f"long{steps}")
            write_json(f / f"long{steps}.snn.json", doc)
            np.save(f / f"long{steps}.npy", (rng.random((steps, 2)) < 0.3).astype(np.int8))
        model_doc(random_model(0, 16, 12, 4, 8, "rand"), f, "rand")
        self.rand = f / "rand.snn.json"
        raster = np.zeros((8, 16), dtype=np.int8)
        raster[:, :6] = 1
        np.save(f / "rand.npy", raster)
        model_doc(random_model(3, 8, 6, 2, 16, "wide"), f, "wide")
        np.save(f / "wide.npy", np.zeros((16, 8), dtype=np.int8))
        conv = model_doc(conv_model(5, 5), f, "conv5")
        for side in (160, 4000):   # one 3x3 convolution of a declared side x side input: a few hundred bytes
            big = copy.deepcopy(conv)
            big["name"] = f"conv{side}"
            big["input"].update(size=side * side, shape=[1, side, side])
            big["layers"] = big["layers"][:1]
            big["layers"][0]["input_shape"] = [1, side, side]
            big["layers"][0]["neuron"]["threshold"] = 4
            write_json(f / f"conv{side}.snn.json", big)
        model_doc(conv_model(16, 16), f, "conv16")
        self.quick = quick


def make_fifo(path: Path) -> None:
    os.mkfifo(path)


def sparse(path: Path, size: int = 2 * GIB) -> None:
    with open(path, "wb") as f:
        f.truncate(size)


# ----------------------------------------------------------------------------- hostile file contents

def first_int_path(doc: Any, path=()) -> tuple | None:
    if isinstance(doc, bool):
        return None
    if isinstance(doc, int):
        return path
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for k, v in items:
        found = first_int_path(v, path + (k,))
        if found is not None:
            return found
    return None


def set_at(doc: Any, path: tuple, value: Any) -> Any:
    doc = copy.deepcopy(doc)
    target = doc
    for k in path[:-1]:
        target = target[k]
    target[path[-1]] = value
    return doc


BILLION_LAUGHS = ("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" +
                  "".join(f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi")))


CORE = ("missing", "directory", "empty", "truncated", "invalid-utf8")
FULL = CORE + ("malformed", "duplicate-key", "billion-laughs", "deep-nesting", "wrong-type", "nan-literal",
               "huge-int", "nul-bytes", "python-tag", "long-line")


def text_attacks(genuine: Any, names: tuple[str, ...]) -> dict[str, Callable[[Path], None] | bytes]:
    """Hostile contents of a JSON/YAML file whose genuine content is ``genuine`` (``None``:
    the file is missing; a callable makes the path)."""
    g = json.dumps(genuine).encode()
    key = next(iter(genuine)) if isinstance(genuine, dict) and genuine else None
    ipath = first_int_path(genuine)
    attacks: dict[str, Any] = {
        "missing": None, "directory": lambda p: p.mkdir(), "empty": b"", "truncated": g[: len(g) // 2],
        "invalid-utf8": g.replace(b'"', b'"\xff\xfe', 1) if b'"' in g else g[:1] + b"\xff\xfe" + g[1:],
        "malformed": b"{not json",
        "duplicate-key": (g[:-1] + b", " + json.dumps(key).encode() + b": " + json.dumps(genuine[key]).encode() + b"}"
                          if key else b'{"a": 1, "a": 2}'),
        "billion-laughs": BILLION_LAUGHS.encode(), "deep-nesting": b"[" * 100_000 + b"]" * 100_000,
        "wrong-type": b"[1, 2, 3]" if isinstance(genuine, dict) else b'{"a": 1}',
        "nan-literal": json.dumps(set_at(genuine, ipath, float("nan"))).encode() if ipath else b"NaN",
        "huge-int": (json.dumps(set_at(genuine, ipath, "__HUGE__")).encode().replace(b'"__HUGE__"', b"9" * 5000)
                     if ipath else b"9" * 5000),
        "nul-bytes": b"\x00" * 64, "python-tag": b'!!python/object/apply:os.system ["touch PWNED"]\n',
        "long-line": b'{"' + b"k" * 5_000_000 + b'": 1}',
    }
    return {name: attacks[name] for name in names}


class Payload:
    """A pickle that would run a command if unpickled."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def npy_attacks(genuine: np.ndarray, full: bool) -> dict[str, Callable[[Path], None]]:
    def save(arr, **kw):
        def write(p: Path) -> None:
            with open(p, "wb") as f:
                np.save(f, arr, **kw)
        return write

    def raw(data: bytes):
        return lambda p: p.write_bytes(data)

    def header_only(shape):
        def write(p: Path) -> None:
            with open(p, "wb") as f:
                np.lib.format.write_array_header_1_0(f, {"descr": "|i1", "fortran_order": False, "shape": shape})
        return write

    def truncated(p: Path) -> None:
        save(genuine)(p)
        data = p.read_bytes()
        p.write_bytes(data[: len(data) - max(1, genuine.nbytes // 2)])

    def npz(p: Path) -> None:
        with open(p, "wb") as f:
            np.savez(f, x=genuine)

    attacks = {"missing": None, "directory": lambda p: p.mkdir(), "empty": raw(b""), "text": raw(b"hello, world\n"),
               "pickled": save(np.array([Payload("touch PWNED")], dtype=object), allow_pickle=True),
               "truncated": truncated}
    if not full:
        return attacks
    bad = genuine.copy()
    bad.flat[0] = 2
    attacks.update({
        "npz": npz,
        "structured": save(np.zeros(genuine.shape[:1], dtype=[("a", "i1"), ("b", "f4")])),
        "header-huge-shape": header_only((10 ** 6, 10 ** 6) if genuine.ndim < 3 else (10 ** 5, 10 ** 5, 10 ** 5)),
        "value-2": save(bad), "fraction": save(genuine.astype(np.float64) + 0.5),
        "nan": save(np.full(genuine.shape, np.nan)), "complex": save(genuine.astype(np.complex64)),
        "strings": save(np.full(genuine.shape, "a")), "negative": save(-genuine.astype(np.int8) - 1),
        "shape-plus-one": save(np.zeros(tuple(s + 1 for s in genuine.shape), dtype=np.int8)),
        "extra-dim": save(genuine[None, None]), "zero-size": save(np.zeros((0,) + genuine.shape[1:], dtype=np.int8)),
    })
    return attacks


def writer(content) -> Callable[[Path], None] | None:
    if content is None or callable(content):
        return content
    return lambda p: p.write_bytes(content)


# ----------------------------------------------------------------------------- bad inputs

def bad_input_cases(fx: Fixtures) -> list[Case]:
    cases: list[Case] = []
    x, X = fx.x, fx.X

    # slot -> (how the command is built around the hostile file, file name, genuine content, full set?)
    def slots():
        f1, nf, A = fx.prop["f1"], fx.prop["nf00"], fx.alphabet
        yield "info.MODEL", lambda p: ["info", p], "m.snn.json", fx.tiny_doc, FULL
        yield "simulate.MODEL", lambda p: ["simulate", p, "--input", x], "m.snn.json", fx.tiny_doc, CORE
        yield "verify.MODEL", lambda p: ["verify", p, "--input", x, "--property", f1, "--timeout", 10], \
            "m.snn.json", fx.tiny_doc, CORE
        yield "verify-unbounded.MODEL", lambda p: ["verify", p, "--property", nf, "--timeout", 10], \
            "m.snn.json", fx.tiny_doc, CORE
        yield "automaton.MODEL", lambda p: ["automaton", p, "--alphabet", A, "--out", "out/machine"], \
            "m.snn.json", fx.tiny_doc, CORE
        yield "cost.MODEL", lambda p: ["cost", p, "--input", x, "--profile", "loihi"], "m.snn.json", fx.tiny_doc, CORE
        yield "cost-worst-case.MODEL", lambda p: ["cost", p, "--input", x, "--profile", "loihi", "--worst-case",
                                                  "spikes", "--region", "{flips: 1}", "--timeout", 10], \
            "m.snn.json", fx.tiny_doc, CORE
        yield "extract-tree.MODEL", lambda p: ["extract", "tree", p, "--data", X, "--out", "out/tree", "--timeout",
                                               10], "m.snn.json", fx.tiny_doc, ("truncated", "invalid-utf8")
        yield "extract-automaton.MODEL", lambda p: ["extract", "automaton", p, "--alphabet", A, "--out", "out/learn",
                                                    "--timeout", 10], "m.snn.json", fx.tiny_doc, CORE
        yield "export-nir.MODEL", lambda p: ["export-nir", p, "--dt", "1e-3", "--scale", 16, "--out", "out/g.nir",
                                             "--allow-lossy"], "m.snn.json", fx.tiny_doc, CORE
        prop = {"region": {"flips": 1}, "condition": "robust"}
        yield "verify.PROPERTY", lambda p: ["verify", fx.tiny, "--input", x, "--property", p, "--timeout", 10], \
            "p.yaml", prop, FULL
        yield "cost-worst-case.PROPERTY", lambda p: ["cost", fx.tiny, "--input", x, "--profile", "loihi",
                                                     "--worst-case", "spikes", "--property", p, "--timeout", 10], \
            "p.yaml", prop, CORE
        yield "automaton.ALPHABET", lambda p: ["automaton", fx.tiny, "--alphabet", p, "--out", "out/machine"], \
            "a.json", fx.alphabet_doc, FULL
        yield "extract-automaton.ALPHABET", lambda p: ["extract", "automaton", fx.tiny, "--alphabet", p, "--out",
                                                       "out/learn", "--timeout", 10], "a.json", fx.alphabet_doc, CORE
        yield "verify.LETTERS", lambda p: ["verify", fx.tiny, "--property", nf, "--letters", p, "--timeout", 10], \
            "a.json", fx.alphabet_doc, CORE
        cert = json.loads((fx.dir / "certs" / "enumerate.json").read_text()) if (
            fx.dir / "certs" / "enumerate.json").exists() else {"format": "verisnn-certificate/1"}
        yield "check.CERT", lambda p: ["check", p, "--timeout", 10], "c.json", cert, FULL
        yield "audit.CONFIG", lambda p: ["audit", p, "--out", "out/audit", "--workers", 1, "--no-progress"], \
            "audit.yaml", fx.audit_doc, FULL
        yield "train.CONFIG", lambda p: ["train", p, "--out", "out/train"], "train.yaml", fx.train_doc, FULL
        yield "cost.PROFILE", lambda p: ["cost", fx.tiny, "--input", x, "--profile", p], "profile.yaml", \
            _yaml_doc(fx.profile_text), FULL
        yield "cost.PLACEMENT", lambda p: ["cost", fx.tiny, "--input", x, "--profile", "loihi", "--placement", p], \
            "placement.json", [0], FULL

    for slot, build, fname, genuine, names in slots():
        torch = slot.startswith(("train", "quantize"))
        for attack, content in text_attacks(genuine, names).items():
            cases.append(_file_case(slot, attack, build, fname, content, fx, torch))
    # audit and check read files next to them: the config's relative paths resolve in the case folder
    for c in cases:
        if c.group == "audit.CONFIG":
            c.setup = _with_links(c.setup, [fx.tiny, fx.X, fx.prop["f1"]], ["tiny.snn.json", "X.npy", "f1.yaml"])

    # pipes and devices where a file is expected
    for slot, build, fname, devices in (
            ("info.MODEL", lambda p: ["info", p], "m.snn.json", ("fifo", "dev-zero")),
            ("check.CERT", lambda p: ["check", p, "--timeout", 10], "c.json", ("fifo", "dev-zero")),
            ("verify.PROPERTY", lambda p: ["verify", fx.tiny, "--input", x, "--property", p, "--timeout", 10],
             "p.yaml", ("dev-zero",)),
            ("simulate.INPUT", lambda p: ["simulate", fx.tiny, "--input", p], "x.npy", ("dev-zero",)),
            ("audit.CONFIG", lambda p: ["audit", p, "--out", "out/audit", "--workers", 1, "--no-progress"],
             "audit.yaml", ("fifo",))):
        for device in devices:
            content = make_fifo if device == "fifo" else lambda p: p.symlink_to("/dev/zero")
            cases.append(_file_case(slot, device, build, fname, content, fx, False))

    # rasters
    raster_slots = [("simulate.INPUT", lambda p: ["simulate", fx.tiny, "--input", p], np.load(x), True),
                    ("verify.INPUT", lambda p: ["verify", fx.tiny, "--input", p, "--property", fx.prop["f1"],
                                                "--timeout", 10], np.load(x), False),
                    ("cost.INPUT", lambda p: ["cost", fx.tiny, "--input", p, "--profile", "loihi"], np.load(x), False),
                    ("extract-tree.DATA", lambda p: ["extract", "tree", fx.tiny, "--data", p, "--out", "out/tree",
                                                     "--timeout", 10], np.load(X), False),
                    ("extract-tree.EVAL", lambda p: ["extract", "tree", fx.tiny, "--data", X, "--eval", p, "--out",
                                                     "out/tree", "--timeout", 10], np.load(X), False),
                    ("extract-tree.LABELS", lambda p: ["extract", "tree", fx.tiny, "--data", X, "--labels", p,
                                                       "--out", "out/tree", "--timeout", 10], np.load(fx.y), False)]
    for slot, build, genuine, full in raster_slots:
        attacks = npy_attacks(genuine, full)
        if slot.startswith("extract-tree"):  # slow to start: the attacks that matter most
            attacks = {k: attacks[k] for k in (("missing", "pickled") if "DATA" in slot else ("pickled",))}
        for attack, content in attacks.items():
            cases.append(_file_case(slot, attack, build, "r.npy", content, fx, False))
    labels = lambda p: ["extract", "tree", fx.tiny, "--data", X, "--labels", p, "--out", "out/tree", "--timeout", 10]
    y = np.load(fx.y)
    for attack, arr in (("float-labels", y + 0.5), ("short", y[:-3])):
        cases.append(_file_case("extract-tree.LABELS", attack, labels, "y.npy", _npy(arr), fx, False))

    cases += model_value_cases(fx) + property_cases(fx) + alphabet_cases(fx) + audit_config_cases(fx)
    cases += train_cases(fx) + quantize_cases(fx) + nir_cases(fx) + argument_cases(fx)
    return cases


def _yaml_doc(text: str) -> Any:
    import yaml
    return yaml.safe_load(text)


def _npy(arr: np.ndarray) -> Callable[[Path], None]:
    def write(p: Path) -> None:
        with open(p, "wb") as f:
            np.save(f, arr)
    return write


def _with_links(setup, sources: list[Path], names: list[str]):
    def both(folder: Path) -> None:
        for src, name in zip(sources, names):
            if not (folder / name).exists():
                shutil.copy(src, folder / name)
        if setup:
            setup(folder)
    return both


def _file_case(slot: str, attack: str, build, fname: str, content, fx: Fixtures, torch: bool) -> Case:
    write = writer(content)
    setup = (lambda folder: write(folder / fname)) if write else None
    watch = [] if attack not in ("python-tag", "pickled") else ["PWNED"]
    case = Case("bad", f"{slot}.{attack}", build(fname), setup=setup, group=slot,
                limit_s=TORCH_LIMIT_S if torch else BAD_LIMIT_S,
                expect="refusal_or_invalid" if slot == "check.CERT" else "refusal")
    case.watch = watch  # relative: resolved in the case folder by execute()
    return case


def _doc_case(group: str, name: str, argv_of, fname: str, doc_or_bytes, *, torch=False, expect="refusal",
              setup_extra=None) -> Case:
    content = doc_or_bytes if isinstance(doc_or_bytes, bytes) else _json_bytes(doc_or_bytes)

    def setup(folder: Path) -> None:
        if setup_extra:
            setup_extra(folder)
        (folder / fname).write_bytes(content)
    return Case("bad", f"{group}.{name}", argv_of(fname), setup=setup, group=group,
                limit_s=TORCH_LIMIT_S if torch else BAD_LIMIT_S, expect=expect)


def _json_bytes(doc: Any) -> bytes:
    # big integers as literals: json.dumps refuses ints over 4300 digits
    return json.dumps(doc, allow_nan=True, default=str).encode()


def model_value_cases(fx: Fixtures) -> list[Case]:
    d = fx.tiny_doc
    L0 = ("layers", 0)
    N0 = L0 + ("neuron",)
    edits = {
        "time_steps-0": (("time_steps",), 0), "time_steps-negative": (("time_steps",), -4),
        "time_steps-float": (("time_steps",), 2.5), "time_steps-string": (("time_steps",), "3"),
        "time_steps-null": (("time_steps",), None), "input-size-0": (("input", "size"), 0),
        "input-size-negative": (("input", "size"), -3), "input-size-1e9": (("input", "size"), 10 ** 9),
        "input-size-float": (("input", "size"), 1e9), "layers-empty": (("layers",), []),
        "layer-type-bogus": (L0 + ("type",), "bogus"), "weight-row-short": (L0 + ("weight",), [[3, 1], [0, 1, 3]]),
        "weight-string": (L0 + ("weight",), [["a", 1, 0], [0, 1, 3]]), "weight-fraction": (L0 + ("weight",),
                                                                                          [[3.5, 1, 0], [0, 1, 3]]),
        "weight-nan": (L0 + ("weight",), [[float("nan"), 1, 0], [0, 1, 3]]),
        "weight-2^60": (L0 + ("weight",), [[2 ** 60, 1, 0], [0, 1, 3]]),
        "bias-short": (L0 + ("bias",), [0]),
        "delay-negative": (L0 + ("delay",), -1), "delay-huge": (L0 + ("delay",), 10 ** 9),
        "recurrent-shape": (L0 + ("recurrent",), [[0, 1, 2]]), "threshold-negative": (N0 + ("threshold",), -3),
        "threshold-per-neuron-wrong-length": (N0 + ("threshold",), [3, 3, 3, 3, 3]),
        "v_bits-0": (N0 + ("v_bits",), 0), "v_bits-1000": (N0 + ("v_bits",), 1000),
        "v_decay-shift-100": (N0 + ("v_decay",), [1, 100]), "v_decay-negative": (N0 + ("v_decay",), [1, -1]),
        "refractory-negative": (N0 + ("refractory",), -1),
        "neuron-model-bogus": (N0 + ("model",), "bogus"), "fire_when-bogus": (N0 + ("fire_when",), "=="),
        "rounding-bogus": (N0 + ("rounding",), "up"), "reset-bogus": (N0 + ("reset",), "bogus"),
        "on_overflow-bogus": (N0 + ("on_overflow",), "explode"), "readout-bogus": (("readout", "type"), "bogus"),
        "ties-bogus": (("readout", "ties"), "coin"), "format-v2": (("format",), "verisnn.model/2"),
        "extra-key": (("surprise",), 1), "name-not-string": (("name",), ["x"]),
        "encoding-bogus": (("input", "encoding"), {"type": "bogus"}),
        "shape-mismatch": (("input", "shape"), [1, 7, 7]),
    }
    cases = []
    for name, (path, value) in edits.items():
        doc = set_at(d, path, value)
        content = _json_bytes(doc)
        case = _doc_case("model-value", f"info.{name}", lambda f: ["info", f], "m.snn.json", content)
        if name == "encoding-bogus":  # model format v1: the encoder checks its own fields where it is used
            case.expect = "answer"    # (intensity regions, encoding data); info only reports them
        cases.append(case)
        if name in ("time_steps-0", "input-size-1e9", "weight-nan", "v_bits-1000"):
            cases.append(_doc_case("model-value", f"simulate.{name}",
                                   lambda f: ["simulate", f, "--input", fx.x], "m.snn.json", content))
            cases.append(_doc_case("model-value", f"verify.{name}",
                                   lambda f: ["verify", f, "--input", fx.x, "--property", fx.prop["f1"], "--timeout",
                                              10], "m.snn.json", content))
    missing = copy.deepcopy(d)
    del missing["layers"]
    cases.append(_doc_case("model-value", "info.no-layers-key", lambda f: ["info", f], "m.snn.json", missing))
    del missing["format"]
    cases.append(_doc_case("model-value", "info.no-format", lambda f: ["info", f], "m.snn.json", missing))
    conv = json.loads((fx.dir / "conv5.snn.json").read_text())
    for name, path, value in (("stride-0", ("layers", 0, "stride"), [0, 1]),
                              ("padding-negative", ("layers", 0, "padding"), [-1, 0]),
                              ("kernel-larger-than-input", ("layers", 0, "input_shape"), [1, 2, 2]),
                              ("input-shape-channels", ("layers", 0, "input_shape"), [3, 5, 5])):
        cases.append(_doc_case("model-value", f"info.conv-{name}", lambda f: ["info", f], "m.snn.json",
                               set_at(conv, path, value)))
    return cases


def property_cases(fx: Fixtures) -> list[Case]:
    def argv(f):
        return ["verify", fx.tiny, "--input", fx.x, "--property", f, "--timeout", 10]
    docs = {
        "flips-negative": {"region": {"flips": -1}, "condition": "robust"},
        "flips-fraction": {"region": {"flips": 1.5}, "condition": "robust"},
        "flips-string": {"region": {"flips": "a"}, "condition": "robust"},
        "flips-bool": {"region": {"flips": True}, "condition": "robust"},
        "region-unknown": {"region": {"teleport": 1}, "condition": "robust"},
        "region-junk": {"region": "junk", "condition": "robust"},
        "condition-unknown": {"region": {"flips": 1}, "condition": "happy"},
        "decided_by-beyond-T": {"region": {"flips": 1}, "condition": {"decided_by": 999}},
        "decided_by-negative": {"region": {"flips": 1}, "condition": {"decided_by": -1}},
        "never_fires-out-of-range": {"region": {"flips": 1}, "condition": {"never_fires": [9, 0]}},
        "never_fires-short": {"region": {"flips": 1}, "condition": {"never_fires": [0]}},
        "spikes_at_most-negative": {"region": {"flips": 1}, "condition": {"spikes_at_most": -1}},
        "horizon-bogus": {"region": {"flips": 1}, "condition": "robust", "horizon": "forever"},
        "unbounded-flips": {"region": {"flips": 1}, "condition": "robust", "horizon": "unbounded"},
        "jitter-negative": {"region": {"jitter": {"shift": -1, "spikes": 2}}, "condition": "robust"},
        "intensity-without-encoder": {"region": {"intensity": 0.1}, "condition": "robust"},
        "extra-key": {"region": {"flips": 1}, "condition": "robust", "also": 1},
        "missing-condition": {"region": {"flips": 1}},
    }
    cases = [_doc_case("property-value", name, argv, "p.yaml", doc) for name, doc in docs.items()]
    cases.append(_doc_case("property-value", "bounded-without-input",
                           lambda f: ["verify", fx.tiny, "--property", f, "--timeout", 10], "p.yaml",
                           {"region": {"flips": 1}, "condition": "robust"}))
    return cases


def alphabet_cases(fx: Fixtures) -> list[Case]:
    docs = {"no-letters": {"letters": {}}, "wrong-width": {"letters": {"a": [[1, 0]]}},
            "value-2": {"letters": {"a": [[2, 0, 0]]}}, "ragged": {"letters": {"a": [[1, 0, 0]], "b": [[1, 0, 0],
                                                                                                    [0, 0, 0]]}},
            "list-not-map": {"letters": [[1, 0, 0]]}, "empty-letter": {"letters": {"a": []}},
            "nan": {"letters": {"a": [[float("nan"), 0, 0]]}}, "extra-key": {"letters": {"a": [[1, 0, 0]]}, "x": 1}}
    cases = []
    for name, doc in docs.items():
        cases.append(_doc_case("alphabet-value", f"automaton.{name}",
                               lambda f: ["automaton", fx.tiny, "--alphabet", f, "--out", "out/machine"], "a.json",
                               doc))
        if name in ("wrong-width", "value-2", "ragged", "nan"):
            cases.append(_doc_case("alphabet-value", f"extract-automaton.{name}",
                                   lambda f: ["extract", "automaton", fx.tiny, "--alphabet", f, "--out", "out/learn",
                                              "--timeout", 10], "a.json", doc))
            cases.append(_doc_case("alphabet-value", f"verify-letters.{name}",
                                   lambda f: ["verify", fx.tiny, "--property", fx.prop["nf00"], "--letters", f,
                                              "--timeout", 10], "a.json", doc))
    return cases


def audit_config_cases(fx: Fixtures) -> list[Case]:
    base = fx.audit_doc
    outside = fx.dir.parent / "outside"

    def links(folder: Path) -> None:
        for src, name in ((fx.tiny, "tiny.snn.json"), (fx.X, "X.npy"), (fx.prop["f1"], "f1.yaml"),
                          (fx.alphabet, "A3.json")):
            shutil.copy(src, folder / name)

    def argv(f):
        return ["audit", f, "--out", "out/a/b/audit", "--workers", 1, "--no-progress"]

    def extraction(name):
        return dict(base, extractions=[{"kind": "automaton", "name": name, "alphabet": "A3.json", "oracle": "exact"}])

    docs = {
        "no-name": {k: v for k, v in base.items() if k != "name"},
        "no-model": {k: v for k, v in base.items() if k != "model"},
        "model-missing-file": dict(base, model="nothing.snn.json"),
        "no-properties": dict(base, properties=[]),
        "duplicate-property-names": dict(base, properties=[{"name": "p", "file": "f1.yaml"},
                                                           {"name": "p", "property": {"region": {"flips": 2},
                                                                                      "condition": "robust"}}]),
        "index-out-of-range": dict(base, inputs={"file": "X.npy", "select": {"indices": [999]}}),
        "unknown-key": dict(base, surprise=1),
        "timeout-negative": dict(base, verify={"method": "enumerate", "timeout": -1}),
        "method-bogus": dict(base, verify={"method": "bogus"}),
        "certificates-bogus": dict(base, certificates="yes"),
        "profile-bogus": dict(base, profile="nochip"),
        "inputs-missing-file": dict(base, inputs={"file": "nothing.npy"}),
        "inputs-directory": dict(base, inputs={"file": "."}),
        "extraction-kind-bogus": dict(base, extractions=[{"kind": "oracle"}]),
        "property-name-traversal": dict(base, properties=[{"name": "../../../../evil", "file": "f1.yaml"}]),
        "property-file-traversal": dict(base, properties=[{"name": "p", "file": "../../../../../../etc/passwd"}]),
        "extraction-name-traversal": extraction("../../../x"),
        "extraction-name-deep-traversal": extraction("../../../../../../../../tmp/verisnn-hostile-escape"),
        "extraction-name-absolute": extraction(str(outside / "audit-absolute")),
        "extraction-name-dotdot": extraction(".."),
        "extraction-name-nul": extraction("a\x00b"),
        "extraction-name-long": extraction("x" * 5000),
    }
    cases = []
    for name, doc in docs.items():
        case = _doc_case("audit-config", name, argv, "audit.yaml", doc, setup_extra=links)
        case.watch = [outside / "audit-absolute", Path("/tmp/verisnn-hostile-escape")]
        case.allowed = ("out/a/b/audit",)  # ../../../x from its extractions/ would land in out/a
        if name == "property-name-traversal":  # a property name is no path: an answer is fine, an escape not
            case.expect = "answer"
        cases.append(case)

    def corrupted(where: str):
        def setup(folder: Path) -> None:
            links(folder)
            shutil.copytree(fx.dir / "baseline-audit", folder / "out" / "a" / "b" / "audit")
            store = folder / "out" / "a" / "b" / "audit" / "campaign.sqlite"
            data = bytearray(store.read_bytes())
            rng = random.Random(SEED)
            start = 100 if where == "schema" else len(data) // 2   # the first page's b-tree, or the middle
            data[start:start + 200] = bytes(rng.randrange(256) for _ in range(200))
            store.write_bytes(bytes(data))
            (folder / "audit.yaml").write_text(json.dumps(base))
        return setup

    def store_is_folder(folder: Path) -> None:
        links(folder)
        (folder / "out" / "a" / "b" / "audit" / "campaign.sqlite").mkdir(parents=True)
        (folder / "audit.yaml").write_text(json.dumps(base))

    def out_is_file(folder: Path) -> None:
        links(folder)
        (folder / "out" / "a" / "b").mkdir(parents=True)
        (folder / "out" / "a" / "b" / "audit").write_text("a file")
        (folder / "audit.yaml").write_text(json.dumps(base))

    for name, setup in (("store-corrupted-schema", corrupted("schema")), ("store-corrupted-middle",
                                                                           corrupted("middle")),
                        ("store-is-a-folder", store_is_folder), ("out-is-a-file", out_is_file)):
        cases.append(Case("bad", f"audit-config.{name}", argv("audit.yaml"), setup=setup, group="audit-config",
                          expect="answer" if name == "store-corrupted-middle" else "refusal",
                          allowed=("out/a/b/audit",)))
    return cases


def train_cases(fx: Fixtures) -> list[Case]:
    base = fx.train_doc

    def argv(f):
        return ["train", f, "--out", "out/train"]

    def pickled_npz(folder: Path) -> None:
        with open(folder / "d.npz", "wb") as f:
            np.savez(f, x_train=np.array([Payload("touch PWNED")], dtype=object), y_train=np.zeros(1),
                     x_test=np.zeros((1, 4)), y_test=np.zeros(1))

    docs = {
        "hidden-1e9": dict(base, hidden=[1e9]), "hidden-10^9": dict(base, hidden=[10 ** 9]),
        "hidden-negative": dict(base, hidden=[-1]),
        "epochs-negative": dict(base, training=dict(base["training"], epochs=-1)),
        "time_steps-0": dict(base, time_steps=0), "dataset-bogus": dict(base, dataset="imagenet"),
        "dataset-npz-pickled": dict(base, dataset={"npz": "d.npz"}),
        "lr-nan": dict(base, training=dict(base["training"], lr=float("nan"))),
        "unknown-key": dict(base, surprise=1),
    }
    cases = []
    for name, doc in docs.items():
        case = _doc_case("train-config", name, argv, "train.yaml", doc, torch=True,
                         setup_extra=pickled_npz if name == "dataset-npz-pickled" else None)
        case.watch = ["PWNED"]
        cases.append(case)
    return cases


def quantize_cases(fx: Fixtures) -> list[Case]:
    ck = fx.checkpoint

    def argv(f, *extra):
        return ["quantize", f, "--out", "out/m.snn.json", *extra]

    def pickle_bomb(folder: Path) -> None:
        (folder / "c.pt").write_bytes(pickle.dumps(Payload("touch PWNED")))

    def torch_pickle(folder: Path) -> None:  # a zip checkpoint whose data.pkl runs a command
        import torch
        torch.save({"x": Payload("touch PWNED")}, folder / "c.pt")

    def truncated(folder: Path) -> None:
        data = ck.read_bytes()
        (folder / "c.pt").write_bytes(data[: len(data) // 2])

    def write(name, data):
        return lambda folder: (folder / name).write_bytes(data)

    def data_setup(arr_kw):
        def setup(folder: Path) -> None:
            with open(folder / "d.npz", "wb") as f:
                np.savez(f, **arr_kw)
        return setup

    good = dict(np.load(fx.data))
    cases = [
        Case("bad", "quantize.text-file", argv("c.pt"), setup=write("c.pt", b"not a checkpoint")),
        Case("bad", "quantize.pickle-payload", argv("c.pt"), setup=pickle_bomb, watch=["PWNED"]),
        Case("bad", "quantize.torch-zip-payload", argv("c.pt"), setup=torch_pickle, watch=["PWNED"]),
        Case("bad", "quantize.truncated-checkpoint", argv("c.pt"), setup=truncated),
        Case("bad", "quantize.directory", argv("c.pt"), setup=lambda folder: (folder / "c.pt").mkdir()),
        Case("bad", "quantize.scale-nan", argv(ck, "--scale", "nan")),
        Case("bad", "quantize.data-pickled", argv(ck, "--data", "d.npz"), watch=["PWNED"],
             setup=data_setup(dict(good, x_test=np.array([Payload("touch PWNED")], dtype=object)))),
        Case("bad", "quantize.data-missing-keys", argv(ck, "--data", "d.npz"), setup=data_setup({"x": good["x_test"]})),
        Case("bad", "quantize.data-nan", argv(ck, "--data", "d.npz"),
             setup=data_setup(dict(good, x_test=np.full_like(good["x_test"], np.nan)))),
        Case("bad", "quantize.out-in-missing-folder", ["quantize", ck, "--out", "out/no/such/m.snn.json"]),
    ]
    for c in cases:
        c.group, c.limit_s = "quantize", TORCH_LIMIT_S
    return cases


def nir_cases(fx: Fixtures) -> list[Case]:
    def argv(f, *extra):
        return ["import-nir", f, "--dt", "1e-3", "--scale", 16, "--time-steps", 3, "--out", "out/m.snn.json", *extra]

    def edit(fn):
        def setup(folder: Path) -> None:
            shutil.copy(fx.nir, folder / "g.nir")
            with h5py.File(folder / "g.nir", "r+") as f:
                fn(f)
        return setup

    def replace(path, value):
        def fn(f):
            del f[path]
            f[path] = value
        return fn

    nodes = "node/nodes"

    def find(f, kind_prefix):
        return next(n for n in f[nodes] if n.startswith(kind_prefix))

    def edge_rows(rows):
        def fn(f):
            del f["node/edges"]
            f.create_dataset("node/edges", data=np.array(rows, dtype=object), dtype=h5py.string_dtype())
        return fn

    def drop_node(prefix):
        return lambda f: f[nodes].__delitem__(find(f, prefix))

    def node_field(prefix, field, value):
        def fn(f):
            name = f"{nodes}/{find(f, prefix)}/{field}"
            if name in f:
                del f[name]
            f[name] = value
        return fn

    def drop_field(prefix, field):
        return lambda f: f.__delitem__(f"{nodes}/{find(f, prefix)}/{field}")

    def meta(key, value):
        def fn(f):
            doc = json.loads(f["node/metadata/verisnn"][()])
            doc[key] = value
            del f["node/metadata/verisnn"]
            f["node/metadata/verisnn"] = json.dumps(doc)
        return fn

    edits = {
        "no-nodes": lambda f: f["node"].__delitem__("nodes"),
        "no-edges": lambda f: f["node"].__delitem__("edges"),
        "missing-synapse-node": drop_node("linear"), "missing-neuron-node": drop_node("lif"),
        "edge-to-unknown-node": edge_rows([["input", "ghost"], ["ghost", "output"]]),
        "edges-empty": edge_rows(np.zeros((0, 2))),
        "edges-three-columns": lambda f: (f["node"].__delitem__("edges"),
                                          f.create_dataset("node/edges", data=np.zeros((2, 3), dtype=np.int64))),
        "cycle": edge_rows([["input", "linear0"], ["linear0", "lif0"], ["lif0", "linear0"], ["lif0", "output"]]),
        "branch": edge_rows([["input", "linear0"], ["input", "lif0"], ["linear0", "lif0"], ["lif0", "output"]]),
        "weight-wrong-shape": node_field("linear", "weight", np.ones((2, 5))),
        "weight-nan": node_field("linear", "weight", np.full((2, 3), np.nan)),
        "weight-strings": node_field("linear", "weight", np.array([["a", "b", "c"], ["d", "e", "f"]], dtype="S1")),
        "type-bogus": node_field("linear", "type", "Bogus"), "type-missing": drop_field("linear", "type"),
        "tau-zero": node_field("lif", "tau", np.zeros(4)),
        "threshold-nan": node_field("lif", "v_threshold", np.full(4, np.nan)),
        "threshold-wrong-length": node_field("lif", "v_threshold", np.ones(7)),
        "input-shape-zero": node_field("input", "shape", np.array([0])),
        "node-is-dataset": lambda f: (f[nodes].__delitem__(find(f, "linear")),
                                      f[nodes].create_dataset("linear0", data=np.zeros(3))),
        "metadata-not-json": lambda f: (f["node/metadata"].__delitem__("verisnn"),
                                        f["node/metadata"].create_dataset("verisnn", data="{not json")),
        "metadata-v_bits-1000": lambda f: _meta_layer(f, "v_bits", 1000),
        "metadata-name-10000": meta("name", "n" * 10_000),
    }
    cases = []
    for name, fn in edits.items():
        case = Case("bad", f"import-nir.{name}", argv("g.nir"), setup=edit(fn), group="import-nir")
        if name == "metadata-name-10000":  # a refusal, or a model verisnn then loads
            case.expect = "answer"
            case.post = _loads_back
            case.group = "import-nir"
        cases.append(case)
    raw = {"not-hdf5": b"hello", "empty": b"", "truncated": fx.nir.read_bytes()[: fx.nir.stat().st_size // 2]}
    for name, data in raw.items():
        cases.append(Case("bad", f"import-nir.{name}", argv("g.nir"), group="import-nir",
                          setup=lambda folder, data=data: (folder / "g.nir").write_bytes(data)))

    def empty_hdf5(folder: Path) -> None:
        with h5py.File(folder / "g.nir", "w"):
            pass
    cases.append(Case("bad", "import-nir.empty-hdf5", argv("g.nir"), setup=empty_hdf5, group="import-nir"))
    for option, value in (("--dt", "0"), ("--scale", "0"), ("--scale", "inf"), ("--time-steps", "0"),
                          ("--v-bits", "x"), ("--v-bits", "0"), ("--v-bits", "1"), ("--v-bits", "100000"),
                          ("--decay-shift", "1000")):
        options = {"--dt": "1e-3", "--scale": "16", "--time-steps": "3", "--out": "out/m.snn.json", option: value}
        cases.append(Case("bad", f"import-nir.{option[2:]}-{value}", ["import-nir", fx.nir,
                                                                     *[a for kv in options.items() for a in kv]],
                          group="import-nir-args"))
    cases.append(Case("bad", "import-nir.out-in-missing-folder",
                      ["import-nir", fx.nir, "--dt", "1e-3", "--scale", 16, "--time-steps", 3, "--out",
                       "out/no/such/m.snn.json"], group="import-nir-args"))
    cases.append(Case("bad", "import-nir.out-is-a-folder",
                      ["import-nir", fx.nir, "--dt", "1e-3", "--scale", 16, "--time-steps", 3, "--out", "out"],
                      group="import-nir-args"))
    return cases


def _meta_layer(f, key, value):
    for name in f["node/nodes"]:
        path = f"node/nodes/{name}/metadata/verisnn"
        if path in f:
            doc = json.loads(f[path][()])
            doc[key] = value
            del f[path]
            f[path] = json.dumps(doc)


def _loads_back(folder: Path, run: Run) -> tuple[bool, str]:
    """The model import-nir wrote must load: ``info`` on it exits 0."""
    out = folder / "out" / "m.snn.json"
    if not out.exists():
        return False, "exit 0 but no model written"
    check = subprocess.run([sys.executable, "-m", "verisnn", "info", str(out), "--json"], capture_output=True,
                           text=True, timeout=60)
    if check.returncode != 0:
        return False, f"wrote a model that verisnn refuses to load (info exit {check.returncode}: " \
                      f"{check.stdout.strip()[:160]})"
    return True, "wrote a model that loads"


def argument_cases(fx: Fixtures) -> list[Case]:
    t, x, f1, nf = fx.tiny, fx.x, fx.prop["f1"], fx.prop["nf00"]
    verify = ["verify", t, "--input", x, "--property", f1]
    cost = ["cost", t, "--input", x, "--profile", "loihi"]
    tree = ["extract", "tree", t, "--data", fx.X, "--out", "out/tree"]
    learn = ["extract", "automaton", t, "--alphabet", fx.alphabet, "--out", "out/learn"]
    machine = ["automaton", t, "--alphabet", fx.alphabet]
    audit_cfg = "audit.yaml"
    argv = {
        "no-command": [], "bogus-command": ["bogus"], "simulate-no-input": ["simulate", t],
        "simulate-unknown-flag": ["simulate", t, "--input", x, "--frobnicate"],
        "verify-solver-bogus-smt": verify + ["--method", "smt", "--solver", "bogus"],
        "verify-solver-bogus-auto": verify + ["--solver", "bogus"],
        "verify-timeout-negative": verify + ["--timeout", "-1"], "verify-timeout-0": verify + ["--timeout", "0"],
        "verify-timeout-nan": verify + ["--timeout", "nan"], "verify-timeout-inf": verify + ["--timeout", "inf"],
        "verify-timeout-x": verify + ["--timeout", "x"], "verify-method-bogus": verify + ["--method", "bogus"],
        "verify-smt-logic-bogus": verify + ["--method", "smt", "--smt-logic", "nra"],
        "verify-bounded-method-unbounded-property": ["verify", t, "--property", nf, "--method", "enumerate"],
        "verify-unbounded-method-bounded-property": verify + ["--method", "kinduction"],
        "verify-max-depth-0": ["verify", t, "--property", nf, "--method", "bmc", "--max-depth", "0"],
        "verify-max-states-negative": ["verify", t, "--property", nf, "--method", "explore", "--max-states", "-5"],
        "verify-certificate-in-missing-folder": verify + ["--certificate", "out/no/such/c.json"],
        "verify-certificate-model-bogus": verify + ["--certificate", "out/c.json", "--certificate-model", "bogus"],
        "verify-input-missing": ["verify", t, "--input", "nothing.npy", "--property", f1],
        "check-no-file": ["check"], "check-timeout-negative": ["check", "c.json", "--timeout", "-1"],
        "check-empty-folder": ["check", "out"],
        "cost-profile-bogus": ["cost", t, "--input", x, "--profile", "nochip"],
        "cost-worst-case-bogus": cost + ["--worst-case", "happiness", "--region", "{flips: 1}"],
        "cost-worst-case-without-region": cost + ["--worst-case", "spikes"],
        "cost-region-without-worst-case": cost + ["--region", "{flips: 1}"],
        "cost-region-junk": cost + ["--worst-case", "spikes", "--region", "junk"],
        "cost-region-unparsable": cost + ["--worst-case", "spikes", "--region", "{flips: [}"],
        "cost-region-negative": cost + ["--worst-case", "spikes", "--region", "{flips: -1}"],
        "cost-region-list": cost + ["--worst-case", "spikes", "--region", "[1, 2]"],
        "cost-region-and-property": cost + ["--worst-case", "spikes", "--region", "{flips: 1}", "--property", f1],
        "cost-timeout-negative": cost + ["--worst-case", "spikes", "--region", "{flips: 1}", "--timeout", "-1"],
        "cost-placement-missing": cost + ["--placement", "nothing.json"],
        "cost-placement-core-out-of-range": cost + ["--placement", "p.json"],
        "tree-certify-junk": tree + ["--certify", "junk"], "tree-max-rules-0": tree + ["--max-rules", "0"],
        "learn-algorithm-bogus": learn + ["--algorithm", "bogus"], "learn-epsilon-0": learn + ["--epsilon", "0"],
        "learn-max-states-0": learn + ["--max-states", "0"],
        "automaton-max-states-0": machine + ["--out", "out/m", "--max-states", "0"],
        "automaton-timeout-negative": machine + ["--out", "out/m", "--timeout", "-1"],
        "automaton-out-is-a-file": machine + ["--out", "file.txt"],
        "audit-workers-0": ["audit", audit_cfg, "--out", "out/audit", "--workers", "0"],
        "audit-workers-x": ["audit", audit_cfg, "--out", "out/audit", "--workers", "x"],
        "train-epochs-0": ["train", fx.train, "--out", "out/train", "--epochs", "0"],
        "train-seed-x": ["train", fx.train, "--out", "out/train", "--seed", "x"],
        "export-nir-dt-0": ["export-nir", t, "--dt", "0", "--scale", "16", "--out", "out/g.nir"],
        "export-nir-scale-0": ["export-nir", t, "--dt", "1e-3", "--scale", "0", "--out", "out/g.nir"],
        "export-nir-scale-nan": ["export-nir", t, "--dt", "1e-3", "--scale", "nan", "--out", "out/g.nir"],
        "export-nir-out-in-missing-folder": ["export-nir", t, "--dt", "1e-3", "--scale", "16", "--out",
                                             "out/no/such/g.nir", "--allow-lossy"],
        "export-nir-lossy-refused": ["export-nir", fx.smoke, "--dt", "1e-3", "--scale", "16", "--out", "out/g.nir"],
    }

    def setup(folder: Path) -> None:
        (folder / "file.txt").write_text("a file")
        (folder / "p.json").write_text("[500]")
        (folder / "c.json").write_text((fx.dir / "certs" / "enumerate.json").read_text()
                                       if (fx.dir / "certs" / "enumerate.json").exists() else "{}")
        shutil.copy(fx.audit, folder / audit_cfg)
        for src in (fx.tiny, fx.X, fx.prop["f1"]):
            shutil.copy(src, folder / src.name)
    torch = {"train-epochs-0", "train-seed-x"}
    return [Case("bad", f"args.{name}", a, setup=setup, group="arguments",
                 limit_s=TORCH_LIMIT_S if name in torch else BAD_LIMIT_S) for name, a in argv.items()]


# ----------------------------------------------------------------------------- resource abuse

def resource_cases(fx: Fixtures, timeout: float) -> list[Case]:
    f = fx.dir
    limit = timeout * SLACK_FACTOR + SLACK_S
    to = ["--timeout", timeout]
    L4, L10, L8 = (f / "long40000.snn.json", f / "long40000.npy"), (f / "long100000.snn.json", f / "long100000.npy"), \
        (f / "long8000.snn.json", f / "long8000.npy")
    f1, f2spk = fx.prop["f1"], fx.prop["f2spk"]
    conv16 = f / "conv16.snn.json"
    cases = []

    def add(name, argv, *, timed=True, setup=None, group="", quick=False):
        cases.append(Case("resource", name, argv, expect="bounded", limit_s=limit if timed else PLAIN_LIMIT_S,
                          setup=setup, group=group, quick=quick))

    # long T with a tiny network
    for (model, raster), steps in ((L4, 40000), (L10, 100000)):
        add(f"info.T{steps}", ["info", model], timed=False, group="long T")
        add(f"simulate.T{steps}", ["simulate", model, "--input", raster], timed=False, group="long T")
        add(f"verify-auto.T{steps}", ["verify", model, "--input", raster, "--property", f1, *to], group="long T")
        add(f"cost.T{steps}", ["cost", model, "--input", raster, "--profile", "loihi"], timed=False, group="long T")
    model, raster = L4
    for method, prop in (("enumerate", f1), ("bab", f1), ("bounds", f2spk), ("smt", f1), ("cpsat", f1)):
        add(f"verify-{method}.T40000", ["verify", model, "--input", raster, "--property", prop, "--method", method,
                                        *to], group="long T")
    add("cost-worst-case.T40000", ["cost", model, "--input", raster, "--profile", "loihi", "--worst-case", "spikes",
                                   "--region", "{flips: 1}", *to], group="long T")
    add("extract-tree.T40000", ["extract", "tree", model, "--data", "d.npy", "--out", "out/tree", *to],
        setup=lambda folder, raster=raster: np.save(folder / "d.npy", np.load(raster)[None].repeat(8, axis=0)),
        group="long T")
    # 'any' over T = 8000, n = 2: 2^16000 rasters
    model, raster = L8
    add("verify-any.T8000", ["verify", model, "--input", raster, "--property", fx.prop["any"], *to],
        group="2^16000 rasters", quick=True)
    add("verify-any-enumerate.T8000", ["verify", model, "--input", raster, "--property", fx.prop["any"], "--method",
                                       "enumerate", *to], group="2^16000 rasters")
    add("verify-any-spikes.T8000", ["verify", model, "--input", raster, "--property", fx.prop["anyspk"], *to],
        group="2^16000 rasters")
    add("cost-worst-case-any.T8000", ["cost", model, "--input", raster, "--profile", "loihi", "--worst-case",
                                      "spikes", "--region", "any", *to], group="2^16000 rasters")
    add("verify-flips-10^400", ["verify", fx.tiny, "--input", fx.x, "--property", "p.yaml", *to],
        setup=lambda folder: (folder / "p.yaml").write_text(f"region: {{flips: {10 ** 400}}}\ncondition: robust\n"),
        group="2^16000 rasters")
    # convolutions declared huge in a tiny file
    for side in (160, 4000):
        add(f"info.conv{side}", ["info", f / f"conv{side}.snn.json"], timed=False, group="huge convolution",
            quick=side == 4000)
        add(f"simulate.conv{side}", ["simulate", f / f"conv{side}.snn.json", "--input", "x.npy"], timed=False,
            group="huge convolution",
            setup=lambda folder, side=side: _header_zeros(folder / "x.npy", (4, side * side)))
    add("verify.conv160", ["verify", f / "conv160.snn.json", "--input", "x.npy", "--property", f1, *to],
        setup=lambda folder: _header_zeros(folder / "x.npy", (4, 160 * 160)), group="huge convolution")
    for method in ("auto", "kinduction", "pdr"):
        add(f"verify-unbounded-{method}.conv16", ["verify", conv16, "--property", "nf.yaml", "--method", method, *to],
            setup=lambda folder: (folder / "nf.yaml").write_text(
                "region: any\ncondition: {never_fires: [1, 0]}\nhorizon: unbounded\n"), group="huge convolution")
    # NIR graphs with huge compressed weights
    add("import-nir.linear-30000x30000", ["import-nir", "g.nir", "--dt", "1e-3", "--scale", 16, "--time-steps", 3,
                                          "--out", "out/m.snn.json"], timed=False, setup=_nir_bomb(fx.nir, "linear"),
        group="compressed NIR")
    add("import-nir.threshold-10^9", ["import-nir", "g.nir", "--dt", "1e-3", "--scale", 16, "--time-steps", 3,
                                      "--out", "out/m.snn.json"], timed=False, setup=_nir_bomb(fx.nir, "lif"),
        group="compressed NIR")
    # many letters
    letters = {f"l{i}": [[int(b) for b in format(i, "016b")]] for i in range(1 << 16)}
    wide_doc = json.loads((f / "rand.snn.json").read_text())  # 16 inputs

    def alphabet(folder: Path) -> None:
        write_json(folder / "A.json", {"letters": letters})
    add("automaton.65536-letters", ["automaton", f / "rand.snn.json", "--alphabet", "A.json", "--out", "out/m", *to],
        setup=alphabet, group="many letters")
    add("extract-automaton.65536-letters", ["extract", "automaton", f / "rand.snn.json", "--alphabet", "A.json",
                                            "--out", "out/l", *to], setup=alphabet, group="many letters")
    add("verify-letters.65536-letters", ["verify", f / "rand.snn.json", "--property", fx.prop["nf"], "--letters",
                                         "A.json", *to], setup=alphabet, group="many letters")
    del wide_doc
    # big files where a small one is expected
    for name, argv in (("model", ["info", "big.json"]), ("certificate", ["check", "big.json", *to]),
                       ("property", ["verify", fx.tiny, "--input", fx.x, "--property", "big.json", *to]),
                       ("alphabet", ["automaton", fx.tiny, "--alphabet", "big.json", "--out", "out/m", *to]),
                       ("audit-config", ["audit", "big.json", "--out", "out/a", "--workers", 1, "--no-progress"])):
        add(f"big-file.{name}-2GiB-sparse", argv, timed=name in ("certificate", "property", "alphabet"),
            setup=lambda folder: sparse(folder / "big.json"), group="big files")
    add("big-file.npy-2GiB-batch", ["simulate", fx.tiny, "--input", "big.npy"], timed=False,
        setup=lambda folder: _header_zeros(folder / "big.npy", (2 * GIB // 9, 3, 3)), group="big files")
    # training that would allocate far beyond the machine
    huge = dict(fx.train_doc, hidden=[200_000, 200_000])
    cases.append(Case("resource", "train.hidden-200000x200000", ["train", "t.yaml", "--out", "out/train"],
                      expect="bounded", limit_s=TORCH_LIMIT_S, group="allocation",
                      setup=lambda folder: write_json(folder / "t.yaml", huge)))
    return cases


def _header_zeros(path: Path, shape: tuple) -> None:
    """A valid int8 .npy of zeros of ``shape``, written sparse (the data is a hole)."""
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "|i1", "fortran_order": False, "shape": shape})
        f.truncate(f.tell() + int(np.prod(shape)))


def _nir_bomb(graph: Path, which: str) -> Callable[[Path], None]:
    """The small model's graph grown with gzip-compressed constant data (a few KB on disk):
    ``linear``: a consistent 30000 -> 30000 -> 3 network (7.2 GB of float64 weights);
    ``lif``: 10^9 neuron parameters behind a 4 x 3 weight (8 GB each, and the wrong shape)."""
    def setup(folder: Path) -> None:
        shutil.copy(graph, folder / "g.nir")
        with h5py.File(folder / "g.nir", "r+") as f:
            nodes = f["node/nodes"]

            def put(path: str, shape: tuple, value: float) -> None:
                del nodes[path]
                chunks = tuple(min(s, 4096) for s in shape)
                nodes.create_dataset(path, shape=shape, dtype="f8", compression="gzip", chunks=chunks,
                                     fillvalue=value)
            if which == "linear":
                n = 30000
                del nodes["input/shape"]
                nodes["input/shape"] = np.array([n])
                put("linear0/weight", (n, n), 0.0)
                for field in ("tau", "r", "v_leak", "v_threshold", "v_reset"):
                    put(f"lif0/{field}", (n,), float(np.asarray(nodes[f"lif1/{field}"])[0]))
                put("linear1/weight", (3, n), 0.0)
            else:
                for field in ("tau", "r", "v_leak", "v_threshold", "v_reset"):
                    put(f"lif0/{field}", (10 ** 9,), 1.0)
    return setup


# ----------------------------------------------------------------------------- tampered certificates

# (name, model, centre or None, property, extra verify arguments): each gives one genuine certificate
GENUINE = [
    ("witness", "small", "c", "f3", ["--method", "enumerate"]),
    ("enumerate", "small", "c", "f1", ["--method", "enumerate"]),
    ("bab", "small", "c", "d2", ["--method", "bab"]),
    ("bounds", "small", "c", "f2spk", ["--method", "bounds"]),
    ("smt", "small", "c", "f1", ["--method", "smt"]),
    ("cpsat", "small", "c", "f1", ["--method", "cpsat"]),
    ("kinduction", "smoke", None, "nf", ["--method", "kinduction", "--timeout", 30]),
    ("pdr", "smoke", None, "nf", ["--method", "pdr", "--timeout", 60]),
    ("explore", "smoke", None, "nf", ["--method", "explore"]),
    ("unknown", "wide", "wide", "f10", ["--method", "enumerate"]),
    ("unbounded-witness", "counter", None, "nf00", ["--method", "explore"]),
    ("letters", "gate", None, "nf00", ["--method", "kinduction", "--letters", "L.json", "--timeout", 30]),
    ("auto", "small", "c", "f1", []),
]
QUICK_GENUINE = ("enumerate", "pdr")
INFORMATIVE = {"timings", "tools", "details", "created"}
SWAPS = {"z3": "cvc5", "cvc5": "z3", "z3-native": "z3", "unsat": "sat", "sat": "unsat", "QF_LIA": "QF_BV",
         "QF_BV": "QF_LIA", "INFEASIBLE": "OPTIMAL", "verified": "falsified", "falsified": "verified",
         "unknown": "verified", "enumerate": "bab", "bab": "enumerate", "bounds": "enumerate", "smt": "cpsat",
         "cpsat": "smt", "kinduction": "pdr", "pdr": "kinduction", "explore": "kinduction", "auto": "enumerate",
         "robust": "never_fires"}


def genuine_setup(fx: Fixtures) -> list[tuple[str, list, Path]]:
    """The verify commands that write the genuine certificates (run in fixtures/certs)."""
    certs = fx.dir / "certs"
    certs.mkdir(exist_ok=True)
    write_json(certs / "L.json", {"letters": {"z": [[0, 0]], "b": [[0, 1]], "ab": [[1, 1]]}})
    jobs = []
    for name, model, centre, prop, extra in GENUINE:
        if fx.quick and name not in QUICK_GENUINE:
            continue
        argv = ["verify", fx.dir / f"{model}.snn.json", "--property", fx.prop[prop], "--certificate",
                certs / f"{name}.json", *extra]
        if centre:
            argv[2:2] = ["--input", fx.dir / f"{centre}.npy"]
        jobs.append((name, argv, certs))
    if not fx.quick:  # one naming its model by file, in a bundle
        bundle = fx.dir / "bundle"
        (bundle / "certificates").mkdir(parents=True)
        (bundle / "models").mkdir()
        shutil.copy(fx.small, bundle / "models" / "small.snn.json")
        jobs.append(("by-file", ["verify", "../models/small.snn.json", "--input", fx.c, "--property", fx.prop["f1"],
                                 "--method", "enumerate", "--certificate", "c.json", "--certificate-model", "file"],
                     bundle / "certificates"))
    return jobs


def mutate(value: Any) -> Any:
    """A different value of the same kind (the smallest plausible edit)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value + 0.5
    if isinstance(value, str):
        if value in SWAPS:
            return SWAPS[value]
        if len(value) == 64 and all(c in "0123456789abcdef" for c in value):
            return value[:-1] + ("0" if value[-1] != "0" else "1")
        return value + " "
    if value is None:
        return 0
    if isinstance(value, list):
        if not value:
            return [0]
        if all(isinstance(v, str) for v in value) and len(value) > 1:
            return [value[1], value[0], *value[2:]]
        if isinstance(value[0], list) and value[0] and isinstance(value[0][0], int) and not isinstance(value[0][0],
                                                                                                      bool):
            out = copy.deepcopy(value)
            out[0][0] = 1 - out[0][0] if out[0][0] in (0, 1) else out[0][0] + 1
            return out
        return [mutate(value[0]), *value[1:]]
    if isinstance(value, dict):
        if not value:
            return {"x": 1}
        key = sorted(value)[0]
        return {**value, key: mutate(value[key])}
    return value


def field_paths(cert: dict, generic: bool) -> list[tuple]:
    paths = [("verdict",), ("method",)]
    if generic:
        paths += [("format",), ("semantics",), ("reason",), ("model", "sha256"), ("model", "name"), ("property",)]
        if cert.get("letters") is not None:
            paths.append(("letters",))
    if cert.get("centre") and generic:
        paths += [("centre", k) for k in sorted(cert["centre"])]
    ev = cert.get("evidence") or {}
    for k in sorted(ev):
        if k == "kind":
            continue
        if isinstance(ev[k], dict) and ev[k] and k not in ("property", "hardware_profile"):
            paths += [("evidence", k, kk) for kk in sorted(ev[k])]
        else:
            paths.append(("evidence", k))
    if cert.get("costs"):
        paths.append(("costs",))
    return paths


def get_at(doc, path):
    for k in path:
        doc = doc[k]
    return doc


def tamper_cases(fx: Fixtures, timeout: float) -> list[Case]:
    certs = fx.dir / "certs"
    limit = timeout * SLACK_FACTOR + SLACK_S
    outside = fx.dir.parent / "outside"
    cases: list[Case] = []

    def add(name, doc_fn, *, group, quick=False, extra_setup=None, watch=(), expect="rejected"):
        def setup(folder: Path) -> None:
            if extra_setup:
                extra_setup(folder)
            doc = doc_fn(folder)
            target = folder / "c.json"
            target.write_bytes(doc if isinstance(doc, bytes) else _json_bytes(doc))
        cases.append(Case("tamper", name, ["check", "c.json", "--timeout", timeout], expect=expect,
                          limit_s=limit, setup=setup, group=group, quick=quick, allowed=(),
                          watch=list(watch) + ["PWNED", "pwned.pth"]))

    def load(name):
        return json.loads((certs / f"{name}.json").read_text())

    available = [name for name, *_ in GENUINE if (certs / f"{name}.json").exists()]
    for name in available:
        genuine = load(name)
        generic = name in ("enumerate", "witness", "pdr", "smt")
        for path in field_paths(genuine, generic):
            if path[0] in INFORMATIVE or path == ("evidence", "depth"):
                continue
            try:
                old = get_at(genuine, path)
            except (KeyError, IndexError, TypeError):
                continue
            new = mutate(old)
            if path == ("evidence", "solver"):
                # an SMT obligation is re-solved by both solver families, so z3 <-> cvc5 states a true
                # claim; z3-native changes which term API built the text, which the checker re-encodes
                new = "z3-native" if old != "z3-native" else "z3"
            if new == old:
                continue
            label = ".".join(map(str, path))
            add(f"{name}.edit.{label}", lambda folder, g=genuine, p=path, v=new: set_at(g, p, v),
                group=f"edit {path[0]}" if path[0] != "evidence" else f"edit evidence ({genuine['evidence']['kind']})",
                quick=(name, label) in (("enumerate", "verdict"),))
        add(f"{name}.extra-key.top", lambda folder, g=genuine: dict(g, surprise=1), group="extra keys",
            quick=name == "enumerate")
        if genuine.get("evidence") and generic:
            add(f"{name}.extra-key.evidence", lambda folder, g=genuine: set_at(g, ("evidence", "surprise"), 1),
                group="extra keys")
        if genuine["model"].get("document") and "model_sha256" in (genuine.get("evidence") or {}):
            def weight_rehashed(folder, g=genuine):  # the records still name the genuine model
                doc = copy.deepcopy(g)
                w = doc["model"]["document"]["layers"][0]["weight"]
                w[0][0] = w[0][0] + 1
                doc["model"]["sha256"] = model_hash(doc["model"]["document"])
                return doc
            add(f"{name}.model-weight-rehashed", weight_rehashed, group="model edited, its hash updated")
    if "enumerate" in available:
        g = load("enumerate")
        for part in ("centre", "model", "property"):
            add(f"enumerate.extra-key.{part}", lambda folder, g=g, part=part: set_at(g, (part, "surprise"), 1),
                group="extra keys")
        add("enumerate.not-an-object", lambda folder, g=g: [g], group="extra keys")
        # model paths out of the bundle: an embedded model may be checked with the named file ignored
        for label, target in model_path_targets(fx.tiny):
            add(f"enumerate.model-path.{label}", lambda folder, t=target, g=g: set_at(g, ("model", "path"),
                                                                                      _resolve(t, folder)),
                group="model path", extra_setup=_path_target_setup(target), quick=label == "etc-passwd",
                expect="rejected_or_ignored")
    by_file = fx.dir / "bundle" / "certificates" / "c.json"
    if by_file.exists():  # a model named by file only: the file must be the bundle's
        g = json.loads(by_file.read_text())
        for label, target in model_path_targets(fx.tiny):
            add(f"by-file.model-path.{label}", lambda folder, t=target, g=g: set_at(g, ("model", "path"),
                                                                                    _resolve(t, folder)),
                group="model path", extra_setup=_path_target_setup(target))
    if "pdr" in available:
        g = load("pdr")
        inv = g["evidence"]["invariant"]
        for label, invariant in pdr_injections(inv, outside):
            for rehash in (False, True):
                def doc(folder, invariant=invariant, rehash=rehash, g=g):
                    text = invariant.replace("{CASE}", str(folder))
                    d = set_at(g, ("evidence", "invariant"), text)
                    if rehash:
                        d["evidence"]["invariant_sha256"] = hashlib.sha256(text.encode()).hexdigest()
                    return d
                add(f"pdr.inject.{label}{'.rehashed' if rehash else ''}", doc, group="SMT-LIB injection",
                    watch=[outside / f"{label}.txt"], quick=label == "echo-genuine-prefix" and rehash)
        add("pdr.swap-evidence-kind", lambda folder, g=g: set_at(g, ("evidence", "kind"), "kinduction"),
            group="records moved")
    if "smt" in available:
        g = load("smt")
        text = g["evidence"]["smtlib"]
        for label, injected in (("prefix", f'(set-option :regular-output-channel "{{CASE}}/pwned.pth")\n'
                                           f'(echo "import os; os.system(\'touch PWNED\')")\n' + text),
                                ("suffix", text + f'\n(set-option :regular-output-channel "{outside}/smt.txt")'
                                                  f'\n(echo "pwned")\n'),
                                ("exit", text.replace("(check-sat)", "(exit)\n(check-sat)"))):
            def doc(folder, injected=injected, g=g):
                t = injected.replace("{CASE}", str(folder))
                d = set_at(g, ("evidence", "smtlib"), t)
                d["evidence"]["smtlib_sha256"] = hashlib.sha256(t.encode()).hexdigest()
                return d
            add(f"smt.inject.{label}.rehashed", doc, group="SMT-LIB injection", watch=[outside / "smt.txt"])
    if "kinduction" in available:
        g = load("kinduction")
        for label, depth in (("0", 0), ("negative", -1), ("1000", 1000), ("100000", 100_000),
                             ("10^400", 10 ** 400), ("fraction", 1.5), ("string", "1"), ("bool", True)):
            add(f"kinduction.depth.{label}", lambda folder, d=depth, g=g: set_at(g, ("evidence", "depth"), d),
                group="huge depths", quick=label == "10^400")
    if "explore" in available:
        g = load("explore")
        add("explore.reachable_states.10^12", lambda folder, g=g: set_at(g, ("evidence", "reachable_states"), 10 ** 12),
            group="huge depths")
    if "letters" in available:
        g = load("letters")
        add("letters.letters.add-firing-letter", lambda folder, g=g: set_at(g, ("letters",), [[0, 0], [1, 0]]),
            group="edit letters")
        add("letters.letters.wrong-width", lambda folder, g=g: set_at(g, ("letters",), [[0, 0, 0]]),
            group="edit letters")
    if "witness" in available:
        g = load("witness")
        add("witness.bytes.duplicate-verdict", lambda folder, g=g: _json_bytes(g)[:-1] + b', "verdict": "verified"}',
            group="extra keys")
    return cases


def model_path_targets(other_model: Path) -> list[tuple[str, str]]:
    return [("etc-passwd", "../../../../../../../../etc/passwd"), ("absolute-etc-passwd", "/etc/passwd"),
            ("absolute-other-model", str(other_model)), ("sparse-2GiB", "{CASE}/big.snn.json"),
            ("fifo", "{CASE}/fifo.snn.json"), ("dev-zero", "/dev/zero"), ("proc-environ", "/proc/self/environ"),
            ("symlink-out", "{CASE}/link.snn.json")]


def _resolve(target: str, folder: Path) -> str:
    return target.replace("{CASE}", str(folder))


def _path_target_setup(target: str):
    def setup(folder: Path) -> None:
        if target.endswith("big.snn.json"):
            sparse(folder / "big.snn.json")
        elif target.endswith("fifo.snn.json"):
            os.mkfifo(folder / "fifo.snn.json")
        elif target.endswith("link.snn.json"):
            (folder / "link.snn.json").symlink_to("/etc/passwd")
    return setup


def pdr_injections(invariant: str, outside: Path) -> list[tuple[str, str]]:
    """Invariants that close the term and add commands: echo into a file, channels, stack games."""
    echo = '(set-option :regular-output-channel "{path}") (echo "import os; os.system(\'touch PWNED\')")'
    case_file, out_file = "{CASE}/pwned.pth", str(outside / "echo-genuine-prefix.txt")
    return [
        ("echo-genuine-prefix", f"{invariant}) {echo.format(path=out_file)} (assert true"),
        ("echo-case-folder", f"{invariant}) {echo.format(path=case_file)} (assert true"),
        ("echo-no-prefix", f"true) {echo.format(path=str(outside / 'echo-no-prefix.txt'))} (assert true"),
        ("diagnostic-channel", f'{invariant}) (set-option :diagnostic-output-channel '
                               f'"{outside}/diagnostic-channel.txt") (get-info :all-statistics) (assert true'),
        ("exit", f"{invariant}) (exit) (assert true"),
        ("pop-assertions", f"true) (pop 1) (push 1) (assert true"),
        ("reset", f"false) (reset) (assert true"),
        ("undefined-symbol", "(>= s_nowhere 0)"),
        ("deep-nesting", "(not " * 100_000 + "true" + ")" * 100_000),
        ("let-bomb", _let_bomb(30)),
        ("huge-text", "(and " + " ".join(["true"] * 2_000_000) + ")"),
    ]


def _let_bomb(depth: int) -> str:
    """A term of linear text whose expansion doubles at every ``let``: 2^depth leaves."""
    parts, previous = [], "s_h0_1"
    for i in range(depth):
        parts.append(f"(let ((x{i} (+ {previous} {previous}))) ")
        previous = f"x{i}"
    return "".join(parts) + f"(>= {previous} 0)" + ")" * depth


# ----------------------------------------------------------------------------- interruptions

INTERRUPT_INPUTS = 16


def interrupt_fixtures(folder: Path, quick: bool) -> Path:
    """A small audit: a recurrent LIF model (T = 6, n = 6), 16 inputs x 3 properties with certificates."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(SEED + 1)
    hidden = Dense(weight=rng.integers(-2, 4, (6, 6)).tolist(), recurrent=(rng.integers(-1, 2, (6, 6)) *
                                                                           (1 - np.eye(6, dtype=int))).tolist(),
                   neuron=Neuron(size=6, model="lif", threshold=4, v_decay=(3, 2), v_bits=6))
    out = Dense(weight=rng.integers(-2, 4, (2, 6)).tolist(), neuron=Neuron(size=2, model="lif", threshold=3,
                                                                            v_decay=(3, 2), v_bits=6))
    save_model(Model(time_steps=6, input=InputSpec(6), layers=(hidden, out), name="interrupt",
                     readout=Readout("spike_count", "lowest_index")), folder / "m.snn.json")
    np.save(folder / "X.npy", (rng.random((INTERRUPT_INPUTS, 6, 6)) < 0.4).astype(np.int8))
    props = [{"name": "flips2", "property": {"region": {"flips": 2}, "condition": "robust"}},
             {"name": "deletions3", "property": {"region": {"deletions": 3}, "condition": "robust"}},
             {"name": "quiet", "property": {"region": {"flips": 2}, "condition": {"spikes_at_most": 40}}}]
    doc = {"name": "interrupt-audit", "model": "m.snn.json",
           "inputs": {"file": "X.npy", "select": {"first": 6 if quick else INTERRUPT_INPUTS}},
           "properties": props, "verify": {"method": "auto", "timeout": 60}, "certificates": True,
           "profile": "loihi",
           "report": {"explain_inputs": 0, "faithfulness_inputs": 0, "saliency": [], "counterexamples": 0}}
    return write_json(folder / "audit.yaml", doc)


def read_rows(out: Path) -> tuple[dict[str, dict], int]:
    """The store's result rows by key, and the number of rows (duplicates included)."""
    db = out / "campaign.sqlite"
    if not db.exists():
        return {}, 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            con.row_factory = sqlite3.Row
            rows = [dict(r) for r in con.execute("SELECT * FROM results")]
        finally:
            con.close()
    except sqlite3.Error:
        return {}, 0
    return {r["key"]: r for r in rows}, len(rows)


def stored(out: Path) -> int:
    db = out / "campaign.sqlite"
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return con.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


class Interrupts:
    """The audit interruption cases, compared with one uninterrupted baseline run."""

    def __init__(self, fx: Fixtures, runner: Runner, config: Path):
        self.fx, self.runner, self.config = fx, runner, config
        self.baseline: dict[str, dict] = {}
        self.total = 0

    def argv(self, out: Path) -> list:
        return ["audit", self.config, "--out", out, "--workers", 2, "--no-progress"]

    def run_baseline(self, folder: Path) -> dict:
        run = self.runner.run(self.argv(folder), self.config.parent, 300)
        self.baseline, _ = read_rows(folder)
        self.total = len(self.baseline)
        ok = run.exit == 0 and self.total > 0
        return {"category": "control", "name": "interrupt.baseline-audit", "group": "baseline",
                "command": "verisnn " + " ".join(run.argv), "exit": run.exit, "elapsed_s": run.elapsed_s,
                "peak_rss_mib": run.peak_rss_mib, "passed": ok,
                "why": f"{self.total} results stored" if ok else f"baseline audit failed: {run.stdout[:300]}"}

    def case(self, name: str, target: str, sig: int, moment: tuple, quick=False) -> Case:
        return Case("interrupt", name, group=f"{_signame(sig)} {target}", quick=quick,
                    custom=lambda case, folder: self.interrupt(folder, target, sig, moment))

    def interrupt(self, folder: Path, target: str, sig: int, moment: tuple) -> dict:
        out = folder / "out" / "audit"
        argv = self.argv(out)
        proc, stdout, _, started = self.runner.start(self.runner.command(argv), self.config.parent)
        notes, fired = [], False
        deadline = started + 120
        kind, value = moment
        while time.monotonic() < deadline:
            if _exited(proc):
                break
            n = stored(out)
            if (kind == "time" and time.monotonic() - started >= value) or \
               (kind == "stored" and n >= max(1, round(value * self.total))) or \
               (kind == "all" and n >= self.total):
                fired = True
                self._send(proc.pid, target, sig, notes)
                break
            time.sleep(0.02)
        # a stopped campaign must end by itself (SIGINT, SIGTERM, a dead worker): 60 s
        code, elapsed, rss = Runner.reap(proc, started, (time.monotonic() - started) + 60)
        orphans = _orphans(proc.pid)
        before, _ = read_rows(out)
        record = {"command": f"verisnn {' '.join(map(str, argv))}  <- {_signame(sig)} to the {target} at "
                             f"{_moment(moment)}", "exit": code, "elapsed_s": round(elapsed, 3),
                  "peak_rss_mib": round(rss, 1), "stored_before": len(before)}
        problems = []
        if not fired:
            problems.append(f"the run ended (exit {code}) before the interrupt: make the audit longer")
        if code is None:
            problems.append("did not stop within 60 s of the interrupt")
        elif code == 0 and fired:
            problems.append("exit 0 after the interrupt")
        elif sig == signal.SIGINT and target != "worker" and code != 130 and fired:
            problems.append(f"SIGINT gave exit {code}, not 130")
        if orphans:
            problems.append(f"{len(orphans)} processes outlived the campaign")
        obj, _ = one_json_object(_read(stdout))
        if code not in (0, None) and obj and obj.get("kind") not in ("bad_input", "internal"):
            problems.append(f"printed a summary: {json.dumps(obj)[:120]}")
        problems += self.compare_after_rerun(folder, out, before, record)
        record.update(passed=not problems, why="; ".join(problems) if problems else
                      f"exit {code}; {len(before)} of {self.total} stored before, nothing lost or changed")
        return record

    @staticmethod
    def _send(pid: int, target: str, sig: int, notes: list) -> None:
        with contextlib.suppress(ProcessLookupError):
            if target == "parent":
                os.kill(pid, sig)
            elif target == "group":
                os.killpg(pid, sig)
            else:
                workers = sorted(psutil.Process(pid).children(recursive=True), key=lambda p: p.pid)
                workers = [w for w in workers if "resource_tracker" not in " ".join(w.cmdline())]
                if workers:
                    workers[-1].send_signal(sig)
                else:
                    notes.append("no worker to kill")

    def compare_after_rerun(self, folder: Path, out: Path, before: dict, record: dict) -> list[str]:
        """Re-run to completion; nothing stored before may be lost, changed or doubled, and the
        answers must equal the uninterrupted run's."""
        problems = []
        rerun = self.runner.run(self.argv(out), self.config.parent, 300)
        record["rerun_exit"], record["rerun_s"] = rerun.exit, rerun.elapsed_s
        if rerun.exit != 0:
            problems.append(f"the re-run failed (exit {rerun.exit}): {rerun.stdout.strip()[:200]}")
        after, count = read_rows(out)
        lost = [k for k in before if k not in after]
        changed = [k for k in before if k in after and after[k] != before[k]]
        if lost:
            problems.append(f"{len(lost)} stored results lost")
        if changed:
            problems.append(f"{len(changed)} stored results changed")
        if count != len(after):
            problems.append(f"{count - len(after)} duplicate rows")
        missing = [k for k in self.baseline if k not in after]
        if rerun.exit == 0 and missing:
            problems.append(f"{len(missing)} queries unanswered after the re-run")
        differ = [k for k in self.baseline if k in after and after[k]["verdict"] != self.baseline[k]["verdict"]]
        if differ:
            sample = after[differ[0]]
            problems.append(f"{len(differ)} answers differ from the uninterrupted run (e.g. {sample['verdict']}: "
                            f"{str(sample.get('reason'))[:100]})")
        timeouts = [k for k, r in after.items() if "timeout" in str(r.get("reason") or "").lower()
                    and "timeout" not in str(self.baseline.get(k, {}).get("reason") or "").lower()]
        if timeouts:
            problems.append(f"{len(timeouts)} stored answers claim a timeout")
        bad_certs = []
        for key, r in after.items():
            if r.get("certificate"):
                p = out / r["certificate"]
                if not p.is_file() or hashlib.sha256(p.read_bytes()).hexdigest() != r.get("certificate_sha256"):
                    bad_certs.append(r["certificate"])
        if bad_certs:
            problems.append(f"{len(bad_certs)} certificate files missing or not the stored ones")
        record["results_lost"] = len(lost) + len(changed)
        return problems

    # -- a full disk and a read-only re-run (mounts need root; a file-size limit stands in for a full disk)

    def full_disk(self, size_kib: int) -> Case:
        def custom(case: Case, folder: Path) -> dict:
            disk = folder / "disk"
            disk.mkdir()
            mounted = _mount(["-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(disk)])
            out = disk / "out"
            try:
                run = self.runner.run(self.argv(out), self.config.parent, 300,
                                      fsize=0 if mounted else size_kib * 1024)
                before, _ = read_rows(out)
                record = {"command": f"verisnn {' '.join(map(str, self.argv(out)))}  <- a "
                                     f"{'tmpfs' if mounted else 'RLIMIT_FSIZE'} of {size_kib} KiB",
                          "exit": run.exit, "elapsed_s": run.elapsed_s, "peak_rss_mib": run.peak_rss_mib,
                          "stored_before": len(before)}
                problems = []
                if run.exit == 0:
                    problems.append("the disk did not fill: the audit completed")
                else:
                    ok, why = refusal(run)
                    if not ok:
                        problems.append(f"not a clear error: {why}")
                    elif not any(w in why.lower() for w in ("disk", "space", "full", "file too large")):
                        problems.append(f"the error does not name the full disk: {why[:160]}")
                if mounted:
                    _mount(["-o", "remount,size=256m", str(disk)])
                problems += self.compare_after_rerun(folder, out, before, record)
                record.update(passed=not problems, why="; ".join(problems) or
                              f"exit {run.exit}, {len(before)} stored before; the re-run completed")
                return record
            finally:
                if mounted:
                    subprocess.run(["umount", "-l", str(disk)], capture_output=True)
        return Case("interrupt", f"full-disk.{size_kib}KiB", group="full disk", custom=custom)

    def read_only(self) -> Case:
        def custom(case: Case, folder: Path) -> dict:
            src, ro = folder / "src", folder / "ro"
            shutil.copytree(self.fx.dir / "interrupt-baseline", src)
            ro.mkdir()
            if not _mount(["--bind", str(src), str(ro)]):
                return {"passed": None, "why": "skipped: bind mounts need root", "command": "", "exit": None,
                        "elapsed_s": 0, "peak_rss_mib": 0}
            try:
                if not _mount(["-o", "remount,bind,ro", str(ro)]):
                    return {"passed": None, "why": "skipped: a read-only remount was refused", "command": "",
                            "exit": None, "elapsed_s": 0, "peak_rss_mib": 0}
                before, _ = read_rows(src)
                run = self.runner.run(self.argv(ro), self.config.parent, 120)
            finally:
                subprocess.run(["umount", "-l", str(ro)], capture_output=True)
            record = {"command": f"verisnn {' '.join(map(str, self.argv(ro)))}  <- a read-only bind mount of a "
                                 "completed audit", "exit": run.exit, "elapsed_s": run.elapsed_s,
                      "peak_rss_mib": run.peak_rss_mib, "stored_before": len(before)}
            problems = []
            ok, why = refusal(run) if run.exit != 0 else (True, "exit 0: nothing to write")
            if not ok:
                problems.append(f"not a clear error: {why}")
            elif run.exit == 2 and not any(w in why.lower() for w in ("read-only", "read only", "readonly",
                                                                       "permission", "not writable")):
                problems.append(f"the error does not say read-only: {why[:160]}")
            problems += self.compare_after_rerun(folder, src, before, record)
            record.update(passed=not problems, why="; ".join(problems) or f"exit {run.exit}: {why[:160]}")
            return record
        return Case("interrupt", "read-only-rerun", group="read-only", custom=custom)

    # -- Ctrl-C of a single command

    def ctrl_c(self, name: str, argv: list, after_s: float, certificate: str | None = None, quick=False) -> Case:
        def custom(case: Case, folder: Path) -> dict:
            proc, stdout, _, started = self.runner.start(self.runner.command(argv), folder)
            fired = False
            while time.monotonic() - started < after_s:
                if _exited(proc):
                    break
                time.sleep(0.02)
            else:
                fired = True
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGINT)   # the terminal's Ctrl-C: the whole foreground group
            code, elapsed, rss = Runner.reap(proc, started, (time.monotonic() - started) + 30)
            problems = []
            if not fired:
                problems.append(f"finished (exit {code}) before the interrupt at {after_s} s")
            elif code != 130:
                obj, _ = one_json_object(_read(stdout))
                problems.append(f"exit {code} after Ctrl-C, not 130" + (f": {json.dumps(obj)[:160]}" if obj else ""))
            if certificate and (folder / certificate).exists():
                doc = json.loads((folder / certificate).read_text() or "{}")
                if "timeout" in str(doc.get("reason") or "").lower():
                    problems.append(f"the certificate claims a timeout: {doc.get('reason')}")
            return {"command": f"verisnn {' '.join(map(str, argv))}  <- Ctrl-C at {after_s} s", "exit": code,
                    "elapsed_s": round(elapsed, 3), "peak_rss_mib": round(rss, 1), "passed": not problems,
                    "why": "; ".join(problems) or "exit 130"}
        return Case("interrupt", f"ctrl-c.{name}", group="Ctrl-C of one command", custom=custom, quick=quick)


def _exited(proc) -> bool:
    """Whether the child has ended, without reaping it (Runner.reap does, for its rusage)."""
    return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def _orphans(pgid: int) -> list[int]:
    time.sleep(0.2)
    alive = []
    for p in psutil.process_iter(["pid"]):
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if os.getpgid(p.pid) == pgid and p.status() != psutil.STATUS_ZOMBIE:
                alive.append(p.pid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    return alive


def _moment(moment: tuple) -> str:
    kind, value = moment
    return {"time": f"{value} s", "stored": f"{value:.0%} stored", "all": "the report"}[kind]


def _mount(args: list[str]) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


def interrupt_cases(ints: Interrupts, fx: Fixtures) -> list[Case]:
    K, I, T = signal.SIGKILL, signal.SIGINT, signal.SIGTERM
    plan = [("kill9-parent", "parent", K, [("time", 0.5), ("stored", 0.01), ("stored", 0.1), ("stored", 0.3),
                                            ("stored", 0.5), ("stored", 0.7), ("stored", 0.9), ("all", 0)]),
            ("kill9-group", "group", K, [("time", 1.0), ("stored", 0.2), ("all", 0)]),
            ("kill9-worker", "worker", K, [("stored", 0.1), ("stored", 0.5), ("stored", 0.8)]),
            ("sigint-parent", "parent", I, [("stored", 0.2), ("all", 0)]),
            ("sigint-group", "group", I, [("time", 1.0), ("stored", 0.4), ("all", 0)]),
            ("sigterm-parent", "parent", T, [("stored", 0.3), ("stored", 0.7)]),
            ("sigterm-group", "group", T, [("stored", 0.5)])]
    cases = []
    for label, target, sig, moments in plan:
        for m in moments:
            tag = {"time": f"at-{m[1]}s", "stored": f"at-{round(m[1] * 100)}pct", "all": "in-report"}[m[0]]
            cases.append(ints.case(f"{label}.{tag}", target, sig, m,
                                   quick=(label, m) == ("kill9-parent", ("stored", 0.3))))
    cases += [ints.full_disk(192), ints.full_disk(640), ints.read_only()]
    f1 = ["--property", fx.prop["f3"], "--timeout", 60]
    rand, rc = fx.rand, fx.dir / "rand.npy"
    cases += [ints.ctrl_c("verify-cpsat", ["verify", rand, "--input", rc, *f1, "--method", "cpsat", "--certificate",
                                           "c.json"], 4.0, "c.json", quick=True),
              ints.ctrl_c("verify-auto-cpsat-stage", ["verify", rand, "--input", rc, "--property", fx.prop["f6"],
                                                      "--timeout", 60, "--certificate", "c.json"], 6.0, "c.json"),
              ints.ctrl_c("verify-smt", ["verify", rand, "--input", rc, *f1, "--method", "smt", "--certificate",
                                         "c.json"], 4.0, "c.json"),
              ints.ctrl_c("cost-worst-case", ["cost", rand, "--input", rc, "--profile", "loihi", "--worst-case",
                                              "spikes", "--region", "{flips: 6}", "--timeout", 60], 4.0)]
    return cases


# ----------------------------------------------------------------------------- main

def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / GIB, 1),
            "python": platform.python_version(), "platform": platform.platform()}


def commit() -> str:
    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    head = git("rev-parse", "--short=12", "HEAD") or "unknown"
    return head + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def parse_bytes(text: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    t = text.strip().lower().removesuffix("ib").removesuffix("b")
    return int(float(t[:-1]) * units[t[-1]]) if t and t[-1] in units else int(t)


def pool_map(fn, items, workers: int, progress: str) -> list:
    results = [None] * len(items)
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as ex:
        futures = {ex.submit(fn, item): i for i, item in enumerate(items)}
        for n, fut in enumerate(concurrent.futures.as_completed(futures), 1):
            results[futures[fut]] = fut.result()
            if progress and (n % 25 == 0 or n == len(items)):
                print(f"  {progress}: {n}/{len(items)}", file=sys.stderr, flush=True)
    return results


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a handful of cases per category (< 30 s)")
    p.add_argument("--categories", default="bad,resource,tamper,interrupt",
                   help="comma-separated of bad, resource, tamper, interrupt")
    p.add_argument("--workers", type=int, default=2, help="cases at once (at most 2; default 2)")
    p.add_argument("--timeout", type=float, default=None,
                   help="--timeout given to commands that take one (default 5; --quick 2)")
    p.add_argument("--memory-cap", default="6GiB", help="RLIMIT_AS of every case (default 6GiB)")
    p.add_argument("--json", type=Path, default=ROOT / "artifacts" / "hostile_inputs.json",
                   help="results file (default artifacts/hostile_inputs.json)")
    p.add_argument("--keep", type=Path, default=None, help="keep the case folders here")
    p.add_argument("--only", default=None, help="run only cases whose name contains this")
    args = p.parse_args(argv)
    categories = args.categories.split(",")
    if unknown := set(categories) - set(CATEGORIES):
        p.error(f"unknown categories {sorted(unknown)}")
    workers = max(1, min(args.workers, 2))
    timeout = args.timeout or (2.0 if args.quick else 5.0)
    random.seed(SEED)
    started = time.monotonic()
    info = {"machine": machine(), "commit": commit(), "quick": args.quick, "seed": SEED, "workers": workers,
            "timeout_s": timeout, "memory_cap": args.memory_cap}
    print(f"machine: {info['machine']['cpu']}, {info['machine']['cores']} cores, "
          f"{info['machine']['memory_gib']} GiB; Python {info['machine']['python']}; commit {info['commit']}; "
          f"{workers} workers, memory cap {args.memory_cap}, --timeout {timeout:g} s", flush=True)

    if args.keep is not None and args.keep.exists() and any(args.keep.iterdir()):
        p.error(f"--keep {args.keep}: the folder must be empty or absent")
    work = Path(tempfile.mkdtemp(prefix="verisnn-hostile-")) if args.keep is None else args.keep.resolve()
    work.mkdir(parents=True, exist_ok=True)
    (work / "outside").mkdir(exist_ok=True)
    (work / "logs").mkdir(exist_ok=True)
    runner = Runner(parse_bytes(args.memory_cap), work / "logs")
    records: list[dict] = []
    try:
        fx = Fixtures(work / "fixtures", args.quick)
        # -- setup: genuine certificates, a checkpoint, the baseline audits (in parallel)
        jobs = []
        if "tamper" in categories or "bad" in categories:
            for name, argv, cwd in genuine_setup(fx):
                jobs.append(("certificate " + name, argv, cwd))
        if "bad" in categories and not args.quick:
            jobs.append(("checkpoint", ["train", fx.train, "--out", fx.checkpoint.parent], fx.dir))
            jobs.append(("audit baseline", ["audit", fx.audit, "--out", fx.dir / "baseline-audit", "--workers", 1,
                                            "--no-progress"], fx.dir))
        ints = None
        if "interrupt" in categories:
            ints = Interrupts(fx, runner, interrupt_fixtures(fx.dir / "interrupt", args.quick))
            jobs.append(("interrupt baseline", ints.run_baseline, fx.dir / "interrupt-baseline"))

        def setup(job) -> dict:
            name, argv, cwd = job
            if callable(argv):
                return argv(cwd)
            run = runner.run(argv, cwd, 300)
            ok = run.exit == 0
            return {"category": "control", "name": f"setup.{name}", "group": "setup",
                    "command": "verisnn " + " ".join(run.argv), "exit": run.exit, "elapsed_s": run.elapsed_s,
                    "peak_rss_mib": run.peak_rss_mib, "passed": ok,
                    "why": "ok" if ok else f"setup failed: {run.stdout.strip()[:300]} {run.stderr[-300:]}"}
        jobs.sort(key=lambda job: not callable(job[1]))  # the long baseline audit first
        records += pool_map(setup, jobs, workers, "setup")

        # -- the cases
        cases: list[Case] = []
        if "bad" in categories:
            cases += bad_input_cases(fx)
        if "resource" in categories:
            cases += resource_cases(fx, timeout)
        if "tamper" in categories:
            cases += tamper_cases(fx, timeout)
            for name, *_ in GENUINE + [("by-file",)]:
                path = fx.dir / ("bundle/certificates/c.json" if name == "by-file" else f"certs/{name}.json")
                if path.exists():
                    cases.append(Case("control", f"genuine.{name}", ["check", path, "--timeout", 30], expect="valid",
                                      limit_s=60, group="genuine certificate"))
        if ints and ints.total:
            cases += interrupt_cases(ints, fx)
        if "bad" in categories and not args.quick:
            cases += slot_controls(fx)
        if args.quick:
            cases = quick_selection(cases)
        if args.only:
            cases = [c for c in cases if args.only in c.name]
        names = Counter((c.category, c.name) for c in cases)
        assert not [n for n, k in names.items() if k > 1], [n for n, k in names.items() if k > 1]
        for c in cases:  # watch paths relative to the case folder
            folder = work / "cases" / c.category / c.name
            c.watch = [w if Path(w).is_absolute() else folder / w for w in c.watch]
        # the slow ones first, so that the pool ends together
        order = {"interrupt": 0, "resource": 1, "control": 2, "tamper": 3, "bad": 4}
        cases.sort(key=lambda c: (order[c.category], -c.limit_s))
        fixtures = snapshot(fx.dir)
        records += pool_map(lambda c: execute(c, runner, work), cases, workers, "cases")
        changed = written_outside(fixtures, snapshot(fx.dir), ())
        if changed:
            records.append({"category": "control", "name": "fixtures-untouched", "group": "outside", "passed": False,
                            "why": f"wrote outside its output folder: the shared fixtures changed: {changed[:5]}",
                            "command": "", "exit": None, "elapsed_s": None, "peak_rss_mib": None})
        stray = [str(p.relative_to(work)) for p in (work / "outside").rglob("*")]
        if stray:
            records.append({"category": "control", "name": "nothing-outside", "group": "outside", "passed": False,
                            "why": f"files appeared outside every case folder: {stray[:5]}", "command": "",
                            "exit": None, "elapsed_s": None, "peak_rss_mib": None})
    finally:
        for line in Path("/proc/mounts").read_text().splitlines():  # nothing of ours stays mounted
            mount_point = line.split()[1]
            if mount_point.startswith(str(work)):
                subprocess.run(["umount", "-l", mount_point], capture_output=True)
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    info["wall_s"] = round(time.monotonic() - started, 1)
    info["figures"] = figures(records)
    info["cases"] = records
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(info, indent=1, default=str) + "\n")
    print_summary(info)
    print(f"\nresults: {args.json}  ({info['wall_s']:.0f} s)")
    return 0


def slot_controls(fx: Fixtures) -> list[Case]:
    """Each bad-input slot with its genuine file answers (exit 0): the cases test the file, not the
    other arguments."""
    t, x = fx.tiny, fx.x
    argv = {
        "simulate": ["simulate", t, "--input", x], "info": ["info", t],
        "verify": ["verify", t, "--input", x, "--property", fx.prop["f1"], "--timeout", 10],
        "verify-unbounded": ["verify", t, "--property", fx.prop["nf00"], "--timeout", 10],
        "verify-letters": ["verify", t, "--property", fx.prop["nf00"], "--letters", fx.alphabet, "--timeout", 10],
        "automaton": ["automaton", t, "--alphabet", fx.alphabet, "--out", "out/machine"],
        "cost": ["cost", t, "--input", x, "--profile", fx.profile, "--placement", fx.placement],
        "cost-worst-case": ["cost", t, "--input", x, "--profile", "loihi", "--worst-case", "spikes", "--property",
                            fx.prop["f1"], "--timeout", 10],
        "extract-tree": ["extract", "tree", t, "--data", fx.X, "--eval", fx.X, "--labels", fx.y, "--out", "out/tree",
                         "--timeout", 10],
        "extract-automaton": ["extract", "automaton", t, "--alphabet", fx.alphabet, "--out", "out/learn", "--timeout",
                              10],
        "export-nir": ["export-nir", t, "--dt", "1e-3", "--scale", 16, "--out", "out/g.nir", "--allow-lossy"],
        "import-nir": ["import-nir", fx.nir, "--dt", "1e-3", "--scale", 16, "--time-steps", 3, "--out",
                       "out/m.snn.json"],
        "quantize": ["quantize", fx.checkpoint, "--out", "out/m.snn.json", "--data", fx.data],
    }
    return [Case("control", f"slot.{name}", a, expect="answer", limit_s=TORCH_LIMIT_S * 2, group="slot control")
            for name, a in argv.items()]


QUICK = {"bad": ("info.MODEL.missing", "info.MODEL.truncated", "simulate.INPUT.pickled",
                 "verify.PROPERTY.billion-laughs", "check.CERT.malformed", "automaton.ALPHABET.invalid-utf8",
                 "args.verify-solver-bogus-smt", "args.verify-timeout-negative", "import-nir.not-hdf5",
                 "model-value.info.time_steps-0", "verify.PROPERTY.deep-nesting")}


def quick_selection(cases: list[Case]) -> list[Case]:
    keep = []
    for c in cases:
        if c.category == "bad" and c.name in QUICK["bad"]:
            keep.append(c)
        elif c.category in ("resource", "tamper", "interrupt") and c.quick:
            keep.append(c)
        elif c.category == "control" and c.name.startswith("genuine."):
            keep.append(c)
    return keep


def figures(records: list[dict]) -> dict:
    out = {}
    for cat, label in CATEGORIES.items():
        rs = [r for r in records if r["category"] == cat and r.get("passed") is not None]
        out[cat] = {"label": label, "tried": len(rs), "passed": sum(1 for r in rs if r["passed"]),
                    "failed": sum(1 for r in rs if not r["passed"]),
                    "skipped": sum(1 for r in records if r["category"] == cat and r.get("passed") is None)}
        rss = [r["peak_rss_mib"] for r in rs if r.get("peak_rss_mib")]
        out[cat]["max_peak_rss_mib"] = max(rss) if rss else None
        if cat == "interrupt":
            out[cat]["results_lost"] = sum(r.get("results_lost", 0) or 0 for r in rs)
    controls = [r for r in records if r["category"] == "control"]
    out["control"] = {"tried": len(controls), "passed": sum(1 for r in controls if r["passed"])}
    return out


def print_summary(info: dict) -> None:
    f = info["figures"]
    m = info["machine"]
    print(f"\nmachine: {m['cpu']} ({m['cores']} cores, {m['memory_gib']} GiB), Python {m['python']}, "
          f"commit {info['commit']}, {info['workers']} workers, memory cap {info['memory_cap']}, "
          f"--timeout {info['timeout_s']:g} s{' (quick)' if info['quick'] else ''}\n")
    print("| category | tried | passed | failed | figure |")
    print("|---|---|---|---|---|")
    words = {"bad": "clear errors", "resource": "bounded", "tamper": "rejected", "interrupt": "survived"}
    for cat in CATEGORIES:
        d = f[cat]
        if not d["tried"] and not d["skipped"]:
            continue
        extra = f", {d['results_lost']} results lost" if cat == "interrupt" else ""
        rss = f", max peak RSS {d['max_peak_rss_mib']:.0f} MiB" if d.get("max_peak_rss_mib") else ""
        skipped = f", {d['skipped']} skipped" if d["skipped"] else ""
        print(f"| {d['label']} | {d['tried']} | {d['passed']} | {d['failed']} | "
              f"{d['passed']} of {d['tried']} {words[cat]}{extra}{rss}{skipped} |")
    print(f"| controls (genuine files, set-up) | {f['control']['tried']} | {f['control']['passed']} | "
          f"{f['control']['tried'] - f['control']['passed']} | must all pass |")
    failures = [r for r in info["cases"] if r.get("passed") is False]
    if not failures:
        print("\nno failures")
        return
    print(f"\nfailures ({len(failures)}), by category and cause:")
    for cat in list(CATEGORIES) + ["control"]:
        rs = [r for r in failures if r["category"] == cat]
        if not rs:
            continue
        causes = Counter(cause_of(r["why"]) for r in rs)
        print(f"\n{CATEGORIES.get(cat, 'controls')}: " + ", ".join(f"{k} x{n}" for k, n in causes.most_common()))
        for r in sorted(rs, key=lambda r: (cause_of(r["why"]), r["name"])):
            rss = f", {r['peak_rss_mib']:.0f} MiB" if r.get("peak_rss_mib") else ""
            el = f"{r['elapsed_s']:.1f} s" if r.get("elapsed_s") is not None else ""
            print(f"  [{cause_of(r['why'])}] {r['name']} ({el}{rss}): {r['why'][:220]}")


def cause_of(why: str) -> str:
    w = why.lower()
    for key, label in (("wrote outside", "wrote outside its folder"), ("wrote ", "wrote a file"),
                       ("valid: the tampered", "accepted as valid"), ("hang", "hang"),
                       ("no answer within", "over the time limit"), ("past the stated slack", "past --timeout"),
                       ("answered after", "over the time limit"),
                       ("traceback", "traceback"), ("exit 1", "exit 1 (internal error)"),
                       ("killed by signal", "killed (memory cap?)"), ("exit 0: accepted", "exit 0 on bad input"),
                       ("message of", "message too long"), ("lost", "results lost"),
                       ("differ", "answers differ"), ("claim", "claims a timeout"), ("not 130", "wrong exit status"),
                       ("exit 0 after", "wrong exit status"), ("not a clear error", "unclear error"),
                       ("does not name", "unclear error"), ("does not say", "unclear error"),
                       ("before the interrupt", "not exercised"), ("re-run failed", "re-run failed"),
                       ("outlived", "orphans"), ("refuses to load", "unloadable output"),
                       ("benchmark's case broke", "benchmark bug"), ("setup failed", "setup failed"),
                       ("not valid:", "genuine not valid"), ("genuine certificate is not valid", "genuine not valid")):
        if key in w:
            return label
    return "other"


if __name__ == "__main__":
    raise SystemExit(main())
