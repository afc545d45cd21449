"""Exact Gram matrix of univariate ReLU neurons relu(w_j x - b_j) on an interval.

Neuron j is the linear function p_j(x) = w_j x - b_j on its active set, an
interval [s_j, e_j] of [lo, hi] (empty, s_j > e_j, when it never fires there):

- w_j > 0: knot k_j = b_j / w_j, active on [max(lo, k_j), hi];
- w_j < 0: knot k_j = b_j / w_j, active on [lo, min(hi, k_j)];
- w_j = 0: the constant -b_j, active on all of [lo, hi] when b_j < 0 (no knot, k_j = inf).

Two neurons overlap on [alpha, beta] = [max(s_i, s_j), min(e_i, e_j)], where
both are linear, so with h = beta - alpha (Simpson's rule, exact for the
quadratic p_i p_j)

    G_ij = h/6 * (p_i(alpha) (2 p_j(alpha) + p_j(beta)) + p_i(beta) (p_j(alpha) + 2 p_j(beta))).

Accuracy: p_i(alpha) etc. are evaluated as w x - b (one fused multiply-add),
not clamped at 0.  A knot k = b/w is rounded once; the integrand vanishes at
the knot, so moving the end of the overlap by that rounding changes G_ij only
at second order, provided the linear pieces are not forced to 0 at the
rounded knot.  The terms are non-negative up to that rounding, so there is no
cancellation: entries agree with exact rational integration to about 1e-15
relative, small overlaps included (tests/analysis/test_gram.py).
"""

import numba as nb
import numpy as np

from .._config import NUMBA_OPTIONS
from .internal import internal


@internal
def linear_pieces(w, b, lo, hi, s, e, k):
    """Active interval [s_j, e_j] and knot k_j (inf when w_j = 0) of every neuron."""
    for j in range(w.size):
        s[j] = lo
        e[j] = hi
        k[j] = np.inf
        if w[j] > 0.0:
            k[j] = b[j] / w[j]
            if k[j] > lo:
                s[j] = k[j]
        elif w[j] < 0.0:
            k[j] = b[j] / w[j]
            if k[j] < hi:
                e[j] = k[j]
        elif b[j] >= 0.0:
            s[j] = hi
            e[j] = lo


@internal
def _mirror_upper(G, block):
    """Copy the upper triangle of G into the lower one, tile by tile (cache friendly)."""
    n = G.shape[0]
    for i0 in range(0, n, block):
        for j0 in range(i0, n, block):
            for j in range(j0, min(j0 + block, n)):
                for i in range(i0, min(i0 + block, n, j)):
                    G[j, i] = G[i, j]


@nb.njit(**NUMBA_OPTIONS)
def relu_gram_1d(w, b, lo, hi, s, e, k, G):
    """Fill G (n, n) with int_lo^hi relu(w_i x - b_i) relu(w_j x - b_j) dx.

    Row i is computed for j >= i by a branch-free loop over contiguous memory
    (it vectorises); the lower triangle is then mirrored, so G is exactly
    symmetric.  s, e, k are work arrays of length n.
    """
    n = w.size
    linear_pieces(w, b, lo, hi, s, e, k)
    for i in range(n):
        si = s[i]
        ei = e[i]
        wi = w[i]
        bi = b[i]
        for j in range(i, n):
            alpha = max(si, s[j])
            beta = min(ei, e[j])
            pa = wi * alpha - bi
            pb = wi * beta - bi
            qa = w[j] * alpha - b[j]
            qb = w[j] * beta - b[j]
            h = beta - alpha
            g = h / 6.0 * (pa * (2.0 * qa + qb) + pb * (qa + 2.0 * qb))
            G[i, j] = g if (h > 0.0 and g > 0.0) else 0.0
    _mirror_upper(G, 64)
