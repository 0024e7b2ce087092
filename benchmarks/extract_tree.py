"""Decision-tree rules on the digits case study: fidelity, rule count and fit time.

Settings (each a :func:`verisnn.extractors.tree.run_tree_extraction` call, seed 0, at most
``--max-rules`` rules, fidelity on ``--n-eval`` held-out draws with a 95% Clopper-Pearson
interval):

* ``local``: the distribution is "a digits TEST input (uniform), then up to 1 bit flip";
  rules are fitted on all 360 test inputs plus ``--n-samples`` draws, and judged on fresh,
  independent draws from the same distribution (``split="draws"``) — the network's
  behaviour around these 360 inputs, not on new digits.
* ``new-digits``: rules fitted on 70% of the TRAINING split's rasters (rebuilt with
  ``verisnn.datasets`` + the model's own encoder) plus draws, judged on draws around the
  other 30% (``split="rasters"``) and on the 360 test inputs as given (``eval_fidelity``):
  generalisation to digits the rules never saw.

Each with input features only (``counts``, ``counts+first_spike``) and with hidden-neuron
counts (``counts+first_spike+hidden``), count windows ``--windows``, the folded default on.

    .venv/bin/python benchmarks/extract_tree.py [--max-rules 40] [--n-samples 20000]
        [--n-eval 20000] [--windows 2] [--settings local,new-digits] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from verisnn import load_model
from verisnn.datasets import load_dataset
from verisnn.encoders import encoder_from_spec
from verisnn.extractors.tree import run_tree_extraction

ROOT = Path(__file__).resolve().parents[1]
FEATURES = ("counts", "counts+first_spike", "counts+first_spike+hidden")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--max-rules", type=int, default=40)
    ap.add_argument("--n-samples", type=int, default=20000)
    ap.add_argument("--n-eval", type=int, default=20000)
    ap.add_argument("--windows", type=int, default=2)
    ap.add_argument("--settings", default="local,new-digits")
    ap.add_argument("--features", default=",".join(FEATURES))
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    art = ROOT / "artifacts" / "digits"
    model = load_model(art / "digits-lif.snn.json")
    x_test = np.load(art / "test_inputs.npy", allow_pickle=False)
    y_test = np.load(art / "test_labels.npy", allow_pickle=False)
    data = load_dataset("digits", seed=0)
    x_train = encoder_from_spec(model.input.encoding).encode(data.x_train).astype(np.int8)
    rows = []
    for setting in args.settings.split(","):
        for features in args.features.split(","):
            common = dict(max_rules=args.max_rules, features=features, windows=args.windows, seed=0,
                          n_samples=args.n_samples, n_eval=args.n_eval, fold_default=True)
            t0 = time.perf_counter()
            if setting == "local":
                r = run_tree_extraction(model, x_test, y_test, split="draws", data_name="digits test inputs",
                                        **common)
            else:
                r = run_tree_extraction(model, x_train, data.y_train, eval_X=x_test, split="rasters",
                                        data_name="digits training inputs", **common)
            row = {"setting": setting, "features": features, "n_rules": r["n_rules"],
                   "n_features": len(r["ruleset"]["features"]), "fidelity": r["fidelity"],
                   "eval_fidelity": r.get("eval_fidelity"), "network_accuracy": r["network_accuracy"],
                   "rules_accuracy": r["rules_accuracy"], "fit_time_s": round(r["fit_time_s"], 1),
                   "total_time_s": round(time.perf_counter() - t0, 1)}
            rows.append(row)
            f = r["fidelity"]
            extra = ""
            if row["eval_fidelity"]:
                e = row["eval_fidelity"]
                extra = f"; test inputs {100 * e['value']:.1f}% [{100 * e['ci'][0]:.1f}, {100 * e['ci'][1]:.1f}]"
            print(f"{setting:10s} {features:26s} rules {r['n_rules']:3d}  fidelity {100 * f['value']:.1f}% "
                  f"[{100 * f['ci'][0]:.1f}, {100 * f['ci'][1]:.1f}] n={f['n']}{extra}  "
                  f"fit {row['fit_time_s']} s", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
