"""Fidelity: how often the rules give the network's own decision.

``fidelity = (1/N) * #{i : rules(x_i) == network(x_i)}`` over ``N`` independent draws
``x_i`` from a stated distribution (no decision counts as a class of its own: both
saying "no decision" is agreement). It is reported with an exact (Clopper-Pearson)
binomial confidence interval and the distribution's description. It says nothing about
the dataset's labels: it is not an accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import binomtest

from ..errors import InputError


@dataclass(frozen=True)
class Fidelity:
    """Agreement ``value = agree / n`` of rules and network on ``n`` draws from
    ``distribution``; ``ci`` the exact binomial interval at ``confidence``."""

    value: float
    ci: tuple[float, float]
    n: int
    agree: int
    confidence: float
    distribution: str

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "ci": list(self.ci), "n": self.n, "agree": self.agree,
                "confidence": self.confidence, "distribution": self.distribution}

    def __str__(self) -> str:
        return (f"fidelity {100 * self.value:.1f}% ({100 * self.confidence:.0f}% CI "
                f"{100 * self.ci[0]:.1f}-{100 * self.ci[1]:.1f}%, n={self.n}) on {self.distribution}")


def agreement_interval(agree: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Clopper-Pearson interval for a binomial proportion ``agree / n``."""
    ci = binomtest(int(agree), int(n)).proportion_ci(confidence_level=confidence, method="exact")
    return float(ci.low), float(ci.high)


def fidelity(rule_classes: Any, network_classes: Any, distribution: str, confidence: float = 0.95) -> Fidelity:
    """:class:`Fidelity` of two ``[N]`` class arrays (``-1``: no decision), paired draw by draw."""
    a = np.asarray(rule_classes)
    b = np.asarray(network_classes)
    if a.shape != b.shape or a.ndim != 1:
        raise InputError(f"expected two [N] arrays of classes, got shapes {list(a.shape)} and {list(b.shape)}",
                         "classes")
    if len(a) == 0:
        raise InputError("fidelity needs at least one draw", "classes")
    if not 0 < confidence < 1:
        raise InputError(f"confidence {confidence!r} outside (0, 1)", "confidence")
    if not isinstance(distribution, str) or not distribution.strip():
        raise InputError("state the distribution the draws come from", "distribution")
    agree = int((a == b).sum())
    return Fidelity(agree / len(a), agreement_interval(agree, len(a), confidence), len(a), agree,
                    float(confidence), distribution)
