"""``anls-sine`` (Ainsworth & Shin 2021, Fig. 9): quick run by default, full with --runslow."""

import json

import pytest

from flowlab.experiments import run


def _run(tmp_path, quick):
    summary = run("anls-sine", out=tmp_path, quick=quick)
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk["name"] == "anls-sine" and on_disk["quick"] is quick
    assert (tmp_path / "anls_sine.png").stat().st_size > 0
    failing = [c["what"] for c in summary["checks"] if not c["holds"]]
    assert len(summary["checks"]) == 4 and not failing, failing
    table = summary["data"]["baselines"]
    assert set(table) == {"gd", "adam", "lsgd", "lsadam", "lsq"}
    for name, row in table.items():
        assert row["reached"] == (row["iterations_to_reach_anls"] is not None)
        if not row["reached"]:
            assert row["final_loss"] > summary["data"]["anls_final_loss_seed0"]
    return summary


def test_quick(tmp_path):
    s = _run(tmp_path, quick=True)
    assert s["data"]["budgets"]["gd"] == 200_000


@pytest.mark.slow
def test_full(tmp_path):
    s = _run(tmp_path, quick=False)
    assert s["data"]["budgets"] == {"gd": 5_000_000, "adam": 1_000_000, "lsgd": 100_000,
                                    "lsadam": 100_000}
