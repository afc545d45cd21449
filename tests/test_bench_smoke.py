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


def test_cold_start_bench_quick(tmp_path):
    """The cold-start benchmark on a cheap reproduction: a cold run on an empty cache, two
    warm runs on the cache it filled, the ratio of their times (not asserted: timing)."""
    res = _run("cold_start.py", "--quick", "--job", "gram-spectrum")
    (row,) = res["this"]["rounds"]
    assert res["job"] == "gram-spectrum" and res["quick"] and len(row["warm_s"]) == 2
    assert row["cold_s"] > 0 and all(w > 0 for w in row["warm_s"]) and row["cold_cpu_s"] > 0
    assert abs(row["ratio"] - row["cold_s"] / (sum(row["warm_s"]) / 2)) < 0.02
    assert res["this"]["met"] == (res["this"]["ratio_max"] <= res["target_ratio"])
    bad = subprocess.run([sys.executable, str(BENCH / "cold_start.py"), "--against",
                          str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "not the root of a flowlab checkout" in bad.stderr
