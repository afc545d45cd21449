"""pytest-benchmark suite (``pytest bench --benchmark-only``); not part of the test run."""

import numpy as np
import pytest

import flowlab as fl
from flowlab._problem import Problem

from .gradient_vs_numpy import SIZES, numpy_gradient


@pytest.fixture(params=SIZES, ids=lambda s: "n%d-m%d-d%d" % s)
def setup(request):
    n, m, d = request.param
    rng = np.random.default_rng(0)
    net = fl.TwoLayer(rng.normal(size=(n, d + 1)), rng.normal(size=n), "tanh")
    X = rng.normal(size=(m, d))
    y = rng.normal(size=m)
    return net, X, y, Problem(net, X, y, loss="mean")


def test_numba_gradient(benchmark, setup):
    net, X, y, prob = setup
    benchmark(prob.loss_grad, prob.u0)


def test_numpy_gradient(benchmark, setup):
    net, X, y, prob = setup
    benchmark(numpy_gradient, net.W, net.a, X, y, 1.0 / len(y))
