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

The model is a :class:`Model` named tuple (built by ``flowlab._flow.exact_1d``); the
functions here are the hooks of :func:`flowlab._kernels.radau.run` (with the event scan
of :mod:`flowlab._kernels.relu1d_scan`, which registers them all for :class:`Model`).
"""

import math
from collections import namedtuple

import numba as nb
import numpy as np

from .._config import INLINE_OPTIONS, NUMBA_OPTIONS
from .internal import internal

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
#: The watch list of a stage: one record per row k, ``kind`` (ROW_*), the ``neuron`` and
#: the unique ``point`` it concerns, its ``side`` (see ROW_*) and, for a slide end,
#: ``sigma`` = the sign of D at the start of the stage (0.0 for the other kinds).
WATCH_DTYPE = np.dtype([("kind", np.int64), ("neuron", np.int64), ("point", np.int64),
                        ("side", np.int64), ("sigma", np.float64)])
# kinds of the watch rows: a boundary point of a free neuron (side +1: the point is
# active, -1: inactive), an end of a slide (side SLIDE_TO_INACTIVE: lambda -> 0,
# SLIDE_TO_ACTIVE: lambda -> 1), the input weight of a pinned neuron reaching 0 (side: the
# sign of w_j), its output weight reaching 0 (side: the sign of c_j)
ROW_BOUNDARY, ROW_SLIDE, ROW_PIVOT, ROW_OUTPUT = range(4)
SLIDE_TO_INACTIVE, SLIDE_TO_ACTIVE = 0, 1

# rows of the scratch block ``work`` (contents never outlive a call): the changes of
# f = alpha x + beta at the block starts, the prefix sums over the blocks of rho0 and rho1,
# R0_j and R1_j, alpha and beta on each block (all from moments()), a state u (the event
# scan's samples and differences), the event scan's values at the four nodes
(W_SLOPE_JUMP, W_OFFSET_JUMP, W_Q0, W_Q1, W_R0, W_R1, W_SLOPE, W_OFFSET, W_STATE,
 W_NODE_VALUES) = range(10)
# rows of the scratch block ``work_full``: full parameters and the field (full layout)
F_THETA, F_FIELD = range(2)

#: The stage model (built by ``flowlab._flow.exact_1d``):
#:
#: - ``xs``, ``counts``, ``ysum``: the sorted unique inputs, how many data points each
#:   stands for and the sum of their targets, (M,);
#: - ``prefix_hi``, ``prefix_lo``: the prefix moments (:func:`prefix_moments`), (M+1, NMOM);
#: - ``scale``: the loss scale (L = scale/2 sum r_i^2);
#: - ``b_trained``, ``w_trained``: 1.0 when b (w) is trained, else 0.0 (e_b, e_w of the
#:   projections on a switching surface);
#: - ``extent``: max|x| + (max x - min x), the length scale of g = w x - b;
#: - ``n_neurons``; ``has_w``: the network has input weights w (else w = 1);
#: - ``lo``, ``hi``: neuron j is active on the unique points [lo_j, hi_j), (n,);
#: - ``pin``: the unique point neuron j is pinned on, or -1, (n,);
#: - ``n_blocks`` (1,): the number of blocks; ``block_starts`` (2 + 4n,): their first
#:   unique points (and the end of the last); ``block_lo``, ``block_hi`` (n,): the blocks
#:   [block_lo_j, block_hi_j) that make up neuron j's interval;
#: - ``free``: the full-layout index of every state coordinate; ``pos_b``, ``pos_c``,
#:   ``pos_w`` (n,): the position of b_j, c_j, w_j in the state, or -1;
#: - ``theta0``: the full parameters (b, c[, w]) the frozen coordinates are read from;
#: - ``watch``: the watch list (WATCH_DTYPE records), ``n_watch`` (1,) of them in use;
#: - ``event_row`` (1,): the watch row of the event the scan found last;
#: - ``work``, ``work_full``: scratch (:func:`new_work`; rows W_* and F_*).
#:
#: Scratch rows and watch columns are not arrays of their own: every compiled function
#: that takes a model updates the reference count of each of its arrays on return.
Model = namedtuple("Model", (
    "xs", "counts", "ysum", "prefix_hi", "prefix_lo", "scale", "b_trained", "w_trained",
    "extent", "n_neurons", "has_w", "lo", "hi", "pin", "n_blocks", "block_starts",
    "block_lo", "block_hi", "free", "pos_b", "pos_c", "pos_w", "theta0", "watch",
    "n_watch", "event_row", "work", "work_full"))


def new_work(n, size):
    """The scratch members ``work`` (rows W_*) and ``work_full`` (rows F_*) of the models
    of n neurons and ``size`` full parameters, as a dict."""
    return dict(work=np.zeros((10, max(2 + 4 * n + 1, size, 16))),
                work_full=np.zeros((2, size)))


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
    xs, pin, free, theta0 = model.xs, model.pin, model.free, model.theta0
    n = model.n_neurons
    for p in range(theta.size):
        theta[p] = theta0[p]
    for k in range(free.size):
        theta[free[k]] = u[k]
    tw = model.has_w
    for j in range(n):
        p = pin[j]
        if p >= 0:
            w = theta[2 * n + j] if tw else 1.0
            theta[j], w = _bw_pinned(theta[j], w, xs[p], model.b_trained, tw)
            if tw:
                theta[2 * n + j] = w


@nb.njit(**NUMBA_OPTIONS)
def moments(model, theta):
    """Per-block alpha, beta, rho0, rho1 and per-neuron R0, R1 into the rows of
    ``model.work``: W_SLOPE_JUMP, W_OFFSET_JUMP (the changes of alpha and beta at the
    block starts), W_Q0 (prefix of rho0 over blocks), W_Q1, W_R0 (R0_j), W_R1, W_SLOPE
    and W_OFFSET (alpha and beta on each block: f = alpha x + beta there).  Returns the
    loss (in the model's scale).
    """
    return _moments(model, theta, True)


@nb.njit(**INLINE_OPTIONS)
def _moments(model, theta, with_loss):
    """:func:`moments`; the loss (the only use of the y^2 sums) only if ``with_loss``
    (else 0): the right-hand side does not need it."""
    P, Plo = model.prefix_hi, model.prefix_lo
    lo, hi, blo, bhi, bp = model.lo, model.hi, model.block_lo, model.block_hi, model.block_starts
    n = model.n_neurons
    nb_ = model.n_blocks[0]
    tw = model.has_w
    alpha = model.work[W_SLOPE_JUMP]
    beta = model.work[W_OFFSET_JUMP]
    Q0 = model.work[W_Q0]
    Q1 = model.work[W_Q1]
    R0 = model.work[W_R0]
    R1 = model.work[W_R1]
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
    A_run = model.work[W_SLOPE]
    B_run = model.work[W_OFFSET]
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
    return 0.5 * model.scale * max(loss, 0.0)


@nb.njit(**INLINE_OPTIONS)
def field(model, theta, F):
    """The stage vector field F = -grad L (full layout), pinned neurons projected."""
    xs, pin = model.xs, model.pin
    n = model.n_neurons
    tw = model.has_w
    sc = model.scale
    R0 = model.work[W_R0]
    R1 = model.work[W_R1]
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
            _project(F, j, n, xs[p], model.b_trained, model.w_trained if tw else 0.0, tw)


@nb.njit(**NUMBA_OPTIONS)
def field_noise(model, theta, out):
    """Rounding level of each field entry (full layout): NOISE_ROUNDINGS * eps times
    the sums of absolute values the entry is computed from.  ``moments`` first."""
    P, Plo = model.prefix_hi, model.prefix_lo
    lo, hi, blo, bhi, bp = model.lo, model.hi, model.block_lo, model.block_hi, model.block_starts
    n = model.n_neurons
    nb_ = model.n_blocks[0]
    tw = model.has_w
    sc = model.scale * NOISE_ROUNDINGS * 2.220446049250313e-16
    alpha = model.work[W_SLOPE_JUMP]
    beta = model.work[W_OFFSET_JUMP]
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
    free = model.free
    theta = model.work_full[F_THETA]
    F = model.work_full[F_FIELD]
    expand(model, u, theta)
    loss = _moments(model, theta, with_loss)
    field(model, theta, F)
    for k in range(free.size):
        out[k] = F[free[k]]
    return loss


@internal
def rhs(model, u, out):
    """Hook for radau.run: out = F(u) on the state coordinates."""
    _rhs(model, u, out, False)


@internal
def rhs_loss(model, u, out):
    """Hook for radau.run: out = F(u) on the state coordinates; returns the loss at u."""
    return _rhs(model, u, out, True)


@internal
def expand_rows(model, rows, k, tmp):
    """Hook for radau.run: rows[r, q] <- full parameters of the state in rows[r, q, :n]."""
    n = model.free.size
    for r in range(k):
        for q in range(rows.shape[1]):
            row = rows[r, q]
            for p in range(n):
                tmp[p] = row[p]
            expand(model, tmp, row)


@internal
def output(model, u, theta, with_loss):
    """Hook for radau.run: full parameters of the state u, and its loss if asked."""
    expand(model, u, theta)
    return _moments(model, theta, True) if with_loss else 0.0


@internal
def hessian(model, theta, H):
    """Hessian of the stage loss (full layout, pinned points left out of their neuron)."""
    P, Plo, lo, hi = model.prefix_hi, model.prefix_lo, model.lo, model.hi
    n = model.n_neurons
    tw = model.has_w
    sc = model.scale
    R0 = model.work[W_R0]
    R1 = model.work[W_R1]
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


@internal
def jac(model, u, J, dh):
    """Hook for radau.run: J = dF/du (exact, O(n^2)).

    J = -D^{-1} Htilde with Htilde the Hessian of the loss in the state
    coordinates and D = diag(1 + x_p^2) on the input weight of a neuron whose
    knot is pinned on x_p (its b follows as x_p w), 1 elsewhere: so
    diag(sqrt(D)) J diag(sqrt(D))^-1 is symmetric; ``dh`` receives sqrt(D).
    """
    xs, pin, free = model.xs, model.pin, model.free
    eb = model.b_trained
    n = model.n_neurons
    tw = model.has_w
    theta = model.work_full[F_THETA]
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
        ew = model.w_trained if tw else 0.0
        for b in range(Pn):
            fw = H[2 * n + j, b] if tw else 0.0
            fb, fw = _project_pair(H[j, b], fw, xs[p], eb, ew)
            H[j, b] = fb
            if tw:
                H[2 * n + j, b] = fw
    # chain rule for the rebuilt coordinates: b_j = x_p w_j (when b is trained)
    for j in range(n):
        p = pin[j]
        if p < 0 or not tw or eb != 1.0:
            continue
        for a in range(Pn):
            H[a, 2 * n + j] += xs[p] * H[a, j]
    for r in range(free.size):
        for c in range(free.size):
            J[r, c] = H[free[r], free[c]]
        dh[r] = 1.0
    if tw and eb == 1.0 and model.w_trained == 1.0:
        uw = model.pos_w
        for j in range(n):
            p = pin[j]
            if p >= 0 and uw[j] >= 0:
                dh[uw[j]] = math.sqrt(1.0 + xs[p] * xs[p])
    return True


# ----------------------------------------------------------------------------------------
# events
# ----------------------------------------------------------------------------------------

@internal
def _bw_at(model, u, j):
    """(b_j, w_j) of the state u (pinned coordinates rebuilt)."""
    xs, pin, ub, uw, theta0 = model.xs, model.pin, model.pos_b, model.pos_w, model.theta0
    n = model.n_neurons
    tw = model.has_w
    b = u[ub[j]] if ub[j] >= 0 else theta0[j]
    w = 1.0
    if tw:
        w = u[uw[j]] if uw[j] >= 0 else theta0[2 * n + j]
    p = pin[j]
    if p >= 0:
        return _bw_pinned(b, w, xs[p], model.b_trained, tw)
    return b, w


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
    xs, P, Plo, pin, free = model.xs, model.prefix_hi, model.prefix_lo, model.pin, model.free
    lo, hi, blo, bhi, bp = model.lo, model.hi, model.block_lo, model.block_hi, model.block_starts
    n = model.n_neurons
    tw = model.has_w
    nb_ = model.n_blocks[0]
    sc = model.scale
    eb = model.b_trained
    ew = model.w_trained if tw else 0.0
    theta = model.work_full[F_THETA]
    expand(model, u, theta)
    _moments(model, theta, False)
    R0 = model.work[W_R0]
    R1 = model.work[W_R1]
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
