"""Compiled explicit Runge-Kutta flows: ``method="ERK853"`` and ``method="ERK45"``.

The step loop of :mod:`flowlab._kernels.erk` runs in numba in chunks of steps;
between chunks this module feeds the accepted steps, with their continuous
extension at the Chebyshev-Lobatto nodes, to the same
:class:`~flowlab.flow.solve.Recorder` (outputs, ``t_eval``, progress bar,
checkpoints) and :class:`~flowlab.flow.dense.DenseOutput` as the scipy path, so
the result is the same :class:`~flowlab.flow.solution.Solution`.

The methods are the embedded pairs of scipy's ``DOP853`` (Dormand-Prince
8(5,3), dense output of degree 7) and ``RK45`` (Dormand-Prince 5(4), dense
output of degree 4), tableaux read from scipy's solver classes, with scipy's
step-size control: a compiled run takes the same steps as scipy's solver, to
rounding, without the Python cost per stage.  They are explicit, so they suit
the non-stiff stretches of a flow, such as the long initial stage of a
small-initialisation network (Zhou et al. 2022 and Xu et al. 2021), where the Hessian is tiny; on
stiff stretches their steps are limited by stability (prefer "Radau" there).
"""

from __future__ import annotations

import time

import numpy as np
from scipy import integrate

from .._kernels import dense as _kd
from .._kernels import erk as _ke
from .._problem import Problem
from ._guard import StopRun
from .solution import Solution

__all__ = ["COMPILED", "solve_compiled"]


def _tableau(cls, kind):
    """The tableau tuple ``(A, B, C, E, E3, D, A_extra, C_extra)`` the kernel expects."""
    f = lambda v: np.ascontiguousarray(v, dtype=np.float64)  # noqa: E731
    if kind == _ke.DOP853:
        return (f(cls.A), f(cls.B), f(cls.C), f(cls.E5), f(cls.E3), f(cls.D),
                f(cls.A_EXTRA), f(cls.C_EXTRA))
    return (f(cls.A), f(cls.B), f(cls.C), f(cls.E), np.zeros(0), f(cls.P),
            np.zeros((0, 1)), np.zeros(0))


#: method name -> (kernel kind, scipy class holding the tableau, dense degree)
COMPILED = {
    "ERK853": (_ke.DOP853, integrate.DOP853, 7),
    "ERK45": (_ke.RK45, integrate.RK45, 4),
}

_MIN_CHUNK, _MAX_CHUNK, _CHUNK_SECONDS = 16, 8192, 0.1


def kernel_problem(prob: Problem) -> tuple:
    """The problem tuple of :mod:`flowlab._kernels.erk` (its own copy of the parameters)."""
    return (prob.code, prob._tk.copy(), prob.n, prob.d1, prob.XT, prob.y, prob.scale,
            np.ascontiguousarray(prob.kidx, dtype=np.int64),
            np.ascontiguousarray(prob.ksign, dtype=np.float64),
            np.empty(prob.m), np.empty(prob._tk.size))


def solve_compiled(prob: Problem, t_end: float, *, method: str, rtol: float, atol: float,
                   t_eval, gtol, max_steps, first_step, max_step, dense: bool, progress, save,
                   checkpoint_every: float, t0: float, stop_loss: float | None = None,
                   prefix: Solution | None = None) -> Solution:
    """Run one compiled explicit flow; the arguments are those of :func:`flowlab.flow`.

    ``stop_loss`` (not an option of ``flow``) ends the run at the first step
    where the loss is at or below that level; the returned solution then
    ends there (``t_end`` = ``t_final``), and its dense output brackets the
    crossing.  :func:`flowlab.analysis.flow_initial_stage` uses it.
    """
    from .solve import Recorder
    kind, cls, degree = COMPILED[method]
    tab = _tableau(cls, kind)
    order = int(cls.error_estimator_order)
    rec = Recorder(prob, t_end, method=method, rtol=rtol, atol=atol, t_eval=t_eval,
                   dense=dense, progress=progress, save=save,
                   checkpoint_every=checkpoint_every, t0=t0, prefix=prefix)
    kp = kernel_problem(prob)
    P = prob.size
    y = prob.u0.copy()
    f = np.empty(P)
    _ke.rhs(kp, y, f)
    stats = np.zeros(5, dtype=np.int64)
    stats[0] = 1
    lam = np.zeros(2)
    max_step = np.inf if max_step is None else float(max_step)
    if first_step is None:
        h_abs = _ke.initial_step(kp, t0, y, f, t_end, max_step, order, rtol, atol,
                                 np.empty(P), np.empty(P))
        stats[0] += 1
    else:
        h_abs = min(float(first_step), t_end - t0)
    want_dense = bool(dense) or t_eval is not None
    lob = _kd.lobatto_nodes(degree)
    gtol_k = -1.0 if gtol is None else float(gtol)
    stop_k = -1.0 if stop_loss is None else float(stop_loss)
    t, chunk, taken = float(t0), _MIN_CHUNK, 0
    status, message = "finished", f"reached t_end = {t_end:.6g}"
    try:
        while True:
            budget = chunk if max_steps is None else min(chunk, max_steps - taken)
            out_t = np.empty(budget)
            out_y = np.empty((budget, P))
            out_v = np.empty((budget if want_dense else 0, degree + 1, P))
            clock = time.perf_counter()
            code, k, t_new, h_abs = _ke.advance(kind, tab, order, kp, t, t_end, y, f, h_abs,
                                                rtol, atol, max_step, gtol_k, stop_k, budget,
                                                want_dense, lob, out_t, out_y, out_v, stats,
                                                lam, False)
            elapsed = time.perf_counter() - clock
            t_prev = t
            for s in range(k):
                rec.step(t_prev, out_t[s], out_y[s], values=out_v[s] if want_dense else None)
                t_prev = out_t[s]
            t, taken = t_new, taken + k
            if code == _ke.FINISHED:
                break
            if code == _ke.LEVEL:
                message = (f"the loss reached {stop_loss:.6g} at t = {t:.6g} "
                           f"(requested t_end = {t_end:.6g})")
                rec.t_end = t
                break
            if code == _ke.STEADY:
                gnorm = float(np.linalg.norm(f))
                status = "steady_state"
                message = f"||grad L|| = {gnorm:.3g} < gtol = {gtol:.3g} at t = {t:.6g}"
                break
            if code == _ke.TOO_SMALL:
                status = "failed"
                message = (f"{method} failed at t = {t:.6g}: the step size h = {h_abs:.3g} fell "
                           "below 10 ulp of t, or is not finite (non-finite values or a "
                           "singularity); try method='Radau'")
                break
            if max_steps is not None and taken >= max_steps:
                status = "max_steps"
                message = (f"stopped after max_steps = {max_steps} steps at t = {t:.6g}; "
                           "raise max_steps or resume")
                break
            if elapsed < _CHUNK_SECONDS:
                chunk = min(2 * chunk, _MAX_CHUNK)
    except KeyboardInterrupt:
        status = "interrupted"
        message = f"interrupted at t = {rec.t_last:.6g}; continue with flowlab.resume(sol)"
    except StopRun as exc:
        status, message = "failed", f"{method} stopped: {exc}"
    rec.stats.update(nfev=int(stats[0]), njev=0, nlu=0)
    rec.info["rejected_steps"] = int(stats[1])
    return rec.close(status, message)
