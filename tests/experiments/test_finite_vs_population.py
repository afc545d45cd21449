"""``finite-vs-population``: quick run in the default suite, full size with --runslow."""

import json

import pytest

from flowlab.experiments import run


def _run(tmp_path, quick):
    summary = run("finite-vs-population", out=tmp_path, quick=quick)
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk["name"] == "finite-vs-population" and on_disk["quick"] is quick
    failing = [c["what"] for c in summary["checks"] if not c["holds"]]
    assert summary["checks"] and not failing, failing
    runs = summary["data"]["runs"]
    assert runs["relu"]["method"] == "exact" and runs["erf"]["method"] == "Radau"
    for r in runs.values():
        assert abs(r["slope"] + 0.5) <= 0.2 and len(r["m"]) >= 4 and len(r["seeds"]) >= 4
    assert sum(runs["relu"]["events_mean"]) > 0         # the exact engine met its events
    return summary


def test_quick(tmp_path):
    _run(tmp_path, quick=True)


@pytest.mark.slow
def test_full(tmp_path):
    _run(tmp_path, quick=False)
