"""``flowlab bench``: the list, and plateau-sine's quick work-precision run (acceptance)."""

import json

import pytest

from flowlab.cli import main


def test_list_shows_problems_and_setups(capsys):
    assert main(["bench", "--list"]) == 0
    out = capsys.readouterr().out
    problems = out.split("setups:")[0].strip().splitlines()[1:]
    assert len(problems) >= 5
    for name in ("plateau-sine", "relu-teacher-10d", "condense-x2tanh", "tanh-sine",
                 "deep-mlp", "linear-features"):
        assert any(line.split()[0] == name for line in problems)
    assert 'needs torch' in next(line for line in problems if line.split()[0] == "deep-mlp")
    for setup in ("exact", "Radau", "ERK853", "RKC", "gd", "adam", "torchdiffeq-dopri5"):
        assert f"  {setup} " in out


def test_bad_cli_input_exits_2(capsys):
    assert main(["bench"]) == 2
    assert "give a bench PROBLEM or --list" in capsys.readouterr().err
    assert main(["bench", "plateau-sine", "--time-limit", "-1"]) == 2
    assert "--time-limit must be > 0" in capsys.readouterr().err


@pytest.fixture(scope="module")
def plateau_quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("wp")
    assert main(["bench", "plateau-sine", "--quick", "--out", str(out), "--cache",
                 str(out / "cache"), "--quiet"]) == 0
    return out, json.loads((out / "work_precision.json").read_text())


def test_plateau_sine_quick_writes_both_files(plateau_quick):
    out, res = plateau_quick
    assert res["problem"] == "plateau-sine" and res["quick"] is True and res["complete"]
    assert {"method", "tol", "seconds"} <= set(res["reference"])
    assert res["reference"]["method"] == "exact" and res["reference"]["tol"] == 1e-13
    for png in ("work_precision_time.png", "work_precision_nfev.png"):
        assert (out / png).stat().st_size > 10_000
    row_keys = {"setup", "tol", "error", "seconds", "nfev", "njev", "nsteps", "status",
                "error_dense_l2", "error_dense_max", "loss_error"}
    assert all(row_keys <= set(r) for r in res["rows"])
    assert all(s["compile_seconds"] is not None for s in res["setups"].values())
    # every setup that applies ran; the others are listed with their reason
    ran = {r["setup"] for r in res["rows"]}
    assert {"exact", "RK45", "Radau", "LSODA", "ERK853", "gd", "adam"} <= ran
    assert {s["setup"] for s in res["skipped"]} >= {"RKC", "exact-nd"}


def test_plateau_sine_quick_acceptance(plateau_quick):
    """The exact engine reaches <= 1e-8, no classical setup does; errors fall with the
    tolerance; GD's order is reported on this ReLU problem."""
    _, res = plateau_quick
    checks = {c["what"]: c for c in res["checks"]}
    exact = next(c for w, c in checks.items() if w.startswith("the exact engine reaches"))
    classical = next(c for w, c in checks.items() if w.startswith("no classical setup"))
    assert exact["holds"] and exact["measured"]["exact"] <= 1e-8
    assert classical["holds"] and len(classical["measured"]) >= 8
    falls = next(c for w, c in checks.items() if w.startswith("errors fall"))
    assert falls["holds"] and "exact" in falls["measured"]["errors_by_setup"]
    gd = next(c for w, c in checks.items() if w.startswith("gradient descent"))
    assert "ReLU" in gd["what"] and 0.8 <= gd["measured"]["slope_two_smallest"] <= 1.25
    # a classical run that stopped is a row with its status, never an exception
    assert {r["status"] for r in res["rows"]} >= {"finished", "timeout"}
