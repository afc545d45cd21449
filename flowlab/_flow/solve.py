"""``flow()``: the gradient flow d theta/dt = -grad L(theta) of a two-layer network.

This module checks the arguments and dispatches: the "exact" path (ReLU networks)
to the event-driven Filippov integrator of :mod:`flowlab._flow.exact`, "auto" to
:mod:`flowlab._flow.auto`, the compiled explicit methods to
:mod:`flowlab._flow.compiled` and scipy's methods to :mod:`flowlab._flow.scipy_run`.
:func:`flowlab.resume` (:mod:`flowlab._resume`) continues a run.
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import io as _io
from .._compile import compile_task
from .._problem import Problem
from ..models import Network, TwoLayer
from . import _guard
from .options import (COMPILED, METHODS, check_first_step, check_max_step, check_method,
                      check_run_options, default_method, is_relu)
from .scipy_run import ScipyRun
from .solution import Solution

__all__ = ["flow", "METHODS", "default_method"]


def flow(net: Network, x, y, t_end: float, *, loss: str = "sum", method: str | None = None,
         rtol: float = 1e-10, atol: float = 1e-12, trainable=None, t_eval=None,
         gtol: float | None = None, max_steps: int | None = None, first_step: float | None = None,
         max_step: float = np.inf, dense: bool = True, progress: bool | None = None,
         save=None, checkpoint_every: float | None = None, t0: float = 0.0,
         stepper: str | None = None, _prefix: Solution | None = None) -> Solution:
    """Integrate the gradient flow d theta/dt = -grad L(theta) from ``net`` up to ``t_end``.

    Parameters
    ----------
    net : ReLU1D or TwoLayer
        Initial network theta(0).
    x : array_like, shape (m,) for ReLU1D, (m, d) for TwoLayer
        Training inputs.
    y : array_like, shape (m,)
        Training targets.
    t_end : float
        Final time (> 0).  With ``loss`` fixed, t equals learning rate x number
        of gradient-descent iterations (Ainsworth & Shin 2021, (2.3)).
    loss : {"sum", "mean"}
        ``"sum"``: L = 1/2 sum_i r_i^2 (the theory of Ainsworth & Shin 2021, (2.1));
        ``"mean"``: L = 1/(2m) sum_i r_i^2 (Xu et al. 2021, Zhou et al. 2022, and the
        plotted curves of Ainsworth & Shin 2021).
    method : str, optional
        ``"exact"`` (event-driven Filippov flow, the default for ReLU networks),
        ``"auto"`` (the default for smooth activations, :mod:`flowlab._flow.auto`:
        compiled ERK853 while the flow is not stiff, Radau IIA with the exact
        Jacobian on its stiff stretches, chosen by measuring h lambda_max; every
        switch in ``sol.info["stepper_switches"]``; for a ReLU network "auto" is
        "exact") or one method forced: a scipy
        method, "RK23", "RK45", "DOP853", "Radau", "BDF", "LSODA" (implicit
        methods get the exact Hessian as Jacobian, never finite differences), or
        "ERK853" and "ERK45": DOP853 and RK45 with the whole step loop compiled
        (:mod:`flowlab._flow.compiled`), the same steps without Python overhead (forced
        on a stiff flow, they stop with status "stiff" rather than take more than 10^6
        steps at their stability bound).
    rtol, atol : float
        Integration tolerances.
    trainable : str or sequence of str, optional
        Parameter groups that move (``"b"``, ``"c"``, ``"w"`` for ReLU1D; ``"W"``,
        ``"a"`` for TwoLayer); the others are frozen.  ``trainable="a"`` gives the
        linear (lazy) regime of Zhao 2023 and the ELM of Yang, Zhao & Zhu 2024.
    t_eval : array_like, optional
        Output times; by default the solver's own steps.
    gtol : float, optional
        Stop with status "steady_state" at the first step where ||grad L|| < gtol.
    max_steps : int, optional
        Stop with status "max_steps" after this many steps.
    first_step, max_step : float, optional
        The first step size (default: the method's own choice) and the largest step
        size (default: no limit), for every method (the exact flow's steppers
        included; the exact flow's steps also end at events).
    dense : bool
        Keep the continuous extension so that ``sol.net_at(t)`` works at any t.
    progress : bool, optional
        ``None`` (default): a progress bar when stderr is a terminal (after the
        first second), else a plain line every ten seconds (t, loss, steps or
        events, stepper); ``False``: nothing.
    save : path, optional
        Write the solution there (``.npz`` is added if missing) at the end, and
        checkpoints every ``checkpoint_every`` seconds while running (appended
        to ``<save>.journal``, which the end removes).  The path is checked
        before the run starts.  ``flowlab.load(save)`` of a run that was killed
        returns the solution up to its last checkpoint, which :func:`flowlab.resume`
        continues (docs/reliability.md).  The file holds at most
        ``SAVE_LIMIT_BYTES`` (64 MB) of arrays: a longer run is saved without its dense
        output, then with every k-th step (``Solution.within``); the returned solution
        is always complete and ``sol.save(path)`` writes all of it.
    checkpoint_every : float, optional
        Seconds between the checkpoints of a run with ``save`` (> 0; default 60);
        each costs in proportion to the steps since the previous one.  Given
        without ``save`` it is an error (there is nothing to checkpoint).
    t0 : float
        Start time (used by :func:`flowlab.resume`).
    stepper : {"auto", "explicit", "radau"}, optional
        The compiled stepper of ``method="exact"`` (:mod:`flowlab._flow._stepper`):
        ``"auto"`` (default) steps explicitly (Dormand-Prince 5(4): O(P) memory, no
        Jacobian) while the flow is not stiff and hands stiff stretches to Radau IIA with
        the exact Jacobian, switching back when the flow is no longer stiff (every
        switch is listed in ``sol.info["stepper_switches"]``); ``"explicit"`` and
        ``"radau"`` force one of them.  A forced explicit stepper on a stiff flow stops
        with status "stiff" rather than take millions of steps.

    Raises
    ------
    ValueError, TypeError
        Bad arguments (naming the argument), an unwritable ``save`` path, or a
        loss or gradient that is not finite at the start.

    Notes
    -----
    Every run ends with a status (``sol.status``, see
    :data:`flowlab._flow.solution.STATUSES`) and a message.  A watchdog stops
    a run whose state or loss becomes non-finite, whose step size falls
    below 10 ulp of t, or whose stored solution would outgrow the memory
    (status "failed").  Runs of the non-exact methods are checked for a loss
    that rises by more than the tolerances allow (``sol.info["monotone"]``,
    :class:`~flowlab.LossRiseWarning`).

    Returns
    -------
    Solution

    Examples
    --------
    >>> import numpy as np, flowlab as fl
    >>> x = np.linspace(-1, 1, 20); y = np.sin(3 * x)
    >>> net = fl.init.xavier(8, 1, activation="tanh", seed=0)
    >>> sol = fl.flow(net, x, y, 1.0, loss="mean", rtol=1e-8, atol=1e-10)
    >>> bool(sol.loss[-1] < sol.loss[0])
    True
    """
    method = check_method(method, net)
    prob = Problem(net, x, y, loss=loss, trainable=trainable)
    if is_relu(net) and method != "exact" and set(prob.trainable) & {"b", "w", "W"}:
        warnings.warn(f"the gradient flow of a ReLU network is not smooth: {method} steps "
                      "blindly across its kinks (where a data point changes side of a "
                      "neuron), with tiny steps, slowly and without locating them; "
                      "method='exact' (the default for ReLU networks) integrates it event by "
                      "event.", UserWarning, stacklevel=2)
    t0, t_end, rtol, atol, t_eval, gtol, max_steps, checkpoint_every = check_run_options(
        t0, t_end, rtol, atol, t_eval, gtol, max_steps, checkpoint_every, save=save)
    if stepper is not None and method != "exact":
        raise ValueError(f"`stepper` chooses the stepper of method='exact'; method={method!r} "
                         "has its own: leave stepper=None.")
    first_step = check_first_step(first_step)
    max_step = check_max_step(max_step)
    if save is not None:
        _io.check_save_path(save, "save")
    general = isinstance(net, TwoLayer) and net.input_dim > 1
    task = ("exact-nd" if general else "exact-1d") if method == "exact" else (
        "compiled-erk" if method == "auto" or method in COMPILED else "smooth")
    opts = dict(method=method, rtol=rtol, atol=atol, t_eval=t_eval, gtol=gtol,
                max_steps=max_steps, first_step=first_step, max_step=max_step, dense=bool(dense),
                progress=progress, save=save, checkpoint_every=checkpoint_every, t0=t0,
                prefix=_prefix)
    with compile_task(task):           # the start's gradient is the task's first kernel
        _guard.check_start(prob, prob.u0, t0)
        if method == "exact":
            from ._stepper import check_stepper
            from .exact import solve_exact
            del opts["method"]
            return solve_exact(prob, t_end, stepper=check_stepper(stepper), **opts)
        if method == "auto":
            from .auto import solve_auto
            return solve_auto(prob, t_end, **opts)
        if method in COMPILED:
            from .compiled import solve_compiled
            return solve_compiled(prob, t_end, **opts)
        return ScipyRun(prob, t_end, **opts).run()
