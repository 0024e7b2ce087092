"""Signal-space figures: rasters, PSTH, membrane traces, counterexamples, saliency, faithfulness.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot (no
display, no global figure registry, so nothing to close), and :func:`figure_bytes`
renders one as SVG or PNG bytes for inlining in a report. Colours are the Okabe-Ito
palette (distinguishable under the common colour-vision deficiencies), and lines also
differ in marker and dash so that nothing depends on colour alone; heat maps use
``cividis`` (sequential) or ``RdBu_r`` (diverging, centred on 0).

Membrane traces interpret the one semantics (:mod:`verisnn.semantics`) with a
recording subclass of the reference simulator's operations; nothing here writes the
update again.
"""

from __future__ import annotations

import io
import math
from typing import Any, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from . import semantics
from .errors import InputError
from .model import Model
from .simulator import NumpyOps, check_raster, layer_params, simulate

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
DASHES = ("-", "--", "-.", ":")
SPIKE_COLOUR = "#000000"
REMOVED_COLOUR = "#D55E00"  # vermillion
ADDED_COLOUR = "#0072B2"  # blue
SEQUENTIAL = "cividis"
DIVERGING = "RdBu_r"


def _style(k: int) -> dict[str, Any]:
    """Colour, marker and dash of the ``k``-th line: unique up to 8 x 4 lines."""
    return {"color": OKABE_ITO[k % len(OKABE_ITO)], "marker": MARKERS[k % len(MARKERS)],
            "linestyle": DASHES[(k // len(OKABE_ITO)) % len(DASHES)]}


def figure_bytes(fig: Figure, fmt: str = "svg") -> bytes:
    """``fig`` rendered as ``svg`` (text as paths: no fonts needed) or ``png`` bytes, with no
    creation date in the file (the same figure gives the same bytes)."""
    if fmt not in ("svg", "png"):
        raise InputError(f"format must be 'svg' or 'png', got {fmt!r}", "fmt")
    buf = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    fig.savefig(buf, format=fmt, bbox_inches="tight", metadata=metadata, dpi=100)
    return buf.getvalue()


def _new_figure(width: float, height: float) -> Figure:
    """A figure on the Agg canvas, outside pyplot: no display, and the global backend is
    left as the caller set it."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _panel_height(n: int) -> float:
    """Inches for a panel of ``n`` rows: readable for a few channels, bounded for many."""
    return min(6.0, max(1.0, 0.06 * n))


def _as_raster(raster: Any, name: str = "raster") -> np.ndarray:
    arr = np.asarray(raster)
    if arr.ndim != 2:
        raise InputError(f"expected a [T, n] array, got shape {list(arr.shape)}", name)
    return arr


def _draw_spikes(ax, spikes: np.ndarray, colour: str = SPIKE_COLOUR, label: str | None = None,
                 marker: str = "|", size: float | None = None) -> None:
    t, i = np.nonzero(spikes)
    T, n = spikes.shape
    ax.scatter(t, i, marker=marker, c=colour, s=size or max(8.0, 600.0 / max(n, 1)), linewidths=1.2,
               label=label)
    ax.set_xlim(-0.5, T - 0.5)
    ax.set_ylim(n - 0.5, -0.5)  # channel 0 on top, as in the heat maps
    ax.set_xlabel("time step")
    ax.set_ylabel("channel / neuron")


def raster_plot(raster: Any, title: str = "Input spikes") -> Figure:
    """A spike raster ``[T, n]``: a tick at (step, channel) for every spike."""
    x = _as_raster(raster)
    fig = _new_figure(6, 1.0 + _panel_height(x.shape[1]))
    ax = fig.add_subplot()
    _draw_spikes(ax, x)
    ax.set_title(f"{title} ({int(x.sum())} spikes)")
    return fig


def layer_rasters(model: Model, raster: Any, title: str | None = None) -> Figure:
    """One run: the input raster and every layer's spikes (an ``li`` layer, which never
    fires, as a heat map of its membrane), one panel each, time on the shared x axis."""
    x, _ = check_raster(model, _as_raster(raster))
    res = simulate(model, x)
    panels = [("input", x[0], True)] + [
        (f"layer {k} ({layer.neuron.model}, {layer.out_size} neurons)", out[0], layer.neuron.fires)
        for k, (layer, out) in enumerate(zip(model.layers, res.layer_outputs))]
    heights = [_panel_height(p[1].shape[1]) for p in panels]
    fig = _new_figure(6, 0.8 + sum(heights) + 0.5 * len(panels))
    axes = fig.subplots(len(panels), 1, sharex=True, height_ratios=heights, squeeze=False)[:, 0]
    for ax, (name, data, spikes) in zip(axes, panels):
        if spikes:
            _draw_spikes(ax, data)
            ax.set_title(f"{name}: {int(data.sum())} spikes", fontsize=9)
        else:
            im = ax.imshow(data.T, aspect="auto", cmap=SEQUENTIAL, interpolation="nearest")
            fig.colorbar(im, ax=ax, label="membrane")
            ax.set_ylabel("neuron")
            ax.set_title(f"{name}: membrane", fontsize=9)
        ax.set_xlabel("")
    axes[-1].set_xlabel("time step")
    pred = int(res.prediction[0])
    fig.suptitle(title or f"{model.name}: decision {'none' if pred < 0 else pred}")
    return fig


def psth(model: Model, rasters: Any, by: str = "layer", bin_size: int = 1, title: str | None = None) -> Figure:
    """Peri-stimulus time histogram over a batch ``[B, T, n]``: mean spikes per neuron per step
    in bins of ``bin_size`` steps, one line per layer (``by="layer"``, the input included) or
    per output neuron, i.e. per class (``by="class"``)."""
    x, _ = check_raster(model, rasters)
    if by not in ("layer", "class"):
        raise InputError(f"by must be 'layer' or 'class', got {by!r}", "by")
    if isinstance(bin_size, bool) or not isinstance(bin_size, (int, np.integer)) or bin_size < 1:
        raise InputError(f"bin_size must be a positive integer, got {bin_size!r}", "bin_size")
    res = simulate(model, x)
    T = model.time_steps
    edges = np.arange(0, T + bin_size, bin_size)[: math.ceil(T / bin_size) + 1]
    edges[-1] = T

    def binned(spikes: np.ndarray) -> np.ndarray:  # [B, T, k] -> [bins, k] spikes / step / input
        per_step = spikes.astype(np.float64).mean(axis=0)
        return np.stack([per_step[a:b].mean(axis=0) for a, b in zip(edges[:-1], edges[1:])])

    if by == "layer":
        series = [("input", binned(x).mean(axis=1))] + [
            (f"layer {k}", binned(out).mean(axis=1))
            for k, (layer, out) in enumerate(zip(model.layers, res.layer_outputs)) if layer.neuron.fires]
    else:
        if not model.layers[-1].neuron.fires:
            raise InputError("the output layer is 'li' and never fires: no per-class PSTH", "by")
        per_class = binned(res.layer_outputs[-1])
        series = [(f"class {c}", per_class[:, c]) for c in range(per_class.shape[1])]
    centres = (edges[:-1] + edges[1:] - 1) / 2.0
    fig = _new_figure(6.5, 3.6)
    ax = fig.add_subplot()
    for k, (name, ys) in enumerate(series):
        ax.plot(centres, ys, label=name, **_style(k))
    ax.set_xlabel(f"time step (bins of {bin_size})")
    ax.set_ylabel("spikes per neuron per step")
    ax.set_xlim(-0.5, T - 0.5)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, ncols=2 if len(series) > 5 else 1, loc="best")
    ax.set_title(title or f"PSTH per {by} over {x.shape[0]} inputs")
    return fig


class _MembraneRecorder(NumpyOps):
    """The reference simulator's operations, keeping every membrane value ``u`` that the update
    tests against the threshold (before the reset), in call order."""

    def __init__(self, dtype):
        super().__init__(dtype)
        self.tested: list[np.ndarray] = []

    def fire(self, u, threshold, strict):
        self.tested.append(np.array(u, dtype=np.int64))
        return super().fire(u, threshold, strict)


def record_membranes(model: Model, raster: Any, before_reset: bool = True) -> list[np.ndarray]:
    """Every layer's ``[B, T, n]`` membranes on ``raster`` (``[T, n]`` or ``[B, T, n]``):
    the value compared with the threshold (``before_reset``, the default), or the value kept
    after the reset (the reference simulator's ``record_membranes``). An ``li`` layer's
    membrane is its output either way."""
    x, _ = check_raster(model, raster)
    if not before_reset:
        return simulate(model, x, record_membranes=True).membranes
    params, dtype = layer_params(model)
    ops = _MembraneRecorder(dtype)
    seq = np.ascontiguousarray(x.transpose(1, 0, 2))
    outputs, _ = semantics.run_layers(ops, model, params, seq, (x.shape[0],))
    T, found, pos = model.time_steps, [], 0
    for layer, out in zip(model.layers, outputs):  # run_layers goes layer by layer, step by step
        if layer.neuron.fires:
            found.append(np.stack(ops.tested[pos: pos + T], axis=1))
            pos += T
        else:
            found.append(out.transpose(1, 0, 2).astype(np.int64))
    return found


def membrane_traces(model: Model, raster: Any, neurons: Sequence[tuple[int, int]], before_reset: bool = True,
                    title: str | None = None) -> Figure:
    """Membrane traces of the chosen ``(layer, neuron)`` pairs on one raster, with each
    neuron's threshold (dashed) and its spikes (markers on the trace)."""
    x, _ = check_raster(model, _as_raster(raster))
    if not neurons:
        raise InputError("choose at least one (layer, neuron) pair", "neurons")
    for layer_k, idx in neurons:
        if not 0 <= layer_k < len(model.layers) or not 0 <= idx < model.layers[layer_k].out_size:
            raise InputError(f"no neuron {idx} in layer {layer_k}", "neurons")
    mem = record_membranes(model, x, before_reset)
    spikes = simulate(model, x).layer_outputs
    steps = np.arange(model.time_steps)
    fig = _new_figure(6.5, 3.8)
    ax = fig.add_subplot()
    for k, (layer_k, idx) in enumerate(neurons):
        style = _style(k)
        neuron = model.layers[layer_k].neuron
        trace = mem[layer_k][0, :, idx]
        ax.plot(steps, trace, color=style["color"], linestyle=style["linestyle"], label=f"layer {layer_k}, neuron {idx}")
        if neuron.fires:
            th = neuron.threshold if isinstance(neuron.threshold, int) else neuron.threshold[idx]
            ax.axhline(th, color=style["color"], linestyle=(0, (2, 2)), linewidth=0.9, alpha=0.8)
            fired = spikes[layer_k][0, :, idx].astype(bool)
            ax.scatter(steps[fired], trace[fired], color=style["color"], marker=style["marker"], s=40, zorder=3)
    ax.set_xlabel("time step")
    ax.set_ylabel("membrane " + ("before reset (u)" if before_reset else "after reset (v)"))
    ax.set_xlim(-0.5, model.time_steps - 0.5)
    ax.legend(fontsize=8, loc="best", title="dashed: threshold; markers: spikes", title_fontsize=7)
    ax.set_title(title or "Membrane traces")
    return fig


def witness_pair(original: Any, witness: Any, model: Model | None = None,
                 title: str = "Original versus witness") -> Figure:
    """A counterexample: the original raster and the witness side by side. Spikes the
    witness removes are vermillion crosses on the original; spikes it adds are blue
    pluses on the witness; unchanged spikes are black ticks. With ``model``, each panel
    is titled with the model's decision."""
    a, b = _as_raster(original, "original"), _as_raster(witness, "witness")
    if a.shape != b.shape:
        raise InputError(f"original {list(a.shape)} and witness {list(b.shape)} differ in shape", "witness")
    removed, added = (a == 1) & (b == 0), (a == 0) & (b == 1)
    names = ["original", "witness"]
    if model is not None:
        preds = simulate(model, np.stack([a, b]).astype(np.int8)).prediction
        names = [f"{n}: decision {'none' if p < 0 else int(p)}" for n, p in zip(names, preds)]
    fig = _new_figure(9, 1.4 + _panel_height(a.shape[1]))
    ax1, ax2 = fig.subplots(1, 2, sharey=True)
    _draw_spikes(ax1, a & ~removed, label="unchanged")
    _draw_spikes(ax1, removed, colour=REMOVED_COLOUR, marker="x", size=40,
                 label=f"removed by the witness ({int(removed.sum())})")
    _draw_spikes(ax2, b & ~added, label="unchanged")
    _draw_spikes(ax2, added, colour=ADDED_COLOUR, marker="+", size=60,
                 label=f"added by the witness ({int(added.sum())})")
    for ax, name in zip((ax1, ax2), names):
        ax.set_title(name, fontsize=10)
        ax.legend(fontsize=7, loc="upper right", framealpha=0.9)
    fig.suptitle(f"{title}: {int(removed.sum() + added.sum())} spike(s) changed")
    return fig


def _map_norm(values: np.ndarray) -> tuple[str, Any]:
    """Diverging colours centred on 0 for signed maps, sequential for one-signed ones."""
    lo, hi = float(np.min(values)), float(np.max(values))
    if lo < 0 < hi:
        return DIVERGING, TwoSlopeNorm(vcenter=0.0, vmin=lo, vmax=hi)
    return (DIVERGING if hi <= 0 < -lo else SEQUENTIAL), None


def saliency_heatmap(sal: Any, raster: Any | None = None, title: str = "Saliency") -> Figure:
    """A ``[T, n]`` attribution as a heat map (time on x, channel on y); with ``raster``, its
    spikes are marked with dots."""
    s = _as_raster(sal, "saliency").astype(np.float64)
    fig = _new_figure(6, 1.2 + _panel_height(s.shape[1]))
    ax = fig.add_subplot()
    cmap, norm = _map_norm(s)
    im = ax.imshow(s.T, aspect="auto", cmap=cmap, norm=norm, interpolation="nearest")
    fig.colorbar(im, ax=ax, label="attribution")
    if raster is not None:
        x = _as_raster(raster)
        if x.shape != s.shape:
            raise InputError(f"raster {list(x.shape)} and saliency {list(s.shape)} differ in shape", "raster")
        t, i = np.nonzero(x)
        ax.scatter(t, i, s=3, c="#000000", marker=".", label="input spike")
        ax.legend(fontsize=7, loc="upper right")
    ax.set_xlabel("time step")
    ax.set_ylabel("input channel")
    ax.set_title(title)
    return fig


def _image_shape(n: int, shape: Sequence[int] | None) -> tuple[int, int, int]:
    if shape is not None:
        shp = tuple(int(v) for v in shape)
        if math.prod(shp) != n or len(shp) not in (2, 3):
            raise InputError(f"shape {list(shp)} does not hold {n} channels as [c, h, w] or [h, w]", "shape")
        return shp if len(shp) == 3 else (1, *shp)
    side = math.isqrt(n)
    if side * side != n:
        raise InputError(f"{n} channels are not a square image: give shape=", "shape")
    return (1, side, side)


def saliency_image(sal: Any, shape: Sequence[int] | None = None, per_step: bool = False,
                   title: str = "Saliency summed over time") -> Figure:
    """A ``[T, n]`` attribution summed over time, drawn as an image per input channel (``shape``
    ``[c, h, w]`` or ``[h, w]``, e.g. the model's ``input.shape``; by default ``n`` must be a
    square). ``per_step`` adds one small image per time step below."""
    s = _as_raster(sal, "saliency").astype(np.float64)
    T, n = s.shape
    c, h, w = _image_shape(n, shape)
    total = s.sum(axis=0).reshape(c, h, w)
    width = max(3.6, 1.2 * T if per_step else 0, 2.6 * c)
    fig = _new_figure(width, 3.0 + (1.5 * c if per_step else 0))
    top, bottom = fig.subfigures(2, 1, height_ratios=[3, 1.5 * c]) if per_step else (fig, None)
    cmap, norm = _map_norm(total)
    axes = top.subplots(1, c, squeeze=False)[0]
    for ch, ax in enumerate(axes):
        im = ax.imshow(total[ch], cmap=cmap, norm=norm, interpolation="nearest")
        ax.set_title(f"channel {ch}" if c > 1 else "summed over time", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    top.colorbar(im, ax=list(axes), shrink=0.8, label="attribution")
    if per_step:
        steps = s.reshape(T, c, h, w)
        cmap_s, norm_s = _map_norm(steps)
        grid = bottom.subplots(c, T, squeeze=False)
        for ch in range(c):
            for t in range(T):
                ax = grid[ch, t]
                im_s = ax.imshow(steps[t, ch], cmap=cmap_s, norm=norm_s, interpolation="nearest")
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_title(f"t={t}" + (f", ch {ch}" if c > 1 else ""), fontsize=7)
        bottom.colorbar(im_s, ax=list(grid.ravel()), shrink=0.8, label="per step")
    fig.suptitle(title)
    return fig


def faithfulness_curves(deletion: Any, insertion: Any, random_deletion: Sequence[Any] = (),
                        random_insertion: Sequence[Any] = (), title: str = "Faithfulness") -> Figure:
    """Deletion and insertion curves (:class:`verisnn.extractors.saliency.Curve`): the
    normalised class score (1 = whole raster, 0 = empty raster) against the fraction of
    spikes removed / inserted, with the area under each curve; random-order curves, if
    given, in grey with their mean area. Shaded: steps where the decision is still the class."""
    fig = _new_figure(9, 3.6)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, curve, randoms, name, better in ((axes[0], deletion, random_deletion, "Deletion", "lower"),
                                             (axes[1], insertion, random_insertion, "Insertion", "higher")):
        for k, r in enumerate(randoms):
            ax.plot(r.fraction, r.normalized, color="#999999", linewidth=0.8, linestyle="--",
                    label=f"random order (mean AUC {np.nanmean([q.auc for q in randoms]):.3f})" if k == 0 else None)
        ax.plot(curve.fraction, curve.normalized, color=OKABE_ITO[0], linewidth=1.8,
                label=f"saliency order (AUC {curve.auc:.3f})")
        ax.fill_between(curve.fraction, 0, 1, where=curve.kept, color=OKABE_ITO[1], alpha=0.18, step="mid",
                        transform=ax.get_xaxis_transform(), label=f"decision still {curve.target}")
        ax.set_xlabel(f"fraction of spikes {'removed' if name == 'Deletion' else 'inserted'}")
        ax.set_title(f"{name} ({better} AUC = more faithful)", fontsize=10)
        ax.set_xlim(0, 1)
        ax.legend(fontsize=7, loc="best")
    axes[0].set_ylabel("class score (1 = whole raster, 0 = empty)")
    fig.suptitle(title)
    return fig


# ----------------------------------------------------------------------------- audit-level figures


def robustness_curve(points: Sequence[dict], title: str = "Robustness versus flip budget") -> Figure:
    """Share of inputs verified (and falsified) robust against the flip budget ``k``, and
    the share left undecided (a time limit reached: neither robust nor not, so a low
    "verified" line there is not a finding); ``points``: ``{"k", "n", "verified",
    "falsified"}`` per budget (unknowns are the rest)."""
    if not points:
        raise InputError("no budget to draw", "points")
    pts = sorted(points, key=lambda p: p["k"])
    k = [p["k"] for p in pts]
    fig = _new_figure(5.5, 3.2)
    ax = fig.add_subplot()
    for j, (key, label) in enumerate((("verified", "verified robust"), ("falsified", "counterexample found"))):
        share = [p[key] / p["n"] if p["n"] else float("nan") for p in pts]
        ax.plot(k, share, label=label, **_style(j))
    undecided = [(p["n"] - p["verified"] - p["falsified"]) / p["n"] if p["n"] else float("nan") for p in pts]
    if any(u > 0 for u in undecided):
        ax.plot(k, undecided, label="undecided (limit reached)", color="0.55", marker="x", linestyle=":")
    ax.set_xlabel("flip budget k (bits changed)")
    ax.set_ylabel("share of inputs")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xticks(k)
    ax.legend(fontsize=8)
    ax.set_title(title)
    return fig


def histogram(values: Any, label: str, title: str, bins: int = 20) -> Figure:
    """A histogram of per-inference values (latency, energy), with the mean and maximum marked."""
    v = np.asarray(values, dtype=float).ravel()
    if v.size == 0:
        raise InputError("no values to draw", "values")
    fig = _new_figure(5.5, 3.0)
    ax = fig.add_subplot()
    ax.hist(v, bins=bins, color=OKABE_ITO[0], edgecolor="white")
    ax.axvline(v.mean(), color=OKABE_ITO[1], linestyle="--", label=f"mean {v.mean():.4g}")
    ax.axvline(v.max(), color=OKABE_ITO[3], linestyle=":", label=f"max {v.max():.4g}")
    ax.set_xlabel(label)
    ax.set_ylabel("inputs")
    ax.legend(fontsize=8)
    ax.set_title(title)
    return fig


def automaton_figure(machine, title: str = "Automaton", max_states: int = 40) -> Figure:
    """A Mealy machine (:class:`verisnn.automaton.MealyMachine`) drawn as a graph: states on
    a circle (the initial one double-ringed), one arrow per (state, target) labelled with
    its ``letter/output`` pairs. Larger machines are summarised, not drawn."""
    n = machine.num_states
    fig = _new_figure(6, 6 if n <= max_states else 1.2)
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_title(f"{title}: {n} states")
    if n > max_states:
        ax.text(0.5, 0.5, f"{n} states: too many to draw (the DOT export has them all)", ha="center", va="center")
        return fig
    angle = 2 * np.pi * np.arange(n) / n
    pos = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    edges: dict[tuple[int, int], list[str]] = {}
    for q in range(n):
        for a, name in enumerate(machine.inputs):
            out = int(machine.output[q, a])
            edges.setdefault((q, int(machine.next_state[q, a])), []).append(
                f"{name}/{'none' if out < 0 else out}")
    for (q, r), labels in edges.items():
        text = ", ".join(labels)
        if q == r:  # a self-loop: its label outside the circle
            ax.text(*(pos[q] * 1.22), text, ha="center", va="center", fontsize=7, color=OKABE_ITO[0])
            continue
        ax.annotate("", xy=pos[r], xytext=pos[q], arrowprops={
            "arrowstyle": "-|>", "color": "#444444", "shrinkA": 12, "shrinkB": 12,
            "connectionstyle": "arc3,rad=0.15"})
        mid = (pos[q] + pos[r]) / 2 + 0.08 * np.array([-(pos[r] - pos[q])[1], (pos[r] - pos[q])[0]])
        ax.text(*mid, text, ha="center", va="center", fontsize=7, color=OKABE_ITO[3])
    for q in range(n):
        ax.scatter(*pos[q], s=420, facecolor="white", edgecolor="black", zorder=3,
                   linewidths=2.5 if q == machine.initial else 1.0)
        ax.text(*pos[q], str(q), ha="center", va="center", fontsize=8, zorder=4)
    ax.set_xlim(-1.5, 1.5)
    ax.set_ylim(-1.5, 1.5)
    ax.set_aspect("equal")
    return fig
