"""Smoke run of bench/sweep_scaling.py: it runs and reports what it claims to."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("distributed")
pytest.importorskip("xarray")
pytest.importorskip("zarr")

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_sweep_scaling_bench_quick():
    out = subprocess.run([sys.executable, str(BENCH / "sweep_scaling.py"), "--quick"],
                         capture_output=True, text=True, check=True, timeout=600)
    res = json.loads(out.stdout)
    assert res["benchmark"] == "sweep_scaling" and res["rounds"] == 1
    assert res["seconds_1_worker"] > 0 and res["seconds_2_workers"] > 0
    assert res["speedup"] == pytest.approx(res["seconds_1_worker"] / res["seconds_2_workers"])
    assert 0 < res["scheduler_only_per_task_ms"] and 0 < res["overhead_per_task_ms"]
    assert res["overhead_met"] == (res["overhead_per_task_ms"] <= 50.0)
