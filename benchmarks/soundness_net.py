"""The soundness net at size: tests/test_soundness_net.py's stratified generator, more examples.

Every cell (region kind x bounded condition x readout x tie rule) is drawn the same number
of times (examples ``0 .. per_cell - 1`` of each cell, seeded by the cell's name and index,
so a run is reproducible and a failure names what reproduces it), each example is put to
every method, and every answer is held against the trusted kernel's brute force
(tests/soundness_cases.py). The unbounded methods are held against the explicit search.

    .venv/bin/python benchmarks/soundness_net.py --queries 5000

prints a table per method and region, per method and condition, and per method, with the
time spent, then every wrong answer; exits 1 if there is one.
"""

from __future__ import annotations

import argparse
import collections
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from soundness_cases import (METHODS, UNBOUNDED_CONDITIONS, UNBOUNDED_METHODS, cells,  # noqa: E402
                             draw_example, draw_unbounded_example, examples_in, judge_unbounded, run_example)

COLUMNS = ("queries", "verified", "falsified", "unknown", "declined", "error", "wrong", "pruned", "time_s")


def _row(outs: list) -> dict:
    row = collections.Counter()
    for o in outs:
        row["queries"] += 1
        row["declined" if o.refused else o.verdict] += 1
        row["wrong"] += bool(o.problems)
        row["pruned"] += bool(o.pruned)
        row["time_s"] += o.time_s
    return row


def _table(title: str, groups: dict) -> str:
    lines = [f"\n{title}", "| " + " | ".join(("group",) + COLUMNS) + " |", "|" + "---|" * (len(COLUMNS) + 1)]
    for key in sorted(groups):
        row = _row(groups[key])
        cells = [f"{row[c]:.1f}" if c == "time_s" else str(row[c]) for c in COLUMNS]
        lines.append("| " + " | ".join([" ".join(key)] + cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=5000, help="bounded queries at least (examples x methods)")
    ap.add_argument("--unbounded", type=int, default=10, help="examples per unbounded condition")
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds per query")
    args = ap.parse_args(argv)
    all_cells = cells()
    per_cell = max(1, math.ceil(args.queries / (len(METHODS) * sum(examples_in(c, 1) for c in all_cells))))
    wanted = math.ceil(args.queries / len(METHODS))
    if wanted < len(all_cells):  # a smoke run: evenly spaced cells, one example each (not every cell is drawn)
        all_cells = [all_cells[k * len(all_cells) // wanted] for k in range(wanted)]
        print(f"smoke run: {wanted} of {len(cells())} cells drawn")
    total = sum(examples_in(c, per_cell) for c in all_cells)
    print(f"{len(all_cells)} cells, {per_cell} examples each (twice that in bab's decision cells): {total} examples x "
          f"{len(METHODS)} methods = {total * len(METHODS)} bounded queries; "
          f"{len(UNBOUNDED_CONDITIONS) * args.unbounded} unbounded examples x {len(UNBOUNDED_METHODS)} methods")
    t0 = time.perf_counter()
    by_region, by_condition, by_readout, by_method = (collections.defaultdict(list) for _ in range(4))
    wrong, oracle_s, holds, examples = [], 0.0, 0, 0
    for cell in all_cells:
        for index in range(examples_in(cell, per_cell)):
            t = time.perf_counter()
            ex = draw_example(cell, index)
            oracle_s += time.perf_counter() - t
            examples += 1
            holds += ex.truth.holds
            for o in run_example(ex, METHODS, args.timeout):
                by_region[(o.method, cell.region)].append(o)
                by_condition[(o.method, cell.condition)].append(o)
                by_readout[(o.method, cell.readout, cell.ties)].append(o)
                by_method[(o.method,)].append(o)
                if o.problems:
                    wrong.append(f"{o.label} {o.method}: " + "; ".join(o.problems) + "\n" + ex.describe())
    bounded_s = time.perf_counter() - t0
    print(f"\nbounded: {examples} examples ({holds} hold), {bounded_s:.1f} s (kernel oracle {oracle_s:.1f} s)")
    print(_table("per method", by_method))
    print(_table("per method and region", by_region))
    print(_table("per method and condition", by_condition))
    print(_table("per method, readout and tie rule", by_readout))

    from verisnn.unbounded import verify_unbounded

    t1 = time.perf_counter()
    table = collections.defaultdict(collections.Counter)
    for condition in UNBOUNDED_CONDITIONS:
        for index in range(args.unbounded):
            ex = draw_unbounded_example(condition, index)
            for method in UNBOUNDED_METHODS:
                result = verify_unbounded(ex.model, ex.prop, method=method, timeout=args.timeout)
                row = table[(method, condition)]
                row["queries"] += 1
                row[result.verdict] += 1
                row["time_s"] += result.time_s
                problems = judge_unbounded(ex, method, result)
                row["wrong"] += bool(problems)
                if problems:
                    wrong.append(f"{ex.label} {method}: " + "; ".join(problems) + "\n" + ex.describe())
    cols = ("queries", "verified", "falsified", "unknown", "error", "wrong", "time_s")
    print(f"\nunbounded: {time.perf_counter() - t1:.1f} s")
    print("| " + " | ".join(("group",) + cols) + " |\n|" + "---|" * (len(cols) + 1))
    for key in sorted(table):
        print("| " + " | ".join([" ".join(key)] + [f"{table[key][c]:.1f}" if c == "time_s" else str(table[key][c])
                                                   for c in cols]) + " |")
    print(f"\n{len(wrong)} wrong answers; total {time.perf_counter() - t0:.1f} s")
    for w in wrong:
        print("\n" + w)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
