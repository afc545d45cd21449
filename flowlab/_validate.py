"""Input checks shared by the public functions.

Every check raises ``ValueError`` or ``TypeError`` whose message names the
argument, the rule it broke and how to fix it.
"""

from __future__ import annotations

import numbers

import numpy as np

LOSSES = ("sum", "mean")


def as_array(value, name: str, *, ndim: int | None = None, allow_empty: bool = False,
             finite: bool = True, dtype=np.float64) -> np.ndarray:
    """Convert ``value`` to a C-contiguous array of ``dtype`` and check it."""
    if value is None:
        raise TypeError(f"`{name}` is required, got None.")
    try:
        is_complex = np.iscomplexobj(value)
    except (TypeError, ValueError):            # ragged or odd input: np.array reports it
        is_complex = False
    if is_complex:
        raise TypeError(f"`{name}` must be an array of real numbers, got complex values "
                        f"(dtype {np.asarray(value).dtype}); pass the real part, e.g. "
                        f"np.real({name}), if the imaginary part is zero.")
    try:
        arr = np.array(value, dtype=dtype, copy=True, order="C")
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`{name}` must be an array of real numbers ({exc}).") from None
    if ndim is not None and arr.ndim != ndim:
        kind = {1: " (a vector)", 2: " (a matrix)"}.get(ndim, "")
        raise ValueError(f"`{name}` must be {ndim}-dimensional{kind}, got shape {arr.shape}.")
    if not allow_empty and arr.size == 0:
        raise ValueError(f"`{name}` is empty; give at least one value.")
    if finite and not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        where = tuple(int(i) for i in bad)
        raise ValueError(f"`{name}` contains NaN or inf (first at index {where}); "
                         "remove or replace non-finite values.")
    return arr


def check_loss(loss) -> str:
    """Return the loss convention, ``"sum"`` or ``"mean"``."""
    if not isinstance(loss, str) or loss not in LOSSES:
        raise ValueError(f"`loss` must be 'sum' (L = 1/2 sum r_i^2) or 'mean' "
                         f"(L = 1/(2m) sum r_i^2), got {loss!r}.")
    return loss


def loss_scale(loss: str, m: int) -> float:
    """The factor in L = scale/2 * sum r_i^2 for a loss convention."""
    return 1.0 if loss == "sum" else 1.0 / m


def check_real(value, name: str, *, positive: bool = False, nonnegative: bool = False) -> float:
    """A finite real scalar, optionally required positive or non-negative."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"`{name}` must be a real number, got {type(value).__name__}.")
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"`{name}` must be finite, got {v}.")
    if positive and v <= 0:
        raise ValueError(f"`{name}` must be > 0, got {v}.")
    if nonnegative and v < 0:
        raise ValueError(f"`{name}` must be >= 0, got {v}.")
    return v


def check_int(value, name: str, *, minimum: int | None = None) -> int:
    """An integer scalar, optionally bounded below."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"`{name}` must be an integer, got {type(value).__name__}.")
    v = int(value)
    if minimum is not None and v < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}, got {v}.")
    return v


def check_tolerances(rtol, atol) -> tuple[float, float]:
    """Relative and absolute tolerances of an integrator."""
    rtol = check_real(rtol, "rtol", positive=True)
    atol = check_real(atol, "atol", positive=True)
    eps = np.finfo(np.float64).eps
    if rtol < 100 * eps:
        raise ValueError(f"`rtol` must be >= 100 * machine epsilon ({100 * eps:.2e}) to be "
                         f"attainable in float64, got {rtol:.3g}; raise it.")
    if rtol >= 1:
        raise ValueError(f"`rtol` must be < 1, got {rtol:.3g}; typical values are 1e-6 to 1e-12.")
    return rtol, atol


def rng_from(seed) -> np.random.Generator:
    """A numpy Generator from None, an int or a Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, (numbers.Integral, np.integer)) and not isinstance(seed, bool):
        return np.random.default_rng(seed)
    raise TypeError(f"`seed` must be None, an integer or a numpy Generator, got {type(seed).__name__}.")
