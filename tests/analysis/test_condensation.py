"""Cosine maps, orientation counting, initial stage and polynomial fits (Zhou et al. 2022)."""

import doctest

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flowlab as fl
from flowlab.analysis import (amplitudes, cosine_map, cosine_similarity, count_orientations,
                              initial_stage, line_angle, nearest_line_angles, polyfit_output)
from flowlab.analysis import condensation, condensation_stage, condensation_theory
from flowlab.activations import get_activation
from tests.reference import cosine_similarity_loops, neuron_amplitude_loops


def _on_lines(lines, per_line, noise_deg, rng, scale=(0.5, 2.0)):
    """Features on given lines (random sign and length), each turned by < noise_deg."""
    lines = np.asarray(lines, dtype=float)
    rows = []
    for u in lines:
        u = u / np.linalg.norm(u)
        for _ in range(per_line):
            g = rng.normal(size=u.size)
            g -= (g @ u) * u
            g /= np.linalg.norm(g)
            ang = np.radians(rng.uniform(0, noise_deg))
            v = np.cos(ang) * u + np.sin(ang) * g
            rows.append(rng.choice([-1.0, 1.0]) * rng.uniform(*scale) * v)
    return np.array(rows)


def test_module_examples_run():
    for mod in (condensation, condensation_theory, condensation_stage):
        res = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert res.attempted > 0 and res.failed == 0, mod.__name__


def test_cosine_similarity_matches_reference(rng):
    W = rng.normal(size=(9, 4))
    W[3] = 0.0
    D = cosine_similarity(W)
    ref = cosine_similarity_loops(W)
    np.testing.assert_array_equal(np.isnan(D), np.isnan(ref))
    ok = ~np.isnan(ref)
    np.testing.assert_allclose(D[ok], ref[ok], atol=1e-14)
    np.testing.assert_allclose(cosine_similarity(fl.TwoLayer(W, np.ones(9))), D, equal_nan=True)


def test_cosine_map_orders_neurons_into_line_blocks(rng):
    lines = [[1.0, 0.0, 0.2], [0.0, 1.0, -0.5], [0.6, 0.6, 1.0]]
    W = _on_lines(lines, 7, 3.0, rng)
    perm = rng.permutation(len(W))
    W = np.vstack([W[perm], np.zeros((1, 3))])
    cm = cosine_map(W, angle_tol=10.0)
    np.testing.assert_array_equal(cm.D, cosine_similarity(W)[np.ix_(cm.order, cm.order)])
    assert sorted(cm.order.tolist()) == list(range(len(W)))
    assert cm.order[-1] == len(W) - 1 and cm.labels[-1] == -1
    lab = cm.labels[cm.order[:-1]]
    assert np.all(np.diff(lab) >= 0) and lab.max() == 2          # contiguous blocks
    for g in range(3):
        block = cm.D[np.ix_(lab == g, lab == g)]
        assert np.all(np.abs(block) >= np.cos(np.radians(6.0)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), k=st.integers(1, 4), d=st.integers(1, 4))
def test_count_orientations_recovers_planted_lines(seed, k, d):
    rng = np.random.default_rng(seed)
    k = min(k, 3) if d == 1 else k
    lines = []                                    # lines at least 40 degrees apart
    for _ in range(10_000):
        u = rng.normal(size=d + 1)
        if all(line_angle(u, w) > 40 for w in lines):
            lines.append(u)
        if len(lines) == k:
            break
    k = len(lines)
    W = _on_lines(lines, 6, 3.0, rng)
    net = fl.TwoLayer(W, rng.choice([-1.0, 1.0], len(W)), "tanh")
    res = count_orientations(net, angle_tol=15.0)
    assert res.n_lines == k
    assert res.carriers.all()
    assert np.all(nearest_line_angles(lines, res.lines) <= 3.0)
    signs = np.sign(W @ res.lines[res.line_of].T).diagonal()
    np.testing.assert_array_equal(res.sign, signs)
    expected = sum(1 + int(np.any(res.sign[res.line_of == g] > 0) and
                           np.any(res.sign[res.line_of == g] < 0)) for g in range(k))
    assert res.n_orientations == expected
    np.testing.assert_allclose(res.weight.sum(), 1.0)
    # flipping a neuron (w_j, a_j) -> (-w_j, a_j) keeps its line; permuting keeps the count
    flip = W * rng.choice([-1.0, 1.0], (len(W), 1))
    perm = rng.permutation(len(W))
    again = count_orientations(fl.TwoLayer(flip[perm], net.a[perm], "tanh"), angle_tol=15.0)
    assert again.n_lines == k


def test_amplitude_threshold_excludes_small_neurons(rng):
    x = np.linspace(-1, 1, 30)
    W = np.array([[1.0, 0.2], [-1.1, -0.2], [0.0, 1.0], [1e-3, -1e-3], [-2e-3, 2e-3]])
    net = fl.TwoLayer(W, np.array([1.0, 0.8, 0.9, 1e-3, 1e-3]), "tanh")
    res = count_orientations(net, x, amplitude_threshold=0.1)
    np.testing.assert_array_equal(res.carriers, [True, True, True, False, False])
    assert res.n_lines == 2 and res.n_orientations == 3
    np.testing.assert_array_equal(res.line_of[3:], [-1, -1])
    everyone = count_orientations(net, x, amplitude_threshold=1e-9)
    assert everyone.carriers.all() and everyone.n_lines == 3     # the small ones share a line


def test_share_counts_the_lines_holding_most_of_the_output(rng):
    # two lines of five equal carriers each plus one stray carrier on a third line
    x = np.linspace(-1, 1, 30)
    W = np.vstack([_on_lines([[1.0, 0.0]], 5, 2.0, rng, scale=(1.0, 1.0)),
                   _on_lines([[0.0, 1.0]], 5, 2.0, rng, scale=(1.0, 1.0)), [[0.7, 0.7]]])
    a = np.r_[np.ones(10), 0.3]
    net = fl.TwoLayer(W, a, "tanh")
    every = count_orientations(net, x, amplitude_threshold=0.1)
    assert every.carriers.all() and every.n_lines == every.n_lines_all == 3
    most = count_orientations(net, x, amplitude_threshold=0.1, share=0.9)
    stray = most.weight[-1]
    assert 0 < stray < 0.1 and most.n_lines == 2 and most.n_lines_all == 3
    assert most.n_orientations == most.orientations[:2].sum()
    # the share is a cumulative fraction: asking for all but less than the stray line's
    # share still counts it
    assert count_orientations(net, x, share=1 - stray / 2).n_lines == 3
    np.testing.assert_allclose(np.sort(most.weight)[::-1], most.weight)


@pytest.mark.parametrize("act", ["tanh", "sigmoid", "softplus", "x2tanh"])
def test_amplitudes_match_reference(act, rng):
    x = rng.uniform(-2, 2, (15, 2))
    net = fl.TwoLayer(rng.normal(size=(6, 3)), rng.normal(size=6), act)
    sigma = get_activation(act)
    ref = neuron_amplitude_loops(net.W, net.a, x, lambda z: float(sigma(np.array([z]))[0]))
    np.testing.assert_allclose(amplitudes(net, x), ref, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(amplitudes(net), np.abs(net.a) * np.linalg.norm(net.W, axis=1))


def test_line_angles():
    assert line_angle([1, 0], [-1, 0]) == 0.0
    assert abs(line_angle([1, 0], [1, 1]) - 45.0) < 1e-12
    assert abs(line_angle([1, 0], [0, -3]) - 90.0) < 1e-12
    got = nearest_line_angles([[1, 0], [0, 1]], [[1, 0.01], [-1, -1]])
    np.testing.assert_allclose(got, [np.degrees(np.arctan(0.01)), 45.0])
    with pytest.raises(ValueError, match="zero"):
        line_angle([0, 0], [1, 0])


def test_initial_stage_from_samples_flow_and_training():
    st0 = initial_stage([0.0, 1.0, 3.0], [2.0, 1.6, 1.0])
    assert st0.reached and st0.index == 2 and abs(st0.t_end - 1.0 - 2 * (1.6 - 1.4) / 0.6) < 1e-12
    never = initial_stage([0.0, 1.0], [1.0, 0.9])
    assert not never.reached and np.isnan(never.t_end) and never.index == -1
    x = np.linspace(-1, 1.5, 40)
    y = np.sin(3 * x) + 0.5 * np.sin(6 * x)
    net = fl.init.small_gaussian(10, 1, 0.3 ** 2, activation="tanh", seed=0)
    sol = fl.flow(net, x, y, 60.0, loss="mean", method="ERK853")
    st = initial_stage(sol)
    assert st.reached
    assert abs(sol.loss_at(st.t_end) - 0.7 * sol.loss[0]) <= 1e-10 * sol.loss[0]
    assert sol.loss_at(st.t_end * (1 - 1e-6)) > 0.7 * sol.loss[0]
    res = fl.train.adam(net, x, y, lr=1e-2, steps=400, loss="mean", record_every=5)
    sa = initial_stage(res)
    k = int(sa.t_end)
    assert sa.reached and k % 5 == 0
    assert res.loss[res.iterations == k][0] <= 0.7 * res.loss[0]
    assert np.all(res.loss[res.iterations < k] > 0.7 * res.loss[0])


def test_initial_stage_rejects_bad_input():
    with pytest.raises(ValueError, match="fraction"):
        initial_stage([0.0, 1.0], [1.0, 0.5], fraction=1.5)
    with pytest.raises(TypeError, match="loss"):
        initial_stage([0.0, 1.0])
    with pytest.raises(ValueError, match="increasing"):
        initial_stage([0.0, 0.0], [1.0, 0.5])


def test_polyfit_output_agrees_with_numpy_and_detects_degree(rng):
    xt = np.linspace(-1, 1.5, 200)
    tiny = fl.TwoLayer(rng.normal(size=(8, 2)) * 1e-2, rng.normal(size=8) * 1e-2, "x2tanh")
    fit = polyfit_output(tiny, xt, 3)
    f = tiny(xt)
    np.testing.assert_allclose(fit.fitted, np.polyval(np.polyfit(xt, f, 3), xt),
                               atol=1e-12 * np.abs(f).max())
    np.testing.assert_allclose(fit(xt), fit.fitted, atol=1e-12 * np.abs(f).max())
    assert fit.r2 > 1 - 1e-6                        # x^2 tanh x ~ x^3 near 0
    assert polyfit_output(tiny, xt, 1).r2 < fit.r2
    with pytest.raises(ValueError, match="points"):
        polyfit_output(tiny, xt[:3], 3)
    with pytest.raises(TypeError, match="input dimension 1"):
        polyfit_output(fl.TwoLayer(np.ones((2, 3)), np.ones(2)), xt, 1)


def test_bad_arguments_name_the_argument():
    net = fl.TwoLayer(np.ones((3, 2)), np.ones(3))
    with pytest.raises(ValueError, match="amplitude_threshold"):
        count_orientations(net, amplitude_threshold=2.0)
    with pytest.raises(ValueError, match="angle_tol"):
        count_orientations(net, angle_tol=120.0)
    with pytest.raises(ValueError, match="share"):
        count_orientations(net, share=1.5)
    with pytest.raises(TypeError, match="TwoLayer"):
        count_orientations(fl.ReLU1D([0.0], [1.0]))
    with pytest.raises(ValueError, match=r"\(n, d\+1\)"):
        cosine_similarity(np.ones((3, 1)))
