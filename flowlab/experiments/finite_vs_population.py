"""``finite-vs-population``: how far a finite-data gradient flow is from the population flow.

A bias-free student learns a teacher from m Gaussian samples x_i ~ N(0, I_d),
y_i = f*(x_i), by the gradient flow of the mean loss 1/(2m) sum_i r_i^2 (the exact
event-driven engine for relu, Radau for erf), and from the same start by the
gradient flow of the population loss 1/2 E[(f - f*)^2]
(:func:`flowlab.population.flow`), which is its m -> infinity limit on the same
time scale.  The empirical gradient differs from the population gradient by a
zero-mean average of m independent terms, O(m^-1/2) by the central limit
theorem, so over a fixed time the trajectories should differ by O(m^-1/2).

Distance of one run: D = max_t ||theta_m(t) - theta_pop(t)|| / max_t ||theta_pop(t)||
over 41 equally spaced times in [0, T].  Per m, the root mean square of D over the
data seeds; the check fits log D_rms against log m (least squares) and asks for a
slope within 0.2 of -1/2.  Also checked: the population flow's energy identity
L(0) - L(T) = int_0^T ||grad L||^2 dt (to 1e-8 relative).
"""

from __future__ import annotations

import numpy as np

from .._flow import flow
from ..models import TwoLayer
from ..plotting import figure
from ..population import flow as population_flow
from ._registry import register

D_IN, WIDTH = 4, 3
TIMES = 41


def teacher_student(act: str) -> tuple[TwoLayer, TwoLayer]:
    """A fixed teacher (two units) and a fixed start (three units), d = 4."""
    rng = np.random.default_rng(2024)
    V = rng.normal(size=(2, D_IN)) * 1.5 / np.sqrt(D_IN)
    teacher = TwoLayer(V, [1.0, -0.8], act, bias=False)
    W = rng.normal(size=(WIDTH, D_IN)) / np.sqrt(D_IN)
    a = 0.5 * rng.normal(size=WIDTH)
    return TwoLayer(W, a, act, bias=False), teacher


def distances(act: str, ms, seeds, T: float, progress=False) -> dict:
    net, teacher = teacher_student(act)
    pop = population_flow(net, teacher, T, progress=progress)
    tg = np.linspace(0.0, T, TIMES)
    thp = pop.theta_at(tg)
    ref = float(np.max(np.linalg.norm(thp, axis=1)))
    method = "exact" if act == "relu" else "Radau"
    D = np.empty((len(ms), len(seeds)))
    events = np.zeros_like(D)
    for a, m in enumerate(ms):
        for b, s in enumerate(seeds):
            rng = np.random.default_rng([int(m), int(s)])
            x = rng.standard_normal((int(m), D_IN))
            sol = flow(net, x, teacher(x), T, loss="mean", method=method, progress=progress)
            th = sol.theta_at(tg)
            D[a, b] = float(np.max(np.linalg.norm(th - thp, axis=1))) / ref
            events[a, b] = len(sol.events)
    rms = np.sqrt(np.mean(D ** 2, axis=1))
    slope, icpt = np.polyfit(np.log(ms), np.log(rms), 1)
    diss = pop.dissipation()
    drop = float(pop.loss[0] - pop.loss[-1])
    return {"activation": act, "method": method, "m": list(ms), "seeds": list(seeds), "T": T,
            "D": D, "D_rms": rms, "slope": float(slope), "intercept": float(icpt),
            "events_mean": events.mean(axis=1), "population_loss": [float(pop.loss[0]),
                                                                    float(pop.loss[-1])],
            "energy_identity_error": abs(diss - drop) / drop}


@register("finite-vs-population", "Finite-data gradient flows (exact engine for relu) "
          "against the population flow from the same start (the Gaussian teacher-student "
          "setting of Saad & Solla 1995): the distance falls like m^-1/2",
          papers=("Saad & Solla 1995",))
def run(report):
    if report.quick:
        plan = {"relu": ((100, 200, 400, 800), range(5), 2.0),
                "erf": ((100, 400, 1600, 6400), range(4), 2.0)}
    else:
        plan = {"relu": ((100, 200, 400, 800, 1600, 3200), range(8), 3.0),
                "erf": ((100, 400, 1600, 6400, 25600), range(8), 3.0)}
    results = {}
    for act, (ms, seeds, T) in plan.items():
        r = distances(act, ms, seeds, T, report.progress)
        results[act] = r
        report.check(f"{act}: the distance between the finite-data flow ({r['method']}) and "
                     f"the population flow on [0, {T:g}] falls like m^-1/2 -- fitted slope of "
                     f"log D_rms against log m (m = {ms[0]}..{ms[-1]}, {len(seeds)} data seeds "
                     "each) within 0.2 of -1/2", r["slope"], [-0.7, -0.3], "in", paper=-0.5)
        report.check(f"{act}: the population flow dissipates its loss, L(0) - L(T) = "
                     "int ||grad L||^2 dt: relative error", r["energy_identity_error"], 1e-8,
                     "<=")
    report.data["runs"] = results
    report.data["distance"] = ("max over 41 times in [0, T] of ||theta_m(t) - theta_pop(t)||, "
                               "divided by max ||theta_pop(t)||; D_rms = root mean square "
                               "over the data seeds")
    fig, ax = figure(1)
    for act, r in results.items():
        ms = np.asarray(r["m"], float)
        for b in range(r["D"].shape[1]):
            ax[0].loglog(ms, r["D"][:, b], ".", alpha=0.35,
                         color="C0" if act == "relu" else "C1")
        ax[0].loglog(ms, r["D_rms"], "o-", color="C0" if act == "relu" else "C1",
                     label=f"{act}: slope {r['slope']:.3f}")
        ax[0].loglog(ms, np.exp(r["intercept"]) * ms ** -0.5, ":", color="k", lw=0.8)
    ax[0].set_xlabel("m (samples)")
    ax[0].set_ylabel("trajectory distance to the population flow")
    ax[0].legend(fontsize=7)
    ax[0].grid(True, which="both", alpha=0.3)
    report.figure(fig, "finite_vs_population.png")
