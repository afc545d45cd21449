"""The population loss near a realisation of the teacher: accurate relative to itself."""

import numpy as np
import pytest

import flowlab as fl
from flowlab.population import PopulationProblem
from flowlab.population._accurate import realisation


def quadratic_model(net, teacher, theta_ref, delta):
    """1/2 delta^T H delta at the realisation (L and grad L vanish there)."""
    H = fl.population.hessian(net.with_params(theta_ref), teacher)
    return 0.5 * delta @ H @ delta


@pytest.mark.parametrize("eps", [1e-5, 1e-8])
def test_relu_student_rescaled_and_permuted_teacher(eps):
    rng = np.random.default_rng(0)
    V = rng.normal(size=(3, 5))
    b = np.array([1.0, -2.0, 0.5])
    teacher = fl.TwoLayer(V, b, "relu", bias=False)
    c = np.array([2.0, 0.5, 3.0])                      # relu(c v . x) / c = relu(v . x)
    perm = [2, 0, 1]
    ref = fl.TwoLayer(c[:, None] * V[perm], b[perm] / c, "relu", bias=False)
    assert fl.population.loss(ref, teacher) <= 1e-30
    delta = eps * rng.normal(size=ref.n_params)
    net = ref.with_params(ref.params() + delta)
    L = fl.population.loss(net, teacher)
    model = quadratic_model(net, teacher, ref.params(), delta)
    assert L == pytest.approx(model, rel=1e-3 if eps > 1e-6 else 1e-6)
    # the direct sum of pair terms only knows L to about 1e-16 of the energy
    direct = PopulationProblem(net, teacher).loss_full(net.params(), accurate=False)
    if eps == 1e-8:
        assert abs(direct - model) > 100 * abs(L - model)


def test_erf_student_with_a_sign_flip_and_a_split_neuron():
    rng = np.random.default_rng(1)
    V = rng.normal(size=(2, 4)) / 2
    teacher = fl.TwoLayer(V, [1.5, -1.0], "erf", bias=False)
    # erf is odd: (a, w) and (-a, -w) are the same unit; 1.5 = 0.9 + 0.6 split in two
    W = np.vstack([V[0], -V[1], V[0]])
    ref = fl.TwoLayer(W, [0.9, 1.0, 0.6], "erf", bias=False)
    assert fl.population.loss(ref, teacher) == pytest.approx(0.0, abs=1e-30)
    delta = 1e-9 * rng.normal(size=ref.n_params)
    net = ref.with_params(ref.params() + delta)
    got = realisation("erf", net.W, net.a, V, teacher.a)
    assert got is not None
    L = fl.population.loss(net, teacher)
    assert L == pytest.approx(quadratic_model(net, teacher, ref.params(), delta), rel=1e-6)


def test_far_from_a_realisation_the_direct_formula_is_used():
    rng = np.random.default_rng(2)
    teacher = fl.TwoLayer(rng.normal(size=(2, 3)), [1.0, 1.0], "erf", bias=False)
    net = fl.TwoLayer(rng.normal(size=(2, 3)), [1.0, 1.0], "erf", bias=False)
    prob = PopulationProblem(net, teacher)
    th = net.params()
    assert prob.loss_full(th) == prob.loss_full(th, accurate=False)
    W = teacher.W.copy()
    W[0] = rng.normal(size=3)                  # one teacher unit has no student
    assert realisation("erf", W, teacher.a, teacher.W, teacher.a) is None
