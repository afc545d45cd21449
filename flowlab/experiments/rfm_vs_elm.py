"""``rfm-vs-elm``: random features with and without partition of unity (Yang, Zhao & Zhu 2024).

Yang, Zhao & Zhu 2024 (Sec. 4.2, Example 4.3, Fig. 8) fit
u*(x, y) = cos x cos y + cos 10x cos 10y on [-1, 1]^2 with n = 900 tanh
neurons whose hidden layer is not trained, the output layer by least squares:

- ELM (extreme learning machine): u_E = sum_j u_j phi_j(x), 900 global features;
- RFM (random feature method): u_R = sum_i psi_i sum_j u_ij phi_ij, the square
  cut into 3 x 3 subdomains Omega_i, psi_i = indicator of Omega_i, J_R = 100
  features per subdomain.

Claim: with the same number of neurons the RFM has the higher epsilon-rank
(the indicator makes the subdomains' features orthogonal to each other) and
the lower error, and the error falls roughly in inverse proportion as the
rank rises.  We check the last claim within each method as n grows: across
methods it does not hold at small n (n = 144: the ELM, with a quarter of the
RFM's rank, has the smaller error), which the summary's data show.

Features (the paper does not give their distribution; ours follows the RFM's
usual construction): phi(x) = tanh(k . (x - c)/r + beta) with k in R^2 and
beta i.i.d. U(-1, 1), c and r the centre and half-width of the subdomain --
for the ELM the whole square (c = 0, r = 1), which is the paper's remark that
the ELM is an RFM with one subdomain.  Mass matrix and least squares use
tensor Gauss-Legendre aligned with the 3 x 3 partition, 24 points per cell and
dimension (16 in quick mode) (eq. (11), eps = 1e-6);
the least-squares solve is the SVD (LAPACK gelsd) with cutoff
max(m, n) eps sigma_1.  Errors are L2 errors on a finer aligned rule.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg, stats

from ..analysis import gauss_legendre
from ..analysis.rank import eps_rank, mass_matrix
from ..plotting import figure
from ._registry import register

BOX = [(-1.0, 1.0), (-1.0, 1.0)]


def target(X):
    x, y = X[:, 0], X[:, 1]
    return np.cos(x) * np.cos(y) + np.cos(10 * x) * np.cos(10 * y)


def features(X, parts: int, per_part: int, seed) -> np.ndarray:
    """Feature matrix (m, parts^2 * per_part): RFM with a parts x parts partition (ELM: parts=1)."""
    rng = np.random.default_rng(seed)
    r = 1.0 / parts
    cells = np.minimum(((X + 1.0) / (2.0 * r)).astype(int), parts - 1)
    out = np.zeros((X.shape[0], parts * parts * per_part))
    for i in range(parts):
        for j in range(parts):
            k = rng.uniform(-1.0, 1.0, (per_part, 2))
            beta = rng.uniform(-1.0, 1.0, per_part)
            centre = np.array([-1.0 + (2 * i + 1) * r, -1.0 + (2 * j + 1) * r])
            inside = (cells[:, 0] == i) & (cells[:, 1] == j)
            col = (i * parts + j) * per_part
            out[inside, col:col + per_part] = np.tanh((X[inside] - centre) / r @ k.T + beta)
    return out


def fit(parts: int, per_part: int, seed: int, nodes: int = 24, test_nodes: int = 40) -> dict:
    """epsilon-rank, coefficients and L2 errors of one RFM/ELM configuration."""
    q = gauss_legendre(nodes, BOX, cells=3)
    D = features(q.points, parts, per_part, seed)
    rank = eps_rank(mass_matrix(D, q.weights), 1e-6)
    sw = np.sqrt(q.weights)
    coef, *_ = linalg.lstsq(D * sw[:, None], target(q.points) * sw,
                            cond=max(D.shape) * np.finfo(float).eps, lapack_driver="gelsd")
    qt = gauss_legendre(test_nodes, BOX, cells=3)
    err = features(qt.points, parts, per_part, seed) @ coef - target(qt.points)
    l2 = float(np.sqrt(qt.integrate(err ** 2)))
    return {"rank": rank, "n": D.shape[1], "L2": l2,
            "L2_rel": l2 / float(np.sqrt(qt.integrate(target(qt.points) ** 2))),
            "coef": coef, "seed": seed, "parts": parts}


@register("rfm-vs-elm",
          "Example 4.3 (Fig. 8): RFM (3x3 PoU) vs ELM, eps-rank and error",
          papers=("Yang, Zhao & Zhu 2024",))
def run(report):
    quick = report.quick
    per_part = (16, 100) if quick else (4, 16, 36, 64, 100)
    draws = (0,) if quick else (0, 1, 2)
    nodes = dict(nodes=16, test_nodes=24) if quick else dict(nodes=24, test_nodes=40)
    runs = []
    for J in per_part:
        for s in draws:
            runs.append(("RFM", fit(3, J, s, **nodes)))
            runs.append(("ELM", fit(1, 9 * J, s, **nodes)))
    keys = ("n", "rank", "L2", "L2_rel", "seed")
    report.data["runs"] = [{"method": m, **{k: r[k] for k in keys}} for m, r in runs]
    big = {m: [r for mm, r in runs if mm == m and r["n"] == 900] for m in ("RFM", "ELM")}
    rank = {m: float(np.median([r["rank"] for r in big[m]])) for m in big}
    err = {m: float(np.median([r["L2"] for r in big[m]])) for m in big}
    report.check("n = 900 (Fig. 8): the RFM has the higher eps-rank (eps = 1e-6) than the ELM: "
                 "the difference", rank["RFM"] - rank["ELM"], 0, ">",
                 detail={"RFM": rank["RFM"], "ELM": rank["ELM"]})
    report.check("n = 900 (Fig. 8): the RFM has the lower L2 error than the ELM: the ratio "
                 "RFM / ELM", err["RFM"] / err["ELM"], 1.0, "<",
                 detail={"RFM": err["RFM"], "ELM": err["ELM"]})
    for m in ("RFM", "ELM"):
        ranks = np.array([r["rank"] for mm, r in runs if mm == m])
        errs = np.array([r["L2"] for mm, r in runs if mm == m])
        rho = float(stats.spearmanr(ranks, errs).statistic)
        report.check(f"{m}: the error falls as the eps-rank rises with n (Yang, Zhao & Zhu 2024, "
                     f"Example 4.3, "
                     "'approximate inverse proportional relationship'): Spearman correlation of "
                     "rank and L2 error over n = 36 .. 900", rho, -0.8, "<")
    _figure(report, runs)


def _figure(report, runs):
    g = np.linspace(-1.0, 1.0, 151)
    X = np.column_stack([a.ravel() for a in np.meshgrid(g, g, indexing="ij")])
    u = target(X).reshape(g.size, g.size)
    pick = {m: next(r for mm, r in runs if mm == m and r["n"] == 900 and r["seed"] == 0)
            for m in ("RFM", "ELM")}
    fig, ax = figure(3, 2, width=3.8, height=3.2)
    panels = [(u, "(a) exact u*", "u*(x, y)")]
    for k, m in enumerate(("RFM", "ELM")):
        r = pick[m]
        v = (features(X, r["parts"], 900 // r["parts"] ** 2, 0) @ r["coef"]).reshape(u.shape)
        panels += [(v, f"({'bd'[k]}) {m} solution (n = 900)", "u(x, y)"),
                   (np.abs(v - u), f"({'ce'[k]}) {m} |error|", "|u - u*|")]
    for a, (img, title, label) in zip(ax, panels):
        im = a.imshow(img.T, origin="lower", extent=(-1, 1, -1, 1), cmap="viridis")
        a.set_title(title, fontsize=9)
        a.set_xlabel("x")
        a.set_ylabel("y")
        fig.colorbar(im, ax=a, shrink=0.8, label=label)
    a = ax[5]
    for m, marker in (("RFM", "o"), ("ELM", "s")):
        rs = [r for mm, r in runs if mm == m]
        a.loglog([r["rank"] for r in rs], [r["L2"] for r in rs], marker, label=m)
    a.set_xlabel("eps-rank (eps = 1e-6)")
    a.set_ylabel("L2 error")
    a.set_title("(f) rank and error, n = 36 .. 900", fontsize=9)
    a.legend(fontsize=7)
    report.figure(fig, "rfm_vs_elm.png")
