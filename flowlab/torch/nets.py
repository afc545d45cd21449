"""The deep networks of Yang, Zhao & Zhu 2024 and Zhou et al. 2022 as PyTorch modules.

One class, :class:`DeepNet`, covers them all:

- Yang, Zhao & Zhu 2024, MLP (1):
  y_0 = x, y_{k+1} = sigma(W_k y_k + b_k) (k = 0..L-1), y = beta . y_L
  (no output bias) -- :func:`mlp`;
- Yang, Zhao & Zhu 2024, the one-layer residual block network (16):
  y_{k+1} = y_k + sigma(W_k y_k + b_k) -- :func:`resnet`;
- Zhou et al. 2022, Fig. 4: h_{l+1} = sigma_l(W_l h_l + b_l) + h_l
  with a different activation per hidden layer and an output bias (Zhou et al. 2022, (2)
  appends 1 to the last hidden layer) -- :func:`residual_net`.

A shortcut y_k + ... needs y_k to have the layer's width, so the first layer
(input dimension d != width) has none: y_1 = sigma(W_0 x + b_0).  The number of
parameters is then the same as the MLP's, as Yang, Zhao & Zhu 2024, Ex. 4.4 asks.

Conventions: float64 by default; inputs of shape (m, d), or (m,) when d = 1;
outputs of shape (m, out).  ``hidden_outputs(x)`` gives every hidden layer's
neurons on x (the neuron functions phi of Yang, Zhao & Zhu 2024, Definition 2.3, for the
last one), ``input_weights()`` every layer's rows (W_l | b_l) (the "input
weights" of Zhou et al. 2022, Sec. 3).

Examples
--------
>>> import torch
>>> from flowlab.torch.nets import mlp
>>> net = mlp(1, width=8, depth=2, activation="tanh")
>>> tuple(net(torch.linspace(-1, 1, 5, dtype=torch.float64)).shape)
(5, 1)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from flowlab import _validate as v
from flowlab.models import TwoLayer
from flowlab.torch.activations import Activation

__all__ = ["DeepNet", "mlp", "resnet", "residual_net", "from_twolayer", "twolayer_order"]


class DeepNet(torch.nn.Module):
    """Fully connected network with optional one-layer residual blocks.

    Parameters
    ----------
    d : int
        Input dimension.
    width : int
        Neurons per hidden layer n.
    depth : int
        Number of hidden layers L (ignored when ``activation`` is a sequence,
        whose length gives L).
    activation : str or sequence of str
        flowlab activation name(s): one for all layers, or one per hidden layer.
    residual : bool
        Add the shortcut y_k to every hidden layer whose input has the layer's
        width (all but the first when d != width), Yang, Zhao & Zhu 2024, (16) / Zhou et al. 2022,
        Fig. 4.
    out : int
        Output dimension.
    output_bias : bool
        Bias in the output layer (Yang, Zhao & Zhu 2024, (1): no; Zhou et al. 2022, (2): yes).
    dtype : torch.dtype
        float64 by default.

    Attributes
    ----------
    layers : torch.nn.ModuleList of torch.nn.Linear
        The hidden layers, W_k = ``layers[k].weight`` (n, n_in), b_k = ``layers[k].bias``.
    acts : torch.nn.ModuleList of Activation
    output : torch.nn.Linear
        beta = ``output.weight`` (out, n).
    activations : tuple of str
    shortcut : tuple of bool
        Whether hidden layer k has the residual shortcut.
    """

    def __init__(self, d: int, width: int, depth: int = 1, activation="tanh", *,
                 residual: bool = False, out: int = 1, output_bias: bool = False,
                 dtype=torch.float64):
        super().__init__()
        d = v.check_int(d, "d", minimum=1)
        width = v.check_int(width, "width", minimum=1)
        out = v.check_int(out, "out", minimum=1)
        if isinstance(activation, str):
            depth = v.check_int(depth, "depth", minimum=1)
            names = (activation,) * depth
        elif isinstance(activation, Sequence) and len(activation) > 0:
            names = tuple(activation)
            depth = len(names)
        else:
            raise TypeError("`activation` must be a name such as 'tanh' or a non-empty sequence "
                            f"of names, one per hidden layer; got {activation!r}.")
        self.acts = torch.nn.ModuleList([Activation(a) for a in names])
        self.activations = tuple(a.name for a in self.acts)
        sizes = [d] + [width] * depth
        self.layers = torch.nn.ModuleList(
            [torch.nn.Linear(sizes[k], sizes[k + 1], dtype=dtype) for k in range(depth)])
        self.output = torch.nn.Linear(width, out, bias=bool(output_bias), dtype=dtype)
        self.shortcut = tuple(bool(residual) and sizes[k] == sizes[k + 1] for k in range(depth))
        self.d, self.width, self.depth, self.out = d, width, depth, out
        self.residual = bool(residual)

    def _input(self, x):
        if not torch.is_tensor(x):
            x = torch.as_tensor(np.asarray(x, dtype=np.float64), dtype=self.output.weight.dtype)
        if x.ndim == 1 and self.d == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] != self.d:
            raise ValueError(f"`x` must have shape (m, {self.d}) for this network with input "
                             f"dimension d = {self.d}, got {tuple(x.shape)}.")
        return x

    def hidden_outputs(self, x) -> list:
        """The neurons of every hidden layer on ``x``: a list of L tensors of shape (m, n)."""
        h = self._input(x)
        outs = []
        for lin, act, skip in zip(self.layers, self.acts, self.shortcut):
            z = act(lin(h))
            h = h + z if skip else z
            outs.append(h)
        return outs

    def forward(self, x):
        return self.output(self.hidden_outputs(x)[-1])

    def input_weights(self) -> list[np.ndarray]:
        """(W_k | b_k) of every hidden layer, arrays of shape (n, n_in + 1) (copies)."""
        return [np.column_stack([lin.weight.detach().cpu().numpy().astype(np.float64),
                                 lin.bias.detach().cpu().numpy().astype(np.float64)])
                for lin in self.layers]

    def extra_repr(self) -> str:
        return (f"d={self.d}, width={self.width}, depth={self.depth}, "
                f"activations={self.activations}, residual={self.residual}")


def mlp(d: int, width: int, depth: int, activation="tanh", *, out: int = 1,
        dtype=torch.float64) -> DeepNet:
    """Yang, Zhao & Zhu's (2024) MLP (1): L = ``depth`` hidden layers of ``width`` neurons, y = beta
    . y_L.

    Parameters are PyTorch's defaults until an initialisation of
    :mod:`flowlab.torch.init` is applied.
    """
    return DeepNet(d, width, depth, activation, residual=False, out=out, dtype=dtype)


def resnet(d: int, width: int, depth: int, activation="tanh", *, out: int = 1,
           dtype=torch.float64) -> DeepNet:
    """Yang, Zhao & Zhu's (2024) one-layer residual block network (16), Ex. 4.4.

    y_{k+1} = y_k + sigma(W_k y_k + b_k).

    The first layer has no shortcut when d != width (see the module notes).
    """
    return DeepNet(d, width, depth, activation, residual=True, out=out, dtype=dtype)


def residual_net(d: int, width: int, activations: Sequence[str], *, out: int = 1,
                 dtype=torch.float64) -> DeepNet:
    """Zhou et al. 2022, Fig. 4: h_{l+1} = sigma_l(W_l h_l + b_l) + h_l, one activation per hidden
    layer.

    With an output bias, as in Zhou et al. 2022, (2).  Fig. 4 uses d = 3, width 18 and
    activations ("x2tanh", "xtanh", "sigmoid", "tanh", "softplus").
    """
    if isinstance(activations, str):
        raise TypeError("`activations` must be a sequence of names, one per hidden layer "
                        "(e.g. ('x2tanh', 'xtanh', 'sigmoid', 'tanh', 'softplus')).")
    return DeepNet(d, width, activation=tuple(activations), residual=True, out=out,
                   output_bias=True, dtype=dtype)


def _check_biased(net) -> None:
    if not isinstance(net, TwoLayer):
        raise TypeError(f"`net` must be a flowlab TwoLayer network, got {type(net).__name__}.")
    if not net.has_bias:
        raise ValueError("`net` is bias-free (bias=False) and a DeepNet's layers always have "
                         "biases; train it with flowlab.flow or flowlab.population.flow, or "
                         "convert TwoLayer(np.column_stack([net.W, np.zeros(net.width)]), "
                         "net.a, net.activation), whose biases then train too.")


def from_twolayer(net: TwoLayer, dtype=torch.float64) -> DeepNet:
    """A one-hidden-layer :class:`DeepNet` equal to flowlab's ``TwoLayer`` network.

    f(x) = sum_j a_j sigma(W_j . (x, 1)): ``layers[0].weight = W[:, :d]``,
    ``layers[0].bias = W[:, d]``, ``output.weight = a``.  The flat parameter
    vectors of the two differ only by order; :func:`twolayer_order` maps one
    to the other.
    """
    _check_biased(net)
    deep = DeepNet(net.input_dim, net.width, 1, net.activation, dtype=dtype)
    with torch.no_grad():
        deep.layers[0].weight.copy_(torch.as_tensor(net.W[:, :-1]))
        deep.layers[0].bias.copy_(torch.as_tensor(net.W[:, -1]))
        deep.output.weight.copy_(torch.as_tensor(net.a[None, :]))
    return deep


def twolayer_order(net: TwoLayer) -> np.ndarray:
    """Index array ``idx`` with ``theta_deep = theta_flowlab[idx]`` for :func:`from_twolayer`.

    flowlab packs (W.ravel(), a) with W (n, d+1) row-major; the DeepNet packs
    (weight (n, d) row-major, bias (n,), output weight (n,)).
    """
    _check_biased(net)
    n, d1 = net.W.shape
    W_idx = np.arange(n * d1).reshape(n, d1)
    return np.concatenate([W_idx[:, :-1].ravel(), W_idx[:, -1], n * d1 + np.arange(n)])
