"""Progress of long computations: one helper for flows, trainers and analyses.

On a terminal it is a tqdm bar; when stderr is not a terminal (a log file, a batch
job, a pipe) it prints a plain line every :data:`EVERY` seconds instead, with the
position reached, the loss, events and the stepper, so that a run written to a log
shows where it is.  ``progress=False`` shows nothing, ``progress=True`` forces the
display (a bar on a terminal, lines elsewhere), ``None`` (the default everywhere)
chooses by ``sys.stderr.isatty()``.

Status items (loss, events, steps...) come from keyword arguments of
:meth:`Progress.update`, from a ``status`` callable given at creation, or from the
provider a caller installs with :func:`status_provider` around code that creates
its own display (the exact flow's engines).
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import time

__all__ = ["Progress", "progress_bar", "status_provider", "heartbeat", "EVERY"]

#: seconds between two plain progress lines when stderr is not a terminal
EVERY = 10.0

#: when the last plain progress line was printed (any display), for :func:`heartbeat`
_LAST_LINE = [0.0]

_PROVIDER: contextvars.ContextVar = contextvars.ContextVar("flowlab_progress_status",
                                                           default=None)


@contextlib.contextmanager
def status_provider(func):
    """Within the block, displays created without a ``status`` callable read their
    status items from ``func()`` (a dict)."""
    token = _PROVIDER.set(func)
    try:
        yield
    finally:
        _PROVIDER.reset(token)


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


class Progress:
    """A progress display over ``total`` units (flow time or iterations).

    Parameters
    ----------
    total : float
        Units to go (``t_end - t0`` for a flow, a number of iterations).
    desc : str
        What runs, e.g. ``"flow[exact]"`` or ``"adam"``.
    unit : {"t", "it"}
        Flow time or iterations.
    mode : {"bar", "lines"}
        A tqdm bar, or a plain line every ``every`` seconds.
    status : callable, optional
        Returns a dict of status items (loss, events, ...) when a line is printed.
    stream : file, optional
        Where lines go (default ``sys.stderr``).
    every : float, optional
        Seconds between lines (default :data:`EVERY`).
    clock : callable, optional
        Time source (default ``time.perf_counter``; tests pass their own).
    initial : float, optional
        Units already done before this display (a resumed run).
    line : callable, optional
        Builds the plain line instead of the default ``flowlab desc: t = ... of ...``;
        with it the first update prints a line at once (short runs show one too).
    """

    def __init__(self, total: float, desc: str, *, unit: str = "it", mode: str = "lines",
                 status=None, stream=None, every: float | None = None, clock=None,
                 initial: float = 0.0, line=None):
        self.total, self.desc, self.unit, self.mode = total, desc, unit, mode
        self.status = status if status is not None else _PROVIDER.get()
        self.stream = sys.stderr if stream is None else stream
        self.every = EVERY if every is None else float(every)
        self.clock = clock or time.perf_counter
        self.n = float(initial)
        self.items: dict = {}
        self.line_fn = line
        self.start = self.last = self.clock()
        if line is not None:
            self.last = -float("inf")
        self.lines = 0
        self.bar = None
        if mode == "bar":
            from tqdm.auto import tqdm
            fmt = ("{l_bar}{bar}| t={n:.4g}/{total:.4g} [{elapsed}<{remaining}]{postfix}"
                   if unit == "t" else None)
            self.bar = tqdm(total=total, unit=unit, delay=1.0, leave=False, desc=desc,
                            bar_format=fmt, file=self.stream, initial=initial)

    def update(self, n: float = 1, **items) -> None:
        """Advance by ``n`` units; ``items`` (loss=..., events=...) join the status."""
        self.n += n
        if items:
            self.items.update(items)
        if self.bar is not None:
            self.bar.update(n)
            if items:
                self.bar.set_postfix({k: _fmt(v) for k, v in items.items()}, refresh=False)
            return
        now = self.clock()
        if now - self.last >= self.every:
            self.last = now
            self._line(now)

    def _line(self, now, final: bool = False) -> None:
        if self.line_fn is not None:
            print(self.line_fn(), file=self.stream, flush=True)
            self.lines += 1
            _LAST_LINE[0] = time.perf_counter()
            return
        items = dict(self.status() if self.status is not None else {})
        items.update(self.items)
        where = (f"t = {self.n:.4g} of {self.total:.4g}" if self.unit == "t"
                 else f"iteration {self.n:.0f} of {self.total:.0f}")
        share = f" ({100 * self.n / self.total:.0f}%)" if self.total else ""
        extra = "".join(f", {k} {_fmt(v)}" for k, v in items.items() if v is not None)
        state = "done" if final else f"{now - self.start:.0f} s"
        print(f"flowlab {self.desc}: {where}{share}{extra} [{state}]", file=self.stream,
              flush=True)
        self.lines += 1
        _LAST_LINE[0] = time.perf_counter()

    def close(self) -> None:
        """Close the bar; after plain lines, print a last one with where the run ended."""
        if self.bar is not None:
            self.bar.close()
        elif self.lines:
            self._line(self.clock(), final=True)


@contextlib.contextmanager
def heartbeat(progress, desc: str, status=None, every: float | None = None, stream=None):
    """While the block runs, a plain line every ``every`` seconds (default :data:`EVERY`)
    that no other progress line has been printed in, when stderr is not a terminal and
    ``progress`` is not False: for long computations made of many short pieces (a
    reproduction), whose own displays may stay silent.  ``status()`` gives the items."""
    tty = bool(getattr(sys.stderr, "isatty", lambda: False)())
    if progress is False or tty:
        yield
        return
    import threading
    every = EVERY if every is None else float(every)
    stream = sys.stderr if stream is None else stream
    start = time.perf_counter()
    _LAST_LINE[0] = max(_LAST_LINE[0], start)
    done = threading.Event()

    def beat():
        while not done.wait(min(every, 1.0) if every > 0 else 0.01):
            now = time.perf_counter()
            if now - _LAST_LINE[0] >= every:
                items = status() if status is not None else {}
                extra = "".join(f", {k} {_fmt(v)}" for k, v in items.items() if v is not None)
                print(f"flowlab {desc}: running{extra} [{now - start:.0f} s]", file=stream,
                      flush=True)
                _LAST_LINE[0] = now

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def progress_bar(progress, total, desc, *, unit: str = "t", status=None,
                 **options) -> Progress | None:
    """The display for ``progress`` (None: a bar on a terminal, lines otherwise; True:
    shown either way; False: none), or None when nothing is to be shown.  ``options``
    (``initial``, ``line``, ``every``, ``stream``) go to :class:`Progress`."""
    if progress is False or not total:
        return None
    tty = bool(getattr(sys.stderr, "isatty", lambda: False)())
    return Progress(total, desc, unit=unit, mode="bar" if tty else "lines", status=status,
                    **options)
