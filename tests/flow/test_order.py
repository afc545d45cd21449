"""Empirical order of convergence of the compiled integrators.

In the style of diffrax's ``test_ode_order``: integrate a smooth flow with a
sequence of step sizes, fit log(error) against log(number of steps) by least
squares, and check that the slope is the method's classical order p within a
stated margin.  A first-order method on the same problems gives a slope near 1
(``test_fitted_order_sees_a_first_order_method``), so every check here fails
for a method of the wrong order.

- ERK853 and ERK45 (:mod:`flowlab._flow.compiled`) run with *fixed* steps: with
  ``first_step = max_step = h`` and an ``atol`` far above any error estimate every
  step is accepted and the controller can only ask for h again.
- The compiled Radau IIA (:mod:`flowlab._kernels.radau`, the implicit stepper of
  ``method="exact"``) has no fixed-step mode, so it runs with tolerances from
  1e-5 to 1e-10; its controller keeps the shape of the steps' distribution over
  [0, T], so the global error still falls like N^-5 in the number of steps N, with
  some scatter (hence a wider margin).
- Errors are measured against a closed form where one exists (frozen features:
  the linear flow solved by eigen-decomposition, tier 1) and otherwise against
  scipy's DOP853 at rtol = 1e-13, an independent code path.
"""

import warnings

import numpy as np
import pytest

import flowlab as fl

#: fitted slopes must reach the classical order less this margin
MARGIN = 0.3
ORDERS = {"ERK853": 8, "ERK45": 5}


def _fitted_order(steps, errors) -> float:
    """Minus the least-squares slope of log(error) against log(steps)."""
    return -float(np.polyfit(np.log(steps), np.log(errors), 1)[0])


def _linear_flow(a0, G, r, t):
    """Closed form of a' = -(G a - r) at time t (G symmetric positive semidefinite)."""
    lam, V = np.linalg.eigh(G)
    f = -np.expm1(-lam * t) / lam
    return a0 - V @ (f * (V.T @ (G @ a0 - r)))


def _tanh_problem(seed=0, n=6, m=25):
    rng = np.random.default_rng(seed)
    x = np.linspace(-1, 1, m)
    y = np.sin(2 * x)
    return fl.TwoLayer(rng.normal(size=(n, 2)), rng.normal(size=n), "tanh"), x, y


def _frozen_features(net, x, y):
    """(G, r) of the "mean" loss with the features of ``net`` frozen: a' = -(G a - r)."""
    Phi = net.features(x)
    return Phi.T @ Phi / x.size, Phi.T @ y / x.size


def _fixed_steps(net, x, y, T, method, N, **kw):
    """``method`` with N steps of exactly T / N (T / N a power of two times T)."""
    h = T / N
    sol = fl.flow(net, x, y, T, loss="mean", method=method, first_step=h, max_step=h,
                  rtol=0.5, atol=1e6, progress=False, dense=False, **kw)
    assert sol.status == "finished" and sol.nsteps == N
    return sol


def test_fitted_order_sees_a_first_order_method():
    """The harness is able to fail: explicit Euler on the linear flow fits order 1."""
    net, x, y = _tanh_problem()
    G, r = _frozen_features(net, x, y)
    T = 2.0
    exact = _linear_flow(net.a, G, r, T)
    steps = np.array([16, 32, 64, 128])
    errors = []
    for N in steps:
        a, h = net.a.copy(), T / N
        for _ in range(N):
            a = a - h * (G @ a - r)
        errors.append(np.abs(a - exact).max())
    order = _fitted_order(steps, errors)
    assert abs(order - 1.0) < MARGIN
    assert all(order < p - MARGIN for p in (*ORDERS.values(), 5))


@pytest.mark.parametrize("method,steps", [("ERK853", [2, 4, 8]), ("ERK45", [8, 16, 32, 64])])
def test_erk_order_linear_flow(method, steps):
    """Fixed steps on the linear flow of frozen tanh features (closed form): ERK853's
    fitted order is 8 and ERK45's is 5, each within 0.3 (measured: 8.1 and 5.2)."""
    net, x, y = _tanh_problem()
    G, r = _frozen_features(net, x, y)
    T = 2.0
    exact = _linear_flow(net.a, G, r, T)
    errors = [np.abs(_fixed_steps(net, x, y, T, method, N, trainable="a").net.a - exact).max()
              for N in steps]
    order = _fitted_order(steps, errors)
    assert abs(order - ORDERS[method]) <= MARGIN, (method, order, errors)


@pytest.mark.parametrize("method,steps", [("ERK853", [4, 8, 16]), ("ERK45", [8, 16, 32, 64])])
def test_erk_order_nonlinear_flow(method, steps):
    """Fixed steps on the full (W, a) flow of a tanh network against scipy's DOP853 at
    rtol = 1e-13: the fitted order reaches p - 0.3.  Dormand & Prince (1980) made the
    leading error coefficients of RK45's fifth-order solution small, so at the step
    sizes a test can afford the sixth-order terms still show (fitted: 6.7); the upper
    bound p + 2 only guards against a broken fit (fitted: 7.8 for ERK853)."""
    net, x, y = _tanh_problem(seed=1, n=4, m=12)
    net = fl.TwoLayer(1.5 * net.W, 1.5 * net.a, "tanh")
    T = 4.0
    ref = fl.flow(net, x, y, T, loss="mean", method="DOP853", rtol=1e-13, atol=1e-15,
                  progress=False, dense=False)
    errors = [np.abs(_fixed_steps(net, x, y, T, method, N).theta[-1] - ref.theta[-1]).max()
              for N in steps]
    order = _fitted_order(steps, errors)
    p = ORDERS[method]
    assert p - MARGIN <= order <= p + 2, (method, order, errors)


def _radau(net, x, y, T, tol, **kw):
    sol = fl.flow(net, x, y, T, loss="mean", method="exact", stepper="radau", rtol=tol,
                  atol=tol, progress=False, dense=False, **kw)
    assert sol.status == "finished" and sol.info["steps_explicit"] == 0
    assert len(sol.events) == 0          # one smooth stretch: no knot crosses a point
    return sol


def test_radau_order_linear_flow():
    """Compiled Radau IIA on the linear flow of a ReLU network's frozen features (only c
    trained; closed form): log(error) against log(steps) over rtol = atol = 1e-7 ...
    1e-10 fits order 5 within 0.5 (measured: 5.4; adaptive steps leave some scatter)."""
    rng = np.random.default_rng(1)
    m, n = 40, 6
    x = np.linspace(-1, 1, m)
    y = np.sin(3 * x)
    b = np.linspace(-0.9, 0.9, n) + 0.5 * (x[1] - x[0]) - 0.0123
    net = fl.ReLU1D(b, rng.normal(size=n))
    A = np.maximum(x[:, None] - b[None, :], 0.0)
    T = 2.0
    exact = _linear_flow(net.c, A.T @ A / m, A.T @ y / m, T)
    steps, errors = [], []
    for tol in (1e-7, 1e-8, 1e-9, 1e-10):
        sol = _radau(net, x, y, T, tol, trainable="c")
        steps.append(sol.info["steps_radau"])
        errors.append(np.abs(sol.net.c - exact).max())
    order = _fitted_order(steps, errors)
    assert abs(order - 5) <= 0.5, (order, steps, errors)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_radau_order_nonlinear_flow(seed):
    """Compiled Radau IIA on a nonlinear smooth flow: every knot of a ReLU network with
    (b, c, w) trained sits left of all the data, so every neuron stays active on every
    point and f(x) = sum_j c_j (w_j x - b_j) is a polynomial in the parameters.  Against
    scipy's DOP853 at rtol = 1e-13, log(error) against log(steps) over rtol = atol = 1e-5
    ... 1e-10 fits at least 5 - 0.5 (measured: 4.9, 5.6, 5.9 for seeds 0, 1, 2); a
    third-order solution would fit about 3.  The margin is wider than for fixed steps:
    besides the adaptive scatter, the Newton iteration stops at a fixed fraction of the
    tolerance in every step, an error that falls more slowly than N^-5 and shows at
    the tightest tolerances (local slopes of 3 to 4 there for seed 0)."""
    rng = np.random.default_rng(seed)
    m, n = 20, 4
    x = np.linspace(-1, 1, m)
    y = np.sin(3 * x) + x
    w = rng.uniform(0.5, 1.5, n)
    net = fl.ReLU1D(w * rng.uniform(-3.5, -2.5, n), rng.normal(size=n), w)
    T = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)     # "not smooth": it is, here
        ref = fl.flow(net, x, y, T, loss="mean", method="DOP853", rtol=1e-13, atol=1e-15,
                      progress=False, dense=False)
    steps, errors = [], []
    for tol in (1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10):
        sol = _radau(net, x, y, T, tol)
        steps.append(sol.info["steps_radau"])
        errors.append(np.abs(sol.theta[-1] - ref.theta[-1]).max())
    order = _fitted_order(steps, errors)
    assert 5 - 0.5 <= order <= 5 + 2, (order, steps, errors)
