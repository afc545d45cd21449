"""``flow()``: the gradient flow d theta/dt = -grad L(theta) of a two-layer network.

The scipy path steps one of scipy's solvers by hand, so that it can show a
progress bar, stop at a steady state, checkpoint to disk and keep an exact
dense output; the "exact" path (ReLU networks) is the event-driven Filippov
integrator of :mod:`flowlab.flow.exact`.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from scipy import integrate

from .. import _interrupt, _progress
from .. import _validate as v
from .. import io as _io
from .._compile import compile_task
from .._problem import Problem
from ..models import Network, ReLU1D, TwoLayer
from . import _guard
from ._journal import Journal, new_run_id
from .dense import DenseOutput
from .solution import SAVE_LIMIT_BYTES, Solution, empty_events

__all__ = ["flow", "resume", "METHODS", "default_method"]

_SCIPY = {"RK23": integrate.RK23, "RK45": integrate.RK45, "DOP853": integrate.DOP853,
          "Radau": integrate.Radau, "BDF": integrate.BDF, "LSODA": integrate.LSODA}
_IMPLICIT = ("Radau", "BDF", "LSODA")
#: Compiled explicit Runge-Kutta methods (:mod:`flowlab.flow.compiled`).
_COMPILED = ("ERK853", "ERK45")
#: Every method name ``flow`` accepts ("auto": :mod:`flowlab.flow.auto`).
METHODS = ("exact", "auto") + tuple(_SCIPY) + _COMPILED


def is_relu(net: Network) -> bool:
    """True for networks whose flow is piecewise smooth (ReLU activations)."""
    return isinstance(net, ReLU1D) or (isinstance(net, TwoLayer) and net.activation == "relu")


def default_method(net: Network) -> str:
    """"exact" for ReLU networks, "auto" (ERK853, Radau IIA on the stiff stretches)
    otherwise."""
    return "exact" if is_relu(net) else "auto"


def _check_method(method, net: Network) -> str:
    if method is None:
        return default_method(net)
    if not isinstance(method, str):
        raise TypeError(f"`method` must be a string, one of {METHODS}, got {type(method).__name__}.")
    lookup = {m.lower(): m for m in METHODS}
    if method.lower() not in lookup:
        raise ValueError(f"unknown `method` {method!r}; choose one of {', '.join(METHODS)}.")
    method = lookup[method.lower()]
    if method == "auto" and is_relu(net):
        return "exact"              # the automatic choice for a ReLU network
    if method == "exact" and not is_relu(net):
        raise ValueError(f"method='exact' integrates ReLU networks only; this network uses "
                         f"{getattr(net, 'activation', '?')!r}: choose one of {', '.join(_SCIPY)}.")
    return method


def _check_max_step(max_step) -> float:
    if max_step is None:
        return np.inf
    if isinstance(max_step, bool) or not isinstance(max_step, (int, float, np.integer,
                                                                np.floating)):
        raise TypeError(f"`max_step` must be a positive number or np.inf, got "
                        f"{type(max_step).__name__}.")
    max_step = float(max_step)
    if not max_step > 0:
        raise ValueError(f"`max_step` must be > 0 (np.inf for no limit), got {max_step}.")
    return max_step


def check_run_options(t0, t_end, rtol, atol, t_eval, gtol, max_steps, checkpoint_every):
    """The time span, tolerances, output times and stopping options of a flow, checked
    (a ValueError or TypeError naming the argument), as a tuple in that order."""
    t0 = v.check_real(t0, "t0", nonnegative=True)
    t_end = v.check_real(t_end, "t_end", positive=True)
    if t_end <= t0:
        raise ValueError(f"`t_end` must be greater than the start time {t0!r}, got {t_end!r}.")
    rtol, atol = v.check_tolerances(rtol, atol)
    t_eval = _check_t_eval(t_eval, t0, t_end)
    if gtol is not None:
        gtol = v.check_real(gtol, "gtol", positive=True)
    if max_steps is not None:
        max_steps = v.check_int(max_steps, "max_steps", minimum=1)
    checkpoint_every = v.check_real(checkpoint_every, "checkpoint_every", positive=True)
    return t0, t_end, rtol, atol, t_eval, gtol, max_steps, checkpoint_every


def _check_t_eval(t_eval, t0: float, t_end: float):
    if t_eval is None:
        return None
    te = v.as_array(t_eval, "t_eval", ndim=1)
    if np.any(np.diff(te) <= 0):
        raise ValueError("`t_eval` must be strictly increasing.")
    if te[0] < t0 or te[-1] > t_end:
        raise ValueError(f"`t_eval` must lie in [{t0!r}, {t_end!r}], got [{te[0]!r}, {te[-1]!r}].")
    return te


def flow(net: Network, x, y, t_end: float, *, loss: str = "sum", method: str | None = None,
         rtol: float = 1e-10, atol: float = 1e-12, trainable=None, t_eval=None,
         gtol: float | None = None, max_steps: int | None = None, first_step: float | None = None,
         max_step: float = np.inf, dense: bool = True, progress: bool | None = None,
         save=None, checkpoint_every: float = 60.0, t0: float = 0.0,
         stepper: str | None = None, _prefix: Solution | None = None) -> Solution:
    """Integrate the gradient flow d theta/dt = -grad L(theta) from ``net`` up to ``t_end``.

    Parameters
    ----------
    net : ReLU1D or TwoLayer
        Initial network theta(0).
    x : array_like, shape (m,) for ReLU1D, (m, d) for TwoLayer
        Training inputs.
    y : array_like, shape (m,)
        Training targets.
    t_end : float
        Final time (> 0).  With ``loss`` fixed, t equals learning rate x number
        of gradient-descent iterations (Ainsworth & Shin 2021, (2.3)).
    loss : {"sum", "mean"}
        ``"sum"``: L = 1/2 sum_i r_i^2 (the theory of Ainsworth & Shin 2021, (2.1));
        ``"mean"``: L = 1/(2m) sum_i r_i^2 (Xu et al. 2021, Zhou et al. 2022, and the
        plotted curves of Ainsworth & Shin 2021).
    method : str, optional
        ``"exact"`` (event-driven Filippov flow, the default for ReLU networks),
        ``"auto"`` (the default for smooth activations, :mod:`flowlab.flow.auto`:
        compiled ERK853 while the flow is not stiff, Radau IIA with the exact
        Jacobian on its stiff stretches, chosen by measuring h lambda_max; every
        switch in ``sol.info["stepper_switches"]``; for a ReLU network "auto" is
        "exact") or one method forced: a scipy
        method, "RK23", "RK45", "DOP853", "Radau", "BDF", "LSODA" (implicit
        methods get the exact Hessian as Jacobian, never finite differences), or
        "ERK853" and "ERK45": DOP853 and RK45 with the whole step loop compiled
        (:mod:`flowlab.flow.compiled`), the same steps without Python overhead (forced
        on a stiff flow, they stop with status "stiff" rather than take more than 10^6
        steps at their stability bound).
    rtol, atol : float
        Integration tolerances.
    trainable : str or sequence of str, optional
        Parameter groups that move (``"b"``, ``"c"``, ``"w"`` for ReLU1D; ``"W"``,
        ``"a"`` for TwoLayer); the others are frozen.  ``trainable="a"`` gives the
        linear (lazy) regime of Zhao 2023 and the ELM of Yang, Zhao & Zhu 2024.
    t_eval : array_like, optional
        Output times; by default the solver's own steps.
    gtol : float, optional
        Stop with status "steady_state" at the first step where ||grad L|| < gtol.
    max_steps : int, optional
        Stop with status "max_steps" after this many steps.
    first_step, max_step : float, optional
        Passed to the scipy solver.
    dense : bool
        Keep the continuous extension so that ``sol.net_at(t)`` works at any t.
    progress : bool, optional
        ``None`` (default): a progress bar when stderr is a terminal (after the
        first second), else a plain line every ten seconds (t, loss, steps or
        events, stepper); ``False``: nothing.
    save : path, optional
        Write the solution there (``.npz`` is added if missing) at the end, and
        checkpoints every ``checkpoint_every`` seconds while running (appended
        to ``<save>.journal``, which the end removes).  The path is checked
        before the run starts.  ``flowlab.load(save)`` of a run that was killed
        returns the solution up to its last checkpoint, which :func:`resume`
        continues (docs/reliability.md).  The file holds at most
        ``SAVE_LIMIT_BYTES`` (64 MB) of arrays: a longer run is saved without its dense
        output, then with every k-th step (``Solution.within``); the returned solution
        is always complete and ``sol.save(path)`` writes all of it.
    checkpoint_every : float
        Seconds between checkpoints (> 0); each costs in proportion to the
        steps since the previous one.
    t0 : float
        Start time (used by :func:`resume`).
    stepper : {"auto", "explicit", "radau"}, optional
        The compiled stepper of ``method="exact"`` (:mod:`flowlab.flow._stepper`):
        ``"auto"`` (default) steps explicitly (Dormand-Prince 5(4): O(P) memory, no
        Jacobian) while the flow is not stiff and hands stiff stretches to Radau IIA with
        the exact Jacobian, switching back when the flow is no longer stiff (every
        switch is listed in ``sol.info["stepper_switches"]``); ``"explicit"`` and
        ``"radau"`` force one of them.  A forced explicit stepper on a stiff flow stops
        with status "stiff" rather than take millions of steps.

    Raises
    ------
    ValueError, TypeError
        Bad arguments (naming the argument), an unwritable ``save`` path, or a
        loss or gradient that is not finite at the start.

    Notes
    -----
    Every run ends with a status (``sol.status``, see
    :data:`flowlab.flow.solution.STATUSES`) and a message.  A watchdog stops
    a run whose state or loss becomes non-finite, whose step size falls
    below 10 ulp of t, or whose stored solution would outgrow the memory
    (status "failed").  Runs of the non-exact methods are checked for a loss
    that rises by more than the tolerances allow (``sol.info["monotone"]``,
    :class:`~flowlab.flow.LossRiseWarning`).

    Returns
    -------
    Solution

    Examples
    --------
    >>> import numpy as np, flowlab as fl
    >>> x = np.linspace(-1, 1, 20); y = np.sin(3 * x)
    >>> net = fl.init.xavier(8, 1, activation="tanh", seed=0)
    >>> sol = fl.flow(net, x, y, 1.0, loss="mean", rtol=1e-8, atol=1e-10)
    >>> bool(sol.loss[-1] < sol.loss[0])
    True
    """
    method = _check_method(method, net)
    prob = Problem(net, x, y, loss=loss, trainable=trainable)
    if is_relu(net) and method != "exact" and set(prob.trainable) & {"b", "w", "W"}:
        warnings.warn(f"the gradient flow of a ReLU network is not smooth: {method} steps "
                      "blindly across its kinks (where a data point changes side of a "
                      "neuron), with tiny steps, slowly and without locating them; "
                      "method='exact' (the default for ReLU networks) integrates it event by "
                      "event.", UserWarning, stacklevel=2)
    t0, t_end, rtol, atol, t_eval, gtol, max_steps, checkpoint_every = check_run_options(
        t0, t_end, rtol, atol, t_eval, gtol, max_steps, checkpoint_every)
    if stepper is not None and method != "exact":
        raise ValueError(f"`stepper` chooses the stepper of method='exact'; method={method!r} "
                         "has its own: leave stepper=None.")
    first_step = _guard.check_first_step(first_step)
    max_step = _check_max_step(max_step)
    if save is not None:
        _io.check_save_path(save, "save")
    _guard.check_start(prob, prob.u0, t0)
    opts = dict(method=method, rtol=rtol, atol=atol, t_eval=t_eval, gtol=gtol,
                max_steps=max_steps, first_step=first_step, max_step=max_step, dense=bool(dense),
                progress=progress, save=save, checkpoint_every=checkpoint_every, t0=t0,
                prefix=_prefix)
    if method == "exact":
        from ._stepper import check_stepper
        from .exact import solve_exact
        general = isinstance(net, TwoLayer) and net.input_dim > 1
        with compile_task("exact-nd" if general else "exact-1d"):
            return solve_exact(prob, t_end, stepper=check_stepper(stepper), **opts)
    if method == "auto":
        from .auto import solve_auto
        with compile_task("compiled-erk"):
            return solve_auto(prob, t_end, **opts)
    if method in _COMPILED:
        from .compiled import solve_compiled
        with compile_task("compiled-erk"):
            return solve_compiled(prob, t_end, **opts)
    with compile_task("smooth"):
        return _ScipyRun(prob, t_end, **opts).run()


class Recorder:
    """Collects outputs, dense steps, progress and checkpoints for one run.

    Every accepted step goes through :meth:`step`, which also runs the
    watchdog (:class:`flowlab.flow._guard.Watchdog`) and, with ``save``,
    appends a checkpoint to the journal every ``checkpoint_every`` seconds
    (:mod:`flowlab.flow._journal`): only the rows, dense steps and events since
    the previous checkpoint.
    """

    #: whether the final file is kept within SAVE_LIMIT_BYTES (``Solution.save``)
    limit_save = True
    #: the stepper in use, for the progress line, when the method switches between several
    stepper_now = None

    def __init__(self, prob: Problem, t_end: float, *, method, rtol, atol, t_eval, dense,
                 progress, save, checkpoint_every, t0, prefix=None, **_):
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
                                        "implicit" if method in _IMPLICIT else "explicit")
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
        self.bar = progress_bar(progress, t_end - t0, method, status=self._status)

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

        Raises :class:`flowlab.flow._guard.StopRun` when the watchdog stops the run.
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
        prob = self.prob
        theta = self._full_rows(self.us)
        dense = None
        if self.dense is not None and self.dense.n_steps:
            dense = DenseOutput.from_arrays(**self.dense.arrays())
        info = dict(self.info)
        info["wall_time"] = time.perf_counter() - self.clock
        teacher = getattr(prob, "teacher", None)
        if teacher is not None:                   # a population flow (no data)
            info["population"] = prob.options()
        return Solution(t=np.asarray(self.ts), theta=theta, loss=np.asarray(self.losses),
                        net0=prob.template, x=_raw_x(prob), y=prob.y.copy(),
                        loss_kind=prob.loss_kind, trainable=prob.trainable, method=self.method,
                        t_end=self.t_end, t_final=float(self.t_last),
                        theta_final=prob.theta(self.u_last), status=status, message=message,
                        rtol=self.rtol, atol=self.atol, events=self.events, stages=self.stages,
                        dense=dense, info=info, teacher=teacher, **self.stats)

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
            self.journal.finish(sol if self.prefix is None else _join(self.prefix, sol),
                                max_bytes=SAVE_LIMIT_BYTES if self.limit_save else None)
        if status not in ("finished", "steady_state", "interrupted"):
            warnings.warn(f"flow stopped early ({status}): {message}", RuntimeWarning, stacklevel=3)
        if not mono["holds"]:
            warnings.warn(_guard.rise_message(mono), _guard.LossRiseWarning, stacklevel=3)
        if status == "interrupted":
            _interrupt.reraise_if_propagating()
        return sol


def progress_bar(progress, total, method, status=None):
    """The progress display of a flow over ``total`` units of flow time
    (:func:`flowlab._progress.progress_bar`: a bar on a terminal, a plain line every
    ten seconds otherwise, none with ``progress=False``)."""
    return _progress.progress_bar(progress, total, f"flow[{method}]", unit="t", status=status)


def _raw_x(prob: Problem) -> np.ndarray:
    """The inputs as the user gave them: (m,) for ReLU1D, (m, d) for TwoLayer."""
    X = prob.XT[:-1].T
    return X[:, 0].copy() if isinstance(prob.template, ReLU1D) else np.ascontiguousarray(X)


class _ScipyRun:
    """One run of a scipy ``OdeSolver`` stepped by hand."""

    def __init__(self, prob: Problem, t_end: float, **opts):
        self.prob, self.t_end, self.opts = prob, t_end, opts
        self.rec = Recorder(prob, t_end, **opts)

    def run(self) -> Solution:
        prob, o, rec = self.prob, self.opts, self.rec
        kw = dict(rtol=o["rtol"], atol=o["atol"], max_step=o["max_step"])
        if o["first_step"] is not None:
            kw["first_step"] = o["first_step"]
        if o["method"] in _IMPLICIT:
            kw["jac"] = prob.jac
        solver = _SCIPY[o["method"]](prob.rhs, o["t0"], prob.u0.copy(), self.t_end, **kw)
        status, message = "finished", f"reached t_end = {self.t_end:.6g}"
        try:
            status, message = step_scipy(solver, rec, prob, o["method"], o["gtol"],
                                         o["max_steps"])
        except KeyboardInterrupt:
            status = "interrupted"
            message = f"interrupted at t = {rec.t_last:.6g}; continue with flowlab.resume(sol)"
        except _guard.StopRun as exc:
            status, message = "failed", f"{o['method']} stopped: {exc}"
        except (ValueError, np.linalg.LinAlgError) as exc:
            if not _non_finite_error(exc):
                raise
            status = "failed"
            message = (f"{o['method']} failed at t = {solver.t:.6g}: the Jacobian (the Hessian "
                       "of the loss) has non-finite entries, so the parameters or the data "
                       "overflow there; rescale them, or use an explicit method")
        rec.stats.update(nfev=solver.nfev, njev=solver.njev, nlu=solver.nlu)
        return rec.close(status, message)


def step_scipy(solver, rec, prob, name, gtol, max_steps, pause=None) -> tuple[str, str]:
    """Step a scipy ``OdeSolver`` to its end, each step registered with ``rec``.

    Returns (status, message): the solver's end ("finished", or "failed" with its
    message), a gradient norm below ``gtol`` ("steady_state"), ``max_steps`` steps of
    the run (``rec.stats["nsteps"]``, "max_steps"), or ("running", "") when
    ``pause(solver)``, asked after every step that leaves the solver running, returns
    true (``method="auto"`` hands the flow back to its explicit stepper that way).
    """
    while solver.status == "running":
        t_old = solver.t
        msg = solver.step()
        if solver.status == "failed":
            return "failed", f"{name} failed at t = {solver.t:.6g}: {msg}"
        interp = solver.dense_output() if (rec.dense is not None or
                                           rec.t_eval is not None) else None
        rec.step(t_old, solver.t, solver.y, interp=interp)
        if solver.status != "running":
            break
        if gtol is not None:
            gnorm = np.linalg.norm(prob.grad(solver.y))
            if gnorm < gtol:
                return "steady_state", (f"||grad L|| = {gnorm:.3g} < gtol = {gtol:.3g} at "
                                        f"t = {solver.t:.6g}")
        if max_steps is not None and rec.stats["nsteps"] >= max_steps:
            return max_steps_message(max_steps, solver.t)
        if pause is not None and pause(solver):
            return "running", ""
    return "finished", f"reached t_end = {rec.t_end:.6g}"


def max_steps_message(max_steps, t) -> tuple[str, str]:
    """(status, message) of a run stopped by its step budget."""
    return "max_steps", (f"stopped after max_steps = {max_steps} steps at t = {t:.6g}; "
                         "raise max_steps or resume")


def _non_finite_error(exc: Exception) -> bool:
    """True for numpy/scipy's errors about infs or NaNs in a matrix."""
    text = str(exc).lower()
    return "inf" in text or "nan" in text


def resume(sol, t_end: float | None = None, **options) -> Solution:
    """Continue a flow from where ``sol`` stopped and return the joined solution.

    Parameters
    ----------
    sol : Solution or path
        A solution (or a file written by ``Solution.save`` / ``flow(save=...)``).
    t_end : float, optional
        New final time; by default the original ``t_end``.
    **options
        Overrides for :func:`flow` (tolerances, ``save``, ``progress``...);
        method, loss and trainable groups are those of ``sol``.  With ``save``
        the file (and its checkpoints) hold the joined solution.

    A ``sol`` read from the checkpoints of a killed run continues from its
    last checkpoint; the joined solution equals one uninterrupted run to the
    integration tolerance (docs/reliability.md).
    """
    if not isinstance(sol, Solution):
        sol = Solution.load(sol)
    t_end = sol.t_end if t_end is None else t_end
    for fixed in ("method", "loss", "trainable", "t0", "integrals", "nodes"):
        if fixed in options:
            raise ValueError(f"`{fixed}` cannot change when resuming; start a new flow instead.")
    opts = dict(rtol=sol.rtol, atol=sol.atol)
    opts.update(options)
    t_eval = opts.pop("t_eval", None)
    if t_eval is not None:
        t_eval = np.asarray(t_eval, dtype=float)
        t_eval = t_eval[t_eval > sol.t_final]
    if sol.teacher is not None:
        from ..population.gradient_flow import flow as population_flow
        nxt = population_flow(sol.net, sol.teacher, t_end, method=sol.method,
                              trainable=sol.trainable, t0=sol.t_final, t_eval=t_eval,
                              **sol.info.get("population", {}), **opts)
    else:
        nxt = flow(sol.net, sol.x, sol.y, t_end, loss=sol.loss_kind, method=sol.method,
                   trainable=sol.trainable, t0=sol.t_final, t_eval=t_eval, _prefix=sol, **opts)
    return _join(sol, nxt)


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


def _join(a: Solution, b: Solution) -> Solution:
    """``a`` followed by ``b`` (``b`` starts where ``a`` ended)."""
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
