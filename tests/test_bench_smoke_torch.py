"""Smoke run of bench/torch_flow_vs_gd.py: it runs and reports what it claims to."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_torch_flow_vs_gd_bench_quick():
    out = subprocess.run([sys.executable, str(BENCH / "torch_flow_vs_gd.py"), "--quick"],
                         capture_output=True, text=True, check=True, timeout=600)
    res = json.loads(out.stdout)
    assert res["benchmark"] == "torch_flow_vs_gd" and res["quick"] is True
    flow, gd = res["flow"], res["gd"]
    # the flow is accurate, and gradient descent was held to 1e-3 of it
    assert flow["max_rel_err_vs_reference"] < 1e-4
    assert gd["max_rel_dev"] <= 1e-3
    assert gd["calibration"]["max_rel_dev"] > 0
    assert gd["steps"] == pytest.approx(res["problem"]["T"] / gd["lr"])
    assert res["ratio_gd_over_flow"] == pytest.approx(gd["seconds"] / flow["seconds"])
    assert flow["gradients"] > 0 and flow["spectral_radius"] > 0
    assert res["met"] == (res["ratio_gd_over_flow"] >= res["target"])
