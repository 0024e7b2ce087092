"""The kernel's pruning argument for ``bab`` certificates (``verisnn/kernel/tree.py``).

Soundness, exhaustively on small regions: for every node of the region's tree (a step ``t``
and the flips before it) that :func:`settled` calls settled, every raster of the region
below it satisfies the condition on the kernel's simulator. The models are "duels" (each
output neuron driven by its own input channel, so that leads build up and the boundary
cases — a lead equal to the steps left, first spikes at the same step — occur), over both
readouts that prune and both tie rules. Then: certificates of an engine with the issue's
bug 1 (its lead one step short) are rejected by the kernel."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from verisnn import kernel
from verisnn.kernel.conditions import violates
from verisnn.kernel.network import run
from verisnn.kernel.regions import batches
from verisnn.kernel.tree import settled
from verisnn.model import Dense, InputSpec, Model, Neuron, Readout
from verisnn.model_format import model_hash, model_to_dict


def duel(rng: np.random.Generator, readout: str, ties: str, n: int = 3, T: int = 5) -> Model:
    weight = np.eye(n, dtype=np.int64) * int(rng.integers(1, 3)) + rng.integers(0, 2, (n, n)) * (1 - np.eye(n, dtype=np.int64))
    neuron = Neuron(size=n, model="if", threshold=int(rng.integers(1, 3)), reset="subtract")
    return Model(time_steps=T, input=InputSpec(n), layers=(Dense(weight.tolist(), neuron),),
                 readout=Readout(readout, ties=ties))


def conditions(T: int) -> list:
    return ["robust"] + [{"decided_by": k} for k in range(1, T + 1)] + [{"first_spike_by": k} for k in (1, 2, 3)]


@pytest.mark.parametrize("readout,ties", list(itertools.product(("spike_count", "first_spike"),
                                                                  ("invalid", "lowest_index"))))
def test_a_settled_node_has_no_violation_below_it(readout, ties):
    rng = np.random.default_rng(sum(map(ord, readout + ties)))
    settled_nodes = boundary = 0
    for _ in range(12):
        model = duel(rng, readout, ties)
        net = kernel.bind_model(model_to_dict(model), model_hash(model), kernel.Limits())
        T, n = model.time_steps, model.input.size
        centre = (rng.random((T, n)) < np.array([0.8] + [0.3] * (n - 1))).astype(np.int8)
        region = {"flips": int(rng.integers(1, 4))}
        rasters = np.concatenate(list(batches(region, centre)))
        result = run(net, rasters)
        reference = _decision(net, centre)
        changed = rasters.reshape(len(rasters), -1) != centre.reshape(-1)
        for condition in conditions(T):
            bad = violates(net, condition, result, reference)
            for t in range(T + 1):
                # the nodes at step t: rasters grouped by their flips before step t
                groups: dict[bytes, list[int]] = {}
                for i, row in enumerate(changed[:, : t * n]):
                    groups.setdefault(row.tobytes(), []).append(i)
                for members in groups.values():
                    first = members[0]
                    if settled(net, condition, result.outputs[first:first + 1, :t], t, reference)[0]:
                        settled_nodes += 1
                        assert not bad[members].any(), (condition, t, rasters[first].tolist(), model_to_dict(model))
                    elif bad[members].any() and t < T:
                        boundary += 1  # a node with a violation below it, which must not be settled
    assert settled_nodes >= 200 and boundary >= 50, (settled_nodes, boundary)


def _decision(net, raster):
    from verisnn.kernel.conditions import decision

    d = int(decision(net, run(net, raster[None]).outputs)[0])
    return None if d < 0 else d


def test_a_tree_pruned_one_step_early_is_rejected(monkeypatch):
    """The issue's bug 1 planted in the engine (a lead one step short settles): its wrong
    'verified' certificates are rejected by the kernel's walk, whose argument fails there."""
    import verisnn.bab as bab
    from verisnn.certificate import make_certificate
    from verisnn.checker import check_certificate
    from verisnn.properties import parse_property
    from verisnn.verify import verify

    real = bab.Search.scores

    def short(self, f, steps):
        lo, hi = real(self, f, steps)
        return (lo, np.maximum(lo, hi - 1)) if self.model.readout.type == "spike_count" else (lo, hi)

    rng = np.random.default_rng(5)
    rejected = 0
    for _ in range(60):
        model = duel(rng, "spike_count", str(rng.choice(["invalid", "lowest_index"])))
        T, n = model.time_steps, model.input.size
        centre = (rng.random((T, n)) < np.array([0.8] + [0.3] * (n - 1))).astype(np.int8)
        prop = parse_property({"region": {"flips": int(rng.integers(1, 4))}, "condition": "robust"})
        truth = verify(model, centre, prop, method="enumerate").verdict
        monkeypatch.setattr(bab.Search, "scores", short)
        answer = verify(model, centre, prop, method="bab")
        monkeypatch.setattr(bab.Search, "scores", real)
        if answer.verdict == "verified" and truth == "falsified":  # a wrong proof from the planted bug
            report = check_certificate(make_certificate(model, prop, centre, answer))
            assert not report.valid
            assert "pruning argument does not hold" in " ".join(c.detail for c in report.failures())
            rejected += 1
    assert rejected >= 1, "the planted bug gave no wrong proof here: the test would not see it"
