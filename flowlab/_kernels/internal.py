"""Kernels that only compiled code calls: compiled without a Python entry point.

numba compiles, with every kernel, a wrapper that converts Python objects to its
arguments (every member of a model's named tuple) and back, and keeps it in the
kernel's machine code and cache.  Most of flowlab's kernels are called only by other
kernels, where the wrapper is dead weight: it was about 14 % of the code generated for
the exact 1-d flow and 12 % of its compile time.  :func:`internal` compiles a kernel
without it.  Such a kernel cannot be called from Python: :class:`InternalDispatcher`
raises a ``TypeError`` that names it (a numba kernel without its wrapper would
crash the interpreter).

An internal kernel is also compiled for the plain types of its arguments: a constant
argument at a call site (``f(x, 0)``, ``f(x, False)``) would otherwise make numba
compile one more copy of the kernel for that literal value.
"""

from numba.core import types
from numba.core.registry import CPUDispatcher

from .._config import NUMBA_OPTIONS

__all__ = ["internal", "InternalDispatcher"]


class InternalDispatcher(CPUDispatcher):
    """A numba dispatcher compiled without its Python wrapper (see the module docstring)."""

    def __call__(self, *args, **kwargs):
        f = self.py_func
        raise TypeError(
            f"{f.__module__}.{f.__qualname__} is a flowlab kernel that only compiled code "
            f"calls (it is compiled without a Python entry point), called from Python with "
            f"{len(args) + len(kwargs)} argument(s); call it from a numba-compiled "
            "function, or decorate it with nb.njit(**NUMBA_OPTIONS) to call it from Python")

    def get_call_template(self, args, kws):
        # compile for the plain types of literal arguments: one copy per kernel
        args = tuple(types.unliteral(a) for a in args)
        kws = {k: types.unliteral(v) for k, v in kws.items()}
        return super().get_call_template(args, kws)


def internal(func=None, **options):
    """Decorator: compile ``func`` like ``nb.njit(**NUMBA_OPTIONS, **options)``, without
    a Python entry point (callable from compiled code only)."""
    def wrap(f):
        opts = dict(NUMBA_OPTIONS, **options)
        cache = opts.pop("cache", False)
        opts.update(nopython=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)
        disp = InternalDispatcher(py_func=f, locals={}, targetoptions=opts)
        if cache:
            disp.enable_caching()
        return disp
    return wrap if func is None else wrap(func)
