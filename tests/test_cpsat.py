"""The CP-SAT encoding, differentially against brute-force enumeration: on random small models
of every semantics option, every raster region it encodes and every condition, its verdict
must agree with ``verify(..., method="enumerate")``, every witness must replay, and the
exported model must solve to the same status. Also: the bounds it is built on are exactly
:func:`verisnn.bounds.propagate`'s, and the spikes they decide carry no variable."""

from __future__ import annotations

import hashlib
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ortools.sat.python import cp_model

from conftest import lively_models, models, rasters, reference_decision, region_members
from hypothesis.extra import numpy as hnp
from verisnn import semantics, simulate
from verisnn.bounds import bounds_verify, propagate
from verisnn.encodings.cpsat import (STRATEGIES, CpSatOps, cpsat_params, cpsat_verify, encode, load_model_text,
                                     region_inputs)
from verisnn.model import Dense, InputSpec, Model, Neuron, Readout
from verisnn.properties import (AnyInput, DecidedBy, Deletions, FirstSpikeBy, Flips, Insertions, Intensity, Jitter,
                                NeverFires, NoOverflow, Property, Robust, SpikesAtMost, SynopsAtMost)
from verisnn.verify import verify, violations

REGIONS = [Flips(1), Flips(2), Deletions(1), Deletions(2), Insertions(1), Insertions(2), AnyInput()]


def _conditions(model, centre) -> list:
    """Every condition, with thresholds at the centre's own values (so that a small change of
    the input may cross them either way)."""
    T = model.time_steps
    run = simulate(model, centre)
    spikes, synops = int(run.total_spikes[0]), int(run.synops[0])
    conds = [Robust(), DecidedBy(max(1, T - 1)), DecidedBy(1), SpikesAtMost(spikes), SpikesAtMost(spikes + 1),
             SynopsAtMost(synops), SynopsAtMost(synops + 2), NoOverflow()]
    if model.layers[-1].neuron.fires:
        conds.append(FirstSpikeBy(max(1, T - 1)))
    for k, layer in enumerate(model.layers):
        if layer.neuron.fires:
            conds.append(NeverFires(k, layer.out_size - 1))
    return conds




def _check_against_enumeration(model, centre, prop, **options):
    truth = verify(model, centre, prop, method="enumerate")
    assert truth.verdict in ("verified", "falsified"), truth.reason
    result = cpsat_verify(model, centre, prop, **options)
    assert result.verdict in ("verified", "falsified"), result.reason
    assert result.verdict == truth.verdict, (result.verdict, truth.verdict, result.details)
    if result.verdict == "falsified":
        assert result.details["replayed"] is True
        assert violations(model, prop, result.witness[None], reference_decision(model, centre))[0]
    else:
        ev = result.evidence
        assert ev["method"] == "cpsat" and ev["status"] == "INFEASIBLE" and ev["solver"].startswith("OR-Tools")
    return result


@settings(max_examples=250, deadline=None)
@given(st.data())
def test_cpsat_agrees_with_enumeration(data):
    model = data.draw(models().filter(lambda m: m.time_steps * m.input.size <= 10))
    centre = data.draw(rasters(model))
    prop = Property(data.draw(st.sampled_from(REGIONS)), data.draw(st.sampled_from(_conditions(model, centre))))
    # every search option must be as exact as the default
    options = dict(workers=data.draw(st.sampled_from((1, 2))), strategy=data.draw(st.sampled_from(STRATEGIES)),
                   value=data.draw(st.sampled_from(("min", "max"))), materialize=data.draw(st.booleans()),
                   hint=data.draw(st.booleans()))
    _check_against_enumeration(model, centre, prop, **options)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_cpsat_agrees_with_enumeration_on_lively_models(data):
    model = data.draw(lively_models())
    centre = data.draw(rasters(model))
    prop = Property(data.draw(st.sampled_from(REGIONS)), data.draw(st.sampled_from(_conditions(model, centre))))
    _check_against_enumeration(model, centre, prop, workers=1, strategy=data.draw(st.sampled_from(STRATEGIES)))


def _step_budgets(region, T):
    """A strategy: no per-step budget, or (for budgeted regions) a random one."""
    if not isinstance(region, (Flips, Deletions, Insertions)):
        return st.none()
    return st.none() | hnp.arrays(np.int64, (T,), elements=st.integers(0, 2))


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_the_encoding_is_built_on_exactly_the_propagated_bounds(data):
    model = data.draw(models())
    centre = data.draw(rasters(model)).astype(np.int64)
    region = data.draw(st.sampled_from(REGIONS + [Flips(0), Flips(3)]))
    step_budget = data.draw(_step_budgets(region, model.time_steps))
    ops = CpSatOps()
    x, _, free, budget = region_inputs(ops, region, centre, step_budget)
    outputs, _ = semantics.run_layers(ops, model, cpsat_params(model, centre, free, budget), x, ())
    b = propagate(model, centre, region, step_budget=step_budget)
    assert np.array_equal(x.iv.lo, b.inputs.lo) and np.array_equal(x.iv.hi, b.inputs.hi)
    for out, ref in zip(outputs, b.outputs):
        assert np.array_equal(out.iv.lo, ref.lo) and np.array_equal(out.iv.hi, ref.hi)
        # an element is a constant exactly where the bounds decide it, and then it is that value
        const = np.vectorize(lambda v: isinstance(v, int), otypes=[bool])(out.cp)
        assert np.array_equal(const, ref.lo == ref.hi)
        assert all(out.cp[i] == ref.lo[i] for i in zip(*np.nonzero(const)))




@settings(max_examples=80, deadline=None)
@given(st.data())
def test_a_per_step_budget_case_is_exact(data):
    """``encode(..., step_budget=b)`` asks exactly about the rasters with at most ``b[t]``
    changes at step ``t`` (with that case's tighter bounds)."""
    model = data.draw(lively_models())
    centre = data.draw(rasters(model))
    region = data.draw(st.sampled_from([Flips(1), Flips(2), Flips(3), Deletions(2), Insertions(2)]))
    step_budget = data.draw(hnp.arrays(np.int64, (model.time_steps,), elements=st.integers(0, 2)))
    prop = Property(region, data.draw(st.sampled_from(_conditions(model, centre))))
    reference = reference_decision(model, centre)
    members = region_members(region, centre)
    inside = ((members != centre[None]).sum(axis=2) <= step_budget[None]).all(axis=1)
    bad = violations(model, prop, members[inside], reference)
    enc = encode(model, centre, prop, step_budget=step_budget)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    status = solver.solve(enc.model)
    assert status in (cp_model.OPTIMAL, cp_model.INFEASIBLE)
    assert (status == cp_model.OPTIMAL) == bool(bad.any())
    if status == cp_model.OPTIMAL:
        w = enc.witness(solver.value)
        assert ((w != centre).sum(axis=1) <= step_budget).all()
        assert violations(model, prop, w[None], reference)[0]


def _two_layer(T=4, seed=0, n_in=6, hidden=5, out=3) -> Model:
    rng = np.random.default_rng(seed)
    lif = dict(model="lif", threshold=6, v_decay=(7, 3))
    return Model(time_steps=T, input=InputSpec(n_in),
                 layers=(Dense(rng.integers(-4, 7, (hidden, n_in)), Neuron(hidden, **lif)),
                         Dense(rng.integers(-4, 7, (out, hidden)), Neuron(out, **lif))),
                 readout=Readout("spike_count"))


def test_spikes_the_bounds_decide_are_constants():
    model = _two_layer()
    centre = (np.random.default_rng(1).random((4, 6)) < 0.5).astype(np.int8)
    prop = Property(Flips(1), SpikesAtMost(40))
    enc = encode(model, centre, prop)
    undecided = bounds_verify(model, centre, prop, reference_decision(model, centre)).undecided_spikes
    assert 0 < undecided < enc.stats["spikes"]  # the bounds decide some spikes, not all
    assert enc.stats["undecided_spikes"] == len(enc.spikes) == undecided
    assert enc.stats["fresh_variables"]["spike"] == undecided  # one Boolean per undecided spike only
    booleans = sum(1 for v in enc.model.proto.variables if list(v.domain) == [0, 1])
    assert booleans < enc.stats["spikes"] + enc.stats["flip_variables"]
    _check_against_enumeration(model, centre, prop)


def test_robust_needs_a_disjunction_over_other_classes():
    # class 0 fires twice, class 1 once, class 2 never: one insertion lets class 1 tie class 0
    eye = np.eye(3, dtype=np.int64)
    model = Model(time_steps=2, input=InputSpec(3), layers=(Dense(eye, Neuron(3, "if", threshold=1)),),
                  readout=Readout("spike_count", ties="invalid"))
    centre = np.array([[1, 1, 0], [1, 0, 0]], dtype=np.int8)
    r = cpsat_verify(model, centre, Property(Insertions(1), Robust()))
    assert r.verdict == "falsified" and simulate(model, r.witness).prediction[0] != 0


def test_ties_lowest_index():
    model = Model(time_steps=2, input=InputSpec(2), layers=(Dense(np.eye(2, dtype=np.int64), Neuron(2, "if", 1)),),
                  readout=Readout("spike_count", ties="lowest_index"))
    centre = np.array([[1, 0], [1, 0]], dtype=np.int8)
    for region, verdict in ((Flips(2), "verified"), (Insertions(2), "verified"), (Flips(3), "falsified")):
        assert cpsat_verify(model, centre, Property(region, Robust())).verdict == verdict, region
    assert cpsat_verify(model, np.array([[0, 1], [0, 1]], dtype=np.int8),
                        Property(Insertions(2), Robust())).verdict == "falsified"


def test_decay_and_wrap_are_exact_on_negative_membranes():
    for rounding in ("floor", "toward_zero"):
        for policy, bits in (("wrap", 4), ("saturate", 4), ("wrap", 6)):
            neuron = Neuron(2, "cuba_lif", threshold=3, v_decay=(3, 2), i_decay=(5, 3), rounding=rounding,
                            v_bits=bits, on_overflow=policy, reset="to_value", v_reset=-2, refractory=1)
            model = Model(time_steps=4, input=InputSpec(3),
                          layers=(Dense([[5, -7, 2], [-3, 4, -6]], neuron),), readout=Readout("spike_count"))
            centre = np.array([[1, 0, 1], [0, 1, 1], [1, 1, 0], [0, 0, 1]], dtype=np.int8)
            for cond in (SpikesAtMost(2), NoOverflow(), Robust(), DecidedBy(2), FirstSpikeBy(2)):
                _check_against_enumeration(model, centre, Property(Flips(2), cond), workers=1)


def test_membrane_readouts():
    for readout in ("membrane_final", "membrane_max"):
        for ties in ("invalid", "lowest_index"):
            li = Neuron(3, "li", threshold=None, v_decay=(1, 1))
            model = Model(time_steps=3, input=InputSpec(3), layers=(Dense([[2, -1, 1], [1, 1, -2], [-1, 2, 1]], li),),
                          readout=Readout(readout, ties=ties))
            for centre in (np.array([[1, 0, 0], [0, 1, 0], [1, 0, 1]]), np.array([[0, 1, 1], [1, 1, 0], [0, 0, 1]])):
                for region in (Flips(1), Flips(2), AnyInput()):
                    for cond in (Robust(), DecidedBy(2)):
                        _check_against_enumeration(model, centre.astype(np.int8), Property(region, cond), workers=1)


def test_first_spike_readout():
    model = _two_layer(T=4, seed=3)
    model = Model(time_steps=4, input=model.input, layers=model.layers, readout=Readout("first_spike"))
    rng = np.random.default_rng(5)
    for _ in range(4):
        centre = (rng.random((4, 6)) < 0.4).astype(np.int8)
        for region in (Flips(1), Flips(2), Deletions(2), Insertions(2)):
            for cond in (Robust(), DecidedBy(2), FirstSpikeBy(2)):
                _check_against_enumeration(model, centre, Property(region, cond), workers=1)


def test_exported_model_solves_to_the_same_answer(tmp_path):
    model = _two_layer()
    centre = (np.random.default_rng(1).random((4, 6)) < 0.5).astype(np.int8)
    for cond, status in ((SpikesAtMost(40), cp_model.INFEASIBLE), (SpikesAtMost(3), cp_model.OPTIMAL)):
        prop = Property(Flips(2), cond)
        result = cpsat_verify(model, centre, prop, workers=1)
        assert result.verdict == ("verified" if status == cp_model.INFEASIBLE else "falsified")
        enc = encode(model, centre, prop)
        path = tmp_path / "query.pbtxt"
        enc.export_model(path)
        again = load_model_text(path.read_text())
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = 1
        assert solver.solve(again) == status
        if status == cp_model.INFEASIBLE:
            # a checker recomputes the evidence's hash from the exported text
            binary = tmp_path / "query.pb"
            assert again.export_to_file(str(binary))
            assert hashlib.sha256(binary.read_bytes()).hexdigest() == result.evidence["model_sha256_cpsat"]
            assert result.evidence["variables"] == len(again.proto.variables)
            assert result.evidence["constraints"] == len(again.proto.constraints)


def _wide_model(seed=0) -> tuple[Model, np.ndarray]:
    rng = np.random.default_rng(seed)
    layers = (Dense(rng.integers(-3, 4, (60, 200)), Neuron(60, "lif", threshold=8, v_decay=(7, 3))),
              Dense(rng.integers(-3, 4, (10, 60)), Neuron(10, "lif", threshold=8, v_decay=(7, 3))))
    model = Model(time_steps=8, input=InputSpec(200), layers=layers)
    return model, (rng.random((8, 200)) < 0.2).astype(np.int8)


def test_timeouts_are_unknown_never_verified():
    model, centre = _wide_model()
    start = time.perf_counter()
    r = cpsat_verify(model, centre, Property(Flips(3), SpikesAtMost(10 ** 6)), timeout=0.05)
    assert r.verdict == "unknown" and "while building" in r.reason
    assert time.perf_counter() - start < 2.0
    # the solver's own limit: no conflict allowed and no presolve, on a query presolve alone cannot answer
    r = cpsat_verify(model, centre, Property(Flips(3), Robust()), workers=1,
                     parameters={"max_number_of_conflicts": 0, "cp_model_presolve": False,
                                 "search_branching": "FIXED_SEARCH"})
    assert r.verdict == "unknown" and "UNKNOWN" in r.reason


def test_unsupported_and_bad_inputs():
    model = _two_layer()
    centre = np.zeros((4, 6), dtype=np.int8)
    centre[0, :3] = 1
    r = cpsat_verify(model, centre, Property(Jitter(1, 1), SpikesAtMost(0)))
    assert r.verdict == "unknown" and "jitter" in r.reason
    r = cpsat_verify(model, centre, Property(Intensity(0.1), Robust()))
    assert r.verdict in ("unknown", "error") and "intensity" in r.reason
    for prop in (Property(Flips(1), NeverFires(5, 0)), Property(Flips(1), DecidedBy(9))):
        r = cpsat_verify(model, centre, prop)
        assert r.verdict == "error" and r.reason
    assert cpsat_verify(model, np.zeros((3, 6)), Property(Flips(1), Robust())).verdict == "error"
    assert cpsat_verify(model, centre, Property(Flips(1), Robust()), workers=0).verdict == "error"
    r = cpsat_verify(model, centre, Property(Flips(1), Robust()), parameters={"no_such_parameter": 1})
    assert r.verdict == "error" and "no_such_parameter" in r.reason
    with pytest.raises(Exception):
        load_model_text("not a model {")


class _Collect(cp_model.CpSolverSolutionCallback):
    def __init__(self, var):
        super().__init__()
        self.var, self.seen = var, set()

    def on_solution_callback(self):
        self.seen.add(self.value(self.var))


def _all_values(ops: CpSatOps, x, value: int, out) -> set[int]:
    """Every value ``out`` can take in ``ops.model`` once ``x`` is fixed to ``value``."""
    model = ops.model.clone()
    model.add(model.get_int_var_from_proto_index(x.index) == value)
    target = model.new_int_var(-(1 << 40), 1 << 40, "target")
    model.add(target == (out if isinstance(out, int) else out))
    solver = cp_model.CpSolver()
    solver.parameters.enumerate_all_solutions = True
    solver.parameters.num_workers = 1
    collect = _Collect(target)
    solver.solve(model, collect)
    return collect.seen


def test_every_fresh_variable_is_defined_uniquely():
    """For every argument value, the constraints of decay (both roundings), saturate, wrap,
    countdown and is_refractory leave exactly one value: the reference simulator's."""
    from verisnn.bounds import Interval
    from verisnn.encodings.cpsat import Sym
    from verisnn.simulator import NumpyOps

    exact = NumpyOps(np.int64)
    L = 20
    cases = [("decay", (np.int64(n), np.int64(s)), r) for n, s in ((1, 1), (3, 2), (7, 3), (5, 3), (0, 2))
             for r in ("floor", "toward_zero")]
    cases += [("overflow", bits, p) for bits in (3, 4, 5) for p in ("saturate", "wrap")]
    cases += [("countdown", None, None), ("is_refractory", None, None)]
    for op, arg, mode in cases:
        ops = CpSatOps(materialize=False)
        lo = 0 if op in ("countdown", "is_refractory") else -L
        x = ops.model.new_int_var(lo, L, "x")
        sym = Sym(np.array([x], dtype=object), Interval(np.array([lo]), np.array([L])))
        if op == "decay":
            out = ops.decay(sym, arg, mode)
        elif op == "overflow":
            out = ops.overflow(sym, arg, mode)
        elif op == "countdown":
            s = ops.model.new_bool_var("s")
            out = ops.countdown(sym, Sym(np.array([s], dtype=object), Interval(np.array([0]), np.array([1]))), 3)
            ops.model.add(s == 0)
        else:
            out = ops.is_refractory(sym)
        for v in range(lo, L + 1):
            arr = np.array([v], dtype=np.int64)
            want = {"decay": lambda: exact.decay(arr, arg, mode), "overflow": lambda: exact.overflow(arr, arg, mode),
                    "countdown": lambda: np.maximum(arr - 1, 0), "is_refractory": lambda: (arr > 0).astype(int)}[op]()
            assert _all_values(ops, x, v, out.cp[0]) == {int(want[0])}, (op, arg, mode, v)


def test_overflow_detected_at_the_first_value_out_of_range():
    # one IF neuron adding (or subtracting) 1 per input spike, 3-bit membrane: [-4, 3]
    for sign, k_ok in ((-1, 4), (1, 3)):
        for policy in ("saturate", "wrap"):
            neuron = Neuron(1, "if", threshold=3, reset="none", v_bits=3, on_overflow=policy)
            model = Model(time_steps=6, input=InputSpec(1), layers=(Dense([[sign]], neuron),))
            centre = np.zeros((6, 1), dtype=np.int8)
            for k, verdict in ((k_ok, "verified"), (k_ok + 1, "falsified")):
                r = _check_against_enumeration(model, centre, Property(Insertions(k), NoOverflow()), workers=1)
                assert r.verdict == verdict, (sign, policy, k)


def test_refractory_hold_of_a_certain_spike():
    # the spike at step 1 is certain (its input cannot be removed) but held when step 0 fired,
    # which an insertion decides: the output is "not held", a negated literal
    neuron = Neuron(1, "if", threshold=2, reset="to_value", v_reset=0, refractory=1)
    model = Model(time_steps=3, input=InputSpec(1), layers=(Dense([[2]], neuron),))
    centre = np.array([[0], [1], [0]], dtype=np.int8)
    for cond in (SpikesAtMost(1), SpikesAtMost(0), NeverFires(0, 0), SynopsAtMost(1)):
        _check_against_enumeration(model, centre, Property(Insertions(1), cond), workers=1)
    assert cpsat_verify(model, centre, Property(Insertions(1), SpikesAtMost(1))).verdict == "verified"
