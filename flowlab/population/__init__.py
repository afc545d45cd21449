"""Population (infinite-data) losses and gradient flows of bias-free two-layer networks.

Teacher-student setting: inputs x ~ N(0, I_d), a student
f(x) = sum_j a_j sigma(w_j . x) and a teacher f*(x) = sum_m b_m sigma(v_m . x),
both ``fl.TwoLayer(W, a, act, bias=False)``, and the population loss

    L = 1/2 E_x[(f(x) - f*(x))^2],

the infinite-data limit of the "mean" loss 1/(2m) sum_i (f(x_i) - f*(x_i))^2 (the
same time scale for flows).  Biases are not supported: the Gaussian integrals
below are those of networks without them (a bias can be emulated by a constant
input coordinate only approximately, since x is Gaussian in every coordinate).

- Closed forms, exact to rounding, any d, numba-compiled: relu with relu (the
  arc-cosine kernel of degree 1), erf(z / sqrt 2) with erf (Saad & Solla 1995).
  Loss and gradient cost O((n + M) n d), the Hessian O((n + M) n d^2).
- Gauss-Hermite quadrature (``integrals="quadrature"``) for any other
  activations when d <= 2: an approximation, spectrally accurate for smooth
  activations.

Functions: :func:`loss`, :func:`gradient`, :func:`hessian` (packing of
``net.params()``), :func:`order_parameters`, :func:`monte_carlo_loss`,
:func:`flow` (returns the usual :class:`flowlab.Solution`, with the order
parameters along it), and the Saad & Solla facts of :mod:`.theory`.  The fixed
point a flow ends at is found and classified by :func:`flowlab.refine`.

Examples
--------
>>> import numpy as np, flowlab as fl
>>> teacher = fl.TwoLayer(np.eye(3)[:2], [1.0, -1.0], "relu", bias=False)
>>> student = fl.TwoLayer(np.eye(3)[:2] + 0.1, [1.0, -1.0], "relu", bias=False)
>>> g = fl.population.gradient(student, teacher)
>>> g.shape == student.params().shape
True
"""

from .gradient_flow import METHODS, flow
from .functions import (MonteCarlo, OrderParameters, gradient, hessian, loss, monte_carlo_loss,
                        order_parameters)
from .problem import CLOSED_FORMS, PopulationProblem
from .theory import SymmetricPoint, soft_committee, symmetric_fixed_point

__all__ = ["loss", "gradient", "hessian", "flow", "order_parameters", "OrderParameters",
           "monte_carlo_loss", "MonteCarlo", "PopulationProblem", "CLOSED_FORMS", "METHODS",
           "SymmetricPoint", "symmetric_fixed_point", "soft_committee"]
