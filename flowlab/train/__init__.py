"""Discrete trainers: GD, Adam, ANLS (Ainsworth & Shin 2021, Sec. 4) and its baselines."""

from . import baselines, cod
from ._anls import anls, anls_candidates
from .descent import adam, gd
from .result import TrainResult

__all__ = ["gd", "adam", "TrainResult", "anls", "anls_candidates", "cod", "baselines"]
