"""The method names and run options of a flow, checked in one place.

Shared by :func:`flowlab.flow`, :func:`flowlab.population.flow` and the PyTorch
bridge (:func:`flowlab.torch.flow`): each checks its arguments with these
functions, which raise a ValueError or TypeError naming the argument.
"""

from __future__ import annotations

import numpy as np
from scipy import integrate

from .. import _validate as v
from ..models import Network, ReLU1D, TwoLayer

__all__ = ["METHODS", "SCIPY", "IMPLICIT", "COMPILED", "is_relu", "default_method",
           "check_method", "check_max_step", "check_first_step", "check_t_eval",
           "check_checkpoint_every", "check_run_options", "CHECKPOINT_EVERY"]

#: scipy's solvers by method name (stepped by hand: :mod:`flowlab._flow.scipy_run`)
SCIPY = {"RK23": integrate.RK23, "RK45": integrate.RK45, "DOP853": integrate.DOP853,
         "Radau": integrate.Radau, "BDF": integrate.BDF, "LSODA": integrate.LSODA}
#: the scipy methods that get the exact Hessian as Jacobian
IMPLICIT = ("Radau", "BDF", "LSODA")
#: Compiled explicit Runge-Kutta methods (:mod:`flowlab._flow.compiled`).
COMPILED = ("ERK853", "ERK45")
#: seconds between the checkpoints of a run that saves, by default
CHECKPOINT_EVERY = 60.0
#: Every method name ``flow`` accepts ("auto": :mod:`flowlab._flow.auto`).
METHODS = ("exact", "auto") + tuple(SCIPY) + COMPILED


def is_relu(net: Network) -> bool:
    """True for networks whose flow is piecewise smooth (ReLU activations)."""
    return isinstance(net, ReLU1D) or (isinstance(net, TwoLayer) and net.activation == "relu")


def default_method(net: Network) -> str:
    """"exact" for ReLU networks, "auto" (ERK853, Radau IIA on the stiff stretches)
    otherwise."""
    return "exact" if is_relu(net) else "auto"


def check_method(method, net: Network) -> str:
    """The method that :func:`flowlab.flow` runs for ``method`` (a name of
    :data:`METHODS`, any case, or None for the default) on ``net``."""
    if method is None:
        return default_method(net)
    if not isinstance(method, str):
        raise TypeError(f"`method` must be a string, one of {METHODS}, got "
                        f"{type(method).__name__}.")
    lookup = {m.lower(): m for m in METHODS}
    if method.lower() not in lookup:
        raise ValueError(f"unknown `method` {method!r}; choose one of {', '.join(METHODS)}.")
    method = lookup[method.lower()]
    if method == "auto" and is_relu(net):
        return "exact"              # the automatic choice for a ReLU network
    if method == "exact" and not is_relu(net):
        raise ValueError(f"method='exact' integrates ReLU networks only; this network uses "
                         f"{getattr(net, 'activation', '?')!r}: choose one of {', '.join(SCIPY)}.")
    return method


def check_max_step(max_step) -> float:
    """``max_step`` as a positive float (np.inf for None: no limit)."""
    if max_step is None:
        return np.inf
    real = (int, float, np.integer, np.floating)
    if isinstance(max_step, bool) or not isinstance(max_step, real):
        raise TypeError(f"`max_step` must be a positive number or np.inf, got "
                        f"{type(max_step).__name__}.")
    max_step = float(max_step)
    if not max_step > 0:
        raise ValueError(f"`max_step` must be > 0 (np.inf for no limit), got {max_step}.")
    return max_step


def check_first_step(first_step):
    """None, or a finite positive float (``first_step`` of the flows)."""
    if first_step is None:
        return None
    return v.check_real(first_step, "first_step", positive=True)


def check_t_eval(t_eval, t0: float, t_end: float):
    """None, or the output times as a strictly increasing float64 array in [t0, t_end]."""
    if t_eval is None:
        return None
    te = v.as_array(t_eval, "t_eval", ndim=1)
    if np.any(np.diff(te) <= 0):
        raise ValueError("`t_eval` must be strictly increasing.")
    if te[0] < t0 or te[-1] > t_end:
        raise ValueError(f"`t_eval` must lie in [{t0!r}, {t_end!r}], got [{te[0]!r}, {te[-1]!r}].")
    return te


def check_checkpoint_every(checkpoint_every, save) -> float:
    """Seconds between checkpoints: ``checkpoint_every`` (None: 60), which only a run
    with ``save`` takes (a ValueError otherwise, rather than an option ignored)."""
    if checkpoint_every is None:
        return CHECKPOINT_EVERY
    if save is None:
        raise ValueError("`checkpoint_every` sets the seconds between the checkpoints of a "
                         "run that saves to a file, and this run saves nothing: pass "
                         "save=PATH as well, or leave checkpoint_every out.")
    return v.check_real(checkpoint_every, "checkpoint_every", positive=True)


def check_run_options(t0, t_end, rtol, atol, t_eval, gtol, max_steps, checkpoint_every, *,
                      save=None):
    """The time span, tolerances, output times and stopping options of a flow, checked
    (a ValueError or TypeError naming the argument), as a tuple in that order
    (``checkpoint_every`` by :func:`check_checkpoint_every`, with ``save``)."""
    t0 = v.check_real(t0, "t0", nonnegative=True)
    t_end = v.check_real(t_end, "t_end", positive=True)
    if t_end <= t0:
        raise ValueError(f"`t_end` must be greater than the start time {t0!r}, got {t_end!r}.")
    rtol, atol = v.check_tolerances(rtol, atol)
    t_eval = check_t_eval(t_eval, t0, t_end)
    if gtol is not None:
        gtol = v.check_real(gtol, "gtol", positive=True)
    if max_steps is not None:
        max_steps = v.check_int(max_steps, "max_steps", minimum=1)
    checkpoint_every = check_checkpoint_every(checkpoint_every, save)
    return t0, t_end, rtol, atol, t_eval, gtol, max_steps, checkpoint_every
