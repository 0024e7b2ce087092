"""The property language: an input region plus an output condition (plus a horizon).

A property is built in Python from the frozen dataclasses below, or read from a
YAML/JSON document (:func:`parse_property`, :func:`load_property`)::

    {"region": {"flips": 2}, "condition": "robust"}
    {"region": {"jitter": {"shift": 1, "spikes": 3}}, "condition": {"decided_by": 6}}
    {"region": "any", "condition": {"never_fires": [1, 3]}, "horizon": "unbounded"}

Documents are checked against a JSON Schema (:func:`schema`), then turned into
dataclasses that validate themselves; every problem raises :class:`PropertyError`
naming the key (``region.jitter.shift``). Loading never executes anything: YAML
is read with the strict safe loader of :mod:`verisnn.documents` (no tags, aliases or
duplicate keys).

The exact sets and predicates are defined in ``docs/properties.md``; the
functions :func:`region_contains` and :func:`region_size` are their executable
form for the finite (raster) regions.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np

from .documents import clip, load_document
from .errors import InputError, ModelError, VerisnnError
from .limits import check_deadline, count_text
from .model_format import first_schema_error

MAX_PROPERTY_BYTES = 1 << 20  # a property is a few lines; anything larger is not one
HORIZONS = ("bounded", "unbounded")
# a bound on every count of a property (flips, spikes, steps): far above any meaningful one (a
# model has at most 10^5 steps), and small enough for int64 arithmetic and exact JSON numbers
MAX_COUNT = 2 ** 53
JITTER_ENUMERATION_LIMIT = 2_000_000  # candidate placements region_size may try for one jitter region


class PropertyError(VerisnnError):
    """A property (file or object) that is malformed or does not fit the model."""


def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _count(x: Any, path: str, minimum: int = 0) -> int:
    """A Python int in ``[minimum, MAX_COUNT]`` (bool is not an int here)."""
    what = {0: "a non-negative integer", 1: "a positive integer"}.get(minimum, f"an integer >= {minimum}")
    if not _is_int(x) or x < minimum:
        raise PropertyError(f"expected {what}, got {clip(repr(x), 60)}", path)
    if x > MAX_COUNT:
        raise PropertyError(f"{clip(count_text(int(x)), 60)} is more than the 2^53 a count may be", path)
    return int(x)


# ---------------------------------------------------------------- regions


@dataclass(frozen=True)
class Region(ABC):
    """Base of the input regions: a set of input rasters around a centre."""

    @abstractmethod
    def to_dict(self) -> Any:
        """The file form of this region."""


@dataclass(frozen=True)
class Flips(Region):
    """Every ``[T, n]`` raster that differs from the centre in at most ``k`` bits (0<->1)."""

    k: int

    def __post_init__(self):
        object.__setattr__(self, "k", _count(self.k, "region.flips"))

    def to_dict(self) -> Any:
        return {"flips": self.k}


@dataclass(frozen=True)
class Deletions(Region):
    """The centre with at most ``k`` of its spikes removed (1 -> 0) and nothing added."""

    k: int

    def __post_init__(self):
        object.__setattr__(self, "k", _count(self.k, "region.deletions"))

    def to_dict(self) -> Any:
        return {"deletions": self.k}


@dataclass(frozen=True)
class Insertions(Region):
    """The centre with at most ``k`` spikes added (0 -> 1) and nothing removed."""

    k: int

    def __post_init__(self):
        object.__setattr__(self, "k", _count(self.k, "region.insertions"))

    def to_dict(self) -> Any:
        return {"insertions": self.k}


@dataclass(frozen=True)
class Jitter(Region):
    """At most ``spikes`` of the centre's spikes, each moved to another step of its own
    channel at most ``shift`` steps away (inside ``[0, T-1]``); spikes never merge, so
    every channel keeps its spike count. Precisely: ``r`` is in the region iff every
    channel has a bijection from the centre's spike times to ``r``'s that moves no spike
    by more than ``shift``, and these bijections together move at most ``spikes`` spikes."""

    shift: int
    spikes: int

    def __post_init__(self):
        object.__setattr__(self, "shift", _count(self.shift, "region.jitter.shift"))
        object.__setattr__(self, "spikes", _count(self.spikes, "region.jitter.spikes"))

    def to_dict(self) -> Any:
        return {"jitter": {"shift": self.shift, "spikes": self.spikes}}


@dataclass(frozen=True)
class Intensity(Region):
    """Analog inputs ``x`` with ``max |x - centre| <= eps`` (the centre is analog), each
    turned into a raster by the model's own encoder (``model.input.encoding``)."""

    eps: float

    def __post_init__(self):
        x = self.eps
        if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)) \
                or not math.isfinite(x) or x < 0:
            raise PropertyError(f"expected a finite non-negative number, got {x!r}", "region.intensity")
        object.__setattr__(self, "eps", float(x))

    def to_dict(self) -> Any:
        return {"intensity": self.eps}


@dataclass(frozen=True)
class AnyInput(Region):
    """Every raster of shape ``[T, n]`` (for safety invariants)."""

    def to_dict(self) -> Any:
        return "any"


# ---------------------------------------------------------------- conditions


@dataclass(frozen=True)
class Condition(ABC):
    """Base of the output conditions: a predicate on one run of the model."""

    @abstractmethod
    def to_dict(self) -> Any:
        """The file form of this condition."""


@dataclass(frozen=True)
class Robust(Condition):
    """The decision exists (is unique) and equals the centre's decision."""

    def to_dict(self) -> Any:
        return "robust"


@dataclass(frozen=True)
class DecidedBy(Condition):
    """The readout decision over the first ``k`` steps exists and equals the decision over all ``T`` steps."""

    k: int

    def __post_init__(self):
        object.__setattr__(self, "k", _count(self.k, "condition.decided_by", minimum=1))

    def to_dict(self) -> Any:
        return {"decided_by": self.k}


@dataclass(frozen=True)
class FirstSpikeBy(Condition):
    """Some neuron of the output layer spikes at a step ``t < k``."""

    k: int

    def __post_init__(self):
        object.__setattr__(self, "k", _count(self.k, "condition.first_spike_by", minimum=1))

    def to_dict(self) -> Any:
        return {"first_spike_by": self.k}


@dataclass(frozen=True)
class SpikesAtMost(Condition):
    """Total neuron spikes (all layers, input spikes not counted) ``<= e``."""

    e: int

    def __post_init__(self):
        object.__setattr__(self, "e", _count(self.e, "condition.spikes_at_most"))

    def to_dict(self) -> Any:
        return {"spikes_at_most": self.e}


@dataclass(frozen=True)
class SynopsAtMost(Condition):
    """Synaptic operations (DESIGN.md's ``synops``) ``<= s``."""

    s: int

    def __post_init__(self):
        object.__setattr__(self, "s", _count(self.s, "condition.synops_at_most"))

    def to_dict(self) -> Any:
        return {"synops_at_most": self.s}


@dataclass(frozen=True)
class NeverFires(Condition):
    """Neuron ``neuron`` of layer ``layer`` (both 0-based, layers as in the model file) never spikes."""

    layer: int
    neuron: int

    def __post_init__(self):
        object.__setattr__(self, "layer", _count(self.layer, "condition.never_fires[0]"))
        object.__setattr__(self, "neuron", _count(self.neuron, "condition.never_fires[1]"))

    def to_dict(self) -> Any:
        return {"never_fires": [self.layer, self.neuron]}


@dataclass(frozen=True)
class NoOverflow(Condition):
    """No membrane value ever needs the overflow policy: every pre-overflow ``u`` lies in
    the ``v_bits`` signed range of its layer."""

    def to_dict(self) -> Any:
        return "no_overflow"


def _amount(x: Any, path: str) -> int | float:
    """A finite non-negative number (int or float; bool is not a number here)."""
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)) \
            or not math.isfinite(x) or x < 0:
        raise PropertyError(f"expected a finite non-negative number, got {x!r}", path)
    return int(x) if isinstance(x, (int, np.integer)) else float(x)


def _profile_name(x: Any, path: str) -> str:
    if not isinstance(x, str) or not x.strip():
        raise PropertyError(f"expected a hardware profile name or the path of a profile file, got {x!r}", path)
    return x


def _scaled_floor(x: int | float, scale: int) -> int:
    """``floor(x * scale)`` exactly, ``x`` read as the decimal written (the shortest repr of
    a float: ``1.1`` is 1.1, not the binary double nearest to it)."""
    value = Decimal(x) if isinstance(x, int) else Decimal(repr(x))
    return int((value * scale).to_integral_value(rounding=ROUND_FLOOR))


DEFAULT_PROFILE = "loihi"


@dataclass(frozen=True)
class LatencyAtMost(Condition):
    """The run's latency on the hardware of ``profile`` (a built-in profile name or a
    profile YAML path; :func:`verisnn.hardware.cost` with the default placement: per step
    the busiest core's work plus the barrier, summed over the ``T`` steps) is at most ``us``
    microseconds. Exactly: ``latency_ps <= floor(us * 10^6)``, ``us`` read as the decimal written."""

    us: float
    profile: str = DEFAULT_PROFILE

    def __post_init__(self):
        object.__setattr__(self, "us", _amount(self.us, "condition.latency_us_at_most.us"))
        object.__setattr__(self, "profile", _profile_name(self.profile, "condition.latency_us_at_most.profile"))

    def limit_ps(self) -> int:
        """The largest latency in ps that satisfies the condition."""
        return _scaled_floor(self.us, 10**6)

    def to_dict(self) -> Any:
        return {"latency_us_at_most": {"us": self.us, "profile": self.profile}}


@dataclass(frozen=True)
class EnergyAtMost(Condition):
    """The run's energy on the hardware of ``profile`` (as :class:`LatencyAtMost`; energy
    does not depend on the placement) is at most ``uj`` microjoules. Exactly:
    ``energy_fj <= floor(uj * 10^9)``, ``uj`` read as the decimal written."""

    uj: float
    profile: str = DEFAULT_PROFILE

    def __post_init__(self):
        object.__setattr__(self, "uj", _amount(self.uj, "condition.energy_uj_at_most.uj"))
        object.__setattr__(self, "profile", _profile_name(self.profile, "condition.energy_uj_at_most.profile"))

    def limit_fj(self) -> int:
        """The largest energy in fJ that satisfies the condition."""
        return _scaled_floor(self.uj, 10**9)

    def to_dict(self) -> Any:
        return {"energy_uj_at_most": {"uj": self.uj, "profile": self.profile}}


HARDWARE_CONDITIONS = (LatencyAtMost, EnergyAtMost)


def _channels(x: Any, path: str) -> tuple[int, ...]:
    if not isinstance(x, (list, tuple)):
        raise PropertyError(f"expected a list of input channels, got {x!r}", path)
    chans = tuple(_count(c, f"{path}[{k}]") for k, c in enumerate(x))
    if len(set(chans)) != len(chans):
        raise PropertyError(f"channels listed twice in {list(chans)}", path)
    return chans


@dataclass(frozen=True)
class WindowSpikesAtMost(Condition):
    """In every window of ``window`` consecutive steps, the neuron spikes of all layers
    (input spikes not counted) number at most ``spikes``. A condition of the unbounded
    horizon (over the bounded one, ``spikes_at_most`` counts all ``T`` steps)."""

    window: int
    spikes: int

    def __post_init__(self):
        object.__setattr__(self, "window", _count(self.window, "condition.window_spikes_at_most.window", 1))
        object.__setattr__(self, "spikes", _count(self.spikes, "condition.window_spikes_at_most.spikes"))

    def to_dict(self) -> Any:
        return {"window_spikes_at_most": {"window": self.window, "spikes": self.spikes}}


@dataclass(frozen=True)
class NeverFiresAfter(Condition):
    """Neuron ``neuron`` of layer ``layer`` never spikes at a step ``t`` when one of the
    input channels ``inputs`` spiked at a step in ``t - within + 1 .. t`` (``within = 1``:
    the same step). The robot's "never drive forward while the obstacle sensor has
    spiked in the last ``w`` steps". A condition of the unbounded horizon."""

    inputs: tuple[int, ...]
    within: int
    layer: int
    neuron: int

    def __post_init__(self):
        path = "condition.never_fires_after"
        inputs = _channels(self.inputs, f"{path}.inputs")
        if not inputs:
            raise PropertyError("expected at least one input channel", f"{path}.inputs")
        object.__setattr__(self, "inputs", inputs)
        object.__setattr__(self, "within", _count(self.within, f"{path}.within", 1))
        object.__setattr__(self, "layer", _count(self.layer, f"{path}.neuron[0]"))
        object.__setattr__(self, "neuron", _count(self.neuron, f"{path}.neuron[1]"))

    def to_dict(self) -> Any:
        return {"never_fires_after": {"inputs": list(self.inputs), "within": self.within,
                                      "neuron": [self.layer, self.neuron]}}


@dataclass(frozen=True)
class RespondsWithin(Condition):
    """Whenever the input matches ``pattern`` (its ``p`` steps, each the channels that
    must spike then; other channels are free), ending at step ``t``, an output-layer
    neuron spikes at some step in ``t .. t + steps`` — neuron ``cls`` if given, else any.
    "A decision follows within ``steps`` steps of the pattern". A condition of the
    unbounded horizon; a safety condition, since every violation shows within
    ``p + steps`` steps."""

    pattern: tuple[tuple[int, ...], ...]
    steps: int
    cls: int | None = None

    def __post_init__(self):
        path = "condition.responds_within"
        if not isinstance(self.pattern, (list, tuple)) or not self.pattern:
            raise PropertyError(f"expected a non-empty list of steps (each a list of channels), got "
                                f"{self.pattern!r}", f"{path}.pattern")
        pattern = tuple(_channels(step, f"{path}.pattern[{k}]") for k, step in enumerate(self.pattern))
        object.__setattr__(self, "pattern", pattern)
        object.__setattr__(self, "steps", _count(self.steps, f"{path}.steps"))
        if self.cls is not None:
            object.__setattr__(self, "cls", _count(self.cls, f"{path}.class"))

    def to_dict(self) -> Any:
        doc: dict[str, Any] = {"pattern": [list(p) for p in self.pattern], "steps": self.steps}
        if self.cls is not None:
            doc["class"] = self.cls
        return {"responds_within": doc}


# ---------------------------------------------------------------- property


_SAFETY_CONDITIONS = (NeverFires, NoOverflow, WindowSpikesAtMost, NeverFiresAfter, RespondsWithin)
_UNBOUNDED_ONLY = (WindowSpikesAtMost, NeverFiresAfter, RespondsWithin)


@dataclass(frozen=True)
class Property:
    """A region, a condition, a horizon (``bounded``: the model's ``T`` steps;
    ``unbounded``: every step of every run, for ever) and an optional name."""

    region: Region
    condition: Condition
    horizon: str = "bounded"
    name: str | None = None

    def __post_init__(self):
        if not isinstance(self.region, Region) or type(self.region) is Region:
            raise PropertyError(f"expected a region (Flips, Jitter, ...), got {self.region!r}", "region")
        if not isinstance(self.condition, Condition) or type(self.condition) is Condition:
            raise PropertyError(f"expected a condition (Robust, DecidedBy, ...), got {self.condition!r}", "condition")
        if self.horizon not in HORIZONS:
            raise PropertyError(f"expected 'bounded' or 'unbounded', got {self.horizon!r}", "horizon")
        if self.name is not None and not isinstance(self.name, str):
            raise PropertyError(f"expected a string, got {self.name!r}", "name")
        if self.horizon == "unbounded":
            # "for ever" only makes sense for invariants over inputs of every length.
            if not isinstance(self.condition, _SAFETY_CONDITIONS):
                raise PropertyError("an unbounded horizon needs a safety condition (never_fires, no_overflow, "
                                    "window_spikes_at_most, never_fires_after, responds_within)", "horizon")
            if not isinstance(self.region, AnyInput):
                raise PropertyError("an unbounded horizon needs region 'any' (inputs of every length)", "horizon")
        elif isinstance(self.condition, _UNBOUNDED_ONLY):
            key = next(iter(self.condition.to_dict()))
            raise PropertyError(f"{key} is a condition of the unbounded horizon: add horizon: unbounded "
                                f"(and region: any)", "horizon")

    def to_dict(self) -> dict:
        """The file form; :func:`parse_property` reads it back to an equal property."""
        doc: dict[str, Any] = {"region": self.region.to_dict(), "condition": self.condition.to_dict()}
        if self.horizon != "bounded":
            doc["horizon"] = self.horizon
        if self.name is not None:
            doc["name"] = self.name
        return doc


# ---------------------------------------------------------------- file form

_COUNT = {"type": "integer", "minimum": 0, "maximum": MAX_COUNT}
_POSITIVE = {"type": "integer", "minimum": 1, "maximum": MAX_COUNT}
_PAIR = {"type": "array", "prefixItems": [_COUNT, _COUNT], "minItems": 2, "maxItems": 2}
_CHANNELS = {"type": "array", "minItems": 1, "items": _COUNT}


def _hardware_schema(unit: str) -> dict:
    """A hardware bound: a plain number (profile loihi) or {unit: number, profile: name}."""
    amount = {"type": "number", "minimum": 0}
    return {"type": ["number", "object"],
            "if": {"type": "number"}, "then": amount,
            "else": {"additionalProperties": False, "required": [unit],
                     "properties": {unit: amount, "profile": {"type": "string", "minLength": 1}}}}

_SCHEMA: dict = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "verisnn property",
    "type": "object",
    "additionalProperties": False,
    "required": ["condition"],
    "properties": {
        "name": {"type": "string"},
        "horizon": {"enum": list(HORIZONS)},
        "region": {
            "type": ["string", "object"],
            "if": {"type": "string"}, "then": {"enum": ["any"]},
            "else": {
                "minProperties": 1, "maxProperties": 1, "additionalProperties": False,
                "properties": {
                    "flips": _COUNT, "deletions": _COUNT, "insertions": _COUNT,
                    "jitter": {"type": "object", "additionalProperties": False, "required": ["shift", "spikes"],
                               "properties": {"shift": _COUNT, "spikes": _COUNT}},
                    "intensity": {"type": "number", "minimum": 0},
                },
            },
        },
        "condition": {
            "type": ["string", "object"],
            "if": {"type": "string"}, "then": {"enum": ["robust", "no_overflow"]},
            "else": {
                "minProperties": 1, "maxProperties": 1, "additionalProperties": False,
                "properties": {
                    "decided_by": _POSITIVE, "first_spike_by": _POSITIVE,
                    "spikes_at_most": _COUNT, "synops_at_most": _COUNT,
                    "never_fires": _PAIR,
                    "window_spikes_at_most": {"type": "object", "additionalProperties": False,
                                              "required": ["window", "spikes"],
                                              "properties": {"window": _POSITIVE, "spikes": _COUNT}},
                    "never_fires_after": {"type": "object", "additionalProperties": False,
                                          "required": ["inputs", "within", "neuron"],
                                          "properties": {"inputs": _CHANNELS, "within": _POSITIVE,
                                                         "neuron": _PAIR}},
                    "responds_within": {"type": "object", "additionalProperties": False,
                                        "required": ["pattern", "steps"],
                                        "properties": {"pattern": {"type": "array", "minItems": 1,
                                                                   "items": {"type": "array", "items": _COUNT}},
                                                       "steps": _COUNT, "class": _COUNT}},
                    "latency_us_at_most": _hardware_schema("us"),
                    "energy_uj_at_most": _hardware_schema("uj"),
                },
            },
        },
    },
}

_REGION_KEYS = "flips, deletions, insertions, jitter, intensity"
_CONDITION_KEYS = ("decided_by, first_spike_by, spikes_at_most, synops_at_most, never_fires, "
                   "window_spikes_at_most, never_fires_after, responds_within, latency_us_at_most, "
                   "energy_uj_at_most")
# What a value at each path must be: schema errors at these paths say so in words.
_COUNT_WORDS, _POSITIVE_WORDS = "a non-negative integer (at most 2^53)", "a positive integer (at most 2^53)"
_EXPECTED = {
    "region": f"'any' or an object with exactly one key of {_REGION_KEYS}",
    "region.flips": _COUNT_WORDS, "region.deletions": _COUNT_WORDS,
    "region.insertions": _COUNT_WORDS,
    "region.jitter": "an object {shift: integer, spikes: integer}",
    "region.jitter.shift": _COUNT_WORDS, "region.jitter.spikes": _COUNT_WORDS,
    "region.intensity": "a finite non-negative number",
    "condition": f"'robust', 'no_overflow' or an object with exactly one key of {_CONDITION_KEYS}",
    "condition.decided_by": _POSITIVE_WORDS, "condition.first_spike_by": _POSITIVE_WORDS,
    "condition.spikes_at_most": _COUNT_WORDS, "condition.synops_at_most": _COUNT_WORDS,
    "condition.never_fires": "a pair [layer, neuron] of non-negative integers",
    "condition.never_fires[0]": _COUNT_WORDS, "condition.never_fires[1]": _COUNT_WORDS,
    "condition.window_spikes_at_most": "an object {window: positive integer, spikes: integer}",
    "condition.window_spikes_at_most.window": _POSITIVE_WORDS,
    "condition.window_spikes_at_most.spikes": _COUNT_WORDS,
    "condition.never_fires_after": "an object {inputs: [channels], within: positive integer, "
                                   "neuron: [layer, neuron]}",
    "condition.never_fires_after.inputs": "a non-empty list of input channels",
    "condition.never_fires_after.within": _POSITIVE_WORDS,
    "condition.never_fires_after.neuron": "a pair [layer, neuron] of non-negative integers",
    "condition.responds_within": "an object {pattern: [[channels], ...], steps: integer, class: integer}",
    "condition.responds_within.pattern": "a non-empty list of steps, each a list of input channels",
    "condition.responds_within.steps": _COUNT_WORDS,
    "condition.responds_within.class": _COUNT_WORDS,
    "condition.latency_us_at_most": "a non-negative number of microseconds, or an object {us: number, "
                                     "profile: name or path}",
    "condition.latency_us_at_most.us": "a finite non-negative number",
    "condition.latency_us_at_most.profile": "a hardware profile name or the path of a profile file",
    "condition.energy_uj_at_most": "a non-negative number of microjoules, or an object {uj: number, "
                                    "profile: name or path}",
    "condition.energy_uj_at_most.uj": "a finite non-negative number",
    "condition.energy_uj_at_most.profile": "a hardware profile name or the path of a profile file",
    "horizon": "'bounded' or 'unbounded'", "name": "a string",
}


def schema() -> dict:
    """The JSON Schema of a property document (draft 2020-12)."""
    return _SCHEMA


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(_SCHEMA)


def _at(doc: Any, path: str) -> Any:
    """The value at a schema error path such as ``condition.never_fires[1]``."""
    for part in path.replace("[", ".").replace("]", "").split("."):
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc


def _schema_error_for(doc: Any):
    """An error factory for :func:`first_schema_error` that words value errors as
    'expected ..., got ...'; errors about keys (unknown, missing) keep the schema's words."""
    def make(message: str, path: str) -> PropertyError:
        about_keys = "unexpected" in message or "required property" in message
        if path in _EXPECTED and not about_keys:
            try:
                return PropertyError(f"expected {_EXPECTED[path]}, got {clip(repr(_at(doc, path)), 60)}", path)
            except (KeyError, IndexError, TypeError, ValueError):
                pass
        if "unexpected" in message and path == "(top level)":
            message += " (a property has region, condition, horizon, name)"
        return PropertyError(message, path)
    return make


def _region_from(doc: Any) -> Region:
    if doc == "any":
        return AnyInput()
    (key, value), = doc.items()
    if key == "jitter":
        return Jitter(shift=value["shift"], spikes=value["spikes"])
    return {"flips": Flips, "deletions": Deletions, "insertions": Insertions, "intensity": Intensity}[key](value)


def _condition_from(doc: Any) -> Condition:
    if isinstance(doc, str):
        return {"robust": Robust, "no_overflow": NoOverflow}[doc]()
    (key, value), = doc.items()
    if key == "never_fires":
        return NeverFires(layer=value[0], neuron=value[1])
    if key == "window_spikes_at_most":
        return WindowSpikesAtMost(window=value["window"], spikes=value["spikes"])
    if key == "never_fires_after":
        return NeverFiresAfter(inputs=tuple(value["inputs"]), within=value["within"], layer=value["neuron"][0],
                               neuron=value["neuron"][1])
    if key == "responds_within":
        return RespondsWithin(pattern=tuple(tuple(p) for p in value["pattern"]), steps=value["steps"],
                              cls=value.get("class"))
    if key in ("latency_us_at_most", "energy_uj_at_most"):
        cls, unit = (LatencyAtMost, "us") if key == "latency_us_at_most" else (EnergyAtMost, "uj")
        if isinstance(value, dict):
            return cls(value[unit], value.get("profile", DEFAULT_PROFILE))
        return cls(value)
    return {"decided_by": DecidedBy, "first_spike_by": FirstSpikeBy, "spikes_at_most": SpikesAtMost,
            "synops_at_most": SynopsAtMost}[key](value)


def parse_property(doc: Any) -> Property:
    """A :class:`Property` from a parsed YAML/JSON document. A missing ``region``
    means ``any`` (the largest region, so never a weaker claim)."""
    if not isinstance(doc, dict):
        raise PropertyError(f"a property is an object with region and condition, got {type(doc).__name__}")
    first_schema_error(_validator(), doc, _schema_error_for(doc))
    return Property(region=_region_from(doc.get("region", "any")), condition=_condition_from(doc["condition"]),
                    horizon=doc.get("horizon", "bounded"), name=doc.get("name"))


def load_property(path: str | Path) -> Property:
    """Read a property from a ``.json`` file (strict JSON) or a YAML file (any other name)."""
    p = Path(path)
    doc = load_document(p, MAX_PROPERTY_BYTES, PropertyError, "property")
    try:
        return parse_property(doc)
    except PropertyError as e:
        raise PropertyError(e.message, f"{p.name}: {e.path}" if e.path else p.name) from None


# ---------------------------------------------------------------- against a model


def check_against_model(prop: Property, model, unbounded: bool = False) -> None:
    """Raise :class:`PropertyError` if ``prop`` does not fit ``model``. The engines of the
    bounded horizon call it as is, so that an unbounded property can never be decided over
    ``T`` steps by mistake; the unbounded engines pass ``unbounded=True``."""
    if prop.horizon == "unbounded" and not unbounded:
        raise PropertyError("this method decides the model's T steps; an unbounded property needs an unbounded "
                            "method (auto, kinduction, pdr, bmc, explore)", "horizon")
    T = model.time_steps
    region, cond = prop.region, prop.condition
    if isinstance(region, Jitter) and region.shift >= T:
        raise PropertyError(f"shift {region.shift} must be below the model's time_steps {T}", "region.jitter.shift")
    if isinstance(region, Intensity):
        if model.input.encoding is None:
            raise PropertyError("an intensity region needs the model's input.encoding (the model has none)",
                                "region.intensity")
        from .encoders import encoder_from_model  # the encoder must be usable, not just present
        try:
            encoder_from_model(model)
        except ModelError as e:
            raise PropertyError(f"the model's encoder is unusable: {e}", "region.intensity") from None
    output = model.layers[-1].neuron
    if isinstance(cond, (DecidedBy, FirstSpikeBy)):
        key = "decided_by" if isinstance(cond, DecidedBy) else "first_spike_by"
        if cond.k > T:
            raise PropertyError(f"{cond.k} exceeds the model's time_steps {T}", f"condition.{key}")
    if isinstance(cond, FirstSpikeBy) and not output.fires:
        raise PropertyError("the output layer is 'li' and never spikes", "condition.first_spike_by")
    if isinstance(cond, (NeverFires, NeverFiresAfter)):
        at = "condition.never_fires" if isinstance(cond, NeverFires) else "condition.never_fires_after.neuron"
        if cond.layer >= len(model.layers):
            raise PropertyError(f"layer {cond.layer} out of range: the model has {len(model.layers)} layers "
                                f"(0-based)", f"{at}[0]")
        layer = model.layers[cond.layer]
        if not layer.neuron.fires:
            raise PropertyError(f"layer {cond.layer} is 'li' and never spikes", f"{at}[0]")
        if cond.neuron >= layer.out_size:
            raise PropertyError(f"neuron {cond.neuron} out of range: layer {cond.layer} has {layer.out_size} "
                                f"neurons (0-based)", f"{at}[1]")
    if isinstance(cond, HARDWARE_CONDITIONS):
        _hardware_fits(cond, model)
    n = model.input.size
    if isinstance(cond, NeverFiresAfter):
        _channels_fit(cond.inputs, n, "condition.never_fires_after.inputs")
    if isinstance(cond, RespondsWithin):
        for k, step in enumerate(cond.pattern):
            _channels_fit(step, n, f"condition.responds_within.pattern[{k}]")
        if not output.fires:
            raise PropertyError("the output layer is 'li' and never spikes", "condition.responds_within")
        if cond.cls is not None and cond.cls >= model.layers[-1].out_size:
            raise PropertyError(f"class {cond.cls} out of range: the output layer has "
                                f"{model.layers[-1].out_size} neurons", "condition.responds_within.class")


def _hardware_fits(cond: Condition, model) -> None:
    """The condition's profile loads and the model fits on its chip (default placement)."""
    from .hardware import load_profile, place  # the hardware model builds on the simulator, not on properties

    path = f"condition.{next(iter(cond.to_dict()))}.profile"
    try:
        place(model, load_profile(cond.profile))
    except VerisnnError as e:
        raise PropertyError(str(e), path) from None


def _channels_fit(channels: tuple[int, ...], n: int, path: str) -> None:
    for c in channels:
        if c >= n:
            raise PropertyError(f"input channel {c} out of range: the model has {n} input channels (0-based)", path)


# ---------------------------------------------------------------- regions as raster sets


def _raster(x: Any, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 2 or arr.dtype == object or not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool):
        raise InputError(f"expected a [T, n] raster of integers 0/1, got shape {list(arr.shape)} "
                         f"dtype {arr.dtype}", name)
    if arr.size and (arr.min() < 0 or arr.max() > 1):
        raise InputError("raster entries must be 0 or 1", name)
    return arr.astype(np.int8)


def _finite(region: Region) -> None:
    if isinstance(region, Intensity):
        raise PropertyError("an intensity region is not a finite raster set (its centre is analog)",
                            "region.intensity")


def _jitter_moves(centre_col: np.ndarray, col: np.ndarray, shift: int) -> int | None:
    """Fewest spikes any shift-bounded bijection from the centre's spike times to ``col``'s
    must move (``None`` if there is none): a min-cost assignment, cost 1 per moved spike."""
    from scipy.optimize import linear_sum_assignment

    a, b = np.flatnonzero(centre_col), np.flatnonzero(col)
    if len(a) != len(b):
        return None
    if len(a) == 0:
        return 0
    dist = np.abs(a[:, None] - b[None, :])
    big = len(a) + 1  # any infeasible pair makes the total exceed every feasible one
    cost = np.where(dist == 0, 0, np.where(dist <= shift, 1, big))
    rows, cols = linear_sum_assignment(cost)
    total = int(cost[rows, cols].sum())
    return None if total >= big else total


def region_contains(region: Region, centre: Any, raster: Any) -> bool:
    """Whether ``raster`` lies in ``region`` around the ``centre`` raster (both ``[T, n]``)."""
    _finite(region)
    c, r = _raster(centre, "centre"), _raster(raster, "raster")
    if c.shape != r.shape:
        return False
    diff = int(np.count_nonzero(c != r))
    if isinstance(region, AnyInput):
        return True
    if isinstance(region, Flips):
        return diff <= region.k
    if isinstance(region, Deletions):
        return diff <= region.k and bool(np.all(r <= c))
    if isinstance(region, Insertions):
        return diff <= region.k and bool(np.all(r >= c))
    if isinstance(region, Jitter):
        total = 0
        for ch in range(c.shape[1]):
            moves = _jitter_moves(c[:, ch], r[:, ch], region.shift)
            if moves is None:
                return False
            total += moves
        return total <= region.spikes
    raise PropertyError(f"unknown region {region!r}", "region")


def binomial_prefix(n: int, k: int) -> int:
    """``sum(comb(n, j) for j <= k)``, each term from the last (one multiplication each, not a
    fresh binomial: a flips region of a long model has thousands of huge terms)."""
    if k >= n:
        return 1 << n
    total = term = 1
    for j in range(k):
        check_deadline()  # k and n come from the property and the model: a caller's time limit holds
        term = term * (n - j) // (j + 1)
        total += term
    return total


@lru_cache(maxsize=4096)
def _jitter_channel(spikes: tuple[int, ...], T: int, shift: int, budget: int) -> tuple[int, ...]:
    """``hist[m]`` = number of distinct columns reachable from ``spikes`` whose fewest
    moved spikes is ``m`` (``m <= budget``), by enumerating every placement."""
    fewest: dict[int, int] = {}

    def place(i: int, used: int, moved: int) -> None:
        if i == len(spikes):
            if fewest.get(used, budget + 1) > moved:
                fewest[used] = moved
            return
        t = spikes[i]
        if not used >> t & 1:
            place(i + 1, used | 1 << t, moved)
        if moved < budget:
            for u in range(max(0, t - shift), min(T - 1, t + shift) + 1):
                if u != t and not used >> u & 1:
                    place(i + 1, used | 1 << u, moved + 1)

    place(0, 0, 0)
    hist = [0] * (budget + 1)
    for m in fewest.values():
        hist[m] += 1
    return tuple(hist)


def _jitter_size(region: Jitter, c: np.ndarray) -> int:
    T, n = c.shape
    budget = region.spikes
    columns = [tuple(int(t) for t in np.flatnonzero(c[:, ch])) for ch in range(n)]
    alternatives = min(2 * region.shift, T - 1)  # other steps one spike may move to
    work = sum(sum(math.comb(len(s), j) * alternatives ** j for j in range(min(budget, len(s)) + 1)) * len(s)
               for s in set(columns))
    if work > JITTER_ENUMERATION_LIMIT:
        raise PropertyError(f"this jitter region is too large to count exactly by enumeration "
                            f"(about {work} placements)", "region.jitter")
    total = [1] + [0] * budget  # total[m]: rasters so far whose fewest moves is m
    for spikes in columns:
        hist = _jitter_channel(spikes, T, region.shift, budget)
        total = [sum(total[a] * hist[m - a] for a in range(m + 1)) for m in range(budget + 1)]
    return sum(total)


def changeable_positions(region: Region, centre: np.ndarray) -> np.ndarray:
    """Flat indices of the ``[T, n]`` centre that a flips / deletions / insertions / any
    region may change: the centre's spikes, its empty slots, or every bit."""
    flat = np.asarray(centre).reshape(-1)
    if isinstance(region, Deletions):
        return np.flatnonzero(flat == 1)
    if isinstance(region, Insertions):
        return np.flatnonzero(flat == 0)
    return np.arange(flat.size)


def region_size(region: Region, centre_raster: Any) -> int:
    """The exact number of rasters in ``region`` around ``centre_raster`` (``[T, n]``), a Python int."""
    _finite(region)
    c = _raster(centre_raster, "centre")
    cells = c.size
    ones = int(c.sum())
    if isinstance(region, AnyInput):
        return 2 ** cells
    if isinstance(region, Flips):
        return binomial_prefix(cells, region.k)
    if isinstance(region, Deletions):
        return binomial_prefix(ones, region.k)
    if isinstance(region, Insertions):
        return binomial_prefix(cells - ones, region.k)
    if isinstance(region, Jitter):
        return _jitter_size(region, c)
    raise PropertyError(f"unknown region {region!r}", "region")


__all__ = [
    "AnyInput", "Condition", "DecidedBy", "Deletions", "EnergyAtMost", "FirstSpikeBy", "Flips", "HARDWARE_CONDITIONS",
    "Insertions", "Intensity", "Jitter", "LatencyAtMost",
    "NeverFires", "NeverFiresAfter", "NoOverflow", "Property", "PropertyError", "Region", "RespondsWithin", "Robust", "SpikesAtMost", "SynopsAtMost",
    "WindowSpikesAtMost",
    "binomial_prefix", "changeable_positions", "check_against_model", "load_property", "parse_property",
    "region_contains", "region_size", "schema",
]
