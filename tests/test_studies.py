"""Study files (flowlab.study), their documentation, and what a newcomer runs first.

Guards: the README snippet prints what it shows; docs/studies.md documents every key
and `flowlab flow --help` shows a valid example; keys a model, scheme or data source
does not use are errors; `np.` names work in targets; a ReLU flow on a scipy method
warns and names method="exact"; files written by flow(save=...) stay under the size
limit.
"""

import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import flowlab as fl
from flowlab import study
from flowlab.cli import main
from flowlab._flow import solution as solution_mod
from flowlab.study import EXAMPLE, StudyError, eval_target, load_study

ROOT = Path(__file__).resolve().parents[1]


def test_readme_snippet_prints_what_it_shows(tmp_path):
    text = (ROOT / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("Solution(TwoLayer, method='auto'") and lines[-1] == "True"
    assert len(lines) == 4


def test_docs_list_every_key_and_help_shows_a_valid_example(tmp_path, capsys):
    page = (ROOT / "docs" / "studies.md").read_text()
    for section, keys in study._SCHEMA.items():
        assert f"### `[{section}]`" in page
        for key in keys:
            assert f"| `{key}` |" in page, (section, key)
    assert EXAMPLE.strip() in page
    with pytest.raises(SystemExit):
        main(["flow", "--help"])
    help_text = capsys.readouterr().out
    assert all(line.strip() in help_text for line in EXAMPLE.splitlines() if line.strip())
    f = tmp_path / "example.toml"
    f.write_text(EXAMPLE)
    assert load_study(f).config["model"]["width"] == 20


BASE = {"model": 'kind = "TwoLayer"\nwidth = 4\nactivation = "tanh"',
        "init": 'scheme = "xavier"', "data": 'target = "sin(x)"\npoints = 10',
        "flow": "t_end = 0.1"}


def _study(tmp_path, **changes):
    parts = dict(BASE, **changes)
    f = tmp_path / "s.toml"
    f.write_text("\n".join(f"[{k}]\n{v}\n" for k, v in parts.items()))
    return f


@pytest.mark.parametrize("changes, match", [
    ({"model": 'kind = "ReLU1D"\nwidth = 4\nactivation = "tanh"', "init": 'scheme = "he"'},
     r"\[model\] activation is not used by kind = 'ReLU1D'.*kind = 'TwoLayer'"),
    ({"model": 'kind = "TwoLayer"\nwidth = 4\ntrain_w = true'},
     r"\[model\] train_w is for kind = 'ReLU1D'"),
    ({"init": 'scheme = "xavier"\nvar = 0.1'},
     r"\[init\] var is not used by scheme = 'xavier', which takes: seed, bound"),
    ({"data": 'file = "d.npz"\npoints = 10'}, r"\[data\] points not used with 'file'"),
    ({"data": 'target = "sin(x)"\nseed = 3'}, r"\[data\] seed draws random points"),
])
def test_unused_keys_are_errors(tmp_path, changes, match):
    with pytest.raises(StudyError, match=match):
        load_study(_study(tmp_path, **changes))


def test_numpy_names_in_targets():
    x = np.linspace(-1, 1, 7)
    assert np.array_equal(eval_target("np.sin(np.pi*x)", x), eval_target("sin(pi*x)", x))
    assert np.array_equal(eval_target("numpy.maximum(x, 0)", x), np.maximum(x, 0))
    with pytest.raises(StudyError, match=r"np\.polyval, which is not allowed; the names are "
                                         r"x and sin, cos.*with or without 'np\.'"):
        eval_target("np.polyval([1, 2], x)", x)
    with pytest.raises(StudyError, match="may not contain Attribute"):
        eval_target("x.__class__", x)


def test_relu_on_a_scipy_method_warns_and_names_exact():
    x = np.linspace(-1, 1, 8)
    with pytest.warns(UserWarning, match=r"not smooth: RK45 .*method='exact'"):
        fl.flow(fl.init.he(3, seed=0), x, np.sin(x), 0.01, method="RK45")
    with warnings.catch_warnings():                  # frozen knots: a smooth, linear flow
        warnings.simplefilter("error")
        fl.flow(fl.init.he(3, seed=0), x, np.sin(x), 0.01, method="RK45", trainable="c")


def test_saved_files_stay_under_the_limit(tmp_path, monkeypatch):
    x = np.linspace(-1, 1, 30)
    net = fl.init.xavier(6, 1, activation="tanh", seed=0)
    sol = fl.flow(net, x, np.sin(3 * x), 50.0, loss="mean", method="RK45", rtol=1e-9)
    full = sol.nbytes()
    light = sol.within(full // 20)
    assert light.nbytes() <= full // 20 and light.dense is None
    assert light.t[0] == sol.t[0] and light.t[-1] == sol.t[-1]
    assert np.array_equal(light.theta_final, sol.theta_final)
    assert light.info["saved"]["steps_kept"] == light.t.size < sol.t.size
    assert sol.within(full) is sol and sol.dense is not None      # the run's result is kept
    # flow(save=...) writes within SAVE_LIMIT_BYTES, checkpoints and final file alike
    monkeypatch.setattr(sys.modules["flowlab._flow.recorder"], "SAVE_LIMIT_BYTES", full // 20)
    path = tmp_path / "run.npz"
    again = fl.flow(net, x, np.sin(3 * x), 50.0, loss="mean", method="RK45", rtol=1e-9,
                    save=path)
    back = fl.load(path)
    assert again.dense is not None and back.dense is None and "without the dense" in back.message
    assert back.nbytes() <= full // 20 and back.t_final == again.t_final
    resumed = fl.resume(path, 60.0)                              # a thinned file resumes
    assert resumed.t_final == 60.0 and resumed.status == "finished"
    assert solution_mod.SAVE_LIMIT_BYTES == 64 * 2 ** 20
