"""Error measures, timing and order estimates of the work-precision suite.

Errors are relative Euclidean distances of the flat parameter vectors:

- final-time error  e(T) = ||theta(T) - theta_ref(T)|| / ||theta_ref(T)||;
- dense error over the K = 100 log-spaced measurement times t_k, from the
  per-time errors e_k = ||theta(t_k) - theta_ref(t_k)|| / ||theta_ref(t_k)||:
  "L2" = sqrt(mean_k e_k^2) and "max" = max_k e_k;
- loss error |L(theta(T)) - L(theta_ref(T))| / L(theta_ref(T)).

A run that did not reach t_end has no error (NaN, written null in JSON); its
status says why.  Order estimates are least-squares slopes on log-log axes.
"""

from __future__ import annotations

import time

import numpy as np

__all__ = ["relative_errors", "error_measures", "loss_error", "loglog_slope", "best_time",
           "errors_fall"]

_TINY = 1e-300


def relative_errors(theta, ref) -> np.ndarray:
    """Per-time relative errors ||theta_k - ref_k|| / ||ref_k||, shape (k,).

    ``theta`` (k, P) may hold fewer rows than ``ref`` (K, P); the first k rows
    of ``ref`` are used.
    """
    theta = np.atleast_2d(np.asarray(theta, dtype=float))
    ref = np.atleast_2d(np.asarray(ref, dtype=float))[: theta.shape[0]]
    if theta.shape[1:] != ref.shape[1:]:
        raise ValueError(f"parameter vectors differ in size: {theta.shape[1:]} vs "
                         f"{ref.shape[1:]}.")
    num = np.linalg.norm(theta - ref, axis=1)
    return num / np.maximum(np.linalg.norm(ref, axis=1), _TINY)


def error_measures(theta, ref) -> dict:
    """``{"error", "error_dense_l2", "error_dense_max"}`` of a run against a reference.

    NaN when ``theta`` does not cover every measurement time (the run stopped
    early); rows that are not finite count as an infinite error.
    """
    theta = np.atleast_2d(np.asarray(theta, dtype=float))
    ref = np.atleast_2d(np.asarray(ref, dtype=float))
    nan = {"error": float("nan"), "error_dense_l2": float("nan"),
           "error_dense_max": float("nan")}
    if theta.shape[0] != ref.shape[0] or theta.size == 0:
        return nan
    e = relative_errors(theta, ref)
    e = np.where(np.isfinite(e), e, np.inf)
    return {"error": float(e[-1]), "error_dense_l2": float(np.sqrt(np.mean(e ** 2))),
            "error_dense_max": float(e.max())}


def loss_error(loss, ref_loss: float) -> float:
    """|L - L_ref| / |L_ref| (NaN when ``loss`` is NaN)."""
    return float(abs(loss - ref_loss) / max(abs(ref_loss), _TINY))


def loglog_slope(x, y, floor: float = 0.0) -> float:
    """Least-squares slope of log y against log x over the finite points with y > floor.

    NaN with fewer than two such points.  For gradient descent, x = lr gives
    its order (1); for an adaptive setup, x = nfev gives minus its effective
    order.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > floor) & (y > 0)
    if np.count_nonzero(ok) < 2 or np.ptp(np.log(x[ok])) == 0:
        return float("nan")
    return float(np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)[0])


def errors_fall(errors, floor: float, slack: float = 1.1) -> bool:
    """True when each tighter tolerance's error is at most ``slack`` x the previous one,
    or both are at or below ``floor`` (the reference's own accuracy).

    ``errors`` are ordered loosest tolerance first; NaN entries are skipped.
    """
    e = [float(v) for v in errors if np.isfinite(v)]
    for a, b in zip(e[:-1], e[1:]):
        if b > slack * a and not (b <= floor and a <= floor):
            return False
    return True


def best_time(first_seconds: float, rerun, budget: float, max_repeats: int) -> tuple:
    """``(min seconds, repeats)``: ``rerun()`` (returns its seconds) is called again while
    the total stays within ``budget`` seconds, up to ``max_repeats`` runs in all."""
    times = [first_seconds]
    clock = time.perf_counter()
    while len(times) < max_repeats and (time.perf_counter() - clock) + min(times) <= budget - \
            first_seconds:
        times.append(rerun())
    return float(min(times)), len(times)
