"""The SMT encodings, differentially against brute force: every raster of a small region
is enumerated here (itertools, independently of the engine's enumerator) and checked with
:func:`verisnn.verify.violations`; the solver's verdict must agree, every witness must
replay, and the exported SMT-LIB must parse back to the same answer. Every combination of
arithmetic (``lia``: QF_LIA, ``bv``: QF_BV) and term factory (pysmt, ``z3-native``) is
checked, and the bit-vector form is checked bit-true against the simulator on models that
really wrap."""

from __future__ import annotations

import time

import numpy as np
import pytest
import z3
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from conftest import decays, models, rasters, reference_decision, region_members
from verisnn import semantics, simulate
from verisnn.encodings.smt import (ARITHMETICS, NATIVE_Z3, SymbolicOps, Z3Factory, encode, make_factory,
                                   parse_smtlib, region_inputs, signed_width, smt_verify, solve, symbolic_params)
from verisnn.model import Dense, InputSpec, Model, Neuron, Readout
from verisnn.properties import (AnyInput, DecidedBy, Deletions, FirstSpikeBy, Flips, Insertions, Jitter,
                                NeverFires, NoOverflow, Property, Robust, SpikesAtMost, SynopsAtMost)
from verisnn.verify import overflowed, verify, violations

# (solver, logic): pysmt and native z3 terms, each in both arithmetics
BACKENDS = [("z3", "lia"), ("z3", "bv"), (NATIVE_Z3, "lia"), (NATIVE_Z3, "bv")]




def _conditions(model) -> list:
    conds = [Robust(), DecidedBy(max(1, model.time_steps - 1)), SpikesAtMost(2), SynopsAtMost(8), NoOverflow()]
    if model.layers[-1].neuron.fires:
        conds.append(FirstSpikeBy(max(1, model.time_steps - 1)))
    if model.layers[0].neuron.fires:
        conds.append(NeverFires(0, 0))
    return conds




def _check_against_brute_force(model, centre, prop, solver: str, logic: str, round_trip: bool = True):
    reference = reference_decision(model, centre)
    members = region_members(prop.region, centre)
    bad = violations(model, prop, members, reference)
    result = smt_verify(model, centre, prop, solver=solver, logic=logic)
    assert result.verdict in ("verified", "falsified"), result.reason
    assert (result.verdict == "falsified") == bool(bad.any()), (result.verdict, int(bad.sum()))
    if result.verdict == "falsified":
        assert any(np.array_equal(result.witness, m) for m in members)  # in the region
        assert violations(model, prop, result.witness[None], reference)[0]
        assert result.details["replayed"] is True
    else:
        smtlib = result.evidence["smtlib"]
        assert result.evidence["answer"] == "unsat" and "(check-sat)" in smtlib
        assert result.evidence["logic"] == ARITHMETICS[logic].logic and f"(set-logic {result.evidence['logic']})" \
            in smtlib
    if not round_trip or (isinstance(prop.condition, Robust) and reference is None):
        return  # (answered from the centre alone, without a query)
    # the exported query, parsed back by pysmt into a fresh environment, gets the same answer
    enc = encode(model, centre, prop, logic=logic, solver=solver)
    formula, env = parse_smtlib(enc.to_smtlib())
    assert solve(formula, env, logic=enc.logic).answer == ("sat" if bad.any() else "unsat")


REGIONS = [Flips(1), Flips(2), Deletions(1), Deletions(2), Insertions(1), Insertions(2), AnyInput()]


@pytest.mark.parametrize("solver,logic", BACKENDS)
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_smt_agrees_with_brute_force(solver, logic, data):
    model = data.draw(models().filter(lambda m: m.time_steps * m.input.size <= 10))
    centre = data.draw(rasters(model))
    prop = Property(region=data.draw(st.sampled_from(REGIONS)),
                    condition=data.draw(st.sampled_from(_conditions(model))))
    _check_against_brute_force(model, centre, prop, solver, logic)


# ---------------------------------------------------------------- models that really wrap


@st.composite
def wrapping_models(draw) -> Model:
    """Small dense models whose membranes live in 3 or 4 bits with ``wrap``, and weights
    large enough to leave that range: every leak, rounding, reset and recurrence."""
    T = draw(st.integers(2, 4))
    size = n_in = draw(st.integers(1, 3))
    layers = []
    for _ in range(draw(st.integers(1, 2))):
        out = draw(st.integers(1, 3))
        bits = draw(st.sampled_from((3, 4)))
        hi = (1 << (bits - 1)) - 1
        kind = draw(st.sampled_from(("if", "lif", "cuba_lif")))
        neuron = Neuron(out, kind, threshold=draw(st.integers(0, hi)), fire_when=draw(st.sampled_from((">=", ">"))),
                        v_decay=draw(decays(out, leaky=kind != "if")),
                        i_decay=draw(decays(out, leaky=True)) if kind == "cuba_lif" else None,
                        rounding=draw(st.sampled_from(("floor", "toward_zero"))),
                        reset=draw(st.sampled_from(("subtract", "to_value", "none"))),
                        v_reset=draw(st.integers(-hi - 1, hi)), refractory=draw(st.integers(0, 1)),
                        v_bits=bits, on_overflow="wrap")
        weight = draw(hnp.arrays(np.int64, (out, size), elements=st.integers(-9, 9)))
        rec = draw(st.none() | hnp.arrays(np.int64, (out, out), elements=st.integers(-5, 5)))
        layers.append(Dense(weight, neuron, bias=draw(hnp.arrays(np.int64, (out,), elements=st.integers(-3, 3))),
                            recurrent=rec))
        size = out
    readout = Readout(draw(st.sampled_from(("spike_count", "first_spike"))))
    return Model(time_steps=T, input=InputSpec(n_in), layers=tuple(layers), readout=readout)


def _run_symbolic(model, centre, solver, logic):
    """The symbolic run over every input (region ``any``): terms, inputs, region constraint, ops."""
    factory = make_factory(solver)
    terms = ARITHMETICS[logic](factory)
    with factory.active():
        x, region = region_inputs(terms, AnyInput(), centre)
        ops = SymbolicOps(terms)
        outputs, membranes = semantics.run_layers(ops, model, symbolic_params(model), x, (), record_membranes=True)
    return factory, terms, x, region, outputs, membranes


@pytest.mark.parametrize("solver,logic", BACKENDS)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_every_membrane_is_bit_true_where_wrapping_happens(solver, logic, data):
    """Fix the input of the symbolic run to a raster and read every membrane and output
    back from the solver: they equal the reference simulator's, on runs that wrap."""
    model = data.draw(wrapping_models())
    raster = data.draw(rasters(model))
    assume(overflowed(model, raster[None])[0])  # the run really wraps
    factory, terms, x, region, outputs, membranes = _run_symbolic(model, raster, solver, logic)
    with factory.active():
        fixed = terms.and_([region] + terms.definitions + [terms.eq(x[i], int(raster[i])) for i in np.ndindex(x.shape)])
        seqs = outputs + membranes
        wanted = [terms.term(v) for seq in seqs for v in seq.reshape(-1)]
        ans = factory.check(fixed, terms.logic, None, wanted)
    assert ans.answer == "sat"
    sim = simulate(model, raster, record_membranes=True)
    expected = np.concatenate([a[0].reshape(-1) for a in sim.layer_outputs + sim.membranes])
    assert np.array_equal(np.array(ans.values), expected.astype(np.int64))


@pytest.mark.parametrize("solver,logic", BACKENDS)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_wrapping_models_agree_with_brute_force(solver, logic, data):
    model = data.draw(wrapping_models())
    centre = data.draw(rasters(model))
    region = data.draw(st.sampled_from([Flips(1), Flips(2), AnyInput()]))
    assume(overflowed(model, region_members(region, centre)).any())
    cond = data.draw(st.sampled_from([Robust(), SpikesAtMost(3), NoOverflow(), NeverFires(0, 0),
                                      FirstSpikeBy(model.time_steps - 1)]))
    _check_against_brute_force(model, centre, Property(region, cond), solver, logic, round_trip=False)


@pytest.mark.parametrize("solver,logic", BACKENDS)
def test_decay_and_wrap_are_exact(solver, logic):
    # negative membranes through both roundings and wrap-around, on a larger space than the random models
    for rounding in ("floor", "toward_zero"):
        neuron = Neuron(2, "lif", threshold=3, v_decay=(3, 2), rounding=rounding, v_bits=4, on_overflow="wrap",
                        reset="none")
        model = Model(time_steps=4, input=InputSpec(3),
                      layers=(Dense([[5, -7, 2], [-3, 4, -6]], neuron),), readout=Readout("spike_count"))
        centre = np.array([[1, 0, 1], [0, 1, 1], [1, 1, 0], [0, 0, 1]], dtype=np.int8)
        assert overflowed(model, region_members(Flips(2), centre)).any()
        for cond in (SpikesAtMost(3), NoOverflow(), Robust()):
            _check_against_brute_force(model, centre, Property(Flips(2), cond), solver, logic)


def test_cvc5_through_pysmt_agrees_with_brute_force():
    """cvc5 (its Python bindings, driven by pysmt) in both arithmetics, on the same random models."""
    @settings(max_examples=40, deadline=None)
    @given(st.data(), st.sampled_from(["lia", "bv"]))
    def check(data, logic):
        model = data.draw(models().filter(lambda m: m.time_steps * m.input.size <= 8))
        centre = data.draw(rasters(model))
        prop = Property(data.draw(st.sampled_from(REGIONS)), data.draw(st.sampled_from(_conditions(model))))
        _check_against_brute_force(model, centre, prop, "cvc5", logic, round_trip=False)
    check()


def test_enumeration_and_every_backend_agree_on_a_verified_query():
    # a query every backend proves, with the evidence of its own logic
    eye = np.eye(3, dtype=np.int64)
    model = Model(time_steps=2, input=InputSpec(3), layers=(Dense(eye, Neuron(3, "if", threshold=1)),),
                  readout=Readout("spike_count", ties="invalid"))
    centre = np.array([[1, 1, 0], [1, 0, 0]], dtype=np.int8)
    prop = Property(Flips(2), SpikesAtMost(5))
    assert verify(model, centre, prop, method="enumerate").verdict == "verified"
    for solver, logic in BACKENDS + [("cvc5", "lia"), ("cvc5", "bv")]:
        r = smt_verify(model, centre, prop, solver=solver, logic=logic)
        assert r.verdict == "verified", (solver, logic, r.reason)
        assert r.evidence["solver"] == solver and r.details["logic"] == logic
        formula, env = parse_smtlib(r.evidence["smtlib"])
        assert solve(formula, env, logic=r.evidence["logic"]).answer == "unsat"
        assert ("() Int)" in r.evidence["smtlib"]) == (logic == "lia")  # QF_BV declares no integer


def test_signed_width_is_the_fewest_bits():
    for lo in range(-40, 41):
        for hi in range(lo, 41):
            w = signed_width(lo, hi)
            assert -(1 << (w - 1)) <= lo and hi <= (1 << (w - 1)) - 1
            assert w == 1 or not (-(1 << (w - 2)) <= lo and hi <= (1 << (w - 2)) - 1)


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
    for solver, logic in BACKENDS:
        result = smt_verify(model, centre, prop, solver=solver, logic=logic)
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
    for solver, logic in BACKENDS:
        # a tie goes to class 0, so class 1 must get strictly more spikes: 1-2 needs three flips
        for region, verdict in ((Flips(2), "verified"), (Insertions(2), "verified"), (Flips(3), "falsified")):
            assert smt_verify(model, centre, Property(region, Robust()), solver=solver,
                              logic=logic).verdict == verdict, (solver, logic, region)
        # from decision 1 (0 vs 2 spikes), two insertions make the tie 2-2, which goes to class 0
        assert smt_verify(model, np.array([[0, 1], [0, 1]], dtype=np.int8), Property(Insertions(2), Robust()),
                          solver=solver, logic=logic).verdict == "falsified"


def _pigeonhole_pysmt(n: int = 10):
    """``n`` pigeons in ``n - 1`` holes (unsat, and hard for a solver to refute)."""
    from pysmt.environment import Environment
    from pysmt.typing import INT

    env = Environment()
    m = env.formula_manager
    p = [m.Symbol(f"p{i}", INT) for i in range(n)]
    return m.And([m.And(m.LE(m.Int(0), v), m.LE(v, m.Int(n - 2))) for v in p] + [m.AllDifferent(p)]), env


def test_timeouts_are_unknown_never_verified():
    model = _three_classes()
    centre = np.array([[1, 1, 0], [1, 0, 0]], dtype=np.int8)
    for solver, logic in BACKENDS + [("cvc5", "bv")]:
        r = smt_verify(model, centre, Property(Flips(1), SpikesAtMost(100)), timeout=0.0, solver=solver, logic=logic)
        assert r.verdict == "unknown" and "timeout" in r.reason, (solver, logic)
    # the solvers' own limits: a pigeonhole formula (10 pigeons, 9 holes) none refutes in 1 ms
    php, env = _pigeonhole_pysmt()
    for solver in ("z3", "cvc5"):
        ans = solve(php, env, solver=solver, timeout=0.001)
        assert ans.answer == "unknown" and "timeout" in ans.reason, (solver, ans.reason)
    f = Z3Factory()
    p = [z3.Int(f"p{i}", f.ctx) for i in range(10)]
    ans = f.check(z3.And([z3.And(0 <= v, v <= 8) for v in p] + [z3.Distinct(p)]), "QF_LIA", 0.001, [])
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
    r = smt_verify(model, np.array([[1, 0, 0], [0, 0, 0]]), Property(Flips(1), Robust()), logic="lra")
    assert r.verdict == "error" and "lra" in r.reason


def test_the_timeout_also_bounds_building_the_encoding():
    """A model whose encoding alone takes seconds: the timeout stops the building, and the
    answer is unknown well before the encoding would have finished."""
    rng = np.random.default_rng(0)
    layers = (Dense(rng.integers(-3, 4, (120, 400)), Neuron(120, "lif", threshold=8, v_decay=(7, 3))),
              Dense(rng.integers(-3, 4, (10, 120)), Neuron(10, "lif", threshold=8, v_decay=(7, 3))))
    model = Model(time_steps=8, input=InputSpec(400), layers=layers)
    centre = (rng.random((8, 400)) < 0.2).astype(np.int8)
    for solver, logic in (("z3", "lia"), (NATIVE_Z3, "bv")):
        start = time.perf_counter()
        result = smt_verify(model, centre, Property(Flips(1), SpikesAtMost(10 ** 6)), timeout=0.3, solver=solver,
                            logic=logic)
        assert result.verdict == "unknown" and "while encoding" in result.reason
        assert time.perf_counter() - start < 3.0
