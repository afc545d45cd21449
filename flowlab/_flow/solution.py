"""The result of a gradient flow: steps, dense output, events, stages, save/load."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np

from .. import io as _io
from .._problem import Problem
from .._status import STATUSES as _STATUSES
from ..models import Network
from .dense import DenseOutput

__all__ = ["Solution", "EVENT_DTYPE", "empty_events", "load", "SAVE_LIMIT_BYTES"]

#: The most array data (before compression) that ``flow(save=...)`` writes to its file,
#: checkpoints and final solution alike: beyond it the file keeps the steps without the
#: dense output, and then every k-th step (:meth:`Solution.within`).  ``sol.save(path)``
#: with the default ``max_bytes=None`` writes everything.
SAVE_LIMIT_BYTES = 64 * 2 ** 20

#: Fields of ``Solution.events``: time, neuron index, data-point index (into the
#: data as given, not sorted), kind ("cross", "slide_start" or "slide_end") and
#: side: where the point is for that neuron just after the event (+1 active,
#: -1 inactive, 0 on the knot while it slides).
EVENT_DTYPE = np.dtype([("t", "f8"), ("neuron", "i8"), ("point", "i8"), ("kind", "U11"),
                        ("side", "i1")])

#: How a run can end: the vocabulary shared with ``TrainResult`` (:mod:`flowlab._status`,
#: whose ``MEANINGS`` says what each word means).  A flow ends "finished", "steady_state",
#: "interrupted", "failed", "zeno", "degenerate", "max_steps" or "stiff".
STATUSES = _STATUSES

#: Version of the file format written by :meth:`Solution.save`.
FORMAT_VERSION = 1


def empty_events() -> np.recarray:
    """An empty event table."""
    return np.rec.array(np.empty(0, dtype=EVENT_DTYPE))


@dataclass(eq=False)
class Solution:
    """A gradient-flow trajectory theta(t), t in [0, t_final].

    Attributes
    ----------
    t : ndarray, shape (K,)
        Output times: the solver's step times, or ``t_eval`` when given.
    theta : ndarray, shape (K, P)
        Full flat parameter vector (``net0.params()`` layout) at ``t``.
    loss : ndarray, shape (K,)
        Loss at ``t`` in the ``loss_kind`` convention.
    net0 : Network
        The initial network.
    x, y : ndarray
        The training data, as given.
    loss_kind : {"sum", "mean", "population"}
        L = 1/2 sum r_i^2 ("sum") or 1/(2m) sum r_i^2 ("mean"); gradient-flow
        time equals learning rate x iterations of gradient descent on the same L.
        "population": 1/2 E[(f - f*)^2] (see ``teacher``).
    trainable : tuple of str
        Parameter groups that moved.
    method : str
        Integration method.
    status, message : str
        How the run ended (see ``STATUSES``) and a sentence for the user.
    events : numpy.recarray
        Activation-pattern events (fields t, neuron, point, kind); empty for the
        scipy methods.
    stages : numpy.recarray or None
        Intervals of constant activation pattern (start, end, u_l) for the exact
        ReLU flow; None otherwise.
    nfev, njev, nlu, nsteps : int
        Right-hand side and Jacobian evaluations, LU decompositions, steps.
    teacher : TwoLayer or None
        The teacher of a population flow (:func:`flowlab.population.flow`):
        then ``loss`` is the population loss 1/2 E[(f - f*)^2] (``loss_kind``
        "population"), ``x`` and ``y`` are empty, and
        :meth:`order_parameters` gives Q, R, T along the flow.  None for a
        finite-data flow.
    """

    t: np.ndarray
    theta: np.ndarray
    loss: np.ndarray
    net0: Network
    x: np.ndarray
    y: np.ndarray
    loss_kind: str
    trainable: tuple
    method: str
    t_end: float
    t_final: float
    theta_final: np.ndarray
    status: str = "finished"
    message: str = ""
    rtol: float = float("nan")
    atol: float = float("nan")
    nfev: int = 0
    njev: int = 0
    nlu: int = 0
    nsteps: int = 0
    events: np.recarray = field(default_factory=empty_events)
    stages: np.recarray | None = None
    dense: DenseOutput | None = None
    info: dict = field(default_factory=dict)
    teacher: Network | None = None

    # -- convenience ----------------------------------------------------------------
    @property
    def success(self) -> bool:
        """True when the run reached ``t_end`` or a steady state."""
        return self.status in ("finished", "steady_state")

    @property
    def net(self) -> Network:
        """The network at ``t_final`` (the end of the run)."""
        return self.net0.with_params(self.theta_final)

    @cached_property
    def _problem(self):
        if self.teacher is not None:
            from ..population.problem import PopulationProblem
            return PopulationProblem(self.net0, self.teacher, trainable=self.trainable,
                                     **self.info.get("population", {}))
        return Problem(self.net0, self.x, self.y, loss=self.loss_kind, trainable=self.trainable)

    def problem(self):
        """The training problem (network, data or teacher, loss, trainable groups) of this
        run: a :class:`~flowlab._problem.Problem`, or a
        :class:`~flowlab.population.problem.PopulationProblem` for a population flow."""
        return self._problem

    def order_parameters(self, t=None):
        """Order parameters Q = W W^T, R = W W*^T, T = W* W*^T along a population flow.

        Parameters
        ----------
        t : array_like, optional
            Times in [0, t_final] (from the dense output); by default the output
            times ``sol.t``.

        Returns
        -------
        flowlab.population.OrderParameters
            ``Q`` (K, n, n), ``R`` (K, n, M), ``T`` (M, M) and the times ``t`` (K,).
        """
        if self.teacher is None:
            raise ValueError("order parameters need a teacher: this is a finite-data flow; "
                             "run flowlab.population.flow(net, teacher, t_end) instead.")
        from ..population.functions import OrderParameters
        times = self.t if t is None else np.atleast_1d(np.asarray(t, dtype=np.float64))
        theta = self.theta if t is None else np.atleast_2d(self.theta_at(times))
        n, d = self.net0.W.shape
        W = theta[:, :n * d].reshape(-1, n, d)
        V = self.teacher.W
        return OrderParameters(Q=np.einsum("kid,kjd->kij", W, W), R=W @ V.T, T=V @ V.T,
                               t=np.asarray(times, dtype=np.float64).copy())

    def theta_at(self, t) -> np.ndarray:
        """Flat parameters at time(s) ``t`` in [0, t_final]: shape (P,) or (len(t), P)."""
        tt = np.atleast_1d(np.asarray(t, dtype=np.float64))
        if np.any(~np.isfinite(tt)) or tt.min() < 0 or tt.max() > self.t_final * (1 + 1e-15):
            raise ValueError(f"`t` must lie in [0, {self.t_final!r}] (the solved interval), got "
                             f"values in [{tt.min()!r}, {tt.max()!r}].")
        if self.dense is None:
            idx = np.searchsorted(self.t, tt)
            idx = np.minimum(idx, self.t.size - 1)
            if not np.all(self.t[idx] == tt):
                raise ValueError("this solution has no dense output (run with dense=True); "
                                 "only the output times `sol.t` can be evaluated.")
            out = self.theta[idx]
        else:
            out = np.repeat(self.theta_final[None, :], tt.size, axis=0)
            out[:, self._problem.user_index] = self.dense(tt)
        return out[0] if np.ndim(t) == 0 else out

    def net_at(self, t) -> Network:
        """The network at time ``t`` (a scalar in [0, t_final]), from the dense output."""
        if np.ndim(t) != 0:
            raise ValueError("`t` must be a scalar; use theta_at(times) for many times.")
        return self.net0.with_params(self.theta_at(t))

    def loss_at(self, t) -> np.ndarray | float:
        """Loss at time(s) ``t`` from the dense output."""
        prob = self.problem()
        th = np.atleast_2d(self.theta_at(t))
        vals = np.array([prob.loss(row[prob.user_index]) for row in th])
        return float(vals[0]) if np.ndim(t) == 0 else vals

    def dissipation(self, nodes: int = 8, velocity: str | None = None) -> float:
        """The integral of ||d theta/dt||^2 over [0, t_final].

        Gauss-Legendre quadrature with ``nodes`` points on every dense step.
        ``velocity="field"`` evaluates ||grad L(theta(t))||^2 on the dense
        output (smooth flows); ``"dense"`` differentiates the dense output
        itself, which is the right velocity for the exact ReLU flow (during
        Filippov sliding theta' is the projected field, not -grad L).  The
        default is "dense" for ``method="exact"`` and "field" otherwise.  Along
        the flow it equals L(0) - L(t_final).
        """
        if self.dense is None:
            raise ValueError("dissipation needs the dense output; run with dense=True.")
        if velocity is None:
            velocity = "dense" if self.method == "exact" else "field"
        if velocity not in ("dense", "field"):
            raise ValueError(f"`velocity` must be 'dense' or 'field', got {velocity!r}.")
        s, w = np.polynomial.legendre.leggauss(nodes)
        br = self.dense.arrays()["breaks"]
        h = np.diff(br)
        tq = (br[:-1, None] + 0.5 * h[:, None] * (s[None, :] + 1)).ravel()
        if velocity == "dense":
            V = self.dense.derivative(tq)
        else:
            prob = self.problem()
            V = np.array([prob.grad(u) for u in self.dense(tq)])
        g2 = np.einsum("ij,ij->i", V, V).reshape(h.size, nodes)
        return float(np.sum(0.5 * h * (g2 @ w)))

    def __repr__(self) -> str:
        return (f"Solution({type(self.net0).__name__}, method={self.method!r}, "
                f"t_final={self.t_final:.6g}, status={self.status!r}, steps={self.nsteps}, "
                f"events={len(self.events)}, loss {self.loss[0]:.6g} -> {self.loss[-1]:.6g})")

    # -- saving ---------------------------------------------------------------------
    def nbytes(self, dense: bool = True) -> int:
        """Bytes of the arrays :meth:`save` writes (before compression)."""
        n = self.t.nbytes + self.theta.nbytes + self.loss.nbytes + np.asarray(self.events).nbytes
        if self.stages is not None:
            n += np.asarray(self.stages).nbytes
        if dense and self.dense is not None:
            n += sum(a.nbytes for a in self.dense.arrays().values())
        return int(n + self.x.nbytes + self.y.nbytes + 2 * self.theta_final.nbytes)

    def within(self, max_bytes: int) -> "Solution":
        """This solution if its arrays fit in ``max_bytes``; else a lighter copy.

        The copy first leaves out the dense output (``theta_at`` then works at the
        stored times only), then keeps every k-th step (the first and the last
        always; final state, events and stages in full).  ``info["saved"]`` says
        what was left out.
        """
        if self.nbytes() <= max_bytes:
            return self
        light = replace(self, dense=None, info=dict(self.info))
        kept = self.t.size
        if light.nbytes() > max_bytes:
            per_step = (self.theta.shape[1] + 2) * 8
            fixed = light.nbytes() - self.t.size * per_step
            room = max(2, int((max_bytes - fixed) // per_step))
            k = int(np.ceil(self.t.size / room))
            keep = np.unique(np.r_[np.arange(0, self.t.size, k), self.t.size - 1])
            light.t, light.theta, light.loss = self.t[keep], self.theta[keep], self.loss[keep]
            kept = keep.size
        light.info["saved"] = {"limit_bytes": int(max_bytes), "dense_output": False,
                               "steps_kept": int(kept), "steps": int(self.t.size)}
        light.message = (f"{self.message} [saved without the dense output"
                         f"{'' if kept == self.t.size else f', {kept} of {self.t.size} steps'}"
                         f", to stay under {max_bytes / 2 ** 20:.0f} MB]")
        return light

    def _payload(self) -> tuple[dict, dict]:
        """``(arrays, meta)`` as :meth:`save` writes them."""
        arrays, net_meta = _io.net_to_dict(self.net0, "net0")
        arrays.update({"t": self.t, "theta": self.theta, "loss": self.loss, "x": self.x,
                       "y": self.y, "theta_final": self.theta_final,
                       "events": np.asarray(self.events, dtype=EVENT_DTYPE)})
        if self.stages is not None:
            arrays["stages"] = np.asarray(self.stages)
        if self.dense is not None:
            arrays.update({f"dense.{k}": a for k, a in self.dense.arrays().items()})
        teacher_meta = None
        if self.teacher is not None:
            t_arrays, teacher_meta = _io.net_to_dict(self.teacher, "teacher")
            arrays.update(t_arrays)
        meta = {"format": "flowlab.Solution", "version": FORMAT_VERSION, "net0": net_meta,
                "loss_kind": self.loss_kind, "trainable": list(self.trainable),
                "method": self.method, "t_end": self.t_end, "t_final": self.t_final,
                "status": self.status, "message": self.message, "rtol": self.rtol,
                "atol": self.atol, "nfev": self.nfev, "njev": self.njev, "nlu": self.nlu,
                "nsteps": self.nsteps, "info": self.info,
                "stages_dtype": None if self.stages is None else self.stages.dtype.descr,
                "teacher": teacher_meta}
        return arrays, meta

    def save(self, path, max_bytes: int | None = None):
        """Write the solution to one ``.npz`` file; :func:`load` restores it exactly.

        ``.npz`` is appended to ``path`` unless it ends with it (``load`` finds
        the file under either name); a folder raises ValueError.  ``max_bytes``:
        write :meth:`within` ``(max_bytes)`` instead (``flow(save=...)`` uses
        :data:`SAVE_LIMIT_BYTES`); by default everything is written.
        """
        if max_bytes is not None and self.nbytes() > max_bytes:
            return self.within(max_bytes).save(path)
        return _io.save_npz(path, *self._payload())

    @classmethod
    def load(cls, path) -> "Solution":
        """Read a file written by :meth:`save`, or the checkpoints of an unfinished run.

        When the run that was saving to ``path`` did not finish (it was
        killed, or is still running), the solution up to its last checkpoint
        is returned with status "interrupted" (see :mod:`flowlab._flow._journal`);
        :func:`flowlab.resume` continues it.  A file that is truncated,
        corrupted, of another format or of a newer format version raises
        ``ValueError``.
        """
        arrays, meta, prefix, where = read_result(path)
        sol = cls._from_payload(arrays, meta, where)
        if prefix is not None:
            sol = join(cls._from_payload(*prefix, where), sol)
        return sol

    @classmethod
    def _from_payload(cls, arrays, meta, path) -> "Solution":
        _io.check_format(meta, "flowlab.Solution", FORMAT_VERSION, path)
        try:
            dense = None
            if "dense.values" in arrays:
                dense = DenseOutput.from_arrays(arrays["dense.breaks"], arrays["dense.degree"],
                                                arrays["dense.offsets"], arrays["dense.values"])
            stages = None
            if "stages" in arrays:
                stages = np.rec.array(arrays["stages"])
            teacher = None
            if meta.get("teacher") is not None:
                teacher = _io.net_from_dict(arrays, meta["teacher"], "teacher")
            sol = cls(t=arrays["t"], theta=arrays["theta"], loss=arrays["loss"],
                      net0=_io.net_from_dict(arrays, meta["net0"], "net0"), x=arrays["x"],
                      y=arrays["y"], loss_kind=meta["loss_kind"],
                      trainable=tuple(meta["trainable"]), method=meta["method"],
                      t_end=meta["t_end"], t_final=meta["t_final"],
                      theta_final=arrays["theta_final"], status=meta["status"],
                      message=meta["message"], rtol=meta["rtol"], atol=meta["atol"],
                      nfev=meta["nfev"], njev=meta["njev"], nlu=meta["nlu"],
                      nsteps=meta["nsteps"], events=np.rec.array(arrays["events"]),
                      stages=stages, dense=dense, info=meta["info"], teacher=teacher)
        except KeyError as exc:
            raise ValueError(f"{str(path)!r} is incomplete: the entry {exc} is missing; the "
                             "file is corrupted or was not written by flowlab.") from None
        except (TypeError, AttributeError, ValueError) as exc:
            raise ValueError(f"{str(path)!r} has inconsistent contents ({exc}); the file is "
                             "corrupted.") from None
        check_loaded(sol, path)
        return sol


def load(path) -> Solution:
    """Load a :class:`Solution` saved with ``Solution.save`` or ``flow(save=...)``.

    For a run that did not finish, the solution up to its last checkpoint
    (status "interrupted"); see :meth:`Solution.load`.
    """
    return Solution.load(path)


def read_result(path) -> tuple[dict, dict, tuple | None, str]:
    """``(arrays, meta, prefix, where)`` of a result file or of its checkpoint journal.

    The journal (``<file>.journal``) is read when it belongs to a run that has
    not written the result file: no result file, or one of another run.
    ``prefix`` is the payload a resumed run continues (journals only).
    """
    from . import _journal
    given = Path(path)
    if given.name.endswith(".journal") and given.is_file():
        arrays, meta, prefix = _journal.read(given)
        return arrays, meta, prefix, str(given)
    jpath = _journal.journal_path(given)
    if jpath.is_file():
        final = _io.npz_path(given)
        use_journal = True
        if final.is_file():
            arrays, meta = _io.load_npz(final)
            done_id = (meta.get("info") or {}).get("run_id")
            use_journal = done_id is None or done_id != _journal.run_id(jpath)
            if not use_journal:
                return arrays, meta, None, str(final)
        if use_journal:
            arrays, meta, prefix = _journal.read(jpath)
            return arrays, meta, prefix, str(jpath)
    arrays, meta = _io.load_npz(given)
    return arrays, meta, None, str(given)


def check_loaded(sol: "Solution", path) -> None:
    """Shapes and finiteness of a loaded solution (``ValueError`` naming the entry)."""
    where = str(path)
    P = sol.net0.n_params
    K = np.asarray(sol.t).shape[0] if np.ndim(sol.t) == 1 else -1
    if K < 0 or np.shape(sol.theta) != (K, P) or np.shape(sol.loss) != (K,):
        raise ValueError(f"{where!r} is corrupted: t, theta and loss have shapes "
                         f"{np.shape(sol.t)}, {np.shape(sol.theta)}, {np.shape(sol.loss)}, "
                         f"expected (K,), (K, {P}), (K,).")
    if np.shape(sol.theta_final) != (P,):
        raise ValueError(f"{where!r} is corrupted: theta_final has shape "
                         f"{np.shape(sol.theta_final)}, expected ({P},) for its network.")
    for name in ("t", "theta", "theta_final"):
        if not np.all(np.isfinite(getattr(sol, name))):
            raise ValueError(f"{where!r} is corrupted: {name} contains NaN or inf.")
    if not (np.isfinite(sol.t_final) and np.isfinite(sol.t_end)):
        raise ValueError(f"{where!r} is corrupted: t_final or t_end is not finite.")
    if sol.status not in STATUSES:
        raise ValueError(f"{where!r} is corrupted: unknown status {sol.status!r}.")


def _continued_events_dropped(a: Solution, b: Solution) -> np.ndarray:
    """``b``'s events without those that repeat ``a``'s at the join.

    A restarted exact flow decides the points it finds on their surfaces at its
    start time again: the pairs (neuron, point) that were sliding when ``a``
    ended give slide starts (in its first step: the slide continues, it does not
    start), and a pair that ``a`` left exactly on its surface (a checkpoint taken
    right after an event, or a neuron that died with the point on its knot) is
    moved to the same side again ("cross" after a "slide_end" to that side, say):
    such an event of ``b`` at the join time, whose pair ends on the side ``a``'s
    latest event for it put it, is no new event.
    """
    ev = np.asarray(b.events)
    if not len(ev) or not len(a.events):
        return ev
    sliding = set()
    side_at_end = {}
    for e in a.events:
        key = (int(e.neuron), int(e.point))
        if e.kind == "slide_start":
            sliding.add(key)
        elif e.kind == "slide_end":
            sliding.discard(key)
        side_at_end[key] = int(e.side)           # the side its latest event put it on
    # the restart finds them at t_final (points within rounding of a surface are contacts
    # at the start); the window reaches to the end of the first step, for any it finds
    # only there
    upto = max(b.t[1] if b.t.size > 1 else a.t_final, a.t_final)

    def repeats(e):
        key = (int(e["neuron"]), int(e["point"]))
        if e["t"] <= upto and e["kind"] == "slide_start" and key in sliding:
            return True
        return e["t"] == a.t_final and side_at_end.get(key) == int(e["side"])

    keep = np.array([not repeats(e) for e in ev])
    return ev[keep]


def join(a: Solution, b: Solution) -> Solution:
    """``a`` followed by ``b`` (``b`` starts where ``a`` ended): a resumed run, or the
    checkpoints of one continued by another."""
    skip = 1 if (b.t.size and a.t.size and b.t[0] == a.t[-1]) else 0
    dense = None
    if a.dense is not None and b.dense is not None:
        dense = DenseOutput.from_arrays(**a.dense.arrays())
        dense.extend(b.dense)
    stages = None
    if a.stages is not None and b.stages is not None:
        stages = np.rec.array(np.concatenate([np.asarray(a.stages), np.asarray(b.stages)]))
    events = np.rec.array(np.concatenate([np.asarray(a.events),
                                          _continued_events_dropped(a, b)]))
    info = dict(b.info)
    info["wall_time"] = a.info.get("wall_time", 0.0) + b.info.get("wall_time", 0.0)
    if "n_events" in info:                        # counts over both pieces
        info["n_events"] = int(len(events))
        info["n_slides"] = int(np.sum(events["kind"] == "slide_start")) if len(events) else 0
    if "n_stages" in info and stages is not None:
        info["n_stages"] = int(len(stages))
    return Solution(t=np.concatenate([a.t, b.t[skip:]]),
                    theta=np.concatenate([a.theta, b.theta[skip:]]),
                    loss=np.concatenate([a.loss, b.loss[skip:]]), net0=a.net0, x=a.x, y=a.y,
                    loss_kind=a.loss_kind, trainable=a.trainable, method=a.method,
                    t_end=b.t_end, t_final=b.t_final, theta_final=b.theta_final,
                    status=b.status, message=b.message, rtol=b.rtol, atol=b.atol,
                    nfev=a.nfev + b.nfev, njev=a.njev + b.njev, nlu=a.nlu + b.nlu,
                    nsteps=a.nsteps + b.nsteps, events=events, stages=stages, dense=dense,
                    info=info, teacher=a.teacher)
