"""Semantics v1, option by option, on small cases computed by hand.

Each test writes its input and its expected integer traces out literally, with the
arithmetic in a comment. Traces are per step ``t = 0, 1, ...``; ``v`` is the membrane
after reset (what ``simulate(..., record_membranes=True)`` records). Every case is also
run through the step-major traversal and the exact torch simulator, which must agree.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from verisnn.model import Conv2d, Dense, InputSpec, Model, Neuron, Readout
from verisnn.simulator import simulate, step_network
from verisnn.torch_sim import simulate_torch


def dense_model(weight, T, readout="spike_count", ties="invalid", bias=None, delay=0, recurrent=None,
                **neuron) -> Model:
    """One dense layer; ``neuron`` holds the Neuron fields (threshold, model, ...)."""
    neuron.setdefault("model", "if")
    neuron.setdefault("threshold", None if neuron["model"] == "li" else 1)
    layer = Dense(weight=weight, bias=bias, delay=delay, recurrent=recurrent,
                  neuron=Neuron(size=len(weight), **neuron))
    return Model(time_steps=T, input=InputSpec(size=len(weight[0])), layers=(layer,),
                 readout=Readout(type=readout, ties=ties))


def run(model: Model, raster, layer: int = -1) -> tuple[list, list]:
    """(outputs, membranes) of one layer as nested lists ``[T][n]``; checks that the other
    interpretations give the same outputs for every layer."""
    raster = np.asarray(raster, dtype=np.int8)
    res = simulate(model, raster, record_membranes=True)
    for k, (ref, stepped, torched) in enumerate(zip(res.layer_outputs, step_network(model, raster),
                                                    simulate_torch(model, raster))):
        np.testing.assert_array_equal(stepped, ref, err_msg=f"step_network, layer {k}")
        np.testing.assert_array_equal(torched, ref, err_msg=f"simulate_torch, layer {k}")
    return res.layer_outputs[layer][0].tolist(), res.membranes[layer][0].tolist()


ONES = [[1]] * 6


# ---------------------------------------------------------------- neuron models


def test_if_integrates_and_subtracts():
    # u = v + 2: t0 2; t1 4 >= 3 fire, v = 1; t2 1+2 = 3 fire, v = 0; t3 2
    s, v = run(dense_model([[2]], T=4, threshold=3), ONES[:4])
    assert s == [[0], [1], [1], [0]]
    assert v == [[2], [1], [0], [2]]


@pytest.mark.parametrize("weight, rounding, expected", [
    # v_decay [3, 2]: v <- round(3v/4); 5 -> 3.75 -> 3 -> 2.25 -> 2 -> 1.5 -> 1 -> 0.75 -> 0
    (5, "floor", [5, 3, 2, 1, 0]),
    (5, "toward_zero", [5, 3, 2, 1, 0]),
    # -5 -> -3.75: floor -4 -> -3 -> -2.25: floor -3, a fixed point of floor
    (-5, "floor", [-5, -4, -3, -3, -3]),
    # -5 -> -3.75: toward zero -3 -> -2.25: -2 -> -1.5: -1 -> -0.75: 0
    (-5, "toward_zero", [-5, -3, -2, -1, 0]),
])
def test_lif_decay_rounding_both_signs(weight, rounding, expected):
    model = dense_model([[weight]], T=5, model="lif", threshold=100, v_decay=[3, 2], rounding=rounding)
    s, v = run(model, [[1], [0], [0], [0], [0]])
    assert v == [[x] for x in expected]
    assert s == [[0]] * 5


def test_lif_per_neuron_decays():
    # neuron 0 halves ([1, 1]): 8, 4, 2; neuron 1 keeps 3/4 ([3, 2]): 8, 6, floor(4.5) = 4
    model = dense_model([[8], [8]], T=3, model="lif", threshold=[100, 100], v_decay=[[1, 1], [3, 2]])
    _, v = run(model, [[1], [0], [0]])
    assert v == [[8, 8], [4, 6], [2, 4]]


def test_cuba_lif_current_and_membrane():
    # i: 8, 8/2 = 4, 2, 1;  v = v/2 + i: 8, 4+4 = 8, 4+2 = 6, 3+1 = 4
    model = dense_model([[8]], T=4, model="cuba_lif", threshold=100, v_decay=[1, 1], i_decay=[1, 1])
    _, v = run(model, [[1], [0], [0], [0]])
    assert v == [[8], [8], [6], [4]]


@pytest.mark.parametrize("rounding, expected", [
    # i (i_decay 3/4): -8, -6, floor(-4.5) = -5, floor(-3.75) = -4
    # v = floor(v/2) + i: -8, -4-6 = -10, -5-5 = -10, -5-4 = -9
    ("floor", [-8, -10, -10, -9]),
    # i: -8, -6, trunc(-4.5) = -4, trunc(-3) = -3;  v = trunc(v/2) + i: -8, -4-6, -5-4 = -9, trunc(-4.5)-3 = -7
    ("toward_zero", [-8, -10, -9, -7]),
])
def test_cuba_lif_negative_current_rounds_both_decays(rounding, expected):
    model = dense_model([[-8]], T=4, model="cuba_lif", threshold=100, v_decay=[1, 1], i_decay=[3, 2],
                        rounding=rounding)
    _, v = run(model, [[1], [0], [0], [0]])
    assert v == [[x] for x in expected]


def test_li_output_is_its_membrane_and_never_fires():
    # v_decay [1, 1]: 2, floor(2/2)+2 = 3, floor(3/2)+0 = 1;  second neuron: -1, -1+(-1) = -2, -1
    model = dense_model([[2], [-1]], T=3, readout="membrane_final", model="li", v_decay=[1, 1])
    out, v = run(model, [[1], [1], [0]])
    assert out == v == [[2, -1], [3, -2], [1, -1]]
    res = simulate(model, np.array([[1], [1], [0]])).to_json()
    assert res["counts"] == [0, 0] and res["first_spike"] == [None, None] and res["total_spikes"] == 0
    assert res["output_spikes"] == [[0, 0]] * 3
    assert res["prediction"] == 0  # final membranes [1, -1]


# ---------------------------------------------------------------- firing and reset


@pytest.mark.parametrize("fire_when, spikes, membrane", [
    (">=", [[1], [1]], [[0], [0]]),  # u = 4 >= 4: fire, v = 0; again
    (">", [[0], [1]], [[4], [4]]),   # u = 4 is not > 4, v = 4; u = 8 > 4: fire, v = 4
])
def test_fire_when(fire_when, spikes, membrane):
    s, v = run(dense_model([[4]], T=2, threshold=4, fire_when=fire_when), ONES[:2])
    assert (s, v) == (spikes, membrane)


@pytest.mark.parametrize("reset, spikes, membrane", [
    ("subtract", [1, 1, 1], [1, 2, 3]),   # u = 4 -> 1; 1+4 = 5 -> 2; 2+4 = 6 -> 3
    ("to_value", [1, 0, 1], [-2, 2, -2]),  # u = 4 -> v_reset -2; -2+4 = 2 < 3; 2+4 = 6 -> -2
    ("none", [1, 1, 1], [4, 8, 12]),       # u = 4, 8, 12, all >= 3, v = u
])
def test_reset_policies_with_nonzero_v_reset(reset, spikes, membrane):
    model = dense_model([[4]], T=3, threshold=3, reset=reset, v_reset=-2)
    s, v = run(model, ONES[:3])
    assert s == [[x] for x in spikes]
    assert v == [[x] for x in membrane]


@pytest.mark.parametrize("refractory, spikes, membrane", [
    # u = v + 3, threshold 3, subtract, v_reset 1
    (0, [1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0]),  # 3 -> 0 every step
    # t0 fire (v 0); t1 refractory: u = 3 would fire, held at 1; t2 1+3 = 4 fire -> 1; t3 held 1; ...
    (1, [1, 0, 1, 0, 1, 0], [0, 1, 1, 1, 1, 1]),
    # t0 fire; t1, t2 refractory (u = 3, 4 would fire), held at 1; t3 1+3 = 4 fire -> 1; t4, t5 held
    (2, [1, 0, 0, 1, 0, 0], [0, 1, 1, 1, 1, 1]),
])
def test_refractory_holds_membrane_at_v_reset_and_blocks_spikes(refractory, spikes, membrane):
    model = dense_model([[3]], T=6, threshold=3, v_reset=1, refractory=refractory)
    s, v = run(model, ONES[:6])
    assert s == [[x] for x in spikes]
    assert v == [[x] for x in membrane]


def test_refractory_per_neuron():
    # the three neurons of test_refractory_holds_membrane_at_v_reset_and_blocks_spikes side by side
    model = dense_model([[3], [3], [3]], T=6, threshold=3, v_reset=1, refractory=[0, 1, 2])
    s, _ = run(model, ONES[:6])
    assert s == [[1, 1, 1], [1, 0, 0], [1, 1, 0], [1, 0, 1], [1, 1, 0], [1, 0, 0]]


def test_current_integrates_during_refractory():
    # cuba_lif without leak (i_decay [1, 0]): i = 3, 6, 9, 12, 15; reset none, refractory 2, threshold 5
    # t0 u = 3; t1 u = 3+6 = 9 fire, v = 9; t2, t3 refractory: v held at 0 (i goes on: 9, 12);
    # t4 u = 0+15 = 15 fire. (A current frozen while refractory would give 0 + (6+3) = 9 at t4.)
    model = dense_model([[3]], T=5, model="cuba_lif", threshold=5, v_decay=[1, 0], i_decay=[1, 0],
                        reset="none", refractory=2, v_reset=0)
    s, v = run(model, ONES[:5])
    assert s == [[0], [1], [0], [0], [1]]
    assert v == [[3], [9], [0], [0], [15]]


def test_threshold_zero_fires_on_zero():
    # u = 0 >= 0 fires every step; u = 0 > 0 never
    assert run(dense_model([[1]], T=2, threshold=0), [[0], [0]])[0] == [[1], [1]]
    assert run(dense_model([[1]], T=2, threshold=0, fire_when=">"), [[0], [0]])[0] == [[0], [0]]


# ---------------------------------------------------------------- overflow


@pytest.mark.parametrize("weight, policy, membrane", [
    (5, "saturate", [5, 7, 7]),     # 4 bits: [-8, 7]; 5, 10 -> 7, 12 -> 7
    (5, "wrap", [5, -6, -1]),       # 10 - 16 = -6; -6+5 = -1
    (-5, "saturate", [-5, -8, -8]),  # -10 -> -8; -13 -> -8
    (-5, "wrap", [-5, 6, 1]),       # -10 + 16 = 6; 6-5 = 1
])
def test_overflow_at_4_bits(weight, policy, membrane):
    # threshold 7 with '>' never fires in 4 bits (u <= 7); reset none keeps v = u
    model = dense_model([[weight]], T=3, threshold=7, fire_when=">", reset="none", v_bits=4, on_overflow=policy)
    s, v = run(model, ONES[:3])
    assert v == [[x] for x in membrane]
    assert s == [[0]] * 3


def test_overflow_applies_before_firing():
    # 4 bits, saturate: 5; 5+5 = 10 -> 7 >= 7 fire, v = 0; 5
    model = dense_model([[5]], T=3, threshold=7, v_bits=4)
    assert run(model, ONES[:3]) == ([[0], [1], [0]], [[5], [0], [5]])
    # wrap: 5; 10 -> -6, no spike; -1
    model = dense_model([[5]], T=3, threshold=7, v_bits=4, on_overflow="wrap")
    assert run(model, ONES[:3]) == ([[0], [0], [0]], [[5], [-6], [-1]])


# ---------------------------------------------------------------- synapses


def test_bias_is_added_every_step():
    # no input; u = v + 1: 1, 2, 3 fire -> 0, 1
    s, v = run(dense_model([[0]], T=4, threshold=3, bias=[1]), [[0]] * 4)
    assert s == [[0], [0], [1], [0]]
    assert v == [[1], [2], [0], [1]]


def test_recurrent_weights_read_previous_spikes():
    # W = [[1], [0]], R = [[-1, 0], [2, 0]]: neuron 0 inhibits itself by 1 and excites neuron 1 by 2
    # thresholds [1, 2]; a = W x[t] + R s[t-1]
    # t0: a = [1, 0]          -> u = [1, 0]  s = [1, 0]  v = [0, 0]
    # t1: a = [1, 0]+[-1, 2]  -> u = [0, 2]  s = [0, 1]  v = [0, 0]
    # t2: a = [1, 0]+[0, 0]   -> u = [1, 0]  s = [1, 0]  v = [0, 0]
    # t3: a = [0, 0]+[-1, 2]  -> u = [-1, 2] s = [0, 1]  v = [-1, 0]
    model = dense_model([[1], [0]], T=4, threshold=[1, 2], recurrent=[[-1, 0], [2, 0]])
    s, v = run(model, [[1], [1], [1], [0]])
    assert s == [[1, 0], [0, 1], [1, 0], [0, 1]]
    assert v == [[0, 0], [0, 0], [0, 0], [-1, 0]]


@pytest.mark.parametrize("delay, spikes", [
    (0, [1, 0, 0, 0]),
    (1, [0, 1, 0, 0]),  # x[t-1]
    (2, [0, 0, 1, 0]),  # x[t-2]
    (4, [0, 0, 0, 0]),  # delivered at t = 4 = T: never
])
def test_synaptic_delay(delay, spikes):
    s, _ = run(dense_model([[1]], T=4, delay=delay), [[1], [0], [0], [0]])
    assert s == [[x] for x in spikes]


@pytest.mark.parametrize("delays, spikes2", [
    ((0, 2), [0, 0, 1, 0, 0]),  # layer 1 fires at t0; layer 2 receives it at t2
    ((1, 1), [0, 0, 1, 0, 0]),  # t1, then t2
    ((2, 1), [0, 0, 0, 1, 0]),  # t2, then t3
])
def test_delays_add_up_across_layers(delays, spikes2):
    layers = tuple(Dense(weight=[[1]], delay=d, neuron=Neuron(size=1, model="if", threshold=1)) for d in delays)
    model = Model(time_steps=5, input=InputSpec(size=1), layers=layers)
    s, _ = run(model, [[1], [0], [0], [0], [0]])
    assert s == [[x] for x in spikes2]


# ---------------------------------------------------------------- conv2d


def test_conv2d_dense_weight_by_hand():
    # input [1, 3, 3], kernel [[1, 2], [3, 4]], stride 2, padding 1 -> output [1, 2, 2];
    # output (y, x) covers input rows 2y-1..2y, columns 2x-1..2x (input index = 3*row + column)
    conv = Conv2d(weight=[[[[1, 2], [3, 4]]]], input_shape=(1, 3, 3), stride=(2, 2), padding=(1, 1),
                  neuron=Neuron(size=4, model="if", threshold=1))
    assert conv.output_shape == (1, 2, 2)
    assert conv.dense_weight().tolist() == [
        [4, 0, 0, 0, 0, 0, 0, 0, 0],  # (0,0): only input (0,0), under kernel[1][1]
        [0, 3, 4, 0, 0, 0, 0, 0, 0],  # (0,1): inputs (0,1), (0,2) under kernel[1][0], [1][1]
        [0, 0, 0, 2, 0, 0, 4, 0, 0],  # (1,0): inputs (1,0), (2,0) under kernel[0][1], [1][1]
        [0, 0, 0, 0, 1, 2, 0, 3, 4],  # (1,1): inputs (1,1), (1,2), (2,1), (2,2): the whole kernel
    ]


@pytest.mark.parametrize("in_shape, kernel, stride, padding", [
    ((2, 5, 4), (3, 2), (1, 2), (0, 1)),
    ((1, 4, 4), (2, 2), (2, 2), (1, 0)),
    ((3, 3, 5), (1, 3), (2, 1), (1, 1)),
])
def test_conv2d_dense_weight_matches_torch_conv2d(in_shape, kernel, stride, padding):
    rng = np.random.default_rng(0)
    weight = rng.integers(-5, 6, size=(2, in_shape[0], *kernel))
    x = rng.integers(0, 2, size=in_shape)
    oh, ow = [(in_shape[1 + k] + 2 * padding[k] - kernel[k]) // stride[k] + 1 for k in range(2)]
    conv = Conv2d(weight=weight, input_shape=in_shape, stride=stride, padding=padding,
                  neuron=Neuron(size=2 * oh * ow, model="if", threshold=1))
    expected = F.conv2d(torch.tensor(x[None], dtype=torch.float64), torch.tensor(weight, dtype=torch.float64),
                        stride=stride, padding=padding)[0]
    assert conv.output_shape == tuple(expected.shape)
    # channel-major layout: dense row c*oh*ow + y*ow + x is output (c, y, x)
    assert (conv.dense_weight() @ x.reshape(-1)).tolist() == expected.reshape(-1).long().tolist()


def test_conv2d_bias_per_channel_and_channel_major_neurons():
    # 1x1 kernels: channel 0 weight 1, bias 0; channel 1 weight 2, bias 1; input [1, 2, 2] = [1, 0, 0, 1]
    # channel 0: u = [1, 0, 0, 1] < 2; channel 1: u = 2x + 1 = [3, 1, 1, 3]: neurons 4 and 7 fire, 3-2 = 1
    conv = Conv2d(weight=[[[[1]]], [[[2]]]], input_shape=(1, 2, 2), bias=[0, 1],
                  neuron=Neuron(size=8, model="if", threshold=2))
    model = Model(time_steps=1, input=InputSpec(size=4, shape=(1, 2, 2)), layers=(conv,))
    s, v = run(model, [[1, 0, 0, 1]])
    assert s == [[0, 0, 0, 0, 1, 0, 0, 1]]
    assert v == [[1, 0, 0, 1, 1, 1, 1, 1]]


# ---------------------------------------------------------------- readouts

IDENTITY = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]  # with threshold 1, output spikes = input spikes


def _decide(raster, readout, ties):
    model = dense_model(IDENTITY, T=len(raster), readout=readout, ties=ties)
    return simulate(model, np.array(raster)).to_json()


@pytest.mark.parametrize("ties", ["invalid", "lowest_index"])
def test_spike_count_clear_winner(ties):
    res = _decide([[1, 1, 0], [0, 1, 0], [1, 1, 1], [0, 0, 0]], "spike_count", ties)  # counts 2, 3, 1
    assert res["counts"] == [2, 3, 1] and res["prediction"] == 1


@pytest.mark.parametrize("raster, ties, prediction", [
    ([[1, 1, 0], [1, 1, 0], [1, 1, 1], [0, 0, 0]], "invalid", None),  # counts 3, 3, 1: tie
    ([[1, 1, 0], [1, 1, 0], [1, 1, 1], [0, 0, 0]], "lowest_index", 0),
    ([[0, 0, 0]] * 4, "invalid", None),       # no spike: all three tie at 0
    ([[0, 0, 0]] * 4, "lowest_index", 0),     # ... and the lowest tied index wins
])
def test_spike_count_ties_and_no_spikes(raster, ties, prediction):
    assert _decide(raster, "spike_count", ties)["prediction"] == prediction


@pytest.mark.parametrize("raster, ties, first, prediction", [
    ([[0, 0, 0], [0, 1, 0], [1, 0, 0], [1, 1, 1]], "invalid", [2, 1, 3], 1),
    ([[0, 0, 0], [0, 0, 0], [0, 1, 0], [0, 1, 0]], "invalid", [None, 2, None], 1),
    ([[0, 0, 0], [1, 1, 0], [0, 0, 1], [1, 0, 0]], "invalid", [1, 1, 2], None),  # tie at t1
    ([[0, 0, 0], [1, 1, 0], [0, 0, 1], [1, 0, 0]], "lowest_index", [1, 1, 2], 0),
    ([[0, 0, 0]] * 4, "invalid", [None, None, None], None),       # no spike: no decision
    ([[0, 0, 0]] * 4, "lowest_index", [None, None, None], None),  # ... under either tie rule
])
def test_first_spike_readout(raster, ties, first, prediction):
    res = _decide(raster, "first_spike", ties)
    assert res["first_spike"] == first
    assert res["prediction"] == prediction


def _li_decide(raster, readout, ties, weight):
    model = dense_model(weight, T=len(raster), readout=readout, ties=ties, model="li", v_decay=[1, 1])
    out, _ = run(model, raster)
    return out, simulate(model, np.array(raster)).to_json()["prediction"]


def test_membrane_final_and_max():
    # li halving (floor), W = diag(4, 1, 2); inputs t0 [1,0,0], t1 [0,0,1], t2 [0,1,0], t3 [0,1,1]
    # n0: 4, 2, 1, 0;  n1: 0, 0, 1, 0+1 = 1;  n2: 0, 2, 1, 0+2 = 2
    raster = [[1, 0, 0], [0, 0, 1], [0, 1, 0], [0, 1, 1]]
    weight = [[4, 0, 0], [0, 1, 0], [0, 0, 2]]
    out, final = _li_decide(raster, "membrane_final", "invalid", weight)
    assert out == [[4, 0, 0], [2, 0, 2], [1, 1, 1], [0, 1, 2]]
    assert final == 2                                                  # final [0, 1, 2]
    assert _li_decide(raster, "membrane_max", "invalid", weight)[1] == 0  # max [4, 1, 2]


@pytest.mark.parametrize("readout", ["membrane_final", "membrane_max"])
@pytest.mark.parametrize("raster, ties, prediction", [
    ([[0, 0, 0], [0, 0, 0], [1, 1, 0]], "invalid", None),   # final = max = [2, 2, 0]: tie
    ([[0, 0, 0], [0, 0, 0], [1, 1, 0]], "lowest_index", 0),
    ([[0, 0, 0]] * 3, "invalid", None),                     # no input: all 0, a tie
    ([[0, 0, 0]] * 3, "lowest_index", 0),
])
def test_membrane_readout_ties(readout, raster, ties, prediction):
    # W = diag(2, 2, 1): only the last step has input, so each membrane is 0, 0, then 2 * x
    out, pred = _li_decide(raster, readout, ties, [[2, 0, 0], [0, 2, 0], [0, 0, 1]])
    assert out[-1] == [2 * x for x in raster[-1]]
    assert pred == prediction


# ---------------------------------------------------------------- SimResult JSON


def _synops_model() -> Model:
    layer1 = Dense(weight=[[1, 0], [1, 1]], recurrent=[[0, 1], [0, 0]],
                   neuron=Neuron(size=2, model="if", threshold=[2, 1], reset="to_value", v_reset=0))
    layer2 = Dense(weight=[[1, 1]], delay=2, neuron=Neuron(size=1, model="if", threshold=2))
    return Model(time_steps=4, input=InputSpec(size=2), layers=(layer1, layer2))


SYNOPS_RASTER = [[1, 0], [0, 1], [1, 1], [1, 0]]


def test_simresult_json_counts_spikes_and_synops_by_hand():
    # Layer 1 (thresholds [2, 1], to_value 0; neuron 0 also gets neuron 1's previous spike):
    #   t0: a = [1, 1]                 u = [1, 1]  s = [0, 1]  v = [1, 0]
    #   t1: a = [0, 1] + [1, 0]        u = [2, 1]  s = [1, 1]  v = [0, 0]
    #   t2: a = [1, 2] + [1, 0]        u = [2, 2]  s = [1, 1]
    #   t3: a = [1, 1] + [1, 0]        u = [2, 1]  s = [1, 1]
    # Layer 2 (delay 2, threshold 2): t2 gets s1[0] = [0, 1]: u = 1; t3 gets s1[1] = [1, 1]: u = 3, fire
    model = _synops_model()
    res = simulate(model, np.array(SYNOPS_RASTER), record_membranes=True)
    assert res.layer_outputs[0][0].tolist() == [[0, 1], [1, 1], [1, 1], [1, 1]]
    assert res.membranes[0][0].tolist() == [[1, 0], [0, 0], [0, 0], [0, 0]]
    assert res.membranes[1][0].tolist() == [[0], [0], [1], [1]]
    # total_spikes: 7 + 1 neuron spikes (the 5 input spikes do not count)
    # synops: inputs: input 0 fires 3x, fanout 2 (column [1, 1]); input 1 fires 2x, fanout 1 -> 8
    #         recurrent: neuron 1 spikes at t0..t2 delivered (t3's would land at t4), fanout 1 -> 3;
    #                    neuron 0's fanout in R is 0
    #         layer 1 -> 2 (delay 2): spikes at t0, t1 delivered (1 + 2 spikes), fanout 1 -> 3
    #         total 8 + 3 + 3 = 14
    assert res.to_json() == {"prediction": 0, "counts": [1], "first_spike": [3], "output_spikes": [[0], [0], [0], [1]],
                             "total_spikes": 8, "synops": 14}


def test_simresult_json_batched_is_lists_over_the_batch():
    model = _synops_model()
    silent = [[0, 0]] * 4
    res = simulate(model, np.array([SYNOPS_RASTER, silent])).to_json()
    # the silent run: counts [0]; with a single output neuron there is no tie, so argmax is 0
    assert res == {"prediction": [0, 0], "counts": [[1], [0]], "first_spike": [[3], [None]],
                   "output_spikes": [[[0], [0], [0], [1]], [[0], [0], [0], [0]]],
                   "total_spikes": [8, 0], "synops": [14, 0]}


def test_synops_count_only_nonzero_synapses():
    # one input spike at t0, W = [[0], [3], [-1]]: 2 non-zero synapses; nothing fires (threshold 5)
    model = dense_model([[0], [3], [-1]], T=2, threshold=5)
    res = simulate(model, np.array([[1], [0]])).to_json()
    assert res["synops"] == 2 and res["total_spikes"] == 0
