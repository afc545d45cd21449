"""Measures of the work-precision suite on problems with a known answer."""

import numpy as np
import pytest

import flowlab.bench as flb
from flowlab.bench.setups import SETUPS, Outcome, Setup


def test_relative_and_dense_errors_known_values():
    ref = np.array([[3.0, 4.0], [0.0, 2.0], [1.0, 0.0]])
    theta = ref.copy()
    theta[0] += [0.0, 0.5]      # 0.5 / 5 = 0.1
    theta[1] += [0.02, 0.0]     # 0.02 / 2 = 0.01
    theta[2] += [0.0, 0.001]    # 0.001 / 1
    e = flb.relative_errors(theta, ref)
    assert e == pytest.approx([0.1, 0.01, 0.001], rel=1e-12)
    m = flb.error_measures(theta, ref)
    assert m["error"] == pytest.approx(0.001, rel=1e-12)
    assert m["error_dense_max"] == pytest.approx(0.1, rel=1e-12)
    assert m["error_dense_l2"] == pytest.approx(np.sqrt((0.01 + 1e-4 + 1e-6) / 3), rel=1e-12)
    # a run that stopped early has no error (NaN), not a partial one
    assert all(np.isnan(v) for v in flb.error_measures(theta[:2], ref).values())
    assert flb.loss_error(1.1, 1.0) == pytest.approx(0.1)


def test_loglog_slope_and_errors_fall():
    x = np.array([1e-3, 1e-2, 1e-1, 1.0])
    assert flb.loglog_slope(x, 3 * x ** 2) == pytest.approx(2.0, abs=1e-12)
    # points at or below the floor are left out of the fit
    assert flb.loglog_slope(x, [1e-16, 1e-4, 1e-2, 1.0], floor=1e-12) == pytest.approx(2.0)
    assert np.isnan(flb.loglog_slope([1.0], [1.0]))
    assert flb.errors_fall([1e-3, 1e-5, np.nan, 1e-7], floor=1e-12)
    assert not flb.errors_fall([1e-3, 1e-5, 1e-4], floor=1e-12)
    assert flb.errors_fall([1e-3, 5e-13, 8e-13], floor=1e-12)    # both at the floor


def _scaled_closed_form(factor):
    """A setup returning the closed-form flow scaled by ``factor`` (a known error)."""
    def run(inst, value, times, limits):
        return Outcome("finished", "closed form", inst.exact(times) * factor, nfev=7)
    return Setup(f"scaled-{factor}", "peer", "tol", run, lambda inst: None)


def test_measures_on_the_closed_form_problem(tmp_path):
    """linear-features: errors of a known size are measured as that size, against the
    closed form and against the cached reference alike."""
    for f in (1.001, 1 + 1e-7):
        SETUPS[f"scaled-{f}"] = _scaled_closed_form(f)
    try:
        inst = flb.get_problem("linear-features").instance(quick=True)
        inst.tols = (1e-4,)
        res = flb.run_bench(inst, out=tmp_path, setups=["scaled-1.001", f"scaled-{1 + 1e-7}"],
                            cache_dir=tmp_path / "cache", plots=False)
    finally:
        for f in (1.001, 1 + 1e-7):
            SETUPS.pop(f"scaled-{f}", None)
    rows = {r["setup"]: r for r in res["rows"]}
    for name, size in (("scaled-1.001", 1e-3), (f"scaled-{1 + 1e-7}", 1e-7)):
        r = rows[name]
        assert r["status"] == "finished" and r["nfev"] == 7
        for key in ("error", "error_dense_l2", "error_dense_max"):
            assert r[f"{key}_closed_form"] == pytest.approx(size, rel=1e-8)
            assert r[key] == pytest.approx(size, rel=1e-4)     # the reference is that close
        assert r["loss_error"] > 0
    ref = res["reference"]
    assert ref["method"] == "Radau" and ref["tol"] == 1e-13
    assert ref["error_vs_closed_form"]["dense_max"] < 1e-10
    assert all(c["holds"] for c in res["checks"]), res["checks"]
    assert (tmp_path / "work_precision.json").exists()


def test_closed_form_and_reference_errors_agree_and_gd_is_first_order(tmp_path):
    """Acceptance: the closed-form problem's errors agree with the reference-based ones;
    errors fall as tolerances tighten; GD is first order where the flow is smooth."""
    res = flb.run_bench("linear-features", quick=True, out=tmp_path,
                        setups=["RK45", "Radau", "LSODA", "ERK853", "gd"],
                        cache_dir=tmp_path / "cache", plots=False)
    checks = {c["what"].split(" (")[0][:40]: c for c in res["checks"]}
    assert all(c["holds"] for c in res["checks"]), res["checks"]
    assert any("closed form" in c["what"] and c["measured"]["rows_compared"] >= 12
               for c in res["checks"])
    gd = res["orders"]["gd"]
    assert 0.95 <= gd["order_lr"] <= 1.05
    assert len(checks) >= 4


@pytest.mark.parametrize("name", ["plateau-sine", "linear-features", "relu-teacher-10d"])
def test_measurement_times_lie_on_every_learning_rate_grid(name):
    """GD at each rung has an iterate exactly at every measurement time."""
    for quick in (True, False):
        inst = flb.get_problem(name).instance(quick=quick)
        t = inst.times()
        assert t.size == 100 and np.all(np.diff(t) > 0) and t[-1] == inst.t_end
        for lr in inst.lrs:
            k = t / lr                      # integers, to the rounding of t = k0 lrs[0]
            assert np.all(np.abs(k - np.round(k)) <= 1e-12 * k) and np.all(np.round(k) >= 1)


def test_instance_rejects_a_span_off_the_grid():
    inst = flb.get_problem("tanh-sine").instance(quick=True)
    import dataclasses
    with pytest.raises(ValueError, match="multiple of the largest learning rate"):
        dataclasses.replace(inst, t_end=inst.t_end + inst.lrs[0] / 3)


def test_markdown_table_of_a_result():
    rows = [{"setup": "A", "sweep": "tol", "tol": 1e-4, "status": "finished", "error": 2e-5,
             "seconds": 0.5, "nfev": 10},
            {"setup": "A", "sweep": "tol", "tol": 1e-8, "status": "finished", "error": 3e-10,
             "seconds": 2.0, "nfev": 40},
            {"setup": "B", "sweep": "tol", "tol": 1e-4, "status": "timeout", "error": None,
             "seconds": 1.5, "nfev": 0}]
    lines = flb.markdown_table({"rows": rows}).splitlines()
    assert lines[2].split(" | ")[1:8] == ["3e-10", "tol 1e-08", "2", "40", "2", "2", "2/2"]
    assert "timeout at 1e-04" in lines[3] and "0/1" in lines[3]
