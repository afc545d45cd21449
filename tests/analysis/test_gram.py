import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import linalg

import flowlab as fl
from flowlab.analysis import (adaptive_biases, composite_gauss_legendre, fit_decay, fit_power_law,
                              gauss_legendre, gram_spectrum, linear_flow, linear_flow_from_data,
                              relu_gram_1d, relu_gram_factor_1d, relu_gram_quadrature,
                              relu_kernel_unit, relu_load_1d)
from flowlab.analysis.gram import extreme_eigenvalues
from tests.reference import relu_gram_gauss_legendre, relu_gram_rational


def _signed_neurons(rng, n, zeros=3):
    w = rng.normal(size=n)
    w[:zeros] = 0.0
    w[zeros:zeros + 3] = 1.0
    w[zeros + 3:zeros + 5] = -1.0
    return rng.normal(size=n), w


def _max_rel(G, R):
    pos = R > 0
    assert np.array_equal(G > 0, pos), "exact and reference disagree on which entries vanish"
    return np.max(np.abs(G[pos] - R[pos]) / R[pos])


# -- exact 1-d Gram matrix ----------------------------------------------------------------


@pytest.mark.parametrize("seed, interval", [(0, (-1.0, 1.0)), (1, (-1.3, 0.7)), (2, (0.0, 3.0)),
                                            (3, (-2.0, -0.5))])
def test_exact_gram_matches_200_point_gauss_legendre_per_cell(seed, interval):
    """Issue acceptance: to 1e-13 relative, every entry, weights of any sign and zero."""
    rng = np.random.default_rng(seed)
    b, w = _signed_neurons(rng, 24)
    G = relu_gram_1d(b, w, interval)
    Q = relu_gram_gauss_legendre(b, w, interval, nodes=200)
    assert _max_rel(G, Q) <= 1e-13
    assert np.array_equal(G, G.T)


@given(st.integers(0, 10_000))
@settings(max_examples=25, deadline=None)
def test_exact_gram_matches_rational_arithmetic(seed):
    rng = np.random.default_rng(seed)
    b, w = _signed_neurons(rng, 9, zeros=1)
    b[4] = b[3] * w[4] / w[3] + 1e-9          # two knots 1e-9 apart: tiny overlaps
    G = relu_gram_1d(b, w, (-1.0, 1.0))
    assert _max_rel(G, relu_gram_rational(b, w, (-1.0, 1.0))) <= 1e-14


def test_unit_weights_on_minus_one_one_give_zhaos_kernel():
    b = np.linspace(-1.0, 0.9, 40)
    K = relu_kernel_unit(b[:, None], b[None, :])
    np.testing.assert_allclose(relu_gram_1d(b), K, rtol=1e-12)
    np.testing.assert_array_equal(relu_gram_1d(b), relu_gram_1d(b, np.ones_like(b)))


def test_special_neurons():
    G = relu_gram_1d([0.5, -0.5, 2.0, -3.0], [0.0, 0.0, 1.0, -1.0], (-1.0, 1.0))
    # w = 0: the constants relu(-0.5) = 0 and relu(0.5) = 0.5; knots outside [-1, 1]:
    # relu(x - 2) = 0 and relu(3 - x) = 3 - x on the whole interval
    assert np.all(G[0] == 0) and np.all(G[2] == 0)
    assert G[1, 1] == pytest.approx(0.25 * 2.0, rel=1e-15)
    assert G[1, 3] == pytest.approx(0.5 * 6.0, rel=1e-15)             # int 0.5 (3 - x) dx
    assert G[3, 3] == pytest.approx((4.0 ** 3 - 2.0 ** 3) / 3.0, rel=1e-15)


def test_bad_gram_input():
    with pytest.raises(ValueError, match="shape"):
        relu_gram_1d([0.0, 1.0], [1.0])
    with pytest.raises(ValueError, match="lo < hi"):
        relu_gram_1d([0.0], None, (1.0, -1.0))
    with pytest.raises(ValueError, match="\\[-1, 1\\]"):
        relu_kernel_unit(2.0, 0.0)


# -- factor, spectra, condition -----------------------------------------------------------


def test_factor_reproduces_the_gram_matrix_and_its_small_eigenvalues(rng):
    b, w = _signed_neurons(rng, 30)
    R = relu_gram_factor_1d(b, w, (-1.0, 1.0))
    G = relu_gram_1d(b, w, (-1.0, 1.0))
    np.testing.assert_allclose(R.T @ R, G, rtol=1e-12, atol=1e-14 * np.abs(G).max())
    s = gram_spectrum(factor=R)
    e = gram_spectrum(G)
    np.testing.assert_allclose(s.eigenvalues[:10], e.eigenvalues[:10], rtol=1e-11)
    for k in range(5):          # eigenvectors agree up to sign
        assert abs(abs(s.eigenvectors[:, k] @ e.eigenvectors[:, k]) - 1) < 1e-9


def test_extreme_eigenvalues_beyond_the_reach_of_eigh():
    """Random biases with two knots 1e-7 apart: cond(G) ~ 1e19, far past float64's eps^-1."""
    rng = np.random.default_rng(5)
    b = rng.uniform(-1, 1, 120)
    b[1] = b[0] + 1e-7
    R = relu_gram_factor_1d(b)
    big, small = extreme_eigenvalues(R)
    sv = linalg.svd(R, compute_uv=False)
    assert big == pytest.approx(sv[0] ** 2, rel=1e-10)
    assert small == pytest.approx(sv[-1] ** 2, rel=1e-6)
    assert big / small > 1e17
    # the two almost equal neurons differ by a ramp of height 1e-7: lambda_min <= its norm^2
    assert small <= (1e-7) ** 2 * (1 - b[1]) * 1.0001


def test_uniform_bias_spectrum_decays_like_k_to_the_minus_4():
    """Issue acceptance: exponent -4 +- 0.2 at n = 1000, uniform biases (Zhao 2023, Lemma)."""
    n = 1000
    lam = gram_spectrum(relu_gram_1d(-1 + 2 * np.arange(n) / n), vectors=False).eigenvalues
    fit = fit_decay(lam, 10, n // 2)
    assert abs(fit.exponent + 4) <= 0.2
    assert fit.ci[0] < fit.exponent < fit.ci[1]


def test_condition_number_grows_at_least_like_n3_over_log_n():
    """Zhao 2023, Theorem, i.i.d. uniform biases: median cond >= n^3/log n and the ratio grows."""
    rng = np.random.default_rng(11)
    ns = np.array([25, 50, 100, 200])
    med = []
    for n in ns:
        c = [np.divide(*extreme_eigenvalues(relu_gram_factor_1d(rng.uniform(-1, 1, n))))
             for _ in range(5)]
        med.append(np.median(c))
    med = np.array(med)
    assert np.all(med >= ns ** 3 / np.log(ns))
    assert fit_power_law(ns, med * np.log(ns) / ns ** 3).exponent > 0


def test_fit_power_law_recovers_exponents():
    x = np.arange(1, 50, dtype=float)
    fit = fit_power_law(x, 3.0 * x ** -2.5)
    assert fit.exponent == pytest.approx(-2.5, abs=1e-12) and fit.prefactor == pytest.approx(3.0)
    rng = np.random.default_rng(0)
    noisy = fit_power_law(x, 3.0 * x ** -2.5 * np.exp(0.1 * rng.normal(size=x.size)))
    assert noisy.ci[0] < -2.5 < noisy.ci[1]
    np.testing.assert_allclose(noisy(x[:2]), noisy.prefactor * x[:2] ** noisy.exponent)
    with pytest.raises(ValueError, match="x > 0 and y > 0"):
        fit_power_law(x, -x)
    with pytest.raises(ValueError, match="k_max"):
        fit_decay(np.array([1.0, 0.5, 0.1, 0.0, -1e-17]), 1, 5)


def test_gram_spectrum_input_checks():
    with pytest.raises(ValueError, match="exactly one"):
        gram_spectrum()
    with pytest.raises(ValueError, match="symmetric"):
        gram_spectrum(np.array([[1.0, 1.0], [0.0, 1.0]]))
    sp = gram_spectrum(np.diag([3.0, 1.0, 0.5]))
    assert sp.condition == pytest.approx(6.0) and sp.rank(0.9) == 2


# -- quadrature Gram matrices, loads, adaptive biases ------------------------------------


def test_quadrature_gram_in_two_dimensions_reduces_to_one_dimension():
    """Directions (1, 0): int int relu(x - b_i) relu(x - b_j) dx dy = 2 G_1d on [-1, 1]^2."""
    b = np.array([-0.5, 0.0, 0.5])
    q = gauss_legendre(3, [(-1, 1), (-1, 1)], cells=4)          # cells aligned with the knots
    G2 = relu_gram_quadrature(np.tile([1.0, 0.0], (3, 1)), b, q)
    np.testing.assert_allclose(G2, 2 * relu_gram_1d(b), rtol=1e-13)
    with pytest.raises(ValueError, match="dimension"):
        relu_gram_quadrature(np.ones((3, 3)), b, q)


def test_load_vector_is_exact_for_polynomials(rng):
    b, w = _signed_neurons(rng, 10)
    f = relu_load_1d(lambda x: 1 + x - 2 * x ** 2, b, w, (-1.0, 1.0), nodes=3)
    q = composite_gauss_legendre(b[w != 0] / w[w != 0], 20, (-1.0, 1.0))
    A = np.maximum(np.outer(q.points, w) - b, 0.0)
    np.testing.assert_allclose(f, A.T @ (q.weights * (1 + q.points - 2 * q.points ** 2)),
                               rtol=1e-12, atol=1e-15)


def test_adaptive_biases_for_arctan_match_the_closed_form():
    n = 50
    b = adaptive_biases(n, lambda x: 25 / (1 + 625 * x ** 2))
    lo, hi = np.arctan(-25), np.arctan(25)
    exact = np.tan(lo + (hi - lo) * np.arange(n) / (n - 1)) / 25
    np.testing.assert_allclose(b, exact, atol=1e-8)
    assert np.all(np.diff(b) > 0)
    with pytest.raises(ValueError, match="integrates to 0"):
        adaptive_biases(5, lambda x: 0 * x)


# -- linear gradient flow in the eigenbasis ----------------------------------------------


def test_linear_flow_closed_form_on_a_diagonal_system():
    lf = linear_flow(np.diag([2.0, 0.5, 0.0]), [2.0, 1.0, 3.0], [1.0, -1.0, 0.5], offset=0.0)
    t = 0.7
    expect = [1.0 * np.exp(-2 * t) + (1 - np.exp(-2 * t)),
              -np.exp(-0.5 * t) + 2 * (1 - np.exp(-0.5 * t)), 0.5 + 3 * t]
    np.testing.assert_allclose(lf.coefficients(t), expect, rtol=1e-14)
    np.testing.assert_allclose(lf.mode_times, [0.5, 2.0, np.inf])
    a = np.array(expect)
    assert lf.loss(t) == pytest.approx(0.5 * a @ np.diag([2.0, 0.5, 0.0]) @ a - a @ [2, 1, 3])
    with pytest.raises(ValueError, match="offset"):
        linear_flow(np.eye(2), [1.0, 1.0], [0.0, 0.0]).loss(1.0)


@pytest.mark.parametrize("kind, loss", [("relu1d", "sum"), ("twolayer", "mean")])
def test_linear_flow_matches_fl_flow_with_frozen_features(kind, loss):
    """Issue acceptance: closed form = fl.flow(trainable=output weights) to 1e-9 relative."""
    x = np.linspace(-1.0, 1.0, 60)
    y = np.arctan(5 * x)
    rng = np.random.default_rng(4)
    if kind == "relu1d":
        net, group = fl.ReLU1D(np.linspace(-1, 0.8, 8), rng.normal(size=8), rng.normal(size=8)), "c"
    else:
        net, group = fl.init.xavier(8, 1, activation="tanh", seed=1, bound=2.0), "a"
    T = 3.0
    sol = fl.flow(net, x, y, T, loss=loss, method="Radau", trainable=group, rtol=1e-12,
                  atol=1e-14)
    lf = linear_flow_from_data(net, x, y, loss=loss)
    ts = np.linspace(0.0, T, 7)
    a_flow = sol.theta_at(ts)[:, net.groups()[group]]
    a_lin = lf.coefficients(ts)
    rel = np.linalg.norm(a_flow - a_lin, axis=1) / np.linalg.norm(a_lin, axis=1)
    assert rel.max() <= 1e-9
    np.testing.assert_allclose(lf.loss(ts), sol.loss_at(ts), rtol=1e-9)
