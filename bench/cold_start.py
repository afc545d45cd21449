"""The main job's first run on an empty numba cache (cold) against its later runs (warm).

Runs ``python -m flowlab reproduce JOB`` (default: plateau-sine, the README's main job)
with ``NUMBA_CACHE_DIR`` pointing at a new empty folder, then twice more with the cache
it filled, for several rounds; with ``--against PATH`` (the root of another flowlab
checkout) each round runs the other checkout the same way right after, so both come from
the same phases of the machine's load.  One BLAS thread.  Target (issue: first contact):
cold <= 4x warm.  Prints JSON: every run's wall time, the cold run's CPU time of all its
processes, and the ratio cold / mean warm of each round with its spread.

    python bench/cold_start.py [--rounds N] [--job NAME] [--against PATH] [--quick]

``--quick``: one round of the job's reduced form (``reproduce --quick``).
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = 4.0


def _once(root: Path, job: str, quick: bool, cache: str, out: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the run and its helper) of one reproduction run."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache, OPENBLAS_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH"))
                                          if p))
    argv = [sys.executable, "-m", "flowlab", "reproduce", job, "--out", out] + (
        ["--quick"] if quick else [])
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    clock = time.perf_counter()
    done = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - clock
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} (in {root}) failed:\n{done.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _round(root: Path, job: str, quick: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="flowlab-cold-") as tmp:
        cache, out = os.path.join(tmp, "numba-cache"), os.path.join(tmp, "out")
        os.mkdir(cache)
        cold, cpu = _once(root, job, quick, cache, out)
        warm = [_once(root, job, quick, cache, out)[0] for _ in range(2)]
    return {"cold_s": round(cold, 2), "cold_cpu_s": round(cpu, 2),
            "warm_s": [round(w, 2) for w in warm],
            "ratio": round(cold / statistics.mean(warm), 2)}


def _summary(rounds: list) -> dict:
    ratios = [r["ratio"] for r in rounds]
    return {"rounds": rounds, "ratio_min": min(ratios),
            "ratio_median": statistics.median(ratios), "ratio_max": max(ratios),
            "met": max(ratios) <= TARGET}


def run(rounds=3, job="plateau-sine", against=None, quick=False) -> dict:
    if quick:
        rounds = 1
    trees = {"this": ROOT}
    if against is not None:
        trees["against"] = Path(against).resolve()
        if not (trees["against"] / "flowlab" / "__init__.py").is_file():
            raise SystemExit(f"--against {against}: not the root of a flowlab checkout "
                             "(it has no flowlab/__init__.py)")
    results = {name: [] for name in trees}
    for k in range(rounds):
        for name, root in trees.items():
            results[name].append(_round(root, job, quick))
            print(f"round {k + 1}/{rounds}, {name}: {results[name][-1]}", file=sys.stderr,
                  flush=True)
    report = {"job": job, "quick": quick, "target_ratio": TARGET, "cpus": os.cpu_count()}
    report.update({name: _summary(rs) for name, rs in results.items()})
    if against is not None:
        report["against"]["path"] = str(trees["against"])
    return report


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="cold + 2 warm runs each (default 3)")
    ap.add_argument("--job", default="plateau-sine", help="reproduction (default plateau-sine)")
    ap.add_argument("--against", help="root of another flowlab checkout, run alternately")
    ap.add_argument("--quick", action="store_true", help="one round of the job's --quick form")
    args = ap.parse_args(argv)
    if args.rounds < 1:
        ap.error(f"--rounds must be at least 1, got {args.rounds}")
    print(json.dumps(run(args.rounds, args.job, args.against, args.quick), indent=2))


if __name__ == "__main__":
    main()
