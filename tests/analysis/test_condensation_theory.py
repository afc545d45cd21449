"""Direction field of a test neuron, leading-order lines (Zhou et al. 2022, Secs. 4.4, 5)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flowlab as fl
from flowlab.activations import get_activation
from flowlab.analysis import (direction_field, field_lines, nearest_line_angles, neuron_velocity,
                              predicted_lines)
from tests.reference import neuron_velocity_loops

SMOOTH = ["tanh", "sigmoid", "softplus", "xtanh", "x2tanh", "gelu"]


@pytest.mark.parametrize("act", SMOOTH + ["relu"])
def test_velocity_matches_reference_and_the_gradient(act, rng):
    """Zhou et al. 2022, Sec. 4.4: a neuron with a_j = 1 moves with the field, -dL/dw_j (mean
    loss)."""
    x = rng.uniform(-1, 1.5, (12, 2))
    y = rng.normal(size=12)
    W = rng.normal(size=(4, 3)) * 0.7
    net = fl.TwoLayer(W, np.array([1.0, -0.5, 2.0, 0.3]), act)
    e = net(x) - y
    dsig = get_activation(act).derivative
    vel = neuron_velocity(W, x, e, act)
    for j in range(4):
        ref = neuron_velocity_loops(W[j], x, e, lambda z: float(dsig(np.array([z]))[0]))
        np.testing.assert_allclose(vel[j], ref, rtol=1e-12, atol=1e-15)
    g = net.gradient(x, y, loss="mean")[: W.size].reshape(W.shape)
    np.testing.assert_allclose(-g, net.a[:, None] * vel, rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(neuron_velocity(W[0], x, e, act), vel[0])


def test_direction_field_grid():
    x = np.linspace(-1, 1.5, 10)
    e = np.cos(x)
    fld = direction_field(x, e, "xtanh", extent=0.2, points=5)
    assert fld.U.shape == fld.V.shape == (5, 5)
    k = (2, 4)
    np.testing.assert_allclose([fld.U[k], fld.V[k]],
                               neuron_velocity([fld.w[k[1]], fld.b[k[0]]], x, e, "xtanh"))


def test_p1_line_is_the_residual_moment(rng):
    x = rng.uniform(-4, 2, (30, 5))
    e = rng.normal(size=30)
    pred = predicted_lines(x, e, "tanh")
    v = np.hstack([x, np.ones((30, 1))]).T @ e
    assert pred.case == "p=1" and pred.n_lines == 1
    assert nearest_line_angles(pred.lines, v[None, :])[0] < 1e-10
    # the exact field at a small radius is nearly constant, along -v
    omega = 1e-4 * rng.normal(size=(3, 6))
    vel = neuron_velocity(omega, x, e, "tanh")
    assert np.all(nearest_line_angles(vel, pred.lines) < 1e-3)


def test_p2_lines_are_eigenvectors(rng):
    """For p = 2 the leading-order field is linear, -c M omega, M = sum e_i x~_i x~_i^T."""
    x = rng.uniform(-1, 1.5, 20)
    e = rng.normal(size=20)
    X = np.column_stack([x, np.ones(20)])
    M = (X * e[:, None]).T @ X
    vecs = np.linalg.eigh(M)[1].T
    pred = predicted_lines(x, e, "xtanh")
    assert pred.n_lines == 2 and pred.n_complex_pairs == 0
    assert np.all(nearest_line_angles(pred.lines, vecs) < 1e-9)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), act=st.sampled_from(["tanh", "xtanh", "x2tanh", "sigmoid"]))
def test_field_lines_match_the_prediction_near_the_origin(seed, act):
    """Zhou et al. 2022, Prop. 1, Case 2: the real roots are the field's lines at leading order."""
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-1, 1.5, 25))
    e = rng.normal(size=25)
    pred = predicted_lines(x, e, act)
    p = get_activation(act).p
    assert pred.n_lines + 2 * pred.n_complex_pairs == p
    lead = p * get_activation(act).taylor
    for u in pred.lines:       # each predicted line is invariant for the leading-order field
        z = u[0] * x + u[1]
        vel = -lead * (np.column_stack([x, np.ones(25)]) * (e * z ** (p - 1))[:, None]).sum(0)
        assert abs(u[0] * vel[1] - u[1] * vel[0]) <= 1e-9 * (np.abs(vel).max() + 1e-300)
    fld = field_lines(x, e, act, radius=1e-3)
    gaps = np.diff(np.r_[pred.angles, pred.angles[:1] + 180])
    well_separated = pred.n_lines < 2 or gaps.min() > 2
    if well_separated:
        assert fld.n_lines == pred.n_lines
        if pred.n_lines:
            assert np.all(nearest_line_angles(pred.lines, fld.lines) < 0.05)


def test_the_b_axis_is_a_root_when_sum_e_x_vanishes():
    """The leading coefficient of the polynomial in s = b/w is -sum e_i x_i; when it is 0
    the line w = 0 solves G(w, b) = 0 and must be reported."""
    x = np.array([-1.0, 0.5, 2.0])
    e = np.array([1.0, 2.0, 0.0])
    assert np.dot(e, x) == 0.0
    pred = predicted_lines(x, e, "xtanh")
    assert pred.n_lines == 2
    assert np.any(nearest_line_angles([[0.0, 1.0]], pred.lines) < 1e-12)
    fld = field_lines(x, e, "xtanh", radius=1e-3)
    assert np.all(nearest_line_angles(pred.lines, fld.lines) < 0.05)


def test_complex_pair_gives_fewer_lines(rng):
    """Search residuals until the cubic has a complex pair; then one line only, and the
    numerically located field has one line too."""
    x = np.linspace(-1, 1.5, 12)
    for _ in range(200):
        e = rng.normal(size=12)
        pred = predicted_lines(x, e, "x2tanh")
        if pred.n_complex_pairs:
            break
    assert pred.n_complex_pairs == 1 and pred.n_lines == 1
    fld = field_lines(x, e, "x2tanh", radius=1e-3)
    assert fld.n_lines == 1
    assert nearest_line_angles(pred.lines, fld.lines)[0] < 0.05


def test_p1_field_line_attracts_both_signs():
    x = np.linspace(-1, 1.5, 20)
    e = -(np.sin(3 * x) + 0.5 * np.sin(6 * x))
    fld = field_lines(x, e, "tanh", radius=1e-2)
    assert fld.n_lines == 1
    assert fld.attracts_positive_a[0] and fld.attracts_negative_a[0]


def test_theory_rejects_what_it_does_not_cover(rng):
    x = rng.normal(size=(10, 3))
    e = rng.normal(size=10)
    with pytest.raises(ValueError, match="p = 1 \\(any d\\) or d = 1"):
        predicted_lines(x, e, "xtanh")
    with pytest.raises(ValueError, match="multiplicity"):
        predicted_lines(x[:, 0], e, "relu")
    with pytest.raises(ValueError, match="one residual"):
        neuron_velocity(np.ones(4), x, e[:5], "tanh")
    with pytest.raises(ValueError, match="1-dimensional"):
        field_lines(x, e, "tanh")
    with pytest.raises(ValueError, match="omega"):
        neuron_velocity(np.ones(3), x, e, "tanh")
