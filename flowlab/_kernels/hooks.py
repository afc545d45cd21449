"""The model hooks of flowlab's compiled integrators.

A model is a named tuple (:func:`collections.namedtuple`) of its arrays and constants; each
stage model registers its compiled hooks for its named-tuple class
(:func:`register_model`), and the integrators (:mod:`flowlab._kernels.radau`,
:mod:`flowlab._kernels.explicit`) call ``model_rhs(model, ...)`` and the like, which numba
resolves at compile time to the registered hook of the model's class (no dispatch at run
time).
"""

from collections import namedtuple

from numba import types
from numba.extending import overload

#: the compiled hooks of one kind of model (see :func:`register_model`)
Hooks = namedtuple("Hooks", ["rhs", "jac", "output", "events", "event_rate", "rhs_loss",
                             "expand_rows"])
_HOOKS = {}


def register_model(kind, *, rhs, jac, output, events, event_rate, rhs_loss, expand_rows):
    """Register the compiled hooks of the models of ``kind``, a named-tuple class."""
    if not (isinstance(kind, type) and issubclass(kind, tuple) and hasattr(kind, "_fields")):
        raise TypeError(f"register_model takes a named-tuple class, not {kind!r}")
    _HOOKS[kind] = Hooks(rhs=rhs, jac=jac, output=output, events=events, event_rate=event_rate,
                         rhs_loss=rhs_loss, expand_rows=expand_rows)


def _hooks(model_type):
    key = getattr(model_type, "instance_class", None)
    if not isinstance(model_type, types.BaseNamedTuple) or key not in _HOOKS:
        raise TypeError(f"no integrator model registered for {model_type}; models are "
                        "named tuples registered with hooks.register_model")
    return _HOOKS[key]


def model_rhs(model, u, out):
    """out = F(u) (dispatched on the model's class)."""


def model_rhs_loss(model, u, out):
    """out = F(u); returns the loss at u (dispatched on the model's class)."""


def model_expand_rows(model, rows, k, tmp):
    """rows[r, q] <- full parameters of the state rows[r, q, :n] for r < k (dispatched)."""


def model_jac(model, u, J, dh):
    """J = dF/du; returns True if diag(dh) J diag(dh)^-1 is symmetric (dispatched)."""


def model_output(model, u, theta, with_loss):
    """Full parameters of u, and its loss if ``with_loss`` (dispatched on the model's class)."""


def model_events(model, nodes, armed):
    """Earliest event of a step (dispatched on the model's class)."""


def model_event_rate(model, u, f):
    """(value, time derivative) of the event found last, at u with u' = f."""


@overload(model_rhs, inline="always")
def _ov_rhs(model, u, out):
    impl = _hooks(model).rhs
    return lambda model, u, out: impl(model, u, out)


@overload(model_rhs_loss, inline="always")
def _ov_rhs_loss(model, u, out):
    impl = _hooks(model).rhs_loss
    return lambda model, u, out: impl(model, u, out)


@overload(model_expand_rows, inline="always")
def _ov_expand_rows(model, rows, k, tmp):
    impl = _hooks(model).expand_rows
    return lambda model, rows, k, tmp: impl(model, rows, k, tmp)


@overload(model_jac, inline="always")
def _ov_jac(model, u, J, dh):
    impl = _hooks(model).jac
    return lambda model, u, J, dh: impl(model, u, J, dh)


@overload(model_output, inline="always")
def _ov_output(model, u, theta, with_loss):
    impl = _hooks(model).output
    return lambda model, u, theta, with_loss: impl(model, u, theta, with_loss)


@overload(model_events, inline="always")
def _ov_events(model, nodes, armed):
    impl = _hooks(model).events
    return lambda model, nodes, armed: impl(model, nodes, armed)


@overload(model_event_rate, inline="always")
def _ov_event_rate(model, u, f):
    impl = _hooks(model).event_rate
    return lambda model, u, f: impl(model, u, f)
