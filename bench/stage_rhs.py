"""The exact flow's stage right-hand side: O(n) whatever the number of data points.

Per-call time of the stage right-hand side (prefix moments, n = 100 neurons)
at m = 1e2 and 1e6 data points, and of flowlab's dense O(mn) gradient at
m = 1e5, side by side in one run.  Targets (issue: exact flow): the stage
right-hand side at m = 1e6 within 1.5x of m = 1e2, and >= 100x faster than the
dense one at m = 1e5.  The stage call is timed inside a compiled loop (its cost
is what the integrator pays); the dense gradient through ``Problem.loss_grad``.
Prints JSON.

    python bench/stage_rhs.py [--quick]
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numba as nb  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from _timing import best_time  # noqa: E402

import flowlab as fl  # noqa: E402
from flowlab._kernels import relu1d  # noqa: E402
from flowlab._problem import Problem  # noqa: E402
from flowlab._flow.exact_1d import Exact1D  # noqa: E402


@nb.njit(cache=False)
def _repeat_rhs(model, u, out, reps):
    for _ in range(reps):
        relu1d.rhs(model, u, out)


def stage_time(n, m, reps):
    x = np.linspace(-1.0, 1.0, m)
    y = np.sin(np.pi * x)
    net = fl.init.he(n, seed=0)
    eng = Exact1D(Problem(net, x, y, "sum"), 1.0, rtol=1e-10, atol=1e-12, t0=0.0, gtol=None,
                  max_steps=None, progress=False)
    model, _ = eng._model()
    u = eng.theta[model.free].copy()
    out = np.empty_like(u)
    _repeat_rhs(model, u, out, 2)
    best = np.inf
    for _ in range(5):
        t0 = time.perf_counter()
        _repeat_rhs(model, u, out, reps)
        best = min(best, (time.perf_counter() - t0) / reps)
    return best, int(model.n_blocks[0])


def run(quick=False):
    n = 100
    sizes = (100, 10 ** 5) if quick else (100, 10 ** 6)
    reps = 2000 if quick else 20000
    stage = {m: stage_time(n, m, reps) for m in sizes}
    m_dense = 10 ** 4 if quick else 10 ** 5
    x = np.linspace(-1.0, 1.0, m_dense)
    prob = Problem(fl.init.he(n, seed=0), x, np.sin(np.pi * x), loss="sum")
    dense = best_time(lambda: prob.loss_grad(prob.u0), min_time=0.05 if quick else 0.3)
    stage_dense, _ = stage_time(n, m_dense, reps)
    small, big = sizes
    return {"benchmark": "stage_rhs", "n": n,
            "stage_rhs_us": {str(m): t * 1e6 for m, (t, _) in stage.items()},
            "blocks": {str(m): b for m, (_, b) in stage.items()},
            "ratio_large_over_small_m": stage[big][0] / stage[small][0],
            "target_ratio_at_most": 1.5,
            "met_scaling": bool(stage[big][0] / stage[small][0] <= 1.5),
            "dense_gradient_us_at_m": {str(m_dense): dense * 1e6},
            "stage_rhs_us_at_m": {str(m_dense): stage_dense * 1e6},
            "speedup_vs_dense": dense / stage_dense, "target_speedup": 100.0,
            "met_speedup": bool(dense / stage_dense >= 100.0)}


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smaller sizes, short timing")
    print(json.dumps(run(p.parse_args().quick), indent=2))
