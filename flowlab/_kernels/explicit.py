"""A compiled explicit, event-driven integrator for u' = F(u): Dormand-Prince 5(4).

The explicit counterpart of :func:`flowlab._kernels.radau.run`, for the non-stiff
stretches of a flow and for networks too wide for a dense Jacobian: it calls the
same model hooks (registered with :func:`flowlab._kernels.hooks.register_model`:
``rhs``, ``rhs_loss``, ``output``, ``expand_rows``, ``events``, ``event_rate``), never
the Jacobian, and holds O(n) memory besides its output buffers (seven stage vectors
and a few work vectors: no n x n array).

The method is the embedded pair of Dormand & Prince (1980), order 5 with an order-4
error estimate, first stage same as last (FSAL: six new right-hand sides per step), its
continuous extension of degree 4 (Shampine 1986) and the step-size control of Hairer,
Norsett & Wanner (*Solving ODEs I*, II.4; safety 0.9, factors in [0.2, 10], no growth
right after a rejection).  The coefficients are read from scipy's ``RK45`` class.

Events are handled as in the Radau stepper: every accepted step hands the model's
``events`` hook a cubic at the Lobatto nodes s = 0, 1/4, 3/4, 1 -- here the cubic
Hermite interpolant of the step's end states and their fields (see :func:`_scan_nodes`);
the step's dense output is the continuous extension of degree 4, recorded at the
``DEGREE + 1`` = 5 Chebyshev-Lobatto nodes (``out_nodes`` needs room for them); the
earliest event is reached by a step of exactly the located length from the step's
start, then polished by one Newton correction t -> t - e/e' (an O(dt^2) change), so
that the event function vanishes to rounding at the recorded event state.

Stiffness.  A gradient flow's Jacobian is minus a Hessian: real eigenvalues, the
largest of size lambda_max.  The method is stable for h lambda_max below about 3.3
on the negative real axis; when the flow is stiff at the requested tolerance, the
step sizes the error control picks hover at that bound.  After each accepted step
h ||F(y_new) - F(y_6)|| / ||y_new - y_6|| (y_6 the state of the sixth stage, which
like y_new sits at the step's end) estimates h lambda_max for free (Hairer's test in
DOPRI5); when it exceeds 2.5 on ``erk.STIFF_STEPS`` accepted steps in a row (six steps
below reset the count), the flow is declared stiff: ``run`` returns ``STIFF`` if its
caller asked for that (``stiff_stop``), and in any case counts it in the work arrays'
``counts[CT_DECLARED]``.
"""

import math
from collections import namedtuple

import numba as nb
import numpy as np
from scipy import integrate

from .._config import NUMBA_OPTIONS
from .internal import internal
from .borrow import borrowed
from .erk import LAM_LAST, LAM_MAX, count_stiff_step
from .hooks import (model_event_rate, model_events, model_expand_rows, model_output, model_rhs,
                    model_rhs_loss)
from .radau import DONE, EVENT, FAILED, FULL, NODES, S_H, S_MAX_STEP, S_NFEV, S_STEPS, S_T

#: status code of :func:`run` beside radau's DONE, EVENT, FULL, FAILED
STIFF = 4

_C = np.ascontiguousarray(integrate.RK45.C, dtype=np.float64)
_A = np.ascontiguousarray(integrate.RK45.A, dtype=np.float64)       # (6, 5)
_B = np.ascontiguousarray(integrate.RK45.B, dtype=np.float64)       # (6,)
_E = np.ascontiguousarray(integrate.RK45.E, dtype=np.float64)       # (7,)
_P = np.ascontiguousarray(integrate.RK45.P, dtype=np.float64)       # (7, 4)
#: the recorded dense output: the continuous extension (degree 4) at the Chebyshev-Lobatto
#: nodes of degree 4 (those of flowlab._flow.dense)
DEGREE = 4
_S_RECORD = 0.5 * (1.0 - np.cos(np.pi * np.arange(DEGREE + 1) / DEGREE))
_S_RECORD[0], _S_RECORD[-1] = 0.0, 1.0


def _weights(svals):
    """Weights W[i, j] with y(s_i) = y + h sum_j K_j W[i, j]: W_j(s) = sum_k P[j, k]
    s^(k+1)."""
    return np.array([[sum(_P[j, k] * s ** (k + 1) for k in range(_P.shape[1]))
                      for j in range(_P.shape[0])] for s in svals])


#: at the interior recorded nodes
_WR = _weights(_S_RECORD[1:DEGREE])
SAFETY = 0.9
MIN_FACTOR = 0.2
MAX_FACTOR = 10.0
#: h lambda_max above this counts as a step near the stability bound (the real
#: stability interval of the pair is about [-3.3, 0]; the estimate from two stages sees
#: only part of the stiff components, so it sits below the bound when the steps are on
#: it: 2.5 catches plateau-sine's stiff stretch at t = 5 instead of t = 14; a suspicion is
#: confirmed by power iterations before anything changes)
STIFF_HLAMBDA = 2.5
# erk.STIFF_STEPS stability-bound steps in a row declare the flow stiff, erk.NONSTIFF_STEPS
# below reset the count (flowlab._kernels.erk.count_stiff_step)
#: the stability interval of the method on the negative real axis (|h lambda| below)
STABILITY = 3.3


#: Slots of the work arrays' ``counts`` (int64): accepted steps near the stability bound in
#: a row, below it in a row, stiffness declarations (the counts of
#: :func:`~flowlab._kernels.erk.count_stiff_step`), accepted steps, rejected steps.
CT_NEAR, CT_BELOW, CT_DECLARED, CT_ACCEPTED, CT_REJECTED = range(5)

#: Work arrays of :func:`run` (from :func:`new_work`) for states of up to n entries: the
#: stages ``K`` (7n) and those of the step to an event ``K_event`` (7n), the state of the
#: stage being evaluated ``y_stage`` (n; the sixth stage's after a step), the step's end
#: ``y_new`` (n), the cubic that the event scan watches at the Lobatto nodes ``nodes``
#: (4n), a temporary ``tmp`` (n); the step counters ``counts`` (slots ``CT_NEAR``, ...)
#: and ``lam`` (slots ``erk.LAM_LAST``, ``erk.LAM_MAX``: the last estimate of lambda_max
#: and its largest value).  The arrays of states are flat and viewed as (7, m), (4, m),
#: (m,) for a state of m <= n entries: the views stay C-contiguous, so the model hooks see
#: the same array types from this stepper as from Radau IIA and are compiled once.
ExplicitWork = namedtuple("ExplicitWork", ["K", "K_event", "y_stage", "y_new", "nodes", "tmp",
                                           "counts", "lam"])


@nb.njit(**NUMBA_OPTIONS)
def new_work(n):
    """Work arrays (:data:`ExplicitWork`) of :func:`run` for up to n unknowns, counts
    at zero."""
    return ExplicitWork(np.zeros(7 * n), np.zeros(7 * n), np.zeros(n), np.zeros(n),
                        np.zeros(4 * n), np.zeros(n), np.zeros(5, dtype=np.int64), np.zeros(2))


def work_size(xw) -> int:
    """The largest state the work arrays of :func:`new_work` hold."""
    return xw.K.size // 7


@internal
def _step(model, y, h, K, ytmp, y_new):
    """One Dormand-Prince step of size h from y with K[0] = F(y) given: stages into
    K[1:6], y_new, and K[6] = F(y_new); ``ytmp`` ends holding the sixth stage's state.
    Returns the loss at y_new."""
    n = y.size
    for s in range(1, 6):
        for p in range(n):
            acc = 0.0
            for j in range(s):
                acc += _A[s, j] * K[j, p]
            ytmp[p] = y[p] + h * acc
        model_rhs(model, ytmp, K[s])
    for p in range(n):
        acc = 0.0
        for j in range(6):
            acc += _B[j] * K[j, p]
        y_new[p] = y[p] + h * acc
    return model_rhs_loss(model, y_new, K[6])


@internal
def _error_norm(y, y_new, h, K, rtol, atol):
    """RMS norm of the order-4 error estimate h sum_j E_j K_j, scaled by the tolerances
    (inf if anything is not finite)."""
    n = y.size
    s = 0.0
    for p in range(n):
        acc = 0.0
        for j in range(7):
            acc += _E[j] * K[j, p]
        v = h * acc / (atol + max(abs(y[p]), abs(y_new[p])) * rtol)
        s += v * v
    en = math.sqrt(s / max(n, 1))
    return en if math.isfinite(en) else np.inf


#: cubic Hermite weights (y0, h f0, y1, h f1) at s = 1/4 and 3/4
_HW = np.array([[2 * s ** 3 - 3 * s ** 2 + 1, s ** 3 - 2 * s ** 2 + s, -2 * s ** 3 + 3 * s ** 2,
                 s ** 3 - s ** 2] for s in NODES[1:3]])


@internal
def _scan_nodes(y, y_new, h, f0, f1, nodes):
    """The step's cubic Hermite interpolant (states and fields at both ends) at the
    Lobatto nodes 0, 1/4, 3/4, 1 into ``nodes``: what the event scan watches.

    The step's ends and their fields are the numerical solution itself; the continuous
    extension's interior values carry its truncation error (of the order of the
    tolerance), which a switching function near its surface would read as crossings.
    Between two ends on one side of a surface, the Hermite cubic leaves that side only
    by as much as the end slopes allow."""
    n = y.size
    for p in range(n):
        nodes[0, p] = y[p]
        nodes[3, p] = y_new[p]
    for q in range(2):
        for p in range(n):
            nodes[q + 1, p] = (_HW[q, 0] * y[p] + _HW[q, 1] * h * f0[p]
                               + _HW[q, 2] * y_new[p] + _HW[q, 3] * h * f1[p])


@internal
def _record(model, y, h, K, end, theta, out_t, out_nodes, out_loss, k, t_new, loss):
    """Write step k: end time, the continuous extension at the recorded nodes (the end
    value is ``end``; states, expanded to full parameters when the run returns) and the
    loss at the end (``loss``, or computed here if it is negative)."""
    out_t[k] = t_new
    n = y.size
    for p in range(n):
        out_nodes[k, 0, p] = y[p]
        out_nodes[k, DEGREE, p] = end[p]
    for q in range(DEGREE - 1):
        for p in range(n):
            acc = 0.0
            for j in range(7):
                acc += _WR[q, j] * K[j, p]
            out_nodes[k, q + 1, p] = y[p] + h * acc
    if loss < 0.0:
        loss = model_output(model, end, theta, True)
    out_loss[k] = loss


@internal
def _h_lambda(y_new, ytmp, K, h):
    """h ||F(y_new) - F(y_6)|| / ||y_new - y_6||: an estimate of h lambda_max."""
    num = 0.0
    den = 0.0
    for p in range(y_new.size):
        a = K[6, p] - K[5, p]
        b = y_new[p] - ytmp[p]
        num += a * a
        den += b * b
    if den > 0.0:
        return h * math.sqrt(num / den)
    return 0.0


@nb.njit(**NUMBA_OPTIONS, inline="always")
def run(model, t0, y0, t_end, h, rtol, atol, max_steps, out_t, out_nodes, out_loss, armed,
        stats, xw, stiff_stop):
    """Integrate from (t0, y0) towards t_end; see the module docstring.

    The arguments and outputs are those of :func:`flowlab._kernels.radau.run`, with
    ``xw`` (from :func:`new_work`) in place of the linear-solver state; ``stiff_stop``
    true makes the run return ``STIFF`` (after recording the step that declared it)
    when the flow is found stiff.  ``stats`` as for Radau (its slots ``S_NJEV``,
    ``S_NLU`` and the controller's history stay untouched).
    Returns (status, number of recorded steps).
    """
    theta = np.empty(out_nodes.shape[2])
    return _run(model, t0, y0, t_end, h, rtol, atol, max_steps, out_t, out_nodes, out_loss,
                armed, stats, xw, stiff_stop, theta)


@internal
def _run(model, t0, y0, t_end, h, rtol, atol, max_steps, out_t, out_nodes, out_loss, armed,
         stats, xw, stiff_stop, theta):
    """The step loop of :func:`run`, on borrowed views of its arrays (every array here is
    an argument, held by the caller for the whole call: flowlab._kernels.borrow)."""
    model = borrowed(model)
    xw = borrowed(xw)
    counts, lam = xw.counts, xw.lam
    y0 = borrowed(y0)
    out_t = borrowed(out_t)
    out_nodes = borrowed(out_nodes)
    out_loss = borrowed(out_loss)
    armed = borrowed(armed)
    stats = borrowed(stats)
    theta = borrowed(theta)
    n = y0.size
    # the work arrays may be longer than the state (they are kept across layouts)
    K = xw.K[:7 * n].reshape(7, n)
    K2 = xw.K_event[:7 * n].reshape(7, n)
    ytmp = xw.y_stage[:n]
    y_new = xw.y_new[:n]
    nodes = xw.nodes[:4 * n].reshape(4, n)
    eps = np.finfo(np.float64).eps
    y = y0
    model_rhs(model, y, K[0])
    nfev = 1
    t = t0
    k = 0
    status = DONE
    h_max = stats[S_MAX_STEP] if stats.size > S_MAX_STEP else np.inf
    h = min(h, h_max)
    while True:
        if t >= t_end - 10.0 * eps * abs(t_end):
            status = DONE
            break
        if k >= out_t.size or k >= max_steps:
            status = FULL
            break
        if t + 1.0001 * h >= t_end:
            h = t_end - t
        if not h > 10.0 * eps * max(abs(t), 1e-300):
            status = FAILED
            break
        rejected = False
        loss = 0.0
        en = 0.0
        while True:
            loss = _step(model, y, h, K, ytmp, y_new)
            nfev += 6
            en = _error_norm(y, y_new, h, K, rtol, atol)
            if en <= 1.0:
                break
            counts[CT_REJECTED] += 1
            h *= max(MIN_FACTOR, SAFETY * en ** -0.2) if math.isfinite(en) else MIN_FACTOR
            rejected = True
            if not h > 10.0 * eps * max(abs(t), 1e-300):
                break
        if not en <= 1.0:
            status = FAILED
            break
        counts[CT_ACCEPTED] += 1
        # -- stiffness: h lambda_max at the stability bound, step after step ---------------
        hl = _h_lambda(y_new, ytmp, K, h)
        lam[LAM_LAST] = hl / h
        lam[LAM_MAX] = max(lam[LAM_MAX], hl / h)
        stiff_now = count_stiff_step(counts, CT_NEAR, CT_BELOW, CT_DECLARED,
                                     hl > STIFF_HLAMBDA)
        # -- events --------------------------------------------------------------------
        _scan_nodes(y, y_new, h, K[0], K[6], nodes)
        found, s_ev = model_events(model, nodes, armed)
        if found:
            status = EVENT
            s_ev = min(max(s_ev, 0.0), 1.0)
            h_ev = s_ev * h
            Kev = K
            if 0.0 < s_ev < 1.0:
                # a step of exactly the located length from the step's start
                for p in range(n):
                    K2[0, p] = K[0, p]
                _step(model, y, h_ev, K2, ytmp, y_new)
                nfev += 6
                _scan_nodes(y, y_new, h_ev, K2[0], K2[6], nodes)
                Kev = K2
            f1 = Kev[6]
            # Newton polish of the event time and state
            e1, de1 = model_event_rate(model, nodes[3], f1)
            if de1 != 0.0 and math.isfinite(e1 / de1):
                dt = -e1 / de1
                if abs(dt) <= 1e-3 * h_ev and h_ev + dt > 0.0:
                    h_ev += dt
                    for p in range(n):
                        nodes[3, p] += dt * f1[p]
            if h_ev > 0.0:
                _record(model, y, h_ev, Kev, nodes[3], theta, out_t, out_nodes, out_loss, k,
                        t + h_ev, -1.0)
                k += 1
                t = t + h_ev
                for p in range(n):
                    y[p] = nodes[3, p]
            break
        # -- accepted: output and next step size -----------------------------------------
        _record(model, y, h, K, y_new, theta, out_t, out_nodes, out_loss, k, t + h, loss)
        k += 1
        t = t + h
        for p in range(n):
            y[p] = y_new[p]
            K[0, p] = K[6, p]
        factor = MAX_FACTOR if en == 0.0 else min(MAX_FACTOR, SAFETY * en ** -0.2)
        if rejected:
            factor = min(1.0, factor)
        h = min(h * factor, h_max)
        if stiff_now and stiff_stop:
            status = STIFF
            break
    model_expand_rows(model, out_nodes, k, xw.tmp[:n])
    stats[S_T] = t
    stats[S_H] = h
    stats[S_NFEV] += nfev
    stats[S_STEPS] += k
    return status, k
