"""Slow, obviously correct numpy references for every fast path in flowlab.

Nothing here is fast or clever: loops and textbook formulas, used only by the
tests to check the compiled kernels.
"""

import math

import numpy as np
from scipy.special import erf


def act_ref(name, z):
    """(sigma, sigma', sigma'') with numpy's own functions."""
    z = np.asarray(z, dtype=float)
    t = np.tanh(z)
    with np.errstate(over="ignore"):
        sech2 = 1.0 / np.cosh(z) ** 2      # no cancellation where tanh(z) ~ +-1
    sg = 1.0 / (1.0 + np.exp(-np.clip(z, -700, 700)))
    if name == "relu":
        return np.maximum(z, 0), (z > 0).astype(float), np.zeros_like(z)
    if name == "tanh":
        return t, sech2, -2 * t * sech2
    if name == "sigmoid":
        return sg, sg * (1 - sg), sg * (1 - sg) * (1 - 2 * sg)
    if name == "softplus":
        return np.logaddexp(0.0, z), sg, sg * (1 - sg)
    if name == "xtanh":
        return z * t, t + z * sech2, 2 * sech2 - 2 * z * t * sech2
    if name == "x2tanh":
        return z ** 2 * t, 2 * z * t + z ** 2 * sech2, 2 * t + 4 * z * sech2 - 2 * z ** 2 * t * sech2
    if name == "elu":
        e = np.exp(np.minimum(z, 0))
        return np.where(z > 0, z, e - 1), np.where(z > 0, 1.0, e), np.where(z > 0, 0.0, e)
    if name == "cos":
        return np.cos(z), -np.sin(z), -np.cos(z)
    if name == "gelu":
        cdf = 0.5 * (1 + erf(z / math.sqrt(2)))
        pdf = np.exp(-z ** 2 / 2) / math.sqrt(2 * math.pi)
        return z * cdf, cdf + z * pdf, pdf * (2 - z ** 2)
    if name == "erf":
        pdf2 = np.sqrt(2 / np.pi) * np.exp(-z ** 2 / 2)
        return erf(z / math.sqrt(2)), pdf2, -z * pdf2
    if name == "swish":
        return z * sg, sg + z * sg * (1 - sg), sg * (1 - sg) * (2 + z * (1 - 2 * sg))
    raise KeyError(name)


def twolayer_parts(W, a, activation, X):
    """Pre-activations Z (m, n) and the reference activation values."""
    X = np.atleast_2d(np.asarray(X, float).T).T if np.ndim(X) == 1 else np.asarray(X, float)
    Xt = np.hstack([X, np.ones((X.shape[0], 1))])
    Z = np.array([[W[j] @ Xt[i] for j in range(W.shape[0])] for i in range(X.shape[0])])
    return Xt, Z, act_ref(activation, Z)


def twolayer_loss_grad_hess(W, a, activation, X, y, loss="sum"):
    """Loss, gradient and Hessian over theta = (W.ravel(), a), built entry by entry."""
    n, d1 = W.shape
    Xt, Z, (S, D1, D2) = twolayer_parts(W, a, activation, X)
    m = Xt.shape[0]
    scale = 1.0 if loss == "sum" else 1.0 / m
    f = S @ a
    r = f - y
    P = n * d1 + n
    J = np.zeros((m, P))
    for i in range(m):
        for j in range(n):
            for k in range(d1):
                J[i, j * d1 + k] = a[j] * D1[i, j] * Xt[i, k]
            J[i, n * d1 + j] = S[i, j]
    H = scale * J.T @ J
    for i in range(m):
        for j in range(n):
            for k in range(d1):
                ia = n * d1 + j
                ik = j * d1 + k
                H[ia, ik] += scale * r[i] * D1[i, j] * Xt[i, k]
                H[ik, ia] += scale * r[i] * D1[i, j] * Xt[i, k]
                for l in range(d1):
                    H[ik, j * d1 + l] += scale * r[i] * a[j] * D2[i, j] * Xt[i, k] * Xt[i, l]
    return 0.5 * scale * r @ r, scale * J.T @ r, H


def relu1d_output(b, c, w, x):
    """f(x) = sum_j c_j relu(w_j x - b_j), by a double loop."""
    w = np.ones_like(b) if w is None else w
    return np.array([sum(c[j] * max(w[j] * xi - b[j], 0.0) for j in range(len(b))) for xi in x])


def relu1d_loss_grad(b, c, w, x, y, loss="sum"):
    """Loss and gradient over (b, c[, w]) of (3.1) in Ainsworth & Shin 2021, written out."""
    wv = np.ones_like(b) if w is None else w
    m = len(x)
    scale = 1.0 if loss == "sum" else 1.0 / m
    r = relu1d_output(b, c, w, x) - y
    gb, gc, gw = np.zeros_like(b), np.zeros_like(c), np.zeros_like(b)
    for j in range(len(b)):
        for i in range(m):
            z = wv[j] * x[i] - b[j]
            if z > 0:
                gc[j] += scale * r[i] * z
                gb[j] -= scale * r[i] * c[j]
                gw[j] += scale * r[i] * c[j] * x[i]
    g = np.concatenate([gb, gc] + ([] if w is None else [gw]))
    return 0.5 * scale * r @ r, g


def gd_ref(grad, theta, lr, steps):
    """Plain gradient descent with a Python loop."""
    th = np.array(theta, float)
    for _ in range(steps):
        th = th - lr * grad(th)
    return th


def adam_ref(grad, theta, lr, steps, b1=0.9, b2=0.999, eps=1e-8):
    """Adam as written in Kingma & Ba, Algorithm 1."""
    th = np.array(theta, float)
    m = np.zeros_like(th)
    v = np.zeros_like(th)
    for t in range(1, steps + 1):
        g = grad(th)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        th = th - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
    return th


def relu1d_field_masked(b, c, w, x, y, loss, mask):
    """-grad L of a ReLU1D network with the activity of every (point, neuron) given by
    ``mask`` (m, n) instead of the sign of w x - b (used for one-sided Filippov fields)."""
    wv = np.ones_like(b) if w is None else w
    m = len(x)
    scale = 1.0 if loss == "sum" else 1.0 / m
    z = np.outer(x, wv) - b[None, :]
    f = (np.maximum(z, 0.0) * mask) @ c
    r = f - y
    gb = -scale * c * (mask.T @ r)
    gc = scale * ((np.maximum(z, 0.0) * mask).T @ r)
    gw = scale * c * (mask.T @ (r * x))
    return -np.concatenate([gb, gc] + ([] if w is None else [gw]))


def twolayer_relu_field_masked(W, a, X, y, loss, mask):
    """-grad L of a TwoLayer relu network, flat (W row-major, a), with the activity of
    every (point, neuron) given by ``mask`` (m, n) instead of the sign of W_j . (x, 1)."""
    m = X.shape[0]
    scale = 1.0 if loss == "sum" else 1.0 / m
    Xt = np.column_stack([X, np.ones(m)])
    z = Xt @ W.T                                   # (m, n)
    h = np.maximum(z, 0.0) * mask
    r = h @ a - y
    gW = scale * a[:, None] * ((mask * r[:, None]).T @ Xt)
    ga = scale * (h.T @ r)
    return -np.concatenate([gW.ravel(), ga])


# -- Gram matrices and mass matrices (Yang, Zhao & Zhu 2024 and Zhao 2023)
# ---------------------------------


def relu_gram_gauss_legendre(b, w, interval, nodes=200):
    """int relu(w_i x - b_i) relu(w_j x - b_j) dx by ``nodes``-point Gauss-Legendre on every
    cell between the knots b/w (and the interval ends), entry by entry."""
    lo, hi = interval
    b, w = np.asarray(b, float), np.asarray(w, float)
    knots = [bj / wj for bj, wj in zip(b, w) if wj != 0 and lo < bj / wj < hi]
    edges = sorted(set([lo, hi] + knots))
    s, ws = np.polynomial.legendre.leggauss(nodes)
    n = len(b)
    G = np.zeros((n, n))
    for a, c in zip(edges[:-1], edges[1:]):
        x = 0.5 * (a + c) + 0.5 * (c - a) * s
        wx = 0.5 * (c - a) * ws
        for i in range(n):
            pi = np.maximum(w[i] * x - b[i], 0.0)
            for j in range(n):
                G[i, j] += np.sum(wx * pi * np.maximum(w[j] * x - b[j], 0.0))
    return G


def relu_gram_rational(b, w, interval):
    """The same integrals in exact rational arithmetic (inputs taken as exact binary floats),
    rounded to float64 at the end."""
    from fractions import Fraction as F
    lo, hi = F(interval[0]), F(interval[1])

    def active(wj, bj):
        if wj > 0:
            return max(lo, bj / wj), hi
        if wj < 0:
            return lo, min(hi, bj / wj)
        return (lo, hi) if bj < 0 else (hi, lo)

    n = len(b)
    bb, ww = [F(float(v)) for v in b], [F(float(v)) for v in w]
    G = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            s1, e1 = active(ww[i], bb[i])
            s2, e2 = active(ww[j], bb[j])
            a, c = max(s1, s2), min(e1, e2)
            if c <= a:
                continue
            wi, bi, wj, bj = ww[i], bb[i], ww[j], bb[j]

            def prim(x):
                return wi * wj * x ** 3 / 3 - (wi * bj + wj * bi) * x ** 2 / 2 + bi * bj * x
            G[i, j] = float(prim(c) - prim(a))
    return G


def mass_matrix_loops(D, weights):
    """M_ij = sum_k w_k D_ki D_kj by three loops (Yang, Zhao & Zhu 2024, (11))."""
    m, n = D.shape
    M = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            M[i, j] = sum(weights[k] * D[k, i] * D[k, j] for k in range(m))
    return M

def min_norm_lstsq(A, y):
    """Minimum-norm least-squares solution A^+ y by numpy's SVD-based lstsq
    (singular values below max(m, n) * eps * sigma_max count as zero)."""
    return np.linalg.lstsq(np.asarray(A, float), np.asarray(y, float), rcond=None)[0]


def lstsq_rss_highprec(A, y, digits=60):
    """||A A^+ y - y||^2 in `digits`-digit decimal arithmetic.

    The float inputs are converted exactly and the columns orthogonalised by
    modified Gram-Schmidt (twice).  Rank is decided as float64 solvers do: a
    column whose remainder is <= max(m, n) * eps * (largest column norm) counts
    as dependent (so rounding noise in nearly dependent float columns is not
    fitted).  Slow, and accurate far beyond float64 whatever the conditioning
    above that tolerance.
    """
    from decimal import Decimal, localcontext
    A = np.asarray(A, dtype=float)
    m, n = A.shape
    cut = max(m, n) * np.finfo(float).eps * max(np.linalg.norm(A, axis=0).max(), 0.0)
    with localcontext() as ctx:
        ctx.prec = digits
        cut2 = Decimal(float(cut)) ** 2
        basis = []
        for j in range(n):
            w = [Decimal(float(a)) for a in A[:, j]]
            for _ in range(2):
                for q, qq in basis:
                    coef = sum(a * b for a, b in zip(w, q)) / qq
                    w = [a - coef * b for a, b in zip(w, q)]
            ww = sum(a * a for a in w)
            if ww > cut2 and ww > 0:
                basis.append((w, ww))
        r = [Decimal(float(a)) for a in y]
        for _ in range(2):
            for q, qq in basis:
                coef = sum(a * b for a, b in zip(r, q)) / qq
                r = [a - coef * b for a, b in zip(r, q)]
        return float(sum(a * a for a in r))


def cosine_similarity_loops(W):
    """D(u, v) = u.v / (|u||v|) entry by entry (Zhou et al. 2022, (5)); NaN for zero rows."""
    n = len(W)
    D = np.full((n, n), np.nan)
    for i in range(n):
        for j in range(n):
            ni = sum(float(v) ** 2 for v in W[i]) ** 0.5
            nj = sum(float(v) ** 2 for v in W[j]) ** 0.5
            if ni > 0 and nj > 0:
                D[i, j] = sum(float(a) * float(b) for a, b in zip(W[i], W[j])) / (ni * nj)
    return D


def neuron_velocity_loops(omega, x, e, dsigma):
    """-(1/m) sum_i e_i x~_i sigma'(omega . x~_i), x~_i = (x_i, 1), by loops (Zhou et al. 2022, Sec.
    4.4)."""
    X = np.atleast_2d(np.asarray(x, dtype=float).T).T
    m, d = X.shape
    out = np.zeros(d + 1)
    for i in range(m):
        xt = list(X[i]) + [1.0]
        z = sum(o * v for o, v in zip(omega, xt))
        for k in range(d + 1):
            out[k] -= e[i] * xt[k] * dsigma(z) / m
    return out


def neuron_amplitude_loops(W, a, x, sigma):
    """RMS over the points of a_j (sigma(w_j . x~_i) - sigma(0)), neuron by neuron."""
    X = np.atleast_2d(np.asarray(x, dtype=float).T).T
    out = np.zeros(len(a))
    for j in range(len(a)):
        acc = 0.0
        for i in range(X.shape[0]):
            z = sum(W[j][k] * X[i][k] for k in range(X.shape[1])) + W[j][-1]
            acc += (a[j] * (sigma(z) - sigma(0.0))) ** 2
        out[j] = (acc / X.shape[0]) ** 0.5
    return out


def population_pair_ref(act, u, v):
    """E[sigma(u . x) sigma(v . x)], x ~ N(0, I_d), by quadrature in the plane of u and v.

    With an orthonormal basis (e1, e2) of span(u, v) only the two coordinates
    (x . e1, x . e2) ~ N(0, I_2) matter.  relu: in polar coordinates the radial
    integral is int_0^inf r^3 e^(-r^2/2) dr / (2 pi) = 1/pi, leaving
    (1/pi) int_0^{2 pi} relu(u~ . e_phi) relu(v~ . e_phi) dphi, integrated with its
    kinks as break points.  erf: a plain 2-d integral over [-12, 12]^2.
    """
    from scipy import integrate
    u = np.asarray(u, float)
    v = np.asarray(v, float)
    Q, _ = np.linalg.qr(np.column_stack([u, v]))
    uu, vv = Q.T @ u, Q.T @ v
    if act == "relu":
        def f(phi):
            e = np.array([np.cos(phi), np.sin(phi)])
            return max(uu @ e, 0.0) * max(vv @ e, 0.0)
        kinks = sorted({(np.arctan2(w[1], w[0]) + s) % (2 * np.pi)
                        for w in (uu, vv) for s in (np.pi / 2, -np.pi / 2)})
        val, _ = integrate.quad(f, 0.0, 2 * np.pi, points=kinks, epsabs=1e-14, epsrel=1e-13,
                                limit=200)
        return val / np.pi
    g = lambda z: erf(z / math.sqrt(2.0))  # noqa: E731

    def h(y, x):
        return g(uu[0] * x + uu[1] * y) * g(vv[0] * x + vv[1] * y) * np.exp(
            -0.5 * (x * x + y * y)) / (2 * np.pi)
    val, _ = integrate.dblquad(h, -12, 12, -12, 12, epsabs=1e-13, epsrel=1e-12)
    return val


def population_loss_ref(act, W, a, V, b):
    """1/2 E[(f - f*)^2] from :func:`population_pair_ref` over all pairs."""
    U = np.vstack([W, V])
    c = np.concatenate([a, -np.asarray(b, float)])
    K = np.empty((len(U), len(U)))
    for p in range(len(U)):
        for q in range(p, len(U)):
            K[p, q] = K[q, p] = population_pair_ref(act, U[p], U[q])
    return 0.5 * c @ K @ c
