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

import numpy as np
import torch
from tqdm.auto import tqdm

from .errors import VerisnnError
from .model import Readout
from .torch_sim import SpikingNetwork


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of :func:`train`. ``loss`` is cross-entropy on the readout's
    logits (:func:`logits`) scaled by ``logit_scale``."""

    epochs: int = 20
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.0
    logit_scale: float = 1.0
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

    def to_dict(self) -> dict:
        return asdict(self)


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


def train(net: SpikingNetwork, x: np.ndarray, y: np.ndarray, config: TrainConfig = TrainConfig(),
          progress: bool = True) -> list[dict]:
    """Train ``net`` in place on spike rasters ``x`` ``[N, T, n]`` and labels ``y``
    with Adam and BPTT; returns the per-epoch history (loss, train accuracy)."""
    if len(x) != len(y) or len(x) == 0:
        raise VerisnnError(f"{len(x)} inputs and {len(y)} labels", "training data")
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
            z = logits(net.readout, net(xt[idx], exact=False)[-1]) * config.logit_scale
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
