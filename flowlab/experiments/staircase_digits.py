"""``staircase-digits``: the staircase in handwriting recognition (Yang, Zhao & Zhu 2024, Ex. 2.2).

Yang, Zhao & Zhu 2024, Example 2.2: MNIST (28 x 28 images,
d = 784) with the cross-entropy loss; "to address errors caused by
high-dimensional numerical integration, we introduce an intermediate hidden
layer with 10 neurons, using the neurons in this layer as sampling points for
integration"; Fig. 5 shows the staircase of the epsilon-rank.

**Stand-in for MNIST.**  flowlab runs without downloads, so it uses the 8 x 8
handwritten digits that ship inside scikit-learn (``sklearn.datasets.load_digits``:
1797 images, d = 64, 10 classes, pixel values scaled to [0, 1]).  It is a
smaller problem of the same kind; numbers are not comparable with MNIST's.

Network: x (64) -> the intermediate layer z = tanh(A x + a) with 10 neurons ->
the MLP (1) on z (L = 2 hidden layers of n = 50 tanh neurons) -> 10 logits
(with bias).  The neuron functions phi_j of the last hidden layer are
functions of z; their mass matrix is integrated by Monte Carlo over the
sampling points z_i = z(x_i) of the training images (weights 1/N), which is
how flowlab reads the paper's sentence.  Full-batch Adam (lr 1e-3, 3000
iterations), PyTorch's default initialisation (seed 0), eps = 1e-6; the
training accuracy is reported.  Quick mode: 400 images, 400 iterations at lr 3e-3.
"""

from __future__ import annotations

import numpy as np

from ..plotting import figure, twin_legend
from ._registry import register

EPS = 1e-6
BOTTLENECK, WIDTH, DEPTH = 10, 50, 2


def settings(quick: bool) -> dict:
    if quick:
        return {"images": 400, "lr": 3e-3, "steps": 400, "records": 40}
    return {"images": None, "lr": 1e-3, "steps": 3000, "records": 150}


def digits(images=None):
    """The scikit-learn 8 x 8 digits, pixels scaled to [0, 1]: (X (N, 64), labels (N,))."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise ImportError("staircase-digits uses the digits data set bundled with scikit-learn: "
                          "pip install scikit-learn") from exc
    data = load_digits()
    X, y = data.data / 16.0, data.target.astype(np.int64)
    return (X, y) if images is None else (X[:images], y[:images])


def network():
    """The intermediate 10-neuron layer followed by the MLP (1), as one module."""
    import torch

    import flowlab.torch as flt

    class DigitsNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.intermediate = torch.nn.Linear(64, BOTTLENECK, dtype=torch.float64)
            self.body = flt.DeepNet(BOTTLENECK, WIDTH, DEPTH, "tanh", out=10, output_bias=True)

        def sampling_points(self, x):
            """z(x): the values of the intermediate layer (the integration points)."""
            return torch.tanh(self.intermediate(x))

        def hidden_outputs(self, x):
            return self.body.hidden_outputs(self.sampling_points(x))

        def forward(self, x):
            return self.body(self.sampling_points(x))

    return flt.init_default(DigitsNet(), seed=0)


@register("staircase-digits",
          "Ex. 2.2 (Fig. 5): eps-rank staircase in handwriting recognition (scikit-learn's "
          "8x8 digits standing in for MNIST)",
          papers=("Yang, Zhao & Zhu 2024",), torch_threads=1)
def run(report):
    import flowlab.torch as flt
    from flowlab.analysis import Quadrature
    from flowlab.torch.staircase import rank_training

    from .staircase_fit import distinct_steps
    s = settings(report.quick)
    X, y = digits(s["images"])
    loss = flt.CrossEntropyLoss(X, y)
    quad = Quadrature(X, np.full(X.shape[0], 1.0 / X.shape[0]), "monte_carlo",
                      tuple((0.0, 1.0) for _ in range(X.shape[1])))
    run_ = rank_training(network(), loss, quad, steps=s["steps"], lr=s["lr"], eps=EPS,
                         records=s["records"], progress=report.progress)
    acc = loss.accuracy(run_.result.net)
    h = run_.last
    report.data.update(settings=dict(s, data="sklearn digits 8x8 (stand-in for MNIST)",
                                     n_images=int(X.shape[0])),
                       run=run_.summary(), train_accuracy=acc)
    ups, al = distinct_steps(run_)
    report.check("the eps-rank of the last hidden layer rises in distinct steps (Yang, Zhao & Zhu "
                 "2024, "
                 "Fig. 5): number of rising steps of height >= 3", len(ups), 2, ">=",
                 detail=[(st.rank_before, st.rank_after) for st in ups.steps])
    report.check("each step comes with a fast drop of the cross-entropy (-dlogL/dt on the "
                 "riser >= 2 x the median on the treads): aligned, step by step",
                 [bool(a) for a in al.aligned], True, "==",
                 detail=(al.rates / al.plateau_rate).round(2).tolist() if len(ups) else [])
    report.check("the rank grows: final minus initial eps-rank", int(h.rank[-1] - h.rank[0]),
                 0, ">", detail={"rank": [int(h.rank[0]), int(h.rank[-1])]})
    report.check("the loss falls while the rank grows: final over initial cross-entropy",
                 float(h.loss[-1] / h.loss[0]), 0.2, "<",
                 detail={"loss": [h.loss[0], h.loss[-1]]})
    report.check("the network learns the digits: training accuracy", acc, 0.9, ">")
    _figure(report, run_)


def _figure(report, run_):
    fig, ax = figure(1, width=5.2)
    ax = ax[0]
    h = run_.last
    ax.semilogy(h.t, h.loss, "k-", lw=1, label="cross-entropy (left axis)")
    ax.set_xlabel("iteration (Adam)")
    ax.set_ylabel("cross-entropy")
    ax2 = ax.twinx()
    for k, hk in enumerate(run_.histories):
        ax2.plot(hk.t, hk.rank, ".", ms=3,
                 label=f"eps-rank, hidden layer {k + 1} on z (right axis)")
    ax2.set_ylabel(f"eps-rank (eps = {EPS:g})")
    twin_legend(ax, ax2, fontsize=7, loc="center right")
    ax.set_title("Fig. 5 stand-in: 8x8 digits, 10-neuron sampling layer", fontsize=9)
    report.figure(fig, "staircase_digits.png")
