"""``flowlab sweep``: the command, Ctrl-C and kill -9 with resume, the missing extra."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from flowlab.cli import main

ROOT = Path(__file__).resolve().parents[2]

TASKS = textwrap.dedent("""
    import time

    def slow_square(point):
        time.sleep(point["sleep"])
        return {"y": point["x"] ** 2, "half": point["x"] / 2}
""")

STUDY = textwrap.dedent("""
    [task]
    name = "tasks.py:slow_square"
    sleep = 0.25

    [sweep]
    "task.x" = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
""")


def sweep_dir(tmp_path, name="study"):
    (tmp_path / "tasks.py").write_text(TASKS)
    study = tmp_path / f"{name}.toml"
    study.write_text(STUDY)
    return study


def start(study, out, address, **kw):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "flowlab", "sweep", str(study), "--out",
                             str(out), "--scheduler", address], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, **kw)


def done_points(out) -> int:
    import zarr
    path = out / "results.zarr"
    if not path.exists():
        return 0
    try:
        status = zarr.open_group(path, mode="r")["status"][...]
    except Exception:          # noqa: BLE001 - the store is being created
        return 0
    return int(np.sum((status != "") & (status != "error")))


def wait_for(out, k, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while done_points(out) < k:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the sweep made no progress"
        time.sleep(0.05)


@pytest.mark.parametrize("how", ["ctrl-c", "kill -9"])
def test_an_interrupted_sweep_resumes_and_equals_one_run(tmp_path, dask_client, how):
    import flowlab.sweep as sw
    study = sweep_dir(tmp_path)
    out = tmp_path / "out"
    address = dask_client.scheduler.address
    proc = start(study, out, address, start_new_session=True)
    wait_for(out, 3, proc)
    if how == "ctrl-c":
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 130, stderr
        assert "run the same command again to resume" in stdout
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
        assert (out / ".sweep.lock").exists()            # a stale lock, taken over below
    k = done_points(out)
    assert 3 <= k < 12
    proc = start(study, out, address)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    assert f"{k} of 12 points already done" in stdout
    assert f"{12 - k} points computed, 0 failed" in stdout
    assert "ETA" in stderr and "12/12 points" in stderr      # plain lines: not a terminal
    other = tmp_path / "other"
    other.mkdir()
    whole = sw.run(sweep_dir(other), out=tmp_path / "whole", client=dask_client, echo=None,
                   progress=False)
    a, b = sw.open_results(out).load(), whole.dataset().load()
    for name in ("y", "half", "status", "attempts", "point_hash"):
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    np.testing.assert_array_equal(a["y"].values, np.arange(1, 13) ** 2)


def test_cli_errors_are_one_line(tmp_path, capsys):
    study = sweep_dir(tmp_path)
    assert main(["sweep", str(study), "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "give one of the two" in capsys.readouterr().err
    study.write_text(STUDY.replace('"task.x"', '"model.x"'))
    assert main(["sweep", str(study), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("flowlab: error:") and len(err.splitlines()) == 1
    assert "unknown key 'model.x' in [sweep]" in err


def test_without_the_extra_flowlab_imports_and_sweep_names_it(tmp_path):
    study = sweep_dir(tmp_path)
    code = textwrap.dedent(f"""
        import sys
        for name in ("dask", "distributed", "xarray", "zarr"):
            sys.modules[name] = None          # as if not installed
        import flowlab, flowlab.sweep
        assert flowlab.sweep.task_names()
        from flowlab.cli import main
        sys.exit(main(["sweep", {str(study)!r}, "--out", {str(tmp_path / "o")!r}]))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert 'pip install "flowlab[sweep]"' in proc.stderr
    assert "dask" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
