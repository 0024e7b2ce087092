"""Faithfulness of the three saliency methods on the digits model, against a random order.

The first ``--inputs`` test inputs of ``artifacts/digits`` (the case study is built
first if the folder is missing); for each method, each input with a decision is
explained for its decided class, and scored by its deletion and insertion curves over
every input spike (``--steps``: fewer points) against ``--seeds`` random orders
(:func:`verisnn.extractors.saliency.faithfulness`). Methods: surrogate-gradient
(gradient x input), spike deletion, SAM of the first layer (the dense adaptation) and
SAM of the input layer. Printed: mean score AUCs (deletion: lower is better; insertion:
higher is better), the decision AUCs (the share of the curve where the decision is
still the class), the random baseline, and the mean time to compute one saliency.

    .venv/bin/python benchmarks/saliency.py [--inputs 48] [--seeds 5] [--steps N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from verisnn import load_model
from verisnn.extractors.saliency import faithfulness

ROOT = Path(__file__).resolve().parents[1]
RUNS = (("gradient", "gradient", {}), ("deletion", "deletion", {}),
        ("sam (first layer)", "sam", {"layer": "first"}), ("sam (input layer)", "sam", {"layer": "input"}))


def digits():
    out = ROOT / "artifacts" / "digits"
    if not (out / "digits-lif.snn.json").exists():
        from verisnn.pipeline import build_case_study

        build_case_study(ROOT / "case_studies" / "digits" / "config.yaml", out, progress=False)
    return load_model(out / "digits-lif.snn.json"), np.load(out / "test_inputs.npy")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--inputs", type=int, default=48)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    model, inputs = digits()
    xs = inputs[: args.inputs]
    faithfulness(model, xs[:1], "gradient", seeds=1)  # import torch once, outside the timings
    rows = []
    for name, method, options in RUNS:
        start = time.perf_counter()
        report = faithfulness(model, xs, method, steps=args.steps, seeds=args.seeds, **options)
        report["name"] = name
        report["wall_s"] = time.perf_counter() - start
        rows.append(report)
    machine = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical cores, "
               f"{platform.system()} {platform.release()}, Python {platform.python_version()}")
    if args.json:
        print(json.dumps({"machine": machine, "inputs": len(xs), "rows": rows}, indent=1))
        return
    r0 = rows[0]
    print(f"digits-lif, {len(xs)} test inputs ({r0['explained']} with a decision), {args.seeds} random orders, "
          f"{'every spike' if args.steps is None else f'{args.steps} steps'}; {machine}\n")
    head = ("method", "AUC del", "AUC ins", "dec. AUC del", "dec. AUC ins", "saliency s/raster", "total s")
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for r in rows:
        print(f"| {r['name']} | {r['auc_deletion']:.3f} | {r['auc_insertion']:.3f} | "
              f"{r['decision_auc_deletion']:.3f} | {r['decision_auc_insertion']:.3f} | "
              f"{r['saliency_time_s']:.4f} | {r['wall_s']:.1f} |")
    print(f"| random order (mean of {args.seeds}) | {r0['random_auc_deletion']:.3f} | "
          f"{r0['random_auc_insertion']:.3f} | {r0['random_decision_auc_deletion']:.3f} | "
          f"{r0['random_decision_auc_insertion']:.3f} | - | - |")


if __name__ == "__main__":
    main()
