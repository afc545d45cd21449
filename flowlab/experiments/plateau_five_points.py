"""``plateau-five-points``: five points, width 8, a fully trained network (Ainsworth & Shin 2021).

Data {((k-3)/2, (1-(-1)^k)/2)}, k = 1..5 (Ainsworth & Shin 2021, Sec. 3.2), ReLU network
(2.2) of width 8 with He initialisation, sum loss, exact gradient flow to
t = 1e5 (1e8 gradient-descent epochs at lr 1e-3).  Lemma 3.4: the fully trained
network interpolates the macroscopic data (mu_l, ybar_l), which for this data
set can be the data themselves (as in Fig. 4) or their means over several
points (another stationary point); both are reported for every initialisation.
"""

from __future__ import annotations

import numpy as np

from .. import init
from ..analysis import plateau as pl
from .._flow import flow
from ..plotting import figure
from ._plateau_common import log_times, trajectories
from ._registry import register


def data():
    k = np.arange(1, 6)
    return (k - 3) / 2.0, (1 - (-1.0) ** k) / 2.0


@register("plateau-five-points",
          "Fig. 4: width-8 ReLU network on five points, fully trained by the exact flow",
          papers=("Ainsworth & Shin 2021",))
def run(report):
    x, y = data()
    seeds = range(3) if report.quick else range(8)
    T = 1e5
    rows = []
    sols = []
    for seed in seeds:
        sol = flow(init.he(8, seed=seed), x, y, T, loss="sum", method="exact",
                   progress=report.progress)
        net = sol.net
        res = pl.stationarity_residual(net, x, y)
        md = pl.macroscopic_data(net, x, y)
        lv = np.flatnonzero(md.u[1:] > 0) + 1
        macro_err = float(np.max(np.abs(net(md.mu[lv]) - md.ybar[lv]))) if lv.size else 0.0
        rows.append({"init_seed": seed, "final_loss": float(sol.loss[-1]),
                     "stationarity_rms": float(np.sqrt(np.mean(res ** 2))) if res.size else 0.0,
                     "macroscopic_interpolation_error": macro_err,
                     "u_l": md.u.tolist(), "interpolates_the_data": bool(sol.loss[-1] < 1e-20),
                     "events": int(sol.info["n_events"]), "slides": int(sol.info["n_slides"]),
                     "stationary_from_t": sol.info["stationary_from"], "status": sol.status})
        sols.append(sol)
    worst_res = max(r["stationarity_rms"] for r in rows)
    worst_macro = max(r["macroscopic_interpolation_error"] for r in rows)
    report.check("Lemma 3.4: the fully trained network is stationary -- RMS of the residual "
                 "of (3.4), worst over the initialisations", worst_res, 1e-10, "<=")
    report.check("Lemma 3.4 / Fig. 4 (left): the fully trained network interpolates the "
                 "macroscopic data (mu_l, ybar_l): largest difference", worst_macro, 1e-8, "<=")
    conv = [r["stationary_from_t"] for r in rows]
    report.check("Theorem 3.3 / Fig. 4 (middle, right): biases and coefficients converge (the "
                 "flow becomes stationary to rounding before t = 1e5): runs that do not",
                 sum(c is None for c in conv), 0, "==", detail={"stationary_from_t": conv})
    report.data["runs"] = rows
    report.data["interpolating_runs"] = sum(r["interpolates_the_data"] for r in rows)
    report.data["t_end"] = T

    # figure for the first initialisation that interpolates the data (Fig. 4's case),
    # else the first one
    pick = next((i for i, r in enumerate(rows) if r["interpolates_the_data"]), 0)
    sol = sols[pick]
    fig, ax = figure(3)
    xs = np.linspace(-1.5, 1.5, 400)
    md = pl.macroscopic_data(sol.net, x, y)
    lv = np.flatnonzero(md.u[1:] > 0) + 1
    ax[0].plot(xs, sol.net(xs), label="fully trained network")
    ax[0].plot(x, y, "s", mfc="none", ms=9, label="data")
    ax[0].plot(md.mu[lv], md.ybar[lv], "o", label="macroscopic data")
    ax[0].legend(fontsize=7)
    ax[0].set_xlabel("x")
    ax[0].set_ylabel("f(x)")
    ax[0].set_title(f"He seed {rows[pick]['init_seed']}: final network")
    trajectories(ax[1], ax[2], sol, log_times(sol), x=x)
    ax[1].set_title("bias trajectories")
    ax[2].set_title("coefficient trajectories")
    report.figure(fig, "fig4_five_points.png")
