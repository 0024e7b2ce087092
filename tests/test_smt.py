"""The SMT encoding, differentially against brute force: every raster of a small region
is enumerated here (itertools, independently of the engine's enumerator) and checked with
:func:`verisnn.verify.violations`; the solver's verdict must agree, every witness must
replay, and the exported SMT-LIB must parse back to the same answer."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import models, rasters
from verisnn import simulate
from verisnn.encodings.smt import encode, parse_smtlib, smt_verify, solve
from verisnn.model import Dense, InputSpec, Model, Neuron, Readout
from verisnn.properties import (AnyInput, DecidedBy, Deletions, FirstSpikeBy, Flips, Insertions, Jitter,
                                NeverFires, NoOverflow, Property, Robust, SpikesAtMost, SynopsAtMost)
from verisnn.verify import violations


def _members(region, centre: np.ndarray) -> np.ndarray:
    """Every raster of the region, ``[B, T, n]``, from the region's definition."""
    flat = centre.reshape(-1)
    if isinstance(region, Deletions):
        pos = np.flatnonzero(flat == 1)
    elif isinstance(region, Insertions):
        pos = np.flatnonzero(flat == 0)
    else:
        pos = np.arange(flat.size)
    k = len(pos) if isinstance(region, AnyInput) else region.k
    out = []
    for j in range(min(k, len(pos)) + 1):
        for combo in itertools.combinations(pos, j):
            r = flat.copy()
            r[list(combo)] ^= 1
            out.append(r.reshape(centre.shape))
    return np.stack(out).astype(np.int8)


def _conditions(model) -> list:
    conds = [Robust(), DecidedBy(max(1, model.time_steps - 1)), SpikesAtMost(2), SynopsAtMost(8), NoOverflow()]
    if model.layers[-1].neuron.fires:
        conds.append(FirstSpikeBy(max(1, model.time_steps - 1)))
    if model.layers[0].neuron.fires:
        conds.append(NeverFires(0, 0))
    return conds


def _reference(model, centre):
    ref = int(simulate(model, centre).prediction[0])
    return None if ref < 0 else ref


@settings(max_examples=120, deadline=None)
@given(st.data())
def test_smt_agrees_with_brute_force(data):
    model = data.draw(models().filter(lambda m: m.time_steps * m.input.size <= 10))
    centre = data.draw(rasters(model))
    region = data.draw(st.sampled_from([Flips(1), Flips(2), Deletions(1), Deletions(2), Insertions(1),
                                        Insertions(2), AnyInput()]))
    cond = data.draw(st.sampled_from(_conditions(model)))
    prop = Property(region=region, condition=cond)
    reference = _reference(model, centre)
    members = _members(region, centre)
    bad = violations(model, prop, members, reference)
    result = smt_verify(model, centre, prop)
    assert result.verdict in ("verified", "falsified"), result.reason
    assert (result.verdict == "falsified") == bool(bad.any()), (result.verdict, int(bad.sum()))
    if result.verdict == "falsified":
        assert any(np.array_equal(result.witness, m) for m in members)  # in the region
        assert violations(model, prop, result.witness[None], reference)[0]
        assert result.details["replayed"] is True
    else:
        assert result.evidence["answer"] == "unsat" and "(check-sat)" in result.evidence["smtlib"]
    if isinstance(cond, Robust) and reference is None:
        return  # answered from the centre alone, without a query
    # the exported query, parsed back into a fresh environment, gets the same answer
    enc = encode(model, centre, prop)
    formula, env = parse_smtlib(enc.to_smtlib())
    assert solve(formula, env).answer == ("sat" if bad.any() else "unsat")


def _three_classes() -> Model:
    """Output j counts input j's spikes (IF, threshold 1): the decision is the busiest input."""
    eye = np.eye(3, dtype=np.int64)
    return Model(time_steps=2, input=InputSpec(3), layers=(Dense(eye, Neuron(3, "if", threshold=1)),),
                 readout=Readout("spike_count", ties="invalid"))


def test_robust_needs_a_disjunction_over_other_classes():
    # class 0 fires twice, class 1 once, class 2 never: one insertion lets class 1 tie class 0
    # (no decision: a violation), but no single insertion makes BOTH other classes reach class 0
    model = _three_classes()
    centre = np.array([[1, 1, 0], [1, 0, 0]], dtype=np.int8)
    prop = Property(Insertions(1), Robust())
    result = smt_verify(model, centre, prop)
    assert result.verdict == "falsified"
    assert simulate(model, result.witness).prediction[0] != 0
    enc = encode(model, centre, prop)
    mgr = enc.env.formula_manager
    ref = enc.reference
    conjunction = mgr.And([mgr.GE(enc.scores[j], enc.scores[ref]) for j in range(3) if j != ref])
    wrong = mgr.And(enc.parts["region"], enc.parts["definitions"], conjunction)
    assert solve(wrong, enc.env).answer == "unsat"  # the published conjunction would claim 'verified'


def test_ties_lowest_index():
    model = Model(time_steps=2, input=InputSpec(2), layers=(Dense(np.eye(2, dtype=np.int64), Neuron(2, "if", 1)),),
                  readout=Readout("spike_count", ties="lowest_index"))
    centre = np.array([[1, 0], [1, 0]], dtype=np.int8)  # decision 0 (2 spikes vs 0)
    # a tie goes to class 0, so class 1 must get strictly more spikes: 1-2 needs three flips
    for region, verdict in ((Flips(2), "verified"), (Insertions(2), "verified"), (Flips(3), "falsified")):
        assert smt_verify(model, centre, Property(region, Robust())).verdict == verdict, region
    # from decision 1 (0 vs 2 spikes), two insertions make the tie 2-2, which goes to class 0
    assert smt_verify(model, np.array([[0, 1], [0, 1]], dtype=np.int8),
                      Property(Insertions(2), Robust())).verdict == "falsified"


def test_timeouts_are_unknown_never_verified():
    model = _three_classes()
    centre = np.array([[1, 1, 0], [1, 0, 0]], dtype=np.int8)
    r = smt_verify(model, centre, Property(Flips(1), SpikesAtMost(100)), timeout=0.0)
    assert r.verdict == "unknown" and "timeout" in r.reason
    # the solver's own limit: a pigeonhole formula (10 pigeons, 9 holes) that z3 cannot refute in 1 ms
    from pysmt.environment import Environment
    env = Environment()
    m = env.formula_manager
    from pysmt.typing import INT
    p = [m.Symbol(f"p{i}", INT) for i in range(10)]
    php = m.And([m.And(m.LE(m.Int(0), v), m.LE(v, m.Int(8))) for v in p] + [m.AllDifferent(p)])
    ans = solve(php, env, timeout=0.001)
    assert ans.answer == "unknown" and "timeout" in ans.reason


def test_unsupported_inputs_are_errors():
    model = _three_classes()
    centre = np.zeros((2, 3), dtype=np.int8)
    r = smt_verify(model, centre, Property(Jitter(1, 1), SpikesAtMost(0)))
    assert r.verdict == "error" and "jitter" in r.reason.lower()
    r = smt_verify(model, np.zeros((3, 3)), Property(Flips(1), Robust()))
    assert r.verdict == "error" and "T=3" in r.reason
    r = smt_verify(model, np.array([[1, 0, 0], [0, 0, 0]]), Property(Flips(1), Robust()), solver="nosuch")
    assert r.verdict == "unknown" and "nosuch" in r.reason


def test_decay_and_wrap_definitions_are_exact():
    # negative membranes through both roundings and wrap-around, on a larger space than the random models
    for rounding in ("floor", "toward_zero"):
        neuron = Neuron(2, "lif", threshold=3, v_decay=(3, 2), rounding=rounding, v_bits=4, on_overflow="wrap",
                        reset="none")
        model = Model(time_steps=4, input=InputSpec(3),
                      layers=(Dense([[5, -7, 2], [-3, 4, -6]], neuron),), readout=Readout("spike_count"))
        centre = np.array([[1, 0, 1], [0, 1, 1], [1, 1, 0], [0, 0, 1]], dtype=np.int8)
        for cond in (SpikesAtMost(3), NoOverflow(), Robust()):
            prop = Property(Flips(2), cond)
            bad = violations(model, prop, _members(Flips(2), centre), _reference(model, centre))
            assert (smt_verify(model, centre, prop).verdict == "falsified") == bool(bad.any()), (rounding, cond)


def test_the_timeout_also_bounds_building_the_encoding():
    """A model whose encoding alone takes seconds: the timeout stops the building, and the
    answer is unknown well before the encoding would have finished."""
    import time

    rng = np.random.default_rng(0)
    layers = (Dense(rng.integers(-3, 4, (120, 400)), Neuron(120, "lif", threshold=8, v_decay=(7, 3))),
              Dense(rng.integers(-3, 4, (10, 120)), Neuron(10, "lif", threshold=8, v_decay=(7, 3))))
    model = Model(time_steps=8, input=InputSpec(400), layers=layers)
    centre = (rng.random((8, 400)) < 0.2).astype(np.int8)
    start = time.perf_counter()
    result = smt_verify(model, centre, Property(Flips(1), SpikesAtMost(10 ** 6)), timeout=0.3)
    assert result.verdict == "unknown" and "while encoding" in result.reason
    assert time.perf_counter() - start < 3.0
