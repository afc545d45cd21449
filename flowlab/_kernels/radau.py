"""A compiled Radau IIA (order 5) integrator for autonomous ODEs u' = F(u) with exact Jacobian.

The method is the three-stage collocation method at the Radau points (Hairer &
Wanner, *Solving ODEs II*, IV.8): simplified Newton iterations on the stage
equations, decoupled into one real and one complex linear system through the
eigen-decomposition of A^{-1}; an embedded third-order estimate filtered by
(mu/h - J)^{-1}; Gustafsson's step-size predictor; the collocation polynomial
as continuous extension.  All constants are computed below from the Butcher
tableau rather than typed in.

The integrator is generic over a *model*: a tuple of arrays whose first entry
is an empty "marker" array; the marker's dtype selects (at compile time) the
seven compiled hooks that a model module registered with :func:`register_model`:

- ``rhs(model, u, out)``: out = F(u);
- ``rhs_loss(model, u, out) -> loss``: the same, and the loss at u (the field at
  the end of each accepted step is the next step's first stage, and its loss is
  recorded: one pass over the data serves both);
- ``jac(model, u, J, dh) -> bool``: J = dF/du; True when J is similar to a
  symmetric matrix through the diagonal scaling ``dh`` it fills in (then
  diag(dh) J diag(dh)^-1 is symmetric, as for a gradient flow whose Jacobian is
  minus a Hessian), False otherwise;
- ``output(model, u, theta, with_loss) -> loss``: the full parameter vector of
  a state and, if ``with_loss``, its loss (else 0);
- ``expand_rows(model, rows, k, tmp)``: for the recorded steps r < k, replace the
  state held in ``rows[r, q, :n]`` by the full parameters (steps are recorded
  as states and expanded in one pass when the run returns: one call per step
  and node would cost more than the expansion itself);
- ``events(model, nodes, armed) -> (found, s)``: given the continuous
  extension of an accepted step at the Lobatto nodes s = 0, 1/4, 3/4, 1
  (``nodes`` has shape (4, n)), the earliest event in the step as a fraction
  s of it (the model stores which event it was);
- ``event_rate(model, u, f) -> (e, de/dt)``: the value of that event function
  at u and its rate of change when u' = f.

Linear algebra: when the Jacobian is symmetric up to a diagonal scaling, it is
diagonalised once per Jacobian (symmetric eigen-decomposition) and every
shifted system (mu/h I - J) of any step size, real or complex, is solved with
two products by the eigenvectors -- changing h costs nothing.  Otherwise the
two shifted matrices are factored (LU with partial pivoting) for each h.

An event is reached by a step of exactly the located length, then polished by
one Newton correction t -> t - e/e', u -> u - (e/e') f (an O(dt^2) change), so
that the event function vanishes to rounding at the recorded event state.

``run`` steps until ``t_end``, an event, a failure or a full output buffer.
Dispatching through the marker type rather than passing the hooks as
arguments keeps the compiled integrator in numba's on-disk cache.

After an event the field jumps, the stiff components relax to the moved slow
manifold, and the step carried over from before the event would be rejected
several times; the first step after an event is therefore sized from the jump
of the field and the largest eigenvalue of the Jacobian, and the step-size
controller starts a fresh history (see ``_first_step_after_event``).

The step loop works on borrowed views of its arrays (:mod:`flowlab._kernels.borrow`):
the model tuples hold some twenty arrays and are handed to the hooks several
times per step, and numba's atomic reference counting of every member on every
call would otherwise cost more than the arithmetic.
"""

import math

import numba as nb
import numpy as np
from numba.extending import overload

from .._config import INLINE_OPTIONS, NUMBA_OPTIONS
from .borrow import borrowed
from .linalg import lu_factor, lu_solve

_HOOKS = {}


def register_model(marker, *, rhs, jac, output, events, event_rate, rhs_loss, expand_rows):
    """Register the compiled hooks of models whose tuple starts with ``np.empty(0, marker)``."""
    _HOOKS[str(np.dtype(marker))] = (rhs, jac, output, events, event_rate, rhs_loss,
                                     expand_rows)


def _hooks(model_type):
    key = str(model_type.types[0].dtype)
    if key not in _HOOKS:
        raise TypeError(f"no integrator model registered for marker dtype {key}")
    return _HOOKS[key]


def model_rhs(model, u, out):
    """out = F(u) (dispatched on the model marker)."""


def model_rhs_loss(model, u, out):
    """out = F(u); returns the loss at u (dispatched on the model marker)."""


def model_expand_rows(model, rows, k, tmp):
    """rows[r, q] <- full parameters of the state rows[r, q, :n] for r < k (dispatched)."""


def model_jac(model, u, J, dh):
    """J = dF/du; returns True if diag(dh) J diag(dh)^-1 is symmetric (dispatched)."""


def model_output(model, u, theta, with_loss):
    """Full parameters of u, and its loss if ``with_loss`` (dispatched on the model marker)."""


def model_events(model, nodes, armed):
    """Earliest event of a step (dispatched on the model marker)."""


def model_event_rate(model, u, f):
    """(value, time derivative) of the event found last, at u with u' = f."""


@overload(model_rhs, inline="always")
def _ov_rhs(model, u, out):
    impl = _hooks(model)[0]
    return lambda model, u, out: impl(model, u, out)


@overload(model_rhs_loss, inline="always")
def _ov_rhs_loss(model, u, out):
    impl = _hooks(model)[5]
    return lambda model, u, out: impl(model, u, out)


@overload(model_expand_rows, inline="always")
def _ov_expand_rows(model, rows, k, tmp):
    impl = _hooks(model)[6]
    return lambda model, rows, k, tmp: impl(model, rows, k, tmp)


@overload(model_jac, inline="always")
def _ov_jac(model, u, J, dh):
    impl = _hooks(model)[1]
    return lambda model, u, J, dh: impl(model, u, J, dh)


@overload(model_output, inline="always")
def _ov_output(model, u, theta, with_loss):
    impl = _hooks(model)[2]
    return lambda model, u, theta, with_loss: impl(model, u, theta, with_loss)


@overload(model_events, inline="always")
def _ov_events(model, nodes, armed):
    impl = _hooks(model)[3]
    return lambda model, nodes, armed: impl(model, nodes, armed)


@overload(model_event_rate, inline="always")
def _ov_event_rate(model, u, f):
    impl = _hooks(model)[4]
    return lambda model, u, f: impl(model, u, f)


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
NEWTON_MAXITER = 6
#: the Newton iteration stops when its estimated remaining error is below this
#: fraction of the error tolerance (or the rounding floor 10 eps / rtol if larger).
#: Hairer's RADAU5 takes min(0.03, sqrt(rtol)) on its transformed tolerance, about
#: 1e-4 at rtol = 1e-10; scipy's Radau takes sqrt(rtol) on the tolerance itself,
#: which at rtol = 1e-10 meets the floor 2e-5.  3e-4 of the tolerance leaves the
#: global error of plateau-sine unchanged (2.8e-11 against 2.0e-11 relative at
#: rtol = 1e-10, measured against rtol = 1e-13) with 9 % fewer right-hand sides.
NEWTON_TOL = 3e-4
#: after an accepted step whose Newton iteration needed more than two iterations at a
#: contraction rate above this, the Jacobian is re-evaluated (Hairer's THET, there
#: 0.001 for cheap Jacobians and about 0.1 for costly ones; here a Jacobian with its
#: eigen-decomposition costs about a hundred right-hand sides)
JAC_RATE = 0.03
MIN_FACTOR = 0.2
MAX_FACTOR = 10.0
#: entry of ``stats`` holding the largest step allowed, when ``stats`` has it (both steppers)
MAX_STEP = 8
NODES = np.array([0.0, 0.25, 0.75, 1.0])                  # Lobatto nodes of a cubic


# status codes returned by ``run``
DONE, EVENT, FULL, FAILED = 0, 1, 2, 3


@nb.njit(**NUMBA_OPTIONS)
def _rms(x, scale):
    """Root mean square of x / scale for a vector x."""
    s = 0.0
    for i in range(x.size):
        v = x[i] / scale[i]
        s += v * v
    return math.sqrt(s / x.size)


@nb.njit(**NUMBA_OPTIONS)
def _rms_rows(X, scale):
    """Root mean square of X / scale over every row of X (3, n)."""
    s = 0.0
    for r in range(X.shape[0]):
        row = X[r]
        for i in range(row.size):
            v = row[i] / scale[i]
            s += v * v
    return math.sqrt(s / X.size)


@nb.njit(**NUMBA_OPTIONS)
def _predict_factor(h, h_old, err, err_old):
    if err_old < 0.0 or h_old <= 0.0 or err == 0.0:
        mult = 1.0
    else:
        mult = h / h_old * (err_old / err) ** 0.25
    if err == 0.0:
        return MAX_FACTOR
    return min(1.0, mult) * err ** -0.25


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


@nb.njit(**NUMBA_OPTIONS)
def _newton(model, y, h, Z, W, F, lin, scale, tol, ws, fc, faccon):
    """Simplified Newton on the collocation system; Z holds the predictor on entry.

    Convergence is tested after every iteration as in Hairer's RADAU5: with the
    contraction rate theta of the iteration, the remaining error is about
    theta / (1 - theta) times the last increment; before the second iteration
    gives a rate, the factor ``faccon`` carried over from the previous step is
    used, so a good predictor converges in one iteration.
    Returns (converged, iterations, rate, nfev, faccon).
    """
    n = y.size
    yi = ws[0]
    fr = ws[1]
    dW = ws[10:13]
    for i in range(3):
        for p in range(n):
            W[i, p] = TI[i, 0] * Z[0, p] + TI[i, 1] * Z[1, p] + TI[i, 2] * Z[2, p]
    mr = MU_REAL / h
    mc = MU_COMPLEX / h
    norm_old = -1.0
    rate = -1.0
    nfev = 0
    for k in range(NEWTON_MAXITER):
        for i in range(3):
            for p in range(n):
                yi[p] = y[p] + Z[i, p]
            model_rhs(model, yi, F[i])
            nfev += 1
        for i in range(3):
            for p in range(n):
                if not math.isfinite(F[i, p]):
                    return False, k + 1, rate, nfev, faccon
        for p in range(n):
            fr[p] = TI_REAL[0] * F[0, p] + TI_REAL[1] * F[1, p] + TI_REAL[2] * F[2, p] - mr * W[0, p]
            fc[p] = (TI_COMPLEX[0] * F[0, p] + TI_COMPLEX[1] * F[1, p] + TI_COMPLEX[2] * F[2, p]
                     - mc * (W[1, p] + 1j * W[2, p]))
        _lin_solve_both(lin, fr, fc)
        for p in range(n):
            dW[0, p] = fr[p]
            dW[1, p] = fc[p].real
            dW[2, p] = fc[p].imag
        dnorm = _rms_rows(dW, scale)
        if norm_old >= 0.0:
            rate = dnorm / norm_old if norm_old > 0.0 else 0.0
            if rate >= 1.0 or rate ** (NEWTON_MAXITER - k) / (1.0 - rate) * dnorm > tol:
                return False, k + 1, rate, nfev, faccon
            faccon = rate / (1.0 - rate)
        for i in range(3):
            for p in range(n):
                W[i, p] += dW[i, p]
        for i in range(3):
            for p in range(n):
                Z[i, p] = T[i, 0] * W[0, p] + T[i, 1] * W[1, p] + T[i, 2] * W[2, p]
        if dnorm == 0.0 or faccon * dnorm < tol:
            return True, k + 1, rate, nfev, faccon
        norm_old = dnorm
    return False, NEWTON_MAXITER, rate, nfev, faccon


@nb.njit(**NUMBA_OPTIONS)
def _attempt(model, y, f0, h, Z, lin, rtol, atol, tol, rejected, y_new, err, ws, fc, faccon):
    """One step attempt of size h from y with predictor Z (LU factors for this h given).

    Returns (status, error_norm, iterations, rate, nfev, faccon): status 0 accepted,
    1 Newton failed, 2 error test failed; ``faccon`` is the Newton convergence factor
    to carry to the next attempt (see :func:`_newton`).
    """
    n = y.size
    scale = ws[2]
    for p in range(n):
        scale[p] = atol + abs(y[p]) * rtol
    W = ws[4:7]
    F = ws[7:10]
    ok, it, rate, nfev, faccon = _newton(model, y, h, Z, W, F, lin, scale, tol, ws, fc, faccon)
    if not ok:
        return 1, np.inf, it, rate, nfev, faccon
    ze = ws[3]
    for p in range(n):
        y_new[p] = y[p] + Z[2, p]
        ze[p] = (E[0] * Z[0, p] + E[1] * Z[1, p] + E[2] * Z[2, p]) / h
        err[p] = f0[p] + ze[p]
        scale[p] = atol + max(abs(y[p]), abs(y_new[p])) * rtol
    _lin_solve_real(lin, err)
    en = _rms(err, scale)
    if rejected and en > 1.0:
        tmp = ws[13]
        for p in range(n):
            tmp[p] = y[p] + err[p]
        model_rhs(model, tmp, err)
        nfev += 1
        for p in range(n):
            err[p] += ze[p]
        _lin_solve_real(lin, err)
        en = _rms(err, scale)
    if not math.isfinite(en):
        return 1, np.inf, it, rate, nfev, faccon
    return (0 if en <= 1.0 else 2), en, it, rate, nfev, faccon


@nb.njit(**NUMBA_OPTIONS)
def _first_step_after_event(lin, y, f0, rtol, atol, tmp):
    """First step size after an event that changed the field by df = f0 - f_event.

    Before the event the stiff components sat on the slow manifold; the jump df
    moves it, and the stiff modes relax with rate up to |lambda|max of the Jacobian.
    The fourth derivative of the solution is then about |lambda|^3 df, so the
    step with lambda^3 |df| h^4 ~ 1 (in the error norm, with a safety factor)
    meets the order-3 error estimate.  Without this the step carried over from
    before the event is rejected several times over (each time with Newton
    iterations and often a new Jacobian) and the controller's history, measured
    on the old field, then shrinks the next step by orders of magnitude.
    """
    flags, J, lam, f_ev = lin[0], lin[2], lin[4], lin[11]
    n = y.size
    for p in range(n):
        tmp[p] = f0[p] - f_ev[p]
    s = 0.0
    for p in range(n):
        v = tmp[p] / (atol + abs(y[p]) * rtol)
        s += v * v
    dfn = math.sqrt(s / max(n, 1))
    lmax = 0.0
    if flags[0] == 1:
        for p in range(n):
            lmax = max(lmax, abs(lam[p]))
    else:
        for a in range(n):
            r = 0.0
            for b in range(n):
                r += abs(J[a, b])
            lmax = max(lmax, r)
    if not (dfn > 0.0 and lmax > 0.0 and math.isfinite(dfn * lmax)):
        return np.inf
    return 0.5 * (lmax ** 3 * dfn) ** -0.25


@nb.njit(**NUMBA_OPTIONS)
def _colloc(y, Z, s, out):
    """Collocation polynomial of the step at the fraction ``s`` (0 -> y, 1 -> y + Z_3)."""
    w0 = 1.0
    w1 = 1.0
    w2 = 1.0
    # Lagrange basis on the nodes 0, c1, c2, c3 = 1 (the value at 0 is y itself)
    for k in range(4):
        pk = 0.0 if k == 0 else C[k - 1]
        if k != 1:
            w0 *= (s - pk) / (C[0] - pk)
        if k != 2:
            w1 *= (s - pk) / (C[1] - pk)
        if k != 3:
            w2 *= (s - pk) / (C[2] - pk)
    for p in range(y.size):
        out[p] = y[p] + w0 * Z[0, p] + w1 * Z[1, p] + w2 * Z[2, p]


@nb.njit(**NUMBA_OPTIONS)
def _dense_nodes(y, Z, nodes):
    """Values of the collocation polynomial at the Lobatto nodes 0, 1/4, 3/4, 1."""
    for q in range(4):
        _colloc(y, Z, NODES[q], nodes[q])
    for p in range(y.size):
        nodes[0, p] = y[p]
        nodes[3, p] = y[p] + Z[2, p]


@nb.njit(**NUMBA_OPTIONS)
def _restart_stages(y, Z, s_from, ratio, y_from, Z0, tmp):
    """Stage increments of a step of size ratio*h starting at the fraction ``s_from`` of
    the last step, predicted from its collocation polynomial: Z0_i = u(s_from + ratio c_i) - y_from."""
    for i in range(3):
        _colloc(y, Z, s_from + ratio * C[i], tmp)
        for p in range(y.size):
            Z0[i, p] = tmp[p] - y_from[p]


@nb.njit(**NUMBA_OPTIONS)
def _record(model, nodes_u, theta, out_t, out_nodes, out_loss, k, t_new, loss):
    """Write step k: end time, the states at the four nodes (expanded to full
    parameters when the run returns, see ``expand_rows``), and the loss at the
    end (``loss``, or computed here if it is negative)."""
    out_t[k] = t_new
    n = nodes_u.shape[1]
    for q in range(4):
        for p in range(n):
            out_nodes[k, q, p] = nodes_u[q, p]
    if loss < 0.0:
        loss = model_output(model, nodes_u[3], theta, True)
    out_loss[k] = loss


@nb.njit(**NUMBA_OPTIONS)
def run(model, t0, y0, t_end, h, rtol, atol, max_steps,
        out_t, out_nodes, out_loss, armed, stats, lin):
    """Integrate from (t0, y0) towards t_end; see the module docstring.

    Accepted steps are written to ``out_t[k]`` (end time), ``out_nodes[k]``
    (full parameters at the four Lobatto nodes of the step) and ``out_loss[k]``
    (loss at the step end).  ``stats`` (float64, length 8 or 9) carries
    [t, h_next, nfev, njev, nlu, steps, err_old, h_old] (the last two are read
    on entry to continue the step-size controller) and, as its entry ``MAX_STEP``
    when present, the largest step allowed (``flow(..., max_step=...)``).  ``y0`` is overwritten
    with the final state.  ``lin`` is the linear-solver state from
    :func:`new_lin` (its Jacobian is reused if it has one of the right size).
    An event ends the run at the event time, reached by a step of exactly
    that length (or, if that step fails, by the continuous extension).
    Returns (status, number of recorded steps).
    """
    n = y0.size
    work = (np.empty(n), np.zeros((3, n)), np.empty((3, n)), np.empty(n), np.empty(n),
            np.empty((16, n)), np.empty(n, dtype=np.complex128), np.empty((4, n)),
            np.empty(out_nodes.shape[2]), np.empty((3, n)))
    return _run(model, t0, y0, t_end, h, rtol, atol, max_steps,
                out_t, out_nodes, out_loss, armed, stats, lin, work)


@nb.njit(**NUMBA_OPTIONS)
def _run(model, t0, y0, t_end, h, rtol, atol, max_steps,
         out_t, out_nodes, out_loss, armed, stats, lin, work):
    """The step loop of :func:`run`, on borrowed views of its arrays: every array here
    is an argument, held by the caller for the whole call (flowlab._kernels.borrow)."""
    model = borrowed(model)
    lin = borrowed(lin)
    f0, Z, Zs, y_new, err, ws, fc, nodes_u, theta, Z2 = borrowed(work)
    y0 = borrowed(y0)
    out_t = borrowed(out_t)
    out_nodes = borrowed(out_nodes)
    out_loss = borrowed(out_loss)
    armed = borrowed(armed)
    stats = borrowed(stats)
    n = y0.size
    eps = np.finfo(np.float64).eps
    tol = max(10.0 * eps / rtol, min(0.03, max(math.sqrt(rtol), NEWTON_TOL)))
    y = y0
    model_rhs(model, y, f0)
    nfev, njev, nlu = 1, 0, 0
    if lin[0][2] == 1 and lin[2].shape[0] == n:
        current_jac = False              # start from the Jacobian of the previous call
    else:
        _lin_jacobian(lin, model, y)
        njev = 1
        current_jac = True
    if lin[0][3] == 1:
        lin[0][3] = 0
        h = min(h, _first_step_after_event(lin, y, f0, rtol, atol, ws[0]))
    lu_ok = False
    t = t0
    err_old = stats[6]
    h_old = stats[7]
    h_max = stats[MAX_STEP] if stats.size > MAX_STEP else np.inf
    h = min(h, h_max)
    rejected = False
    faccon = 1.0
    k = 0
    status = DONE
    while True:
        if t >= t_end - 10.0 * eps * abs(t_end):
            # reached (an event may land within rounding of t_end: no step is left)
            status = DONE
            break
        if k >= out_t.size or k >= max_steps:
            status = FULL
            break
        if t + 1.0001 * h >= t_end:
            h = t_end - t
            lu_ok = False
        if not h > 10.0 * eps * max(abs(t), 1e-300):      # underflow, or NaN
            status = FAILED
            break
        # -- one step, retried with smaller h until accepted -------------------------
        faccon = max(faccon, eps) ** 0.8
        it = 0
        rate = -1.0
        en = 0.0
        while h > 10.0 * eps * max(abs(t), 1e-300):
            if not lu_ok:
                if not _lin_factor(lin, h):
                    h *= 0.5
                    continue
                nlu += 1 - lin[0][0]
                lu_ok = True
            for i in range(3):
                for p in range(n):
                    Zs[i, p] = Z[i, p]
            st, en, it, rate, nf, faccon = _attempt(model, y, f0, h, Zs, lin, rtol, atol, tol,
                                                    rejected, y_new, err, ws, fc, faccon)
            nfev += nf
            if st == 0:
                break
            if st == 1 and not current_jac:
                _lin_jacobian(lin, model, y)
                njev += 1
                current_jac = True
            elif st == 1:
                h *= 0.5
                Z[:, :] = 0.0
                rejected = True
            else:
                safety = 0.9 * (2 * NEWTON_MAXITER + 1) / (2 * NEWTON_MAXITER + it)
                h *= max(MIN_FACTOR, safety * _predict_factor(h, h_old, en, err_old))
                Z[:, :] = 0.0
                rejected = True
            lu_ok = False
        if not h > 10.0 * eps * max(abs(t), 1e-300):      # underflow, or NaN
            status = FAILED
            break
        # -- accepted: events ---------------------------------------------------------
        _dense_nodes(y, Zs, nodes_u)
        found, s_ev = model_events(model, nodes_u, armed)
        if found:
            status = EVENT
            s_ev = min(max(s_ev, 0.0), 1.0)
            h_ev = s_ev * h
            if 0.0 < s_ev < 1.0:
                _restart_stages(y, Zs, 0.0, s_ev, y, Z2, ws[15])
                exact = False
                if _lin_factor(lin, h_ev):
                    nlu += 1 - lin[0][0]
                    st, en2, it2, rate2, nf, faccon = _attempt(model, y, f0, h_ev, Z2, lin, rtol,
                                                               atol, tol, False, y_new, err, ws,
                                                               fc, faccon)
                    nfev += nf
                    exact = st == 0
                if exact:
                    _dense_nodes(y, Z2, nodes_u)
                else:
                    # continuous extension of the accepted step on [0, s_ev]
                    for q in range(4):
                        _colloc(y, Zs, s_ev * NODES[q], nodes_u[q])
                    for p in range(n):
                        y_new[p] = nodes_u[3, p]
            elif s_ev >= 1.0:
                _dense_nodes(y, Zs, nodes_u)
            # Newton polish of the event time and state
            f1 = ws[14]
            model_rhs(model, nodes_u[3], f1)
            nfev += 1
            e1, de1 = model_event_rate(model, nodes_u[3], f1)
            if de1 != 0.0 and math.isfinite(e1 / de1):
                dt = -e1 / de1
                if abs(dt) <= 1e-3 * h_ev and h_ev + dt > 0.0:
                    h_ev += dt
                    for p in range(n):
                        nodes_u[3, p] += dt * f1[p]
            if h_ev > 0.0:
                _record(model, nodes_u, theta, out_t, out_nodes, out_loss, k, t + h_ev, -1.0)
                k += 1
                t = t + h_ev
                for p in range(n):
                    y[p] = nodes_u[3, p]
            h = max(h_ev, h) if h_ev > 0.0 else h
            # the field changes at the event: the next call sizes its first step from the
            # jump (see _first_step_after_event) and starts a fresh controller history
            f_ev = lin[11]
            for p in range(n):
                f_ev[p] = f1[p]
            lin[0][3] = 1
            err_old = -1.0
            h_old = -1.0
            break
        # -- accepted: output and next step size --------------------------------------
        loss = model_rhs_loss(model, y_new, f0)            # f0 of the next step
        nfev += 1
        _record(model, nodes_u, theta, out_t, out_nodes, out_loss, k, t + h, loss)
        k += 1
        recompute = it > 2 and rate > JAC_RATE
        safety = 0.9 * (2 * NEWTON_MAXITER + 1) / (2 * NEWTON_MAXITER + it)
        factor = min(MAX_FACTOR, safety * _predict_factor(h, h_old, en, err_old), h_max / h)
        # with LU factors a new h costs two factorisations, so small increases are
        # skipped (as in Hairer's RADAU5); with the eigen-decomposition it is free
        if lin[0][0] == 0 and not recompute and factor < 1.2:
            factor = 1.0
        elif abs(factor - 1.0) < 1e-3 and not recompute:
            factor = 1.0
        else:
            lu_ok = False
        h_old = h
        err_old = en
        t = t + h
        for p in range(n):
            y[p] = y_new[p]
        if recompute:
            _lin_jacobian(lin, model, y)
            njev += 1
            current_jac = True
        else:
            current_jac = False
        y_old = ws[13]
        for p in range(n):
            y_old[p] = y[p] - Zs[2, p]
        _restart_stages(y_old, Zs, 1.0, factor, y, Z, ws[15])
        h *= factor
        rejected = False
    model_expand_rows(model, out_nodes, k, ws[13])
    stats[0] = t
    stats[1] = h
    stats[2] += nfev
    stats[3] += njev
    stats[4] += nlu
    stats[5] += k
    stats[6] = err_old
    stats[7] = h_old
    return status, k
