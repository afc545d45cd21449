"""Gradient flows of two-layer networks: ``flow``, ``Solution`` (``flowlab.resume``
continues one).

A private package (``flowlab.flow`` is the function): its public names are re-exported
by :mod:`flowlab`, and its modules are imported by path inside flowlab
(``flowlab._flow.recorder``, ``flowlab._flow.options``...)."""

from ._guard import LossRiseWarning
from .solution import Solution, load
from .solve import METHODS, default_method, flow

__all__ = ["flow", "Solution", "load", "METHODS", "default_method", "LossRiseWarning"]
