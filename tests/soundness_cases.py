"""The soundness net's examples, oracle and judge (shared by tests/test_soundness_net.py and
benchmarks/soundness_net.py).

A *cell* is one combination of region kind x bounded condition x readout x tie rule. Every
cell is drawn: ``draw_example(cell, index)`` builds a small random model, a centre and a
property from a generator seeded by the cell's name and ``index`` alone, so a failure names
a cell and an index that reproduce it. The same example is put to every verification method.

The ORACLE is the trusted kernel (``verisnn.kernel``), never the engine's own code: the
region is enumerated by ``kernel.regions.batches``, every raster simulated by
``kernel.network.run`` and judged by ``kernel.conditions.violates``. Intensity regions are the
one exception, thought through in :func:`intensity_truth`.

The condition's number (``E`` of spikes_at_most, ``S`` of synops_at_most) is drawn from the
kernel's values over the region: half the time the largest value any raster reaches (the
property holds, by a margin of 0), else one less (it fails, often on a single raster), so
that verified and falsified answers both occur and the edge is where they are decided.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from verisnn.model import Dense, InputSpec, Model, Neuron, Readout
from verisnn.model_format import model_to_dict
from verisnn.properties import (AnyInput, DecidedBy, Deletions, FirstSpikeBy, Flips, Insertions, Intensity, Jitter,
                                NeverFires, NoOverflow, Property, Robust, SpikesAtMost, SynopsAtMost)

METHODS = ("enumerate", "bab", "bounds", "smt", "cpsat", "auto")
REGIONS = ("flips", "deletions", "insertions", "jitter", "intensity", "any")
CONDITIONS = ("robust", "decided_by", "first_spike_by", "spikes_at_most", "synops_at_most", "never_fires",
              "no_overflow")
READOUTS = ("spike_count", "first_spike", "membrane_final", "membrane_max")
TIES = ("invalid", "lowest_index")
DECISION_CONDITIONS = ("robust", "decided_by", "first_spike_by")  # those bab prunes on

# (method, region) pairs a method declines as a whole: its unknown or error there is a refusal,
# counted apart. (A verdict there is judged like any other: e.g. every method falsifies `robust`
# at once when the centre itself has no decision.) Anything else must be answered.
REFUSED_REGIONS = {
    ("bab", "jitter"), ("bab", "intensity"),
    ("bounds", "intensity"), ("smt", "intensity"), ("smt", "jitter"), ("cpsat", "intensity"), ("cpsat", "jitter"),
}

QUERY_TIMEOUT_S = 20.0  # per query; a tiny model reaching it is an `unknown`, counted against the method


@dataclass(frozen=True)
class Cell:
    region: str
    condition: str
    readout: str
    ties: str

    @property
    def name(self) -> str:
        return f"{self.region}/{self.condition}/{self.readout}/{self.ties}"


def cells() -> list[Cell]:
    """Every valid cell: ``first_spike_by`` needs an output layer that spikes, so not the
    membrane readouts (an ``li`` output layer)."""
    out = []
    for region in REGIONS:
        for condition in CONDITIONS:
            for readout in READOUTS:
                if condition == "first_spike_by" and readout.startswith("membrane"):
                    continue
                for ties in TIES:
                    out.append(Cell(region, condition, readout, ties))
    return out


def examples_in(cell: Cell, per_cell: int) -> int:
    """How many examples a cell gets: twice ``per_cell`` where bab's pruning decides (decision
    conditions on spike_count and first_spike readouts), the cells where a wrong pruning
    argument shows only on a few centres."""
    return 2 * per_cell if cell.condition in DECISION_CONDITIONS and cell.readout in ("spike_count", "first_spike") \
        else per_cell


def seed_of(text: str) -> int:
    """A seed that is the same on every machine and Python (``hash`` is salted)."""
    return zlib.crc32(text.encode())


# ---------------------------------------------------------------- the kernel, through one door


def kernel():
    """The trusted kernel's modules (imported late: collected tests name a missing kernel
    module in their failure instead of breaking the whole file's import)."""
    from verisnn.kernel import conditions, encoders, network, regions
    from verisnn.kernel.guard import Limits
    return network, regions, conditions, encoders, Limits


# ---------------------------------------------------------------- drawing models


def _neuron(rng: np.random.Generator, size: int, kind: str, small_bits: bool) -> Neuron:
    """A lively neuron: thresholds 1..3 against weights up to 4, rarely refractory."""
    bits = int(rng.integers(4, 6)) if small_bits else int(rng.choice([8, 12]))
    if kind == "li":
        shift = int(rng.integers(0, 3))
        return Neuron(size=size, model="li", threshold=None, v_decay=(int(rng.integers(max(1, 1 << shift) // 2,
                                                                                        (1 << shift) + 1)), shift),
                      v_bits=bits, on_overflow=str(rng.choice(["saturate", "wrap"])),
                      rounding=str(rng.choice(["floor", "toward_zero"])))
    shift = int(rng.integers(1, 3))
    decay = (1 << shift, shift) if kind == "if" else (int(rng.integers(1 << (shift - 1), 1 << shift)), shift)
    i_decay = (int(rng.integers(0, 1 << shift)), shift) if kind == "cuba_lif" else None
    threshold = rng.integers(1, 4, size).tolist() if rng.random() < 0.3 else int(rng.integers(1, 4))
    return Neuron(size=size, model=kind, threshold=threshold, fire_when=str(rng.choice([">=", ">"], p=[0.7, 0.3])),
                  v_decay=decay, i_decay=i_decay, rounding=str(rng.choice(["floor", "toward_zero"])),
                  reset=str(rng.choice(["subtract", "to_value", "none"], p=[0.5, 0.35, 0.15])),
                  v_reset=0, refractory=int(rng.choice([0, 0, 0, 1])), v_bits=bits,
                  on_overflow=str(rng.choice(["saturate", "wrap"])))


def draw_model(rng: np.random.Generator, cell: Cell, T: int, n: int, encoding: dict | None) -> Model:
    membrane = cell.readout.startswith("membrane")
    # never_fires on an li output layer needs a hidden layer that spikes
    layers_n = 2 if (membrane and cell.condition == "never_fires") else int(rng.integers(1, 3))
    small_bits = cell.condition == "no_overflow"
    layers, size_in = [], n
    for k in range(layers_n):
        last = k == layers_n - 1
        size = int(rng.integers(2, 4))
        kind = "li" if (last and membrane) else str(rng.choice(["if", "lif", "cuba_lif"], p=[0.4, 0.4, 0.2]))
        neuron = _neuron(rng, size, kind, small_bits)
        weight = rng.integers(-2, 5, (size, size_in))
        if small_bits:
            weight = weight * int(rng.integers(1, 4))
        recurrent = rng.integers(-2, 3, (size, size)).tolist() if kind != "li" and rng.random() < 0.25 else None
        layers.append(Dense(weight=weight.tolist(), bias=rng.integers(-1, 2, size).tolist(), neuron=neuron,
                            delay=int(rng.choice([0, 0, 0, 1])), recurrent=recurrent))
        size_in = size
    return Model(time_steps=T, input=InputSpec(size=n, encoding=encoding), layers=tuple(layers),
                 readout=Readout(type=cell.readout, ties=cell.ties), name="soundness-net")


def draw_duel(rng: np.random.Generator, cell: Cell, T: int, n: int) -> Model:
    """One layer of output neurons, each driven by its own input channel (a strong diagonal,
    weak cross-talk), no leak, no refractory period: a neuron spikes at nearly every step its
    channel is on. With the centre's favourite channel on throughout, its class leads by more
    than the steps left long before the end, so bab's pruning is exercised on decisions, and a
    single flipped bit elsewhere (an early spike of a rival, a lost one of the favourite) decides
    many properties: where a pruning argument one step too eager, or one that counts spikes
    under a first-spike readout, gives a wrong proof."""
    size = n
    threshold = int(rng.integers(1, 3))
    diagonal = np.diag(rng.integers(threshold, threshold + 2, n))  # (drawn first: the examples stay as measured)
    weight = diagonal + rng.integers(-1, 1, (size, n)) * (1 - np.eye(n, dtype=int))
    kind = str(rng.choice(["if", "lif"]))
    neuron = Neuron(size=size, model=kind, threshold=threshold, v_decay=(1, 0) if kind == "if" else (1, 1),
                    reset=str(rng.choice(["to_value", "subtract"])), v_reset=0, refractory=0, v_bits=8)
    return Model(time_steps=T, input=InputSpec(size=n), layers=(Dense(weight=weight.tolist(), bias=[0] * size,
                                                                      neuron=neuron),),
                 readout=Readout(type=cell.readout, ties=cell.ties), name="soundness-net-duel")


def _region(rng: np.random.Generator, kind: str, T: int):
    if kind == "flips":
        return Flips(int(rng.integers(1, 3)))
    if kind == "deletions":
        return Deletions(int(rng.integers(1, 4)))
    if kind == "insertions":
        return Insertions(int(rng.integers(1, 3)))
    if kind == "jitter":
        return Jitter(shift=int(rng.integers(1, min(2, T - 1) + 1)), spikes=int(rng.integers(1, 3)))
    if kind == "any":
        return AnyInput()
    return Intensity(float(rng.choice([0.05, 0.1, 0.2])))


@dataclass
class Example:
    cell: Cell
    index: int
    model: Model
    centre: np.ndarray  # a [T, n] raster, or the analog centre of an intensity region
    prop: Property
    truth: "Truth"

    @property
    def label(self) -> str:
        return f"{self.cell.name}#{self.index}"

    def describe(self) -> str:
        """What reproduces the example by hand."""
        return (f"cell {self.label}\n  property {self.prop.to_dict()}\n  centre {np.asarray(self.centre).tolist()}\n"
                f"  model {model_to_dict(self.model)}")


@dataclass
class Truth:
    """The kernel's brute force over the region."""

    region_size: int
    reference: int | None  # the centre's decision (None: no decision)
    violating: int  # rasters of the region that violate the condition
    first_violating: np.ndarray | None
    exact_listing: Any = None  # intensity: the engine's exact region (for membership only)
    notes: list[str] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        return self.violating == 0


def draw_example(cell: Cell, index: int) -> Example:
    """The ``index``-th example of ``cell``: the same on every run and machine."""
    rng = np.random.default_rng(seed_of(f"soundness-net/{cell.name}/{index}"))
    # T large against the lead a count needs, so that bab's settled prefixes occur; T * n small
    # enough that the whole region is simulated in one batch
    T = int(rng.integers(3, 6))
    n = int(rng.integers(2, 4 if T <= 4 else 3))
    if cell.region == "any":
        T, n = min(T, 4), 2
    encoding = None
    if cell.region == "intensity":
        kind = str(rng.choice(["rate", "latency"]))
        encoding = {"type": "rate", "time_steps": T, "lo": 0.0, "hi": 1.0} if kind == "rate" else \
            {"type": "latency", "time_steps": T, "lo": 0.0, "hi": 1.0, "threshold": 0.1}
    duel = (index % 3 != 0 and cell.condition in DECISION_CONDITIONS and cell.readout in ("spike_count", "first_spike")
            and cell.region != "intensity")
    if duel:  # long enough for a lead to settle before the end
        T = int(rng.integers(4, 7)) if cell.region != "any" else 4
        n = 2
    model = draw_duel(rng, cell, T, n) if duel else draw_model(rng, cell, T, n, encoding)
    region = _region(rng, cell.region, T)
    if cell.region == "intensity":
        centre = np.round(rng.random(n), 3)
    elif duel:  # the favourite's channel on nearly always, the others seldom
        favourite = int(rng.integers(0, n))
        p = np.where(np.arange(n) == favourite, 0.95, 0.1)
        centre = (rng.random((T, n)) < p[None, :]).astype(np.int8)
    else:
        centre = (rng.random((T, n)) < rng.choice([0.35, 0.5, 0.65])).astype(np.int8)
        if cell.region == "jitter" and not centre.any():
            centre[int(rng.integers(0, T)), 0] = 1
    return _with_condition(rng, cell, index, model, centre, region)


# ---------------------------------------------------------------- the oracle


@dataclass
class KernelRuns:
    """Every raster of the region with the kernel's run of it."""

    rasters: np.ndarray  # [B, T, n]
    run: Any  # kernel Run over all of them
    reference: int | None
    exact_listing: Any = None
    notes: list[str] = field(default_factory=list)


def _reference(net, centre_raster: np.ndarray, limits) -> int | None:
    network, _, conditions, _, _ = kernel()
    run = network.run(net, centre_raster[None].astype(np.int8), limits)
    d = int(conditions.decision(net, run.outputs)[0])
    return None if d < 0 else d


def _concat(batches) -> np.ndarray:
    parts = [np.asarray(b, dtype=np.int8) for b in batches]
    return np.concatenate(parts) if parts else np.zeros((0,), dtype=np.int8)


def region_runs(model: Model, centre: np.ndarray, region, limits=None) -> KernelRuns:
    """The kernel's enumeration and simulation of the whole region."""
    network, regions, conditions, encoders, Limits = kernel()
    limits = limits or Limits(deadline=time.perf_counter() + 120)
    net = network.read_network(model_to_dict(model))
    if isinstance(region, Intensity):
        return intensity_runs(model, net, centre, region, limits)
    doc = region.to_dict()
    rasters = _concat(regions.batches(doc, centre, limits, batch=4096))
    size = regions.size(doc, centre)
    if len(rasters) != size:
        raise AssertionError(f"kernel: regions.batches gave {len(rasters)} rasters, regions.size says {size}")
    if len({r.tobytes() for r in rasters}) != size:
        raise AssertionError("kernel: regions.batches listed a raster twice")
    return KernelRuns(rasters, network.run(net, rasters, limits), _reference(net, centre, limits))


def intensity_runs(model: Model, net, x: np.ndarray, region: Intensity, limits) -> KernelRuns:
    """An intensity region, thought through (docs/properties.md "Intensity, precisely").

    The region is the set of rasters that some binary64 input of the ball encodes to. The
    kernel lists a SUPERSET (every level between those of the ball's lowest and highest
    float, per channel; the float grid can skip a level only near 2^53). The engine's
    ``intensity_region`` lists the exact set, with an analog witness for every raster.

    * ``verified`` is contradicted iff a raster of the exact region violates. The kernel's
      superset bounds that set from above: no violating raster in the superset confirms a
      ``verified`` without trusting the engine at all. A violating superset raster counts
      only if it lies in the exact region; the engine's listing is asked for membership and
      its analog witness is re-checked by the kernel (``encoders.in_ball`` and
      ``encoders.encode`` of the witness give the raster), so a raster counted against a
      ``verified`` is independently confirmed to be in the region.
    * The engine could only wrongly *exclude* a raster (and so hide a violation) where the
      superset is strictly larger than its listing. Our centres lie in [0, 1] with steps of
      0.05 or more, where no level is skipped: the oracle checks that the superset and the
      listing have the same size and that every listed raster lies in the superset (so the two
      are the same set), and notes it otherwise (the test fails on such a note).
    * A ``falsified`` witness is checked the same independent way: the answer's analog
      witness must lie in the ball (kernel, exact rationals) and encode (kernel) to the
      witness raster, which must then violate on the kernel's simulator.
    """
    network, regions, conditions, encoders, Limits = kernel()
    from verisnn.intensity import intensity_region  # the engine's exact listing: membership only

    T, n = model.time_steps, model.input.size
    enc_doc = model.input.encoding
    superset = _concat(encoders.intensity_batches(enc_doc, x, region.eps, T, n, limits, batch=4096))
    exact = intensity_region(model, x, region)
    notes = []
    listed = _concat(exact.iter_batches(4096))
    in_superset = {r.tobytes() for r in superset}
    if len(in_superset) != len(superset):
        raise AssertionError("kernel: intensity_batches listed a raster twice")
    if not all(r.tobytes() in in_superset for r in listed):
        raise AssertionError("kernel: a raster of the engine's exact intensity region is outside the kernel's "
                             "superset (one of the two is wrong)")
    if len(superset) != exact.size:
        notes.append(f"the kernel's superset has {len(superset)} rasters, the exact region {exact.size}: the "
                     "oracle then trusts the engine's listing to exclude rasters")
    centre_raster = encoders.encode(enc_doc, x, T, n)
    return KernelRuns(superset, network.run(net, superset, limits), _reference(net, centre_raster, limits),
                      exact_listing=exact, notes=notes)


def _with_condition(rng: np.random.Generator, cell: Cell, index: int, model: Model, centre, region) -> Example:
    """Pick the condition (its number from the kernel's values over the region) and judge
    every raster of the region by the kernel."""
    network, regions, conditions, encoders, Limits = kernel()
    runs = region_runs(model, centre, region)
    T = model.time_steps
    c = cell.condition
    edge = rng.random() < 0.5  # the largest value reached (holds), else one less (fails)
    if c == "robust":
        cond = Robust()
    elif c == "decided_by":
        cond = DecidedBy(int(rng.integers(max(1, T - 2), T + 1)))
    elif c == "first_spike_by":
        cond = FirstSpikeBy(int(rng.integers(1, T + 1)))
    elif c == "spikes_at_most":
        top = int(np.max(runs.run.total_spikes))
        cond = SpikesAtMost(top if edge or top == 0 else top - 1)
    elif c == "synops_at_most":
        top = int(np.max(runs.run.synops))
        cond = SynopsAtMost(top if edge or top == 0 else top - 1)
    elif c == "never_fires":
        firing = [k for k, layer in enumerate(model.layers) if layer.neuron.fires]
        layer = int(rng.choice(firing))
        cond = NeverFires(layer, int(rng.integers(0, model.layers[layer].out_size)))
    else:
        cond = NoOverflow()
    prop = Property(region=region, condition=cond)
    truth = judge_region(model, centre, prop, runs)
    return Example(cell, index, model, centre, prop, truth)


def judge_region(model: Model, centre, prop: Property, runs: KernelRuns) -> Truth:
    network, regions, conditions, encoders, Limits = kernel()
    net = network.read_network(model_to_dict(model))
    bad = np.asarray(conditions.violates(net, prop.condition.to_dict(), runs.run, runs.reference), dtype=bool)
    if runs.exact_listing is not None:  # intensity: a violating superset raster counts if it is in the region
        bad &= np.array([runs.exact_listing.contains(r) for r in runs.rasters], dtype=bool)
        for r in runs.rasters[bad]:  # counted against a `verified` only once confirmed without the engine
            why = analog_problem(model, centre, prop.region.eps, runs.exact_listing.analog_witness(r), r)
            if why:
                raise AssertionError(f"the engine's intensity listing holds a raster it cannot justify: {why}")
    first = runs.rasters[int(np.argmax(bad))] if bad.any() else None
    size = runs.exact_listing.size if runs.exact_listing is not None else len(runs.rasters)
    return Truth(size, runs.reference, int(bad.sum()), first, runs.exact_listing, runs.notes)


def analog_problem(model: Model, centre: np.ndarray, eps: float, analog: Any, raster: np.ndarray) -> str | None:
    """Why ``analog`` is not an input of the ball whose encoding is ``raster`` (None: it is),
    by the kernel's exact ball test and encoder."""
    network, regions, conditions, encoders, Limits = kernel()
    if analog is None:
        return "no analog witness given"
    x = np.asarray(analog, dtype=np.float64).reshape(-1)
    if x.shape != np.asarray(centre).reshape(-1).shape or not np.isfinite(x).all():
        return f"the analog witness {x.tolist()} is not a finite input of the centre's shape"
    if not encoders.in_ball(x, np.asarray(centre, dtype=np.float64).reshape(-1), eps):
        return f"the analog witness {x.tolist()} lies outside the ball of radius {eps}"
    got = np.asarray(encoders.encode(model.input.encoding, x, model.time_steps, model.input.size), dtype=np.int8)
    if not np.array_equal(got, raster):
        return "the analog witness does not encode to the witness raster"
    return None


# ---------------------------------------------------------------- asking the engine, judging its answer


@dataclass
class Outcome:
    """One method's answer on one example, as judged by the kernel."""

    label: str  # the example's cell and index
    method: str
    verdict: str
    truth_holds: bool
    refused: bool  # unknown/error on a (method, region) pair the method declines as a whole
    reason: str | None
    time_s: float
    pruned: int | None  # bab: rasters under pruned nodes (from the search's record)
    problems: list[str]

    @property
    def wrong(self) -> bool:
        return bool(self.problems)


def ask(example: Example, method: str, timeout: float = QUERY_TIMEOUT_S):
    from verisnn.verify import verify

    return verify(example.model, example.centre, example.prop, method=method, timeout=timeout)


def witness_problem(example: Example, result) -> str | None:
    """Why a ``falsified`` answer's witness is not a violating input of the region (None: it is),
    decided by the kernel alone (membership, simulation, condition)."""
    network, regions, conditions, encoders, Limits = kernel()
    model, prop = example.model, example.prop
    T, n = model.time_steps, model.input.size
    w = None if result.witness is None else np.asarray(result.witness)
    if w is None or w.shape != (T, n) or not np.isin(w, (0, 1)).all():
        return f"the witness is not a 0/1 raster of shape [{T}, {n}]: {None if w is None else w.tolist()}"
    w = w.astype(np.int8)
    if isinstance(prop.region, Intensity):
        why = analog_problem(model, example.centre, prop.region.eps, result.details.get("analog_witness"), w)
        if why:
            return f"the witness is not shown to lie in the intensity region: {why}"
    elif not regions.contains(prop.region.to_dict(), example.centre, w):
        return f"the witness {w.tolist()} lies outside the region (kernel regions.contains)"
    net = network.read_network(model_to_dict(model))
    run = network.run(net, w[None], Limits(deadline=time.perf_counter() + 60))
    if not bool(np.asarray(conditions.violates(net, prop.condition.to_dict(), run, example.truth.reference))[0]):
        return f"the witness {w.tolist()} does not violate the condition on the kernel's simulator"
    return None


def judge(example: Example, method: str, result) -> Outcome:
    """Hold one answer against the kernel's brute force."""
    truth, problems = example.truth, []
    refused = (method, example.cell.region) in REFUSED_REGIONS
    if result.verdict == "verified":
        if not truth.holds:
            problems.append(f"{method} says verified; the kernel finds {truth.violating} violating rasters of "
                            f"{truth.region_size}, e.g. {truth.first_violating.tolist()}")
    elif result.verdict == "falsified":
        why = witness_problem(example, result)
        if why:
            problems.append(f"{method} says falsified, but {why}")
        elif truth.holds:
            problems.append(f"{method}'s witness {np.asarray(result.witness).tolist()} violates on the kernel, whose "
                            "brute force of the region found no violation: the kernel's enumeration missed it")
    elif result.verdict == "error" and not refused:
        problems.append(f"{method} answered error on a query it should decide: {result.reason}")
    for note in truth.notes:
        problems.append(f"oracle: {note}")
    if result.verdict == "unknown" and result.reason and result.reason.startswith("internal"):
        problems.append(f"{method} reported an internal inconsistency: {result.reason}")
    details = result.details or {}
    pruned = details.get("rasters_pruned") if method == "bab" or details.get("stage") == "bab" else None
    return Outcome(example.label, method, result.verdict, truth.holds, refused and result.verdict in
                   ("unknown", "error"), result.reason, result.time_s, None if pruned is None else int(pruned),
                   problems)


def run_example(example: Example, methods=METHODS, timeout: float = QUERY_TIMEOUT_S) -> list[Outcome]:
    return [judge(example, m, ask(example, m, timeout)) for m in methods]


# ---------------------------------------------------------------- the unbounded horizon

UNBOUNDED_METHODS = ("kinduction", "pdr", "bmc", "explore", "auto")
UNBOUNDED_CONDITIONS = ("never_fires", "no_overflow", "window_spikes_at_most")
SEARCH_STEPS = 10_000  # the explicit search runs the kernel's network with this horizon (delays stay below it)
MAX_STATES = 100_000  # explicit states the oracle visits before it gives up on an example
BMC_DEPTH = 24  # the engine's default unrolling depth (verisnn.unbounded.DEFAULT_MAX_DEPTH)


@dataclass
class UnboundedExample:
    condition: str
    index: int
    model: Model
    prop: Property
    shortest: int | None  # the length of the shortest violating input (None: none, for ever)
    states: int  # reachable states (of the network with the condition's window)

    @property
    def label(self) -> str:
        return f"unbounded/{self.condition}#{self.index}"

    def describe(self) -> str:
        return f"{self.label}\n  property {self.prop.to_dict()}\n  model {model_to_dict(self.model)}"


def _fingerprints(net, state, window: list[np.ndarray]) -> list[bytes]:
    """One key per batch row: everything the future of the run depends on (membranes,
    currents of cuba_lif layers, refractory counters, last spikes, delay queues) and, for a
    window condition, the spike counts of the last steps. Not the step index: the kernel's
    update does not read it while the step is below its horizon."""
    parts = []
    for layer, ls in zip(net.layers, state.layers):
        parts += [ls.v, ls.r, ls.s.astype(np.int64)] + [q.astype(np.int64) for q in ls.queue]
        if layer.model == "cuba_lif":
            parts.append(ls.i)
    parts += [w[:, None] for w in window]
    rows = np.concatenate([np.asarray(p, dtype=np.int64).reshape(len(p), -1) for p in parts], axis=1)
    return [r.tobytes() for r in rows]


def _take_state(state, idx: np.ndarray):
    from verisnn.kernel.network import LayerState, State

    layers = [LayerState(ls.v[idx], ls.i[idx], ls.r[idx], ls.s[idx], [q[idx] for q in ls.queue])
              for ls in state.layers]
    return State(0, layers, [], state.overflow[idx], state.synops[idx])


def explicit_search(model: Model, prop: Property, max_states: int = MAX_STATES) -> tuple[int | None, int]:
    """Breadth-first search over every input letter at every step, on the kernel's own
    ``network.step``: the length of the shortest violating input (None: no reachable state
    violates, for ever) and the number of states seen. Raises ``OverflowError`` past
    ``max_states``."""
    network, _, _, _, _ = kernel()
    doc = model_to_dict(model)
    doc["time_steps"] = SEARCH_STEPS
    net = network.read_network(doc)
    n = net.n_in
    letters = np.array(list(np.ndindex(*(2,) * n)), dtype=np.int8).reshape(-1, n)
    cond = prop.condition.to_dict()
    width = cond["window_spikes_at_most"]["window"] if isinstance(cond, dict) and \
        "window_spikes_at_most" in cond else 1
    frontier = network.initial_state(net, 1)
    window = [np.zeros(1, dtype=np.int64) for _ in range(width - 1)]  # spikes of the last steps, oldest first
    seen = set(_fingerprints(net, frontier, window))
    depth = 0
    while frontier.overflow.size:
        depth += 1
        B = frontier.overflow.size
        parents = np.repeat(np.arange(B), len(letters))
        state = network.step(net, _take_state(frontier, parents), np.tile(letters, (B, 1)))
        spikes = sum(o.astype(np.int64).sum(axis=1) for o, layer in zip(state.outputs, net.layers) if layer.fires)
        if cond == "no_overflow":
            bad = state.overflow
        elif "never_fires" in cond:
            layer, neuron = cond["never_fires"]
            bad = state.outputs[layer][:, neuron] == 1
        else:
            bad = sum(w[parents] for w in window) + spikes > cond["window_spikes_at_most"]["spikes"]
        if bad.any():
            return depth, len(seen)
        moved = [w[parents] for w in window[1:]] + [spikes] if window else []
        keys = _fingerprints(net, state, moved)
        fresh = []
        for k, key in enumerate(keys):
            if key not in seen:
                seen.add(key)
                fresh.append(k)
        if len(seen) > max_states:
            raise OverflowError(f"more than {max_states} reachable states")
        fresh = np.array(fresh, dtype=np.int64)
        frontier = _take_state(state, fresh)
        window = [w[fresh] for w in moved]
    return None, len(seen)


def draw_unbounded_example(condition: str, index: int) -> UnboundedExample:
    """A small model with a finite state space (few bits, leaky currents) and, half the time,
    a condition drawn at its edge."""
    from verisnn.properties import WindowSpikesAtMost

    rng = np.random.default_rng(seed_of(f"soundness-net/unbounded/{condition}/{index}"))
    n = 2
    layers, size_in = [], n
    for k in range(int(rng.integers(1, 3))):
        size = int(rng.integers(1, 3))
        kind = str(rng.choice(["if", "lif", "cuba_lif"]))
        neuron = _neuron(rng, size, kind, small_bits=True)
        weight = rng.integers(-2, 5, (size, size_in)) * (int(rng.integers(1, 3)) if condition == "no_overflow" else 1)
        layers.append(Dense(weight=weight.tolist(), bias=rng.integers(-1, 2, size).tolist(), neuron=neuron,
                            delay=int(rng.choice([0, 0, 1])),
                            recurrent=rng.integers(-2, 3, (size, size)).tolist() if rng.random() < 0.2 else None))
        size_in = size
    model = Model(time_steps=4, input=InputSpec(size=n), layers=tuple(layers), name="soundness-net-unbounded")
    if condition == "never_fires":
        layer = int(rng.integers(0, len(layers)))
        cond = NeverFires(layer, int(rng.integers(0, layers[layer].out_size)))
    elif condition == "no_overflow":
        cond = NoOverflow()
    else:
        cond = WindowSpikesAtMost(int(rng.integers(1, 4)), 0)
        # the edge: the most spikes any window reaches (holds), or one less (fails)
        lo, hi = 0, sum(layer.out_size for layer in layers) * cond.window
        while lo < hi:  # the least E that holds, by bisection over the explicit search
            mid = (lo + hi) // 2
            probe = Property(AnyInput(), WindowSpikesAtMost(cond.window, mid), horizon="unbounded")
            if explicit_search(model, probe)[0] is None:
                hi = mid
            else:
                lo = mid + 1
        cond = WindowSpikesAtMost(cond.window, lo if rng.random() < 0.5 or lo == 0 else lo - 1)
    prop = Property(AnyInput(), cond, horizon="unbounded")
    shortest, states = explicit_search(model, prop)
    return UnboundedExample(condition, index, model, prop, shortest, states)


def replay_problem(example: UnboundedExample, witness) -> str | None:
    """Why an unbounded witness (an input ``[L, n]`` of any length) does not violate the
    condition on the kernel's simulator run for ``L`` steps (None: it does)."""
    network, _, _, _, _ = kernel()
    w = None if witness is None else np.asarray(witness)
    n = example.model.input.size
    if w is None or w.ndim != 2 or w.shape[1] != n or w.shape[0] < 1 or not np.isin(w, (0, 1)).all():
        return f"the witness is not a 0/1 input [L, {n}]: {None if w is None else w.tolist()}"
    doc = model_to_dict(example.model)
    doc["time_steps"] = max(SEARCH_STEPS, w.shape[0])  # the same horizon as the search: delays deliver alike
    net = network.read_network(doc)
    state = network.initial_state(net, 1)
    cond = example.prop.condition.to_dict()
    recent: list[int] = []
    for t in range(w.shape[0]):
        state = network.step(net, state, w[t][None].astype(np.int8))
        if cond == "no_overflow" and state.overflow[0]:
            return None
        if isinstance(cond, dict) and "never_fires" in cond:
            layer, neuron = cond["never_fires"]
            if state.outputs[layer][0, neuron] == 1:
                return None
        if isinstance(cond, dict) and "window_spikes_at_most" in cond:
            body = cond["window_spikes_at_most"]
            recent.append(sum(int(o[0].sum()) for o, layer in zip(state.outputs, net.layers) if layer.fires))
            if sum(recent[-body["window"]:]) > body["spikes"]:
                return None
    return f"the witness {w.tolist()} does not violate the condition on the kernel's simulator"


def judge_unbounded(example: UnboundedExample, method: str, result) -> list[str]:
    problems = []
    if result.verdict == "verified" and example.shortest is not None:
        problems.append(f"{method} says verified; the explicit search reaches a violation after "
                        f"{example.shortest} steps")
    elif result.verdict == "falsified":
        why = replay_problem(example, result.witness)
        if why:
            problems.append(f"{method} says falsified, but {why}")
        elif example.shortest is None:
            problems.append(f"{method}'s witness violates on the kernel, but the explicit search found no "
                            "reachable violation: the search is wrong")
        elif method == "bmc" and len(result.witness) != example.shortest:
            problems.append(f"bmc's witness has {len(result.witness)} steps; the shortest violation has "
                            f"{example.shortest}")
    elif result.verdict == "error":
        problems.append(f"{method} answered error: {result.reason}")
    elif method == "bmc" and example.shortest is not None and example.shortest <= BMC_DEPTH \
            and (result.reason or "").startswith("no violation"):  # (a solver timeout is an unknown, counted)
        problems.append(f"bmc answered {result.verdict} ({result.reason}), but a violation of "
                        f"{example.shortest} steps lies within its depth")
    elif method == "explore" and result.verdict == "unknown":
        problems.append(f"explore answered unknown ({result.reason}) on a model of {example.states} "
                        "reachable states")
    return problems
