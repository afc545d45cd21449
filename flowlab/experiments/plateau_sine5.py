"""``plateau-sine5``: repeated plateaus of sin(5 pi x) over decades (Ainsworth & Shin 2021, Fig. 1).

sin(5 pi x) on 500 equidistant points of [-1, 1], ReLU network (2.2) of width
100 with He initialisation, mean squared loss (Fig. 1's "mean squared loss"),
exact gradient flow; epochs = t / lr with the paper's lr = 1e-3.  The full run
goes to 1e9 epochs (t = 1e6), the quick one to 1e6 epochs (one plateau and the
fall after it).  A plateau is a stretch of at least half a decade of epochs over
which the loss falls by less than 15% per decade.
"""

from __future__ import annotations

import numpy as np

from .. import init
from ..analysis import plateau as pl
from .._flow import flow
from ..plotting import figure, positive
from ._plateau_common import EPOCHS, epochs
from ._registry import register


@register("plateau-sine5",
          "Fig. 1: sin(5 pi x), width 100, 500 points, repeated plateaus over decades of "
          "training",
          papers=("Ainsworth & Shin 2021",))
def run(report):
    x = np.linspace(-1.0, 1.0, 500)
    y = np.sin(5 * np.pi * x)
    T = 1e3 if report.quick else 1e6
    sol = flow(init.he(100, seed=0), x, y, T, loss="mean", method="exact",
               progress=report.progress)
    sol.save(report.path("solution.npz"))
    ep = epochs(sol)
    found = pl.plateaus(sol.t, sol.loss)
    need = 1 if report.quick else 2
    report.check("Fig. 1: the loss saturates, then falls again, repeatedly over decades of "
                 "epochs -- number of plateaus (loss falling by < 15% per decade over >= half "
                 f"a decade) within {float(epochs(sol, T)):.0e} epochs, at least {need} "
                 f"({'quick' if report.quick else 'full'} mode)", len(found), need, ">=")
    dL = np.diff(sol.loss)
    report.check("the loss never increases along the exact flow: largest rise between "
                 "steps, relative to L(0)", float(dL.max() / sol.loss[0]), 1e-12, "<=")
    report.data.update(t_end=T, epochs=float(epochs(sol, T)), final_loss=float(sol.loss[-1]),
                       events=sol.info["n_events"], slides=sol.info["n_slides"],
                       stages=sol.info["n_stages"], steps=sol.nsteps,
                       wall_time_s=sol.info["wall_time"],
                       plateaus=[{"from_epoch": float(epochs(sol, p.start)),
                                  "to_epoch": float(epochs(sol, p.end)), "loss": p.loss,
                                  "drop_after": p.drop_after} for p in found])
    fig, ax = figure(3)
    keep = ep > 0
    top = float(epochs(sol, T))
    for a, hi in zip(ax, (top / 1000, top / 10, top)):
        sel = keep & (ep <= hi)
        a.loglog(ep[sel], positive(sol.loss[sel]), label="exact flow")
        shown = False
        for p in found:
            p0, p1 = epochs(sol, [p.start, p.end])
            if p0 <= hi:
                a.axvspan(p0, min(p1, hi), color="0.9", zorder=0,
                          label=None if shown else "plateau found")
                shown = True
        a.set_xlabel(EPOCHS)
        a.set_ylabel("loss 1/(2m) sum r_i^2")
        a.legend(fontsize=7)
        a.set_title(f"up to {hi:.0e} epochs")
    report.figure(fig, "fig1_plateaus.png")
