"""``tanh-sine``: gradient flow of a tanh network fitting sin(3x) + sin(6x)/2.

The target and domain are those of Zhou et al.'s (2022) 1-d experiments (Sec. 4.3:
40 points on [-1, 1.5]).  The reproduction checks the properties every
gradient flow must have, on a problem researchers meet daily:

- the loss never increases along the flow;
- energy balance L(0) - L(T) = integral of ||d theta/dt||^2 (docs/design.md, testing
  tier 3);
- gradient descent converges to the flow at first order in the learning rate
  (t = lr x iterations, Ainsworth & Shin 2021, (2.3));
- two different integrators (implicit Radau, explicit DOP853) agree.
"""

from __future__ import annotations

import numpy as np

from .. import init
from .._flow import flow
from ..plotting import figure, loss_axes
from ..train import gd
from ._registry import register


def target(x):
    return np.sin(3 * x) + 0.5 * np.sin(6 * x)


@register("tanh-sine",
          "tanh network (width 20) fitting sin(3x) + sin(6x)/2 by gradient flow",
          papers=("Zhou et al. 2022",))
def run(report):
    quick = report.quick
    x = np.linspace(-1.0, 1.5, 40)
    y = target(x)
    net = init.xavier(20, 1, activation="tanh", seed=0, bound=1.0)
    T = 20.0 if quick else 200.0
    sol = flow(net, x, y, T, loss="mean", method="Radau", rtol=1e-10, atol=1e-12,
               progress=report.progress)
    sol.save(report.path("solution.npz"))
    ref = flow(net, x, y, T, loss="mean", method="DOP853", rtol=1e-12, atol=1e-14,
               progress=report.progress)

    dL = np.diff(sol.loss)
    report.check("loss never increases along the gradient flow (docs/design.md, testing "
                 "tier 3): largest rise between steps, relative to L(0)",
                 float(dL.max() / sol.loss[0]), 1e-14, "<=")
    drop = sol.loss[0] - sol.loss[-1]
    energy = abs(drop - sol.dissipation()) / drop
    report.check("L(0) - L(T) = integral of ||dtheta/dt||^2 dt, relative error",
                 energy, 1e-6, "<=")
    agree = np.linalg.norm(sol.net.params() - ref.net.params()) / np.linalg.norm(ref.net.params())
    report.check("Radau (rtol 1e-10) and DOP853 (rtol 1e-12) agree at T: relative "
                 "difference", agree, 1e-7, "<=")

    T_gd = 2.0 if quick else 10.0
    at = sol.theta_at(T_gd)
    lrs = np.array([0.04, 0.02, 0.01, 0.005])
    dist = []
    for lr in lrs:
        res = gd(net, x, y, lr=lr, steps=int(round(T_gd / lr)), loss="mean")
        dist.append(np.linalg.norm(res.net.params() - at))
    dist = np.array(dist)
    ratios = dist[:-1] / dist[1:]
    report.check("halving the GD learning rate halves the distance to the flow at "
                 f"t = {T_gd:g} (Ainsworth & Shin 2021, (2.3): GD -> flow): every ratio of "
                 "successive distances", ratios.tolist(), [1.6, 2.5], "in")
    report.data.update(t_end=T, final_loss=float(sol.loss[-1]), initial_loss=float(sol.loss[0]),
                       steps=sol.nsteps, nfev=sol.nfev, njev=sol.njev,
                       gd_learning_rates=lrs, gd_distances=dist)

    fig, ax = figure(3)
    ax[0].loglog(sol.t[1:], sol.loss[1:], label="gradient flow (Radau)")
    loss_axes(ax[0], loss_kind="mean")
    ax[0].set_title("loss")
    xs = np.linspace(-1.0, 1.5, 400)
    ax[1].plot(x, y, "k.", label="data")
    for tq in (0.0, T / 100, T / 10, T):
        ax[1].plot(xs, sol.net_at(tq)(xs), label=f"t = {tq:g}")
    ax[1].legend(fontsize=7)
    ax[1].set_xlabel("x")
    ax[1].set_ylabel("f(x)")
    ax[1].set_title("network output")
    ax[2].loglog(lrs, dist, "o-", label="||theta_GD - theta(t)||")
    ax[2].loglog(lrs, dist[0] * lrs / lrs[0], "k--", label="slope 1")
    from matplotlib.ticker import NullFormatter
    ax[2].xaxis.set_minor_formatter(NullFormatter())
    ax[2].set_xlabel("learning rate")
    ax[2].set_ylabel(f"||theta_GD - theta(t = {T_gd:g})||")
    ax[2].legend(fontsize=7)
    ax[2].set_title(f"GD -> flow at t = {T_gd:g}")
    report.figure(fig, "tanh_sine.png")
