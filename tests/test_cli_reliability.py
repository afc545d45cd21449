"""The command line never hangs, never overwrites silently, and reports interrupts."""

import json

import numpy as np
import pytest

import flowlab as fl
from flowlab.cli import main
from flowlab._flow.recorder import Recorder

from .test_cli import STUDY
from .timebound import within


def _study(tmp_path, text=STUDY, name="study.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _run(*argv):
    return within(120, main, [str(a) for a in argv])


def _one_error_line(capsys, match):
    err = capsys.readouterr().err.strip()
    assert err.startswith("flowlab: error:") and len(err.splitlines()) == 1, err
    assert match in err, err
    return err


@pytest.mark.parametrize("target, match", [
    ("9**9**9**9", "overflows float64"),            # used to hang the CLI
    ("10**400 * x", "overflows float64"),
    ("exp(1000 * x)", "not finite"),
    ("x[:, 3]", "indexes x out of range"),
    ("x[9**9**9]", "integer constants"),
    ("'a' * 10", "numbers only"),
    ("(" * 900 + "x" + ")" * 900, "not a valid expression"),
    ("x + " * 600 + "x", "characters long"),
])
def test_target_expressions_are_bounded(tmp_path, capsys, target, match):
    study = _study(tmp_path, STUDY.replace('"sin(3*x) + 0.5*sin(6*x)"', repr(target)))
    assert _run("flow", study, "--out", tmp_path / "o", "--no-progress") == 2
    _one_error_line(capsys, match)


@pytest.mark.parametrize("edit, match", [
    (("width = 6", "width = 100000000000"), "width must be between 1 and"),
    (("points = 30", "points = 0"), "points must be between 1 and"),
    (("interval = [-1.0, 1.5]", "interval = [-1.0, 0.0, 1.5]"), "interval must be two numbers"),
    (("interval = [-1.0, 1.5]", "interval = [1.0, 1.0]"), "all points would be identical"),
    (("interval = [-1.0, 1.5]", "interval = [2.0, 1.0]"), "lo < hi"),
    (("points = 30", "points = 30\ndim = -2"), "dim must be between 1 and"),
])
def test_sizes_and_interval_are_checked_before_anything_runs(tmp_path, capsys, edit, match):
    study = _study(tmp_path, STUDY.replace(*edit))
    assert _run("flow", study, "--out", tmp_path / "o", "--no-progress") == 2
    _one_error_line(capsys, match)
    assert not (tmp_path / "o").exists()


def test_bad_paths_give_one_line(tmp_path, capsys):
    study = _study(tmp_path)
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    assert _run("flow", study, "--out", a_file, "--no-progress") == 2
    _one_error_line(capsys, "is a file")
    assert _run("flow", tmp_path, "--no-progress") == 2
    _one_error_line(capsys, "is a folder, not a study file")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(bytes(range(256)) * 4)
    assert _run("flow", binary, "--no-progress") == 2
    _one_error_line(capsys, "not a text file")
    assert _run("reproduce", "tanh-sine", "--quick", "--out", a_file) == 2
    _one_error_line(capsys, "is a file")


def test_an_earlier_run_is_not_overwritten_without_force(tmp_path, capsys):
    study = _study(tmp_path, STUDY.replace("t_end = 2.0", "t_end = 0.2"))
    out = tmp_path / "out"
    assert _run("flow", study, "--out", out, "--no-progress") == 0
    before = (out / "solution.npz").read_bytes(), (out / "summary.json").read_text()
    capsys.readouterr()
    assert _run("flow", study, "--out", out, "--no-progress") == 2
    err = _one_error_line(capsys, "--force")
    assert "solution.npz" in err and "summary.json" in err
    assert ((out / "solution.npz").read_bytes(), (out / "summary.json").read_text()) == before
    assert _run("flow", study, "--out", out, "--no-progress", "--force") == 0


def _interrupt_at_step(monkeypatch, n):
    """Make the n-th accepted step of any flow raise KeyboardInterrupt (Ctrl-C there)."""
    step = Recorder.step
    count = [0]

    def interrupted(self, *args, **kwargs):
        count[0] += 1
        if count[0] == n:
            raise KeyboardInterrupt
        return step(self, *args, **kwargs)

    monkeypatch.setattr(Recorder, "step", interrupted)
    return count


def test_interrupted_study_exits_non_zero_and_keeps_the_solution(tmp_path, monkeypatch, capsys):
    """Issue case: `flowlab flow` exited 0 on an interrupted run."""
    study = _study(tmp_path)
    _interrupt_at_step(monkeypatch, 5)
    assert _run("flow", study, "--out", tmp_path / "o", "--no-progress") == 130
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    part = fl.load(tmp_path / "o" / "solution.npz")
    assert part.status == "interrupted" and 0 < part.t_final < 2.0
    assert "interrupted" in capsys.readouterr().err


def test_a_flow_that_stops_early_exits_1(tmp_path, capsys):
    study = _study(tmp_path, STUDY.replace('loss = "mean"', 'loss = "mean"\nmax_steps = 3'))
    with pytest.warns(RuntimeWarning, match="max_steps"):
        assert _run("flow", study, "--out", tmp_path / "o", "--no-progress") == 1
    assert "stopped early (max_steps)" in capsys.readouterr().err


def test_ctrl_c_inside_a_reproduction_stops_it(tmp_path, monkeypatch, capsys):
    """Issue case: Ctrl-C inside a flow of `flowlab reproduce tanh-sine` did not stop the
    reproduction (a truncated solution, a spurious failed check, then a time-range
    error).  Now the whole command ends at once, exit 130, summary marked interrupted."""
    count = _interrupt_at_step(monkeypatch, 5)
    out = tmp_path / "ts"
    assert _run("reproduce", "tanh-sine", "--quick", "--out", out, "--no-progress") == 130
    assert count[0] == 5                      # nothing ran after the interrupted flow
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] is True and summary["all_hold"] is False
    assert summary["checks"] == [] and "interrupted" in summary["error"]
    assert "interrupted" in capsys.readouterr().err


def test_ctrl_c_outside_a_flow_never_claims_all_hold(tmp_path, monkeypatch):
    """Issue case: interrupted outside a flow, the summary said "all_hold": true."""
    from flowlab.experiments import _registry

    def interrupted_figure(self, fig, filename):
        raise KeyboardInterrupt

    monkeypatch.setattr(_registry.Report, "figure", interrupted_figure)
    out = tmp_path / "ts"
    assert _run("reproduce", "tanh-sine", "--quick", "--out", out, "--no-progress") == 130
    summary = json.loads((out / "summary.json").read_text())
    assert summary["checks"] and all(c["holds"] for c in summary["checks"])
    assert summary["all_hold"] is False and summary["interrupted"] is True


def test_study_data_file_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "data.npz"
    bad.write_bytes(b"not a zip")
    study = _study(tmp_path, STUDY.replace('target = "sin(3*x) + 0.5*sin(6*x)"',
                                           f'file = "{bad.name}"')
                   .replace("interval = [-1.0, 1.5]\n", "").replace("points = 30\n", ""))
    assert _run("flow", study, "--out", tmp_path / "o", "--no-progress") == 2
    _one_error_line(capsys, "cannot be read")
    np.savez(bad, x=np.linspace(0, 1, 5), y=np.zeros(5))
    assert _run("flow", study, "--out", tmp_path / "o", "--no-progress") == 0
