"""The one-time compile notice, `flowlab warmup` and the compile-cost measurement."""

import io
from pathlib import Path

import numba
import pytest

from flowlab import _compile, _warmup
from flowlab.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _kernel(name, body):
    """A fresh, uncached numba function that numba attributes to a flowlab module."""
    ns = {}
    exec(f"def {name}(x):\n    return {body}\n", ns)
    ns[name].__module__ = "flowlab._probe"
    return numba.njit(cache=False)(ns[name])


def test_first_compilation_is_announced_once(capsys, monkeypatch):
    monkeypatch.setitem(_compile._STATE, "announced", False)
    _compile.install_notice()
    with _compile.compile_task("smooth"):
        assert _kernel("probe_a", "x + 1")(1.0) == 2.0
    assert _kernel("probe_b", "x + 2")(1.0) == 3.0
    err = capsys.readouterr().err
    assert err.count("compiling flowlab's kernels") == 1
    assert (f"compiling flowlab's kernels, once per install: "
            f"~{_compile.ESTIMATE_S['smooth']:.0f} s (`flowlab warmup`") in err


def test_timer_charges_each_kernel_its_own_time():
    inner = _kernel("probe_inner", "x * 2")
    ns = {"inner": inner}
    exec("def probe_outer(x):\n    return inner(x) + 1\n", ns)
    ns["probe_outer"].__module__ = "flowlab._probe"
    outer = numba.njit(cache=False)(ns["probe_outer"])
    timer = _compile.CompileTimer()
    with timer.recording():
        assert outer(2.0) == 5.0
    assert timer.signatures == {"flowlab._probe.probe_outer": 1, "flowlab._probe.probe_inner": 1}
    assert all(s > 0 for s in timer.seconds.values())
    rows = [{"task": "t", "what": "w", "seconds": 1.0, "compiled": 2}]
    table = _warmup.table_markdown(rows, timer)
    assert "| `_probe.probe_outer` | 1 |" in table and "| t | w | 1.0 | 2 |" in table


def test_warmup_runs_tasks_with_progress_lines(capsys):
    out = io.StringIO()
    rows = _warmup.warmup(out, tasks=["gram"])
    assert rows[0]["task"] == "gram" and "[1/1] gram: exact ReLU Gram matrices" in out.getvalue()
    with pytest.raises(ValueError, match="unknown warmup task"):
        _warmup.warmup(out, tasks=["nope"])
    assert main(["warmup", "--list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name, _, _ in _warmup.TASKS)
    assert set(_compile.ESTIMATE_S) == {name for name, _, _ in _warmup.TASKS}


def test_compile_times_page_has_the_measured_tables():
    page = (ROOT / "docs" / "compile_times.md").read_text()
    for name, what, _ in _warmup.TASKS:
        assert f"| {name} | {what} |" in page
    assert "| kernel | signatures | seconds (own) |" in page and "`_kernels.radau" in page


def test_a_cache_index_that_no_longer_unpickles_is_compiled_again(tmp_path):
    """An index naming a class that is gone (renamed by a newer flowlab) is stale, not fatal."""
    import pickle
    import subprocess
    import sys
    import types

    (tmp_path / "probe_mod.py").write_text(
        "import numba\n\n@numba.njit(cache=True)\ndef f(x):\n    return x + 1.0\n")
    env = dict(__import__("os").environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONPATH=f"{tmp_path}:{ROOT}")

    def call(with_flowlab):
        pre = "import flowlab; " if with_flowlab else ""
        return subprocess.run([sys.executable, "-c", f"{pre}import probe_mod; "
                               "print(probe_mod.f(1.0))"], env=env, capture_output=True,
                              text=True, cwd=tmp_path)

    assert call(True).stdout.strip() == "2.0"
    (index,) = (tmp_path / "cache").rglob("*.nbi")
    with open(index, "rb") as fh:
        version = pickle.load(fh)
    gone = types.ModuleType("flowlab_gone_module")
    exec("class Model(tuple):\n    pass\n", gone.__dict__)
    gone.Model.__module__ = "flowlab_gone_module"
    sys.modules["flowlab_gone_module"] = gone
    try:
        payload = pickle.dumps((None, {gone.Model(): None}))
    finally:
        del sys.modules["flowlab_gone_module"]
    index.write_bytes(pickle.dumps(version) + payload)
    plain = call(False)                       # numba alone cannot read it
    assert plain.returncode != 0 and "flowlab_gone_module" in plain.stderr
    guarded = call(True)                      # with flowlab: compiled again
    assert guarded.returncode == 0, guarded.stderr
    assert guarded.stdout.strip() == "2.0"
    assert call(True).stdout.strip() == "2.0"  # and the rewritten index loads
