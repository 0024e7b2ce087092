"""NIR import/export: hand-computed discretisation, every neuron kind, conv + flatten,
file round trips, exact model round trips on random models, refusals and bad input."""

from __future__ import annotations

import dataclasses

import h5py
import nir
import numpy as np
import pytest
from conftest import models, rasters
from hypothesis import given, settings
from hypothesis import strategies as st

from verisnn.errors import NIRError
from verisnn.model import Conv2d, Dense, InputSpec, Model, Neuron, Readout
from verisnn.model_format import model_to_dict
from verisnn.nir_io import NIRExport, NIRImport, export_nir, import_nir, read_nir, write_nir
from verisnn.simulator import simulate

FEW = settings(max_examples=60, deadline=None)
a = np.array


def chain(*named_nodes, metadata=None) -> nir.NIRGraph:
    """A NIR chain from (name, node) pairs, in order."""
    nodes = dict(named_nodes)
    names = [n for n, _ in named_nodes]
    return nir.NIRGraph(nodes=nodes, edges=list(zip(names, names[1:])), metadata=metadata or {})


def tiny_lif_graph() -> nir.NIRGraph:
    return chain(
        ("input", nir.Input(input_type=a([2]))),
        ("fc", nir.Affine(weight=a([[1.0, -0.5]]), bias=a([0.2]))),
        ("lif", nir.LIF(tau=a([4e-3]), r=a([2.0]), v_leak=a([0.4]), v_threshold=a([1.0]), v_reset=a([0.1]))),
        ("output", nir.Output(output_type=a([1]))),
    )


# ---------------------------------------------------------------- hand-computed discretisation


def test_tiny_lif_hand_computed():
    imp = import_nir(tiny_lif_graph(), dt=1e-3, scale=100, time_steps=5)
    assert isinstance(imp, NIRImport)
    layer = imp.model.layers[0]
    n = layer.neuron
    # dt/tau = 1e-3/4e-3 = 0.25 -> beta = 0.75 -> v_decay = [round(0.75 * 2^12), 12] = [3072, 12]
    assert n.model == "lif" and n.v_decay == (3072, 12) and n.i_decay is None
    # gain dt*r/tau = 1e-3 * 2 / 4e-3 = 0.5; weights 100 * 0.5 * [1, -0.5] = [50, -25]
    assert layer.weight.tolist() == [[50, -25]]
    # bias 100 * (0.5 * 0.2 + 0.25 * 0.4 [the v_leak term]) = 100 * 0.2 = 20
    assert layer.bias.tolist() == [20]
    # NIR fires when v > 1.0: fire_when '>' with threshold floor(1.0 * 100) = 100
    assert n.threshold == 100 and n.fire_when == ">"
    # reset to v_reset = round(0.1 * 100) = 10
    assert n.reset == "to_value" and n.v_reset == 10 and n.refractory == 0
    assert n.rounding == "floor" and n.v_bits == 24 and n.on_overflow == "saturate"
    assert imp.model.readout.type == "spike_count" and imp.model.input.size == 2

    # Input channel 0 spikes every step: a = 50 + 20 = 70 each step.
    # t0: u = floor(0 * 3072/4096) + 70 = 70            -> no spike, v = 70
    # t1: u = floor(70 * 0.75) = 52, + 70 = 122 > 100   -> spike,    v = 10
    # t2: u = floor(10 * 0.75) = 7,  + 70 = 77          -> no spike, v = 77
    # t3: u = floor(77 * 0.75) = 57, + 70 = 127 > 100   -> spike,    v = 10
    # t4: u = 7 + 70 = 77                                -> no spike, v = 77
    raster = np.zeros((5, 2), dtype=np.int8)
    raster[:, 0] = 1
    res = simulate(imp.model, raster, record_membranes=True)
    assert res.output_spikes[0, :, 0].tolist() == [0, 1, 0, 1, 0]
    assert res.membranes[0][0, :, 0].tolist() == [70, 10, 77, 10, 77]


def test_conventions_state_every_change():
    conv = import_nir(tiny_lif_graph(), dt=1e-3, scale=100, time_steps=5).conventions
    text = "\n".join(conv)
    assert "forward Euler at dt = 0.001" in text
    assert "(dt/tau)·v_leak into the bias" in text and "gain dt·r/tau folded into the weights" in text
    assert "u > floor(x)" in text and "fire_when '>'" in text
    assert "reset 'to_value'" in text and "v_reset = round(v_reset·scale)" in text
    assert "scale = 100" in text and "max rounding error" in text
    assert "v_decay" not in text or "2^shift" in text
    assert "saturate" in text and "readout 'spike_count'" in text
    assert not any(c.startswith("LOSSY") for c in conv)


def test_rounding_error_is_reported():
    g = tiny_lif_graph()
    g.nodes["fc"].weight = a([[1.013, -0.5]])  # 100 * 0.5 * 1.013 = 50.65 -> 51, error 0.35
    imp = import_nir(g, dt=1e-3, scale=100, time_steps=3)
    assert imp.model.layers[0].weight.tolist() == [[51, -25]]
    assert "max rounding error 0.35" in "\n".join(imp.conventions)
    assert imp.model.provenance["max_rounding_error"] == pytest.approx(0.35)


# ---------------------------------------------------------------- each neuron kind


def test_if_node():
    g = chain(("input", nir.Input(input_type=a([2]))),
              ("fc", nir.Affine(weight=a([[1.5, 2.0]]), bias=a([0.0]))),
              ("if", nir.IF(r=a([4.0]), v_threshold=a([3.0]))),  # v_reset absent -> 0
              ("output", nir.Output(output_type=a([1]))))
    n_layer = import_nir(g, dt=0.25, scale=10, time_steps=4).model.layers[0]
    # gain dt*r = 0.25 * 4 = 1; weights 10 * [1.5, 2.0] = [15, 20]; threshold floor(3.0 * 10) = 30
    assert n_layer.weight.tolist() == [[15, 20]]
    assert n_layer.neuron.model == "if" and n_layer.neuron.v_decay == (1, 0)
    assert n_layer.neuron.threshold == 30 and n_layer.neuron.v_reset == 0


def test_cuba_lif_node():
    g = chain(("input", nir.Input(input_type=a([1]))),
              ("fc", nir.Affine(weight=a([[1.0]]), bias=a([0.4]))),
              ("cuba", nir.CubaLIF(tau_syn=a([2e-3]), tau_mem=a([4e-3]), r=a([2.0]), v_leak=a([0.0]),
                                   v_threshold=a([1.0]), w_in=2.0)),
              ("output", nir.Output(output_type=a([1]))))
    imp = import_nir(g, dt=1e-3, scale=100, time_steps=4)
    layer = imp.model.layers[0]
    # alpha = 1 - 1/2 = 0.5 -> [2048, 12]; beta = 1 - 1/4 = 0.75 -> [3072, 12]
    assert layer.neuron.model == "cuba_lif"
    assert layer.neuron.i_decay == (2048, 12) and layer.neuron.v_decay == (3072, 12)
    # gain (dt*r/tau_mem) * (dt/tau_syn) * w_in = 0.5 * 0.5 * 2 = 0.5: W 100*0.5*1 = 50, b 100*0.5*0.4 = 20
    assert layer.weight.tolist() == [[50]] and layer.bias.tolist() == [20]
    assert "current updated first" in "\n".join(imp.conventions)
    # i: 70, 105, 122; v: 70, floor(52.5) + 105 = 157 > 100 -> spike, reset to 0
    res = simulate(imp.model, np.ones((4, 1), dtype=np.int8), record_membranes=True)
    assert res.output_spikes[0, :, 0].tolist()[:2] == [0, 1]
    assert res.membranes[0][0, :2, 0].tolist() == [70, 0]


def test_li_output_reads_membrane():
    g = chain(("input", nir.Input(input_type=a([2]))),
              ("fc", nir.Affine(weight=a([[1.0, 0.0]]), bias=a([0.0]))),
              ("lif", nir.LIF(tau=a([4e-3]), r=a([2.0]), v_leak=a([0.0]), v_threshold=a([0.2]))),
              ("fc2", nir.Linear(weight=a([[1.0], [-1.0]]))),
              ("li", nir.LI(tau=a([2e-3, 2e-3]), r=a([2.0, 2.0]), v_leak=a([0.0, 0.0]))),
              ("output", nir.Output(output_type=a([2]))))
    m = import_nir(g, dt=1e-3, scale=10, time_steps=3).model
    last = m.layers[-1]
    assert last.neuron.model == "li" and last.neuron.threshold is None
    # dt/tau = 0.5 -> beta 0.5 -> [2048, 12]; gain dt*r/tau = 1 -> weights 10 * [1, -1]
    assert last.neuron.v_decay == (2048, 12) and last.weight.tolist() == [[10], [-10]]
    assert m.readout.type == "membrane_final"


def test_integrator_node_is_li_without_leak():
    g = chain(("input", nir.Input(input_type=a([1]))),
              ("fc", nir.Linear(weight=a([[0.5]]))),
              ("i", nir.I(r=a([2.0]))),
              ("output", nir.Output(output_type=a([1]))))
    layer = import_nir(g, dt=1.0, scale=4, time_steps=2).model.layers[0]
    assert layer.neuron.model == "li" and layer.neuron.v_decay == (1, 0) and layer.weight.tolist() == [[4]]


def test_per_neuron_arrays_map_to_lists_and_equal_arrays_to_scalars():
    g = chain(("input", nir.Input(input_type=a([1]))),
              ("fc", nir.Affine(weight=a([[1.0], [1.0]]), bias=a([0.0, 0.0]))),
              ("lif", nir.LIF(tau=a([2e-3, 4e-3]), r=a([2.0, 4.0]), v_leak=a([0.0, 0.0]),
                              v_threshold=a([1.0, 1.0]), v_reset=a([0.0, 0.5]))),
              ("output", nir.Output(output_type=a([2]))))
    n = import_nir(g, dt=1e-3, scale=10, time_steps=2).model.layers[0].neuron
    assert n.v_decay == ((2048, 12), (3072, 12))  # beta 0.5 and 0.75
    assert n.threshold == 10  # equal values -> scalar
    assert n.v_reset == (0, 5)


def test_decay_shift_argument():
    n = import_nir(tiny_lif_graph(), dt=1e-3, scale=100, time_steps=2, decay_shift=3).model.layers[0].neuron
    assert n.v_decay == (6, 3)  # 0.75 * 8


def test_half_integer_threshold_becomes_ge():
    g = tiny_lif_graph()
    g.nodes["lif"].v_threshold = a([0.995])  # 99.5 -> u > 99.5  <=>  u >= 100
    n = import_nir(g, dt=1e-3, scale=100, time_steps=2).model.layers[0].neuron
    assert (n.fire_when, n.threshold) == (">=", 100)
    g.nodes["lif"].v_threshold = a([0.997])  # 99.7 -> u > 99.7 <=> u > 99
    n = import_nir(g, dt=1e-3, scale=100, time_steps=2).model.layers[0].neuron
    assert (n.fire_when, n.threshold) == (">", 99)


# ---------------------------------------------------------------- synapses and layout


def test_affine_and_linear_round_trip():
    nz = Neuron(size=2, model="lif", threshold=5, fire_when=">", v_decay=(3, 2), reset="to_value")
    with_bias = Model(time_steps=3, input=InputSpec(size=2),
                      layers=(Dense(weight=[[1, 2], [3, -4]], bias=[1, 0], neuron=nz),))
    no_bias = Model(time_steps=3, input=InputSpec(size=2), layers=(Dense(weight=[[1, 2], [3, -4]], neuron=nz),))
    g1 = export_nir(with_bias, dt=1e-3, scale=8).graph
    g0 = export_nir(no_bias, dt=1e-3, scale=8).graph
    assert [type(v).__name__ for v in g1.nodes.values()] == ["Input", "Affine", "LIF", "Output"]
    assert [type(v).__name__ for v in g0.nodes.values()] == ["Input", "Linear", "LIF", "Output"]
    np.testing.assert_array_equal(g1.nodes["affine0"].weight, a([[1, 2], [3, -4]]) / 8)
    np.testing.assert_array_equal(g1.nodes["affine0"].bias, a([1, 0]) / 8)
    back = import_nir(g0, dt=1e-3, scale=8, time_steps=3).model
    assert back.layers[0].bias.tolist() == [0, 0] and back.layers[0].weight.tolist() == [[1, 2], [3, -4]]


def conv_graph(padding=1, dilation=1, kernel=None):
    rng = np.random.default_rng(0)
    kernel = rng.integers(-3, 4, size=(2, 1, 3, 3)).astype(float) if kernel is None else kernel
    readout = np.zeros((3, 32))
    readout[0, 1 * 16 + 2 * 4 + 3] = 1.0  # copies conv neuron (channel 1, y 2, x 3)
    readout[1, 0] = 1.0  # copies conv neuron (0, 0, 0)
    readout[2, :] = 0.25
    return chain(
        ("input", nir.Input(input_type=a([1, 4, 4]))),
        ("conv", nir.Conv2d(input_shape=(4, 4), weight=kernel, stride=1, padding=padding, dilation=dilation,
                            groups=1, bias=a([0.5, -0.5]))),
        ("lif1", nir.LIF(tau=np.full((2, 4, 4), 2e-3), r=np.full((2, 4, 4), 2.0), v_leak=np.zeros((2, 4, 4)),
                         v_threshold=np.full((2, 4, 4), 1.0))),
        ("flat", nir.Flatten(input_type={"input": a([2, 4, 4])}, start_dim=0)),
        ("fc", nir.Affine(weight=readout, bias=np.zeros(3))),
        ("lif2", nir.LIF(tau=np.full(3, 2e-3), r=np.full(3, 2.0), v_leak=np.zeros(3), v_threshold=np.full(3, 0.5))),
        ("output", nir.Output(output_type=a([3]))),
    )


def test_conv_flatten_affine_is_channel_major():
    imp = import_nir(conv_graph(), dt=1e-3, scale=1, time_steps=6)
    conv, fc = imp.model.layers
    assert isinstance(conv, Conv2d) and isinstance(fc, Dense)
    assert conv.input_shape == (1, 4, 4) and conv.output_shape == (2, 4, 4) and conv.padding == (1, 1)
    # gain dt*r/tau = 1e-3 * 2 / 2e-3 = 1 and scale 1: integer kernel unchanged, bias 0.5 -> 0 (ties to even)
    np.testing.assert_array_equal(conv.weight, conv_graph().nodes["conv"].weight)
    assert imp.model.input.shape == (1, 4, 4)
    assert any("layout only" in c for c in imp.conventions)
    # Flatten is numpy's reshape order: output 0 copies conv neuron (1, 2, 3), output 1 copies (0, 0, 0)
    raster = np.random.default_rng(1).integers(0, 2, size=(20, 6, 16)).astype(np.int8)
    res = simulate(imp.model, raster)
    conv_spikes = res.layer_outputs[0].reshape(20, 6, 2, 4, 4)
    assert conv_spikes.any()
    np.testing.assert_array_equal(res.layer_outputs[1][:, :, 0], conv_spikes[:, :, 1, 2, 3])
    np.testing.assert_array_equal(res.layer_outputs[1][:, :, 1], conv_spikes[:, :, 0, 0, 0])


def test_same_padding_and_dilation_are_expanded_exactly():
    kernel = np.random.default_rng(2).integers(-3, 4, size=(2, 1, 3, 3)).astype(float)
    big = np.zeros((2, 1, 5, 5))
    big[:, :, ::2, ::2] = kernel
    dilated = import_nir(conv_graph(padding=2, dilation=2, kernel=kernel), dt=1e-3, scale=1, time_steps=4).model
    explicit = import_nir(conv_graph(padding="same", kernel=big), dt=1e-3, scale=1, time_steps=4).model
    assert dilated.layers[0].padding == explicit.layers[0].padding == (2, 2)
    np.testing.assert_array_equal(dilated.layers[0].weight, explicit.layers[0].weight)


def test_conv_export_adds_flatten():
    m = import_nir(conv_graph(), dt=1e-3, scale=1, time_steps=6).model
    g = export_nir(m, dt=1e-3, scale=1).graph
    assert [type(v).__name__ for v in g.nodes.values()] == [
        "Input", "Conv2d", "LIF", "Flatten", "Linear", "LIF", "Output"]  # zero bias: Linear
    assert g.nodes["flatten1"].output_type["output"].tolist() == [32]


# ---------------------------------------------------------------- files


def test_file_round_trip(tmp_path):
    m = import_nir(conv_graph(), dt=1e-3, scale=1, time_steps=6, name="conv").model
    exp = export_nir(m, dt=1e-3, scale=1)
    assert isinstance(exp, NIRExport)
    path = tmp_path / "net.nir"
    write_nir(exp.graph, path)
    g = read_nir(path)
    nir.read(path)  # nir's own reader, with its type check, accepts the exported graph too
    assert g.metadata["dt"] == 1e-3 and g.metadata["scale"] == 1 and g.metadata["source"] == "verisnn"
    back = import_nir(path, dt=1e-3, scale=1, time_steps=6).model
    assert back.name == "conv"
    assert_same_integers(m, back)
    raster = np.random.default_rng(3).integers(0, 2, size=(10, 6, 16)).astype(np.int8)
    assert_same_spikes(m, back, raster)


def test_file_import_default_name(tmp_path):
    path = tmp_path / "tiny.nir"
    nir.write(path, tiny_lif_graph())
    imp = import_nir(str(path), dt=1e-3, scale=100, time_steps=2)
    assert imp.model.name == "tiny" and imp.model.provenance["source"] == str(path)


# ---------------------------------------------------------------- exact round trips


def expanded(n: Neuron) -> dict:
    """A neuron's parameters, one value per neuron, for comparing meaning rather than spelling."""
    per = lambda x: np.broadcast_to(np.asarray(x), (n.size,)).tolist()  # noqa: E731
    dec = lambda d: None if d is None else np.broadcast_to(np.asarray(d), (n.size, 2)).tolist()  # noqa: E731
    out = {"model": n.model, "v_decay": dec(n.v_decay), "i_decay": dec(n.i_decay), "v_bits": n.v_bits,
           "rounding": n.rounding, "on_overflow": n.on_overflow}
    if n.fires:
        out.update(threshold=per(n.threshold), fire_when=n.fire_when, reset=n.reset, v_reset=per(n.v_reset),
                   refractory=per(n.refractory))
    return out


def assert_same_integers(m1: Model, m2: Model) -> None:
    assert len(m1.layers) == len(m2.layers)
    for l1, l2 in zip(m1.layers, m2.layers):
        assert type(l1) is type(l2) and l1.delay == l2.delay and l2.recurrent is None
        np.testing.assert_array_equal(l1.weight, l2.weight)
        np.testing.assert_array_equal(l1.bias, l2.bias)
        if isinstance(l1, Conv2d):
            assert (l1.input_shape, l1.stride, l1.padding) == (l2.input_shape, l2.stride, l2.padding)
        assert expanded(l1.neuron) == expanded(l2.neuron)
    assert m1.input == m2.input and m1.readout == m2.readout and m1.time_steps == m2.time_steps


def assert_same_spikes(m1: Model, m2: Model, raster) -> None:
    r1, r2 = simulate(m1, raster), simulate(m2, raster)
    for o1, o2 in zip(r1.layer_outputs, r2.layer_outputs):
        np.testing.assert_array_equal(o1, o2)
    np.testing.assert_array_equal(r1.prediction, r2.prediction)


def exportable(model: Model) -> Model:
    """``model`` with every convention NIR cannot state replaced by one it can (reset to a value,
    no refractory period, no recurrence, floor rounding, saturation, finite time constants)."""
    layers = []
    for layer in model.layers:
        n = layer.neuron

        def finite(d, always: bool):
            pairs = [d] * n.size if not isinstance(d[0], tuple) else list(d)
            leakless = [num == 1 << s for num, s in pairs]
            if not always and (all(leakless) or not any(leakless)):
                return d  # all without leak: exported as IF / I
            fixed = [((1 << s) - 1 if s else 0, s) if nl else (num, s) for (num, s), nl in zip(pairs, leakless)]
            return fixed[0] if not isinstance(d[0], tuple) else tuple(fixed)

        cuba = n.model == "cuba_lif"
        neuron = dataclasses.replace(
            n, reset="to_value", refractory=0, rounding="floor", on_overflow="saturate",
            v_decay=finite(n.v_decay, always=cuba) if n.model != "if" else n.v_decay,
            i_decay=finite(n.i_decay, always=True) if cuba else None)
        layers.append(dataclasses.replace(layer, neuron=neuron, recurrent=None))
    return dataclasses.replace(model, layers=tuple(layers))


@st.composite
def exportable_cases(draw):
    model = exportable(draw(models(max_layers=3, max_time_steps=6)))
    raster = draw(rasters(model, batch=4))
    dt = draw(st.sampled_from((1e-3, 0.37, 1.0, 0.5)))
    scale = draw(st.sampled_from((1.0, 3.0, 64.0, 0.1, 1000.0)))
    return model, raster, dt, scale


@FEW
@given(exportable_cases())
def test_export_import_is_exact(case):
    model, raster, dt, scale = case
    exp = export_nir(model, dt=dt, scale=scale)
    assert not any(c.startswith("LOSSY") for c in exp.conventions)
    back = import_nir(exp.graph, dt=dt, scale=scale, time_steps=model.time_steps).model
    assert_same_integers(model, back)
    assert_same_spikes(model, back, raster)
    # import -> export -> import is a fixed point
    again = import_nir(export_nir(back, dt=dt, scale=scale).graph, dt=dt, scale=scale,
                       time_steps=model.time_steps).model
    d1, d2 = model_to_dict(back), model_to_dict(again)
    d1.pop("provenance"), d2.pop("provenance")
    assert d1 == d2


def test_import_export_import_fixed_point_from_foreign_graph():
    first = import_nir(conv_graph(), dt=1e-3, scale=7, time_steps=5).model
    second = import_nir(export_nir(first, dt=1e-3, scale=7).graph, dt=1e-3, scale=7, time_steps=5).model
    d1, d2 = model_to_dict(first), model_to_dict(second)
    d1.pop("provenance"), d2.pop("provenance")
    assert d1 == d2


def test_per_layer_shifts_and_leakless_lif_survive_via_metadata():
    m = Model(time_steps=4, input=InputSpec(size=2), layers=(
        Dense(weight=[[1, 2], [2, 1]], neuron=Neuron(size=2, model="lif", threshold=3, v_decay=(5, 3),
                                                     reset="to_value")),
        Dense(weight=[[1, 1]], neuron=Neuron(size=1, model="lif", threshold=0, v_decay=(16, 4), reset="to_value",
                                             v_bits=12)),
    ))
    exp = export_nir(m, dt=1e-3, scale=2)
    assert [type(v).__name__ for v in exp.graph.nodes.values()][2::2] == ["LIF", "IF"]
    assert any("lif without leak exported as IF" in c for c in exp.conventions)
    imp = import_nir(exp.graph, dt=1e-3, scale=2, time_steps=4)  # decay_shift=12 default is overridden
    assert_same_integers(m, imp.model)
    assert imp.model.layers[1].neuron.v_bits == 12
    assert any("verisnn metadata" in c for c in imp.conventions)
    # ">=" 0 is written as v_threshold -0.5/scale and read back as ">=" 0
    assert exp.graph.nodes["if1"].v_threshold.tolist() == [-0.25]


def test_delay_maps_to_nir_delay_node():
    m = Model(time_steps=5, input=InputSpec(size=2), layers=(
        Dense(weight=[[2, 1]], delay=2, neuron=Neuron(size=1, model="lif", threshold=1, v_decay=(1, 1),
                                                     reset="to_value")),))
    g = export_nir(m, dt=0.5, scale=1).graph
    assert type(g.nodes["delay0"]).__name__ == "Delay" and g.nodes["delay0"].delay.tolist() == [1.0, 1.0]
    back = import_nir(g, dt=0.5, scale=1, time_steps=5).model
    assert back.layers[0].delay == 2
    assert_same_spikes(m, back, np.random.default_rng(4).integers(0, 2, size=(8, 5, 2)).astype(np.int8))


# ---------------------------------------------------------------- refusals and allow_lossy


def one_layer(**neuron_kw) -> Model:
    kw = dict(model="lif", threshold=4, v_decay=(3, 2), reset="to_value")
    kw.update(neuron_kw)
    rec = kw.pop("recurrent", None)
    return Model(time_steps=4, input=InputSpec(size=2),
                 layers=(Dense(weight=[[1, 2], [3, 1]], recurrent=rec, neuron=Neuron(size=2, **kw)),))


@pytest.mark.parametrize("kw, words", [
    (dict(reset="subtract"), "reset 'subtract'"),
    (dict(reset="none"), "reset 'none'"),
    (dict(recurrent=[[0, 1], [1, 0]]), "recurrent weights"),
    (dict(refractory=2), "refractory period"),
    (dict(rounding="toward_zero"), "rounding 'toward_zero'"),
    (dict(on_overflow="wrap"), "on_overflow 'wrap'"),
    (dict(v_decay=((4, 2), (3, 2))), "without leak"),
    (dict(model="cuba_lif", i_decay=(1, 0)), "without leak"),
])
def test_refused_exports(kw, words):
    with pytest.raises(NIRError) as e:
        export_nir(one_layer(**kw), dt=1e-3, scale=4)
    assert words in str(e.value) and "layers[0]" in str(e.value) and "allow_lossy" in str(e.value)


def test_allow_lossy_records_what_was_dropped():
    m = one_layer(reset="subtract", refractory=1, recurrent=[[0, 1], [1, 0]])
    exp = export_nir(m, dt=1e-3, scale=4, allow_lossy=True)
    lossy = [c for c in exp.conventions if c.startswith("LOSSY")]
    assert len(lossy) == 3
    assert any("reset 'subtract'" in c and "v_reset = 0" in c for c in lossy)
    assert any("recurrent" in c for c in lossy) and any("refractory" in c for c in lossy)
    assert exp.graph.nodes["lif0"].v_reset.tolist() == [0.0, 0.0]
    back = import_nir(exp.graph, dt=1e-3, scale=4, time_steps=4).model
    n = back.layers[0].neuron
    assert (n.reset, n.v_reset, n.refractory, back.layers[0].recurrent) == ("to_value", 0, 0, None)
    np.testing.assert_array_equal(back.layers[0].weight, m.layers[0].weight)


def test_lossy_leakless_neurons_still_reimport_exactly():
    m = one_layer(v_decay=((4, 2), (3, 2)))
    exp = export_nir(m, dt=1e-3, scale=4, allow_lossy=True)
    assert any(c.startswith("LOSSY") and "2^-(shift+2)" in c for c in exp.conventions)
    assert import_nir(exp.graph, dt=1e-3, scale=4, time_steps=4).model.layers[0].neuron.v_decay == ((4, 2), (3, 2))


def test_conv_after_dense_is_refused():
    m = Model(time_steps=2, input=InputSpec(size=4), layers=(
        Dense(weight=np.ones((4, 4), dtype=int), neuron=Neuron(size=4, reset="to_value")),
        Conv2d(weight=np.ones((1, 1, 2, 2), dtype=int), input_shape=(1, 2, 2), neuron=Neuron(size=1, reset="to_value")),
    ))
    with pytest.raises(NIRError, match="no reshape node"):
        export_nir(m, dt=1e-3, scale=1)


# ---------------------------------------------------------------- malformed input


def lif(n):
    return nir.LIF(tau=np.full(n, 2e-3), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.ones(n))


def bad_graphs():
    inp = ("input", nir.Input(input_type=a([2])))
    out1 = ("output", nir.Output(output_type=a([1])))
    fc = ("fc", nir.Affine(weight=np.ones((1, 2)), bias=np.zeros(1)))
    branch = nir.NIRGraph(nodes={"input": nir.Input(input_type=a([2])), "fc": nir.Affine(weight=np.ones((1, 2)),
                          bias=np.zeros(1)), "fc2": nir.Affine(weight=np.ones((1, 2)), bias=np.zeros(1)),
                          "lif": lif(1), "output": nir.Output(output_type=a([1]))},
                          edges=[("input", "fc"), ("input", "fc2"), ("fc", "lif"), ("fc2", "lif"), ("lif", "output")],
                          type_check=False)
    recurrent = nir.NIRGraph(nodes={"input": nir.Input(input_type=a([2])), "fc": nir.Affine(weight=np.ones((2, 2)),
                             bias=np.zeros(2)), "lif": lif(2), "rec": nir.Linear(weight=np.eye(2)),
                             "output": nir.Output(output_type=a([2]))},
                             edges=[("input", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "output")],
                             type_check=False)
    cuba_leak = nir.CubaLIF(tau_syn=a([2e-3]), tau_mem=a([2e-3]), r=a([1.0]), v_leak=a([0.1]), v_threshold=a([1.0]))
    return {
        "unknown": (chain(inp, fc, ("thr", nir.Threshold(threshold=a([1.0]))), out1), "'thr'", "Threshold node"),
        "pool": (chain(("input", nir.Input(input_type=a([1, 2, 2]))), ("pool", nir.SumPool2d(
            kernel_size=a([2, 2]), stride=a([2, 2]), padding=a([0, 0]))), ("output", nir.Output(output_type=a([1, 1, 1])))),
                 "'pool'", "SumPool2d node"),
        "branch": (branch, "'input'", "2 outgoing edges (to 'fc', 'fc2')"),
        "recurrent": (recurrent, "recurrent connection", "lif -> rec -> lif"),
        "shape": (nir.NIRGraph(nodes={"input": nir.Input(input_type=a([3])), "fc": fc[1], "lif": lif(1),
                                      "output": out1[1]},
                               edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")], type_check=False),
                  "'fc'", "weight has 2 inputs"),
        "neuron_shape": (nir.NIRGraph(nodes={"input": inp[1], "fc": fc[1], "lif": lif(3), "output": out1[1]},
                                      edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")], type_check=False),
                         "'lif'", "tau has shape [3]"),
        "no_synapse": (chain(inp, ("lif", lif(2)), ("output", nir.Output(output_type=a([2])))), "'lif'",
                       "no synapse node"),
        "no_neuron": (chain(inp, fc, out1), "'fc'", "needs a neuron node"),
        "two_synapses": (chain(inp, fc, ("fc2", nir.Linear(weight=np.ones((1, 1)))), ("lif", lif(1)), out1),
                         "'fc2'", "follows synapse node 'fc'"),
        "tau_below_dt": (chain(inp, fc, ("lif", nir.LIF(tau=a([1e-4]), r=a([1.0]), v_leak=a([0.0]),
                                                          v_threshold=a([1.0]))), out1), "'lif'", "below dt"),
        "nan": (chain(inp, ("fc", nir.Affine(weight=a([[np.nan, 1.0]]), bias=np.zeros(1))), ("lif", lif(1)), out1),
                "'fc'", "NaN"),
        "cuba_leak": (chain(inp, fc, ("cuba", cuba_leak), out1), "'cuba'", "v_leak != 0"),
        "li_not_last": (chain(inp, fc, ("li", nir.LI(tau=a([2e-3]), r=a([1.0]), v_leak=a([0.0]))),
                              ("fc2", nir.Linear(weight=np.ones((1, 1)))), ("lif", lif(1)), out1), "'fc2'",
                        "only be the last layer"),
        "bad_delay": (chain(inp, ("d", nir.Delay(delay=a([1.5e-3, 1.5e-3]))), fc, ("lif", lif(1)), out1), "'d'",
                      "whole number of steps"),
        "negative_threshold": (chain(inp, fc, ("lif", nir.LIF(tau=a([2e-3]), r=a([1.0]), v_leak=a([0.0]),
                                                              v_threshold=a([-1.0]))), out1), "'lif'", "negative"),
        "no_output": (nir.NIRGraph(nodes={"input": inp[1], "fc": fc[1], "lif": lif(1)},
                                   edges=[("input", "fc"), ("fc", "lif")], type_check=False), "'lif'",
                      "not at an Output node"),
        "stray_node": (nir.NIRGraph(nodes={"input": inp[1], "fc": fc[1], "lif": lif(1), "output": out1[1],
                                           "extra": lif(1)},
                                    edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")], type_check=False),
                       "'extra'", "not on the chain"),
        "missing_node": (nir.NIRGraph(nodes={"input": inp[1], "output": out1[1]},
                                      edges=[("input", "ghost"), ("ghost", "output")], type_check=False),
                         "'ghost'", "not in the graph"),
    }


@pytest.mark.parametrize("key", sorted(bad_graphs()))
def test_malformed_graphs_are_named(key):
    graph, node_words, problem = bad_graphs()[key]
    with pytest.raises(NIRError) as e:
        import_nir(graph, dt=1e-3, scale=10, time_steps=3)
    msg = str(e.value)
    assert node_words in msg and problem in msg, msg


def test_conv_gain_must_be_constant_per_channel():
    g = conv_graph()
    tau = np.full((2, 4, 4), 2e-3)
    tau[0, 0, 0] = 4e-3
    g.nodes["lif1"].tau = tau
    with pytest.raises(NIRError, match="'lif1'.*differs between neurons of one channel"):
        import_nir(g, dt=1e-3, scale=1, time_steps=2)


def test_bad_arguments():
    g = tiny_lif_graph()
    for kw, words in [(dict(dt=0), "dt"), (dict(scale=float("nan")), "scale"), (dict(decay_shift=20), "decay_shift"),
                      (dict(rounding="up"), "rounding"), (dict(time_steps=0), "time_steps")]:
        args = dict(dt=1e-3, scale=10, time_steps=2)
        args.update(kw)
        with pytest.raises(NIRError, match=words):
            import_nir(g, **args)
    with pytest.raises(NIRError, match="path or a nir.NIRGraph"):
        import_nir(42, dt=1e-3, scale=10, time_steps=2)


def test_bad_files(tmp_path):
    garbage = tmp_path / "garbage.nir"
    garbage.write_bytes(np.random.default_rng(5).bytes(4096))
    text = tmp_path / "model.json"
    text.write_text('{"format": "verisnn.model/1"}')
    for p in (garbage, text):
        with pytest.raises(NIRError, match="not an HDF5 file"):
            read_nir(p)
        with pytest.raises(NIRError, match="not an HDF5 file"):
            import_nir(p, dt=1e-3, scale=1, time_steps=1)
    with pytest.raises(NIRError, match="no such file"):
        read_nir(tmp_path / "missing.nir")
    empty = tmp_path / "empty.h5"
    with h5py.File(empty, "w") as f:
        f.create_dataset("x", data=1)
    with pytest.raises(NIRError, match="without a 'node' group"):
        read_nir(empty)
    # a NIR file whose node has a type nir does not know
    bogus = tmp_path / "bogus.nir"
    nir.write(bogus, tiny_lif_graph())
    with h5py.File(bogus, "r+") as f:
        del f["node/nodes/lif/type"]
        f["node/nodes/lif"].create_dataset("type", data="Bogus", dtype=h5py.string_dtype())
    with pytest.raises(NIRError, match="node 'lif' has type 'Bogus'"):
        read_nir(bogus)
    # a NIR file with a node missing its weights
    noweights = tmp_path / "noweights.nir"
    nir.write(noweights, tiny_lif_graph())
    with h5py.File(noweights, "r+") as f:
        del f["node/nodes/fc/weight"]
    with pytest.raises(NIRError, match="cannot read the NIR graph"):
        read_nir(noweights)


def test_bad_metadata_is_refused():
    g = tiny_lif_graph()
    g.nodes["lif"].metadata = {"verisnn": "{not json"}
    with pytest.raises(NIRError, match="'lif'.*not a JSON object"):
        import_nir(g, dt=1e-3, scale=10, time_steps=2)
    g.nodes["lif"].metadata = {"verisnn": '{"v_decay_shift": 99}'}
    with pytest.raises(NIRError, match="v_decay_shift"):
        import_nir(g, dt=1e-3, scale=10, time_steps=2)
    g.nodes["lif"].metadata = {}
    g.metadata = {"verisnn": '{"readout": {"type": "membrane_final"}}'}
    with pytest.raises(NIRError, match="membrane_final"):
        import_nir(g, dt=1e-3, scale=10, time_steps=2)


def test_scale_too_large_is_a_clear_error():
    with pytest.raises(NIRError, match="scale"):
        import_nir(tiny_lif_graph(), dt=1e-3, scale=1e15, time_steps=2)


def test_write_nir_rejects_non_graph(tmp_path):
    with pytest.raises(NIRError, match="NIRGraph"):
        write_nir(Readout(), tmp_path / "x.nir")
