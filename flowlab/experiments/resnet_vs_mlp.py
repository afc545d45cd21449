"""``resnet-vs-mlp``: epsilon-rank of every layer, ResNet vs MLP (Yang, Zhao & Zhu 2024, Ex. 4.4).

Yang, Zhao & Zhu 2024, Example 4.4: the fit of Ex. 2.1 (eq. (6))
with the one-layer residual block network (16), y_{k+1} = y_k + sigma(W_k y_k + b_k),
against the MLP (1) with the same number of parameters.  Fig. 9: "the
epsilon-rank of ResNet is initially higher and grows faster to full rank
compared to the MLP"; Fig. 10: "the residual block structure ensures greater
rank growth in the deeper neuron functions".

flowlab trains :func:`flowlab.torch.resnet` and :func:`flowlab.torch.mlp`
(L = 4 hidden layers of n = 50 tanh neurons; the first layer of the ResNet has
no shortcut since d = 1 != n, so both have the same 7,800 parameters) from
PyTorch's default initialisation (seed 0) with full-batch Adam (lr 1e-3,
10000 iterations) on 1000 equispaced points, recording every layer's
epsilon-rank (eps = 1e-6, Gauss-Legendre mass matrices (11)).  Loss "mean".
"Grows faster to full rank" is measured as the first iteration at which the
last layer reaches 80% of the width.  Quick mode: n = 25, 200 points,
1500 iterations at lr 3e-3.
"""

from __future__ import annotations

import numpy as np

from ..plotting import figure
from ._registry import register
from .staircase_fit import EPS, rank_loss_figure, target

FULL_SHARE = 0.8


def settings(quick: bool) -> dict:
    if quick:
        return {"m": 200, "lr": 3e-3, "steps": 1500, "records": 40, "width": 25, "depth": 4}
    return {"m": 1000, "lr": 1e-3, "steps": 10000, "records": 100, "width": 50, "depth": 4}


def train(arch: str, s: dict, progress=False):
    import flowlab.torch as flt
    from flowlab.analysis import gauss_legendre
    from flowlab.torch.staircase import rank_training
    x = np.linspace(-1.0, 1.0, s["m"])
    build = flt.resnet if arch == "resnet" else flt.mlp
    net = flt.init_default(build(1, s["width"], s["depth"], "tanh"), seed=0)
    quad = gauss_legendre(10, (-1.0, 1.0), cells=100 if s["m"] >= 1000 else 40)
    return rank_training(net, flt.MSELoss(x, target(x), "mean"), quad, steps=s["steps"],
                         lr=s["lr"], eps=EPS, records=s["records"], progress=progress)


def _first_reach(hist, level) -> float:
    hit = np.flatnonzero(hist.rank >= level)
    return float(hist.t[hit[0]]) if hit.size else float("inf")


@register("resnet-vs-mlp",
          "Ex. 4.4 (Figs. 9-10): eps-rank of every layer, ResNet (16) vs MLP (1)",
          papers=("Yang, Zhao & Zhu 2024",), torch_threads=1)
def run(report):
    s = settings(report.quick)
    report.data["settings"] = dict(s)
    runs = {arch: train(arch, s, report.progress) for arch in ("resnet", "mlp")}
    for arch, r in runs.items():
        report.data[arch] = r.summary()
    res, mlp = runs["resnet"], runs["mlp"]
    report.check("Fig. 9: the ResNet's last layer starts at a higher eps-rank than the MLP's: "
                 "the difference", int(res.last.rank[0]) - int(mlp.last.rank[0]), 0, ">",
                 detail={"resnet": int(res.last.rank[0]), "mlp": int(mlp.last.rank[0])})
    level = int(np.ceil(FULL_SHARE * s["width"]))
    tr, tm = _first_reach(res.last, level), _first_reach(mlp.last, level)
    report.check(f"Fig. 9: the ResNet grows faster to full rank: first iteration with last-layer "
                 f"eps-rank >= {level} (80% of n), the ResNet's minus the MLP's",
                 tr - tm, 0, "<",
                 detail={"resnet": tr, "mlp": tm})
    growth = {arch: [int(h.rank[-1] - h.rank[0]) for h in r.histories]
              for arch, r in runs.items()}
    deeper = growth["resnet"][1:], growth["mlp"][1:]
    report.check("Fig. 10: greater rank growth in the deeper layers of the ResNet: growth "
                 "(final - initial eps-rank) of every layer after the first at least the MLP's: "
                 "the differences", [a - b for a, b in zip(*deeper)], 0, ">=", detail=growth)
    mean = {arch: [float(np.mean(h.rank)) for h in r.histories] for arch, r in runs.items()}
    report.data["mean_rank_per_layer"] = mean
    lr_, lm = float(np.median(res.last.loss[-5:])), float(np.median(mlp.last.loss[-5:]))
    report.check("the ResNet ends at a lower loss than the MLP (Yang, Zhao & Zhu 2024, Sec. 4.3: "
                 "an "
                 "architecture with more independent features performs better): the ResNet's "
                 "loss over the MLP's", lr_ / lm, 1.0, "<", detail={"resnet": lr_, "mlp": lm})
    _figures(report, runs)


def _figures(report, runs):
    fig = rank_loss_figure(runs, "loss 1/(2m) sum r^2", ("Fig. 9: ResNet vs MLP", ""))
    report.figure(fig, "resnet_vs_mlp_fig9.png")
    fig, axes = figure(2, width=5.0)
    for a, (arch, r) in zip(axes, runs.items()):
        for k, h in enumerate(r.histories):
            a.plot(h.t, h.rank, ".", ms=3, label=f"layer {k + 1}")
        a.set_xlabel("iteration (Adam)")
        a.set_ylabel("eps-rank")
        a.set_title(f"Fig. 10: every layer, {arch}", fontsize=9)
        a.legend(fontsize=7)
    report.figure(fig, "resnet_vs_mlp_fig10.png")
