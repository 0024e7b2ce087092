"""Falsification first: cheap searches for a counterexample inside a region.

Sound by construction: a search only ever *proposes* rasters of the region; the
caller reports ``falsified`` after the reference simulator has replayed the
witness (:func:`verisnn.verify.violations`). Finding nothing proves nothing.

* :func:`greedy_search` — from the centre, repeatedly apply the single change
  (bit flip, deletion or insertion allowed by the region and its remaining budget)
  that most reduces the condition's :func:`margin`, all candidates of a step
  simulated as one batch, keeping a small beam;
* :func:`random_search` — uniform random members of the region, in batches;
* :func:`gradient_search` — the model run as a float network with surrogate
  spike gradients (:class:`verisnn.torch_sim.SpikingNetwork`, training mode) gives,
  for every changeable bit, the first-order change of a soft margin if it flipped; the
  most promising bits are then combined and *simulated exactly*, in rounds from the
  best raster found so far.

Every batch of candidates is sized to the memory budget (:mod:`verisnn.limits`): on a long
model one raster can take megabytes, and all single changes of one raster at once would
take gigabytes.
"""

from __future__ import annotations

import itertools
import sys
import time

import numpy as np

from .limits import batch_within_budget, fits_memory
from .model import Model
from .properties import (HARDWARE_CONDITIONS, AnyInput, DecidedBy, Deletions, FirstSpikeBy, Flips, Insertions,
                         NeverFires, Property, Robust, SpikesAtMost, SynopsAtMost, changeable_positions)
from .simulator import _TORCH_IMPORT_S, SimResult, run_bytes, simulate


def margin(model: Model, prop: Property, res: SimResult, reference: int | None) -> np.ndarray:
    """``[B]`` scores of simulated rasters, lower = closer to violating the condition (a
    heuristic guide only; violations are decided by :func:`verisnn.verify.violations`)."""
    c = prop.condition
    if isinstance(c, (Robust, DecidedBy)) and model.readout.type == "spike_count" and reference is not None:
        counts = res.counts.astype(np.int64)
        if isinstance(c, DecidedBy):
            counts = res.output_spikes[:, : c.k].sum(axis=1, dtype=np.int64)
        others = np.delete(counts, reference, axis=1)
        best_other = others.max(axis=1) if others.shape[1] else np.zeros(len(counts), dtype=np.int64)
        return counts[:, reference] - best_other
    if isinstance(c, SpikesAtMost):
        return c.e - res.total_spikes
    if isinstance(c, SynopsAtMost):
        return c.s - res.synops
    if isinstance(c, HARDWARE_CONDITIONS):  # latency and energy grow with the events: more events, closer
        return -(res.synops + res.total_spikes)
    if isinstance(c, NeverFires):
        return -res.layer_outputs[c.layer][:, :, c.neuron].sum(axis=1, dtype=np.int64)
    if isinstance(c, FirstSpikeBy):
        return res.output_spikes[:, : c.k].sum(axis=(1, 2), dtype=np.int64)
    # no graded signal for this condition: rank by whether the decision still stands
    return (res.prediction == (-1 if reference is None else reference)).astype(np.int64)


def _budget(region) -> int | None:
    if isinstance(region, (Flips, Deletions, Insertions)):
        return region.k
    if isinstance(region, AnyInput):
        return None
    return 0  # regions this search does not walk (jitter, intensity)


def _batch(model: Model, wanted: int, extra_per_raster: int = 0) -> int:
    """Candidate rasters per simulated batch: at most ``wanted``, within the memory budget."""
    return batch_within_budget(run_bytes(model, 1) + extra_per_raster, wanted,
                               f"falsification search: a candidate raster of {model.time_steps} steps")


def _simulate_candidates(model: Model, prop: Property, centre: np.ndarray, rows: np.ndarray, budget: int,
                         violates, reference: int | None) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Simulate the flat candidate ``rows`` that lie within ``budget`` changes of the centre:
    ``(witness, rows, margins)``, the witness the first candidate ``violates`` confirms
    (else None), and the candidates kept with their margins."""
    rows = rows[np.count_nonzero(rows != centre.reshape(-1), axis=1) <= budget]
    if not len(rows):
        return None, rows, np.empty(0, dtype=np.int64)
    rasters = rows.reshape(-1, *centre.shape)
    res = simulate(model, rasters)
    bad = violates(rasters, res)
    if bad.any():
        return rasters[int(np.argmax(bad))], rows, np.empty(0, dtype=np.int64)
    return None, rows, margin(model, prop, res, reference)


def greedy_search(model: Model, prop: Property, centre: np.ndarray, reference: int | None, violates,
                  beam: int = 4, deadline: float | None = None, chunk: int = 2048) -> np.ndarray | None:
    """A beam search over single changes; returns a raster that ``violates(rasters, sim)``
    confirms, or None."""
    budget = _budget(prop.region)
    if not budget:
        return None
    chunk = _batch(model, chunk)
    pos = changeable_positions(prop.region, centre)
    flat_centre = centre.reshape(-1)
    frontier = flat_centre[None]
    for _ in range(budget):
        if deadline is not None and time.perf_counter() > deadline:
            return None
        # every single change of every frontier raster, made and simulated a chunk at a time
        # (never all at once: frontier x positions whole rasters), keeping the best `beam`
        best_scores, best_rows = np.empty(0, dtype=np.int64), frontier[:0]
        candidates = len(frontier) * pos.size
        for start in range(0, candidates, chunk):
            if deadline is not None and time.perf_counter() > deadline:
                return None
            idx = np.arange(start, min(start + chunk, candidates))
            rows = frontier[idx // pos.size]
            rows[np.arange(len(idx)), pos[idx % pos.size]] ^= 1
            witness, rows, scores = _simulate_candidates(model, prop, centre, rows, budget, violates, reference)
            if witness is not None:
                return witness
            scores = np.concatenate([best_scores, scores])
            keep = np.argsort(scores, kind="stable")[:beam]  # stable: earlier candidates win ties
            best_scores, best_rows = scores[keep], np.concatenate([best_rows, rows])[keep]
        if not len(best_rows):
            return None
        frontier = best_rows
    return None


def random_search(model: Model, prop: Property, centre: np.ndarray, violates, samples: int = 4096,
                  batch: int = 1024, seed: int = 0, deadline: float | None = None) -> np.ndarray | None:
    """Uniform random members of a flips / deletions / insertions region (each with the
    full budget of changes, the likeliest to violate); returns a confirmed violation or None."""
    budget = _budget(prop.region)
    if not budget:
        return None
    rng = np.random.default_rng(seed)
    pos = changeable_positions(prop.region, centre)
    k = min(budget, pos.size)
    batch = _batch(model, batch, 16 * pos.size)  # a random key and its rank per changeable bit
    for start in range(0, samples, batch):
        if deadline is not None and time.perf_counter() > deadline:
            return None
        m = min(batch, samples - start)
        choice = np.argsort(rng.random((m, pos.size)), axis=1)[:, :k]
        rows = np.repeat(centre.reshape(1, -1), m, axis=0)
        rows[np.arange(m)[:, None], pos[choice]] ^= 1
        rasters = rows.reshape(m, *centre.shape)
        bad = violates(rasters)
        if bad.any():
            return rasters[int(np.argmax(bad))]
    return None


def _soft_margin(model: Model, prop: Property, reference: int | None):
    """A differentiable version of :func:`margin` over the torch network's ``[B, T, n]``
    layer outputs (lower = closer to violating), or None where there is none."""
    c = prop.condition
    last_fires = model.layers[-1].neuron.fires
    if isinstance(c, (Robust, DecidedBy)) and model.readout.type == "spike_count" and reference is not None \
            and last_fires and model.layers[-1].out_size > 1:
        steps = c.k if isinstance(c, DecidedBy) else model.time_steps

        def robust(outs):
            counts = outs[-1][:, :steps].sum(dim=1)
            others = torch_cat_without(counts, reference)
            return counts[:, reference] - others.max(dim=1).values
        return robust
    if isinstance(c, SpikesAtMost) and any(layer.neuron.fires for layer in model.layers):
        return lambda outs: -sum(o.sum(dim=(1, 2)) for o, layer in zip(outs, model.layers) if layer.neuron.fires)
    if isinstance(c, NeverFires):
        return lambda outs: -outs[c.layer][:, :, c.neuron].sum(dim=1)
    if isinstance(c, FirstSpikeBy) and last_fires:
        return lambda outs: outs[-1][:, : c.k].sum(dim=(1, 2))
    return None


def torch_cat_without(x, j: int):
    """Columns of ``x`` other than ``j``."""
    import torch

    return torch.cat([x[:, :j], x[:, j + 1:]], dim=1)


def _autograd_bytes(model: Model) -> int:
    """About what torch's graph of one surrogate-gradient run keeps (measured: some 7 KB per
    layer and step besides the values)."""
    return model.time_steps * sum(8192 + 96 * layer.out_size for layer in model.layers)


def gradient_search(model: Model, prop: Property, centre: np.ndarray, reference: int | None, violates,
                    top: int = 12, rounds: int = 4, deadline: float | None = None) -> np.ndarray | None:
    """Surrogate-gradient-guided search: each round takes the gradient of the soft margin
    at the best raster so far, keeps the ``top`` bits whose flip the gradient predicts to
    lower it most, simulates every combination of them within the remaining budget exactly
    and moves to the best; returns a raster that ``violates`` confirms, or None."""
    budget = _budget(prop.region)
    objective = _soft_margin(model, prop, reference)
    if not budget or objective is None or not fits_memory(_autograd_bytes(model)):
        return None  # (a heuristic: skipped where its graph of every step would not fit the budget)
    if "torch" not in sys.modules and deadline is not None and deadline - time.perf_counter() < _TORCH_IMPORT_S:
        return None  # importing torch alone would outlast the time left
    import torch

    from .torch_sim import SpikingNetwork

    batch = _batch(model, 2048)
    net = SpikingNetwork.from_model(model).train()  # surrogate gradients through every spike
    pos = changeable_positions(prop.region, centre)
    flat_centre = centre.reshape(-1)
    best = flat_centre.copy()
    for _ in range(rounds):
        if deadline is not None and time.perf_counter() > deadline:
            return None
        left = budget - int(np.count_nonzero(best != flat_centre))
        x = torch.tensor(best.reshape(1, *centre.shape), dtype=torch.float64, requires_grad=True)
        started = time.perf_counter()
        soft = objective(net(x, exact=False)).sum()
        if deadline is not None and time.perf_counter() + 2 * (time.perf_counter() - started) > deadline:
            return None  # the backward pass (about twice the forward) cannot be interrupted: it would overrun
        soft.backward()
        grad = x.grad.numpy().reshape(-1)
        gain = grad[pos] * (1 - 2 * best[pos].astype(np.float64))  # predicted change if the bit flips
        # a bit flipped back towards the centre frees budget, so it is always allowed
        allowed = (best[pos] != flat_centre[pos]) | (left > 0)
        order = [p for p in np.argsort(gain, kind="stable") if allowed[p]][:top]
        cand = pos[np.array(order, dtype=np.int64)]
        subsets = [()] + [subset for j in range(1, min(max(left, 1), cand.size) + 1)
                          for subset in itertools.combinations(cand, j)]
        nxt, nxt_score = None, None  # the first candidate of least margin
        for lo in range(0, len(subsets), batch):  # every combination simulated exactly, a batch at a time
            if deadline is not None and time.perf_counter() > deadline:
                return None
            rows = np.repeat(best[None], len(subsets[lo: lo + batch]), axis=0)
            for r, subset in zip(rows, subsets[lo: lo + batch]):
                r[list(subset)] ^= 1
            witness, rows, scores = _simulate_candidates(model, prop, centre, rows, budget, violates, reference)
            if witness is not None:
                return witness
            if not len(rows):
                continue
            k = int(np.argmin(scores))
            if nxt is None or scores[k] < nxt_score:
                nxt, nxt_score = rows[k], scores[k]
        if nxt is None or np.array_equal(nxt, best):
            return None
        best = nxt
    return None
