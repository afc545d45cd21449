"""No lost work: checkpoints of every method, kill-and-resume, safe files.

The kill test runs flows in real subprocesses that are ended by SIGKILL at a
checkpoint (and one in the middle of writing one); the resumed run must equal one
uninterrupted run: parameters within 1e-10, the same events.
"""

import json
import pickle
import signal
import subprocess
import sys
import textwrap
import warnings
import zipfile

import numpy as np
import pytest

import flowlab as fl
from flowlab._flow import _events as event_driver
from flowlab._flow import _journal

X7 = np.linspace(-1, 1, 7)
TIGHT = dict(rtol=1e-12, atol=1e-14)


def _tanh():
    return fl.TwoLayer([[1.0, 0.2], [-0.5, 0.3], [0.7, -0.1]], [0.5, -0.4, 0.3], "tanh")


def _relu1d():
    rng = np.random.default_rng(7)
    x = np.linspace(-1, 1, 9)
    y = np.sin(3 * x) + 0.3 * rng.normal(size=9)
    net = fl.ReLU1D(rng.uniform(-1, 1, 3), rng.normal(size=3), w=rng.choice([-1.0, 1.0], 3))
    return net, x, y, 5.0                  # 10 events: crossings and slides


def _relu2d(seed=3):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (10, 2))
    y = rng.normal(size=10)
    return fl.TwoLayer(rng.normal(size=(3, 3)), rng.normal(size=3), "relu"), X, y, 2.0


#: name -> (net, x, y, t_end, options): every method on a problem where it is accurate
#: to 1e-12 within a few hundred steps
CASES = {
    "exact-1d": _relu1d() + ({},),
    "exact-2d": _relu2d() + ({},),
    **{m: (_tanh(), X7, np.sin(3 * X7), 1.0, TIGHT)
       for m in ("RK45", "DOP853", "Radau", "BDF", "LSODA", "ERK45", "ERK853")},
    "RK23": (_tanh(), X7, np.sin(3 * X7), 0.2, TIGHT),
}

#: The helper process: imports flowlab once, then forks one child per case; each child
#: runs its flow with a checkpoint after every step and is ended by SIGKILL right after
#: checkpoint N ("after") or half-way through writing it ("torn").  Prints the signal
#: that ended each child.
HELPER = textwrap.dedent("""
    import json, os, pickle, signal, sys
    import flowlab as fl
    from flowlab._flow import _events, _journal

    _events.BUFFER = 16                   # as in the test: returns of the compiled loops
    with open(sys.argv[1], "rb") as fh:
        jobs = pickle.load(fh)
    append = _journal.Journal.append
    for job in jobs:                      # load the compiled kernels once, before forking
        net, x, y, T, kw = job["case"]
        fl.flow(net, x, y, T * 1e-3, method=job["method"], progress=False, **kw)
    ended = {}
    for job in jobs:
        pid = os.fork()
        if pid == 0:
            count = [0]

            def killing_append(self, arrays, meta):
                count[0] += 1
                if count[0] == job["kill_at"] and job["mode"] == "torn":
                    data = _journal._encode(arrays, dict(meta, record="chunk"))
                    self._fh.write(data[: len(data) // 2])
                    self._fh.flush()
                    os.kill(os.getpid(), signal.SIGKILL)
                append(self, arrays, meta)
                if count[0] == job["kill_at"]:
                    os.kill(os.getpid(), signal.SIGKILL)

            _journal.Journal.append = killing_append
            net, x, y, T, kw = job["case"]
            fl.flow(net, x, y, T, method=job["method"], save=job["save"],
                    checkpoint_every=1e-9, progress=False, **kw)
            os._exit(3)                   # finished without being killed
        _, status = os.waitpid(pid, 0)
        ended[job["name"]] = os.WTERMSIG(status) if os.WIFSIGNALED(status) else -1
    print(json.dumps(ended))
""")


def _method(name):
    return "exact" if name.startswith("exact") else name


def _events(sol):
    return [(int(e.neuron), int(e.point), str(e.kind), int(e.side)) for e in sol.events]


def _one_run(name, path, monkeypatch, case=None):
    """The uninterrupted run (with checkpoints) and the number of checkpoints it writes."""
    net, x, y, T, kw = CASES[name] if case is None else case
    count = [0]
    append = _journal.Journal.append

    def counting(self, arrays, meta):
        count[0] += 1
        append(self, arrays, meta)

    with monkeypatch.context() as m:
        m.setattr(_journal.Journal, "append", counting)
        one = fl.flow(net, x, y, T, method=_method(name), save=path, checkpoint_every=1e-9,
                      progress=False, **kw)
    assert not _journal.journal_path(path).exists()      # a finished run leaves no journal
    return one, count[0]


def test_sigkill_and_resume_equal_one_run_for_every_method(tmp_path, monkeypatch):
    """Issue case: the exact engines wrote no checkpoint (a run killed at 5 s or 8 s of 9 s
    left no file).  Every method now appends checkpoints; a process killed by SIGKILL
    (after a checkpoint, and in the middle of writing one) leaves a file that loads as
    "interrupted" and that flowlab.resume continues to the same result as one run.
    Checkpoints are written where the compiled loops of the exact engines return to
    Python (at events they leave to Python, and at least every ``BUFFER``
    steps): 16 steps here, so that these short runs, whose events the compiled loop
    decides, write several."""
    monkeypatch.setattr(event_driver, "BUFFER", 16)
    runs, jobs = {}, []
    for name in CASES:
        mode = "torn" if name in ("exact-2d", "Radau", "LSODA") else "after"
        one, count = _one_run(name, tmp_path / f"{name}-one.npz", monkeypatch)
        kill_at = max(2, count // 2)
        save = tmp_path / f"{name}.npz"
        runs[name] = (one, count, kill_at, mode, save)
        jobs.append({"name": name, "method": _method(name), "case": CASES[name],
                     "kill_at": kill_at, "mode": mode, "save": str(save)})
    spec = tmp_path / "jobs.pkl"
    with open(spec, "wb") as fh:
        pickle.dump(jobs, fh)
    proc = subprocess.run([sys.executable, "-c", HELPER, str(spec)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ended = json.loads(proc.stdout.strip().splitlines()[-1])
    assert ended == {name: int(signal.SIGKILL) for name in CASES}, ended
    for name, (one, count, kill_at, mode, save) in runs.items():
        assert not save.exists() and _journal.journal_path(save).exists()
        part = fl.load(save)
        assert part.status == "interrupted" and "resume" in part.message
        assert 0 < part.t_final < one.t_end and part.t[-1] == part.t_final
        written = kill_at - 1 if mode == "torn" else kill_at
        assert part.info["checkpoints"] == written
        assert part.info.get("journal_torn_tail", False) == (mode == "torn")
        # the checkpoint holds exactly the first steps of the uninterrupted run... to rounding
        k = part.t.size
        np.testing.assert_allclose(part.theta, one.theta[:k], rtol=0, atol=1e-12)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            joined = fl.resume(save, progress=False, save=save)
        assert joined.status == "finished" and joined.t_final == one.t_final
        np.testing.assert_allclose(joined.theta_final, one.theta_final, rtol=0, atol=1e-10,
                                   err_msg=name)
        assert _events(joined) == _events(one), name
        np.testing.assert_allclose(joined.events.t, one.events.t, rtol=0, atol=1e-10)
        # the saved file holds the joined solution (checkpoint part included)
        back = fl.load(save)
        assert not _journal.journal_path(save).exists()
        np.testing.assert_array_equal(back.t, joined.t)
        np.testing.assert_array_equal(back.theta_final, joined.theta_final)
        assert _events(back) == _events(one) and back.nsteps == joined.nsteps
        tq = np.linspace(0, one.t_final, 23)
        np.testing.assert_allclose(back.theta_at(tq), one.theta_at(tq), rtol=0, atol=1e-9)
    assert all(len(runs[n][0].events) >= 5 for n in CASES if n.startswith("exact"))


@pytest.mark.parametrize("case", ["1d", "2d"])
def test_every_checkpoint_of_an_exact_run_resumes_to_one_run(tmp_path, monkeypatch, case):
    """Kill points at each checkpoint of an exact run (many fall right after an event, where
    the restart decides the point on its surface again): the join drops the repeated
    decision, and events and parameters equal one run.  Before, an interrupted run in
    d = 2 duplicated a crossing at the join.  In d = 2 the compiled loop decides one-point
    crossings itself and returns (checkpoints) only when its buffer is full or an event
    needs the engine; with ``gtol`` it returns at every event, so that every event is
    followed by a checkpoint here."""
    net, x, y, T = _relu1d() if case == "1d" else _relu2d(5)
    kw = {} if case == "1d" else {"gtol": 1e-300}
    one, count = _one_run("exact", tmp_path / "one.npz", monkeypatch, (net, x, y, T, kw))
    assert count >= 5

    class Killed(BaseException):
        pass

    append = _journal.Journal.append
    for kill_at in range(2, count + 1):
        save = tmp_path / f"k{kill_at}.npz"
        calls = [0]

        def dying(self, arrays, meta):
            calls[0] += 1
            append(self, arrays, meta)
            if calls[0] == kill_at:
                raise Killed

        with monkeypatch.context() as m, pytest.raises(Killed):
            m.setattr(_journal.Journal, "append", dying)
            fl.flow(net, x, y, T, method="exact", save=save, checkpoint_every=1e-9,
                    progress=False, **kw)
        joined = fl.resume(save, progress=False, **kw)
        assert _events(joined) == _events(one), kill_at
        np.testing.assert_allclose(joined.theta_final, one.theta_final, rtol=0, atol=1e-10)


def test_ctrl_c_inside_an_exact_event_waits_for_a_safe_point(tmp_path, monkeypatch):
    """Issue case: resuming an interrupted exact run in d = 2 duplicated (or lost) an event
    at the join: Ctrl-C landed while the engine was handling an event.  Now a Ctrl-C that
    arrives then is held until the event is complete, and the interrupted solution resumes
    to exactly the events of one run (before: 4 of 6 of these interrupts went wrong).  With
    ``gtol`` the compiled loop hands every event to the engine's ``_handle``."""
    net, X, y, T = _relu2d(5)
    kw = {"gtol": 1e-300}
    one = fl.flow(net, X, y, T, method="exact", progress=False, **kw)
    from flowlab._flow.exact_nd import ExactND
    handle = ExactND._handle
    for k in range(1, 7):
        calls = [0]

        def interrupted_handle(self, model, t, k=k):
            calls[0] += 1
            if calls[0] == k:
                signal.raise_signal(signal.SIGINT)         # as if Ctrl-C came now
            return handle(self, model, t)

        with monkeypatch.context() as m:
            m.setattr(ExactND, "_handle", interrupted_handle)
            part = fl.flow(net, X, y, T, method="exact", progress=False,
                           save=tmp_path / f"p{k}", **kw)
        assert part.status == "interrupted" and part.t_final < T
        assert fl.load(tmp_path / f"p{k}").status == "interrupted"
        joined = fl.resume(tmp_path / f"p{k}", progress=False, **kw)
        assert _events(joined) == _events(one), k
        np.testing.assert_allclose(joined.theta_final, one.theta_final, rtol=0, atol=1e-10)


def test_checkpoints_cost_in_proportion_to_the_new_steps(tmp_path, monkeypatch):
    """Issue case: every checkpoint re-compressed the whole history (a 14.7 s run took
    68.8 s with checkpoint_every=1).  Now each one writes only the rows since the last:
    with a checkpoint after every step, the bytes written stay within a few times the
    solution's size (before: quadratic in the number of steps)."""
    written = [0]
    savez, savez_c = np.savez, np.savez_compressed

    def count(fn):
        def wrapped(file, *args, **arrays):
            written[0] += sum(np.asarray(a).nbytes for a in list(args) + list(arrays.values()))
            return fn(file, *args, **arrays)
        return wrapped

    monkeypatch.setattr(np, "savez", count(savez))
    monkeypatch.setattr(np, "savez_compressed", count(savez_c))
    for method, (net, x, y, T, kw) in (("RK45", CASES["RK45"]), ("exact", CASES["exact-1d"])):
        written[0] = 0
        sol = fl.flow(net, x, y, T, method=method, save=tmp_path / f"{method}.npz",
                      checkpoint_every=1e-9, progress=False, **kw)
        size = sum(np.asarray(a).nbytes for a in sol._payload()[0].values())
        assert sol.nsteps > 100
        assert written[0] <= 4 * size + 2e4 * (sol.nsteps if method != "exact" else 10), \
            (method, written[0], size)


def test_unwritable_save_path_fails_before_the_run(tmp_path, monkeypatch):
    """Issue case: an unwritable `save` failed only at the end, after the computation."""
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    from flowlab._problem import Problem
    calls = [0]
    rhs = Problem.rhs

    def counting(self, t, u):
        calls[0] += 1
        return rhs(self, t, u)

    monkeypatch.setattr(Problem, "rhs", counting)
    net, x, y, T, _ = CASES["RK45"]
    for bad in (blocker / "sol.npz", tmp_path):
        for method in ("RK45", "Radau", "ERK45"):
            with pytest.raises(ValueError, match="`save`"):
                fl.flow(net, x, y, T, method=method, save=bad)
    netr, xr, yr, Tr, _ = CASES["exact-1d"]
    with pytest.raises(ValueError, match="`save`"):
        fl.flow(netr, xr, yr, Tr, save=blocker / "sol.npz")
    assert calls[0] == 0


def test_save_to_a_folder_and_save_without_suffix(tmp_path):
    """Issue cases: sol.save(a_directory) wrote a_directory.npz beside it, and after
    save("name"), load("name") could not find the file."""
    net, x, y, T, kw = CASES["RK45"]
    sol = fl.flow(net, x, y, 0.1, method="RK45", progress=False)
    with pytest.raises(ValueError, match="is a folder"):
        sol.save(tmp_path)
    assert not (tmp_path.parent / (tmp_path.name + ".npz")).exists()
    out = sol.save(tmp_path / "name")
    assert out == tmp_path / "name.npz"
    back = fl.load(tmp_path / "name")
    np.testing.assert_array_equal(back.theta, sol.theta)
    with pytest.raises(ValueError, match="is a folder"):
        fl.load(tmp_path)


def _corrupt_variants(good, tmp_path):
    """(label, path) of damaged copies of the solution file ``good``."""
    raw = good.read_bytes()
    out = []

    def put(label, data):
        p = tmp_path / f"{label}.npz"
        p.write_bytes(data)
        out.append((label, p))

    put("truncated", raw[: len(raw) // 2])
    flipped = bytearray(raw)
    for k in range(len(raw) // 3, len(raw) // 3 + 64):
        flipped[k] ^= 0xFF
    put("flipped", bytes(flipped))
    put("random", np.random.default_rng(0).bytes(4096))
    put("empty", b"")
    with np.load(good) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["__meta__"]))

    def rewrite(label, arrays_, meta_):
        p = tmp_path / f"{label}.npz"
        payload = dict(arrays_)
        payload["__meta__"] = np.array(meta_ if isinstance(meta_, str) else json.dumps(meta_))
        np.savez(p, **payload)
        out.append((label, p))

    rewrite("bad-json", arrays, "{not json")
    rewrite("meta-list", arrays, "[1, 2]")
    rewrite("missing-key", arrays, {k: v for k, v in meta.items() if k != "status"})
    rewrite("net-meta-wrong", arrays, dict(meta, net0="oops"))
    rewrite("version-99", arrays, dict(meta, version=99))
    rewrite("nan-theta-final", dict(arrays, theta_final=np.full_like(arrays["theta_final"],
                                                                      np.nan)), meta)
    rewrite("short-theta-final", dict(arrays, theta_final=arrays["theta_final"][:-1]), meta)
    rewrite("pickled", dict(arrays, t=np.array([object()], dtype=object)), meta)
    p = tmp_path / "no-meta.npz"
    np.savez(p, t=arrays["t"])
    out.append(("no-meta", p))
    with zipfile.ZipFile(good) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    p = tmp_path / "missing-member.npz"
    with zipfile.ZipFile(p, "w") as zf:
        for n, data in members.items():
            if n != "theta.npy":
                zf.writestr(n, data)
    out.append(("missing-member", p))
    return out


def test_corrupted_files_raise_clear_errors(tmp_path):
    """Issue cases: corrupted files raised BadZipFile, Bad CRC-32, a misleading "pickled
    data" message, EOFError, JSONDecodeError, KeyError, AttributeError; a NaN or truncated
    theta_final loaded and failed later; version=99 loaded without a word."""
    net, x, y, T, kw = CASES["RK45"]
    good = fl.flow(net, x, y, 0.2, method="RK45", progress=False).save(tmp_path / "good.npz")
    for label, path in _corrupt_variants(good, tmp_path):
        with pytest.raises(ValueError) as info:
            fl.load(path)
        text = str(info.value)
        assert str(path) in text, (label, text)
        if label == "version-99":
            assert "newer flowlab" in text and "version 99" in text
        elif label in ("nan-theta-final", "short-theta-final"):
            assert "theta_final" in text
    # a damaged checkpoint journal: a run whose head record is unreadable
    journal = _journal.journal_path(tmp_path / "j.npz")
    journal.write_bytes(b"FLOWLAB-JOURNAL1\n" + b"\x00" * 40)
    with pytest.raises(ValueError, match="no readable head record"):
        fl.load(tmp_path / "j.npz")
    journal.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a flowlab checkpoint journal"):
        fl.load(tmp_path / "j.npz")


def test_a_finished_file_wins_over_a_stale_journal_of_the_same_run(tmp_path):
    """Killed between writing the result and removing the journal: the result is read.
    A journal of a newer run (another run id) is read instead of an older result."""
    net, x, y, T, kw = CASES["RK45"]
    sol = fl.flow(net, x, y, 0.5, method="RK45", save=tmp_path / "r.npz", progress=False)
    jp = _journal.journal_path(tmp_path / "r.npz")
    head = sol._payload()
    j = _journal.Journal(tmp_path / "r.npz", head, 1.0)      # same run id as the result
    j.close()
    assert fl.load(tmp_path / "r.npz").status == "finished"
    head[1]["info"] = dict(head[1]["info"], run_id="another-run")
    j = _journal.Journal(tmp_path / "r.npz", head, 1.0)
    j.close()
    assert jp.exists() and fl.load(tmp_path / "r.npz").status == "interrupted"
