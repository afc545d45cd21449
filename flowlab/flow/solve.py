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

from .. import _progress
from .._compile import compile_task
from .. import _validate as v
from .._problem import Problem
from ..models import Network, ReLU1D, TwoLayer
from .dense import DenseOutput
from .solution import SAVE_LIMIT_BYTES, Solution, empty_events

__all__ = ["flow", "resume", "METHODS", "default_method"]

_SCIPY = {"RK23": integrate.RK23, "RK45": integrate.RK45, "DOP853": integrate.DOP853,
          "Radau": integrate.Radau, "BDF": integrate.BDF, "LSODA": integrate.LSODA}
_IMPLICIT = ("Radau", "BDF", "LSODA")
#: Compiled explicit Runge-Kutta methods (:mod:`flowlab.flow.compiled`).
_COMPILED = ("ERK853", "ERK45")
#: Every method name ``flow`` accepts.
METHODS = ("exact",) + tuple(_SCIPY) + _COMPILED


def is_relu(net: Network) -> bool:
    """True for networks whose flow is piecewise smooth (ReLU activations)."""
    return isinstance(net, ReLU1D) or (isinstance(net, TwoLayer) and net.activation == "relu")


def default_method(net: Network) -> str:
    """"exact" for ReLU networks, "Radau" (implicit, exact Jacobian) otherwise."""
    return "exact" if is_relu(net) else "Radau"


def _check_method(method, net: Network) -> str:
    if method is None:
        return default_method(net)
    if not isinstance(method, str):
        raise TypeError(f"`method` must be a string, one of {METHODS}, got {type(method).__name__}.")
    lookup = {m.lower(): m for m in METHODS}
    if method.lower() not in lookup:
        raise ValueError(f"unknown `method` {method!r}; choose one of {', '.join(METHODS)}.")
    method = lookup[method.lower()]
    if method == "exact" and not is_relu(net):
        raise ValueError(f"method='exact' integrates ReLU networks only; this network uses "
                         f"{getattr(net, 'activation', '?')!r}: choose one of {', '.join(_SCIPY)}.")
    return method


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
         stepper: str | None = None) -> Solution:
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
        ``"exact"`` (event-driven Filippov flow, the default for ReLU networks) or
        a scipy method: "RK23", "RK45", "DOP853", "Radau" (default for smooth
        activations), "BDF", "LSODA".  Implicit methods get the exact Hessian as
        Jacobian, never finite differences.  "ERK853" and "ERK45" are DOP853
        and RK45 with the whole step loop compiled (:mod:`flowlab.flow.compiled`):
        the same steps without Python overhead, for non-stiff flows such as the
        initial stage of a small-initialisation network.
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
        Write the solution there at the end and every ``checkpoint_every``
        seconds while running; a run cut short can be continued with
        :func:`resume`.  The file holds at most ``SAVE_LIMIT_BYTES`` (64 MB) of
        arrays: a longer run is saved without its dense output, then with every
        k-th step (``Solution.within``); the returned solution is always complete
        and ``sol.save(path)`` writes all of it.
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
    if stepper is not None and method != "exact":
        raise ValueError(f"`stepper` chooses the stepper of method='exact'; method={method!r} "
                         "has its own: leave stepper=None.")
    opts = dict(method=method, rtol=rtol, atol=atol, t_eval=t_eval, gtol=gtol,
                max_steps=max_steps, first_step=first_step, max_step=max_step, dense=bool(dense),
                progress=progress, save=save, checkpoint_every=checkpoint_every, t0=t0)
    if method == "exact":
        from ._stepper import check_stepper
        from .exact import solve_exact
        general = isinstance(net, TwoLayer) and net.input_dim > 1
        with compile_task("exact-nd" if general else "exact-1d"):
            return solve_exact(prob, t_end, stepper=check_stepper(stepper), **opts)
    if method in _COMPILED:
        from .compiled import solve_compiled
        with compile_task("compiled-erk"):
            return solve_compiled(prob, t_end, **opts)
    with compile_task("smooth"):
        return _ScipyRun(prob, t_end, **opts).run()


class Recorder:
    """Collects outputs, dense steps, progress and checkpoints for one run."""

    def __init__(self, prob: Problem, t_end: float, *, method, rtol, atol, t_eval, dense,
                 progress, save, checkpoint_every, t0, **_):
        self.prob, self.t_end, self.method = prob, t_end, method
        self.rtol, self.atol, self.t_eval = rtol, atol, t_eval
        self.save_path, self.checkpoint_every = save, checkpoint_every
        self.t0 = t0
        self.ts, self.us, self.losses = [], [], []
        self.dense = DenseOutput(prob.size) if dense else None
        self.next_eval = 0
        self.t_last, self.u_last = t0, prob.u0.copy()
        self.stats = {"nfev": 0, "njev": 0, "nlu": 0, "nsteps": 0}
        self.events, self.stages, self.info = empty_events(), None, {}
        self.clock = time.perf_counter()
        self.last_checkpoint = self.clock
        self.bar = progress_bar(progress, t_end - t0, method, status=self._status)
        if t_eval is None or t_eval[0] == t0:
            self._record(t0, prob.u0)
            self.next_eval = 0 if t_eval is None else 1

    def _status(self) -> dict:
        """Status items of the progress line: loss, steps, stepper."""
        return {"loss": self.losses[-1] if self.losses else None,
                "steps": self.stats["nsteps"], "stepper": self.method}

    def _record(self, t, u):
        self.ts.append(float(t))
        self.us.append(np.array(u, dtype=np.float64))
        self.losses.append(self.prob.loss(u))

    def step(self, t_old, t_new, u_new, interp=None, values=None):
        """Register one step: outputs, dense piece (``interp`` from scipy or node ``values``)."""
        if self.dense is not None:
            if interp is not None:
                self.dense.append_solver_step(interp, self.u_last, u_new)
            elif values is not None:
                self.dense.append(t_old, t_new, values)
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
        self.t_last, self.u_last = t_new, np.array(u_new, dtype=np.float64)
        self.stats["nsteps"] += 1
        if self.bar is not None:
            self.bar.update(t_new - t_old)
        if self.save_path is not None:
            now = time.perf_counter()
            if now - self.last_checkpoint > self.checkpoint_every:
                self.finish("running", f"checkpoint at t = {t_new:.6g}; resume with "
                            "flowlab.resume").save(self.save_path, max_bytes=SAVE_LIMIT_BYTES)
                self.last_checkpoint = time.perf_counter()

    @staticmethod
    def _interp_values(t_old, t_new, values, te):
        piece = DenseOutput(values.shape[1])
        piece.append(t_old, t_new, values)
        return piece(te)

    def finish(self, status: str, message: str) -> Solution:
        """Assemble the Solution (called at the end and for checkpoints)."""
        prob = self.prob
        U = np.array(self.us) if self.us else np.empty((0, prob.size))
        theta = np.repeat(prob.theta0[None, :], len(U), axis=0)
        theta[:, prob.user_index] = U
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
        if self.bar is not None:
            self.bar.close()
        sol = self.finish(status, message)
        if self.save_path is not None:
            sol.save(self.save_path, max_bytes=SAVE_LIMIT_BYTES)
        if status not in ("finished", "steady_state", "interrupted"):
            warnings.warn(f"flow stopped early ({status}): {message}", RuntimeWarning, stacklevel=3)
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
            while solver.status == "running":
                t_old = solver.t
                msg = solver.step()
                if solver.status == "failed":
                    status, message = "failed", f"{o['method']} failed at t = {solver.t:.6g}: {msg}"
                    break
                interp = solver.dense_output() if (rec.dense is not None or
                                                   rec.t_eval is not None) else None
                rec.step(t_old, solver.t, solver.y, interp=interp)
                if o["gtol"] is not None:
                    gnorm = np.linalg.norm(prob.grad(solver.y))
                    if gnorm < o["gtol"] and solver.status == "running":
                        status = "steady_state"
                        message = (f"||grad L|| = {gnorm:.3g} < gtol = {o['gtol']:.3g} at "
                                   f"t = {solver.t:.6g}")
                        break
                if o["max_steps"] is not None and rec.stats["nsteps"] >= o["max_steps"] \
                        and solver.status == "running":
                    status = "max_steps"
                    message = (f"stopped after max_steps = {o['max_steps']} steps at "
                               f"t = {solver.t:.6g}; raise max_steps or resume")
                    break
        except KeyboardInterrupt:
            status = "interrupted"
            message = f"interrupted at t = {rec.t_last:.6g}; continue with flowlab.resume(sol)"
        rec.stats.update(nfev=solver.nfev, njev=solver.njev, nlu=solver.nlu)
        return rec.close(status, message)


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
        method, loss and trainable groups are those of ``sol``.
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
                   trainable=sol.trainable, t0=sol.t_final, t_eval=t_eval, **opts)
    return _join(sol, nxt)


def _continued_slides_dropped(a: Solution, b: Solution) -> np.ndarray:
    """``b``'s events without the slide starts it finds in its first step for the
    pairs (neuron, point) that were sliding when ``a`` ended (a restarted exact flow
    finds them on their surfaces again: the slide continues, it does not start)."""
    ev = np.asarray(b.events)
    if not len(ev) or not len(a.events):
        return ev
    sliding = set()
    for e in a.events:
        if e.kind == "slide_start":
            sliding.add((int(e.neuron), int(e.point)))
        elif e.kind == "slide_end":
            sliding.discard((int(e.neuron), int(e.point)))
    # the restart finds them at t_final (points within rounding of a surface are contacts
    # at the start); the window reaches to the end of the first step, for any it finds
    # only there
    upto = max(b.t[1] if b.t.size > 1 else a.t_final, a.t_final)
    keep = np.array([not (e["t"] <= upto and e["kind"] == "slide_start"
                          and (int(e["neuron"]), int(e["point"])) in sliding) for e in ev])
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
                                          _continued_slides_dropped(a, b)]))
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
