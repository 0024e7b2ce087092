"""The soundness net: every verification method against the trusted kernel's brute force.

Every cell (region kind x bounded condition x readout x tie rule, :func:`soundness_cases.cells`)
is drawn ``EXAMPLES_PER_CELL`` times with a generator seeded by the cell's name, and every
example is put to every method of ``verisnn.verify`` (enumerate, bab, bounds, smt, cpsat,
auto). The oracle is ``verisnn.kernel`` (its own region enumeration, simulator and
conditions), never the engine's code; ``tests/soundness_cases.py`` says how, including the
intensity regions, whose exact listing only the engine computes. Asserted:

1. a ``verified`` answer is never contradicted by the kernel's brute force;
2. a ``falsified`` witness lies in the region (kernel ``regions.contains``; for intensity its
   analog witness is in the ball and encodes to it, by the kernel) and violates the condition
   on the kernel's simulator;
3. every method answers both ``verified`` and ``falsified`` (``bounds`` can only prove);
4. ``unknown`` is counted: at most ``MAX_UNKNOWN_SHARE`` of a method's queries, ``bounds``
   proves at least ``MIN_BOUNDS_PROOFS`` of the true ones, and a method declines a region as a
   whole only where ``REFUSED_REGIONS`` says so;
5. bab really prunes on the conditions and readouts its pruning argument covers.

The unbounded methods (k-induction, PDR, BMC, explore, auto) are held against an explicit-state
search over the kernel's own ``network.step``.

The three planted bugs of issue 15, each planted alone, fail these tests (CI mode, measured):
bab's lead test one step short: ``test_answers_agree_with_the_kernels_brute_force[bab-deletions]``,
``[bab-insertions]``, ``[bab-any]``; ``surely_wins`` taking a tie with a lower class as a win:
``[bab-flips]``, ``[bab-insertions]``, ``[bounds-deletions]``, ``[bounds-insertions]``,
``[bounds-any]``, ``[auto-deletions]``, ``[auto-insertions]``, ``[auto-any]``; bab pruning a
``first_spike`` model with the spike-count argument: ``[bab-flips]``, ``[bab-insertions]``
(7 examples, most of them the duel models of ``soundness_cases.draw_duel``).
"""

from __future__ import annotations

import collections
import functools

import pytest

from soundness_cases import (DECISION_CONDITIONS, METHODS, REFUSED_REGIONS, REGIONS, UNBOUNDED_CONDITIONS,
                             UNBOUNDED_METHODS, cells, draw_example, draw_unbounded_example, examples_in,
                             judge_unbounded, run_example)

EXAMPLES_PER_CELL = 3  # 312 cells, 72 of them twice (examples_in): 1,152 examples, 6,912 bounded queries
UNBOUNDED_EXAMPLES = 4  # per unbounded condition
UNBOUNDED_TIMEOUT_S = 10.0
MAX_UNKNOWN_SHARE = 0.10  # of a method's answered (not declined) queries
# The unbounded solvers on these 12 queries: z3's Spacer (pdr) times out at 10 s on two 2-input
# no_overflow models (measured 2 of 12); a share above this fails (3 of 12 would).
MAX_UNBOUNDED_UNKNOWN_SHARE = 0.20
MIN_BOUNDS_PROOFS = 0.25  # of the true properties bounds is asked
# of bab's decision-condition examples on spike_count / first_spike readouts (about 0.5 to 0.6 measured)
MIN_PRUNING_SHARE = 0.4


@functools.lru_cache(maxsize=None)
def examples(region: str) -> tuple:
    return tuple(draw_example(cell, i) for cell in cells() if cell.region == region
                 for i in range(examples_in(cell, EXAMPLES_PER_CELL)))


@functools.lru_cache(maxsize=None)
def outcomes(method: str, region: str) -> tuple:
    return tuple((ex, run_example(ex, (method,))[0]) for ex in examples(region))


def _all(method: str) -> list:
    return [pair for region in REGIONS for pair in outcomes(method, region)]


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize("method", METHODS)
def test_answers_agree_with_the_kernels_brute_force(method, region):
    pairs = outcomes(method, region)
    wrong = [f"{o.label}: " + "; ".join(o.problems) + "\n" + ex.describe() for ex, o in pairs if o.problems]
    assert not wrong, f"{len(wrong)} wrong answers of {method} on {region} regions:\n" + "\n\n".join(wrong[:5])
    by_cell = collections.defaultdict(list)
    for ex, o in pairs:
        by_cell[ex.cell.name].append(o)
    if (method, region) in REFUSED_REGIONS:
        assert all(o.refused or o.verdict == "falsified" for ex, o in pairs)
    elif method != "bounds":  # (bounds only prove: their unknowns are counted in the next test)
        declined = [name for name, outs in by_cell.items() if all(o.verdict in ("unknown", "error") for o in outs)]
        assert len(declined) <= MAX_UNKNOWN_SHARE * len(by_cell), \
            f"{method} answers no example of {len(declined)} cells: {declined[:10]}"


@pytest.mark.parametrize("method", METHODS)
def test_each_method_answers_both_ways_and_rarely_unknown(method):
    pairs = _all(method)
    answered = [o for ex, o in pairs if not o.refused]
    counts = collections.Counter(o.verdict for o in answered)
    assert counts["verified"] > 0, f"{method} never verified: {dict(counts)}"
    if method == "bounds":  # interval bounds only prove; an unknown on a false property is their answer
        true = [o for o in answered if o.truth_holds]
        proved = sum(o.verdict == "verified" for o in true)
        assert proved >= MIN_BOUNDS_PROOFS * len(true), f"bounds proved {proved} of {len(true)} true properties"
        return
    assert counts["falsified"] > 0, f"{method} never falsified: {dict(counts)}"
    unknown = [o for o in answered if o.verdict == "unknown"]
    assert len(unknown) <= MAX_UNKNOWN_SHARE * len(answered), \
        f"{method}: {len(unknown)} unknown of {len(answered)}, e.g. " + "; ".join(
            f"{o.label}: {o.reason}" for o in unknown[:5])


def test_every_cell_is_drawn_and_both_truths_occur():
    drawn = collections.Counter(ex.cell for region in REGIONS for ex in examples(region))
    assert set(drawn) == set(cells()) and all(drawn[c] == examples_in(c, EXAMPLES_PER_CELL) for c in cells())
    for region in REGIONS:
        holds = sum(ex.truth.holds for ex in examples(region))
        assert 0.2 * len(examples(region)) <= holds <= 0.8 * len(examples(region)), \
            f"{region}: {holds} of {len(examples(region))} examples hold"


def test_bab_really_prunes():
    """The pruning argument must be exercised, not only the leaves: on decision conditions
    with spike_count and first_spike readouts, most examples prune some prefix."""
    pairs = [(ex, o) for ex, o in _all("bab") if not o.refused and ex.cell.condition in DECISION_CONDITIONS
             and ex.cell.readout in ("spike_count", "first_spike")]
    for readout in ("spike_count", "first_spike"):
        for condition in DECISION_CONDITIONS:
            # (robust on a centre without a decision is falsified before any tree is walked)
            group = [o for ex, o in pairs if ex.cell.readout == readout and ex.cell.condition == condition
                     and (ex.truth.reference is not None or condition != "robust")]
            assert group and all(o.pruned is not None for o in group), \
                f"bab's record lacks rasters_pruned: {[o.label for o in group if o.pruned is None][:5]}"
            pruned = [o for o in group if o.pruned]
            assert len(pruned) >= MIN_PRUNING_SHARE * len(group), \
                f"bab pruned in {len(pruned)} of {len(group)} {condition} examples on {readout} readouts"


# ---------------------------------------------------------------- the unbounded horizon


@functools.lru_cache(maxsize=None)
def unbounded_examples() -> tuple:
    return tuple(draw_unbounded_example(c, i) for c in UNBOUNDED_CONDITIONS for i in range(UNBOUNDED_EXAMPLES))


def test_unbounded_examples_hold_and_fail():
    truths = collections.Counter((ex.condition, ex.shortest is None) for ex in unbounded_examples())
    assert sum(v for (c, holds), v in truths.items() if holds) >= 2, dict(truths)
    assert sum(v for (c, holds), v in truths.items() if not holds) >= 2, dict(truths)


@pytest.mark.parametrize("method", UNBOUNDED_METHODS)
def test_unbounded_answers_agree_with_explicit_search(method):
    from verisnn.unbounded import verify_unbounded

    wrong, unknown, counts = [], [], collections.Counter()
    for ex in unbounded_examples():
        result = verify_unbounded(ex.model, ex.prop, method=method, timeout=UNBOUNDED_TIMEOUT_S)
        counts[result.verdict] += 1
        problems = judge_unbounded(ex, method, result)
        if problems:
            wrong.append(f"{ex.label}: " + "; ".join(problems) + "\n" + ex.describe())
        # bmc proves nothing: its unknown on a property that holds is its answer
        if result.verdict == "unknown" and not (method == "bmc" and ex.shortest is None):
            unknown.append(f"{ex.label}: {result.reason}")
    assert not wrong, "\n\n".join(wrong)
    assert counts["falsified"] > 0 and (method == "bmc" or counts["verified"] > 0), dict(counts)
    assert len(unknown) <= MAX_UNBOUNDED_UNKNOWN_SHARE * len(unbounded_examples()), \
        f"{method}: {len(unknown)} unknown of {len(unbounded_examples())}: " + "; ".join(unknown)
