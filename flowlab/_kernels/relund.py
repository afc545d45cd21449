"""Stage model of the gradient flow of a two-layer ReLU network on d-dimensional inputs.

f(x) = sum_j a_j relu(W_j . x~), x~ = (x, 1), loss L = scale/2 sum_i (f(x_i) - y_i)^2.
Equal inputs are merged into unique points p with count cnt_p, mean ybar_p and
within-group sum of squares V_p, so that L = scale/2 sum_p (cnt_p (f_p - ybar_p)^2 + V_p)
and the group residual is R_p = cnt_p (f_p - ybar_p).

During a stage each neuron j is active on a fixed set S_j of unique points (the
``mask``); there

    dL/da_j = scale sum_{p in S_j} R_p z_jp,     dL/dW_j = scale a_j sum_{p in S_j} R_p x~_p,

with z_jp = W_j . x~_p, and the Hessian is the Gauss-Newton part
scale sum_p cnt_p grad f_p grad f_p^T plus scale sum_{p in S_j} R_p x~_p in the
(a_j, W_j) blocks.  A right-hand side costs O(n M d).

A neuron may be *pinned* on a set Q of k < d + 1 unique points (Filippov sliding):
they are left out of S_j, W_j is held on the subspace W_j . x~_q = 0 (q in Q), and
its velocity is the inactive-side field projected on that subspace (the matrix
``Pi`` = I - X_Q^T G^-1 X_Q = N_j N_j^T, G the Gram matrix of the x~_q, N_j an
orthonormal basis of the subspace).  The first d + 1 - k of W_j's d + 1 state slots
hold its coordinates z in that basis, the other k are held at 0 (velocity 0, read by
nothing), so the state keeps its size when slides start and end: W_j = N_j z, after
which k coordinates are recomputed from the others (the matrix ``L``; with one pin the
bias, exactly -W_j[:d] . x_p) so that the constraints hold to the rounding of one sum.
In these coordinates the sliding flow is the gradient flow of the loss restricted to the
subspace, z' = -N_j^T grad_W L, and the Jacobian -B^T H B (B = dtheta/du, zero columns
for the held slots) is symmetric: the integrator diagonalises it and changes step sizes
for free, and, the size being fixed, carries it across events as simplified Newton's
approximate Jacobian.  The Filippov weights of the pinned points are
lambda_q = A_q / R_q with A = -G^-1 X_Q (sum_{S_j} R_i x~_i) (rows ``Kq`` = G^-1 X_Q);
the slide lasts while every lambda_q is in (0, 1).  Different neurons decouple.

The model is a tuple built by ``flowlab._flow.exact_nd``; the functions here are the
hooks of :func:`flowlab._kernels.radau.run` (with the event scan of
:mod:`flowlab._kernels.relund_scan`, which registers them all).
"""

import numba as nb
import numpy as np

from .._config import INLINE_OPTIONS, NUMBA_OPTIONS
from .relu1d import ARM_RTOL

#: sums over the data points in the order the compiler vectorises them
SUM_OPTIONS = dict(NUMBA_OPTIONS, fastmath={"contract", "reassoc"})

#: the model tuple starts with an empty array of this dtype (see hooks.register_model)
MARKER = np.int16
# event kinds written to ev[0]
EV_CROSS, EV_SLIDE = 0, 1

# model tuple:
#  0 marker, 1 X (M, D) unique augmented inputs, 2 cnt, 3 ybar, 4 V, 5 nu = |x~|^2,
#  6 ext (D,) coordinate extents, 7 fpar [scale], 8 ipar [n, D, train W, train a, n slide
#  rows, has bias], 9 mask (n, M) uint8, 10 pins (n, D) (-1 padded), 11 free (state -> theta
#  indices), 12 theta0 (P,), 13 slide rows (., 3) [j, pin slot, which: 0 lambda -> 0,
#  1 lambda -> 1, 2 a_j -> 0], 14 sigma (.,),
# 15 ev (4,) [kind, j, point, slide row], 16 L (n, D, D), 17 Pi (n, D, D), 18 Kq (n, D, D),
# 19 elim (n, D) uint8 (coordinates computed from the others), then work arrays:
# 20 Z (n, M) pre-activations, 21 (2, M) [R, rho], 22 (6, P) scratch (thetas at the four
# nodes, theta, field), 23 (n, D); then 24 N (n, D, D) orthonormal bases of the pinned
# neurons' subspaces (first D - k columns; the last k span the normals), 25 slot (state
# size,) column of N_j held by a state entry of a pinned neuron j, -2 for its held slots,
# -1 for every other entry, 26 dist (n,), 27 moved (n,), 28 limit (n, M) (the event
# scan's skip bounds, see :func:`events`), 29 XT (D, M) the inputs transposed


@nb.njit(**NUMBA_OPTIONS)
def preact(theta, X, j, p, D):
    """z = W_j . x~_p, summed in a fixed order (the bias last) everywhere.

    The last coordinate of x~ is 1 for networks with biases (the product is then
    exact) and the last input component for bias-free networks."""
    base = j * D
    acc = 0.0
    for k in range(D - 1):
        acc += theta[base + k] * X[p, k]
    return acc + theta[base + D - 1] * X[p, D - 1]


@nb.njit(**NUMBA_OPTIONS)
def _fill_pinned(model, theta):
    """Compute the eliminated coordinates of pinned neurons from the others (in place)."""
    ipar, pins, L, elim = model[8], model[10], model[16], model[19]
    n, D = ipar[0], ipar[1]
    if ipar[2] != 1:
        return
    for j in range(n):
        if pins[j, 0] < 0:
            continue
        base = j * D
        for e in range(D):
            if elim[j, e]:
                acc = 0.0
                for f in range(D):
                    if not elim[j, f]:
                        acc += L[j, e, f] * theta[base + f]
                theta[base + e] = acc


@nb.njit(**NUMBA_OPTIONS)
def _n_pins(pins, j):
    k = 0
    while k < pins.shape[1] and pins[j, k] >= 0:
        k += 1
    return k


@nb.njit(**NUMBA_OPTIONS)
def _embed(model, theta):
    """Pinned neurons: the first d + 1 - k state slots of W_j hold its coordinates z in
    the basis N_j, the other k are held at 0 and not read; replace W_j by N_j z and
    recompute the eliminated coordinates from the others (linear in theta)."""
    ipar, pins, Nb = model[8], model[10], model[24]
    n, D = ipar[0], ipar[1]
    if ipar[2] != 1:
        return
    z = np.empty(0)
    for j in range(n):
        if pins[j, 0] < 0:
            continue
        if z.size == 0:
            z = np.empty(D)
        base = j * D
        c = D - _n_pins(pins, j)
        for f in range(c):
            z[f] = theta[base + f]
        for k in range(D):
            acc = 0.0
            for cc in range(c):
                acc += Nb[j, k, cc] * z[cc]
            theta[base + k] = acc
    _fill_pinned(model, theta)


@nb.njit(**NUMBA_OPTIONS)
def expand(model, u, theta):
    """Full parameters theta = [W (row-major), a] of the state u."""
    free, theta0 = model[11], model[12]
    for q in range(theta0.size):
        theta[q] = theta0[q]
    for q in range(free.size):
        theta[free[q]] = u[q]
    _embed(model, theta)


@nb.njit(**NUMBA_OPTIONS)
def expand_rate(model, f, dtheta):
    """theta' for the state velocity f (frozen coordinates have rate 0)."""
    free = model[11]
    dtheta[:] = 0.0
    for q in range(free.size):
        dtheta[free[q]] = f[q]
    _embed(model, dtheta)


@nb.njit(**NUMBA_OPTIONS)
def state_of(model, theta, u):
    """The state u of full parameters theta (a pinned neuron's W_j must lie on its
    subspace), or the state velocity u of a parameter velocity theta tangent to the
    subspaces: the inverse of :func:`expand` and :func:`expand_rate`."""
    free, ipar, Nb, slot = model[11], model[8], model[24], model[25]
    D = ipar[1]
    for q in range(free.size):
        i = free[q]
        c = slot[q]
        if c == -1:
            u[q] = theta[i]
            continue
        if c < -1:                                  # a held slot of a pinned neuron
            u[q] = 0.0
            continue
        base = (i // D) * D
        acc = 0.0
        for k in range(D):
            acc += Nb[i // D, k, c] * theta[base + k]
        u[q] = acc


@nb.njit(**NUMBA_OPTIONS)
def forward(model, theta):
    """Pre-activations Z of every pair (neuron, point), group residuals R and their
    magnitudes rho; returns the loss."""
    return _forward(model, theta)


@nb.njit(**NUMBA_OPTIONS)
def forward_all(model, theta):
    """:func:`forward` (kept as the name for callers that read the pre-activations of
    inactive pairs too)."""
    return _forward(model, theta)


@nb.njit(**INLINE_OPTIONS)
def _forward(model, theta):
    # Z row by row, vectorised over the points; every sum in the order of
    # :func:`preact` (coordinates in order) and of the neurons (f_p), so the values
    # are those of a pair-by-pair evaluation
    cnt, ybar, V, fpar, ipar, mask, Z, RR, XT = (model[2], model[3], model[4], model[7],
                                                 model[8], model[9], model[20], model[21],
                                                 model[29])
    n, D = ipar[0], ipar[1]
    M = XT.shape[1]
    f = RR[0]                       # f_p, then R_p
    mag = RR[1]                     # sum of |terms| of f_p, then rho_p
    nD = n * D
    for p in range(M):
        f[p] = 0.0
        mag[p] = abs(ybar[p])
    for j in range(n):
        base = j * D
        zr = Z[j]
        w = theta[base]
        x0 = XT[0]
        for p in range(M):
            zr[p] = w * x0[p]
        for k in range(1, D):
            w = theta[base + k]
            xk = XT[k]
            for p in range(M):
                zr[p] += w * xk[p]
        a = theta[nD + j]
        mr = mask[j]
        for p in range(M):
            if mr[p]:
                az = a * zr[p]
                f[p] += az
                mag[p] += abs(az)
    loss = 0.0
    for p in range(M):
        e = f[p] - ybar[p]
        f[p] = cnt[p] * e
        mag[p] = cnt[p] * mag[p]
        loss += cnt[p] * e * e + V[p]
    return 0.5 * fpar[0] * loss


@nb.njit(**SUM_OPTIONS)
def masked_sums(model, j, out):
    """out = sum_{p in S_j} R_p x~_p (``forward`` must have run); returns
    sum_{p in S_j} R_p z_jp.  Vectorised sums (their order is the compiler's)."""
    ipar, mask, Z, RR, XT = model[8], model[9], model[20], model[21], model[29]
    D = ipar[1]
    M = XT.shape[1]
    R = RR[0]
    mr = mask[j]
    for k in range(D):
        xk = XT[k]
        acc = 0.0
        for p in range(M):
            acc += (R[p] * mr[p]) * xk[p]
        out[k] = acc
    zr = Z[j]
    acc = 0.0
    for p in range(M):
        acc += (R[p] * mr[p]) * zr[p]
    return acc


@nb.njit(**NUMBA_OPTIONS)
def field(model, theta, F):
    """F = -grad L on the stage, pinned neurons projected on their subspaces
    (``forward`` must have run at theta); frozen groups get 0."""
    fpar, ipar, pins, Pi, S = model[7], model[8], model[10], model[17], model[23]
    n, D = ipar[0], ipar[1]
    sc = fpar[0]
    nD = n * D
    tmp = np.empty(D)
    for j in range(n):
        ga = masked_sums(model, j, S[j])
        F[nD + j] = -sc * ga if ipar[3] == 1 else 0.0
        if ipar[2] == 1:
            aj = theta[nD + j]
            for k in range(D):
                tmp[k] = -sc * aj * S[j, k]
            if pins[j, 0] >= 0:
                for k in range(D):
                    acc = 0.0
                    for m in range(D):
                        acc += Pi[j, k, m] * tmp[m]
                    F[j * D + k] = acc
            else:
                for k in range(D):
                    F[j * D + k] = tmp[k]
        else:
            for k in range(D):
                F[j * D + k] = 0.0


@nb.njit(**NUMBA_OPTIONS)
def rhs(model, u, out):
    """Hook for radau.run: out = state velocity."""
    theta, F = model[22][4], model[22][5]
    expand(model, u, theta)
    forward(model, theta)
    field(model, theta, F)
    state_of(model, F, out)


@nb.njit(**NUMBA_OPTIONS)
def rhs_loss(model, u, out):
    """Hook for radau.run: out = state velocity; returns the loss at u."""
    theta, F = model[22][4], model[22][5]
    expand(model, u, theta)
    loss = forward(model, theta)
    field(model, theta, F)
    state_of(model, F, out)
    return loss


@nb.njit(**NUMBA_OPTIONS)
def expand_rows(model, rows, k, tmp):
    """Hook for radau.run: rows[r, q] <- full parameters of the state in rows[r, q, :n]."""
    n = model[11].size
    for r in range(k):
        for q in range(rows.shape[1]):
            row = rows[r, q]
            for p in range(n):
                tmp[p] = row[p]
            expand(model, tmp, row)


@nb.njit(**NUMBA_OPTIONS)
def output(model, u, theta, with_loss):
    """Hook for radau.run: full parameters and (optionally) the loss."""
    expand(model, u, theta)
    if with_loss:
        return forward(model, theta)
    return 0.0


@nb.njit(**NUMBA_OPTIONS)
def hessian(model, theta, H):
    """Hessian of L on the stage (``forward`` must have run), full parameters."""
    X, cnt, fpar, ipar, mask, Z = model[1], model[2], model[7], model[8], model[9], model[20]
    n, D = ipar[0], ipar[1]
    sc = fpar[0]
    nD = n * D
    M = X.shape[0]
    P = nD + n
    Jm = np.zeros((M, P))
    for p in range(M):
        w = np.sqrt(cnt[p])
        for j in range(n):
            if mask[j, p]:
                aj = theta[nD + j]
                for k in range(D):
                    Jm[p, j * D + k] = w * aj * X[p, k]
                Jm[p, nD + j] = w * Z[j, p]
    Hm = np.dot(Jm.T, Jm)
    for a in range(P):
        for b in range(P):
            H[a, b] = sc * Hm[a, b]
    S = np.empty(D)
    for j in range(n):
        masked_sums(model, j, S)
        for k in range(D):
            H[nD + j, j * D + k] += sc * S[k]
            H[j * D + k, nD + j] += sc * S[k]


@nb.njit(**NUMBA_OPTIONS)
def jac(model, u, J, dh):
    """Hook for radau.run: J = d(state velocity)/du = -B^T H B, B = dtheta/du.

    B's column for a state entry of a free neuron is a unit vector; for one of a
    pinned neuron j it is the column of N_j that entry holds, 0 for a held slot (the
    rounding-level recomputation of the eliminated coordinates is left out).  J is
    symmetric (dh = 1).
    """
    ipar, free, Nb, slot = model[8], model[11], model[24], model[25]
    D = ipar[1]
    theta = model[22][4]
    expand(model, u, theta)
    forward(model, theta)
    P = theta.size
    H = np.empty((P, P))
    hessian(model, theta, H)
    nf = free.size
    HB = np.empty((P, nf))
    for c in range(nf):
        q = free[c]
        if slot[c] == -1:
            for r in range(P):
                HB[r, c] = H[r, q]
        elif slot[c] < -1:
            for r in range(P):
                HB[r, c] = 0.0
        else:
            base = (q // D) * D
            for r in range(P):
                acc = 0.0
                for k in range(D):
                    acc += H[r, base + k] * Nb[q // D, k, slot[c]]
                HB[r, c] = acc
    for r in range(nf):
        q = free[r]
        if slot[r] == -1:
            for c in range(nf):
                J[r, c] = -HB[q, c]
        elif slot[r] < -1:
            for c in range(nf):
                J[r, c] = 0.0
        else:
            base = (q // D) * D
            for c in range(nf):
                acc = 0.0
                for k in range(D):
                    acc += Nb[q // D, k, slot[r]] * HB[base + k, c]
                J[r, c] = -acc
    for q in range(nf):
        dh[q] = 1.0
    return True


@nb.njit(**NUMBA_OPTIONS)
def slide_functions(model, j, slot):
    """(A, R_q) for the pinned point in ``slot`` of neuron j: lambda = A / R_q
    (``forward`` must have run)."""
    S = np.empty(model[8][1])
    masked_sums(model, j, S)
    return _slide_weights(model, j, slot, S)


@nb.njit(**NUMBA_OPTIONS)
def _slide_weights(model, j, slot, S):
    """(A, R_q) of :func:`slide_functions` from neuron j's masked sums S."""
    pins, Kq, RR = model[10], model[18], model[21]
    dot = 0.0
    for k in range(S.size):
        dot += Kq[j, slot, k] * S[k]
    return -dot, RR[0][pins[j, slot]]


@nb.njit(**NUMBA_OPTIONS)
def arm_threshold(theta, ext, j, D):
    """|g| above which a point is surely on its side: ARM_RTOL sum_k |W_jk| ext_k."""
    acc = 0.0
    for k in range(D):
        acc += abs(theta[j * D + k]) * ext[k]
    return ARM_RTOL * acc


@nb.njit(**NUMBA_OPTIONS)
def hvp(model, u, v, out):
    """The stage Hessian in state coordinates times v, out = B^T H B v (B = dtheta/du,
    as in :func:`jac`), without forming H: O(n M d).

    H = scale (sum_p cnt_p grad f_p grad f_p^T + the residual curvature, which couples
    a_j with W_j through S_j = sum_{p in S_j} R_p x~_p).  -out is the Jacobian of the
    state velocity times v.
    """
    X, cnt, fpar, ipar, mask, Z = (model[1], model[2], model[7], model[8], model[9],
                                   model[20])
    n, D = ipar[0], ipar[1]
    sc = fpar[0]
    nD = n * D
    M = X.shape[0]
    theta = model[22][4]
    dth = np.empty(theta.size)
    expand(model, u, theta)
    forward(model, theta)
    expand_rate(model, v, dth)
    Hv = np.zeros(theta.size)
    for p in range(M):
        jv = 0.0
        for j in range(n):
            if mask[j, p]:
                jv += theta[nD + j] * preact(dth, X, j, p, D) + dth[nD + j] * Z[j, p]
        w = sc * cnt[p] * jv
        if w == 0.0:
            continue
        for j in range(n):
            if mask[j, p]:
                Hv[nD + j] += w * Z[j, p]
                c = w * theta[nD + j]
                for k in range(D):
                    Hv[j * D + k] += c * X[p, k]
    S = np.empty(D)
    for j in range(n):
        masked_sums(model, j, S)
        acc = 0.0
        for k in range(D):
            acc += S[k] * dth[j * D + k]
            Hv[j * D + k] += sc * S[k] * dth[nD + j]
        Hv[nD + j] += sc * acc
    state_of(model, Hv, out)
