"""The checker holds against hostile certificates (issue 14, items 1, 2 and 9).

* a PDR invariant is read in a small term grammar through the z3 API: SMT-LIB commands
  injected into it (``(set-option :regular-output-channel ...)``, ``(echo ...)``) write no
  file and the certificate is not valid, with or without a genuine invariant before them;
  z3's own prints of real invariants (``let`` bindings, negative numerals) read back to
  the same text;
* every loop a certificate drives is bounded by the schema and the time limit: a
  k-induction depth of 100000 or 10^400 is refused at once, the schema's largest depth
  stops at ``--timeout``, and queries larger than the memory budget are refused before
  they are built;
* every field a certificate carries is checked or refused by the schema: editing any of
  the fields that once went unchecked makes a genuine certificate not valid.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import z3

from test_certificate import CASES, answer, counter_model
from verisnn import cli
from verisnn.certificate import evidence_fields, make_certificate, schema
from verisnn.checker import check_certificate
from verisnn.errors import VerisnnError
from verisnn.limits import set_memory_budget
from verisnn.model import Dense, InputSpec, Model, Neuron, Readout
from verisnn.properties import AnyInput, NeverFires, Property
from verisnn.smt_terms import (MAX_CHARS, MAX_DEPTH, MAX_DIGITS, MAX_EXPANDED_NODES, MAX_TOKENS, expanded_size,
                               parse_term, tokens)
from verisnn.verify import raster_sha256

ROOT = Path(__file__).resolve().parents[1]

# z3's print (invariant.sexpr()) of the robot controller's PDR invariant: nested lets,
# negative numerals, n-ary sums
ROBOT_INVARIANT = (
    "(let ((a!1 (not (>= (+ (* 64 s_l0_v_1) (* (- 1) s_l0_v_0)) (- 15))))\n"
    "      (a!3 (or (not (>= s_h3_2 1)) (not (>= (+ s_h3_1 s_h1_1 s_h0_1 s_h2_1) 1))))\n"
    "      (a!4 (not (>= (+ (* 64 s_l0_v_1) (* (- 1) s_l0_v_0)) (- 31)))))\n"
    "(let ((a!2 (or (not (<= s_l0_v_0 63)) (not (>= (+ s_h3_1 s_h1_1 s_h2_1) 1)) a!1))\n"
    "      (a!5 (or (not (>= (+ s_h3_1 s_h2_1) 1)) (not (<= s_l0_v_0 63)) a!4)))\n"
    "  (and a!2 a!3 (or (not (<= s_l0_v_0 63)) (not (>= s_h3_1 1))) a!5)))")
INJECTION = ') (set-option :regular-output-channel "{path}") (echo "import os") (assert true'


@functools.lru_cache(maxsize=None)
def _genuine(name: str) -> str:
    if name == "robot-pdr":
        model, prop = robot()
        from verisnn.unbounded import verify_unbounded

        result = verify_unbounded(model, prop, method="pdr", timeout=60)
        return json.dumps(make_certificate(model, prop, None, result))
    _, make_model, centre, prop, kw, verdict, kind = next(c for c in CASES if c[0] == name)
    model, result = answer(make_model, centre, prop, kw)
    assert result.verdict == verdict, (name, result.reason)
    bounded = prop.horizon == "bounded"
    return json.dumps(make_certificate(model, prop, centre, result, costs="loihi" if bounded else None))


def genuine(name: str) -> dict:
    """A fresh copy of a genuine certificate: a case of test_certificate.CASES (embedding
    its model, with costs for bounded properties), or ``robot-pdr``."""
    return json.loads(_genuine(name))


def robot() -> tuple[Model, Property]:
    spec = importlib.util.spec_from_file_location("robot_build", ROOT / "case_studies" / "robot" / "build.py")
    build = sys.modules.get(spec.name) or importlib.util.module_from_spec(spec)
    if spec.name not in sys.modules:
        sys.modules[spec.name] = build  # its dataclasses look their module up
        spec.loader.exec_module(build)
    from verisnn.properties import load_property

    return build.controller("safe"), load_property(build.PROPERTY)


def failed(report) -> dict[str, str]:
    return {c.name: c.detail for c in report.checks if not c.ok}


def rehash_invariant(cert: dict, text: str) -> None:
    cert["evidence"]["invariant"] = text
    cert["evidence"]["invariant_sha256"] = hashlib.sha256(text.encode()).hexdigest()


# ---------------------------------------------------------------- item 1: no command reaches a solver


@pytest.mark.parametrize("prefix", ["", "genuine"])
def test_an_invariant_with_injected_commands_writes_no_file_and_is_not_valid(tmp_path, monkeypatch, prefix):
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "planted.pth"
    cert = genuine("robot-pdr")
    head = cert["evidence"]["invariant"] if prefix else "true"
    for text in (head + INJECTION.format(path=target), head + " " + INJECTION.format(path=target.name)):
        for rehashed in (False, True):
            doc = copy.deepcopy(cert)
            if rehashed:  # the forger updates the hash: the grammar must refuse it
                rehash_invariant(doc, text)
            else:
                doc["evidence"]["invariant"] = text
            report = check_certificate(doc, timeout=30)
            assert not report.valid
            assert not target.exists() and not (tmp_path / target.name).exists()
            detail = failed(report)["pdr"]
            assert ("not valid" in detail and "more than one term" in detail) if rehashed else "hash" in detail
    assert list(tmp_path.iterdir()) == []


def test_a_genuine_pdr_certificate_with_let_bindings_is_valid():
    cert = genuine("robot-pdr")
    assert "(let" in cert["evidence"]["invariant"]
    report = check_certificate(cert, timeout=60)
    assert report.valid, failed(report)
    assert "read in the term grammar" in next(c.detail for c in report.checks if c.name == "pdr")


def _vars(text: str, ctx: z3.Context) -> dict:
    import re

    return {name: z3.Int(name, ctx) for name in set(re.findall(r"s_[A-Za-z0-9_]+", text))}


@pytest.mark.parametrize("text", [ROBOT_INVARIANT, "(not (>= s_h0_1 1))", "(= s_h0_1 0)",
                                  "(let ((a!1 (not (>= (+ (* 3 s_l0_v_0) (* 2 s_l0_v_1)) 1))))\n"
                                  "  (and a!1 (not (>= s_h0_1 2))))"])
def test_z3_prints_of_real_invariants_read_back_to_the_same_term(text):
    ctx = z3.Context()
    term = parse_term(text, _vars(text, ctx), ctx)
    assert term.sexpr() == text
    solver = z3.Solver(ctx=ctx)  # and the same formula as z3's own reader makes of it
    solver.add(term != z3.parse_smt2_string(f"(assert {text})", decls=_vars(text, ctx), ctx=ctx)[0])
    assert solver.check() == z3.unsat


def test_the_grammar_covers_every_operator():
    ctx = z3.Context()
    x, y = z3.Int("x", ctx), z3.Int("y", ctx)
    text = ("(and (=> (< x 1) (> y (- 2)) (distinct x y)) (= (ite (<= x y) x y) (- x (* 2 y) 3)) (or false true)"
            " (>= (+ x y) (- y)) (= (- 7) (* (- 7) 1)) (= true (not false)) (<= 0 x 5))")
    term = parse_term(text, {"x": x, "y": y}, ctx)
    want = z3.And(z3.Implies(x < 1, z3.Implies(y > -2, x != y)), z3.If(x <= y, x, y) == x - 2 * y - 3,
                  x + y >= -y, 0 <= x, x <= 5)
    solver = z3.Solver(ctx=ctx)
    solver.add(term != want)
    assert solver.check() == z3.unsat


def test_quantified_invariants_as_spacer_prints_them_read_back_to_the_same_formula():
    """Spacer may return an invariant that quantifies over integers, with weight annotations."""
    ctx = z3.Context()
    text = ("(let ((a!1 (exists ((x!1 Int) (x!2 Int))\n"
            "             (! (and (= s_h0_0 (+ x!1 x!2)) (<= 0 x!1 1) (<= 0 x!2 1)) :weight 0 :qid k!3))))\n"
            "  (and a!1 (forall ((y Int)) (=> (< y 0) (< y s_h0_1)))))")
    variables = _vars(text, ctx)
    term = parse_term(text, variables, ctx)
    solver = z3.Solver(ctx=ctx)
    solver.add(term != z3.parse_smt2_string(f"(assert {text})", decls=variables, ctx=ctx)[0])
    assert solver.check() == z3.unsat
    h0, h1 = variables["s_h0_0"], variables["s_h0_1"]
    solver = z3.Solver(ctx=ctx)  # and it means what it says: 0 <= h0 <= 2 and h1 >= 0
    solver.add(term != z3.And(0 <= h0, h0 <= 2, h1 >= 0))
    assert solver.check() == z3.unsat


def test_a_pdr_certificate_whose_invariant_quantifies_is_valid_and_its_edit_is_not():
    from test_cli import tiny_model
    from verisnn.properties import parse_property
    from verisnn.unbounded import verify_unbounded

    model = tiny_model()
    prop = parse_property({"region": "any", "condition": {"window_spikes_at_most": {"window": 2, "spikes": 8}},
                           "horizon": "unbounded"})
    result = verify_unbounded(model, prop, method="pdr", timeout=60)
    assert result.verdict == "verified", result.reason
    cert = make_certificate(model, prop, None, result)
    assert "(exists" in cert["evidence"]["invariant"] and ":weight" in cert["evidence"]["invariant"]
    report = check_certificate(cert, timeout=60)
    assert report.valid, failed(report)
    weaker = copy.deepcopy(cert)  # (the property holds on the whole box, so only initiation can fail here)
    weaker["evidence"]["invariant"] = "(exists ((x!1 Int)) (! (and (= x!1 s_h1_1) (< x!1 s_h1_1)) :weight 0))"
    weaker["evidence"]["invariant_sha256"] = hashlib.sha256(weaker["evidence"]["invariant"].encode()).hexdigest()
    assert not check_certificate(weaker, timeout=60).valid


REFUSED = [  # (text, words of the error)
    ('(assert true) (echo "x")', "more than one term"),
    ('(echo "x")', "not a symbol of the term grammar"),
    ("(set-option :regular-output-channel out.txt)", "not a symbol of the term grammar"),
    ("(and true |a b|)", "not a symbol"),
    ("(and true \"text\")", "not a symbol"),
    ("(and true ; comment\n true)", "not a symbol"),
    ("(> s_unknown 0)", "neither a state variable nor a let-bound name"),
    ("(declare-fun f () Int)", "not a symbol"),
    ("(f x)", "not an operator"),
    ("(> x 1.5)", "not a numeral"),
    ("(> x #x0f)", "not a symbol"),
    ("(> x 007)", "not a numeral"),
    ("(> (* x x) 0)", "linear arithmetic"),
    ("(and x true)", "takes formulas"),
    ("(+ x true)", "takes integers"),
    ("(= x true)", "of one sort"),
    ("(+ x 1)", "an integer, not a formula"),
    ("(not true false)", "one formula"),
    ("(ite true x false)", "two branches of one sort"),
    ("(let ((x 1)) (> x 0))", "cannot be a let-bound name"),
    ("(let ((a 1) (a 2)) (> a 0))", "bound twice"),
    ("(let ((a 1)) (> a 0) true)", "a let is"),
    ("((and) true)", "not an operator"),
    ("()", "empty application"),
    ("(and true", "without their ')'"),
    ("true)", "more than one term"),
    (")(", "without its '('"),
    ("", "empty"),
    ("(> x \u00e9)", "printable ASCII"),
    ("and", "neither a state variable"),
    ("+", "not applied"),
    ("(exists ((y Bool)) y)", "binds integers"),
    ("(exists ((x Int)) (> x 0))", "cannot be a exists-bound name"),
    ("(forall ((y Int) (y Int)) (> y 0))", "bound twice"),
    ("(exists () true)", "a quantifier is"),
    ("(exists ((y Int)) (+ y 1))", "a formula, not an integer"),
    ("(! true :pattern ((> x 0)))", "not a symbol"),
    ("(! true true false)", "not an attribute"),
    ("(! true :weight)", "an annotation is"),
    ("(! true :weight x)", "takes a numeral"),
    ("(and :weight true)", "outside an annotation"),
]


@pytest.mark.parametrize("text,words", REFUSED)
def test_texts_outside_the_grammar_are_refused_before_any_term_is_built(text, words):
    ctx = z3.Context()
    with pytest.raises(VerisnnError) as e:
        parse_term(text, {"x": z3.Int("x", ctx)}, ctx)
    assert words in e.value.message, e.value.message


def test_size_limits_are_checked_before_parsing():
    limits = [("(and " + "true " * MAX_TOKENS + ")", "tokens"),
              ("(not " * (MAX_DEPTH + 1) + "true" + ")" * (MAX_DEPTH + 1), "nested deeper"),
              (f"(> x {'9' * (MAX_DIGITS + 1)})", "digits"),
              ("(and true" + " " * MAX_CHARS + ")", "characters")]
    for text, words in limits:
        t0 = time.perf_counter()
        with pytest.raises(VerisnnError, match=words):
            tokens(text)
        assert time.perf_counter() - t0 < 2
    ctx = z3.Context()
    deep = "(not " * MAX_DEPTH + "true" + ")" * MAX_DEPTH  # at the limit: read
    assert z3.is_bool(parse_term(deep, {}, ctx))


def test_let_chains_are_read_shared_and_refused_when_they_expand_past_the_limit():
    """``(let ((a1 (+ x x))) (let ((a2 (+ a1 a1))) ...))`` stands for a tree of 2^k nodes. A
    short chain is read as the shared term it is; a chain of 100 (2^100 nodes written out,
    which a solver or printer would expand: 2 GB, then bad_alloc) is refused, quickly."""
    def chain(k: int) -> str:
        text, name = "", "x"
        for i in range(k):
            text += f"(let ((a!{i} (+ {name} {name}))) "
            name = f"a!{i}"
        return text + f"(>= {name} 0)" + ")" * k

    ctx = z3.Context()
    x = z3.Int("x", ctx)
    term = parse_term(chain(10), {"x": x}, ctx)
    assert expanded_size(term, MAX_EXPANDED_NODES) == 2 ** 11 + 1  # (>= a!9 0): 2^11 - 1 sums and x's, 0, >=
    solver = z3.Solver(ctx=ctx)
    solver.add(term != (1024 * x >= 0))
    assert solver.check() == z3.unsat
    t0 = time.perf_counter()
    with pytest.raises(VerisnnError, match="without its let-sharing has more than the 1,000,000 nodes"):
        parse_term(chain(100), {"x": x}, ctx)
    assert time.perf_counter() - t0 < 2


# ---------------------------------------------------------------- item 2: bounded loops, the time limit, memory


@pytest.mark.parametrize("depth", [100_000, 10**400])
def test_a_huge_k_induction_depth_is_refused_at_once(depth):
    cert = genuine("kinduction")
    cert["evidence"]["depth"] = depth
    t0 = time.perf_counter()
    report = check_certificate(cert, timeout=10)
    assert time.perf_counter() - t0 < 2
    assert not report.valid and "evidence.depth" in failed(report)["schema"]


def test_check_answers_a_huge_depth_on_the_command_line(tmp_path, capsys):
    cert = genuine("kinduction")
    cert["evidence"]["depth"] = 10**400
    path = tmp_path / "deep.json"
    path.write_text(json.dumps(cert))
    t0 = time.perf_counter()
    code = cli.main(["check", str(path), "--timeout", "10", "--json"])
    answer = json.loads(capsys.readouterr().out)
    assert code == 0 and answer["valid"] is False and time.perf_counter() - t0 < 5


def test_the_largest_depth_the_schema_allows_stops_at_the_time_limit():
    from verisnn.unbounded import MAX_KINDUCTION_DEPTH

    cert = genuine("kinduction")
    cert["evidence"]["depth"] = MAX_KINDUCTION_DEPTH  # about 8 s to check in full
    t0 = time.perf_counter()
    report = check_certificate(cert, timeout=0.3)
    assert time.perf_counter() - t0 < 0.3 + 1.0
    assert not report.valid and "time limit" in failed(report)["kinduction"]


def test_work_the_document_makes_huge_stops_at_the_time_limit():
    """Counting a flips region of 100,000 bits on a 20,000-step model takes seconds: a check
    keeps its time limit there too (verisnn.limits.time_limit around the whole check)."""
    from verisnn.properties import Flips, Robust
    from verisnn.verify import verify

    model = Model(time_steps=20_000, input=InputSpec(10), layers=(Dense([[1] * 10], Neuron(1, "if", threshold=5)),),
                  readout=Readout("spike_count"))
    centre, prop = np.zeros((20_000, 10), dtype=np.int8), Property(Flips(100_000), Robust())
    cert = make_certificate(model, prop, centre, verify(model, centre, prop, timeout=0.01))
    cert.update(verdict="verified", reason=None)
    cert["evidence"] = {"kind": "enumerate", "model_sha256": cert["model"]["sha256"], "property": cert["property"],
                        "centre_sha256": cert["centre"]["sha256"], "region_size": 5,
                        "reference_decision": cert["centre"]["reference_decision"],
                        "rasters_checked": 5}
    t0 = time.perf_counter()
    report = check_certificate(cert, timeout=1.0)
    assert time.perf_counter() - t0 < 1.0 + 1.5
    assert not report.valid and "time limit" in " ".join(failed(report).values()), failed(report)


def test_a_cpsat_record_of_a_region_cp_sat_does_not_encode_is_not_valid():
    """It was re-decided by enumerating the whole region (without a limit, for ever)."""
    from verisnn.properties import parse_property, region_size

    cert = genuine("cpsat")
    prop = {"region": {"jitter": {"shift": 1, "spikes": 3}}, "condition": "robust"}
    cert["property"] = cert["evidence"]["property"] = prop
    cert["evidence"]["region_size"] = region_size(parse_property(prop).region, np.array(cert["centre"]["raster"]))
    cert["costs"] = None
    assert "not a CP-SAT record" in failed(check_certificate(cert))["cpsat"]


def test_queries_beyond_the_memory_budget_are_refused_before_they_are_built():
    try:
        set_memory_budget(1 << 20)
        for case, edit, words in (("kinduction", lambda e: e.update(depth=200), "k-induction queries"),
                                  ("explore", lambda e: e.update(reachable_states=10**9), "exploring")):
            cert = genuine(case)
            edit(cert["evidence"])
            report = check_certificate(cert, timeout=10)
            detail = failed(report)[case]
            assert words in detail and "memory budget" in detail, detail
    finally:
        set_memory_budget(None)


def test_the_letters_of_a_long_witness_are_checked_without_a_large_allocation():
    """An unbounded witness of L rows against m letters of n inputs: checked row by row
    (it was one [L, m, n] comparison: 3000 x 4096 x 12 bytes, about 150 MB)."""
    import tracemalloc

    n = 12
    model = Model(time_steps=1, input=InputSpec(n), layers=(Dense([[1] * n], Neuron(1, "if", threshold=3)),),
                  readout=Readout("spike_count"))
    prop = Property(AnyInput(), NeverFires(0, 0), horizon="unbounded")
    from verisnn.unbounded import verify_unbounded

    result = verify_unbounded(model, prop, method="bmc")
    assert result.verdict == "falsified"
    letters = np.array([[(i >> b) & 1 for b in range(n)] for i in range(1 << n)], dtype=np.int8)
    cert = make_certificate(model, prop, None, result)
    cert["letters"] = letters.tolist()
    w = np.zeros((3_000, n), dtype=np.int8)
    cert["evidence"].update(witness=w.tolist(), witness_sha256=raster_sha256(w))
    tracemalloc.start()
    try:
        report = check_certificate(cert, timeout=30)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert not report.valid and "does not violate" in failed(report)["witness"]
    assert peak < 50 << 20, peak


def test_the_schema_states_the_producers_limits():
    from verisnn.unbounded import EXPLORE_MAX_LETTERS, MAX_KINDUCTION_DEPTH

    defs = schema()["$defs"]
    assert defs["kinduction"]["properties"]["depth"]["maximum"] == MAX_KINDUCTION_DEPTH
    assert defs["explore"]["properties"]["letters"]["maximum"] == EXPLORE_MAX_LETTERS
    assert defs["pdr"]["properties"]["invariant"]["maxLength"] == MAX_CHARS
    with pytest.raises(VerisnnError):  # no model runs longer than a raster may be
        Model(time_steps=defs["raster"]["maxItems"] + 1, input=InputSpec(1),
              layers=(Dense([[1]], Neuron(1, "if", threshold=1)),), readout=Readout("spike_count"))


def test_k_induction_stops_at_the_depth_a_certificate_may_state(monkeypatch):
    import verisnn.unbounded as unbounded

    depths = []
    real = unbounded._kinduction
    monkeypatch.setattr(unbounded, "_kinduction", lambda ts, clock, depth: depths.append(depth) or real(ts, clock, 1))
    unbounded.verify_unbounded(counter_model(), Property(AnyInput(), NeverFires(0, 0), horizon="unbounded"),
                               method="kinduction", max_depth=10**6)
    assert depths == [unbounded.MAX_KINDUCTION_DEPTH]


def test_pdr_certifies_only_an_invariant_its_checker_can_read(monkeypatch):
    """The producer reads Spacer's printed invariant back in the certificate grammar and
    re-checks that term; one it cannot read is unknown, never a certificate that fails."""
    import verisnn.unbounded as unbounded

    model, prop = robot()
    result = unbounded.verify_unbounded(model, prop, method="pdr", timeout=60)
    assert result.verdict == "verified"

    def refuse(text, variables, ctx):
        raise VerisnnError("no")

    monkeypatch.setattr(unbounded, "parse_term", refuse)
    result = unbounded.verify_unbounded(model, prop, method="pdr", timeout=60)
    assert result.verdict == "unknown" and "cannot be written in a certificate" in result.reason


# ---------------------------------------------------------------- item 9: every field checked or refused


def edit_witness_reference_decision(c):
    c["evidence"]["reference_decision"] = (c["evidence"]["reference_decision"] + 1) % 3


def edit_state_names(c):
    c["evidence"]["state_names"][0] = "renamed"


def swap_state_names(c):
    names = c["evidence"]["state_names"]
    names[0], names[1] = names[1], names[0]


FIELD_EDITS = [  # (case, edit, the failing check, words): each once carried, unchecked
    ("enumerate-falsified", edit_witness_reference_decision, "verdict", "reference decision"),
    ("enumerate-falsified", lambda c: c["evidence"].pop("reference_decision"), "verdict", "reference decision"),
    ("kinduction", edit_state_names, "kinduction", "state names"),
    ("kinduction", swap_state_names, "kinduction", "state names"),
    ("pdr", edit_state_names, "pdr", "state names"),
    ("pdr", lambda c: c["evidence"].update(recheck={"initiation": "sat"}), "schema", "'recheck' was unexpected"),
    ("pdr", lambda c: c["evidence"].update(invariant_size=1), "schema", "'invariant_size' was unexpected"),
    ("cpsat", lambda c: c["evidence"].update(model_sha256_cpsat="0" * 64), "schema", "'model_sha256_cpsat'"),
    ("cpsat", lambda c: c["evidence"].update(solver="OR-Tools CP-SAT 1.0"), "schema", "'solver' was unexpected"),
    ("smt-z3", lambda c: c["evidence"].update(solver="z3-native"), "smt", "not the encoding"),
    ("smt-z3", lambda c: c["evidence"].update(solver="yices"), "schema", "evidence.solver"),
    ("smt-z3", lambda c: c["evidence"].update(solver_version="4.8"), "schema", "'solver_version' was unexpected"),
    ("enumerate-falsified", lambda c: c.update(method="smt"), "schema", "'method' was unexpected"),
    ("smt-z3", lambda c: c.update(method="auto"), "schema", "'method' was unexpected"),
    ("kinduction", lambda c: c["evidence"].update(record="proved by three solvers"), "schema", "'record'"),
    ("enumerate-falsified", lambda c: c.update(reason="found by exhaustive search"), "verdict", "has no reason"),
    ("smt-z3", lambda c: c.update(reason="proved twice"), "verdict", "has no reason"),
    ("enumerate-falsified", lambda c: c["evidence"].update(violation_step=1), "verdict", "no violation step"),
    ("enumerate-falsified", lambda c: c["evidence"].update(analog_witness=[0.5]), "verdict", "intensity regions"),
    ("unbounded-falsified", lambda c: c["evidence"].update(reference_decision=0), "verdict", "no reference decision"),
    ("unbounded-falsified", lambda c: c["evidence"].update(decision=1), "verdict", "no decision"),
    ("unbounded-falsified", lambda c: c["evidence"].pop("violation_step"), "verdict", "violation step"),
    ("intensity", lambda c: c["evidence"].update(analog_centre=[0.6, 0.2]), "verdict", "analog centre"),
    ("enumerate", lambda c: c["centre"].update(analog=[0.5, 0.5, 0.5]), "centre", "intensity regions only"),
    ("enumerate", lambda c: c["evidence"].update(hardware_profile=c["costs"]["profile"]), "verdict",
     "not a hardware one"),
    ("enumerate-falsified", lambda c: c["costs"].update(witness=None), "costs", "leave out the witness"),
    ("enumerate", lambda c: c["costs"].update(centre=None), "costs", "leave out the centre"),
    ("enumerate", lambda c: c["costs"].update(witness=c["costs"]["centre"]), "costs", "does not hold"),
    ("enumerate", lambda c: c["timings"].update(solver="z3"), "schema", "'solver' was unexpected"),
    ("enumerate", lambda c: c["tools"].update(checked_by="z3"), "schema", "'checked_by' was unexpected"),
    ("unknown", lambda c: c["evidence"].update(region_size=4096), "schema", "'region_size' was unexpected"),
    # found by the fuzz test: JSON's false is not the number 0 (Python's == says it is)
    ("enumerate-falsified", lambda c: c["costs"]["centre"]["per_layer"][0].update(layer=False), "costs", "differ"),
    ("kinduction", lambda c: c["evidence"]["box"].update(widened=0), "kinduction", "invariant box"),
]


@pytest.mark.parametrize("case,edit,check,words", FIELD_EDITS,
                         ids=[f"{c}-{i}" for i, (c, *_) in enumerate(FIELD_EDITS)])
def test_an_edited_field_makes_a_genuine_certificate_not_valid(case, edit, check, words):
    cert = genuine(case)  # valid as produced (test_checker_fuzz checks every case)
    edit(cert)
    report = check_certificate(cert, timeout=30)
    assert not report.valid
    reasons = failed(report)
    assert check in reasons and words in reasons[check], reasons


@pytest.mark.parametrize("case", ["enumerate-falsified", "unbounded-falsified", "smt-z3", "enumerate", "bab",
                                  "bounds", "cpsat", "kinduction", "pdr", "explore", "unknown", "intensity"])
def test_an_extra_key_in_evidence_is_refused(case):
    cert = genuine(case)
    cert["evidence"]["checked_by"] = "a trusted party"
    report = check_certificate(cert)
    assert not report.valid and "'checked_by' was unexpected" in failed(report)["schema"]


def test_the_smt_solver_named_does_not_choose_who_re_solves(monkeypatch):
    """Whatever solver the certificate names, both families re-solve the obligation, so
    naming the other one changes nothing a check relies on (and claims what is true)."""
    import verisnn.encodings.smt as smt

    used = []
    real = smt.solve
    monkeypatch.setattr(smt, "solve", lambda f, env, solver="z3", timeout=None, logic="QF_LIA":
                        used.append(solver) or real(f, env, solver, timeout, logic))
    for stated in ("z3", "cvc5"):
        cert = genuine("smt-z3")
        cert["evidence"]["solver"] = stated
        used.clear()
        assert check_certificate(cert).valid
        assert sorted(used) == ["cvc5", "z3"]


def test_certificates_carry_only_checked_evidence_fields():
    """What a producer records beyond them stays in the informative details."""
    for case in ("cpsat", "pdr", "kinduction", "explore", "smt-z3"):
        cert = genuine(case)
        assert set(cert["evidence"]) <= evidence_fields(cert["evidence"]["kind"]), case
    assert genuine("cpsat")["details"]["model_sha256_cpsat"]
    assert genuine("pdr")["details"]["recheck"] == {"initiation": "unsat", "consecution": "unsat", "safety": "unsat"}
    assert genuine("enumerate-falsified")["details"]["method"] == "enumerate"
