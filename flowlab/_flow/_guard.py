"""Guards of every flow: the start state, a watchdog on the steps, and loss monotonicity.

- :func:`check_start`: the loss and gradient at the start must be finite; a
  network whose outputs overflow on the data is refused with a ValueError
  that names the non-finite quantity, before any stepping (a NaN first step
  used to make explicit solvers loop forever).
- :class:`Watchdog`: every accepted step of the scipy, compiled and PyTorch
  flows passes through it.  It stops the run (status "failed", with a message
  naming the quantity) when the state or the loss is not finite, when the step
  size falls below 10 units in the last place of t (no progress), when the
  steps it has stored reach the memory limit, or when the run cannot finish: at
  its current rate of steps, the solution it stores would outgrow the memory
  of the machine a thousand times over (an explicit method chattering across
  the switching surfaces of a ReLU network takes steps of 1e-8 for ever).  The
  projection assumes the step size stays as it is, while a gradient flow's
  steps usually grow by orders of magnitude as it converges (plateau-sine at
  rtol 1e-13: 5e-5 at t = 0.5, 0.2 at t = 2000), hence the margin.
- :func:`monotonicity`: the loss of a gradient flow never increases.  After a
  run, every rise of the recorded loss is compared with the largest rise the
  integration tolerances allow (see its docstring); a larger one is reported
  in ``sol.info["monotone"]`` and as a :class:`LossRiseWarning`.
"""

from __future__ import annotations

import math
import os

import numpy as np

__all__ = ["check_start", "Watchdog", "StopRun", "monotonicity",
           "LossRiseWarning"]

_EPS = np.finfo(np.float64).eps


class LossRiseWarning(RuntimeWarning):
    """The loss of a gradient flow rose by more than its integration tolerances allow."""


class StopRun(Exception):
    """Raised by the watchdog inside a step loop; the run ends with status "failed"."""


def _memory_limit() -> float:
    """Bytes a run may project to store: 80% of the machine's physical memory."""
    try:
        return 0.8 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):       # pragma: no cover - non-POSIX
        return 8.0 * 2 ** 30


#: Storage a run may project before the watchdog stops it (bytes).
MEMORY_LIMIT = _memory_limit()
#: Steps between two projections of the watchdog; three projections in a row must agree.
WINDOW = 8192
#: A projection stops a run only when it exceeds the memory limit this many times over.
PROJECTION_MARGIN = 1000.0


def check_start(prob, u0, t0: float = 0.0) -> None:
    """Raise ValueError unless the loss and gradient at the start are finite.

    ``prob`` has ``loss_grad(u) -> (L, grad)`` (a :class:`flowlab._problem.Problem`
    or a :class:`flowlab.torch.flat.FlatModule`).
    """
    u0 = np.asarray(u0, dtype=np.float64)
    big = float(np.abs(u0).max()) if u0.size else 0.0
    with np.errstate(all="ignore"):
        L, g = prob.loss_grad(u0)
    L = float(L)
    hint = _overflow_hint(prob, big)
    if not math.isfinite(L):
        raise ValueError(f"the loss at the start (t = {t0:g}) is {L} (not finite){hint}; the "
                         "flow cannot be integrated from there: rescale the parameters or the "
                         "data.")
    g = np.asarray(g, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(g))
    if bad.size:
        raise ValueError(f"the gradient at the start (t = {t0:g}) is not finite ({bad.size} of "
                         f"{g.size} entries, the first at index {int(bad[0])}){hint}; rescale "
                         "the parameters or the data.")


def _overflow_hint(prob, big: float) -> str:
    XT = getattr(prob, "XT", None)
    if XT is None:
        return f": the largest |parameter| is {big:.3g}"
    xmax = float(np.abs(XT[:-1]).max()) if XT.size else 0.0
    return (f": the network's outputs overflow on the data (largest |parameter| {big:.3g}, "
            f"largest |x| {xmax:.3g})")


_HINTS = {
    "explicit": ("explicit methods chatter across the switching surfaces of ReLU networks "
                 "(use method='exact') and are slow on stiff flows (use 'Radau'); or pass "
                 "t_eval with dense=False, or max_steps"),
    "implicit": ("the flow is badly scaled (parameters or data far from 1: rescale them) or "
                 "not smooth enough for this method; or pass t_eval with dense=False, or "
                 "max_steps"),
    "exact": ("the parameters or the data are badly scaled (far from 1: rescale them), or "
              "the events accumulate; or pass max_steps"),
}


class Watchdog:
    """Checks every accepted step of a run (see the module docstring).

    ``check(t_old, t_new, u_new)`` raises :class:`StopRun` with the message of
    the failure; ``advance(t, count)`` counts accepted steps (``check`` does it
    for one) and every ``WINDOW`` steps projects the storage of the rest of the
    run from ``bytes_per_step``.  ``kind`` ("explicit", "implicit" or "exact")
    picks the advice of the message.
    """

    def __init__(self, t0: float, t_end: float, kind: str = "explicit"):
        self.t_end = float(t_end)
        self.hint = _HINTS[kind]
        self.steps = 0
        self.mark = (float(t0), 0)          # (t, steps) at the last projection
        self.bytes_per_step = 0.0
        self.strikes = 0

    def check(self, t_old: float, t_new: float, u_new, loss: float | None = None,
              last: bool = False) -> None:
        """Raise StopRun for a non-finite state or loss, or a step below 10 ulp of t
        (not tested for the ``last`` step, which a solver may shorten to land on t_end)."""
        h = t_new - t_old
        if not np.all(np.isfinite(u_new)):
            bad = int(np.flatnonzero(~np.isfinite(np.asarray(u_new)))[0])
            raise StopRun(f"the parameters became non-finite at t = {t_new:.6g} (first at index "
                          f"{bad}): the flow overflowed; rescale the parameters or the data, or "
                          "lower the tolerances")
        if loss is not None and not math.isfinite(loss):
            raise StopRun(f"the loss became non-finite ({loss}) at t = {t_new:.6g}: the network's "
                          "outputs overflow; rescale the parameters or the data")
        if not last and not h > 10.0 * abs(np.spacing(t_old)):
            raise StopRun(f"the step size h = {h:.3g} at t = {t_old:.12g} is below 10 units in "
                          "the last place of t: the run makes no progress (a singularity or a "
                          "non-smooth right-hand side); for ReLU networks use method='exact'")
        self.advance(t_new, 1)

    def advance(self, t: float, count: int) -> None:
        """Count ``count`` accepted steps ending at ``t``; stop when the stored steps reach
        the memory limit; project every WINDOW steps."""
        self.steps += count
        stored = self.steps * self.bytes_per_step
        if stored > MEMORY_LIMIT and t < self.t_end:
            raise StopRun(
                f"the {self.steps} steps stored up to t = {t:.6g} take about "
                f"{stored / 2 ** 30:.3g} GiB, the memory limit "
                f"({MEMORY_LIMIT / 2 ** 30:.3g} GiB), before t_end = {self.t_end:.6g}; "
                f"{self.hint}")
        if self.steps - self.mark[1] >= WINDOW:
            self._project(t)

    def _project(self, t: float) -> None:
        """Stop when, at the rate of the last window, storing the rest of the run would
        need more than ``PROJECTION_MARGIN`` x ``MEMORY_LIMIT`` bytes (three windows in a
        row)."""
        t_mark, n_mark = self.mark
        self.mark = (t, self.steps)
        span, steps = t - t_mark, self.steps - n_mark
        if self.bytes_per_step <= 0.0 or span <= 0.0 or steps <= 0:
            return
        h = span / steps
        steps_left = (self.t_end - t) / h
        need = steps_left * self.bytes_per_step
        if need <= PROJECTION_MARGIN * MEMORY_LIMIT:
            self.strikes = 0
            return
        self.strikes += 1
        if self.strikes >= 3:
            raise StopRun(
                f"the run cannot finish: at t = {t:.6g} the steps have length about {h:.3g}, so "
                f"reaching t_end = {self.t_end:.6g} needs about {steps_left:.3g} more steps and "
                f"{need / 2 ** 30:.3g} GiB to store them, more than the memory limit "
                f"({MEMORY_LIMIT / 2 ** 30:.3g} GiB); {self.hint}")


def monotonicity(t, U, loss, prob, rtol: float, atol: float, steps_between=None) -> dict:
    """Compare every rise of the recorded loss with what the tolerances allow.

    The true flow decreases L.  Each accepted step of an embedded Runge-Kutta
    or implicit method has a local error e with ||e / s||_rms <= 1, where
    s_i = atol + rtol |u_i| (scipy's error control), so to first order it
    changes L by at most sqrt(P) ||g * s||_2 (g = grad L, Cauchy-Schwarz).
    The tolerance of a rise between two recorded points k steps apart is
    therefore

        tol = k sqrt(P) ||g * s||_2  +  16 m eps max(L_a, L_b)

    (the second term: rounding of the loss), with g the larger gradient of
    the two ends.  An absolute tolerance at or above the size of the largest
    parameter at the start (max |u(t0)|, or over the run if that is 0) controls
    nothing, and no rise is then attributed to it: only the rtol and rounding
    terms remain.

    Returns the dict stored in ``sol.info["monotone"]``: ``holds``,
    ``largest_rise`` (beyond tolerance, relative to it), ``at`` (the two times),
    ``rise``, ``tolerance``, ``rtol``, ``atol``, ``atol_used``.
    """
    loss = np.asarray(loss, dtype=np.float64)       # U: a sequence of states (rows)
    out = {"holds": True, "rise": 0.0, "tolerance": None, "at": None, "rtol": float(rtol),
           "atol": float(atol), "atol_used": float(atol), "checked": int(max(loss.size - 1, 0))}
    if loss.size < 2:
        return out
    scale_u = float(np.abs(np.asarray(U[0])).max()) if len(U[0]) else 0.0
    if scale_u == 0.0:
        scale_u = max(float(np.abs(np.asarray(u)).max(initial=0.0)) for u in U)
    atol_used = atol if atol < scale_u else 0.0
    out["atol_used"] = float(atol_used)
    m = float(getattr(prob, "m", 1) or 1)
    dL = np.diff(loss)
    rounding = 16.0 * m * _EPS * np.maximum(np.abs(loss[:-1]), np.abs(loss[1:]))
    cand = np.flatnonzero(dL > rounding)
    if steps_between is None:
        steps_between = np.ones(dL.size)
    worst = None
    P = len(U[0])
    for k in cand:
        ua, ub = np.asarray(U[k]), np.asarray(U[k + 1])
        with np.errstate(all="ignore"):
            ga, gb = prob.grad(ua), prob.grad(ub)
        s = atol_used + (rtol + _EPS) * np.maximum(np.abs(ua), np.abs(ub))
        first = max(np.linalg.norm(ga * s), np.linalg.norm(gb * s))
        tol = float(steps_between[k] * math.sqrt(P) * first + rounding[k])
        excess = dL[k] / tol if tol > 0 else np.inf
        if dL[k] > tol and (worst is None or excess > worst[0]):
            worst = (excess, k, tol)
    if worst is not None:
        _, k, tol = worst
        out.update(holds=False, rise=float(dL[k]), tolerance=tol,
                   at=[float(t[k]), float(t[k + 1])])
    return out


def rise_message(mono: dict) -> str:
    """The warning text for a failed monotonicity check."""
    a, b = mono["at"]
    why = ("" if mono["atol_used"] == mono["atol"] else
           f" (atol = {mono['atol']:.3g} is at least the size of the parameters, so it controls "
           "nothing and no rise is attributed to it)")
    return (f"the loss rose by {mono['rise']:.3g} between t = {a:.6g} and t = {b:.6g}, more than "
            f"the tolerance {mono['tolerance']:.3g} derived from rtol = {mono['rtol']:.3g} and "
            f"atol = {mono['atol']:.3g}{why}; a gradient flow's loss cannot rise, so the "
            "integration is not accurate there: lower rtol/atol (see sol.info['monotone'])")
