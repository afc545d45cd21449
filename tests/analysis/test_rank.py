import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import ortho_group

import flowlab as fl
from flowlab.analysis import (composite_gauss_legendre, gauss_legendre, mass_matrix,
                              neuron_mass_matrix, neuron_rank, rank_along, relu_gram_1d,
                              staircase)
from tests.reference import mass_matrix_loops


def _with_spectrum(lam, seed=0):
    Q = ortho_group.rvs(len(lam), random_state=seed)
    M = (Q * lam) @ Q.T
    return 0.5 * (M + M.T)


# -- eps_rank ---------------------------------------------------------------------------


def test_eps_rank_is_public_with_the_seed_default():
    assert fl.eps_rank is fl.analysis.eps_rank
    assert fl.eps_rank(np.diag([1.0, 2e-6, 5e-7])) == 2          # default eps = 1e-6


@given(data=st.data(), n=st.integers(1, 30), eps_exp=st.integers(-8, -1))
@settings(max_examples=40, deadline=None)
def test_eps_rank_counts_a_known_spectrum_exactly(data, n, eps_exp):
    eps = 10.0 ** eps_exp
    # eigenvalues at least 1e-3 eps >= 1e-11 away from eps, far above the solver's error
    # (about n * 1e-16 * max(lambda) <= 1e-13)
    logs = data.draw(st.lists(st.floats(-14, 1), min_size=n, max_size=n))
    lam = np.array([10.0 ** v for v in logs])
    lam = np.where(np.abs(np.log10(lam / eps)) < 1e-3, eps * 1.01, lam)
    M = _with_spectrum(lam, seed=n)
    assert fl.eps_rank(M, eps) == int(np.sum(lam > eps))


def test_eps_rank_with_eigenvalues_clustered_around_eps():
    eps = 1e-6
    above = eps * (1 + 1e-7 * np.arange(1, 11))         # 10 eigenvalues just above eps
    below = eps * (1 - 1e-7 * np.arange(1, 11))         # 10 just below
    lam = np.concatenate([above, below, [1.0, 0.5, 1e-12, 0.0]])
    M = _with_spectrum(lam, seed=1)
    assert fl.eps_rank(M, eps) == 12
    assert fl.eps_rank(M, eps * (1 + 5.5e-7)) == 2 + 5   # between the clustered values
    assert fl.eps_rank(np.diag([1.0, 0.5, 0.25]), 0.5) == 1   # strict inequality lambda > eps


def test_eps_rank_of_a_rank_deficient_mass_matrix():
    rng = np.random.default_rng(0)
    D = rng.normal(size=(40, 3)) @ rng.normal(size=(3, 8))   # 8 functions spanning 3 dimensions
    assert fl.eps_rank(mass_matrix(D), 1e-8) == 3


@pytest.mark.parametrize("M, match", [
    (np.array([[1.0, 2.0], [0.0, 1.0]]), "must be symmetric"),
    (np.ones((2, 3)), "square"),
    (np.ones(3), "2-dimensional"),
    (np.array([[1.0, np.nan], [np.nan, 1.0]]), "NaN"),
])
def test_eps_rank_rejects_bad_matrices(M, match):
    with pytest.raises(ValueError, match=match):
        fl.eps_rank(M)


def test_eps_rank_accepts_rounding_asymmetry_and_rejects_bad_eps():
    M = _with_spectrum([1.0, 1e-3, 1e-9])
    M[0, 1] += 1e-15
    assert fl.eps_rank(M) == 2
    with pytest.raises(ValueError, match="eps"):
        fl.eps_rank(M, eps=-1.0)
    with pytest.raises(TypeError, match="eps"):
        fl.eps_rank(M, eps="small")


# -- mass matrices ----------------------------------------------------------------------


def test_mass_matrix_matches_the_triple_loop_and_is_symmetric(rng):
    D = rng.normal(size=(30, 7))
    w = rng.uniform(0.1, 1.0, 30)
    M = mass_matrix(D, w)
    np.testing.assert_allclose(M, mass_matrix_loops(D, w), rtol=1e-13, atol=1e-14)
    assert np.array_equal(M, M.T)
    w[3] = -0.5                                          # signed weights take the other path
    np.testing.assert_allclose(mass_matrix(D, w), mass_matrix_loops(D, w), rtol=1e-12,
                               atol=1e-13)


def test_mass_matrix_of_monomials_is_the_hilbert_like_matrix():
    q = gauss_legendre(10, (0.0, 1.0))
    D = np.column_stack([q.points ** k for k in range(5)])
    exact = 1.0 / (np.arange(5)[:, None] + np.arange(5)[None, :] + 1.0)
    np.testing.assert_allclose(mass_matrix(D, q.weights), exact, rtol=1e-13)


def test_mass_matrix_rejects_mismatched_weights():
    with pytest.raises(ValueError, match="one entry per row"):
        mass_matrix(np.ones((4, 2)), np.ones(3))


def test_neuron_mass_matrix_exact_and_by_quadrature_agree_for_relu_nets(rng):
    b, w = rng.uniform(-0.9, 0.9, 6), rng.normal(size=6)
    net = fl.ReLU1D(b, rng.normal(size=6), w)
    q = composite_gauss_legendre(b / w, 2, domain=(-1.0, 1.0))   # exact for the products
    G = neuron_mass_matrix(net, (-1.0, 1.0))
    np.testing.assert_allclose(neuron_mass_matrix(net, q), G, rtol=1e-12, atol=1e-15)
    tl = fl.TwoLayer(np.column_stack([w, -b]), net.c, "relu")   # same neurons as a TwoLayer
    np.testing.assert_allclose(neuron_mass_matrix(tl, (-1.0, 1.0)), G, rtol=1e-15)
    np.testing.assert_allclose(relu_gram_1d(b, w), G, rtol=1e-15)


def test_neuron_mass_matrix_errors():
    tanh = fl.init.xavier(4, 1, seed=0)
    with pytest.raises(ValueError, match="univariate ReLU"):
        neuron_mass_matrix(tanh, (-1.0, 1.0))
    with pytest.raises(TypeError, match="Quadrature or an interval"):
        neuron_mass_matrix(tanh, "gauss")
    with pytest.raises(TypeError, match="ReLU1D or TwoLayer"):
        neuron_mass_matrix(np.eye(2), (-1.0, 1.0))


def test_two_dimensional_tanh_neurons():
    net = fl.init.uniform_density(30, 2, radius=np.sqrt(2), gamma=3.0, seed=0)
    q = gauss_legendre(20, [(-1, 1), (-1, 1)])
    M = neuron_mass_matrix(net, q)
    assert M.shape == (30, 30)
    assert 3 < neuron_rank(net, q) <= 30


def test_yang_zhao_zhu_xavier_rank_is_low_and_deterministic_init_rank_is_full():
    """Yang, Zhao & Zhu 2024, Sec. 2.2 and Example 4.1: ~2 for U(-1/sqrt(n), 1/sqrt(n)), n for
    (12)."""
    q = gauss_legendre(10, (-1.0, 1.0), cells=100)
    for n in (25, 50):
        assert neuron_rank(fl.init.deterministic_1d(n, seed=0), q) == n
        assert 1 <= neuron_rank(fl.init.xavier(n, 1, seed=0), q) <= 3


# -- rank along a flow ------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:the gradient flow of a ReLU network is not smooth")
@pytest.mark.parametrize("kind", ["relu1d", "twolayer_tanh"])
def test_rank_along_a_scipy_flow_equals_the_rank_of_net_at(kind):
    x = np.linspace(-1.0, 1.0, 40)
    y = np.sin(4 * x)
    if kind == "relu1d":
        net = fl.ReLU1D(np.linspace(-0.9, 0.9, 6), 0.3 * np.ones(6), np.ones(6))
        quad = (-1.0, 1.0)
    else:
        net = fl.init.xavier(8, 1, activation="tanh", seed=2, bound=2.0)
        quad = gauss_legendre(12, (-1.0, 1.0), cells=20)
    sol = fl.flow(net, x, y, 2.0, loss="mean", method="Radau", rtol=1e-8, atol=1e-10)
    times = np.array([0.0, 0.3, 1.1, 2.0])
    hist = rank_along(sol, quad, times, eps=1e-4)
    for t, r, lam in zip(times, hist.rank, hist.eigenvalues):
        M = neuron_mass_matrix(sol.net_at(t), quad)
        assert r == fl.eps_rank(M, 1e-4)
        np.testing.assert_allclose(lam, np.linalg.eigvalsh(M)[::-1], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(hist.loss, sol.loss_at(times), rtol=1e-13)
    full = rank_along(sol, quad)                       # default: the solver's output times
    np.testing.assert_array_equal(full.t, sol.t)
    np.testing.assert_array_equal(full.loss, sol.loss)
    assert np.array_equal(hist.with_eps(1e-9).rank, np.sum(hist.eigenvalues > 1e-9, axis=1))


# -- staircase --------------------------------------------------------------------------


def test_staircase_finds_known_steps_through_flicker():
    t = np.arange(60.0)
    r = np.full(60, 2)
    r[15:] = 5            # step 2 -> 5 at t = 14..17: the new level is reached at 15, ...
    r[16] = 4             # ... dips for one sample and holds from 17 on
    r[30:] = 6            # step 5 -> 6
    r[29] = 6             # the rise starts one sample early and flickers back once: the
    r[31] = 5             # last sample at the old level (31) starts the step
    r[45:] = 9            # step 6 -> 9 through a short intermediate value
    r[45:47] = 7
    loss = np.exp(-0.05 * t)
    s = staircase(t, r, loss, min_persist=3)
    got = [(st.t_start, st.t_end, st.rank_before, st.rank_after) for st in s.steps]
    assert got == [(14.0, 17.0, 2, 5), (31.0, 32.0, 5, 6), (44.0, 47.0, 6, 9)]
    np.testing.assert_array_equal(s.heights, [3, 1, 3])
    first = s.steps[0]
    assert first.loss_start == loss[14] and first.loss_end == loss[17]
    assert first.loss_next == loss[31] and first.drop == pytest.approx(loss[14] / loss[31])
    np.testing.assert_array_equal(s.levels[[16, 17, 31, 32, 46, 59]], [2, 5, 5, 6, 6, 9])
    assert len(staircase(t, r, min_persist=3, min_height=2)) == 2        # drops the 5 -> 6 step


def test_staircase_of_a_constant_series_and_a_step_down():
    t = np.linspace(0, 1, 20)
    assert len(staircase(t, np.full(20, 3))) == 0
    r = np.r_[np.full(10, 4), np.full(10, 2)]
    s = staircase(t, r)
    assert len(s) == 1 and s.steps[0].height == -2 and np.isnan(s.steps[0].loss_start)


@pytest.mark.parametrize("t, r, match", [
    ([0.0, 1.0, 1.0], [1, 1, 1], "strictly increasing"),
    ([0.0, 1.0, 2.0], [1, 1.5, 1], "integers"),
    ([0.0, 1.0, 2.0], [1, 1], "integers"),
])
def test_staircase_rejects_bad_series(t, r, match):
    with pytest.raises(ValueError, match=match):
        staircase(t, r)


# -- drop_rates: one measure of "the loss falls fast while the rank rises" -----------------
def _history_with_steps():
    t = np.concatenate([[0.0], np.geomspace(1e-2, 1e3, 60)])
    rank = np.repeat([2, 3, 3, 5, 6], [14, 10, 12, 13, 12])[:t.size]
    loss = np.exp(-np.cumsum(np.where(np.diff(rank, prepend=rank[0]) > 0, 1.5, 0.05)))
    return t, rank, loss, staircase(t, rank, loss, min_persist=3)


def test_drop_rates_on_a_log_time_axis_is_the_reproductions_measure():
    """The rates init-rank compares (mean -dlogL/dlogt on the risers and elsewhere), as it
    computed them before they moved to drop_rates."""
    t, rank, loss, stairs = _history_with_steps()
    d = fl.analysis.drop_rates(t, loss, stairs, log_time=True)
    lt, ll = np.log(t[1:]), np.log(loss[1:])
    rate = -np.diff(ll) / np.diff(lt)
    mid = np.exp(0.5 * (lt[1:] + lt[:-1]))
    rising = np.zeros(mid.size, dtype=bool)
    for s in stairs.steps:
        if s.height > 0:
            rising |= (mid >= s.t_start) & (mid <= s.t_end)
    assert rising.any() and np.array_equal(d.rising, rising)
    np.testing.assert_array_equal(d.rate, rate)
    np.testing.assert_allclose(d.t_mid, mid, rtol=1e-15)
    assert d.rate[d.rising].mean() > d.rate[~d.rising].mean()


def test_drop_rates_per_unit_time_gives_the_step_rates_and_treads():
    t, rank, loss, stairs = _history_with_steps()
    t = np.arange(t.size, dtype=float)                 # iterations
    stairs = staircase(t, rank, loss, min_persist=3)
    d = fl.analysis.drop_rates(t, loss, stairs)
    ups = [s for s in stairs.steps if s.height > 0]
    assert d.step_rates.size == len(ups) == 3
    for s, r, q in zip(ups, d.step_rates, d.step_drops):
        i0, i1 = int(s.t_start), int(s.t_end)
        assert r == pytest.approx(np.log(loss[i0] / loss[i1]) / (i1 - i0), rel=1e-14)
        assert q == pytest.approx(loss[i0] / loss[i1], rel=1e-14)
    mid = 0.5 * (t[1:] + t[:-1])
    assert not np.any(d.treads & d.rising)
    assert np.all(mid[d.treads] >= ups[0].t_start) and np.all(mid[d.treads] <= ups[-1].t_end)
    assert np.median(d.rate[d.treads]) < d.step_rates.min()
