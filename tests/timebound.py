"""Run a call with a time bound, so that a hang fails the test instead of stalling the suite.

The call runs in a daemon thread; the test fails when it has not returned after
``seconds``.  flowlab's numba kernels release the GIL (``nogil=True``), so the
bound holds for a loop stuck in compiled code as well as for a Python loop
(the stuck thread is abandoned and ends with the test process).
"""

from __future__ import annotations

import threading

import pytest


def within(seconds: float, fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, or a test failure if it runs longer than ``seconds``.

    Exceptions of ``fn`` are raised again in the caller.
    """
    box = {}

    def target():
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:          # noqa: BLE001 - handed to the caller
            box["error"] = exc

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        pytest.fail(f"{getattr(fn, '__name__', fn)} did not return within {seconds} s (a hang)")
    if "error" in box:
        raise box["error"]
    return box.get("value")
