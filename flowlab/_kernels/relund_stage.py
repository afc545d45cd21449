"""Compiled events of the general exact ReLU flow (d > 1): nearly all of them without
Python.

:func:`advance` runs a stepper (explicit or Radau IIA) on the stage model of
:mod:`flowlab._kernels.relund` and decides the events itself, with the rules of
:class:`flowlab._flow.exact_nd.ExactND` and in the order of ``ExactND._handle``: the
slides that end (their points' modes forced) and the pairs that reached their surfaces
are gathered neuron by neuron, and each neuron's contacts are decided in turn:

- a neuron without pins that meets one point: W_j is snapped onto the surface and the
  point's mode decided from the one-sided rates of g (for one point the
  box-complementarity problem is the univariate rule
  :func:`flowlab._kernels.relu1d_stage.rule`): the point changes side, stays, or starts
  to slide, and then the neuron is pinned on it;
- any other contact (pins, several points, slides that end):
  :func:`flowlab._kernels.relund_contact.decide`, the contact problem on all of them and
  the new pin layout.

The events are recorded and the run goes on.  Python decides what it must explain or
record apart: contacts that are degenerate or have no consistent mode (it names them
and stops), an output weight through 0 while its neuron slides (``sol.info
["repelling"]``), and ``gtol`` runs (Python checks the steps for the steady state).
"""

import numba as nb
import numpy as np

from .._config import NUMBA_OPTIONS
from .internal import internal
from . import explicit, radau
from . import relund_scan  # noqa: F401  (registers the stage model's hooks)
from .borrow import borrowed
from .relu1d import NOISE_ROUNDINGS
from .relu1d_stage import (DONE, EVENTS_RECORDED, FAILED, FULL, K_SLIDE_START, NEED_PYTHON,
                           SLIDE, STEPS_RECORDED, SWITCH, TO_ACTIVE, TO_INACTIVE, ZENO,
                           record_cross, record_event, rule, step_stretch, zeno_tick)
from .relund import (EV_CROSS, EVENT_KIND, EVENT_NEURON, EVENT_POINT, EVENT_ROW, ROW_KIND,
                     ROW_NEURON, ROW_SLOT, SLIDE_A_ZERO, SLIDE_TO_INACTIVE, _n_pins,
                     _slide_weights, arm_threshold, expand, field, forward_all, masked_sums,
                     preact, state_of)
from .relund_contact import decide, pin_layout

_EPS = np.finfo(np.float64).eps


@nb.njit(**NUMBA_OPTIONS)
def build_slide_rows(model, theta):
    """The slide rows of the pinned neurons (``forward`` having run at theta) into the
    model's ``slide_rows`` and ``slide_sign``, and their number into ``n_slide_rows``:
    two per pinned point (SLIDE_TO_INACTIVE, lambda -> 0, and SLIDE_TO_ACTIVE,
    lambda -> 1; sigma the sign of R_q) and, with a trained output weight a_j != 0, one
    for a_j reaching 0 (SLIDE_A_ZERO; sigma its sign)."""
    pins, R = model.pins, model.work.resid
    rows, sigma = model.slide_rows, model.slide_sign
    n, D = model.n_neurons, model.n_coords
    ns = 0
    for j in range(n):
        k = _n_pins(pins, j)
        for slot in range(k):
            Rq = R[pins[j, slot]]
            for which in range(2):          # SLIDE_TO_INACTIVE, SLIDE_TO_ACTIVE
                rows[ns, ROW_NEURON] = j
                rows[ns, ROW_SLOT] = slot
                rows[ns, ROW_KIND] = which
                sigma[ns] = 1.0 if Rq > 0 else -1.0
                ns += 1
        a_j = theta[n * D + j]
        if k > 0 and model.train_a and a_j != 0.0:
            rows[ns, ROW_NEURON] = j
            rows[ns, ROW_SLOT] = 0
            rows[ns, ROW_KIND] = SLIDE_A_ZERO
            sigma[ns] = 1.0 if a_j > 0 else -1.0
            ns += 1
    model.n_slide_rows[0] = ns


@nb.njit(**NUMBA_OPTIONS)
def slide_hits(model, theta, ev_kind, r0, rtol, atol, a_tol, out):
    """Slide rows that end at an event (``forward`` must have run at theta): the event's
    own row, output-weight rows whose a_j is within ``a_tol`` of 0, and slide-end rows
    whose margin is within the integration tolerance of 0; their indices into ``out``,
    their number returned (as ExactND._handle reads them)."""
    rows, sigma = model.slide_rows, model.slide_sign
    nD = model.n_neurons * model.n_coords
    S = np.empty(model.n_coords)
    last = -1
    m = 0
    for r in range(model.n_slide_rows[0]):
        own = ev_kind != EV_CROSS and r == r0
        j = rows[r, ROW_NEURON]
        kind = rows[r, ROW_KIND]
        if kind == SLIDE_A_ZERO:
            hit = own or sigma[r] * theta[nD + j] <= a_tol
        else:
            if j != last:                   # (a neuron's rows are contiguous)
                masked_sums(model, j, S)
                last = j
            A, Rq = _slide_weights(model, j, rows[r, ROW_SLOT], S)
            margin = sigma[r] * (A if kind == SLIDE_TO_INACTIVE else Rq - A)
            hit = own or margin <= 10.0 * (rtol * (abs(A) + abs(Rq)) + atol)
        if hit:
            out[m] = r
            m += 1
    return m


@nb.njit(**NUMBA_OPTIONS)
def hits(model, theta, F, j0, p0, rtol, atol, hit_j, hit_p):
    """Pairs to decide at the event (as ExactND._handle): the event's own pair, pairs
    already across their surface, and pairs within the integration tolerance of it
    moving towards it; pinned pairs are not watched.  ``forward_all`` and ``field`` must
    have run at theta.  Returns their number."""
    X, ext, mask, pins, Z = (model.inputs, model.extents, model.mask, model.pins,
                             model.work.preacts)
    n, D = model.n_neurons, model.n_coords
    M = X.shape[0]
    nh = 0
    for j in range(n):
        scale = 0.0
        for k in range(D):
            scale += abs(theta[j * D + k]) * ext[k]
        tol = 10.0 * (rtol * scale + atol)
        k_p = _n_pins(pins, j)
        for p in range(M):
            pinned = False
            for s in range(k_p):
                if pins[j, s] == p:
                    pinned = True
            if pinned:
                continue
            z = Z[j, p]
            side = 1.0 if mask[j, p] else -1.0
            gdot = 0.0
            for k in range(D):
                gdot += F[j * D + k] * X[p, k]
            across = z <= 0.0 if side > 0 else z > 0.0
            near = abs(z) <= tol and gdot * side < 0.0
            if across or near or (j == j0 and p == p0):
                hit_j[nh] = j
                hit_p[nh] = p
                nh += 1
    return nh


@internal
def _decide_one(model, theta, F, j, q, train_a, a_tol):
    """The rule for neuron j in contact with the single point q (``forward_all`` and
    ``field`` evaluated at theta, W_j on the surface): a decision code of
    :func:`flowlab._kernels.relu1d_stage.rule`."""
    X, mask, R, rho = model.inputs, model.mask, model.work.resid, model.work.resid_mag
    n, D = model.n_neurons, model.n_coords
    M = X.shape[0]
    sc = model.scale
    c = theta[n * D + j]
    Fa = F[n * D + j]
    if c == 0.0 or (train_a and abs(c) <= a_tol and Fa != 0.0):
        c = Fa
    side = 1 if mask[j, q] else -1
    # b = -scale x~_q . sum_{S_j \ q} R_i x~_i; N = scale |x~_q|^2 R_q; rounding level
    dot = 0.0
    mag = 0.0
    for i in range(M):
        if i == q or mask[j, i]:
            xx = 0.0
            for k in range(D):
                xx += X[q, k] * X[i, k]
            if i != q:
                dot += R[i] * xx
            mag += abs(xx) * rho[i]
    nq = 0.0
    for k in range(D):
        nq += X[q, k] * X[q, k]
    b = -sc * dot
    N = sc * nq * R[q]
    tol = NOISE_ROUNDINGS * _EPS * sc * abs(c) * mag
    if c == 0.0:
        return 0                                   # no field on W_j: it stays
    return rule(c * b, c * (b - N), tol, side)


@nb.njit(**NUMBA_OPTIONS)
def arm_all(model, theta, armed):
    """armed[j, p] = the pair is on its side by more than the arming threshold
    (``forward_all`` must have run at theta), as ExactND._armed."""
    X, ext, mask, Z = model.inputs, model.extents, model.mask, model.work.preacts
    n, D = model.n_neurons, model.n_coords
    for j in range(n):
        thr = arm_threshold(theta, ext, j, D)
        for p in range(X.shape[0]):
            side = 1.0 if mask[j, p] else -1.0
            armed[j, p] = Z[j, p] * side > thr


@internal
def _hand_over(model, theta, j, q, after_others):
    """Leave the rest of an event to Python after neuron j's contacts proved to need it
    (see ExactND._handle).  When other neurons' contacts at this event were decided here
    first (``after_others``), the event Python reads becomes j's crossing of q (q >= 0),
    or a plain check of every pair and slide (q < 0), and the slide rows are rebuilt for
    the pins as they are now: the ones the integrator stopped at may name slides that
    ended here."""
    if not after_others:
        return
    ev = model.event
    ev[EVENT_KIND] = EV_CROSS
    ev[EVENT_NEURON] = j if q >= 0 else -1
    ev[EVENT_POINT] = q
    ev[EVENT_ROW] = -1
    forward_all(model, theta)
    build_slide_rows(model, theta)


@nb.njit(**NUMBA_OPTIONS)
def advance(model, t, u, t_end, rtol, atol, max_steps, out_t, out_nodes, out_loss, armed,
            stats, lin, xw, mode, handle, ev_t, ev_i, counters, recent):
    """Integrate and decide the events (see the module docstring) until something needs
    Python.

    ``mode`` as for :func:`flowlab._kernels.relu1d_stage.advance` (0/2 Radau IIA with
    ``lin``, 1/3 the explicit stepper with ``xw``; 2 and 3 may return SWITCH);
    ``handle`` false returns at every event (NEED_PYTHON).  ``counters`` = [steps
    recorded, events recorded, zeno ring position, zeno ring fill]; ``ev_t``/``ev_i``
    receive the events decided here (t; neuron, unique point, kind, side).  The state
    u, the model's mask and the arming flags are updated in place; the model's
    ``event`` holds the event Python is to handle.  Returns the status code.
    """
    model = borrowed(model)
    u = borrowed(u)
    mask, pins, dist, ev, rows = (model.mask, model.pins, model.skip_dist, model.event,
                                  model.slide_rows)
    n, D = model.n_neurons, model.n_coords
    M = model.inputs.shape[0]
    nD = n * D
    P = model.theta0.size
    train_a = model.train_a
    theta = np.empty(P)
    F = np.empty(P)
    cap_rows = rows.shape[0]
    cap_hits = n * M + cap_rows
    hit_j = np.empty(cap_hits, dtype=np.int64)
    hit_p = np.empty(cap_hits, dtype=np.int64)
    hit_f = np.empty(cap_hits, dtype=np.int64)
    srows = np.empty(cap_rows, dtype=np.int64)
    new = np.empty(cap_hits, dtype=np.int64)
    forced = np.empty(cap_hits, dtype=np.int64)
    cap = out_t.size
    ecap = ev_t.size
    while True:
        k0 = counters[STEPS_RECORDED]
        if k0 >= cap or k0 >= max_steps or counters[EVENTS_RECORDED] + n + 1 >= ecap:
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
        switch = mode == 2 and radau.nonstiff(lin, stats[radau.S_H])
        if st == radau.FULL:
            if switch:
                return SWITCH
            continue
        if not handle or not model.train_w:
            return NEED_PYTHON
        # -- an event: is it a crossing that can be decided here? -----------------------
        expand(model, u, theta)
        forward_all(model, theta)
        amax = 0.0
        for j in range(n):
            amax = max(amax, abs(theta[nD + j]))
        a_tol = 10.0 * (rtol * amax + atol)
        # slides that end here and crossings: the contacts of each neuron (as
        # ExactND._handle)
        nsh = slide_hits(model, theta, ev[EVENT_KIND], ev[EVENT_ROW], rtol, atol, a_tol,
                         srows)
        field(model, theta, F)
        nh = hits(model, theta, F, ev[EVENT_NEURON] if ev[EVENT_KIND] == EV_CROSS else -1,
                  ev[EVENT_POINT], rtol, atol, hit_j, hit_p)
        for h in range(nh):
            hit_f[h] = -1
        for h in range(nsh):
            r = srows[h]
            if rows[r, ROW_KIND] == SLIDE_A_ZERO:
                return NEED_PYTHON        # a_j through 0 while j slides: Python records it
            hit_j[nh] = rows[r, ROW_NEURON]
            hit_p[nh] = pins[rows[r, ROW_NEURON], rows[r, ROW_SLOT]]
            # the forced mode: SLIDE_TO_INACTIVE, SLIDE_TO_ACTIVE are 0 inactive, 1 active
            hit_f[nh] = rows[r, ROW_KIND]
            nh += 1
        # -- decide them neuron by neuron, in order ---------------------------------------
        order = np.argsort(hit_j[:nh], kind="mergesort")
        X = model.inputs
        nu = model.sq_norms
        pinned = False
        h0 = 0
        while h0 < nh:
            j = hit_j[order[h0]]
            h1 = h0
            while h1 < nh and hit_j[order[h1]] == j:
                new[h1 - h0] = hit_p[order[h1]]
                forced[h1 - h0] = hit_f[order[h1]]
                h1 += 1
            n_new = h1 - h0
            h0 = h1
            dist[j] = -1.0
            if n_new > 1 or forced[0] >= 0 or _n_pins(pins, j) > 0:
                got = decide(model, u, theta, F, j, new, forced, n_new, train_a, a_tol, t,
                             ev_t, ev_i, counters)
                if got < 0:
                    _hand_over(model, theta, j, new[0] if forced[0] < 0 else -1, h0 > n_new)
                    return NEED_PYTHON
                pinned = pinned or got == 1 or _n_pins(pins, j) > 0
                continue
            q = new[0]
            # one free neuron and one point: snap W_j onto the surface (an O(tolerance)
            # change), in the state and theta, and the univariate rule
            z = preact(theta, X, j, q, D)
            for kk in range(D):
                u[j * D + kk] -= z / nu[q] * X[q, kk]
            expand(model, u, theta)
            forward_all(model, theta)
            field(model, theta, F)
            code = _decide_one(model, theta, F, j, q, train_a, a_tol)
            if code == SLIDE:
                new[0] = q
                pin_layout(model, j, new, 1)
                mask[j, q] = 0
                state_of(model, theta, u)
                expand(model, u, theta)
                record_event(ev_t, ev_i, counters, t, j, q, K_SLIDE_START, 0)
                pinned = True
                continue
            new_side = 0
            if code == TO_ACTIVE and not mask[j, q]:
                mask[j, q] = 1
                new_side = 1
            elif code == TO_INACTIVE and mask[j, q]:
                mask[j, q] = 0
                new_side = -1
            if new_side != 0:
                record_cross(ev_t, ev_i, counters, t, j, q, new_side)
        if zeno_tick(recent, counters, t):
            return ZENO
        # (Z is current: the last forward_all ran after the last snap, and sides do not
        # change Z)
        if pinned:                      # the slide rows at the snapped state (as Python's)
            forward_all(model, theta)
            build_slide_rows(model, theta)
        arm_all(model, theta, armed)
        if switch:
            return SWITCH
