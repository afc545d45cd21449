"""The initial stage of training from a small initialisation (Zhou et al. 2022 and Xu et al. 2021).

Zhou et al. 2022 (Sec. 3) define the initial stage by the loss:
it ends when the loss first reaches 70% of its initial value.  This module
locates that time on a flow or a discrete run (:func:`initial_stage`),
integrates a gradient flow exactly up to it (:func:`flow_initial_stage`), and
fits the output there by a polynomial of the activation's multiplicity
(:func:`polyfit_output`, Zhou et al. 2022, Fig. 5, Xu et al. 2021, Fig. 3).

Time is gradient-flow time (learning rate x iterations for the same loss
convention) for flows and the iteration count for discrete runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validate as v
from ..models import TwoLayer

__all__ = ["InitialStage", "initial_stage", "flow_initial_stage", "PolyFit", "polyfit_output"]


@dataclass
class InitialStage:
    """End of the initial stage: the loss first reaches ``fraction`` x its initial value.

    Attributes
    ----------
    t_end : float
        The time (gradient-flow time, or iteration count for a discrete run)
        at which the loss first reaches ``fraction * loss0``; NaN if never.
    reached : bool
    index : int
        First sample with loss <= fraction * loss0, -1 if none.
    loss0 : float
    fraction : float
    """

    t_end: float
    reached: bool
    index: int
    loss0: float
    fraction: float


def initial_stage(run, loss=None, *, fraction: float = 0.7) -> InitialStage:
    """The end of the initial stage, Zhou et al. 2022, Sec. 3: loss first at 70% of its initial
    value.

    Parameters
    ----------
    run : Solution, TrainResult or array_like of times
        A gradient flow (the crossing is then located on its dense output, to
        rounding), a discrete run (the first recorded iteration at or below
        the level is returned), or sample times ``t`` (shape (K,)) with
        ``loss`` (shape (K,)), linearly interpolated.
    loss : array_like, shape (K,), optional
        Loss values, only with sample times.
    fraction : float
        Level relative to the initial loss, in (0, 1); Zhou et al. 2022 use 0.7.

    Returns
    -------
    InitialStage

    Examples
    --------
    >>> st = initial_stage([0.0, 1.0, 2.0], [1.0, 0.8, 0.6])
    >>> round(st.t_end, 6), st.index
    (1.5, 2)
    """
    fraction = v.check_real(fraction, "fraction", positive=True)
    if fraction >= 1:
        raise ValueError(f"`fraction` must be in (0, 1), got {fraction}; Zhou et al. 2022 use 0.7.")
    from .._flow.solution import Solution
    from ..train.result import TrainResult
    kind = "samples"
    if isinstance(run, Solution):
        if loss is not None:
            raise ValueError("`loss` is taken from the Solution; do not pass it.")
        t, L, kind = run.t, run.loss, "flow"
    elif isinstance(run, TrainResult):
        if loss is not None:
            raise ValueError("`loss` is taken from the TrainResult; do not pass it.")
        t, L, kind = run.iterations.astype(np.float64), run.loss, "discrete"
    else:
        if loss is None:
            raise TypeError("`loss` is required with sample times; or pass a Solution or "
                            "TrainResult as `run`.")
        t = v.as_array(run, "t", ndim=1)
        L = v.as_array(loss, "loss", ndim=1)
        if t.shape != L.shape:
            raise ValueError(f"`t` and `loss` must have the same shape, got {t.shape} and "
                             f"{L.shape}.")
        if np.any(np.diff(t) <= 0):
            raise ValueError("sample times must be strictly increasing.")
    L0 = float(L[0])
    level = fraction * L0
    below = np.flatnonzero(L <= level)
    if below.size == 0:
        return InitialStage(np.nan, False, -1, L0, fraction)
    k = int(below[0])
    if k == 0 or kind == "discrete":
        return InitialStage(float(t[k]), True, k, L0, fraction)
    if kind == "flow" and run.dense is not None:
        from scipy.optimize import brentq
        t_end = brentq(lambda s: run.loss_at(s) - level, t[k - 1], t[k], xtol=1e-12 * t[k],
                       rtol=4 * np.finfo(float).eps)
    else:
        t_end = t[k - 1] + (t[k] - t[k - 1]) * (L[k - 1] - level) / (L[k - 1] - L[k])
    return InitialStage(float(t_end), True, k, L0, fraction)


def flow_initial_stage(net, x, y, *, loss: str = "mean", fraction: float = 0.7,
                       method: str = "ERK853", rtol: float = 1e-10, atol: float = 1e-12,
                       t_max: float = 1e9, trainable=None, progress: bool | None = None):
    """Gradient flow from ``net`` up to the end of its initial stage, and that end.

    The flow runs with a compiled explicit Runge-Kutta method and stops at the
    first step where the loss is at or below ``fraction`` x its initial value;
    the crossing time is then located on the dense output (to rounding).  With
    a small initialisation the stage is long (t of order 1/var for
    multiplicity p = 3) but not stiff, and explicit steps get through it in
    seconds; the flow becomes stiff right after it, which is why it stops.

    Parameters
    ----------
    net : TwoLayer or ReLU1D
        Initial network.
    x, y : array_like
        Training data, shapes as for :func:`flowlab.flow`.
    loss : {"mean", "sum"}
        "mean" (1/(2m) sum r_i^2) is the convention of Zhou et al. 2022 and Xu et al. 2021.
    fraction : float
        Level relative to the initial loss (Zhou et al. 2022, Sec. 3: 0.7).
    method : {"ERK853", "ERK45"}
        Compiled explicit method (see :mod:`flowlab._flow.compiled`).
    rtol, atol : float
        Tolerances.
    t_max : float
        Give up (with a warning) if the level is not reached by then.
    trainable, progress
        As for :func:`flowlab.flow`.

    Returns
    -------
    sol : Solution
        The flow on [0, t_final], t_final the end of the step that crossed
        the level (every step recorded, dense output kept).
    stage : InitialStage
        The end of the initial stage on that flow.

    Examples
    --------
    >>> import numpy as np, flowlab as fl
    >>> x = np.linspace(-1, 1.5, 40); y = np.sin(3 * x) + np.sin(6 * x) / 2
    >>> net = fl.init.small_gaussian(20, 1, 0.05 ** 2, activation="tanh", seed=0)
    >>> sol, stage = flow_initial_stage(net, x, y)
    >>> stage.reached, bool(abs(sol.loss_at(stage.t_end) / sol.loss[0] - 0.7) < 1e-9)
    (True, True)
    """
    import warnings

    from .._problem import Problem
    from .._flow import compiled
    fraction = v.check_real(fraction, "fraction", positive=True)
    if fraction >= 1:
        raise ValueError(f"`fraction` must be in (0, 1), got {fraction}; Zhou et al. 2022 use 0.7.")
    if method not in compiled.COMPILED:
        raise ValueError(f"`method` must be one of {tuple(compiled.COMPILED)} (a compiled "
                         f"explicit method that can stop at a loss level), got {method!r}.")
    rtol, atol = v.check_tolerances(rtol, atol)
    t_max = v.check_real(t_max, "t_max", positive=True)
    prob = Problem(net, x, y, loss=loss, trainable=trainable)
    level = fraction * prob.loss(prob.u0)
    sol = compiled.solve_compiled(prob, t_max, method=method, rtol=rtol, atol=atol, t_eval=None,
                                  gtol=None, max_steps=None, first_step=None, max_step=np.inf,
                                  dense=True, progress=progress, save=None,
                                  checkpoint_every=60.0, t0=0.0, stop_loss=level)
    stage = initial_stage(sol, fraction=fraction)
    if not stage.reached:
        warnings.warn(f"the loss did not reach {fraction:g} x its initial value by t_max = "
                      f"{t_max:g} ({sol.message}); raise `t_max`", RuntimeWarning, stacklevel=2)
    return sol, stage


@dataclass
class PolyFit:
    """Least-squares polynomial fit of a network's output (Zhou et al. 2022, Fig. 5).

    Attributes
    ----------
    degree : int
    coef : ndarray, shape (degree+1,)
        Coefficients in increasing powers: fit(x) = sum_k coef[k] x**k.
    r2 : float
        Coefficient of determination 1 - SS_res / SS_tot of the fit to the output.
    x, output, fitted : ndarray, shape (k,)
        Test points, network output there, and the fitted polynomial there.
    """

    degree: int
    coef: np.ndarray
    r2: float
    x: np.ndarray
    output: np.ndarray
    fitted: np.ndarray

    def __call__(self, x):
        """The fitted polynomial at ``x``."""
        return np.polynomial.polynomial.polyval(np.asarray(x, dtype=np.float64), self.coef)


def polyfit_output(net: TwoLayer, x, degree: int) -> PolyFit:
    """Fit a degree-``degree`` polynomial to the output of a 1-d network at test points ``x``.

    Zhou et al. 2022, Fig. 5 / Xu et al. 2021, Fig. 3: at the end of the initial stage the
    output of a network with an activation of multiplicity p is close to a
    degree-p polynomial (R^2 near 1).

    Parameters
    ----------
    net : TwoLayer with d = 1
    x : array_like, shape (k,)
        Test points (k > degree).
    degree : int

    Returns
    -------
    PolyFit
    """
    if not isinstance(net, TwoLayer) or net.input_dim != 1:
        raise TypeError("`net` must be a TwoLayer network with input dimension 1.")
    degree = v.check_int(degree, "degree", minimum=0)
    x = v.as_array(x, "x", ndim=1)
    if x.size <= degree:
        raise ValueError(f"`x` needs more than degree = {degree} points, got {x.size}.")
    f = net(x)
    # fit in a centred, scaled variable for conditioning, then convert
    poly = np.polynomial.Polynomial.fit(x, f, degree)
    coef = np.zeros(degree + 1)
    c = poly.convert().coef
    coef[: c.size] = c
    fitted = poly(x)
    ss_tot = float(np.sum((f - f.mean()) ** 2))
    ss_res = float(np.sum((f - fitted) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else (1.0 if ss_res == 0 else np.nan)
    return PolyFit(degree=degree, coef=coef, r2=r2, x=x, output=f, fitted=fitted)
