"""The unbounded safety conditions of docs/properties.md ("Horizon"), evaluated at one step
from what the condition reads of that step and of the steps before it: what a witness
replay and the state search both ask. A step is kept as its *reading* — only what the
condition looks at — so that the search's states hold no more history than it needs."""

from __future__ import annotations


def lookback(condition) -> int:
    """How many steps before the current one the condition reads."""
    if condition == "no_overflow" or "never_fires" in condition:
        return 0
    (key, arg), = condition.items()
    if key == "window_spikes_at_most":
        return arg["window"] - 1
    if key == "never_fires_after":
        return arg["within"] - 1
    if key == "responds_within":
        return arg["steps"] + len(arg["pattern"]) - 1
    raise ValueError(f"the kernel knows no unbounded condition {key!r}")


def reading(condition, x, spikes) -> tuple:
    """What the condition reads of one step with input row ``x`` and per-layer ``spikes``."""
    if condition == "no_overflow":
        return ()
    (key, arg), = condition.items()
    if key == "never_fires":
        return (int(spikes[arg[0]][arg[1]]),)
    if key == "window_spikes_at_most":
        return (sum(int(sum(s)) for s in spikes),)
    if key == "never_fires_after":
        layer, j = arg["neuron"]
        return (int(any(x[c] for c in arg["inputs"])), int(spikes[layer][j]))
    if key == "responds_within":
        channels = sorted({c for step in arg["pattern"] for c in step})
        out = spikes[-1]
        answered = any(out) if arg.get("class") is None else bool(out[arg["class"]])
        return (tuple(int(x[c]) for c in channels), int(answered))
    raise ValueError(f"the kernel knows no unbounded condition {key!r}")


def violated_at(condition, readings: list, overflowed: bool) -> bool:
    """Is the condition violated at the last of ``readings`` (oldest first, at most
    :func:`lookback` + 1; fewer near the start of the run: steps before 0 do not exist)?
    ``overflowed``: some pre-overflow membrane of the last step lay outside its range."""
    if condition == "no_overflow":
        return overflowed
    (key, arg), = condition.items()
    if key == "never_fires":
        return bool(readings[-1][0])
    if key == "window_spikes_at_most":
        return sum(r[0] for r in readings[-arg["window"]:]) > arg["spikes"]
    if key == "never_fires_after":
        return bool(readings[-1][1]) and any(r[0] for r in readings[-arg["within"]:])
    if key == "responds_within":
        pattern, k = arg["pattern"], arg["steps"]
        if len(readings) < k + len(pattern):
            return False
        channels = sorted({c for step in pattern for c in step})
        seen = readings[len(readings) - k - len(pattern): len(readings) - k]
        matched = all(r[0][channels.index(c)] for r, step in zip(seen, pattern) for c in step)
        return matched and not any(r[1] for r in readings[len(readings) - k - 1:])
    raise ValueError(f"the kernel knows no unbounded condition {key!r}")
