"""Contacts of one neuron with several points in the general exact ReLU flow (d > 1),
decided in compiled code by the rules of :class:`flowlab._flow.exact_nd.ExactND`.

A neuron j meets a set Q of unique points at an event: those whose surface it reached,
its pins, and the pins whose slide weight reached 0 or 1 (their mode then forced).
:func:`decide` snaps W_j onto every surface of Q, solves the box complementarity
problem of the module docstring of ``exact_nd`` (:func:`contact_modes`), applies the
modes (each point inactive, active or sliding), records the events, and builds the pin
layout of the new set of sliding points (:func:`pin_layout`, as ``ExactND._pin_block``:
K = G^-1 X_Q, Pi = I - X_Q^T K, an orthonormal basis N of the tangent subspace from a
complete Householder QR of X_Q^T, the eliminated coordinates, the bias for one pin,
else chosen by a column-pivoted QR of X_Q, and L).  It returns -1 without applying
anything where Python decides (and explains): more points than d, inputs too close to
dependent for the rank test, no consistent mode.
"""

import math

import numba as nb
import numpy as np

from .._config import NUMBA_OPTIONS
from .internal import internal
from .relu1d import NOISE_ROUNDINGS
from .relu1d_stage import K_CROSS, K_SLIDE_END, K_SLIDE_START, record_event
from .relund import _n_pins, expand, field, forward_all, preact, state_of

_EPS = np.finfo(np.float64).eps
#: the sliding mode of a contact point (inactive 0, active 1) in :func:`contact_modes`
SLIDE_MODE = 2


@nb.njit(**NUMBA_OPTIONS)
def contact_modes(b, N, c, tol, current, forced, max_slide, modes, lam):
    """The first consistent mode vector of :func:`flowlab._flow.exact_nd.contact_modes`
    (c != 0; any number k of points): the candidates in order of cost (0 per point that
    keeps its mode, 1 per point that starts to slide, 2 per other change), ties in the
    lexicographic order of (inactive, active, sliding) per point; ``forced[i] >= 0``
    fixes point i's mode, ``max_slide >= 0`` bounds the number of sliding points.
    Writes ``modes`` and ``lam``; returns whether a consistent one was found."""
    k = b.size
    total = 3 ** k
    digits = np.empty(k, dtype=np.int64)
    for level in range(2 * k + 1):
        for code in range(total):
            rem = code
            for i in range(k - 1, -1, -1):
                digits[i] = rem % 3
                rem //= 3
            cost = 0
            n_slide = 0
            fits = True
            for i in range(k):
                m = digits[i]
                if forced[i] >= 0 and m != forced[i]:
                    fits = False
                if m != current[i]:
                    cost += 1 if m == SLIDE_MODE else 2
                if m == SLIDE_MODE:
                    n_slide += 1
            if not fits or cost != level or (max_slide >= 0 and n_slide > max_slide):
                continue
            for i in range(k):
                lam[i] = float(digits[i]) if digits[i] != SLIDE_MODE else 0.0
            if n_slide > 0:
                F = np.empty(n_slide, dtype=np.int64)
                q = 0
                for i in range(k):
                    if digits[i] == SLIDE_MODE:
                        F[q] = i
                        q += 1
                A = np.empty((n_slide, n_slide))
                r = np.empty(n_slide)
                for a in range(n_slide):
                    acc = 0.0
                    for i in range(k):
                        if digits[i] != SLIDE_MODE:
                            acc += N[F[a], i] * lam[i]
                    r[a] = b[F[a]] - acc
                    for e in range(n_slide):
                        A[a, e] = N[F[a], F[e]]
                if not np.linalg.cond(A) <= 1e12:
                    continue
                sol = np.linalg.solve(A, r)
                finite = True
                for a in range(n_slide):
                    finite = finite and np.isfinite(sol[a])
                if not finite:
                    continue
                for a in range(n_slide):
                    lam[F[a]] = sol[a]
            ok = True
            for i in range(k):
                Nl = 0.0
                for e in range(k):
                    Nl += N[i, e] * lam[e]
                g = c * (b[i] - Nl)
                if digits[i] == 0:
                    ok = g <= tol[i]
                elif digits[i] == 1:
                    ok = g >= -tol[i]
                else:
                    g_in = c * (b[i] - Nl + N[i, i] * lam[i])
                    ok = g_in > tol[i] and g_in - c * N[i, i] < -tol[i]
                if not ok:
                    break
            if ok:
                for i in range(k):
                    modes[i] = digits[i]
                return True
    return False


@internal
def _reflector(R, i, col, v):
    """The Householder reflector that zeroes column ``col`` of R below row i: its vector
    into v (zero above row i); returns v . v (0 when the column is already zero there)."""
    n = R.shape[0]
    nrm = 0.0
    for r in range(i, n):
        nrm += R[r, col] * R[r, col]
    nrm = math.sqrt(nrm)
    if nrm == 0.0:
        return 0.0
    for r in range(n):
        v[r] = R[r, col] if r >= i else 0.0
    v[i] += math.copysign(nrm, R[i, col])
    vv = 0.0
    for r in range(i, n):
        vv += v[r] * v[r]
    return vv


@internal
def _reflect(M, i, v, vv):
    """M <- H M for the reflector (v, vv) of :func:`_reflector` (rows i on)."""
    n = M.shape[0]
    for c in range(M.shape[1]):
        s = 0.0
        for r in range(i, n):
            s += v[r] * M[r, c]
        s *= 2.0 / vv
        for r in range(i, n):
            M[r, c] -= s * v[r]


@internal
def _householder_q(A):
    """Q (n, n) of a complete Householder QR of A (n, k), k <= n: its first k columns span
    the columns of A, the others their orthogonal complement."""
    n, k = A.shape
    R = A.copy()
    QT = np.eye(n)                  # Q^T = H_k ... H_1 (each H symmetric)
    v = np.empty(n)
    for i in range(k):
        vv = _reflector(R, i, i, v)
        if vv == 0.0:
            continue
        _reflect(R, i, v, vv)
        _reflect(QT, i, v, vv)
    return QT.T


@internal
def _pivot_columns(A):
    """The k columns a column-pivoted Householder QR of A (k, D) takes first (the one of
    largest remaining norm at each step), in increasing order."""
    k, D = A.shape
    R = A.copy()
    order = np.arange(D)
    v = np.empty(k)
    for i in range(k):
        best = i
        best_norm = -1.0
        for c in range(i, D):
            s = 0.0
            for r in range(i, k):
                s += R[r, order[c]] * R[r, order[c]]
            if s > best_norm:
                best_norm = s
                best = c
        order[i], order[best] = order[best], order[i]
        vv = _reflector(R, i, order[i], v)
        if vv != 0.0:
            _reflect(R, i, v, vv)
    return np.sort(order[:k])


@internal
def pin_layout(model, j, Q, k):
    """:func:`layout_rows` on the arrays of a stage model."""
    layout_rows(model.inputs, model.has_bias, model.pins, model.elim_coefs, model.projector,
                model.lambda_rows, model.eliminated, model.basis, model.basis_col, j, Q, k)


@nb.njit(**NUMBA_OPTIONS)
def layout_rows(X, has_bias, pins, L, Pi, Kq, elim, Nb, slot, j, Q, k):
    """Neuron j's rows of the pin layout (see :mod:`flowlab._kernels.relund`) for the pins
    Q[:k] (in slot order; k = 0 clears them): pins, K = G^-1 X_Q, Pi = I - X_Q^T K, the
    basis N (tangent columns first), the eliminated coordinates (for one pin the bias,
    whose coefficient is exactly 1, or the largest input component without biases) and
    L, and its state slots (W's entries lead the state).  The arrays are the fields
    ``pins``, ``elim_coefs`` (L), ``projector`` (Pi), ``lambda_rows`` (Kq), ``eliminated``
    (elim), ``basis`` (Nb) and ``basis_col`` (slot) of a
    :class:`flowlab._kernels.relund.StageND`, or arrays of their shapes."""
    D = X.shape[1]
    pins[j, :] = -1
    L[j] = 0.0
    Pi[j] = 0.0
    Kq[j] = 0.0
    Nb[j] = 0.0
    elim[j] = 0
    for c in range(D):
        slot[j * D + c] = -1 if k == 0 else (c if c < D - k else -2)
    if k == 0:
        return
    XQ = np.empty((k, D))
    for a in range(k):
        pins[j, a] = Q[a]
        for kk in range(D):
            XQ[a, kk] = X[Q[a], kk]
    K = np.linalg.solve(XQ @ XQ.T, XQ)
    for a in range(k):
        for kk in range(D):
            Kq[j, a, kk] = K[a, kk]
    P = XQ.T @ K
    for a in range(D):
        for b in range(D):
            Pi[j, a, b] = (1.0 if a == b else 0.0) - P[a, b]
    Qf = _householder_q(np.ascontiguousarray(XQ.T))
    for a in range(D):
        for c in range(D - k):
            Nb[j, a, c] = Qf[a, k + c]
        for c in range(k):
            Nb[j, a, D - k + c] = Qf[a, c]
    if k == 1:                          # the bias, or the largest input component
        E = np.empty(1, dtype=np.int64)
        E[0] = D - 1
        if not has_bias:
            E[0] = 0
            for kk in range(1, D):
                if abs(XQ[0, kk]) > abs(XQ[0, E[0]]):
                    E[0] = kk
    else:
        E = _pivot_columns(XQ)
    is_e = np.zeros(D, dtype=np.bool_)
    for a in range(k):
        is_e[E[a]] = True
        elim[j, E[a]] = 1
    nf = D - k
    Fc = np.empty(nf, dtype=np.int64)
    f = 0
    for c in range(D):
        if not is_e[c]:
            Fc[f] = c
            f += 1
    XE = np.empty((k, k))
    XF = np.empty((k, nf))
    for a in range(k):
        for e in range(k):
            XE[a, e] = XQ[a, E[e]]
        for e in range(nf):
            XF[a, e] = XQ[a, Fc[e]]
    Lb = np.linalg.solve(XE, XF)
    for a in range(k):
        for e in range(nf):
            L[j, E[a], Fc[e]] = -Lb[a, e]


@internal
def decide(model, u, theta, F, j, new, forced_new, n_new, train_a, a_tol, t, ev_t, ev_i,
           counters):
    """Decide neuron j's contacts: its pins and the points ``new[:n_new]`` (modes
    ``forced_new``: -1 free, 0 or 1 forced), as ``ExactND._contact``.  Applies the modes,
    records the events and rebuilds j's pin layout when its pins change.  Returns 1 when
    the pins changed, 0 when not, -1 (nothing applied; W_j may have been snapped) when
    Python is to decide.  ``forward_all`` and ``field`` have run at theta on return."""
    X, mask, pins, nu = model.inputs, model.mask, model.pins, model.sq_norms
    n, D = model.n_neurons, model.n_coords
    nD = n * D
    M = X.shape[0]
    k_old = _n_pins(pins, j)
    Q = np.empty(k_old + n_new, dtype=np.int64)
    forced = np.empty(k_old + n_new, dtype=np.int64)
    m = 0
    for a in range(k_old + n_new):
        q = pins[j, a] if a < k_old else new[a - k_old]
        fq = -1 if a < k_old else forced_new[a - k_old]
        dup = -1
        for b in range(m):
            if Q[b] == q:
                dup = b
        if dup >= 0:
            if fq >= 0:
                forced[dup] = fq
            continue
        Q[m] = q
        forced[m] = fq
        m += 1
    order = np.argsort(Q[:m])
    Q = Q[:m][order].copy()
    forced = forced[:m][order].copy()
    if m >= D:
        return -1
    XQ = np.empty((m, D))
    for a in range(m):
        for kk in range(D):
            XQ[a, kk] = X[Q[a], kk]
    G = XQ @ XQ.T
    if m > 1 and not np.linalg.cond(G) <= 1e12:
        return -1
    # W_j onto every surface of Q (an O(tolerance) change)
    if m == 1:
        z = preact(theta, X, j, Q[0], D)
        for kk in range(D):
            theta[j * D + kk] -= z / nu[Q[0]] * X[Q[0], kk]
    else:
        w = theta[j * D:(j + 1) * D].copy()
        coef = np.linalg.solve(G, XQ @ w)
        w -= XQ.T @ coef
        theta[j * D:(j + 1) * D] = w
    state_of(model, theta, u)
    expand(model, u, theta)
    forward_all(model, theta)
    field(model, theta, F)
    current = np.empty(m, dtype=np.int64)
    for a in range(m):
        current[a] = int(mask[j, Q[a]])
        for s in range(k_old):
            if pins[j, s] == Q[a]:
                current[a] = SLIDE_MODE
    modes = np.empty(m, dtype=np.int64)
    c = theta[nD + j]
    Fa = F[nD + j]
    if c == 0.0 or (train_a and abs(c) <= a_tol and Fa != 0.0):
        c = Fa
    if c == 0.0:                        # no field on W_j: the modes stay (or are forced)
        for a in range(m):
            modes[a] = forced[a] if forced[a] >= 0 else current[a]
    else:
        sc = model.scale
        R = model.work.resid
        rho = model.work.resid_mag
        inQ = np.zeros(M, dtype=np.bool_)
        for a in range(m):
            inQ[Q[a]] = True
        S_out = np.zeros(D)
        for p in range(M):
            if mask[j, p] and not inQ[p]:
                for kk in range(D):
                    S_out[kk] += R[p] * X[p, kk]
        b = np.empty(m)
        N = np.empty((m, m))
        tol = np.empty(m)
        for a in range(m):
            acc = 0.0
            for kk in range(D):
                acc += XQ[a, kk] * S_out[kk]
            b[a] = -sc * acc
            for e in range(m):
                N[a, e] = sc * G[a, e] * R[Q[e]]
            mag = 0.0
            for p in range(M):
                if mask[j, p] or inQ[p]:
                    dot = 0.0
                    for kk in range(D):
                        dot += XQ[a, kk] * X[p, kk]
                    mag += abs(dot) * rho[p]
            tol[a] = NOISE_ROUNDINGS * _EPS * sc * abs(c) * mag
        lam = np.empty(m)
        if not contact_modes(b, N, c, tol, current, forced, m, modes, lam):
            return -1
    # apply (as ExactND._contact): the points in increasing order
    new_pins = np.empty(m, dtype=np.int64)
    k_new = 0
    for a in range(m):
        q = Q[a]
        if modes[a] == SLIDE_MODE:
            new_pins[k_new] = q
            k_new += 1
            mask[j, q] = 0
            if current[a] != SLIDE_MODE:
                record_event(ev_t, ev_i, counters, t, j, q, K_SLIDE_START, 0)
        else:
            mask[j, q] = modes[a]
            side = 1 if modes[a] == 1 else -1
            if current[a] == SLIDE_MODE:
                record_event(ev_t, ev_i, counters, t, j, q, K_SLIDE_END, side)
            elif modes[a] != current[a]:
                record_event(ev_t, ev_i, counters, t, j, q, K_CROSS, side)
    changed = k_new != k_old
    for a in range(min(k_new, k_old)):
        changed = changed or pins[j, a] != new_pins[a]
    if changed:
        pin_layout(model, j, new_pins, k_new)
    state_of(model, theta, u)
    expand(model, u, theta)
    return 1 if changed else 0
