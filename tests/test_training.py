"""Training, quantization, checkpoints and the train/quantize pipeline."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from verisnn import InputSpec, Neuron, VerisnnError, load_model, simulate
from verisnn.checkpoint import load_checkpoint, save_checkpoint
from verisnn.pipeline import architecture, load_config, run_quantize, run_training
from verisnn.quantize import quantize, to_model
from verisnn.torch_sim import LayerSpec, SpikingNetwork, SurrogateSpike, simulate_torch
from verisnn.training import TrainConfig, predict_float, train


def _toy_data(n=240, T=6, seed=0):
    """Two classes: spikes mostly on channels 0-3 or on channels 4-7."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p = np.where(y[:, None] == 0, [0.7] * 4 + [0.1] * 4, [0.1] * 4 + [0.7] * 4)
    x = (rng.random((n, T, 8)) < p[:, None, :]).astype(np.int8)
    return x, y


def _net(seed=0, T=6, **neuron):
    kw = {"model": "lif", "threshold": 1, "v_decay": (7, 3), **neuron}
    specs = [LayerSpec("dense", 8, 6, Neuron(6, **kw)), LayerSpec("dense", 6, 2, Neuron(2, **kw))]
    return SpikingNetwork(specs, T, seed=seed)


def test_surrogate_gradient_is_fast_sigmoid():
    x = torch.tensor([-1.0, 0.0, 0.5], requires_grad=True)
    y = SurrogateSpike.apply(x, 2.0)
    assert y.tolist() == [0.0, 1.0, 1.0]
    y.sum().backward()
    # 1 / (1 + 2|x|)^2
    assert torch.allclose(x.grad, torch.tensor([1 / 9, 1.0, 1 / 4]))


def test_training_learns_and_is_deterministic():
    x, y = _toy_data()
    a, b = _net(), _net()
    ha = train(a, x, y, TrainConfig(epochs=15, lr=0.01, seed=3), progress=False)
    hb = train(b, x, y, TrainConfig(epochs=15, lr=0.01, seed=3), progress=False)
    assert ha == hb
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert ha[-1]["loss"] < ha[0]["loss"]
    assert np.mean(predict_float(a, x) == y) > 0.9


def test_train_config_rejects_bad_values():
    with pytest.raises(VerisnnError, match="training.epochs"):
        TrainConfig(epochs=0)
    with pytest.raises(VerisnnError, match="training.lr"):
        TrainConfig(lr=-1.0)


def test_quantized_model_rounds_scaled_parameters_and_torch_matches_numpy():
    x, y = _toy_data()
    net = _net()
    train(net, x, y, TrainConfig(epochs=5, lr=0.01), progress=False)
    model = to_model(net, 16.0, input_spec=InputSpec(8))
    w0 = net.weight[0].detach().double().numpy()
    assert np.array_equal(model.layers[0].weight, np.rint(w0 * 16).astype(np.int64))
    assert model.layers[0].neuron.threshold == 16
    assert model.layers[0].neuron.v_decay == (7, 3)
    assert model.provenance["quantization"]["scale"] == 16.0
    res = simulate(model, x)
    torch_out = simulate_torch(model, x)
    for a, b in zip(res.layer_outputs, torch_out):
        assert np.array_equal(a, b)


def test_quantize_auto_scale_reports_float_and_integer_side_by_side():
    x, y = _toy_data()
    net = _net()
    train(net, x, y, TrainConfig(epochs=15, lr=0.01), progress=False)
    r = quantize(net, input_spec=InputSpec(8), calibration=(x[:100], y[:100]), evaluation=(x[100:], y[100:]))
    assert r.scale in [row["scale"] for row in r.candidates]
    best = max(row["calibration_accuracy"] for row in r.candidates)
    chosen = next(row for row in r.candidates if row["scale"] == r.scale)
    assert chosen["calibration_accuracy"] >= best - 0.005
    assert r.integer_accuracy == np.mean(simulate(r.model, x[100:]).prediction == y[100:])
    assert 0 <= r.agreement <= 1 and r.float_accuracy > 0.8
    with pytest.raises(VerisnnError, match="calibration"):
        quantize(net, input_spec=InputSpec(8))


def test_checkpoint_round_trip(tmp_path):
    net = _net(seed=5, model="cuba_lif", i_decay=(1, 1))
    save_checkpoint(net, tmp_path / "c.pt", {"hello": [1, 2]})
    back, meta = load_checkpoint(tmp_path / "c.pt")
    assert meta == {"hello": [1, 2]}
    assert back.specs == net.specs
    for pa, pb in zip(net.state_dict().values(), back.state_dict().values()):
        assert torch.equal(pa, pb)


class _Exploit:
    def __reduce__(self):
        import os
        return (os.system, ("touch /tmp/verisnn-pwned",))


def test_hostile_checkpoint_is_refused_without_running_code(tmp_path):
    import os
    if os.path.exists("/tmp/verisnn-pwned"):
        os.remove("/tmp/verisnn-pwned")
    bad = tmp_path / "evil.pt"
    torch.save({"format": "verisnn.checkpoint/1", "x": _Exploit()}, bad)
    with pytest.raises(VerisnnError, match="not a verisnn checkpoint"):
        load_checkpoint(bad)
    assert not os.path.exists("/tmp/verisnn-pwned")
    (tmp_path / "junk.pt").write_bytes(pickle.dumps([1, 2, 3]) + b"garbage")
    with pytest.raises(VerisnnError):
        load_checkpoint(tmp_path / "junk.pt")
    with pytest.raises(VerisnnError, match="no such file"):
        load_checkpoint(tmp_path / "missing.pt")


@pytest.mark.parametrize("patch, key", [
    ({"time_steps": 0}, "config.time_steps"),
    ({"hidden": "64"}, "config.hidden"),
    ({"encoding": {"type": "morse"}}, "config.encoding.type"),
    ({"training": {"epochs": "many"}}, "config.training.epochs"),
    ({"surprise": 1}, "config"),
])
def test_config_errors_name_the_key(patch, key):
    cfg = {"name": "x", "dataset": "iris", "time_steps": 4, **patch}
    with pytest.raises(VerisnnError) as e:
        load_config(cfg)
    assert key in str(e.value)


def test_config_neuron_errors_name_the_key():
    cfg = load_config({"name": "x", "dataset": "iris", "time_steps": 4, "neuron": {"model": "lif", "reset": "bounce"}})
    with pytest.raises(VerisnnError, match="config.neuron.reset"):
        architecture(cfg, (4,), 3)


def test_config_conv_architecture():
    cfg = load_config({"name": "x", "dataset": "digits", "time_steps": 4,
                       "layers": [{"type": "conv2d", "channels": 2, "kernel": 3, "stride": 1, "padding": 1},
                                  {"type": "dense", "size": 7, "recurrent": True}]})
    specs = architecture(cfg, (1, 8, 8), 10)
    assert [s.out_size for s in specs] == [2 * 8 * 8, 7, 10]
    assert specs[1].recurrent and specs[0].kind == "conv2d"


def test_run_training_then_quantize(tmp_path):
    cfg = {"name": "iris-small", "dataset": "iris", "time_steps": 10, "hidden": [5],
           "training": {"epochs": 30, "batch_size": 16, "lr": 0.01}}
    t = run_training(cfg, tmp_path, progress=False)
    assert t["checkpoint"].endswith("float.pt") and 0 <= t["float_test_accuracy"] <= 1
    q = run_quantize(t["checkpoint"], tmp_path / "m.snn.json", scale=32.0, progress=False)
    model = load_model(tmp_path / "m.snn.json")
    assert q["scale"] == 32.0 and model.layers[0].neuron.threshold == 32
    assert model.input.encoding["type"] == "rate" and model.time_steps == 10
    assert q["float_accuracy"] is not None and q["integer_accuracy"] is not None
