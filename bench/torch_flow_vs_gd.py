"""The bridge's gradient flow vs PyTorch gradient descent at the same accuracy.

Problem (issue 7): Yang, Zhao & Zhu's (2024) MLP (1), width 50, depth 4, tanh, PyTorch's
default initialisation (seed 0), fitting eq. (6) cos x + cos 2x + cos 30x on
1000 points of [-1, 1] with the loss L = 1/(2m) sum r^2 ("mean"), up to flow
time T.

Contenders, timed in the same run:

- **flow**: :func:`flowlab.torch.flow` with ``method="RKC"`` (stabilised explicit
  Runge-Kutta-Chebyshev, spectral radius from Hessian-vector products) at
  ``rtol`` (its own error against the reference is reported and must be well
  below the 1e-3 that gradient descent is held to);
- **gd**: a plain PyTorch loop theta <- theta - lr grad L (autograd, in-place
  update), with the largest step lr = T / k for which the iterates stay
  within 1e-3 of the flow: max over 10 check times t_i of
  |theta_gd(t_i / lr) - theta(t_i)| / |theta(t_i)| <= 1e-3.  lr is found from a
  calibration run (GD's deviation is proportional to lr) and then verified by
  the timed run itself.

The reference flow theta(t) is DOP853 at rtol 1e-9 (also timed, for context,
with scipy's RK45 at the flow's tolerance).  Prints JSON with the times, the
number of gradient evaluations, the errors and the ratio gd / flow (target
>= 5).  ``--quick``: width 20, depth 2, 300 points, T = 3 (a smoke run).

    python bench/torch_flow_vs_gd.py [--quick] [--T 100]
"""

import argparse
import json
import time

import numpy as np
import torch

import flowlab.torch as flt

TARGET = 5.0
TOL = 1e-3


def problem(quick):
    width, depth, m = (20, 2, 300) if quick else (50, 4, 1000)
    x = np.linspace(-1.0, 1.0, m)
    y = np.cos(x) + np.cos(2 * x) + np.cos(30 * x)
    net = flt.init_default(flt.mlp(1, width, depth, "tanh"), seed=0)
    return net, flt.MSELoss(x, y, "mean"), {"width": width, "depth": depth, "points": m,
                                            "parameters": sum(p.numel() for p in net.parameters())}


def gradient_descent(net, loss, lr, steps, record):
    """Plain PyTorch GD; returns (seconds, flat parameters at the iterations ``record``)."""
    model = flt.flat.module_to_float64(net)
    params = list(model.parameters())
    snaps = {}
    want = set(int(k) for k in record)
    clock = time.perf_counter()
    for k in range(steps + 1):
        if k in want:
            snaps[k] = torch.cat([p.detach().reshape(-1) for p in params]).numpy().copy()
        if k == steps:
            break
        grads = torch.autograd.grad(loss(model), params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p.add_(g, alpha=-lr)
    return time.perf_counter() - clock, np.array([snaps[int(k)] for k in record])


def deviation(thetas, ref):
    return float(np.max(np.linalg.norm(thetas - ref, axis=1) / np.linalg.norm(ref, axis=1)))


def timed_flow(net, loss, T, times, **kw):
    clock = time.perf_counter()
    sol = flt.flow(net, loss, T, **kw)
    return time.perf_counter() - clock, sol


def warm_up(net, loss):
    """First calls of double backward and of the flow import and compile lazily: do them untimed."""
    fm = flt.FlatModule(flt.flat.module_to_float64(net), loss)
    fm.hvp(fm.u0, fm.u0)
    flt.flow(net, loss, 1e-3, method="RKC", rtol=1e-3, atol=1e-5)
    gradient_descent(net, loss, 1e-3, 2, [0])


def run(quick=False, T=None):
    torch.set_num_threads(1)
    net, loss, size = problem(quick)
    warm_up(net, loss)
    T = (3.0 if quick else 100.0) if T is None else float(T)
    times = np.linspace(0.0, T, 11)[1:]
    t_ref, ref = timed_flow(net, loss, T, times, method="DOP853", rtol=1e-9, atol=1e-11)
    R = ref.theta_at(times)
    rtol = 1e-5
    t_flow, sol = timed_flow(net, loss, T, times, method="RKC", rtol=rtol, atol=rtol * 1e-2)
    t_rk45, rk45 = timed_flow(net, loss, T, times, method="RK45", rtol=rtol, atol=rtol * 1e-2)
    flow_err = deviation(sol.theta_at(times), R)
    # calibration: GD's deviation from the flow is proportional to lr
    lr0 = T / max(10, int(round(T / 0.02)))
    _, th0 = gradient_descent(net, loss, lr0, int(round(T / lr0)), np.round(times / lr0))
    e0 = deviation(th0, R)
    k = int(np.ceil(T / (lr0 * 0.9 * TOL / e0))) if e0 > TOL else int(round(T / lr0))
    for _ in range(4):
        lr = T / k
        t_gd, th = gradient_descent(net, loss, lr, k, np.round(times / lr))
        gd_err = deviation(th, R)
        if gd_err <= TOL:
            break
        k = int(np.ceil(k * 1.5))
    ratio = t_gd / t_flow
    return {
        "benchmark": "torch_flow_vs_gd", "quick": quick, "problem": {
            **size, "activation": "tanh", "target": "cos x + cos 2x + cos 30x (Yang, Zhao & Zhu "
                                                    "2024, (6))",
            "loss": "mean", "T": T, "loss_0": float(ref.loss[0]), "loss_T": float(ref.loss[-1])},
        "criterion": f"max_i |theta_gd - theta_flow| / |theta_flow| <= {TOL:g} at 10 times",
        "flow": {"method": "RKC", "rtol": rtol, "seconds": t_flow, "gradients": int(sol.nfev),
                 "lanczos_runs": int(sol.njev), "steps": int(sol.nsteps),
                 "max_rel_err_vs_reference": flow_err, "spectral_radius": sol.info.get("rho")},
        "gd": {"lr": lr, "steps": k, "seconds": t_gd, "gradients": k, "max_rel_dev": gd_err,
               "calibration": {"lr": lr0, "max_rel_dev": e0}},
        "rk45_same_rtol": {"seconds": t_rk45, "gradients": int(rk45.nfev),
                           "max_rel_err_vs_reference": deviation(rk45.theta_at(times), R)},
        "reference_dop853": {"rtol": 1e-9, "seconds": t_ref, "gradients": int(ref.nfev)},
        "ratio_gd_over_flow": ratio, "target": TARGET, "met": bool(ratio >= TARGET and
                                                                      gd_err <= TOL and
                                                                      flow_err <= 0.1 * TOL)}


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small network, short time (smoke run)")
    p.add_argument("--T", type=float, default=None, help="flow time (default 100; quick 3)")
    args = p.parse_args()
    print(json.dumps(run(args.quick, args.T), indent=2))
