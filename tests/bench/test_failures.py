"""A failed, slow or raising setup is recorded as a row, never raised."""

import time

import numpy as np

import flowlab.bench as flb
from flowlab.bench.setups import SETUPS, Outcome, Setup


def _raising(inst, value, times, limits):
    raise FloatingPointError("the step size went to zero")


def _failing(inst, value, times, limits):
    return Outcome("failed", "gave up at t = 1", inst.exact(times[:3]), nfev=5)


def _slow(inst, value, times, limits):
    clock = time.perf_counter()
    while time.perf_counter() - clock < 30:      # a setup stepping blindly for minutes
        sum(range(1000))
    return Outcome("finished", "", inst.exact(times))


def test_failures_are_rows(tmp_path):
    table = {"raises": _raising, "fails": _failing, "slow": _slow}
    for name, fn in table.items():
        SETUPS[name] = Setup(name, "peer", "tol", fn, lambda inst: None)
    SETUPS["never"] = Setup("never", "peer", "tol", _raising, lambda inst: "not for this one")
    try:
        inst = flb.get_problem("linear-features").instance(quick=True)
        inst.tols = (1e-4, 1e-6)
        res = flb.run_bench(inst, out=tmp_path, setups=list(table) + ["never"],
                            cache_dir=tmp_path / "cache", time_limit=0.5, warmup_limit=0.5,
                            plots=True)
    finally:
        for name in list(table) + ["never"]:
            SETUPS.pop(name, None)
    rows = [(r["setup"], r["status"]) for r in res["rows"]]
    assert ("raises", "error") in rows and ("fails", "failed") in rows
    assert [s for n, s in rows if n == "slow"] == ["timeout", "skipped"]
    err = next(r for r in res["rows"] if r["setup"] == "raises")
    assert "FloatingPointError" in err["message"] and np.isnan(err["error"])
    failed = next(r for r in res["rows"] if r["setup"] == "fails")
    assert np.isnan(failed["error"]) and failed["t_reached"] > 0
    assert failed["error_at_t_reached"] < 1e-10
    assert res["skipped"] == [{"setup": "never", "reason": "not for this one"}]
    slow = next(r for r in res["rows"] if r["setup"] == "slow")
    assert "time limit of 0.5 s" in slow["message"]
    assert res["setups"]["slow"]["warmup_status"] == "timeout"
    assert (tmp_path / "work_precision_time.png").stat().st_size > 0


def test_bad_arguments_name_the_rule(tmp_path):
    import pytest
    with pytest.raises(ValueError, match="unknown bench problem 'nope'.*--list"):
        flb.run_bench("nope")
    with pytest.raises(ValueError, match="unknown setup.*'foo'"):
        flb.run_bench("plateau-sine", quick=True, setups=["exact", "foo"], out=tmp_path)
    with pytest.raises(TypeError, match="flowlab.bench.Setup"):
        flb.add_setup("RK45")
    with pytest.raises(ValueError, match="registered twice"):
        flb.add_setup(flb.SETUPS["RK45"])


def test_every_flow_method_is_a_setup():
    """The table is data: every method of fl.flow is a setup without further code."""
    import flowlab as fl
    assert set(fl.METHODS) <= set(flb.SETUPS)
    assert {"gd", "adam", "RKC", "exact-nd", "torchdiffeq-dopri5"} <= set(flb.SETUPS)


def test_time_limit_works_where_sigint_is_ignored():
    """A process started in the background ignores SIGINT; the limit must still stop a run."""
    import subprocess
    import sys
    # the child ignores SIGINT as a shell's background job does (set in the child itself:
    # a preexec_fn would fork a process that may hold JAX's threads)
    code = ("import signal, time\n"
            "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
            "from flowlab.bench._limits import call_with_limit\n"
            "def busy():\n"
            "    t = time.perf_counter()\n"
            "    while time.perf_counter() - t < 60:\n"
            "        sum(range(100))\n"
            "    return 'done'\n"
            "res, fired, sec = call_with_limit(busy, 0.3)\n"
            "print(res, fired)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=50)
    assert out.stdout.split() == ["None", "True"], out.stderr
