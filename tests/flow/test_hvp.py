"""Hessian-vector products without the Hessian (every model): equal to the dense
Hessian (or the stage Jacobian of the exact engines) times v, and the power iteration
on them gives the largest eigenvalue."""

import numba as nb
import numpy as np
import pytest

import flowlab as fl
from flowlab._kernels import relu1d, relund
from flowlab._problem import Problem, power_lambda
from flowlab._flow.exact_1d import Exact1D
from flowlab._flow.exact_nd import ExactND

OPTS = dict(rtol=1e-10, atol=1e-12, t0=0.0, gtol=None, max_steps=None, progress=False)


@pytest.mark.parametrize("act", ["tanh", "x2tanh", "relu", "softplus"])
@pytest.mark.parametrize("trainable", [None, "a", "W"])
def test_problem_hvp_equals_the_dense_hessian(act, trainable):
    rng = np.random.default_rng(0)
    net = fl.TwoLayer(rng.normal(size=(5, 3)), rng.normal(size=5), act)
    X, y = rng.normal(size=(20, 2)), rng.normal(size=20)
    prob = Problem(net, X, y, loss="mean", trainable=trainable)
    H = prob.hess(prob.u0)
    v = rng.normal(size=prob.size)
    assert np.abs(H @ v - prob.hvp(prob.u0, v)).max() <= 1e-13 * np.abs(H @ v).max()
    lam = np.abs(np.linalg.eigvalsh(H)).max()
    assert abs(prob.lambda_max(prob.u0, iterations=200) - lam) <= 1e-6 * lam


def _pin(e, j, p):
    """Pin neuron j of a 1-d engine on unique point p (as a slide start does)."""
    e._snap(j, p)
    e.pin[j] = p
    e.lo, e.hi = e._intervals(e.theta)
    if e.lo[j] <= p < e.hi[j]:
        e._remove(j, p)


@nb.njit
def _relu1d_jac(model, u, J, dh):
    """relu1d.jac is compiled without a Python entry point (flowlab._kernels.internal)."""
    return relu1d.jac(model, u, J, dh)


@pytest.mark.parametrize("kind", ["relu1d", "relu1d_w", "twolayer"])
@pytest.mark.parametrize("trainable", [None, "out", "in"])
@pytest.mark.parametrize("pinned", [False, True])
def test_relu1d_stage_hvp_equals_its_jacobian(kind, trainable, pinned):
    rng = np.random.default_rng(5)
    x = np.sort(rng.uniform(-1, 1, 15))
    y = np.sin(3 * x)
    if kind == "twolayer":
        W = np.column_stack([rng.choice([-1.0, 1.0], 5) * rng.uniform(0.5, 1.5, 5),
                             rng.normal(0, 0.7, 5)])
        net, xx = fl.TwoLayer(W, rng.normal(size=5), "relu"), x[:, None]
        tr = {None: None, "out": "a", "in": "W"}[trainable]
    else:
        w = rng.choice([-1.0, 1.0], 5) if kind == "relu1d_w" else None
        net, xx = fl.ReLU1D(rng.normal(0, 0.5, 5), rng.normal(size=5), w), x
        tr = {None: None, "out": "c", "in": "b"}[trainable]
    e = Exact1D(Problem(net, xx, y, "sum", trainable=tr), 1.0, **OPTS)
    if pinned and (e.eb or e.ew):
        _pin(e, 2, 4)
    model, _ = e._model()
    u = e.theta[model.free].copy()
    J, dh = np.empty((u.size, u.size)), np.empty(u.size)
    _relu1d_jac(model, u, J, dh)
    v = rng.normal(size=u.size)
    out = np.empty(u.size)
    relu1d.hvp(model, u, v, out)
    assert np.abs(-J @ v - out).max() <= 1e-13 * np.abs(J @ v).max()


@pytest.mark.parametrize("trainable", [None, "a", "W"])
def test_relund_stage_hvp_equals_its_jacobian_with_a_sliding_neuron(trainable):
    rng = np.random.default_rng(3)
    net = fl.TwoLayer(rng.normal(size=(4, 3)), rng.normal(size=4), "relu")
    X, y = rng.uniform(-1, 1, (12, 2)), rng.normal(size=12)
    e = ExactND(Problem(net, X, y, "sum", trainable=trainable), 1.0, **OPTS)
    if trainable != "a":                          # neuron 1 held on point 3's surface
        Wj, XQ = e.theta[3:6], e.X[[3]]
        Wj -= XQ.T @ np.linalg.solve(XQ @ XQ.T, XQ @ Wj)
        e.mask[1, 3] = 0
        e.pins[1] = [3]
        e._pins_version += 1
    model = e._model(slides=False)
    u = e._state(model)
    J, dh = np.empty((u.size, u.size)), np.empty(u.size)
    relund.jac(model, u, J, dh)
    v = rng.normal(size=u.size)
    out = np.empty(u.size)
    relund.hvp(model, u, v, out)
    assert np.abs(-J @ v - out).max() <= 1e-13 * np.abs(J @ v).max()
    lam = np.abs(np.linalg.eigvalsh(J)).max()

    def apply(w):
        r = np.empty(u.size)
        relund.hvp(model, u, w, r)
        return r
    assert abs(power_lambda(apply, u.size, 300) - lam) <= 1e-6 * lam
