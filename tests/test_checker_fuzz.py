"""Fuzzing the checker with hostile certificates (hypothesis).

Genuine certificates of every kind (falsified witnesses, bounded and unbounded;
enumerate, bab, bounds, smt, cpsat, kinduction, pdr and explore proofs; unknown) are
mutated one field at a time — a value replaced (huge numbers, long strings, SMT-LIB
commands naming files, deep nesting, other types), a key inserted or deleted, or a PDR
invariant / SMT obligation extended by injected commands with its hash updated — and
checked from an empty working folder. Whatever the document:

* the checker returns a report, never raises;
* it answers within its time limit plus :data:`SLACK` seconds;
* no file appears in the working folder or the folder the injected commands name;
* a document that differs from the genuine one in a *bound* field (:func:`bound`:
  everything but the informative fields and the inputs of a claim that another value may
  make true again) is never valid. Documents are compared canonically (1 and 1.0 are one
  number), so a mutation that changes nothing is not held against the checker.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from test_checker_security import genuine
from verisnn.checker import check_certificate

KINDS = ["enumerate-falsified", "unbounded-falsified", "enumerate", "bab", "bounds", "smt-z3", "cpsat", "kinduction",
         "pdr", "explore", "unknown", "intensity"]
TIMEOUT = 2.0  # the check's time limit, seconds
SLACK = 3.0  # what a check may overrun it by: the unbounded parts (reading, hashing, one simulation) of tiny models
TMP = "{TMP}"  # stands for the example's folder in drawn strings
INFORMATIVE = ("timings", "tools", "details", "created")


def injections() -> list[str]:
    out = f"{TMP}/planted.pth"
    return [f') (set-option :regular-output-channel "{out}") (echo "import os") (assert true',
            f'(set-option :diagnostic-output-channel "{out}")', '(echo "x")', "(get-info :all-statistics)",
            f'(assert true)\n(set-option :regular-output-channel "{out}")\n(echo "y")',
            "__import__('os').system('touch planted')", f"{TMP}/model.snn.json", "../../../../etc/passwd", "cvc5",
            "z3-native", "unsat", "verified", "", " ", "\u0000", "s_h0_1", "(not (>= s_h0_1 1))"]


def deep(levels: int):
    value: object = 0
    for _ in range(levels):
        value = [value]
    return value


HOSTILE = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.integers(),
    st.sampled_from([10**6, 10**12, 2**63, -2**63, 10**100, 10**400, 10**1000]),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12), st.sampled_from(injections()),
    st.just("x" * 100_000), st.integers(1, 300).map(deep), st.lists(st.integers(0, 1), max_size=4),
    st.dictionaries(st.text(max_size=4), st.integers(-2, 2), max_size=3))


def paths(doc, prefix=(), depth=6):
    """The paths of ``doc``'s values (of long lists, the first and the last element)."""
    if depth == 0:
        return
    items = doc.items() if isinstance(doc, dict) else \
        [(i, doc[i]) for i in sorted({0, len(doc) - 1})] if isinstance(doc, list) and doc else []
    for key, value in items:
        yield prefix + (key,)
        yield from paths(value, prefix + (key,), depth - 1)


def bound(gen: dict, doc: dict, path: tuple) -> bool:
    """Whether the mutated document ``doc``, which differs from ``gen`` at ``path``, must
    not be valid."""
    top, rest = path[0], path[1:]
    verdict, kind = gen["verdict"], gen["evidence"]["kind"]
    unbounded = gen["centre"] is None
    if top in INFORMATIVE or path == ("model", "path"):
        return False  # informative; a model file that is not found is noted and the embedded model used
    if top == "reason":
        return verdict in ("verified", "falsified")
    if top == "property":  # a falsified or unknown answer about another property can be just as true
        return verdict == "verified"
    if top == "letters":  # another alphabet of an unbounded property can give a true claim too
        return not unbounded
    if top == "costs" and (rest[:1] == ("profile",) or not rest and doc.get("costs", 0) is None):
        return False  # a profile whose edits leave the costs alone; no costs at all (they are optional)
    if top == "evidence" and (kind, rest[:1]) in (("kinduction", ("depth",)), ("smt", ("solver",))):
        return False  # another depth or the other solver family: a claim the checker re-establishes
    return True


def canonical(x) -> str:
    def norm(v):
        if isinstance(v, dict):
            return {k: norm(w) for k, w in v.items()}
        if isinstance(v, list):
            return [norm(w) for w in v]
        if isinstance(v, float) and v.is_integer():
            return int(v)
        return v
    return json.dumps(norm(x), sort_keys=True)


def _get(doc, path):
    for key in path:
        doc = doc[key]
    return doc


@st.composite
def mutants(draw):
    """``(case, genuine document, mutated document, the path changed, (text, hash) fields to
    rehash or None)``; strings hold :data:`TMP` for the example's folder."""
    case = draw(st.sampled_from(KINDS))
    gen = genuine(case)
    doc = copy.deepcopy(gen)
    kind = gen["evidence"]["kind"]
    op = draw(st.sampled_from(["replace", "replace", "insert", "delete", "inject"]))
    if op == "inject" and kind in ("pdr", "smt"):  # commands after the genuine text, the hash updated to match
        text, digest = ("invariant", "invariant_sha256") if kind == "pdr" else ("smtlib", "smtlib_sha256")
        doc["evidence"][text] += draw(st.sampled_from(injections()[:5]))
        return case, gen, doc, ("evidence", text), (text, digest)
    by_field: dict[str, list] = {}
    for path in paths(gen):
        by_field.setdefault(path[0], []).append(path)
    fields = sorted(by_field) + ["evidence", "evidence", "centre"]  # where most of the checks are
    path = draw(st.sampled_from(by_field[draw(st.sampled_from([f for f in fields if f in by_field]))]))
    parent, key = _get(doc, path[:-1]), path[-1]
    if op == "inject":
        parent[key] = draw(st.sampled_from(injections()))
    elif op == "replace":
        parent[key] = draw(HOSTILE)
    elif op == "delete":
        del parent[key]
    elif isinstance(parent, dict):
        path = path[:-1] + (draw(st.text(min_size=1, max_size=8)),)
        parent.setdefault(path[-1], draw(HOSTILE))
    else:
        parent.insert(key, draw(HOSTILE))
    return case, gen, doc, path, None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutant=mutants(), from_file=st.booleans())
def test_a_mutated_certificate_never_runs_code_overruns_or_passes(mutant, from_file):
    case, gen, doc, path, rehash = mutant
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as work, tempfile.TemporaryDirectory() as docs:
        text = json.dumps(doc)
        doc = json.loads(text.replace(TMP, work)) if TMP in text else doc
        if rehash:
            text, digest = rehash
            doc["evidence"][digest] = hashlib.sha256(doc["evidence"][text].encode()).hexdigest()
        source = doc
        if from_file:
            source = Path(docs) / "certificate.json"
            source.write_text(json.dumps(doc))
        os.chdir(work)
        try:
            t0 = time.perf_counter()
            report = check_certificate(source, timeout=TIMEOUT)
            elapsed = time.perf_counter() - t0
        except Exception as e:  # a document the reader refuses (from a file) is an InputError: a clear answer
            from verisnn.errors import InputError

            assert from_file and isinstance(e, InputError), f"{type(e).__name__}: {e}"
            report, elapsed = None, 0.0
        finally:
            os.chdir(here)
        assert elapsed < TIMEOUT + SLACK, (case, path, elapsed)
        assert list(Path(work).rglob("*")) == [], (case, path)
        assert [p.name for p in Path(docs).rglob("*")] == (["certificate.json"] if from_file else [])
        if report is not None and canonical(doc) != canonical(gen) and bound(gen, doc, path):
            assert not report.valid, (case, path)


def test_the_fuzzed_kinds_are_genuine_and_valid():
    """The starting points: every kind checks valid as produced, within the fuzz's limits."""
    for case in KINDS:
        t0 = time.perf_counter()
        report = check_certificate(genuine(case), timeout=TIMEOUT)
        assert report.valid and time.perf_counter() - t0 < TIMEOUT + SLACK, case
