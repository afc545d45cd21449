"""Compiled gradient-descent and Adam loops on the TwoLayer kernel form.

Parameters live in one flat kernel vector ``tk = (W.ravel(), a)`` updated in
place; ``mask`` (same length, 0/1) freezes entries.  Both optimisers commute
with the signed re-indexing that maps ReLU1D parameters to this form, so one
loop serves both models (Ainsworth & Shin's (2021) model with w = 1 has a faster loop in
:mod:`flowlab._kernels.relu1d_descent`).  ``losses[k]`` receives the loss at
iterate k of the call (computed with the gradient, i.e. before that
iteration's update); ``snaps[s]`` receives the parameters at iteration
``keep[s]`` (sorted).  The loops return the loss after the last iteration, or
a non-finite loss as soon as one appears.
"""

import math

import numba as nb
import numpy as np

from .._config import NUMBA_OPTIONS
from .internal import internal
from .twolayer import gradient, residual


@internal
def _views(tk, n, d1):
    return tk[: n * d1].reshape((n, d1)), tk[n * d1:]


@nb.njit(**NUMBA_OPTIONS)
def gd(code, tk, n, d1, XT, y, scale, lr, steps, mask, losses, keep, snaps):
    """``steps`` iterations of theta <- theta - lr * grad L; returns the final loss."""
    W, a = _views(tk, n, d1)
    g = np.empty_like(tk)
    gW, ga = _views(g, n, d1)
    r = np.empty(XT.shape[1])
    rec = 0
    for k in range(steps):
        L = gradient(code, W, a, XT, y, scale, r, gW, ga)
        losses[k] = L
        if not math.isfinite(L):
            return L
        while rec < keep.size and keep[rec] == k:
            snaps[rec, :] = tk
            rec += 1
        for p in range(tk.size):
            tk[p] -= lr * mask[p] * g[p]
    return scale * residual(code, W, a, XT, y, r)


@nb.njit(**NUMBA_OPTIONS)
def adam(code, tk, n, d1, XT, y, scale, lr, beta1, beta2, eps, steps, mask, losses, keep,
         snaps, m1, m2, t0):
    """``steps`` Adam iterations (Kingma & Ba); ``m1, m2`` are the moment estimates,
    ``t0`` the number of iterations already done (for bias correction).  Returns the final loss.
    """
    W, a = _views(tk, n, d1)
    g = np.empty_like(tk)
    gW, ga = _views(g, n, d1)
    r = np.empty(XT.shape[1])
    rec = 0
    for k in range(steps):
        L = gradient(code, W, a, XT, y, scale, r, gW, ga)
        losses[k] = L
        if not math.isfinite(L):
            return L
        while rec < keep.size and keep[rec] == k:
            snaps[rec, :] = tk
            rec += 1
        it = t0 + k + 1
        c1 = 1.0 - beta1 ** it
        c2 = 1.0 - beta2 ** it
        for p in range(tk.size):
            if mask[p] == 0.0:
                continue
            m1[p] = beta1 * m1[p] + (1.0 - beta1) * g[p]
            m2[p] = beta2 * m2[p] + (1.0 - beta2) * g[p] * g[p]
            tk[p] -= lr * (m1[p] / c1) / (math.sqrt(m2[p] / c2) + eps)
    return scale * residual(code, W, a, XT, y, r)
