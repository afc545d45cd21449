"""``init-rank``: epsilon-rank at initialisation and along training (Yang, Zhao & Zhu 2024).

Yang, Zhao & Zhu 2024:

- Sec. 2.2: with the uniform ("Xavier") initialisation w_j, b_j ~ U(-1/sqrt(n),
  1/sqrt(n)) the tanh neurons are nearly linear, tanh(wx + b) ~ wx + b, so
  their epsilon-rank after initialisation "is approximately two";
- Example 4.1, (12)/(13): the deterministic first layer tanh(n/2 (x - x_j)),
  x_j uniform on [-1, 1], has a high epsilon-rank from the start;
- Fig. 6 and the staircase phenomenon (Sec. 2.2): along training the
  epsilon-rank of the Xavier network rises in steps while the loss drops, and
  the deterministic initialisation trains to a much lower loss.

This reproduction takes the two-layer part: tanh networks of width n = 25, 50,
100 on [-1, 1], mass matrices by composite Gauss-Legendre (200 cells x 10
points, eq. (11)), eps = 1e-6; and the gradient flow (Radau, loss "mean") of
width-25 (and, in full mode, width-50) networks fitting eq. (6),
f(x) = cos x + cos 2x + cos 30x, on 200 points, with the epsilon-rank along
the flow and its staircase (:func:`flowlab.analysis.rank_along`,
:func:`flowlab.analysis.staircase`).
"""

from __future__ import annotations

import numpy as np

from .. import init
from ..analysis import gauss_legendre
from ..analysis.rank import drop_rates, neuron_rank, rank_along
from .._flow import flow
from ..plotting import figure, loss_axes
from ._registry import register

EPS = 1e-6


def target(x):
    """Yang, Zhao & Zhu 2024, eq. (6)."""
    return np.cos(x) + np.cos(2 * x) + np.cos(30 * x)


def quadrature():
    return gauss_legendre(10, (-1.0, 1.0), cells=200)


@register("init-rank",
          "Example 4.1: eps-rank of Xavier vs deterministic init, staircase along the flow",
          papers=("Yang, Zhao & Zhu 2024",))
def run(report):
    q = quadrature()
    ranks = {}
    for n in (25, 50, 100):
        xav = [neuron_rank(init.xavier(n, 1, activation="tanh", seed=s), q, EPS)
               for s in range(10)]
        det = neuron_rank(init.deterministic_1d(n, activation="tanh", seed=0), q, EPS)
        ranks[n] = {"xavier": xav, "deterministic": det}
        report.check(f"n = {n}: the deterministic initialisation (12) has full eps-rank (Yang, "
                     f"Zhao & Zhu 2024, "
                     "Example 4.1)", det, n, "==", paper=n)
        report.check(f"n = {n}: the Xavier initialisation has eps-rank approximately two (Yang, "
                     "Zhao & Zhu 2024, Sec. 2.2): every one of 10 draws within 2 +- 1", xav,
                     [1, 3], "in", paper=2)
    report.data["rank_at_init"] = ranks
    widths = (25,) if report.quick else (25, 50)
    T = 2000.0 if report.quick else 10000.0
    histories = {}
    for n in widths:
        for name in ("xavier", "deterministic"):
            histories[(n, name)] = _train(report, n, name, T, q)
        _checks(report, n, histories[(n, "xavier")], histories[(n, "deterministic")])
    _figure(report, histories)


def _train(report, n, name, T, q):
    x = np.linspace(-1.0, 1.0, 200)
    net = (init.xavier(n, 1, activation="tanh", seed=0) if name == "xavier"
           else init.deterministic_1d(n, activation="tanh", seed=0))
    sol = flow(net, x, target(x), T, loss="mean", method="Radau", rtol=1e-8, atol=1e-10,
               progress=report.progress)
    times = np.concatenate([[0.0], np.geomspace(1e-2, T, 150)])
    hist = rank_along(sol, q, times, eps=EPS, progress=report.progress)
    steps = hist.staircase(min_persist=3)
    report.data[f"flow_{name}_{n}"] = {
        "t_end": T, "final_loss": float(hist.loss[-1]), "rank_start": int(hist.rank[0]),
        "rank_end": int(hist.rank[-1]),
        "steps": [{"t_start": s.t_start, "t_end": s.t_end, "from": s.rank_before,
                   "to": s.rank_after, "loss_start": s.loss_start, "loss_next": s.loss_next}
                  for s in steps.steps]}
    return hist, steps


def _riser_rates(hist, steps):
    """Mean -d log L / d log t over the sample intervals inside rising steps, and outside
    (:func:`flowlab.analysis.drop_rates` on the log time axis)."""
    d = drop_rates(hist.t, hist.loss, steps, log_time=True)
    if not d.rising.any():
        return float("nan"), float(d.rate.mean())
    return float(d.rate[d.rising].mean()), float(d.rate[~d.rising].mean())


def _checks(report, n, xav, det):
    hist, steps = xav
    ups = [s for s in steps.steps if s.height > 0]
    report.check(f"width {n}, Xavier: the eps-rank rises in steps along the flow (staircase, "
                 "Yang, Zhao & Zhu 2024, Sec. 2.2): number of rising steps", len(ups), 2, ">=",
                 detail=[(s.rank_before, s.rank_after) for s in ups])
    on, off = _riser_rates(hist, steps)
    report.check(f"width {n}, Xavier: the loss falls faster while the rank rises than on the "
                 "plateaus: mean -dlogL/dlogt on rising steps minus elsewhere", on - off, 0.0,
                 ">", detail={"rising": on, "plateaus": off})
    lx, ld = float(xav[0].loss[-1]), float(det[0].loss[-1])
    report.check(f"width {n}: the deterministic initialisation trains to a loss at least 10x "
                 "lower than Xavier at the same time (Yang, Zhao & Zhu 2024, Fig. 6): Xavier's "
                 "loss over the deterministic one's", lx / ld, 10.0, ">=",
                 detail={"deterministic": ld, "xavier": lx})


def _figure(report, histories):
    fig, ax = figure(2, width=5.2)
    for (n, name), (hist, steps) in sorted(histories.items()):
        style = "-" if name == "deterministic" else "--"
        ax[0].semilogx(hist.t[1:], hist.rank[1:], style, label=f"{name}, n = {n}")
        ax[1].loglog(hist.t[1:], hist.loss[1:], style, label=f"{name}, n = {n}")
        for s in steps.steps:
            if s.height > 0 and name == "xavier":
                ax[0].axvspan(s.t_start, s.t_end, color="gray", alpha=0.2)
                ax[1].axvspan(s.t_start, s.t_end, color="gray", alpha=0.2)
    ax[0].set_xlabel("t (gradient-flow time)")
    ax[0].set_ylabel(f"eps-rank (eps = {EPS:g})")
    ax[0].set_title("eps-rank of the tanh neurons (grey: detected steps)", fontsize=9)
    ax[0].legend(fontsize=7)
    loss_axes(ax[1], loss_kind="mean")
    ax[1].set_title("loss, f = cos x + cos 2x + cos 30x", fontsize=9)
    ax[1].legend(fontsize=7)
    report.figure(fig, "init_rank.png")
