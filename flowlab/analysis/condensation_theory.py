"""Direction field of a test neuron and the leading-order theory of condensation.

Zhou et al. 2022, Sec. 4.4 (and Xu et al. 2021, (6)): with the
residuals e_i = f(x_i) - y_i frozen, a neuron with feature omega = (w̄, b) and
output weight a = 1 moves with

    d omega / dt = -(1/m) sum_i e_i x̃_i sigma'(omega . x̃_i),   x̃_i = (x_i, 1),   (F)

(m data points, the "mean" loss convention of Zhou et al. 2022 and Xu et al. 2021; a neuron with
output weight a_j moves with a_j times this field).  A line through the origin
on which omega keeps its direction (omega' parallel to omega) is what the papers
call a stable line; the features condense on such lines.

Leading order (Zhou et al. 2022, Sec. 5, Proposition 1).  For an activation of
multiplicity p (Definition 1), sigma'(z) = c z^(p-1) + o(z^(p-1)) with
c = sigma^(p)(0) / (p-1)! = p * taylor, so for small omega

    d omega / dt ~ -(c/m) sum_i e_i x̃_i (omega . x̃_i)^(p-1).

- p = 1, any d: the field is the constant -(c/m) sum_i e_i x̃_i, whose only
  invariant line is spanned by  v = sum_i e_i x̃_i  (Zhou et al. 2022, Case 1).
- d = 1, any p (derived here from the field above; it agrees with Zhou et al.'s (2022)
  proof, Case 2, whose formula the text extraction garbles): with
  omega = (w, b), omega' is parallel to omega iff the 2x2 determinant
  w * db/dt - b * dw/dt vanishes, i.e.

      G(w, b) = sum_i e_i (w x_i + b)^(p-1) (w - b x_i) = 0,

  a binary form of degree p.  With s = b/w it is the degree-p polynomial
  sum_i e_i (x_i + s)^(p-1) (1 - x_i s) = 0, and w = 0 is a root exactly when
  its leading coefficient -sum_i e_i x_i vanishes.  Each real root is a line,
  so there are at most p lines (2p orientations), fewer when roots are complex.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validate as v
from ..activations import get_activation
from .condensation import canonical_lines

__all__ = ["neuron_velocity", "DirectionField", "direction_field", "FieldLines",
           "field_lines", "LinePrediction", "predicted_lines"]


def _data(x, e):
    """x̃ (m, d+1) with a last column of ones, and e (m,)."""
    x = v.as_array(x, "x")
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"`x` must have shape (m,) or (m, d), got {x.shape}.")
    e = v.as_array(e, "e", ndim=1)
    if e.size != x.shape[0]:
        raise ValueError(f"`e` must hold one residual f(x_i) - y_i per point: x has "
                         f"{x.shape[0]} points, e has {e.size}.")
    return np.hstack([x, np.ones((x.shape[0], 1))]), e


def _smooth(activation):
    act = get_activation(activation)
    if act.p is None:
        raise ValueError(f"activation {act.name!r} has no multiplicity (Definition 1 of "
                         "Zhou et al. 2022 needs derivatives at 0); the leading-order theory "
                         "covers smooth "
                         "activations such as tanh, xtanh, x2tanh, sigmoid, softplus.")
    return act


def neuron_velocity(omega, x, e, activation) -> np.ndarray:
    """The field (F): d omega/dt = -(1/m) sum_i e_i x̃_i sigma'(omega . x̃_i), with a = 1.

    Parameters
    ----------
    omega : array_like, shape (k, d+1) or (d+1,)
        Test features (w̄, b).
    x : array_like, shape (m, d) or (m,)
        Data inputs.
    e : array_like, shape (m,)
        Residuals f(x_i) - y_i.
    activation : str

    Returns
    -------
    ndarray, shape like ``omega``
    """
    X, e = _data(x, e)
    om = v.as_array(omega, "omega")
    single = om.ndim == 1
    om = np.atleast_2d(om)
    if om.shape[1] != X.shape[1]:
        raise ValueError(f"`omega` must have {X.shape[1]} entries per row (d+1, bias last), "
                         f"got {om.shape[1]}.")
    d1 = get_activation(activation).derivative(om @ X.T)
    vel = -(d1 * e[None, :]) @ X / X.shape[0]
    return vel[0] if single else vel


@dataclass
class DirectionField:
    """The field (F) of a 1-d test neuron on a grid of the (w, b) plane.

    Attributes
    ----------
    w, b : ndarray, shapes (nx,), (ny,)
        Grid coordinates (input weight, bias).
    U, V : ndarray, shape (ny, nx)
        dw/dt and db/dt at (w[j], b[i]).
    """

    w: np.ndarray
    b: np.ndarray
    U: np.ndarray
    V: np.ndarray

    def plot(self, ax, features=None, velocities=None, lines=None, title=None):
        """Arrows of the field's direction (Zhou et al. 2022, Fig. 6), neurons as green dots with
        orange arrows of their own velocity, and ``lines`` (k, 2) as dashed red lines."""
        Wg, Bg = np.meshgrid(self.w, self.b)
        norm = np.hypot(self.U, self.V)
        norm[norm == 0] = 1.0
        ax.quiver(Wg, Bg, self.U / norm, self.V / norm, color="0.55", angles="xy",
                  pivot="mid", width=0.004)
        lim = max(abs(self.w).max(), abs(self.b).max())
        if lines is not None:
            for u in np.atleast_2d(lines):
                ax.plot([-2 * lim * u[0], 2 * lim * u[0]], [-2 * lim * u[1], 2 * lim * u[1]],
                        "r--", lw=1)
        if features is not None:
            F = np.atleast_2d(features)
            ax.plot(F[:, 0], F[:, 1], "o", color="tab:green", ms=3)
            if velocities is not None:
                Vn = np.atleast_2d(velocities)
                s = np.hypot(Vn[:, 0], Vn[:, 1])
                s[s == 0] = 1.0
                ax.quiver(F[:, 0], F[:, 1], Vn[:, 0] / s, Vn[:, 1] / s, color="tab:orange",
                          angles="xy", width=0.004, scale=25)
        ax.set_xlim(self.w.min(), self.w.max())
        ax.set_ylim(self.b.min(), self.b.max())
        ax.set_xlabel("w")
        ax.set_ylabel("b")
        if title:
            ax.set_title(title)


def direction_field(x, e, activation, *, extent: float, points: int = 21) -> DirectionField:
    """The field (F) of a test neuron on the square [-extent, extent]^2 of the (w, b) plane.

    Parameters
    ----------
    x : array_like, shape (m,)
        1-d data inputs.
    e : array_like, shape (m,)
        Residuals f(x_i) - y_i (Zhou et al. 2022, Sec. 4.4).
    activation : str
    extent : float
        Half-width of the square.
    points : int
        Grid points per axis.
    """
    X, e = _data(x, e)
    if X.shape[1] != 2:
        raise ValueError("`x` must be 1-dimensional data for a field on the (w, b) plane.")
    extent = v.check_real(extent, "extent", positive=True)
    points = v.check_int(points, "points", minimum=2)
    g = np.linspace(-extent, extent, points)
    Wg, Bg = np.meshgrid(g, g)
    vel = neuron_velocity(np.column_stack([Wg.ravel(), Bg.ravel()]), X[:, 0], e,
                               activation)
    return DirectionField(w=g, b=g.copy(), U=vel[:, 0].reshape(Wg.shape),
                          V=vel[:, 1].reshape(Wg.shape))


@dataclass
class FieldLines:
    """Invariant lines of the field (F) for d = 1, located numerically.

    Attributes
    ----------
    angles : ndarray, shape (k,)
        Angle of each line in the (w, b) plane, degrees in [0, 180), measured
        from the w axis.
    lines : ndarray, shape (k, 2)
        Unit vectors (w, b) of the lines (largest |entry| positive).
    attracts_positive_a, attracts_negative_a : ndarray of bool, shape (k,)
        Whether nearby directions turn toward the line for a neuron with a > 0
        (the field itself) or a < 0 (the reversed field), at either end.
    radius : float
        Radius of the circle on which the angular velocity was sampled.
    """

    angles: np.ndarray
    lines: np.ndarray
    attracts_positive_a: np.ndarray
    attracts_negative_a: np.ndarray
    radius: float

    @property
    def n_lines(self) -> int:
        return int(self.angles.size)


def _angular_velocity(phi, x, e, activation, radius):
    u = np.column_stack([np.cos(phi), np.sin(phi)])
    vel = neuron_velocity(radius * u, x, e, activation)
    return (-u[:, 1] * vel[:, 0] + u[:, 0] * vel[:, 1]) / radius


def field_lines(x, e, activation, *, radius: float = 0.01, samples: int = 2880,
                pair_tol: float = 2.0) -> FieldLines:
    """Lines on which a 1-d test neuron keeps its direction, from the exact field (F).

    The angular velocity h(phi) = u_perp(phi) . omega'(r u(phi)) / r of the
    field on the circle of radius ``radius`` is sampled at ``samples`` angles;
    every sign change is refined by Brent's method.  Zeros at phi and phi + pi
    (mod ``pair_tol`` degrees) form one line.  Near the origin the field is its
    leading order plus O(radius^2) relative terms, so a small radius gives the
    lines of Zhou et al. 2022, Fig. 6 "around the original point".

    Parameters
    ----------
    x, e : array_like, shape (m,)
        1-d inputs and residuals f(x_i) - y_i.
    activation : str
    radius : float
        Radius of the sampling circle in the (w, b) plane.
    samples : int
        Number of angles in [0, 2 pi).
    pair_tol : float
        Tolerance in degrees for merging zeros into one line.

    Returns
    -------
    FieldLines
    """
    X, e = _data(x, e)
    if X.shape[1] != 2:
        raise ValueError("`x` must be 1-dimensional data (the field lives on the (w, b) plane).")
    xs = X[:, 0]
    get_activation(activation)
    radius = v.check_real(radius, "radius", positive=True)
    samples = v.check_int(samples, "samples", minimum=16)
    pair_tol = v.check_real(pair_tol, "pair_tol", positive=True)
    from scipy.optimize import brentq
    phi = np.linspace(0.0, 2 * np.pi, samples + 1)
    h = _angular_velocity(phi, xs, e, activation, radius)
    scale = np.abs(h).max()
    zeros = []
    if scale > 0:
        f = lambda p: _angular_velocity(np.array([p]), xs, e, activation, radius)[0]  # noqa
        for k in range(samples):
            if h[k] == 0.0:
                zeros.append(phi[k])
            elif h[k] * h[k + 1] < 0:
                zeros.append(brentq(f, phi[k], phi[k + 1], xtol=1e-14))
    zeros = np.asarray(zeros)
    theta = np.degrees(zeros) % 180.0
    groups = _circular_groups(theta, pair_tol, period=180.0)
    angles, att_pos, att_neg = [], [], []
    dphi = 1e-6
    for g in groups:
        ang = _circular_mean(theta[g], 180.0)
        slopes = [(_angular_velocity(np.array([z + dphi]), xs, e, activation, radius)[0]
                   - _angular_velocity(np.array([z - dphi]), xs, e, activation, radius)[0])
                  for z in zeros[g]]
        angles.append(ang)
        att_pos.append(any(s < 0 for s in slopes))
        att_neg.append(any(s > 0 for s in slopes))
    angles = np.asarray(angles)
    order = np.argsort(angles)
    angles = angles[order]
    rad = np.radians(angles)
    lines = (canonical_lines(np.column_stack([np.cos(rad), np.sin(rad)])) if angles.size
             else np.zeros((0, 2)))
    return FieldLines(angles=angles, lines=lines,
                      attracts_positive_a=np.asarray(att_pos, dtype=bool)[order],
                      attracts_negative_a=np.asarray(att_neg, dtype=bool)[order],
                      radius=radius)


def _circular_groups(theta, tol, period):
    """Group angles (sorted on a circle of ``period``) whose neighbours are within ``tol``."""
    if theta.size == 0:
        return []
    order = np.argsort(theta)
    ts = theta[order]
    gaps = np.diff(np.concatenate([ts, [ts[0] + period]]))
    cuts = np.flatnonzero(gaps > tol)
    if cuts.size == 0:
        return [order]
    start = cuts[-1] + 1           # rotate so that a group never wraps past the cut
    rolled = np.roll(order, -start)
    gaps = np.roll(gaps, -start)
    groups, cur = [], [rolled[0]]
    for k in range(1, rolled.size):
        if gaps[k - 1] > tol:
            groups.append(np.asarray(cur))
            cur = []
        cur.append(rolled[k])
    groups.append(np.asarray(cur))
    return groups


def _circular_mean(theta, period):
    ang = 2 * np.pi * np.asarray(theta) / period
    return float((np.degrees(np.arctan2(np.sin(ang).mean(), np.cos(ang).mean()))
                  * period / 360.0) % period)


@dataclass
class LinePrediction:
    """Lines predicted by the leading-order theory (Zhou et al. 2022, Proposition 1).

    Attributes
    ----------
    lines : ndarray, shape (k, d+1)
        Unit vectors (w̄, b) of the predicted lines (largest |entry| positive).
    p : int
        Multiplicity of the activation.
    case : str
        "p=1" (any d) or "d=1" (any p).
    n_complex_pairs : int
        Number of complex-conjugate root pairs of the degree-p equation (d = 1);
        each one is a line the theory does not produce (k = p - 2 n_complex_pairs).
    polynomial : ndarray
        d = 1: coefficients of sum_i e_i (x_i + s)^(p-1) (1 - x_i s) in
        increasing powers of s = b/w; p = 1: the vector sum_i e_i x̃_i.
    angles : ndarray, shape (k,) or None
        d = 1: angles of the lines in degrees in [0, 180) from the w axis.
    """

    lines: np.ndarray
    p: int
    case: str
    n_complex_pairs: int
    polynomial: np.ndarray
    angles: np.ndarray | None = None

    @property
    def n_lines(self) -> int:
        return int(self.lines.shape[0])


def predicted_lines(x, e, activation, *, imag_tol: float = 1e-7) -> LinePrediction:
    """Leading-order invariant lines of the field (F) (Zhou et al. 2022, Sec. 5, Proposition 1).

    - multiplicity p = 1, any d: the line of v = sum_i e_i x̃_i (Case 1);
    - d = 1, any p: the real roots of the degree-p binary form
      G(w, b) = sum_i e_i (w x_i + b)^(p-1) (w - b x_i) (Case 2; derivation in
      the module docstring).

    Parameters
    ----------
    x : array_like, shape (m, d) or (m,)
    e : array_like, shape (m,)
        Residuals f(x_i) - y_i at the moment of interest.
    activation : str
        A smooth activation with a multiplicity (not relu).
    imag_tol : float
        A root s counts as real when |Im s| <= imag_tol (1 + |s|).

    Returns
    -------
    LinePrediction

    Raises
    ------
    ValueError
        For p > 1 with d > 1 (the theory gives no closed form there) and for relu.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([-1.0, 1.0]); e = np.array([1.0, 2.0])
    >>> pred = predicted_lines(x, e, "xtanh")    # p = 2: eigenvectors of sum e_i x̃_i x̃_i^T
    >>> pred.n_lines, pred.angles.round(6).tolist()
    (2, [45.0, 135.0])
    """
    act = _smooth(activation)
    X, e = _data(x, e)
    p = int(act.p)
    if p == 1:
        vec = X.T @ e
        if not np.any(vec):
            lines = np.zeros((0, X.shape[1]))
        else:
            lines = canonical_lines(vec[None, :])
        angles = _angles(lines) if X.shape[1] == 2 else None
        return LinePrediction(lines, 1, "p=1", 0, vec, angles)
    if X.shape[1] != 2:
        raise ValueError(f"the leading-order lines are known for p = 1 (any d) or d = 1 (any p) "
                         f"(Zhou et al. 2022, Proposition 1); {act.name!r} has p = {p} and the "
                         f"data "
                         f"has d = {X.shape[1] - 1}.")
    P = np.polynomial.polynomial
    coef = np.zeros(p + 1)
    for xi, ei in zip(X[:, 0], e):
        term = P.polymul(P.polypow([xi, 1.0], p - 1), [1.0, -xi])
        coef[: term.size] += ei * term
    big = np.abs(coef).max()
    lines = []
    n_roots = 0
    if big > 0:
        trimmed = coef.copy()
        deg = p
        while deg > 0 and abs(trimmed[deg]) <= 1e-12 * big:
            deg -= 1
        if deg < p:
            lines.append([0.0, 1.0])      # s = infinity: the b axis (w = 0)
            n_roots += 1
        roots = np.roots(trimmed[: deg + 1][::-1]) if deg > 0 else np.zeros(0)
        real = roots[np.abs(roots.imag) <= imag_tol * (1 + np.abs(roots))].real
        for s in real:
            lines.append([1.0, s])
        n_roots += deg
        n_real = len(lines)
    else:
        n_real = 0
    lines = canonical_lines(np.asarray(lines)) if lines else np.zeros((0, 2))
    angles = _angles(lines)
    order = np.argsort(angles)
    return LinePrediction(lines[order], p, "d=1", (n_roots - n_real) // 2 if big > 0 else 0,
                          coef, angles[order])


def _angles(lines):
    if lines.shape[0] == 0:
        return np.zeros(0)
    return np.degrees(np.arctan2(lines[:, 1], lines[:, 0])) % 180.0
