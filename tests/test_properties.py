"""The property language: parsing, round trips, errors naming keys, files, region sizes, fit to a model."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from verisnn.errors import VerisnnError
from verisnn.model import Dense, InputSpec, Model, Neuron, Readout
from verisnn.properties import (AnyInput, DecidedBy, Deletions, FirstSpikeBy, Flips, Insertions, Intensity, Jitter,
                                NeverFires, NoOverflow, Property, PropertyError, Robust, SpikesAtMost, SynopsAtMost,
                                check_against_model, load_property, parse_property, region_contains, region_size,
                                schema)

# ---------------------------------------------------------------- parsing

PARSED = [
    ({"region": {"flips": 2}, "condition": "robust"}, Property(Flips(2), Robust())),
    ({"region": {"deletions": 0}, "condition": "no_overflow"}, Property(Deletions(0), NoOverflow())),
    ({"region": {"insertions": 3}, "condition": {"spikes_at_most": 40}}, Property(Insertions(3), SpikesAtMost(40))),
    ({"region": {"jitter": {"shift": 1, "spikes": 3}}, "condition": {"decided_by": 6}},
     Property(Jitter(shift=1, spikes=3), DecidedBy(6))),
    ({"region": {"intensity": 0.05}, "condition": {"first_spike_by": 4}}, Property(Intensity(0.05), FirstSpikeBy(4))),
    ({"region": "any", "condition": {"synops_at_most": 1000}}, Property(AnyInput(), SynopsAtMost(1000))),
    ({"region": "any", "condition": {"never_fires": [1, 3]}, "horizon": "unbounded"},
     Property(AnyInput(), NeverFires(1, 3), horizon="unbounded")),
    ({"region": {"flips": 1}, "condition": "robust", "horizon": "bounded", "name": "p1"},
     Property(Flips(1), Robust(), name="p1")),
]


@pytest.mark.parametrize("doc,expected", PARSED)
def test_parse_every_region_and_condition(doc, expected):
    prop = parse_property(doc)
    assert prop == expected
    assert parse_property(prop.to_dict()) == prop
    assert parse_property(json.loads(json.dumps(prop.to_dict()))) == prop


def test_missing_region_means_any():
    assert parse_property({"condition": "no_overflow"}) == Property(AnyInput(), NoOverflow())


def test_to_dict_is_the_file_form():
    assert Property(Flips(2), Robust()).to_dict() == {"region": {"flips": 2}, "condition": "robust"}
    assert Property(Jitter(1, 3), DecidedBy(6)).to_dict() == \
        {"region": {"jitter": {"shift": 1, "spikes": 3}}, "condition": {"decided_by": 6}}
    assert Property(AnyInput(), NeverFires(1, 3), "unbounded", "n").to_dict() == \
        {"region": "any", "condition": {"never_fires": [1, 3]}, "horizon": "unbounded", "name": "n"}
    assert Property(Intensity(1), Robust()).to_dict()["region"] == {"intensity": 1.0}


def test_schema_is_valid_draft_2020_12():
    import jsonschema
    jsonschema.Draft202012Validator.check_schema(schema())


def test_numpy_integers_are_accepted_as_ints():
    assert Flips(np.int64(3)).k == 3 and type(Flips(np.int64(3)).k) is int


# (document, path the error must name, a word the message must contain)
MALFORMED = [
    ({"region": {"flips": -1}, "condition": "robust"}, "region.flips", "got -1"),
    ({"region": {"flips": True}, "condition": "robust"}, "region.flips", "got True"),
    ({"region": {"flips": 1.0}, "condition": "robust"}, "region.flips", "1.0"),
    ({"region": {"flips": "2"}, "condition": "robust"}, "region.flips", "'2'"),
    ({"region": {"flips": None}, "condition": "robust"}, "region.flips", "None"),
    ({"region": {"deletions": -3}, "condition": "robust"}, "region.deletions", "-3"),
    ({"region": {"insertions": [1]}, "condition": "robust"}, "region.insertions", "[1]"),
    ({"region": {"flips": 1, "deletions": 2}, "condition": "robust"}, "region", "exactly one key"),
    ({"region": {}, "condition": "robust"}, "region", "exactly one key"),
    ({"region": {"flop": 1}, "condition": "robust"}, "region", "flop"),
    ({"region": "everything", "condition": "robust"}, "region", "everything"),
    ({"region": 3, "condition": "robust"}, "region", "got 3"),
    ({"region": {"jitter": {"shift": 1}}, "condition": "robust"}, "region.jitter", "spikes"),
    ({"region": {"jitter": {"shift": -1, "spikes": 2}}, "condition": "robust"}, "region.jitter.shift", "-1"),
    ({"region": {"jitter": {"shift": 1, "spikes": False}}, "condition": "robust"}, "region.jitter.spikes", "False"),
    ({"region": {"jitter": {"shift": 1, "spikes": 2, "width": 3}}, "condition": "robust"}, "region.jitter", "width"),
    ({"region": {"jitter": [1, 2]}, "condition": "robust"}, "region.jitter", "[1, 2]"),
    ({"region": {"intensity": float("nan")}, "condition": "robust"}, "region.intensity", "nan"),
    ({"region": {"intensity": float("inf")}, "condition": "robust"}, "region.intensity", "inf"),
    ({"region": {"intensity": -0.1}, "condition": "robust"}, "region.intensity", "-0.1"),
    ({"region": {"intensity": True}, "condition": "robust"}, "region.intensity", "True"),
    ({"region": {"flips": 1}}, "(top level)", "condition"),
    ({"region": {"flips": 1}, "condition": "robustt"}, "condition", "robustt"),
    ({"region": {"flips": 1}, "condition": {"decided_by": 0}}, "condition.decided_by", "got 0"),
    ({"region": {"flips": 1}, "condition": {"decided_by": 2.0}}, "condition.decided_by", "2.0"),
    ({"region": {"flips": 1}, "condition": {"first_spike_by": -4}}, "condition.first_spike_by", "-4"),
    ({"region": {"flips": 1}, "condition": {"spikes_at_most": "many"}}, "condition.spikes_at_most", "many"),
    ({"region": {"flips": 1}, "condition": {"synops_at_most": -1}}, "condition.synops_at_most", "-1"),
    ({"region": "any", "condition": {"never_fires": [1]}}, "condition.never_fires", "[1]"),
    ({"region": "any", "condition": {"never_fires": [1, 2, 3]}}, "condition.never_fires", "[1, 2, 3]"),
    ({"region": "any", "condition": {"never_fires": [1, -2]}}, "condition.never_fires[1]", "-2"),
    ({"region": "any", "condition": {"never_fires": [True, 0]}}, "condition.never_fires[0]", "True"),
    ({"region": "any", "condition": {"robust": True}}, "condition", "robust"),
    ({"region": "any", "condition": {"decided_by": 2, "first_spike_by": 2}}, "condition", "exactly one key"),
    ({"region": "any", "condition": "no_overflow", "horizon": "forever"}, "horizon", "forever"),
    ({"region": "any", "condition": "no_overflow", "name": 7}, "name", "7"),
    ({"region": "any", "condition": "no_overflow", "extra": 1}, "(top level)", "extra"),
    ({"region": {"flips": 1}, "condition": "no_overflow", "horizon": "unbounded"}, "horizon", "region 'any'"),
    ({"region": "any", "condition": "robust", "horizon": "unbounded"}, "horizon", "safety condition"),
]


@pytest.mark.parametrize("doc,path,word", MALFORMED)
def test_malformed_documents_name_the_key(doc, path, word):
    with pytest.raises(PropertyError) as info:
        parse_property(doc)
    assert info.value.path == path, str(info.value)
    assert word in info.value.message, str(info.value)
    assert isinstance(info.value, VerisnnError)


@pytest.mark.parametrize("doc", [None, [], "robust", 3])
def test_a_property_document_is_an_object(doc):
    with pytest.raises(PropertyError, match="object"):
        parse_property(doc)


@pytest.mark.parametrize("make,path", [
    (lambda: Flips(-1), "region.flips"), (lambda: Deletions(True), "region.deletions"),
    (lambda: Insertions(0.5), "region.insertions"), (lambda: Jitter(1, -1), "region.jitter.spikes"),
    (lambda: Intensity(float("nan")), "region.intensity"), (lambda: DecidedBy(0), "condition.decided_by"),
    (lambda: NeverFires(-1, 0), "condition.never_fires[0]"), (lambda: Property(Robust(), Robust()), "region"),
    (lambda: Property(Flips(1), Flips(1)), "condition"), (lambda: Property(Flips(1), Robust(), "later"), "horizon"),
])
def test_dataclasses_validate_at_construction(make, path):
    with pytest.raises(PropertyError) as info:
        make()
    assert info.value.path == path


# ---------------------------------------------------------------- files


def test_yaml_and_json_files(tmp_path):
    y = tmp_path / "p.yaml"
    y.write_text("name: jitter-latency\nregion:\n  jitter: {shift: 1, spikes: 3}\ncondition:\n  decided_by: 6\n")
    assert load_property(y) == Property(Jitter(1, 3), DecidedBy(6), name="jitter-latency")
    j = tmp_path / "p.json"
    j.write_text('{"region": {"flips": 2}, "condition": "robust"}')
    assert load_property(j) == Property(Flips(2), Robust())
    yml = tmp_path / "p.yml"
    yml.write_text('{"region": "any", "condition": {"never_fires": [0, 1]}}')  # JSON text is YAML too
    assert load_property(yml) == Property(AnyInput(), NeverFires(0, 1))


@pytest.mark.parametrize("name,text,word", [
    ("a.yaml", "!!python/object/apply:os.system ['echo hacked']\n", "python/object"),
    ("b.yaml", "region: !!python/object:collections.OrderedDict {}\ncondition: robust\n", "python/object"),
    ("c.yaml", "region: {flips: 1}\ncondition: robust\ncondition: no_overflow\n", "twice"),
    ("d.yaml", "a: &x [1, 2]\nregion: {flips: 1}\ncondition: robust\nb: *x\n", "aliases"),
    ("e.yaml", "region: {flips: 1\ncondition: robust\n", "YAML"),
    ("f.json", '{"region": {"flips": NaN}, "condition": "robust"}', "NaN"),
    ("g.json", '{"condition": "robust", "condition": "no_overflow"}', "twice"),
    ("h.json", '{"region": ', "JSON"),
    ("i.yaml", "region: {flips: -1}\ncondition: robust\n", "region.flips"),
    ("j.yaml", "- 1\n- 2\n", "object"),
])
def test_hostile_and_broken_files_are_refused(tmp_path, name, text, word):
    p = tmp_path / name
    p.write_text(text)
    with pytest.raises(PropertyError) as info:
        load_property(p)
    assert word in str(info.value)
    assert name in str(info.value)


def test_missing_and_oversized_files(tmp_path):
    with pytest.raises(PropertyError, match="cannot read"):
        load_property(tmp_path / "absent.yaml")
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * (1 << 20) + "\ncondition: robust\n")
    with pytest.raises(PropertyError, match="1 MiB"):
        load_property(big)


# ---------------------------------------------------------------- region sizes against brute force


def _all_rasters(T: int, n: int):
    for bits in itertools.product((0, 1), repeat=T * n):
        yield np.array(bits, dtype=np.int8).reshape(T, n)


def _naive_jitter_moves(c_col, r_col, shift):
    """Fewest moved spikes over every bijection (all permutations), None if none is shift-bounded."""
    a, b = list(np.flatnonzero(c_col)), list(np.flatnonzero(r_col))
    if len(a) != len(b):
        return None
    best = None
    for perm in itertools.permutations(b):
        if all(abs(x - y) <= shift for x, y in zip(a, perm)):
            moved = sum(x != y for x, y in zip(a, perm))
            best = moved if best is None else min(best, moved)
    return best


def _naive_member(region, c, r) -> bool:
    flips = int((c != r).sum())
    if isinstance(region, AnyInput):
        return True
    if isinstance(region, Flips):
        return flips <= region.k
    if isinstance(region, Deletions):
        return flips <= region.k and not ((r == 1) & (c == 0)).any()
    if isinstance(region, Insertions):
        return flips <= region.k and not ((r == 0) & (c == 1)).any()
    moves = [_naive_jitter_moves(c[:, i], r[:, i], region.shift) for i in range(c.shape[1])]
    return None not in moves and sum(moves) <= region.spikes


CENTRES = [
    np.array([[1, 0], [0, 1], [1, 1], [0, 0]]),                      # T=4, n=2
    np.array([[1, 1, 0, 1], [0, 1, 1, 0]]),                          # T=2, n=4
    np.array([[1], [1], [0], [1], [0], [1], [1], [0]]),              # T=8, n=1, five spikes
    np.array([[0, 0, 0], [0, 1, 0]]),                                # sparse
    np.zeros((3, 2), dtype=int),                                     # no spikes
]
FINITE_REGIONS = [AnyInput(), Flips(0), Flips(2), Flips(9), Deletions(1), Deletions(3), Insertions(2), Insertions(8),
                  Jitter(0, 2), Jitter(1, 1), Jitter(1, 2), Jitter(2, 3), Jitter(3, 5), Jitter(7, 8)]


@pytest.mark.parametrize("ci", range(len(CENTRES)))
def test_region_size_and_membership_match_brute_force(ci):
    c = CENTRES[ci]
    rasters = list(_all_rasters(*c.shape))
    for region in FINITE_REGIONS:
        members = [r for r in rasters if _naive_member(region, c, r)]
        assert region_size(region, c) == len(members), region
        assert all(region_contains(region, c, r) == _naive_member(region, c, r) for r in rasters), region
        assert region_contains(region, c, c)


def test_region_sizes_are_exact_big_ints():
    c = np.zeros((100, 784), dtype=np.int8)
    c[::7, ::5] = 1
    assert region_size(AnyInput(), c) == 2 ** 78400
    assert region_size(Flips(3), c) == sum(math.comb(78400, j) for j in range(4))
    ones = int(c.sum())
    assert region_size(Deletions(2), c) == 1 + ones + math.comb(ones, 2)
    assert region_size(Insertions(1), c) == 1 + 78400 - ones


def test_jitter_size_by_hand():
    # One spike at step 1 of T=3, shift 1: it stays, or moves to 0 or 2.
    assert region_size(Jitter(1, 1), np.array([[0], [1], [0]])) == 3
    # Spikes at 0 and 1, shift 1: {0,1} itself, {0,2} (one move), {1,2} (two moves: 0->1, 1->2).
    c = np.array([[1], [1], [0]])
    assert region_size(Jitter(1, 1), c) == 2
    assert region_size(Jitter(1, 2), c) == 3
    # Moves never leave [0, T-1], never merge spikes; a jitter raster keeps every channel's count.
    assert not region_contains(Jitter(2, 2), c, np.array([[1], [0], [0]]))


def test_intensity_is_not_a_finite_raster_set():
    with pytest.raises(PropertyError, match="not a finite raster set"):
        region_size(Intensity(0.1), np.zeros((2, 2), dtype=int))


def test_bad_centre_rasters_are_input_errors():
    with pytest.raises(VerisnnError, match="0 or 1"):
        region_size(Flips(1), np.array([[0, 2]]))
    with pytest.raises(VerisnnError, match=r"\[T, n\]"):
        region_size(Flips(1), np.zeros(4, dtype=int))


# ---------------------------------------------------------------- fit to a model


def _model(encoding=None, li_output=False) -> Model:
    hidden = Dense(weight=[[1, 2], [3, -4], [0, 1]], neuron=Neuron(size=3, model="lif", threshold=3, v_decay=[7, 3]))
    out = Dense(weight=[[1, 1, 1], [1, -1, 0]],
                neuron=Neuron(size=2, model="li", threshold=None) if li_output else Neuron(size=2, threshold=2))
    readout = Readout(type="membrane_final" if li_output else "spike_count")
    return Model(time_steps=5, input=InputSpec(size=2, encoding=encoding), layers=(hidden, out), readout=readout)


def test_fitting_properties_pass():
    model = _model(encoding={"type": "rate", "time_steps": 5, "lo": 0.0, "hi": 1.0})
    for region in (Flips(3), Jitter(4, 2), Intensity(0.1), AnyInput()):
        for cond in (Robust(), DecidedBy(5), FirstSpikeBy(1), SpikesAtMost(0), SynopsAtMost(7), NeverFires(1, 1),
                     NeverFires(0, 2), NoOverflow()):
            check_against_model(Property(region, cond), model)


@pytest.mark.parametrize("prop,model_kw,path,word", [
    (Property(Flips(1), DecidedBy(6)), {}, "condition.decided_by", "time_steps 5"),
    (Property(Flips(1), FirstSpikeBy(6)), {}, "condition.first_spike_by", "time_steps 5"),
    (Property(Flips(1), FirstSpikeBy(2)), {"li_output": True}, "condition.first_spike_by", "li"),
    (Property(AnyInput(), NeverFires(2, 0)), {}, "condition.never_fires[0]", "out of range"),
    (Property(AnyInput(), NeverFires(0, 3)), {}, "condition.never_fires[1]", "out of range"),
    (Property(AnyInput(), NeverFires(1, 0)), {"li_output": True}, "condition.never_fires[0]", "li"),
    (Property(Intensity(0.1), Robust()), {}, "region.intensity", "input.encoding"),
    (Property(Intensity(0.1), Robust()), {"encoding": {"type": "nonsense"}}, "region.intensity", "unusable"),
    (Property(Jitter(5, 1), Robust()), {}, "region.jitter.shift", "time_steps 5"),
    (Property(AnyInput(), NoOverflow(), horizon="unbounded"), {}, "horizon", "unbounded method"),
])
def test_properties_that_do_not_fit_the_model(prop, model_kw, path, word):
    with pytest.raises(PropertyError) as info:
        check_against_model(prop, _model(**model_kw))
    assert info.value.path == path
    assert word in info.value.message
