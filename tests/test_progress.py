"""Progress when the output is not a terminal: one helper (flowlab._progress) for all.

A run written to a log file prints a plain line every EVERY seconds (position, loss,
events, stepper); on a terminal it is a tqdm bar; progress=False shows nothing.
"""

import io
import sys
from pathlib import Path

import numpy as np

import flowlab as fl
from flowlab import _progress
from flowlab._progress import Progress, progress_bar, status_provider

ROOT = Path(__file__).resolve().parents[1]


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_plain_lines_every_ten_seconds():
    clock, out = _Clock(), io.StringIO()
    p = Progress(100.0, "flow[exact]", unit="t", mode="lines", stream=out, clock=clock,
                 status=lambda: {"events": 7, "stepper": "Radau IIA"})
    for t in (1.0, 2.0, 3.0):
        clock.now = 3 * t
        p.update(1.0, loss=0.5 / t)
    assert out.getvalue() == ""                      # 9 s: nothing yet
    clock.now = 10.5
    p.update(20.0, loss=0.01)
    clock.now = 12.0
    p.update(1.0)                                    # within 10 s of the last line
    line, = out.getvalue().splitlines()
    assert line == ("flowlab flow[exact]: t = 23 of 100 (23%), events 7, stepper Radau IIA, "
                    "loss 0.01 [10 s]")
    p.close()
    assert out.getvalue().splitlines()[-1].startswith("flowlab flow[exact]: t = 24 of 100")
    assert out.getvalue().endswith("[done]\n")


def test_choice_of_display(monkeypatch):
    assert progress_bar(False, 10, "gd") is None and progress_bar(None, 0, "gd") is None

    class Stream(io.StringIO):
        def __init__(self, tty):
            super().__init__()
            self.tty = tty

        def isatty(self):
            return self.tty
    monkeypatch.setattr(sys, "stderr", Stream(False))
    assert progress_bar(None, 10, "gd", unit="it").mode == "lines"
    assert progress_bar(True, 10, "gd", unit="it").mode == "lines"
    monkeypatch.setattr(sys, "stderr", Stream(True))
    p = progress_bar(None, 10, "gd", unit="it")
    assert p.mode == "bar" and p.bar is not None
    p.update(3, loss=0.1)
    p.close()


def test_flows_and_trainers_print_lines_to_a_log(monkeypatch, capsys):
    monkeypatch.setattr(_progress, "EVERY", 0.0)
    x = np.linspace(-1, 1, 40)
    fl.flow(fl.init.he(6, seed=0), x, np.sin(np.pi * x), 50.0)      # exact flow
    err = capsys.readouterr().err
    assert "flowlab flow[exact]: t = " in err and "events " in err and "loss " in err
    assert ("stepper Dormand-Prince 5(4), 1-d engine" in err
            or "stepper Radau IIA, 1-d engine" in err) and err.rstrip().endswith("[done]")
    fl.flow(fl.init.xavier(4, 1, activation="tanh", seed=0), x, np.sin(x), 1.0)
    err = capsys.readouterr().err
    assert "flowlab flow[auto]: t = " in err and "stepper ERK853" in err and "steps " in err
    fl.train.gd(fl.init.he(4, seed=0), x, np.sin(x), lr=1e-3, steps=10)
    assert "flowlab gd: iteration 10 of 10 (100%), loss " in capsys.readouterr().err
    fl.flow(fl.init.he(6, seed=0), x, np.sin(np.pi * x), 5.0, progress=False)
    assert capsys.readouterr().err == ""


def test_heartbeat_of_long_computations_made_of_short_pieces(monkeypatch):
    import time
    monkeypatch.setattr(sys, "stderr", io.StringIO())       # not a terminal
    out = io.StringIO()
    with _progress.heartbeat(None, "reproduce x", lambda: {"checks": 2}, every=0.05,
                             stream=out):
        time.sleep(0.3)
    lines = out.getvalue().splitlines()
    assert lines and lines[0].startswith("flowlab reproduce x: running, checks 2 [")
    quiet = io.StringIO()
    with _progress.heartbeat(False, "reproduce x", every=0.01, stream=quiet):
        time.sleep(0.05)
    assert quiet.getvalue() == ""


def test_status_provider_reaches_displays_made_inside():
    out = io.StringIO()
    with status_provider(lambda: {"events": 3}):
        p = Progress(1.0, "x", stream=out, every=0.0, clock=_Clock())
    p.update(1)
    assert "events 3" in out.getvalue()


def test_one_progress_helper():
    users = []
    for path in (ROOT / "flowlab").rglob("*.py"):
        text = path.read_text()
        if path.name != "_progress.py":
            assert "tqdm" not in text and "isatty" not in text, path
        if "progress_bar(" in text:
            users.append(path.relative_to(ROOT).as_posix())
    for module in ("flowlab/_flow/recorder.py", "flowlab/train/descent.py",
                   "flowlab/train/_anls.py", "flowlab/analysis/rank.py",
                   "flowlab/torch/_train.py"):
        assert module in users
