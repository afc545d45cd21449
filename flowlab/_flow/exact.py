"""``method="exact"``: event-driven Filippov gradient flow of ReLU networks.

Dispatches to the univariate engine (:mod:`flowlab._flow.exact_1d`, O(n) per
step from prefix moments) for ``ReLU1D`` networks and 1-d ``TwoLayer`` relu
networks, and to the general engine (:mod:`flowlab._flow.exact_nd`, O(n m d) per
step) for ``TwoLayer`` relu networks with d > 1 and for bias-free ``TwoLayer`` relu
networks (``bias=False``, any d: their knots sit at x = 0, which the univariate
engine's moving knots do not describe).
"""

from __future__ import annotations

import time
import warnings

from .._interrupt import reraise_if_propagating
from .._progress import status_provider
from ..models import TwoLayer
from ._journal import Journal, new_run_id
from .recorder import raw_x
from .solution import SAVE_LIMIT_BYTES, Solution, join
from .exact_1d import Exact1D
from .exact_nd import ExactND


def solve_exact(prob, t_end, *, dense=True, t_eval=None, save=None, checkpoint_every=60.0,
                prefix=None, **opts):
    """Run the exact flow for the problem ``prob`` (see :func:`flowlab.flow`).

    With ``save``, the engine appends checkpoints to the journal of
    :mod:`flowlab._flow._journal` between two calls of its compiled integrator,
    and the complete solution (joined to ``prefix``, the solution a resumed run
    continues) is written at the end.
    """
    net = prob.template
    general = isinstance(net, TwoLayer) and (net.input_dim > 1 or not net.has_bias)
    clock = time.perf_counter()
    engine = (ExactND if general else Exact1D)(prob, t_end, **opts)
    engine.run_id = new_run_id()
    journal = None
    if save is not None:
        journal = Journal(save, _head(prob, t_end, engine, opts)._payload(), checkpoint_every,
                          None if prefix is None else prefix._payload())
        engine.journal, engine.journal_dense = journal, bool(dense)
    try:
        with status_provider(lambda: _status(engine, general)):
            status, message = engine.run()
    finally:
        if journal is not None:
            journal.close()
    sol = engine.solution(status, message, time.perf_counter() - clock)
    sol.info["run_id"] = engine.run_id
    if t_eval is not None:
        sol = _resample(sol, t_eval)
    if not dense:
        sol.dense = None
    if journal is not None:
        journal.finish(sol if prefix is None else join(prefix, sol), max_bytes=SAVE_LIMIT_BYTES)
    if status not in ("finished", "steady_state", "interrupted"):
        warnings.warn(f"flow stopped early ({status}): {message}", RuntimeWarning, stacklevel=3)
    if status == "interrupted":
        reraise_if_propagating()
    return sol


def _status(engine, general) -> dict:
    """Status items of the progress line (read from the engine between its steps)."""
    losses = getattr(engine, "steps_loss", None)
    loss = float(losses[-1][-1]) if losses and len(losses[-1]) else None
    return {"loss": loss, "events": len(getattr(engine, "events", ())),
            "steps": getattr(engine, "n_steps", None),
            "stepper": ({"explicit": "Dormand-Prince 5(4)", "radau": "Radau IIA"}[
                engine.stepper.mode] + (", general engine" if general else ", 1-d engine"))}


def _head(prob, t_end, engine, opts):
    """The solution at the start time (the journal's head record)."""
    import numpy as np
    t0 = float(opts["t0"])
    return Solution(t=np.array([t0]), theta=prob.theta0[None, :].copy(),
                    loss=np.array([prob.loss(prob.u0)]), net0=prob.template, x=raw_x(prob),
                    y=prob.y.copy(), loss_kind=prob.loss_kind, trainable=prob.trainable,
                    method="exact", t_end=t_end, t_final=t0, theta_final=prob.theta0.copy(),
                    status="interrupted", message="", rtol=opts["rtol"], atol=opts["atol"],
                    info={"run_id": engine.run_id})


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
