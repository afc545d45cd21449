"""Per-call time of flowlab's numba gradient vs a vectorised numpy gradient (tanh network).

Prints JSON: for (n, m, d) in (10, 100, 1), (100, 1000, 5), (1000, 10000, 5), the
best per-call time of the compiled kernel, of the full ``Problem.loss_grad``
path a flow uses (kernel + parameter scatter/gather), and of numpy, measured
side by side in one run.  Targets (issue: foundation): numba >= 5x faster at the
smallest size and >= 1.5x at the largest.

    python bench/gradient_vs_numpy.py [--quick]
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _timing import side_by_side  # noqa: E402

import flowlab as fl  # noqa: E402
from flowlab._kernels import twolayer as tk  # noqa: E402
from flowlab._problem import Problem  # noqa: E402

SIZES = [(10, 100, 1), (100, 1000, 5), (1000, 10000, 5)]
TARGETS = {(10, 100, 1): 5.0, (1000, 10000, 5): 1.5}


def numpy_gradient(W, a, X, y, scale):
    """The textbook vectorised gradient of L = scale/2 ||tanh(X~ W^T) a - y||^2."""
    Xt = np.hstack([X, np.ones((X.shape[0], 1))])
    S = np.tanh(Xt @ W.T)
    r = S @ a - y
    ga = scale * (S.T @ r)
    G = (1.0 - S * S) * (scale * r)[:, None] * a[None, :]
    return 0.5 * scale * (r @ r), np.concatenate([(G.T @ Xt).ravel(), ga])


def run(quick=False):
    rows = []
    for n, m, d in (SIZES[:1] if quick else SIZES):
        rng = np.random.default_rng(0)
        net = fl.TwoLayer(rng.normal(size=(n, d + 1)), rng.normal(size=n), "tanh")
        X = rng.normal(size=(m, d))
        y = rng.normal(size=m)
        prob = Problem(net, X, y, loss="mean")
        u = prob.u0
        L1, g1 = prob.loss_grad(u)
        L2, g2 = numpy_gradient(net.W, net.a, X, y, 1.0 / m)
        err = float(np.abs(g1 - g2).max() / np.abs(g2).max())
        r = np.empty(m)
        gW = np.empty_like(prob.W)
        ga = np.empty(n)
        times = side_by_side({
            "numba_kernel": lambda: tk.gradient(prob.code, prob.W, prob.a, prob.XT, prob.y,
                                                prob.scale, r, gW, ga),
            "numba_problem": lambda: prob.loss_grad(u),
            "numpy": lambda: numpy_gradient(net.W, net.a, X, y, 1.0 / m),
        }, min_time=0.05 if quick else 0.3)
        ratio = times["numpy"] / times["numba_kernel"]
        row = {"n": n, "m": m, "d": d, "rel_diff_vs_numpy": err,
               **{f"{k}_us": v * 1e6 for k, v in times.items()},
               "speedup_kernel": ratio,
               "speedup_problem": times["numpy"] / times["numba_problem"]}
        if (n, m, d) in TARGETS:
            row["target"] = TARGETS[(n, m, d)]
            row["met"] = bool(ratio >= TARGETS[(n, m, d)])
        rows.append(row)
    return {"benchmark": "gradient_vs_numpy", "activation": "tanh", "loss": "mean",
            "results": rows}


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smallest size only, short timing")
    print(json.dumps(run(p.parse_args().quick), indent=2))
