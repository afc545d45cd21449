"""A module's parameters as one flat float64 vector, and its loss as a function of it.

The gradient flow d theta/dt = -grad L(theta) of a ``torch.nn.Module`` needs
the loss as a function of one vector theta.  :class:`FlatModule` provides it:
the parameters are the consecutive slices of theta (in ``named_parameters()``
order, each row-major), and the module is called on views of theta through
``torch.func.functional_call``, so that no parameter is ever copied into the
module.  Gradients come from reverse-mode autograd; the Hessian (the Jacobian
that scipy's implicit methods need) from ``torch.func.hessian`` (forward over
reverse), or, for losses that differentiate the network in its input with
``torch.autograd.grad`` (PINN losses), row by row from Hessian-vector
products.

The loss function is any callable ``loss_fn(model) -> scalar tensor`` where
``model`` maps inputs to outputs (see :mod:`flowlab.torch.losses`); its
``loss_kind`` attribute (if any) names the convention.

Examples
--------
>>> import numpy as np, torch
>>> from flowlab.torch import FlatModule, MSELoss, mlp
>>> x = np.linspace(-1, 1, 7); net = mlp(1, 4, 2)
>>> fm = FlatModule(net, MSELoss(x, np.sin(x)))
>>> L, g = fm.loss_grad(fm.u0)
>>> g.shape == fm.u0.shape
True
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import torch
from torch.func import functional_call

__all__ = ["FlatModule", "module_to_float64", "load_flat", "flatten", "SMALL_HESSIAN"]

#: Up to this many trainable parameters the Hessian is built row by row.
SMALL_HESSIAN = 200


def module_to_float64(module: torch.nn.Module) -> torch.nn.Module:
    """A float64 deep copy of ``module`` (the original is left untouched)."""
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"`module` must be a torch.nn.Module, got {type(module).__name__}.")
    return copy.deepcopy(module).to(torch.float64)


def _select(names, trainable) -> tuple[str, ...]:
    """Parameter names selected by ``trainable`` (None: all; a name or prefix, or a list)."""
    if trainable is None:
        return tuple(names)
    if isinstance(trainable, str):
        trainable = (trainable,)
    chosen = []
    for key in trainable:
        if not isinstance(key, str):
            raise TypeError(f"`trainable` must hold parameter names or prefixes (str), got "
                            f"{type(key).__name__}.")
        hit = [n for n in names if n == key or n.startswith(key + ".")]
        if not hit:
            raise ValueError(f"`trainable` entry {key!r} matches no parameter; the module has "
                             f"{', '.join(names)}.")
        chosen.extend(hit)
    return tuple(n for n in names if n in set(chosen))


class FlatModule:
    """Loss, gradient and Hessian of a module's loss over a flat parameter vector.

    Parameters
    ----------
    module : torch.nn.Module
        Used as given (make it float64 first, e.g. :func:`module_to_float64`).
    loss_fn : callable
        ``loss_fn(model)`` -> scalar tensor, ``model`` a callable on inputs.
    trainable : str or sequence of str, optional
        Names (or prefixes such as ``"layers.0"``) of the parameters that move;
        by default all of them.

    Attributes
    ----------
    names, shapes : tuple
        Parameters in flat order.
    offsets : ndarray of int, shape (len(names) + 1,)
        Parameter k is ``theta[offsets[k]:offsets[k+1]]``.
    theta0 : ndarray, shape (P,)
        The module's parameters, flattened.
    user_index : ndarray of int, shape (p,)
        Entries of theta that are trainable; the flow's state is ``u = theta[user_index]``.
    u0 : ndarray, shape (p,)
    size : int
        p.
    loss_kind : str
        ``loss_fn.loss_kind`` if it exists, else ``"custom"``.
    """

    def __init__(self, module: torch.nn.Module, loss_fn, trainable=None):
        if not isinstance(module, torch.nn.Module):
            raise TypeError(f"`module` must be a torch.nn.Module, got {type(module).__name__}.")
        if not callable(loss_fn):
            raise TypeError("`loss_fn` must be callable as loss_fn(model) -> scalar tensor, got "
                            f"{type(loss_fn).__name__}.")
        self.module, self.loss_fn = module, loss_fn
        named = list(module.named_parameters())
        if not named:
            raise ValueError("`module` has no parameters to train.")
        self.names = tuple(n for n, _ in named)
        self.shapes = tuple(tuple(p.shape) for _, p in named)
        sizes = [p.numel() for _, p in named]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.dtype = named[0][1].dtype
        self.buffers = dict(module.named_buffers())
        self.theta0 = np.concatenate([p.detach().cpu().numpy().astype(np.float64).ravel()
                                      for _, p in named])
        self.trainable = _select(self.names, trainable)
        self.user_index = np.concatenate(
            [np.arange(self.offsets[k], self.offsets[k + 1])
             for k, n in enumerate(self.names) if n in self.trainable])
        self.all_trainable = self.user_index.size == self.theta0.size
        self.u0 = self.theta0[self.user_index].copy()
        self.size = self.u0.size
        self.loss_kind = str(getattr(loss_fn, "loss_kind", "custom"))
        self._theta0_t = torch.as_tensor(self.theta0, dtype=self.dtype)
        self._index_t = torch.as_tensor(self.user_index)
        self._func_hessian = True

    # -- parameters --------------------------------------------------------------------
    def theta(self, u) -> np.ndarray:
        """Full flat parameters for trainable values ``u``."""
        th = self.theta0.copy()
        th[self.user_index] = u
        return th

    def _full(self, u_t):
        if self.all_trainable:
            return u_t
        return self._theta0_t.index_put((self._index_t,), u_t)

    def params(self, theta_t) -> dict:
        """Views of the flat tensor ``theta_t`` (shape (P,)) shaped as the module's parameters."""
        out = {}
        for k, (name, shape) in enumerate(zip(self.names, self.shapes)):
            out[name] = theta_t[self.offsets[k]:self.offsets[k + 1]].view(shape)
        return out

    def model(self, theta_t):
        """The module as a function of its inputs, with parameters taken from ``theta_t``."""
        state = {**self.buffers, **self.params(theta_t)}
        module = self.module

        def call(*args, **kwargs):
            return functional_call(module, state, args, kwargs)
        return call

    def module_at(self, theta) -> torch.nn.Module:
        """A deep copy of the module holding the flat parameters ``theta`` (shape (P,))."""
        theta = np.asarray(theta, dtype=np.float64)
        if theta.shape != self.theta0.shape:
            raise ValueError(f"`theta` must have shape {self.theta0.shape}, got {theta.shape}.")
        out = copy.deepcopy(self.module)
        load_flat(out, theta)
        return out

    # -- loss and derivatives -------------------------------------------------------------
    def _tensor(self, u, grad: bool):
        t = torch.as_tensor(np.array(u, dtype=np.float64), dtype=self.dtype)
        return t.requires_grad_(grad)

    def _loss_t(self, u_t):
        L = self.loss_fn(self.model(self._full(u_t)))
        if not isinstance(L, torch.Tensor) or L.numel() != 1:
            shape = tuple(L.shape) if isinstance(L, torch.Tensor) else type(L).__name__
            raise ValueError(f"`loss_fn(model)` must return a scalar tensor (one value), got "
                             f"{shape}; reduce it, e.g. with .sum() or .mean(), or use "
                             "flowlab.torch.MSELoss.")
        return L.reshape(())

    def loss(self, u) -> float:
        """L(u) (in ``loss_kind``'s convention)."""
        return float(self._loss_t(self._tensor(u, False)).detach())

    def loss_grad(self, u) -> tuple[float, np.ndarray]:
        """(L(u), grad L(u)) over the trainable entries."""
        u_t = self._tensor(u, True)
        L = self._loss_t(u_t)
        (g,) = torch.autograd.grad(L, u_t)
        return float(L.detach()), g.detach().cpu().numpy().astype(np.float64)

    def grad(self, u) -> np.ndarray:
        """grad L(u) over the trainable entries, shape (p,)."""
        return self.loss_grad(u)[1]

    def rhs(self, t, u) -> np.ndarray:
        """Right-hand side of the gradient flow, -grad L(u)."""
        return -self.loss_grad(u)[1]

    def rhs_u(self, u) -> np.ndarray:
        """-grad L(u) (autonomous form of :meth:`rhs`)."""
        return -self.loss_grad(u)[1]

    def hvp(self, u, vec) -> np.ndarray:
        """Hessian-vector product H(u) vec by double backward, shape (p,)."""
        u_t = self._tensor(u, True)
        (g,) = torch.autograd.grad(self._loss_t(u_t), u_t, create_graph=True)
        vt = torch.as_tensor(np.asarray(vec, dtype=np.float64), dtype=self.dtype)
        (hv,) = torch.autograd.grad(g, u_t, vt)
        return hv.detach().cpu().numpy().astype(np.float64)

    def hess(self, u) -> np.ndarray:
        """Hessian of L over the trainable entries, shape (p, p), exactly symmetric.

        For p <= ``SMALL_HESSIAN`` (or a loss that does not compose with
        torch.func), p Hessian-vector products by double backward; otherwise
        ``torch.func.hessian`` (vectorised forward-over-reverse, which costs a
        one-time import of a few seconds).
        """
        if self._func_hessian and self.size > SMALL_HESSIAN:
            try:
                H = torch.func.hessian(self._loss_t)(self._tensor(u, False))
                H = H.detach().cpu().numpy().astype(np.float64)
                return 0.5 * (H + H.T)
            except RuntimeError as exc:      # e.g. torch.autograd.grad inside the loss
                warnings.warn(f"torch.func.hessian does not apply to this loss ({exc}); "
                              "building the Hessian from Hessian-vector products instead.",
                              RuntimeWarning, stacklevel=2)
                self._func_hessian = False
        u_t = self._tensor(u, True)
        (g,) = torch.autograd.grad(self._loss_t(u_t), u_t, create_graph=True)
        H = np.empty((self.size, self.size))
        for i in range(self.size):
            (row,) = torch.autograd.grad(g[i], u_t, retain_graph=True)
            H[i] = row.detach().cpu().numpy()
        return 0.5 * (H + H.T)

    def jac(self, t, u) -> np.ndarray:
        """Jacobian of the flow's right-hand side, -Hess L(u)."""
        return -self.hess(u)


def load_flat(module: torch.nn.Module, theta) -> None:
    """Write the flat vector ``theta`` (``named_parameters()`` order) into ``module`` in place."""
    params = list(module.parameters())
    total = sum(p.numel() for p in params)
    theta = np.asarray(theta, dtype=np.float64)
    if theta.shape != (total,):
        raise ValueError(f"`theta` must have shape ({total},) for this module, got {theta.shape}.")
    o = 0
    with torch.no_grad():
        for p in params:
            k = p.numel()
            p.copy_(torch.as_tensor(theta[o:o + k]).view(p.shape))
            o += k


def flatten(module: torch.nn.Module) -> np.ndarray:
    """The module's parameters as one float64 vector (``named_parameters()`` order)."""
    return np.concatenate([p.detach().cpu().numpy().astype(np.float64).ravel()
                           for p in module.parameters()])
