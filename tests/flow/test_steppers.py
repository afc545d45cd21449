"""The exact engines' two steppers (flowlab._flow._stepper): the explicit, event-driven
Dormand-Prince stepper and Radau IIA take the same decisions, the automatic choice
switches where the flow turns stiff, a forced explicit stepper stops on a stiff flow,
and the explicit path holds no P x P array."""

import json
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import flowlab as fl
from flowlab._problem import Problem
from flowlab.experiments import condense_5d, plateau_five_points


def _events(sol):
    return [(int(e.neuron), int(e.point), str(e.kind), int(e.side)) for e in sol.events]


def _plateau_sine():
    x = np.linspace(-1, 1, 100)
    return fl.init.he(10, seed=1), x, np.sin(np.pi * x)


def _condense_5d():
    X, y = condense_5d.data(0, times_x=True)
    net = fl.init.small_gaussian(condense_5d.WIDTH, condense_5d.D, condense_5d.STD ** 2,
                                 activation="relu", seed=1)
    return net, X, y


CASES = {
    # (problem, t_end, flow options): plateau-sine through its 200 events and 16 slides;
    # plateau-five-points (Ainsworth & Shin 2021, Fig. 4) to full training; condense-5d's
    # relu network (d = 5) through 500 crossings and slides of its initial stage
    "plateau-sine": (_plateau_sine, 1e5, dict(loss="sum")),
    "plateau-five-points": (lambda: (fl.init.he(8, seed=0), *plateau_five_points.data()),
                            1e5, dict(loss="sum")),
    "condense-5d": (_condense_5d, 0.3, dict(loss="mean", rtol=1e-8, atol=1e-10)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_auto_takes_the_same_decisions_as_radau(name):
    """Same event sequence (kinds, neurons, points, sides) and parameters within 10 rtol
    of their size, whichever stepper integrates which stretch."""
    make, T, opts = CASES[name]
    net, x, y = make()
    auto = fl.flow(net, x, y, T, progress=False, **opts)
    radau = fl.flow(net, x, y, T, stepper="radau", progress=False, **opts)
    assert auto.status == radau.status == "finished"
    assert auto.info["steps_explicit"] > 0 and radau.info["steps_explicit"] == 0
    assert _events(auto) == _events(radau) and len(auto.events) > 5
    rtol = opts.get("rtol", 1e-10)
    scale = np.abs(radau.theta_final).max()
    assert np.abs(auto.theta_final - radau.theta_final).max() <= 10 * rtol * scale
    for t in np.linspace(0.1, 0.9, 5) * T:
        assert np.abs(auto.theta_at(t) - radau.theta_at(t)).max() <= 10 * rtol * scale


def test_auto_hands_the_stiff_stretch_to_radau_and_records_it():
    net, x, y = _plateau_sine()
    sol = fl.flow(net, x, y, 1e5, progress=False)
    (t_s, to, hl), = sol.info["stepper_switches"]
    assert to == "radau" and 1.0 < t_s < 100.0 and hl > 0.8 * 3.3
    assert sol.info["steps_explicit"] + sol.info["steps_radau"] == sol.nsteps
    # the stiffness was confirmed by power iteration on the stage Hessian-vector product
    # (tests/flow/test_hvp.py): it agrees with the estimate from two stages of one step,
    # and with the dense Hessian of the loss there (sliding knots project a few
    # directions out of the stage Hessian, so that one is larger)
    checks = sol.info["lambda_max_power"]          # every suspicion; the last confirmed
    (t_p, lam_stages, lam_pow) = checks[-1]
    assert t_p == t_s and all(np.isfinite(lam) and lam > 0 for _, _, lam in checks)
    assert abs(lam_pow - lam_stages) <= 5e-2 * lam_pow       # 4% at the switch (t = 5.35)
    prob = Problem(net, x, y, "sum")
    th = sol.theta_at(t_p)
    lam = np.abs(np.linalg.eigvalsh(prob.hess(th[prob.user_index]))).max()
    assert 0.8 * lam <= lam_pow <= 1.001 * lam


def test_a_forced_explicit_stepper_on_a_stiff_flow_stops_and_says_why():
    net, x, y = _plateau_sine()
    with pytest.warns(RuntimeWarning, match="stiff"):
        sol = fl.flow(net, x, y, 1e5, stepper="explicit", progress=False)
    assert sol.status == "stiff" and not sol.success
    assert "lambda_max" in sol.message and "stepper='auto'" in sol.message
    assert sol.t_final < 100.0 and sol.nsteps < 20_000
    assert sol.info["steps_radau"] == 0


def test_stepper_option_is_checked():
    net, x, y = _plateau_sine()
    with pytest.raises(ValueError, match="stepper"):
        fl.flow(net, x, y, 1.0, stepper="implicit")
    with pytest.raises(ValueError, match="stepper"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fl.flow(net, x, y, 1.0, method="RK45", stepper="explicit")


def test_the_explicit_path_holds_no_p_by_p_array():
    """A 1-d network of width 10^4 (P = 30,000: one P x P array would take 7.2 GB) and a
    d = 10 network of width 2,000 (P = 24,000) flow on the explicit stepper in a fresh
    process whose peak memory grows by far less than one such array."""
    code = textwrap.dedent("""
        import json, resource, numpy as np, flowlab as fl
        def peak():
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        rng = np.random.default_rng(0)
        x = np.array([-1.0, -0.3, 0.4, 1.0]); y = np.sin(np.pi * x)
        X = rng.normal(size=(50, 10)); Y = np.maximum(X[:, 0], 0.0)
        def nets(n):
            return (fl.TwoLayer(rng.normal(size=(n, 2)), rng.normal(size=n) / np.sqrt(n), "relu"),
                    fl.TwoLayer(np.column_stack([rng.normal(size=(n, 10)) / np.sqrt(10),
                                                 np.zeros(n)]),
                                rng.normal(size=n) / np.sqrt(n), "relu"))
        for one, ten in (nets(20), nets(20)):             # compile / load the kernels
            fl.flow(one, x, y, 1e-3, loss="mean", progress=False)
            fl.flow(ten, X, Y, 1e-3, loss="mean", progress=False)
        one, ten = nets(10_000)[0], nets(2_000)[1]
        base = peak()
        s1 = fl.flow(one, x, y, 2e-3, loss="mean", progress=False)
        s2 = fl.flow(ten, X, Y, 2e-3, loss="mean", progress=False)
        print(json.dumps({"growth": peak() - base, "P": [one.n_params, ten.n_params],
                          "radau_steps": [s1.info["steps_radau"], s2.info["steps_radau"]],
                          "steps": [s1.nsteps, s2.nsteps],
                          "status": [s1.status, s2.status]}))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["status"] == ["finished", "finished"] and min(r["steps"]) > 0
    assert r["radau_steps"] == [0, 0]
    smallest = 8 * min(r["P"]) ** 2
    assert r["growth"] < smallest / 8, (r, smallest)


@pytest.mark.parametrize("stepper", ["explicit", "radau"])
def test_both_steppers_match_scipy_before_the_first_event(stepper):
    """On the smooth stretch before the first event, either stepper's dense output
    equals scipy's Radau at a tight tolerance, to the requested tolerance."""
    rng = np.random.default_rng(11)
    X = rng.uniform(-1, 1, (30, 2))
    y = np.sin(X.sum(axis=1))
    net = fl.TwoLayer(rng.normal(size=(5, 3)), rng.normal(size=5), "relu")
    sol = fl.flow(net, X, y, 2.0, stepper=stepper, progress=False)
    t1 = 0.999 * sol.events.t[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = fl.flow(net, X, y, t1, method="Radau", rtol=1e-12, atol=1e-14, progress=False)
    scale = np.abs(ref.theta_final).max()
    assert np.abs(sol.theta_at(t1) - ref.theta_final).max() <= 1e-8 * scale
