"""No hang and no silent wrong answer: start checks, the watchdog and the monotonicity check.

Every call that used to hang runs under a time bound (tests/timebound.py), so that
a regression fails the test instead of stalling the suite.
"""

import warnings

import numpy as np
import pytest

import flowlab as fl
from flowlab._kernels import erk as _ke
from flowlab._problem import Problem
from flowlab._flow import _guard
from flowlab._flow.compiled import COMPILED, _tableau, kernel_problem

from ..timebound import within

ALL = ("RK23", "RK45", "DOP853", "Radau", "BDF", "LSODA", "ERK45", "ERK853")
X5 = np.linspace(-1, 1, 5)


def _nan_net():
    """Finite weights whose loss is NaN at t = 0: cos(1e308 x + 1e308) overflows."""
    return fl.TwoLayer([[1e308, 1e308]], [1.0], "cos")


def _tanh_problem():
    x = np.linspace(-1, 1.5, 40)
    y = np.sin(3 * x) + 0.5 * np.sin(6 * x)
    return fl.init.xavier(20, 1, activation="tanh", seed=0), x, y


@pytest.mark.parametrize("method", ALL)
def test_non_finite_start_is_refused_at_once(method):
    """Issue case: a NaN loss at t = 0 made RK23/RK45/DOP853/ERK45 loop forever and LSODA
    report "finished" with NaN losses; every method now refuses it, naming the loss."""
    with pytest.raises(ValueError, match=r"loss at the start.*not finite.*overflow"):
        within(30, fl.flow, _nan_net(), X5, np.sin(X5), 0.1, method=method, progress=False)


@pytest.mark.parametrize("method", ["RK45", "DOP853", "ERK45", "ERK853", "Radau"])
def test_bad_first_step_is_refused(method):
    net = fl.TwoLayer([[1.0, 0.5]], [1.0], "tanh")
    with pytest.raises(ValueError, match="`first_step` must be finite"):
        within(30, fl.flow, net, X5, np.sin(X5), 0.1, method=method, first_step=np.nan)
    with pytest.raises(TypeError, match="`first_step` must be a real number"):
        fl.flow(net, X5, np.sin(X5), 0.1, method=method, first_step="a")
    with pytest.raises(ValueError, match="`first_step` must be > 0"):
        fl.flow(net, X5, np.sin(X5), 0.1, method=method, first_step=-1.0)
    with pytest.raises(ValueError, match="`max_step` must be > 0"):
        fl.flow(net, X5, np.sin(X5), 0.1, method=method, max_step=np.nan)


def test_compiled_kernel_stops_on_a_nan_step_size():
    """The compiled ERK loop (which Ctrl-C cannot reach) returns when its step size is NaN
    instead of spinning: its watchdog compares h with 10 ulp of t NaN-safely."""
    net, x, y = _tanh_problem()
    prob = Problem(net, x, y, loss="mean")
    kind, cls, degree = COMPILED["ERK45"]
    kp = kernel_problem(prob)
    u = prob.u0.copy()
    f = np.empty(u.size)
    _ke.rhs(kp, u, f)
    out = (np.empty(8), np.empty((8, u.size)), np.empty((0, degree + 1, u.size)))
    code, k, t, h = within(60, _ke.advance, kind, _tableau(cls, kind),
                           int(cls.error_estimator_order), kp, 0.0, 1.0, u, f, np.nan,
                           1e-8, 1e-10, np.inf, -1.0, -1.0, 8, False,
                           np.linspace(0, 1, degree + 1), *out,
                           np.zeros(_ke.STATS_SIZE, np.int64), np.zeros(2), False)
    assert code == _ke.TOO_SMALL and k == 0 and t == 0.0


def test_watchdog_names_the_quantity():
    dog = _guard.Watchdog(0.0, 1.0)
    with pytest.raises(_guard.StopRun, match="parameters became non-finite.*index 1"):
        dog.check(0.0, 0.1, np.array([0.0, np.nan]))
    with pytest.raises(_guard.StopRun, match="loss became non-finite"):
        dog.check(0.0, 0.1, np.zeros(2), loss=np.inf)
    with pytest.raises(_guard.StopRun, match="step size h = .* below 10 units in the last place"):
        dog.check(1.0, 1.0 + 2e-16, np.zeros(2))
    dog.check(0.0, 0.1, np.zeros(2), loss=1.0)          # a normal step passes


def test_chattering_explicit_run_stops_before_it_exhausts_memory(monkeypatch):
    """ERK45/RK45 on a ReLU network chatter across a sliding surface with steps of 1e-8:
    before, such a run grew until the machine ran out of memory (all lost); now the
    watchdog projects the storage and stops with status "failed", keeping the steps.
    (A limit of 16 MB: the run's projection, some 190 GB, is beyond 1000 times it.)"""
    monkeypatch.setattr(_guard, "MEMORY_LIMIT", 2.0 ** 24)
    monkeypatch.setattr(_guard, "WINDOW", 1024)
    x = np.linspace(-1, 1, 7)
    net = fl.ReLU1D([-0.5, 0.1, 0.6], [0.3, -0.2, 0.5], w=[1.0, -1.0, 1.0])
    for method in ("ERK45", "RK45"):
        with pytest.warns(RuntimeWarning, match="cannot finish"):
            sol = within(120, fl.flow, net, x, np.sin(3 * x), 5.0, method=method,
                         progress=False)
        assert sol.status == "failed" and not sol.success
        assert "steps have length about" in sol.message and "method='exact'" in sol.message
        assert sol.t_final < 5.0 and np.all(np.isfinite(sol.theta))
        assert sol.t[-1] == sol.t_final and sol.nsteps > 0


def test_overflowing_run_fails_with_a_message():
    """LSODA with a vacuous atol blows the state up; it used to finish "successfully";
    now the loss rise is reported (and overflow would stop the run as "failed")."""
    net, x, y = _tanh_problem()
    with pytest.warns(_guard.LossRiseWarning, match="atol = 1e\\+10"):
        sol = within(60, fl.flow, net, x, y, 1e4, method="LSODA", atol=1e10, progress=False)
    assert not sol.info["monotone"]["holds"]


def test_loss_rise_with_vacuous_atol_is_reported():
    """Issue case: atol = 1e10 with RK45 reported "finished" while the loss rose from
    0.3 to 4e7.  The monotonicity check flags it and names the tolerances."""
    net, x, y = _tanh_problem()
    with pytest.warns(_guard.LossRiseWarning) as rec:
        sol = fl.flow(net, x, y, 10.0, method="RK45", atol=1e10, loss="mean", progress=False)
    text = str(rec[0].message)
    assert "rtol = 1e-10" in text and "atol = 1e+10" in text and "cannot rise" in text
    mono = sol.info["monotone"]
    assert mono["holds"] is False and mono["rise"] > 1.0 and mono["atol"] == 1e10
    assert mono["atol_used"] == 0.0 and mono["at"][0] < mono["at"][1]


@pytest.mark.parametrize("method", ["RK45", "Radau", "ERK853", "LSODA"])
def test_accurate_runs_pass_the_monotonicity_check(method):
    net, x, y = _tanh_problem()
    with warnings.catch_warnings():
        warnings.simplefilter("error", _guard.LossRiseWarning)
        sol = fl.flow(net, x, y, 5.0, method=method, loss="mean", rtol=1e-8, atol=1e-10,
                      progress=False)
    mono = sol.info["monotone"]
    assert mono["holds"] and mono["rtol"] == 1e-8 and mono["atol"] == 1e-10
    assert mono["checked"] == sol.t.size - 1


def test_monotonicity_tolerance_is_derived_from_the_tolerances():
    """A rise is accepted up to k sqrt(P) ||g * (atol + rtol |u|)|| (plus rounding) and
    flagged beyond it."""
    net, x, y = _tanh_problem()
    prob = Problem(net, x, y)
    u = prob.u0
    g = prob.grad(u)
    rtol, atol = 1e-6, 1e-8
    tol = np.sqrt(u.size) * np.linalg.norm(g * (atol + (rtol + np.finfo(float).eps) * np.abs(u)))
    L = prob.loss(u)
    for rise, holds in ((0.5 * tol, True), (3.0 * tol, False)):
        mono = _guard.monotonicity(np.array([0.0, 1.0]), np.array([u, u]),
                                   np.array([L, L + rise]), prob, rtol, atol)
        assert mono["holds"] is holds
        if not holds:
            assert mono["tolerance"] == pytest.approx(tol + 16 * x.size * np.finfo(float).eps
                                                      * (L + rise), rel=1e-12)


def test_gd_on_a_nan_network_names_the_overflow_not_the_learning_rate():
    with pytest.raises(ValueError, match="not finite.*before the first iteration.*no learning"):
        fl.train.gd(_nan_net(), X5, np.sin(X5), lr=1e-3, steps=10)


def test_overflow_in_the_exact_flow_is_named():
    """Issue case: weights or data near 1e300 surfaced as numba's LinAlgError or as
    "step size underflow"; now the overflow is named: before the run when the loss
    overflows, as a "failed" status naming the Jacobian when only the Hessian does, and
    a hopelessly scaled run (steps of 1e-95 at x ~ 1e100) stops instead of running on."""
    net1 = fl.ReLU1D([0.0, 0.5], [1.0, -1.0])
    # the explicit stepper (the default's first choice) needs no Jacobian: its steps
    # underflow and the message names the scale of x; Radau names the Jacobian
    with pytest.warns(RuntimeWarning, match="underflow.*largest \\|x\\| 1e\\+155: rescale"):
        sol = within(60, fl.flow, net1, X5 * 1e155, np.sin(X5), 1.0, progress=False)
    assert sol.status == "failed"
    with pytest.warns(RuntimeWarning, match="Jacobian .* is not finite"):
        sol = within(60, fl.flow, net1, X5 * 1e155, np.sin(X5), 1.0, progress=False,
                     stepper="radau")
    assert sol.status == "failed"
    with pytest.warns(RuntimeWarning, match="cannot finish.*badly scaled"):
        sol = within(60, fl.flow, net1, X5 * 1e100, np.sin(X5), 1.0, progress=False)
    assert sol.status == "failed" and sol.t_final < 1e-80
    net = fl.ReLU1D([0.0, 0.5], [1e300, -1e300])
    with pytest.raises(ValueError, match="loss at the start.*overflow.*largest \\|parameter\\|"):
        fl.flow(net, X5, np.sin(X5), 1.0, progress=False)
    x2 = np.random.default_rng(0).uniform(-1, 1, (6, 2)) * 1e300
    net2 = fl.TwoLayer(np.ones((2, 3)), np.ones(2), "relu")
    with pytest.raises(ValueError, match="loss at the start.*largest \\|x\\| 9.95e\\+299"):
        fl.flow(net2, x2, np.zeros(6), 1.0, progress=False)


def test_a_tight_long_run_whose_steps_grow_is_not_stopped(monkeypatch):
    """plateau-sine (Ainsworth & Shin 2021) at rtol 1e-13 to t = 1e5: its steps are 5e-5
    long at t = 0.5 and 0.2 at t = 2000, so projecting the first windows' step size to
    t_end overestimates the storage some 10^4 times; with a memory limit of 128 MB (it
    stores about 40 MB) the run must still finish.  Before the projection had a margin,
    the default limit stopped this run at t = 25.8 ("cannot finish")."""
    monkeypatch.setattr(_guard, "MEMORY_LIMIT", 2.0 ** 27)
    x = np.linspace(-1.0, 1.0, 100)
    sol = fl.flow(fl.init.he(10, seed=0), x, np.sin(np.pi * x), 1e5, rtol=1e-13, atol=1e-15,
                  stepper="radau", progress=False)
    assert sol.status == "finished" and sol.nsteps > 3 * _guard.WINDOW
