"""The torch simulator: semantics v1 interpreted over torch tensors.

Two modes of one :class:`TorchOps`:

* ``exact=True`` (evaluation): float64 tensors holding integers, with the same
  floor / toward-zero decays and overflow policies as the reference simulator —
  a quantized model gives bit-identical spikes (float64 is exact below 2^53; the
  reference simulator's range checks keep every value there);
* ``exact=False`` (training): float32, decays multiply by ``num / 2**shift``
  without rounding, no overflow, and spikes are a Heaviside step whose gradient is
  the fast-sigmoid surrogate ``1 / (1 + slope·|u - θ|)²`` (Zenke & Ganguli 2018).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from . import semantics
from .errors import ModelError
from .model import Conv2d, Dense, Model, Neuron, Readout
from .semantics import LayerParams, OperatorOps
from .simulator import F64_EXACT, row_bound


class SurrogateSpike(torch.autograd.Function):
    """Heaviside forward, fast-sigmoid derivative backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, slope: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.slope = slope
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (x,) = ctx.saved_tensors
        return grad / (1.0 + ctx.slope * x.abs()) ** 2, None


@dataclass(frozen=True)
class Synapse:
    """``W · x`` for a dense or convolution layer, over any leading dimensions."""

    weight: torch.Tensor  # [out, in] or [oc, ic, kh, kw]
    input_shape: tuple[int, int, int] | None = None
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.weight.dtype)
        if self.input_shape is None:
            return x @ self.weight.T
        lead = x.shape[:-1]
        y = F.conv2d(x.reshape(-1, *self.input_shape), self.weight, stride=self.stride, padding=self.padding)
        return y.reshape(*lead, -1)


class TorchOps(OperatorOps[torch.Tensor]):
    def __init__(self, exact: bool, slope: float = 5.0):
        self.exact = exact
        self.slope = slope
        self.dtype = torch.float64 if exact else torch.float32


    def decay(self, x, decay, rounding):
        num, shift = decay
        if not self.exact:
            return x * (num / 2.0 ** shift)
        # In int64: x * num may need 62 bits, and a float64 product rounded to 53 bits can
        # cross an integer and change the floor/trunc (e.g. x = 2^46 + 1, num/2^shift = 16383/16384).
        num_i, shift_i = torch.as_tensor(num).to(torch.int64), torch.as_tensor(shift).to(torch.int64)
        y = torch.div(x.to(torch.int64) * num_i, torch.bitwise_left_shift(torch.ones_like(shift_i), shift_i),
                      rounding_mode="floor" if rounding == "floor" else "trunc")
        return y.to(self.dtype)

    def overflow(self, u, bits, policy):
        if not self.exact:
            return u
        half = float(1 << (bits - 1))
        if policy == "saturate":
            return torch.clamp(u, -half, half - 1)
        return torch.remainder(u + half, 2 * half) - half

    def fire(self, u, threshold, strict):
        if self.exact:
            return (u > threshold if strict else u >= threshold).to(self.dtype)
        return SurrogateSpike.apply(u - threshold, self.slope)

    def select(self, mask, a, b):
        if self.exact:
            return torch.where(mask.bool(), a, b)
        m = mask.to(self.dtype)
        return m * a + (1 - m) * b

    def is_refractory(self, r):
        return r > 0

    def countdown(self, r, s, period):
        return torch.where(s.detach() > 0, period, torch.clamp(r - 1, min=0))

    def zeros(self, batch, n):
        return torch.zeros(*batch, n, dtype=self.dtype)

    def zero_spikes(self, like):
        return torch.zeros_like(like)

    def at(self, seq, t):
        # one unbind per sequence: indexing it step by step makes the backward pass write a
        # whole-sequence gradient per step (quadratic in T: 160 s instead of 18 s at T = 40000)
        if getattr(self, "_seq", None) is not seq:
            self._seq, self._steps = seq, seq.unbind(0)
        return self._steps[t]

    def stack(self, items):
        self._seq = self._steps = None  # a layer's run is over: keep no reference to its graph
        return torch.stack(items)

    def delay_time(self, seq, d):
        pad = torch.zeros_like(seq[:d])
        return torch.cat([pad, seq[: seq.shape[0] - d]])[: seq.shape[0]]


@dataclass(frozen=True)
class LayerSpec:
    """A layer's structure without its numbers: what training and quantization share.

    ``neuron`` carries the structural choices (model, decays, reset, ...); its
    threshold is replaced by the float network's own.
    """

    kind: str  # "dense" | "conv2d"
    in_size: int
    out_size: int
    neuron: Neuron
    delay: int = 0
    recurrent: bool = False
    input_shape: tuple[int, int, int] | None = None
    kernel: tuple[int, int] | None = None
    out_channels: int | None = None
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class _Arch:
    """Duck-typed stand-in for :class:`Model` in :func:`semantics.run_layers`."""

    time_steps: int
    layers: tuple


@dataclass(frozen=True)
class _ArchLayer:
    neuron: Neuron
    delay: int


def _neuron_tensor(x: Any, size: int, dtype) -> torch.Tensor:
    return torch.as_tensor(np.broadcast_to(np.asarray(x, dtype=np.float64), (size,)).copy(), dtype=dtype)


def _decay_tensors(d, size: int, dtype):
    if d is None:
        return None
    arr = np.asarray(d, dtype=np.float64)
    if arr.ndim == 1:
        arr = np.broadcast_to(arr, (size, 2))
    # num / 2**shift computed in TorchOps.decay; keep (num, shift) as tensors
    return torch.as_tensor(arr[:, 0].copy(), dtype=dtype), torch.as_tensor(arr[:, 1].copy(), dtype=dtype)


class SpikingNetwork(torch.nn.Module):
    """A network of :class:`LayerSpec` layers with float parameters.

    ``forward(x)`` takes ``[B, T, n]`` input spikes and returns every layer's
    ``[B, T, n]`` outputs. In training mode it runs the surrogate-gradient float
    semantics; in evaluation mode the exact integer semantics (meaningful once the
    parameters are integers, as after :meth:`from_model`).
    """

    def __init__(self, specs: Sequence[LayerSpec], time_steps: int, readout: Readout | None = None,
                 threshold: float = 1.0, seed: int = 0, slope: float = 5.0):
        super().__init__()
        self.specs = tuple(specs)
        self.time_steps = time_steps
        self.readout = readout or Readout()
        self.slope = slope
        gen = torch.Generator().manual_seed(seed)
        self.weight = torch.nn.ParameterList()
        self.bias = torch.nn.ParameterList()
        self.recurrent = torch.nn.ParameterList()
        for spec in self.specs:
            if spec.kind == "dense":
                shape, fan_in = (spec.out_size, spec.in_size), spec.in_size
            else:
                kh, kw = spec.kernel
                shape, fan_in = (spec.out_channels, spec.input_shape[0], kh, kw), spec.input_shape[0] * kh * kw
            w = torch.randn(*shape, generator=gen) * (threshold * 2.0 / fan_in ** 0.5)
            self.weight.append(torch.nn.Parameter(w))
            n_bias = spec.out_channels if spec.kind == "conv2d" else spec.out_size
            self.bias.append(torch.nn.Parameter(torch.zeros(n_bias)))
            r = torch.randn(spec.out_size, spec.out_size, generator=gen) * (threshold * 0.5 / spec.out_size ** 0.5)
            self.recurrent.append(torch.nn.Parameter(r if spec.recurrent else torch.zeros(0, 0),
                                                     requires_grad=spec.recurrent))
        for k, spec in enumerate(self.specs):
            self.register_buffer(f"threshold_{k}", torch.full((spec.out_size,), float(threshold)))

    def thresholds(self) -> list[torch.Tensor]:
        return [getattr(self, f"threshold_{k}") for k in range(len(self.specs))]

    @classmethod
    def from_model(cls, model: Model) -> "SpikingNetwork":
        """The integer model as a float64 network (exact in evaluation mode)."""
        specs = [spec_of(layer) for layer in model.layers]
        net = cls(specs, model.time_steps, model.readout)
        with torch.no_grad():
            for k, layer in enumerate(model.layers):
                net.weight[k] = torch.nn.Parameter(torch.tensor(np.array(layer.weight), dtype=torch.float64))
                net.bias[k] = torch.nn.Parameter(torch.tensor(np.array(layer.bias), dtype=torch.float64))
                if layer.recurrent is not None:
                    net.recurrent[k] = torch.nn.Parameter(torch.tensor(np.array(layer.recurrent), dtype=torch.float64))
                th = layer.neuron.threshold if layer.neuron.fires else 0
                getattr(net, f"threshold_{k}").data = _neuron_tensor(th, layer.out_size, torch.float64)
        return net.double().eval()

    def layer_params(self, dtype) -> list[LayerParams]:
        out = []
        for k, spec in enumerate(self.specs):
            n = spec.neuron
            w = self.weight[k].to(dtype)
            b = self.bias[k].to(dtype)
            if spec.kind == "conv2d":
                syn = Synapse(w, spec.input_shape, spec.stride, spec.padding)
                b = b.repeat_interleave(spec.out_size // spec.out_channels)
            else:
                syn = Synapse(w)
            rec = Synapse(self.recurrent[k].to(dtype)) if spec.recurrent else None
            out.append(LayerParams(
                weight=syn, bias=b, recurrent=rec, threshold=self.thresholds()[k].to(dtype),
                v_reset=_neuron_tensor(n.v_reset, spec.out_size, dtype),
                v_decay=_decay_tensors(n.v_decay, spec.out_size, dtype),
                i_decay=_decay_tensors(n.i_decay, spec.out_size, dtype),
                refractory=_neuron_tensor(n.refractory, spec.out_size, dtype)))
        return out

    def forward(self, x: torch.Tensor, exact: bool | None = None) -> list[torch.Tensor]:
        """``exact`` defaults to ``not self.training``; ``exact=False`` under ``no_grad`` evaluates
        the float network as trained."""
        ops = TorchOps(exact=not self.training if exact is None else exact, slope=self.slope)
        x = torch.as_tensor(x).to(ops.dtype).transpose(0, 1)  # [T, B, n]
        arch = _Arch(self.time_steps, tuple(_ArchLayer(s.neuron, s.delay) for s in self.specs))
        outputs, _ = semantics.run_layers(ops, arch, self.layer_params(ops.dtype), x, (x.shape[1],))
        return [o.transpose(0, 1) for o in outputs]


def spec_of(layer: Dense | Conv2d) -> LayerSpec:
    """The structure of an integer layer."""
    common = dict(in_size=layer.in_size, out_size=layer.out_size, neuron=layer.neuron, delay=layer.delay,
                  recurrent=layer.recurrent is not None)
    if isinstance(layer, Dense):
        return LayerSpec(kind="dense", **common)
    return LayerSpec(kind="conv2d", input_shape=layer.input_shape, kernel=tuple(layer.weight.shape[2:]),
                     out_channels=int(layer.weight.shape[0]), stride=layer.stride, padding=layer.padding, **common)


def simulate_torch(model: Model, raster: np.ndarray) -> list[np.ndarray]:
    """Run an integer model through the torch simulator in evaluation (exact) mode;
    returns every layer's ``[B, T, n]`` outputs as int64 arrays."""
    for k, layer in enumerate(model.layers):
        mats = [layer.dense_weight()] + ([layer.recurrent] if layer.recurrent is not None else [])
        bound = sum(row_bound(m) for m in mats) + int(np.abs(layer.neuron_bias()).max(initial=0))
        if bound >= F64_EXACT:
            raise ModelError(f"synaptic sums may reach {bound}, beyond float64's exact range (2^53): "
                             "use the numpy reference simulator", f"layers[{k}]")
    net = SpikingNetwork.from_model(model)
    x = np.asarray(raster)
    if x.ndim == 2:
        x = x[None]
    with torch.no_grad():
        outs = net(torch.as_tensor(x, dtype=torch.float64))
    return [o.numpy().astype(np.int64) for o in outs]
