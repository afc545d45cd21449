"""The calling convention of flowlab's public runners (docs/conventions.md, "Signatures").

The model and the data are positional; every option is keyword-only.  Some options
used to be positional (``gd(net, x, y, lr, steps)``, ``anls(x, y, b0, max_iter,
loss)``): :func:`options_by_keyword` turns such an old call into a ``TypeError`` that
writes out the new form, instead of Python's bare "takes 3 positional arguments".
"""

from __future__ import annotations

import functools
import inspect

__all__ = ["options_by_keyword", "REQUIRED", "require", "LOSS_WHY"]


class _Required:
    """Default of an option that must be given (see :func:`require`)."""

    def __repr__(self) -> str:
        return "<required>"


#: The default of an option without one whose absence gets a tailored message.
REQUIRED = _Required()


def options_by_keyword(*old_positional: str):
    """Decorator: the options ``old_positional`` (in their former positional order) are
    keyword-only now; a call that still passes them by position raises a TypeError
    naming the new form."""
    def deco(func):
        sig = inspect.signature(func)
        n = sum(p.kind is p.POSITIONAL_OR_KEYWORD for p in sig.parameters.values())
        data = [name for name in sig.parameters][:n]

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            if len(args) > n:
                extra = args[n:]
                if len(extra) > len(old_positional):
                    raise TypeError(f"{func.__name__}() takes {n} positional arguments "
                                    f"({', '.join(data)}) but {len(args)} were given.")
                given = ", ".join(f"{name}={value!r}" for name, value in
                                  zip(old_positional, extra))
                raise TypeError(f"{func.__name__}() takes its options by keyword: write "
                                f"{func.__name__}({', '.join(data)}, {given}, ...) "
                                "(docs/conventions.md, 'Signatures').")
            return func(*args, **kwargs)
        return wrapper
    return deco


def require(value, name: str, func: str, why: str):
    """``value``, or a TypeError when it is :data:`REQUIRED` (not given) saying ``why``."""
    if value is REQUIRED:
        raise TypeError(f"{func}() needs `{name}`: {why}")
    return value


#: Why ``loss`` has no default where it used to default to "mean" (ANLS and its baselines)
LOSS_WHY = ("pass loss='mean' (its former default: the scale of Ainsworth & Shin's (2021) "
            "plots) or loss='sum' (flowlab's default elsewhere); it is required here so that "
            "no call changes its reported losses silently.")
