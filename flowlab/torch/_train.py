"""Discrete training of a module with recording and probes.

:func:`train` runs full-batch gradient descent (``"gd"``: theta <- theta - lr
grad L, nothing else), ``torch.optim.SGD`` (``"sgd"``: momentum, weight decay
and Nesterov through ``optimizer_options``; stochastic when the loss samples
a minibatch on each call) or ``torch.optim.Adam`` (``"adam"``), records the loss,
optionally the flat parameters, and the probes of :mod:`flowlab.torch.probes`
at chosen iterations, and returns a :class:`TorchTrainResult`: flowlab's
:class:`~flowlab.train.TrainResult` (the type of its GD, Adam and ANLS
baselines) whose ``net`` is the trained module, with the probe records.

Time scale: with ``"gd"`` on a loss in flowlab's conventions, iteration k is
gradient-flow time t = lr k (``TorchTrainResult.t``); the probe records use
the same t for every optimiser.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from flowlab import _validate as v
from flowlab._signature import options_by_keyword
from flowlab._progress import progress_bar
from flowlab import io as _io
from flowlab._interrupt import reraise_if_propagating
from flowlab.train.descent import _record_points
from flowlab.train.result import TrainResult
from flowlab.torch.flat import FlatModule, flatten, load_flat, module_to_float64
from flowlab.torch.probes import check_probes, evaluate_probes, finish_records

__all__ = ["train", "TorchTrainResult", "OPTIMIZERS", "load_result_params"]

#: Optimisers of :func:`train`.
OPTIMIZERS = ("gd", "sgd", "adam")


@dataclass(eq=False)
class TorchTrainResult(TrainResult):
    """A training run of a module: :class:`~flowlab.train.TrainResult` plus probe records.

    Attributes
    ----------
    net : torch.nn.Module
        The trained (float64) module.
    loss, iterations, method, loss_kind, stop_reason, status, params, info
        As in :class:`~flowlab.train.TrainResult`; ``params`` rows are flat
        vectors in ``named_parameters()`` order.
    probes : dict of str -> ProbeRecord
        Probe values at the recorded iterations (``t`` = lr x iteration).
    """

    probes: dict = field(default_factory=dict)

    @property
    def t(self) -> np.ndarray:
        """lr x iterations: gradient-flow time for ``"gd"``."""
        return self.info["lr"] * self.iterations.astype(np.float64)

    def __repr__(self) -> str:
        return (f"TorchTrainResult(method={self.method!r}, iterations={int(self.iterations[-1])}, "
                f"loss {self.loss[0]:.6g} -> {self.loss[-1]:.6g}, status={self.status!r})")

    def save(self, path):
        """Write loss, iterations, parameters and the final flat parameters to ``.npz``.

        Load them back with :func:`flowlab.io.load_npz`; the module itself is
        code (rebuild it and :func:`flowlab.torch.flat.load_flat` the parameters).
        """
        arrays = {"loss": self.loss, "iterations": self.iterations,
                  "theta_final": flatten(self.net)}
        if self.params is not None:
            arrays["params"] = self.params
        meta = {"format": "flowlab.TorchTrainResult", "module": type(self.net).__name__,
                "method": self.method, "loss_kind": self.loss_kind,
                "stop_reason": self.stop_reason, "status": self.status, "info": self.info}
        return _io.save_npz(path, arrays, meta)


def _optimizer(name, params, lr, options):
    if not isinstance(name, str) or name.lower() not in OPTIMIZERS:
        raise ValueError(f"`optimizer` must be one of {', '.join(OPTIMIZERS)}, got {name!r}.")
    name = name.lower()
    options = dict(options or {})
    if name == "gd":
        if options:
            raise ValueError(f"optimizer='gd' takes no `optimizer_options` (got {options}); use "
                             "'sgd' for momentum or weight decay.")
        return name, None
    cls = torch.optim.SGD if name == "sgd" else torch.optim.Adam
    try:
        return name, cls(params, lr=lr, **options)
    except TypeError as exc:
        raise TypeError(f"`optimizer_options` {options} do not fit {cls.__name__}: {exc}") from None


@options_by_keyword("optimizer", "lr", "steps")
def train(module: torch.nn.Module, loss_fn, *, optimizer: str = "adam", lr: float,
          steps: int, record_every: int = 1, record_at=None, probes=None,
          record_params: bool = False, trainable=None, optimizer_options=None,
          target_loss: float | None = None, progress: bool | None = None) -> TorchTrainResult:
    """Train a float64 copy of ``module`` on ``loss_fn`` and record the run.

    Parameters
    ----------
    module : torch.nn.Module
        Initial network (not changed; a float64 deep copy is trained).
    loss_fn : callable
        ``loss_fn(model) -> scalar tensor`` (see :mod:`flowlab.torch.losses`).
    optimizer : {"gd", "sgd", "adam"}
        Plain gradient descent, ``torch.optim.SGD`` or ``torch.optim.Adam``.
    lr : float
        Learning rate (required, as for :func:`flowlab.train.gd`).
    steps : int
        Number of iterations (required).
    record_every : int
        Record every this many iterations (the final one always).
    record_at : array_like of int, optional
        Iterations at which to record instead (e.g. log-spaced).
    probes : probe, sequence of probes or dict, optional
        Evaluated at the recorded iterations (:mod:`flowlab.torch.probes`).
    record_params : bool
        Keep the flat parameters at the recorded iterations (``params``).
    trainable : str or sequence of str, optional
        Parameter names or prefixes that move; the others are frozen.
    optimizer_options : dict, optional
        Extra arguments of the torch optimiser (e.g. ``{"momentum": 0.9}``).
    target_loss : float, optional
        ``info["target_reached_at"]``: first iteration with loss <= this value.
    progress : bool, optional
        Progress bar (default: when stderr is a terminal).

    Returns
    -------
    TorchTrainResult
        ``loss[i]`` is the loss after ``iterations[i]`` updates.

    Examples
    --------
    >>> import numpy as np
    >>> from flowlab.torch import MSELoss, init_default, mlp, train
    >>> x = np.linspace(-1, 1, 20)
    >>> res = train(init_default(mlp(1, 6, 2), seed=0), MSELoss(x, np.sin(3 * x)),
    ...             optimizer="gd", lr=0.1, steps=50, record_every=10)
    >>> res.iterations.tolist(), bool(res.loss[-1] < res.loss[0])
    ([0, 10, 20, 30, 40, 50], True)
    """
    net = module_to_float64(module)
    fm = FlatModule(net, loss_fn, trainable)
    lr = v.check_real(lr, "lr", positive=True)
    steps = v.check_int(steps, "steps", minimum=0)
    rec = set(_record_points(steps, record_every, record_at).tolist()) | {steps}
    if target_loss is not None:
        target_loss = v.check_real(target_loss, "target_loss")
    probes = check_probes(probes)
    for name, p in net.named_parameters():
        p.requires_grad_(name in fm.trainable)
    params = [p for p in net.parameters() if p.requires_grad]
    name, opt = _optimizer(optimizer, params, lr, optimizer_options)
    bar = progress_bar(progress, steps, name, unit="it")
    losses, iters, snaps, records = [], [], [], {}
    stop, reached, done = f"completed {steps} iterations", None, 0
    status = "finished"
    clock = time.perf_counter()
    try:
        for k in range(steps + 1):
            L = loss_fn(net)
            val = float(L.detach())
            if target_loss is not None and reached is None and val <= target_loss:
                reached = k
            if k in rec or not np.isfinite(val):
                losses.append(val)
                iters.append(k)
                if record_params:
                    snaps.append(flatten(net))
                evaluate_probes(probes, net, records, lr * k, k)
            done = k
            if not np.isfinite(val):
                status = "diverged"
                stop = f"diverged (non-finite loss) at iteration {k}; lower the learning rate `lr`"
                break
            if k == steps:
                break
            grads = torch.autograd.grad(L, params)
            _update(name, opt, params, grads, lr)
            if bar is not None:
                bar.update(1, loss=val)
    except KeyboardInterrupt:
        reraise_if_propagating()
        status, stop = "interrupted", f"interrupted after {done} iterations"
        if not iters or iters[-1] != done:
            losses.append(float(loss_fn(net).detach()))
            iters.append(done)
            if record_params:
                snaps.append(flatten(net))
            evaluate_probes(probes, net, records, lr * done, done)
    if bar is not None:
        bar.close()
    info = {"lr": lr, "optimizer_options": dict(optimizer_options or {}),
            "wall_time": time.perf_counter() - clock, "trainable": list(fm.trainable)}
    if target_loss is not None:
        info.update(target_loss=target_loss, target_reached_at=reached)
    return TorchTrainResult(net=net, loss=np.asarray(losses), iterations=np.asarray(
        iters, dtype=np.int64), method=name, loss_kind=fm.loss_kind, stop_reason=stop,
        status=status,
        params=np.array(snaps) if record_params else None, info=info,
        probes=finish_records(records))


def _update(name, opt, params, grads, lr) -> None:
    if name == "gd":
        with torch.no_grad():
            for p, g in zip(params, grads):
                p.add_(g, alpha=-lr)
        return
    for p, g in zip(params, grads):
        p.grad = g
    opt.step()


def load_result_params(module: torch.nn.Module, res: TorchTrainResult, row: int = -1):
    """A float64 copy of ``module`` holding ``res.params[row]`` (needs ``record_params=True``)."""
    if res.params is None:
        raise ValueError("this result has no recorded parameters; train with record_params=True.")
    out = module_to_float64(module)
    load_flat(out, res.params[row])
    return out
