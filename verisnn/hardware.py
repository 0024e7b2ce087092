"""A parametric neuromorphic hardware cost model fed by the reference simulator's events.

A :class:`HardwareProfile` (``verisnn/profiles/*.yaml``, or any user YAML file) gives the
energy and time of each event of a per-event hardware model, with its source. A
:class:`Placement` puts every neuron on a core. :func:`cost` counts the events of one
inference (or of each input of a batch) from :func:`verisnn.simulator.simulate`'s spikes and
prices them: energy as a sum over events, latency as, per step, the busiest core's work plus
the barrier synchronisation. ``docs/hardware.md`` states the definitions; in short, for layer
``k`` with feed-forward weights ``W``, recurrent weights ``R`` and delay ``d``::

    synops_j(t) = #{i : W[j,i] != 0, x_k[t-d][i] = 1} + #{i : R[j,i] != 0, s_k[t-1][i] = 1}
    an update of neuron j at step t is active iff synops_j(t) >= 1, else inactive
    busy_c(t)   = synops_c(t)*time.synop + active_c(t)*time.neuron_active + inactive_c(t)*time.neuron_inactive
    step(t)     = max_c busy_c(t) + sync(cores in use)         (or the profile's fixed step_ns)
    latency     = sum_t step(t);   energy = synops*e.synop + active*e.neuron_active
                                           + inactive*e.neuron_inactive + spikes*e.spike

All arithmetic is exact: figures have at most 3 decimals, so they are integers in fJ and ps
(the figure x 1000), and every count and total is an integer; floats appear only in the
final conversion to µJ and µs. Solver encodings use the same integers
(:attr:`HardwareProfile.energy_fj`, :attr:`HardwareProfile.time_ps`,
:meth:`HardwareProfile.sync_ps`, :attr:`HardwareProfile.step_ps`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping, Sequence

import numpy as np

from .documents import parse_json, parse_yaml, read_bounded
from .errors import InputError
from .model import Model
from .simulator import ExactMatrix, check_raster, count_spikes, simulate

ENERGY_EVENTS = ("synop", "neuron_active", "neuron_inactive", "spike")
TIME_EVENTS = ("synop", "neuron_active", "neuron_inactive")
FIGURE_KINDS = ("simulation", "measurement", "whole-chip average", "user")
MAX_FIGURE = 10**9  # pJ or ns per event (1 mJ, 1 s): far beyond any chip, keeps every integer modest
MAX_CORES = 1 << 24  # per chip, and neurons per core
MAX_PROFILE_BYTES = 1 << 20
MAX_PLACEMENT_BYTES = 1 << 30
_PROFILE_KEYS = ("name", "description", "source", "figures", "energy_pj", "time_ns", "sync_ns", "step_ns",
                 "neurons_per_core", "cores_per_chip", "notes")
_REQUIRED_KEYS = ("name", "source", "figures", "energy_pj", "neurons_per_core", "cores_per_chip")
_INT64_SAFE = 1 << 62
_CHUNK_ELEMENTS = 1 << 22  # per-neuron event arrays of one batch chunk: [b, T, n] elements at most


# ----------------------------------------------------------------------------- profiles


def _figure(x: Any, path: str) -> int:
    """A non-negative figure with at most 3 decimals, as an exact integer x 1000 (fJ or ps)."""
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise InputError(f"expected a non-negative number, got {x!r}", path)
    if isinstance(x, (float, np.floating)) and not math.isfinite(x):
        raise InputError(f"expected a non-negative number, got {x!r}", path)
    # The shortest repr of a float is the decimal the author wrote: 23.6 -> Decimal('23.6').
    value = Decimal(int(x)) if isinstance(x, (int, np.integer)) else Decimal(repr(float(x)))
    if value < 0:
        raise InputError(f"expected a non-negative number, got {x!r}", path)
    if value > MAX_FIGURE:
        raise InputError(f"{x!r} is larger than {MAX_FIGURE:,}, beyond any hardware figure", path)
    milli = value * 1000
    if milli != milli.to_integral_value():
        raise InputError(f"{x!r} has more than 3 decimals; figures are exact to 0.001 (1 fJ, 1 ps)", path)
    return int(milli)


def _figures(doc: Any, events: Sequence[str], path: str) -> tuple[MappingProxyType, MappingProxyType]:
    """A mapping of one figure per event: (the figures as given, the figures x 1000 as ints)."""
    if not isinstance(doc, Mapping):
        raise InputError(f"expected an object with {', '.join(events)}, got {doc!r}", path)
    for key in doc:
        if key not in events:
            raise InputError(f"unknown key {key!r} (expected {', '.join(events)})", path)
    for key in events:
        if key not in doc:
            raise InputError("missing", f"{path}.{key}")
    exact = {key: _figure(doc[key], f"{path}.{key}") for key in events}
    given = {key: doc[key] for key in events}
    return MappingProxyType(given), MappingProxyType(exact)


def _count(x: Any, path: str, minimum: int = 1, maximum: int = MAX_CORES) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
        raise InputError(f"expected an integer >= {minimum}, got {x!r}", path)
    if not minimum <= x <= maximum:
        raise InputError(f"{x} outside [{minimum}, {maximum}]", path)
    return int(x)


def _text(x: Any, path: str, required: bool, max_len: int = 10_000) -> str:
    if x is None and not required:
        return ""
    if not isinstance(x, str) or (required and not x.strip()):
        raise InputError(f"expected {'a non-empty' if required else 'a'} string, got {x!r}", path)
    if len(x) > max_len:
        raise InputError(f"longer than {max_len} characters", path)
    return x


def _sync_points(x: Any, path: str) -> tuple[tuple, tuple[tuple[int, int], ...]]:
    """``[[cores, ns], ...]`` with cores strictly increasing: (as given, with ns as ps ints)."""
    if not isinstance(x, (list, tuple)) or not x:
        raise InputError(f"expected a non-empty list of [cores, ns] pairs, got {x!r}", path)
    given, exact = [], []
    for k, pair in enumerate(x):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise InputError(f"expected a pair [cores, ns], got {pair!r}", f"{path}[{k}]")
        cores = _count(pair[0], f"{path}[{k}][0]")
        if exact and cores <= exact[-1][0]:
            raise InputError(f"cores must increase strictly along the list ({exact[-1][0]} then {cores})",
                             f"{path}[{k}][0]")
        exact.append((cores, _figure(pair[1], f"{path}[{k}][1]")))
        given.append((cores, pair[1]))
    return tuple(given), tuple(exact)


@dataclass(frozen=True)
class HardwareProfile:
    """The per-event figures of one neuromorphic chip, validated at construction.

    ``energy_pj``: pJ per ``synop``, ``neuron_active`` / ``neuron_inactive`` update and
    ``spike``; ``time_ns``: ns per ``synop``, ``neuron_active``, ``neuron_inactive`` on one
    core; ``sync_ns``: the barrier per step as ``[[cores, ns], ...]``, piecewise linear in
    the cores in use and flat beyond the ends; ``step_ns``: instead of per-event times and
    sync, a fixed time per step (a tick). ``figures`` says what the numbers are
    (``simulation``, ``measurement``, ``whole-chip average``, ``user``); ``source`` where they
    come from; ``notes`` which figure is a bound or an assumption.

    The exact forms, figure x 1000 as Python ints, are :attr:`energy_fj`, :attr:`time_ps`
    (``None`` without ``time_ns``), :attr:`sync_points_ps` and :attr:`step_ps`.
    """

    name: str
    source: str
    figures: str
    energy_pj: Mapping[str, float]
    neurons_per_core: int
    cores_per_chip: int
    time_ns: Mapping[str, float] | None = None
    sync_ns: Sequence | None = None
    step_ns: float | None = None
    description: str = ""
    notes: str = ""
    energy_fj: Mapping[str, int] = field(init=False, repr=False, compare=False)
    time_ps: Mapping[str, int] | None = field(init=False, repr=False, compare=False)
    sync_points_ps: tuple[tuple[int, int], ...] | None = field(init=False, repr=False, compare=False)
    step_ps: int | None = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731 - frozen dataclass
        p = "profile"
        name = _text(self.name, f"{p}.name", required=True, max_len=100)
        if any(not ch.isprintable() for ch in name):
            raise InputError(f"{name!r} holds unprintable characters", f"{p}.name")
        set_("source", _text(self.source, f"{p}.source", required=True))
        set_("description", _text(self.description, f"{p}.description", required=False))
        set_("notes", _text(self.notes, f"{p}.notes", required=False))
        if self.figures not in FIGURE_KINDS:
            raise InputError(f"{self.figures!r} is not one of {', '.join(map(repr, FIGURE_KINDS))}", f"{p}.figures")
        given, exact = _figures(self.energy_pj, ENERGY_EVENTS, f"{p}.energy_pj")
        set_("energy_pj", given)
        set_("energy_fj", exact)
        set_("neurons_per_core", _count(self.neurons_per_core, f"{p}.neurons_per_core"))
        set_("cores_per_chip", _count(self.cores_per_chip, f"{p}.cores_per_chip"))
        if self.time_ns is None:
            set_("time_ps", None)
        else:
            given, exact = _figures(self.time_ns, TIME_EVENTS, f"{p}.time_ns")
            set_("time_ns", given)
            set_("time_ps", exact)
        if self.step_ns is None:
            set_("step_ps", None)
            if self.time_ns is None:
                raise InputError("missing (per-event times are needed unless step_ns gives a fixed time per step)",
                                 f"{p}.time_ns")
            if self.sync_ns is None:
                raise InputError("missing (the barrier time per step is needed unless step_ns gives a fixed "
                                 "time per step; write [[1, 0]] for none)", f"{p}.sync_ns")
        else:
            set_("step_ps", _figure(self.step_ns, f"{p}.step_ns"))
            if self.sync_ns is not None:
                raise InputError("not used together with step_ns (a fixed time per step already contains the "
                                 "synchronisation): give one of them", f"{p}.sync_ns")
        if self.sync_ns is None:
            set_("sync_points_ps", None)
        else:
            given, exact = _sync_points(self.sync_ns, f"{p}.sync_ns")
            set_("sync_ns", given)
            set_("sync_points_ps", exact)

    def sync_ps(self, cores: int) -> int:
        """The barrier time in ps for ``cores`` cores in use: linear between the profile's
        points, flat beyond the ends, rounded up to a whole ps (0 with ``step_ns``)."""
        if self.sync_points_ps is None:
            return 0
        points = self.sync_points_ps
        if cores <= points[0][0]:
            return points[0][1]
        for (c0, s0), (c1, s1) in zip(points, points[1:]):
            if cores <= c1:
                return math.ceil(s0 + Fraction((s1 - s0) * (cores - c0), c1 - c0))
        return points[-1][1]

    def to_dict(self) -> dict:
        """The profile as a YAML/JSON document (the figures as given)."""
        doc = {"name": self.name, "description": self.description, "source": self.source, "figures": self.figures,
               "energy_pj": dict(self.energy_pj)}
        if self.time_ns is not None:
            doc["time_ns"] = dict(self.time_ns)
        if self.sync_ns is not None:
            doc["sync_ns"] = [list(p) for p in self.sync_ns]
        if self.step_ns is not None:
            doc["step_ns"] = self.step_ns
        doc.update(neurons_per_core=self.neurons_per_core, cores_per_chip=self.cores_per_chip, notes=self.notes)
        return doc


def profile_from_dict(doc: Any) -> HardwareProfile:
    """A :class:`HardwareProfile` from a parsed YAML/JSON document; unknown keys are refused."""
    if not isinstance(doc, dict):
        raise InputError(f"a profile is an object (name, source, figures, energy_pj, ...), got {type(doc).__name__}",
                         "profile")
    for key in doc:
        if key not in _PROFILE_KEYS:
            raise InputError(f"unknown key {key!r} (expected {', '.join(_PROFILE_KEYS)})", "profile")
    for key in _REQUIRED_KEYS:
        if key not in doc:
            raise InputError("missing", f"profile.{key}")
    return HardwareProfile(**doc)


def list_profiles() -> list[str]:
    """Names of the built-in profiles (``verisnn/profiles/*.yaml``)."""
    return sorted(Path(entry.name).stem for entry in resources.files("verisnn.profiles").iterdir()
                  if entry.name.endswith(".yaml"))


def _parse_profile(data: bytes) -> HardwareProfile:
    return profile_from_dict(parse_yaml(data, "profile", InputError))  # strict: no tags, aliases or duplicate keys


@lru_cache(maxsize=None)
def _builtin(name: str) -> HardwareProfile:
    return _parse_profile((resources.files("verisnn.profiles") / f"{name}.yaml").read_bytes())


def load_profile(name_or_path: str | Path | HardwareProfile) -> HardwareProfile:
    """A built-in profile by name (:func:`list_profiles`; a built-in name wins over a file of
    that name), or a profile YAML file by path."""
    if isinstance(name_or_path, HardwareProfile):
        return name_or_path
    if not isinstance(name_or_path, (str, Path)):
        raise InputError(f"expected a profile name or a path, got {type(name_or_path).__name__}", "profile")
    if isinstance(name_or_path, str) and name_or_path in list_profiles():
        return _builtin(name_or_path)
    p = Path(name_or_path)
    if not p.exists():
        if isinstance(name_or_path, str) and "/" not in name_or_path and p.suffix.lower() not in (".yaml", ".yml"):
            raise InputError(f"unknown profile {name_or_path!r}; built-in profiles: {', '.join(list_profiles())} "
                             "(or give the path of a profile YAML file)", "profile")
        raise InputError(f"no such profile file: {name_or_path}", "profile")
    if not p.is_file():
        raise InputError(f"not a file: {name_or_path}", "profile")
    data = _read_bounded(p, MAX_PROFILE_BYTES, "profile")
    try:
        return _parse_profile(data)
    except InputError as e:
        raise InputError(e.message, f"{p.name}: {e.path}" if e.path else p.name) from None


def _read_bounded(path: Path, max_bytes: int, what: str) -> bytes:
    return read_bounded(path, max_bytes, InputError, what)


# ----------------------------------------------------------------------------- placement


@dataclass(frozen=True, eq=False)
class Placement:
    """Which core each neuron runs on: ``cores[k][j]`` is the core of neuron ``j`` of layer
    ``k`` (read-only int64 arrays). Build one with :func:`place`, which validates it."""

    cores: tuple[np.ndarray, ...]

    @property
    def cores_in_use(self) -> tuple[int, ...]:
        """The distinct cores holding at least one neuron, in increasing order."""
        return tuple(int(c) for c in np.unique(np.concatenate(self.cores)))

    @property
    def num_cores(self) -> int:
        return len(self.cores_in_use)

    def to_json(self) -> dict:
        """``{"cores_in_use": n, "layers": [[core per neuron], ...]}``: also what :func:`place`
        (and ``verisnn cost --placement``) accepts as an override."""
        return {"cores_in_use": self.num_cores, "layers": [c.tolist() for c in self.cores]}


def _default_cores(model: Model, profile: HardwareProfile) -> list[np.ndarray]:
    """Layer by layer, each layer from a fresh core, ``neurons_per_core`` neurons per core."""
    per_core, start, cores = profile.neurons_per_core, 0, []
    for layer in model.layers:
        cores.append(start + np.arange(layer.out_size, dtype=np.int64) // per_core)
        start += -(-layer.out_size // per_core)
    if start > profile.cores_per_chip:
        raise InputError(f"the model needs {start} cores of {per_core} neurons (each layer from a fresh core), more "
                         f"than the profile's cores_per_chip {profile.cores_per_chip}: multi-chip systems are not "
                         f"modelled", "placement")
    return cores


def _override_cores(model: Model, profile: HardwareProfile, override: Any) -> list[np.ndarray]:
    """The cores of a user placement: per layer one core, or one core per neuron."""
    if isinstance(override, Placement):
        override = [c.tolist() for c in override.cores]
    claimed = None
    if isinstance(override, dict):
        unknown = set(override) - {"layers", "cores_in_use"}
        if unknown or "layers" not in override:
            raise InputError("expected a list with one entry per layer, or an object {\"layers\": [...]}"
                             + (f"; unknown key {sorted(unknown)[0]!r}" if unknown else ""), "placement")
        claimed, override = override.get("cores_in_use"), override["layers"]
    if not isinstance(override, (list, tuple)):
        raise InputError(f"expected a list with one entry per layer, got {type(override).__name__}", "placement")
    if len(override) != len(model.layers):
        raise InputError(f"has {len(override)} entries, the model has {len(model.layers)} layers", "placement")
    cores = []
    for k, (entry, layer) in enumerate(zip(override, model.layers)):
        path = f"placement.layers[{k}]"
        if isinstance(entry, (list, tuple, np.ndarray)):
            if len(entry) != layer.out_size:
                raise InputError(f"has {len(entry)} cores, the layer has {layer.out_size} neurons "
                                 "(give one core per neuron, or a single core for the layer)", path)
            cores.append(np.array([_core(c, profile, f"{path}[{j}]") for j, c in enumerate(entry)], dtype=np.int64)
                         .reshape(-1))
        else:
            cores.append(np.full(layer.out_size, _core(entry, profile, path), dtype=np.int64))
    in_use = len(np.unique(np.concatenate(cores)))
    if claimed is not None and claimed != in_use:
        raise InputError(f"says {claimed!r}, the layers use {in_use} cores", "placement.cores_in_use")
    return cores


def _core(x: Any, profile: HardwareProfile, path: str) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
        raise InputError(f"expected a core index (an integer), got {x!r}", path)
    if not 0 <= x < profile.cores_per_chip:
        raise InputError(f"core {x} outside [0, {profile.cores_per_chip - 1}] (the profile's cores_per_chip is "
                         f"{profile.cores_per_chip}; multi-chip systems are not modelled)", path)
    return int(x)


def _check_capacity(cores: Sequence[np.ndarray], profile: HardwareProfile) -> None:
    ids, counts = np.unique(np.concatenate(cores), return_counts=True)
    over = np.flatnonzero(counts > profile.neurons_per_core)
    if over.size:
        c = over[0]
        raise InputError(f"core {ids[c]} holds {counts[c]} neurons, more than the profile's neurons_per_core "
                         f"{profile.neurons_per_core}", "placement")
    if ids.size > profile.cores_per_chip or (ids.size and (ids[0] < 0 or ids[-1] >= profile.cores_per_chip)):
        raise InputError(f"uses cores outside [0, {profile.cores_per_chip - 1}]: multi-chip systems are not modelled",
                         "placement")


def place(model: Model, profile: str | Path | HardwareProfile, override: Any = None) -> Placement:
    """The placement of ``model``'s neurons on ``profile``'s cores.

    Default: layer by layer, each layer from a fresh core, filling cores of
    ``neurons_per_core`` neurons in neuron order. ``override``: a list with one entry per
    layer, either a single core index (the whole layer) or a list of core indices, one per
    neuron (or ``{"layers": that list}``, or a :class:`Placement`). Cores are indices in
    ``[0, cores_per_chip)``; no core may hold more than ``neurons_per_core`` neurons.
    Synops are charged to the core of their target neuron.
    """
    profile = load_profile(profile)
    cores = _default_cores(model, profile) if override is None else _override_cores(model, profile, override)
    _check_capacity(cores, profile)
    for c in cores:
        c.setflags(write=False)
    return Placement(cores=tuple(cores))


def load_placement(path: str | Path) -> Any:
    """The override document of a placement JSON file (validated by :func:`place`)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"no such file: {path}" if not p.exists() else f"not a file: {path}", "placement")
    data = _read_bounded(p, MAX_PLACEMENT_BYTES, "placement")
    try:
        return parse_json(data, "placement", InputError)
    except InputError as e:
        raise InputError(e.message, p.name) from None


# ----------------------------------------------------------------------------- events and costs


@dataclass(frozen=True)
class _LayerSynapses:
    """The non-zero synapses of one layer as exact 0/1 matrix products."""

    feed: ExactMatrix  # [out][in] != 0
    recurrent: ExactMatrix | None  # [out][out] != 0
    fan_in: np.ndarray  # per neuron: the most synops it can receive in one step


@lru_cache(maxsize=16)
def _synapses(model: Model) -> tuple[_LayerSynapses, ...]:
    out = []
    for layer in model.layers:
        feed = (layer.dense_weight() != 0).astype(np.int64)
        rec = None if layer.recurrent is None else (layer.recurrent != 0).astype(np.int64)
        fan_in = feed.sum(axis=1) + (0 if rec is None else rec.sum(axis=1))
        dtype = np.int32 if fan_in.max(initial=0) < (1 << 31) else np.int64
        out.append(_LayerSynapses(feed=ExactMatrix(feed, dtype),
                                  recurrent=None if rec is None else ExactMatrix(rec, dtype), fan_in=fan_in))
    return tuple(out)


def _delayed(x: np.ndarray, d: int) -> np.ndarray:
    """``[b, T, n]`` spikes shifted ``d`` steps later in time (nothing arrives before step ``d``)."""
    out = np.zeros_like(x)
    T = x.shape[1]
    if d < T:
        out[:, d:] = x[:, : T - d]
    return out


def _core_groups(cores: np.ndarray) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """How to sum a layer's neurons per core: (a permutation grouping them by core, or None
    when they already are grouped; the start of each group; each group's core)."""
    order = np.argsort(cores, kind="stable")
    grouped = cores[order]
    starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
    identity = np.array_equal(order, np.arange(len(cores)))
    return (None if identity else order), starts, grouped[starts]


def _scaled(counts: np.ndarray, figure: int, exact_int64: bool) -> np.ndarray:
    """``counts * figure`` exactly: int64 when the caller has bounded it below 2^62, else Python ints."""
    return counts * figure if exact_int64 else counts.astype(object) * figure


@dataclass(frozen=True, eq=False)
class CostReport:
    """The events and costs of a batch of inferences (arrays over the batch ``B``).

    Exact integers: ``energy_fj``, ``latency_ps`` ([B]), ``step_ps`` ([B, T]: the time of each
    step), ``layer_energy_fj`` ([B, L]), ``core_busy_ps`` ([B, C]; ``None`` for a profile
    without per-event times). Event counts are int64: per layer ([B, L]) ``layer_synops``
    (charged to the target layer), ``layer_spikes``, ``layer_active``, ``layer_inactive``;
    per core in use ([B, C], cores listed in ``cores``) ``core_synops``, ``core_active``,
    ``core_inactive``. ``batched`` is False for a single ``[T, n]`` raster: then
    :attr:`latency_us` and friends are plain numbers and :meth:`to_json` one object.
    """

    profile: str
    steps: int
    cores: tuple[int, ...]
    core_layers: tuple[tuple[int, ...], ...]
    core_neurons: tuple[int, ...]
    energy_fj: np.ndarray
    latency_ps: np.ndarray
    step_ps: np.ndarray
    layer_synops: np.ndarray
    layer_spikes: np.ndarray
    layer_active: np.ndarray
    layer_inactive: np.ndarray
    layer_energy_fj: np.ndarray
    core_synops: np.ndarray
    core_active: np.ndarray
    core_inactive: np.ndarray
    core_busy_ps: np.ndarray | None
    batched: bool = True

    def __len__(self) -> int:
        return len(self.energy_fj)

    def _one(self, values: np.ndarray, convert=int) -> Any:
        out = [convert(v) for v in values]
        return out if self.batched else out[0]

    @property
    def synops(self) -> Any:
        return self._one(self.layer_synops.sum(axis=1))

    @property
    def spikes(self) -> Any:
        return self._one(self.layer_spikes.sum(axis=1))

    @property
    def active_updates(self) -> Any:
        return self._one(self.layer_active.sum(axis=1))

    @property
    def inactive_updates(self) -> Any:
        return self._one(self.layer_inactive.sum(axis=1))

    @property
    def latency_us(self) -> Any:
        """Time of the whole run in µs (a list over the batch when batched)."""
        return self._one(self.latency_ps, lambda ps: int(ps) / 10**6)

    @property
    def energy_uj(self) -> Any:
        """Energy of the whole run in µJ (a list over the batch when batched)."""
        return self._one(self.energy_fj, lambda fj: int(fj) / 10**9)

    def latency_ps_within(self, k: int) -> Any:
        """Exact time of the first ``k`` steps in ps (a list over the batch when batched)."""
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= self.steps:
            raise InputError(f"expected a number of steps in [1, {self.steps}], got {k!r}", "k")
        return self._one([sum(int(s) for s in row[:k]) for row in self.step_ps])

    def __getitem__(self, b: int) -> CostReport:
        """The report of input ``b`` of the batch, as a single-input report."""
        if not -len(self) <= b < len(self):
            raise IndexError(f"input {b} of a batch of {len(self)}")
        b = b % len(self)
        pick = lambda a: None if a is None else a[b: b + 1]  # noqa: E731
        return CostReport(
            profile=self.profile, steps=self.steps, cores=self.cores, core_layers=self.core_layers,
            core_neurons=self.core_neurons, energy_fj=pick(self.energy_fj), latency_ps=pick(self.latency_ps),
            step_ps=pick(self.step_ps), layer_synops=pick(self.layer_synops), layer_spikes=pick(self.layer_spikes),
            layer_active=pick(self.layer_active), layer_inactive=pick(self.layer_inactive),
            layer_energy_fj=pick(self.layer_energy_fj), core_synops=pick(self.core_synops),
            core_active=pick(self.core_active), core_inactive=pick(self.core_inactive),
            core_busy_ps=pick(self.core_busy_ps), batched=False)

    def _json_of(self, b: int) -> dict:
        per_layer = [{"layer": k, "spikes": int(self.layer_spikes[b, k]), "synops": int(self.layer_synops[b, k]),
                      "active_updates": int(self.layer_active[b, k]),
                      "inactive_updates": int(self.layer_inactive[b, k]),
                      "energy_uj": int(self.layer_energy_fj[b, k]) / 10**9}
                     for k in range(self.layer_synops.shape[1])]
        per_core = [{"core": core, "layer": layers[0] if len(layers) == 1 else list(layers), "neurons": neurons,
                     "synops": int(self.core_synops[b, c]), "active_updates": int(self.core_active[b, c]),
                     "inactive_updates": int(self.core_inactive[b, c]),
                     "busy_us": None if self.core_busy_ps is None else int(self.core_busy_ps[b, c]) / 10**6}
                    for c, (core, layers, neurons) in enumerate(zip(self.cores, self.core_layers, self.core_neurons))]
        return {"steps": self.steps, "latency_us": int(self.latency_ps[b]) / 10**6,
                "energy_uj": int(self.energy_fj[b]) / 10**9, "spikes": int(self.layer_spikes[b].sum()),
                "synops": int(self.layer_synops[b].sum()), "profile": self.profile,
                "per_layer": per_layer, "per_core": per_core}

    def to_json(self) -> dict:
        """One input: ``{"steps", "latency_us", "energy_uj", "spikes", "synops", "profile",
        "per_layer": [...], "per_core": [...]}``. A batch: the same keys, ``profile`` and
        ``steps`` once, every other field a list over the batch (as ``simulate --json``)."""
        if not self.batched:
            return self._json_of(0)
        rows = [self._json_of(b) for b in range(len(self))]
        answer = {"profile": self.profile, "steps": self.steps}
        for key in ("latency_us", "energy_uj", "spikes", "synops", "per_layer", "per_core"):
            answer[key] = [r[key] for r in rows]
        return answer


def _check_placement(model: Model, profile: HardwareProfile, placement: Placement) -> None:
    if not isinstance(placement, Placement):
        raise InputError(f"expected a Placement (see place()), got {type(placement).__name__}", "placement")
    if len(placement.cores) != len(model.layers) or any(
            np.shape(c) != (layer.out_size,) for c, layer in zip(placement.cores, model.layers)):
        raise InputError("does not fit the model (its layers or their sizes differ)", "placement")
    if any(not np.issubdtype(np.asarray(c).dtype, np.integer) for c in placement.cores):
        raise InputError("core indices must be integers (build placements with place())", "placement")
    _check_capacity(placement.cores, profile)


@dataclass(frozen=True)
class _Cores:
    """The cores of a placement as columns ``0..C-1`` (in the order of ``cores``), and how
    each layer's neurons sum into them."""

    cores: tuple[int, ...]
    neurons: np.ndarray  # [C] neurons per core
    fan_in: np.ndarray  # [C] the most synops a core can receive in one step
    layers: tuple[tuple[int, ...], ...]  # per core, the layers with neurons on it
    groups: tuple[tuple[np.ndarray | None, np.ndarray, list[int]], ...]  # per layer: order, starts, columns


def _columns(placement: Placement, synapses: Sequence[_LayerSynapses]) -> _Cores:
    cores = placement.cores_in_use
    column = {core: c for c, core in enumerate(cores)}
    neurons = np.zeros(len(cores), dtype=np.int64)
    fan_in = np.zeros(len(cores), dtype=np.int64)
    layers: list[set] = [set() for _ in cores]
    groups = []
    for k, (layer_cores, syn) in enumerate(zip(placement.cores, synapses)):
        cols = np.array([column[int(core)] for core in layer_cores], dtype=np.int64)
        np.add.at(neurons, cols, 1)
        np.add.at(fan_in, cols, syn.fan_in)
        for c in np.unique(cols):
            layers[c].add(k)
        order, starts, group_cores = _core_groups(layer_cores)
        groups.append((order, starts, [column[int(core)] for core in group_cores]))
    return _Cores(cores=cores, neurons=neurons, fan_in=fan_in, layers=tuple(tuple(sorted(s)) for s in layers),
                  groups=tuple(groups))


def _chunk_events(model: Model, synapses: Sequence[_LayerSynapses], cols: _Cores, x: np.ndarray,
                  outputs: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
    """The events of the runs of one batch chunk: per layer ``[b, L]`` synops, active updates
    and spikes; per core and step ``[b, T, C]`` synops and active updates."""
    b, T = x.shape[:2]
    L, C = len(model.layers), len(cols.cores)
    layer_synops, layer_active, layer_spikes = (np.zeros((b, L), dtype=np.int64) for _ in range(3))
    core_syn, core_act = np.zeros((b, T, C), dtype=np.int64), np.zeros((b, T, C), dtype=np.int64)
    for k, (layer, syn, out) in enumerate(zip(model.layers, synapses, outputs)):
        arrivals = syn.feed(_delayed(x, layer.delay))  # [b, T, n]: synops into each neuron at each step
        if syn.recurrent is not None:
            arrivals = arrivals + syn.recurrent(_delayed(out, 1))  # own spikes of step t-1
        active = (arrivals > 0).view(np.int8)
        layer_synops[:, k] = arrivals.sum(axis=(1, 2), dtype=np.int64)
        layer_active[:, k] = count_spikes(active, axis=(1, 2))
        if layer.neuron.fires:
            layer_spikes[:, k] = count_spikes(out, axis=(1, 2))
        order, starts, columns = cols.groups[k]
        if order is not None:
            arrivals, active = arrivals[..., order], active[..., order]
        core_syn[:, :, columns] += np.add.reduceat(arrivals, starts, axis=2, dtype=np.int64)
        core_act[:, :, columns] += np.add.reduceat(active, starts, axis=2, dtype=np.int64)
        x = out
    return layer_synops, layer_active, layer_spikes, core_syn, core_act


def cost(model: Model, raster: Any, profile: str | Path | HardwareProfile,
         placement: Placement | None = None) -> CostReport:
    """The events and costs of running ``model`` on ``raster`` (``[T, n]``, or ``[B, T, n]``
    for one report per input, computed together) on ``profile``'s hardware, with
    ``placement`` (default :func:`place`'s). The events are counted from the reference
    simulator's spikes; see the module docstring and ``docs/hardware.md``."""
    profile = load_profile(profile)
    placement = place(model, profile) if placement is None else placement
    _check_placement(model, profile, placement)
    arr, batched = check_raster(model, raster)
    result = simulate(model, arr)
    B, T, L = arr.shape[0], model.time_steps, len(model.layers)
    synapses = _synapses(model)
    cols = _columns(placement, synapses)
    C = len(cols.cores)
    sync = profile.sync_ps(C)
    t = profile.time_ps
    if t is not None:  # int64 holds every time below when the busiest possible run stays under 2^62 ps
        step_bound = int(max((int(f) * t["synop"] + int(n) * max(t["neuron_active"], t["neuron_inactive"])
                              for f, n in zip(cols.fan_in, cols.neurons)), default=0))
        times_fit = T * (step_bound + sync) < _INT64_SAFE
    layer_synops, layer_active, layer_spikes = (np.zeros((B, L), dtype=np.int64) for _ in range(3))
    core_synops, core_active = np.zeros((B, C), dtype=np.int64), np.zeros((B, C), dtype=np.int64)
    core_busy = None if t is None else np.zeros((B, C), dtype=np.int64 if times_fit else object)
    if profile.step_ps is not None:
        step = np.full((B, T), profile.step_ps, dtype=np.int64 if T * profile.step_ps < _INT64_SAFE else object)
    else:
        step = np.zeros((B, T), dtype=np.int64 if times_fit else object)
    width = max(max(layer.in_size, layer.out_size) for layer in model.layers)
    chunk = max(1, _CHUNK_ELEMENTS // (T * width))
    for lo in range(0, B, chunk):
        hi = min(B, lo + chunk)
        events = _chunk_events(model, synapses, cols, arr[lo:hi], [o[lo:hi] for o in result.layer_outputs])
        layer_synops[lo:hi], layer_active[lo:hi], layer_spikes[lo:hi], core_syn, core_act = events
        core_synops[lo:hi], core_active[lo:hi] = core_syn.sum(axis=1), core_act.sum(axis=1)
        if t is not None:
            core_inact = cols.neurons - core_act
            busy = (_scaled(core_syn, t["synop"], times_fit) + _scaled(core_act, t["neuron_active"], times_fit)
                    + _scaled(core_inact, t["neuron_inactive"], times_fit))  # [b, T, C] ps
            core_busy[lo:hi] = busy.sum(axis=1)
            if profile.step_ps is None:
                step[lo:hi] = busy.max(axis=2) + sync
    if not np.array_equal(layer_synops.sum(axis=1), result.synops):  # two definitions of one count must agree
        raise RuntimeError("hardware synops differ from the simulator's: a defect in verisnn")

    sizes = np.array([layer.out_size for layer in model.layers], dtype=np.int64)
    layer_inactive = T * sizes - layer_active
    e = profile.energy_fj
    big = lambda a: a.astype(object)  # noqa: E731 - exact Python ints for sums of products
    layer_energy = (big(layer_synops) * e["synop"] + big(layer_active) * e["neuron_active"]
                    + big(layer_inactive) * e["neuron_inactive"] + big(layer_spikes) * e["spike"])
    return CostReport(
        profile=profile.name, steps=T, cores=cols.cores, core_layers=cols.layers,
        core_neurons=tuple(int(n) for n in cols.neurons), energy_fj=layer_energy.sum(axis=1),
        latency_ps=step.sum(axis=1), step_ps=step, layer_synops=layer_synops, layer_spikes=layer_spikes,
        layer_active=layer_active, layer_inactive=layer_inactive, layer_energy_fj=layer_energy,
        core_synops=core_synops, core_active=core_active, core_inactive=T * cols.neurons - core_active,
        core_busy_ps=core_busy, batched=batched)


def decision_latency(model: Model, raster: Any, profile: str | Path | HardwareProfile, k: int,
                     placement: Placement | None = None) -> Any:
    """Time in µs of the first ``k`` steps (1 <= k <= T) of the run on ``raster``: the
    latency of a decision made within ``k`` steps (a list over the batch for ``[B, T, n]``)."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= model.time_steps:
        raise InputError(f"expected a number of steps in [1, {model.time_steps}], got {k!r}", "k")
    report = cost(model, raster, profile, placement)
    ps = report.latency_ps_within(int(k))
    return [p / 10**6 for p in ps] if report.batched else ps / 10**6
