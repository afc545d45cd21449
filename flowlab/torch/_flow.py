"""The gradient flow of any ``torch.nn.Module`` on scipy's solvers.

d theta/dt = -grad L(theta) for the flat float64 parameter vector theta of a
module (:class:`flowlab.torch.flat.FlatModule`), stepped by the same driver
as flowlab's native flows (progress bar, ``t_eval``, steady-state stop,
checkpoints, exact dense output), and returned as a :class:`TorchSolution`:
flowlab's :class:`~flowlab.Solution` whose networks are modules
(``sol.net_at(t)`` rebuilds the module at any time).

Time scale: for a loss in flowlab's conventions (``MSELoss(..., loss="sum" |
"mean")``) the flow at time t is the limit of t / lr iterations of gradient
descent with learning rate lr on the same loss (:func:`flowlab.torch.train`
with ``optimizer="gd"``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import torch

from flowlab import _validate as v
from flowlab import io as _io
from flowlab._flow.dense import DenseOutput
from flowlab._flow.solution import Solution
from flowlab._flow._guard import StopRun, check_start
from flowlab._flow.options import (SCIPY, check_checkpoint_every, check_first_step,
                                   check_max_step, check_t_eval)
from flowlab._flow.recorder import Recorder
from flowlab._flow.scipy_run import ScipyRun
from flowlab.torch.flat import FlatModule, module_to_float64
from flowlab.torch.probes import ProbeRecord, check_probes, evaluate_probes, finish_records
from flowlab.torch.rkc import MAX_STAGES, RKCSolver, spectral_radius

__all__ = ["flow", "TorchSolution", "METHODS"]

#: Methods of :func:`flow`: the stabilised explicit "RKC" and scipy's ("exact" is for
#: flowlab's own ReLU networks).
METHODS = ("RKC",) + tuple(SCIPY)


@dataclass(eq=False)
class TorchSolution(Solution):
    """A gradient-flow trajectory of a module's parameters.

    Everything of :class:`flowlab.Solution` (``t``, ``theta``, ``loss``,
    ``theta_at``, ``loss_at``, ``dissipation``, ``status``...), with modules
    in place of flowlab networks: ``net0``, ``x`` and ``y`` are None.

    Attributes
    ----------
    module : torch.nn.Module
        The float64 module at t = 0 (the template; its parameters are theta(0)).
    loss_fn : callable
    probes : dict of str -> ProbeRecord
        Probe values at the times given to :func:`flow`.
    flat : FlatModule
        The flat view used to integrate (its ``user_index`` marks trainable entries).
    """

    module: torch.nn.Module | None = None
    loss_fn: object = None
    probes: dict = field(default_factory=dict)
    flat: FlatModule | None = field(default=None, repr=False)

    @property
    def _problem(self) -> FlatModule:
        return self.flat

    def problem(self) -> FlatModule:
        """The :class:`FlatModule` (loss, gradient, Hessian over theta) of this run."""
        return self.flat

    def module_at(self, t) -> torch.nn.Module:
        """A new module holding theta(t), t a scalar in [0, t_final] (dense output)."""
        if np.ndim(t) != 0:
            raise ValueError("`t` must be a scalar; use theta_at(times) for many times.")
        return self.flat.module_at(self.theta_at(t))

    def net_at(self, t) -> torch.nn.Module:
        """Same as :meth:`module_at` (the name of flowlab's Solution)."""
        return self.module_at(t)

    @property
    def net(self) -> torch.nn.Module:
        """The module at ``t_final``."""
        return self.flat.module_at(self.theta_final)

    def probe(self, probe, times=None) -> ProbeRecord:
        """Evaluate ``probe(module)`` at ``times`` (default ``sol.t``) from the dense output."""
        probes = check_probes(probe if isinstance(probe, dict) else [probe])
        times = self.t if times is None else v.as_array(times, "times", ndim=1)
        records: dict = {}
        thetas = np.atleast_2d(self.theta_at(times))
        mod = copy.deepcopy(self.module)
        for t, th in zip(times, thetas):
            _load(mod, th)
            evaluate_probes(probes, mod, records, t)
        out = finish_records(records)
        return out[next(iter(probes))]

    def __repr__(self) -> str:
        return (f"TorchSolution({type(self.module).__name__}, P={self.theta.shape[1]}, "
                f"method={self.method!r}, t_final={self.t_final:.6g}, status={self.status!r}, "
                f"steps={self.nsteps}, loss {self.loss[0]:.6g} -> {self.loss[-1]:.6g})")

    def _payload(self) -> tuple[dict, dict]:
        """``(arrays, meta)`` as :meth:`save` writes them."""
        arrays = {"t": self.t, "theta": self.theta, "loss": self.loss,
                  "theta_final": self.theta_final}
        if self.dense is not None:
            arrays.update({f"dense.{k}": a for k, a in self.dense.arrays().items()})
        meta = {"format": "flowlab.TorchSolution", "version": 1,
                "module": type(self.module).__name__, "names": list(self.flat.names),
                "shapes": [list(s) for s in self.flat.shapes], "loss_kind": self.loss_kind,
                "trainable": list(self.trainable), "method": self.method, "t_end": self.t_end,
                "t_final": self.t_final, "status": self.status, "message": self.message,
                "rtol": self.rtol, "atol": self.atol, "nfev": self.nfev, "njev": self.njev,
                "nlu": self.nlu, "nsteps": self.nsteps, "info": self.info}
        return arrays, meta

    def save(self, path):
        """Write times, parameters, losses and the dense output to one ``.npz`` file.

        The module and the loss are code, not data: :meth:`load` needs them
        again.  Probe records are not saved.
        """
        return _io.save_npz(path, *self._payload())

    @classmethod
    def load(cls, path, module: torch.nn.Module, loss_fn) -> "TorchSolution":
        """Read a file of :meth:`save` (or the last checkpoint of a run that did not finish);
        ``module`` must have the saved parameter layout."""
        from flowlab._flow.solution import read_result
        arrays, meta, _, where = read_result(path)
        _io.check_format(meta, "flowlab.TorchSolution", 1, where)
        mod = module_to_float64(module)
        try:
            fm = FlatModule(mod, loss_fn, trainable=meta["trainable"])
            if list(fm.names) != meta["names"] or [list(s) for s in fm.shapes] != meta["shapes"]:
                raise ValueError(f"`module` does not match the saved parameters {meta['names']} "
                                 f"with shapes {meta['shapes']}.")
            theta = np.asarray(arrays["theta"])
            P = fm.theta0.size
            if theta.ndim != 2 or theta.shape[1] != P or not theta.shape[0] or \
                    np.shape(arrays["theta_final"]) != (P,) or \
                    not np.all(np.isfinite(arrays["theta_final"])):
                raise ValueError(f"{where!r} is corrupted: theta or theta_final has the wrong "
                                 f"shape or non-finite values (the module has {P} parameters).")
            _load(mod, theta[0])
            fm = FlatModule(mod, loss_fn, trainable=meta["trainable"])
            dense = None
            if "dense.values" in arrays:
                dense = DenseOutput.from_arrays(arrays["dense.breaks"], arrays["dense.degree"],
                                                arrays["dense.offsets"], arrays["dense.values"])
            return cls(t=arrays["t"], theta=theta, loss=arrays["loss"], net0=None, x=None,
                       y=None, loss_kind=meta["loss_kind"], trainable=tuple(meta["trainable"]),
                       method=meta["method"], t_end=meta["t_end"], t_final=meta["t_final"],
                       theta_final=arrays["theta_final"], status=meta["status"],
                       message=meta["message"], rtol=meta["rtol"], atol=meta["atol"],
                       nfev=meta["nfev"], njev=meta["njev"], nlu=meta["nlu"],
                       nsteps=meta["nsteps"], dense=dense, info=meta["info"], module=mod,
                       loss_fn=loss_fn, flat=fm)
        except KeyError as exc:
            raise ValueError(f"{where!r} is incomplete: the entry {exc} is missing; the file is "
                             "corrupted or was not written by flowlab.") from None


def _load(module, theta) -> None:
    from flowlab.torch.flat import load_flat
    load_flat(module, theta)


class _Recorder(Recorder):
    """flowlab's step recorder, assembling a :class:`TorchSolution`."""

    limit_save = False          # TorchSolution.save writes everything

    def solution(self, **fields) -> TorchSolution:
        fm = self.prob
        return TorchSolution(net0=None, x=None, y=None, module=fm.module, loss_fn=fm.loss_fn,
                             flat=fm, **fields)


class _Run(ScipyRun):
    recorder = _Recorder


class _RKCRun:
    """The flow stepped by :class:`~flowlab.torch.rkc.RKCSolver` through flowlab's recorder."""

    def __init__(self, fm: FlatModule, t_end: float, **opts):
        self.fm, self.t_end, self.opts = fm, t_end, opts
        self.rec = _Recorder.of_run(fm, t_end, opts)

    def _rho(self, u, v0):
        return spectral_radius(lambda vec: self.fm.hvp(u, vec), self.fm.size,
                               iters=self.opts["lanczos"], v0=v0)

    def run(self) -> TorchSolution:
        fm, o, rec = self.fm, self.opts, self.rec
        solver = RKCSolver(fm.rhs_u, self._rho, fm.u0, 0.0, self.t_end, rtol=o["rtol"],
                           atol=o["atol"], first_step=o["first_step"], max_step=o["max_step"],
                           rho_every=o["rho_every"], max_stages=o["max_stages"])
        status, message = "finished", f"reached t_end = {self.t_end:.6g}"
        try:
            while solver.status == "running":
                msg = solver.step()
                if solver.status == "failed":
                    status, message = "failed", f"RKC failed: {msg}"
                    break
                nodes = DenseOutput.nodes(solver.t_old, solver.t, 3)
                vals = solver.dense_values(nodes)
                vals[0], vals[-1] = solver.y_old, solver.y
                rec.step(solver.t_old, solver.t, solver.y, values=vals)
                if o["gtol"] is not None:
                    gnorm = float(np.linalg.norm(solver.F))
                    if gnorm < o["gtol"] and solver.status == "running":
                        status = "steady_state"
                        message = (f"||grad L|| = {gnorm:.3g} < gtol = {o['gtol']:.3g} at "
                                   f"t = {solver.t:.6g}")
                        break
                if o["max_steps"] is not None and solver.nsteps >= o["max_steps"] \
                        and solver.status == "running":
                    status = "max_steps"
                    message = f"stopped after max_steps = {o['max_steps']} steps"
                    break
        except KeyboardInterrupt:
            status = "interrupted"
            message = f"interrupted at t = {rec.t_last:.6g}"
        except StopRun as exc:
            status, message = "failed", f"RKC stopped: {exc}"
        rec.stats.update(nfev=solver.nfev, njev=solver.nrho, nlu=0)
        rec.info.update(rejected=solver.nrejected, rho=solver.rho, stages=solver.stages,
                        stages_max=solver.stages_max, max_stages=solver.max_stages)
        return rec.close(status, message)


def _check_method(method) -> str:
    if not isinstance(method, str):
        raise TypeError(f"`method` must be a string, one of {METHODS}, got "
                        f"{type(method).__name__}.")
    lookup = {m.lower(): m for m in METHODS}
    if method.lower() not in lookup:
        extra = (" ('exact' integrates flowlab's own ReLU networks: use flowlab.flow)"
                 if method.lower() == "exact" else "")
        raise ValueError(f"unknown `method` {method!r}; choose one of {', '.join(METHODS)}"
                         f"{extra}.")
    return lookup[method.lower()]


#: Options of :func:`flow` that only the RKC method takes, with their defaults and minima.
_RKC_OPTIONS = {"rho_every": (25, 1), "lanczos": (10, 2), "max_stages": (MAX_STAGES, 2)}


def _rkc_options(method: str, **given) -> dict:
    """The RKC options with defaults filled in; an error if another method is given any."""
    if method != "RKC":
        extra = [k for k, val in given.items() if val is not None]
        if extra:
            raise ValueError(f"{', '.join(f'`{k}`' for k in extra)} only apply to method='RKC' "
                             f"(this flow uses {method!r}); leave them out or use 'RKC'.")
        return {}
    return {k: default if given[k] is None else v.check_int(given[k], k, minimum=lo)
            for k, (default, lo) in _RKC_OPTIONS.items()}


def flow(module: torch.nn.Module, loss_fn, t_end: float, *, method: str = "DOP853",
         rtol: float = 1e-10, atol: float = 1e-12, trainable=None, t_eval=None, probes=None,
         probe_times=None, gtol: float | None = None, max_steps: int | None = None,
         first_step: float | None = None, max_step: float = np.inf, dense: bool = True,
         progress: bool | None = None, save=None, checkpoint_every: float | None = None,
         rho_every: int | None = None, lanczos: int | None = None,
         max_stages: int | None = None) -> TorchSolution:
    """Integrate d theta/dt = -grad L(theta) for the parameters of ``module`` up to ``t_end``.

    Parameters
    ----------
    module : torch.nn.Module
        Initial network; a float64 deep copy is integrated (``module`` is not changed).
    loss_fn : callable
        ``loss_fn(model) -> scalar tensor`` (:class:`~flowlab.torch.MSELoss`,
        :class:`~flowlab.torch.CrossEntropyLoss`, :class:`~flowlab.torch.PoissonLoss`
        or your own), differentiable in the model's parameters.
    t_end : float
        Final time (> 0); t = learning rate x iterations of gradient descent on
        the same loss.
    method : str
        "DOP853" (default, scipy's explicit 8th-order method: one gradient per
        stage, no Hessian), "RKC" (the stabilised explicit Runge-Kutta-Chebyshev
        method of :mod:`flowlab.torch.rkc`, second order, for stiff flows of
        large networks: its cost per unit time grows like sqrt(rho) instead of
        rho, the Hessian's spectral radius, which it estimates from
        Hessian-vector products), scipy's "RK45", "RK23", or the implicit
        "Radau", "BDF", "LSODA", which get the exact Hessian
        (``torch.func.hessian``) -- worth it for stiff flows of up to a few
        thousand parameters.
    rtol, atol : float
        Integration tolerances.
    trainable : str or sequence of str, optional
        Parameter names or prefixes that move (e.g. ``"output"`` for the
        linear regime); the others stay frozen.
    t_eval : array_like, optional
        Output times (default: the solver's steps).
    probes : probe, sequence of probes or dict, optional
        Evaluated on the module at ``probe_times`` after the run (default: the
        output times), kept in ``sol.probes``.
    gtol, max_steps, first_step, max_step, dense, progress, save, checkpoint_every
        As in :func:`flowlab.flow`.
    rho_every, lanczos, max_stages : int, optional
        RKC only (a ValueError for the other methods): re-estimate the
        spectral radius every ``rho_every`` accepted steps (default 25) and
        after every rejection, with ``lanczos`` Hessian-vector products
        (default 10); take at most ``max_stages`` stages per step (default
        :data:`flowlab.torch.rkc.MAX_STAGES` = 250; longer steps are cut to
        the stability interval of that many stages).

    Returns
    -------
    TorchSolution

    Examples
    --------
    >>> import numpy as np
    >>> from flowlab.torch import MSELoss, flow, init_default, mlp
    >>> x = np.linspace(-1, 1, 20)
    >>> net = init_default(mlp(1, 6, 2), seed=0)
    >>> sol = flow(net, MSELoss(x, np.sin(3 * x)), 1.0, rtol=1e-8, atol=1e-10)
    >>> bool(sol.loss[-1] < sol.loss[0]), type(sol.net_at(0.5)).__name__
    (True, 'DeepNet')
    """
    method = _check_method(method)
    fm = FlatModule(module_to_float64(module), loss_fn, trainable)
    t_end = v.check_real(t_end, "t_end", positive=True)
    rtol, atol = v.check_tolerances(rtol, atol)
    t_eval = check_t_eval(t_eval, 0.0, t_end)
    if gtol is not None:
        gtol = v.check_real(gtol, "gtol", positive=True)
    if max_steps is not None:
        max_steps = v.check_int(max_steps, "max_steps", minimum=1)
    probes = check_probes(probes)
    checkpoint_every = check_checkpoint_every(checkpoint_every, save)
    first_step = check_first_step(first_step)
    max_step = check_max_step(max_step)
    if save is not None:
        _io.check_save_path(save, "save")
    check_start(fm, fm.u0)
    opts = dict(method=method, rtol=rtol, atol=atol, t_eval=t_eval, gtol=gtol,
                max_steps=max_steps, first_step=first_step, max_step=max_step, dense=bool(dense),
                progress=progress, save=save, checkpoint_every=checkpoint_every, t0=0.0)
    rkc = _rkc_options(method, rho_every=rho_every, lanczos=lanczos, max_stages=max_stages)
    sol = (_RKCRun(fm, t_end, **opts, **rkc) if method == "RKC" else _Run(fm, t_end, **opts)).run()
    if probes:
        times = sol.t if probe_times is None else v.as_array(probe_times, "probe_times", ndim=1)
        if probe_times is not None and sol.dense is None:
            raise ValueError("`probe_times` needs the dense output; run with dense=True.")
        sol.probes = {name: sol.probe({name: p}, times) for name, p in probes.items()}
    return sol
