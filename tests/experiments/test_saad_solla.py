"""The ``saad-solla`` reproduction: quick run in the default suite, full size with --runslow."""

import json

import pytest

from flowlab.experiments import run


def _run(tmp_path, quick):
    summary = run("saad-solla", out=tmp_path, quick=quick)
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk["name"] == "saad-solla" and on_disk["quick"] is quick
    assert all((tmp_path / f).stat().st_size > 0 for f in summary["figures"])
    failing = [c["what"] for c in summary["checks"] if not c["holds"]]
    assert summary["checks"] and not failing, failing
    assert any("Saad" in p for p in summary["papers"])
    return summary


def test_quick(tmp_path):
    s = _run(tmp_path, quick=True)
    assert {r["M"] for r in s["data"]["runs"]} == {2}


@pytest.mark.slow
def test_full(tmp_path):
    s = _run(tmp_path, quick=False)
    assert {r["M"] for r in s["data"]["runs"]} == {2, 3}
