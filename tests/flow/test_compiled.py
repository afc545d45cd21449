"""The compiled explicit Runge-Kutta flows ``ERK853`` and ``ERK45`` (flowlab._flow.compiled)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flowlab as fl
from flowlab.analysis import flow_initial_stage
from flowlab._flow.compiled import COMPILED

PAIRS = [("ERK853", "DOP853"), ("ERK45", "RK45")]


def _problem(act="tanh", n=6, m=25, seed=0, scale=0.7):
    rng = np.random.default_rng(seed)
    x = np.linspace(-1, 1.5, m)
    y = np.sin(3 * x) + 0.5 * np.sin(6 * x)
    return fl.TwoLayer(rng.normal(size=(n, 2)) * scale, rng.normal(size=n) * scale, act), x, y


@pytest.mark.parametrize("ours,scipys", PAIRS)
@pytest.mark.parametrize("act", ["tanh", "x2tanh", "softplus"])
def test_same_steps_as_scipy(ours, scipys, act):
    """Same tableau and step control as scipy's solver: same steps, same evaluations."""
    net, x, y = _problem(act)
    a = fl.flow(net, x, y, 5.0, loss="mean", method=scipys, rtol=1e-8, atol=1e-10)
    b = fl.flow(net, x, y, 5.0, loss="mean", method=ours, rtol=1e-8, atol=1e-10)
    assert a.nsteps == b.nsteps and a.nfev == b.nfev
    # a step size is a power (-1/8 for DOP853) of an error estimate that is a
    # difference of nearly equal stages, so rounding moves step times by ~1e-8
    np.testing.assert_allclose(b.t, a.t, rtol=1e-6, atol=0)
    np.testing.assert_allclose(b.theta[-1], a.theta[-1], rtol=0, atol=1e-12)
    tt = np.linspace(0, 5.0, 301)
    np.testing.assert_allclose(b.theta_at(tt), a.theta_at(tt), rtol=0, atol=1e-9)


@pytest.mark.parametrize("method", list(COMPILED))
@pytest.mark.parametrize("loss", ["sum", "mean"])
def test_frozen_features_match_closed_form(method, loss):
    """trainable="a": a linear flow solved exactly by eigen-decomposition (tier 1)."""
    net, x, y = _problem()
    Phi = net.features(x)
    s = 1.0 if loss == "sum" else 1.0 / x.size
    G, b = s * Phi.T @ Phi, s * Phi.T @ y
    lam, V = np.linalg.eigh(G)
    sol = fl.flow(net, x, y, 3.0, loss=loss, method=method, trainable="a", rtol=1e-11,
                  atol=1e-13)
    for t in (0.4, 1.7, 3.0):
        f = np.where(lam > 1e-300, -np.expm1(-lam * t) / np.where(lam > 1e-300, lam, 1), t)
        exact = net.a - V @ (f * (V.T @ (G @ net.a - b)))
        np.testing.assert_allclose(sol.net_at(t).a, exact, rtol=1e-8,
                                   atol=1e-10 * np.abs(exact).max())
    np.testing.assert_array_equal(sol.net.W, net.W)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(1, 5),
       act=st.sampled_from(["tanh", "sigmoid", "xtanh", "x2tanh", "gelu"]),
       method=st.sampled_from(list(COMPILED)))
def test_loss_decreases_and_energy_balance(seed, n, act, method):
    """Tier 3: monotone loss and L(0) - L(T) = int ||theta'||^2 dt along every flow."""
    net, x, y = _problem(act, n=n, seed=seed)
    sol = fl.flow(net, x, y, 2.0, loss="mean", method=method, rtol=1e-10, atol=1e-12)
    assert sol.success
    assert np.all(np.diff(sol.loss) <= 1e-13 * sol.loss[0])
    drop = sol.loss[0] - sol.loss[-1]
    if drop > 1e-8:
        assert abs(drop - sol.dissipation()) <= 1e-6 * drop


@pytest.mark.filterwarnings("ignore:the gradient flow of a ReLU network is not smooth")
def test_relu1d_signed_parameters():
    """ReLU1D reaches the kernel through a signed re-indexing; the flow agrees with scipy."""
    rng = np.random.default_rng(3)
    x = np.linspace(-1, 1, 30)
    net = fl.ReLU1D(b=rng.uniform(-1, 1, 5), c=rng.normal(size=5), w=np.ones(5))
    a = fl.flow(net, x, np.cos(2 * x), 0.5, method="RK45", rtol=1e-10, atol=1e-12)
    b = fl.flow(net, x, np.cos(2 * x), 0.5, method="ERK45", rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(b.net.params(), a.net.params(), atol=1e-10)
    assert isinstance(b.net, fl.ReLU1D)


def test_t_eval_gtol_and_max_steps():
    net, x, y = _problem()
    te = np.geomspace(1e-3, 4.0, 17)
    sol = fl.flow(net, x, y, 4.0, loss="mean", method="ERK853", t_eval=te, dense=False)
    np.testing.assert_array_equal(sol.t, te)
    ref = fl.flow(net, x, y, 4.0, loss="mean", method="ERK853")
    np.testing.assert_allclose(sol.theta, ref.theta_at(te), atol=1e-9)
    steady = fl.flow(net, x, y, 1e4, loss="mean", method="ERK45", gtol=1e-3)
    assert steady.status == "steady_state"
    assert np.linalg.norm(steady.net.gradient(x, y, loss="mean")) < 1e-3
    with pytest.warns(RuntimeWarning, match="max_steps"):
        short = fl.flow(net, x, y, 4.0, loss="mean", method="ERK853", max_steps=3)
    assert short.status == "max_steps" and short.nsteps == 3


def test_resume_continues_the_same_flow():
    net, x, y = _problem()
    whole = fl.flow(net, x, y, 3.0, loss="mean", method="ERK853", rtol=1e-11, atol=1e-13)
    half = fl.flow(net, x, y, 1.5, loss="mean", method="ERK853", rtol=1e-11, atol=1e-13)
    joined = fl.resume(half, 3.0)
    assert joined.method == "ERK853"
    np.testing.assert_allclose(joined.net.params(), whole.net.params(), atol=1e-9)


def test_stop_at_loss_level_brackets_the_crossing():
    net = fl.init.small_gaussian(20, 1, 0.05 ** 2, activation="xtanh", seed=1)
    x = np.linspace(-1, 1.5, 40)
    y = np.sin(3 * x) + 0.5 * np.sin(6 * x)
    sol, stage = flow_initial_stage(net, x, y)
    assert stage.reached and sol.status == "finished"
    assert sol.t_end == sol.t_final
    assert sol.loss[-1] <= 0.7 * sol.loss[0] < sol.loss[-2]
    assert abs(sol.loss_at(stage.t_end) - 0.7 * sol.loss[0]) <= 1e-10 * sol.loss[0]
    full = fl.flow(net, x, y, sol.t_final, loss="mean", method="ERK853")
    np.testing.assert_allclose(sol.net.params(), full.net.params(), atol=1e-8)


def test_method_names_registered():
    assert {"ERK853", "ERK45"} <= set(fl.METHODS)
    net, x, y = _problem()
    assert fl.flow(net, x, y, 0.1, method="erk853").method == "ERK853"
