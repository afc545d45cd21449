"""Plateau analysis of Ainsworth & Shin 2021 (Sec. 3, Appendices A, B, D, F)."""

import numpy as np
import pytest

import flowlab as fl
from flowlab.analysis import plateau as pl


def _brute_levels(b, x):
    return np.array([np.sum(b < xi) for xi in x])


def test_activation_counts_and_macroscopic_data_match_brute_force(rng):
    b = rng.normal(0, 0.6, 7)
    net = fl.ReLU1D(b, rng.normal(size=7))
    x = np.round(rng.uniform(-1, 1, 60), 2)
    x[:3] = b[:3]                                      # points on knots: not activated
    y = np.cos(3 * x)
    lev = _brute_levels(b, x)
    np.testing.assert_array_equal(pl.activation_counts(net, x), np.bincount(lev, minlength=8))
    md = pl.macroscopic_data(net, x, y)
    for l in range(8):
        sel = lev == l
        if sel.any():
            np.testing.assert_allclose(md.mu[l], x[sel].mean(), rtol=1e-14)
            np.testing.assert_allclose(md.ybar[l], y[sel].mean(), rtol=1e-14)
            np.testing.assert_allclose(md.sigma2[l], x[sel].var(), rtol=1e-12, atol=1e-15)
        else:
            assert np.isnan(md.mu[l])


@pytest.mark.parametrize("pinned", [None, [False, True, False, False, True]])
def test_lemma_a2_matrix_shares_singular_values_with_the_velocity_matrix(pinned, rng):
    """A = [B^T C^T] = Phi M (Appendix A): equal non-zero singular values."""
    net = fl.ReLU1D(rng.normal(0, 0.5, 5), rng.normal(size=5))
    x = np.linspace(-1, 1, 40)
    M = pl.matrix_M(net, x, pinned)
    A = pl.velocity_matrix(net, x, pinned)
    sm = np.linalg.svd(M, compute_uv=False)
    sa = np.linalg.svd(A, compute_uv=False)
    k = min(sm.size, sa.size)
    np.testing.assert_allclose(np.sort(sm)[::-1][:k], np.sort(sa)[::-1][:k], rtol=1e-10,
                               atol=1e-12 * sa.max())


def test_q0_is_constant_within_a_stage_and_theorem31_bounds_hold():
    x = np.linspace(-1, 1, 30)
    y = np.sin(np.pi * x)
    sol = fl.flow(fl.init.he(5, seed=2), x, y, 50.0, method="exact", progress=False)
    th = pl.theorem31(sol, nodes=2)
    assert th.violation_upper <= 1e-8 and th.violation_lower <= 1e-8
    # the V-perp part of the residual does not move within a segment
    seg = th.segment
    k = np.argmax(np.bincount(seg))
    idx = np.flatnonzero(seg == k)
    start = th.segment_start[k]
    mask = pl.declared_activity(sol, start)
    pins = pl.pinned_at(sol, start)
    qs = [pl.q0(sol.net0.with_params(sol.theta_at(t_)), x, y, "sum", pins, mask)
          for t_ in th.t[idx[[1, len(idx) // 2, -1]]]]
    np.testing.assert_allclose(qs, qs[0], rtol=1e-8, atol=1e-12)
    assert np.all(th.loss[idx] >= th.q0[idx] - 1e-10)


def test_stationarity_residual_and_least_squares_lines_at_a_stationary_point():
    x = np.linspace(-1, 1, 60)
    y = np.sin(2 * x) + 0.3 * x ** 2
    part = np.array([-1.0, -0.45, 0.1, 0.52, 1.0])
    net = pl.fully_trained_network(x, y, part)
    assert np.linalg.norm(net.gradient(x, y)) <= 1e-9 * np.abs(net.params()).max()
    r = pl.stationarity_residual(net, x, y)
    assert r.size and np.max(np.abs(r)) <= 1e-8 * np.abs(net.params()).max()
    lines = pl.least_squares_lines(net, x, y)
    assert lines and max(ln["difference"] for ln in lines) <= 1e-8 * np.abs(net.params()).max()
    start = fl.init.he(6, seed=0)
    assert np.max(np.abs(pl.stationarity_residual(start, x, y))) > 1e-3


def test_fully_trained_network_as_printed_puts_knots_on_data_points():
    x = np.linspace(-1, 1, 41)
    y = np.abs(np.sin(3 * x))
    part = np.array([-1.0, -0.33, 0.21, 1.0])
    net = pl.fully_trained_network(x, y, part, knot_on_point=True)
    on_point = np.isin(net.b, x)
    assert on_point.any() and net.width <= 2 * 3
    g = net.gradient(x, y)
    n = net.width
    # only the b-derivatives of knots sitting on data points are non-zero (relu'(0) = 0)
    assert np.all(np.abs(g[:n][~on_point]) <= 1e-9) and np.all(np.abs(g[n:]) <= 1e-9)
    assert np.abs(g[:n][on_point]).max() > 1e-6


def test_plateau_detector_on_a_staircase():
    t = np.logspace(-1, 8, 4000)
    # two drops (around 1e1 and 1e5), flat in between and after
    loss = 1.0 / (1 + (t / 10) ** 2) + 0.1 / (1 + (t / 1e5) ** 2) + 0.01
    found = pl.plateaus(t, loss)
    assert len(found) == 2
    assert found[0].start < 1e3 < found[0].end < 1e5 and found[0].drop_after > 0.5
    assert found[1].start > 1e5
    assert pl.plateaus(t, 1.0 / (1.0 + t)) == []


def test_bad_input():
    net = fl.ReLU1D([0.0], [1.0], w=[2.0])
    with pytest.raises(ValueError, match="w = 1"):
        pl.macroscopic_data(net, [0.5], [1.0])
    with pytest.raises(TypeError, match="ReLU1D"):
        pl.activation_counts(fl.TwoLayer(np.ones((1, 2)), [1.0], "relu"), [0.5])
    with pytest.raises(ValueError, match="increasing"):
        pl.fully_trained_network([0.0, 0.5], [1.0, 2.0], [1.0, 0.0])
    with pytest.raises(ValueError, match="cover"):
        pl.fully_trained_network([0.0, 2.5], [1.0, 2.0], [0.0, 1.0])
