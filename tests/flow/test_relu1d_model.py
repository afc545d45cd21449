"""The named stage model of the univariate exact flow (flowlab._kernels.relu1d.Model): its
watch list says which surface each row watches, and the compiled kernels read the fields
the names say."""

import numba as nb
import numpy as np
import pytest

import flowlab as fl
from flowlab._flow.exact_1d import Exact1D
from flowlab._kernels import relu1d, relu1d_scan, relu1d_stage
from flowlab._kernels.hooks import _HOOKS
from flowlab._problem import Problem

OPTS = dict(rtol=1e-10, atol=1e-12, t0=0.0, gtol=None, max_steps=None, progress=False)


def _engine(train_w, pinned=()):
    rng = np.random.default_rng(3)
    x = np.sort(rng.uniform(-1, 1, 17))
    w = rng.choice([-1.0, 1.0], 5) * rng.uniform(0.5, 1.5, 5) if train_w else None
    net = fl.ReLU1D(rng.normal(0, 0.5, 5), rng.normal(size=5), w)
    e = Exact1D(Problem(net, x, np.sin(3 * x), "sum"), 1.0, **OPTS)
    for j, p in pinned:                      # as a slide start does
        e._snap(j, p)
        e.pin[j] = p
    e.lo, e.hi = e._intervals(e.theta)
    for j, p in pinned:
        if e.lo[j] <= p < e.hi[j]:
            e._remove(j, p)
    return e


def test_model_is_registered_by_its_class():
    assert relu1d.Model in _HOOKS
    model, _ = _engine(False)._model()
    assert type(model) is relu1d.Model
    assert model.watch.dtype == relu1d.WATCH_DTYPE


@pytest.mark.parametrize("train_w", [False, True])
def test_watch_rows_name_their_surfaces(train_w):
    e = _engine(train_w, pinned=[(2, 6)])
    model, armed = e._model()
    n, xs, th = e.n, e.data.xs, e.theta
    b, c = th[:n], th[n:2 * n]
    w = th[2 * n:] if train_w else np.ones(n)
    rows = model.watch[:model.n_watch[0]]
    # the pinned neuron: both ends of its slide, its pivot (w trained) and its output weight
    mine = rows[rows["neuron"] == 2]
    relu1d.moments(model, th)
    _, D = relu1d_scan.slide_functions(model, th, 2, 6)
    slide = mine[mine["kind"] == relu1d.ROW_SLIDE]
    assert sorted(slide["side"]) == [relu1d.SLIDE_TO_INACTIVE, relu1d.SLIDE_TO_ACTIVE]
    assert np.all(slide["point"] == 6) and np.all(slide["sigma"] == np.sign(D))
    pivot = mine[mine["kind"] == relu1d.ROW_PIVOT]
    assert len(pivot) == (1 if train_w else 0)
    assert np.all(pivot["side"] == np.sign(w[2]))
    out, = mine[mine["kind"] == relu1d.ROW_OUTPUT]
    assert out["side"] == np.sign(c[2]) and out["sigma"] == 0.0
    assert not np.any(mine["kind"] == relu1d.ROW_BOUNDARY)
    # the free neurons: the points next to the ends of their active intervals, on the
    # side they are (g = w x - b > 0 on the active side), armed away from the surface
    bound = rows[rows["kind"] == relu1d.ROW_BOUNDARY]
    assert set(bound["neuron"]) == set(range(n)) - {2}
    for r, arm in zip(bound, armed[:model.n_watch[0]][rows["kind"] == relu1d.ROW_BOUNDARY]):
        j, p, side = r["neuron"], r["point"], r["side"]
        active = model.lo[j] <= p < model.hi[j]
        assert side == (1 if active else -1)
        g = w[j] * xs[p] - b[j]
        thr = relu1d.ARM_RTOL * (abs(w[j]) * model.extent + abs(b[j]))
        assert (g > 0) == active and arm == (g * side > thr)
        assert p in (model.lo[j] - 1, model.lo[j], model.hi[j] - 1, model.hi[j], 0, xs.size - 1)


def test_scratch_rows_hold_the_moments():
    """moments() leaves R0_j, R1_j (sums of r_i and r_i x_i over neuron j's active points)
    in the rows W_R0, W_R1 and f = alpha x + beta on each block in W_SLOPE, W_OFFSET."""
    e = _engine(True)
    model, _ = e._model()
    th = e.theta
    loss = relu1d.moments(model, th)
    n, x, y = e.n, e.data.xs, np.sin(3 * e.data.xs)
    b, c, w = th[:n], th[n:2 * n], th[2 * n:]
    act = (np.outer(x, w) - b) > 0
    f = (np.maximum(np.outer(x, w) - b, 0.0) * c).sum(axis=1)
    r = f - y
    np.testing.assert_allclose(model.work[relu1d.W_R0, :n], act.T @ r, atol=1e-13)
    np.testing.assert_allclose(model.work[relu1d.W_R1, :n], act.T @ (r * x), atol=1e-13)
    assert loss == pytest.approx(0.5 * np.sum(r ** 2), rel=1e-13)
    for s in range(model.n_blocks[0]):
        i0, i1 = model.block_starts[s], model.block_starts[s + 1]
        fit = model.work[relu1d.W_SLOPE, s] * x[i0:i1] + model.work[relu1d.W_OFFSET, s]
        np.testing.assert_allclose(fit, f[i0:i1], atol=1e-13)


# the hooks are compiled without a Python entry point (flowlab._kernels.internal)
@nb.njit
def _rhs(model, u, f):
    relu1d.rhs(model, u, f)


@nb.njit
def _events(model, nodes, armed):
    return relu1d_scan.events(model, nodes, armed)


@nb.njit
def _event_rate(model, u, f):
    return relu1d_scan.event_rate(model, u, f)


def test_event_row_and_event_columns():
    """The scan writes the watch row of the event it finds into ``event_row``; the stage
    loop records events in the EVENT_* columns and counts them in the counters."""
    e = _engine(False)
    model, armed = e._model()
    u = e.theta[model.free].copy()
    f = np.empty_like(u)
    _rhs(model, u, f)
    nodes = np.array([u + s * 50.0 * f for s in (0.0, 0.25, 0.75, 1.0)])
    found, s = _events(model, nodes, armed.copy())
    assert found and 0.0 < s <= 1.0
    k = model.event_row[0]
    row = model.watch[k]
    assert row["kind"] == relu1d.ROW_BOUNDARY
    g, _ = _event_rate(model, _state_at(nodes, s), f)
    assert abs(g) <= 1e-12
    ev_t, ev_i = np.zeros(3), np.zeros((3, 4), np.int64)
    counters = np.zeros(4, np.int64)
    relu1d_stage.record_event(ev_t, ev_i, counters, 0.5, 3, 7, relu1d_stage.K_SLIDE_END, -1)
    assert counters[relu1d_stage.EVENTS_RECORDED] == 1 and ev_t[0] == 0.5
    assert ev_i[0, relu1d_stage.EVENT_NEURON] == 3 and ev_i[0, relu1d_stage.EVENT_POINT] == 7
    assert ev_i[0, relu1d_stage.EVENT_KIND] == relu1d_stage.K_SLIDE_END
    assert ev_i[0, relu1d_stage.EVENT_SIDE] == -1


def _state_at(nodes, s):
    out = np.empty(nodes.shape[1])
    relu1d_scan._interp_state(nodes, s, out)
    return out
