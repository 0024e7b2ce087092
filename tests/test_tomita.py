"""The Tomita case study: the grammars' automata are right, and a trained SNN's exact machine
is the network's behaviour (it agrees with the reference simulator) and, when learned,
equivalent to the grammar's minimal machine; a grammar not learned is reported with a
distinguishing word that the network really gets wrong."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from verisnn import load_model, model_hash
from verisnn.automaton import MealyMachine, build_automaton, replay

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "case_studies" / "tomita"
sys.path.insert(0, str(STUDY))

import grammars  # noqa: E402
from grammars import GRAMMARS, PREDICATES, prefix_machine, words  # noqa: E402


def _load_build():
    spec = importlib.util.spec_from_file_location("tomita_build", STUDY / "build.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


build = _load_build()

# Minimal DFA sizes (dead state included) as usually given for the Tomita grammars.
DFA_STATES = {1: 2, 2: 3, 3: 5, 4: 4, 5: 4, 6: 3, 7: 5}


@pytest.mark.parametrize("k", sorted(GRAMMARS))
def test_dfa_agrees_with_the_predicate_on_every_short_word(k):
    dfa, member = GRAMMARS[k], PREDICATES[k]
    wrong = [w for w in words(12) if dfa.accepts(w) != member(w)]
    assert wrong == []


def test_tomita3_is_weiss_et_al_s():
    """Weiss, Goldberg & Yahav (2018)'s regular expression for the complement of Tomita 3
    (over 0/1; a = 0, b = 1)."""
    not_t3 = re.compile("((0|1)*0)*1(11)*(0(0|1)*1)*0(00)*(1(0|1)*)*$")
    for w in words(12):
        assert GRAMMARS[3].accepts(w) == (not_t3.match(w.replace("a", "0").replace("b", "1")) is None)


def test_tomita3_is_the_later_reading():
    # an odd b-run, then an even a-run, then an odd a-run later on: rejected (adjacent reading accepts)
    assert not GRAMMARS[3].accepts("baabab") and not PREDICATES[3]("baabab")
    assert GRAMMARS[3].accepts("bbaaa") and GRAMMARS[3].accepts("baab")


@pytest.mark.parametrize("k", sorted(GRAMMARS))
def test_dfa_is_minimal(k):
    """Output (accepting before, accepting after) per transition sees the empty word too, so
    the minimal such machine has exactly as many states as the minimal DFA."""
    dfa = GRAMMARS[k]
    acc = np.array(dfa.accepting, dtype=np.int64)
    delta = np.array(dfa.delta, dtype=np.int64)
    machine = MealyMachine(grammars.LETTERS, delta, 2 * acc[:, None] + acc[delta])
    assert machine.minimize().num_states == dfa.num_states == DFA_STATES[k]


@pytest.mark.parametrize("k", sorted(GRAMMARS))
def test_prefix_machine_outputs_membership_of_every_prefix(k):
    dfa, member = GRAMMARS[k], PREDICATES[k]
    machine = prefix_machine(dfa)
    for w in words(8, min_length=1):
        assert machine.run(w) == [int(member(w[:n])) for n in range(1, len(w) + 1)]
    assert machine.minimize().num_states == dfa.num_states


def test_word_helpers():
    dfa = GRAMMARS[4]
    rng = np.random.default_rng(0)
    sampled = build.sample_words(dfa, rng, 64, 20)
    assert sampled.shape == (64, 20) and set(np.unique(sampled)) <= {0, 1}
    # steered rows (odd) stay alive more often than uniform ones (even): both labels are seen
    labels = build.prefix_labels(dfa, sampled)
    assert labels[1::2].mean() > labels[0::2].mean()
    for row, lab in zip(sampled, labels):
        w = "".join(grammars.LETTERS[i] for i in row)
        assert lab.tolist() == dfa.prefix_labels(w)
    every = build.all_words(5)
    assert len({tuple(r) for r in every.tolist()}) == 32
    letters = build.alphabet(3)
    assert letters.names == ("a", "b") and letters.rasters.shape == (2, 3, 2)
    assert letters.rasters[0, 0].tolist() == [1, 0] and letters.rasters[1, 0].tolist() == [0, 1]
    assert letters.rasters[:, 1:].sum() == 0


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("tomita")
    return out, build.build([2, 5], out, progress=False)


@pytest.mark.parametrize("name, k", [("T2", 2), ("T5", 5)])
def test_build_learns_and_the_exact_machine_is_the_grammar(built, name, k):
    out, summary = built
    row = summary["grammars"][name]
    assert row["learned"] and row["equal"] and row["replay_agrees"]
    assert row["minimal_states"] == row["dfa_states"] == DFA_STATES[k]
    assert row["validation_accuracy"] == row["test_accuracy"] == 1.0
    model = load_model(row["model"])
    assert model_hash(model) == row["sha256"]
    letters = build.alphabet(summary["letter_steps"])
    # Independently of the build: explore again, compare with the grammar, replay random words.
    result = build_automaton(model, letters)
    assert result.status == "complete"
    machine = result.machine.minimize()
    assert machine.equivalent(prefix_machine(GRAMMARS[k])) is None
    rng = np.random.default_rng(7)
    for w in build.sample_words(GRAMMARS[k], rng, 12, 30).tolist():
        assert replay(model, letters, w) == machine.run(w) == GRAMMARS[k].prefix_labels(
            "".join(grammars.LETTERS[i] for i in w))
    # batched per-letter decisions = replay, word by word
    batch = build.sample_words(GRAMMARS[k], rng, 6, 17)
    decisions = build.letter_decisions(model, letters, batch)
    for w, d in zip(batch.tolist(), decisions.tolist()):
        assert replay(model, letters, w) == d
    saved = MealyMachine.from_json(json.loads((out / name / "automaton.json").read_text()))
    assert saved.equivalent(machine) is None
    assert (out / name / "automaton.dot").read_text().startswith("digraph")
    grammar = MealyMachine.from_json(json.loads((out / name / "grammar.json").read_text()))
    assert grammar.equivalent(prefix_machine(GRAMMARS[k])) is None
    assert json.loads((out / "summary.json").read_text()) == summary
    assert set(json.loads((out / "alphabet.json").read_text())["letters"]) == {"a", "b"}


def test_a_grammar_not_learned_is_reported_with_a_real_counterexample(built):
    """The T2 network compared with T4's grammar: not equal, and the distinguishing word is
    replayed on the reference simulator, where the network decides against the grammar."""
    _, summary = built
    model = load_model(summary["grammars"]["T2"]["model"])
    cfg = build.grammar_config(build.load_config(), 4)
    row, machine = build.compare(model, GRAMMARS[4], cfg, np.random.default_rng(0))
    assert row["equal"] is False and machine is not None
    word = row["distinguishing_word"]
    assert word and row["network_on_word"] != row["grammar_on_word"]
    assert replay(model, build.alphabet(cfg["letter_steps"]), list(word))[-1] == row["network_on_word"]
    assert row["grammar_on_word"] == int(GRAMMARS[4].accepts(word))
    # shortest: every shorter word gets the grammar's answer at every letter
    letters = build.alphabet(cfg["letter_steps"])
    for w in words(len(word) - 1, min_length=1):
        assert replay(model, letters, list(w)) == GRAMMARS[4].prefix_labels(w)


def test_build_script_runs_from_the_command_line(tmp_path):
    proc = subprocess.run([sys.executable, str(STUDY / "build.py"), "--out", str(tmp_path), "--grammars", "1",
                           "--json"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert list(summary["grammars"]) == ["T1"] and summary["learned"] == ["T1"]
    assert (tmp_path / "T1" / "tomita1.snn.json").is_file()
    bad = subprocess.run([sys.executable, str(STUDY / "build.py"), "--out", str(tmp_path), "--grammars", "9"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "grammars are numbered 1..7" in bad.stderr
