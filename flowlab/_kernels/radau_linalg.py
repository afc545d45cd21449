"""Radau IIA (order 5): its tableau, and the linear algebra of its simplified Newton
iteration (the Jacobian, eigen-decomposed when it is symmetric, else two LU
factorisations, one complex; see :mod:`flowlab._kernels.radau`).
"""

import math
from collections import namedtuple

import numba as nb
import numpy as np

from .._config import INLINE_OPTIONS, NUMBA_OPTIONS
from .internal import internal
from .hooks import model_jac
from .linalg import lu_factor, lu_solve


def _tableau():
    """Radau IIA(5) constants, derived from the collocation conditions."""
    s6 = math.sqrt(6.0)
    c = np.array([(4.0 - s6) / 10.0, (4.0 + s6) / 10.0, 1.0])
    V = np.vander(c, 3, increasing=True)                 # V[i, k] = c_i^k
    # A[i, j] = int_0^{c_i} l_j(s) ds with l_j the Lagrange basis on c
    coef = np.linalg.inv(V)                               # l_j(s) = sum_k coef[k, j] s^k
    A = np.array([[sum(coef[k, j] * ci ** (k + 1) / (k + 1) for k in range(3))
                   for j in range(3)] for ci in c])
    Ainv = np.linalg.inv(A)
    lam, vec = np.linalg.eig(Ainv)
    r = int(np.argmin(np.abs(lam.imag)))
    cpx = int(np.argmax(lam.imag))                        # alpha + i beta, beta > 0
    mu_real = lam[r].real
    v = vec[:, r].real / vec[2, r].real
    u = vec[:, cpx] / vec[2, cpx]                         # normalise: last entry 1
    T = np.column_stack([v, u.real, u.imag])
    TI = np.linalg.inv(T)
    mu_cplx = lam[cpx].real - 1j * lam[cpx].imag          # acts on W1 + i W2 as alpha - i beta
    # embedded order-3 weights with gamma0 = 1/mu_real at the node 0
    g0 = 1.0 / mu_real
    bhat = np.linalg.solve(V.T, np.array([1.0 - g0, 0.5, 1.0 / 3.0]))
    E = mu_real * (bhat - A[2]) @ Ainv
    return c, A, T, TI, mu_real, mu_cplx, E


C, A_RADAU, T, TI, MU_REAL, MU_COMPLEX, E = _tableau()
TI_REAL = TI[0].copy()
TI_COMPLEX = TI[1] + 1j * TI[2]


#: The linear-solver state of :func:`flowlab._kernels.radau.run` (built by :func:`new_lin`).
#: Flags (int64 arrays of length 1, set and read at run time): ``sym`` the Jacobian is
#: symmetric up to the diagonal scaling ``dh`` and diagonalised, ``factored`` the solves
#: are prepared for the step size ``h`` (length 1), ``has_jac`` ``J`` holds a Jacobian,
#: ``after_event`` the last run ended at an event (the next one sizes its first step from
#: the jump of the field: ``f_event`` is the field at the event state before the switch).
#: The Jacobian ``J`` (n, n), ``dh`` (n,) and, when ``sym``, the eigenvalues ``lam`` (n,)
#: and eigenvectors ``V`` (n, n) of diag(dh) J diag(dh)^-1, with their transpose ``VT`` (both
#: products of a solve then run along contiguous rows, as vectorisable axpy loops) and,
#: for the current h, ``inv_real`` = 1/(mu_real/h - lam_k) and the real and imaginary
#: parts ``inv_complex_re``, ``inv_complex_im`` of 1/(mu_complex/h - lam_k) (no divisions
#: in the solves); otherwise the LU factors of (mu_real/h I - J) (``lu_real``,
#: ``piv_real``) and of (mu_complex/h I - J) (``lu_complex``, ``piv_complex``).  Work
#: rows of the solves: ``scaled`` (3, n), vectors in the scaled coordinates diag(dh) b,
#: and ``coef`` (3, n), their coefficients in the eigenvector basis.
Lin = namedtuple("Lin", ["sym", "factored", "has_jac", "after_event", "h", "J", "dh", "lam",
                         "V", "VT", "inv_real", "inv_complex_re", "inv_complex_im", "lu_real",
                         "piv_real", "lu_complex", "piv_complex", "scaled", "coef",
                         "f_event"])


@nb.njit(**NUMBA_OPTIONS)
def new_lin(n):
    """Linear-solver state (:data:`Lin`) for n unknowns, without a Jacobian.

    Pass the same state to successive calls of :func:`run` (e.g. across events)
    to start from the last Jacobian instead of evaluating a new one: simplified
    Newton only needs an approximate Jacobian and re-evaluates it when it
    stops converging."""
    return Lin(np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64),
               np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64), np.zeros(1),
               np.empty((n, n)), np.ones(n), np.empty(n), np.empty((n, n)), np.empty((n, n)),
               np.empty(n), np.empty(n), np.empty(n), np.empty((n, n)),
               np.empty(n, dtype=np.int64), np.empty((n, n), dtype=np.complex128),
               np.empty(n, dtype=np.int64), np.empty((3, n)), np.empty((3, n)), np.empty(n))


@internal
def _lin_jacobian(lin, model, y):
    """Evaluate the Jacobian at y; diagonalise it when the model says it is symmetric."""
    J, dh, lam, V = lin.J, lin.dh, lin.lam, lin.V
    n = y.size
    for k in range(n):
        dh[k] = 1.0
    sym = model_jac(model, y, J, dh)
    if sym:
        K = np.empty((n, n))
        big = 0.0
        for a in range(n):
            for b in range(n):
                K[a, b] = dh[a] * J[a, b] / dh[b]
                big = max(big, abs(K[a, b]))
        for a in range(n):
            for b in range(a + 1, n):
                if abs(K[a, b] - K[b, a]) > 1e-10 * big:
                    sym = False
                m_ = 0.5 * (K[a, b] + K[b, a])
                K[a, b] = m_
                K[b, a] = m_
        if sym and n > 0:
            w, vec = np.linalg.eigh(K)
            VT = lin.VT
            for a in range(n):
                lam[a] = w[a]
                for b in range(n):
                    V[a, b] = vec[a, b]
                    VT[b, a] = vec[a, b]
    lin.sym[0] = 1 if sym else 0
    lin.factored[0] = 0
    lin.has_jac[0] = 1


@nb.njit(**NUMBA_OPTIONS)
def _lin_factor(lin, h):
    """Prepare the solves with (mu/h I - J); returns False if singular."""
    J, LUr, pivr, LUc, pivc = lin.J, lin.lu_real, lin.piv_real, lin.lu_complex, lin.piv_complex
    lin.h[0] = h
    lin.factored[0] = 1
    if lin.sym[0] == 1:
        lam = lin.lam
        inv_r, inv_cre, inv_cim = lin.inv_real, lin.inv_complex_re, lin.inv_complex_im
        sr = MU_REAL / h
        sc = MU_COMPLEX / h
        for k in range(lam.size):
            inv_r[k] = 1.0 / (sr - lam[k])
            q = 1.0 / (sc - lam[k])
            inv_cre[k] = q.real
            inv_cim[k] = q.imag
        return True
    n = J.shape[0]
    mr = MU_REAL / h
    mc = MU_COMPLEX / h
    for i in range(n):
        for j in range(n):
            LUr[i, j] = -J[i, j]
            LUc[i, j] = -J[i, j]
        LUr[i, i] += mr
        LUc[i, i] += mc
    return lu_factor(LUr, pivr) and lu_factor(LUc, pivc)


@internal
def _matvec_t(V, x, out):
    """out = V^T x as a sum of the rows of V (an axpy loop along contiguous rows: small
    products in plain loops, BLAS calls cost more at these sizes).  V x is
    ``_matvec_t(V.T, x)`` with the transpose stored (``lin.VT``)."""
    n = x.size
    if V.shape[0] > 96:
        r = V.T @ x
        for k in range(n):
            out[k] = r[k]
        return
    for k in range(n):
        out[k] = 0.0
    for a in range(n):
        xa = x[a]
        for k in range(n):
            out[k] += V[a, k] * xa


@nb.njit(**NUMBA_OPTIONS)
def _lin_solve_real(lin, b):
    """b <- (MU_REAL/h I - J)^{-1} b."""
    dh, V = lin.dh, lin.V
    if lin.sym[0] == 0:
        lu_solve(lin.lu_real, lin.piv_real, b)
        return
    n = b.size
    x = lin.scaled[0]
    c = lin.coef[0]
    inv_r = lin.inv_real
    for k in range(n):
        x[k] = dh[k] * b[k]
    _matvec_t(V, x, c)
    for k in range(n):
        c[k] *= inv_r[k]
    _matvec_t(lin.VT, c, x)
    for k in range(n):
        b[k] = x[k] / dh[k]


@nb.njit(**NUMBA_OPTIONS)
def _lin_solve_complex(lin, b):
    """b <- (MU_COMPLEX/h I - J)^{-1} b for a complex vector b."""
    dh, V = lin.dh, lin.V
    if lin.sym[0] == 0:
        lu_solve(lin.lu_complex, lin.piv_complex, b)
        return
    n = b.size
    re = lin.scaled[0]
    im = lin.scaled[1]
    cr = lin.coef[0]
    ci = lin.coef[1]
    for k in range(n):
        re[k] = dh[k] * b[k].real
        im[k] = dh[k] * b[k].imag
    _matvec_t(V, re, cr)
    _matvec_t(V, im, ci)
    inv_cre, inv_cim = lin.inv_complex_re, lin.inv_complex_im
    for k in range(n):
        p1 = cr[k]
        p2 = ci[k]
        cr[k] = p1 * inv_cre[k] - p2 * inv_cim[k]
        ci[k] = p1 * inv_cim[k] + p2 * inv_cre[k]
    _matvec_t(lin.VT, cr, re)
    _matvec_t(lin.VT, ci, im)
    for k in range(n):
        b[k] = (re[k] + 1j * im[k]) / dh[k]


@nb.njit(**INLINE_OPTIONS)
def _rows_times3(M, x0, x1, x2, d0, d1, d2):
    """d_j = M^T x_j for j = 0, 1, 2: sums of the rows of M weighted by the three
    vectors, as axpy loops along contiguous rows (they vectorise; a dot-product form
    would not without reassociation)."""
    n = M.shape[0]
    for k in range(n):
        d0[k] = 0.0
        d1[k] = 0.0
        d2[k] = 0.0
    for a in range(n):
        s0 = x0[a]
        s1 = x1[a]
        s2 = x2[a]
        for k in range(n):
            v = M[a, k]
            d0[k] += v * s0
            d1[k] += v * s1
            d2[k] += v * s2


@nb.njit(**NUMBA_OPTIONS)
def _lin_solve_both(lin, br, bc):
    """br <- (MU_REAL/h I - J)^{-1} br and bc <- (MU_COMPLEX/h I - J)^{-1} bc at once.

    With the eigen-decomposition, the three real vectors (br, Re bc, Im bc) go
    through each product with the eigenvectors together: one pass over V for
    all three instead of one each (at n = 350 the three axpy passes take 31 us, three
    BLAS products 39 us and one BLAS matrix product, with its threads, 84 us).
    """
    dh, V = lin.dh, lin.V
    n = br.size
    if lin.sym[0] == 0:
        _lin_solve_real(lin, br)
        _lin_solve_complex(lin, bc)
        return
    X = lin.scaled          # the scaled vectors (real part, Re and Im of the complex one)
    Y = lin.coef            # their coefficients in the eigenvector basis
    for a in range(n):
        d = dh[a]
        X[0, a] = d * br[a]
        X[1, a] = d * bc[a].real
        X[2, a] = d * bc[a].imag
    _rows_times3(V, X[0], X[1], X[2], Y[0], Y[1], Y[2])           # V^T (scaled inputs)
    inv_r, inv_cre, inv_cim = lin.inv_real, lin.inv_complex_re, lin.inv_complex_im
    for k in range(n):
        Y[0, k] *= inv_r[k]
        qr = inv_cre[k]
        qi = inv_cim[k]
        p1 = Y[1, k]
        p2 = Y[2, k]
        Y[1, k] = p1 * qr - p2 * qi
        Y[2, k] = p1 * qi + p2 * qr
    _rows_times3(lin.VT, Y[0], Y[1], Y[2], X[0], X[1], X[2])      # V (scaled coefficients)
    for a in range(n):
        d = dh[a]
        br[a] = X[0, a] / d
        bc[a] = (X[1, a] + 1j * X[2, a]) / d


@nb.njit(**NUMBA_OPTIONS)
def h_lambda(lin, h):
    """h lambda_max, lambda_max the largest |eigenvalue| of the last Jacobian in ``lin``;
    NaN when ``lin`` holds no eigenvalues (no Jacobian yet, or not symmetric)."""
    lam = lin.lam
    if lin.has_jac[0] != 1 or lin.sym[0] != 1 or lam.size == 0:
        return np.nan
    big = 0.0
    for k in range(lam.size):
        big = max(big, abs(lam[k]))
    return h * big
