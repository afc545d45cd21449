"""Exact flows of wide networks against the gradient descent a user would run instead.

Every problem is measured in one run, side by side: the exact flow
(``fl.flow(..., method="exact")``, default ``stepper="auto"``), the same flow on the
Radau IIA stepper alone (``stepper="radau"``, the exact engine before the explicit
stepper existed; skipped where its dense P x P Jacobian would not fit; one round by
default, it takes minutes at P = 1200), and a compiled
gradient-descent loop (``fl.train.gd``, the same loss) over the same flow time
t = lr x iterations at lr 1e-3 and 1e-4.  The machines are shared: the flows and a GD
chunk are timed in interleaved rounds and the best time of each is reported (with the
spread); GD's time for the full iteration count is its chunk time scaled.

Problems (loss "mean" everywhere):

- ``1d-ntk-<n>``: 4 points x = (-1, -0.3, 0.4, 1), y = sin(pi x), width n in {100, 200,
  400, 1000, 10000} in the NTK parameterisation f(x) = n^(-1/2) sum_j a_j relu(w_j x +
  b_j) with a_j, w_j, b_j ~ N(0, 1), to t = 100.  Its gradient flow equals the flow of
  the plain network sum_j a_j relu(w_j x + b_j) on the targets sqrt(n) y up to time
  t / n (the loss is n times larger and every gradient n times larger, so time runs n
  times faster): that is what is integrated, and GD at learning rate lr in the NTK
  parameterisation is GD at lr / n on the plain network (the same iterates).  Its
  Hessian's largest eigenvalue in NTK time is O(1) at every width, so GD at lr 1e-3
  is stable at every width.
- ``teacher-student-<n>``: d = 10, 200 points x ~ N(0, I), teacher sum_k relu(v_k . x)
  with 3 neurons v_k ~ N(0, I/d), student width n in {100, 1000} with W rows ~ N(0,
  I/d), zero biases, a ~ N(0, 1/n), to t = 10.  At width 100 the GD iterates at lr
  1e-4 and 2e-4 are compared with the exact flow at t = 10 (first order: the distance
  halves with lr).
- ``condense-5d``: condense-5d's relu network (Xu et al. 2021's Fig. 1(d) set-up; 80
  points in d = 5, width 50, every parameter N(0, 0.005^2)) through its initial stage
  (to t = 4.5, past the stage end at t = 4.13), at rtol 1e-8 as in
  ``bench/exact_nd_vs_scipy.py``.

With both 1-d widths 10^3 and 10^4 among the problems, the growth of the time per step
between them is measured again with the two flows alternating in the same rounds
(``per_step_growth_1d``; target <= 15x).

Reported per problem (JSON): P, the exact flow's best time, its spread, steps, events,
the stepper switches and peak memory (VmHWM of a separate process running that flow
alone); the Radau stepper's time; GD's scaled times at each lr and the ratios
GD / exact.

    python bench/wide_flows.py [--quick] [--rounds 3] [--only NAME ...]

With ``--against REV`` only the exact flows are timed, each in fresh processes that
alternate between this tree and flowlab at git revision REV:

    python bench/wide_flows.py --only condense-5d --against 26bcd6b
"""

import argparse
import json
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import flowlab as fl  # noqa: E402


# -- problems ---------------------------------------------------------------------------

def ntk_1d(n, seed=0):
    """(net, x, y, T, time scale): the NTK-parameterised 1-d problem as a plain network."""
    rng = np.random.default_rng(seed)
    x = np.array([-1.0, -0.3, 0.4, 1.0])
    y = np.sin(np.pi * x)
    W = rng.normal(size=(n, 2))
    a = rng.normal(size=n)
    return fl.TwoLayer(W, a, "relu"), x, np.sqrt(n) * y, 100.0 / n, 1.0 / n


def teacher_student(n, d=10, m=200, k=3, seed=0):
    """(net, X, y, T, time scale): a d = 10 relu teacher-student problem."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, d))
    V = rng.normal(size=(k, d)) / np.sqrt(d)
    y = np.maximum(X @ V.T, 0.0).sum(axis=1)
    W = np.column_stack([rng.normal(size=(n, d)) / np.sqrt(d), np.zeros(n)])
    a = rng.normal(size=n) / np.sqrt(n)
    return fl.TwoLayer(W, a, "relu"), X, y, 10.0, 1.0


def condense_5d():
    """(net, X, y, T, time scale): condense-5d's relu network through its initial stage."""
    from flowlab.experiments import condense_5d as c5
    X, y = c5.data(0, times_x=True)
    net = fl.init.small_gaussian(c5.WIDTH, c5.D, c5.STD ** 2, activation="relu", seed=1)
    return net, X, y, 4.5, 1.0


PROBLEMS = {**{f"1d-ntk-{n}": (lambda n=n: ntk_1d(n)) for n in (100, 200, 400, 1000, 10000)},
            "teacher-student-100": lambda: teacher_student(100),
            "teacher-student-1000": lambda: teacher_student(1000),
            "condense-5d": condense_5d}
#: tolerances per problem (the flow's defaults unless stated)
TOL = {"condense-5d": dict(rtol=1e-8, atol=1e-10)}
#: Radau's dense Jacobian is tried up to this many parameters
RADAU_MAX = 1200
QUICK = ("1d-ntk-100", "1d-ntk-1000", "teacher-student-100")


# -- measurements -----------------------------------------------------------------------

def _flow(name, stepper, fraction=1.0):
    net, x, y, T, _ = PROBLEMS[name]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        t = time.perf_counter()
        sol = fl.flow(net, x, y, T * fraction, loss="mean", stepper=stepper, progress=False,
                      **TOL.get(name, {}))
        return sol, time.perf_counter() - t


def _gd_chunk_time(name, lr, iters):
    """Seconds for ``iters`` GD iterations at NTK-time learning rate ``lr``."""
    net, x, y, _, scale = PROBLEMS[name]()
    t = time.perf_counter()
    fl.train.gd(net, x, y, lr=lr * scale, steps=iters, loss="mean", record_every=iters,
                progress=False)
    return time.perf_counter() - t


def peak_memory(name, stepper="auto"):
    """Peak resident memory (MB, VmHWM) of a fresh process that runs this flow alone, and of
    one that only imports flowlab and builds the problem (the difference is the flow's).
    VmHWM belongs to the new program; ru_maxrss would carry the parent's peak across the
    fork."""
    code = ("import sys, resource, warnings; sys.path.insert(0, {root!r}); "
            "sys.path.insert(0, {bench!r}); import wide_flows as w; "
            "p = w.PROBLEMS[{name!r}](); "
            "{run}"
            "print([int(l.split()[1]) / 1024 for l in open('/proc/self/status') "
            "if l.startswith('VmHWM')][0])")
    run = ("warnings.simplefilter('ignore'); import flowlab as fl; "
           "fl.flow(p[0], p[1], p[2], p[3], loss='mean', stepper={stepper!r}, "
           "progress=False, **w.TOL.get({name!r}, {{}})); ").format(stepper=stepper, name=name)
    out = []
    for body in ("", run):
        src = code.format(root=str(ROOT), bench=str(ROOT / "bench"), name=name, run=body)
        res = subprocess.run([sys.executable, "-c", src], capture_output=True, text=True,
                             check=True)
        out.append(float(res.stdout.split()[-1]))
    return {"flow_process_MB": out[1], "baseline_MB": out[0]}


def measure(name, rounds=3, gd_chunk=2000, memory=True, radau_rounds=1):
    net, x, y, T, scale = PROBLEMS[name]()
    P = net.n_params
    with_radau = P <= RADAU_MAX
    for stepper in ("auto", "radau") if with_radau else ("auto",):
        _flow(name, stepper, fraction=1e-3)             # load (or compile) the kernels
    times, radau_times, gd = [], [], {1e-3: [], 1e-4: []}
    sol = None
    for r in range(rounds):
        sol, w = _flow(name, "auto")
        times.append(w)
        if with_radau and r < max(1, radau_rounds):
            rs, w = _flow(name, "radau")
            radau_times.append(w)
        for lr in gd:
            gd[lr].append(_gd_chunk_time(name, lr, gd_chunk))
    out = {"P": int(P), "T": T, "exact": {
        "seconds": min(times), "spread": [min(times), max(times)],
        "steps": int(sol.nsteps), "events": int(sol.info["n_events"]), "status": sol.status,
        "rhs": int(sol.nfev), "steps_explicit": sol.info["steps_explicit"],
        "steps_radau": sol.info["steps_radau"], "switches": sol.info["stepper_switches"]}}
    if with_radau:
        out["radau"] = {"seconds": min(radau_times),
                        "spread": [min(radau_times), max(radau_times)],
                        "steps": int(rs.nsteps)}
        out["ratio_radau_over_exact"] = min(radau_times) / min(times)
    for lr, ts in gd.items():
        iters = int(round(T / (lr * scale)))
        sec = min(ts) / gd_chunk * iters
        out[f"gd_lr{lr:g}"] = {"iterations": iters, "seconds_scaled": sec,
                               "chunk": gd_chunk, "chunk_spread": [min(ts), max(ts)]}
        out[f"ratio_gd{lr:g}_over_exact"] = sec / min(times)
    if memory:
        out["memory"] = peak_memory(name)
    return out, sol


def gd_first_order(name, sol, lrs=(2e-4, 1e-4)):
    """Distance at T between GD (lr in NTK time) and the exact flow, and its ratio."""
    net, x, y, T, scale = PROBLEMS[name]()
    dist = {}
    for lr in lrs:
        iters = int(round(T / (lr * scale)))
        res = fl.train.gd(net, x, y, lr=lr * scale, steps=iters, loss="mean",
                          record_every=iters, progress=False)
        dist[lr] = float(np.abs(res.net.params() - sol.theta_final).max())
    return {"max_abs_distance": {f"{k:g}": v for k, v in dist.items()},
            "ratio": dist[lrs[0]] / dist[lrs[1]]}


def per_step_growth(small="1d-ntk-1000", large="1d-ntk-10000", rounds=5):
    """Time per step of the exact flow at width 10^4 over width 10^3 (1-d NTK problems),
    the two flows timed alternately in the same rounds (best of each)."""
    best = {small: float("inf"), large: float("inf")}
    steps = {}
    for name in best:
        _flow(name, "auto", fraction=1e-3)
    for _ in range(rounds):
        for name in best:
            sol, t = _flow(name, "auto")
            best[name] = min(best[name], t)
            steps[name] = sol.nsteps
    per = {name: best[name] / steps[name] for name in best}
    return {"ms_per_step": {k: 1e3 * v for k, v in per.items()}, "rounds": rounds,
            "growth": per[large] / per[small], "target": 15.0}


def _timed_in(tree, name, with_stepper):
    """Seconds (perf_counter, after a warm-up flow) of one exact flow of problem ``name``
    in a fresh process that imports flowlab from ``tree``."""
    stepper = "stepper='auto', " if with_stepper else ""

    def flow(frac):
        return (f"fl.flow(p[0], p[1], p[2], p[3] * {frac}, method='exact', loss='mean', "
                f"progress=False, {stepper}**w.TOL.get({name!r}, {{}}))")
    code = (f"import sys, time, warnings; sys.path.insert(0, {str(tree)!r}); "
            f"sys.path.insert(1, {str(ROOT / 'bench')!r}); warnings.simplefilter('ignore'); "
            "import flowlab as fl; import wide_flows as w; "
            f"assert fl.__file__.startswith({str(tree)!r}); p = w.PROBLEMS[{name!r}](); "
            f"{flow(1e-3)}; t = time.perf_counter(); {flow(1.0)}; "
            "print(time.perf_counter() - t)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return float(res.stdout.split()[-1])


def against_revision(name, rev, rounds=3):
    """The exact flow of problem ``name`` in this tree and in git revision ``rev`` (a
    worktree kept under ``~/.cache/flowlab-bench``, so that its kernels compile once),
    timed in fresh processes that alternate, best of ``rounds`` each."""
    tree = Path.home() / ".cache" / "flowlab-bench" / rev
    if not tree.exists():
        tree.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), rev],
                       check=True, capture_output=True)
    old, new = [], []
    for _ in range(rounds):
        old.append(_timed_in(tree, name, with_stepper=False))
        new.append(_timed_in(ROOT, name, with_stepper=True))
    return {"revision": rev, "rounds": rounds,
            "revision_seconds": min(old), "revision_spread": [min(old), max(old)],
            "seconds": min(new), "spread": [min(new), max(new)],
            "speedup": min(old) / min(new)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--only", nargs="*", help="problem names (default: all)")
    p.add_argument("--no-memory", action="store_true")
    p.add_argument("--radau-rounds", type=int, default=1,
                   help="rounds of the Radau stepper (minutes each at P = 1200)")
    p.add_argument("--against", metavar="REV",
                   help="only time the problems' exact flows against flowlab at git revision "
                        "REV, alternating fresh processes (e.g. the revision an issue was "
                        "filed against)")
    a = p.parse_args(argv)
    names = a.only or (QUICK if a.quick else list(PROBLEMS))
    if a.against:
        report = {name: against_revision(name, a.against, a.rounds) for name in names}
        print(json.dumps(report), flush=True)
        return report
    report = {"rusage_baseline_MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    for name in names:
        out, sol = measure(name, rounds=a.rounds, memory=not a.no_memory,
                           radau_rounds=a.radau_rounds)
        if name == "teacher-student-100":
            out["gd_first_order"] = gd_first_order(name, sol)
        report[name] = out
        print(json.dumps({name: out}), flush=True)
    if {"1d-ntk-1000", "1d-ntk-10000"} <= set(names):
        report["per_step_growth_1d"] = per_step_growth()
        print(json.dumps({"per_step_growth_1d": report["per_step_growth_1d"]}), flush=True)
    return report


if __name__ == "__main__":
    main()
