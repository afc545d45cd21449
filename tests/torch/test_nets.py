"""Networks, activations and initialisations of the bridge (Yang, Zhao & Zhu 2024 and Zhou et al.
2022)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import flowlab as fl  # noqa: E402
import flowlab.torch as flt  # noqa: E402
from flowlab.activations import activation_names, get_activation  # noqa: E402


@pytest.mark.parametrize("name", activation_names())
def test_torch_activations_match_flowlab(name):
    z = np.concatenate([np.linspace(-6.0, 6.0, 101), [0.0, 1e-3, -1e-3]])
    zt = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    val = flt.torch_activation(name)(zt)
    (d1,) = torch.autograd.grad(val.sum(), zt)
    ref, ref1, _ = get_activation(name).evaluate(z)
    np.testing.assert_allclose(val.detach().numpy(), ref, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(d1.numpy(), ref1, rtol=1e-12, atol=1e-13)


def test_unknown_activation_is_rejected():
    with pytest.raises(ValueError, match="unknown activation"):
        flt.mlp(1, 4, 2, "nope")
    with pytest.raises(TypeError, match="one per hidden layer"):
        flt.DeepNet(1, 4, activation=[])


def _reference_forward(net, x, residual):
    """Yang, Zhao & Zhu 2024, (1) / (16) written out with numpy."""
    h = x[:, None] if x.ndim == 1 else x
    for k, (lin, name) in enumerate(zip(net.layers, net.activations)):
        W, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
        z = get_activation(name)(h @ W.T + b)
        h = h + z if (residual and h.shape[1] == z.shape[1]) else z
    out = h @ net.output.weight.detach().numpy().T
    if net.output.bias is not None:
        out = out + net.output.bias.detach().numpy()
    return out


@pytest.mark.parametrize("build,residual", [(flt.mlp, False), (flt.resnet, True)])
def test_mlp_and_resnet_follow_the_seed_equations(build, residual):
    net = flt.init_default(build(1, 7, 3, "tanh"), seed=0)
    x = np.linspace(-1, 1, 11)
    np.testing.assert_allclose(net(x).detach().numpy(), _reference_forward(net, x, residual),
                               rtol=1e-13, atol=1e-14)
    assert net.shortcut == ((False, True, True) if residual else (False, False, False))
    hidden = net.hidden_outputs(x)
    assert [tuple(h.shape) for h in hidden] == [(11, 7)] * 3
    # no output bias in Yang, Zhao & Zhu 2024, (1): the output is beta . y_L
    assert net.output.bias is None
    np.testing.assert_allclose(net(x).detach().numpy(),
                               hidden[-1].detach().numpy() @ net.output.weight.detach().numpy().T)


def test_residual_net_of_zhou_et_al():
    acts = ("x2tanh", "xtanh", "sigmoid", "tanh", "softplus")
    net = flt.init_gaussian(flt.residual_net(3, 18, acts), var=0.01 ** 2, seed=0)
    assert net.activations == acts and net.shortcut == (False, True, True, True, True)
    assert net.output.bias is not None
    x = np.random.default_rng(0).uniform(-4, 2, (80, 3))
    np.testing.assert_allclose(net(x).detach().numpy(), _reference_forward(net, x, True),
                               rtol=1e-12, atol=1e-15)
    W = net.input_weights()
    assert [w.shape for w in W] == [(18, 4)] + [(18, 19)] * 4
    allp = np.concatenate([p.detach().numpy().ravel() for p in net.parameters()])
    assert 0.008 < allp.std() < 0.012          # N(0, 0.01^2)


def test_initialisations_of_yang_zhao_zhu():
    n = 10
    net = flt.init_deterministic(flt.mlp(1, n, 2), seed=0)
    w, b = net.layers[0].weight.detach().numpy()[:, 0], net.layers[0].bias.detach().numpy()
    np.testing.assert_allclose(w, n / 2)                        # (12): w_j = n/2
    np.testing.assert_allclose(b, n / 2 - np.arange(1, n + 1))  # (12): b_j = n/2 - j
    default = flt.init_default(flt.mlp(1, n, 2), seed=0)
    W1 = default.layers[1].weight.detach().numpy()
    assert np.abs(W1).max() <= 1 / np.sqrt(n) and np.abs(W1).max() > 0.5 / np.sqrt(n)
    # reproducible from the numpy seed
    again = flt.init_default(flt.mlp(1, n, 2), seed=0)
    np.testing.assert_array_equal(flt.flatten(default), flt.flatten(again))
    udi = flt.init_uniform_density(flt.mlp(2, 200, 2), radius=2.0, gamma=3.0, seed=1)
    W0 = udi.layers[0].weight.detach().numpy()
    r = udi.layers[0].bias.detach().numpy() / 3.0
    np.testing.assert_allclose(np.linalg.norm(W0, axis=1), 3.0)   # gamma |a_j| with |a_j| = 1
    assert r.min() >= 0 and r.max() <= 2.0 and r.max() > 1.8         # r_j ~ U(0, radius)
    with pytest.raises(ValueError, match="d = 1"):
        flt.init_deterministic(flt.mlp(2, 4, 2))


def test_from_twolayer_round_trip():
    net = fl.init.xavier(5, 3, activation="xtanh", seed=2)
    deep = flt.from_twolayer(net)
    assert deep.activations == ("xtanh",)
    np.testing.assert_array_equal(deep.input_weights()[0], net.W)
    with pytest.raises(TypeError, match="TwoLayer"):
        flt.from_twolayer(fl.ReLU1D([0.0], [1.0]))
