"""``refine``: from the end of a flow to the critical point it approaches, and what it is.

A gradient flow ends near a fixed point -- a minimum, or a saddle where it sat on
a plateau.  :func:`refine` solves grad L = 0 from there with Newton's method: each
iteration first tries the full pseudo-inverse Newton step p = -H^+ g (in the
eigenbasis of the Hessian H, eigenvalues below 1e-12 of the largest dropped) and
keeps it when ||grad L|| decreases; otherwise it takes a trust-region step for the
merit function 1/2 ||grad L||^2 (Levenberg-Marquardt, p = -V (l / (l^2 + mu)) V^T g
with |p| the radius) and shrinks the radius when that fails too.  Unlike a
minimiser it converges to saddles as well as minima; trying the full step first
matters at degenerate critical points, where a shortened step breaks the balance
between stiff and flat directions that Newton's step keeps.
It stops when ||grad L|| <= gtol x (E[f^2] + E[f*^2]) / (2 ||theta||) -- the
gradient relative to the size of the terms it is summed from, so that gtol =
1e-12 is reachable in float64 -- or when no step decreases ||grad L|| any more.

Then the Hessian spectrum classifies the point: with zero_tol relative to the
largest |eigenvalue|, a *saddle of index k* has k negative eigenvalues, a
*minimum* none and none near zero, and a point with none negative but some near
zero is *degenerate* (second order cannot decide).  Directions along which the
loss is constant by a symmetry -- relu's rescaling (a_j, w_j) -> (a_j / c, c w_j),
one per neuron when both layers train -- are removed first (``n_symmetry``).

Finite-data relu networks: where no data point lies on a neuron's knot the loss
is smooth (polynomial) nearby and the above applies.  Where points sit on knots
-- the sliding of the exact flow, typical at the end of a plateau -- the loss is
not differentiable and no Hessian exists; ``refine`` then takes no Newton step
and reports the nonsmooth stationarity residual instead: the smallest ||g|| over
the Filippov (Clarke) gradients, relu'(0) ranging over [0, 1] on the points on
knots, and, for univariate networks of Ainsworth & Shin 2021's model (2.2)
(``ReLU1D`` with w = 1), the residual of their Lemma 3.4 (equations (3.4)), which is
a 1-d statement; in d > 1 only the Filippov residual is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import _validate as v
from ._problem import Problem
from .models import Network, ReLU1D, TwoLayer

__all__ = ["refine", "RefineResult"]

_EPS = np.finfo(np.float64).eps


@dataclass
class RefineResult:
    """The critical point :func:`refine` reached and its classification.

    Attributes
    ----------
    net : Network
        The refined network.
    loss : float
        Its loss, in the problem's convention ("sum", "mean" or "population").
    grad_norm : float
        ||grad L|| over the trainable parameters (the Filippov residual for a
        nonsmooth point).
    grad_scale : float
        (E[f^2] + E[f*^2]) / (2 ||theta||) (for data: scale x sum(f^2 + y^2) / (2
        ||theta||)), the reference of ``rel_grad_norm = grad_norm / grad_scale``.
    rel_grad_norm : float
    converged : bool
        ``rel_grad_norm <= gtol``.
    status : str
        "converged", "stalled" (no step decreased ||grad L||: its rounding level),
        "max_iter", or "nonsmooth" (finite-data relu with points on knots).
    message : str
    kind : str
        "minimum", "saddle", "degenerate" or "nonsmooth".
    index : int or None
        Number of negative Hessian eigenvalues (0 for a minimum).
    eigenvalues : ndarray or None
        Hessian spectrum over the trainable parameters, ascending.
    transverse_eigenvalues : ndarray or None
        The spectrum with the symmetry directions removed (what ``kind`` counts).
    n_negative, n_zero, n_positive : int or None
        Counts in ``transverse_eigenvalues``; zero means |lambda| <= zero_tol x
        max |lambda|.
    n_symmetry : int
        Symmetry directions removed (relu rescaling, one per live neuron).
    symmetry_residual : float
        ||H S|| / ||H|| for the orthonormal symmetry directions S (0 at a critical
        point, up to rounding).
    zero_tol : float
    iterations : int
    history : ndarray
        rel_grad_norm before each iteration and at the end.
    distance : float
        ||theta_end - theta_start|| over the trainable parameters.
    stationarity : dict or None
        Finite-data relu networks: "filippov" (absolute; ||grad L|| when no point
        is on a knot), "filippov_rel", "contacts" (number of (neuron, point) pairs
        on knots) and, for ReLU1D with w = 1, "lemma34_rms" and "lemma34_max"
        (Ainsworth & Shin 2021, (3.4)).  None otherwise.
    """

    net: Network
    loss: float
    grad_norm: float
    grad_scale: float
    rel_grad_norm: float
    converged: bool
    status: str
    message: str
    kind: str
    index: int | None
    eigenvalues: np.ndarray | None
    transverse_eigenvalues: np.ndarray | None
    n_negative: int | None
    n_zero: int | None
    n_positive: int | None
    n_symmetry: int
    symmetry_residual: float
    zero_tol: float
    iterations: int
    history: np.ndarray = field(default_factory=lambda: np.zeros(0))
    distance: float = 0.0
    stationarity: dict | None = None

    def __repr__(self) -> str:
        what = self.kind if self.kind != "saddle" else f"saddle of index {self.index}"
        return (f"RefineResult({what}, loss={self.loss:.6g}, |grad|/scale="
                f"{self.rel_grad_norm:.3g}, status={self.status!r}, "
                f"iterations={self.iterations})")


def _problem(net_or_solution, data, loss, trainable, integrals, nodes):
    from ._flow.solution import Solution
    from .population.problem import PopulationProblem
    if isinstance(net_or_solution, Solution):
        if data is not None:
            raise ValueError("a Solution carries its own data (or teacher): call "
                             "refine(sol), or refine(sol.net, data) for other data.")
        sol = net_or_solution
        return sol.net, _rebind(sol)
    if not isinstance(net_or_solution, Network):
        raise TypeError("`net_or_solution` must be a flowlab network or a Solution, got "
                        f"{type(net_or_solution).__name__}.")
    net = net_or_solution
    if isinstance(data, TwoLayer):
        prob = PopulationProblem(net, data, trainable=trainable, integrals=integrals,
                                 nodes=nodes)
        return net, prob
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return net, Problem(net, data[0], data[1], loss=loss, trainable=trainable)
    raise TypeError("`data` must be a teacher network (TwoLayer with bias=False: the "
                    "population loss) or a pair (x, y) of training data, got "
                    f"{type(data).__name__}.")


def _rebind(sol):
    """The problem of ``sol`` started from its final network (same data, groups)."""
    from .population.problem import PopulationProblem
    if sol.teacher is not None:
        return PopulationProblem(sol.net, sol.teacher, trainable=sol.trainable,
                                 **sol.info.get("population", {}))
    return Problem(sol.net, sol.x, sol.y, loss=sol.loss_kind, trainable=sol.trainable)


def _grad_scale(prob, u) -> float:
    """(E[f^2] + E[f*^2]) / (2 ||theta||), or scale sum(f^2 + y^2) / (2 ||theta||)."""
    theta = prob.theta(u)
    if hasattr(prob, "energy_scale"):
        energy = prob.energy_scale(theta)
    else:
        f = prob.residual(u) + prob.y
        energy = 0.5 * prob.scale * float(f @ f + prob.y @ prob.y)
    return energy / max(float(np.linalg.norm(theta)), 1e-300)


def _is_relu_data(prob) -> bool:
    t = prob.template
    return isinstance(prob, Problem) and (isinstance(t, ReLU1D) or
                                          (isinstance(t, TwoLayer) and t.activation == "relu"))


def _contacts(prob, u, rel: float = 1e-10):
    """Pre-activations Z (n, m), the on-knot mask and the strictly active mask."""
    prob.set(u)
    Z = prob.W @ prob.XT
    size = np.abs(prob.W) @ np.abs(prob.XT)
    on = np.abs(Z) <= rel * size
    return Z, on, (Z > 0) & ~on


def _filippov(prob, u, Z, on, active):
    """min ||g|| over relu'(0) in [0, 1] on the points on knots (bounded least squares)."""
    from scipy.optimize import lsq_linear
    a = prob.a
    H = np.where(on, 0.0, np.maximum(Z, 0.0))
    r = a @ H - prob.y
    gk = np.zeros(prob._tk.size)
    gW = gk[: prob.W.size].reshape(prob.W.shape)
    gW[:] = prob.scale * a[:, None] * ((active * r[None, :]) @ prob.XT.T)
    gk[prob.W.size:] = prob.scale * (H @ r)
    pairs = np.argwhere(on)
    B = np.zeros((prob._tk.size, len(pairs)))
    d1 = prob.W.shape[1]
    for c, (j, i) in enumerate(pairs):
        B[j * d1:(j + 1) * d1, c] = prob.scale * a[j] * r[i] * prob.XT[:, i]
    g0 = prob.ksign * gk[prob.kidx]
    Bu = prob.ksign[:, None] * B[prob.kidx]
    if len(pairs) and np.any(Bu):
        lam = lsq_linear(Bu, -g0, bounds=(0.0, 1.0), method="bvls").x
    else:
        lam = np.zeros(len(pairs))
    return float(np.linalg.norm(g0 + Bu @ lam)), len(pairs)


def _symmetry(prob, u) -> np.ndarray:
    """Orthonormal columns spanning relu's rescaling directions (trainable coordinates)."""
    net = prob.net(u)
    theta = prob.theta(u)
    groups = net.groups()
    trained = set(prob.trainable)
    cols = []
    if isinstance(net, TwoLayer) and net.activation == "relu" and {"W", "a"} <= trained:
        D = net.W.shape[1]
        for j in range(net.width):
            t = np.zeros(theta.size)
            t[groups["W"].start + j * D: groups["W"].start + (j + 1) * D] = net.W[j]
            t[groups["a"].start + j] = -net.a[j]
            cols.append(t)
    elif isinstance(net, ReLU1D) and net.w is not None and {"b", "c", "w"} <= trained:
        for j in range(net.width):
            t = np.zeros(theta.size)
            t[groups["b"].start + j] = net.b[j]
            t[groups["w"].start + j] = net.w[j]
            t[groups["c"].start + j] = -net.c[j]
            cols.append(t)
    if not cols:
        return np.zeros((u.size, 0))
    S = np.array(cols).T[prob.user_index]
    S = S[:, np.linalg.norm(S, axis=0) > 0]
    if S.shape[1] == 0:
        return S
    Qs, Rs, _ = _qr_pivot(S)
    keep = np.abs(np.diag(Rs)) > 1e-12 * np.abs(Rs[0, 0])
    return Qs[:, keep]


def _qr_pivot(S):
    from scipy.linalg import qr
    return qr(S, mode="economic", pivoting=True)


def _classify(H, S, zero_tol):
    lam = np.linalg.eigvalsh(0.5 * (H + H.T))
    top = max(float(np.max(np.abs(lam))) if lam.size else 0.0, 1e-300)
    if S.shape[1]:
        from scipy.linalg import null_space
        Qc = null_space(S.T)
        lt = np.linalg.eigvalsh(Qc.T @ (0.5 * (H + H.T)) @ Qc)
        sym_res = float(np.linalg.norm(H @ S) / max(np.linalg.norm(H), 1e-300))
    else:
        lt, sym_res = lam, 0.0
    tol = zero_tol * top
    neg = int(np.sum(lt < -tol))
    zero = int(np.sum(np.abs(lt) <= tol))
    pos = int(lt.size - neg - zero)
    kind = "saddle" if neg else ("degenerate" if zero else "minimum")
    return lam, lt, neg, zero, pos, kind, sym_res


def _lm_step(lam, V, g, radius):
    """Trust-region step for 1/2 ||g + H p||^2: (p, mu)."""
    gt = V.T @ g
    top = float(np.max(np.abs(lam))) if lam.size else 0.0
    big = np.abs(lam) > 1e-12 * top
    coef = np.zeros_like(lam)
    coef[big] = gt[big] / lam[big]
    p = -V @ coef
    if np.linalg.norm(p) <= radius:
        return p, 0.0

    def step(mu):
        return -V @ (lam * gt / (lam * lam + mu))

    lo, hi = 0.0, max(top * top, 1e-300)
    while np.linalg.norm(step(hi)) > radius:
        hi *= 4.0
    for _ in range(100):
        mid = 0.5 * (lo + hi) if lo == 0.0 else np.sqrt(lo * hi)
        if lo == 0.0 and mid < 1e-30 * hi:
            mid = 1e-30 * hi
        if np.linalg.norm(step(mid)) > radius:
            lo = mid
        else:
            hi = mid
        if lo > 0 and hi / lo < 1 + 1e-6:
            break
    return step(hi), hi


def refine(net_or_solution, data=None, *, loss: str = "sum", trainable=None,
           gtol: float = 1e-12, max_iter: int = 100, zero_tol: float = 1e-8,
           integrals: str | None = None, nodes: int | None = None) -> RefineResult:
    """Newton trust-region from ``net_or_solution`` to the nearby critical point, classified.

    Parameters
    ----------
    net_or_solution : Network or Solution
        Start: a network, or a solution (its final network, with its own data or
        teacher, loss convention and trainable groups).
    data : TwoLayer or (x, y), optional
        With a network: a teacher (``TwoLayer(..., bias=False)``: the population
        loss of :mod:`flowlab.population`) or training data (x, y).
    loss : {"sum", "mean"}
        Loss convention for training data.
    trainable : str or sequence of str, optional
        Groups that move (e.g. ``"W"`` for a soft committee machine).
    gtol : float
        Stop when ||grad L|| <= gtol x (E[f^2] + E[f*^2]) / (2 ||theta||) (see the
        module docstring).
    max_iter : int
        Newton iterations at most.
    zero_tol : float
        Eigenvalues with |lambda| <= zero_tol x max |lambda| count as zero.
    integrals, nodes
        Population losses: as for :func:`flowlab.population.loss`.

    Returns
    -------
    RefineResult

    Examples
    --------
    >>> import numpy as np, flowlab as fl
    >>> teacher = fl.TwoLayer(np.eye(2), [1.0, 1.0], "erf", bias=False)
    >>> start = fl.TwoLayer([[1.01, 0.02], [-0.01, 0.98]], [1.0, 1.0], "erf", bias=False)
    >>> res = fl.refine(start, teacher)
    >>> res.kind, res.converged, bool(res.loss < 1e-20)
    ('minimum', True, True)
    """
    gtol = v.check_real(gtol, "gtol", positive=True)
    max_iter = v.check_int(max_iter, "max_iter", minimum=0)
    zero_tol = v.check_real(zero_tol, "zero_tol", positive=True)
    _, prob = _problem(net_or_solution, data, loss, trainable, integrals, nodes)
    u0 = prob.u0.copy()
    u = u0.copy()
    if _is_relu_data(prob):
        Z, on, active = _contacts(prob, u)
        if on.any():
            return _nonsmooth(prob, u, u0, Z, on, active, zero_tol, 0, [])
    g = prob.grad(u)
    gn = float(np.linalg.norm(g))
    status, message = "max_iter", f"stopped after max_iter = {max_iter} Newton iterations"
    radius = None
    hist = []
    it = 0
    rejected = 0
    H = None
    cap = 0.5 * max(float(np.linalg.norm(u0)), 1.0)     # the longest Newton step tried
    while True:
        scale = _grad_scale(prob, u)
        hist.append(gn / scale)
        if gn <= gtol * scale:
            status = "converged"
            message = f"||grad L|| = {gn:.3g} <= gtol x scale = {gtol * scale:.3g}"
            break
        if it >= max_iter:
            break
        if H is None:
            H = prob.hess(u)
        lam, V = np.linalg.eigh(0.5 * (H + H.T))
        pN = _lm_step(lam, V, g, np.inf)[0]
        nN = float(np.linalg.norm(pN))
        if radius is None:
            radius = max(nN, 1e-300)
        it += 1
        # the full (pseudo-inverse) Newton step first: near degenerate critical points
        # it keeps the balance of the quartic valley that a shortened step breaks
        if nN <= max(radius, cap):
            g_new = prob.grad(u + pN)
            gn_new = float(np.linalg.norm(g_new))
            if gn_new < gn:
                u, g, gn, H = u + pN, g_new, gn_new, None
                radius = max(radius, 2.0 * nN)
                rejected = 0
                continue
            radius = min(radius, 0.5 * nN)
        p, _ = _lm_step(lam, V, g, radius)
        pn = float(np.linalg.norm(p))
        u_new = u + p
        g_new = prob.grad(u_new)
        gn_new = float(np.linalg.norm(g_new))
        if gn_new < gn:
            u, g, gn, H = u_new, g_new, gn_new, None
            radius = max(radius, 2.0 * pn)
            rejected = 0
        else:
            rejected += 1
            radius = 0.25 * pn
            if radius <= 4 * _EPS * max(float(np.linalg.norm(u)), 1e-300) or rejected >= 12:
                status = "stalled"
                message = (f"no step decreases ||grad L|| below {gn:.3g} = {gn / scale:.3g} x "
                           "its scale: the rounding level of the gradient was reached "
                           f"before gtol = {gtol:g}")
                break
    if _is_relu_data(prob):
        Z, on, active = _contacts(prob, u)
        if on.any():
            return _nonsmooth(prob, u, u0, Z, on, active, zero_tol, it, hist)
    H = prob.hess(u)
    S = _symmetry(prob, u)
    lam, lt, neg, zero, pos, kind, sym_res = _classify(H, S, zero_tol)
    scale = _grad_scale(prob, u)
    station = _stationarity(prob, u, *_contacts(prob, u)) if _is_relu_data(prob) else None
    return RefineResult(net=prob.net(u), loss=float(prob.loss(u)), grad_norm=gn,
                        grad_scale=scale, rel_grad_norm=gn / scale,
                        converged=status == "converged", status=status, message=message,
                        kind=kind, index=neg, eigenvalues=lam, transverse_eigenvalues=lt,
                        n_negative=neg, n_zero=zero, n_positive=pos, n_symmetry=S.shape[1],
                        symmetry_residual=sym_res, zero_tol=zero_tol, iterations=it,
                        history=np.asarray(hist), distance=float(np.linalg.norm(u - u0)),
                        stationarity=station)


def _stationarity(prob, u, Z, on, active) -> dict:
    """Filippov residual (and Lemma 3.4's for ReLU1D with w = 1) of a finite-data relu
    network; with no point on a knot the Filippov residual is ||grad L||."""
    res, count = _filippov(prob, u, Z, on, active)
    scale = _grad_scale(prob, u)
    info = {"filippov": res, "filippov_rel": res / scale, "contacts": int(count)}
    net = prob.net(u)
    if isinstance(net, ReLU1D) and net.w is None:
        from .analysis.plateau import stationarity_residual
        r34 = stationarity_residual(net, prob.XT[0], prob.y)
        info["lemma34_rms"] = float(np.sqrt(np.mean(r34 ** 2))) if r34.size else 0.0
        info["lemma34_max"] = float(np.max(np.abs(r34))) if r34.size else 0.0
    return info


def _nonsmooth(prob, u, u0, Z, on, active, zero_tol, it, hist) -> RefineResult:
    info = _stationarity(prob, u, Z, on, active)
    res, count = info["filippov"], info["contacts"]
    scale = _grad_scale(prob, u)
    net = prob.net(u)
    conv = res <= 1e-12 * scale
    message = (f"{count} (neuron, data point) pairs lie on knots: the loss is not "
               "differentiable there and has no Hessian; Filippov stationarity residual "
               f"min ||g|| = {res:.3g} ({res / scale:.3g} of the gradient scale)")
    return RefineResult(net=net, loss=float(prob.loss(u)), grad_norm=res, grad_scale=scale,
                        rel_grad_norm=res / scale, converged=bool(conv), status="nonsmooth",
                        message=message, kind="nonsmooth", index=None, eigenvalues=None,
                        transverse_eigenvalues=None, n_negative=None, n_zero=None,
                        n_positive=None, n_symmetry=0, symmetry_residual=0.0,
                        zero_tol=zero_tol, iterations=it,
                        history=np.asarray(hist + [res / scale]),
                        distance=float(np.linalg.norm(u - u0)), stationarity=info)
