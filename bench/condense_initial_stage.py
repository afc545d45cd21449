"""Time to the end of the initial stage of a small-initialisation x2tanh network.

Problem (condense-1d, Zhou et al. 2022, Figs. 5-6): 40 evenly spaced points of
sin(3x) + sin(6x)/2 on [-1, 1.5], width 100, x^2 tanh(x) activation (p = 3),
every parameter N(0, 0.005^2), mean loss L = 1/(2m) sum r_i^2.  The initial
stage ends when the loss first reaches 70% of its initial value (Zhou et al. 2022,
Sec. 3), at t of order 1/var (about 1.35e4 here).

Headline, measured side by side in one run, both finding the end themselves
at the same tolerances (rtol given, atol 1e-12):

- ``scipy_lsoda_numpy``: ``scipy.integrate.solve_ivp(method="LSODA")`` with a
  vectorised numpy right-hand side and a terminal event at L = 0.7 L(0) (no
  Jacobian given: LSODA builds it by finite differences, as a user without
  the Hessian would);
- ``flowlab_<method>``: ``flowlab.analysis.flow_initial_stage`` with the
  compiled explicit ERK853 / ERK45 (stop at the first step below the level,
  crossing located on the dense output).

Ratio: scipy_lsoda_numpy / the fastest flowlab method; target >= 10x.  Also
reported, for the choice of method: ``flowlab.flow`` with each of its
methods over [0, T70] with 200 log-spaced output times (the implicit ones with
the exact Hessian as Jacobian), and every contender's error at its end
(largest parameter difference to a reference run at rtol 1e-12).

    python bench/condense_initial_stage.py [--quick] [--rtol 1e-10]
"""

import argparse
import json
import time
import warnings

import numpy as np
from scipy.integrate import solve_ivp

import flowlab as fl
from flowlab.analysis import flow_initial_stage

TARGET = 10.0


def problem(quick):
    x = np.linspace(-1.0, 1.5, 40)
    y = np.sin(3 * x) + 0.5 * np.sin(6 * x)
    n, std = (20, 0.05) if quick else (100, 0.005)
    net = fl.init.small_gaussian(n, 1, std ** 2, activation="x2tanh", seed=0)
    return net, x, y


def numpy_rhs(net, x, y):
    """-grad of L = 1/(2m) sum (sum_j a_j z^2 tanh(z) - y)^2, z = w_j x + b_j, vectorised."""
    n, m = net.width, x.size

    def rhs(t, u):
        W = u[: 2 * n].reshape(n, 2)
        a = u[2 * n:]
        Z = np.multiply.outer(x, W[:, 0]) + W[:, 1]
        T = np.tanh(Z)
        Z2 = Z * Z
        S = Z2 * T
        D = 2.0 * Z * T + Z2 * (1.0 - T * T)
        r = (S @ a - y) / m
        G = D * r[:, None]
        out = np.empty(3 * n)
        out[0:2 * n:2] = -(x @ G) * a
        out[1:2 * n:2] = -G.sum(axis=0) * a
        out[2 * n:] = -(r @ S)
        return out
    return rhs


def reference(net, x, y):
    sol, stage = flow_initial_stage(net, x, y, rtol=1e-12, atol=1e-14)
    return stage.t_end, sol.theta_at(stage.t_end), sol.loss[0]


def lsoda_numpy(net, x, y, rtol, atol, L0):
    rhs = numpy_rhs(net, x, y)
    n, m = net.width, x.size

    def level(t, u):
        W = u[: 2 * n].reshape(n, 2)
        Z = np.multiply.outer(x, W[:, 0]) + W[:, 1]
        r = (Z * Z * np.tanh(Z)) @ u[2 * n:] - y
        return 0.5 * (r @ r) / m - 0.7 * L0
    level.terminal = True
    level.direction = -1
    rhs(0.0, net.params())
    clock = time.perf_counter()
    s = solve_ivp(rhs, (0.0, 1e7), net.params(), method="LSODA", rtol=rtol, atol=atol,
                  events=level)
    return time.perf_counter() - clock, float(s.t_events[0][0]), s.y_events[0][0], s.nfev


def run(quick=False, rtol=1e-10, methods=None):
    net, x, y = problem(quick)
    T70, ref, L0 = reference(net, x, y)
    atol = 1e-12
    rows = {}

    def err(theta):
        return float(np.abs(theta - ref).max())

    secs, t_end, theta, nfev = lsoda_numpy(net, x, y, rtol, atol, L0)
    rows["scipy_lsoda_numpy"] = {"seconds": secs, "t_initial_stage": t_end,
                                 "max_param_diff_vs_reference": err(theta), "nfev": int(nfev)}
    for method in ("ERK853", "ERK45"):
        with warnings.catch_warnings():                  # compile / warm up on a short run
            warnings.simplefilter("ignore", RuntimeWarning)
            flow_initial_stage(net, x, y, method=method, t_max=T70 * 1e-3)
        best = np.inf
        for _ in range(3):
            clock = time.perf_counter()
            sol, stage = flow_initial_stage(net, x, y, method=method, rtol=rtol, atol=atol,
                                            progress=False)
            best = min(best, time.perf_counter() - clock)
        rows[f"flowlab_{method}"] = {"seconds": best, "t_initial_stage": stage.t_end,
                                     "max_param_diff_vs_reference":
                                     err(sol.theta_at(stage.t_end)),
                                     "nfev": int(sol.nfev), "nsteps": int(sol.nsteps)}
    flows = {k: v["seconds"] for k, v in rows.items() if k.startswith("flowlab_")}
    fastest = min(flows, key=flows.get)
    ratio = rows["scipy_lsoda_numpy"]["seconds"] / flows[fastest]

    t_eval = np.concatenate([[0.0], np.geomspace(T70 * 1e-6, T70, 199)])
    if methods is None:
        methods = (["ERK853", "LSODA"] if quick else
                   ["ERK853", "ERK45", "LSODA", "BDF", "Radau", "DOP853", "RK45"])
    by_method = {}
    for method in methods:
        fl.flow(net, x, y, T70 * 1e-3, loss="mean", method=method)   # compile / warm up
        clock = time.perf_counter()
        sol = fl.flow(net, x, y, T70, loss="mean", method=method, rtol=rtol, atol=atol,
                      t_eval=t_eval, progress=False)
        by_method[method] = {"seconds": time.perf_counter() - clock,
                             "max_param_diff_vs_reference": err(sol.theta[-1]),
                             "nfev": int(sol.nfev), "nsteps": int(sol.nsteps)}
    return {"benchmark": "condense_initial_stage", "quick": quick,
            "problem": {"activation": "x2tanh", "width": net.width, "m": x.size,
                        "std": 0.05 if quick else 0.005, "loss": "mean", "T70": T70,
                        "rtol": rtol, "atol": atol},
            "results": rows, "fastest_flowlab": fastest, "speedup_vs_scipy_lsoda": ratio,
            "target": TARGET, "met": bool(ratio >= TARGET),
            "flow_methods_to_T70": by_method}


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="width 20, std 0.05: a short stage")
    p.add_argument("--rtol", type=float, default=1e-10)
    args = p.parse_args()
    print(json.dumps(run(args.quick, args.rtol), indent=2))
