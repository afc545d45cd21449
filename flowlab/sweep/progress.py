"""Progress of a sweep over its points, shown by flowlab's one progress helper
(:mod:`flowlab._progress`): a bar on a terminal, plain lines elsewhere."""

from __future__ import annotations

import time

from .._progress import progress_bar

__all__ = ["Progress", "format_seconds"]


def format_seconds(s: float) -> str:
    """``h:mm:ss`` (or ``?`` when unknown)."""
    if s != s or s == float("inf"):
        return "?"
    s = int(round(s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class Progress:
    """Counts finished and failed points and shows an estimated time to completion.

    Parameters
    ----------
    total : int
        Points of the grid.
    already : int
        Points finished before this run (resumed).
    progress : bool or None
        None: a bar on a terminal, a plain line on stderr at most every ``every``
        seconds and at the end otherwise (logs, CI, pipes); True: shown either way;
        False: nothing.
    every : float, optional
        Seconds between plain lines (default: the helper's).
    """

    def __init__(self, total: int, already: int, progress: bool | None = None,
                 every: float | None = None, stream=None):
        self.total, self.already = total, already
        self.done = already
        self.failed = 0
        self.start = time.perf_counter()
        self.display = progress_bar(progress, total, "sweep", unit="point", initial=already,
                                    line=self.line, every=every, stream=stream)

    @classmethod
    def auto(cls, total: int, already: int, progress: bool | None) -> "Progress":
        """A bar on a terminal, plain lines otherwise; nothing with ``progress=False``."""
        return cls(total, already, progress)

    def eta(self) -> float:
        """Seconds left at this run's rate (inf before the first point)."""
        new = self.done - self.already
        if new <= 0:
            return float("inf")
        return (time.perf_counter() - self.start) / new * (self.total - self.done)

    def line(self) -> str:
        """``sweep: 12/40 points (1 failed) | elapsed 0:00:31 | ETA 0:01:12``."""
        elapsed = time.perf_counter() - self.start
        return (f"sweep: {self.done}/{self.total} points ({self.failed} failed) | elapsed "
                f"{format_seconds(elapsed)} | ETA {format_seconds(self.eta())}")

    def update(self, failed: bool = False) -> None:
        """One more point done (or recorded as failed)."""
        self.done += 1
        self.failed += bool(failed)
        if self.display is not None:
            self.display.update(1, **({"failed": self.failed} if self.failed else {}))

    def close(self) -> None:
        """Close the bar, or print the last plain line."""
        if self.display is not None:
            self.display.close()
