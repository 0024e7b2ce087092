"""The kernel's unbounded conditions, witness replay and state search against the engine.

The kernel replays an unbounded witness and searches the reachable states itself
(``verisnn/kernel/unbounded.py``, ``explore.py``); here both are compared with the engine's
``replay_unbounded`` and ``verify_unbounded(method="explore")`` on random small models and
input sequences, for every unbounded condition (never_fires, no_overflow and the three
window conditions)."""

from __future__ import annotations

import numpy as np
import pytest

from verisnn import kernel
from verisnn.kernel.explore import violation_step
from verisnn.kernel.explore import explore
from verisnn.model import Dense, InputSpec, Model, Neuron, Readout
from verisnn.model_format import model_to_dict
from verisnn.properties import (AnyInput, NeverFires, NeverFiresAfter, NoOverflow, Property, RespondsWithin,
                                WindowSpikesAtMost)
from verisnn.unbounded import replay_unbounded, verify_unbounded


def random_model(rng: np.random.Generator) -> Model:
    """2 inputs -> 2 hidden (recurrent, refractory or delayed, small v_bits) -> 2 outputs."""
    kind = str(rng.choice(["if", "lif"]))
    n1 = Neuron(size=2, model=kind, threshold=int(rng.integers(1, 4)),
                v_decay=(1, 0) if kind == "if" else (1, 1), v_bits=int(rng.integers(3, 6)),
                refractory=int(rng.integers(0, 2)), reset=str(rng.choice(["subtract", "to_value"])),
                on_overflow=str(rng.choice(["saturate", "wrap"])))
    n2 = Neuron(size=2, model="lif", threshold=int(rng.integers(1, 3)), v_decay=(1, 1), v_bits=4)
    rec = rng.integers(-1, 2, (2, 2)).tolist() if rng.random() < 0.5 else None
    return Model(time_steps=4, input=InputSpec(2),
                 layers=(Dense(rng.integers(-1, 4, (2, 2)).tolist(), n1, recurrent=rec),
                         Dense(rng.integers(-1, 3, (2, 2)).tolist(), n2, delay=int(rng.integers(0, 2)))),
                 readout=Readout("spike_count"))


CONDITIONS = [NeverFires(1, 0), NoOverflow(), WindowSpikesAtMost(3, 3),
              NeverFiresAfter((1,), 2, 1, 1), RespondsWithin(((0,), (1,)), 2, 0), RespondsWithin(((), (0,)), 1, None)]


def unbounded(cond) -> Property:
    return Property(AnyInput(), cond, horizon="unbounded")


@pytest.mark.parametrize("cond", CONDITIONS, ids=lambda c: next(iter(c.to_dict())) if isinstance(c.to_dict(), dict)
                         else c.to_dict())
def test_witness_replay_equals_the_engines(cond):
    rng = np.random.default_rng(7)
    violated = held = 0
    for _ in range(60):
        model = random_model(rng)
        net = kernel.bind_model(model_to_dict(model), _sha(model), kernel.Limits())
        inputs = (rng.random((int(rng.integers(1, 12)), 2)) < 0.5).astype(np.int8)
        prop = unbounded(cond)
        expected = replay_unbounded(model, prop, inputs)
        got = violation_step(net, prop.to_dict()["condition"], inputs, kernel.Limits())
        assert got == expected, (cond.to_dict(), inputs.tolist())
        violated += expected is not None
        held += expected is None
    assert violated >= 5 and held >= 5, (violated, held)  # both outcomes, or the test says nothing


@pytest.mark.parametrize("cond", CONDITIONS, ids=lambda c: next(iter(c.to_dict())) if isinstance(c.to_dict(), dict)
                         else c.to_dict())
def test_the_state_search_agrees_with_the_engines(cond):
    rng = np.random.default_rng(11)
    outcomes = set()
    for _ in range(12):
        model = random_model(rng)
        net = kernel.bind_model(model_to_dict(model), _sha(model), kernel.Limits())
        engine = verify_unbounded(model, unbounded(cond), method="explore", max_states=200_000)
        assert engine.verdict in ("verified", "falsified"), engine.reason
        verdict, _ = explore(net, unbounded(cond).to_dict()["condition"], None, 5_000_000, kernel.Limits())
        assert verdict == {"verified": "holds", "falsified": "violated"}[engine.verdict], cond.to_dict()
        outcomes.add(verdict)
    assert "violated" in outcomes, outcomes
    if not isinstance(cond, RespondsWithin) or cond.to_dict()["responds_within"].get("class") is None:
        assert "holds" in outcomes, outcomes  # (a class's response is rare on random models: see the echo test)


def test_a_class_that_answers_every_pattern_holds_and_another_does_not():
    """An echo network (each output copies its input channel at once): class 0 answers input
    channel 0 within 1 step, class 1 does not."""
    echo = Neuron(size=2, model="if", threshold=1, v_bits=4, reset="to_value")
    model = Model(time_steps=4, input=InputSpec(2), layers=(Dense([[1, 0], [0, 1]], echo), Dense([[1, 0], [0, 1]], echo)),
                  readout=Readout("spike_count"))
    net = kernel.bind_model(model_to_dict(model), _sha(model), kernel.Limits())
    for cls, expected in ((0, "holds"), (1, "violated")):
        prop = unbounded(RespondsWithin(((0,),), 1, cls))
        engine = verify_unbounded(model, prop, method="explore")
        verdict, _ = explore(net, prop.to_dict()["condition"], None, 10_000, kernel.Limits())
        assert verdict == expected and engine.verdict == {"holds": "verified", "violated": "falsified"}[expected]


def test_the_state_search_keeps_to_its_budget():
    model = random_model(np.random.default_rng(3))
    net = kernel.bind_model(model_to_dict(model), _sha(model), kernel.Limits())
    with pytest.raises(kernel.KernelLimit, match="reachable states"):
        explore(net, {"window_spikes_at_most": {"window": 3, "spikes": 100}}, None, 2, kernel.Limits())


def _sha(model: Model) -> str:
    from verisnn.model_format import model_hash

    return model_hash(model)
