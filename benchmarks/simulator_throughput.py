"""Throughput of the exact integer simulator against float32 loops of the same network.

A random quantized-like 784-256-10 LIF network (integer weights in [-8, 8],
threshold 64, v_decay [7, 3] = 7/8, reset by subtraction, floor rounding,
24-bit saturating membranes), T=32 steps, a batch of 256 rate-like random
rasters (p=0.2, fixed seed). Side by side, in the same run:

* ``verisnn.simulator.simulate``: the exact integer reference simulator (its synaptic
  products through the exact int8 x int8 -> int32 kernel, since the weights fit int8),
  and the same with that kernel switched off (float32 BLAS, exact below 2^24);
* ``verisnn.torch_sim.simulate_torch``: the same semantics in torch float64 (exact mode);
* a plain torch float32 loop of the same network, written here directly, step by
  step, under ``torch.no_grad()``, in two variants: ``floor`` computes the same
  integer semantics in float32 (floor of ``7v/8``, the 24-bit clamp), ``plain``
  uses the usual float leak ``v = 0.875 v + a`` (no rounding);
* snnTorch's ``Leaky`` (beta 0.875, threshold 64, subtract) with ``nn.Linear``
  layers, if snnTorch is importable (it is not a dependency of verisnn).

Reported: best-of-N wall time, neuron-steps per second (neurons x T x batch / s)
and the ratio to the integer simulator; then how far each float variant's spikes
agree with the integer simulator's, and the machine.

    .venv/bin/python benchmarks/simulator_throughput.py [--threads N] [--rounds 3] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from verisnn import simulator
from verisnn.model import Dense, InputSpec, Model, Neuron

SIZES = (784, 256, 10)
THRESHOLD, DECAY_NUM, DECAY_SHIFT, V_BITS = 64, 7, 3, 24


@dataclass(frozen=True)
class Setup:
    """The network's integer weights, the model built from them, and the input rasters."""

    weights: tuple[np.ndarray, ...]  # [out, in] per layer
    model: Model
    raster: np.ndarray  # [B, T, n] int8


def make_setup(batch: int, steps: int, seed: int = 0, p: float = 0.2) -> Setup:
    rng = np.random.default_rng(seed)
    weights = tuple(rng.integers(-8, 9, size=(n_out, n_in)) for n_in, n_out in zip(SIZES, SIZES[1:]))
    layers = tuple(
        Dense(weight=w, neuron=Neuron(size=w.shape[0], model="lif", threshold=THRESHOLD,
                                      v_decay=(DECAY_NUM, DECAY_SHIFT), rounding="floor", reset="subtract",
                                      v_bits=V_BITS, on_overflow="saturate"))
        for w in weights)
    model = Model(time_steps=steps, input=InputSpec(size=SIZES[0]), layers=layers, name="bench-784-256-10")
    raster = (rng.random((batch, steps, SIZES[0])) < p).astype(np.int8)
    return Setup(weights, model, raster)


# ----------------------------------------------------------------------------- the runners
# Each returns every layer's spikes as [B, T, n] numpy arrays.


def run_integer(setup: Setup) -> list[np.ndarray]:
    return simulator.simulate(setup.model, setup.raster).layer_outputs


def integer_float_path(setup: Setup) -> Callable[[], list[np.ndarray]]:
    """The integer simulator with its int8 kernel switched off, so that the synaptic
    products go through float32 BLAS (what models with weights beyond int8 get)."""
    model = make_setup(setup.raster.shape[0], setup.raster.shape[1]).model  # its own parameter cache
    _, params = simulator._plan(model)
    for p in params:
        p.weight.int8_from = float("inf")
    return lambda: simulator.simulate(model, setup.raster).layer_outputs


def run_torch_exact(setup: Setup) -> list[np.ndarray]:
    from verisnn.torch_sim import simulate_torch

    return simulate_torch(setup.model, setup.raster)


def torch_loop(setup: Setup, exact_floor: bool) -> Callable[[], list[np.ndarray]]:
    """A plain float32 step-by-step loop of the network (the baseline being compared against)."""
    weights_t = [torch.tensor(w.T, dtype=torch.float32) for w in setup.weights]  # [in, out]
    beta, half = DECAY_NUM / (1 << DECAY_SHIFT), float(1 << (V_BITS - 1))

    def run() -> list[np.ndarray]:
        with torch.no_grad():
            x_all = torch.from_numpy(setup.raster).to(torch.float32)  # timed: every runner starts from int8
            B, T, _ = x_all.shape
            v = [torch.zeros(B, w.shape[1]) for w in weights_t]
            out = [torch.empty(B, T, w.shape[1]) for w in weights_t]
            for t in range(T):
                s = x_all[:, t]
                for k, w in enumerate(weights_t):
                    if exact_floor:  # the integer semantics, in float32 (exact: |values| < 2^24)
                        u = torch.clamp(torch.floor(v[k] * DECAY_NUM / (1 << DECAY_SHIFT)) + s @ w, -half, half - 1)
                    else:
                        u = beta * v[k] + s @ w
                    s = (u >= THRESHOLD).to(torch.float32)
                    v[k] = u - THRESHOLD * s
                    out[k][:, t] = s
        return [o.numpy() for o in out]

    return run


def snntorch_loop(setup: Setup) -> Callable[[], list[np.ndarray]] | None:
    """snnTorch's Leaky with nn.Linear layers of the same weights, or None if snnTorch is missing."""
    try:
        import snntorch
    except Exception:  # noqa: BLE001 - absent or broken beside this torch: reported as not installed
        return None
    linears, neurons = [], []
    for w in setup.weights:
        lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=False)
        lin.weight.data = torch.tensor(w, dtype=torch.float32)
        linears.append(lin)
        neurons.append(snntorch.Leaky(beta=DECAY_NUM / (1 << DECAY_SHIFT), threshold=float(THRESHOLD),
                                      reset_mechanism="subtract"))

    def run() -> list[np.ndarray]:
        with torch.no_grad():
            x_all = torch.from_numpy(setup.raster).to(torch.float32)
            B, T, _ = x_all.shape
            mem = [lif.init_leaky() for lif in neurons]
            out = [torch.empty(B, T, lin.out_features) for lin in linears]
            for t in range(T):
                s = x_all[:, t]
                for k, (lin, lif) in enumerate(zip(linears, neurons)):
                    s, mem[k] = lif(lin(s), mem[k])
                    out[k][:, t] = s
        return [o.numpy() for o in out]

    return run


def best_times(runs: dict[str, Callable[[], object]], repeats: int, rounds: int = 3
               ) -> dict[str, tuple[float, object]]:
    """Best wall time of each runner over ``rounds`` x ``repeats`` runs, and its result.

    Each round times every runner in a block of ``repeats`` consecutive runs after one
    warm-up run (interleaving single runs would let one library's spinning OpenMP/BLAS
    threads slow down the next on a small machine); several rounds spread a burst of
    load from elsewhere over all runners.
    """
    best = dict.fromkeys(runs, float("inf"))
    results = {}
    for _ in range(rounds):
        for name, run in runs.items():
            results[name] = run()  # warm-up: caches, thread pools, torch kernels
            for _ in range(repeats):
                start = time.perf_counter()
                results[name] = run()
                best[name] = min(best[name], time.perf_counter() - start)
    return {name: (best[name], results[name]) for name in runs}


# ----------------------------------------------------------------------------- agreement and machine


def agreement(reference: list[np.ndarray], other: list[np.ndarray]) -> str:
    """Per layer: the fraction of equal spikes, and the first step at which any sample differs."""
    parts = []
    for k, (a, b) in enumerate(zip(reference, other)):
        equal = a.astype(np.int8) == b.astype(np.int8)
        differs_at = np.flatnonzero(~equal.all(axis=(0, 2)))
        first = f"first difference at t={differs_at[0]}" if differs_at.size else "identical"
        parts.append(f"layer {k}: {equal.mean():.2%} equal, {first}")
    return "; ".join(parts)


def machine() -> list[str]:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    lines = [f"CPU: {cpu}; {os.cpu_count()} logical cores; {platform.system()} {platform.release()}",
             f"Python {platform.python_version()}; numpy {np.__version__}; torch {torch.__version__} "
             f"({torch.get_num_threads()} threads)"]
    try:
        from threadpoolctl import threadpool_info
        for pool in threadpool_info():
            lines.append(f"BLAS/OpenMP: {pool.get('internal_api')} {pool.get('version')} "
                         f"({pool.get('num_threads')} threads, {os.path.basename(pool.get('filepath', ''))})")
    except ImportError:
        lines.append("BLAS: threadpoolctl not installed")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per round and runner")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of timed runs; the best run counts")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None,
                        help="limit BLAS and torch to this many threads (default: their own defaults)")
    args = parser.parse_args()
    if args.threads is not None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)
        torch.set_num_threads(args.threads)

    setup = make_setup(args.batch, args.steps, args.seed)
    neuron_steps = sum(SIZES[1:]) * args.steps * args.batch
    runners: list[tuple[str, Callable | None]] = [
        ("verisnn integer simulator (exact)", lambda: run_integer(setup)),
        ("verisnn integer simulator, float32 BLAS products (int8 kernel off)", integer_float_path(setup)),
        ("verisnn torch simulator (exact, float64)", lambda: run_torch_exact(setup)),
        ("torch float32 loop, floor leak (same semantics)", torch_loop(setup, exact_floor=True)),
        ("torch float32 loop, plain leak 0.875·v", torch_loop(setup, exact_floor=False)),
        ("snnTorch Leaky (beta 0.875, subtract)", snntorch_loop(setup)),
    ]
    print(f"network {'-'.join(map(str, SIZES))} LIF, T={args.steps}, batch {args.batch}, "
          f"input p=0.2, seed {args.seed}; best of {args.rounds} x {args.repeats} runs\n")
    print("| simulator | best wall time (ms) | neuron-steps/s | integer simulator's speed relative to it |")
    print("|---|---:|---:|---:|")
    timed = best_times({name: run for name, run in runners if run is not None}, args.repeats, args.rounds)
    reference_time = timed[runners[0][0]][0]
    for name, run in runners:
        if run is None:
            print(f"| {name} | not installed | | |")
            continue
        seconds = timed[name][0]
        print(f"| {name} | {seconds * 1e3:.1f} | {neuron_steps / seconds:.3g} | {seconds / reference_time:.2f}x |")
    results = {name: spikes for name, (_, spikes) in timed.items()}

    reference = results.pop(runners[0][0])
    print("\nspike agreement with the integer simulator:")
    for name, spikes in results.items():
        print(f"- {name}: {agreement(reference, spikes)}")
    print("\nmachine:")
    for line in machine():
        print(f"- {line}")


if __name__ == "__main__":
    main()
