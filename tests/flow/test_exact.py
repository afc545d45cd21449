"""The exact event-driven Filippov flow of univariate ReLU networks (Ainsworth & Shin 2021)."""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import flowlab as fl

from ..reference import relu1d_field_masked


def _gd_distances(net, x, y, T, loss, halvings=3, first=None, stepper=None, margin=False):
    """||theta_GD(T) - theta(T)|| for GD with lr = T/N, T/(2N), ...

    With ``margin`` the ladder first descends below the learning rate that resolves the
    flow's near contacts (:func:`_contact_lr`) and returns the ``halvings`` rungs from
    there on (the coarser ones are pre-asymptotic)."""
    sol = fl.flow(net, x, y, T, method="exact", loss=loss, progress=False, stepper=stepper)
    if first is None:
        lam = np.abs(np.linalg.eigvalsh(net.hessian(x, y, loss=loss))).max()
        first = int(np.ceil(T / min(0.05 / lam, T / 50))) if lam > 0 else 50
    if margin:
        lr_mu = _contact_lr(sol, x)
        k_mu = max(0, int(np.ceil(np.log2(T / first / lr_mu)))) if lr_mu < T / first else 0
        assert k_mu <= 10, f"a contact margin needing {k_mu} halvings (too close to test)"
        first *= 2 ** k_mu
    d = []
    for k in range(halvings):
        N = first * 2 ** k
        res = fl.train.gd(net, x, y, lr=T / N, steps=N, loss=loss)
        d.append(np.linalg.norm(res.net.params() - sol.net.params()))
    return sol, np.array(d), T / first


def _slope(d):
    """Order of convergence: slope of log(distance) against log(learning rate)."""
    k = np.arange(d.size)
    return -np.polyfit(k * np.log(2.0), np.log(d), 1)[0]


def _contact_lr(sol, x):
    """The learning rate below which GD resolves every near contact of the flow (as in
    tests/flow/test_exact_nd.py): min over the pairs (neuron j, point i) without an event
    of mu_ji / max_t |dg_ji/dt|, g_ji = w_j x_i - b_j, mu_ji = min_t |g_ji|, from the
    dense output on 8 points per step and the flow's field there."""
    prob = sol.problem()
    net0 = sol.net0
    br = sol.dense.arrays()["breaks"]
    tq = np.unique((br[:-1, None] + np.diff(br)[:, None] * np.linspace(0, 1, 9)[None, :]).ravel())
    theta = sol.theta_at(tq)
    V = np.array([_full(prob, -prob.grad(th[prob.user_index]), th.size) for th in theta])
    G, Gdot = [], []
    for th, vel in zip(theta, V):
        p, dp = net0.unpack(th), net0.unpack(vel)
        w = p["w"] if "w" in p else np.ones_like(p["b"])
        dw = dp["w"] if "w" in dp else np.zeros_like(p["b"])
        G.append(np.abs(np.outer(w, x) - p["b"][:, None]))
        Gdot.append(np.abs(np.outer(dw, x) - dp["b"][:, None]))
    quiet = np.ones((net0.width, len(x)), dtype=bool)
    for e in sol.events:
        quiet[int(e.neuron), int(e.point)] = False
    mu, rate = np.min(G, axis=0), np.max(Gdot, axis=0)
    ratio = np.where(quiet & (rate > 0), mu / np.where(rate > 0, rate, 1.0), np.inf)
    return float(ratio.min())


def _event_jitter(sol, x, y, loss):
    """Sum over the events of the jump of the field across the surface (per unit lr), as
    in tests/flow/test_exact_nd.py: GD crosses a surface up to one step late, so its
    error at T has a part of size up to lr x (the jump), whose fraction of a step varies
    from one learning rate to the next.  For f = sum c_j relu(w_j x - b_j) the jump when
    point i crosses neuron j is scale |c_j r_i| |(1, x_i)| ((1) with w fixed)."""
    scale = 1.0 if loss == "sum" else 1.0 / len(y)
    J = 0.0
    for e in sol.events:
        net_e = sol.net_at(float(e.t))
        r = net_e(x) - y
        j, p = int(e.neuron), int(e.point)
        J += scale * abs(net_e.c[j] * r[p]) * (np.hypot(1.0, x[p]) if net_e.w is not None
                                               else 1.0)
    return J


def _full(prob, v, P):
    out = np.zeros(P)
    out[prob.user_index] = v
    return out


def _random_net(rng, n, train_w):
    b = rng.normal(0, 0.7, n)
    c = rng.normal(0, 1, n)
    w = rng.choice([-1.0, 1.0], n) * rng.uniform(0.5, 1.5, n) if train_w else None
    return fl.ReLU1D(b, c, w)


@settings(max_examples=14, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2 ** 31), n=st.integers(1, 8), m=st.integers(2, 30),
       train_w=st.booleans(), loss=st.sampled_from(["sum", "mean"]))
@example(seed=97, n=1, m=11, train_w=False, loss="mean")   # a near contact: pre-asymptotic
@pytest.mark.parametrize("stepper", ["auto", "radau"])
def test_exact_flow_is_the_limit_of_gradient_descent(seed, n, m, train_w, loss, stepper):
    """GD -> exact flow at first order in the learning rate.

    Without events the distance at T halves with the learning rate (every ratio in
    [1.6, 2.5]).  A crossing adds an O(lr) error whose constant depends on where the
    crossing falls inside a GD step (up to one step of overshoot, which a neuron that
    dies right after keeps), so single ratios fluctuate between 1 and much more; with
    sliding GD chatters around the pinned knot.  There the distance is checked to be
    O(lr) over seven halvings.
    """
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-1, 1, m))
    y = rng.normal(size=m)
    net = _random_net(rng, n, train_w)
    T = 0.5 if loss == "sum" else 5.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sol = fl.flow(net, x, y, T, method="exact", loss=loss, progress=False,
                      stepper=stepper)
    if sol.status == "degenerate":
        # a neuron collapsed to w = b = 0, where the Filippov solution is not unique
        # (gradient descent leaves along a direction its step selects): reported, not
        # continued; covered by test_collapsing_neuron_is_reported
        assert train_w and "collapsed" in sol.message
        return
    if sol.info["repelling"]:
        # c_j through 0 mid-slide: past it the continuation is not unique (GD leaves on
        # either side), so the limit is checked up to that time
        T = sol.info["repelling"][0][0]
    halvings = 3 if sol.info["n_events"] == 0 else 7
    sol, d, lr = _gd_distances(net, x, y, T, loss, halvings=halvings, stepper=stepper,
                               margin=True)
    assert sol.success
    if d[0] <= 1e-13 * (1 + np.abs(net.params()).max()):
        assert np.all(d <= 1e-13 * (1 + np.abs(net.params()).max()))   # nothing moves
        return
    if sol.info["n_events"] == 0:
        ratios = d[:-1] / d[1:]
        assert np.all((ratios >= 1.6) & (ratios <= 2.5)), ratios
    else:
        # O(lr): the error constant d / lr does not grow as lr -> 0 beyond the crossings'
        # jitter, and d falls by at least 2^(0.5 k) over k halvings (a wrong limit would
        # leave d flat) where the jitter does not dominate
        const = d / (lr / 2.0 ** np.arange(d.size))
        jitter = _event_jitter(sol, x, y, loss)
        assert const[-2:].max() <= 4.0 * const[:3].max() + 2.0 * jitter, (d, jitter)
        if jitter <= const[:3].max():
            assert _slope(d) >= 0.5, d


@settings(max_examples=14, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2 ** 31), n=st.integers(1, 8), m=st.integers(1, 30),
       train_w=st.booleans(), loss=st.sampled_from(["sum", "mean"]))
@pytest.mark.parametrize("stepper", ["auto", "radau"])
def test_loss_monotone_energy_balance_and_event_kinds(seed, n, m, train_w, loss, stepper):
    rng = np.random.default_rng(seed)
    x = np.sort(np.round(rng.uniform(-1, 1, m), 1))          # rounding creates equal x values
    y = rng.normal(size=m)
    net = _random_net(rng, n, train_w)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sol = fl.flow(net, x, y, 2.0, method="exact", loss=loss, progress=False,
                      stepper=stepper)
    # a collapsing neuron (trained w only) stops the run: the checks cover what was computed
    assert sol.success or (train_w and sol.status == "degenerate"), sol.message
    L = sol.loss
    # the exact flow evaluates L from prefix moments: rounding ~ eps * scale * sum y^2
    floor = 1e-13 * (1.0 if loss == "sum" else 1.0 / m) * np.sum(y ** 2)
    assert np.all(np.diff(L) <= max(1e-13 * L[0], floor))
    drop = L[0] - L[-1]
    if drop > 1e-10 * L[0]:
        assert abs(drop - sol.dissipation()) <= 1e-8 * drop
    _check_event_kinds(sol, x, y, loss)


def _check_event_kinds(sol, x, y, loss):
    """Every recorded kind agrees with the one-sided fields, recomputed with numpy."""
    net0 = sol.net0
    for ev in sol.events:
        th = sol.theta_at(ev.t)
        p = net0.unpack(th)
        b, c, w = p["b"], p["c"], p.get("w")
        wv = np.ones_like(b) if w is None else w
        j, i = int(ev.neuron), int(ev.point)
        if ev.kind == "slide_end" and [float(ev.t), j] in sol.info["repelling"]:
            assert abs(c[j]) <= 1e-10 * (1.0 + np.abs(c).max()), ev        # ended by c_j = 0
            continue
        g = wv[j] * x[i] - b[j]
        assert abs(g) <= 1e-9 * (abs(wv[j] * x[i]) + abs(b[j]) + 1e-12)
        mask = (np.outer(x, wv) - b[None, :]) > 0
        same = x == x[i]
        mask_in, mask_act = mask.copy(), mask.copy()
        mask_in[same, j] = False
        mask_act[same, j] = True
        n = b.size
        dg = []
        for mk in (mask_in, mask_act):
            F = relu1d_field_masked(b, c, w, x, y, loss, mk)
            db, dw = F[j], (F[2 * n + j] if w is not None else 0.0)
            dg.append(dw * x[i] - db)
        g_in, g_act = dg
        scale = abs(g_in) + abs(g_act) + 1e-300
        if ev.kind == "cross":
            assert g_in * g_act >= 0 and scale > 0, (ev, g_in, g_act)
        elif ev.kind == "slide_start":
            assert g_in > -1e-9 * scale and g_act < 1e-9 * scale, (ev, g_in, g_act)
        else:
            assert min(abs(g_in), abs(g_act)) <= 1e-6 * scale, (ev, g_in, g_act)


def test_output_weight_through_zero_mid_slide_ends_the_slide():
    """c_3 reaches 0 while knot 3 slides (a random problem): both one-sided fields flip,
    the slide ends on the inactive side and the time is reported; up to it the flow is the
    limit of gradient descent."""
    rng = np.random.default_rng(76)
    n, m = int(rng.integers(1, 8)), int(rng.integers(3, 30))       # 4 neurons, 24 points
    x = rng.uniform(-1, 1, m)
    y = rng.normal(size=m)
    net = fl.ReLU1D(rng.normal(size=n), rng.normal(size=n),
                    rng.choice([-1, 1], n) * rng.uniform(0.5, 1.5, n))
    sol = fl.flow(net, x, y, 2.0, progress=False)
    assert sol.success, sol.message
    (t_r, j), = sol.info["repelling"][:1]
    assert abs(net.unpack(sol.theta_at(t_r))["c"][j]) <= 1e-10
    ends = [ev for ev in sol.events if ev.kind == "slide_end" and ev.t == t_r]
    assert len(ends) == 1 and ends[0].neuron == j and ends[0].side == -1
    _, d, _ = _gd_distances(net, x, y, t_r, "sum", halvings=5)
    assert d[-1] < 0.3 * d[0] and _slope(d) >= 0.5, d


@pytest.mark.filterwarnings("ignore:the gradient flow of a ReLU network is not smooth")
def test_matches_scipy_before_the_first_event():
    x = np.linspace(-1, 1, 40)
    y = np.sin(np.pi * x)
    net = fl.init.he(6, seed=2, train_w=True)
    sol = fl.flow(net, x, y, 5.0, method="exact", progress=False)
    t1 = sol.events.t[0] * 0.999 if len(sol.events) else 5.0
    ref = fl.flow(net, x, y, t1, method="Radau", rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(sol.theta_at(t1), ref.net.params(), rtol=1e-9, atol=1e-11)


def test_plateau_sine_runs_fast_and_records_stages():
    x = np.linspace(-1, 1, 100)
    y = np.sin(np.pi * x)
    sol = fl.flow(fl.init.he(10, seed=0), x, y, 1e3, method="exact", progress=False)
    assert sol.success and sol.info["n_events"] > 10
    st_ = sol.stages
    assert st_.start[0] == 0.0 and st_.end[-1] == sol.t_final
    assert np.all(st_.end[:-1] == st_.start[1:])
    assert np.all(st_.u_l.sum(axis=1) == x.size)             # {U_l} partitions the data
    assert np.all(np.any(st_.u_l[1:] != st_.u_l[:-1], axis=1))
    # the counts of every stage without a sliding knot are the activation counts of the
    # network inside it (a knot held on a point is on its surface: the point counts as
    # inactive there, which the interpolated network only meets to rounding)
    from flowlab.analysis.plateau import activation_counts
    ev = sol.events
    slides = []
    for e in ev[ev.kind == "slide_start"]:
        ends = ev[(ev.kind == "slide_end") & (ev.neuron == e.neuron) & (ev.t >= e.t)]
        slides.append((e.t, ends.t[0] if len(ends) else np.inf))
    checked = 0
    for s0, s1, u in zip(st_.start, st_.end, st_.u_l):
        mid = 0.5 * (s0 + s1)
        if not any(a <= mid <= b for a, b in slides):
            np.testing.assert_array_equal(u, activation_counts(sol.net_at(mid), x))
            checked += 1
    assert checked >= 5


def test_equal_x_values_and_several_events_at_one_instant():
    x = np.repeat(np.linspace(-1, 1, 7), 3)
    y = np.cos(2 * x) + np.tile([0.0, 0.1, -0.1], 7)
    b = np.array([0.3, 0.3, -0.45, 0.7])
    c = np.array([1.0, 1.0, -0.5, 0.8])
    net = fl.ReLU1D(b, c)                  # neurons 0 and 1 are identical
    sol = fl.flow(net, x, y, 3.0, method="exact", progress=False)
    assert sol.success
    ev = sol.events
    first = ev[ev.neuron == 0]
    second = ev[ev.neuron == 1]
    assert len(first) and len(first) == len(second)
    np.testing.assert_array_equal(first.t, second.t)         # simultaneous events
    groups = [ev[(ev.t == t) & (ev.neuron == 0)] for t in np.unique(first.t)]
    assert all(len(gr) % 3 == 0 for gr in groups)            # one record per tied point
    _, d, _ = _gd_distances(net, x, y, 3.0, "sum", halvings=6)
    assert _slope(d) >= 0.8, d
    _check_event_kinds(sol, x, y, "sum")


def _fields_at_start(net, x, y, j, i, loss="sum"):
    b, c = net.b, net.c
    mask = (np.outer(x, np.ones_like(b)) - b[None, :]) > 0
    out = []
    for active in (False, True):
        mk = mask.copy()
        mk[i, j] = active
        F = relu1d_field_masked(b, c, None, x, y, loss, mk)
        out.append(-F[j])                  # dg/dt = -db/dt for w = 1
    return out


def test_knot_exactly_on_a_data_point_at_start():
    """The side of a point lying on a knot at t = 0 comes from the one-sided fields."""
    x = np.linspace(-1, 1, 21)
    seen = set()
    for y, c0, c1 in ((np.abs(x), 1.0, -0.7), (np.abs(x), -1.0, 0.7), (np.abs(x), 0.3, 0.7),
                      (2.0 - 32.0 * (np.arange(21) == 8), 1.0, 0.7),
                      (np.abs(x) + 3.0 * (np.arange(21) == 8), 1.0, 0.7)):
        if True:
            net = fl.ReLU1D([x[8], x[14]], [c0, c1])           # both knots on data points
            sol = fl.flow(net, x, y, 1.0, method="exact", progress=False)
            assert sol.success
            _check_event_kinds(sol, x, y, "sum")
            for j, i in ((0, 8), (1, 14)):
                g_in, g_act = _fields_at_start(net, x, y, j, i)
                ev0 = sol.events[(sol.events.t == 0.0) & (sol.events.neuron == j)]
                if g_in > 0 > g_act:
                    expected = ["slide_start"]
                elif g_in > 0 and g_act > 0:
                    expected = ["cross"]
                else:
                    expected = []                               # stays inactive
                assert list(ev0.kind) == expected, (c0, c1, j, g_in, g_act, ev0)
                seen.update(expected)
    assert seen == {"cross", "slide_start"}
    y = np.abs(x)
    net = fl.ReLU1D([x[8], x[14]], [1.0, -0.7])
    _, d, _ = _gd_distances(net, x, y, 2.0, "sum", halvings=5)
    assert _slope(d) >= 0.8, d


def test_dead_neuron_and_zero_coefficient():
    x = np.linspace(-1, 1, 30)
    y = x ** 2
    net = fl.ReLU1D([5.0, -0.2, 0.3], [0.7, 0.0, 1.1])         # neuron 0 dead, c_1 = 0
    sol = fl.flow(net, x, y, 3.0, method="exact", progress=False)
    assert sol.success
    assert sol.net.b[0] == 5.0 and sol.net.c[0] == 0.7         # dead neuron untouched
    assert sol.net.c[1] != 0.0
    _, d, _ = _gd_distances(net, x, y, 3.0, "sum", halvings=5)
    assert _slope(d) >= 0.8, d


def test_input_weight_passing_through_zero():
    x = np.linspace(-1, 1, 25)
    y = -0.8 * x + 1.0
    net = fl.ReLU1D([-2.0, 0.5], [1.0, 0.3], w=[0.3, 1.0])     # neuron 0 active everywhere
    sol = fl.flow(net, x, y, 4.0, method="exact", progress=False)
    assert sol.success and sol.net.w[0] < 0 < net.w[0]        # w_0 changed sign
    _, d, _ = _gd_distances(net, x, y, 4.0, "sum", halvings=3)
    assert 1.6 <= d[0] / d[1] <= 2.5


@pytest.mark.parametrize("loss", ["sum", "mean"])
def test_twolayer_relu_in_1d_equals_relu1d_with_w(loss):
    rng = np.random.default_rng(5)
    x = np.linspace(-1, 1, 30)
    y = np.sin(3 * x)
    b, c, w = rng.normal(size=(3, 5))
    r = fl.flow(fl.ReLU1D(b, c, w), x, y, 2.0, method="exact", loss=loss, progress=False)
    t = fl.flow(fl.TwoLayer(np.column_stack([w, -b]), c, "relu"), x[:, None], y, 2.0,
                loss=loss, progress=False)
    assert t.method == "exact"
    np.testing.assert_allclose(t.net.W[:, 0], r.net.w, rtol=1e-12)
    np.testing.assert_allclose(t.net.W[:, 1], -r.net.b, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(t.net.a, r.net.c, rtol=1e-12)
    np.testing.assert_array_equal(t.events.t, r.events.t)


def test_frozen_groups_and_resume(tmp_path):
    x = np.linspace(-1, 1, 30)
    y = np.sin(np.pi * x)
    net = fl.init.he(6, seed=4)
    only_c = fl.flow(net, x, y, 2.0, method="exact", trainable="c", progress=False)
    np.testing.assert_array_equal(only_c.net.b, net.b)
    assert len(only_c.events) == 0
    whole = fl.flow(net, x, y, 4.0, method="exact", progress=False)
    fl.flow(net, x, y, 2.0, method="exact", progress=False, save=tmp_path / "a.npz")
    joined = fl.resume(tmp_path / "a.npz", t_end=4.0, progress=False)
    np.testing.assert_allclose(joined.net.params(), whole.net.params(), rtol=1e-7, atol=1e-9)
    assert joined.stages.end[-1] == 4.0
    assert whole.info["n_events"] > 0
    assert joined.info["n_events"] == len(joined.events) == len(whole.events)
    assert joined.info["n_slides"] == whole.info["n_slides"]
    assert joined.info["n_stages"] == len(joined.stages)


def test_collapsing_neuron_is_reported():
    """A neuron sliding on a point whose input weight shrinks to 0 from both sides."""
    rng = np.random.default_rng(151)
    x = np.sort(rng.uniform(-1, 1, 22))
    y = rng.normal(size=22)
    b, c = rng.normal(0, 0.7, 4), rng.normal(0, 1, 4)
    w = rng.choice([-1.0, 1.0], 4) * rng.uniform(0.5, 1.5, 4)
    with pytest.warns(RuntimeWarning, match="degenerate"):
        sol = fl.flow(fl.ReLU1D(b, c, w), x, y, 0.5, method="exact", progress=False)
    assert sol.status == "degenerate" and "neuron 3" in sol.message
    assert abs(sol.net.w[3]) < 1e-12 and 0.3 < sol.t_final < 0.4
    res = fl.train.gd(fl.ReLU1D(b, c, w), x, y, lr=1e-5, steps=int(sol.t_final / 1e-5))
    assert abs(res.net.w[3]) < 0.02                            # GD shrinks it too


def test_zeno_detector_reports_accumulating_events():
    from flowlab._flow.exact_1d import Exact1D, ZenoError
    from flowlab._problem import Problem
    x = np.linspace(-1, 1, 5)
    eng = Exact1D(Problem(fl.init.he(2, seed=0), x, x, "sum"), 1.0, rtol=1e-10, atol=1e-12,
                  t0=0.0, gtol=None, max_steps=None, progress=False)
    with pytest.raises(ZenoError, match="accumulation"):
        for k in range(eng.recent.size):
            eng._check_zeno(0.5 + 1e-15 * k)
    fresh = Exact1D(Problem(fl.init.he(2, seed=0), x, x, "sum"), 1.0, rtol=1e-10, atol=1e-12,
                    t0=0.0, gtol=None, max_steps=None, progress=False)
    for k in range(3 * fresh.recent.size):                 # well separated: no alarm
        fresh._check_zeno(0.5 + 1e-3 * k)
