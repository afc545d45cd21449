"""``flowlab warmup``: compile every numba kernel ahead, and the table of compile costs.

Each task of :data:`TASKS` runs one public path of flowlab on a tiny problem, so that
its kernels are compiled (and cached on disk, see :mod:`flowlab._compile`) before a
real run needs them; :func:`warmup` runs them with a progress line each, and
:func:`table_markdown` writes what they cost (docs/compile_times.md).  The tasks call
flowlab's public functions, so this module sits above the whole package, which does
not import it (the command line does).
"""

from __future__ import annotations

import os
import sys
import time

from ._compile import CompileTimer, compile_task, quiet

__all__ = ["warmup", "TASKS", "table_markdown", "record_plans"]


# -- the warmup tasks: each public path on a tiny problem ------------------------------
def _exact_1d():
    import numpy as np
    import flowlab as fl
    x = np.linspace(-1, 1, 100)
    y = np.sin(np.pi * x)
    # long enough to switch between the explicit and the Radau stepper (the stiffness
    # check's Hessian-vector products included), as a real run does
    fl.flow(fl.init.he(10, seed=0), x, y, 1e5, loss="sum", progress=False)
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
    with quiet():
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
    return rows


def record_plans(path=None, stream=None) -> dict:
    """Record the compile plan of every task (:mod:`flowlab._prefetch`), each task in a
    fresh process on an empty numba cache, and write them to ``path`` (default: the
    package's ``_kernels/compile_plan.pkl``).  Returns ``{task: plan}``."""
    import pickle
    import subprocess
    import tempfile
    from pathlib import Path

    import numba

    from . import _prefetch
    stream = sys.stderr if stream is None else stream
    plans = {}
    for name, _, _ in TASKS:
        with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as out:
            dump = Path(out) / "plan.pkl"
            code = f"from flowlab import _warmup; _warmup._record_task({name!r}, {str(dump)!r})"
            subprocess.run([sys.executable, "-c", code], check=True,
                           env=dict(os.environ, NUMBA_CACHE_DIR=cache, FLOWLAB_PREFETCH="0"))
            plans[name] = pickle.loads(dump.read_bytes())
        print(f"{name}: {len(plans[name])} kernel signatures, "
              f"{sum(e[3] for e in plans[name]):.1f} s", file=stream, flush=True)
    path = Path(_prefetch.PLAN_PATH if path is None else path)
    path.write_bytes(pickle.dumps({"numba": numba.__version__, "plans": plans}, protocol=4))
    return plans


def _record_task(name: str, dump: str) -> None:
    import pickle
    from pathlib import Path

    func = dict((t[0], t[2]) for t in TASKS)[name]
    timer = CompileTimer()
    with quiet(), compile_task(name), timer.recording(calls=True):
        func()
    Path(dump).write_bytes(pickle.dumps(timer.plan, protocol=4))


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
