import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowlab.analysis import (Quadrature, composite_gauss_legendre, gauss_legendre, monte_carlo,
                              quadrature, trapezoid, uniform_grid)


def _monomial_integral(p, lo, hi):
    return (hi ** (p + 1) - lo ** (p + 1)) / (p + 1)


@given(q=st.integers(1, 12), lo=st.floats(-3, 0), width=st.floats(0.1, 4), cells=st.integers(1, 4))
@settings(max_examples=40, deadline=None)
def test_gauss_legendre_exact_for_degree_2q_minus_1(q, lo, width, cells):
    hi = lo + width
    rule = gauss_legendre(q, (lo, hi), cells=cells)
    assert rule.points.shape == (q * cells,) and rule.weights.shape == (q * cells,)
    for p in range(2 * q):
        exact = _monomial_integral(p, lo, hi)
        assert rule.integrate(rule.points ** p) == pytest.approx(exact, rel=1e-12, abs=1e-12)


def test_gauss_legendre_box_is_the_tensor_product():
    rule = gauss_legendre((3, 4), [(-1, 2), (0, 1)], cells=(2, 1))
    assert rule.points.shape == (24, 2) and rule.dim == 2
    assert rule.volume == pytest.approx(3.0)
    assert rule.weights.sum() == pytest.approx(3.0, rel=1e-14)
    x, y = rule.points.T
    # x^5 y^7: degree 5 <= 2*3-1 in x, 7 <= 2*4-1 in y
    exact = _monomial_integral(5, -1, 2) * _monomial_integral(7, 0, 1)
    assert rule.integrate(x ** 5 * y ** 7) == pytest.approx(exact, rel=1e-13)


def test_box_with_one_dimension_keeps_two_dimensional_points():
    rule = gauss_legendre(5, [(-1, 1)])
    assert rule.points.shape == (5, 1)


def test_composite_rule_is_exact_for_products_of_relus():
    knots = np.array([-0.7, -0.1, 0.35, 0.8])
    rule = composite_gauss_legendre(knots, 2, domain=(-1, 1))
    assert rule.size == 2 * 5
    f = np.maximum(rule.points + 0.1, 0) * np.maximum(0.35 - rule.points, 0)
    # int_-0.1^0.35 (x + 0.1)(0.35 - x) dx = h^3 / 6 with h = 0.45
    assert rule.integrate(f) == pytest.approx(0.45 ** 3 / 6, rel=1e-14)


def test_composite_rule_clips_breaks_to_the_domain_and_drops_duplicates():
    rule = composite_gauss_legendre([-5.0, 0.0, 0.0, 0.5, 9.0], 3, domain=(-1, 1))
    assert rule.size == 3 * 3
    assert rule.points.min() > -1 and rule.points.max() < 1


def test_trapezoid_weights_are_yang_zhao_zhus():
    rule = trapezoid(5, (0.0, 1.0))
    h = 0.25
    np.testing.assert_allclose(rule.weights, [h / 2, h, h, h, h / 2])
    np.testing.assert_allclose(rule.points, np.linspace(0, 1, 5))
    assert rule.integrate(3 * rule.points + 1) == pytest.approx(2.5, rel=1e-15)


def test_uniform_grid_is_the_midpoint_rule():
    rule = uniform_grid((4, 2), [(0, 1), (0, 2)])
    assert rule.size == 8 and rule.weights.sum() == pytest.approx(2.0)
    x, y = rule.points.T
    assert rule.integrate(x + y) == pytest.approx(1.0 + 2.0, rel=1e-14)   # exact for linear


def test_monte_carlo_is_reproducible_and_converges():
    a = monte_carlo(20000, [(-1, 1), (0, 3)], seed=3)
    b = monte_carlo(20000, [(-1, 1), (0, 3)], seed=3)
    np.testing.assert_array_equal(a.points, b.points)
    assert np.all(a.points[:, 0] >= -1) and np.all(a.points[:, 1] <= 3)
    assert a.weights.sum() == pytest.approx(6.0)
    est = a.integrate(a.points[:, 0] ** 2)          # exact 2/3 * 3 = 2
    sd = 6.0 * np.std(a.points[:, 0] ** 2) / np.sqrt(a.size)
    assert abs(est - 2.0) < 5 * sd


def test_dispatcher_and_integrate_shapes():
    rule = quadrature("gauss", 6, (0, 1))
    assert isinstance(rule, Quadrature) and rule.rule == "gauss"
    vals = np.column_stack([rule.points, rule.points ** 2])
    np.testing.assert_allclose(rule.integrate(vals), [0.5, 1 / 3], rtol=1e-14)
    assert quadrature("monte_carlo", 10, (0, 1), seed=0).size == 10
    assert quadrature("trapezoid", 3).rule == "trapezoid"
    assert quadrature("uniform", 3).rule == "uniform"


@pytest.mark.parametrize("call, match", [
    (lambda: quadrature("simpson", 5), "unknown quadrature `rule`"),
    (lambda: gauss_legendre(0), "nodes"),
    (lambda: gauss_legendre(3, (1, 0)), "lo < hi"),
    (lambda: gauss_legendre(3, [(0, 1, 2)]), "domain"),
    (lambda: gauss_legendre((2, 3), (0, 1)), "one integer per dimension"),
    (lambda: trapezoid(1), "points"),
    (lambda: composite_gauss_legendre([0.0, 1.0], 2, domain=[(0, 1), (0, 1)]), "interval"),
    (lambda: gauss_legendre(3).integrate(np.ones(4)), "3 points"),
])
def test_bad_input_is_rejected_with_a_message(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
