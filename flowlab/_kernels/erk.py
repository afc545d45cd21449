"""Compiled explicit Runge-Kutta stepping of the gradient flow of a two-layer network.

The whole step loop (stages, error estimate, step-size control, continuous
extension) runs inside numba, so a step costs its right-hand-side evaluations
and nothing else.  Two embedded pairs are supported, selected by ``kind``:

- ``RK45``: Dormand-Prince 5(4), FSAL, 6 new stages per step, continuous
  extension of degree 4 from the stages;
- ``DOP853``: Dormand-Prince 8(5,3), 12 new stages per step, error estimate
  blending the 5th- and 3rd-order estimators, continuous extension of degree 7
  that costs 3 extra stages per step (only when dense output is wanted).

The Butcher tableaux are passed in as arrays (``flowlab._flow.compiled`` reads
them from scipy's solver classes), and the step-size control is the standard
one of Hairer, Norsett & Wanner (Solving ODEs I, Sec. II.4) with the constants
scipy uses (safety 0.9, factors in [0.2, 10], no growth right after a
rejection), so that a run takes the same steps as scipy's solver of the same
name, to rounding.

The problem ``prob`` is a :data:`KernelProblem`, the kernel form of a
``flowlab._problem.Problem``, and the tableau ``tab`` a :data:`Tableau`.

Status codes returned by :func:`advance`: 0 chunk full (call again), 1 reached
``t_end``, 2 steady state (||grad L|| < gtol), 3 the loss reached ``stop_loss``
(the end of the step where it first did), -1 step size below 10 ulp of t, 4 the flow
is stiff (when asked).

Stiffness: both pairs end with a stage at c = 1 and evaluate the field at the new
state, so after each accepted step h ||F(y_new) - F(y_last stage)|| / ||y_new -
y_last stage|| estimates h lambda_max for free (Hairer's test in DOPRI5 and DOP853);
``STIFF_STEPS`` steps in a row beyond ``STIFF_HLAMBDA`` declare the flow stiff.
"""

import math
from collections import namedtuple

import numba as nb
import numpy as np

from .._config import NUMBA_OPTIONS
from .internal import internal
from . import twolayer as _tk

RK45, DOP853 = 0, 1
RUNNING, FINISHED, STEADY, LEVEL, TOO_SMALL, STIFF = 0, 1, 2, 3, -1, 4
#: h lambda_max beyond which a step is on the stability bound (the real stability
#: intervals: about [-3.3, 0] for RK45, [-6.1, 0] for DOP853; Hairer's DOPRI5 and DOP853)
STIFF_HLAMBDA = (3.25, 6.1)
#: stability-bound steps in a row that declare the flow stiff, and steps below that reset
STIFF_STEPS, NONSTIFF_STEPS = 15, 6

SAFETY = 0.9
MIN_FACTOR = 0.2
MAX_FACTOR = 10.0

#: Slots of ``stats`` (int64), the counters of :func:`advance` that its callers read:
#: right-hand sides, rejected steps, and the stiffness test's counts
#: (:func:`count_stiff_step`): accepted steps near the stability bound in a row, below it
#: in a row, stiffness declarations.
ST_NFEV, ST_REJECTED, ST_NEAR, ST_BELOW, ST_DECLARED = range(5)
STATS_SIZE = 5
#: Slots of ``lam``: the last estimate of lambda_max and the largest so far (also those of
#: the explicit stepper's work arrays, :mod:`flowlab._kernels.explicit`).
LAM_LAST, LAM_MAX = range(2)

#: The kernel form of a ``flowlab._problem.Problem``: the activation ``code``; the flat
#: kernel parameter vector ``tk`` = (W.ravel(), a) (overwritten by every right-hand side),
#: n neurons and ``d1`` = d + 1 entries per row of W; the inputs ``XT`` (d+1, m) with a row
#: of ones, targets ``y`` (m,), the loss ``scale``; ``kidx``, ``ksign`` map the state u to
#: the kernel parameters, ``tk[kidx] = ksign * u``; work arrays: the ``residual`` (m,)
#: and the gradient ``gk`` (len(tk),) in kernel form.
KernelProblem = namedtuple("KernelProblem", ["code", "tk", "n", "d1", "XT", "y", "scale",
                                             "kidx", "ksign", "residual", "gk"])
#: An embedded pair's tableau (the names of scipy's solver classes): stage coefficients
#: ``A``, weights ``B``, nodes ``C``, error weights ``E`` and (DOP853) ``E3`` for its
#: third-order estimator, the dense-output coefficients ``D`` (RK45: scipy's P), and the
#: extra stages of DOP853's dense output ``A_extra``, ``C_extra`` (empty for RK45).
Tableau = namedtuple("Tableau", ["A", "B", "C", "E", "E3", "D", "A_extra", "C_extra"])


@internal
def count_stiff_step(counts, near, below, declared, near_bound):
    """Count one accepted step in ``counts``, whose slots ``near``, ``below``,
    ``declared`` hold the steps near the stability bound in a row, the steps below it in
    a row and the stiffness declarations: STIFF_STEPS near the bound in a row declare the
    flow stiff (returns True, the run restarts), NONSTIFF_STEPS below it reset the run.
    Shared with :mod:`flowlab._kernels.explicit`."""
    if near_bound:
        counts[below] = 0
        counts[near] += 1
        if counts[near] >= STIFF_STEPS:
            counts[near] = 0
            counts[declared] += 1
            return True
        return False
    counts[below] += 1
    if counts[below] >= NONSTIFF_STEPS:
        counts[near] = 0
    return False


@nb.njit(**NUMBA_OPTIONS)
def rhs(prob, u, out):
    """out = -grad L(u) over the trainable parameters; returns L(u)."""
    tk, kidx, ksign, gk = prob.tk, prob.kidx, prob.ksign, prob.gk
    n, d1 = prob.n, prob.d1
    for q in range(kidx.size):
        tk[kidx[q]] = ksign[q] * u[q]
    nw = n * d1
    W = tk[:nw].reshape((n, d1))
    a = tk[nw:]
    gW = gk[:nw].reshape((n, d1))
    ga = gk[nw:]
    L = _tk.gradient(prob.code, W, a, prob.XT, prob.y, prob.scale, prob.residual, gW, ga)
    for q in range(kidx.size):
        out[q] = -ksign[q] * gk[kidx[q]]
    return L


@internal
def _rms_scaled(v, s):
    acc = 0.0
    for i in range(v.size):
        z = v[i] / s[i]
        acc += z * z
    return math.sqrt(acc / v.size)


@nb.njit(**NUMBA_OPTIONS)
def initial_step(prob, t0, y0, f0, t_end, max_step, order, rtol, atol, work, f1):
    """First step size (Hairer, Norsett & Wanner, Solving ODEs I, II.4): one extra rhs call."""
    P = y0.size
    length = abs(t_end - t0)
    if P == 0:
        return length
    for i in range(P):
        work[i] = atol + abs(y0[i]) * rtol
    d0 = _rms_scaled(y0, work)
    d1 = _rms_scaled(f0, work)
    h0 = 1e-6 if (d0 < 1e-5 or d1 < 1e-5) else 0.01 * d0 / d1
    h0 = min(h0, length)
    ytmp = np.empty(P)
    for i in range(P):
        ytmp[i] = y0[i] + h0 * f0[i]
    rhs(prob, ytmp, f1)
    for i in range(P):
        ytmp[i] = f1[i] - f0[i]
    d2 = _rms_scaled(ytmp, work) / h0
    if d1 <= 1e-15 and d2 <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / max(d1, d2)) ** (1.0 / (order + 1))
    return min(100.0 * h0, h1, length, max_step)


@internal
def _stages(prob, A, nst, h, y, K, ytmp):
    """Stages 1..nst-1 into K (K[0] holds f(y)); returns the number of rhs calls.

    The flow is autonomous, so the nodes c_s of the tableau are not needed.
    """
    P = y.size
    for s in range(1, nst):
        for i in range(P):
            acc = 0.0
            for j in range(s):
                acc += A[s, j] * K[j, i]
            ytmp[i] = y[i] + h * acc
        rhs(prob, ytmp, K[s])
    return nst - 1


@internal
def _error_norm(kind, K, E, E3, h, scale, err):
    """Scaled RMS norm of the local error estimate of the step just taken."""
    P = scale.size
    nrow = E.size
    if kind == RK45:
        for i in range(P):
            acc = 0.0
            for j in range(nrow):
                acc += E[j] * K[j, i]
            err[i] = h * acc / scale[i]
        acc = 0.0
        for i in range(P):
            acc += err[i] * err[i]
        return math.sqrt(acc / P)
    e5 = 0.0
    e3 = 0.0
    for i in range(P):
        a5 = 0.0
        a3 = 0.0
        for j in range(nrow):
            a5 += E[j] * K[j, i]
            a3 += E3[j] * K[j, i]
        a5 /= scale[i]
        a3 /= scale[i]
        e5 += a5 * a5
        e3 += a3 * a3
    if e5 == 0.0 and e3 == 0.0:
        return 0.0
    denom = e5 + 0.01 * e3
    return abs(h) * e5 / math.sqrt(denom * P)


@internal
def _dense_values(kind, prob, tab, h, y_old, y_new, f_old, f_new, K, lob, vals, ytmp, F, nfev):
    """Values of the continuous extension of the step at the fractions ``lob`` into vals.

    The first and last rows are set to ``y_old`` and ``y_new`` exactly, so the
    interpolant passes through the recorded states.  Returns the updated nfev.
    """
    B, Dm, AX, CX = tab.B, tab.D, tab.A_extra, tab.C_extra
    P = y_old.size
    deg = lob.size - 1
    if kind == RK45:
        # y(t + s h) = y_old + h * sum_k Q[:, k] s^(k+1),  Q = K^T Dm  (Dm: (7, 4))
        nq = Dm.shape[1]
        for q in range(deg + 1):
            s = lob[q]
            for i in range(P):
                acc = 0.0
                sp = 1.0
                for k in range(nq):
                    sp *= s
                    qk = 0.0
                    for j in range(Dm.shape[0]):
                        qk += K[j, i] * Dm[j, k]
                    acc += qk * sp
                vals[q, i] = y_old[i] + h * acc
        _pin_ends(vals, y_old, y_new)
        return nfev
    # DOP853: three extra stages, then seven coefficient vectors F
    nst = B.size + 1
    for e in range(CX.size):
        s = nst + e
        for i in range(P):
            acc = 0.0
            for j in range(s):
                acc += AX[e, j] * K[j, i]
            ytmp[i] = y_old[i] + h * acc
        rhs(prob, ytmp, K[s])
        nfev += 1
    nd = Dm.shape[0]
    for i in range(P):
        dy = y_new[i] - y_old[i]
        F[0, i] = dy
        F[1, i] = h * f_old[i] - dy
        F[2, i] = 2.0 * dy - h * (f_new[i] + f_old[i])
        for r in range(nd):
            acc = 0.0
            for j in range(Dm.shape[1]):
                acc += Dm[r, j] * K[j, i]
            F[3 + r, i] = h * acc
    nF = 3 + nd
    for q in range(deg + 1):
        s = lob[q]
        for i in range(P):
            v = 0.0
            for k in range(nF):
                v += F[nF - 1 - k, i]
                v *= s if k % 2 == 0 else 1.0 - s
            vals[q, i] = y_old[i] + v
    _pin_ends(vals, y_old, y_new)
    return nfev


@internal
def _pin_ends(vals, y_old, y_new):
    last = vals.shape[0] - 1
    for i in range(y_old.size):
        vals[0, i] = y_old[i]
        vals[last, i] = y_new[i]


@nb.njit(**NUMBA_OPTIONS)
def advance(kind, tab, order, prob, t, t_end, y, f, h_abs, rtol, atol, max_step, gtol,
            stop_loss, max_steps, want_dense, lob, out_t, out_y, out_vals, stats, lam,
            stiff_stop):
    """Take up to ``max_steps`` accepted steps from (t, y) toward ``t_end``.

    ``y`` and ``f`` (= rhs at y) are updated in place; accepted step ends go to
    ``out_t[k]``, ``out_y[k]`` and, if ``want_dense``, the continuous extension
    at the fractions ``lob`` of each step to ``out_vals[k]``.  ``stats`` (slots
    ``ST_NFEV``, ...) and ``lam`` (slots ``LAM_LAST``, ``LAM_MAX``) are updated.  With
    ``stiff_stop`` a declared stiffness ends the call (status STIFF, after the step
    that declared it).  Returns (status, steps taken, t, next h_abs).  ``gtol`` <= 0
    disables the steady-state test, a negative ``stop_loss`` the loss-level test.
    """
    A, B, E, E3, Dm, CX = tab.A, tab.B, tab.E, tab.E3, tab.D, tab.C_extra
    P = y.size
    nst = B.size
    K = np.empty((nst + 1 + CX.size, P))
    ytmp = np.empty(P)
    y_new = np.empty(P)
    f_old = np.empty(P)
    scale = np.empty(P)
    err = np.empty(P)
    F = np.empty((3 + Dm.shape[0], P)) if kind == DOP853 else np.empty((0, P))
    exponent = -1.0 / (order + 1)
    steps = 0
    nfev = 0
    status = RUNNING
    while steps < max_steps:
        min_step = 10.0 * abs(np.nextafter(t, np.inf) - t)
        if h_abs > max_step:
            h_abs = max_step
        elif h_abs < min_step:
            h_abs = min_step
        rejected = False
        while True:
            if not h_abs >= min_step:              # below 10 ulp of t, or NaN
                status = TOO_SMALL
                break
            t_new = t + h_abs
            if t_new > t_end:
                t_new = t_end
            h = t_new - t
            h_abs = abs(h)
            for i in range(P):
                K[0, i] = f[i]
            nfev += _stages(prob, A, nst, h, y, K, ytmp)
            for i in range(P):
                acc = 0.0
                for j in range(nst):
                    acc += B[j] * K[j, i]
                y_new[i] = y[i] + h * acc
            L_new = rhs(prob, y_new, K[nst])
            nfev += 1
            finite = True
            for i in range(P):
                scale[i] = atol + max(abs(y[i]), abs(y_new[i])) * rtol
                if not math.isfinite(y_new[i]) or not math.isfinite(K[nst, i]):
                    finite = False
            enorm = _error_norm(kind, K, E, E3, h, scale, err) if finite else np.inf
            if enorm < 1.0:
                if enorm == 0.0:
                    factor = MAX_FACTOR
                else:
                    factor = min(MAX_FACTOR, SAFETY * enorm ** exponent)
                if rejected:
                    factor = min(1.0, factor)
                h_abs *= factor
                break
            if math.isfinite(enorm):
                h_abs *= max(MIN_FACTOR, SAFETY * enorm ** exponent)
            else:
                h_abs *= MIN_FACTOR
            rejected = True
            stats[ST_REJECTED] += 1
        if status == TOO_SMALL:
            break
        # stiffness: h lambda_max from the last stage and the new field (both at c = 1)
        num = 0.0
        den = 0.0
        for i in range(P):
            a_ = K[nst, i] - K[nst - 1, i]
            b_ = y_new[i] - ytmp[i]
            num += a_ * a_
            den += b_ * b_
        declared = False
        if den > 0.0:
            lam[LAM_LAST] = math.sqrt(num / den)
            lam[LAM_MAX] = max(lam[LAM_MAX], lam[LAM_LAST])
            declared = count_stiff_step(stats, ST_NEAR, ST_BELOW, ST_DECLARED,
                                        abs(t_new - t) * lam[LAM_LAST] > STIFF_HLAMBDA[kind])
        for i in range(P):
            f_old[i] = f[i]
            f[i] = K[nst, i]
        if want_dense:
            nfev = _dense_values(kind, prob, tab, h, y, y_new, f_old, f, K, lob,
                                 out_vals[steps], ytmp, F, nfev)
        for i in range(P):
            y[i] = y_new[i]
            out_y[steps, i] = y_new[i]
        t = t_new
        out_t[steps] = t
        steps += 1
        if t >= t_end:
            status = FINISHED
            break
        if L_new <= stop_loss:
            status = LEVEL
            break
        if gtol > 0.0:
            g2 = 0.0
            for i in range(P):
                g2 += f[i] * f[i]
            if math.sqrt(g2) < gtol:
                status = STEADY
                break
        if declared and stiff_stop:
            status = STIFF
            break
    stats[ST_NFEV] += nfev
    return status, steps, t, h_abs
