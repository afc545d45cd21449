import json
import subprocess
import sys

import pytest

from flowlab import __version__
from flowlab.cli import main

STUDY = """
[model]
kind = "TwoLayer"
width = 6
activation = "tanh"

[init]
scheme = "xavier"
seed = 1

[data]
target = "sin(3*x) + 0.5*sin(6*x)"
interval = [-1.0, 1.5]
points = 30

[flow]
t_end = 2.0
loss = "mean"
"""


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_flow_study_writes_solution_plot_and_summary(tmp_path):
    study = tmp_path / "study.toml"
    study.write_text(STUDY)
    assert main(["flow", str(study), "--out", str(tmp_path / "out"), "--no-progress"]) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["final_loss"] < summary["initial_loss"]
    assert summary["energy_balance_rel_error"] < 1e-6
    assert (tmp_path / "out" / "loss.png").stat().st_size > 0
    import flowlab as fl
    assert fl.load(tmp_path / "out" / "solution.npz").t_final == 2.0


@pytest.mark.parametrize("edit, match", [
    (("t_end = 2.0", "t_ned = 2.0"), "unknown key 't_ned' in \\[flow\\].*Did you mean 't_end'"),
    (("t_end = 2.0", ""), "missing key 't_end'"),
    (("[flow]", "[flwo]"), "unknown section \\[flwo\\]"),
    (('scheme = "xavier"', 'scheme = "xavir"'), "scheme must be one of"),
    (('activation = "tanh"', 'activation = "tnh"'), "unknown activation"),
    (('target = "sin(3*x) + 0.5*sin(6*x)"', 'target = "sinn(x)"'), "unknown name 'sinn'"),
    (('target = "sin(3*x) + 0.5*sin(6*x)"', 'target = "x.__class__"'), "may not contain"),
    (("t_end = 2.0", "t_end = -2.0"), "t_end"),
    (("width = 6", 'width = "six"'), "width must be an integer"),
    (('loss = "mean"', 'loss = "mse"'), "loss"),
])
def test_bad_study_files_exit_2_with_one_line(tmp_path, capsys, edit, match):
    study = tmp_path / "bad.toml"
    study.write_text(STUDY.replace(*edit))
    assert main(["flow", str(study), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("flowlab: error:") and len(err.splitlines()) == 1
    import re
    assert re.search(match, err), err


def test_missing_study_file(tmp_path, capsys):
    assert main(["flow", str(tmp_path / "nope.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_reproduce_list_and_unknown(capsys):
    assert main(["reproduce", "--list"]) == 0
    assert "tanh-sine" in capsys.readouterr().out
    assert main(["reproduce", "no-such-thing"]) == 2
    assert "unknown reproduction" in capsys.readouterr().err


def test_reproduce_quick_writes_summary(tmp_path):
    out = tmp_path / "ts"
    assert main(["reproduce", "tanh-sine", "--quick", "--out", str(out), "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["name"] == "tanh-sine" and summary["quick"] is True
    keys = {"what", "paper", "measured", "threshold", "op", "holds"}
    assert summary["checks"] and all(keys <= set(c) for c in summary["checks"])
    assert all(c["holds"] for c in summary["checks"])
    assert (out / "tanh_sine.png").exists()


def test_module_entry_point():
    out = subprocess.run([sys.executable, "-m", "flowlab", "--version"], capture_output=True,
                         text=True, check=True)
    assert __version__ in out.stdout
