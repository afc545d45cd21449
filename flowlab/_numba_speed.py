"""Two shortcuts in numba's compiler, for a shorter first run (called on ``import flowlab``).

A profile of the exact 1-d flow's first run (one process, empty cache) showed two
places where numba's own Python code spends several seconds on work whose result is
known without it.  Both shortcuts return exactly what numba's code returns; they are
installed only on a numba that has the code they shorten (:func:`install`), and
``FLOWLAB_NUMBA_SHORTCUTS=0`` leaves numba as it is.

1. **Comparing compiler flags.**  numba keys its cache of typed overloads by the
   compiler flags (a ``TargetConfig``); hashing or comparing flags builds a dict of all
   of their ~40 options through property getters, hundreds of thousands of times per
   flow.  The hash of flags is the hash of their sorted option *names* (the same for all
   flags of a class), so it is computed once per class; two flags whose explicitly set
   values are equal are equal, and other pairs compare the dicts of their values, built
   from the class's defaults and the values set.
2. **Copying a function's IR for inlining.**  numba inlines a function
   (``inline="always"``, an inlined overload) by deep-copying its IR block by block, and
   each block's copy also copies the function's scope, i.e. every variable of the
   function: B blocks cost B copies of the scope.  While numba copies an IR for
   inlining, a scope is copied once and shared by the block copies, as the blocks of
   the original share one scope.  (numba then moves every variable of the copy into the
   caller's scope and points the blocks at it.)
"""

from __future__ import annotations

import copy
import os
import threading

__all__ = ["install"]

_LOCAL = threading.local()


def _flags_shortcuts(tc) -> bool:
    cls = tc.TargetConfig
    if getattr(cls.__eq__, "_flowlab", False):
        return True
    if not (hasattr(cls, "values") and "_values" in getattr(cls, "__slots__", ())):
        return False
    eq, values = cls.__eq__, cls.values
    hashes, defaults = {}, {}

    def fast_values(self):
        base = defaults.get(type(self))
        if base is None:
            base = defaults[type(self)] = {k: o.default for k, o in self.options.items()}
        if not base.keys() >= self._values.keys():    # copied from another kind of config
            return values(self)
        out = dict(base)                   # numba: {k: getattr(self, k) for k in options}
        out.update(self._values)
        return out

    def __eq__(self, other):
        if self is other or (type(self) is type(other) and self._values == other._values):
            return True
        return eq(self, other)

    def __hash__(self):
        h = hashes.get(type(self))
        if h is None:                      # numba: hash(tuple(sorted(self.values())))
            h = hashes[type(self)] = hash(tuple(sorted(self.options)))
        return h

    __eq__._flowlab = True
    cls.__eq__, cls.__hash__, cls.values = __eq__, __hash__, fast_values
    return True


def _inline_copy_shortcut(ir, inline_closurecall) -> bool:
    worker = getattr(inline_closurecall, "InlineWorker", None)
    if worker is None or not hasattr(worker, "inline_ir") or hasattr(ir.Scope, "__deepcopy__"):
        return getattr(getattr(worker, "inline_ir", None), "_flowlab", False)
    inline_ir = worker.inline_ir

    def scope_deepcopy(self, memo):
        shared = getattr(_LOCAL, "scopes", None)
        if shared is not None and id(self) in shared:
            out = shared[id(self)][1]
            memo[id(self)] = out
            return out
        out = ir.Scope.__new__(ir.Scope)
        memo[id(self)] = out
        out.__dict__.update(copy.deepcopy(self.__dict__, memo))
        if shared is not None:
            shared[id(self)] = (self, out)        # the original is held: its id stays its own
        return out

    def inline_ir_shared(self, *args, **kwargs):
        outer = getattr(_LOCAL, "scopes", None)
        _LOCAL.scopes = {}
        try:
            return inline_ir(self, *args, **kwargs)
        finally:
            _LOCAL.scopes = outer

    inline_ir_shared._flowlab = True
    ir.Scope.__deepcopy__ = scope_deepcopy
    worker.inline_ir = inline_ir_shared
    return True


def install() -> bool:
    """Install both shortcuts (idempotent); False where numba lacks the code they
    shorten or ``FLOWLAB_NUMBA_SHORTCUTS=0``."""
    if os.environ.get("FLOWLAB_NUMBA_SHORTCUTS", "1") == "0":
        return False
    from numba.core import inline_closurecall, ir, targetconfig
    flags = _flags_shortcuts(targetconfig)
    inline = _inline_copy_shortcut(ir, inline_closurecall)
    return flags and inline
