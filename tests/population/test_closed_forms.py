"""Closed-form population losses: Monte Carlo, central differences, quadrature, symmetry."""

import numpy as np
import pytest

import flowlab as fl
from flowlab.population.problem import PopulationProblem

from ..reference import population_loss_ref


def pair(act, n, M, d, seed, scale=1.0):
    rng = np.random.default_rng(seed)
    net = fl.TwoLayer(scale * rng.normal(size=(n, d)), rng.normal(size=n), act, bias=False)
    teacher = fl.TwoLayer(scale * rng.normal(size=(M, d)), rng.normal(size=M), act,
                          bias=False)
    return net, teacher


def central_gradient(f, theta, h):
    return np.array([(f(theta + h * e) - f(theta - h * e)) / (2 * h)
                     for e in np.eye(theta.size)])


@pytest.mark.parametrize("act", ["relu", "erf"])
@pytest.mark.parametrize("seed", [0, 1])
def test_loss_equals_monte_carlo_within_5_standard_errors(act, seed):
    """Default run: 4e5 samples (the 4e6-sample version is marked slow)."""
    net, teacher = pair(act, 4, 3, 6, seed)
    L = fl.population.loss(net, teacher)
    mc = fl.population.monte_carlo_loss(net, teacher, 400_000, seed=100 + seed)
    assert abs(mc.z_score(L)) <= 5.0, (L, mc)


@pytest.mark.slow
@pytest.mark.parametrize("act", ["relu", "erf"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_loss_equals_monte_carlo_4e6_samples(act, seed):
    net, teacher = pair(act, 4, 3, 6, seed)
    L = fl.population.loss(net, teacher)
    mc = fl.population.monte_carlo_loss(net, teacher, 4_000_000, seed=200 + seed)
    assert abs(mc.z_score(L)) <= 5.0, (L, mc)
    assert mc.samples == 4_000_000


@pytest.mark.parametrize("act", ["relu", "erf"])
def test_loss_equals_the_planar_quadrature_reference(act):
    """Each pair integral done by adaptive quadrature in the plane of the two vectors."""
    net, teacher = pair(act, 2, 1, 4, 3, scale=0.8)
    ref = population_loss_ref(act, net.W, net.a, teacher.W, teacher.a)
    assert fl.population.loss(net, teacher) == pytest.approx(ref, rel=1e-9, abs=1e-12)


def test_monte_carlo_chunks_combine_exactly():
    net, teacher = pair("erf", 3, 2, 4, 7)
    a = fl.population.monte_carlo_loss(net, teacher, 10_000, seed=3, chunk=10_000)
    b = fl.population.monte_carlo_loss(net, teacher, 10_000, seed=3, chunk=999)
    # the same draws (numpy draws row by row), combined in different chunks
    assert a.mean == pytest.approx(b.mean, rel=1e-13)
    assert a.stderr == pytest.approx(b.stderr, rel=1e-10)


@pytest.mark.parametrize("act", ["relu", "erf"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradient_equals_central_differences(act, seed):
    net, teacher = pair(act, 3, 2, 5, seed)
    theta = net.params()
    g = fl.population.gradient(net, teacher)

    def L(th):
        return fl.population.loss(net.with_params(th), teacher)

    fd = central_gradient(L, theta, 1e-6)
    assert np.linalg.norm(g - fd) <= 1e-6 * np.linalg.norm(g)


@pytest.mark.parametrize("act", ["relu", "erf"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hessian_equals_central_differences_of_the_gradient(act, seed):
    net, teacher = pair(act, 3, 2, 5, seed)
    theta = net.params()
    H = fl.population.hessian(net, teacher)
    assert np.array_equal(H, H.T) or np.abs(H - H.T).max() <= 1e-15 * np.abs(H).max()

    def grad(th):
        return fl.population.gradient(net.with_params(th), teacher)

    fd = np.array([(grad(theta + 1e-5 * e) - grad(theta - 1e-5 * e)) / 2e-5
                   for e in np.eye(theta.size)])
    assert np.linalg.norm(H - fd) <= 1e-5 * np.linalg.norm(H)


def test_relu_hessian_is_continuous_at_parallel_neurons():
    """Two student neurons (and a student and a teacher neuron) parallel: the pair
    formulas have e e^T / sin(t) terms, which vanish in the limit."""
    rng = np.random.default_rng(4)
    v = rng.normal(size=4)
    W = np.vstack([v, 2.0 * v, rng.normal(size=4)])
    teacher = fl.TwoLayer(np.vstack([v, rng.normal(size=4)]), [1.0, -0.5], "relu", bias=False)
    net = fl.TwoLayer(W, [0.7, -0.3, 1.1], "relu", bias=False)
    H0 = fl.population.hessian(net, teacher)
    for eps in (1e-4, 1e-7):
        Wp = W.copy()
        Wp[1] += eps * rng.normal(size=4)
        H = fl.population.hessian(fl.TwoLayer(Wp, net.a, "relu", bias=False), teacher)
        assert np.abs(H - H0).max() <= 50 * eps * np.abs(H0).max()
    # and the Hessian there still equals central differences of the gradient
    theta = net.params()
    fd = np.array([(fl.population.gradient(net.with_params(theta + 1e-6 * e), teacher)
                    - fl.population.gradient(net.with_params(theta - 1e-6 * e), teacher))
                   / 2e-6 for e in np.eye(theta.size)])
    assert np.linalg.norm(H0 - fd) <= 1e-5 * np.linalg.norm(H0)


def test_closed_forms_at_simple_points():
    e1, e2 = np.eye(2)
    relu = lambda W, a: fl.TwoLayer(W, a, "relu", bias=False)  # noqa: E731
    erf = lambda W, a: fl.TwoLayer(W, a, "erf", bias=False)    # noqa: E731
    # relu: E[relu(z)^2] = 1/2; orthogonal units E[relu relu] = 1/(2 pi)
    assert fl.population.loss(relu([e1], [1.0]), relu([e1 * 0], [0.0])) == pytest.approx(0.25)
    assert fl.population.loss(relu([e1], [1.0]), relu([e2], [1.0])) == pytest.approx(
        0.5 * (1.0 - 1.0 / np.pi), rel=1e-15)
    # erf: E[g(z)^2] = (2/pi) asin(1/2) = 1/3 for z ~ N(0, 1)
    assert fl.population.loss(erf([e1], [1.0]), erf([e1], [0.0])) == pytest.approx(1 / 6,
                                                                                   rel=1e-15)
    # a permuted student is the teacher itself
    teacher = erf(np.eye(3), [1.0, 2.0, 3.0])
    assert fl.population.loss(erf(np.eye(3)[[2, 0, 1]], [3.0, 1.0, 2.0]), teacher) == 0.0


def test_erf_quadrature_agrees_with_closed_form_in_d_2():
    net, teacher = pair("erf", 3, 2, 2, 5, scale=0.8)
    closed = PopulationProblem(net, teacher)
    quad = PopulationProblem(net, teacher, integrals="quadrature", nodes=80)
    th = net.params()
    assert quad.loss_full(th) == pytest.approx(closed.loss_full(th), rel=1e-12)
    np.testing.assert_allclose(quad.loss_grad_full(th)[1], closed.loss_grad_full(th)[1],
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(quad.hess_full(th), closed.hess_full(th), rtol=1e-9,
                               atol=1e-11)


def test_relu_quadrature_converges_slowly_to_the_closed_form():
    """Gauss-Hermite is no substitute for the closed form at relu's kinks: its error falls
    with the number of nodes, but only algebraically."""
    net, teacher = pair("relu", 3, 2, 2, 6)
    exact = fl.population.loss(net, teacher)
    errs = [abs(fl.population.loss(net, teacher, integrals="quadrature", nodes=k) - exact)
            for k in (16, 64)]
    assert errs[1] < errs[0] and errs[1] > 1e-12 * exact


@pytest.mark.parametrize("acts", [("tanh", "tanh"), ("tanh", "erf"), ("softplus", "relu")])
def test_quadrature_for_other_activations_in_d_le_2(acts):
    rng = np.random.default_rng(9)
    for d in (1, 2):
        net = fl.TwoLayer(0.7 * rng.normal(size=(3, d)), rng.normal(size=3), acts[0],
                          bias=False)
        teacher = fl.TwoLayer(0.7 * rng.normal(size=(2, d)), rng.normal(size=2), acts[1],
                              bias=False)
        L = fl.population.loss(net, teacher)
        mc = fl.population.monte_carlo_loss(net, teacher, 200_000, seed=d)
        assert abs(mc.z_score(L)) <= 5.0
        theta = net.params()
        g = fl.population.gradient(net, teacher)
        fd = central_gradient(lambda th: fl.population.loss(net.with_params(th), teacher),
                              theta, 1e-6)
        assert np.linalg.norm(g - fd) <= 1e-6 * np.linalg.norm(g)
        H = fl.population.hessian(net, teacher)
        fdH = np.array([(fl.population.gradient(net.with_params(theta + 1e-5 * e), teacher)
                         - fl.population.gradient(net.with_params(theta - 1e-5 * e),
                                                  teacher)) / 2e-5
                        for e in np.eye(theta.size)])
        assert np.linalg.norm(H - fdH) <= 1e-5 * np.linalg.norm(H)


def test_loss_depends_on_weights_through_order_parameters_only():
    net, teacher = pair("erf", 3, 2, 5, 11)
    Qrot = np.linalg.qr(np.random.default_rng(0).normal(size=(5, 5)))[0]
    rot = lambda t: fl.TwoLayer(t.W @ Qrot, t.a, t.activation, bias=False)  # noqa: E731
    assert fl.population.loss(rot(net), rot(teacher)) == pytest.approx(
        fl.population.loss(net, teacher), rel=1e-13)
    op = fl.population.order_parameters(net, teacher)
    np.testing.assert_allclose(op.Q, net.W @ net.W.T)
    np.testing.assert_allclose(op.R, net.W @ teacher.W.T)
    np.testing.assert_allclose(op.T, teacher.W @ teacher.W.T)
