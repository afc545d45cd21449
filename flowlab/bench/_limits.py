"""Time limits for one run of a setup.

A run that steps blindly across kinks can take minutes; the suite stops it
after ``seconds`` by raising ``KeyboardInterrupt`` in the main thread.
flowlab's integrators and trainers catch that interrupt and return what they
computed so far (status "interrupted"), which the suite then records as
"timeout"; a run stopped elsewhere raises the interrupt, which the suite
catches.  A real Ctrl-C (when the timer has not fired) still stops the suite.  In a
process that ignores SIGINT (one started in the background by a shell)
Python's handler is installed for the duration of each run.
Outside the main thread no timer is set and only ``max_steps`` bounds a run.
"""

from __future__ import annotations

import _thread
import signal
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Bounds of one run: wall-clock seconds and steps (iterations for GD and Adam)."""

    seconds: float
    max_steps: int = 10_000_000


class TimeLimit:
    """Context manager interrupting the main thread after ``seconds`` (``fired`` tells)."""

    def __init__(self, seconds: float):
        self.seconds = float(seconds)
        self.fired = False
        self._active = False
        self._lock = threading.Lock()
        self._timer = None
        self.enabled = threading.current_thread() is threading.main_thread()

    def _fire(self):
        with self._lock:
            if self._active:
                self.fired = True
                _thread.interrupt_main()

    def __enter__(self):
        self._previous = None
        if self.enabled and self.seconds < float("inf"):
            # a process started in the background ignores SIGINT, and interrupt_main then
            # does nothing: Python's own handler is put in place for the duration
            current = signal.getsignal(signal.SIGINT)
            if current in (signal.SIG_IGN, signal.SIG_DFL):
                self._previous = current
                signal.signal(signal.SIGINT, signal.default_int_handler)
            elif current is None:           # set outside Python: leave Python's in place
                signal.signal(signal.SIGINT, signal.default_int_handler)
            self._active = True
            self._timer = threading.Timer(self.seconds, self._fire)
            self._timer.daemon = True
            self._timer.start()
        return self

    def __exit__(self, *exc):
        with self._lock:
            self._active = False
        if self._timer is not None:
            self._timer.cancel()
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


def call_with_limit(func, seconds: float):
    """``(result, fired, seconds)`` of ``func()`` run under a :class:`TimeLimit`.

    ``result`` is None when the interrupt stopped ``func`` before it returned.
    """
    lim = TimeLimit(seconds)
    result = None
    clock = time.perf_counter()
    elapsed = None
    try:
        with lim:
            result = func()
            elapsed = time.perf_counter() - clock
        if lim.fired:                          # let a pending interrupt arrive in here
            time.sleep(0.05)
    except KeyboardInterrupt:
        if not lim.fired:
            raise
    if elapsed is None:
        elapsed = time.perf_counter() - clock
    return result, lim.fired, elapsed
