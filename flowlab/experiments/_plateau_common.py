"""Shared pieces of the plateau reproductions (Ainsworth & Shin 2021): data, runs, plots."""

from __future__ import annotations

import numpy as np

from ..plotting import positive

#: gradient descent's learning rate in Ainsworth & Shin's (2021) experiments
LR = 1e-3


def epochs(sol, t=None):
    """Gradient-descent epochs at lr 1e-3 on the *mean* squared loss matching flow time t.

    Ainsworth & Shin 2021 plot gradient descent on the mean loss (Fig. 1's caption); a flow of
    the sum loss at time t is the flow of the mean loss at time m t, so the
    epochs are m t / lr for ``loss="sum"`` and t / lr for ``loss="mean"``.
    """
    t = sol.t if t is None else np.asarray(t, dtype=float)
    factor = sol.x.shape[0] if sol.loss_kind == "sum" else 1.0
    return t * factor / LR


EPOCHS = "epochs (GD on the mean loss, lr 1e-3)"
MEAN_LOSS = "loss 1/(2m) sum r_i^2"


def mean_loss(sol, loss=None):
    """The loss in the mean convention (what Ainsworth & Shin 2021 plot)."""
    loss = sol.loss if loss is None else np.asarray(loss, dtype=float)
    return loss / sol.x.shape[0] if sol.loss_kind == "sum" else loss


def trajectories(ax_b, ax_c, sol, times, x=None):
    """Bias and coefficient trajectories against epochs (Ainsworth & Shin 2021, Figs. 4 and 8)."""
    TH = sol.theta_at(times)
    n = sol.net0.width
    ep = epochs(sol, times)
    for j in range(n):
        ax_b.semilogx(ep, TH[:, j], lw=1)
        ax_c.semilogx(ep, TH[:, n + j], lw=1)
    if x is not None:
        for xi in np.unique(x):
            ax_b.axhline(xi, color="k", ls="--", lw=0.5, alpha=0.5)
    ax_b.set_xlabel(EPOCHS)
    ax_b.set_ylabel("biases b_j")
    ax_c.set_xlabel(EPOCHS)
    ax_c.set_ylabel("coefficients c_j")


def loss_with_stages(ax, sol):
    """Mean loss against epochs on log axes, with the stage changes marked."""
    t = sol.t
    keep = t > 0
    ax.loglog(epochs(sol)[keep], positive(mean_loss(sol)[keep]), lw=1.2)
    for s in epochs(sol, np.asarray(sol.stages.start)[1:]):
        ax.axvline(s, color="0.8", lw=0.5, zorder=0)
    ax.set_xlabel(EPOCHS)
    ax.set_ylabel(MEAN_LOSS)
    ax.grid(True, which="both", alpha=0.2)


def log_times(sol, points: int = 300) -> np.ndarray:
    """Log-spaced times in (0, t_final], plus 0."""
    t1 = sol.t[1] if sol.t.size > 1 else sol.t_final
    return np.concatenate([[0.0], np.logspace(np.log10(t1), np.log10(sol.t_final), points)])
