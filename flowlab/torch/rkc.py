"""RKC: a stabilised explicit Runge-Kutta-Chebyshev method for gradient flows.

The Jacobian of a gradient flow, -Hess L(theta), is symmetric: its spectrum is
real.  Explicit Runge-Kutta methods (scipy's RK45, DOP853) then take steps
h <= c / rho, rho = max |lambda(Hess L)|, with c of order 3-6 whatever the
accuracy asked for; gradient descent is bound by lr < 2 / rho in the same way.
Runge-Kutta-Chebyshev methods stretch the real stability interval
quadratically with the number of stages s: [-beta(s), 0] with beta ~ 0.65 s^2,
so a step of length h costs about sqrt(h rho / 0.65) gradients instead of
h rho / c.  This module implements the second-order, damped RKC scheme of
Sommeijer, Shampine and Verwer (J. Comput. Appl. Math. 88 (1997) 315-326):

- damping eps = 2/13, w0 = 1 + eps/s^2, w1 = T_s'(w0)/T_s''(w0),
  b_j = T_j''(w0)/T_j'(w0)^2 (j >= 2), b_0 = b_1 = b_2 (T_j Chebyshev polynomials);
- stages Y_0 = y_n, Y_1 = y_n + mu~_1 h F_0,
  Y_j = (1 - mu_j - nu_j) y_n + mu_j Y_{j-1} + nu_j Y_{j-2} + mu~_j h F(Y_{j-1}) + gamma~_j h F_0;
- local error estimate (1/15) (12 (y_n - y_{n+1}) + 6 h (F_n + F_{n+1}));
- continuous extension: cubic Hermite interpolation between steps.

The spectral radius rho of the Hessian comes from a few Hessian-vector
products (Lanczos, :func:`spectral_radius`), re-estimated every
``rho_every`` steps and after every rejected step.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["RKCSolver", "spectral_radius", "rkc_coefficients", "stability_bound", "MAX_STAGES"]

EPS_DAMP = 2.0 / 13.0
#: Default largest number of stages per step; a step that would need more is
#: shortened to fit the stability interval of this many stages.
MAX_STAGES = 250


def _chebyshev(s: int, w: float):
    """T_j(w), T_j'(w), T_j''(w) for j = 0..s."""
    T = np.zeros(s + 1)
    dT = np.zeros(s + 1)
    d2T = np.zeros(s + 1)
    T[0], T[1] = 1.0, w
    dT[1] = 1.0
    for j in range(2, s + 1):
        T[j] = 2.0 * w * T[j - 1] - T[j - 2]
        dT[j] = 2.0 * T[j - 1] + 2.0 * w * dT[j - 1] - dT[j - 2]
        d2T[j] = 4.0 * dT[j - 1] + 2.0 * w * d2T[j - 1] - d2T[j - 2]
    return T, dT, d2T


def rkc_coefficients(s: int) -> dict:
    """Coefficients mu, nu, mu~, gamma~ (index j = 1..s) of the s-stage damped RKC scheme.

    Returns a dict of arrays of length s + 1 (entry 0 unused) and ``c`` (stage times).
    """
    if s < 2:
        raise ValueError(f"RKC needs at least 2 stages, got {s}.")
    w0 = 1.0 + EPS_DAMP / s ** 2
    T, dT, d2T = _chebyshev(s, w0)
    w1 = dT[s] / d2T[s]
    b = np.zeros(s + 1)
    b[2:] = d2T[2:] / dT[2:] ** 2
    b[0] = b[1] = b[2]
    mu = np.zeros(s + 1)
    nu = np.zeros(s + 1)
    mut = np.zeros(s + 1)
    gat = np.zeros(s + 1)
    mut[1] = b[1] * w1
    for j in range(2, s + 1):
        mu[j] = 2.0 * b[j] * w0 / b[j - 1]
        nu[j] = -b[j] / b[j - 2]
        mut[j] = 2.0 * b[j] * w1 / b[j - 1]
        gat[j] = -(1.0 - b[j - 1] * T[j - 1]) * mut[j]
    c = np.zeros(s + 1)
    c[1] = mut[1]
    c[2:] = w1 * d2T[2:] / dT[2:]          # c_j = T_s'(w0) T_j''(w0) / (T_s''(w0) T_j'(w0))
    c[s] = 1.0
    return {"mu": mu, "nu": nu, "mut": mut, "gat": gat, "c": c}


def stability_bound(s: int) -> float:
    """beta(s): the damped s-stage RKC scheme is stable on [-beta(s), 0] (about 0.653 s^2)."""
    w0 = 1.0 + EPS_DAMP / s ** 2
    T, dT, d2T = _chebyshev(s, w0)
    w1 = dT[s] / d2T[s]
    return (w0 + 1.0) / w1


def stages_for(h_rho: float) -> int:
    """Smallest s >= 2 with beta(s) >= h_rho (with 5% margin)."""
    s = max(2, int(math.ceil(math.sqrt(max(h_rho, 0.0) * 1.05 / 0.653))))
    while stability_bound(s) < 1.05 * h_rho:
        s += 1
    return s


def spectral_radius(hvp, n: int, *, iters: int = 12, rng=None, v0=None) -> tuple[float, np.ndarray]:
    """Largest |eigenvalue| of a symmetric operator from ``iters`` products (Lanczos).

    Parameters
    ----------
    hvp : callable
        v -> H v for the symmetric (n, n) matrix H.
    n : int
    iters : int
        Lanczos steps (each one product).
    v0 : ndarray, optional
        Start vector (e.g. the last estimate's eigenvector, for a warm start).

    Returns
    -------
    rho : float
        max |Ritz value|, a lower bound of the spectral radius converging fast
        for the extreme eigenvalues.
    v : ndarray, shape (n,)
        The Ritz vector of rho (a warm start for the next call).
    """
    rng = np.random.default_rng(0) if rng is None else rng
    q = rng.standard_normal(n) if v0 is None else np.array(v0, dtype=np.float64)
    q /= np.linalg.norm(q)
    Q = [q]
    alpha, beta = [], []
    q_prev, b_prev = np.zeros(n), 0.0
    for _ in range(min(iters, n)):
        w = hvp(q)
        a = float(q @ w)
        w = w - a * q - b_prev * q_prev
        for qq in Q:                       # full reorthogonalisation (few vectors)
            w -= (qq @ w) * qq
        alpha.append(a)
        b = float(np.linalg.norm(w))
        if b < 1e-12 * max(abs(a), 1.0):
            break
        beta.append(b)
        q_prev, q, b_prev = q, w / b, b
        Q.append(q)
    k = len(alpha)
    Tm = np.diag(alpha) + np.diag(beta[:k - 1], 1) + np.diag(beta[:k - 1], -1)
    vals, vecs = np.linalg.eigh(Tm)
    i = int(np.argmax(np.abs(vals)))
    v = np.array(Q[:k]).T @ vecs[:, i]
    return float(abs(vals[i])), v / np.linalg.norm(v)


class RKCSolver:
    """Adaptive damped RKC for y' = F(y) with a real, non-positive-dominated spectrum.

    Parameters
    ----------
    fun : callable
        F(y) -> ndarray (the flow's right-hand side, -grad L).
    rho_fun : callable
        y, v0 -> (rho, v): spectral radius of dF/dy at y and a warm-start vector.
    y0 : ndarray
    t0, t_end : float
    rtol, atol : float
    first_step, max_step : float, optional
    rho_every : int
        Re-estimate rho every this many accepted steps.
    max_stages : int
        Largest number of stages per step (>= 2): steps are no longer than
        0.95 beta(max_stages) / rho, which bounds the work per step and the
        growth of rounding errors through the stages.

    Attributes
    ----------
    t, y, status, nfev, nsteps, nrejected, nrho, stages, stages_max : as the names say
    (``stages``: of the last step; ``nrho``: spectral-radius estimates);
    ``status`` is "running", "finished" or "failed".
    """

    def __init__(self, fun, rho_fun, y0, t0, t_end, *, rtol, atol, first_step=None,
                 max_step=np.inf, rho_every: int = 25, max_stages: int = MAX_STAGES):
        if int(max_stages) < 2:
            raise ValueError(f"`max_stages` must be at least 2, got {max_stages!r}.")
        self.fun, self.rho_fun = fun, rho_fun
        self.max_stages = int(max_stages)
        self._beta_max = 0.95 * stability_bound(self.max_stages)
        self.t, self.t_end = float(t0), float(t_end)
        self.y = np.array(y0, dtype=np.float64)
        self.rtol, self.atol = rtol, atol
        self.max_step = max_step
        self.rho_every = max(1, int(rho_every))
        self.F = fun(self.y)
        self.nfev, self.nsteps, self.nrejected, self.nrho = 1, 0, 0, 0
        self.rho, self._v = None, None
        self._update_rho()
        if first_step is None:
            scale = atol + rtol * np.abs(self.y)
            fnorm = np.sqrt(np.mean((self.F / scale) ** 2))
            h = 0.1 / max(fnorm, 1e-30) if fnorm > 0 else 1.0
            first_step = min(h, 1.0 / max(self.rho, 1e-30))
        self.h = min(float(first_step), max_step, self.t_end - self.t)
        self.err_old, self.h_old = None, None
        self.status = "running" if self.t < self.t_end else "finished"
        self.stages = self.stages_max = 0
        self.t_old = self.y_old = self.F_old = None

    def _update_rho(self):
        self.rho, self._v = self.rho_fun(self.y, self._v)
        self.rho *= 1.2                       # Lanczos bounds from below: add a margin
        self.nrho += 1

    def _step_with(self, h):
        s = min(stages_for(h * self.rho), self.max_stages)
        co = rkc_coefficients(s)
        y0, F0 = self.y, self.F
        Yjm2 = y0
        Yjm1 = y0 + co["mut"][1] * h * F0
        for j in range(2, s + 1):
            Fj = self.fun(Yjm1)
            Yj = ((1.0 - co["mu"][j] - co["nu"][j]) * y0 + co["mu"][j] * Yjm1
                  + co["nu"][j] * Yjm2 + co["mut"][j] * h * Fj + co["gat"][j] * h * F0)
            Yjm2, Yjm1 = Yjm1, Yj
        self.nfev += s - 1
        y1 = Yjm1
        F1 = self.fun(y1)
        self.nfev += 1
        est = (12.0 * (y0 - y1) + 6.0 * h * (F0 + F1)) / 15.0
        scale = self.atol + self.rtol * np.maximum(np.abs(y0), np.abs(y1))
        err = float(np.sqrt(np.mean((est / scale) ** 2)))
        return y1, F1, err, s

    def step(self) -> str | None:
        """Advance one accepted step (retrying rejected ones); return a message on failure."""
        while True:
            if not np.isfinite(self.rho):
                self.status = "failed"
                return (f"the spectral radius estimate of the Hessian is not finite "
                        f"({self.rho}) at t = {self.t:.6g}: the Hessian overflows; rescale "
                        "the parameters or the data")
            h = min(self.h, self.t_end - self.t, self._beta_max / max(self.rho, 1e-300))
            if not h > 10 * np.spacing(max(abs(self.t), 1.0)):     # underflow, or NaN
                self.status = "failed"
                return f"step size {h:.3g} too small or not finite at t = {self.t:.6g}"
            y1, F1, err, s = self._step_with(h)
            if np.isfinite(err) and err <= 1.0:
                break
            self.nrejected += 1
            fac = 0.5 if not np.isfinite(err) else max(0.1, 0.8 / err ** (1.0 / 3.0))
            self.h = h * fac
            self._update_rho()
        self.t_old, self.y_old, self.F_old = self.t, self.y, self.F
        self.t, self.y, self.F = self.t + h, y1, F1
        self.stages = s
        self.stages_max = max(self.stages_max, s)
        self.nsteps += 1
        # step-size control of the RKC code: a PI-like rule on successive errors
        fac = 0.8 / max(err, 1e-10) ** (1.0 / 3.0)
        if self.err_old is not None and self.h_old is not None and err > 0:
            fac *= (h / self.h_old) * (self.err_old / err) ** (1.0 / 3.0)
        fac = min(10.0, max(0.1, fac))
        self.err_old, self.h_old = max(err, 1e-10), h
        self.h = min(h * fac, self.max_step)
        if self.nsteps % self.rho_every == 0:
            self._update_rho()
        if self.t >= self.t_end:
            self.status = "finished"
        return None

    def dense_values(self, nodes) -> np.ndarray:
        """Cubic Hermite interpolant of the last step at ``nodes`` (times in it), shape (k, n)."""
        h = self.t - self.t_old
        th = (np.asarray(nodes) - self.t_old) / h
        th = th[:, None]
        h00 = (1 + 2 * th) * (1 - th) ** 2
        h10 = th * (1 - th) ** 2
        h01 = th ** 2 * (3 - 2 * th)
        h11 = th ** 2 * (th - 1)
        return (h00 * self.y_old + h10 * h * self.F_old + h01 * self.y + h11 * h * self.F)
