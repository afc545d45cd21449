"""Mass (Gram) matrices of sampled functions and their epsilon-rank.

Yang, Zhao & Zhu 2024 measure how linearly independent n functions phi_j are by the
epsilon-rank of their mass matrix M_ij = <phi_i, phi_j>:

- Sec. 4, eq. (11): M ~ D^T W D, D_ki = phi_i(x_k) sampled at quadrature points
  x_k with weights W = diag(w_k) (:func:`mass_matrix`);
- Definition 2.4 / eq. (5): r_eps(M) = #{eigenvalues of M above eps} (:func:`eps_rank`,
  the public ``fl.eps_rank``).

Both :mod:`flowlab.analysis.rank` (the neurons of a network, along a flow) and
:mod:`flowlab.analysis.gram` (the exact Gram matrices of ReLU neurons) build on them.

Examples
--------
>>> import numpy as np
>>> eps_rank(np.diag([1.0, 1e-3, 1e-7]), eps=1e-6)
2
"""

from __future__ import annotations

import numpy as np

from .. import _validate as v

__all__ = ["mass_matrix", "check_symmetric", "eps_rank", "SYMMETRY_RTOL"]

#: Relative asymmetry max|M - M^T| / max|M| accepted as rounding by :func:`eps_rank`.
SYMMETRY_RTOL = 1e-10


def mass_matrix(D, weights=None) -> np.ndarray:
    """M = D^T diag(weights) D, eq. (11) of Yang, Zhao & Zhu 2024.

    Parameters
    ----------
    D : array_like, shape (m, n)
        D[k, i] = phi_i(x_k): n functions sampled at m quadrature points.
    weights : array_like, shape (m,), optional
        Quadrature weights (default: all 1, the plain sum).

    Returns
    -------
    ndarray, shape (n, n)
        Exactly symmetric.  With non-negative weights it is computed as
        (sqrt(w) D)^T (sqrt(w) D), one symmetric rank-k product.
    """
    D = v.as_array(D, "D", ndim=2)
    if weights is None:
        Ds = D
    else:
        w = v.as_array(weights, "weights", ndim=1)
        if w.size != D.shape[0]:
            raise ValueError(f"`weights` must have one entry per row of `D` ({D.shape[0]}), "
                             f"got {w.size}.")
        if np.any(w < 0):
            M = D.T @ (w[:, None] * D)
            return 0.5 * (M + M.T)
        Ds = D * np.sqrt(w)[:, None]
    M = Ds.T @ Ds
    return 0.5 * (M + M.T)


def check_symmetric(M, name: str = "M") -> np.ndarray:
    """``M`` as a float64 square matrix, or ValueError if it is not symmetric (to rounding)."""
    M = v.as_array(M, name, ndim=2)
    if M.shape[0] != M.shape[1]:
        raise ValueError(f"`{name}` must be a square (n, n) matrix, got shape {M.shape}.")
    scale = np.abs(M).max()
    asym = np.abs(M - M.T).max()
    if asym > SYMMETRY_RTOL * scale:
        raise ValueError(f"`{name}` must be symmetric (a mass/Gram matrix), but max|M - M^T| = "
                         f"{asym:.3g} is {asym / scale:.3g} of max|M| (allowed: "
                         f"{SYMMETRY_RTOL:g}); pass (M + M.T)/2 if the asymmetry is rounding, "
                         "or build M with flowlab.analysis.mass_matrix.")
    return M


def eps_rank(M, eps: float = 1e-6) -> int:
    """Number of eigenvalues of the symmetric matrix ``M`` above ``eps`` (Yang, Zhao & Zhu 2024,
    (5)).

    Parameters
    ----------
    M : array_like, shape (n, n)
        Symmetric, e.g. a mass matrix from :func:`mass_matrix`.  Asymmetry
        beyond rounding (relative 1e-10) raises ValueError.
    eps : float
        Threshold (>= 0); Yang, Zhao & Zhu 2024 use 1e-6.  Strict inequality lambda > eps.

    Returns
    -------
    int

    Notes
    -----
    The eigenvalues come from LAPACK's symmetric solver (``eigvalsh``), whose
    absolute error is of order 1e-16 ||M||: an eigenvalue closer than that to
    ``eps`` is counted by its computed value.

    Examples
    --------
    >>> import numpy as np
    >>> eps_rank(np.array([[2.0, 1.0], [1.0, 2.0]]), eps=1.0)   # eigenvalues 3 and 1
    1
    """
    M = check_symmetric(M, "M")
    eps = v.check_real(eps, "eps", nonnegative=True)
    return int(np.count_nonzero(np.linalg.eigvalsh(M) > eps))
