"""``method="auto"``: the smooth flow's stepper chosen as it goes (the default for smooth
activations).

A gradient flow from a small or usual initialisation is often non-stiff for a long
time (the initial stage of condensation: the Hessian is tiny) and stiff afterwards
(a trained network's Hessian has eigenvalues spread over many decades).  An explicit
method is the cheapest on the first kind of stretch, an implicit one on the second.
The rule, in the spirit of LSODA's switching, with the stiffness measured rather than
guessed:

- start with the compiled ERK853 (:mod:`flowlab._flow.compiled`: scipy's DOP853 pair
  stepped in numba, O(P) memory, no Jacobian);
- after every accepted step it estimates h lambda_max from two of its stages (Hairer's
  test; the Jacobian of a gradient flow is minus the Hessian, with real eigenvalues);
  when its steps sit on the stability bound (h lambda_max > 6.1) for 15 steps in a
  row, the estimate is checked by 30 power iterations on the analytic Hessian-vector
  product (:meth:`flowlab._problem.Problem.hvp`: matrix-free, about 60 right-hand
  sides); if h lambda_max is at least 0.8 of the bound, the flow is stiff, and the
  stretch goes to scipy's Radau IIA with the exact Hessian as Jacobian, provided the
  dense P x P Jacobian is affordable (P <= ``DENSE_MAX``; otherwise the explicit
  method goes on, at its stability bound, and ``sol.info["stiff_note"]`` says so);
- a Radau step costs far more than an explicit one (a dense Jacobian, an LU
  factorisation, scipy's Python loop: about :func:`cost_ratio` (P) ERK853 steps, 3 at
  P = 60 and at P = 300), so it pays only where its steps are at least that many times the
  explicit stability bound.  Every ``CHECK_EVERY`` Radau steps lambda_max is measured
  again (30 power iterations); when Radau's mean step h over those steps has settled (it
  grew less than 2x since the previous check) and gives h lambda_max below
  ``cost_ratio(P)`` x 6.1, ERK853 would get there sooner, and the flow goes back to it;
  a later suspicion is then acted on only once lambda_max has doubled or after
  CHECK_EVERY x cost_ratio x 2^k explicit steps (k: the Radau stretches that did not
  pay), so that the two do not alternate and the trials cost a bounded share of the run.
  The rule depends on the flow only (never on clock time): a run is reproducible to the
  last bit.

``method="ERK853"`` and ``method="Radau"`` force one of them.  Every switch is listed in
``sol.info["stepper_switches"]`` as (t, stepper, h lambda_max); ``steps_explicit`` and
``steps_radau`` count the steps of each.  What it costs: one estimate per explicit step
(two vector norms), 30 Hessian-vector products per confirmed suspicion and per
``CHECK_EVERY`` Radau steps; on a flow that never turns stiff, auto is ERK853.
"""

from __future__ import annotations

import numpy as np
from scipy import integrate

from .._kernels import erk as _ke
from .._problem import Problem
from ._guard import StopRun
from ._stepper import CONFIRM, DENSE_MAX, POWER_ITERATIONS
from .compiled import ErkLoop
from .recorder import Recorder
from .scipy_run import max_steps_message, non_finite_error, step_scipy
from .solution import Solution

__all__ = ["solve_auto", "EXPLICIT"]

#: the explicit method of ``method="auto"``
EXPLICIT = "ERK853"
#: Radau steps between two measurements of lambda_max (for the switch back)
CHECK_EVERY = 10


def cost_ratio(P: int) -> float:
    """About how many ERK853 steps one Radau step costs at P parameters (40 data points,
    one BLAS thread, a quiet machine; bench/smooth_auto.py): 3.0 at P = 60 (0.17 ms
    against 0.058 ms a step) and 3.0 at P = 300 (0.74 ms against 0.24 ms), where scipy's
    Python loop dominates a Radau step.  Beyond P = 300 the dense Hessian and its LU
    factorisation take over; the ratio is assumed to grow as P^1.5 there (not
    calibrated)."""
    return 3.0 * max(1.0, P / 300.0) ** 1.5


#: after Radau did not pay at lambda_max, try it again only beyond this factor of it, or
#: after CHECK_EVERY x cost_ratio x 2^k explicit steps (k: the trials that did not pay)
RETRY_GROWTH = 2.0
#: Radau's step counts as settled when it grew by less than this factor over CHECK_EVERY
#: steps (a Radau stretch starts from the explicit step and grows it)
STALLED = 2.0


def solve_auto(prob: Problem, t_end: float, *, method: str, rtol: float, atol: float,
               t_eval, gtol, max_steps, first_step, max_step, dense: bool, progress, save,
               checkpoint_every: float, t0: float, prefix: Solution | None = None
               ) -> Solution:
    """Run one flow with the automatic stepper; the arguments are those of
    :func:`flowlab.flow`."""
    rec = Recorder(prob, t_end, method="auto", rtol=rtol, atol=atol, t_eval=t_eval,
                   dense=dense, progress=progress, save=save,
                   checkpoint_every=checkpoint_every, t0=t0, prefix=prefix)
    bound = _ke.STIFF_HLAMBDA[_ke.DOP853]
    switches, steps = [], {"explicit": 0, "radau": 0}
    lam_power, note = [], None
    retry_above = 0.0                        # lambda_max below which Radau did not pay
    retry_after, failed_trials = 0, 0        # ... unless this many explicit steps passed
    h_check = t_check = 0.0                  # Radau's mean step and time at the last check
    ratio = cost_ratio(prob.size)
    radau_stats = {"nfev": 0, "njev": 0, "nlu": 0}
    loop = solver = None
    mode = "explicit"
    status, message = "finished", f"reached t_end = {t_end:.6g}"

    def left():
        return None if max_steps is None else max_steps - rec.stats["nsteps"]

    rec.stepper_now = "ERK853 (auto)"
    try:
        loop = ErkLoop(prob, rec, EXPLICIT, t0=t0, rtol=rtol, atol=atol, max_step=max_step,
                       first_step=first_step, gtol=gtol, stop_loss=None, t_end=t_end)
        while True:
            if mode == "explicit":
                code, k = loop.run(t_end, left(), stiff_stop=prob.size <= DENSE_MAX)
                steps["explicit"] += k
                if code == _ke.RUNNING:
                    status, message = max_steps_message(max_steps, loop.t)
                    break
                if code != _ke.STIFF:
                    status, message = loop.message(code, None, t_end, gtol)
                    break
                waiting = steps["explicit"] < retry_after
                if waiting and loop.lam[_ke.LAM_LAST] < retry_above:
                    continue            # Radau did not pay: not before lambda_max doubled
                lam = prob.lambda_max(loop.y, POWER_ITERATIONS)
                lam_power.append(lam)
                if loop.h_abs * lam < CONFIRM * bound or (waiting and lam < retry_above):
                    continue            # a false alarm, or Radau did not pay here: go on
                switches.append((loop.t, "Radau", float(loop.h_abs * lam)))
                mode, h_check, t_check = "radau", loop.h_abs, loop.t
                rec.stepper_now = "Radau (auto)"
                solver = integrate.Radau(prob.rhs, loop.t, loop.y.copy(), t_end, rtol=rtol,
                                         atol=atol, max_step=max_step, jac=prob.jac)
                continue
            # -- a stiff stretch: Radau IIA with the exact Jacobian ------------------

            def hand_back(solver):
                """After each Radau step that leaves it running (``steps["radau"]`` counts
                them): every CHECK_EVERY steps, does Radau still pay?"""
                nonlocal h_check, t_check, failed_trials, retry_above, retry_after
                steps["radau"] += 1
                if steps["radau"] % CHECK_EVERY:
                    return False
                lam = prob.lambda_max(solver.y, POWER_ITERATIONS)
                lam_power.append(lam)
                # Radau's mean step over the window (its last step can dip)
                h = (solver.t - t_check) / CHECK_EVERY
                stalled = h < STALLED * h_check
                h_check, t_check = h, solver.t
                if not (stalled and h * lam < ratio * bound):
                    return False
                switches.append((solver.t, EXPLICIT, float(h * lam)))
                failed_trials += 1
                retry_above = RETRY_GROWTH * lam
                retry_after = steps["explicit"] + int(CHECK_EVERY * ratio * 2 ** failed_trials)
                return True

            status, message = step_scipy(solver, rec, prob, "Radau", gtol, max_steps,
                                         pause=hand_back)
            _add_counts(radau_stats, solver)
            done, solver = solver, None
            if status != "running":                 # not handed back: the run ended
                break
            mode = "explicit"
            rec.stepper_now = "ERK853 (auto)"
            loop.restart(done.t, done.y, done.step_size, t_end)
    except KeyboardInterrupt:
        status = "interrupted"
        message = f"interrupted at t = {rec.t_last:.6g}; continue with flowlab.resume(sol)"
    except StopRun as exc:
        status, message = "failed", f"auto ({mode} stretch) stopped: {exc}"
    except (ValueError, np.linalg.LinAlgError) as exc:
        if not non_finite_error(exc):
            raise
        status = "failed"
        message = (f"Radau failed at t = {rec.t_last:.6g}: the Jacobian (the Hessian of the "
                   "loss) has non-finite entries, so the parameters or the data overflow "
                   "there; rescale them")
    if solver is not None:                   # stopped inside a Radau stretch
        _add_counts(radau_stats, solver)
    erk_stats = loop.stats if loop is not None else np.zeros(_ke.STATS_SIZE, dtype=np.int64)
    rec.stats.update(nfev=int(erk_stats[_ke.ST_NFEV]) + radau_stats["nfev"],
                     njev=radau_stats["njev"], nlu=radau_stats["nlu"])
    if (loop is not None and loop.lam[_ke.LAM_MAX] > 0 and prob.size > DENSE_MAX
            and erk_stats[_ke.ST_DECLARED]):
        note = (f"the flow turned stiff (h lambda_max at the explicit stability bound "
                f"{bound}), but the state ({prob.size} parameters) is too large for Radau's "
                f"dense Jacobian (at most {DENSE_MAX}): the explicit steps went on")
    rec.info.update(stepper_switches=switches, steps_explicit=steps["explicit"],
                    steps_radau=rec.stats["nsteps"] - steps["explicit"],
                    rejected_steps=int(erk_stats[_ke.ST_REJECTED]),
                    lambda_max_estimate=(float(loop.lam[_ke.LAM_MAX]) if loop is not None
                                         else 0.0),
                    lambda_max_power=[float(v) for v in lam_power],
                    explicit_method=EXPLICIT)
    if note is not None:
        rec.info["stiff_note"] = note
    return rec.close(status, message)


def _add_counts(counts: dict, solver) -> None:
    for key in counts:
        counts[key] += getattr(solver, key)
