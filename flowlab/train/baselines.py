"""The comparison methods of Ainsworth & Shin 2021, Sec. 5.2: GD, Adam, LS/GD, LS/Adam and LSQ.

All act on Ainsworth & Shin's (2021) model (2.2), f(x) = sum_j c_j relu(x - b_j), and return
a :class:`~flowlab.train.TrainResult`.  Defaults are the paper's: learning rate
1e-3 for GD (Sec. 5), Adam's own defaults (lr 1e-3, beta 0.9/0.999, eps 1e-8),
and the loss ``"mean"``, L = 1/(2m) sum r_i^2, on which the paper's curves are
plotted.

- **GD**, **Adam**: :func:`flowlab.train.gd` / :func:`flowlab.train.adam` on (b, c).
- **LSQ**: the minimum-norm least-squares coefficients c = A^+ y at the initial
  knots, A_ij = relu(x_i - b_j) ((4.1); theta_LSQ^(0) of Sec. 4.3).
- **LS/GD**, **LS/Adam** (the hybrid of the paper's ref. [9]): every iteration
  takes one GD (Adam) step on the knots b with c fixed, then refits c = A(b)^+ y.
  Iteration 0 is the LSQ fit at the initial knots, so the loss history starts
  at LSQ's loss.

Least squares use the complete orthogonal decomposition of
:mod:`flowlab.train.cod` (columns of dead neurons, b_j >= max x, are zero and
get c_j = 0).
"""

from __future__ import annotations

import time

import numpy as np

from .. import _validate as v
from .._interrupt import reraise_if_propagating
from .._progress import progress_bar
from .._signature import LOSS_WHY, REQUIRED, options_by_keyword, require
from ..models import ReLU1D
from .cod import cod
from .descent import _record_points, _SeedModel, adam, check_initial_loss, gd
from .result import TrainResult

__all__ = ["gd", "adam", "lsq", "ls_gd", "ls_adam", "lsq_coefficients", "run_baseline",
           "BASELINES"]

#: names of the baselines, as in Figs. 9-10 of Ainsworth & Shin 2021
BASELINES = ("gd", "adam", "lsgd", "lsadam", "lsq")


def lsq_coefficients(x, y, b, *, rcond: float | None = None) -> tuple[np.ndarray, float]:
    """Minimum-norm least-squares coefficients c = A^+ y, A_ij = relu(x_i - b_j) (Ainsworth & Shin
    2021, (4.1)).

    Parameters
    ----------
    x, y : array_like, shape (m,)
    b : array_like, shape (n,)
    rcond : float, optional
        Rank tolerance of the COD (:func:`flowlab.train.cod.cod`).

    Returns
    -------
    c : ndarray, shape (n,)
    rss : float
        ||A c - y||^2 (no factor 1/2).
    """
    x = v.as_array(x, "x", ndim=1)
    y = v.as_array(y, "y", ndim=1)
    b = v.as_array(b, "b", ndim=1)
    if y.size != x.size:
        raise ValueError(f"`y` must have one value per point of `x`: {x.size} points, "
                         f"{y.size} values.")
    return _fit(x, y, b, rcond)


def _fit(x, y, b, rcond):
    c = np.zeros(b.size)
    alive = np.flatnonzero(b < x.max())
    if not alive.size:
        return c, float(y @ y)
    c[alive], rss = cod(np.maximum(x[:, None] - b[None, alive], 0.0), rcond=rcond).solve(y)
    return c, rss


def _seed_net(net, name="net"):
    if not isinstance(net, ReLU1D) or net.w is not None:
        raise TypeError(f"`{name}` must be the model of Ainsworth & Shin 2021, a ReLU1D with "
                        f"w=None "
                        f"(e.g. fl.init.he(n, seed=s)), got {net!r}.")
    return net


def lsq(net: ReLU1D, x, y, *, loss: str = REQUIRED, rcond: float | None = None) -> TrainResult:
    """LSQ: least-squares coefficients at the knots of ``net`` (Ainsworth & Shin 2021, Sec. 5.2).

    Returns a TrainResult with one history entry (iteration 0); ``net.c`` is
    replaced by the minimum-norm solution.
    """
    net = _seed_net(net)
    loss = v.check_loss(require(loss, "loss", "lsq", LOSS_WHY))
    x = v.as_array(x, "x", ndim=1)
    y = v.as_array(y, "y", ndim=1)
    if y.size != x.size:
        raise ValueError(f"`y` must have one value per point of `x`: {x.size} points, "
                         f"{y.size} values.")
    clock = time.perf_counter()
    c, rss = _fit(x, y, net.b, rcond)
    L = 0.5 * v.loss_scale(loss, x.size) * rss
    return TrainResult(net=ReLU1D(net.b, c), loss=np.array([L]), iterations=np.array([0]),
                       method="lsq", loss_kind=loss, stop_reason="closed form", status="finished",
                       params=None, info={"wall_time": time.perf_counter() - clock})


@options_by_keyword("lr", "steps")
def ls_gd(net: ReLU1D, x, y, *, lr: float, steps: int, loss: str = REQUIRED,
          record_every: int = 1, record_at=None, record_params: bool = False,
          target_loss: float | None = None, rcond: float | None = None,
          progress: bool | None = None) -> TrainResult:
    """LS/GD: a GD step on the knots, then least-squares coefficients, every iteration.

    Parameters are those of :func:`flowlab.train.gd` (``net`` must be the
    model of Ainsworth & Shin 2021), plus ``rcond`` for the least squares; ``loss`` is
    required, as for :func:`flowlab.anls`.  ``net.c`` is not used: iteration 0 refits it.
    """
    lr = v.check_real(lr, "lr", positive=True)
    loss = require(loss, "loss", "ls_gd", LOSS_WHY)
    return _hybrid("lsgd", {"lr": lr}, net, x, y, steps, loss, record_every, record_at,
                   record_params, target_loss, rcond, progress)


@options_by_keyword("lr", "steps")
def ls_adam(net: ReLU1D, x, y, *, lr: float, steps: int, beta1: float = 0.9,
            beta2: float = 0.999, eps: float = 1e-8, loss: str = REQUIRED,
            record_every: int = 1, record_at=None, record_params: bool = False,
            target_loss: float | None = None, rcond: float | None = None,
            progress: bool | None = None) -> TrainResult:
    """LS/Adam: an Adam step on the knots, then least-squares coefficients, every iteration.

    As :func:`ls_gd`; Adam's moments live on the knots only.
    """
    lr = v.check_real(lr, "lr", positive=True)
    loss = require(loss, "loss", "ls_adam", LOSS_WHY)
    hyper = {"lr": lr, "beta1": v.check_real(beta1, "beta1", nonnegative=True),
             "beta2": v.check_real(beta2, "beta2", nonnegative=True),
             "eps": v.check_real(eps, "eps", positive=True)}
    if hyper["beta1"] >= 1 or hyper["beta2"] >= 1:
        raise ValueError(f"`beta1` and `beta2` must be < 1, got {beta1}, {beta2}.")
    return _hybrid("lsadam", hyper, net, x, y, steps, loss, record_every, record_at,
                   record_params, target_loss, rcond, progress)


def _hybrid(method, hyper, net, x, y, steps, loss, record_every, record_at, record_params,
            target_loss, rcond, progress) -> TrainResult:
    net = _seed_net(net)
    run = _SeedModel("gd" if method == "lsgd" else "adam", hyper, net, x, y, loss, ("b",))
    steps = v.check_int(steps, "steps", minimum=0)
    check_initial_loss(net, x, y, run.loss_kind)
    rec = set(_record_points(steps, record_every, record_at).tolist())
    if target_loss is not None:
        target_loss = v.check_real(target_loss, "target_loss")
    if rcond is not None:
        rcond = v.check_real(rcond, "rcond", nonnegative=True)
    n = net.width
    half = 0.5 * run.scale
    one = np.zeros(1)
    none = np.zeros(0, dtype=np.int64)
    snap0 = np.empty((0, 2 * n))
    hist, iters, snaps, reached = [], [], [], None
    status, stop = "finished", f"completed {steps} iterations"
    bar = progress_bar(progress, steps, method, unit="it")
    clock = time.perf_counter()
    it = 0
    try:
        while True:
            c, rss = _fit(run.xs, run.ys, run.p[:n], rcond)
            run.p[n:] = c
            L = half * rss
            if reached is None and target_loss is not None and L <= target_loss:
                reached = it
            if it in rec or it == steps or not np.isfinite(L):
                hist.append(L)
                iters.append(it)
                if record_params:
                    snaps.append(run.p.copy())
            if it == steps:
                break
            run.run(1, one, none, snap0)
            if not np.all(np.isfinite(run.p)):
                status = "diverged"
                stop = f"diverged (non-finite knots) at iteration {it + 1}; lower `lr`"
                break
            it += 1
            if bar is not None and it % 100 == 0:
                bar.update(100, loss=L)
    except KeyboardInterrupt:
        reraise_if_propagating()
        status, stop = "interrupted", f"interrupted after {it} iterations"
    if bar is not None:
        bar.close()
    info = dict(hyper, wall_time=time.perf_counter() - clock, trainable=["b", "c"])
    if target_loss is not None:
        info.update(target_loss=target_loss, target_reached_at=reached)
    return TrainResult(net=ReLU1D(run.p[:n].copy(), run.p[n:].copy()), loss=np.array(hist),
                       iterations=np.array(iters, dtype=np.int64), method=method,
                       loss_kind=run.loss_kind, stop_reason=stop, status=status,
                       params=np.array(snaps) if record_params else None, info=info)


_DEFAULT_STEPS = {"gd": 5_000_000, "adam": 1_000_000}


def run_baseline(name: str, net: ReLU1D, x, y, steps: int | None = None, **options
                 ) -> TrainResult:
    """Run one of :data:`BASELINES` with the paper's defaults (lr 1e-3, ``loss="mean"``).

    ``steps`` defaults to the paper's budgets for GD (5e6) and Adam (1e6) and
    is required for LS/GD and LS/Adam; LSQ takes none.  ``options`` go to the
    method (``record_at``, ``target_loss``, ``progress``...).
    """
    if name not in BASELINES:
        raise ValueError(f"`name` must be one of {BASELINES}, got {name!r}.")
    options.setdefault("loss", "mean")
    if name == "lsq":
        keep = {k: options[k] for k in ("loss", "rcond") if k in options}
        return lsq(net, x, y, **keep)
    if steps is None:
        if name not in _DEFAULT_STEPS:
            raise ValueError(f"`steps` is required for {name!r}.")
        steps = _DEFAULT_STEPS[name]
    options.setdefault("lr", 1e-3)
    if name in ("gd", "adam"):
        _seed_net(net)
        return (gd if name == "gd" else adam)(net, x, y, steps=steps, **options)
    return (ls_gd if name == "lsgd" else ls_adam)(net, x, y, steps=steps, **options)
