"""Raster regions around a raster centre (docs/properties.md: "Regions", "Jitter, precisely",
"Region sizes"), re-implemented for the checking kernel.

A region document is ``"any"``, ``{"flips": k}``, ``{"deletions": k}``, ``{"insertions": k}`` or
``{"jitter": {"shift": d, "spikes": k}}``; the centre is a ``[T, n]`` raster of 0/1. Intensity
regions have an analog centre and go through :mod:`.encoders` instead.

Two independent arguments meet here on purpose: jitter membership is a minimum-cost assignment
(:func:`_fewest_moves`), while jitter size, enumeration and changeable bits come from trying
every placement of each channel's spikes (:func:`_channel_columns`); the tests hold them equal.
"""

from __future__ import annotations

import itertools
from fractions import Fraction
from typing import Iterator

import numpy as np

from .guard import NO_LIMITS, Limits

CELL_KINDS = ("flips", "deletions", "insertions")


# ---------------------------------------------------------------- reading the documents

def _count(value, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{where}: expected a non-negative integer, got {value!r}")
    return value


def read_region(region) -> tuple[str, dict]:
    """The region's kind and its parameters (docs/properties.md, "Regions")."""
    if isinstance(region, str):
        if region == "any":
            return "any", {}
        raise ValueError(f"region: expected 'any' or an object with one key, got {region!r}")
    if not isinstance(region, dict) or len(region) != 1:
        raise ValueError(f"region: expected 'any' or an object with exactly one key, got {region!r}")
    ((kind, arg),) = region.items()
    if kind == "intensity":
        raise ValueError("region.intensity: an intensity region has an analog centre; "
                         "it is checked through the kernel's encoders, not as a raster region")
    if kind in CELL_KINDS:
        return kind, {"k": _count(arg, f"region.{kind}")}
    if kind == "jitter":
        if not isinstance(arg, dict) or set(arg) != {"shift", "spikes"}:
            raise ValueError(f"region.jitter: expected an object with keys shift and spikes, got {arg!r}")
        return "jitter", {"shift": _count(arg["shift"], "region.jitter.shift"),
                          "spikes": _count(arg["spikes"], "region.jitter.spikes")}
    raise ValueError(f"region: unknown region kind {kind!r}")


def read_raster(x, what: str = "centre") -> np.ndarray:
    """A ``[T, n]`` array of integers 0/1 as int8; anything else is a ValueError."""
    arr = np.asarray(x)
    if arr.ndim != 2 or arr.dtype.kind not in "biu":
        raise ValueError(f"{what}: expected a [T, n] raster of 0/1 integers, got shape "
                         f"{list(arr.shape)} dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() > 1):
        raise ValueError(f"{what}: raster entries must be 0 or 1")
    return arr.astype(np.int8)


def _cell_choice(kind: str, params: dict, c: np.ndarray) -> tuple[np.ndarray, int]:
    """For any / flips / deletions / insertions: the flat cells the region may flip and how many
    of them at most (each of these regions is "flip at most k of these cells")."""
    flat = c.reshape(-1)
    if kind == "any":
        return np.arange(flat.size), flat.size
    if kind == "flips":
        return np.arange(flat.size), params["k"]
    if kind == "deletions":  # r <= c: only spikes may go
        return np.flatnonzero(flat == 1), params["k"]
    return np.flatnonzero(flat == 0), params["k"]  # insertions: r >= c


# ---------------------------------------------------------------- jitter, one channel at a time

def _fewest_moves(centre_times: list[int], times: list[int], shift: int, limits: Limits) -> int | None:
    """Fewest moved spikes over the bijections ``centre_times -> times`` that move no spike by
    more than ``shift`` (``None``: there is none). docs/properties.md, "Jitter, precisely".

    A minimum-cost assignment by the Hungarian method (potentials, O(p^3)): cost 0 for a spike
    that stays, 1 for a move within ``shift``, and ``p + 1`` beyond it, more than any feasible
    total, so a total of ``p + 1`` or more means no bijection exists."""
    p = len(centre_times)
    if p != len(times):
        return None
    far = p + 1
    cost = [[0 if s == t else 1 if abs(s - t) <= shift else far for t in times] for s in centre_times]
    inf = float("inf")
    u, v = [0] * (p + 1), [0] * (p + 1)  # potentials of rows and columns (1-based; 0 is a sentinel)
    row_of = [0] * (p + 1)  # row_of[j]: the row assigned to column j (0: none yet)
    for i in range(1, p + 1):  # add row i, then augment along a shortest path
        limits.tick()
        row_of[0], j0 = i, 0
        slack, came_from, done = [inf] * (p + 1), [0] * (p + 1), [False] * (p + 1)
        while row_of[j0] != 0:
            done[j0] = True
            i0, step, j1 = row_of[j0], inf, 0
            for j in range(1, p + 1):
                if not done[j]:
                    reduced = cost[i0 - 1][j - 1] - u[i0] - v[j]
                    if reduced < slack[j]:
                        slack[j], came_from[j] = reduced, j0
                    if slack[j] < step:
                        step, j1 = slack[j], j
            for j in range(p + 1):
                if done[j]:
                    u[row_of[j]] += step
                    v[j] -= step
                else:
                    slack[j] -= step
            j0 = j1
        while j0 != 0:  # flip the augmenting path
            j1 = came_from[j0]
            row_of[j0], j0 = row_of[j1], j1
    total = sum(cost[row_of[j] - 1][j - 1] for j in range(1, p + 1))
    return None if total >= far else total


def _channel_columns(spikes: tuple[int, ...], T: int, shift: int, budget: int,
                     limits: Limits) -> dict[int, int]:
    """Every column (a bitmask over the ``T`` steps) that at most ``budget`` moves make of the
    spike times ``spikes``, with the fewest moves that reach it (docs/properties.md, "Region
    sizes"): each spike in turn stays or moves within ``shift`` onto a step no earlier spike
    took, so every bijection of the definition is tried and the minimum is exact."""
    fewest: dict[int, int] = {}
    stack = [(0, 0, 0)]  # (next spike, steps taken so far as a bitmask, moves so far)
    while stack:
        limits.tick()
        i, taken, moved = stack.pop()
        if i == len(spikes):
            if moved < fewest.get(taken, budget + 1):
                fewest[taken] = moved
                if len(fewest) % 65536 == 0:
                    limits.need(len(fewest) * 200, "the columns of a jitter region")
            continue
        t = spikes[i]
        for step in range(max(0, t - shift), min(T - 1, t + shift) + 1):
            cost = 0 if step == t else 1
            if not taken >> step & 1 and moved + cost <= budget:
                stack.append((i + 1, taken | 1 << step, moved + cost))
    return fewest


def _jitter_options(c: np.ndarray, shift: int, budget: int, limits: Limits) -> list[list[tuple[int, np.ndarray]]]:
    """Per channel, its other columns ``(fewest moves, column [T] int8)``, fewest moves first."""
    T, n = c.shape
    limits.need(T * n * 8, "the spike times of the centre")
    per_spikes: dict[tuple[int, ...], list] = {}  # channels with equal spike times share the work
    options = []
    for ch in range(n):
        limits.tick()
        spikes = tuple(int(t) for t in np.flatnonzero(c[:, ch]))
        if spikes not in per_spikes:
            centre_mask = sum(1 << t for t in spikes)
            found = _channel_columns(spikes, T, shift, budget, limits)
            limits.need(len(found) * T, "the columns of a jitter region")
            per_spikes[spikes] = [(moves, np.array([mask >> t & 1 for t in range(T)], dtype=np.int8))
                                  for moves, mask in sorted((moves, mask) for mask, moves in found.items()
                                                            if mask != centre_mask)]
        options.append(per_spikes[spikes])
    return options


# ---------------------------------------------------------------- the four questions

def _binomial_prefix(m: int, k: int, limits: Limits) -> int:
    """``sum(C(m, j) for j <= min(k, m))``, each term from the previous one."""
    total = term = 1
    for j in range(1, min(k, m) + 1):
        limits.tick()
        term = term * (m - j + 1) // j
        total += term
    return total


def size(region, centre, limits: Limits = NO_LIMITS) -> int:
    """The exact number of rasters in the region (docs/properties.md, "Region sizes")."""
    kind, params = read_region(region)
    c = read_raster(centre)
    if kind != "jitter":
        cells, budget = _cell_choice(kind, params, c)
        return _binomial_prefix(len(cells), budget, limits)
    budget = params["spikes"]
    by_moves = [1] + [0] * budget  # by_moves[m]: rasters over the channels so far needing m moves
    for opts in _jitter_options(c, params["shift"], budget, limits):
        hist = [1] + [0] * budget
        for moves, _ in opts:
            hist[moves] += 1
        by_moves = [sum(by_moves[a] * hist[m - a] for a in range(m + 1)) for m in range(budget + 1)]
        limits.tick()
    return sum(by_moves)


def contains(region, centre, raster, limits: Limits = NO_LIMITS) -> bool:
    """Whether ``raster`` lies in the region around ``centre`` (docs/properties.md, "Regions")."""
    kind, params = read_region(region)
    c, r = read_raster(centre), read_raster(raster, "raster")
    if c.shape != r.shape:
        return False
    if kind != "jitter":
        cells, budget = _cell_choice(kind, params, c)
        differing = np.flatnonzero(c.reshape(-1) != r.reshape(-1))
        return len(differing) <= budget and bool(np.isin(differing, cells).all())
    total = 0
    for ch in range(c.shape[1]):
        moves = _fewest_moves(np.flatnonzero(c[:, ch]).tolist(), np.flatnonzero(r[:, ch]).tolist(),
                              params["shift"], limits)
        if moves is None:
            return False
        total += moves
    return total <= params["spikes"]


def changeable(region, centre, limits: Limits = NO_LIMITS) -> np.ndarray:
    """``[T, n]`` bool: the cells some raster of the region sets differently from the centre."""
    kind, params = read_region(region)
    c = read_raster(centre)
    out = np.zeros(c.shape, dtype=bool)
    if kind != "jitter":
        cells, budget = _cell_choice(kind, params, c)
        if budget > 0:
            out.reshape(-1)[cells] = True
        return out
    for ch, opts in enumerate(_jitter_options(c, params["shift"], params["spikes"], limits)):
        for _, column in opts:
            out[:, ch] |= column != c[:, ch]
    return out


def batches(region, centre, limits: Limits = NO_LIMITS, batch: int = 4096) -> Iterator[np.ndarray]:
    """Every raster of the region exactly once, in int8 batches ``[B, T, n]`` (``B <= batch``),
    the centre first."""
    kind, params = read_region(region)
    c = read_raster(centre)
    T, n = c.shape
    per_raster = max(1, T * n) * 10  # the raster, and up to T*n int64 indices of flipped cells
    room = limits.batch(per_raster, max(1, batch))
    limits.need(room * per_raster, "a batch of rasters")
    if kind != "jitter":
        yield from _cell_batches(c, *_cell_choice(kind, params, c), room, limits)
    else:
        yield from _jitter_batches(c, params, room, limits)


def _cell_batches(c: np.ndarray, cells: np.ndarray, budget: int, room: int, limits: Limits) -> Iterator[np.ndarray]:
    """The centre with every set of at most ``budget`` of ``cells`` flipped, smallest sets first."""
    flat = c.reshape(-1)
    for j in range(min(budget, len(cells)) + 1):
        for chunk in limits.chunks(itertools.combinations(cells.tolist(), j), room):
            flipped = np.array(chunk, dtype=np.int64).reshape(len(chunk), j)
            out = np.repeat(flat[None, :], len(chunk), axis=0)
            out[np.arange(len(chunk))[:, None], flipped] ^= 1
            yield out.reshape(len(chunk), *c.shape)


def _jitter_batches(c: np.ndarray, params: dict, room: int, limits: Limits) -> Iterator[np.ndarray]:
    """Every choice of channels, each at one of its other columns, with at most ``spikes`` moves in
    all; channels chosen in increasing order, so each raster comes once (the empty choice first)."""
    options = _jitter_options(c, params["shift"], params["spikes"], limits)
    movable = [ch for ch in range(c.shape[1]) if options[ch]]
    out, filled = np.empty((room,) + c.shape, dtype=np.int8), 0
    stack: list[tuple[int, int, tuple]] = [(0, params["spikes"], ())]  # (next position in movable, moves left, choice)
    while stack:
        limits.tick()
        first, left, chosen = stack.pop()
        out[filled] = c
        for ch, column in chosen:
            out[filled, :, ch] = column
        filled += 1
        if filled == room:
            yield out.copy()
            filled = 0
        if left == 0:  # every other column costs a move
            continue
        for pos in reversed(range(first, len(movable))):  # pushed in reverse: popped in order
            ch = movable[pos]
            for moves, column in reversed(options[ch]):
                if moves <= left:
                    stack.append((pos + 1, left - moves, chosen + ((ch, column),)))
    if filled:
        yield out[:filled].copy()


def count_matches(said, exact: int) -> bool:
    """Does a recorded count ``said`` name ``exact``? An integer must equal it; a count too
    long to print (at least 10^1000) is recorded as text, ``2^k`` (then it must be exactly
    2^k) or ``about M.MMMeX`` (then ``exact`` must lie within one unit of its last printed
    digit: the producer prints it from a float logarithm)."""
    if isinstance(said, int) and not isinstance(said, bool):
        return said == exact
    if not isinstance(said, str) or exact < 10 ** 1000:
        return False
    if said.startswith("2^") and said[2:].isdigit():
        return exact == 1 << int(said[2:])
    mantissa, _, exponent = said.removeprefix("about ").partition("e")
    try:
        m, x = Fraction(mantissa), int(exponent)
    except ValueError:
        return False
    return said.startswith("about ") and abs(Fraction(exact, 10 ** (x - 3)) - m * 1000) <= 1


def count_words(n: int) -> str:
    """A count for a message: exact below 10^30, else its power of two (never a huge decimal)."""
    return str(n) if n < 10 ** 30 else f"about 2^{n.bit_length() - 1}"
