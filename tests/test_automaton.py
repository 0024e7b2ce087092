"""Explicit-state automata (verisnn.automaton): machines built by exhaustive exploration
agree with the reference simulator (`replay`) on random words; minimisation agrees with
AALpy; exports parse; budgets give `unknown`; latency and reachability questions on
machines computed by hand; bad alphabets are refused with clear messages; the command line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import numpy as np
import pydot
import pytest
from aalpy.utils import load_automaton_from_file
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import models
from verisnn import cli
from verisnn.automaton import (SCHEMA, Alphabet, MealyMachine, build_automaton, find_output, latency_bound,
                               load_alphabet, parse_alphabet, replay, save_machine, word_raster)
from verisnn.errors import InputError
from verisnn.model import Dense, InputSpec, Model, Neuron, Readout
from verisnn.model_format import save_model

DOCS = Path(__file__).parent.parent / "docs" / "automata.md"


def counter_model() -> Model:
    """Input 0 drives output neuron 0 (IF, threshold 2, subtract): it fires on every second
    spike. Neuron 1 never fires. spike_count with ties invalid: a window with neuron 0's
    spike decides class 0, a window without spikes is a tie (no decision)."""
    layer = Dense(weight=[[1], [0]], neuron=Neuron(size=2, model="if", threshold=2, v_bits=8))
    return Model(time_steps=1, input=InputSpec(size=1), layers=(layer,), readout=Readout("spike_count", "invalid"))


def counter_alphabet(with_quiet: bool = True) -> Alphabet:
    letters = {"x": [[1]], "o": [[0]]} if with_quiet else {"x": [[1]]}
    return parse_alphabet({"letters": letters})


def recurrent_model(delay: int = 0, refractory: int = 0) -> Model:
    """Two inputs, two leaky neurons that inhibit each other; spike_count readout."""
    layer = Dense(weight=[[3, 0], [0, 3]], recurrent=[[0, -2], [-2, 0]], delay=delay,
                  neuron=Neuron(size=2, model="lif", threshold=4, v_decay=(3, 2), v_bits=6, refractory=refractory))
    return Model(time_steps=4, input=InputSpec(size=2), layers=(layer,), readout=Readout("spike_count", "invalid"))


def two_layer_model() -> Model:
    """A hidden layer with refractory periods and a delayed, cuba_lif output layer read out
    by first spike."""
    hidden = Dense(weight=[[2, 1], [-1, 3], [1, 1]], neuron=Neuron(size=3, model="lif", threshold=3, v_decay=(1, 1),
                                                                  refractory=1, v_bits=5))
    out = Dense(weight=[[2, 0, 1], [0, 2, 1]], delay=1, recurrent=[[0, -1], [-1, 0]],
                neuron=Neuron(size=2, model="cuba_lif", threshold=3, v_decay=(1, 1), i_decay=(1, 1), v_bits=5,
                              reset="to_value"))
    return Model(time_steps=4, input=InputSpec(size=2), layers=(hidden, out), readout=Readout("first_spike", "lowest_index"))


PAIR_LETTERS = {"a": [[1, 0], [0, 0]], "b": [[0, 1], [0, 0]], "ab": [[1, 1], [0, 0]], "z": [[0, 0], [0, 0]]}


def random_words(rng, alphabet: Alphabet, count: int, longest: int) -> list[list[str]]:
    return [[alphabet.names[i] for i in rng.integers(0, len(alphabet), rng.integers(0, longest + 1))]
            for _ in range(count)]


def assert_agrees_with_replay(model, alphabet, machine, rng, count=20, longest=12):
    for word in random_words(rng, alphabet, count, longest):
        assert machine.run(word) == replay(model, alphabet, word), word


# ----------------------------------------------------------------------------- exploration = reference simulator


def test_counter_machine_is_the_one_computed_by_hand():
    # v = 0 --x/none--> v = 1 --x/0 (fires, v = 1 + 1 - 2 = 0)--> v = 0; o keeps v, no decision
    result = build_automaton(counter_model(), counter_alphabet())
    assert result.status == "complete" and result.reason is None
    expected = MealyMachine(("x", "o"), [[1, 0], [0, 1]], [[-1, -1], [0, -1]], steps_per_letter=1)
    assert result.machine == expected
    assert (result.states_explored, result.states_discovered, result.transitions, result.depth) == (2, 2, 4, 2)
    assert result.machine.run(["x", "o", "x", "x"]) == [None, None, 0, None]
    assert result.to_json()["states"] == 2


@pytest.mark.parametrize("make", [lambda: recurrent_model(), lambda: recurrent_model(delay=1, refractory=1),
                                  two_layer_model], ids=["recurrent", "delay-refractory", "two-layer-cuba"])
def test_hand_built_models_agree_with_replay(make):
    model = make()
    alphabet = parse_alphabet({"letters": PAIR_LETTERS}, model)
    result = build_automaton(model, alphabet)
    assert result.status == "complete"
    machine = result.machine
    assert machine.num_states == result.states_explored > 1
    assert machine == machine.canonical()  # exploration numbers states breadth first
    assert_agrees_with_replay(model, alphabet, machine, np.random.default_rng(0), count=40)
    assert set(machine.output.ravel().tolist()) - {-1}  # some window decides
    minimal = machine.minimize()
    assert minimal.equivalent(machine) is None
    assert_agrees_with_replay(model, alphabet, minimal, np.random.default_rng(1))


@settings(max_examples=40, deadline=None)
@given(models(max_layers=2, max_time_steps=2), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_random_models_agree_with_replay(model, w, m, seed):
    rng = np.random.default_rng(seed)
    alphabet = Alphabet(tuple("abc"[:m]), rng.integers(0, 2, (m, w, model.input.size)))
    result = build_automaton(model, alphabet, max_states=1500)
    if result.status == "unknown":  # never a partial machine
        assert result.machine is None and "state budget of 1500 states" in result.reason
        assert result.states_discovered > 1500
        return
    machine = result.machine
    assert result.states_explored == result.states_discovered == machine.num_states <= 1500
    assert result.transitions == machine.num_states * m
    assert_agrees_with_replay(model, alphabet, machine, rng, count=4, longest=8)
    minimal = machine.minimize()
    assert minimal.equivalent(machine) is None and minimal.num_states <= machine.num_states
    for word in random_words(rng, alphabet, 4, 8):
        assert minimal.run(word) == machine.run(word)


def test_word_raster_and_replay_of_the_empty_word():
    alphabet = parse_alphabet({"letters": PAIR_LETTERS})
    raster = word_raster(alphabet, ["b", 0, "z"])
    assert raster.tolist() == [[0, 1], [0, 0], [1, 0], [0, 0], [0, 0], [0, 0]]
    assert replay(recurrent_model(), alphabet, []) == []
    with pytest.raises(InputError, match="unknown letter 'q'"):
        word_raster(alphabet, ["q"])


# ----------------------------------------------------------------------------- limits


def test_state_budget_gives_unknown_without_a_machine():
    # a non-leaky membrane without reset climbs 1 per letter up to 2^23 - 1: millions of states
    layer = Dense(weight=[[1]], neuron=Neuron(size=1, model="if", threshold=2**23 - 1, reset="none"))
    model = Model(time_steps=1, input=InputSpec(size=1), layers=(layer,))
    result = build_automaton(model, parse_alphabet({"letters": {"x": [[1]]}}), max_states=50)
    assert result.status == "unknown" and result.machine is None
    assert result.reason.startswith("state budget of 50 states reached after exploring 49 states (depth 49; 51 distinct")
    assert result.to_json()["states"] is None
    exact = build_automaton(counter_model(), counter_alphabet(), max_states=2)  # exactly the budget: complete
    assert exact.status == "complete"
    over = build_automaton(counter_model(), counter_alphabet(), max_states=1)
    assert over.status == "unknown" and over.machine is None


def test_timeout_gives_unknown():
    result = build_automaton(recurrent_model(), parse_alphabet({"letters": PAIR_LETTERS}), timeout=1e-9)
    assert result.status == "unknown" and result.machine is None and result.reason.startswith("timeout after")


def test_a_growing_cuba_current_is_refused_before_it_leaves_the_exact_range():
    # no current leak: i grows by 4 (2^39 - 1) per step, about 2^41, and would pass 2^48 after 128 steps
    layer = Dense(weight=[[2**39 - 1] * 4], neuron=Neuron(size=1, model="cuba_lif", threshold=1, i_decay=(1, 0),
                                                          v_bits=48))
    model = Model(time_steps=1, input=InputSpec(size=4), layers=(layer,))
    result = build_automaton(model, parse_alphabet({"letters": {"x": [[1, 1, 1, 1]]}}))
    assert result.status == "unknown" and "cuba_lif synaptic current" in result.reason
    assert 100 < result.states_explored < 128


# ----------------------------------------------------------------------------- minimisation


def random_machine(rng, states: int, letters: int, outputs: int) -> MealyMachine:
    return MealyMachine(tuple(f"l{k}" for k in range(letters)), rng.integers(0, states, (states, letters)),
                        rng.integers(-1, outputs, (states, letters)))


def test_minimize_agrees_with_aalpy():
    rng = np.random.default_rng(7)
    machines = [random_machine(rng, int(rng.integers(1, 25)), int(rng.integers(1, 4)), int(rng.integers(0, 3)))
                for _ in range(25)]
    model = recurrent_model(delay=1)
    machines.append(build_automaton(model, parse_alphabet({"letters": PAIR_LETTERS}, model)).machine)
    merged = 0
    for machine in machines:
        reachable = machine.canonical()
        ours = machine.minimize()
        theirs = reachable.to_aalpy()
        theirs.minimize()
        assert ours.num_states == len(theirs.states) <= reachable.num_states
        assert ours.to_aalpy().is_minimal()
        merged += ours.num_states < reachable.num_states
        assert ours.equivalent(machine) is None
        for word in random_words(rng, Alphabet(machine.inputs, np.zeros((len(machine.inputs), 1, 1), dtype=np.int8)), 5, 10):
            theirs.reset_to_initial()
            assert [ours.label(-1 if o is None else o) for o in ours.run(word)] == \
                [str(o) for o in theirs.compute_output_seq(theirs.initial_state, word)]
        assert ours.minimize() == ours  # minimal machines are fixed points, in canonical numbering
    assert merged >= 5  # the comparison covered machines that do shrink


def test_minimize_handles_long_distinguishing_words():
    # two copies of a counting chain of N states (x counts up, y switches copy); only the
    # chain's end decides, so state i is told apart from i + 1 only by words of N - i letters
    N = 3000
    q = np.arange(2 * N)
    nxt = np.stack([np.where(q % N == N - 1, q, q + 1), (q + N) % (2 * N)], axis=1)
    out = np.stack([np.where(q % N == N - 1, 0, -1), np.full(2 * N, -1)], axis=1)
    machine = MealyMachine(("x", "y"), nxt, out)
    minimal = machine.minimize()
    assert minimal.num_states == N and minimal.equivalent(machine) is None
    assert latency_bound(minimal).witness == ["y"]  # y loops without a decision once the copies merge
    assert find_output(minimal, 0) == ["x"] * N


def test_canonical_numbering_makes_isomorphic_machines_equal():
    rng = np.random.default_rng(3)
    machine = random_machine(rng, 12, 2, 2)
    perm = rng.permutation(12)  # state q is called perm[q]
    inverse = np.argsort(perm)
    renamed = MealyMachine(machine.inputs, perm[machine.next_state[inverse]], machine.output[inverse],
                           initial=int(perm[machine.initial]))
    assert renamed != machine or machine.num_states == 1
    assert renamed.canonical() == machine.canonical()
    assert renamed.minimize() == machine.minimize()


def test_equivalent_finds_a_shortest_distinguishing_word():
    # a chain 0 -> 1 -> 2 -> 3 on letter x; y stays; only state 3 outputs 1 on y
    nxt = [[1, 0], [2, 1], [3, 2], [3, 3]]
    one = MealyMachine(("x", "y"), nxt, [[-1, -1], [-1, -1], [-1, -1], [-1, 1]])
    other = MealyMachine(("x", "y"), nxt, [[-1, -1], [-1, -1], [-1, -1], [-1, 0]])
    assert one.equivalent(other) == ["x", "x", "x", "y"]
    assert one.equivalent(one.minimize()) is None
    swapped = MealyMachine(("y", "x"), one.next_state[:, ::-1], one.output[:, ::-1])  # same machine, letters reordered
    assert one.equivalent(swapped) is None
    with pytest.raises(InputError, match="different letters"):
        one.equivalent(MealyMachine(("x", "z"), nxt, one.output))


# ----------------------------------------------------------------------------- questions


def test_latency_on_hand_computed_machines():
    only_x = build_automaton(counter_model(), counter_alphabet(with_quiet=False)).machine
    # from v = 0: x (none), x (class 0): 2 letters; from v = 1: 1 letter
    first = latency_bound(only_x)
    assert (first.bound, first.steps, first.witness, first.cycle) == (2, 2, ["x", "x"], 0)
    anywhere = latency_bound(only_x, "any")
    assert (anywhere.bound, anywhere.witness) == (2, ["x", "x"])
    with_quiet = build_automaton(counter_model(), counter_alphabet()).machine
    forever = latency_bound(with_quiet)
    assert (forever.bound, forever.steps, forever.witness, forever.cycle) == (None, None, ["o"], 1)
    assert latency_bound(with_quiet, "any").bound is None
    # a chain where the longest wait starts after a prefix: 0 -y/1-> 1 -y/none-> 2 -y/none-> 3 -y/2-> 0
    chain = MealyMachine(("y",), [[1], [2], [3], [0]], [[1], [-1], [-1], [2]], steps_per_letter=5)
    assert (latency_bound(chain).bound, latency_bound(chain).witness) == (1, ["y"])
    worst = latency_bound(chain, "any")
    assert (worst.bound, worst.steps, worst.witness) == (3, 15, ["y", "y", "y", "y"])
    assert chain.run(worst.witness)[-3:] == [None, None, 2]
    # unbounded only after a decision: a no-decision self-loop in state 1
    late = MealyMachine(("y", "z"), [[1, 1], [1, 0]], [[0, 0], [-1, 1]])
    assert latency_bound(late).bound == 1
    lasso = latency_bound(late, "any")
    assert (lasso.bound, lasso.witness, lasso.cycle) == (None, ["y", "y"], 1)
    with pytest.raises(ValueError, match="start"):
        latency_bound(late, "every")


def test_latency_witnesses_replay_on_the_network():
    model = recurrent_model(delay=1, refractory=1)
    alphabet = parse_alphabet({"letters": {k: PAIR_LETTERS[k] for k in ("a", "b", "ab")}}, model)
    machine = build_automaton(model, alphabet).machine.minimize()
    for start in ("initial", "any"):
        lat = latency_bound(machine, start)
        outs = replay(model, alphabet, lat.witness)
        if lat.bound is None:
            assert outs[len(outs) - lat.cycle:] == [None] * lat.cycle
        else:
            assert outs[-lat.bound:-1] == [None] * (lat.bound - 1) and outs[-1] is not None


def test_find_output():
    machine = build_automaton(counter_model(), counter_alphabet()).machine
    assert find_output(machine, 0) == ["x", "x"]
    assert find_output(machine, None) == ["x"]
    assert find_output(machine, 1) is None  # neuron 1 never fires: class 1 is never decided
    model = recurrent_model()
    alphabet = parse_alphabet({"letters": PAIR_LETTERS}, model)
    machine = build_automaton(model, alphabet).machine
    for cls in (0, 1):
        word = find_output(machine, cls)
        assert replay(model, alphabet, word)[-1] == cls
        shorter = [w for w in random_words(np.random.default_rng(cls), alphabet, 300, len(word) - 1)]
        assert all(cls not in replay(model, alphabet, w) for w in shorter if w)


# ----------------------------------------------------------------------------- exports


def exported_machine() -> MealyMachine:
    model = two_layer_model()
    return build_automaton(model, parse_alphabet({"letters": PAIR_LETTERS}, model)).machine.minimize()


def test_json_round_trip_and_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    machine = exported_machine()
    machine.provenance = {"note": "test"}
    doc = json.loads(json.dumps(machine.to_json()))
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    back = MealyMachine.from_json(doc)
    assert back == machine and back.provenance == {"note": "test"} and back.steps_per_letter == 2
    named = MealyMachine(("a",), [[0]], [[1]], output_names=("left", "right"))
    assert MealyMachine.from_json(named.to_json()).output_names == ("left", "right")


def test_the_schema_in_the_docs_is_the_one_in_the_code():
    blocks = re.findall(r"```json\n(.*?)```", DOCS.read_text(), flags=re.S)
    assert [json.loads(b) for b in blocks if '"$schema"' in b] == [SCHEMA]


@pytest.mark.parametrize("change, naming", [
    (lambda d: d.update(format="verisnn.automaton/0"), "format"),
    (lambda d: d.pop("next_state"), "next_state"),
    (lambda d: d["next_state"][0].__setitem__(0, 99), "next_state"),
    (lambda d: d["next_state"][0].append(0), "next_state"),
    (lambda d: d["output"][0].__setitem__(0, -2), "output[0][0]"),
    (lambda d: d.update(output=d["output"][:1]), "output"),
    (lambda d: d.update(initial=7), "initial"),
    (lambda d: d.update(inputs=["a", "a"]), "inputs"),
    (lambda d: d.update(inputs=["a b", "c"]), "inputs[0]"),
    (lambda d: d.update(output_names=["zero"]), "output_names"),
    (lambda d: d.update(extra=1), "(top level)"),
])
def test_bad_automaton_documents_name_the_field(change, naming):
    doc = MealyMachine(("a", "b"), [[1, 0], [1, 1]], [[-1, 0], [1, -1]]).to_json()
    change(doc)
    with pytest.raises(InputError) as e:
        MealyMachine.from_json(doc)
    assert e.value.path == naming or naming in str(e.value), str(e.value)


def test_dot_export_parses_with_one_edge_per_transition():
    machine = exported_machine()
    (graph,) = pydot.graph_from_dot_data(machine.to_dot())
    edges = [(e.get_source(), e.get_destination(), e.get_label().strip('"')) for e in graph.get_edges()]
    assert ("__start0", "s0", "") in edges
    expected = {(f"s{q}", f"s{machine.next_state[q, a]}", f"{name}/{machine.label(int(machine.output[q, a]))}")
                for q in range(machine.num_states) for a, name in enumerate(machine.inputs)}
    assert set(edges) - {("__start0", "s0", "")} == expected and len(edges) == machine.num_transitions + 1
    assert any(label.endswith("/none") for _, _, label in edges)


def test_aalpy_file_loads_back_as_the_same_machine(tmp_path):
    machine = exported_machine()
    files = save_machine(machine, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["automaton.aalpy.dot", "automaton.dot",
                                                          "automaton.json", "automaton.smv"]
    assert MealyMachine.from_json(json.loads(files["json"].read_text())) == machine
    loaded = load_automaton_from_file(str(files["aalpy"]), "mealy")
    assert len(loaded.states) == machine.num_states
    assert loaded.initial_state.state_id == f"s{machine.initial}"
    for state in loaded.states:
        q = int(state.state_id[1:])
        for a, name in enumerate(machine.inputs):
            assert state.transitions[name].state_id == f"s{machine.next_state[q, a]}"
            o = int(machine.output[q, a])
            assert state.output_fun[name] == ("none" if o < 0 else o)


def test_smv_module_holds_the_machine():
    machine = exported_machine()
    smv = machine.to_smv()
    assert "MODULE main" in smv and f"state : 0..{machine.num_states - 1};" in smv
    assert "letter : {" + ", ".join(f"l_{a}" for a in machine.inputs) + "};" in smv
    assert f"init(state) := {machine.initial};" in smv and "next(last_output) := output;" in smv
    define, assign = smv.split("ASSIGN")
    rows = r"state = (\d+) & letter = l_(\w+) : (-?\d+);"
    for text, table in ((define, machine.output), (assign, machine.next_state)):
        found = {(int(q), a): int(v) for q, a, v in re.findall(rows, text)}
        assert found == {(q, name): int(table[q, k]) for q in range(machine.num_states)
                         for k, name in enumerate(machine.inputs)}
    assert smv.count("case") == smv.count("esac;") == 2


# ----------------------------------------------------------------------------- alphabets


@pytest.mark.parametrize("doc, message", [
    ([1, 2], "JSON object with a 'letters' object"),
    ({}, "expected an object mapping letter names"),
    ({"letters": {}}, "at least one letter"),
    ({"letters": {"a": [[1]]}, "extra": 1}, "unknown field(s) 'extra'"),
    ({"letters": {"1a": [[1]]}}, "letter name '1a' must be an identifier"),
    ({"letters": {"a-b": [[1]]}}, "letter name 'a-b' must be an identifier"),
    ({"letters": {"a": []}}, "non-empty list of w rows"),
    ({"letters": {"a": [[]]}}, "non-empty list of 0/1"),
    ({"letters": {"a": [[2]]}}, "expected 0 or 1, got 2"),
    ({"letters": {"a": [[True]]}}, "expected 0 or 1, got True"),
    ({"letters": {"a": [[1.0]]}}, "expected 0 or 1, got 1.0"),
    ({"letters": {"a": [[1, 0], [1]]}}, "has 1 channels, row 0 has 2"),
    ({"letters": {"a": [[1]], "b": [[1], [0]]}}, "every letter must have the same number of steps w"),
    ({"letters": {"a": [[1]], "b": [[1, 0]]}}, "has 2 channels, letter 'a' has 1"),
])
def test_bad_alphabets_are_refused_with_a_clear_message(doc, message):
    with pytest.raises(InputError) as e:
        parse_alphabet(doc)
    assert message in str(e.value)


def test_alphabet_must_fit_the_model_and_load_from_files(tmp_path):
    model = recurrent_model()
    with pytest.raises(InputError, match="letters have 1 input channels; the model's input has 2"):
        parse_alphabet({"letters": {"a": [[1]]}}, model)
    with pytest.raises(InputError, match="the model's input has 2"):
        build_automaton(model, counter_alphabet())
    good = tmp_path / "a.json"
    good.write_text(json.dumps({"letters": PAIR_LETTERS}))
    alphabet = load_alphabet(good, model)
    assert alphabet.names == ("a", "b", "ab", "z") and alphabet.w == 2 and alphabet.rasters.dtype == np.int8
    assert parse_alphabet(alphabet.to_json()).to_json() == alphabet.to_json()
    for text, message in [("{", "not valid JSON"), ('{"letters": {"a": [[1]], "a": [[0]]}}', "a.json: key 'a' appears twice"),
                          ('{"letters": {"a": [[1, 2]]}}', "a.json: letters.a[0][1]: expected 0 or 1, got 2")]:
        good.write_text(text)
        with pytest.raises(InputError, match=re.escape(message)):
            load_alphabet(good)
    with pytest.raises(InputError, match="no such file"):
        load_alphabet(tmp_path / "missing.json")


def test_alphabet_dataclass_validates():
    zeros = lambda *shape: np.zeros(shape, dtype=np.int8)  # noqa: E731
    with pytest.raises(InputError, match="unique"):
        Alphabet(("a", "a"), zeros(2, 1, 1))
    with pytest.raises(InputError, match="only 0 and 1"):
        Alphabet(("a",), np.full((1, 1, 1), 2))
    with pytest.raises(InputError, match="integers 0/1, got dtype float64"):
        Alphabet(("a",), np.zeros((1, 1, 1)))
    with pytest.raises(InputError, match=r"rasters must be \[m=2, w, n\]"):
        Alphabet(("a", "b"), zeros(1, 1, 1))
    with pytest.raises(InputError, match="at least one step"):
        Alphabet(("a",), zeros(1, 0, 1))
    with pytest.raises(InputError, match="at least one letter"):
        Alphabet((), zeros(0, 1, 1))
    assert Alphabet(["a"], [[[True, False]]]).rasters.tolist() == [[[1, 0]]]


# ----------------------------------------------------------------------------- command line


def run_cli(capsys, *argv) -> tuple[int, dict]:
    code = cli.main(list(argv))
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert len(lines) == 1, out  # exactly one JSON object on stdout
    return code, json.loads(lines[0])


@pytest.fixture
def cli_files(tmp_path) -> dict[str, Path]:
    model = tmp_path / "m.snn.json"
    save_model(recurrent_model(), model)
    alphabet = tmp_path / "a.json"
    alphabet.write_text(json.dumps({"letters": PAIR_LETTERS}))
    return {"model": model, "alphabet": alphabet, "out": tmp_path / "out"}


def test_cli_builds_minimises_and_writes_every_export(capsys, cli_files):
    f = cli_files
    code, answer = run_cli(capsys, "automaton", str(f["model"]), "--alphabet", str(f["alphabet"]),
                           "--out", str(f["out"]), "--json")
    assert code == 0 and answer["status"] == "complete" and answer["reason"] is None
    full = build_automaton(recurrent_model(), load_alphabet(f["alphabet"])).machine
    assert answer["states"] == answer["states_explored"] == full.num_states
    assert answer["minimal_states"] == full.minimize().num_states < full.num_states
    assert answer["transitions"] == 4 * full.num_states and answer["states_per_s"] > 0
    assert set(answer["files"]) == {"json", "dot", "smv", "aalpy"}
    written = MealyMachine.from_json(json.loads(Path(answer["files"]["json"]).read_text()))
    assert written == full.minimize()
    assert written.provenance["minimized"] is True and len(written.provenance["model_sha256"]) == 64
    assert answer["latency"]["initial"] == latency_bound(written).to_json()
    assert answer["latency"]["any"] == latency_bound(written, "any").to_json()
    assert len(load_automaton_from_file(answer["files"]["aalpy"], "mealy").states) == written.num_states

    code, answer = run_cli(capsys, "automaton", str(f["model"]), "--alphabet", str(f["alphabet"]),
                           "--out", str(f["out"]), "--no-minimize", "--json")
    assert code == 0 and answer["minimal_states"] is None
    assert MealyMachine.from_json(json.loads(Path(answer["files"]["json"]).read_text())) == full


def test_cli_budget_gives_unknown_and_writes_nothing(capsys, cli_files):
    f = cli_files
    code, answer = run_cli(capsys, "automaton", str(f["model"]), "--alphabet", str(f["alphabet"]),
                           "--out", str(f["out"]), "--max-states", "3", "--json")
    assert code == 0 and answer["status"] == "unknown" and "state budget of 3 states" in answer["reason"]
    assert answer["files"] == {} and answer["latency"] is None and answer["states"] is None
    assert not f["out"].exists()


def test_cli_bad_input_exits_2_naming_it(capsys, cli_files, tmp_path):
    f = cli_files
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"letters": {"a": [[1, 0, 1]]}}))
    base = ["automaton", str(f["model"]), "--out", str(f["out"]), "--json"]
    for argv, naming in [(["--alphabet", str(bad)], "--alphabet bad.json: letters: letters have 3 input channels"),
                         (["--alphabet", str(tmp_path / "none.json")], "--alphabet: no such file"),
                         (["--alphabet", str(f["alphabet"]), "--max-states", "0"], "--max-states")]:
        code, answer = run_cli(capsys, *base, *argv)
        assert code == 2 and answer["kind"] == "bad_input" and naming in answer["error"], answer
    code, answer = run_cli(capsys, "automaton", str(f["model"]), "--alphabet", str(f["alphabet"]),
                           "--out", str(f["alphabet"]), "--json")
    assert code == 2 and "is not a folder" in answer["error"]
