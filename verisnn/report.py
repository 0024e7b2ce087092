"""The audit report: ``report.html`` (self-contained: every figure inline as a data URI, no
script, no network) and ``report.md`` (figures beside it in ``figures/``), written from one
plain-data *bundle* that the audit collects (:mod:`verisnn.audit`).

The bundle (every key but ``title``, ``model`` and ``summary`` optional)::

    {"title", "created", "verisnn": version,
     "model": {"name", "sha256", "path", "shape": [n, sizes...], "time_steps"},
     "profile": hardware profile name,
     "summary": {"queries", "verified", "falsified", "unknown", "errors"},
     "properties": [{"name", "text", "verified", "falsified", "unknown", "errors", "median_time_s"}],
     "robustness_curve": [{"k", "n", "verified", "falsified"}],
     "costs": {"latency_us": [...], "energy_uj": [...]},
     "counterexamples": [{"property", "input", "centre": [T][n], "witness": [T][n],
                         "centre_decision", "witness_decision"}],
     "rules": {"document": rules JSON, "fidelity": {...}, "certified_share", "region"},
     "automata": [{"name", "machine": verisnn.automaton.MealyMachine or None (not learned), "summary": {...}}],
     "explanations": {"inputs": [{"input", "raster", "saliency": {method: [T][n]}}],
                      "faithfulness": {method: {...}}, "psth": [B, T, n] rasters (drawn with ``model``)},
     "certificates": [{"path", "property", "input", "verdict", "valid", "how" (how it was re-validated:
                       "valid (kernel)", "valid (solver-trusted)", "valid (no claim)", "INVALID"), "reason",
                       "produce_s", "check_s"}],
     "certificate_model": the bundle's model file the certificates name (absent: they embed it)}

Figures come from :mod:`verisnn.plots`; the templates (Jinja2, autoescaped HTML) live in
``verisnn/templates``.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from . import plots
from .errors import InputError
from .extractors.rules import condition_text, ruleset_from_json

MAX_COUNTEREXAMPLES = 8


def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("verisnn", "templates"),
                              autoescape=jinja2.select_autoescape(["html", "html.j2"], default_for_string=True), undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


class _Figures:
    """Renders each figure once as SVG: a data URI for the HTML, a file for the Markdown."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.items: list[dict] = []

    def add(self, fig, name: str, caption: str) -> dict:
        svg = plots.figure_bytes(fig, "svg")
        path = self.folder / f"{len(self.items):02d}-{name}.svg"
        path.write_bytes(svg)
        item = {"uri": "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii"),
                "file": f"figures/{path.name}", "caption": caption, "alt": caption}
        self.items.append(item)
        return item


def _decision(d: Any) -> str:
    return "none" if d is None or d == -1 else str(d)


def _rules_view(rules: dict) -> dict:
    ruleset = ruleset_from_json(rules["document"])
    rows = []
    for rule, doc in zip(ruleset.rules, rules["document"]["rules"]):
        rows.append({"conditions": [condition_text(ruleset, c) for c in rule.conditions] or ["always"],
                     "then": _decision(doc["then"]),
                     "precision": doc.get("precision"), "coverage": doc.get("coverage"),
                     "certified": doc.get("certified", "not checked"),
                     "reason": (doc.get("certification") or {}).get("reason")})
    return {"rows": rows, "fidelity": rules["fidelity"], "certified_share": rules.get("certified_share"),
            "region": rules.get("region"), "default": _decision(rules["document"].get("default"))}


def render_report(bundle: dict, out_dir: str | Path, model=None) -> dict[str, Path]:
    """Write ``report.html``, ``report.md`` and ``figures/*.svg`` into ``out_dir``; returns
    their paths. ``model`` (the audited :class:`~verisnn.model.Model`) draws the PSTH. Raises :class:`~verisnn.errors.InputError` for a bundle without its
    required parts."""
    for key in ("title", "model", "summary"):
        if key not in bundle:
            raise InputError(f"the report needs {key!r}", f"bundle.{key}")
    out = Path(out_dir)
    figures_dir = out / "figures"
    figures_dir.mkdir(parents=True, exist_ok=True)
    for old in figures_dir.glob("*.svg"):  # a rerun redraws every figure
        old.unlink()
    figs = _Figures(figures_dir)
    optional = ("created", "verisnn", "profile", "properties", "robustness_curve", "costs", "counterexamples",
                "rules", "automata", "explanations", "certificates")
    bundle = {**dict.fromkeys(optional), **bundle}
    bundle["model"] = {**dict.fromkeys(("name", "sha256", "path", "shape", "time_steps")), **bundle["model"]}
    view: dict[str, Any] = {"b": bundle, "figures": dict.fromkeys(("curve", "latency", "energy"))}
    profile = bundle.get("profile")

    curve = bundle.get("robustness_curve")
    if curve:
        view["figures"]["curve"] = figs.add(plots.robustness_curve(curve), "robustness",
                                            "Share of inputs verified robust, refuted and left undecided per "
                                            "flip budget k")
    costs = bundle.get("costs")
    if costs:
        view["figures"]["latency"] = figs.add(
            plots.histogram(costs["latency_us"], "latency per inference (µs)", f"Latency on {profile}"),
            "latency", f"Latency per inference on the {profile} profile")
        view["figures"]["energy"] = figs.add(
            plots.histogram(costs["energy_uj"], "energy per inference (µJ)", f"Energy on {profile}"),
            "energy", f"Energy per inference on the {profile} profile")
    view["counterexamples"] = []
    for c in (bundle.get("counterexamples") or [])[:MAX_COUNTEREXAMPLES]:
        fig = plots.witness_pair(np.asarray(c["centre"]), np.asarray(c["witness"]),
                                 title=f"{c['property']}, input {c['input']}: decision "
                                       f"{_decision(c['centre_decision'])} -> {_decision(c['witness_decision'])}")
        view["counterexamples"].append({**c, "figure": figs.add(fig, "witness", f"Counterexample to {c['property']} "
                                                                          f"at input {c['input']}")})
    view["rules"] = _rules_view(bundle["rules"]) if bundle.get("rules") else None
    view["automata"] = []
    for a in bundle.get("automata") or []:
        figure = None
        if a.get("machine") is not None:
            figure = figs.add(plots.automaton_figure(a["machine"], title=a["name"]), "automaton",
                              f"Learned automaton {a['name']}")
        view["automata"].append({"name": a["name"], "summary": a.get("summary") or {}, "figure": figure})
    view["explanations"] = None
    expl = bundle.get("explanations")
    if expl:
        items = []
        for item in expl.get("inputs", []):
            raster = np.asarray(item["raster"])
            entry = {"input": item["input"], "figures": []}
            for method, sal in item["saliency"].items():
                entry["figures"].append(figs.add(plots.saliency_heatmap(np.asarray(sal), raster,
                                                                        title=f"{method} saliency"),
                                                 f"saliency-{method}", f"{method} saliency of input {item['input']}"))
            items.append(entry)
        psth = None
        if model is not None and expl.get("psth") is not None:
            psth = figs.add(plots.psth(model, np.asarray(expl["psth"])), "psth",
                            "Peri-stimulus time histogram of every layer over the audited inputs")
        view["explanations"] = {"inputs": items, "faithfulness": expl.get("faithfulness") or {}, "psth": psth}
    view["all_figures"] = figs.items
    env = _environment()
    paths = {"html": out / "report.html", "markdown": out / "report.md"}
    paths["html"].write_text(env.get_template("report.html.j2").render(**view), encoding="utf-8")
    paths["markdown"].write_text(env.get_template("report.md.j2").render(**view), encoding="utf-8")
    return paths


IMAGE_WAIT_S = 30  # how long open_in_browser waits for the images to finish loading


def open_in_browser(html: str | Path) -> dict:
    """Open a report in headless Chromium (Debian's ``chromium`` and ``chromium-driver``,
    driven by selenium, a test dependency): ``{"images": count, "broken": [alt of each
    image that did not load], "errors": [browser log errors], "title"}``."""
    import shutil

    from selenium import webdriver
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver_path):
        raise InputError("opening a report needs Debian's chromium and chromium-driver "
                         "(scripts/system_packages.sh installs them)", "browser")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        driver.get(Path(html).resolve().as_uri())
        # large inline images may still be decoding when the load event has fired: wait until
        # every image is complete (loaded or broken), then look
        try:
            WebDriverWait(driver, IMAGE_WAIT_S).until(
                lambda d: d.execute_script("return Array.from(document.images).every(i => i.complete);"))
        except TimeoutException:
            pass  # what is still incomplete is reported as not loaded
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.alt]);")
        errors = [e["message"] for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
        title = driver.title
    finally:
        driver.quit()
    return {"images": len(images), "broken": [alt for done, width, alt in images if not done or width == 0],
            "errors": errors, "title": title}
