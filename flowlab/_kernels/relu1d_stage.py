"""Compiled stage management of the univariate exact flow: crossings without leaving numba.

Most events of a ReLU flow are crossings: a knot passes a data point and the
point changes side.  :func:`advance` integrates with :func:`radau.run`, and at
each crossing decides the new side from the one-sided fields, updates the
active intervals, the blocks and the watch list, records the event and goes
on -- all compiled.  It hands control back to Python for what changes the
layout of the state or needs more care (a slide starting or ending, a pinned
neuron turning over), and when buffers are full, the run is stationary to
rounding, ``gtol`` is met, or events accumulate (Zeno).

The decision rule is the one documented in :mod:`flowlab._flow.exact_1d`, which
also calls :func:`decide` here, so both paths share it.
"""

import math

import numba as nb
import numpy as np

from .._config import NUMBA_OPTIONS
from .internal import internal
from . import explicit, radau
from .borrow import borrowed
from .relu1d import (ARM_RTOL, ROW_BOUNDARY, ROW_OUTPUT, ROW_PIVOT, ROW_SLIDE, SLIDE_TO_ACTIVE,
                     SLIDE_TO_INACTIVE, W_R0, W_R1, expand, field, field_noise, moments)
from .relu1d_scan import _slide_functions_block, residual_at

# status codes of advance(); SWITCH: the stepper asks to be changed (the explicit one
# found the flow stiff, or Radau found it no longer stiff)
DONE, NEED_PYTHON, FULL, FAILED, STATIONARY, STEADY, ZENO, SWITCH = range(8)
# decisions
STAY, TO_ACTIVE, TO_INACTIVE, SLIDE = range(4)
# event kinds in the event buffer (as in flowlab._flow.exact_1d)
K_CROSS, K_SLIDE_START, K_SLIDE_END = range(3)
# columns of the event buffer ev_i (its times are in ev_t)
EVENT_NEURON, EVENT_POINT, EVENT_KIND, EVENT_SIDE = range(4)
# entries of the stage loops' counters: steps and events recorded by the call, position
# and fill of the Zeno ring of recent event times
STEPS_RECORDED, EVENTS_RECORDED, RING_POS, RING_FILL = range(4)
# columns of the boundary hits (boundary_hits) and of the slide ends (slide_ends)
HIT_NEURON, HIT_POINT, HIT_SIDE = range(3)
END_NEURON, END_SIDE = range(2)
#: Zeno detection: this many handled events within a relative time span of ZENO_SPAN
ZENO_COUNT = 400
ZENO_SPAN = 1e-9


@internal
def snap(model, u, j, p):
    """Move neuron j's knot exactly onto x_p in the state u (an O(tolerance) change)."""
    ub, uw, theta0 = model.pos_b, model.pos_w, model.theta0
    n = model.n_neurons
    tw = model.has_w
    xp = model.xs[p]
    w = 1.0
    if tw:
        w = u[uw[j]] if uw[j] >= 0 else theta0[2 * n + j]
    if model.b_trained == 1.0 and ub[j] >= 0:
        u[ub[j]] = w * xp
    elif tw and uw[j] >= 0 and xp != 0.0:
        b = u[ub[j]] if ub[j] >= 0 else theta0[j]
        u[uw[j]] = b / xp


@internal
def one_sided(model, theta, j, p, F):
    """(dg/dt on the inactive side, dg/dt on the active side) of neuron j at point p.

    ``moments`` and ``field`` (into F) must have been evaluated at theta.  With
    c_j = 0 both vanish with c_j; its rate c_j' then gives the sign.
    """
    lo, hi = model.lo, model.hi
    n = model.n_neurons
    tw = model.has_w
    eb = model.b_trained
    ew = model.w_trained if tw else 0.0
    sc = model.scale
    R0 = model.work[W_R0][j]
    R1 = model.work[W_R1][j]
    rp = residual_at(model, theta, p)
    xp = model.xs[p]
    if lo[j] <= p < hi[j]:
        R0 -= rp
        R1 -= rp * xp
    k_in = -sc * (ew * R1 * xp + eb * R0)
    k_act = k_in - sc * rp * (ew * xp * xp + eb)
    c = theta[n + j]
    if c == 0.0:
        c = F[n + j]
    return c * k_in, c * k_act


@nb.njit(**NUMBA_OPTIONS)
def decide(model, theta, j, p, side, F, noise):
    """Decision for point p on neuron j's surface, currently on ``side``.

    Returns (code, dg/dt inactive, dg/dt active): SLIDE when both fields push
    towards the surface; STAY when the field on the current side pushes away or
    is tangent (below its rounding level); otherwise the point crosses.
    """
    n = model.n_neurons
    tw = model.has_w
    g_in, g_act = one_sided(model, theta, j, p, F)
    tol = noise[j] + (abs(model.xs[p]) * noise[2 * n + j] if tw else 0.0)
    return rule(g_in, g_act, tol, side), g_in, g_act


@nb.njit(**NUMBA_OPTIONS)
def rule(g_in, g_act, tol, side):
    """The decision at a switching surface from the one-sided rates of g.

    ``g_in``, ``g_act``: dg/dt under the inactive-side and the active-side field;
    ``tol``: their rounding level; ``side``: +1 if the point is on the active
    side now, -1 if on the inactive one.  Both fields towards the surface:
    SLIDE; the field of the current side pushes away or is tangent: STAY;
    otherwise the point crosses (TO_ACTIVE or TO_INACTIVE).
    """
    toward_in = g_in > tol
    toward_act = g_act < -tol
    if toward_in and toward_act:
        return SLIDE
    if not (toward_act if side > 0 else toward_in):
        return STAY
    return TO_INACTIVE if side > 0 else TO_ACTIVE


@internal
def interval_add(lo, hi, j, p):
    """Make point p active for neuron j (it must touch the interval); False if it cannot."""
    if lo[j] >= hi[j]:
        lo[j] = p
        hi[j] = p + 1
    elif p == lo[j] - 1:
        lo[j] = p
    elif p == hi[j]:
        hi[j] = p + 1
    elif not (lo[j] <= p < hi[j]):
        return False
    return True


@internal
def interval_remove(lo, hi, j, p):
    """Make point p inactive for neuron j (it must be an end); False if it cannot."""
    if p == lo[j]:
        lo[j] += 1
    elif p == hi[j] - 1:
        hi[j] -= 1
    elif lo[j] <= p < hi[j]:
        return False
    return True


@nb.njit(**NUMBA_OPTIONS)
def rebuild_blocks(model):
    """Blocks between the sorted interval ends (and pinned points), into the model's
    ``n_blocks``, ``block_starts``, ``block_lo`` and ``block_hi``."""
    lo, hi, pin = model.lo, model.hi, model.pin
    blo, bhi, bp = model.block_lo, model.block_hi, model.block_starts
    n = model.n_neurons
    M = model.xs.size
    ends = np.empty(2 + 4 * n, dtype=np.int64)
    k = 0
    ends[k] = 0
    ends[k + 1] = M
    k += 2
    for j in range(n):
        ends[k] = lo[j]
        ends[k + 1] = hi[j]
        k += 2
        if pin[j] >= 0:
            ends[k] = pin[j]
            ends[k + 1] = pin[j] + 1
            k += 2
    srt = np.sort(ends[:k])
    nbp = 0
    for i in range(k):
        if i == 0 or srt[i] != srt[i - 1]:
            bp[nbp] = srt[i]
            nbp += 1
    model.n_blocks[0] = nbp - 1
    for j in range(n):
        blo[j] = np.searchsorted(bp[:nbp], lo[j])
        bhi[j] = np.searchsorted(bp[:nbp], hi[j])


@internal
def _add_row(watch, armed, k, kind, j, p, side, sig, arm):
    """Write row k of the watch list (WATCH_DTYPE records) and its arming; returns k + 1."""
    watch[k].kind = kind
    watch[k].neuron = j
    watch[k].point = p
    watch[k].side = side
    watch[k].sigma = sig
    armed[k] = arm
    return k + 1


@nb.njit(**NUMBA_OPTIONS)
def rebuild_watch(model, theta, armed):
    """Boundary watch rows of the free neurons from their intervals (slide and pivot rows
    of pinned neurons are kept); a row is armed when g is already on its side by more
    than ARM_RTOL of its scale."""
    xs, lo, hi, pin, watch = model.xs, model.lo, model.hi, model.pin, model.watch
    n = model.n_neurons
    M = xs.size
    tw = model.has_w
    X = model.extent
    k = 0
    for r in range(model.n_watch[0]):
        if watch[r].kind != ROW_BOUNDARY:
            k = _add_row(watch, armed, k, watch[r].kind, watch[r].neuron, watch[r].point,
                         watch[r].side, watch[r].sigma, armed[r])
    if model.b_trained == 0.0 and (model.w_trained == 0.0 or not tw):
        model.n_watch[0] = k
        return
    cand_p = np.empty(4, dtype=np.int64)
    cand_s = np.empty(4, dtype=np.int64)
    for j in range(n):
        if pin[j] >= 0:
            continue
        nc = 0
        a = lo[j]
        b = hi[j]
        if a < b:
            if a > 0:
                cand_p[nc] = a - 1
                cand_s[nc] = -1
                cand_p[nc + 1] = a
                cand_s[nc + 1] = 1
                nc += 2
            if b < M:
                cand_p[nc] = b - 1
                cand_s[nc] = 1
                cand_p[nc + 1] = b
                cand_s[nc + 1] = -1
                nc += 2
            if a == 0 and b == M:
                cand_p[0] = 0
                cand_s[0] = 1
                cand_p[1] = M - 1
                cand_s[1] = 1
                nc = 2
        else:
            cand_p[0] = 0
            cand_s[0] = -1
            cand_p[1] = M - 1
            cand_s[1] = -1
            nc = 2
        bj = theta[j]
        wj = theta[2 * n + j] if tw else 1.0
        thr = ARM_RTOL * (abs(wj) * X + abs(bj))
        for i in range(nc):
            dup = False
            for i2 in range(i):
                if cand_p[i2] == cand_p[i] and cand_s[i2] == cand_s[i]:
                    dup = True
            if dup:
                continue
            g = wj * xs[cand_p[i]] - bj
            k = _add_row(watch, armed, k, ROW_BOUNDARY, j, cand_p[i], cand_s[i], 0.0,
                         g * cand_s[i] > thr)
    model.n_watch[0] = k


@nb.njit(**NUMBA_OPTIONS)
def slide_rows(model, theta, watch_w, watch_c, rows, armed):
    """Watch rows of the pinned neurons (``moments`` must have run at theta) into ``rows``
    (``WATCH_DTYPE`` records) and ``armed``; returns their number.

    Per pinned neuron j on point p: the slide's two ends (ROW_SLIDE, side
    SLIDE_TO_INACTIVE: lambda -> 0, SLIDE_TO_ACTIVE: lambda -> 1; sigma = sign of D),
    with ``watch_w`` the pivot row (ROW_PIVOT: w_j reaching 0), with ``watch_c`` and
    c_j != 0 the output-weight row (ROW_OUTPUT: c_j reaching 0 turns the surface
    repelling).
    """
    pin = model.pin
    n = model.n_neurons
    k = 0
    for j in range(n):
        p = pin[j]
        if p < 0:
            continue
        _, D = _slide_functions_block(model, j, p)
        s_ = 1.0 if D > 0 else -1.0
        k = _add_row(rows, armed, k, ROW_SLIDE, j, p, SLIDE_TO_INACTIVE, s_, True)
        k = _add_row(rows, armed, k, ROW_SLIDE, j, p, SLIDE_TO_ACTIVE, s_, True)
        if watch_w:
            w = theta[2 * n + j]
            k = _add_row(rows, armed, k, ROW_PIVOT, j, p, 1 if w > 0 else -1, 0.0, w != 0.0)
        c = theta[n + j]
        if watch_c and c != 0.0:
            k = _add_row(rows, armed, k, ROW_OUTPUT, j, p, 1 if c > 0 else -1, 0.0, True)
    return k


@nb.njit(**NUMBA_OPTIONS)
def slide_ends(model, theta, idx, rtol, atol, out):
    """Slides to end at an event (``moments`` must have run at theta): the event's own
    row ``idx`` and every slide-end row whose margin is within the integration tolerance
    of 0; writes (neuron, side) into the columns END_NEURON, END_SIDE of ``out`` and
    returns their number."""
    watch = model.watch
    m = 0
    for r in range(model.n_watch[0]):
        if watch[r].kind != ROW_SLIDE:
            continue
        j = watch[r].neuron
        A, D = _slide_functions_block(model, j, watch[r].point)
        margin = watch[r].sigma * (A if watch[r].side == SLIDE_TO_INACTIVE else D - A)
        if r == idx or margin <= 10.0 * (rtol * (abs(A) + abs(D)) + atol):
            out[m, END_NEURON] = j
            out[m, END_SIDE] = watch[r].side
            m += 1
    return m


@internal
def _free_norms(model, F, noise):
    """(||F||_2 on the state, True if every state velocity is below its rounding level)."""
    free = model.free
    s = 0.0
    quiet = True
    for k in range(free.size):
        v = F[free[k]]
        s += v * v
        if abs(v) > noise[free[k]]:
            quiet = False
    return math.sqrt(s), quiet


@nb.njit(**NUMBA_OPTIONS, inline="always")
def step_stretch(model, t, u, t_end, rtol, atol, max_steps, out_t, out_nodes, out_loss, armed,
                 stats, lin, xw, mode, k0):
    """One call of the stepper of ``mode`` (1/3 explicit with ``xw``, 0/2 Radau IIA with
    ``lin``) from (t, u), recording from slot k0 of the output buffers: (status, steps).
    The stage loops of both exact engines call it."""
    if mode == 1 or mode == 3:
        return explicit.run(model, t, u, t_end, stats[radau.S_H], rtol, atol, max_steps - k0,
                            out_t[k0:], out_nodes[k0:], out_loss[k0:], armed, stats, xw,
                            mode == 3)
    return radau.run(model, t, u, t_end, stats[radau.S_H], rtol, atol, max_steps - k0,
                     out_t[k0:], out_nodes[k0:], out_loss[k0:], armed, stats, lin)


@internal
def record_cross(ev_t, ev_i, counters, t, j, p, side):
    """Record the crossing of point p by neuron j to ``side`` at t."""
    record_event(ev_t, ev_i, counters, t, j, p, K_CROSS, side)


@nb.njit(**NUMBA_OPTIONS)
def record_event(ev_t, ev_i, counters, t, j, p, kind, side):
    """Record an event of ``kind`` (K_CROSS, K_SLIDE_START, K_SLIDE_END) of neuron j and
    point p at t into row ``counters[EVENTS_RECORDED]`` of ``ev_t``/``ev_i``, and count it."""
    e = counters[EVENTS_RECORDED]
    ev_t[e] = t
    ev_i[e, EVENT_NEURON] = j
    ev_i[e, EVENT_POINT] = p
    ev_i[e, EVENT_KIND] = kind
    ev_i[e, EVENT_SIDE] = side
    counters[EVENTS_RECORDED] += 1


@internal
def zeno_tick(recent, counters, t):
    """Enter an event at t in the Zeno ring ``recent`` (counters[RING_POS]: position,
    counters[RING_FILL]: fill); True when ZENO_COUNT handled events fall within ZENO_SPAN
    relative time."""
    pos = counters[RING_POS]
    recent[pos] = t
    counters[RING_POS] = (pos + 1) % recent.size
    counters[RING_FILL] = min(counters[RING_FILL] + 1, recent.size)
    if counters[RING_FILL] == recent.size:
        return t - recent[counters[RING_POS]] <= ZENO_SPAN * max(1.0, abs(t))
    return False


@nb.njit(**NUMBA_OPTIONS)
def advance(model, t, u, t_end, rtol, atol, gtol, max_steps, out_t, out_nodes, out_loss, armed,
            stats, lin, ev_t, ev_i, counters, recent, xw, mode):
    """Integrate and handle crossings until something needs Python (see module docstring).

    ``counters``: steps and events recorded, Zeno ring position and fill (STEPS_RECORDED,
    ...); ``ev_t``/``ev_i`` receive events (t; the EVENT_* columns).  The
    state u and the model's intervals, blocks and watch list are updated in place.
    ``mode``: 0 Radau IIA (``lin``), 1 the explicit stepper (``xw``), 2 Radau that
    returns SWITCH once its steps are inside the explicit stepper's stability interval
    (h lambda_max < radau.NONSTIFF_HLAMBDA), 3 the explicit stepper returning SWITCH when it
    finds the flow stiff (``flowlab._flow._stepper``).
    Returns the status code.
    """
    # every array argument is held by the caller for the whole call: borrowed views make
    # the reference counting of the many calls below free (flowlab._kernels.borrow)
    model = borrowed(model)
    lin = borrowed(lin)
    u = borrowed(u)
    lo, hi, watch = model.lo, model.hi, model.watch
    n = model.n_neurons
    theta = np.empty(model.theta0.size)
    F = np.empty(model.theta0.size)
    noise = np.empty(model.theta0.size)
    cap = out_t.size
    ecap = ev_t.size
    items = np.empty((watch.size, 3), dtype=np.int64)
    codes = np.empty(watch.size, dtype=np.int64)
    gin = np.empty(watch.size)
    gact = np.empty(watch.size)
    while True:
        k0 = counters[STEPS_RECORDED]
        if k0 >= cap or k0 >= max_steps or counters[EVENTS_RECORDED] + 4 * n + 4 >= ecap:
            return FULL
        st, k = step_stretch(model, t, u, t_end, rtol, atol, max_steps, out_t, out_nodes,
                             out_loss, armed, stats, lin, xw, mode, k0)
        counters[STEPS_RECORDED] += k
        t = stats[radau.S_T]
        if st == radau.DONE:
            return DONE
        if st == radau.FAILED:
            return FAILED
        if st == explicit.STIFF:
            return SWITCH
        if mode == 2 and radau.nonstiff(lin, stats[radau.S_H]):
            switch = True
        else:
            switch = False
        expand(model, u, theta)
        moments(model, theta)
        field(model, theta, F)
        field_noise(model, theta, noise)
        gnorm, quiet = _free_norms(model, F, noise)
        if quiet:
            return STATIONARY
        if gtol > 0.0 and gnorm < gtol:
            return STEADY
        if st == radau.FULL:
            if switch:
                return SWITCH
            continue
        # -- an event: crossings are handled here, anything else goes to Python ---------
        idx = model.event_row[0]
        if watch[idx].kind != ROW_BOUNDARY:
            return NEED_PYTHON
        # (a slide ending at the same time would be Python's: it takes the whole batch)
        nitems = boundary_hits(model, theta, F, idx, rtol, atol, items)
        for i in range(nitems):
            snap(model, u, items[i, HIT_NEURON], items[i, HIT_POINT])
        expand(model, u, theta)
        moments(model, theta)
        field(model, theta, F)
        field_noise(model, theta, noise)
        for i in range(nitems):
            codes[i], gin[i], gact[i] = decide(model, theta, items[i, HIT_NEURON],
                                               items[i, HIT_POINT], items[i, HIT_SIDE], F,
                                               noise)
            if codes[i] == SLIDE:
                return NEED_PYTHON
        for i in range(nitems):
            j = items[i, HIT_NEURON]
            p = items[i, HIT_POINT]
            side = items[i, HIT_SIDE]
            new_side = 0
            if codes[i] == TO_ACTIVE and side < 0:
                if not interval_add(lo, hi, j, p):
                    return NEED_PYTHON
                new_side = 1
            elif codes[i] == TO_INACTIVE and side > 0:
                if not interval_remove(lo, hi, j, p):
                    return NEED_PYTHON
                new_side = -1
            if new_side != 0:
                record_cross(ev_t, ev_i, counters, t, j, p, new_side)
        if zeno_tick(recent, counters, t):
            return ZENO
        rebuild_blocks(model)
        expand(model, u, theta)
        rebuild_watch(model, theta, armed)
        if switch:
            return SWITCH


@nb.njit(**NUMBA_OPTIONS)
def boundary_hits(model, theta, F, idx, rtol, atol, items):
    """Boundary watch rows to decide at an event: the event's own row ``idx``, rows
    already across their surface, and rows within the integration tolerance of it
    and moving towards it under the field F (``moments`` and ``field`` evaluated at
    theta).  Writes (neuron, point, side) into ``items``; returns their number."""
    xs, watch = model.xs, model.watch
    n = model.n_neurons
    tw = model.has_w
    nitems = 0
    for r in range(model.n_watch[0]):
        if watch[r].kind != ROW_BOUNDARY:
            continue
        j = watch[r].neuron
        p = watch[r].point
        side = watch[r].side
        bj = theta[j]
        wj = theta[2 * n + j] if tw else 1.0
        g = wj * xs[p] - bj
        gdot = (F[2 * n + j] if tw else 0.0) * xs[p] - F[j]
        tol = 10.0 * (rtol * (abs(wj * xs[p]) + abs(bj)) + atol)
        across = (g <= 0.0) if side > 0 else (g > 0.0)
        near = abs(g) <= tol and gdot * side < 0.0
        if r == idx or across or near:
            items[nitems, HIT_NEURON] = j
            items[nitems, HIT_POINT] = p
            items[nitems, HIT_SIDE] = side
            nitems += 1
    return nitems


@internal
def u_counts(lo, hi, P0, out):
    """u_l (Ainsworth & Shin 2021, (3.2)): data points activating exactly l neurons, into ``out``
    (length n + 1), from the active intervals [lo_j, hi_j) of unique points and the
    prefix counts P0 (P0[k] = number of data points among the first k unique ones):
    a sweep over the sorted interval ends, O(n log n) whatever the data size."""
    n = lo.size
    M = P0.size - 1
    pos = np.empty(2 * n, dtype=np.int64)
    dl = np.empty(2 * n, dtype=np.int64)
    m = 0
    for j in range(n):
        if lo[j] < hi[j]:
            pos[m] = lo[j]
            dl[m] = 1
            pos[m + 1] = hi[j]
            dl[m + 1] = -1
            m += 2
    order = np.argsort(pos[:m])
    for l in range(out.size):
        out[l] = 0
    level = 0
    prev = 0
    for i in range(m):
        b = pos[order[i]]
        out[level] += int(round(P0[b] - P0[prev]))
        level += dl[order[i]]
        prev = b
    out[level] += int(round(P0[M] - P0[prev]))


@nb.njit(**NUMBA_OPTIONS)
def replay_stages(lo, hi, ev_t, ev_j, ev_p, ev_side, P0):
    """Stages of constant (u_l) from the starting intervals and the time-ordered events.

    ``lo``/``hi`` (modified) are the intervals at the start; an event with side > 0
    makes its point active, side <= 0 inactive (slide starts and ends included).
    Returns (starts, U): the start time of every stage after the first (the event
    times where (u_l) changes) and U[k] the counts of stage k (len(starts) + 1 rows).
    """
    n = lo.size
    E = ev_t.size
    U = np.empty((E + 1, n + 1), dtype=np.int64)
    starts = np.empty(E)
    u_counts(lo, hi, P0, U[0])
    cur = np.empty(n + 1, dtype=np.int64)
    ns = 0
    k = 0
    while k < E:
        t = ev_t[k]
        while k < E and ev_t[k] == t:
            j = ev_j[k]
            p = ev_p[k]
            inside = lo[j] <= p < hi[j]
            if ev_side[k] > 0 and not inside:
                interval_add(lo, hi, j, p)
            elif ev_side[k] <= 0 and inside:
                interval_remove(lo, hi, j, p)
            k += 1
        u_counts(lo, hi, P0, cur)
        same = True
        for l in range(n + 1):
            if cur[l] != U[ns, l]:
                same = False
        if not same:
            starts[ns] = t
            ns += 1
            for l in range(n + 1):
                U[ns, l] = cur[l]
    return starts[:ns].copy(), U[:ns + 1].copy()
