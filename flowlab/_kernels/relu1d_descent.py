"""GD and Adam for f(x) = sum_j c_j relu(x - b_j) (Ainsworth & Shin 2021), O(n + m) per step.

The data are sorted once (x_0 <= ... <= x_{m-1}).  Neuron j is active on the
suffix i >= k_j, k_j = #{i : x_i <= b_j} (relu'(0) = 0), kept up to date by
walking from its previous value.  Then, with no n x m work:

- f is affine between consecutive k_j: its slope and offset are prefix sums
  of c_j and -c_j b_j dropped at k_j (a difference array);
- the residual suffix sums S0[k] = sum_{i>=k} r_i, S1[k] = sum_{i>=k} r_i x_i
  give dL/dc_j = scale (S1[k_j] - b_j S0[k_j]) and dL/db_j = -scale c_j S0[k_j].

Parameters are one flat vector p = (b, c), the ReLU1D order.  ``losses[k]``
receives the loss at iterate k of the call (before its update); ``snaps[s]``
receives p at iteration ``keep[s]`` (sorted).  The loops return the loss after
the last update, or a non-finite loss as soon as one appears.
"""

import math

import numba as nb
import numpy as np

from .._config import NUMBA_OPTIONS
from .internal import internal

GD = 0
ADAM = 1


@nb.njit(**NUMBA_OPTIONS)
def active_index(xs, b, k):
    """k[j] = number of x_i <= b[j], walking from the previous k[j]."""
    m = xs.size
    for j in range(b.size):
        kj = min(max(k[j], 0), m)
        bj = b[j]
        while kj < m and xs[kj] <= bj:
            kj += 1
        while kj > 0 and xs[kj - 1] > bj:
            kj -= 1
        k[j] = kj


@internal
def residual(p, xs, ys, k, r, slope, offset):
    """r = f(x) - y into ``r``; returns 1/2 sum r_i^2 (unscaled).  ``k`` must be current."""
    n = p.size // 2
    m = xs.size
    for i in range(m + 1):
        slope[i] = 0.0
        offset[i] = 0.0
    for j in range(n):
        slope[k[j]] += p[n + j]
        offset[k[j]] -= p[n + j] * p[j]
    a = 0.0
    o = 0.0
    s = 0.0
    for i in range(m):
        a += slope[i]
        o += offset[i]
        ri = a * xs[i] + o - ys[i]
        r[i] = ri
        s += ri * ri
    return 0.5 * s


@internal
def loss_grad(p, xs, ys, scale, k, r, slope, offset, S0, S1, g):
    """Loss (returned, scaled) and its gradient over (b, c) into ``g``."""
    n = p.size // 2
    m = xs.size
    active_index(xs, p[:n], k)
    L = residual(p, xs, ys, k, r, slope, offset)
    S0[m] = 0.0
    S1[m] = 0.0
    for i in range(m - 1, -1, -1):
        S0[i] = S0[i + 1] + r[i]
        S1[i] = S1[i + 1] + r[i] * xs[i]
    for j in range(n):
        kj = k[j]
        g[j] = -scale * p[n + j] * S0[kj]
        g[n + j] = scale * (S1[kj] - p[j] * S0[kj])
    return scale * L


@nb.njit(**NUMBA_OPTIONS)
def descend(method, p, xs, ys, scale, lr, beta1, beta2, eps, steps, mask, m1, m2, t0,
            k, losses, keep, snaps):
    """``steps`` iterations of GD (method 0) or Adam (method 1) on p = (b, c).

    ``mask`` (2n,) is 1 for trained entries and 0 for frozen ones; ``m1, m2``
    are Adam's moment estimates and ``t0`` the iterations already done (bias
    correction); ``k`` (n,) is the persistent active-index work array.
    """
    n = p.size // 2
    m = xs.size
    r = np.empty(m)
    slope = np.empty(m + 1)
    offset = np.empty(m + 1)
    S0 = np.empty(m + 1)
    S1 = np.empty(m + 1)
    g = np.empty(2 * n)
    s = 0
    for it in range(steps):
        L = loss_grad(p, xs, ys, scale, k, r, slope, offset, S0, S1, g)
        losses[it] = L
        if not math.isfinite(L):
            return L
        while s < keep.size and keep[s] == it:
            snaps[s, :] = p
            s += 1
        if method == GD:
            for q in range(2 * n):
                p[q] -= lr * mask[q] * g[q]
        else:
            tt = t0 + it + 1
            c1 = 1.0 - beta1 ** tt
            c2 = 1.0 - beta2 ** tt
            for q in range(2 * n):
                if mask[q] == 0.0:
                    continue
                m1[q] = beta1 * m1[q] + (1.0 - beta1) * g[q]
                m2[q] = beta2 * m2[q] + (1.0 - beta2) * g[q] * g[q]
                p[q] -= lr * (m1[q] / c1) / (math.sqrt(m2[q] / c2) + eps)
    active_index(xs, p[:n], k)
    return scale * residual(p, xs, ys, k, r, slope, offset)


@nb.njit(**NUMBA_OPTIONS)
def outputs(P, xs, F):
    """F[s] = f(xs) for every parameter row P[s] = (b, c); ``xs`` sorted.  O(n + m) a row."""
    n = P.shape[1] // 2
    m = xs.size
    zero = np.zeros(m)
    slope = np.empty(m + 1)
    offset = np.empty(m + 1)
    for s in range(P.shape[0]):
        p = P[s]
        k = np.searchsorted(xs, p[:n], side="right")
        residual(p, xs, zero, k, F[s], slope, offset)
