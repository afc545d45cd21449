"""``staircase-pinn``: PINN for Poisson's equation, UDI vs Xavier (Yang, Zhao & Zhu 2024, Ex. 4.2).

Yang, Zhao & Zhu 2024, Example 4.2: -Delta u = f on
Omega = [-pi/2, pi/2]^2, u = 0 on the boundary, f = 8 sin 2x sin 2y (solution
u = sin 2x sin 2y), loss (14) ||Delta u + f||^2_{L2(Omega)} + ||u||^2_{L2(dOmega)};
the first layer initialised by the uniform density initialisation (UDI) (15),
sigma(gamma (a_j . x + r_j)), a_j uniform on the unit circle, r_j uniform on a
bounded positive interval, against "default Xavier initialization".  Fig. 7:
the PINN also shows the staircase, and UDI, which starts at a high
epsilon-rank, "can significantly accelerate the training process".

flowlab: the MLP (1) with L = 2 hidden layers of n = 50 tanh neurons, the loss
:class:`flowlab.torch.PoissonLoss` (the two integrals as means over a
32 x 32 grid of cell midpoints and 4 x 32 boundary points), full-batch Adam
(lr 1e-3, 5000 iterations).  UDI: :func:`flowlab.torch.init_uniform_density`
with radius sqrt(2) pi/2 (the domain's circumradius) and gamma = 2 (the paper
leaves gamma open), the other layers PyTorch's default rule; "Xavier":
:func:`flowlab.torch.init_xavier` (Glorot's uniform weights, zero biases, as
PINN codes use it).  epsilon-rank of the last hidden layer: eps =
1e-6, mass matrix (11) by a 40 x 40 Gauss-Legendre rule on Omega.  The L2
error against the exact solution is reported too.  Quick mode: n = 20, a
12 x 12 grid, 400 iterations at lr 3e-3.
"""

from __future__ import annotations

import numpy as np

from ._registry import register
from .staircase_fit import EPS, distinct_steps, rank_loss_figure

HALF = np.pi / 2
GAMMA = 2.0


def settings(quick: bool) -> dict:
    if quick:
        return {"grid": 12, "width": 20, "depth": 2, "lr": 3e-3, "steps": 400, "records": 30,
                "gauss": 16}
    return {"grid": 32, "width": 50, "depth": 2, "lr": 1e-3, "steps": 5000, "records": 100,
            "gauss": 40}


def exact(X):
    """u(x, y) = sin 2x sin 2y, the solution of Ex. 4.2."""
    return np.sin(2 * X[:, 0]) * np.sin(2 * X[:, 1])


def problem(grid: int):
    """Interior grid (cell midpoints), boundary points and the loss (14)."""
    import flowlab.torch as flt
    from flowlab.torch.pinn import square_boundary
    s = -HALF + 2 * HALF * (np.arange(grid) + 0.5) / grid
    X = np.array(np.meshgrid(s, s, indexing="ij")).reshape(2, -1).T
    f = 8.0 * np.sin(2 * X[:, 0]) * np.sin(2 * X[:, 1])
    return flt.PoissonLoss(X, f, square_boundary(-HALF, HALF, grid))


def train(init: str, s: dict, progress=False):
    import flowlab.torch as flt
    from flowlab.analysis import gauss_legendre
    from flowlab.torch.staircase import rank_training
    net = flt.mlp(2, s["width"], s["depth"], "tanh")
    if init == "udi":
        net = flt.init_uniform_density(net, radius=np.sqrt(2) * HALF, gamma=GAMMA, seed=0)
    else:
        net = flt.init_xavier(net, seed=0)
    quad = gauss_legendre(s["gauss"], [(-HALF, HALF), (-HALF, HALF)])
    run = rank_training(net, problem(s["grid"]), quad, steps=s["steps"], lr=s["lr"], eps=EPS,
                        records=s["records"], progress=progress)
    model = run.result.net
    import torch
    with torch.no_grad():
        u = model(torch.as_tensor(quad.points)).numpy()[:, 0]
    err = np.sqrt(quad.integrate((u - exact(quad.points)) ** 2) / quad.integrate(
        exact(quad.points) ** 2))
    return run, float(err)


@register("staircase-pinn",
          "Ex. 4.2 (Fig. 7): PINN for Poisson's equation, UDI vs default initialisation",
          papers=("Yang, Zhao & Zhu 2024",), torch_threads=1)
def run(report):
    s = settings(report.quick)
    report.data["settings"] = dict(s, gamma=GAMMA)
    runs, errs = {}, {}
    for init in ("udi", "xavier"):
        runs[init], errs[init] = train(init, s, report.progress)
        report.data[init] = dict(runs[init].summary(), relative_l2_error=errs[init])
    u, x = runs["udi"].last, runs["xavier"].last
    report.check("UDI (15) starts at a higher eps-rank of the last hidden layer than the default "
                 "initialisation (Yang, Zhao & Zhu 2024, Fig. 7 left): the difference",
                 int(u.rank[0]) - int(x.rank[0]), 0, ">",
                 detail={"udi": int(u.rank[0]), "xavier": int(x.rank[0])})
    lu, lx = float(np.median(u.loss[-5:])), float(np.median(x.loss[-5:]))
    report.check("UDI accelerates training: lower loss (14) than the default initialisation at "
                 "the end of the same budget (Yang, Zhao & Zhu 2024, Fig. 7 right): the loss "
                 "ratio UDI / default", lu / lx, 1.0, "<", detail={"udi": lu, "xavier": lx})
    report.check("UDI gives the smaller relative L2 error against u = sin 2x sin 2y: the "
                 "ratio UDI / default", errs["udi"] / errs["xavier"], 1.0, "<", detail=errs)
    ups, _ = distinct_steps(runs["xavier"])
    report.check("the default-initialised PINN shows the staircase: at least 2 distinct rising "
                 "steps of the eps-rank (Yang, Zhao & Zhu 2024, Fig. 7): their number",
                 len(ups), 2, ">=", detail=[(st.rank_before, st.rank_after) for st in ups.steps])
    _figure(report, runs)


def _figure(report, runs):
    fig = rank_loss_figure(runs, "PINN loss (14)", ("Fig. 7 (left)", "Fig. 7 (right)"))
    report.figure(fig, "staircase_pinn.png")
