"""Unbounded-horizon proofs and explicit-state automata, measured.

Three measurements, in one run on one machine:

1. **States explored per second** — :func:`verisnn.automaton.build_automaton` (the Mealy
   machine over an alphabet) and the ``explore`` method of
   :func:`verisnn.unbounded.verify_unbounded` (the product of the network and a safety
   monitor over every input letter), on the robot controller, a small recurrent network
   and the digits model (under a state budget: its state space is far too large).
2. **Time to prove the robot property** (``never_fires_after``, for all time) with
   k-induction, PDR and explicit search, median of ``--repeat`` runs.
3. **k-induction versus PDR side by side** on a fixed suite of random small networks
   (seeded) times every unbounded condition, with explicit search as ground truth where it
   finishes: the share each method decides, their median times, and any disagreement
   (there must be none).

    .venv/bin/python benchmarks/unbounded.py [--models 24] [--timeout 20] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np

from verisnn import load_model
from verisnn.automaton import Alphabet, build_automaton
from verisnn.model import Dense, InputSpec, Model, Neuron, Readout
from verisnn.properties import (AnyInput, NeverFires, NeverFiresAfter, NoOverflow, Property, RespondsWithin,
                                WindowSpikesAtMost, load_property)
from verisnn.unbounded import verify_unbounded

ROOT = Path(__file__).resolve().parents[1]


def robot_models() -> tuple[Model, Model]:
    out = ROOT / "artifacts" / "robot"
    if not (out / "robot-safe.snn.json").exists():
        subprocess.run([sys.executable, str(ROOT / "case_studies" / "robot" / "build.py"), "--out", str(out)],
                       check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return load_model(out / "robot-safe.snn.json"), load_model(out / "robot-naive.snn.json")


def digits_model() -> Model:
    out = ROOT / "artifacts" / "digits"
    if not (out / "digits-lif.snn.json").exists():
        subprocess.run([sys.executable, str(ROOT / "case_studies" / "digits" / "build.py")], check=True, cwd=ROOT)
    return load_model(out / "digits-lif.snn.json")


def random_model(rng: np.random.Generator) -> Model:
    """2–3 inputs, a hidden layer of 2–4 neurons (lif or cuba_lif, sometimes recurrent,
    sometimes refractory), 2 outputs (sometimes delayed), 6–8-bit membranes."""
    n_in, n_hid = int(rng.integers(2, 4)), int(rng.integers(2, 5))
    bits = int(rng.integers(6, 9))
    kind = str(rng.choice(["lif", "cuba_lif"]))
    hidden = Neuron(n_hid, kind, threshold=int(rng.integers(2, 6)), v_decay=(int(rng.integers(1, 4)), 2),
                    i_decay=(1, 1) if kind == "cuba_lif" else None, refractory=int(rng.integers(0, 2)),
                    reset=str(rng.choice(["subtract", "to_value"])), v_bits=bits,
                    on_overflow=str(rng.choice(["saturate", "wrap"])))
    out = Neuron(2, "lif", threshold=int(rng.integers(1, 5)), v_decay=(int(rng.integers(0, 3)), 2), v_bits=bits)
    rec = rng.integers(-2, 3, (n_hid, n_hid)) if rng.random() < 0.5 else None
    return Model(time_steps=8, input=InputSpec(n_in),
                 layers=(Dense(rng.integers(-3, 5, (n_hid, n_in)), hidden, recurrent=rec),
                         Dense(rng.integers(-3, 5, (2, n_hid)), out, delay=int(rng.integers(0, 2)))),
                 readout=Readout("spike_count"), name="random")


def conditions(model: Model, rng: np.random.Generator) -> list:
    n = model.input.size
    return [NeverFires(1, int(rng.integers(0, 2))), NoOverflow(),
            WindowSpikesAtMost(3, int(rng.integers(2, 8))),
            NeverFiresAfter((int(rng.integers(0, n)),), 2, 1, int(rng.integers(0, 2))),
            RespondsWithin(((int(rng.integers(0, n)),),), int(rng.integers(0, 3)), None)]


def _median(xs):
    return round(statistics.median(xs), 3) if xs else None


def exploration_rates(robot: Model, digits: Model, rng: np.random.Generator) -> list[dict]:
    rows = []
    tiny = random_model(np.random.default_rng(7))
    cases = [
        ("robot-safe", robot, Alphabet(("go", "obstacle", "idle"), np.array(
            [[[0, 0, 0, 1]], [[0, 1, 0, 1]], [[0, 0, 0, 0]]], dtype=np.int8)), 100_000),
        ("random-small", tiny, Alphabet(("a", "b"), np.array([[[1, 0, 0][:tiny.input.size]] * 2,
                                                              [[0, 1, 0][:tiny.input.size]] * 2], dtype=np.int8)),
         100_000),
        ("digits (budget)", digits, Alphabet(("p", "q"), (rng.random((2, 1, 64)) < 0.3).astype(np.int8)), 50_000),
    ]
    for name, model, alphabet, budget in cases:
        res = build_automaton(model, alphabet, max_states=budget, timeout=120)
        rows.append({"what": "automaton", "model": name, "status": res.status, "states": res.states_discovered,
                     "time_s": round(res.time_s, 3), "states_per_s": round(res.states_discovered / res.time_s)})
    for name, model, prop in [("robot-safe", robot, load_property(ROOT / "case_studies" / "robot" /
                                                                  "never_forward_after_obstacle.yaml")),
                              ("random-small", tiny, Property(AnyInput(), NoOverflow(), horizon="unbounded"))]:
        res = verify_unbounded(model, prop, method="explore", timeout=120)
        rows.append({"what": "explore (network x monitor)", "model": name, "status": res.verdict,
                     "states": res.details.get("states"), "time_s": round(res.time_s, 3),
                     "states_per_s": res.details.get("states_per_s")})
    return rows


def robot_proofs(robot: Model, repeat: int) -> list[dict]:
    prop = load_property(ROOT / "case_studies" / "robot" / "never_forward_after_obstacle.yaml")
    rows = []
    for method in ("kinduction", "pdr", "explore"):
        times, verdicts, extra = [], set(), None
        for _ in range(repeat):
            res = verify_unbounded(robot, prop, method=method, timeout=120)
            times.append(res.time_s)
            verdicts.add(res.verdict)
            extra = (f"depth {res.evidence['depth']}" if method == "kinduction" and res.evidence else
                     f"invariant of {res.evidence['invariant_size']} nodes" if method == "pdr" and res.evidence else
                     f"{res.details.get('states')} states" if method == "explore" else None)
        rows.append({"method": method, "verdicts": sorted(verdicts), "median_s": _median(times),
                     "min_s": round(min(times), 3), "evidence": extra})
    return rows


def side_by_side(n_models: int, timeout: float, rng: np.random.Generator, digits: Model) -> dict:
    queries = []
    for _ in range(n_models):
        model = random_model(rng)
        queries += [(model, c) for c in conditions(model, rng)]
    queries += [(digits, NoOverflow()), (digits, NeverFires(1, 0))]
    per = {m: {"verified": 0, "falsified": 0, "unknown": 0, "error": 0, "times": []} for m in ("kinduction", "pdr")}
    truth_known, disagreements, both, faster = 0, [], 0, {"kinduction": 0, "pdr": 0}
    ratios, only = [], {"kinduction": 0, "pdr": 0}
    for model, cond in queries:
        prop = Property(AnyInput(), cond, horizon="unbounded")
        truth = None
        if model.input.size <= 3:
            ex = verify_unbounded(model, prop, method="explore", timeout=timeout, max_states=200_000)
            truth = ex.verdict if ex.verdict in ("verified", "falsified") else None
            truth_known += truth is not None
        answers = {}
        for method in ("kinduction", "pdr"):
            res = verify_unbounded(model, prop, method=method, timeout=timeout)
            per[method][res.verdict] += 1
            answers[method] = res
            if res.verdict in ("verified", "falsified"):
                per[method]["times"].append(res.time_s)
                if truth is not None and res.verdict != truth:
                    disagreements.append(f"{method} says {res.verdict}, explore says {truth}: {cond}")
        a, b = answers["kinduction"], answers["pdr"]
        if a.verdict in ("verified", "falsified") and b.verdict in ("verified", "falsified"):
            both += 1
            if a.verdict != b.verdict:
                disagreements.append(f"kinduction {a.verdict} vs pdr {b.verdict}: {cond}")
            faster["kinduction" if a.time_s < b.time_s else "pdr"] += 1
            ratios.append(b.time_s / max(a.time_s, 1e-6))
        elif a.verdict in ("verified", "falsified"):
            only["kinduction"] += 1
        elif b.verdict in ("verified", "falsified"):
            only["pdr"] += 1
    rows = {}
    for method, d in per.items():
        decided = d["verified"] + d["falsified"]
        rows[method] = {"queries": len(queries), "verified": d["verified"], "falsified": d["falsified"],
                        "unknown": d["unknown"], "error": d["error"],
                        "decided_share": round(decided / len(queries), 3), "median_s": _median(d["times"])}
    return {"queries": len(queries), "ground_truth_known": truth_known, "both_decided": both,
            "faster_on_both_decided": faster, "pdr_over_kinduction_time_median": _median(ratios),
            "decided_by_one_only": only, "disagreements": disagreements, "methods": rows}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=24, help="random models in the side-by-side suite")
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds per query")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each robot proof")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    robot, _ = robot_models()
    digits = digits_model()
    result = {"machine": {"platform": platform.platform(), "python": platform.python_version(),
                          "cpus": os.cpu_count()},
              "exploration": exploration_rates(robot, digits, rng),
              "robot_proofs": robot_proofs(robot, args.repeat),
              "side_by_side": side_by_side(args.models, args.timeout, rng, digits)}
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print(f"machine: {result['machine']}")
    print("\nstates explored per second")
    for r in result["exploration"]:
        print(f"  {r['what']:28s} {r['model']:16s} {r['status']:9s} {r['states']:>8} states "
              f"{r['time_s']:>8.2f} s  {r['states_per_s']} states/s")
    print("\nrobot: never forward within 4 steps of an obstacle spike, for all time")
    for r in result["robot_proofs"]:
        print(f"  {r['method']:10s} {','.join(r['verdicts']):9s} median {r['median_s']} s (min {r['min_s']}) "
              f"{r['evidence']}")
    s = result["side_by_side"]
    print(f"\nk-induction vs PDR: {s['queries']} queries ({s['ground_truth_known']} with explicit-search ground "
          f"truth); both decided {s['both_decided']}; faster there: {s['faster_on_both_decided']}, median time "
          f"ratio pdr / kinduction {s['pdr_over_kinduction_time_median']}; decided by one only: "
          f"{s['decided_by_one_only']}")
    for method, r in s["methods"].items():
        print(f"  {method:10s} decided {r['decided_share']:.0%} (verified {r['verified']}, falsified "
              f"{r['falsified']}, unknown {r['unknown']}, error {r['error']}), median {r['median_s']} s")
    print(f"  disagreements: {s['disagreements'] or 'none'}")
    return 1 if s["disagreements"] else 0


if __name__ == "__main__":
    sys.exit(main())
