"""Bad input to the population functions: errors that name the fix."""

import numpy as np
import pytest

import flowlab as fl


def nets(act="relu", d=3, dt=None, bias=False, tbias=False, tact=None):
    rng = np.random.default_rng(0)
    W = rng.normal(size=(2, d + (1 if bias else 0)))
    V = rng.normal(size=(2, (dt or d) + (1 if tbias else 0)))
    return (fl.TwoLayer(W, [1.0, 1.0], act, bias=bias),
            fl.TwoLayer(V, [1.0, -1.0], tact or act, bias=tbias))


def test_teacher_of_another_dimension_names_the_shapes():
    net, teacher = nets(d=3, dt=4)
    with pytest.raises(ValueError, match=r"teacher.*d = 4.*net.*d = 3.*shape \(M, 3\)"):
        fl.population.loss(net, teacher)


@pytest.mark.parametrize("which", ["net", "teacher"])
def test_networks_with_biases_are_refused_with_the_bias_free_constructor(which):
    net, teacher = nets(bias=which == "net", tbias=which == "teacher")
    with pytest.raises(ValueError, match=rf"`{which}` has biases.*bias=False.*shape \(n, d\)"):
        fl.population.loss(net, teacher)
    with pytest.raises(ValueError, match="bias=False"):
        fl.population.flow(net, teacher, 1.0)


def test_activation_without_closed_form_in_d_above_2_names_relu_erf_and_d():
    net, teacher = nets(act="tanh", d=3)
    with pytest.raises(ValueError, match=r"'relu' or 'erf'.*d <= 2"):
        fl.population.gradient(net, teacher)
    net, teacher = nets(act="relu", d=5, tact="erf")            # mixed pair, d > 2
    with pytest.raises(ValueError, match=r"no closed-form.*d <= 2"):
        fl.population.hessian(net, teacher)


def test_closed_forms_cannot_be_forced_and_nodes_need_quadrature():
    net, teacher = nets(act="tanh", d=2)
    with pytest.raises(ValueError, match="no closed form.*integrals='quadrature'"):
        fl.population.loss(net, teacher, integrals="closed")
    net, teacher = nets(act="erf", d=2)
    with pytest.raises(ValueError, match="`nodes`.*integrals='quadrature'"):
        fl.population.loss(net, teacher, nodes=20)
    with pytest.raises(ValueError, match="`integrals` must be"):
        fl.population.loss(net, teacher, integrals="exact")


def test_other_network_kinds_are_refused():
    _, teacher = nets()
    with pytest.raises(TypeError, match="bias-free flowlab TwoLayer"):
        fl.population.loss(fl.ReLU1D([0.0], [1.0]), teacher)


def test_relu_hessian_at_a_zero_neuron_is_refused():
    net, teacher = nets()
    W = net.W.copy()
    W[1] = 0.0
    with pytest.raises(ValueError, match="neuron 1 has w_j = 0"):
        fl.population.hessian(fl.TwoLayer(W, net.a, "relu", bias=False), teacher)


@pytest.mark.parametrize("method, hint", [("exact", "no activation events"),
                                          ("ERK853", "finite-data losses only"),
                                          ("Euler", "choose one of")])
def test_population_flow_methods(method, hint):
    net, teacher = nets()
    with pytest.raises(ValueError, match=hint):
        fl.population.flow(net, teacher, 1.0, method=method)


def test_monte_carlo_checks_its_networks():
    net, teacher = nets(d=3, dt=2)
    with pytest.raises(ValueError, match="same number of columns"):
        fl.population.monte_carlo_loss(net, teacher, 100)
