"""Per-inference hardware costs and certified worst cases on every case study, measured.

For each case study (digits, iris, mnist, ecg, robot, tomita), in one run on one machine:

1. **Per-inference cost** of its inputs on a profile (:func:`verisnn.hardware.cost`, one
   batched call): mean and maximum latency (µs), energy (µJ), spikes and synops, and the
   pricing throughput (rasters per second, simulation included).
2. **Worst case over ``flips: k``** around the first input, latency and energy, by
   enumeration of the region (certified when it finishes) side by side with CP-SAT's
   maximisation under ``--timeout`` (certified ``optimal`` or a ``[lower, upper]`` bracket).
3. **Worst case over every input** (``region: any``) with CP-SAT, where the model is small
   enough to hope for a proof (iris, robot, tomita, ecg).

Inputs: the test inputs each build writes (digits, iris, mnist, ecg); for the robot,
Bernoulli(0.25) rasters (numpy seed 0) — it has no dataset; for Tomita, the rasters of
random 8-letter words over the case study's alphabet (numpy seed 0), run by a copy of the
grammar-1 network with ``time_steps`` = 8 letters.

Missing case studies are built first (their build scripts, fixed seeds).

    .venv/bin/python benchmarks/hardware.py [--cases digits,iris,...] [--profile loihi]
        [--timeout 30] [--flips 1] [--inputs 200] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from verisnn import load_model
from verisnn.automaton import load_alphabet, word_raster
from verisnn.hardware import cost
from verisnn.properties import AnyInput, Flips
from verisnn.worst_case import worst_case

ROOT = Path(__file__).resolve().parents[1]
ART = ROOT / "artifacts"

# name -> (model file under artifacts/, build command), the inputs are chosen in `inputs_of`
CASES = {
    "digits": ("digits/digits-lif.snn.json", ["case_studies/digits/build.py", "--out", "artifacts/digits"]),
    "iris": ("iris/iris-lif.snn.json", ["case_studies/iris/build.py", "--out", "artifacts/iris"]),
    "mnist": ("mnist/mnist-lif.snn.json", ["case_studies/mnist/build.py", "--out", "artifacts/mnist"]),
    "ecg": ("ecg/ecg-delta-lif.snn.json", ["case_studies/ecg/build.py", "--out", "artifacts/ecg"]),
    "robot": ("robot/robot-safe.snn.json", ["case_studies/robot/build.py", "--out", "artifacts/robot"]),
    "tomita": ("tomita/T1/tomita1.snn.json", ["case_studies/tomita/build.py", "--out", "artifacts/tomita",
                                               "--grammars", "1"]),
}
ANY_REGION = ("iris", "robot", "tomita", "ecg")  # small enough to try a proof over every input
TOMITA_LETTERS = 8


def ensure_built(name: str) -> Path:
    path, build = CASES[name]
    model = ART / path
    if not model.exists():
        print(f"[{name}] building: {' '.join(build)}", flush=True)
        subprocess.run([sys.executable, *build], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return model


def inputs_of(name: str, model, count: int):
    """The case study's inputs (and the model that runs them: Tomita runs whole words)."""
    rng = np.random.default_rng(0)
    if name == "robot":
        return model, (rng.random((count, model.time_steps, model.input.size)) < 0.25).astype(np.int8)
    if name == "tomita":
        alphabet = load_alphabet(ART / "tomita" / "alphabet.json")
        letters = [rng.integers(0, len(alphabet.names), TOMITA_LETTERS) for _ in range(count)]
        rasters = np.stack([word_raster(alphabet, [int(i) for i in w]) for w in letters]).astype(np.int8)
        return dataclasses.replace(model, time_steps=rasters.shape[1]), rasters
    folder = ART / CASES[name][0].split("/")[0]
    return model, np.load(folder / "test_inputs.npy", allow_pickle=False)[:count].astype(np.int8)


def _worst(model, centre, region, quantity, profile, method, timeout):
    w = worst_case(model, centre, region, quantity, profile, timeout=timeout, method=method,
                   max_region=10**9)  # the timeout ends an enumeration
    return {"status": w.status, "value": w.value, "bound": w.bound, "time_s": round(w.time_s, 2),
            "rasters": w.details.get("rasters_checked")}


def measure(name: str, profile: str, count: int, flips: int, timeout: float) -> dict:
    model, x = inputs_of(name, load_model(ensure_built(name)), count)
    t0 = time.perf_counter()
    report = cost(model, x, profile)
    elapsed = time.perf_counter() - t0
    lat, en = np.array(report.latency_us, dtype=float), np.array(report.energy_uj, dtype=float)
    row = {"case": name, "shape": [model.input.size] + [l.neuron.size for l in model.layers],
           "time_steps": model.time_steps, "inputs": len(x), "profile": profile,
           "latency_us": {"mean": float(lat.mean()), "max": float(lat.max())},
           "energy_uj": {"mean": float(en.mean()), "max": float(en.max())},
           "spikes_mean": float(np.mean(report.spikes)), "synops_mean": float(np.mean(report.synops)),
           "rasters_per_s": round(len(x) / elapsed, 1)}
    region = Flips(flips)
    for quantity in ("latency_us", "energy_uj"):
        row[f"{quantity}_flips{flips}"] = {
            method: _worst(model, x[0], region, quantity, profile, method, timeout)
            for method in ("enumerate", "cpsat")}
        row[f"{quantity}_flips{flips}"]["centre"] = float(np.atleast_1d(getattr(report, quantity))[0])
        if name in ANY_REGION:
            row[f"{quantity}_any"] = _worst(model, x[0], AnyInput(), quantity, profile, "cpsat", timeout)
    print(json.dumps(row), flush=True)
    return row


def _cell(w: dict) -> str:
    if w["status"] == "optimal":
        return f"{w['value']:.4g} optimal, {w['time_s']} s"
    if w["status"] == "feasible" and w["bound"] is not None:
        return f"[{w['value']:.4g}, {w['bound']:.4g}] {w['time_s']} s"
    return f"≥ {w['value']:.4g} ({w['status']}) {w['time_s']} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--profile", default="loihi")
    parser.add_argument("--inputs", type=int, default=200, help="inputs priced per case study")
    parser.add_argument("--flips", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=30.0, help="CP-SAT and enumeration limit per query")
    parser.add_argument("--json", default=None, metavar="OUT.json")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.cases.split(",") if n.strip()]
    unknown = sorted(set(names) - set(CASES))
    if unknown:
        parser.error(f"unknown case studies {unknown}; choose from {sorted(CASES)}")
    machine = {"python": platform.python_version(), "cpus": os.cpu_count(), "machine": platform.machine()}
    rows = [measure(n, args.profile, args.inputs, args.flips, args.timeout) for n in names]
    f = args.flips
    print(f"\nmachine: {machine}; profile {args.profile}; limit {args.timeout} s per query\n")
    print(f"| case | shape, T | latency µs mean / max | energy µJ mean / max | rasters/s | "
          f"latency flips:{f} enumerate | CP-SAT | energy flips:{f} enumerate | CP-SAT | latency any | energy any |")
    print("|---" * 11 + "|")
    for r in rows:
        any_l = _cell(r["latency_us_any"]) if "latency_us_any" in r else "—"
        any_e = _cell(r["energy_uj_any"]) if "energy_uj_any" in r else "—"
        lf, ef = r[f"latency_us_flips{f}"], r[f"energy_uj_flips{f}"]
        print(f"| {r['case']} | {'-'.join(map(str, r['shape']))}, {r['time_steps']} | "
              f"{r['latency_us']['mean']:.4g} / {r['latency_us']['max']:.4g} | "
              f"{r['energy_uj']['mean']:.4g} / {r['energy_uj']['max']:.4g} | {r['rasters_per_s']} | "
              f"{_cell(lf['enumerate'])} | {_cell(lf['cpsat'])} | {_cell(ef['enumerate'])} | {_cell(ef['cpsat'])} | "
              f"{any_l} | {any_e} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
