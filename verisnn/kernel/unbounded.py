"""The unbounded safety conditions of docs/properties.md ("Horizon"), evaluated at one step
from the steps before it: what a witness replay and the state search both ask."""

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


def violated_at(condition, steps: list, overflowed: bool) -> bool:
    """Is the condition violated at the last of ``steps``? Each step is ``(input row,
    per-layer spikes)``, oldest first, at most :func:`lookback` + 1 of them (fewer near the
    start of the run: steps before 0 do not exist); ``overflowed``: some pre-overflow
    membrane of the last step lay outside its range."""
    if condition == "no_overflow":
        return overflowed
    (key, arg), = condition.items()
    row, spikes = steps[-1]
    if key == "never_fires":
        return bool(spikes[arg[0]][arg[1]])
    if key == "window_spikes_at_most":
        return sum(sum(map(sum, s)) for _, s in steps[-arg["window"]:]) > arg["spikes"]
    if key == "never_fires_after":
        layer, j = arg["neuron"]
        return bool(spikes[layer][j]) and any(r[c] for r, _ in steps[-arg["within"]:] for c in arg["inputs"])
    if key == "responds_within":
        pattern, k, cls = arg["pattern"], arg["steps"], arg.get("class")
        if len(steps) < k + len(pattern):
            return False
        seen = steps[len(steps) - k - len(pattern): len(steps) - k]
        matched = all(r[c] for (r, _), channels in zip(seen, pattern) for c in channels)
        answered = any(any(s[-1]) if cls is None else s[-1][cls] for _, s in steps[len(steps) - k - 1:])
        return matched and not answered
    raise ValueError(f"the kernel knows no unbounded condition {key!r}")
