"""Initialisations of deep networks (in place), reproducible from a numpy seed.

All draws come from ``numpy.random.default_rng(seed)``, never from PyTorch's
global generator, so a seed gives the same network on every machine.
Distributions are written N(mean, variance).

- :func:`init_default`: PyTorch's ``nn.Linear`` rule, every weight and bias of a
  layer with fan-in k ~ U(-1/sqrt(k), 1/sqrt(k)); this is what Yang, Zhao & Zhu 2024
  (Sec. 2.2) call the Xavier/Glorot initialisation
  ("w_j, b_j ~ U(-1/sqrt(n), 1/sqrt(n))") and its "default settings" (Fig. 6, 7);
- :func:`init_xavier`: Glorot and Bengio's rule as the PINN literature uses it
  (weights ~ U(-sqrt(6/(fan_in + fan_out)), +...), biases 0);
- :func:`init_deterministic`: Yang, Zhao & Zhu 2024, (12)/(13) for the first layer,
  sigma(n/2 (x - x_j)) with x_j uniform (via :func:`flowlab.init.deterministic_1d`);
- :func:`init_uniform_density`: Yang, Zhao & Zhu 2024, (15), the uniform-density
  initialisation (UDI) of the first layer (via :func:`flowlab.init.uniform_density`);
- :func:`init_gaussian`: every parameter ~ N(0, var), Zhou et al.'s (2022) small initialisation.
"""

from __future__ import annotations

import numpy as np
import torch

from flowlab import _validate as v
from flowlab import init as _init

__all__ = ["init_default", "init_xavier", "init_deterministic", "init_uniform_density",
           "init_gaussian"]


def _linears(net):
    lins = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    if not lins:
        raise TypeError("`net` has no torch.nn.Linear layer to initialise.")
    return lins


def _set(p, values) -> None:
    with torch.no_grad():
        p.copy_(torch.as_tensor(np.asarray(values, dtype=np.float64).reshape(p.shape)))


def _first(net):
    if not hasattr(net, "layers"):
        raise TypeError("`net` must be a flowlab.torch.DeepNet (it needs `layers[0]`).")
    return net.layers[0]


def init_default(net, seed=None):
    """Every Linear layer with fan-in k: weights and biases ~ U(-1/sqrt(k), 1/sqrt(k)).

    Returns ``net`` (initialised in place).
    """
    rng = v.rng_from(seed)
    for lin in _linears(net):
        r = 1.0 / np.sqrt(lin.in_features)
        _set(lin.weight, rng.uniform(-r, r, tuple(lin.weight.shape)))
        if lin.bias is not None:
            _set(lin.bias, rng.uniform(-r, r, tuple(lin.bias.shape)))
    return net


def init_xavier(net, seed=None):
    """Glorot uniform weights U(-r, r), r = sqrt(6/(fan_in + fan_out)), and zero biases.

    ``torch.nn.init.xavier_uniform_`` with zero biases, drawn from a numpy seed;
    the "default Xavier initialization" of PINN codes (Yang, Zhao & Zhu 2024, Ex. 4.2).
    """
    rng = v.rng_from(seed)
    for lin in _linears(net):
        r = np.sqrt(6.0 / (lin.in_features + lin.out_features))
        _set(lin.weight, rng.uniform(-r, r, tuple(lin.weight.shape)))
        if lin.bias is not None:
            _set(lin.bias, np.zeros(tuple(lin.bias.shape)))
    return net


def init_deterministic(net, *, interval=(-1.0, 1.0), seed=None):
    """Yang, Zhao & Zhu 2024, (12): first layer w_j = n/2, b_j = n/2 - j on [-1, 1].

    The other layers as :func:`init_default`.  For d = 1 only.  On another ``interval`` the centres
    x_j are uniform on it and the slope is n / (hi - lo) (see
    :func:`flowlab.init.deterministic_1d`).
    """
    first = _first(net)
    if first.in_features != 1:
        raise ValueError(f"the deterministic initialisation (12) is for d = 1, this network has "
                         f"d = {first.in_features}; use init_uniform_density for d > 1.")
    init_default(net, seed)
    two = _init.deterministic_1d(first.out_features, interval=interval, a=np.zeros(
        first.out_features))
    _set(first.weight, two.W[:, :1])
    _set(first.bias, two.W[:, 1])
    return net


def init_uniform_density(net, *, radius: float, gamma: float = 1.0, seed=None):
    """Yang, Zhao & Zhu 2024, (15), UDI: first layer sigma(gamma (a_j . x + r_j)), a_j on the unit
    sphere, r_j ~ U(0, radius); the rest as :func:`init_default`.

    ``radius`` should be the radius of the domain (e.g. sqrt(2) pi/2 for
    [-pi/2, pi/2]^2), ``gamma`` the slope.
    """
    first = _first(net)
    rng = v.rng_from(seed)
    init_default(net, rng)
    two = _init.uniform_density(first.out_features, first.in_features, radius=radius,
                                gamma=gamma, seed=rng)
    _set(first.weight, two.W[:, :-1])
    _set(first.bias, two.W[:, -1])
    return net


def init_gaussian(net, var: float, seed=None):
    """Every parameter ~ N(0, var) (``var`` a variance: Zhou et al.'s (2022) N(0, 0.01^2) is
    ``var=1e-4``)."""
    var = v.check_real(var, "var", positive=True)
    rng = v.rng_from(seed)
    for p in net.parameters():
        _set(p, rng.normal(0.0, np.sqrt(var), tuple(p.shape)))
    return net
