"""Initialisations of two-layer networks used by the papers.

Every function takes ``seed`` (None, an int or a numpy Generator) and returns
a network.  Distributions are written N(mean, variance): a *variance*, never a
standard deviation, unless the argument is called ``std``.
"""

from __future__ import annotations

import numpy as np

from . import _validate as v
from .activations import get_activation
from .models import ReLU1D, TwoLayer

__all__ = ["he", "small_gaussian", "xavier", "deterministic_1d", "uniform_density"]


def he(n: int, *, seed=None, train_w: bool = False, model: str = "relu1d"):
    """He initialisation as in Ainsworth & Shin 2021, Sec. 5: c_j ~ N(0, 2/n), b_j ~ N(0, 2).

    Parameters
    ----------
    n : int
        Width.
    train_w : bool
        ReLU1D only: make the input weights parameters, starting at w_j = 1 (so
        that the initial network is the same as with w fixed).
    model : {"relu1d", "twolayer"}
        ``"twolayer"`` returns the same network as a ``TwoLayer`` relu network
        with W_j = (1, -b_j), a_j = c_j.

    Examples
    --------
    >>> net = he(10, seed=0)
    >>> net.b.shape
    (10,)
    """
    n = v.check_int(n, "n", minimum=1)
    rng = v.rng_from(seed)
    c = rng.normal(0.0, np.sqrt(2.0 / n), n)
    b = rng.normal(0.0, np.sqrt(2.0), n)
    if model == "relu1d":
        return ReLU1D(b, c, np.ones(n) if train_w else None)
    if model == "twolayer":
        return TwoLayer(np.column_stack([np.ones(n), -b]), c, "relu")
    raise ValueError(f"`model` must be 'relu1d' or 'twolayer', got {model!r}.")


def small_gaussian(n: int, d: int, var: float, *, activation: str = "tanh", seed=None):
    """Every parameter i.i.d. N(0, var): the small initialisation of Zhou et al. 2022 and Xu et al.
    2021.

    ``var`` is the variance: Zhou et al.'s (2022) "N(0, 0.005^2)" is ``var=0.005**2``
    (standard deviation 0.005).  W (n, d+1) includes the biases.
    """
    n = v.check_int(n, "n", minimum=1)
    d = v.check_int(d, "d", minimum=1)
    var = v.check_real(var, "var", positive=True)
    get_activation(activation)
    rng = v.rng_from(seed)
    std = np.sqrt(var)
    return TwoLayer(rng.normal(0.0, std, (n, d + 1)), rng.normal(0.0, std, n), activation)


def xavier(n: int, d: int, *, activation: str = "tanh", seed=None, bound: float | None = None):
    """Uniform initialisation as described in Yang, Zhao & Zhu 2024, Sec. 2: every weight and
    bias ~ U(-1/sqrt(n), 1/sqrt(n)), n the width (``bound`` overrides 1/sqrt(n)).

    This is what Yang, Zhao & Zhu 2024 call the Xavier/Glorot initialisation (and what
    PyTorch's ``nn.Linear`` does for a layer with n inputs); Glorot's own bound
    sqrt(6/(fan_in + fan_out)) is obtained by passing ``bound`` explicitly.
    """
    n = v.check_int(n, "n", minimum=1)
    d = v.check_int(d, "d", minimum=1)
    get_activation(activation)
    rng = v.rng_from(seed)
    r = 1.0 / np.sqrt(n) if bound is None else v.check_real(bound, "bound", positive=True)
    return TwoLayer(rng.uniform(-r, r, (n, d + 1)), rng.uniform(-r, r, n), activation)


def deterministic_1d(n: int, *, activation: str = "tanh", interval=(-1.0, 1.0), seed=None,
                     a=None):
    """Yang, Zhao & Zhu's (2024) deterministic first layer, (12)/(13): sigma(n/2 (x - x_j)), x_j
    uniform.

    On [-1, 1], (12) reads w_j = n/2, b_j = n/2 - j (j = 1..n), i.e. (13)
    sigma(n/2 (x - x_j)) with x_j = -1 + 2j/n.  On another ``interval`` [lo, hi]
    the centres are x_j = lo + (hi - lo) j / n and the slope n/(hi - lo) keeps
    the same overlap.  The output weights are ``a`` if given, else
    U(-1/sqrt(n), 1/sqrt(n)) as in :func:`xavier`.
    """
    n = v.check_int(n, "n", minimum=1)
    lo, hi = (v.check_real(s, "interval") for s in interval)
    if hi <= lo:
        raise ValueError(f"`interval` must be (lo, hi) with lo < hi, got {interval!r}.")
    get_activation(activation)
    j = np.arange(1, n + 1)
    centres = lo + (hi - lo) * j / n
    slope = n / (hi - lo)
    W = np.column_stack([np.full(n, slope), -slope * centres])
    a = _output_weights(n, seed) if a is None else v.as_array(a, "a", ndim=1)
    return TwoLayer(W, a, activation)


def uniform_density(n: int, d: int, *, radius: float = 1.0, gamma: float = 1.0,
                    activation: str = "tanh", seed=None):
    """Yang, Zhao & Zhu's (2024) uniform-density initialisation (UDI), (15).

    sigma(W_j . (x, 1)) = sigma(gamma (a_j . x + r_j)) with a_j uniform on the
    unit sphere of R^d and r_j ~ U(0, radius): the hyperplanes a_j . x + r_j = 0
    then cut the ball of that radius with uniform density.  ``radius`` should
    be the radius of the domain (e.g. sqrt(2) pi/2 for [-pi/2, pi/2]^2).
    Output weights ~ U(-1/sqrt(n), 1/sqrt(n)).
    """
    n = v.check_int(n, "n", minimum=1)
    d = v.check_int(d, "d", minimum=1)
    radius = v.check_real(radius, "radius", positive=True)
    gamma = v.check_real(gamma, "gamma", positive=True)
    get_activation(activation)
    rng = v.rng_from(seed)
    dirs = rng.normal(size=(n, d))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    r = rng.uniform(0.0, radius, n)
    return TwoLayer(gamma * np.column_stack([dirs, r]), _output_weights(n, rng), activation)


def _output_weights(n: int, seed) -> np.ndarray:
    rng = v.rng_from(seed)
    r = 1.0 / np.sqrt(n)
    return rng.uniform(-r, r, n)
