"""Smoke runs of the exact-flow benchmark scripts."""

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _run(script, *args):
    out = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True,
                         text=True, check=True, timeout=900)
    return json.loads(out.stdout)


def test_exact_vs_gd_quick():
    res = _run("exact_vs_gd.py", "--quick")
    row = res["exact"]["rtol=1e-10"]
    assert row["status"] == "finished" and row["events"] > 10 and row["seconds"] > 0
    assert res["gd"]["iterations_per_s"] > 0 and "met_speedup" in row


def test_stage_rhs_quick():
    res = _run("stage_rhs.py", "--quick")
    assert set(res["stage_rhs_us"]) == {"100", "100000"}
    assert res["speedup_vs_dense"] > 1


def test_exact_nd_vs_scipy_quick():
    res = _run("exact_nd_vs_scipy.py", "--quick", "--repeats", "1")
    assert res["exact"]["status"] == res["scipy_rk45"]["status"] == "finished"
    assert res["exact"]["events"] > 10 and res["ratio_scipy_over_exact"] > 0
    assert res["max_rel_param_difference"] < 1e-3


def test_wide_flows_one_problem():
    out = subprocess.run([sys.executable, str(BENCH / "wide_flows.py"), "--only", "1d-ntk-100",
                          "--rounds", "1", "--no-memory"], capture_output=True, text=True,
                         check=True, timeout=900)
    row = json.loads(out.stdout.strip().splitlines()[-1])["1d-ntk-100"]
    assert row["P"] == 300 and row["exact"]["status"] == "finished"
    assert row["exact"]["steps_explicit"] + row["exact"]["steps_radau"] == row["exact"]["steps"]
    assert row["radau"]["seconds"] > 0 and row["ratio_gd0.001_over_exact"] > 0


def test_smooth_auto_quick():
    out = subprocess.run([sys.executable, str(BENCH / "smooth_auto.py"), "--quick"],
                         capture_output=True, text=True, check=True, timeout=900)
    row = json.loads(out.stdout.strip().splitlines()[-1])["tanh-20"]
    assert set(row) >= {"auto", "ERK853", "DOP853", "Radau", "auto_over_DOP853"}
    assert all(row[m]["error"] < 1e-8 for m in ("auto", "ERK853", "DOP853", "Radau"))
    assert row["auto"]["switches"][0][1] == "Radau"          # stiff from t = 789 on
