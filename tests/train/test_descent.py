import numpy as np
import pytest

import flowlab as fl
from flowlab._problem import Problem

from ..reference import adam_ref, gd_ref


@pytest.mark.parametrize("net", [
    fl.TwoLayer(np.random.default_rng(0).normal(size=(5, 2)), np.ones(5), "tanh"),
    fl.ReLU1D(np.random.default_rng(1).normal(size=5), np.ones(5)),
    fl.ReLU1D(np.random.default_rng(2).normal(size=5), np.ones(5), np.ones(5)),
])
@pytest.mark.parametrize("trainable", [None, "c"])
def test_gd_and_adam_match_reference_loops(net, trainable):
    if trainable == "c" and isinstance(net, fl.TwoLayer):
        trainable = "a"
    x = np.linspace(-1, 1, 23)
    y = np.sin(np.pi * x)
    prob = Problem(net, x, y, loss="mean", trainable=trainable)
    res = fl.train.gd(net, x, y, lr=0.05, steps=200, loss="mean", trainable=trainable,
                      record_every=50, record_params=True)
    ref = gd_ref(prob.grad, prob.u0, 0.05, 200)
    np.testing.assert_allclose(res.net.params()[prob.user_index], ref, rtol=1e-11, atol=1e-12)
    np.testing.assert_array_equal(res.iterations, [0, 50, 100, 150, 200])
    np.testing.assert_allclose(res.loss[-1], prob.loss(ref), rtol=1e-10)
    np.testing.assert_allclose(res.params[0], net.params(), rtol=0)
    res = fl.train.adam(net, x, y, lr=1e-2, steps=150, loss="mean", trainable=trainable)
    ref = adam_ref(prob.grad, prob.u0, 1e-2, 150)
    np.testing.assert_allclose(res.net.params()[prob.user_index], ref, rtol=1e-10, atol=1e-11)


def test_divergence_is_reported_not_hidden():
    net = fl.TwoLayer(np.ones((3, 2)), np.ones(3), "xtanh")
    x = np.linspace(-3, 3, 10)
    res = fl.train.gd(net, x, 10 * x, lr=10.0, steps=1000)
    assert res.status == "diverged" and not res.success and "`lr`" in res.stop_reason


def test_train_result_round_trip(tmp_path):
    net = fl.init.he(4, seed=0)
    x = np.linspace(-1, 1, 9)
    res = fl.train.gd(net, x, x ** 2, lr=1e-2, steps=10, record_params=True)
    res.save(tmp_path / "r.npz")
    back = fl.train.TrainResult.load(tmp_path / "r.npz")
    np.testing.assert_array_equal(back.loss, res.loss)
    np.testing.assert_array_equal(back.params, res.params)
    assert back.net == res.net and back.method == "gd"


def test_bad_arguments():
    net = fl.init.he(4, seed=0)
    x = np.linspace(-1, 1, 9)
    with pytest.raises(ValueError, match="lr"):
        fl.train.gd(net, x, x, lr=0.0, steps=1)
    with pytest.raises(ValueError, match="steps"):
        fl.train.gd(net, x, x, lr=0.1, steps=-1)
    with pytest.raises(ValueError, match="beta1"):
        fl.train.adam(net, x, x, lr=1e-3, steps=1, beta1=1.0)


@pytest.mark.parametrize("method", ["gd", "adam"])
@pytest.mark.parametrize("trainable", [None, "b", "c"])
def test_seed_model_loop_equals_the_generic_kernel(method, trainable):
    """ReLU1D with w = 1 runs an O(n + m) loop; the same network with w given (and
    frozen) runs the generic two-layer kernel: the iterates must agree."""
    x = np.random.default_rng(3).uniform(-1, 1, 57)
    y = np.cos(4 * x)
    net = fl.init.he(9, seed=3)
    twin = fl.ReLU1D(net.b, net.c, np.ones(9))
    groups = ("b", "c") if trainable is None else trainable
    f = getattr(fl.train, method)
    kw = dict(lr=0.01, steps=700, loss="mean", record_every=100, record_params=True)
    fast = f(net, x, y, trainable=trainable, **kw)
    slow = f(twin, x, y, trainable=groups, **kw)
    np.testing.assert_allclose(fast.loss, slow.loss, rtol=1e-11)
    np.testing.assert_allclose(fast.params, slow.params[:, :18], rtol=1e-11, atol=1e-13)
    assert fast.net.w is None and fast.info["trainable"] == list(np.atleast_1d(groups))


@pytest.mark.parametrize("net", [fl.init.he(4, seed=1), fl.init.he(4, seed=1, model="twolayer")])
def test_record_at_and_target_loss(net):
    x = np.linspace(-1, 1, 21)
    y = x ** 2
    at = np.array([0, 3, 3, 17, 250, 10_000])
    res = fl.train.gd(net, x, y, lr=0.01, steps=300, loss="mean", record_at=at,
                      record_params=True, target_loss=0.01)
    assert res.iterations.tolist() == [0, 3, 17, 250, 300]
    for k, it in enumerate(res.iterations):
        one = fl.train.gd(net, x, y, lr=0.01, steps=int(it), loss="mean")
        np.testing.assert_allclose(res.params[k], one.net.params(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(res.loss[k], one.loss[-1], rtol=1e-12)
    full = fl.train.gd(net, x, y, lr=0.01, steps=300, loss="mean")
    hit = np.flatnonzero(full.loss <= 0.01)
    assert res.info["target_reached_at"] == (int(hit[0]) if hit.size else None)


def test_seed_model_divergence_is_reported():
    x = np.linspace(-1, 1, 10)
    net = fl.ReLU1D([-2.0, -2.5], [1.0, 1.0])
    res = fl.train.gd(net, x, x, lr=10.0, steps=1000, trainable="c")
    assert res.status == "diverged" and not res.success and "`lr`" in res.stop_reason
    assert res.iterations[-1] < 1000 and np.all(np.isfinite(res.loss[:-1]))


def test_status_vocabulary_is_shared_with_flows(tmp_path):
    """TrainResult and Solution speak one vocabulary (flowlab._status); a TrainResult needs
    a status from it, keeps it through save/load, and reads one for files saved before
    it had a status."""
    from flowlab._status import MEANINGS, STATUSES
    from flowlab._flow.solution import STATUSES as FLOW_STATUSES
    from flowlab.train.result import _LEGACY, _legacy_status
    assert FLOW_STATUSES is STATUSES and set(MEANINGS) == set(STATUSES)
    assert "running" in STATUSES and {s for _, s in _LEGACY} <= set(STATUSES)
    x = np.linspace(-1, 1, 10)
    res = fl.train.gd(fl.ReLU1D([-2.0, -2.5], [1.0, 1.0]), x, x, lr=0.01, steps=5,
                      trainable="c")
    assert res.status == "finished" and res.success and res.stop_reason
    res.save(tmp_path / "r.npz")
    assert fl.train.TrainResult.load(tmp_path / "r.npz").status == "finished"
    with pytest.raises(ValueError, match="`status` must be one of"):
        fl.train.TrainResult(net=res.net, loss=res.loss, iterations=res.iterations,
                             method="gd", loss_kind="sum", status="completed")
    with pytest.raises(TypeError, match="status"):
        fl.train.TrainResult(net=res.net, loss=res.loss, iterations=res.iterations,
                             method="gd", loss_kind="sum")
    assert _legacy_status("diverged (non-finite loss) at iteration 3") == "diverged"
    assert _legacy_status("completed 5 iterations") == "finished"
