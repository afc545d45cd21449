"""Event scan of the univariate exact ReLU flow: the hooks ``events`` and ``event_rate``
of :func:`flowlab._kernels.radau.run` for the stage model of
:mod:`flowlab._kernels.relu1d`, which this module registers with the integrators.

Each step watches the knots that can reach a data point (the boundary points of each
neuron's active interval) on the step's interpolating cubic, and the sliding neurons'
margins; the earliest event is located to the last bit of the step fraction.  The cubic
tools here (:func:`first_violation`, :func:`_surely_inside`, :func:`_interp_state`)
serve the d-dimensional scan too.
"""

import math

import numba as nb
import numpy as np

from .._config import INLINE_OPTIONS, NUMBA_OPTIONS
from .internal import internal
from .hooks import register_model
from .relu1d import (ARM_RTOL, F_THETA, ROW_BOUNDARY, ROW_OUTPUT, ROW_PIVOT, ROW_SLIDE,
                     SLIDE_TO_INACTIVE, W_NODE_VALUES, W_OFFSET, W_R0, W_R1, W_SLOPE, W_STATE,
                     Model, _bw_at, _bw_pinned, _moments, expand, expand_rows, jac, output, rhs,
                     rhs_loss)


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


@internal
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
    tw = model.has_w
    eb = model.b_trained
    ew = model.w_trained if tw else 0.0
    xp = model.xs[p]
    R0 = model.work[W_R0][j]
    R1 = model.work[W_R1][j]
    rp = residual_at(model, theta, p)
    return -(ew * R1 * xp + eb * R0), rp * (ew * xp * xp + eb)


@nb.njit(**INLINE_OPTIONS)
def residual_block(model, p):
    """Residual sum of the unique point p from the block it lies in, cnt_p (alpha x_p +
    beta) - sum of its y: O(log n) (``moments`` must have run; rounding as the block
    sums, where :func:`residual_at` sums the neurons directly)."""
    s = np.searchsorted(model.block_starts[:model.n_blocks[0] + 1], p, side="right") - 1
    alpha, beta = model.work[W_SLOPE], model.work[W_OFFSET]
    return model.counts[p] * (alpha[s] * model.xs[p] + beta[s]) - model.ysum[p]


@nb.njit(**INLINE_OPTIONS)
def _slide_functions_block(model, j, p):
    """:func:`slide_functions` with the block residual (:func:`residual_block`)."""
    tw = model.has_w
    eb = model.b_trained
    ew = model.w_trained if tw else 0.0
    xp = model.xs[p]
    rp = residual_block(model, p)
    return (-(ew * model.work[W_R1][j] * xp + eb * model.work[W_R0][j]),
            rp * (ew * xp * xp + eb))


@nb.njit(**INLINE_OPTIONS)
def residual_at(model, theta, p):
    """Residual sum of the unique point p: cnt_p f(x_p) - sum of its y (direct, O(n))."""
    n = model.n_neurons
    tw = model.has_w
    x = model.xs[p]
    f = 0.0
    for j in range(n):
        w = theta[2 * n + j] if tw else 1.0
        z = w * x - theta[j]
        if z > 0.0:
            f += theta[n + j] * z
    return model.counts[p] * f - model.ysum[p]


@internal
def events(model, nodes, armed):
    """Hook for radau.run: earliest event in the step given its node values.

    Writes the watch row of the event into ``model.event_row`` and returns (found, s).
    """
    xs, watch = model.xs, model.watch
    pin, ub, uc, uw, theta0 = model.pin, model.pos_b, model.pos_c, model.pos_w, model.theta0
    n = model.n_neurons
    tw = model.has_w
    eb = model.b_trained
    nw = model.n_watch[0]
    X = model.extent
    best = 2.0
    best_k = -1
    vals = model.work[W_NODE_VALUES][:4]
    theta = model.work_full[F_THETA]
    # (A, D) of every slide row at the four nodes: one pass over the moments per node
    # serves all sliding neurons (O(n + slides log n), not O(n) per slide)
    nslide = 0
    for k in range(nw):
        if watch[k].kind == ROW_SLIDE:
            nslide += 1
    exits = np.empty(nw if nslide else 0)
    if nslide:
        A = np.empty((nw, 4))
        D = np.empty((nw, 4))
        for q in range(4):
            expand(model, nodes[q], theta)
            _moments(model, theta, False)
            for k in range(nw):
                if watch[k].kind == ROW_SLIDE:
                    A[k, q], D[k, q] = _slide_functions_block(model, watch[k].neuron,
                                                              watch[k].point)
        _slide_exits(model, nodes, theta, A, D, exits)
    # (b_j, w_j) are read from the node rows directly (no per-node row views or calls:
    # each would cost reference-count updates that outweigh this loop's arithmetic)
    for k in range(nw):
        kind = watch[k].kind
        j = watch[k].neuron
        p = watch[k].point
        side = watch[k].side
        if kind == ROW_BOUNDARY or kind == ROW_PIVOT:
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
                if kind == ROW_BOUNDARY:
                    vals[q] = w * xs[p] - b
                    scale = max(scale, abs(w) * X + abs(b))
                else:
                    vals[q] = w
                    scale = max(scale, abs(w))
            thr = ARM_RTOL * scale
            if kind == ROW_BOUNDARY and armed[k] and _surely_inside(vals, side, thr):
                continue
            s, armed[k] = first_violation(vals, side, armed[k], thr)
        elif kind == ROW_OUTPUT:
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
    model.event_row[0] = best_k
    return True, best


@internal
def _bw_rate(model, f, j):
    """(b_j', w_j') for the state velocity f (frozen coordinates have rate 0)."""
    pin, ub, uw = model.pin, model.pos_b, model.pos_w
    tw = model.has_w
    db = f[ub[j]] if ub[j] >= 0 else 0.0
    dw = f[uw[j]] if (tw and uw[j] >= 0) else 0.0
    p = pin[j]
    if p >= 0:
        # the pinned relation b_j = w_j x_p is linear: rates rebuild like the values
        return _bw_pinned(db, dw, model.xs[p], model.b_trained, tw)
    return db, dw


@internal
def difference_step(u, f):
    """Step of the directional difference along f at u that gives a slide margin's rate
    (1e-7 (|u|_inf + 1) / |f|_inf); 0 when f = 0."""
    nrm = 0.0
    for q in range(u.size):
        nrm = max(nrm, abs(u[q]))
    fn = 0.0
    for q in range(f.size):
        fn = max(fn, abs(f[q]))
    if fn == 0.0:
        return 0.0
    return 1e-7 * (nrm + 1.0) / fn


@internal
def event_rate(model, u, f):
    """Hook for radau.run: value and rate of the event function found last."""
    xs, watch = model.xs, model.watch
    k = model.event_row[0]
    kind = watch[k].kind
    j = watch[k].neuron
    p = watch[k].point
    if kind == ROW_BOUNDARY:
        b, w = _bw_at(model, u, j)
        db, dw = _bw_rate(model, f, j)
        return w * xs[p] - b, dw * xs[p] - db
    if kind == ROW_PIVOT:
        b, w = _bw_at(model, u, j)
        db, dw = _bw_rate(model, f, j)
        return w, dw
    if kind == ROW_OUTPUT:
        return u[model.pos_c[j]], f[model.pos_c[j]]
    # slide exit: margin of lambda, rate by a directional difference
    theta = model.work_full[F_THETA]
    which = watch[k].side
    sig = watch[k].sigma
    eps = difference_step(u, f)
    if eps == 0.0:
        return 0.0, 0.0
    v = model.work[W_STATE][:u.size]
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


@internal
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
    """Slide margin from (A, D): sig*A (which = SLIDE_TO_INACTIVE: lambda -> 0) or
    sig*(D - A) (SLIDE_TO_ACTIVE: lambda -> 1)."""
    return sig * A if which == SLIDE_TO_INACTIVE else sig * (D - A)


@nb.njit(**INLINE_OPTIONS)
def _margin_at(model, u, j, p, which, sig, theta):
    """Slide margin (see :func:`_slide_margin`) at the state u."""
    A, D = _slide_AD(model, u, j, p, theta)
    return _margin(A, D, which, sig)


@internal
def _slide_exits(model, nodes, theta, A_nodes, D_nodes, out):
    """Earliest s in (0, 1] where the lambda of each slide row leaves (0, 1) at its end
    (0 or 1), into ``out`` (-1.0 where it does not); ``A_nodes[k]``, ``D_nodes[k]`` hold
    row k's A and D at the four nodes (from the event scan).

    Most steps of a slide end nowhere near its exit: when a row's margin is positive at
    the four nodes and the cubic through them provably stays positive, the step is
    passed on those four values alone.  The other rows are sampled on 8 sub-intervals,
    one pass over the moments per sample for all of them, and a row whose margin changes
    sign is bisected to the last bit of s.
    """
    watch = model.watch
    nw = model.n_watch[0]
    vals = np.empty(4)
    samples = np.empty((nw, 9))
    unsure = np.zeros(nw, dtype=np.bool_)
    any_unsure = False
    for k in range(nw):
        out[k] = -1.0
        if watch[k].kind != ROW_SLIDE:
            continue
        inside = True
        for q in range(4):
            vals[q] = _margin(A_nodes[k, q], D_nodes[k, q], watch[k].side, watch[k].sigma)
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
    u = model.work[W_STATE][:nodes.shape[1]]
    for i in (1, 3, 4, 5, 7):
        _interp_state(nodes, i / 8.0, u)
        expand(model, u, theta)
        _moments(model, theta, False)
        for k in range(nw):
            if unsure[k]:
                A, D = _slide_functions_block(model, watch[k].neuron, watch[k].point)
                samples[k, i] = _margin(A, D, watch[k].side, watch[k].sigma)
    for k in range(nw):
        if not unsure[k]:
            continue
        for i in range(1, 9):
            if samples[k, i - 1] > 0.0 and samples[k, i] <= 0.0:
                j = watch[k].neuron
                p = watch[k].point
                lo_ = (i - 1) / 8.0
                hi_ = i / 8.0
                for _ in range(200):
                    mid = 0.5 * (lo_ + hi_)
                    if mid <= lo_ or mid >= hi_:
                        break
                    if _slide_margin(model, nodes, j, p, mid, watch[k].side, watch[k].sigma, theta,
                                     u) <= 0.0:
                        hi_ = mid
                    else:
                        lo_ = mid
                out[k] = hi_
                break


register_model(Model, rhs=rhs, jac=jac, output=output, events=events,
               event_rate=event_rate, rhs_loss=rhs_loss, expand_rows=expand_rows)
