"""``saad-solla``: the symmetric plateau of the erf soft committee machine and its escape.

Saad & Solla 1995 ("On-line learning in soft committee machines", Phys. Rev. E 52)
study a student sum_i g(J_i . x) learning a teacher sum_n g(B_n . x),
g(z) = erf(z / sqrt 2), output weights fixed to 1, Gaussian inputs.  Their
on-line dynamics in the small-learning-rate limit is the gradient flow of the
population loss (the generalisation error eps_g), which flowlab integrates
exactly here (:func:`flowlab.population.flow`, ``trainable="W"``): t = eta alpha.

Setting (K = M, isotropic teacher T = I, d = M + K so that every student vector
has room outside the teacher's span): initial overlaps R_in ~ U(0, 1e-12),
norms Q_ii ~ U(0, 1/2), students orthogonal to each other (Q_ik = 0).  The flow
falls onto the permutation-symmetric plateau, sits there while the tiny
asymmetry grows, and escapes by specialisation (each student unit aligns with
one teacher unit).

Checks, per run:

- the plateau's loss (at its flattest point) is the closed-form height of the
  symmetric fixed point, eps* = M/6 - (M^2/pi) asin(1/(2M)) (derived in
  docs/population.md), to 1e-3 relative (the flow approaches the fixed point
  along degenerate directions, algebraically slowly);
- :func:`flowlab.refine` from the plateau converges to a saddle (index >= 1)
  whose loss is eps* to 1e-9 and whose order parameters are
  Q_ii = Q_ik = 1/(2M - 1) and R_in = 1/sqrt(M (2M - 1)) to 1e-4 (the saddle is
  degenerate: along its flat directions rounding fixes it only to ~eps^(1/3));
- the escape is exponential at the rate of the saddle's unstable eigenvalue
  (growth of the state's component in the unstable eigenspace), to 10 %;
- specialisation: at the end the loss is below 1e-20 and R is a permutation
  matrix to 1e-6.
"""

from __future__ import annotations

import numpy as np

from ..fixed_points import refine
from ..plotting import figure
from ..population import flow as population_flow
from ..population import theory
from ..population.problem import PopulationProblem
from ._registry import register


def initial_student(M: int, K: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(J, B): teacher B = the first M unit vectors of R^(M+K); students with
    R_in ~ U(0, 1e-12), Q_ii ~ U(0, 1/2), mutually orthogonal (own extra axis)."""
    rng = np.random.default_rng(seed)
    d = M + K
    B = np.eye(d)[:M]
    R0 = rng.uniform(0.0, 1e-12, (K, M))
    Q0 = rng.uniform(0.0, 0.5, K)
    J = np.zeros((K, d))
    J[:, :M] = R0
    for i in range(K):
        J[i, M + i] = np.sqrt(Q0[i] - R0[i] @ R0[i])
    return J, B


def plateau_point(t, loss):
    """Index of the flattest point of the plateau: min |d ln L / dt| over t > 1 among the
    points whose loss is above 1e-3 of the initial loss (after the escape it falls far
    below)."""
    sel = (loss > 1e-3 * loss[0]) & (t > 1.0)
    rate = np.abs(np.gradient(np.log(np.abs(loss)), t))
    idx = np.flatnonzero(sel)
    return int(idx[np.argmin(rate[idx])])


def escape_rate(sol, saddle_u, unstable):
    """Exponential growth rate of the component of theta(t) - theta* in the unstable
    eigenspace, fitted where it grows from 1e-9 to 1e-5 (after its minimum)."""
    u = sol.theta[:, sol.problem().user_index]
    z = np.linalg.norm((u - saddle_u) @ unstable, axis=1)
    k0 = int(np.argmin(z))
    w = (np.arange(z.size) >= k0) & (z > 1e-9) & (z < 1e-5)
    if w.sum() < 5:
        return np.nan, z
    return float(np.polyfit(sol.t[w], np.log(z[w]), 1)[0]), z


def run_case(M: int, seed: int, t_end: float, progress=False) -> dict:
    K = M
    J, B = initial_student(M, K, seed)
    student, teacher = theory.soft_committee(J, B)
    sol = population_flow(student, teacher, t_end, trainable="W", progress=progress)
    sp = theory.symmetric_fixed_point(M)
    i = plateau_point(sol.t, sol.loss)
    res = refine(sol.net_at(float(sol.t[i])), teacher, trainable="W")
    W = res.net.W
    Q = W @ W.T
    R = W @ B.T
    prob = PopulationProblem(res.net, teacher, trainable="W")
    lam, vec = np.linalg.eigh(prob.hess(prob.u0))
    tol = res.zero_tol * np.max(np.abs(lam))
    unstable = vec[:, lam < -tol]
    mu = float(-lam[0])
    rate, z = escape_rate(sol, prob.u0, unstable)
    op = sol.order_parameters()
    Rf = op.R[-1]
    order = np.argmax(Rf, axis=1)
    P = np.zeros_like(Rf)
    P[np.arange(K), order] = 1.0
    perm_err = float(np.abs(Rf - P).max()) if len(set(order.tolist())) == K else np.inf
    return {"M": M, "seed": seed, "sol": sol, "refine": res, "z": z, "symmetric": sp,
            "plateau_t": float(sol.t[i]), "plateau_loss": float(sol.loss[i]),
            "saddle_loss": res.loss, "saddle_Q_err": float(np.abs(Q - sp.Q).max()),
            "saddle_R_err": float(np.abs(R - sp.R).max()), "index": res.index,
            "n_zero": res.n_zero, "status": res.status, "rel_grad": res.rel_grad_norm,
            "mu": mu, "escape_rate": rate, "final_loss": float(sol.loss[-1]),
            "R_final": Rf, "permutation_error": perm_err}


@register("saad-solla", "Saad & Solla 1995: the erf soft committee machine's symmetric "
          "plateau, its closed-form height, and the escape by specialisation (population "
          "gradient flow)", papers=("Saad & Solla 1995",))
def run(report):
    cases = [(2, s) for s in (0, 1)] if report.quick else \
        [(M, s) for M in (2, 3) for s in (0, 1, 2)]
    t_end = 1500.0 if report.quick else 2500.0
    rows, keep = [], []
    for M, seed in cases:
        c = run_case(M, seed, t_end, report.progress)
        keep.append(c)
        rows.append({k: v for k, v in c.items() if k not in ("sol", "refine", "z", "symmetric")})
    report.data["runs"] = rows
    report.data["setting"] = {"K": "M", "T": "identity", "d": "M + K",
                              "init": "R_in ~ U(0, 1e-12), Q_ii ~ U(0, 1/2), Q_ik = 0",
                              "t_end": t_end, "trainable": "W (output weights fixed to 1)"}
    for M in sorted({c["M"] for c in keep}):
        mine = [c for c in keep if c["M"] == M]
        sp = mine[0]["symmetric"]
        worst_plateau = max(abs(c["plateau_loss"] - sp.loss) / sp.loss for c in mine)
        report.check(f"Symmetric plateau (M = K = {M}): the loss at the plateau's flattest "
                     "point equals the symmetric fixed point's closed-form height "
                     "M/6 - (M^2/pi) asin(1/(2M)) (derived in docs/population.md from the "
                     "paper's closed-form eps_g): relative error, worst run", worst_plateau,
                     1e-3, "<=", detail={"closed_form": sp.loss,
                                         "plateau": max((c["plateau_loss"] for c in mine),
                                                        key=lambda v: abs(v - sp.loss))})
        worst_saddle = max(abs(c["saddle_loss"] - sp.loss) / sp.loss for c in mine)
        report.check(f"refine from the plateau (M = {M}) reaches the symmetric fixed point: "
                     "its loss equals the closed form (relative error, worst run)",
                     worst_saddle, 1e-9, "<=", detail={"closed_form": sp.loss})
        report.check(f"refine from the plateau (M = {M}) converges: runs whose refine does not "
                     "report 'converged'", sum(c["status"] != "converged" for c in mine), 0,
                     "==", detail={"worst_rel_grad": max(c["rel_grad"] for c in mine)})
        worst_q = max(max(c["saddle_Q_err"], c["saddle_R_err"]) for c in mine)
        report.check(f"Order parameters at that fixed point (M = {M}): Q_ii = Q_ik = "
                     "1/(2M-1), R_in = 1/sqrt(M(2M-1)) (the fixed point is degenerate: "
                     "along its flat directions grad L ~ |delta|^3, so rounding locates it "
                     "only to about eps^(1/3)): largest error", worst_q, 1e-4, "<=",
                     detail={"closed_form": {"Q": sp.Q, "R": sp.R}})
        idx = [c["index"] for c in mine]
        report.check(f"The symmetric fixed point (M = {M}) is a saddle: Hessian index "
                     "(number of negative eigenvalues, over the trained J) of every run", idx,
                     1, ">=", detail={"near_zero_eigenvalues": [c["n_zero"] for c in mine]})
        errs = [abs(c["escape_rate"] - c["mu"]) / c["mu"] for c in mine]
        report.check(f"Escape (M = {M}): the component of the state in the saddle's unstable "
                     "eigenspace grows exponentially at the unstable eigenvalue's rate: "
                     "relative error of every run's rate", errs, 0.1, "<=",
                     detail={"unstable_eigenvalue": mine[0]["mu"],
                             "growth_rates": [c["escape_rate"] for c in mine]})
        perm = max(c["permutation_error"] for c in mine)
        final = max(c["final_loss"] for c in mine)
        report.check(f"Specialisation (M = {M}): after the escape every student unit aligns "
                     "with one teacher unit: distance of R from a permutation matrix, worst run",
                     perm, 1e-6, "<=")
        report.check(f"Specialisation (M = {M}): the loss then falls to 0 (final loss, worst "
                     "run)", final, 1e-20, "<=")
    _figure(report, keep)


def _figure(report, cases):
    fig, ax = figure(3, 1, width=4.4)
    for c in cases:
        sol = c["sol"]
        lab = f"M = {c['M']}, seed {c['seed']}"
        ax[0].semilogy(sol.t, np.maximum(sol.loss, 1e-33), label=lab)
    for M in sorted({c["M"] for c in cases}):
        ax[0].axhline(theory.symmetric_fixed_point(M).loss, ls="--", lw=0.8, color="k")
    ax[0].set_xlabel("t = eta alpha")
    ax[0].set_ylabel("eps_g = 1/2 E[(f - f*)^2]")
    ax[0].set_title("loss: plateau at eps* (dashed), escape")
    ax[0].legend(fontsize=7)
    c = cases[0]
    op = c["sol"].order_parameters()
    K, M = op.R.shape[1:]
    for i in range(K):
        for n in range(M):
            ax[1].plot(op.t, op.R[:, i, n], lw=1)
    ax[1].axhline(c["symmetric"].R, ls="--", lw=0.8, color="k")
    ax[1].set_xlabel("t")
    ax[1].set_ylabel("overlap R_in")
    ax[1].set_title(f"R_in (M = {M}, seed {c['seed']}); dashed: 1/sqrt(M(2M-1))")
    for cc in cases:
        ax[2].semilogy(cc["sol"].t, cc["z"], lw=1, label=f"M = {cc['M']}, seed {cc['seed']}")
    ax[2].set_xlabel("t")
    ax[2].set_ylabel("|component|")
    ax[2].set_title("unstable-eigenspace component of theta(t) - theta*")
    ax[2].set_ylim(1e-14, 10.0)
    report.figure(fig, "saad_solla.png")
