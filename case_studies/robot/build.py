"""Build the robot case study: a tiny spiking obstacle-avoidance controller, proved safe for all time.

The controller is **designed by hand, not trained**: every weight below is chosen and
explained (see ``docs/robot.md``). Inputs are four sensor spike channels, outputs three
motor neurons; the readout is ``spike_count``::

    inputs  0 obstacle_left   1 obstacle_centre   2 obstacle_right   3 go
    hidden  0 alarm   1 centre   2 go   3 left   4 right       (sensory layer)
    outputs 0 forward   1 turn_left   2 turn_right             (motor layer)

``alarm`` is the only neuron with memory: a centre spike puts 64 on its membrane, which
halves every step (``v_decay [1, 1]``) and fires while it is at least 6, so it fires at
the spike's step and the 3 after it (64, 32, 16, 8; then 4 < 6; a step longer when
spikes pile up). It inhibits ``forward``
on every step it fires. ``robot-naive`` is the same controller with a faster leak
(``v_decay [1, 2]``: 64, 16, then 4 < 6), so its alarm lasts 2 steps instead of 4.

The build writes both models, proves ``never_forward_after_obstacle.yaml`` on
``robot-safe`` for all time with k-induction and with PDR, finds the counterexample on
``robot-naive`` with bounded model checking, replays it, and drives both controllers
around a small grid world with noisy sensors. Run::

    python case_studies/robot/build.py --out DIR [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

from verisnn import Dense, InputSpec, Model, Neuron, Readout, save_model, simulate
from verisnn.errors import VerisnnError
from verisnn.properties import load_property
from verisnn.semantics import initial_network_state, network_step
from verisnn.simulator import NumpyOps, layer_params
from verisnn.unbounded import replay_unbounded, verify_unbounded

HERE = Path(__file__).resolve().parent
PROPERTY = HERE / "never_forward_after_obstacle.yaml"
EXTRA_PROPERTIES = (HERE / "turns_at_obstacle.yaml", HERE / "no_overflow.yaml")

INPUTS = ("obstacle_left", "obstacle_centre", "obstacle_right", "go")
HIDDEN = ("alarm", "centre", "go", "left", "right")
OUTPUTS = ("forward", "turn_left", "turn_right")
LEFT, CENTRE, RIGHT, GO = range(4)
FORWARD, TURN_LEFT, TURN_RIGHT = range(3)

ALARM_WEIGHT, ALARM_THRESHOLD = 64, 6
ALARM_LEAK = {"safe": (1, 1), "naive": (1, 2)}  # v <- floor(v * num / 2^shift): halve, or quarter
MEMORYLESS = (0, 0)  # decay(v, [0, 0]) = 0: the neuron forgets its membrane every step
TIME_STEPS = 16  # the bounded horizon stored in the file; the safety proofs are for every length


def controller(variant: str) -> Model:
    """The hand-designed controller, ``variant`` ``safe`` or ``naive`` (only the alarm's leak differs)."""
    # Sensory layer [hidden][input]: the alarm integrates the centre sensor; the other four
    # neurons relay one sensor each (weight 1, threshold 1, no memory).
    sensory = [
        [0, ALARM_WEIGHT, 0, 0],  # alarm  <- centre
        [0, 1, 0, 0],             # centre <- centre
        [0, 0, 0, 1],             # go     <- go
        [1, 0, 0, 0],             # left   <- left
        [0, 0, 1, 0],             # right  <- right
    ]
    sensory_neuron = Neuron(size=5, model="lif", threshold=[ALARM_THRESHOLD, 1, 1, 1, 1],
                            v_decay=[ALARM_LEAK[variant]] + [MEMORYLESS] * 4, reset="none", v_bits=12)
    # Motor layer [output][hidden], all memoryless, threshold 1:
    #   forward    = go - 2 alarm               fires iff go and not alarm
    #   turn_left  = centre + right - left      fires iff that is >= 1 (ahead or right, unless left)
    #   turn_right = left                       an obstacle on the left
    motor = [
        [-2, 0, 1, 0, 0],
        [0, 1, 0, -1, 1],
        [0, 0, 0, 1, 0],
    ]
    motor_neuron = Neuron(size=3, model="lif", threshold=1, v_decay=MEMORYLESS, reset="none", v_bits=12)
    return Model(
        time_steps=TIME_STEPS,
        input=InputSpec(size=4, encoding=None),
        layers=(Dense(weight=sensory, neuron=sensory_neuron), Dense(weight=motor, neuron=motor_neuron)),
        readout=Readout(type="spike_count", ties="invalid"),
        name=f"robot-{variant}",
        provenance={"designed_by_hand": True, "trained": False,
                    "inputs": list(INPUTS), "hidden": list(HIDDEN), "outputs": list(OUTPUTS),
                    "note": "obstacle-avoidance controller of case_studies/robot; see docs/robot.md"},
    )


# ---------------------------------------------------------------- verification


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def _result_record(result, seconds: float) -> dict:
    rec = {"verdict": result.verdict, "method": result.method, "time_s": round(seconds, 4),
           "reason": result.reason, "evidence": result.evidence}
    if result.witness is not None:
        rec["witness_length"] = int(result.witness.shape[0])
        rec["witness"] = result.witness.astype(int).tolist()
    return rec


def forward_violations(model: Model, raster: np.ndarray, within: int) -> list[int]:
    """Steps at which ``forward`` fires although the centre sensor spiked at that step or
    one of the ``within - 1`` steps before, on the reference simulator: the property read
    directly off a simulation, independently of the verification engine."""
    run = simulate(dataclasses.replace(model, time_steps=raster.shape[0]), raster)
    forward = run.output_spikes[0][:, FORWARD]
    centre = raster[:, CENTRE]
    return [t for t in range(raster.shape[0])
            if forward[t] and centre[max(0, t - within + 1): t + 1].any()]


def verify_all(safe: Model, naive: Model) -> dict:
    prop = load_property(PROPERTY)
    within = prop.condition.within
    out: dict = {"property": PROPERTY.name, "within": within}
    for method in ("kinduction", "pdr", "explore"):  # explore: an explicit-state cross-check
        result, seconds = _timed(verify_unbounded, safe, prop, method=method, timeout=60)
        out[f"safe_{method}"] = _result_record(result, seconds)

    def falsify(model: Model, p) -> dict:
        result, seconds = _timed(verify_unbounded, model, p, method="bmc", timeout=60)
        rec = _result_record(result, seconds)
        if result.witness is not None:
            rec["replay_first_violation"] = replay_unbounded(model, p, result.witness)
            rec["simulated_violations"] = forward_violations(model, result.witness, p.condition.within)
        return rec

    out["naive_bmc"] = falsify(naive, prop)
    # The proof is tight, not vacuous: the safe alarm's hold is exactly `within` steps, so
    # asking for one step more must fail.
    longer = dataclasses.replace(prop, condition=dataclasses.replace(prop.condition, within=within + 1),
                                 name=f"{prop.name}-within-{within + 1}")
    out[f"safe_within_{within + 1}_bmc"] = falsify(safe, longer)
    for path in EXTRA_PROPERTIES:
        extra = load_property(path)
        for variant, model in (("safe", safe), ("naive", naive)):
            result, seconds = _timed(verify_unbounded, model, extra, method="auto", timeout=60)
            out[f"{variant}_{path.stem}"] = _result_record(result, seconds)
    return out


# ---------------------------------------------------------------- behaviour in a grid world

HEADINGS = ((0, 1), (1, 0), (0, -1), (-1, 0))  # east, south, west, north as (drow, dcol); +1 turns right


@dataclasses.dataclass(frozen=True)
class World:
    """A walled ``size`` x ``size`` grid with random blocks; the robot senses the cell ahead
    (centre) and the two cells diagonally ahead (left, right), each obstacle seen with
    probability ``detect`` per step (sensor dropout), and gets a ``go`` spike with
    probability ``go``."""

    size: int = 14
    blocks: float = 0.12
    detect: float = 0.8
    go: float = 0.9
    steps: int = 600
    seed: int = 0

    def grid(self) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        g = rng.random((self.size, self.size)) < self.blocks
        g[0, :] = g[-1, :] = g[:, 0] = g[:, -1] = True
        g[1, 1] = False  # the start cell
        return g


def run_episode(model: Model, world: World) -> dict:
    """Drive ``model`` in closed loop for ``world.steps`` steps; one step of the network per
    step of the world (``semantics.network_step``: the same update as the simulator).
    Motor decoding: ``forward`` moves one cell ahead (into a block: a collision, the robot
    stays), then ``turn_left`` / ``turn_right`` turn by 90 degrees (both: turn around)."""
    rng = np.random.default_rng(world.seed + 1)
    grid = world.grid()
    params, dtype = layer_params(model)
    ops = NumpyOps(dtype)
    state = initial_network_state(ops, model, (1,))
    pos, heading = (1, 1), 0
    raster, motor, blocked_ahead = [], [], []
    collisions, moves, visited = 0, 0, {pos}
    for _ in range(world.steps):
        dr, dc = HEADINGS[heading]
        ldr, ldc = HEADINGS[(heading - 1) % 4]
        rdr, rdc = HEADINGS[(heading + 1) % 4]
        ahead = (pos[0] + dr, pos[1] + dc)
        left = (pos[0] + dr + ldr, pos[1] + dc + ldc)
        right = (pos[0] + dr + rdr, pos[1] + dc + rdc)
        seen = [grid[cell] and rng.random() < world.detect for cell in (left, ahead, right)]
        x = np.array([[*seen, rng.random() < world.go]], dtype=np.int8)
        state, outs = network_step(ops, model, params, state, x)
        spikes = outs[-1][0]
        raster.append(x[0])
        motor.append(spikes.copy())
        blocked_ahead.append(bool(grid[ahead]))
        if spikes[FORWARD]:
            if grid[ahead]:
                collisions += 1
            else:
                pos, moves = ahead, moves + 1
                visited.add(pos)
        heading = (heading + int(spikes[TURN_RIGHT]) - int(spikes[TURN_LEFT])) % 4
        if spikes[TURN_LEFT] and spikes[TURN_RIGHT]:
            heading = (heading + 2) % 4
    raster, motor = np.array(raster, dtype=np.int8), np.array(motor, dtype=np.int8)
    # The closed loop and the reference simulator must agree on the recorded inputs.
    replay = simulate(dataclasses.replace(model, time_steps=len(raster)), raster).output_spikes[0]
    if not np.array_equal(replay, motor):
        raise VerisnnError("closed-loop run and reference simulator disagree", "robot.episode")
    within = load_property(PROPERTY).condition.within
    centre = raster[:, CENTRE]
    recent = np.array([centre[max(0, t - within + 1): t + 1].any() for t in range(len(centre))])
    blocked = np.array(blocked_ahead)
    free = (raster[:, GO] == 1) & ~recent & ~blocked
    turning = motor[:, TURN_LEFT] | motor[:, TURN_RIGHT]
    crashed = (motor[:, FORWARD] == 1) & blocked
    rate = lambda hits, where: round(float(hits[where].mean()), 4) if where.any() else None  # noqa: E731
    return {
        "steps": len(raster),
        "moves": moves,
        "cells_visited": len(visited),
        "collisions": collisions,
        "collisions_within_window": int((crashed & recent).sum()),
        "forward_in_free_space": rate(motor[:, FORWARD], free),
        "free_space_steps": int(free.sum()),
        "turn_on_centre_spike": rate(turning, centre == 1),
        "centre_spikes": int(centre.sum()),
        "property_violations": len(forward_violations(model, raster, within)),
    }


# ---------------------------------------------------------------- command line


def build(out_dir: Path) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    safe, naive = controller("safe"), controller("naive")
    summary: dict = {"name": "robot", "designed_by_hand": True, "models": {}}
    for model in (safe, naive):
        path = out_dir / f"{model.name}.snn.json"
        summary["models"][model.name] = {"path": str(path), "sha256": save_model(model, path)}
    start = time.perf_counter()
    summary["verification"] = verify_all(safe, naive)
    summary["verification_time_s"] = round(time.perf_counter() - start, 3)
    world = World()
    summary["episode"] = {"world": dataclasses.asdict(world),
                          "robot-safe": run_episode(safe, world), "robot-naive": run_episode(naive, world)}
    summary["failed_expectations"] = failed_expectations(summary)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def failed_expectations(summary: dict) -> list[str]:
    """What the case study claims and the build did not confirm (empty: all confirmed)."""
    v, w = summary["verification"], summary["verification"]["within"]
    want = {"safe_kinduction": "verified", "safe_pdr": "verified", "safe_explore": "verified",
            "naive_bmc": "falsified", f"safe_within_{w + 1}_bmc": "falsified"}
    failed = [f"{key}: expected {verdict}, got {v[key]['verdict']} ({v[key]['reason']})"
              for key, verdict in want.items() if v[key]["verdict"] != verdict]
    for key in ("naive_bmc", f"safe_within_{w + 1}_bmc"):
        if v[key]["verdict"] == "falsified" and not v[key]["simulated_violations"]:
            failed.append(f"{key}: the witness shows no violation on the simulator")
    if summary["episode"]["robot-safe"]["property_violations"]:
        failed.append("episode: robot-safe violated the property")
    return failed


def _describe(rec: dict) -> str:
    ev = rec.get("evidence") or {}
    detail = ", ".join(f"{k} {v}" for k, v in ev.items() if isinstance(v, (int, float, str)) and len(str(v)) < 40)
    return f"{rec['verdict']} in {rec['time_s']:.3f} s" + (f" ({detail})" if detail else "")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Build the robot case study (designed, not trained)")
    parser.add_argument("--out", default=str(Path("artifacts") / "robot"))
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    args = parser.parse_args(argv)
    try:
        summary = build(Path(args.out))
    except VerisnnError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    status = 1 if summary["failed_expectations"] else 0
    if args.json:
        print(json.dumps(summary))
        return status
    v = summary["verification"]
    w = v["within"]
    print(f"robot: models in {args.out} (designed by hand, not trained)")
    print(f"  {v['property']} (no forward within {w} steps of a centre-obstacle spike, for ever):")
    for label, key in (("robot-safe  k-induction", "safe_kinduction"), ("robot-safe  PDR", "safe_pdr"),
                       ("robot-safe  explore", "safe_explore"), ("robot-naive BMC", "naive_bmc"),
                       (f"robot-safe  BMC, within {w + 1}", f"safe_within_{w + 1}_bmc")):
        rec = v[key]
        line = f"    {label:<26} {_describe(rec)}"
        if "witness_length" in rec:
            line += (f"; witness of {rec['witness_length']} steps, replayed: first violation at step "
                     f"{rec['replay_first_violation']}")
        print(line)
    for path in EXTRA_PROPERTIES:
        for variant in ("safe", "naive"):
            print(f"  {path.name:<22} robot-{variant:<6} {_describe(v[f'{variant}_{path.stem}'])}")
    for name in ("robot-safe", "robot-naive"):
        e = summary["episode"][name]
        print(f"  episode {name}: {e['moves']} moves in {e['steps']} steps, {e['cells_visited']} cells, "
              f"{e['collisions']} collisions ({e['collisions_within_window']} within {w} steps of a centre spike), "
              f"forward in free space {e['forward_in_free_space']}, turn on centre spike "
              f"{e['turn_on_centre_spike']}, property violations {e['property_violations']}")
    for problem in summary["failed_expectations"]:
        print(f"  NOT CONFIRMED: {problem}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
