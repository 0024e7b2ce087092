"""Automata learned with AALpy (verisnn.extractors.learn): L* and KV with the exact oracle
recover the exact minimal machine; the system under learning steps the network
incrementally and counts what it runs; PAC test counts follow Angluin's bound; RPNI is
consistent with its traces; fidelity intervals; transition annotations against the
hardware cost model, exact on the unminimised machine and visibly wrong where a minimal
machine merges states that take different time; the entry point's files. Tiny models
built here: nothing from artifacts/ is needed."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from verisnn import semantics
from verisnn.automaton import Alphabet, MealyMachine, build_automaton, parse_alphabet, replay
from verisnn.errors import InputError
from verisnn.extractors.learn import (NetworkSUL, annotate_transitions, check_latency, fidelity, from_aalpy,
                                      learn_automaton, output_label, pac_tests, run_automaton_extraction)
from verisnn.hardware import cost
from verisnn.model import Dense, InputSpec, Model, Neuron, Readout

PAIR_LETTERS = {"a": [[1, 0], [0, 0]], "b": [[0, 1], [0, 0]], "ab": [[1, 1], [0, 0]], "z": [[0, 0], [0, 0]]}


def counter_model() -> Model:
    """Output neuron 0 (IF, threshold 2) fires on every second input spike; neuron 1 never:
    a window with a spike decides class 0, a silent one is a tie (no decision)."""
    layer = Dense(weight=[[1], [0]], neuron=Neuron(size=2, model="if", threshold=2, v_bits=8))
    return Model(time_steps=1, input=InputSpec(size=1), layers=(layer,), readout=Readout("spike_count", "invalid"))


def counter_alphabet() -> Alphabet:
    return parse_alphabet({"letters": {"x": [[1]], "o": [[0]]}})


def recurrent_model(delay: int = 0, refractory: int = 0) -> Model:
    """Two leaky neurons that inhibit each other (15 minimal states over PAIR_LETTERS)."""
    layer = Dense(weight=[[3, 0], [0, 3]], recurrent=[[0, -2], [-2, 0]], delay=delay,
                  neuron=Neuron(size=2, model="lif", threshold=4, v_decay=(3, 2), v_bits=6, refractory=refractory))
    return Model(time_steps=4, input=InputSpec(size=2), layers=(layer,), readout=Readout("spike_count", "invalid"))


def cuba_model() -> Model:
    """A refractory hidden layer and a delayed, recurrent cuba_lif output read by first spike."""
    hidden = Dense(weight=[[2, 1], [-1, 3], [1, 1]], neuron=Neuron(size=3, model="lif", threshold=3, v_decay=(1, 1),
                                                                  refractory=1, v_bits=5))
    out = Dense(weight=[[2, 0, 1], [0, 2, 1]], delay=1, recurrent=[[0, -1], [-1, 0]],
                neuron=Neuron(size=2, model="cuba_lif", threshold=3, v_decay=(1, 1), i_decay=(1, 1), v_bits=5,
                              reset="to_value"))
    return Model(time_steps=4, input=InputSpec(size=2), layers=(hidden, out),
                 readout=Readout("first_spike", "lowest_index"))


def latch_model() -> Model:
    """Letter ``b`` switches a self-exciting hidden neuron on for good; its spikes reach two
    output neurons that never fire (memoryless membranes below threshold). Every output is
    a tie — no decision — so the minimal machine has one state, but the latched network
    does more work per step (synops, active updates): merged states, different times."""
    hidden = Dense(weight=[[0, 2]], recurrent=[[2]], neuron=Neuron(size=1, model="lif", threshold=2, v_decay=(0, 0),
                                                                   v_bits=6))
    out = Dense(weight=[[1], [1]], neuron=Neuron(size=2, model="lif", threshold=30, v_decay=(0, 0), v_bits=6))
    return Model(time_steps=2, input=InputSpec(size=2), layers=(hidden, out), readout=Readout("spike_count", "invalid"))


def pair_alphabet() -> Alphabet:
    return parse_alphabet({"letters": PAIR_LETTERS})


def words_of(alphabet: Alphabet, rng, count: int, longest: int) -> list[list[str]]:
    return [[alphabet.names[i] for i in rng.integers(0, len(alphabet), rng.integers(1, longest + 1))]
            for _ in range(count)]


# ----------------------------------------------------------------------------- the system under learning


def test_sul_steps_the_network_incrementally_and_counts(monkeypatch):
    model, alphabet = recurrent_model(delay=1, refractory=1), pair_alphabet()
    calls = []
    real = semantics.network_step
    monkeypatch.setattr(semantics, "network_step", lambda *a: calls.append(1) or real(*a))
    sul = NetworkSUL(model, alphabet)
    rng = np.random.default_rng(0)
    letters = 0
    for word in words_of(alphabet, rng, 12, 10):
        got = sul.query(tuple(word))
        letters += len(word)
        assert got == [output_label(-1 if d is None else d) for d in replay(model, alphabet, word)], word
        # one network step per step of each letter: nothing is re-simulated from the word's start
        assert len(calls) == letters * alphabet.w
    assert (sul.num_queries, sul.resets, sul.letters_run, sul.steps_run) == (12, 12, letters, letters * alphabet.w)
    assert sul.counters() == {"membership_queries": 12, "resets": 12, "letters": letters,
                              "steps": letters * alphabet.w}
    sul.pre()
    with pytest.raises(InputError, match="unknown letter 'q'"):
        sul.step("q")


def test_sul_refuses_an_alphabet_of_another_width():
    with pytest.raises(InputError, match="2 input channels; the model's input has 1"):
        NetworkSUL(counter_model(), pair_alphabet())


# ----------------------------------------------------------------------------- active learning, exact oracle


@pytest.mark.parametrize("algorithm", ["lstar", "kv"])
@pytest.mark.parametrize("make", [lambda: (counter_model(), counter_alphabet()),
                                  lambda: (recurrent_model(), pair_alphabet()),
                                  lambda: (recurrent_model(delay=1, refractory=1), pair_alphabet())],
                         ids=["counter", "recurrent", "delay-refractory"])
def test_exact_oracle_recovers_the_exact_minimal_machine(algorithm, make):
    model, alphabet = make()
    exact = build_automaton(model, alphabet).machine.minimize()
    result = learn_automaton(model, alphabet, algorithm=algorithm, oracle="exact", fidelity_words=100)
    assert result.status == "complete" and result.oracle == "exact" and result.reason is None
    assert result.machine.minimize() == exact  # same behaviour, same (minimal) state count, same numbering
    assert result.states == exact.num_states
    assert result.equals_exact is True and result.distinguishing_word is None
    assert result.exact["minimal_states"] == exact.num_states
    assert result.equivalence_queries == len(result.rounds) >= 1
    assert result.rounds[-1]["counterexample"] is None
    assert all(r["counterexample"] is not None for r in result.rounds[:-1])
    assert result.equivalence_tests == 0  # the exact oracle runs no test words on the network
    assert result.membership_queries > 0 and result.simulator_steps == result.simulator_letters * alphabet.w > 0
    assert result.fidelity["value"] == 1.0
    doc = json.loads(json.dumps(result.to_json(include_machine=True)))
    assert MealyMachine.from_json(doc["machine"]) == result.machine


def test_kv_recovers_a_cuba_two_layer_network():
    model, alphabet = cuba_model(), pair_alphabet()
    result = learn_automaton(model, alphabet, algorithm="kv", oracle="auto", fidelity_words=50)
    assert result.oracle == "exact" and result.equals_exact is True
    assert result.machine.minimize() == build_automaton(model, alphabet).machine.minimize()


def test_learned_machine_agrees_with_replay_on_random_words():
    model, alphabet = recurrent_model(), pair_alphabet()
    machine = learn_automaton(model, alphabet, algorithm="kv", oracle="exact", fidelity_words=0).machine
    for word in words_of(alphabet, np.random.default_rng(3), 20, 15):
        assert machine.run(word) == replay(model, alphabet, word), word


# ----------------------------------------------------------------------------- PAC, W-method, budgets


def test_pac_test_counts_follow_angluins_bound():
    assert pac_tests(1, 0.01, 0.01) == 530  # ceil((ln 100 + ln 2) / 0.01) = ceil(529.8)
    assert [pac_tests(i, 0.1, 0.1) for i in (1, 2, 3)] == [math.ceil((math.log(10) + i * math.log(2)) / 0.1)
                                                           for i in (1, 2, 3)] == [30, 37, 44]
    model, alphabet = recurrent_model(), pair_alphabet()
    result = learn_automaton(model, alphabet, algorithm="lstar", oracle="pac", epsilon=0.1, delta=0.1,
                             word_lengths=(3, 8), fidelity_words=100)
    assert result.oracle == "pac" and result.settings["epsilon"] == 0.1 and result.settings["delta"] == 0.1
    rounds = result.rounds
    assert result.settings["tests_per_query"] == [pac_tests(i, 0.1, 0.1) for i in range(1, len(rounds) + 1)]
    for i, r in enumerate(rounds, start=1):
        if r["counterexample"] is None:  # an accepting query runs every test of its round
            assert r["tests"] == pac_tests(i, 0.1, 0.1)
        else:  # a refuting one stops at the first failing test
            assert 1 <= r["tests"] <= pac_tests(i, 0.1, 0.1)
            assert 3 <= len(r["counterexample"]) <= 8
    assert rounds[-1]["counterexample"] is None
    assert result.equivalence_tests == sum(r["tests"] for r in rounds)
    # the exact machine was built to compare with: equal or not, with a word that tells
    assert result.equals_exact is (result.distinguishing_word is None)
    if not result.equals_exact:
        word = result.distinguishing_word
        assert result.machine.run(word)[-1] != replay(model, alphabet, word)[-1]


def test_pac_runs_are_reproducible_from_the_seed():
    model, alphabet = recurrent_model(), pair_alphabet()
    runs = [learn_automaton(model, alphabet, algorithm="kv", oracle="pac", epsilon=0.2, delta=0.2, seed=5,
                            fidelity_words=20, compare_exact=False) for _ in range(2)]
    assert runs[0].machine == runs[1].machine and runs[0].rounds == runs[1].rounds
    assert runs[0].exact is None and runs[0].equals_exact is None


def test_wmethod_states_its_depth_and_learns_the_counter():
    result = learn_automaton(counter_model(), counter_alphabet(), algorithm="lstar", oracle="wmethod", depth=1,
                             fidelity_words=20)
    assert result.oracle == "wmethod" and result.settings["depth"] == 1
    assert result.equals_exact is True and result.equivalence_tests > 0


def test_budgets_give_unknown_without_a_machine():
    model, alphabet = recurrent_model(), pair_alphabet()
    result = learn_automaton(model, alphabet, algorithm="lstar", oracle="exact", max_states=2)
    assert result.status == "unknown" and result.machine is None and result.states is None
    assert "more than max_states=2" in result.reason
    with pytest.raises(InputError, match="exact machine is out of reach"):
        learn_automaton(model, alphabet, oracle="exact", max_exact_states=3)
    fallback = learn_automaton(model, alphabet, oracle="auto", max_exact_states=3, epsilon=0.2, delta=0.2,
                               fidelity_words=20)
    assert fallback.oracle == "pac" and fallback.exact["status"] == "unknown" and fallback.equals_exact is None


def test_timeout_gives_unknown():
    result = learn_automaton(recurrent_model(), pair_alphabet(), oracle="pac", timeout=1e-6)
    assert result.status == "unknown" and result.machine is None and result.reason == "timeout after 1e-06 s"


@pytest.mark.parametrize("kwargs, message", [
    ({"algorithm": "lsharp"}, "unknown algorithm"), ({"oracle": "perfect"}, "unknown oracle"),
    ({"epsilon": 0}, "in \\(0, 1\\)"), ({"delta": 1.5}, "in \\(0, 1\\)"), ({"max_states": 0}, "integer >= 1"),
    ({"word_lengths": (5, 2)}, "shortest <= longest"), ({"timeout": 0}, "> 0 seconds"),
    ({"max_exact_states": 0}, "integer >= 1")])
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(InputError, match=message):
        learn_automaton(counter_model(), counter_alphabet(), **kwargs)


# ----------------------------------------------------------------------------- passive learning


def test_rpni_is_consistent_with_its_traces():
    model, alphabet = recurrent_model(), pair_alphabet()
    words = words_of(alphabet, np.random.default_rng(1), 60, 12)
    result = learn_automaton(model, alphabet, algorithm="rpni", traces=words, fidelity_words=100)
    assert result.status == "complete" and result.oracle == "none" and result.equivalence_queries == 0
    assert result.settings["traces"] == 60 and result.settings["given"] is True
    assert result.membership_queries == 60  # one network run per trace
    for word in words:
        assert result.machine.run(word) == replay(model, alphabet, word), word
    # recorded traces (word, outputs) are used as given: no network run
    recorded = [(w, replay(model, alphabet, w)) for w in words[:20]]
    again = learn_automaton(model, alphabet, algorithm="rpni", traces=recorded, fidelity_words=0)
    assert again.membership_queries == 0 and again.simulator_steps == 0 and again.settings["recorded_outputs"] == 20
    for word, outputs in recorded:
        assert again.machine.run(word) == outputs
    with pytest.raises(InputError, match="traces disagree"):
        learn_automaton(model, alphabet, algorithm="rpni", traces=[(["a"], [0]), (["a", "b"], [1, 0])])


def test_rpni_generates_traces_when_none_are_given():
    result = learn_automaton(counter_model(), counter_alphabet(), algorithm="rpni", rpni_traces=40,
                             word_lengths=(2, 6), fidelity_words=50)
    assert result.settings["traces"] == 40 and result.settings["given"] is False
    assert result.membership_queries == 40 and result.equals_exact is True and not result.unobserved_transitions


def test_rpni_flags_the_transitions_no_trace_observed():
    model, alphabet = recurrent_model(), pair_alphabet()
    result = learn_automaton(model, alphabet, algorithm="rpni", traces=[[0, 0]], fidelity_words=0)  # letters by index
    assert result.machine.run(["a", "a"]) == replay(model, alphabet, ["a", "a"])
    unobserved = set(result.unobserved_transitions)
    assert {(0, "b"), (0, "ab"), (0, "z")} <= unobserved and all(letter != "a" or q > 0 for q, letter in unobserved)
    for q, letter in unobserved:  # completed as a self-loop without a decision, and listed as such
        a = alphabet.names.index(letter)
        assert result.machine.next_state[q, a] == q and result.machine.output[q, a] == -1
    with pytest.raises(InputError, match="expected a word"):
        learn_automaton(model, alphabet, algorithm="rpni", traces=["ab"])
    with pytest.raises(InputError, match="expected 2 outputs"):
        learn_automaton(model, alphabet, algorithm="rpni", traces=[(["a", "b"], [0])])


# ----------------------------------------------------------------------------- conversion and fidelity


def test_conversion_from_aalpy_round_trips_and_refuses_partial_machines():
    machine = build_automaton(recurrent_model(), pair_alphabet()).machine
    back, missing = from_aalpy(machine.to_aalpy(), machine.inputs, machine.steps_per_letter)
    assert back == machine.canonical() and missing == []
    partial = machine.to_aalpy()
    del partial.states[1].transitions["z"]
    with pytest.raises(InputError, match="has no transition on 'z'"):
        from_aalpy(partial, machine.inputs)
    completed, missing = from_aalpy(partial, machine.inputs, complete=True)
    assert len(missing) == 1 and missing[0][1] == "z"


def test_fidelity_interval_contains_the_value_and_finds_a_wrong_output():
    model, alphabet = counter_model(), counter_alphabet()
    exact = build_automaton(model, alphabet).machine
    right = fidelity(model, alphabet, exact, words=50, lengths=(1, 6))
    assert right["value"] == 1.0 and right["ci"][0] <= 1.0 == right["ci"][1] and right["example_disagreement"] is None
    output = exact.output.copy()
    output[1, 0] = 1  # state 1 on x: class 1 instead of 0
    wrong = MealyMachine(exact.inputs, exact.next_state, output)
    report = fidelity(model, alphabet, wrong, words=200, lengths=(1, 6), seed=2)
    assert 0 < report["value"] < 1 and report["ci"][0] <= report["value"] <= report["ci"][1]
    assert report["words"]["ci"][0] <= report["words"]["value"] <= report["words"]["ci"][1]
    assert report["n"] >= 200 and report["words"]["n"] == 200  # every word has at least one letter
    miss = report["example_disagreement"]
    j = miss["letter"]
    net = replay(model, alphabet, miss["word"])
    assert miss["network"][j] == (-1 if net[j] is None else net[j]) != miss["machine"][j]


# ----------------------------------------------------------------------------- hardware cross-check


def window_ps(model: Model, alphabet: Alphabet, word: list[str]) -> int:
    """The hardware time of the last letter of ``word`` from the initial state: the whole
    run's latency minus that of its first ``T - w`` steps."""
    from verisnn.automaton import word_raster

    raster = word_raster(alphabet, word)
    report = cost(Model(time_steps=raster.shape[0], input=model.input, layers=model.layers, readout=model.readout),
                  raster, "loihi")
    before = 0 if len(word) == 1 else report.latency_ps_within(raster.shape[0] - alphabet.w)
    return int(report.latency_ps[0]) - before


@pytest.mark.parametrize("make", [lambda: (recurrent_model(delay=1, refractory=1), pair_alphabet()),
                                  lambda: (latch_model(), pair_alphabet())], ids=["recurrent", "latch"])
def test_annotations_equal_the_cost_model_on_the_access_word(make):
    model, alphabet = make()
    machine = build_automaton(model, alphabet).machine  # unminimised: one state per network state
    timing = annotate_transitions(model, alphabet, machine, "loihi")
    assert timing.steps_per_letter == alphabet.w and timing.access[machine.initial] == []
    for q in range(machine.num_states):
        for a, letter in enumerate(alphabet.names):
            assert timing.latency_ps[q][a] == window_ps(model, alphabet, timing.access[q] + [letter]) > 0
    check = check_latency(model, alphabet, machine, timing, words=40, lengths=(1, 10))
    assert check["letters"] > 40 and check["disagreeing_letters"] == 0 and check["example"] is None
    assert check["max_abs_diff_us"] == check["max_word_abs_diff_us"] == 0


def test_merged_states_show_timing_disagreements():
    model, alphabet = latch_model(), pair_alphabet()
    exact = build_automaton(model, alphabet).machine
    minimal = exact.minimize()
    assert exact.num_states > 1 == minimal.num_states  # every output is "no decision"
    learned = learn_automaton(model, alphabet, algorithm="lstar", oracle="exact", fidelity_words=20).machine
    assert learned == minimal
    timing = annotate_transitions(model, alphabet, learned)
    check = check_latency(model, alphabet, learned, timing, words=40, lengths=(2, 8))
    assert check["disagreeing_letters"] > 0 and check["max_abs_diff_us"] > 0
    example = check["example"]
    word, j = example["word"], example["letter"]
    assert "b" in word[:j] or "ab" in word[:j]  # the latch was switched on before the disagreeing letter
    assert example["measured_us"] * 10**6 == pytest.approx(window_ps(model, alphabet, word[: j + 1]))
    assert example["predicted_us"] != example["measured_us"]


# ----------------------------------------------------------------------------- entry point


def test_run_automaton_extraction_writes_the_machine_and_the_report(tmp_path):
    model, alphabet = recurrent_model(), pair_alphabet()
    out = tmp_path / "learned"
    answer = run_automaton_extraction(model, alphabet, out, algorithm="kv", oracle="exact", profile="loihi",
                                      latency_words=20, fidelity_words=50)
    assert set(answer) == {"status", "states", "algorithm", "oracle", "membership_queries", "equivalence_queries",
                           "simulator_steps", "time_s", "fidelity", "equals_exact", "latency", "files", "reason"}
    assert answer["status"] == "complete" and answer["equals_exact"] is True and answer["states"] == 15
    assert set(answer["fidelity"]) == {"value", "ci", "n", "distribution"}
    assert set(answer["files"]) == {"json", "dot", "smv", "aalpy", "report"}
    machine = MealyMachine.from_json(json.loads((out / "automaton.json").read_text()))
    assert machine.minimize() == build_automaton(model, alphabet).machine.minimize()
    assert machine.provenance["learned_with"] == "kv"
    report = json.loads((out / "learn.json").read_text())
    assert report["format"] == "verisnn.learn-report/1" and report["learning"]["states"] == 15
    latency = answer["latency"]
    assert latency["profile"] == "loihi" and latency["steps_per_letter"] == alphabet.w
    assert len(latency["transition_us"]) == 15 and latency["check"]["letters"] > 0
    json.dumps(answer)  # plain data
    with pytest.raises(InputError, match="not a folder"):
        run_automaton_extraction(model, alphabet, out / "automaton.json")
