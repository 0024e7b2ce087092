"""Input bit-flip noise during training (``TrainConfig.flip_noise``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from verisnn import Neuron, VerisnnError
from verisnn.pipeline import load_config, run_training
from verisnn.torch_sim import LayerSpec, SpikingNetwork
from verisnn.training import TrainConfig, flip_bits, logits, train


def _toy_data(n=120, T=5, seed=0):
    """Two classes: spikes mostly on channels 0-3 or on channels 4-7."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p = np.where(y[:, None] == 0, [0.7] * 4 + [0.1] * 4, [0.1] * 4 + [0.7] * 4)
    return (rng.random((n, T, 8)) < p[:, None, :]).astype(np.int8), y


def _net(T=5):
    kw = {"model": "lif", "threshold": 1, "v_decay": (7, 3)}
    return SpikingNetwork([LayerSpec("dense", 8, 6, Neuron(6, **kw)), LayerSpec("dense", 6, 2, Neuron(2, **kw))],
                          T, seed=0)


def _reference_train(net, x, y, config):
    """The training loop as it was before ``flip_noise`` existed: the oracle that
    noise-free training must still reproduce bit for bit."""
    torch.manual_seed(config.seed)
    gen = np.random.default_rng(config.seed)
    xt, yt = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.long)
    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=config.lr,
                           weight_decay=config.weight_decay)
    net.train()
    for _ in range(config.epochs):
        order = torch.as_tensor(gen.permutation(len(x)))
        for k in range(0, len(order), config.batch_size):
            idx = order[k:k + config.batch_size]
            z = logits(net.readout, net(xt[idx], exact=False)[-1]) * config.logit_scale
            loss = torch.nn.functional.cross_entropy(z, yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()


def _weights(net):
    return [p.detach().clone() for p in net.parameters()]


@pytest.mark.parametrize("value", [-0.1, 0.5, 0.9, True, "0.1", None])
def test_flip_noise_outside_zero_to_half_is_refused(value):
    with pytest.raises(VerisnnError, match="training.flip_noise"):
        TrainConfig(flip_noise=value)


def test_flip_noise_needs_binary_rasters():
    x, y = _toy_data()
    with pytest.raises(VerisnnError, match="training.flip_noise"):
        train(_net(), x * 2, y, TrainConfig(epochs=1, flip_noise=0.1), progress=False)


def test_no_noise_reproduces_the_training_without_noise_exactly():
    x, y = _toy_data()
    config = TrainConfig(epochs=3, batch_size=32, lr=0.01, seed=5, flip_noise=0.0)
    a, b = _net(), _net()
    train(a, x, y, config, progress=False)
    _reference_train(b, x, y, config)
    for pa, pb in zip(_weights(a), _weights(b)):
        assert torch.equal(pa, pb)


def test_noisy_training_is_deterministic_for_a_seed_and_differs_from_clean():
    x, y = _toy_data()
    runs = {}
    for key, noise, seed in (("a", 0.1, 5), ("b", 0.1, 5), ("other_seed", 0.1, 6), ("clean", 0.0, 5)):
        net = _net()
        history = train(net, x, y, TrainConfig(epochs=3, batch_size=32, lr=0.01, seed=seed, flip_noise=noise),
                        progress=False)
        runs[key] = (history, _weights(net))
    assert runs["a"][0] == runs["b"][0]
    assert all(torch.equal(p, q) for p, q in zip(runs["a"][1], runs["b"][1]))
    for other in ("other_seed", "clean"):
        assert not all(torch.equal(p, q) for p, q in zip(runs["a"][1], runs[other][1]))


def test_flip_bits_flips_about_p_of_the_bits_afresh_per_draw():
    batch = torch.tensor(_toy_data(n=400)[0], dtype=torch.float32)
    gen = np.random.default_rng(0)
    first, second = flip_bits(batch, 0.1, gen), flip_bits(batch, 0.1, gen)
    assert set(torch.unique(first).tolist()) <= {0.0, 1.0}
    share = (first != batch).float().mean().item()
    assert 0.09 < share < 0.11
    assert not torch.equal(first, second)  # a fresh draw for every batch
    state = np.random.default_rng(0).bit_generator.state
    untouched = np.random.default_rng(0)
    assert flip_bits(batch, 0.0, untouched) is batch
    assert untouched.bit_generator.state == state  # noise-free training draws nothing extra


def test_pipeline_config_accepts_flip_noise_and_names_bad_values(tmp_path):
    base = {"name": "toy", "dataset": "iris", "time_steps": 4, "hidden": [4],
            "training": {"epochs": 1, "flip_noise": 0.05}}
    assert load_config(base)["training"]["flip_noise"] == 0.05
    with pytest.raises(VerisnnError, match="training"):
        load_config({**base, "training": {"flip_noise": "lots"}})
    with pytest.raises(VerisnnError, match="training.flip_noise"):
        run_training({**base, "training": {"epochs": 1, "flip_noise": 0.7}}, tmp_path, progress=False)
