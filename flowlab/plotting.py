"""Small plotting helpers shared by the reproductions (matplotlib, Agg backend)."""

from __future__ import annotations

import numpy as np


def figure(ncols: int = 1, nrows: int = 1, width: float = 4.2, height: float = 3.4):
    """A figure with a grid of axes (always a 2-d array of axes is returned flat)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows),
                             squeeze=False, layout="constrained")
    return fig, axes.ravel()


def loss_axes(ax, xlabel: str = "t (gradient-flow time)", loss_kind: str = "sum"):
    """Label a loss plot with the loss convention."""
    conv = "1/2 sum r_i^2" if loss_kind == "sum" else "1/(2m) sum r_i^2"
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"loss  L = {conv}")
    ax.grid(True, which="both", alpha=0.3)


def positive(values) -> np.ndarray:
    """Values with non-positive entries masked (for log axes)."""
    v = np.asarray(values, dtype=float)
    return np.where(v > 0, v, np.nan)
