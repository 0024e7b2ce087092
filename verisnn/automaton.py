"""Explicit-state automata: an integer SNN with bounded state is a finite-state machine.

Given an input alphabet — named letters, each a short raster of ``w`` steps — the
reachable network states are explored exhaustively, breadth first, from the initial
(all-zero) state, and become the states of a Mealy machine: reading a letter runs the
network for the letter's ``w`` steps, moves to the state the network is in afterwards,
and outputs the model's readout decision over those ``w`` steps (a class, or ``-1`` for
no decision). The machine then answers questions about *every* input sequence over the
alphabet, of any length: the longest wait for a decision (:func:`latency_bound`), whether
a class can ever be output (:func:`find_output`), equivalence of two networks
(:meth:`MealyMachine.equivalent`); it can be minimised, and exported to JSON, DOT, AALpy
and nuXmv/NuSMV. See ``docs/automata.md``.

The network update is the one of :mod:`verisnn.semantics`, interpreted over the reference
simulator's :class:`~verisnn.simulator.NumpyOps`, on the whole frontier times all letters
in one batch; :func:`replay` is the independent check through
:func:`verisnn.simulator.simulate`. States are keyed by their live fields only
(:func:`verisnn.semantics.live_fields`) and the delayed inputs still pending.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import re
import time
from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import jsonschema
import numpy as np

from . import semantics
from .errors import InputError, ModelError
from .model import Model
from .readout import decide
from .state import StateLayout

FORMAT = "verisnn.automaton/1"
MAX_ALPHABET_BYTES = 64 << 20
NO_DECISION = -1
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_NAME_RULE = "an identifier (letters, digits and _, not starting with a digit)"
_BATCH_ROWS = 1 << 14  # (state, letter) pairs per batched network run

# The JSON Schema of automaton files; docs/automata.md embeds the same text (a test compares them).
SCHEMA: dict = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://verisnn.org/schemas/automaton-v1.schema.json",
    "title": "verisnn Mealy machine (verisnn.automaton/1)",
    "type": "object",
    "required": ["format", "inputs", "initial", "next_state", "output"],
    "additionalProperties": False,
    "properties": {
        "format": {"const": FORMAT},
        "inputs": {"type": "array", "minItems": 1, "uniqueItems": True,
                   "items": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}},
        "steps_per_letter": {"type": "integer", "minimum": 1},
        "initial": {"type": "integer", "minimum": 0},
        "output_names": {"oneOf": [{"type": "null"},
                                   {"type": "array", "uniqueItems": True,
                                    "items": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}}]},
        "next_state": {"type": "array", "minItems": 1,
                       "items": {"type": "array", "items": {"type": "integer", "minimum": 0}}},
        "output": {"type": "array", "minItems": 1,
                   "items": {"type": "array", "items": {"type": "integer", "minimum": -1}}},
        "provenance": {"type": "object"},
    },
}


# ----------------------------------------------------------------------------- alphabet


@dataclass(frozen=True, eq=False)
class Alphabet:
    """The input letters: ``names[k]`` is the 0/1 raster ``rasters[k]`` of ``w`` steps over
    the model's ``n`` input channels (``rasters`` is int8 ``[m, w, n]``).

    Names are identifiers, because they appear verbatim in the DOT, SMV and AALpy exports.
    """

    names: tuple[str, ...]
    rasters: np.ndarray

    def __post_init__(self):
        names = tuple(self.names) if isinstance(self.names, (list, tuple)) else None
        if not names:
            raise InputError("an alphabet needs at least one letter", "letters")
        for name in names:
            if not isinstance(name, str) or not _NAME.match(name):
                raise InputError(f"letter name {name!r} must be {_NAME_RULE}", "letters")
        if len(set(names)) != len(names):
            dup = sorted({x for x in names if names.count(x) > 1})
            raise InputError(f"letter names must be unique; repeated: {', '.join(dup)}", "letters")
        try:
            arr = np.asarray(self.rasters)
        except ValueError:
            raise InputError("every letter must have the same number of steps and channels", "letters") from None
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool):
            raise InputError(f"letter rasters must hold integers 0/1, got dtype {arr.dtype}", "letters")
        if arr.ndim != 3 or arr.shape[0] != len(names):
            raise InputError(f"rasters must be [m={len(names)}, w, n], got shape {list(arr.shape)}", "letters")
        if arr.shape[1] < 1:
            raise InputError("a letter needs at least one step (w >= 1)", "letters")
        if arr.shape[2] < 1:
            raise InputError("a letter needs at least one input channel", "letters")
        if arr.min() < 0 or arr.max() > 1:
            raise InputError("letter rasters must hold only 0 and 1", "letters")
        rasters = np.array(arr, dtype=np.int8)
        rasters.flags.writeable = False
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "rasters", rasters)

    @property
    def w(self) -> int:
        """Steps per letter."""
        return self.rasters.shape[1]

    @property
    def n(self) -> int:
        """Input channels."""
        return self.rasters.shape[2]

    def __len__(self) -> int:
        return len(self.names)

    def index(self, letter: str | int) -> int:
        """The index of a letter given by name or index."""
        if isinstance(letter, (int, np.integer)) and not isinstance(letter, bool):
            if 0 <= letter < len(self.names):
                return int(letter)
            raise InputError(f"letter index {letter} outside [0, {len(self.names) - 1}]", "word")
        if isinstance(letter, str) and letter in self.names:
            return self.names.index(letter)
        raise InputError(f"unknown letter {letter!r}; the alphabet has {', '.join(self.names)}", "word")

    def to_json(self) -> dict:
        """The alphabet file's content: ``{"letters": {name: [[0/1] * n] * w}}``."""
        return {"letters": {name: r.astype(int).tolist() for name, r in zip(self.names, self.rasters)}}


def parse_alphabet(doc: Any, model: Model | None = None) -> Alphabet:
    """An :class:`Alphabet` from ``{"letters": {"a": [[1, 0], [0, 0]], ...}}``: each letter a
    list of ``w`` rows of ``n`` 0/1 integers, in the order of the document. With ``model``,
    ``n`` must be the model's input size."""
    if not isinstance(doc, dict):
        raise InputError(f"an alphabet is a JSON object with a 'letters' object, got {type(doc).__name__}")
    extra = sorted(set(doc) - {"letters"})
    if extra:
        raise InputError(f"unknown field(s) {', '.join(map(repr, extra))}; an alphabet has only 'letters'")
    letters = doc.get("letters")
    if not isinstance(letters, dict):
        raise InputError("expected an object mapping letter names to rasters", "letters")
    if not letters:
        raise InputError("an alphabet needs at least one letter", "letters")
    shape = None
    for name, raster in letters.items():
        path = f"letters.{name}"
        if not _NAME.match(name):
            raise InputError(f"letter name {name!r} must be {_NAME_RULE}", path)
        if not isinstance(raster, list) or not raster:
            raise InputError("expected a non-empty list of w rows (one per time step)", path)
        for t, row in enumerate(raster):
            if not isinstance(row, list) or not row:
                raise InputError("expected a non-empty list of 0/1 input spikes", f"{path}[{t}]")
            for c, v in enumerate(row):
                if type(v) is not int or v not in (0, 1):
                    raise InputError(f"expected 0 or 1, got {v!r}", f"{path}[{t}][{c}]")
            if len(row) != len(raster[0]):
                raise InputError(f"has {len(row)} channels, row 0 has {len(raster[0])}", f"{path}[{t}]")
        here = (len(raster), len(raster[0]))
        if shape is None:
            shape, first = here, name
        elif here[0] != shape[0]:
            raise InputError(f"has {here[0]} steps, letter {first!r} has {shape[0]}: every letter must have "
                             f"the same number of steps w", path)
        elif here[1] != shape[1]:
            raise InputError(f"has {here[1]} channels, letter {first!r} has {shape[1]}", path)
    if model is not None and shape[1] != model.input.size:
        raise InputError(f"letters have {shape[1]} input channels; the model's input has {model.input.size}",
                         "letters")
    return Alphabet(tuple(letters), np.array(list(letters.values()), dtype=np.int8))


def load_alphabet(path: str | Path, model: Model | None = None) -> Alphabet:
    """Read an alphabet file (strict JSON, see :func:`parse_alphabet`); every problem is an
    :class:`InputError` naming the file and the field."""
    from .model_format import parse_json, read_bounded

    p = Path(path)
    if not p.is_file():
        raise InputError(f"no such file: {path}" if not p.exists() else f"not a file: {path}", str(path))
    data = read_bounded(p, MAX_ALPHABET_BYTES, InputError, "alphabet")
    try:
        doc = parse_json(data, what="alphabet")
    except ModelError as e:
        raise InputError(e.message, p.name) from None
    try:
        return parse_alphabet(doc, model)
    except InputError as e:
        raise InputError(e.message, f"{p.name}: {e.path}" if e.path else p.name) from None


def word_raster(alphabet: Alphabet, word: Sequence[str | int]) -> np.ndarray:
    """The input raster ``[len(word) * w, n]`` of a word (letters by name or index)."""
    idx = [alphabet.index(letter) for letter in word]
    return alphabet.rasters[idx].reshape(len(idx) * alphabet.w, alphabet.n)


# ----------------------------------------------------------------------------- Mealy machine


def bfs_order(next_state: np.ndarray, initial: int) -> np.ndarray:
    """The states reachable from ``initial`` in breadth-first order, successors taken in
    letter order (the canonical numbering)."""
    rows = next_state.tolist()
    seen = [False] * len(rows)
    seen[initial] = True
    order = [initial]
    for q in order:  # the list grows while it is read: a queue
        for r in rows[q]:
            if not seen[r]:
                seen[r] = True
                order.append(r)
    return np.array(order, dtype=np.int64)


def shortest_words(next_state: np.ndarray, initial: int) -> tuple[list[int], list[int]]:
    """Breadth-first parents: ``(parent state, letter)`` of every state's shortest access
    word (``-1`` for the initial and for unreachable states)."""
    rows = next_state.tolist()
    parent, via = [-1] * len(rows), [-1] * len(rows)
    seen = [False] * len(rows)
    seen[initial] = True
    order = [initial]
    for q in order:  # a queue, as in bfs_order
        for a, r in enumerate(rows[q]):
            if not seen[r]:
                seen[r] = True
                parent[r], via[r] = q, a
                order.append(r)
    return parent, via


def word_to(parent: list[int], via: list[int], state: int) -> list[int]:
    """The shortest access word of ``state`` (letter indices), from :func:`shortest_words`."""
    word = []
    while parent[state] >= 0:
        word.append(via[state])
        state = parent[state]
    return word[::-1]


def _equivalence_classes(next_state: np.ndarray, output: np.ndarray) -> np.ndarray:
    """The block of every state in the coarsest partition that respects outputs and
    transitions: two states share a block iff no word gives them different outputs.

    Hopcroft's partition refinement, O(m n log n): start from the blocks of equal output
    rows; a splitter (block B, letter a) splits every block into the states whose
    a-successor lies in B and the others; after a split, only the smaller half needs to
    serve as a splitter again (both, for letters where the block was still waiting). Moore's
    round-by-round refinement would need as many rounds as the longest distinguishing word,
    which is the length of a counting chain in an integrate-and-fire network.
    """
    S, m = next_state.shape
    _, first = np.unique(output, axis=0, return_inverse=True)
    block_of = first.reshape(-1).tolist()
    blocks: list[set[int]] = [set() for _ in range(max(block_of) + 1)]
    for q, b in enumerate(block_of):
        blocks[b].add(q)
    predecessors = []  # per letter: the states sorted by their successor, and offsets per successor
    for a in range(m):
        succ = next_state[:, a]
        offsets = np.concatenate([[0], np.cumsum(np.bincount(succ, minlength=S))])
        predecessors.append((np.argsort(succ, kind="stable").tolist(), offsets.tolist()))
    waiting = {(b, a) for b in range(len(blocks)) for a in range(m)}
    queue = deque(sorted(waiting))
    while queue:
        splitter = queue.popleft()
        waiting.discard(splitter)
        b, a = splitter
        order, offsets = predecessors[a]
        touched: dict[int, list[int]] = {}
        for r in blocks[b]:
            for q in order[offsets[r]: offsets[r + 1]]:
                touched.setdefault(block_of[q], []).append(q)
        for x, inside in touched.items():
            if len(inside) == len(blocks[x]):
                continue
            y = len(blocks)
            blocks.append(set(inside))
            blocks[x].difference_update(inside)
            for q in inside:
                block_of[q] = y
            for c in range(m):
                if (x, c) in waiting:
                    added = (y, c)
                else:
                    added = (y, c) if len(blocks[y]) <= len(blocks[x]) else (x, c)
                waiting.add(added)
                queue.append(added)
    return np.array(block_of, dtype=np.int64)


@dataclass(eq=False)
class MealyMachine:
    """A deterministic, complete Mealy machine over named letters.

    Reading letter ``a`` in state ``q`` moves to ``next_state[q, a]`` and outputs
    ``output[q, a]``: a class index, or ``-1`` for no decision. ``steps_per_letter`` is the
    ``w`` of the alphabet (network steps per letter; latencies in steps use it);
    ``output_names`` optionally names the classes in the exports. ``==`` compares the
    structure (the same numbering); :meth:`equivalent` compares behaviour.
    """

    inputs: tuple[str, ...]
    next_state: np.ndarray
    output: np.ndarray
    initial: int = 0
    output_names: tuple[str, ...] | None = None
    steps_per_letter: int = 1
    provenance: dict = field(default_factory=dict)

    def __post_init__(self):
        inputs = tuple(self.inputs)
        if not inputs or len(set(inputs)) != len(inputs) or not all(isinstance(x, str) and _NAME.match(x)
                                                                    for x in inputs):
            raise InputError(f"inputs must be unique names, each {_NAME_RULE}; got {list(inputs)}", "inputs")
        nxt = np.array(self.next_state, dtype=np.int64)
        out = np.array(self.output, dtype=np.int64)
        m = len(inputs)
        if nxt.ndim != 2 or nxt.shape[1] != m or nxt.shape[0] < 1:
            raise InputError(f"must be [states, {m} letters], got shape {list(nxt.shape)}", "next_state")
        if out.shape != nxt.shape:
            raise InputError(f"must have the shape of next_state {list(nxt.shape)}, got {list(out.shape)}", "output")
        S = nxt.shape[0]
        if nxt.min() < 0 or nxt.max() >= S:
            raise InputError(f"states are numbered 0..{S - 1}", "next_state")
        if out.min() < NO_DECISION:
            raise InputError("outputs are class indices, or -1 for no decision", "output")
        if not 0 <= int(self.initial) < S:
            raise InputError(f"{self.initial} outside 0..{S - 1}", "initial")
        if int(self.steps_per_letter) < 1:
            raise InputError("must be >= 1", "steps_per_letter")
        names = None if self.output_names is None else tuple(self.output_names)
        if names is not None:
            if len(set(names)) != len(names) or not all(isinstance(x, str) and _NAME.match(x) for x in names):
                raise InputError(f"output names must be unique, each {_NAME_RULE}", "output_names")
            if "none" in names:
                raise InputError("'none' stands for no decision and cannot name a class", "output_names")
            if out.max() >= len(names):
                raise InputError(f"names {len(names)} classes, but class {int(out.max())} is output", "output_names")
        nxt.flags.writeable = out.flags.writeable = False
        self.inputs, self.next_state, self.output = inputs, nxt, out
        self.initial, self.output_names, self.steps_per_letter = int(self.initial), names, int(self.steps_per_letter)

    # -- basics

    @property
    def num_states(self) -> int:
        return self.next_state.shape[0]

    @property
    def num_transitions(self) -> int:
        return self.next_state.size

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MealyMachine):
            return NotImplemented
        return (self.inputs == other.inputs and self.initial == other.initial
                and self.output_names == other.output_names and self.steps_per_letter == other.steps_per_letter
                and np.array_equal(self.next_state, other.next_state) and np.array_equal(self.output, other.output))

    __hash__ = None  # mutable-looking container of arrays

    def letter_index(self, letter: str | int) -> int:
        if isinstance(letter, (int, np.integer)) and not isinstance(letter, bool):
            if 0 <= letter < len(self.inputs):
                return int(letter)
        elif letter in self.inputs:
            return self.inputs.index(letter)
        raise InputError(f"unknown letter {letter!r}; the machine reads {', '.join(self.inputs)}", "word")

    def label(self, out: int) -> str:
        """How an output is written in the exports: the class name or index, ``none`` for -1."""
        if out < 0:
            return "none"
        return self.output_names[out] if self.output_names is not None else str(int(out))

    def run(self, word: Sequence[str | int]) -> list[int | None]:
        """The outputs along ``word`` from the initial state (``None``: no decision)."""
        q, outs = self.initial, []
        for letter in word:
            a = self.letter_index(letter)
            o = int(self.output[q, a])
            outs.append(None if o < 0 else o)
            q = int(self.next_state[q, a])
        return outs

    def _with(self, next_state, output, initial) -> MealyMachine:
        return MealyMachine(self.inputs, next_state, output, initial, self.output_names, self.steps_per_letter,
                            dict(self.provenance))

    def canonical(self) -> MealyMachine:
        """The reachable part, states renumbered breadth first from the initial state (0),
        successors in letter order: two machines that differ only in numbering become equal."""
        order = bfs_order(self.next_state, self.initial)
        new_id = np.full(self.num_states, -1, dtype=np.int64)
        new_id[order] = np.arange(len(order))
        return self._with(new_id[self.next_state[order]], self.output[order], 0)

    def minimize(self) -> MealyMachine:
        """The minimal machine with the same behaviour, in canonical numbering: unreachable
        states dropped, then the states that no word distinguishes merged
        (:func:`_equivalence_classes`)."""
        m = self.canonical()
        block = _equivalence_classes(m.next_state, m.output)
        representative = np.empty(int(block.max()) + 1, dtype=np.int64)
        representative[block] = np.arange(m.num_states)
        quotient = m._with(block[m.next_state[representative]], m.output[representative], int(block[m.initial]))
        return quotient.canonical()

    def equivalent(self, other: MealyMachine) -> list[str] | None:
        """``None`` if both machines give the same outputs on every word; else a shortest
        word on whose last letter they differ (breadth first over the product)."""
        if set(self.inputs) != set(other.inputs):
            raise InputError(f"the machines read different letters: {list(self.inputs)} and {list(other.inputs)}",
                             "inputs")
        perm = np.array([other.inputs.index(a) for a in self.inputs])  # other's letter index per own letter
        o_next, o_out = other.next_state[:, perm], other.output[:, perm]
        start = (self.initial, other.initial)
        parent: dict[tuple[int, int], tuple[tuple[int, int], int] | None] = {start: None}
        queue = deque([start])
        while queue:
            p, q = queue.popleft()
            differs = np.flatnonzero(self.output[p] != o_out[q])
            if differs.size:
                word, node = [int(differs[0])], (p, q)
                while parent[node] is not None:
                    node, a = parent[node]
                    word.append(a)
                return [self.inputs[a] for a in reversed(word)]
            for a in range(len(self.inputs)):
                nxt = (int(self.next_state[p, a]), int(o_next[q, a]))
                if nxt not in parent:
                    parent[nxt] = ((p, q), a)
                    queue.append(nxt)
        return None

    # -- exports

    def to_json(self) -> dict:
        """The automaton file (``verisnn.automaton/1``, schema :data:`SCHEMA`)."""
        return {
            "format": FORMAT,
            "inputs": list(self.inputs),
            "steps_per_letter": self.steps_per_letter,
            "initial": self.initial,
            "output_names": None if self.output_names is None else list(self.output_names),
            "next_state": self.next_state.tolist(),
            "output": self.output.tolist(),
            "provenance": self.provenance,
        }

    @staticmethod
    def from_json(doc: Any) -> MealyMachine:
        """A machine from an automaton document, validated against :data:`SCHEMA` and then for
        consistency (shapes, state numbers); problems are :class:`InputError` naming the field."""
        from .model_format import first_schema_error

        if not isinstance(doc, dict):
            raise InputError(f"an automaton file holds a JSON object, got {type(doc).__name__}")
        first_schema_error(_validator(), doc, InputError)
        return MealyMachine(inputs=tuple(doc["inputs"]), next_state=_rows(doc["next_state"], "next_state"),
                            output=_rows(doc["output"], "output"), initial=doc["initial"],
                            output_names=doc.get("output_names"), steps_per_letter=doc.get("steps_per_letter", 1),
                            provenance=doc.get("provenance", {}))

    def to_dot(self) -> str:
        """Graphviz DOT: states ``s0, s1, ...``, one edge per transition labelled
        ``letter/output`` (``none`` for no decision), an arrow from ``__start0`` to the
        initial state (AALpy's convention)."""
        import pydot

        graph = pydot.Dot("automaton", graph_type="digraph", rankdir="LR")
        for q in range(self.num_states):
            graph.add_node(pydot.Node(f"s{q}", label=f"s{q}", shape="circle"))
        graph.add_node(pydot.Node("__start0", shape="none", label=""))
        graph.add_edge(pydot.Edge("__start0", f"s{self.initial}", label=""))
        for q in range(self.num_states):
            for a, name in enumerate(self.inputs):
                graph.add_edge(pydot.Edge(f"s{q}", f"s{int(self.next_state[q, a])}",
                                          label=f"{name}/{self.label(int(self.output[q, a]))}"))
        return graph.to_string()

    def to_aalpy(self):
        """The same machine as an ``aalpy.automata.MealyMachine``: states ``s0, s1, ...``,
        outputs the class index (or name) and ``"none"`` for no decision."""
        from aalpy.automata import MealyMachine as AalpyMealy, MealyState

        states = [MealyState(f"s{q}") for q in range(self.num_states)]
        for q, state in enumerate(states):
            for a, name in enumerate(self.inputs):
                state.transitions[name] = states[int(self.next_state[q, a])]
                o = int(self.output[q, a])
                state.output_fun[name] = "none" if o < 0 else (self.output_names[o] if self.output_names else o)
        return AalpyMealy(states[self.initial], states)

    def to_smv(self) -> str:
        """A nuXmv/NuSMV ``main`` module. The input variable ``letter`` ranges over the
        letters (written ``l_<name>``, clear of SMV's keywords); ``state`` is the machine
        state; ``output`` (a DEFINE over ``state`` and ``letter``) is the Mealy output of the
        letter being read, ``-1`` for no decision; ``last_output`` is a state variable holding
        the output of the previous letter (``-1`` initially), for properties that may not
        mention input variables, e.g. ``INVARSPEC last_output != 2``."""
        S, symbols = self.num_states, [f"l_{a}" for a in self.inputs]
        values = sorted({NO_DECISION} | set(self.output.ravel().tolist()))
        lines = [f"-- {FORMAT}: Mealy machine of {S} states over {len(symbols)} letters"
                 f" ({self.steps_per_letter} network steps per letter)",
                 "MODULE main", "IVAR", f"  letter : {{{', '.join(symbols)}}};",
                 "VAR", f"  state : 0..{S - 1};",
                 f"  last_output : {{{', '.join(map(str, values))}}};",
                 "DEFINE", "  output :=", "    case"]
        for q in range(S):
            for a, sym in enumerate(symbols):
                lines.append(f"      state = {q} & letter = {sym} : {int(self.output[q, a])};")
        lines += ["    esac;", "ASSIGN", f"  init(state) := {self.initial};", "  next(state) :=", "    case"]
        for q in range(S):
            for a, sym in enumerate(symbols):
                lines.append(f"      state = {q} & letter = {sym} : {int(self.next_state[q, a])};")
        lines += ["    esac;", f"  init(last_output) := {NO_DECISION};", "  next(last_output) := output;"]
        return "\n".join(lines) + "\n"


def _rows(rows: list, field_name: str) -> np.ndarray:
    lengths = {len(r) for r in rows}
    if len(lengths) != 1:
        raise InputError("every row must have one entry per letter", field_name)
    return np.array(rows, dtype=np.int64)


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(SCHEMA)


def save_machine(machine: MealyMachine, folder: str | Path, stem: str = "automaton") -> dict[str, Path]:
    """Write ``stem.json``, ``stem.dot``, ``stem.smv`` and ``stem.aalpy.dot`` (AALpy's own
    writer, so that ``aalpy.utils.load_automaton_from_file(path, 'mealy')`` reads it back)
    into ``folder``; returns the paths by kind."""
    from aalpy.utils import save_automaton_to_file

    folder = Path(folder)
    files = {"json": folder / f"{stem}.json", "dot": folder / f"{stem}.dot",
             "smv": folder / f"{stem}.smv", "aalpy": folder / f"{stem}.aalpy.dot"}
    files["json"].write_text(json.dumps(machine.to_json()) + "\n")
    files["dot"].write_text(machine.to_dot())
    files["smv"].write_text(machine.to_smv())
    files["aalpy"].unlink(missing_ok=True)
    with contextlib.redirect_stdout(io.StringIO()):  # AALpy announces the file on stdout
        save_automaton_to_file(machine.to_aalpy(), files["aalpy"], file_type="dot")
    if not files["aalpy"].is_file():  # AALpy reports a failed write only on stderr
        raise OSError(f"AALpy could not write {files['aalpy']}")
    return files


# ----------------------------------------------------------------------------- exploration


@dataclass
class ExplorationResult:
    """The outcome of :func:`build_automaton`.

    ``status`` is ``complete`` (``machine`` is the whole reachable machine, states in
    breadth-first order) or ``unknown`` (a limit was reached, ``reason`` says which, and
    there is no machine: a part of it would not be the network's behaviour).
    ``states_explored`` counts states whose every letter was run, ``states_discovered``
    the distinct states seen, ``transitions`` the (state, letter) pairs run.
    """

    status: str
    machine: MealyMachine | None
    states_explored: int
    states_discovered: int
    transitions: int
    depth: int
    time_s: float
    reason: str | None = None

    @property
    def states_per_s(self) -> float:
        return self.states_explored / self.time_s if self.time_s > 0 else float("inf")

    def to_json(self, include_machine: bool = False) -> dict:
        d = {"status": self.status, "states": None if self.machine is None else self.machine.num_states,
             "states_explored": self.states_explored, "states_discovered": self.states_discovered,
             "transitions": self.transitions, "depth": self.depth, "time_s": self.time_s,
             "states_per_s": self.states_per_s if np.isfinite(self.states_per_s) else None,
             "reason": self.reason}
        if include_machine:
            d["machine"] = None if self.machine is None else self.machine.to_json()
        return d


class _Keys:
    """State keys: the flat state vector of :class:`verisnn.state.StateLayout` (live fields
    and pending delayed inputs; no monitor) as rows of the narrowest integer type."""

    def __init__(self, model: Model, ops):
        self.layout, self.ops = StateLayout(model), ops
        self.width = self.layout.dim
        self.key_dtype = _key_dtype(model, ops.dtype)
        self.columns = [(slot.layer, slot.kind, int(off), int(off) + slot.size)
                        for slot, off in zip(self.layout.slots, self.layout.offsets)]

    def pack(self, state: semantics.NetworkState) -> np.ndarray:
        """Key rows ``[B, width]`` of ``key_dtype``."""
        wide = self.layout.pack(state)
        info = np.iinfo(self.key_dtype)
        if wide.size and (wide.min() < info.min or wide.max() > info.max):  # excluded by _key_dtype's argument
            raise RuntimeError(f"a network state value left the {self.key_dtype.__name__} range of the state keys")
        return np.ascontiguousarray(wide, dtype=self.key_dtype)

    def unpack(self, keys: np.ndarray) -> semantics.NetworkState:
        """The network state of each key row; fields that are not live are zero (they are
        never read, see :func:`~verisnn.semantics.live_fields`)."""
        def cast(block, kind):
            return np.ascontiguousarray(block, dtype=np.int8 if kind in ("s", "pending") else self.ops.dtype)
        state, _ = self.layout.unpack(keys, self.ops, (keys.shape[0],), cast)
        return state


def _key_dtype(model: Model, value_dtype) -> type:
    """The narrowest integer type of the state keys. Without ``cuba_lif`` every live value
    is bounded independently of time: a membrane lies in its layer's ``v_bits`` range
    after the overflow policy (a reset subtracts at most ``u``, or sets ``v_reset``, itself
    in range), a refractory counter in ``[0, refractory]``, spikes in ``{0, 1}``."""
    if any(layer.neuron.model == "cuba_lif" for layer in model.layers):
        return value_dtype
    bits = max(layer.neuron.v_bits for layer in model.layers)
    longest = max(layer.neuron.max_refractory for layer in model.layers)
    for dtype in (np.int8, np.int16, np.int32):
        info = np.iinfo(dtype)
        if bits <= info.bits and longest <= info.max:
            return dtype
    return np.int64


def exploration_plan(model: Model):
    """The reference simulator's operations and parameters, fit for runs of any length.

    The simulator picks its integer type from bounds that hold for ``T`` steps; only the
    synaptic current of a ``cuba_lif`` layer depends on ``T`` (without a current leak it
    grows for ever). Such models get the int64 plan, and the exploration checks the
    current's range itself (see :func:`build_automaton`)."""
    from . import simulator

    if not any(layer.neuron.model == "cuba_lif" for layer in model.layers):
        ops, params = simulator._plan(model)
        return ops, params, {}
    params, dtype = simulator.layer_params(model, widest=True)
    ops = simulator._OPS[dtype]
    growth = {}  # per cuba_lif layer: the largest |synaptic input| of one step
    for k, layer in enumerate(model.layers):
        if layer.neuron.model == "cuba_lif":
            rec = simulator.row_bound(layer.recurrent) if layer.recurrent is not None else 0
            growth[k] = simulator.row_bound(layer.dense_weight()) + int(np.abs(layer.neuron_bias()).max()) + rec
    return ops, params, growth


def build_automaton(model: Model, alphabet: Alphabet, max_states: int = 100_000,
                    timeout: float | None = None) -> ExplorationResult:
    """Explore every network state reachable from the initial state by words over
    ``alphabet``, breadth first, and build the Mealy machine (see the module docstring).

    Each round runs a batch of explored-next states times all letters for ``w`` steps
    through :func:`verisnn.semantics.network_step`; the output of a transition is
    :func:`verisnn.readout.decide` over the letter's ``w`` steps of the last layer. More
    than ``max_states`` distinct states, or more than ``timeout`` seconds, give
    ``unknown`` with the reason, and no machine.
    """
    start = time.perf_counter()
    if not isinstance(alphabet, Alphabet):
        raise InputError("expected an Alphabet", "alphabet")
    if alphabet.n != model.input.size:
        raise InputError(f"letters have {alphabet.n} input channels; the model's input has {model.input.size}",
                         "alphabet")
    if isinstance(max_states, bool) or not isinstance(max_states, (int, np.integer)) or max_states < 1:
        raise InputError(f"must be an integer >= 1, got {max_states!r}", "max_states")
    if timeout is not None and not timeout > 0:
        raise InputError(f"must be > 0 seconds, got {timeout!r}", "timeout")
    ops, params, growth = exploration_plan(model)
    layout = _Keys(model, ops)
    m, w = len(alphabet), alphabet.w
    letters = [np.ascontiguousarray(alphabet.rasters[:, t, :]) for t in range(w)]  # [m, n] per step
    current_cols = [(lo, hi, growth[k]) for k, f, lo, hi in layout.columns if f == "i" and k in growth]

    first = layout.pack(semantics.initial_network_state(ops, model, (1,)))
    keys = np.empty((1024, layout.width), dtype=layout.key_dtype)  # the key of state j is row j; grows by doubling
    keys[0] = first[0]
    index: dict[bytes, int] = {first.tobytes(): 0}
    next_rows, out_rows = [], []
    explored, depth, level_end = 0, 0, 1
    per_batch = max(1, _BATCH_ROWS // m)

    def unknown(reason: str) -> ExplorationResult:
        return ExplorationResult("unknown", None, explored, len(index), explored * m, depth,
                                 time.perf_counter() - start, reason)

    while explored < len(index):
        if timeout is not None and time.perf_counter() - start > timeout:
            return unknown(f"timeout after {timeout:g} s, having explored {explored} states "
                           f"({len(index)} discovered, depth {depth})")
        batch = keys[explored: min(len(index), explored + per_batch, level_end)]
        F = batch.shape[0]
        state = layout.unpack(np.repeat(batch, m, axis=0))  # row f*m + a: state f, letter a
        last = []
        for x in letters:
            state, outs = semantics.network_step(ops, model, params, state, np.tile(x, (F, 1)))
            last.append(outs[-1])
        decisions = decide(model.readout, np.stack(last))
        succ = layout.pack(state)
        for lo, hi, per_step in current_cols:
            if np.abs(succ[:, lo:hi]).max(initial=0) > _current_limit() - w * per_step:
                return unknown("a cuba_lif synaptic current grows beyond the exact range of the reference "
                               f"simulator (2^48) after {explored} states")
        # Number the successors: a known key keeps its number, a new one gets the next (setdefault
        # evaluates len(index) before inserting), so new states are numbered in order of first
        # occurrence, (state, letter) order — breadth-first numbering.
        old = len(index)
        rows = succ.view(np.dtype((np.void, succ.shape[1] * succ.itemsize))).ravel().tolist()  # bytes per row
        ids = np.array([index.setdefault(key, len(index)) for key in rows], dtype=np.int64)
        if len(index) > max_states:
            return unknown(f"state budget of {max_states} states reached after exploring {explored} states "
                           f"(depth {depth}; {len(index)} distinct states seen)")
        if len(index) > old:
            fresh = np.flatnonzero(ids >= old)
            _, first = np.unique(ids[fresh], return_index=True)  # first occurrence of each new number, in order
            if len(index) > len(keys):
                keys = np.concatenate([keys[:old], np.empty((max(len(keys), len(index)), layout.width), keys.dtype)])
            keys[old: len(index)] = succ[fresh[first]]
        next_rows.append(ids.reshape(F, m))
        out_rows.append(decisions.reshape(F, m))
        explored += F
        if explored == level_end:  # a breadth-first level is done
            depth, level_end = depth + 1, len(index)

    machine = MealyMachine(alphabet.names, np.concatenate(next_rows), np.concatenate(out_rows),
                           steps_per_letter=w)
    return ExplorationResult("complete", machine, explored, len(index), explored * m, depth,
                             time.perf_counter() - start)


def _current_limit() -> int:
    from .simulator import CURRENT_LIMIT

    return CURRENT_LIMIT


def replay(model: Model, alphabet: Alphabet, word: Sequence[str | int]) -> list[int | None]:
    """The decision per letter of ``word`` on the reference simulator: one run of
    ``len(word) * w`` steps (:func:`verisnn.simulator.simulate`), its last layer's output
    read out over each letter's window. The independent check of :func:`build_automaton`."""
    from .simulator import simulate

    if len(word) == 0:
        return []
    raster = word_raster(alphabet, word)
    run = simulate(dataclasses.replace(model, time_steps=raster.shape[0]), raster)
    out = run.layer_outputs[-1][0]  # [T, n]
    windows = out.reshape(len(word), alphabet.w, -1).transpose(1, 0, 2)  # [w, letters, n]
    return [None if d < 0 else int(d) for d in decide(model.readout, windows)]


# ----------------------------------------------------------------------------- questions


@dataclass
class LatencyResult:
    """The longest wait for a decision (see :func:`latency_bound`).

    ``bound``: the most letters read up to and including the first decided output
    (``None``: unbounded); ``steps = bound * steps_per_letter``. ``witness`` is a word from
    the initial state: when bounded, its last ``bound`` letters give ``bound - 1``
    no-decision outputs and then a decision; when unbounded, its last ``cycle`` letters
    form a cycle of no-decision outputs that can repeat for ever.
    """

    bound: int | None
    steps: int | None
    witness: list[str]
    cycle: int = 0
    start: str = "initial"

    def to_json(self) -> dict:
        return {"bound": self.bound, "steps": self.steps, "witness": self.witness, "cycle": self.cycle,
                "start": self.start}


def _waits(machine: MealyMachine) -> np.ndarray:
    """Per state, the longest run of no-decision letters that can be read from it
    (``-1``: unbounded, a cycle of no-decision transitions is reachable that way).
    Longest paths in the graph of no-decision transitions, by peeling states whose
    no-decision successors are all known (Kahn's algorithm on the reversed graph)."""
    S, m = machine.next_state.shape
    quiet = machine.output == NO_DECISION
    pending = quiet.sum(axis=1)
    preds: list[list[int]] = [[] for _ in range(S)]
    for q, a in zip(*np.nonzero(quiet)):
        preds[int(machine.next_state[q, a])].append(int(q))
    wait = np.full(S, -1, dtype=np.int64)
    ready = deque(np.flatnonzero(pending == 0).tolist())
    for q in ready:
        wait[q] = 0
    nxt = machine.next_state
    while ready:
        r = ready.popleft()
        for q in preds[r]:
            pending[q] -= 1
            if pending[q] == 0:
                wait[q] = 1 + int(wait[nxt[q][quiet[q]]].max())
                ready.append(q)
    return wait


def _on_quiet_cycles(machine: MealyMachine, wait: np.ndarray) -> np.ndarray:
    """Mask of the states that lie on a cycle of no-decision transitions: strongly connected
    components (scipy) of the no-decision graph among the states that can wait for ever,
    with more than one state or a self-loop."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    S = machine.num_states
    endless = wait < 0
    q, a = np.nonzero((machine.output == NO_DECISION) & endless[:, None] & endless[machine.next_state])
    r = machine.next_state[q, a]
    _, label = connected_components(csr_matrix((np.ones(len(q)), (q, r)), shape=(S, S)), directed=True,
                                    connection="strong")
    on_cycle = np.bincount(label)[label] > 1
    on_cycle[q[q == r]] = True
    return on_cycle & endless


def _bfs_word(next_state: np.ndarray, allowed: np.ndarray, start: int, target: np.ndarray,
              nonempty: bool = False) -> list[int]:
    """A shortest word of ``allowed`` transitions from ``start`` into a ``target`` state (at
    least one letter long if ``nonempty``); the caller guarantees there is one."""
    if target[start] and not nonempty:
        return []
    parent: dict[int, tuple[int, int] | None] = {start: None}
    queue = deque([start])
    while queue:
        q = queue.popleft()
        for a in np.flatnonzero(allowed[q]).tolist():
            r = int(next_state[q, a])
            if target[r]:
                word, node = [a], q
                while parent[node] is not None:
                    node, b = parent[node]
                    word.append(b)
                return word[::-1]
            if r not in parent:
                parent[r] = (q, a)
                queue.append(r)
    raise AssertionError("no such word")  # unreachable: the callers pass reachable targets


def latency_bound(machine: MealyMachine, start: str = "initial") -> LatencyResult:
    """The longest wait for a decision.

    ``bound`` is the largest number of letters read up to and including the first letter
    whose output is a decision, over all infinite words: from the initial state
    (``start='initial'``), or from every reachable state (``start='any'``: the wait after
    any history). It is at least 1. It is ``None`` (unbounded) when a cycle of no-decision
    transitions can be reached by no-decision transitions from such a start state: then
    some word never gets a decision. See :class:`LatencyResult` for the witness.
    """
    if start not in ("initial", "any"):
        raise ValueError(f"start must be 'initial' or 'any', got {start!r}")
    wait = _waits(machine)
    nxt, names = machine.next_state, machine.inputs
    quiet = machine.output == NO_DECISION
    reachable = bfs_order(nxt, machine.initial)  # breadth first: the shortest prefix wins ties
    if start == "initial":
        origin = machine.initial
    else:
        endless = reachable[wait[reachable] < 0]
        origin = int(endless[0]) if endless.size else int(reachable[np.argmax(wait[reachable])])
    if wait[origin] < 0:
        # a shortest path into a state on a no-decision cycle (through no-decision transitions
        # from the initial state; through any from the initial state to it for 'any'), then a
        # shortest no-decision cycle through that state
        on_cycle = _on_quiet_cycles(machine, wait)
        if start == "initial":
            prefix = _bfs_word(nxt, quiet & (wait[nxt] < 0), machine.initial, on_cycle)
        else:
            prefix = _bfs_word(nxt, np.ones_like(quiet), machine.initial, on_cycle)
        q = machine.initial
        for a in prefix:
            q = int(nxt[q, a])
        home = np.zeros(machine.num_states, dtype=bool)
        home[q] = True
        loop = _bfs_word(nxt, quiet & (wait[nxt] < 0), q, home, nonempty=True)
        return LatencyResult(None, None, [names[a] for a in prefix + loop], cycle=len(loop), start=start)
    parent, via = shortest_words(nxt, machine.initial)
    path, q = [], origin
    while wait[q] > 0:  # follow the longest no-decision path, then the first deciding letter
        a = next(a for a in range(len(names)) if quiet[q, a] and wait[nxt[q, a]] == wait[q] - 1)
        path.append(a)
        q = int(nxt[q, a])
    path.append(int(np.flatnonzero(~quiet[q])[0]))
    bound = len(path)
    return LatencyResult(bound, bound * machine.steps_per_letter,
                         [names[a] for a in word_to(parent, via, origin) + path], start=start)


def find_output(machine: MealyMachine, cls: int | None) -> list[str] | None:
    """A shortest word whose last output is ``cls`` (``None`` or ``-1``: no decision), or
    ``None`` when no word gives it — on the machine, a proof that the network never
    outputs ``cls`` on any word over the alphabet."""
    target = NO_DECISION if cls is None else int(cls)
    parent, via = shortest_words(machine.next_state, machine.initial)
    for q in bfs_order(machine.next_state, machine.initial):
        hits = np.flatnonzero(machine.output[q] == target)
        if hits.size:
            return [machine.inputs[a] for a in word_to(parent, via, int(q)) + [int(hits[0])]]
    return None
