"""What the event-driven ReLU integrators share: event records, Zeno ring, Solution assembly."""

from __future__ import annotations

import mmap
import sys

import numpy as np

from .. import _interrupt, _progress
from .._kernels import radau as _rd
from .._kernels import relu1d_stage as _ks
from ._guard import StopRun, Watchdog
from ._stepper import StiffStop, Stepper, check_stepper
from .dense import DenseOutput
from .recorder import raw_x
from .solution import EVENT_DTYPE, Solution

#: Steps kept in memory between two returns of the compiled integrator (at most).
BUFFER = 2048
#: ... and at most this many bytes of them (NODES nodes of P parameters a step)
BUFFER_BYTES = 32 * 2 ** 20
#: room for the nodes of a step: 4 for Radau's cubic, 5 for the explicit stepper's quartic
NODES = 5


class NodeStore:
    """The dense-output nodes of every accepted step, as the rows of one array filled in
    order, so that the Solution takes them without a copy (a list of pieces joined at the
    end held a wide network's steps, the largest thing a run keeps, twice, and copying
    them was a third of a width-10^4 run).  On Linux the rows live in a private anonymous
    memory map that grows in place (``mremap``: no copy) by doubling; views of it exist
    only inside these methods until :meth:`take` hands the rows over.  Where that is not
    available, in a numpy array that doubles by copying."""

    def __init__(self):
        self.map = None          # an mmap, or a numpy array (rows, P) where mremap is absent
        self.P = 0
        self.used = 0            # rows written

    def _view(self, start: int, stop: int) -> np.ndarray:
        if isinstance(self.map, np.ndarray):
            return self.map[start:stop]
        return np.frombuffer(self.map, dtype=np.float64, count=(stop - start) * self.P,
                             offset=8 * start * self.P).reshape(stop - start, self.P)

    def _grow(self, rows: int) -> None:
        """Room for at least ``rows`` rows (doubling)."""
        P = self.P
        if self.map is None:
            if _GROWS_IN_PLACE:
                self.map = mmap.mmap(-1, 8 * P * max(rows, 2 ** 17 // max(P, 1)),
                                     flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
            else:
                self.map = np.empty((max(rows, 16), P))
        elif isinstance(self.map, np.ndarray):
            grown = np.empty((max(rows, 2 * self.map.shape[0]), P))
            grown[:self.used] = self.map[:self.used]
            self.map = grown
        else:
            self.map.resize(8 * P * max(rows, 2 * (len(self.map) // (8 * P))))

    def _capacity(self) -> int:
        if self.map is None:
            return 0
        if isinstance(self.map, np.ndarray):
            return self.map.shape[0]
        return len(self.map) // (8 * self.P)

    def append(self, nodes) -> None:
        """Add k steps' nodes, an array (k, degree + 1, P) (any strides)."""
        k, q, P = nodes.shape
        r = k * q
        self.P = P
        if self.used + r > self._capacity():
            self._grow(self.used + r)
        view = self._view(self.used, self.used + r)
        view.reshape(k, q, P)[...] = nodes
        del view                                # no view of a map may outlive a resize
        self.used += r

    def since(self, start: int) -> np.ndarray:
        """A copy of the rows from ``start`` on."""
        if self.map is None:
            return np.empty((0, self.P))
        return self._view(start, self.used).copy()

    def take(self, P: int) -> np.ndarray:
        """Every row, as an array on the store itself (the store is emptied)."""
        rows = self._view(0, self.used) if self.map is not None else np.empty((0, P))
        self.map, self.used = None, 0
        return rows


#: whether anonymous maps grow in place here (Linux: mremap); elsewhere the store copies
_GROWS_IN_PLACE = sys.platform.startswith("linux") and hasattr(mmap, "MAP_PRIVATE")


def _hvp(kernel, model, u):
    """v -> the stage Hessian times v in state coordinates at u (``kernel`` the model's
    compiled ``hvp``), for the stiffness check of :mod:`flowlab._flow._stepper`."""
    u = u.copy()

    def apply(v):
        out = np.empty(u.size)
        kernel(model, u, np.ascontiguousarray(v, dtype=np.float64), out)
        return out
    return apply


class ZenoError(RuntimeError):
    """Raised internally when events accumulate (chattering)."""


def zeno_message(count, t):
    """The message of a run stopped by an accumulation of events before t."""
    return (f"{count} activation events within a time span below {_ks.ZENO_SPAN:g} "
            f"(relative) before t = {t:.12g}: an accumulation of switching (Zeno/chattering) "
            "that the Filippov sliding rules do not resolve; inspect sol.events near this "
            "time")


class DegenerateError(RuntimeError):
    """Raised internally when the Filippov continuation is not unique or not handled."""


class EventDriver:
    """Base of the exact ReLU flows: run bookkeeping and the result object.

    Subclasses set ``self.theta`` (their own parameter layout), implement
    ``_integrate(bar)`` (the stage loop; it keeps ``self.t`` current and returns
    (status, message)) and the converters ``_to_net_rows`` (layout -> the network's flat
    parameters), ``_event_rows`` (events with data-point indices as given) and
    ``_stages`` (list of [start, end, u_l]).
    """

    def __init__(self, prob, t_end, *, rtol, atol, t0, gtol, max_steps, progress,
                 first_step=None, max_step=np.inf, stepper="auto"):
        self.prob = prob
        self.first_step, self.max_step = first_step, max_step
        self.stepper = Stepper(check_stepper(stepper))
        self.t_end, self.t0, self.rtol, self.atol = t_end, t0, rtol, atol
        self.gtol, self.max_steps, self.progress = gtol, max_steps, progress
        self.events = []            # (t, neuron, point, kind, side)
        self.recent = np.zeros(_ks.ZENO_COUNT)
        self.counters = np.zeros(4, dtype=np.int64)     # relu1d_stage.STEPS_RECORDED, ...
        # accepted steps: end times and losses as one array per piece, the degree of each
        # piece's steps, and every step's degree + 1 nodes as rows of one store (
        # :class:`NodeStore`; every step of a piece comes from one stepper)
        self.steps_t, self.steps_loss, self.steps_deg = [], [], []
        self.nodes = NodeStore()
        self.n_steps = 0
        self.stationary_from = None
        self.stats = _rd.new_stats(max_step)       # the steppers never step further
        # watchdog: a run whose stored steps would outgrow the memory stops ("failed")
        self.watchdog = Watchdog(t0, t_end, "exact")
        self.watchdog.bytes_per_step = 8.0 * (5 * prob.theta0.size + 2)

    def run(self):
        """Integrate from t0 to t_end; returns (status, message) (see ``STATUSES``)."""
        self.t = self.t0
        self.stats[_rd.S_H] = (max(1e-6, 1e-6 * abs(self.t_end - self.t0))
                               if self.first_step is None else self.first_step)
        bar = _progress.progress_bar(self.progress, self.t_end - self.t0, "flow[exact]", unit="t")
        try:
            with _interrupt.deferred() as self._interrupts:
                status, message = self._integrate(bar)
        except ZenoError as exc:
            status, message = "zeno", str(exc)
        except DegenerateError as exc:
            status, message = "degenerate", str(exc)
        except StiffStop as exc:
            status, message = "stiff", str(exc)
        except KeyboardInterrupt:
            status, message = "interrupted", f"interrupted at t = {self.t:.6g}"
        except StopRun as exc:
            status, message = "failed", str(exc)
        except np.linalg.LinAlgError as exc:
            status, message = "failed", (
                f"a linear solve of the implicit stepper failed at t = {self.t:.6g} ({exc}): "
                "the Jacobian (the Hessian of the loss) is not finite, so the parameters or the "
                "data overflow; rescale them")
        finally:
            if bar is not None:
                bar.close()
        self.t_final = self.t
        return status, message

    def _buffers(self):
        """Output buffers of the compiled integrator: step ends, nodes, losses."""
        size = int(min(BUFFER, max(16, BUFFER_BYTES // (8 * NODES * max(self.theta.size, 1)))))
        return (np.empty(size), np.empty((size, NODES, self.theta.size)), np.empty(size))

    def _budget(self):
        return self.max_steps if self.max_steps is not None else np.iinfo(np.int64).max

    def _advanced(self, bar, t_new):
        """Move the clock (and the progress bar) to t_new."""
        if bar is not None:
            bar.update(t_new - self.t)
        self.t = t_new

    def _stop(self, failed, budget):
        """(status, message) when the integrator failed or the step budget is spent, else None."""
        t = self.t
        if failed:
            full = self._to_net_rows(self.theta[None, :])[0]
            with np.errstate(all="ignore"):
                loss = self.prob.loss(full[self.prob.user_index])
            big = float(np.abs(full).max())
            xmax = float(np.abs(self.prob.XT[:-1]).max())
            what = (f" (largest |parameter| {big:.3g}, largest |x| {xmax:.3g}: rescale them if "
                    "they are far from 1)" if np.all(np.isfinite(full)) and np.isfinite(loss) else
                    f" (the loss is {loss:.3g} there: the parameters or the data overflow; "
                    "rescale them)")
            return "failed", (f"step size underflow at t = {t:.12g}: the step size fell below "
                              f"10 ulp of t and the flow could not be continued{what}")
        if self.n_steps >= budget:
            return "max_steps", f"stopped after max_steps = {budget} steps at t = {t:.6g}"
        return None

    def _finished(self):
        return "finished", f"reached t_end = {self.t_end:.6g}"

    def _steady_state(self):
        return "steady_state", f"||grad L|| < gtol = {self.gtol:.3g} at t = {self.t:.6g}"

    def _record(self, t, j, p, kind, side):
        self.events.append((t, j, p, kind, side))

    def _check_zeno(self, t):
        """Stop when events pile up: ZENO_COUNT handled events within a relative time span
        ZENO_SPAN (the ring is shared with the compiled loop of the 1-d flow)."""
        c, pos, fill = self.counters, _ks.RING_POS, _ks.RING_FILL
        self.recent[c[pos]] = t
        c[pos] = (c[pos] + 1) % self.recent.size
        c[fill] = min(c[fill] + 1, self.recent.size)
        if c[fill] == self.recent.size:
            span = t - self.recent[c[pos]]
            if span <= _ks.ZENO_SPAN * max(1.0, abs(t)):
                raise ZenoError(
                    f"{self.recent.size} activation events within dt = {span:.3g} before "
                    f"t = {t:.12g}: an accumulation of switching (Zeno/chattering) that the "
                    "Filippov sliding rules do not resolve; inspect sol.events near this time")

    def _hold(self, t, loss):
        """Record the stationary state as one constant piece from t to t_end."""
        self.steps_t.append(np.array([self.t_end]))
        self.nodes.append(np.repeat(self.theta[None, None, :], 2, axis=1))
        self.steps_deg.append((1, 1))
        self.steps_loss.append(np.array([loss], dtype=np.float64))
        self.n_steps += 1
        self.stationary_from = t

    def _keep_steps(self, out_t, out_nodes, out_loss, k, degree=3):
        """Keep the k steps recorded in the buffers, each with ``degree + 1`` nodes (the
        last one the step's end); the watchdog stops the run (StopRun) at the first
        non-finite step, keeping the finite ones, or when the kept steps would outgrow
        the memory."""
        end = degree
        if k and not (np.all(np.isfinite(out_nodes[:k, :degree + 1]))
                      and np.all(np.isfinite(out_loss[:k]))):
            ok = (np.isfinite(out_nodes[:k, :degree + 1]).all(axis=(1, 2))
                  & np.isfinite(out_loss[:k]))
            good = int(np.argmin(ok))
            self._keep_steps(out_t, out_nodes, out_loss, good, degree)
            if good:
                self.theta[:] = out_nodes[good - 1, end]
                self.t = float(out_t[good - 1])
            raise StopRun(f"the parameters or the loss became non-finite at t = "
                          f"{float(out_t[good]):.6g}: the flow overflowed; rescale the "
                          "parameters or the data")
        if k:
            self.steps_t.append(out_t[:k].copy())
            self.nodes.append(out_nodes[:k, :degree + 1])
            self.steps_deg.append((k, degree))
            self.steps_loss.append(out_loss[:k].copy())
            self.n_steps += k
            try:
                self.watchdog.advance(float(out_t[k - 1]), k)
            except StopRun:
                self.theta[:] = out_nodes[k - 1, end]
                self.t = float(out_t[k - 1])
                raise

    #: the checkpoint journal (:mod:`flowlab._flow._journal`), set when the run saves
    journal = None
    #: whether checkpoints carry the dense output
    journal_dense = True

    def _checkpoint(self):
        """Append the steps and events since the last checkpoint to the journal, when due
        and there are new steps (called by the stage loops between two calls of the
        compiled integrator, where ``self.theta`` and the events are those at
        ``self.t``); a Ctrl-C that arrived since the previous call is raised here, at
        this safe point."""
        new_steps = len(self.steps_t) > getattr(self, "_written", (0,))[0]
        if self.journal is not None and new_steps and self.journal.due():
            self.journal.append(*self._increment())
        self._interrupts.check()          # a Ctrl-C held since the last safe point

    def _increment(self):
        """(arrays, meta) of one checkpoint: the rows, dense steps and events since the
        last one, the state at ``self.t``, the counters and the stage table."""
        prob, P = self.prob, self.theta.size
        k_steps, k_events, n_rows, n_slides, r0 = getattr(self, "_written", (0, 0, 0, 0, 0))
        pieces = self.steps_deg[k_steps:]
        nodes = self.nodes.since(r0)
        degree = np.concatenate([np.full(k, d, dtype=np.int64) for k, d in pieces]
                                or [np.zeros(0, np.int64)])
        ends = nodes[np.cumsum(degree + 1) - 1] if pieces else np.empty((0, P))
        t_new = np.concatenate(self.steps_t[k_steps:]) if pieces else np.empty(0)
        arrays = {"t": t_new, "theta": self._to_net_rows(ends),
                  "loss": (np.concatenate(self.steps_loss[k_steps:]) if pieces
                           else np.empty(0)),
                  "theta_final": self._to_net_rows(self.theta[None, :])[0]}
        if self.journal_dense and t_new.size:
            t_prev = self.t0 if k_steps == 0 else float(self.steps_t[k_steps - 1][-1])
            vals = self._to_net_rows(nodes)
            arrays.update({"dense.breaks": np.concatenate([[t_prev], t_new]),
                           "dense.degree": degree,
                           "dense.values": np.ascontiguousarray(vals[:, prob.user_index])})
        everything = self.events
        try:
            self.events = everything[k_events:]
            rows = self._event_rows()
        finally:
            self.events = everything
        arrays["events"] = np.array(rows, dtype=EVENT_DTYPE)
        self.t_final = self.t
        stage_list = self._stages()
        arrays["stages"] = np.asarray(_stage_table(stage_list))
        n_rows += len(rows)
        n_slides += int(np.sum(arrays["events"]["kind"] == "slide_start"))
        info = {"run_id": getattr(self, "run_id", None), "n_events": n_rows,
                "n_slides": n_slides, "n_stages": len(stage_list),
                "stationary_from": self.stationary_from}
        info.update(self.stepper.info())
        info.update(self._info())
        meta = {"t_final": float(self.t), "nfev": int(self.stats[_rd.S_NFEV]),
                "njev": int(self.stats[_rd.S_NJEV]), "nlu": int(self.stats[_rd.S_NLU]),
                "nsteps": self.n_steps,
                "info": info, "stages_dtype": arrays["stages"].dtype.descr}
        self._written = (len(self.steps_t), len(self.events), n_rows, n_slides, self.nodes.used)
        return arrays, meta

    def solution(self, status, message, wall):
        """Assemble the :class:`Solution` (steps, dense output, events, stages)."""
        prob = self.prob
        K = self.n_steps
        P = self.theta.size
        degree = np.concatenate([np.full(k, d, dtype=np.int64) for k, d in self.steps_deg]
                                or [np.zeros(0, np.int64)])
        offsets = np.zeros(K + 1, dtype=np.int64)
        np.cumsum(degree + 1, out=offsets[1:])
        rows = self.nodes.take(P)          # the store's rows, no copy
        self._to_net_rows_inplace(rows)
        t = np.concatenate([[self.t0]] + self.steps_t)
        first = self._to_net_rows(self.theta_start[None, :])
        full = np.concatenate([first, rows[offsets[1:] - 1]]) if K else first
        loss = np.concatenate([[prob.loss(prob.theta0[prob.user_index])]] + self.steps_loss)
        dense = None
        if K:
            ui = prob.user_index
            # the rows as they are when every parameter is trained (no copy); np.take keeps
            # them C-ordered otherwise (a fancy index on axis 1 would give Fortran order)
            vals = (rows if ui.size == P and np.array_equal(ui, np.arange(P))
                    else np.take(rows, ui, axis=1))
            dense = DenseOutput.from_arrays(t, degree, offsets, vals)
        ev = np.rec.array(np.array(self._event_rows(), dtype=EVENT_DTYPE))
        stage_list = self._stages()
        stages = _stage_table(stage_list)
        info = {"wall_time": wall, "n_events": int(len(ev)),
                "n_slides": int(np.sum(ev["kind"] == "slide_start")) if len(ev) else 0,
                "n_stages": len(stage_list), "stationary_from": self.stationary_from}
        info.update(self.stepper.info())
        info.update(self._info())
        return Solution(t=t, theta=full, loss=loss, net0=prob.template, x=raw_x(prob),
                        y=prob.y.copy(), loss_kind=prob.loss_kind, trainable=prob.trainable,
                        method="exact",
                        t_end=self.t_end, t_final=float(self.t_final),
                        theta_final=self._to_net_rows(self.theta[None, :])[0], status=status,
                        message=message, rtol=self.rtol, atol=self.atol,
                        nfev=int(self.stats[_rd.S_NFEV]), njev=int(self.stats[_rd.S_NJEV]),
                        nlu=int(self.stats[_rd.S_NLU]),
                        nsteps=K, events=ev, stages=stages, dense=dense, info=info)

    def _to_net_rows_inplace(self, rows, chunk=256):
        """:meth:`_to_net_rows` on ``rows`` in place, a chunk of rows at a time."""
        for a in range(0, len(rows), chunk):
            rows[a:a + chunk] = self._to_net_rows(rows[a:a + chunk])

    def _info(self):
        return {}


def _stage_table(stage_list):
    """The stage records (start, end, u_l) of a list of [start, end, u_l]."""
    n = stage_list[0][2].size - 1
    return np.rec.array(np.array([(s_, e_, u) for s_, e_, u in stage_list],
                                 dtype=[("start", "f8"), ("end", "f8"), ("u_l", "i8", (n + 1,))]))
