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


def twin_legend(ax, twin, **kwargs):
    """One legend for a panel and its ``twinx`` (the labelled artists of both)."""
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = twin.get_legend_handles_labels()
    return twin.legend(h1 + h2, l1 + l2, **kwargs)


def tidy_log_ticks(fig) -> None:
    """Log axes: minor tick labels only where fewer than two decades are labelled, and
    then only at 2 and 5 (matplotlib otherwise labels every minor tick of a short log
    axis, and the labels overlap)."""
    from matplotlib.ticker import LogFormatterSciNotation, LogLocator, NullFormatter
    for ax in fig.axes:
        for axis, lim in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            if axis.get_scale() != "log" or min(lim) <= 0:
                continue
            lo, hi = np.log10(min(lim)), np.log10(max(lim))
            decades = np.floor(hi) - np.ceil(lo) + 1
            if decades >= 2:
                axis.set_minor_formatter(NullFormatter())
            else:
                axis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
                axis.set_minor_formatter(LogFormatterSciNotation(labelOnlyBase=False,
                                                                 minor_thresholds=(10, 10)))


def figure_problems(fig) -> list[str]:
    """What keeps a figure from being read: panels without axis labels, empty panels,
    log axes that reach the subnormal range.

    Every visible panel with data must label both axes (a colorbar its long axis);
    panels switched off (``ax.axis("off")``) are skipped.  Returns one line per
    problem, naming the panel by its title or position; ``[]`` when there is none.
    """
    out = []
    for k, ax in enumerate(fig.axes):
        if not ax.get_visible() or not ax.axison:
            continue
        name = f"panel {k + 1} ({ax.get_title() or 'untitled'})"
        cbar = getattr(ax, "_colorbar", None)
        if cbar is not None:
            long_axis = ax.yaxis if cbar.orientation == "vertical" else ax.xaxis
            if not long_axis.get_label_text().strip():
                out.append(f"{name}: colorbar without a label")
            continue
        if not (ax.lines or ax.collections or ax.images or ax.patches or ax.texts):
            out.append(f"{name}: empty panel (remove it or switch it off)")
            continue
        for axis, which in ((ax.xaxis, "x"), (ax.yaxis, "y")):
            if not axis.get_label_text().strip() and not _twin_labelled(ax, which):
                out.append(f"{name}: no {which} label")
            if axis.get_scale() == "log":
                lo = min(ax.get_xlim() if which == "x" else ax.get_ylim())
                if lo < 1e-200:
                    out.append(f"{name}: log {which} axis reaches {lo:.0e}; clip the data to "
                               "the range that carries information")
    return out


def _twin_labelled(ax, which: str) -> bool:
    """A twin (``twinx``/``twiny``) shares this axis with a panel at the same place that
    labels it."""
    shared = ax.get_shared_x_axes() if which == "x" else ax.get_shared_y_axes()
    box = ax.get_position().bounds
    for other in shared.get_siblings(ax):
        if other is not ax and np.allclose(other.get_position().bounds, box):
            axis = other.xaxis if which == "x" else other.yaxis
            if axis.get_label_text().strip():
                return True
    return False


def positive(values) -> np.ndarray:
    """Values with non-positive entries masked (for log axes)."""
    v = np.asarray(values, dtype=float)
    return np.where(v > 0, v, np.nan)
