"""The docstring examples of the population modules and of refine run and hold."""

import doctest

import pytest

import flowlab.fixed_points
import flowlab.population
import flowlab.population.gradient_flow
import flowlab.population.functions
import flowlab.population.theory


@pytest.mark.parametrize("mod", [flowlab.population, flowlab.population.functions,
                                 flowlab.population.theory, flowlab.population.gradient_flow,
                                 flowlab.fixed_points])
def test_module_examples_run(mod):
    res = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0 and res.failed == 0
