"""Readouts and decisions (docs/semantics.md "Readouts and decisions") and the bounded conditions
of docs/properties.md "Conditions" (plus the hardware conditions of docs/worst-case.md), each as
``violates(...) -> [B]`` flags over a batch of runs."""

from __future__ import annotations

import math
from decimal import ROUND_FLOOR, Decimal

import numpy as np

from .guard import NO_LIMITS, Limits
from .hardware import price
from .network import Network, Run

NO_DECISION = -1


def _best(scores: np.ndarray, ties: str, valid: np.ndarray | None = None) -> np.ndarray:
    """Per row of ``[B, n]`` scores the index of the highest; a tie is -1 under ``invalid``, the
    lowest tied index under ``lowest_index``; -1 where ``valid`` is False."""
    is_best = scores == scores.max(axis=1, keepdims=True)
    choice = np.argmax(is_best, axis=1).astype(np.int64)  # the first True: the lowest tied index
    if ties == "invalid":
        choice[is_best.sum(axis=1) > 1] = NO_DECISION
    if valid is not None:
        choice[~valid] = NO_DECISION
    return choice


def decision(net: Network, outputs: np.ndarray) -> np.ndarray:
    """The readout over the steps given: ``outputs`` [B, t, n_out] (spikes, or li membranes u)."""
    if outputs.ndim != 3 or outputs.shape[1] < 1 or outputs.shape[2] != net.n_out:
        raise ValueError(f"outputs of shape {list(outputs.shape)}; expected [B, t >= 1, {net.n_out}]")
    kind = net.readout_type
    if kind == "spike_count":
        return _best(outputs.sum(axis=1, dtype=np.int64), net.ties)
    if kind == "first_spike":
        fired = outputs.astype(bool)
        ever = fired.any(axis=1)  # [B, n]
        first = np.argmax(fired, axis=1)
        # earlier is better; a neuron that never fires does not compete (scores below every firing one)
        score = np.where(ever, -first, -(outputs.shape[1] + 1))
        return _best(score, net.ties, valid=ever.any(axis=1))
    if kind == "membrane_final":
        return _best(outputs[:, -1], net.ties)
    if kind == "membrane_max":
        return _best(outputs.max(axis=1), net.ties)
    raise ValueError(f"unknown readout {kind!r}")


def _steps(x, net: Network, what: str) -> int:
    if type(x) is not int or not 1 <= x <= net.T:
        raise ValueError(f"condition.{what}: expected a number of steps in [1, {net.T}], got {x!r}")
    return x


def count(x, what: str) -> int:
    """A condition's non-negative integer argument (ValueError naming it otherwise)."""
    if type(x) is not int or x < 0:
        raise ValueError(f"condition.{what}: expected a non-negative integer, got {x!r}")
    return x


def firing_neuron(net: Network, body) -> tuple[int, int]:
    """``never_fires``' ``[layer, neuron]``: a neuron of a layer that fires (ValueError otherwise)."""
    if not isinstance(body, list) or len(body) != 2:
        raise ValueError("condition.never_fires: expected [layer, neuron]")
    layer, neuron = count(body[0], "never_fires"), count(body[1], "never_fires")
    if layer >= len(net.layers) or not net.layers[layer].fires or neuron >= net.layers[layer].n_out:
        raise ValueError(f"condition.never_fires: no firing neuron {neuron} in layer {layer}")
    return layer, neuron


def budget_floor(amount, scale: int, what: str) -> int:
    """``floor(amount · scale)`` with ``amount`` read as the decimal written (its shortest repr)."""
    if isinstance(amount, bool) or not isinstance(amount, (int, float)) or \
            (isinstance(amount, float) and not math.isfinite(amount)) or amount < 0:
        raise ValueError(f"condition.{what}: expected a finite non-negative number, got {amount!r}")
    value = Decimal(amount) if isinstance(amount, int) else Decimal(repr(amount))
    return int((value * scale).to_integral_value(rounding=ROUND_FLOOR))


def _hardware_budget(body, unit: str, what: str):
    """``{unit: X, profile: P}`` or a bare ``X``: the amount (the profile comes as a document)."""
    if isinstance(body, dict):
        if unit not in body or not set(body) <= {unit, "profile"}:
            raise ValueError(f"condition.{what}: expected {{{unit}: X, profile: P}}")
        return body[unit]
    return body


def violates(net: Network, condition, result: Run, reference: int | None, profile_doc: dict | None = None,
             limits: Limits = NO_LIMITS) -> np.ndarray:
    """``[B]`` flags: which runs violate the condition document (docs/properties.md "Conditions")."""
    if condition == "robust":
        pred = decision(net, result.outputs)
        return (pred < 0) | (pred != (NO_DECISION if reference is None else reference))
    if condition == "no_overflow":
        return result.overflow.copy()
    if not isinstance(condition, dict) or len(condition) != 1:
        raise ValueError(f"condition: not a bounded condition the kernel knows: {condition!r}")
    (key, body), = condition.items()
    last = net.layers[-1]
    if key == "decided_by":
        k = _steps(body, net, key)
        early = decision(net, result.outputs[:, :k])
        return (early < 0) | (early != decision(net, result.outputs))
    if key == "first_spike_by":
        k = _steps(body, net, key)
        if not last.fires:
            raise ValueError("condition.first_spike_by: the output layer never fires ('li')")
        return ~result.outputs[:, :k].astype(bool).any(axis=(1, 2))
    if key == "spikes_at_most":
        return result.total_spikes > count(body, key)
    if key == "synops_at_most":
        return result.synops > count(body, key)
    if key == "never_fires":
        layer, neuron = firing_neuron(net, body)
        return result.layer_spikes[layer][:, :, neuron].astype(bool).any(axis=1)
    if key in ("latency_us_at_most", "energy_uj_at_most"):
        if profile_doc is None:
            raise ValueError(f"condition.{key}: needs the hardware profile document")
        costs = price(net, result, profile_doc, limits)
        if key == "latency_us_at_most":
            limit = budget_floor(_hardware_budget(body, "us", key), 10**6, key)
            return np.array([ps > limit for ps in costs.latency_ps], dtype=bool)
        limit = budget_floor(_hardware_budget(body, "uj", key), 10**9, key)
        return np.array([fj > limit for fj in costs.energy_fj], dtype=bool)
    raise ValueError(f"condition: not a bounded condition the kernel knows: {key!r}")
