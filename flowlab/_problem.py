"""A training problem: network, data, loss convention and trainable groups.

``Problem`` is the one place where a network meets its data.  It validates
them together, caches the kernel form, and exposes the loss, gradient and
Hessian as functions of the flat vector ``u`` of *trainable* parameters (the
state of the gradient flow).

It reads a network (:class:`flowlab.models.Network`) through the methods that every
flowlab network has (``_inputs``, ``_kernel_form``, ``groups``, ``params``,
``with_params``, ``group_names``) and imports no model class: ``models`` builds its
``loss``, ``gradient`` and ``hessian`` on this module, so the import runs one way.
"""

from __future__ import annotations

import numpy as np

from . import _validate as v
from ._kernels import twolayer as _tk


def resolve_trainable(net, trainable) -> tuple[str, ...]:
    """Normalise a ``trainable`` specification (for the flowlab network ``net``) to a tuple
    of group names."""
    names = net.group_names
    if trainable is None:
        return tuple(names)
    if isinstance(trainable, str):
        trainable = (trainable,)
    try:
        chosen = tuple(trainable)
    except TypeError:
        raise TypeError("`trainable` must be None, a group name or a sequence of group names "
                        f"from {names}.") from None
    if not chosen:
        raise ValueError(f"`trainable` is empty; name at least one of {names}.")
    for g in chosen:
        if g not in names:
            extra = " (pass w=... to ReLU1D to train input weights)" if g == "w" else ""
            raise ValueError(f"`trainable` contains unknown group {g!r}; this "
                             f"{type(net).__name__} has groups {names}{extra}.")
    return tuple(g for g in names if g in chosen)


def is_network(net) -> bool:
    """True for a flowlab network (:class:`flowlab.models.Network`: ReLU1D, TwoLayer), known
    by its kernel form, which the loss functions here evaluate."""
    return callable(getattr(type(net), "_kernel_form", None))


def power_lambda(matvec, n: int, iterations: int = 30, seed: int = 0) -> float:
    """The largest |eigenvalue| of a symmetric operator given by ``matvec`` (n entries),
    by power iteration from a fixed random start; 0.0 for n = 0."""
    if n == 0:
        return 0.0
    v = np.random.default_rng(seed).normal(size=n)
    v /= np.linalg.norm(v)
    lam = 0.0
    for _ in range(int(iterations)):
        w = matvec(v)
        nw = float(np.linalg.norm(w))
        if not np.isfinite(nw) or nw == 0.0:
            return nw if np.isfinite(nw) else float("inf")
        lam = nw
        v = w / nw
    return lam


class Problem:
    """Loss, gradient and Hessian of ``net`` on (x, y) over its trainable parameters.

    Parameters
    ----------
    net : ReLU1D or TwoLayer
    x : array_like, shape (m,) or (m, d)
    y : array_like, shape (m,)
    loss : {"sum", "mean"}
    trainable : None, str or sequence of str
        Parameter groups that move; the others stay at their values in ``net``.
    """

    def __init__(self, net, x, y, loss: str = "sum", trainable=None):
        if not is_network(net):
            raise TypeError("`net` must be a flowlab network (ReLU1D or TwoLayer), got "
                            f"{type(net).__name__}.")
        self.template = net
        self.loss_kind = v.check_loss(loss)
        self.XT = net._inputs(x)
        self.m = self.XT.shape[1]
        self.y = v.as_array(y, "y", ndim=1)
        if self.y.size != self.m:
            raise ValueError(f"`y` must have one value per data point: x has {self.m} points, "
                             f"y has {self.y.size}.")
        self.scale = v.loss_scale(self.loss_kind, self.m)
        self.trainable = resolve_trainable(net, trainable)

        W, a, code, idx, sign = net._kernel_form()
        self.code = code
        self.n, self.d1 = W.shape
        self._tk = np.concatenate([W.ravel(), a])
        self.W = self._tk[: W.size].reshape(W.shape)
        self.a = self._tk[W.size:]
        groups = net.groups()
        self.user_index = np.concatenate(
            [np.arange(groups[g].start, groups[g].stop) for g in self.trainable])
        self.kidx = idx[self.user_index]
        self.ksign = sign[self.user_index]
        self.pos = -np.ones(self._tk.size, dtype=np.int64)
        self.pos[self.kidx] = np.arange(self.kidx.size)
        self.possign = np.ones(self._tk.size)
        self.possign[self.kidx] = self.ksign
        #: True when the trainable vector is the kernel vector itself (no copy needed)
        self._identity = bool(self.kidx.size == self._tk.size
                              and np.array_equal(self.kidx, np.arange(self._tk.size))
                              and np.all(self.ksign == 1.0))
        self.theta0 = net.params()
        self.u0 = self.theta0[self.user_index].copy()
        self.size = self.u0.size
        self._r = np.empty(self.m)
        self._gk = np.empty(self._tk.size)
        self._gW = self._gk[: W.size].reshape(W.shape)
        self._ga = self._gk[W.size:]

    # -- state <-> parameters --------------------------------------------------------
    def set(self, u) -> None:
        """Load the trainable vector ``u`` into the kernel arrays."""
        if self._identity:
            self._tk[:] = u
        else:
            self._tk[self.kidx] = self.ksign * u

    def theta(self, u) -> np.ndarray:
        """Full flat parameter vector of the network for trainable values ``u``."""
        th = self.theta0.copy()
        th[self.user_index] = u
        return th

    def net(self, u):
        """The network (of the class of ``template``) with trainable values ``u``."""
        return self.template.with_params(self.theta(u))

    # -- loss and derivatives -----------------------------------------------------------
    def residual(self, u) -> np.ndarray:
        """r = f(x) - y at ``u`` (a new array)."""
        self.set(u)
        r = np.empty(self.m)
        _tk.residual(self.code, self.W, self.a, self.XT, self.y, r)
        return r

    def loss(self, u) -> float:
        """L(u) in the problem's loss convention."""
        self.set(u)
        return self.scale * _tk.residual(self.code, self.W, self.a, self.XT, self.y, self._r)

    def loss_grad(self, u) -> tuple[float, np.ndarray]:
        """(L(u), grad L(u)) over the trainable parameters."""
        self.set(u)
        L = _tk.gradient(self.code, self.W, self.a, self.XT, self.y, self.scale,
                         self._r, self._gW, self._ga)
        if self._identity:
            return L, self._gk.copy()
        return L, self.ksign * self._gk[self.kidx]

    def grad(self, u) -> np.ndarray:
        """grad L(u) over the trainable parameters."""
        return self.loss_grad(u)[1]

    def rhs(self, t, u) -> np.ndarray:
        """Right-hand side of the gradient flow, -grad L(u)."""
        return -self.loss_grad(u)[1]

    def hess(self, u) -> np.ndarray:
        """Hessian of L over the trainable parameters (a.e. for ReLU networks)."""
        self.set(u)
        J = np.empty((self.m, self._tk.size))
        _tk.jacobian(self.code, self.W, self.a, self.XT, J)
        Jt = J[:, self.kidx] * self.ksign
        H = self.scale * (Jt.T @ Jt)
        _tk.residual(self.code, self.W, self.a, self.XT, self.y, self._r)
        _tk.add_curvature(self.code, self.W, self.a, self.XT, self._r, self.scale,
                          self.pos, self.possign, H)
        return H

    def hvp(self, u, v) -> np.ndarray:
        """Hessian of L at ``u`` times ``v`` (both over the trainable parameters), without
        forming the Hessian: O(m n d) (a.e. for ReLU networks)."""
        self.set(u)
        vk = np.zeros(self._tk.size)
        vk[self.kidx] = self.ksign * np.asarray(v, dtype=np.float64)
        W, a = self.W, self.a
        nw = W.size
        out = np.empty(self._tk.size)
        _tk.hvp(self.code, W, a, self.XT, self.y, self.scale, vk[:nw].reshape(W.shape),
                vk[nw:], out[:nw].reshape(W.shape), out[nw:])
        return self.ksign * out[self.kidx]

    def lambda_max(self, u, iterations: int = 30, seed: int = 0) -> float:
        """The largest |eigenvalue| of the Hessian at ``u``, by power iteration on
        :meth:`hvp` (matrix-free; to about 1e-3 relative after 30 iterations on the
        well-separated top of a gradient flow's spectrum)."""
        return power_lambda(lambda v: self.hvp(u, v), self.size, iterations, seed)

    def jac(self, t, u) -> np.ndarray:
        """Jacobian of the flow's right-hand side, -Hess L(u)."""
        return -self.hess(u)
