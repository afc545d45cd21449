"""Compiling flowlab's numba kernels: the one-time notice, ``flowlab warmup``, the costs.

numba compiles a kernel the first time it is called with a new signature and keeps
the machine code in its on-disk cache, so the first run after an installation (or
after a kernel's source changed) spends most of its time compiling, and later runs
load the cached code in milliseconds.  This module

- prints one line when the first flowlab kernel of a process is being compiled
  (:func:`install_notice`, called when flowlab is imported), so that a first run is
  not silent: ``compiling flowlab's kernels, once per install: ~N s``;
- compiles every kernel ahead (:func:`warmup`, ``flowlab warmup``) by running each
  public path on a tiny problem, with a progress line per path;
- measures what each kernel costs to compile (:class:`CompileTimer`, ``flowlab
  warmup --table FILE``): numba's "numba:compile" events fire only for a real
  compilation (a cache hit is silent), nested when a kernel compiles the kernels it
  calls; each kernel is charged its own time, its callees' time subtracted.

The estimate N of the notice comes from :data:`ESTIMATE_S`, measured with
``flowlab warmup --table`` from an empty cache on the 2-core development machine
(the numbers in docs/compile_times.md); re-measure after changing the kernels.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import sys
import threading
import time
from dataclasses import dataclass, field

__all__ = ["install_notice", "compile_task", "warmup", "TASKS", "CompileTimer", "ESTIMATE_S"]

#: seconds to compile each task's kernels alone from an empty cache (``NUMBA_CACHE_DIR=
#: <empty folder> flowlab warmup --task NAME`` on the shared 2-core development machine,
#: docs/compile_times.md): the estimate a first run announces
ESTIMATE_S = {"exact-1d": 70.0, "exact-nd": 100.0, "smooth": 10.0, "compiled-erk": 15.0,
              "descent": 30.0, "gram": 1.0}

_TASK: contextvars.ContextVar = contextvars.ContextVar("flowlab_compile_task", default=None)
_LOCK = threading.Lock()
_STATE = {"installed": False, "announced": False, "quiet": False}


@contextlib.contextmanager
def compile_task(name: str):
    """Within the block, a first compilation is announced with task ``name``'s estimate."""
    token = _TASK.set(name)
    try:
        yield
    finally:
        _TASK.reset(token)


def _estimate() -> float:
    task = _TASK.get()
    if task in ESTIMATE_S:
        return ESTIMATE_S[task]
    return max(ESTIMATE_S.values())


def _is_flowlab(dispatcher) -> bool:
    mod = getattr(getattr(dispatcher, "py_func", None), "__module__", "") or ""
    return mod.startswith("flowlab.")


def _announce(stream=None) -> None:
    from ._config import NUMBA_CACHE
    stream = sys.stderr if stream is None else stream
    how = ("once per install" if NUMBA_CACHE else
           "every run, since numba's cache is off (FLOWLAB_NUMBA_CACHE=0)")
    print(f"flowlab: compiling flowlab's kernels, {how}: ~{_estimate():.0f} s "
          "(`flowlab warmup` compiles all of them ahead)", file=stream, flush=True)


class _Notice:
    """numba event listener: the first compilation of a flowlab kernel prints the notice."""

    def on_start(self, event):
        if _STATE["announced"] or _STATE["quiet"]:
            return
        if _is_flowlab(event.data.get("dispatcher")):
            with _LOCK:
                if not _STATE["announced"]:
                    _STATE["announced"] = True
                    _announce()

    def on_end(self, event):
        pass


def install_notice() -> None:
    """Register the one-time notice with numba (idempotent; called on ``import flowlab``)."""
    if _STATE["installed"]:
        return
    from numba.core import event as ev

    class Listener(ev.Listener, _Notice):
        on_start = _Notice.on_start
        on_end = _Notice.on_end

    ev.register("numba:compile", Listener())
    _STATE["installed"] = True


@dataclass
class CompileTimer:
    """Collects numba's compile events of flowlab kernels: self time per kernel."""

    seconds: dict = field(default_factory=dict)      # "module.function" -> seconds
    signatures: dict = field(default_factory=dict)   # "module.function" -> count
    _stack: list = field(default_factory=list)

    def on_start(self, event):
        self._stack.append([time.perf_counter(), 0.0])

    def on_end(self, event):
        start, children = self._stack.pop()
        spent = time.perf_counter() - start
        if self._stack:
            self._stack[-1][1] += spent
        disp = event.data.get("dispatcher")
        if not _is_flowlab(disp):
            return
        f = disp.py_func
        key = f"{f.__module__}.{f.__qualname__}"
        self.seconds[key] = self.seconds.get(key, 0.0) + spent - children
        self.signatures[key] = self.signatures.get(key, 0) + 1

    @contextlib.contextmanager
    def recording(self):
        from numba.core import event as ev
        outer = self

        class Listener(ev.Listener):
            def on_start(self, event):
                outer.on_start(event)

            def on_end(self, event):
                outer.on_end(event)

        listener = Listener()
        ev.register("numba:compile", listener)
        try:
            yield self
        finally:
            ev.unregister("numba:compile", listener)


# -- the warmup tasks: each public path on a tiny problem ------------------------------
def _exact_1d():
    import numpy as np
    import flowlab as fl
    x = np.linspace(-1, 1, 12)
    y = np.sin(np.pi * x)
    for net in (fl.init.he(4, seed=0), fl.init.he(4, seed=0, train_w=True),
                fl.init.he(4, seed=0, model="twolayer")):
        for loss in ("sum", "mean"):
            sol = fl.flow(net, x if not isinstance(net, fl.TwoLayer) else x[:, None], y, 2.0,
                          loss=loss, progress=False)
            sol.net_at(1.0)
            sol.dissipation()


def _exact_nd():
    import numpy as np
    import flowlab as fl
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (12, 2))
    net = fl.TwoLayer(rng.normal(size=(4, 3)), rng.normal(size=4), "relu")
    fl.flow(net, X, np.sin(X.sum(1)), 0.5, progress=False).net_at(0.25)


def _smooth():
    import numpy as np
    import flowlab as fl
    x = np.linspace(-1, 1, 10)
    for act in fl.activations.activation_names():
        if act == "relu":
            continue
        net = fl.init.xavier(3, 1, activation=act, seed=0)
        fl.flow(net, x, np.sin(x), 0.1, method="Radau", progress=False).net_at(0.05)
    net = fl.init.xavier(3, 1, activation="tanh", seed=0)
    for method in ("RK45", "DOP853", "BDF", "LSODA"):
        fl.flow(net, x, np.sin(x), 0.1, method=method, progress=False)


def _compiled_erk():
    import numpy as np
    import flowlab as fl
    x = np.linspace(-1, 1, 10)
    net = fl.init.small_gaussian(3, 1, 1e-4, activation="tanh", seed=0)
    for method in ("ERK853", "ERK45"):
        fl.flow(net, x, np.sin(x), 0.1, method=method, progress=False).net_at(0.05)


def _descent():
    import numpy as np
    import flowlab as fl
    x = np.linspace(-1, 1, 10)
    for net in (fl.init.he(3, seed=0), fl.init.he(3, seed=0, train_w=True),
                fl.init.xavier(3, 1, activation="tanh", seed=0)):
        xx = x[:, None] if isinstance(net, fl.TwoLayer) else x
        fl.train.gd(net, xx, np.sin(x), lr=1e-3, steps=3, progress=False)
        fl.train.adam(net, xx, np.sin(x), lr=1e-3, steps=3, progress=False)


def _gram():
    import numpy as np
    from flowlab.analysis import gram
    gram.relu_gram_1d(np.linspace(-0.9, 0.9, 6))


#: (name, what it compiles, function), in the order ``flowlab warmup`` runs them
TASKS = (("exact-1d", "exact flow of ReLU1D and 1-d relu networks", _exact_1d),
         ("exact-nd", "exact flow of relu networks in d > 1", _exact_nd),
         ("smooth", "scipy methods with the exact Hessian, every activation", _smooth),
         ("compiled-erk", "compiled ERK853 and ERK45", _compiled_erk),
         ("descent", "gradient descent and Adam", _descent),
         ("gram", "exact ReLU Gram matrices", _gram))


def warmup(stream=None, tasks=None, timer: CompileTimer | None = None) -> list[dict]:
    """Compile every kernel ahead by running each task of :data:`TASKS` on a tiny problem.

    Prints one line per task to ``stream`` (default stderr) and returns, per task, its
    name, wall time and the number of kernel signatures it compiled (0 when the cache
    already held them).  ``timer`` collects the per-kernel compile times.
    """
    stream = sys.stderr if stream is None else stream
    chosen = [t for t in TASKS if tasks is None or t[0] in tasks]
    if tasks is not None:
        unknown = set(tasks) - {t[0] for t in TASKS}
        if unknown:
            raise ValueError(f"unknown warmup task(s) {sorted(unknown)}; the tasks are "
                             f"{', '.join(t[0] for t in TASKS)}.")
    timer = timer or CompileTimer()
    rows = []
    quiet, _STATE["quiet"] = _STATE["quiet"], True
    try:
        with timer.recording():
            for k, (name, what, func) in enumerate(chosen, 1):
                before = sum(timer.signatures.values())
                clock = time.perf_counter()
                print(f"[{k}/{len(chosen)}] {name}: {what} ...", file=stream, flush=True)
                with compile_task(name):
                    func()
                row = {"task": name, "what": what, "seconds": time.perf_counter() - clock,
                       "compiled": sum(timer.signatures.values()) - before}
                rows.append(row)
                print(f"      {row['seconds']:.1f} s, {row['compiled']} kernel signatures "
                      f"compiled{'' if row['compiled'] else ' (all cached)'}", file=stream,
                      flush=True)
    finally:
        _STATE["quiet"] = quiet
    return rows


def table_markdown(rows: list[dict], timer: CompileTimer) -> str:
    """The compile-cost tables (per task, per kernel) as markdown."""
    import platform
    import numba
    total = sum(r["seconds"] for r in rows)
    out = [f"Measured by `flowlab warmup --table` from an empty numba cache "
           f"(`NUMBA_CACHE_DIR` pointing at an empty folder); numba {numba.__version__}, "
           f"Python {platform.python_version()}, {os.cpu_count()} CPUs.", "",
           "| task | what it compiles | seconds | kernel signatures |", "| --- | --- | --- | --- |"]
    out += [f"| {r['task']} | {r['what']} | {r['seconds']:.1f} | {r['compiled']} |" for r in rows]
    out += [f"| all | | {total:.1f} | {sum(r['compiled'] for r in rows)} |", "",
            "| kernel | signatures | seconds (own) |", "| --- | --- | --- |"]
    for key, sec in sorted(timer.seconds.items(), key=lambda kv: -kv[1]):
        out.append(f"| `{key.removeprefix('flowlab.')}` | {timer.signatures[key]} | {sec:.2f} |")
    return "\n".join(out) + "\n"
