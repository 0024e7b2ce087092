"""Readouts: how the output layer's activity over ``T`` steps becomes a decision.

``spike_count``: the output neuron with the most spikes; ``first_spike``: the one
that fires earliest (no spike at all: no decision); ``membrane_final`` /
``membrane_max``: the ``li`` neuron with the largest final / peak membrane.
A tie is no decision (``None``) under ``ties: invalid`` and the lowest tied
index under ``ties: lowest_index``.
"""

from __future__ import annotations

import numpy as np

from .model import Readout

NO_SPIKE = -1  # first-spike time of a neuron that never fired


def spike_counts(spikes: np.ndarray) -> np.ndarray:
    """``[T, B, n]`` spikes -> ``[B, n]`` counts."""
    return spikes.sum(axis=0, dtype=np.int64)


def first_spike_times(spikes: np.ndarray) -> np.ndarray:
    """``[T, B, n]`` spikes -> ``[B, n]`` earliest step with a spike, or ``NO_SPIKE``."""
    fired = spikes.astype(bool)
    first = fired.argmax(axis=0).astype(np.int64)
    first[~fired.any(axis=0)] = NO_SPIKE
    return first


def _argmax_with_ties(scores: np.ndarray, ties: str, valid: np.ndarray | None = None) -> np.ndarray:
    """Row-wise argmax of ``[B, n]`` scores; ``-1`` for no decision."""
    best = scores.max(axis=1, keepdims=True)
    is_best = scores == best
    pred = is_best.argmax(axis=1).astype(np.int64)
    if ties == "invalid":
        pred[is_best.sum(axis=1) > 1] = -1
    if valid is not None:
        pred[~valid] = -1
    return pred


def decide(readout: Readout, outputs: np.ndarray) -> np.ndarray:
    """Decisions for a batch: ``outputs`` is the output layer's ``[T, B, n]`` spikes
    (or membranes for ``membrane_*``); returns ``[B]`` class indices, ``-1`` for none."""
    if readout.type == "spike_count":
        return _argmax_with_ties(spike_counts(outputs), readout.ties)
    if readout.type == "first_spike":
        first = first_spike_times(outputs)
        T = outputs.shape[0]
        score = np.where(first == NO_SPIKE, -1, T - first)  # earlier is larger
        return _argmax_with_ties(score, readout.ties, valid=(first != NO_SPIKE).any(axis=1))
    if readout.type == "membrane_final":
        return _argmax_with_ties(outputs[-1], readout.ties)
    if readout.type == "membrane_max":
        return _argmax_with_ties(outputs.max(axis=0), readout.ties)
    raise ValueError(f"unknown readout {readout.type!r}")  # unreachable: Readout validates
