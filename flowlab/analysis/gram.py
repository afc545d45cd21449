"""Gram matrices of ReLU neurons: exact in 1-d, by quadrature in d >= 2; their spectra.

Zhao 2023 ("Spectral analysis for the Gram matrix of
ReLU basis") studies G_ij = <sigma(w_i . x - b_i), sigma(w_j . x - b_j)>_D:

- in 1-d with w = 1 on D = (-1, 1) the kernel is
  G(x, y) = (|x - y|^3 + (2 - x - y)(2(1 - x)(1 - y) - (x - y)^2)) / 12
  (:func:`relu_kernel_unit`), whose eigenvalues decay like k^-4, and the
  condition number of G for n i.i.d. biases is at least of order n^3 / log n;
- in R^d the eigenvalues decay like k^-(d+3)/d.

:func:`relu_gram_1d` gives the exact Gram matrix for any weights w (any sign,
zero included) and any interval; :func:`relu_gram_factor_1d` a factor R with
G = R^T R that keeps the tiny eigenvalues accurate (they are squared singular
values of R); :func:`relu_gram_quadrature` the Gram matrix of ridge neurons in
any dimension from a :class:`~flowlab.analysis._quadrature.Quadrature`.
:func:`gram_spectrum` and :func:`fit_decay` give spectra and power-law decay
exponents with confidence intervals; :func:`adaptive_biases` Zhao's (2023)
equidistributed biases F(b_i) = (i - 1)/(n - 1); :func:`linear_flow` the
closed-form gradient flow of the output weights, da/dt = -G a + f, in the
eigenbasis of G (Zhao 2023, "Learning dynamics based on gradient flow: linear").

Conventions: neurons are relu(w_j x - b_j) (Zhao 2023; ``ReLU1D`` uses the same
signs), inner products are plain L2(D) integrals (no 1/|D|).

Examples
--------
>>> import numpy as np
>>> from flowlab.analysis.gram import relu_gram_1d, relu_kernel_unit
>>> b = np.array([-0.5, 0.0, 0.25])
>>> bool(np.allclose(relu_gram_1d(b), relu_kernel_unit(b[:, None], b[None, :]), rtol=1e-14))
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg

from .. import _validate as v
from .._kernels import gram as _kg
from ..models import Network, ReLU1D
from .mass import check_symmetric, mass_matrix
from ._quadrature import Quadrature, _domain, composite_gauss_legendre

__all__ = ["relu_gram_1d", "relu_gram_factor_1d", "relu_load_1d", "relu_kernel_unit",
           "relu_gram_quadrature", "relu_knots", "GramSpectrum", "gram_spectrum",
           "extreme_eigenvalues", "PowerFit",
           "fit_power_law", "fit_decay", "adaptive_biases", "LinearFlow", "linear_flow",
           "linear_flow_from_data"]


def _interval(interval) -> tuple[float, float]:
    dom, is_interval = _domain(interval)
    if not is_interval:
        raise ValueError(f"`interval` must be a pair (lo, hi), got {interval!r}.")
    return dom[0]


def _weights_biases(b, w):
    b = v.as_array(b, "b", ndim=1)
    if w is None:
        w = np.ones_like(b)
    else:
        w = v.as_array(w, "w", ndim=1)
        if w.shape != b.shape:
            raise ValueError(f"`w` must have the shape {b.shape} of `b`, got {w.shape}; pass "
                             "w=None for unit weights.")
    return b, w


def relu_knots(b, w=None, interval=(-1.0, 1.0)) -> np.ndarray:
    """Sorted distinct knots b_j / w_j strictly inside ``interval`` (w_j != 0 only)."""
    b, w = _weights_biases(b, w)
    lo, hi = _interval(interval)
    nz = w != 0
    k = b[nz] / w[nz]
    return np.unique(k[(k > lo) & (k < hi)])


def relu_gram_1d(b, w=None, interval=(-1.0, 1.0)) -> np.ndarray:
    """Exact Gram matrix G_ij = int relu(w_i x - b_i) relu(w_j x - b_j) dx over ``interval``.

    Parameters
    ----------
    b : array_like, shape (n,)
        Biases (b_j / w_j is the knot of neuron j).
    w : array_like, shape (n,), optional
        Input weights of any sign (0 gives the constant relu(-b_j)); None: all 1,
        the case of Zhao's (2023) kernel (:func:`relu_kernel_unit`).
    interval : (lo, hi)
        The domain D.

    Returns
    -------
    ndarray, shape (n, n)
        Exactly symmetric, positive semi-definite.  Each entry is the closed
        form on the overlap of the two active intervals (Simpson's rule, a sum
        of non-negative terms; see :mod:`flowlab._kernels.gram`), within about
        1e-15 relative of exact rational integration; O(n^2) work.

    Examples
    --------
    >>> relu_gram_1d([0.0], [-2.0], (-1.0, 1.0))   # int_-1^0 (2x)^2 dx = 4/3
    array([[1.33333333]])
    """
    b, w = _weights_biases(b, w)
    lo, hi = _interval(interval)
    n = b.size
    G = np.empty((n, n))
    starts, ends, knots = np.empty(n), np.empty(n), np.empty(n)       # work arrays
    _kg.relu_gram_1d(w, b, lo, hi, starts, ends, knots, G)
    return G


def relu_kernel_unit(x, y):
    """Zhao's (2023) closed-form kernel: int_-1^1 relu(z - x) relu(z - y) dz for x, y in [-1, 1].

    G(x, y) = (|x - y|^3 + (2 - x - y)(2(1 - x)(1 - y) - (x - y)^2)) / 12, broadcast over
    ``x`` and ``y``.  It suffers cancellation when both x, y are near 1; prefer
    :func:`relu_gram_1d`, which agrees with it elsewhere to rounding.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if np.any(np.abs(x) > 1) or np.any(np.abs(y) > 1):
        raise ValueError("`x` and `y` must lie in [-1, 1] (the kernel holds for biases in D).")
    d = x - y
    return (np.abs(d) ** 3 + (2 - x - y) * (2 * (1 - x) * (1 - y) - d * d)) / 12.0


def relu_gram_factor_1d(b, w=None, interval=(-1.0, 1.0)) -> np.ndarray:
    """A factor R with R^T R = G = :func:`relu_gram_1d` ``(b, w, interval)``.

    Every neuron is piecewise linear with breaks at the knots, so it equals its
    interpolant in the P1 finite-element (hat) basis on the mesh of the knots
    and the interval ends: relu(w_j x - b_j) = sum_k C_kj hat_k(x) with
    C_kj = relu(w_j x_k - b_j).  Then G = C^T M C with M the (tridiagonal) P1
    mass matrix, and R = U C with M = U^T U (banded Cholesky).  The eigenvalues of G are the
    squared singular values of R, which an SVD gives to an absolute accuracy of
    about eps * sigma_1, i.e. lambda_k to eps^2 * lambda_1 instead of
    eps * lambda_1: the route to condition numbers beyond 1e16 (Zhao's (2023)
    cond >= n^3 / log n for random biases).

    Returns
    -------
    ndarray, shape (N, n)
        N = number of mesh nodes (distinct knots inside the interval + 2).
    """
    b, w = _weights_biases(b, w)
    lo, hi = _interval(interval)
    nodes = np.concatenate([[lo], relu_knots(b, w, (lo, hi)), [hi]])
    C = np.maximum(np.multiply.outer(nodes, w) - b[None, :], 0.0)
    h = np.diff(nodes)
    band = np.zeros((2, nodes.size))            # upper banded storage of M
    band[1, :-1] += h / 3.0
    band[1, 1:] += h / 3.0
    band[0, 1:] = h / 6.0
    U = linalg.cholesky_banded(band, lower=False)   # M = U^T U
    R = U[1][:, None] * C
    R[:-1] += U[0][1:, None] * C[1:]
    return R


def relu_load_1d(func, b, w=None, interval=(-1.0, 1.0), *, nodes: int = 8) -> np.ndarray:
    """Load vector f_j = int func(x) relu(w_j x - b_j) dx over ``interval``.

    Composite Gauss-Legendre with ``nodes`` points on every cell between the
    knots (the integrand is smooth on each cell when ``func`` is).

    Parameters
    ----------
    func : callable
        Vectorised target, func(x) with x of shape (m,).
    """
    b, w = _weights_biases(b, w)
    lo, hi = _interval(interval)
    if not callable(func):
        raise TypeError("`func` must be a callable f(x) on arrays of points.")
    q = composite_gauss_legendre(relu_knots(b, w, (lo, hi)), nodes, domain=(lo, hi))
    fx = np.asarray(func(q.points), dtype=np.float64)
    if fx.shape != q.points.shape:
        raise ValueError(f"`func` must return one value per point (shape {q.points.shape}), "
                         f"got shape {fx.shape}.")
    A = np.maximum(np.multiply.outer(q.points, w) - b[None, :], 0.0)
    return A.T @ (q.weights * fx)


def relu_gram_quadrature(directions, b, quad: Quadrature) -> np.ndarray:
    """Gram matrix of ridge neurons relu(w_j . x - b_j) by the rule ``quad`` (any dimension).

    Parameters
    ----------
    directions : array_like, shape (n, d)
        Weights w_j (Zhao 2023 takes them on the unit sphere).
    b : array_like, shape (n,)
    quad : Quadrature
        A rule on the domain, of dimension d (e.g. ``gauss_legendre(40, [(-1, 1)] * 2)``).

    Returns
    -------
    ndarray, shape (n, n)
        sum_k w_k relu(w_i . x_k - b_i) relu(w_j . x_k - b_j) (Yang, Zhao & Zhu 2024, (11)).
        Kinks make tensor rules converge only algebraically; check the
        spectrum you need against a refined rule.
    """
    W = v.as_array(directions, "directions", ndim=2)
    b = v.as_array(b, "b", ndim=1)
    if not isinstance(quad, Quadrature):
        raise TypeError("`quad` must be a flowlab.analysis.Quadrature (e.g. gauss_legendre).")
    if W.shape[0] != b.size:
        raise ValueError(f"`directions` has {W.shape[0]} rows but `b` has {b.size} entries; "
                         "give one direction per neuron.")
    X = quad.points.reshape(quad.size, -1)
    if X.shape[1] != W.shape[1]:
        raise ValueError(f"`directions` are {W.shape[1]}-dimensional but `quad` lives in "
                         f"dimension {X.shape[1]}.")
    D = np.maximum(X @ W.T - b[None, :], 0.0)
    return mass_matrix(D, quad.weights)


# -- spectra and power laws -------------------------------------------------------------


@dataclass(frozen=True)
class GramSpectrum:
    """Eigen-decomposition of a Gram matrix, eigenvalues in descending order.

    Attributes
    ----------
    eigenvalues : ndarray, shape (n,)
        lambda_1 >= ... >= lambda_n.
    eigenvectors : ndarray, shape (n, n) or None
        Column k is the unit eigenvector g_k of lambda_k.
    method : {"eigh", "svd"}
        "svd": squared singular values of a factor R (G = R^T R), accurate to
        about eps^2 lambda_1; "eigh": symmetric eigensolver, accurate to eps lambda_1.
    """

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray | None
    method: str

    @property
    def condition(self) -> float:
        """lambda_1 / lambda_n (inf when lambda_n <= 0)."""
        lo = self.eigenvalues[-1]
        return float(self.eigenvalues[0] / lo) if lo > 0 else float("inf")

    def rank(self, eps: float = 1e-6) -> int:
        """Number of eigenvalues above ``eps`` (Yang, Zhao & Zhu 2024, Definition 2.4)."""
        eps = v.check_real(eps, "eps", nonnegative=True)
        return int(np.count_nonzero(self.eigenvalues > eps))


def gram_spectrum(G=None, *, factor=None, vectors: bool = True) -> GramSpectrum:
    """Spectrum of a Gram matrix ``G`` (symmetric), or of R^T R from a ``factor`` R.

    Parameters
    ----------
    G : array_like, shape (n, n), optional
    factor : array_like, shape (N, n), optional
        E.g. :func:`relu_gram_factor_1d`; the eigenvalues are then squared
        singular values, exact down to eps^2 lambda_1 (give exactly one of G, factor).
    vectors : bool
        Also return the eigenvectors.
    """
    if (G is None) == (factor is None):
        raise ValueError("give exactly one of `G` (a Gram matrix) and `factor` (R with G = R^T R).")
    if G is not None:
        G = check_symmetric(G, "G")
        if vectors:
            lam, vec = np.linalg.eigh(G)
            return GramSpectrum(lam[::-1].copy(), vec[:, ::-1].copy(), "eigh")
        return GramSpectrum(np.linalg.eigvalsh(G)[::-1].copy(), None, "eigh")
    R = v.as_array(factor, "factor", ndim=2)
    N, n = R.shape
    if not vectors:
        s = linalg.svd(R, compute_uv=False)
        lam = np.zeros(n)
        lam[:s.size] = s * s
        return GramSpectrum(lam, None, "svd")
    _, s, Vt = linalg.svd(R, full_matrices=N < n)
    lam = np.zeros(n)
    lam[:s.size] = s * s
    return GramSpectrum(lam, Vt.T.copy(), "svd")


def extreme_eigenvalues(factor) -> tuple[float, float]:
    """Largest and smallest eigenvalue of G = R^T R, from the factor R alone.

    R = QT (Householder QR, backward stable), then lambda_max and lambda_min
    are the extreme eigenvalues of T^T T and of (T^T T)^-1 (Lanczos, ARPACK,
    two triangular solves per step).  Like the SVD of R it resolves lambda_min
    down to about eps^2 lambda_max, in O(n^3 / 3) flops with a small constant.

    Parameters
    ----------
    factor : array_like, shape (N, n)
        E.g. :func:`relu_gram_factor_1d`.
    """
    from scipy.sparse.linalg import LinearOperator, eigsh
    R = v.as_array(factor, "factor", ndim=2)
    N, n = R.shape
    T = linalg.qr(R, mode="r", check_finite=False)[0][:min(N, n)]
    if n <= 64 or N < n:
        s = linalg.svd(T, compute_uv=False)
        return float(s[0] ** 2), float(s[-1] ** 2) if N >= n else 0.0
    if np.any(np.diag(T) == 0):
        return float(linalg.svd(T, compute_uv=False)[0] ** 2), 0.0
    v0 = np.ones(n)
    fwd = LinearOperator((n, n), matvec=lambda x: T.T @ (T @ x), dtype=np.float64)
    inv = LinearOperator((n, n), dtype=np.float64, matvec=lambda x: linalg.solve_triangular(
        T, linalg.solve_triangular(T, x, trans="T", check_finite=False), check_finite=False))
    big = eigsh(fwd, k=1, which="LM", v0=v0, tol=1e-12, return_eigenvectors=False)[0]
    small = 1.0 / eigsh(inv, k=1, which="LM", v0=v0, tol=1e-12, return_eigenvectors=False)[0]
    return float(big), float(small)


@dataclass(frozen=True)
class PowerFit:
    """Least-squares fit log y = log prefactor + exponent * log x.

    ``ci`` is the ``level`` confidence interval of the exponent from the
    t-distribution of the regression; it measures how well one power law
    describes the points in the window, not a sampling error of the data.
    """

    exponent: float
    prefactor: float
    stderr: float
    ci: tuple
    level: float
    x_range: tuple
    points: int

    def __call__(self, x):
        """The fitted power law at ``x``."""
        return self.prefactor * np.asarray(x, dtype=np.float64) ** self.exponent


def fit_power_law(x, y, *, level: float = 0.95) -> PowerFit:
    """Fit y ~ C x^p by linear least squares in log-log coordinates (x, y > 0, >= 3 points)."""
    from scipy import stats
    x = v.as_array(x, "x", ndim=1)
    y = v.as_array(y, "y", ndim=1)
    if x.shape != y.shape or x.size < 3:
        raise ValueError(f"`x` and `y` must have the same shape with at least 3 points, got "
                         f"{x.shape} and {y.shape}.")
    if np.any(x <= 0) or np.any(y <= 0):
        raise ValueError("a power-law fit needs x > 0 and y > 0; drop non-positive values "
                         "(e.g. eigenvalues below rounding) first.")
    level = v.check_real(level, "level", positive=True)
    if level >= 1:
        raise ValueError(f"`level` must be in (0, 1), got {level}.")
    lx, ly = np.log(x), np.log(y)
    A = np.column_stack([np.ones_like(lx), lx])
    coef, *_ = np.linalg.lstsq(A, ly, rcond=None)
    res = ly - A @ coef
    dof = x.size - 2
    sxx = np.sum((lx - lx.mean()) ** 2)
    stderr = float(np.sqrt(res @ res / dof / sxx)) if dof > 0 and sxx > 0 else float("nan")
    half = float(stats.t.ppf(0.5 + level / 2, dof)) * stderr
    p = float(coef[1])
    return PowerFit(p, float(np.exp(coef[0])), stderr, (p - half, p + half), level,
                    (float(x.min()), float(x.max())), int(x.size))


def fit_decay(eigenvalues, k_min: int = 1, k_max: int | None = None, *,
              level: float = 0.95) -> PowerFit:
    """Decay exponent p of lambda_k ~ C k^p over k_min <= k <= k_max (1-based k).

    ``eigenvalues`` are sorted in descending order first.  Zhao 2023 predicts
    p = -4 in 1-d and p = -(d + 3)/d in d dimensions.
    """
    lam = np.sort(v.as_array(eigenvalues, "eigenvalues", ndim=1))[::-1]
    k_min = v.check_int(k_min, "k_min", minimum=1)
    k_max = lam.size if k_max is None else v.check_int(k_max, "k_max", minimum=k_min + 2)
    if k_max > lam.size:
        raise ValueError(f"`k_max` = {k_max} exceeds the number of eigenvalues {lam.size}.")
    k = np.arange(k_min, k_max + 1)
    window = lam[k_min - 1:k_max]
    if np.any(window <= 0):
        first = k_min + int(np.argmax(window <= 0))
        raise ValueError(f"eigenvalue {first} is <= 0 (rounding level); choose k_max < {first}.")
    return fit_power_law(k, window, level=level)


def adaptive_biases(n: int, derivative, interval=(-1.0, 1.0), *, grid: int = 200001):
    """Zhao's (2023) adaptive biases: F(b_i) = (i - 1)/(n - 1), F(x) = int_lo^x |f'| / int |f'|.

    Parameters
    ----------
    n : int
        Number of biases (>= 2); b_1 = lo and b_n = hi.
    derivative : callable
        f' on arrays (its absolute value is the bias density).
    grid : int
        Points of the uniform grid on which F is tabulated (trapezoidal
        cumulative integral) and inverted by linear interpolation.

    Examples
    --------
    >>> import numpy as np
    >>> b = adaptive_biases(5, lambda x: 25 / (1 + 625 * x**2))   # f = arctan(25 x)
    >>> bool(abs(b[2]) < 1e-12 and b[0] == -1.0 and b[-1] == 1.0)
    True
    """
    n = v.check_int(n, "n", minimum=2)
    grid = v.check_int(grid, "grid", minimum=3)
    lo, hi = _interval(interval)
    if not callable(derivative):
        raise TypeError("`derivative` must be a callable f'(x) on arrays.")
    x = np.linspace(lo, hi, grid)
    g = np.abs(np.asarray(derivative(x), dtype=np.float64))
    if g.shape != x.shape or not np.all(np.isfinite(g)):
        raise ValueError("`derivative` must return finite values, one per point.")
    F = np.concatenate([[0.0], np.cumsum(0.5 * (g[1:] + g[:-1]) * np.diff(x))])
    if F[-1] <= 0:
        raise ValueError("|f'| integrates to 0 on `interval`: no density to equidistribute.")
    F /= F[-1]
    keep = np.concatenate([[True], np.diff(F) > 0])     # strictly increasing table
    b = np.interp(np.arange(n) / (n - 1), F[keep], x[keep])
    b[0], b[-1] = lo, hi
    return b


# -- linear gradient flow of the output weights ------------------------------------------


@dataclass(frozen=True)
class LinearFlow:
    """Closed-form solution of da/dt = -G a + f in the eigenbasis of G.

    With (lambda_k, g_k) the eigenpairs of G, a_hat_k = g_k . a and f_hat_k = g_k . f,

        a_hat_k(t) = a_hat_k(0) exp(-lambda_k t) + f_hat_k (1 - exp(-lambda_k t)) / lambda_k,

    which is Zhao's (2023) solution (a_hat_k(0) - f_hat_k/lambda_k) e^{-lambda_k t} +
    f_hat_k/lambda_k written so that it stays exact as lambda_k -> 0 (then a_hat_k grows like
    f_hat_k t). Mode k needs a time of order 1/lambda_k (:attr:`mode_times`) to converge.

    Attributes
    ----------
    eigenvalues : ndarray, shape (n,), descending
    eigenvectors : ndarray, shape (n, n), columns g_k
    a0_hat, f_hat : ndarray, shape (n,)
    offset : float or None
        c in the energy E(a) = 1/2 a^T G a - f^T a + c (e.g. 1/2 ||f_target||^2),
        needed by :meth:`loss`.
    """

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    a0_hat: np.ndarray
    f_hat: np.ndarray
    offset: float | None = None

    @property
    def mode_times(self) -> np.ndarray:
        """1/lambda_k, the time scale of mode k (inf where lambda_k <= 0)."""
        lam = self.eigenvalues
        with np.errstate(divide="ignore"):
            return np.where(lam > 0, 1.0 / np.where(lam > 0, lam, 1.0), np.inf)

    def modes(self, t) -> np.ndarray:
        """a_hat(t): shape (n,) for scalar t, (len(t), n) otherwise."""
        tt = np.atleast_1d(np.asarray(t, dtype=np.float64))
        if np.any(~np.isfinite(tt)) or np.any(tt < 0):
            raise ValueError("`t` must be finite and >= 0.")
        lt = np.multiply.outer(tt, self.eigenvalues)
        lam = self.eigenvalues
        safe = np.where(lam != 0, lam, 1.0)
        phi = np.where(lam != 0, -np.expm1(-lt) / safe, tt[:, None])    # (1 - e^{-lt}) / l
        out = self.a0_hat * np.exp(-lt) + self.f_hat * phi
        return out[0] if np.ndim(t) == 0 else out

    def coefficients(self, t) -> np.ndarray:
        """a(t) = sum_k a_hat_k(t) g_k: shape (n,) or (len(t), n)."""
        return self.modes(t) @ self.eigenvectors.T

    def loss(self, t) -> np.ndarray | float:
        """E(a(t)) = sum_k (lambda_k a_hat_k^2 / 2 - f_hat_k a_hat_k) + offset."""
        if self.offset is None:
            raise ValueError("this LinearFlow has no `offset`; build it with offset=... (or "
                             "linear_flow_from_data) to evaluate the loss.")
        ah = np.atleast_2d(self.modes(t))
        E = ah ** 2 @ (0.5 * self.eigenvalues) - ah @ self.f_hat + self.offset
        return float(E[0]) if np.ndim(t) == 0 else E


def linear_flow(G, f, a0, *, offset: float | None = None) -> LinearFlow:
    """The gradient flow da/dt = -G a + f from a(0) = ``a0``, solved in G's eigenbasis.

    Parameters
    ----------
    G : array_like, shape (n, n)
        Symmetric (a Gram matrix <psi_i, psi_j>).
    f : array_like, shape (n,)
        Load vector <f_target, psi_i>.
    a0 : array_like, shape (n,)
    offset : float, optional
        Constant of the energy, 1/2 ||f_target||^2, for :meth:`LinearFlow.loss`.

    Examples
    --------
    >>> import numpy as np
    >>> fl_ = linear_flow(np.diag([2.0, 0.0]), [2.0, 1.0], [0.0, 0.0])
    >>> np.round(fl_.coefficients(1.0), 6)   # [1 - e^-2, t]
    array([0.864665, 1.      ])
    """
    G = check_symmetric(G, "G")
    n = G.shape[0]
    f = v.as_array(f, "f", ndim=1)
    a0 = v.as_array(a0, "a0", ndim=1)
    if f.shape != (n,) or a0.shape != (n,):
        raise ValueError(f"`f` and `a0` must have shape ({n},) like G's side, got {f.shape} "
                         f"and {a0.shape}.")
    lam, vec = np.linalg.eigh(G)
    lam, vec = lam[::-1].copy(), vec[:, ::-1].copy()
    off = None if offset is None else v.check_real(offset, "offset")
    return LinearFlow(lam, vec, vec.T @ a0, vec.T @ f, off)


def linear_flow_from_data(net, x, y, loss: str = "sum") -> LinearFlow:
    """The flow of ``fl.flow(net, x, y, T, loss=loss, trainable=<output weights>)`` in closed form.

    With the hidden layer frozen the loss is quadratic in the output weights
    (``a`` of a TwoLayer, ``c`` of a ReLU1D): with Phi = net.features(x) and
    s = 1 ("sum") or 1/m ("mean"), G = s Phi^T Phi, f = s Phi^T y and
    offset = s/2 ||y||^2, so that :meth:`LinearFlow.loss` is the flow's loss.
    This is Zhao's (2023) linear gradient flow with the L2(D) inner product
    replaced by the data sum (a quadrature with unit weights).
    """
    if not isinstance(net, Network):
        raise TypeError(f"`net` must be a ReLU1D or TwoLayer network, got {type(net).__name__}.")
    loss = v.check_loss(loss)
    Phi = net.features(x)
    y = v.as_array(y, "y", ndim=1)
    if y.size != Phi.shape[0]:
        raise ValueError(f"`y` must have one value per point of `x` ({Phi.shape[0]}), "
                         f"got {y.size}.")
    s = v.loss_scale(loss, y.size)
    a0 = net.c if isinstance(net, ReLU1D) else net.a
    G = s * (Phi.T @ Phi)
    return linear_flow(0.5 * (G + G.T), s * (Phi.T @ y), a0, offset=0.5 * s * float(y @ y))
