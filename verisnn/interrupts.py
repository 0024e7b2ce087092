"""Ctrl-C is an interrupt, never a time limit.

Solvers catch SIGINT themselves and end their search as if time had run out: CP-SAT (its
``catch_sigint_signal``, on by default) answers UNKNOWN, z3 answers ``unknown`` with the
reason ``interrupted from keyboard``. Taken as they are, a user's Ctrl-C would become an
``unknown, timeout`` verdict (and a certificate or a stored campaign row saying so). Here
both become :class:`KeyboardInterrupt`, which the command line turns into exit status 130
and ``{"error": "interrupted"}``:

* :func:`solve_cpsat` runs ``CpSolver.solve`` with CP-SAT's own handler off, in a helper
  thread, so that the main thread receives the interrupt, stops the search and raises it;
* :func:`check_z3_reason` raises it for z3's reason of an interrupted search.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, TypeVar

T = TypeVar("T")
Z3_INTERRUPTED = "interrupted from keyboard"  # z3's reason_unknown() after it caught SIGINT


def interruptible(call: Callable[[], T], stop: Callable[[], Any]) -> T:
    """``call()``; a Ctrl-C while it runs calls ``stop()`` (which must make ``call`` return
    soon), waits for it and raises :class:`KeyboardInterrupt`. In the main thread ``call``
    runs in a helper thread (signals reach only the main thread); elsewhere it runs as is."""
    if threading.current_thread() is not threading.main_thread():
        return call()
    done = threading.Event()
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
            box["error"] = e
        finally:
            done.set()

    threading.Thread(target=run, name="verisnn-solver", daemon=True).start()
    try:
        while not done.wait(0.1):
            pass
    except KeyboardInterrupt:
        stop()
        done.wait()
        raise
    if "error" in box:
        raise box["error"]
    return box["value"]


def solve_cpsat(solver, model) -> int:
    """``solver.solve(model)`` (an ortools ``CpSolver`` and ``CpModel``) that a Ctrl-C
    interrupts (:class:`KeyboardInterrupt`) instead of ending it as UNKNOWN."""
    solver.parameters.catch_sigint_signal = False
    return interruptible(lambda: solver.solve(model), solver.stop_search)


def check_z3_reason(reason: str | None) -> None:
    """Raise :class:`KeyboardInterrupt` when z3's ``reason_unknown()`` says that it caught
    a Ctrl-C; any other reason stays an ``unknown`` for the caller to report."""
    if reason is not None and Z3_INTERRUPTED in reason:
        raise KeyboardInterrupt


__all__ = ["Z3_INTERRUPTED", "check_z3_reason", "interruptible", "solve_cpsat"]
