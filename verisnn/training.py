"""Surrogate-gradient training (BPTT) of a float :class:`SpikingNetwork`.

The float network runs the same semantics as the integer one (``TorchOps`` in
training mode: no rounding, no overflow, surrogate spike gradient), so that
quantization changes only the numbers, not the equations. Training is
deterministic for a given seed on a given machine (fixed initialisation,
shuffling and torch seeds).
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from .errors import VerisnnError
from .model import Readout
from .torch_sim import LayerSpec, SpikingNetwork


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of :func:`train`. ``loss`` is cross-entropy on the readout's
    logits (:func:`logits`) scaled by ``logit_scale``.

    ``flip_noise`` (in ``[0, 0.5)``) is the probability with which each bit of a
    training raster is flipped, drawn afresh for every batch from the seeded
    generator. Verification asks whether a decision survives a few flipped bits
    (``flips: k`` regions, rules certified within one flip of their data); training
    on such flips makes the network locally stable there, so far more of those
    properties hold. 0 (the default) trains on the rasters as given, exactly as
    before this field existed.
    """

    epochs: int = 20
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.0
    logit_scale: float = 1.0
    flip_noise: float = 0.0
    seed: int = 0

    def __post_init__(self):
        for key in ("epochs", "batch_size"):
            v = getattr(self, key)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise VerisnnError(f"must be a positive integer, got {v!r}", f"training.{key}")
        for key in ("lr", "logit_scale"):
            v = getattr(self, key)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not v > 0:
                raise VerisnnError(f"must be a positive number, got {v!r}", f"training.{key}")
        if not isinstance(self.weight_decay, (int, float)) or self.weight_decay < 0:
            raise VerisnnError(f"must be a number >= 0, got {self.weight_decay!r}", "training.weight_decay")
        v = self.flip_noise
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v < 0.5:
            # at 0.5 a flipped raster carries no information about the clean one
            raise VerisnnError(f"must be a probability in [0, 0.5), got {v!r}", "training.flip_noise")

    def to_dict(self) -> dict:
        return asdict(self)


def training_bytes(specs: Sequence[LayerSpec], time_steps: int, samples: int, batch_size: int) -> int:
    """About the bytes :func:`train` needs for a network of ``specs`` on ``samples``
    encoded inputs: the parameters with their gradients and Adam's two moments (4 float32
    copies), the square matrix every layer draws for a recurrent weight, the float32 copy
    of the inputs and what BPTT keeps of one batch (a few float32 per neuron and step)."""
    params = drawn = 0
    for s in specs:
        if s.kind == "dense":
            params += s.out_size * s.in_size
        else:
            params += s.out_channels * s.input_shape[0] * s.kernel[0] * s.kernel[1]
        params += s.out_size + (s.out_size ** 2 if s.recurrent else 0)  # thresholds (biases fewer), recurrence
        drawn += s.out_size ** 2
    neurons = specs[0].in_size + sum(s.out_size for s in specs)
    batch = min(batch_size, samples)
    return 16 * params + 4 * drawn + 5 * samples * time_steps * specs[0].in_size + 32 * batch * time_steps * neurons


def logits(readout: Readout, output: torch.Tensor) -> torch.Tensor:
    """Differentiable class scores from the output layer's ``[B, T, n]`` outputs:
    spike counts for ``spike_count``, final or peak membrane for ``membrane_*``."""
    if readout.type == "spike_count":
        return output.sum(dim=1)
    if readout.type == "membrane_final":
        return output[:, -1]
    if readout.type == "membrane_max":
        return output.max(dim=1).values
    raise VerisnnError(f"training supports spike_count and membrane readouts, not {readout.type!r}", "readout.type")


def predict_float(net: SpikingNetwork, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Decisions of the float network as trained (float semantics, ties -> -1 like
    the integer readout with ``ties: invalid``)."""
    out = []
    with torch.no_grad():
        for k in range(0, len(x), batch_size):
            z = logits(net.readout, net(torch.as_tensor(x[k:k + batch_size]), exact=False)[-1])
            best = z.max(dim=1, keepdim=True).values
            tie = (z == best).sum(dim=1) > 1
            pred = z.argmax(dim=1)
            if net.readout.ties == "invalid":
                pred[tie] = -1
            out.append(pred.numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def flip_bits(batch: torch.Tensor, p: float, gen: np.random.Generator) -> torch.Tensor:
    """``batch`` (0/1 spikes) with each bit flipped with probability ``p``, the flips
    drawn from ``gen``; at ``p == 0`` the batch itself, and ``gen`` is not used (so
    noise-free training consumes exactly the draws it always did)."""
    if p == 0:
        return batch
    flip = torch.as_tensor(gen.random(tuple(batch.shape)) < p, dtype=batch.dtype)
    return batch + flip * (1 - 2 * batch)  # 0 -> 1 and 1 -> 0 where flip is 1


def train(net: SpikingNetwork, x: np.ndarray, y: np.ndarray, config: TrainConfig = TrainConfig(),
          progress: bool = True) -> list[dict]:
    """Train ``net`` in place on spike rasters ``x`` ``[N, T, n]`` and labels ``y``
    with Adam and BPTT; returns the per-epoch history (loss, train accuracy; with
    ``flip_noise``, the accuracy on the noisy batches)."""
    if len(x) != len(y) or len(x) == 0:
        raise VerisnnError(f"{len(x)} inputs and {len(y)} labels", "training data")
    if config.flip_noise > 0 and not np.isin(np.asarray(x), (0, 1)).all():
        raise VerisnnError("flipping bits needs 0/1 spike rasters", "training.flip_noise")
    torch.manual_seed(config.seed)
    gen = np.random.default_rng(config.seed)
    xt = torch.tensor(np.asarray(x), dtype=torch.float32)
    yt = torch.tensor(np.asarray(y), dtype=torch.long)
    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=config.lr,
                           weight_decay=config.weight_decay)
    history = []
    net.train()
    bar = tqdm(range(config.epochs), desc="train", unit="epoch", disable=not progress, file=sys.stderr,
               leave=False, mininterval=1.0)
    for epoch in bar:
        order = torch.as_tensor(gen.permutation(len(x)))
        total, correct = 0.0, 0
        for k in range(0, len(order), config.batch_size):
            idx = order[k:k + config.batch_size]
            batch = flip_bits(xt[idx], config.flip_noise, gen)
            z = logits(net.readout, net(batch, exact=False)[-1]) * config.logit_scale
            loss = torch.nn.functional.cross_entropy(z, yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            correct += int((z.argmax(dim=1) == yt[idx]).sum())
        row = {"epoch": epoch + 1, "loss": total / len(x), "train_accuracy": correct / len(x)}
        history.append(row)
        bar.set_postfix(loss=f"{row['loss']:.3f}", acc=f"{row['train_accuracy']:.3f}", refresh=False)
    net.eval()
    return history
