"""Gradient-descent (and Adam) iterations per second on the ReLU1D model, n = 10, m = 100.

Side by side in one run: the dedicated O(n + m) loop that ``fl.train.gd`` uses
for a ``ReLU1D`` with w = 1, and the generic two-layer kernel (the same network
given w = 1 explicitly and trained on (b, c) only, which takes the O(n m) path).
Both follow the same iterates (checked: final parameters agree).
Target (issue 4): >= 3e5 GD iterations/s at n = 10, m = 100 on the fast path.

    python bench/gd_relu1d.py [--quick]
"""

import argparse
import json
import time

import numpy as np

import flowlab as fl


def rate(f, steps, repeats):
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        res = f(steps)
        best = min(best, time.perf_counter() - t)
    return steps / best, res


def run(quick=False):
    n, m = 10, 100
    x = np.linspace(-1, 1, m)
    y = np.sin(np.pi * x)
    net = fl.init.he(n, seed=0)
    twin = fl.ReLU1D(net.b, net.c, np.ones(n))
    steps = 20_000 if quick else 1_000_000
    rows = []
    for method in ("gd", "adam"):
        f = getattr(fl.train, method)
        kw = dict(lr=1e-3, loss="mean", record_every=steps)
        f(net, x, y, steps=10, **kw)
        f(twin, x, y, steps=10, trainable=("b", "c"), **kw)
        repeats = 2 if quick else 3
        fast, r1 = rate(lambda s: f(net, x, y, steps=s, **kw), steps, repeats)
        slow, r2 = rate(lambda s: f(twin, x, y, steps=s, trainable=("b", "c"), **kw),
                        steps // 5, repeats)
        check = f(twin, x, y, steps=steps, trainable=("b", "c"), **kw) if method == "gd" else None
        row = {"method": method, "n": n, "m": m, "steps": steps,
               "seed_model_loop_it_per_s": fast, "generic_kernel_it_per_s": slow,
               "speedup": fast / slow}
        if check is not None:
            row["max_param_diff"] = float(np.abs(check.net.params()[:2 * n]
                                                 - r1.net.params()).max())
            row["target_it_per_s"] = 3e5
            row["met"] = bool(fast >= 3e5)
        rows.append(row)
    return {"benchmark": "gd_relu1d", "loss": "mean", "results": rows}


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="2e4 iterations instead of 1e6")
    print(json.dumps(run(p.parse_args().quick), indent=2))
