"""``fl.refine``: Newton from the end of a flow to the critical point, and its classification."""

import numpy as np
import pytest

import flowlab as fl
from flowlab.experiments.saad_solla import initial_student
from flowlab.population import theory


def realisable(act, seed=0, n=3, d=6, noise=0.05):
    rng = np.random.default_rng(seed)
    teacher = fl.TwoLayer(rng.normal(size=(n, d)) / np.sqrt(d) * 1.5, rng.normal(size=n), act,
                          bias=False)
    start = fl.TwoLayer(teacher.W + noise * rng.normal(size=teacher.W.shape),
                        teacher.a + noise, act, bias=False)
    return start, teacher


@pytest.mark.parametrize("act", ["erf", "relu"])
def test_population_minimum_of_a_realisable_teacher_student(act):
    start, teacher = realisable(act)
    sol = fl.population.flow(start, teacher, 30.0)
    res = fl.refine(sol)
    assert res.converged and res.status == "converged" and res.rel_grad_norm <= 1e-12
    assert res.kind == "minimum" and res.index == 0 and res.n_zero == 0
    assert 0.0 <= res.loss <= 1e-20
    assert res.eigenvalues.size == start.n_params
    if act == "relu":      # one rescaling direction per neuron is removed, and it is flat
        assert res.n_symmetry == 3 and res.symmetry_residual < 1e-10
        assert np.sum(np.abs(res.eigenvalues) < 1e-10 * np.abs(res.eigenvalues).max()) == 3
    else:
        assert res.n_symmetry == 0 and np.all(res.eigenvalues > 0)
    # the student reproduces the teacher: each unit on one teacher direction
    cos = (res.net.W / np.linalg.norm(res.net.W, axis=1)[:, None]) @ (
        teacher.W / np.linalg.norm(teacher.W, axis=1)[:, None]).T
    assert np.all(np.max(np.abs(cos), axis=1) > 1 - 1e-12)


def test_saddle_of_index_at_least_one_from_the_symmetric_plateau():
    M = 2
    J, B = initial_student(M, M, seed=0)
    student, teacher = theory.soft_committee(J, B)
    sol = fl.population.flow(student, teacher, 300.0, trainable="W")   # on the plateau
    res = fl.refine(sol)
    assert res.converged and res.kind == "saddle" and res.index >= 1
    sp = theory.symmetric_fixed_point(M)
    assert res.loss == pytest.approx(sp.loss, rel=1e-10)
    assert res.n_zero >= 1            # the symmetric fixed point is degenerate as well
    assert "saddle of index" in repr(res)


def test_finite_data_smooth_realisable_teacher_student():
    rng = np.random.default_rng(3)
    teacher = fl.TwoLayer(rng.normal(size=(3, 3)), rng.normal(size=3), "tanh")
    x = rng.normal(size=(60, 2))
    y = teacher(x)
    start = teacher.with_params(teacher.params() + 0.05 * rng.normal(size=teacher.n_params))
    sol = fl.flow(start, x, y, 20.0, loss="mean")
    res = fl.refine(sol)
    assert res.converged and res.kind == "minimum" and res.loss <= 1e-20
    res2 = fl.refine(sol.net, (x, y), loss="mean")
    np.testing.assert_allclose(res2.net.params(), res.net.params(), rtol=1e-10, atol=1e-12)


def brute_filippov(net, x, y, j, i):
    """min over lambda in [0, 1] of ||grad|| with relu'(0) = lambda at point i of neuron j,
    on a grid refined by golden section (one contact)."""
    from scipy.optimize import minimize_scalar
    W, a = net.W, net.a
    X = np.column_stack([x, np.ones(len(x))])
    Z = X @ W.T
    r = np.maximum(Z, 0) @ a - y

    def g(lam):
        D = (Z > 0).astype(float)
        D[i, j] = lam
        gW = a[:, None] * ((D * r[:, None]).T @ X)
        ga = np.maximum(Z, 0).T @ r
        return np.linalg.norm(np.concatenate([gW.ravel(), ga]))

    return minimize_scalar(g, bounds=(0, 1), method="bounded",
                           options={"xatol": 1e-12}).fun


def test_finite_relu_with_a_point_on_a_knot_reports_the_filippov_residual_in_d_2():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(12, 2))
    y = np.sin(x[:, 0])
    W = rng.normal(size=(3, 3))
    # put data point 5 exactly on neuron 1's hyperplane
    W[1, 2] = -(W[1, :2] @ x[5])
    net = fl.TwoLayer(W, rng.normal(size=3), "relu")
    res = fl.refine(net, (x, y))
    assert res.status == "nonsmooth" and res.kind == "nonsmooth" and res.eigenvalues is None
    assert res.stationarity["contacts"] == 1 and "lemma34_rms" not in res.stationarity
    assert res.grad_norm == pytest.approx(brute_filippov(net, x, y, 1, 5), rel=1e-6)
    assert "no Hessian" in res.message


def test_relu1d_on_a_knot_reports_lemma_34_of_ainsworth_shin():
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    y = np.array([1.0, 0.0, 1.0, 0.0, 1.0])
    net = fl.ReLU1D(b=[-1.5, 0.0, 0.7], c=[0.3, -0.2, 0.5])       # knot 0.0 on x = 0
    res = fl.refine(net, (x, y))
    assert res.kind == "nonsmooth"
    r34 = fl.analysis.plateau.stationarity_residual(net, x, y)
    assert res.stationarity["lemma34_rms"] == pytest.approx(np.sqrt(np.mean(r34 ** 2)))


def test_relu1d_off_the_knots_is_smooth_and_refined_by_newton():
    """Knots strictly between data points: the loss is a polynomial nearby, Newton reaches
    the stationary point of Lemma 3.4 and the Hessian classifies it."""
    x = np.linspace(-1, 1, 9)
    y = np.abs(x) + 0.1 * x ** 2
    net = fl.ReLU1D(b=[-1.1, 0.13], c=[1.1, 1.9])
    res = fl.refine(net, (x, y))
    assert res.converged and res.kind in ("minimum", "degenerate", "saddle")
    r34 = fl.analysis.plateau.stationarity_residual(res.net, x, y)
    assert np.max(np.abs(r34)) < 1e-10
    st = res.stationarity
    assert st["contacts"] == 0 and st["filippov"] == pytest.approx(res.grad_norm, rel=1e-6,
                                                                   abs=1e-15)
    assert st["lemma34_max"] == pytest.approx(np.max(np.abs(r34)))


def test_bad_arguments():
    start, teacher = realisable("erf")
    sol = fl.population.flow(start, teacher, 1.0)
    with pytest.raises(ValueError, match="carries its own data"):
        fl.refine(sol, teacher)
    with pytest.raises(TypeError, match="teacher network.*or a pair"):
        fl.refine(start, 3.0)
    with pytest.raises(TypeError, match="network or a Solution"):
        fl.refine("net", teacher)
