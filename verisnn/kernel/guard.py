"""Limits of the kernel's own work: a deadline every loop checks, and a memory budget
checked before an allocation a document sizes. (The kernel imports nothing of verisnn,
so it keeps these two small rules itself.)"""

from __future__ import annotations

import itertools
import time
from typing import Iterable, Iterator

DEFAULT_BUDGET = 4 * 2**30  # bytes, the engine's default memory budget


class KernelLimit(Exception):
    """A re-check stopped by the time limit or the memory budget: the claim is not validated."""


class Limits:
    """``deadline`` (``time.perf_counter()`` seconds, ``None``: none) and ``budget`` (bytes)."""

    def __init__(self, deadline: float | None = None, budget: int = DEFAULT_BUDGET):
        self.deadline, self.budget = deadline, budget

    def tick(self) -> None:
        """Raise :class:`KernelLimit` once the deadline has passed."""
        if self.deadline is not None and time.perf_counter() >= self.deadline:
            raise KernelLimit("the kernel's re-check did not finish within the time limit")

    def need(self, nbytes: int, what: str) -> None:
        """Raise :class:`KernelLimit` when ``what`` would take more than the budget."""
        if nbytes > self.budget:
            raise KernelLimit(f"{what} would take about {nbytes / 2**30:.1f} GiB, over the memory budget of "
                              f"{self.budget / 2**30:.1f} GiB")

    def chunks(self, items: Iterable, size: int) -> Iterator[list]:
        """``items`` in lists of at most ``size``, the deadline checked before each."""
        items = iter(items)
        while True:
            self.tick()
            chunk = list(itertools.islice(items, size))
            if not chunk:
                return
            yield chunk

    def batch(self, bytes_per_item: int, want: int) -> int:
        """How many items of ``bytes_per_item`` to take at once: at most ``want``, within half the budget."""
        return max(1, min(want, self.budget // 2 // max(1, bytes_per_item)))


NO_LIMITS = Limits()
