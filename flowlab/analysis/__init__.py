"""Analyses of training dynamics: plateaus, condensation, effective rank, Gram spectra,
the phase diagram of initialisation scale against width (:mod:`flowlab.analysis.phase`)."""

from . import phase

from .condensation import (CosineMap, Orientations, amplitudes, cosine_map, cosine_similarity,
                           count_orientations, features, line_angle, nearest_line_angles)
from .condensation_theory import (DirectionField, FieldLines, LinePrediction, direction_field,
                                  field_lines, neuron_velocity, predicted_lines)
from .gram import (GramSpectrum, LinearFlow, PowerFit, adaptive_biases, extreme_eigenvalues,
                   fit_decay, fit_power_law, gram_spectrum, linear_flow, linear_flow_from_data,
                   relu_gram_1d, relu_gram_factor_1d, relu_gram_quadrature, relu_kernel_unit,
                   relu_knots, relu_load_1d)
from ._quadrature import (Quadrature, composite_gauss_legendre, gauss_legendre, monte_carlo,
                          quadrature, trapezoid, uniform_grid)
from .condensation_stage import (InitialStage, PolyFit, flow_initial_stage, initial_stage,
                                 polyfit_output)
from .rank import (DropRates, RankHistory, Staircase, Step, drop_rates, eps_rank, mass_matrix,
                   neuron_mass_matrix, neuron_rank, rank_along, staircase)

__all__ = ["phase", "eps_rank", "mass_matrix", "neuron_mass_matrix", "neuron_rank", "rank_along",
           "RankHistory", "staircase", "Staircase", "Step", "drop_rates", "DropRates",
           "Quadrature", "gauss_legendre", "composite_gauss_legendre", "trapezoid",
           "uniform_grid", "monte_carlo", "quadrature",
           "relu_gram_1d", "relu_gram_factor_1d", "relu_load_1d", "relu_kernel_unit",
           "relu_gram_quadrature", "relu_knots", "gram_spectrum", "GramSpectrum",
           "extreme_eigenvalues", "fit_decay",
           "fit_power_law", "PowerFit", "adaptive_biases", "linear_flow",
           "linear_flow_from_data", "LinearFlow"]
__all__ += ["CosineMap", "Orientations", "amplitudes", "cosine_map", "cosine_similarity",
            "count_orientations", "features", "line_angle", "nearest_line_angles",
            "DirectionField", "FieldLines", "LinePrediction", "direction_field", "field_lines",
            "neuron_velocity", "predicted_lines",
            "InitialStage", "PolyFit", "flow_initial_stage", "initial_stage", "polyfit_output"]
