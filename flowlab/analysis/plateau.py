"""Plateau analysis of univariate ReLU networks (Ainsworth & Shin 2021, Sec. 3).

For f(x) = sum_j c_j relu(x - b_j) (model (2.2), w = 1) with knots sorted
b_1 <= ... <= b_n, the data point x_k activates the neurons with b_j < x_k;
U_l is the set of points activating exactly l neurons ((3.2)), u_l = |U_l|,
and (mu_l, ybar_l, sigma_l^2) are the mean of x, the mean of y and the
variance of x over U_l ((3.3)).

Provided here:

- :func:`activation_counts` / :func:`macroscopic_data`: U_l, u_l and (3.3);
- :func:`counts_along`: u_l(t) along any flowlab solution;
- :func:`theorem31`: Q0(t_s), r_min(t), r_max(t) from Lemma A.2's matrix M(t),
  and the check that the loss stays between the two exponential bounds on
  every stage;
- :func:`stationarity_residual`: the residual of the stationarity system (3.4)
  of Lemma 3.4 (its mean square is the "MSE of (3.4)" of Fig. 7c);
- :func:`least_squares_lines`: Theorem 3.5's least-squares lines at a
  stationary point;
- :func:`fully_trained_network`: Proposition F.1's construction (Lemma F.2).

Conventions: the residual is r = f(x) - y; ``loss="sum"`` is L = 1/2 ||r||^2
(the paper's (2.1)), ``"mean"`` divides by m (and scales the rates r_min,
r_max by 1/m, since then d theta/dt carries the factor 1/m).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validate as v
from ..models import ReLU1D

__all__ = ["activation_counts", "macroscopic_data", "MacroscopicData", "counts_along",
           "activity", "declared_activity", "matrix_M", "velocity_matrix", "q0", "rates",
           "pinned_at", "theorem31", "Theorem31",
           "stationarity_residual", "least_squares_lines", "fully_trained_network",
           "plateaus", "Plateau"]


def _fixed_w_net(net) -> ReLU1D:
    if not isinstance(net, ReLU1D):
        raise TypeError(f"`net` must be a ReLU1D network, got {type(net).__name__}.")
    if net.w is not None and not np.all(net.w == 1.0):
        raise ValueError("this analysis is for Ainsworth & Shin's (2021) model (2.2) with w = 1; "
                         "`net` has "
                         "trained input weights w != 1 (build it with w=None).")
    return net


def _levels(net: ReLU1D, x: np.ndarray, active=None) -> np.ndarray:
    """|A_k|: the number of neurons activated by each data point (b_j < x_k, or the
    given activity mask of shape (m, n))."""
    if active is not None:
        return np.asarray(active, dtype=bool).sum(axis=1)
    b = np.sort(net.b)
    return np.searchsorted(b, x, side="left")


def activity(net: ReLU1D, x) -> np.ndarray:
    """Activity mask (m, n): point i activates neuron j iff x_i > b_j (relu'(0) = 0)."""
    net = _fixed_w_net(net)
    x = v.as_array(x, "x", ndim=1)
    return x[:, None] > net.b[None, :]


def declared_activity(sol, t: float) -> np.ndarray:
    """The activity mask an exact-flow solution uses just after time t.

    At an event a point sits exactly on a knot (g = 0); which side it is on
    then is recorded in ``sol.events.side``, so points with events at t are
    set from there (a sliding point is inactive, relu'(0) = 0)."""
    net = sol.net0.with_params(sol.theta_at(t))
    mask = activity(net, sol.x)
    for ev in sol.events[sol.events.t == t]:
        mask[ev.point, ev.neuron] = ev.side > 0
    return mask


def activation_counts(net: ReLU1D, x) -> np.ndarray:
    """u_l = |U_l| for l = 0..n (Ainsworth & Shin 2021, (3.2)), shape (n+1,)."""
    net = _fixed_w_net(net)
    x = v.as_array(x, "x", ndim=1)
    return np.bincount(_levels(net, x), minlength=net.width + 1)


@dataclass
class MacroscopicData:
    """Per level l = 0..n: u_l, mu_l, ybar_l, sigma_l^2 and the covariance of (x, y) on U_l
    (NaN where u_l = 0; sigma2 and cov are 0 where u_l = 1)."""

    u: np.ndarray
    mu: np.ndarray
    ybar: np.ndarray
    sigma2: np.ndarray
    cov: np.ndarray
    levels: np.ndarray      # l of every data point


def macroscopic_data(net: ReLU1D, x, y, active=None) -> MacroscopicData:
    """The sets U_l and the macroscopic data (mu_l, ybar_l, sigma_l^2) of (3.3).

    ``active`` (m, n) overrides the activity x > b (see :func:`declared_activity`)."""
    net = _fixed_w_net(net)
    x = v.as_array(x, "x", ndim=1)
    y = v.as_array(y, "y", ndim=1)
    if y.size != x.size:
        raise ValueError(f"`y` must have one value per point of `x` ({x.size}), got {y.size}.")
    lev = _levels(net, x, active)
    n1 = net.width + 1
    u = np.bincount(lev, minlength=n1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = np.bincount(lev, x, n1) / u
        ybar = np.bincount(lev, y, n1) / u
        sigma2 = np.bincount(lev, x * x, n1) / u - mu ** 2
        cov = np.bincount(lev, x * y, n1) / u - mu * ybar
    # recompute the centred moments directly (no cancellation)
    for l in np.flatnonzero(u > 0):
        sel = lev == l
        xc = x[sel] - mu[l]
        sigma2[l] = np.mean(xc * xc)
        cov[l] = np.mean(xc * (y[sel] - ybar[l]))
    return MacroscopicData(u=u.astype(np.int64), mu=mu, ybar=ybar, sigma2=sigma2, cov=cov,
                           levels=lev)


def counts_along(sol, times=None) -> tuple[np.ndarray, np.ndarray]:
    """u_l(t) along a solution: ``(times, counts)`` with counts of shape (len(times), n+1).

    For ``method="exact"`` solutions the stages are used directly (the counts
    change only at their ends) unless ``times`` is given.
    """
    if times is None and getattr(sol, "stages", None) is not None and len(sol.stages):
        return np.asarray(sol.stages.start, dtype=float), np.asarray(sol.stages.u_l)
    times = sol.t if times is None else v.as_array(times, "times", ndim=1)
    counts = np.array([activation_counts(sol.net0.with_params(th), sol.x)
                       for th in np.atleast_2d(sol.theta_at(times))])
    return times, counts


# -- Theorem 3.1 --------------------------------------------------------------------------

def matrix_M(net: ReLU1D, x, pinned=None, active=None) -> np.ndarray:
    """Lemma A.2's matrix M = diag(D_u, D_sigma) [[L D_c, D_mu L - L D_b], [0, L]].

    Rows: the levels l = 1..n of e^b then of e^c (zero rows where U_l is empty,
    or has one point for e^c); columns: b then c of the neurons sorted by knot.
    L is lower triangular with ones (L_jk = 1 for j >= k), as derived in
    Appendix A (Lemma A.2's text says "upper", a typo: with sorted knots
    xi_k^b = sum_{j >= k} e_j^b).  With ``pinned`` (a boolean mask over the
    neurons in their given order) the b-columns of neurons whose knot is held
    on a data point by Filippov sliding are dropped: those knots do not move, so
    the proof of Theorem 3.1 runs with the remaining columns.
    """
    net = _fixed_w_net(net)
    x = v.as_array(x, "x", ndim=1)
    order = np.argsort(net.b, kind="stable")
    b, c = net.b[order], net.c[order]
    n = b.size
    md = macroscopic_data(net, x, np.zeros_like(x), active)
    u = md.u[1:].astype(float)
    mu = np.nan_to_num(md.mu[1:])
    sig = np.sqrt(np.maximum(np.nan_to_num(md.sigma2[1:]), 0.0))
    L = np.tril(np.ones((n, n)))
    top = np.hstack([L * c[None, :], mu[:, None] * L - L * b[None, :]])
    bot = np.hstack([np.zeros((n, n)), L])
    D = np.concatenate([np.sqrt(u), np.sqrt(u) * sig])
    M = D[:, None] * np.vstack([top, bot])
    if pinned is not None:
        keep = np.concatenate([~np.asarray(pinned, dtype=bool)[order], np.ones(n, dtype=bool)])
        M = M[:, keep]
    return M


def velocity_matrix(net: ReLU1D, x, pinned=None, active=None) -> np.ndarray:
    """A = [B^T, C^T] (m x 2n): d r/dt = -scale A A^T r on a stage (Ainsworth & Shin 2021, Appendix
    A).

    Columns c_j 1[x > b_j] (moving knots only) and relu(x - b_j); A = Phi M with
    Phi the orthonormal basis of Lemma A.1, so A and :func:`matrix_M` share
    their non-zero singular values.
    """
    net = _fixed_w_net(net)
    x = v.as_array(x, "x", ndim=1)
    order = np.argsort(net.b, kind="stable")
    b, c = net.b[order], net.c[order]
    act = (x[:, None] > b[None, :]) if active is None else np.asarray(active, bool)[:, order]
    Bt = act * c[None, :]
    if pinned is not None:
        Bt = Bt[:, ~np.asarray(pinned, dtype=bool)[order]]
    return np.hstack([Bt, act * np.maximum(x[:, None] - b[None, :], 0.0)])


def q0(net: ReLU1D, x, y, loss: str = "sum", pinned=None, active=None) -> float:
    """Q0 = scale/2 ||Pi_{V-perp} r||^2: the part of the loss a stage cannot remove.

    V is spanned by the columns of :func:`velocity_matrix` (Lemma A.1's space
    when no knot is pinned).
    """
    x = v.as_array(x, "x", ndim=1)
    r = net(x) - v.as_array(y, "y", ndim=1)
    A = velocity_matrix(net, x, pinned, active)
    U, sv, _ = np.linalg.svd(A, full_matrices=False)
    rank = int(np.sum(sv > sv.max() * max(A.shape) * np.finfo(float).eps)) if sv.size else 0
    Ur = U[:, :rank]
    rp = r - Ur @ (Ur.T @ r)
    return 0.5 * v.loss_scale(v.check_loss(loss), x.size) * float(rp @ rp)


def rates(net: ReLU1D, x, loss: str = "sum", pinned=None, active=None) -> tuple[float, float]:
    """(r_min, r_max): the squared smallest non-zero and largest singular values of
    Lemma A.2's matrix M, times the loss scale."""
    x = v.as_array(x, "x", ndim=1)
    s = v.loss_scale(v.check_loss(loss), x.size)
    sv = np.linalg.svd(matrix_M(net, x, pinned, active), compute_uv=False)
    if sv.size == 0 or sv[0] == 0.0:
        return 0.0, 0.0
    nz = sv[sv > sv[0] * max(sv.size, 1) * np.finfo(float).eps]
    return s * float(nz[-1] ** 2), s * float(nz[0] ** 2)


@dataclass
class Theorem31:
    """Theorem 3.1 along a solution, segment by segment.

    Segments are the intervals between consecutive events: on each the
    activation pattern (:func:`declared_activity` at the segment start) and the
    set of pinned (sliding) knots are constant.

    Attributes
    ----------
    t : ndarray
        Evaluation times (the dense steps refined by ``nodes`` points).
    loss : ndarray
        L(t) in the solution's convention.
    segment : ndarray of int
        Segment index of every time; ``segment_start`` its start.
    q0 : ndarray
        Q0(t_s) of the segment (the plateau level the segment tends to).
    r_min, r_max : ndarray
        Squared smallest non-zero / largest singular values of M(t), times the
        loss scale.
    upper, lower : ndarray
        Q0 + (L(t_s) - Q0) exp(-2 int r_min) and Q0 + (L(t_s) - Q0) exp(-2 int r_max),
        the bounds of Appendix A (the statement of Theorem 3.1 drops the factor 2
        in both exponents: that only weakens its upper bound, but strengthens its
        lower one).
    lower_as_stated : ndarray
        The lower bound as printed in Theorem 3.1, Q0 + (L(t_s) - Q0) exp(-int r_max).
    violation_upper, violation_lower : float
        Largest relative amount by which L exceeds ``upper`` or falls below
        ``lower`` (<= 0 when the bounds hold).
    violation_lower_as_stated : float
        The same for the lower bound as printed, Q0 + (L(t_s) - Q0) exp(-int r_max).
    """

    t: np.ndarray
    loss: np.ndarray
    segment: np.ndarray
    segment_start: np.ndarray
    q0: np.ndarray
    r_min: np.ndarray
    r_max: np.ndarray
    upper: np.ndarray
    lower: np.ndarray
    lower_as_stated: np.ndarray
    violation_upper: float
    violation_lower: float
    violation_lower_as_stated: float


def pinned_at(sol, t: float) -> np.ndarray:
    """Neurons whose knot is held on a data point (Filippov sliding) just after time t."""
    pinned = np.zeros(sol.net0.width, dtype=bool)
    for ev in sol.events:
        if ev.t > t:
            break
        if ev.kind == "slide_start":
            pinned[ev.neuron] = True
        elif ev.kind == "slide_end":
            pinned[ev.neuron] = False
    return pinned


def theorem31(sol, nodes: int = 4) -> Theorem31:
    """Evaluate Theorem 3.1 along an exact-flow solution of a w = 1 ReLU1D network.

    The integrals of r_min and r_max are taken with the trapezoidal rule on
    the solution's steps refined by ``nodes`` points per step (dense output).
    """
    net0 = _fixed_w_net(sol.net0)
    if sol.stages is None or sol.dense is None:
        raise ValueError("theorem31 needs a solution of method='exact' with its dense output.")
    x, y, kind = sol.x, sol.y, sol.loss_kind
    br = sol.dense.arrays()["breaks"]
    frac = np.linspace(0.0, 1.0, nodes + 1)[:-1]
    t = np.concatenate([(br[:-1, None] + np.diff(br)[:, None] * frac[None, :]).ravel(), br[-1:]])
    starts = np.unique(np.concatenate([[br[0]], np.asarray(sol.events.t, dtype=float)]))
    seg = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(starts) - 1)
    TH = sol.theta_at(t)
    prob = sol.problem()
    loss = np.array([prob.loss(th[prob.user_index]) for th in TH])
    s = v.loss_scale(kind, x.size)
    n = net0.width
    rmin = np.empty(t.size)
    rmax = np.empty(t.size)
    q = np.full(t.size, np.nan)
    upper = np.full(t.size, np.nan)
    lower = np.full(t.size, np.nan)
    lower1 = np.full(t.size, np.nan)
    L = np.tril(np.ones((n, n)))
    for k, start in enumerate(starts):
        idx = np.flatnonzero(seg == k)
        if idx.size == 0:
            continue
        pins = pinned_at(sol, start)
        mask = declared_activity(sol, start)
        # per-level data are constant on a segment (the activity is)
        md = macroscopic_data(net0.with_params(TH[idx[0]]), x, np.zeros_like(x), mask)
        u = md.u[1:].astype(float)
        D = np.concatenate([np.sqrt(u), np.sqrt(u) * np.sqrt(np.maximum(
            np.nan_to_num(md.sigma2[1:]), 0.0))])
        mu = np.nan_to_num(md.mu[1:])
        P = np.array([net0.unpack(th)["b"] for th in TH[idx]])
        C = np.array([net0.unpack(th)["c"] for th in TH[idx]])
        order = np.argsort(P, axis=1, kind="stable")
        b = np.take_along_axis(P, order, 1)
        c = np.take_along_axis(C, order, 1)
        keep_b = ~np.take_along_axis(np.broadcast_to(pins, P.shape), order, 1)
        N = np.zeros((idx.size, 2 * n, 2 * n))
        N[:, :n, :n] = L[None] * c[:, None, :]
        N[:, :n, n:] = mu[None, :, None] * L[None] - L[None] * b[:, None, :]
        N[:, n:, n:] = L[None]
        Mb = D[None, :, None] * N
        sv = np.empty((idx.size, 2 * n))
        for r in range(idx.size):                      # pinned b-columns drop out
            cols = np.concatenate([keep_b[r], np.ones(n, dtype=bool)])
            sr = np.linalg.svd(Mb[r][:, cols], compute_uv=False)
            sv[r] = np.concatenate([sr, np.zeros(2 * n - sr.size)])
        tol = sv[:, :1] * 2 * n * np.finfo(float).eps
        rank = np.sum(sv > tol, axis=1)
        rmax[idx] = s * sv[:, 0] ** 2
        rmin[idx] = np.where(rank > 0, s * sv[np.arange(idx.size), np.maximum(rank - 1, 0)] ** 2,
                             0.0)
        i0 = idx[0]
        q[idx] = q0(net0.with_params(TH[i0]), x, y, kind, pins, mask)
        dt = np.diff(t[idx])
        Imin = np.concatenate([[0.0], np.cumsum(0.5 * dt * (rmin[idx][1:] + rmin[idx][:-1]))])
        Imax = np.concatenate([[0.0], np.cumsum(0.5 * dt * (rmax[idx][1:] + rmax[idx][:-1]))])
        gap = loss[i0] - q[idx]
        upper[idx] = q[idx] + gap * np.exp(-2.0 * Imin)
        lower[idx] = q[idx] + gap * np.exp(-2.0 * Imax)
        lower1[idx] = q[idx] + gap * np.exp(-Imax)
    ref = np.maximum(np.abs(loss), 1e-300)
    return Theorem31(t=t, loss=loss, segment=seg, segment_start=starts, q0=q, r_min=rmin,
                     r_max=rmax, upper=upper, lower=lower, lower_as_stated=lower1,
                     violation_upper=float(np.nanmax((loss - upper) / ref)),
                     violation_lower=float(np.nanmax((lower - loss) / ref)),
                     violation_lower_as_stated=float(np.nanmax((lower1 - loss) / ref)))


# -- Lemma 3.4, Theorem 3.5, Proposition F.1 ----------------------------------------------

def stationarity_residual(net: ReLU1D, x, y) -> np.ndarray:
    """Residuals of the stationarity system (3.4) of Lemma 3.4.

    For every l with u_l > 0 and c_l != 0: f(mu_l) - ybar_l; for every l with
    u_l > 1: sum_{i<=l} c_i - cov_l(x, y) / sigma_l^2 (neurons sorted by knot).
    The mean of their squares is the "MSE of (3.4)" plotted in Ainsworth & Shin 2021, Fig. 7c.
    """
    net = _fixed_w_net(net)
    x = v.as_array(x, "x", ndim=1)
    y = v.as_array(y, "y", ndim=1)
    order = np.argsort(net.b, kind="stable")
    c = net.c[order]
    md = macroscopic_data(net, x, y)
    out = []
    csum = np.cumsum(c)
    for l in range(1, net.width + 1):
        if md.u[l] > 0 and c[l - 1] != 0.0:
            out.append(float(net(np.array([md.mu[l]]))[0] - md.ybar[l]))
        if md.u[l] > 1 and md.sigma2[l] > 0:
            out.append(float(csum[l - 1] - md.cov[l] / md.sigma2[l]))
    return np.array(out)


def least_squares_lines(net: ReLU1D, x, y) -> list[dict]:
    """Theorem 3.5: on each U_l with u_l >= 2, the least-squares line of the modified data
    (x, y - sum_{j<l} c_j relu(x - b_j)) against the network's piece c_l (x - b_l).

    Returns one dict per such l with the fitted slope and intercept, the
    network's (c_l, -c_l b_l), and their largest difference.
    """
    net = _fixed_w_net(net)
    x = v.as_array(x, "x", ndim=1)
    y = v.as_array(y, "y", ndim=1)
    order = np.argsort(net.b, kind="stable")
    b, c = net.b[order], net.c[order]
    lev = _levels(net, x)
    out = []
    for l in range(1, net.width + 1):
        sel = lev == l
        if sel.sum() < 2:
            continue
        xs = x[sel]
        yh = y[sel] - sum(c[j] * np.maximum(xs - b[j], 0.0) for j in range(l - 1))
        slope, intercept = np.polyfit(xs, yh, 1)
        out.append({"l": l, "u_l": int(sel.sum()), "lsq": (float(slope), float(intercept)),
                    "network": (float(c[l - 1]), float(-c[l - 1] * b[l - 1])),
                    "difference": float(max(abs(slope - c[l - 1]),
                                            abs(intercept + c[l - 1] * b[l - 1])))})
    return out


def _lsq_line(xs, ys):
    """Least-squares line (least-norm for one point, Lemma D.1): (slope, intercept)."""
    if xs.size == 1:
        d = xs[0] ** 2 + 1.0
        return xs[0] * ys[0] / d, ys[0] / d
    A = np.column_stack([xs, np.ones_like(xs)])
    sol, *_ = np.linalg.lstsq(A, ys, rcond=None)
    return float(sol[0]), float(sol[1])


def fully_trained_network(x, y, partition, *, knot_on_point: bool = False) -> ReLU1D:
    """Proposition F.1: a stationary ReLU1D network (w = 1) of width <= 2N for a partition.

    Parameters
    ----------
    x, y : array_like, shape (m,)
    partition : array_like, shape (N+1,)
        Increasing breakpoints of an interval containing all data; subintervals
        [p_j, p_{j+1}) (the last one closed) without data are skipped.

    knot_on_point : bool
        Place the second knot of Lemma F.2 exactly on z_j, as printed (default
        False: halfway into the gap before z_j).

    On the j-th subinterval with data T_j the least-squares line f_j of the
    data minus the lines already placed is fitted, and f_j(x) 1_{x >= z_j}
    (z_j = smallest point of T_j) is written with one or two neurons by Lemma
    F.2, with eps_j half the gap to the previous subinterval's largest point.
    Two knots k1 < k2 with no data in (k1, z_j) represent it when
    A relu(x - k1) + B relu(x - k2) = a x + d for x >= k2:
    A = (a k2 + d)/(k2 - k1), B = -(a k1 + d)/(k2 - k1).  The printed choice
    k1 = z - eps, k2 = z (where "b" stands for d) puts a knot on the data point
    z_j: with relu'(0) = 0 that point is then inactive for the knot's neuron and
    the b-derivative of the loss is c r(z_j) != 0 -- the network is stationary
    only in the Filippov sense (sliding weight lambda = 1).  With k2 = z - eps/2
    (the default) every knot lies between data points and the gradient vanishes.
    """
    x = v.as_array(x, "x", ndim=1)
    y = v.as_array(y, "y", ndim=1)
    p = v.as_array(partition, "partition", ndim=1)
    if y.size != x.size:
        raise ValueError(f"`y` must have one value per point of `x` ({x.size}), got {y.size}.")
    if p.size < 2 or np.any(np.diff(p) <= 0):
        raise ValueError("`partition` must be increasing with at least two breakpoints.")
    if x.min() < p[0] or x.max() > p[-1]:
        raise ValueError(f"`partition` must cover the data [{x.min()}, {x.max()}], got "
                         f"[{p[0]}, {p[-1]}].")
    cell = np.clip(np.searchsorted(p, x, side="right") - 1, 0, p.size - 2)
    resid = y.copy()
    knots, coefs = [], []
    prev_max = None
    for j in range(p.size - 1):
        sel = cell == j
        if not np.any(sel):
            continue
        a, d = _lsq_line(x[sel], resid[sel])
        z = x[sel].min()
        eps = 1.0 if prev_max is None else 0.5 * (z - prev_max)
        if a != 0.0 and 0.0 <= z + d / a < eps and (knot_on_point or z + d / a > 0.0):
            knots.append(-d / a)
            coefs.append(a)
        else:
            k1, k2 = z - eps, (z if knot_on_point else z - 0.5 * eps)
            knots += [k1, k2]
            coefs += [(a * k2 + d) / (k2 - k1), -(a * k1 + d) / (k2 - k1)]
        later = x >= z
        resid[later] -= a * x[later] + d
        prev_max = x[sel].max()
    return ReLU1D(np.array(knots), np.array(coefs))


# -- plateaus of a loss curve -------------------------------------------------------------

@dataclass
class Plateau:
    """A stretch [start, end] of a loss curve that is flat on a log time axis."""

    start: float
    end: float
    loss: float              # loss at the start
    drop_after: float        # relative drop of the loss over the decade after ``end``


def plateaus(t, loss, *, min_decades: float = 0.5, flat: float = 0.15) -> list[Plateau]:
    """Plateaus of a loss curve (Ainsworth & Shin 2021, Fig. 1): maximal stretches of at least
    ``min_decades`` decades of t over which the loss falls by less than the fraction
    ``flat`` per decade (measured over half-decade windows on a log time axis), once
    it has fallen by that fraction from its initial value (on a log axis every
    curve looks flat as t -> 0).

    ``drop_after`` of each plateau is the relative fall of the loss over the decade
    that follows it (0 if the curve ends first).  ``t`` must be increasing; t = 0
    is skipped.
    """
    t = v.as_array(t, "t", ndim=1)
    L = v.as_array(loss, "loss", ndim=1)
    if t.size != L.size:
        raise ValueError("`t` and `loss` must have the same length.")
    keep = t > 0
    t, L = t[keep], L[keep]
    if t.size < 3 or np.log10(t[-1] / t[0]) < min_decades:
        return []
    lt = np.log10(t)
    grid = np.arange(lt[0], lt[-1] + 1e-12, 0.05)
    lg = np.interp(grid, lt, np.log(np.maximum(L, 1e-300)))
    span = 10                                     # grid points in half a decade
    rate = np.full(grid.size, np.inf)
    rate[:-span] = 1.0 - np.exp(2.0 * (lg[span:] - lg[:-span]))   # fall per decade
    is_flat = (rate < flat) & (lg <= np.log(1.0 - flat) + np.log(max(L[0], 1e-300)))
    out = []
    i = 0
    while i < grid.size:
        if not is_flat[i]:
            i += 1
            continue
        j = i
        while j + 1 < grid.size and is_flat[j + 1]:
            j += 1
        end = min(j + span, grid.size - 1)
        if grid[end] - grid[i] >= min_decades:
            L_end = float(np.exp(lg[end]))
            after = float(np.interp(grid[end] + 1.0, lt, L)) if grid[end] + 1.0 <= lt[-1] \
                else L_end
            out.append(Plateau(float(10 ** grid[i]), float(10 ** grid[end]),
                               float(np.exp(lg[i])), 1.0 - after / L_end))
        i = end + 1
    return out
