"""Initialisation scale against width: the phase diagram of Luo et al. (2021).

Luo et al. 2021 ("Phase diagram for two-layer ReLU neural networks
at infinite-width limit", JMLR 22) study f(x) = (1/alpha) sum_k a_k
sigma(w_k . x~) with x~ = (x, 1), a_k ~ N(0, beta_1^2), w_k ~ N(0, beta_2^2 I),
and classify the gradient flow by the two exponents

    gamma  = -log(beta_1 beta_2 / alpha) / log m,
    gamma' = -log(beta_1 / beta_2) / log m,

through the relative change of the input weights (biases included) at the end
of training, RD = ||theta_w(t*) - theta_w(0)|| / ||theta_w(0)||, and its slope
S_w in log RD against log m: RD -> 0 (linear regime, S_w < 0) for gamma < 1 or
gamma' > gamma - 1, RD -> infinity (condensed regime, S_w > 0) for gamma > 1
and gamma' < gamma - 1, O(1) on the boundary (critical regime, with the mean
field scaling gamma = 1, gamma' = 0).

flowlab takes alpha = 1 and puts the scale into the initial variances,
beta_1 = m^(-(gamma + gamma')/2), beta_2 = m^(-(gamma - gamma')/2).  For ReLU
this is the same gradient flow as any (alpha, beta_1, beta_2) with the same
exponents: relu is positively homogeneous, so (a, w) -> (a, w) / sqrt(alpha)
maps the flow of the alpha-model onto the flow of the alpha = 1 model run in
time t / alpha, and RD is scale-free.  For tanh or x tanh x the choice matters;
alpha = 1 makes the diagram one of initialisation scale alone.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .. import _validate as v
from ..activations import get_activation
from ..models import TwoLayer

__all__ = ["scales", "exponents", "scaled_init", "relative_distance", "regime",
           "flow_to_loss", "FlowToLoss", "rd_slope", "sign_change"]


def scales(width: int, gamma: float, gamma_prime: float) -> tuple[float, float]:
    """Standard deviations ``(beta_1, beta_2)`` of the output and input weights, alpha = 1.

    beta_1 = m^(-(gamma + gamma')/2), beta_2 = m^(-(gamma - gamma')/2), so that
    beta_1 beta_2 = m^-gamma and beta_1 / beta_2 = m^-gamma' (Luo et al. 2021, Sec. 3).

    Examples
    --------
    >>> scales(100, 1.0, 0.0)
    (0.1, 0.1)
    """
    m = v.check_int(width, "width", minimum=2)
    g = v.check_real(gamma, "gamma")
    gp = v.check_real(gamma_prime, "gamma_prime")
    return float(m ** (-(g + gp) / 2)), float(m ** (-(g - gp) / 2))


def exponents(width: int, alpha: float, beta1: float, beta2: float) -> tuple[float, float]:
    """``(gamma, gamma')`` of a scaling (alpha, beta_1, beta_2) at width m (Luo et al. 2021)."""
    m = v.check_int(width, "width", minimum=2)
    alpha = v.check_real(alpha, "alpha", positive=True)
    beta1 = v.check_real(beta1, "beta1", positive=True)
    beta2 = v.check_real(beta2, "beta2", positive=True)
    lm = np.log(m)
    return float(-np.log(beta1 * beta2 / alpha) / lm), float(-np.log(beta1 / beta2) / lm)


def scaled_init(width: int, d: int, gamma: float, gamma_prime: float, *,
                activation: str = "relu", seed=None) -> TwoLayer:
    """A two-layer network drawn at the scaling (gamma, gamma'), alpha = 1.

    W (width, d+1) ~ N(0, beta_2^2) entrywise (the last column is the bias, the
    x~ = (x, 1) of Luo et al. 2021), a ~ N(0, beta_1^2); see :func:`scales`.

    Examples
    --------
    >>> net = scaled_init(50, 1, 1.0, 0.0, seed=0)
    >>> net.W.shape, net.activation
    ((50, 2), 'relu')
    """
    b1, b2 = scales(width, gamma, gamma_prime)
    d = v.check_int(d, "d", minimum=1)
    get_activation(activation)
    rng = v.rng_from(seed)
    W = rng.normal(0.0, b2, (int(width), d + 1))
    a = rng.normal(0.0, b1, int(width))
    return TwoLayer(W, a, activation)


def relative_distance(W0, W1) -> float:
    """RD = ||W1 - W0|| / ||W0|| (Frobenius norms), the relative change of the input
    weights (biases included) of Luo et al. 2021."""
    W0 = v.as_array(W0, "W0")
    W1 = v.as_array(W1, "W1")
    if W0.shape != W1.shape:
        raise ValueError(f"`W0` and `W1` must have one shape, got {W0.shape} and {W1.shape}.")
    n0 = np.linalg.norm(W0)
    if n0 == 0:
        raise ValueError("`W0` is zero; the relative distance is undefined.")
    return float(np.linalg.norm(W1 - W0) / n0)


def regime(gamma: float, gamma_prime: float) -> str:
    """"linear", "critical" or "condensed": the regime of Luo et al. 2021's phase diagram.

    Linear for gamma < 1 or gamma' > gamma - 1; condensed for gamma > 1 and
    gamma' < gamma - 1; critical on the boundary (gamma = 1 with gamma' <= 0, or
    gamma' = gamma - 1 with gamma >= 1).
    """
    g = v.check_real(gamma, "gamma")
    gp = v.check_real(gamma_prime, "gamma_prime")
    if g < 1 or gp > g - 1:
        return "linear"
    if g > 1 and gp < g - 1:
        return "condensed"
    return "critical"


@dataclass
class FlowToLoss:
    """A gradient flow run until its loss reached a target.

    Attributes
    ----------
    sol : Solution
        The flow (possibly longer than ``t_star``).
    t_star : float
        First time the loss is <= ``target`` (``sol.t_final`` if never).
    reached : bool
        Whether the target was reached before ``t_max`` or the end of the flow.
    target : float
    """

    sol: object
    t_star: float
    reached: bool
    target: float


def flow_to_loss(net, x, y, target: float, *, loss: str = "mean", t_first: float = 16.0,
                 t_max: float = 1e6, growth: float = 2.0, method: str | None = None,
                 max_steps: int | None = None, **flow_options) -> FlowToLoss:
    """Gradient flow of ``net`` on (x, y) until the loss first reaches ``target``.

    The flow is integrated to ``t_first`` and continued (:func:`flowlab.resume`)
    to ``growth`` times its end until the loss is <= ``target`` or ``t_max`` is
    reached; the first time t* with L(t*) = target is then located on the dense
    output by bisection (the loss decreases along the flow).

    Parameters
    ----------
    net, x, y, loss, method, **flow_options
        As for :func:`flowlab.flow` (``method=None`` is its default).
    target : float
        Loss value that ends training, in the ``loss`` convention.
    t_first, t_max, growth : float
        First horizon, last horizon, and the factor between horizons.
    max_steps : int, optional
        Stop (not reached, status "max_steps") after this many steps in all.

    Returns
    -------
    FlowToLoss
    """
    from .._resume import resume
    from .._flow import flow
    target = v.check_real(target, "target", positive=True)
    t_first = v.check_real(t_first, "t_first", positive=True)
    t_max = v.check_real(t_max, "t_max", positive=True)
    growth = v.check_real(growth, "growth", positive=True)
    if max_steps is not None:
        max_steps = v.check_int(max_steps, "max_steps", minimum=1)
    if growth <= 1:
        raise ValueError(f"`growth` must be > 1, got {growth!r}.")
    flow_options.setdefault("progress", False)
    with warnings.catch_warnings():
        # a flow that stops early says so in sol.status; it is recorded, not raised
        warnings.filterwarnings("ignore", message="flow stopped early", category=RuntimeWarning)
        sol = flow(net, x, y, min(t_first, t_max), loss=loss, method=method,
                   max_steps=max_steps, **flow_options)
        while sol.loss[-1] > target and sol.status == "finished" and sol.t_final < t_max:
            left = None if max_steps is None else max_steps - sol.nsteps
            if left is not None and left <= 0:
                break
            sol = resume(sol, t_end=min(growth * sol.t_final, t_max), max_steps=left,
                         **flow_options)
    below = np.flatnonzero(sol.loss <= target)
    if not below.size:
        return FlowToLoss(sol, float(sol.t_final), False, target)
    k = int(below[0])
    if k == 0:
        return FlowToLoss(sol, float(sol.t[0]), True, target)
    lo, hi = float(sol.t[k - 1]), float(sol.t[k])
    if sol.dense is not None:
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if mid <= lo or mid >= hi:
                break
            if sol.loss_at(mid) <= target:
                hi = mid
            else:
                lo = mid
    return FlowToLoss(sol, hi, True, target)


def rd_slope(widths, rd) -> tuple[float, float]:
    """Least-squares slope and intercept of log RD against log m (S_w of Luo et al. 2021).

    ``rd`` may hold several seeds per width (shape (n_widths, n_seeds)): the fit
    uses every finite positive value.  NaN when fewer than two widths remain.
    """
    m = v.as_array(widths, "widths", ndim=1)
    r = np.asarray(rd, dtype=float)
    if r.ndim == 1:
        r = r[:, None]
    if r.shape[0] != m.size:
        raise ValueError(f"`rd` must have one row per width ({m.size}), got shape {r.shape}.")
    mm = np.repeat(m[:, None], r.shape[1], axis=1)
    ok = np.isfinite(r) & (r > 0)
    if np.unique(mm[ok]).size < 2:
        return float("nan"), float("nan")
    slope, icept = np.polyfit(np.log(mm[ok]), np.log(r[ok]), 1)
    return float(slope), float(icept)


def sign_change(gammas, slopes) -> float | None:
    """The first gamma where ``slopes`` changes sign, by linear interpolation between
    neighbouring gammas (None if it never does)."""
    g = v.as_array(gammas, "gammas", ndim=1)
    s = np.asarray(slopes, dtype=float)
    order = np.argsort(g)
    g, s = g[order], s[order]
    for i in range(g.size - 1):
        a, b = s[i], s[i + 1]
        if not (np.isfinite(a) and np.isfinite(b)):
            continue
        if a == 0:
            return float(g[i])
        if a * b < 0:
            return float(g[i] + (g[i + 1] - g[i]) * a / (a - b))
    if s.size and np.isfinite(s[-1]) and s[-1] == 0:
        return float(g[-1])
    return None
