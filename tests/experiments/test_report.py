"""The report a reproduction fills: the check schema, findings apart from failures."""

import json
from pathlib import Path

import numpy as np
import pytest

from flowlab.cli import _print_summary
from flowlab.experiments import Report, describe, register, run
from flowlab.experiments import _findings
from flowlab.experiments._registry import _REGISTRY

ROOT = Path(__file__).resolve().parents[2]
KEY = "theorem31-printed-lower-bound"


def _report(tmp_path):
    return Report(name="t", out=tmp_path, quick=True)


def test_check_schema_and_paper_values(tmp_path):
    r = _report(tmp_path)
    assert r.check("a claim with the paper's value", 2e7, np.float64(1.4e7), np.bool_(True))
    assert not r.check("a claim without a value", None, [1, 2], False)
    r.check("a table", {"x": 1.0, "y": [1, None]}, 3, True)
    c0, c1, _ = r.checks
    assert c0 == {"what": "a claim with the paper's value", "paper": 2e7, "measured": 1.4e7,
                  "holds": True}
    assert c1["paper"] is None and json.dumps(r.summary())
    for bad in ("<= 2", "anls", True):
        with pytest.raises(TypeError, match="`paper`"):
            r.check("x", bad, 1.0, True)
    with pytest.raises(TypeError, match="`holds`"):
        r.check("x", None, 1.0, "yes")
    with pytest.raises(TypeError, match="`what`"):
        r.check("", None, 1.0, True)


def test_findings_are_apart_from_failures(tmp_path, capsys):
    r = _report(tmp_path)
    r.check("holds, so no finding", None, 0.0, True, finding=KEY)
    r.check("contradicted claim", None, 0.28, False, finding=KEY)
    r.check("plain failure", None, 1.0, False)
    s = json.loads(json.dumps(r.summary()))
    assert "finding" not in s["checks"][0] and "finding" not in s["checks"][2]
    text = s["checks"][1]["finding"]
    f = _findings.finding(KEY)
    assert f.paper in text and f.evidence in text and f.command in text
    assert s["n_findings"] == 1 and s["n_failures"] == 1 and s["all_hold"] is False
    r.checks.pop()
    assert r.summary()["all_hold"] is True          # a finding alone does not fail the run
    with pytest.raises(ValueError, match="unknown finding"):
        r.check("x", None, 1.0, False, finding="no-such-finding")
    _print_summary({**s, "name": "t", "papers": ["one"]}, "out")
    out = capsys.readouterr().out
    head, rest = out.split("\nfindings (", 1)
    assert "1/2 checks hold; 1 finding about the paper;" in head
    assert "[FAIL] plain failure" in head and "contradicted claim" not in head
    assert "[finding] contradicted claim: 0.28" in rest and "FAIL" not in rest


def test_summary_written_on_disk_has_papers_and_schema(tmp_path):
    @register("test-report-schema", "a registered test reproduction",
              papers=("Ainsworth & Shin 2021",))
    def _repro(report):
        report.check("Theorem 3.1 as printed (test)", None, 0.28, False, finding=KEY)
        report.check("something else", 1.0, 1.0, True)
    try:
        s = run("test-report-schema", out=tmp_path)
    finally:
        _REGISTRY.pop("test-report-schema")
    disk = json.loads((tmp_path / "summary.json").read_text())
    assert disk == json.loads(json.dumps(s))
    assert disk["papers"][0].startswith("M. Ainsworth, Y. Shin (2021)")
    assert disk["paper_keys"] == ["Ainsworth & Shin 2021"]
    assert disk["all_hold"] is True and disk["n_findings"] == 1


def test_findings_page_and_registry_agree():
    page = (ROOT / "docs" / "findings.md").read_text(encoding="utf-8")
    assert page == _findings.markdown(), ("regenerate: python -m flowlab.experiments._findings "
                                          "> docs/findings.md")
    names = {name for name, _, _ in describe()}
    for f in _findings.FINDINGS.values():
        assert f.reproduction in names and f.command.endswith(f.reproduction)
        module = ROOT / "flowlab" / "experiments" / (f.reproduction.replace("-", "_") + ".py")
        assert f'finding="{f.key}"' in module.read_text(), f"{f.key} is used by no check"
