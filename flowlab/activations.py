"""Activation functions, their derivatives and their multiplicity.

The multiplicity ``p`` follows Definition 1 of Zhou et al. 2022
(and Xu et al. 2021): sigma has multiplicity p when sigma^(s)(0) = 0 for
s = 1, ..., p-1 and sigma^(p)(0) != 0.  Near the origin
sigma(z) - sigma(0) ~ ``taylor`` * z**p with ``taylor`` = sigma^(p)(0) / p!;
the leading-order condensation theory of Zhou et al. 2022 and Xu et al. 2021 is written in terms of
``p`` and this coefficient.

ReLU is not differentiable at 0; flowlab uses relu'(0) = 0 (the left-continuous
Heaviside of Ainsworth & Shin 2021) and gives it ``p = None``: it is positively homogeneous of
degree one, the "ReLU-like" case that Zhou et al. 2022 treat apart from Definition 1.

Examples
--------
>>> import numpy as np
>>> from flowlab.activations import get_activation
>>> act = get_activation("xtanh")
>>> act.p
2
>>> v, d1, d2 = act.evaluate(np.array([0.0, 1.0]))
>>> float(d2[0])
2.0
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._kernels import activations as _k

__all__ = ["Activation", "ACTIVATIONS", "get_activation", "activation_names"]


@dataclass(frozen=True)
class Activation:
    """An activation function known to flowlab's compiled kernels.

    Attributes
    ----------
    name : str
        Registry name (``"tanh"``, ``"xtanh"``, ...).
    code : int
        Integer selecting the function inside the numba kernels.
    formula : str
        The function, written out.
    p : int or None
        Multiplicity at the origin (Definition 1 of Zhou et al. 2022); None for ReLU.
    taylor : float or None
        sigma^(p)(0) / p!, the coefficient of z**p in sigma(z) - sigma(0).
    """

    name: str
    code: int
    formula: str
    p: int | None
    taylor: float | None

    def evaluate(self, z):
        """Return ``(sigma(z), sigma'(z), sigma''(z))`` as float64 arrays shaped like ``z``."""
        z = np.asarray(z, dtype=np.float64)
        flat = np.ascontiguousarray(z).ravel()
        v, d1, d2 = (np.empty_like(flat) for _ in range(3))
        _k.act_array(self.code, flat, v, d1, d2)
        return v.reshape(z.shape), d1.reshape(z.shape), d2.reshape(z.shape)

    def __call__(self, z):
        """sigma(z), elementwise, as float64."""
        return self.evaluate(z)[0]

    def derivative(self, z, order: int = 1):
        """The first (``order=1``) or second (``order=2``) derivative, elementwise."""
        if order not in (1, 2):
            raise ValueError(f"`order` must be 1 or 2, got {order!r}; flowlab's kernels "
                             "provide the value and the first two derivatives.")
        return self.evaluate(z)[order]


_TABLE = {
    "relu": ("max(z, 0), with relu'(0) = 0", None, None),
    "tanh": ("tanh(z)", 1, 1.0),
    "sigmoid": ("1 / (1 + exp(-z))", 1, 0.25),
    "softplus": ("log(1 + exp(z))", 1, 0.5),
    "xtanh": ("z * tanh(z)", 2, 1.0),
    "x2tanh": ("z**2 * tanh(z)", 3, 1.0),
    "elu": ("z if z > 0 else exp(z) - 1", 1, 1.0),
    "cos": ("cos(z)", 2, -0.5),
    "gelu": ("z * Phi(z), Phi the standard normal CDF", 1, 0.5),
    "swish": ("z * sigmoid(z)", 1, 0.5),
    "erf": ("erf(z / sqrt(2)) = 2 Phi(z) - 1 (Saad & Solla 1995's g)", 1,
            float(np.sqrt(2.0 / np.pi))),
}

ACTIVATIONS: dict[str, Activation] = {
    name: Activation(name, code, *_TABLE[name]) for code, name in enumerate(_k.NAMES)
}


def activation_names() -> tuple[str, ...]:
    """Names accepted wherever flowlab takes an activation."""
    return tuple(ACTIVATIONS)


def get_activation(name) -> Activation:
    """Look up an activation by name (an :class:`Activation` is returned unchanged).

    Raises
    ------
    ValueError
        If ``name`` is unknown; the message lists the valid names.
    """
    if isinstance(name, Activation):
        return name
    if not isinstance(name, str):
        raise TypeError(f"`activation` must be a string such as 'tanh', got {type(name).__name__}.")
    key = name.strip().lower()
    if key not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of: "
                         f"{', '.join(ACTIVATIONS)}.")
    return ACTIVATIONS[key]
