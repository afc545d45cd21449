"""scipy's solvers stepped by hand (the methods "RK23", "RK45", "DOP853", "Radau", "BDF",
"LSODA" of :func:`flowlab.flow`), so that a run can show a progress bar, stop at a steady
state, checkpoint to disk and keep an exact dense output: every step goes through a
:class:`~flowlab._flow.recorder.Recorder`.

:class:`ScipyRun` also runs the population flow and the PyTorch bridge's scipy methods;
:func:`step_scipy` steps ``method="auto"``'s stiff stretches.
"""

from __future__ import annotations

import numpy as np

from . import _guard
from .options import IMPLICIT, SCIPY
from .recorder import Recorder
from .solution import Solution

__all__ = ["ScipyRun", "step_scipy", "max_steps_message", "non_finite_error"]


class ScipyRun:
    """One run of a scipy ``OdeSolver`` stepped by hand."""

    #: the recorder class of the run (the PyTorch bridge records its own Solution class)
    recorder = Recorder

    def __init__(self, prob, t_end: float, **opts):
        self.prob, self.t_end, self.opts = prob, t_end, opts
        self.rec = self.recorder.of_run(prob, t_end, opts)

    def run(self) -> Solution:
        prob, o, rec = self.prob, self.opts, self.rec
        kw = dict(rtol=o["rtol"], atol=o["atol"], max_step=o["max_step"])
        if o["first_step"] is not None:
            kw["first_step"] = o["first_step"]
        if o["method"] in IMPLICIT:
            kw["jac"] = prob.jac
        solver = SCIPY[o["method"]](prob.rhs, o["t0"], prob.u0.copy(), self.t_end, **kw)
        status, message = "finished", f"reached t_end = {self.t_end:.6g}"
        try:
            status, message = step_scipy(solver, rec, prob, o["method"], o["gtol"],
                                         o["max_steps"])
        except KeyboardInterrupt:
            status = "interrupted"
            message = f"interrupted at t = {rec.t_last:.6g}; continue with flowlab.resume(sol)"
        except _guard.StopRun as exc:
            status, message = "failed", f"{o['method']} stopped: {exc}"
        except (ValueError, np.linalg.LinAlgError) as exc:
            if not non_finite_error(exc):
                raise
            status = "failed"
            message = (f"{o['method']} failed at t = {solver.t:.6g}: the Jacobian (the Hessian "
                       "of the loss) has non-finite entries, so the parameters or the data "
                       "overflow there; rescale them, or use an explicit method")
        rec.stats.update(nfev=solver.nfev, njev=solver.njev, nlu=solver.nlu)
        return rec.close(status, message)


def step_scipy(solver, rec, prob, name, gtol, max_steps, pause=None) -> tuple[str, str]:
    """Step a scipy ``OdeSolver`` to its end, each step registered with ``rec``.

    Returns (status, message): the solver's end ("finished", or "failed" with its
    message), a gradient norm below ``gtol`` ("steady_state"), ``max_steps`` steps of
    the run (``rec.stats["nsteps"]``, "max_steps"), or ("running", "") when
    ``pause(solver)``, asked after every step that leaves the solver running, returns
    true (``method="auto"`` hands the flow back to its explicit stepper that way).
    """
    while solver.status == "running":
        t_old = solver.t
        msg = solver.step()
        if solver.status == "failed":
            return "failed", f"{name} failed at t = {solver.t:.6g}: {msg}"
        interp = solver.dense_output() if (rec.dense is not None or
                                           rec.t_eval is not None) else None
        rec.step(t_old, solver.t, solver.y, interp=interp)
        if solver.status != "running":
            break
        if gtol is not None:
            gnorm = np.linalg.norm(prob.grad(solver.y))
            if gnorm < gtol:
                return "steady_state", (f"||grad L|| = {gnorm:.3g} < gtol = {gtol:.3g} at "
                                        f"t = {solver.t:.6g}")
        if max_steps is not None and rec.stats["nsteps"] >= max_steps:
            return max_steps_message(max_steps, solver.t)
        if pause is not None and pause(solver):
            return "running", ""
    return "finished", f"reached t_end = {rec.t_end:.6g}"


def max_steps_message(max_steps, t) -> tuple[str, str]:
    """(status, message) of a run stopped by its step budget."""
    return "max_steps", (f"stopped after max_steps = {max_steps} steps at t = {t:.6g}; "
                         "raise max_steps or resume")


def non_finite_error(exc: Exception) -> bool:
    """True for numpy/scipy's errors about infs or NaNs in a matrix."""
    text = str(exc).lower()
    return "inf" in text or "nan" in text
