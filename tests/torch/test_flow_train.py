"""Flow and training of deep modules: invariants, options, errors, saving."""

import inspect

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import flowlab.torch as flt  # noqa: E402


@pytest.fixture
def setup():
    x = np.linspace(-1, 1, 30)
    net = flt.init_default(flt.resnet(1, 5, 3, "tanh"), seed=1)
    return net, flt.MSELoss(x, np.cos(3 * x) + x, "mean")


def test_deep_flow_dissipates_energy_and_gd_converges_to_it(setup):
    """L(0) - L(T) = int |theta'|^2 dt, and GD approaches the flow at rate O(lr)."""
    net, loss = setup
    T = 2.0
    sol = flt.flow(net, loss, T, rtol=1e-10, atol=1e-12)
    assert np.all(np.diff(sol.loss) <= 1e-15)
    assert sol.dissipation() == pytest.approx(sol.loss[0] - sol.loss[-1], rel=1e-7)
    errs = []
    for lr in (0.04, 0.02, 0.01):
        res = flt.train(net, loss, optimizer="gd", lr=lr, steps=int(round(T / lr)),
                        record_every=10 ** 6)
        errs.append(np.linalg.norm(flt.flatten(res.net) - sol.theta_final))
    rates = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert np.all(np.abs(rates - 1.0) < 0.15), (errs, rates)


def test_trainable_subset_and_linear_regime(setup):
    net, loss = setup
    sol = flt.flow(net, loss, 1.0, trainable="output", rtol=1e-9, atol=1e-11)
    assert sol.trainable == ("output.weight",)
    moved = np.flatnonzero(np.any(sol.theta != sol.theta[0], axis=0))
    lo, hi = sol.flat.offsets[-2], sol.flat.offsets[-1]
    assert moved.size and moved.min() >= lo and moved.max() < hi
    res = flt.train(net, loss, optimizer="sgd", lr=0.1, steps=5, trainable=["output"],
                    optimizer_options={"momentum": 0.9}, record_params=True)
    changed = np.flatnonzero(np.any(res.params != res.params[0], axis=0))
    assert changed.min() >= lo
    with pytest.raises(ValueError, match="matches no parameter"):
        flt.flow(net, loss, 1.0, trainable="nope")


def test_solution_save_load_and_module_at(setup, tmp_path):
    net, loss = setup
    sol = flt.flow(net, loss, 0.5, rtol=1e-9, atol=1e-11)
    path = sol.save(tmp_path / "sol.npz")
    back = flt.TorchSolution.load(path, flt.resnet(1, 5, 3, "tanh"), loss)
    np.testing.assert_array_equal(back.theta, sol.theta)
    np.testing.assert_allclose(back.theta_at(0.3), sol.theta_at(0.3), rtol=0, atol=0)
    m = back.module_at(0.3)
    assert float(loss(m).detach()) == pytest.approx(sol.loss_at(0.3), rel=1e-13)
    with pytest.raises(ValueError, match="does not match"):
        flt.TorchSolution.load(path, flt.mlp(1, 4, 3, "tanh"), loss)


def test_adam_and_options(setup):
    net, loss = setup
    res = flt.train(net, loss, optimizer="adam", lr=1e-2, steps=40, record_at=[0, 5, 39],
                    target_loss=1e9)
    assert res.iterations.tolist() == [0, 5, 39, 40]
    assert res.info["target_reached_at"] == 0 and res.loss[-1] < res.loss[0]
    with pytest.raises(ValueError, match="optimizer"):
        flt.train(net, loss, optimizer="lbfgs", lr=1e-3, steps=1)
    with pytest.raises(ValueError, match="no `optimizer_options`"):
        flt.train(net, loss, optimizer="gd", lr=1e-3, steps=1, optimizer_options={"momentum": 0.9})
    with pytest.raises(TypeError, match="do not fit"):
        flt.train(net, loss, optimizer="adam", lr=1e-3, steps=1,
                  optimizer_options={"momentum": 0.9})


def test_divergence_is_reported(setup):
    net, loss = setup
    res = flt.train(net, loss, optimizer="gd", lr=1e4, steps=50)
    assert res.status == "diverged" and not np.isfinite(res.loss[-1])


def test_flow_argument_errors(setup):
    net, loss = setup
    with pytest.raises(ValueError, match="'exact' integrates flowlab's own ReLU"):
        flt.flow(net, loss, 1.0, method="exact")
    with pytest.raises(TypeError, match="torch.nn.Module"):
        flt.flow(lambda x: x, loss, 1.0)
    with pytest.raises(TypeError, match="callable"):
        flt.flow(net, 3.0, 1.0)
    with pytest.raises(ValueError, match="t_end"):
        flt.flow(net, loss, -1.0)
    with pytest.raises(ValueError, match="only apply to method='RKC'"):
        flt.flow(net, loss, 1.0, method="DOP853", max_stages=10)
    with pytest.raises(ValueError, match="lanczos"):
        flt.flow(net, loss, 1.0, method="RKC", lanczos=1)


def test_rkc_flow_matches_dop853_and_honours_its_options(setup):
    net, loss = setup
    ref = flt.flow(net, loss, 2.0, rtol=1e-11, atol=1e-13)
    sol = flt.flow(net, loss, 2.0, method="rkc", rtol=1e-7, atol=1e-9, max_stages=4,
                   rho_every=5, lanczos=6)
    assert sol.method == "RKC" and sol.status == "finished"
    assert sol.info["max_stages"] == 4 and 2 <= sol.info["stages_max"] <= 4
    times = [0.5, 1.0, 2.0]
    err = np.linalg.norm(sol.theta_at(times) - ref.theta_at(times), axis=1)
    assert np.all(err < 1e-4 * np.linalg.norm(ref.theta_at(times), axis=1)), err


def test_train_takes_its_options_by_keyword_and_requires_lr_and_steps():
    """The bridge's trainer follows flowlab's calling convention (docs/conventions.md):
    options keyword-only, lr and steps required, an old positional call names the new
    form."""
    net = flt.init_default(flt.mlp(1, 3, 1), seed=0)
    loss = flt.MSELoss(np.linspace(-1, 1, 5), np.linspace(-1, 1, 5) ** 2)
    params = inspect.signature(flt.train).parameters
    assert [p for p in params if params[p].kind is params[p].POSITIONAL_OR_KEYWORD] == [
        "module", "loss_fn"]
    assert params["lr"].default is inspect.Parameter.empty
    assert params["steps"].default is inspect.Parameter.empty
    with pytest.raises(TypeError, match="lr.*steps|steps.*lr"):
        flt.train(net, loss)
    with pytest.raises(TypeError, match=r"write train\(module, loss_fn, optimizer='gd', "
                                        r"lr=0.1, steps=3, \.\.\.\)"):
        flt.train(net, loss, "gd", 0.1, 3)
