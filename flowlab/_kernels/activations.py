"""Activation functions and their first two derivatives, selected by an integer code.

One kernel serves all activations (a branch on ``code``) so that every model
kernel is compiled once, not once per activation.  The codes are the indices of
:data:`NAMES`; the public registry in :mod:`flowlab.activations` is built on them.

``act`` evaluates one point; ``act_block`` fills value and first derivative
for a block of points with the branch outside the loop, so that the loops of
the tanh family, relu, elu, sigmoid, swish and softplus vectorise (see
:mod:`.vecmath`).  Both use the same formulas and agree to rounding.
"""

import math

import numba as nb
import numpy as np

from .._config import INLINE_OPTIONS, NUMBA_OPTIONS
from .vecmath import exp_neg, expm1_neg, expm1_parts, sigmoid_fast, tanh_finish, tanh_sech2

NAMES = ("relu", "tanh", "sigmoid", "softplus", "xtanh", "x2tanh",
         "elu", "cos", "gelu", "swish", "erf")
RELU, TANH, SIGMOID, SOFTPLUS, XTANH, X2TANH, ELU, COS, GELU, SWISH, ERF = range(len(NAMES))

_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT2_OVER_PI = math.sqrt(2.0 / math.pi)


@nb.njit(**INLINE_OPTIONS)
def _relu(z):
    h = np.float64(z > 0.0)      # left-continuous Heaviside: relu'(0) = 0 (Ainsworth & Shin 2021)
    return z * h, h


@nb.njit(**INLINE_OPTIONS)
def _elu(z):
    pos = np.float64(z > 0.0)
    e = expm1_neg(min(z, 0.0))
    return pos * z + (1.0 - pos) * e, pos + (1.0 - pos) * (e + 1.0)


@nb.njit(**NUMBA_OPTIONS)
def act(code, z):
    """Return (sigma(z), sigma'(z), sigma''(z)) for the activation ``code``."""
    if code == RELU:
        v, h = _relu(z)
        return v, h, 0.0
    if code == TANH:
        t, s = tanh_sech2(z)
        return t, s, -2.0 * t * s
    if code == SIGMOID:
        s = sigmoid_fast(z)
        d = s * (1.0 - s)
        return s, d, d * (1.0 - 2.0 * s)
    if code == SOFTPLUS:
        s = sigmoid_fast(z)
        return max(z, 0.0) + math.log1p(exp_neg(-abs(z))), s, s * (1.0 - s)
    if code == XTANH:
        t, s = tanh_sech2(z)
        return z * t, t + z * s, 2.0 * s * (1.0 - z * t)
    if code == X2TANH:
        t, s = tanh_sech2(z)
        return (z * z * t, 2.0 * z * t + z * z * s,
                2.0 * t + 4.0 * z * s - 2.0 * z * z * t * s)
    if code == ELU:
        v, d = _elu(z)
        return v, d, d if z <= 0.0 else 0.0
    if code == COS:
        c = math.cos(z)
        return c, -math.sin(z), -c
    if code == GELU:
        cdf = 0.5 * (1.0 + math.erf(z * _INV_SQRT2))
        pdf = _INV_SQRT2PI * math.exp(-0.5 * z * z)
        return z * cdf, cdf + z * pdf, pdf * (2.0 - z * z)
    if code == ERF:
        # erf(z / sqrt(2)) = 2 Phi(z) - 1: Saad & Solla's g, the "sigmoid2" of other codes
        d = _SQRT2_OVER_PI * math.exp(-0.5 * z * z)
        return math.erf(z * _INV_SQRT2), d, -z * d
    # SWISH (beta = 1): z * sigmoid(z)
    s = sigmoid_fast(z)
    d = s * (1.0 - s)
    return z * s, s + z * d, d * (2.0 + z * (1.0 - 2.0 * s))


@nb.njit(**INLINE_OPTIONS)
def _sigmoid_from(z, e):
    """sigmoid(z) given e = exp(-|z|), as in ``sigmoid_fast``."""
    inv = 1.0 / (1.0 + e)
    pos = np.float64(z >= 0.0)
    return pos * inv + (1.0 - pos) * (e * inv)


@nb.njit(**NUMBA_OPTIONS)
def act_block(code, z, cnt, v, d1, w):
    """sigma and sigma' of ``z[:cnt]`` into ``v[:cnt]`` and ``d1[:cnt]``.

    ``w`` is a contiguous work buffer of at least ``cnt`` entries.
    """
    if code == RELU:
        for i in range(cnt):
            v[i], d1[i] = _relu(z[i])
    elif code == TANH or code == XTANH or code == X2TANH:
        for i in range(cnt):
            d1[i] = -2.0 * abs(z[i])
        expm1_parts(d1, cnt, v, w)                 # v = expm1(r), w = 2^k
        for i in range(cnt):
            v[i], d1[i] = tanh_finish(z[i], w[i], v[i])
        if code == XTANH:
            for i in range(cnt):
                zi = z[i]
                t = v[i]
                v[i] = zi * t
                d1[i] = t + zi * d1[i]
        elif code == X2TANH:
            for i in range(cnt):
                zi = z[i]
                t = v[i]
                v[i] = zi * zi * t
                d1[i] = 2.0 * zi * t + zi * zi * d1[i]
    elif code == SIGMOID or code == SWISH or code == SOFTPLUS:
        for i in range(cnt):
            d1[i] = -abs(z[i])
        expm1_parts(d1, cnt, v, w)
        for i in range(cnt):
            sk = w[i]
            e = sk * v[i] + sk                     # exp(-|z|)
            w[i] = e
            sg = _sigmoid_from(z[i], e)
            v[i] = sg
            d1[i] = sg * (1.0 - sg)
        if code == SWISH:
            for i in range(cnt):
                zi = z[i]
                sg = v[i]
                v[i] = zi * sg
                d1[i] = sg + zi * d1[i]
        elif code == SOFTPLUS:
            for i in range(cnt):
                d1[i] = v[i]
                v[i] = max(z[i], 0.0) + math.log1p(w[i])
    elif code == ELU:
        for i in range(cnt):
            d1[i] = min(z[i], 0.0)
        expm1_parts(d1, cnt, v, w)
        for i in range(cnt):
            sk = w[i]
            e = sk * v[i] + (sk - 1.0)             # expm1(min(z, 0))
            pos = np.float64(z[i] > 0.0)
            v[i] = pos * z[i] + (1.0 - pos) * e
            d1[i] = pos + (1.0 - pos) * (e + 1.0)
    else:
        for i in range(cnt):
            v[i], d1[i], _ = act(code, z[i])


@nb.njit(**NUMBA_OPTIONS)
def act_array(code, z, v, d1, d2):
    """Evaluate ``act`` elementwise on the flat array ``z`` into ``v, d1, d2``."""
    for i in range(z.size):
        v[i], d1[i], d2[i] = act(code, z[i])
