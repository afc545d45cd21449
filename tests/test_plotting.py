"""Figures are readable: flowlab.plotting.figure_problems and its use in Report.figure.

The test suite runs with FLOWLAB_STRICT_FIGURES=1 (tests/conftest.py), so every
quick reproduction the suite runs fails if one of its figures has a panel without
axis labels, an empty panel, a colorbar without a label or a log axis down to the
subnormal range; the last test makes sure every registered reproduction is among
those runs.
"""

import re
from pathlib import Path

import numpy as np
import pytest

from flowlab.experiments import Report, names
from flowlab.plotting import figure, figure_problems, tidy_log_ticks, twin_legend

ROOT = Path(__file__).resolve().parents[1]


def _labelled(ax):
    ax.plot([1, 2], [3, 4])
    ax.set_xlabel("t")
    ax.set_ylabel("L")


def test_a_labelled_figure_has_no_problem():
    fig, ax = figure(2)
    _labelled(ax[0])
    im = ax[1].imshow(np.eye(3))
    ax[1].set_xlabel("neuron")
    ax[1].set_ylabel("neuron")
    fig.colorbar(im, ax=ax[1], label="D(u, v)")
    twin = ax[0].twinx()
    twin.plot([1, 2], [1, 0], label="rank")
    twin.set_ylabel("rank")
    twin_legend(ax[0], twin)
    assert figure_problems(fig) == []


def test_problems_are_named():
    fig, ax = figure(4)
    ax[0].plot([1, 2], [3, 4])
    ax[0].set_title("loss")
    _labelled(ax[1])
    im = ax[1].imshow(np.eye(2))
    fig.colorbar(im, ax=ax[1])
    ax[3].axis("off")                                  # switched off: not a problem
    _labelled(ax[2])
    ax[2].set_yscale("log")
    ax[2].plot([1, 2], [1e-310, 1.0])
    found = figure_problems(fig)
    assert "panel 1 (loss): no x label" in found and "panel 1 (loss): no y label" in found
    assert any("colorbar without a label" in p for p in found)
    assert any("log y axis reaches" in p for p in found)
    assert not any(p.startswith("panel 4") for p in found)
    fig, ax = figure(1)
    assert figure_problems(fig) == ["panel 1 (untitled): empty panel (remove it or switch it "
                                    "off)"]


def test_short_log_axes_get_readable_minor_labels():
    fig, ax = figure(2)
    ax[0].loglog([25, 200], [1, 10])
    ax[1].loglog([1, 1e6], [1, 10])
    tidy_log_ticks(fig)
    fig.canvas.draw()
    short = [t.get_text() for t in ax[0].xaxis.get_minorticklabels() if t.get_text()]
    assert 0 < len(short) <= 4                         # only at 2 and 5 per decade
    assert not [t.get_text() for t in ax[1].xaxis.get_minorticklabels() if t.get_text()]


def test_report_figure_strict_and_lenient(tmp_path, monkeypatch):
    report = Report(name="t", out=tmp_path, quick=True)
    fig, ax = figure(1)
    ax[0].plot([1, 2], [3, 4])
    with pytest.raises(ValueError, match="t: figure bad.png: panel 1 .*no x label"):
        report.figure(fig, "bad.png")
    assert not (tmp_path / "bad.png").exists()
    monkeypatch.setenv("FLOWLAB_STRICT_FIGURES", "0")
    fig, ax = figure(1)
    ax[0].plot([1, 2], [3, 4])
    with pytest.warns(UserWarning, match="no y label"):
        report.figure(fig, "kept.png")
    assert (tmp_path / "kept.png").stat().st_size > 0
    assert report.summary()["figure_problems"] and report.figures == ["kept.png"]


def test_every_reproduction_is_run_by_the_default_suite():
    sources = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("test_*.py")
                        if p.name not in {"test_plotting.py", "test_references.py"})
    for name in names():
        assert re.search(rf"[\"']{re.escape(name)}[\"']", sources), name
