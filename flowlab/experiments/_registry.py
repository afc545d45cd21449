"""Registry of named reproductions and the report they fill.

A reproduction is a function ``run(report)`` registered under a name with
:func:`register`.  It computes, saves figures through ``report.figure`` and
states each claim it checks through ``report.check``; :func:`run` writes
``summary.json`` with at least ``{"name", "quick", "checks"}``, each check
``{"what", "seed", "measured", "holds"}``.  A check that fails stays in the
summary with ``"holds": false``: the summary reports, it never hides.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .. import io as _io
from .._interrupt import propagating
from .._version import __version__

__all__ = ["Report", "register", "run", "names", "describe"]


@dataclass
class _Entry:
    name: str
    func: Callable
    title: str
    seeds: tuple


_REGISTRY: dict[str, _Entry] = {}


def _with_torch_threads(func, n):
    @functools.wraps(func)
    def run(report):
        from flowlab.torch import torch_threads
        with torch_threads(n):
            return func(report)
    return run


def register(name: str, title: str, seeds=(), torch_threads=None):
    """Decorator registering ``func(report)`` as the reproduction ``name``.

    ``torch_threads``: run it with PyTorch limited to this many threads (the
    seeds' small networks run faster, and reproducibly, on one thread); torch is
    imported only when the reproduction runs.
    """
    def deco(func):
        if name in _REGISTRY:
            raise ValueError(f"reproduction {name!r} is registered twice.")
        run = func if torch_threads is None else _with_torch_threads(func, torch_threads)
        _REGISTRY[name] = _Entry(name, run, title, tuple(seeds))
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
    """``(name, title, seeds)`` of every reproduction."""
    _discover()
    return [(e.name, e.title, e.seeds) for e in sorted(_REGISTRY.values(), key=lambda e: e.name)]


@dataclass
class Report:
    """What a reproduction records: checks, figures, data, files."""

    name: str
    out: Path
    quick: bool
    progress: bool = False
    checks: list = field(default_factory=list)
    figures: list = field(default_factory=list)
    data: dict = field(default_factory=dict)

    def check(self, what: str, seed, measured, holds) -> bool:
        """Record one claim: ``what`` cites the seed's figure/equation, ``seed`` is the
        seed's value (or None), ``measured`` flowlab's, ``holds`` the verdict."""
        holds = bool(holds)
        self.checks.append({"what": what, "seed": _plain(seed), "measured": _plain(measured),
                            "holds": holds})
        return holds

    def figure(self, fig, filename: str) -> Path:
        """Save a matplotlib figure as PNG in the output folder and close it."""
        import matplotlib.pyplot as plt
        path = self.out / filename
        fig.savefig(path, dpi=120, bbox_inches="tight")
        plt.close(fig)
        self.figures.append(filename)
        return path

    def path(self, filename: str) -> Path:
        """A path in the output folder (for solution files and other results)."""
        return self.out / filename

    def summary(self) -> dict:
        return {"name": self.name, "quick": self.quick, "flowlab": __version__,
                "checks": self.checks, "all_hold": all(c["holds"] for c in self.checks),
                "figures": self.figures, "data": _plain(self.data)}


def _plain(obj):
    """JSON-ready copy: numpy scalars/arrays to Python, tuples to lists."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return str(obj)
    return obj


def run(name: str, out=None, quick: bool = False, progress: bool = False) -> dict:
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
    try:
        with propagating():            # an interrupted flow stops the whole reproduction
            entry.func(report)
    except BaseException as exc:
        summary = report.summary()
        # an unfinished reproduction never claims that all its checks hold
        summary["all_hold"] = False
        summary["interrupted"] = isinstance(exc, KeyboardInterrupt)
        summary["error"] = ("interrupted (KeyboardInterrupt) before the reproduction finished"
                            if isinstance(exc, KeyboardInterrupt) else
                            "".join(traceback.format_exception_only(type(exc), exc)).strip())
        summary["wall_time_s"] = time.perf_counter() - clock
        _io.write_json(out / "summary.json", summary)
        raise
    summary = report.summary()
    summary["interrupted"] = False
    summary["title"] = entry.title
    summary["seeds"] = list(entry.seeds)
    summary["wall_time_s"] = time.perf_counter() - clock
    _io.write_json(out / "summary.json", summary)
    return summary
