"""Model format v1: round trips, identity, canonical JSON, the JSON Schema, and what
malformed or hostile files do (a ModelError naming the field; never a traceback)."""

from __future__ import annotations

import copy
import hashlib
import json
import pickle
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import models, rasters
from verisnn import ModelError
from verisnn.model import Conv2d, Dense, InputSpec, Model, Neuron, Readout
from verisnn.model_format import (canonical_json, load_model, model_from_dict, model_hash, model_to_dict, parse_json,
                                  save_model, schema)
from verisnn.simulator import simulate


def full_model() -> Model:
    """Every option at once: conv2d (stride, padding, per-channel bias, delay, recurrence) with
    per-neuron lists, then a dense li readout layer."""
    conv = Conv2d(
        weight=[[[[1, -2], [3, 0]]], [[[0, 2], [-1, 1]]]], input_shape=(1, 3, 3), stride=(2, 1), padding=(1, 0),
        bias=[1, -1], delay=1, recurrent=(np.eye(8, dtype=int) * -1).tolist(),
        neuron=Neuron(size=8, model="cuba_lif", threshold=[1, 2, 3, 4, 1, 2, 3, 4], fire_when=">",
                      v_decay=[[3, 2]] * 4 + [[7, 3]] * 4, i_decay=[1, 1], rounding="toward_zero",
                      reset="to_value", v_reset=[0, -1, 0, -1, 0, -1, 0, -1], refractory=[0, 1, 2, 0, 1, 2, 0, 1],
                      v_bits=12, on_overflow="wrap"))
    li = Dense(weight=np.arange(24).reshape(3, 8) - 12, bias=[0, 5, -5],
               neuron=Neuron(size=3, model="li", threshold=None, v_decay=[15, 4], v_bits=16))
    return Model(time_steps=5, input=InputSpec(size=9, shape=(1, 3, 3), encoding={"type": "rate", "max_rate": 0.5}),
                 layers=(conv, li), readout=Readout(type="membrane_max", ties="lowest_index"),
                 name="full-modèle", provenance={"trained_with": "test", "quantization": {"scale": 64.0}})


def lif_model() -> Model:
    layer = Dense(weight=[[1, 2], [3, -4]], neuron=Neuron(size=2, model="lif", threshold=3, v_decay=[7, 3]))
    return Model(time_steps=3, input=InputSpec(size=2), layers=(layer,), name="tiny")


def base_doc() -> dict:
    """A small valid document with only the required fields (defaults elsewhere)."""
    return {"format": "verisnn.model/1", "time_steps": 3, "input": {"size": 2},
            "layers": [{"type": "dense", "weight": [[1, 2], [3, 4]], "neuron": {"model": "lif", "threshold": 2}}]}


def conv_doc() -> dict:
    return {"format": "verisnn.model/1", "time_steps": 2, "input": {"size": 4, "shape": [1, 2, 2]},
            "layers": [{"type": "conv2d", "weight": [[[[1]]]], "input_shape": [1, 2, 2],
                        "neuron": {"model": "if", "threshold": 1}}]}


def _same_behaviour(a: Model, b: Model, seed: int = 0) -> None:
    raster = np.random.default_rng(seed).integers(0, 2, size=(4, a.time_steps, a.input.size))
    ra, rb = simulate(a, raster, record_membranes=True), simulate(b, raster, record_membranes=True)
    assert ra.to_json() == rb.to_json()
    for x, y in zip(ra.layer_outputs + ra.membranes, rb.layer_outputs + rb.membranes):
        np.testing.assert_array_equal(x, y)


# ---------------------------------------------------------------- round trip and identity


@pytest.mark.parametrize("make", [full_model, lif_model])
def test_save_load_round_trip(tmp_path, make):
    model = make()
    path = tmp_path / "m.snn.json"
    digest = save_model(model, path)
    loaded = load_model(path)
    assert model_to_dict(loaded) == model_to_dict(model)
    assert json.loads(path.read_text()) == model_to_dict(model)  # the file is the normal form
    assert digest == model_hash(model) == model_hash(loaded)
    assert digest == hashlib.sha256(canonical_json(json.loads(path.read_text())).encode()).hexdigest()
    assert not list(tmp_path.glob("*.tmp"))
    _same_behaviour(model, loaded)


def test_round_trip_keeps_per_neuron_lists_and_conv_fields():
    doc = model_to_dict(full_model())
    conv, li = doc["layers"]
    assert conv["type"] == "conv2d" and conv["stride"] == [2, 1] and conv["padding"] == [1, 0]
    assert conv["input_shape"] == [1, 3, 3] and conv["bias"] == [1, -1] and conv["delay"] == 1
    assert conv["neuron"]["threshold"] == [1, 2, 3, 4, 1, 2, 3, 4]
    assert conv["neuron"]["v_decay"] == [[3, 2]] * 4 + [[7, 3]] * 4
    assert conv["neuron"]["i_decay"] == [1, 1]
    assert conv["neuron"]["refractory"] == [0, 1, 2, 0, 1, 2, 0, 1]
    assert li["neuron"]["threshold"] is None and li["recurrent"] is None
    assert doc["readout"] == {"type": "membrane_max", "ties": "lowest_index"}
    assert doc["input"] == {"size": 9, "shape": [1, 3, 3], "encoding": {"type": "rate", "max_rate": 0.5}}


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_random_models_round_trip_and_validate_against_the_full_schema(tmp_path_factory, data):
    model = data.draw(models())
    path = tmp_path_factory.mktemp("rt") / "m.snn.json"
    digest = save_model(model, path)
    doc = json.loads(path.read_text())
    jsonschema.Draft202012Validator(schema()).validate(doc)
    loaded = load_model(path)
    assert model_hash(loaded) == digest
    raster = data.draw(rasters(model, batch=2))
    assert simulate(model, raster).to_json() == simulate(loaded, raster).to_json()


def _reverse_keys(x):
    if isinstance(x, dict):
        return {k: _reverse_keys(x[k]) for k in reversed(list(x))}
    if isinstance(x, list):
        return [_reverse_keys(v) for v in x]
    return x


def test_hash_ignores_key_order_whitespace_and_omitted_defaults():
    model = full_model()
    doc = model_to_dict(model)
    assert model_hash(_reverse_keys(doc)) == model_hash(doc) == model_hash(model)
    assert model_hash(json.loads(json.dumps(doc, indent=4))) == model_hash(model)
    minimal = base_doc()  # defaults omitted: its normal form spells them out
    explicit = model_to_dict(model_from_dict(minimal))
    assert explicit["layers"][0]["neuron"]["v_bits"] == 24 and explicit["layers"][0]["bias"] == [0, 0]
    assert model_hash(minimal) == model_hash(explicit)


@pytest.mark.parametrize("change", [
    lambda d: d["layers"][0]["weight"][0][0].__setitem__(0, [2, -2]),  # one conv weight entry
    lambda d: d["layers"][1]["weight"][2].__setitem__(7, 12),          # one dense weight, 11 -> 12
    lambda d: d["layers"][1]["bias"].__setitem__(0, 1),
    lambda d: d["layers"][0]["neuron"]["threshold"].__setitem__(7, 5),
    lambda d: d["layers"][0]["neuron"].__setitem__("rounding", "floor"),
    lambda d: d.__setitem__("time_steps", 6),
])
def test_hash_changes_when_one_value_changes(change):
    doc = model_to_dict(full_model())
    changed = copy.deepcopy(doc)
    change(changed)
    assert changed != doc
    assert model_hash(changed) != model_hash(doc)


def test_canonical_json_and_hash_of_a_small_model_by_hand():
    # sorted keys, separators (",", ":"), non-ASCII escaped
    assert canonical_json({"b": 1, "a": [1, 2], "é": "ü"}) == '{"a":[1,2],"b":1,"\\u00e9":"\\u00fc"}'
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})
    model = Model(time_steps=2, input=InputSpec(size=1), name="é",
                  layers=(Dense(weight=[[3]], neuron=Neuron(size=1, model="if", threshold=2)),))
    expected = (
        '{"format":"verisnn.model/1","input":{"encoding":null,"shape":null,"size":1},'
        '"layers":[{"bias":[0],"delay":0,"neuron":{"fire_when":">=","i_decay":null,"model":"if",'
        '"on_overflow":"saturate","refractory":0,"reset":"subtract","rounding":"floor","threshold":2,'
        '"v_bits":24,"v_decay":[1,0],"v_reset":0},"recurrent":null,"type":"dense","weight":[[3]]}],'
        '"name":"\\u00e9","provenance":{},"readout":{"ties":"invalid","type":"spike_count"},"time_steps":2}')
    assert canonical_json(model_to_dict(model)) == expected
    assert model_hash(model) == hashlib.sha256(expected.encode("ascii")).hexdigest()


# ---------------------------------------------------------------- the JSON Schema


def test_schema_is_valid_draft_2020_12_and_the_shipped_file():
    s = schema()
    jsonschema.Draft202012Validator.check_schema(s)
    assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    shipped = Path(__file__).parent.parent / "verisnn" / "schemas" / "model-v1.schema.json"
    assert json.loads(shipped.read_text()) == s


@pytest.mark.parametrize("make", [full_model, lif_model])
def test_saved_models_validate_against_the_full_schema(tmp_path, make):
    save_model(make(), tmp_path / "m.snn.json")
    jsonschema.Draft202012Validator(schema()).validate(json.loads((tmp_path / "m.snn.json").read_text()))


@pytest.mark.parametrize("change", [
    lambda d: d["layers"][0]["weight"][0].__setitem__(1, 1.5),
    lambda d: d["layers"][0]["weight"][0].__setitem__(1, "2"),
    lambda d: d["layers"][0]["neuron"].__setitem__("model", "izhikevich"),
    lambda d: d["layers"][0]["neuron"].pop("threshold"),
    lambda d: d["layers"][0].__setitem__("stride", [1, 1]),  # a conv2d field on a dense layer
    lambda d: d["layers"][0]["neuron"].__setitem__("v_decay", [1, 15]),
])
def test_full_schema_rejects_what_the_loader_rejects(change):
    doc = base_doc()
    change(doc)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema()).validate(doc)
    with pytest.raises(ModelError):
        model_from_dict(doc)


# ---------------------------------------------------------------- malformed documents

HUGE = 2 ** 80


def _set(*keys_and_value):
    *keys, value = keys_and_value

    def change(d):
        for k in keys[:-1]:
            d = d[k]
        d[keys[-1]] = value
    return change


def _pop(*keys):
    def change(d):
        for k in keys[:-1]:
            d = d[k]
        del d[keys[-1]]
    return change


NEURON = ("layers", 0, "neuron")
LAYER = ("layers", 0)
BAD_DOCUMENTS = [
    # (what, change to base_doc, field the error names, part of the message)
    ("wrong format", _set("format", "verisnn.model/2"), "format", "verisnn.model/1"),
    ("no format", _pop("format"), "format", "verisnn.model/1"),
    ("no time_steps", _pop("time_steps"), "(top level)", "'time_steps' is a required property"),
    ("no layers", _pop("layers"), "(top level)", "'layers'"),
    ("no input size", _pop("input", "size"), "input", "'size'"),
    ("no weight", _pop(*LAYER, "weight"), "layers[0]", "'weight'"),
    ("no neuron", _pop(*LAYER, "neuron"), "layers[0]", "'neuron'"),
    ("no neuron model", _pop(*NEURON, "model"), "layers[0].neuron", "'model'"),
    ("no threshold", _pop(*NEURON, "threshold"), "layers[0].neuron", "'threshold'"),
    ("unknown key", _set("weights", 1), "(top level)", "'weights' was unexpected"),
    ("unknown layer key", _set(*LAYER, "stride", [1, 1]), "layers[0]", "'stride' was unexpected"),
    ("time_steps string", _set("time_steps", "3"), "time_steps", "not of type 'integer'"),
    ("time_steps bool", _set("time_steps", True), "time_steps", "not of type 'integer'"),
    ("time_steps float", _set("time_steps", 2.5), "time_steps", "integer"),
    ("layers not a list", _set("layers", {}), "layers", "not of type 'array'"),
    ("no layers at all", _set("layers", []), "layers", "non-empty"),
    ("weight not a list", _set(*LAYER, "weight", 3), "layers[0].weight", "not of type 'array'"),
    ("ragged weight", _set(*LAYER, "weight", [[1, 2], [3]]), "layers[0].weight", "rectangular"),
    ("weight 1.5", _set(*LAYER, "weight", [[1, 1.5], [3, 4]]), "layers[0].weight", "entry [0, 1] is 1.5"),
    ("weight 1.0", _set(*LAYER, "weight", [[1, 1.0], [3, 4]]), "layers[0].weight", "entry [0, 1] is 1.0"),
    ("weight string", _set(*LAYER, "weight", [[1, "2"], [3, 4]]), "layers[0].weight", "entry [0, 1] is '2'"),
    ("weight bool", _set(*LAYER, "weight", [[1, True], [3, 4]]), "layers[0].weight", "entry [0, 1] is True"),
    ("weight null", _set(*LAYER, "weight", [[1, None], [3, 4]]), "layers[0].weight", "entry [0, 1] is None"),
    ("weight 3-D", _set(*LAYER, "weight", [[[1, 2]], [[3, 4]]]), "layers[0].weight", "expected 2"),
    ("weight vs input size", _set(*LAYER, "weight", [[1, 2, 3], [4, 5, 6]]), "layers[0]", "takes 3 inputs"),
    ("bias length", _set(*LAYER, "bias", [1]), "layers[0].bias", "expected 2"),
    ("bias float", _set(*LAYER, "bias", [1, 0.5]), "layers[0].bias[1]", "not of type 'integer'"),
    ("recurrent shape", _set(*LAYER, "recurrent", [[1]]), "layers[0].recurrent", "expected [2, 2]"),
    ("layer type", _set(*LAYER, "type", "lstm"), "layers[0].type", "'lstm' is not one of"),
    ("neuron model", _set(*NEURON, "model", "izhikevich"), "layers[0].neuron.model", "is not one of"),
    ("fire_when", _set(*NEURON, "fire_when", "=>"), "layers[0].neuron.fire_when", "is not one of"),
    ("rounding", _set(*NEURON, "rounding", "nearest"), "layers[0].neuron.rounding", "is not one of"),
    ("reset", _set(*NEURON, "reset", "zero"), "layers[0].neuron.reset", "is not one of"),
    ("on_overflow", _set(*NEURON, "on_overflow", "clip"), "layers[0].neuron.on_overflow", "is not one of"),
    ("readout type", _set("readout", {"type": "argmax"}), "readout.type", "is not one of"),
    ("readout ties", _set("readout", {"ties": "random"}), "readout.ties", "is not one of"),
    ("threshold negative", _set(*NEURON, "threshold", -1), "layers[0].neuron.threshold", "outside [0,"),
    ("threshold list negative", _set(*NEURON, "threshold", [1, -1]), "layers[0].neuron.threshold", "outside [0,"),
    ("threshold list length", _set(*NEURON, "threshold", [1, 2, 3]), "layers[0].neuron.threshold", "one per neuron"),
    ("threshold string", _set(*NEURON, "threshold", "2"), "layers[0].neuron.threshold", "not of type"),
    ("threshold above v_bits", _set(*NEURON, "threshold", 8), "layers[0].neuron.threshold", "outside [0,"),
    ("decay num > 2^shift", _set(*NEURON, "v_decay", [5, 2]), "layers[0].neuron.v_decay[0]", "2^shift"),
    ("decay shift > 14", _set(*NEURON, "v_decay", [5, 15]), "layers[0].neuron.v_decay[1]", "maximum of 14"),
    ("decay not a pair", _set(*NEURON, "v_decay", [1, 2, 3]), "layers[0].neuron.v_decay", "too long"),
    ("decay list length", _set(*NEURON, "v_decay", [[1, 1]] * 3), "layers[0].neuron.v_decay", "one per neuron"),
    ("i_decay on lif", _set(*NEURON, "i_decay", [1, 1]), "layers[0].neuron.i_decay", "cuba_lif"),
    ("cuba_lif without i_decay", _set(*NEURON, "model", "cuba_lif"), "layers[0].neuron.i_decay", "needs i_decay"),
    ("if that leaks", lambda d: d["layers"][0]["neuron"].update(model="if", v_decay=[1, 1]),
     "layers[0].neuron.v_decay", "does not leak"),
    ("li with threshold", _set(*NEURON, "model", "li"), "layers[0].neuron.threshold", "never fires"),
    ("v_reset too wide", _set(*NEURON, "v_reset", 8), "layers[0].neuron.v_reset", "does not fit in 4"),
    ("refractory negative", _set(*NEURON, "refractory", -1), "layers[0].neuron.refractory", "[0,"),
    ("v_bits 1", _set(*NEURON, "v_bits", 1), "layers[0].neuron.v_bits", "minimum of 2"),
    ("v_bits 64", _set(*NEURON, "v_bits", 64), "layers[0].neuron.v_bits", "maximum of 48"),
    ("delay negative", _set(*LAYER, "delay", -1), "layers[0].delay", "minimum of 0"),
    ("input shape vs size", _set("input", {"size": 2, "shape": [3]}), "input.shape", "input.size is 2"),
    ("encoding not an object", _set("input", {"size": 2, "encoding": "rate"}), "input.encoding", "not of type"),
    ("provenance not an object", _set("provenance", []), "provenance", "not of type 'object'"),
    ("name not a string", _set("name", 5), "name", "not of type 'string'"),
    ("membrane readout without li", _set("readout", {"type": "membrane_final"}), "readout.type", "must be 'li'"),
    ("li not last", lambda d: d["layers"].insert(0, {"type": "dense", "weight": [[1, 0], [0, 1]],
                                                     "neuron": {"model": "li", "threshold": None}}),
     "layers[0].neuron.model", "only be the last layer"),
    ("spike readout on li", lambda d: d["layers"][0]["neuron"].update(model="li", threshold=None),
     "readout.type", "last layer is 'li'"),
    ("second layer input size", lambda d: d["layers"].append(
        {"type": "dense", "weight": [[1, 2, 3]], "neuron": {"model": "if", "threshold": 1}}),
     "layers[1]", "takes 3 inputs, the layer below gives 2"),
    # huge numbers: 2**80 does not fit any machine integer
    ("huge weight", _set(*LAYER, "weight", [[1, HUGE], [3, 4]]), "layers[0].weight", "2^40"),
    ("huge negative weight", _set(*LAYER, "weight", [[1, -(2 ** 63)], [3, 4]]), "layers[0].weight", "2^40"),
    ("huge bias", _set(*LAYER, "bias", [HUGE, 0]), "layers[0].bias", "2^40"),
    ("huge recurrent", _set(*LAYER, "recurrent", [[HUGE, 0], [0, 0]]), "layers[0].recurrent", "2^40"),
    ("huge time_steps", _set("time_steps", HUGE), "time_steps", "maximum of 100000"),
    ("huge threshold", _set(*NEURON, "threshold", HUGE), "layers[0].neuron.threshold", "outside [0,"),
    ("huge v_reset", _set(*NEURON, "v_reset", -HUGE), "layers[0].neuron.v_reset", "does not fit"),
    ("huge refractory", _set(*NEURON, "refractory", HUGE), "layers[0].neuron.refractory", "[0, 100000]"),
    ("huge delay", _set(*LAYER, "delay", HUGE), "layers[0].delay", "maximum of 1024"),
    ("huge decay", _set(*NEURON, "v_decay", [HUGE, 3]), "layers[0].neuron.v_decay[0]", "2^shift"),
    ("huge v_bits", _set(*NEURON, "v_bits", HUGE), "layers[0].neuron.v_bits", "maximum of 48"),
]


def _doc_for(what: str) -> dict:
    doc = base_doc()
    if what in ("v_reset too wide", "threshold above v_bits"):
        doc["layers"][0]["neuron"]["v_bits"] = 4
    return doc


def _assert_clean(error: ModelError) -> None:
    text = str(error)
    assert "Traceback" not in text and 'File "' not in text and "\n" not in text, text


def _assert_refused(doc: dict, field: str, message: str) -> None:
    """``doc`` gives a clean ModelError at ``field`` whose message contains ``message``."""
    with pytest.raises(ModelError) as caught:
        model_from_dict(doc)
    assert caught.value.path == field, str(caught.value)
    assert message in caught.value.message, str(caught.value)
    _assert_clean(caught.value)


@pytest.mark.parametrize("what, change, field, message", BAD_DOCUMENTS, ids=[c[0] for c in BAD_DOCUMENTS])
def test_malformed_document_names_the_field(tmp_path, what, change, field, message):
    doc = _doc_for(what)
    change(doc)
    _assert_refused(doc, field, message)
    # the same document as a file: the error names the file, then the field
    path = tmp_path / "bad.snn.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ModelError) as from_file:
        load_model(path)
    assert from_file.value.path == f"bad.snn.json: {field}"
    assert str(from_file.value).startswith(f"bad.snn.json: {field}: ")
    _assert_clean(from_file.value)


@pytest.mark.parametrize("what, change, field, message", [
    ("conv without input_shape", _pop(*LAYER, "input_shape"), "layers[0]", "'input_shape' is a required property"),
    ("conv ragged", _set(*LAYER, "weight", [[[[1], [1, 2]]]]), "layers[0].weight", "rectangular"),
    ("conv kernel too large", _set(*LAYER, "weight", [[[[1, 1, 1]]]]), "layers[0].weight", "kernel larger"),
    ("conv channels", _set(*LAYER, "weight", [[[[1]], [[1]]]]), "layers[0].weight", "2 input channels"),
    ("conv stride 0", _set(*LAYER, "stride", [0, 1]), "layers[0].stride[0]", "minimum of 1"),
    ("conv padding negative", _set(*LAYER, "padding", [0, -1]), "layers[0].padding[1]", "minimum of 0"),
    ("conv input_shape length", _set(*LAYER, "input_shape", [4]), "layers[0].input_shape", "too short"),
    ("conv threshold per neuron", _set(*NEURON, "threshold", [1, 2]), "layers[0].neuron.threshold", "(4)"),
    ("conv bias per channel", _set(*LAYER, "bias", [1, 2]), "layers[0].bias", "expected 1"),
])
def test_malformed_conv2d_names_the_field(what, change, field, message):
    doc = conv_doc()
    change(doc)
    _assert_refused(doc, field, message)


# ---------------------------------------------------------------- hostile files

VALID = json.dumps(base_doc())
HOSTILE_FILES = [
    # (what, file content, part of the message)
    ("NaN", VALID.replace('"threshold": 2', '"threshold": NaN').encode(), "NaN is not a number JSON allows"),
    ("Infinity", VALID.replace('"threshold": 2', '"threshold": Infinity').encode(), "Infinity"),
    ("-Infinity", VALID.replace('"threshold": 2', '"threshold": -Infinity').encode(), "-Infinity"),
    ("1e400", VALID.replace('"threshold": 2', '"threshold": 1e400').encode(), "threshold"),
    ("duplicate key", VALID.replace('"time_steps": 3', '"time_steps": 3, "time_steps": 4').encode(),
     "'time_steps' appears twice"),
    ("deep nesting", b"[" * 100_000, "nests too deeply"),
    ("deep nesting, closed", b"[" * 100_000 + b"]" * 100_000, "nests too deeply"),
    ("deep objects", b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "nests too deeply"),
    ("pickle", pickle.dumps({"format": "verisnn.model/1", "layers": []}), "not"),
    ("pickle protocol 0", pickle.dumps({"format": "verisnn.model/1"}, protocol=0), "not valid JSON"),
    ("binary garbage", bytes(range(256)) * 4, "not"),
    ("empty file", b"", "not valid JSON"),
    ("only whitespace", b"  \n ", "not valid JSON"),
    ("truncated", VALID[: len(VALID) // 2].encode(), "not valid JSON"),
    ("a list", b"[1, 2, 3]", "holds a JSON object, got list"),
    ("a string", b'"verisnn.model/1"', "holds a JSON object, got str"),
    ("null", b"null", "holds a JSON object, got NoneType"),
    ("5000-digit number", VALID.replace('"threshold": 2', '"threshold": ' + "9" * 5000).encode(), "digits"),
    ("latin-1 text", VALID.replace('"time_steps"', '"name": "caf\xe9", "time_steps"').encode("latin-1"), "UTF-8"),
]


@pytest.mark.parametrize("what, content, message", HOSTILE_FILES, ids=[c[0] for c in HOSTILE_FILES])
def test_hostile_file_gives_a_clean_model_error(tmp_path, what, content, message):
    path = tmp_path / "hostile.snn.json"
    path.write_bytes(content)
    with pytest.raises(ModelError) as caught:
        load_model(path)
    assert message in str(caught.value)
    assert str(caught.value).startswith("hostile.snn.json")
    _assert_clean(caught.value)


def test_parse_json_alone_is_strict():
    for text in ('{"a": NaN}', '{"a": 1, "a": 1}', "[" * 50_000):
        with pytest.raises(ModelError):
            parse_json(text)
    assert parse_json('{"a": [1, 2.5, "x", null, true]}') == {"a": [1, 2.5, "x", None, True]}


def test_directory_and_missing_file(tmp_path):
    for path, message in ((tmp_path, "cannot read"), (tmp_path / "missing.snn.json", "No such file")):
        with pytest.raises(ModelError) as caught:
            load_model(path)
        assert caught.value.path == str(path) and message in caught.value.message
        _assert_clean(caught.value)


def test_loading_never_unpickles(tmp_path, monkeypatch):
    """A pickle whose loading would run code: load_model must not touch pickle at all."""
    ran = []
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: ran.append(1))
    monkeypatch.setattr(pickle, "load", lambda *a, **k: ran.append(1))

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))
    path = tmp_path / "evil.snn.json"
    path.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(ModelError):
        load_model(path)
    assert not ran


# ---------------------------------------------------------------- the documentation's example

DOC = Path(__file__).parent.parent / "docs" / "model-format.md"


def test_documented_example_loads_and_has_the_documented_hash(tmp_path):
    text = DOC.read_text()
    example = text.split("## A complete example", 1)[1].split("```json\n", 1)[1].split("```", 1)[0]
    documented_hash = text.split("its hash is\n`", 1)[1].split("`", 1)[0]
    path = tmp_path / "example.snn.json"
    path.write_text(example)
    model = load_model(path)
    assert model_to_dict(model) == json.loads(example)  # the example is in normal form
    assert model_hash(model) == documented_hash
    jsonschema.Draft202012Validator(schema()).validate(json.loads(example))
    # the shortest file with the same meaning: defaults left out
    short = json.loads(example)
    for key in ("encoding",):
        del short["input"][key]
    for layer in short["layers"]:
        for key in ("stride", "padding", "delay", "recurrent"):
            if key in layer and layer[key] in ([1, 1], [0, 0], 0, None):
                del layer[key]
        for key, default in (("fire_when", ">="), ("i_decay", None), ("rounding", "floor"), ("reset", "subtract"),
                             ("v_reset", 0), ("refractory", 0), ("on_overflow", "saturate")):
            if layer["neuron"][key] == default:
                del layer["neuron"][key]
    assert model_hash(short) == documented_hash


def test_documented_canonical_json():
    text = DOC.read_text()
    canonical = text.split("the canonical JSON is\n\n```\n", 1)[1].split("\n```", 1)[0]
    model = model_from_dict({"format": "verisnn.model/1", "name": "é", "time_steps": 2, "input": {"size": 1},
                             "layers": [{"type": "dense", "weight": [[3]],
                                         "neuron": {"model": "if", "threshold": 2}}]})
    assert canonical_json(model_to_dict(model)) == canonical


def test_li_layer_with_recurrent_weights_is_refused():
    with pytest.raises(ModelError, match="recurrent"):
        Dense([[1]], Neuron(1, "li", threshold=None), recurrent=[[1]])


def test_saved_file_puts_each_weight_row_on_one_line(tmp_path):
    model = Model(time_steps=2, input=InputSpec(3),
                  layers=(Dense([[1, -2, 3], [4, 5, 6]], Neuron(2, threshold=2)),),
                  provenance={"note": "rows like [1,2] inside strings stay as written"})
    save_model(model, tmp_path / "m.snn.json")
    text = (tmp_path / "m.snn.json").read_text()
    assert "    [1, -2, 3],\n    [4, 5, 6]\n" in text
    assert json.loads(text) == model_to_dict(model)
