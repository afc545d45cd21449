"""Stage model of the univariate ReLU gradient flow: O(n) right-hand side from prefix moments.

Data are sorted and merged into unique points x_0 < ... < x_{M-1} with counts
and sums of y.  Prefix moments (count, x, x^2, y, xy, y^2 sums over the first
k unique points) are kept in double-double so that every block sum is accurate
to rounding of the block sum itself.

During a stage every neuron j is active on a fixed interval [lo_j, hi_j) of
unique points (a suffix when w_j > 0, a prefix when w_j < 0, all or none).  The
interval ends cut the data into blocks on which f(x) = alpha_s x + beta_s;
residual moments of a block are rho0 = alpha dP1 + beta dP0 - dPy and
rho1 = alpha dP2 + beta dP1 - dPxy, and R0_j, R1_j (sums of r_i and r_i x_i
over neuron j's active set) are differences of prefix sums over blocks.  The
loss L = scale/2 sum r_i^2 then has

    dL/dc_j = scale (w_j R1_j - b_j R0_j),  dL/db_j = -scale c_j R0_j,
    dL/dw_j = scale c_j R1_j,

so a right-hand side costs O(n) whatever the number of data points.

A neuron may be *pinned* (Filippov sliding; Ainsworth & Shin 2021, Sec. 3, docs/design.md):
its knot sits on the unique point p, p is left out of its interval, and its
(b_j, w_j) velocity is the inactive-side field projected on the switching
surface g = w_j x_p - b_j = 0.  The pinned coordinate (b_j, or w_j when b is
frozen) is not part of the state: it is rebuilt exactly from the others.

The model is a tuple (see ``flowlab._flow.exact_1d``); the functions here are
the four hooks of :func:`flowlab._kernels.radau.run` plus helpers for the event
decisions.
"""

import math

import numba as nb
import numpy as np

from .._config import INLINE_OPTIONS, NUMBA_OPTIONS
from . import radau

#: the model tuple starts with an empty array of this dtype (see radau.register_model)
MARKER = np.int8

#: a point decided onto one side of its surface is "armed" once |g| exceeds this
#: fraction of |w_j| X + |b_j|, X the extent of the data (a few hundred roundings)
ARM_RTOL = 1e-13

# indices into the prefix-moment arrays: sums of cnt, cnt x, cnt x^2, y, x y, y^2, and of
# cnt |x|, |y|, |x| |y| (the last three bound the rounding of the residual sums)
M0, M1, M2, MY, MXY, MYY, MAX, MAY, MAXY = range(9)
NMOM = 9
#: the field is "at its rounding level" when every entry is below this many
#: roundings of the sums it is made of
NOISE_ROUNDINGS = 256.0
# event kinds written to ev[0]
EV_CROSS, EV_SLIDE_END0, EV_SLIDE_END1, EV_PIVOT = range(4)


@nb.njit(**INLINE_OPTIONS)
def _delta(P, Plo, q, a, b):
    """Double-double block sum of moment q over unique points [a, b)."""
    return (P[b, q] - P[a, q]) + (Plo[b, q] - Plo[a, q])


@nb.njit(**NUMBA_OPTIONS)
def prefix_moments(xs, cnt, ysum, y2sum, xysum, yabs, P, Plo):
    """Fill the (M+1, NMOM) prefix moments, hi parts in P and lo parts in Plo (TwoSum).

    Row k holds the sums over the first k unique points, so the moments needed at
    a block boundary share one or two cache lines.
    """
    M = xs.size
    for q in range(NMOM):
        P[0, q] = 0.0
        Plo[0, q] = 0.0
    vals = np.empty(NMOM)
    for i in range(M):
        x = xs[i]
        vals[M0] = cnt[i]
        vals[M1] = cnt[i] * x
        vals[M2] = cnt[i] * x * x
        vals[MY] = ysum[i]
        vals[MXY] = xysum[i]
        vals[MYY] = y2sum[i]
        vals[MAX] = cnt[i] * abs(x)
        vals[MAY] = yabs[i]
        vals[MAXY] = abs(x) * yabs[i]
        for q in range(NMOM):
            a = P[i, q]
            b = vals[q]
            s = a + b
            bb = s - a
            e = (a - (s - bb)) + (b - bb)
            P[i + 1, q] = s
            Plo[i + 1, q] = Plo[i, q] + e


# ----------------------------------------------------------------------------------------
# model tuple accessors
#   model = (MARKER, xs, P, Plo, cnt, ysum, fpar, ipar, lo, hi, pin, blo, bhi, bp, free, ub,
#            uc, uw, theta0, watch, sigma, ev, work, work2)
#   MARKER: an empty int8 array; its dtype tells radau.run which hooks to call
#   fpar = [scale, eb, ew, X]       (eb/ew: 1.0 when b / w are trained; X: data extent
#                                    max|x| + (max x - min x), the length scale of g)
#   ipar = [n, train_w(0/1), n_blocks, n_watch]
#   ub/uc/uw[j]: position of b_j / c_j / w_j in the state u, or -1
#   watch[k] = (kind, neuron, point, side): kind 0 = boundary point (side +1 active,
#              -1 inactive), 1 = slide of neuron on point (side 0: lambda -> 0, 1: lambda
#              -> 1; sigma[k] = sign of D at the start), 2 = pivot (w_j reaches 0 while
#              pinned; side = sign of w_j), 3 = output weight (c_j reaches 0 while
#              pinned; side = sign of c_j)
#   work: float scratch (10, max(n_blocks + 1, len(theta), 16)): rows 0-5 the moments,
#         row 6 a state, row 7 the event scan's node values, rows 8-9 f = alpha x + beta
#         on each block; work2: (2, len(theta))
# ----------------------------------------------------------------------------------------

@nb.njit(**INLINE_OPTIONS)
def _bw_pinned(b, w, xp, eb, tw):
    """(b_j, w_j) of a neuron pinned on x_p: the pinned coordinate rebuilt from the other."""
    if eb == 1.0:
        return w * xp, w
    if tw and xp != 0.0:
        return b, b / xp
    return b, w


@nb.njit(**INLINE_OPTIONS)
def expand(model, u, theta):
    """Full parameters theta = (b, c[, w]) from the state u; pinned coordinates rebuilt."""
    _expand(model[1], model[6], model[7], model[10], model[14], model[18], u, theta)


@nb.njit(**INLINE_OPTIONS)
def _expand(xs, fpar, ipar, pin, free, theta0, u, theta):
    """:func:`expand` on the model members it reads."""
    n = ipar[0]
    for p in range(theta.size):
        theta[p] = theta0[p]
    for k in range(free.size):
        theta[free[k]] = u[k]
    tw = ipar[1] == 1
    for j in range(n):
        p = pin[j]
        if p >= 0:
            w = theta[2 * n + j] if tw else 1.0
            theta[j], w = _bw_pinned(theta[j], w, xs[p], fpar[1], tw)
            if tw:
                theta[2 * n + j] = w


@nb.njit(**NUMBA_OPTIONS)
def moments(model, theta):
    """Per-block alpha, beta, rho0, rho1 and per-neuron R0, R1 into the work array.

    work rows: 0 alpha, 1 beta (their changes at the block starts), 2 Q0 (prefix of rho0
    over blocks), 3 Q1, 4 R0, 5 R1, 8 and 9 alpha and beta on each block (f = alpha x +
    beta there).  Returns the loss (in the model's scale).
    """
    return _moments(model, theta, True)


@nb.njit(**INLINE_OPTIONS)
def _moments(model, theta, with_loss):
    """:func:`moments`; the loss (the only use of the y^2 sums) only if ``with_loss``
    (else 0): the right-hand side does not need it."""
    P, Plo, fpar, ipar = model[2], model[3], model[6], model[7]
    lo, hi, blo, bhi, bp, work = model[8], model[9], model[11], model[12], model[13], model[22]
    n = ipar[0]
    nb_ = ipar[2]
    tw = ipar[1] == 1
    alpha = work[0]
    beta = work[1]
    Q0 = work[2]
    Q1 = work[3]
    R0 = work[4]
    R1 = work[5]
    for s in range(nb_ + 1):
        alpha[s] = 0.0
        beta[s] = 0.0
    for j in range(n):
        if lo[j] < hi[j]:
            c = theta[n + j]
            w = theta[2 * n + j] if tw else 1.0
            b = theta[j]
            alpha[blo[j]] += c * w
            alpha[bhi[j]] -= c * w
            beta[blo[j]] -= c * b
            beta[bhi[j]] += c * b
    a_run = 0.0
    b_run = 0.0
    Q0[0] = 0.0
    Q1[0] = 0.0
    loss = 0.0
    A_run = work[8]
    B_run = work[9]
    for s in range(nb_):
        a_run += alpha[s]
        b_run += beta[s]
        A_run[s] = a_run
        B_run[s] = b_run
        i0 = bp[s]
        i1 = bp[s + 1]
        d0 = _delta(P, Plo, M0, i0, i1)
        d1 = _delta(P, Plo, M1, i0, i1)
        d2 = _delta(P, Plo, M2, i0, i1)
        dy = _delta(P, Plo, MY, i0, i1)
        dxy = _delta(P, Plo, MXY, i0, i1)
        Q0[s + 1] = Q0[s] + (a_run * d1 + b_run * d0 - dy)
        Q1[s + 1] = Q1[s] + (a_run * d2 + b_run * d1 - dxy)
        if with_loss:
            dyy = _delta(P, Plo, MYY, i0, i1)
            loss += (a_run * (a_run * d2 + 2.0 * (b_run * d1 - dxy))
                     + b_run * (b_run * d0 - 2.0 * dy) + dyy)
    for j in range(n):
        if lo[j] < hi[j]:
            R0[j] = Q0[bhi[j]] - Q0[blo[j]]
            R1[j] = Q1[bhi[j]] - Q1[blo[j]]
        else:
            R0[j] = 0.0
            R1[j] = 0.0
    return 0.5 * fpar[0] * max(loss, 0.0)


@nb.njit(**INLINE_OPTIONS)
def field(model, theta, F):
    """The stage vector field F = -grad L (full layout), pinned neurons projected."""
    xs, fpar, ipar, pin, work = model[1], model[6], model[7], model[10], model[22]
    n = ipar[0]
    tw = ipar[1] == 1
    sc = fpar[0]
    R0 = work[4]
    R1 = work[5]
    for j in range(n):
        b = theta[j]
        c = theta[n + j]
        w = theta[2 * n + j] if tw else 1.0
        F[j] = sc * c * R0[j]
        F[n + j] = -sc * (w * R1[j] - b * R0[j])
        if tw:
            F[2 * n + j] = -sc * c * R1[j]
        p = pin[j]
        if p >= 0:
            _project(F, j, n, xs[p], fpar[1], fpar[2] if tw else 0.0, tw)


@nb.njit(**NUMBA_OPTIONS)
def field_noise(model, theta, out):
    """Rounding level of each field entry (full layout): NOISE_ROUNDINGS * eps times
    the sums of absolute values the entry is computed from.  ``moments`` first."""
    P, Plo, fpar, ipar = model[2], model[3], model[6], model[7]
    lo, hi, blo, bhi, bp, work = model[8], model[9], model[11], model[12], model[13], model[22]
    n = ipar[0]
    nb_ = ipar[2]
    tw = ipar[1] == 1
    sc = fpar[0] * NOISE_ROUNDINGS * 2.220446049250313e-16
    alpha = work[0]
    beta = work[1]
    N0 = np.zeros(nb_ + 1)
    N1 = np.zeros(nb_ + 1)
    a_run = 0.0
    b_run = 0.0
    for s in range(nb_):
        a_run += alpha[s]
        b_run += beta[s]
        i0 = bp[s]
        i1 = bp[s + 1]
        n0 = (abs(a_run) * _delta(P, Plo, MAX, i0, i1) + abs(b_run) * _delta(P, Plo, M0, i0, i1)
              + _delta(P, Plo, MAY, i0, i1))
        n1 = (abs(a_run) * _delta(P, Plo, M2, i0, i1) + abs(b_run) * _delta(P, Plo, MAX, i0, i1)
              + _delta(P, Plo, MAXY, i0, i1))
        N0[s + 1] = N0[s] + n0
        N1[s + 1] = N1[s] + n1
    for j in range(n):
        e0 = N0[bhi[j]] - N0[blo[j]] if lo[j] < hi[j] else 0.0
        e1 = N1[bhi[j]] - N1[blo[j]] if lo[j] < hi[j] else 0.0
        c = abs(theta[n + j])
        w = abs(theta[2 * n + j]) if tw else 1.0
        out[j] = sc * c * e0
        out[n + j] = sc * (w * e1 + abs(theta[j]) * e0)
        if tw:
            out[2 * n + j] = sc * c * e1


@nb.njit(**INLINE_OPTIONS)
def _project_pair(fb, fw, xp, eb, ew):
    """(fb, fw) minus its component along grad g = (-eb, ew x_p) (the surface normal)."""
    nb_ = -eb
    nw = ew * xp
    nn = nb_ * nb_ + nw * nw
    if nn == 0.0:
        return 0.0, 0.0
    k = (nb_ * fb + nw * fw) / nn
    return fb - k * nb_, fw - k * nw


@nb.njit(**INLINE_OPTIONS)
def _project(F, j, n, xp, eb, ew, tw):
    """Project the (b_j, w_j) entries of the full-layout vector F on the surface."""
    fw = F[2 * n + j] if tw else 0.0
    fb, fw = _project_pair(F[j], fw, xp, eb, ew)
    F[j] = fb
    if tw:
        F[2 * n + j] = fw


@nb.njit(**INLINE_OPTIONS)
def _rhs(model, u, out, with_loss):
    """out = F(u) on the state coordinates; the loss at u if ``with_loss`` (else 0)."""
    free = model[14]
    theta = model[23][0]
    F = model[23][1]
    expand(model, u, theta)
    loss = _moments(model, theta, with_loss)
    field(model, theta, F)
    for k in range(free.size):
        out[k] = F[free[k]]
    return loss


@nb.njit(**NUMBA_OPTIONS)
def rhs(model, u, out):
    """Hook for radau.run: out = F(u) on the state coordinates."""
    _rhs(model, u, out, False)


@nb.njit(**NUMBA_OPTIONS)
def rhs_loss(model, u, out):
    """Hook for radau.run: out = F(u) on the state coordinates; returns the loss at u."""
    return _rhs(model, u, out, True)


@nb.njit(**NUMBA_OPTIONS)
def expand_rows(model, rows, k, tmp):
    """Hook for radau.run: rows[r, q] <- full parameters of the state in rows[r, q, :n]."""
    xs, fpar, ipar, pin, free, theta0 = model[1], model[6], model[7], model[10], model[14], model[18]
    n = free.size
    for r in range(k):
        for q in range(rows.shape[1]):
            row = rows[r, q]
            for p in range(n):
                tmp[p] = row[p]
            _expand(xs, fpar, ipar, pin, free, theta0, tmp, row)


@nb.njit(**NUMBA_OPTIONS)
def output(model, u, theta, with_loss):
    """Hook for radau.run: full parameters of the state u, and its loss if asked."""
    expand(model, u, theta)
    return _moments(model, theta, True) if with_loss else 0.0


@nb.njit(**NUMBA_OPTIONS)
def hessian(model, theta, H):
    """Hessian of the stage loss (full layout, pinned points left out of their neuron)."""
    P, Plo, fpar, ipar, lo, hi, work = (model[2], model[3], model[6], model[7], model[8],
                                        model[9], model[22])
    n = ipar[0]
    tw = ipar[1] == 1
    sc = fpar[0]
    R0 = work[4]
    R1 = work[5]
    H[:, :] = 0.0
    for j in range(n):
        if lo[j] >= hi[j]:
            continue
        bj = theta[j]
        cj = theta[n + j]
        wj = theta[2 * n + j] if tw else 1.0
        for k in range(j, n):
            a = max(lo[j], lo[k])
            b = min(hi[j], hi[k])
            if a >= b:
                continue
            m0 = _delta(P, Plo, M0, a, b)
            m1 = _delta(P, Plo, M1, a, b)
            m2 = _delta(P, Plo, M2, a, b)
            bk = theta[k]
            ck = theta[n + k]
            wk = theta[2 * n + k] if tw else 1.0
            # df/dc = w x - b, df/db = -c, df/dw = c x  (on the active set)
            cc = wj * wk * m2 - (wj * bk + bj * wk) * m1 + bj * bk * m0
            cjbk = -ck * (wj * m1 - bj * m0)
            bjck = -cj * (wk * m1 - bk * m0)
            bb = cj * ck * m0
            _sym(H, n + j, n + k, sc * cc)
            _sym(H, n + j, k, sc * cjbk)
            if k != j:
                _sym(H, j, n + k, sc * bjck)
            _sym(H, j, k, sc * bb)
            if tw:
                cjwk = ck * (wj * m2 - bj * m1)
                wjck = cj * (wk * m2 - bk * m1)
                _sym(H, n + j, 2 * n + k, sc * cjwk)
                if k != j:
                    _sym(H, 2 * n + j, n + k, sc * wjck)
                bw = -cj * ck * m1
                _sym(H, j, 2 * n + k, sc * bw)
                if k != j:
                    _sym(H, 2 * n + j, k, sc * bw)
                _sym(H, 2 * n + j, 2 * n + k, sc * cj * ck * m2)
        # residual curvature: d2f/dc_j db_j = -1, d2f/dc_j dw_j = x
        _sym(H, n + j, j, -sc * R0[j])
        if tw:
            _sym(H, n + j, 2 * n + j, sc * R1[j])


@nb.njit(**INLINE_OPTIONS)
def _sym(H, a, b, v):
    H[a, b] += v
    if a != b:
        H[b, a] += v


@nb.njit(**NUMBA_OPTIONS)
def jac(model, u, J, dh):
    """Hook for radau.run: J = dF/du (exact, O(n^2)).

    J = -D^{-1} Htilde with Htilde the Hessian of the loss in the state
    coordinates and D = diag(1 + x_p^2) on the input weight of a neuron whose
    knot is pinned on x_p (its b follows as x_p w), 1 elsewhere: so
    diag(sqrt(D)) J diag(sqrt(D))^-1 is symmetric; ``dh`` receives sqrt(D).
    """
    xs, fpar, ipar, pin, free, work2 = model[1], model[6], model[7], model[10], model[14], model[23]
    n = ipar[0]
    tw = ipar[1] == 1
    theta = work2[0]
    expand(model, u, theta)
    moments(model, theta)
    Pn = theta.size
    H = np.empty((Pn, Pn))
    hessian(model, theta, H)
    # field Jacobian: -H, pinned rows projected
    for a in range(Pn):
        for b in range(Pn):
            H[a, b] = -H[a, b]
    for j in range(n):
        p = pin[j]
        if p < 0:
            continue
        ew = fpar[2] if tw else 0.0
        for b in range(Pn):
            fw = H[2 * n + j, b] if tw else 0.0
            fb, fw = _project_pair(H[j, b], fw, xs[p], fpar[1], ew)
            H[j, b] = fb
            if tw:
                H[2 * n + j, b] = fw
    # chain rule for the rebuilt coordinates: b_j = x_p w_j (when b is trained)
    for j in range(n):
        p = pin[j]
        if p < 0 or not tw or fpar[1] != 1.0:
            continue
        for a in range(Pn):
            H[a, 2 * n + j] += xs[p] * H[a, j]
    for r in range(free.size):
        for c in range(free.size):
            J[r, c] = H[free[r], free[c]]
        dh[r] = 1.0
    if tw and fpar[1] == 1.0 and fpar[2] == 1.0:
        uw = model[17]
        for j in range(n):
            p = pin[j]
            if p >= 0 and uw[j] >= 0:
                dh[uw[j]] = math.sqrt(1.0 + xs[p] * xs[p])
    return True


# ----------------------------------------------------------------------------------------
# events
# ----------------------------------------------------------------------------------------

@nb.njit(**NUMBA_OPTIONS)
def _bw_at(model, u, j):
    """(b_j, w_j) of the state u (pinned coordinates rebuilt)."""
    xs, fpar, ipar, pin, ub, uw, theta0 = (model[1], model[6], model[7], model[10], model[15],
                                           model[17], model[18])
    n = ipar[0]
    tw = ipar[1] == 1
    b = u[ub[j]] if ub[j] >= 0 else theta0[j]
    w = 1.0
    if tw:
        w = u[uw[j]] if uw[j] >= 0 else theta0[2 * n + j]
    p = pin[j]
    if p >= 0:
        return _bw_pinned(b, w, xs[p], fpar[1], tw)
    return b, w


# power-basis coefficients of the cubic through the Lobatto nodes 0, 1/4, 3/4, 1
_VINV = np.linalg.inv(np.vander(np.array([0.0, 0.25, 0.75, 1.0]), 4, increasing=True))


@nb.njit(**INLINE_OPTIONS)
def _violates(g, side):
    return g <= 0.0 if side > 0 else g > 0.0


@nb.njit(**INLINE_OPTIONS)
def _surely_inside(vals, side, thr):
    """Cheap test that the cubic through the node values stays on ``side`` over [0, 1]:
    with g = a0 + a1 s + a2 s^2 + a3 s^3 and s^k in [0, 1], g lies within
    a0 + sum_k [min(0, a_k), max(0, a_k)]."""
    a0 = _VINV[0, 0] * vals[0] + _VINV[0, 1] * vals[1] + _VINV[0, 2] * vals[2] + _VINV[0, 3] * vals[3]
    lo_ = a0
    hi_ = a0
    for r in range(1, 4):
        a = _VINV[r, 0] * vals[0] + _VINV[r, 1] * vals[1] + _VINV[r, 2] * vals[2] + _VINV[r, 3] * vals[3]
        if a < 0.0:
            lo_ += a
        else:
            hi_ += a
    if side > 0:
        return lo_ > 0.0
    return hi_ <= 0.0


@nb.njit(**NUMBA_OPTIONS)
def first_violation(vals, side, armed, thr):
    """Earliest s in (0, 1] where the cubic through ``vals`` (at the Lobatto nodes)
    leaves the declared side ``side`` (+1: g > 0 required, -1: g <= 0).

    A crossing counts once the cubic has been on the declared side by more than
    ``thr`` (``armed``): a point that starts on its surface after an event
    (g = 0, decided from the one-sided fields) is not re-triggered by rounding.
    If it goes the wrong way by more than ``thr`` without arming, that is an
    event too (the decision was tangential).  Returns (s, armed), s = -1.0 if none.

    The cubic is split at its critical points into monotone pieces; on the first
    piece that ends on the wrong side, bisection finds the crossing to the last
    bit of s.
    """
    a0 = _VINV[0, 0] * vals[0] + _VINV[0, 1] * vals[1] + _VINV[0, 2] * vals[2] + _VINV[0, 3] * vals[3]
    a1 = _VINV[1, 0] * vals[0] + _VINV[1, 1] * vals[1] + _VINV[1, 2] * vals[2] + _VINV[1, 3] * vals[3]
    a2 = _VINV[2, 0] * vals[0] + _VINV[2, 1] * vals[1] + _VINV[2, 2] * vals[2] + _VINV[2, 3] * vals[3]
    a3 = _VINV[3, 0] * vals[0] + _VINV[3, 1] * vals[1] + _VINV[3, 2] * vals[2] + _VINV[3, 3] * vals[3]
    # critical points of the cubic in (0, 1): roots of 3 a3 s^2 + 2 a2 s + a1
    r1 = 2.0
    r2 = 2.0
    qa = 3.0 * a3
    qb = 2.0 * a2
    if qa != 0.0:
        disc = qb * qb - 4.0 * qa * a1
        if disc > 0.0:
            q = -0.5 * (qb + math.copysign(math.sqrt(disc), qb))
            x1 = q / qa
            x2 = a1 / q if q != 0.0 else x1
            r1 = min(x1, x2)
            r2 = max(x1, x2)
    elif qb != 0.0:
        r1 = -a1 / qb
    arm = armed
    s0 = 0.0
    g0 = vals[0]
    for piece in range(3):
        if piece == 0:
            s1 = r1 if 0.0 < r1 < 1.0 else (r2 if 0.0 < r2 < 1.0 else 1.0)
        elif piece == 1:
            s1 = r2 if (0.0 < r2 < 1.0 and r2 > s0) else 1.0
        else:
            s1 = 1.0
        g1 = vals[3] if s1 == 1.0 else a0 + s1 * (a1 + s1 * (a2 + s1 * a3))
        if g0 * side > thr:
            arm = True
        # the level to find: 0 once armed, -thr on the wrong side otherwise
        level = 0.0 if arm else -thr * side
        if _violates(g1 - level, side):
            lo_ = s0
            hi_ = s1
            for _ in range(200):
                mid = 0.5 * (lo_ + hi_)
                if mid <= lo_ or mid >= hi_:
                    break
                if _violates(a0 + mid * (a1 + mid * (a2 + mid * a3)) - level, side):
                    hi_ = mid
                else:
                    lo_ = mid
            return hi_, arm
        if g1 * side > thr:
            arm = True
        if s1 >= 1.0:
            break
        s0 = s1
        g0 = g1
    return -1.0, arm


@nb.njit(**INLINE_OPTIONS)
def slide_functions(model, theta, j, p):
    """(A, D) for neuron j sliding on unique point p: lambda = A / D.

    A = -(ew R1ex x_p + eb R0ex), D = r_p (ew x_p^2 + eb), with R0ex, R1ex the
    sums over j's active set without p and r_p the residual of the point group.
    ``moments`` must have been called for theta.
    """
    xs, fpar, ipar, work = model[1], model[6], model[7], model[22]
    tw = ipar[1] == 1
    eb = fpar[1]
    ew = fpar[2] if tw else 0.0
    xp = xs[p]
    R0 = work[4][j]
    R1 = work[5][j]
    rp = residual_at(model, theta, p)
    return -(ew * R1 * xp + eb * R0), rp * (ew * xp * xp + eb)


@nb.njit(**INLINE_OPTIONS)
def residual_block(model, p):
    """Residual sum of the unique point p from the block it lies in, cnt_p (alpha x_p +
    beta) - sum of its y: O(log n) (``moments`` must have run; rounding as the block
    sums, where :func:`residual_at` sums the neurons directly)."""
    xs, cnt, ysum, ipar, bp, work = model[1], model[4], model[5], model[7], model[13], model[22]
    s = np.searchsorted(bp[:ipar[2] + 1], p, side="right") - 1
    return cnt[p] * (work[8][s] * xs[p] + work[9][s]) - ysum[p]


@nb.njit(**INLINE_OPTIONS)
def _slide_functions_block(model, j, p):
    """:func:`slide_functions` with the block residual (:func:`residual_block`)."""
    xs, fpar, ipar, work = model[1], model[6], model[7], model[22]
    tw = ipar[1] == 1
    eb = fpar[1]
    ew = fpar[2] if tw else 0.0
    xp = xs[p]
    rp = residual_block(model, p)
    return -(ew * work[5][j] * xp + eb * work[4][j]), rp * (ew * xp * xp + eb)


@nb.njit(**INLINE_OPTIONS)
def residual_at(model, theta, p):
    """Residual sum of the unique point p: cnt_p f(x_p) - sum of its y (direct, O(n))."""
    xs, cnt, ysum, ipar = model[1], model[4], model[5], model[7]
    n = ipar[0]
    tw = ipar[1] == 1
    x = xs[p]
    f = 0.0
    for j in range(n):
        w = theta[2 * n + j] if tw else 1.0
        z = w * x - theta[j]
        if z > 0.0:
            f += theta[n + j] * z
    return cnt[p] * f - ysum[p]


@nb.njit(**NUMBA_OPTIONS)
def events(model, nodes, armed):
    """Hook for radau.run: earliest event in the step given its node values.

    Writes (kind, watch index) into ev and returns (found, s).
    """
    xs, fpar, ipar, watch, ev = model[1], model[6], model[7], model[19], model[21]
    pin, ub, uc, uw, theta0 = model[10], model[15], model[16], model[17], model[18]
    n = ipar[0]
    tw = ipar[1] == 1
    eb = fpar[1]
    nw = ipar[3]
    X = fpar[3]
    best = 2.0
    best_k = -1
    scratch = model[22][7]
    vals = scratch[:4]
    theta = model[23][0]
    # (A, D) of every slide row at the four nodes: one pass over the moments per node
    # serves all sliding neurons (O(n + slides log n), not O(n) per slide)
    nslide = 0
    for k in range(nw):
        if watch[k, 0] == 1:
            nslide += 1
    exits = np.empty(nw if nslide else 0)
    if nslide:
        AD = np.empty((nw, 8))
        for q in range(4):
            expand(model, nodes[q], theta)
            _moments(model, theta, False)
            for k in range(nw):
                if watch[k, 0] == 1:
                    AD[k, q], AD[k, 4 + q] = _slide_functions_block(model, watch[k, 1],
                                                                    watch[k, 2])
        _slide_exits(model, nodes, theta, AD, exits)
    # (b_j, w_j) are read from the node rows directly (no per-node row views or calls:
    # each would cost reference-count updates that outweigh this loop's arithmetic)
    for k in range(nw):
        kind = watch[k, 0]
        j = watch[k, 1]
        p = watch[k, 2]
        side = watch[k, 3]
        if kind == 0 or kind == 2:
            ib = ub[j]
            iw = uw[j] if tw else -1
            pj = pin[j]
            scale = 0.0
            for q in range(4):
                b = nodes[q, ib] if ib >= 0 else theta0[j]
                w = 1.0
                if tw:
                    w = nodes[q, iw] if iw >= 0 else theta0[2 * n + j]
                if pj >= 0:
                    b, w = _bw_pinned(b, w, xs[pj], eb, tw)
                if kind == 0:
                    vals[q] = w * xs[p] - b
                    scale = max(scale, abs(w) * X + abs(b))
                else:
                    vals[q] = w
                    scale = max(scale, abs(w))
            thr = ARM_RTOL * scale
            if kind == 0 and armed[k] and _surely_inside(vals, side, thr):
                continue
            s, armed[k] = first_violation(vals, side, armed[k], thr)
        elif kind == 3:
            scale = 0.0
            for q in range(4):
                vals[q] = nodes[q, uc[j]]
                scale = max(scale, abs(vals[q]))
            s, armed[k] = first_violation(vals, side, armed[k], ARM_RTOL * scale)
        else:
            s = exits[k]
        if s >= 0.0 and s < best:
            best = s
            best_k = k
    if best_k < 0:
        return False, 0.0
    ev[0] = watch[best_k, 0]
    ev[1] = best_k
    return True, best


@nb.njit(**NUMBA_OPTIONS)
def _bw_rate(model, f, j):
    """(b_j', w_j') for the state velocity f (frozen coordinates have rate 0)."""
    xs, fpar, ipar, pin, ub, uw = (model[1], model[6], model[7], model[10], model[15],
                                   model[17])
    tw = ipar[1] == 1
    db = f[ub[j]] if ub[j] >= 0 else 0.0
    dw = f[uw[j]] if (tw and uw[j] >= 0) else 0.0
    p = pin[j]
    if p >= 0:
        # the pinned relation b_j = w_j x_p is linear: rates rebuild like the values
        return _bw_pinned(db, dw, xs[p], fpar[1], tw)
    return db, dw


@nb.njit(**NUMBA_OPTIONS)
def event_rate(model, u, f):
    """Hook for radau.run: value and rate of the event function found last."""
    xs, watch, sigma, ev = model[1], model[19], model[20], model[21]
    k = ev[1]
    kind = watch[k, 0]
    j = watch[k, 1]
    p = watch[k, 2]
    if kind == 0:
        b, w = _bw_at(model, u, j)
        db, dw = _bw_rate(model, f, j)
        return w * xs[p] - b, dw * xs[p] - db
    if kind == 2:
        b, w = _bw_at(model, u, j)
        db, dw = _bw_rate(model, f, j)
        return w, dw
    if kind == 3:
        return u[model[16][j]], f[model[16][j]]
    # slide exit: margin of lambda, rate by a directional difference
    theta = model[23][0]
    which = watch[k, 3]
    sig = sigma[k]
    nrm = 0.0
    for q in range(u.size):
        nrm = max(nrm, abs(u[q]))
    fn = 0.0
    for q in range(f.size):
        fn = max(fn, abs(f[q]))
    if fn == 0.0:
        return 0.0, 0.0
    eps = 1e-7 * (nrm + 1.0) / fn
    v = model[22][6][:u.size]
    m0 = _margin_at(model, u, j, p, which, sig, theta)
    for q in range(u.size):
        v[q] = u[q] + eps * f[q]
    m1 = _margin_at(model, v, j, p, which, sig, theta)
    return m0, (m1 - m0) / eps


@nb.njit(**NUMBA_OPTIONS)
def _interp_state(nodes, s, out):
    for p in range(out.size):
        v0 = nodes[0, p]
        v1 = nodes[1, p]
        v2 = nodes[2, p]
        v3 = nodes[3, p]
        acc = 0.0
        for r in range(3, -1, -1):
            coef = (_VINV[r, 0] * v0 + _VINV[r, 1] * v1 + _VINV[r, 2] * v2 + _VINV[r, 3] * v3)
            acc = acc * s + coef
        out[p] = acc


@nb.njit(**NUMBA_OPTIONS)
def _slide_margin(model, nodes, j, p, s, which, sig, theta, u):
    """sig*A (which = 0: lambda -> 0) or sig*(D - A) (which = 1: lambda -> 1) at s."""
    _interp_state(nodes, s, u)
    return _margin_at(model, u, j, p, which, sig, theta)


@nb.njit(**INLINE_OPTIONS)
def _slide_AD(model, u, j, p, theta):
    """(A, D) of :func:`slide_functions` at the state u (theta is scratch), with the
    block residual as in the event scan."""
    expand(model, u, theta)
    _moments(model, theta, False)
    return _slide_functions_block(model, j, p)


@nb.njit(**INLINE_OPTIONS)
def _margin(A, D, which, sig):
    """Slide margin from (A, D): sig*A (which = 0: lambda -> 0) or sig*(D - A) (-> 1)."""
    return sig * A if which == 0 else sig * (D - A)


@nb.njit(**INLINE_OPTIONS)
def _margin_at(model, u, j, p, which, sig, theta):
    """Slide margin (see :func:`_slide_margin`) at the state u."""
    A, D = _slide_AD(model, u, j, p, theta)
    return _margin(A, D, which, sig)


@nb.njit(**NUMBA_OPTIONS)
def _slide_exits(model, nodes, theta, AD, out):
    """Earliest s in (0, 1] where the lambda of each slide row leaves (0, 1) at its end
    (0 or 1), into ``out`` (-1.0 where it does not); ``AD[k]`` holds row k's A at the
    four nodes, then D (from the event scan).

    Most steps of a slide end nowhere near its exit: when a row's margin is positive at
    the four nodes and the cubic through them provably stays positive, the step is
    passed on those four values alone.  The other rows are sampled on 8 sub-intervals,
    one pass over the moments per sample for all of them, and a row whose margin changes
    sign is bisected to the last bit of s.
    """
    ipar, watch, sigma = model[7], model[19], model[20]
    nw = ipar[3]
    vals = np.empty(4)
    samples = np.empty((nw, 9))
    unsure = np.zeros(nw, dtype=np.bool_)
    any_unsure = False
    for k in range(nw):
        out[k] = -1.0
        if watch[k, 0] != 1:
            continue
        inside = True
        for q in range(4):
            vals[q] = _margin(AD[k, q], AD[k, 4 + q], watch[k, 3], sigma[k])
            inside = inside and vals[q] > 0.0
        if inside and _surely_inside(vals, 1, 0.0):
            continue
        unsure[k] = True
        any_unsure = True
        samples[k, 0] = vals[0]
        samples[k, 2] = vals[1]                 # s = 1/4, 3/4, 1: the node values
        samples[k, 6] = vals[2]
        samples[k, 8] = vals[3]
    if not any_unsure:
        return
    u = model[22][6][:nodes.shape[1]]
    for i in (1, 3, 4, 5, 7):
        _interp_state(nodes, i / 8.0, u)
        expand(model, u, theta)
        _moments(model, theta, False)
        for k in range(nw):
            if unsure[k]:
                A, D = _slide_functions_block(model, watch[k, 1], watch[k, 2])
                samples[k, i] = _margin(A, D, watch[k, 3], sigma[k])
    for k in range(nw):
        if not unsure[k]:
            continue
        for i in range(1, 9):
            if samples[k, i - 1] > 0.0 and samples[k, i] <= 0.0:
                j = watch[k, 1]
                p = watch[k, 2]
                lo_ = (i - 1) / 8.0
                hi_ = i / 8.0
                for _ in range(200):
                    mid = 0.5 * (lo_ + hi_)
                    if mid <= lo_ or mid >= hi_:
                        break
                    if _slide_margin(model, nodes, j, p, mid, watch[k, 3], sigma[k], theta,
                                     u) <= 0.0:
                        hi_ = mid
                    else:
                        lo_ = mid
                out[k] = hi_
                break


radau.register_model(MARKER, rhs=rhs, jac=jac, output=output, events=events,
                     event_rate=event_rate, rhs_loss=rhs_loss,
                     expand_rows=expand_rows)


@nb.njit(**NUMBA_OPTIONS)
def hvp(model, u, v, out):
    """The stage Hessian in state coordinates times v: out = -J v with J the Jacobian of
    :func:`jac` (pinned rows projected, rebuilt coordinates by the chain rule), without
    forming H: O(n) from the prefix moments.

    The Gauss-Newton part J_f^T J_f dtheta is a moment pass like :func:`moments` with
    the residual replaced by the output's change (delta alpha x + delta beta on each
    block, no targets); the residual curvature adds R1_j and -R0_j between c_j and
    w_j, b_j.
    """
    xs, P, Plo, fpar, ipar, lo, hi, blo, bhi, bp, pin, free = (
        model[1], model[2], model[3], model[6], model[7], model[8], model[9], model[11],
        model[12], model[13], model[10], model[14])
    work = model[22]
    n = ipar[0]
    tw = ipar[1] == 1
    nb_ = ipar[2]
    sc = fpar[0]
    eb = fpar[1]
    ew = fpar[2] if tw else 0.0
    theta = model[23][0]
    expand(model, u, theta)
    _moments(model, theta, False)
    R0 = work[4]
    R1 = work[5]
    dth = np.zeros(theta.size)
    for k in range(free.size):
        dth[free[k]] = v[k]
    for j in range(n):                  # rebuilt coordinates follow (b_j = w_j x_p)
        if pin[j] >= 0 and tw and eb == 1.0:
            dth[j] = xs[pin[j]] * dth[2 * n + j]
    da = np.zeros(nb_ + 1)
    db = np.zeros(nb_ + 1)
    for j in range(n):
        if lo[j] < hi[j]:
            c = theta[n + j]
            w = theta[2 * n + j] if tw else 1.0
            dw = dth[2 * n + j] if tw else 0.0
            dcw = dth[n + j] * w + c * dw
            dcb = dth[n + j] * theta[j] + c * dth[j]
            da[blo[j]] += dcw
            da[bhi[j]] -= dcw
            db[blo[j]] -= dcb
            db[bhi[j]] += dcb
    G0 = np.zeros(nb_ + 1)
    G1 = np.zeros(nb_ + 1)
    a_run = 0.0
    b_run = 0.0
    for s in range(nb_):
        a_run += da[s]
        b_run += db[s]
        i0 = bp[s]
        i1 = bp[s + 1]
        d0 = _delta(P, Plo, M0, i0, i1)
        d1 = _delta(P, Plo, M1, i0, i1)
        d2 = _delta(P, Plo, M2, i0, i1)
        G0[s + 1] = G0[s] + a_run * d1 + b_run * d0
        G1[s + 1] = G1[s] + a_run * d2 + b_run * d1
    Hv = np.zeros(theta.size)
    for j in range(n):
        g0 = 0.0
        g1 = 0.0
        if lo[j] < hi[j]:
            g0 = G0[bhi[j]] - G0[blo[j]]
            g1 = G1[bhi[j]] - G1[blo[j]]
        c = theta[n + j]
        w = theta[2 * n + j] if tw else 1.0
        dc = dth[n + j]
        dw = dth[2 * n + j] if tw else 0.0
        Hv[n + j] = sc * (w * g1 - theta[j] * g0 + R1[j] * dw - R0[j] * dth[j])
        Hv[j] = sc * (-c * g0 - R0[j] * dc)
        if tw:
            Hv[2 * n + j] = sc * (c * g1 + R1[j] * dc)
        p = pin[j]
        if p >= 0:
            _project(Hv, j, n, xs[p], eb, ew, tw)
    for k in range(free.size):
        out[k] = Hv[free[k]]
