"""Probes along flows and training runs; per-layer epsilon-rank and condensation."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import flowlab.torch as flt  # noqa: E402
from flowlab.analysis import eps_rank, gauss_legendre, mass_matrix  # noqa: E402


@pytest.fixture
def setup():
    x = np.linspace(-1, 1, 40)
    net = flt.init_default(flt.mlp(1, 6, 3, "tanh"), seed=0)
    return net, x, flt.MSELoss(x, np.cos(4 * x), "mean")


def test_hidden_features_by_method_and_by_hooks(setup):
    net, x, _ = setup
    direct = flt.hidden_features(net, x)

    class Plain(torch.nn.Module):          # the same network without hidden_outputs
        def __init__(self, deep):
            super().__init__()
            self.l0, self.l1, self.l2 = deep.layers
            self.a0, self.a1, self.a2 = (torch.nn.Tanh() for _ in range(3))
            self.out = deep.output

        def forward(self, x):
            return self.out(self.a2(self.l2(self.a1(self.l1(self.a0(self.l0(x)))))))

    hooked = flt.hidden_features(Plain(net), x, layers=["a0", "a1", "a2"])
    for a, b in zip(direct, hooked):
        np.testing.assert_allclose(a, b, rtol=1e-15)
    W = flt.input_weights(Plain(net))
    for a, b in zip(W, net.input_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="unknown submodules"):
        flt.hidden_features(Plain(net), x, layers=["nope"])


def test_layer_spectra_give_the_eps_rank_of_every_layer(setup):
    net, x, loss = setup
    q = gauss_legendre(20, (-1.0, 1.0), cells=10)
    res = flt.train(net, loss, optimizer="adam", lr=1e-2, steps=60, record_every=20,
                    probes=[flt.LayerSpectra(q), flt.HiddenFeatures(q.points)])
    hists = flt.layer_rank_histories(res.probes["spectra"], res.loss, eps=1e-6)
    assert len(hists) == 3
    feats = res.probes["features"]
    for k, h in enumerate(hists):
        np.testing.assert_array_equal(h.t, 1e-2 * res.iterations)
        for i in range(len(h.t)):       # the same numbers as flowlab's mass_matrix / eps_rank
            M = mass_matrix(feats.values[i][k], q.weights)
            assert h.rank[i] == eps_rank(M, 1e-6)
            np.testing.assert_allclose(h.eigenvalues[i], np.linalg.eigvalsh(M)[::-1],
                                       rtol=1e-10, atol=1e-14)


def test_probes_along_a_flow_follow_the_dense_output(setup):
    net, x, loss = setup
    times = np.linspace(0.0, 2.0, 5)
    sol = flt.flow(net, loss, 2.0, rtol=1e-9, atol=1e-11, probes=[flt.Output(x)],
                   probe_times=times)
    rec = sol.probes["output"]
    np.testing.assert_array_equal(rec.t, times)
    for t, out in zip(times, rec.values):
        np.testing.assert_allclose(out, sol.net_at(t)(x).detach().numpy(), rtol=1e-14)
    # the loss of the rebuilt module is the recorded one
    assert float(loss(sol.net).detach()) == pytest.approx(sol.loss[-1], rel=1e-13)
    # the original module was not changed
    np.testing.assert_array_equal(flt.flatten(net), sol.theta[0])


def test_layer_orientations_of_a_condensed_layer():
    """Input weights placed on known lines are counted per layer."""
    cond = pytest.importorskip("flowlab.analysis.condensation")
    net = flt.DeepNet(2, 6, activation=("tanh", "xtanh"), residual=True)
    rng = np.random.default_rng(0)
    u = np.array([1.0, -0.5, 0.3])
    W0 = np.outer(rng.choice([-1.0, 1.0], 6) * rng.uniform(0.5, 1.0, 6), u)
    lines = rng.normal(size=(2, 7))
    W1 = np.vstack([lines[j % 2] * rng.uniform(0.5, 1.0) for j in range(6)])
    with torch.no_grad():
        net.layers[0].weight.copy_(torch.as_tensor(W0[:, :2]))
        net.layers[0].bias.copy_(torch.as_tensor(W0[:, 2]))
        net.layers[1].weight.copy_(torch.as_tensor(W1[:, :6]))
        net.layers[1].bias.copy_(torch.as_tensor(W1[:, 6]))
        net.output.weight.fill_(1.0)
    x = rng.uniform(-1, 1, (50, 2))
    res = flt.layer_orientations(net, x)
    assert [r.n_lines for r in res] == [1, 2]
    maps = flt.layer_cosine_maps(net)
    np.testing.assert_allclose(np.abs(maps[0].D), 1.0, atol=1e-12)
    assert isinstance(maps[1], cond.CosineMap)


def test_probe_validation():
    with pytest.raises(TypeError, match="probes"):
        flt.train(flt.mlp(1, 3, 1), flt.MSELoss([0.0, 1.0], [0.0, 1.0]), probes=[3], lr=1e-3,
                  steps=1)
    with pytest.raises(TypeError, match="Quadrature"):
        flt.LayerSpectra(np.linspace(0, 1, 5))
