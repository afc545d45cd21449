"""Active Neuron Least Squares (Ainsworth & Shin 2021, Sec. 4): candidate knots and iteration.

The network is Ainsworth & Shin's (2021) model (2.2), f(x) = sum_j c_j relu(x - b_j).  For a
bias vector b, the coefficients are the minimum-norm least-squares solution
c = A^+ y with A_ij = relu(x_i - b_j) ((4.1)).  ANLS moves one knot at a time
across one data point, choosing among all such *candidate* moves (Sec. 4.2)
the one whose least-squares loss is smallest (Sec. 4.3), and evaluates all
candidates through the COD update of Theorem 4.2 (:mod:`flowlab.train.cod`).

Reading of the candidate rules of Sec. 4.2
------------------------------------------
Sort the knots, b_1 <= ... <= b_n, and let u_1 < ... < u_M be the distinct data
values.  U_l holds the points activating exactly l neurons ((3.2)): with sorted
knots, U_l = {x : b_l < x <= b_{l+1}}.  A neuron is *dead* when b_k >= u_M.

1. one knot moves per candidate;
2. the order is kept: a moved knot never passes a neighbouring knot;
3. |U_k| changes by one: the knot crosses exactly one data value, the nearest
   one on its left (u_L, the largest u <= b_k; it becomes active) or on its
   right (u_R, the smallest u > b_k; it becomes inactive).  With repeated x
   values "one data point" is one distinct value;
4. dead neurons do not move;
5. no neuron is moved so that it dies: the new knot stays < u_M (only the
   last living neuron can be affected);
6. the new position is

   (i) the midpoint of the crossed point and the next data value beyond it;
   (ii) the midpoint of the crossed point and the *neighbouring knot*, when
        that knot lies between the crossed point and the next data value
        (rule 2 forbids going further).  We read "b_k" in (ii) as the
        neighbouring knot: a midpoint between a data point and the moving
        knot's own position never crosses a data point, so it could not
        satisfy rule 3;
   (iii) u_1 - delta (delta = 1e-8 by default) when the crossed point is the
         smallest data value u_1 (moving left, there is no next data value);
         if the left neighbour lies in [u_1 - delta, u_1), the midpoint of it
         and u_1 instead.

   A right move needs u_R < b_{k+1}; a left move needs b_{k-1} < u_L.

So each living neuron yields at most two candidates (Fig. 6 of the paper: 7
candidates for 5 neurons and 10 points).  Equal knots may separate outwards
but not cross.  Dead neurons keep c_j = 0 (the minimum-norm coefficient of a
zero column) and are left out of the factorisation, which changes nothing.

Loss convention: ``loss="mean"`` is L = 1/(2m) sum r_i^2 (the scale of the
paper's plotted curves), ``"sum"`` is L = 1/2 sum r_i^2 ((2.1)).
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from .. import _validate as v
from .._progress import progress_bar
from .._signature import LOSS_WHY, REQUIRED, options_by_keyword, require
from ..models import ReLU1D
from .cod import cod, replace_columns_rss
from .result import TrainResult

__all__ = ["anls", "anls_candidates"]


def _moves(u, bs, delta):
    """Candidate moves for sorted knots ``bs`` and sorted distinct data values ``u``.

    Returns (k, new_b, direction): sorted-order neuron indices, new knots and
    +1 (right) / -1 (left), right moves first.
    """
    M = u.size
    L = np.searchsorted(u, bs, side="right") - 1          # largest u <= b_k (-1: none)
    alive = bs < u[-1]
    nxt = np.append(bs[1:], np.inf)
    prv = np.insert(bs[:-1], 0, -np.inf)
    # right: cross u[L+1]
    R = np.minimum(L + 1, M - 1)
    after = np.where(R + 1 < M, u[np.minimum(R + 1, M - 1)], np.inf)
    hi = np.minimum(after, nxt)
    right_b = 0.5 * (u[R] + hi)
    # two adjacent doubles: the midpoint rounds onto an end; keep the crossing exact
    right_b = np.where(right_b < hi, right_b, u[R])
    right = alive & (u[R] < hi) & (right_b < u[-1])
    # left: cross u[L]
    Lc = np.maximum(L, 0)
    before = np.where(L >= 1, u[np.maximum(L - 1, 0)], -np.inf)
    left = alive & (L >= 0) & (prv < u[Lc])
    lo = np.maximum(before, prv)
    left_b = np.where(L >= 1, 0.5 * (lo + u[Lc]), u[0] - delta)
    edge = (L == 0) & (prv >= u[0] - delta)
    left_b = np.where(edge, 0.5 * (prv + u[0]), left_b)
    lo = np.where(L >= 1, lo, np.where(edge, prv, u[0] - delta))
    left_b = np.where(left_b < u[Lc], left_b, lo)
    kr, kl = np.nonzero(right)[0], np.nonzero(left)[0]
    k = np.concatenate([kr, kl])
    new_b = np.concatenate([right_b[kr], left_b[kl]])
    direction = np.concatenate([np.ones(kr.size, np.int64), -np.ones(kl.size, np.int64)])
    return k, new_b, direction


class _State:
    """One ANLS iterate: sorted knots, their COD and the candidate residuals."""

    def __init__(self, xs, ys, u, bs, delta, rcond):
        self.bs = bs
        na = int(np.searchsorted(bs, u[-1], side="left"))    # living neurons come first
        self.n_alive = na
        self.A = np.maximum(xs[:, None] - bs[None, :na], 0.0)
        self.cod = cod(self.A, rcond=rcond) if na else None
        self.c = np.zeros(bs.size)
        if na:
            self.c[:na], self.rss = self.cod.solve(ys)
        else:
            self.rss = float(ys @ ys)
        self.k, self.new_b, self.direction = _moves(u, bs, delta)
        self.cand_rss = np.zeros(0)
        if self.k.size:
            V = np.maximum(xs[:, None] - self.new_b[None, :], 0.0) - self.A[:, self.k]
            self.cand_rss, self.branch = replace_columns_rss(self.cod, ys, self.k, V)

    def candidate(self, i) -> np.ndarray:
        b = self.bs.copy()
        b[self.k[i]] = self.new_b[i]
        return b


def _data(x, y, b, loss, delta, rcond, name="b"):
    x = v.as_array(x, "x", ndim=1)
    y = v.as_array(y, "y", ndim=1)
    if y.size != x.size:
        raise ValueError(f"`y` must have one value per point of `x`: {x.size} points, "
                         f"{y.size} values.")
    if isinstance(b, ReLU1D):
        raise TypeError(f"`{name}` must be an array of knots; for a network pass `net.b`.")
    b = v.as_array(b, name, ndim=1)
    loss = v.check_loss(loss)
    delta = v.check_real(delta, "delta", positive=True)
    if rcond is not None:
        rcond = v.check_real(rcond, "rcond", nonnegative=True)
    _check_range(x, y, b, name)
    order = np.argsort(x, kind="stable")
    return x[order], y[order], np.unique(x), b, loss, delta, rcond


def _check_range(x, y, b, name="b") -> None:
    """ValueError when squares of the entries of A = relu(x - b) or of y would overflow.

    The least-squares losses are sums of squares: with |x - b| or |y| beyond
    about sqrt(max float / (m n)) they overflow to inf and every candidate looks
    equally bad (a silent "converged").  ANLS is equivariant under rescaling:
    x and b by one factor s (the coefficients c scale by 1/s, the loss is
    unchanged), y by a factor r (c and the residuals scale by r, the loss by
    r^2), so rescaled data give the same moves.
    """
    limit = np.sqrt(np.finfo(np.float64).max / (4.0 * x.size * max(b.size, 1)))
    span = float(np.abs(x).max() + (np.abs(b).max() if b.size else 0.0))
    if not span < limit:
        raise ValueError(f"`x` and `{name}` reach {span:.3g} in magnitude: the squares of "
                         f"relu(x - b) overflow in float64 beyond {limit:.3g}, and the "
                         f"least-squares losses with them; rescale x and {name} by one common "
                         "factor (ANLS makes the same moves; the coefficients scale inversely).")
    ymax = float(np.abs(y).max())
    if not ymax < limit:
        raise ValueError(f"`y` reaches {ymax:.3g} in magnitude: its sum of squares overflows in "
                         f"float64 beyond {limit:.3g}; rescale y (ANLS makes the same moves, the "
                         "coefficients scale with y and the loss with its square).")


def anls_candidates(x, y, b, *, loss: str = REQUIRED, delta: float = 1e-8,
                    rcond: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """All candidate bias vectors of Ainsworth & Shin 2021, Sec. 4.2, and their least-squares
    losses.

    Parameters
    ----------
    x, y : array_like, shape (m,)
        Training data (any order; repeated x allowed).
    b : array_like, shape (n,)
        Current knots (any order; ties allowed).
    loss : {"mean", "sum"}
        L = 1/(2m) sum r_i^2 or 1/2 sum r_i^2 of the minimum-norm least-squares fit
        (required, as for :func:`anls`).
    delta : float
        The offset of rule 6 (iii).
    rcond : float, optional
        Rank tolerance of the COD (:func:`flowlab.train.cod.cod`).

    Returns
    -------
    B : ndarray, shape (k, n)
        Candidate bias vectors, in the neuron order of ``b``: each differs from
        ``b`` in one entry.  Right moves come first, then left moves.
    losses : ndarray, shape (k,)
        Least-squares loss of each candidate (coefficients A_B^+ y), computed
        through the COD update of Theorem 4.2 from one factorisation of A(b).

    Examples
    --------
    >>> import numpy as np, flowlab as fl
    >>> x = np.linspace(-1, 1, 10)
    >>> B, L = fl.anls_candidates(x, np.sin(np.pi * x), [-0.5, 0.1, 2.0], loss="mean")
    >>> B.shape, L.shape
    ((4, 3), (4,))
    """
    loss = require(loss, "loss", "anls_candidates", LOSS_WHY)
    xs, ys, u, b, loss, delta, rcond = _data(x, y, b, loss, delta, rcond)
    order = np.argsort(b, kind="stable")
    st = _State(xs, ys, u, b[order], delta, rcond)
    B = np.repeat(b[None, :], st.k.size, axis=0)
    B[np.arange(st.k.size), order[st.k]] = st.new_b
    return B, 0.5 * v.loss_scale(loss, xs.size) * st.cand_rss


@options_by_keyword("max_iter", "loss")
def anls(x, y, b0, *, max_iter: int = 100, loss: str = REQUIRED, delta: float = 1e-8,
         rtol: float = 1e-10, rcond: float | None = None, callback=None,
         progress: bool | None = None) -> TrainResult:
    """Active Neuron Least Squares (Ainsworth & Shin 2021, Sec. 4.3).

    From the knots b^(k), step 1 evaluates every candidate of Sec. 4.2 (see the
    module notes for the reading of the rules) through the COD update and picks
    the best; step 2 stops when the best candidate does not lower the loss of
    theta_LSQ^(k) = (b^(k), A^+ y), else moves to it.

    Parameters
    ----------
    x, y : array_like, shape (m,)
        Training data.
    b0 : array_like, shape (n,)
        Initial knots (e.g. ``fl.init.he(n, seed=s).b``); they are sorted.
    max_iter : int
        Maximal number of iterations (accepted moves).
    loss : {"mean", "sum"}
        L = 1/(2m) sum r_i^2 (the scale of Figs. 9-10 of Ainsworth & Shin 2021) or 1/2 sum
        r_i^2.  Required: the default used to be "mean", flowlab's is "sum" elsewhere, and
        the knots do not depend on it but the reported losses do.
    delta : float
        The offset of rule 6 (iii).
    rtol : float
        A candidate is accepted when its loss is below (1 - rtol) times the
        current one (guards against accepting rounding noise).
    rcond : float, optional
        Rank tolerance of the COD.
    callback : callable, optional
        ``callback(k, net, loss)`` after each iteration k (0 = start); a true
        return value stops the run.
    progress : bool, optional
        Progress bar (default: when stderr is a terminal).

    Returns
    -------
    TrainResult
        ``net``: ReLU1D with sorted knots and least-squares coefficients;
        ``loss``: L(theta_LSQ^(k)) for k = 0..K; ``params``: (b, c) at each k;
        ``info["moves"]``: accepted moves (iteration, neuron, from, to, direction,
        loss); ``info["n_candidates"]``, ``info["rank"]``, ``info["seconds"]``
        per iteration; ``status`` ("steady_state": no candidate lowers the loss;
        "max_steps": ``max_iter`` spent; "interrupted": ``callback`` stopped the run;
        "degenerate": no candidate move left; "failed": overflow) and ``stop_reason``.

    Examples
    --------
    >>> import numpy as np, flowlab as fl
    >>> x = np.linspace(-1, 1, 100)
    >>> res = fl.anls(x, np.sin(np.pi * x), fl.init.he(10, seed=1).b, max_iter=100,
    ...               loss="mean")
    >>> bool(res.loss[-1] < 1e-4)
    True
    """
    loss = require(loss, "loss", "anls", LOSS_WHY)
    xs, ys, u, b, loss, delta, rcond = _data(x, y, b0, loss, delta, rcond, name="b0")
    max_iter = v.check_int(max_iter, "max_iter", minimum=0)
    rtol = v.check_real(rtol, "rtol", nonnegative=True)
    if callback is not None and not callable(callback):
        raise TypeError("`callback` must be callable as callback(k, net, loss) or None.")
    half = 0.5 * v.loss_scale(loss, xs.size)
    bar = progress_bar(progress, max_iter, "anls", unit="it")
    clock = time.perf_counter()
    st = _State(xs, ys, u, np.sort(b, kind="stable"), delta, rcond)
    hist, params, moves, ncand, ranks, secs = [], [], [], [], [], []
    status, stop = "max_steps", f"reached max_iter = {max_iter}"
    k = 0
    while True:
        L = half * st.rss
        hist.append(L)
        params.append(np.concatenate([st.bs, st.c]))
        ncand.append(int(st.k.size))
        ranks.append(st.cod.rank if st.cod is not None else 0)
        secs.append(time.perf_counter() - clock)
        if callback is not None and callback(k, ReLU1D(st.bs, st.c), L):
            status, stop = "interrupted", f"callback stopped the run after iteration {k}"
            break
        if k >= max_iter:
            break
        if not st.k.size:
            status, stop = "degenerate", "no candidate moves (every neuron is dead or blocked)"
            break
        if not (np.isfinite(st.rss) and np.all(np.isfinite(st.cand_rss))):
            status = "failed"
            stop = (f"overflow: the least-squares losses are not finite at iteration {k} (the "
                    "sums of squares exceed float64); rescale x, b and y")
            warnings.warn(f"anls stopped: {stop}", RuntimeWarning, stacklevel=2)
            break
        i = int(np.argmin(st.cand_rss))
        if not st.cand_rss[i] < (1.0 - rtol) * st.rss:
            status = "steady_state"
            stop = ("converged: no candidate lowers the loss (Ainsworth & Shin 2021, Sec. 4.3, "
                    "step 2)")
            break
        j = int(st.k[i])
        moves.append({"iteration": k + 1, "neuron": j, "from": float(st.bs[j]),
                      "to": float(st.new_b[i]), "direction": int(st.direction[i]),
                      "branch": int(st.branch[i]), "loss": float(half * st.cand_rss[i])})
        clock = time.perf_counter()
        st = _State(xs, ys, u, st.candidate(i), delta, rcond)
        k += 1
        if bar is not None:
            bar.update(1, loss=half * st.rss)
    if bar is not None:
        bar.close()
    info = {"moves": moves, "n_candidates": ncand, "rank": ranks, "seconds": secs,
            "delta": delta, "rtol": rtol, "n_alive": st.n_alive}
    return TrainResult(net=ReLU1D(st.bs, st.c), loss=np.array(hist),
                       iterations=np.arange(len(hist), dtype=np.int64), method="anls",
                       loss_kind=loss, stop_reason=stop, status=status, params=np.array(params),
                       info=info)
