"""flowlab.analysis.phase: scalings, RD, slopes and the flow to a target loss."""

import numpy as np
import pytest

import flowlab as fl
from flowlab.analysis.phase import (exponents, flow_to_loss, rd_slope, regime, relative_distance,
                                    scaled_init, scales, sign_change)


@pytest.mark.parametrize("m, g, gp", [(100, 0.5, 0.0), (1000, 1.75, -0.5), (37, 1.0, 0.25)])
def test_scales_have_the_exponents_of_luo_et_al(m, g, gp):
    b1, b2 = scales(m, g, gp)
    assert b1 * b2 == pytest.approx(m ** -g, rel=1e-13)
    assert b1 / b2 == pytest.approx(m ** -gp, rel=1e-13)
    assert exponents(m, 1.0, b1, b2) == pytest.approx((g, gp), abs=1e-13)
    # any alpha: (alpha, alpha^(1/2) beta) has the same exponents
    assert exponents(m, 7.0, b1 * 7 ** 0.5, b2 * 7 ** 0.5) == pytest.approx((g, gp), abs=1e-13)


def test_scaled_init_draws_the_stated_variances():
    net = scaled_init(20000, 2, 1.0, 0.5, activation="tanh", seed=3)
    b1, b2 = scales(20000, 1.0, 0.5)
    assert net.W.shape == (20000, 3) and net.activation == "tanh"
    assert np.std(net.W) == pytest.approx(b2, rel=0.01)       # 60000 draws: 0.3% noise
    assert np.std(net.a) == pytest.approx(b1, rel=0.02)
    same = scaled_init(20000, 2, 1.0, 0.5, activation="tanh", seed=3)
    assert np.array_equal(same.W, net.W)
    with pytest.raises(ValueError, match="width"):
        scales(1, 1.0, 0.0)


def test_relative_distance_and_regimes():
    W0 = np.array([[3.0, 4.0]])
    assert relative_distance(W0, W0 + [[0.0, 5.0]]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="W0` is zero"):
        relative_distance(np.zeros((2, 2)), np.ones((2, 2)))
    table = {(0.5, 0.0): "linear", (1.0, 0.0): "critical", (1.75, 0.0): "condensed",
             (1.75, 0.5): "condensed", (1.5, 0.5): "critical", (1.25, 0.5): "linear",
             (1.0, -0.5): "critical", (0.9, -0.5): "linear"}
    for (g, gp), name in table.items():
        assert regime(g, gp) == name, (g, gp)


def test_rd_slope_and_sign_change():
    m = np.array([10.0, 100.0, 1000.0])
    assert rd_slope(m, 3.0 * m ** -0.5) == pytest.approx((-0.5, np.log(3.0)), abs=1e-12)
    two_seeds = np.column_stack([2 * m ** 0.3, 5 * m ** 0.3])
    assert rd_slope(m, two_seeds)[0] == pytest.approx(0.3, abs=1e-12)
    assert np.isnan(rd_slope(m, [1.0, np.nan, np.nan])[0])
    assert sign_change([0.5, 1.0, 1.75], [-0.5, -0.1, 0.3]) == pytest.approx(1.1875)
    assert sign_change([0.5, 1.0], [0.2, 0.1]) is None
    assert sign_change([1.0, 0.5], [0.0, -0.2]) == 1.0


def test_flow_to_loss_stops_where_the_loss_meets_the_target():
    x = np.linspace(-0.5, 0.5, 4)[:, None]
    y = x[:, 0] ** 2
    net = scaled_init(8, 1, 1.0, 0.0, activation="tanh", seed=1)
    target = 0.05 * net.loss(x, y, "mean")
    r = flow_to_loss(net, x, y, target, t_first=1.0, rtol=1e-10, atol=1e-12)
    assert r.reached and r.sol.t_final >= r.t_star > 1.0            # continued at least once
    assert r.sol.loss_at(r.t_star) == pytest.approx(target, rel=1e-6)
    assert r.sol.loss_at(r.t_star * (1 - 1e-3)) > target
    capped = flow_to_loss(net, x, y, target, t_first=1.0, max_steps=3)
    assert not capped.reached and capped.sol.status == "max_steps"
    never = flow_to_loss(net, x, y, 1e-300, t_first=1.0, t_max=2.0)
    assert not never.reached and never.sol.t_final == 2.0


def _alpha_gd_reference(a, W, x, y, alpha, lr, steps):
    """Plain numpy gradient descent on f = (1/alpha) sum_k a_k relu(W_k . (x, 1)), mean loss
    (the model of Luo et al. 2021 with its alpha; slow and obviously correct)."""
    X = np.column_stack([x, np.ones(len(x))])
    n = len(y)
    for _ in range(steps):
        z = X @ W.T                                   # (n, m)
        h = np.maximum(z, 0.0)
        r = h @ a / alpha - y
        ga = h.T @ r / (n * alpha)
        gW = ((r[:, None] * (z > 0)) * a[None, :] / (n * alpha)).T @ X
        a, W = a - lr * ga, W - lr * gW
    return a, W


def test_alpha_one_is_the_same_relu_dynamics_for_any_alpha():
    """(a, W) -> (a, W)/sqrt(alpha) maps the alpha-model onto alpha = 1 with time t/alpha,
    so RD is the same: the reason flowlab takes alpha = 1 (docs/sweeps.md)."""
    rng = np.random.default_rng(0)
    m, alpha, lr, steps = 12, 9.0, 0.05, 400
    x = np.linspace(-0.5, 0.5, 4)
    y = x ** 2
    a0, W0 = rng.normal(0, 0.7, m), rng.normal(0, 0.4, (m, 2))
    a1, W1 = _alpha_gd_reference(a0, W0, x, y, alpha, lr, steps)
    s = alpha ** -0.5
    net = fl.TwoLayer(W0 * s, a0 * s, "relu")
    res = fl.train.gd(net, x[:, None], y, lr=lr / alpha, steps=steps, loss="mean",
                      record_every=steps)
    np.testing.assert_allclose(res.net.W, W1 * s, rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(res.net.a, a1 * s, rtol=1e-11, atol=1e-14)
    assert relative_distance(net.W, res.net.W) == pytest.approx(relative_distance(W0, W1),
                                                                rel=1e-11)
