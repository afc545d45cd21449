"""Event-driven Filippov gradient flow of a two-layer ReLU network on d-dimensional inputs.

The network is f(x) = sum_j a_j relu(W_j . (x, 1)) (``TwoLayer(W, a, "relu")``), or
f(x) = sum_j a_j relu(W_j . x) without biases (``bias=False``): then x~ below is x
itself, and every formula holds with D = d coordinates per neuron instead of d + 1.
Between two events every neuron's active set S_j (the data points with
W_j . x~_i > 0) is fixed and the flow is smooth; it is integrated by the
compiled steppers (explicit Dormand-Prince 5(4) while the flow is not stiff,
Radau IIA with the exact Jacobian when it is) on the stage model of
:mod:`flowlab._kernels.relund` (right-hand side O(n m d)).  Each step watches every
pair (neuron j, point i) through g_ji = W_j . x~_i on the step's interpolating cubic;
the earliest sign change is located to the last bit of the step fraction and reached
by an exact step.  The decisions below are taken in compiled code
(:mod:`flowlab._kernels.relund_stage`, :mod:`flowlab._kernels.relund_contact`); this
class takes them with the same rules where a run stops or records a choice: degenerate
contacts and output weights through 0 while their neuron slides.

Decisions.  At an event, neuron j is *in contact* with a set Q of points: those
whose g_jq reached 0 and those it already slides on.  Its W_j velocity is a
Filippov combination of the one-sided fields,

    W_j' = -scale a_j (sum_{S_j \\ Q} R_i x~_i + sum_{q in Q} lambda_q R_q x~_q),

lambda_q in [0, 1] (0: q inactive, 1: active), so that

    dg_q/dt = c (b_q - sum_p N_qp lambda_p),   b_q = -scale (sum_{S_j \\ Q} R_i x~_i) . x~_q,
                                               N_qp = scale (x~_q . x~_p) R_p,

with c = a_j (a_j' when a_j = 0) and R the residuals.  The residuals and every
other neuron's field are the same on both sides of the surfaces (a neuron on
its surface contributes 0 to f(x_q)), so neurons decouple.  Each point gets a
mode: inactive (lambda = 0, needs dg/dt <= 0), active (lambda = 1, dg/dt >= 0)
or sliding (0 < lambda < 1, dg/dt = 0, attracting from both sides:
c N_qq lambda_q > 0 and c N_qq (1 - lambda_q) > 0) -- a small box
complementarity problem, solved by enumerating the 3^|Q| modes (|Q| <= d) in
order of preference: a point keeps its current mode if that is consistent, else
slides, else changes side.  For one point this is exactly the rule of the
univariate flow (:func:`flowlab._kernels.relu1d_stage.rule`): both sides
towards the surface: slide; the current side pushes away or is tangent: stay;
otherwise cross.  Comparisons allow the rounding level of dg/dt.

Sliding points are *pinned*: W_j is held on W_j . x~_q = 0 (k of its
coordinates computed from the others; with one pin the bias, exactly) and its
velocity is the inactive-side field projected on that subspace; the slide on q
ends when its lambda_q reaches 0 or 1, and the neuron's contacts are decided
again.  The per-point weights describe the Filippov set only when the contact
points are affinely independent (then every pattern of sides occurs next to the
contact).  When they are not (three collinear points in 2-d, say), when d + 1
of them would force W_j = 0, or when no mode is consistent, the run stops with
status "degenerate" and a message naming the time, the neuron and the points.

An output weight a_j passing through 0 while neuron j slides flips both
one-sided fields: the surfaces it slides on turn repelling, and the Filippov
continuation is no longer unique (gradient descent, chattering about the
surface, leaves on whichever side its last step happens to be).  The contacts
are then decided again; points leave on the inactive side (relu'(0) = 0, the
side a point exactly on the surface belongs to), and ``sol.info["repelling"]``
lists these (t, neuron) so that an analysis can tell where the trajectory chose.

Equal inputs are merged (their residuals add up), so duplicated points do not
count as several surfaces.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from .._kernels import explicit as _ex
from .._kernels import radau as _rd
from .._kernels import relu1d_stage as _ks
from .._kernels import relund as _k
from .._kernels import relund_contact as _kc
from .._kernels import relund_stage as _kst
from .._kernels.relu1d import NOISE_ROUNDINGS
from ._events import DegenerateError, EventDriver, ZenoError, _hvp, zeno_message

_EPS = np.finfo(np.float64).eps
#: events the compiled loop may decide between two returns to Python
_EVENTS = 4096
INACTIVE, ACTIVE, SLIDING = 0, 1, _kc.SLIDE_MODE
#: the kinds of the events the compiled loop records (flowlab._kernels.relu1d_stage.K_*)
_KINDS = ("cross", "slide_start", "slide_end")
#: the pin layout and the state indices: these fields of the stage model
#: (:class:`flowlab._kernels.relund.StageND`)
_Layout = namedtuple("_Layout", ["pins", "elim_coefs", "projector", "lambda_rows",
                                 "eliminated", "basis", "free", "basis_col"])
#: the stage at the current parameters: the model, copies of its pre-activations (n, M),
#: group residuals R and magnitudes rho (M,), and the field -grad L (P,)
_Evaluation = namedtuple("_Evaluation", ["model", "preacts", "resid", "resid_mag", "field"])


def contact_modes(b, N, c, tol, current, forced=None, max_slide=None):
    """Modes of the points in contact with one neuron (see the module docstring).

    Parameters
    ----------
    b, N : arrays (k,), (k, k)
        dg/dt = c (b - N lambda).
    c : float
        a_j, or a_j' when a_j = 0.
    tol : array (k,)
        Rounding level of each dg/dt.
    current : sequence of int
        Current mode of each point (INACTIVE, ACTIVE or SLIDING).
    forced : dict or None
        Modes fixed in advance (a slide that ended at lambda = 0 or 1).
    max_slide : int or None
        At most this many points may slide (d: more pins leave W_j = 0).

    Returns (modes, lambda), or None when no mode is consistent.
    """
    k = len(current)
    forced = forced or {}
    b = np.asarray(b, float)
    N = np.asarray(N, float)
    if c == 0.0:                       # no field on W_j: nothing moves, keep the modes
        modes = [forced.get(i, current[i]) for i in range(k)]
        lam = np.array([0.5 if m == SLIDING else float(m) for m in modes])
        return modes, lam

    if k == 1 and (max_slide is None or max_slide >= 1):
        return _contact_mode_one(float(b[0]), float(N[0, 0]), c, float(tol[0]), current[0],
                                 forced.get(0))
    modes = np.empty(k, dtype=np.int64)
    lam = np.empty(k)
    found = _kc.contact_modes(np.ascontiguousarray(b), np.ascontiguousarray(N), float(c),
                              np.ascontiguousarray(tol, dtype=float),
                              np.asarray(current, dtype=np.int64),
                              np.array([forced.get(i, -1) for i in range(k)], dtype=np.int64),
                              -1 if max_slide is None else int(max_slide), modes, lam)
    return ([int(m) for m in modes], lam) if found else None


def _contact_mode_one(b, N, c, tol, current, forced):
    """:func:`contact_modes` for one point, in scalars (the same candidates in the same
    order: the current mode, then sliding, then the other side)."""
    order = [current] + ([SLIDING] if current != SLIDING else []) + [
        m for m in (INACTIVE, ACTIVE) if m != current]
    if forced is not None:
        order = [forced]
    for mode in order:
        lam = float(mode) if mode != SLIDING else 0.0
        if mode == SLIDING:
            if N == 0.0:                     # a singular 1 x 1 system: no sliding weight
                continue
            lam = b / N
            if not np.isfinite(lam):
                continue
        g = c * (b - N * lam)
        if mode == INACTIVE:
            ok = g <= tol
        elif mode == ACTIVE:
            ok = g >= -tol
        else:
            g_in = c * b
            ok = g_in > tol and g_in - c * N < -tol
        if ok:
            return [mode], np.array([lam])
    return None


class ExactND(EventDriver):
    """One exact flow of a ``TwoLayer`` relu network (any input dimension)."""

    def __init__(self, prob, t_end, **opts):
        super().__init__(prob, t_end, **opts)
        net = prob.template
        X = prob.XT[:-1].T
        uniq, inv = np.unique(X, axis=0, return_inverse=True)
        inv = inv.ravel()
        M = uniq.shape[0]
        y = prob.y
        cnt = np.bincount(inv, minlength=M).astype(np.float64)
        ybar = np.bincount(inv, weights=y, minlength=M) / cnt
        V = np.bincount(inv, weights=(y - ybar[inv]) ** 2, minlength=M)
        self.inv = inv
        self.turned = []            # (t, neuron): a_j through 0 while j slides
        # augmented inputs x~ = (x, 1); a bias-free network's neurons see x itself
        self.has_bias = getattr(net, "has_bias", True)
        self.X = np.ascontiguousarray(np.column_stack([uniq, np.ones(M)]) if self.has_bias
                                      else uniq)
        # without biases a point at the origin has W_j . x = 0 for every W_j: it is never
        # active (relu'(0) = 0), contributes a constant to the loss, and is no surface
        self.null = np.all(self.X == 0.0, axis=1)
        self.n, self.D = net.W.shape
        n, D = self.n, self.D
        self.theta = np.concatenate([net.W.ravel(), net.a]).astype(np.float64)
        self.theta_start = self.theta.copy()
        tr = set(prob.trainable)
        self.train_W, self.train_a = "W" in tr, "a" in tr
        self.scale = prob.scale
        self.ext = np.abs(self.X).max(axis=0)
        self.XT = np.ascontiguousarray(self.X.T)
        P = self.theta.size
        # the stage model's fields that stay for the whole run (flowlab._kernels.relund)
        self._static = dict(
            inputs=self.X, inputs_t=self.XT, counts=cnt, mean_y=ybar, within_ss=V,
            sq_norms=np.einsum("pk,pk->p", self.X, self.X), extents=self.ext,
            scale=float(self.scale), n_neurons=int(n), n_coords=int(D),
            train_w=bool(self.train_W), train_a=bool(self.train_a),
            has_bias=bool(self.has_bias),
            work=_k.WorkND(preacts=np.zeros((n, M)), resid=np.zeros(M), resid_mag=np.zeros(M),
                           theta_nodes=np.zeros((4, P)), theta=np.zeros(P), field=np.zeros(P),
                           masked=np.zeros((n, D))))
        self.pins = [[] for _ in range(n)]
        # the event scan's skip bound per neuron (flowlab._kernels.relund_scan.events)
        self.dist, self.moved = np.full(n, -1.0), np.zeros(n)
        self.limit = np.zeros((n, M))
        self._layout = None                         # the last pin layout (_pin_arrays)
        self._layout_version = -1                   # the value of _pins_version it is for
        self._ranks = {}                            # rank of the inputs of a contact set
        self._pins_version = 0                      # counts the changes of self.pins
        self._pins_changed = []                     # neurons changed since the last layout
        self.mask = np.zeros((n, M), dtype=np.uint8)
        self.mask[:] = self._evaluate().preacts > 0.0

    # -- the stage model ----------------------------------------------------------------
    def _pin_arrays(self):
        """The pin layout and the state indices (a ``_Layout``; see
        flowlab/_kernels/relund.py).  The arrays of the last pattern are reused while the
        pins stay (the kernels only read them); after changes made by :meth:`_contact`, a
        copy with the changed neurons' rows rewritten."""
        cached = self._layout
        if cached is not None and self._layout_version == self._pins_version:
            return cached
        n, D = self.n, self.D
        if (cached is not None
                and self._layout_version + len(self._pins_changed) == self._pins_version):
            lay = _Layout._make(a.copy() for a in cached)
            changed = set(self._pins_changed)
        else:
            pins = -np.ones((n, D), dtype=np.int64)
            L, Pi, Kq, Nb = (np.zeros((n, D, D)) for _ in range(4))
            elim = np.zeros((n, D), dtype=np.uint8)
            parts = []
            if self.train_W:
                parts.append(np.arange(n * D))
            if self.train_a:
                parts.append(n * D + np.arange(n))
            free = (np.concatenate(parts).astype(np.int64) if parts
                    else np.zeros(0, np.int64))
            slot = -np.ones(free.size, dtype=np.int64)
            lay = _Layout(pins=pins, elim_coefs=L, projector=Pi, lambda_rows=Kq,
                          eliminated=elim, basis=Nb, free=free, basis_col=slot)
            changed = range(n)
        for j in changed:
            # (pins exist only when W is trained; then W's entries lead the state)
            if self.train_W and (self.pins[j] or j in self._pins_changed):
                Q = np.array(self.pins[j], dtype=np.int64)
                _kc.layout_rows(self.X, self.has_bias, lay.pins, lay.elim_coefs, lay.projector,
                                lay.lambda_rows, lay.eliminated, lay.basis, lay.basis_col, j,
                                Q, Q.size)
        self._layout, self._layout_version = lay, self._pins_version
        self._pins_changed = []
        return lay

    def _model(self, slides=True):
        """The stage model (a :class:`flowlab._kernels.relund.StageND`); with ``slides``
        its slide-exit rows."""
        n, D = self.n, self.D
        # two rows per pinned point (lambda -> 0, lambda -> 1), one per sliding neuron
        # with a trained output weight (a_j -> 0 turns attracting surfaces repelling)
        cap = 2 * n * D + n
        model = _k.StageND(
            **self._static, **self._pin_arrays()._asdict(), mask=self.mask,
            theta0=self.theta.copy(), n_slide_rows=np.zeros(1, dtype=np.int64),
            slide_rows=np.zeros((cap, 3), dtype=np.int64), slide_sign=np.zeros(cap),
            event=np.zeros(4, dtype=np.int64), skip_dist=self.dist, skip_moved=self.moved,
            skip_limit=self.limit)
        if slides and any(self.pins):
            _k.forward(model, self.theta)
            _kst.build_slide_rows(model, self.theta)
        return model

    def _state(self, model):
        """The integrator's state of the current parameters."""
        u = np.empty(model.free.size)
        _k.state_of(model, self.theta, u)
        return u

    def _surface_scale(self):
        """sum_k |W_jk| ext_k per neuron: the size of W_j . x~ over the data."""
        return np.abs(self.theta[:self.n * self.D].reshape(self.n, self.D)) @ self.ext

    def _a_tol(self):
        """Rounding level of an output weight."""
        a = self.theta[self.n * self.D:]
        return 10.0 * (self.rtol * np.abs(a).max() + self.atol)

    def _evaluate(self):
        """The model, Z, R, rho and the field at the current parameters and stage (an
        ``_Evaluation``)."""
        model = self._model(slides=False)
        _k.forward_all(model, self.theta)
        F = np.empty_like(self.theta)
        _k.field(model, self.theta, F)
        work = model.work
        return _Evaluation(model=model, preacts=work.preacts.copy(), resid=work.resid.copy(),
                           resid_mag=work.resid_mag.copy(), field=F)

    def _armed(self):
        """Pairs surely on their side (|g| beyond the arming threshold)."""
        model = self._model(slides=False)
        _k.forward(model, self.theta)
        armed = np.empty(self.mask.shape, dtype=np.bool_)
        _kst.arm_all(model, self.theta, armed)
        return armed

    def _raw_inputs(self, Q):
        """The inputs x (without the appended 1) of the unique points Q, as lists."""
        XQ = self.X[list(Q)]
        return (XQ[:, :-1] if self.has_bias else XQ).tolist()

    # -- decisions ------------------------------------------------------------------------
    def _contact(self, j, Q, forced, t):
        """Decide neuron j's contacts Q (its pins among them) at time t."""
        n, D, X = self.n, self.D, self.X
        Q = sorted(set(Q))
        Q = [q for q in Q if not self.null[q]]
        if not Q and not self.pins[j]:
            return
        pinned = set(self.pins[j])
        current = [SLIDING if q in pinned else int(self.mask[j, q]) for q in Q]
        XQ = X[Q]
        # (one point: x~ ends in 1, so its rank is 1; the data are fixed: cached)
        rank = 1 if len(Q) == 1 else self._ranks.get(tuple(Q))
        if rank is None:
            rank = self._ranks[tuple(Q)] = int(np.linalg.matrix_rank(XQ))
        if rank < len(Q) or rank >= D:
            why = (f"{rank} independent surfaces meet only at W_{j} = 0: the neuron collapses "
                   "and its direction is undetermined" if rank >= D else
                   f"their inputs are affinely dependent (x~ of rank {rank}; e.g. collinear "
                   "points in 2-d), so not every pattern of sides is possible next to the "
                   "contact and the per-point Filippov weights do not describe the one-sided "
                   "fields")
            raise DegenerateError(
                f"neuron {j} is in contact with the data points {Q} (unique-point indices; "
                f"inputs {self._raw_inputs(Q)}) at t = {t:.12g}: {why}; the exact flow stops "
                "here (continue with one of scipy's methods or perturb the data)")
        Wj = self.theta[j * D:(j + 1) * D]
        self.dist[j] = -1.0                 # W_j, its sides or pins change: scan it again
        # put W_j on every contact surface (an O(tolerance) change)
        if len(Q) == 1:
            Wj -= (XQ[0] @ Wj) / (XQ[0] @ XQ[0]) * XQ[0]
        else:
            Wj -= XQ.T @ np.linalg.lstsq(XQ @ XQ.T, XQ @ Wj, rcond=None)[0]
        now = self._evaluate()
        R, rho, F = now.resid, now.resid_mag, now.field
        act = self.mask[j] > 0
        act[Q] = False
        S_out = R[act] @ X[act]
        c = self.theta[n * D + j]
        if c == 0.0 or (self.train_a and abs(c) <= self._a_tol() and F[n * D + j] != 0.0):
            c = F[n * D + j]             # a_j at (or within rounding of) 0: its sign to come
        Gq = XQ @ XQ.T
        b = -self.scale * (XQ @ S_out)
        N = self.scale * Gq * R[Q][None, :]
        act[Q] = True
        tol = NOISE_ROUNDINGS * _EPS * self.scale * abs(c) * (
            np.abs(XQ @ X[act].T) @ rho[act])
        found = contact_modes(b, N, c, tol, current,
                              {Q.index(q): m for q, m in forced.items()},
                              max_slide=rank)
        if found is None:
            raise DegenerateError(
                f"neuron {j} is in contact with the data points {Q} (inputs "
                f"{self._raw_inputs(Q)}) at t = {t:.12g} and no Filippov mode (each point "
                "inactive, active or sliding) is consistent with the one-sided fields, or "
                "sliding would need affinely dependent points or d + 1 of them (W_j = 0); "
                "the continuation is not unique there")
        modes, _ = found
        new_pins = []
        for q, cur, m in zip(Q, current, modes):
            if m == SLIDING:
                new_pins.append(q)
                self.mask[j, q] = 0
                if cur != SLIDING:
                    self._record(t, j, q, "slide_start", 0)
            else:
                self.mask[j, q] = m
                if cur == SLIDING:
                    self._record(t, j, q, "slide_end", 1 if m == ACTIVE else -1)
                elif m != cur:
                    self._record(t, j, q, "cross", 1 if m == ACTIVE else -1)
        pins = new_pins + [p for p in self.pins[j] if p not in Q]
        if pins != self.pins[j]:
            self.pins[j] = pins
            self._pins_version += 1
            self._pins_changed.append(j)
        if self.pins[j]:
            # exact constraints: recompute the eliminated coordinates
            model = self._model(slides=False)
            _k.expand(model, self._state(model), self.theta)

    def _handle(self, model, t):
        """The event the integrator stopped at, and every other one at the same time."""
        ev = model.event
        kind, j0, p0, r0 = (int(ev[_k.EVENT_KIND]), int(ev[_k.EVENT_NEURON]),
                            int(ev[_k.EVENT_POINT]), int(ev[_k.EVENT_ROW]))
        contacts = {}
        forced = {}
        ns = int(model.n_slide_rows[0])
        if ns:
            _k.forward(model, self.theta)
            hits = np.empty(ns, dtype=np.int64)
            nh = _kst.slide_hits(model, self.theta, kind, r0, self.rtol, self.atol,
                                 self._a_tol(), hits)
            for r in hits[:nh]:
                row = model.slide_rows[r]
                j, slot, which = (int(row[_k.ROW_NEURON]), int(row[_k.ROW_SLOT]),
                                  int(row[_k.ROW_KIND]))
                if which == _k.SLIDE_A_ZERO:    # a_j reached 0: decide the contacts again
                    contacts.setdefault(j, set()).update(self.pins[j])
                    self.turned.append([float(t), j])
                    continue
                q = self.pins[j][slot]
                forced.setdefault(j, {})[q] = ACTIVE if which == _k.SLIDE_TO_ACTIVE else INACTIVE
                contacts.setdefault(j, set()).add(q)
        if self.train_W:
            # pairs across their surface, or within the tolerance of it and moving
            # towards it, and the event's own pair; not the pinned ones
            now = self._evaluate()
            model, F = now.model, now.field
            hit_j = np.empty(self.mask.size, dtype=np.int64)
            hit_p = np.empty(self.mask.size, dtype=np.int64)
            nh = _kst.hits(model, self.theta, F, j0 if kind == _k.EV_CROSS else -1, p0,
                           self.rtol, self.atol, hit_j, hit_p)
            for j, q in zip(hit_j[:nh].tolist(), hit_p[:nh].tolist()):
                if not self.null[q]:
                    contacts.setdefault(j, set()).add(q)
        for j in sorted(contacts):
            self._contact(j, contacts[j] | set(self.pins[j]), forced.get(j, {}), t)

    # -- stages ---------------------------------------------------------------------------
    def _u_counts(self, mask):
        cnt = self._static["counts"]
        return np.bincount(mask.sum(axis=0), weights=cnt, minlength=self.n + 1).astype(np.int64)

    def _stages(self):
        mask = self.mask0.copy()
        stages = [[self.t0, np.nan, self._u_counts(mask)]]
        ev = self.events
        k = 0
        while k < len(ev):
            t = ev[k][0]
            while k < len(ev) and ev[k][0] == t:
                _, j, p, _, side = ev[k]
                mask[j, p] = 1 if side > 0 else 0
                k += 1
            u = self._u_counts(mask)
            if not np.array_equal(u, stages[-1][2]):
                stages[-1][1] = t
                stages.append([t, np.nan, u])
        stages[-1][1] = self.t_final
        return stages

    def _to_net_rows(self, rows):
        return rows

    def _to_net_rows_inplace(self, rows):
        pass

    def _event_rows(self):
        """Events on unique points expanded to every data point with that input."""
        members = {}
        return [(t, j, int(i), kind, side) for t, j, p, kind, side in self.events
                for i in members.setdefault(p, np.flatnonzero(self.inv == p))]

    def _info(self):
        return {"unique_points": int(self.X.shape[0]), "repelling": self.turned}

    # -- main loop ----------------------------------------------------------------------
    def _integrate(self, bar):
        self.mask0 = self.mask.copy()
        out_t, out_nodes, out_loss = self._buffers()
        budget = self._budget()
        if self.train_W:
            # on a surface at the start (relu'(0) = 0), or within the rounding of the
            # constraints a sliding neuron had when a flow is resumed: contacts
            Z = self._evaluate().preacts
            scale = self._surface_scale()
            on = np.abs(Z) <= 10.0 * _EPS * scale[:, None]
            on[:, self.null] = False
            for j in np.flatnonzero(on.any(axis=1)):
                self._contact(int(j), np.flatnonzero(on[j]).tolist(), {}, self.t)
        model = self._model()
        armed = self._armed()
        stepper = self.stepper
        # room for the most events one batch can add (the compiled loop returns when
        # less is left)
        cap = _EVENTS + 2 * (self.n + 1)
        ev_t = np.empty(cap)
        ev_i = np.empty((cap, 4), dtype=np.int64)
        # with gtol every step is checked here, so the compiled loop returns at each event
        handle = not self.gtol
        while True:
            self._checkpoint()
            u = self._state(model)
            lin, xw, mode = stepper.arrays(u.size)
            self.counters[_ks.STEPS_RECORDED] = self.counters[_ks.EVENTS_RECORDED] = 0
            st = _kst.advance(model, self.t, u, self.t_end, self.rtol, self.atol,
                              max(budget - self.n_steps, 0), out_t, out_nodes, out_loss, armed,
                              self.stats, lin, xw, mode, handle, ev_t, ev_i, self.counters,
                              self.recent)
            k = int(self.counters[_ks.STEPS_RECORDED])
            ne = int(self.counters[_ks.EVENTS_RECORDED])
            stepper.count(k)
            degree = _ex.DEGREE if mode in (1, 3) else 3
            k, steady = self._steady(out_nodes, k, degree)
            self._keep_steps(out_t, out_nodes, out_loss, k, degree)
            for e in range(ne):
                j, p = int(ev_i[e, _ks.EVENT_NEURON]), int(ev_i[e, _ks.EVENT_POINT])
                kind, side = int(ev_i[e, _ks.EVENT_KIND]), int(ev_i[e, _ks.EVENT_SIDE])
                self._record(float(ev_t[e]), j, p, _KINDS[kind], side)
                if kind != _ks.K_CROSS:
                    # the compiled loop changed j's pins (in the layout arrays too)
                    self.pins[j] = [int(q) for q in model.pins[j] if q >= 0]
                    self._pins_version += 1
                    self._pins_changed.append(j)
            self._advanced(bar, float(out_t[k - 1]) if steady else self.stats[_rd.S_T])
            _k.expand(model, u, self.theta)
            if steady:
                self.theta[:] = out_nodes[k - 1, degree]
                return self._steady_state()
            if st == _ks.DONE:
                return self._finished()
            if st == _ks.ZENO:
                raise ZenoError(zeno_message(self.recent.size, self.t))
            stop = self._stop(st == _ks.FAILED, budget)
            if stop is not None:
                return stop
            if st == _ks.SWITCH:
                stepper.after(_ex.STIFF if stepper.explicit else _rd.EVENT, self.t,
                              self.t_end, u.size, self.stats, _hvp(_k.hvp, model, u))
                continue
            if st == _ks.FULL:
                continue
            self._handle(model, self.t)
            self._check_zeno(self.t)
            model = self._model()
            armed = self._armed()

    def _steady(self, out_nodes, k, degree):
        """With ``gtol``: the first recorded step whose velocity norm is below it ends the
        run; returns (steps kept, whether it ended)."""
        if not self.gtol or k == 0:
            return k, False
        model = self._model(slides=False)
        F = np.empty_like(self.theta)
        for i in range(k):
            th = out_nodes[i, degree]
            _k.forward(model, th)
            _k.field(model, th, F)
            if np.linalg.norm(F) < self.gtol:
                return i + 1, True
        return k, False
