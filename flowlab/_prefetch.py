"""Compile a task's kernels in a second process while a cold first run compiles them.

numba compiles one kernel at a time (a process-wide lock), so a first run on an empty
cache uses one core for most of a minute while the other idles.  Each warmup task
(:data:`flowlab._warmup.TASKS`) has a recorded *compile plan*: the kernel signatures it
compiles, in the order numba finishes them (callees first), with each one's own compile
time and the kernels it calls.  When a process compiles its first kernel inside a task
(:func:`flowlab._compile.compile_task`), :func:`start` launches ``python -m
flowlab._prefetch TASK PID TIME [NEXT ...]``, a helper that compiles into numba's on-disk
cache what the run will need (:func:`follow`):

1. ahead of the run, in the first half of the plan (by compile time): the kernels the
   run reaches after the one it is compiling, each if the helper can finish it before
   the run gets there;
2. the second half, which the run reaches later (the Radau IIA stepper of the exact
   flows, the code after the flow), waiting for what it calls from the first half when
   the run will cache that sooner than the helper could compile it;
3. the whole plans of the tasks the run declared it compiles next
   (:func:`flowlab._compile.compile_next`, a reproduction's ``compiles``).

The run loads from the cache whatever the helper wrote before it got there, and numba
compiles whatever the cache lacks: what a run computes never depends on the helper.

- The plans live in ``flowlab/_kernels/compile_plan.pkl``, recorded from empty caches
  by ``flowlab warmup --record-plans`` (re-record after changing the kernels;
  ``tests/test_prefetch.py`` fails on a plan that names a kernel or signature that no
  longer exists).  A stale plan only costs speed.  A plan recorded with another numba
  version is not used.
- ``FLOWLAB_PREFETCH_LOG=FILE`` makes the helper write what it compiled and when.
- The helper runs only in a main process (not in a Dask worker or another helper), on
  POSIX, with numba's cache on and at least 2 CPUs; ``FLOWLAB_PREFETCH=0`` turns it
  off.  It exits when the run does.
- Two processes writing numba's cache: :func:`lock_cache_writes` serialises the writes
  and writes each data file before the index names it.
- The two processes never compile one kernel twice at once.  The run writes the kernels
  it is compiling (numba's compile stack) into a folder it shares with the helper, and the
  helper the kernels it is compiling: the helper leaves to the run an entry that needs
  what the run is compiling, and the run, missing in the cache a kernel that the helper
  is compiling, waits for the helper to cache it (:func:`await_helper`, at most
  :data:`AWAIT_S` past the helper's estimate) instead of compiling it a second time.
"""

from __future__ import annotations

import atexit
import importlib
import itertools
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

__all__ = ["PLAN_PATH", "lock_cache_writes", "read_plan", "split", "start", "follow", "main",
           "note_compile", "await_helper"]

#: the recorded compile plans: {"numba": version, "plans": {task: [(module, qualname, args,
#: own_seconds, deps), ...]}}
PLAN_PATH = Path(__file__).with_name("_kernels") / "compile_plan.pkl"
#: how long the helper waits for the run to cache a kernel it needs (seconds)
WAIT_S = 60.0
#: how far ahead of the run the helper must finish a kernel of the earlier part (seconds)
LEAD_S = 0.5
#: how long past the helper's own estimate the run waits for a kernel the helper compiles
AWAIT_S = 5.0
_STARTED: dict = {}
_PLANS: dict = {}
#: the folder the run shares with its helper: files RUN (the run's compile stack, a key per
#: line) and HELPER (a deadline, then the keys the helper is compiling); ``run``: this
#: process is the run (it started the helper)
_CHANNEL: dict = {"dir": None, "stack": [], "run": False}
RUN, HELPER = "run", "helper"


def lock_cache_writes() -> None:
    """Make numba's cache writes safe for two processes (idempotent; called on ``import
    flowlab``).

    numba saves a compiled kernel by reading the kernel's index, choosing a data file
    name, writing the index and then the data.  Two processes saving two signatures of
    one kernel at once can then pick the same file name, and a reader can find an index
    entry before its data is written.  With this guard a save holds an exclusive lock
    on the cache folder's ``flowlab-cache.lock`` and writes the data before the index
    names it.  The helper relies on it.  A run that started a helper also waits, on a
    cache miss, for a kernel the helper is compiling (:func:`await_helper`).
    """
    from numba.core import caching
    cls = caching.IndexDataCacheFile
    if getattr(cls.save, "_flowlab_guard", False):
        return
    try:
        import fcntl
    except ImportError:                # not POSIX: no second process, numba's own save
        return

    def save(self, key, data):
        os.makedirs(self._cache_path, exist_ok=True)
        with open(os.path.join(self._cache_path, "flowlab-cache.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                overloads = self._load_index()
                name = overloads.get(key)
                if name is None:
                    taken = set(overloads.values())
                    name = next(n for n in map(self._data_name, itertools.count(1))
                                if n not in taken)
                self._save_data(name, data)
                if overloads.get(key) != name:
                    overloads[key] = name
                    self._save_index(overloads)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    save._flowlab_guard = True
    cls.save = save
    load = caching.Cache.load_overload

    def load_overload(self, sig, target_context):
        cres = load(self, sig, target_context)
        if cres is None and _CHANNEL["run"] and await_helper(self, sig, target_context):
            cres = load(self, sig, target_context)
        return cres

    caching.Cache.load_overload = load_overload


# -- using a plan ------------------------------------------------------------------------
def read_plan(task: str):
    """The recorded plan of ``task``, or None (no plan, or one this numba cannot read)."""
    if task not in _PLANS:
        import numba
        try:
            stored = pickle.loads(PLAN_PATH.read_bytes())
            if stored["numba"] == numba.__version__:   # numba's types are its own
                _PLANS.update(stored["plans"])
        except Exception:                      # missing, or unreadable by this numba
            pass
        _PLANS.setdefault(task, None)
    return _PLANS[task]


def _done(plan) -> list:
    """The plan's compile times summed to each entry."""
    return list(itertools.accumulate(e[3] for e in plan))


def key(module: str, qualname: str, args) -> str:
    """The name of a kernel signature that the run and the helper exchange."""
    return f"{module}.{qualname}{tuple(args)}"


def _write(name: str, lines) -> None:
    folder = _CHANNEL["dir"]
    if folder is None:
        return
    tmp = os.path.join(folder, f".{name}.{os.getpid()}")
    try:
        with open(tmp, "w") as f:
            f.write("\n".join(lines))
        os.replace(tmp, os.path.join(folder, name))     # readers see all of it or none
    except OSError:
        pass


def _read(name: str) -> list:
    folder = _CHANNEL["dir"]
    try:
        with open(os.path.join(folder, name)) as f:
            return f.read().split("\n")
    except (OSError, TypeError):
        return []


def note_compile(dispatcher, args, starting: bool) -> None:
    """The run: numba starts (``starting``) or ends compiling a flowlab kernel; kept in the
    shared folder while a helper runs."""
    if not _CHANNEL["run"]:
        return
    stack = _CHANNEL["stack"]
    if starting:
        f = dispatcher.py_func
        stack.append(key(f.__module__, f.__qualname__, args))
    elif stack:
        stack.pop()
    if _helper_alive():                        # nobody reads it once the helpers are done
        _write(RUN, stack)


def await_helper(cache, sig, target_context) -> bool:
    """The run, missing ``sig`` of a kernel in the cache: if the helper is compiling it, wait
    until the cache has it, the helper moved on, or the helper's deadline (plus
    :data:`AWAIT_S`) passed.  True if it waited (the caller loads again)."""
    from numba.core import sigutils
    f = getattr(cache, "_py_func", None)
    if f is None or not _is_flowlab_function(f):
        return False
    args = sigutils.normalize_signature(sig)[0]
    name = key(f.__module__, f.__qualname__, args)
    lines = _read(HELPER)
    if name not in lines[1:]:
        return False
    try:
        deadline = float(lines[0]) + AWAIT_S
    except ValueError:
        return False
    while time.time() < deadline and _helper_alive():
        time.sleep(0.02)
        if _in_index(cache, sig, target_context) or name not in _read(HELPER)[1:]:
            break
    return True


def _helper_alive() -> bool:
    return any(p is not None and p.poll() is None for p in _STARTED.values())


def split(plan) -> int:
    """Index of the first entry the helper compiles: the later half of the compile time."""
    done = _done(plan)
    return next((i + 1 for i, d in enumerate(done) if d >= done[-1] / 2), len(plan))


def _enabled() -> bool:
    import multiprocessing

    from ._config import NUMBA_CACHE
    return (os.environ.get("FLOWLAB_PREFETCH", "1") != "0" and NUMBA_CACHE
            and os.name == "posix" and (os.cpu_count() or 1) >= 2
            and multiprocessing.parent_process() is None)


def start(task, then=()) -> bool:
    """Launch the helper for ``task`` once per process, to compile then the plans of the
    tasks ``then`` (see the module docstring)."""
    if task is None or task in _STARTED or not _enabled():
        return False
    _STARTED[task] = None
    if read_plan(task) is None:
        return False
    then = [t for t in then if t not in _STARTED and read_plan(t) is not None]
    _STARTED.update(dict.fromkeys(then))
    root = str(Path(__file__).resolve().parents[1])     # this flowlab, however imported
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    if not _CHANNEL["run"]:
        _CHANNEL.update(dir=tempfile.mkdtemp(prefix="flowlab-prefetch-"), run=True)
        atexit.register(shutil.rmtree, _CHANNEL["dir"], True)
    env = dict(os.environ, FLOWLAB_PREFETCH="0", PYTHONPATH=path,
               FLOWLAB_PREFETCH_CHANNEL=_CHANNEL["dir"])
    try:
        proc = subprocess.Popen([sys.executable, "-m", "flowlab._prefetch", task,
                                 str(os.getpid()), repr(time.time()), *then], env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    except OSError:
        return False
    _STARTED[task] = proc
    threading.Thread(target=proc.wait, daemon=True).start()   # reaped when it ends
    atexit.register(_stop, proc)
    return True


def _stop(proc) -> None:
    if proc.poll() is None:
        proc.terminate()


def _dispatcher(module: str, qualname: str):
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    return obj if hasattr(obj, "compile") and hasattr(obj, "py_func") else None


def _cached(disp, args) -> bool:
    """Whether numba's cache holds ``disp`` compiled for ``args`` (its index names it)."""
    return _in_index(getattr(disp, "_cache", None), tuple(args),
                     getattr(disp, "targetctx", None))


def _in_index(cache, sig, target_context) -> bool:
    """Whether the numba cache ``cache`` (a dispatcher's) names ``sig`` in its index."""
    try:
        key = cache._index_key(sig, target_context.codegen())
        return key in cache._cache_file._load_index()
    except Exception:                          # no cache, or unreadable now
        return False


def _closure(plan, i: int) -> set:
    todo, seen = list(plan[i][4]), set()
    while todo:
        j = todo.pop()
        if j not in seen:
            seen.add(j)
            todo.extend(plan[j][4])
    return seen


def main(task: str, parent: int, started=None, then=()) -> int:
    """The helper's entry point: follow ``task``'s plan for the run ``parent``, then the
    whole plans of the tasks ``then`` that the run declared it compiles next.  (``python
    -m flowlab._prefetch`` imports flowlab first: the cache-write lock and the
    stale-index guard are on.)"""
    _CHANNEL["dir"] = os.environ.get("FLOWLAB_PREFETCH_CHANNEL")
    plan = read_plan(task)
    if plan is not None:
        follow(plan, parent, started)
    for name in then:
        if os.getppid() != parent:
            break
        plan = read_plan(name)
        if plan is not None:
            follow(plan, parent, started, first=0)
    return 0


def follow(plan, parent: int, started=None, first=None) -> None:
    """Compile ``plan`` into numba's cache for the run ``parent`` (a process id): the
    three steps of the module docstring, the second half from entry ``first`` (by
    default :func:`split`; 0 for a plan the run compiles later).

    The run's position is read from the cache: it compiles the plan's entries in order,
    so the first entry of the first half that the cache lacks is the one it is
    compiling, and ``done[j]``, the compile times summed to entry ``j``, at the last
    entry it has cached tells how far it got.
    """
    started = time.time() if started is None else started
    for module in sorted({e[0] for e in plan}):   # the modules register their models' hooks
        importlib.import_module(module)
    first = split(plan) if first is None else first
    done = _done(plan)
    resolved = {}

    def disp_of(j):
        if j not in resolved:
            resolved[j] = _dispatcher(plan[j][0], plan[j][1])
        return resolved[j]

    def missing(j):
        return disp_of(j) is not None and not _cached(disp_of(j), plan[j][2])

    earlier = [j for j in range(first) if disp_of(j) is not None]
    mine = set()                              # entries the helper cached itself

    def progress():
        cached = [j for j in earlier if j not in mine and not missing(j)]
        return done[max(cached)] if cached else 0.0

    def cost(i):
        return plan[i][3] + sum(plan[j][3] for j in _closure(plan, i) if missing(j))

    def compile_entry(i):
        todo = [j for j in _closure(plan, i) | {i} if missing(j)]
        names = [key(*plan[j][:3]) for j in todo]
        t_start = time.time() - started
        if set(names) & set(_read(RUN)):       # the run is compiling one of them
            _log(f"{t_start:6.1f} the run compiles: {plan[i][0]}.{plan[i][1]}")
            return
        mine.update(todo)
        _write(HELPER, [repr(time.time() + 2.0 * cost(i) + 1.0)] + names)
        try:
            disp_of(i).compile(tuple(plan[i][2]))
        except Exception as exc:              # a stale plan: the run compiles it
            _log(f"{plan[i][0]}.{plan[i][1]}: {type(exc).__name__}: {exc}")
            return
        finally:
            _write(HELPER, ["0"])
        _log(f"{t_start:6.1f} +{time.time() - started - t_start:5.1f} s  "
             f"{plan[i][0]}.{plan[i][1]}")

    # 1. ahead of the run in the earlier part, while it is busy: the next kernels it
    #    needs that call nothing it has still to compile, each if the helper can finish
    #    it (with a margin) before the run gets there
    for j in earlier:
        if os.getppid() != parent:
            return
        todo = [k for k in earlier if k < j and missing(k)]
        if not todo or not missing(j) or set(todo) & _closure(plan, j):
            continue
        arrival = plan[todo[0]][3] / 2 + sum(plan[k][3] for k in todo[1:])
        if arrival >= cost(j) + LEAD_S:
            compile_entry(j)
    # 2. the later part
    left = 0.0                                # own time of the later entries left to the run
    for i in range(first, len(plan)):
        if os.getppid() != parent:
            return
        if disp_of(i) is None or not missing(i):
            continue
        if first and cost(i) > done[first - 1] - progress() + left:
            left += plan[i][3]                # the run gets there first, and compiles it
            _log(f"{time.time() - started:6.1f} left to the run: "
                 f"{plan[i][0]}.{plan[i][1]}")
            continue
        limit = time.monotonic() + WAIT_S
        while time.monotonic() < limit and os.getppid() == parent:
            at = progress()
            if not any(done[j] - at <= cost(j) for j in _closure(plan, i)
                       if j < first and missing(j)):
                break
            time.sleep(0.05)                  # the run caches one of them sooner
        compile_entry(i)


def _log(line: str) -> None:
    path = os.environ.get("FLOWLAB_PREFETCH_LOG")
    if path:
        with open(path, "a") as f:
            print(line, file=f)


def _is_flowlab(dispatcher) -> bool:
    return _is_flowlab_function(getattr(dispatcher, "py_func", None))


def _is_flowlab_function(func) -> bool:
    return (getattr(func, "__module__", "") or "").startswith("flowlab.")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4:]))
