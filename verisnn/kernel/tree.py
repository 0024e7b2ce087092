"""The re-check of a ``bab`` certificate: the step-by-step tree, its pruned nodes and its leaves.

A raster of a ``flips``, ``deletions``, ``insertions`` or ``any`` region is the centre with
at most ``k`` of its changeable cells flipped. Sorting the flips by step gives a tree: a
node at step ``t`` fixes which cells of steps ``< t`` are flipped; its children add a set of
step ``t``'s changeable cells (within the budget left); a node at step ``T`` is one raster.

The certificate lists the nodes the producer pruned, each as ``[t, flipped positions...]``
(a position is ``t' * n + channel``). The kernel walks the whole tree itself, from the
region's definition, so the pruned nodes and the leaves cover the region by construction:

* a listed node is not expanded; its prefix is simulated by the kernel and the pruning
  argument is re-checked with the kernel's own arithmetic (:func:`settled`);
* every other node is expanded; every leaf is simulated and must satisfy the condition;
* every listed node must be met by the walk (no stray or repeated entries).

The pruning argument (docs/verification.md, the ``bab`` method): the first ``t`` steps of a
run depend only on the first ``t`` input steps (semantics v1 is causal), so the output
layer's spikes before ``t`` are known exactly, and each later step adds at most one spike
per output neuron. A class *surely wins* a readout over steps ``0 .. w-1`` when it wins for
every way the steps ``t .. w-1`` may turn out:

* ``spike_count``: its count so far exceeds every other count so far plus the steps left
  (``w - t``), or equals it when the tie rule ``lowest_index`` favours it (a lower index);
* ``first_spike``: it has spiked before ``min(t, w)``, and every other neuron that has is
  later, or as early and the tie rule favours it; a neuron that has not spiked yet can only
  spike at ``t`` or later, after it.

``robust`` is settled when the centre's class surely wins over ``T`` steps; ``decided_by: k``
when one class surely wins over ``k`` steps and over ``T``; ``first_spike_by: k`` when an
output neuron has spiked before ``min(t, k)``. No other condition or readout is pruned.
"""

from __future__ import annotations

from itertools import combinations
from math import comb

import numpy as np

from .conditions import violates
from .guard import Limits
from .network import Network, initial_state, run, select, step
from .regions import changeable, count_matches, count_words

BATCH = 2048  # nodes stepped at once


def surely_wins(net: Network, outputs: np.ndarray, t: int, w: int, c: int) -> np.ndarray:
    """``[B]``: does class ``c`` win the readout over steps ``0 .. w-1`` for every completion of
    prefixes whose output spikes of steps ``0 .. t-1`` are ``outputs`` (``[B, t, n_out]``)?"""
    seen = outputs[:, :min(t, w)]
    n = seen.shape[2]
    favoured = lambda j: net.ties == "lowest_index" and c < j  # noqa: E731
    wins = np.ones(len(outputs), dtype=bool)
    if net.readout_type == "spike_count":
        counts = seen.sum(axis=1, dtype=np.int64)
        left = max(0, w - t)
        for j in range(n):
            if j != c:
                wins &= (counts[:, c] > counts[:, j] + left) | (favoured(j) & (counts[:, c] == counts[:, j] + left))
        return wins
    if net.readout_type == "first_spike":
        if seen.shape[1] == 0:  # nothing seen yet: no neuron has spiked, none surely wins
            return np.zeros(len(outputs), dtype=bool)
        fired = seen.any(axis=1)
        first = seen.argmax(axis=1)
        wins &= fired[:, c]
        for j in range(n):
            if j != c:
                wins &= ~fired[:, j] | (first[:, j] > first[:, c]) | (favoured(j) & (first[:, j] == first[:, c]))
        return wins
    return np.zeros(len(outputs), dtype=bool)


def settled(net: Network, condition, outputs: np.ndarray, t: int, reference: int | None) -> np.ndarray:
    """``[B]``: does the condition hold on every completion of each prefix (the module docstring)?"""
    none = np.zeros(len(outputs), dtype=bool)
    if not net.layers[-1].fires:
        return none
    T = net.T
    if isinstance(condition, dict) and "first_spike_by" in condition:
        return outputs[:, :min(t, condition["first_spike_by"])].any(axis=(1, 2))
    if condition == "robust":
        return none if reference is None else surely_wins(net, outputs, t, T, reference)
    if isinstance(condition, dict) and "decided_by" in condition:
        k = condition["decided_by"]
        for c in range(outputs.shape[2]):
            none = none | (surely_wins(net, outputs, t, k, c) & surely_wins(net, outputs, t, T, c))
        return none
    return none


def check_tree(net: Network, region: dict, centre: np.ndarray, condition, reference: int | None,
               evidence: dict, limits: Limits) -> tuple[bool, str]:
    """Re-check a ``bab`` proof record (``evidence``); ``(valid, what was found)``.

    The walk is depth first over batches of nodes of one step, each batch with its nodes'
    exact network states and output spikes so far (a child is its parent's state stepped on
    its own input row), so that a prefix shared by many nodes is simulated once."""
    listed = evidence["pruned"]
    if listed is None:
        return False, "the certificate does not list its pruned nodes (too many): the tree cannot be re-checked"
    T, n = centre.shape
    pruned = {}
    for node in listed:
        limits.tick()
        t, flips = node[0], tuple(node[1:])
        if not 0 <= t < T or list(flips) != sorted(set(flips)) or any(p >= t * n for p in flips):
            return False, f"the pruned node {node[:8]} is not a node of the tree (a step in [0, {T}) and increasing " \
                          f"positions of earlier steps)"
        if (t, flips) in pruned:
            return False, f"the pruned node {node[:8]} is listed twice"
        pruned[(t, flips)] = False
    cells = np.flatnonzero(changeable(region, centre).reshape(-1))
    budget = len(cells) if region == "any" else min(next(iter(region.values())), len(cells))
    per_step = [[] for _ in range(T)]
    for p in cells:
        per_step[int(p) // n].append(int(p))
    later = [0] * (T + 1)  # changeable cells from step t on
    for t in range(T - 1, -1, -1):
        later[t] = later[t + 1] + len(per_step[t])
    simulated = under = 0
    node_bytes = sum(4 * layer.n_out + layer.delay * layer.n_in for layer in net.layers) * 8 + 100
    held = 0  # bytes of the node batches on the stack (each node: its state, flips and outputs so far)
    root = initial_state(net, 1, limits)
    stack = [(root, np.zeros((1, 0, net.n_out), dtype=np.int64), [()])]
    while stack:
        limits.tick()
        state, outs, flips = stack.pop()
        held -= len(flips) * (node_bytes + 8 * outs.shape[1] * net.n_out)
        t = state.t
        here = np.array([(t, f) in pruned for f in flips], dtype=bool)
        if here.any():
            claimed = np.flatnonzero(here)
            holds = settled(net, condition, outs[claimed], t, reference)
            if not holds.all():
                bad = flips[int(claimed[int(np.argmin(holds))])]
                return False, (f"the pruning argument does not hold at the pruned node [{t}, "
                               f"{', '.join(map(str, bad))}] (step {t}, {len(bad)} flips) by the kernel's arithmetic")
            for b in claimed:
                pruned[(t, flips[b])] = True
                under += _completions(later[t], budget - len(flips[b]))
        keep = np.flatnonzero(~here)
        if keep.size == 0:
            continue
        if t == T:
            simulated += keep.size
            bad = _violating(net, centre, [flips[b] for b in keep], condition, reference, limits)
            if bad is not None:
                return False, f"the leaf flipping positions {bad} violates the condition on the kernel's simulator"
            continue
        children = [(b, flips[b] + chosen) for b in keep
                    for j in range(min(budget - len(flips[b]), len(per_step[t])) + 1)
                    for chosen in combinations(per_step[t], j)]
        for lo in range(0, len(children), BATCH):
            limits.tick()
            part = children[lo: lo + BATCH]
            parents = np.array([b for b, _ in part], dtype=np.int64)
            x = np.repeat(centre[t][None], len(part), axis=0)
            for row, (_, f) in enumerate(part):
                for p in f:
                    if p // n == t:
                        x[row, p % n] ^= 1
            held += len(part) * (node_bytes + 8 * (t + 1) * net.n_out)
            limits.need(held, "the tree's node batches on the walk's stack")
            after = step(net, select(state, parents), x)
            last = after.outputs[-1][:, None].astype(np.int64)
            stack.append((after, np.concatenate([outs[parents], last], axis=1), [f for _, f in part]))
    unmet = [k for k, met in pruned.items() if not met]
    if unmet:
        t, flips = unmet[0]
        return False, f"{len(unmet)} listed pruned nodes are not nodes of the region's tree, e.g. [{t}, {list(flips)}]"
    per_step_nodes = [0] * T
    for t, _ in pruned:
        per_step_nodes[t] += 1
    if per_step_nodes != list(evidence["nodes_pruned_by_step"]):
        return False, f"the listed pruned nodes number {per_step_nodes} per step, the record says " \
                      f"{evidence['nodes_pruned_by_step']}"
    if evidence["rasters_simulated"] != simulated or not count_matches(evidence["rasters_pruned"], under):
        return False, (f"the kernel's walk simulates {simulated} rasters and prunes {count_words(under)}, the record says "
                       f"{evidence['rasters_simulated']} and {evidence['rasters_pruned']}")
    return True, (f"walked the region's tree: {len(listed)} pruned nodes re-checked by the kernel's own argument "
                  f"({count_words(under)} rasters under them), {simulated} leaves simulated by the kernel: none violates")


def _completions(cells: int, left: int) -> int:
    """The rasters below a node: ways to flip at most ``left`` of ``cells`` cells."""
    if left >= cells:
        return 1 << cells
    return sum(comb(cells, j) for j in range(left + 1))


def _rasters(centre: np.ndarray, flip_sets) -> np.ndarray:
    rasters = np.repeat(centre.reshape(1, -1), len(flip_sets), axis=0)
    for row, flips in enumerate(flip_sets):
        rasters[row, list(flips)] ^= 1
    return rasters.reshape(len(flip_sets), *centre.shape)


def _violating(net, centre, flip_sets, condition, reference, limits):
    """The flips of the first leaf that violates the condition, or ``None`` (the leaves are
    run whole, from their rasters: every condition reads the whole run)."""
    for lo in range(0, len(flip_sets), BATCH):
        part = flip_sets[lo: lo + BATCH]
        bad = violates(net, condition, run(net, _rasters(centre, part), limits), reference)
        if bad.any():
            return list(part[int(np.argmax(bad))])
    return None
