"""``gram-spectrum``: spectrum of the ReLU Gram matrix and the linear gradient flow (Zhao 2023).

Zhao 2023, "Spectral analysis for the Gram matrix of
ReLU basis" and "Numerical spectrum for Gram matrix (1D)": for the neurons
relu(x - b_i) on D = (-1, 1),

- the kernel G(x, y) = (|x-y|^3 + (2-x-y)(2(1-x)(1-y) - (x-y)^2))/12 has
  eigenvalues mu_k = O(k^-4) and eigenfunctions that are asymptotically
  Fourier modes, from low to high frequencies;
- for n i.i.d. biases the condition number is at least of order n^3 / log n;
- in R^d the eigenvalues decay like k^-(d+3)/d;
- the output weights follow da/dt = -G a + f, solved mode by mode, mode k
  converging on the time scale 1/lambda_k ("Learning dynamics based on
  gradient flow: linear").

Biases: "uniform" b_i = -1 + 2(i-1)/n and "adaptive" F(b_i) = (i-1)/n,
i = 1..n, F(x) = int_-1^x |f'| / int |f'| for f = arctan(25x) (the node b = 1,
whose neuron vanishes on D, is left out).  Gram matrices are exact
(:func:`flowlab.analysis.relu_gram_1d`); in d = 2, 3 they use tensor
Gauss-Legendre on [-1, 1]^d with directions uniform on the sphere and b
uniform in [-1, 1].
"""

from __future__ import annotations

import numpy as np

from ..analysis import composite_gauss_legendre, gauss_legendre
from ..analysis.gram import (adaptive_biases, extreme_eigenvalues, fit_decay, fit_power_law,
                             gram_spectrum, linear_flow_from_data, relu_gram_1d,
                             relu_gram_factor_1d, relu_gram_quadrature, relu_kernel_unit,
                             relu_knots, relu_load_1d)
from ..analysis.rank import mass_matrix
from .._flow import flow
from ..models import ReLU1D
from ..plotting import figure
from ._registry import register


def target(x):
    return np.arctan(25.0 * x)


def biases(n: int, kind: str) -> np.ndarray:
    if kind == "uniform":
        return -1.0 + 2.0 * np.arange(n) / n
    return adaptive_biases(n + 1, lambda x: 25.0 / (1.0 + 625.0 * x * x))[:-1]


def gl_reference(b, w, nodes=200):
    """Gram matrix by ``nodes``-point Gauss-Legendre on every cell between the knots."""
    q = composite_gauss_legendre(relu_knots(b, w), nodes, (-1.0, 1.0))
    return mass_matrix(np.maximum(np.multiply.outer(q.points, w) - b, 0.0), q.weights)


def _max_rel(G, Q):
    """Largest relative difference of G from Q over Q's positive entries, inf when G and Q
    differ in which entries are zero."""
    pos = Q > 0
    if not np.array_equal(G > 0, pos):
        return float("inf")
    return float(np.max(np.abs(G[pos] - Q[pos]) / Q[pos]))


@register("gram-spectrum",
          "ReLU Gram spectra (k^-4), condition numbers, linear flow",
          papers=("Zhao 2023",))
def run(report):
    quick = report.quick
    _exactness(report)
    spectra = _spectra_1d(report, quick)
    cond = _condition(report, quick)
    lin = _linear_flow(report, quick)
    high = _higher_dimensions(report, quick)
    _figures(report, spectra, cond, lin, high)


def _exactness(report):
    rng = np.random.default_rng(0)
    b = biases(100, "adaptive")
    G, Q = relu_gram_1d(b), gl_reference(b, np.ones_like(b))
    rel = _max_rel(G, Q)
    report.check("exact 1-d ReLU Gram matrix = 200-point Gauss-Legendre per cell (n = 100, w = 1, "
                 "adaptive b), max relative difference", rel, 1e-13, "<=")
    w = rng.normal(size=100)
    w[:10] = 0.0
    bb = rng.normal(size=100)
    G, Q = relu_gram_1d(bb, w), gl_reference(bb, w)
    rel = _max_rel(G, Q)
    report.check("exact 1-d ReLU Gram matrix, weights of both signs and zero, = 200-point "
                 "Gauss-Legendre per cell, max relative difference", rel, 1e-13, "<=")
    b = biases(100, "uniform")
    K = relu_kernel_unit(b[:, None], b[None, :])
    rel = float(np.max(np.abs(relu_gram_1d(b) - K) / K))
    report.check("w = 1 on [-1, 1] reduces to Zhao's (2023) kernel (|x-y|^3 + (2-x-y)(2(1-x)(1-y) "
                 "- (x-y)^2))/12, max relative difference", rel, 1e-12, "<=")


def _spectra_1d(report, quick):
    out = {}
    for n in (100, 1000):
        for kind in ("uniform", "adaptive"):
            if quick and (n, kind) == (1000, "adaptive"):
                continue
            b = biases(n, kind)
            sp = gram_spectrum(relu_gram_1d(b))
            fhat = sp.eigenvectors.T @ relu_load_1d(target, b)
            fit = fit_decay(sp.eigenvalues, 10 if n > 100 else 5, n // 2)
            out[(n, kind)] = (b, sp, fhat, fit)
            report.data[f"decay_{kind}_{n}"] = {"exponent": fit.exponent, "ci95": fit.ci,
                                                "k_range": fit.x_range}
    fit = out[(1000, "uniform")][3]
    report.check("Gram eigenvalues decay like k^-4 (Zhao 2023, Lemma): fitted exponent, uniform b, "
                 f"n = 1000, k in [10, 500] (95% CI {fit.ci[0]:.3f} .. {fit.ci[1]:.3f}), "
                 "within -4 +- 0.2", fit.exponent, [-4.2, -3.8], "in", paper=-4.0)
    fit = out[(100, "uniform")][3]
    report.check("same for n = 100, k in [5, 50], within -4 +- 0.2", fit.exponent, [-4.2, -3.8],
                 "in", paper=-4.0)
    V = out[(1000, "uniform")][1].eigenvectors
    changes = [int(np.sum(np.diff(np.sign(V[:, k])) != 0)) for k in range(30)]
    report.check("eigenvectors go from low to high frequency (Zhao 2023): g_k changes sign "
                 "k - 1 times for k = 1..30 (n = 1000, uniform b): sign changes minus (k - 1)",
                 [c - k for k, c in enumerate(changes)], 0, "==", detail={"changes": changes})
    return out


def _condition(report, quick):
    rng = np.random.default_rng(2024)
    ns = np.array([25, 50, 100, 200] if quick else [50, 100, 200, 400, 800, 1000])
    draws = 5 if quick else 9
    conds = np.empty((ns.size, draws))
    for i, n in enumerate(ns):
        for r in range(draws):
            hi, lo = extreme_eigenvalues(relu_gram_factor_1d(rng.uniform(-1.0, 1.0, n)))
            conds[i, r] = hi / lo
    med = np.median(conds, axis=1)
    ratio_fit = fit_power_law(ns, med * np.log(ns) / ns ** 3.0)
    growth = fit_power_law(ns, med)
    report.data["condition"] = {"n": ns, "median": med, "min": conds.min(1), "max": conds.max(1),
                                "exponent": growth.exponent, "exponent_ci95": growth.ci}
    report.check("condition number of G for n i.i.d. uniform biases grows at least like "
                 f"n^3/log n (Zhao 2023, Theorem): fitted exponent of median cond * log n / n^3 "
                 f"against n >= 0 (95% CI {ratio_fit.ci[0]:.2f} .. {ratio_fit.ci[1]:.2f}; "
                 f"cond itself grows like n^{growth.exponent:.2f})", ratio_fit.exponent, 0.0,
                 ">=")
    report.check("cond >= n^3/log n at every n (median over draws): smallest ratio of the two",
                 float(np.min(med * np.log(ns) / ns ** 3.0)), 1.0, ">=")
    return ns, conds, growth


def _linear_flow(report, quick):
    n, T = 20, (10.0 if quick else 5000.0)
    x = np.linspace(-1.0, 1.0, 200)
    net = ReLU1D(biases(n, "uniform"), np.zeros(n))
    y = target(x)
    sol = flow(net, x, y, T, loss="sum", method="LSODA", trainable="c", rtol=1e-12, atol=1e-14,
               progress=report.progress)
    lf = linear_flow_from_data(net, x, y, loss="sum")
    ts = np.concatenate([[0.0], np.geomspace(1e-4, T, 60)])
    a_flow = sol.theta_at(ts)[:, net.groups()["c"]]
    a_lin = lf.coefficients(ts)
    rel = float(np.max(np.linalg.norm(a_flow - a_lin, axis=1)
                       / np.maximum(np.linalg.norm(a_lin, axis=1), 1e-300)))
    report.check("closed-form linear flow da/dt = -G a + f in the eigenbasis (Zhao 2023) = "
                 "fl.flow(trainable='c', LSODA, rtol 1e-12): relative difference", rel, 1e-9,
                 "<=")
    lrel = float(np.max(np.abs(sol.loss_at(ts) - lf.loss(ts)) / sol.loss[0]))
    report.check("its loss E(t) matches the flow's loss: difference relative to L(0)", lrel,
                 1e-9, "<=")
    report.data["linear_flow"] = {"n": n, "t_end": T, "max_rel_diff": rel,
                                  "mode_times": lf.mode_times}
    return ts, a_flow, lf


def _higher_dimensions(report, quick):
    n = 300 if quick else 1000
    nodes = {2: 50 if quick else 100, 3: 16 if quick else 30}
    rng = np.random.default_rng(7)
    fits = {1: report.data["decay_uniform_1000"]["exponent"]}
    spectra = {}
    for d in (2, 3):
        dirs = rng.normal(size=(n, d))
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        G = relu_gram_quadrature(dirs, rng.uniform(-1.0, 1.0, n),
                                 gauss_legendre(nodes[d], [(-1.0, 1.0)] * d))
        lam = gram_spectrum(G, vectors=False).eigenvalues
        fit = fit_decay(lam, n // 10, n // 2)
        fits[d], spectra[d] = fit.exponent, (lam, fit)
        report.data[f"decay_d{d}"] = {"exponent": fit.exponent, "ci95": fit.ci, "n": n,
                                      "nodes_per_dim": nodes[d]}
        theory = -(d + 3) / d
        report.check(f"d = {d}: eigenvalues decay like k^-(d+3)/d = k^{theory:.2f} (Zhao 2023, "
                     f"Theorem), fit over k in [{n // 10}, {n // 2}] within 0.5 (pre-asymptotic "
                     "at this n)", fit.exponent, [theory - 0.5, theory + 0.5], "in",
                     paper=theory)
    report.check("the decay is slower in higher dimension: exponent(d=1) < exponent(d=2) < "
                 "exponent(d=3)", [fits[1], fits[2], fits[3]], None, "increasing",
                 paper=[-4.0, -2.5, -2.0])
    return spectra


def _figures(report, spectra, cond, lin, high):
    fig, ax = figure(len(spectra), 1)
    for i, ((n, kind), (b, sp, _, fit)) in enumerate(sorted(spectra.items())):
        k = np.arange(1, n + 1)
        ax[i].loglog(k, sp.eigenvalues, ".", ms=3, label="eigenvalues (eigh)")
        ax[i].loglog(k, fit(k), "k--", lw=1, label=f"fit k^{fit.exponent:.2f}")
        ax[i].axhline(n * 2.2e-16 * sp.eigenvalues[0], color="gray", lw=0.8,
                      label="rounding level of eigh")
        ax[i].set_title(f"n = {n}, {kind} biases")
        ax[i].set_xlabel("k")
        ax[i].set_ylabel("eigenvalue lambda_k of G")
        ax[i].legend(fontsize=7)
    report.figure(fig, "gram_spectrum_1d.png")

    kinds = [kind for kind in ("uniform", "adaptive") if (1000, kind) in spectra]
    fig, ax = figure(4, len(kinds))
    for r, kind in enumerate(kinds):
        b, sp, _, _ = spectra[(1000, kind)]
        for c, ks in enumerate(((1, 2, 3), (4, 5, 6), (30,), (60,))):
            for k in ks:
                ax[4 * r + c].plot(b, sp.eigenvectors[:, k - 1], lw=1, label=f"k = {k}")
            ax[4 * r + c].set_title(f"{kind} b, n = 1000", fontsize=9)
            ax[4 * r + c].legend(fontsize=7)
            ax[4 * r + c].set_xlabel("bias b")
            ax[4 * r + c].set_ylabel("eigenvector g_k (entry at b)")
    report.figure(fig, "gram_eigenvectors.png")

    fig, ax = figure(3)
    for (n, kind), (_, _, fhat, _) in sorted(spectra.items()):
        ax[0].semilogy(np.arange(1, n + 1), np.abs(fhat), ".", ms=2, label=f"{kind}, n = {n}")
    ax[0].set_title("arctan(25x) in the eigenbasis")
    ax[0].set_xlabel("k")
    ax[0].set_ylabel("|f_hat_k|, projection on g_k")
    ax[0].legend(fontsize=7)
    ns, conds, growth = cond
    ax[1].loglog(ns, np.median(conds, 1), "o-", label=f"median cond, fit n^{growth.exponent:.2f}")
    ax[1].fill_between(ns, conds.min(1), conds.max(1), alpha=0.3)
    ax[1].loglog(ns, ns ** 3.0 / np.log(ns), "k--", label="n^3 / log n")
    ax[1].set_xticks(ns, [str(n) for n in ns])
    ax[1].set_xticks([], minor=True)
    ax[1].set_xlabel("n (i.i.d. uniform biases)")
    ax[1].set_ylabel("cond(G)")
    ax[1].legend(fontsize=7)
    ax[1].set_title("condition number of G")
    for d, (lam, fit) in high.items():
        k = np.arange(1, lam.size + 1)
        ax[2].loglog(k, lam, ".", ms=2, label=f"d = {d}, fit k^{fit.exponent:.2f} "
                     f"(theory {-(d + 3) / d:.2f})")
    ax[2].set_xlabel("k")
    ax[2].set_ylabel("eigenvalue lambda_k")
    ax[2].legend(fontsize=7)
    ax[2].set_title("Gram spectra in d = 2, 3 (quadrature)")
    report.figure(fig, "gram_projection_condition.png")

    ts, a_flow, lf = lin
    fig, ax = figure(2)
    star = lf.f_hat / lf.eigenvalues
    err = np.abs((a_flow @ lf.eigenvectors) - star) / np.abs(lf.a0_hat - star)
    for k in (0, 2, 5, 10, 19):
        line, = ax[0].loglog(ts[1:], err[1:, k], label=f"mode {k + 1}")
        ax[0].axvline(lf.mode_times[k], color=line.get_color(), ls=":", lw=1)
    ax[0].set_ylim(1e-12, 2)
    ax[0].set_xlabel("t (gradient-flow time; dotted: 1/lambda_k)")
    ax[0].set_ylabel("distance to the limit, relative to t = 0")
    ax[0].set_title("modes of the linear flow relax at rate lambda_k", fontsize=9)
    ax[0].legend(fontsize=7)
    a_lin = lf.coefficients(ts[1:])                  # a(0) = 0: compare from the first t > 0
    diff = np.linalg.norm(a_flow[1:] - a_lin, axis=1) / np.linalg.norm(a_lin, axis=1)
    ax[1].loglog(ts[1:], diff, "o-")
    ax[1].set_title("closed form vs fl.flow")
    ax[1].set_xlabel("t (gradient-flow time)")
    ax[1].set_ylabel("relative difference of a(t)")
    report.figure(fig, "gram_linear_flow.png")
