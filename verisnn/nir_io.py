r"""NIR import and export: continuous-time NIR graphs <-> verisnn integer models.

NIR (the Neuromorphic Intermediate Representation, the ``nir`` package) states a
network as continuous-time equations with float parameters and **no time step**;
verisnn models are integer, discrete-time networks (semantics v1, DESIGN.md). The
two meet through a user-chosen time step ``dt`` and a fixed-point ``scale``:

* import: forward Euler at ``dt`` turns each neuron ODE into a discrete update
  (``v[t] = (1 - dt/τ) v[t-1] + (dt/τ) v_leak + (dt·R/τ) I[t]``), the input gain is
  folded into the weights, and every weight, bias, threshold and reset value is
  multiplied by ``scale`` and rounded to an integer;
* export: the exact inverse with gain 1 (``τ = dt/(1-β)``, ``R = τ/dt``), weights
  and thresholds divided by ``scale``.

Every convention that changes on the way is returned in words (``conventions``);
what NIR cannot state (subtractive reset, refractory periods, recurrence, wrapping
overflow, toward-zero rounding) is refused, or with ``allow_lossy=True`` dropped and
recorded as ``LOSSY: ...``. Exports check themselves: the graph is re-imported with
the same ``dt`` and ``scale`` and must give back the model's integers exactly.
See ``docs/nir.md`` for the tables and a worked example.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import nir
import numpy as np

from .documents import clip, parse_json
from .errors import ModelError, NIRError, ResourceError
from .limits import human_bytes, require_memory
from .model import (MAX_DECAY_SHIFT, MAX_V_BITS, ROUNDINGS, Conv2d, Dense, InputSpec, Model, Neuron, Readout,
                    conv_output_hw)
from .model_format import schema as model_schema

META_KEY = "verisnn"  # node / graph metadata entry holding a JSON object written by export_nir
SYNAPSE_TYPES = ("Affine", "Linear", "Conv2d")
NEURON_TYPES = ("LIF", "IF", "CubaLIF", "LI", "I")
LAYOUT_TYPES = ("Flatten", "Delay")
MAX_VALUES = 1 << 26  # values in one shape: far beyond any SNN verisnn can verify, small enough to allocate
MAX_STORED_OBJECTS = 100_000  # groups and arrays in one file: thousands of nodes at most
_COPIES_BYTES = 16  # per stored value, besides its own bytes: the float64 and int64 copies the import makes
_TOL = 1e-6  # how far (in integer units) a scaled float may sit from the integer or half-integer it stands for


@dataclass(frozen=True)
class NIRImport:
    """A model imported from NIR, and every convention change applied, in words."""

    model: Model
    conventions: tuple[str, ...]


@dataclass(frozen=True)
class NIRExport:
    """A NIR graph exported from a model, and every convention change applied, in words
    (entries starting with ``LOSSY:`` name what was dropped under ``allow_lossy``)."""

    graph: nir.NIRGraph
    conventions: tuple[str, ...]


# --------------------------------------------------------------------------- files


def read_nir(path: str | Path) -> nir.NIRGraph:
    """Read a NIR graph from an HDF5 file written by ``nir.write``; any failure is a :class:`NIRError`."""
    p = Path(path)
    if not p.is_file():
        raise NIRError("no such file", str(p))
    if not h5py.is_hdf5(p):
        raise NIRError("not an HDF5 file, so not a NIR file (NIR files are written by nir.write)", str(p))
    try:
        with h5py.File(p, "r") as f:
            if "node" not in f or not isinstance(f["node"], h5py.Group):
                raise NIRError("an HDF5 file without a 'node' group: not a NIR graph", str(p))
            _check_stored_types(f["node"], "node", str(p))
            _check_stored_sizes(f["node"], str(p))
        # type_check=False: nir's checker rewrites the graph (adds Input/Output nodes);
        # import_nir checks every shape itself and names the node.
        graph = nir.read(p, type_check=False)
    except (NIRError, ResourceError):
        raise
    except Exception as e:  # nir raises AssertionError, KeyError, ValueError, OSError ... on bad files
        raise NIRError(f"cannot read the NIR graph: {type(e).__name__}: {e}".rstrip(": "), str(p)) from None
    if not isinstance(graph, nir.NIRGraph):
        raise NIRError(f"the file holds a {type(graph).__name__}, not a NIRGraph", str(p))
    return graph


def _check_stored_sizes(group: h5py.Group, path: str) -> None:
    """Refuse, from the shapes and types the file declares and before any array is read, a
    graph whose arrays are too large: one array of more than :data:`MAX_VALUES` values, or
    all of them beyond the memory budget (a few kilobytes of compressed zeros can declare
    a 30000 x 30000 weight)."""
    total, count = 0, 0

    def visit(name: str, item) -> None:
        nonlocal total, count
        count += 1
        if count > MAX_STORED_OBJECTS:
            raise NIRError(f"more than {MAX_STORED_OBJECTS} groups and arrays: not a graph verisnn can import", path)
        if isinstance(item, h5py.Dataset) and item.shape is not None:
            values = math.prod(item.shape)
            if values > MAX_VALUES:
                raise NIRError(f"node/{name} holds an array of shape {list(item.shape)}: more than {MAX_VALUES} "
                               f"values ({human_bytes(values * item.dtype.itemsize)} as stored)", path)
            total += values * (item.dtype.itemsize + _COPIES_BYTES)

    group.visititems(visit)
    require_memory(total, f"reading the arrays of the NIR graph {Path(path).name}")


def _check_stored_types(group: h5py.Group, where: str, path: str) -> None:
    """Name the node whose type nir does not know (nir itself fails with a bare assertion)."""
    t = group.get("type")
    kind = t[()] if isinstance(t, h5py.Dataset) else None
    kind = kind.decode("utf8", "replace") if isinstance(kind, bytes) else kind
    if not isinstance(kind, str):
        raise NIRError(f"{where} has no node type", path)
    if kind not in nir.ir.__all__ or kind in ("NIRNode", "str2NIRNode", "dict2NIRNode"):
        raise NIRError(f"{where} has type {kind!r}, which is not a NIR primitive", path)
    if kind == "NIRGraph":
        nodes = group.get("nodes")
        if not isinstance(nodes, h5py.Group) or not isinstance(group.get("edges"), h5py.Dataset):
            raise NIRError(f"{where} is a NIRGraph without nodes and edges", path)
        for name, child in nodes.items():
            if not isinstance(child, h5py.Group):
                raise NIRError(f"{where}.nodes[{name!r}] is not a node", path)
            _check_stored_types(child, f"node {name!r}" if where == "node" else f"{where}/{name!r}", path)


def write_nir(graph: nir.NIRGraph, path: str | Path) -> None:
    """Write ``graph`` to an HDF5 file with ``nir.write``; any failure is a :class:`NIRError`."""
    if not isinstance(graph, nir.NIRGraph):
        raise NIRError(f"expected a nir.NIRGraph, got {type(graph).__name__}")
    try:
        nir.write(Path(path), graph)
    except Exception as e:
        raise NIRError(f"cannot write the NIR graph: {type(e).__name__}: {e}", str(path)) from None


# --------------------------------------------------------------------------- small helpers


def _positive(x: Any, what: str) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError, OverflowError):
        raise NIRError(f"must be a number, got {x!r}", what) from None
    if not math.isfinite(v) or v <= 0:
        raise NIRError(f"must be a finite number > 0, got {x!r}", what)
    return v


def _rint(x: np.ndarray) -> np.ndarray:
    """Nearest integer, ties to even (numpy.rint), as int64 (values beyond 2^62 are refused first)."""
    if x.size and not np.all(np.abs(x) < 2.0**62):
        raise NIRError("a scaled parameter exceeds 2^62: scale is far too large")
    return np.rint(x).astype(np.int64)


def _scalar_or_list(values: np.ndarray) -> int | tuple[int, ...]:
    """One int when all neurons agree, else one per neuron (model format v1)."""
    values = np.asarray(values).reshape(-1)
    return int(values[0]) if np.all(values == values[0]) else tuple(int(v) for v in values)


def _pairs(nums: np.ndarray, shifts: np.ndarray) -> tuple:
    """``(num, shift)``, or one pair per neuron when they differ."""
    pairs = [(int(n), int(s)) for n, s in zip(nums, shifts)]
    return pairs[0] if all(p == pairs[0] for p in pairs) else tuple(pairs)


def _per_neuron(x: Any, n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(x, dtype=np.int64), (n,)).copy()


def _decay_arrays(d: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    arr = np.asarray(d, dtype=np.int64)
    arr = np.broadcast_to(arr, (n, 2)) if arr.ndim == 1 else arr
    return arr[:, 0].copy(), arr[:, 1].copy()


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def _meta(node: Any, where: str) -> dict:
    """The JSON object export_nir stored under ``metadata['verisnn']``, or {}."""
    md = getattr(node, "metadata", None)
    if not isinstance(md, dict) or META_KEY not in md:
        return {}
    raw = md[META_KEY]
    raw = raw.decode("utf8", "replace") if isinstance(raw, bytes) else raw
    try:
        doc = parse_json(raw, "metadata", NIRError) if isinstance(raw, str) else None
    except NIRError:
        doc = None
    if not isinstance(doc, dict):
        raise NIRError(f"metadata[{META_KEY!r}] is not a JSON object", where)
    return doc


def _meta_shift(meta: dict, key: str, n: int, default: int, where: str) -> tuple[np.ndarray, bool]:
    """Decay shifts per neuron from verisnn metadata (exact round trips), else ``default``."""
    if key not in meta:
        return np.full(n, default, dtype=np.int64), False
    raw = meta[key]
    vals = raw if isinstance(raw, list) else [raw]
    if not vals or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_DECAY_SHIFT for v in vals) \
            or len(vals) not in (1, n):
        raise NIRError(f"metadata {key} must be an integer in [0, {MAX_DECAY_SHIFT}] or one per neuron ({n})", where)
    return np.broadcast_to(np.asarray(vals, dtype=np.int64), (n,)).copy(), True


# --------------------------------------------------------------------------- graph structure


def _chain(graph: nir.NIRGraph) -> list[str]:
    """The node names from the Input node to the Output node of a chain-shaped graph."""
    nodes, edges = getattr(graph, "nodes", None), getattr(graph, "edges", None)
    if not isinstance(nodes, dict) or not nodes:
        raise NIRError("the graph has no nodes")
    try:
        edges = [(a, b) for a, b in edges]
    except (TypeError, ValueError, OverflowError):
        raise NIRError("edges must be a list of (source, target) pairs of node names") from None
    for name, node in nodes.items():
        if not isinstance(name, str):
            raise NIRError(f"node name {name!r} is not a string")
        if isinstance(node, nir.NIRGraph):
            raise NIRError("is a nested NIRGraph (a subgraph); verisnn imports flat chains only", f"node {name!r}")
        if not isinstance(node, nir.NIRNode):
            raise NIRError(f"is a {type(node).__name__}, not a NIR node", f"node {name!r}")
    succ: dict[str, list[str]] = {k: [] for k in nodes}
    pred: dict[str, list[str]] = {k: [] for k in nodes}
    for a, b in edges:
        for end in (a, b):
            if not isinstance(end, str) or end not in nodes:
                raise NIRError(f"edge ({a!r}, {b!r}) names node {end!r}, which is not in the graph")
        if b in succ[a]:
            raise NIRError(f"edge ({a!r}, {b!r}) appears twice")
        succ[a].append(b)
        pred[b].append(a)
    cycle = _find_cycle(succ)
    if cycle:
        raise NIRError(f"recurrent connection {' -> '.join(cycle)}: verisnn cannot import recurrence from NIR "
                       f"(NIR edges are instantaneous and do not state the one-step delay a discrete recurrent "
                       f"layer needs)", f"node {cycle[0]!r}")
    inputs = [k for k, v in nodes.items() if isinstance(v, nir.Input)]
    if len(inputs) != 1:
        raise NIRError(f"a chain has exactly one Input node; this graph has {len(inputs)}"
                       + (f" ({', '.join(map(repr, inputs))})" if inputs else ""))
    for k in nodes:
        if len(pred[k]) > 1:
            raise NIRError(f"has {len(pred[k])} incoming edges (from {', '.join(map(repr, pred[k]))}); "
                           f"verisnn imports chains only", f"node {k!r}")
        if len(succ[k]) > 1:
            raise NIRError(f"has {len(succ[k])} outgoing edges (to {', '.join(map(repr, succ[k]))}); "
                           f"verisnn imports chains only", f"node {k!r}")
    order = [inputs[0]]
    while succ[order[-1]]:
        order.append(succ[order[-1]][0])
    last = nodes[order[-1]]
    if not isinstance(last, nir.Output):
        raise NIRError(f"the chain from the Input node ends at a {type(last).__name__} node, not at an Output node",
                       f"node {order[-1]!r}")
    stray = [k for k in nodes if k not in set(order)]
    if stray:
        raise NIRError(f"node(s) {', '.join(map(repr, stray))} are not on the chain from {inputs[0]!r} to "
                       f"{order[-1]!r}; verisnn imports chains only")
    return order


def _find_cycle(succ: dict[str, list[str]]) -> list[str] | None:
    """A cycle of node names (first name repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in succ:
        if state.get(root):
            continue
        path, stack = [], [(root, iter(succ[root]))]
        state[root] = 1
        path.append(root)
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                path.pop()
                state[node] = 2
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append((nxt, iter(succ[nxt])))
    return None


def _shape(x: Any, where: str) -> tuple[int, ...]:
    try:
        arr = np.asarray(x)
        if arr.ndim == 0:
            arr = arr.reshape(1)
        shp = tuple(int(v) for v in arr.reshape(-1))
        if arr.dtype.kind not in "iuf" or not np.all(arr == np.asarray(shp)):
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise NIRError(f"shape {x!r} is not a list of integers", where) from None
    if not shp or any(v < 1 for v in shp):
        raise NIRError(f"shape {list(shp)} has a dimension below 1", where)
    if math.prod(shp) > MAX_VALUES:
        raise NIRError(f"shape {list(shp)} has more than {MAX_VALUES} values", where)
    return shp


def _array(node: Any, field: str, where: str, shape: tuple[int, ...] | None = None,
           ndim: int | None = None) -> np.ndarray:
    """A float64 parameter array of ``node``, finite, optionally of a given shape."""
    val = getattr(node, field, None)
    if val is None:
        raise NIRError(f"has no {field}", where)
    try:
        arr = np.asarray(val, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise NIRError(f"{field} is not a numeric array", where) from None
    if not np.all(np.isfinite(arr)):
        raise NIRError(f"{field} holds NaN or infinite values", where)
    if ndim is not None and arr.ndim != ndim:
        raise NIRError(f"{field} has {arr.ndim} dimensions (shape {list(arr.shape)}), expected {ndim}", where)
    if shape is not None and arr.shape != shape:
        raise NIRError(f"{field} has shape {list(arr.shape)}, expected {list(shape)}", where)
    return arr


# --------------------------------------------------------------------------- import


@dataclass
class _Synapse:
    """The synapse node of the layer being assembled, in NIR units."""

    name: str
    kind: str  # "dense" | "conv2d"
    weight: np.ndarray  # [n, in] | [oc, ic, kh, kw]
    bias: np.ndarray  # [n] | [oc]
    out_shape: tuple[int, ...]
    input_shape: tuple[int, int, int] | None = None
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)


class _Importer:
    """Turns a chain of NIR nodes into verisnn layers (one per synapse + neuron pair)."""

    def __init__(self, dt, scale, decay_shift, v_bits, rounding):
        self.dt, self.scale, self.decay_shift, self.v_bits, self.rounding = dt, scale, decay_shift, v_bits, rounding
        self.notes: list[str] = []
        self.max_err = 0.0  # largest |x·scale - round(x·scale)| over weights, biases, resets
        self.max_decay_err = 0.0  # largest |β - num/2^shift|
        self.meta_used: list[str] = []

    def _round(self, x: np.ndarray) -> np.ndarray:
        out = _rint(x)
        if x.size:
            self.max_err = max(self.max_err, float(np.max(np.abs(x - out))))
        return out

    # ---- synapses
    def dense(self, name: str, node: Any, size: int) -> _Synapse:
        where = f"node {name!r} ({type(node).__name__})"
        w = _array(node, "weight", where, ndim=2)
        if w.shape[1] != size:
            raise NIRError(f"weight has {w.shape[1]} inputs (shape {list(w.shape)}), the node before gives "
                           f"{size} values", where)
        if isinstance(node, nir.Affine):
            b = _array(node, "bias", where, shape=(w.shape[0],))
        else:
            b = np.zeros(w.shape[0])
        return _Synapse(name, "dense", w, b, (w.shape[0],))

    def conv(self, name: str, node: Any, shape: tuple[int, ...]) -> _Synapse:
        where = f"node {name!r} (Conv2d)"
        w = _array(node, "weight", where, ndim=4)
        oc, ic, kh, kw = w.shape
        b = _array(node, "bias", where)
        if b.shape != (oc,):
            raise NIRError(f"bias has shape {list(b.shape)}, expected one value per output channel [{oc}]", where)
        groups = _int_param(getattr(node, "groups", 1), 1, "groups", where)[0]
        if groups != 1:
            raise NIRError(f"groups={groups} is not supported (only groups=1)", where)
        size = math.prod(shape)
        if getattr(node, "input_shape", None) is not None:
            hw = _shape(node.input_shape, where)
            if len(hw) != 2:
                raise NIRError(f"input_shape {list(hw)} is not (height, width)", where)
        elif len(shape) == 3:
            hw = shape[1:]
        else:
            raise NIRError("has no input_shape and the node before is not [channels, height, width]", where)
        in_shape = (ic, hw[0], hw[1])
        if math.prod(in_shape) != size:
            raise NIRError(f"expects input [{ic}, {hw[0]}, {hw[1]}] ({math.prod(in_shape)} values), the node "
                           f"before gives {list(shape)} ({size} values)", where)
        if len(shape) == 3 and shape != in_shape:
            raise NIRError(f"expects input {list(in_shape)}, the node before gives {list(shape)}", where)
        stride = _int_param(getattr(node, "stride", 1), 2, "stride", where)
        dilation = _int_param(getattr(node, "dilation", 1), 2, "dilation", where)
        if min(stride) < 1 or min(dilation) < 1:
            raise NIRError("stride and dilation must be >= 1", where)
        if (kh - 1) * dilation[0] >= 4 * hw[0] or (kw - 1) * dilation[1] >= 4 * hw[1]:
            raise NIRError(f"dilation {list(dilation)} spreads the kernel far beyond the {hw[0]}x{hw[1]} input", where)
        if dilation != (1, 1):  # a dilated kernel is the same map as a larger kernel with zeros between taps
            big = np.zeros((oc, ic, (kh - 1) * dilation[0] + 1, (kw - 1) * dilation[1] + 1))
            big[:, :, ::dilation[0], ::dilation[1]] = w
            self.notes.append(f"node {name!r}: dilation {list(dilation)} expanded into a {big.shape[2]}x"
                              f"{big.shape[3]} kernel with zeros between the taps (same map)")
            w = big
            kh, kw = w.shape[2:]
        pad = getattr(node, "padding", 0)
        if isinstance(pad, bytes):
            pad = pad.decode()
        if isinstance(pad, str):
            if pad == "valid":
                padding = (0, 0)
            elif pad == "same" and stride == (1, 1) and (kh - 1) % 2 == 0 and (kw - 1) % 2 == 0:
                padding = ((kh - 1) // 2, (kw - 1) // 2)
            else:
                raise NIRError(f"padding {pad!r} with stride {list(stride)} and kernel {kh}x{kw} is not a "
                               f"symmetric zero padding", where)
        else:
            padding = _int_param(pad, 2, "padding", where)
            if min(padding) < 0:
                raise NIRError("padding must be >= 0", where)
        if max(padding) > max(in_shape[1:]) + max(kh, kw):
            raise NIRError(f"padding {list(padding)} is wider than input and kernel together", where)
        oh, ow = conv_output_hw(in_shape[1:], (kh, kw), stride, padding)
        if oh < 1 or ow < 1:
            raise NIRError(f"kernel {kh}x{kw} is larger than the padded input {list(in_shape)}", where)
        return _Synapse(name, "conv2d", w, b, (oc, oh, ow), in_shape, stride, padding)

    # ---- neurons
    def layer(self, name: str, node: Any, syn: _Synapse, shape: tuple[int, ...], delay: int, index: int):
        kind = type(node).__name__
        where = f"node {name!r} ({kind})"
        n = math.prod(syn.out_shape)
        if math.prod(shape) != n:  # shape: after any Flatten between synapse and neuron
            raise NIRError("internal: shape bookkeeping", where)

        def param(field: str) -> np.ndarray:
            arr = _array(node, field, where)
            if arr.size != n or (arr.ndim > 1 and arr.shape != shape):
                raise NIRError(f"{field} has shape {list(arr.shape)}, the synapse {syn.name!r} gives "
                               f"{list(shape)} ({n} neurons)", where)
            return arr.reshape(-1)

        def time_constant(field: str) -> np.ndarray:
            tau = param(field)
            if np.any(tau <= 0):
                raise NIRError(f"{field} must be > 0", where)
            if np.any(tau < self.dt):
                raise NIRError(f"{field} = {_fmt(float(tau.min()))} is below dt = {_fmt(self.dt)}: forward Euler "
                               f"needs dt <= {field} (decay 1 - dt/{field} would be negative); choose a smaller dt",
                               where)
            return tau

        meta = _meta(node, where)
        dt = self.dt
        threshold = fire_when = None
        v_reset = np.zeros(n)
        leak_input = np.zeros(n)  # constant per-step input from v_leak, NIR units
        i_decay = None
        if kind in ("LIF", "LI"):
            tau, r, v_leak = time_constant("tau"), param("r"), param("v_leak")
            gain, leak_input, beta = dt * r / tau, (dt / tau) * v_leak, 1.0 - dt / tau
            v_decay, model = self.decay(beta, meta, "v_decay_shift", n, where), kind.lower()
            self.notes.append(f"layers[{index}] ({where}): forward Euler at dt: v[t] = (1 - dt/tau)·v[t-1] + "
                              f"(dt/tau)·v_leak + (dt·r/tau)·I[t]; gain dt·r/tau folded into the weights and bias"
                              + (", (dt/tau)·v_leak into the bias" if np.any(v_leak) else ""))
        elif kind in ("IF", "I"):
            r = param("r")
            gain, model = dt * r, ("li" if kind == "I" else meta.get("model") if meta.get("model") in ("if", "lif")
                                   else "if")
            shifts, from_meta = _meta_shift(meta, "v_decay_shift", n, 0, where)
            v_decay = _pairs(1 << shifts, shifts)
            if from_meta:
                self.meta_used.append(f"{where}: model {model!r} and no-leak decay shift")
            self.notes.append(f"layers[{index}] ({where}): no leak; forward Euler at dt: v[t] = v[t-1] + dt·r·I[t]; "
                              f"gain dt·r folded into the weights and bias")
        elif kind == "CubaLIF":
            tau_syn, tau_mem = time_constant("tau_syn"), time_constant("tau_mem")
            r, v_leak, w_in = param("r"), param("v_leak"), param("w_in")
            if np.any(v_leak != 0):
                raise NIRError("v_leak != 0 is not supported for CubaLIF: verisnn's cuba_lif has no constant "
                               "membrane input (a bias enters through the current, which decays)", where)
            gain = (dt * r / tau_mem) * (dt / tau_syn) * w_in
            v_decay = self.decay(1.0 - dt / tau_mem, meta, "v_decay_shift", n, where)
            i_decay = self.decay(1.0 - dt / tau_syn, meta, "i_decay_shift", n, where)
            model = "cuba_lif"
            self.notes.append(
                f"layers[{index}] ({where}): forward Euler at dt with the current updated first (semi-implicit: "
                f"v[t] uses I[t], as verisnn's cuba_lif, Lava and snnTorch Synaptic do; a strictly explicit "
                f"scheme would feed I[t-1] and delay the input by one step): I[t] = (1 - dt/tau_syn)·I[t-1] + "
                f"(dt/tau_syn)·w_in·(W s + b); v[t] = (1 - dt/tau_mem)·v[t-1] + (dt·r/tau_mem)·I[t]; the current "
                f"is rescaled to i = (dt·r/tau_mem)·I, so the gain (dt·r/tau_mem)·(dt/tau_syn)·w_in is folded "
                f"into the weights and bias")
        else:  # pragma: no cover - the caller dispatches on NEURON_TYPES
            raise NIRError(f"unsupported neuron node {kind}", where)
        fires = kind not in ("LI", "I")
        if fires:
            x = param("v_threshold") * self.scale
            threshold, fire_when = _thresholds(x, where)
            vr = getattr(node, "v_reset", None)
            v_reset = param("v_reset") if vr is not None else np.zeros(n)
            v_reset = self._round(v_reset * self.scale)

        weight, bias = self.fold(syn, gain, leak_input, where)
        meta_bits = meta.get("v_bits")
        v_bits = self.v_bits
        if meta_bits is not None:
            if not isinstance(meta_bits, int) or isinstance(meta_bits, bool):
                raise NIRError("metadata v_bits is not an integer", where)
            v_bits = meta_bits
            if meta_bits != self.v_bits:
                self.meta_used.append(f"{where}: v_bits={meta_bits}")
        try:
            neuron = Neuron(
                size=n, model=model, threshold=_scalar_or_list(threshold) if fires else None,
                fire_when=fire_when if fires else ">", v_decay=v_decay, i_decay=i_decay, rounding=self.rounding,
                reset="to_value" if fires else "none", v_reset=_scalar_or_list(v_reset), refractory=0,
                v_bits=v_bits, on_overflow="saturate")
            if syn.kind == "dense":
                return Dense(weight=weight, bias=bias, neuron=neuron, delay=delay)
            return Conv2d(weight=weight, input_shape=syn.input_shape, stride=syn.stride, padding=syn.padding,
                          bias=bias, neuron=neuron, delay=delay)
        except ModelError as e:
            raise NIRError(f"the imported layer is not a valid verisnn layer: {e} (check scale and v_bits)",
                           where) from None

    def decay(self, beta: np.ndarray, meta: dict, key: str, n: int, where: str) -> tuple:
        shifts, from_meta = _meta_shift(meta, key, n, self.decay_shift, where)
        if from_meta:
            self.meta_used.append(f"{where}: {key}")
        exact = beta * np.exp2(shifts)
        nums = np.rint(exact).astype(np.int64)
        nums = np.clip(nums, 0, 1 << shifts)
        self.max_decay_err = max(self.max_decay_err, float(np.max(np.abs(exact - nums) / np.exp2(shifts))))
        return _pairs(nums, shifts)

    def fold(self, syn: _Synapse, gain: np.ndarray, leak_input: np.ndarray, where: str):
        """Integer weights and bias with the per-neuron gain (and leak input) folded in."""
        if syn.kind == "dense":
            return (self._round(self.scale * gain[:, None] * syn.weight),
                    self._round(self.scale * (gain * syn.bias + leak_input)))
        oc = syn.out_shape[0]
        per_channel = []
        for what, arr in (("input gain", gain), ("leak input (dt/tau)·v_leak", leak_input)):
            ch = arr.reshape(oc, -1)
            if not np.allclose(ch, ch[:, :1], rtol=1e-12, atol=0):
                raise NIRError(f"the {what} differs between neurons of one channel; a convolution shares its "
                               f"weights and bias per channel, so it cannot be folded in", where)
            per_channel.append(ch[:, 0])
        g, c = per_channel
        return (self._round(self.scale * g[:, None, None, None] * syn.weight),
                self._round(self.scale * (g * syn.bias + c)))


def _int_param(x: Any, n: int, what: str, where: str) -> tuple[int, ...]:
    try:
        arr = np.asarray(x).reshape(-1)
        if arr.dtype.kind not in "iu" and not (arr.dtype.kind == "f" and np.all(arr == np.round(arr))):
            raise ValueError
        vals = tuple(int(v) for v in arr)
    except (TypeError, ValueError, OverflowError):
        raise NIRError(f"{what} {x!r} is not an integer or a pair of integers", where) from None
    if len(vals) == 1:
        vals = vals * n
    if len(vals) != n:
        raise NIRError(f"{what} {list(vals)} needs {n} values", where)
    return vals


def _thresholds(x: np.ndarray, where: str) -> tuple[np.ndarray, str]:
    """Integer thresholds for NIR's ``v > v_threshold`` with ``x = v_threshold·scale``.

    The integer membrane ``u`` stands for ``v·scale``; for an integer ``u``,
    ``u > x  ⇔  u > ⌊x⌋``, so ``fire_when '>'`` with ``θ = ⌊x⌋`` compares exactly (no
    threshold rounding). When every ``x`` is a half-integer ``k + 0.5`` (how export_nir
    writes a ``'>='`` layer), ``u > k + 0.5 ⇔ u >= k + 1``: ``fire_when '>='``, ``θ = k + 1``.
    ``x`` within ``_TOL`` of an integer or half-integer counts as one (float noise of ``/scale·scale``).
    """
    tol = _TOL + 1e-14 * np.abs(x)
    near_int = np.abs(x - np.rint(x)) <= tol
    half = np.floor(x) + 0.5
    near_half = ~near_int & (np.abs(x - half) <= tol)
    if x.size and np.all(near_half):
        theta, fire_when = np.floor(x) + 1, ">="
    else:
        theta, fire_when = np.floor(np.where(near_int, np.rint(x), x)), ">"
    if np.any(theta < 0):
        raise NIRError(f"v_threshold·scale = {_fmt(float(x.min()))} gives a negative integer threshold; "
                       f"verisnn thresholds are >= 0", where)
    if np.any(theta >= 2.0**62):
        raise NIRError("v_threshold·scale exceeds 2^62: scale is far too large", where)
    return theta.astype(np.int64), fire_when


def import_nir(source: str | Path | nir.NIRGraph, *, dt: float, scale: float, time_steps: int,
               decay_shift: int = 12, v_bits: int = 24, rounding: str = "floor",
               name: str | None = None) -> NIRImport:
    """Import a chain-shaped NIR graph (or a NIR file) as a verisnn model.

    ``dt`` is the Euler time step (NIR has none), ``scale`` the fixed-point factor
    applied to weights, biases, thresholds and resets, ``time_steps`` the model's
    ``T``. Decays become ``[round(β·2^decay_shift), decay_shift]``. A graph written by
    :func:`export_nir` carries its decay shifts and ``v_bits`` in metadata; those win,
    so a round trip is exact (and ``conventions`` says so).
    """
    if isinstance(source, (str, Path)):
        graph, origin = read_nir(source), str(source)
    elif isinstance(source, nir.NIRGraph):
        graph, origin = source, None
    else:
        raise NIRError(f"expected a path or a nir.NIRGraph, got {type(source).__name__}")
    dt, scale = _positive(dt, "dt"), _positive(scale, "scale")
    if not isinstance(decay_shift, int) or isinstance(decay_shift, bool) or not 0 <= decay_shift <= MAX_DECAY_SHIFT:
        raise NIRError(f"must be an integer in [0, {MAX_DECAY_SHIFT}], got {decay_shift!r}", "decay_shift")
    if rounding not in ROUNDINGS:
        raise NIRError(f"must be one of {', '.join(map(repr, ROUNDINGS))}, got {rounding!r}", "rounding")
    if not isinstance(v_bits, int) or isinstance(v_bits, bool) or not 2 <= v_bits <= MAX_V_BITS:
        # checked even when the graph's metadata gives the widths: a bad argument is never silently ignored
        raise NIRError(f"must be an integer in [2, {MAX_V_BITS}], got {v_bits!r}", "v_bits")

    order = _chain(graph)
    gmeta = _meta(graph, "graph")
    imp = _Importer(dt, scale, decay_shift, v_bits, rounding)
    notes = imp.notes
    notes.append(f"NIR is continuous-time with no time step; discretised with forward Euler at dt = {dt:g} "
                 f"(1 verisnn step = dt)")
    first = graph.nodes[order[0]]
    in_shape = _shape(first.input_type.get("input") if isinstance(first.input_type, dict) else None,
                      f"node {order[0]!r} (Input)")
    shape = in_shape  # shape of the values flowing out of the node just read
    layers: list[Dense | Conv2d] = []
    syn: _Synapse | None = None  # synapse read, waiting for its neuron node
    delay, delay_node, last_neuron = 0, None, None
    for node_name in order[1:]:
        node = graph.nodes[node_name]
        kind = type(node).__name__
        where = f"node {node_name!r} ({kind})"
        if isinstance(node, nir.Output):
            if syn is not None:
                raise NIRError("is followed by the Output node; a synapse node needs a neuron node after it",
                               f"node {syn.name!r}")
            if delay_node is not None:
                raise NIRError("a Delay node must come right before a synapse node", f"node {delay_node!r}")
            out_t = node.output_type.get("output") if isinstance(node.output_type, dict) else None
            if out_t is not None and math.prod(_shape(out_t, where)) != math.prod(shape):
                raise NIRError(f"has shape {list(_shape(out_t, where))}, the node before gives {list(shape)}", where)
            break
        if layers and not layers[-1].neuron.fires:
            raise NIRError(f"follows the non-spiking node {last_neuron!r}; a leaky-integrator readout can only be "
                           f"the last layer", where)
        if kind == "Flatten":
            shape = _flatten(node, shape, where)
            notes.append(f"{where}: layout only; verisnn stores values flat in channel-major order, the order of "
                         f"numpy.reshape / torch.flatten")
        elif kind == "Delay":
            if syn is not None:
                raise NIRError(f"a Delay between synapse {syn.name!r} and its neuron node is not supported "
                               f"(it would also delay the bias); put it before the synapse node", where)
            k = _delay_steps(node, math.prod(shape), dt, where)
            delay, delay_node = delay + k, node_name
            notes.append(f"{where}: {k} step(s) of dt; becomes the next layer's integer delay (its input spikes "
                         f"arrive {k} step(s) later)")
        elif kind in SYNAPSE_TYPES:
            if syn is not None:
                raise NIRError(f"follows synapse node {syn.name!r} directly; each synapse node needs its own "
                               f"neuron node", where)
            syn = imp.conv(node_name, node, shape) if kind == "Conv2d" else imp.dense(node_name, node, math.prod(shape))
            shape, delay_node = syn.out_shape, None
            if kind == "Linear":
                notes.append(f"{where}: Linear, bias 0")
        elif kind in NEURON_TYPES:
            if syn is None:
                raise NIRError("has no synapse node (Affine, Linear or Conv2d) before it", where)
            try:
                layers.append(imp.layer(node_name, node, syn, shape, delay, len(layers)))
            except NIRError as e:
                raise NIRError(e.message, e.path or where) from None  # every problem of a node names it
            syn, delay, last_neuron = None, 0, node_name
        else:
            raise NIRError(f"is a {kind} node, which verisnn cannot import (supported: Input, Output, "
                           f"{', '.join(SYNAPSE_TYPES + NEURON_TYPES + LAYOUT_TYPES)})", where)
    if not layers:
        raise NIRError("the graph has no synapse + neuron pair, so no layer")

    spiking_out = layers[-1].neuron.fires
    readout = Readout("spike_count" if spiking_out else "membrane_final")
    if "readout" in gmeta:
        try:
            ro = gmeta["readout"]
            readout = Readout(type=ro["type"], ties=ro.get("ties", "invalid"))
        except (TypeError, KeyError, ModelError) as e:
            raise NIRError(f"metadata readout is not a valid readout: {e}", "graph") from None
        notes.append(f"readout {readout.type!r} (ties {readout.ties!r}) from the graph's verisnn metadata "
                     f"(NIR has no readout)")
    else:
        notes.append(f"readout {readout.type!r}: NIR has no readout; "
                     + ("spike counts of the spiking output layer" if spiking_out else
                        "the final membrane of the LI output layer"))
    spec = InputSpec(size=math.prod(in_shape), shape=in_shape if len(in_shape) > 1 else None)
    if isinstance(gmeta.get("input"), dict):
        mi = gmeta["input"]
        try:
            spec = InputSpec(size=spec.size, shape=mi.get("shape", spec.shape), encoding=mi.get("encoding"))
        except (ModelError, TypeError) as e:
            raise NIRError(f"metadata input does not fit the Input node: {e}", "graph") from None
    max_name = model_schema()["properties"]["name"]["maxLength"]
    if name is None:
        name = gmeta.get("name") if isinstance(gmeta.get("name"), str) else Path(origin).stem if origin else "nir_model"
        if len(name) > max_name:  # a name the model format refuses would make a model verisnn cannot load
            notes.append(f"the graph's name ({len(name):,} characters) shortened to the model format's {max_name}")
            name = name[:max_name]
    elif not isinstance(name, str) or len(name) > max_name:
        raise NIRError(f"must be a text of at most {max_name} characters, got {clip(repr(name), 80)}", "name")

    notes.append("spike test: NIR fires when v > v_threshold; with x = v_threshold·scale and an integer "
                 "membrane u, u > x ⇔ u > floor(x), so fire_when '>' with threshold floor(x) compares exactly "
                 "(a layer whose every x is a half-integer k + 0.5 becomes fire_when '>=' with threshold k + 1, "
                 "the same test)")
    notes.append("reset: NIR resets to v_reset (0 when absent) → reset 'to_value', v_reset = round(v_reset·scale); "
                 "no refractory period")
    notes.append(f"fixed point: weights, biases and v_reset multiplied by scale = {scale:g} and rounded to the "
                 f"nearest integer (ties to even); max rounding error {imp.max_err:.4g} integer units")
    notes.append(f"decays: β = 1 - dt/τ rounded to num/2^shift (shift {decay_shift} unless metadata says "
                 f"otherwise), rounding {rounding!r}; max |β - num/2^shift| = {imp.max_decay_err:.3g}")
    v_bits_note = f"membranes: {v_bits}-bit signed, on_overflow 'saturate'"
    notes.append(v_bits_note + " (NIR membranes are unbounded: the model matches NIR while no membrane leaves "
                 "that range; `no_overflow` can be verified)")
    if imp.meta_used:
        notes.append("taken from the graph's verisnn metadata (written by export_nir, for an exact round trip; "
                     "these override the decay_shift / v_bits arguments): " + "; ".join(imp.meta_used))
    for key, arg in (("dt", dt), ("scale", scale)):
        if key in gmeta and isinstance(gmeta[key], (int, float)) and not math.isclose(gmeta[key], arg):
            notes.append(f"the graph was exported with {key} = {gmeta[key]:g} but is imported with {key} = "
                         f"{arg:g}: the integers are rescaled accordingly")
    provenance = {"imported_from": "nir", "nir_version": getattr(nir, "__version__", "unknown"), "dt": dt,
                  "scale": scale, "max_rounding_error": imp.max_err, "conventions": list(notes)}
    if origin:
        provenance["source"] = origin
    try:
        model = Model(time_steps=time_steps, input=spec, layers=tuple(layers), readout=readout, name=name,
                      provenance=provenance)
    except ModelError as e:
        raise NIRError(f"the imported model is not valid: {e}") from None
    return NIRImport(model=model, conventions=tuple(notes))


def _flatten(node: Any, shape: tuple[int, ...], where: str) -> tuple[int, ...]:
    """The shape after a Flatten node; checks that it only regroups dimensions."""
    t = node.input_type.get("input") if isinstance(getattr(node, "input_type", None), dict) else None
    if t is not None:
        declared = _shape(t, where)
        if math.prod(declared) != math.prod(shape):
            raise NIRError(f"input_type {list(declared)} has {math.prod(declared)} values, the node before gives "
                           f"{list(shape)} ({math.prod(shape)})", where)
        if len(declared) == len(shape) and declared != shape:
            raise NIRError(f"input_type {list(declared)} does not match the node before, {list(shape)}", where)
        shape = declared if len(declared) > len(shape) else shape
    try:
        start, end = int(node.start_dim), int(node.end_dim)
    except (TypeError, ValueError, OverflowError, AttributeError):
        raise NIRError("start_dim / end_dim are not integers", where) from None
    nd = len(shape)
    s, e = start % nd if -nd <= start < nd else None, end % nd if -nd <= end < nd else None
    if s is None or e is None or s > e:
        raise NIRError(f"start_dim {start}, end_dim {end} do not fit a {nd}-dimensional input {list(shape)}", where)
    return shape[:s] + (math.prod(shape[s:e + 1]),) + shape[e + 1:]


def _delay_steps(node: Any, size: int, dt: float, where: str) -> int:
    """A NIR Delay as a whole number of steps of ``dt`` (the same for every channel)."""
    d = _array(node, "delay", where).reshape(-1)
    if d.size not in (1, size):
        raise NIRError(f"delay has {d.size} values, the node before gives {size}", where)
    steps = d / dt
    k = int(np.rint(steps[0]))
    if k < 0 or not np.all(np.abs(steps - k) <= 1e-9 * max(1, k)):
        raise NIRError(f"delay {d[:4].tolist()} is not the same whole number of steps of dt = {dt:g} for every "
                       f"channel; verisnn delays a layer's input by whole steps", where)
    if k > 1024:
        raise NIRError(f"delay of {k} steps exceeds verisnn's limit of 1024", where)
    return k


# --------------------------------------------------------------------------- export


def export_nir(model: Model, *, dt: float, scale: float, allow_lossy: bool = False) -> NIRExport:
    """Export ``model`` as a NIR graph (floats: weights, biases, thresholds and resets
    divided by ``scale``; decays β become ``τ = dt/(1 - β)`` with ``R = τ/dt``).

    What NIR cannot state is refused with a :class:`NIRError` listing every problem,
    or with ``allow_lossy=True`` dropped and recorded as ``LOSSY: ...``. The graph is
    checked by re-importing it with the same ``dt`` and ``scale``.
    """
    if not isinstance(model, Model):
        raise NIRError(f"expected a verisnn Model, got {type(model).__name__}")
    dt, scale = _positive(dt, "dt"), _positive(scale, "scale")
    notes = [f"verisnn steps are dt = {dt:g} of NIR time (NIR has no time step; dt and scale are in the graph "
             f"metadata)",
             f"weights, biases, thresholds and v_reset divided by scale = {scale:g}",
             "decays β = num/2^shift become τ = dt/(1 - β) with r = τ/dt, so the Euler input gain dt·r/τ is 1 "
             "(CubaLIF: τ_syn = dt/(1 - α), w_in = τ_syn/dt); v_leak = 0 (the bias carries constant input)",
             "the decay shifts, v_bits and readout are kept in verisnn metadata for an exact re-import"]
    problems, lossy = [], []

    def refuse(where: str, what: str, lossy_action: str) -> None:
        problems.append(f"{where}: {what}")
        lossy.append(f"LOSSY: {where}: {what}; {lossy_action}")

    nodes: dict[str, nir.NIRNode] = {}
    edges: list[tuple[str, str]] = []
    in_shape = tuple(model.input.shape) if model.input.shape else (model.input.size,)
    first = model.layers[0]
    if isinstance(first, Conv2d) and in_shape != first.input_shape:
        notes.append(f"input shape {list(in_shape)} written as the first convolution's {list(first.input_shape)} "
                     f"(same values, channel-major)")
        in_shape = first.input_shape
    nodes["input"] = nir.Input(input_type=np.array(in_shape))
    prev, shape = "input", in_shape

    def add(name: str, node: nir.NIRNode) -> None:
        nonlocal prev
        nodes[name] = node
        edges.append((prev, name))
        prev = name

    for k, layer in enumerate(model.layers):
        n, where = layer.neuron, f"layers[{k}]"
        nn = n.size
        # ---- what NIR cannot state
        if layer.recurrent is not None:
            refuse(where, "recurrent weights (NIR edges are instantaneous; the one-step delay of R·s[t-1] "
                          "cannot be stated)", "recurrent weights dropped")
        if n.fires and n.max_refractory > 0:
            refuse(where, f"refractory period {n.refractory} (NIR neurons have none)", "refractory period dropped")
        if n.fires and n.reset != "to_value":
            refuse(where, f"reset {n.reset!r} (NIR's LIF/IF/CubaLIF reset to v_reset)",
                   "exported as reset to v_reset = 0")
        if n.on_overflow == "wrap":
            refuse(where, f"on_overflow 'wrap' on {n.v_bits} bits (NIR membranes are unbounded floats)",
                   "wrap-around dropped")
        v_nums, v_shifts = _decay_arrays(n.v_decay, nn)
        decays = [(v_nums, v_shifts)]
        if n.i_decay is not None:
            decays.append(_decay_arrays(n.i_decay, nn))
        trivial = all(np.all((nu == 0) | (nu == (1 << sh))) for nu, sh in decays)
        if n.rounding == "toward_zero" and not trivial:
            refuse(where, "decay rounding 'toward_zero' (NIR is real-valued; forward-Euler import rounds "
                          "floor)", "rounding becomes 'floor'")
        # ---- delay, layout, synapse
        if layer.delay:
            add(f"delay{k}", nir.Delay(delay=np.full(shape, layer.delay * dt)))
            notes.append(f"{where}: delay of {layer.delay} step(s) exported as a NIR Delay node of "
                         f"{_fmt(layer.delay * dt)} before the synapse")
        if isinstance(layer, Dense):
            if len(shape) > 1:
                add(f"flatten{k}", nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0, end_dim=-1))
                notes.append(f"{where}: Flatten (start_dim 0) before the dense synapse: layout only, channel-major")
                shape = (math.prod(shape),)
            w = layer.weight / scale
            b = layer.bias / scale
            if np.any(layer.bias):
                add(f"affine{k}", nir.Affine(weight=w, bias=b))
            else:
                add(f"linear{k}", nir.Linear(weight=w))
            out_shape = (layer.out_size,)
        else:
            if shape != layer.input_shape:
                raise NIRError(f"a convolution over {list(layer.input_shape)} after a layer of shape {list(shape)}: "
                               f"NIR has no reshape node to state that", where)
            conv = nir.Conv2d(input_shape=tuple(layer.input_shape[1:]), weight=layer.weight / scale,
                              stride=tuple(layer.stride), padding=tuple(layer.padding), dilation=(1, 1), groups=1,
                              bias=layer.bias / scale)
            out_shape = layer.output_shape
            if layer.weight.shape[2] != layer.weight.shape[3]:
                # nir 1.0.8 computes a Conv2d's output shape from the kernel height alone; state the true one
                conv.output_type = {"output": np.array(out_shape)}
                notes.append(f"{where}: non-square {layer.weight.shape[2]}x{layer.weight.shape[3]} kernel: nir "
                             f"1.0.8 infers Conv2d output shapes from the kernel height only, so readers that "
                             f"type-check (nir.read's default) reject this graph; verisnn's reader does not")
            add(f"conv{k}", conv)
        # ---- neuron
        node, kind, meta = _neuron_node(layer, dt, scale, out_shape, where, refuse, notes)
        nodes_name = f"{kind.lower()}{k}"
        node.metadata = {META_KEY: json.dumps(meta, sort_keys=True)}
        add(nodes_name, node)
        shape = out_shape
    add("output", nir.Output(output_type=np.array(shape)))

    if problems and not allow_lossy:
        raise NIRError("NIR cannot express: " + "; ".join(problems)
                       + " (export_nir(..., allow_lossy=True) drops these and records them as LOSSY)")
    notes.extend(lossy)
    notes.append("spike test: a '>' layer is written as v_threshold = θ/scale (NIR's own test); a '>=' layer "
                 "as v_threshold = (θ - 0.5)/scale, since for integer u, u >= θ ⇔ u > θ - 0.5: the half-way value "
                 "cannot be flipped by float rounding, and the importer recognises it and restores '>=' θ "
                 "(θ - 1 would come back as '>' θ - 1, and is negative for θ = 0)")
    notes.append(f"readout {model.readout.type!r} (ties {model.readout.ties!r}) is not part of NIR: kept in "
                 f"the graph metadata only")
    if any(layer.neuron.on_overflow == "saturate" for layer in model.layers):
        notes.append("on_overflow 'saturate' on v_bits: NIR membranes are unbounded, so the graph matches the "
                     "model while no membrane leaves the v_bits range (`no_overflow` can be verified)")
    gmeta = {
        "source": "verisnn", "semantics": "verisnn semantics v1 (integer, discrete time)",
        "dt": dt, "scale": scale, "time_steps": model.time_steps,
        META_KEY: json.dumps({
            "name": model.name, "time_steps": model.time_steps, "dt": dt, "scale": scale,
            "input": {"shape": list(model.input.shape) if model.input.shape else None,
                      "encoding": model.input.encoding},
            "readout": {"type": model.readout.type, "ties": model.readout.ties},
            "conventions": notes,
        }, sort_keys=True, default=str),
    }
    try:
        graph = nir.NIRGraph(nodes=nodes, edges=edges, metadata=gmeta, type_check=True)
    except Exception as e:  # our own construction failed nir's type check: a bug, say so plainly
        raise NIRError(f"internal: the exported graph fails nir's type check: {e}") from None
    _check_round_trip(model, graph, dt, scale)
    return NIRExport(graph=graph, conventions=tuple(notes))


def _neuron_node(layer, dt: float, scale: float, out_shape: tuple[int, ...], where: str, refuse, notes):
    """The NIR neuron node of one layer (LIF, IF, CubaLIF, LI or I), its type and its metadata."""
    n = layer.neuron
    nn = n.size
    full = lambda x: np.asarray(x, dtype=np.float64).reshape(out_shape)  # noqa: E731
    v_nums, v_shifts = _decay_arrays(n.v_decay, nn)
    meta: dict[str, Any] = {"model": n.model, "v_bits": n.v_bits,
                            "v_decay_shift": _scalar_or_list(v_shifts)}

    def taus(nums, shifts, what):
        """τ/dt = 1/(1 - β) per neuron; a neuron without leak (β = 1) has no finite τ."""
        beta = nums / np.exp2(shifts)
        no_leak = nums == (1 << shifts)
        if np.any(no_leak):
            refuse(where, f"{what}: neurons without leak (β = 1) next to leaky ones or in a {n.model} layer "
                          f"(NIR needs a finite time constant)",
                   "those neurons get τ = dt·2^(shift+2), which re-imports to β = 1 but leaks by 2^-(shift+2) "
                   "per step in a float simulator")
        return np.where(no_leak, np.exp2(shifts + 2), 1.0 / np.where(no_leak, 1.0, 1.0 - beta))

    if n.fires:
        th = _per_neuron(n.threshold, nn).astype(np.float64)
        th = th - 0.5 if n.fire_when == ">=" else th
        v_th = full(th / scale)
        v_reset = full(_per_neuron(n.v_reset, nn) / scale if n.reset == "to_value" else np.zeros(nn))
        meta["fire_when"] = n.fire_when
    no_leak = bool(np.all(v_nums == (1 << v_shifts)))
    if n.model == "cuba_lif":
        i_nums, i_shifts = _decay_arrays(n.i_decay, nn)
        meta["i_decay_shift"] = _scalar_or_list(i_shifts)
        tau_mem, tau_syn = taus(v_nums, v_shifts, "v_decay") * dt, taus(i_nums, i_shifts, "i_decay") * dt
        node = nir.CubaLIF(tau_syn=full(tau_syn), tau_mem=full(tau_mem), r=full(tau_mem / dt),
                           v_leak=full(np.zeros(nn)), v_threshold=v_th, v_reset=v_reset, w_in=full(tau_syn / dt))
        return node, "CubaLIF", meta
    if no_leak:
        if n.fires:
            notes.append(f"{where}: {n.model} without leak exported as IF (r = 1/dt)")
            return nir.IF(r=full(np.full(nn, 1.0 / dt)), v_threshold=v_th, v_reset=v_reset), "IF", meta
        notes.append(f"{where}: li without leak exported as an integrator I (r = 1/dt)")
        return nir.I(r=full(np.full(nn, 1.0 / dt))), "I", meta
    tau = taus(v_nums, v_shifts, "v_decay") * dt
    if n.fires:
        return nir.LIF(tau=full(tau), r=full(tau / dt), v_leak=full(np.zeros(nn)), v_threshold=v_th,
                       v_reset=v_reset), "LIF", meta
    return nir.LI(tau=full(tau), r=full(tau / dt), v_leak=full(np.zeros(nn))), "LI", meta


def _check_round_trip(model: Model, graph: nir.NIRGraph, dt: float, scale: float) -> None:
    """Re-import the exported graph; its integers must equal the model's (the export's proof of exactness)."""
    try:
        back = import_nir(graph, dt=dt, scale=scale, time_steps=model.time_steps).model
    except NIRError as e:
        raise NIRError(f"internal: the exported graph does not re-import: {e}") from None
    diffs = []
    for k, (a, b) in enumerate(zip(model.layers, back.layers)):
        na, nb = a.neuron, b.neuron
        checks = [("weight", a.weight, b.weight), ("bias", a.bias, b.bias), ("delay", a.delay, b.delay),
                  ("v_decay", _decay_arrays(na.v_decay, na.size), _decay_arrays(nb.v_decay, nb.size))]
        if na.i_decay is not None:
            checks.append(("i_decay", _decay_arrays(na.i_decay, na.size), _decay_arrays(nb.i_decay, nb.size)))
        if na.fires:
            checks += [("threshold", _per_neuron(na.threshold, na.size), _per_neuron(nb.threshold, nb.size)),
                       ("fire_when", na.fire_when, nb.fire_when)]
            if na.reset == "to_value":
                checks.append(("v_reset", _per_neuron(na.v_reset, na.size), _per_neuron(nb.v_reset, nb.size)))
        for what, x, y in checks:
            if not np.array_equal(np.asarray(x), np.asarray(y)):
                diffs.append(f"layers[{k}].{what}")
    if diffs:
        raise NIRError(f"cannot export exactly at dt = {dt:g}, scale = {scale:g}: re-importing the graph changes "
                       f"{', '.join(diffs)} (float64 cannot carry these integers through /scale·scale; "
                       f"try a power-of-two scale or smaller values)")
