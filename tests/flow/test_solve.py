import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

import flowlab as fl
from flowlab._problem import Problem

SCIPY_METHODS = ["RK45", "DOP853", "Radau", "BDF", "LSODA"]


def _tanh_problem(n=6, m=25, seed=0):
    rng = np.random.default_rng(seed)
    x = np.linspace(-1, 1.5, m)
    y = np.sin(3 * x) + 0.5 * np.sin(6 * x)
    net = fl.TwoLayer(rng.normal(size=(n, 2)), rng.normal(size=n) * 0.5, "tanh")
    return net, x, y


def _linear_flow_closed_form(net, x, y, t, loss):
    """Frozen features: a(t) = a0 - sum_k (1 - exp(-lam_k t))/lam_k v_k v_k^T (G a0 - b)."""
    Phi = net.features(x)
    s = 1.0 if loss == "sum" else 1.0 / len(y)
    G = s * Phi.T @ Phi
    b = s * Phi.T @ y
    lam, V = np.linalg.eigh(G)
    c = V.T @ (G @ net.a - b)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(lam > 1e-300, -np.expm1(-lam * t) / lam, t)
    return net.a - V @ (f * c)


@pytest.mark.parametrize("method", SCIPY_METHODS)
@pytest.mark.parametrize("loss", ["sum", "mean"])
def test_frozen_features_flow_matches_closed_form(method, loss):
    net, x, y = _tanh_problem()
    T = 3.0
    sol = fl.flow(net, x, y, T, loss=loss, method=method, trainable="a", rtol=1e-11, atol=1e-13)
    assert sol.success
    for t in (0.7, 1.9, T):
        exact = _linear_flow_closed_form(net, x, y, t, loss)
        got = sol.net_at(t).a
        np.testing.assert_allclose(got, exact, rtol=1e-8, atol=1e-10 * np.abs(exact).max())
    np.testing.assert_array_equal(sol.net.W, net.W)      # frozen group untouched


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(1, 6), m=st.integers(1, 20),
       activation=st.sampled_from(["tanh", "sigmoid", "softplus", "xtanh", "x2tanh", "elu",
                                   "cos", "gelu", "swish"]),
       loss=st.sampled_from(["sum", "mean"]), d=st.integers(1, 3))
def test_loss_decreases_and_energy_balance(seed, n, m, activation, loss, d):
    """Along every flow L is non-increasing and L(0) - L(T) = int ||theta'||^2 dt."""
    rng = np.random.default_rng(seed)
    net = fl.TwoLayer(rng.normal(size=(n, d + 1)), rng.normal(size=n), activation)
    x = rng.uniform(-2, 2, (m, d))
    y = rng.normal(size=m)
    sol = fl.flow(net, x, y, 2.0, loss=loss, method="Radau", rtol=1e-10, atol=1e-12)
    assert sol.success
    L = sol.loss
    assert np.all(np.diff(L) <= 1e-12 * max(L[0], 1e-300))
    drop = L[0] - L[-1]
    if drop > 1e-9 * L[0]:
        assert abs(drop - sol.dissipation()) <= 1e-6 * drop


@pytest.mark.parametrize("method", SCIPY_METHODS)
def test_dense_output_reproduces_scipy_interpolant(method):
    net, x, y = _tanh_problem(n=4, m=15)
    prob = Problem(net, x, y, loss="mean")
    kw = {"jac": prob.jac} if method in ("Radau", "BDF", "LSODA") else {}
    ref = solve_ivp(prob.rhs, (0, 2.0), prob.u0, method=method, rtol=1e-8, atol=1e-10,
                    dense_output=True, **kw)
    sol = fl.flow(net, x, y, 2.0, loss="mean", method=method, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(sol.t, ref.t, rtol=0, atol=0)
    tq = np.random.default_rng(1).uniform(0, 2.0, 300)
    np.testing.assert_allclose(sol.theta_at(tq), ref.sol(tq).T, rtol=1e-12, atol=1e-13)


def test_gradient_descent_converges_to_flow_at_first_order():
    net, x, y = _tanh_problem(n=8, m=30, seed=3)
    T = 1.0
    target = fl.flow(net, x, y, T, loss="mean", rtol=1e-12, atol=1e-14).net.params()
    dist = []
    for lr in (0.02, 0.01, 0.005):
        res = fl.train.gd(net, x, y, lr=lr, steps=int(round(T / lr)), loss="mean")
        dist.append(np.linalg.norm(res.net.params() - target))
    ratios = np.array(dist[:-1]) / np.array(dist[1:])
    assert np.all((ratios >= 1.6) & (ratios <= 2.5)), ratios


@pytest.mark.filterwarnings("ignore:the gradient flow of a ReLU network is not smooth")
def test_save_load_round_trip_is_exact(tmp_path):
    net, x, y = _tanh_problem()
    sol = fl.flow(net, x, y, 1.0, loss="mean", method="DOP853", rtol=1e-9)
    path = sol.save(tmp_path / "run")
    back = fl.load(path)
    for name in ("t", "theta", "loss", "x", "y", "theta_final"):
        np.testing.assert_array_equal(getattr(back, name), getattr(sol, name))
    assert (back.status, back.method, back.loss_kind, back.trainable) == \
        (sol.status, sol.method, sol.loss_kind, sol.trainable)
    assert back.net == sol.net and back.net0 == sol.net0
    tq = np.linspace(0, 1.0, 77)
    np.testing.assert_array_equal(back.theta_at(tq), sol.theta_at(tq))
    relu = fl.flow(fl.ReLU1D([0.1, -0.2], [1.0, 2.0], w=[1.0, -1.0]), x, y, 0.5,
                   method="RK45")
    relu.save(tmp_path / "relu.npz")
    assert fl.load(tmp_path / "relu.npz").net == relu.net


def test_resume_continues_the_flow(tmp_path):
    net, x, y = _tanh_problem()
    whole = fl.flow(net, x, y, 2.0, method="Radau")
    first = fl.flow(net, x, y, 1.0, method="Radau", save=tmp_path / "part.npz")
    joined = fl.resume(tmp_path / "part.npz", t_end=2.0)
    assert joined.t_final == 2.0 and np.all(np.diff(joined.t) > 0)
    assert joined.t[0] == 0.0 and joined.nsteps == first.nsteps + (joined.nsteps - first.nsteps)
    np.testing.assert_allclose(joined.net.params(), whole.net.params(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(joined.net_at(0.5).params(), first.net_at(0.5).params(),
                               rtol=0, atol=0)
    with pytest.raises(ValueError, match="cannot change"):
        fl.resume(first, method="RK45")


def test_steady_state_stop():
    net, x, y = _tanh_problem()
    sol = fl.flow(net, x, y, 1e10, trainable="a", gtol=1e-6)   # slowest mode: 1/lambda ~ 4e5
    assert sol.status == "steady_state" and sol.t_final < 1e10
    assert np.linalg.norm(sol.net.gradient(x, y, trainable="a")) < 1e-6


def test_max_steps_and_t_eval():
    net, x, y = _tanh_problem()
    with pytest.warns(RuntimeWarning, match="max_steps"):
        sol = fl.flow(net, x, y, 10.0, method="RK45", max_steps=3)
    assert sol.status == "max_steps" and sol.nsteps == 3
    te = np.linspace(0, 1, 11)
    sol = fl.flow(net, x, y, 1.0, t_eval=te)
    np.testing.assert_array_equal(sol.t, te)
    np.testing.assert_allclose(sol.theta, sol.theta_at(te), rtol=1e-13, atol=1e-14)
    nodense = fl.flow(net, x, y, 1.0, t_eval=te, dense=False)
    np.testing.assert_allclose(nodense.theta, sol.theta, rtol=1e-13)
    with pytest.raises(ValueError, match="dense"):
        nodense.net_at(0.55)


def test_progress_bar_and_checkpoint(tmp_path, capsys):
    net, x, y = _tanh_problem()
    sol = fl.flow(net, x, y, 1.0, progress=True, save=tmp_path / "c.npz",
                  checkpoint_every=1e-9)
    assert (tmp_path / "c.npz").exists() and fl.load(tmp_path / "c.npz").status == "finished"
    assert sol.success


@pytest.mark.parametrize("kwargs, match", [
    (dict(t_end=0.0), "t_end"),
    (dict(t_end=-1.0), "t_end"),
    (dict(t_end=float("nan")), "finite"),
    (dict(method="rk4"), "unknown `method`"),
    (dict(method="exact"), "ReLU networks only"),
    (dict(rtol=1e-20), "rtol"),
    (dict(rtol=2.0), "rtol"),
    (dict(atol=0.0), "atol"),
    (dict(loss="l2"), "loss"),
    (dict(t_eval=[0.5, 0.1]), "increasing"),
    (dict(t_eval=[0.5, 3.0]), "lie in"),
    (dict(gtol=-1.0), "gtol"),
    (dict(trainable="b"), "unknown group"),
])
def test_flow_rejects_bad_input(kwargs, match):
    net, x, y = _tanh_problem()
    args = dict(t_end=1.0)
    args.update(kwargs)
    t_end = args.pop("t_end")
    with pytest.raises((ValueError, TypeError), match=match):
        fl.flow(net, x, y, t_end, **args)


def test_flow_rejects_bad_data():
    net, x, y = _tanh_problem()
    with pytest.raises(ValueError, match="NaN"):
        fl.flow(net, x, np.where(x > 0, np.nan, y), 1.0)
    with pytest.raises(ValueError, match="one value per data point"):
        fl.flow(net, x, y[:-1], 1.0)
    with pytest.raises(ValueError, match="empty"):
        fl.flow(net, x[:0], y[:0], 1.0)
    with pytest.raises(TypeError, match="flowlab network"):
        fl.flow(object(), x, y, 1.0)


def test_default_method():
    assert fl.flow.__module__.startswith("flowlab")
    from flowlab._flow import default_method
    assert default_method(fl.ReLU1D([0.0], [1.0])) == "exact"
    assert default_method(fl.TwoLayer(np.ones((1, 2)), [1.0], "relu")) == "exact"
    assert default_method(fl.TwoLayer(np.ones((1, 2)), [1.0], "tanh")) == "auto"


def test_dense_output_from_arrays_evaluates_and_extends_like_the_original():
    from flowlab._flow.dense import DenseOutput

    rng = np.random.default_rng(3)
    built = DenseOutput(2)
    breaks = [0.0, 0.5, 1.25, 2.0]
    for k in range(3):
        built.append(breaks[k], breaks[k + 1], rng.normal(size=(k + 2, 2)))
    copy = DenseOutput.from_arrays(**built.arrays())
    t = np.linspace(0.0, 2.0, 17)
    np.testing.assert_array_equal(copy(t), built(t))
    assert (copy.n_steps, copy.t_min, copy.t_max) == (3, 0.0, 2.0)
    extra = rng.normal(size=(4, 2))
    built.append(2.0, 3.0, extra)
    copy.append(2.0, 3.0, extra)
    t = np.linspace(0.0, 3.0, 25)
    np.testing.assert_array_equal(copy(t), built(t))
    assert copy.n_steps == 4 and copy.t_max == 3.0
    with pytest.raises(ValueError, match="contiguous"):
        copy.append(2.5, 4.0, extra)
