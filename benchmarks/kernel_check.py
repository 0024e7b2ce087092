"""What re-validating by the trusted kernel costs, side by side with re-running the engine.

Before issue 15 the checker re-validated ``enumerate``, ``bab`` and ``bounds`` certificates
by re-running the engine's own method; now the kernel (``verisnn/kernel/``) re-derives them
with its own simulator, regions and arguments. For every certificate of an audit bundle this
times, in one process and one after the other:

* ``kernel``: ``check_certificate(path)`` (the whole check: schema, model, kernel);
* ``engine re-run``: ``verify(model, centre, property, method=<the evidence's method>)``,
  what the engine-based check did at its core;
* the producing time recorded in the certificate.

    .venv/bin/python benchmarks/kernel_check.py artifacts/digits/audit [--limit N]

Prints one row per evidence kind (medians) and the overall median of check / produce.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from verisnn.checker import check_certificate
from verisnn.model_format import load_model
from verisnn.properties import parse_property
from verisnn.verify import verify

RERUN = {"enumerate": "enumerate", "bab": "bab", "bounds": "bounds"}  # the methods the old check re-ran


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bundle", type=Path, help="an audit folder (its certificates/ and models/)")
    ap.add_argument("--limit", type=int, default=None, help="at most this many certificates")
    args = ap.parse_args()
    files = sorted((args.bundle / "certificates").glob("*.json"))[: args.limit]
    rows = defaultdict(list)
    models = {}
    for path in files:
        doc = json.loads(path.read_text())
        kind = doc["evidence"]["kind"]
        t0 = time.perf_counter()
        report = check_certificate(path)
        kernel_s = time.perf_counter() - t0
        engine_s = None
        if kind in RERUN and doc["verdict"] == "verified":
            sha = doc["model"]["sha256"]
            if sha not in models:
                models[sha] = load_model(args.bundle / "models" / f"{sha}.snn.json")
            centre = np.asarray(doc["centre"]["raster"], dtype=np.int8)
            t0 = time.perf_counter()
            verify(models[sha], centre, parse_property(doc["property"]), method=RERUN[kind])
            engine_s = time.perf_counter() - t0
        rows[(doc["verdict"], kind)].append((doc["timings"]["time_s"], kernel_s, engine_s, report.valid,
                                            report.trust))
    print(f"{len(files)} certificates of {args.bundle}")
    print("| verdict, evidence | n | valid (trust) | median produce s | median kernel check s | "
          "median engine re-run s | kernel / engine re-run |")
    print("|---|---|---|---|---|---|---|")
    ratios = []
    for (verdict, kind), got in sorted(rows.items()):
        produce = statistics.median(r[0] for r in got)
        kernel = statistics.median(r[1] for r in got)
        engine = [r[2] for r in got if r[2] is not None]
        trusts = sorted({str(r[4]) for r in got if r[3]})
        ratios += [r[1] / r[0] for r in got if r[0] > 0]
        e = statistics.median(engine) if engine else None
        print(f"| {verdict}, `{kind}` | {len(got)} | {sum(r[3] for r in got)} ({', '.join(trusts)}) | {produce:.3f} | "
              f"{kernel:.3f} | {'—' if e is None else f'{e:.3f}'} | {'—' if e is None else f'{kernel / e:.2f}'} |")
    print(f"median check / produce over all certificates: {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
