"""Safety monitors: the unbounded-horizon conditions as predicates over a sliding window.

Every condition of the unbounded horizon is violated at a step ``t`` exactly when a
predicate over the *observations* of the last ``L`` steps ``t - L + 1 .. t`` holds
(``L`` is the monitor's :attr:`Monitor.length`). An observation is a short row of
integers computed from one step's input spikes, layer outputs and overflow flag; its
first entry is 1 for a step that happened (the window before step 0 is padded with rows
of zeros, so a pattern can never match there).

A monitor is written once, over a small *logic* — ``plus``, ``ge``, ``and_``, ``or_``,
``not_``, ``spike`` — that two domains implement: :class:`NumpyLogic` (concrete values,
batched: the simulator's replay and the explicit-state exploration) and the SMT
:class:`~verisnn.encodings.smt.Terms` (solver terms: the transition system of
k-induction, PDR and BMC). So the condition, like the network step, has one definition
and several interpretations.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Sequence

import numpy as np

from .errors import VerisnnError
from .model import Model
from .properties import (Condition, NeverFires, NeverFiresAfter, NoOverflow, RespondsWithin,
                         WindowSpikesAtMost)


class NumpyLogic:
    """The monitor logic over numpy arrays (any leading batch shape): integers are int64
    arrays, Booleans bool arrays."""

    @staticmethod
    def plus(items: Sequence[Any]) -> Any:
        out = np.int64(0)
        for x in items:
            out = out + np.asarray(x, dtype=np.int64)
        return out

    @staticmethod
    def ge(a: Any, c: int) -> Any:
        return np.asarray(a) >= c

    @staticmethod
    def and_(items: Sequence[Any]) -> Any:
        out = np.bool_(True)
        for x in items:
            out = out & np.asarray(x, dtype=bool)
        return out

    @staticmethod
    def or_(items: Sequence[Any]) -> Any:
        out = np.bool_(False)
        for x in items:
            out = out | np.asarray(x, dtype=bool)
        return out

    @staticmethod
    def not_(b: Any) -> Any:
        return ~np.asarray(b, dtype=bool)

    @staticmethod
    def spike(b: Any) -> Any:
        return np.asarray(b, dtype=np.int64)


class Monitor(ABC):
    """One unbounded condition as a window predicate.

    ``length``: the window ``L``; ``observe`` makes one step's observation row (entry 0 is
    the constant 1 of a real step); ``bounds`` gives every entry's value range;
    ``bad`` decides a window (``L`` rows, oldest first)."""

    length: int = 1

    @abstractmethod
    def observe(self, lg, x: Any, outputs: Sequence[Any], overflowed: Any) -> list[Any]:
        """The observation entries after the leading 1: ``x`` is the step's input spikes
        (last axis: channels), ``outputs`` every layer's output, ``overflowed`` 0/1."""

    @abstractmethod
    def entry_bounds(self) -> list[tuple[int, int]]:
        """The value range of each entry :meth:`observe` returns."""

    @abstractmethod
    def bad(self, lg, window: Sequence[Sequence[Any]]) -> Any:
        """The condition is violated at the window's last step."""

    def row(self, lg, x, outputs, overflowed) -> list[Any]:
        return [1] + list(self.observe(lg, x, outputs, overflowed))

    def bounds(self) -> list[tuple[int, int]]:
        return [(0, 1)] + self.entry_bounds()


def _channel(x: Any, c: int) -> Any:
    """Entry ``c`` of the last axis (an element, not a 0-d array, for a vector of terms)."""
    r = x[..., c]
    return r[()] if isinstance(r, np.ndarray) and r.ndim == 0 else r


class NeverFiresMonitor(Monitor):
    def __init__(self, cond: NeverFires):
        self.layer, self.neuron = cond.layer, cond.neuron

    def observe(self, lg, x, outputs, overflowed):
        return [_channel(outputs[self.layer], self.neuron)]

    def entry_bounds(self):
        return [(0, 1)]

    def bad(self, lg, window):
        return lg.ge(window[-1][1], 1)


class NoOverflowMonitor(Monitor):
    def observe(self, lg, x, outputs, overflowed):
        return [overflowed]

    def entry_bounds(self):
        return [(0, 1)]

    def bad(self, lg, window):
        return lg.ge(window[-1][1], 1)


class WindowSpikesMonitor(Monitor):
    def __init__(self, cond: WindowSpikesAtMost, model: Model):
        self.length, self.spikes = cond.window, cond.spikes
        self.firing = [k for k, layer in enumerate(model.layers) if layer.neuron.fires]
        self.most = sum(model.layers[k].out_size for k in self.firing)

    def observe(self, lg, x, outputs, overflowed):
        return [lg.plus([_channel(outputs[k], j) for k in self.firing for j in range(outputs[k].shape[-1])])]

    def entry_bounds(self):
        return [(0, self.most)]

    def bad(self, lg, window):
        return lg.ge(lg.plus([row[1] for row in window]), self.spikes + 1)


class NeverFiresAfterMonitor(Monitor):
    def __init__(self, cond: NeverFiresAfter):
        self.length, self.inputs = cond.within, cond.inputs
        self.layer, self.neuron = cond.layer, cond.neuron

    def observe(self, lg, x, outputs, overflowed):
        return [lg.plus([_channel(x, c) for c in self.inputs]), _channel(outputs[self.layer], self.neuron)]

    def entry_bounds(self):
        return [(0, len(self.inputs)), (0, 1)]

    def bad(self, lg, window):
        return lg.and_([lg.ge(window[-1][2], 1), lg.ge(lg.plus([row[1] for row in window]), 1)])


class RespondsWithinMonitor(Monitor):
    """Rows: ``[1, match_0 .. match_{p-1}, target]`` — ``match_j``: the step carries the
    pattern's step ``j``; ``target``: output spikes that count as the response."""

    def __init__(self, cond: RespondsWithin, model: Model):
        self.pattern, self.steps, self.cls = cond.pattern, cond.steps, cond.cls
        self.length = len(self.pattern) + self.steps
        self.out_size = model.layers[-1].out_size

    def observe(self, lg, x, outputs, overflowed):
        matches = [lg.spike(lg.ge(lg.plus([_channel(x, c) for c in step]), len(step))) for step in self.pattern]
        out = outputs[-1]
        targets = range(self.out_size) if self.cls is None else [self.cls]
        return matches + [lg.plus([_channel(out, j) for j in targets])]

    def entry_bounds(self):
        return [(0, 1)] * len(self.pattern) + [(0, self.out_size if self.cls is None else 1)]

    def bad(self, lg, window):
        p = len(self.pattern)
        started = [lg.ge(window[0][0], 1)] + [lg.ge(window[j][1 + j], 1) for j in range(p)]
        answered = lg.ge(lg.plus([row[1 + p] for row in window[p - 1:]]), 1)
        return lg.and_(started + [lg.not_(answered)])


def monitor_for(cond: Condition, model: Model) -> Monitor:
    """The monitor of an unbounded-horizon condition."""
    if isinstance(cond, NeverFires):
        return NeverFiresMonitor(cond)
    if isinstance(cond, NoOverflow):
        return NoOverflowMonitor()
    if isinstance(cond, WindowSpikesAtMost):
        return WindowSpikesMonitor(cond, model)
    if isinstance(cond, NeverFiresAfter):
        return NeverFiresAfterMonitor(cond)
    if isinstance(cond, RespondsWithin):
        return RespondsWithinMonitor(cond, model)
    raise VerisnnError(f"{type(cond).__name__} is not a condition of the unbounded horizon", "condition")


def first_violation(monitor: Monitor, x: np.ndarray, outputs: Sequence[np.ndarray], overflowed: np.ndarray
                    ) -> np.ndarray:
    """``[B]`` first violating step (``-1``: none) of a batch of concrete runs: ``x`` is
    ``[B, L, n]``, ``outputs[k]`` ``[B, L, n_k]``, ``overflowed`` ``[B, L]``."""
    lg = NumpyLogic
    B, steps = x.shape[:2]
    rows = [monitor.row(lg, x[:, t], [o[:, t] for o in outputs], overflowed[:, t]) for t in range(steps)]
    rows = [[np.broadcast_to(np.asarray(e, dtype=np.int64), (B,)) for e in r] for r in rows]
    pad = [np.zeros(B, dtype=np.int64)] * len(monitor.bounds())
    first = np.full(B, -1, dtype=np.int64)
    for t in range(steps):
        window = [rows[s] if s >= 0 else pad for s in range(t - monitor.length + 1, t + 1)]
        bad = np.broadcast_to(monitor.bad(lg, window), (B,))
        first = np.where((first < 0) & bad, t, first)
    return first
