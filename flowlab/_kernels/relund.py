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
Pi = I - X_Q^T G^-1 X_Q = N_j N_j^T, ``projector``, G the Gram matrix of the x~_q, N_j
an orthonormal basis of the subspace, ``basis``).  The first d + 1 - k of W_j's d + 1
state slots hold its coordinates z in that basis, the other k are held at 0 (velocity 0,
read by nothing), so the state keeps its size when slides start and end: W_j = N_j z,
after which k coordinates (``eliminated``) are recomputed from the others (the matrix L,
``elim_coefs``; with one pin the bias, exactly -W_j[:d] . x_p) so that the constraints
hold to the rounding of one sum.  In these coordinates the sliding flow is the gradient
flow of the loss restricted to the subspace, z' = -N_j^T grad_W L, and the Jacobian
-B^T H B (B = dtheta/du, zero columns for the held slots) is symmetric: the integrator
diagonalises it and changes step sizes for free, and, the size being fixed, carries it
across events as simplified Newton's approximate Jacobian.  The Filippov weights of the
pinned points are lambda_q = A_q / R_q with A = -G^-1 X_Q (sum_{S_j} R_i x~_i) (rows
Kq = G^-1 X_Q, ``lambda_rows``); the slide lasts while every lambda_q is in (0, 1).
Different neurons decouple.

The model is a :class:`StageND` (with its scratch arrays in a :class:`WorkND`) built by
``flowlab._flow.exact_nd``; the functions here are the hooks of
:func:`flowlab._kernels.radau.run` (with the event scan of
:mod:`flowlab._kernels.relund_scan`, which registers them all for :class:`StageND`).
"""

from collections import namedtuple

import numba as nb
import numpy as np

from .._config import INLINE_OPTIONS, NUMBA_OPTIONS
from .internal import internal
from .relu1d import ARM_RTOL

#: sums over the data points in the order the compiler vectorises them
SUM_OPTIONS = dict(NUMBA_OPTIONS, fastmath={"contract", "reassoc"})

#: entries of ``StageND.event``, the event the scan found last: its kind, neuron, unique
#: point and slide row (-1 for a crossing)
EVENT_KIND, EVENT_NEURON, EVENT_POINT, EVENT_ROW = 0, 1, 2, 3
#: event kinds: a pair reached its surface, a slide row its end
EV_CROSS, EV_SLIDE = 0, 1
#: columns of ``StageND.slide_rows``: the neuron j, the pin slot, the row's kind
ROW_NEURON, ROW_SLOT, ROW_KIND = 0, 1, 2
#: slide row kinds: the pinned point's lambda reaches 0 (it ends inactive) or 1 (active)
#: -- the values are the point's forced mode -- or the output weight a_j of the sliding
#: neuron reaches 0
SLIDE_TO_INACTIVE, SLIDE_TO_ACTIVE, SLIDE_A_ZERO = 0, 1, 2

#: The stage model (n neurons, M unique points, D = d + 1 coordinates per neuron (d
#: without biases), P = n D + n parameters, S state entries):
#:
#: - data: ``inputs`` (M, D) the unique augmented inputs x~, ``inputs_t`` (D, M) the
#:   same transposed, ``counts`` (M,) cnt_p, ``mean_y`` (M,) ybar_p, ``within_ss`` (M,)
#:   V_p, ``sq_norms`` (M,) |x~_p|^2, ``extents`` (D,) max_p |x~_pk|;
#: - constants: ``scale`` (float), ``n_neurons`` n, ``n_coords`` D (ints),
#:   ``train_w``, ``train_a`` (which groups are trained), ``has_bias`` (bools);
#: - the stage: ``mask`` (n, M) uint8, 1 where the pair is active; ``free`` (S,) the
#:   theta index of each state entry; ``theta0`` (P,) the parameters (frozen groups
#:   read their values here);
#: - the pin layout (rows of the pinned neurons, see the module docstring): ``pins``
#:   (n, D) the pinned points in slot order (-1 padded), ``elim_coefs`` (n, D, D) L,
#:   ``projector`` (n, D, D) Pi, ``lambda_rows`` (n, D, D) Kq = G^-1 X_Q,
#:   ``eliminated`` (n, D) uint8 the coordinates computed from the others, ``basis``
#:   (n, D, D) N (first D - k columns tangent, the last k span the normals),
#:   ``basis_col`` (S,) the column of N_j a state entry of a pinned neuron j holds, -2
#:   for its held slots, -1 for every other entry;
#: - the slide rows (capacity 2 n D + n; the first ``n_slide_rows[0]`` are in use, a
#:   neuron's rows contiguous): ``slide_rows`` (., 3) int64 with the columns ROW_NEURON,
#:   ROW_SLOT and ROW_KIND (SLIDE_TO_INACTIVE, SLIDE_TO_ACTIVE or SLIDE_A_ZERO), and
#:   ``slide_sign`` sigma (the row's margin is positive while the slide lasts);
#: - ``event`` (4,) int64: the event found last, read at EVENT_KIND (EV_CROSS or
#:   EV_SLIDE), EVENT_NEURON, EVENT_POINT and EVENT_ROW (one array rather than four:
#:   each array of the model adds code, and compile time, to every kernel taking it);
#: - the event scan's skip bounds (see :func:`flowlab._kernels.relund_scan.events`),
#:   kept across events: ``skip_dist`` (n,), ``skip_moved`` (n,), ``skip_limit`` (n, M);
#: - ``work``: a :class:`WorkND`.
StageND = namedtuple("StageND", [
    "inputs", "inputs_t", "counts", "mean_y", "within_ss", "sq_norms", "extents",
    "scale", "n_neurons", "n_coords", "train_w", "train_a", "has_bias",
    "mask", "free", "theta0",
    "pins", "elim_coefs", "projector", "lambda_rows", "eliminated", "basis", "basis_col",
    "n_slide_rows", "slide_rows", "slide_sign", "event",
    "skip_dist", "skip_moved", "skip_limit",
    "work"])

#: Scratch arrays of the stage model: ``preacts`` (n, M) the pre-activations Z of every
#: pair, ``resid`` (M,) the group residuals R_p (f_p while :func:`forward` sums),
#: ``resid_mag`` (M,) their magnitudes rho_p (cnt_p times the sum of |terms| of f_p),
#: ``theta_nodes`` (4, P) the parameters at the step's four nodes (event scan),
#: ``theta`` (P,) and ``field`` (P,) the parameters and field of the state a hook
#: evaluates, ``masked`` (n, D) neuron j's masked sums S_j = sum_{p in S_j} R_p x~_p.
WorkND = namedtuple("WorkND", ["preacts", "resid", "resid_mag", "theta_nodes", "theta",
                               "field", "masked"])


@internal
def preact(theta, X, j, p, D):
    """z = W_j . x~_p, summed in a fixed order (the bias last) everywhere.

    The last coordinate of x~ is 1 for networks with biases (the product is then
    exact) and the last input component for bias-free networks."""
    base = j * D
    acc = 0.0
    for k in range(D - 1):
        acc += theta[base + k] * X[p, k]
    return acc + theta[base + D - 1] * X[p, D - 1]


@internal
def _fill_pinned(model, theta):
    """Compute the eliminated coordinates of pinned neurons from the others (in place)."""
    pins, L, elim = model.pins, model.elim_coefs, model.eliminated
    n, D = model.n_neurons, model.n_coords
    if not model.train_w:
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


@internal
def _n_pins(pins, j):
    k = 0
    while k < pins.shape[1] and pins[j, k] >= 0:
        k += 1
    return k


@internal
def _embed(model, theta):
    """Pinned neurons: the first d + 1 - k state slots of W_j hold its coordinates z in
    the basis N_j, the other k are held at 0 and not read; replace W_j by N_j z and
    recompute the eliminated coordinates from the others (linear in theta)."""
    pins, Nb = model.pins, model.basis
    n, D = model.n_neurons, model.n_coords
    if not model.train_w:
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
    free, theta0 = model.free, model.theta0
    for q in range(theta0.size):
        theta[q] = theta0[q]
    for q in range(free.size):
        theta[free[q]] = u[q]
    _embed(model, theta)


@nb.njit(**NUMBA_OPTIONS)
def expand_rate(model, f, dtheta):
    """theta' for the state velocity f (frozen coordinates have rate 0)."""
    free = model.free
    dtheta[:] = 0.0
    for q in range(free.size):
        dtheta[free[q]] = f[q]
    _embed(model, dtheta)


@nb.njit(**NUMBA_OPTIONS)
def state_of(model, theta, u):
    """The state u of full parameters theta (a pinned neuron's W_j must lie on its
    subspace), or the state velocity u of a parameter velocity theta tangent to the
    subspaces: the inverse of :func:`expand` and :func:`expand_rate`."""
    free, Nb, slot = model.free, model.basis, model.basis_col
    D = model.n_coords
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
    cnt, ybar, V, mask, XT = (model.counts, model.mean_y, model.within_ss, model.mask,
                              model.inputs_t)
    Z = model.work.preacts
    n, D = model.n_neurons, model.n_coords
    M = XT.shape[1]
    f = model.work.resid            # f_p, then R_p
    mag = model.work.resid_mag      # sum of |terms| of f_p, then rho_p
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
    return 0.5 * model.scale * loss


@internal(**SUM_OPTIONS)
def masked_sums(model, j, out):
    """out = sum_{p in S_j} R_p x~_p (``forward`` must have run); returns
    sum_{p in S_j} R_p z_jp.  Vectorised sums (their order is the compiler's)."""
    mask, Z, R, XT = model.mask, model.work.preacts, model.work.resid, model.inputs_t
    D = model.n_coords
    M = XT.shape[1]
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
    pins, Pi, S = model.pins, model.projector, model.work.masked
    n, D = model.n_neurons, model.n_coords
    sc = model.scale
    nD = n * D
    tmp = np.empty(D)
    for j in range(n):
        ga = masked_sums(model, j, S[j])
        F[nD + j] = -sc * ga if model.train_a else 0.0
        if model.train_w:
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
    theta, F = model.work.theta, model.work.field
    expand(model, u, theta)
    forward(model, theta)
    field(model, theta, F)
    state_of(model, F, out)


@internal
def rhs_loss(model, u, out):
    """Hook for radau.run: out = state velocity; returns the loss at u."""
    theta, F = model.work.theta, model.work.field
    expand(model, u, theta)
    loss = forward(model, theta)
    field(model, theta, F)
    state_of(model, F, out)
    return loss


@internal
def expand_rows(model, rows, k, tmp):
    """Hook for radau.run: rows[r, q] <- full parameters of the state in rows[r, q, :n]."""
    n = model.free.size
    for r in range(k):
        for q in range(rows.shape[1]):
            row = rows[r, q]
            for p in range(n):
                tmp[p] = row[p]
            expand(model, tmp, row)


@internal
def output(model, u, theta, with_loss):
    """Hook for radau.run: full parameters and (optionally) the loss."""
    expand(model, u, theta)
    if with_loss:
        return forward(model, theta)
    return 0.0


@internal
def hessian(model, theta, H):
    """Hessian of L on the stage (``forward`` must have run), full parameters."""
    X, cnt, mask, Z = model.inputs, model.counts, model.mask, model.work.preacts
    n, D = model.n_neurons, model.n_coords
    sc = model.scale
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
    free, Nb, slot = model.free, model.basis, model.basis_col
    D = model.n_coords
    theta = model.work.theta
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


@internal
def slide_functions(model, j, slot):
    """(A, R_q) for the pinned point in ``slot`` of neuron j: lambda = A / R_q
    (``forward`` must have run)."""
    S = np.empty(model.n_coords)
    masked_sums(model, j, S)
    return _slide_weights(model, j, slot, S)


@internal
def _slide_weights(model, j, slot, S):
    """(A, R_q) of :func:`slide_functions` from neuron j's masked sums S."""
    pins, Kq = model.pins, model.lambda_rows
    dot = 0.0
    for k in range(S.size):
        dot += Kq[j, slot, k] * S[k]
    return -dot, model.work.resid[pins[j, slot]]


@internal
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
    X, cnt, mask, Z = model.inputs, model.counts, model.mask, model.work.preacts
    n, D = model.n_neurons, model.n_coords
    sc = model.scale
    nD = n * D
    M = X.shape[0]
    theta = model.work.theta
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
