"""Resource limits for untrusted input: a memory budget checked *before* allocating, and
counts that can always be printed.

Models, properties, certificates, configs and NIR files are untrusted: a 382-byte model can
declare a convolution whose dense matrix needs gigabytes, and a region of an 8000-step
model holds more rasters than Python will print. Code that sizes an allocation from such a
file estimates its bytes from the declared shapes and calls :func:`require_memory` first;
code that reports a count passes it through :func:`count_json`.

The budget is :data:`DEFAULT_MEMORY_BUDGET` unless the environment variable
``VERISNN_MEMORY_BUDGET`` (or the command line's ``--memory-budget``) says otherwise, as a
number of bytes with an optional ``K``/``M``/``G``/``T`` suffix (powers of 1024). Work done
in batches takes at most :data:`BATCH_SHARE` of it per batch (:func:`batch_within_budget`).

Time: a function with a timeout runs its work inside :func:`time_limit`; every loop whose
length the model or a document drives calls :func:`check_deadline`, which raises
:class:`DeadlineReached` once the limit has passed, and the function that set the limit
answers "unknown (timeout)". So a limit is kept everywhere without passing it down.
"""

from __future__ import annotations

import math
import os
import re
import time
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

from .errors import ResourceError, VerisnnError

DEFAULT_MEMORY_BUDGET = 4 << 30
BUDGET_ENV = "VERISNN_MEMORY_BUDGET"
EXACT_DIGITS = 1000  # counts up to this many decimal digits are reported exactly
_EXACT_BELOW = 10 ** EXACT_DIGITS
BATCH_SHARE = 0.5  # of the budget, what one batch of work may take (the rest: the model, the caller's data)

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_budget_override: int | None = None


def parse_bytes(text: str, what: str = BUDGET_ENV) -> int:
    """``"4G"``, ``"512M"``, ``"1073741824"`` -> bytes (K, M, G, T are powers of 1024)."""
    m = re.fullmatch(r"\s*(\d{1,15})(?:\.(\d{1,6}))?\s*([KMGT]?)(?:i?B)?\s*", str(text), flags=re.IGNORECASE)
    if not m:
        raise VerisnnError(f"{str(text)[:40]!r} is not a size in bytes (e.g. 4G, 512M, 1073741824)", what)
    whole, frac, unit = m.groups()
    value = (int(whole) + (int(frac) / 10 ** len(frac) if frac else 0)) * _UNITS[unit.upper()]
    if value < 1:
        raise VerisnnError("a memory budget is at least 1 byte", what)
    return int(value)


def set_memory_budget(nbytes: int | None) -> None:
    """Set this process's budget (``None``: back to the environment or the default)."""
    global _budget_override
    _budget_override = nbytes


@contextmanager
def memory_limit(nbytes: int | None) -> Iterator[None]:
    """Within the block the budget is ``nbytes`` (``None``: unchanged); afterwards what it was."""
    before = _budget_override
    if nbytes is not None:
        set_memory_budget(nbytes)
    try:
        yield
    finally:
        set_memory_budget(before)


def memory_budget() -> int:
    """The budget in force, in bytes."""
    if _budget_override is not None:
        return _budget_override
    env = os.environ.get(BUDGET_ENV)
    return parse_bytes(env) if env else DEFAULT_MEMORY_BUDGET


def human_bytes(nbytes: int) -> str:
    """``3.5 GiB``, ``12 MiB``, ``100 bytes``."""
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if nbytes >= size:
            value = nbytes / size
            return f"{value:.3g} {unit}" if value < 1e15 else f"{count_text(nbytes)} bytes"
    return f"{nbytes} bytes"


def fits_memory(nbytes: int) -> bool:
    return nbytes <= memory_budget()


def require_memory(nbytes: int, what: str) -> None:
    """Refuse (:class:`ResourceError`) an allocation of about ``nbytes`` for ``what`` that
    would exceed the memory budget; call it before allocating."""
    budget = memory_budget()
    if nbytes > budget:
        raise ResourceError(f"{what} needs about {human_bytes(nbytes)}, more than the memory budget of "
                            f"{human_bytes(budget)}; raise it with --memory-budget or {BUDGET_ENV} "
                            f"(e.g. {BUDGET_ENV}=16G) if this machine has the memory")


def batch_within_budget(per_item: int, wanted: int, what: str) -> int:
    """How many items of about ``per_item`` bytes each one batch may hold: at most ``wanted``,
    within :data:`BATCH_SHARE` of the budget, and at least 1 — refused
    (:class:`ResourceError`) when even one item does not fit in the budget."""
    require_memory(per_item, f"{what} (one at a time)")
    return max(1, min(wanted, int(BATCH_SHARE * memory_budget()) // max(per_item, 1)))


class DeadlineReached(BaseException):
    """The limit of the enclosing :func:`time_limit` has passed. A ``BaseException``, like
    ``KeyboardInterrupt``, so that handlers that turn a crash into an answer do not swallow
    it; the function that set the limit catches it and answers "unknown (timeout)"."""


_deadline: ContextVar[float | None] = ContextVar("verisnn_deadline", default=None)


@contextmanager
def time_limit(deadline: float | None) -> Iterator[None]:
    """Within the block, :func:`check_deadline` raises :class:`DeadlineReached` once
    ``time.perf_counter()`` passes ``deadline`` (``None``: no new limit). An inner limit
    never extends an outer one."""
    outer = _deadline.get()
    inner = outer if deadline is None else deadline if outer is None else min(outer, deadline)
    token = _deadline.set(inner)
    try:
        yield
    finally:
        _deadline.reset(token)


def check_deadline() -> None:
    """Raise :class:`DeadlineReached` if the enclosing :func:`time_limit` has passed."""
    deadline = _deadline.get()
    if deadline is not None and time.perf_counter() > deadline:
        raise DeadlineReached


def time_left() -> float | None:
    """Seconds until the enclosing :func:`time_limit` passes (``None``: no limit)."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.perf_counter()


def timeout_slack(timeout: float) -> float:
    """How far past ``timeout`` seconds an answer may come (docs/cli.md, "Resource limits")."""
    return max(1.0, 0.05 * timeout)


def count_log10(n: int) -> float:
    """log10 of a positive integer of any size (no float overflow)."""
    if n <= 0:
        raise ValueError("count_log10 of a non-positive number")
    shift = max(n.bit_length() - 64, 0)
    return math.log10(n >> shift) + shift * math.log10(2)


def count_text(n: int) -> str:
    """A count as text that never fails to print: exact up to :data:`EXACT_DIGITS` digits,
    else ``2^k`` for a power of two and ``about 1.234e4816`` otherwise."""
    if n < _EXACT_BELOW:
        return str(n)
    if n & (n - 1) == 0:
        return f"2^{n.bit_length() - 1}"
    lg = count_log10(n)
    exponent = math.floor(lg)
    mantissa = 10 ** (lg - exponent)
    if mantissa >= 9.9995:  # rounding would print 10.000
        mantissa, exponent = 1.0, exponent + 1
    return f"about {mantissa:.3f}e{exponent}"


def count_json(n: int) -> int | str:
    """A count for a JSON answer: the exact integer up to :data:`EXACT_DIGITS` digits, else
    the text of :func:`count_text` (a string, so it is never mistaken for an exact count)."""
    return n if n < _EXACT_BELOW else count_text(n)


__all__ = ["BATCH_SHARE", "BUDGET_ENV", "DEFAULT_MEMORY_BUDGET", "DeadlineReached", "EXACT_DIGITS",
           "batch_within_budget", "check_deadline", "count_json", "count_log10", "count_text", "fits_memory",
           "human_bytes", "memory_budget", "memory_limit", "parse_bytes", "require_memory", "set_memory_budget",
           "time_left", "time_limit", "timeout_slack"]
