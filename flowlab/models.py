"""Two-layer networks: ``ReLU1D`` (Ainsworth & Shin 2021) and ``TwoLayer`` (the other papers).

Conventions
-----------
- ``ReLU1D``: f(x) = sum_j c_j relu(w_j x - b_j), x scalar.  With ``w=None`` every
  w_j is fixed to 1 (Ainsworth & Shin 2021, model (2.2)) and is not a parameter.  Parameters
  are packed as ``theta = (b, c)`` or ``(b, c, w)``.
- ``TwoLayer``: f(x) = sum_j a_j sigma(W_j . (x, 1)), x in R^d; W has shape
  (n, d+1) and its last column is the bias (the "neuron feature" of
  Xu et al. 2021 and Zhou et al. 2022).  Parameters are packed as ``theta = (W.ravel(), a)``, W
  row-major.  With ``bias=False``, f(x) = sum_j a_j sigma(W_j . x) and W has shape (n, d).
- relu'(0) = 0: a data point exactly on a knot is inactive (Ainsworth & Shin 2021).
- Losses: ``"sum"`` is L = 1/2 sum_i r_i^2 and ``"mean"`` is L = 1/(2m) sum_i r_i^2,
  with r_i = f(x_i) - y_i.

Networks are immutable values: methods that change parameters return a new
network.  ``ReLU1D`` evaluates through the same compiled kernels as a
``TwoLayer`` relu network with W_j = (w_j, -b_j) and a_j = c_j.

Examples
--------
>>> import numpy as np
>>> import flowlab as fl
>>> net = fl.ReLU1D(b=[-0.5, 0.5], c=[1.0, -2.0])
>>> net(np.array([0.0, 1.0]))
array([0.5, 0.5])
"""

from __future__ import annotations

import numpy as np

from . import _validate as v
from .activations import get_activation
from ._kernels import twolayer as _tk
from ._problem import Problem

__all__ = ["ReLU1D", "TwoLayer", "Network"]


class Network:
    """Behaviour shared by flowlab's two-layer networks (not instantiated directly)."""

    #: parameter groups in packing order
    group_names: tuple[str, ...] = ()

    # -- parameter packing ----------------------------------------------------------
    @property
    def width(self) -> int:
        """Number of hidden neurons n."""
        raise NotImplementedError

    @property
    def input_dim(self) -> int:
        """Input dimension d."""
        raise NotImplementedError

    def groups(self) -> dict[str, slice]:
        """Slices of each parameter group in the flat vector ``params()``."""
        out, start = {}, 0
        for name in self.group_names:
            size = getattr(self, name).size
            out[name] = slice(start, start + size)
            start += size
        return out

    @property
    def n_params(self) -> int:
        """Length of the flat parameter vector."""
        return sum(getattr(self, g).size for g in self.group_names)

    def params(self) -> np.ndarray:
        """The flat parameter vector (a copy), in the order of ``group_names``."""
        return np.concatenate([getattr(self, g).ravel() for g in self.group_names])

    def unpack(self, theta) -> dict[str, np.ndarray]:
        """Split a flat parameter vector into named arrays shaped like this network's."""
        theta = v.as_array(theta, "theta", ndim=1)
        if theta.size != self.n_params:
            raise ValueError(f"`theta` must have {self.n_params} entries for this network "
                             f"({', '.join(self.group_names)}), got {theta.size}.")
        return {name: theta[s].reshape(getattr(self, name).shape).copy()
                for name, s in self.groups().items()}

    def with_params(self, theta) -> "Network":
        """A new network of the same kind with the flat parameters ``theta``."""
        raise NotImplementedError

    # -- kernel form ----------------------------------------------------------------
    def _kernel_form(self):
        """``(W, a, code, idx, sign)``: the TwoLayer-form arrays and the signed map.

        ``theta_kernel[idx] = sign * theta`` for the flat kernel vector
        ``theta_kernel = (W.ravel(), a)``.
        """
        raise NotImplementedError

    def _inputs(self, x, name: str = "x") -> np.ndarray:
        """Validate inputs and return XT of shape (d+1, m) with a last row of ones."""
        raise NotImplementedError

    # -- evaluation -----------------------------------------------------------------
    def __call__(self, x) -> np.ndarray:
        """Network output f(x) at the points ``x``, shape (m,)."""
        XT = self._inputs(x)
        W, a, code, _, _ = self._kernel_form()
        f = np.empty(XT.shape[1])
        _tk.forward(code, W, a, XT, f)
        return f

    def features(self, x) -> np.ndarray:
        """Hidden-neuron outputs sigma(W_j . (x_i, 1)), shape (m, n)."""
        XT = self._inputs(x)
        W, _, code, _, _ = self._kernel_form()
        out = np.empty((XT.shape[1], W.shape[0]))
        _tk.features(code, W, XT, out)
        return out

    def loss(self, x, y, loss: str = "sum") -> float:
        """The training loss in the ``loss`` convention ("sum" or "mean")."""
        prob = Problem(self, x, y, loss=loss)
        return prob.loss(prob.u0)

    def gradient(self, x, y, loss: str = "sum", trainable=None) -> np.ndarray:
        """Gradient of the loss with respect to the trainable parameters (flat)."""
        prob = Problem(self, x, y, loss=loss, trainable=trainable)
        return prob.grad(prob.u0)

    def hessian(self, x, y, loss: str = "sum", trainable=None) -> np.ndarray:
        """Hessian of the loss with respect to the trainable parameters.

        For ReLU networks this is the Hessian almost everywhere: the Dirac
        terms on the knots are left out, as in the Jacobian of the flow on a
        stage of constant activation pattern.
        """
        prob = Problem(self, x, y, loss=loss, trainable=trainable)
        return prob.hess(prob.u0)

    def copy(self) -> "Network":
        """An independent copy."""
        return self.with_params(self.params())

    def __eq__(self, other) -> bool:
        return (type(self) is type(other) and self._meta() == other._meta()
                and all(np.array_equal(getattr(self, g), getattr(other, g))
                        for g in self.group_names))

    __hash__ = None

    def _meta(self) -> dict:
        """Non-array constructor arguments (for equality and saving)."""
        return {}


class ReLU1D(Network):
    """Univariate two-layer ReLU network f(x) = sum_j c_j relu(w_j x - b_j).

    Parameters
    ----------
    b : array_like, shape (n,)
        Knots (biases).
    c : array_like, shape (n,)
        Output coefficients.
    w : array_like, shape (n,), optional
        Input weights.  ``None`` (default) fixes every w_j = 1, Ainsworth & Shin's (2021) model
        (2.2); w is then not a parameter and ``net.w`` is None.

    Notes
    -----
    Flat parameters are ``(b, c)`` or ``(b, c, w)``.  relu'(0) = 0, so a point
    with w_j x_i = b_j does not activate neuron j (Ainsworth & Shin 2021, below (3.1)).
    """

    def __init__(self, b, c, w=None):
        self.b = v.as_array(b, "b", ndim=1)
        self.c = v.as_array(c, "c", ndim=1)
        if self.c.shape != self.b.shape:
            raise ValueError(f"`b` and `c` must have the same shape (n,), got {self.b.shape} "
                             f"and {self.c.shape}.")
        self.w = None if w is None else v.as_array(w, "w", ndim=1)
        if self.w is not None and self.w.shape != self.b.shape:
            raise ValueError(f"`w` must have shape {self.b.shape} like `b`, got {self.w.shape}; "
                             "pass w=None to fix all input weights to 1.")
        self.group_names = ("b", "c") if self.w is None else ("b", "c", "w")

    activation = "relu"

    @property
    def width(self) -> int:
        return self.b.size

    @property
    def input_dim(self) -> int:
        return 1

    @property
    def train_w(self) -> bool:
        """True when the input weights w are parameters."""
        return self.w is not None

    def with_params(self, theta) -> "ReLU1D":
        p = self.unpack(theta)
        return ReLU1D(p["b"], p["c"], p.get("w"))

    def _kernel_form(self):
        n = self.width
        w = np.ones(n) if self.w is None else self.w
        W = np.empty((n, 2))
        W[:, 0] = w
        W[:, 1] = -self.b
        a = self.c.copy()
        j = np.arange(n)
        idx = [2 * j + 1, 2 * n + j] + ([] if self.w is None else [2 * j])
        sign = [-np.ones(n), np.ones(n)] + ([] if self.w is None else [np.ones(n)])
        return W, a, 0, np.concatenate(idx), np.concatenate(sign)

    def _inputs(self, x, name: str = "x") -> np.ndarray:
        x = v.as_array(x, name)
        if x.ndim != 1:
            if x.ndim == 2 and x.shape[1] == 1:
                raise ValueError(f"`{name}` for a ReLU1D network must have shape (m,), got "
                                 f"{x.shape}; pass {name}.ravel().")
            raise ValueError(f"`{name}` for a ReLU1D network must have shape (m,), got {x.shape}.")
        return np.vstack([x, np.ones_like(x)])

    def __repr__(self) -> str:
        w = "" if self.w is None else ", w trained"
        return f"ReLU1D(n={self.width}{w})"


class TwoLayer(Network):
    """Two-layer network f(x) = sum_j a_j sigma(W_j . (x, 1)), or sum_j a_j sigma(W_j . x).

    Parameters
    ----------
    W : array_like, shape (n, d+1), or (n, d) with ``bias=False``
        Input weights; with biases (the default) the last column holds them.
    a : array_like, shape (n,)
        Output weights.
    activation : str
        A name from :func:`flowlab.activations.activation_names`.
    bias : bool
        ``True`` (default): the last column of ``W`` is the bias, f(x) =
        sum_j a_j sigma(W_j . (x, 1)).  ``False``: a bias-free network
        f(x) = sum_j a_j sigma(W_j . x) with ``W`` of shape (n, d), the
        teacher-student networks of the population losses
        (:mod:`flowlab.population`).

    Notes
    -----
    Flat parameters are ``(W.ravel(), a)`` with W row-major, so the features of
    neuron j are entries ``j*(d+1) ... j*(d+1)+d`` (``j*d ... j*d+d-1`` without
    biases).  A bias-free network runs on the same compiled kernels as a network
    whose bias column is held at 0 (that column is not a parameter).

    Examples
    --------
    >>> import numpy as np, flowlab as fl
    >>> net = fl.TwoLayer(np.eye(2), [1.0, -1.0], "relu", bias=False)
    >>> net(np.array([[1.0, 2.0]])), net.input_dim, net.n_params
    (array([-1.]), 2, 6)
    """

    group_names = ("W", "a")

    def __init__(self, W, a, activation: str = "tanh", bias: bool = True):
        if not isinstance(bias, (bool, np.bool_)):
            raise TypeError(f"`bias` must be True or False, got {type(bias).__name__}.")
        self.has_bias = bool(bias)
        self.W = v.as_array(W, "W", ndim=2)
        if self.has_bias and self.W.shape[1] < 2:
            raise ValueError(f"`W` must have shape (n, d+1) with d >= 1 (last column = bias), "
                             f"got {self.W.shape}; for a network without biases pass "
                             "bias=False and W of shape (n, d).")
        if not self.has_bias and self.W.shape[1] < 1:
            raise ValueError(f"`W` must have shape (n, d) with d >= 1 for bias=False, got "
                             f"{self.W.shape}.")
        self.a = v.as_array(a, "a", ndim=1)
        if self.a.shape[0] != self.W.shape[0]:
            raise ValueError(f"`a` must have shape ({self.W.shape[0]},), one entry per row of "
                             f"`W`, got {self.a.shape}.")
        self._act = get_activation(activation)
        self.activation = self._act.name

    @property
    def width(self) -> int:
        return self.W.shape[0]

    @property
    def input_dim(self) -> int:
        return self.W.shape[1] - 1 if self.has_bias else self.W.shape[1]

    @property
    def weights(self) -> np.ndarray:
        """Input weights without the bias column, shape (n, d) (a copy)."""
        return (self.W[:, :-1] if self.has_bias else self.W).copy()

    @property
    def bias(self) -> np.ndarray:
        """Biases, the last column of W, shape (n,) (a copy; zeros when ``bias=False``)."""
        return self.W[:, -1].copy() if self.has_bias else np.zeros(self.width)

    def with_params(self, theta) -> "TwoLayer":
        p = self.unpack(theta)
        return TwoLayer(p["W"], p["a"], self.activation, bias=self.has_bias)

    def _kernel_form(self):
        P = self.n_params
        if self.has_bias:
            return self.W.copy(), self.a.copy(), self._act.code, np.arange(P), np.ones(P)
        # the kernels' form holds a bias column fixed at 0, which no parameter maps to
        n, d = self.W.shape
        Wk = np.zeros((n, d + 1))
        Wk[:, :d] = self.W
        idx = np.concatenate([(np.arange(n)[:, None] * (d + 1) + np.arange(d)).ravel(),
                              n * (d + 1) + np.arange(n)])
        return Wk, self.a.copy(), self._act.code, idx, np.ones(P)

    def _inputs(self, x, name: str = "x") -> np.ndarray:
        x = v.as_array(x, name)
        d = self.input_dim
        if x.ndim == 1 and d == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] != d:
            raise ValueError(f"`{name}` must have shape (m, {d}) for this network with input "
                             f"dimension d = {d}, got {x.shape}.")
        return np.vstack([x.T, np.ones((1, x.shape[0]))])

    def _meta(self) -> dict:
        return {"activation": self.activation, "bias": self.has_bias}

    def __repr__(self) -> str:
        nob = "" if self.has_bias else ", bias=False"
        return (f"TwoLayer(n={self.width}, d={self.input_dim}, "
                f"activation={self.activation!r}{nob})")
