"""Gradient flows of two-layer networks: ``flow``, ``Solution`` (``flowlab.resume``
continues one)."""

from ._guard import LossRiseWarning
from .solution import Solution, load
from .solve import METHODS, default_method, flow

__all__ = ["flow", "Solution", "load", "METHODS", "default_method", "LossRiseWarning"]
