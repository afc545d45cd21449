"""Which compiled stepper advances an exact flow: explicit Dormand-Prince or Radau IIA.

Both steppers (:func:`flowlab._kernels.explicit.run`, :func:`flowlab._kernels.radau.run`)
call the same model hooks and return at the same points (an event, a full buffer, the
end), so an engine can hand each stretch of its flow to either.

The rule (``stepper="auto"``, the default):

- start explicit: a right-hand side costs O(n m d) (O(n) in 1-d), nothing of size P^2
  is allocated, and no Jacobian is needed;
- the explicit stepper estimates h lambda_max after every accepted step from two of its
  stages (Hairer's test: for a gradient flow the Jacobian is minus the Hessian, with
  real eigenvalues); when its steps sit near the stability bound (h lambda_max > 2.5)
  for 15 accepted steps in a row, the estimate is checked by 30 power iterations on the
  model's analytic Hessian-vector product (matrix-free, O(n m d) each: about 30 right-hand
  sides, once per suspicion); if h lambda_max is then at least 0.8 of the stability
  interval, the flow is stiff at this tolerance, and the stretch goes to Radau IIA with
  the exact Jacobian, if the dense Jacobian fits (state size <= ``DENSE_MAX``);
- Radau knows the Jacobian's eigenvalues (it diagonalises it); when its step size h
  gives h lambda_max below ``NONSTIFF_HLAMBDA`` (well inside the explicit stability
  interval, about 3.3), the explicit stepper could take the same steps at a fraction of
  the cost, and the flow goes back to it.

``stepper="explicit"`` and ``stepper="radau"`` force one stepper.  A forced explicit
stepper on a stiff flow stops with status "stiff" when the steps left would exceed
``EXPLICIT_STEP_LIMIT`` at the stability bound (and so does "auto" when the state is too
large for a dense Jacobian): the message gives the estimate of lambda_max and the choice
that would do better.  Every switch is listed in ``sol.info["stepper_switches"]`` as
(t, stepper, h lambda_max).
"""

from __future__ import annotations

import numpy as np

from .._kernels import erk as _ke
from .._kernels import explicit as _ex
from .._kernels import radau as _rd
from .._problem import power_lambda

#: stepper names accepted by ``flow(..., stepper=...)``
STEPPERS = ("auto", "explicit", "radau")
#: largest state for which Radau's dense Jacobian is allocated (about ten n x n arrays:
#: 320 MB at n = 2000)
DENSE_MAX = 2000
#: Radau hands back to the explicit stepper below this h lambda_max
NONSTIFF_HLAMBDA = _rd.NONSTIFF_HLAMBDA
#: a stiff flow that would need more explicit steps than this stops with status "stiff"
EXPLICIT_STEP_LIMIT = 10 ** 6
#: power iterations on the Hessian-vector product that confirm a stiffness estimate
POWER_ITERATIONS = 30
#: the flow is stiff when h lambda_max (power iteration) is at least this fraction of the
#: explicit stepper's stability interval
CONFIRM = 0.8


class StiffStop(RuntimeError):
    """Raised when an explicit stepper would take too many steps on a stiff flow."""


def check_stepper(stepper) -> str:
    """Validate the ``stepper`` option."""
    if stepper is None:
        return "auto"
    if not isinstance(stepper, str) or stepper.lower() not in STEPPERS:
        raise ValueError(f"`stepper` must be one of {', '.join(map(repr, STEPPERS))}, got "
                         f"{stepper!r}.")
    return stepper.lower()


class Stepper:
    """The stepper of one exact flow, its switches and its work arrays."""

    def __init__(self, policy: str):
        self.policy = policy
        self.mode = "radau" if policy == "radau" else "explicit"
        self.lin = None
        self.xw = None
        self.switches = []          # (t, stepper, h lambda_max)
        self.steps = {"explicit": 0, "radau": 0}
        self.stiff_note = None
        self.power_estimates = []   # (t, stage estimate, power-iteration lambda_max)
        self._empty_lin = self._empty_xw = None

    @property
    def explicit(self) -> bool:
        return self.mode == "explicit"

    def run(self, model, t, u, t_end, stats, rtol, atol, budget, out_t, out_nodes, out_loss,
            armed):
        """One call of the current stepper; returns (status, steps)."""
        n = u.size
        h = stats[_rd.S_H]
        if self.mode == "radau":
            if self.lin is None or self.lin.J.shape[0] != n:
                self.lin = _rd.new_lin(n)
            st, k = _rd.run(model, t, u, t_end, h, rtol, atol, budget, out_t,
                            out_nodes, out_loss, armed, stats, self.lin)
        else:
            self._explicit_work(n)
            st, k = _ex.run(model, t, u, t_end, h, rtol, atol, budget, out_t,
                            out_nodes, out_loss, armed, stats, self.xw, True)
        self.steps[self.mode] += int(k)
        return st, k

    def arrays(self, n):
        """(lin, xw, mode) for :func:`flowlab._kernels.relu1d_stage.advance`, which runs
        the steppers itself: the current stepper's work arrays for a state of size n (the
        other one gets empty arrays) and its mode code."""
        if self.mode == "radau":
            if self.lin is None or self.lin.J.shape[0] != n:
                self.lin = _rd.new_lin(n)
            if self._empty_xw is None:
                self._empty_xw = _ex.new_work(0)
            return self.lin, self._empty_xw, 2 if self.policy == "auto" else 0
        self._explicit_work(n)
        if self._empty_lin is None:
            self._empty_lin = _rd.new_lin(0)
        return self._empty_lin, self.xw, 3

    def _explicit_work(self, n):
        """The explicit stepper's work arrays, for states of up to n entries (kept, with
        the stiffness count, when a 1-d layout changes size)."""
        if self.xw is None or _ex.work_size(self.xw) < n:
            old = self.xw
            self.xw = _ex.new_work(n)
            if old is not None:
                self.xw.counts[:] = old.counts
                self.xw.lam[:] = old.lam

    def count(self, k):
        """Steps taken by the current stepper (when the engine ran it itself)."""
        self.steps[self.mode] += int(k)

    def h_lambda(self, stats) -> float:
        """The current stepper's estimate of h lambda_max (h the next step size)."""
        h = float(stats[_rd.S_H])
        if self.mode == "explicit":
            return h * float(self.xw.lam[_ke.LAM_LAST]) if self.xw is not None else 0.0
        return float(_rd.h_lambda(self.lin, h))

    def after(self, st, t, t_end, n_state, stats, hvp=None):
        """Decide on the stepper after a call that returned ``st`` at time t.

        ``hvp(v)``: the stage Hessian (in state coordinates) times v, the model's analytic
        Hessian-vector product; when given, the explicit stepper's estimate of lambda_max
        (from two stages of one step) is confirmed by power iteration on it before the
        flow is called stiff.  Raises :class:`StiffStop` when an explicit stepper would
        take more than ``EXPLICIT_STEP_LIMIT`` steps on a stiff flow and nothing better
        is available.
        """
        if self.mode == "explicit" and st == _ex.STIFF:
            lam = float(self.xw.lam[_ke.LAM_LAST])
            h = float(stats[_rd.S_H])
            if hvp is not None:
                lam_pow = power_lambda(hvp, n_state, POWER_ITERATIONS)
                self.power_estimates.append((float(t), lam, lam_pow))
                if h * lam_pow < CONFIRM * _ex.STABILITY:
                    return                  # the step size is not at the stability bound
                lam = lam_pow
            if self.policy == "auto" and n_state <= DENSE_MAX:
                self._switch(t, "radau", h * lam)
                return
            left = (t_end - t) * lam / _ex.STABILITY
            if left > EXPLICIT_STEP_LIMIT:
                better = ("stepper='auto' or stepper='radau'" if n_state <= DENSE_MAX else
                          f"a larger tolerance or a shorter t_end (the state has {n_state} "
                          f"entries, above the {DENSE_MAX} for which a dense Jacobian is "
                          "formed)")
                raise StiffStop(
                    f"the flow is stiff at t = {t:.6g}: lambda_max of the Hessian is about "
                    f"{lam:.3g}, so the explicit stepper's steps are bounded by its stability "
                    f"interval (h <= {_ex.STABILITY / lam:.3g}) and about {left:.3g} more "
                    f"steps would be needed to reach t_end = {t_end:.6g}; use {better}")
            if self.stiff_note is None:
                self.stiff_note = (float(t), lam)
            return
        if self.mode == "radau" and self.policy == "auto":
            hl = self.h_lambda(stats)
            if np.isfinite(hl) and hl < NONSTIFF_HLAMBDA:
                self._switch(t, "explicit", hl)

    def _switch(self, t, to, hl):
        self.switches.append((float(t), to, float(hl)))
        self.mode = to
        if to == "explicit" and self.xw is not None:
            self.xw.counts[_ex.CT_NEAR] = 0          # a fresh stiffness count
            self.xw.counts[_ex.CT_BELOW] = 0

    def info(self) -> dict:
        out = {"stepper": self.policy, "stepper_switches": list(self.switches),
               "steps_explicit": self.steps["explicit"], "steps_radau": self.steps["radau"]}
        if self.xw is not None:
            out["lambda_max_estimate"] = float(self.xw.lam[_ke.LAM_MAX])
        if self.stiff_note is not None:
            out["stiff_from"] = self.stiff_note
        if self.power_estimates:
            out["lambda_max_power"] = list(self.power_estimates)
        return out
