"""Branch and bound over the input bits, step by step: the ``bab`` verification method.

A raster of a ``flips``, ``deletions``, ``insertions`` or ``any`` region is the centre
with a set of its changeable bits flipped (at most ``k`` of them). Rasters that agree on
steps ``0 .. t-1`` drive the network into the same state at step ``t``, so the search
walks the region step by step, as a tree:

* a node is a *prefix*: which bits of steps ``< t`` are flipped, and the exact network
  state it leads to (:func:`verisnn.semantics.network_step` over the reference
  simulator's :class:`~verisnn.simulator.NumpyOps` — the one definition of the update);
* a node's children flip every allowed subset of step ``t``'s changeable bits (within
  the budget left), all of them simulated for one step in a single batch;
* **bound**: before branching, a node is pruned when the condition holds for *every*
  completion of its prefix, whatever the later steps do — e.g. ``robust`` under a
  spike-count readout is settled once the reference class leads every other class by
  more spikes than there are steps left (each later output spike taken as 0 or 1, the
  readout's own tie rule applied, :func:`verisnn.bounds.surely_wins`);
* a leaf (all ``T`` steps) is a full raster, checked by :func:`verisnn.verify.violations`,
  the same check the ``enumerate`` method uses; a violating leaf is the witness.

Every raster of the region is either simulated at a leaf or lies under a pruned node;
the search counts both and claims ``verified`` only when the count equals the region's
size (a self-check of the walk). Compared with enumerating every raster, the prefix a
batch of rasters shares is simulated once, and the last steps of most rasters are never
simulated at all once the decision is settled.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, replace
from typing import Iterator

import numpy as np

from . import semantics
from .bounds import BudgetedMatrix, Interval, IntervalMatrix, IntervalOps, interval_params, score_bounds, surely_wins
from .limits import batch_within_budget, count_json
from .model import Model
from .properties import AnyInput, DecidedBy, FirstSpikeBy, Property, Robust, binomial_prefix, changeable_positions
from .semantics import NetworkState
from .simulator import _plan, expect_products, run_bytes, sim_result

DEFAULT_CHUNK = 16384  # children simulated in one batch
MAX_PRUNED_NODES = 1_000_000  # pruned nodes a certificate lists (beyond: none listed, the kernel cannot re-check)


@dataclass
class Frontier:
    """A batch of tree nodes at step ``t``: ``B`` prefixes with their network states.

    Only the last step's outputs are stored per batch; a node's earlier outputs are its
    ancestors' (``parent``, ``parent_index``), gathered at the leaves. The output layer's
    whole prefix (``last``, small) is kept, since every bound reads it."""

    t: int
    state: NetworkState  # arrays with leading dimension B
    last: np.ndarray  # the output layer's prefix outputs, [t, B, n_out]
    step_outputs: list[np.ndarray] | None  # every layer's outputs at step t - 1, [B, n_layer]
    parent: "Frontier | None"
    parent_index: np.ndarray | None  # [B]: each node's parent in ``parent``
    flips: np.ndarray  # [B, k]: flipped flat positions (t * n + channel), -1 for unused slots
    used: np.ndarray  # [B]: bits flipped so far

    def __len__(self) -> int:
        return len(self.used)

    def subset(self, keep: np.ndarray) -> "Frontier":
        return Frontier(self.t, _take(self.state, keep), self.last[:, keep],
                        None if self.step_outputs is None else [o[keep] for o in self.step_outputs],
                        self.parent, None if self.parent_index is None else self.parent_index[keep],
                        self.flips[keep], self.used[keep])

    def history(self) -> list[np.ndarray]:
        """Every layer's ``[t, B, n]`` outputs of the nodes' prefixes."""
        steps, node, idx = [], self, np.arange(len(self))
        while node.parent is not None:
            steps.append([o[idx] for o in node.step_outputs])
            idx, node = node.parent_index[idx], node.parent
        steps.reverse()
        return [np.stack([s[layer] for s in steps]) for layer in range(len(steps[0]))]


class FlippedRows:
    """A batch of input rows, each the centre's row with a few channels flipped: what
    :class:`DeltaProduct` multiplies without forming the rows."""

    def __init__(self, row: np.ndarray, channels: np.ndarray, grid: bool = False):
        self.row, self.channels = row, channels  # [n], [C, j]
        self.grid = grid  # the product as [1, C, out], broadcast over a batch of parents


class DeltaProduct:
    """The first layer's exact ``W·x`` for :class:`FlippedRows`: the centre row's product
    plus, per flipped channel, its column signed by the flip (``+W[:, i]`` for a bit
    turned on, ``-W[:, i]`` for one turned off) — ``j`` column additions instead of a
    full product. Other operands go to the simulator's own product."""

    def __init__(self, exact, w: np.ndarray, dtype):
        self.exact, self.w_t = exact, np.ascontiguousarray(np.asarray(w, dtype=dtype).T)

    def __call__(self, x):
        if not isinstance(x, FlippedRows):
            return self.exact(x)
        base = self.exact(x.row[None])[0]
        out = np.repeat(base[None], len(x.channels), axis=0)
        if x.channels.shape[1]:
            signed = self.w_t * (1 - 2 * x.row.astype(self.w_t.dtype))[:, None]  # each channel's change
            for ch in x.channels.T:  # one flipped channel of every row at a time
                out += signed[ch]
        return out[None] if x.grid else out


def _map(fn, tree):
    """Apply ``fn`` to every array of a (nested) state; anything else (a scalar shared by
    the whole batch) stays as it is."""
    if isinstance(tree, np.ndarray):
        return fn(tree)
    if isinstance(tree, tuple):
        items = [_map(fn, x) for x in tree]
        return type(tree)(*items) if hasattr(tree, "_fields") else tuple(items)
    return tree


def _take(tree, idx: np.ndarray):
    """Index the batch dimension of every array in a (nested) state."""
    return _map(lambda a: a[idx], tree)


def _grid_rows(a: np.ndarray, P: int, C: int) -> np.ndarray:
    """A value over the [P, C] grid of (parent, subset) pairs (possibly broadcast along
    either) as one row per child, children of one parent adjacent."""
    return np.broadcast_to(a, (P, C) + a.shape[2:]).reshape(P * C, *a.shape[2:])


def _degenerate(a: np.ndarray) -> Interval:
    """An exact value as the interval holding only it."""
    v = a.astype(np.int64)
    return Interval(v, v)


class StepBudget:
    """The first layer's ``W·x`` over intervals at one step, for the step's input ``x``
    when at most ``left[b]`` of its changeable ``channels`` differ from the centre's
    ``row`` (per batch element ``b``): the centre's product plus the ``left[b]`` largest
    possible increases, minus the largest decreases, intersected with the plain
    interval product. Any other operand (a delayed input) gets the plain product."""

    def __init__(self, plain: IntervalMatrix, w: np.ndarray, row: np.ndarray, channels: np.ndarray,
                 left: np.ndarray, x: Interval):
        self.plain, self.x = plain, x
        base = w @ row
        delta = w[:, channels] * (1 - 2 * row[channels])[None, :]  # change of each neuron's input per bit
        up, down = np.maximum(delta, 0), np.maximum(-delta, 0)
        lo, hi = np.empty((left.size, w.shape[0]), dtype=np.int64), np.empty((left.size, w.shape[0]), dtype=np.int64)
        for r in np.unique(left):
            at = left == r
            hi[at] = base + BudgetedMatrix._top_sum(up, int(r))
            lo[at] = base - BudgetedMatrix._top_sum(down, int(r))
        self.bound = Interval(lo, hi)

    def __call__(self, x: Interval) -> Interval:
        plain = self.plain(x)
        if x is not self.x:
            return plain
        return Interval(np.maximum(plain.lo, self.bound.lo), np.minimum(plain.hi, self.bound.hi))


def _combinations(m: int, j: int, chunk: int) -> Iterator[np.ndarray]:
    """Every ``j``-subset of ``range(m)``, as ``[c, j]`` arrays of at most ``chunk`` rows."""
    subsets = itertools.combinations(range(m), j)
    while rows := list(itertools.islice(subsets, chunk)):
        yield np.array(rows, dtype=np.int64).reshape(len(rows), j)


class Search:
    """The tree over one region around one centre (see the module docstring).

    ``chunk``: children simulated per batch. ``lookahead``: steps after a node bounded by
    :class:`verisnn.bounds.IntervalOps` from its exact state (the rest taken as any
    spikes); 0, the default, measured cheapest on the case studies (docs/benchmarks.md)."""

    def __init__(self, model: Model, prop: Property, centre: np.ndarray, reference: int | None,
                 chunk: int = DEFAULT_CHUNK, lookahead: int = 0):
        self.lookahead = lookahead
        self.model, self.prop, self.reference = model, prop, reference
        self.centre = np.asarray(centre, dtype=np.int8)
        self.T, self.n = self.centre.shape
        pos = np.sort(changeable_positions(prop.region, self.centre))
        self.k = int(pos.size if isinstance(prop.region, AnyInput) else min(prop.region.k, pos.size))
        self.chunk = batch_within_budget(self._path_bytes(), chunk, "the step-by-step tree (bab): a path of nodes "
                                         f"through {self.T} steps")
        self.step_channels = np.split(pos % self.n, np.searchsorted(pos // self.n, np.arange(1, self.T)))
        counts = np.array([c.size for c in self.step_channels], dtype=np.int64)
        self.later = np.concatenate([np.cumsum(counts[::-1])[::-1], [0]]).tolist()  # changeable bits from step t on
        self.ops, params = _plan(model)
        # the first layer's input as the centre plus flips, when it is not delayed
        self.delta = model.layers[0].delay == 0
        self.params = list(params)
        if self.delta:
            self.params[0] = replace(params[0], weight=DeltaProduct(params[0].weight, model.layers[0].dense_weight(),
                                                                    self.ops.dtype))
        self.interval_params = interval_params(model)
        self.w0 = np.asarray(model.layers[0].dense_weight(), dtype=np.int64)
        self.simulated = 0  # leaves: rasters simulated to the end
        self.pruned = 0  # rasters under pruned nodes
        self.pruned_nodes = [0] * (self.T + 1)
        self.pruned_prefixes: list[list[int]] | None = []  # each pruned node as [t, flipped flat positions...]
        self._completions: dict[tuple[int, int], int] = {}
        # the work ahead, at most: every raster of the region through every layer, every step
        expect_products(self.completions(0, self.k) * self.T * sum(layer.out_size * layer.in_size
                                                                     for layer in model.layers))

    def _path_bytes(self) -> int:
        """About the memory of one node at every step of a path (the walk keeps a frontier per
        step, each node with its flips, state and output prefix), and of simulating its leaf:
        what one unit of ``chunk`` costs."""
        model, T = self.model, self.T
        last = model.layers[-1].out_size * (1 if model.layers[-1].neuron.fires else 8)
        node = 8 * self.k + 32 + sum(26 * layer.out_size + layer.delay * layer.in_size for layer in model.layers)
        return (T + 1) * node + (T + 1) * T // 2 * last + run_bytes(model, 1)

    # ------------------------------------------------------------ counting

    def completions(self, t: int, left: int) -> int:
        """Rasters below a node at step ``t`` with ``left`` flips still allowed."""
        key = (t, left)
        if key not in self._completions:
            self._completions[key] = binomial_prefix(self.later[t], left)
        return self._completions[key]

    # ------------------------------------------------------------ the tree

    def root(self) -> Frontier:
        state = semantics.initial_network_state(self.ops, self.model, (1,))
        last = np.zeros((0, 1, self.model.layers[-1].out_size),
                        dtype=np.int8 if self.model.layers[-1].neuron.fires else self.ops.dtype)
        return Frontier(0, state, last, None, None, None, np.full((1, self.k), -1, dtype=np.int64),
                        np.zeros(1, dtype=np.int64))

    def children(self, f: Frontier) -> Iterator[Frontier]:
        """Every child of every node in ``f``, in batches of at most ``chunk``."""
        channels = self.step_channels[f.t]
        left = self.k - f.used
        for j in range(min(int(left.max()), channels.size) + 1):
            eligible = np.flatnonzero(left >= j)
            for subsets in _combinations(channels.size, j, self.chunk):
                per = max(1, self.chunk // len(subsets))
                for s in range(0, eligible.size, per):
                    parents = eligible[s: s + per]
                    yield self._child(f, parents, subsets, channels, j)

    def _child(self, f: Frontier, parents: np.ndarray, subsets: np.ndarray, channels: np.ndarray, j: int) -> Frontier:
        """The children flipping each of ``subsets`` ([C, j]) at step ``t``, of each node in
        ``parents`` ([P]): one step of the network over a [P, C] grid, by broadcasting the
        parents' states ([P, 1, n]) against the step's inputs ([1, C, n])."""
        t, P, C = f.t, parents.size, len(subsets)
        if self.delta:  # the first layer's input is the same for every parent
            x = FlippedRows(self.centre[t], channels[subsets], grid=True)
        else:
            x = np.repeat(self.centre[t][None], C, axis=0)
            x[np.arange(C)[:, None], channels[subsets]] ^= 1
            x = x[None]
        state = _map(lambda a: a[:, None], _take(f.state, parents))
        state, outs = semantics.network_step(self.ops, self.model, self.params, state, x)
        state = _map(lambda a: _grid_rows(a, P, C), state)
        outs = [_grid_rows(np.asarray(o), P, C) for o in outs]
        parent = np.repeat(parents, C)
        last = np.concatenate([f.last[:, parent], outs[-1][None].astype(f.last.dtype, copy=False)])
        flips = f.flips[parent]
        used = f.used[parent]
        if j:
            rows = np.arange(parent.size)[:, None]
            flips[rows, used[:, None] + np.arange(j)] = t * self.n + np.tile(channels[subsets], (P, 1))
        return Frontier(t + 1, state, last, outs, f, parent, flips, used + j)

    def suffix(self, f: Frontier) -> Interval:
        """Sound bounds of the output layer at steps ``t .. T-1`` over every completion of
        each node: the network run over intervals (:class:`verisnn.bounds.IntervalOps`)
        from the node's exact state, each later step changing at most the node's remaining
        budget of that step's changeable bits."""
        ops = IntervalOps()
        state = _map(_degenerate, f.state)
        left = self.k - f.used
        params = list(self.interval_params)
        outs = []
        for t in range(f.t, min(self.T, f.t + self.lookahead)):
            channels = self.step_channels[t]
            row = self.centre[t].astype(np.int64)
            free = np.zeros(self.n, dtype=bool)
            free[channels] = True
            x = Interval(np.broadcast_to(np.where(free, 0, row), (len(f), self.n)),
                         np.broadcast_to(np.where(free, 1, row), (len(f), self.n)))
            params[0] = replace(params[0], weight=StepBudget(self.interval_params[0].weight, self.w0, row,
                                                             channels, left, x))
            state, layer_outs = semantics.network_step(ops, self.model, params, state, x)
            outs.append(layer_outs[-1])
        rest = (self.T - f.t - len(outs), len(f), self.model.layers[-1].out_size)
        lo = [o.lo[None] for o in outs] + [np.zeros(rest, dtype=np.int64)]
        hi = [o.hi[None] for o in outs] + [np.ones(rest, dtype=np.int64)]
        return Interval(np.concatenate(lo), np.concatenate(hi))

    def scores(self, f: Frontier, steps: int) -> tuple[np.ndarray, np.ndarray]:
        """Bounds ``[lo, hi]`` (``[B, n_out]``) of the readout scores over the first ``steps``
        steps of every completion of each node."""
        if self.model.readout.type == "spike_count" and self.lookahead == 0:
            # each step not yet taken adds at most one spike to each output neuron
            counts = f.last[: min(f.t, steps)].sum(axis=0, dtype=np.int64)
            return counts, counts + max(0, steps - f.t)
        later = self.suffix(f)
        out = Interval(np.concatenate([f.last.astype(np.int64), later.lo]),
                       np.concatenate([f.last.astype(np.int64), later.hi]))
        return score_bounds(self.model, out, steps)

    def settled(self, f: Frontier) -> np.ndarray:
        """``[B]``: nodes whose every completion satisfies the condition (decided from the
        exact prefix and bounds of the later steps: :meth:`scores`, :meth:`suffix`)."""
        cond, model, T = self.prop.condition, self.model, self.T
        if not isinstance(cond, (Robust, DecidedBy, FirstSpikeBy)) or not model.layers[-1].neuron.fires:
            return np.zeros(len(f), dtype=bool)
        if isinstance(cond, FirstSpikeBy):
            if f.t >= cond.k or self.lookahead == 0:
                return f.last[: cond.k].any(axis=(0, 2))
            return self.suffix(f).lo[: cond.k - f.t].any(axis=(0, 2)) | f.last.any(axis=(0, 2))
        if model.readout.type not in ("spike_count", "first_spike"):
            return np.zeros(len(f), dtype=bool)
        if isinstance(cond, Robust):
            return surely_wins(model, *self.scores(f, T), self.reference)
        early, final = self.scores(f, min(cond.k, T)), self.scores(f, T)
        held = np.zeros(len(f), dtype=bool)
        for c in range(f.last.shape[2]):
            held |= surely_wins(model, *early, c) & surely_wins(model, *final, c)
        return held

    def rasters(self, f: Frontier) -> np.ndarray:
        """The nodes' rasters (``[B, T, n]``), later steps left as in the centre."""
        flat = np.repeat(self.centre.reshape(1, -1), len(f), axis=0)
        rows, cols = np.nonzero(f.flips >= 0)
        flat[rows, f.flips[rows, cols]] ^= 1
        return flat.reshape(len(f), self.T, self.n)

    def leaves(self, f: Frontier) -> np.ndarray | None:
        """Check full rasters; return the first violating one, if any."""
        from .verify import violations  # verify builds on this module

        rasters = self.rasters(f)
        result = sim_result(self.model, np.ascontiguousarray(rasters.transpose(1, 0, 2)), f.history())
        bad = violations(self.model, self.prop, rasters, self.reference, result)
        self.simulated += len(f)
        return rasters[int(np.argmax(bad))] if bad.any() else None

    def run(self, deadline: float | None = None) -> tuple[str, np.ndarray | None]:
        """Walk the tree depth first. Returns ``("falsified", witness)``, ``("verified", None)``
        or ``("timeout", None)``."""
        stack: list[Iterator[Frontier]] = [iter([self.root()])]
        while stack:
            f = next(stack[-1], None)
            if f is None:
                stack.pop()
                continue
            if deadline is not None and time.perf_counter() > deadline:
                return "timeout", None
            if f.t == self.T:
                witness = self.leaves(f)
                if witness is not None:
                    return "falsified", witness
                continue
            done = self.settled(f)
            if done.any():
                self.pruned_nodes[f.t] += int(done.sum())
                self._remember_pruned(f, done)
                per_used = np.bincount(f.used[done], minlength=self.k + 1)
                self.pruned += sum(int(c) * self.completions(f.t, self.k - u) for u, c in enumerate(per_used) if c)
                keep = np.flatnonzero(~done)
                if keep.size == 0:
                    continue
                f = f.subset(keep)
            stack.append(self.children(f))
        return "verified", None

    def _remember_pruned(self, f: Frontier, done: np.ndarray) -> None:
        """Keep the pruned nodes for the certificate: the trusted kernel re-checks each one's
        pruning argument from its prefix (``[t, flipped flat positions in increasing order]``)."""
        if self.pruned_prefixes is None:
            return
        if len(self.pruned_prefixes) + int(done.sum()) > MAX_PRUNED_NODES:
            self.pruned_prefixes = None  # too many to list: the certificate will say so (pruned: null)
            return
        for flips in f.flips[done]:
            self.pruned_prefixes.append([f.t] + sorted(int(p) for p in flips if p >= 0))

    def record(self) -> dict:
        return {"rasters_simulated": self.simulated, "rasters_pruned": count_json(self.pruned),
                "nodes_pruned_by_step": self.pruned_nodes[: self.T]}

    def proof(self) -> dict:
        """The record and the pruned nodes: what a ``bab`` certificate carries."""
        return {**self.record(), "pruned": self.pruned_prefixes}
