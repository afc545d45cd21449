"""Population loss of bias-free two-layer networks under Gaussian inputs, in closed form.

For f(x) = sum_j a_j sigma(w_j . x) (student, W (n, d)) and f*(x) = sum_m b_m
sigma(v_m . x) (teacher, V (M, d)), x ~ N(0, I_d),

    L = 1/2 E[(f - f*)^2] = 1/2 (a^T K(W, W) a - 2 a^T K(W, V) b + b^T K(V, V) b),

with the pair kernel K(u, v) = E[sigma(u . x) sigma(v . x)]:

- relu (the arc-cosine kernel of degree 1, Cho & Saul 2009, divided by 2):
  K = |u| |v| (sin t + (pi - t) cos t) / (2 pi), t the angle between u and v;
- erf, sigma(z) = erf(z / sqrt 2) (Saad & Solla 1995):
  K = (2/pi) arcsin(u.v / sqrt((1 + |u|^2)(1 + |v|^2))).

Derivatives used (G, D, M per pair; d-vectors and d x d matrices):
G(u, v) = dK/du, D(u, v) = d^2K/du^2, M(u, v) = d^2K/du dv (M[p, q] = d^2K/du_p dv_q).

- relu, with u^ = u/|u|, v^ = v/|v|, c = cos t, s = sin t, e = v^ - c u^,
  f = u^ - c v^ (|e| = |f| = s):
  G = (s |v| / |u|) u / (2 pi) + (pi - t) v / (2 pi),
  D = |v| / (2 pi |u|) (s (I - u^ u^^T) + e e^T / s),
  M = ((pi - t) I + s u^ v^^T + e f^T / s) / (2 pi).
  The e e^T / s terms are O(s): D and M are continuous at parallel pairs (t = 0
  or pi, where they are skipped), so the population loss of a relu network is
  C^2 wherever no w_j vanishes (it is not differentiable at w_j = 0).
  The angle is Kahan's t = 2 atan2(|u^ - v^|, |u^ + v^|), accurate to rounding
  for nearly parallel vectors (arccos of the cosine loses half the digits there).
- erf, with A = |u|^2, B = u.v, C = |v|^2, Delta = (1+A)(1+C) - B^2 >= 1 + A + C:
  kappa(A, B, C) = (2/pi) atan2(B, sqrt Delta) and, by the chain rule,
  G = 2 kappa_A u + kappa_B v,
  D = 2 kappa_A I + 4 kappa_AA u u^T + 2 kappa_AB (u v^T + v u^T) + kappa_BB v v^T,
  M = kappa_B I + 2 kappa_AB u u^T + 4 kappa_AC u v^T + kappa_BB v u^T + 2 kappa_BC v v^T.

Gradient (Gamma_j = sum_l a_l G(w_j, w_l) - sum_m b_m G(w_j, v_m); the l = j term
is the partial derivative in the first argument at (w_j, w_j)):
dL/da_j = sum_l K(w_j, w_l) a_l - sum_m K(w_j, v_m) b_m,  dL/dw_j = a_j Gamma_j.
Hessian: H[a_j, a_k] = K(w_j, w_k); H[a_j, w_k] = delta_jk Gamma_j + a_k G(w_k, w_j);
H[w_j, w_k] = a_j a_k M(w_j, w_k) (j != k);
H[w_j, w_j] = a_j (sum_l a_l D(w_j, w_l) - sum_m b_m D(w_j, v_m)) + a_j^2 M(w_j, w_j).

Each pair costs O(d) (O(d^2) for its Hessian blocks): the loss and gradient cost
O((n + M) n d), the Hessian O((n + M) n d^2).  Parameters are packed as
``(W.ravel(), a)``, W row-major (``TwoLayer(W, a, act, bias=False).params()``).
"""

import math

import numba as nb
import numpy as np

from .._config import INLINE_OPTIONS, NUMBA_OPTIONS
from .internal import internal
from .activations import RELU

_INV_2PI = 1.0 / (2.0 * math.pi)
_2_OVER_PI = 2.0 / math.pi


@nb.njit(**INLINE_OPTIONS)
def _dot(u, v):
    s = 0.0
    for k in range(u.size):
        s += u[k] * v[k]
    return s


@nb.njit(**INLINE_OPTIONS)
def _relu_angle(u, v, nu, nv):
    """Kahan's angle between u and v (|u|, |v| > 0): t = 2 atan2(|u^ - v^|, |u^ + v^|)."""
    dm = 0.0
    dp = 0.0
    for k in range(u.size):
        x = u[k] / nu
        y = v[k] / nv
        dm += (x - y) * (x - y)
        dp += (x + y) * (x + y)
    return 2.0 * math.atan2(math.sqrt(dm), math.sqrt(dp))


@internal
def pair(code, u, v, nu, nv):
    """K(u, v) and the coefficients of G(u, v) = g1 u + g2 v and G(v, u) = h1 v + h2 u.

    Returns (K, g1, g2, h1, h2).  relu with |u| = 0: K = 0 and G(u, v) = v / 4
    (the mean of dK/du over the directions of u; the loss is not differentiable
    there); |v| = 0 likewise.
    """
    if code == RELU:
        if nu == 0.0 or nv == 0.0:
            return 0.0, 0.0, (0.25 if nv > 0.0 else 0.0), 0.0, (0.25 if nu > 0.0 else 0.0)
        t = _relu_angle(u, v, nu, nv)
        s = math.sin(t)
        c = math.cos(t)
        K = nu * nv * (s + (math.pi - t) * c) * _INV_2PI
        g2 = (math.pi - t) * _INV_2PI
        return K, s * nv / nu * _INV_2PI, g2, s * nu / nv * _INV_2PI, g2
    # ERF
    A = nu * nu
    C = nv * nv
    B = _dot(u, v)
    delta = (1.0 + A) * (1.0 + C) - B * B
    r = 1.0 / math.sqrt(delta)
    K = _2_OVER_PI * math.atan2(B, math.sqrt(delta))
    kB = _2_OVER_PI * r
    return K, -_2_OVER_PI * B * r / (1.0 + A), kB, -_2_OVER_PI * B * r / (1.0 + C), kB


@internal
def norms(W, out):
    """Row norms of W into ``out``."""
    for j in range(W.shape[0]):
        out[j] = math.sqrt(_dot(W[j], W[j]))


@nb.njit(**NUMBA_OPTIONS)
def self_energy(code, V, b):
    """b^T K(V, V) b (the teacher's E[f*^2])."""
    M = V.shape[0]
    nv = np.empty(M)
    norms(V, nv)
    s = 0.0
    for m in range(M):
        for q in range(m, M):
            K = pair(code, V[m], V[q], nv[m], nv[q])[0]
            s += (1.0 if q == m else 2.0) * b[m] * b[q] * K
    return s


@nb.njit(**NUMBA_OPTIONS)
def loss(code, W, a, V, b, ett):
    """L = 1/2 (a^T K_ss a - 2 a^T K_st b + ett), ett = b^T K(V, V) b."""
    n = W.shape[0]
    M = V.shape[0]
    nw = np.empty(n)
    nv = np.empty(M)
    norms(W, nw)
    norms(V, nv)
    ss = 0.0
    st = 0.0
    for j in range(n):
        for k in range(j, n):
            K = pair(code, W[j], W[k], nw[j], nw[k])[0]
            ss += (1.0 if k == j else 2.0) * a[j] * a[k] * K
        for m in range(M):
            st += a[j] * b[m] * pair(code, W[j], V[m], nw[j], nv[m])[0]
    return 0.5 * (ss - 2.0 * st + ett)


@nb.njit(**NUMBA_OPTIONS)
def loss_grad(code, W, a, V, b, ett, gW, ga):
    """Loss (returned) and its gradient into gW (n, d) and ga (n,)."""
    n, d = W.shape
    M = V.shape[0]
    nw = np.empty(n)
    nv = np.empty(M)
    norms(W, nw)
    norms(V, nv)
    gW[:, :] = 0.0          # Gamma_j, scaled by a_j at the end
    ga[:] = 0.0
    ss = 0.0
    st = 0.0
    for j in range(n):
        wj = W[j]
        for k in range(j, n):
            wk = W[k]
            K, g1, g2, h1, h2 = pair(code, wj, wk, nw[j], nw[k])
            if k == j:
                ss += a[j] * a[j] * K
                ga[j] += K * a[j]
                for p in range(d):
                    gW[j, p] += a[j] * (g1 + g2) * wj[p]
            else:
                ss += 2.0 * a[j] * a[k] * K
                ga[j] += K * a[k]
                ga[k] += K * a[j]
                for p in range(d):
                    gW[j, p] += a[k] * (g1 * wj[p] + g2 * wk[p])
                    gW[k, p] += a[j] * (h1 * wk[p] + h2 * wj[p])
        for m in range(M):
            vm = V[m]
            K, g1, g2, _, _ = pair(code, wj, vm, nw[j], nv[m])
            st += a[j] * b[m] * K
            ga[j] -= K * b[m]
            for p in range(d):
                gW[j, p] -= b[m] * (g1 * wj[p] + g2 * vm[p])
    for j in range(n):
        for p in range(d):
            gW[j, p] *= a[j]
    return 0.5 * (ss - 2.0 * st + ett)


@internal
def _relu_blocks(u, v, nu, nv, Dm, Mm, want_d, want_m, e, f):
    """D(u, v) into Dm and M(u, v) into Mm (relu, |u|, |v| > 0)."""
    d = u.size
    t = _relu_angle(u, v, nu, nv)
    s = math.sin(t)
    c = math.cos(t)
    for p in range(d):
        e[p] = v[p] / nv - c * u[p] / nu
        f[p] = u[p] / nu - c * v[p] / nv
    inv_s = 1.0 / s if s > 0.0 else 0.0
    if want_d:
        sc = nv / (nu * 2.0 * math.pi)
        for p in range(d):
            up = u[p] / nu
            for q in range(d):
                val = -s * up * u[q] / nu + e[p] * e[q] * inv_s
                if p == q:
                    val += s
                Dm[p, q] = sc * val
    if want_m:
        pt = math.pi - t
        for p in range(d):
            up = u[p] / nu
            for q in range(d):
                val = s * up * v[q] / nv + e[p] * f[q] * inv_s
                if p == q:
                    val += pt
                Mm[p, q] = val * _INV_2PI


@internal
def _erf_blocks(u, v, nu, nv, Dm, Mm, want_d, want_m):
    """D(u, v) into Dm and M(u, v) into Mm (erf)."""
    d = u.size
    A = nu * nu
    C = nv * nv
    B = _dot(u, v)
    pA = 1.0 + A
    pC = 1.0 + C
    delta = pA * pC - B * B
    r = 1.0 / math.sqrt(delta)
    r3 = r * r * r
    c0 = _2_OVER_PI
    kA = -0.5 * c0 * B * r / pA
    kB = c0 * r
    kAA = 0.5 * c0 * B * (r / (pA * pA) + 0.5 * pC * r3 / pA)
    kAB = -0.5 * c0 * pC * r3
    kAC = 0.25 * c0 * B * r3
    kBB = c0 * B * r3
    kBC = -0.5 * c0 * pA * r3
    if want_d:
        for p in range(d):
            for q in range(d):
                val = (4.0 * kAA * u[p] * u[q] + 2.0 * kAB * (u[p] * v[q] + v[p] * u[q])
                       + kBB * v[p] * v[q])
                if p == q:
                    val += 2.0 * kA
                Dm[p, q] = val
    if want_m:
        for p in range(d):
            for q in range(d):
                val = (2.0 * kAB * u[p] * u[q] + 4.0 * kAC * u[p] * v[q]
                       + kBB * v[p] * u[q] + 2.0 * kBC * v[p] * v[q])
                if p == q:
                    val += kB
                Mm[p, q] = val


@internal
def blocks(code, u, v, nu, nv, Dm, Mm, want_d, want_m, e, f):
    """D(u, v) and/or M(u, v) into the d x d arrays Dm, Mm (see the module docstring)."""
    if code == RELU:
        _relu_blocks(u, v, nu, nv, Dm, Mm, want_d, want_m, e, f)
    else:
        _erf_blocks(u, v, nu, nv, Dm, Mm, want_d, want_m)


@nb.njit(**NUMBA_OPTIONS)
def hessian(code, W, a, V, b, H):
    """The Hessian of L over theta = (W.ravel(), a) into H (P, P), P = n (d + 1)."""
    n, d = W.shape
    M = V.shape[0]
    off = n * d
    nw = np.empty(n)
    nv = np.empty(M)
    norms(W, nw)
    norms(V, nv)
    Dm = np.empty((d, d))
    Mm = np.empty((d, d))
    e = np.empty(d)
    f = np.empty(d)
    gam = np.zeros((n, d))
    H[:, :] = 0.0
    for j in range(n):
        wj = W[j]
        # a-a, a-w blocks and Gamma_j
        for k in range(n):
            wk = W[k]
            K, g1, g2, h1, h2 = pair(code, wj, wk, nw[j], nw[k])
            H[off + j, off + k] = K
            for p in range(d):
                gam[j, p] += a[k] * (g1 * wj[p] + g2 * wk[p])
                # a_j with w_k: a_k G(w_k, w_j) = a_k (h1 w_k + h2 w_j)
                H[off + j, k * d + p] += a[k] * (h1 * wk[p] + h2 * wj[p])
        for m in range(M):
            vm = V[m]
            _, g1, g2, _, _ = pair(code, wj, vm, nw[j], nv[m])
            for p in range(d):
                gam[j, p] -= b[m] * (g1 * wj[p] + g2 * vm[p])
        for p in range(d):
            H[off + j, j * d + p] += gam[j, p]
        # w-w blocks: a_j a_k M(w_j, w_k), and a_j a_l D(w_j, w_l) on the diagonal block
        for k in range(n):
            blocks(code, wj, W[k], nw[j], nw[k], Dm, Mm, True, True, e, f)
            c = a[j] * a[k]
            for p in range(d):
                for q in range(d):
                    H[j * d + p, k * d + q] += c * Mm[p, q]
                    H[j * d + p, j * d + q] += c * Dm[p, q]
        for m in range(M):
            blocks(code, wj, V[m], nw[j], nv[m], Dm, Mm, True, False, e, f)
            cd = -a[j] * b[m]
            for p in range(d):
                for q in range(d):
                    H[j * d + p, j * d + q] += cd * Dm[p, q]
    # the a-w blocks were filled in the a rows: mirror them
    for j in range(n):
        for q in range(off):
            H[q, off + j] = H[off + j, q]
