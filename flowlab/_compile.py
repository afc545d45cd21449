"""Compiling flowlab's numba kernels: the one-time notice, ``flowlab warmup``, the costs.

numba compiles a kernel the first time it is called with a new signature and keeps
the machine code in its on-disk cache, so the first run after an installation (or
after a kernel's source changed) spends most of its time compiling, and later runs
load the cached code in milliseconds.  This module

- prints one line when the first flowlab kernel of a process is being compiled
  (:func:`install_notice`, called when flowlab is imported), so that a first run is
  not silent: ``compiling flowlab's kernels, once per install: ~N s``;
- names the task whose kernels a block compiles (:func:`compile_task`), for the
  estimate of the notice; ``flowlab warmup`` (:mod:`flowlab._warmup`) compiles every
  task ahead;
- reads a numba cache index that no longer unpickles as an empty index
  (:func:`tolerate_stale_cache`): an index written by an older flowlab can name a
  named-tuple class that a newer one renamed, and numba would raise instead of compiling
  again;
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
import pickle
import sys
import threading
import time
from dataclasses import dataclass, field

from . import _prefetch
from ._prefetch import _is_flowlab

__all__ = ["install_notice", "tolerate_stale_cache", "compile_task", "compile_next",
           "next_tasks", "quiet", "CompileTimer", "ESTIMATE_S"]

#: seconds to compile each task's kernels from an empty cache, with the second process of
#: :mod:`flowlab._prefetch` (``NUMBA_CACHE_DIR=<empty folder> flowlab warmup`` on the
#: 2-core development machine, docs/compile_times.md): the estimate a first run announces
ESTIMATE_S = {"exact-1d": 30.0, "exact-nd": 45.0, "smooth": 5.0, "compiled-erk": 6.0,
              "descent": 6.0, "gram": 1.0}

_TASK: contextvars.ContextVar = contextvars.ContextVar("flowlab_compile_task", default=None)
_NEXT: contextvars.ContextVar = contextvars.ContextVar("flowlab_compile_next", default=())
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


@contextlib.contextmanager
def compile_next(*names: str):
    """Within the block, the run declares the tasks whose kernels it compiles (in this
    order): the second process of a cold first run (:mod:`flowlab._prefetch`) compiles
    their plans after the first task's."""
    token = _NEXT.set(tuple(names))
    try:
        yield
    finally:
        _NEXT.reset(token)


def next_tasks() -> tuple:
    """The tasks declared by :func:`compile_next` around the current call."""
    return _NEXT.get()


@contextlib.contextmanager
def quiet():
    """Within the block, no notice is printed (``flowlab warmup`` prints its own lines)."""
    before, _STATE["quiet"] = _STATE["quiet"], True
    try:
        yield
    finally:
        _STATE["quiet"] = before


def _estimate() -> float:
    task = _TASK.get()
    if task in ESTIMATE_S:
        return ESTIMATE_S[task]
    return max(ESTIMATE_S.values())


def _announce(stream=None) -> None:
    from ._config import NUMBA_CACHE
    stream = sys.stderr if stream is None else stream
    how = ("once per install" if NUMBA_CACHE else
           "every run, since numba's cache is off (FLOWLAB_NUMBA_CACHE=0)")
    print(f"flowlab: compiling flowlab's kernels, {how}: ~{_estimate():.0f} s "
          "(`flowlab warmup` compiles all of them ahead)", file=stream, flush=True)


class _Notice:
    """numba event listener: the first compilation of a flowlab kernel prints the notice
    and starts the helper of :mod:`flowlab._prefetch`; every compilation of a flowlab
    kernel is reported to it (the run's compile stack, which the helper reads)."""

    def on_start(self, event):
        if not _is_flowlab(event.data.get("dispatcher")):
            return
        _prefetch.start(_TASK.get(), next_tasks())   # once per task and process
        _prefetch.note_compile(event.data["dispatcher"], event.data["args"], True)
        if not (_STATE["announced"] or _STATE["quiet"]):
            with _LOCK:
                if not _STATE["announced"]:
                    _STATE["announced"] = True
                    _announce()

    def on_end(self, event):
        if _is_flowlab(event.data.get("dispatcher")):
            _prefetch.note_compile(event.data["dispatcher"], event.data["args"], False)


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


#: what unpickling a cache index written by another version of flowlab can raise
_STALE_INDEX_ERRORS = (AttributeError, ImportError, pickle.UnpicklingError, EOFError,
                       TypeError, ValueError)


def tolerate_stale_cache() -> None:
    """Treat a numba cache index that does not unpickle as empty (idempotent; called on
    ``import flowlab``).

    numba checks an index's numba version and its source file's time stamp, but only
    after unpickling it, and the index of an unchanged module can name a named-tuple class
    (a stage model) of another module that a later flowlab renamed: unpickling then raises
    and the kernel cannot be loaded or compiled.  With this guard the kernel is compiled
    again and its index rewritten, as for any stale cache.
    """
    from numba.core import caching
    cls = caching.IndexDataCacheFile
    if getattr(cls._load_index, "_flowlab_guard", False):
        return
    load = cls._load_index

    def _load_index(self):
        try:
            return load(self)
        except _STALE_INDEX_ERRORS:
            return {}

    _load_index._flowlab_guard = True
    cls._load_index = _load_index


@dataclass
class CompileTimer:
    """Collects numba's compile events of flowlab kernels: self time per kernel, and the
    compile plan of what it saw (:mod:`flowlab._prefetch`).

    ``plan`` lists every flowlab signature compiled, in the order numba finished them, as
    ``(module, qualname, args, own_seconds, deps)``; ``deps`` are the indices of the
    recorded kernels it calls (compiled then or before), known when recording with
    ``calls=True``.
    """

    seconds: dict = field(default_factory=dict)      # "module.function" -> seconds
    signatures: dict = field(default_factory=dict)   # "module.function" -> count
    plan: list = field(default_factory=list)
    _stack: list = field(default_factory=list)       # [start, children's time, calls]
    _index: dict = field(default_factory=dict)       # (id(dispatcher), args) -> plan index

    def on_start(self, event):
        self._stack.append([time.perf_counter(), 0.0, set()])

    def on_end(self, event):
        start, children, calls = self._stack.pop()
        spent = time.perf_counter() - start
        if self._stack:
            self._stack[-1][1] += spent
        disp = event.data.get("dispatcher")
        if not _is_flowlab(disp):
            if self._stack:                # numba's own overloads: their calls are the caller's
                self._stack[-1][2].update(calls)
            return
        f = disp.py_func
        key = f"{f.__module__}.{f.__qualname__}"
        self.seconds[key] = self.seconds.get(key, 0.0) + spent - children
        self.signatures[key] = self.signatures.get(key, 0) + 1
        args = tuple(event.data["args"])
        deps = sorted({self._index[c] for c in calls if c in self._index})
        self._index[(id(disp), args)] = len(self.plan)
        self.plan.append((f.__module__, f.__qualname__, args, round(spent - children, 3),
                          tuple(deps)))

    @contextlib.contextmanager
    def recording(self, calls: bool = False):
        """Within the block, collect compile events; with ``calls``, also which kernels
        each compiled kernel calls (every call numba types inside it)."""
        from numba.core import event as ev
        from numba.core.registry import CPUDispatcher
        outer = self

        class Listener(ev.Listener):
            def on_start(self, event):
                outer.on_start(event)

            def on_end(self, event):
                outer.on_end(event)

        resolve = CPUDispatcher.get_call_template
        own = "get_call_template" in CPUDispatcher.__dict__

        def get_call_template(disp, args, kws):   # a call typed inside the kernel on top
            out = resolve(disp, args, kws)
            if outer._stack:
                outer._stack[-1][2].add((id(disp), tuple(out[2])))
            return out

        listener = Listener()
        ev.register("numba:compile", listener)
        if calls:
            CPUDispatcher.get_call_template = get_call_template
        try:
            yield self
        finally:
            if calls:
                if own:
                    CPUDispatcher.get_call_template = resolve
                else:
                    del CPUDispatcher.get_call_template
            ev.unregister("numba:compile", listener)
