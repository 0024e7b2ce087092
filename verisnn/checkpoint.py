"""Float checkpoints of a trained :class:`SpikingNetwork`.

A checkpoint is a ``torch.save`` file holding only tensors, strings and numbers,
loaded with ``torch.load(weights_only=True)``: loading never runs code. The
architecture and the training configuration travel as JSON strings.
"""

from __future__ import annotations

import json
import math
import pickle
import warnings
import zipfile
from pathlib import Path

import torch

from .errors import VerisnnError
from .limits import require_memory
from .model import Readout
from .model_format import neuron_from_dict, neuron_to_dict, parse_json
from .torch_sim import LayerSpec, SpikingNetwork

FORMAT = "verisnn.checkpoint/1"


def _spec_to_dict(spec: LayerSpec) -> dict:
    d = {k: getattr(spec, k) for k in ("kind", "in_size", "out_size", "delay", "recurrent", "input_shape",
                                       "kernel", "out_channels", "stride", "padding")}
    d["neuron"] = neuron_to_dict(spec.neuron)
    return json.loads(json.dumps(d))  # tuples -> lists


def _spec_from_dict(d: dict) -> LayerSpec:
    tup = lambda v: tuple(v) if v is not None else None  # noqa: E731
    return LayerSpec(kind=d["kind"], in_size=d["in_size"], out_size=d["out_size"],
                     neuron=neuron_from_dict(d["neuron"], d["out_size"]), delay=d["delay"],
                     recurrent=d["recurrent"], input_shape=tup(d["input_shape"]), kernel=tup(d["kernel"]),
                     out_channels=d["out_channels"], stride=tuple(d["stride"]), padding=tuple(d["padding"]))


def save_checkpoint(net: SpikingNetwork, path: str | Path, meta: dict) -> None:
    """Write ``net`` and JSON-safe ``meta`` (e.g. the training config) to ``path``."""
    arch = {"specs": [_spec_to_dict(s) for s in net.specs], "time_steps": net.time_steps,
            "readout": {"type": net.readout.type, "ties": net.readout.ties}, "slope": net.slope}
    payload = {"format": FORMAT, "architecture": json.dumps(arch), "meta": json.dumps(meta),
               "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()}}
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(p)


def _require_unpacked_memory(p: Path) -> None:
    """A checkpoint is a zip archive whose members may be compressed: budget what they
    unpack to, from the archive's directory, before torch reads any of them."""
    try:
        if not zipfile.is_zipfile(p):
            return  # not a torch zip file: torch.load refuses it
        with zipfile.ZipFile(p) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (OSError, zipfile.BadZipFile, ValueError) as e:
        raise VerisnnError(f"not a verisnn checkpoint ({type(e).__name__})", str(p)) from None
    require_memory(unpacked, f"the checkpoint {p.name} (what its archive unpacks to)")


def _parameter_bytes(specs: list[LayerSpec]) -> int:
    """The float32 parameters the declared layers need (weights, recurrent weights, biases)."""
    total = 0
    for s in specs:
        weights = s.out_channels * s.input_shape[0] * math.prod(s.kernel) if s.kind == "conv2d" else \
            s.in_size * s.out_size
        total += weights + (s.out_size ** 2 if s.recurrent else 0) + s.out_size
    return 4 * total


def load_checkpoint(path: str | Path) -> tuple[SpikingNetwork, dict]:
    """Read a checkpoint (safely); returns the network in evaluation mode and its meta."""
    p = Path(path)
    _require_unpacked_memory(p)
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols of files it then refuses
            warnings.simplefilter("ignore")
            payload = torch.load(p, weights_only=True, map_location="cpu")
    except FileNotFoundError:
        raise VerisnnError("no such file", str(p)) from None
    except pickle.UnpicklingError:
        raise VerisnnError("not a verisnn checkpoint: it holds Python objects other than tensors and plain "
                           "data, which are refused because loading them could run code", str(p)) from None
    except Exception as e:  # not a torch file at all
        raise VerisnnError(f"not a verisnn checkpoint ({type(e).__name__})", str(p)) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise VerisnnError(f"not a {FORMAT} file", str(p))
    try:
        arch = parse_json(payload["architecture"], "checkpoint")
        meta = parse_json(payload["meta"], "checkpoint")
        specs = [_spec_from_dict(d) for d in arch["specs"]]
        require_memory(_parameter_bytes(specs), f"the network {p.name} declares")
        net = SpikingNetwork(specs, arch["time_steps"], Readout(**arch["readout"]), slope=arch["slope"])
        net.load_state_dict(payload["state_dict"])
    except VerisnnError as e:
        raise type(e)(e.message, f"{p}: {e.path}" if e.path else str(p)) from None
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise VerisnnError(f"malformed checkpoint ({type(e).__name__}: {str(e).splitlines()[0][:200]})",
                           str(p)) from None
    return net.eval(), meta
