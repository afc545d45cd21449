"""``flowlab.population.flow``: the gradient flow of the population loss (module
``gradient_flow``, so that the name ``flow`` stays the function)."""

from __future__ import annotations

import numpy as np

from .._flow.options import SCIPY, check_first_step, check_max_step, check_run_options
from .._flow.scipy_run import ScipyRun
from .._flow.solution import Solution
from ..models import TwoLayer
from .problem import PopulationProblem

__all__ = ["flow", "METHODS"]

#: ODE methods of the population flow (scipy's; the population flow has no events)
METHODS = tuple(SCIPY)


def _check_method(method) -> str:
    if method is None:
        return "Radau"
    if not isinstance(method, str):
        raise TypeError(f"`method` must be a string, one of {METHODS}, got "
                        f"{type(method).__name__}.")
    lookup = {m.lower(): m for m in METHODS}
    if method.lower() not in lookup:
        extra = ""
        if method.lower() == "exact":
            extra = (" (the population flow of a relu network is C^1 -- no activation "
                     "events -- so it needs no event-driven integrator)")
        elif method.upper() in ("ERK853", "ERK45"):
            extra = (" (the compiled explicit methods integrate finite-data losses only; "
                     "DOP853 and RK45 are the same schemes)")
        raise ValueError(f"unknown `method` {method!r} for a population flow{extra}; choose one "
                         f"of {', '.join(METHODS)}.")
    return lookup[method.lower()]


def flow(net: TwoLayer, teacher: TwoLayer, t_end: float, *, method: str | None = None,
         rtol: float = 1e-10, atol: float = 1e-12, trainable=None, t_eval=None,
         gtol: float | None = None, max_steps: int | None = None,
         first_step: float | None = None, max_step: float = np.inf, dense: bool = True,
         progress: bool | None = None, save=None, checkpoint_every: float | None = None,
         t0: float = 0.0, integrals: str | None = None, nodes: int | None = None) -> Solution:
    """Gradient flow d theta/dt = -grad L(theta) of the population loss, from ``net``.

    L = 1/2 E[(f(x) - f*(x))^2] with x ~ N(0, I_d) (see :mod:`flowlab.population`).

    Parameters
    ----------
    net : TwoLayer with ``bias=False``
        The initial student, W of shape (n, d).
    teacher : TwoLayer with ``bias=False``
        The teacher, W of shape (M, d) (same d).
    t_end : float
        Final time.  The population loss is the infinite-data limit of the
        ``"mean"`` loss 1/(2m) sum_i r_i^2, so t is the time of a finite-data
        flow with ``loss="mean"``; for Saad & Solla's on-line learning at
        learning rate eta, t = eta alpha (alpha = examples / d) in the small-eta
        limit.
    method : str, optional
        One of scipy's methods: "Radau" (default; implicit, with the exact
        Hessian as Jacobian), "BDF", "LSODA", "RK23", "RK45", "DOP853".
    rtol, atol : float
        Integration tolerances.
    trainable : str or sequence of str, optional
        Groups that move: "W", "a" (default both).  ``"W"`` is the soft committee
        machine of Saad & Solla 1995 (output weights fixed).
    t_eval, gtol, max_steps, first_step, max_step, dense, progress, save,
    checkpoint_every, t0
        As for :func:`flowlab.flow`.
    integrals : {"closed", "quadrature"}, optional
        How the Gaussian integrals are evaluated (see
        :class:`~flowlab.population.problem.PopulationProblem`).
    nodes : int, optional
        Gauss-Hermite points per dimension (quadrature only).

    Returns
    -------
    Solution
        As for :func:`flowlab.flow`, with ``sol.teacher`` set, ``sol.loss`` the
        population loss, empty ``sol.x`` (0, d) and ``sol.y`` (0,), and the
        order parameters Q, R, T at the output times in
        ``sol.order_parameters()`` (at any time of the dense output with
        ``sol.order_parameters(times)``).

    Examples
    --------
    >>> import numpy as np, flowlab as fl
    >>> teacher = fl.TwoLayer(np.eye(2), [1.0, 1.0], "erf", bias=False)
    >>> net = fl.TwoLayer([[0.9, 0.2], [0.1, 1.2]], [1.0, 1.0], "erf", bias=False)
    >>> sol = fl.population.flow(net, teacher, 200.0, trainable="W")
    >>> bool(sol.loss[-1] < 1e-6 * sol.loss[0]), sol.order_parameters().R.shape[1:]
    (True, (2, 2))
    """
    method = _check_method(method)
    prob = PopulationProblem(net, teacher, trainable=trainable, integrals=integrals,
                             nodes=nodes)
    t0, t_end, rtol, atol, t_eval, gtol, max_steps, checkpoint_every = check_run_options(
        t0, t_end, rtol, atol, t_eval, gtol, max_steps, checkpoint_every, save=save)
    opts = dict(method=method, rtol=rtol, atol=atol, t_eval=t_eval, gtol=gtol,
                max_steps=max_steps, first_step=check_first_step(first_step),
                max_step=check_max_step(max_step), dense=bool(dense),
                progress=progress, save=save, checkpoint_every=checkpoint_every, t0=t0)
    return ScipyRun(prob, t_end, **opts).run()
