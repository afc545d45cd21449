"""Smoke run of the benchmark scripts: they execute and report what they claim to."""

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _run(script, *args):
    out = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True,
                         text=True, check=True, timeout=600)
    return json.loads(out.stdout)


def test_gradient_bench_quick():
    res = _run("gradient_vs_numpy.py", "--quick")
    row = res["results"][0]
    assert (row["n"], row["m"], row["d"]) == (10, 100, 1)
    assert row["rel_diff_vs_numpy"] < 1e-12
    assert row["numba_kernel_us"] > 0 and row["numpy_us"] > 0 and "met" in row
