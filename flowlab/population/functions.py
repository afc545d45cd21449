"""Public population-loss functions: loss, gradient, Hessian, order parameters, Monte Carlo."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validate as v
from ..models import TwoLayer
from .problem import PopulationProblem, check_nets

__all__ = ["loss", "gradient", "hessian", "order_parameters", "OrderParameters",
           "monte_carlo_loss", "MonteCarlo"]


def loss(net: TwoLayer, teacher: TwoLayer, *, integrals: str | None = None,
         nodes: int | None = None) -> float:
    """Population loss L = 1/2 E[(f(x) - f*(x))^2], x ~ N(0, I_d).

    Parameters
    ----------
    net, teacher : TwoLayer with ``bias=False``
        Student W (n, d) and teacher W (M, d), the same d.
    integrals : {"closed", "quadrature"}, optional
        Closed forms (relu/relu or erf/erf pairs, any d; the default when they
        exist) or Gauss-Hermite quadrature (any activations, d <= 2; the default
        otherwise).
    nodes : int, optional
        Gauss-Hermite points per dimension (default 96; quadrature only).

    Returns
    -------
    float
        Exact to rounding with closed forms: absolute error about 1e-16 x
        (E[f^2] + E[f*^2]) in general, relative to L itself near a student that
        realises the teacher (see :mod:`flowlab.population._accurate`).

    Examples
    --------
    >>> import numpy as np, flowlab as fl
    >>> teacher = fl.TwoLayer(np.eye(2), [1.0, 1.0], "erf", bias=False)
    >>> student = fl.TwoLayer(np.eye(2)[::-1], [1.0, 1.0], "erf", bias=False)
    >>> fl.population.loss(student, teacher)     # the same function, units swapped
    0.0
    >>> teacher = fl.TwoLayer([[1.0, 0.0]], [1.0], "relu", bias=False)
    >>> round(fl.population.loss(fl.TwoLayer([[0.0, 1.0]], [1.0], "relu", bias=False),
    ...                          teacher), 12)   # 1/2 (1/2 + 1/2 - 2/(2 pi))
    0.340845056908
    """
    prob = PopulationProblem(net, teacher, integrals=integrals, nodes=nodes)
    return prob.loss_full(prob.theta0)


def gradient(net: TwoLayer, teacher: TwoLayer, *, integrals: str | None = None,
             nodes: int | None = None) -> np.ndarray:
    """Gradient of the population loss, shape (P,), in the packing of ``net.params()``.

    ``(W.ravel(), a)`` with W (n, d) row-major; ``net.with_params(theta)``
    inverts the packing.  Closed forms cost O((n + M) n d).  Arguments as for
    :func:`loss`.
    """
    prob = PopulationProblem(net, teacher, integrals=integrals, nodes=nodes)
    return prob.loss_grad_full(prob.theta0)[1]


def hessian(net: TwoLayer, teacher: TwoLayer, *, integrals: str | None = None,
            nodes: int | None = None) -> np.ndarray:
    """Exact Hessian of the population loss, shape (P, P), same packing as :func:`gradient`.

    Closed forms cost O((n + M) n d^2).  For relu it exists wherever no student
    row w_j is 0 (ValueError there) and is continuous, also where two neurons
    are parallel.
    """
    prob = PopulationProblem(net, teacher, integrals=integrals, nodes=nodes)
    return prob.hess_full(prob.theta0)


@dataclass
class OrderParameters:
    """Overlaps of the student and teacher weights (Saad & Solla 1995).

    Attributes
    ----------
    Q : ndarray, shape (..., n, n)
        Student-student overlaps W W^T.
    R : ndarray, shape (..., n, M)
        Student-teacher overlaps W W*^T.
    T : ndarray, shape (M, M)
        Teacher-teacher overlaps W* W*^T (constant along a flow).
    t : ndarray, shape (K,) or None
        Times, for the order parameters along a flow.
    """

    Q: np.ndarray
    R: np.ndarray
    T: np.ndarray
    t: np.ndarray | None = None


def order_parameters(net: TwoLayer, teacher: TwoLayer) -> OrderParameters:
    """Q = W W^T, R = W W*^T, T = W* W*^T of a bias-free student and teacher.

    The relu and erf population losses depend on the weights only through
    them (and the output weights).
    """
    check_nets(net, teacher)
    W, V = net.W, teacher.W
    return OrderParameters(Q=W @ W.T, R=W @ V.T, T=V @ V.T)


@dataclass
class MonteCarlo:
    """A Monte Carlo estimate of the population loss.

    Attributes
    ----------
    mean : float
        (1/N) sum_i 1/2 (f(x_i) - f*(x_i))^2.
    stderr : float
        Its standard error, std / sqrt(N).
    samples : int
        N.
    """

    mean: float
    stderr: float
    samples: int

    def z_score(self, value: float) -> float:
        """(value - mean) / stderr: how many standard errors ``value`` is from the estimate."""
        return (value - self.mean) / self.stderr


def monte_carlo_loss(net: TwoLayer, teacher: TwoLayer, samples: int, *, seed=None,
                     chunk: int = 200_000) -> MonteCarlo:
    """Monte Carlo estimate of 1/2 E[(f - f*)^2] with x ~ N(0, I_d), in chunks.

    Memory stays at ``chunk`` x d numbers whatever ``samples`` is; the
    per-chunk sums are combined exactly (Chan et al.'s pairwise update of the
    mean and the sum of squared deviations).

    Parameters
    ----------
    net, teacher : TwoLayer with ``bias=False`` and the same d (any activations)
    samples : int
    seed : None, int or numpy Generator
    chunk : int
        Samples per chunk.
    """
    for name, nt in (("net", net), ("teacher", teacher)):
        if not isinstance(nt, TwoLayer) or nt.has_bias:
            raise TypeError(f"`{name}` must be a bias-free TwoLayer network (bias=False).")
    if net.input_dim != teacher.input_dim:
        raise ValueError(f"`teacher` has d = {teacher.input_dim} but `net` has d = "
                         f"{net.input_dim}; give both W the same number of columns.")
    samples = v.check_int(samples, "samples", minimum=2)
    chunk = v.check_int(chunk, "chunk", minimum=1)
    rng = v.rng_from(seed)
    d = net.input_dim
    count, mean, m2 = 0, 0.0, 0.0
    done = 0
    while done < samples:
        k = min(chunk, samples - done)
        X = rng.standard_normal((k, d))
        q = 0.5 * (net(X) - teacher(X)) ** 2
        cm = float(q.mean())
        cm2 = float(((q - cm) ** 2).sum())
        tot = count + k
        delta = cm - mean
        mean += delta * k / tot
        m2 += cm2 + delta * delta * count * k / tot
        count = tot
        done += k
    var = m2 / (count - 1)
    return MonteCarlo(mean=mean, stderr=float(np.sqrt(var / count)), samples=count)
