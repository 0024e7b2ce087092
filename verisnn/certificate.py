"""Certificates: one verification answer as a self-contained JSON document.

A certificate (format ``verisnn-certificate/2``, ``docs/certificate.md``, JSON Schema
``schemas/certificate.schema.json``) holds everything :mod:`verisnn.checker` needs to
re-validate an answer without trusting the code path that produced it: the model (its
SHA-256 *and* its whole normal-form document, so no other file is needed — or, for the
many certificates of one audit, its SHA-256 and the file that holds it), the semantics
version, the property document, the centre raster with its hash, the verdict, and the
evidence of the method — the SMT-LIB obligation with its hash, solver and answer;
the enumeration, bound-propagation, branch-and-bound, CP-SAT or induction record; or the
witness raster with its hash and the decision the reference simulator gives it — plus
optional hardware costs. Every one of these fields is checked by the checker; the rest
(the reason of an ``unknown`` or ``error`` answer, the time it took, the method asked for
and other details, the versions of the tools, the creation time) is informative, and the
schema admits no field it does not list.

:func:`make_certificate` builds one from a :class:`verisnn.verify.Result`;
:func:`write_certificate` validates and writes it; :func:`load_certificate` reads and
validates one, raising :class:`verisnn.errors.InputError` naming the field at fault.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import math
import platform
from datetime import datetime, timezone
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np

from .errors import InputError, ModelError, VerisnnError
from .limits import check_deadline
from .model import Model
from .model_format import _readable, first_schema_error, model_hash, model_to_dict, parse_json, read_bounded
from .properties import Intensity, Property
from .verify import Result, raster_sha256

FORMAT = "verisnn-certificate/2"  # 2: every field checked or informative, closed objects, sizes bounded
SEMANTICS = "verisnn.semantics/1"  # DESIGN.md's semantics v1: the one the simulator and every encoding implement
MAX_CERTIFICATE_BYTES = 1 << 30
PROOF_KINDS = ("smt", "enumerate", "bounds", "bab", "cpsat", "kinduction", "pdr", "explore")
TOOL_DISTRIBUTIONS = {"verisnn": "verisnn", "numpy": "numpy", "z3": "z3-solver", "cvc5": "cvc5",
                      "ortools": "ortools", "pysmt": "pysmt"}


@lru_cache(maxsize=1)
def schema() -> dict:
    """The JSON Schema of certificate format v1 (draft 2020-12)."""
    return json.loads(resources.files("verisnn.schemas").joinpath("certificate.schema.json").read_text())


@lru_cache(maxsize=1)
def _loading_validator() -> jsonschema.Draft202012Validator:
    """The schema with the 0/1 rows of rasters and letters checked only as arrays:
    :func:`_check_bits` checks their entries (the same rule, naming the entry), far faster
    than the schema's per-entry walk."""
    s = json.loads(json.dumps(schema()))
    s["$defs"]["bits"] = {"type": "array", "minItems": 1}
    return jsonschema.Draft202012Validator(s)


def _check_bits(rows: Any, path: str) -> None:
    """``rows`` (already an array of arrays) is rectangular and holds 0/1 integers only
    (a row at a time at C speed; the caller's time limit is kept between rows)."""
    for t, row in enumerate(rows):
        check_deadline()
        if len(row) != len(rows[0]):
            raise InputError(f"row {t} has {len(row)} entries, row 0 has {len(rows[0])}", f"{path}[{t}]")
        if set(map(type, row)) <= {int} and set(row) <= {0, 1}:
            continue
        for i, v in enumerate(row):
            if type(v) is not int or v not in (0, 1):  # noqa: E721 - bool is not a bit here
                raise InputError(f"{repr(v)[:40]} is not one of [0, 1]", f"{path}[{t}][{i}]")


def validate_certificate(doc: Any) -> None:
    """Raise :class:`InputError` (naming the field) unless ``doc`` follows the schema."""
    if not isinstance(doc, dict):
        raise InputError(f"a certificate is a JSON object, got {type(doc).__name__}")
    if doc.get("format") != FORMAT:
        older = " (format 1 left some fields unchecked: produce the certificate again)" \
            if doc.get("format") == "verisnn-certificate/1" else ""
        raise InputError(f"expected {FORMAT!r}, got {repr(doc.get('format'))[:80]}{older}", "format")
    first_schema_error(_loading_validator(), doc, InputError)
    if doc["centre"] is not None:
        _check_bits(doc["centre"]["raster"], "centre.raster")
    if doc["evidence"]["kind"] == "witness":
        _check_bits(doc["evidence"]["witness"], "evidence.witness")
    if doc["letters"] is not None:
        _check_bits(doc["letters"], "letters")


def evidence_fields(kind: str) -> frozenset[str]:
    """The fields the schema lets evidence of ``kind`` carry (every one checked)."""
    return frozenset(schema()["$defs"].get(kind, {}).get("properties", {})) | {"kind"}


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def plain(x: Any) -> Any:
    """Plain JSON values from numpy scalars/arrays and tuples (non-finite floats become ``null``)."""
    if isinstance(x, dict):
        return {str(k): plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return plain(x.tolist())
    if isinstance(x, np.generic):
        return plain(x.item())
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if x is None or isinstance(x, (str, int, bool)):
        return x
    return str(x)


def tool_versions() -> dict[str, str | None]:
    """The versions of the tools an answer depends on (``None``: not installed)."""
    return dict(_tool_versions())


@lru_cache(maxsize=1)
def _tool_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for key, dist in TOOL_DISTRIBUTIONS.items():
        try:
            out[key] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[key] = None
    return out


def _decision(model: Model, raster: np.ndarray) -> int | None:
    from .simulator import simulate

    p = int(simulate(model, raster).prediction[0])
    return None if p < 0 else p


def _centre_record(model: Model, prop: Property, centre: Any, result: Result) -> tuple[dict | None, np.ndarray | None]:
    """The certificate's ``centre`` object and the centre raster (``None`` for unbounded
    properties, and — for ``error`` and ``unknown`` answers only — for a centre that cannot
    be made a raster of the model)."""
    from .simulator import single_raster

    if prop.horizon == "unbounded":
        return None, None
    analog = None
    try:
        if isinstance(prop.region, Intensity):
            from .intensity import intensity_region

            region = intensity_region(model, centre, prop.region)
            raster, analog = region.centre_raster, np.asarray(centre, dtype=np.float64)
        else:
            raster = single_raster(model, centre, "a certificate's centre is one raster", path="centre")
    except VerisnnError:
        if result.verdict in ("error", "unknown"):  # no claim: e.g. a bad centre, an intensity region too large to list
            return None, None
        raise
    record = {"raster": raster.astype(int).tolist(), "sha256": raster_sha256(raster),
              "reference_decision": _decision(model, raster)}
    if analog is not None:
        record["analog"] = plain(analog)
    return record, raster


def _evidence(model: Model, prop: Property, result: Result, centre_raster: np.ndarray | None,
              reference: int | None) -> dict:
    """The certificate's ``evidence``: ``none`` (unknown, error), ``witness`` (falsified) or
    the producing method's record (verified), of the fields the checker checks
    (:func:`evidence_fields`; the method's other statistics stay in ``details``)."""
    if result.verdict in ("unknown", "error"):
        return {"kind": "none"}
    if result.verdict == "falsified":
        if result.witness is None:
            raise VerisnnError("internal: a falsified result without a witness", "result")
        w = np.asarray(result.witness).astype(np.int8)
        ev: dict[str, Any] = {"kind": "witness", "witness": w.astype(int).tolist(), "witness_sha256": raster_sha256(w)}
        if prop.horizon == "unbounded":
            ev["decision"] = None  # a run of its own length: no decision over the model's T steps
            ev["violation_step"] = int(result.details["violation_step"])
        else:
            ev["decision"] = _decision(model, w)
            ev["reference_decision"] = reference
        if "analog_witness" in result.details:
            ev["analog_witness"] = plain(result.details["analog_witness"])
        return ev
    if not result.evidence or result.evidence.get("method") not in PROOF_KINDS:
        raise VerisnnError("internal: a verified result without a method's evidence record", "result")
    kind = result.evidence["method"]
    ev = {"kind": kind, **plain({k: v for k, v in result.evidence.items() if k in evidence_fields(kind)})}
    if kind == "smt":
        ev["smtlib_sha256"] = sha256_text(ev["smtlib"])
    return ev


def _costs(model: Model, profile: Any, centre_raster: np.ndarray | None, result: Result, bounded: bool) -> dict:
    from .hardware import cost, load_profile

    prof = load_profile(profile)
    witness = result.witness if result.verdict == "falsified" and bounded else None
    return {"profile": plain(prof.to_dict()),
            "centre": None if centre_raster is None else plain(cost(model, centre_raster, prof).to_json()),
            "witness": None if witness is None else plain(cost(model, witness, prof).to_json())}


def _details(result: Result) -> dict:
    """Informative: the method asked for and the answer's details and statistics, with
    the evidence fields the certificate does not carry (nothing a check reads)."""
    ev = result.evidence or {}
    unchecked = {k: v for k, v in ev.items() if k != "method" and k not in evidence_fields(ev.get("method", ""))}
    kept = {k: v for k, v in result.details.items() if k not in ("letters_allowed", "analog_witness")}
    return plain({**unchecked, **kept, "method": result.method})


def make_certificate(model: Model, prop: Property, centre: Any, result: Result, *,
                     model_path: str | Path | None = None, costs: Any = None, embed_model: bool = True) -> dict:
    """The certificate of ``result``, the answer of ``verify(model, centre, prop, ...)``.

    ``centre``: the ``[T, n]`` raster (or, for an ``intensity`` region, the analog input;
    ignored for an unbounded property); ``model_path``: where the model file is (recorded;
    the checker re-hashes it when it exists); ``costs``: a hardware profile (name, path or
    :class:`~verisnn.hardware.HardwareProfile`) to price the centre and the witness with;
    ``embed_model=False``: the certificate names its model by ``model_path`` (a relative
    path is read from the certificate's folder) and hash instead of embedding it, so a
    bundle of many certificates holds one copy of a large model.
    Raises :class:`VerisnnError` if the result's evidence names another model, centre or
    property, or if a certificate without the model gets no ``model_path``."""
    if not isinstance(result, Result):
        raise VerisnnError(f"expected a verify Result, got {type(result).__name__}", "result")
    if not embed_model and not model_path:
        raise VerisnnError("a certificate that names its model by file needs the file: give model_path", "model_path")
    document = model_to_dict(model) if embed_model else None
    digest = model_hash(model)
    centre_obj, raster = _centre_record(model, prop, centre, result)
    reference = None if centre_obj is None else centre_obj["reference_decision"]
    evidence = _evidence(model, prop, result, raster, reference)
    for key, want in (("model_sha256", digest), ("centre_sha256", None if centre_obj is None else centre_obj["sha256"]),
                      ("property", prop.to_dict())):
        if key in evidence and evidence[key] != want:
            raise VerisnnError(f"the result's evidence names another {key.split('_')[0]} than the one given", "result")
    letters = result.details.get("letters_allowed")
    cert = {
        "format": FORMAT,
        "semantics": SEMANTICS,
        "model": {"sha256": digest, "name": model.name, "path": None if model_path is None else str(model_path),
                  "document": document},
        "property": prop.to_dict(),
        "letters": plain(letters) if letters is not None else None,
        "centre": centre_obj,
        "verdict": result.verdict,
        "reason": result.reason if result.verdict in ("unknown", "error") else None,
        "evidence": evidence,
        "costs": None if costs is None else _costs(model, costs, raster, result, prop.horizon != "unbounded"),
        "timings": {"time_s": round(float(result.time_s), 6), "stage": result.details.get("stage")},
        "tools": tool_versions(),
        "details": _details(result),
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    validate_certificate(cert)  # a certificate this module writes always follows its own schema
    return cert


def write_certificate(path: str | Path, cert: dict) -> None:
    """Validate ``cert`` and write it (atomically: a temporary file, then rename)."""
    validate_certificate(cert)
    p = Path(path)
    text = _readable(cert) + "\n"
    tmp = p.with_name(p.name + ".tmp")
    try:
        tmp.write_text(text)
        tmp.replace(p)
    except OSError as e:
        raise InputError(f"cannot write the certificate: {e.strerror}", str(p)) from None


def load_certificate(source: str | Path | dict) -> dict:
    """A certificate from a file (strict JSON) or an already parsed document, validated
    against the schema; any problem raises :class:`InputError` naming the field."""
    doc = source if isinstance(source, dict) else read_certificate_json(source)
    validate_certificate(doc)
    return doc


def read_certificate_json(path: str | Path) -> Any:
    """The parsed JSON of a certificate file (strict JSON; not yet validated). Raises
    :class:`InputError` when the file cannot be read or is not JSON."""
    p = Path(path)
    data = read_bounded(p, MAX_CERTIFICATE_BYTES, InputError, "certificate")
    try:
        return parse_json(data, what="certificate")
    except ModelError as e:
        raise InputError(e.message, str(p)) from None


__all__ = ["FORMAT", "SEMANTICS", "evidence_fields", "load_certificate", "make_certificate", "read_certificate_json",
           "schema", "tool_versions", "validate_certificate", "write_certificate"]
