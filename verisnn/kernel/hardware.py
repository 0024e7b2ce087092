"""The kernel's own hardware cost model (docs/hardware.md): events of one inference, the default
placement, and exact costs in fJ / ps from a hardware profile *document* (as certificates record it).
Every figure is read as the decimal written and scaled by 1000 to an exact integer."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from .guard import NO_LIMITS, Limits
from .network import Network, Run, run

ENERGY_EVENTS = ("synop", "neuron_active", "neuron_inactive", "spike")
TIME_EVENTS = ("synop", "neuron_active", "neuron_inactive")
MAX_FIGURE = 10**9
INT64_SAFE = 1 << 62


def milli(x, what: str) -> int:
    """A non-negative figure with at most 3 decimals, x 1000 as an exact integer (pJ -> fJ, ns -> ps)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)) or (isinstance(x, float) and not math.isfinite(x)):
        raise ValueError(f"{what}: expected a non-negative number, got {x!r}")
    value = Decimal(x) if isinstance(x, int) else Decimal(repr(x))  # the shortest repr: the decimal written
    if not 0 <= value <= MAX_FIGURE or (value * 1000) % 1:
        raise ValueError(f"{what}: {x!r} is not a figure in [0, 10^9] with at most 3 decimals")
    return int(value * 1000)


def _count(x, what: str) -> int:
    if type(x) is not int or x < 1:
        raise ValueError(f"{what}: expected an integer >= 1, got {x!r}")
    return x


@dataclass
class Profile:
    name: str
    energy_fj: dict
    time_ps: dict | None
    sync_ps: list | None  # [(cores, ps)], cores increasing strictly
    step_ps: int | None
    neurons_per_core: int
    cores_per_chip: int

    def sync(self, cores: int) -> int:
        """The barrier for ``cores`` cores in use: linear between points, flat beyond the ends, rounded up."""
        if self.sync_ps is None:
            return 0
        points = self.sync_ps
        if cores <= points[0][0]:
            return points[0][1]
        for (c0, s0), (c1, s1) in zip(points, points[1:]):
            if cores <= c1:  # s0 + (s1 - s0)(cores - c0) / (c1 - c0), the division rounded up in integers
                return s0 - (-(s1 - s0) * (cores - c0) // (c1 - c0))
        return points[-1][1]


def read_profile(doc: dict) -> Profile:
    """A :class:`Profile` from a profile document (docs/hardware.md "Profile files")."""
    if not isinstance(doc, dict) or not isinstance(doc.get("name"), str):
        raise ValueError("profile: expected a profile document with a name")

    def figures(key, events):
        part = doc.get(key)
        if not isinstance(part, dict) or set(part) != set(events):
            raise ValueError(f"profile.{key}: expected exactly the figures {', '.join(events)}")
        return {e: milli(part[e], f"profile.{key}.{e}") for e in events}

    time_ps = figures("time_ns", TIME_EVENTS) if doc.get("time_ns") is not None else None
    step_ps = milli(doc["step_ns"], "profile.step_ns") if doc.get("step_ns") is not None else None
    sync = doc.get("sync_ns")
    if step_ps is None and (time_ps is None or sync is None):
        raise ValueError("profile: needs time_ns and sync_ns, or step_ns")
    if step_ps is not None and sync is not None:
        raise ValueError("profile: sync_ns and step_ns exclude each other")
    points = None
    if sync is not None:
        if not isinstance(sync, list) or not sync or not all(isinstance(p, list) and len(p) == 2 for p in sync):
            raise ValueError("profile.sync_ns: expected a non-empty list of [cores, ns] pairs")
        points = [(_count(c, "profile.sync_ns cores"), milli(ns, "profile.sync_ns ns")) for c, ns in sync]
        if any(a[0] >= b[0] for a, b in zip(points, points[1:])):
            raise ValueError("profile.sync_ns: cores must increase strictly")
    return Profile(name=doc["name"], energy_fj=figures("energy_pj", ENERGY_EVENTS), time_ps=time_ps, sync_ps=points,
                   step_ps=step_ps, neurons_per_core=_count(doc.get("neurons_per_core"), "profile.neurons_per_core"),
                   cores_per_chip=_count(doc.get("cores_per_chip"), "profile.cores_per_chip"))


def default_cores(net: Network, profile: Profile) -> list[np.ndarray]:
    """Default placement: layer by layer, each from a fresh core, ``neurons_per_core`` per core."""
    cores, start = [], 0
    for layer in net.layers:
        cores.append(start + np.arange(layer.n_out, dtype=np.int64) // profile.neurons_per_core)
        start += -(-layer.n_out // profile.neurons_per_core)
    if start > profile.cores_per_chip:
        raise ValueError(f"the model needs {start} cores, more than the profile's {profile.cores_per_chip}")
    return cores


def _later(x: np.ndarray, d: int) -> np.ndarray:
    """``[B, T, n]`` shifted ``d`` steps later (what arrives at step t was sent at t - d)."""
    out = np.zeros_like(x)
    if d < x.shape[1]:
        out[:, d:] = x[:, : x.shape[1] - d]
    return out


@dataclass
class Costs:
    """Exact costs of a batch of runs (Python ints or int64): per raster ``energy_fj``, ``latency_ps``;
    per layer [B, L] ``synops``, ``active``, ``inactive``, ``spikes``, ``energy_fj_layer``; per core in use
    [B, C] ``core_synops``, ``core_active``, ``core_busy_ps`` (None without per-event times)."""

    energy_fj: list
    latency_ps: list
    synops: np.ndarray
    active: np.ndarray
    inactive: np.ndarray
    spikes: np.ndarray
    energy_fj_layer: list
    core_neurons: np.ndarray
    core_layer: list
    core_synops: np.ndarray
    core_active: np.ndarray
    core_busy_ps: np.ndarray | None


def price(net: Network, result: Run, profile_doc: dict, limits: Limits = NO_LIMITS) -> Costs:
    """Events and costs of the runs in ``result`` (docs/hardware.md "Events" and "Costs"),
    under the default placement."""
    profile = read_profile(profile_doc)
    cores = default_cores(net, profile)
    C, B, T, L = int(cores[-1][-1]) + 1, result.rasters.shape[0], net.T, len(net.layers)
    limits.need(B * T * (8 * C * 3 + 16 * max(layer.n_out for layer in net.layers)), "counting hardware events")
    core_syn, core_act = np.zeros((B, T, C), dtype=np.int64), np.zeros((B, T, C), dtype=np.int64)
    core_neurons, core_layer = np.zeros(C, dtype=np.int64), [0] * C
    synops, active, spikes = (np.zeros((B, L), dtype=np.int64) for _ in range(3))
    x = result.rasters
    for k, (layer, own) in enumerate(zip(net.layers, result.layer_spikes)):
        limits.tick()
        # synops into neuron j at step t: delivered spikes i with W[j, i] != 0, plus own spikes of t-1 with R[j, i] != 0
        # (0/1 products: counts at most n_in + n_out, exact in float64)
        arrivals = _later(x, layer.delay).astype(np.float64) @ (layer.W != 0).T.astype(np.float64)
        if layer.R is not None and layer.fires:
            arrivals += _later(own, 1).astype(np.float64) @ (layer.R != 0).T.astype(np.float64)
        arrivals = arrivals.astype(np.int64)
        synops[:, k] = arrivals.sum(axis=(1, 2))
        active[:, k] = (arrivals > 0).sum(axis=(1, 2))
        spikes[:, k] = own.sum(axis=(1, 2), dtype=np.int64) if layer.fires else 0
        for c in np.unique(cores[k]):  # synops and updates charged to the core of the target neuron
            mine = cores[k] == c
            core_syn[:, :, c] += arrivals[:, :, mine].sum(axis=2)
            core_act[:, :, c] += (arrivals[:, :, mine] > 0).sum(axis=2)
            core_neurons[c] += int(mine.sum())
            core_layer[c] = k
        x = own
    if not np.array_equal(synops.sum(axis=1), result.synops):  # the kernel's two counts of one quantity
        raise RuntimeError("the kernel's hardware synops differ from its simulation's: a defect in the kernel")
    inactive = T * np.array([layer.n_out for layer in net.layers], dtype=np.int64) - active
    e = profile.energy_fj
    energy_layer = [[int(synops[b, k]) * e["synop"] + int(active[b, k]) * e["neuron_active"]
                     + int(inactive[b, k]) * e["neuron_inactive"] + int(spikes[b, k]) * e["spike"] for k in range(L)]
                    for b in range(B)]
    busy_total = None
    if profile.time_ps is not None:
        t = profile.time_ps
        # int64 is exact when even the busiest possible step, T times, stays below 2^62; else Python ints
        fan_in = np.zeros(C, dtype=object)
        for k, layer in enumerate(net.layers):
            per_neuron = np.count_nonzero(layer.W, axis=1) + (0 if layer.R is None else np.count_nonzero(layer.R, 1))
            np.add.at(fan_in, cores[k], per_neuron.astype(object))
        worst = max(int(f) * t["synop"] + int(n) * max(t["neuron_active"], t["neuron_inactive"])
                    for f, n in zip(fan_in, core_neurons))
        dtype = np.int64 if T * (worst + profile.sync(C)) < INT64_SAFE else object
        busy = (core_syn.astype(dtype) * t["synop"] + core_act.astype(dtype) * t["neuron_active"]
                + (core_neurons - core_act).astype(dtype) * t["neuron_inactive"])  # [B, T, C] ps
        busy_total = busy.sum(axis=1)
    if profile.step_ps is not None:
        latency = [T * profile.step_ps] * B
    else:
        latency = [int(v) for v in (busy.max(axis=2) + profile.sync(C)).sum(axis=1)]
    return Costs(energy_fj=[sum(row) for row in energy_layer], latency_ps=latency, synops=synops, active=active,
                 inactive=inactive, spikes=spikes, energy_fj_layer=energy_layer, core_neurons=core_neurons,
                 core_layer=core_layer, core_synops=core_syn.sum(axis=1), core_active=core_act.sum(axis=1),
                 core_busy_ps=busy_total)


def costs(net: Network, rasters, profile_doc: dict, limits: Limits = NO_LIMITS) -> list[dict]:
    """Per raster, the JSON of ``verisnn cost --json`` for one raster (docs/hardware.md)."""
    result = run(net, rasters, limits)
    c = price(net, result, profile_doc, limits)
    T = net.T
    answers = []
    for b in range(result.rasters.shape[0]):
        per_layer = [{"layer": k, "spikes": int(c.spikes[b, k]), "synops": int(c.synops[b, k]),
                      "active_updates": int(c.active[b, k]), "inactive_updates": int(c.inactive[b, k]),
                      "energy_uj": c.energy_fj_layer[b][k] / 10**9} for k in range(len(net.layers))]
        per_core = [{"core": core, "layer": c.core_layer[core], "neurons": int(c.core_neurons[core]),
                     "synops": int(c.core_synops[b, core]), "active_updates": int(c.core_active[b, core]),
                     "inactive_updates": int(T * c.core_neurons[core] - c.core_active[b, core]),
                     "busy_us": None if c.core_busy_ps is None else int(c.core_busy_ps[b, core]) / 10**6}
                    for core in range(len(c.core_neurons))]
        answers.append({"steps": T, "latency_us": c.latency_ps[b] / 10**6, "energy_uj": c.energy_fj[b] / 10**9,
                        "spikes": int(c.spikes[b].sum()), "synops": int(c.synops[b].sum()),
                        "profile": profile_doc["name"], "per_layer": per_layer, "per_core": per_core})
    return answers


def cost_json(net: Network, raster, profile_doc: dict, limits: Limits = NO_LIMITS) -> dict:
    """``verisnn cost --json`` of one raster ``[T, n]``."""
    if np.ndim(raster) != 2:
        raise ValueError("cost_json takes one raster [T, n]")
    return costs(net, raster, profile_doc, limits)[0]
