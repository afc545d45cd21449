"""Gradient flows of two-layer networks: ``flow``, ``resume``, ``Solution``."""

from .solution import Solution, load
from .solve import METHODS, default_method, flow, resume

__all__ = ["flow", "resume", "Solution", "load", "METHODS", "default_method"]
