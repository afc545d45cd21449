"""Exact 1-d ReLU Gram matrix vs Gauss-Legendre quadrature of the same accuracy.

The quadrature contender is the cheapest rule that reaches the exact matrix's
accuracy: Gauss-Legendre with 2 points on every cell between consecutive knots
(exact for the piecewise quadratic products, so it agrees with the closed form
to rounding), then M = (sqrt(w) D)^T (sqrt(w) D) by one symmetric BLAS product
(:func:`flowlab.analysis.mass_matrix`).  A rule that is not split at the knots
converges only algebraically and cannot reach 1e-13 at any practical size.
Both are timed side by side in one run, building everything from the biases.

Prints JSON: for n = 100, 1000, 3000 (uniform biases on [-1, 1] and random
weights of both signs) the best per-call times, their ratio, and how far the
two matrices differ (entrywise and normwise relative).  Entries of neurons
whose active sets barely overlap (two knots very close) are where the two
differ most: the closed form keeps them to ~1e-15 relative (checked against
rational arithmetic in tests/analysis/test_gram.py), the quadrature loses
digits through the rounded cell edges.  Target (issue 6): exact >= 20x faster
at n = 1000.

    python bench/gram_exact_vs_quadrature.py [--quick]
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _timing import side_by_side  # noqa: E402

from flowlab.analysis import composite_gauss_legendre, mass_matrix, relu_gram_1d  # noqa: E402

SIZES = (100, 1000, 3000)
TARGET_N, TARGET = 1000, 20.0


def quadrature_gram(b, w, nodes=2):
    """Gram matrix by ``nodes``-point Gauss-Legendre on each cell between the knots."""
    nz = w != 0
    q = composite_gauss_legendre(b[nz] / w[nz], nodes, domain=(-1.0, 1.0))
    D = np.maximum(np.multiply.outer(q.points, w) - b, 0.0)
    return mass_matrix(D, q.weights)


def differences(G, Q):
    """Largest entrywise relative difference, and max |G - Q| / max |G| (normwise)."""
    big = np.maximum(np.abs(G), np.abs(Q))
    pos = big > 0
    return (float(np.max(np.abs(G[pos] - Q[pos]) / big[pos])),
            float(np.max(np.abs(G - Q)) / np.max(np.abs(G))))


def run(quick=False):
    rows = []
    for n in ((200,) if quick else SIZES):
        cases = {"w = 1": (-1.0 + 2.0 * np.arange(n) / n, np.ones(n))}
        rng = np.random.default_rng(0)
        cases["w of both signs"] = (rng.uniform(-1.0, 1.0, n), rng.choice([-1.0, 1.0], n)
                                    * rng.uniform(0.5, 2.0, n))
        for label, (b, w) in cases.items():
            entry, norm = differences(relu_gram_1d(b, w), quadrature_gram(b, w))
            times = side_by_side({"exact": lambda: relu_gram_1d(b, w),
                                  "gauss_legendre_2_per_cell": lambda: quadrature_gram(b, w)},
                                 min_time=0.05 if quick else 0.3)
            ratio = times["gauss_legendre_2_per_cell"] / times["exact"]
            row = {"n": n, "weights": label, "quadrature_points": 2 * (n + 1),
                   "max_entry_rel_diff": entry, "normwise_rel_diff": norm,
                   **{f"{k}_ms": v * 1e3 for k, v in times.items()}, "speedup": ratio}
            if n == TARGET_N:
                row["target"] = TARGET
                row["met"] = bool(ratio >= TARGET)
            rows.append(row)
    return {"benchmark": "gram_exact_vs_quadrature", "interval": [-1.0, 1.0], "results": rows}


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="n = 200 only, short timing")
    print(json.dumps(run(p.parse_args().quick), indent=2))
