"""Closed-form facts about the erf soft committee machine (Saad & Solla 1995).

Setting: teacher f*(x) = sum_{n=1}^M g(B_n . x) with orthonormal B_n (T = I),
student f(x) = sum_{i=1}^K g(J_i . x) with K = M, g(z) = erf(z / sqrt 2), output
weights fixed to 1 (only the J_i train), x ~ N(0, I_d).  The population loss is
Saad & Solla's generalisation error,

    eps_g = (1/pi) [ sum_ik asin(Q_ik / sqrt((1+Q_ii)(1+Q_kk)))
                     + sum_nm asin(T_nm / sqrt((1+T_nn)(1+T_mm)))
                     - 2 sum_in asin(R_in / sqrt((1+Q_ii)(1+T_nn))) ],

a function of the order parameters Q = J J^T, R = J B^T, T = B B^T.

The symmetric fixed point (derived in docs/population.md).  In the
permutation-symmetric subspace where every student vector is the same,
J_i = lambda sum_n B_n, one has Q_ik = q = M lambda^2 for all i, k and
R_in = lambda, so

    eps(lambda) = (1/pi) [ M^2 asin(q / (1 + q)) + M pi / 6
                           - 2 M^2 asin(lambda / sqrt(2 (1 + q))) ].

Setting d eps / d lambda = 0 gives M lambda / sqrt(1 + 2q) = 1 / sqrt(2 + 2q - q/M),
i.e. (2M - 1) q^2 + 2 (M - 1) q - 1 = 0, whose positive root is q = 1/(2M - 1):

    Q_ii = Q_ik = 1/(2M - 1),   R_in = 1/sqrt(M (2M - 1)),
    eps* = M/6 - (M^2/pi) asin(1/(2M)).

By the permutation symmetry of students and of teachers the gradient at this
point is parallel to sum_n B_n, along which it vanishes: it is a critical point
of the full loss -- the plateau of the gradient flow (the small-learning-rate
limit of on-line gradient descent), left by specialisation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validate as v
from ..models import TwoLayer

__all__ = ["SymmetricPoint", "symmetric_fixed_point", "soft_committee"]


@dataclass(frozen=True)
class SymmetricPoint:
    """The symmetric fixed point of the erf soft committee machine with K = M, T = I.

    Attributes
    ----------
    M : int
    Q : float
        Q_ii = Q_ik = 1/(2M - 1).
    R : float
        R_in = 1/sqrt(M (2M - 1)).
    loss : float
        eps* = M/6 - (M^2/pi) asin(1/(2M)), the plateau height.
    """

    M: int
    Q: float
    R: float
    loss: float


def symmetric_fixed_point(M: int) -> SymmetricPoint:
    """The symmetric fixed point of Saad & Solla's soft committee machine (K = M, T = I).

    Examples
    --------
    >>> p = symmetric_fixed_point(2)
    >>> round(p.Q, 12), round(p.loss, 8)
    (0.333333333333, 0.01161084)
    """
    M = v.check_int(M, "M", minimum=1)
    return SymmetricPoint(M=M, Q=1.0 / (2 * M - 1), R=float(1.0 / np.sqrt(M * (2 * M - 1))),
                          loss=float(M / 6.0 - M * M / np.pi * np.arcsin(1.0 / (2 * M))))


def soft_committee(J, B) -> tuple[TwoLayer, TwoLayer]:
    """Student and teacher soft committee machines: erf units, output weights 1, no biases.

    Parameters
    ----------
    J : array_like, shape (K, d)
        Student vectors.
    B : array_like, shape (M, d)
        Teacher vectors.

    Returns
    -------
    (student, teacher) : TwoLayer, TwoLayer
        Train the student with ``trainable="W"`` (the committee's output weights
        are fixed).
    """
    J = v.as_array(J, "J", ndim=2)
    B = v.as_array(B, "B", ndim=2)
    return (TwoLayer(J, np.ones(J.shape[0]), "erf", bias=False),
            TwoLayer(B, np.ones(B.shape[0]), "erf", bias=False))
