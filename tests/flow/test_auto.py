"""``method="auto"``, the default for smooth networks: ERK853 while the flow is not
stiff, Radau IIA on the stiff stretches where Radau pays, each switch recorded."""

import numpy as np
import pytest

import flowlab as fl
from flowlab._problem import Problem
from flowlab._flow.solve import default_method
from flowlab._flow import auto as _auto

X = np.linspace(-1.0, 1.5, 40)
Y = np.sin(3 * X) + 0.5 * np.sin(6 * X)


def _tanh(width=20):
    return fl.init.xavier(width, 1, activation="tanh", seed=0, bound=1.0)


def test_auto_is_the_default_for_smooth_networks_and_exact_for_relu():
    assert default_method(_tanh()) == "auto"
    assert default_method(fl.init.he(3, seed=0)) == "exact"
    sol = fl.flow(_tanh(), X, Y, 1.0, loss="mean", progress=False)
    assert sol.method == "auto" and sol.status == "finished"
    assert sol.info["explicit_method"] == "ERK853"
    x = np.linspace(-1, 1, 6)                       # the automatic choice for relu: exact
    assert fl.flow(fl.init.he(3, seed=0), x, np.sin(x), 0.1, method="auto").method == "exact"


def test_a_flow_that_is_never_stiff_takes_erk853s_steps_exactly():
    """The stiffness test only watches: where it never fires for long, auto is ERK853
    step for step (the same floating-point operations)."""
    net = _tanh()
    a = fl.flow(net, X, Y, 5.0, loss="mean", progress=False)
    e = fl.flow(net, X, Y, 5.0, loss="mean", method="ERK853", progress=False)
    assert a.info["stepper_switches"] == [] and a.info["steps_radau"] == 0
    assert np.array_equal(a.t, e.t) and np.array_equal(a.theta, e.theta)


def test_stiff_training_goes_to_radau_and_matches_a_tight_reference():
    """tanh width 20 trained to t = 2e4: the flow turns stiff near t = 790 (h lambda_max at
    ERK853's bound); Radau takes the rest (610 steps to t = 2e4, where ERK853 takes
    about 31,000), and the result matches a tight reference."""
    net, T = _tanh(), 2e4
    sol = fl.flow(net, X, Y, T, loss="mean", progress=False, dense=False)
    ref = fl.flow(net, X, Y, T, loss="mean", method="ERK853", rtol=1e-13, atol=1e-15,
                  progress=False, dense=False)
    (t_switch, to, hl), *rest = sol.info["stepper_switches"]
    assert to == "Radau" and 500 < t_switch < 1000 and hl >= 0.8 * 6.1
    assert sol.info["steps_radau"] < 1000 and sol.nsteps < 3000 and sol.njev > 0
    np.testing.assert_allclose(sol.theta_final, ref.theta_final, rtol=0, atol=1e-9)
    assert all(np.isfinite(v) and v > 0 for v in sol.info["lambda_max_power"])


def test_radau_hands_back_where_it_does_not_pay():
    """condense-1d's x^2 tanh network from its small initialisation (Zhou et al. 2022):
    stiff by Hairer's test near the end of its initial stage; Radau takes the stiff
    stretch and hands back to ERK853 where its settled steps are less than cost_ratio(P)
    times the explicit bound, and is tried again only after many explicit steps."""
    net = fl.init.small_gaussian(100, 1, 0.005 ** 2, activation="x2tanh", seed=0)
    sol = fl.flow(net, X, Y, 1.35e4, loss="mean", progress=False, dense=False)
    sw = sol.info["stepper_switches"]
    assert 2 <= len(sw) <= 6 and [s[1] for s in sw] == ["Radau", "ERK853"] * (len(sw) // 2)
    assert all(hl < _auto.cost_ratio(net.n_params) * 6.1 for _, to, hl in sw if to == "ERK853")
    assert all(hl >= 0.8 * 6.1 for _, to, hl in sw if to == "Radau")
    assert 0 < sol.info["steps_radau"] < sol.info["steps_explicit"]
    ref = fl.flow(net, X, Y, 1.35e4, loss="mean", method="ERK853", rtol=1e-13, atol=1e-15,
                  progress=False, dense=False)
    np.testing.assert_allclose(sol.theta_final, ref.theta_final, rtol=0, atol=1e-7)


def test_options_of_flow_hold_in_auto():
    net = _tanh()
    with pytest.warns(RuntimeWarning, match="max_steps = 1500"):
        sol = fl.flow(net, X, Y, 2e4, loss="mean", max_steps=1500, progress=False)
    assert sol.status == "max_steps" and sol.nsteps == 1500
    more = fl.resume(sol, progress=False)
    assert more.method == "auto" and more.status == "finished" and more.t_final == 2e4
    te = np.linspace(0, 10, 11)
    sol = fl.flow(net, X, Y, 10.0, loss="mean", t_eval=te, progress=False)
    assert np.array_equal(sol.t, te)
    sol = fl.flow(net, X, Y, 1e6, loss="mean", gtol=1e-3, progress=False)
    prob = Problem(sol.net, X, Y, loss="mean")
    assert sol.status == "steady_state" and sol.t_final < 1e6
    assert np.linalg.norm(prob.grad(prob.u0)) < 1e-3


def test_the_cost_ratio_grows_with_the_size():
    assert _auto.cost_ratio(10) == _auto.cost_ratio(300) == 3.0
    assert _auto.cost_ratio(1200) == pytest.approx(24.0)


def test_a_forced_explicit_method_on_a_stiff_flow_stops_and_says_why():
    """ERK853 forced on a flow that turns stiff, to t = 1e9: about 6e9 steps at the
    stability bound would be needed; the run stops with status "stiff" at once, naming
    lambda_max and method='auto'.  With a short t_end it just finishes."""
    net = _tanh()
    with pytest.warns(RuntimeWarning, match="stiff"):
        sol = fl.flow(net, X, Y, 1e9, loss="mean", method="ERK853", progress=False)
    assert sol.status == "stiff" and not sol.success and sol.t_final < 2e3
    assert "lambda_max" in sol.message and "method='auto'" in sol.message
    assert sol.nsteps < 50_000
    short = fl.flow(net, X, Y, 2e3, loss="mean", method="ERK853", progress=False)
    assert short.status == "finished"
