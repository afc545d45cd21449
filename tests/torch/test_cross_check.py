"""The bridge against flowlab's native two-layer code: same flow, same gradient descent.

For f(x) = sum_j a_j tanh(W_j . (x, 1)) the bridge's module (from_twolayer) and
flowlab's TwoLayer are the same function of the same parameters (in another
order, twolayer_order), so their gradient flows and their GD iterates must
agree.  Tolerances: 1e-8 relative for flows integrated at rtol = 1e-12 by
different methods; 1e-12 for GD (identical arithmetic up to rounding).
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import flowlab as fl  # noqa: E402
import flowlab.torch as flt  # noqa: E402


@pytest.fixture
def problem():
    rng = np.random.default_rng(3)
    x = rng.uniform(-1.0, 1.0, (30, 2))
    y = np.sin(2.0 * x[:, 0]) * x[:, 1] + 0.5 * x[:, 0]
    net = fl.init.xavier(6, 2, activation="tanh", seed=1)
    return net, x, y


def _rel(a, b):
    return np.linalg.norm(a - b, axis=-1) / np.linalg.norm(a, axis=-1)


def test_module_is_the_twolayer_network(problem):
    net, x, y = problem
    deep = flt.from_twolayer(net)
    idx = flt.twolayer_order(net)
    np.testing.assert_allclose(deep(x).detach().numpy()[:, 0], net(x), rtol=1e-14, atol=1e-15)
    fm = flt.FlatModule(deep, flt.MSELoss(x, y, "mean"))
    np.testing.assert_array_equal(fm.theta0, net.params()[idx])
    assert fm.loss(fm.u0) == pytest.approx(net.loss(x, y, "mean"), rel=1e-14)
    np.testing.assert_allclose(fm.grad(fm.u0), net.gradient(x, y, "mean")[idx], rtol=1e-12,
                               atol=1e-15)
    np.testing.assert_allclose(fm.hess(fm.u0), net.hessian(x, y, "mean")[np.ix_(idx, idx)],
                               rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("loss", ["mean", "sum"])
def test_bridge_flow_equals_native_flow(problem, loss):
    """Native Radau vs the bridge's DOP853 (other method, other code) at rtol = 1e-12."""
    net, x, y = problem
    T = 8.0 if loss == "mean" else 1.0
    times = np.array([0.1, 0.25, 0.5, 1.0]) * T
    native = fl.flow(net, x, y, T, loss=loss, method="Radau", rtol=1e-12, atol=1e-14)
    bridge = flt.flow(flt.from_twolayer(net), flt.MSELoss(x, y, loss), T, method="DOP853",
                      rtol=1e-12, atol=1e-14)
    assert bridge.status == "finished"
    idx = flt.twolayer_order(net)
    ref = native.theta_at(times)[:, idx]
    err = _rel(ref, bridge.theta_at(times))
    assert np.all(err < 1e-8), err
    # the loss moved, so agreement is not trivial
    assert bridge.loss_at(T) < 0.9 * bridge.loss[0]
    np.testing.assert_allclose(bridge.loss_at(times), native.loss_at(times), rtol=1e-8)


def test_bridge_implicit_flow_uses_the_exact_hessian(problem):
    """Radau on both sides: the bridge's Jacobian is the torch Hessian."""
    net, x, y = problem
    times = np.array([0.2, 0.6, 1.0])
    native = fl.flow(net, x, y, 1.0, loss="mean", method="Radau", rtol=1e-12, atol=1e-14)
    bridge = flt.flow(flt.from_twolayer(net), flt.MSELoss(x, y, "mean"), 1.0, method="Radau",
                      rtol=1e-12, atol=1e-14)
    assert bridge.njev >= 1
    err = _rel(native.theta_at(times)[:, flt.twolayer_order(net)], bridge.theta_at(times))
    assert np.all(err < 1e-8), err


def test_train_gd_equals_native_gd(problem):
    net, x, y = problem
    idx = flt.twolayer_order(net)
    native = fl.train.gd(net, x, y, lr=0.05, steps=300, loss="mean", record_every=50,
                         record_params=True)
    bridge = flt.train(flt.from_twolayer(net), flt.MSELoss(x, y, "mean"), optimizer="gd", lr=0.05,
                       steps=300, record_every=50, record_params=True)
    np.testing.assert_array_equal(bridge.iterations, native.iterations)
    assert np.all(_rel(native.params[:, idx], bridge.params) < 1e-12)
    np.testing.assert_allclose(bridge.loss, native.loss, rtol=1e-12)
    assert bridge.loss[-1] < 0.9 * bridge.loss[0]
    np.testing.assert_allclose(bridge.t, 0.05 * native.iterations)
