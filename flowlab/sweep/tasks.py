"""Task functions: what a sweep computes at each point.

A task is a function ``f(point) -> dict`` of a point's specification (a dict)
returning scalars (numbers, booleans, strings) and small numeric arrays.  It
must be a pure function of its point: a sweep may run it again after a worker
is lost, and resumes by the point's hash.  Register one by name with
:func:`register_task`, or name it in a sweep file as ``"module:function"``
(importable on the workers) or ``"file.py:function"`` (a file beside the
study; shipped to the workers by value).

Built-in tasks: ``flow`` (one ``flowlab flow`` study per point) and
``phase-diagram`` (Luo et al. 2021; :mod:`flowlab.experiments.phase_diagram`).
"""

from __future__ import annotations

import importlib
import importlib.util
import numbers
import os
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

__all__ = ["Task", "register_task", "get_task", "task_names", "RESERVED", "MAX_ARRAY_SIZE"]

#: names the results use for their own bookkeeping; a task may return "status"
RESERVED = ("error", "attempts", "wall_s", "point_hash", "worker")
#: largest array a task may return (entries)
MAX_ARRAY_SIZE = 100_000

_BUILTIN = {"flow": "flowlab.sweep.flowtask",
            "phase-diagram": "flowlab.experiments.phase_diagram"}


@dataclass(frozen=True)
class Task:
    """A function run at each point of a sweep.

    Attributes
    ----------
    name : str
        The registered name (or the reference it was loaded from).
    func : callable
        ``func(point) -> dict``; with ``solution=True`` also ``func(point, save=path)``.
    params : dict or None
        Parameter names and defaults; None accepts any parameters.
    dims : dict
        Names of the array dimensions of outputs, ``{"loss": ("t",)}``; other
        arrays get ``<output>_dim<k>``.
    coords : callable or None
        ``coords(spec) -> {dim: values}``: coordinates of those dimensions.
    solution : bool
        The function can save its point's :class:`~flowlab.Solution` (``--keep-solutions``).
    ident : str
        What identifies the task in a point's hash.
    cost : callable or None
        ``cost(point) -> float``: a rough relative cost; the costliest points are
        submitted first, which shortens the sweep's tail.
    """

    name: str
    func: Callable
    params: dict | None = None
    dims: dict = field(default_factory=dict)
    coords: Callable | None = None
    solution: bool = False
    ident: str = ""
    cost: Callable | None = None


_REGISTRY: dict[str, Task] = {}


def register_task(name: str, *, params: dict | None = None, dims: dict | None = None,
                  coords: Callable | None = None, solution: bool = False,
                  cost: Callable | None = None):
    """Decorator registering ``func(point) -> dict`` as the sweep task ``name``.

    Parameters
    ----------
    name : str
        The name a sweep file gives in ``[task] name``.
    params : dict, optional
        Parameter names with their defaults.  A sweep file may then set and sweep
        only these, with values of the default's type; a point receives all of
        them.  Without ``params`` any parameters are passed through.
    dims : dict, optional
        Dimension names of array outputs, e.g. ``{"curve": ("step",)}``.
    coords, solution, cost
        See :class:`Task`.

    Examples
    --------
    >>> from flowlab.sweep import register_task
    >>> @register_task("square-doc-example", params={"x": 0.0})
    ... def square(point):
    ...     return {"y": point["x"] ** 2}
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"`name` must be a non-empty string, got {name!r}.")
    if params is not None and not isinstance(params, dict):
        raise TypeError(f"`params` must be a dict of parameter defaults, got "
                        f"{type(params).__name__}.")

    def deco(func):
        if not callable(func):
            raise TypeError(f"register_task({name!r}) decorates a function, got {func!r}.")
        old = _REGISTRY.get(name)
        if old is not None and _qualified(old.func) != _qualified(func):
            raise ValueError(f"sweep task {name!r} is registered twice "
                             f"({_qualified(old.func)} and {_qualified(func)}).")
        _REGISTRY[name] = Task(name, func, None if params is None else dict(params),
                               dict(dims or {}), coords, bool(solution), name, cost)
        return func
    return deco


def _qualified(func) -> str:
    return f"{getattr(func, '__module__', '?')}:{getattr(func, '__qualname__', repr(func))}"


def _load_builtins() -> None:
    for module in _BUILTIN.values():
        importlib.import_module(module)


def task_names() -> list[str]:
    """Names of the registered tasks, sorted."""
    _load_builtins()
    return sorted(_REGISTRY)


def get_task(ref, *, base=None) -> Task:
    """The task ``ref`` names: a registered name, ``"module:function"``,
    ``"file.py:function"`` (relative to ``base``), a :class:`Task` or a function."""
    if isinstance(ref, Task):
        return ref
    if callable(ref):
        for task in _REGISTRY.values():
            if task.func is ref:
                return task
        return Task(_qualified(ref), ref, ident=_qualified(ref))
    if not isinstance(ref, str) or not ref:
        raise TypeError(f"a task is a registered name, 'module:function' or "
                        f"'file.py:function', got {ref!r}.")
    if ref in _BUILTIN:
        importlib.import_module(_BUILTIN[ref])
    if ref in _REGISTRY:
        return _REGISTRY[ref]
    if ":" not in ref:
        names = task_names()
        import difflib
        close = difflib.get_close_matches(ref, names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown task {ref!r}; registered tasks are {', '.join(names)}, or "
                         f"give 'module:function' or 'file.py:function'.{hint}")
    where, _, attr = ref.rpartition(":")
    if where.endswith(".py"):
        module = _module_from_file(Path(base or ".") / where)
        func = getattr(module, attr, None)
        if not callable(func):
            raise ValueError(f"task {ref!r}: {where} has no function {attr!r}.")
        return Task(ref, _Shipped(func), ident=ref)
    else:
        try:
            module = importlib.import_module(where)
        except ImportError as exc:
            raise ImportError(f"cannot import module {where!r} of task {ref!r} ({exc}); it must "
                              "be importable here and on every worker.") from None
    func = getattr(module, attr, None)
    if not callable(func):
        raise ValueError(f"task {ref!r}: {where} has no function {attr!r}.")
    for task in _REGISTRY.values():
        if task.func is func:
            return task
    return Task(ref, func, ident=ref)


def _module_from_file(path: Path):
    path = path.resolve()
    if not path.exists():
        raise ValueError(f"task file {str(path)!r} does not exist.")
    import hashlib
    name = f"flowlab_sweep_task_{path.stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class _Shipped:
    """A function of a task file, sent to the workers by value (the workers need not see
    the file): cloudpickle's bytes, loaded once per worker process."""

    def __init__(self, func):
        self.__name__ = getattr(func, "__name__", "task")
        self.__qualname__ = getattr(func, "__qualname__", self.__name__)
        self.__module__ = getattr(func, "__module__", None)
        self._func = func
        self._payload = None

    def _bytes(self) -> bytes:
        if self._payload is None:
            import cloudpickle
            module = sys.modules.get(self.__module__)
            if module is not None:
                cloudpickle.register_pickle_by_value(module)
            try:
                self._payload = cloudpickle.dumps(self._func)
            finally:
                if module is not None:
                    cloudpickle.unregister_pickle_by_value(module)
        return self._payload

    def __getstate__(self):
        return {"name": self.__name__, "qualname": self.__qualname__,
                "module": self.__module__, "payload": self._bytes()}

    def __setstate__(self, state):
        self.__name__, self.__qualname__ = state["name"], state["qualname"]
        self.__module__, self._payload, self._func = state["module"], state["payload"], None

    def __call__(self, *args, **kwargs):
        if self._func is None:
            import cloudpickle
            self._func = cloudpickle.loads(self._payload)
        return self._func(*args, **kwargs)


def run_point(func: Callable, point: dict, save=None) -> dict:
    """Run one task on a worker: ``{"values", "wall_s", "worker"}``.

    Exceptions propagate (the sweep records or retries them).
    """
    clock = time.perf_counter()
    out = func(point) if save is None else func(point, save=save)
    wall = time.perf_counter() - clock
    return {"values": check_output(out), "wall_s": wall,
            "worker": f"{socket.gethostname()}:{os.getpid()}"}


def check_output(out) -> dict:
    """Validate a task's result: a dict of scalars and small numeric arrays."""
    if not isinstance(out, dict):
        raise TypeError(f"a sweep task must return a dict of scalars and small arrays, got "
                        f"{type(out).__name__}.")
    clean = {}
    for key, value in out.items():
        if not isinstance(key, str) or not key.isidentifier():
            raise TypeError(f"task output names must be identifiers, got {key!r}.")
        if key in RESERVED:
            raise ValueError(f"task output {key!r} is a name the sweep uses for itself "
                             f"({', '.join(RESERVED)}); rename it.")
        if key == "status" and not isinstance(value, str):
            raise TypeError(f"task output 'status' must be a string, got {value!r}.")
        clean[key] = _value(key, value)
    return clean


def _value(key, value):
    if value is None:
        return np.nan
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    try:
        arr = np.asarray(value)
    except Exception:      # noqa: BLE001 - anything numpy cannot read is reported below
        arr = None
    if arr is None or arr.dtype.kind not in "biuf" or arr.ndim == 0:
        raise TypeError(f"task output {key!r} must be a number, boolean, string or numeric "
                        f"array, got {type(value).__name__}.")
    if arr.size > MAX_ARRAY_SIZE:
        raise ValueError(f"task output {key!r} has {arr.size} entries; a sweep stores arrays of "
                         f"at most {MAX_ARRAY_SIZE} (save larger data yourself).")
    return arr.astype(np.float64) if arr.dtype.kind in "fb" else arr.astype(np.int64)
