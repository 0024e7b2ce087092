"""Rules a person can read and any program can evaluate: the ``verisnn-rules/1`` format.

A rule set is a decision list over a few named *features* of an input raster
``r`` (``[T, n]`` of 0/1 spikes)::

    count(c, a, b)        = sum_{a <= t < b} r[t, c]                 (half-open window)
    first_spike(c)        = min {t : r[t, c] = 1}, or T if channel c is silent
    hidden_count(l, j, a, b) = sum_{a <= t < b} s_l[t, j]           (s_l: spikes of model.layers[l]
                                                                     on the reference simulator)

A rule is a conjunction of conditions ``feature op threshold`` with ``op`` one of
``< <= > >= ==``, and a class (``None`` = the network gives no decision). The
decision of the list on ``r`` is the class of the FIRST rule whose every condition
holds, else ``default``. The JSON form is given in ``docs/rules.md``; this module
parses and validates it (every error names its path, no code is ever executed),
evaluates it vectorised over a batch, and renders it as Markdown or HTML.

In arrays, "no decision" is ``-1`` (as in :class:`verisnn.simulator.SimResult`);
in JSON it is ``null``.
"""

from __future__ import annotations

import html
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping, Sequence, Union

import numpy as np

from ..documents import parse_json, read_bounded
from ..errors import InputError, VerisnnError
from ..model import Model

FORMAT = "verisnn-rules/1"
OPS = ("<", "<=", ">", ">=", "==")
VERDICTS = ("verified", "falsified", "unknown")
MAX_RULES_FILE_BYTES = 64 << 20
NO_DECISION = -1
_FEATURE_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class RulesError(InputError):
    """A rules document (or feature) that violates the ``verisnn-rules/1`` format."""


# ---------------------------------------------------------------- small validators


def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _int(x: Any, path: str, minimum: int = 0, maximum: int | None = None) -> int:
    if not _is_int(x):
        raise RulesError(f"expected an integer, got {x!r}", path)
    v = int(x)
    if v < minimum or (maximum is not None and v > maximum):
        hi = "" if maximum is None else f", {maximum}"
        raise RulesError(f"{v} outside [{minimum}{hi}]", path)
    return v


def _number(x: Any, path: str) -> float:
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise RulesError(f"expected a number, got {x!r}", path)
    if not math.isfinite(float(x)):
        raise RulesError(f"expected a finite number, got {x!r}", path)
    return x if _is_int(x) else float(x)


def _fraction(x: Any, path: str) -> float:
    v = _number(x, path)
    if not 0 <= v <= 1:
        raise RulesError(f"{v} outside [0, 1]", path)
    return float(v)


def _object(x: Any, path: str) -> Mapping:
    if not isinstance(x, Mapping):
        raise RulesError(f"expected an object, got {type(x).__name__}", path)
    return x


def _keys(doc: Mapping, required: Sequence[str], optional: Sequence[str], path: str) -> None:
    for k in required:
        if k not in doc:
            raise RulesError(f"missing key {k!r}", path)
    unknown = [k for k in doc if k not in required and k not in optional]
    if unknown:
        raise RulesError(f"unknown key {unknown[0]!r} (allowed: {', '.join(list(required) + list(optional))})", path)


def _class(x: Any, path: str) -> int:
    """A decision class: an integer >= 0, or ``None`` (-> ``NO_DECISION``)."""
    if x is None:
        return NO_DECISION
    return _int(x, path)


def _class_json(c: int) -> int | None:
    return None if c < 0 else int(c)


# ---------------------------------------------------------------- features


@dataclass(frozen=True)
class Count:
    """Input spikes on ``channel`` at steps ``start <= t < stop``:
    ``count = sum_{start <= t < stop} r[t, channel]``."""

    channel: int
    start: int
    stop: int

    kind = "count"

    def __post_init__(self):
        _int(self.channel, "channel")
        _int(self.start, "from")
        _int(self.stop, "to", minimum=1)
        if self.start >= self.stop:
            raise RulesError(f"empty window: from {self.start} is not below to {self.stop}", "from")

    def check(self, time_steps: int, channels: int, path: str) -> None:
        """Fits a run of ``time_steps`` steps over ``channels`` input channels."""
        if self.channel >= channels:
            raise RulesError(f"channel {self.channel} outside [0, {channels - 1}]", f"{path}.channel")
        if self.stop > time_steps:
            raise RulesError(f"window end {self.stop} beyond the run's {time_steps} steps", f"{path}.to")

    def value_range(self, time_steps: int) -> tuple[int, int]:
        """Smallest and largest value the feature can take."""
        return 0, self.stop - self.start

    def horizon(self, op: str, threshold: float, time_steps: int) -> int:
        """Steps of the run a condition on this feature reads: the window's end."""
        return self.stop

    def describe(self) -> str:
        return f"count(ch {self.channel}, steps {self.start}\u2013{self.stop - 1})"

    def to_json(self) -> dict:
        return {"kind": "count", "channel": self.channel, "from": self.start, "to": self.stop}


@dataclass(frozen=True)
class FirstSpike:
    """First step with an input spike on ``channel``:
    ``first_spike = min {t : r[t, channel] = 1}``, and ``T`` if the channel is silent."""

    channel: int

    kind = "first_spike"

    def __post_init__(self):
        _int(self.channel, "channel")

    def check(self, time_steps: int, channels: int, path: str) -> None:
        if self.channel >= channels:
            raise RulesError(f"channel {self.channel} outside [0, {channels - 1}]", f"{path}.channel")

    def value_range(self, time_steps: int) -> tuple[int, int]:
        return 0, time_steps

    def horizon(self, op: str, threshold: float, time_steps: int) -> int:
        """How many steps settle ``first_spike op c``: ``<= c`` and ``> c`` ask whether a spike
        came in steps ``0..floor(c)`` (``floor(c) + 1`` steps), ``< c`` and ``>= c`` whether one
        came in ``0..ceil(c) - 1`` (``ceil(c)`` steps), ``== c`` needs step ``c`` (``c + 1``
        steps; a silent channel, ``c = T``, all ``T``); at most ``T``; 0 for a condition that
        holds for every value ``0..T`` or for none."""
        if len(set(_COMPARE[op](np.arange(time_steps + 1), threshold).tolist())) == 1:
            return 0
        if op in ("<=", ">", "=="):
            k = math.floor(threshold) + 1
        else:
            k = math.ceil(threshold)
        return max(0, min(time_steps, k))

    def describe(self) -> str:
        return f"first spike(ch {self.channel})"

    def to_json(self) -> dict:
        return {"kind": "first_spike", "channel": self.channel}


@dataclass(frozen=True)
class HiddenCount:
    """Spikes of neuron ``neuron`` of ``model.layers[layer]`` at steps ``start <= t < stop``
    on the reference simulator: ``sum_{start <= t < stop} s_layer[t, neuron]``."""

    layer: int
    neuron: int
    start: int
    stop: int

    kind = "hidden_count"

    def __post_init__(self):
        _int(self.layer, "layer")
        _int(self.neuron, "neuron")
        _int(self.start, "from")
        _int(self.stop, "to", minimum=1)
        if self.start >= self.stop:
            raise RulesError(f"empty window: from {self.start} is not below to {self.stop}", "from")

    def check(self, time_steps: int, channels: int, path: str) -> None:
        if self.stop > time_steps:
            raise RulesError(f"window end {self.stop} beyond the run's {time_steps} steps", f"{path}.to")

    def check_model(self, model: Model, path: str) -> None:
        """The layer exists, emits spikes, and has the neuron."""
        if self.layer >= len(model.layers):
            raise RulesError(f"layer {self.layer} outside [0, {len(model.layers) - 1}]", f"{path}.layer")
        layer = model.layers[self.layer]
        if not layer.neuron.fires:
            raise RulesError(f"layer {self.layer} is an 'li' layer: it emits no spikes to count", f"{path}.layer")
        if self.neuron >= layer.out_size:
            raise RulesError(f"neuron {self.neuron} outside [0, {layer.out_size - 1}]", f"{path}.neuron")

    def value_range(self, time_steps: int) -> tuple[int, int]:
        return 0, self.stop - self.start

    def horizon(self, op: str, threshold: float, time_steps: int) -> int:
        return self.stop

    def describe(self) -> str:
        return f"hidden count(layer {self.layer}, neuron {self.neuron}, steps {self.start}\u2013{self.stop - 1})"

    def to_json(self) -> dict:
        return {"kind": "hidden_count", "layer": self.layer, "neuron": self.neuron,
                "from": self.start, "to": self.stop}


Feature = Union[Count, FirstSpike, HiddenCount]
_KINDS = {"count": (Count, ("channel", "from", "to")),
          "first_spike": (FirstSpike, ("channel",)),
          "hidden_count": (HiddenCount, ("layer", "neuron", "from", "to"))}
_ARG = {"from": "start", "to": "stop"}


def feature_from_json(doc: Any, path: str = "feature") -> Feature:
    """A feature from its JSON object (see the module docstring)."""
    doc = _object(doc, path)
    kind = doc.get("kind")
    if kind not in _KINDS:
        raise RulesError(f"unknown kind {kind!r} (allowed: {', '.join(_KINDS)})", f"{path}.kind")
    cls, keys = _KINDS[kind]
    _keys(doc, ("kind",) + keys, (), path)
    for k in keys:
        _int(doc[k], f"{path}.{k}")
    try:
        return cls(**{_ARG.get(k, k): int(doc[k]) for k in keys})
    except VerisnnError as e:
        raise RulesError(e.message, f"{path}.{e.path}") from None


def feature_to_json(feature: Feature) -> dict:
    return feature.to_json()


# ---------------------------------------------------------------- computing features


def _check_rasters(rasters: Any, time_steps: int | None, channels: int | None) -> np.ndarray:
    arr = np.asarray(rasters)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool):
        raise InputError(f"rasters must hold integers 0/1, got dtype {arr.dtype}", "input")
    if arr.ndim != 3:
        raise InputError(f"rasters must be [B, T, n], got shape {list(arr.shape)}", "input")
    if (time_steps is not None and arr.shape[1] != time_steps) or (channels is not None and arr.shape[2] != channels):
        raise InputError(f"rasters have T={arr.shape[1]}, n={arr.shape[2]}; expected T={time_steps}, n={channels}",
                         "input")
    if arr.size and (arr.min() < 0 or arr.max() > 1):
        raise InputError("raster entries must be 0 or 1", "input")
    return arr.astype(np.int8, copy=False)


def _window_sums(spikes: np.ndarray) -> np.ndarray:
    """``[B, T, n]`` -> ``[B, T+1, n]`` prefix sums over time (window sums by subtraction)."""
    out = np.zeros((spikes.shape[0], spikes.shape[1] + 1, spikes.shape[2]), dtype=np.int32)
    np.cumsum(spikes, axis=1, dtype=np.int32, out=out[:, 1:])
    return out


def compute_features(model: Model | None, features: Mapping[str, Feature], rasters: Any) -> np.ndarray:
    """Feature values ``[B, F]`` (float64, integer-valued; columns in ``features`` order)
    of rasters ``[B, T, n]``. Hidden counts come from ONE run of the reference simulator
    over the whole batch; ``model`` may be ``None`` only when there are none."""
    T = model.time_steps if model is not None else None
    n = model.input.size if model is not None else None
    r = _check_rasters(rasters, T, n)
    B, T_r, n_r = r.shape
    items = list(features.items())
    for name, f in items:
        if not isinstance(f, (Count, FirstSpike, HiddenCount)):
            raise RulesError(f"expected a Count, FirstSpike or HiddenCount, got {type(f).__name__}",
                             f"features.{name}")
        f.check(T_r, n_r, f"features.{name}")
    out = np.empty((B, len(items)), dtype=np.float64)
    hidden = [(j, f) for j, (_, f) in enumerate(items) if isinstance(f, HiddenCount)]
    if hidden:
        if model is None:
            raise RulesError("hidden_count features need the model", "features")
        for j, f in hidden:
            f.check_model(model, f"features.{items[j][0]}")
        from ..simulator import simulate  # one run for every hidden feature

        sums = {}
        outputs = simulate(model, r).layer_outputs
        for j, f in hidden:
            if f.layer not in sums:
                sums[f.layer] = _window_sums(outputs[f.layer])
            s = sums[f.layer]
            out[:, j] = s[:, f.stop, f.neuron] - s[:, f.start, f.neuron]
    counts = [(j, f) for j, (_, f) in enumerate(items) if isinstance(f, Count)]
    if counts:
        s = _window_sums(r)
        idx = np.array([j for j, _ in counts])
        ch = np.array([f.channel for _, f in counts])
        out[:, idx] = s[:, [f.stop for _, f in counts], ch] - s[:, [f.start for _, f in counts], ch]
    firsts = [(j, f) for j, (_, f) in enumerate(items) if isinstance(f, FirstSpike)]
    if firsts:
        sub = r[:, :, [f.channel for _, f in firsts]].astype(bool)
        first = sub.argmax(axis=1)
        first[~sub.any(axis=1)] = T_r
        out[:, [j for j, _ in firsts]] = first
    return out


# ---------------------------------------------------------------- conditions, rules, rule sets


_COMPARE = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal, "==": np.equal}
_SYMBOL = {"<": "<", "<=": "\u2264", ">": ">", ">=": "\u2265", "==": "="}


@dataclass(frozen=True)
class Condition:
    """``feature op threshold``: ``feature`` names a feature of the rule set."""

    feature: str
    op: str
    threshold: float

    def __post_init__(self):
        if not isinstance(self.feature, str) or not _FEATURE_ID.match(self.feature):
            raise RulesError(f"expected a feature name (letters, digits, _), got {self.feature!r}", "feature")
        if self.op not in OPS:
            raise RulesError(f"unknown operator {self.op!r} (allowed: {' '.join(OPS)})", "op")
        object.__setattr__(self, "threshold", _number(self.threshold, "threshold"))

    def holds(self, values: np.ndarray) -> np.ndarray:
        """Boolean ``[B]`` over a column of feature values."""
        return _COMPARE[self.op](values, self.threshold)

    def to_json(self) -> list:
        return [self.feature, self.op, self.threshold]


@dataclass(frozen=True)
class Rule:
    """IF all ``conditions`` THEN ``then`` (``-1``: no decision). ``precision`` /
    ``coverage`` / ``support`` describe the sample it was fitted on (optional);
    ``annotations`` holds any other JSON keys (``certified``, ``latency``, ...)."""

    conditions: tuple[Condition, ...]
    then: int
    precision: float | None = None
    coverage: float | None = None
    support: int | None = None
    annotations: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "conditions", tuple(self.conditions))
        if not _is_int(self.then) or self.then < NO_DECISION:
            raise RulesError(f"expected a class >= 0 or -1 (no decision), got {self.then!r}", "then")
        object.__setattr__(self, "annotations", MappingProxyType(dict(self.annotations)))

    @property
    def certified(self) -> str | None:
        return self.annotations.get("certified")

    def to_json(self) -> dict:
        doc: dict[str, Any] = {"if": [c.to_json() for c in self.conditions], "then": _class_json(self.then)}
        for key in ("precision", "coverage", "support"):
            if getattr(self, key) is not None:
                doc[key] = getattr(self, key)
        doc.update(_plain(dict(self.annotations)))
        return doc


def _plain(x: Any) -> Any:
    """A JSON-ready copy (mapping proxies and numpy scalars made plain)."""
    if isinstance(x, Mapping):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    return x


@dataclass(frozen=True)
class RuleSet:
    """A decision list over named features (see the module docstring). ``features``
    keeps its order: it is the column order of feature arrays."""

    features: Mapping[str, Feature]
    rules: tuple[Rule, ...]
    default: int
    model_sha256: str
    time_steps: int
    channels: int
    info: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "features", MappingProxyType(dict(self.features)))
        object.__setattr__(self, "rules", tuple(self.rules))
        object.__setattr__(self, "info", MappingProxyType(dict(self.info)))
        _int(self.time_steps, "time_steps", minimum=1)
        _int(self.channels, "channels", minimum=1)
        if not isinstance(self.model_sha256, str) or not re.fullmatch(r"[0-9a-f]{64}", self.model_sha256):
            raise RulesError("expected 64 lower-case hex digits", "model_sha256")
        if not _is_int(self.default) or self.default < NO_DECISION:
            raise RulesError(f"expected a class >= 0 or -1 (no decision), got {self.default!r}", "default")
        for name, f in self.features.items():
            if not isinstance(name, str) or not _FEATURE_ID.match(name):
                raise RulesError("a feature name is letters, digits and _ (not starting with a digit)",
                                 f"features.{name}")
            if not isinstance(f, (Count, FirstSpike, HiddenCount)):
                raise RulesError(f"expected a Count, FirstSpike or HiddenCount, got {type(f).__name__}",
                                 f"features.{name}")
            f.check(self.time_steps, self.channels, f"features.{name}")
        for i, rule in enumerate(self.rules):
            if not isinstance(rule, Rule):
                raise RulesError(f"expected a Rule, got {type(rule).__name__}", f"rules[{i}]")
            for j, c in enumerate(rule.conditions):
                if c.feature not in self.features:
                    raise RulesError(f"unknown feature {c.feature!r}", f"rules[{i}].if[{j}]")

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(self.features)

    def check_model(self, model: Model) -> None:
        """The rule set was made for ``model``: same hash, steps, channels; hidden features exist."""
        from ..model_format import model_hash

        if model.time_steps != self.time_steps or model.input.size != self.channels:
            raise RulesError(f"the rules are for T={self.time_steps}, n={self.channels}; the model has "
                             f"T={model.time_steps}, n={model.input.size}", "time_steps")
        if model_hash(model) != self.model_sha256:
            raise RulesError("the rules were extracted from another model (SHA-256 differs)", "model_sha256")
        for name, f in self.features.items():
            if isinstance(f, HiddenCount):
                f.check_model(model, f"features.{name}")

    def feature_values(self, model: Model | None, rasters: Any) -> np.ndarray:
        """``[B, F]`` values of this rule set's features on rasters ``[B, T, n]``."""
        if model is None:
            return compute_features(None, self.features, _check_rasters(rasters, self.time_steps, self.channels))
        return compute_features(model, self.features, rasters)

    def _columns(self, feature_values: Any) -> np.ndarray:
        v = np.asarray(feature_values, dtype=np.float64)
        if v.ndim != 2 or v.shape[1] != len(self.features):
            raise InputError(f"expected feature values [B, {len(self.features)}], got shape {list(v.shape)}",
                             "feature_values")
        return v

    def matches(self, feature_values: Any) -> np.ndarray:
        """Boolean ``[B, R]``: does rule ``i`` (all its conditions) hold on row ``b``."""
        v = self._columns(feature_values)
        col = {name: j for j, name in enumerate(self.features)}
        out = np.ones((v.shape[0], len(self.rules)), dtype=bool)
        for i, rule in enumerate(self.rules):
            for c in rule.conditions:
                out[:, i] &= c.holds(v[:, col[c.feature]])
        return out

    def first_match(self, feature_values: Any) -> np.ndarray:
        """Index ``[B]`` of the first rule that holds on each row, ``-1`` where none does."""
        m = self.matches(feature_values)
        if not self.rules:
            return np.full(m.shape[0], -1, dtype=np.int64)
        first = m.argmax(axis=1).astype(np.int64)
        first[~m.any(axis=1)] = -1
        return first

    def predict(self, feature_values: Any) -> np.ndarray:
        """Classes ``[B]`` of the decision list (``-1``: no decision)."""
        first = self.first_match(feature_values)
        classes = np.array([r.then for r in self.rules] + [self.default], dtype=np.int64)
        return classes[np.where(first < 0, len(self.rules), first)]

    def decide(self, model: Model | None, rasters: Any) -> np.ndarray:
        """Classes ``[B]`` of the decision list on rasters ``[B, T, n]``."""
        return self.predict(self.feature_values(model, rasters))

    def horizon(self, i: int) -> int:
        """Steps (``1..T``) of a run that rule ``i``'s conditions read: the largest window end /
        first-spike horizon among them; ``T`` for a rule without conditions."""
        rule = self.rules[i]
        if not rule.conditions:
            return self.time_steps
        k = max(self.features[c.feature].horizon(c.op, c.threshold, self.time_steps) for c in rule.conditions)
        return max(1, min(self.time_steps, k))

    def with_rules(self, rules: Sequence[Rule]) -> RuleSet:
        return RuleSet(self.features, tuple(rules), self.default, self.model_sha256, self.time_steps,
                       self.channels, self.info)

    def to_json(self) -> dict:
        doc = {
            "format": FORMAT,
            "model_sha256": self.model_sha256,
            "time_steps": self.time_steps,
            "channels": self.channels,
            "features": {name: f.to_json() for name, f in self.features.items()},
            "rules": [r.to_json() for r in self.rules],
            "default": _class_json(self.default),
        }
        if self.info:
            doc["info"] = _plain(dict(self.info))
        return doc

    @staticmethod
    def from_json(doc: Any) -> RuleSet:
        return ruleset_from_json(doc)


def _rule_from_json(doc: Any, path: str, features: Mapping[str, Feature]) -> Rule:
    doc = _object(doc, path)
    for k in ("if", "then"):
        if k not in doc:
            raise RulesError(f"missing key {k!r}", path)
    conds = doc["if"]
    if not isinstance(conds, list):
        raise RulesError(f"expected a list of [feature, op, threshold], got {type(conds).__name__}", f"{path}.if")
    conditions = []
    for j, c in enumerate(conds):
        cp = f"{path}.if[{j}]"
        if not isinstance(c, list) or len(c) != 3:
            raise RulesError(f"expected [feature, op, threshold], got {c!r}", cp)
        name, op, thr = c
        if not isinstance(name, str) or name not in features:
            raise RulesError(f"unknown feature {name!r}", cp)
        if op not in OPS:
            raise RulesError(f"unknown operator {op!r} (allowed: {' '.join(OPS)})", cp)
        conditions.append(Condition(name, op, _number(thr, f"{cp}[2]")))
    then = _class(doc["then"], f"{path}.then")
    precision = _fraction(doc["precision"], f"{path}.precision") if "precision" in doc else None
    coverage = _fraction(doc["coverage"], f"{path}.coverage") if "coverage" in doc else None
    support = _int(doc["support"], f"{path}.support") if "support" in doc else None
    if "certified" in doc and doc["certified"] not in VERDICTS:
        raise RulesError(f"expected one of {', '.join(VERDICTS)}, got {doc['certified']!r}", f"{path}.certified")
    annotations = {k: v for k, v in doc.items() if k not in ("if", "then", "precision", "coverage", "support")}
    return Rule(tuple(conditions), then, precision, coverage, support, annotations)


def ruleset_from_json(doc: Any) -> RuleSet:
    """A validated :class:`RuleSet` from a parsed JSON document; errors name the path,
    e.g. ``rules[3].if[0]: unknown feature 'f99'``."""
    doc = _object(doc, "rules document")
    _keys(doc, ("format", "model_sha256", "time_steps", "channels", "features", "rules", "default"), ("info",),
          "rules document")
    if doc["format"] != FORMAT:
        raise RulesError(f"expected {FORMAT!r}, got {doc['format']!r}", "format")
    sha = doc["model_sha256"]
    if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise RulesError("expected 64 lower-case hex digits", "model_sha256")
    T = _int(doc["time_steps"], "time_steps", minimum=1)
    n = _int(doc["channels"], "channels", minimum=1)
    feats_doc = _object(doc["features"], "features")
    features: dict[str, Feature] = {}
    for name, fd in feats_doc.items():
        if not _FEATURE_ID.match(name):
            raise RulesError("a feature name is letters, digits and _ (not starting with a digit)",
                             f"features.{name}")
        f = feature_from_json(fd, f"features.{name}")
        f.check(T, n, f"features.{name}")
        features[name] = f
    if not isinstance(doc["rules"], list):
        raise RulesError(f"expected a list, got {type(doc['rules']).__name__}", "rules")
    rules = tuple(_rule_from_json(r, f"rules[{i}]", features) for i, r in enumerate(doc["rules"]))
    default = _class(doc["default"], "default")
    info = _object(doc["info"], "info") if "info" in doc else {}
    return RuleSet(features, rules, default, sha, T, n, info)


def load_rules(path: str | Path) -> RuleSet:
    """Read and validate a rules JSON file (strict JSON, no code execution)."""
    p = Path(path)
    data = read_bounded(p, MAX_RULES_FILE_BYTES, RulesError, "rules")
    try:
        doc = parse_json(data, "rules", RulesError)
    except RulesError as e:
        raise RulesError(e.message, str(p)) from None
    return ruleset_from_json(doc)


def save_rules(ruleset: RuleSet, path: str | Path) -> None:
    Path(path).write_text(json.dumps(ruleset.to_json(), indent=1) + "\n")


# ---------------------------------------------------------------- rendering


def _num(x: float) -> str:
    x = float(x)
    return str(int(x)) if x.is_integer() else f"{x:g}"


def _class_text(c: int) -> str:
    return "no decision" if c < 0 else f"class {c}"


def condition_text(ruleset: RuleSet, c: Condition) -> str:
    """``count(ch 12, steps 0–3) > 1``."""
    return f"{ruleset.features[c.feature].describe()} {_SYMBOL[c.op]} {_num(c.threshold)}"


def _pct(x: float | None) -> str | None:
    return None if x is None else f"{100 * x:.0f}%"


def _latency_text(lat: Any) -> str | None:
    if not isinstance(lat, Mapping) or "steps" not in lat:
        return None
    us = lat.get("us")
    text = f"decided by step {lat['steps']}" + (f" ({us:.3g} \u00b5s on {lat.get('profile', '?')})"
                                              if isinstance(us, (int, float)) else "")
    dis = lat.get("disagreements")
    if isinstance(dis, int) and dis:
        text += f", network later on {dis} input(s)"
    return text


def rule_text(ruleset: RuleSet, i: int) -> str:
    """One rule as a sentence: ``IF ... AND ... THEN class 4 (precision 97%, coverage 12%, ...)``."""
    rule = ruleset.rules[i]
    cond = " AND ".join(condition_text(ruleset, c) for c in rule.conditions) or "always"
    notes = []
    if rule.precision is not None:
        notes.append(f"precision {_pct(rule.precision)}")
    if rule.coverage is not None:
        notes.append(f"coverage {_pct(rule.coverage)}")
    if rule.support is not None:
        notes.append(f"support {rule.support}")
    if rule.certified is not None:
        notes.append(f"certified: {rule.certified}")
    lat = _latency_text(rule.annotations.get("latency"))
    if lat:
        notes.append(lat)
    return f"IF {cond} THEN {_class_text(rule.then)}" + (f" ({', '.join(notes)})" if notes else "")


def _extra_lines(extra: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    return [(str(k), v if isinstance(v, str) else json.dumps(_plain(v))) for k, v in (extra or {}).items()]


def render_markdown(ruleset: RuleSet, extra: Mapping[str, Any] | None = None) -> str:
    """A Markdown page: header facts (``extra``: e.g. fidelity), then the numbered rules."""
    lines = ["# Rules", "",
             f"Model SHA-256 `{ruleset.model_sha256}`, {ruleset.time_steps} steps, {ruleset.channels} input channels.",
             "The first rule whose conditions all hold gives the decision; windows include their first "
             "and last step; a silent channel's first spike is step "
             f"{ruleset.time_steps}.", ""]
    for k, v in _extra_lines(extra):
        lines.append(f"- **{k}**: {v}")
    if extra:
        lines.append("")
    for i in range(len(ruleset.rules)):
        lines.append(f"{i + 1}. {rule_text(ruleset, i)}")
    lines.append(f"{len(ruleset.rules) + 1}. OTHERWISE {_class_text(ruleset.default)}")
    return "\n".join(lines) + "\n"


def render_html(ruleset: RuleSet, extra: Mapping[str, Any] | None = None, title: str = "Rules") -> str:
    """A self-contained HTML page (no scripts, no external resources); all text escaped."""
    e = html.escape
    rows = []
    for i, rule in enumerate(ruleset.rules):
        cond = " <b>AND</b> ".join(e(condition_text(ruleset, c)) for c in rule.conditions) or "always"
        lat = _latency_text(rule.annotations.get("latency"))
        cells = [str(i + 1), cond, e(_class_text(rule.then)), e(_pct(rule.precision) or ""),
                 e(_pct(rule.coverage) or ""), e("" if rule.support is None else str(rule.support)),
                 e(str(rule.certified or "")), e(lat or "")]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    rows.append(f"<tr><td>{len(ruleset.rules) + 1}</td><td>otherwise</td><td>{e(_class_text(ruleset.default))}"
                "</td><td></td><td></td><td></td><td></td><td></td></tr>")
    facts = "".join(f"<li><b>{e(k)}</b>: {e(v)}</li>" for k, v in _extra_lines(extra))
    head = "".join(f"<th>{h}</th>" for h in ("#", "if", "then", "precision", "coverage", "support",
                                              "certified", "latency"))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{e(title)}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:4px 8px;text-align:left}"
        "</style></head><body>\n"
        f"<h1>{e(title)}</h1>\n<p>Model SHA-256 <code>{e(ruleset.model_sha256)}</code>, "
        f"{ruleset.time_steps} steps, {ruleset.channels} input channels. The first rule whose conditions all "
        f"hold gives the decision; windows include their first and last step; a silent channel's first "
        f"spike is step {ruleset.time_steps}.</p>\n"
        + (f"<ul>{facts}</ul>\n" if facts else "")
        + f"<table><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(rows) + "\n</tbody></table>\n"
        "</body></html>\n"
    )
