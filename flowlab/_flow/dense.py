"""Dense output of a flow: one polynomial per step, stored exactly and compactly.

Each step [t_k, t_{k+1}] carries a polynomial of degree ``degree[k]`` given by
its values at the Chebyshev-Lobatto nodes of the step.  Any solver's continuous
extension that is a polynomial of degree <= ``degree[k]`` is reproduced to
rounding, the storage is plain arrays (saved bit for bit), and evaluation is a
stable barycentric formula.
"""

from __future__ import annotations

import numpy as np

from .._kernels import dense as _kd


class DenseOutput:
    """Piecewise-polynomial interpolant of the flow's state over [t_0, t_K].

    Build it with :meth:`append` step by step, or from arrays with
    :meth:`from_arrays`; evaluate with ``dense(t)`` (returns shape (len(t), P)
    for an array ``t``, (P,) for a scalar).
    """

    def __init__(self, size: int):
        self.size = int(size)
        self._breaks = []
        self._degree = []
        self._values = []
        self._frozen = None
        #: number of stored node values (rows of ``values``)
        self.n_values = 0

    # -- building -------------------------------------------------------------------
    @staticmethod
    def nodes(t0: float, t1: float, degree: int) -> np.ndarray:
        """The times at which a step's polynomial must be sampled."""
        return t0 + (t1 - t0) * _kd.lobatto_nodes(int(degree))

    def append(self, t0: float, t1: float, values) -> None:
        """Add the step [t0, t1] with ``values`` of shape (degree+1, P) at :meth:`nodes`."""
        self._thaw()
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != self.size or values.shape[0] < 2:
            raise ValueError(f"`values` must have shape (degree+1, {self.size}) with degree >= 1, "
                             f"got {values.shape}.")
        if self._breaks and t0 != self._breaks[-1]:
            raise ValueError(f"steps must be contiguous: this step starts at {t0!r}, the last "
                             f"ended at {self._breaks[-1]!r}.")
        if not self._breaks:
            self._breaks.append(float(t0))
        self._breaks.append(float(t1))
        self._degree.append(values.shape[0] - 1)
        self._values.append(values)
        self._frozen = None
        self.n_values += values.shape[0]

    def pieces(self, start: int) -> dict[str, np.ndarray]:
        """The steps from ``start`` on, as arrays ``dense.breaks`` (k+1,), ``dense.degree``
        (k,) and ``dense.values`` (N, P) (a checkpoint's increment)."""
        self._thaw()
        values = self._values[start:]
        return {"dense.breaks": np.asarray(self._breaks[start:], dtype=np.float64),
                "dense.degree": np.asarray(self._degree[start:], dtype=np.int64),
                "dense.values": (np.concatenate(values) if values
                                 else np.empty((0, self.size)))}

    def append_solver_step(self, interp, y_old, y_new) -> None:
        """Add the continuous extension of one scipy step (``solver.dense_output()``).

        The end values are set to the solver's states ``y_old`` and ``y_new`` so
        that the interpolant passes exactly through the recorded steps.
        """
        deg = _scipy_degree(interp)
        ts = self.nodes(interp.t_old, interp.t, deg)
        vals = np.array(np.asarray(interp(ts)).T.reshape(deg + 1, self.size))
        vals[0] = y_old
        vals[-1] = y_new
        self.append(interp.t_old, interp.t, vals)

    def extend(self, other: "DenseOutput") -> None:
        """Append all steps of ``other``, which must start where this one ends."""
        arrays = other.arrays()
        for k in range(arrays["degree"].size):
            lo, hi = arrays["offsets"][k], arrays["offsets"][k + 1]
            self.append(arrays["breaks"][k], arrays["breaks"][k + 1], arrays["values"][lo:hi])

    # -- arrays ---------------------------------------------------------------------
    def arrays(self) -> dict[str, np.ndarray]:
        """``breaks`` (K+1,), ``degree`` (K,), ``offsets`` (K+1,) and ``values`` (N, P)."""
        if self._frozen is None:
            degree = np.asarray(self._degree, dtype=np.int64)
            offsets = np.zeros(degree.size + 1, dtype=np.int64)
            np.cumsum(degree + 1, out=offsets[1:])
            values = (np.concatenate(self._values) if self._values
                      else np.empty((0, self.size)))
            self._frozen = {"breaks": np.asarray(self._breaks, dtype=np.float64),
                            "degree": degree, "offsets": offsets,
                            "values": np.ascontiguousarray(values)}
            self._values = [values[offsets[k]:offsets[k + 1]] for k in range(degree.size)]
        return self._frozen

    @classmethod
    def from_arrays(cls, breaks, degree, offsets, values) -> "DenseOutput":
        """Rebuild from the output of :meth:`arrays` (exact).

        The arrays are kept as they are; the per-step lists that :meth:`append`
        extends are made only if a step is appended later.
        """
        values = np.ascontiguousarray(values, dtype=np.float64)
        out = cls(values.shape[1])
        out.n_values = values.shape[0]
        out._frozen = {"breaks": np.array(breaks, dtype=np.float64),
                       "degree": np.array(degree, dtype=np.int64),
                       "offsets": np.array(offsets, dtype=np.int64), "values": values}
        out._breaks = out._degree = out._values = None
        return out

    def _thaw(self) -> None:
        """Per-step lists from the arrays (after :meth:`from_arrays`), for appending."""
        if self._values is None:
            a = self._frozen
            self._breaks = [float(b) for b in a["breaks"]]
            self._degree = [int(d) for d in a["degree"]]
            off = a["offsets"]
            self._values = [a["values"][off[k]:off[k + 1]] for k in range(len(self._degree))]

    # -- evaluation -----------------------------------------------------------------
    @property
    def t_min(self) -> float:
        return self._breaks[0] if self._breaks is not None else float(self._frozen["breaks"][0])

    @property
    def t_max(self) -> float:
        return self._breaks[-1] if self._breaks is not None else float(self._frozen["breaks"][-1])

    @property
    def n_steps(self) -> int:
        return len(self._degree) if self._degree is not None else int(self._frozen["degree"].size)

    def __call__(self, t):
        return self._apply(_kd.evaluate, t)

    def derivative(self, t):
        """d/dt of the interpolant at ``t`` (shape like ``__call__``)."""
        return self._apply(_kd.derivative, t)

    def _apply(self, kernel, t):
        a = self.arrays()
        if a["degree"].size == 0:
            raise ValueError("this dense output has no steps.")
        tt = np.atleast_1d(np.asarray(t, dtype=np.float64))
        out = np.empty((tt.size, self.size))
        kernel(a["breaks"], a["degree"], a["offsets"], a["values"], tt.ravel(), out)
        return out[0] if np.ndim(t) == 0 else out


def _scipy_degree(interp) -> int:
    """Polynomial degree of a scipy continuous extension (12 if unknown: LSODA's maximum)."""
    if hasattr(interp, "Q"):          # RK23/RK45 (y_old + h Q p) and Radau (y_old + Q p)
        return int(interp.Q.shape[1])
    if hasattr(interp, "F"):          # DOP853: seven alternating factors
        return int(interp.F.shape[0])
    if hasattr(interp, "p"):          # LSODA: Nordsieck array, powers 0..order
        return max(int(len(interp.p)) - 1, 1)
    if hasattr(interp, "order"):      # BDF: Newton form of degree `order`
        return max(int(interp.order), 1)
    return 12
