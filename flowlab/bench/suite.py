"""The work-precision sweep: every setup at every tolerance (or learning rate) of a problem.

For each setup that applies, a warm-up run on [0, t_1] (t_1 the first
measurement time) loads or compiles its code; its seconds are reported as
``compile_seconds`` and never counted in a row.  Then each rung of the
ladder is run under the problem's time limit, timed as the minimum over
repeats within a time budget, and measured against the reference
(:mod:`flowlab.bench.measures`).  A run that hits the time limit is
recorded with status "timeout", and the tighter rungs of that setup are
recorded as "skipped" (they would take longer still; not for the exact
engines, see ``Setup.skip_after_stop``); a run that raises is
recorded with status "error" and its message: failures are rows, never
exceptions.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

from .. import io as _io
from .._version import __version__
from ._limits import Limits, call_with_limit
from .checks import checks_for, setup_orders
from .measures import best_time, error_measures, loss_error, relative_errors
from ._problems import Instance, get_problem
from .reference import Reference, get_reference
from .setups import SETUPS, Outcome, get_setup

__all__ = ["run_bench", "run_setup"]

_STOPPED = ("timeout", "max_steps")
#: seconds the warm-up run (compilation or loading of compiled code) may take by default
WARMUP_LIMIT = 300.0


def _ladder(setup, inst):
    return inst.lrs if setup.sweep == "lr" else inst.tols


def run_setup(setup, inst: Instance, value: float, times, limits: Limits) -> tuple:
    """One run of ``setup``: ``(Outcome, seconds)``; never raises (except Ctrl-C)."""
    def call():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return setup.run(inst, value, times, limits)
    try:
        out, fired, seconds = call_with_limit(
            call, limits.seconds if setup.interruptible else float("inf"))
    except Exception as exc:            # a failed setup is a row, not an exception
        msg = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return Outcome("error", msg, np.zeros((0, inst.size))), float("nan")
    if out is None:
        return Outcome("timeout", f"stopped by the time limit of {limits.seconds:g} s",
                       np.zeros((0, inst.size))), seconds
    if fired and out.status in ("interrupted", "finished") and \
            out.theta.shape[0] < times.size:
        out.status = "timeout"
        out.message = f"stopped by the time limit of {limits.seconds:g} s ({out.message})"
    elif out.status == "interrupted" and fired:
        out.status = "timeout"
    return out, seconds


def _prepare(setup, inst, times, limit):
    """Run ``setup.prepare`` (untimed compilation): ``(Outcome or None, seconds)``."""
    clock = time.perf_counter()
    try:
        _, fired, sec = call_with_limit(lambda: setup.prepare(inst, times), limit)
    except Exception as exc:
        msg = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return Outcome("error", f"prepare: {msg}", np.zeros((0, inst.size))), \
            time.perf_counter() - clock
    return (Outcome("timeout", "prepare hit the warm-up limit", np.zeros((0, inst.size)))
            if fired else None), sec


def _row(setup, inst, value, out, seconds, repeats, ref: Reference, times, exact_theta):
    against, ref_label = ref.for_setup(setup.name)
    row = {"setup": setup.name, "family": setup.family, "sweep": setup.sweep,
           "tol": value if setup.sweep == "tol" else None,
           "atol": value * inst.atol_ratio if setup.sweep == "tol" else None,
           "lr": value if setup.sweep == "lr" else None,
           "iterations": int(round(inst.t_end / value)) if setup.sweep == "lr" else None,
           "status": out.status, "message": out.message, "seconds": seconds,
           "repeats": repeats, "nfev": out.nfev, "njev": out.njev, "nsteps": out.nsteps,
           "t_reached": float(times[out.theta.shape[0] - 1]) if out.theta.shape[0] else 0.0,
           "reference": ref_label}
    finished = out.status == "finished" and out.theta.shape[0] == times.size
    meas = error_measures(out.theta, against) if finished else error_measures([], against)
    row.update(meas)
    if finished:
        L = inst.loss_of(out.theta[-1])
        row["loss_error"] = loss_error(L, inst.loss_of(against[-1])) if np.isfinite(L) \
            else float("inf")
    else:
        row["loss_error"] = float("nan")
        if out.theta.shape[0]:
            row["error_at_t_reached"] = float(relative_errors(out.theta[-1:],
                                                              against[out.theta.shape[0] - 1:
                                                                      out.theta.shape[0]])[0])
    if exact_theta is not None:
        ex = error_measures(out.theta, exact_theta) if finished else \
            error_measures([], exact_theta)
        row.update({f"{k}_closed_form": v for k, v in ex.items()})
    return row


def _skip_row(setup, inst, value, status, message):
    return {"setup": setup.name, "family": setup.family, "sweep": setup.sweep,
            "tol": value if setup.sweep == "tol" else None,
            "atol": value * inst.atol_ratio if setup.sweep == "tol" else None,
            "lr": value if setup.sweep == "lr" else None, "status": status,
            "message": message, "seconds": float("nan"), "repeats": 0, "nfev": 0, "njev": 0,
            "nsteps": 0, "t_reached": float("nan"),
            "error": float("nan"), "error_dense_l2": float("nan"),
            "error_dense_max": float("nan"), "loss_error": float("nan")}


def run_bench(problem, *, quick: bool = False, out=None, setups=None, cache_dir=None,
              use_cache: bool = True, time_limit: float | None = None,
              repeat_budget: float | None = None, max_repeats: int | None = None,
              warmup_limit: float = WARMUP_LIMIT, plots: bool = True, log=None) -> dict:
    """Run the work-precision suite on one problem and write its results.

    Parameters
    ----------
    problem : str or Instance
        A registered problem name (``flowlab bench --list``) or an instance.
    quick : bool
        The reduced size (short time span, four tolerances); ignored for an
        ``Instance``.
    out : path, optional
        Folder for ``work_precision.json`` and the PNG diagrams (default
        ``results/bench/<problem>``).  The JSON is rewritten after every setup
        (``"complete": false`` until the end), so a run cut short keeps its rows.
    setups : sequence of str, optional
        Setup names to run (default: all of :data:`flowlab.bench.SETUPS`).
    cache_dir : path, optional
        Reference cache folder (default :func:`flowlab.bench.default_cache_dir`).
    use_cache : bool
        Reuse and store the reference on disk.
    time_limit : float, optional
        Seconds one run may take (default: the problem's).
    repeat_budget : float, optional
        Seconds spent repeating a run for its best time (default 0.5 quick, 5 full).
    max_repeats : int, optional
        Most runs per row for timing (default 3 quick, 5 full).
    warmup_limit : float
        Seconds the warm-up run of a setup may take (the first compilation of
        flowlab's kernels can take a minute or more).
    plots : bool
        Write the PNG diagrams.
    log : callable, optional
        Called with one line per row (the CLI prints them).

    Returns
    -------
    dict
        The content of ``work_precision.json``: ``{"problem", "reference",
        "rows", "setups", "skipped", "checks", ...}``.
    """
    inst = problem if isinstance(problem, Instance) else get_problem(problem).instance(quick)
    names = list(SETUPS) if setups is None else _check_setups(setups)
    limit = float(time_limit) if time_limit is not None else inst.time_limit
    budget = repeat_budget if repeat_budget is not None else (0.5 if inst.quick else 5.0)
    reps = max_repeats if max_repeats is not None else (3 if inst.quick else 5)
    log = log or (lambda s: None)
    clock = time.perf_counter()
    times = inst.times()
    ref = get_reference(inst, cache_dir, use_cache=use_cache, log=log)
    exact_theta = inst.exact(times) if inst.exact is not None else None
    rows, skipped, info = [], [], {}
    out_dir = Path(out) if out is not None else Path("results") / "bench" / inst.name
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        setup = get_setup(name)
        why = setup.unavailable(inst)
        if why is not None:
            skipped.append({"setup": name, "reason": why})
            log(f"{name:20s} skipped: {why}")
            continue
        ladder = _ladder(setup, inst)
        warm = dataclasses.replace(inst, t_end=float(times[0]))
        # compilation can take minutes the first time: the warm-up gets its own limit
        wout, wsec = run_setup(setup, warm, ladder[0], times[:1], Limits(warmup_limit))
        if setup.prepare is not None and wout.status != "error":
            pout, psec = _prepare(setup, inst, times, warmup_limit)
            wsec += psec
            if pout is not None:
                wout = pout
        info[name] = {"family": setup.family, "sweep": setup.sweep, "note": setup.note,
                      "compile_seconds": wsec, "warmup_status": wout.status}
        stopped = None
        for value in ladder:
            if stopped is not None:
                rows.append(_skip_row(setup, inst, value, "skipped", stopped))
                continue
            lim = Limits(limit)
            out_, sec = run_setup(setup, inst, value, times, lim)
            reps_done = 1
            if out_.status == "finished" and np.isfinite(sec):
                sec, reps_done = best_time(sec, lambda: run_setup(setup, inst, value, times,
                                                                  lim)[1], budget, reps)
            row = _row(setup, inst, value, out_, sec, reps_done, ref, times, exact_theta)
            rows.append(row)
            log(f"{name:20s} {setup.sweep}={value:<8.2g} {row['status']:9s} "
                f"error={row['error']:.3g} seconds={row['seconds']:.3g} nfev={row['nfev']}")
            if out_.status in _STOPPED and setup.skip_after_stop:
                stopped = (f"not run: the looser {setup.sweep} {value:g} already stopped "
                           f"({out_.status})")
        # nothing measured is lost if a long run is cut short: the rows so far, on disk
        _io.write_json(out_dir / "work_precision.json", _plain(
            {"problem": inst.name, "quick": inst.quick, "complete": False,
             "reference": ref.summary(), "setups": info, "skipped": skipped, "rows": rows}))
    result = {"problem": inst.name, "title": _title(inst.name), "quick": inst.quick,
              "complete": True,
              "flowlab": __version__, "t_end": inst.t_end, "loss": inst.loss,
              "parameters": inst.size, "description": inst.description,
              "time_limit_s": limit, "repeat_budget_s": budget, "max_repeats": reps,
              "measurement_times": {"count": int(times.size), "first": float(times[0]),
                                    "last": float(times[-1]), "spacing": "log"},
              "error_definition": "relative Euclidean parameter error ||theta - theta_ref|| / "
                                  "||theta_ref|| at t_end; dense: per-time errors at the "
                                  "measurement times, L2 = sqrt(mean e_k^2), max = max e_k",
              "reference": ref.summary(), "setups": info, "skipped": skipped, "rows": rows}
    if exact_theta is not None:
        e = relative_errors(ref.theta, exact_theta)
        vs = {"final": float(e[-1]), "dense_max": float(e.max())}
        if ref.second is not None:
            e2 = relative_errors(ref.second["theta"], exact_theta)
            vs.update(final_second=float(e2[-1]), dense_max_second=float(e2.max()))
        result["reference"]["error_vs_closed_form"] = vs
    result["orders"] = setup_orders(result)
    result["checks"] = checks_for(result, inst)
    result["wall_time_s"] = time.perf_counter() - clock
    if plots:
        from .plots import work_precision_figures
        result["figures"] = work_precision_figures(result, out_dir)
    _io.write_json(out_dir / "work_precision.json", _plain(result))
    return result


def _title(name: str) -> str:
    try:
        return get_problem(name).title
    except ValueError:                     # an Instance built by hand
        return name


def _check_setups(setups) -> list[str]:
    if isinstance(setups, str):
        setups = [s for s in setups.replace(",", " ").split() if s]
    try:
        names = list(setups)
    except TypeError:
        raise TypeError("`setups` must be a sequence of setup names.") from None
    unknown = [s for s in names if s not in SETUPS]
    if unknown:
        raise ValueError(f"unknown setup(s) {', '.join(map(repr, unknown))}; choose from "
                         f"{', '.join(SETUPS)}.")
    if not names:
        raise ValueError("`setups` is empty; name at least one setup.")
    return names


def _plain(obj):
    """JSON-ready: NaN and inf become null (a run that was not measured)."""
    return _io.to_plain(obj)
