import numpy as np
import pytest

import flowlab as fl
from flowlab._problem import Problem

from ..reference import adam_ref, gd_ref


@pytest.mark.parametrize("net", [
    fl.TwoLayer(np.random.default_rng(0).normal(size=(5, 2)), np.ones(5), "tanh"),
    fl.ReLU1D(np.random.default_rng(1).normal(size=5), np.ones(5)),
    fl.ReLU1D(np.random.default_rng(2).normal(size=5), np.ones(5), np.ones(5)),
])
@pytest.mark.parametrize("trainable", [None, "c"])
def test_gd_and_adam_match_reference_loops(net, trainable):
    if trainable == "c" and isinstance(net, fl.TwoLayer):
        trainable = "a"
    x = np.linspace(-1, 1, 23)
    y = np.sin(np.pi * x)
    prob = Problem(net, x, y, loss="mean", trainable=trainable)
    res = fl.train.gd(net, x, y, lr=0.05, steps=200, loss="mean", trainable=trainable,
                      record_every=50, record_params=True)
    ref = gd_ref(prob.grad, prob.u0, 0.05, 200)
    np.testing.assert_allclose(res.net.params()[prob.user_index], ref, rtol=1e-11, atol=1e-12)
    np.testing.assert_array_equal(res.iterations, [0, 50, 100, 150, 200])
    np.testing.assert_allclose(res.loss[-1], prob.loss(ref), rtol=1e-10)
    np.testing.assert_allclose(res.params[0], net.params(), rtol=0)
    res = fl.train.adam(net, x, y, lr=1e-2, steps=150, loss="mean", trainable=trainable)
    ref = adam_ref(prob.grad, prob.u0, 1e-2, 150)
    np.testing.assert_allclose(res.net.params()[prob.user_index], ref, rtol=1e-10, atol=1e-11)


def test_divergence_is_reported_not_hidden():
    net = fl.TwoLayer(np.ones((3, 2)), np.ones(3), "xtanh")
    x = np.linspace(-3, 3, 10)
    res = fl.train.gd(net, x, 10 * x, lr=10.0, steps=1000)
    assert "diverged" in res.stop_reason and "lr" in res.stop_reason


def test_train_result_round_trip(tmp_path):
    net = fl.init.he(4, seed=0)
    x = np.linspace(-1, 1, 9)
    res = fl.train.gd(net, x, x ** 2, lr=1e-2, steps=10, record_params=True)
    res.save(tmp_path / "r.npz")
    back = fl.train.TrainResult.load(tmp_path / "r.npz")
    np.testing.assert_array_equal(back.loss, res.loss)
    np.testing.assert_array_equal(back.params, res.params)
    assert back.net == res.net and back.method == "gd"


def test_bad_arguments():
    net = fl.init.he(4, seed=0)
    x = np.linspace(-1, 1, 9)
    with pytest.raises(ValueError, match="lr"):
        fl.train.gd(net, x, x, lr=0.0, steps=1)
    with pytest.raises(ValueError, match="steps"):
        fl.train.gd(net, x, x, lr=0.1, steps=-1)
    with pytest.raises(ValueError, match="beta1"):
        fl.train.adam(net, x, x, beta1=1.0)
