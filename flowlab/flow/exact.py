"""``method="exact"``: event-driven Filippov gradient flow of ReLU networks.

Dispatches to the univariate engine (:mod:`flowlab.flow.exact_1d`, O(n) per
step from prefix moments) for ``ReLU1D`` networks and 1-d ``TwoLayer`` relu
networks, and to the general engine (:mod:`flowlab.flow.exact_nd`, O(n m d) per
step) for ``TwoLayer`` relu networks with d > 1 and for bias-free ``TwoLayer`` relu
networks (``bias=False``, any d: their knots sit at x = 0, which the univariate
engine's moving knots do not describe).
"""

from __future__ import annotations

import time
import warnings

from .._progress import status_provider
from ..models import TwoLayer
from .exact_1d import Exact1D
from .exact_nd import ExactND


def solve_exact(prob, t_end, *, dense=True, t_eval=None, save=None, **opts):
    """Run the exact flow for the problem ``prob`` (see :func:`flowlab.flow`)."""
    net = prob.template
    general = isinstance(net, TwoLayer) and (net.input_dim > 1 or not net.has_bias)
    clock = time.perf_counter()
    engine = (ExactND if general else Exact1D)(prob, t_end, **opts)
    with status_provider(lambda: _status(engine, general)):
        status, message = engine.run()
    sol = engine.solution(status, message, time.perf_counter() - clock)
    if t_eval is not None:
        sol = _resample(sol, t_eval)
    if not dense:
        sol.dense = None
    if save is not None:
        from .solution import SAVE_LIMIT_BYTES
        sol.save(save, max_bytes=SAVE_LIMIT_BYTES)
    if status not in ("finished", "steady_state", "interrupted"):
        warnings.warn(f"flow stopped early ({status}): {message}", RuntimeWarning, stacklevel=3)
    return sol


def _status(engine, general) -> dict:
    """Status items of the progress line (read from the engine between its steps)."""
    losses = getattr(engine, "steps_loss", None)
    loss = float(losses[-1][-1]) if losses and len(losses[-1]) else None
    return {"loss": loss, "events": len(getattr(engine, "events", ())),
            "steps": getattr(engine, "n_steps", None),
            "stepper": ({"explicit": "Dormand-Prince 5(4)", "radau": "Radau IIA"}[
                engine.stepper.mode] + (", general engine" if general else ", 1-d engine"))}


def _resample(sol, t_eval):
    """Outputs at the requested times (from the dense output)."""
    import numpy as np
    te = np.asarray(t_eval, dtype=float)
    te = te[te <= sol.t_final]
    theta = sol.theta_at(te)
    prob = sol.problem()
    loss = np.array([prob.loss(row[prob.user_index]) for row in theta])
    sol.t, sol.theta, sol.loss = te, theta, loss
    return sol
