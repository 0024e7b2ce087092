"""Mutation testing as a benchmark (issue 15, item 4): do the tests and the checker catch plausible bugs?

Each mutant below is one plausible one-line bug in the critical code (pruning in ``bab``,
``surely_wins`` and the interval bounds, the tie rules, region membership and size, the
threshold comparison, decay rounding, reset, refractory, every condition's evaluation, the
SMT and CP-SAT encodings of a condition, the checker's acceptance of a certificate). A mutant
is an exact text replacement that must occur **exactly once** in its file: when the code
changes under a mutant, the run stops before doing anything and names it (a mutant that no
longer applies is fixed or removed, never silently skipped).

The campaign first takes one snapshot of the repository (the files ``git ls-files`` lists,
tracked and untracked-but-not-ignored, as they are in the working tree when it starts; or
``--commit REV``): the clean copy. Every mutant runs in its own copy of that snapshot, so
edits made to the working tree meanwhile change nothing. Per mutant:

(a) **the tests**: the focused, fast test files of :data:`DEFAULT_TESTS` (``--tests`` to
    change them), ``pytest -x -q`` with ``CI=1`` (hypothesis derandomized: the same examples
    every run), stopped at the first failure, within ``--test-timeout`` seconds. "killed"
    names the first failing test.
(b) **the certificates** (engine mutants): the mutated engine answers a fixed, seeded batch
    of small queries (:func:`build_queries`: random small models, centres and properties,
    every readout and tie rule, raster regions, every bounded condition) with every method
    of :data:`METHODS` and writes a certificate of each answer; the **unmutated** checker
    (``verisnn.checker.check_certificate`` of the clean copy) checks each. A certificate is
    *wrong* when it says ``verified`` and brute force (the clean copy's enumeration of the
    region) finds a violation, or says ``falsified`` and its witness is outside the region
    or does not violate the condition on the clean simulator. "changes a verdict" compares
    the mutant's verdicts with the clean engine's on the same batch (answers that ran out
    of time on either side are not compared).
    **Checker mutants** (in ``verisnn/checker.py`` and ``verisnn/kernel/``): (a), and the
    mutated checker checks a set of known-bad certificates (made once by the clean copy:
    a ``verified`` with enumerate / bab / bounds evidence on a falsifiable query, a witness
    that does not violate) and the clean engine's good certificates; every bad one must
    still be rejected.

The copy imports its own ``verisnn``: the project's venv has verisnn installed in editable
mode (pointing at the main checkout, with ``verisnn.encodings`` and ``verisnn.extractors``
mapped to the top-level ``encodings/`` and ``extractors/``), so every command runs from the
copy's root with ``PYTHONPATH`` set to it, and the copy gets ``verisnn/encodings`` and
``verisnn/extractors`` links to its own folders; a sanity check prints where ``verisnn``,
``verisnn.encodings`` and ``verisnn.kernel`` were imported from and stops if any lies
outside the copy.

    .venv/bin/python benchmarks/mutation.py [--only ID[,ID...]] [--jobs 1] [--json OUT]
        [--tests tests/a.py,tests/b.py] [--test-timeout 1800] [--queries 60] [--pruning-queries 600]
        [--check-all] [--skip-tests] [--skip-certificates] [--list] [--validate] [--keep] [--workdir DIR]

``--validate`` only checks that every mutant applies (exactly one occurrence) and exits.
The table is printed in markdown; ``--json`` writes every per-mutant record.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = Path("/work/main/.venv/bin/python") if Path("/work/main/.venv/bin/python").exists() \
    else Path(sys.executable)
SCRIPT = Path(__file__).resolve()

DEFAULT_TESTS = (  # the fast, targeted files first (-x stops at the first failure), the soundness net last
    "tests/test_semantics.py",
    "tests/test_properties.py",
    "tests/test_bab.py",
    "tests/test_bounds.py",
    "tests/test_verify.py",
    "tests/test_kernel_*.py",
    "tests/test_certificate.py",
    "tests/test_soundness_net.py",
)
METHODS = ("enumerate", "bab", "bounds", "smt", "cpsat", "auto")
FAST_METHODS = ("enumerate", "bab", "bounds", "auto")  # the pruning queries: many, so no solver
DEFAULT_QUERIES = 60
DEFAULT_PRUNING_QUERIES = 600
QUERY_SEED = 15  # issue 15: the batch is the same on every run and in every copy
PACKAGE_LINKS = {"verisnn/encodings": "encodings", "verisnn/extractors": "extractors"}  # pyproject's package-dir
# PYTHONPATH of a copy: a folder holding only a link to the copy's verisnn (the copy's root cannot be on it:
# its top-level encodings/ would shadow the standard library's codec package at start-up)
IMPORT_DIR = ".mutation-pythonpath"


@dataclasses.dataclass(frozen=True)
class Mutant:
    """One plausible bug: replace ``old`` (exactly one occurrence in ``path``) by ``new``.
    ``kind``: ``engine`` (judged by the tests and by the certificates it produces) or
    ``checker`` (judged by the tests and by whether it accepts known-bad certificates)."""

    id: str
    path: str
    old: str
    new: str
    what: str
    kind: str = "engine"


MUTANTS: tuple[Mutant, ...] = (
    # ---- the three bugs
    Mutant("bab-lead-early", "verisnn/bab.py",
           "counts + max(0, steps - f.t)", "counts + max(0, steps - f.t - 1)",
           "issue bug 1: bab prunes one step too early (one step fewer remains)"),
    Mutant("bounds-tie-lower", "verisnn/bounds.py",
           "np.where(below, lo_c > hi, lo_c >= hi)", "np.where(below, lo_c >= hi, lo_c >= hi)",
           "issue bug 2: surely_wins lets class c win ties against lower indices too"),
    Mutant("bab-first-spike-as-count", "verisnn/bab.py",
           'model.readout.type == "spike_count" and self.lookahead == 0',
           'model.readout.type in ("spike_count", "first_spike") and self.lookahead == 0',
           "issue bug 3: bab bounds a first_spike readout with the spike-count argument"),
    # ---- bab: pruning and settled()
    Mutant("bab-decided-by-or", "verisnn/bab.py",
           "held |= surely_wins(model, *early, c) & surely_wins(model, *final, c)",
           "held |= surely_wins(model, *early, c) | surely_wins(model, *final, c)",
           "bab settles decided_by when class c surely wins early OR at the end"),
    Mutant("bab-first-spike-by-k", "verisnn/bab.py",
           "return f.last[: cond.k].any(axis=(0, 2))", "return f.last[: cond.k + 1].any(axis=(0, 2))",
           "bab settles first_spike_by k with a spike at step k"),
    Mutant("bab-children-budget", "verisnn/bab.py",
           "eligible = np.flatnonzero(left >= j)", "eligible = np.flatnonzero(left > j)",
           "bab never spends the last flip of the budget (the walk misses rasters)"),
    # ---- bounds: surely_wins, interval operations, decay/overflow, spike bound
    Mutant("bounds-first-spike-sure", "verisnn/bounds.py",
           "wins &= lo[..., c] >= 0", "wins &= hi[..., c] >= 0",
           "surely_wins under first_spike: c need only possibly spike"),
    Mutant("bounds-interval-sub", "verisnn/bounds.py",
           "return Interval(a.lo - b.hi, a.hi - b.lo)", "return Interval(a.lo - b.lo, a.hi - b.hi)",
           "interval subtraction pairs lo with lo"),
    Mutant("bounds-matrix-ends", "verisnn/bounds.py",
           "return Interval(self.pos(x.lo) + self.neg(x.hi), self.pos(x.hi) + self.neg(x.lo))",
           "return Interval(self.pos(x.lo) + self.neg(x.lo), self.pos(x.hi) + self.neg(x.hi))",
           "interval W·x takes negative weights at the same end as positive ones"),
    Mutant("bounds-top-sum", "verisnn/bounds.py",
           "[:, m - budget:].sum(axis=1)", "[:, m - budget + 1:].sum(axis=1)",
           "budgeted W·x adds only the budget-1 largest changes"),
    Mutant("bounds-overflow-flag", "verisnn/bounds.py",
           "if np.any(u.lo < -half) or np.any(u.hi > half - 1):",
           "if np.any(u.lo < -half) or np.any(u.hi > half):",
           "bounds miss an overflow to exactly 2^(bits-1)"),
    Mutant("bounds-spike-possible", "verisnn/bounds.py",
           "spike_possible = u.hi >= s.cut", "spike_possible = u.hi > s.cut",
           "reset correlation: a membrane exactly at the cut is taken as never spiking"),
    Mutant("bounds-fire-strict", "verisnn/bounds.py",
           "+ (1 if strict else 0)", "+ (0 if strict else 1)",
           "interval fire: the strict and non-strict cuts swapped"),
    Mutant("bounds-spikes-at-most", "verisnn/bounds.py",
           "holds = most <= cond.e", "holds = most <= cond.e + 1",
           "bounds prove spikes_at_most e from a bound of e + 1"),
    Mutant("bounds-never-fires-lo", "verisnn/bounds.py",
           "holds = bool(np.all(o.lo == 0) and np.all(o.hi == 0))", "holds = bool(np.all(o.lo == 0))",
           "bounds prove never_fires when no spike is sure (not when none is possible)"),
    Mutant("bounds-synops-budget", "verisnn/bounds.py",
           "int(gains[: b.budget].sum())", "int(gains[: b.budget - 1].sum())",
           "synops bound counts one inserted spike fewer than the budget"),
    Mutant("bounds-jitter-reach", "verisnn/bounds.py",
           "for d in range(-region.shift, region.shift + 1):", "for d in range(-region.shift, region.shift):",
           "jitter: a spike moved later by the full shift is left fixed"),
    # ---- readout: tie rules
    Mutant("readout-tie-invalid", "verisnn/readout.py",
           "pred[is_best.sum(axis=1) > 1] = -1", "pred[is_best.sum(axis=1) > 2] = -1",
           "ties: invalid drops only ties of three or more"),
    Mutant("readout-first-spike-valid", "verisnn/readout.py",
           "valid=(first != NO_SPIKE).any(axis=1)", "valid=(first != NO_SPIKE).all(axis=1)",
           "first_spike decides only when every output neuron spiked"),
    # ---- properties: region membership and size, changeable positions
    Mutant("region-deletions-contains", "verisnn/properties.py",
           "return diff <= region.k and bool(np.all(r <= c))", "return diff <= region.k and bool(np.all(r >= c))",
           "deletions membership tests for insertions"),
    Mutant("region-flips-contains", "verisnn/properties.py",
           "return diff <= region.k\n", "return diff < region.k\n",
           "flips membership excludes rasters with exactly k flips"),
    Mutant("region-binomial-all", "verisnn/properties.py",
           "if k >= n:\n        return 1 << n", "if k > n:\n        return 1 << n",
           "region size: k = n is summed up to n - 1 (the all-flipped raster uncounted)"),
    Mutant("region-insertions-positions", "verisnn/properties.py",
           "return np.flatnonzero(flat == 0)", "return np.flatnonzero(flat == 1)",
           "insertions change the centre's spikes instead of its empty slots"),
    Mutant("region-jitter-shift", "verisnn/properties.py",
           "cost = np.where(dist == 0, 0, np.where(dist <= shift, 1, big))",
           "cost = np.where(dist == 0, 0, np.where(dist < shift, 1, big))",
           "jitter membership: a move by exactly shift steps is outside"),
    # ---- semantics: threshold, decay rounding, reset, refractory, overflow
    Mutant("semantics-fire-when", "verisnn/semantics.py",
           'strict=neuron.fire_when == ">"', 'strict=neuron.fire_when == ">="',
           "the threshold comparison: fire_when '>=' and '>' swapped (every domain)"),
    Mutant("simulator-threshold", "verisnn/simulator.py",
           "(u > threshold if strict else u >= threshold)", "(u >= threshold if strict else u > threshold)",
           "the reference simulator's threshold comparison swapped"),
    Mutant("simulator-rounding", "verisnn/simulator.py",
           'if rounding == "floor":', 'if rounding != "floor":',
           "decay rounding: floor and toward_zero swapped"),
    Mutant("semantics-current-decay", "verisnn/semantics.py",
           "i = ops.add(ops.decay(state.i, p.i_decay, neuron.rounding), a)",
           "i = ops.add(ops.decay(state.i, p.v_decay, neuron.rounding), a)",
           "cuba_lif: the current decays with the membrane's decay"),
    Mutant("semantics-refractory-reset", "verisnn/semantics.py",
           "v = ops.select(held, p.v_reset, v)", "v = ops.select(held, p.v_reset, u)",
           "neurons with a refractory period lose their reset"),
    Mutant("simulator-refractory-period", "verisnn/simulator.py",
           "return np.where(s.view(bool), period, np.maximum(r - 1, 0))",
           "return np.where(s.view(bool), period - 1, np.maximum(r - 1, 0))",
           "the refractory period is one step short (simulator only)"),
    Mutant("simulator-saturate", "verisnn/simulator.py",
           "return np.clip(u, -half, half - 1)", "return np.clip(u, -half + 1, half - 1)",
           "saturation clamps to a symmetric range"),
    Mutant("simulator-recurrent-synops", "verisnn/simulator.py",
           "total += count_spikes(out[: T - 1], axis=0)", "total += count_spikes(out[: T], axis=0)",
           "synops count recurrent events of the last step (never delivered)"),
    # ---- verify.violations: every condition's evaluation
    Mutant("violations-robust", "verisnn/verify.py",
           "return (res.prediction < 0) | (res.prediction != (-1 if reference is None else reference))",
           "return (res.prediction <= 0) | (res.prediction != (-1 if reference is None else reference))",
           "robust: class 0 counts as no decision"),
    Mutant("violations-decided-by", "verisnn/verify.py",
           "last[:, : c.k].transpose(1, 0, 2)", "last[:, : c.k + 1].transpose(1, 0, 2)",
           "decided_by k reads k + 1 steps"),
    Mutant("violations-first-spike-by", "verisnn/verify.py",
           "return ~res.output_spikes[:, : c.k].any(axis=(1, 2))",
           "return ~res.output_spikes[:, : c.k + 1].any(axis=(1, 2))",
           "first_spike_by k accepts a spike at step k"),
    Mutant("violations-spikes-at-most", "verisnn/verify.py",
           "return res.total_spikes > c.e", "return res.total_spikes >= c.e",
           "spikes_at_most e is violated at exactly e"),
    Mutant("violations-never-fires", "verisnn/verify.py",
           "[:, :, c.neuron].astype(bool).any(axis=1)", "[:, :, c.neuron].astype(bool).all(axis=1)",
           "never_fires is violated only by a neuron that fires at every step"),
    Mutant("violations-no-overflow", "verisnn/verify.py",
           "outside = (u < -half) | (u > half - 1)", "outside = (u < -half) | (u > half)",
           "no_overflow misses a membrane of exactly 2^(bits-1)"),
    # ---- encodings: SMT and CP-SAT
    Mutant("smt-tie-direction", "encodings/smt.py",
           'if ties == "lowest_index" and j < i:', 'if ties == "lowest_index" and j > i:',
           "SMT: lowest_index ties go to the higher index"),
    Mutant("smt-flips-budget", "encodings/smt.py",
           "else t.le(t.plus(changes), k)", "else t.lt(t.plus(changes), k)",
           "SMT: the region allows k - 1 flips"),
    Mutant("smt-first-spike-by", "encodings/smt.py",
           "for x in last[: cond.k].reshape(-1)]))", "for x in last[: cond.k + 1].reshape(-1)]))",
           "SMT: first_spike_by k accepts a spike at step k"),
    Mutant("smt-spikes-at-most", "encodings/smt.py",
           "return t.gt(t.plus(spikes), cond.e)", "return t.gt(t.plus(spikes), cond.e + 1)",
           "SMT: spikes_at_most e violated only above e + 1"),
    Mutant("cpsat-tie-direction", "encodings/cpsat.py",
           'v.le(d, -1) if ties == "lowest_index" and j < i else v.le(d, 0)',
           'v.le(d, -1) if ties == "lowest_index" and j > i else v.le(d, 0)',
           "CP-SAT: lowest_index ties go to the higher index"),
    Mutant("cpsat-flips-budget", "encodings/cpsat.py",
           "ops.model.add(sum(f for _, _, f in flips) <= k)", "ops.model.add(sum(f for _, _, f in flips) < k)",
           "CP-SAT: the region allows k - 1 flips"),
    Mutant("cpsat-no-overflow", "encodings/cpsat.py",
           "atoms += [v.le(x, lo - 1), v.ge(x, hi + 1)]", "atoms += [v.le(x, lo - 1), v.ge(x, hi + 2)]",
           "CP-SAT: no_overflow misses a membrane one above the range"),
    Mutant("cpsat-synops", "encodings/cpsat.py",
           "v.clause([v.ge(_synops(model, raster, outputs), cond.s + 1)])",
           "v.clause([v.ge(_synops(model, raster, outputs), cond.s + 2)])",
           "CP-SAT: synops_at_most s violated only above s + 1"),
    # ---- the checker and the trusted kernel: their acceptance of each certificate kind
    Mutant("checker-valid-any", "verisnn/checker.py",
           "return bool(self.checks) and all(c.ok for c in self.checks)",
           "return bool(self.checks) and any(c.ok for c in self.checks)",
           "a certificate is valid when any one check passes", kind="checker"),
    Mutant("kernel-enumerated-all", "verisnn/kernel/check.py",
           'if bad.any():\n            return False, (f"the kernel finds',
           'if bad.all():\n            return False, (f"the kernel finds',
           "kernel re-enumeration fails a claim only when a whole batch violates", kind="checker"),
    Mutant("kernel-tree-count-lead", "verisnn/kernel/tree.py",
           "(counts[:, c] > counts[:, j] + left)", "(counts[:, c] >= counts[:, j] + left)",
           "kernel bab re-check: a spike-count lead equal to the steps left settles (bug 1 in the kernel)",
           kind="checker"),
    Mutant("kernel-tree-first-spike", "verisnn/kernel/tree.py",
           "(first[:, j] > first[:, c])", "(first[:, j] >= first[:, c])",
           "kernel bab re-check: a first-spike tie settles for c", kind="checker"),
    Mutant("kernel-intervals-tie", "verisnn/kernel/intervals.py",
           'net.ties == "lowest_index" and j > c and lo[c] >= hi[j]', 'net.ties == "lowest_index" and lo[c] >= hi[j]',
           "kernel bounds re-check: c wins ties against lower indices too (bug 2 in the kernel)", kind="checker"),
    Mutant("kernel-region-budget", "verisnn/kernel/regions.py",
           "return len(differing) <= budget and", "return len(differing) <= budget + 1 and",
           "kernel region membership allows one change more than the budget", kind="checker"),
    Mutant("kernel-decision-tie", "verisnn/kernel/conditions.py",
           "choice[is_best.sum(axis=1) > 1] = NO_DECISION", "choice[is_best.sum(axis=1) > 2] = NO_DECISION",
           "kernel tie rule: ties: invalid drops only ties of three or more", kind="checker"),
    Mutant("kernel-decided-by-k", "verisnn/kernel/conditions.py",
           "early = decision(net, result.outputs[:, :k])", "early = decision(net, result.outputs[:, :k + 1])",
           "kernel decided_by k reads k + 1 steps", kind="checker"),
    Mutant("kernel-first-spike-by", "verisnn/kernel/conditions.py",
           "return ~result.outputs[:, :k].astype(bool)", "return ~result.outputs[:, :k + 1].astype(bool)",
           "kernel first_spike_by k accepts a spike at step k", kind="checker"),
    Mutant("kernel-threshold", "verisnn/kernel/network.py",
           "f = (u > layer.threshold) if layer.strict else (u >= layer.threshold)",
           "f = (u >= layer.threshold) if layer.strict else (u > layer.threshold)",
           "the kernel simulator's threshold comparison swapped", kind="checker"),
)


class MutantError(Exception):
    """A mutant that does not apply (its text is not in its file exactly once)."""


# ================================================================ copies of the repository


def source_files(repo: Path) -> list[str]:
    """The files of the working tree a copy holds: tracked and untracked-but-not-ignored
    (``git ls-files``), those that exist."""
    out = subprocess.run(["git", "-C", str(repo), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         check=True, capture_output=True).stdout.decode()
    return sorted({f for f in out.split("\0") if f and (repo / f).is_file()})


def make_copy(repo: Path, dest: Path, commit: str | None) -> Path:
    """A copy of the repository at ``dest`` (the working tree's files, or ``commit``'s),
    with the package links that make ``verisnn.encodings`` / ``verisnn.extractors`` the
    copy's own."""
    dest.mkdir(parents=True)
    if commit:
        archive = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", commit],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    else:
        for rel in source_files(repo):
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(repo / rel, target)
    for link, folder in PACKAGE_LINKS.items():
        if (dest / folder).is_dir() and not (dest / link).exists():
            (dest / link).symlink_to(Path("..") / folder, target_is_directory=True)
    (dest / IMPORT_DIR).mkdir()
    (dest / IMPORT_DIR / "verisnn").symlink_to(Path("..") / "verisnn", target_is_directory=True)
    return dest


def snapshot_copy(clean: Path, dest: Path) -> Path:
    """A copy of the clean copy (the snapshot every mutant starts from: the working tree may
    change while the campaign runs), its links kept, without caches."""
    shutil.copytree(clean, dest, symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", ".hypothesis"))
    return dest


def mutant_source(m: Mutant, tree: Path) -> str:
    """The text of ``m``'s file in ``tree`` with the mutation applied; :class:`MutantError`
    unless the old text occurs exactly once."""
    path = tree / m.path
    if not path.is_file():
        raise MutantError(f"{m.id}: {m.path} does not exist")
    text = path.read_text()
    n = text.count(m.old)
    if n != 1:
        raise MutantError(f"{m.id}: {m.old!r} occurs {n} times in {m.path} (must be exactly once)")
    return text.replace(m.old, m.new)


def validate(mutants: list[Mutant], tree: Path) -> list[str]:
    """Every problem with ``mutants`` against ``tree`` (empty: all apply)."""
    problems, seen = [], set()
    for m in mutants:
        if m.id in seen:
            problems.append(f"{m.id}: duplicate id")
        seen.add(m.id)
        if m.old == m.new:
            problems.append(f"{m.id}: the mutation changes nothing")
        try:
            mutant_source(m, tree)
        except MutantError as e:
            problems.append(str(e))
    return problems


def env_for(copy: Path) -> dict:
    env = dict(os.environ)
    env.update(PYTHONPATH=str(copy / IMPORT_DIR), CI="1", PYTHONHASHSEED="0")
    env.pop("PYTHONHOME", None)
    return env


def run_in(copy: Path, args: list[str], timeout: float) -> tuple[int | None, str, float]:
    """Run ``args`` in ``copy`` (its own process group, killed whole on timeout).
    Returns (exit code or None on timeout, output, seconds)."""
    t0 = time.perf_counter()
    with subprocess.Popen(args, cwd=copy, env=env_for(copy), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          start_new_session=True, text=True) as proc:
        try:
            out, _ = proc.communicate(timeout=timeout)
            return proc.returncode, out, time.perf_counter() - t0
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the group this call started: pytest and its children
            out, _ = proc.communicate()
            return None, out, time.perf_counter() - t0


def role(copy: Path, name: str, *args: str, timeout: float) -> tuple[int | None, str, float]:
    """This script's ``--role name`` run inside ``copy`` (with the copy's ``verisnn``; the
    copy's own version of this script when it has one)."""
    script = copy / "benchmarks" / SCRIPT.name
    return run_in(copy, [str(PYTHON), str(script if script.is_file() else SCRIPT), "--role", name, *args], timeout)


def sanity(copy: Path) -> str:
    """Where the copy's ``verisnn`` is imported from; raises unless it is the copy's own."""
    code, out, _ = role(copy, "where", timeout=120)
    if code != 0:
        raise RuntimeError(f"the sanity check failed in {copy}:\n{out[-3000:]}")
    return out.strip().splitlines()[-1]


# ================================================================ (a) the tests


def test_files(copy: Path, patterns: list[str]) -> list[str]:
    files = []
    for pattern in patterns:
        found = sorted(str(p.relative_to(copy)) for p in copy.glob(pattern))
        files += [f for f in found if f not in files]
    return files


def run_tests(copy: Path, patterns: list[str], timeout: float) -> dict:
    files = test_files(copy, patterns)
    missing = [p for p in patterns if not list(copy.glob(p))]
    if not files:
        return {"status": "error", "by": "no test file matched", "seconds": 0.0, "files": [], "missing": missing}
    code, out, secs = run_in(copy, [str(PYTHON), "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *files],
                             timeout)
    record = {"files": files, "missing": missing, "seconds": round(secs, 1)}
    if code is None:
        return {**record, "status": "timeout", "by": f"over {timeout:g} s"}
    if code == 0:
        return {**record, "status": "survived", "by": None}
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", out, flags=re.MULTILINE)
    by = failed[0] if failed else ("collection error" if code == 2 else f"pytest exit {code}")
    return {**record, "status": "killed", "by": by, "tail": out[-1500:]}


# ================================================================ (b) the query batch (runs inside a copy)


def build_queries(count: int, pruning: int = 0, seed: int = QUERY_SEED) -> list[dict]:
    """A fixed batch of small queries: ``{"id", "model", "centre", "prop", "methods"}``.
    Query ``i`` depends only on ``(seed, i)``, never on the code under test (no simulation).

    The ``count`` broad queries (``q000``...; every method of :data:`METHODS`): one in three
    is a one-layer, two-class ``if``/``lif`` network whose centre class can lead early (so
    that ``bab`` prunes); the others are two-layer networks with every neuron option.
    Readouts, tie rules, regions and conditions cycle so that each is drawn.

    The ``pruning`` queries (``p000``...; the fast methods of :data:`FAST_METHODS`): more
    one-layer, two-class networks under ``spike_count`` / ``first_spike`` readouts and both
    tie rules, ``robust`` and ``decided_by`` over flips / insertions / deletions: the
    settled-prefix and tie arguments of ``bab`` and ``bounds`` are wrong on few of them (one
    in 100 to 200 for the issue's bugs 1 and 3), so there are many, answered in milliseconds."""
    import numpy as np

    from verisnn.model import Dense, InputSpec, Model, Neuron, Readout
    from verisnn.properties import (AnyInput, DecidedBy, Deletions, FirstSpikeBy, Flips, Insertions, Jitter,
                                    NeverFires, NoOverflow, Property, Robust, SpikesAtMost, SynopsAtMost)

    def neuron(rng, size: int, kind: str, bits: int) -> Neuron:
        hi = (1 << (bits - 1)) - 1
        shift = int(rng.integers(0, 4))
        leak = (1 << shift, shift) if kind in ("if",) else (int(rng.integers(0, (1 << shift) + 1)), shift)
        cur = int(rng.integers(0, 3))
        return Neuron(size=size, model=kind,
                      threshold=None if kind == "li" else int(rng.integers(0, min(hi, 5) + 1)),
                      fire_when=str(rng.choice([">=", ">"])), v_decay=leak,
                      i_decay=(int(rng.integers(0, 1 << cur)), cur) if kind == "cuba_lif" else None,
                      rounding=str(rng.choice(["floor", "toward_zero"])),
                      reset=str(rng.choice(["subtract", "to_value", "none"])),
                      v_reset=int(rng.integers(-min(hi + 1, 3), min(hi, 3) + 1)),
                      refractory=int(rng.choice([0, 0, 1, 2])), v_bits=bits,
                      on_overflow=str(rng.choice(["saturate", "wrap"])))

    regions = [Flips(1), Flips(2), Insertions(1), Deletions(1), Insertions(2), Deletions(2), Jitter(1, 1), "any"]
    conditions = ["robust", "decided_by", "first_spike_by", "robust", "spikes_at_most", "synops_at_most",
                  "never_fires", "no_overflow", "decided_by"]
    queries = []
    for i in range(count):
        rng = np.random.default_rng([seed, i])
        one_layer = i % 3 == 0
        if one_layer:
            T, n = int(rng.integers(4, 7)), 2
            kind = str(rng.choice(["if", "lif"]))
            out = Neuron(size=2, model=kind, threshold=int(rng.integers(1, 4)),
                         fire_when=str(rng.choice([">=", ">"])),
                         v_decay=(1, 0) if kind == "if" else (int(rng.integers(1, 4)), 2),
                         reset=str(rng.choice(["subtract", "to_value"])), v_reset=0,
                         refractory=int(rng.choice([0, 0, 0, 1])), v_bits=8)
            layers = (Dense(weight=rng.integers(-2, 5, (2, n)), bias=rng.integers(-1, 2, 2), neuron=out),)
            readout = Readout(("spike_count", "first_spike")[(i // 3) % 2], ("invalid", "lowest_index")[(i // 6) % 2])
            region = (Flips(1), Flips(2), Insertions(1), Deletions(1), Flips(1), "any")[(i // 3) % 6]
            cond = ("robust", "robust", "decided_by")[(i // 3) % 3]
        else:
            g = 2 * (i // 3) + i % 3 - 1  # the index among the two-layer queries: every condition is drawn
            T, n = int(rng.integers(3, 5)), int(rng.integers(2, 4))
            readout_type = ("spike_count", "first_spike", "membrane_final", "membrane_max")[g % 4]
            li = readout_type.startswith("membrane")
            bits = int(rng.choice([4, 5, 6, 8]))
            hidden = int(rng.integers(1, 4))
            h = neuron(rng, hidden, str(rng.choice(["if", "lif", "cuba_lif"])), bits)
            o = neuron(rng, 2 + int(rng.integers(0, 2)), "li" if li else str(rng.choice(["if", "lif", "cuba_lif"])),
                       bits)
            rec = rng.integers(-3, 5, (hidden, hidden)) if rng.random() < 0.3 else None
            layers = (Dense(weight=rng.integers(-4, 10, (hidden, n)), bias=rng.integers(-2, 3, hidden), neuron=h,
                            delay=int(rng.choice([0, 0, 1])), recurrent=rec),
                      Dense(weight=rng.integers(-4, 10, (o.size, hidden)), bias=rng.integers(-2, 3, o.size),
                            neuron=o))
            readout = Readout(readout_type, str(rng.choice(["invalid", "lowest_index"])))
            region = regions[(g // 2) % len(regions)]
            cond = conditions[g % len(conditions)]
            if li and cond == "first_spike_by":
                cond = "robust"
        region = AnyInput() if region == "any" and T * n <= 10 else Flips(1) if region == "any" else region
        model = Model(time_steps=T, input=InputSpec(n), layers=layers, readout=readout, name=f"mutation-q{i}")
        centre = (rng.random((T, n)) < 0.5).astype(np.int8)
        firing = [k for k, layer in enumerate(layers) if layer.neuron.fires]
        neurons = sum(layer.neuron.size for layer in layers if layer.neuron.fires)
        events = T * (n * layers[0].neuron.size + sum(layer.neuron.size * 2 for layer in layers))
        condition = {
            "robust": lambda: Robust(),
            "decided_by": lambda: DecidedBy(int(rng.integers(1, T + 1))),
            "first_spike_by": lambda: FirstSpikeBy(int(rng.integers(1, T + 1))),
            "spikes_at_most": lambda: SpikesAtMost(int(rng.integers(0, max(1, T * neurons // 2) + 1))),
            "synops_at_most": lambda: SynopsAtMost(int(rng.integers(0, max(1, events // 3) + 1))),
            "never_fires": lambda: NeverFires(firing[-1] if rng.random() < 0.5 else firing[0],
                                              int(rng.integers(0, layers[firing[0]].neuron.size))),
            "no_overflow": lambda: NoOverflow(),
        }[cond]()
        if isinstance(condition, NeverFires):  # the neuron index must fit the layer drawn
            size = layers[condition.layer].neuron.size
            condition = NeverFires(condition.layer, condition.neuron % size)
        queries.append({"id": f"q{i:03d}", "model": model, "centre": centre, "prop": Property(region, condition),
                        "methods": METHODS})
    for i in range(pruning):
        rng = np.random.default_rng([seed, 1, i])
        T, n = int(rng.integers(3, 7)), int(rng.integers(1, 4))
        kind = str(rng.choice(["if", "lif"]))
        out = Neuron(size=2, model=kind, threshold=int(rng.integers(1, 5)), fire_when=str(rng.choice([">=", ">"])),
                     v_decay=(1, 0) if kind == "if" else (int(rng.integers(1, 4)), 2),
                     reset=str(rng.choice(["subtract", "to_value"])), v_reset=0,
                     refractory=int(rng.choice([0, 0, 1])), v_bits=8)
        model = Model(time_steps=T, input=InputSpec(n),
                      layers=(Dense(weight=rng.integers(-3, 7, (2, n)), bias=rng.integers(-1, 2, 2), neuron=out),),
                      readout=Readout(("spike_count", "first_spike")[i % 2], ("invalid", "lowest_index")[(i // 2) % 2]),
                      name=f"mutation-p{i}")
        region = (Flips(1), Flips(2), Insertions(1), Deletions(1))[(i // 4) % 4]
        centre = (rng.random((T, n)) < 0.5).astype(np.int8)
        condition = Robust() if i % 5 else DecidedBy(int(rng.integers(1, T + 1)))
        queries.append({"id": f"p{i:03d}", "model": model, "centre": centre, "prop": Property(region, condition),
                        "methods": FAST_METHODS})
    return queries


def _where() -> None:
    """Print where verisnn (and its encodings, kernel) come from; fail unless from the cwd's tree."""
    import importlib

    here = Path.cwd().resolve()
    found = {}
    for name in ("verisnn", "verisnn.encodings.smt", "verisnn.extractors", "verisnn.kernel", "verisnn.checker"):
        try:
            mod = importlib.import_module(name)
        except ImportError as e:
            if name == "verisnn.kernel":
                continue
            raise SystemExit(f"cannot import {name}: {e}")
        where = Path(mod.__file__).absolute()
        if here not in where.parents:
            raise SystemExit(f"{name} is imported from {where}, not from the copy {here}")
        found[name] = str(where)
    print(json.dumps(found))


def _produce(out_dir: str, count: int, pruning: int, timeout: float) -> None:
    """Answer the batch with each query's methods; write a certificate of each verified or
    falsified answer (the claims) and a manifest of every answer."""
    import traceback

    from verisnn.certificate import make_certificate
    from verisnn.verify import verify

    _where()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    manifest = {}
    for q in build_queries(count, pruning):
        for method in q["methods"]:
            key = f"{q['id']}.{method}"
            entry = {"query": q["id"], "method": method}
            try:
                r = verify(q["model"], q["centre"], q["prop"], method=method, timeout=timeout)
                entry.update(verdict=r.verdict, reason=r.reason)
            except Exception as e:  # a mutant may crash the engine: recorded, not fatal
                entry.update(verdict="crash", reason=f"{type(e).__name__}: {e}")
                manifest[key] = entry
                continue
            if r.verdict not in ("verified", "falsified"):  # no claim: nothing for a checker to reject
                manifest[key] = entry
                continue
            try:
                cert = make_certificate(q["model"], q["prop"], q["centre"], r)
                (out / f"{key}.json").write_text(json.dumps(cert))
                entry["certificate"] = f"{key}.json"
            except Exception as e:
                entry["certificate_error"] = f"{type(e).__name__}: {e}"
                entry["trace"] = traceback.format_exc()[-800:]
            manifest[key] = entry
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))


def _truth(out_file: str, count: int, pruning: int) -> None:
    """Brute force on the clean copy: does each query's property hold (enumeration of the region)?"""
    from verisnn.verify import verify

    _where()
    truth = {}
    for q in build_queries(count, pruning):
        r = verify(q["model"], q["centre"], q["prop"], method="enumerate", max_region=10**8)
        truth[q["id"]] = {"holds": {"verified": True, "falsified": False}.get(r.verdict), "verdict": r.verdict,
                          "reason": r.reason, "region_size": r.details.get("region_size"),
                          "property": q["prop"].to_dict(), "readout": q["model"].readout.type,
                          "ties": q["model"].readout.ties}
    Path(out_file).write_text(json.dumps(truth, indent=1))


def _witness_ok(doc: dict) -> tuple[bool, str]:
    """Does the witness of a falsified certificate lie in its region and violate its condition,
    on the clean copy's simulator?"""
    import numpy as np

    from verisnn.model_format import model_from_dict
    from verisnn.properties import parse_property, region_contains
    from verisnn.verify import violations

    model = model_from_dict(doc["model"]["document"])
    prop = parse_property(doc["property"])
    centre = np.asarray(doc["centre"]["raster"], dtype=np.int8)
    w = np.asarray(doc["evidence"]["witness"], dtype=np.int8)
    if w.shape != centre.shape or not region_contains(prop.region, centre, w):
        return False, "outside the region"
    if not violations(model, prop, w[None], doc["centre"]["reference_decision"])[0]:
        return False, "does not violate"
    return True, ""


def _judge(cert_dir: str, truth_file: str, out_file: str, timeout: float, check_all: bool) -> None:
    """Which certificates of ``cert_dir`` are wrong (by brute force), and the clean checker's
    answer on each wrong one (``check_all``: on every one)."""
    from verisnn.checker import check_certificate

    _where()
    truth = json.loads(Path(truth_file).read_text())
    manifest = json.loads((Path(cert_dir) / "manifest.json").read_text())
    judged = {}
    for key, entry in manifest.items():
        if "certificate" not in entry:
            continue
        doc = json.loads((Path(cert_dir) / entry["certificate"]).read_text())
        holds = truth[entry["query"]]["holds"]
        wrong, why = False, ""
        if doc["verdict"] == "verified" and holds is False:
            wrong, why = True, "verified, but brute force finds a violation"
        elif doc["verdict"] == "falsified":
            ok, problem = _witness_ok(doc)
            if not ok or holds is True:
                wrong, why = True, f"falsified, but the witness {problem or 'is wrong: the property holds'}"
        valid, failures = None, []
        if wrong or check_all:
            try:
                report = check_certificate(doc, timeout=timeout)
                valid, failures = report.valid, [f"{c.name}: {c.detail}"[:300] for c in report.failures()]
            except Exception as e:  # the checker must answer for every document; record it if it does not
                valid, failures = False, [f"checker raised {type(e).__name__}: {e}"[:300]]
        judged[key] = {"verdict": doc["verdict"], "wrong": wrong, "why": why, "valid": valid,
                       "failures": failures[:3]}
    Path(out_file).write_text(json.dumps(judged, indent=1))


def _tamper(out_dir: str, truth_file: str, good_dir: str, count: int, pruning: int, per_recipe: int) -> None:
    """Known-bad certificates, made by the clean copy with the engine patched in this
    process only: ``verified`` by enumerate / bab / bounds on falsifiable queries, and a
    falsified certificate whose witness (the centre) does not violate."""
    import dataclasses as dc

    import numpy as np

    import verisnn.bab as bab
    import verisnn.verify as verify_module
    from verisnn.certificate import make_certificate
    from verisnn.properties import AnyInput, Deletions, Flips, Insertions, Jitter
    from verisnn.simulator import simulate

    _where()
    truth = json.loads(Path(truth_file).read_text())
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    falsifiable = [q for q in build_queries(count, pruning) if truth[q["id"]]["holds"] is False
                   and not isinstance(q["prop"].region, Jitter)]
    made = {}

    def patched(obj, name, value):
        if not hasattr(obj, name):
            raise SystemExit(f"tamper: {obj.__name__}.{name} no longer exists: update the recipe")
        old = getattr(obj, name)
        setattr(obj, name, value)
        return lambda: setattr(obj, name, old)

    real_bounds = verify_module.bounds_verify
    recipes = {
        "enumerate": ("enumerate", lambda: patched(verify_module, "violations",
                                                   lambda model, prop, rasters, ref, res=None:
                                                   np.zeros(len(rasters), dtype=bool))),
        "bab": ("bab", lambda: patched(bab.Search, "settled", lambda self, f: np.full(len(f), f.t >= 1))),
        "bounds": ("bounds", lambda: patched(verify_module, "bounds_verify",
                                             lambda *a, **k: dc.replace(real_bounds(*a, **k), holds=True,
                                                                        decided=True))),
    }
    def condition_kind(q) -> str:
        return str(next(iter(q["prop"].condition.to_dict())) if isinstance(q["prop"].condition.to_dict(), dict)
                   else q["prop"].condition.to_dict())

    for name, (method, patch) in recipes.items():
        n, kinds = 0, set()
        for q in falsifiable:
            if n >= per_recipe:
                break
            if method == "bab" and not isinstance(q["prop"].region, (Flips, Deletions, Insertions, AnyInput)):
                continue
            if condition_kind(q) in kinds:  # one query per condition: each condition's check is exercised
                continue
            undo = patch()
            try:
                r = verify_module.verify(q["model"], q["centre"], q["prop"], method=method, timeout=30)
            finally:
                undo()
            if r.verdict != "verified":
                continue
            cert = make_certificate(q["model"], q["prop"], q["centre"], r)
            key = f"bad-{name}-verified.{q['id']}"
            (out / f"{key}.json").write_text(json.dumps(cert))
            made[key] = f"verified by {method} (engine patched), but brute force falsifies {q['prop'].to_dict()}"
            kinds.add(condition_kind(q))
            n += 1
    # a falsified certificate whose witness is the centre, which does not violate the condition
    n, used = 0, set()
    for path in sorted(Path(good_dir).glob("q*.json")):
        if n >= per_recipe or path.name == "manifest.json":
            continue
        doc = json.loads(path.read_text())
        if doc["verdict"] != "falsified" or doc["centre"] is None or path.stem.split(".")[0] in used:
            continue
        ok, _ = _witness_ok({**doc, "evidence": {**doc["evidence"], "witness": doc["centre"]["raster"]}})
        if ok:
            continue  # the centre violates: it would be a true witness
        from verisnn.model_format import model_from_dict
        from verisnn.verify import raster_sha256

        centre = np.asarray(doc["centre"]["raster"], dtype=np.int8)
        p = int(simulate(model_from_dict(doc["model"]["document"]), centre).prediction[0])
        doc["evidence"] = {**doc["evidence"], "witness": doc["centre"]["raster"], "witness_sha256":
                           raster_sha256(centre), "decision": None if p < 0 else p}
        key = f"bad-witness-not-violating.{path.stem}"
        (out / f"{key}.json").write_text(json.dumps(doc))
        made[key] = f"falsified, but its witness (the centre) does not violate {doc['property']}"
        used.add(path.stem.split(".")[0])
        n += 1
    # a falsified certificate whose witness violates but lies outside the region (one bit more changed)
    n, used = 0, set()
    for path in sorted(Path(good_dir).glob("q*.json")):
        if n >= per_recipe:
            break
        doc = json.loads(path.read_text())
        if doc["verdict"] != "falsified" or doc["centre"] is None or "jitter" in str(doc["property"]["region"]) \
                or doc["property"]["region"] == "any" or path.stem.split(".")[0] in used:
            continue
        from verisnn.model_format import model_from_dict
        from verisnn.verify import raster_sha256

        model = model_from_dict(doc["model"]["document"])
        w0 = np.asarray(doc["evidence"]["witness"], dtype=np.int8)
        for cell in range(w0.size):
            w = w0.copy().reshape(-1)
            w[cell] ^= 1
            w = w.reshape(w0.shape)
            candidate = {**doc, "evidence": {**doc["evidence"], "witness": w.astype(int).tolist()}}
            ok, problem = _witness_ok(candidate)
            if problem != "outside the region":
                continue
            from verisnn.properties import parse_property
            from verisnn.verify import violations

            if not violations(model, parse_property(doc["property"]), w[None], doc["centre"]["reference_decision"])[0]:
                continue
            p = int(simulate(model, w).prediction[0])
            candidate["evidence"].update(witness_sha256=raster_sha256(w), decision=None if p < 0 else p)
            key = f"bad-witness-outside-region.{path.stem}"
            (out / f"{key}.json").write_text(json.dumps(candidate))
            made[key] = f"falsified, but its witness lies outside the region {doc['property']['region']}"
            used.add(path.stem.split(".")[0])
            n += 1
            break
    (out / "bad.json").write_text(json.dumps(made, indent=1))


def _check_set(cert_dir: str, out_file: str, timeout: float) -> None:
    """This copy's checker on every certificate of ``cert_dir`` (valid or not)."""
    from verisnn.checker import check_certificate

    _where()
    results = {}
    for path in sorted(Path(cert_dir).glob("*.json")):
        if path.name in ("manifest.json", "bad.json"):
            continue
        try:
            results[path.stem] = bool(check_certificate(json.loads(path.read_text()), timeout=timeout).valid)
        except Exception as e:
            results[path.stem] = f"checker raised {type(e).__name__}: {e}"[:200]
    Path(out_file).write_text(json.dumps(results, indent=1))


def run_role(args) -> None:
    a = args.role_args
    if args.role == "where":
        _where()
    elif args.role == "produce":
        _produce(a[0], int(a[1]), int(a[2]), float(a[3]))
    elif args.role == "truth":
        _truth(a[0], int(a[1]), int(a[2]))
    elif args.role == "judge":
        _judge(a[0], a[1], a[2], float(a[3]), a[4] == "all")
    elif args.role == "tamper":
        _tamper(a[0], a[1], a[2], int(a[3]), int(a[4]), int(a[5]))
    elif args.role == "check-set":
        _check_set(a[0], a[1], float(a[2]))
    else:
        raise SystemExit(f"unknown role {args.role}")


# ================================================================ the campaign


@dataclasses.dataclass
class Campaign:
    args: argparse.Namespace
    work: Path
    clean: Path
    baseline: dict | None = None
    clean_tests: dict | None = None

    def step(self, copy: Path, name: str, *args: str, timeout: float) -> None:
        code, out, _ = role(copy, name, *args, timeout=timeout)
        if code != 0:
            raise RuntimeError(f"role {name} in {copy} " + ("timed out" if code is None else f"exited {code}")
                               + f":\n{out[-3000:]}")

    def prepare(self) -> None:
        """The clean engine's answers and certificates, the brute-force truth, and the known-bad set."""
        a, w = self.args, self.work
        print(f"sanity (clean copy): {sanity(self.clean)}", flush=True)
        if not a.skip_tests:  # a kill means something only if the clean snapshot passes the same tests
            copy = snapshot_copy(self.clean, w / "clean-tests")
            self.clean_tests = run_tests(copy, a.tests, a.test_timeout)
            shutil.rmtree(copy, ignore_errors=True)
            t = self.clean_tests
            print(f"tests on the clean snapshot: {t['status']} ({t['seconds']} s; files {t['files']}"
                  + (f"; no file matches {t['missing']}" if t.get("missing") else "") + ")", flush=True)
            if t["status"] != "survived":
                message = f"the clean snapshot does not pass the tests: {t['status']} {t['by']}\n{t.get('tail', '')}"
                if not a.allow_clean_failures:
                    raise SystemExit(message + "\n(fix the tests or the tree, choose --tests, or pass "
                                               "--allow-clean-failures to mark kills by the same test)")
                print("WARNING: " + message, flush=True)
        if a.skip_certificates:
            return
        t0 = time.perf_counter()
        batch = (str(a.queries), str(a.pruning_queries))
        self.step(self.clean, "truth", str(w / "truth.json"), *batch, timeout=a.role_timeout)
        self.step(self.clean, "produce", str(w / "baseline"), *batch, str(a.query_timeout), timeout=a.role_timeout)
        self.step(self.clean, "judge", str(w / "baseline"), str(w / "truth.json"), str(w / "baseline.judged.json"),
                  str(a.check_timeout), "all", timeout=a.role_timeout)
        self.step(self.clean, "tamper", str(w / "bad"), str(w / "truth.json"), str(w / "baseline"), *batch, "7",
                  timeout=a.role_timeout)
        self.step(self.clean, "check-set", str(w / "bad"), str(w / "bad.clean.json"), str(a.check_timeout),
                  timeout=a.role_timeout)
        truth = json.loads((w / "truth.json").read_text())
        manifest = json.loads((w / "baseline" / "manifest.json").read_text())
        judged = json.loads((w / "baseline.judged.json").read_text())
        bad_clean = json.loads((w / "bad.clean.json").read_text())
        self.baseline = {"manifest": manifest, "judged": judged}
        verdicts = {}
        for e in manifest.values():
            verdicts[e["verdict"]] = verdicts.get(e["verdict"], 0) + 1
        holds = [t["holds"] for t in truth.values()]
        print(f"baseline: {len(truth)} queries ({holds.count(True)} hold, {holds.count(False)} violated, "
              f"{holds.count(None)} undecided by enumeration), {len(manifest)} answers {verdicts}, "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
        wrong = [k for k, j in judged.items() if j["wrong"]]
        if wrong:
            print(f"WARNING: the CLEAN engine produced {len(wrong)} wrong certificates: {wrong}", flush=True)
        refused = [k for k, j in judged.items() if not j["wrong"] and not j["valid"]]
        if refused:
            print(f"note: the clean checker rejected {len(refused)} right certificates: {refused[:10]}", flush=True)
        accepted = [k for k, v in bad_clean.items() if v is True]
        print(f"known-bad set: {len(bad_clean)} certificates, the clean checker accepts {len(accepted)}"
              + (f": {accepted}" if accepted else ""), flush=True)
        good = w / "good"
        good.mkdir()
        for key, j in judged.items():  # the right, accepted certificates: a mutated checker should accept them too
            if not j["wrong"] and j["valid"] and j["verdict"] in ("verified", "falsified"):
                shutil.copy2(w / "baseline" / f"{key}.json", good / f"{key}.json")

    def run_mutant(self, m: Mutant) -> dict:
        a = self.args
        rec: dict = {"id": m.id, "file": m.path, "what": m.what, "kind": m.kind}
        t0 = time.perf_counter()
        copy = snapshot_copy(self.clean, self.work / "mutants" / m.id)
        try:
            (copy / m.path).write_text(mutant_source(m, copy))
            rec["imports"] = sanity(copy)
            if not a.skip_tests:
                rec["tests"] = run_tests(copy, a.tests, a.test_timeout)
                clean = self.clean_tests or {}
                if clean.get("status") != "survived" and rec["tests"].get("by") == clean.get("by"):
                    rec["tests"]["fails_on_clean_too"] = True
            if not a.skip_certificates:
                if m.kind == "engine":
                    rec.update(self.certificates(m, copy))
                else:
                    rec.update(self.bad_set(m, copy))
        except Exception as e:  # one broken mutant run is reported, the campaign goes on
            rec["error"] = f"{type(e).__name__}: {e}"[-2000:]
        finally:
            if not a.keep:
                shutil.rmtree(copy, ignore_errors=True)
        rec["seconds"] = round(time.perf_counter() - t0, 1)
        return rec

    def certificates(self, m: Mutant, copy: Path) -> dict:
        a, w = self.args, self.work
        certs = w / "certs" / m.id
        self.step(copy, "produce", str(certs), str(a.queries), str(a.pruning_queries), str(a.query_timeout),
                  timeout=a.role_timeout)
        judged_file = w / "certs" / f"{m.id}.judged.json"
        self.step(self.clean, "judge", str(certs), str(w / "truth.json"), str(judged_file), str(a.check_timeout),
                  "all" if a.check_all else "wrong", timeout=a.role_timeout)
        manifest = json.loads((certs / "manifest.json").read_text())
        judged = json.loads(judged_file.read_text())
        base = self.baseline["manifest"]
        changed, compared = [], 0
        for key, e in manifest.items():
            b = base.get(key)
            if b is None or any(x["verdict"] == "unknown" and "timeout" in (x.get("reason") or "") for x in (b, e)):
                continue
            compared += 1
            if e["verdict"] != b["verdict"]:
                changed.append(f"{key}: {b['verdict']} -> {e['verdict']}")
        wrong = {k: j for k, j in judged.items() if j["wrong"]}
        accepted = [k for k, j in wrong.items() if j["valid"]]
        crashes = [k for k, e in manifest.items() if e["verdict"] == "crash"]
        no_cert = [k for k, e in manifest.items() if "certificate_error" in e]
        if not a.keep:
            shutil.rmtree(certs, ignore_errors=True)
        return {"verdicts": {"compared": compared, "changed": len(changed), "examples": changed[:8],
                             "crashes": len(crashes), "certificate_errors": len(no_cert)},
                "certificates": {"produced": len(judged), "wrong": len(wrong),
                                 "wrong_rejected": len(wrong) - len(accepted), "accepted_wrong": accepted,
                                 "wrong_examples": {k: j["why"] for k, j in list(wrong.items())[:6]}}}

    def bad_set(self, m: Mutant, copy: Path) -> dict:
        a, w = self.args, self.work
        results = {}
        for name in ("bad", "good"):
            out = w / f"{name}.{m.id}.json"
            self.step(copy, "check-set", str(w / name), str(out), str(a.check_timeout), timeout=a.role_timeout)
            results[name] = json.loads(out.read_text())
        accepted = [k for k, v in results["bad"].items() if v is True]
        refused = [k for k, v in results["good"].items() if v is not True]
        return {"bad_set": {"count": len(results["bad"]), "accepted": accepted,
                            "good_count": len(results["good"]), "good_rejected": len(refused)}}


def _cell_tests(r: dict) -> str:
    t = r.get("tests")
    if t is None:
        return "not run"
    if t["status"] == "killed":
        return f"killed: `{t['by']}`" + (" (fails on the clean snapshot too)" if t.get("fails_on_clean_too") else "")
    return t["status"]


def table(records: list[dict]) -> str:
    lines = ["| mutant | file | description | changes a verdict? | killed by tests | wrong certificates | "
             "rejected by the kernel |", "|---|---|---|---|---|---|---|"]
    for r in records:
        if "error" in r:
            lines.append(f"| {r['id']} | {r['file']} | {r['what']} | run failed: {r['error'][:120]} | "
                         f"{_cell_tests(r)} | | |")
            continue
        if r["kind"] == "checker":
            b = r.get("bad_set")
            changes = "n/a (checker)"
            wrong = "n/a" if b is None else f"known-bad set: {b['count']}"
            rejected = "not run" if b is None else (f"{b['count'] - len(b['accepted'])}/{b['count']} bad rejected; "
                                                    f"{b['good_rejected']}/{b['good_count']} good rejected")
        else:
            v, c = r.get("verdicts"), r.get("certificates")
            changes = "not run" if v is None else (f"yes ({v['changed']}/{v['compared']})" if v["changed"]
                                                   else f"no (0/{v['compared']})")
            if v is not None and v["crashes"]:
                changes += f", {v['crashes']} crashes"
            wrong = "not run" if c is None else f"{c['wrong']}/{c['produced']}"
            rejected = "not run" if c is None else ("n/a" if not c["wrong"] else f"{c['wrong_rejected']}/{c['wrong']}")
        lines.append(f"| {r['id']} | {r['file']} | {r['what']} | {changes} | {_cell_tests(r)} | {wrong} | "
                     f"{rejected} |")
    return "\n".join(lines)


def summary(records: list[dict]) -> list[str]:
    out = []
    changing = [r for r in records if r.get("verdicts", {}).get("changed")]
    survived = [r["id"] for r in changing if "tests" in r and (r["tests"]["status"] != "killed"
                                                               or r["tests"].get("fails_on_clean_too"))]
    untested = [r["id"] for r in changing if "tests" not in r]
    wrong = sum(r.get("certificates", {}).get("wrong", 0) for r in records)
    accepted = [f"{r['id']}: {k}" for r in records for k in r.get("certificates", {}).get("accepted_wrong", [])]
    bad_accepted = [f"{r['id']}: {k}" for r in records for k in r.get("bad_set", {}).get("accepted", [])]
    out.append(f"- mutants that change a verdict: {len(changing)}; killed by the tests: "
               f"{len(changing) - len(survived) - len(untested)}"
               + (f"; not killed: {', '.join(survived)}" if survived else "")
               + (f"; tests not run: {', '.join(untested)}" if untested else ""))
    out.append(f"- wrong certificates produced: {wrong}; rejected by the clean checker: {wrong - len(accepted)}"
               + (f" (accepted: {', '.join(accepted)})" if accepted else ""))
    out.append("- checker mutants accepting a known-bad certificate: "
               + (", ".join(bad_accepted) if bad_accepted else "none"))
    survivors = [r["id"] for r in records if r.get("tests", {}).get("status") == "survived"]
    out.append(f"- mutants no test kills: {', '.join(survivors) if survivors else 'none'}")
    failed = [r["id"] for r in records if "error" in r]
    if failed:
        out.append(f"- runs that failed (see --json): {', '.join(failed)}")
    return out


def git_state() -> dict:
    def git(*a):
        return subprocess.run(["git", "-C", str(ROOT), *a], capture_output=True, text=True).stdout.strip()
    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", action="append", default=[], help="mutant id(s), comma-separated or repeated")
    p.add_argument("--jobs", type=int, default=1, help="mutants run at once (default 1: the machine is shared)")
    p.add_argument("--json", help="write every per-mutant record here")
    p.add_argument("--tests", default=",".join(DEFAULT_TESTS), help="comma-separated test files (globs)")
    p.add_argument("--test-timeout", type=float, default=1800.0, help="seconds for one mutant's test run")
    p.add_argument("--queries", type=int, default=DEFAULT_QUERIES, help="broad queries (every method)")
    p.add_argument("--pruning-queries", type=int, default=DEFAULT_PRUNING_QUERIES,
                   help="one-layer pruning queries (enumerate, bab, bounds, auto)")
    p.add_argument("--check-all", action="store_true",
                   help="run the clean checker on every certificate of a mutant (default: on the wrong ones)")
    p.add_argument("--query-timeout", type=float, default=20.0, help="seconds per verify call")
    p.add_argument("--check-timeout", type=float, default=60.0, help="seconds per certificate check")
    p.add_argument("--role-timeout", type=float, default=3600.0, help="seconds for one batch (produce, judge, ...)")
    p.add_argument("--commit", help="copy this commit (git archive) instead of the working tree")
    p.add_argument("--skip-tests", action="store_true")
    p.add_argument("--allow-clean-failures", action="store_true",
                   help="go on when the clean snapshot fails the tests (kills by the same test are marked)")
    p.add_argument("--skip-certificates", action="store_true")
    p.add_argument("--keep", action="store_true", help="keep the copies and certificates")
    p.add_argument("--workdir", help="where the copies go (default: a new temporary folder)")
    p.add_argument("--list", action="store_true", help="list the mutants and exit")
    p.add_argument("--validate", action="store_true", help="check that every mutant applies, and exit")
    p.add_argument("--role", help=argparse.SUPPRESS)
    p.add_argument("role_args", nargs="*", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.role:
        run_role(args)
        return 0
    args.tests = [t for t in args.tests.split(",") if t]
    wanted = [x for chunk in args.only for x in chunk.split(",") if x]
    ids = {m.id for m in MUTANTS}
    unknown = [x for x in wanted if x not in ids]
    if unknown:
        p.error(f"unknown mutant id(s) {unknown}; --list shows them")
    mutants = [m for m in MUTANTS if not wanted or m.id in wanted]
    if args.list:
        for m in MUTANTS:
            print(f"{m.id:30} {m.kind:8} {m.path:24} {m.what}")
        return 0
    work = Path(args.workdir).resolve() if args.workdir else Path(tempfile.mkdtemp(prefix="verisnn-mutation-"))
    work.mkdir(parents=True, exist_ok=True)
    clean = make_copy(ROOT, work / "clean", args.commit)
    problems = validate(list(MUTANTS), clean)  # all of them: a stale mutant is fixed, not skipped
    if problems:
        print("mutants that do not apply (each must occur exactly once):\n  " + "\n  ".join(problems),
              file=sys.stderr)
        return 2
    if args.validate:
        print(f"all {len(MUTANTS)} mutants apply ({sum(m.kind == 'checker' for m in MUTANTS)} checker mutants)")
        return 0
    state = git_state()
    print(f"mutation campaign: {len(mutants)} mutants, commit {state['commit'][:12]}"
          f"{' (working tree with uncommitted changes)' if state['dirty'] and not args.commit else ''}, "
          f"tests {args.tests}, {args.queries} queries x {len(METHODS)} methods + {args.pruning_queries} x "
          f"{len(FAST_METHODS)}, work in {work}", flush=True)
    campaign = Campaign(args, work, clean)
    campaign.prepare()
    records: list[dict] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {pool.submit(campaign.run_mutant, m): m for m in mutants}
        for f in concurrent.futures.as_completed(futures):
            r = f.result()
            records.append(r)
            print(f"[{len(records)}/{len(mutants)}] {r['id']}: tests {_cell_tests(r)}; "
                  f"{json.dumps({k: r[k] for k in ('verdicts', 'certificates', 'bad_set', 'error') if k in r})} "
                  f"({r['seconds']} s)", flush=True)
    order = {m.id: k for k, m in enumerate(MUTANTS)}
    records.sort(key=lambda r: order[r["id"]])
    print()
    print(table(records))
    print()
    print("\n".join(summary(records)))
    if args.json:
        Path(args.json).write_text(json.dumps({"git": state, "machine": platform.node(), "tests": args.tests,
                                               "queries": args.queries, "pruning_queries": args.pruning_queries,
                                               "mutants": records}, indent=1))
    if not args.keep:
        shutil.rmtree(work / "mutants", ignore_errors=True)
        shutil.rmtree(clean, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
