"""The seven Tomita grammars over the two letters ``a`` and ``b``.

Tomita (1982), "Dynamic construction of finite-state automata from examples
using hill-climbing", defined seven regular languages over ``{0, 1}`` that have
since served as the standard benchmark for extracting automata from recurrent
networks (e.g. Weiss, Goldberg & Yahav 2018, "Extracting automata from recurrent
neural networks using queries and counterexamples", ICML; their reference
implementation is github.com/tech-srl/lstar_extraction). Our convention:
**``a`` is 0 and ``b`` is 1**, so the usual definitions read

====  ===========================  ==============================================
T1    ``1*``                       ``b*`` — no ``a`` at all
T2    ``(10)*``                    ``(ba)*``
T3    no odd run of 1s followed,   no maximal run of ``b`` of odd length that is
      later, by an odd run of 0s   followed (anywhere later) by a maximal run of
                                   ``a`` of odd length
T4    no ``000``                   no ``aaa`` substring
T5    even #0 and even #1          even number of ``a`` and of ``b``
T6    #0 − #1 ≡ 0 (mod 3)          ``#a − #b ≡ 0 (mod 3)``
T7    ``0*1*0*1*``                 ``a*b*a*b*``
====  ===========================  ==============================================

T3 follows Weiss et al.'s reading ("an odd series of consecutive ones and then
*later* an odd series of consecutive zeros"), whose minimal DFA has 5 states; the
reading where the two runs must be adjacent has 4.

Each grammar is given twice, independently: as an explicit minimal complete DFA
(:data:`GRAMMARS`, transition tables written by hand, a dead state included
where the language has one) and as a membership predicate written with counting,
run lengths or a regular expression (:data:`PREDICATES`). ``tests/test_tomita.py``
checks that the two agree on every word up to length 12.

A network reads a word letter by letter and decides after every letter, so what
it can be compared with is the grammar's :func:`prefix_machine`: a Mealy machine
whose output after each letter is 1 when the prefix read so far is in the
language and 0 when it is not. It cannot see the empty word, so its minimal form
may have fewer states than the minimal DFA (two states that differ only in
accepting the empty word merge); for these seven grammars it has as many.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

LETTERS = ("a", "b")  # a = 0, b = 1 in Tomita's definitions
OUTPUTS = ("reject", "accept")  # the decision after a letter: 0 = prefix not in the language, 1 = in it


@dataclass(frozen=True)
class DFA:
    """A complete deterministic automaton over :data:`LETTERS`.

    ``delta[q][k]`` is the state after letter ``LETTERS[k]`` in state ``q``;
    ``accepting[q]`` whether ``q`` accepts; the initial state is 0.
    """

    name: str
    description: str
    delta: tuple[tuple[int, ...], ...]
    accepting: tuple[bool, ...]

    @property
    def num_states(self) -> int:
        return len(self.delta)

    def state_after(self, word: str, state: int = 0) -> int:
        for letter in word:
            state = self.delta[state][LETTERS.index(letter)]
        return state

    def accepts(self, word: str) -> bool:
        return self.accepting[self.state_after(word)]

    def prefix_labels(self, word: str) -> list[int]:
        """1/0 for each non-empty prefix of ``word``: is it in the language?"""
        labels, state = [], 0
        for letter in word:
            state = self.delta[state][LETTERS.index(letter)]
            labels.append(int(self.accepting[state]))
        return labels

    def live_states(self) -> frozenset[int]:
        """States from which some accepting state can be reached (not dead)."""
        live = {q for q in range(self.num_states) if self.accepting[q]}
        changed = True
        while changed:
            changed = False
            for q in range(self.num_states):
                if q not in live and any(r in live for r in self.delta[q]):
                    live.add(q)
                    changed = True
        return frozenset(live)


def _dfa(name: str, description: str, table: dict[str, tuple[str, str, bool]]) -> DFA:
    """A DFA from ``{state: (after a, after b, accepting)}``; the first state is initial."""
    names = list(table)
    index = {q: k for k, q in enumerate(names)}
    return DFA(name, description,
               delta=tuple((index[table[q][0]], index[table[q][1]]) for q in names),
               accepting=tuple(table[q][2] for q in names))


GRAMMARS: dict[int, DFA] = {
    1: _dfa("T1", "b*", {
        "start": ("dead", "start", True),
        "dead": ("dead", "dead", False)}),
    2: _dfa("T2", "(ba)*", {
        "even": ("dead", "odd", True),
        "odd": ("even", "dead", False),
        "dead": ("dead", "dead", False)}),
    # clean: no odd b-run that a later odd a-run could violate is pending (or it was made even);
    # odd_b: inside an odd b-run (clean so far); odd_a / even_a: inside an a-run after an odd
    # b-run, of odd / even length so far; later b-runs keep that odd b-run in the past (even_a).
    3: _dfa("T3", "no odd run of b's followed later by an odd run of a's", {
        "clean": ("clean", "odd_b", True),
        "odd_b": ("odd_a", "clean", True),
        "odd_a": ("even_a", "dead", False),
        "even_a": ("odd_a", "even_a", True),
        "dead": ("dead", "dead", False)}),
    4: _dfa("T4", "no aaa", {
        "a0": ("a1", "a0", True),
        "a1": ("a2", "a0", True),
        "a2": ("dead", "a0", True),
        "dead": ("dead", "dead", False)}),
    5: _dfa("T5", "even number of a's and of b's", {
        "ee": ("oe", "eo", True),
        "oe": ("ee", "oo", False),
        "eo": ("oo", "ee", False),
        "oo": ("eo", "oe", False)}),
    6: _dfa("T6", "#a - #b = 0 mod 3", {
        "d0": ("d1", "d2", True),
        "d1": ("d2", "d0", False),
        "d2": ("d0", "d1", False)}),
    7: _dfa("T7", "a*b*a*b*", {
        "a1": ("a1", "b1", True),
        "b1": ("a2", "b1", True),
        "a2": ("a2", "b2", True),
        "b2": ("dead", "b2", True),
        "dead": ("dead", "dead", False)}),
}


def _runs(word: str) -> list[tuple[str, int]]:
    return [(letter, len(list(group))) for letter, group in itertools.groupby(word)]


def _tomita3(word: str) -> bool:
    odd_b_seen = False
    for letter, length in _runs(word):
        if letter == "a" and length % 2 == 1 and odd_b_seen:
            return False
        if letter == "b" and length % 2 == 1:
            odd_b_seen = True
    return True


PREDICATES: dict[int, Callable[[str], bool]] = {
    1: lambda w: "a" not in w,
    2: lambda w: w == "ba" * (len(w) // 2),
    3: _tomita3,
    4: lambda w: "aaa" not in w,
    5: lambda w: w.count("a") % 2 == 0 and w.count("b") % 2 == 0,
    6: lambda w: (w.count("a") - w.count("b")) % 3 == 0,
    7: lambda w: re.fullmatch(r"a*b*a*b*", w) is not None,
}


def words(max_length: int, min_length: int = 0) -> Iterator[str]:
    """Every word over :data:`LETTERS` of length ``min_length..max_length``, shortest first."""
    for n in range(min_length, max_length + 1):
        for letters in itertools.product(LETTERS, repeat=n):
            yield "".join(letters)


def prefix_machine(dfa: DFA):
    """The Mealy machine that outputs, after each letter, 1 if the prefix read so far is in
    the language and 0 if not (not minimized: one state per DFA state)."""
    from verisnn.automaton import MealyMachine

    next_state = np.array(dfa.delta, dtype=np.int64)
    output = np.array([[int(dfa.accepting[r]) for r in row] for row in dfa.delta], dtype=np.int64)
    return MealyMachine(inputs=LETTERS, next_state=next_state, output=output, initial=0, output_names=OUTPUTS)
