"""Small dense LU factorisation with partial pivoting, for real and complex matrices.

The compiled integrators factor (mu/h I - J) once per step size and solve with
it many times; numba has no ``lu_factor``, so these do it in place.  Pivots
are chosen by |Re| + |Im| (as LAPACK's izamax does), which avoids a square
root per entry for complex matrices.
"""

from .internal import internal


@internal
def lu_factor(A, piv):
    """Overwrite A (n, n) with its LU factors, row swaps in ``piv``; return False if singular."""
    n = A.shape[0]
    for k in range(n):
        p = k
        big = abs(A[k, k].real) + abs(A[k, k].imag)
        for i in range(k + 1, n):
            v = abs(A[i, k].real) + abs(A[i, k].imag)
            if v > big:
                big = v
                p = i
        piv[k] = p
        if big == 0.0:
            return False
        if p != k:
            for j in range(n):
                tmp = A[k, j]
                A[k, j] = A[p, j]
                A[p, j] = tmp
        inv = 1.0 / A[k, k]
        rowk = A[k]
        for i in range(k + 1, n):
            rowi = A[i]
            lik = rowi[k] * inv
            rowi[k] = lik
            if lik != 0.0:
                for j in range(k + 1, n):
                    rowi[j] -= lik * rowk[j]
    return True


@internal
def lu_solve(LU, piv, b):
    """Solve in place: b <- A^{-1} b for the factors from :func:`lu_factor`."""
    n = LU.shape[0]
    for k in range(n):
        p = piv[k]
        if p != k:
            tmp = b[k]
            b[k] = b[p]
            b[p] = tmp
    for i in range(n):
        row = LU[i]
        s = b[i]
        for j in range(i):
            s -= row[j] * b[j]
        b[i] = s
    for i in range(n - 1, -1, -1):
        row = LU[i]
        s = b[i]
        for j in range(i + 1, n):
            s -= row[j] * b[j]
        b[i] = s / row[i]
