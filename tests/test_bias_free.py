"""``TwoLayer(W, a, act, bias=False)`` on every path: supported, or refused with the fix."""

import numpy as np
import pytest

import flowlab as fl
from flowlab.analysis import neuron_mass_matrix


@pytest.fixture
def net():
    rng = np.random.default_rng(0)
    return fl.TwoLayer(rng.normal(size=(3, 2)), rng.normal(size=3), "tanh", bias=False)


def test_contract_shapes_packing_and_equality(net):
    assert (net.width, net.input_dim, net.n_params, net.has_bias) == (3, 2, 9, False)
    np.testing.assert_array_equal(net.params(), np.concatenate([net.W.ravel(), net.a]))
    np.testing.assert_array_equal(net.weights, net.W)
    np.testing.assert_array_equal(net.bias, np.zeros(3))
    assert net.with_params(net.params()) == net
    assert net != fl.TwoLayer(np.column_stack([net.W, np.zeros(3)])[:, :2], net.a, "tanh")
    assert "bias=False" in repr(net)
    with pytest.raises(TypeError, match="`bias` must be True or False"):
        fl.TwoLayer(net.W, net.a, "tanh", bias="no")
    with pytest.raises(ValueError, match="bias=False and W of shape"):
        fl.TwoLayer(np.ones((2, 1)), [1.0, 1.0], "tanh")


def test_output_equals_a_biased_network_with_zero_biases(net, rng):
    X = rng.normal(size=(300, 2))
    biased = fl.TwoLayer(np.column_stack([net.W, np.zeros(3)]), net.a, "tanh")
    np.testing.assert_array_equal(net(X), biased(X))
    np.testing.assert_array_equal(net.features(X), biased.features(X))
    y = np.sin(X[:, 0])
    # gradient and Hessian are those of the biased network without its bias entries
    keep = np.r_[0, 1, 3, 4, 6, 7, 9, 10, 11]
    np.testing.assert_allclose(net.gradient(X, y), biased.gradient(X, y)[keep], rtol=1e-14)
    np.testing.assert_allclose(net.hessian(X, y), biased.hessian(X, y)[np.ix_(keep, keep)],
                               rtol=1e-13, atol=1e-13)


def test_finite_data_flows_scipy_compiled_and_descent(net, rng):
    X = rng.normal(size=(40, 2))
    y = np.sin(X[:, 0])
    a = fl.flow(net, X, y, 1.0, loss="mean", method="Radau", rtol=1e-11, atol=1e-13)
    b = fl.flow(net, X, y, 1.0, loss="mean", method="ERK853", rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(a.theta_final, b.theta_final, rtol=1e-8, atol=1e-10)
    assert a.net.has_bias is False and a.net.W.shape == (3, 2)
    gd = fl.train.gd(net, X, y, lr=1e-3, steps=1000, loss="mean")
    assert np.linalg.norm(gd.net.params() - a.theta_final) < 1e-3


@pytest.mark.parametrize("d", [1, 2])
def test_exact_relu_flow_without_biases_matches_radau(d):
    rng = np.random.default_rng(d)
    net = fl.TwoLayer(rng.normal(size=(3, d)), rng.normal(size=3), "relu", bias=False)
    X = rng.normal(size=(30, d))
    y = np.cos(X.sum(axis=1))
    ex = fl.flow(net, X, y, 1.5, loss="mean", method="exact")
    ra = fl.flow(net, X, y, 1.5, loss="mean", method="Radau", rtol=1e-12, atol=1e-14)
    assert ex.status == "finished" and ex.net.has_bias is False
    np.testing.assert_allclose(ex.theta_final, ra.theta_final, rtol=1e-7, atol=1e-8)
    assert np.all(np.diff(ex.loss) <= 1e-14)


def test_save_and_load_keep_bias_false(net, tmp_path, rng):
    X = rng.normal(size=(10, 2))
    fl.flow(net, X, X[:, 0], 0.5, save=tmp_path / "s.npz")
    back = fl.load(tmp_path / "s.npz")
    assert back.net0 == net and back.net.has_bias is False


def test_exact_gram_matrix_of_a_bias_free_relu_network_in_1d():
    relu = fl.TwoLayer([[1.0], [-2.0], [0.5]], [1.0, 1.0, 1.0], "relu", bias=False)
    biased = fl.TwoLayer([[1.0, 0.0], [-2.0, 0.0], [0.5, 0.0]], [1.0, 1.0, 1.0], "relu")
    np.testing.assert_allclose(neuron_mass_matrix(relu, (-1.0, 2.0)),
                               neuron_mass_matrix(biased, (-1.0, 2.0)), rtol=1e-14)


def test_torch_bridge_refuses_bias_free_networks(net):
    pytest.importorskip("torch")
    from flowlab.torch import nets
    with pytest.raises(ValueError, match="bias-free.*DeepNet"):
        nets.from_twolayer(net)
    with pytest.raises(ValueError, match="bias-free"):
        nets.twolayer_order(net)


def test_condensation_features_are_the_input_weights(net):
    np.testing.assert_array_equal(fl.analysis.features(net), net.W)
    C = fl.analysis.cosine_similarity(net)
    assert C.shape == (3, 3) and np.allclose(np.diag(C), 1.0)


def test_a_data_point_at_the_origin_is_never_a_surface_without_biases():
    """relu(W_j . 0) = 0 for every W_j: the point only adds a constant to the loss, and the
    exact flow runs as without it (it stopped as degenerate at t = 0 before): the same
    events, and the same parameters to the rounding of the sums over the points (they
    are vectorised, so one more point, even one that adds 0, regroups them)."""
    rng = np.random.default_rng(0)
    net = fl.TwoLayer(rng.normal(size=(3, 2)), rng.normal(size=3), "relu", bias=False)
    x = np.vstack([np.zeros(2), rng.normal(size=(20, 2))])
    y = np.cos(x.sum(axis=1)) + 0.3
    with_origin = fl.flow(net, x, y, 1.0, loss="sum", method="exact")
    without = fl.flow(net, x[1:], y[1:], 1.0, loss="sum", method="exact")
    assert with_origin.status == "finished" and len(with_origin.events) == len(without.events)
    ev, ev0 = with_origin.events, without.events          # (the data shift by one point)
    assert np.array_equal(ev.neuron, ev0.neuron) and np.array_equal(ev.point, ev0.point + 1)
    assert np.array_equal(ev.kind, ev0.kind) and np.array_equal(ev.side, ev0.side)
    np.testing.assert_allclose(ev.t, ev0.t, rtol=1e-12)
    np.testing.assert_allclose(with_origin.theta_final, without.theta_final, rtol=1e-12,
                               atol=1e-14)
    assert with_origin.loss[-1] - without.loss[-1] == pytest.approx(0.5 * y[0] ** 2, abs=1e-14)


def test_a_collapsing_neuron_in_1d_without_biases_stops_with_a_diagnosis():
    """In 1-d every data point is on the knot of relu(w x) when w reaches 0."""
    rng = np.random.default_rng(0)
    net = fl.TwoLayer(rng.normal(size=(3, 1)), rng.normal(size=3), "relu", bias=False)
    x = np.linspace(-1, 1, 21)[:, None]
    with pytest.warns(RuntimeWarning, match="degenerate"):
        sol = fl.flow(net, x, np.cos(x[:, 0]) + 0.3, 1.0, loss="sum", method="exact")
    assert sol.status == "degenerate" and "W_1 = 0: the neuron collapses" in sol.message
