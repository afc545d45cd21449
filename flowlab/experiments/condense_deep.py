"""``condense-deep``: condensation in every layer of a deep residual network (Zhou et al. 2022).

Zhou et al. 2022, Sec. 4.3 and Fig. 4: a six-layer network
(five hidden layers of width m = 18, d = 3, one output) with residual
connections h_{l+1} = sigma_l(W_l h_l + b_l) + h_l and the activations
x^2 tanh x, x tanh x, sigmoid, tanh, softplus on hidden layers 1-5 (multiplicity
p = 3, 2, 1, 1, 1), every parameter ~ N(0, 0.01^2), trained by full-batch Adam
(lr 4e-5) on the MSE (3) of n = 80 points of sum_k 4 sin(12 x_k + 1), x_k ~ U[-4, 2].
"Input weights condense at three, two, one, one and one lines for hidden layer
1 to hidden layer 5", shown at epochs 1000, 900, 900, 1400 and 1400.

flowlab builds the network with :func:`flowlab.torch.residual_net` (the first
layer maps R^3 to R^18 and has no shortcut), trains it with
:func:`flowlab.torch.train`, and counts the lines of each layer's input weights
(W_l | b_l) with :func:`flowlab.analysis.condensation.count_orientations`
applied to the layer seen as a two-layer network on its own inputs
(:func:`flowlab.torch.layer_orientations`: amplitude threshold 0.1, the
neurons of one line within ANGLE_TOL = 20 degrees of each other, i.e.
|D(u, v)| >= cos 20 deg = 0.94: one colour block of the paper's maps; the
counts at 10 degrees are reported as well).  As in flowlab's other
condensation reproductions (``_condense.LINE_SHARE``), the lines counted are
the fewest, largest first, that hold 90% of the carriers' amplitude; the count
of every line among the carriers is reported beside it.  The count of each layer is reported against
the paper's 3, 2, 1, 1, 1, at the paper's epochs; the multiplicity bound (at most p lines,
Zhou et al. 2022, Proposition 1) is checked as well.  The quick mode is the paper's run
itself (it is cheap); the full mode repeats it for 5 initialisations.
"""

from __future__ import annotations

import numpy as np

from ..plotting import figure
from ._condense import LINE_SHARE
from ._registry import register

ACTIVATIONS = ("x2tanh", "xtanh", "sigmoid", "tanh", "softplus")
MULTIPLICITY = (3, 2, 1, 1, 1)
PAPER_LINES = (3, 2, 1, 1, 1)
EPOCHS = (1000, 900, 900, 1400, 1400)
ANGLE_TOL = 20.0
WIDTH, D, N, VAR, LR = 18, 3, 80, 0.01 ** 2, 4e-5


def data(seed: int = 0):
    """80 points x ~ U[-4, 2]^3 and y = sum_k 4 sin(12 x_k + 1) (Zhou et al. 2022, Fig. 4)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-4.0, 2.0, (N, D))
    return x, np.sum(4.0 * np.sin(12.0 * x + 1.0), axis=1)


def train_once(init_seed: int, progress=False):
    """One training run; returns (result, module template, x)."""
    import flowlab.torch as flt
    x, y = data(0)
    net = flt.init_gaussian(flt.residual_net(D, WIDTH, ACTIVATIONS), var=VAR, seed=init_seed)
    rec = sorted(set(EPOCHS) | set(np.linspace(0, max(EPOCHS), 57).astype(int)))
    res = flt.train(net, flt.MSELoss(x, y, "mean"), optimizer="adam", lr=LR, steps=max(EPOCHS),
                    record_at=rec, record_params=True, progress=progress)
    return res, net, x


def layer_counts(res, net, x):
    """Lines and orientations of every hidden layer at the paper's epochs."""
    import flowlab.torch as flt
    from flowlab.torch._train import load_result_params
    out = []
    for layer, epoch in enumerate(EPOCHS):
        row = int(np.flatnonzero(res.iterations == epoch)[0])
        mod = load_result_params(net, res, row)
        orient = flt.layer_orientations(mod, x, angle_tol=ANGLE_TOL, share=LINE_SHARE)[layer]
        strict = flt.layer_orientations(mod, x, angle_tol=10.0, share=LINE_SHARE)[layer]
        out.append({"layer": layer + 1, "activation": ACTIVATIONS[layer], "epoch": epoch,
                    "lines": orient.n_lines, "orientations": orient.n_orientations,
                    "lines_all_carriers": orient.n_lines_all, "line_share": LINE_SHARE,
                    "lines_at_10_degrees": strict.n_lines,
                    "largest_spread_degrees": float(orient.spread.max()),
                    "carriers": int(orient.carriers.sum()),
                    "loss_ratio": float(res.loss[row] / res.loss[0]), "module": mod})
    return out


@register("condense-deep",
          "Fig. 4: condensation per layer of a six-layer residual network with a different "
          "activation per layer",
          papers=("Zhou et al. 2022",), torch_threads=1)
def run(report):
    counts = layer_counts(*train_once(0, report.progress))
    for c in counts:
        k = c["layer"] - 1
        report.check(f"hidden layer {c['layer']} ({c['activation']}, epoch {c['epoch']}): input "
                     "weights condense on the paper's number of lines (Zhou et al. 2022, Fig. 4: "
                     f"3, 2, 1, 1, 1; lines holding {LINE_SHARE:.0%} of the output, every "
                     "carrier's line beside)", c["lines"], PAPER_LINES[k], "==",
                     paper=PAPER_LINES[k], detail={"lines_all_carriers": c["lines_all_carriers"]})
        report.check(f"hidden layer {c['layer']}: at most p = {MULTIPLICITY[k]} lines and 2p "
                     "orientations (Zhou et al. 2022, Proposition 1): the excess of each over its "
                     "bound", {"lines": c["lines"] - MULTIPLICITY[k],
                               "orientations": c["orientations"] - 2 * MULTIPLICITY[k]}, 0, "<=",
                     paper=MULTIPLICITY[k],
                     detail={"lines": c["lines"], "orientations": c["orientations"]})
    report.check("the counts are taken in the initial stage: loss above 70% of its initial "
                 "value at every epoch shown (Zhou et al. 2022, Sec. 3): L / L(0) per epoch",
                 [c["loss_ratio"] for c in counts], 0.7, ">", paper=0.7)
    report.data["init_seed_0"] = [{k: v for k, v in c.items() if k != "module"} for c in counts]
    if not report.quick:
        others = [layer_counts(*train_once(s)) for s in range(1, 5)]
        table = [[c["lines"] for c in run] for run in [counts] + others]
        match = np.mean(np.array(table) == np.array(PAPER_LINES)[None, :], axis=0)
        report.data["lines_per_init_seed"] = table
        report.data["lines_all_carriers_per_init_seed"] = [
            [c["lines_all_carriers"] for c in run] for run in [counts] + others]
        report.check("over 5 initialisations, the share of runs in which each layer has the "
                     "paper's number of lines (every share)", match.round(2).tolist(), 0.6,
                     ">=")
    _figure(report, counts)


def _figure(report, counts):
    import flowlab.torch as flt
    fig, axes = figure(len(counts), width=3.0, height=3.0)
    for k, (c, ax) in enumerate(zip(counts, axes)):
        cmap = flt.layer_cosine_maps(c["module"], angle_tol=ANGLE_TOL)[c["layer"] - 1]
        cmap.plot(ax, colorbar=k == len(counts) - 1,
                  title=f"layer {c['layer']}: {c['activation']}, epoch {c['epoch']}\n"
                  f"{c['lines']} line(s) (paper: {PAPER_LINES[c['layer'] - 1]})")
        ax.title.set_fontsize(8)
    report.figure(fig, "condense_deep.png")
