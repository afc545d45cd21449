"""The bridge never hangs on a NaN loss, rejects a vector loss, and checkpoints its flows."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import flowlab.torch as flt  # noqa: E402
from flowlab._flow import _journal  # noqa: E402

from ..timebound import within  # noqa: E402


def _net_and_loss():
    x = np.linspace(-1, 1, 12)
    net = flt.init_default(flt.mlp(1, 4, 2, "tanh"), seed=0)
    return net, flt.MSELoss(x, np.sin(3 * x), "mean")


@pytest.mark.parametrize("method", ["DOP853", "RK45", "RKC", "Radau"])
def test_nan_loss_is_refused_at_the_start(method):
    """Issue case: a loss that returns NaN made the bridge's flow loop forever."""
    net, _ = _net_and_loss()

    def nan_loss(model):
        return (model(torch.zeros(3, 1, dtype=torch.float64)) * np.nan).sum()

    with pytest.raises(ValueError, match="loss at the start.*not finite"):
        within(60, flt.flow, net, nan_loss, 0.1, method=method, progress=False)
    with pytest.raises(ValueError, match="`first_step` must be finite"):
        flt.flow(net, _net_and_loss()[1], 0.1, method=method, first_step=np.nan)


def test_vector_loss_is_refused_with_the_fix():
    """Issue case: a loss that returns a vector gave an error deep in autograd."""
    net, _ = _net_and_loss()
    x = torch.linspace(-1, 1, 5, dtype=torch.float64)[:, None]

    def vector_loss(model):
        return (model(x) ** 2).ravel()

    with pytest.raises(ValueError, match=r"`loss_fn\(model\)` must return a scalar.*\(5,\).*sum"):
        flt.flow(net, vector_loss, 0.1)


def test_bridge_checkpoints_load_from_the_journal(tmp_path, monkeypatch):
    """A bridge flow saving checkpoints leaves a readable partial solution when killed."""
    net, loss = _net_and_loss()
    one = flt.flow(net, loss, 2.0, save=tmp_path / "one.npz", checkpoint_every=1e-9,
                   progress=False)

    class Killed(BaseException):
        pass

    append, calls = _journal.Journal.append, [0]
    kill_at = max(2, one.nsteps // 2)          # a checkpoint after every step
    assert one.nsteps >= 3

    def dying(self, arrays, meta):
        calls[0] += 1
        append(self, arrays, meta)
        if calls[0] == kill_at:
            raise Killed

    monkeypatch.setattr(_journal.Journal, "append", dying)
    with pytest.raises(Killed):
        flt.flow(net, loss, 2.0, save=tmp_path / "part.npz", checkpoint_every=1e-9,
                 progress=False)
    part = flt.TorchSolution.load(tmp_path / "part.npz", flt.mlp(1, 4, 2, "tanh"), loss)
    assert part.status == "interrupted" and 0 < part.t_final < 2.0
    np.testing.assert_array_equal(part.theta, one.theta[:part.t.size])
    assert part.info["checkpoints"] == kill_at


def test_rkc_stops_on_a_nan_step_size():
    """The RKC stepper's watchdog: a NaN spectral radius (an overflowing Hessian) or a NaN
    step size ends the run with a message instead of an error or endless retries."""
    from flowlab.torch.rkc import RKCSolver

    def rho_fun(y, v):
        return np.nan, v

    solver = RKCSolver(lambda y: -y, rho_fun, np.ones(3), 0.0, 1.0, rtol=1e-6, atol=1e-8,
                       first_step=0.1)
    msg = within(30, solver.step)
    assert solver.status == "failed" and "spectral radius estimate" in msg
    solver = RKCSolver(lambda y: -y, lambda y, v: (1.0, v), np.ones(3), 0.0, 1.0, rtol=1e-6,
                       atol=1e-8, first_step=0.1)
    solver.h = np.nan
    msg = within(30, solver.step)
    assert solver.status == "failed" and "not finite" in msg


def test_checkpoint_every_without_save_is_an_error():
    """An option the run cannot use is an error that names it, not ignored."""
    net, loss = _net_and_loss()
    with pytest.raises(ValueError, match="`checkpoint_every`.*save=PATH"):
        flt.flow(net, loss, 0.1, checkpoint_every=5.0, progress=False)
