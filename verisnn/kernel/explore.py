"""The re-check of an ``explore`` certificate: every reachable state of the unbounded run.

An unbounded safety property (docs/properties.md "Horizon") holds when no run from rest,
on any input sequence, ever violates it. The kernel searches the states a run can reach
breadth first, with its own step (:func:`.network.step`), over every input vector (or the
certificate's letters). A state is the network's (membranes, currents, refractory counters,
last spikes, delay queues) plus what the condition looks back on: its reading of the last
``H`` steps (:func:`.unbounded.reading`), ``H`` the condition's window less one. Two runs in the same state go on
alike, so a state met again is not expanded again; the search ends when no new state
appears (the property holds) or at a violation, the state budget or the deadline.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import replace

import numpy as np

from .unbounded import lookback, reading, violated_at
from .guard import KernelLimit, Limits
from .network import LayerState, Network, State, initial_state, step

ENDLESS = 1 << 62  # the horizon has no end: every delay queue is kept


def _row(state: State, b: int) -> State:
    """State ``b`` of a batch, as a batch of one."""
    take = lambda a: a[b:b + 1]  # noqa: E731
    return State(t=0, layers=[LayerState(v=take(ls.v), i=take(ls.i), r=take(ls.r), s=take(ls.s),
                                         queue=[take(q) for q in ls.queue]) for ls in state.layers],
                 outputs=[take(o) for o in state.outputs], overflow=take(state.overflow), synops=take(state.synops))


def _repeat(state: State, m: int) -> State:
    rep = lambda a: np.repeat(a, m, axis=0)  # noqa: E731
    return State(t=0, layers=[LayerState(v=rep(ls.v), i=rep(ls.i), r=rep(ls.r), s=rep(ls.s),
                                         queue=[rep(q) for q in ls.queue]) for ls in state.layers],
                 outputs=[], overflow=rep(state.overflow), synops=rep(state.synops))


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
        after = step(net, _repeat(state, len(inputs)), inputs)
        for b, x in enumerate(inputs):
            spikes = [o[b] if layer.fires else np.zeros(layer.n_out, dtype=np.int8)
                      for layer, o in zip(net.layers, after.outputs)]
            steps = list(history) + [reading(condition, x, spikes)]
            if violated_at(condition, steps, bool(after.overflow[b])):
                return "violated", len(seen)
            nxt = _row(after, b)
            kept = tuple(steps[max(0, len(steps) - H):]) if H else ()
            key = _key(nxt, kept)
            if key not in seen:
                if len(seen) >= max_states:
                    raise KernelLimit(f"more than {max_states} reachable states (the certificate's count)")
                seen.add(key)
                queue.append((nxt, kept))
    return "holds", len(seen)
