"""What a setup of the work-precision suite is (:class:`Setup`) and what its run returns
(:class:`Outcome`); the table of setups is :mod:`flowlab.bench.setups`, the external
peers' setups :mod:`flowlab.bench._peers`, which both build on these classes."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ._problems import Instance

__all__ = ["Outcome", "Setup"]


@dataclass
class Outcome:
    """What one run produced.

    Attributes
    ----------
    status : str
        "finished", "failed", "max_steps", "diverged", "interrupted" (turned
        into "timeout" by the suite when its time limit stopped the run) or
        "error" (an exception, with its message).
    message : str
    theta : ndarray, shape (k, P)
        Flat parameters at the first k measurement times (k < K when the run
        stopped early).
    nfev, njev, nsteps : int
        Right-hand-side (gradient) and Jacobian (Hessian) evaluations, steps
        (iterations for GD and Adam).
    """

    status: str
    message: str
    theta: np.ndarray
    nfev: int = 0
    njev: int = 0
    nsteps: int = 0
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Setup:
    """One integrator or trainer of the suite.

    Attributes
    ----------
    name : str
        Unique name (``--setups`` takes these).
    family : str
        "exact" (event-driven Filippov engines), "scipy", "flowlab-compiled",
        "bridge" (PyTorch bridge), "descent" (GD, Adam) or "peer" (external).
    sweep : {"tol", "lr"}
    run : callable
        ``run(instance, value, times, limits) -> Outcome``.
    applies : callable
        ``applies(instance) -> None`` when the setup can run the problem, else
        the reason it cannot (a sentence).
    requires : tuple of str
        Importable packages it needs (a missing one skips it with a note).
    note : str
        What the setup is, in words.
    skip_after_stop : bool
        True when a tighter rung surely costs more than a looser one: after a
        run stopped by the time or step limit the tighter rungs are recorded as
        "skipped" instead of being run.  False for the exact engines, whose
        cost is not monotone in the tolerance (a loose tolerance can make them
        stall where a tight one does not).
    prepare : callable, optional
        ``prepare(instance, times)``, called once before the ladder and not
        timed (e.g. JAX's compilation for the measurement times); its seconds
        are added to ``compile_seconds``.
    interruptible : bool
        True when the suite may stop a run by interrupting Python (see
        :mod:`flowlab.bench._limits`); False for runs inside foreign runtimes
        (XLA), which enforce ``limits.seconds`` themselves and return status
        "timeout".
    """

    name: str
    family: str
    sweep: str
    run: Callable
    applies: Callable
    requires: tuple = ()
    note: str = ""
    skip_after_stop: bool = True
    prepare: Callable | None = None
    interruptible: bool = True

    def unavailable(self, inst: Instance) -> str | None:
        """Why this setup is skipped on ``inst`` (None when it runs)."""
        miss = [r for r in self.requires if importlib.util.find_spec(r) is None]
        if miss:
            extra = "bench" if self.family == "peer" else "torch"
            return (f"not installed: {', '.join(miss)} (pip install \"flowlab[{extra}]\")")
        return self.applies(inst)
