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
from .network import Network, run
from .regions import changeable

BATCH = 2048  # rasters simulated at once


def surely_wins(net: Network, outputs: np.ndarray, t: int, w: int, c: int) -> bool:
    """Does class ``c`` win the readout over steps ``0 .. w-1`` for every completion of a
    prefix whose output spikes of steps ``0 .. t-1`` are ``outputs`` (``[t', n_out]``, t' >= t)?"""
    seen = outputs[:min(t, w)]
    n = seen.shape[1]
    ties_favour = lambda j: net.ties == "lowest_index" and c < j  # noqa: E731
    if net.readout_type == "spike_count":
        counts = seen.sum(axis=0)
        left = max(0, w - t)
        return all(counts[c] > counts[j] + left or (ties_favour(j) and counts[c] == counts[j] + left)
                   for j in range(n) if j != c)
    if net.readout_type == "first_spike":
        fired = seen.any(axis=0)
        if not fired[c]:
            return False
        first = seen.argmax(axis=0)
        return all(first[j] > first[c] or (ties_favour(j) and first[j] == first[c])
                   for j in range(n) if j != c and fired[j])
    return False


def settled(net: Network, condition, outputs: np.ndarray, t: int, reference: int | None) -> bool:
    """Does the condition hold on every completion of the prefix (see the module docstring)?"""
    if not net.layers[-1].fires:
        return False
    T = net.T
    if isinstance(condition, dict) and "first_spike_by" in condition:
        return bool(outputs[:min(t, condition["first_spike_by"])].any())
    if condition == "robust":
        return reference is not None and surely_wins(net, outputs, t, T, reference)
    if isinstance(condition, dict) and "decided_by" in condition:
        k = condition["decided_by"]
        return any(surely_wins(net, outputs, t, k, c) and surely_wins(net, outputs, t, T, c)
                   for c in range(outputs.shape[1]))
    return False


def check_tree(net: Network, region: dict, centre: np.ndarray, condition, reference: int | None,
               evidence: dict, limits: Limits) -> tuple[bool, str]:
    """Re-check a ``bab`` proof record (``evidence``); ``(valid, what was found)``."""
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
    per_step = [[int(p) for p in cells if p // n == t] for t in range(T)]
    later = [sum(len(s) for s in per_step[t:]) for t in range(T + 1)]
    leaves, prunes = [], []
    counts = {"leaves": 0, "under_pruned": 0}
    failure = []

    def flush_leaves():
        if leaves:
            bad = _violating(net, centre, leaves, condition, reference, limits)
            if bad is not None:
                failure.append(f"the leaf flipping positions {bad} violates the condition on the kernel's simulator")
            leaves.clear()

    def flush_prunes():
        if prunes:
            runs = run(net, _rasters(centre, [f for _, f in prunes]), limits)
            for (t, flips), outputs in zip(prunes, runs.outputs):
                if not settled(net, condition, outputs, t, reference):
                    failure.append(f"the pruning argument does not hold at the pruned node [{t}, {', '.join(map(str, flips))}] "
                                   f"(step {t}, {len(flips)} flips) by the kernel's arithmetic")
                    break
            prunes.clear()

    # depth first over the tree: a stack of (step, flips so far)
    stack = [(0, ())]
    while stack and not failure:
        limits.tick()
        t, flips = stack.pop()
        if (t, flips) in pruned:
            pruned[(t, flips)] = True
            counts["under_pruned"] += sum(comb(later[t], j) for j in range(budget - len(flips) + 1))
            prunes.append((t, flips))
            if len(prunes) >= BATCH:
                flush_prunes()
            continue
        if t == T:
            counts["leaves"] += 1
            leaves.append(flips)
            if len(leaves) >= BATCH:
                flush_leaves()
            continue
        left = budget - len(flips)
        for j in range(min(left, len(per_step[t])), -1, -1):
            for chosen in combinations(per_step[t], j):
                stack.append((t + 1, flips + chosen))
    if not failure:
        flush_leaves()
        flush_prunes()
    if failure:
        return False, failure[0]
    unmet = [k for k, met in pruned.items() if not met]
    if unmet:
        t, flips = unmet[0]
        return False, f"{len(unmet)} listed pruned nodes are not nodes of the region's tree, e.g. [{t}, {list(flips)}]"
    per_step = [0] * T
    for t, _ in pruned:
        per_step[t] += 1
    if per_step != list(evidence["nodes_pruned_by_step"]):
        return False, f"the listed pruned nodes number {per_step} per step, the record says " \
                      f"{evidence['nodes_pruned_by_step']}"
    simulated, under = counts["leaves"], counts["under_pruned"]
    if evidence["rasters_simulated"] != simulated or evidence["rasters_pruned"] != under:
        return False, (f"the kernel's walk simulates {simulated} rasters and prunes {under}, the record says "
                       f"{evidence['rasters_simulated']} and {evidence['rasters_pruned']}")
    return True, (f"walked the region's tree: {len(listed)} pruned nodes re-checked by the kernel's own argument "
                  f"({under} rasters under them), {simulated} leaves simulated by the kernel: none violates")


def _rasters(centre: np.ndarray, flip_sets) -> np.ndarray:
    rasters = np.repeat(centre.reshape(1, -1), len(flip_sets), axis=0)
    for row, flips in enumerate(flip_sets):
        rasters[row, list(flips)] ^= 1
    return rasters.reshape(len(flip_sets), *centre.shape)


def _violating(net, centre, flip_sets, condition, reference, limits):
    """The flips of the first leaf that violates the condition, or ``None``."""
    bad = violates(net, condition, run(net, _rasters(centre, flip_sets), limits), reference)
    return list(flip_sets[int(np.argmax(bad))]) if bad.any() else None
