"""SMT backends side by side: pysmt or native z3 terms, linear integer arithmetic or bit-vectors.

The same robustness queries (``flips: 1`` and ``flips: 2``), under the same per-query timeout,
through :func:`verisnn.encodings.smt.smt_verify` with each (solver, logic) pair:

* ``pysmt-LIA`` (``solver="z3", logic="lia"``, the default), ``pysmt-BV`` (``logic="bv"``),
* ``native-LIA`` / ``native-BV`` (``solver="z3-native"``: z3 terms built directly),
* optionally ``cvc5-LIA`` / ``cvc5-BV`` (cvc5 through pysmt; ``--backends`` to add them).

on two models: the digits case study (``artifacts/digits``, built first if missing) and a
smaller random LIF network where the queries finish. Reported per (model, query, backend):
the share decided (verified or falsified), the verdict counts, the median wall time of a
whole query, and the median CPU time to build the query's terms (``build``) and until the
solver holds the query (``ready``: for pysmt that adds translating its terms into z3's or
cvc5's; native terms are z3's already). Decided answers of different backends on the same input
must agree; any disagreement is printed.

    .venv/bin/python benchmarks/smt_backends.py [--inputs 6] [--timeout 10] [--models digits,random]
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import z3

from verisnn import load_model, simulate
from verisnn.encodings.smt import NATIVE_Z3, Z3Factory, encode, smt_verify, using
from verisnn.model import Dense, InputSpec, Model, Neuron, Readout
from verisnn.properties import Flips, Property, Robust

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = {"pysmt-LIA": ("z3", "lia"), "pysmt-BV": ("z3", "bv"), "native-LIA": (NATIVE_Z3, "lia"),
            "native-BV": (NATIVE_Z3, "bv"), "cvc5-LIA": ("cvc5", "lia"), "cvc5-BV": ("cvc5", "bv")}
DEFAULT_BACKENDS = "pysmt-LIA,pysmt-BV,native-LIA,native-BV"


def digits() -> tuple[Model, np.ndarray]:
    out = ROOT / "artifacts" / "digits"
    if not (out / "digits-lif.snn.json").exists() or not (out / "test_inputs.npy").exists():
        subprocess.run([sys.executable, str(ROOT / "case_studies" / "digits" / "build.py")], check=True, cwd=ROOT)
    return load_model(out / "digits-lif.snn.json"), np.load(out / "test_inputs.npy", allow_pickle=False)


def random_model(seed: int = 0, inputs: int = 40) -> tuple[Model, np.ndarray]:
    """A small leaky network (T=8, 16 -> 12 -> 4 LIF, leak 3/4 with floor, 12-bit membranes)
    and random input rasters of density 0.3 whose centres have a decision."""
    rng = np.random.default_rng(seed)
    hidden = Neuron(12, "lif", threshold=6, v_decay=(3, 2), v_bits=12)
    out = Neuron(4, "lif", threshold=6, v_decay=(3, 2), v_bits=12)
    model = Model(time_steps=8, input=InputSpec(16),
                  layers=(Dense(rng.integers(-4, 5, (12, 16)), hidden), Dense(rng.integers(-4, 5, (4, 12)), out)),
                  readout=Readout("spike_count"), name="random-lif")
    rasters = (rng.random((inputs * 4, 8, 16)) < 0.3).astype(np.int8)
    decided = simulate(model, rasters).prediction >= 0
    return model, rasters[decided][:inputs]


def build_times(model, x, prop, solver: str, logic: str) -> tuple[float, float]:
    """CPU seconds to build the query's terms, and until the solver holds the query (for
    pysmt that includes translating its terms into the solver's; native terms are z3's
    already). CPU time, not wall time: this work is deterministic, and on a shared machine
    wall time mostly measures the neighbours."""
    start = time.process_time()
    enc = encode(model, x, prop, logic=logic, solver=solver)
    built = time.process_time() - start
    if isinstance(enc.factory, Z3Factory):
        z3.SolverFor(enc.logic, ctx=enc.factory.ctx).add(enc.factory.expr(enc.formula))
    else:
        with using(enc.env):
            s = enc.env.factory.Solver(name=solver, logic=enc.logic)
            s.add_assertion(enc.formula)
            s.exit()
    return built, time.process_time() - start


def run(args) -> list[dict]:
    rows = []
    studies = {"digits": digits, "random": random_model}
    for study in args.models:
        model, inputs = studies[study]()
        inputs = inputs[: args.inputs]
        for k in args.ks:
            prop = Property(Flips(k), Robust())
            label = f"flips:{k} robust"
            runs = {name: {"time": [], "build": [], "ready": [], "verdict": []} for name in args.backends}
            # input by input, every backend in turn: a shared machine's load changes over minutes
            for i, x in enumerate(inputs):
                for name in args.backends:
                    solver, logic = BACKENDS[name]
                    built, ready = build_times(model, x, prop, solver, logic)
                    start = time.perf_counter()
                    result = smt_verify(model, x, prop, solver=solver, logic=logic, timeout=args.timeout)
                    r = runs[name]
                    r["time"].append(time.perf_counter() - start)
                    r["build"].append(built)
                    r["ready"].append(ready)
                    r["verdict"].append(result.verdict)
                answers = {n: r["verdict"][i] for n, r in runs.items() if r["verdict"][i] in ("verified", "falsified")}
                if len(set(answers.values())) > 1:
                    print(f"DISAGREEMENT on {study} input {i}, {label}: {answers}", flush=True)
            for name, r in runs.items():
                vs = r["verdict"]
                counts = {v: vs.count(v) for v in ("verified", "falsified", "unknown", "error")}
                decided = (counts["verified"] + counts["falsified"]) / len(vs)
                row = {"model": study, "query": label, "backend": name, "decided": decided, **counts,
                       **{f"median_{key}_s": float(np.median(r[key])) for key in ("time", "build", "ready")}}
                rows.append(row)
                print(f"| {study} | {label} | {name} | {decided:.0%} | {counts['verified']} | {counts['falsified']} "
                      f"| {counts['unknown']} | {counts['error']} | {row['median_time_s']:.2f} | "
                      f"{row['median_build_s']:.2f} | {row['median_ready_s']:.2f} |", flush=True)
    return rows


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--inputs", type=int, default=6, help="inputs per model (default 6)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per query (default 10)")
    p.add_argument("--models", default="random,digits", help="comma-separated: random, digits")
    p.add_argument("--ks", default="1,2", help="flips radii (default 1,2)")
    p.add_argument("--backends", default=DEFAULT_BACKENDS, help=f"comma-separated of {', '.join(BACKENDS)}")
    args = p.parse_args(argv)
    args.models = args.models.split(",")
    args.ks = [int(k) for k in args.ks.split(",")]
    args.backends = args.backends.split(",")
    unknown = [b for b in args.backends if b not in BACKENDS]
    if unknown:
        p.error(f"unknown backends {unknown}; choose from {', '.join(BACKENDS)}")
    print(f"python {platform.python_version()}, z3 {z3.get_version_string()}, {args.inputs} inputs per model, "
          f"timeout {args.timeout} s per query\n")
    print("| model | query | backend | decided | verified | falsified | unknown | error | median s | "
          "median build CPU s | median ready CPU s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    run(args)


if __name__ == "__main__":
    main()
