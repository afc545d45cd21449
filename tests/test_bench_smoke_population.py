"""Smoke run of bench/population_hessian.py: it runs and reports what it claims to."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_population_hessian_bench_quick():
    out = subprocess.run([sys.executable, str(BENCH / "population_hessian.py"), "--quick"],
                         capture_output=True, text=True, check=True, timeout=600)
    res = json.loads(out.stdout)
    assert res["benchmark"] == "population_hessian" and res["quick"] is True
    assert {c["activation"] for c in res["cases"]} == {"relu", "erf"}
    for c in res["cases"]:
        # the same Hessian from both contenders, and the ratio is what was measured
        assert c["hessian_max_rel_diff"] <= 1e-10 and c["loss_rel_diff"] <= 1e-12
        assert c["ratio_min"] <= c["ratio_median"] <= c["ratio_max"]
        assert c["flowlab_s"] > 0 and c["torch_s"] > 0
    assert res["agree"] is True
    assert res["met"] == (res["worst_median_ratio"] >= res["target"])
