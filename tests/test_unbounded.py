"""The unbounded horizon, checked against an independent brute-force oracle.

The oracle below does not use :mod:`verisnn.monitors` or the transition system: it
simulates every input raster of a length ``L`` (all ``2^(n L)`` of them, or every word
over a set of allowed letters) on the reference simulator stretched to ``L`` steps, and
evaluates each condition with plain loops written from its docstring in
:mod:`verisnn.properties`; ``no_overflow`` comes from the bounded engine's own
definition (:func:`verisnn.verify.overflowed`) on every prefix. Against it:

* ``replay_unbounded`` finds the same first violating step on random rasters;
* ``explore`` (exhaustive), ``kinduction``, ``pdr`` and ``auto`` never contradict each
  other or the oracle, and every witness they report violates per the oracle;
* ``bmc`` (and the base case of k-induction) finds the shortest violation, and says
  ``unknown``, never ``verified``, when there is none within its depth;
* limits, solver unknowns and failed re-checks give ``unknown``; bad input gives ``error``;
  the bounded engines refuse an unbounded property instead of deciding it over ``T`` steps.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools

import numpy as np
import pytest
import yaml
import z3
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from conftest import int_arrays, neurons
from verisnn import unbounded
from verisnn.bounds import bounds_verify
from verisnn.encodings.cpsat import cpsat_verify
from verisnn.encodings.smt import smt_verify
from verisnn.errors import InputError, VerisnnError
from verisnn.model import Dense, InputSpec, Model, Neuron, Readout
from verisnn.model_format import model_hash, model_to_dict
from verisnn.properties import (AnyInput, Flips, NeverFires, NeverFiresAfter, NoOverflow, Property, PropertyError,
                                RespondsWithin, Robust, SpikesAtMost, WindowSpikesAtMost, load_property,
                                parse_property)
from verisnn.simulator import simulate
from verisnn.unbounded import replay_unbounded, verify_unbounded
from verisnn.verify import overflowed, verify

MAX_RASTERS = 4096  # the oracle simulates at most this many rasters per example
DEFINITE = ("verified", "falsified")


# ---------------------------------------------------------------- the oracle


def _longer(model: Model, steps: int) -> Model:
    return dataclasses.replace(model, time_steps=steps)


def _violated_at(cond, model: Model, x: list, outs: list, over: list, t: int) -> bool:
    """Whether ``cond`` is violated at step ``t`` of one run (``x[t][c]`` input spikes,
    ``outs[k][t][j]`` layer outputs, ``over[t]`` pre-overflow flag), from its docstring."""
    if isinstance(cond, NeverFires):
        return outs[cond.layer][t][cond.neuron] == 1
    if isinstance(cond, NoOverflow):
        return bool(over[t])
    if isinstance(cond, WindowSpikesAtMost):
        # the neuron spikes of all layers (input spikes not counted) in the window ending at t
        count = 0
        for s in range(max(0, t - cond.window + 1), t + 1):
            for k, layer in enumerate(model.layers):
                if layer.neuron.fires:
                    count += sum(outs[k][s])
        return count > cond.spikes
    if isinstance(cond, NeverFiresAfter):
        recent = any(x[s][c] == 1 for s in range(max(0, t - cond.within + 1), t + 1) for c in cond.inputs)
        return recent and outs[cond.layer][t][cond.neuron] == 1
    if isinstance(cond, RespondsWithin):
        # a pattern ending at step e = t - steps is unanswered by the end of e .. e + steps
        p = len(cond.pattern)
        end = t - cond.steps
        start = end - p + 1
        if start < 0:
            return False
        matched = all(x[start + j][c] == 1 for j, step in enumerate(cond.pattern) for c in step)
        targets = range(model.layers[-1].out_size) if cond.cls is None else [cond.cls]
        answered = any(outs[-1][s][j] == 1 for s in range(end, t + 1) for j in targets)
        return matched and not answered
    raise AssertionError(cond)


def oracle(model: Model, cond, rasters: np.ndarray) -> list[int]:
    """Per raster of ``rasters`` (``[B, L, n]``), the first step at which ``cond`` is
    violated (``-1``: none within the ``L`` steps)."""
    B, L, _ = rasters.shape
    res = simulate(_longer(model, L), rasters)
    outs = [o.tolist() for o in res.layer_outputs]
    if isinstance(cond, NoOverflow):
        # overflow by step t <=> the run of the first t + 1 steps needs the overflow policy
        prefix = [overflowed(_longer(model, t + 1), rasters[:, : t + 1]).tolist() for t in range(L)]
        over = [[prefix[t][b] for t in range(L)] for b in range(B)]
    else:
        over = [[False] * L for _ in range(B)]
    xs = rasters.tolist()
    first = []
    for b in range(B):
        run = [o[b] for o in outs]
        first.append(next((t for t in range(L) if _violated_at(cond, model, xs[b], run, over[b], t)), -1))
    return first


def words(letters: np.ndarray, length: int) -> np.ndarray:
    """Every raster of ``length`` steps whose rows are among ``letters`` (``[m, n]``)."""
    idx = np.array(list(itertools.product(range(len(letters)), repeat=length)), dtype=np.int64)
    return letters[idx].astype(np.int8)


def all_letters(n: int) -> np.ndarray:
    return np.array(list(itertools.product((0, 1), repeat=n)), dtype=np.int8)


def oracle_length(m: int, cap: int = 10) -> int:
    """The longest ``L <= cap`` with ``m^L <= MAX_RASTERS`` (``m`` letters)."""
    L = 1
    while L < cap and m ** (L + 1) <= MAX_RASTERS:
        L += 1
    return L


def shortest_violation(model: Model, cond, letters: np.ndarray, L: int) -> int | None:
    """The length of the shortest violating raster over ``letters``, if it is at most ``L``.
    (The conditions are causal: a violation at step ``t`` depends on steps ``0 .. t`` only.)"""
    first = [f for f in oracle(model, cond, words(letters, L)) if f >= 0]
    return min(first) + 1 if first else None


# ---------------------------------------------------------------- small models and conditions


def small_neurons(size: int, allow_li: bool, max_bits: int = 6) -> st.SearchStrategy:
    """A neuron of few states: ``v_bits`` 3..``max_bits``, small thresholds and resets; a
    ``cuba_lif`` current always leaks (so the state space stays finite and explicit
    exploration can finish)."""
    return neurons(size, allow_li, bits=st.integers(3, max_bits), most=5, reset_span=2, current_leaks=True)


@st.composite
def small_models(draw, allow_li: bool = True, max_layers: int = 2, max_neurons: int = 3, max_bits: int = 6) -> Model:
    """Dense layers only: 1-3 inputs, up to ``max_layers`` layers of up to ``max_neurons``
    neurons with ``v_bits`` 3..``max_bits``, small weights, delays 0-2, optional recurrence;
    an ``li`` output layer when ``allow_li``."""
    n = draw(st.integers(1, 3))
    n_layers = draw(st.integers(1, max_layers))
    layers, size_in = [], n
    for k in range(n_layers):
        last = k == n_layers - 1
        size = draw(st.integers(1, max_neurons))
        neuron = draw(small_neurons(size, allow_li=allow_li and last, max_bits=max_bits))
        rec = draw(st.none() | int_arrays((size, size), -3, 3)) if neuron.fires else None
        layers.append(Dense(weight=draw(int_arrays((size, size_in), -4, 4)), bias=draw(int_arrays((size,), -2, 2)),
                            neuron=neuron, delay=draw(st.sampled_from((0, 0, 1, 2))), recurrent=rec))
        size_in = size
    readout = Readout("spike_count") if layers[-1].neuron.fires else Readout("membrane_final")
    return Model(time_steps=draw(st.integers(1, 4)), input=InputSpec(n), layers=tuple(layers), readout=readout,
                 name="small")


def _subset(draw, items, min_size: int):
    return tuple(sorted(draw(st.sets(st.sampled_from(list(items)), min_size=min_size, max_size=len(items)))))


KINDS = ("never_fires", "no_overflow", "window_spikes_at_most", "never_fires_after", "responds_within")


@st.composite
def conditions(draw, model: Model, kind: str):
    """A condition of the unbounded horizon of ``kind`` that fits ``model`` (whose layers
    fire when ``kind`` names a neuron, whose output fires for ``responds_within``)."""
    n = model.input.size
    firing = [(k, j) for k, layer in enumerate(model.layers) if layer.neuron.fires for j in range(layer.out_size)]
    if kind == "no_overflow":
        return NoOverflow()
    if kind == "window_spikes_at_most":
        return WindowSpikesAtMost(window=draw(st.integers(1, 3)), spikes=draw(st.integers(0, 4)))
    if kind == "responds_within":
        pattern = tuple(_subset(draw, range(n), 0) for _ in range(draw(st.integers(1, 2))))
        cls = draw(st.none() | st.integers(0, model.layers[-1].out_size - 1))
        return RespondsWithin(pattern=pattern, steps=draw(st.integers(0, 2)), cls=cls)
    layer, neuron = draw(st.sampled_from(firing))
    if kind == "never_fires":
        return NeverFires(layer, neuron)
    return NeverFiresAfter(inputs=_subset(draw, range(n), 1), within=draw(st.integers(1, 3)), layer=layer,
                           neuron=neuron)


def model_and_condition(data, kind: str, **sizes) -> tuple[Model, object]:
    """A small model (an ``li`` output only where ``kind`` allows one) and a condition of ``kind``."""
    model = data.draw(small_models(allow_li=kind in ("no_overflow", "window_spikes_at_most"), **sizes))
    return model, data.draw(conditions(model, kind))


@st.composite
def letter_sets(draw, n: int):
    """``None`` (every input letter) or a non-empty subset of the ``2^n`` letters."""
    if draw(st.booleans()):
        return None
    full = all_letters(n)
    keep = draw(st.sets(st.integers(0, len(full) - 1), min_size=1, max_size=len(full)))
    return full[sorted(keep)]


def _unbounded(cond) -> Property:
    return Property(AnyInput(), cond, horizon="unbounded")


def _repro(model: Model, prop: Property, letters, results: dict) -> str:
    """A reproduction to paste into a bug report when an assertion fails."""
    return (f"model={model_to_dict(model)!r}\nproperty={prop.to_dict()!r}\nletters="
            f"{None if letters is None else letters.tolist()!r}\n"
            + "\n".join(f"{m}: {r.verdict} {r.reason} witness="
                        f"{None if r.witness is None else r.witness.tolist()}" for m, r in results.items()))


# ---------------------------------------------------------------- replay against the oracle


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_replay_agrees_with_the_oracle(kind, data):
    model, cond = model_and_condition(data, kind)
    raster = data.draw(hnp.arrays(np.int8, (data.draw(st.integers(1, 25)), model.input.size),
                                  elements=st.integers(0, 1)))
    step = replay_unbounded(model, _unbounded(cond), raster)
    truth = oracle(model, cond, raster[None])[0]
    assert step == (None if truth < 0 else truth), _repro(model, _unbounded(cond), None, {})


def test_oracle_by_hand():
    """The oracle itself, on runs worked out by hand: one IF neuron that fires on every
    spike of input 0 (so the output copies input 0)."""
    model = Model(time_steps=2, input=InputSpec(2), layers=(Dense([[1, 0]], Neuron(1, "if", threshold=1)),),
                  readout=Readout("spike_count"))
    x = np.array([[0, 1], [1, 0], [1, 0], [0, 1], [0, 0], [1, 0]], dtype=np.int8)  # output spikes at 1, 2, 5
    cases = [(NeverFires(0, 0), 1), (WindowSpikesAtMost(2, 1), 2), (WindowSpikesAtMost(3, 2), -1),
             (WindowSpikesAtMost(1, 0), 1), (NeverFiresAfter((1,), 1, 0, 0), -1), (NeverFiresAfter((1,), 2, 0, 0), 1),
             (RespondsWithin(((1,),), 0), 0), (RespondsWithin(((1,),), 1), 4),  # input 1 at steps 0 and 3
             (RespondsWithin(((1,),), 2), -1), (RespondsWithin(((0,), ()), 0), 3),
             (RespondsWithin(((1,), (0,)), 0), -1), (RespondsWithin(((1,),), 1, cls=0), 4), (NoOverflow(), -1)]
    for cond, expected in cases:
        assert oracle(model, cond, x[None]) == [expected], cond
        assert replay_unbounded(model, _unbounded(cond), x) == (None if expected < 0 else expected), cond
    # a 2-bit membrane (range -2 .. 1) without reset counts past 1 at the second input spike
    counting = Model(time_steps=1, input=InputSpec(1), layers=(
        Dense([[1]], Neuron(1, "if", threshold=1, v_bits=2, reset="none")),), readout=Readout("spike_count"))
    assert oracle(counting, NoOverflow(), np.array([[[1], [0], [1], [1]]], dtype=np.int8)) == [2]


# ---------------------------------------------------------------- the methods against the oracle and each other


def _check_witness(model: Model, prop: Property, letters, result, label: str) -> int:
    """A falsified witness replays, violates per the oracle at the same step, and uses
    only allowed letters. Returns its length."""
    w = result.witness
    assert w is not None and w.ndim == 2 and w.shape[1] == model.input.size, label
    if letters is not None:
        allowed = {tuple(r) for r in letters.tolist()}
        assert all(tuple(r) in allowed for r in w.tolist()), label
    step = replay_unbounded(model, prop, w)
    assert step is not None, label
    assert oracle(model, prop.condition, w[None]) == [step], label
    assert result.details["violation_step"] == step and result.details["witness_length"] == len(w), label
    return len(w)


def _differential(data, kind: str, method: str, timeout: float, max_states: int = 3000, **sizes) -> None:
    """``explore`` (exhaustive within its state budget: examples past it are assumed away)
    against ``method`` and the oracle on one random model, condition of ``kind`` and letter set."""
    model, cond = model_and_condition(data, kind, **sizes)
    letters = data.draw(letter_sets(model.input.size))
    prop = _unbounded(cond)
    explored = verify_unbounded(model, prop, method="explore", max_states=max_states, letters=letters)
    assume(not (explored.verdict == "unknown" and "state budget" in (explored.reason or "")))
    results = {"explore": explored,
               method: verify_unbounded(model, prop, method=method, timeout=timeout, max_depth=10, letters=letters)}
    repro = _repro(model, prop, letters, results)
    for name, r in results.items():
        event(f"{name}: {r.verdict}")
        assert r.verdict in ("verified", "falsified", "unknown"), f"{name}: {r.reason}\n{repro}"
    assert explored.verdict in DEFINITE, repro  # no timeout was given: only the budget stops it

    alphabet = all_letters(model.input.size) if letters is None else letters
    L = oracle_length(len(alphabet))
    shortest = shortest_violation(model, cond, alphabet, L)
    event(f"{type(cond).__name__}: oracle {'violation' if shortest else 'none'} within {L} steps")
    verdicts = {r.verdict for r in results.values()}
    if shortest is not None:
        assert "verified" not in verdicts and explored.verdict == "falsified", repro
    assert not {"verified", "falsified"} <= verdicts, repro
    for name, r in results.items():
        if r.verdict in DEFINITE:
            assert r.verdict == explored.verdict, repro
        if r.verdict == "falsified":
            length = _check_witness(model, prop, letters, r, f"{name}\n{repro}")
            if shortest is not None:
                assert length >= shortest, repro
            if name in ("explore", "kinduction"):  # breadth-first / BMC base case: the shortest violation
                assert shortest is None or length == shortest, f"{name}: {length} != {shortest}\n{repro}"


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_kinduction_agrees_with_exploration_and_the_oracle(kind, data):
    _differential(data, kind, "kinduction", timeout=5)


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_pdr_agrees_with_exploration_and_the_oracle(kind, data):
    _differential(data, kind, "pdr", timeout=3)


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_bmc_finds_the_shortest_violation(kind, data):
    model, cond = model_and_condition(data, kind)
    letters = data.draw(letter_sets(model.input.size))
    alphabet = all_letters(model.input.size) if letters is None else letters
    L = oracle_length(len(alphabet), cap=8)
    depth = data.draw(st.integers(1, L))
    prop = _unbounded(cond)
    result = verify_unbounded(model, prop, method="bmc", max_depth=depth, letters=letters, timeout=20)
    shortest = shortest_violation(model, cond, alphabet, depth)
    event(f"bmc: {result.verdict}")
    repro = _repro(model, prop, letters, {"bmc": result})
    if shortest is None:
        assert result.verdict == "unknown", repro  # bmc never proves
        assert str(depth) in result.reason and result.details["depth"] == depth, repro
    else:
        assert result.verdict == "falsified", repro
        assert _check_witness(model, prop, letters, result, repro) == shortest == result.details["depth"], repro


# ---------------------------------------------------------------- hand-made cases


def _gate_model(time_steps: int = 4) -> Model:
    """Two inputs, one LIF neuron that fires when ``2·x0 - 2·x1 >= 1`` (on input 0 unless
    input 1 vetoes it); its membrane forgets everything at each step (``v_decay`` 0), so
    the network has a handful of states."""
    neuron = Neuron(1, "lif", threshold=1, v_decay=(0, 1), reset="to_value", v_bits=4)
    return Model(time_steps=time_steps, input=InputSpec(2), layers=(Dense([[2, -2]], neuron),),
                 readout=Readout("spike_count"))


def _counter_model(time_steps: int = 2) -> Model:
    """One input, one IF neuron of threshold 3 that never leaks: it fires at the third
    input spike, which no run of ``T = 2`` steps can reach."""
    return Model(time_steps=time_steps, input=InputSpec(1), layers=(Dense([[1]], Neuron(1, "if", threshold=3)),),
                 readout=Readout("spike_count"))


def _smoke_model() -> Model:
    """A recurrent two-layer network with refractory periods and a delay (a few hundred
    states: every method decides it within a second or so)."""
    n1 = Neuron(size=3, model="lif", threshold=3, v_decay=(3, 2), reset="subtract", v_bits=8, refractory=1)
    n2 = Neuron(size=2, model="lif", threshold=2, v_decay=(1, 1), reset="to_value", v_bits=8)
    l1 = Dense(weight=[[2, 1], [1, -1], [-1, 2]], bias=[0, 0, 0], neuron=n1,
               recurrent=[[0, 1, 0], [0, 0, -1], [1, 0, 0]])
    l2 = Dense(weight=[[1, 1, -2], [-1, 0, 2]], bias=[0, 0], neuron=n2, delay=1)
    return Model(time_steps=4, input=InputSpec(2), layers=(l1, l2), readout=Readout("spike_count"))


SMT_METHODS = ("kinduction", "pdr", "auto")


LETTER_CASES = [  # (condition, the letters it needs, the shortest violation's length)
    (NeverFires(0, 0), [[1, 0]], 1),  # the neuron fires on [1, 0] only
    (RespondsWithin(((0,),), 0), [[1, 1]], 1),  # input 0 goes unanswered only when input 1 vetoes it
    (NeverFiresAfter((1,), 2, 0, 0), [[0, 1], [1, 1]], 2),  # a veto, then [1, 0] at the next step
]


@pytest.mark.parametrize("cond,offending,length", LETTER_CASES)
def test_letters_restrict_the_inputs(cond, offending, length):
    """A property falsified over every input letter is verified once the letters that
    violate it are excluded (the gate model fires on ``[1, 0]`` only)."""
    model, prop = _gate_model(), _unbounded(cond)
    good = np.array([r for r in all_letters(2).tolist() if r not in offending])
    assert shortest_violation(model, cond, all_letters(2), 6) == length
    assert shortest_violation(model, cond, good, 6) is None
    for method in ("explore", "bmc") + SMT_METHODS:
        r = verify_unbounded(model, prop, method=method, timeout=20, max_depth=4)
        assert r.verdict == "falsified", (method, r.reason)
        assert _check_witness(model, prop, None, r, method) >= length
        if method in ("explore", "bmc", "kinduction"):
            assert len(r.witness) == length, method
        restricted = verify_unbounded(model, prop, method=method, timeout=20, max_depth=4, letters=good)
        assert restricted.verdict == ("unknown" if method == "bmc" else "verified"), (method, restricted.reason)
    # letters given twice, in any order, are the same set
    again = verify_unbounded(model, prop, method="explore", letters=np.concatenate([good[::-1], good]))
    assert again.verdict == "verified" and again.details["letters"] == len(good)


def test_the_horizon_is_really_unbounded():
    """The violation needs more steps than the model's ``T``: a bounded check over ``T``
    steps would miss it; every unbounded method finds it (through ``verify`` too)."""
    model = _counter_model(time_steps=2)
    prop = _unbounded(NeverFires(0, 0))
    assert not simulate(model, np.ones((2, 1), dtype=np.int8)).output_spikes.any()
    for method in ("explore", "bmc") + SMT_METHODS:
        r = verify_unbounded(model, prop, method=method, timeout=20)
        assert r.verdict == "falsified", (method, r.reason)
        assert r.witness.tolist() == [[1], [1], [1]], method
        assert r.details["violation_step"] == 2
    via_verify = verify(model, np.zeros((2, 1), dtype=np.int8), prop)
    assert via_verify.verdict == "falsified" and len(via_verify.witness) == 3


def test_a_violation_deeper_than_the_unrolling():
    """An IF membrane of 6 bits counting input spikes without reset first needs the overflow
    policy at the 32nd spike: past bmc's and k-induction's depth (24), so they say unknown;
    explore and pdr (whose bmc goes deeper) find the 32-step witness."""
    model = Model(time_steps=2, input=InputSpec(1), layers=(
        Dense([[1]], Neuron(1, "if", threshold=31, v_bits=6, reset="none")),), readout=Readout("spike_count"))
    prop = _unbounded(NoOverflow())
    assert oracle(model, NoOverflow(), np.ones((1, 32, 1), dtype=np.int8)) == [31]
    for method in ("bmc", "kinduction"):
        r = verify_unbounded(model, prop, method=method, max_depth=24, timeout=30)
        assert r.verdict == "unknown" and "24" in r.reason, (method, r.reason)
    found = {method: verify_unbounded(model, prop, method=method, timeout=30) for method in ("explore", "pdr", "auto")}
    found["bmc to depth 40"] = verify_unbounded(model, prop, method="bmc", max_depth=40)
    for method, r in found.items():
        assert r.verdict == "falsified", (method, r.reason)
        assert r.witness.tolist() == [[1]] * 32 and r.details["violation_step"] == 31, method


def test_explore_past_its_state_budget_is_unknown():
    r = verify_unbounded(_smoke_model(), _unbounded(NeverFires(1, 0)), method="explore", max_states=10)
    assert r.verdict == "unknown" and "state budget of 10" in r.reason and r.evidence is None


def test_evidence_of_each_method():
    model = _smoke_model()
    prop = _unbounded(NeverFires(1, 0))
    common = {"model_sha256": model_hash(model), "property": prop.to_dict()}

    explored = verify_unbounded(model, prop, method="explore")
    assert explored.verdict == "verified", explored.reason
    assert explored.evidence["method"] == "explore"
    assert explored.evidence["reachable_states"] == explored.details["states"] > 1
    assert explored.evidence["letters"] == 4
    assert {k: explored.evidence[k] for k in common} == common

    kind = verify_unbounded(model, prop, method="kinduction", timeout=30)
    assert kind.verdict == "verified", kind.reason
    assert kind.evidence["method"] == "kinduction"
    assert kind.evidence["depth"] == kind.details["induction_depth"] >= 1
    assert {k: kind.evidence[k] for k in common} == common

    pdr = verify_unbounded(model, prop, method="pdr", timeout=60)
    assert pdr.verdict == "verified", pdr.reason
    ev = pdr.evidence
    assert ev["method"] == "pdr" and isinstance(ev["invariant"], str) and ev["invariant"].strip()
    assert ev["invariant_sha256"] == hashlib.sha256(ev["invariant"].encode()).hexdigest()
    assert ev["recheck"] == {"initiation": "unsat", "consecution": "unsat", "safety": "unsat"}
    assert ev["state_names"] and ev["invariant_size"] >= 1
    assert {k: ev[k] for k in common} == common

    bmc = verify_unbounded(model, prop, method="bmc", max_depth=6)
    assert bmc.verdict == "unknown" and "6 steps" in bmc.reason and bmc.evidence is None


# ---------------------------------------------------------------- soundness guards


@pytest.mark.parametrize("method", ["explore", "bmc", "kinduction", "pdr", "auto"])
def test_a_tiny_timeout_gives_unknown(method):
    r = verify_unbounded(_smoke_model(), _unbounded(WindowSpikesAtMost(3, 4)), method=method, timeout=1e-6)
    assert r.verdict == "unknown", (r.verdict, r.reason)
    assert r.reason and r.evidence is None


@pytest.mark.parametrize("method", ["bmc", "kinduction", "pdr", "auto"])
def test_a_solver_unknown_is_never_verified(monkeypatch, method):
    monkeypatch.setattr(unbounded, "_check", lambda s, clock, *a: (z3.unknown, "injected for the test"))
    for cond in (NeverFires(1, 0), NeverFires(1, 1)):  # one holds, one does not
        r = verify_unbounded(_smoke_model(), _unbounded(cond), method=method, timeout=30)
        if method == "auto" and r.verdict == "falsified":  # auto's random simulation needs no solver
            assert r.method == "auto (random simulation)" and cond == NeverFires(1, 1)
            continue
        assert r.verdict == "unknown" and "injected" in r.reason, (cond, r.verdict, r.reason)


@pytest.mark.parametrize("failing", [1, 2, 3])
def test_pdr_needs_its_invariant_to_pass_the_recheck(monkeypatch, failing):
    """Spacer's answer is believed only after initiation, consecution and safety re-check
    as unsat; a re-check that does not (here: forced to sat) leaves the verdict unknown."""
    real, calls = unbounded._check, []

    def check(s, clock, *a):
        calls.append(s)
        r = real(s, clock, *a)
        return (z3.sat, None) if len(calls) == 1 + failing else r  # call 1 is Spacer's
    monkeypatch.setattr(unbounded, "_check", check)
    r = verify_unbounded(_smoke_model(), _unbounded(NeverFires(1, 0)), method="pdr", timeout=60)
    assert r.verdict == "unknown" and "re-check" in r.reason, r.reason
    name = ("initiation", "consecution", "safety")[failing - 1]
    assert name in r.reason


def test_a_witness_that_does_not_replay_is_an_error(monkeypatch):
    monkeypatch.setattr(unbounded, "replay_unbounded", lambda model, prop, raster: None)
    for method in ("explore", "bmc", "kinduction"):
        r = verify_unbounded(_gate_model(), _unbounded(NeverFires(0, 0)), method=method, timeout=20)
        assert r.verdict == "error" and "does not violate" in r.reason, (method, r.reason)


def _error(model: Model, prop, **kwargs) -> str:
    r = verify_unbounded(model, prop, **kwargs)
    assert r.verdict == "error", (r.verdict, r.reason)
    assert r.witness is None and r.evidence is None
    return r.reason


def test_bad_input_is_an_error_that_says_why():
    gate = _gate_model()
    ok = _unbounded(NeverFires(0, 0))
    assert "horizon: unbounded" in _error(gate, Property(AnyInput(), NeverFires(0, 0)))  # a bounded property
    assert "horizon" in _error(gate, "never_fires")
    assert "'magic'" in _error(gate, ok, method="magic") and "kinduction" in _error(gate, ok, method="magic")
    assert "positive" in _error(gate, ok, method="bmc", max_depth=0)
    assert "positive" in _error(gate, ok, method="explore", max_states=0)
    wide = Model(time_steps=1, input=InputSpec(13), layers=(Dense([[1] * 13], Neuron(1, "if")),),
                 readout=Readout("spike_count"))  # explore tries every letter: 2^13 is refused
    assert "2^13" in _error(wide, ok, method="explore")
    for letters in ([[0, 1, 1]], [[0, 2]], [], [0, 1], [[[0, 1]]], [[0.5, 1]]):
        assert "letters" in _error(gate, ok, letters=letters), letters
    two_layers = _smoke_model()  # layers of 3 and 2 neurons, 2 inputs
    out_of_range = [
        (NeverFires(2, 0), "layer 2 out of range"), (NeverFires(1, 2), "neuron 2 out of range"),
        (NeverFiresAfter((0,), 1, 3, 0), "layer 3 out of range"), (NeverFiresAfter((0,), 1, 0, 3), "neuron 3"),
        (NeverFiresAfter((0, 2), 1, 0, 0), "input channel 2 out of range"),
        (RespondsWithin(((0,), (5,)), 1), "input channel 5 out of range"),
        (RespondsWithin(((0,),), 1, cls=2), "class 2 out of range"),
    ]
    for cond, words_ in out_of_range:
        for method in ("explore", "kinduction"):
            reason = _error(two_layers, _unbounded(cond), method=method)
            assert words_ in reason, (cond, reason)
    li_out = dataclasses.replace(two_layers, layers=(two_layers.layers[0], dataclasses.replace(
        two_layers.layers[1], recurrent=None, neuron=Neuron(2, "li", threshold=None, v_bits=8))),
        readout=Readout("membrane_final"))
    assert "never spikes" in _error(li_out, _unbounded(RespondsWithin(((0,),), 1)))
    assert "never spikes" in _error(li_out, _unbounded(NeverFires(1, 0)))
    # the window count skips the li layer, but the condition itself is fine
    assert verify_unbounded(li_out, _unbounded(WindowSpikesAtMost(1, 3)), method="explore").verdict == "verified"


def test_replay_refuses_bad_rasters():
    gate, prop = _gate_model(), _unbounded(NeverFires(0, 0))
    for raster in (np.zeros((0, 2)), np.zeros((3, 3)), np.zeros(2), [[0, 2]]):
        with pytest.raises(InputError):
            replay_unbounded(gate, prop, raster)
    with pytest.raises(PropertyError):
        replay_unbounded(gate, _unbounded(NeverFires(0, 1)), np.zeros((2, 2)))
    assert replay_unbounded(gate, prop, np.zeros((7, 2), dtype=np.int8)) is None


def test_bounded_engines_refuse_an_unbounded_property():
    """A bounded engine asked about the unbounded horizon says error; it never decides the
    model's ``T`` steps instead (on the counter model that would be 'verified', wrongly)."""
    model, centre = _counter_model(time_steps=2), np.ones((2, 1), dtype=np.int8)
    prop = _unbounded(NeverFires(0, 0))
    for method in ("enumerate", "bab", "bounds", "smt", "cpsat"):
        r = verify(model, centre, prop, method=method)
        assert r.verdict == "error" and method in r.reason, (method, r.verdict, r.reason)
    for r in (smt_verify(model, centre, prop), cpsat_verify(model, centre, prop)):
        assert r.verdict == "error" and "unbounded" in r.reason, r.reason
    with pytest.raises(PropertyError, match="unbounded"):
        bounds_verify(model, centre, prop, None)
    # the same condition over the bounded horizon is a different question, and holds over T = 2
    assert verify(model, centre, Property(AnyInput(), NeverFires(0, 0)), method="enumerate").verdict == "verified"


# ---------------------------------------------------------------- the property language


ROUND_TRIPS = [
    ({"region": "any", "condition": {"window_spikes_at_most": {"window": 3, "spikes": 2}}, "horizon": "unbounded"},
     Property(AnyInput(), WindowSpikesAtMost(3, 2), "unbounded")),
    ({"region": "any", "condition": {"never_fires_after": {"inputs": [0, 2], "within": 2, "neuron": [1, 0]}},
      "horizon": "unbounded", "name": "brake"},
     Property(AnyInput(), NeverFiresAfter((0, 2), 2, 1, 0), "unbounded", "brake")),
    ({"region": "any", "condition": {"responds_within": {"pattern": [[0], [1, 2]], "steps": 3, "class": 1}},
      "horizon": "unbounded"},
     Property(AnyInput(), RespondsWithin(((0,), (1, 2)), 3, 1), "unbounded")),
    ({"region": "any", "condition": {"responds_within": {"pattern": [[0], []], "steps": 0}}, "horizon": "unbounded"},
     Property(AnyInput(), RespondsWithin(((0,), ()), 0), "unbounded")),
    ({"condition": "no_overflow", "horizon": "unbounded"}, Property(AnyInput(), NoOverflow(), "unbounded")),
    ({"region": "any", "condition": {"never_fires": [0, 1]}, "horizon": "unbounded"},
     Property(AnyInput(), NeverFires(0, 1), "unbounded")),
]


@pytest.mark.parametrize("doc,expected", ROUND_TRIPS)
def test_new_conditions_round_trip(doc, expected, tmp_path):
    prop = parse_property(doc)
    assert prop == expected
    assert parse_property(prop.to_dict()) == prop
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(prop.to_dict()))
    assert load_property(path) == prop


UNBOUNDED = {"region": "any", "horizon": "unbounded"}
MALFORMED = [  # (condition, path the error must name, a word the message must contain)
    ({"window_spikes_at_most": {"window": 0, "spikes": 1}}, "condition.window_spikes_at_most.window", "got 0"),
    ({"window_spikes_at_most": {"window": 2, "spikes": -1}}, "condition.window_spikes_at_most.spikes", "-1"),
    ({"window_spikes_at_most": {"window": 2}}, "condition.window_spikes_at_most", "spikes"),
    ({"window_spikes_at_most": {"window": 2, "spikes": 1, "steps": 3}}, "condition.window_spikes_at_most", "steps"),
    ({"window_spikes_at_most": 3}, "condition.window_spikes_at_most", "got 3"),
    ({"never_fires_after": {"inputs": [], "within": 1, "neuron": [0, 0]}}, "condition.never_fires_after.inputs",
     "non-empty"),
    ({"never_fires_after": {"inputs": [1, 1], "within": 1, "neuron": [0, 0]}},
     "condition.never_fires_after.inputs", "twice"),
    ({"never_fires_after": {"inputs": [0], "within": 0, "neuron": [0, 0]}}, "condition.never_fires_after.within",
     "got 0"),
    ({"never_fires_after": {"inputs": [0], "within": 1, "neuron": [0]}}, "condition.never_fires_after.neuron",
     "[0]"),
    ({"never_fires_after": {"inputs": [0], "neuron": [0, 0]}}, "condition.never_fires_after", "within"),
    ({"responds_within": {"pattern": [], "steps": 1}}, "condition.responds_within.pattern", "non-empty"),
    ({"responds_within": {"pattern": [[0, 0]], "steps": 1}}, "condition.responds_within.pattern[0]", "twice"),
    ({"responds_within": {"pattern": [0], "steps": 1}}, "condition.responds_within.pattern[0]", "array"),
    ({"responds_within": {"pattern": [[-1]], "steps": 1}}, "condition.responds_within.pattern[0][0]", "-1"),
    ({"responds_within": {"pattern": [[0]], "steps": 1, "class": "a"}}, "condition.responds_within.class", "'a'"),
    ({"never_fires_after": {"inputs": [0], "within": 1, "neuron": [0, -1]}}, "condition.never_fires_after.neuron[1]",
     "-1"),
    ({"responds_within": {"pattern": [[0]], "steps": -1}}, "condition.responds_within.steps", "-1"),
    ({"responds_within": {"pattern": [[0]], "steps": 1, "class": -1}}, "condition.responds_within.class", "-1"),
    ({"responds_within": {"pattern": [[0]], "steps": 1, "class": True}}, "condition.responds_within.class", "True"),
    ({"responds_within": {"pattern": [[0]]}}, "condition.responds_within", "steps"),
]


@pytest.mark.parametrize("cond,path,word", MALFORMED)
def test_malformed_new_conditions_name_the_key(cond, path, word):
    with pytest.raises(PropertyError) as info:
        parse_property({**UNBOUNDED, "condition": cond})
    assert info.value.path == path, str(info.value)
    assert word in info.value.message, str(info.value)


@pytest.mark.parametrize("cond", [{"window_spikes_at_most": {"window": 2, "spikes": 1}},
                                  {"never_fires_after": {"inputs": [0], "within": 1, "neuron": [0, 0]}},
                                  {"responds_within": {"pattern": [[0]], "steps": 1}}])
def test_new_conditions_belong_to_the_unbounded_horizon(cond):
    for doc in ({"region": "any", "condition": cond}, {"region": "any", "condition": cond, "horizon": "bounded"}):
        with pytest.raises(PropertyError) as info:
            parse_property(doc)
        assert info.value.path == "horizon" and "unbounded" in info.value.message
    with pytest.raises(PropertyError) as info:  # the unbounded horizon needs the region 'any'
        parse_property({"region": {"flips": 1}, "condition": cond, "horizon": "unbounded"})
    assert info.value.path == "horizon" and "'any'" in info.value.message


@pytest.mark.parametrize("make,path", [
    (lambda: WindowSpikesAtMost(0, 1), "condition.window_spikes_at_most.window"),
    (lambda: WindowSpikesAtMost(1, -1), "condition.window_spikes_at_most.spikes"),
    (lambda: NeverFiresAfter((), 1, 0, 0), "condition.never_fires_after.inputs"),
    (lambda: NeverFiresAfter((0,), 1, -1, 0), "condition.never_fires_after.neuron[0]"),
    (lambda: NeverFiresAfter(0, 1, 0, 0), "condition.never_fires_after.inputs"),
    (lambda: RespondsWithin((), 1), "condition.responds_within.pattern"),
    (lambda: RespondsWithin(((0,),), 1, cls=-2), "condition.responds_within.class"),
    (lambda: Property(AnyInput(), WindowSpikesAtMost(2, 1)), "horizon"),
    (lambda: Property(Flips(1), NoOverflow(), "unbounded"), "horizon"),
    (lambda: Property(AnyInput(), Robust(), "unbounded"), "horizon"),
    (lambda: Property(AnyInput(), SpikesAtMost(3), "unbounded"), "horizon"),
])
def test_new_dataclasses_validate_at_construction(make, path):
    with pytest.raises(PropertyError) as info:
        make()
    assert info.value.path == path and isinstance(info.value, VerisnnError)


def test_auto_random_simulation_finds_a_replayed_shortest_prefix():
    prop = _unbounded(NeverFires(1, 1))  # violated on the smoke model
    witness = unbounded._random_search(_smoke_model(), prop, None)
    assert witness is not None
    assert replay_unbounded(_smoke_model(), prop, witness) == len(witness) - 1  # cut right after the violation
    letters = np.array([[0, 1], [0, 0]], dtype=np.int8)
    only = unbounded._random_search(_gate_model(), _unbounded(NeverFires(0, 0)), letters)
    assert only is None  # input 0 never spikes: the gate neuron cannot fire
    found = unbounded._random_search(_gate_model(), _unbounded(NeverFires(0, 0)), np.array([[1, 0]], dtype=np.int8))
    assert found is not None and (found == [1, 0]).all()
    r = verify_unbounded(_smoke_model(), prop, method="auto", timeout=30)
    assert r.verdict == "falsified" and r.method == "auto (random simulation)"
