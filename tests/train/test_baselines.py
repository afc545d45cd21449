"""Baselines of Ainsworth & Shin 2021, Sec. 5.2 (LSQ, LS/GD, LS/Adam, GD, Adam) against plain Python
loops."""

import numpy as np
import pytest

import flowlab as fl
from flowlab.train import baselines as bl

from ..reference import min_norm_lstsq, relu1d_loss_grad


def _data():
    x = np.linspace(-1, 1, 40)
    return x, np.sin(np.pi * x)


def _lsq_ref(x, y, b):
    A = np.maximum(x[:, None] - b[None, :], 0.0)
    c = min_norm_lstsq(A, y)
    r = A @ c - y
    return c, 0.5 * (r @ r) / x.size


def test_lsq_is_the_minimum_norm_fit_at_the_initial_knots():
    x, y = _data()
    net = fl.ReLU1D([-2.0, -1.5, 0.1, 0.1, 3.0], np.ones(5))   # all-active pair, tie, dead
    res = bl.lsq(net, x, y, loss="mean")
    c, L = _lsq_ref(x, y, net.b)
    np.testing.assert_allclose(res.net.c, c, atol=1e-12)
    assert res.net.c[-1] == 0.0 and np.array_equal(res.net.b, net.b)
    assert res.loss.tolist() == pytest.approx([L], rel=1e-12)
    assert res.method == "lsq" and res.iterations.tolist() == [0]


@pytest.mark.parametrize("method", ["lsgd", "lsadam"])
def test_hybrid_methods_match_a_plain_loop(method):
    x, y = _data()
    net = fl.init.he(6, seed=4)
    steps, lr = 40, 0.05
    b = net.b.copy()
    m1, m2 = np.zeros(6), np.zeros(6)
    hist = []
    for t in range(steps + 1):
        c, L = _lsq_ref(x, y, b)
        hist.append(L)
        if t == steps:
            break
        g = relu1d_loss_grad(b, c, None, x, y, "mean")[1][:6]
        if method == "lsgd":
            b = b - lr * g
        else:
            m1 = 0.9 * m1 + 0.1 * g
            m2 = 0.999 * m2 + 0.001 * g * g
            b = b - lr * (m1 / (1 - 0.9 ** (t + 1))) / (np.sqrt(m2 / (1 - 0.999 ** (t + 1))) + 1e-8)
    res = bl.run_baseline(method, net, x, y, steps=steps, lr=lr, record_params=True)
    assert res.method == method and res.loss_kind == "mean"
    np.testing.assert_allclose(res.loss, hist, rtol=1e-9)
    np.testing.assert_allclose(res.net.b, b, rtol=1e-10)
    np.testing.assert_allclose(res.net.c, c, rtol=1e-8, atol=1e-10)
    assert res.params.shape == (steps + 1, 12)
    assert res.loss[0] == pytest.approx(bl.lsq(net, x, y, loss="mean").loss[0], rel=1e-12)


def test_run_baseline_defaults_and_target():
    x, y = _data()
    net = fl.init.he(5, seed=2)
    ref = fl.train.gd(net, x, y, lr=1e-3, steps=3000, loss="mean")
    target = ref.loss[1234]
    res = bl.run_baseline("gd", net, x, y, steps=3000, target_loss=target)
    assert res.info["lr"] == 1e-3 and res.loss_kind == "mean"
    np.testing.assert_allclose(res.loss, ref.loss, rtol=1e-13)
    k = res.info["target_reached_at"]
    assert k is not None and k <= 1234
    assert res.loss[k] <= target and np.all(res.loss[:k] > target)
    res = bl.run_baseline("adam", net, x, y, steps=10, target_loss=1e-12)
    assert res.info["target_reached_at"] is None and res.info["beta2"] == 0.999
    res = bl.run_baseline("lsgd", net, x, y, steps=20, target_loss=0.0)
    assert res.info["target_reached_at"] is None
    res = bl.run_baseline("lsadam", net, x, y, steps=50, target_loss=1.0, record_every=10)
    assert res.info["target_reached_at"] == 0
    assert res.iterations.tolist() == [0, 10, 20, 30, 40, 50]
    assert bl.run_baseline("lsq", net, x, y).method == "lsq"


def test_bad_arguments():
    x, y = _data()
    with pytest.raises(ValueError, match="`name`"):
        bl.run_baseline("sgd", fl.init.he(3, seed=0), x, y)
    with pytest.raises(ValueError, match="`steps`"):
        bl.run_baseline("lsgd", fl.init.he(3, seed=0), x, y)
    with pytest.raises(TypeError, match="model of Ainsworth & Shin 2021"):
        bl.lsq(fl.ReLU1D([0.0], [1.0], [1.0]), x, y, loss="mean")
    with pytest.raises(TypeError, match="model of Ainsworth & Shin 2021"):
        bl.run_baseline("gd", fl.init.he(3, seed=0, model="twolayer"), x, y, steps=1)
    with pytest.raises(ValueError, match="`lr`"):
        bl.ls_gd(fl.init.he(3, seed=0), x, y, lr=-1.0, steps=1, loss="mean")
    with pytest.raises(ValueError, match="`y`"):
        bl.lsq_coefficients(x, y[:3], [0.0])
