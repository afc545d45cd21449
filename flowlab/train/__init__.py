"""Discrete trainers: gradient descent, Adam, ANLS (seed 003, Sec. 4) and its baselines."""

from . import baselines, cod
from .anls import anls, anls_candidates
from .descent import adam, gd
from .result import TrainResult

__all__ = ["gd", "adam", "TrainResult", "anls", "anls_candidates", "cod", "baselines"]
