"""External peers: torchdiffeq's dopri5 and diffrax's Tsit5 and Kvaerno5.

Installed with ``pip install "flowlab[bench]"``; a missing one is skipped with
a note.  Each integrates the same field as flowlab, -grad L, evaluated by
flowlab (compiled kernels for flowlab networks, autograd for modules): the
peers are compared as integrators, not as gradient codes.  diffrax runs in
float64 on the CPU; its implicit Kvaerno5 gets the exact Hessian through a
custom JVP, never finite differences.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from ._problems import Instance

__all__ = ["peer_setups", "numpy_field"]


def numpy_field(inst: Instance):
    """``(rhs, jac, u0, to_theta)`` of the flow on the trainable vector u.

    rhs(u) = -grad L(u), jac(u) = -Hess L(u) (shape (p, p)); to_theta maps
    rows of u (k, p) to full flat parameters (k, P).
    """
    if inst.kind == "torch":
        fm = inst.flat()
        rhs, jac, u0, theta = fm.rhs_u, (lambda u: fm.jac(0.0, u)), fm.u0.copy(), fm.theta
    else:
        from .._problem import Problem
        prob = Problem(inst.net, inst.x, inst.y, loss=inst.loss, trainable=inst.trainable)
        rhs, jac, u0, theta = (lambda u: prob.rhs(0.0, u)), (lambda u: prob.jac(0.0, u)), \
            prob.u0.copy(), prob.theta

    def to_theta(U):
        return np.array([theta(u) for u in np.atleast_2d(U)]) if len(U) else \
            np.zeros((0, inst.size))
    return rhs, jac, u0, to_theta


def _torchdiffeq_run(method):
    def run(inst, rtol, times, limits):
        import torch
        import torchdiffeq

        from ._setup import Outcome
        rhs, _, u0, to_theta = numpy_field(inst)
        count = [0]

        def f(t, y):
            count[0] += 1
            return torch.from_numpy(np.asarray(rhs(y.detach().numpy()), dtype=np.float64))
        tt = torch.from_numpy(np.concatenate([[0.0], times]))
        # no torch.no_grad() here: a module's field needs autograd; the states carry no
        # graph, as the field returns plain tensors
        Y = torchdiffeq.odeint(f, torch.from_numpy(u0), tt, rtol=rtol,
                               atol=rtol * inst.atol_ratio, method=method,
                               options={"max_num_steps": int(limits.max_steps)})
        return Outcome("finished", f"torchdiffeq {method} reached t_end",
                       to_theta(Y[1:].numpy()), count[0], 0, 0)
    return run


_DIFFRAX = {}


def _diffrax_compiled(solver_name, inst: Instance, times):
    """The compiled diffrax solve of ``inst`` to ``times`` (cached: compiled once)."""
    key = (solver_name, inst.fingerprint(), inst.t_end, np.asarray(times).tobytes())
    if key in _DIFFRAX:
        return _DIFFRAX[key]
    import diffrax
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    rhs, jac, u0, to_theta = numpy_field(inst)
    p = u0.size
    counts = [0, 0, np.inf]          # rhs and Jacobian calls, deadline (perf_counter)

    def _check():
        if time.perf_counter() > counts[2]:
            raise TimeoutError("the time limit passed")

    def _rhs(u):
        _check()
        counts[0] += 1
        return np.asarray(rhs(np.asarray(u, dtype=np.float64)), dtype=np.float64)

    def _jac(u):
        _check()
        counts[1] += 1
        return np.asarray(jac(np.asarray(u, dtype=np.float64)), dtype=np.float64)

    vec = jax.ShapeDtypeStruct((p,), jnp.float64)
    mat = jax.ShapeDtypeStruct((p, p), jnp.float64)

    @jax.custom_jvp
    def field(y):
        return jax.pure_callback(_rhs, vec, y, vmap_method="sequential")

    @field.defjvp
    def field_jvp(primals, tangents):
        (y,), (dy,) = primals, tangents
        J = jax.pure_callback(_jac, mat, y, vmap_method="sequential")
        return field(y), J @ dy

    term = diffrax.ODETerm(lambda t, y, args: field(y))
    solver = getattr(diffrax, solver_name)()
    ts = jnp.asarray(times)

    def solve(rtol, atol):
        sol = diffrax.diffeqsolve(
            term, solver, t0=0.0, t1=float(inst.t_end), dt0=None, y0=jnp.asarray(u0),
            saveat=diffrax.SaveAt(ts=ts),
            stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
            max_steps=10 ** 6, throw=False)
        return sol.ys, sol.result._value, sol.stats["num_accepted_steps"]
    args = (jnp.float64(1e-4), jnp.float64(1e-6))
    compiled = jax.jit(solve).lower(*args).compile()
    ok = diffrax.RESULTS.successful._value
    _DIFFRAX[key] = (compiled, counts, to_theta, ok)
    return _DIFFRAX[key]


def _diffrax_prepare(solver_name):
    def prepare(inst, times):
        _diffrax_compiled(solver_name, inst, times)
    return prepare


def _diffrax_run(solver_name):
    def run(inst, rtol, times, limits):
        import jax.numpy as jnp

        from ._setup import Outcome
        compiled, counts, to_theta, ok_code = _diffrax_compiled(solver_name, inst, times)
        # XLA cannot be interrupted from Python: the callbacks stop it at the deadline
        counts[:] = [0, 0, time.perf_counter() + limits.seconds]
        quiet = logging.getLogger("jax")          # a stopped callback is not news
        level = quiet.level
        quiet.setLevel(logging.CRITICAL)
        try:
            ys, code, steps = compiled(jnp.float64(rtol), jnp.float64(rtol * inst.atol_ratio))
        except Exception:
            if time.perf_counter() < counts[2]:
                raise
            return Outcome("timeout", f"stopped by the time limit of {limits.seconds:g} s",
                           np.zeros((0, inst.size)), counts[0], counts[1], 0)
        finally:
            counts[2] = np.inf
            quiet.setLevel(level)
        ok = int(code) == int(ok_code)
        Y = np.asarray(ys)
        good = np.all(np.isfinite(Y), axis=1)
        k = Y.shape[0] if ok else (int(np.argmin(good)) if not np.all(good) else Y.shape[0])
        status = "finished" if ok else "failed"
        msg = "diffrax reached t_end" if ok else f"diffrax stopped (result code {int(code)})"
        return Outcome(status, msg, to_theta(Y[:k]), counts[0], counts[1], int(steps))
    return run


def _peer_applies(inst):
    return None


def peer_setups():
    from ._setup import Setup
    yield Setup("torchdiffeq-dopri5", "peer", "tol", _torchdiffeq_run("dopri5"), _peer_applies,
                requires=("torch", "torchdiffeq"),
                note="torchdiffeq's dopri5 (Dormand-Prince 5(4)) on the same field")
    for name, what in (("Tsit5", "Tsitouras 5(4), explicit"),
                       ("Kvaerno5", "Kvaerno 5(4) ESDIRK, implicit, exact Hessian via a custom "
                                    "JVP")):
        yield Setup(f"diffrax-{name}", "peer", "tol", _diffrax_run(name), _peer_applies,
                    requires=("jax", "diffrax"), note=f"diffrax's {name}: {what}; JAX float64, "
                                                      "CPU", prepare=_diffrax_prepare(name),
                    interruptible=False)
