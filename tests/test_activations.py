import math

import numpy as np
import pytest

from flowlab.activations import ACTIVATIONS, activation_names, get_activation
from flowlab._kernels import activations as ka
from flowlab._kernels import vecmath

from .reference import act_ref

NAMES = activation_names()


def test_registry_lists_every_seed_activation():
    assert set(NAMES) == {"relu", "tanh", "sigmoid", "softplus", "xtanh", "x2tanh", "elu",
                          "cos", "gelu", "swish", "erf"}


def test_unknown_activation_lists_valid_names():
    with pytest.raises(ValueError, match="choose one of: relu, tanh"):
        get_activation("tahn")
    with pytest.raises(TypeError):
        get_activation(3)


@pytest.mark.parametrize("name", NAMES)
def test_values_and_derivatives_match_numpy_reference(name):
    z = np.concatenate([np.linspace(-30, 30, 2001), np.logspace(-12, 2, 200),
                        -np.logspace(-12, 2, 200), [0.0, -0.0, 1e-300, -1e-300]])
    v, d1, d2 = get_activation(name).evaluate(z)
    rv, rd1, rd2 = act_ref(name, z)
    for got, ref in ((v, rv), (d1, rd1), (d2, rd2)):
        np.testing.assert_allclose(got, ref, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", NAMES)
def test_derivatives_match_central_differences(name):
    act = get_activation(name)
    z = np.array([-2.3, -0.7, 0.31, 1.1, 2.9])
    h = 1e-6
    fd1 = (act(z + h) - act(z - h)) / (2 * h)
    fd2 = (act.derivative(z + h) - act.derivative(z - h)) / (2 * h)
    np.testing.assert_allclose(act.derivative(z), fd1, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(act.derivative(z, 2), fd2, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", [n for n in NAMES if ACTIVATIONS[n].p is not None])
def test_multiplicity_from_derivatives_at_zero(name):
    """Definition 1 of Zhou et al. 2022: sigma^(s)(0) = 0 for s < p and sigma^(p)(0) != 0.

    The kernels give the first two derivatives; the p-th derivative for p = 3 is
    the central difference of sigma''.  The leading coefficient sigma^(p)(0)/p!
    is checked against the slope of (sigma(h) - sigma(0)) / h^p as h -> 0.
    """
    act = get_activation(name)
    p = act.p
    v0, d1, d2 = (float(a) for a in act.evaluate(np.array(0.0)))
    h = 1e-4
    d3 = float((act.derivative(h, 2) - act.derivative(-h, 2)) / (2 * h))
    derivs = [d1, d2, d3]
    for s in range(1, p):
        assert abs(derivs[s - 1]) < 1e-12, (name, s, derivs[s - 1])
    assert abs(derivs[p - 1]) > 1e-3
    np.testing.assert_allclose(derivs[p - 1] / math.factorial(p), act.taylor, rtol=1e-6)
    for hh in (1e-3, 1e-4):
        ratio = (float(act(hh)) - v0) / hh ** p
        np.testing.assert_allclose(ratio, act.taylor, rtol=20 * hh)


def test_relu_has_no_multiplicity_and_zero_derivative_at_zero():
    act = get_activation("relu")
    assert act.p is None
    v, d1, d2 = act.evaluate(np.array([0.0, -0.0]))
    assert np.all(d1 == 0.0) and np.all(v == 0.0)


@pytest.mark.parametrize("name", NAMES)
def test_block_and_scalar_kernels_agree(name):
    code = get_activation(name).code
    z = np.random.default_rng(0).normal(0.0, 5.0, 1000)
    z[:4] = [0.0, -0.0, 40.0, -800.0]
    v = np.empty_like(z)
    d = np.empty_like(z)
    w = np.empty_like(z)
    ka.act_block(code, z, z.size, v, d, w)
    ref = np.array([ka.act(code, zi)[:2] for zi in z])
    np.testing.assert_allclose(v, ref[:, 0], rtol=4e-16, atol=1e-300)
    np.testing.assert_allclose(d, ref[:, 1], rtol=4e-16, atol=1e-300)


def test_vectorised_exp_family_is_accurate_over_the_float_range():
    u = -np.concatenate([np.logspace(-300, np.log10(700), 20000), [0.0]])
    e1 = np.array([vecmath.expm1_neg(x) for x in u])
    e = np.array([vecmath.exp_neg(x) for x in u])
    np.testing.assert_allclose(e1, np.expm1(u), rtol=5e-16, atol=0)
    np.testing.assert_allclose(e, np.exp(u), rtol=5e-16, atol=0)
    z = np.concatenate([np.logspace(-300, 3, 20000), -np.logspace(-300, 3, 20000)])
    t = np.array([vecmath.tanh_fast(x) for x in z])
    np.testing.assert_allclose(t, np.tanh(z), rtol=5e-16, atol=0)
    p = np.empty_like(u)
    s = np.empty_like(u)
    vecmath.expm1_parts(u, u.size, p, s)
    np.testing.assert_allclose(s * p + (s - 1.0), np.expm1(u), rtol=5e-16, atol=0)
