"""Evaluation of piecewise polynomials stored by their values at Chebyshev-Lobatto nodes."""

import math

import numba as nb
import numpy as np

from .._config import NUMBA_OPTIONS


@nb.njit(**NUMBA_OPTIONS)
def lobatto_nodes(deg):
    """Chebyshev-Lobatto nodes on [0, 1]: s_i = (1 - cos(pi i / deg)) / 2, i = 0..deg."""
    s = np.empty(deg + 1)
    for i in range(deg + 1):
        s[i] = 0.5 * (1.0 - math.cos(math.pi * i / deg))
    s[0] = 0.0
    s[deg] = 1.0
    return s


@nb.njit(**NUMBA_OPTIONS)
def evaluate(breaks, degree, offsets, values, t, out):
    """Evaluate the piecewise polynomial at the sorted-or-not times ``t`` into ``out``.

    Piece k covers [breaks[k], breaks[k+1]] and is the polynomial of degree
    ``degree[k]`` taking the rows ``values[offsets[k]:offsets[k+1]]`` at the
    Lobatto nodes of that interval (barycentric formula of the second kind).
    A time outside [breaks[0], breaks[-1]] uses the first or last piece.
    """
    K = degree.size
    P = values.shape[1]
    for q in range(t.size):
        tq = t[q]
        k = np.searchsorted(breaks, tq, side="right") - 1
        if k < 0:
            k = 0
        if k > K - 1:
            k = K - 1
        t0 = breaks[k]
        h = breaks[k + 1] - t0
        deg = degree[k]
        off = offsets[k]
        s = (tq - t0) / h if h > 0.0 else 0.0
        nodes = lobatto_nodes(deg)
        hit = -1
        for i in range(deg + 1):
            if s == nodes[i]:
                hit = i
                break
        if hit >= 0:
            for p in range(P):
                out[q, p] = values[off + hit, p]
            continue
        den = 0.0
        for p in range(P):
            out[q, p] = 0.0
        for i in range(deg + 1):
            w = 1.0 if i % 2 == 0 else -1.0
            if i == 0 or i == deg:
                w *= 0.5
            c = w / (s - nodes[i])
            den += c
            for p in range(P):
                out[q, p] += c * values[off + i, p]
        for p in range(P):
            out[q, p] /= den


@nb.njit(**NUMBA_OPTIONS)
def derivative(breaks, degree, offsets, values, t, out):
    """Time derivative of the piecewise polynomial at the times ``t`` into ``out``.

    Differentiates the barycentric form: with p(s) = N(s)/D(s),
    p'(s) = (N'(s) - p(s) D'(s)) / D(s), then ds/dt = 1/h.  At a node the formula
    is replaced by the limit sum_i w_i/w_k (v_k - v_i)/(s_k - s_i) (Berrut & Trefethen).
    """
    K = degree.size
    P = values.shape[1]
    for q in range(t.size):
        tq = t[q]
        k = np.searchsorted(breaks, tq, side="right") - 1
        if k < 0:
            k = 0
        if k > K - 1:
            k = K - 1
        t0 = breaks[k]
        h = breaks[k + 1] - t0
        deg = degree[k]
        off = offsets[k]
        s = (tq - t0) / h if h > 0.0 else 0.0
        nodes = lobatto_nodes(deg)
        w = np.empty(deg + 1)
        for i in range(deg + 1):
            w[i] = (1.0 if i % 2 == 0 else -1.0) * (0.5 if (i == 0 or i == deg) else 1.0)
        hit = -1
        for i in range(deg + 1):
            if s == nodes[i]:
                hit = i
                break
        for p in range(P):
            out[q, p] = 0.0
        if hit >= 0:
            for i in range(deg + 1):
                if i != hit:
                    c = (w[i] / w[hit]) / (nodes[hit] - nodes[i])
                    for p in range(P):
                        out[q, p] += c * (values[off + hit, p] - values[off + i, p])
        else:
            val = np.empty(P)
            num_d = np.zeros(P)
            den = 0.0
            den_d = 0.0
            for p in range(P):
                val[p] = 0.0
            for i in range(deg + 1):
                c = w[i] / (s - nodes[i])
                den += c
                den_d -= c / (s - nodes[i])
                for p in range(P):
                    val[p] += c * values[off + i, p]
                    num_d[p] -= c / (s - nodes[i]) * values[off + i, p]
            for p in range(P):
                val[p] /= den
                out[q, p] = (num_d[p] - val[p] * den_d) / den
        for p in range(P):
            out[q, p] /= h
