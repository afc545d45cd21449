"""``plateau-fully-trained``: Proposition F.1's fully trained network (Ainsworth & Shin 2021).

sin(5 pi x) on 500 equidistant points of [-1, 1]; the partition comes from a
bias vector ~ N(0, 2 I_100) (Fig. 5's caption).  Proposition F.1 fits a
least-squares line on each cell (to the data minus the lines already placed)
and glues them with one or two neurons each (Lemma F.2).  Two placements of
the gluing knots are compared: halfway into the gap before each cell (flowlab's
default) and exactly on the cell's first data point, as printed.
"""

from __future__ import annotations

import numpy as np

from ..analysis import plateau as pl
from .._flow import flow
from ..plotting import figure
from ._registry import register


@register("plateau-fully-trained",
          "Fig. 5: Proposition F.1's fully trained network for sin(5 pi x)",
          papers=("Ainsworth & Shin 2021",))
def run(report):
    x = np.linspace(-1.0, 1.0, 500)
    y = np.sin(5 * np.pi * x)
    b = np.random.default_rng(0).normal(0.0, np.sqrt(2.0), 100)
    part = np.concatenate([[-1.0], np.sort(b[(b > -1) & (b < 1)]), [1.0]])
    cells = np.unique(np.clip(np.searchsorted(part, x, side="right") - 1, 0, part.size - 2)).size
    net = pl.fully_trained_network(x, y, part)
    printed = pl.fully_trained_network(x, y, part, knot_on_point=True)
    scale = np.abs(net.params()).max()
    g = float(np.linalg.norm(net.gradient(x, y)))
    report.check("Proposition F.1: width at most 2N for a partition with N cells holding data",
                 net.width, 2 * cells, "<=", paper=2 * cells)
    report.check("Proposition F.1: the network is a stationary point of (3.1) -- ||grad L|| "
                 "relative to the largest parameter", g / scale, 1e-8, "<=")
    T = 10.0 if report.quick else 1e3
    sol = flow(net, x, y, T, loss="sum", method="exact", progress=report.progress)
    moved = float(np.abs(sol.net.params() - net.params()).max() / scale)
    report.check(f"'no further improvement would be obtained by continuing gradient descent': "
                 f"the exact flow from it does not move up to t = {T:g} (relative change)",
                 moved, 1e-9, "<=")
    res = pl.stationarity_residual(net, x, y)
    rms = float(np.sqrt(np.mean(res ** 2)))
    report.check("Lemma 3.4: residual of (3.4) (RMS, relative to the largest parameter)",
                 rms / scale, 1e-8, "<=")
    g_printed = float(np.linalg.norm(printed.gradient(x, y)))
    report.check("Lemma F.2 as printed (second knot exactly on the cell's first data point): "
                 "the network is a fixed point of gradient descent (||grad L|| with relu'(0) = "
                 "0, relative); it is stationary only in the Filippov sense, the point "
                 "on the knot having sliding weight 1",
                 g_printed / np.abs(printed.params()).max(), 1e-8, "<=")
    xs = np.linspace(-1.0, 1.0, 10001)
    err = float(np.sqrt(np.mean((net(xs) - np.sin(5 * np.pi * xs)) ** 2)))
    fit = float(np.sqrt(np.mean((net(x) - y) ** 2)))
    report.check("Fig. 5: a fully trained network need not fit -- 'no further improvement' "
                 "although its training RMSE stays far from 0", fit, 0.05, ">")
    report.data["test_rmse_on_1e4_points"] = err
    report.data.update(cells=cells, width=net.width, width_printed=printed.width,
                       max_abs_output=float(np.abs(net(xs)).max()),
                       training_rmse=float(np.sqrt(np.mean((net(x) - y) ** 2))))
    fig, ax = figure(1, width=7.0)
    ax[0].plot(xs, np.sin(5 * np.pi * xs), "k:", lw=1, label="sin(5 pi x)")
    ax[0].plot(xs, net(xs), lw=0.8, label="Prop. F.1 network")
    ax[0].plot(part[1:-1], np.zeros(part.size - 2), "x", ms=4, label="biases (partition)")
    ax[0].set_ylim(-4, 4)
    ax[0].legend(fontsize=7)
    ax[0].set_xlabel("x")
    ax[0].set_ylabel("f(x)")
    ax[0].set_title("a fully trained network (Proposition F.1)")
    report.figure(fig, "fig5_fully_trained.png")
