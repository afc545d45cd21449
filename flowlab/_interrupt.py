"""Ctrl-C inside a larger computation.

A flow or a training loop interrupted by Ctrl-C (``KeyboardInterrupt``)
returns what it has computed, with status "interrupted", so that an
interactive user keeps the partial result.  Inside a computation made of
many such runs (a reproduction) a partial result would be mistaken for a
complete one: there, :func:`propagating` makes every run save what it has
(its ``save`` file) and then raise ``KeyboardInterrupt`` again, so that the
whole command stops.
"""

from __future__ import annotations

import contextlib
import contextvars

__all__ = ["propagating", "reraise_if_propagating"]

_PROPAGATE = contextvars.ContextVar("flowlab_propagate_interrupts", default=False)


@contextlib.contextmanager
def propagating():
    """Within this block, interrupted flows and trainers re-raise ``KeyboardInterrupt``."""
    token = _PROPAGATE.set(True)
    try:
        yield
    finally:
        _PROPAGATE.reset(token)


def reraise_if_propagating() -> None:
    """Raise ``KeyboardInterrupt`` when called inside :func:`propagating`."""
    if _PROPAGATE.get():
        raise KeyboardInterrupt


class _Deferred:
    """Holds a Ctrl-C that arrived inside a :func:`deferred` block."""

    def __init__(self):
        self.pending = False

    def check(self) -> None:
        """Raise the deferred ``KeyboardInterrupt`` (call at a point where stopping is safe)."""
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt


@contextlib.contextmanager
def deferred():
    """Hold Ctrl-C (SIGINT) until the next :meth:`_Deferred.check`.

    The exact flows handle events in Python between calls of their compiled
    integrator; an interrupt in the middle of an event would leave the state
    half-updated.  Within this block SIGINT only sets a flag, and the stage
    loop raises ``KeyboardInterrupt`` at its next safe point, where the state
    is that of a checkpoint (resuming from it equals one run).  A second
    Ctrl-C before that point interrupts at once.  Outside the main thread, or
    when another SIGINT handler is installed, nothing is changed.
    """
    import signal
    import threading
    state = _Deferred()
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield state
        return

    def handler(signum, frame):
        if state.pending:
            raise KeyboardInterrupt
        state.pending = True

    signal.signal(signal.SIGINT, handler)
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    state.check()                     # held to the end of a run that then finished
