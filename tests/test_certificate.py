"""Certificates and the independent checker.

* a certificate of every verdict and every method, on tiny models, follows the schema,
  survives a write / read round trip and is valid;
* the SMT obligation is re-solved by the other solver (z3-produced by cvc5 and back),
  and a satisfiable obligation claimed unsat is caught by the re-solve;
* every field tampered — verdict, witness, model, property, obligation, centre, records,
  hashes, the model file — makes the certificate invalid with the reason named, also when
  the tamperer updates the hashes to match;
* malformed certificates are refused with an :class:`InputError` naming the field, and
  the checker reports them as invalid, never with a traceback.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from verisnn.certificate import (FORMAT, SEMANTICS, load_certificate, make_certificate, schema,
                                 validate_certificate, write_certificate)
from verisnn.checker import check_certificate
from verisnn.encoders import RateEncoder
from verisnn.errors import InputError, VerisnnError
from verisnn.model import Dense, InputSpec, Model, Neuron, Readout
from verisnn.model_format import model_hash, save_model
from verisnn.properties import (AnyInput, Deletions, Flips, Intensity, LatencyAtMost, NeverFires, Property, Robust,
                                SpikesAtMost)
from verisnn.unbounded import verify_unbounded
from verisnn.verify import raster_sha256, verify

# ---------------------------------------------------------------- tiny models


def small_model() -> Model:
    """3 inputs -> 4 LIF -> 3 LIF, T = 4 (a region of flips: 1 has 13 rasters)."""
    rng = np.random.default_rng(1)
    n1 = Neuron(size=4, model="lif", threshold=5, v_decay=(3, 2), v_bits=8)
    n2 = Neuron(size=3, model="lif", threshold=4, v_decay=(3, 2), v_bits=8)
    return Model(time_steps=4, input=InputSpec(3), name="small",
                 layers=(Dense(rng.integers(-3, 6, (4, 3)).tolist(), n1),
                         Dense(rng.integers(-2, 5, (3, 4)).tolist(), n2)),
                 readout=Readout("spike_count"))


CENTRE = np.array([[1, 0, 1], [1, 0, 1], [1, 0, 0], [0, 0, 0]], dtype=np.int8)  # flips: 2 robust holds, 3 not


def smoke_model() -> Model:
    """A recurrent two-layer network with refractory periods and a delay (test_unbounded's)."""
    n1 = Neuron(size=3, model="lif", threshold=3, v_decay=(3, 2), reset="subtract", v_bits=8, refractory=1)
    n2 = Neuron(size=2, model="lif", threshold=2, v_decay=(1, 1), reset="to_value", v_bits=8)
    l1 = Dense(weight=[[2, 1], [1, -1], [-1, 2]], bias=[0, 0, 0], neuron=n1,
               recurrent=[[0, 1, 0], [0, 0, -1], [1, 0, 0]])
    l2 = Dense(weight=[[1, 1, -2], [-1, 0, 2]], bias=[0, 0], neuron=n2, delay=1)
    return Model(time_steps=4, input=InputSpec(2), layers=(l1, l2), readout=Readout("spike_count"))


def gate_model() -> Model:
    """One LIF neuron that fires on input [1, 0] only (its membrane forgets at every step)."""
    neuron = Neuron(1, "lif", threshold=1, v_decay=(0, 1), reset="to_value", v_bits=4)
    return Model(time_steps=4, input=InputSpec(2), layers=(Dense([[2, -2]], neuron),), readout=Readout("spike_count"))


def counter_model() -> Model:
    """An IF neuron of threshold 3 without leak: it fires at the third input spike."""
    return Model(time_steps=2, input=InputSpec(1), layers=(Dense([[1]], Neuron(1, "if", threshold=3)),),
                 readout=Readout("spike_count"))


def rate_model() -> Model:
    spec = RateEncoder(4, 0.0, 1.0).to_spec()
    return Model(time_steps=4, input=InputSpec(2, encoding=spec),
                 layers=(Dense([[2, -1], [-1, 2]], Neuron(2, "if", threshold=3)),), readout=Readout("spike_count"))


def delta_model() -> Model:
    """One feature through a delta encoder (ON, OFF channels) into two neurons, T = 4."""
    from verisnn.encoders import DeltaEncoder

    return Model(time_steps=4, input=InputSpec(2, encoding=DeltaEncoder(0.5).to_spec()),
                 layers=(Dense([[3, -1], [-1, 3]], Neuron(2, "if", threshold=2)),), readout=Readout("spike_count"))


DELTA_SERIES = np.array([[0.0], [0.6], [0.7], [1.3]])


def unbounded(cond) -> Property:
    return Property(AnyInput(), cond, horizon="unbounded")


# (id, model, centre, property, verify keywords, verdict, evidence kind)
CASES = [
    ("smt-z3", small_model, CENTRE, Property(Flips(1), Robust()), {"method": "smt"}, "verified", "smt"),
    ("smt-cvc5", small_model, CENTRE, Property(Flips(1), Robust()), {"method": "smt", "solver": "cvc5"},
     "verified", "smt"),
    ("smt-native-bv", small_model, CENTRE, Property(Flips(1), Robust()),
     {"method": "smt", "solver": "z3-native", "logic": "bv"}, "verified", "smt"),
    ("smt-falsified", small_model, CENTRE, Property(Flips(2), SpikesAtMost(10)), {"method": "smt"},
     "falsified", "witness"),
    ("enumerate", small_model, CENTRE, Property(Flips(1), Robust()), {"method": "enumerate"}, "verified",
     "enumerate"),
    ("enumerate-falsified", small_model, CENTRE, Property(Flips(3), Robust()), {"method": "enumerate"},
     "falsified", "witness"),
    ("bab", small_model, CENTRE, Property(Deletions(2), Robust()), {"method": "bab"}, "verified", "bab"),
    ("auto-bab", small_model, CENTRE, Property(Flips(2), Robust()), {"max_region": 1}, "verified", "bab"),
    ("auto-enumerate", small_model, CENTRE, Property(Flips(2), Robust()), {}, "verified", "enumerate"),
    ("bounds", small_model, CENTRE, Property(Flips(2), SpikesAtMost(28)), {"method": "bounds"}, "verified",
     "bounds"),
    ("cpsat", small_model, CENTRE, Property(Flips(1), Robust()), {"method": "cpsat"}, "verified", "cpsat"),
    ("hardware", small_model, CENTRE, Property(Flips(1), LatencyAtMost(1000.0, "loihi")), {"method": "enumerate"},
     "verified", "enumerate"),
    ("unknown", small_model, CENTRE, Property(Flips(12), Robust()), {"method": "enumerate", "max_region": 10},
     "unknown", "none"),
    ("error", small_model, CENTRE, Property(Flips(1), NeverFires(5, 0)), {}, "error", "none"),
    ("intensity", rate_model, np.array([0.6, 0.1]), Property(Intensity(0.15), Robust()), {}, "verified",
     "enumerate"),  # 4 rasters
    ("intensity-falsified", rate_model, np.array([0.6, 0.1]), Property(Intensity(0.3), Robust()), {},
     "falsified", "witness"),  # 12 rasters
    ("intensity-delta", delta_model, DELTA_SERIES, Property(Intensity(0.05), Robust()), {}, "verified", "enumerate"),
    ("intensity-delta-falsified", delta_model, DELTA_SERIES, Property(Intensity(0.5), Robust()), {}, "falsified",
     "witness"),  # replayed by the kernel: its own delta encoder, the ball in exact rationals
    ("explore", smoke_model, None, unbounded(NeverFires(1, 0)), {"method": "explore"}, "verified", "explore"),
    ("kinduction", smoke_model, None, unbounded(NeverFires(1, 0)), {"method": "kinduction", "timeout": 30},
     "verified", "kinduction"),
    ("pdr", smoke_model, None, unbounded(NeverFires(1, 0)), {"method": "pdr", "timeout": 60}, "verified", "pdr"),
    ("unbounded-falsified", counter_model, None, unbounded(NeverFires(0, 0)), {"method": "explore"}, "falsified",
     "witness"),
    ("letters", gate_model, None, unbounded(NeverFires(0, 0)),
     {"method": "kinduction", "letters": [[0, 0], [0, 1], [1, 1]], "timeout": 30}, "verified", "kinduction"),
]


def answer(make_model, centre, prop, kw):
    model = make_model()
    kw = dict(kw)
    if prop.horizon == "unbounded":
        result = verify_unbounded(model, prop, **kw)
    else:
        result = verify(model, centre, prop, **kw)
    return model, result


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> dict[str, tuple[dict, Path]]:
    """Every case's certificate, written next to its model file."""
    out = {}
    root = tmp_path_factory.mktemp("certs")
    for name, make_model, centre, prop, kw, verdict, kind in CASES:
        model, result = answer(make_model, centre, prop, kw)
        assert result.verdict == verdict, (name, result.reason)
        model_path = root / f"{name}.snn.json"
        save_model(model, model_path)
        bounded = prop.horizon == "bounded" and not isinstance(prop.region, Intensity)
        cert = make_certificate(model, prop, centre, result, model_path=str(model_path),
                                costs="loihi" if bounded else None)
        assert cert["evidence"]["kind"] == kind, name
        path = root / f"{name}.cert.json"
        write_certificate(path, cert)
        out[name] = (cert, path)
    return out


def failed(report) -> dict[str, str]:
    return {c.name: c.detail for c in report.checks if not c.ok}


@pytest.mark.parametrize("name", [c[0] for c in CASES])
def test_every_certificate_is_valid(certs, name):
    cert, path = certs[name]
    assert load_certificate(path) == json.loads(path.read_text()) == cert
    report = check_certificate(path)
    assert report.valid, failed(report)
    answer = report.to_json()
    assert set(answer) == {"valid", "trust", "checks", "time_s"} and answer["valid"] is True
    assert all(set(c) == {"name", "ok", "detail"} for c in answer["checks"])
    # how it was re-validated: by the kernel alone wherever it can (these regions are small enough to
    # re-enumerate); the unbounded solver proofs and explore trust the engine's encoding or search
    kind = cert["evidence"]["kind"]
    expected = "engine-trusted" if name == "intensity-delta" else \
        {"none": None, "kinduction": "solver-trusted", "pdr": "solver-trusted"}.get(kind, "kernel")
    assert answer["trust"] == expected, (name, answer["trust"])
    names = [c["name"] for c in answer["checks"]]
    assert names[:5] == ["schema", "model", "property", "centre", "verdict"]
    kind = cert["evidence"]["kind"]
    assert names[5] == {"none": "claim", "witness": "witness"}.get(kind, kind)
    assert ("costs" in names) == (cert["costs"] is not None)
    assert "the file" in answer["checks"][1]["detail"]  # the model file was found and re-hashed too
    if kind == "none":
        assert "nothing is claimed" in answer["checks"][5]["detail"]


def test_certificate_contents(certs):
    cert, _ = certs["smt-z3"]
    assert cert["format"] == FORMAT == "verisnn-certificate/2" and cert["semantics"] == SEMANTICS
    model = small_model()
    assert cert["model"]["sha256"] == model_hash(model) == model_hash(cert["model"]["document"])
    assert cert["centre"]["raster"] == CENTRE.tolist() and cert["centre"]["sha256"] == raster_sha256(CENTRE)
    ev = cert["evidence"]
    assert ev["smtlib_sha256"] == hashlib.sha256(ev["smtlib"].encode()).hexdigest()
    assert ev["solver"] == "z3" and ev["answer"] == "unsat" and ev["logic"] == "QF_LIA"
    assert set(cert["tools"]) >= {"verisnn", "python", "numpy", "z3", "cvc5", "ortools", "pysmt"}
    assert cert["timings"]["time_s"] > 0 and cert["created"].endswith("Z")
    assert cert["costs"]["centre"]["profile"] == "loihi" and cert["costs"]["witness"] is None
    fal, _ = certs["enumerate-falsified"]
    w = np.array(fal["evidence"]["witness"], dtype=np.int8)
    assert fal["evidence"]["witness_sha256"] == raster_sha256(w)
    assert fal["costs"]["witness"] is not None
    assert certs["unbounded-falsified"][0]["centre"] is None
    assert certs["letters"][0]["letters"] == [[0, 0], [0, 1], [1, 1]]
    assert certs["intensity"][0]["centre"]["analog"] == [0.6, 0.1]
    fal = certs["intensity-falsified"][0]
    assert fal["evidence"]["witness"] != fal["centre"]["raster"] and len(fal["evidence"]["analog_witness"]) == 2


def test_tampered_intensity_certificates_are_invalid(certs):
    cert = copy.deepcopy(certs["intensity-falsified"][0])
    cert["evidence"]["analog_witness"][0] += 0.5  # outside the ball
    assert "analog witness" in failed(check_certificate(cert))["witness"]
    cert = copy.deepcopy(certs["intensity"][0])
    cert["centre"]["analog"][0] = 0.9  # the raster is no longer the analog centre's encoding
    assert "not the encoding of the analog centre" in failed(check_certificate(cert))["centre"]


# ---------------------------------------------------------------- cross-solver re-checks


def test_smt_obligations_are_re_solved_by_both_solver_families(certs, monkeypatch):
    """By the other family first (independence), then by the stated one (the claim that it
    said unsat), whatever the certificate names — on a region too large for the kernel to
    re-enumerate (here: as if it were)."""
    import verisnn.encodings.smt as smt
    import verisnn.kernel.check as kernel_check

    monkeypatch.setattr(kernel_check, "ENUMERATE_MAX", 0)
    used = []
    real = smt.solve

    def spy(formula, env, solver="z3", timeout=None, logic="QF_LIA"):
        used.append(solver)
        return real(formula, env, solver, timeout, logic)

    monkeypatch.setattr(smt, "solve", spy)
    for name, other, stated in (("smt-z3", "cvc5", "z3"), ("smt-cvc5", "z3", "cvc5"), ("smt-native-bv", "cvc5", "z3")):
        used.clear()
        report = check_certificate(certs[name][0])
        assert report.valid, failed(report)
        assert used == [other, stated], name
        detail = next(c.detail for c in report.checks if c.name == "smt")
        assert f"{other} re-solved it: unsat, and {stated} again: unsat" in detail
        assert report.trust == "solver-trusted" and "trusted: the engine's SMT encoding" in detail


def test_a_satisfiable_obligation_claimed_unsat_is_caught_by_the_re_solve(monkeypatch):
    """A forged 'verified' whose obligation is the true encoding (so it passes the
    re-encoding check) but has a counterexample: the kernel's re-enumeration finds it, and
    on a region too large for that, the other solver does."""
    import verisnn.kernel.check as kernel_check
    from verisnn.encodings.smt import encode

    model, prop = small_model(), Property(Flips(2), SpikesAtMost(10))
    forged = verify(model, CENTRE, Property(Flips(1), Robust()), method="smt")
    text = encode(model, CENTRE, prop).to_smtlib()
    cert = make_certificate(model, Property(Flips(1), Robust()), CENTRE, forged)
    prop_doc = prop.to_dict()
    cert["property"] = prop_doc
    cert["evidence"].update(property=prop_doc, smtlib=text, smtlib_sha256=hashlib.sha256(text.encode()).hexdigest(),
                            region_size=79)
    report = check_certificate(cert)
    assert not report.valid
    assert "the kernel finds a raster of the region that violates" in failed(report)["smt"]
    monkeypatch.setattr(kernel_check, "ENUMERATE_MAX", 0)
    report = check_certificate(cert)
    assert not report.valid
    assert "cvc5 answers sat" in failed(report)["smt"]


# ---------------------------------------------------------------- tampering


def rehash_model(cert: dict) -> None:
    """What a careful forger does after editing the model: make every model hash match (and
    point away from the model file, which would give the edit away)."""
    digest = model_hash(cert["model"]["document"])
    cert["model"]["sha256"], cert["model"]["path"] = digest, None
    if "model_sha256" in cert["evidence"]:
        cert["evidence"]["model_sha256"] = digest


def flip_bit(rows: list, t: int = 0, i: int = 0) -> None:
    rows[t][i] ^= 1


def tamper_verdict_verified_to_falsified(c):
    c["verdict"] = "falsified"


def tamper_verdict_verified_to_unknown(c):
    c["verdict"], c["reason"] = "unknown", "timeout"


def tamper_model_weight(c):
    c["model"]["document"]["layers"][0]["weight"][0][0] += 1


def tamper_model_weight_rehashed(c):
    tamper_model_weight(c)
    rehash_model(c)


def tamper_model_hash(c):
    c["model"]["sha256"] = "0" * 64


def tamper_property(c):
    c["property"] = {"region": {"flips": 2}, "condition": "robust"}


def tamper_property_everywhere(c):
    tamper_property(c)
    c["evidence"]["property"] = c["property"]
    c["evidence"]["region_size"] = 79


def tamper_obligation(c):
    c["evidence"]["smtlib"] = c["evidence"]["smtlib"].replace("(check-sat)", "(assert false)\n(check-sat)")


def tamper_obligation_rehashed(c):
    tamper_obligation(c)
    c["evidence"]["smtlib_sha256"] = hashlib.sha256(c["evidence"]["smtlib"].encode()).hexdigest()


def tamper_obligation_hash(c):
    c["evidence"]["smtlib_sha256"] = "f" * 64


def tamper_centre(c):
    flip_bit(c["centre"]["raster"], 1, 1)


def tamper_centre_rehashed(c):
    tamper_centre(c)
    c["centre"]["sha256"] = raster_sha256(np.array(c["centre"]["raster"], dtype=np.int8))
    c["evidence"]["centre_sha256"] = c["centre"]["sha256"]


def tamper_reference_decision(c):
    c["centre"]["reference_decision"] = (c["centre"]["reference_decision"] + 1) % 3


def tamper_solver_claim(c):
    c["evidence"]["answer"] = "sat"


SMT_TAMPERS = [  # (tamper, the failing check, words of its detail)
    (tamper_verdict_verified_to_falsified, "verdict", "carries a witness"),
    (tamper_verdict_verified_to_unknown, "verdict", "evidence of kind 'smt'"),
    (tamper_model_weight, "model", "hashes to"),
    (tamper_model_weight_rehashed, "smt", "not the encoding of the stated model"),
    (tamper_model_hash, "model", "not the stated"),
    (tamper_property, "verdict", "the evidence names the property"),
    (tamper_property_everywhere, "smt", "not the encoding of the stated model"),
    (tamper_obligation, "smt", "the obligation hashes to"),
    (tamper_obligation_rehashed, "smt", "not the encoding of the stated model"),
    (tamper_obligation_hash, "smt", "the obligation hashes to"),
    (tamper_centre, "centre", "hashes to"),
    (tamper_centre_rehashed, "smt", "not the encoding of the stated model"),
    (tamper_reference_decision, "centre", "simulator decides"),
    (tamper_solver_claim, "schema", "evidence.answer"),
]


@pytest.mark.parametrize("tamper,check,words", SMT_TAMPERS, ids=[t[0].__name__ for t in SMT_TAMPERS])
def test_tampered_smt_certificates_are_invalid(certs, tamper, check, words):
    cert = copy.deepcopy(certs["smt-z3"][0])
    tamper(cert)
    report = check_certificate(cert)
    assert not report.valid
    reasons = failed(report)
    assert check in reasons and words in reasons[check], reasons


def tamper_witness_bit(c):
    flip_bit(c["evidence"]["witness"], 0, 0)


def tamper_witness_bit_rehashed(c):
    tamper_witness_bit(c)
    c["evidence"]["witness_sha256"] = raster_sha256(np.array(c["evidence"]["witness"], dtype=np.int8))


def tamper_witness_decision(c):
    c["evidence"]["decision"] = (c["evidence"]["decision"] or 0) + 1


def tamper_verdict_falsified_to_verified(c):
    c["verdict"] = "verified"


def tamper_witness_to_centre(c):
    c["evidence"]["witness"] = copy.deepcopy(c["centre"]["raster"])
    c["evidence"]["witness_sha256"] = c["centre"]["sha256"]


FALSIFIED_TAMPERS = [
    (tamper_witness_bit, "witness", "the witness hashes to"),
    (tamper_witness_decision, "witness", "simulator decides"),
    (tamper_verdict_falsified_to_verified, "verdict", "a method's proof record"),
    (tamper_witness_to_centre, "witness", "does not violate"),
    (tamper_model_weight, "model", "hashes to"),
]


@pytest.mark.parametrize("tamper,check,words", FALSIFIED_TAMPERS, ids=[t[0].__name__ for t in FALSIFIED_TAMPERS])
def test_tampered_witnesses_are_invalid(certs, tamper, check, words):
    cert = copy.deepcopy(certs["enumerate-falsified"][0])
    cert["costs"] = None  # the costs would fail too; here the witness check must
    tamper(cert)
    report = check_certificate(cert)
    assert not report.valid
    reasons = failed(report)
    assert check in reasons and words in reasons[check], reasons


def test_a_witness_certificate_of_an_edited_model_is_about_that_model(certs, monkeypatch):
    """An edited model with every hash updated is another model: the certificate is then
    valid exactly when the witness really falsifies the property on it (the model file,
    when it is there, gives the edit away)."""
    monkeypatch.chdir(certs["enumerate-falsified"][1].parent)  # where a document's model file is looked for
    for delta in (-3, 1, 4):
        cert = copy.deepcopy(certs["enumerate-falsified"][0])
        cert["costs"] = None
        cert["model"]["document"]["layers"][1]["weight"][2][0] += delta
        digest = model_hash(cert["model"]["document"])
        cert["model"]["sha256"] = digest
        reasons = failed(check_certificate(cert))
        assert "model" in reasons and "the model file" in reasons["model"]
        cert["model"]["path"] = None
        report = check_certificate(cert)
        from verisnn.model_format import model_from_dict
        from verisnn.simulator import simulate

        edited = model_from_dict(cert["model"]["document"])
        w = np.array(cert["evidence"]["witness"], dtype=np.int8)
        ref = simulate(edited, CENTRE).prediction[0]
        really = ref < 0 or simulate(edited, w).prediction[0] != ref
        assert report.valid == bool(really and cert["centre"]["reference_decision"] == (None if ref < 0 else ref)
                                    and cert["evidence"]["decision"] == _decision_of(edited, w)), failed(report)


def _decision_of(model, raster):
    from verisnn.simulator import simulate

    p = int(simulate(model, raster).prediction[0])
    return None if p < 0 else p


def test_a_rehashed_witness_must_still_be_in_the_region_and_violate(certs):
    """A flipped witness bit with the hash updated: outside the region, or no violation."""
    for t in range(4):
        for i in range(3):
            cert = copy.deepcopy(certs["enumerate-falsified"][0])
            cert["costs"] = None
            flip_bit(cert["evidence"]["witness"], t, i)
            cert["evidence"]["witness_sha256"] = raster_sha256(np.array(cert["evidence"]["witness"], dtype=np.int8))
            report = check_certificate(cert)
            if report.valid:  # the flip gave another real counterexample: then it must really be one
                w = np.array(cert["evidence"]["witness"], dtype=np.int8)
                assert np.count_nonzero(w != CENTRE) <= 3
                assert _decision_of(small_model(), w) != _decision_of(small_model(), CENTRE)
            else:
                detail = failed(report)["witness"]
                assert "outside the region" in detail or "does not violate" in detail or "decides" in detail


RECORD_TAMPERS = [  # (case, edit of the evidence, the failing check, words)
    ("enumerate", lambda e: e.update(rasters_checked=e["rasters_checked"] - 1), "enumerate", "the record says"),
    ("enumerate", lambda e: e.update(region_size=e["region_size"] + 1), "enumerate", "the record says"),
    ("bab", lambda e: e.update(rasters_pruned=e["rasters_pruned"] + 1), "bab", "the record says"),
    ("bab", lambda e: e["nodes_pruned_by_step"].__setitem__(0, e["nodes_pruned_by_step"][0] + 1), "bab",
     "the record says"),
    ("bab", lambda e: e["pruned"].append([0]) if [0] not in e["pruned"] else e["pruned"].append([0]), "bab",
     "pruned node"),  # the root listed as pruned: its argument fails (or, listed twice, a repeat)
    ("bab", lambda e: e["pruned"].pop(), "bab", "the record says"),
    ("explore", lambda e: e.update(reachable_states=e["reachable_states"] - 1), "explore", ""),
    ("kinduction", lambda e: e["box"]["hi"].__setitem__(0, 0), "kinduction", "invariant box"),
    ("pdr", lambda e: e.update(invariant="true", invariant_sha256=hashlib.sha256(b"true").hexdigest()), "pdr",
     "safety query"),
    ("pdr", lambda e: e.update(invariant="false"), "pdr", "does not match its hash"),
]


@pytest.mark.parametrize("case,edit,check,words", RECORD_TAMPERS)
def test_tampered_records_are_invalid(certs, case, edit, check, words):
    cert = copy.deepcopy(certs[case][0])
    edit(cert["evidence"])
    report = check_certificate(cert)
    assert not report.valid
    reasons = failed(report)
    assert check in reasons and words in reasons[check], reasons


def test_a_claim_that_does_not_hold_fails_the_re_run(certs):
    """A 'verified' record forged for a property that is false: the kernel's re-enumeration
    (enumerate, cpsat on a small region) or its walk of the tree (bab) finds the counterexample."""
    for case in ("enumerate", "bab", "cpsat"):
        cert = copy.deepcopy(certs[case][0])
        false_prop = {"region": {"flips": 1}, "condition": {"spikes_at_most": 5}}
        cert["property"] = cert["evidence"]["property"] = false_prop
        cert["evidence"]["region_size"] = 13
        if case == "bab":
            cert["evidence"].update(rasters_simulated=13, rasters_pruned=0)
        cert["costs"] = None
        report = check_certificate(cert)
        assert not report.valid
        reason = failed(report)[case]  # a counterexample, or (bab) a pruned node whose argument fails first
        assert "violates" in reason or "pruning argument does not hold" in reason, failed(report)


def test_unbounded_tampering(certs):
    cert = copy.deepcopy(certs["letters"][0])
    cert["letters"] = [[0, 0], [1, 0]]  # the claim would now cover the letter that fires the neuron
    reasons = failed(check_certificate(cert))
    assert "kinduction" in reasons and "invariant box" in reasons["kinduction"]
    cert = copy.deepcopy(certs["unbounded-falsified"][0])
    cert["evidence"]["violation_step"] = 1
    assert "violation at step 2" in failed(check_certificate(cert))["witness"]
    cert = copy.deepcopy(certs["unbounded-falsified"][0])
    cert["centre"] = copy.deepcopy(certs["smt-z3"][0]["centre"])
    assert "no centre" in failed(check_certificate(cert))["centre"]


def test_the_model_file_is_re_hashed(certs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a certificate document (no file) finds its model file in the current folder
    cert, _ = certs["enumerate"]
    other = small_model()
    doc = copy.deepcopy(cert)
    path = tmp_path / "changed.snn.json"
    save_model(Model(time_steps=other.time_steps, input=other.input, layers=other.layers[:1] + other.layers[1:],
                     readout=other.readout, name="renamed"), path)
    doc["model"]["path"] = str(path)
    reasons = failed(check_certificate(doc))
    assert "model" in reasons and f"the model file {path}" in reasons["model"]
    doc["model"]["path"] = str(tmp_path / "absent.snn.json")  # a moved certificate: the embedded model is used
    report = check_certificate(doc)
    assert report.valid and "not found" in report.checks[1].detail


def test_a_check_remembers_nothing_that_hides_a_later_change(certs, tmp_path, monkeypatch):
    """The checker remembers validated model documents and model files by the hash of
    their bytes: once a certificate has checked valid, editing the file on disk (same
    size, same second) or the embedded document is still caught."""
    monkeypatch.chdir(tmp_path)  # a certificate document (no file) finds its model file in the current folder
    cert, _ = certs["enumerate"]
    doc = copy.deepcopy(cert)
    path = tmp_path / "model.snn.json"
    path.write_text(json.dumps(doc["model"]["document"]))
    doc["model"]["path"] = str(path)
    assert check_certificate(doc).valid and check_certificate(doc).valid  # the second check uses what it remembers
    text = path.read_text()
    weight = doc["model"]["document"]["layers"][0]["weight"]
    edited = copy.deepcopy(doc["model"]["document"])
    edited["layers"][0]["weight"][0][0] = weight[0][0] + (1 if weight[0][0] < 0 else -1)  # same width when > 0
    path.write_text(json.dumps(edited))
    assert len(path.read_text()) in (len(text), len(text) - 1, len(text) + 1)
    reasons = failed(check_certificate(doc))
    assert "model" in reasons and f"the model file {path}" in reasons["model"]
    path.write_text(text)
    assert check_certificate(doc).valid
    doc["model"]["document"] = edited  # embedded edit: the stated hash no longer matches
    assert "hashes to" in failed(check_certificate(doc))["model"]


def by_file(tmp_path: Path, name: str = "enumerate") -> tuple[dict, Path, Path]:
    """The case's certificate naming its model by file: ``tmp_path/bundle/certificates/C.json``
    pointing to ``../models/<name>.snn.json``."""
    make_model, centre, prop, kw = next((c[1], c[2], c[3], c[4]) for c in CASES if c[0] == name)
    model, result = answer(make_model, centre, prop, kw)
    model_file = tmp_path / "bundle" / "models" / f"{name}.snn.json"
    model_file.parent.mkdir(parents=True)
    save_model(model, model_file)
    cert = make_certificate(model, prop, centre, result, model_path=f"../models/{name}.snn.json", embed_model=False)
    path = tmp_path / "bundle" / "certificates" / "C.json"
    path.parent.mkdir()
    write_certificate(path, cert)
    return cert, path, model_file


def test_a_certificate_may_name_its_model_by_file(tmp_path, monkeypatch):
    cert, path, model_file = by_file(tmp_path)
    assert cert["model"]["document"] is None and cert["model"]["sha256"] == model_hash(small_model())
    report = check_certificate(path)
    assert report.valid, failed(report)
    assert "recomputed from the model file" in report.checks[1].detail
    # the path is the certificate's own: the bundle checks the same wherever it is, from any folder
    moved = tmp_path / "elsewhere"
    (tmp_path / "bundle").rename(moved)
    monkeypatch.chdir(moved / "models")
    assert check_certificate(moved / "certificates" / "C.json").valid


def test_a_certificate_by_file_needs_its_file_of_the_stated_hash(tmp_path):
    cert, path, model_file = by_file(tmp_path)
    assert check_certificate(path).valid  # remembered by the hash of the file's bytes: edits below still caught
    doc = json.loads(model_file.read_text())
    doc["layers"][0]["weight"][0][0] += 1
    model_file.write_text(json.dumps(doc))
    assert f"the model file {model_file.parent.parent / 'certificates' / '..' / 'models'}" in \
        failed(check_certificate(path))["model"]
    doc["layers"][0]["weight"][0][0] -= 1
    doc["name"] = "other"
    model_file.write_text(json.dumps(doc))
    assert "hashes to" in failed(check_certificate(path))["model"]
    model_file.write_text("{not json")
    assert "is not a valid model" in failed(check_certificate(path))["model"]
    model_file.unlink()
    reasons = failed(check_certificate(path))
    assert "which is not found" in reasons["model"] and "../models/enumerate.snn.json" in reasons["model"]
    assert set(reasons) == {"model"}  # nothing else is checked against a model that is not there
    no_path = copy.deepcopy(cert)
    no_path["model"]["path"] = None  # neither the document nor a file: the schema refuses it
    assert "schema" in failed(check_certificate(no_path))
    with pytest.raises(InputError) as e:
        validate_certificate(no_path)
    assert e.value.path.startswith("model")


def test_make_certificate_by_file_needs_the_path():
    model, result = answer(small_model, CENTRE, Property(Flips(1), Robust()), {"method": "enumerate"})
    with pytest.raises(VerisnnError) as e:
        make_certificate(model, Property(Flips(1), Robust()), CENTRE, result, embed_model=False)
    assert e.value.path == "model_path"


def test_costs_are_recomputed(certs):
    cert = copy.deepcopy(certs["enumerate"][0])
    cert["costs"]["centre"]["energy_uj"] *= 0.5
    assert "recomputed costs of the centre differ" in failed(check_certificate(cert))["costs"]


# ---------------------------------------------------------------- malformed certificates


MALFORMED = [  # (edit, the field the error names, words)
    (lambda c: c.pop("verdict"), "(top level)", "'verdict' is a required property"),
    (lambda c: c.update(verdict="maybe"), "verdict", "is not one of"),
    (lambda c: c.update(format="verisnn-certificate/9"), "format", "expected 'verisnn-certificate/2'"),
    (lambda c: c.update(format="verisnn-certificate/1"), "format", "format 1 left some fields unchecked"),
    (lambda c: c.update(semantics="v2"), "semantics", "verisnn.semantics/1"),
    (lambda c: c["model"].update(sha256="abc"), "model.sha256", "does not match"),
    (lambda c: c["evidence"].pop("smtlib_sha256"), "evidence", "'smtlib_sha256' is a required property"),
    (lambda c: c["evidence"].update(kind="magic"), "evidence.kind", "is not one of"),
    (lambda c: c["centre"]["raster"][0].__setitem__(0, 2), "centre.raster[0][0]", "is not one of [0, 1]"),
    (lambda c: c["centre"]["raster"][1].pop(), "centre.raster[1]", "row 1 has 2 entries"),
    (lambda c: c["centre"]["raster"][1].__setitem__(2, True), "centre.raster[1][2]", "is not one of [0, 1]"),
    (lambda c: c["timings"].update(time_s=-1), "timings.time_s", "minimum"),
    (lambda c: c.update(extra=1), "(top level)", "'extra' was unexpected"),
]


@pytest.mark.parametrize("edit,field,words", MALFORMED)
def test_malformed_certificates_are_refused_naming_the_field(certs, tmp_path, edit, field, words):
    cert = copy.deepcopy(certs["smt-z3"][0])
    edit(cert)
    with pytest.raises(InputError) as e:
        validate_certificate(cert)
    assert e.value.path == field and words in e.value.message, (e.value.path, e.value.message)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(cert))
    with pytest.raises(InputError):
        load_certificate(path)
    with pytest.raises(InputError):
        write_certificate(tmp_path / "out.json", cert)
    report = check_certificate(path)  # the checker reports it, never a traceback
    assert not report.valid and [c.name for c in report.checks] == ["schema"]
    assert field in report.checks[0].detail


def test_unreadable_files_raise_input_errors(tmp_path):
    with pytest.raises(InputError):
        check_certificate(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "verisnn-certificate/1", "format": 2}')
    with pytest.raises(InputError, match="twice"):
        check_certificate(bad)
    bad.write_text("[1, 2")
    with pytest.raises(InputError, match="not valid JSON"):
        load_certificate(bad)
    assert not check_certificate({"format": FORMAT}).valid
    with pytest.raises(InputError):
        load_certificate({"format": FORMAT, "verdict": "verified"})


def test_the_schema_is_draft_2020_12():
    s = schema()
    assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(s)


def test_make_certificate_refuses_a_result_of_another_model():
    model, result = answer(small_model, CENTRE, Property(Flips(1), Robust()), {"method": "enumerate"})
    with pytest.raises(VerisnnError, match="another model"):
        make_certificate(smoke_model(), Property(Flips(1), Robust()), np.zeros((4, 2), dtype=np.int8), result)


def test_cpsat_claims_are_re_decided_without_cp_sat(certs, monkeypatch):
    import verisnn.checker as checker
    import verisnn.kernel.check as kernel_check

    cert = certs["cpsat"][0]
    detail = lambda report: next(c.detail for c in report.checks if c.name == "cpsat")  # noqa: E731
    assert "re-enumerated by the kernel" in detail(check_certificate(cert))
    monkeypatch.setattr(kernel_check, "ENUMERATE_MAX", 0)  # as if the region were too large for the kernel
    assert "plain enumeration" in detail(check_certificate(cert))
    monkeypatch.setattr(checker, "ENUMERATE_RECHECK_MAX", 0)  # and for the engine's enumeration
    report = check_certificate(cert)
    assert report.valid and "step-by-step tree" in detail(report)
    monkeypatch.setattr(checker, "BAB_MAX_REGION", 0)  # and beyond the tree's reach: SMT with z3
    report = check_certificate(cert)
    assert report.valid and "solved by z3" in detail(report)


def test_independent_accepts_only_what_the_kernel_re_derived(certs, monkeypatch):
    import verisnn.kernel.check as kernel_check

    for case in ("bab", "bounds", "enumerate", "smt-z3"):
        report = check_certificate(certs[case][0], independent=True)
        assert report.valid and report.trust == "kernel", failed(report)
    assert "trust" in failed(check_certificate(certs["pdr"][0], independent=True))
    monkeypatch.setattr(kernel_check, "ENUMERATE_MAX", 0)
    report = check_certificate(certs["smt-z3"][0], independent=True)
    assert not report.valid and "solver-trusted" in failed(report)["trust"]


def test_a_re_check_out_of_time_is_not_valid(certs):
    for case in ("bab", "enumerate", "smt-z3", "cpsat", "explore"):
        report = check_certificate(certs[case][0], timeout=0)
        assert not report.valid, case
        assert "time limit" in " ".join(failed(report).values()), failed(report)


def test_an_error_about_the_centre_is_a_record_without_centre():
    model = small_model()
    bad = np.full((4, 3), 2, dtype=np.int8)
    result = verify(model, bad, Property(Flips(1), Robust()))
    assert result.verdict == "error"
    cert = make_certificate(model, Property(Flips(1), Robust()), bad, result)
    assert cert["centre"] is None
    report = check_certificate(cert)
    assert report.valid and "no claim" in report.checks[3].detail
    cert["verdict"], cert["evidence"] = "falsified", {"kind": "witness", "witness": [[0]], "decision": None,
                                                    "witness_sha256": "0" * 64}
    assert "needs its centre" in failed(check_certificate(cert))["centre"]
