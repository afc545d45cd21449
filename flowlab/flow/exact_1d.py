"""Event-driven Filippov gradient flow of a univariate two-layer ReLU network.

Seed 003_ecbe85779267783b.txt, (3.1): between two events every neuron's active
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
  (DESIGN.md), and its velocity is the inactive-side field projected
  on the surface; the slide ends ("slide_end") when lambda reaches 0 (the point
  stays inactive) or 1 (it becomes active);
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

import math
from collections import deque

import numpy as np

from .._kernels import radau as _rd
from .._kernels import relu1d as _k
from ..models import ReLU1D, TwoLayer
from .dense import DenseOutput
from .solution import EVENT_DTYPE, Solution

_BUFFER = 2048


class ZenoError(RuntimeError):
    """Raised internally when events accumulate (chattering)."""


class DegenerateError(RuntimeError):
    """Raised internally when the Filippov continuation is not unique (a neuron collapses)."""


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
        self.P = np.empty((_k.NMOM, M + 1))
        self.Plo = np.empty((_k.NMOM, M + 1))
        _k.prefix_moments(self.xs, self.cnt, self.ysum, self.y2sum, self.xysum, self.yabs,
                          self.P, self.Plo)

    def points(self, p):
        """Indices (into the data as given) of the unique point p."""
        stop = self.starts[p + 1] if p + 1 < self.starts.size else self.order.size
        return self.order[self.starts[p]:stop]


class Exact1D:
    """One exact flow of a ReLU1D network or a 1-d TwoLayer relu network."""

    def __init__(self, prob, t_end, *, rtol, atol, t0, gtol, max_steps, progress, **_):
        net = prob.template
        self.prob = prob
        self.t_end, self.t0, self.rtol, self.atol = t_end, t0, rtol, atol
        self.gtol, self.max_steps = gtol, max_steps
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
        self.scale = prob.scale
        self.eb = 1.0 if self.train["b"] else 0.0
        self.ew = 1.0 if (self.train_w and self.train["w"]) else 0.0
        self.lo, self.hi = self._intervals(self.theta)
        self.pin = -np.ones(self.n, dtype=np.int64)
        self.progress = progress
        self.events = []
        self.recent = deque(maxlen=400)
        self.stages = []
        self.steps_t, self.steps_nodes, self.steps_loss = [], [], []
        self.stationary_from = None
        self.stats = np.zeros(8)
        self.stats[6] = -1.0
        self.stats[7] = -1.0

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
        """Free state coordinates and the position of b_j, c_j, w_j in the state."""
        n = self.n
        free, ub, uc, uw = [], -np.ones(n, np.int64), -np.ones(n, np.int64), -np.ones(n, np.int64)
        for g, off, pos in (("b", 0, ub), ("c", n, uc), ("w", 2 * n, uw)):
            if g == "w" and not self.train_w:
                continue
            if not self.train[g]:
                continue
            for j in range(n):
                rebuilt = self.pin[j] >= 0 and ((g == "b" and self.eb == 1.0) or
                                                (g == "w" and self.eb == 0.0))
                if not rebuilt:
                    pos[j] = len(free)
                    free.append(off + j)
        return np.asarray(free, dtype=np.int64), ub, uc, uw

    def _watch(self):
        """Watch list (kind, neuron, point, side), slide signs, and initial arming."""
        M = self.data.xs.size
        rows, sig, armed = [], [], []
        b, c, w = self._bcw(self.theta)
        for j in range(self.n):
            p = self.pin[j]
            if p >= 0:
                A, D = self._slide_AD(j, p)
                s = 1.0 if D > 0 else -1.0
                rows += [(1, j, p, 0), (1, j, p, 1)]
                sig += [s, s]
                armed += [True, True]
                if self.train_w and self.train["w"] and self.eb == 1.0:
                    rows.append((2, j, p, 1 if w[j] > 0 else -1))
                    sig.append(0.0)
                    armed.append(w[j] != 0.0)
                continue
            if self.eb == 0.0 and self.ew == 0.0:
                continue                      # knots cannot move
            lo, hi = self.lo[j], self.hi[j]
            items = []
            if lo < hi:
                if lo > 0:
                    items += [(lo - 1, -1), (lo, 1)]
                if hi < M:
                    items += [(hi - 1, 1), (hi, -1)]
                if lo == 0 and hi == M:
                    items += [(0, 1), (M - 1, 1)]
            else:
                items += [(0, -1), (M - 1, -1)]
            seen = set()
            for p, side in items:
                if (p, side) in seen:
                    continue
                seen.add((p, side))
                rows.append((0, j, p, side))
                sig.append(0.0)
                g = w[j] * self.data.xs[p] - b[j]
                thr = _k.ARM_RTOL * (abs(w[j]) * self.data.extent + abs(b[j]))
                armed.append(g * side > thr)
        watch = np.array(rows, dtype=np.int64).reshape(-1, 4)
        return watch, np.array(sig, dtype=np.float64), np.array(armed, dtype=np.bool_)

    def _model(self, events=True):
        """The stage model tuple (see flowlab/_kernels/relu1d.py) and the watch arming.

        With ``events=False`` the watch list and state layout are left empty: such a
        model serves the moment and field evaluations of the event decisions.
        """
        n, d = self.n, self.data
        pins = self.pin[self.pin >= 0]
        bp = np.unique(np.concatenate([[0, d.xs.size], self.lo, self.hi, pins, pins + 1]))
        bp = bp.astype(np.int64)
        nb_ = bp.size - 1
        empty = np.zeros(0, dtype=np.int64)
        if events:
            free, ub, uc, uw = self._layout()
            watch, sig, armed = self._watch()
        else:
            free = ub = uc = uw = empty
            watch, sig, armed = np.zeros((0, 4), dtype=np.int64), np.zeros(0), None
        fpar = np.array([self.scale, self.eb, self.ew, self.data.extent])
        ipar = np.array([n, 1 if self.train_w else 0, nb_, watch.shape[0]], dtype=np.int64)
        model = (np.empty(0, _k.MARKER), d.xs, d.P, d.Plo, d.cnt, d.ysum, fpar, ipar,
                 self.lo.copy(), self.hi.copy(), self.pin.copy(),
                 np.searchsorted(bp, self.lo).astype(np.int64),
                 np.searchsorted(bp, self.hi).astype(np.int64), bp, free, ub, uc, uw,
                 self.theta.copy(), watch, sig, np.zeros(2, dtype=np.int64),
                 np.zeros((6, max(n, nb_) + 1)), np.zeros((2, self.theta.size)))
        return model, armed

    def _slide_AD(self, j, p):
        model, _ = self._model(events=False)
        _k.moments(model, self.theta)
        return _k.slide_functions(model, self.theta, j, p)

    # -- decisions at a switching surface ------------------------------------------------
    def _snap(self, j, p):
        """Put neuron j's knot exactly on x_p (an O(tolerance) change)."""
        n, xp = self.n, self.data.xs[p]
        if self.eb == 1.0:
            w = self.theta[2 * n + j] if self.train_w else 1.0
            self.theta[j] = w * xp
        elif self.ew == 1.0 and xp != 0.0:
            self.theta[2 * n + j] = self.theta[j] / xp

    def _one_sided(self, model, j, p):
        """(dg/dt inactive side, dg/dt active side) for neuron j at unique point p."""
        work = model[22]
        R0, R1 = work[4][j], work[5][j]
        rp = _k.residual_at(model, self.theta, p)
        xp = self.data.xs[p]
        if self.lo[j] <= p < self.hi[j]:
            R0 -= rp
            R1 -= rp * xp
        s = self.scale
        k_in = -s * (self.ew * R1 * xp + self.eb * R0)
        k_act = k_in - s * rp * (self.ew * xp * xp + self.eb)
        c = self.theta[self.n + j]
        if c == 0.0 and self.train["c"]:
            F = np.empty_like(self.theta)
            _k.field(model, self.theta, F)
            c = F[self.n + j]          # dg/dt ~ c_j'(t) (t - t_e) K: the sign is what counts
        return c * k_in, c * k_act

    def _decide(self, items, t):
        """Decide every (neuron, point, side it is on) that is on its surface at time t.

        On each side the field pushes towards the surface, away from it, or is
        tangent ("neutral": a velocity of g below its rounding level).  Both towards: Filippov sliding.  If the side the
        point is on pushes away or is neutral, it stays there (a repelling or
        neutral surface has several Filippov solutions; this is the one gradient
        descent follows).  Otherwise the point crosses to the other side.
        """
        for j, p, _ in items:
            self._snap(j, p)
        model, _ = self._model(events=False)
        _k.moments(model, self.theta)
        noise = np.empty_like(self.theta)
        _k.field_noise(model, self.theta, noise)
        decisions = []
        n = self.n
        for j, p, side in items:
            g_in, g_act = self._one_sided(model, j, p)
            # velocities of g below their rounding level count as tangent
            tol = noise[j] + (abs(self.data.xs[p]) * noise[2 * n + j] if self.train_w else 0.0)
            toward_in, toward_act = g_in > tol, g_act < -tol
            here_toward = toward_act if side > 0 else toward_in
            if toward_in and toward_act:
                new = "slide"
            elif not here_toward:
                new = "active" if side > 0 else "inactive"
            else:
                new = "inactive" if side > 0 else "active"
            decisions.append((j, p, side, new, g_in, g_act))
        for j, p, side, new, g_in, g_act in decisions:
            was_active = side > 0
            if new == "slide":
                if was_active:
                    self._remove(j, p)
                self.pin[j] = p
                self._record(t, j, p, "slide_start", 0, g_in, g_act)
            elif new == "active" and not was_active:
                self._add(j, p)
                self._record(t, j, p, "cross", 1, g_in, g_act)
            elif new == "inactive" and was_active:
                self._remove(j, p)
                self._record(t, j, p, "cross", -1, g_in, g_act)

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

    def _record(self, t, j, p, kind, side, g_in, g_act):
        self.events.append((t, j, p, kind, side, g_in, g_act))

    def _end_slide(self, j, which, t):
        p = self.pin[j]
        self.pin[j] = -1
        if which == 1:
            self._add(j, p)
        self._record(t, j, p, "slide_end", 1 if which == 1 else -1, float("nan"), float("nan"))

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
            for q in range(M):
                before = old[0] <= q < old[1]
                after = new[0] <= q < new[1]
                if before != after:
                    self._record(t, j, q, "cross", 1 if after else -1, float("nan"), v_new)
            A, D = _k.slide_functions(model, self.theta, j, p)
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

    def _check_zeno(self, t):
        """Stop when events pile up: 400 handled events within a relative time span of 1e-9."""
        if len(self.recent) == self.recent.maxlen:
            span = self.recent[-1][0] - self.recent[0][0]
            if span <= 1e-9 * max(1.0, abs(t)):
                pairs = {(j, p) for _, j, p in self.recent}
                raise ZenoError(
                    f"{len(self.recent)} activation events within dt = {span:.3g} before "
                    f"t = {t:.12g} (neurons/points involved: {sorted(pairs)[:6]}...): an "
                    "accumulation of switching (Zeno/chattering) that the Filippov sliding "
                    "rules do not resolve; inspect sol.events near this time")

    # -- stages -------------------------------------------------------------------------
    def _u_counts(self):
        """u_l: number of data points activating exactly l neurons (seed 003, (3.2))."""
        M = self.data.xs.size
        cov = np.zeros(M + 1, dtype=np.int64)
        for j in range(self.n):
            if self.lo[j] < self.hi[j]:
                cov[self.lo[j]] += 1
                cov[self.hi[j]] -= 1
        level = np.cumsum(cov[:-1])
        return np.bincount(level, weights=self.data.cnt, minlength=self.n + 1).astype(np.int64)

    def _stage_mark(self, t):
        u = self._u_counts()
        if self.stages and np.array_equal(self.stages[-1][2], u):
            return
        if self.stages:
            self.stages[-1][1] = t
        self.stages.append([t, np.nan, u])

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

    def run(self):
        t = self.t0
        self._initial_surface(t)
        self._stage_mark(t)
        status, message = "finished", f"reached t_end = {self.t_end:.6g}"
        h = max(1e-6, 1e-6 * abs(self.t_end - t))
        P = self.theta.size
        out_t = np.empty(_BUFFER)
        out_nodes = np.empty((_BUFFER, 4, P))
        out_loss = np.empty(_BUFFER)
        bar = _progress(self.progress, self.t_end - t)
        model, armed = self._model()
        budget = self.max_steps if self.max_steps is not None else None
        try:
            while True:
                u = self.theta[model[14]].copy()
                left = _BUFFER if budget is None else min(_BUFFER, budget - len(self.steps_t))
                st, k = _rd.run(model, t, u, self.t_end,
                                h, self.rtol, self.atol, max(left, 0), out_t, out_nodes,
                                out_loss, armed, self.stats)
                if k:
                    self.steps_t.extend(out_t[:k])
                    self.steps_nodes.append(out_nodes[:k].copy())
                    self.steps_loss.extend(out_loss[:k])
                t_new = self.stats[0]
                if bar is not None:
                    bar.update(t_new - t)
                t, h = t_new, self.stats[1]
                _k.expand(model, u, self.theta)
                if st == _rd.DONE:
                    break
                if st == _rd.FAILED:
                    status, message = "failed", (f"step size underflow at t = {t:.12g}: the "
                                                 "flow could not be continued")
                    break
                if budget is not None and len(self.steps_t) >= budget:
                    status = "max_steps"
                    message = f"stopped after max_steps = {budget} steps at t = {t:.6g}"
                    break
                if self.gtol is not None and self._gradient_norm(model) < self.gtol:
                    status = "steady_state"
                    message = f"||grad L|| < gtol = {self.gtol:.3g} at t = {t:.6g}"
                    break
                if self._at_rounding_level(model):
                    self._hold(t)
                    message = (f"reached t_end = {self.t_end:.6g}; from t = {t:.6g} every velocity "
                               "is below its rounding level, so the (stationary) state is held")
                    t = self.t_end
                    break
                if st == _rd.FULL:
                    continue
                kind, idx = int(model[21][0]), int(model[21][1])
                self._handle(model, kind, idx, t)
                self._check_zeno(t)
                self._stage_mark(t)
                model, armed = self._model()
        except ZenoError as exc:
            status, message = "zeno", str(exc)
        except DegenerateError as exc:
            status, message = "degenerate", str(exc)
        except KeyboardInterrupt:
            status, message = "interrupted", f"interrupted at t = {t:.6g}"
        finally:
            if bar is not None:
                bar.close()
        if self.stages:
            self.stages[-1][1] = t
        self.t_final = t
        return status, message

    def _at_rounding_level(self, model):
        """True when every velocity of the state is below its rounding level."""
        F = np.empty_like(self.theta)
        noise = np.empty_like(self.theta)
        _k.moments(model, self.theta)
        _k.field(model, self.theta, F)
        _k.field_noise(model, self.theta, noise)
        free = model[14]
        return bool(np.all(np.abs(F[free]) <= noise[free]))

    def _hold(self, t):
        """Record the stationary state as one constant piece from t to t_end."""
        nodes = np.repeat(self.theta[None, None, :], 4, axis=1)
        model, _ = self._model(events=False)
        loss = _k.moments(model, self.theta)
        self.steps_t.append(self.t_end)
        self.steps_nodes.append(nodes)
        self.steps_loss.append(loss)
        self.stationary_from = t

    def _gradient_norm(self, model):
        F = np.empty_like(self.theta)
        _k.moments(model, self.theta)
        _k.field(model, self.theta, F)
        return float(np.linalg.norm(F[model[14]]))

    def _handle(self, model, kind, idx, t):
        """Process the event found by the integrator and every other one at the same time."""
        watch, sig = model[19], model[20]
        boundary, slides = [], []
        _k.moments(model, self.theta)
        F = np.empty_like(self.theta)
        _k.field(model, self.theta, F)
        xs = self.data.xs
        n = self.n
        b, _, w = self._bcw(self.theta)
        for r in range(watch.shape[0]):
            wk, j, p, side = (int(v) for v in watch[r])
            if wk == 0:
                # simultaneous: already across, or within the integration tolerance of the
                # surface and moving towards it under the current field
                g = w[j] * xs[p] - b[j]
                gdot = (F[2 * n + j] if self.train_w else 0.0) * xs[p] - F[j]
                tol = 10.0 * (self.rtol * (abs(w[j] * xs[p]) + abs(b[j])) + self.atol)
                across = g <= 0.0 if side > 0 else g > 0.0
                near = abs(g) <= tol and gdot * side < 0.0
                if r == idx or across or near:
                    boundary.append((j, p, side))
            elif wk == 1:
                A, D = _k.slide_functions(model, self.theta, j, p)
                margin = sig[r] * (A if side == 0 else D - A)
                tol = 10.0 * (self.rtol * (abs(A) + abs(D)) + self.atol)
                if r == idx or margin <= tol:
                    slides.append((j, side))
            elif wk == 2 and r == idx:
                self.recent.append((t, j, p))
                self._pivot(j, t, was_pos=side > 0)
                return
        self.recent.append((t, int(watch[idx, 1]), int(watch[idx, 2])))
        done = set()
        for j, which in slides:
            if j not in done and self.pin[j] >= 0:
                self._end_slide(j, which, t)
                done.add(j)
        boundary = [(j, p, s) for j, p, s in boundary if j not in done and self.pin[j] < 0]
        if boundary:
            self._decide(boundary, t)

    # -- result -------------------------------------------------------------------------
    def solution(self, status, message, wall):
        prob = self.prob
        net = prob.template
        K = len(self.steps_t)
        nodes = (np.concatenate(self.steps_nodes) if self.steps_nodes
                 else np.empty((0, 4, self.theta.size)))
        theta0 = prob.theta0
        t = np.concatenate([[self.t0], np.asarray(self.steps_t)])
        full = np.concatenate([self._to_net(self._theta_start())[None, :],
                               self._to_net_rows(nodes[:, 3, :])]) if K else \
            self._to_net(self._theta_start())[None, :]
        loss = np.concatenate([[prob.loss(prob.theta0[prob.user_index])],
                               np.asarray(self.steps_loss)])
        dense = None
        if K:
            vals = self._to_net_rows(nodes.reshape(-1, nodes.shape[2]))[:, prob.user_index]
            offsets = np.arange(K + 1, dtype=np.int64) * 4
            dense = DenseOutput.from_arrays(t, np.full(K, 3, dtype=np.int64), offsets, vals)
        ev = self._event_table()
        stages = np.rec.array(np.array(
            [(s, e, u) for s, e, u in self.stages],
            dtype=[("start", "f8"), ("end", "f8"), ("u_l", "i8", (self.n + 1,))]))
        n_slides = int(np.sum(ev["kind"] == "slide_start")) if len(ev) else 0
        info = {"wall_time": wall, "n_events": int(len(ev)), "n_slides": n_slides,
                "n_stages": len(self.stages), "unique_points": int(self.data.xs.size),
                "stationary_from": self.stationary_from}
        theta_final = self._to_net(self.theta)
        return Solution(t=t, theta=full, loss=loss, net0=net, x=self.data.xs[0:0] if False
                        else _raw_x(prob), y=prob.y.copy(), loss_kind=prob.loss_kind,
                        trainable=prob.trainable, method="exact", t_end=self.t_end,
                        t_final=float(self.t_final), theta_final=theta_final, status=status,
                        message=message, rtol=self.rtol, atol=self.atol,
                        nfev=int(self.stats[2]), njev=int(self.stats[3]), nlu=int(self.stats[4]),
                        nsteps=K, events=ev, stages=stages, dense=dense, info=info)

    def _theta_start(self):
        net = self.prob.template
        if self.is_twolayer:
            th = np.concatenate([-net.W[:, 1], net.a] + [net.W[:, 0]])
        else:
            th = net.params()
        return th

    def _to_net(self, theta):
        return self._to_net_rows(theta[None, :])[0]

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

    def _event_table(self):
        rows = []
        for t, j, p, kind, side, _, _ in self.events:
            for i in self.data.points(p):
                rows.append((t, j, int(i), kind, side))
        return np.rec.array(np.array(rows, dtype=EVENT_DTYPE))

    def one_sided_fields(self):
        """(t, neuron, point, kind, side, dg/dt inactive, dg/dt active) of every event."""
        return list(self.events)


def _raw_x(prob):
    return prob.XT[0].copy() if isinstance(prob.template, ReLU1D) else prob.XT[:-1].T.copy()


def _progress(progress, total):
    import sys
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, unit="t", delay=1.0, leave=False, desc="flow[exact]",
                bar_format="{l_bar}{bar}| t={n:.4g}/{total:.4g} [{elapsed}<{remaining}]")
