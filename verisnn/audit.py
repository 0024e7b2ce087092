"""The audit: a campaign (:mod:`verisnn.campaign`) whose task runner also writes and checks
a certificate for every answer and runs the extractions, then the report
(:mod:`verisnn.report`) of everything stored.

    verisnn audit CONFIG.yaml --out DIR [--workers N] [--scheduler ADDR] --json
    -> {"queries", "verified", "falsified", "unknown", "errors", "report", ...}

What lands in ``DIR``: ``campaign.sqlite`` (every answer, append-only), ``certificates/``
(one per answer, when the config asks for them), ``models/`` (the model the certificates
name, with ``certificates: {model: file}``), ``extractions/<name>/`` (rules or
automaton files), ``report.html`` / ``report.md`` / ``figures/`` and ``summary.json``.
A rerun resumes the campaign (nothing stored is run again) and redraws the report.
"""

from __future__ import annotations

import datetime
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .campaign import (CampaignConfig, Query, cached_model, campaign_results, certificate_path, load_config,
                       outcome_from_result, run_campaign, verify_query, write_json_atomic)
from .documents import parse_json, read_bounded
from .errors import InputError
from .model_format import model_hash, model_to_dict
from .paths import check_name, inside

MAX_EXTRACTION_FILE_BYTES = 256 << 20  # a rules or automaton file the report reads back
CHECK_TIMEOUT = 120.0  # seconds for each certificate's re-check (a re-solve that runs out: not valid)
TREE_OPTIONS = ("max_rules", "features", "windows", "split", "heldout", "n_eval", "n_samples", "flips",
                "fold_default", "seed", "min_leaf_samples", "refine", "refine_max_loss", "refine_max_conditions")
AUTOMATON_OPTIONS = ("algorithm", "oracle", "epsilon", "delta", "max_states", "depth", "seed", "timeout",
                     "latency_words", "compare_exact", "max_exact_states", "word_lengths", "fidelity_words")


# ----------------------------------------------------------------------------- the task runner (workers)


def audit_runner(query: Query, out_dir: Path) -> dict:
    """Answer one campaign query in a worker: verify (and write + check its certificate),
    or run an extraction. A module-level function: the campaign pickles it by reference."""
    if query.kind == "verify":
        return _verify_and_certify(query, out_dir)
    kind = query.extraction["kind"]
    if kind == "tree":
        return {"verdict": "done", "result": _extract_tree(query, out_dir)}
    if kind == "automaton":
        return {"verdict": "done", "result": _extract_automaton(query, out_dir)}
    raise InputError(f"unknown extraction kind {kind!r}", "extractions")


def _verify_and_certify(query: Query, out_dir: Path) -> dict:
    result = verify_query(query)
    if not query.certificates:
        return outcome_from_result(result)
    from .certificate import make_certificate, write_certificate
    from .checker import check_certificate
    from .properties import parse_property

    model = cached_model(query.model_path, query.model_sha256)
    path = certificate_path(out_dir, query.key)
    path.parent.mkdir(parents=True, exist_ok=True)
    embed = query.certificate_model == "embedded"
    model_path = query.model_path if embed else \
        os.path.relpath(bundle_model(out_dir, model, query.model_sha256), path.parent)  # the bundle can move
    write_certificate(path, make_certificate(model, parse_property(query.property), query.centre, result,
                                             model_path=model_path, costs=query.profile, embed_model=embed))
    t0 = time.perf_counter()
    report = check_certificate(path, timeout=CHECK_TIMEOUT)
    check_s = time.perf_counter() - t0
    outcome = outcome_from_result(result, certificate=path)
    outcome["result"]["certificate_check"] = {
        "valid": report.valid, "trust": report.trust if report.valid else None, "time_s": round(check_s, 6),
        "failures": [f"{c.name}: {c.detail}" for c in report.failures()]}
    return outcome


def bundle_model_path(sha256: str) -> Path:
    """Where, inside ``DIR``, the audit bundle keeps its copy of the model that
    certificates naming their model by file point to."""
    return Path("models") / f"{sha256}.snn.json"


def bundle_model(out_dir: str | Path, model, sha256: str) -> Path:
    """The bundle's copy of the model (:func:`bundle_model_path`), written once (atomically,
    so workers racing to write it leave one whole file)."""
    inside(out_dir, bundle_model_path(sha256), "the bundle's model copy")  # a hash: it never leaves DIR
    path = Path(out_dir) / bundle_model_path(sha256)  # as given: certificates name it relative to themselves
    if not path.is_file():
        write_json_atomic(path, model_to_dict(model))
    return path


def _inputs(query: Query) -> tuple[np.ndarray, np.ndarray | None]:
    x = np.load(query.inputs_path, allow_pickle=False)[list(query.indices)]
    y = None if query.labels_path is None else np.load(query.labels_path, allow_pickle=False)[list(query.indices)]
    return x, y


def _extraction_dir(query: Query, out_dir: Path) -> Path:
    name = query.extraction.get("name") or f"{query.extraction['kind']}-{query.key[:12]}"
    inside(out_dir, Path("extractions") / check_name(name, "extractions.name"), "extractions.name")
    folder = out_dir / "extractions" / name  # as given: the stored paths are relative to out_dir
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _options(item: dict, allowed: tuple[str, ...], kind: str) -> dict:
    unknown = sorted(set(item) - set(allowed) - {"kind", "name", "alphabet", "certify", "select"})
    if unknown:
        raise InputError(f"unknown {kind} extraction option(s) {', '.join(unknown)}; allowed: "
                         f"{', '.join(allowed)}", "extractions")
    return {k: item[k] for k in allowed if k in item}


def _extract_tree(query: Query, out_dir: Path) -> dict:
    from .extractors.certify import annotate_rules, certified_share, certify_rules
    from .extractors.rules import render_html, render_markdown, ruleset_from_json
    from .extractors.tree import run_tree_extraction

    if query.inputs_path is None:
        raise InputError("a tree extraction needs inputs (inputs.file)", "extractions")
    model = cached_model(query.model_path, query.model_sha256)
    options = _options(query.extraction, TREE_OPTIONS, "tree")
    region = query.extraction.get("certify", {"flips": 1})
    x, y = _inputs(query)
    if options.get("refine"):
        options["refine_region"] = region  # the rules are narrowed where they are certified
    data_name = "the selected inputs" if "select" in query.extraction else "the audited inputs"
    run = run_tree_extraction(model, x, y, profile=query.profile or "loihi", data_name=data_name, **options)
    results = certify_rules(model, run["ruleset"], x, region)
    document = annotate_rules(run["ruleset"], results)
    share = certified_share(results)
    folder = _extraction_dir(query, out_dir)
    extra = {"fidelity": run["fidelity"], "certified_share": share, "certification_region": region}
    ruleset = ruleset_from_json(document)
    (folder / "rules.json").write_text(json.dumps(document, indent=1) + "\n")
    (folder / "rules.md").write_text(render_markdown(ruleset, extra))
    (folder / "rules.html").write_text(render_html(ruleset, extra, title="Rules"))
    return {"kind": "tree", "fidelity": run["fidelity"], "certified_share": share, "region": region,
            "n_rules": run["n_rules"], "rules_file": str((folder / "rules.json").relative_to(out_dir)),
            **{k: run[k] for k in ("eval_fidelity", "network_accuracy", "rules_accuracy") if k in run}}


def _extract_automaton(query: Query, out_dir: Path) -> dict:
    from .automaton import load_alphabet
    from .extractors.learn import run_automaton_extraction

    if "alphabet" not in query.extraction:
        raise InputError("an automaton extraction needs an alphabet file", "extractions")
    model = cached_model(query.model_path, query.model_sha256)
    alphabet = load_alphabet(query.extraction["alphabet"], model)
    options = _options(query.extraction, AUTOMATON_OPTIONS, "automaton")
    folder = _extraction_dir(query, out_dir)
    answer = run_automaton_extraction(model, alphabet, folder, profile=query.profile or "loihi", **options)
    answer["folder"] = str(folder.relative_to(out_dir))
    return answer


# ----------------------------------------------------------------------------- the report bundle (parent)


def _property_text(doc: dict) -> str:
    region = doc.get("region")
    condition = doc.get("condition")
    horizon = doc.get("horizon", "bounded")
    return f"{json.dumps(region)} {json.dumps(condition)}" + (" for all time" if horizon == "unbounded" else "")


def _flip_budget(doc: dict) -> int | None:
    """k for a robustness property over ``flips: k`` (the points of the robustness curve)."""
    region = doc.get("region")
    if doc.get("condition") == "robust" and isinstance(region, dict) and set(region) == {"flips"}:
        return int(region["flips"])
    return None


def build_bundle(config: CampaignConfig, rows: list[dict], out: Path) -> dict:
    """The report's plain data (see :mod:`verisnn.report`) from the stored rows."""
    from .hardware import cost

    model = config.model
    options = config.document.get("report", {})
    verify_rows = [r for r in rows if r["kind"] == "verify"]
    counts = {v: sum(r["verdict"] == v for r in verify_rows) for v in ("verified", "falsified", "unknown", "error")}
    properties, curve = [], {}
    for p in config.properties:
        mine = [r for r in verify_rows if r["property_name"] == p.name]
        if not mine:
            continue
        doc = mine[0]["property"]
        entry = {"name": p.name, "text": _property_text(doc),
                 **{v: sum(r["verdict"] == v for r in mine) for v in ("verified", "falsified", "unknown")},
                 "errors": sum(r["verdict"] == "error" for r in mine),
                 "median_time_s": statistics.median(float(r["time_s"] or 0.0) for r in mine)}
        properties.append(entry)
        k = _flip_budget(doc)
        if k is not None:
            curve[k] = {"k": k, "n": len(mine), "verified": entry["verified"], "falsified": entry["falsified"]}
    selected = None if config.inputs is None else config.inputs[list(config.indices)]
    bundle: dict[str, Any] = {
        "title": options.get("title", f"Audit: {config.name}"),
        "created": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(),
        "verisnn": __version__,
        "model": {"name": model.name or config.model_path.name, "sha256": model_hash(model),
                  "path": str(config.model_path), "shape": [model.input.size] + [l.neuron.size for l in model.layers],
                  "time_steps": model.time_steps},
        "profile": config.profile,
        "summary": {"queries": len(rows), "verified": counts["verified"], "falsified": counts["falsified"],
                    "unknown": counts["unknown"], "errors": counts["error"]},
        "properties": properties,
        "robustness_curve": sorted(curve.values(), key=lambda p: p["k"]) if len(curve) > 1 else None,
    }
    if config.profile and selected is not None and len(selected):
        report = cost(model, selected, config.profile)
        bundle["costs"] = {"latency_us": [float(v) for v in report.latency_us],
                           "energy_uj": [float(v) for v in report.energy_uj]}
    bundle["counterexamples"] = _counterexamples(config, verify_rows, options.get("counterexamples", 6))
    bundle["certificates"] = _certificates(verify_rows)
    if bundle["certificates"] and config.certificate_model == "file":  # the one copy they all name
        bundle["certificate_model"] = bundle_model_path(config.model_sha256).as_posix()
    for r in rows:
        if r["kind"] != "extract" or r["verdict"] != "done":
            continue
        result = r["result"]
        if result.get("kind") == "tree":
            document = _stored_json(out, result["rules_file"], "rules")
            bundle["rules"] = {"document": document, "fidelity": result["fidelity"],
                               "certified_share": result["certified_share"], "region": result["region"]}
        elif "folder" in result:
            from .automaton import MealyMachine

            learned = inside(out, Path(result["folder"]) / "automaton.json", "the store's automaton folder")
            machine = None  # a learning that ended unknown has no machine: the report says why
            if result.get("status") == "complete" and learned.is_file():
                machine = MealyMachine.from_json(_stored_json(out, learned, "automaton"))
            name = r["extraction"].get("name") or "automaton"
            summary = {"status": result.get("status"), "states": result.get("states"),
                       "algorithm": result.get("algorithm"), "oracle": result.get("oracle"),
                       "equals the exact machine": result.get("equals_exact")}
            if result.get("reason"):
                summary["reason"] = result["reason"]
            if result.get("fidelity"):
                summary["fidelity"] = round(result["fidelity"]["value"], 4)
            bundle.setdefault("automata", []).append({"name": name, "machine": machine, "summary": summary})
    if selected is not None and len(selected):
        bundle["explanations"] = _explanations(model, selected, options)
    return bundle


def _stored_json(out: Path, path: str | Path, what: str) -> Any:
    """A JSON file the store names (a row's rules file or automaton), read only inside the
    audit folder and within :data:`MAX_EXTRACTION_FILE_BYTES`: a tampered store cannot make
    the report read any other file."""
    data = read_bounded(inside(out, path, f"the store's {what} file"), MAX_EXTRACTION_FILE_BYTES, InputError, what)
    return parse_json(data, what, InputError, str(path))


def _counterexamples(config: CampaignConfig, rows: list[dict], limit: int) -> list[dict]:
    from .simulator import simulate

    out = []
    for r in rows:
        if len(out) >= limit:
            break
        witness = r["result"].get("witness")
        if r["verdict"] != "falsified" or witness is None or r["input_index"] is None or config.inputs is None:
            continue
        centre = config.inputs[r["input_index"]]
        w = np.asarray(witness, dtype=np.int8)
        if w.shape != centre.shape:  # an unbounded witness has its own length
            continue
        decisions = simulate(config.model, np.stack([centre, w]).astype(np.int8)).prediction
        out.append({"property": r["property_name"], "input": r["input_index"], "centre": centre.tolist(),
                    "witness": w.tolist(), "centre_decision": None if decisions[0] < 0 else int(decisions[0]),
                    "witness_decision": None if decisions[1] < 0 else int(decisions[1])})
    return out


def _certificates(rows: list[dict]) -> list[dict]:
    out = []
    for r in rows:
        check = r["result"].get("certificate_check")
        if not r.get("certificate") or check is None:
            continue
        out.append({"path": r["certificate"], "property": r["property_name"], "input": r["input_index"],
                    "verdict": r["verdict"], "valid": check["valid"], "reason": "; ".join(check["failures"]) or None,
                    "how": _how(check),
                    "produce_s": float(r["time_s"] or 0.0), "check_s": float(check["time_s"])})
    return out


def _how(check: dict) -> str:
    """How a certificate was re-validated, in the report's words."""
    if not check["valid"]:
        return "INVALID"
    return {None: "valid (no claim)", "kernel": "valid (kernel)", "solver-trusted": "valid (solver-trusted)",
            "engine-trusted": "valid (engine-trusted)"}.get(check.get("trust"), "valid")


def _explanations(model, selected: np.ndarray, options: dict) -> dict:
    from .extractors.saliency import faithfulness, saliency
    from .simulator import simulate

    methods = options.get("saliency", ["gradient", "deletion", "sam"])
    decided = np.flatnonzero(simulate(model, selected.astype(np.int8)).prediction >= 0)
    inputs = []
    for i in decided[: options.get("explain_inputs", 2)]:
        inputs.append({"input": int(i), "raster": selected[i].tolist(),
                       "saliency": {m: saliency(model, selected[i], method=m).tolist() for m in methods}})
    faith = {}
    some = selected[decided[: options.get("faithfulness_inputs", 8)]]
    if len(some):
        for m in methods:
            f = faithfulness(model, some, m)
            faith[m] = {k: f[k] for k in ("auc_deletion", "random_auc_deletion", "auc_insertion",
                                          "random_auc_insertion", "explained")}
    return {"inputs": inputs, "faithfulness": faith, "psth": selected.astype(np.int8).tolist()}


# ----------------------------------------------------------------------------- the audit


def run_audit(config_or_path: str | Path | dict | CampaignConfig, out_dir: str | Path, *, workers: int | None = None,
              scheduler: Any = None, progress: bool = True) -> dict:
    """Run (or resume) the audit campaign, then write the report; returns the campaign's
    summary with ``report`` (the path of ``report.html``) and ``certificates``
    (``{"written", "valid", "median_check_over_produce"}``)."""
    from .report import render_report

    config = config_or_path if isinstance(config_or_path, CampaignConfig) else load_config(config_or_path)
    out = Path(out_dir)
    summary = run_campaign(config, out, workers=workers, scheduler=scheduler, progress=progress,
                           task_runner=audit_runner)
    t0 = time.perf_counter()
    rows = campaign_results(out, config)
    bundle = build_bundle(config, rows, out)
    paths = render_report(bundle, out, model=config.model)
    certs = bundle["certificates"]
    ratios = [c["check_s"] / c["produce_s"] for c in certs if c["produce_s"] > 0]
    summary.update(report=str(paths["html"]), report_markdown=str(paths["markdown"]),
                   report_s=round(time.perf_counter() - t0, 3),
                   certificates={"written": len(certs), "valid": sum(c["valid"] for c in certs),
                                 "median_check_over_produce": statistics.median(ratios) if ratios else None})
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    return summary
