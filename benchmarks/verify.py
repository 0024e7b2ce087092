"""Verification benchmark: robustness and latency queries on the case studies.

For each case study (building it first if ``artifacts/NAME`` is missing), the first
``--inputs`` test inputs, robustness under ``flips`` k (digits: 1-4, mnist: 1-2) and a
``decided_by`` latency query (``--latency-k`` steps under ``flips: 1``), every available
method side by side in one run under the same per-query timeout. Reported per
(study, query, method): the share decided (verified or falsified), the verdict counts,
and the median and 95th-percentile wall time per query.

    .venv/bin/python benchmarks/verify.py [--inputs 40] [--timeout 30] [--timeout-mnist 60]
        [--methods auto,bab,enumerate,smt,cpsat] [--baseline-inputs 40]

``--baseline-inputs`` caps the inputs for every method but ``auto`` (the monolithic
solvers spend the whole timeout on most queries, so a full run of them takes hours).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from verisnn import load_model
from verisnn.pipeline import build_case_study
from verisnn.properties import DecidedBy, Flips, Property, Robust
from verisnn.verify import METHODS, verify

ROOT = Path(__file__).resolve().parents[1]
QUERIES = {"digits": [1, 2, 3, 4], "mnist": [1, 2]}


def case_study(name: str):
    out = ROOT / "artifacts" / name
    summary = out / "summary.json"
    if not summary.exists():
        build_case_study(ROOT / "case_studies" / name / "config.yaml", out, progress=False)
    model_path = json.loads(summary.read_text())["quantization"]["model"]
    return load_model(model_path), np.load(out / "test_inputs.npy", allow_pickle=False)


def run(args) -> list[dict]:
    rows = []
    for study in args.studies:
        model, inputs = case_study(study)
        ks = [k for k in QUERIES[study] if args.flips is None or k in args.flips]
        queries = [(f"flips:{k} robust", Property(Flips(k), Robust())) for k in ks]
        if not args.no_latency:
            queries.append((f"flips:1 decided_by:{args.latency_k}", Property(Flips(1), DecidedBy(args.latency_k))))
        for label, prop in queries:
            for method in args.methods:
                times, verdicts = [], []
                count = args.inputs if method == "auto" else min(args.inputs, args.baseline_inputs)
                timeout = args.timeout_mnist if study == "mnist" else args.timeout
                for x in inputs[:count]:
                    start = time.perf_counter()
                    result = verify(model, x, prop, method=method, timeout=timeout)
                    times.append(time.perf_counter() - start)
                    verdicts.append(result.verdict)
                counts = {v: verdicts.count(v) for v in ("verified", "falsified", "unknown", "error")}
                decided = (counts["verified"] + counts["falsified"]) / len(verdicts)
                rows.append({"study": study, "query": label, "method": method, "inputs": count, "timeout_s": timeout,
                             "decided": decided, **counts,
                             "median_s": float(np.median(times)), "p95_s": float(np.percentile(times, 95))})
                print(f"| {study} | {label} | {method} | {count} | {timeout:g} | {decided:.0%} | {counts['verified']} | "
                      f"{counts['falsified']} | {counts['unknown']} | {counts['error']} | "
                      f"{rows[-1]['median_s']:.3f} | {rows[-1]['p95_s']:.3f} |", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", default="digits,mnist", type=lambda s: s.split(","))
    parser.add_argument("--inputs", type=int, default=40)
    parser.add_argument("--timeout", type=float, default=30.0, help="per-query timeout in seconds (digits)")
    parser.add_argument("--timeout-mnist", type=float, default=60.0, help="per-query timeout in seconds (mnist)")
    parser.add_argument("--baseline-inputs", type=int, default=40, help="inputs for every method but auto")
    parser.add_argument("--methods", default=",".join(m for m in METHODS if m != "bounds"),
                        type=lambda s: s.split(","))
    parser.add_argument("--latency-k", type=int, default=6)
    parser.add_argument("--flips", default=None, type=lambda s: [int(k) for k in s.split(",")],
                        help="only these flips budgets (default: all of the study's)")
    parser.add_argument("--no-latency", action="store_true", help="skip the decided_by query")
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = parser.parse_args()
    print(f"{args.inputs} test inputs per query (other methods: {args.baseline_inputs}), timeout {args.timeout:g} s "
          f"per query (mnist {args.timeout_mnist:g} s); "
          f"{platform.processor() or platform.machine()}, Python {platform.python_version()}\n")
    print("| study | query | method | inputs | timeout s | decided | verified | falsified | unknown | error "
          "| median s | p95 s |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    rows = run(args)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
