"""Loss functions for the bridge: callables ``loss_fn(model) -> scalar tensor``.

``model`` is any callable from inputs to outputs: the module itself while
training (:func:`flowlab.torch.train`), or the module with its parameters taken
from a flat vector while integrating a flow (:func:`flowlab.torch.flow`).
Each loss carries ``loss_kind`` naming its convention and holds its data as
float64 tensors.

- :class:`MSELoss`: flowlab's conventions, ``"sum"`` L = 1/2 sum_i |r_i|^2 and
  ``"mean"`` L = 1/(2m) sum_i |r_i|^2 with r_i = model(x_i) - y_i (all output
  components of point i; m = number of points).  Gradient-flow time equals
  learning rate x iterations of gradient descent on the same L.
- :class:`CrossEntropyLoss`: mean cross-entropy of class logits (Yang, Zhao & Zhu 2024, Ex. 2.2).
- :class:`flowlab.torch.pinn.PoissonLoss`: the PINN loss of Yang, Zhao & Zhu 2024, (14).

Examples
--------
>>> import numpy as np
>>> from flowlab.torch import MSELoss, mlp
>>> loss = MSELoss(np.linspace(-1, 1, 5), np.zeros(5), loss="sum")
>>> float(loss(lambda x: x.sum(dim=1, keepdim=True)))   # 1/2 (1 + 1/4 + 0 + 1/4 + 1)
1.25
"""

from __future__ import annotations

import numpy as np
import torch

from flowlab import _validate as v

__all__ = ["MSELoss", "CrossEntropyLoss", "as_points"]


def as_points(x, name: str = "x", dtype=torch.float64) -> torch.Tensor:
    """Inputs as a float64 tensor of shape (m, d) ((m,) becomes (m, 1))."""
    arr = v.as_array(x.detach().cpu().numpy() if torch.is_tensor(x) else x, name)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"`{name}` must have shape (m,) or (m, d), got {arr.shape}.")
    return torch.as_tensor(arr, dtype=dtype)


class MSELoss:
    """Squared error in flowlab's conventions.

    Parameters
    ----------
    x : array_like or tensor, shape (m,) or (m, d)
        Inputs (m points).
    y : array_like or tensor, shape (m,) or (m, k)
        Targets; (m,) means one output.
    loss : {"sum", "mean"}
        ``"sum"``: 1/2 sum_i |r_i|^2, ``"mean"``: 1/(2m) sum_i |r_i|^2.
    """

    def __init__(self, x, y, loss: str = "mean"):
        self.loss_kind = v.check_loss(loss)
        self.x = as_points(x, "x")
        yy = v.as_array(y.detach().cpu().numpy() if torch.is_tensor(y) else y, "y")
        if yy.ndim == 1:
            yy = yy[:, None]
        if yy.ndim != 2 or yy.shape[0] != self.x.shape[0]:
            raise ValueError(f"`y` must have one row per point of `x` ({self.x.shape[0]}), got "
                             f"shape {yy.shape}.")
        self.y = torch.as_tensor(yy, dtype=torch.float64)
        self.m = self.x.shape[0]
        self.scale = v.loss_scale(self.loss_kind, self.m)

    def residual(self, model) -> torch.Tensor:
        """r = model(x) - y, shape (m, k)."""
        out = model(self.x)
        if out.ndim == 1:
            out = out[:, None]
        if out.shape != self.y.shape:
            raise ValueError(f"the model's output has shape {tuple(out.shape)}, the targets "
                             f"{tuple(self.y.shape)}; give y one column per output.")
        return out - self.y

    def __call__(self, model) -> torch.Tensor:
        r = self.residual(model)
        return 0.5 * self.scale * torch.sum(r * r)

    def __repr__(self) -> str:
        return f"MSELoss(m={self.m}, loss={self.loss_kind!r})"


class CrossEntropyLoss:
    """Mean cross-entropy -1/m sum_i log softmax(model(x_i))[label_i].

    Parameters
    ----------
    x : array_like or tensor, shape (m, d)
    labels : array_like of int, shape (m,)
        Class indices 0..C-1; the model must output C logits.
    """

    loss_kind = "cross_entropy"

    def __init__(self, x, labels):
        self.x = as_points(x, "x")
        lab = np.asarray(labels.detach().cpu().numpy() if torch.is_tensor(labels) else labels)
        if lab.ndim != 1 or lab.size != self.x.shape[0]:
            raise ValueError(f"`labels` must have shape ({self.x.shape[0]},), one per point, got "
                             f"{lab.shape}.")
        if not np.issubdtype(lab.dtype, np.integer) or lab.min() < 0:
            raise TypeError("`labels` must be non-negative integers (class indices).")
        self.labels = torch.as_tensor(lab, dtype=torch.int64)
        self.m = self.x.shape[0]

    def __call__(self, model) -> torch.Tensor:
        return torch.nn.functional.cross_entropy(model(self.x), self.labels)

    def accuracy(self, model) -> float:
        """Share of points whose largest logit is the label's."""
        with torch.no_grad():
            return float((model(self.x).argmax(dim=1) == self.labels).double().mean())

    def __repr__(self) -> str:
        return f"CrossEntropyLoss(m={self.m})"
