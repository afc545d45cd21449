"""``phase-diagram``: the phase diagram of initialisation scale x width (Luo et
al. 2021), computed with exact gradient flows on a Dask sweep.

Setup (Luo et al. 2021, Sec. 3; every choice is listed in docs/sweeps.md):

- f(x) = sum_k a_k sigma(w_k . (x, 1)), alpha = 1, a_k ~ N(0, beta_1^2),
  w_k ~ N(0, beta_2^2 I) with beta_1 = m^(-(gamma + gamma')/2), beta_2 =
  m^(-(gamma - gamma')/2) (:func:`flowlab.analysis.phase.scales`);
- data: four evenly spaced points of y = x^2 on [-1/2, 1/2], mean loss
  L = 1/(2n) sum r_i^2;
- end of training t*: the first time L(t) <= 1e-4 L_0, with L_0 = 1/(2n)
  sum y_i^2 the loss of the zero function;
- RD = ||theta_w(t*) - theta_w(0)|| / ||theta_w(0)|| over the input weights and
  biases; S_w the least-squares slope of log RD against log m.

The gradient flows run through :func:`flowlab.flow` with its default method
(the exact event-driven flow for relu, Radau for tanh and x tanh x), one sweep
task per (activation, gamma', gamma, width, seed), as the registered sweep task
``phase-diagram``: one sweep for relu (``OUT/sweep/relu/results.zarr``) and one
for the finite-width tanh and x tanh x diagrams (``OUT/sweep/finite/``).  Running
the reproduction again resumes both sweeps.

Checks (relu, Luo et al. 2021 Fig. 1 and Sec. 5): S_w < 0 at the NTK scaling
(gamma = 1/2, gamma' = 0); |S_w| <= 0.1 at the mean-field scaling (gamma = 1,
gamma' = 0); S_w > 0 at gamma = 1.75 (condensed for every gamma' < 0.75 of the
grid); along gamma' = 0 the sign of S_w changes within 0.15 of gamma = 1.  A
cross-check: gradient descent at a small learning rate gives the flow's RD.
The tanh and x tanh x diagrams (finite width; named as future work by Xu, Zhou,
Luo & Zhang 2021) are drawn and reported without a claim to check.
"""

from __future__ import annotations

import time

import numpy as np

from ..analysis.phase import (flow_to_loss, rd_slope, regime, relative_distance, scaled_init,
                              scales, sign_change)
from ..plotting import figure
from ..sweep.tasks import register_task
from ._registry import register

#: data: four evenly spaced points of x^2 on [-1/2, 1/2]
N_POINTS, INTERVAL = 4, (-0.5, 0.5)
#: t* is the first time the loss is <= TOL x (loss of the zero function)
TOL = 1e-4
#: |S_w| at the mean-field point counts as small below this (the NTK slope is -1/2)
SMALL_SLOPE = 0.1
#: the sign change along gamma' = 0 must lie this close to gamma = 1
BOUNDARY_TOL = 0.15

#: Quick mode (the test suite): three widths up to 10^3.  relu flows (exact engine, explicit
#: stepper) take 0.02-0.04 s at width 100, 0.03-0.2 s at 316 and 0.6-1.5 s at 1000
#: (docs/sweeps.md).  The finite-width tanh and x tanh x diagrams run along gamma' = 0 only.
QUICK = {"relu": {"activations": ("relu",), "widths": (100, 316, 1000),
                  "gammas": (0.5, 1.0, 1.75), "gamma_primes": (-0.5, 0.0, 0.5), "seeds": (0,)},
         "finite": {"activations": ("tanh", "xtanh"), "widths": (25, 50, 100),
                    "gammas": (0.5, 1.0, 1.75), "gamma_primes": (0.0,), "seeds": (0,)},
         "workers": 2, "max_steps": 20_000}
#: Full mode: Luo et al.'s width range 10^2-10^4 for relu; tanh and x tanh x at finite width.
FULL = {"relu": {"activations": ("relu",), "widths": (100, 316, 1000, 3162, 10000),
                 "gammas": (0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 1.75),
                 "gamma_primes": (-0.5, -0.25, 0.0, 0.25, 0.5), "seeds": (0, 1, 2)},
        "finite": {"activations": ("tanh", "xtanh"), "widths": (25, 50, 100, 200, 400),
                   "gammas": (0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 1.75),
                   "gamma_primes": (-0.5, -0.25, 0.0, 0.25, 0.5), "seeds": (0, 1, 2)},
        "workers": None, "max_steps": 0}

#: parameters of the sweep task and their defaults
PARAMS = {"activation": "relu", "gamma": 1.0, "gamma_prime": 0.0, "width": 100, "seed": 0,
          "tol": TOL, "t_max": 1e7, "max_steps": 0, "method": ""}


def data() -> tuple[np.ndarray, np.ndarray]:
    """The training set: x of shape (4, 1) evenly spaced on [-1/2, 1/2], y = x^2."""
    x = np.linspace(*INTERVAL, N_POINTS)[:, None]
    return x, x[:, 0] ** 2


def zero_loss(y) -> float:
    """Mean loss of the zero function, 1/(2n) sum y_i^2."""
    y = np.asarray(y, dtype=float)
    return float(0.5 * np.mean(y ** 2))


@register_task("phase-diagram", params=PARAMS, cost=lambda p: p["width"])
def phase_point(point: dict) -> dict:
    """One point of the diagram: the flow from the (gamma, gamma') initialisation to t*.

    Returns ``rd_w`` (input weights and biases), ``rd_a`` (output weights),
    ``t_star``, ``reached`` (the loss reached the target before ``t_max``),
    ``loss_at_t_star``, ``initial_loss``, ``beta1``, ``beta2``, the flow's
    ``status``, ``method``, ``steps``, ``events`` and ``flow_wall_s``.
    """
    x, y = data()
    net = scaled_init(point["width"], 1, point["gamma"], point["gamma_prime"],
                      activation=point["activation"], seed=point["seed"])
    target = point["tol"] * zero_loss(y)
    clock = time.perf_counter()
    r = flow_to_loss(net, x, y, target, loss="mean", t_max=point["t_max"],
                     method=point["method"] or None, max_steps=point["max_steps"] or None)
    wall = time.perf_counter() - clock
    end = r.sol.net_at(r.t_star)
    b1, b2 = scales(point["width"], point["gamma"], point["gamma_prime"])
    return {"status": r.sol.status, "reached": bool(r.reached), "t_star": r.t_star,
            "rd_w": relative_distance(net.W, end.W), "rd_a": relative_distance(net.a, end.a),
            "loss_at_t_star": float(r.sol.loss_at(r.t_star)),
            "initial_loss": float(r.sol.loss[0]), "beta1": b1, "beta2": b2,
            "method": r.sol.method, "steps": int(r.sol.nsteps),
            "events": int(len(r.sol.events)), "flow_wall_s": wall}


def sweep_config(grid: dict, max_steps: int = 0) -> dict:
    """The sweep (as the tables of a sweep file) of one grid of a mode's settings."""
    return {"task": {"name": "phase-diagram", "tol": TOL, "max_steps": int(max_steps)},
            "sweep": {"task.activation": list(grid["activations"]),
                      "task.gamma_prime": [float(g) for g in grid["gamma_primes"]],
                      "task.gamma": [float(g) for g in grid["gammas"]],
                      "task.width": [int(m) for m in grid["widths"]],
                      "task.seed": [int(s) for s in grid["seeds"]]}}


def slopes(ds) -> np.ndarray:
    """S_w over (activation, gamma', gamma) from a sweep's results (reached points only)."""
    rd = np.where(ds["reached"].values, ds["rd_w"].values, np.nan)
    widths = ds["task.width"].values
    out = np.full(rd.shape[:3], np.nan)
    for idx in np.ndindex(out.shape):
        out[idx] = rd_slope(widths, rd[idx])[0]
    return out


@register("phase-diagram", "Phase diagram of initialisation scale x width by exact gradient "
          "flows on a Dask sweep: relu (Luo et al. 2021), tanh and x tanh x",
          papers=("Luo et al. 2021", "Xu et al. 2021"))
def run(report):
    from .. import sweep as sw
    settings = QUICK if report.quick else FULL
    report.data.update(
        settings=settings,
        data=f"{N_POINTS} evenly spaced points of y = x^2 on [{INTERVAL[0]}, {INTERVAL[1]}]",
        loss="mean, L = 1/(2n) sum r_i^2", t_star=f"first time L <= {TOL:g} L_0, L_0 = "
        "1/(2n) sum y_i^2", alpha=1, rd_definition="||W(t*) - W(0)|| / ||W(0)||, W with biases",
        slopes={}, rd={}, t_star_values={}, not_reached={}, failed={}, flow_wall_s_by_width={},
        sweep={})
    panels = []
    for part in ("relu", "finite"):
        ds = _sweep(report, part, settings, sw)
        S = slopes(ds)
        gps, gs = ds["task.gamma_prime"].values, ds["task.gamma"].values
        for i, act in enumerate(str(a) for a in ds["task.activation"].values):
            sub = ds.isel({"task.activation": i})
            report.data["slopes"][act] = {"gamma_prime": gps, "gamma": gs, "S_w": S[i],
                                          "widths": ds["task.width"].values}
            report.data["rd"][act] = sub["rd_w"].values
            report.data["t_star_values"][act] = sub["t_star"].values
            report.data["not_reached"][act] = int(np.sum(~sub["reached"].values))
            report.data["failed"][act] = int(np.sum(sub["status"].values == "error"))
            report.data["flow_wall_s_by_width"][act] = {
                int(m): float(np.nanmax(sub["flow_wall_s"].values[..., j, :]))
                for j, m in enumerate(ds["task.width"].values)}
            panels.append((act, sub, S[i], gps, gs))
            if act == "relu":
                report.data["paper_regime"] = {f"{gp:g},{g:g}": regime(g, gp)
                                               for gp in gps for g in gs}
                _checks(report, S[i], gps, gs)
                _gd_cross_check(report, sub, gps, gs)
    _figures(report, panels)


def _sweep(report, part, settings, sw):
    import dask
    address = dask.config.get("scheduler-address", None)
    kw = {"workers": settings["workers"]} if not address else {}
    res = sw.run(sweep_config(settings[part], settings["max_steps"]),
                 out=report.path("sweep") / part, retries=1, progress=report.progress,
                 echo=None, **kw)
    report.data["cluster"] = (f"dask scheduler at {address}" if address else
                              f"local cluster, {settings['workers'] or 'one per core'} worker "
                              "processes")
    report.data["sweep"][part] = {"points": res.n_points, "already_done": res.n_already,
                                  "computed": res.n_computed, "failed": res.n_failed,
                                  "store": str(res.store)}
    return res.dataset().load()


def _at(values, axis_values, target):
    hit = np.flatnonzero(np.isclose(axis_values, target))
    return None if not hit.size else int(hit[0])


def _checks(report, S, gps, gs):
    j0 = _at(gps, gps, 0.0)
    if j0 is None:
        report.check("gamma' = 0 is in the grid (needed by the checks): distance of the "
                     "nearest gamma' to 0", float(np.min(np.abs(gps))), 0.0, "==",
                     detail=list(gps))
        return
    row = S[j0]
    i_ntk, i_mf, i_175 = _at(gs, gs, 0.5), _at(gs, gs, 1.0), _at(gs, gs, 1.75)
    if i_ntk is not None:
        report.check("relu, NTK scaling (gamma = 1/2, gamma' = 0): the input weights barely "
                     "move as the width grows, S_w < 0 (Luo et al. 2021, linear regime, Fig. 1)",
                     row[i_ntk], 0.0, "<")
    if i_mf is not None:
        report.check(f"relu, mean-field scaling (gamma = 1, gamma' = 0): RD stays O(1), "
                     f"|S_w| <= {SMALL_SLOPE} (Luo et al. 2021, critical regime)",
                     row[i_mf], [-SMALL_SLOPE, SMALL_SLOPE], "in")
    if i_175 is not None:
        col = S[:, i_175]
        report.check("relu, gamma = 1.75: RD grows with the width, S_w > 0 at every gamma' of "
                     "the grid (all < gamma - 1 = 0.75: Luo et al. 2021, condensed regime)",
                     {f"{gp:g}": s for gp, s in zip(gps, col)}, 0.0, ">")
    where = sign_change(gs, row)
    report.check(f"relu, along gamma' = 0 the sign of S_w changes within {BOUNDARY_TOL} of "
                 "gamma = 1 (the linear/condensed boundary of Luo et al. 2021)", where,
                 [1.0 - BOUNDARY_TOL, 1.0 + BOUNDARY_TOL], "in", paper=1.0)


def _gd_cross_check(report, ds, gps, gs, lr=1e-2):
    """Gradient descent at a small learning rate reaches the flow's RD (t = lr x steps)."""
    from ..train import gd
    j, i = _at(gps, gps, 0.0), _at(gs, gs, 1.0)
    if j is None or i is None:
        return
    m = int(ds["task.width"].values[0])
    seed = int(ds["task.seed"].values[0])
    t_star = float(ds["t_star"].values[j, i, 0, 0])
    rd_flow = float(ds["rd_w"].values[j, i, 0, 0])
    x, y = data()
    net = scaled_init(m, 1, 1.0, 0.0, activation="relu", seed=seed)
    steps = int(round(t_star / lr))
    res = gd(net, x, y, lr=lr, steps=steps, loss="mean", record_every=steps, progress=False)
    rd_gd = relative_distance(net.W, res.net.W)
    rel = abs(rd_gd - rd_flow) / rd_flow
    report.data["gd_cross_check"] = {"width": m, "lr": lr, "steps": steps, "rd_flow": rd_flow,
                                     "rd_gd": rd_gd, "relative_difference": rel}
    report.check(f"cross-check: gradient descent (lr {lr:g}, {steps} steps = t*) gives the "
                 f"exact flow's RD within 1% (relu, gamma = 1, gamma' = 0, width {m}): relative "
                 "difference", rel, 0.01, "<=")


def _figures(report, panels):
    """Heat maps of S_w with the regime boundaries; RD against the width along gamma' = 0."""
    import matplotlib.pyplot as plt
    fig, ax = figure(len(panels), 1, width=4.4, height=4.2)
    finite = [S for _, _, S, _, _ in panels if np.isfinite(S).any()]
    lim = max(0.5, max(float(np.nanmax(np.abs(S))) for S in finite)) if finite else 1.0
    for a, (act, _, S, gps, gs) in zip(ax, panels):
        ge, ye = _edges(gps), _edges(gs)
        mesh = a.pcolormesh(ge, ye, S.T, cmap="RdBu_r", vmin=-lim, vmax=lim)
        for j, gp in enumerate(gps):
            for i, g in enumerate(gs):
                if np.isfinite(S[j, i]):       # above the point, clear of the markers
                    a.text(gp, g + 0.3 * (ye[i + 1] - g), f"{S[j, i]:.2f}", ha="center",
                           va="center", fontsize=7)
        left = np.linspace(ge[0], min(0.0, ge[-1]), 2)
        a.plot(left, np.ones_like(left), "k-", lw=1.5, label="boundary (Luo et al. 2021)")
        if ge[-1] > 0:
            right = np.linspace(0.0, ge[-1], 20)
            a.plot(right, 1 + right, "k-", lw=1.5)
        a.plot([0], [0.5], "s", mfc="none", mec="k", label="NTK")
        a.plot([0], [1.0], "o", mfc="none", mec="k", label="mean field")
        a.set_xlim(ge[0], ge[-1])
        a.set_ylim(ye[0], ye[-1])
        a.set_xlabel("gamma'")
        a.set_ylabel("gamma")
        note = "" if act == "relu" else " (finite width)"
        a.set_title(f"{act}: S_w = slope of log RD vs log m{note}", fontsize=8)
        a.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3)
        fig.colorbar(mesh, ax=a, label="S_w")
    report.figure(fig, "phase_diagram.png")

    fig, ax = figure(len(panels), 1, width=4.0, height=3.4)
    for a, (act, ds, S, gps, gs) in zip(ax, panels):
        j0 = _at(gps, gps, 0.0)
        if j0 is None:
            continue
        widths = ds["task.width"].values
        rd = np.where(ds["reached"].values, ds["rd_w"].values, np.nan)
        for i, g in enumerate(gs):
            a.loglog(widths, np.nanmean(rd[j0, i], axis=-1), "o-",
                     label=f"gamma={g:g}: S_w={S[j0, i]:.2f}")
        a.set_xlabel("width m")
        a.set_ylabel("RD of the input weights at t*")
        a.set_title(f"{act}, gamma' = 0", fontsize=9)
        a.legend(fontsize=6, loc="best", framealpha=0.6)
    report.figure(fig, "rd_vs_width.png")
    plt.close("all")


def _edges(centres) -> np.ndarray:
    c = np.asarray(centres, dtype=float)
    if c.size == 1:
        return np.array([c[0] - 0.25, c[0] + 0.25])
    mid = 0.5 * (c[1:] + c[:-1])
    return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])
