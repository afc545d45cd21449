"""Complete orthogonal decomposition and its column updates (Ainsworth & Shin 2021, Thm. 4.2).

For a matrix A of shape (m, n) and rank r, the complete orthogonal
decomposition (COD) is

    Q^T A Z = [[T, 0], [0, 0]],     Z = [Zh, Zt],

with Q (m, m) and Z (n, n) orthogonal, T (r, r) upper triangular and
non-singular, Zh = Z[:, :r], Zt = Z[:, r:].  It is computed in two LAPACK steps
(Golub & Van Loan, Sec. 5.4.2): a column-pivoted QR, A P = Q R (``dgeqp3``), then
the RZ factorisation of the leading r rows, [R11, R12] = [T, 0] Z1 (``dtzrzf``),
so that Z = P Z1^T.  Only the first r columns Q1 of Q are ever needed (Ainsworth & Shin 2021,
Sec. 4.4, Remark 2), and they are formed only when asked for.

**Rank tolerance.**  The numerical rank r is the number of leading diagonal
entries of R with |R_ii| > rcond * |R_11|, with ``rcond = max(m, n) * eps`` by
default (the cut-off numpy's ``lstsq`` uses for singular values).

**Minimum-norm least squares.**  c = Zh T^{-1} Q1^T y = A^+ y (Ainsworth & Shin 2021, (4.1)).

**Replacing one column** (Ainsworth & Shin 2021, Theorem 4.2): for A~ = A + v e_l^T, the
minimum-norm solution and residual of min ||A~ c - y|| follow from the COD of A
in O(m r) work per candidate instead of a new O(m n^2) factorisation.  Two
cases, by the l-th row of Zt (the component of e_l in the null space of A):

- ||Zt[l]|| > 0: column l is a combination of the others, so col(A~) =
  col(A) + span(v) and ``rss = ||p2||^2 - <p2, q2>^2 / ||q2||^2``;
- ||Zt[l]|| = 0: column l is independent of the others; the paper writes the
  solution with an r x r system (x1 = M_l^+ s_l).

:func:`replace_column` follows the theorem literally for one candidate (both
branches, coefficients included).  :func:`replace_columns_rss` evaluates the
residual of *many* candidates at once: one matrix product G = Q1^T V with the
(m, k) matrix of all column changes, then O(r) work per candidate.  Its second
branch uses an equivalent rank-one form instead of solving M_l x = s_l: with
h_l = T^{-T} Zh[l] (the direction, inside col(A), orthogonal to every other
column), the span of the other columns is col(A) minus Q1 h_l, and

    rss_S   = ||p2||^2 + (h.p1)^2 / ||h||^2                 (without column l)
    ||w||^2 = ||q2||^2 + (1 + h.q1)^2 / ||h||^2             (new column, outside)
    rss     = rss_S - (<p2, q2> + (h.p1)(1 + h.q1)/||h||^2)^2 / ||w||^2,

which costs O(r) per candidate instead of O(r^3).  Both are checked against a
plain ``lstsq`` in tests/train/test_cod.py.

Branch and degeneracy decisions use documented cut-offs: ||Zt[l]|| > ``ztol``
(default sqrt(eps): the rows of Zt of independent columns are zero up to
rounding), and q2 counts as zero when ||q2|| <= rcond * ||v||.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import lapack as _lapack

from .. import _validate as v

__all__ = ["COD", "cod", "ColumnUpdate", "replace_column", "replace_columns_rss"]

_EPS = np.finfo(np.float64).eps
ZTOL = float(np.sqrt(_EPS))


class COD:
    """A complete orthogonal decomposition Q^T A Z = [[T, 0], [0, 0]] of A (m, n).

    Build it with :func:`cod`.  Attributes are read-only by convention.

    Attributes
    ----------
    shape : (int, int)
        (m, n).
    rank : int
        Numerical rank r (see the module notes for the tolerance).
    rcond : float
        The relative rank tolerance used.
    T : ndarray, shape (r, r)
        Upper-triangular, non-singular.
    perm : ndarray of int, shape (n,)
        Column pivoting of the QR step: A[:, perm] = Q R.
    Q1 : ndarray, shape (m, r)
        First r columns of Q (formed on first access).
    Z : ndarray, shape (n, n)
        The orthogonal factor Z (formed on first access); ``Zh = Z[:, :r]``,
        ``Zt = Z[:, r:]``.
    """

    def __init__(self, qr, tau, perm, rank, rcond, rz, tau_z):
        self._qr, self._tau = qr, tau
        self.perm = perm
        self.shape = qr.shape
        self.rank = int(rank)
        self.rcond = float(rcond)
        #: |R_11|, the largest column norm of A: the scale of absolute rank decisions
        self.scale = float(abs(qr[0, 0])) if min(qr.shape) else 0.0
        self._rz, self._tau_z = rz, tau_z
        self._T = None
        self._Q1 = None
        self._Z = None

    @property
    def T(self) -> np.ndarray:
        if self._T is None:
            self._T = np.triu(self._rz[:, : self.rank])
        return self._T

    def solve_t(self, B, trans: bool = False) -> np.ndarray:
        """T^{-1} B (or T^{-T} B) for B of shape (r,) or (r, k)."""
        if self.rank == 0:
            return np.zeros(np.shape(B))
        x, info = _lapack.dtrtrs(self._rz[:, : self.rank], B, lower=0, trans=int(trans))
        _check_info(info, "dtrtrs")
        return x

    @property
    def Q1(self) -> np.ndarray:
        if self._Q1 is None:
            m, r = self.shape[0], self.rank
            if r == 0:
                self._Q1 = np.zeros((m, 0))
            else:
                q, _, info = _lapack.dorgqr(self._qr[:, :r], self._tau[:r], lwork=64 * r)
                _check_info(info, "dorgqr")
                self._Q1 = q
        return self._Q1

    @property
    def Z(self) -> np.ndarray:
        if self._Z is None:
            self._Z = self._apply_z(np.eye(self.shape[1]))
        return self._Z

    @property
    def Zh(self) -> np.ndarray:
        """Z[:, :r] (n, r)."""
        return self.Z[:, : self.rank]

    @property
    def Zt(self) -> np.ndarray:
        """Z[:, r:] (n, n - r): an orthonormal basis of the null space of A."""
        return self.Z[:, self.rank:]

    def _apply_z(self, X) -> np.ndarray:
        """Z @ X for X of shape (n, k), without forming Z."""
        n, r = self.shape[1], self.rank
        X = np.array(X, dtype=np.float64, order="F", copy=True)
        if 0 < r < n:
            X, info = _lapack.dormrz(self._rz, self._tau_z, X, side="L", trans="T",
                                     lwork=64 * max(1, X.shape[1]), overwrite_c=1)
            _check_info(info, "dormrz")
        out = np.empty_like(X)
        out[self.perm] = X
        return np.ascontiguousarray(out)

    def qty(self, y) -> np.ndarray:
        """Q^T y restricted to what the rank fixes: returns (p1, rss) with p1 = Q1^T y (r,)
        and rss = ||y - Q1 p1||^2 (the squared norm of the part of y outside col(A))."""
        m, r = self.shape[0], self.rank
        y = np.asarray(y, dtype=np.float64)
        if r == 0:
            return np.zeros(0), float(y @ y)
        w, _, info = _lapack.dormqr("L", "T", self._qr[:, :r], self._tau[:r],
                                 np.asfortranarray(y.reshape(m, 1)), lwork=64)
        _check_info(info, "dormqr")
        w = w[:, 0]
        return w[:r].copy(), float(w[r:] @ w[r:])

    def solve(self, y) -> tuple[np.ndarray, float]:
        """Minimum-norm least-squares solution c = A^+ y and its residual ||A c - y||^2.

        Parameters
        ----------
        y : array_like, shape (m,)

        Returns
        -------
        c : ndarray, shape (n,)
        rss : float
            Residual sum of squares (no factor 1/2).
        """
        p1, rss = self.qty(y)
        x = np.zeros((self.shape[1], 1))
        if self.rank:
            x[: self.rank, 0] = self.solve_t(p1)
        return self._apply_z(x)[:, 0], rss


def _check_info(info, name):
    if info != 0:  # LAPACK argument errors only: a programming error, never user input
        raise RuntimeError(f"LAPACK {name} failed with info = {info}.")


def cod(A, *, rcond: float | None = None) -> COD:
    """Complete orthogonal decomposition of A (Ainsworth & Shin 2021, Theorem 4.2; Golub & Van Loan
    5.4.2).

    Parameters
    ----------
    A : array_like, shape (m, n)
        Any real matrix (m < n and rank deficiency allowed).
    rcond : float, optional
        Relative rank tolerance: r counts the leading |R_ii| > rcond * |R_11|.
        Default ``max(m, n) * eps``.

    Returns
    -------
    COD

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [1.0, 2.0, 0.0]])
    >>> f = cod(A)
    >>> f.rank
    2
    >>> bool(np.allclose(f.Q1.T @ A @ f.Zh, f.T))
    True
    """
    A = v.as_array(A, "A", ndim=2)
    m, n = A.shape
    if rcond is None:
        rcond = max(m, n) * _EPS
    rcond = v.check_real(rcond, "rcond", nonnegative=True)
    if rcond >= 1:
        raise ValueError(f"`rcond` must be < 1 (a relative tolerance), got {rcond}.")
    qr, jpvt, tau, _, info = _lapack.dgeqp3(A, lwork=2 * n + 64 * (n + 1), overwrite_a=1)
    _check_info(info, "dgeqp3")
    d = np.abs(np.diag(qr))
    r = 0
    if d.size and d[0] > 0:
        small = np.nonzero(d <= rcond * d[0])[0]
        r = int(small[0]) if small.size else d.size
    R = qr[:r, :]                      # dtzrzf reads only the upper trapezoid
    tau_z = np.zeros(r)
    if 0 < r < n:
        R, tau_z, info = _lapack.dtzrzf(R, lwork=64 * r)
        _check_info(info, "dtzrzf")
    return COD(qr, tau, jpvt.astype(np.int64) - 1, r, rcond, R, tau_z)


@dataclass(frozen=True)
class ColumnUpdate:
    """Least-squares solution after replacing one column (Ainsworth & Shin 2021, Theorem 4.2).

    Attributes
    ----------
    c : ndarray, shape (n,)
        Minimum-norm solution of min ||A~ c - y||.
    rss : float
        ||A~ c - y||^2 (no factor 1/2).
    branch : int
        1 when ||Zt[l]|| > 0 (column l dependent on the others), 2 otherwise.
    """

    c: np.ndarray
    rss: float
    branch: int


def _check_column(f: COD, l, vcol, name="v"):
    m, n = f.shape
    l = v.check_int(l, "l", minimum=0)
    if l >= n:
        raise ValueError(f"`l` must be a column index < {n}, got {l}.")
    vcol = v.as_array(vcol, name, ndim=1)
    if vcol.size != m:
        raise ValueError(f"`{name}` must have shape ({m},) like a column of A, got {vcol.shape}.")
    return l, vcol


def replace_column(f: COD, y, l: int, vcol, *, ztol: float = ZTOL) -> ColumnUpdate:
    """Theorem 4.2 of Ainsworth & Shin 2021 for one candidate: A~ = A + v e_l^T.

    Parameters
    ----------
    f : COD
        Decomposition of A (m, n).
    y : array_like, shape (m,)
    l : int
        The column that changes.
    vcol : array_like, shape (m,)
        The change of column l (new column minus old column).
    ztol : float
        ||Zt[l]|| above this selects the first branch.

    Returns
    -------
    ColumnUpdate

    Notes
    -----
    First branch with q2 = 0 (v inside col(A)): every c_l gives the same
    residual.  The paper's proof sets d* = Zh[l] x1, which gives *a* least-squares
    solution; here d* minimises ||c|| over that line (a 1-d quadratic), which is
    the minimum-norm solution.  Second branch: x1 = M_l^+ s_l is computed as the
    minimum-norm solution of the (r+1, r) least-squares problem whose normal
    equations are M_l x = s_l, which avoids squaring the condition number.
    """
    l, vcol = _check_column(f, l, vcol)
    y = v.as_array(y, "y", ndim=1)
    Q1, T, Zh, Zt = f.Q1, f.T, f.Zh, f.Zt
    p1 = Q1.T @ y
    r0 = y - Q1 @ p1
    q1 = Q1.T @ vcol
    q2v = vcol - Q1 @ q1
    q2sq = float(q2v @ q2v)
    pq = float(r0 @ vcol)                      # <p2, q2> = <y - Q1 p1, v>
    rss0 = float(r0 @ r0)                      # ||p2||^2
    q2zero = np.sqrt(q2sq) <= f.rcond * max(np.linalg.norm(vcol), f.scale)
    zt, zh = Zt[l], Zh[l]
    znorm2 = float(zt @ zt)
    if np.sqrt(znorm2) > ztol:
        a = f.solve_t(p1)
        g = f.solve_t(q1)
        if not q2zero:
            d = pq / q2sq
            rss = rss0 - pq * pq / q2sq
        else:
            s = 1.0 + zh @ g
            d = (g @ a + s * (zh @ a) / znorm2) / (g @ g + s * s / znorm2)
            rss = rss0
        x1 = a - d * g
        x2 = (d - zh @ x1) / znorm2 * zt
        return ColumnUpdate(Zh @ x1 + Zt @ x2, max(rss, 0.0), 1)
    Tl = T + np.outer(q1, zh)
    if q2zero:
        K, rhs, rest = Tl, p1, rss0
    else:
        qn = np.sqrt(q2sq)
        K = np.vstack([Tl, qn * zh[None, :]])
        rhs = np.concatenate([p1, [pq / qn]])
        rest = rss0 - pq * pq / q2sq
    x1 = _min_norm_lstsq(K, rhs, f.rcond * f.scale)
    res = K @ x1 - rhs
    return ColumnUpdate(Zh @ x1, max(float(res @ res) + rest, 0.0), 2)


def _min_norm_lstsq(K, rhs, cutoff):
    """Minimum-norm solution of min ||K x - rhs|| by SVD, singular values <= cutoff dropped
    (an absolute cut-off on the scale of A, so that a K that is zero up to rounding gives 0)."""
    if K.size == 0:
        return np.zeros(K.shape[1])
    U, s, Vt = np.linalg.svd(K, full_matrices=False)
    keep = s > max(cutoff, s[0] * _EPS * max(K.shape))
    return Vt[keep].T @ ((U[:, keep].T @ rhs) / s[keep])


def replace_columns_rss(f: COD, y, cols, V, *, ztol: float = ZTOL):
    """Residuals of many one-column replacements at once (Ainsworth & Shin 2021, Theorem 4.2).

    Candidate i replaces column ``cols[i]`` of A by ``A[:, cols[i]] + V[:, i]``.

    Parameters
    ----------
    f : COD
        Decomposition of A (m, n).
    y : array_like, shape (m,)
    cols : array_like of int, shape (k,)
    V : array_like, shape (m, k)
        Column changes.
    ztol : float
        Branch cut-off on ||Zt[l]||.

    Returns
    -------
    rss : ndarray, shape (k,)
        ||A~_i c_i - y||^2 of each candidate's minimum-norm solution (no factor 1/2).
    branch : ndarray of int, shape (k,)
        1 or 2, the case of Theorem 4.2 used.

    Notes
    -----
    One matrix product G = Q1^T V (r, k) does the O(m r k) work; the rest is
    O(r) per candidate (the second branch in the rank-one form of the module
    notes).  ||q2||^2 = ||v||^2 - ||G_i||^2 is recomputed explicitly, as
    ||V_i - Q1 G_i||^2, for the few candidates where that difference cancels.
    """
    m, n = f.shape
    y = v.as_array(y, "y", ndim=1)
    cols = np.asarray(cols, dtype=np.int64)
    V = np.asarray(V, dtype=np.float64)
    if V.ndim != 2 or V.shape != (m, cols.size):
        raise ValueError(f"`V` must have shape ({m}, {cols.size}) (one column change per "
                         f"entry of `cols`), got {V.shape}.")
    if cols.size and (cols.min() < 0 or cols.max() >= n):
        raise ValueError(f"`cols` must hold column indices in [0, {n}).")
    r = f.rank
    Q1 = f.Q1
    p1 = Q1.T @ y
    r0 = y - Q1 @ p1
    rss0 = float(r0 @ r0)
    G = Q1.T @ V
    vv = np.einsum("ij,ij->j", V, V)
    q2sq = vv - np.einsum("ij,ij->j", G, G)
    redo = q2sq <= 1e-4 * vv
    if redo.any():
        W = V[:, redo] - Q1 @ G[:, redo]
        q2sq[redo] = np.einsum("ij,ij->j", W, W)
    q2sq = np.maximum(q2sq, 0.0)
    pq = r0 @ V
    q2zero = np.sqrt(q2sq) <= f.rcond * np.maximum(np.sqrt(vv), f.scale)
    safe = np.where(q2zero, 1.0, q2sq)
    gain1 = np.where(q2zero, 0.0, pq * pq / safe)
    Zt = f.Zt
    znorm = np.sqrt(np.einsum("ij,ij->i", Zt, Zt))[cols]
    first = znorm > ztol
    rss = rss0 - gain1
    second = ~first
    if second.any() and r:
        c2 = cols[second]
        H = f.solve_t(f.Zh[c2].T, trans=True)
        hh = np.einsum("ij,ij->j", H, H)
        hp = H.T @ p1
        a = 1.0 + np.einsum("ij,ij->j", H, G[:, second])
        rss_s = rss0 + hp * hp / hh
        ww = q2sq[second] + a * a / hh
        num = pq[second] + hp * a / hh
        new = f.T @ f.Zh[c2].T + G[:, second]          # Q1^T (new column l)
        new_norm2 = np.einsum("ij,ij->j", new, new) + q2sq[second]
        wzero = np.sqrt(ww) <= f.rcond * np.maximum(np.sqrt(new_norm2), f.scale)
        rss[second] = rss_s - np.where(wzero, 0.0, num * num / np.where(wzero, 1.0, ww))
    branch = np.where(first, 1, 2)
    return np.maximum(rss, 0.0), branch
