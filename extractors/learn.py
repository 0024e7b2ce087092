"""Mealy machines learned from a network's behaviour with AALpy: L*, KV and RPNI.

The network, fed with the letters of an :class:`~verisnn.automaton.Alphabet` (named
rasters of ``w`` steps), is a system under learning (:class:`NetworkSUL`): a reset puts it
in the initial (all-zero) state, a letter runs it for ``w`` steps from where it is and
answers the readout decision over that letter's window — the output of the exact machines
of :func:`verisnn.automaton.build_automaton`, so learned and exact machines are directly
comparable. The SUL steps the one network update of :mod:`verisnn.semantics` incrementally
(one letter at a time, never re-running a word from its start) and counts what it runs.

:func:`learn_automaton` learns a machine actively (AALpy's L* or KV, with equivalence
queries answered exactly by the explicit machine, by random words with Angluin's PAC
bound, or by the W-method) or passively (RPNI from traces), converts it to verisnn's
:class:`~verisnn.automaton.MealyMachine`, measures its fidelity on random words with a
Clopper-Pearson interval and, when the exact machine fits the budget, says whether the
learned machine equals it. :func:`annotate_transitions` prices every transition on a
hardware profile (:mod:`verisnn.hardware`) and :func:`check_latency` compares those
annotations with the cost model on random words. :func:`run_automaton_extraction` is the
entry point of ``verisnn extract automaton``. See ``docs/extract-automata.md``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from aalpy.base import SUL, Oracle
from aalpy.oracles import PacOracle, WMethodEqOracle

from verisnn import semantics
from verisnn.automaton import (NO_DECISION, Alphabet, MealyMachine, bfs_order, exploration_plan, shortest_words,
                               word_to, build_automaton, latency_bound, save_machine, word_raster)
from verisnn.errors import InputError
from verisnn.extractors.fidelity import agreement_interval
from verisnn.model import Model
from verisnn.readout import decide
from verisnn.simulator import CURRENT_LIMIT

ALGORITHMS = ("lstar", "kv", "rpni")
ORACLES = ("auto", "exact", "wmethod", "pac")
NO_DECISION_LABEL = "none"  # AALpy-side output for no decision, as in MealyMachine.to_aalpy
REPORT_FORMAT = "verisnn.learn-report/1"


# ----------------------------------------------------------------------------- system under learning


def output_label(decision: int) -> int | str:
    """The output a learner sees for a readout decision: the class index, or ``"none"`` for
    no decision (``-1``). Not ``None``: AALpy's RPNI reads ``None`` as "output unknown"."""
    return int(decision) if decision >= 0 else NO_DECISION_LABEL


def _decision(label: Any, path: str = "output") -> int:
    """The inverse of :func:`output_label` (also accepting ``None`` and ``-1``)."""
    if label is None or label == NO_DECISION_LABEL:
        return NO_DECISION
    if isinstance(label, (int, np.integer)) and not isinstance(label, bool) and label >= NO_DECISION:
        return int(label)
    raise InputError(f"expected a class index, -1, None or {NO_DECISION_LABEL!r}, got {label!r}", path)


class _Budget(Exception):
    """A learning budget (hypothesis states, time) was exhausted; the message says which."""


class NetworkSUL(SUL):
    """The network over a symbolic alphabet as an AALpy system under learning.

    :meth:`pre` resets the network to the initial state; :meth:`step` runs one letter's
    ``w`` steps from the current state through :func:`verisnn.semantics.network_step` and
    returns :func:`output_label` of the readout decision over those steps. Counters:
    ``resets``, ``letters_run`` and ``steps_run`` (network steps, ``letters_run * w``)
    count everything simulated, whoever asked (learner or oracle); AALpy's own
    ``num_queries`` counts the membership queries that reached the network.
    """

    def __init__(self, model: Model, alphabet: Alphabet, deadline: float | None = None):
        super().__init__()
        if not isinstance(alphabet, Alphabet):
            raise InputError("expected an Alphabet", "alphabet")
        if alphabet.n != model.input.size:
            raise InputError(f"letters have {alphabet.n} input channels; the model's input has "
                             f"{model.input.size}", "alphabet")
        self.model, self.alphabet, self.deadline = model, alphabet, deadline
        # The exploration's plan: the simulator's operations, valid for runs of any length.
        self._ops, self._params, self._growth = exploration_plan(model)
        self._rasters = {name: [r[t][None, :] for t in range(alphabet.w)]
                         for name, r in zip(alphabet.names, alphabet.rasters)}
        self._state: semantics.NetworkState | None = None
        self.resets = self.letters_run = self.steps_run = 0

    def pre(self) -> None:
        self._state = semantics.initial_network_state(self._ops, self.model, (1,))
        self.resets += 1

    def post(self) -> None:
        self._state = None

    def step(self, letter: Any) -> int | str | None:
        if letter is None:  # AALpy's empty word: no letter read, no output
            return None
        if self._state is None:
            raise RuntimeError("NetworkSUL.step before pre(): the network has no state")
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise _Budget("timeout")
        raster = self._rasters.get(letter)
        if raster is None:  # a letter index, or an unknown letter (InputError naming the letters)
            raster = self._rasters[self.alphabet.names[self.alphabet.index(letter)]]
        state, last = self._state, []
        for x in raster:
            state, outs = semantics.network_step(self._ops, self.model, self._params, state, x)
            last.append(outs[-1])
        for k, per_step in self._growth.items():  # cuba_lif currents: stay in the exact range
            if np.abs(state.layers[k].i).max(initial=0) > CURRENT_LIMIT - len(raster) * per_step:
                raise _Budget("a cuba_lif synaptic current grows beyond the exact range of the reference "
                              "simulator (2^48)")
        self._state = state
        self.letters_run += 1
        self.steps_run += len(raster)
        return output_label(int(decide(self.model.readout, np.stack(last))[0]))

    def counters(self) -> dict:
        return {"membership_queries": self.num_queries, "resets": self.resets, "letters": self.letters_run,
                "steps": self.steps_run}


def _current_limit() -> int:
    from verisnn.simulator import CURRENT_LIMIT

    return CURRENT_LIMIT


# ----------------------------------------------------------------------------- machines


def from_aalpy(machine, inputs: Sequence[str], steps_per_letter: int = 1,
               output_names: Sequence[str] | None = None, complete: bool = False
               ) -> tuple[MealyMachine, list[tuple[int, str]]]:
    """verisnn's :class:`MealyMachine` of an ``aalpy.automata.MealyMachine``.

    States are numbered in AALpy's order with the initial state first, then the machine is
    renumbered canonically (breadth first; unreachable states dropped). Outputs: class
    indices, a name in ``output_names``, and ``"none"``/``None``/``-1`` (no decision).
    A missing transition is an error unless ``complete``: then it becomes a self-loop
    with no decision, and is listed in the second value as ``(state, letter)`` in the
    canonical numbering.
    """
    inputs = tuple(inputs)
    states = [machine.initial_state] + [s for s in machine.states if s is not machine.initial_state]
    number = {id(s): k for k, s in enumerate(states)}
    names = None if output_names is None else tuple(output_names)
    nxt = np.zeros((len(states), len(inputs)), dtype=np.int64)
    out = np.full((len(states), len(inputs)), NO_DECISION, dtype=np.int64)
    missing = []
    for q, state in enumerate(states):
        for a, letter in enumerate(inputs):
            target = state.transitions.get(letter)
            if target is None:
                if not complete:
                    raise InputError(f"state {state.state_id!r} has no transition on {letter!r}", "machine")
                nxt[q, a] = q
                missing.append((q, a))
                continue
            if id(target) not in number:
                raise InputError(f"state {state.state_id!r} leads on {letter!r} to a state outside the machine",
                                 "machine")
            nxt[q, a] = number[id(target)]
            label = state.output_fun.get(letter)
            out[q, a] = names.index(label) if names is not None and label in names else _decision(label)
    raw = MealyMachine(inputs, nxt, out, 0, names, steps_per_letter)
    canonical = raw.canonical()
    order = {int(q): k for k, q in enumerate(bfs_order(raw.next_state, raw.initial).tolist())}
    return canonical, [(order[q], inputs[a]) for q, a in missing if q in order]


# ----------------------------------------------------------------------------- oracles


class ExactOracle(Oracle):
    """Equivalence queries answered by the explicit machine of the network: the hypothesis
    is converted and compared with :meth:`MealyMachine.equivalent`; a shortest word on
    which they differ is the counterexample. Sound and complete: learning with it stops
    only at a machine equivalent to the network on every word over the alphabet."""

    def __init__(self, alphabet: Sequence[str], sul: SUL, exact: MealyMachine):
        super().__init__(list(alphabet), sul)
        self.exact = exact

    def find_cex(self, hypothesis) -> tuple | None:
        hyp, _ = from_aalpy(hypothesis, self.exact.inputs, self.exact.steps_per_letter)
        word = self.exact.equivalent(hyp)
        return None if word is None else tuple(word)


class _WMethod(WMethodEqOracle):
    """AALpy's W-method with a fixed number of extra states ``depth``: for a hypothesis of
    ``n`` states it tests every transition-cover word, then every middle word of at most
    ``depth`` letters, then a characterising suffix — complete for systems of at most
    ``n + depth`` states (AALpy's ``max_number_of_states`` is set to ``n + depth``)."""

    def __init__(self, alphabet: list, sul: SUL, depth: int):
        super().__init__(alphabet, sul, max_number_of_states=1)
        self.depth = depth

    def find_cex(self, hypothesis):
        self.m = len(hypothesis.states) + self.depth
        return super().find_cex(hypothesis)


class _CountingOracle(Oracle):
    """Wraps an oracle: records each equivalence query (hypothesis size, test words, network
    letters it ran, counterexample) and enforces the state and time budgets. AALpy replaces
    ``eq_oracle.sul`` with its caching SUL; the wrapper passes that on to the inner oracle."""

    def __init__(self, inner: Oracle, network: NetworkSUL, max_states: int, deadline: float | None):
        self.inner, self.network, self.max_states, self.deadline = inner, network, max_states, deadline
        self.rounds: list[dict] = []

    @property
    def sul(self):
        return self.inner.sul

    @sul.setter
    def sul(self, value):
        self.inner.sul = value

    @property
    def alphabet(self):
        return self.inner.alphabet

    @property
    def num_queries(self) -> int:
        return self.inner.num_queries

    @property
    def num_steps(self) -> int:
        return self.inner.num_steps

    def find_cex(self, hypothesis):
        size = len(hypothesis.states)
        if size > self.max_states:
            raise _Budget(f"state budget: a hypothesis has {size} states, more than max_states={self.max_states}")
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise _Budget("timeout")
        tests, letters = self.inner.num_queries, self.network.letters_run
        cex = self.inner.find_cex(hypothesis)
        self.rounds.append({"hypothesis_states": size, "tests": self.inner.num_queries - tests,
                            "letters": self.network.letters_run - letters,
                            "counterexample": None if cex is None else list(cex)})
        return cex


def pac_tests(round_index: int, epsilon: float, delta: float) -> int:
    """Angluin's number of random tests for the ``round_index``-th equivalence query (from
    1) so that, over all rounds together, a hypothesis is accepted with error above
    ``epsilon`` with probability at most ``delta``: ``ceil((ln(1/delta) + i ln 2) / epsilon)``
    (what ``aalpy.oracles.PacOracle`` runs)."""
    return math.ceil((math.log(1 / delta) + round_index * math.log(2)) / epsilon)


@contextlib.contextmanager
def _seeded(seed: int):
    """AALpy draws from Python's global ``random``: seed it for the run, then restore it."""
    saved = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(saved)


# ----------------------------------------------------------------------------- words and fidelity


def random_words(alphabet: Alphabet, count: int, lengths: tuple[int, int], rng: np.random.Generator
                 ) -> list[list[str]]:
    """``count`` words, each of a length uniform on ``lengths`` (inclusive), letters i.i.d.
    uniform over the alphabet."""
    lo, hi = lengths
    return [[alphabet.names[i] for i in rng.integers(0, len(alphabet), int(rng.integers(lo, hi + 1)))]
            for _ in range(count)]


def network_outputs(model: Model, alphabet: Alphabet, words: Sequence[Sequence[str]]) -> list[list[int]]:
    """The network's decision per letter of each word (``-1``: none), computed by the
    reference simulator (:func:`verisnn.simulator.simulate`) on the words' rasters in one
    batch — a different path from :class:`NetworkSUL`, hence an independent check. Words
    are padded to the longest with the first letter: a run is causal, so padding after a
    word changes none of its outputs."""
    from verisnn.simulator import simulate

    words = [list(w) for w in words]
    longest = max((len(w) for w in words), default=0)
    if longest == 0:
        return [[] for _ in words]
    pad = alphabet.names[0]
    rasters = np.stack([word_raster(alphabet, w + [pad] * (longest - len(w))) for w in words])
    run = simulate(dataclasses.replace(model, time_steps=rasters.shape[1]), rasters)
    out = run.layer_outputs[-1]  # [B, T, n]
    B = len(words)
    windows = out.reshape(B, longest, alphabet.w, -1).transpose(2, 0, 1, 3).reshape(alphabet.w, B * longest, -1)
    decisions = decide(model.readout, windows).reshape(B, longest)
    return [decisions[b, : len(w)].tolist() for b, w in enumerate(words)]


def fidelity(model: Model, alphabet: Alphabet, machine: MealyMachine, words: int = 1000,
             lengths: tuple[int, int] = (10, 25), seed: int = 0, confidence: float = 0.95) -> dict:
    """Agreement of ``machine`` with the network on ``words`` random words
    (:func:`random_words`), per letter and per word, each with its Clopper-Pearson
    interval (:func:`verisnn.extractors.fidelity.agreement_interval`).

    The per-letter interval treats letters as independent trials, which letters of one word
    are not; the per-word interval is exact for the stated distribution of words."""
    rng = np.random.default_rng(seed)
    sample = random_words(alphabet, words, lengths, rng)
    truth = network_outputs(model, alphabet, sample)
    agree = letters = whole = 0
    first_miss = None
    for word, expected in zip(sample, truth):
        got = [NO_DECISION if o is None else o for o in machine.run(word)]
        same = [g == e for g, e in zip(got, expected)]
        agree += sum(same)
        letters += len(word)
        whole += all(same)
        if first_miss is None and not all(same):
            first_miss = {"word": word, "letter": same.index(False), "network": expected, "machine": got}

    def interval(k: int, n: int) -> list[float] | None:
        return list(agreement_interval(k, n, confidence)) if n else None

    return {"value": agree / letters if letters else None, "ci": interval(agree, letters), "n": letters,
            "agree": agree, "confidence": confidence,
            "words": {"value": whole / words if words else None, "ci": interval(whole, words), "n": words,
                      "agree": whole},
            "distribution": f"{words} words, length uniform on {lengths[0]}..{lengths[1]} letters, letters i.i.d. "
                            f"uniform over {len(alphabet)}, seed {seed}",
            "example_disagreement": first_miss}


# ----------------------------------------------------------------------------- learning


@dataclass
class LearnResult:
    """The outcome of :func:`learn_automaton` (plain data through :meth:`to_json`).

    ``status`` ``complete``: learning ended with the oracle's acceptance (an exact oracle:
    the machine equals the network's on every word; PAC: with probability at least
    ``1 - delta`` its error on the test distribution is at most ``epsilon``; W-method:
    complete if the network's minimal machine has at most ``states + depth`` states;
    RPNI: the machine is consistent with the traces). ``unknown``: a budget was
    exhausted (``reason``); no machine. Counters: ``membership_queries`` reached the
    network (AALpy's cache answered ``cached_queries`` more; RPNI: the traces run); ``equivalence_queries``
    asked, ``equivalence_tests`` test words they ran; ``simulator_letters`` and
    ``simulator_steps`` everything the network ran (learner and oracle; the exact
    exploration, if any, is under ``exact``). ``rounds``: one entry per equivalence query.
    """

    status: str
    machine: MealyMachine | None
    algorithm: str
    oracle: str
    membership_queries: int
    cached_queries: int
    equivalence_queries: int
    equivalence_tests: int
    simulator_letters: int
    simulator_steps: int
    time_s: float
    rounds: list[dict] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    fidelity: dict | None = None
    exact: dict | None = None
    equals_exact: bool | None = None
    distinguishing_word: list[str] | None = None
    unobserved_transitions: list[tuple[int, str]] = field(default_factory=list)
    reason: str | None = None

    @property
    def states(self) -> int | None:
        return None if self.machine is None else self.machine.num_states

    def to_json(self, include_machine: bool = False) -> dict:
        d = {"status": self.status, "states": self.states, "algorithm": self.algorithm, "oracle": self.oracle,
             "membership_queries": self.membership_queries, "cached_queries": self.cached_queries,
             "equivalence_queries": self.equivalence_queries, "equivalence_tests": self.equivalence_tests,
             "simulator_letters": self.simulator_letters, "simulator_steps": self.simulator_steps,
             "time_s": self.time_s, "rounds": self.rounds, "settings": self.settings, "fidelity": self.fidelity,
             "exact": self.exact, "equals_exact": self.equals_exact, "distinguishing_word": self.distinguishing_word,
             "unobserved_transitions": [list(t) for t in self.unobserved_transitions], "reason": self.reason}
        if include_machine:
            d["machine"] = None if self.machine is None else self.machine.to_json()
        return d


def _check_args(algorithm, oracle, epsilon, delta, max_states, depth, word_lengths, fidelity_words, max_exact_states,
                rpni_traces, seed, timeout):
    if algorithm not in ALGORITHMS:
        raise InputError(f"unknown algorithm {algorithm!r}; expected one of {', '.join(ALGORITHMS)}", "algorithm")
    if oracle not in ORACLES:
        raise InputError(f"unknown oracle {oracle!r}; expected one of {', '.join(ORACLES)}", "oracle")
    for name, x in (("epsilon", epsilon), ("delta", delta)):
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not 0 < x < 1:
            raise InputError(f"must be a number in (0, 1), got {x!r}", name)
    for name, x, lo in (("max_states", max_states, 1), ("depth", depth, 0), ("fidelity_words", fidelity_words, 0),
                        ("max_exact_states", max_exact_states, 1), ("rpni_traces", rpni_traces, 1), ("seed", seed, 0)):
        if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x < lo:
            raise InputError(f"must be an integer >= {lo}, got {x!r}", name)
    if (not isinstance(word_lengths, (tuple, list)) or len(word_lengths) != 2
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in word_lengths)
            or not 1 <= word_lengths[0] <= word_lengths[1]):
        raise InputError(f"must be a pair (shortest, longest) with 1 <= shortest <= longest, got {word_lengths!r}",
                         "word_lengths")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0):
        raise InputError(f"must be > 0 seconds, got {timeout!r}", "timeout")


def _traces(network: NetworkSUL, alphabet: Alphabet, traces, count: int, lengths, rng) -> tuple[list, dict]:
    """Prefix-closed RPNI data ``[(word, last output), ...]`` from traces: given ones (words,
    or ``(word, outputs)`` pairs recorded elsewhere), or ``count`` random words run on the
    network (through the SUL, counted)."""
    given = traces is not None
    if not given:
        traces = random_words(alphabet, count, tuple(lengths), rng)
    if not isinstance(traces, (list, tuple)) or not traces:
        raise InputError("expected a non-empty list of words or of (word, outputs) pairs", "traces")
    data: dict[tuple, Any] = {}
    recorded = 0
    for k, trace in enumerate(traces):
        path = f"traces[{k}]"
        if not isinstance(trace, (tuple, list)):
            raise InputError("expected a word (a list of letters) or a (word, outputs) pair", path)
        if len(trace) == 2 and isinstance(trace[0], (tuple, list)):  # (word, outputs): recorded elsewhere
            word, outputs = trace
            if not isinstance(outputs, (tuple, list)) or len(outputs) != len(word):
                raise InputError(f"expected {len(word)} outputs (one per letter), got {outputs!r}", path)
            outputs = [output_label(_decision(o, path)) for o in outputs]
            recorded += 1
        else:
            word, outputs = trace, None
        word = tuple(alphabet.names[alphabet.index(letter)] for letter in word)
        if outputs is None:
            outputs = network.query(word) if word else []
        for i in range(1, len(word) + 1):
            if data.setdefault(word[:i], outputs[i - 1]) != outputs[i - 1]:
                raise InputError(f"the traces disagree on the output after {list(word[:i])}", f"traces[{k}]")
    info = {"traces": len(traces), "given": given, "recorded_outputs": recorded, "prefixes": len(data)}
    if not given:
        info["distribution"] = f"length uniform on {lengths[0]}..{lengths[1]} letters, letters i.i.d. uniform"
    return [(w, o) for w, o in data.items()], info


def learn_automaton(model: Model, alphabet: Alphabet, *, algorithm: str = "lstar", oracle: str = "auto",
                    epsilon: float = 0.01, delta: float = 0.01, max_states: int = 1000, depth: int = 2,
                    traces: Sequence | None = None, seed: int = 0, max_exact_states: int = 100_000,
                    word_lengths: tuple[int, int] = (10, 25), rpni_traces: int = 500, fidelity_words: int = 1000,
                    compare_exact: bool = True, timeout: float | None = None) -> LearnResult:
    """Learn the Mealy machine of ``model`` over ``alphabet`` with AALpy.

    ``algorithm``: ``lstar`` or ``kv`` (active: membership queries to :class:`NetworkSUL`)
    or ``rpni`` (passive: from ``traces``, or ``rpni_traces`` random words of
    ``word_lengths`` letters run on the network). ``oracle`` for active learning:
    ``exact`` (:class:`ExactOracle` on :func:`build_automaton`'s machine, minimised; an
    error if the exploration exceeds ``max_exact_states``), ``pac`` (AALpy's
    ``PacOracle``: :func:`pac_tests` random words per query, lengths uniform on
    ``word_lengths``), ``wmethod`` (:class:`_WMethod` with ``depth`` extra states),
    ``auto`` (exact when the exploration fits ``max_exact_states``, else PAC).

    ``max_states`` bounds the hypotheses and ``timeout`` (s) the learning; past either,
    the result is ``unknown`` with no machine. With ``compare_exact`` the exact machine is
    also built (within ``max_exact_states``) when the oracle did not need it, to say
    whether the learned machine equals it. The fidelity is measured on ``fidelity_words``
    random words of ``word_lengths`` letters (:func:`fidelity`). ``seed`` fixes every
    random choice (AALpy's, the traces', the fidelity words').
    """
    _check_args(algorithm, oracle, epsilon, delta, max_states, depth, word_lengths, fidelity_words, max_exact_states,
                rpni_traces, seed, timeout)
    start = time.perf_counter()
    deadline = None if timeout is None else start + timeout
    network = NetworkSUL(model, alphabet, deadline)
    names = list(alphabet.names)
    settings: dict[str, Any] = {"seed": seed, "max_states": max_states, "max_exact_states": max_exact_states,
                                "word_lengths": list(word_lengths), "oracle_requested": oracle}

    exact_min, exact_info = None, None

    def explore() -> None:
        nonlocal exact_min, exact_info
        left = None if deadline is None else max(deadline - time.perf_counter(), 1e-3)
        built = build_automaton(model, alphabet, max_states=max_exact_states, timeout=left)
        exact_info = {"status": built.status, "states": built.states_discovered if built.machine else None,
                      "minimal_states": None, "steps": built.transitions * alphabet.w, "time_s": built.time_s,
                      "reason": built.reason}
        if built.machine is not None:
            exact_min = built.machine.minimize()
            exact_info["minimal_states"] = exact_min.num_states

    used = "none" if algorithm == "rpni" else oracle
    learn_start = time.perf_counter()
    counting, info, unobserved, reason = None, {}, [], None
    learned = None
    try:
        if algorithm != "rpni" and oracle in ("auto", "exact"):
            explore()
            if exact_min is None and exact_info["reason"].startswith("timeout"):
                raise _Budget("timeout")
            if exact_min is None and oracle == "exact":
                raise InputError(f"the exact machine is out of reach ({exact_info['reason']}); use oracle 'pac' "
                                 "or 'wmethod', or raise max_exact_states", "oracle")
            used = "exact" if exact_min is not None else "pac"
        if used == "pac":
            settings.update(epsilon=epsilon, delta=delta)
        if used == "wmethod":
            settings["depth"] = depth
        with _seeded(seed), contextlib.redirect_stdout(io.StringIO()):  # AALpy prints progress on stdout
            if algorithm == "rpni":
                from aalpy.learning_algs import run_RPNI

                data, trace_info = _traces(network, alphabet, traces, rpni_traces, word_lengths,
                                           np.random.default_rng([seed, 1]))
                settings.update(trace_info)
                aalpy_machine = run_RPNI(data, "mealy", algorithm="gsm", print_info=False)
                if aalpy_machine is None:  # unreachable: _traces refuses contradicting data
                    raise InputError("the traces are not deterministic", "traces")
                learned, unobserved = from_aalpy(aalpy_machine, names, alphabet.w, complete=True)
            else:
                from aalpy.learning_algs import run_KV, run_Lstar

                if used == "exact":
                    inner = ExactOracle(names, network, exact_min)
                elif used == "pac":
                    inner = PacOracle(names, network, epsilon=epsilon, delta=delta,
                                      min_walk_len=word_lengths[0], max_walk_len=word_lengths[1])
                else:
                    inner = _WMethod(names, network, depth)
                counting = _CountingOracle(inner, network, max_states, deadline)
                run = run_Lstar if algorithm == "lstar" else run_KV
                aalpy_machine, info = run(names, network, counting, "mealy", return_data=True, print_level=0)
                learned, _ = from_aalpy(aalpy_machine, names, alphabet.w)
    except _Budget as e:
        reason = str(e) if str(e) != "timeout" else f"timeout after {timeout:g} s"
    except SystemExit as e:  # AALpy's cache reports non-determinism by exiting
        raise RuntimeError(f"the network answered a query in two ways (a defect in verisnn): {e}") from None
    time_s = time.perf_counter() - learn_start  # the exploration included when it served as the oracle

    rounds = counting.rounds if counting is not None else []
    result = LearnResult(
        status="complete" if learned is not None else "unknown", machine=learned, algorithm=algorithm, oracle=used,
        membership_queries=network.num_queries, cached_queries=int(info.get("cache_saved", 0)),
        equivalence_queries=len(rounds), equivalence_tests=sum(r["tests"] for r in rounds),
        simulator_letters=network.letters_run, simulator_steps=network.steps_run, time_s=time_s, rounds=rounds,
        settings=settings, unobserved_transitions=unobserved, reason=reason)
    if used == "pac":
        settings["tests_per_query"] = [pac_tests(i + 1, epsilon, delta) for i in range(len(rounds))]
    if learned is None:
        result.exact = exact_info
        return result
    if compare_exact and exact_info is None:
        explore()
    result.exact = exact_info
    if exact_min is not None:
        word = exact_min.equivalent(learned.minimize())
        result.equals_exact, result.distinguishing_word = word is None, word
    if fidelity_words:
        result.fidelity = fidelity(model, alphabet, learned, fidelity_words, tuple(word_lengths), seed=seed + 1)
    return result


# ----------------------------------------------------------------------------- hardware cross-check


@dataclass
class TransitionTiming:
    """Hardware time of every transition of a machine (see :func:`annotate_transitions`).

    ``latency_ps[q][a]``: exact ps of letter ``a``'s ``w`` steps run from the network state
    that state ``q``'s access word ``access[q]`` reaches (``None`` for an unreachable
    state); ``steps_per_letter`` is also each transition's decision latency in steps."""

    profile: str
    steps_per_letter: int
    inputs: tuple[str, ...]
    access: list[list[str] | None]
    latency_ps: list[list[int | None]]

    def latency_us(self, state: int, letter: int) -> float | None:
        ps = self.latency_ps[state][letter]
        return None if ps is None else ps / 10**6

    def to_json(self) -> dict:
        return {"profile": self.profile, "steps_per_letter": self.steps_per_letter, "inputs": list(self.inputs),
                "access_words": self.access,
                "transition_us": [[None if ps is None else ps / 10**6 for ps in row] for row in self.latency_ps],
                "transition_steps": self.steps_per_letter}


def _letter_times(model: Model, alphabet: Alphabet, words: Sequence[Sequence[str]], profile, placement
                  ) -> list[list[int]]:
    """Per word, the exact ps of each letter's ``w`` steps in one run from the initial state
    (:func:`verisnn.hardware.cost` on the word's raster, its per-step times summed per
    letter window). Words are padded to the longest with the first letter: the time of a
    step depends only on the steps up to it."""
    from verisnn.hardware import cost

    words = [list(w) for w in words]
    longest = max((len(w) for w in words), default=0)
    if longest == 0:
        return [[] for _ in words]
    w, pad = alphabet.w, alphabet.names[0]
    rasters = np.stack([word_raster(alphabet, x + [pad] * (longest - len(x))) for x in words])
    report = cost(dataclasses.replace(model, time_steps=longest * w), rasters, profile, placement)
    steps = report.step_ps  # [B, T] exact ints (int64 or Python ints)
    return [[int(sum(int(s) for s in steps[b, j * w: (j + 1) * w])) for j in range(len(x))]
            for b, x in enumerate(words)]


def annotate_transitions(model: Model, alphabet: Alphabet, machine: MealyMachine, profile: Any = "loihi",
                         placement: Any = None) -> TransitionTiming:
    """Each transition ``(q, a)`` of ``machine`` annotated with its decision latency: ``w``
    steps (the output is the decision over the letter's window) and the hardware time of
    those steps on ``profile`` (:func:`verisnn.hardware.cost`, default placement unless
    ``placement``), run from the network state reached by ``q``'s shortest access word.

    For the exact, unminimised machine every state is one network state and the
    annotation is exact for every word. A minimised or learned machine merges network
    states that give the same outputs; they may still take different time, which
    :func:`check_latency` exposes."""
    from verisnn.hardware import load_profile, place

    if tuple(machine.inputs) != tuple(alphabet.names):
        raise InputError(f"the machine reads {list(machine.inputs)}, the alphabet has {list(alphabet.names)}",
                         "machine")
    profile = load_profile(profile)
    placement = place(model, profile, placement)  # the default placement, or the given one validated
    parent, via = shortest_words(machine.next_state, machine.initial)
    S, m = machine.next_state.shape
    access: list[list[str] | None] = [None] * S
    for q in range(S):
        if q == machine.initial or parent[q] >= 0:
            access[q] = [alphabet.names[a] for a in word_to(parent, via, q)]
    latency: list[list[int | None]] = [[None] * m for _ in range(S)]
    by_length: dict[int, list[int]] = {}
    for q in range(S):
        if access[q] is not None:
            by_length.setdefault(len(access[q]), []).append(q)
    for states in by_length.values():  # one batched cost run per access-word length
        words = [access[q] + [name] for q in states for name in alphabet.names]
        times = _letter_times(model, alphabet, words, profile, placement)
        for k, q in enumerate(states):
            for a in range(m):
                latency[q][a] = times[k * m + a][-1]
    return TransitionTiming(profile.name, alphabet.w, tuple(alphabet.names), access, latency)


def check_latency(model: Model, alphabet: Alphabet, machine: MealyMachine, timing: TransitionTiming,
                  words: int = 200, lengths: tuple[int, int] = (1, 20), seed: int = 0, profile: Any = None,
                  placement: Any = None) -> dict:
    """Predicted against measured hardware time on ``words`` random words: predicted = the
    transition annotations along the machine's path; measured = the cost model on the
    word's raster from the initial state, letter by letter. Reports the letters compared,
    how many differ, the largest difference per letter and per word (µs), and the first
    disagreeing word."""
    from verisnn.hardware import load_profile, place

    profile = load_profile(profile if profile is not None else timing.profile)
    placement = place(model, profile, placement)
    rng = np.random.default_rng(seed)
    sample = random_words(alphabet, words, lengths, rng)
    measured = _letter_times(model, alphabet, sample, profile, placement)
    letters = differ = 0
    worst_letter = worst_word = 0
    example = None
    for word, times in zip(sample, measured):
        q, predicted = machine.initial, []
        for name in word:
            a = machine.letter_index(name)
            predicted.append(timing.latency_ps[q][a])
            q = int(machine.next_state[q, a])
        gaps = [abs(p - t) for p, t in zip(predicted, times)]
        letters += len(word)
        differ += sum(g > 0 for g in gaps)
        worst_letter = max(worst_letter, max(gaps, default=0))
        worst_word = max(worst_word, abs(sum(predicted) - sum(times)))
        if example is None and any(gaps):
            j = next(i for i, g in enumerate(gaps) if g)
            example = {"word": word, "letter": j, "predicted_us": predicted[j] / 10**6,
                       "measured_us": times[j] / 10**6, "predicted_word_us": sum(predicted) / 10**6,
                       "measured_word_us": sum(times) / 10**6}
    return {"profile": profile.name, "words": words, "letters": letters, "disagreeing_letters": differ,
            "max_abs_diff_us": worst_letter / 10**6, "max_word_abs_diff_us": worst_word / 10**6,
            "distribution": f"{words} words, length uniform on {lengths[0]}..{lengths[1]} letters, letters i.i.d. "
                            f"uniform over {len(alphabet)}, seed {seed}",
            "example": example}


# ----------------------------------------------------------------------------- entry point


def run_automaton_extraction(model: Model, alphabet: Alphabet, out_dir: str | Path, *, algorithm: str = "lstar",
                             oracle: str = "auto", profile: Any = "loihi", latency_words: int = 200,
                             **learn_options) -> dict:
    """Learn (:func:`learn_automaton`), annotate (:func:`annotate_transitions`), cross-check
    (:func:`check_latency`), and write into ``out_dir``: the machine's exports
    (``automaton.json/.dot/.smv/.aalpy.dot``, :func:`verisnn.automaton.save_machine`) and
    ``learn.json`` (the whole report). Returns plain data: ``status``, ``states``,
    ``algorithm``, ``oracle``, ``membership_queries``, ``equivalence_queries``,
    ``simulator_steps``, ``time_s``, ``fidelity``, ``equals_exact``, ``latency``,
    ``files``, ``reason``."""
    from verisnn.hardware import load_profile
    from verisnn.model_format import model_hash

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out_dir} exists and is not a folder", "out_dir")
    hw = load_profile(profile)
    result = learn_automaton(model, alphabet, algorithm=algorithm, oracle=oracle, **learn_options)
    fid = result.fidelity
    answer = {"status": result.status, "states": result.states, "algorithm": result.algorithm,
              "oracle": result.oracle, "membership_queries": result.membership_queries,
              "equivalence_queries": result.equivalence_queries, "simulator_steps": result.simulator_steps,
              "time_s": result.time_s,
              "fidelity": None if fid is None else {"value": fid["value"], "ci": fid["ci"], "n": fid["n"],
                                                    "distribution": fid["distribution"]},
              "equals_exact": result.equals_exact, "latency": None, "files": {}, "reason": result.reason}
    report = {"format": REPORT_FORMAT, "model_sha256": model_hash(model), "model_name": model.name,
              "letters": alphabet.to_json()["letters"], "learning": result.to_json()}
    out.mkdir(parents=True, exist_ok=True)
    if result.machine is not None:
        machine = result.machine
        timing = annotate_transitions(model, alphabet, machine, hw)
        check = check_latency(model, alphabet, machine, timing, words=latency_words, seed=result.settings["seed"])
        answer["latency"] = {
            "profile": hw.name, "steps_per_letter": alphabet.w,
            "bound": {start: latency_bound(machine, start).to_json() for start in ("initial", "any")},
            "transition_us": timing.to_json()["transition_us"], "check": check}
        report["latency"] = {**timing.to_json(), "check": check, "bound": answer["latency"]["bound"]}
        machine.provenance = {"model_sha256": report["model_sha256"], "model_name": model.name,
                              "letters": report["letters"], "learned_with": algorithm, "oracle": result.oracle,
                              "minimal": machine.minimize().num_states == machine.num_states}
        answer["files"] = {kind: str(path) for kind, path in save_machine(machine, out).items()}
    report_path = out / "learn.json"
    report_path.write_text(json.dumps(report, indent=1) + "\n")
    answer["files"]["report"] = str(report_path)
    return answer
