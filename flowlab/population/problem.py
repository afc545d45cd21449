"""``PopulationProblem``: a bias-free student, its teacher, and the population loss.

L(theta) = 1/2 E_x[(f(x) - f*(x))^2], x ~ N(0, I_d), f the student
``TwoLayer(W, a, act, bias=False)`` and f* the teacher of the same kind.  The
problem exposes the loss, gradient and Hessian as functions of the flat vector
``u`` of the student's *trainable* parameters, with the same interface as
:class:`flowlab._problem.Problem` (``u0``, ``loss``, ``grad``, ``rhs``, ``jac``,
``hess``, ``theta``, ``net``), so that the gradient-flow runners of
:mod:`flowlab.flow` integrate it unchanged.

Two ways to evaluate the Gaussian integrals:

- ``"closed"`` -- closed forms, when student and teacher both use relu (the
  arc-cosine kernel) or both use erf(z / sqrt 2) (Saad & Solla 1995); see
  :mod:`flowlab._kernels.population`.  Exact to rounding, any d.
- ``"quadrature"`` -- tensor Gauss-Hermite quadrature with ``nodes`` points per
  dimension, for any activations when d <= 2 (an approximation: spectrally
  accurate for smooth activations, slowly converging at the kinks of relu).
"""

from __future__ import annotations

import numpy as np

from .. import _validate as v
from .._kernels import population as _kp
from .._kernels import twolayer as _tk
from .._problem import resolve_trainable
from ..models import TwoLayer
from . import _accurate

__all__ = ["PopulationProblem", "CLOSED_FORMS", "check_pair", "check_nets", "DEFAULT_NODES"]

#: activations with closed-form Gaussian integrals (student and teacher alike)
CLOSED_FORMS = ("relu", "erf")
#: Gauss-Hermite nodes per dimension when ``nodes`` is not given
DEFAULT_NODES = 96
_MAX_QUAD_DIM = 2


def _check_net(net, name: str) -> TwoLayer:
    if not isinstance(net, TwoLayer):
        raise TypeError(f"`{name}` must be a bias-free flowlab TwoLayer network, "
                        f"fl.TwoLayer(W, a, 'relu', bias=False), got {type(net).__name__}.")
    if net.has_bias:
        raise ValueError(f"`{name}` has biases (bias=True); the population loss is for "
                         "bias-free networks f(x) = sum_j a_j sigma(W_j . x): build it as "
                         f"fl.TwoLayer(W, a, {net.activation!r}, bias=False) with W of shape "
                         "(n, d).")
    return net


def check_nets(net, teacher) -> None:
    """Both bias-free ``TwoLayer`` networks on the same input dimension (else an error
    naming the fix)."""
    _check_net(net, "net")
    _check_net(teacher, "teacher")
    d, dt = net.input_dim, teacher.input_dim
    if d != dt:
        raise ValueError(f"`teacher` has input dimension d = {dt} but `net` has d = {d}: both "
                         f"must act on the same x in R^d; give the teacher W of shape "
                         f"(M, {d}) (or the student W of shape (n, {dt})).")


def check_pair(net, teacher, integrals: str | None = None) -> str:
    """Validate a student/teacher pair; return how the integrals are evaluated.

    Returns ``"closed"`` or ``"quadrature"``.  Raises TypeError/ValueError naming
    the fix for: a network that is not a bias-free ``TwoLayer``, input
    dimensions that differ, activations without closed forms when d > 2, and
    an ``integrals`` choice that does not apply.
    """
    check_nets(net, teacher)
    d = net.input_dim
    closed = net.activation == teacher.activation and net.activation in CLOSED_FORMS
    if integrals is None:
        integrals = "closed" if closed else "quadrature"
    if integrals not in ("closed", "quadrature"):
        raise ValueError(f"`integrals` must be 'closed', 'quadrature' or None (choose), got "
                         f"{integrals!r}.")
    if integrals == "closed" and not closed:
        pair = (net.activation, teacher.activation)
        raise ValueError(f"no closed form for the Gaussian integrals of the activations {pair}: "
                         "closed forms exist when student and teacher both use 'relu' or both "
                         "use 'erf' (erf(z / sqrt 2)); for other activations use d <= 2 with "
                         "integrals='quadrature' (Gauss-Hermite).")
    if integrals == "quadrature" and d > _MAX_QUAD_DIM:
        pair = (net.activation, teacher.activation)
        raise ValueError(f"the activations {pair} have no closed-form Gaussian integrals and "
                         f"d = {d} > {_MAX_QUAD_DIM} is too large for tensor Gauss-Hermite "
                         "quadrature: use activation 'relu' or 'erf' (erf(z / sqrt 2)) for "
                         f"both student and teacher, or inputs of dimension d <= "
                         f"{_MAX_QUAD_DIM}.")
    return integrals


def gauss_hermite(d: int, nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Tensor Gauss-Hermite rule for N(0, I_d): points (nodes**d, d) and weights summing to 1."""
    z, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / np.sqrt(2.0 * np.pi)
    if d == 1:
        return z[:, None].copy(), w
    Z = np.stack(np.meshgrid(*([z] * d), indexing="ij"), axis=-1).reshape(-1, d)
    Wq = np.prod(np.stack(np.meshgrid(*([w] * d), indexing="ij"), axis=-1).reshape(-1, d),
                 axis=1)
    return Z, Wq


class PopulationProblem:
    """Population loss, gradient and Hessian of a bias-free student against a teacher.

    Parameters
    ----------
    net : TwoLayer (bias=False)
        The student, W of shape (n, d); its parameters are the flow's state.
    teacher : TwoLayer (bias=False)
        The teacher, W of shape (M, d), any activation (see ``integrals``).
    trainable : None, str or sequence of str
        Groups that move ("W", "a"); e.g. ``"W"`` for Saad & Solla's soft
        committee machine, whose output weights are fixed.
    integrals : {"closed", "quadrature"}, optional
        How the Gaussian integrals are computed; by default closed forms when
        they exist (relu/relu, erf/erf), else Gauss-Hermite quadrature (d <= 2).
    nodes : int, optional
        Gauss-Hermite points per dimension (default 96).

    Notes
    -----
    Conventions: L = 1/2 E[(f - f*)^2] with x ~ N(0, I_d) -- the infinite-data
    limit of the "mean" loss 1/(2m) sum_i r_i^2, so gradient-flow time is the
    same as for a finite-data flow with ``loss="mean"``.
    """

    loss_kind = "population"

    def __init__(self, net: TwoLayer, teacher: TwoLayer, trainable=None,
                 integrals: str | None = None, nodes: int | None = None):
        self.integrals = check_pair(net, teacher, integrals)
        if nodes is not None and self.integrals == "closed":
            raise ValueError("`nodes` sets the Gauss-Hermite rule, which closed-form integrals "
                             "do not use; drop it or pass integrals='quadrature'.")
        self.template, self.teacher = net, teacher
        self.trainable = resolve_trainable(net, trainable)
        self.n, self.d = net.W.shape
        self.code = net._act.code
        self.V = np.ascontiguousarray(teacher.W, dtype=np.float64)
        self.b = np.ascontiguousarray(teacher.a, dtype=np.float64)
        self.theta0 = net.params()
        groups = net.groups()
        self.user_index = np.concatenate(
            [np.arange(groups[g].start, groups[g].stop) for g in self.trainable])
        self.u0 = self.theta0[self.user_index].copy()
        self.size = self.u0.size
        self.P = self.theta0.size
        # no data: the Solution stores empty x (0, d) and y (0,)
        self.XT = np.empty((self.d + 1, 0))
        self.y = np.empty(0)
        self.m = 0
        self.nodes = None
        if self.integrals == "closed":
            self.ett = float(_kp.self_energy(self.code, self.V, self.b))
        else:
            self.nodes = DEFAULT_NODES if nodes is None else v.check_int(nodes, "nodes",
                                                                         minimum=2)
            X, self.qw = gauss_hermite(self.d, self.nodes)
            self.qXT = np.vstack([X.T, np.ones((1, X.shape[0]))])
            self.qy = teacher(X)
            self.ett = float(self.qw @ self.qy ** 2)
            _, _, _, self._kidx, _ = net._kernel_form()     # (W, a, code, idx, sign)
            self._pos = -np.ones(self.n * (self.d + 1) + self.n, dtype=np.int64)
            self._pos[self._kidx] = np.arange(self.P)

    def options(self) -> dict:
        """What rebuilds this problem from a saved solution."""
        return {"integrals": self.integrals, "nodes": self.nodes}

    # -- state <-> parameters --------------------------------------------------------
    def theta(self, u) -> np.ndarray:
        """Full flat parameter vector of the student for trainable values ``u``."""
        th = self.theta0.copy()
        th[self.user_index] = u
        return th

    def net(self, u) -> TwoLayer:
        """The student with trainable values ``u``."""
        return self.template.with_params(self.theta(u))

    def _split(self, theta):
        nd = self.n * self.d
        return (np.ascontiguousarray(theta[:nd].reshape(self.n, self.d)),
                np.ascontiguousarray(theta[nd:]))

    # -- full-parameter evaluations ------------------------------------------------------
    def loss_full(self, theta, accurate: bool = True) -> float:
        """L at the full parameter vector ``theta``.

        With closed forms the sum over pairs cancels to an absolute rounding of
        about eps x (E[f^2] + E[f*^2]); near a student that realises the teacher
        (``accurate=True``) the loss is instead the line integral of the gradient
        from the nearest exact realisation, accurate relative to L itself (see
        :mod:`flowlab.population._accurate`).
        """
        W, a = self._split(theta)
        if self.integrals == "quadrature":
            return float(self._quad(W, a, want=0)[0])
        L = float(_kp.loss(self.code, W, a, self.V, self.b, self.ett))
        if accurate and L <= _accurate.TRIGGER * self.energy_scale(theta):
            better = _accurate.realised_loss(self, theta)
            if better is not None:
                return float(better)
        return L

    def loss_grad_full(self, theta) -> tuple[float, np.ndarray]:
        """(L, grad L) over all parameters (W.ravel(), a); L without the refinement."""
        W, a = self._split(theta)
        if self.integrals == "quadrature":
            L, g, _ = self._quad(W, a, want=1)
            return L, g
        gW = np.empty_like(W)
        ga = np.empty_like(a)
        L = _kp.loss_grad(self.code, W, a, self.V, self.b, self.ett, gW, ga)
        return float(L), np.concatenate([gW.ravel(), ga])

    def hess_full(self, theta) -> np.ndarray:
        """Hessian over all parameters (P, P)."""
        W, a = self._split(theta)
        if self.integrals == "quadrature":
            return self._quad(W, a, want=2)[2]
        if self.template.activation == "relu" and np.any(np.all(W == 0.0, axis=1)):
            j = int(np.flatnonzero(np.all(W == 0.0, axis=1))[0])
            raise ValueError(f"neuron {j} has w_j = 0, where the relu population loss is not "
                             "twice differentiable (its Hessian grows like 1/|w_j|); move it "
                             "off 0 or remove it.")
        H = np.empty((self.P, self.P))
        _kp.hessian(self.code, W, a, self.V, self.b, H)
        return H

    def energy_scale(self, theta) -> float:
        """1/2 (E[f^2] + E[f*^2]): the size of the terms the loss is summed from."""
        W, a = self._split(theta)
        if self.integrals == "quadrature":
            f = self._forward(W, a)
            return 0.5 * float(self.qw @ (f ** 2) + self.ett)
        ess = float(_kp.self_energy(self.code, W, a))
        return 0.5 * (ess + self.ett)

    # -- quadrature -------------------------------------------------------------------
    def _kernel_W(self, W):
        Wk = np.zeros((self.n, self.d + 1))
        Wk[:, :self.d] = W
        return Wk

    def _forward(self, W, a):
        f = np.empty(self.qXT.shape[1])
        _tk.forward(self.code, self._kernel_W(W), a, self.qXT, f)
        return f

    def _quad(self, W, a, want: int):
        """(L, grad, Hess) by Gauss-Hermite quadrature (grad/Hess only when asked)."""
        Wk = self._kernel_W(W)
        m = self.qXT.shape[1]
        r = np.empty(m)
        _tk.residual(self.code, Wk, a, self.qXT, self.qy, r)
        wr = self.qw * r
        L = 0.5 * float(wr @ r)
        if want == 0:
            return L, None, None
        J = np.empty((m, Wk.size + self.n))
        _tk.jacobian(self.code, Wk, a, self.qXT, J)
        J = J[:, self._kidx]
        g = J.T @ wr
        if want == 1:
            return L, g, None
        H = J.T @ (self.qw[:, None] * J)
        _tk.add_curvature(self.code, Wk, a, self.qXT, wr, 1.0, self._pos, np.ones(self._pos.size),
                          H)
        return L, g, H

    # -- the flow's interface (trainable vector u) ---------------------------------------
    def loss(self, u) -> float:
        """L(u) (1/2 E[(f - f*)^2])."""
        return self.loss_full(self.theta(u))

    def loss_grad(self, u) -> tuple[float, np.ndarray]:
        """(L(u), grad L(u)) over the trainable parameters."""
        L, g = self.loss_grad_full(self.theta(u))
        return L, g[self.user_index]

    def grad(self, u) -> np.ndarray:
        """grad L(u) over the trainable parameters."""
        return self.loss_grad(u)[1]

    def rhs(self, t, u) -> np.ndarray:
        """Right-hand side of the gradient flow, -grad L(u)."""
        return -self.grad(u)

    def hess(self, u) -> np.ndarray:
        """Hessian of L over the trainable parameters."""
        H = self.hess_full(self.theta(u))
        return H[np.ix_(self.user_index, self.user_index)]

    def jac(self, t, u) -> np.ndarray:
        """Jacobian of the flow's right-hand side, -Hess L(u)."""
        return -self.hess(u)
