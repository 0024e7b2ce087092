"""Shared test helpers: hypothesis strategies for random small models and rasters.

``models()`` draws a random, valid :class:`verisnn.Model` that exercises every option
of semantics v1: stacks of ``dense`` and ``conv2d`` layers, every neuron model, scalar
and per-neuron parameters, delays (also longer than the run), recurrence, small
``v_bits`` with both overflow policies, and every readout. ``rasters(model)`` draws
input spikes for it. Other test files import them::

    from conftest import models, rasters
"""

from __future__ import annotations

import json
import math
import os

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from verisnn.model import Conv2d, Dense, InputSpec, Model, Neuron, Readout, conv_output_hw

# Random models are slow to draw on a loaded 2-core machine: no timing health checks.
# In CI the examples are derandomized (the same every run), so a red CI is a real
# regression; locally each run explores new examples.
settings.register_profile("local", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", parent=settings.get_profile("local"), derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "local")

MAX_NEURONS = 12  # keeps every drawn layer small, so examples run in milliseconds


@st.composite
def per_neuron(draw, values: st.SearchStrategy, size: int):
    """A scalar, or (half the time) one value per neuron."""
    if draw(st.booleans()):
        return draw(values)
    return draw(st.lists(values, min_size=size, max_size=size))


@st.composite
def decays(draw, size: int, leaky: bool, strict: bool = False):
    """``(num, shift)`` or a per-neuron list of them; ``leaky=False`` gives only no-leak pairs
    (``num == 2**shift``, what an ``if`` neuron allows); ``strict`` only pairs that leak
    (``num < 2**shift``: a current that keeps a finite range for ever)."""
    def pair():
        if not leaky:
            return st.integers(0, 3).map(lambda s: (1 << s, s))
        return st.integers(0, 5).flatmap(lambda s: st.tuples(st.integers(0, (1 << s) - strict), st.just(s)))
    if draw(st.booleans()):
        return draw(pair())
    return draw(st.lists(pair(), min_size=size, max_size=size))


@st.composite
def neurons(draw, size: int, allow_li: bool, bits: st.SearchStrategy = st.sampled_from((3, 4, 5, 6, 8, 12, 24)),
            most: int = 12, reset_span: int = 4, current_leaks: bool = False):
    """A random neuron of ``size`` neurons; ``li`` only where allowed (the last layer).
    ``bits``: the ``v_bits`` drawn; thresholds up to ``most``, ``v_reset`` within
    ``±reset_span`` (both within the range); ``current_leaks``: a ``cuba_lif`` current
    always decays (so the state space stays finite)."""
    model = draw(st.sampled_from(("if", "lif", "cuba_lif", "li") if allow_li else ("if", "lif", "cuba_lif")))
    bits = draw(bits)
    hi = (1 << (bits - 1)) - 1
    small = min(hi, most)
    return Neuron(
        size=size,
        model=model,
        threshold=None if model == "li" else draw(per_neuron(st.integers(0, small), size)),
        fire_when=draw(st.sampled_from((">=", ">"))),
        v_decay=draw(decays(size, leaky=model != "if")),
        i_decay=draw(decays(size, leaky=True, strict=current_leaks)) if model == "cuba_lif" else None,
        rounding=draw(st.sampled_from(("floor", "toward_zero"))),
        reset=draw(st.sampled_from(("subtract", "to_value", "none"))),
        v_reset=draw(per_neuron(st.integers(-min(hi + 1, reset_span), min(hi, reset_span)), size)),
        refractory=draw(per_neuron(st.integers(0, 2), size)),
        v_bits=bits,
        on_overflow=draw(st.sampled_from(("saturate", "wrap"))),
    )


def int_arrays(shape, lo: int, hi: int):
    return hnp.arrays(np.int64, shape, elements=st.integers(lo, hi))


@st.composite
def models(draw, max_layers: int = 3, max_time_steps: int = 6) -> Model:
    """A random valid model (see the module docstring)."""
    T = draw(st.integers(1, max_time_steps))
    if draw(st.booleans()):  # an image input, so conv2d layers can follow
        shape = (draw(st.integers(1, 2)), draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    else:
        shape = (draw(st.integers(1, 6)),)
    inp = InputSpec(size=math.prod(shape), shape=shape)
    n_layers = draw(st.integers(1, max_layers))
    w_lo, w_hi = -draw(st.sampled_from((2, 5, 20))), draw(st.sampled_from((3, 6, 20)))
    layers = []
    for k in range(n_layers):
        last = k == n_layers - 1
        size_in = math.prod(shape)
        conv = len(shape) == 3 and draw(st.booleans())
        delay = draw(st.sampled_from((0, 0, 1, 2, T)))  # T: nothing is ever delivered
        if conv:
            ic, h, w = shape
            kh, kw = draw(st.integers(1, min(3, h + 2))), draw(st.integers(1, min(3, w + 2)))
            stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
            pad = (draw(st.integers(0, min(1, kh - 1))), draw(st.integers(0, min(1, kw - 1))))
            oh, ow = conv_output_hw((h, w), (kh, kw), stride, pad)
            if oh < 1 or ow < 1:
                pad = (kh - 1, kw - 1)
                oh, ow = conv_output_hw((h, w), (kh, kw), stride, pad)
            oc = draw(st.integers(1, max(1, MAX_NEURONS // (oh * ow))))
            out_shape = (oc, oh, ow)
            size_out = oc * oh * ow
        else:
            size_out = draw(st.integers(1, 5))
            out_shape = (size_out,)
        neuron = draw(neurons(size_out, allow_li=last))
        rec = draw(st.none() | int_arrays((size_out, size_out), w_lo, w_hi)) if neuron.fires else None
        common = dict(neuron=neuron, delay=delay, recurrent=rec)
        if conv:
            layers.append(Conv2d(weight=draw(int_arrays((oc, ic, kh, kw), w_lo, w_hi)), input_shape=shape,
                                 stride=stride, padding=pad, bias=draw(int_arrays((oc,), -3, 3)), **common))
        else:
            layers.append(Dense(weight=draw(int_arrays((size_out, size_in), w_lo, w_hi)),
                                bias=draw(int_arrays((size_out,), -3, 3)), **common))
        shape = out_shape
    readouts = ("membrane_final", "membrane_max") if not layers[-1].neuron.fires else ("spike_count", "first_spike")
    readout = Readout(type=draw(st.sampled_from(readouts)), ties=draw(st.sampled_from(("invalid", "lowest_index"))))
    return Model(time_steps=T, input=inp, layers=tuple(layers), readout=readout, name="random")


@st.composite
def lively_models(draw, max_bits: int | None = None, drawn_readout: bool = True) -> Model:
    """Small two-layer models whose weights reach the thresholds, so that the bounds leave
    spikes undecided and a solver has work: delays, recurrence and every neuron option from
    ``neurons``. ``max_bits`` bounds ``T * n`` (regions small enough to enumerate);
    ``drawn_readout``: the readout kind and tie rule are drawn, else the plain count (or
    final membrane for an LI output layer)."""
    T = draw(st.integers(2, 4))
    n = draw(st.integers(1, max(1, max_bits // T))) if max_bits else draw(st.integers(2, 3))
    sizes = [draw(st.integers(1, 3)), draw(st.integers(1 if max_bits else 2, 3))]
    layers, size_in = [], n
    for k, size in enumerate(sizes):
        neuron = draw(neurons(size, allow_li=k == 1))
        w = draw(hnp.arrays(np.int64, (size, size_in), elements=st.integers(-4, 9)))
        rec = draw(st.none() | hnp.arrays(np.int64, (size, size), elements=st.integers(-4, 6))) \
            if neuron.fires else None
        layers.append(Dense(weight=w, bias=draw(hnp.arrays(np.int64, (size,), elements=st.integers(-2, 2))),
                            neuron=neuron, delay=draw(st.sampled_from((0, 0, 1))), recurrent=rec))
        size_in = size
    fires = layers[-1].neuron.fires
    if drawn_readout:
        kinds = ("spike_count", "first_spike") if fires else ("membrane_final", "membrane_max")
        readout = Readout(draw(st.sampled_from(kinds)), ties=draw(st.sampled_from(("invalid", "lowest_index"))))
    else:
        readout = Readout("spike_count" if fires else "membrane_final")
    return Model(time_steps=T, input=InputSpec(n), layers=tuple(layers), readout=readout)


def rasters(model: Model, batch: int | None = None) -> st.SearchStrategy:
    """0/1 input spikes for ``model``: ``[T, n]``, or ``[batch, T, n]`` when ``batch`` is given."""
    shape = (model.time_steps, model.input.size) if batch is None else (batch, model.time_steps, model.input.size)
    return hnp.arrays(np.int8, shape, elements=st.integers(0, 1))


def region_members(region, centre: np.ndarray) -> np.ndarray:
    """Every raster of a flips / deletions / insertions / any region, ``[B, T, n]``, from the
    region's definition (docs/properties.md), independently of the engine's enumerators."""
    import itertools

    from verisnn.properties import AnyInput, Deletions, Insertions

    flat = centre.reshape(-1)
    if isinstance(region, Deletions):
        pos = np.flatnonzero(flat == 1)
    elif isinstance(region, Insertions):
        pos = np.flatnonzero(flat == 0)
    else:
        pos = np.arange(flat.size)
    k = len(pos) if isinstance(region, AnyInput) else region.k
    out = []
    for j in range(min(k, len(pos)) + 1):
        for combo in itertools.combinations(pos, j):
            r = flat.copy()
            r[list(combo)] ^= 1
            out.append(r.reshape(centre.shape))
    return np.stack(out).astype(np.int8)


def reference_decision(model, centre) -> int | None:
    """The centre's decision on the reference simulator (None: no decision)."""
    from verisnn import simulate

    ref = int(simulate(model, centre).prediction[0])
    return None if ref < 0 else ref


def rules_json_decisions(doc_text: str, rasters: list, hidden: list | None = None) -> list:
    """Decisions of a rules document on rasters (lists [T][n] of 0/1), from docs/rules.md
    alone. ``hidden[b][layer]`` gives the [T][size] spikes of each layer for raster b."""
    doc = json.loads(doc_text)
    T = doc["time_steps"]
    out = []
    for b, r in enumerate(rasters):
        def value(f):
            if f["kind"] == "count":
                return sum(r[t][f["channel"]] for t in range(f["from"], f["to"]))
            if f["kind"] == "first_spike":
                return next((t for t in range(T) if r[t][f["channel"]] == 1), T)
            spikes = hidden[b][f["layer"]]
            return sum(spikes[t][f["neuron"]] for t in range(f["from"], f["to"]))
        values = {name: value(f) for name, f in doc["features"].items()}
        ops = {"<": lambda a, c: a < c, "<=": lambda a, c: a <= c, ">": lambda a, c: a > c,
               ">=": lambda a, c: a >= c, "==": lambda a, c: a == c}
        decision = doc["default"]
        for rule in doc["rules"]:
            if all(ops[op](values[name], c) for name, op, c in rule["if"]):
                decision = rule["then"]
                break
        out.append(-1 if decision is None else decision)
    return out
