"""``flowlab.resume``: continue a gradient flow from where its solution stopped.

A finite-data flow continues through :func:`flowlab.flow`, a population flow (a
solution with a teacher) through :func:`flowlab.population.flow`; this module sits
above both, so that neither imports the other's runner.
"""

from __future__ import annotations

import numpy as np

from ._flow.solution import Solution, join
from ._flow.solve import flow
from .population.gradient_flow import flow as population_flow

__all__ = ["resume"]


def resume(sol, t_end: float | None = None, **options) -> Solution:
    """Continue a flow from where ``sol`` stopped and return the joined solution.

    Parameters
    ----------
    sol : Solution or path
        A solution (or a file written by ``Solution.save`` / ``flow(save=...)``).
    t_end : float, optional
        New final time; by default the original ``t_end``.
    **options
        Overrides for :func:`flow` (tolerances, ``save``, ``progress``...);
        method, loss and trainable groups are those of ``sol``.  With ``save``
        the file (and its checkpoints) hold the joined solution.

    A ``sol`` read from the checkpoints of a killed run continues from its
    last checkpoint; the joined solution equals one uninterrupted run to the
    integration tolerance (docs/reliability.md).
    """
    if not isinstance(sol, Solution):
        sol = Solution.load(sol)
    t_end = sol.t_end if t_end is None else t_end
    for fixed in ("method", "loss", "trainable", "t0", "integrals", "nodes"):
        if fixed in options:
            raise ValueError(f"`{fixed}` cannot change when resuming; start a new flow instead.")
    opts = dict(rtol=sol.rtol, atol=sol.atol)
    opts.update(options)
    t_eval = opts.pop("t_eval", None)
    if t_eval is not None:
        t_eval = np.asarray(t_eval, dtype=float)
        t_eval = t_eval[t_eval > sol.t_final]
    if sol.teacher is not None:
        nxt = population_flow(sol.net, sol.teacher, t_end, method=sol.method,
                              trainable=sol.trainable, t0=sol.t_final, t_eval=t_eval,
                              **sol.info.get("population", {}), **opts)
    else:
        nxt = flow(sol.net, sol.x, sol.y, t_end, loss=sol.loss_kind, method=sol.method,
                   trainable=sol.trainable, t0=sol.t_final, t_eval=t_eval, _prefix=sol, **opts)
    return join(sol, nxt)
