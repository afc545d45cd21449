import numpy as np
import pytest

import flowlab as fl
from flowlab import init

from .reference import relu1d_output, twolayer_parts


def test_relu1d_contract_attributes_and_packing():
    net = fl.ReLU1D([0.5, -0.25], [1.0, 2.0])
    assert net.w is None and net.b.dtype == np.float64 and net.width == 2
    np.testing.assert_array_equal(net.params(), [0.5, -0.25, 1.0, 2.0])
    assert net.groups() == {"b": slice(0, 2), "c": slice(2, 4)}
    net2 = fl.ReLU1D([0.5], [1.0], w=[2.0])
    np.testing.assert_array_equal(net2.params(), [0.5, 1.0, 2.0])
    assert net2.with_params([1.0, 2.0, 3.0]).w[0] == 3.0


def test_twolayer_contract_attributes_and_packing(rng):
    W = rng.normal(size=(4, 3))
    a = rng.normal(size=4)
    net = fl.TwoLayer(W, a, activation="xtanh")
    assert (net.width, net.input_dim, net.activation) == (4, 2, "xtanh")
    np.testing.assert_array_equal(net.params(), np.concatenate([W.ravel(), a]))
    p = net.unpack(net.params() * 2)
    np.testing.assert_array_equal(p["W"], 2 * W)
    assert net.with_params(net.params()) == net
    W[0, 0] = 99.0
    assert net.W[0, 0] != 99.0          # constructor arguments are copied


def test_relu1d_output_matches_reference(rng):
    b, c, w = rng.normal(size=(3, 7))
    x = rng.uniform(-2, 2, 50)
    x[:3] = b[:3]                        # points exactly on knots are inactive
    np.testing.assert_allclose(fl.ReLU1D(b, c)(x), relu1d_output(b, c, None, x), rtol=1e-14,
                               atol=1e-15)
    np.testing.assert_allclose(fl.ReLU1D(b, c, w)(x), relu1d_output(b, c, w, x), rtol=1e-14,
                               atol=1e-15)


@pytest.mark.parametrize("activation", fl.activations.activation_names())
def test_twolayer_output_and_features_match_reference(activation, rng):
    W = rng.normal(size=(6, 4))
    a = rng.normal(size=6)
    X = rng.normal(size=(300, 3))           # > one block of 256 points
    net = fl.TwoLayer(W, a, activation)
    _, _, (S, _, _) = twolayer_parts(W, a, activation, X)
    np.testing.assert_allclose(net.features(X), S, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(net(X), S @ a, rtol=1e-12, atol=1e-13)


def test_relu1d_equals_twolayer_relu(rng):
    b, c, w = rng.normal(size=(3, 5))
    x = rng.normal(size=40)
    tl = fl.TwoLayer(np.column_stack([w, -b]), c, "relu")
    np.testing.assert_allclose(fl.ReLU1D(b, c, w)(x), tl(x[:, None]), rtol=1e-14)


@pytest.mark.parametrize("bad, match", [
    (dict(b=[[1.0]], c=[1.0]), "1-dimensional"),
    (dict(b=[1.0, 2.0], c=[1.0]), "same shape"),
    (dict(b=[np.nan], c=[1.0]), "NaN or inf"),
    (dict(b=[], c=[]), "empty"),
    (dict(b=[1.0], c=[1.0], w=[1.0, 2.0]), "w=None"),
])
def test_relu1d_rejects_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        fl.ReLU1D(**bad)


def test_twolayer_rejects_bad_input():
    with pytest.raises(ValueError, match=r"\(n, d\+1\)"):
        fl.TwoLayer(np.ones((3, 1)), np.ones(3))
    with pytest.raises(ValueError, match="one entry per row"):
        fl.TwoLayer(np.ones((3, 2)), np.ones(2))
    with pytest.raises(ValueError, match="unknown activation"):
        fl.TwoLayer(np.ones((3, 2)), np.ones(3), "tanhh")
    with pytest.raises(ValueError, match="NaN or inf"):
        fl.TwoLayer(np.full((3, 2), np.inf), np.ones(3))
    net = fl.TwoLayer(np.ones((3, 3)), np.ones(3))
    with pytest.raises(ValueError, match=r"shape \(m, 2\)"):
        net(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"ravel"):
        fl.ReLU1D([0.0], [1.0])(np.ones((4, 1)))


def test_he_initialisation_statistics():
    net = init.he(200_000, seed=1)
    assert abs(net.c.var() - 2 / 200_000) < 0.02 * 2 / 200_000
    assert abs(net.b.var() - 2.0) < 0.02 * 2.0
    assert init.he(5, seed=1, train_w=True).w.tolist() == [1.0] * 5
    tl = init.he(5, seed=3, model="twolayer")
    r = init.he(5, seed=3)
    x = np.linspace(-2, 2, 9)
    np.testing.assert_allclose(tl(x), r(x), rtol=1e-15)


def test_small_gaussian_uses_the_variance():
    net = init.small_gaussian(100_000, 1, var=0.005 ** 2, seed=0)
    assert abs(net.W.std() - 0.005) < 1e-4 and abs(net.a.std() - 0.005) < 1e-4
    with pytest.raises(ValueError, match="var"):
        init.small_gaussian(3, 1, var=-1.0)


def test_xavier_bound_is_one_over_sqrt_width():
    net = init.xavier(400, 2, seed=0)
    r = 1 / np.sqrt(400)
    assert np.abs(net.W).max() <= r and np.abs(net.W).max() > 0.95 * r


def test_deterministic_initialisation_is_yang_zhao_zhu_eq12():
    n = 8
    net = init.deterministic_1d(n, activation="tanh")
    j = np.arange(1, n + 1)
    np.testing.assert_allclose(net.W[:, 0], n / 2)
    np.testing.assert_allclose(net.W[:, 1], n / 2 - j)           # (12): b_j = n/2 - j
    x = np.linspace(-1, 1, 11)
    centres = -1 + 2 * j / n                                       # (13): uniform grid
    np.testing.assert_allclose(net.features(x), np.tanh(n / 2 * (x[:, None] - centres)),
                               rtol=1e-14, atol=1e-15)


def test_uniform_density_initialisation():
    net = init.uniform_density(5000, 2, radius=2.0, gamma=3.0, seed=0)
    dirs = net.W[:, :2] / 3.0
    np.testing.assert_allclose(np.linalg.norm(dirs, axis=1), 1.0, rtol=1e-13)
    r = net.W[:, 2] / 3.0
    assert r.min() >= 0 and r.max() <= 2.0 and abs(r.mean() - 1.0) < 0.05
    ang = np.arctan2(dirs[:, 1], dirs[:, 0])
    hist, _ = np.histogram(ang, bins=8, range=(-np.pi, np.pi))
    assert hist.min() > 0.8 * hist.mean()
