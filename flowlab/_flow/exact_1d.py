"""Event-driven Filippov gradient flow of a univariate two-layer ReLU network.

Ainsworth & Shin 2021, (3.1): between two events every neuron's active
set is a fixed interval of the sorted data and the flow is smooth; it is
integrated by the compiled Radau IIA stepper of :mod:`flowlab._kernels.radau`
with the O(n) right-hand side and exact Jacobian of
:mod:`flowlab._kernels.relu1d`.  Each step watches only the two boundary
points of every neuron (g = w_j x_p - b_j); the earliest sign change is found
on the step's collocation polynomial (bisection to the last bit of the step
fraction) and the integrator steps again exactly to it.

At a switching surface the decision comes from the one-sided vector fields.
With K_in = -s (e_w R1ex x_p + e_b R0ex) and K_act = K_in - s r_p (e_w x_p^2 + e_b)
(R0ex, R1ex: sums of r_i, r_i x_i over the neuron's active set without p;
r_p: residual of the point, summed over equal x; e_b, e_w: 1 if b, w are
trained), dg/dt = c_j K_in on the inactive side and c_j K_act on the active
side:

- both fields push towards the surface (c_j K_in > 0 > c_j K_act): Filippov
  sliding ("slide_start"): the knot stays on x_p with the convex weight
  lambda = K_in / (K_in - K_act) = -(e_w R1ex x_p + e_b R0ex) / (r_p (e_w x_p^2 + e_b))
  (docs/design.md), and its velocity is the inactive-side field projected
  on the surface; the slide ends ("slide_end") when lambda reaches 0 (the point
  stays inactive) or 1 (it becomes active), or when c_j reaches 0 (both fields
  flip, the surface repels and the continuation is not unique: the point
  leaves on its inactive side; listed in ``info["repelling"]``);
- the field on the point's current side pushes towards the surface and the
  other one does not: the point crosses ("cross");
- the field on its current side pushes away or is tangent: it stays there (a
  repelling or neutral surface has several Filippov solutions; this is the one
  gradient descent follows, and at t = 0 the current side of a point on a knot
  is the inactive one, as relu'(0) = 0).

Whether a watched point has left its side is decided on the step's collocation
polynomial only once it has been on its side by more than a few hundred
roundings ("armed"), so points that start a stage on their surface are not
re-triggered by rounding.
Restarts use these decisions, never the sign of g at the restart time, so no
nudging is needed; each neuron reaching the surface is snapped onto it
(an O(tolerance) change of its knot) so that g = 0 holds exactly at the event.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from .._kernels import explicit as _ex
from .._kernels import radau as _rd
from .._kernels import relu1d as _k
from .._kernels import relu1d_scan as _ksc
from .._kernels import relu1d_stage as _ks
from ..models import TwoLayer
from ._events import DegenerateError, EventDriver, ZenoError, _hvp, zeno_message

_EVENTS = 4096
#: state layouts kept (one per pinning pattern; a wide network visits many)
_LAYOUTS = 16
_KIND = ("cross", "slide_start", "slide_end")
# the columns of the compiled loop's event buffer, boundary hits and slide ends, in the
# order they are unpacked here
_EVENT_COLUMNS = [_ks.EVENT_NEURON, _ks.EVENT_POINT, _ks.EVENT_KIND, _ks.EVENT_SIDE]
_HIT_COLUMNS = [_ks.HIT_NEURON, _ks.HIT_POINT, _ks.HIT_SIDE]
_END_COLUMNS = [_ks.END_NEURON, _ks.END_SIDE]
#: the blocks of a model, kept for the intervals and pins (``key``) they were built for
_Blocks = namedtuple("_Blocks", "key block_lo block_hi block_starts n")


class _Data:
    """Sorted unique inputs with counts and y-sums, and their prefix moments."""

    def __init__(self, x, y):
        order = np.argsort(x, kind="stable")
        xs_all = x[order]
        ys = y[order]
        starts = np.flatnonzero(np.concatenate([[True], xs_all[1:] != xs_all[:-1]]))
        self.order = order
        self.starts = starts
        self.xs = xs_all[starts].copy()
        self.cnt = np.diff(np.append(starts, x.size)).astype(np.float64)
        self.ysum = np.add.reduceat(ys, starts)
        self.y2sum = np.add.reduceat(ys * ys, starts)
        self.yabs = np.add.reduceat(np.abs(ys), starts)
        self.xysum = self.xs * self.ysum
        M = self.xs.size
        #: length scale of the data for the switching functions g = w x - b
        self.extent = float(np.abs(self.xs).max() + (self.xs[-1] - self.xs[0])) or 1.0
        self.P = np.empty((M + 1, _k.NMOM))
        self.Plo = np.empty((M + 1, _k.NMOM))
        _k.prefix_moments(self.xs, self.cnt, self.ysum, self.y2sum, self.xysum, self.yabs,
                          self.P, self.Plo)

    def points(self, p):
        """Indices (into the data as given) of the unique point p."""
        stop = self.starts[p + 1] if p + 1 < self.starts.size else self.order.size
        return self.order[self.starts[p]:stop]


class Exact1D(EventDriver):
    """One exact flow of a ReLU1D network or a 1-d TwoLayer relu network."""

    def __init__(self, prob, t_end, **opts):
        super().__init__(prob, t_end, **opts)
        self.turned = []            # (t, neuron): c_j through 0 while j slides
        net = prob.template
        self.is_twolayer = isinstance(net, TwoLayer)
        x = prob.XT[0].copy()
        self.data = _Data(x, prob.y)
        if self.is_twolayer:
            b, c, w = -net.W[:, 1], net.a.copy(), net.W[:, 0].copy()
            tr = set(prob.trainable)
            self.train = {"b": "W" in tr, "c": "a" in tr, "w": "W" in tr}
            self.train_w = True
        else:
            b, c, w = net.b.copy(), net.c.copy(), (None if net.w is None else net.w.copy())
            tr = set(prob.trainable)
            self.train = {"b": "b" in tr, "c": "c" in tr, "w": "w" in tr}
            self.train_w = w is not None
        self.n = b.size
        self.theta = np.concatenate([b, c] + ([w] if self.train_w else []))
        self.theta_start = self.theta.copy()
        self.scale = prob.scale
        self.eb = 1.0 if self.train["b"] else 0.0
        self.ew = 1.0 if (self.train_w and self.train["w"]) else 0.0
        self.lo, self.hi = self._intervals(self.theta)
        self.pin = -np.ones(self.n, dtype=np.int64)
        self._layouts = {}                  # state layout per pinning pattern (_layout)
        # the models' scratch arrays (their contents never outlive a call): allocated once
        self._work = _k.new_work(self.n, self.theta.size)

    # -- parameters -------------------------------------------------------------------
    def _bcw(self, theta):
        n = self.n
        w = theta[2 * n:3 * n] if self.train_w else np.ones(n)
        return theta[:n], theta[n:2 * n], w

    def _g(self, theta, j, p):
        b, _, w = self._bcw(theta)
        return w[j] * self.data.xs[p] - b[j]

    def _intervals(self, theta):
        """Active intervals [lo, hi) of unique points: g = w x - b > 0 (relu'(0) = 0)."""
        b, _, w = self._bcw(theta)
        xs = self.data.xs
        M = xs.size
        lo = np.zeros(self.n, dtype=np.int64)
        hi = np.zeros(self.n, dtype=np.int64)
        for j in range(self.n):
            if w[j] > 0:
                k = np.searchsorted(w[j] * xs - b[j] > 0, True)   # first active (monotone)
                lo[j], hi[j] = k, M
            elif w[j] < 0:
                k = np.searchsorted(~(w[j] * xs - b[j] > 0), True)  # first inactive
                lo[j], hi[j] = 0, k
            else:
                lo[j], hi[j] = (0, M) if -b[j] > 0 else (0, 0)
        return lo, hi

    # -- the stage model ----------------------------------------------------------------
    def _layout(self):
        """Free state coordinates and the position of b_j, c_j, w_j in the state
        (a function of which neurons are pinned: kept per pinning pattern)."""
        key = self.pin.tobytes()
        if key not in self._layouts:
            if len(self._layouts) >= _LAYOUTS:          # keep the most recent ones
                del self._layouts[next(iter(self._layouts))]
            self._layouts[key] = self._new_layout()
        return self._layouts[key]

    def _new_layout(self):
        n = self.n
        pinned = self.pin >= 0
        pos = {g: -np.ones(n, np.int64) for g in ("b", "c", "w")}
        free = []
        start = 0
        for g, off in (("b", 0), ("c", n), ("w", 2 * n)):
            if (g == "w" and not self.train_w) or not self.train[g]:
                continue
            rebuilt = pinned & ((g == "b" and self.eb == 1.0) or (g == "w" and self.eb == 0.0))
            js = np.flatnonzero(~rebuilt)
            pos[g][js] = start + np.arange(js.size)
            free.append(off + js)
            start += js.size
        free = np.concatenate(free).astype(np.int64) if free else np.zeros(0, np.int64)
        return free, pos["b"], pos["c"], pos["w"]

    def _model(self, events=True):
        """The stage model (a :class:`flowlab._kernels.relu1d.Model`) and the arming of its
        watch rows.

        The watch list holds the slide and pivot rows of the pinned neurons
        (:func:`flowlab._kernels.relu1d_stage.slide_rows`), then the boundary rows of the
        free neurons (:func:`flowlab._kernels.relu1d_stage.rebuild_watch`).  With
        ``events=False`` the watch list and state layout are left empty (and the arming is
        None): such a model serves the moment and field evaluations of the event decisions.
        """
        n, d = self.n, self.data
        if events:
            free, ub, uc, uw = self._layout()
        else:
            free = ub = uc = uw = np.zeros(0, dtype=np.int64)
        cap = 4 * n + 4 * n + 4              # boundary rows (<= 4 a neuron) + slide rows
        bcap = 2 + 4 * n
        model = _k.Model(
            xs=d.xs, counts=d.cnt, ysum=d.ysum, prefix_hi=d.P, prefix_lo=d.Plo,
            scale=float(self.scale), b_trained=float(self.eb), w_trained=float(self.ew),
            extent=float(d.extent), n_neurons=int(n), has_w=bool(self.train_w),
            lo=self.lo.copy(), hi=self.hi.copy(), pin=self.pin.copy(),
            n_blocks=np.zeros(1, np.int64), block_starts=np.zeros(bcap, np.int64),
            block_lo=np.zeros(n, np.int64), block_hi=np.zeros(n, np.int64),
            free=free, pos_b=ub, pos_c=uc, pos_w=uw, theta0=self.theta.copy(),
            watch=np.zeros(cap, _k.WATCH_DTYPE), n_watch=np.zeros(1, np.int64),
            event_row=np.zeros(1, np.int64), **self._work)
        self._blocks_into(model)
        if not events:
            return model, None
        armed = np.zeros(cap, dtype=np.bool_)
        if np.any(self.pin >= 0):
            _k.moments(model, self.theta)
            model.n_watch[0] = _ks.slide_rows(
                model, self.theta, self.train_w and self.train["w"] and self.eb == 1.0,
                self.train["c"], model.watch, armed)
        _ks.rebuild_watch(model, self.theta, armed)
        return model, armed

    def _blocks_into(self, model):
        """The blocks between the interval ends (:func:`flowlab._kernels.relu1d_stage.
        rebuild_blocks`, O(n log n)) into ``model``, reused while the intervals and pins
        are those they were computed for: an event builds up to two models on one
        layout (its decision, the next stage)."""
        key = (self.lo.tobytes(), self.hi.tobytes(), self.pin.tobytes())
        cached = getattr(self, "_blocks", None)
        if cached is not None and cached.key == key:
            blo, bhi, bp, nb = cached.block_lo, cached.block_hi, cached.block_starts, cached.n
            model.block_lo[:] = blo
            model.block_hi[:] = bhi
            model.block_starts[:] = bp
            model.n_blocks[0] = nb
            return
        _ks.rebuild_blocks(model)
        self._blocks = _Blocks(key, model.block_lo.copy(), model.block_hi.copy(),
                               model.block_starts.copy(), int(model.n_blocks[0]))

    # -- decisions at a switching surface ------------------------------------------------
    def _snap(self, j, p):
        """Put neuron j's knot exactly on x_p (an O(tolerance) change)."""
        n, xp = self.n, self.data.xs[p]
        if self.eb == 1.0:
            w = self.theta[2 * n + j] if self.train_w else 1.0
            self.theta[j] = w * xp
        elif self.ew == 1.0 and xp != 0.0:
            self.theta[2 * n + j] = self.theta[j] / xp

    def _decide(self, items, t):
        """Decide every (neuron, point, side it is on) that is on its surface at time t.

        The rule (:func:`flowlab._kernels.relu1d_stage.decide`): on each side the
        field pushes towards the surface, away from it, or is tangent (a velocity of
        g below its rounding level).  Both towards: Filippov sliding.  If the side
        the point is on pushes away or is tangent, it stays there (a repelling or
        neutral surface has several Filippov solutions; this is the one gradient
        descent follows).  Otherwise the point crosses to the other side.
        """
        for j, p, _ in items:
            self._snap(j, p)
        model, _ = self._model(events=False)
        _k.moments(model, self.theta)
        F = np.empty_like(self.theta)
        noise = np.empty_like(self.theta)
        _k.field(model, self.theta, F)
        _k.field_noise(model, self.theta, noise)
        codes = [_ks.decide(model, self.theta, j, p, side, F, noise) for j, p, side in items]
        codes = [code for code, _, _ in codes]
        for (j, p, side), code in zip(items, codes):
            was_active = side > 0
            if code == _ks.SLIDE:
                if was_active:
                    self._remove(j, p)
                self.pin[j] = p
                self._record(t, j, p, "slide_start", 0)
            elif code == _ks.TO_ACTIVE and not was_active:
                self._add(j, p)
                self._record(t, j, p, "cross", 1)
            elif code == _ks.TO_INACTIVE and was_active:
                self._remove(j, p)
                self._record(t, j, p, "cross", -1)

    def _add(self, j, p):
        lo, hi = self.lo[j], self.hi[j]
        if lo >= hi:
            self.lo[j], self.hi[j] = p, p + 1
        elif p == lo - 1:
            self.lo[j] = p
        elif p == hi:
            self.hi[j] = p + 1
        elif not lo <= p < hi:
            raise RuntimeError(f"point {p} is not next to neuron {j}'s active set [{lo}, {hi})")

    def _remove(self, j, p):
        lo, hi = self.lo[j], self.hi[j]
        if p == lo:
            self.lo[j] = lo + 1
        elif p == hi - 1:
            self.hi[j] = hi - 1
        elif lo <= p < hi:
            raise RuntimeError(f"point {p} is inside neuron {j}'s active set [{lo}, {hi})")

    def _record(self, t, j, p, kind, side):
        self.events.append((t, j, p, kind, side))

    def _end_slide(self, j, which, t):
        p = self.pin[j]
        self.pin[j] = -1
        if which == 1:
            self._add(j, p)
        self._record(t, j, p, "slide_end", 1 if which == 1 else -1)

    def _pivot(self, j, t, was_pos):
        """A pinned neuron's input weight reaches 0: its knot stays on x_p while the
        neuron turns over, so every other point crosses to the other side at once.

        At w_j = 0 (hence b_j = 0) the neuron outputs 0 everywhere; the pinned
        (projected) velocity of w_j is computed for both orientations of its active
        set.  If the new orientation carries w_j on through 0, the active set flips
        and one "cross" event is recorded per point; the slide on x_p then
        continues if its weight lambda is still in (0, 1).  If both orientations
        push w_j back to 0 the neuron has collapsed to w = b = 0: the run stops
        with status "degenerate" and a diagnosis.
        """
        n, M, p = self.n, self.data.xs.size, self.pin[j]
        old = (self.lo[j], self.hi[j])
        self.theta[2 * n + j] = 0.0
        if self.eb == 1.0:
            self.theta[j] = 0.0
        new = (0, p) if was_pos else (p + 1, M)
        self.lo[j], self.hi[j] = new
        model, _ = self._model(events=False)
        _k.moments(model, self.theta)
        F = np.empty_like(self.theta)
        _k.field(model, self.theta, F)
        v_new = F[2 * n + j]
        if (v_new < 0.0) if was_pos else (v_new > 0.0):
            for q in range(old[0], old[1]):
                self._record(t, j, q, "cross", -1)
            for q in range(new[0], new[1]):
                self._record(t, j, q, "cross", 1)
            A, D = _ksc.slide_functions(model, self.theta, j, p)
            lam = A / D if D != 0.0 else float("nan")
            if not 0.0 < lam < 1.0:
                self._end_slide(j, 1 if lam >= 1.0 else 0, t)
            return
        self.lo[j], self.hi[j] = old
        raise DegenerateError(
            f"neuron {j}, sliding on x = {self.data.xs[p]:.12g}, collapsed to w_{j} = b_{j} = 0 "
            f"at t = {t:.12g}: both orientations push w_{j} back to 0, so the neuron outputs 0 "
            "and its direction (b_j : w_j) is undetermined; the Filippov continuation is not "
            "unique there (gradient descent leaves along a direction its step size selects)")

    # -- stages ----------------------------------------------------------------------
    def _P0(self):
        """Prefix counts of the data over the unique points (P0[k]: points among the first k)."""
        return self.data.P[:, _k.M0] + self.data.Plo[:, _k.M0]

    def _stages(self):
        """Intervals of constant (u_l): the events replayed on the starting intervals."""
        ev = self.events                    # (t, neuron, point, kind, side)
        ev_t = np.array([t for t, _, _, _, _ in ev], dtype=np.float64)
        ev_j = np.array([j for _, j, _, _, _ in ev], dtype=np.int64)
        ev_p = np.array([p for _, _, p, _, _ in ev], dtype=np.int64)
        ev_s = np.array([side for _, _, _, _, side in ev], dtype=np.int64)
        starts, U = _ks.replay_stages(self.lo0.copy(), self.hi0.copy(), ev_t, ev_j, ev_p, ev_s,
                                      self._P0())
        bounds = np.concatenate([[self.t0], starts, [self.t_final]])
        return [[float(bounds[k]), float(bounds[k + 1]), U[k]] for k in range(U.shape[0])]

    # -- main loop ----------------------------------------------------------------------
    def _initial_surface(self, t):
        """Knots exactly on data points at the start: decide them like events."""
        items = []
        M = self.data.xs.size
        for j in range(self.n):
            for p in sorted({self.lo[j] - 1, self.hi[j]}):
                if 0 <= p < M and not (self.lo[j] <= p < self.hi[j]) and \
                        self._g(self.theta, j, p) == 0.0 and (self.eb or self.ew):
                    items.append((j, p, -1))
        if items:
            self._decide(items, t)

    def _integrate(self, bar):
        self.lo0, self.hi0 = self.lo.copy(), self.hi.copy()
        self._initial_surface(self.t)
        out_t, out_nodes, out_loss = self._buffers()
        # room for the most events one batch can add (the compiled loop returns when
        # less is left)
        cap = _EVENTS + 2 * (4 * self.n + 4)
        ev_t = np.empty(cap)
        ev_i = np.empty((cap, 4), dtype=np.int64)
        model, armed = self._model()
        budget = self._budget()
        gtol = 0.0 if self.gtol is None else float(self.gtol)
        stepper = self.stepper
        while True:
            self._checkpoint()
            u = self.theta[model.free].copy()
            lin, xw, mode = stepper.arrays(u.size)
            self.counters[_ks.STEPS_RECORDED] = self.counters[_ks.EVENTS_RECORDED] = 0
            st = _ks.advance(model, self.t, u, self.t_end, self.rtol, self.atol, gtol,
                             max(budget - self.n_steps, 0), out_t, out_nodes, out_loss,
                             armed, self.stats, lin, ev_t, ev_i, self.counters, self.recent,
                             xw, mode)
            k, ne = (int(self.counters[_ks.STEPS_RECORDED]),
                     int(self.counters[_ks.EVENTS_RECORDED]))
            stepper.count(k)
            self._keep_steps(out_t, out_nodes, out_loss, k, _ex.DEGREE if mode in (1, 3) else 3)
            rows = ev_i[:ne][:, _EVENT_COLUMNS].tolist()
            for te, (j, p, kind, side) in zip(ev_t[:ne].tolist(), rows):
                self._record(te, j, p, _KIND[kind], side)
            self._advanced(bar, self.stats[_rd.S_T])
            t = self.t
            _k.expand(model, u, self.theta)
            self.lo, self.hi = model.lo.copy(), model.hi.copy()
            if st == _ks.DONE:
                return self._finished()
            if st == _ks.ZENO:
                raise ZenoError(zeno_message(self.recent.size, t))
            if st == _ks.STATIONARY:
                self._hold(t)
                self.t = self.t_end
                return "finished", (f"reached t_end = {self.t_end:.6g}; from t = {t:.6g} every "
                                    "velocity is below its rounding level, so the (stationary) "
                                    "state is held")
            if st == _ks.STEADY:
                return self._steady_state()
            stop = self._stop(st == _ks.FAILED, budget)
            if stop is not None:
                return stop
            if st == _ks.SWITCH:
                stepper.after(_ex.STIFF if stepper.explicit else _rd.EVENT, t, self.t_end,
                              u.size, self.stats, _hvp(_k.hvp, model, u))
                continue
            if st == _ks.FULL:
                continue
            self._handle(model, int(model.event_row[0]), t)
            self._check_zeno(t)
            model, armed = self._model()

    def _hold(self, t):
        model, _ = self._model(events=False)
        super()._hold(t, _k.moments(model, self.theta))

    def _handle(self, model, idx, t):
        """Process the event found by the integrator (the watch row ``idx``) and every other
        one at the same time."""
        watch = model.watch
        _k.moments(model, self.theta)
        F = np.empty_like(self.theta)
        _k.field(model, self.theta, F)
        # boundary points: simultaneous when already across, or within the integration
        # tolerance of the surface and moving towards it under the current field
        nw = int(model.n_watch[0])
        items = np.empty((nw, 3), dtype=np.int64)
        nh = _ks.boundary_hits(model, self.theta, F, idx, self.rtol, self.atol, items)
        boundary = [tuple(h) for h in items[:nh][:, _HIT_COLUMNS].tolist()]
        ends = np.empty((nw, 2), dtype=np.int64)
        ne = _ks.slide_ends(model, self.theta, idx, self.rtol, self.atol, ends)
        slides = [tuple(e) for e in ends[:ne][:, _END_COLUMNS].tolist()]
        kind = int(watch["kind"][idx]) if 0 <= idx < nw else _k.ROW_BOUNDARY
        if kind in (_k.ROW_PIVOT, _k.ROW_OUTPUT):
            j, side = int(watch["neuron"][idx]), int(watch["side"][idx])
            if kind == _k.ROW_PIVOT:
                self._pivot(j, t, was_pos=side > 0)
                return
            # c_j through 0: both one-sided fields flip, the surface repels and the
            # continuation is not unique; the point leaves on its inactive side
            slides.append((j, 0))
            self.turned.append([float(t), j])
        done = set()
        for j, which in slides:
            if j not in done and self.pin[j] >= 0:
                self._end_slide(j, which, t)
                done.add(j)
        boundary = [(j, p, s) for j, p, s in boundary if j not in done and self.pin[j] < 0]
        if boundary:
            self._decide(boundary, t)

    # -- result -------------------------------------------------------------------------
    def _to_net_rows(self, rows):
        """Engine layout (b, c[, w]) -> the network's own flat layout, row-wise."""
        if not self.is_twolayer:
            return rows
        n = self.n
        out = np.empty_like(rows)
        out[:, 0:2 * n:2] = rows[:, 2 * n:3 * n]        # W[:, 0] = w
        out[:, 1:2 * n:2] = -rows[:, 0:n]               # W[:, 1] = -b
        out[:, 2 * n:3 * n] = rows[:, n:2 * n]          # a = c
        return out

    def _to_net_rows_inplace(self, rows):
        if self.is_twolayer:
            super()._to_net_rows_inplace(rows)

    def _event_rows(self):
        """Events on unique points expanded to every data point at that x."""
        return [(t, j, int(i), kind, side) for t, j, p, kind, side in self.events
                for i in self.data.points(p)]

    def _info(self):
        return {"unique_points": int(self.data.xs.size), "repelling": self.turned}
