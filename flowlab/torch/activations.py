"""flowlab's activation registry as PyTorch functions.

Every name of :func:`flowlab.activations.activation_names` has a PyTorch
counterpart here with the same formula, so that a deep network built with
``activation="xtanh"`` computes what flowlab's kernels compute (checked against
:meth:`flowlab.activations.Activation.evaluate` in tests/torch/test_nets.py).
As in flowlab, relu'(0) = 0 (PyTorch's convention too).  ``softplus`` is
PyTorch's, which returns z itself for z > 20 (an absolute difference below
2.1e-9 from log(1 + e^z)).

Examples
--------
>>> import torch
>>> from flowlab.torch.activations import torch_activation
>>> float(torch_activation("x2tanh")(torch.tensor(1.0, dtype=torch.float64)))  # doctest: +ELLIPSIS
0.7615941559557...
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from flowlab.activations import get_activation

__all__ = ["torch_activation", "Activation"]


def _xtanh(z):
    return z * torch.tanh(z)


def _x2tanh(z):
    return z * z * torch.tanh(z)


_INV_SQRT2 = 0.7071067811865476


def _erf(z):
    return torch.erf(z * _INV_SQRT2)


_FUNCS = {
    "relu": torch.relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "softplus": F.softplus,
    "xtanh": _xtanh,
    "x2tanh": _x2tanh,
    "elu": F.elu,
    "cos": torch.cos,
    "gelu": F.gelu,
    "swish": F.silu,
    "erf": _erf,
}


def torch_activation(name):
    """The PyTorch function of the flowlab activation ``name`` (e.g. ``"tanh"``).

    Raises
    ------
    ValueError
        If ``name`` is not in flowlab's registry (the message lists the names).
    """
    act = get_activation(name)
    return _FUNCS[act.name]


class Activation(torch.nn.Module):
    """An activation of flowlab's registry as a module (so that hooks can see it).

    Parameters
    ----------
    name : str
        A name from :func:`flowlab.activations.activation_names`.
    """

    def __init__(self, name: str):
        super().__init__()
        self.name = get_activation(name).name
        self._f = torch_activation(self.name)

    def forward(self, z):
        return self._f(z)

    def extra_repr(self) -> str:
        return self.name
