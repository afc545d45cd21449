"""The criterion of a reproduction's check: ``measured op threshold``, evaluated in one place.

:meth:`flowlab.experiments.Report.check` records the measured value, the threshold and
the comparison, and computes the verdict here, so that the sentence stating a claim
and the code testing it cannot drift apart.

Operators (``OPS``):

- ``">="``, ``"<="``, ``">"``, ``"<"``: numbers;
- ``"=="``, ``"!="``: numbers, strings, booleans;
- ``"in"``: a closed interval, ``threshold = [low, high]``;
- ``"increasing"``: a list strictly increasing entry by entry (``threshold`` None).

A ``measured`` list or dict (nested) holds when every entry does (for
``"increasing"``: the list itself), and an empty one never holds: a check needs
evidence.  None and NaN never hold.
"""

from __future__ import annotations

import math
import numbers
import operator

import numpy as np

__all__ = ["OPS", "holds", "check_criterion"]

_COMPARE = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt,
            "==": operator.eq, "!=": operator.ne}
#: the operators a check may use
OPS = (*_COMPARE, "in", "increasing")


def _is_number(v) -> bool:
    return isinstance(v, (numbers.Real, np.integer, np.floating)) and not isinstance(
        v, (bool, np.bool_))


def check_criterion(threshold, op) -> None:
    """TypeError/ValueError unless ``(threshold, op)`` is a criterion of :data:`OPS`."""
    if isinstance(op, (bool, np.bool_)) or not isinstance(op, str):
        raise TypeError(f"`op` must be one of {', '.join(map(repr, OPS))}, got {op!r}; the "
                        "signature is Report.check(what, measured, threshold, op, paper) "
                        "and the check computes `holds` itself.")
    if op not in OPS:
        raise ValueError(f"`op` must be one of {', '.join(map(repr, OPS))}, got {op!r}.")
    if op == "increasing":
        if threshold is not None:
            raise ValueError("op='increasing' takes threshold=None.")
    elif op == "in":
        if (not isinstance(threshold, (list, tuple)) or len(threshold) != 2
                or not all(_is_number(t) for t in threshold) or not threshold[0] <= threshold[1]):
            raise ValueError(f"op='in' needs threshold=[low, high] with low <= high, got "
                             f"{threshold!r}.")
    elif op in ("==", "!="):
        if not (_is_number(threshold) or isinstance(threshold, (str, bool, np.bool_))):
            raise TypeError(f"op={op!r} needs a number, string or bool threshold, got "
                            f"{threshold!r}.")
    elif not _is_number(threshold) or math.isnan(threshold):
        raise TypeError(f"op={op!r} needs a number as threshold, got {threshold!r}.")


def _leaves(v):
    if isinstance(v, np.ndarray):
        v = v.tolist()
    if isinstance(v, dict):
        for w in v.values():
            yield from _leaves(w)
    elif isinstance(v, (list, tuple)):
        for w in v:
            yield from _leaves(w)
    else:
        yield v


def _one(v, threshold, op) -> bool:
    if v is None or (_is_number(v) and math.isnan(v)):
        return False
    if op == "in":
        return _is_number(v) and bool(threshold[0] <= v <= threshold[1])
    if op in ("==", "!="):
        if isinstance(v, str) != isinstance(threshold, str):
            return op == "!="
        return bool(_COMPARE[op](v, threshold))
    return _is_number(v) and bool(_COMPARE[op](v, threshold))


def holds(measured, threshold, op) -> bool:
    """The verdict of ``measured op threshold`` (see the module notes)."""
    if op == "increasing":
        seq = list(_leaves(measured))
        return (len(seq) >= 2 and all(_is_number(v) and not math.isnan(v) for v in seq)
                and all(a < b for a, b in zip(seq, seq[1:])))
    values = list(_leaves(measured))
    return bool(values) and all(_one(v, threshold, op) for v in values)
