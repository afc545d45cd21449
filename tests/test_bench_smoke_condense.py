"""Smoke run of bench/condense_initial_stage.py: it runs and reports what it claims to."""

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_condense_bench_quick():
    out = subprocess.run([sys.executable, str(BENCH / "condense_initial_stage.py"), "--quick"],
                         capture_output=True, text=True, check=True, timeout=600)
    res = json.loads(out.stdout)
    rows = res["results"]
    assert {"scipy_lsoda_numpy", "flowlab_ERK853", "flowlab_ERK45"} <= set(rows)
    T70 = res["problem"]["T70"]
    for row in rows.values():
        assert row["seconds"] > 0
        assert abs(row["t_initial_stage"] - T70) <= 1e-6 * T70     # all found the same end
    best = min(v["seconds"] for k, v in rows.items() if k.startswith("flowlab_"))
    assert abs(res["speedup_vs_scipy_lsoda"] - rows["scipy_lsoda_numpy"]["seconds"] / best) \
        <= 1e-12 * res["speedup_vs_scipy_lsoda"]
    assert res["met"] == (res["speedup_vs_scipy_lsoda"] >= res["target"])
    assert set(res["flow_methods_to_T70"]) == {"ERK853", "LSODA"}
