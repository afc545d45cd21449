"""Full-batch gradient descent and Adam with compiled inner loops.

Time scale: ``steps`` iterations of gradient descent with learning rate ``lr``
follow the gradient flow of the same loss up to t = lr * steps, with an error
O(lr) (tested in tests/train/test_descent.py).

Ainsworth & Shin's (2021) model (a ``ReLU1D`` with w fixed to 1) runs through a dedicated
loop costing O(n + m) per iteration (:mod:`flowlab._kernels.relu1d_descent`);
every other network through the generic two-layer kernels (O(n m)).
"""

from __future__ import annotations

import time

import numpy as np

from .. import _validate as v
from .._compile import compile_task
from .._interrupt import reraise_if_propagating
from .._progress import progress_bar
from .._signature import options_by_keyword
from .._kernels import optim as _ko
from .._kernels import relu1d_descent as _kr
from .._problem import Problem, resolve_trainable
from ..models import Network, ReLU1D
from .result import TrainResult

__all__ = ["gd", "adam"]

_CHUNK = 200_000


@options_by_keyword("lr", "steps")
def gd(net: Network, x, y, *, lr: float, steps: int, loss: str = "sum", trainable=None,
       record_every: int = 1, record_at=None, record_params: bool = False,
       target_loss: float | None = None, progress: bool | None = None) -> TrainResult:
    """Full-batch gradient descent theta <- theta - lr * grad L(theta).

    Parameters
    ----------
    net : ReLU1D or TwoLayer
        Initial network.
    x, y : array_like
        Training data, shapes as for :func:`flowlab.flow`.
    lr : float
        Learning rate.
    steps : int
        Number of iterations.
    loss : {"sum", "mean"}
        L = 1/2 sum r_i^2 or 1/(2m) sum r_i^2.
    trainable : str or sequence of str, optional
        Parameter groups that move.
    record_every : int
        Record the loss (and parameters, if ``record_params``) every this many
        iterations; the final iteration is always recorded.
    record_at : array_like of int, optional
        Iterations at which to record instead (e.g. log-spaced for long runs);
        overrides ``record_every``.
    record_params : bool
        Also record the flat parameters (``TrainResult.params``).
    target_loss : float, optional
        Report in ``info["target_reached_at"]`` the first iteration whose loss
        is <= this value (None if never), checked at every iteration.
    progress : bool, optional
        Progress bar (default: when stderr is a terminal).

    Returns
    -------
    TrainResult

    Examples
    --------
    >>> import numpy as np, flowlab as fl
    >>> net = fl.init.he(5, seed=0)
    >>> x = np.linspace(-1, 1, 30)
    >>> res = fl.train.gd(net, x, np.sin(np.pi * x), lr=1e-3, steps=1000)
    >>> bool(res.loss[-1] <= res.loss[0])
    True
    """
    lr = v.check_real(lr, "lr", positive=True)
    return _drive("gd", {"lr": lr}, net, x, y, steps, loss, trainable, record_every,
                  record_at, record_params, target_loss, progress)


@options_by_keyword("lr", "steps")
def adam(net: Network, x, y, *, lr: float, steps: int, beta1: float = 0.9,
         beta2: float = 0.999, eps: float = 1e-8, loss: str = "sum", trainable=None,
         record_every: int = 1, record_at=None, record_params: bool = False,
         target_loss: float | None = None, progress: bool | None = None) -> TrainResult:
    """Full-batch Adam (Kingma & Ba) with its default hyper-parameters.

    Same arguments as :func:`gd` (``lr`` and ``steps`` required, like every trainer's:
    docs/conventions.md), plus ``beta1``, ``beta2``, ``eps``, whose defaults are Adam's
    (0.9, 0.999, 1e-8), as used by Ainsworth & Shin 2021 (with lr = 1e-3).
    """
    lr = v.check_real(lr, "lr", positive=True)
    beta1 = v.check_real(beta1, "beta1", nonnegative=True)
    beta2 = v.check_real(beta2, "beta2", nonnegative=True)
    eps = v.check_real(eps, "eps", positive=True)
    if beta1 >= 1 or beta2 >= 1:
        raise ValueError(f"`beta1` and `beta2` must be < 1, got {beta1}, {beta2}.")
    hyper = {"lr": lr, "beta1": beta1, "beta2": beta2, "eps": eps}
    return _drive("adam", hyper, net, x, y, steps, loss, trainable, record_every, record_at,
                  record_params, target_loss, progress)


class _Generic:
    """Any network through the two-layer kernels (parameters in kernel form)."""

    def __init__(self, method, hyper, net, x, y, loss, trainable):
        self.method, self.h = method, hyper
        self.prob = prob = Problem(net, x, y, loss=loss, trainable=trainable)
        self.tk = prob._tk.copy()
        self.tk[prob.kidx] = prob.ksign * prob.u0
        self.mask = np.zeros(self.tk.size)
        self.mask[prob.kidx] = 1.0
        self.m1, self.m2, self.t = np.zeros(self.tk.size), np.zeros(self.tk.size), 0
        self.size = self.tk.size
        self.loss_kind, self.trainable = prob.loss_kind, prob.trainable

    def run(self, steps, losses, keep, snaps):
        p, h = self.prob, self.h
        if self.method == "gd":
            return _ko.gd(p.code, self.tk, p.n, p.d1, p.XT, p.y, p.scale, h["lr"], steps,
                          self.mask, losses, keep, snaps)
        L = _ko.adam(p.code, self.tk, p.n, p.d1, p.XT, p.y, p.scale, h["lr"], h["beta1"],
                     h["beta2"], h["eps"], steps, self.mask, losses, keep, snaps, self.m1,
                     self.m2, self.t)
        self.t += steps
        return L

    def user(self, S):
        """Flat user parameters from kernel vectors S (k, size)."""
        p = self.prob
        out = np.repeat(p.theta0[None, :], S.shape[0], axis=0)
        out[:, p.user_index] = S[:, p.kidx] * p.ksign
        return out

    def final(self):
        u = self.prob.ksign * self.tk[self.prob.kidx]
        ok = np.all(np.isfinite(u))
        return self.prob.net(u), (self.prob.loss(u) if ok else np.inf), self.tk.copy()


class _SeedModel:
    """Ainsworth & Shin's (2021) model (ReLU1D, w = 1) through the O(n + m) loop; p = (b, c)."""

    def __init__(self, method, hyper, net, x, y, loss, trainable):
        self.method, self.h = method, hyper
        self.loss_kind = v.check_loss(loss)
        xa = net._inputs(x)[0]
        ya = v.as_array(y, "y", ndim=1)
        if ya.size != xa.size:
            raise ValueError(f"`y` must have one value per data point: x has {xa.size} "
                             f"points, y has {ya.size}.")
        order = np.argsort(xa, kind="stable")
        self.xs, self.ys = xa[order], ya[order]
        self.scale = v.loss_scale(self.loss_kind, xa.size)
        self.trainable = resolve_trainable(net, trainable)
        n = net.width
        self.p = net.params()
        self.size = self.p.size
        self.mask = np.zeros(2 * n)
        for g in self.trainable:
            self.mask[net.groups()[g]] = 1.0
        self.m1, self.m2, self.t = np.zeros(2 * n), np.zeros(2 * n), 0
        self.k = np.zeros(n, dtype=np.int64)
        _kr.active_index(self.xs, self.p[:n], self.k)

    def run(self, steps, losses, keep, snaps):
        h = self.h
        code = _kr.GD if self.method == "gd" else _kr.ADAM
        L = _kr.descend(code, self.p, self.xs, self.ys, self.scale, h["lr"],
                        h.get("beta1", 0.0), h.get("beta2", 0.0), h.get("eps", 1.0), steps,
                        self.mask, self.m1, self.m2, self.t, self.k, losses, keep, snaps)
        self.t += steps
        return L

    def user(self, S):
        return S

    def final(self):
        n = self.p.size // 2
        net = ReLU1D(self.p[:n], self.p[n:])
        ok = np.all(np.isfinite(self.p))
        return net, (net.loss(self.xs, self.ys, self.loss_kind) if ok else np.inf), self.p.copy()


def _runner(method, hyper, net, x, y, loss, trainable):
    if isinstance(net, ReLU1D) and net.w is None:
        return _SeedModel(method, hyper, net, x, y, loss, trainable)
    if not isinstance(net, Network):
        raise TypeError("`net` must be a flowlab network (ReLU1D or TwoLayer), got "
                        f"{type(net).__name__}.")
    return _Generic(method, hyper, net, x, y, loss, trainable)


def check_initial_loss(net, x, y, loss) -> None:
    """ValueError unless the loss of ``net`` on (x, y) is finite (before any iteration)."""
    with np.errstate(all="ignore"):
        L = net.loss(x, y, loss)
    if not np.isfinite(L):
        big = float(np.abs(net.params()).max())
        xmax = float(np.abs(np.asarray(x, dtype=float)).max())
        raise ValueError(f"the loss of `net` on the data is {L} (not finite) before the first "
                         f"iteration: the network's outputs overflow (largest |parameter| "
                         f"{big:.3g}, largest |x| {xmax:.3g}); rescale the parameters or the "
                         "data (no learning rate can help).")


def _record_points(steps, record_every, record_at):
    if record_at is None:
        record_every = v.check_int(record_every, "record_every", minimum=1)
        return np.arange(0, steps, record_every, dtype=np.int64)
    at = np.asarray(record_at)
    if at.ndim != 1 or not np.issubdtype(at.dtype, np.integer):
        raise TypeError("`record_at` must be a 1-d array of iteration numbers (integers).")
    if at.size and at.min() < 0:
        raise ValueError("`record_at` must hold iteration numbers >= 0.")
    at = np.unique(at.astype(np.int64))
    return at[at < steps]


def _drive(method, hyper, net, x, y, steps, loss, trainable, record_every, record_at,
           record_params, target_loss, progress) -> TrainResult:
    """Run a compiled loop in chunks (progress bar, Ctrl-C) and wrap the result."""
    with compile_task("descent"):
        return _drive_loop(method, hyper, net, x, y, steps, loss, trainable, record_every,
                           record_at, record_params, target_loss, progress)


def _drive_loop(method, hyper, net, x, y, steps, loss, trainable, record_every, record_at,
                record_params, target_loss, progress) -> TrainResult:
    run = _runner(method, hyper, net, x, y, loss, trainable)
    steps = v.check_int(steps, "steps", minimum=0)
    check_initial_loss(net, x, y, run.loss_kind)
    rec = _record_points(steps, record_every, record_at)
    if target_loss is not None:
        target_loss = v.check_real(target_loss, "target_loss")
    bar = progress_bar(progress, steps, method, unit="it")
    hists, iters, snaps_all = [], [], []
    done, stop, reached = 0, f"completed {steps} iterations", None
    status = "finished"
    clock = time.perf_counter()
    try:
        while done < steps:
            k = min(_CHUNK, steps - done)
            lo, hi = np.searchsorted(rec, [done, done + k])
            keep = rec[lo:hi] - done
            losses = np.full(k, np.nan)
            snaps = np.empty((keep.size if record_params else 0, run.size))
            L = run.run(k, losses, keep if record_params else keep[:0], snaps)
            finite = np.isfinite(losses)
            upto = k if np.all(finite) else int(np.argmin(finite))
            if reached is None and target_loss is not None:
                hit = np.flatnonzero(losses[:upto] <= target_loss)
                reached = None if not hit.size else done + int(hit[0])
            ok = keep < upto
            hists.append(losses[keep[ok]])
            iters.append(done + keep[ok])
            snaps_all.append(snaps[ok] if record_params else snaps)
            if not np.isfinite(L):
                status, stop = "diverged", (f"diverged (non-finite loss) at iteration "
                                            f"{done + upto}; lower the learning rate `lr`")
                done += upto
                break
            done += k
            if bar is not None:
                bar.update(k, loss=float(losses[upto - 1]) if upto else None)
    except KeyboardInterrupt:
        reraise_if_propagating()
        status, stop = "interrupted", f"interrupted after about {done} iterations"
    if bar is not None:
        bar.close()
    net_out, final_loss, last = run.final()
    if reached is None and target_loss is not None and final_loss <= target_loss:
        reached = done
    params = None
    if record_params:
        params = run.user(np.concatenate(snaps_all + [last[None, :]]))
    info = dict(hyper, wall_time=time.perf_counter() - clock, trainable=list(run.trainable))
    if target_loss is not None:
        info.update(target_loss=target_loss, target_reached_at=reached)
    return TrainResult(net=net_out, loss=np.concatenate(hists + [[final_loss]]),
                       iterations=np.concatenate(iters + [[done]]).astype(np.int64),
                       method=method, loss_kind=run.loss_kind, stop_reason=stop, status=status,
                       params=params, info=info)
