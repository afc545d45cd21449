"""The Runge-Kutta-Chebyshev integrator: order, stability interval, Lanczos radius."""

import numpy as np
import pytest

pytest.importorskip("torch")

from flowlab.torch.rkc import (RKCSolver, rkc_coefficients, spectral_radius,  # noqa: E402
                               stability_bound, stages_for)


def _stability_polynomial(s, z):
    """R(z) of the s-stage scheme applied to y' = lambda y, z = h lambda."""
    co = rkc_coefficients(s)
    y0 = 1.0
    Y = [y0, y0 + co["mut"][1] * z * y0]
    for j in range(2, s + 1):
        Y.append((1 - co["mu"][j] - co["nu"][j]) * y0 + co["mu"][j] * Y[-1] + co["nu"][j] * Y[-2]
                 + co["mut"][j] * z * Y[-1] + co["gat"][j] * z * y0)
    return Y[-1]


@pytest.mark.parametrize("s", [2, 5, 13])
def test_stability_interval_and_second_order(s):
    beta = stability_bound(s)
    assert 0.49 * s ** 2 < beta < 0.667 * s ** 2    # -> 0.653 s^2 as s grows
    z = -np.linspace(0.0, beta, 2001)
    R = np.array([_stability_polynomial(s, zz) for zz in z])
    assert np.all(np.abs(R) <= 1.0 + 1e-12)                # stable on [-beta(s), 0]
    assert abs(_stability_polynomial(s, -1.3 * beta)) > 1.0   # and not much beyond
    for zz in (1e-3, -1e-3):                                  # R(z) = 1 + z + z^2/2 + O(z^3)
        assert abs(_stability_polynomial(s, zz) - (1 + zz + zz ** 2 / 2)) < 1e-8
    assert stages_for(beta * 0.9) <= s


def _linear_problem(n=40, rho=400.0, seed=0):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    lam = np.concatenate([np.geomspace(0.05, rho, n - 1), [-0.02]])   # one unstable direction
    A = (Q * lam) @ Q.T
    y0 = rng.normal(size=n)

    def exact(t):
        return Q @ (np.exp(-lam * t) * (Q.T @ y0))
    return A, y0, exact


def test_solves_a_stiff_linear_gradient_flow_cheaply():
    A, y0, exact = _linear_problem()

    def rho_fun(y, v0):
        return spectral_radius(lambda v: A @ v, A.shape[0], iters=12, v0=v0)
    T = 10.0
    errs, nfev = [], []
    for rtol in (1e-4, 1e-6):
        sol = RKCSolver(lambda y: -A @ y, rho_fun, y0, 0.0, T, rtol=rtol, atol=rtol * 1e-3)
        while sol.status == "running":
            assert sol.step() is None
        errs.append(np.linalg.norm(sol.y - exact(T)) / np.linalg.norm(exact(T)))
        nfev.append(sol.nfev)
        mid = 0.5 * (sol.t_old + sol.t)                  # cubic Hermite dense output
        dense = sol.dense_values(np.array([mid]))[0]
        assert np.linalg.norm(dense - exact(mid)) < 100 * rtol * np.linalg.norm(exact(mid))
    assert errs[0] < 1e-2 and errs[1] < 1e-4 and errs[1] < errs[0] / 10, errs
    # scipy's RK45 is bound to h < 3.3 / rho whatever the tolerance
    from scipy.integrate import solve_ivp
    rk = solve_ivp(lambda t, y: -A @ y, (0.0, T), y0, method="RK45", rtol=1e-4, atol=1e-7)
    assert nfev[0] < rk.nfev / 3, (nfev, rk.nfev)


def test_lanczos_spectral_radius():
    A, _, _ = _linear_problem(n=60, rho=123.0)
    rho, v = spectral_radius(lambda x: A @ x, 60, iters=20)
    assert rho == pytest.approx(123.0, rel=1e-6)
    assert np.linalg.norm(A @ v - 123.0 * v) < 1e-3 * 123.0


def test_max_stages_caps_the_work_per_step_and_stays_accurate():
    A, y0, exact = _linear_problem(rho=4000.0)

    def rho_fun(y, v0):
        return spectral_radius(lambda v: A @ v, A.shape[0], iters=12, v0=v0)
    T, runs = 10.0, {}
    for cap in (250, 6):
        sol = RKCSolver(lambda y: -A @ y, rho_fun, y0, 0.0, T, rtol=1e-4, atol=1e-7,
                        max_stages=cap)
        while sol.status == "running":
            assert sol.step() is None
        assert np.linalg.norm(sol.y - exact(T)) < 1e-2 * np.linalg.norm(exact(T))
        runs[cap] = sol
    assert runs[6].stages_max <= 6 < runs[250].stages_max
    assert runs[6].nsteps > runs[250].nsteps          # the cap shortens the steps
    with pytest.raises(ValueError, match="max_stages"):
        RKCSolver(lambda y: -A @ y, rho_fun, y0, 0.0, T, rtol=1e-4, atol=1e-7, max_stages=1)
