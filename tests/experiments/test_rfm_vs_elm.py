"""The ``rfm-vs-elm`` reproduction: quick run in the default suite, full sizes with --runslow."""

import json

import pytest

from flowlab.experiments import run


def _run(tmp_path, quick):
    summary = run("rfm-vs-elm", out=tmp_path, quick=quick)
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk["name"] == "rfm-vs-elm" and on_disk["quick"] is quick
    assert all((tmp_path / f).stat().st_size > 0 for f in summary["figures"])
    failing = [c["what"] for c in summary["checks"] if not c["holds"]]
    assert summary["checks"] and not failing, failing
    return summary


def test_quick(tmp_path):
    _run(tmp_path, quick=True)


@pytest.mark.slow
def test_full(tmp_path):
    _run(tmp_path, quick=False)
