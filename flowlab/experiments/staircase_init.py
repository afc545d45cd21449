"""``staircase-init``: deterministic vs default initialisation (Yang, Zhao & Zhu 2024, Ex. 4.1).

Yang, Zhao & Zhu 2024, Example 4.1: the same fit of eq. (6) as
Ex. 2.1, with the first layer initialised by (12), w_j = n/2, b_j = n/2 - j,
i.e. tanh(n/2 (x - x_j)) with x_j uniform on [-1, 1] (13), against the default
initialisation.  Fig. 6: "once the neuron functions exhibit sufficient linear
independence, the loss function will be rapidly optimized"; the deterministic
run reaches a loss of about 1e-5 where the default one stays near 1e-4, "even a
shallow and narrow network performs better than a deeper and wider network".

flowlab trains the MLP (1) with :func:`flowlab.torch.init_deterministic`
(first layer (12), the others PyTorch's default rule, seed 0) and with
:func:`flowlab.torch.init_default` (seed 0), same architecture, same data
(m = 1000 equispaced points), same optimiser (full-batch Adam, lr 1e-3) and
the same number of iterations, recording the last layer's epsilon-rank
(eps = 1e-6, Gauss-Legendre mass matrix, Yang, Zhao & Zhu 2024, (11)).  Loss "mean",
L = 1/(2m) sum r^2.  Full mode: L = 2, n = 25 for both (10000 iterations),
and the paper's cross comparison, the shallow narrow deterministic network
against a deep wide (L = 4, n = 50) default one.  Quick mode: L = 2, n = 25 on
200 points, 1500 iterations at lr 3e-3.
"""

from __future__ import annotations

import numpy as np

from ._registry import register
from .staircase_fit import EPS, rank_loss_figure, target


def settings(quick: bool) -> dict:
    if quick:
        return {"m": 200, "lr": 3e-3, "steps": 1500, "records": 40, "cross": False}
    return {"m": 1000, "lr": 1e-3, "steps": 10000, "records": 100, "cross": True}


def train(init: str, depth: int, width: int, s: dict, progress=False):
    import flowlab.torch as flt
    from flowlab.analysis import gauss_legendre
    from flowlab.torch.staircase import rank_training
    x = np.linspace(-1.0, 1.0, s["m"])
    net = flt.mlp(1, width, depth, "tanh")
    net = (flt.init_deterministic(net, seed=0) if init == "deterministic"
           else flt.init_default(net, seed=0))
    quad = gauss_legendre(10, (-1.0, 1.0), cells=100 if s["m"] >= 1000 else 40)
    return rank_training(net, flt.MSELoss(x, target(x), "mean"), quad, steps=s["steps"],
                         lr=s["lr"], eps=EPS, records=s["records"], progress=progress)


def _tail_loss(run) -> float:
    """The loss at the end of the budget: the median of the last 5 records (Adam's loss
    spikes for a few iterations now and then)."""
    return float(np.median(run.last.loss[-5:]))


@register("staircase-init",
          "Ex. 4.1 (Fig. 6): deterministic vs default initialisation, eps-rank and loss",
          papers=("Yang, Zhao & Zhu 2024",), torch_threads=1)
def run(report):
    s = settings(report.quick)
    report.data["settings"] = dict(s)
    runs = {name: train(name, 2, 25, s, report.progress) for name in ("deterministic", "default")}
    for name, r in runs.items():
        report.data[name] = r.summary()
    det, dft = runs["deterministic"].last, runs["default"].last
    report.check("the deterministic initialisation (12) starts at a higher eps-rank of the last "
                 "hidden layer than the default one (Yang, Zhao & Zhu 2024, Fig. 6 left): the "
                 "difference", int(det.rank[0]) - int(dft.rank[0]), 0, ">",
                 detail={"deterministic": int(det.rank[0]), "default": int(dft.rank[0])})
    ld, lf = _tail_loss(runs["deterministic"]), _tail_loss(runs["default"])
    report.check("within the same budget the deterministic initialisation reaches a loss at "
                 "least 10x lower than the default one (Yang, Zhao & Zhu 2024, Fig. 6: 1e-5 vs "
                 "1e-4): the default's loss over the deterministic one's", lf / ld, 10.0, ">=",
                 paper={"deterministic": 1e-5, "default": 1e-4},
                 detail={"deterministic": ld, "default": lf})
    first = {k: int(np.argmax(r.last.rank >= 0.9 * r.last.rank.max())) for k, r in runs.items()}
    reach = {k: float(runs[k].last.t[i]) for k, i in first.items()}
    report.check("the deterministic network reaches 90% of its largest eps-rank first: its "
                 "time minus the default one's", reach["deterministic"] - reach["default"], 0.0,
                 "<", detail=reach)
    if s["cross"]:
        runs["default, L = 4, n = 50"] = wide = train("default", 4, 50, s)
        report.data["default_L4_n50"] = wide.summary()
        lw = _tail_loss(wide)
        report.check("even the shallow narrow deterministic network (L = 2, n = 25) ends below "
                     "the deep wide default one (L = 4, n = 50) (Yang, Zhao & Zhu 2024, "
                     "Ex. 4.1): the loss ratio", ld / lw, 1.0, "<",
                     detail={"deterministic L=2 n=25": ld, "default L=4 n=50": lw})
    _figure(report, runs)


def _figure(report, runs):
    fig = rank_loss_figure(runs, "loss 1/(2m) sum r^2", ("Fig. 6 (left): linear independence",
                                                         "Fig. 6 (right): loss"))
    report.figure(fig, "staircase_init.png")
