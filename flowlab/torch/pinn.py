"""Physics-informed loss for the Poisson problem -Delta u = f, u = g on the boundary.

Yang, Zhao & Zhu 2024, Example 4.2, loss (14):

    L(u) = || Delta u + f ||^2_{L^2(Omega)} + || u ||^2_{L^2(dOmega)}

(with u = 0 on the boundary; here u - g for a general boundary value g).  Both
integrals are replaced by quadrature sums with the given weights, by default
the means over the points (i.e. the integrals divided by |Omega| and
|dOmega|, the usual PINN discretisation).  The Laplacian is computed by
automatic differentiation in the inputs (``create_graph=True``), so the loss
can be differentiated again in the parameters (training, flows, and
Hessians from Hessian-vector products).

Examples
--------
>>> import numpy as np, torch
>>> from flowlab.torch.pinn import PoissonLoss
>>> pts = np.array([[0.1, 0.2], [0.3, -0.4]]); bd = np.array([[1.0, 0.0]])
>>> loss = PoissonLoss(pts, np.zeros(2), bd)
>>> float(loss(lambda x: (x ** 2).sum(dim=1, keepdim=True)))   # Delta u = 4, u = 1 on bd
17.0
"""

from __future__ import annotations

import numpy as np
import torch

from flowlab import _validate as v
from flowlab.torch.losses import as_points

__all__ = ["PoissonLoss", "laplacian", "square_boundary"]


def laplacian(model, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """u(x) and Delta u(x) of a scalar-output model at points ``x`` (m, d).

    Returns
    -------
    u, lap : tensors of shape (m,)
        Differentiable in the model's parameters (built with ``create_graph``).
    """
    x = x.detach().clone().requires_grad_(True)
    u = model(x)
    if u.ndim == 2:
        if u.shape[1] != 1:
            raise ValueError(f"the Poisson loss needs a scalar output, got shape {tuple(u.shape)}.")
        u = u[:, 0]
    (du,) = torch.autograd.grad(u.sum(), x, create_graph=True)
    lap = torch.zeros_like(u)
    for k in range(x.shape[1]):
        (d2,) = torch.autograd.grad(du[:, k].sum(), x, create_graph=True)
        lap = lap + d2[:, k]
    return u, lap


def _weights(w, m: int, name: str) -> torch.Tensor:
    if w is None:
        return torch.full((m,), 1.0 / m, dtype=torch.float64)
    arr = v.as_array(w, name, ndim=1)
    if arr.size != m or np.any(arr < 0):
        raise ValueError(f"`{name}` must hold {m} non-negative quadrature weights, got "
                         f"{arr.size} values (min {arr.min():.3g}).")
    return torch.as_tensor(arr, dtype=torch.float64)


class PoissonLoss:
    """Yang, Zhao & Zhu 2024, (14): sum_i w_i (Delta u(x_i) + f(x_i))^2 + sum_k v_k (u(z_k) -
    g(z_k))^2.

    Parameters
    ----------
    interior : array_like, shape (m, d)
        Collocation points x_i in Omega.
    f : array_like, shape (m,)
        f(x_i).
    boundary : array_like, shape (mb, d)
        Points z_k on the boundary.
    g : array_like, shape (mb,), optional
        Boundary values (default 0, as in Yang, Zhao & Zhu 2024, Ex. 4.2).
    interior_weights, boundary_weights : array_like, optional
        Quadrature weights; default 1/m and 1/mb (means).
    """

    loss_kind = "pinn"

    def __init__(self, interior, f, boundary, g=None, *, interior_weights=None,
                 boundary_weights=None):
        self.x = as_points(interior, "interior")
        self.z = as_points(boundary, "boundary")
        if self.z.shape[1] != self.x.shape[1]:
            raise ValueError(f"`boundary` points must have dimension {self.x.shape[1]} like "
                             f"`interior`, got {self.z.shape[1]}.")
        m, mb = self.x.shape[0], self.z.shape[0]
        f = v.as_array(f, "f", ndim=1)
        if f.size != m:
            raise ValueError(f"`f` must have one value per interior point ({m}), got {f.size}.")
        self.f = torch.as_tensor(f, dtype=torch.float64)
        g = np.zeros(mb) if g is None else v.as_array(g, "g", ndim=1)
        if g.size != mb:
            raise ValueError(f"`g` must have one value per boundary point ({mb}), got {g.size}.")
        self.g = torch.as_tensor(g, dtype=torch.float64)
        self.w = _weights(interior_weights, m, "interior_weights")
        self.wb = _weights(boundary_weights, mb, "boundary_weights")

    def parts(self, model) -> tuple[torch.Tensor, torch.Tensor]:
        """(interior term, boundary term) of the loss."""
        _, lap = laplacian(model, self.x)
        ub = model(self.z)
        ub = ub[:, 0] if ub.ndim == 2 else ub
        res = lap + self.f
        return torch.sum(self.w * res * res), torch.sum(self.wb * (ub - self.g) ** 2)

    def __call__(self, model) -> torch.Tensor:
        a, b = self.parts(model)
        return a + b

    def __repr__(self) -> str:
        return f"PoissonLoss(interior={self.x.shape[0]}, boundary={self.z.shape[0]})"


def square_boundary(lo: float, hi: float, per_side: int) -> np.ndarray:
    """``4 * per_side`` points evenly spaced on the boundary of [lo, hi]^2, shape (4k, 2).

    Each side gets ``per_side`` points at the midpoints of equal segments (so
    no corner is counted twice).
    """
    per_side = v.check_int(per_side, "per_side", minimum=1)
    s = lo + (hi - lo) * (np.arange(per_side) + 0.5) / per_side
    lo_, hi_ = np.full(per_side, lo), np.full(per_side, hi)
    return np.concatenate([np.column_stack([s, lo_]), np.column_stack([s, hi_]),
                           np.column_stack([lo_, s]), np.column_stack([hi_, s])])
