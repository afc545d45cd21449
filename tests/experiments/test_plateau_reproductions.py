"""Quick runs of Ainsworth & Shin's (2021) plateau reproductions (full sizes: --runslow)."""

import json

import pytest

from flowlab import experiments


def _run(name, tmp_path, quick=True):
    out = tmp_path / name
    summary = experiments.run(name, out=out, quick=quick)
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["name"] == name and on_disk["quick"] is quick
    assert all({"what", "paper", "measured", "threshold", "op", "holds"} <= set(c)
               for c in on_disk["checks"])
    assert all((out / f).exists() for f in summary["figures"])
    return summary["checks"], summary


def _find(checks, prefix):
    (hit,) = [c for c in checks if c["what"].startswith(prefix)]
    return hit


def test_plateau_five_points(tmp_path):
    checks, _ = _run("plateau-five-points", tmp_path)
    assert all(c["holds"] for c in checks)


def test_plateau_sine(tmp_path):
    checks, summary = _run("plateau-sine", tmp_path)
    assert _find(checks, "Theorem 3.1 (exponents as derived")["holds"]
    assert _find(checks, "Fig. 7c")["holds"] and _find(checks, "Theorem 3.5")["holds"]
    assert _find(checks, "gradient descent on the mean loss")["holds"]
    # the bound exactly as printed fails: recorded, not hidden
    assert not _find(checks, "Theorem 3.1 as printed")["holds"]


def test_plateau_fully_trained(tmp_path):
    checks, _ = _run("plateau-fully-trained", tmp_path)
    assert not _find(checks, "Lemma F.2 as printed")["holds"]
    assert all(c["holds"] for c in checks if not c["what"].startswith("Lemma F.2 as printed"))


def test_plateau_sine5_quick(tmp_path):
    checks, summary = _run("plateau-sine5", tmp_path)
    assert summary["data"]["events"] > 100 and _find(checks, "Fig. 1")["holds"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["plateau-sine", "plateau-sine5", "plateau-five-points",
                                  "plateau-fully-trained"])
def test_full_runs(name, tmp_path):
    _run(name, tmp_path, quick=False)
