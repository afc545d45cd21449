"""Sweep files: grid expansion, naming, hashing, and the errors of a malformed [sweep]."""

import re

import numpy as np
import pytest

from flowlab.sweep import SweepError, get_task, load_sweep, task_names
from flowlab.sweep.tasks import check_output

STUDY = """
[model]
kind = "TwoLayer"
width = 6
activation = "tanh"

[init]
scheme = "small"
var = 1e-2
seed = 0

[data]
target = "sin(3*x)"
interval = [-1.0, 1.0]
points = 12

[flow]
t_end = 2.0
loss = "mean"

[sweep]
"model.width" = [4, 8, 16]
"init.var" = [1e-4, 1]
"""


def write(tmp_path, text, name="study.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_grid_expansion_and_naming(tmp_path):
    spec = load_sweep(write(tmp_path, STUDY))
    assert spec.keys == ("model.width", "init.var")
    assert spec.shape == (3, 2) and spec.size == 6
    assert spec.values == ((4, 8, 16), (1e-4, 1.0))
    assert isinstance(spec.values[1][1], float)          # 1 and 1.0 are one value
    points = {idx: spec.point(idx) for idx in spec.indices()}
    assert list(points) == [(i, j) for i in range(3) for j in range(2)]   # C order
    for (i, j), pt in points.items():
        assert pt["model"]["width"] == [4, 8, 16][i]
        assert pt["init"]["var"] == [1e-4, 1.0][j]
        assert pt["init"]["seed"] == 0 and pt["model"]["activation"] == "tanh"
        assert pt["loss_grid"]["t_max"] == 2.0
    assert spec.label((2, 0)) == "model.width=16, init.var=0.0001"
    hashes = [spec.point_hash(pt) for pt in points.values()]
    assert len(set(hashes)) == 6
    assert spec.point_hash(spec.point((1, 1))) == hashes[3]       # stable
    np.testing.assert_array_equal(spec.coordinate(0), [4, 8, 16])
    t = spec.loss_times()
    assert t[-1] == pytest.approx(2.0) and t[0] == pytest.approx(2e-5) and t.size == 51
    assert np.all(np.diff(np.log(t)) > 0)


def test_unquoted_dotted_keys_are_the_same_grid(tmp_path):
    quoted = load_sweep(write(tmp_path, STUDY))
    bare = load_sweep(write(tmp_path, STUDY.replace('"model.width"', "model.width")
                            .replace('"init.var"', "init.var"), "bare.toml"))
    assert bare.keys == quoted.keys and bare.values == quoted.values
    assert bare.point_hash(bare.point((0, 0))) == quoted.point_hash(quoted.point((0, 0)))


def test_a_change_outside_the_sweep_changes_every_hash(tmp_path):
    a = load_sweep(write(tmp_path, STUDY))
    b = load_sweep(write(tmp_path, STUDY.replace("t_end = 2.0", "t_end = 3.0"), "b.toml"))
    assert all(a.point_hash(a.point(i)) != b.point_hash(b.point(i)) for i in a.indices())


@pytest.mark.parametrize("sweep, match", [
    ('"model.widht" = [4, 8]',
     r"unknown key 'model.widht' in \[sweep\].*Did you mean 'model.width'"),
    ('"width" = [4, 8]', r"unknown key 'width' in \[sweep\]"),
    ('"model.width" = []', r"\[sweep\] 'model.width' is an empty list"),
    ('"model.width" = 8', r"\[sweep\] 'model.width' must be a list of values, got 8"),
    ('"init.seed" = [1, 2, 1]', r"\[sweep\] 'init.seed' lists 1 twice"),
    ('"model.width" = [4, "eight"]', r"\[sweep\] 'model.width'.*width must be an integer"),
    ('"output.dir" = ["a", "b"]',
     r"unknown key 'output.dir' in \[sweep\].*\[output\] is not swept"),
    ('"init.scheme" = ["small", "xavir"]', r"init.scheme='xavir'.*scheme must be one of"),
])
def test_malformed_sweep_table_names_the_key(tmp_path, sweep, match):
    text = STUDY.split("[sweep]")[0] + "[sweep]\n" + sweep + "\n"
    with pytest.raises(SweepError, match=match):
        load_sweep(write(tmp_path, text))


def test_missing_or_empty_sweep_table(tmp_path):
    with pytest.raises(SweepError, match=r"no \[sweep\] table"):
        load_sweep(write(tmp_path, STUDY.split("[sweep]")[0]))
    with pytest.raises(SweepError, match=r"\[sweep\] is empty"):
        load_sweep(write(tmp_path, STUDY.split("[sweep]")[0] + "[sweep]\n"))


TASK_STUDY = """
[task]
name = "phase-diagram"
activation = "tanh"

[sweep]
"task.gamma" = [0.5, 1]
"task.width" = [10, 20]
"""


def test_task_sweep_points_carry_every_parameter(tmp_path):
    spec = load_sweep(write(tmp_path, TASK_STUDY))
    assert spec.task.name == "phase-diagram"
    pt = spec.point((1, 0))
    assert pt["gamma"] == 1.0 and isinstance(pt["gamma"], float) and pt["width"] == 10
    assert pt["activation"] == "tanh" and pt["gamma_prime"] == 0.0 and "name" not in pt


@pytest.mark.parametrize("edit, match", [
    (('"task.gamma"', '"task.gama"'), r"unknown key 'task.gama' in \[sweep\].*'task.gamma'"),
    (('"task.gamma"', '"model.gamma"'), r"unknown key 'model.gamma'"),
    (('activation = "tanh"', 'activaton = "tanh"'), r"unknown parameter 'activaton'"),
    (('"task.width" = [10, 20]', '"task.width" = [10, 2.5]'), r"'task.width'.*type of its default"),
    (('name = "phase-diagram"', 'name = "phase-diagramm"'), r"unknown task 'phase-diagramm'"),
])
def test_malformed_task_sweep(tmp_path, edit, match):
    with pytest.raises(SweepError, match=match):
        load_sweep(write(tmp_path, TASK_STUDY.replace(*edit)))


def test_tasks_by_module_and_by_file(tmp_path):
    assert {"flow", "phase-diagram"} <= set(task_names())
    from tests.sweep import _tasks
    assert get_task("tests.sweep._tasks:square").func is _tasks.square
    (tmp_path / "mytask.py").write_text("def cube(point):\n    return {'y': point['x'] ** 3}\n")
    task = get_task("mytask.py:cube", base=tmp_path)
    assert task.func({"x": 2}) == {"y": 8}
    with pytest.raises(ValueError, match="has no function 'nope'"):
        get_task("mytask.py:nope", base=tmp_path)
    with pytest.raises(ImportError, match="cannot import module 'no_such_module_xyz'"):
        get_task("no_such_module_xyz:f")


def test_task_outputs_are_checked():
    out = check_output({"a": np.float64(1.5), "b": np.int32(3), "c": True, "d": [1, 2],
                        "e": "text", "f": None})
    assert out["a"] == 1.5 and type(out["b"]) is int and out["c"] is True
    assert out["d"].dtype == np.int64 and np.isnan(out["f"])
    with pytest.raises(TypeError, match="must return a dict"):
        check_output([1])
    with pytest.raises(ValueError, match="'wall_s' is a name the sweep uses"):
        check_output({"wall_s": 1.0})
    with pytest.raises(TypeError, match="output 'z' must be a number"):
        check_output({"z": object()})
    with pytest.raises(ValueError, match="at most"):
        check_output({"big": np.zeros(10 ** 6)})


def test_errors_are_value_errors_for_the_cli(tmp_path):
    assert issubclass(SweepError, ValueError)
    with pytest.raises(SweepError, match=re.escape("does not exist")):
        load_sweep(tmp_path / "missing.toml")
