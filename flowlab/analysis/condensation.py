"""Condensation of input weights at initial training (Zhou et al. 2022 and Xu et al. 2021).

Zhou et al. 2022 and Xu et al. 2021 train two-layer
networks f(x) = sum_j a_j sigma(w_j . (x, 1)) from a small initialisation and
observe that the *neuron features* w_j = (w̄_j, b_j) in R^(d+1) (input weights
with the bias, flowlab's ``TwoLayer.W`` rows) condense onto a few lines through
the origin: at most p lines, i.e. 2p orientations, for an activation of
multiplicity p (Zhou et al. 2022, Definition 1 and Proposition 1).

This module measures that:

- :func:`cosine_similarity` and :func:`cosine_map`: the matrix D(u, v) of
  Zhou et al. 2022, (5), between features, reordered so that the blocks of Zhou et al. 2022, Fig. 3
  / Xu et al. 2021, Fig. 1 show;
- :func:`count_orientations`: lines (u ~ -u) and orientations among the neurons
  that carry the output.

The direction field of a test neuron and the leading-order theory are in
:mod:`flowlab.analysis.condensation_theory`; the initial stage (its end, a flow
that stops there, the polynomial fit of the output) in
:mod:`flowlab.analysis.condensation_stage`.

Conventions: features include the bias (last entry); a *line* is a pair of
opposite unit vectors {u, -u}, stored as the unit vector whose entry of largest
magnitude is positive; angles between lines are arccos |u . v| in degrees, in
[0, 90].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validate as v
from ..activations import get_activation
from ..models import TwoLayer

__all__ = ["features", "cosine_similarity", "CosineMap", "cosine_map", "amplitudes",
           "Orientations", "count_orientations", "line_angle", "nearest_line_angles",
           "canonical_lines"]


def _feature_matrix(net_or_W, name: str = "net") -> np.ndarray:
    if isinstance(net_or_W, TwoLayer):
        return net_or_W.W.copy()
    if hasattr(net_or_W, "W") and hasattr(net_or_W, "a"):
        raise TypeError(f"`{name}` must be a TwoLayer network or an array of features "
                        f"(n, d+1), got {type(net_or_W).__name__}.")
    W = v.as_array(net_or_W, name, ndim=2)
    if W.shape[1] < 2:
        raise ValueError(f"`{name}` must have shape (n, d+1) with d >= 1, got {W.shape}.")
    return W


def features(net: TwoLayer) -> np.ndarray:
    """The neuron features w_j = (w̄_j, b_j) of Zhou et al. 2022, (1), shape (n, d+1) (a copy of
    W).

    For a bias-free network (``bias=False``) the features are the input weights
    themselves, shape (n, d); every analysis here then works on those.
    """
    if not isinstance(net, TwoLayer):
        raise TypeError(f"`net` must be a TwoLayer network, got {type(net).__name__}.")
    return net.W.copy()


def cosine_similarity(net_or_W) -> np.ndarray:
    """D(u, v) = u.v / (|u| |v|) between all neuron features (Zhou et al. 2022, (5)).

    Parameters
    ----------
    net_or_W : TwoLayer or array_like, shape (n, d+1)
        A network (its features ``W`` are used, bias included) or the features.

    Returns
    -------
    ndarray, shape (n, n)
        Symmetric, ones on the diagonal; rows and columns of zero features are NaN.

    Examples
    --------
    >>> D = cosine_similarity([[1.0, 1.0], [-2.0, -2.0], [0.0, 3.0]])
    >>> round(float(D[0, 1]), 6), round(float(D[0, 2]), 6)
    (-1.0, 0.707107)
    """
    W = _feature_matrix(net_or_W)
    norm = np.linalg.norm(W, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        U = W / norm[:, None]
    U[norm == 0] = np.nan
    D = np.clip(U @ U.T, -1.0, 1.0)
    idx = np.flatnonzero(norm > 0)
    D[idx, idx] = 1.0
    return D


def canonical_lines(U) -> np.ndarray:
    """Unit vectors of the lines through the rows of ``U``: normalised, largest |entry| positive."""
    U = np.atleast_2d(v.as_array(U, "U"))
    norm = np.linalg.norm(U, axis=1)
    if np.any(norm == 0):
        raise ValueError("`U` has a zero row, which spans no line; drop it first.")
    U = U / norm[:, None]
    big = np.argmax(np.abs(U), axis=1)
    sign = np.sign(U[np.arange(U.shape[0]), big])
    return U * sign[:, None]


def line_angle(u, w) -> float:
    """Angle in degrees, in [0, 90], between the lines spanned by ``u`` and ``w``."""
    u = v.as_array(u, "u", ndim=1)
    w = v.as_array(w, "w", ndim=1)
    if u.shape != w.shape:
        raise ValueError(f"`u` and `w` must have the same shape, got {u.shape} and {w.shape}.")
    nu, nw = np.linalg.norm(u), np.linalg.norm(w)
    if nu == 0 or nw == 0:
        raise ValueError("a zero vector spans no line; `u` and `w` must be non-zero.")
    c = min(1.0, abs(float(u @ w)) / (nu * nw))
    return float(np.degrees(np.arccos(c)))


def nearest_line_angles(lines, others) -> np.ndarray:
    """For each row of ``lines``, the angle (degrees) to the nearest line among ``others``.

    Parameters
    ----------
    lines : array_like, shape (k, D)
    others : array_like, shape (l, D)

    Returns
    -------
    ndarray, shape (k,)
        NaN everywhere when ``others`` is empty.
    """
    A = canonical_lines(lines) if np.size(lines) else np.empty((0, np.shape(lines)[-1]))
    if np.size(others) == 0:
        return np.full(A.shape[0], np.nan)
    B = canonical_lines(others)
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"`lines` and `others` must live in the same space, got dimensions "
                         f"{A.shape[1]} and {B.shape[1]}.")
    C = np.clip(np.abs(A @ B.T), 0.0, 1.0)
    return np.degrees(np.arccos(C.max(axis=1)))


def _line_clusters(U: np.ndarray, angle_tol: float) -> np.ndarray:
    """Labels 0..k-1 grouping unit vectors into lines: average linkage on arccos|cos|."""
    k = U.shape[0]
    if k == 1:
        return np.zeros(1, dtype=np.int64)
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform
    dist = np.degrees(np.arccos(np.clip(np.abs(U @ U.T), 0.0, 1.0)))
    np.fill_diagonal(dist, 0.0)
    Z = linkage(squareform(dist, checks=False), method="average")
    return fcluster(Z, t=angle_tol, criterion="distance").astype(np.int64) - 1


@dataclass
class CosineMap:
    """Cosine-similarity matrix of the neuron features, reordered so blocks show.

    Attributes
    ----------
    D : ndarray, shape (n, n)
        D(u, v) in the new order: ``D = cosine_similarity(W)[order][:, order]``.
    order : ndarray of int, shape (n,)
        Neuron indices in display order: neurons of one line are contiguous,
        those pointing the same way (D ~ 1) before those pointing the other
        way (D ~ -1); zero features last.
    labels : ndarray of int, shape (n,)
        Line label of each neuron (original order), -1 for zero features.
    angle_tol : float
        Angular tolerance (degrees) used to group features into lines.
    """

    D: np.ndarray
    order: np.ndarray
    labels: np.ndarray
    angle_tol: float

    def plot(self, ax, colorbar: bool = True, title: str | None = None):
        """Heat map of D as in Zhou et al. 2022, Fig. 3 (-1 navy blue ... 1 beige)."""
        im = ax.imshow(self.D, cmap="cividis", vmin=-1.0, vmax=1.0, interpolation="nearest")
        ax.set_xlabel("neuron (reordered)")
        ax.set_ylabel("neuron (reordered)")
        if title:
            ax.set_title(title)
        if colorbar:
            ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04,
                               label="D(u, v), cosine similarity")
        return im


def cosine_map(net_or_W, *, angle_tol: float = 20.0) -> CosineMap:
    """D(u, v) of the neuron features with neurons reordered into blocks (Zhou et al. 2022, Fig. 3).

    Neurons are grouped into lines by average-linkage (UPGMA) clustering on
    the angle between lines arccos|D|, cut at ``angle_tol`` degrees (two groups
    stay apart when their mean pairwise angle exceeds it); groups are listed
    largest first, and inside a group the neurons aligned with the group's
    principal direction come first.

    Parameters
    ----------
    net_or_W : TwoLayer or array_like, shape (n, d+1)
    angle_tol : float
        Grouping tolerance in degrees (0 < angle_tol <= 90).

    Returns
    -------
    CosineMap
    """
    W = _feature_matrix(net_or_W)
    angle_tol = _check_angle(angle_tol)
    D = cosine_similarity(W)
    norm = np.linalg.norm(W, axis=1)
    ok = np.flatnonzero(norm > 0)
    labels = -np.ones(W.shape[0], dtype=np.int64)
    order = []
    if ok.size:
        U = W[ok] / norm[ok, None]
        lab = _line_clusters(U, angle_tol)
        sizes = np.bincount(lab)
        for new, old in enumerate(np.argsort(-sizes, kind="stable")):
            members = ok[lab == old]
            labels[members] = new
            Um = W[members] / norm[members, None]
            axis = np.linalg.eigh(Um.T @ Um)[1][:, -1]
            proj = Um @ axis
            if np.sum(proj > 0) < np.sum(proj < 0):
                proj = -proj
            order.extend(members[np.argsort(-proj, kind="stable")])
    order.extend(np.flatnonzero(norm == 0))
    order = np.asarray(order, dtype=np.int64)
    return CosineMap(D=D[np.ix_(order, order)], order=order, labels=labels, angle_tol=angle_tol)


def _check_angle(angle_tol) -> float:
    angle_tol = v.check_real(angle_tol, "angle_tol", positive=True)
    if angle_tol > 90:
        raise ValueError(f"`angle_tol` is an angle between lines in degrees and must be in "
                         f"(0, 90], got {angle_tol}.")
    return angle_tol


def amplitudes(net: TwoLayer, x=None) -> np.ndarray:
    """How much of the output each neuron carries, shape (n,).

    With data ``x`` (shape (m, d), or (m,) when d = 1): the root-mean-square
    over the points of a_j (sigma(w_j . (x_i, 1)) - sigma(0)), the part of the
    output that depends on the neuron's feature (a neuron of sigmoid or
    softplus also adds the constant a_j sigma(0), which carries no orientation).
    Without data: |a_j| |w_j|, the neuron's scale.
    """
    if not isinstance(net, TwoLayer):
        raise TypeError(f"`net` must be a TwoLayer network, got {type(net).__name__}.")
    if x is None:
        return np.abs(net.a) * np.linalg.norm(net.W, axis=1)
    S = net.features(x)
    s0 = get_activation(net.activation)(np.zeros(1))[0]
    return np.sqrt(np.mean(((S - s0) * net.a[None, :]) ** 2, axis=0))


@dataclass
class Orientations:
    """Lines and orientations of the neurons that carry the output.

    Attributes
    ----------
    n_lines : int
        Number of *counted* lines (u ~ -u): the fewest lines, largest share
        first, that together hold at least ``share`` of the carriers' amplitude
        (all lines among the carriers when ``share`` is 1).
    n_orientations : int
        Number of occupied orientations on the counted lines (one or two each).
    n_lines_all : int
        Number of lines among all carriers, counted or not; the lines beyond
        the first ``n_lines`` hold together at most ``1 - share``.
    lines : ndarray, shape (n_lines_all, d+1)
        Unit vector of each line (principal direction of its members, weighted
        by amplitude, largest |entry| positive), lines sorted by weight.
    weight : ndarray, shape (n_lines_all,)
        Share of the carriers' total amplitude on each line.
    orientations : ndarray of int, shape (n_lines_all,)
        1 or 2: whether the members point one way or both ways.
    spread : ndarray, shape (n_lines_all,)
        Largest angle (degrees) between a member and its line.
    line_of : ndarray of int, shape (n,)
        Line of each neuron, -1 for neurons that do not carry the output.
    sign : ndarray, shape (n,)
        +1 / -1: member along / against its line's vector; 0 for non-carriers.
    amplitude : ndarray, shape (n,)
        The amplitudes of :func:`amplitudes`.
    carriers : ndarray of bool, shape (n,)
        amplitude >= amplitude_threshold * amplitude.max().
    amplitude_threshold, angle_tol, share : float
        The parameters used.
    """

    n_lines: int
    n_orientations: int
    n_lines_all: int
    lines: np.ndarray
    weight: np.ndarray
    orientations: np.ndarray
    spread: np.ndarray
    line_of: np.ndarray
    sign: np.ndarray
    amplitude: np.ndarray
    carriers: np.ndarray
    amplitude_threshold: float
    angle_tol: float
    share: float = 1.0


def count_orientations(net: TwoLayer, x=None, *, amplitude_threshold: float = 0.1,
                       angle_tol: float = 20.0, share: float = 1.0) -> Orientations:
    """Count the lines and orientations the carrying neurons' features condense on.

    A neuron *carries the output* when its amplitude (see :func:`amplitudes`)
    is at least ``amplitude_threshold`` times the largest one.  The carriers'
    features are grouped into lines by average-linkage (UPGMA, as in heat-map
    reordering) clustering on the angle between lines arccos|D(u, v)| (Zhou et al.
    2022, (5)), cut at ``angle_tol``: two groups are one line when their mean
    pairwise angle is below ``angle_tol`` degrees.  Lines are then judged by
    the output they carry: ranked by their share of the carriers' amplitude,
    the fewest that together hold ``share`` of it are counted (a stray neuron
    holding a percent of the output is a thin stripe in the papers' heat maps,
    not a block).  Zhou et al. 2022 (Sec. 4, Proposition 1): at most p lines, 2p
    orientations, for multiplicity p.

    Parameters
    ----------
    net : TwoLayer
    x : array_like, shape (m, d) or (m,), optional
        Data on which amplitudes are measured; recommended.
    amplitude_threshold : float
        Relative amplitude (0 < threshold <= 1) above which a neuron counts.
    angle_tol : float
        Angular tolerance in degrees, in (0, 90].  The default 20 deg is where
        |D| >= cos 20 deg = 0.94, what reads as one uniform block in the papers'
        heat maps (Zhou et al. 2022, Fig. 3).
    share : float
        Share of the carriers' amplitude (0 < share <= 1) the counted lines
        must hold together; 1 counts every line among the carriers.

    Returns
    -------
    Orientations

    Examples
    --------
    >>> import numpy as np, flowlab as fl
    >>> W = np.array([[1.0, 1.0], [-2.0, -2.1], [1.0, -1.0], [1e-3, 0.0]])
    >>> net = fl.TwoLayer(W, np.ones(4), "tanh")
    >>> res = count_orientations(net, np.linspace(-1, 1, 9))
    >>> res.n_lines, res.n_orientations, int(res.carriers.sum())
    (2, 3, 3)
    """
    if not isinstance(net, TwoLayer):
        raise TypeError(f"`net` must be a TwoLayer network, got {type(net).__name__}.")
    thr = v.check_real(amplitude_threshold, "amplitude_threshold", positive=True)
    if thr > 1:
        raise ValueError(f"`amplitude_threshold` is relative to the largest amplitude and must "
                         f"be in (0, 1], got {thr}.")
    angle_tol = _check_angle(angle_tol)
    share = v.check_real(share, "share", positive=True)
    if share > 1:
        raise ValueError(f"`share` is a fraction of the carriers' amplitude and must be in "
                         f"(0, 1], got {share}.")
    amp = amplitudes(net, x)
    W = net.W
    norm = np.linalg.norm(W, axis=1)
    top = amp.max() if amp.size else 0.0
    carriers = (amp >= thr * top) & (norm > 0) & (top > 0)
    n, D1 = W.shape
    line_of = -np.ones(n, dtype=np.int64)
    sign = np.zeros(n)
    idx = np.flatnonzero(carriers)
    if idx.size == 0:
        z = np.zeros(0)
        return Orientations(0, 0, 0, np.zeros((0, D1)), z, np.zeros(0, dtype=np.int64), z,
                            line_of, sign, amp, carriers, thr, angle_tol, share)
    U = W[idx] / norm[idx, None]
    lab = _line_clusters(U, angle_tol)
    lines, weight, orient, spread = [], [], [], []
    for g in range(lab.max() + 1):
        mem = lab == g
        Um, am = U[mem], amp[idx[mem]]
        axis = canonical_lines(np.linalg.eigh((Um * am[:, None] ** 2).T @ Um)[1][:, -1])[0]
        proj = Um @ axis
        lines.append(axis)
        weight.append(am.sum())
        orient.append(1 + int(np.any(proj > 0) and np.any(proj < 0)))
        spread.append(float(np.degrees(np.arccos(np.clip(np.abs(proj).min(), 0.0, 1.0)))))
        sign[idx[mem]] = np.where(proj >= 0, 1.0, -1.0)
        line_of[idx[mem]] = g
    weight = np.asarray(weight)
    rank = np.argsort(-weight, kind="stable")
    remap = np.empty_like(rank)
    remap[rank] = np.arange(rank.size)
    line_of[idx] = remap[line_of[idx]]
    orient = np.asarray(orient, dtype=np.int64)[rank]
    weight = weight[rank] / weight.sum()
    # fewest lines holding `share` (a relative slack absorbs rounding in the cumulative sum)
    counted = min(rank.size, int(np.searchsorted(np.cumsum(weight), share * (1 - 1e-12))) + 1)
    return Orientations(n_lines=counted, n_orientations=int(orient[:counted].sum()),
                        n_lines_all=int(rank.size),
                        lines=np.asarray(lines)[rank], weight=weight,
                        orientations=orient, spread=np.asarray(spread)[rank], line_of=line_of,
                        sign=sign, amplitude=amp, carriers=carriers,
                        amplitude_threshold=thr, angle_tol=angle_tol, share=share)
