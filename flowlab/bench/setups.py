"""Setups of the work-precision suite: one integrator (or trainer) and its settings.

A :class:`Setup` is data: a name, a family, what it sweeps ("tol": the
relative tolerance, atol = rtol x the problem's ``atol_ratio``; "lr": the
learning rate, with t = lr x iterations), the optional packages it needs,
a test of whether it applies to a problem, and a function running it.  The
table :data:`SETUPS` is built from :data:`flowlab.METHODS` (every
method of ``fl.flow`` is a setup, so a new method there is a new setup
here), plus the general exact engine, the bridge's RKC, gradient descent,
Adam and the external peers.  :func:`add_setup` registers another one.

Every run returns an :class:`Outcome`: the status, the parameters at the
measurement times it reached, and its counts of right-hand-side evaluations
(gradients), Jacobian evaluations (Hessians) and steps.
"""

from __future__ import annotations

import re
import warnings

import numpy as np

from .._flow import METHODS as FLOW_METHODS
from ..models import TwoLayer
from ._setup import Outcome, Setup
from ._problems import Instance

__all__ = ["Setup", "Outcome", "SETUPS", "add_setup", "setup_names", "get_setup",
           "CLASSICAL_FAMILIES"]

#: families whose methods step across kinks without locating them
CLASSICAL_FAMILIES = ("scipy", "flowlab-compiled", "bridge", "peer")


SETUPS: dict[str, Setup] = {}


def add_setup(setup: Setup) -> Setup:
    """Register ``setup`` (its name must be new)."""
    if not isinstance(setup, Setup):
        raise TypeError(f"`setup` must be a flowlab.bench.Setup, got {type(setup).__name__}.")
    if setup.name in SETUPS:
        raise ValueError(f"setup {setup.name!r} is registered twice.")
    if setup.sweep not in ("tol", "lr"):
        raise ValueError(f"`sweep` must be 'tol' or 'lr', got {setup.sweep!r}.")
    SETUPS[setup.name] = setup
    return setup


def setup_names() -> list[str]:
    return list(SETUPS)


def get_setup(name: str) -> Setup:
    if name not in SETUPS:
        raise ValueError(f"unknown setup {name!r}; choose from {', '.join(SETUPS)}.")
    return SETUPS[name]


# -- helpers ------------------------------------------------------------------------------

def _status_of_solution(sol) -> str:
    return "finished" if sol.status in ("finished", "steady_state") else sol.status


def _rows_at(sol, times) -> np.ndarray:
    """The solution's parameters at the measurement times it reached, shape (k, P)."""
    t = np.asarray(sol.t)
    k = int(np.searchsorted(times, sol.t_final, side="right"))
    if t.size >= k and np.array_equal(t[:k], times[:k]):
        return np.asarray(sol.theta[:k])
    if sol.dense is not None and k:
        return np.atleast_2d(sol.theta_at(times[:k]))
    idx = [int(np.flatnonzero(t == s)[0]) for s in times[:k] if np.any(t == s)]
    return np.asarray(sol.theta)[idx]


def _outcome(sol, times) -> Outcome:
    return Outcome(_status_of_solution(sol), sol.message, _rows_at(sol, times), int(sol.nfev),
                   int(sol.njev), int(sol.nsteps), {"t_final": float(sol.t_final)})


def _native_only(inst: Instance) -> str | None:
    if inst.kind != "native":
        return "a method of fl.flow for flowlab networks (this problem is a PyTorch module)"
    return None


# -- fl.flow methods (scipy, compiled explicit, exact) -------------------------------------

_SCIPY_NAMES = ("RK23", "RK45", "DOP853", "Radau", "BDF", "LSODA")
#: methods of fl.flow the bridge also runs on PyTorch modules
_BRIDGE_TOO = _SCIPY_NAMES


def _family_of(method: str) -> str:
    if method in _SCIPY_NAMES:
        return "scipy"
    if method.lower().startswith("exact"):
        return "exact"
    return "flowlab-compiled"


def flow_setup(method: str, note: str = "") -> Setup:
    """The setup running ``fl.flow(..., method=method)`` (and the bridge's method of the
    same name on PyTorch problems, where there is one)."""
    from .._flow.options import check_method

    def applies(inst):
        if inst.kind == "torch":
            return None if method in _BRIDGE_TOO else (
                f"{method!r} integrates flowlab networks only (the bridge has "
                f"{', '.join(('RKC',) + _BRIDGE_TOO)})")
        try:
            if check_method(method, inst.net) != method:
                return (f"{method!r} is {check_method(method, inst.net)!r} for this network "
                        "(the same runs)")
        except (ValueError, TypeError) as exc:
            return str(exc)
        return None

    def run(inst, rtol, times, limits):
        atol = rtol * inst.atol_ratio
        if inst.kind == "torch":
            from ..torch import flow as tflow
            sol = tflow(inst.module, inst.loss_fn, inst.t_end, method=method, rtol=rtol,
                        atol=atol, t_eval=times, dense=False, max_steps=limits.max_steps,
                        progress=False)
            return _outcome(sol, times)
        from .._flow import flow
        with warnings.catch_warnings():     # smooth solvers on ReLU flows are the point here
            warnings.filterwarnings("ignore", "the gradient flow of a ReLU network is not smooth")
            sol = flow(inst.net, inst.x, inst.y, inst.t_end, loss=inst.loss, method=method,
                       rtol=rtol, atol=atol, trainable=inst.trainable, t_eval=times,
                       dense=False, max_steps=limits.max_steps, progress=False)
        return _outcome(sol, times)

    fam = _family_of(method)
    if not note:
        note = {"scipy": f"scipy's {method} stepped by fl.flow"
                         + (" with the exact Hessian as Jacobian" if method in
                            ("Radau", "BDF", "LSODA") else ""),
                "exact": "fl.flow(method='exact'): event-driven Filippov flow (ReLU only)",
                "flowlab-compiled": f"fl.flow(method={method!r}), compiled step loop"}[fam]
    return Setup(method, fam, "tol", run, applies, note=note, skip_after_stop=fam != "exact")


def _exact_nd_applies(inst):
    if inst.kind != "native" or not isinstance(inst.net, TwoLayer) or \
            inst.net.activation != "relu":
        return "the general exact engine integrates TwoLayer relu networks only"
    if inst.net.input_dim > 1:
        return "for d > 1 fl.flow's 'exact' already is the general engine (the same runs)"
    return None


def _exact_nd_run(inst, rtol, times, limits):
    """The general (d >= 1) exact engine, also on 1-d networks where fl.flow takes the
    univariate one: an independent second exact method."""
    import time

    from .._problem import Problem
    from .._flow.exact_nd import ExactND
    prob = Problem(inst.net, inst.x, inst.y, loss=inst.loss, trainable=inst.trainable)
    clock = time.perf_counter()
    eng = ExactND(prob, inst.t_end, rtol=rtol, atol=rtol * inst.atol_ratio, t0=0.0, gtol=None,
                  max_steps=limits.max_steps, first_step=None, max_step=np.inf, progress=False)
    status, message = eng.run()
    sol = eng.solution(status, message, time.perf_counter() - clock)
    return _outcome(sol, times)


# -- the bridge's RKC -------------------------------------------------------------------------

def _rkc_applies(inst):
    if inst.kind == "torch":
        return None
    if isinstance(inst.net, TwoLayer) and inst.trainable in (None, ("W", "a"), ("a",)):
        return None
    return "the bridge runs TwoLayer networks (via from_twolayer) and PyTorch modules only"


def _rkc_run(inst, rtol, times, limits):
    from ..torch import MSELoss, flow as tflow, from_twolayer, twolayer_order
    atol = rtol * inst.atol_ratio
    if inst.kind == "torch":
        sol = tflow(inst.module, inst.loss_fn, inst.t_end, method="RKC", rtol=rtol, atol=atol,
                    t_eval=times, dense=False, max_steps=limits.max_steps, progress=False)
        return _outcome(sol, times)
    trainable = "output" if inst.trainable == ("a",) else None
    sol = tflow(from_twolayer(inst.net), MSELoss(inst.x, inst.y, loss=inst.loss), inst.t_end,
                method="RKC", rtol=rtol, atol=atol, t_eval=times, dense=False,
                max_steps=limits.max_steps, progress=False, trainable=trainable)
    out = _outcome(sol, times)
    idx = twolayer_order(inst.net)
    theta = np.empty_like(out.theta)
    theta[:, idx] = out.theta
    out.theta = theta
    return out


# -- gradient descent and Adam ----------------------------------------------------------------

def descent_setup(name: str) -> Setup:
    """Full-batch ``"gd"`` or ``"adam"`` with ``t_end / lr`` iterations."""
    def run(inst, lr, times, limits):
        steps = int(round(inst.t_end / lr))
        if steps > limits.max_steps:
            return Outcome("max_steps", f"{steps} iterations exceed max_steps = "
                           f"{limits.max_steps}", np.zeros((0, inst.size)))
        at = np.round(times / lr).astype(np.int64)
        if inst.kind == "torch":
            from ..torch import train
            res = train(inst.module, inst.loss_fn, optimizer=name, lr=lr, steps=steps,
                        record_at=at, record_params=True, progress=False)
        else:
            from ..train import adam, gd
            res = (gd if name == "gd" else adam)(inst.net, inst.x, inst.y, lr=lr, steps=steps,
                                                 loss=inst.loss, trainable=inst.trainable,
                                                 record_at=at, record_params=True,
                                                 progress=False)
        done = int(res.iterations[-1])
        its = np.asarray(res.iterations)
        rows = [np.flatnonzero(its == k) for k in at]
        k = 0
        while k < at.size and rows[k].size and at[k] <= done:
            k += 1
        theta = np.asarray(res.params)[[r[0] for r in rows[:k]]] if k else \
            np.zeros((0, inst.size))
        return Outcome(res.status, res.stop_reason, theta, done, 0, done,
                       {"iterations": steps})

    note = {"gd": "full-batch gradient descent (forward Euler with step lr)",
            "adam": "full-batch Adam (beta 0.9, 0.999, eps 1e-8), placed at t = lr x "
                    "iterations; it follows a different dynamics, not the gradient flow"}[name]
    return Setup(name, "descent", "lr", run, lambda inst: None, note=note)


# -- the table ----------------------------------------------------------------------------------

def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name)


def _build_table():
    for method in FLOW_METHODS:                 # every method of fl.flow is a setup
        add_setup(flow_setup(method))
    add_setup(Setup("exact-nd", "exact", "tol", _exact_nd_run, _exact_nd_applies,
                    note="the general exact engine (any d), forced also where fl.flow takes "
                         "the univariate one: a second, independent exact method",
                    skip_after_stop=False))
    add_setup(Setup("RKC", "bridge", "tol", _rkc_run, _rkc_applies, requires=("torch",),
                    note="the PyTorch bridge's stabilised explicit Runge-Kutta-Chebyshev "
                         "method (Sommeijer, Shampine & Verwer 1997)"))
    add_setup(descent_setup("gd"))
    add_setup(descent_setup("adam"))
    from . import _peers
    for setup in _peers.peer_setups():
        add_setup(setup)


_build_table()
