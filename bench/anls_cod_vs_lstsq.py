"""All ANLS candidates of one iteration through the COD update vs one lstsq per candidate.

Problem: Ainsworth & Shin 2021, Fig. 10 (f2 of (5.2), width 300, 1000 uniform random points,
He initialisation, seed 0).  Side by side in one run:

- ``cod_update``: one COD of A(b) plus every candidate's loss through Theorem 4.2
  (:func:`flowlab.train.cod.replace_columns_rss`, one matrix product);
- ``lstsq``: numpy's minimum-norm ``lstsq`` on each candidate's own matrix, timed
  on a sample of candidates and scaled to all of them (per-candidate cost is
  the same for every candidate: an m x n SVD);
- ``anls_iteration``: one full ANLS iteration (features, COD, candidate moves,
  their losses), the unit of :func:`flowlab.anls`.

Targets (issue 4): cod_update >= 100x faster than lstsq; one ANLS iteration
<= 0.2 s.  BLAS runs single-threaded unless --threads is given (the machines
are shared; multi-threaded BLAS under contention measures the contention).

    python bench/anls_cod_vs_lstsq.py [--quick] [--threads N]
"""

import argparse
import json
import os
import sys
from pathlib import Path


def _args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small lstsq sample, short timing")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    return p.parse_args()


if __name__ == "__main__":
    ARGS = _args()
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

import importlib  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from _timing import best_time  # noqa: E402

import flowlab as fl  # noqa: E402
from flowlab.train import cod as C  # noqa: E402

A_ = importlib.import_module("flowlab.train._anls")


def problem(n=300, m=1000):
    x = np.random.default_rng(0).uniform(-1, 1, m)
    y = np.where(x > 0, 1 + 0.5 * x * np.cos(15 * np.pi * x), 0.5 * np.sin(5 * np.pi * x))
    return x, y, fl.init.he(n, seed=0).b


def run(quick=False, threads=1):
    x, y, b = problem()
    xs, ys, u, b, _, delta, rcond = A_._data(x, y, b, "mean", 1e-8, None)
    bs = np.sort(b)
    st = A_._State(xs, ys, u, bs, delta, rcond)
    k = st.k.size
    A = st.A

    def cod_update():
        f = C.cod(A)
        V = np.maximum(xs[:, None] - st.new_b[None, :], 0.0) - A[:, st.k]
        return C.replace_columns_rss(f, ys, st.k, V)[0]

    sample = np.linspace(0, k - 1, 5 if quick else 30).astype(int)

    def lstsq_one(i):
        Ai = A.copy()
        Ai[:, st.k[i]] = np.maximum(xs - st.new_b[i], 0.0)
        r = Ai @ np.linalg.lstsq(Ai, ys, rcond=None)[0] - ys
        return r @ r

    rss = cod_update()
    ref = np.array([lstsq_one(i) for i in sample])
    diff = float(np.max(np.abs(rss[sample] - ref) / ref))
    min_time = 0.05 if quick else 0.5
    t_cod = best_time(cod_update, min_time=min_time, repeats=2 if quick else 3)
    t_one = min(best_time(lambda: lstsq_one(i), min_time=min_time / 5, repeats=1)
                for i in sample[: 2 if quick else 6])
    t_lstsq = t_one * k
    t_iter = best_time(lambda: A_._State(xs, ys, u, bs, delta, rcond), min_time=min_time,
                       repeats=2 if quick else 3)
    speedup = t_lstsq / t_cod
    return {"benchmark": "anls_cod_vs_lstsq", "problem": "Ainsworth & Shin 2021, Fig. 10 (f2), He "
                                                         "seed 0",
            "n": int(b.size), "m": int(x.size), "n_alive": int(st.n_alive),
            "rank": int(st.cod.rank), "candidates": int(k), "blas_threads": threads,
            "max_rel_diff_vs_lstsq": diff, "lstsq_sampled_candidates": int(sample.size),
            "cod_update_all_s": t_cod, "lstsq_per_candidate_s": t_one,
            "lstsq_all_s": t_lstsq, "speedup": speedup, "target_speedup": 100.0,
            "speedup_met": bool(speedup >= 100.0), "anls_iteration_s": t_iter,
            "target_iteration_s": 0.2, "iteration_met": bool(t_iter <= 0.2)}


if __name__ == "__main__":
    print(json.dumps(run(ARGS.quick, ARGS.threads), indent=2))
