"""Event scan of the general exact ReLU flow (d > 1): the hooks ``events`` and
``event_rate`` of :func:`flowlab._kernels.radau.run` for the stage model of
:mod:`flowlab._kernels.relund`, which this module registers with the integrators.

Each step watches every pair (neuron j, point p) through g_jp = W_j . x~_p on the step's
interpolating cubic (in d > 1 no ordering singles out boundary points; surfaces out of
reach are skipped for the price of a bound), and every slide row through its margin
(a polynomial in the step fraction).  The earliest event is located to the last bits of
the fraction.
"""

import math

import numpy as np

from .internal import internal
from .hooks import register_model
from .relu1d_scan import (_VINV, difference_step, first_violation, _interp_state,
                          _surely_inside)
from .relund import (EV_CROSS, EV_SLIDE, EVENT_KIND, EVENT_NEURON, EVENT_POINT, EVENT_ROW,
                     ROW_KIND, ROW_NEURON, ROW_SLOT, SLIDE_A_ZERO, SLIDE_TO_INACTIVE, StageND,
                     _slide_weights, arm_threshold, expand, expand_rate, expand_rows, forward,
                     jac, masked_sums, output, preact, rhs, rhs_loss)


@internal
def _margins(model, u, out):
    """Margins of every slide row at the state u: sigma A (lambda -> 0),
    sigma (R_q - A) (lambda -> 1) or sigma a_j (the output weight of a sliding
    neuron reaching 0); positive while the slide lasts."""
    rows, sigma = model.slide_rows, model.slide_sign
    theta = model.work.theta
    expand(model, u, theta)
    forward(model, theta)
    D = model.n_coords
    nD = model.n_neurons * D
    S = np.empty(D)
    last = -1
    for r in range(model.n_slide_rows[0]):
        j = rows[r, ROW_NEURON]
        kind = rows[r, ROW_KIND]
        if kind == SLIDE_A_ZERO:                  # sign of a_j while neuron j slides
            out[r] = sigma[r] * theta[nD + j]
            continue
        if j != last:                             # a neuron's rows are contiguous
            masked_sums(model, j, S)
            last = j
        A, Dv = _slide_weights(model, j, rows[r, ROW_SLOT], S)
        out[r] = sigma[r] * A if kind == SLIDE_TO_INACTIVE else sigma[r] * (Dv - A)


@internal
def _slide_margins(model, nodes, s, out, u):
    """Slide margins on the step's continuous extension at the fraction s."""
    _interp_state(nodes, s, u)
    _margins(model, u, out)


#: the node fractions and where they sit among the samples i / 8
NODES_S = np.array([0.0, 0.25, 0.75, 1.0])
NODE_SAMPLE = np.array([0, 2, 6, 8])


@internal
def _slide_exit(model, nodes):
    """Earliest (s, row) in (0, 1] where a slide weight leaves (0, 1).

    The margins are evaluated at the four nodes; a step whose rows are all positive
    there, with cubics through those values that provably stay positive, is passed on
    them alone.  Otherwise the margins are sampled on 8 sub-intervals.  On the cubic
    interpolant of the state each margin is a polynomial of degree at most 6 in s (the
    residuals are bilinear in a_j and W_j), which the 9 samples determine: the rows that
    change sign in the first sub-interval where any does are located on that polynomial
    first, and the earliest is then found on the margins themselves by the Illinois
    variant of regula falsi, down to the last bits of s, from a bracket 1e-10 of the
    polynomial's root wide (the whole sub-interval where that bracket fails).
    """
    ns = model.n_slide_rows[0]
    u = np.empty(nodes.shape[1])
    samples = np.empty((9, ns))
    at_nodes = np.empty(4)
    tmp = np.empty(ns)
    for q in range(4):
        _slide_margins(model, nodes, NODES_S[q], samples[NODE_SAMPLE[q]], u)
    inside = True
    for r in range(ns):
        for q in range(4):
            at_nodes[q] = samples[NODE_SAMPLE[q], r]
            inside = inside and at_nodes[q] > 0.0
        if inside and not _surely_inside(at_nodes, 1, 0.0):
            inside = False
        if not inside:
            break
    if inside:
        return -1.0, -1
    for i in (1, 3, 4, 5, 7):
        _slide_margins(model, nodes, i / 8.0, samples[i], u)
    guess = np.empty(ns)
    for i in range(1, 9):
        lo = (i - 1) / 8.0
        hi = i / 8.0
        first = 2.0
        for r in range(ns):
            guess[r] = 2.0
            if samples[i - 1, r] > 0.0 and samples[i, r] <= 0.0:
                guess[r] = _poly_root(samples[:, r], lo, hi)
                first = min(first, guess[r])
        if first > 1.0:
            continue
        best_s = 2.0
        best_r = -1
        for r in range(ns):
            # (rows whose polynomial roots are this close may swap on the margins)
            if guess[r] <= first + 1e-6 * (hi - lo):
                s_r = _polish(model, nodes, r, guess[r], lo, hi, samples[i - 1, r],
                              samples[i, r], tmp, u)
                if s_r < best_s:
                    best_s = s_r
                    best_r = r
        return best_s, best_r
    return -1.0, -1


#: barycentric weights of the 9 equispaced samples i / 8: (-1)^i binomial(8, i)
_BARY = np.array([1.0, -8.0, 28.0, -56.0, 70.0, -56.0, 28.0, -8.0, 1.0])


@internal
def _poly_value(f, s):
    """The polynomial of degree <= 8 through the samples f[i] at i / 8, at s
    (barycentric formula)."""
    num = 0.0
    den = 0.0
    for i in range(9):
        d = s - i / 8.0
        if d == 0.0:
            return f[i]
        w = _BARY[i] / d
        num += w * f[i]
        den += w
    return num / den


@internal
def _narrow(lo, hi, f_lo, f_hi, side, s, v):
    """One Illinois update of the bracket (lo, hi] (value f_lo > 0 at lo, f_hi <= 0 at
    hi) with the value v at its trial point s: (lo, hi, f_lo, f_hi, side)."""
    if v <= 0.0:
        if side == -1:
            f_lo *= 0.5
        return lo, s, f_lo, v, -1
    if side == 1:
        f_hi *= 0.5
    return s, hi, v, f_hi, 1


@internal
def _trial(lo, hi, f_lo, f_hi):
    """The regula falsi point of the bracket, its midpoint where rounding puts that
    outside; -1 once the bracket is a few ulps wide."""
    if hi - lo <= 4.0 * np.finfo(np.float64).eps * max(hi, 1e-300):
        return -1.0
    s = (lo * f_hi - hi * f_lo) / (f_hi - f_lo)
    return s if lo < s < hi else 0.5 * (lo + hi)


@internal
def _poly_root(f, lo, hi):
    """A root in (lo, hi] of the polynomial through the samples, positive at lo and not
    positive at hi (Illinois iterations on the polynomial)."""
    f_lo = _poly_value(f, lo)
    f_hi = _poly_value(f, hi)
    side = 0
    for _ in range(200):
        s = _trial(lo, hi, f_lo, f_hi)
        if s < 0.0:
            break
        lo, hi, f_lo, f_hi, side = _narrow(lo, hi, f_lo, f_hi, side, s, _poly_value(f, s))
    return hi


@internal
def _polish(model, nodes, r, guess, lo, hi, f_lo, f_hi, tmp, u):
    """The first s in (lo, hi] with margin r <= 0 (margin(lo) = f_lo > 0 >= f_hi =
    margin(hi)), from the polynomial's root ``guess``: a bracket 1e-10 of the step
    around it when the margins confirm it, else the part of (lo, hi] left of or right
    of that bracket that holds the sign change."""
    width = 1e-10
    a = max(lo, guess - width)
    b = min(hi, guess + width)
    fa = f_lo
    if a > lo:
        _slide_margins(model, nodes, a, tmp, u)
        fa = tmp[r]
    if fa <= 0.0:
        return _illinois(model, nodes, r, lo, a, f_lo, fa, tmp, u)
    fb = f_hi
    if b < hi:
        _slide_margins(model, nodes, b, tmp, u)
        fb = tmp[r]
    if fb > 0.0:
        return _illinois(model, nodes, r, b, hi, fb, f_hi, tmp, u)
    return _illinois(model, nodes, r, a, b, fa, fb, tmp, u)


@internal
def _illinois(model, nodes, r, lo, hi, f_lo, f_hi, tmp, u):
    """The first s in (lo, hi] with margin r <= 0, from margin(lo) = f_lo > 0 >= f_hi =
    margin(hi): Illinois iterations until the bracket is a few ulps wide (then the end
    with margin <= 0 is returned)."""
    side = 0
    for _ in range(100):
        s = _trial(lo, hi, f_lo, f_hi)
        if s < 0.0:
            break
        _slide_margins(model, nodes, s, tmp, u)
        lo, hi, f_lo, f_hi, side = _narrow(lo, hi, f_lo, f_hi, side, s, tmp[r])
    return hi


@internal
def _is_pin(pins, j, p):
    for k in range(pins.shape[1]):
        if pins[j, k] == p:
            return True
        if pins[j, k] < 0:
            return False
    return False


@internal
def _moved_bound(th, j, D):
    """An upper bound of |W_j(s) - W_j(0)|_2 over s in [0, 1] on the cubic through the
    node rows th[q] (power-basis coefficients c_1..c_3: sum of their norms)."""
    base = j * D
    delta = 0.0
    for r in range(1, 4):
        acc = 0.0
        for k in range(D):
            c = (_VINV[r, 0] * th[0][base + k] + _VINV[r, 1] * th[1][base + k]
                 + _VINV[r, 2] * th[2][base + k] + _VINV[r, 3] * th[3][base + k])
            acc += c * c
        delta += math.sqrt(acc)
    return delta


@internal
def events(model, nodes, armed):
    """Hook for radau.run: earliest event of the step (every pair and every slide).

    Surfaces that cannot have been reached are skipped for the price of a bound, per
    neuron and per pair.  ``moved[j]`` (``skip_moved``) adds up, step by step, a bound of how
    far W_j moves (:func:`_moved_bound`: |W_j(s) - W_j(0)|_2 <= delta over the step);
    when pair (j, p) is evaluated, ``limit[j, p]`` (``skip_limit``) becomes moved[j] before
    that step plus |g_jp| / |x~_p| at the step's end (0 for a pair not armed or not on
    its side).  Since |g_jp(s) - g_jp| <= |W_j(s) - W_j| |x~_p|, and W_j at a later step
    is within the deltas added since (the step's own delta also covers a cut at an
    event), |g_jp| cannot have reached 0 while moved[j] + this step's delta stays below
    limit[j, p]: the pair is skipped, and the whole neuron while that holds for the
    smallest of its limits, ``dist[j]`` (``skip_dist``).  The engine keeps the arrays across
    events and sets dist[j] = -1 for each neuron whose W_j, pins or sides it changes
    (and for all at the start): all its pairs are evaluated again.
    """
    X, ext, mask, pins = model.inputs, model.extents, model.mask, model.pins
    nu, dist, moved, limit = model.sq_norms, model.skip_dist, model.skip_moved, model.skip_limit
    n, D = model.n_neurons, model.n_coords
    M = X.shape[0]
    best = 2.0
    bj = -1
    bp = -1
    if model.train_w:
        th = model.work.theta_nodes
        for q in range(4):
            expand(model, nodes[q], th[q])
        vals = np.empty(4)
        for j in range(n):
            delta = _moved_bound(th, j, D)
            before = moved[j]
            reach = before + delta
            moved[j] = reach
            if reach < dist[j]:
                continue
            every = dist[j] < 0.0
            thr = 0.0
            for q in range(4):
                thr = max(thr, arm_threshold(th[q], ext, j, D))
            near = np.inf
            for p in range(M):
                if _is_pin(pins, j, p):
                    continue
                if not every and reach < limit[j, p]:
                    near = min(near, limit[j, p])
                    continue
                for q in range(4):
                    vals[q] = preact(th[q], X, j, p, D)
                side = 1 if mask[j, p] else -1
                if armed[j, p] and _surely_inside(vals, side, thr):
                    gap = vals[3] * side / math.sqrt(nu[p])
                else:
                    s, armed[j, p] = first_violation(vals, side, armed[j, p], thr)
                    if s >= 0.0 and s < best:
                        best = s
                        bj = j
                        bp = p
                    gap = vals[3] * side / math.sqrt(nu[p]) if (armed[j, p] and s < 0.0) else 0.0
                # (the margin keeps the bound clear of the rounding of g and of the sums)
                limit[j, p] = before + max(gap * (1.0 - 1e-9) - thr, 0.0)
                near = min(near, limit[j, p])
            dist[j] = near
    if model.n_slide_rows[0] > 0:
        s, r = _slide_exit(model, nodes)
        if r >= 0 and s < best:
            ev, rows = model.event, model.slide_rows
            ev[EVENT_KIND] = EV_SLIDE
            ev[EVENT_NEURON] = rows[r, ROW_NEURON]
            ev[EVENT_POINT] = pins[rows[r, ROW_NEURON], rows[r, ROW_SLOT]]
            ev[EVENT_ROW] = r
            return True, s
    if bj < 0:
        return False, 0.0
    ev = model.event
    ev[EVENT_KIND] = EV_CROSS
    ev[EVENT_NEURON] = bj
    ev[EVENT_POINT] = bp
    ev[EVENT_ROW] = -1
    return True, best


@internal
def event_rate(model, u, f):
    """Hook for radau.run: value and rate of the event found last."""
    X, D = model.inputs, model.n_coords
    ev = model.event
    j, p = ev[EVENT_NEURON], ev[EVENT_POINT]
    theta = model.work.theta
    if ev[EVENT_KIND] == EV_CROSS:
        dtheta = np.empty(theta.size)
        expand(model, u, theta)
        expand_rate(model, f, dtheta)
        return preact(theta, X, j, p, D), preact(dtheta, X, j, p, D)
    # slide exit: margin, rate by a directional difference
    r = ev[EVENT_ROW]
    eps = difference_step(u, f)
    if eps == 0.0:
        return 0.0, 0.0
    m = np.empty(model.n_slide_rows[0])
    _margins(model, u, m)
    m0 = m[r]
    _margins(model, u + eps * f, m)
    return m0, (m[r] - m0) / eps


register_model(StageND, rhs=rhs, jac=jac, output=output, events=events,
               event_rate=event_rate, rhs_loss=rhs_loss, expand_rows=expand_rows)
