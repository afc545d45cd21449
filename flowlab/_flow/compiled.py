"""Compiled explicit Runge-Kutta flows: ``method="ERK853"`` and ``method="ERK45"``.

The step loop of :mod:`flowlab._kernels.erk` runs in numba in chunks of steps;
between chunks this module feeds the accepted steps, with their continuous
extension at the Chebyshev-Lobatto nodes, to the same
:class:`~flowlab._flow.recorder.Recorder` (outputs, ``t_eval``, progress bar,
checkpoints) and :class:`~flowlab._flow.dense.DenseOutput` as the scipy path, so
the result is the same :class:`~flowlab._flow.solution.Solution`.

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
from ._stepper import CONFIRM, EXPLICIT_STEP_LIMIT, POWER_ITERATIONS
from .recorder import Recorder
from .scipy_run import max_steps_message
from .solution import Solution

__all__ = ["COMPILED", "solve_compiled"]


def _tableau(cls, kind):
    """The :data:`flowlab._kernels.erk.Tableau` of the scipy solver class ``cls``."""
    f = lambda v: np.ascontiguousarray(v, dtype=np.float64)  # noqa: E731
    if kind == _ke.DOP853:
        return _ke.Tableau(A=f(cls.A), B=f(cls.B), C=f(cls.C), E=f(cls.E5), E3=f(cls.E3),
                           D=f(cls.D), A_extra=f(cls.A_EXTRA), C_extra=f(cls.C_EXTRA))
    return _ke.Tableau(A=f(cls.A), B=f(cls.B), C=f(cls.C), E=f(cls.E), E3=np.zeros(0),
                       D=f(cls.P), A_extra=np.zeros((0, 1)), C_extra=np.zeros(0))


#: method name -> (kernel kind, scipy class holding the tableau, dense degree)
COMPILED = {
    "ERK853": (_ke.DOP853, integrate.DOP853, 7),
    "ERK45": (_ke.RK45, integrate.RK45, 4),
}

_MIN_CHUNK, _MAX_CHUNK, _CHUNK_SECONDS = 16, 8192, 0.1


def kernel_problem(prob: Problem) -> _ke.KernelProblem:
    """The kernel form of ``prob`` for :mod:`flowlab._kernels.erk` (its own copy of the
    parameters)."""
    return _ke.KernelProblem(code=prob.code, tk=prob._tk.copy(), n=prob.n, d1=prob.d1,
                             XT=prob.XT, y=prob.y, scale=prob.scale,
                             kidx=np.ascontiguousarray(prob.kidx, dtype=np.int64),
                             ksign=np.ascontiguousarray(prob.ksign, dtype=np.float64),
                             residual=np.empty(prob.m), gk=np.empty(prob._tk.size))


class ErkLoop:
    """The compiled step loop of one explicit method, run in chunks that feed a
    :class:`~flowlab._flow.recorder.Recorder`; the state (t, y, f, h_abs) and the counters
    (``stats``: right-hand sides, rejected steps, stiffness counters; ``lam``: the last and
    largest estimate of lambda_max; slots named in :mod:`flowlab._kernels.erk`) persist
    between calls of :meth:`run`, so that a run can be continued after a stop (a stiffness
    declaration, a stretch handed to another stepper: :mod:`flowlab._flow.auto`)."""

    def __init__(self, prob: Problem, rec, method: str, *, t0: float, rtol: float,
                 atol: float, max_step: float, first_step, gtol, stop_loss, t_end: float):
        kind, cls, degree = COMPILED[method]
        self.prob, self.rec, self.method = prob, rec, method
        self.kind, self.tab, self.order = kind, _tableau(cls, kind), int(cls.error_estimator_order)
        self.degree, self.lob = degree, _kd.lobatto_nodes(degree)
        self.rtol, self.atol = rtol, atol
        self.max_step = np.inf if max_step is None else float(max_step)
        self.gtol_k = -1.0 if gtol is None else float(gtol)
        self.stop_k = -1.0 if stop_loss is None else float(stop_loss)
        self.want_dense = rec.dense is not None or rec.t_eval is not None
        self.kp = kernel_problem(prob)
        self.stats = np.zeros(_ke.STATS_SIZE, dtype=np.int64)
        self.lam = np.zeros(2)
        self.chunk = _MIN_CHUNK
        self.restart(float(t0), prob.u0, first_step, t_end)

    def restart(self, t: float, y, first_step, t_end: float) -> None:
        """Continue from (t, y): a new field and, unless ``first_step``, a new initial step."""
        P = self.prob.size
        self.t, self.y = float(t), np.array(y, dtype=np.float64)
        self.f = np.empty(P)
        _ke.rhs(self.kp, self.y, self.f)
        self.stats[_ke.ST_NFEV] += 1
        self.stats[_ke.ST_NEAR] = self.stats[_ke.ST_BELOW] = 0
        if first_step is None:
            self.h_abs = _ke.initial_step(self.kp, self.t, self.y, self.f, t_end, self.max_step,
                                          self.order, self.rtol, self.atol, np.empty(P),
                                          np.empty(P))
            self.stats[_ke.ST_NFEV] += 1
        else:
            self.h_abs = min(float(first_step), t_end - self.t)

    def run(self, t_end: float, max_steps: int | None, stiff_stop: bool) -> tuple[int, int]:
        """Step toward ``t_end`` until the kernel stops (finished, a level, a steady state,
        a failure, a stiffness declaration with ``stiff_stop``) or ``max_steps`` steps
        (None: no limit) were taken; returns (kernel status code, steps taken), with
        RUNNING when the step budget ran out."""
        P, rec, taken = self.prob.size, self.rec, 0
        while True:
            budget = self.chunk if max_steps is None else min(self.chunk, max_steps - taken)
            if budget <= 0:
                return _ke.RUNNING, taken
            out_t = np.empty(budget)
            out_y = np.empty((budget, P))
            out_v = np.empty((budget if self.want_dense else 0, self.degree + 1, P))
            clock = time.perf_counter()
            code, k, t_new, self.h_abs = _ke.advance(
                self.kind, self.tab, self.order, self.kp, self.t, t_end, self.y, self.f,
                self.h_abs, self.rtol, self.atol, self.max_step, self.gtol_k, self.stop_k,
                budget, self.want_dense, self.lob, out_t, out_y, out_v, self.stats, self.lam,
                stiff_stop)
            elapsed = time.perf_counter() - clock
            t_prev = self.t
            for s in range(k):
                rec.step(t_prev, out_t[s], out_y[s],
                         values=out_v[s] if self.want_dense else None)
                t_prev = out_t[s]
            self.t, taken = t_new, taken + k
            if code != _ke.RUNNING:
                return code, taken
            if elapsed < _CHUNK_SECONDS:
                self.chunk = min(2 * self.chunk, _MAX_CHUNK)

    def message(self, code: int, stop_loss=None, t_end=None, gtol=None) -> tuple[str, str]:
        """(status, message) for a kernel status code that ends a run."""
        t = self.t
        if code == _ke.FINISHED:
            return "finished", f"reached t_end = {t_end:.6g}"
        if code == _ke.LEVEL:
            return "finished", (f"the loss reached {stop_loss:.6g} at t = {t:.6g} "
                                f"(requested t_end = {t_end:.6g})")
        if code == _ke.STEADY:
            gnorm = float(np.linalg.norm(self.f))
            return "steady_state", f"||grad L|| = {gnorm:.3g} < gtol = {gtol:.3g} at t = {t:.6g}"
        return "failed", (f"{self.method} failed at t = {t:.6g}: the step size h = "
                          f"{self.h_abs:.3g} fell below 10 ulp of t, or is not finite "
                          "(non-finite values or a singularity); try method='Radau'")


def solve_compiled(prob: Problem, t_end: float, *, method: str, rtol: float, atol: float,
                   t_eval, gtol, max_steps, first_step, max_step, dense: bool, progress, save,
                   checkpoint_every: float, t0: float, stop_loss: float | None = None,
                   prefix: Solution | None = None) -> Solution:
    """Run one compiled explicit flow; the arguments are those of :func:`flowlab.flow`.

    ``stop_loss`` (not an option of ``flow``) ends the run at the first step
    where the loss is at or below that level; the returned solution then
    ends there (``t_end`` = ``t_final``), and its dense output brackets the
    crossing.  :func:`flowlab.analysis.flow_initial_stage` uses it.

    A forced explicit method on a stiff flow does not take millions of steps silently:
    when the kernel declares stiffness (Hairer's test, see :mod:`flowlab._flow.auto`),
    30 power iterations on the Hessian-vector product confirm lambda_max, and if the
    steps left at the stability bound, (t_end - t) lambda_max / bound, exceed
    ``EXPLICIT_STEP_LIMIT`` (10^6), the run stops with status "stiff" and a message that
    names lambda_max and ``method="auto"`` (not with ``stop_loss``: such a run ends at a
    level, not at t_end).
    """
    rec = Recorder(prob, t_end, method=method, rtol=rtol, atol=atol, t_eval=t_eval,
                   dense=dense, progress=progress, save=save,
                   checkpoint_every=checkpoint_every, t0=t0, prefix=prefix)
    loop = None
    try:
        loop = ErkLoop(prob, rec, method, t0=t0, rtol=rtol, atol=atol, max_step=max_step,
                       first_step=first_step, gtol=gtol, stop_loss=stop_loss, t_end=t_end)
        watch = stop_loss is None
        taken = 0
        while True:
            code, k = loop.run(t_end, None if max_steps is None else max_steps - taken,
                               watch)
            taken += k
            if code != _ke.STIFF:
                break
            bound = _ke.STIFF_HLAMBDA[loop.kind]
            lam = prob.lambda_max(loop.y, POWER_ITERATIONS)
            left = (t_end - loop.t) * lam / bound
            if loop.h_abs * lam >= CONFIRM * bound and left > EXPLICIT_STEP_LIMIT:
                break
        if code == _ke.STIFF:
            status = "stiff"
            message = (f"the flow is stiff at t = {loop.t:.6g}: lambda_max of the Hessian is "
                       f"about {lam:.3g}, so {method}'s steps are bounded by its stability "
                       f"interval (h <= {bound / lam:.3g}) and about {left:.3g} more steps "
                       f"would be needed to reach t_end = {t_end:.6g}; use method='auto' "
                       "(the default: Radau IIA on the stiff stretches) or method='Radau'")
        elif code == _ke.RUNNING:
            status, message = max_steps_message(max_steps, loop.t)
        else:
            status, message = loop.message(code, stop_loss, t_end, gtol)
            if code == _ke.LEVEL:
                rec.t_end = loop.t
    except KeyboardInterrupt:
        status = "interrupted"
        message = f"interrupted at t = {rec.t_last:.6g}; continue with flowlab.resume(sol)"
    except StopRun as exc:
        status, message = "failed", f"{method} stopped: {exc}"
    stats = loop.stats if loop is not None else np.zeros(_ke.STATS_SIZE, dtype=np.int64)
    rec.stats.update(nfev=int(stats[_ke.ST_NFEV]), njev=0, nlu=0)
    rec.info["rejected_steps"] = int(stats[_ke.ST_REJECTED])
    return rec.close(status, message)
