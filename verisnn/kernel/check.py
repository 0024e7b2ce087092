"""The kernel's checks of a certificate: its centre, its claim and its costs.

:func:`check_claims` re-derives, with the kernel's own simulator, readouts, regions and
arithmetic, every fact a certificate's answer rests on, and says how (``trust``):

* ``kernel`` — the kernel re-derived the claim alone: a witness replayed; a region
  re-enumerated (every bounded claim whose region has at most :data:`ENUMERATE_MAX`
  rasters, whatever the method that produced it); a ``bab`` tree walked with each pruned
  node's argument re-checked (:mod:`.tree`); a ``bounds`` record re-proved by the kernel's
  own interval arithmetic (:mod:`.intervals`); an ``explore`` claim by the kernel's own
  search of the reachable states (:mod:`.explore`);
* ``solver-trusted`` — SMT, CP-SAT, k-induction and PDR claims on regions too large to
  enumerate: decided by solvers on an encoding the kernel did not write (``recheck``, given
  by the caller; the detail names what is trusted);

A claim the kernel cannot re-derive and no ``recheck`` re-validates is not valid.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from . import encoders, hardware, intervals, regions
from .conditions import decision, violates
from .guard import KernelLimit, Limits
from .explore import explore, violation_step
from .network import Network, document_sha256, raster_sha256, read_network, run
from .tree import check_tree

ENUMERATE_MAX = 1 << 16  # bounded claims of any method on regions this small are re-enumerated by the kernel
BATCH = 4096
SOLVER_KINDS = ("smt", "cpsat", "kinduction", "pdr")
EXPLORE_FACTOR = 64  # the kernel's states per recorded state, at most (they also hold the condition's look-back)
EXPLORE_MAX = 10_000_000


@dataclass
class Finding:
    name: str
    ok: bool
    detail: str


def bind_model(model_doc: dict, stated_sha256: str, limits: Limits) -> Network:
    """The network of a model document whose canonical JSON hashes to ``stated_sha256``
    (ValueError otherwise: the certificate would name another model than the one simulated)."""
    digest = document_sha256(model_doc)
    if digest != stated_sha256:
        raise ValueError(f"the kernel hashes the model document to {digest}, not the stated {stated_sha256}")
    return read_network(model_doc, limits)


def check_claims(doc: dict, net: Network, limits: Limits,
                 recheck: Callable[[str], tuple[bool, str]] | None = None,
                 listing: Callable[[], Iterator[np.ndarray]] | None = None) -> tuple[list[Finding], str | None]:
    """The kernel's findings on ``centre``, the claim and ``costs``, and the claim's trust
    (``None`` when no claim is made or it failed). Any exception is a failed finding.

    ``recheck(kind)``: the engine's re-check of an SMT-family record (solver-trusted claims).
    ``listing()``: the engine's listing of an intensity region of a delta encoder, whose
    completeness the kernel cannot re-derive: a claim over it is ``engine-trusted``."""
    findings: list[Finding] = []
    trust = None
    prop = doc["property"]
    region, condition = prop.get("region", "any"), prop["condition"]
    bounded = prop.get("horizon", "bounded") == "bounded"
    ev, kind = doc["evidence"], doc["evidence"]["kind"]
    name = {"none": "claim", "witness": "witness"}.get(kind, kind)
    try:
        centre = _centre(doc, net, region, bounded, limits)
        findings.append(Finding("centre", True, _no_centre(doc, bounded) if centre is None else
                                f"re-derived by the kernel: sha256 {raster_sha256(centre)}, decision "
                                f"{doc['centre']['reference_decision']}"))
    except (ValueError, KernelLimit, encoders.NotSupported) as e:
        return [Finding("centre", False, str(e))], None
    try:
        if kind == "none":
            ok, detail = True, f"verdict {doc['verdict']}: nothing is claimed (reason: {doc['reason']})"
        else:
            _bound_to(doc, ev)
            ok, detail, trust = _claim(doc, net, centre, region, condition, bounded, limits, recheck, listing)
    except (ValueError, KernelLimit, encoders.NotSupported) as e:
        ok, detail = False, str(e)
    findings.append(Finding(name, ok, detail))
    if not ok:
        trust = None
    if doc.get("costs") is not None:
        findings.append(Finding("costs", *_costs(doc, net, centre, limits)))
    return findings, trust


# ---------------------------------------------------------------- centre and binding


def _no_centre(doc, bounded) -> str:
    return "none: the property is unbounded" if not bounded else f"none: the answer is {doc['verdict']} (no claim)"


def _centre(doc, net, region, bounded, limits) -> np.ndarray | None:
    c = doc["centre"]
    if not bounded and c is not None:
        raise ValueError("an unbounded property has no centre (region any, every input of every length)")
    if not bounded or c is None:
        if bounded and doc["verdict"] in ("verified", "falsified"):
            raise ValueError(f"a {doc['verdict']} answer of a bounded property needs its centre")
        return None
    raster = np.asarray(c["raster"], dtype=np.int8)
    if raster.shape != (net.T, net.n_in):
        raise ValueError(f"the centre has shape {list(raster.shape)}, the model takes [{net.T}, {net.n_in}]")
    if raster_sha256(raster) != c["sha256"]:
        raise ValueError(f"the centre hashes to {raster_sha256(raster)}, not the stated {c['sha256']}")
    if _is_intensity(region):
        if net.encoding is None or "analog" not in c:
            raise ValueError("an intensity region needs the model's encoding and the analog centre")
        encoded = encoders.encode(net.encoding, np.asarray(c["analog"], dtype=np.float64), net.T, net.n_in)
        if not np.array_equal(encoded, raster):
            raise ValueError("the centre raster is not the encoding of the analog centre (by the kernel's encoder)")
    elif "analog" in c:
        raise ValueError("an analog centre (centre.analog) belongs to intensity regions only")
    got = _decision(net, raster, limits)
    if got != c["reference_decision"]:
        raise ValueError(f"the kernel's simulator decides {got} on the centre, the certificate says "
                         f"{c['reference_decision']}")
    return raster


def _decision(net, raster, limits) -> int | None:
    d = int(decision(net, run(net, raster[None], limits).outputs)[0])
    return None if d < 0 else d


def _bound_to(doc, ev) -> None:
    """A proof record names the certificate's model, property and centre."""
    if ev["kind"] == "witness":
        return
    if ev["model_sha256"] != doc["model"]["sha256"] or not _same(ev["property"], doc["property"]):
        raise ValueError("the proof record names another model or property than the certificate")
    if doc["centre"] is not None and (ev.get("centre_sha256") != doc["centre"]["sha256"]
                                      or ev.get("reference_decision") != doc["centre"]["reference_decision"]):
        raise ValueError("the proof record names another centre or reference decision than the certificate")


def _is_intensity(region) -> bool:
    return isinstance(region, dict) and "intensity" in region


def _analog(doc) -> np.ndarray:
    """The analog centre of an intensity region's certificate."""
    return np.asarray(doc["centre"]["analog"], dtype=np.float64)


# ---------------------------------------------------------------- claims


def _claim(doc, net, centre, region, condition, bounded, limits, recheck, listing):
    ev, kind = doc["evidence"], doc["evidence"]["kind"]
    reference = None if centre is None else doc["centre"]["reference_decision"]
    profile = ev.get("hardware_profile")
    if kind == "witness":
        if bounded:
            return (*_witness(doc, net, centre, region, condition, reference, profile, limits), "kernel")
        return (*_unbounded_witness(doc, net, condition, limits), "kernel")
    if bounded and _is_intensity(region) and encoders.read_encoding(net.encoding, net.T)["type"] == "delta":
        if listing is None:
            return False, "the kernel lists no intensity region of a delta encoder and no listing was given", None
        ok, detail = _listed(net, centre, condition, reference, profile, listing, limits)
        return ok, detail, "engine-trusted"
    if bounded:
        size = _region_size(net, doc, region, centre)
        said = ev.get("region_size")
        if said is not None and not _is_intensity(region) and not regions.count_matches(said, size):
            return False, f"the kernel counts {regions.count_words(size)} rasters in the region, the record says {said}", None
        if kind == "bab" and ev["pruned"] is not None:
            ok, detail = check_tree(net, region, centre, condition, reference, ev, limits)
            return ok, detail, "kernel"
        if kind == "bounds":
            cells = encoders.intensity_changeable(net.encoding, _analog(doc),
                                                  region["intensity"], net.T, net.n_in, limits) \
                if _is_intensity(region) else region
            ok, detail = intervals.prove(net, cells, centre, condition, reference, limits, profile)
            if ok or size > ENUMERATE_MAX:
                return ok, detail, "kernel"
        if size <= ENUMERATE_MAX or kind == "enumerate":  # an enumeration is re-done whatever its size (in time)
            ok, detail = _enumerated(doc, net, centre, region, condition, reference, profile, size, limits)
            if ok and kind in SOLVER_KINDS and recheck is not None:  # the record must hold up too (its obligation)
                ok, also = recheck(kind)
                detail = f"{detail}; the record re-checked too: {also}" if ok else also
            return ok, detail, "kernel"
    if kind == "explore":
        return (*_explored(doc, net, condition, limits, recheck), "kernel")
    if kind in SOLVER_KINDS and recheck is not None:
        ok, detail = recheck(kind)
        return ok, detail, "solver-trusted"
    return False, f"the kernel cannot re-derive this {kind} claim and no re-check was given", None


def _explored(doc, net, condition, limits, recheck):
    """An ``explore`` claim: the kernel's own search of the reachable states, with a budget of
    :data:`EXPLORE_FACTOR` times the recorded count (its states also hold the condition's
    look-back); the record is then re-checked by the engine too (its state count)."""
    recorded = doc["evidence"]["reachable_states"]
    budget = min(EXPLORE_FACTOR * max(recorded, 1), EXPLORE_MAX)
    limits.need(budget * 64 * (net.n_in + sum(4 * layer.n_out + layer.delay * layer.n_in for layer in net.layers)),
                f"exploring up to {budget} states")
    letters = None if doc["letters"] is None else np.asarray(doc["letters"], dtype=np.int8)
    verdict, states = explore(net, condition, letters, budget, limits)
    if verdict != "holds":
        return False, f"the kernel's search of the reachable states finds a violation (after {states} states)"
    detail = f"explored by the kernel: all {states} reachable states (with the condition's look-back), none violates"
    if recheck is None:
        return True, detail
    ok, also = recheck("explore")
    return ok, (f"{detail}; the record re-checked too: {also}" if ok else also)


def _first_violation(net, batches, condition, reference, profile, limits) -> tuple[int, np.ndarray | None]:
    """Run every raster of ``batches`` on the kernel: how many were run, and the first that
    violates the condition (``None``: none does)."""
    checked = 0
    for batch in batches:
        limits.tick()
        bad = violates(net, condition, run(net, batch, limits), reference, profile)
        if bad.any():
            return checked, batch[int(np.argmax(bad))]
        checked += len(batch)
    return checked, None


def _listed(net, centre, condition, reference, profile, listing, limits):
    """Every raster of the engine's listing of a delta intensity region, run on the kernel."""
    batches = listing()
    first = next(batches, None)
    if first is None or not np.array_equal(first[0], centre):
        return False, "the engine's listing of the intensity region does not start at the centre's encoding"
    checked, bad = _first_violation(net, itertools.chain([first], batches), condition, reference, profile, limits)
    if bad is not None:
        return False, "the kernel finds a raster of the listed intensity region that violates the condition"
    return True, (f"the {checked} rasters of the engine's listing of the delta intensity region run on the kernel: "
                  f"none violates; trusted: the listing's completeness (verisnn.intensity)")


def _region_size(net, doc, region, centre) -> int:
    if _is_intensity(region):
        return encoders.intensity_size_bound(net.encoding, _analog(doc),
                                             region["intensity"], net.T, net.n_in)
    return regions.size(region, centre)


def _batches(net, doc, region, centre, limits):
    if _is_intensity(region):
        return encoders.intensity_batches(net.encoding, _analog(doc),
                                          region["intensity"], net.T, net.n_in, limits, BATCH)
    return regions.batches(region, centre, limits, BATCH)


def _enumerated(doc, net, centre, region, condition, reference, profile, size, limits):
    checked, bad = _first_violation(net, _batches(net, doc, region, centre, limits), condition, reference, profile,
                                    limits)
    if bad is not None:
        return False, (f"the kernel finds a raster of the region that violates the condition "
                       f"(it differs from the centre in {int((bad != centre).sum())} cells)")
    ev = doc["evidence"]
    if ev["kind"] == "enumerate" and not _is_intensity(region) and ev["rasters_checked"] != checked:
        return False, f"the kernel enumerates {checked} rasters, the record says {ev['rasters_checked']}"
    superset = " (a superset of the intensity region)" if _is_intensity(region) else ""
    return True, f"re-enumerated by the kernel: all {checked} rasters of the region{superset} satisfy the condition"


def _witness(doc, net, centre, region, condition, reference, profile, limits):
    ev = doc["evidence"]
    w = np.asarray(ev["witness"], dtype=np.int8)
    if raster_sha256(w) != ev["witness_sha256"]:
        return False, f"the witness hashes to {raster_sha256(w)}, not the stated {ev['witness_sha256']}"
    if w.shape != centre.shape:
        return False, f"the witness has shape {list(w.shape)}, the centre {list(centre.shape)}"
    if _is_intensity(region):
        if "analog_witness" not in ev:
            return False, "an intensity witness needs its analog input (analog_witness) for the kernel"
        x = np.asarray(ev["analog_witness"], dtype=np.float64)
        analog = _analog(doc)
        if x.shape != analog.shape or not encoders.in_ball(x, analog, region["intensity"]):
            return False, "the analog witness lies outside the ball around the analog centre"
        if not np.array_equal(encoders.encode(net.encoding, x, net.T, net.n_in), w):
            return False, "the analog witness does not encode to the witness raster"
    elif not regions.contains(region, centre, w):
        return False, f"the witness lies outside the region {region} of the centre"
    result = run(net, w[None], limits)
    if not violates(net, condition, result, reference, profile)[0]:
        return False, f"the witness does not violate {condition} on the kernel's simulator"
    got = int(decision(net, result.outputs)[0])
    got = None if got < 0 else got
    if got != ev["decision"]:
        return False, f"the kernel's simulator decides {got} on the witness, the certificate says {ev['decision']}"
    return True, (f"replayed on the kernel's simulator: {int((w != centre).sum())} cells from the centre, inside the "
                  f"region, decision {got} (centre {reference}), violates {condition}")


def _unbounded_witness(doc, net, condition, limits):
    ev = doc["evidence"]
    w = np.asarray(ev["witness"], dtype=np.int8)
    if raster_sha256(w) != ev["witness_sha256"]:
        return False, f"the witness hashes to {raster_sha256(w)}, not the stated {ev['witness_sha256']}"
    if w.ndim != 2 or w.shape[1] != net.n_in or not np.isin(w, (0, 1)).all():
        return False, f"the witness has shape {list(w.shape)}, not [L, {net.n_in}] of 0/1"
    if doc["letters"] is not None:
        allowed = {tuple(row) for row in doc["letters"]}
        if not all(tuple(int(v) for v in row) in allowed for row in w):
            return False, "the witness uses an input vector outside the allowed letters"
    at = violation_step(net, condition, w, limits)
    if at is None:
        return False, f"the witness does not violate {condition} on the kernel's simulator"
    if at != ev.get("violation_step"):
        return False, f"the kernel's simulator shows the violation at step {at}, the certificate says " \
                      f"{ev.get('violation_step')}"
    return True, f"replayed on the kernel's simulator: {len(w)} steps, violation at step {at}"


# ---------------------------------------------------------------- costs


def _costs(doc, net, centre, limits) -> tuple[bool, str]:
    costs = doc["costs"]
    witness = np.asarray(doc["evidence"]["witness"], dtype=np.int8) \
        if doc["evidence"]["kind"] == "witness" and centre is not None else None
    for name, raster in (("centre", centre), ("witness", witness)):
        if (costs[name] is None) != (raster is None):
            return False, (f"costs of a {name} the certificate does not hold" if raster is None else
                           f"the costs leave out the {name}")
        if raster is not None:
            again = hardware.cost_json(net, raster, costs["profile"])
            if not _same(again, costs[name]):
                return False, f"the kernel's recomputed costs of the {name} differ from the recorded ones"
    return True, f"recomputed by the kernel on profile {costs['profile'].get('name')}: the same"


def _same(a, b) -> bool:
    """Equal as JSON values (1 and 1.0 are one number; true is not 1)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, (dict, list, tuple)) or isinstance(b, (dict, list, tuple)) or \
            isinstance(a, bool) != isinstance(b, bool):
        return False
    return a == b
