"""``lowpass-table``: Zhao's (2023) Table 1, least squares for arctan(25x) in float32 and float64.

Zhao 2023 ("Numerical test", Table 1) approximates
f(x) = arctan(25x) on [-1, 1] with n = 100 and 1000 neurons, uniform or
adaptive biases, in single and double precision, and compares the ReLU
basis of a two-layer network with the P1 finite-element (hat) basis on the
same nodes: both span the same space, but the ReLU basis is so ill-conditioned
(its Gram spectrum decays like k^-4) that in float32 it acts as a low-pass
filter and loses accuracy, while the hat basis keeps it.

What this reproduction computes (the paper gives no code; these choices are ours):

- nodes b_1 < ... < b_n: uniform b_i = -1 + 2(i-1)/(n-1), or adaptive
  F(b_i) = (i-1)/(n-1) with F(x) = int_-1^x |f'| / int_-1^1 |f'| (Zhao 2023,
  "Adaptive vs uniform biases");
- ReLU basis: {1} U {relu(x - b_i), i = 1..n-1} (n functions; relu(x - b_n)
  vanishes on [-1, 1], and the constant -- the output bias of the network --
  is what makes the span equal the P1 space, as the identical float64 rows of
  the paper's table show); hat basis: the n P1 hat functions on the nodes;
- "sufficient samples": 4 Gauss-Legendre points in every cell [b_i, b_i+1],
  so the discrete least squares is the L2(-1, 1) projection to rounding;
- solver: least squares min ||W^1/2 (A c - f)|| by the SVD (LAPACK gelsd,
  scipy.linalg.lstsq) in the working precision, with MATLAB's pseudo-inverse
  cutoff: singular values below max(m, n) eps ||A|| dropped (Zhao 2023 speaks
  of the Moore-Penrose pseudo-inverse); the basis, the samples, the solve
  and the evaluation are all done in the working precision (float32 or float64);
- errors, in float64, on 20 Gauss points per cell: MAX = max |h - f|,
  MSE = (1/2) int_-1^1 (h - f)^2 dx (mean square over the interval).
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

from ..analysis import composite_gauss_legendre
from ..analysis.gram import adaptive_biases
from ..plotting import figure
from ._registry import register


#: Zhao 2023, Table 1: (basis, biases, dtype, n) -> (MAX, MSE).
TABLE = {
    ("relu", "uniform", "float32", 100): (6.09e-2, 9.58e-5),
    ("relu", "uniform", "float32", 1000): (7.19e-2, 1.43e-4),
    ("relu", "uniform", "float64", 100): (1.37e-2, 1.70e-6),
    ("relu", "uniform", "float64", 1000): (1.05e-4, 1.33e-10),
    ("hat", "uniform", "float32", 100): (1.37e-2, 1.70e-6),
    ("hat", "uniform", "float32", 1000): (1.05e-4, 1.33e-10),
    ("hat", "uniform", "float64", 100): (1.37e-2, 1.70e-6),
    ("hat", "uniform", "float64", 1000): (1.05e-4, 1.33e-10),
    ("relu", "adaptive", "float32", 100): (6.83e-2, 7.54e-5),
    ("relu", "adaptive", "float32", 1000): (1.89e-2, 1.06e-5),
    ("relu", "adaptive", "float64", 100): (3.93e-3, 1.42e-6),
    ("relu", "adaptive", "float64", 1000): (4.74e-5, 1.17e-10),
    ("hat", "adaptive", "float32", 100): (2.92e-3, 9.95e-7),
    ("hat", "adaptive", "float32", 1000): (3.79e-5, 1.02e-10),
    ("hat", "adaptive", "float64", 100): (2.92e-3, 9.95e-7),
    ("hat", "adaptive", "float64", 1000): (3.77e-5, 1.02e-10),
}


def target(x):
    return np.arctan(25.0 * x)


def target_derivative(x):
    return 25.0 / (1.0 + 625.0 * x * x)


def nodes(n: int, kind: str) -> np.ndarray:
    """Uniform or adaptive biases (= finite-element nodes) on [-1, 1]."""
    if kind == "uniform":
        return np.linspace(-1.0, 1.0, n)
    return adaptive_biases(n, target_derivative, (-1.0, 1.0))


def design(basis: str, x: np.ndarray, b: np.ndarray, dtype) -> np.ndarray:
    """Basis functions at the points ``x``, shape (m, n), in ``dtype``."""
    x = x.astype(dtype)
    b = b.astype(dtype)
    if basis == "relu":
        A = np.empty((x.size, b.size), dtype=dtype)
        A[:, 0] = 1
        A[:, 1:] = np.maximum(x[:, None] - b[None, :-1], dtype(0))
        return A
    # P1 hat functions: on cell [b_k, b_k+1] only hats k and k+1 are non-zero
    k = np.clip(np.searchsorted(b, x, side="right") - 1, 0, b.size - 2)
    t = (x - b[k]) / (b[k + 1] - b[k])
    A = np.zeros((x.size, b.size), dtype=dtype)
    rows = np.arange(x.size)
    A[rows, k] = 1 - t
    A[rows, k + 1] = t
    return A


def solve(basis: str, kind: str, n: int, dtype) -> dict:
    """Fit, evaluate, and return MAX and MSE (float64) with the solver's effective rank."""
    b = nodes(n, kind)
    q = composite_gauss_legendre(b, 4, (-1.0, 1.0))
    A = design(basis, q.points, b, dtype)
    sw = np.sqrt(q.weights).astype(dtype)
    rhs = target(q.points).astype(dtype) * sw
    cutoff = max(A.shape) * np.finfo(dtype).eps
    coef, _, rank, _ = linalg.lstsq(A * sw[:, None], rhs, cond=cutoff, lapack_driver="gelsd")
    qt = composite_gauss_legendre(b, 20, (-1.0, 1.0))
    h = (design(basis, qt.points, b, dtype) @ coef.astype(dtype)).astype(np.float64)
    err = h - target(qt.points)
    return {"MAX": float(np.abs(err).max()), "MSE": float(qt.integrate(err * err) / 2.0),
            "rank": int(rank)}


@register("lowpass-table",
          "Table 1: arctan(25x) by ReLU vs hat basis, float32/float64",
          papers=("Zhao 2023",))
def run(report):
    sizes = (100,) if report.quick else (100, 1000)
    rows = []
    for (basis, kind, dt, n), (smax, smse) in TABLE.items():
        if n not in sizes:
            continue
        res = solve(basis, kind, n, np.float32 if dt == "float32" else np.float64)
        rows.append({"basis": basis, "biases": kind, "dtype": dt, "n": n, **res,
                     "paper_MAX": smax, "paper_MSE": smse})
    report.data["table"] = rows
    report.data["basis"] = ("ReLU: {1} U {relu(x - b_i)}_{i<n}; hat: P1 hat functions on the "
                            "nodes b_i")
    report.data["solver"] = ("scipy.linalg.lstsq (LAPACK gelsd, SVD) in the working precision, "
                             "cutoff max(m, n) * eps * sigma_1; 4 Gauss points per cell")
    _print_table(report, rows)

    for r in rows:
        if r["dtype"] != "float64":
            continue
        tag = f"{r['basis']} basis, {r['biases']} b, n = {r['n']}, float64"
        for key in ("MAX", "MSE"):
            report.check(f"Table 1 (Zhao 2023), {tag}: {key} within a factor 2 of the paper's "
                         f"value", r[key], [r[f"paper_{key}"] / 2, r[f"paper_{key}"] * 2], "in",
                         paper=r[f"paper_{key}"])
    get = {(r["basis"], r["biases"], r["dtype"], r["n"]): r for r in rows}
    for kind in ("uniform", "adaptive"):
        n = max(sizes)
        r32, r64 = get[("relu", kind, "float32", n)], get[("relu", kind, "float64", n)]
        h32, h64 = get[("hat", kind, "float32", n)], get[("hat", kind, "float64", n)]
        if n == 1000:
            ratio = r32["MSE"] / r64["MSE"]
            paper_ratio = (TABLE[("relu", kind, "float32", n)][1]
                           / TABLE[("relu", kind, "float64", n)][1])
            report.check(f"Table 1, ReLU basis, {kind} b, n = 1000: float32 loses accuracy "
                         "(MSE float32 / float64: orders of magnitude)", ratio, 100, ">=",
                         paper=paper_ratio)
        hratio = h32["MSE"] / h64["MSE"]
        report.check(f"Table 1, hat basis, {kind} b, n = {n}: float32 keeps the float64 "
                     "accuracy (MSE float32 / float64)", hratio, 2.0, "<=",
                     paper=TABLE[("hat", kind, "float32", n)][1]
                     / TABLE[("hat", kind, "float64", n)][1])
    _figure(report, rows, sizes)


def _print_table(report, rows):
    lines = [f"{'basis':5} {'biases':8} {'dtype':7} {'n':>5}  {'MAX':>9} {'paper':>9}  "
             f"{'MSE':>9} {'paper':>9}  rank"]
    for r in rows:
        lines.append(f"{r['basis']:5} {r['biases']:8} {r['dtype']:7} {r['n']:5d}  "
                     f"{r['MAX']:9.2e} {r['paper_MAX']:9.2e}  {r['MSE']:9.2e} {r['paper_MSE']:9.2e}"
                     f"  {r['rank']}")
    text = "\n".join(lines)
    report.path("table.txt").write_text(text + "\n")
    print(text)


def _figure(report, rows, sizes):
    fig, ax = figure(2, width=5.2, height=5.2)
    for k, key in enumerate(("MAX", "MSE")):
        labels, ours, theirs = [], [], []
        for r in rows:
            labels.append(f"{r['basis']}, {r['biases'][:4]}., {r['dtype']}, n = {r['n']}")
            ours.append(r[key])
            theirs.append(r[f"paper_{key}"])
        pos = np.arange(len(labels))
        ax[k].bar(pos - 0.2, theirs, 0.4, label="Zhao 2023, Table 1")
        ax[k].bar(pos + 0.2, ours, 0.4, label="flowlab")
        ax[k].set_yscale("log")
        ax[k].set_xticks(pos)
        ax[k].set_xticklabels(labels, rotation=60, ha="right", fontsize=7)
        ax[k].set_xlabel("basis, biases (uniform / adaptive), precision, n")
        ax[k].set_ylabel({"MAX": "MAX = max |h - f|",
                          "MSE": "MSE = (1/2) int (h - f)^2 dx"}[key])
        ax[k].set_title(f"arctan(25x): {key}")
        ax[k].legend(fontsize=7)
    report.figure(fig, "lowpass_table.png")
