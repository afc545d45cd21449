"""Sweeps on a real LocalCluster of two worker processes (the session's ``dask_client``)."""

import json
import os
import signal
import threading
import time

import numpy as np
import pytest

pytest.importorskip("distributed")
pytest.importorskip("xarray")
pytest.importorskip("zarr")

import flowlab as fl  # noqa: E402
import flowlab.sweep as sw  # noqa: E402
from flowlab.cli import main  # noqa: E402

FLOW_STUDY = """
[model]
kind = "TwoLayer"
width = 5
activation = "tanh"

[init]
scheme = "xavier"
seed = 0

[data]
target = "sin(3*x)"
interval = [-1.0, 1.0]
points = 12

[flow]
t_end = 1.5
loss = "mean"
"""

SWEEP = """
[sweep]
"model.width" = [3, 6]
"init.seed" = [0, 1]
"""


def task_sweep(log, xs=(1, 2, 3), ks=(0, 1), **params):
    table = {"name": "tests.sweep._tasks:square", "log": str(log), **params}
    return {"task": table, "sweep": {"task.x": list(xs), "task.k": list(ks)}}


def executions(log):
    return [] if not log.exists() else log.read_text().split("\n")[:-1]


def test_flow_sweep_equals_single_study_runs(tmp_path, dask_client, capsys):
    study = tmp_path / "study.toml"
    study.write_text(FLOW_STUDY + SWEEP)
    res = sw.run(study, out=tmp_path / "out", client=dask_client, keep_solutions=True)
    assert (res.n_points, res.n_already, res.n_computed, res.n_failed) == (4, 0, 4, 0)
    assert "0 of 4 points already done" in capsys.readouterr().out
    import warnings

    import xarray as xr
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = xr.open_zarr(tmp_path / "out" / "results.zarr")      # plain xarray reads it
    assert list(ds["final_loss"].dims) == ["model.width", "init.seed"]
    np.testing.assert_array_equal(ds["model.width"], [3, 6])
    np.testing.assert_array_equal(ds["init.seed"], [0, 1])
    assert ds["loss"].dims == ("model.width", "init.seed", "t") and ds["t"].size == 51
    assert ds.attrs["study"] == study.read_text()
    versions = json.loads(ds.attrs["versions"])
    assert versions["flowlab"] == fl.__version__ and versions["dask"]
    assert set(np.ravel(ds["status"].values)) == {"finished"}
    for i, width in enumerate([3, 6]):
        for j, seed in enumerate([0, 1]):
            single = tmp_path / f"single_{width}_{seed}.toml"
            single.write_text(FLOW_STUDY.replace("width = 5", f"width = {width}")
                              .replace("seed = 0", f"seed = {seed}"))
            assert main(["flow", str(single), "--out", str(tmp_path / single.stem),
                         "--no-progress"]) == 0
            summary = json.loads((tmp_path / single.stem / "summary.json").read_text())
            pt = ds.isel({"model.width": i, "init.seed": j})
            for name in ("final_loss", "initial_loss", "t_final"):
                assert float(pt[name]) == pytest.approx(summary[name], rel=1e-12, abs=0)
            assert int(pt["steps"]) == summary["steps"] and int(pt["events"]) == 0
            sol = fl.load(tmp_path / single.stem / "solution.npz")
            np.testing.assert_allclose(pt["loss"].values, sol.loss_at(ds["t"].values),
                                       rtol=1e-12, atol=0)
            kept = fl.load(tmp_path / "out" / "solutions" / f"{str(pt['point_hash'].values)}.npz")
            np.testing.assert_array_equal(kept.theta_final, sol.theta_final)


def test_resume_recomputes_nothing_finished(tmp_path, dask_client, capsys):
    log = tmp_path / "log.txt"
    out = tmp_path / "out"
    sw.run(task_sweep(log), out=out, client=dask_client)
    assert len(executions(log)) == 6
    err = capsys.readouterr().err
    assert "points (0 failed) | elapsed" in err and "ETA" in err   # stderr is not a terminal
    again = sw.run(task_sweep(log), out=out, client=dask_client)
    assert "6 of 6 points already done" in capsys.readouterr().out
    assert again.n_computed == 0 and len(executions(log)) == 6
    # an interrupted sweep: two points were never written
    import zarr
    group = zarr.open_group(out / "results.zarr", mode="r+")
    group["status"][0, 1] = ""
    group["status"][2, 0] = ""
    resumed = sw.run(task_sweep(log), out=out, client=dask_client)
    assert "4 of 6 points already done" in capsys.readouterr().out
    assert resumed.n_computed == 2
    assert sorted(line.split()[1] for line in executions(log)[6:]) == ["1", "3"]
    whole = sw.run(task_sweep(tmp_path / "log2.txt"), out=tmp_path / "whole", client=dask_client)
    a, b = sw.open_results(out).load(), whole.dataset().load()
    for name in ("y", "n", "label", "curve", "even", "status", "error", "attempts"):
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    np.testing.assert_array_equal(a["y"].values, [[1, 1], [4, 4], [9, 9]])
    np.testing.assert_array_equal(a["n"].values, [[1, 2]] * 3)
    assert a["curve"].dims == ("task.x", "task.k", "curve_dim0")


def test_a_changed_grid_keeps_what_it_can(tmp_path, dask_client, capsys):
    log = tmp_path / "log.txt"
    out = tmp_path / "out"
    sw.run(task_sweep(log, xs=(1, 2)), out=out, client=dask_client)
    res = sw.run(task_sweep(log, xs=(1, 2, 5)), out=out, client=dask_client)
    text = capsys.readouterr().out
    assert "4 finished points carried over" in text and "4 of 6 points already done" in text
    assert res.n_computed == 2 and len(executions(log)) == 6
    assert len(list((out / "previous").iterdir())) == 1
    np.testing.assert_array_equal(res.dataset()["y"].values, [[1, 1], [4, 4], [25, 25]])


def test_a_task_that_raises_is_recorded_with_its_message(tmp_path, dask_client):
    log = tmp_path / "log.txt"
    res = sw.run(task_sweep(log, fail_at=2), out=tmp_path / "out", client=dask_client,
                 retries=1)
    assert (res.n_computed, res.n_failed) == (4, 2)
    ds = res.dataset()
    bad = ds.sel({"task.x": 2})
    assert list(bad["status"].values) == ["error", "error"]
    for msg in bad["error"].values:
        assert msg == "ValueError: bad point x=2: the task refuses it"
    assert all("_tasks.py" in tb for tb in bad["traceback"].values)
    np.testing.assert_array_equal(bad["attempts"].values, [2, 2])       # one retry each
    np.testing.assert_array_equal(bad["y"].values, [-1, -1])           # an int: -1 when missing
    assert [line.split()[1] for line in executions(log)].count("2") == 4
    good = ds.sel({"task.x": 3})
    assert list(good["status"].values) == ["ok", "ok"] and list(good["error"].values) == ["", ""]
    # a resumed sweep runs the failed points again (and only those)
    again = sw.run(task_sweep(log, fail_at=2), out=tmp_path / "out", client=dask_client,
                   retries=0)
    assert (again.n_already, again.n_computed, again.n_failed) == (4, 0, 2)


def test_output_that_is_not_a_dict_is_an_error_of_the_point(tmp_path, dask_client):
    cfg = {"task": {"name": "tests.sweep._tasks:not_a_dict"}, "sweep": {"task.x": [1, 2]}}
    res = sw.run(cfg, out=tmp_path / "out", client=dask_client, retries=0)
    assert res.n_failed == 2
    assert "must return a dict" in str(res.dataset()["error"].values[0])


def test_killing_a_worker_mid_sweep_loses_and_duplicates_nothing(tmp_path, dask_client):
    log, marker = tmp_path / "log.txt", tmp_path / "victim.pid"
    xs = list(range(1, 9))
    cfg = {"task": {"name": "tests.sweep._tasks:wait_to_be_killed", "log": str(log),
                    "marker": str(marker), "victim": 3, "sleep": 0.2},
           "sweep": {"task.x": xs}}
    box = {}
    runner = threading.Thread(target=lambda: box.update(
        res=sw.run(cfg, out=tmp_path / "out", client=dask_client, retries=0, echo=None)))
    runner.start()
    deadline = time.monotonic() + 60
    while not marker.exists() or not marker.read_text():
        assert time.monotonic() < deadline, "the victim task never started"
        time.sleep(0.05)
    pid = int(marker.read_text())
    assert pid in dask_client.run(os.getpid).values()       # a worker process of the cluster
    os.kill(pid, signal.SIGKILL)
    runner.join(timeout=120)
    assert not runner.is_alive()
    res = box["res"]
    assert (res.n_computed, res.n_failed) == (len(xs), 0)
    ds = res.dataset()
    assert set(ds["status"].values) == {"ok"}
    np.testing.assert_array_equal(ds["y"].values, np.square(xs))
    np.testing.assert_array_equal(ds["attempts"].values, 1)    # dask moved it, no retry spent
    victim = str(ds["worker"].sel({"task.x": 3}).values)
    assert not victim.endswith(f":{pid}")                     # finished on a live worker
    runs = [line.split() for line in executions(log)]
    assert sorted({int(x) for _, x, _ in runs}) == xs          # every point ran
    assert sum(1 for _, x, p in runs if x == "3") == 2         # the victim twice: killed, rerun


def test_bad_arguments(tmp_path, dask_client):
    cfg = task_sweep(tmp_path / "log.txt")
    with pytest.raises(ValueError, match="`workers` sizes a local cluster"):
        sw.run(cfg, out=tmp_path / "o", workers=2, client=dask_client)
    with pytest.raises(ValueError, match="`retries` must be an integer >= 0"):
        sw.run(cfg, out=tmp_path / "o", retries=-1, client=dask_client)
    with pytest.raises(ValueError, match="`keep_solutions` saves Solution files of flow tasks"):
        sw.run(cfg, out=tmp_path / "o", keep_solutions=True, client=dask_client)
