"""Loss, gradient, Jacobian and Hessian of f(x) = sum_j a_j sigma(W_j . (x, 1)).

Conventions shared by every kernel here:

- ``XT`` has shape (d+1, m): the inputs transposed, with a last row of ones, so
  that ``z_ij = sum_k W[j, k] * XT[k, i]`` (always summed in this order, so
  every kernel sees bit-identical pre-activations);
- parameters are packed as ``theta = (W.ravel(), a)`` (W row-major);
- ``scale`` is 1 for the "sum" loss and 1/m for the "mean" loss:
  L = scale/2 * sum_i r_i**2 with r_i = f(x_i) - y_i.

The value/gradient kernels walk the data in blocks of ``BLOCK`` points and keep
sigma and sigma' of the block for all neurons, so each activation is evaluated
once per call and every inner loop runs over contiguous memory (and vectorises).

``ReLU1D`` networks reach these kernels through a signed re-indexing of their
parameters (see :mod:`flowlab.models`), so there is one kernel per quantity.
"""

import numba as nb
import numpy as np

from .._config import INLINE_OPTIONS, NUMBA_OPTIONS
from .internal import internal
from .activations import act, act_block

BLOCK = 256


@nb.njit(**INLINE_OPTIONS)
def _preact(W, XT, j, i):
    z = 0.0
    for k in range(W.shape[1]):
        z += W[j, k] * XT[k, i]
    return z


@internal
def _block_preact(W, XT, j, start, cnt, z):
    for i in range(cnt):
        z[i] = 0.0
    for k in range(W.shape[1]):
        wk = W[j, k]
        for i in range(cnt):
            z[i] += wk * XT[k, start + i]


@nb.njit(**INLINE_OPTIONS)
def _dot(u, v, cnt):
    """sum_i u[i] v[i] over i < cnt with four partial sums (hides add latency)."""
    s0 = s1 = s2 = s3 = 0.0
    i = 0
    while i + 4 <= cnt:
        s0 += u[i] * v[i]
        s1 += u[i + 1] * v[i + 1]
        s2 += u[i + 2] * v[i + 2]
        s3 += u[i + 3] * v[i + 3]
        i += 4
    while i < cnt:
        s0 += u[i] * v[i]
        i += 1
    return (s0 + s1) + (s2 + s3)


@internal
def _block_forward(code, W, a, XT, start, cnt, z, S, D, f, w):
    """sigma, sigma' of the block for every neuron into S, D (n, BLOCK); f on the block."""
    for i in range(cnt):
        f[i] = 0.0
    for j in range(W.shape[0]):
        _block_preact(W, XT, j, start, cnt, z)
        act_block(code, z, cnt, S[j], D[j], w)
        aj = a[j]
        for i in range(cnt):
            f[i] += aj * S[j, i]


@nb.njit(**NUMBA_OPTIONS)
def residual(code, W, a, XT, y, r):
    """r = f(x) - y into ``r``; returns 1/2 sum r_i**2 (unscaled)."""
    n = W.shape[0]
    m = XT.shape[1]
    z = np.empty(BLOCK)
    S = np.empty((n, BLOCK))
    D = np.empty((n, BLOCK))
    f = np.empty(BLOCK)
    w = np.empty(BLOCK)
    s = 0.0
    for start in range(0, m, BLOCK):
        cnt = min(BLOCK, m - start)
        _block_forward(code, W, a, XT, start, cnt, z, S, D, f, w)
        for i in range(cnt):
            ri = f[i] - y[start + i]
            r[start + i] = ri
            s += ri * ri
    return 0.5 * s


@nb.njit(**NUMBA_OPTIONS)
def forward(code, W, a, XT, f):
    """Network output at the m points into ``f`` (shape (m,))."""
    zero = np.zeros(XT.shape[1])
    residual(code, W, a, XT, zero, f)


@nb.njit(**NUMBA_OPTIONS)
def features(code, W, XT, out):
    """Neuron outputs sigma(z_ij) into ``out`` of shape (m, n)."""
    n = W.shape[0]
    m = XT.shape[1]
    z = np.empty(BLOCK)
    v = np.empty(BLOCK)
    d = np.empty(BLOCK)
    w = np.empty(BLOCK)
    for start in range(0, m, BLOCK):
        cnt = min(BLOCK, m - start)
        for j in range(n):
            _block_preact(W, XT, j, start, cnt, z)
            act_block(code, z, cnt, v, d, w)
            for i in range(cnt):
                out[start + i, j] = v[i]


@nb.njit(**NUMBA_OPTIONS)
def gradient(code, W, a, XT, y, scale, r, gW, ga):
    """Loss (returned) and its gradient into ``gW`` (n, d+1) and ``ga`` (n,).

    ``r`` (m,) is workspace and holds the residual on return.
    """
    n, d1 = W.shape
    m = XT.shape[1]
    z = np.empty(BLOCK)
    S = np.empty((n, BLOCK))
    D = np.empty((n, BLOCK))
    f = np.empty(BLOCK)
    t = np.empty(BLOCK)
    w = np.empty(BLOCK)
    gW[:, :] = 0.0
    ga[:] = 0.0
    s = 0.0
    for start in range(0, m, BLOCK):
        cnt = min(BLOCK, m - start)
        _block_forward(code, W, a, XT, start, cnt, z, S, D, f, w)
        for i in range(cnt):
            ri = f[i] - y[start + i]
            r[start + i] = ri
            f[i] = ri
            s += ri * ri
        for j in range(n):
            ga[j] += _dot(f, S[j], cnt)
            Dj = D[j]
            for i in range(cnt):
                t[i] = f[i] * Dj[i]
            for k in range(d1):
                gW[j, k] += _dot(t, XT[k, start:], cnt)
    for j in range(n):
        ga[j] *= scale
        c = scale * a[j]
        for k in range(d1):
            gW[j, k] *= c
    return 0.5 * scale * s


@nb.njit(**NUMBA_OPTIONS)
def jacobian(code, W, a, XT, J):
    """Jacobian of the outputs, J[i, p] = d f(x_i) / d theta_p, into J (m, n(d+2))."""
    n, d1 = W.shape
    m = XT.shape[1]
    off = n * d1
    for j in range(n):
        aj = a[j]
        for i in range(m):
            v, dv, _ = act(code, _preact(W, XT, j, i))
            J[i, off + j] = v
            t = aj * dv
            for k in range(d1):
                J[i, j * d1 + k] = t * XT[k, i]


@nb.njit(**NUMBA_OPTIONS)
def add_curvature(code, W, a, XT, r, scale, pos, sign, H):
    """Add scale * sum_i r_i * Hess_theta f(x_i) into the rows/columns ``pos`` of H.

    ``pos[p]`` is the row of H for kernel parameter p, or -1 when p is not
    trained; ``sign[p]`` is the sign of the user parameter relative to p.
    Only the per-neuron blocks are non-zero: (a_j, W_jk) -> sigma'(z) x_k and
    (W_jk, W_jl) -> a_j sigma''(z) x_k x_l.
    """
    n, d1 = W.shape
    m = XT.shape[1]
    off = n * d1
    cross = np.empty(d1)
    second = np.empty((d1, d1))
    for j in range(n):
        cross[:] = 0.0
        second[:, :] = 0.0
        for i in range(m):
            ri = r[i]
            if ri == 0.0:
                continue
            _, dv, d2v = act(code, _preact(W, XT, j, i))
            for k in range(d1):
                xk = XT[k, i]
                cross[k] += ri * dv * xk
                for l in range(k, d1):
                    second[k, l] += ri * d2v * xk * XT[l, i]
        pa = pos[off + j]
        for k in range(d1):
            pk = pos[j * d1 + k]
            if pk < 0:
                continue
            if pa >= 0:
                v = scale * cross[k] * sign[off + j] * sign[j * d1 + k]
                H[pa, pk] += v
                H[pk, pa] += v
            for l in range(k, d1):
                pl = pos[j * d1 + l]
                if pl < 0:
                    continue
                v = scale * a[j] * second[k, l] * sign[j * d1 + k] * sign[j * d1 + l]
                H[pk, pl] += v
                if pl != pk:
                    H[pl, pk] += v


@nb.njit(**NUMBA_OPTIONS)
def hvp(code, W, a, XT, y, scale, vW, va, oW, oa):
    """Hessian-vector product of L in kernel form: (oW, oa) = H (vW, va), without H.

    H = scale (J^T J + sum_i r_i Hess f(x_i)), with J the Jacobian of the outputs: per
    point, (J v)_i = sum_j va_j sigma(z_ij) + a_j sigma'(z_ij) (vW_j . x_i); J^T w has
    a_j-entries sum_i w_i sigma(z_ij) and W_j-entries a_j sum_i w_i sigma'(z_ij) x_i; the
    curvature term adds r_i sigma'(z_ij) (vW_j . x_i) to a_j, and r_i (sigma'(z_ij) va_j
    + a_j sigma''(z_ij) (vW_j . x_i)) x_i to W_j.  O(m n d): two passes over the data.
    """
    n, d1 = W.shape
    m = XT.shape[1]
    r = np.empty(m)
    Jv = np.zeros(m)
    for i in range(m):
        f = 0.0
        jv = 0.0
        for j in range(n):
            z = 0.0
            u = 0.0
            for k in range(d1):
                z += W[j, k] * XT[k, i]
                u += vW[j, k] * XT[k, i]
            s, ds, _ = act(code, z)
            f += a[j] * s
            jv += va[j] * s + a[j] * ds * u
        r[i] = f - y[i]
        Jv[i] = jv
    for j in range(n):
        oa[j] = 0.0
        for k in range(d1):
            oW[j, k] = 0.0
    for i in range(m):
        for j in range(n):
            z = 0.0
            u = 0.0
            for k in range(d1):
                z += W[j, k] * XT[k, i]
                u += vW[j, k] * XT[k, i]
            s, ds, d2s = act(code, z)
            oa[j] += Jv[i] * s + r[i] * ds * u
            cW = Jv[i] * a[j] * ds + r[i] * (ds * va[j] + a[j] * d2s * u)
            for k in range(d1):
                oW[j, k] += cW * XT[k, i]
    for j in range(n):
        oa[j] *= scale
        for k in range(d1):
            oW[j, k] *= scale
