"""Discrete trainers: gradient descent, Adam (and, in later modules, ANLS and baselines)."""

from .descent import adam, gd
from .result import TrainResult

__all__ = ["gd", "adam", "TrainResult"]
