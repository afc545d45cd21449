"""The compile plans and the second compiling process of a cold first run (flowlab._prefetch),
the cache-write lock they rely on, and the kernels compiled without a Python entry point."""

import inspect
import os
import pickle
import subprocess
import sys
import threading
from pathlib import Path

import numba as nb
import pytest

from flowlab import _prefetch
from flowlab._kernels.internal import InternalDispatcher, internal

ROOT = Path(__file__).resolve().parents[1]


def _run(code, cache_dir, **env):
    """Run python ``code`` in a fresh process with numba's cache in ``cache_dir``."""
    full = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), FLOWLAB_PREFETCH="0",
                PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH"))
                                           if p), **env)
    out = subprocess.run([sys.executable, "-c", code], env=full, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_every_recorded_plan_names_existing_kernels_and_signatures():
    """A plan entry names a kernel that exists, with as many argument types as it has
    parameters; what it calls was recorded before it."""
    import numba
    try:
        stored = pickle.loads(_prefetch.PLAN_PATH.read_bytes())
    except (AttributeError, ImportError, pickle.UnpicklingError):   # another numba's types
        stored = {"numba": "another version"}
    if stored["numba"] != numba.__version__:    # not used then (read_plan gives None)
        assert _prefetch.read_plan("exact-1d") is None
        pytest.skip(f"the compile plans were recorded with numba {stored['numba']}, this is "
                    f"{numba.__version__}: flowlab warmup --record-plans")
    from flowlab._warmup import TASKS
    assert set(stored["plans"]) == {t[0] for t in TASKS}
    for task, plan in stored["plans"].items():
        assert plan, task
        for i, (module, qualname, args, own, deps) in enumerate(plan):
            assert own >= 0 and all(0 <= d < i for d in deps), (task, qualname)
            if "<locals>" in qualname:         # numba overloads: compiled as callees
                continue
            disp = _prefetch._dispatcher(module, qualname)
            assert disp is not None, f"{task}: {module}.{qualname} is gone; re-record the plans"
            n = len(inspect.signature(disp.py_func).parameters)
            assert len(args) == n, f"{task}: {module}.{qualname} now takes {n} arguments"
    assert _prefetch.read_plan("exact-1d") == stored["plans"]["exact-1d"]


def test_split_gives_the_helper_the_later_half_of_the_compile_time():
    plan = [("m", f"f{i}", (), t, ()) for i, t in enumerate([1.0, 1.0, 4.0, 1.0, 1.0, 2.0])]
    assert _prefetch.split(plan) == 3          # 1 + 1 + 4 >= 10 / 2
    plan = [("m", "f", (), 0.5, ()), ("m", "g", (), 0.5, (0,)), ("m", "h", (), 1.0, (1,))]
    assert _prefetch._closure(plan, 2) == {0, 1}
    assert _prefetch.split(plan) == 2


_GRAM = ("import numpy as np\n"
         "from flowlab.analysis import gram\n"
         "def task():\n"
         "    gram.relu_gram_1d(np.linspace(-0.9, 0.9, 6))\n")


@pytest.fixture(scope="module")
def gram_plan(tmp_path_factory):
    """The Gram task's compile plan, recorded on an empty cache: (plan, its file)."""
    folder = tmp_path_factory.mktemp("gram-plan")
    plan_file = folder / "plan.pkl"
    _run(_GRAM + "import pickle\nfrom flowlab._compile import CompileTimer\n"
         "timer = CompileTimer()\n"
         "with timer.recording(calls=True):\n    task()\n"
         f"open({str(plan_file)!r}, 'wb').write(pickle.dumps(timer.plan))\n",
         folder / "cache")
    return pickle.loads(plan_file.read_bytes()), plan_file


def test_a_recorded_plan_followed_in_another_process_fills_the_cache(tmp_path, gram_plan):
    """Record the Gram task's plan on an empty cache; a second process follows it on
    another empty cache; a third runs the task there and compiles nothing."""
    plan, plan_file = gram_plan
    names = [e[1] for e in plan]
    assert names[-1] == "relu_gram_1d" and len(plan) >= 3
    assert set(plan[-1][4]) == set(range(len(plan) - 1))   # it calls the others
    _run("import os, pickle\nfrom flowlab import _prefetch\n"
         f"plan = pickle.loads(open({str(plan_file)!r}, 'rb').read())\n"
         "_prefetch.follow(plan, os.getppid(), first=0)\n", tmp_path / "cache-b")
    out = _run(_GRAM + "from flowlab._compile import CompileTimer\n"
               "timer = CompileTimer()\n"
               "with timer.recording():\n    task()\n"
               "print(sum(timer.signatures.values()))\n", tmp_path / "cache-b")
    assert out.split()[-1] == "0"
    out = _run(_GRAM + "from flowlab._compile import CompileTimer\n"
               "timer = CompileTimer()\n"
               "with timer.recording():\n    task()\n"
               "print(sum(timer.signatures.values()))\n", tmp_path / "cache-c")
    assert int(out.split()[-1]) == len(plan)   # the control: an empty cache compiles


def test_the_helper_leaves_to_the_run_what_the_run_is_compiling(tmp_path, gram_plan):
    """With the run compiling the plan's last kernel (its key in the shared folder), the
    helper following the plan compiles the others and leaves that one to the run."""
    plan, plan_file = gram_plan
    channel = tmp_path / "channel"
    channel.mkdir()
    (channel / _prefetch.RUN).write_text(_prefetch.key(*plan[-1][:3]))
    log = tmp_path / "helper.log"
    out = _run("import os, pickle\nfrom flowlab import _prefetch\n"
               "_prefetch._CHANNEL['dir'] = os.environ['FLOWLAB_PREFETCH_CHANNEL']\n"
               f"plan = pickle.loads(open({str(plan_file)!r}, 'rb').read())\n"
               "_prefetch.follow(plan, os.getppid(), first=0)\n"
               "print(*(_prefetch._cached(_prefetch._dispatcher(*plan[i][:2]), plan[i][2])\n"
               "        for i in (0, -1)))\n",
               tmp_path / "cache", FLOWLAB_PREFETCH_CHANNEL=str(channel),
               FLOWLAB_PREFETCH_LOG=str(log))
    assert out.split() == ["True", "False"]
    text = log.read_text()
    assert f"the run compiles: {plan[-1][0]}.{plan[-1][1]}" in text
    assert text.count("the run compiles") == 1


def test_the_run_waits_for_a_kernel_the_helper_is_compiling(tmp_path, monkeypatch):
    """A kernel missing in the cache that the helper lists as in progress: the run waits
    until the helper moves on (here after 0.3 s), then loads again; a kernel the helper
    does not list, or with no helper alive, is compiled at once."""
    import time
    from flowlab._kernels import relu1d_stage
    disp = relu1d_stage.rule
    sig = (nb.float32, nb.float32, nb.float32, nb.int32)    # a signature no cache holds
    cache, ctx = disp._cache, disp.targetctx
    name = _prefetch.key(disp.py_func.__module__, disp.py_func.__qualname__, sig)

    class Alive:
        def poll(self):
            return None

    monkeypatch.setattr(_prefetch, "_CHANNEL",
                        {"dir": str(tmp_path), "stack": [], "run": True})
    monkeypatch.setattr(_prefetch, "_STARTED", {"exact-1d": Alive()})
    helper = tmp_path / _prefetch.HELPER
    helper.write_text(f"{time.time() + 10.0!r}\nanother kernel")
    assert not _prefetch.await_helper(cache, sig, ctx)
    helper.write_text(f"{time.time() + 10.0!r}\n{name}")
    done = threading.Timer(0.3, lambda: helper.write_text("0"))
    done.start()
    clock = time.perf_counter()
    assert _prefetch.await_helper(cache, sig, ctx)
    waited = time.perf_counter() - clock
    done.join()
    assert 0.25 <= waited < 5.0
    helper.write_text(f"{time.time() + 10.0!r}\n{name}")
    monkeypatch.setattr(_prefetch, "_STARTED", {})           # no helper alive
    clock = time.perf_counter()
    _prefetch.await_helper(cache, sig, ctx)
    assert time.perf_counter() - clock < 0.2


def test_the_run_publishes_its_compile_stack(tmp_path, monkeypatch):
    """The run keeps its compile stack in the shared folder while a helper is alive (and
    leaves the file alone once none is)."""
    from flowlab._kernels import relu1d_stage

    class Alive:
        def poll(self):
            return None

    monkeypatch.setattr(_prefetch, "_CHANNEL",
                        {"dir": str(tmp_path), "stack": [], "run": True})
    monkeypatch.setattr(_prefetch, "_STARTED", {"exact-1d": Alive()})
    args = (nb.float64, nb.float64, nb.float64, nb.int64)
    _prefetch.note_compile(relu1d_stage.decide, args, True)
    _prefetch.note_compile(relu1d_stage.rule, args, True)
    lines = (tmp_path / _prefetch.RUN).read_text().split("\n")
    assert lines == [_prefetch.key("flowlab._kernels.relu1d_stage", q, args)
                     for q in ("decide", "rule")]
    _prefetch.note_compile(relu1d_stage.rule, args, False)
    assert (tmp_path / _prefetch.RUN).read_text().split("\n") == lines[:1]
    monkeypatch.setattr(_prefetch, "_STARTED", {})           # the helper is done
    _prefetch.note_compile(relu1d_stage.decide, args, False)
    assert (tmp_path / _prefetch.RUN).read_text().split("\n") == lines[:1]
    assert _prefetch._CHANNEL["stack"] == []


def test_cache_writes_are_locked_and_write_the_data_before_the_index(tmp_path):
    """Threads saving different signatures of one kernel into one cache keep every entry,
    each with its own data (numba's own save can lose one or cross them)."""
    import flowlab  # noqa: F401  (installs the lock)
    from numba.core.caching import IndexDataCacheFile
    assert getattr(IndexDataCacheFile.save, "_flowlab_guard", False)

    def writer(k):
        f = IndexDataCacheFile(str(tmp_path), "kernel", ("stamp", 1))
        for r in range(20):
            f.save((k, r), f"data {k} {r}")

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    f = IndexDataCacheFile(str(tmp_path), "kernel", ("stamp", 1))
    index = f._load_index()
    assert len(index) == 80
    assert all(f.load(key) == f"data {key[0]} {key[1]}" for key in index)


@internal
def _twice(x, k):
    return 2 * x + k


@nb.njit
def _calls_twice(x):
    return _twice(x, 0) + _twice(x, 1) + _twice(x, int(x))


def test_internal_kernels_have_no_python_entry_and_one_signature():
    assert isinstance(_twice, InternalDispatcher)
    assert _calls_twice(3.0) == 6.0 + 7.0 + 9.0
    # the literal constants 0 and 1 share the int64 signature of int(x)
    assert len(_twice.signatures) == 1
    with pytest.raises(TypeError, match="_twice is a flowlab kernel that only compiled code"):
        _twice(3.0, 1)


def test_start_launches_one_helper_per_task_with_the_declared_next_tasks(monkeypatch):
    from flowlab._compile import compile_next, next_tasks
    launched = []

    class FakePopen:
        def __init__(self, argv, **kwargs):
            launched.append((argv, kwargs["env"]))

        def poll(self):
            return 0

        def wait(self):
            return 0

    monkeypatch.setattr(_prefetch, "_STARTED", {})
    monkeypatch.setattr(_prefetch, "_CHANNEL", {"dir": None, "stack": [], "run": False})
    monkeypatch.setattr(_prefetch, "_enabled", lambda: True)
    monkeypatch.setattr(_prefetch.subprocess, "Popen", FakePopen)
    with compile_next("exact-1d", "descent"):
        assert next_tasks() == ("exact-1d", "descent")
        assert _prefetch.start("exact-1d", next_tasks())
        assert not _prefetch.start("exact-1d") and not _prefetch.start("descent")
    assert next_tasks() == ()
    (argv, env), = launched
    assert argv[1:4] == ["-m", "flowlab._prefetch", "exact-1d"]
    assert argv[4] == str(os.getpid()) and argv[6:] == ["descent"]
    assert env["FLOWLAB_PREFETCH"] == "0"       # the helper starts no helper
    assert env["FLOWLAB_PREFETCH_CHANNEL"] == _prefetch._CHANNEL["dir"]
    assert os.path.isdir(env["FLOWLAB_PREFETCH_CHANNEL"])
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(ROOT)
    monkeypatch.undo()                          # the real _enabled: off by the variable
    monkeypatch.setenv("FLOWLAB_PREFETCH", "0")
    assert not _prefetch._enabled()


def test_a_reproduction_names_known_compile_tasks():
    from flowlab.experiments._registry import register
    with pytest.raises(ValueError, match="unknown compile task"):
        register("never-registered", "t", compiles=("exact-3d",))
