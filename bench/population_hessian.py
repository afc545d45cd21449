"""The population Hessian in closed form: flowlab's compiled kernel against torch autograd.

Both compute the exact Hessian of the same closed-form population loss
L = 1/2 E[(f - f*)^2], x ~ N(0, I_d), of bias-free two-layer networks
(:mod:`flowlab.population`):

- **flowlab**: :func:`flowlab.population.hessian` (numba; analytic pair blocks,
  O((n + M) n d^2)), called through the public function (validation included);
- **torch**: the same closed forms written in PyTorch (float64; relu's Kahan
  angle, erf's atan2 form; diagonal pairs by their own formulas, where the
  pair formulas are not differentiable) and ``torch.func.hessian`` of the loss
  over the flat parameters (forward-over-reverse autodiff), one thread like
  flowlab's kernel.

Both are timed in the same run, interleaved: each round takes the best
per-call time of each contender, and the ratio torch / flowlab is reported
for every round (median, min, max).  The two Hessians must agree to 1e-10
relative.  Target (MLPGradientFlow reports at least 5x over PyTorch for small
networks): >= 5.

    python bench/population_hessian.py [--quick]

prints JSON.
"""

import argparse
import json
import math
import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import flowlab as fl  # noqa: E402
from bench._timing import best_time  # noqa: E402

TARGET = 5.0


def _pair_kernel(act, U, V, same):
    """K(U_j, V_k) for all pairs, shape (n, M); ``same``: U is V (diagonal by its own
    formula, where the pair formula is not differentiable)."""
    nu = torch.linalg.norm(U, dim=1)
    nv = torch.linalg.norm(V, dim=1)
    if act == "relu":
        uh = U / nu[:, None]
        vh = V / nv[:, None]
        diff = torch.linalg.norm(uh[:, None, :] - vh[None, :, :] + (
            torch.eye(U.shape[0], dtype=U.dtype)[:, :, None] if same else 0.0), dim=2)
        summ = torch.linalg.norm(uh[:, None, :] + vh[None, :, :], dim=2)
        t = 2.0 * torch.atan2(diff, summ)
        K = nu[:, None] * nv[None, :] * (torch.sin(t) + (math.pi - t) * torch.cos(t)) / (
            2.0 * math.pi)
        if same:
            eye = torch.eye(U.shape[0], dtype=U.dtype)
            K = K * (1 - eye) + torch.diag(0.5 * nu * nu)
        return K
    A = nu * nu
    C = nv * nv
    B = U @ V.T
    delta = (1.0 + A)[:, None] * (1.0 + C)[None, :] - B * B
    K = (2.0 / math.pi) * torch.atan2(B, torch.sqrt(delta))
    return K


def torch_loss(act, n, d, V, b):
    """L(theta) in PyTorch, theta = (W.ravel(), a)."""
    Vt = torch.as_tensor(V)
    bt = torch.as_tensor(b)
    Ktt = _pair_kernel(act, Vt, Vt, True).detach()
    ett = bt @ Ktt @ bt

    def loss(theta):
        W = theta[: n * d].reshape(n, d)
        a = theta[n * d:]
        Kss = _pair_kernel(act, W, W, True)
        Kst = _pair_kernel(act, W, Vt, False)
        return 0.5 * (a @ Kss @ a - 2.0 * a @ Kst @ bt + ett)

    return loss


def case(act, n, M, d, rounds, min_time, seed=0):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(n, d)) / np.sqrt(d)
    a = rng.normal(size=n)
    V = rng.normal(size=(M, d)) / np.sqrt(d)
    b = rng.normal(size=M)
    net = fl.TwoLayer(W, a, act, bias=False)
    teacher = fl.TwoLayer(V, b, act, bias=False)
    theta = torch.as_tensor(net.params())
    loss = torch_loss(act, n, d, V, b)
    hess = torch.func.hessian(loss)

    def run_flowlab():
        return fl.population.hessian(net, teacher)

    def run_torch():
        return hess(theta)

    H1 = run_flowlab()
    H2 = run_torch().numpy()
    L1 = fl.population.loss(net, teacher)
    L2 = float(loss(theta))
    diff = float(np.abs(H1 - H2).max() / np.abs(H1).max())
    ratios, tf, tt = [], [], []
    for _ in range(rounds):
        a_t = best_time(run_flowlab, min_time=min_time, repeats=2)
        b_t = best_time(run_torch, min_time=min_time, repeats=2)
        tf.append(a_t)
        tt.append(b_t)
        ratios.append(b_t / a_t)
    return {"activation": act, "n": n, "M": M, "d": d, "P": int(net.n_params),
            "flowlab_s": min(tf), "torch_s": min(tt), "ratio_median": float(np.median(ratios)),
            "ratio_min": float(min(ratios)), "ratio_max": float(max(ratios)),
            "ratios": ratios, "hessian_max_rel_diff": diff,
            "loss_rel_diff": abs(L1 - L2) / abs(L1)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, short timings")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    if args.quick:
        sizes, rounds, min_time = [(4, 2, 8)], 2, 0.05
    else:
        sizes, rounds, min_time = [(2, 2, 4), (4, 4, 16), (8, 8, 32), (16, 16, 64)], 5, 0.2
    cases = [case(act, n, M, d, rounds, min_time) for act in ("relu", "erf")
             for n, M, d in sizes]
    worst = min(c["ratio_median"] for c in cases)
    out = {"benchmark": "population_hessian", "quick": args.quick, "target": TARGET,
           "torch": torch.__version__, "threads": 1, "cases": cases,
           "worst_median_ratio": worst, "met": bool(worst >= TARGET),
           "agree": bool(all(c["hessian_max_rel_diff"] <= 1e-10 for c in cases))}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
