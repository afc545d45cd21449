"""Progress of a sweep over its points: a tqdm bar on a terminal, plain lines elsewhere."""

from __future__ import annotations

import sys
import time

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
    mode : {"bar", "lines", None}
        ``"bar"``: a tqdm bar (stderr is a terminal); ``"lines"``: a plain line on
        stderr at most every ``every`` seconds and at the end (logs, CI, pipes);
        None: nothing.
    every : float
        Seconds between plain lines.
    """

    def __init__(self, total: int, already: int, mode: str | None, every: float = 10.0,
                 stream=None):
        self.total, self.already, self.mode, self.every = total, already, mode, every
        self.stream = stream if stream is not None else sys.stderr
        self.done = already
        self.failed = 0
        self.start = time.perf_counter()
        self.last = -float("inf")
        self.bar = None
        if mode == "bar":
            from tqdm.auto import tqdm
            self.bar = tqdm(total=total, initial=already, unit="point", desc="sweep",
                            file=self.stream, dynamic_ncols=True)

    @classmethod
    def auto(cls, total: int, already: int, progress: bool | None) -> "Progress":
        """A bar on a terminal, plain lines otherwise; nothing with ``progress=False``."""
        if progress is False:
            return cls(total, already, None)
        return cls(total, already, "bar" if sys.stderr.isatty() else "lines")

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
        if self.bar is not None:
            self.bar.update(1)
            if failed:
                self.bar.set_postfix(failed=self.failed)
        elif self.mode == "lines":
            now = time.perf_counter()
            if now - self.last >= self.every or self.done == self.total:
                self.last = now
                print(self.line(), file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
