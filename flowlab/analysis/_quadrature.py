"""Quadrature rules on intervals and boxes, for mass (Gram) matrices of neurons.

Yang, Zhao & Zhu 2024 (Sec. 4, eq. (11)) approximates the mass
matrix M_ij = int_Omega phi_i phi_j dx by sum_k w_k phi_i(x_k) phi_j(x_k) with
"Gaussian integral points or uniform mesh for d = 1, 2" and Monte Carlo in high
dimension.  This module builds such rules as :class:`Quadrature` objects:

- :func:`gauss_legendre`: tensor Gauss-Legendre, optionally composite on equal cells;
- :func:`composite_gauss_legendre`: Gauss-Legendre on the cells between given
  break points of an interval (exact for piecewise polynomials with those breaks,
  e.g. products of 1-d ReLU neurons split at their knots);
- :func:`trapezoid`: the trapezoidal rule of Yang, Zhao & Zhu 2024 (w_0 = w_m = 1/2, w_i = 1,
  times the spacing);
- :func:`uniform_grid`: the midpoint rule (equal weights on a uniform mesh);
- :func:`monte_carlo`: i.i.d. uniform points with weights volume/m.

Domains: an interval is ``(lo, hi)`` and gives points of shape (m,); a box is a
sequence of intervals ``[(lo_1, hi_1), ..., (lo_d, hi_d)]`` and gives points of
shape (m, d) (also for d = 1).  Weights always have shape (m,) and sum to the
volume of the domain.

Examples
--------
>>> from flowlab.analysis._quadrature import gauss_legendre
>>> q = gauss_legendre(8, (0.0, 2.0))
>>> round(q.integrate(q.points ** 3), 12)
4.0
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validate as v

__all__ = ["Quadrature", "gauss_legendre", "composite_gauss_legendre", "trapezoid",
           "uniform_grid", "monte_carlo", "quadrature", "RULES"]

#: Rule names accepted by :func:`quadrature`.
RULES = ("gauss", "trapezoid", "uniform", "monte_carlo")


@dataclass(frozen=True)
class Quadrature:
    """Points and weights of a quadrature rule.

    Attributes
    ----------
    points : ndarray, shape (m,) on an interval or (m, d) on a box
    weights : ndarray, shape (m,)
        Sum to the volume of ``domain``.
    rule : str
        How the rule was built (``"gauss"``, ``"trapezoid"``, ...).
    domain : tuple of (lo, hi) pairs, one per dimension
    """

    points: np.ndarray
    weights: np.ndarray
    rule: str
    domain: tuple

    @property
    def size(self) -> int:
        """Number of points m."""
        return self.weights.size

    @property
    def dim(self) -> int:
        """Dimension d of the domain."""
        return len(self.domain)

    @property
    def volume(self) -> float:
        """Volume (length, area) of the domain."""
        return float(np.prod([hi - lo for lo, hi in self.domain]))

    def integrate(self, values) -> np.ndarray | float:
        """sum_k w_k values[k]: values of shape (m,) or (m, ...) -> scalar or (...)."""
        vals = np.asarray(values)
        if vals.shape[:1] != (self.size,):
            raise ValueError(f"`values` must have the quadrature's {self.size} points along "
                             f"axis 0, got shape {vals.shape}.")
        out = np.tensordot(self.weights, vals, axes=(0, 0))
        return float(out) if np.ndim(out) == 0 else out


def _domain(domain) -> tuple[tuple[tuple[float, float], ...], bool]:
    """Normalise ``domain`` to a tuple of (lo, hi) pairs; also say whether it was an interval."""
    try:
        arr = np.asarray(domain, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError("`domain` must be (lo, hi) or a sequence of (lo, hi) pairs, got "
                        f"{domain!r}.") from None
    interval = arr.shape == (2,)
    if interval:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < 1:
        raise ValueError("`domain` must be an interval (lo, hi) or a box [(lo_1, hi_1), ..., "
                         f"(lo_d, hi_d)], got {domain!r}.")
    if not np.all(np.isfinite(arr)) or np.any(arr[:, 1] <= arr[:, 0]):
        raise ValueError(f"every (lo, hi) in `domain` must be finite with lo < hi, got {domain!r}.")
    return tuple((float(lo), float(hi)) for lo, hi in arr), interval


def _per_dim(value, name: str, d: int, minimum: int) -> list[int]:
    vals = [value] * d if np.ndim(value) == 0 else list(value)
    if len(vals) != d:
        raise ValueError(f"`{name}` must be an integer or one integer per dimension ({d}), "
                         f"got {value!r}.")
    return [v.check_int(x, name, minimum=minimum) for x in vals]


def _tensor(rules_1d, dom, interval: bool, rule: str) -> Quadrature:
    """Tensor product of 1-d (points, weights) pairs."""
    if interval:
        x, w = rules_1d[0]
        return Quadrature(x, w, rule, dom)
    grids = np.meshgrid(*[r[0] for r in rules_1d], indexing="ij")
    wgrids = np.meshgrid(*[r[1] for r in rules_1d], indexing="ij")
    pts = np.stack([g.ravel() for g in grids], axis=1)
    w = np.ones(pts.shape[0])
    for g in wgrids:
        w = w * g.ravel()
    return Quadrature(pts, w, rule, dom)


def _gl_cells(breaks: np.ndarray, nodes: int) -> tuple[np.ndarray, np.ndarray]:
    s, w = np.polynomial.legendre.leggauss(nodes)
    h = np.diff(breaks)
    mid = 0.5 * (breaks[:-1] + breaks[1:])
    x = (mid[:, None] + 0.5 * h[:, None] * s[None, :]).ravel()
    return x, (0.5 * h[:, None] * w[None, :]).ravel()


def gauss_legendre(nodes, domain=(-1.0, 1.0), *, cells=1) -> Quadrature:
    """(Composite) tensor Gauss-Legendre rule.

    Parameters
    ----------
    nodes : int or sequence of int
        Gauss points per cell and dimension (exact for polynomials of degree
        2 nodes - 1 in each variable on each cell).
    domain : (lo, hi) or sequence of (lo, hi)
    cells : int or sequence of int
        Equal cells per dimension (e.g. ``cells=3`` on a square aligns the rule
        with a 3 x 3 partition of unity).

    Returns
    -------
    Quadrature
        m = prod(nodes * cells) points.
    """
    dom, interval = _domain(domain)
    d = len(dom)
    q = _per_dim(nodes, "nodes", d, 1)
    c = _per_dim(cells, "cells", d, 1)
    rules = [_gl_cells(np.linspace(lo, hi, ci + 1), qi) for (lo, hi), qi, ci in zip(dom, q, c)]
    return _tensor(rules, dom, interval, "gauss")


def composite_gauss_legendre(breaks, nodes: int, domain=None) -> Quadrature:
    """Gauss-Legendre with ``nodes`` points on every cell between sorted ``breaks``.

    Parameters
    ----------
    breaks : array_like, shape (k,)
        Break points; they are sorted, de-duplicated and clipped to ``domain``,
        whose ends are added.
    nodes : int
        Points per cell (exact for piecewise polynomials of degree 2 nodes - 1
        whose pieces change only at ``breaks``).
    domain : (lo, hi), optional
        Default: (min(breaks), max(breaks)).

    Examples
    --------
    Exact for the product of two ReLU neurons with knots -0.2 and 0.3:

    >>> import numpy as np
    >>> q = composite_gauss_legendre([-0.2, 0.3], 2, domain=(-1, 1))
    >>> f = np.maximum(q.points + 0.2, 0) * np.maximum(q.points - 0.3, 0)
    >>> abs(q.integrate(f) - (0.7**3 / 3 + 0.5 * 0.7**2 / 2)) < 1e-15
    True
    """
    br = v.as_array(breaks, "breaks", ndim=1)
    nodes = v.check_int(nodes, "nodes", minimum=1)
    if domain is None:
        if br.size < 2 or br.max() <= br.min():
            raise ValueError("`breaks` must span an interval when no `domain` is given.")
        domain = (br.min(), br.max())
    dom, interval = _domain(domain)
    if not interval:
        raise ValueError("composite_gauss_legendre works on an interval (lo, hi); use "
                         "gauss_legendre(..., cells=...) on boxes.")
    lo, hi = dom[0]
    inner = br[(br > lo) & (br < hi)]
    edges = np.unique(np.concatenate([[lo, hi], inner]))
    x, w = _gl_cells(edges, nodes)
    return Quadrature(x, w, "gauss", dom)


def trapezoid(points, domain=(-1.0, 1.0)) -> Quadrature:
    """Trapezoidal rule on a uniform mesh with ``points`` nodes per dimension (ends included).

    Yang, Zhao & Zhu 2024, below (11): w_0 = w_m = 1/2, w_i = 1, times the mesh width.
    """
    dom, interval = _domain(domain)
    q = _per_dim(points, "points", len(dom), 2)
    rules = []
    for (lo, hi), k in zip(dom, q):
        x = np.linspace(lo, hi, k)
        w = np.full(k, (hi - lo) / (k - 1))
        w[0] *= 0.5
        w[-1] *= 0.5
        rules.append((x, w))
    return _tensor(rules, dom, interval, "trapezoid")


def uniform_grid(points, domain=(-1.0, 1.0)) -> Quadrature:
    """Midpoint rule: ``points`` equal cells per dimension, one point at each centre."""
    dom, interval = _domain(domain)
    q = _per_dim(points, "points", len(dom), 1)
    rules = []
    for (lo, hi), k in zip(dom, q):
        h = (hi - lo) / k
        rules.append((lo + h * (np.arange(k) + 0.5), np.full(k, h)))
    return _tensor(rules, dom, interval, "uniform")


def monte_carlo(size: int, domain=(-1.0, 1.0), *, seed=None) -> Quadrature:
    """``size`` i.i.d. uniform points in the domain, each with weight volume/size."""
    dom, interval = _domain(domain)
    size = v.check_int(size, "size", minimum=1)
    rng = v.rng_from(seed)
    lo = np.array([a for a, _ in dom])
    hi = np.array([b for _, b in dom])
    pts = lo + (hi - lo) * rng.random((size, len(dom)))
    vol = float(np.prod(hi - lo))
    return Quadrature(pts[:, 0] if interval else pts, np.full(size, vol / size),
                      "monte_carlo", dom)


def quadrature(rule: str, size, domain=(-1.0, 1.0), *, seed=None) -> Quadrature:
    """Build a rule by name: ``"gauss"``, ``"trapezoid"``, ``"uniform"`` or ``"monte_carlo"``.

    ``size`` is the number of points per dimension (total for Monte Carlo).
    """
    if rule == "gauss":
        return gauss_legendre(size, domain)
    if rule == "trapezoid":
        return trapezoid(size, domain)
    if rule == "uniform":
        return uniform_grid(size, domain)
    if rule == "monte_carlo":
        return monte_carlo(size, domain, seed=seed)
    raise ValueError(f"unknown quadrature `rule` {rule!r}; choose one of {', '.join(RULES)}.")
