"""Discrete trainers: gradient descent, Adam (and, in later modules, ANLS and baselines)."""

from . import cod
from .anls import anls, anls_candidates
from .descent import adam, gd
from .result import TrainResult

__all__ = ["gd", "adam", "TrainResult", "anls", "anls_candidates", "cod"]
