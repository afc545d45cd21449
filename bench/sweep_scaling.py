"""A 12-point sweep on one and on two dask worker processes, side by side.

Each point is a ``flowlab flow`` study (a tanh network, width 60, fitting
sin(3x) + sin(6x)/2 on 40 points by Radau to t = 1000; about 0.7 s of CPU).
Both clusters (``LocalCluster(n_workers=k, threads_per_worker=1,
processes=True)``) are started first and warmed up (numba loads its kernels in
every worker process); then interleaved rounds each run the whole sweep on one
worker and on two, into fresh folders, and the best time of each over the
rounds gives the speed-up (the spread lists every round's ratio: the machines
are shared and their speed varies from second to second).  Beside each time, the
CPU seconds the worker processes got, divided by the wall time, say how many cores
the sweep actually obtained: on a machine loaded by other jobs two workers do not
get two cores, and the speed-up is bounded by what they get.

The per-task overhead is measured on the one-worker cluster with a sweep of
trivial tasks (each returns at once): everything a point costs besides its own
computation, i.e. scheduling, transfer and writing its results to the zarr
store, as wall seconds per point; the scheduler's share alone (submit and
gather of the same trivial function without the store) is reported beside it.

Targets (issue: sweeps on Dask): speed-up >= 1.6 on this 2-core machine;
overhead <= 50 ms per task.  Prints JSON.

    python bench/sweep_scaling.py [--quick]
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

STUDY = {
    "model": {"kind": "TwoLayer", "width": 60, "activation": "tanh"},
    "init": {"scheme": "xavier", "seed": 0},
    "data": {"target": "sin(3*x) + 0.5*sin(6*x)", "interval": [-1.0, 1.5], "points": 40},
    "flow": {"t_end": 1000.0, "loss": "mean", "method": "Radau"},
}


def trivial(point):
    return {"y": point["x"]}


def _warm():
    """Run one small flow in this process (numba loads its compiled kernels once)."""
    from flowlab.sweep.flowtask import flow_task
    from flowlab.sweep.spec import load_sweep
    spec = load_sweep(_study(1, 0.5))
    flow_task(spec.point((0,)))


def _study(points, t_end):
    cfg = {k: dict(v) for k, v in STUDY.items()}
    cfg["flow"]["t_end"] = t_end
    cfg["sweep"] = {"init.seed": list(range(points))}
    return cfg


def run(quick=False):
    import flowlab.sweep as sw
    from dask.distributed import Client, LocalCluster
    points = 4 if quick else 12
    rounds = 1 if quick else 3
    t_end = 2.0 if quick else STUDY["flow"]["t_end"]
    n_trivial = 12 if quick else 48
    work = Path(tempfile.mkdtemp(prefix="sweep-bench-"))
    kw = dict(threads_per_worker=1, processes=True, dashboard_address=":0",
              silence_logs=logging.ERROR)
    times = {1: [], 2: []}
    cpu = {1: [], 2: []}               # CPU seconds the worker processes got
    try:
        with LocalCluster(n_workers=1, **kw) as c1, Client(c1) as one, \
                LocalCluster(n_workers=2, **kw) as c2, Client(c2) as two:
            clients = {1: one, 2: two}
            for k, client in clients.items():          # warm-up: numba loads in each worker
                client.run(_warm)
                sw.run(_study(2 * k, 0.5), out=work / f"warm{k}", client=client, echo=None,
                       progress=False)
            for r in range(rounds):
                for k, client in clients.items():
                    out = work / f"r{r}-w{k}"
                    c0 = sum(client.run(time.process_time).values())
                    t0 = time.perf_counter()
                    res = sw.run(_study(points, t_end), out=out, client=client, echo=None,
                                 progress=False)
                    times[k].append(time.perf_counter() - t0)
                    cpu[k].append(sum(client.run(time.process_time).values()) - c0)
                    assert res.n_computed == points and res.n_failed == 0
            cfg = {"task": {}, "sweep": {"task.x": list(range(n_trivial))}}
            best_overhead = float("inf")
            best_dask = float("inf")
            for r in range(rounds):
                t0 = time.perf_counter()
                sw.run(cfg, out=work / f"trivial{r}", client=one, task=trivial, echo=None,
                       progress=False)
                best_overhead = min(best_overhead, (time.perf_counter() - t0) / n_trivial)
                t0 = time.perf_counter()
                futs = [one.submit(trivial, {"x": i}, key=f"bench-{r}-{i}")
                        for i in range(n_trivial)]
                one.gather(futs)
                best_dask = min(best_dask, (time.perf_counter() - t0) / n_trivial)
                del futs
    finally:
        shutil.rmtree(work, ignore_errors=True)
    t1, t2 = min(times[1]), min(times[2])
    speedup = t1 / t2
    ratios = [a / b for a, b in zip(times[1], times[2])]
    return {"benchmark": "sweep_scaling",
            "problem": f"{points}-point flow sweep (tanh width 60, 40 points, Radau to "
                       f"t = {t_end:g}), LocalCluster of 1 and of 2 worker processes",
            "rounds": rounds, "seconds_1_worker": t1, "seconds_2_workers": t2,
            "seconds_1_worker_all": times[1], "seconds_2_workers_all": times[2],
            "speedup": speedup, "speedup_per_round": ratios,
            "worker_cpu_seconds_1_worker_all": cpu[1], "worker_cpu_seconds_2_workers_all": cpu[2],
            "cores_obtained_1_worker": [c / t for c, t in zip(cpu[1], times[1])],
            "cores_obtained_2_workers": [c / t for c, t in zip(cpu[2], times[2])],
            "speedup_target": 1.6, "speedup_met": speedup >= 1.6,
            "overhead_per_task_ms": 1e3 * best_overhead,
            "scheduler_only_per_task_ms": 1e3 * best_dask,
            "overhead_tasks": n_trivial, "overhead_target_ms": 50.0,
            "overhead_met": 1e3 * best_overhead <= 50.0,
            "cores": os.cpu_count(), "load_average_1min": os.getloadavg()[0]}


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="one round, four small points")
    args = p.parse_args()
    print(json.dumps(run(args.quick), indent=2))
