"""The recorder of a flow: every accepted step of a run goes through it.

:class:`Recorder` keeps the output rows (the steps, or the times of
``t_eval``), the dense output, the progress display and the checkpoints of one
run, and assembles its :class:`~flowlab._flow.solution.Solution`.  The scipy
path (:mod:`flowlab._flow.scipy_run`), the compiled explicit methods
(:mod:`flowlab._flow.compiled`), ``method="auto"``, the population flow and the
PyTorch bridge (:func:`flowlab.torch.flow`) all record through it.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from .. import _interrupt, _progress
from ..models import ReLU1D
from . import _guard
from ._journal import Journal, new_run_id
from .dense import DenseOutput
from .options import IMPLICIT
from .solution import SAVE_LIMIT_BYTES, Solution, empty_events, join

__all__ = ["Recorder", "raw_x"]


class Recorder:
    """Collects outputs, dense steps, progress and checkpoints for one run.

    Every accepted step goes through :meth:`step`, which also runs the
    watchdog (:class:`flowlab._flow._guard.Watchdog`) and, with ``save``,
    appends a checkpoint to the journal every ``checkpoint_every`` seconds
    (:mod:`flowlab._flow._journal`): only the rows, dense steps and events since
    the previous checkpoint.
    """

    #: the options of a run (``flow``'s, checked) that a recorder takes
    OPTIONS = ("method", "rtol", "atol", "t_eval", "dense", "progress", "save",
               "checkpoint_every", "t0", "prefix")

    #: whether the final file is kept within SAVE_LIMIT_BYTES (``Solution.save``)
    limit_save = True
    #: the stepper in use, for the progress line, when the method switches between several
    stepper_now = None

    def __init__(self, prob, t_end: float, *, method, rtol, atol, t_eval, dense,
                 progress, save, checkpoint_every, t0, prefix=None):
        self.prob, self.t_end, self.method = prob, t_end, method
        self.rtol, self.atol, self.t_eval = rtol, atol, t_eval
        self.save_path, self.checkpoint_every = save, checkpoint_every
        self.t0 = t0
        self.ts, self.us, self.losses = [], [], []
        self.dense = DenseOutput(prob.size) if dense else None
        self.next_eval = 0
        self.t_last, self.u_last = t0, prob.u0.copy()
        self.stats = {"nfev": 0, "njev": 0, "nlu": 0, "nsteps": 0}
        self.events, self.stages, self.info = empty_events(), None, {"run_id": new_run_id()}
        self.clock = time.perf_counter()
        self.watchdog = _guard.Watchdog(t0, t_end,
                                        "implicit" if method in IMPLICIT else "explicit")
        self.steps_at = []                  # accepted steps before each recorded row
        if t_eval is None or t_eval[0] == t0:
            self._record(t0, prob.u0)
            self.next_eval = 0 if t_eval is None else 1
        self.journal = None
        self.prefix = prefix
        if save is not None:
            head = self.finish("interrupted", "")._payload()
            self.journal = Journal(save, head, checkpoint_every,
                                   None if prefix is None else prefix._payload())
            self.written = (len(self.ts), 0)
        self.bar = _progress.progress_bar(progress, t_end - t0, f"flow[{method}]", unit="t",
                                          status=self._status)

    @classmethod
    def of_run(cls, prob, t_end: float, opts: dict) -> "Recorder":
        """The recorder of a run whose checked options are ``opts`` (those of
        :data:`OPTIONS` it holds; a stepper takes the others)."""
        return cls(prob, t_end, **{k: opts[k] for k in cls.OPTIONS if k in opts})

    def _status(self) -> dict:
        """Status items of the progress line: loss, steps, stepper."""
        return {"loss": self.losses[-1] if self.losses else None,
                "steps": self.stats["nsteps"], "stepper": self.stepper_now or self.method}

    def _record(self, t, u):
        self.ts.append(float(t))
        self.us.append(np.array(u, dtype=np.float64))
        self.losses.append(self.prob.loss(u))
        self.steps_at.append(self.stats["nsteps"])

    def step(self, t_old, t_new, u_new, interp=None, values=None):
        """Register one step: outputs, dense piece (``interp`` from scipy or node ``values``).

        Raises :class:`flowlab._flow._guard.StopRun` when the watchdog stops the run.
        """
        self.watchdog.check(t_old, t_new, u_new, last=t_new >= self.t_end)
        if self.dense is not None:
            if interp is not None:
                self.dense.append_solver_step(interp, self.u_last, u_new)
            elif values is not None:
                self.dense.append(t_old, t_new, values)
        self.stats["nsteps"] += 1
        if self.t_eval is None:
            self._record(t_new, u_new)
        else:
            while self.next_eval < self.t_eval.size and self.t_eval[self.next_eval] <= t_new:
                te = self.t_eval[self.next_eval]
                if te == t_new:
                    ue = u_new
                elif interp is not None:
                    ue = interp(te)
                else:
                    ue = self._interp_values(t_old, t_new, values, te)
                self._record(te, ue)
                self.next_eval += 1
        if self.losses and not np.isfinite(self.losses[-1]):
            raise _guard.StopRun(f"the loss became non-finite ({self.losses[-1]}) at t = "
                                 f"{self.ts[-1]:.6g}: the network's outputs overflow; rescale "
                                 "the parameters or the data")
        self.t_last, self.u_last = t_new, np.array(u_new, dtype=np.float64)
        if self.watchdog.steps % 1024 == 0:
            self.watchdog.bytes_per_step = self._bytes_per_step()
        if self.bar is not None:
            self.bar.update(t_new - t_old)
        if self.journal is not None and self.journal.due():
            self.checkpoint()

    def _bytes_per_step(self) -> float:
        """Bytes this run keeps per accepted step (output rows and dense values)."""
        n = max(self.stats["nsteps"], 1)
        values = len(self.us) * (self.prob.size + 2)
        if self.dense is not None:
            values += self.dense.n_values * self.prob.size + 2 * self.dense.n_steps
        return 8.0 * values / n

    def checkpoint(self) -> None:
        """Append the rows and dense steps since the last checkpoint to the journal."""
        k_rows, k_dense = self.written
        prob = self.prob
        arrays = {"t": np.asarray(self.ts[k_rows:], dtype=np.float64),
                  "theta": self._full_rows(self.us[k_rows:]),
                  "loss": np.asarray(self.losses[k_rows:], dtype=np.float64),
                  "theta_final": prob.theta(self.u_last)}
        if self.dense is not None and self.dense.n_steps > k_dense:
            arrays.update(self.dense.pieces(k_dense))
        meta = {"t_final": float(self.t_last), "info": dict(self.info),
                "nsteps": int(self.stats["nsteps"])}
        self.journal.append(arrays, meta)
        self.written = (len(self.ts), self.dense.n_steps if self.dense is not None else 0)

    def _full_rows(self, us) -> np.ndarray:
        prob = self.prob
        theta = np.repeat(prob.theta0[None, :], len(us), axis=0)
        if len(us):
            theta[:, prob.user_index] = np.asarray(us)
        return theta

    @staticmethod
    def _interp_values(t_old, t_new, values, te):
        piece = DenseOutput(values.shape[1])
        piece.append(t_old, t_new, values)
        return piece(te)

    def finish(self, status: str, message: str) -> Solution:
        """Assemble the Solution (called at the end and for the journal's head)."""
        dense = None
        if self.dense is not None and self.dense.n_steps:
            dense = DenseOutput.from_arrays(**self.dense.arrays())
        info = dict(self.info)
        info["wall_time"] = time.perf_counter() - self.clock
        return self.solution(t=np.asarray(self.ts), theta=self._full_rows(self.us),
                             loss=np.asarray(self.losses), loss_kind=self.prob.loss_kind,
                             trainable=self.prob.trainable, method=self.method,
                             t_end=self.t_end, t_final=float(self.t_last),
                             theta_final=self.prob.theta(self.u_last), status=status,
                             message=message, rtol=self.rtol, atol=self.atol,
                             events=self.events, stages=self.stages, dense=dense, info=info,
                             **self.stats)

    def solution(self, **fields) -> Solution:
        """The Solution of this run from the ``fields`` that every run has; a subclass
        that records another kind of problem returns its own Solution class here (the
        PyTorch bridge: :class:`flowlab.torch.TorchSolution`)."""
        prob = self.prob
        teacher = getattr(prob, "teacher", None)
        if teacher is not None:                   # a population flow (no data)
            fields["info"]["population"] = prob.options()
        return Solution(net0=prob.template, x=raw_x(prob), y=prob.y.copy(), teacher=teacher,
                        **fields)

    def close(self, status: str, message: str) -> Solution:
        """The final Solution: monotonicity check, final save, warnings.

        Within :func:`flowlab._interrupt.propagating` (a reproduction), an
        interrupted run is saved and then ``KeyboardInterrupt`` is raised again.
        """
        if self.bar is not None:
            self.bar.close()
        mono = _guard.monotonicity(self.ts, self.us, self.losses, self.prob, self.rtol,
                                   self.atol, np.diff(np.asarray(self.steps_at, dtype=np.float64)))
        self.info["monotone"] = mono
        sol = self.finish(status, message)
        if self.journal is not None:
            self.journal.finish(sol if self.prefix is None else join(self.prefix, sol),
                                max_bytes=SAVE_LIMIT_BYTES if self.limit_save else None)
        if status not in ("finished", "steady_state", "interrupted"):
            warnings.warn(f"flow stopped early ({status}): {message}", RuntimeWarning, stacklevel=3)
        if not mono["holds"]:
            warnings.warn(_guard.rise_message(mono), _guard.LossRiseWarning, stacklevel=3)
        if status == "interrupted":
            _interrupt.reraise_if_propagating()
        return sol


def raw_x(prob) -> np.ndarray:
    """The inputs of a :class:`~flowlab._problem.Problem` as the user gave them: (m,) for
    ReLU1D, (m, d) for TwoLayer."""
    X = prob.XT[:-1].T
    return X[:, 0].copy() if isinstance(prob.template, ReLU1D) else np.ascontiguousarray(X)
