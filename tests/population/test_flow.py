"""The population gradient flow: the usual Solution, its invariants, order parameters, files."""

import numpy as np
import pytest

import flowlab as fl
from flowlab.population import PopulationProblem


def setup(act="erf", d=4, seed=0):
    rng = np.random.default_rng(seed)
    teacher = fl.TwoLayer(rng.normal(size=(2, d)) / np.sqrt(d), [1.0, -0.7], act, bias=False)
    net = fl.TwoLayer(rng.normal(size=(3, d)) / np.sqrt(d), 0.5 * rng.normal(size=3), act,
                      bias=False)
    return net, teacher


@pytest.mark.parametrize("act", ["relu", "erf"])
def test_flow_decreases_the_loss_and_dissipates_it(act):
    net, teacher = setup(act)
    sol = fl.population.flow(net, teacher, 5.0)
    assert sol.status == "finished" and sol.method == "Radau" and sol.loss_kind == "population"
    assert np.all(np.diff(sol.loss) <= 1e-14 * sol.loss[0])
    drop = sol.loss[0] - sol.loss[-1]
    assert sol.dissipation() == pytest.approx(drop, rel=1e-8)
    assert sol.loss[0] == fl.population.loss(net, teacher)
    assert sol.loss[-1] == pytest.approx(fl.population.loss(sol.net, teacher), rel=1e-14)
    assert sol.x.shape == (0, 4) and sol.y.shape == (0,) and sol.teacher == teacher


def test_flow_matches_an_explicit_method_and_gradient_descent_time():
    net, teacher = setup("relu", seed=1)
    a = fl.population.flow(net, teacher, 3.0)
    b = fl.population.flow(net, teacher, 3.0, method="DOP853", rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(a.theta_final, b.theta_final, rtol=1e-7, atol=1e-9)
    # explicit Euler on the population gradient with a small step: first-order agreement
    theta = net.params()
    h = 1e-3
    for _ in range(int(round(3.0 / h))):
        theta = theta - h * fl.population.gradient(net.with_params(theta), teacher)
    err = np.linalg.norm(theta - b.theta_final)
    assert 1e-6 < err < 1e-2 * np.linalg.norm(b.theta_final)


def test_order_parameters_along_the_flow():
    net, teacher = setup("erf", seed=2)
    sol = fl.population.flow(net, teacher, 4.0, t_eval=np.linspace(0, 4, 9))
    op = sol.order_parameters()
    assert op.Q.shape == (9, 3, 3) and op.R.shape == (9, 3, 2) and op.T.shape == (2, 2)
    for k, t in enumerate(op.t):
        W = sol.net_at(t).W
        np.testing.assert_allclose(op.Q[k], W @ W.T, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(op.R[k], W @ teacher.W.T, rtol=1e-13, atol=1e-15)
    dense = sol.order_parameters([0.5, 2.5])
    np.testing.assert_allclose(dense.R[1], sol.net_at(2.5).W @ teacher.W.T, rtol=1e-13)
    with pytest.raises(ValueError, match="teacher"):
        fl.flow(fl.TwoLayer(net.W, net.a, "erf", bias=False), np.ones((3, 4)), np.ones(3),
                1.0).order_parameters()


def test_soft_committee_keeps_output_weights_fixed():
    net, teacher = setup("erf", seed=3)
    sol = fl.population.flow(net, teacher, 2.0, trainable="W")
    assert np.array_equal(sol.net.a, net.a) and sol.trainable == ("W",)
    assert isinstance(sol.problem(), PopulationProblem)
    assert sol.loss_at(1.0) == pytest.approx(
        fl.population.loss(sol.net_at(1.0), teacher), rel=1e-14)


def test_save_load_and_resume(tmp_path):
    net, teacher = setup("relu", seed=4)
    whole = fl.population.flow(net, teacher, 2.0)
    part = fl.population.flow(net, teacher, 1.0, save=tmp_path / "p.npz")
    back = fl.load(tmp_path / "p.npz")
    assert back.teacher == teacher and back.loss_kind == "population"
    np.testing.assert_array_equal(back.theta, part.theta)
    joined = fl.resume(back, 2.0)
    np.testing.assert_allclose(joined.theta_final, whole.theta_final, rtol=1e-8, atol=1e-10)
    assert joined.teacher == teacher and joined.t_final == 2.0


def test_quadrature_flow_in_one_dimension():
    rng = np.random.default_rng(5)
    teacher = fl.TwoLayer([[1.3], [-0.4]], [1.0, 0.5], "tanh", bias=False)
    net = fl.TwoLayer(rng.normal(size=(3, 1)), rng.normal(size=3), "tanh", bias=False)
    sol = fl.population.flow(net, teacher, 3.0, nodes=60)
    assert sol.info["population"] == {"integrals": "quadrature", "nodes": 60}
    assert sol.loss[-1] < sol.loss[0]
    assert sol.dissipation() == pytest.approx(sol.loss[0] - sol.loss[-1], rel=1e-8)
