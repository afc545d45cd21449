"""Radau IIA (order 5): its tableau, and the linear algebra of its simplified Newton
iteration (the Jacobian, eigen-decomposed when it is symmetric, else two LU
factorisations, one complex; see :mod:`flowlab._kernels.radau`).
"""

import math

import numba as nb
import numpy as np

from .._config import INLINE_OPTIONS, NUMBA_OPTIONS
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


@nb.njit(**NUMBA_OPTIONS)
def new_lin(n):
    """Linear-solver state for n unknowns:
    (flags [sym, factored, has_J, after_event], h, J, dh, lam, V, LUr, pivr, LUc, pivc,
    scratch, f_event, VT, rec).  ``f_event`` is the field at the last event state before the
    switch (read, when ``after_event`` is set, to size the first step after it); ``VT``
    is the transpose of the eigenvectors V (both products of a solve then run along
    contiguous rows, as vectorisable axpy loops); ``rec`` (3, n) holds, for the
    current h, 1/(mu_real/h - lam_k) and the real and imaginary parts of
    1/(mu_complex/h - lam_k) (no divisions in the solves).

    Pass the same state to successive calls of :func:`run` (e.g. across events)
    to start from the last Jacobian instead of evaluating a new one: simplified
    Newton only needs an approximate Jacobian and re-evaluates it when it
    stops converging."""
    return (np.zeros(4, dtype=np.int64), np.zeros(1), np.empty((n, n)), np.ones(n), np.empty(n),
            np.empty((n, n)), np.empty((n, n)), np.empty(n, dtype=np.int64),
            np.empty((n, n), dtype=np.complex128), np.empty(n, dtype=np.int64),
            np.empty((6, n)), np.empty(n), np.empty((n, n)), np.empty((3, n)))


@nb.njit(**NUMBA_OPTIONS)
def _lin_jacobian(lin, model, y):
    """Evaluate the Jacobian at y; diagonalise it when the model says it is symmetric."""
    flags, _, J, dh, lam, V = lin[0], lin[1], lin[2], lin[3], lin[4], lin[5]
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
            VT = lin[12]
            for a in range(n):
                lam[a] = w[a]
                for b in range(n):
                    V[a, b] = vec[a, b]
                    VT[b, a] = vec[a, b]
    flags[0] = 1 if sym else 0
    flags[1] = 0
    flags[2] = 1


@nb.njit(**NUMBA_OPTIONS)
def _lin_factor(lin, h):
    """Prepare the solves with (mu/h I - J); returns False if singular."""
    flags, hh, J, LUr, pivr, LUc, pivc = lin[0], lin[1], lin[2], lin[6], lin[7], lin[8], lin[9]
    hh[0] = h
    flags[1] = 1
    if flags[0] == 1:
        lam, rec = lin[4], lin[13]
        sr = MU_REAL / h
        sc = MU_COMPLEX / h
        for k in range(lam.size):
            rec[0, k] = 1.0 / (sr - lam[k])
            q = 1.0 / (sc - lam[k])
            rec[1, k] = q.real
            rec[2, k] = q.imag
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


@nb.njit(**NUMBA_OPTIONS)
def _matvec_t(V, x, out):
    """out = V^T x as a sum of the rows of V (an axpy loop along contiguous rows: small
    products in plain loops, BLAS calls cost more at these sizes).  V x is
    ``_matvec_t(V.T, x)`` with the transpose stored (``lin[12]``)."""
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
    flags, dh, V, LUr, pivr = lin[0], lin[3], lin[5], lin[6], lin[7]
    if flags[0] == 0:
        lu_solve(LUr, pivr, b)
        return
    n = b.size
    tmp = lin[10][0]
    c = lin[10][1]
    rec = lin[13][0]
    for k in range(n):
        tmp[k] = dh[k] * b[k]
    _matvec_t(V, tmp, c)
    for k in range(n):
        c[k] *= rec[k]
    _matvec_t(lin[12], c, tmp)
    for k in range(n):
        b[k] = tmp[k] / dh[k]


@nb.njit(**NUMBA_OPTIONS)
def _lin_solve_complex(lin, b):
    """b <- (MU_COMPLEX/h I - J)^{-1} b for a complex vector b."""
    flags, dh, V, LUc, pivc = lin[0], lin[3], lin[5], lin[8], lin[9]
    if flags[0] == 0:
        lu_solve(LUc, pivc, b)
        return
    n = b.size
    re = lin[10][0]
    im = lin[10][1]
    cr = lin[10][2]
    ci = lin[10][3]
    for k in range(n):
        re[k] = dh[k] * b[k].real
        im[k] = dh[k] * b[k].imag
    _matvec_t(V, re, cr)
    _matvec_t(V, im, ci)
    rec = lin[13]
    for k in range(n):
        p1 = cr[k]
        p2 = ci[k]
        cr[k] = p1 * rec[1, k] - p2 * rec[2, k]
        ci[k] = p1 * rec[2, k] + p2 * rec[1, k]
    _matvec_t(lin[12], cr, re)
    _matvec_t(lin[12], ci, im)
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
    flags, dh, V = lin[0], lin[3], lin[5]
    n = br.size
    if flags[0] == 0:
        _lin_solve_real(lin, br)
        _lin_solve_complex(lin, bc)
        return
    X = lin[10]
    for a in range(n):
        d = dh[a]
        X[3, a] = d * br[a]
        X[4, a] = d * bc[a].real
        X[5, a] = d * bc[a].imag
    _rows_times3(V, X[3], X[4], X[5], X[0], X[1], X[2])           # V^T (scaled inputs)
    rec = lin[13]
    for k in range(n):
        X[0, k] *= rec[0, k]
        qr = rec[1, k]
        qi = rec[2, k]
        p1 = X[1, k]
        p2 = X[2, k]
        X[1, k] = p1 * qr - p2 * qi
        X[2, k] = p1 * qi + p2 * qr
    _rows_times3(lin[12], X[0], X[1], X[2], X[3], X[4], X[5])     # V (scaled coefficients)
    for a in range(n):
        d = dh[a]
        br[a] = X[3, a] / d
        bc[a] = (X[4, a] + 1j * X[5, a]) / d
