"""Smoke run of bench/gram_exact_vs_quadrature.py: it runs and reports what it claims to."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_gram_bench_quick():
    out = subprocess.run([sys.executable, str(BENCH / "gram_exact_vs_quadrature.py"), "--quick"],
                         capture_output=True, text=True, check=True, timeout=600)
    res = json.loads(out.stdout)
    assert res["benchmark"] == "gram_exact_vs_quadrature"
    rows = res["results"]
    assert {r["weights"] for r in rows} == {"w = 1", "w of both signs"}
    for r in rows:
        assert r["n"] == 200
        assert r["normwise_rel_diff"] < 1e-14     # the two contenders agree to rounding
        assert r["max_entry_rel_diff"] < (1e-12 if r["weights"] == "w = 1" else 1e-9)
        assert r["exact_ms"] > 0 and r["gauss_legendre_2_per_cell_ms"] > 0
        assert r["speedup"] == pytest.approx(r["gauss_legendre_2_per_cell_ms"] / r["exact_ms"])
