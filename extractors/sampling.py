"""The input distribution rules are fitted and judged on: data plus perturbations.

One draw (:func:`draw`): an input ``x`` chosen uniformly from the data, then, in this
order and each with its own uniformly drawn count,

1. ``j_d ~ U{0..deletions}`` of ``x``'s spikes removed (a uniformly random subset);
2. ``j_j ~ U{0..jitter_spikes}`` of the remaining spikes each moved by an offset drawn
   uniformly from ``[-jitter_shift, jitter_shift] \\ {0}`` within its channel; a move that
   would leave the run or land on another spike is not made (spikes never merge);
3. ``j_f ~ U{0..flips}`` distinct bits flipped (0 <-> 1), uniformly among all ``T * n``.

Every draw of a :class:`Perturbation` with only ``flips`` (``deletions``, ``jitter``)
lies in the ``flips: k`` (``deletions: k``, ``jitter``) region of its data point.
Randomness comes from one seeded :class:`numpy.random.Generator`.

TREPAN-style extra queries (:func:`extra_queries`): around the rasters that reach a
sparsely populated tree leaf, draw more rasters from the same family, keep those that
satisfy the leaf's path conditions (rejection sampling, bounded tries), and label them
with the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..errors import InputError
from ..limits import require_memory
from ..model import Model
from ..simulator import check_raster, simulate

_CHUNK = 8192  # rows per vectorised block: the random keys of a block stay small


@dataclass(frozen=True)
class Perturbation:
    """How far a draw may move from its data point: at most ``flips`` bit flips, at most
    ``deletions`` spikes removed, at most ``jitter_spikes`` spikes moved by at most
    ``jitter_shift`` steps (each count drawn uniformly from ``0..max``)."""

    flips: int = 1
    deletions: int = 0
    jitter_shift: int = 0
    jitter_spikes: int = 0

    def __post_init__(self):
        for name in ("flips", "deletions", "jitter_shift", "jitter_spikes"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise InputError(f"expected an integer >= 0, got {v!r}", f"perturbation.{name}")

    @property
    def jitters(self) -> bool:
        return self.jitter_shift > 0 and self.jitter_spikes > 0

    def describe(self) -> str:
        """E.g. ``up to 1 bit flip`` / ``unperturbed``."""
        parts = []
        if self.deletions:
            parts.append(f"up to {self.deletions} spike deletion{'s' * (self.deletions != 1)}")
        if self.jitters:
            parts.append(f"up to {self.jitter_spikes} spike{'s' * (self.jitter_spikes != 1)} jittered "
                         f"by up to \u00b1{self.jitter_shift} step{'s' * (self.jitter_shift != 1)}")
        if self.flips:
            parts.append(f"up to {self.flips} bit flip{'s' * (self.flips != 1)}")
        return ", then ".join(parts) + " (each count uniform from 0)" if parts else "unperturbed"

    def to_json(self) -> dict:
        return {"flips": self.flips, "deletions": self.deletions, "jitter_shift": self.jitter_shift,
                "jitter_spikes": self.jitter_spikes}


def describe_distribution(data_name: str, perturbation: Perturbation, seed: int) -> str:
    """The sentence that states a sampling distribution, e.g.
    ``digits test inputs (uniform), then up to 1 bit flip (each count uniform from 0), seed 0``."""
    return f"{data_name} (uniform), then {perturbation.describe()}, seed {seed}"


def _random_subsets(mask: np.ndarray, counts: np.ndarray, k_max: int, rng: np.random.Generator) -> np.ndarray:
    """For each row of ``mask`` ``[B, P]``, ``k_max`` positions ``[B, k_max]`` in uniformly random
    order among the row's true entries (``-1`` past the row's ``counts[b]`` or its true entries):
    the first ``counts[b]`` form a uniformly random ``counts[b]``-subset."""
    B, P = mask.shape
    k = min(k_max, P)
    keys = rng.random((B, P), dtype=np.float32)
    keys[~mask] = 2.0
    idx = np.argpartition(keys, k - 1, axis=1)[:, :k] if k < P else np.broadcast_to(np.arange(P), (B, P)).copy()
    order = np.take_along_axis(keys, idx, axis=1).argsort(axis=1, kind="stable")
    idx = np.take_along_axis(idx, order, axis=1)
    valid = (np.take_along_axis(keys, idx, axis=1) < 2.0) & (np.arange(k)[None, :] < counts[:, None])
    out = np.full((B, k_max), -1, dtype=np.int64)
    out[:, :k] = np.where(valid, idx, -1)
    return out


def _perturb_block(x: np.ndarray, p: Perturbation, rng: np.random.Generator) -> np.ndarray:
    """Perturb a block ``[b, T, n]`` (int8, modified copy) as the module docstring says."""
    b, T, n = x.shape
    flat = x.reshape(b, T * n).copy()
    rows = np.arange(b)
    if p.deletions:
        pos = _random_subsets(flat == 1, rng.integers(0, p.deletions + 1, b), p.deletions, rng)
        for m in range(p.deletions):
            sel = pos[:, m] >= 0
            flat[rows[sel], pos[sel, m]] = 0
    if p.jitters:
        pos = _random_subsets(flat == 1, rng.integers(0, p.jitter_spikes + 1, b), p.jitter_spikes, rng)
        offsets = rng.integers(1, p.jitter_shift + 1, (b, p.jitter_spikes)) * rng.choice([-1, 1], (b, p.jitter_spikes))
        for m in range(p.jitter_spikes):  # one spike per row at a time: later moves see earlier ones
            src = pos[:, m]
            t = np.where(src >= 0, src // n, 0) + offsets[:, m]
            dst = t * n + np.where(src >= 0, src % n, 0)
            ok = (src >= 0) & (t >= 0) & (t < T)
            ok[ok] &= flat[rows[ok], dst[ok]] == 0
            flat[rows[ok], src[ok]] = 0
            flat[rows[ok], dst[ok]] = 1
    if p.flips:
        pos = _random_subsets(np.ones_like(flat, dtype=bool), rng.integers(0, p.flips + 1, b), p.flips, rng)
        for m in range(p.flips):
            sel = pos[:, m] >= 0
            flat[rows[sel], pos[sel, m]] ^= 1
    return flat.reshape(b, T, n)


def perturb(rasters: np.ndarray, perturbation: Perturbation, rng: np.random.Generator) -> np.ndarray:
    """Each raster of ``[B, T, n]`` perturbed once (steps 1-3 of the module docstring)."""
    x = np.asarray(rasters, dtype=np.int8)
    out = np.empty_like(x)
    for lo in range(0, len(x), _CHUNK):
        out[lo: lo + _CHUNK] = _perturb_block(x[lo: lo + _CHUNK], perturbation, rng)
    return out


def draw(model: Model, data: Any, size: int, perturbation: Perturbation, rng: np.random.Generator) -> np.ndarray:
    """``size`` rasters ``[size, T, n]`` (uint8 0/1, valid for ``model``) of the distribution
    "a uniformly chosen data raster, then perturbed"."""
    x, _ = check_raster(model, data)
    if len(x) == 0:
        raise InputError("no data rasters to draw around", "input")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 0:
        raise InputError(f"expected a number of draws >= 0, got {size!r}", "size")
    T, n = x.shape[1:]
    require_memory(3 * int(size) * T * n, f"drawing {int(size):,} rasters of {T}x{n}")  # the draws, perturbed, as uint8
    base = x[rng.integers(0, len(x), int(size))]
    return perturb(base, perturbation, rng).astype(np.uint8)


def network_decisions(model: Model, rasters: np.ndarray, batch: int = 16384) -> np.ndarray:
    """The network's decisions ``[B]`` (``-1``: no decision) on the reference simulator."""
    out = np.empty(len(rasters), dtype=np.int64)
    for lo in range(0, len(rasters), batch):
        out[lo: lo + batch] = simulate(model, rasters[lo: lo + batch]).prediction
    return out


@dataclass(frozen=True)
class ExtraQueries:
    """Rasters drawn for a leaf: ``rasters`` ``[m, T, n]`` that satisfy its path conditions,
    the network's ``labels`` for them, and ``tried``: how many draws it took."""

    rasters: np.ndarray
    labels: np.ndarray
    tried: int


def extra_queries(model: Model, seeds: np.ndarray, accept: Callable[[np.ndarray], np.ndarray], wanted: int,
                  perturbation: Perturbation, rng: np.random.Generator, max_tries: int = 20_000,
                  batch: int = 512) -> ExtraQueries:
    """Up to ``wanted`` rasters around ``seeds`` ``[m, T, n]`` (the draws of :func:`draw`
    with ``seeds`` as the data) for which ``accept(rasters) -> bool [B]`` holds (a leaf's
    path conditions), in at most ``max_tries`` draws; labelled by the network."""
    kept = []
    tried = have = 0
    while have < wanted and tried < max_tries:
        size = min(batch, max_tries - tried)
        cand = draw(model, seeds, size, perturbation, rng)
        tried += size
        ok = np.asarray(accept(cand), dtype=bool)
        if ok.any():
            kept.append(cand[ok][: wanted - have])
            have += len(kept[-1])
    T, n = model.time_steps, model.input.size
    rasters = np.concatenate(kept) if kept else np.zeros((0, T, n), dtype=np.uint8)
    labels = network_decisions(model, rasters) if len(rasters) else np.zeros(0, dtype=np.int64)
    return ExtraQueries(rasters, labels, tried)
