"""Decision-tree rules that mimic a network: :class:`TreeRules` and :func:`run_tree_extraction`.

The tree is fitted to the NETWORK's own decisions (``-1``, no decision, is a class of
its own) on a sample of the input distribution of :mod:`.sampling` (data plus
perturbations), over candidate features of :mod:`.rules` (input spike counts in time
windows, first-spike times, hidden-neuron spike counts). Each leaf becomes a rule: the
conjunction of the conditions on its path, reduced per feature with sympy to at most
one lower and one upper integer bound (features take integer values in a known range,
so the reduced rule holds on exactly the same rasters). Rules from one tree are mutually
exclusive and cover every raster. TREPAN-style extra queries (``min_leaf_samples``)
add samples to sparsely populated leaves, and the tree is refitted.

``annotate_latency`` cross-checks each rule against the hardware model: the steps the
rule reads versus the steps the network needs before its decision is final.
"""

from __future__ import annotations

import time
from typing import Any, Mapping, Sequence

import numpy as np
import sympy
from sklearn.base import BaseEstimator
from sklearn.tree import DecisionTreeClassifier

from ..errors import InputError
from ..model import Model
from ..model_format import model_hash
from ..readout import decide
from ..simulator import check_raster, simulate
from .fidelity import Fidelity, fidelity
from .rules import Condition, Count, Feature, FirstSpike, HiddenCount, Rule, RuleSet, compute_features
from .sampling import Perturbation, describe_distribution, draw, extra_queries, network_decisions

FEATURE_SETS = ("counts", "counts+first_spike", "counts+first_spike+hidden")


# ---------------------------------------------------------------- candidate features


def count_windows(time_steps: int, windows: int | Sequence[Sequence[int]]) -> list[tuple[int, int]]:
    """Half-open count windows: ``w`` (an int) splits ``[0, T)`` into ``w`` near-equal parts
    and adds the whole run when ``w > 1``; or an explicit list of ``[from, to]`` pairs."""
    T = time_steps
    if isinstance(windows, (int, np.integer)) and not isinstance(windows, bool):
        w = int(windows)
        if not 1 <= w <= T:
            raise InputError(f"expected a number of windows in [1, {T}], got {w}", "windows")
        edges = [round(T * i / w) for i in range(w + 1)]
        out = [(edges[i], edges[i + 1]) for i in range(w)]
        return out + [(0, T)] if w > 1 else out
    try:
        out = [(int(a), int(b)) for a, b in windows]
    except (TypeError, ValueError):
        raise InputError(f"expected an int or a list of [from, to] pairs, got {windows!r}", "windows") from None
    for a, b in out:
        if not 0 <= a < b <= T:
            raise InputError(f"window [{a}, {b}) outside [0, {T})", "windows")
    return list(dict.fromkeys(out))


def candidate_features(model: Model, features: str, windows: int | Sequence[Sequence[int]]) -> dict[str, Feature]:
    """Every feature the tree may split on, named ``c{ch}_{from}_{to}``, ``fs{ch}``,
    ``h{layer}_{neuron}_{from}_{to}`` (hidden layers: all spiking layers but the output)."""
    if features not in FEATURE_SETS:
        raise InputError(f"unknown feature set {features!r} (allowed: {', '.join(FEATURE_SETS)})", "features")
    wins = count_windows(model.time_steps, windows)
    out: dict[str, Feature] = {}
    for a, b in wins:
        for ch in range(model.input.size):
            out[f"c{ch}_{a}_{b}"] = Count(ch, a, b)
    if "first_spike" in features:
        for ch in range(model.input.size):
            out[f"fs{ch}"] = FirstSpike(ch)
    if "hidden" in features:
        for layer_index, layer in enumerate(model.layers[:-1]):
            for a, b in wins:
                for j in range(layer.out_size):
                    out[f"h{layer_index}_{j}_{a}_{b}"] = HiddenCount(layer_index, j, a, b)
    return out


# ---------------------------------------------------------------- leaves -> simplified rules


def _relation_set(op: str, c: sympy.Rational) -> sympy.Set:
    """The real numbers ``x`` with ``x op c``."""
    return {"<": sympy.Interval.open(-sympy.oo, c), "<=": sympy.Interval(-sympy.oo, c),
            ">": sympy.Interval.open(c, sympy.oo), ">=": sympy.Interval(c, sympy.oo),
            "==": sympy.FiniteSet(c)}[op]


def _exact(x: float) -> sympy.Rational:
    return sympy.Integer(int(x)) if float(x).is_integer() else sympy.Rational(float(x))


def simplify_conjunction(conditions: Sequence[Condition], features: Mapping[str, Feature],
                         time_steps: int) -> list[Condition] | None:
    """The same conjunction, reduced per feature: its values allowed by all the feature's
    conditions and its value range (``sympy.Intersection`` of the relations' solution sets
    with ``sympy.Range(lo, hi + 1)``) become ``== v``, or ``>= a`` and/or ``<= b`` (bounds
    the range already implies are dropped). ``None`` when no value is left. Exact on every
    raster: features are integers in their range. Features keep their first-use order."""
    by_feature: dict[str, list[Condition]] = {}
    for c in conditions:
        by_feature.setdefault(c.feature, []).append(c)
    out = []
    for name, conds in by_feature.items():
        lo, hi = features[name].value_range(time_steps)
        allowed = sympy.Intersection(*(_relation_set(c.op, _exact(c.threshold)) for c in conds),
                                     sympy.Range(lo, hi + 1))
        if allowed.is_empty:
            return None
        a, b = int(allowed.inf), int(allowed.sup)
        if a == b:
            out.append(Condition(name, "==", a))
            continue
        if a > lo:
            out.append(Condition(name, ">=", a))
        if b < hi:
            out.append(Condition(name, "<=", b))
    return out


def leaf_paths(tree: DecisionTreeClassifier, names: Sequence[str]) -> dict[int, list[Condition]]:
    """For every leaf id of a fitted sklearn tree, the conditions on its path (left child:
    ``feature <= threshold``, right child: ``feature > threshold``), root first."""
    t = tree.tree_
    paths: dict[int, list[Condition]] = {}
    stack = [(0, [])]
    while stack:
        node, conds = stack.pop()
        left, right = t.children_left[node], t.children_right[node]
        if left == right:  # a leaf
            paths[node] = conds
            continue
        name, thr = names[t.feature[node]], float(t.threshold[node])
        stack.append((right, conds + [Condition(name, ">", thr)]))
        stack.append((left, conds + [Condition(name, "<=", thr)]))
    return dict(sorted(paths.items()))


def _kept_features(rules: Sequence[Rule], features: Mapping[str, Feature]) -> tuple[dict, list[Rule]]:
    """Only the features the rules use, renamed ``f0, f1, ...`` in candidate order."""
    used = {c.feature for r in rules for c in r.conditions}
    rename = {old: f"f{i}" for i, old in enumerate(n for n in features if n in used)}
    new_features = {rename[old]: features[old] for old in rename}
    new_rules = [Rule(tuple(Condition(rename[c.feature], c.op, c.threshold) for c in r.conditions), r.then,
                      r.precision, r.coverage, r.support, r.annotations) for r in rules]
    return new_features, new_rules


def with_sample_stats(ruleset: RuleSet, values: np.ndarray, labels: np.ndarray) -> RuleSet:
    """Each rule's ``precision`` (P(network says ``then`` | rule is the first match)),
    ``coverage`` (share of the sample it is the first match for) and ``support`` (count)
    on a sample of feature ``values`` ``[B, F]`` with network ``labels`` ``[B]``."""
    first = ruleset.first_match(values)
    rules = []
    for i, r in enumerate(ruleset.rules):
        mine = first == i
        support = int(mine.sum())
        precision = float((labels[mine] == r.then).mean()) if support else None
        rules.append(Rule(r.conditions, r.then, precision, support / len(values) if len(values) else 0.0,
                          support, r.annotations))
    return ruleset.with_rules(rules)


def _leaf_class(tree: DecisionTreeClassifier, leaf: int) -> int:
    return int(tree.classes_[int(np.argmax(tree.tree_.value[leaf][0]))])


def _folded(tree: DecisionTreeClassifier) -> tuple[int, int]:
    """The class with the most leaves (lowest on ties) and how many leaves remain without it."""
    t = tree.tree_
    classes = [_leaf_class(tree, node) for node in range(t.node_count)
               if t.children_left[node] == t.children_right[node]]
    values, counts = np.unique(classes, return_counts=True)
    return int(values[np.argmax(counts)]), len(classes) - int(counts.max())


# ---------------------------------------------------------------- the estimator


class TreeRules(BaseEstimator):
    """Decision-tree rules for ``model`` (scikit-learn conventions: parameters here, fitted
    attributes end in ``_``).

    ``max_rules``: most leaves (= rules); ``features``: one of :data:`FEATURE_SETS`;
    ``windows``: count windows (:func:`count_windows`); ``n_samples``: perturbed draws
    added to the data to fit on; ``flips``, ``deletions``, ``jitter_shift``,
    ``jitter_spikes``: the :class:`.sampling.Perturbation`; ``min_leaf_samples``: leaves
    with fewer fit samples get TREPAN-style extra queries (0: none), for ``trepan_rounds``
    refits, each leaf drawing at most ``max_tries`` candidates; ``criterion``,
    ``min_samples_leaf``: the sklearn tree's; ``fold_default``: the class with the most
    leaves becomes the ``default`` and its leaves are dropped, so the tree may grow more
    leaves than ``max_rules`` (the largest tree whose other leaves number at most
    ``max_rules``); ``refine``: afterwards, specialise the rules until each holds within
    ``refine_region`` (default ``{"flips": 1}``) of the fit rasters it covers
    (:func:`.refine.refine_rules`: at most ``refine_max_conditions`` conditions added per
    rule, over the tree's count windows and first spikes; a fix that loses more than
    ``refine_max_loss`` exact agreement is not made; rules are dropped, never added), the
    log in ``refinement_``; ``seed``: all randomness.
    """

    def __init__(self, model: Model, max_rules: int = 40, features: str = "counts", windows: Any = 2,
                 n_samples: int = 20000, flips: int = 1, deletions: int = 0, jitter_shift: int = 0,
                 jitter_spikes: int = 0, min_leaf_samples: int = 0, trepan_rounds: int = 1,
                 max_tries: int = 4096, criterion: str = "entropy", min_samples_leaf: int = 1,
                 fold_default: bool = False, refine: bool = False, refine_region: Any = None,
                 refine_max_conditions: int = 4, refine_max_loss: float | None = None, seed: int = 0):
        self.model = model
        self.max_rules = max_rules
        self.features = features
        self.windows = windows
        self.n_samples = n_samples
        self.flips = flips
        self.deletions = deletions
        self.jitter_shift = jitter_shift
        self.jitter_spikes = jitter_spikes
        self.min_leaf_samples = min_leaf_samples
        self.trepan_rounds = trepan_rounds
        self.max_tries = max_tries
        self.criterion = criterion
        self.min_samples_leaf = min_samples_leaf
        self.fold_default = fold_default
        self.refine = refine
        self.refine_region = refine_region
        self.refine_max_conditions = refine_max_conditions
        self.refine_max_loss = refine_max_loss
        self.seed = seed

    def perturbation(self) -> Perturbation:
        return Perturbation(self.flips, self.deletions, self.jitter_shift, self.jitter_spikes)

    def _tree(self, leaves: int) -> DecisionTreeClassifier:
        return DecisionTreeClassifier(max_leaf_nodes=leaves, criterion=self.criterion,
                                      min_samples_leaf=self.min_samples_leaf, random_state=self.seed)

    def _grow(self, values: np.ndarray, labels: np.ndarray) -> tuple[DecisionTreeClassifier, int | None]:
        """The tree, and the folded default class (``None`` without ``fold_default``)."""
        if isinstance(self.max_rules, bool) or not isinstance(self.max_rules, (int, np.integer)) or self.max_rules < 2:
            raise InputError(f"expected max_rules >= 2, got {self.max_rules!r}", "max_rules")
        limit = int(self.max_rules)
        tree = self._tree(limit).fit(values, labels)
        if not self.fold_default:
            return tree, None
        best = (tree, *_folded(tree))
        leaves = limit
        while best[2] <= limit and tree.get_n_leaves() == leaves:  # stop when the tree no longer grows
            # rules grow by at most one per leaf: jump by the slack, else try one more leaf
            leaves += max(1, limit - best[2])
            tree = self._tree(leaves).fit(values, labels)
            default, n_rules = _folded(tree)
            if n_rules > limit:
                break
            best = (tree, default, n_rules)
        return best[0], best[1]

    def fit(self, X: Any, y: Any = None) -> TreeRules:
        """Fit on data rasters ``X`` ``[N, T, n]`` (plus ``n_samples`` perturbed draws around
        them), labelled by the network. ``y`` (dataset labels, optional) only serves to
        report ``network_accuracy_`` and ``rules_accuracy_`` on ``X``."""
        t0 = time.perf_counter()
        model = self.model
        x, _ = check_raster(model, X)
        if y is not None:
            class_labels(y, len(x))
        rng = np.random.default_rng(self.seed)
        pert = self.perturbation()
        cands = candidate_features(model, self.features, self.windows)
        names = list(cands)
        sample = np.concatenate([x.astype(np.uint8), draw(model, x, self.n_samples, pert, rng)])
        labels = network_decisions(model, sample)
        values = compute_features(model, cands, sample)
        n_base = len(sample)
        tree, folded = self._grow(values, labels)
        extra = 0
        for _ in range(self.trepan_rounds if self.min_leaf_samples else 0):
            leaves = tree.apply(values)
            ids, counts = np.unique(leaves, return_counts=True)
            new_r, new_y = [], []
            for leaf, count in zip(ids, counts):
                if count >= self.min_leaf_samples:
                    continue
                q = extra_queries(model, sample[leaves == leaf],
                                  lambda r, leaf=leaf: tree.apply(compute_features(model, cands, r)) == leaf,
                                  int(self.min_leaf_samples - count), pert, rng, max_tries=self.max_tries)
                new_r.append(q.rasters)
                new_y.append(q.labels)
            added = sum(len(r) for r in new_r)
            if not added:
                break
            extra += added
            more = np.concatenate(new_r)
            sample = np.concatenate([sample, more])
            labels = np.concatenate([labels] + new_y)
            values = np.concatenate([values, compute_features(model, cands, more)])
            tree, folded = self._grow(values, labels)

        rules = []
        for leaf, path in leaf_paths(tree, names).items():
            conds = simplify_conjunction(path, cands, model.time_steps)
            if conds is None:  # unreachable on integer features (a leaf always holds samples)
                continue
            then = _leaf_class(tree, leaf)
            if then != folded:
                rules.append(Rule(tuple(conds), then))
        kept, rules = _kept_features(rules, cands)
        if folded is None:  # the leaves cover every raster: the default is never used
            classes, counts = np.unique(labels[:n_base], return_counts=True)
            folded = int(classes[np.argmax(counts)])
        ruleset = RuleSet(kept, tuple(rules), folded, model_hash(model), model.time_steps, model.input.size)
        self.refinement_ = None
        if self.refine:  # certification-guided: the rules must hold near the fit rasters they cover
            from .refine import refine_rules

            hidden = "hidden" in self.features
            ruleset, self.refinement_ = refine_rules(
                model, ruleset, x, self.refine_region, max_conditions=self.refine_max_conditions,
                max_loss=self.refine_max_loss, certify=False,
                candidates=candidate_features(model, self.features if hidden else "counts+first_spike", self.windows))
        # the statistics describe the distribution's sample (data + draws), not the extra queries
        base_values = ruleset.feature_values(model, sample[:n_base])
        self.rules_ = with_sample_stats(ruleset, base_values, labels[:n_base])
        self.tree_ = tree
        self.candidate_features_ = cands
        self.n_fit_ = n_base
        self.n_extra_queries_ = extra
        self.fit_fidelity_ = float((self.rules_.predict(base_values) == labels[:n_base]).mean())
        if y is not None:
            yy = np.asarray(y)
            self.network_accuracy_ = float((labels[: len(x)] == yy).mean())
            self.rules_accuracy_ = float((self.rules_.decide(model, x) == yy).mean())
        self.fit_time_s_ = time.perf_counter() - t0
        return self

    def _fitted(self) -> RuleSet:
        if not hasattr(self, "rules_"):
            raise InputError("call fit first", "TreeRules")
        return self.rules_

    def predict(self, X: Any) -> np.ndarray:
        """Classes ``[N]`` the rules give on rasters ``X`` (``-1``: no decision)."""
        x, _ = check_raster(self.model, X)
        return self._fitted().decide(self.model, x)

    def fidelity(self, X: Any, distribution: str, confidence: float = 0.95) -> Fidelity:
        """Agreement of rules and network on the rasters ``X``, which are draws from
        ``distribution`` (a description), with its exact binomial interval."""
        x, _ = check_raster(self.model, X)
        return fidelity(self.predict(x), network_decisions(self.model, x), distribution, confidence)

    def score(self, X: Any, y: Any = None) -> float:
        """Fidelity (agreement with the network) on ``X``; ``y`` is ignored: not an accuracy."""
        x, _ = check_raster(self.model, X)
        return float((self.predict(x) == network_decisions(self.model, x)).mean())

    def to_json(self) -> dict:
        return self._fitted().to_json()


# ---------------------------------------------------------------- hardware cross-check


def network_decision_steps(model: Model, X: Any) -> tuple[np.ndarray, np.ndarray]:
    """The network's final decisions ``[B]`` and decision latencies ``[B]`` in steps: the
    smallest ``k`` such that the decision over the first ``k'`` steps equals the final one
    for every ``k' >= k`` (one simulation; the readout applied to each prefix)."""
    x, _ = check_raster(model, X)
    out = simulate(model, x).layer_outputs[-1].transpose(1, 0, 2)  # [T, B, n]
    T = model.time_steps
    prefix = np.stack([decide(model.readout, out[:k]) for k in range(1, T + 1)])  # [T, B]
    final = prefix[-1]
    differs = prefix != final[None]
    # last prefix length whose decision differs, + 1 (0 if none differs): then steps = that + 1
    last_bad = np.where(differs.any(axis=0), T - np.argmax(differs[::-1], axis=0), 0)
    return final, last_bad + 1


def _median(values: Sequence[float]) -> float | None:
    return float(np.median(values)) if len(values) else None


def annotate_latency(model: Model, ruleset: RuleSet, X: Any, profile: str = "loihi") -> RuleSet:
    """The rule set with a ``latency`` annotation on every rule (docs/rules.md): the rule's
    horizon in steps (:meth:`RuleSet.horizon`) and its time in µs on ``profile`` (median over
    the inputs of ``X`` it covers), against the network's measured decision latency on those
    inputs; ``disagreements``: covered inputs the network decides after the rule's horizon.
    Times are :func:`verisnn.hardware.decision_latency` (one cost run, read at each ``k``)."""
    from ..hardware import cost, load_profile

    x, _ = check_raster(model, X)
    prof = load_profile(profile)
    first = ruleset.first_match(ruleset.feature_values(model, x))
    _, steps = network_decision_steps(model, x)
    T = model.time_steps
    if len(x):  # [T, B]: decision_latency(model, x, profile, k) for k = 1..T, from one cost run
        report = cost(model, x, prof)
        us_within = np.array([[p / 10**6 for p in report.latency_ps_within(k)] for k in range(1, T + 1)])
    else:
        us_within = np.zeros((T, 0))
    rules = []
    for i, r in enumerate(ruleset.rules):
        k_rule = ruleset.horizon(i)
        mine = np.flatnonzero(first == i)
        measured_steps = steps[mine]
        measured_us = us_within[measured_steps - 1, mine]
        latency = {
            "steps": k_rule,
            "us": _median(us_within[k_rule - 1, mine]),
            "measured": {
                "median_steps": _median(measured_steps),
                "max_steps": int(measured_steps.max()) if len(mine) else None,
                "median_us": _median(measured_us),
                "max_us": float(measured_us.max()) if len(mine) else None,
                "n": int(len(mine)),
            },
            "disagreements": int((measured_steps > k_rule).sum()),
            "profile": prof.name,
        }
        rules.append(Rule(r.conditions, r.then, r.precision, r.coverage, r.support,
                          {**r.annotations, "latency": latency}))
    return ruleset.with_rules(rules)


# ---------------------------------------------------------------- entry point


SPLITS = ("rasters", "draws")


def split_indices(n: int, heldout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random split of ``range(n)`` into fit / held-out indices (``heldout``: the
    held-out share, at least one item on each side)."""
    if n < 2:
        raise InputError(f"need at least 2 data rasters to split into fit / held-out, got {n}", "input")
    if not 0 < heldout < 1:
        raise InputError(f"held-out share {heldout!r} outside (0, 1)", "heldout")
    order = np.random.default_rng(seed).permutation(n)
    k = min(n - 1, max(1, round(n * heldout)))
    return np.sort(order[k:]), np.sort(order[:k])


def _summary(f: Fidelity) -> dict:
    return {"value": f.value, "ci": list(f.ci), "n": f.n, "distribution": f.distribution}


def class_labels(labels: Any, n: int) -> np.ndarray:
    """``labels`` as ``n`` integer class labels (``labels`` names them in errors): a float
    label such as 2.5 names no class, so it is refused rather than compared."""
    y = np.asarray(labels)
    if y.dtype.kind not in "iu":
        raise InputError(f"expected integer class labels, got dtype {y.dtype}", "labels")
    if y.shape != (n,):
        raise InputError(f"expected {n} labels, got shape {list(y.shape)}", "labels")
    return y


def _rasters(model: Model, x: Any, name: str) -> np.ndarray:
    """``check_raster`` with errors naming the argument (``X``, ``eval_X``)."""
    try:
        return check_raster(model, x)[0]
    except InputError as e:
        raise InputError(e.message, name) from None


def run_tree_extraction(model: Model, X: Any, labels: Any = None, eval_X: Any = None, *, max_rules: int = 40,
                        features: str = "counts", windows: Any = 2, profile: str = "loihi", seed: int = 0,
                        split: str = "rasters", heldout: float = 0.3, n_eval: int = 20000,
                        data_name: str = "data inputs", **params: Any) -> dict:
    """Fit tree rules for ``model`` and judge them; returns plain data.

    ``split="rasters"`` (generalisation): ``X`` (data rasters ``[N, T, n]``) is split at
    random (``seed``) into a fit part and a held-out part of share ``heldout``; the rules are
    fitted on the fit part plus perturbed draws around it, and fidelity is measured on
    ``n_eval`` fresh draws around the HELD-OUT rasters only (data the fit never saw).
    ``split="draws"``: the distribution is "a raster of ``X``, perturbed"; the rules are
    fitted on all of ``X`` plus draws, and fidelity is measured on ``n_eval`` fresh,
    independent draws from that same distribution (around the same rasters).
    ``params`` go to :class:`TreeRules` (``n_samples``, ``flips``, ``fold_default``, ...).
    With ``eval_X``, fidelity is also measured on those rasters as given. The latency
    annotation uses the held-out rasters (all of ``X`` for ``draws``). ``labels`` (dataset
    labels of ``X``) give ``network_accuracy`` / ``rules_accuracy`` on those same rasters."""
    x = _rasters(model, X, "X")
    if split not in SPLITS:
        raise InputError(f"unknown split {split!r} (allowed: {', '.join(SPLITS)})", "split")
    if split == "rasters":
        fit_idx, held_idx = split_indices(len(x), heldout, seed)
        where = f"{data_name}, held-out {len(held_idx)} of {len(x)} (split seed {seed})"
    else:
        fit_idx = held_idx = np.arange(len(x))
        where = f"{data_name}, all {len(x)}"
    est = TreeRules(model, max_rules=max_rules, features=features, windows=windows, seed=seed, **params)
    est.fit(x[fit_idx])
    pert = est.perturbation()
    rng = np.random.default_rng([seed, 1])  # a stream independent of the fit's
    held = x[held_idx]
    fid = est.fidelity(draw(model, held, n_eval, pert, rng), describe_distribution(where, pert, seed))
    ruleset = annotate_latency(model, est.rules_, held, profile)
    info: dict[str, Any] = {
        "fidelity": fid.to_json(),
        "fit": {"split": split, "n_fit_rasters": int(len(fit_idx)), "n_fit_sample": est.n_fit_,
                "n_extra_queries": est.n_extra_queries_, "fit_fidelity": est.fit_fidelity_,
                "fit_time_s": round(est.fit_time_s_, 3),
                **({"refinement": {k: v for k, v in est.refinement_.items() if k != "steps"}}
                   if est.refinement_ is not None else {}),
                "params": {k: v for k, v in est.get_params().items() if k != "model"}}}
    result: dict[str, Any] = {"fidelity": _summary(fid)}
    if eval_X is not None:
        ex = _rasters(model, eval_X, "eval_X")
        efid = est.fidelity(ex, f"evaluation inputs as given ({len(ex)} rasters)")
        result["eval_fidelity"] = _summary(efid)
        info["eval_fidelity"] = efid.to_json()
    if labels is not None:
        y = class_labels(labels, len(x))
        result["network_accuracy"] = float((network_decisions(model, held) == y[held_idx]).mean())
        result["rules_accuracy"] = float((ruleset.decide(model, held) == y[held_idx]).mean())
    ruleset = RuleSet(ruleset.features, ruleset.rules, ruleset.default, ruleset.model_sha256, ruleset.time_steps,
                      ruleset.channels, info)
    doc = ruleset.to_json()
    result.update({"rules": doc["rules"], "ruleset": doc, "n_rules": len(ruleset.rules),
                   "fit_time_s": est.fit_time_s_})
    return result
