"""How ``auto`` walks a region exhaustively: priced choice versus always the tree versus
always enumeration, side by side on the built case studies.

For each study and region (robustness, the first ``--inputs`` test inputs), three ways to
reach the same verdicts: ``auto`` as it is (one batch: enumeration; else two small batches
price the enumeration, cheap ones are enumerated, others get the step-by-step tree for half
as long as enumerating would take, then enumeration), ``auto`` made to take the tree
(``_price_enumeration`` patched to price every enumeration at infinity: what ``auto`` did
before the pricing) and plain ``enumerate``. Total seconds per row; the verdicts must agree.

    .venv/bin/python benchmarks/auto_walk.py [--studies digits,ecg,mnist] [--inputs 6] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path

import numpy as np

import verisnn.verify as engine
from verisnn import load_model
from verisnn.properties import parse_property

ROOT = Path(__file__).resolve().parents[1]
STUDIES = {"digits": "digits/digits-lif.snn.json", "ecg": "ecg/ecg-delta-lif.snn.json",
           "mnist": "mnist/mnist-lif.snn.json"}
REGIONS = {"digits": [{"flips": 1}, {"flips": 2}, {"deletions": 2}],
           "ecg": [{"flips": 1}, {"flips": 2}, {"deletions": 2}],
           "mnist": [{"flips": 1}]}


def timed(model, centres, prop, **kw) -> tuple[float, str]:
    t = time.perf_counter()
    verdicts = "".join(engine.verify(model, c, prop, timeout=120, **kw).verdict[0] for c in centres)
    return time.perf_counter() - t, verdicts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--studies", default="digits,ecg,mnist")
    ap.add_argument("--inputs", type=int, default=6)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = []
    priced = engine._price_enumeration
    for study in args.studies.split(","):
        model = load_model(ROOT / "artifacts" / STUDIES[study])
        centres = np.load(ROOT / "artifacts" / study / "test_inputs.npy")[: args.inputs]
        for region in REGIONS[study]:
            prop = parse_property({"region": region, "condition": "robust"})
            auto_s, auto_v = timed(model, centres, prop, method="auto")
            engine._price_enumeration = lambda *a: (None, math.inf)  # the tree, as before the pricing
            try:
                tree_s, tree_v = timed(model, centres, prop, method="auto", batch=1)
            finally:
                engine._price_enumeration = priced
            enum_s, enum_v = timed(model, centres, prop, method="enumerate")
            row = {"study": study, "region": region, "inputs": len(centres), "auto_s": round(auto_s, 2),
                   "auto_tree_s": round(tree_s, 2), "enumerate_s": round(enum_s, 2),
                   "verdicts_agree": auto_v == tree_v == enum_v, "verdicts": auto_v}
            rows.append(row)
            if not args.json:
                print(f"{study:7} {json.dumps(region):16} auto {auto_s:6.2f} s   auto via the tree {tree_s:6.2f} s"
                      f"   enumerate {enum_s:6.2f} s   verdicts {auto_v} agree: {row['verdicts_agree']}", flush=True)
    if args.json:
        print(json.dumps({"python": platform.python_version(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
