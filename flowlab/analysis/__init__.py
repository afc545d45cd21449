"""Analyses of training dynamics: plateaus, condensation, effective rank, Gram spectra."""

from .condensation import (CosineMap, Orientations, amplitudes, cosine_map, cosine_similarity,
                           count_orientations, features, line_angle, nearest_line_angles)
from .condensation_theory import (DirectionField, FieldLines, LinePrediction, direction_field,
                                  field_lines, neuron_velocity, predicted_lines)
from .initial_stage import (InitialStage, PolyFit, flow_initial_stage, initial_stage,
                            polyfit_output)

__all__ = ["CosineMap", "Orientations", "amplitudes", "cosine_map", "cosine_similarity",
           "count_orientations", "features", "line_angle", "nearest_line_angles",
           "DirectionField", "FieldLines", "LinePrediction", "direction_field", "field_lines",
           "neuron_velocity", "predicted_lines",
           "InitialStage", "PolyFit", "flow_initial_stage", "initial_stage", "polyfit_output"]
