"""Automata learned with AALpy from the Tomita networks, compared with the exact machines.

For every grammar whose network learned it (``artifacts/tomita/summary.json``; the case
study is built first if the folder is missing), the network's Mealy machine is learned

* actively with L* and KV, equivalence queries answered by the exact machine (``exact``)
  and by random words with Angluin's PAC bound (``pac``, epsilon = delta = 0.01, words of
  10-25 letters);
* passively with RPNI from 500 random traces of 10-25 letters;

and compared with the exact machine (:func:`verisnn.automaton.build_automaton`, minimised)
and with the grammar's minimal prefix machine (``case_studies/tomita/grammars.py``).
Recorded per run: states, membership queries that reached the network, equivalence
queries and their test words, network steps simulated, time, fidelity on 1000 random
words (per-letter agreement, Clopper-Pearson 95 %).

A second table is the hardware cross-check on the loihi profile: transition annotations
(:func:`verisnn.extractors.learn.annotate_transitions`) of the unminimised exact machine
and of the learned (minimal) machine against the cost model on 200 random words.

    .venv/bin/python benchmarks/extract_automata.py [--grammars 1,3] [--seed 0] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "case_studies" / "tomita"))

from grammars import GRAMMARS, prefix_machine  # noqa: E402

from verisnn import load_model  # noqa: E402
from verisnn.automaton import build_automaton, load_alphabet  # noqa: E402
from verisnn.extractors.learn import annotate_transitions, check_latency, learn_automaton  # noqa: E402

RUNS = (("lstar", "exact"), ("kv", "exact"), ("lstar", "pac"), ("kv", "pac"), ("rpni", "none"))


def tomita_artifacts(out: Path) -> dict:
    if not (out / "summary.json").exists():
        subprocess.run([sys.executable, str(ROOT / "case_studies" / "tomita" / "build.py"), "--out", str(out)],
                       check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return json.loads((out / "summary.json").read_text())


def measure(k: int, out: Path, seed: int) -> dict:
    model = load_model(out / f"T{k}" / f"tomita{k}.snn.json")
    alphabet = load_alphabet(out / "alphabet.json", model)
    start = time.perf_counter()
    explored = build_automaton(model, alphabet)
    exact = explored.machine.minimize()
    exact_s = time.perf_counter() - start
    grammar = prefix_machine(GRAMMARS[k]).minimize()
    rows = []
    for algorithm, oracle in RUNS:
        options = {"oracle": oracle} if algorithm != "rpni" else {}
        r = learn_automaton(model, alphabet, algorithm=algorithm, seed=seed, **options)
        rows.append({"grammar": f"T{k}", "algorithm": algorithm, "oracle": r.oracle, "status": r.status,
                     "states": r.states, "membership_queries": r.membership_queries,
                     "equivalence_queries": r.equivalence_queries, "equivalence_tests": r.equivalence_tests,
                     "steps": r.simulator_steps, "time_s": r.time_s, "equals_exact": r.equals_exact,
                     "equals_grammar": r.machine is not None and r.machine.equivalent(grammar) is None,
                     "fidelity": r.fidelity["value"], "fidelity_ci": r.fidelity["ci"],
                     "fidelity_letters": r.fidelity["n"], "traces": r.settings.get("traces"),
                     "unobserved_transitions": len(r.unobserved_transitions)})
    learned = learn_automaton(model, alphabet, algorithm="lstar", oracle="exact", fidelity_words=0).machine
    timing = {}
    for name, machine in (("exact (unminimised)", explored.machine), ("learned (minimal)", learned)):
        check = check_latency(model, alphabet, machine, annotate_transitions(model, alphabet, machine, "loihi"),
                              words=200, lengths=(1, 20), seed=seed)
        timing[name] = {"states": machine.num_states, **{key: check[key] for key in (
            "letters", "disagreeing_letters", "max_abs_diff_us", "max_word_abs_diff_us", "example")}}
    return {"grammar": f"T{k}", "exact_states": explored.machine.num_states, "minimal_states": exact.num_states,
            "grammar_states": grammar.num_states, "exact_time_s": exact_s, "runs": rows, "timing": timing}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "artifacts" / "tomita"), help="the Tomita artifacts folder")
    parser.add_argument("--grammars", default=None, help="e.g. 1,3,5 (default: every learned grammar)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    out = Path(args.out)
    summary = tomita_artifacts(out)
    learned = [int(name[1:]) for name in summary["learned"]]
    chosen = learned if args.grammars is None else [k for k in map(int, args.grammars.split(",")) if k in learned]
    start = time.perf_counter()
    results = [measure(k, out, args.seed) for k in chosen]
    total = time.perf_counter() - start
    machine = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
               "cpus": os.cpu_count(), "python": platform.python_version()}
    if args.json:
        print(json.dumps({"machine": machine, "seed": args.seed, "grammars": results, "time_s": total}, indent=1))
        return 0
    print(f"{machine['processor']}, {machine['cpus']} CPUs, Python {machine['python']}; seed {args.seed}")
    print("| | algorithm | oracle | states | = exact | = grammar | MQ | EQ | EQ tests | network steps | time s "
          "| fidelity (95 % CI) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for g in results:
        for r in g["runs"]:
            lo, hi = r["fidelity_ci"]
            extra = f" ({r['traces']} traces)" if r["traces"] else ""
            print(f"| {r['grammar']} | {r['algorithm']}{extra} | {r['oracle']} | {r['states']} | "
                  f"{'yes' if r['equals_exact'] else 'no'} | {'yes' if r['equals_grammar'] else 'no'} | "
                  f"{r['membership_queries']} | {r['equivalence_queries']} | {r['equivalence_tests']} | "
                  f"{r['steps']:,} | {r['time_s']:.2f} | {r['fidelity']:.4f} [{lo:.4f}, {hi:.4f}] |")
    print()
    print("| | exact states | minimal | grammar | exact exploration s | timing: unminimised machine "
          "(letters off / max µs) | timing: learned minimal machine (letters off / max µs per letter / per word) |")
    print("|---|---|---|---|---|---|---|")
    for g in results:
        full, small = g["timing"]["exact (unminimised)"], g["timing"]["learned (minimal)"]
        print(f"| {g['grammar']} | {g['exact_states']} | {g['minimal_states']} | {g['grammar_states']} | "
              f"{g['exact_time_s']:.3f} | {full['disagreeing_letters']}/{full['letters']} / "
              f"{full['max_abs_diff_us']:.4f} | {small['disagreeing_letters']}/{small['letters']} / "
              f"{small['max_abs_diff_us']:.4f} / {small['max_word_abs_diff_us']:.4f} |")
    print(f"\ntotal {total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
