"""Audit campaigns: every (input, property) query of a config, on a process pool or a
Dask cluster, each answer stored as it arrives in an append-only store
(:mod:`verisnn.store`), so that a killed campaign resumes where it stopped.

A campaign config is a YAML (or JSON) file; paths in it are relative to the file::

    name: digits-audit
    model: ../artifacts/digits/digits-lif.snn.json    # or  case_study: digits
    inputs:
      file: test_inputs.npy          # [N, T, n] 0/1 rasters (the centres)
      labels: test_labels.npy        # optional [N] integers, recorded with each answer
      analog: test_signals.npy       # optional [N, ...] analog centres, for intensity regions
      select: {first: 40}            # or {indices: [0, 5, 9]}; default: every input
    properties:
      - {name: flips1, file: props/flips1.yaml}
      - {name: decided6, property: {region: {flips: 1}, condition: {decided_by: 6}}, timeout: 30}
    verify: {method: auto, timeout: 10}
    extractions:
      - {kind: tree, max_depth: 4, select: all}   # select: the inputs it learns from (default: inputs.select)
      - {kind: automaton, alphabet: alphabet.json}
    certificates: false            # true, or {model: file}: certificates name the model file
    profile: loihi

Each query has a stable ``key``: the SHA-256 of the model's hash, the property's
canonical document, the input's index and raster hash, the method, the timeout and
whether a certificate is asked for, and how it holds the model (:func:`query_key`). A
rerun skips the keys the store already holds. The exact resume guarantee is in
``docs/audit.md``.

Queries are answered by a *task runner*, ``runner(query, out_dir) -> outcome`` (see
:data:`TaskRunner`); :func:`default_runner` calls :func:`verisnn.verify.verify`.
Runners run in worker processes; only the parent process writes the store.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import hashlib
import json
import math
import multiprocessing
import os
import pickle
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator

import jsonschema
import numpy as np

from .documents import StrictValidator, parse_yaml, read_bounded
from .errors import InputError, VerisnnError
from .model import Model
from .model_format import canonical_json, first_schema_error, load_model, model_hash
from .paths import check_name
from .store import Store, now

KEY_FORMAT = "verisnn.campaign-key/1"
MAX_CONFIG_BYTES = 1 << 20
EXTRACTION_KINDS = ("tree", "automaton")
# Keys of an extraction item that name files (relative to the config): their contents are part of the key.
EXTRACTION_PATH_KEYS = ("alphabet",)
CERTIFICATE_MODELS = ("embedded", "file")  # where a certificate finds its model: in itself, or a file
ARTIFACTS_ENV = "VERISNN_ARTIFACTS"
# case_study -> the built model, relative to the artifacts folder
CASE_STUDIES: dict[str, str] = {
    "digits": "digits/digits-lif.snn.json",
    "iris": "iris/iris-lif.snn.json",
    "mnist": "mnist/mnist-lif.snn.json",
    "ecg": "ecg/ecg-delta-lif.snn.json",
    "robot/safe": "robot/robot-safe.snn.json",
    "robot/naive": "robot/robot-naive.snn.json",
    **{f"tomita/T{k}": f"tomita/T{k}/tomita{k}.snn.json" for k in range(1, 8)},
}
# Environment for Dask worker processes (nanny ``pre-spawn-environ``): the nanny's default
# MALLOC_TRIM_THRESHOLD_ also fixes glibc's mmap threshold at 128 KiB, so every batch array
# of the verifier is mmapped afresh; measured ~40% slower verify queries (docs/audit.md).
DASK_WORKER_ENVIRON = {"MALLOC_MMAP_THRESHOLD_": 32 << 20}
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
               "NUMEXPR_NUM_THREADS")


class CampaignError(VerisnnError):
    """A campaign that could not go on (a worker process died, the cluster lost a task).
    Everything stored so far stays; running the campaign again resumes it."""


# ============================================================================ config


def _bounded_methods() -> tuple[str, ...]:
    from .verify import METHODS

    return METHODS


def _unbounded_methods() -> tuple[str, ...]:
    from .unbounded import METHODS

    return METHODS


_TIMEOUT = {"type": ["number", "null"], "exclusiveMinimum": 0}
_PATH = {"type": "string", "minLength": 1}
_SELECT = {"type": "object", "additionalProperties": False, "minProperties": 1, "maxProperties": 1,
           "properties": {"first": {"type": "integer", "minimum": 1},
                          "indices": {"type": "array", "minItems": 1, "uniqueItems": True,
                                      "items": {"type": "integer", "minimum": 0}}}}


@lru_cache(maxsize=1)
def schema() -> dict:
    """The JSON Schema (draft 2020-12) of a campaign config."""
    methods = sorted(set(_bounded_methods()) | set(_unbounded_methods()))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "verisnn audit campaign",
        "type": "object",
        "additionalProperties": False,
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "model": _PATH,
            "case_study": {"type": "string", "minLength": 1},
            "inputs": {
                "type": "object", "additionalProperties": False,
                "properties": {
                    "file": _PATH, "labels": _PATH, "analog": _PATH,
                    "select": _SELECT,
                },
            },
            "properties": {
                "type": "array",
                "items": {
                    "type": "object", "additionalProperties": False, "required": ["name"],
                    "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 200},
                                   "file": _PATH, "property": {"type": "object"},
                                   "method": {"enum": methods}, "timeout": _TIMEOUT},
                },
            },
            "verify": {"type": "object", "additionalProperties": False,
                       "properties": {"method": {"enum": methods}, "timeout": _TIMEOUT}},
            "extractions": {
                "type": "array",
                "items": {"type": "object", "required": ["kind"],
                          "properties": {"kind": {"enum": list(EXTRACTION_KINDS)},
                                         "name": {"type": "string", "minLength": 1},
                                         # the inputs the extraction learns from: all, or a selection
                                         # of inputs.file (default: the campaign's own selection)
                                         "select": {"oneOf": [{"const": "all"}, _SELECT]},
                                         **{k: _PATH for k in EXTRACTION_PATH_KEYS}}},
            },
            # true: a certificate per answer, embedding the model; {model: file}: naming the
            # bundle's copy of the model by path and hash instead (one copy for many certificates)
            "certificates": {"oneOf": [{"type": "boolean"},
                                       {"type": "object", "additionalProperties": False, "required": ["model"],
                                        "properties": {"model": {"enum": list(CERTIFICATE_MODELS)}}}]},
            "profile": {"type": "string", "minLength": 1},
            # what the audit report draws (verisnn.audit); the campaign's queries ignore it
            "report": {"type": "object", "additionalProperties": False,
                       "properties": {"explain_inputs": {"type": "integer", "minimum": 0},
                                      "faithfulness_inputs": {"type": "integer", "minimum": 0},
                                      "saliency": {"type": "array", "uniqueItems": True,
                                                   "items": {"enum": ["gradient", "deletion", "sam"]}},
                                      "counterexamples": {"type": "integer", "minimum": 0},
                                      "title": {"type": "string", "minLength": 1}}},
        },
    }


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    return StrictValidator(schema())


@dataclass(frozen=True)
class CampaignProperty:
    """One named property of a campaign, with the method and timeout its queries use."""

    name: str
    property: Any  # verisnn.properties.Property
    method: str
    timeout: float | None
    source: str  # the file it came from, or "inline"

    def document(self) -> dict:
        """The property's canonical document, without its name (names are labels, not identity)."""
        doc = self.property.to_dict()
        doc.pop("name", None)
        return doc


@dataclass(frozen=True, eq=False)
class CampaignConfig:
    """A validated campaign: the model, the selected inputs, the properties and extractions."""

    name: str
    document: dict  # the config as parsed
    config_sha256: str
    base_dir: Path
    model_path: Path
    model: Model
    model_sha256: str
    indices: tuple[int, ...]  # selected rows of the inputs
    inputs: np.ndarray | None  # [N, T, n] int8 rasters (all rows)
    analog: np.ndarray | None  # [N, ...] analog centres (all rows)
    labels: np.ndarray | None  # [N]
    inputs_path: Path | None
    analog_path: Path | None
    labels_path: Path | None
    properties: tuple[CampaignProperty, ...]
    extractions: tuple[dict, ...]  # each with file paths made absolute
    certificates: bool
    profile: str | None
    certificate_model: str = "embedded"  # of CERTIFICATE_MODELS


def _existing(base: Path, rel: str, key: str) -> Path:
    p = Path(rel)
    p = p if p.is_absolute() else base / p
    if not p.exists():
        raise InputError(f"no such file: {p}", key)
    if not p.is_file():
        raise InputError(f"not a file: {p}", key)
    return p


def artifacts_dirs() -> list[Path]:
    """Where built case-study models are looked for: ``$VERISNN_ARTIFACTS`` if set, else
    ``./artifacts`` and the ``artifacts/`` folder of the source tree verisnn runs from."""
    if os.environ.get(ARTIFACTS_ENV):
        return [Path(os.environ[ARTIFACTS_ENV])]
    return list(dict.fromkeys([Path.cwd() / "artifacts", Path(__file__).resolve().parent.parent / "artifacts"]))


def case_study_model(name: str) -> Path:
    """The built model of case study ``name`` (a key of :data:`CASE_STUDIES`)."""
    if name not in CASE_STUDIES:
        several = sorted(k for k in CASE_STUDIES if k.startswith(name + "/"))
        if several:
            raise InputError(f"case study {name!r} has several models; name one of {', '.join(several)}",
                             "case_study")
        studies = sorted(dict.fromkeys(k.split("/")[0] for k in CASE_STUDIES))
        raise InputError(f"unknown case study {name!r}; known: {', '.join(studies)}", "case_study")
    looked = []
    for root in artifacts_dirs():
        p = root / CASE_STUDIES[name]
        if p.is_file():
            return p
        looked.append(str(p))
    study = name.split("/")[0]
    raise InputError(f"the {name} model is not built (looked for {', '.join(looked)}); build it with "
                     f"case_studies/{study} or set {ARTIFACTS_ENV}", "case_study")


def select_indices(select: str | dict, count: int, key: str) -> tuple[int, ...]:
    """The rows of ``count`` inputs that ``select`` names: ``"all"``, ``{"first": k}`` or
    ``{"indices": [...]}`` (validated by the schema; ranges checked here, naming ``key``)."""
    if select == "all":
        return tuple(range(count))
    if "first" in select:
        if select["first"] > count:
            raise InputError(f"first {select['first']} of {count} inputs", f"{key}.first")
        return tuple(range(select["first"]))
    for j, ix in enumerate(select["indices"]):
        if ix >= count:
            raise InputError(f"index {ix} out of range: the inputs hold {count}", f"{key}.indices[{j}]")
    return tuple(select["indices"])


def _load_array(path: Path, key: str) -> np.ndarray:
    from .cli import load_npy  # the one safe .npy reader (no pickles)

    return load_npy(str(path), key)


def _named(error: VerisnnError, prefix: str) -> InputError:
    return InputError(error.message, f"{prefix}: {error.path}" if error.path else prefix)


def load_config(source: str | Path | dict) -> CampaignConfig:
    """Read and validate a campaign config (a file, or an already parsed document whose
    relative paths are taken from the current folder). Every problem raises
    :class:`~verisnn.errors.InputError` naming the key."""
    from .properties import check_against_model, load_property, parse_property

    if isinstance(source, dict):
        doc, base = source, Path.cwd()
    else:
        p = Path(source)
        if not p.is_file():
            raise InputError(f"no such file: {p}" if not p.exists() else f"not a file: {p}", "CONFIG")
        data = read_bounded(p, MAX_CONFIG_BYTES, InputError, "campaign config")
        doc, base = parse_yaml(data, "campaign config", InputError), p.resolve().parent
    if not isinstance(doc, dict):
        raise InputError(f"a campaign config is an object (name, model, inputs, properties, ...), got "
                         f"{type(doc).__name__}")
    first_schema_error(_validator(), doc, InputError)
    try:
        config_sha256 = hashlib.sha256(canonical_json(doc).encode()).hexdigest()
    except (TypeError, ValueError) as e:  # non-finite numbers; YAML dates or number keys in free-form parts
        raise InputError(f"not a usable config (only JSON values: strings, numbers, lists, objects with string "
                         f"keys): {e}") from None

    # -- model
    if ("model" in doc) == ("case_study" in doc):
        raise InputError("give exactly one of model (a *.snn.json path) and case_study", "model")
    if "model" in doc:
        model_path = _existing(base, doc["model"], "model")
    else:
        model_path = case_study_model(doc["case_study"])
    try:
        model = load_model(model_path)
    except VerisnnError as e:
        raise _named(e, "model") from None
    model_sha256 = model_hash(model)

    # -- properties
    props: list[CampaignProperty] = []
    seen_names: dict[str, int] = {}
    seen_docs: dict[str, int] = {}
    default_method = doc.get("verify", {}).get("method", "auto")
    default_timeout = doc.get("verify", {}).get("timeout")
    for i, item in enumerate(doc.get("properties", [])):
        at = f"properties[{i}]"
        name = item["name"]
        if name in seen_names:
            raise InputError(f"name {name!r} already names properties[{seen_names[name]}]", f"{at}.name")
        seen_names[name] = i
        if ("file" in item) == ("property" in item):
            raise InputError("give exactly one of file (a property YAML/JSON) and property (the document)", at)
        try:
            if "file" in item:
                prop = load_property(_existing(base, item["file"], f"{at}.file"))
            else:
                prop = parse_property(item["property"])
        except InputError:
            raise
        except VerisnnError as e:
            raise _named(e, f"{at}.{'file' if 'file' in item else 'property'}") from None
        try:
            check_against_model(prop, model, unbounded=prop.horizon == "unbounded")
        except VerisnnError as e:
            raise _named(e, f"{at} ({name}) does not fit the model") from None
        method = item.get("method", default_method)
        allowed = _unbounded_methods() if prop.horizon == "unbounded" else _bounded_methods()
        if method not in allowed:
            where = f"{at}.method" if "method" in item else "verify.method"
            raise InputError(f"method {method!r} does not decide {prop.horizon} properties like {name!r}; "
                             f"use one of {', '.join(allowed)}", where)
        cp = CampaignProperty(name, prop, method, item.get("timeout", default_timeout),
                              str(item["file"]) if "file" in item else "inline")
        ident = canonical_json({"p": cp.document(), "m": cp.method, "t": cp.timeout})
        if ident in seen_docs:
            raise InputError(f"the same property, method and timeout as properties[{seen_docs[ident]}]", at)
        seen_docs[ident] = i
        props.append(cp)

    # -- inputs
    from .properties import Intensity

    inputs_doc = doc.get("inputs", {})
    study_dir = model_path.parent if "case_study" in doc else None

    def input_file(key: str, default: str | None) -> Path | None:
        if key in inputs_doc:
            return _existing(base, inputs_doc[key], f"inputs.{key}")
        if study_dir is not None and default is not None and (study_dir / default).is_file():
            return study_dir / default  # a case study's own test set
        return None

    inputs_path = input_file("file", "test_inputs.npy")
    analog_path = input_file("analog", "test_signals.npy")
    labels_path = input_file("labels", "test_labels.npy")
    bounded = [p for p in props if p.property.horizon == "bounded"]
    needs_rasters = [p for p in bounded if not isinstance(p.property.region, Intensity)]
    needs_analog = [p for p in bounded if isinstance(p.property.region, Intensity)]
    if needs_rasters and inputs_path is None:
        raise InputError(f"property {needs_rasters[0].name!r} needs centre rasters: give inputs.file", "inputs")
    if needs_analog and analog_path is None:
        raise InputError(f"property {needs_analog[0].name!r} has an intensity region: its centres are analog "
                         f"inputs, give inputs.analog", "inputs")
    inputs = analog = labels = None
    count = None
    if inputs_path is not None:
        raw = _load_array(inputs_path, "inputs.file")
        if raw.ndim != 3:
            raise InputError(f"expected rasters [N, T, n], got shape {list(raw.shape)}", "inputs.file")
        from .simulator import check_raster

        try:
            inputs, _ = check_raster(model, raw)
        except VerisnnError as e:
            raise InputError(e.message, "inputs.file") from None
        count = len(inputs)
    if analog_path is not None:
        analog = _load_array(analog_path, "inputs.analog")
        if analog.ndim < 2 or not (np.issubdtype(analog.dtype, np.integer) or np.issubdtype(analog.dtype, np.floating)):
            raise InputError(f"expected numbers [N, ...], got {analog.dtype} of shape {list(analog.shape)}",
                             "inputs.analog")
        if count is not None and len(analog) != count:
            raise InputError(f"{len(analog)} analog inputs for {count} rasters", "inputs.analog")
        count = len(analog) if count is None else count
    if labels_path is not None:
        labels = _load_array(labels_path, "inputs.labels")
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise InputError(f"expected integers [N], got {labels.dtype} of shape {list(labels.shape)}",
                             "inputs.labels")
        if count is None:
            raise InputError("labels without inputs: give inputs.file", "inputs.labels")
        if len(labels) != count:
            raise InputError(f"{len(labels)} labels for {count} inputs", "inputs.labels")
    indices = () if count is None else select_indices(inputs_doc.get("select", "all"), count, "inputs.select")
    if count is None and "select" in inputs_doc:
        raise InputError("select without inputs: give inputs.file", "inputs.select")

    # -- extractions
    extractions = []
    names: dict[str, int] = {}
    for i, item in enumerate(doc.get("extractions", [])):
        spec = dict(item)
        if "name" in spec:  # the name of the extraction's folder, DIR/extractions/<name>
            check_name(spec["name"], f"extractions[{i}].name")
            if spec["name"] in names:
                raise InputError(f"name {spec['name']!r} already names extractions[{names[spec['name']]}] (one folder "
                                 f"each)", f"extractions[{i}].name")
            names[spec["name"]] = i
        if "select" in spec:
            if count is None:
                raise InputError("select without inputs: give inputs.file", f"extractions[{i}].select")
            select_indices(spec["select"], count, f"extractions[{i}].select")
        for k in EXTRACTION_PATH_KEYS:
            if k in spec:
                spec[k] = str(_existing(base, spec[k], f"extractions[{i}].{k}"))
        extractions.append(spec)
    specs = [canonical_json(spec) for spec in extractions]
    for i, spec in enumerate(specs):
        if spec in specs[:i]:  # one of the two would never run: they share a key
            raise InputError(f"the same task as extractions[{specs.index(spec)}]", f"extractions[{i}]")
    if not props and not extractions:
        raise InputError("a campaign needs at least one property or extraction", "properties")
    profile = doc.get("profile")
    if profile is not None:
        from .hardware import list_profiles, load_profile

        if profile not in list_profiles():  # else a profile file, relative to the config
            profile = str(base / profile) if not Path(profile).is_absolute() and ("/" in profile or profile.endswith(
                (".yaml", ".yml"))) else profile
        try:
            load_profile(profile)
        except VerisnnError as e:
            raise InputError(e.message, "profile") from None
    return CampaignConfig(
        name=doc["name"], document=doc, config_sha256=config_sha256, base_dir=base, model_path=model_path.resolve(),
        model=model, model_sha256=model_sha256, indices=indices, inputs=inputs, analog=analog, labels=labels,
        inputs_path=inputs_path, analog_path=analog_path, labels_path=labels_path, properties=tuple(props),
        extractions=tuple(extractions), certificates=bool(doc.get("certificates", False)),
        profile=profile, certificate_model=_certificate_model(doc.get("certificates", False)))


def _certificate_model(certificates: bool | dict) -> str:
    return certificates["model"] if isinstance(certificates, dict) else "embedded"


# ============================================================================ queries


@dataclass(frozen=True, eq=False)
class Query:
    """One unit of work: a ``verify`` query (a property around one input, or an unbounded
    property) or an ``extract`` task. Self-contained, so it can travel to any worker; the
    model travels by path (and is checked against ``model_sha256`` where it is loaded)."""

    key: str
    kind: str  # "verify" | "extract"
    model_path: str
    model_sha256: str
    method: str  # verify: the method asked for; extract: the extraction kind
    timeout: float | None = None
    certificates: bool = False
    profile: str | None = None
    certificate_model: str = "embedded"  # of CERTIFICATE_MODELS
    # verify queries
    property_name: str | None = None
    property: dict | None = None  # canonical document (parse it with verisnn.properties.parse_property)
    index: int | None = None  # row of the inputs file (None: an unbounded property, no centre)
    label: int | None = None
    input_sha256: str | None = None
    centre: np.ndarray | None = field(default=None, repr=False)  # the [T, n] raster, or the analog input
    # extract tasks
    extraction: dict | None = None  # the config item, file paths absolute
    inputs_path: str | None = None
    analog_path: str | None = None
    labels_path: str | None = None
    indices: tuple[int, ...] = ()

    def columns(self) -> dict[str, Any]:
        """The query's fields as the store records them."""
        return {"key": self.key, "kind": self.kind, "model_sha256": self.model_sha256, "input_index": self.index,
                "label": self.label, "input_sha256": self.input_sha256, "property_name": self.property_name,
                "property": self.property, "extraction": self.extraction, "method": self.method,
                "timeout_s": self.timeout}


def query_key(identity: dict) -> str:
    """SHA-256 of the canonical JSON of everything the answer depends on."""
    return hashlib.sha256(canonical_json({"key_format": KEY_FORMAT, **identity}).encode()).hexdigest()


def input_sha256(x: np.ndarray) -> str:
    """A raster's hash as the verifier's evidence names it (int8 bytes); an analog input's
    as the SHA-256 of its float64 bytes and shape."""
    from .verify import raster_sha256

    if np.issubdtype(x.dtype, np.integer) or x.dtype == bool:
        return raster_sha256(x)
    data = repr(list(x.shape)).encode() + np.ascontiguousarray(x, dtype=np.float64).tobytes()
    return hashlib.sha256(data).hexdigest()


def _file_sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def plan_queries(config: CampaignConfig) -> list[Query]:
    """Every query of the campaign, in a fixed order: for each bounded property, one per
    selected input; one per unbounded property; then the extraction tasks."""
    from .properties import Intensity

    common = {"model_path": str(config.model_path), "model_sha256": config.model_sha256,
              "certificates": config.certificates, "profile": config.profile,
              "certificate_model": config.certificate_model}
    queries = []
    for cp in config.properties:
        doc = cp.document()
        ident = {"kind": "verify", "model": config.model_sha256, "property": doc, "method": cp.method,
                 "timeout": cp.timeout, "certificates": config.certificates}
        if config.certificates and config.certificate_model != "embedded":  # (the keys of embedding ones unchanged)
            ident["certificate_model"] = config.certificate_model
        if cp.property.horizon == "unbounded":
            queries.append(Query(key=query_key({**ident, "input": None}), kind="verify", method=cp.method,
                                 timeout=cp.timeout, property_name=cp.name, property=doc, **common))
            continue
        source = config.analog if isinstance(cp.property.region, Intensity) else config.inputs
        for i in config.indices:
            centre = np.asarray(source[i])
            h = input_sha256(centre)
            label = None if config.labels is None else int(config.labels[i])
            queries.append(Query(key=query_key({**ident, "input": {"index": i, "sha256": h}}), kind="verify",
                                 method=cp.method, timeout=cp.timeout, property_name=cp.name, property=doc, index=i,
                                 label=label, input_sha256=h, centre=centre, **common))
    for spec in config.extractions:
        indices = config.indices if "select" not in spec else \
            select_indices(spec["select"], len(config.inputs), "select")
        selected = hashlib.sha256()
        for i in indices:
            for arr in (config.inputs, config.analog, config.labels):
                if arr is not None:
                    selected.update(np.ascontiguousarray(arr[i]).tobytes())
        files = {k: _file_sha256(spec[k]) for k in EXTRACTION_PATH_KEYS if k in spec}
        params = {k: v for k, v in spec.items() if k not in EXTRACTION_PATH_KEYS}
        ident = {"kind": "extract", "model": config.model_sha256, "extraction": params, "files": files,
                 "inputs": {"indices": list(indices), "sha256": selected.hexdigest()},
                 "certificates": config.certificates}
        queries.append(Query(
            key=query_key(ident), kind="extract", method=spec["kind"], extraction=spec,
            inputs_path=None if config.inputs_path is None else str(config.inputs_path),
            analog_path=None if config.analog_path is None else str(config.analog_path),
            labels_path=None if config.labels_path is None else str(config.labels_path),
            indices=indices, **common))
    return queries


# ============================================================================ running one query

TaskRunner = Callable[[Query, Path], dict]
"""``runner(query, out_dir) -> outcome``: answers one query in a worker process.

The outcome is a dict with

* ``verdict``: ``verified`` / ``falsified`` / ``unknown`` / ``error`` for a verify
  query, ``done`` / ``error`` for an extract task;
* ``result``: a JSON-able dict, the answer (for verify: ``Result.to_json()``);
* optionally ``method`` (the method that decided), ``reason``, ``time_s`` (else the
  wall time of the call) and ``certificate``: the path of a file the runner wrote
  inside ``out_dir`` (by convention ``certificate_path(out_dir, query.key)``, written
  with :func:`write_json_atomic`); the store records it relative to ``out_dir``.

The runner must be a module-level function (it is pickled by reference to reach the
workers), must not touch the store, and may raise: an exception becomes an ``error``
row carrying its message. A stored row is final: a rerun never repeats its key."""


_MODELS: dict[tuple[str, str], Model] = {}


def cached_model(path: str, sha256: str) -> Model:
    """The model at ``path``, loaded once per worker process and checked to be the one
    the campaign was planned with."""
    got = _MODELS.get((path, sha256))
    if got is None:
        got = load_model(path)
        if model_hash(got) != sha256:
            raise InputError(f"the model file changed since the campaign was planned (its hash is no longer "
                             f"{sha256[:16]}...)", "model")
        _MODELS[(path, sha256)] = got
    return got


def verify_query(query: Query):
    """Answer a verify query with :func:`verisnn.verify.verify`; returns its ``Result``."""
    from .properties import parse_property
    from .verify import verify

    if query.kind != "verify":
        raise ValueError(f"not a verify query: {query.kind}")
    model = cached_model(query.model_path, query.model_sha256)
    return verify(model, query.centre, parse_property(query.property), method=query.method, timeout=query.timeout)


def outcome_from_result(result, certificate: str | Path | None = None) -> dict:
    """The outcome of a verify query answered by ``result`` (a ``verisnn.verify.Result``)."""
    return {"verdict": result.verdict, "method": result.method, "reason": result.reason, "time_s": result.time_s,
            "result": result.to_json(), "certificate": None if certificate is None else str(certificate)}


def certificate_path(out_dir: str | Path, key: str) -> Path:
    """Where the certificate of query ``key`` goes: ``DIR/certificates/<key>.json``."""
    return Path(out_dir) / "certificates" / f"{key}.json"


def write_json_atomic(path: str | Path, doc: Any) -> Path:
    """Write ``doc`` as JSON to a temporary file beside ``path``, then rename it into
    place: a kill leaves either the old file or the whole new one, never half of one."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.{threading.get_ident()}.tmp")  # unique per writer
    with open(tmp, "w") as f:
        json.dump(doc, f, sort_keys=True, allow_nan=False)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(p)
    return p


def default_runner(query: Query, out_dir: Path) -> dict:
    """Verify queries only: :func:`verify_query`. It writes no certificates and runs no
    extractions (``run_campaign`` refuses such configs unless given a ``task_runner``)."""
    if query.kind != "verify":
        raise InputError(f"the default task runner does not run {query.method} extractions", "extractions")
    return outcome_from_result(verify_query(query))


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _error_outcome(query: Query, reason: str) -> dict:
    return {"verdict": "error", "method": query.method, "reason": reason, "certificate": None,
            "certificate_sha256": None, "result": {"verdict": "error", "method": query.method, "reason": reason}}


def _checked(outcome: Any, query: Query, out_dir: Path) -> dict:
    """The runner's outcome, checked and made plain JSON; a bad one becomes an error outcome."""
    from .cli import jsonable

    allowed = ("verified", "falsified", "unknown", "error") if query.kind == "verify" else ("done", "error")
    if not isinstance(outcome, dict) or outcome.get("verdict") not in allowed:
        got = outcome.get("verdict") if isinstance(outcome, dict) else type(outcome).__name__
        return _error_outcome(query, f"internal: the task runner returned verdict {got!r}; expected one of "
                                     f"{', '.join(allowed)}")
    result = outcome.get("result")
    if not isinstance(result, dict):
        return _error_outcome(query, "internal: the task runner's outcome has no result object")
    cert = outcome.get("certificate")
    cert_sha256 = None
    if cert is not None:
        p = Path(cert)
        p = p if p.is_absolute() else out_dir / p
        try:
            cert = p.resolve().relative_to(out_dir.resolve()).as_posix()
        except ValueError:
            return _error_outcome(query, f"internal: certificate {p} lies outside the campaign folder")
        if not p.is_file():
            return _error_outcome(query, f"internal: the task runner names certificate {p}, which does not exist")
        cert_sha256 = hashlib.sha256(p.read_bytes()).hexdigest()  # binds the stored row to this file's content
    time_s = outcome.get("time_s")
    return {"verdict": outcome["verdict"], "method": outcome.get("method"), "reason": outcome.get("reason"),
            "time_s": None if time_s is None else float(time_s), "result": jsonable(result), "certificate": cert,
            "certificate_sha256": cert_sha256}


def execute(query: Query, out_dir: str, runner: TaskRunner | None = None) -> dict:
    """Run one query in a worker: never raises for a problem of the query; returns the
    outcome with ``worker``, ``started_at``, ``finished_at`` and ``time_s`` filled in."""
    runner = runner or default_runner
    started, t0 = now(), time.perf_counter()
    try:
        outcome = _checked(runner(query, Path(out_dir)), query, Path(out_dir))
    except Exception as e:  # noqa: BLE001 - any failure of one query is that query's answer
        outcome = _error_outcome(query, f"{type(e).__name__}: {e}")
    if outcome.get("time_s") is None:
        outcome["time_s"] = time.perf_counter() - t0
    outcome.update(worker=_worker_id(), started_at=started, finished_at=now())
    return outcome


def _worker_init(pin_threads: bool) -> None:
    """Initializer of the local pool's processes: one thread per process for BLAS,
    OpenMP and torch (the pool is the parallelism; nested thread pools only fight over
    cores), and, on Linux, die with the parent (a ``kill -9`` of the campaign leaves no
    orphan workers)."""
    if pin_threads:
        for var in THREAD_VARS:
            os.environ[var] = "1"  # for libraries imported later (torch is imported lazily)
        with contextlib.suppress(ImportError):
            from threadpoolctl import threadpool_limits

            threadpool_limits(1)
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(1)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes
            import signal

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
            if os.getppid() == 1:  # the parent died before prctl took effect
                os._exit(1)


# ============================================================================ running a campaign


def _row(query: Query, outcome: dict, run_id: int) -> dict:
    return {**query.columns(), "verdict": outcome["verdict"], "result_method": outcome.get("method"),
            "reason": outcome.get("reason"), "time_s": outcome.get("time_s"), "result": outcome["result"],
            "certificate": outcome.get("certificate"), "certificate_sha256": outcome.get("certificate_sha256"),
            "worker": outcome.get("worker"),
            "started_at": outcome.get("started_at"), "finished_at": outcome.get("finished_at"), "run_id": run_id}


def _local_outcomes(pending: list[Query], out: str, runner: TaskRunner | None, workers: int,
                    pin_threads: bool) -> Iterator[tuple[Query, dict]]:
    """Outcomes as they complete, from a pool of fresh (spawned) worker processes."""
    ctx = multiprocessing.get_context("spawn")  # no fork of a parent that has threads (tqdm, a Dask client)
    pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init,
                                  initargs=(pin_threads,))
    try:
        futures = {pool.submit(execute, q, out, runner): q for q in pending}
        for fut in cf.as_completed(futures):
            q = futures.pop(fut)
            try:
                outcome = fut.result()
            except cf.process.BrokenProcessPool as e:
                raise CampaignError(f"a worker process died ({e}); the results stored so far are kept: run the "
                                    f"campaign again to resume. (Called from a script? Worker processes are "
                                    f"spawned and import the main script again: put the call under "
                                    f"`if __name__ == \"__main__\":`.)") from None
            except Exception as e:  # noqa: BLE001 - execute() answers every query error itself: this is the pool's
                raise CampaignError(f"the process pool could not run a query ({type(e).__name__}: {e}); the "
                                    f"results stored so far are kept") from None
            yield q, outcome
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def _dask_client(scheduler: Any):
    """A ``distributed.Client`` for ``scheduler``: an address (``tcp://host:port``), a
    cluster object (``LocalCluster``), or a ``Client`` (used as is, not closed)."""
    import distributed

    if isinstance(scheduler, distributed.Client):
        yield scheduler
        return
    if isinstance(scheduler, str):
        try:
            client = distributed.Client(scheduler, timeout="10s")
        except (OSError, TimeoutError, ValueError) as e:
            raise InputError(f"cannot reach the Dask scheduler {scheduler!r}: {e}", "--scheduler") from None
    else:
        client = distributed.Client(scheduler)
    try:
        yield client
    finally:
        client.close()


def _dask_outcomes(pending: list[Query], out: str, runner: TaskRunner | None, scheduler: Any,
                   run_id: int) -> Iterator[tuple[Query, dict]]:
    """Outcomes as they complete on a Dask cluster (the same task function as the pool)."""
    import distributed

    with _dask_client(scheduler) as client:
        futures = {client.submit(execute, q, out, runner, key=f"verisnn-{run_id}-{i}-{q.key[:16]}", pure=False): q
                   for i, q in enumerate(pending)}
        try:
            for fut in distributed.as_completed(list(futures)):
                q = futures.pop(fut)
                try:
                    outcome = fut.result()
                except Exception as e:  # noqa: BLE001 - execute() catches query errors: this is the cluster's
                    raise CampaignError(f"the Dask cluster lost a task ({type(e).__name__}: {e}); the results "
                                        f"stored so far are kept: run the campaign again to resume") from None
                fut.release()
                yield q, outcome
        finally:
            client.cancel(list(futures))


def _size_hint(query: Query) -> float:
    """How many rasters a query's region holds (infinite when unknown): submitting the
    largest first keeps one long query from running alone at the end of the campaign."""
    from .properties import AnyInput, Deletions, Flips, Insertions, parse_property, region_size

    if query.kind != "verify" or query.centre is None:
        return math.inf
    try:
        region = parse_property(query.property).region
        if not isinstance(region, (Flips, Deletions, Insertions, AnyInput)):  # counting those can take long
            return math.inf
        return math.log2(max(1, region_size(region, query.centre)))
    except (VerisnnError, TypeError, ValueError):
        return math.inf


def _submission_order(pending: list[Query]) -> list[Query]:
    return sorted(pending, key=_size_hint, reverse=True)  # stable: ties keep the plan's order


def _counts(rows: list[dict]) -> dict[str, int]:
    c = {"verified": 0, "falsified": 0, "unknown": 0, "error": 0, "done": 0}
    for r in rows:
        c[r["verdict"]] += 1
    return c


def _runner_name(runner: Any) -> str:
    return f"{getattr(runner, '__module__', '?')}.{getattr(runner, '__qualname__', repr(runner))}"


def run_campaign(config_or_path: str | Path | dict | CampaignConfig, out_dir: str | Path, *,
                 workers: int | None = None, scheduler: Any = None, progress: bool = True,
                 task_runner: TaskRunner | None = None, pin_threads: bool = True) -> dict:
    """Run (or resume) a campaign; store every answer in ``out_dir/campaign.sqlite``.

    ``workers``: local worker processes (default ``os.cpu_count()``); ``scheduler``: a
    Dask scheduler address or ``Client`` / cluster object — then the cluster runs the
    queries and ``workers`` is ignored. ``task_runner``: see :data:`TaskRunner` (default
    :func:`default_runner`). ``pin_threads``: one BLAS/OpenMP/torch thread per local
    worker process.

    Returns ``{"queries", "verified", "falsified", "unknown", "errors", "extracted",
    "report", "skipped_done", "ran", "time_s", "out"}``; the counts cover every query of
    the config, those answered by earlier runs included."""
    t0 = time.perf_counter()
    config = config_or_path if isinstance(config_or_path, CampaignConfig) else load_config(config_or_path)
    if task_runner is None:
        if config.certificates:
            raise InputError("certificates: true needs a task runner that writes certificates (the default "
                             "runner only verifies)", "certificates")
        if config.extractions:
            raise InputError("extractions need a task runner that runs them (the default runner only verifies)",
                             "extractions")
    if scheduler is None and task_runner is not None:
        try:
            pickle.dumps(task_runner)
        except Exception as e:  # noqa: BLE001 - lambdas, closures, local functions
            raise InputError(f"the task runner must be a module-level function (it is sent to the worker "
                             f"processes by reference): {e}", "task_runner") from None
    if scheduler is None:
        workers = (os.cpu_count() or 1) if workers is None else workers
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise InputError(f"expected a positive number of worker processes, got {workers!r}", "--workers")
    queries = plan_queries(config)
    out = Path(out_dir)
    from . import __version__

    with Store(out) as store:
        store.ensure_campaign(config.name, config.config_sha256)
        done = store.done_keys()
        pending = [q for q in queries if q.key not in done]
        skipped = len(queries) - len(pending)
        scheduler_name = None if scheduler is None else (scheduler if isinstance(scheduler, str)
                                                          else type(scheduler).__name__)
        run_id = store.begin_run(config={"config": config.document, "task_runner": _runner_name(task_runner
                                         or default_runner)}, config_sha256=config.config_sha256,
                                 queries=len(queries), already_done=skipped,
                                 workers=workers if scheduler is None else None, scheduler=scheduler_name,
                                 version=__version__)
        counts = _counts(store.rows({q.key for q in queries} & done)) if skipped else _counts([])
        bar = _progress_bar(len(pending), progress and bool(pending), config.name)
        stored = 0
        status, message = "failed", None
        try:
            if pending:
                pending = _submission_order(pending)
                outcomes = (_dask_outcomes(pending, str(out.resolve()), task_runner, scheduler, run_id)
                            if scheduler is not None else
                            _local_outcomes(pending, str(out.resolve()), task_runner, min(workers, len(pending)),
                                            pin_threads))
                try:
                    for q, outcome in outcomes:
                        store.add(_row(q, outcome, run_id))
                        stored += 1
                        counts[outcome["verdict"]] += 1
                        if bar is not None:
                            bar.set_postfix({k: v for k, v in counts.items() if v}, refresh=False)
                            bar.update(1)
                finally:
                    outcomes.close()  # shuts the pool down / cancels the cluster's tasks now, not at garbage collection
            status = "completed"
        except KeyboardInterrupt:
            status, message = "interrupted", "KeyboardInterrupt"
            raise
        except BaseException as e:
            message = f"{type(e).__name__}: {e}"
            raise
        finally:
            if bar is not None:
                bar.close()
            with contextlib.suppress(Exception):
                store.end_run(run_id, status, stored, message)
        rows = store.rows({q.key for q in queries})
    final = _counts(rows)
    return {"queries": len(queries), "verified": final["verified"], "falsified": final["falsified"],
            "unknown": final["unknown"], "errors": final["error"], "extracted": final["done"], "report": None,
            "skipped_done": skipped, "ran": stored, "time_s": round(time.perf_counter() - t0, 3),
            "out": str(out)}


def _progress_bar(total: int, enabled: bool, name: str):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=name, unit="query", file=sys.stderr, dynamic_ncols=True, smoothing=0.1)


def campaign_results(out_dir: str | Path, config: str | Path | dict | CampaignConfig | None = None) -> list[dict]:
    """The stored rows of a campaign folder (read-only, while a campaign may be running):
    every row, or, given the config, its queries' rows in the config's query order
    (queries not answered yet are absent)."""
    with Store(out_dir, writable=False) as store:
        if config is None:
            return store.rows()
        cfg = config if isinstance(config, CampaignConfig) else load_config(config)
        order = {q.key: i for i, q in enumerate(plan_queries(cfg))}
        return sorted(store.rows(order), key=lambda r: order[r["key"]])
