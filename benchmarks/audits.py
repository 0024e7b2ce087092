"""Every case study's audit, end to end, and one table of what came out.

For each case study (``case_studies/<study>/audit.yaml``: digits, iris, mnist, ecg,
robot, tomita) this runs :func:`verisnn.audit.run_audit` into a fresh folder (outside the
repository: ``--out``, default a new temporary folder) and reports, from the campaign's
store and summary: the queries, the verdict counts, the certificates written and valid,
the median certificate check time over production time, the rules' fidelity and certified
share, the automaton's states, oracle and fidelity, whether ``report.html`` exists, and the
wall time of the whole audit (campaign, extractions and report).

    .venv/bin/python benchmarks/audits.py [--studies digits,iris,mnist,ecg,robot,tomita]
        [--tomita 3 | --tomita 1,2,3,4,5,6,7] [--workers 2] [--out DIR] [--json OUT.json] [--browser]
    .venv/bin/python benchmarks/audits.py --write-files     # regenerate the configs' data files

The Tomita config audits one grammar's network (T3); ``--tomita 1,...,7`` runs the same
config on each listed grammar's network (its ``case_study`` replaced). ``--browser`` also
opens each ``report.html`` in headless Chromium and counts the images that loaded and the
browser's errors. The process exits with status 1 when an audit has an error row, an
invalid certificate, no report, or (``--browser``) an image that did not load or an error.

``--write-files`` regenerates, deterministically, the files the configs read besides the
built models (docs/case-study-audits.md says what each means): the automaton alphabets
(``case_studies/{iris,mnist,ecg,robot,tomita}/alphabet.json``) and the generated input
rasters of the two studies without a test set (``case_studies/robot/inputs.npy``: seeded
random sensor rasters; ``case_studies/tomita/inputs.npy``: every raster of one letter).
The classifier alphabets take letters from the built models' test sets, so the models must
be built first.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from verisnn.documents import load_document
from verisnn.errors import VerisnnError
from verisnn.report import open_in_browser

ROOT = Path(__file__).resolve().parents[1]
STUDIES = ("digits", "iris", "mnist", "ecg", "robot", "tomita")
ART = ROOT / "artifacts"
CASES = ROOT / "case_studies"

# ----------------------------------------------------------------------------- the configs' data files

# Silent steps appended to each class-prototype letter: the smallest of 0, 8, 16, 32 for
# which the network's exact machine over the letters is within reach (docs/case-study-audits.md).
PROTOTYPE_GAP = {"iris": 0, "mnist": 16, "ecg": 0}
ROBOT_CHANNELS = ("left", "centre", "right", "go")
ROBOT_INPUTS = {"count": 24, "seed": 0, "p_obstacle": 0.2, "p_go": 0.9}


def medoid_index(x: np.ndarray, candidates: np.ndarray) -> int:
    """The candidate raster with the least summed Hamming distance to the other candidates."""
    flat = x[candidates].reshape(len(candidates), -1).astype(np.int32)
    ones = flat.sum(1)
    # Hamming(a, b) = |a| + |b| - 2 a.b, for every pair at once
    dist = ones[:, None] + ones[None, :] - 2 * (flat @ flat.T)
    return int(candidates[int(np.argmin(dist.sum(1)))])


def prototype_letters(study: str, names: dict[int | str, str]) -> tuple[dict, dict]:
    """One letter per class (ECG: per beat kind): the medoid of the test inputs of that class
    the network decides correctly, followed by ``PROTOTYPE_GAP[study]`` silent steps.
    Returns the letters and, per letter, the test input it came from."""
    from verisnn import load_model
    from verisnn.simulator import simulate

    folder = ART / study
    model = load_model(next(folder.glob("*.snn.json")))
    x = np.load(folder / "test_inputs.npy", allow_pickle=False)
    y = np.load(folder / "test_labels.npy", allow_pickle=False)
    right = simulate(model, x).prediction == y
    group = np.array(json.loads((folder / "test_kinds.json").read_text())) if study == "ecg" else y
    gap = np.zeros((PROTOTYPE_GAP[study], x.shape[2]), dtype=np.int8)
    letters, sources = {}, {}
    for key, name in names.items():
        i = medoid_index(x, np.flatnonzero((group == key) & right))
        letters[name] = np.concatenate([x[i], gap]).astype(int).tolist()
        sources[name] = {"test_input": i, "label": int(y[i]), "spikes": int(x[i].sum())}
    return letters, sources


def robot_letters() -> dict:
    """Every one-step letter over the four sensor channels (16), named by the channels that spike."""
    letters = {}
    for bits in itertools.product((0, 1), repeat=len(ROBOT_CHANNELS)):
        name = "_".join(c for c, b in zip(ROBOT_CHANNELS, bits) if b) or "quiet"
        letters[name] = [list(bits)]
    return letters


def robot_inputs() -> np.ndarray:
    """Seeded random sensor rasters ``[24, 16, 4]``: each obstacle sensor spikes with
    probability 0.2 per step, ``go`` with 0.9 (numpy ``default_rng(0)``)."""
    from verisnn import load_model

    steps = load_model(ART / "robot" / "robot-safe.snn.json").time_steps
    rng = np.random.default_rng(ROBOT_INPUTS["seed"])
    p = np.array([ROBOT_INPUTS["p_obstacle"]] * 3 + [ROBOT_INPUTS["p_go"]])
    return (rng.random((ROBOT_INPUTS["count"], steps, len(ROBOT_CHANNELS))) < p).astype(np.int8)


def tomita_inputs() -> np.ndarray:
    """Every raster of one letter's 2 steps over the 2 channels (16): the networks' whole
    bounded input space from rest."""
    cells = [np.array(bits, dtype=np.int8).reshape(2, 2) for bits in itertools.product((0, 1), repeat=4)]
    return np.stack(cells)


def _write_json(path: Path, doc: dict) -> None:
    # one letter per line, rows compact: readable diffs, small files
    letters = ",\n".join(f" {json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}" for k, v in doc["letters"].items())
    path.write_text('{"letters": {\n' + letters + "\n}}\n")


def write_files() -> dict:
    """(Re)write every generated file the configs read; returns where each letter came from."""
    made = {}
    iris, made["iris"] = prototype_letters("iris", {0: "setosa", 1: "versicolor", 2: "virginica"})
    mnist, made["mnist"] = prototype_letters("mnist", {d: f"digit{d}" for d in range(10)})
    ecg, made["ecg"] = prototype_letters("ecg", {k: k for k in ("normal", "pvc", "wide_qrs", "missing_p")})
    for study, letters in (("iris", iris), ("mnist", mnist), ("ecg", ecg), ("robot", robot_letters()),
                           ("tomita", {"a": [[1, 0], [0, 0]], "b": [[0, 1], [0, 0]]})):
        _write_json(CASES / study / "alphabet.json", {"letters": letters})
    np.save(CASES / "robot" / "inputs.npy", robot_inputs(), allow_pickle=False)
    np.save(CASES / "tomita" / "inputs.npy", tomita_inputs(), allow_pickle=False)
    return made


# ----------------------------------------------------------------------------- running the audits


def _config(study: str, grammar: int | None) -> tuple[str, Path | dict]:
    """The label and config of one audit (a Tomita grammar other than the config's: the
    config with its ``case_study`` replaced and its paths made absolute)."""
    path = CASES / study / "audit.yaml"
    if study != "tomita" or grammar is None:
        return study, path
    doc = load_document(path, 1 << 20, VerisnnError, "campaign config")
    if doc["case_study"] == f"tomita/T{grammar}":
        return f"tomita/T{grammar}", path
    doc["case_study"] = f"tomita/T{grammar}"
    doc["name"] = f"{doc['name']}-T{grammar}"
    for item in doc.get("properties", []):
        if "file" in item:
            item["file"] = str(path.parent / item["file"])
    for key in ("file", "labels", "analog"):
        if key in doc.get("inputs", {}):
            doc["inputs"][key] = str(path.parent / doc["inputs"][key])
    for item in doc.get("extractions", []):
        if "alphabet" in item:
            item["alphabet"] = str(path.parent / item["alphabet"])
    return f"tomita/T{grammar}", doc


def measure(label: str, config: Path | dict, out: Path, workers: int) -> dict:
    """Run one audit into ``out`` and read its numbers back from the store and summary."""
    from verisnn.audit import run_audit
    from verisnn.campaign import campaign_results, load_config

    t0 = time.perf_counter()
    summary = run_audit(config, out, workers=workers, progress=False)
    wall = time.perf_counter() - t0
    rows = campaign_results(out, load_config(config))
    row = {"study": label, "wall_s": round(wall, 1), "campaign_s": summary["time_s"],
           "report_s": summary["report_s"], "report": summary["report"],
           "report_exists": Path(summary["report"]).is_file(),
           **{k: summary[k] for k in ("queries", "verified", "falsified", "unknown", "errors", "extracted")},
           "certificates": summary["certificates"], "rules": None, "automata": [],
           "extraction_errors": [r["reason"] for r in rows if r["kind"] == "extract" and r["verdict"] == "error"]}
    for r in rows:
        if r["kind"] != "extract" or r["verdict"] != "done":
            continue
        res = r["result"]
        if res.get("kind") == "tree":
            row["rules"] = {"n_rules": res["n_rules"], "fidelity": res["fidelity"]["value"],
                            "ci": res["fidelity"]["ci"], "n": res["fidelity"]["n"],
                            "certified_share": res["certified_share"], "region": res["region"]}
        else:
            fid = res.get("fidelity") or {}
            row["automata"].append({"name": r["extraction"].get("name"), "status": res["status"],
                                    "states": res["states"], "algorithm": res["algorithm"],
                                    "oracle": res["oracle"], "equals_exact": res["equals_exact"],
                                    "fidelity": fid.get("value"), "ci": fid.get("ci"),
                                    "time_s": round(res["time_s"], 2)})
    verify_times = [float(r["time_s"] or 0) for r in rows if r["kind"] == "verify"]
    row["query_s_sum"] = round(sum(verify_times), 1)
    return row


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def table(rows: list[dict]) -> str:
    head = ("| study | queries | verified / falsified / unknown / errors | certificates valid | "
            "median check/produce | rules (fidelity, 95% CI) | rules certified | automaton | wall s |")
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        c = r["certificates"]
        ratio = "–" if c["median_check_over_produce"] is None else f"{c['median_check_over_produce']:.2f}"
        rules = cert = "–"
        if r["rules"]:
            ru = r["rules"]
            rules = (f"{ru['n_rules']} rule{'' if ru['n_rules'] == 1 else 's'}, {_pct(ru['fidelity'])} "
                     f"[{_pct(ru['ci'][0])}, {_pct(ru['ci'][1])}]")
            # with no rules (everything is the default) there is no share to speak of
            cert = _pct(ru["certified_share"]) if ru["n_rules"] else "– (no rules)"
        autos = "; ".join(
            f"{a['states']} state{'' if a['states'] == 1 else 's'} ({a['algorithm']}/{a['oracle']}, "
            f"{'= exact' if a['equals_exact'] else 'exact n/a' if a['equals_exact'] is None else '≠ exact'}, "
            f"fidelity {_pct(a['fidelity'])})" if a["status"] == "complete" else f"{a['status']}"
            for a in r["automata"]) or "–"
        lines.append(f"| {r['study']} | {r['queries']} | {r['verified']} / {r['falsified']} / {r['unknown']} / "
                     f"{r['errors']} | {c['valid']}/{c['written']} | {ratio} | {rules} | {cert} | {autos} | "
                     f"{r['wall_s']} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--studies", default=",".join(STUDIES))
    ap.add_argument("--tomita", default=None, help="grammars to audit with the Tomita config, e.g. 1,2,3,4,5,6,7 "
                                                    "(default: the config's own)")
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--out", type=Path, default=None, help="parent folder of the audits (default: a new temp folder)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--browser", action="store_true", help="also open each report in headless Chromium")
    ap.add_argument("--write-files", action="store_true",
                    help="regenerate the configs' alphabets and inputs, then stop")
    args = ap.parse_args()
    if args.write_files:
        print(json.dumps(write_files(), indent=1))
        return 0
    out = args.out or Path(tempfile.mkdtemp(prefix="verisnn-audits-"))
    runs = []
    for study in args.studies.split(","):
        if study not in STUDIES:
            ap.error(f"unknown study {study!r}; known: {', '.join(STUDIES)}")
        grammars = [None] if study != "tomita" or not args.tomita else [int(g) for g in args.tomita.split(",")]
        runs += [_config(study, g) for g in grammars]
    rows = []
    for label, config in runs:
        print(f"auditing {label} ...", file=sys.stderr, flush=True)
        row = measure(label, config, out / label.replace("/", "-"), args.workers)
        if args.browser:
            row["browser"] = open_in_browser(row["report"])
        rows.append(row)
        print(f"  {row['queries']} queries, {row['wall_s']} s, report {row['report']}", file=sys.stderr, flush=True)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
          f"workers {args.workers}; audits in {out}")
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps({"workers": args.workers, "rows": rows}, indent=1) + "\n")
    if args.browser:
        for r in rows:
            b = r["browser"]
            print(f"{r['study']}: report.html in Chromium: {b['images'] - len(b['broken'])}/{b['images']} images "
                  f"loaded, {len(b['errors'])} browser errors")
    bad = [r["study"] for r in rows if r["errors"] or not r["report_exists"]
           or r["certificates"]["valid"] != r["certificates"]["written"]
           or (args.browser and (r["browser"]["broken"] or r["browser"]["errors"]))]
    if bad:
        print(f"not clean: {', '.join(bad)}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
