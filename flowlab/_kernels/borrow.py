"""Borrowed array views for the hot loops of the compiled integrators.

numba counts references to every array it passes around: each compiled
function takes a reference to each array argument on entry (every member of a
tuple argument included) and drops it on exit, with an atomic increment and
decrement of the array's memory record.  The stage models of the exact flows
are tuples of about twenty arrays handed to the right-hand side many times per
step, so these atomic operations cost more than the arithmetic.

:func:`borrowed` returns views of the same memory that carry no memory record
(NULL), for which numba's reference counting is a test and a return.  A
borrowed view does not keep its memory alive: use it only while the owner is
alive, i.e. for arrays that the calling frame receives as arguments (their
owners are held by the caller for the whole call) or holds itself until the
borrowed view is last used.  Never return a borrowed view to Python or store
it beyond the call.
"""

from numba import types
from numba.core import errors
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array


def _borrow_value(context, builder, ty, val):
    if isinstance(ty, types.Array):
        src = make_array(ty)(context, builder, val)
        dst = make_array(ty)(context, builder)
        populate_array(dst, data=src.data, shape=src.shape, strides=src.strides,
                       itemsize=src.itemsize, meminfo=None)
        return dst._getvalue()
    if isinstance(ty, types.BaseTuple):
        out = context.get_constant_undef(ty)
        for i, member in enumerate(ty):
            out = builder.insert_value(
                out, _borrow_value(context, builder, member, builder.extract_value(val, i)), i)
        return out
    return val


def _check(ty):
    if isinstance(ty, types.BaseTuple):
        return all(_check(t) for t in ty)
    return isinstance(ty, (types.Array, types.Number, types.Boolean))


@intrinsic
def borrowed(typingctx, obj):
    """A view of the array ``obj`` (or of every array in the tuple ``obj``, nested
    tuples included) without a memory record: reference counting on it is free, and it
    does not keep the memory alive (see the module docstring)."""
    if not _check(obj):
        raise errors.TypingError(f"borrowed() takes arrays, numbers and tuples of them, not {obj}")

    def codegen(context, builder, signature, args):
        return _borrow_value(context, builder, signature.args[0], args[0])

    return obj(obj), codegen
