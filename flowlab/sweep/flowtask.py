"""The built-in ``flow`` task: one ``flowlab flow`` study per point.

A point is the study's tables with the swept values put in, plus the common
time grid ``loss_grid``.  The flow runs exactly as ``flowlab flow`` runs it
(:func:`flowlab.study.prepare`), so a sweep's values equal single study runs of
the same points.
"""

from __future__ import annotations

import numpy as np

from .. import study as _study
from .spec import loss_times
from .tasks import register_task

__all__ = ["flow_task"]


def _coords(spec) -> dict:
    return {"t": spec.loss_times()}


@register_task("flow", dims={"loss": ("t",)}, coords=_coords, solution=True)
def flow_task(point: dict, save=None) -> dict:
    """Run the study ``point`` and summarise it.

    Returns
    -------
    dict
        ``status`` (the Solution's), ``initial_loss``, ``final_loss``, ``t_final``,
        ``steps``, ``nfev``, ``events`` and ``loss`` on the common time grid
        (NaN after ``t_final`` when the flow stopped early), in the study's loss
        convention.
    """
    from .._flow import flow
    cfg = {k: v for k, v in point.items() if k != "loss_grid"}
    _study.validate_config(cfg, "sweep point")
    net, x, y, t_end, kwargs = _study.prepare(cfg, ".")
    sol = flow(net, x, y, t_end, progress=False, save=save, **kwargs)
    t = loss_times(point["loss_grid"])
    loss = np.full(t.size, np.nan)
    inside = t <= sol.t_final
    if np.any(inside):
        loss[inside] = sol.loss_at(t[inside])
    return {"status": sol.status, "initial_loss": float(sol.loss[0]),
            "final_loss": float(sol.loss[-1]), "t_final": float(sol.t_final),
            "steps": int(sol.nsteps), "nfev": int(sol.nfev), "events": int(len(sol.events)),
            "loss": loss}
