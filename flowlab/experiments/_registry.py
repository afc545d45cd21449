"""Registry of named reproductions and the report they fill.

A reproduction is a function ``run(report)`` registered under a name with
:func:`register`.  It computes, saves figures through ``report.figure`` and
states each claim it checks through ``report.check``; :func:`run` writes
``summary.json`` with at least ``{"name", "quick", "papers", "checks",
"all_hold"}``, each check ``{"what", "paper", "measured", "threshold", "op",
"holds"}`` (``paper`` null when the paper gives no value; ``holds`` computed from
``measured op threshold`` by :meth:`Report.check`, never passed in) plus ``"detail"``
(context, not compared) and ``"finding"`` when the check tests a
claim of the paper that flowlab's computation contradicts (see
``flowlab/experiments/_findings.py`` and docs/findings.md).  ``all_hold`` covers
the checks that are not findings.  A check that fails stays in the summary with
``"holds": false``: the summary reports, it never hides.
"""

from __future__ import annotations

import functools
import importlib
import os
import pkgutil
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .. import _progress
from .. import io as _io
from .. import references as _references
from .._compile import ESTIMATE_S, compile_next
from .._interrupt import propagating
from .._version import __version__
from . import _criteria
from ._findings import finding as _finding

__all__ = ["Report", "register", "run", "names", "describe"]


@dataclass
class _Entry:
    name: str
    func: Callable
    title: str
    papers: tuple
    compiles: tuple = ()


_REGISTRY: dict[str, _Entry] = {}


def _with_torch_threads(func, n):
    @functools.wraps(func)
    def run(report):
        from flowlab.torch import torch_threads
        with torch_threads(n):
            return func(report)
    return run


def register(name: str, title: str, papers=(), torch_threads=None, compiles=()):
    """Decorator registering ``func(report)`` as the reproduction ``name``.

    ``papers``: keys of :data:`flowlab.references.PAPERS` (e.g. ``"Ainsworth &
    Shin 2021"``), the papers whose figures or tables it reproduces.
    ``torch_threads``: run it with PyTorch limited to this many threads (the
    papers' small networks run faster, and reproducibly, on one thread); torch is
    imported only when the reproduction runs.
    ``compiles``: the warmup tasks (:data:`flowlab._warmup.TASKS`) whose kernels it
    compiles, in order; on a cold cache a second process compiles them alongside
    (:mod:`flowlab._prefetch`).
    """
    papers = tuple(papers)
    unknown = set(compiles) - set(ESTIMATE_S)
    if unknown:
        raise ValueError(f"unknown compile task(s) {sorted(unknown)} for {name!r}; the tasks "
                         f"are {', '.join(ESTIMATE_S)}.")
    for key in papers:
        _references.paper(key)          # a ValueError names the known keys

    def deco(func):
        if name in _REGISTRY:
            raise ValueError(f"reproduction {name!r} is registered twice.")
        run = func if torch_threads is None else _with_torch_threads(func, torch_threads)
        _REGISTRY[name] = _Entry(name, run, title, papers, tuple(compiles))
        return run
    return deco


def _discover() -> None:
    pkg = importlib.import_module(__package__)
    for info in pkgutil.iter_modules(pkg.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__package__}.{info.name}")


def names() -> list[str]:
    """Registered reproduction names, sorted."""
    _discover()
    return sorted(_REGISTRY)


def describe() -> list[tuple[str, str, tuple]]:
    """``(name, title, papers)`` of every reproduction, ``papers`` as citation keys."""
    _discover()
    return [(e.name, e.title, e.papers) for e in sorted(_REGISTRY.values(), key=lambda e: e.name)]


@dataclass
class Report:
    """What a reproduction records: checks, figures, data, files."""

    name: str
    out: Path
    quick: bool
    progress: bool | None = None
    checks: list = field(default_factory=list)
    figures: list = field(default_factory=list)
    data: dict = field(default_factory=dict)
    figure_problems: list = field(default_factory=list)

    def check(self, what: str, measured, threshold, op: str, paper=None, *,
              finding: str | None = None, detail=None) -> bool:
        """Record one claim, with the criterion that decides it: ``measured op threshold``.

        Parameters
        ----------
        what : str
            The claim, citing the paper's figure, equation or section.  The criterion
            is recorded beside it (``threshold``, ``op``), so the sentence need not
            repeat it; where it does, it must state the threshold applied (in quick
            mode too).
        measured : number, str, bool, list or dict (nested) of these, or None
            flowlab's value.  A list or dict holds when every entry does (see
            :mod:`flowlab.experiments._criteria`); None and NaN never hold.
        threshold : number, [low, high] for ``op="in"``, str or bool for ``"=="``
            and ``"!="``, None for ``"increasing"``
            The value the claim is tested against.
        op : {">=", "<=", ">", "<", "==", "!=", "in", "increasing"}
            The comparison.
        paper : number, list or dict of numbers, or None
            The paper's own value; None when the paper gives no number.
        finding : str, optional
            Key of :data:`flowlab.experiments._findings.FINDINGS`: the claim is one that
            flowlab's computation has been shown to contradict.  When the check does not
            hold it is reported as a finding, with that evidence, instead of a failure.
        detail : JSON-able, optional
            Context recorded with the check and not compared (counts, the values a
            ratio was formed from).

        Returns
        -------
        bool
            ``holds``: the verdict of ``measured op threshold``, computed here.

        Examples
        --------
        >>> import tempfile
        >>> r = Report(name="example", out=tempfile.mkdtemp(), quick=True)
        >>> r.check("the loss never increases (largest step-to-step change)", -1e-9, 0.0, "<=")
        True
        >>> r.checks[0]["threshold"], r.checks[0]["op"], r.checks[0]["holds"]
        (0.0, '<=', True)
        """
        if not isinstance(what, str) or not what.strip():
            raise TypeError("`what` must be a non-empty string stating the claim.")
        _criteria.check_criterion(threshold, op)
        if not _is_value(paper):
            raise TypeError(f"`paper` must be the paper's number (or a list/dict of numbers) "
                            f"or None, got {paper!r}; the criterion goes in `threshold` and "
                            "`op`.")
        verdict = _criteria.holds(measured, threshold, op)
        entry = {"what": what, "paper": _plain(paper), "measured": _plain(measured),
                 "threshold": _plain(threshold), "op": op, "holds": verdict}
        if detail is not None:
            entry["detail"] = _plain(detail)
        if finding is not None:
            f = _finding(finding)
            if not verdict:
                entry["finding"] = f.text()
        self.checks.append(entry)
        return verdict

    def figure(self, fig, filename: str) -> Path:
        """Save a matplotlib figure as PNG in the output folder and close it.

        The figure is checked first (:func:`flowlab.plotting.figure_problems`: every
        panel labels its axes, no empty panels, no log axis down to the subnormal
        range).  A problem is a warning recorded in the summary under
        ``"figure_problems"``; with ``FLOWLAB_STRICT_FIGURES=1`` (the test suite) it is
        a ValueError.
        """
        import matplotlib.pyplot as plt
        from ..plotting import figure_problems, tidy_log_ticks
        tidy_log_ticks(fig)
        problems = figure_problems(fig)
        if problems:
            msg = f"{self.name}: figure {filename}: " + "; ".join(problems)
            if os.environ.get("FLOWLAB_STRICT_FIGURES", "0") == "1":
                plt.close(fig)
                raise ValueError(msg)
            warnings.warn(msg, stacklevel=2)
            self.figure_problems.append(msg)
        path = self.out / filename
        fig.savefig(path, dpi=120, bbox_inches="tight")
        plt.close(fig)
        self.figures.append(filename)
        return path

    def path(self, filename: str) -> Path:
        """A path in the output folder (for solution files and other results)."""
        return self.out / filename

    def summary(self) -> dict:
        """The JSON-ready summary (without the entries :func:`run` adds)."""
        failures = [c for c in self.checks if not c["holds"] and "finding" not in c]
        return {"name": self.name, "quick": self.quick, "flowlab": __version__,
                "checks": self.checks, "all_hold": not failures,
                "n_failures": len(failures),
                "n_findings": sum("finding" in c for c in self.checks),
                "figures": self.figures, **({"figure_problems": self.figure_problems}
                                            if self.figure_problems else {}),
                "data": _plain(self.data)}


def _is_value(obj) -> bool:
    """None, a real number, or a list/tuple/dict of such (nested)."""
    if obj is None or isinstance(obj, (bool, np.bool_)):
        return obj is None
    if isinstance(obj, (int, float, np.integer, np.floating)):
        return True
    if isinstance(obj, dict):
        return all(_is_value(v) for v in obj.values())
    if isinstance(obj, (list, tuple, np.ndarray)):
        return all(_is_value(v) for v in (obj.tolist() if isinstance(obj, np.ndarray) else obj))
    return False


def _plain(obj):
    """JSON-ready copy: numpy scalars/arrays to Python, tuples to lists, a value that is
    not finite to its name ("nan", "inf")."""
    return _io.to_plain(obj, str)


def run(name: str, out=None, quick: bool = False, progress: bool | None = None) -> dict:
    """Run the reproduction ``name``, write its figures and ``summary.json`` in ``out``.

    Returns the summary.  If the reproduction raises, the summary records the
    error (and the checks made so far) with ``"all_hold": false`` before the
    exception propagates; Ctrl-C inside any of its flows stops the whole
    reproduction (the flow saves what it has, then ``KeyboardInterrupt``
    propagates) and the summary is marked ``"interrupted": true``.
    """
    _discover()
    if name not in _REGISTRY:
        raise ValueError(f"unknown reproduction {name!r}; `flowlab reproduce --list` shows "
                         f"the {len(_REGISTRY)} available: {', '.join(sorted(_REGISTRY))}.")
    entry = _REGISTRY[name]
    out = Path(out if out is not None else Path("results") / name)
    out.mkdir(parents=True, exist_ok=True)
    import matplotlib
    matplotlib.use("Agg")
    report = Report(name=name, out=out, quick=bool(quick), progress=progress)
    clock = time.perf_counter()

    def finish(**extra):
        summary = report.summary()
        summary.update(title=entry.title, papers=[_references.cite(k) for k in entry.papers],
                       paper_keys=list(entry.papers), **extra,
                       wall_time_s=time.perf_counter() - clock)
        _io.write_json(out / "summary.json", summary)
        return summary

    def status():
        last = report.checks[-1]["what"] if report.checks else None
        return {"checks": len(report.checks),
                "last": None if last is None else (last[:60] + ("..." if len(last) > 60 else ""))}

    try:
        # an interrupted flow stops the whole reproduction
        with propagating(), _progress.heartbeat(progress, f"reproduce {name}", status), \
                compile_next(*entry.compiles):
            entry.func(report)
    except BaseException as exc:
        interrupted = isinstance(exc, KeyboardInterrupt)
        # an unfinished reproduction never claims that all its checks hold
        finish(all_hold=False, interrupted=interrupted,
               error=("interrupted (KeyboardInterrupt) before the reproduction finished"
                      if interrupted else
                      "".join(traceback.format_exception_only(type(exc), exc)).strip()))
        raise
    return finish(interrupted=False)
