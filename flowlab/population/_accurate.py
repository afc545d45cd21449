"""The population loss near a student that realises its teacher, to relative accuracy.

The closed-form loss 1/2 (a^T K a - 2 a^T K* b + b^T K** b) is a sum of terms of
the size of E[f^2] + E[f*^2] that cancel when the student reproduces the
teacher: computed that way, L is known only to about eps (E[f^2] + E[f*^2]),
i.e. 1e-16, however small it truly is.  Near a realisation flowlab computes it
differently.

A *realisation* is a student theta_ref with f = f* exactly.  Each student neuron
with a non-negligible output is matched to a teacher neuron:

- relu: w_j parallel to v_m (positive multiple); theta_ref puts w_j on the ray of
  v_m with its own length and corrects the a_j of the group of v_m so that
  sum_j a_j |w_j| = b_m |v_m| (relu is positively homogeneous);
- erf: w_j = +-v_m; theta_ref sets w_j = +-v_m and corrects the a_j of the group
  so that sum_j +-a_j = b_m (erf is odd);

unmatched neurons get a_j = 0.  Then L(theta_ref) = 0 and grad L(theta_ref) = 0
(up to the rounding of theta_ref itself, which changes L by O(eps^2)), and

    L(theta) = int_0^1 grad L(theta_ref + s delta) . delta ds,  delta = theta - theta_ref,

evaluated by 8-point Gauss-Legendre quadrature (exact for the quadratic and
cubic parts of L along the segment; the rest is O(|delta|^{16})).  The
gradient's rounding, about eps x the gradient's terms, enters multiplied by
|delta|, so the loss is accurate relative to itself down to O(eps^2).

It is used when the direct value is below ``TRIGGER`` x (E[f^2] + E[f*^2]) / 2 and
a realisation is found within ``MAX_REL_DISTANCE`` of theta.
"""

from __future__ import annotations

import numpy as np

#: direct loss below this fraction of the energy scale triggers the refined evaluation
TRIGGER = 1e-6
#: largest |theta - theta_ref| / |theta| for which a realisation is used
MAX_REL_DISTANCE = 1e-2
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(8)
_NODES = 0.5 * (_NODES + 1.0)
_WEIGHTS = 0.5 * _WEIGHTS


def realisation(act: str, W, a, V, b, angle_tol: float = 1e-2):
    """(W_ref, a_ref) realising the teacher (V, b) next to (W, a), or None.

    Every teacher neuron with b_m != 0 and v_m != 0 needs at least one student
    neuron within ``angle_tol`` (radians; for erf also in length, relative).
    """
    n, _ = W.shape
    nw = np.linalg.norm(W, axis=1)
    nv = np.linalg.norm(V, axis=1)
    live_t = (b != 0.0) & (nv > 0.0)
    W_ref, a_ref = W.copy(), a.copy()
    group = -np.ones(n, dtype=np.int64)
    sign = np.ones(n)
    for j in range(n):
        if nw[j] == 0.0 or a[j] == 0.0:
            continue
        best, best_m, best_s = np.inf, -1, 1.0
        for m in np.flatnonzero(live_t):
            for s in ((1.0,) if act == "relu" else (1.0, -1.0)):
                if act == "relu":
                    cos = np.clip(W[j] @ V[m] / (nw[j] * nv[m]), -1.0, 1.0)
                    dist = np.linalg.norm(W[j] / nw[j] - V[m] / nv[m])
                else:
                    dist = np.linalg.norm(W[j] - s * V[m]) / nv[m]
                    cos = 1.0
                if cos > 0 and dist < best:
                    best, best_m, best_s = dist, m, s
        if best_m >= 0 and best <= angle_tol:
            group[j], sign[j] = best_m, best_s
    for m in np.flatnonzero(live_t):
        members = np.flatnonzero(group == m)
        if members.size == 0:
            return None
        if act == "relu":
            lam = nw[members] / nv[m]
            W_ref[members] = lam[:, None] * V[m][None, :]
            err = float(a[members] @ lam - b[m])       # sum a_j |w_j| / |v_m| - b_m
            a_ref[members] = a[members] - err / (members.size * lam)
        else:
            s = sign[members]
            W_ref[members] = s[:, None] * V[m][None, :]
            err = float(s @ a[members] - b[m])
            a_ref[members] = a[members] - s * err / members.size
    a_ref[group < 0] = 0.0
    return W_ref, a_ref


def realised_loss(prob, theta) -> float | None:
    """L(theta) from the nearest realisation of the teacher, or None when there is none
    close enough (``prob`` is a :class:`~flowlab.population.problem.PopulationProblem`)."""
    W, a = prob._split(theta)
    got = realisation(prob.template.activation, W, a, prob.V, prob.b)
    if got is None:
        return None
    ref = np.concatenate([got[0].ravel(), got[1]])
    delta = theta - ref
    if np.linalg.norm(delta) > MAX_REL_DISTANCE * max(np.linalg.norm(theta), 1e-300):
        return None
    total = 0.0
    for s, w in zip(_NODES, _WEIGHTS):
        g = prob.loss_grad_full(ref + s * delta)[1]
        total += w * float(g @ delta)
    return total
