"""Smoke run of the ANLS and GD benchmark scripts: they run and report what they claim."""

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _run(script, *args):
    out = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True,
                         text=True, check=True, timeout=600)
    return json.loads(out.stdout)


def test_cod_update_bench_quick():
    res = _run("anls_cod_vs_lstsq.py", "--quick")
    assert (res["n"], res["m"]) == (300, 1000) and res["candidates"] > 100
    assert res["max_rel_diff_vs_lstsq"] < 1e-9
    assert res["cod_update_all_s"] > 0 and res["lstsq_all_s"] > 0
    assert res["speedup"] == res["lstsq_all_s"] / res["cod_update_all_s"]
    assert "speedup_met" in res and "iteration_met" in res and res["blas_threads"] == 1


def test_gd_bench_quick():
    res = _run("gd_relu1d.py", "--quick")
    gd = res["results"][0]
    assert gd["method"] == "gd" and (gd["n"], gd["m"]) == (10, 100)
    assert gd["max_param_diff"] < 1e-10
    assert gd["seed_model_loop_it_per_s"] > 0 and gd["generic_kernel_it_per_s"] > 0 and "met" in gd
