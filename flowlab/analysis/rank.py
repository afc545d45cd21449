"""Mass matrices of neuron functions, their epsilon-rank, and the staircase of the rank.

Yang, Zhao & Zhu 2024 read the neurons phi_j of the last hidden
layer as basis functions and measures how linearly independent they are by
the epsilon-rank of their mass (Gram) matrix M_ij = <phi_i, phi_j>:

- Definition 2.4 / eq. (5): r_eps(M) = #{eigenvalues of M above eps};
- Sec. 4, eq. (11): M ~ D^T W D, D_ki = phi_i(x_k) sampled at quadrature points
  x_k with weights W = diag(w_k); eps = 1e-6 in all its experiments;
- Sec. 2.2, the staircase phenomenon: along training the epsilon-rank grows
  in steps, and the loss drops while it grows.

Functions: :func:`mass_matrix` (eq. (11)), :func:`eps_rank` (eq. (5), the public
``fl.eps_rank``; both from :mod:`flowlab.analysis.mass`), :func:`neuron_mass_matrix` /
:func:`neuron_rank` for a network, :func:`rank_along` for a gradient-flow
:class:`~flowlab.Solution` (any method), and :func:`staircase` to find the steps of a
rank time series with the loss drop around each; :func:`drop_rates` measures how fast
the loss falls while the rank rises (on the risers of a staircase) and on the plateaus
between them.

Examples
--------
>>> import numpy as np, flowlab as fl
>>> fl.eps_rank(np.diag([1.0, 1e-3, 1e-7]), eps=1e-6)
2
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import _validate as v
from .._progress import progress_bar
from ..models import Network, ReLU1D, TwoLayer
from .gram import relu_gram_1d
from .mass import SYMMETRY_RTOL, check_symmetric, eps_rank, mass_matrix
from ._quadrature import Quadrature

__all__ = ["mass_matrix", "check_symmetric", "eps_rank", "neuron_mass_matrix", "neuron_rank",
           "RankHistory", "rank_along", "Step", "Staircase", "staircase", "SYMMETRY_RTOL",
           "DropRates", "drop_rates"]


def _exact_relu_gram(net, interval) -> np.ndarray:
    if isinstance(net, ReLU1D):
        return relu_gram_1d(net.b, net.w, interval)
    if isinstance(net, TwoLayer) and net.activation == "relu" and net.input_dim == 1:
        return relu_gram_1d(-net.bias, net.weights[:, 0], interval)   # bias 0 if bias=False
    raise ValueError("an interval (lo, hi) as `quad` asks for the exact Gram matrix, which "
                     "exists for univariate ReLU networks only; pass a Quadrature instead "
                     "(e.g. flowlab.analysis.gauss_legendre(200, (lo, hi))).")


def neuron_mass_matrix(net, quad) -> np.ndarray:
    """Mass matrix of the hidden neurons of ``net`` (Yang, Zhao & Zhu 2024, Definition 2.3).

    Parameters
    ----------
    net : ReLU1D or TwoLayer
    quad : Quadrature or (lo, hi)
        A rule on the input domain (its points are fed to ``net.features``), or
        an interval for the exact Gram matrix of a univariate ReLU network
        (:func:`flowlab.analysis.gram.relu_gram_1d`).

    Returns
    -------
    ndarray, shape (n, n)
    """
    if not isinstance(net, Network):
        raise TypeError(f"`net` must be a ReLU1D or TwoLayer network, got {type(net).__name__}.")
    if isinstance(quad, Quadrature):
        return mass_matrix(net.features(quad.points), quad.weights)
    if isinstance(quad, (tuple, list)) and len(quad) == 2 and np.ndim(quad[0]) == 0:
        return _exact_relu_gram(net, quad)
    raise TypeError("`quad` must be a flowlab Quadrature or an interval (lo, hi), got "
                    f"{type(quad).__name__}.")


def neuron_rank(net, quad, eps: float = 1e-6) -> int:
    """epsilon-rank of the neurons of ``net``: ``eps_rank(neuron_mass_matrix(net, quad), eps)``."""
    return eps_rank(neuron_mass_matrix(net, quad), eps)


@dataclass
class RankHistory:
    """epsilon-rank of a network's neurons along a trajectory.

    Attributes
    ----------
    t : ndarray, shape (K,)
    rank : ndarray of int, shape (K,)
    loss : ndarray, shape (K,)
        The trajectory's loss at ``t`` (its own convention, ``loss_kind``).
    eigenvalues : ndarray, shape (K, n)
        Mass-matrix eigenvalues at each time, descending.
    eps : float
    loss_kind : str
    """

    t: np.ndarray
    rank: np.ndarray
    loss: np.ndarray
    eigenvalues: np.ndarray
    eps: float
    loss_kind: str = "sum"

    def staircase(self, **options) -> "Staircase":
        """:func:`staircase` of this history (options are passed on)."""
        return staircase(self.t, self.rank, self.loss, **options)

    def with_eps(self, eps: float) -> "RankHistory":
        """The same history counted with another threshold."""
        eps = v.check_real(eps, "eps", nonnegative=True)
        rank = np.count_nonzero(self.eigenvalues > eps, axis=1)
        return RankHistory(self.t, rank, self.loss, self.eigenvalues, eps, self.loss_kind)


def rank_along(sol, quad, times=None, *, eps: float = 1e-6, progress=None) -> RankHistory:
    """epsilon-rank of the neurons of ``sol``'s network at ``times``.

    Parameters
    ----------
    sol : Solution
        Any gradient-flow solution (scipy methods or the exact ReLU flow); only
        ``sol.theta_at`` and ``sol.net0`` are used.
    quad : Quadrature or (lo, hi)
        As in :func:`neuron_mass_matrix` (an interval: exact Gram, ReLU 1-d nets).
    times : array_like, optional
        Times in [0, t_final]; default the solution's output times ``sol.t``.
    eps : float
        Threshold of the epsilon-rank (Yang, Zhao & Zhu 2024: 1e-6).
    progress : bool, optional
        Progress bar (default: when stderr is a terminal).

    Returns
    -------
    RankHistory
    """
    times = np.asarray(sol.t if times is None else v.as_array(times, "times", ndim=1))
    eps = v.check_real(eps, "eps", nonnegative=True)
    thetas = np.atleast_2d(sol.theta_at(times))
    losses = sol.loss if times is sol.t or np.array_equal(times, sol.t) else sol.loss_at(times)
    bar = progress_bar(progress, times.size, "eps-rank", unit="it")
    eig = np.empty((times.size, sol.net0.width))
    for i in range(times.size):
        M = neuron_mass_matrix(sol.net0.with_params(thetas[i]), quad)
        eig[i] = np.linalg.eigvalsh(M)[::-1]
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    rank = np.count_nonzero(eig > eps, axis=1)
    return RankHistory(times.copy(), rank, np.asarray(losses, dtype=np.float64).copy(), eig, eps,
                       sol.loss_kind)


@dataclass(frozen=True)
class Step:
    """One step of a rank staircase.

    Attributes
    ----------
    t_start, t_end : float
        Last sample time at the old level and first sample time of the new
        plateau (the riser lies between them; short excursions inside it are
        not plateaus).
    rank_before, rank_after : int
    loss_start, loss_end : float
        Loss at ``t_start`` and ``t_end``.
    loss_next : float
        Loss at the end of the plateau that follows the step (just before the
        next step, or at the last sample).
    """

    t_start: float
    t_end: float
    rank_before: int
    rank_after: int
    loss_start: float
    loss_end: float
    loss_next: float

    @property
    def height(self) -> int:
        """rank_after - rank_before (negative for a step down)."""
        return self.rank_after - self.rank_before

    @property
    def drop(self) -> float:
        """loss_start / loss_next: the loss drop from the step to the next plateau's end."""
        return self.loss_start / self.loss_next if self.loss_next > 0 else float("inf")


@dataclass
class Staircase:
    """Steps of a rank time series (Yang, Zhao & Zhu 2024, Sec. 2.2) and its de-flickered levels.

    Attributes
    ----------
    steps : list of Step
    levels : ndarray of int, shape (K,)
        The rank level held at each sample (flicker shorter than ``min_persist``
        samples removed; the old level is held through a riser).
    """

    steps: list = field(default_factory=list)
    levels: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def times(self) -> np.ndarray:
        """Midpoint (t_start + t_end)/2 of every step."""
        return np.array([0.5 * (s.t_start + s.t_end) for s in self.steps])

    @property
    def heights(self) -> np.ndarray:
        return np.array([s.height for s in self.steps], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.steps)


def staircase(t, rank, loss=None, *, min_persist: int = 3, min_height: int = 1) -> Staircase:
    """Find the steps of a rank time series and the loss drop around each.

    Parameters
    ----------
    t : array_like, shape (K,)
        Increasing sample times.
    rank : array_like of int, shape (K,)
        epsilon-rank at ``t`` (e.g. :attr:`RankHistory.rank`).
    loss : array_like, shape (K,), optional
        Loss at ``t``; without it the loss fields of the steps are NaN.
    min_persist : int
        A rank value counts as a level (a plateau) only when it holds for at
        least this many consecutive samples; shorter runs -- flicker of an
        eigenvalue near eps, or intermediate values during a fast climb -- are
        absorbed into the riser.  The first sample's run always counts.
    min_height : int
        Level changes smaller than this (in absolute value) are ignored.

    Returns
    -------
    Staircase

    Examples
    --------
    >>> import numpy as np
    >>> r = [2, 2, 2, 2, 3, 2, 2, 4, 5, 5, 5, 5, 5]
    >>> s = staircase(np.arange(13.0), r)
    >>> [(st.t_start, st.t_end, st.height) for st in s.steps]
    [(6.0, 8.0, 3)]
    """
    t = v.as_array(t, "t", ndim=1)
    r = np.asarray(rank)
    if r.shape != t.shape or not np.all(np.equal(np.mod(r, 1), 0)):
        raise ValueError(f"`rank` must hold integers, one per time ({t.size}), got shape "
                         f"{r.shape}.")
    r = r.astype(np.int64)
    if np.any(np.diff(t) <= 0):
        raise ValueError("`t` must be strictly increasing.")
    L = np.full(t.size, np.nan) if loss is None else v.as_array(loss, "loss", ndim=1)
    if L.shape != t.shape:
        raise ValueError(f"`loss` must have one value per time ({t.size}), got {L.size}.")
    min_persist = v.check_int(min_persist, "min_persist", minimum=1)
    min_height = v.check_int(min_height, "min_height", minimum=1)

    change = np.flatnonzero(np.diff(r)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [r.size]]) - 1          # inclusive
    levels = np.empty_like(r)
    level, last = r[0], ends[0]             # current level and the last index seen at it
    marks = []                              # (index at old level, index at new level, old, new)
    for s, e in zip(starts[1:], ends[1:]):
        if e - s + 1 >= min_persist and abs(r[s] - level) >= min_height:
            marks.append((last, s, level, r[s]))
            level = r[s]
            last = e
        elif r[s] == level or e - s + 1 >= min_persist:
            last = e
    pos = 0
    for i0, i1, old, _ in marks:
        levels[pos:i1] = old
        pos = i1
    levels[pos:] = level
    steps = []
    for k, (i0, i1, old, new) in enumerate(marks):
        nxt = marks[k + 1][0] if k + 1 < len(marks) else r.size - 1
        steps.append(Step(float(t[i0]), float(t[i1]), int(old), int(new), float(L[i0]),
                          float(L[i1]), float(L[nxt])))
    return Staircase(steps, levels)


@dataclass
class DropRates:
    """How fast the loss falls on the sample intervals of a history, and where its rank
    rises: the measure of "the loss decreases rapidly along with a significant growth of
    epsilon-rank" (Yang, Zhao & Zhu 2024, Sec. 2.2).

    Attributes
    ----------
    t_mid : ndarray, shape (K - 1,)
        Midpoint of each sample interval (geometric, sqrt(t_i t_{i+1}), on a log time axis).
    rate : ndarray, shape (K - 1,)
        -d log L / d tau over each interval, tau = t (or log t on a log time axis).
    rising : ndarray of bool, shape (K - 1,)
        Intervals whose midpoint lies in a rising step [t_start, t_end] of the staircase.
    treads : ndarray of bool, shape (K - 1,)
        The plateaus between the risers: intervals in no riser between the start of the
        first and the end of the last rising step (with a single step: every interval
        after its start outside it), so that neither the initial transient nor the final
        convergence counts as a tread.
    step_rates : ndarray, shape (k,)
        -d log L / d tau over each rising step, from its last sample before to its first
        sample after the riser.
    step_drops : ndarray, shape (k,)
        L(before) / L(after) across each rising step.
    """

    t_mid: np.ndarray
    rate: np.ndarray
    rising: np.ndarray
    treads: np.ndarray
    step_rates: np.ndarray
    step_drops: np.ndarray


def drop_rates(t, loss, stairs: Staircase, *, log_time: bool = False) -> DropRates:
    """How fast the loss falls on the rising steps of ``stairs`` and between them.

    Parameters
    ----------
    t : array_like, shape (K,)
        Increasing sample times (iterations, or flow time).
    loss : array_like, shape (K,)
        The loss at ``t`` (values below the smallest positive float count as it).
    stairs : Staircase
        The steps of the rank history sampled at ``t`` (:func:`staircase`).
    log_time : bool
        Rates per unit of log t, over the samples at t > 0 (for histories sampled on a
        geometric grid of flow times); default: per unit of t.

    Returns
    -------
    DropRates
    """
    t = v.as_array(t, "t", ndim=1)
    L = v.as_array(loss, "loss", ndim=1)
    if L.shape != t.shape:
        raise ValueError(f"`loss` must have one value per time ({t.size}), got {L.size}.")
    if log_time:
        keep = t > 0
        t, L = t[keep], L[keep]
    L = np.maximum(L, np.finfo(float).tiny)
    tau = np.log(t) if log_time else t
    rate = -np.diff(np.log(L)) / np.diff(tau)
    mid = 0.5 * (tau[1:] + tau[:-1])
    mid = np.exp(mid) if log_time else mid
    ups = [s for s in stairs.steps if s.height > 0]
    rising = np.zeros(mid.size, dtype=bool)
    for s in ups:
        rising |= (mid >= s.t_start) & (mid <= s.t_end)
    treads = np.zeros(mid.size, dtype=bool)
    if ups:
        treads = (~rising) & (mid >= ups[0].t_start) & (mid <= ups[-1].t_end)
        if not treads.any():
            treads = (~rising) & (mid >= ups[0].t_start)
    step_rates, step_drops = [], []
    for s in ups:
        i0, i1 = np.searchsorted(t, s.t_start), np.searchsorted(t, s.t_end)
        step_rates.append(float(np.log(L[i0] / L[i1]) / (tau[i1] - tau[i0])))
        step_drops.append(float(L[i0] / L[i1]))
    return DropRates(mid, rate, rising, treads, np.asarray(step_rates), np.asarray(step_drops))
