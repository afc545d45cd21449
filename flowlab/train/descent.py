"""Full-batch gradient descent and Adam with compiled inner loops.

Time scale: ``steps`` iterations of gradient descent with learning rate ``lr``
follow the gradient flow of the same loss up to t = lr * steps, with an error
O(lr) (tested in tests/train/test_descent.py).
"""

from __future__ import annotations

import sys
import time

import numpy as np

from .. import _validate as v
from .._kernels import optim as _ko
from .._problem import Problem
from ..models import Network
from .result import TrainResult

__all__ = ["gd", "adam"]

_CHUNK = 200_000


def gd(net: Network, x, y, lr: float, steps: int, *, loss: str = "sum", trainable=None,
       record_every: int = 1, record_params: bool = False, progress: bool | None = None
       ) -> TrainResult:
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

    def call(code, tk, n, d1, XT, yy, scale, nsteps, mask, hist, snaps, state):
        return _ko.gd(code, tk, n, d1, XT, yy, scale, lr, nsteps, mask, record_every, hist, snaps)

    return _drive("gd", call, {}, net, x, y, steps, loss, trainable, record_every,
                  record_params, progress, {"lr": lr})


def adam(net: Network, x, y, lr: float = 1e-3, steps: int = 1000, *, beta1: float = 0.9,
         beta2: float = 0.999, eps: float = 1e-8, loss: str = "sum", trainable=None,
         record_every: int = 1, record_params: bool = False, progress: bool | None = None
         ) -> TrainResult:
    """Full-batch Adam (Kingma & Ba) with its default hyper-parameters.

    Same arguments as :func:`gd`, plus ``beta1``, ``beta2``, ``eps``; the
    defaults are Adam's (lr 1e-3, 0.9, 0.999, 1e-8), as used by seed 003.
    """
    lr = v.check_real(lr, "lr", positive=True)
    beta1 = v.check_real(beta1, "beta1", nonnegative=True)
    beta2 = v.check_real(beta2, "beta2", nonnegative=True)
    eps = v.check_real(eps, "eps", positive=True)
    if beta1 >= 1 or beta2 >= 1:
        raise ValueError(f"`beta1` and `beta2` must be < 1, got {beta1}, {beta2}.")

    def call(code, tk, n, d1, XT, yy, scale, nsteps, mask, hist, snaps, state):
        L = _ko.adam(code, tk, n, d1, XT, yy, scale, lr, beta1, beta2, eps, nsteps, mask,
                     record_every, hist, snaps, state["m1"], state["m2"], state["t"])
        state["t"] += nsteps
        return L

    return _drive("adam", call, {}, net, x, y, steps, loss, trainable, record_every,
                  record_params, progress, {"lr": lr, "beta1": beta1, "beta2": beta2, "eps": eps})


def _drive(method, call, state, net, x, y, steps, loss, trainable, record_every,
           record_params, progress, info) -> TrainResult:
    """Run a compiled loop in chunks (progress bar, Ctrl-C) and wrap the result."""
    prob = Problem(net, x, y, loss=loss, trainable=trainable)
    steps = v.check_int(steps, "steps", minimum=0)
    record_every = v.check_int(record_every, "record_every", minimum=1)
    tk = prob._tk.copy()
    tk[prob.kidx] = prob.ksign * prob.u0
    mask = np.zeros(tk.size)
    mask[prob.kidx] = 1.0
    state.update(m1=np.zeros(tk.size), m2=np.zeros(tk.size), t=0)
    chunk = record_every * max(1, _CHUNK // record_every)
    hists, snaps_all, iters = [], [], []
    if progress is None:
        progress = sys.stderr.isatty()
    bar = None
    if progress and steps:
        from tqdm.auto import tqdm
        bar = tqdm(total=steps, unit="it", delay=1.0, leave=False, desc=method)
    done, stop = 0, f"completed {steps} iterations"
    clock = time.perf_counter()
    L = prob.loss(prob.u0)
    try:
        while done < steps:
            k = min(chunk, steps - done)
            nrec = (k - 1) // record_every + 1
            hist = np.full(nrec, np.nan)
            snaps = np.empty((nrec if record_params else 0, tk.size))
            L = call(prob.code, tk, prob.n, prob.d1, prob.XT, prob.y, prob.scale, k, mask,
                     hist, snaps, state)
            ok = np.isfinite(hist)
            hists.append(hist[ok])
            snaps_all.append(snaps[ok] if record_params else snaps)
            iters.append(done + record_every * np.arange(nrec)[ok])
            if not np.isfinite(L):
                stop = (f"diverged (non-finite loss) within iterations {done}..{done + k}; "
                        "lower the learning rate `lr`")
                done += int(ok.sum()) * record_every
                break
            done += k
            if bar is not None:
                bar.update(k)
    except KeyboardInterrupt:
        stop = f"interrupted after about {done} iterations"
    if bar is not None:
        bar.close()
    u = prob.ksign * tk[prob.kidx]
    final_loss = prob.loss(u) if np.all(np.isfinite(u)) else np.inf
    loss_hist = np.concatenate(hists + [[final_loss]])
    iterations = np.concatenate(iters + [[done]]).astype(np.int64)
    params = None
    if record_params:
        S = np.concatenate(snaps_all + [tk[None, :]])
        params = np.repeat(prob.theta0[None, :], S.shape[0], axis=0)
        params[:, prob.user_index] = S[:, prob.kidx] * prob.ksign
    info = dict(info, wall_time=time.perf_counter() - clock, trainable=list(prob.trainable))
    return TrainResult(net=prob.net(u), loss=loss_hist, iterations=iterations, method=method,
                       loss_kind=prob.loss_kind, stop_reason=stop, params=params, info=info)
