"""Gradient flows of two-layer networks: ``flow``, ``resume``, ``Solution``."""

from ._guard import LossRiseWarning
from .solution import Solution, load
from .solve import METHODS, default_method, flow, resume

__all__ = ["flow", "resume", "Solution", "load", "METHODS", "default_method", "LossRiseWarning"]
