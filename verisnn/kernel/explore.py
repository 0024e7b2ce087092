"""The re-check of an ``explore`` certificate: every reachable state of the unbounded run.

An unbounded safety property (docs/properties.md "Horizon") holds when no run from rest,
on any input sequence, ever violates it. The kernel searches the states a run can reach
breadth first, with its own step (:func:`.network.step`), over every input vector (or the
certificate's letters). A state is the network's (membranes, currents, refractory counters,
last spikes, delay queues) plus what the condition looks back on: its reading of the last
``H`` steps (:func:`.unbounded.reading`), ``H`` the condition's window less one. Two runs
in the same state go on alike, so a state met again is not expanded again; the search ends
when no new state appears (the property holds) or at a violation, the state budget or the
deadline. :func:`violation_step` replays an unbounded witness with the same reading.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import replace

import numpy as np

from .guard import KernelLimit, Limits
from .network import Network, State, initial_state, select, step
from .unbounded import lookback, reading, violated_at

ENDLESS = 1 << 62  # the horizon has no end: every delay queue is kept


def _step_reading(net: Network, condition, x: np.ndarray, after: State, b: int) -> tuple:
    """What the condition reads of row ``b`` of a step on input ``x`` (an ``li`` layer has no spikes)."""
    spikes = [o[b] if layer.fires else np.zeros(layer.n_out, dtype=np.int8)
              for layer, o in zip(net.layers, after.outputs)]
    return reading(condition, x, spikes)


def _kept(steps: list, H: int) -> list:
    """The last ``H`` readings (all of them near the start of a run)."""
    return steps[max(0, len(steps) - H):] if H else []


def violation_step(net: Network, condition, inputs: np.ndarray, limits: Limits) -> int | None:
    """The first step at which a run on ``inputs`` (``[L, n]``, from rest) violates an
    unbounded safety condition (docs/properties.md "Horizon"), or ``None``: the replay of
    an unbounded witness."""
    net = replace(net, T=ENDLESS)
    limits.need(len(inputs) * 64 * (net.n_in + sum(layer.n_out for layer in net.layers)), "replaying the witness")
    state, steps, H = initial_state(net, 1, limits), [], lookback(condition)
    for t, x in enumerate(inputs):
        limits.tick()
        state = step(net, state, x[None])
        steps = _kept(steps, H) + [_step_reading(net, condition, x, state, 0)]
        if violated_at(condition, steps, bool(state.overflow[0])):
            return t
    return None


def _key(state: State, history: tuple) -> bytes:
    parts = [a.tobytes() for ls in state.layers for a in (ls.v, ls.i, ls.r, ls.s, *ls.queue)]
    return b"|".join(parts) + repr(history).encode()


def explore(net: Network, condition, letters: np.ndarray | None, max_states: int,
            limits: Limits) -> tuple[str, int]:
    """``("holds", states)`` when every reachable state was met and none violates,
    ``("violated", states)`` at a violation; :class:`KernelLimit` past ``max_states``."""
    net = replace(net, T=ENDLESS)
    inputs = np.array(list(itertools.product((0, 1), repeat=net.n_in)), dtype=np.int8) if letters is None \
        else np.asarray(letters, dtype=np.int8)
    H = lookback(condition)
    start = initial_state(net, 1, limits)
    seen = {_key(start, ())}
    queue = deque([(start, ())])
    while queue:
        limits.tick()
        state, history = queue.popleft()
        after = step(net, select(state, np.zeros(len(inputs), dtype=np.int64)), inputs)
        for b, x in enumerate(inputs):
            steps = list(history) + [_step_reading(net, condition, x, after, b)]
            if violated_at(condition, steps, bool(after.overflow[b])):
                return "violated", len(seen)
            nxt = select(after, [b])
            kept = tuple(_kept(steps, H))
            key = _key(nxt, kept)
            if key not in seen:
                if len(seen) >= max_states:
                    raise KernelLimit(f"more than {max_states} reachable states (the certificate's count)")
                seen.add(key)
                queue.append((nxt, kept))
    return "holds", len(seen)
