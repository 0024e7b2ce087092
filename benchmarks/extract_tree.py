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
counts (``counts+first_spike+hidden``), count windows ``--windows``, the folded default on
(``--fold-default off``: every raster matched by one rule).

``--refine``: certification-guided refinement (``extractors/refine.py``, ``refine=True``)
with ``--refine-max-loss`` (``none``: every falsified rule is fixed); every row then also
reports the rules certified (``certify_rules``, ``enumerate``, ``flips: 1`` around the fit
rasters) and the share of ``--n-eval`` fresh draws whose first matching rule is verified.

    .venv/bin/python benchmarks/extract_tree.py [--max-rules 40] [--n-samples 20000]
        [--n-eval 20000] [--windows 2] [--settings local,new-digits] [--json OUT.json]
        [--fold-default on|off] [--refine] [--refine-max-loss none|0.003] [--certify]
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
from verisnn.extractors.certify import certify_rules
from verisnn.extractors.rules import ruleset_from_json
from verisnn.extractors.sampling import Perturbation, draw
from verisnn.extractors.tree import run_tree_extraction

ROOT = Path(__file__).resolve().parents[1]
FEATURES = ("counts", "counts+first_spike", "counts+first_spike+hidden")


def certified(model, result: dict, fit_x, n_eval: int) -> dict:
    """Certify the rules around the rasters they were fitted on (``local`` only: for
    ``new-digits`` the fit part of the split is not returned), and the share of fresh draws
    of the same distribution whose first match is a verified rule / the default."""
    if fit_x is None:
        return {}
    rules = ruleset_from_json(result["ruleset"])
    t0 = time.perf_counter()
    verdicts = [c["verdict"] for c in certify_rules(model, rules, fit_x, {"flips": 1}, method="enumerate")]
    took = round(time.perf_counter() - t0, 1)
    draws = draw(model, fit_x, n_eval, Perturbation(flips=1), np.random.default_rng([0, 2]))
    first = rules.first_match(rules.feature_values(model, draws))
    verified = [i for i, v in enumerate(verdicts) if v == "verified"]
    return {"n_verified": len(verified), "certified_share": len(verified) / max(1, len(verdicts)),
            "draws_by_verified": float(np.isin(first, verified).mean()), "draws_by_default": float((first < 0).mean()),
            "n_conditions": sum(len(r.conditions) for r in rules.rules), "certify_time_s": took,
            "refinement": result["ruleset"].get("info", {}).get("fit", {}).get("refinement")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--max-rules", type=int, default=40)
    ap.add_argument("--n-samples", type=int, default=20000)
    ap.add_argument("--n-eval", type=int, default=20000)
    ap.add_argument("--windows", type=int, default=2)
    ap.add_argument("--settings", default="local,new-digits")
    ap.add_argument("--features", default=",".join(FEATURES))
    ap.add_argument("--json", type=Path)
    ap.add_argument("--fold-default", choices=("on", "off"), default="on")
    ap.add_argument("--refine", action="store_true")
    ap.add_argument("--refine-max-loss", default="none")
    ap.add_argument("--certify", action="store_true", help="certify the rules (implied by --refine)")
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
                          n_samples=args.n_samples, n_eval=args.n_eval, fold_default=args.fold_default == "on")
            if args.refine:
                common.update(refine=True, refine_max_loss=None if args.refine_max_loss == "none"
                              else float(args.refine_max_loss))
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
            if args.refine or args.certify:
                row.update(certified(model, r, x_test if setting == "local" else None, args.n_eval))
            rows.append(row)
            f = r["fidelity"]
            extra = ""
            if row["eval_fidelity"]:
                e = row["eval_fidelity"]
                extra = f"; test inputs {100 * e['value']:.1f}% [{100 * e['ci'][0]:.1f}, {100 * e['ci'][1]:.1f}]"
            print(f"{setting:10s} {features:26s} rules {r['n_rules']:3d}  fidelity {100 * f['value']:.1f}% "
                  f"[{100 * f['ci'][0]:.1f}, {100 * f['ci'][1]:.1f}] n={f['n']}{extra}  "
                  f"fit {row['fit_time_s']} s", flush=True)
            if "certified_share" in row:
                print(f"{'':10s} certified {row['n_verified']}/{r['n_rules']} = {100 * row['certified_share']:.1f}%; "
                      f"draws first-matched by a verified rule {100 * row['draws_by_verified']:.1f}%, "
                      f"by the default {100 * row['draws_by_default']:.1f}%; conditions {row['n_conditions']}; "
                      f"certify {row['certify_time_s']} s", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
