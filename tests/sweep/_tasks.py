"""Task functions for the sweep tests (importable on the workers as tests.sweep._tasks)."""

import os
import time
from pathlib import Path

import numpy as np


def _log(point, what):
    """Append one line per execution to the point's log file (if the point names one)."""
    if point.get("log"):
        with open(point["log"], "a") as fh:
            fh.write(f"{what} {point['x']} {os.getpid()}\n")


def square(point):
    """x^2, a curve of three values and a label; raises for x == point['fail_at']."""
    _log(point, "run")
    if point.get("sleep"):
        time.sleep(point["sleep"])
    x = point["x"]
    if x == point.get("fail_at"):
        raise ValueError(f"bad point x={x}: the task refuses it")
    return {"y": x * x, "n": int(point.get("k", 0)) + 1, "label": f"x={x}",
            "curve": np.array([x, 2.0 * x, 3.0 * x]), "even": x % 2 == 0}


def wait_to_be_killed(point):
    """At x == victim, on the first attempt: write this worker's pid to ``marker`` and wait
    (the test kills the process); afterwards, and at the other points, like ``square``."""
    _log(point, "run")
    marker = Path(point["marker"])
    if point["x"] == point["victim"]:
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(str(os.getpid()))
            time.sleep(120.0)           # killed long before this ends
    time.sleep(point.get("sleep", 0.0))
    return {"y": point["x"] ** 2}


def not_a_dict(point):
    return [point["x"]]
