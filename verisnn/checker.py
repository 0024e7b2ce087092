"""The certificate checker: re-validate an answer without trusting its producer.

:func:`check_certificate` takes a certificate (``docs/certificate.md``) and re-establishes
its claims. The facts an answer rests on are re-derived by the trusted kernel
(:mod:`verisnn.kernel`), which shares no code with the engine: the model it simulates is
the document with the stated hash, the centre's decision, the witness's replay and region
membership, the re-enumeration of small regions, the ``bab`` tree and its pruned nodes, the
``bounds`` argument, and the costs. This module reads the file, checks the document's form
with the engine's readers (schema, model validity and normal form, the property's canonical
form and fit to the model, the verdict's evidence fields), which can only reject, and hands
the claims the kernel cannot re-derive alone — SMT, CP-SAT, k-induction and PDR proofs on
regions too large to enumerate, and ``explore`` — to the engine's solver re-checks, which
the report names (``trust``: ``kernel``, ``solver-trusted`` or, for an intensity region of a
delta encoder, whose listing the kernel takes from the engine, ``engine-trusted``):

* ``smt``: the obligation is re-encoded and must be the same text, then re-solved by a
  solver of the *other* family (cvc5 for z3, z3 for cvc5, through pysmt) and by the stated
  one; both must say UNSAT;
* ``cpsat``: re-decided without CP-SAT (the step-by-step tree, else SMT with z3);
* ``kinduction``: the base and induction queries rebuilt and solved by cvc5;
* ``pdr``: the invariant read in a small term grammar (:mod:`verisnn.smt_terms`, never by a
  solver's command reader); initiation, consecution and safety re-checked by cvc5;
* ``explore``: the reachable states explored again.

The certificate is valid when every check passes. A check that cannot finish (a time
limit, a solver ``unknown``) fails: a certificate is never called valid unchecked. Every
loop the document drives is bounded by the schema and checks the time limit, and every
allocation it sizes is checked against the memory budget first.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .certificate import (FORMAT, SEMANTICS, load_certificate, plain, read_certificate_json, sha256_text,
                          tool_versions)
from . import kernel
from .errors import InputError, ModelError, VerisnnError
from .interrupts import check_z3_reason
from .limits import DeadlineReached, count_json, count_text, memory_budget, require_memory, time_limit
from .model import Model
from .model_format import (MAX_FILE_BYTES, canonical_json, model_from_dict, model_hash, model_to_dict, parse_json,
                           read_bounded)
from .monitors import monitor_for
from .paths import bundle_file
from .properties import (HARDWARE_CONDITIONS, AnyInput, Deletions, Flips, Insertions, Intensity, Property,
                         check_against_model, parse_property, region_size)
from .smt_terms import parse_term
from .state import StateLayout
from .verify import BAB_MAX_REGION, verify

# Checking the certificates of one audit validates the same model document again and
# again: a document whose canonical text hashes to one already validated in this process
# is not parsed and validated again (the hash is still recomputed for every certificate).
_CACHE_SIZE = 8
_VALIDATED_MODELS: dict[str, tuple[Model, str]] = {}  # canonical-text SHA-256 -> (model, normal-form hash)
_FILE_HASHES: dict[tuple, str] = {}  # (file bytes SHA-256, embedded document hash) -> the file's model hash
_FILE_MODELS: dict[str, tuple[Model, str]] = {}  # file bytes SHA-256 -> (model, normal-form hash)
ENUMERATE_RECHECK_MAX = 20_000  # cpsat claims on regions this small are re-decided by plain enumeration
OTHER_SOLVER = {"z3": "cvc5", "z3-native": "cvc5", "cvc5": "z3"}  # re-solve with a solver of another family
SOLVER_FAMILY = {"z3": "z3", "z3-native": "z3", "cvc5": "cvc5"}
TIME_UP = "the re-check did not finish within the time limit: not validated"
TERM_BYTES = 500  # memory per z3 term node of a rebuilt query (with its Python wrapper and the solver's copy)


@dataclass
class Check:
    """One check: its name, whether it passed, and what it found."""

    name: str
    ok: bool
    detail: str

    def to_json(self) -> dict:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass
class CheckReport:
    """The checker's answer: ``valid`` only when every check passed."""

    checks: list[Check] = field(default_factory=list)
    time_s: float = 0.0
    trust: str | None = None  # how the claim was re-validated: kernel, solver-trusted, engine-trusted (None: no claim)

    @property
    def valid(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    @property
    def how(self) -> str:
        """How the certificate was re-validated, in words (``valid (kernel)``, ...)."""
        if not self.valid:
            return "not valid"
        return "valid" + (" (no claim)" if self.trust is None else f" ({self.trust})")

    def to_json(self) -> dict:
        """``verisnn check --json``: ``{"valid", "trust", "checks": [{"name", "ok", "detail"}], "time_s"}``."""
        return {"valid": self.valid, "trust": self.trust if self.valid else None,
                "checks": [c.to_json() for c in self.checks], "time_s": round(self.time_s, 6)}


class _Failed(Exception):
    """A check that failed; stops the checks that depend on it."""

    def __init__(self, name: str, detail: str):
        super().__init__(detail)
        self.name, self.detail = name, detail


class _TimeUp(Exception):
    """A re-check ran out of the checker's time limit."""


class _Clock:
    def __init__(self, timeout: float | None):
        self.t0 = time.perf_counter()
        self.deadline = None if timeout is None else self.t0 + timeout

    def left(self) -> float | None:
        return None if self.deadline is None else max(self.deadline - time.perf_counter(), 0.0)

    def over(self) -> bool:
        return self.deadline is not None and time.perf_counter() >= self.deadline


def check_certificate(cert_or_path: str | Path | dict, *, timeout: float | None = None,
                      independent: bool = False) -> CheckReport:
    """Re-validate a certificate (a path to its JSON file, or the parsed document).

    ``timeout`` (seconds) bounds the whole check (re-solving, re-running a method and every
    loop the document drives; :func:`verisnn.limits.time_limit`); a check cut short fails.
    ``independent``: accept only claims the kernel re-derived alone (``trust`` ``kernel``):
    a solver- or engine-trusted claim fails the ``trust`` check.

    Raises :class:`InputError` only when the file cannot be read or is not JSON; a document
    that breaks the schema, or any other fault, is an invalid report naming it."""
    clock = _Clock(timeout)
    report = CheckReport()
    base = None
    if isinstance(cert_or_path, dict):
        doc = cert_or_path
    else:
        base = Path(cert_or_path).parent
        doc = read_certificate_json(cert_or_path)
    try:
        with time_limit(clock.deadline):
            _run_checks(doc, report, clock, base, independent)
    except _Failed as f:
        report.checks.append(Check(f.name, False, f.detail))
    except DeadlineReached:
        report.checks.append(Check("time", False, TIME_UP))
    except Exception as e:  # a document that crashes a re-check is not validated by it (never a traceback)
        report.checks.append(Check("internal", False, f"the checker failed on this certificate: "
                                                      f"{type(e).__name__}: {e}"))
    report.time_s = time.perf_counter() - clock.t0
    return report


def certificate_files(paths: list[str | Path]) -> list[Path]:
    """The certificate files that ``paths`` name: a file as it is; a folder's ``*.json``
    files, sorted (an audit folder's ``certificates/`` when it has one). Raises
    :class:`InputError` for a path that does not exist or a folder without certificates."""
    files = []
    for given in paths:
        p = Path(given)
        if p.is_file():
            files.append(p)
            continue
        if not p.is_dir():
            raise InputError(f"no such file or folder: {given}", str(given))
        folder = p / "certificates" if (p / "certificates").is_dir() else p
        found = sorted(f for f in folder.glob("*.json") if f.is_file())
        if not found:
            raise InputError(f"no certificates (*.json) in {folder}", str(given))
        files.extend(found)
    return files


def check_certificates(paths: list[str | Path], *, timeout: float | None = None, independent: bool = False) -> dict:
    """Re-validate every certificate that ``paths`` name (:func:`certificate_files`), one
    after the other in this process (a model is validated once per process). A file that
    cannot be read or is not JSON is reported not valid, and the others are still checked.

    Returns ``{"valid": every one valid, "count", "valid_count", "certificates": [{"path",
    "valid", "failures": ["check: detail", ...], "time_s"}], "time_s"}``."""
    t0 = time.perf_counter()
    results = []
    for path in certificate_files(paths):
        try:
            report = check_certificate(path, timeout=timeout, independent=independent)
        except InputError as e:
            results.append({"path": str(path), "valid": False, "failures": [f"read: {e}"], "time_s": 0.0})
            continue
        results.append({"path": str(path), "valid": report.valid, "trust": report.trust if report.valid else None,
                        "time_s": round(report.time_s, 6),
                        "failures": [f"{c.name}: {c.detail}" for c in report.failures()]})
    valid = sum(r["valid"] for r in results)
    return {"valid": valid == len(results), "count": len(results), "valid_count": valid, "certificates": results,
            "time_s": round(time.perf_counter() - t0, 6)}


def _run_checks(doc: Any, report: CheckReport, clock: _Clock, base: Path | None, independent: bool) -> None:
    add = lambda name, ok, detail: report.checks.append(Check(name, ok, detail))  # noqa: E731
    try:
        load_certificate(doc)
    except InputError as e:
        raise _Failed("schema", str(e)) from None
    add("schema", True, f"{FORMAT}, semantics {SEMANTICS}")
    limits = kernel.Limits(clock.deadline, memory_budget())
    model, net = _check_model(doc, add, base, limits)
    prop = _check_property(doc, model, add)
    centre = None if doc["centre"] is None else np.asarray(doc["centre"]["raster"], dtype=np.int8)
    recheck = lambda kind: _RECHECKS[kind](doc, model, prop, centre, clock, independent)  # noqa: E731
    findings, report.trust = kernel.check_claims(doc, net, limits, recheck, lambda: _intensity_listing(doc, model, prop))
    centre_finding, *rest = findings
    if not centre_finding.ok:  # the checks that follow depend on the centre
        raise _Failed("centre", centre_finding.detail)
    add(centre_finding.name, centre_finding.ok, centre_finding.detail)
    _check_verdict(doc, prop, add)
    for f in rest:
        add(f.name, f.ok, f.detail)
    if independent and report.trust not in (None, "kernel"):
        add("trust", False, f"the claim is {report.trust}, not re-derived by the kernel alone (--independent)")
    add("tools", True, _tools_detail(doc["tools"]))


# ---------------------------------------------------------------- the certificate's parts


def _check_model(doc: dict, add: Callable, base: Path | None, limits: kernel.Limits) -> tuple[Model, kernel.Network]:
    """The engine's model (for the checks of the document and the solver re-checks) and the
    kernel's network of the same document: the one whose canonical JSON has the stated hash."""
    m = doc["model"]
    if m["document"] is None:
        model = _check_model_file(m, add, base)
        return model, _kernel_network(model_to_dict(model), m["sha256"], limits)  # the file's normal form
    stated = m["sha256"]
    as_written = hashlib.sha256(canonical_json(m["document"]).encode()).hexdigest()
    if as_written in _VALIDATED_MODELS:  # the very same document, validated before in this process
        model, normal = _VALIDATED_MODELS[as_written]
    else:
        try:
            model = model_from_dict(m["document"])
        except VerisnnError as e:
            raise _Failed("model", f"the embedded model document is not a valid model: {e}") from None
        normal = model_hash(model)
        _remember(_VALIDATED_MODELS, as_written, (model, normal))
    problems = []
    if as_written != stated:
        problems.append(f"the embedded document hashes to {as_written}, not the stated {stated}")
    if normal != as_written:
        problems.append(f"the embedded document is not in normal form (its normal form hashes to {normal})")
    found = _model_file(m["path"], base)
    if found is not None:
        try:
            on_disk = _file_hash(found, m["document"], as_written)
        except VerisnnError as e:
            problems.append(f"the model file {found} cannot be read: {e}")
        else:
            if on_disk != stated:
                problems.append(f"the model file {found} hashes to {on_disk}, not the stated {stated}")
    if m["name"] != model.name:
        problems.append(f"model.name {m['name']!r} is not the document's name {model.name!r}")
    if problems:
        raise _Failed("model", "; ".join(problems))
    where = f"; the file {found} has the same hash" if found is not None else \
        ("" if m["path"] is None else f"; {m['path']} not found, the embedded document is used")
    net = _kernel_network(m["document"], stated, limits)
    add("model", True, f"sha256 {stated} recomputed from the embedded document (and by the kernel){where}")
    return model, net


def _kernel_network(document: dict, stated: str, limits: kernel.Limits) -> kernel.Network:
    try:
        return kernel.bind_model(document, stated, limits)
    except (ValueError, kernel.KernelLimit) as e:
        raise _Failed("model", f"the kernel cannot read the model: {e}") from None


def _check_model_file(m: dict, add: Callable, base: Path | None) -> Model:
    """A certificate that names its model by file: the file must exist, hold a valid
    model and hash to the stated SHA-256. Its bytes are read every time; a file whose
    bytes hash to one already validated in this process is not parsed again."""
    found = _model_file(m["path"], base)
    if found is None:
        raise _Failed("model", f"the certificate names its model by the file {m['path']!r}, which is not found "
                               f"inside the bundle (the certificate's folder and the one above it, or check "
                               f"--models-dir): nothing to check against")
    try:
        data = read_bounded(found, MAX_FILE_BYTES, ModelError, "model")
        key = hashlib.sha256(data).hexdigest()
        if key not in _FILE_MODELS:
            model = model_from_dict(parse_json(data))
            _remember(_FILE_MODELS, key, (model, model_hash(model)))
    except VerisnnError as e:
        raise _Failed("model", f"the model file {found} is not a valid model: {e}") from None
    model, normal = _FILE_MODELS[key]
    problems = []
    if normal != m["sha256"]:
        problems.append(f"the model file {found} hashes to {normal}, not the stated {m['sha256']}")
    if m["name"] != model.name:
        problems.append(f"model.name {m['name']!r} is not the file's model name {model.name!r}")
    if problems:
        raise _Failed("model", "; ".join(problems))
    add("model", True, f"sha256 {normal} recomputed from the model file {found} (the certificate names its model "
                       f"by file; the kernel reads its normal form)")
    return model


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON values: like ``==`` (so 1 and 1.0 are one number), except that true
    and false are not the numbers 1 and 0."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, (dict, list)) or isinstance(b, (dict, list)) or isinstance(a, bool) != isinstance(b, bool):
        return False
    return a == b


def _remember(cache: dict, key, value) -> None:
    if len(cache) >= _CACHE_SIZE:
        cache.pop(next(iter(cache)))  # the oldest entry
    cache[key] = value


def _file_hash(path: Path, document: dict, document_hash: str) -> str:
    """The model hash of the file at ``path``. A file holding exactly the embedded normal
    form (what ``save_model`` writes) has that document's hash; any other file is loaded,
    validated and normalised first. Remembered per SHA-256 of the file's bytes, which are
    read every time."""
    data = read_bounded(path, MAX_FILE_BYTES, ModelError, "model")
    key = (hashlib.sha256(data).hexdigest(), document_hash)
    if key not in _FILE_HASHES:
        _remember(_FILE_HASHES, key, _read_file_hash(path, data, document, document_hash))
    return _FILE_HASHES[key]


def _read_file_hash(path: Path, data: bytes, document: dict, document_hash: str) -> str:
    try:
        same = canonical_json(parse_json(data)) == canonical_json(document)  # exact: 1, 1.0 and true differ here
    except (VerisnnError, TypeError, ValueError):
        same = False
    if same:
        return document_hash
    try:
        return model_hash(model_from_dict(parse_json(data)))
    except ModelError as e:
        raise ModelError(e.message, f"{path.name}: {e.path}" if e.path else path.name) from None


def _model_file(path: str | None, base: Path | None) -> Path | None:
    # only inside the bundle (the certificate's folder, the one above it, check --models-dir):
    # an untrusted certificate cannot make the checker open any file of the machine
    return None if path is None else bundle_file(path, base)


def _check_property(doc: dict, model: Model, add: Callable) -> Property:
    try:
        prop = parse_property(doc["property"])
    except VerisnnError as e:
        raise _Failed("property", f"the property does not parse: {e}") from None
    if not _same(prop.to_dict(), doc["property"]):
        raise _Failed("property", f"the property is not in canonical form: {doc['property']} reads as "
                                  f"{prop.to_dict()}")
    if doc["verdict"] != "error":  # an error answer may be about a property that does not fit the model
        try:
            check_against_model(prop, model, unbounded=prop.horizon == "unbounded")
        except VerisnnError as e:
            raise _Failed("property", f"the property does not fit the model: {e}") from None
    if doc["letters"] is not None:
        letters = np.asarray(doc["letters"])
        if prop.horizon != "unbounded" or letters.ndim != 2 or letters.shape[1] != model.input.size:
            raise _Failed("property", f"letters restrict unbounded properties to input vectors of size "
                                      f"{model.input.size}")
    add("property", True, f"{doc['property']} parses to the same canonical form and fits the model"
        + ("" if doc["letters"] is None else f"; inputs restricted to {len(doc['letters'])} letters"))
    return prop


def _check_verdict(doc: dict, prop: Property, add: Callable) -> None:
    verdict, ev, kind = doc["verdict"], doc["evidence"], doc["evidence"]["kind"]
    needs = {"verified": "a method's proof record", "falsified": "a witness", "unknown": "none", "error": "none"}
    fits = {"verified": kind in ("smt", "enumerate", "bounds", "bab", "cpsat", "kinduction", "pdr", "explore"),
            "falsified": kind == "witness", "unknown": kind == "none", "error": kind == "none"}[verdict]
    if not fits:
        raise _Failed("verdict", f"verdict {verdict!r} with evidence of kind {kind!r}: a {verdict} answer carries "
                                 f"{needs[verdict]}")
    if verdict in ("unknown", "error") and not doc["reason"]:
        raise _Failed("verdict", f"a {verdict} answer says why (reason)")
    if verdict in ("verified", "falsified") and doc["reason"] is not None:
        raise _Failed("verdict", f"a {verdict} answer has no reason (reason is for unknown and error answers)")
    bounded = prop.horizon != "unbounded"
    if verdict == "falsified":
        _check_witness_fields(ev, bounded, isinstance(prop.region, Intensity), doc["centre"])
    if verdict == "verified":
        unbounded_kinds = ("kinduction", "pdr", "explore")
        if bounded == (kind in unbounded_kinds):
            raise _Failed("verdict", f"evidence of kind {kind!r} does not prove a {prop.horizon} property")
        if ev["model_sha256"] != doc["model"]["sha256"]:
            raise _Failed("verdict", f"the evidence names the model {ev['model_sha256']}, the certificate "
                                     f"{doc['model']['sha256']}")
        if not _same(ev["property"], doc["property"]):
            raise _Failed("verdict", f"the evidence names the property {ev['property']}, the certificate "
                                     f"{doc['property']}")
        if "centre_sha256" in ev and (doc["centre"] is None or ev["centre_sha256"] != doc["centre"]["sha256"]):
            raise _Failed("verdict", "the evidence names another centre than the certificate's")
        if "reference_decision" in ev and ev["reference_decision"] != doc["centre"]["reference_decision"]:
            raise _Failed("verdict", "the evidence's reference decision is not the centre's")
        if ("analog_centre" in ev) != isinstance(prop.region, Intensity) or \
                "analog_centre" in ev and not _same(ev["analog_centre"], doc["centre"].get("analog")):
            raise _Failed("verdict", "the evidence's analog centre (analog_centre) is not the centre's analog input")
        bad = _hardware_profile_matches(ev, prop)
        if bad:
            raise _Failed("verdict", bad)
    add("verdict", True, f"{verdict} with evidence of kind {kind}")


def _check_witness_fields(ev: dict, bounded: bool, intensity: bool, centre: dict | None) -> None:
    """The fields of a witness that depend on the property: a bounded one names the
    centre's reference decision and no violation step, an unbounded one the reverse; only
    an intensity region's witness has an analog witness."""
    if bounded:
        if "violation_step" in ev:
            raise _Failed("verdict", "a witness of a bounded property has no violation step (violation_step)")
        if "reference_decision" not in ev or centre is None or ev["reference_decision"] != centre["reference_decision"]:
            raise _Failed("verdict", "the witness's reference decision is not the centre's")
    else:
        if "reference_decision" in ev:
            raise _Failed("verdict", "a witness of an unbounded property has no reference decision")
        if ev["decision"] is not None:  # a run of the witness's own length has no decision over T steps
            raise _Failed("verdict", "a witness of an unbounded property has no decision (decision: null)")
        if "violation_step" not in ev:
            raise _Failed("verdict", "a witness of an unbounded property names its violation step (violation_step)")
    if "analog_witness" in ev and not intensity:
        raise _Failed("verdict", "an analog witness (analog_witness) belongs to intensity regions only")


# ---------------------------------------------------------------- the claims


def _letters(doc) -> np.ndarray | None:
    return None if doc["letters"] is None else np.asarray(doc["letters"], dtype=np.int8)


def _region_size_matches(ev: dict, prop: Property, centre: np.ndarray) -> str | None:
    if "region_size" not in ev or isinstance(prop.region, Intensity):
        return None
    size = region_size(prop.region, centre)
    said = ev["region_size"]  # exact, or the text of a count too long to print (verisnn.limits.count_json)
    if _same(count_json(size), said):
        return None
    said = count_text(said) if isinstance(said, int) else said
    return f"the region has {count_text(size)} rasters, the record says {said}"


def _rerun(doc, model, prop, centre, clock, method: str, **kw):
    """``verify`` again with ``method`` on the certificate's model, property and centre."""
    target = np.asarray(doc["centre"]["analog"], dtype=np.float64) if isinstance(prop.region, Intensity) else centre
    if clock.over():
        raise _TimeUp()
    return verify(model, target, prop, method=method, timeout=clock.left(), **kw)


def _timed(check: Callable) -> Callable:
    def run(doc, model, prop, centre, clock, independent):
        try:
            return check(doc, model, prop, centre, clock, independent)
        except (_TimeUp, DeadlineReached):
            return False, TIME_UP
    return run


def _hardware_profile_matches(ev: dict, prop: Property) -> str | None:
    hardware = isinstance(prop.condition, HARDWARE_CONDITIONS)
    if "hardware_profile" not in ev:
        return None if not hardware else "the record lacks the hardware profile"
    if not hardware:
        return "the record has a hardware profile, but the condition is not a hardware one"
    from .hardware import load_profile

    now = plain(load_profile(prop.condition.profile).to_dict())
    return None if _same(now, ev["hardware_profile"]) else \
        f"the hardware profile {prop.condition.profile!r} differs from the one recorded"


def _agree(result, what: str) -> tuple[bool, str] | None:
    if result.verdict == "verified":
        return None
    if result.verdict == "unknown" and "timeout" in (result.reason or ""):
        raise _TimeUp()
    return False, f"{what} answers {result.verdict}" + (f" ({result.reason})" if result.reason else "") + \
        ", not verified"


@_timed
def _check_cpsat(doc, model, prop, centre, clock, independent):
    ev = doc["evidence"]
    bad = _region_size_matches(ev, prop, centre)
    if bad:
        return False, bad
    size = region_size(prop.region, centre)  # the record's, exactly (it may hold only its text)
    if not isinstance(prop.region, (Flips, Deletions, Insertions, AnyInput)):  # the regions CP-SAT encodes
        return False, f"CP-SAT does not decide {next(iter(prop.region.to_dict()))} regions: not a CP-SAT record"
    if size <= ENUMERATE_RECHECK_MAX:
        r = _rerun(doc, model, prop, centre, clock, "enumerate", max_region=max(size, 1))
        how = "plain enumeration"
    else:
        r = _rerun(doc, model, prop, centre, clock, "bab") if size <= BAB_MAX_REGION else None
        how = "the step-by-step tree (exhaustive)"
        if (r is None or r.verdict == "unknown") and not isinstance(prop.condition, HARDWARE_CONDITIONS):
            r = _rerun(doc, model, prop, centre, clock, "smt", solver="z3-native")
            how = "the SMT encoding solved by z3"
    if r is None:
        return False, "no method other than CP-SAT decides this region: not validated"
    disagreement = _agree(r, how)
    if disagreement:
        return disagreement
    return True, f"re-decided without CP-SAT by {how}: verified ({count_text(size)} rasters)"


@_timed
def _check_smt(doc, model, prop, centre, clock, independent):
    from .encodings.smt import EncodingTimeout, encode, parse_smtlib, solve

    ev = doc["evidence"]
    text = ev["smtlib"]
    if sha256_text(text) != ev["smtlib_sha256"]:
        return False, f"the obligation hashes to {sha256_text(text)}, not the stated {ev['smtlib_sha256']}"
    bad = _region_size_matches(ev, prop, centre)
    if bad:
        return False, bad
    logic = {"QF_LIA": "lia", "QF_BV": "bv"}[ev["logic"]]
    builder = "z3-native" if ev["solver"] == "z3-native" else "z3"  # the text depends on the term API only
    try:
        again = encode(model, centre, prop, deadline=clock.deadline, logic=logic, solver=builder).to_smtlib()
    except EncodingTimeout:
        raise _TimeUp() from None
    if again != text:
        return False, (f"the obligation is not the encoding of the stated model, property and centre (it hashes to "
                       f"{ev['smtlib_sha256']}; re-encoded in {ev['logic']}: {sha256_text(again)})")
    # the other family first (independence), then the stated solver's family (the claim that it said unsat)
    other, stated = OTHER_SOLVER[ev["solver"]], SOLVER_FAMILY[ev["solver"]]
    formula, env = parse_smtlib(text)
    for solver in (other, stated):
        answer = solve(formula, env, solver, clock.left(), ev["logic"])
        if answer.answer == "unknown":
            if "timeout" in (answer.reason or ""):
                raise _TimeUp()
            return False, f"{solver} answers unknown on the obligation ({answer.reason}): not validated"
        if answer.answer != "unsat":
            return False, f"{solver} answers {answer.answer} on the obligation: a counterexample exists, not unsat"
    return True, (f"the obligation ({len(text)} characters, sha256 {ev['smtlib_sha256'][:16]}...) is the re-encoding "
                  f"of the model, property and centre; {ev['solver']} said unsat, {other} re-solved it: unsat, and "
                  f"{stated} again: unsat")


# ---------------------------------------------------------------- unbounded claims


def _transition_system(doc, model, prop):
    """The transition system of the property, with the invariant box recomputed and compared."""
    from .encodings.transition import TransitionSystem, reachable_box

    ev = doc["evidence"]
    letters = _letters(doc)
    monitor = monitor_for(prop.condition, model)
    layout = StateLayout(model, monitor)
    n = model.input.size
    in_lo = np.zeros(n, dtype=np.int64) if letters is None else letters.min(axis=0).astype(np.int64)
    in_hi = np.ones(n, dtype=np.int64) if letters is None else letters.max(axis=0).astype(np.int64)
    box = reachable_box(layout, in_lo, in_hi)
    if not _same(plain(box.to_json()), ev["box"]):
        raise _Failed(ev["kind"], "the recomputed invariant box differs from the recorded one")
    return TransitionSystem(model, monitor, letters=letters, box=box)


def _solve_z3_query(ts, query, clock) -> tuple[str, str]:
    """Satisfiability of a z3 query of the transition system, by cvc5 (the query printed as
    SMT-LIB and read by pysmt); z3's plain solver if pysmt cannot read it. ``(answer, solver)``."""
    import z3

    from .encodings.smt import parse_smtlib, solve

    s = z3.Solver(ctx=ts.ctx)
    s.add(query)
    body = s.to_smt2()
    # A PDR invariant may quantify over integers (Spacer's own answer); cvc5 does not decide
    # those queries in minutes, so they go to z3's plain solver, like a print pysmt cannot read.
    quantified = "(exists " in body or "(forall " in body
    try:
        if quantified:
            raise ValueError("quantified")
        formula, env = parse_smtlib("(set-logic QF_LIA)\n" + body)
    except Exception:  # pysmt cannot read every z3 print: z3's plain (non-Spacer) solver then
        if clock.deadline is not None:
            s.set("timeout", max(1, int(clock.left() * 1000)))
        r = s.check()
        if r == z3.unknown:
            check_z3_reason(s.reason_unknown())  # a Ctrl-C z3 caught interrupts the check, it does not fail it
        return str(r), "z3"
    return solve(formula, env, "cvc5", clock.left(), "QF_LIA").answer, "cvc5"


def _expect_unsat(ts, kind: str, name: str, query, clock) -> str:
    """The solver that found ``query`` unsat; a failed ``kind`` check otherwise."""
    answer, solver = _solve_z3_query(ts, query, clock)
    if answer == "unknown":
        if clock.over():
            raise _TimeUp()
        raise _Failed(kind, f"{solver} answers unknown on the {name} query: not validated")
    if answer != "unsat":
        raise _Failed(kind, f"{solver} answers {answer} on the {name} query, not unsat")
    return solver


def _state_names_match(ev: dict, ts) -> None:
    if list(ev["state_names"]) != list(ts.names):
        raise _Failed(ev["kind"], "the recorded state names are not the transition system's")


def _query_terms(model: Model, ts, steps: int, pairs: int) -> int:
    """About how many term nodes a query of ``steps`` transitions and ``pairs`` state
    comparisons takes (to budget its memory before building it)."""
    dim, letters = len(ts.names), 0 if ts.letters is None else ts.letters.size
    synapses = sum(layer.synapses() + (0 if layer.recurrent is None else layer.recurrent.size)
                   for layer in model.layers)
    return steps * (2 * synapses + 10 * dim + 2 * letters) + 2 * pairs * dim


@_timed
def _check_kinduction(doc, model, prop, centre, clock, independent):
    ts = _transition_system(doc, model, prop)
    _state_names_match(doc["evidence"], ts)
    t = ts.terms
    k = doc["evidence"]["depth"]  # at most MAX_KINDUCTION_DEPTH (the schema)
    require_memory(_query_terms(model, ts, 2 * k, k * (k + 1) // 2) * TERM_BYTES,
                   f"the {k}-step k-induction queries")
    # base: no violation at any of the first k steps from the initial state
    state, parts, bads = ts.initial(), [], [ts.bad(ts.initial())]
    for d in range(k):
        if clock.over():
            raise _TimeUp()
        x, cx = ts.inputs(f"b{d}")
        state, defs = ts.step(state, x)
        parts += [cx, defs]
        bads.append(ts.bad(state))
    base = ts.expr(t.and_(parts + [t.or_(bads)]))
    # induction: k violation-free steps along a loop-free path from the box cannot end in one
    s0, dom = ts.state("k0")
    path, parts = [s0], [dom]
    for i in range(1, k + 1):
        if clock.over():
            raise _TimeUp()
        x, cx = ts.inputs(f"k{i}")
        nxt, defs = ts.step(path[-1], x)
        parts += [cx, defs, t.not_(ts.bad(path[-1]))] + [t.not_(ts.equal(nxt, e)) for e in path]
        path.append(nxt)
    step = ts.expr(t.and_(parts + [ts.bad(path[-1])]))
    solvers = {_expect_unsat(ts, "kinduction", "base", base, clock),
               _expect_unsat(ts, "kinduction", "induction", step, clock)}
    return True, (f"rebuilt the {k}-step base and induction queries (box recomputed, the same): "
                  f"both unsat by {' and '.join(sorted(solvers))}")


@_timed
def _check_pdr(doc, model, prop, centre, clock, independent):
    import z3

    ev = doc["evidence"]
    if sha256_text(ev["invariant"]) != ev["invariant_sha256"]:
        return False, "the invariant's text does not match its hash"
    ts = _transition_system(doc, model, prop)
    _state_names_match(ev, ts)
    require_memory(_query_terms(model, ts, 1, 1) * TERM_BYTES, "the PDR re-check queries")
    s, dom = ts.state("s")
    x, cx = ts.inputs("")
    nxt, defs = ts.step(s, x)
    primed, _ = ts.state("n")
    S = [ts.expr(v) for v in s]
    P = [ts.expr(v) for v in primed]
    try:  # read in the term grammar through the z3 API: no solver ever reads the text
        inv = parse_term(ev["invariant"], {v.decl().name(): v for v in S}, ts.ctx)
    except VerisnnError as e:
        return False, f"the invariant is not valid: {e}"
    init = [ts.expr(v) for v in ts.initial()]
    trans = z3.And(ts.expr(dom), ts.expr(cx), ts.expr(defs), ts.expr(ts.equal(primed, nxt)))
    queries = {"initiation": z3.Not(z3.substitute(inv, *zip(S, init))),
               "consecution": z3.And(inv, trans, z3.Not(z3.substitute(inv, *zip(S, P)))),
               "safety": z3.And(inv, ts.expr(dom), ts.expr(ts.bad(s)))}
    solvers = {_expect_unsat(ts, "pdr", name, q, clock) for name, q in queries.items()}
    return True, (f"the invariant ({len(ev['invariant'])} characters) read in the term grammar and re-checked with a "
                  f"plain solver ({' and '.join(sorted(solvers))}, not Spacer): initiation, consecution and safety "
                  f"unsat")


@_timed
def _check_explore(doc, model, prop, centre, clock, independent):
    from .unbounded import verify_unbounded

    ev = doc["evidence"]
    states = ev["reachable_states"]  # at most 10^9 (the schema)
    dim = StateLayout(model, monitor_for(prop.condition, model)).dim
    require_memory(states * (8 * dim + 200), f"exploring {states} states of {dim} components")
    r = verify_unbounded(model, prop, method="explore", timeout=clock.left(), max_states=states,
                         letters=_letters(doc))
    disagreement = _agree(r, "re-exploration")
    if disagreement:
        return disagreement
    if (r.evidence["reachable_states"], r.evidence["letters"]) != (ev["reachable_states"], ev["letters"]):
        return False, (f"re-exploration reaches {r.evidence['reachable_states']} states over "
                       f"{r.evidence['letters']} letters, the record says {ev['reachable_states']} over "
                       f"{ev['letters']}")
    return True, f"re-explored all {ev['reachable_states']} reachable states: none violates"


# ---------------------------------------------------------------- costs and tools


def _tools_detail(recorded: dict) -> str:
    now = tool_versions()
    differ = [f"{k} {recorded.get(k)} -> {now.get(k)}" for k in sorted(now) if recorded.get(k) != now.get(k)]
    return "checked with the same tool versions" if not differ else \
        "produced with other tool versions (" + ", ".join(differ) + ")"


# The claims the kernel cannot re-derive alone on a region too large to enumerate (and unbounded
# solver proofs), and what each then trusts.
TRUSTED = {"smt": "the engine's SMT encoding (verisnn.encodings.smt) and the solvers z3 and cvc5",
           "cpsat": "the engine's re-decision without CP-SAT (its step-by-step tree, or its SMT encoding and z3)",
           "kinduction": "the engine's transition system (verisnn.encodings.transition) and the solvers cvc5 / z3",
           "pdr": "the engine's transition system (verisnn.encodings.transition) and the solvers cvc5 / z3"}


def _intensity_listing(doc: dict, model: Model, prop: Property):
    """The engine's exact listing of an intensity region (for a delta encoder, which the
    kernel cannot list), centre first."""
    from .intensity import intensity_region

    region = intensity_region(model, np.asarray(doc["centre"]["analog"], dtype=np.float64), prop.region)
    return region.iter_batches(4096)


def _trusted(kind: str, check: Callable) -> Callable:
    def recheck(doc, model, prop, centre, clock, independent):
        ok, detail = check(doc, model, prop, centre, clock, independent)
        return ok, (f"{detail}; trusted: {TRUSTED[kind]}" if ok else detail)
    return recheck


_RECHECKS = {"smt": _trusted("smt", _check_smt), "cpsat": _trusted("cpsat", _check_cpsat),
             "kinduction": _trusted("kinduction", _check_kinduction), "pdr": _trusted("pdr", _check_pdr),
             "explore": _check_explore}  # after the kernel's own search: the record's count


__all__ = ["Check", "CheckReport", "certificate_files", "check_certificate", "check_certificates"]
