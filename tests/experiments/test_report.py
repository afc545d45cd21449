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
    assert r.check("a claim with the paper's value", np.float64(1.4e7), 1e7, ">=", paper=2e7)
    assert not r.check("a claim without a value", [1, 2], 1.5, ">=")
    r.check("a table", 3, 3, "==", paper={"x": 1.0, "y": [1, None]})
    c0, c1, _ = r.checks
    assert c0 == {"what": "a claim with the paper's value", "paper": 2e7, "measured": 1.4e7,
                  "threshold": 1e7, "op": ">=", "holds": True}
    assert c1["paper"] is None and c1["holds"] is False and json.dumps(r.summary())
    for bad in ("<= 2", "anls", True):
        with pytest.raises(TypeError, match="`paper`"):
            r.check("x", 1.0, 1.0, "<=", paper=bad)
    with pytest.raises(TypeError, match="`what`"):
        r.check("", 1.0, 1.0, "<=")
    r.check("with context", 0.5, 1.0, "<", detail={"from": [1, 2]})
    assert r.checks[-1]["detail"] == {"from": [1, 2]}


def test_check_computes_holds_from_the_criterion(tmp_path):
    """The verdict is ``measured op threshold``, computed by the check, so that the text
    and the code cannot drift; a list or dict holds when every entry does."""
    r = _report(tmp_path)
    cases = [(1e-9, 1e-8, "<=", True), (1e-8, 1e-8, "<", False), (3, 2, ">=", True),
             (2, 2, ">", False), (5, 5, "==", True), (5, 4, "!=", True),
             ("anls", "anls", "==", True), ("gd", "anls", "==", False), (True, True, "==", True),
             (1.5, [1.0, 2.0], "in", True), (2.5, [1.0, 2.0], "in", False),
             ([1.2, 1.9], [1.0, 2.0], "in", True), ({"a": 1, "b": [2, 3]}, 0, ">", True),
             ({"a": 1, "b": [2, -3]}, 0, ">", False),
             ([-4.0, -2.5, -2.0], None, "increasing", True),
             ([-4.0, -2.0, -2.5], None, "increasing", False),
             # no evidence never holds: empty lists, None, NaN
             ([], 0, ">=", False), (None, 1.0, "<=", False), (float("nan"), 1.0, "<=", False),
             ([1.0, None], 0.0, ">", False), (float("inf"), 1.0, "<=", False),
             (float("-inf"), 0.0, "<", True)]
    for measured, threshold, op, expected in cases:
        assert r.check(f"{measured} {op} {threshold}", measured, threshold, op) is expected
        assert r.checks[-1]["holds"] is expected and r.checks[-1]["op"] == op
    assert json.dumps(r.summary())                      # inf and nan become strings


def test_check_rejects_the_old_form_and_bad_criteria(tmp_path):
    r = _report(tmp_path)
    with pytest.raises(TypeError, match=r"Report.check\(what, measured, threshold, op, paper\)"):
        r.check("old form: check(what, paper, measured, holds)", None, 1.0, True)
    with pytest.raises(ValueError, match="`op` must be one of"):
        r.check("x", 1.0, 1.0, "=<")
    with pytest.raises(ValueError, match="low <= high"):
        r.check("x", 1.0, [2.0, 1.0], "in")
    with pytest.raises(ValueError, match="threshold=None"):
        r.check("x", [1, 2], 0, "increasing")
    with pytest.raises(TypeError, match="number as threshold"):
        r.check("x", 1.0, "1", "<=")
    with pytest.raises(TypeError, match="number as threshold"):
        r.check("x", 1.0, float("nan"), "<=")


def test_every_reproduction_states_its_criterion():
    """Every check of every reproduction goes through the criterion (no verdict passed in):
    each call gives measured, threshold and op."""
    import ast
    root = ROOT / "flowlab" / "experiments"
    calls = 0
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "check"):
                calls += 1
                op = node.args[3] if len(node.args) > 3 else None
                assert isinstance(op, ast.Constant) and isinstance(op.value, str), \
                    f"{path.name}:{node.lineno}"
    assert calls > 100


def test_findings_are_apart_from_failures(tmp_path, capsys):
    r = _report(tmp_path)
    r.check("holds, so no finding", 0.0, 1e-8, "<=", finding=KEY)
    r.check("contradicted claim", 0.28, 1e-8, "<=", finding=KEY)
    r.check("plain failure", 1.0, 0.5, "<=")
    s = json.loads(json.dumps(r.summary()))
    assert "finding" not in s["checks"][0] and "finding" not in s["checks"][2]
    text = s["checks"][1]["finding"]
    f = _findings.finding(KEY)
    assert f.paper in text and f.evidence in text and f.command in text
    assert s["n_findings"] == 1 and s["n_failures"] == 1 and s["all_hold"] is False
    r.checks.pop()
    assert r.summary()["all_hold"] is True          # a finding alone does not fail the run
    with pytest.raises(ValueError, match="unknown finding"):
        r.check("x", 1.0, 0.5, "<=", finding="no-such-finding")
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
        report.check("Theorem 3.1 as printed (test)", 0.28, 1e-8, "<=", finding=KEY)
        report.check("something else", 1.0, 1.0, "==", paper=1.0)
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
