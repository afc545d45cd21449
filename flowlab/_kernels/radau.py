"""A compiled Radau IIA (order 5) integrator for autonomous ODEs u' = F(u) with exact Jacobian.

The method is the three-stage collocation method at the Radau points (Hairer &
Wanner, *Solving ODEs II*, IV.8): simplified Newton iterations on the stage
equations, decoupled into one real and one complex linear system through the
eigen-decomposition of A^{-1}; an embedded third-order estimate filtered by
(mu/h - J)^{-1}; Gustafsson's step-size predictor; the collocation polynomial
as continuous extension.  All constants are computed below from the Butcher
tableau rather than typed in.

The integrator is generic over a *model*: a named tuple of arrays and constants
(:mod:`flowlab._kernels.hooks`) whose class selects, at compile time, the seven
compiled hooks that a model module registered with
:func:`flowlab._kernels.hooks.register_model`:

- ``rhs(model, u, out)``: out = F(u);
- ``rhs_loss(model, u, out) -> loss``: the same, and the loss at u (the field at
  the end of each accepted step is the next step's first stage, and its loss is
  recorded: one pass over the data serves both);
- ``jac(model, u, J, dh) -> bool``: J = dF/du; True when J is similar to a
  symmetric matrix through the diagonal scaling ``dh`` it fills in (then
  diag(dh) J diag(dh)^-1 is symmetric, as for a gradient flow whose Jacobian is
  minus a Hessian), False otherwise;
- ``output(model, u, theta, with_loss) -> loss``: the full parameter vector of
  a state and, if ``with_loss``, its loss (else 0);
- ``expand_rows(model, rows, k, tmp)``: for the recorded steps r < k, replace the
  state held in ``rows[r, q, :n]`` by the full parameters (steps are recorded
  as states and expanded in one pass when the run returns: one call per step
  and node would cost more than the expansion itself);
- ``events(model, nodes, armed) -> (found, s)``: given the continuous
  extension of an accepted step at the Lobatto nodes s = 0, 1/4, 3/4, 1
  (``nodes`` has shape (4, n)), the earliest event in the step as a fraction
  s of it (the model stores which event it was);
- ``event_rate(model, u, f) -> (e, de/dt)``: the value of that event function
  at u and its rate of change when u' = f.

Linear algebra: when the Jacobian is symmetric up to a diagonal scaling, it is
diagonalised once per Jacobian (symmetric eigen-decomposition) and every
shifted system (mu/h I - J) of any step size, real or complex, is solved with
two products by the eigenvectors -- changing h costs nothing.  Otherwise the
two shifted matrices are factored (LU with partial pivoting) for each h.

An event is reached by a step of exactly the located length, then polished by
one Newton correction t -> t - e/e', u -> u - (e/e') f (an O(dt^2) change), so
that the event function vanishes to rounding at the recorded event state.

``run`` steps until ``t_end``, an event, a failure or a full output buffer.
Dispatching through the model's type rather than passing the hooks as
arguments keeps the compiled integrator in numba's on-disk cache.

After an event the field jumps, the stiff components relax to the moved slow
manifold, and the step carried over from before the event would be rejected
several times; the first step after an event is therefore sized from the jump
of the field and the largest eigenvalue of the Jacobian, and the step-size
controller starts a fresh history (see ``_first_step_after_event``).

The step loop works on borrowed views of its arrays (:mod:`flowlab._kernels.borrow`):
the model tuples hold some twenty arrays and are handed to the hooks several
times per step, and numba's atomic reference counting of every member on every
call would otherwise cost more than the arithmetic.
"""

import math
from collections import namedtuple

import numba as nb
import numpy as np

from .._config import NUMBA_OPTIONS
from .internal import internal
from .borrow import borrowed
from .hooks import (model_event_rate, model_events, model_expand_rows, model_output, model_rhs,
                    model_rhs_loss)
from .radau_linalg import (C, E, MU_COMPLEX, MU_REAL, T, TI, TI_COMPLEX, TI_REAL, _lin_factor,
                           _lin_jacobian, _lin_solve_both, _lin_solve_real)
from .radau_linalg import Lin, h_lambda, new_lin  # noqa: F401  (run()'s solver state)

NEWTON_MAXITER = 6
#: the Newton iteration stops when its estimated remaining error is below this
#: fraction of the error tolerance (or the rounding floor 10 eps / rtol if larger).
#: Hairer's RADAU5 takes min(0.03, sqrt(rtol)) on its transformed tolerance, about
#: 1e-4 at rtol = 1e-10; scipy's Radau takes sqrt(rtol) on the tolerance itself,
#: which at rtol = 1e-10 meets the floor 2e-5.  3e-4 of the tolerance leaves the
#: global error of plateau-sine unchanged (2.8e-11 against 2.0e-11 relative at
#: rtol = 1e-10, measured against rtol = 1e-13) with 9 % fewer right-hand sides.
NEWTON_TOL = 3e-4
#: after an accepted step whose Newton iteration needed more than two iterations at a
#: contraction rate above this, the Jacobian is re-evaluated (Hairer's THET, there
#: 0.001 for cheap Jacobians and about 0.1 for costly ones; here a Jacobian with its
#: eigen-decomposition costs about a hundred right-hand sides)
JAC_RATE = 0.03
MIN_FACTOR = 0.2
MAX_FACTOR = 10.0
#: Slots of ``stats``, the float64 array that :func:`run` and
#: :func:`flowlab._kernels.explicit.run` update and their callers read (:func:`new_stats`):
#: the time reached, the next step size, right-hand sides, Jacobians and LU
#: factorisations so far, steps recorded, the step-size controller's last error norm and
#: step (read on entry to continue its history; negative: none) and, when ``stats`` has
#: it, the largest step allowed (``flow(..., max_step=...)``).
S_T, S_H, S_NFEV, S_NJEV, S_NLU, S_STEPS, S_ERR_OLD, S_H_OLD, S_MAX_STEP = range(9)
STATS_SIZE = 9
#: Radau hands back to the explicit stepper below this h lambda_max (see :func:`nonstiff`)
NONSTIFF_HLAMBDA = 1.0
NODES = np.array([0.0, 0.25, 0.75, 1.0])                  # Lobatto nodes of a cubic


# status codes returned by ``run``
DONE, EVENT, FULL, FAILED = 0, 1, 2, 3

#: Work arrays of :func:`run` for a state of n entries (P full parameters): the field at
#: the step's start ``f0``; the stage increments (3, n) predicted for the next step
#: ``Z_pred``, of the step being tried (then taken) ``Z_step`` and of the step to an event
#: ``Z_event``; the step's end ``y_new``, its error estimate ``err`` and that estimate's
#: stage part ``err_stages``, the error scale ``scale``; the start of the last accepted
#: step ``y_old``; the states at the Lobatto nodes ``nodes`` (4, n); full parameters
#: ``theta`` (P,); a temporary ``tmp`` that several steps of the loop use in turn; and
#: the Newton iteration's arrays ``newton`` (:data:`NewtonWork`).
RadauWork = namedtuple("RadauWork", ["f0", "Z_pred", "Z_step", "Z_event", "y_new", "err",
                                     "err_stages", "scale", "y_old", "nodes", "theta", "tmp",
                                     "newton"])
#: Work arrays of the simplified Newton iteration (:func:`_newton`): the stage state
#: ``y_stage``, the right-hand sides of the real and complex systems ``rhs_real``,
#: ``rhs_complex``, the transformed stages ``W``, their increments ``dW`` and the stage
#: fields ``F`` (the last three (3, n)).
NewtonWork = namedtuple("NewtonWork", ["y_stage", "rhs_real", "rhs_complex", "W", "dW", "F"])


@internal
def _rms(x, scale):
    """Root mean square of x / scale for a vector x."""
    s = 0.0
    for i in range(x.size):
        v = x[i] / scale[i]
        s += v * v
    return math.sqrt(s / x.size)


@internal
def _rms_rows(X, scale):
    """Root mean square of X / scale over every row of X (3, n)."""
    s = 0.0
    for r in range(X.shape[0]):
        row = X[r]
        for i in range(row.size):
            v = row[i] / scale[i]
            s += v * v
    return math.sqrt(s / X.size)


@internal
def _predict_factor(h, h_old, err, err_old):
    if err_old < 0.0 or h_old <= 0.0 or err == 0.0:
        mult = 1.0
    else:
        mult = h / h_old * (err_old / err) ** 0.25
    if err == 0.0:
        return MAX_FACTOR
    return min(1.0, mult) * err ** -0.25


@internal
def _newton(model, y, h, Z, lin, scale, tol, nw, faccon):
    """Simplified Newton on the collocation system; Z holds the predictor on entry.

    Convergence is tested after every iteration as in Hairer's RADAU5: with the
    contraction rate theta of the iteration, the remaining error is about
    theta / (1 - theta) times the last increment; before the second iteration
    gives a rate, the factor ``faccon`` carried over from the previous step is
    used, so a good predictor converges in one iteration.
    Works in ``nw`` (:data:`NewtonWork`).  Returns (converged, iterations, rate, nfev,
    faccon).
    """
    n = y.size
    yi = nw.y_stage
    fr = nw.rhs_real
    fc = nw.rhs_complex
    W = nw.W
    F = nw.F
    dW = nw.dW
    for i in range(3):
        for p in range(n):
            W[i, p] = TI[i, 0] * Z[0, p] + TI[i, 1] * Z[1, p] + TI[i, 2] * Z[2, p]
    mr = MU_REAL / h
    mc = MU_COMPLEX / h
    norm_old = -1.0
    rate = -1.0
    nfev = 0
    for k in range(NEWTON_MAXITER):
        for i in range(3):
            for p in range(n):
                yi[p] = y[p] + Z[i, p]
            model_rhs(model, yi, F[i])
            nfev += 1
        for i in range(3):
            for p in range(n):
                if not math.isfinite(F[i, p]):
                    return False, k + 1, rate, nfev, faccon
        for p in range(n):
            fr[p] = TI_REAL[0] * F[0, p] + TI_REAL[1] * F[1, p] + TI_REAL[2] * F[2, p] - mr * W[0, p]
            fc[p] = (TI_COMPLEX[0] * F[0, p] + TI_COMPLEX[1] * F[1, p] + TI_COMPLEX[2] * F[2, p]
                     - mc * (W[1, p] + 1j * W[2, p]))
        _lin_solve_both(lin, fr, fc)
        for p in range(n):
            dW[0, p] = fr[p]
            dW[1, p] = fc[p].real
            dW[2, p] = fc[p].imag
        dnorm = _rms_rows(dW, scale)
        if norm_old >= 0.0:
            rate = dnorm / norm_old if norm_old > 0.0 else 0.0
            if rate >= 1.0 or rate ** (NEWTON_MAXITER - k) / (1.0 - rate) * dnorm > tol:
                return False, k + 1, rate, nfev, faccon
            faccon = rate / (1.0 - rate)
        for i in range(3):
            for p in range(n):
                W[i, p] += dW[i, p]
        for i in range(3):
            for p in range(n):
                Z[i, p] = T[i, 0] * W[0, p] + T[i, 1] * W[1, p] + T[i, 2] * W[2, p]
        if dnorm == 0.0 or faccon * dnorm < tol:
            return True, k + 1, rate, nfev, faccon
        norm_old = dnorm
    return False, NEWTON_MAXITER, rate, nfev, faccon


@internal
def _attempt(model, y, f0, h, Z, lin, rtol, atol, tol, rejected, y_new, err, ze, scale, tmp,
             nw, faccon):
    """One step attempt of size h from y, where the field is f0, with predictor Z (LU
    factors for this h given); the step's end goes to ``y_new``, its error estimate to
    ``err``, the estimate's stage part to ``ze``; ``scale``, ``tmp`` and ``nw``
    (:data:`NewtonWork`) are work arrays.

    Returns (status, error_norm, iterations, rate, nfev, faccon): status 0 accepted,
    1 Newton failed, 2 error test failed; ``faccon`` is the Newton convergence factor
    to carry to the next attempt (see :func:`_newton`).
    """
    n = y.size
    for p in range(n):
        scale[p] = atol + abs(y[p]) * rtol
    ok, it, rate, nfev, faccon = _newton(model, y, h, Z, lin, scale, tol, nw, faccon)
    if not ok:
        return 1, np.inf, it, rate, nfev, faccon
    for p in range(n):
        y_new[p] = y[p] + Z[2, p]
        ze[p] = (E[0] * Z[0, p] + E[1] * Z[1, p] + E[2] * Z[2, p]) / h
        err[p] = f0[p] + ze[p]
        scale[p] = atol + max(abs(y[p]), abs(y_new[p])) * rtol
    _lin_solve_real(lin, err)
    en = _rms(err, scale)
    if rejected and en > 1.0:
        for p in range(n):
            tmp[p] = y[p] + err[p]
        model_rhs(model, tmp, err)
        nfev += 1
        for p in range(n):
            err[p] += ze[p]
        _lin_solve_real(lin, err)
        en = _rms(err, scale)
    if not math.isfinite(en):
        return 1, np.inf, it, rate, nfev, faccon
    return (0 if en <= 1.0 else 2), en, it, rate, nfev, faccon


@internal
def _first_step_after_event(lin, y, f0, rtol, atol, tmp):
    """First step size after an event that changed the field by df = f0 - f_event.

    Before the event the stiff components sat on the slow manifold; the jump df
    moves it, and the stiff modes relax with rate up to |lambda|max of the Jacobian.
    The fourth derivative of the solution is then about |lambda|^3 df, so the
    step with lambda^3 |df| h^4 ~ 1 (in the error norm, with a safety factor)
    meets the order-3 error estimate.  Without this the step carried over from
    before the event is rejected several times over (each time with Newton
    iterations and often a new Jacobian) and the controller's history, measured
    on the old field, then shrinks the next step by orders of magnitude.
    """
    J, lam, f_ev = lin.J, lin.lam, lin.f_event
    n = y.size
    for p in range(n):
        tmp[p] = f0[p] - f_ev[p]
    s = 0.0
    for p in range(n):
        v = tmp[p] / (atol + abs(y[p]) * rtol)
        s += v * v
    dfn = math.sqrt(s / max(n, 1))
    lmax = 0.0
    if lin.sym[0] == 1:
        for p in range(n):
            lmax = max(lmax, abs(lam[p]))
    else:
        for a in range(n):
            r = 0.0
            for b in range(n):
                r += abs(J[a, b])
            lmax = max(lmax, r)
    if not (dfn > 0.0 and lmax > 0.0 and math.isfinite(dfn * lmax)):
        return np.inf
    return 0.5 * (lmax ** 3 * dfn) ** -0.25


@internal
def _colloc(y, Z, s, out):
    """Collocation polynomial of the step at the fraction ``s`` (0 -> y, 1 -> y + Z_3)."""
    w0 = 1.0
    w1 = 1.0
    w2 = 1.0
    # Lagrange basis on the nodes 0, c1, c2, c3 = 1 (the value at 0 is y itself)
    for k in range(4):
        pk = 0.0 if k == 0 else C[k - 1]
        if k != 1:
            w0 *= (s - pk) / (C[0] - pk)
        if k != 2:
            w1 *= (s - pk) / (C[1] - pk)
        if k != 3:
            w2 *= (s - pk) / (C[2] - pk)
    for p in range(y.size):
        out[p] = y[p] + w0 * Z[0, p] + w1 * Z[1, p] + w2 * Z[2, p]


@internal
def _dense_nodes(y, Z, nodes):
    """Values of the collocation polynomial at the Lobatto nodes 0, 1/4, 3/4, 1."""
    for q in range(4):
        _colloc(y, Z, NODES[q], nodes[q])
    for p in range(y.size):
        nodes[0, p] = y[p]
        nodes[3, p] = y[p] + Z[2, p]


@internal
def _restart_stages(y, Z, s_from, ratio, y_from, Z0, tmp):
    """Stage increments of a step of size ratio*h starting at the fraction ``s_from`` of
    the last step, predicted from its collocation polynomial: Z0_i = u(s_from + ratio c_i) - y_from."""
    for i in range(3):
        _colloc(y, Z, s_from + ratio * C[i], tmp)
        for p in range(y.size):
            Z0[i, p] = tmp[p] - y_from[p]


@internal
def _record(model, nodes_u, theta, out_t, out_nodes, out_loss, k, t_new, loss):
    """Write step k: end time, the states at the four nodes (expanded to full
    parameters when the run returns, see ``expand_rows``), and the loss at the
    end (``loss``, or computed here if it is negative)."""
    out_t[k] = t_new
    n = nodes_u.shape[1]
    for q in range(4):
        for p in range(n):
            out_nodes[k, q, p] = nodes_u[q, p]
    if loss < 0.0:
        loss = model_output(model, nodes_u[3], theta, True)
    out_loss[k] = loss


@nb.njit(**NUMBA_OPTIONS, inline="always")
def run(model, t0, y0, t_end, h, rtol, atol, max_steps,
        out_t, out_nodes, out_loss, armed, stats, lin):
    """Integrate from (t0, y0) towards t_end; see the module docstring.

    Accepted steps are written to ``out_t[k]`` (end time), ``out_nodes[k]``
    (full parameters at the four Lobatto nodes of the step) and ``out_loss[k]``
    (loss at the step end).  ``stats`` (float64, from :func:`new_stats`; slots ``S_T``,
    ``S_H``, ...) is updated: the time reached and the next step size, the counts, and
    the controller's history ``S_ERR_OLD``, ``S_H_OLD`` (read on entry to continue it);
    the step never exceeds its ``S_MAX_STEP`` when it has that slot.  ``y0`` is overwritten
    with the final state.  ``lin`` is the linear-solver state (:data:`Lin`) from
    :func:`new_lin` (its Jacobian is reused if it has one of the right size).
    An event ends the run at the event time, reached by a step of exactly
    that length (or, if that step fails, by the continuous extension).
    Returns (status, number of recorded steps).
    """
    n = y0.size
    newton = NewtonWork(np.empty(n), np.empty(n), np.empty(n, dtype=np.complex128),
                        np.empty((3, n)), np.empty((3, n)), np.empty((3, n)))
    work = RadauWork(np.empty(n), np.zeros((3, n)), np.empty((3, n)), np.empty((3, n)),
                     np.empty(n), np.empty(n), np.empty(n), np.empty(n), np.empty(n),
                     np.empty((4, n)), np.empty(out_nodes.shape[2]), np.empty(n), newton)
    return _run(model, t0, y0, t_end, h, rtol, atol, max_steps,
                out_t, out_nodes, out_loss, armed, stats, lin, work)


@internal
def _run(model, t0, y0, t_end, h, rtol, atol, max_steps,
         out_t, out_nodes, out_loss, armed, stats, lin, work):
    """The step loop of :func:`run`, on borrowed views of its arrays: every array here
    is an argument, held by the caller for the whole call (flowlab._kernels.borrow)."""
    model = borrowed(model)
    lin = borrowed(lin)
    wk = borrowed(work)
    f0, Z, Zs, Z2 = wk.f0, wk.Z_pred, wk.Z_step, wk.Z_event
    y_new, err, ze, scale, tmp = wk.y_new, wk.err, wk.err_stages, wk.scale, wk.tmp
    nodes_u, theta, nw = wk.nodes, wk.theta, wk.newton
    y0 = borrowed(y0)
    out_t = borrowed(out_t)
    out_nodes = borrowed(out_nodes)
    out_loss = borrowed(out_loss)
    armed = borrowed(armed)
    stats = borrowed(stats)
    n = y0.size
    eps = np.finfo(np.float64).eps
    tol = max(10.0 * eps / rtol, min(0.03, max(math.sqrt(rtol), NEWTON_TOL)))
    y = y0
    model_rhs(model, y, f0)
    nfev, njev, nlu = 1, 0, 0
    if lin.has_jac[0] == 1 and lin.J.shape[0] == n:
        current_jac = False              # start from the Jacobian of the previous call
    else:
        _lin_jacobian(lin, model, y)
        njev = 1
        current_jac = True
    if lin.after_event[0] == 1:
        lin.after_event[0] = 0
        h = min(h, _first_step_after_event(lin, y, f0, rtol, atol, tmp))
    lu_ok = False
    t = t0
    err_old = stats[S_ERR_OLD]
    h_old = stats[S_H_OLD]
    h_max = stats[S_MAX_STEP] if stats.size > S_MAX_STEP else np.inf
    h = min(h, h_max)
    rejected = False
    faccon = 1.0
    k = 0
    status = DONE
    while True:
        if t >= t_end - 10.0 * eps * abs(t_end):
            # reached (an event may land within rounding of t_end: no step is left)
            status = DONE
            break
        if k >= out_t.size or k >= max_steps:
            status = FULL
            break
        if t + 1.0001 * h >= t_end:
            h = t_end - t
            lu_ok = False
        if not h > 10.0 * eps * max(abs(t), 1e-300):      # underflow, or NaN
            status = FAILED
            break
        # -- one step, retried with smaller h until accepted -------------------------
        faccon = max(faccon, eps) ** 0.8
        it = 0
        rate = -1.0
        en = 0.0
        while h > 10.0 * eps * max(abs(t), 1e-300):
            if not lu_ok:
                if not _lin_factor(lin, h):
                    h *= 0.5
                    continue
                nlu += 1 - lin.sym[0]
                lu_ok = True
            for i in range(3):
                for p in range(n):
                    Zs[i, p] = Z[i, p]
            st, en, it, rate, nf, faccon = _attempt(model, y, f0, h, Zs, lin, rtol, atol, tol,
                                                    rejected, y_new, err, ze, scale, tmp, nw,
                                                    faccon)
            nfev += nf
            if st == 0:
                break
            if st == 1 and not current_jac:
                _lin_jacobian(lin, model, y)
                njev += 1
                current_jac = True
            elif st == 1:
                h *= 0.5
                Z[:, :] = 0.0
                rejected = True
            else:
                safety = 0.9 * (2 * NEWTON_MAXITER + 1) / (2 * NEWTON_MAXITER + it)
                h *= max(MIN_FACTOR, safety * _predict_factor(h, h_old, en, err_old))
                Z[:, :] = 0.0
                rejected = True
            lu_ok = False
        if not h > 10.0 * eps * max(abs(t), 1e-300):      # underflow, or NaN
            status = FAILED
            break
        # -- accepted: events ---------------------------------------------------------
        _dense_nodes(y, Zs, nodes_u)
        found, s_ev = model_events(model, nodes_u, armed)
        if found:
            status = EVENT
            s_ev = min(max(s_ev, 0.0), 1.0)
            h_ev = s_ev * h
            if 0.0 < s_ev < 1.0:
                _restart_stages(y, Zs, 0.0, s_ev, y, Z2, tmp)
                exact = False
                if _lin_factor(lin, h_ev):
                    nlu += 1 - lin.sym[0]
                    st, en2, it2, rate2, nf, faccon = _attempt(model, y, f0, h_ev, Z2, lin,
                                                               rtol, atol, tol, False, y_new,
                                                               err, ze, scale, tmp, nw, faccon)
                    nfev += nf
                    exact = st == 0
                if exact:
                    _dense_nodes(y, Z2, nodes_u)
                else:
                    # continuous extension of the accepted step on [0, s_ev]
                    for q in range(4):
                        _colloc(y, Zs, s_ev * NODES[q], nodes_u[q])
                    for p in range(n):
                        y_new[p] = nodes_u[3, p]
            elif s_ev >= 1.0:
                _dense_nodes(y, Zs, nodes_u)
            # Newton polish of the event time and state (the field at the event state is
            # kept for the next call: see below)
            f1 = lin.f_event
            model_rhs(model, nodes_u[3], f1)
            nfev += 1
            e1, de1 = model_event_rate(model, nodes_u[3], f1)
            if de1 != 0.0 and math.isfinite(e1 / de1):
                dt = -e1 / de1
                if abs(dt) <= 1e-3 * h_ev and h_ev + dt > 0.0:
                    h_ev += dt
                    for p in range(n):
                        nodes_u[3, p] += dt * f1[p]
            if h_ev > 0.0:
                _record(model, nodes_u, theta, out_t, out_nodes, out_loss, k, t + h_ev, -1.0)
                k += 1
                t = t + h_ev
                for p in range(n):
                    y[p] = nodes_u[3, p]
            h = max(h_ev, h) if h_ev > 0.0 else h
            # the field changes at the event: the next call sizes its first step from the
            # jump from lin.f_event (see _first_step_after_event) and starts a fresh
            # controller history
            lin.after_event[0] = 1
            err_old = -1.0
            h_old = -1.0
            break
        # -- accepted: output and next step size --------------------------------------
        loss = model_rhs_loss(model, y_new, f0)            # f0 of the next step
        nfev += 1
        _record(model, nodes_u, theta, out_t, out_nodes, out_loss, k, t + h, loss)
        k += 1
        recompute = it > 2 and rate > JAC_RATE
        safety = 0.9 * (2 * NEWTON_MAXITER + 1) / (2 * NEWTON_MAXITER + it)
        factor = min(MAX_FACTOR, safety * _predict_factor(h, h_old, en, err_old), h_max / h)
        # with LU factors a new h costs two factorisations, so small increases are
        # skipped (as in Hairer's RADAU5); with the eigen-decomposition it is free
        if lin.sym[0] == 0 and not recompute and factor < 1.2:
            factor = 1.0
        elif abs(factor - 1.0) < 1e-3 and not recompute:
            factor = 1.0
        else:
            lu_ok = False
        h_old = h
        err_old = en
        t = t + h
        for p in range(n):
            y[p] = y_new[p]
        if recompute:
            _lin_jacobian(lin, model, y)
            njev += 1
            current_jac = True
        else:
            current_jac = False
        y_old = wk.y_old
        for p in range(n):
            y_old[p] = y[p] - Zs[2, p]
        _restart_stages(y_old, Zs, 1.0, factor, y, Z, tmp)
        h *= factor
        rejected = False
    model_expand_rows(model, out_nodes, k, tmp)
    stats[S_T] = t
    stats[S_H] = h
    stats[S_NFEV] += nfev
    stats[S_NJEV] += njev
    stats[S_NLU] += nlu
    stats[S_STEPS] += k
    stats[S_ERR_OLD] = err_old
    stats[S_H_OLD] = h_old
    return status, k


@internal
def nonstiff(lin, h):
    """True when a step h has h lambda_max < NONSTIFF_HLAMBDA (:func:`h_lambda`; False
    without eigenvalues): the explicit stepper could then take the same steps (see
    :mod:`flowlab._flow._stepper`)."""
    return h_lambda(lin, h) < NONSTIFF_HLAMBDA


def new_stats(max_step=np.inf):
    """A ``stats`` array for :func:`run` and :func:`flowlab._kernels.explicit.run`: no
    counts, no step-size history, steps up to ``max_step`` (``S_H``, the first step
    size, is the caller's to set)."""
    stats = np.zeros(STATS_SIZE)
    stats[S_ERR_OLD] = -1.0
    stats[S_H_OLD] = -1.0
    stats[S_MAX_STEP] = max_step
    return stats
