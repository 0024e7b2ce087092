"""Campaign scaling benchmark: one digits audit campaign on 1..N workers, on the local
process pool and on a Dask ``LocalCluster``, plus the local pool without thread pinning.

The campaign: the first ``--inputs`` digits test inputs x robustness properties: by
default flips 1, deletions 2 and flips 2 (all decided well inside the timeout, so every
run does the same work); ``--properties`` may add ``flips3``, a region large enough that
``auto`` runs the falsifiers (torch's surrogate-gradient search among them) and often
ends on the timeout. Each configuration runs the whole campaign into a fresh folder,
worker start-up included; the speedup is wall time on 1 worker over wall time on N.
Every configuration must give the same decided verdicts (checked). ``efficiency`` is
the summed query time over (wall time x workers): how busy the workers were. ``CPUs left
by other jobs`` is the machine's CPU count less the CPU time that processes other than
this benchmark's used during the run, per second of wall time: on a shared machine it
says how many cores the campaign could have had. A last Dask run keeps the nanny's
default environment (``MALLOC_TRIM_THRESHOLD_``, no ``DASK_WORKER_ENVIRON``).

The ceiling: N independent spawned processes with no campaign around them (no pool
protocol, store, keys or progress), each running the same third of the queries, against one
such process: ``N x`` one's wall time over N's is the speedup the machine itself allows for
this work (on a VM whose cores slow each other down it is below N); ``of the ceiling`` is
the campaign's speedup over it.

    .venv/bin/python benchmarks/campaign.py [--inputs 40] [--workers 1,2] [--timeout 10]
        [--properties flips1,deletions2,flips2] [--sleep S] [--no-dask] [--no-unpinned] [--no-bare] [--json]

``--sleep S`` replaces every verification by a wait of ``S`` seconds: the speedup then
measures the campaign machinery alone (it needs no free cores, so ``--workers 1,2,4,8``
is meaningful even on a busy 2-core machine).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
PROPERTIES = {
    "flips1": {"region": {"flips": 1}, "condition": "robust"},
    "deletions2": {"region": {"deletions": 2}, "condition": "robust"},
    "flips2": {"region": {"flips": 2}, "condition": "robust"},
    "flips3": {"region": {"flips": 3}, "condition": "robust"},
}


def config(inputs: int, timeout: float, properties: list[str]) -> dict:
    return {"name": "digits-scaling", "model": str(ROOT / "artifacts/digits/digits-lif.snn.json"),
            "inputs": {"file": str(ROOT / "artifacts/digits/test_inputs.npy"),
                       "labels": str(ROOT / "artifacts/digits/test_labels.npy"), "select": {"first": inputs}},
            "properties": [{"name": n, "property": PROPERTIES[n]} for n in properties],
            "verify": {"method": "auto", "timeout": timeout}}


def _busy_s() -> tuple[float, float]:
    """CPU seconds used so far by the whole machine and by this process with its (reaped) children."""
    t = psutil.cpu_times()
    machine = sum(t) - t.idle - getattr(t, "iowait", 0.0)
    own = sum(resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
              for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return machine, own


def sleeping_runner(seconds: float, query, out_dir) -> dict:
    """``--sleep``: every query just waits, so the run measures the campaign machinery alone
    (dispatch, transport, the store, the progress bar), not the cores."""
    time.sleep(seconds)
    return {"verdict": "unknown", "reason": "benchmark: no verification", "result": {"slept_s": seconds}}


def run_one(doc: dict, workers: int, backend: str, pin: bool, tuned: bool = True, runner=None) -> dict:
    """One campaign into a fresh folder. ``backend`` ``dask``: a LocalCluster of ``workers``
    single-threaded worker processes, with :data:`DASK_WORKER_ENVIRON` when ``tuned``."""
    from verisnn.campaign import DASK_WORKER_ENVIRON, campaign_results, run_campaign

    machine0, own0 = _busy_s()
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "out"
        t0 = time.perf_counter()
        if backend == "dask":
            import dask
            from distributed import LocalCluster

            env = {f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in DASK_WORKER_ENVIRON.items()}
            with dask.config.set(env if tuned else {}), \
                    LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                 dashboard_address=None) as cluster:
                t_up = time.perf_counter() - t0
                summary = run_campaign(doc, out, scheduler=cluster, progress=False, task_runner=runner)
        else:
            t_up = 0.0
            summary = run_campaign(doc, out, workers=workers, progress=False, pin_threads=pin, task_runner=runner)
        wall = time.perf_counter() - t0
        rows = campaign_results(out)
    machine1, own1 = _busy_s()  # every worker has been reaped by now: its CPU time is in RUSAGE_CHILDREN
    foreign = max(0.0, (machine1 - machine0) - (own1 - own0))
    busy = sum(r["time_s"] for r in rows)
    return {"backend": backend if tuned else f"{backend} (nanny's default env)", "workers": workers,
            "pin_threads": pin, "wall_s": round(wall, 2),
            "cluster_start_s": round(t_up, 2), "query_time_s": round(busy, 2),
            "efficiency": round(busy / (wall * workers), 2),
            "free_cpus": round(os.cpu_count() - foreign / wall, 2),
            "counts": {k: summary[k] for k in ("verified", "falsified", "unknown", "errors")},
            "verdicts": {r["key"]: r["verdict"] for r in rows}}


def _bare_share(doc: dict, share: int, shares: int) -> float:
    """The verification work of the queries ``share, share + shares, ...`` of the campaign,
    in this process with no campaign around it (no pool, store, keys or progress)."""
    import numpy as np

    from verisnn import load_model
    from verisnn.campaign import _worker_init
    from verisnn.properties import parse_property
    from verisnn.verify import verify

    _worker_init(True)  # one thread per library, as in a campaign's worker
    model = load_model(doc["model"])
    x = np.load(doc["inputs"]["file"])[: doc["inputs"]["select"]["first"]]
    work = [(p, c) for p in doc["properties"] for c in x]
    t0 = time.perf_counter()
    for prop, centre in work[share::shares]:
        verify(model, centre, parse_property(prop["property"]), method=doc["verify"]["method"],
               timeout=doc["verify"]["timeout"])
    return time.perf_counter() - t0


BARE_SHARES = 3  # each independent process of the ceiling runs every third query


def bare_run(doc: dict, workers: int) -> dict:
    """The machine's own parallel capacity for this work: ``workers`` independent spawned
    processes, without any campaign, each running the same third of the campaign's queries
    (importing verisnn and loading the model as a worker does). On free, independent cores
    N of them take as long as one; ``N x (one's wall time) / (N's wall time)`` is the
    speedup the machine allows, the ceiling the campaign's is judged against (on a VM whose
    cores slow each other down it is below N)."""
    import multiprocessing

    machine0, own0 = _busy_s()
    t0 = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        times = pool.starmap(_bare_share, [(doc, 0, BARE_SHARES)] * workers)
    wall = time.perf_counter() - t0
    machine1, own1 = _busy_s()
    foreign = max(0.0, (machine1 - machine0) - (own1 - own0))
    return {"backend": "independent processes, no campaign", "workers": workers, "pin_threads": True,
            "wall_s": round(wall, 2), "query_time_s": round(sum(times), 2),
            "free_cpus": round(os.cpu_count() - foreign / wall, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--inputs", type=int, default=40)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--timeout", type=float, default=10.0, help="per-query timeout (s)")
    ap.add_argument("--properties", default="flips1,deletions2,flips2", help=f"of {', '.join(PROPERTIES)}")
    ap.add_argument("--sleep", type=float, default=None,
                    help="replace each query's verification by a wait of this many seconds")
    ap.add_argument("--no-dask", action="store_true")
    ap.add_argument("--no-unpinned", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-bare", action="store_true", help="skip the runs without the campaign (the ceiling)")
    args = ap.parse_args()
    names = args.properties.split(",")
    unknown = [n for n in names if n not in PROPERTIES]
    if unknown:
        ap.error(f"unknown properties {unknown}; known: {', '.join(PROPERTIES)}")
    doc = config(args.inputs, args.timeout, names)
    counts = [int(w) for w in args.workers.split(",")]
    plan = [("local", w, True, True) for w in counts]
    if not args.no_unpinned:
        plan += [("local", w, False, True) for w in counts if w > 1]
    if not args.no_dask:
        plan += [("dask", w, True, True) for w in counts]
        plan += [("dask", max(counts), True, False)]  # the nanny's MALLOC_TRIM_THRESHOLD_ left in place
    bare = []  # first: after Dask clusters, exiting worker processes may still hold CPU for a while
    if not args.no_bare and args.sleep is None:
        for w in sorted(set(counts) | {1}):
            r = bare_run(doc, w)
            bare.append(r)
            if not args.json:
                print(f"independent processes={w}  wall {r['wall_s']:7.2f} s  (sum of query times "
                      f"{r['query_time_s']:.2f} s, CPUs left by other jobs {r['free_cpus']:.2f})", flush=True)
    runs = []
    for backend, w, pin, tuned in plan:
        load = os.getloadavg()[0]
        runner = None if args.sleep is None else functools.partial(sleeping_runner, args.sleep)
        r = run_one(doc, w, backend, pin, tuned, runner)
        r["load_before"] = round(load, 2)
        runs.append(r)
        if not args.json:
            print(f"{r['backend']:5} workers={w} pin={str(pin):5}  wall {r['wall_s']:7.2f} s  (sum of query times "
                  f"{r['query_time_s']:.2f} s, cluster start {r['cluster_start_s']:.2f} s, CPUs left by other "
                  f"jobs {r['free_cpus']:.2f})  {r['counts']}", flush=True)
    base = {b: next((r["wall_s"] for r in runs if r["backend"].startswith(b) and r["workers"] == 1
                     and r["pin_threads"]), None) for b in ("local", "dask")}
    for r in runs:
        b = base[r["backend"].split()[0]]  # the untuned Dask run is compared with the tuned 1-worker one
        r["speedup"] = None if b is None else round(b / r["wall_s"], 2)
    one = next((r["wall_s"] for r in bare if r["workers"] == 1), None)
    for r in bare:  # N processes doing N times the work of one
        r["speedup"] = None if one is None else round(r["workers"] * one / r["wall_s"], 2)
    ceiling = {r["workers"]: r["speedup"] for r in bare}
    for r in runs:
        r["of_ceiling"] = None if r["speedup"] is None or not ceiling.get(r["workers"]) else \
            round(r["speedup"] / ceiling[r["workers"]], 2)
    decided = [{k: v for k, v in r["verdicts"].items() if v != "unknown"} for r in runs]
    same = all(d[k] == decided[0].get(k, d[k]) for d in decided for k in d)
    queries = len(runs[0]["verdicts"])
    result = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()}, "queries": queries,
              "properties": names,
              "inputs": args.inputs, "timeout_s": args.timeout, "same_decided_verdicts": same,
              "runs": [{k: v for k, v in r.items() if k != "verdicts"} for r in runs], "without_campaign": bare}
    if args.json:
        print(json.dumps(result, indent=1))
        return
    work = f"each query a {args.sleep} s wait" if args.sleep is not None else f"timeout {args.timeout} s"
    print(f"\n{queries} queries ({args.inputs} inputs x {len(names)} properties: {', '.join(names)}), {work}, "
          f"{os.cpu_count()} CPUs; decided verdicts identical across runs: {same}")
    print("| backend | workers | threads pinned | wall (s) | speedup | of the ceiling | efficiency | "
          "CPUs left by other jobs |")
    print("|---|---|---|---|---|---|---|---|")
    for r in runs:
        print(f"| {r['backend']} | {r['workers']} | {'yes' if r['pin_threads'] else 'no'} | {r['wall_s']:.2f} | "
              f"{r['speedup']} | {r['of_ceiling'] if r['of_ceiling'] is not None else '–'} | {r['efficiency']} | "
              f"{r['free_cpus']} |")
    for r in bare:
        print(f"| {r['backend']} | {r['workers']} | yes | {r['wall_s']:.2f} | {r['speedup']} | (the ceiling) | – | "
              f"{r['free_cpus']} |")


if __name__ == "__main__":
    main()
