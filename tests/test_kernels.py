"""Every loss/gradient/Hessian kernel against central differences and the slow references."""

import numpy as np
import pytest

import flowlab as fl
from flowlab._problem import Problem

from .reference import relu1d_loss_grad, twolayer_loss_grad_hess

SMOOTH = [a for a in fl.activations.activation_names() if a != "relu"]


def _fd_grad(prob, u, h=1e-6):
    g = np.empty_like(u)
    for p in range(u.size):
        e = np.zeros_like(u)
        e[p] = h
        g[p] = (prob.loss(u + e) - prob.loss(u - e)) / (2 * h)
    return g


def _fd_hess(prob, u, h=1e-6):
    H = np.empty((u.size, u.size))
    for p in range(u.size):
        e = np.zeros_like(u)
        e[p] = h
        H[p] = (prob.grad(u + e) - prob.grad(u - e)) / (2 * h)
    return H


def _rel(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300)


@pytest.mark.parametrize("loss", ["sum", "mean"])
@pytest.mark.parametrize("activation", fl.activations.activation_names())
def test_twolayer_kernels_match_reference_and_differences(activation, loss, rng):
    W = rng.normal(size=(4, 3)) * 0.8
    a = rng.normal(size=4)
    X = rng.normal(size=(30, 2))
    y = rng.normal(size=30)
    prob = Problem(fl.TwoLayer(W, a, activation), X, y, loss=loss)
    L, g = prob.loss_grad(prob.u0)
    H = prob.hess(prob.u0)
    Lr, gr, Hr = twolayer_loss_grad_hess(W, a, activation, X, y, loss)
    np.testing.assert_allclose(L, Lr, rtol=1e-13)
    np.testing.assert_allclose(g, gr, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(H, Hr, rtol=1e-12, atol=1e-13)
    assert _rel(g, _fd_grad(prob, prob.u0)) <= 1e-6
    if activation != "relu":
        assert _rel(H, _fd_hess(prob, prob.u0)) <= 1e-6
    np.testing.assert_array_equal(H, H.T)


@pytest.mark.parametrize("loss", ["sum", "mean"])
@pytest.mark.parametrize("train_w", [False, True])
def test_relu1d_gradient_matches_ainsworth_shin_equations(loss, train_w, rng):
    n, m = 6, 40
    b, c = rng.normal(size=(2, n))
    w = rng.uniform(0.5, 1.5, n) * rng.choice([-1, 1], n) if train_w else None
    x = np.sort(rng.uniform(-2, 2, m))
    y = np.sin(x)
    net = fl.ReLU1D(b, c, w)
    prob = Problem(net, x, y, loss=loss)
    L, g = prob.loss_grad(prob.u0)
    Lr, gr = relu1d_loss_grad(b, c, w, x, y, loss)
    np.testing.assert_allclose(L, Lr, rtol=1e-13)
    np.testing.assert_allclose(g, gr, rtol=1e-12, atol=1e-14)
    # away from the knots the loss is smooth: differences agree
    assert _rel(g, _fd_grad(prob, prob.u0, h=1e-7)) <= 1e-6
    H = prob.hess(prob.u0)
    assert _rel(H, _fd_hess(prob, prob.u0, h=1e-7)) <= 1e-6


def test_relu1d_hessian_has_ainsworth_shin_structure(rng):
    """Stage Hessian: Gauss-Newton part plus -R0_j at (c_j, b_j) (docs/design.md)."""
    x = np.linspace(-1, 1, 20)
    y = x ** 2
    net = fl.ReLU1D([-0.3, 0.4], [1.0, -0.5])
    prob = Problem(net, x, y, loss="sum")
    r = prob.residual(prob.u0)
    H = prob.hess(prob.u0)
    A = np.array([(x > b).astype(float) for b in net.b])      # active sets
    D = np.array([np.maximum(x - b, 0) for b in net.b])
    J = np.hstack([-(net.c[:, None] * A).T, D.T])
    expected = J.T @ J
    for j in range(2):
        expected[j, 2 + j] += -(A[j] @ r)
        expected[2 + j, j] += -(A[j] @ r)
    np.testing.assert_allclose(H, expected, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("trainable", ["a", "W", ("W", "a")])
def test_trainable_subsets_are_submatrices(trainable, rng):
    net = fl.TwoLayer(rng.normal(size=(3, 2)), rng.normal(size=3), "tanh")
    x = rng.normal(size=15)
    y = np.cos(x)
    full = Problem(net, x, y)
    sub = Problem(net, x, y, trainable=trainable)
    idx = sub.user_index
    np.testing.assert_allclose(sub.grad(sub.u0), full.grad(full.u0)[idx], rtol=1e-15)
    np.testing.assert_allclose(sub.hess(sub.u0), full.hess(full.u0)[np.ix_(idx, idx)], rtol=1e-14)


def test_relu1d_trainable_c_only_signs(rng):
    net = fl.ReLU1D(rng.normal(size=4), rng.normal(size=4), rng.normal(size=4))
    x = rng.normal(size=25)
    y = x
    full = Problem(net, x, y)
    for groups in (("b",), ("w", "c"), ("b", "w")):
        sub = Problem(net, x, y, trainable=groups)
        idx = sub.user_index
        np.testing.assert_allclose(sub.grad(sub.u0), full.grad(full.u0)[idx], rtol=1e-14)
        np.testing.assert_allclose(sub.hess(sub.u0), full.hess(full.u0)[np.ix_(idx, idx)],
                                   rtol=1e-14, atol=1e-15)


def test_problem_rejects_bad_input():
    net = fl.ReLU1D([0.0], [1.0])
    x = np.linspace(0, 1, 5)
    with pytest.raises(ValueError, match="one value per data point"):
        Problem(net, x, np.ones(4))
    with pytest.raises(ValueError, match="NaN or inf"):
        Problem(net, x, np.array([0, 1, np.nan, 0, 0]))
    with pytest.raises(ValueError, match="NaN or inf"):
        Problem(net, np.array([0, np.inf, 1.0]), np.ones(3))
    with pytest.raises(ValueError, match="empty"):
        Problem(net, np.array([]), np.array([]))
    with pytest.raises(ValueError, match="'sum'"):
        Problem(net, x, x, loss="mse")
    with pytest.raises(ValueError, match="unknown group 'w'"):
        Problem(net, x, x, trainable="w")
    with pytest.raises(ValueError, match="empty"):
        Problem(net, x, x, trainable=())
    with pytest.raises(TypeError, match="flowlab network"):
        Problem("net", x, x)


def test_borrowed_views_share_memory_and_reject_other_types():
    import numba as nb
    from numba.core.errors import TypingError

    from flowlab._kernels.borrow import borrowed

    @nb.njit
    def write_through(tup, v):
        a, (b, k) = borrowed(tup)
        a[0] = v
        b[1, 1] = 2 * v
        return a.sum() + b.sum() + k

    a = np.zeros(3)
    b = np.zeros((2, 2))
    assert write_through((a, (b, 5)), 1.5) == 1.5 + 3.0 + 5
    assert a[0] == 1.5 and b[1, 1] == 3.0            # writes land in the owners' memory

    @nb.njit
    def bad(lst):
        return borrowed(lst)

    with pytest.raises(TypingError, match="borrowed"):
        bad(nb.typed.List([1.0]))


@pytest.mark.parametrize("n", [30, 120])
def test_radau_eigen_solves_match_dense(n):
    """The shifted solves through the eigen-decomposition (fused below n = 96, one
    product at a time above) equal dense solves of (mu/h I - J) x = b."""
    from flowlab._kernels import radau, radau_linalg
    rng = np.random.default_rng(1)
    Q, _ = np.linalg.qr(rng.random((n, n)))
    lam = -3.0 * np.arange(n)
    dh = rng.uniform(0.5, 2.0, n)                  # J = diag(dh)^-1 Q diag(lam) Q^T diag(dh)
    lin = radau.new_lin(n)
    lin.sym[0] = 1
    lin.dh[:] = dh
    lin.lam[:] = lam
    lin.V[:] = Q
    lin.VT[:] = Q.T
    h = 1e-2
    assert radau_linalg._lin_factor(lin, h)
    J = np.diag(1.0 / dh) @ Q @ np.diag(lam) @ Q.T @ np.diag(dh)
    b = rng.random(n) + 1j * rng.random(n)
    br = rng.random(n)
    want_c = np.linalg.solve(radau.MU_COMPLEX / h * np.eye(n) - J, b)
    want_r = np.linalg.solve(radau.MU_REAL / h * np.eye(n) - J, br)
    c, r = b.copy(), br.copy()
    radau_linalg._lin_solve_complex(lin, c)
    radau_linalg._lin_solve_real(lin, r)
    np.testing.assert_allclose(c, want_c, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(r, want_r, rtol=1e-12, atol=1e-15)
    c, r = b.copy(), br.copy()
    radau_linalg._lin_solve_both(lin, r, c)
    np.testing.assert_allclose(c, want_c, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(r, want_r, rtol=1e-12, atol=1e-15)


def test_integrator_models_are_registered_named_tuples():
    """Models are named tuples dispatched on their class; anything else is refused."""
    from flowlab._kernels import hooks, relu1d, relu1d_scan, relund, relund_scan  # noqa: F401
    # (the scans register their models' hooks)
    assert relu1d.Model in hooks._HOOKS and relund.StageND in hooks._HOOKS
    f = hooks._HOOKS[relu1d.Model].rhs
    with pytest.raises(TypeError, match="named-tuple class"):
        hooks.register_model(np.int8, rhs=f, jac=f, output=f, events=f, event_rate=f,
                             rhs_loss=f, expand_rows=f)
