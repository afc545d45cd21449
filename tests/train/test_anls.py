"""ANLS (Ainsworth & Shin 2021, Sec. 4): candidate rules, candidate losses through the COD update,
iteration."""

import importlib

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import flowlab as fl

from ..reference import lstsq_rss_highprec, min_norm_lstsq

A_ = importlib.import_module("flowlab.train._anls")
GRID = np.round(np.linspace(-1.6, 1.6, 33), 12)   # knots on and between the data points


def lsq_loss(x, y, b, loss="mean"):
    A = np.maximum(np.asarray(x)[:, None] - np.asarray(b)[None, :], 0.0)
    r = A @ min_norm_lstsq(A, y) - y
    return 0.5 * (r @ r) / (len(x) if loss == "mean" else 1.0)


@st.composite
def anls_problems(draw):
    """Data on a grid (some x repeated), knots with ties, dead and fully active neurons."""
    n = draw(st.integers(1, 9))
    m = draw(st.integers(n + 2, 30))
    x = np.linspace(-1.0, 1.0, m)
    if draw(st.booleans()):
        x = np.concatenate([x, x[: m // 3]])                # repeated data values
    knots = draw(st.lists(st.sampled_from(GRID.tolist()), min_size=n, max_size=n))
    if n > 1 and draw(st.booleans()):
        knots[1] = knots[0]                                 # equal biases
    b = np.array(knots)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    perm = rng.permutation(x.size)
    y = np.sin(np.pi * x) + 0.3 * rng.normal(size=x.size)
    return x[perm], y[perm], b


def _kappa(A):
    """sigma_1 / sigma_r over the singular values above float64's rank cut-off."""
    sv = np.linalg.svd(A, compute_uv=False)
    if sv[0] == 0:
        return 1.0
    sv = sv[sv > max(A.shape) * np.finfo(float).eps * sv[0]]
    return sv[0] / sv[-1]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(anls_problems(), st.sampled_from(["mean", "sum"]))
def test_candidate_losses_equal_plain_least_squares(problem, loss):
    """Acceptance: every candidate loss equals a plain minimum-norm lstsq to 1e-9.

    Rule 6 (iii) offset delta = 1e-3 here, so that no candidate matrix is worse
    conditioned than ~1e5 (the default 1e-8 is tested below)."""
    x, y, b = problem
    B, losses = fl.anls_candidates(x, y, b, loss=loss, delta=1e-3)
    assert B.shape == (losses.size, b.size)
    half = 0.5 / (x.size if loss == "mean" else 1.0)
    for i in range(losses.size):
        A = np.maximum(x[:, None] - B[i][None, :], 0.0)
        np.testing.assert_allclose(losses[i], lsq_loss(x, y, B[i], loss), rtol=1e-9, atol=0)
        exact = half * lstsq_rss_highprec(A, y)
        np.testing.assert_allclose(losses[i], exact, rtol=1e-9, atol=0)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(anls_problems())
def test_candidate_losses_with_default_delta_are_accurate_to_the_conditioning(problem):
    """With delta = 1e-8 a knot sits 1e-8 left of the first data point and a
    candidate matrix can have condition number ~1e9: then no float64 method
    (plain lstsq included) resolves the loss to 1e-9, and the error bound of a
    backward-stable solver, ~eps * cond, is the honest tolerance.  Compared with
    a 60-digit reference."""
    x, y, b = problem
    B, losses = fl.anls_candidates(x, y, b, loss="mean")
    worst = 0.0
    for i in range(losses.size):
        A = np.maximum(x[:, None] - B[i][None, :], 0.0)
        exact = 0.5 / x.size * lstsq_rss_highprec(A, y)
        tol = max(1e-9, np.finfo(float).eps * _kappa(A))
        err = abs(losses[i] - exact) / exact
        assert err <= tol
        worst = max(worst, err / tol)
    event(f"worst error / tolerance in decades: {int(np.floor(np.log10(max(worst, 1e-6))))}")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(anls_problems())
def test_candidates_follow_the_rules_of_section_4_2(problem):
    x, y, b = problem
    B, _ = fl.anls_candidates(x, y, b, loss="mean")
    u = np.unique(x)
    rank = np.argsort(np.argsort(b, kind="stable"), kind="stable")
    moved_pairs = set()
    for row in B:
        changed = np.flatnonzero(row != b)
        assert changed.size == 1                                        # rule 1
        j = changed[0]
        old, new = b[j], row[j]
        assert old < u[-1]                                              # rule 4: alive
        assert new < u[-1]                                              # rule 5: stays alive
        crossed = np.sum((u > min(old, new)) & (u <= max(old, new)))
        assert crossed == 1                                             # rule 3
        others = np.delete(b, j)
        lower = others[rank[np.arange(b.size) != j] < rank[j]]
        upper = others[rank[np.arange(b.size) != j] > rank[j]]
        assert np.all(lower <= new) and np.all(new <= upper)            # rule 2
        on_grid = {0.5 * (p + q) for p in u for q in u} | {u[0] - 1e-8}
        near = {0.5 * (p + q) for p in u for q in b}
        assert any(abs(new - t) <= 1e-15 for t in on_grid | near)       # rule 6
        moved_pairs.add((j, np.sign(new - old)))
    assert len(moved_pairs) == len(B)                                   # no duplicates
    # completeness: every living neuron whose nearest points can be crossed has its move
    order = np.argsort(b, kind="stable")
    bs = b[order]
    for k, j in enumerate(order):
        if bs[k] >= u[-1]:
            continue
        left_pts = u[u <= bs[k]]
        right_pts = u[u > bs[k]]
        can_left = left_pts.size and (k == 0 or bs[k - 1] < left_pts[-1])
        can_right = right_pts.size and (k + 1 == b.size or right_pts[0] < bs[k + 1])
        if can_right:
            hi = min(right_pts[1] if right_pts.size > 1 else np.inf,
                     bs[k + 1] if k + 1 < b.size else np.inf)
            can_right = 0.5 * (right_pts[0] + hi) < u[-1]
        assert ((j, -1.0) in moved_pairs) == bool(can_left)
        assert ((j, 1.0) in moved_pairs) == bool(can_right)


def test_figure_6_has_seven_candidates():
    """Ainsworth & Shin 2021, Fig. 6: 5 neurons, 10 points; neurons give 2, 1, 1, 2, 1
    candidates."""
    x = np.arange(10.0)
    b = np.array([1.5, 3.2, 3.7, 6.5, 8.5])     # U_2 empty, U_5 = {9}
    B, _ = fl.anls_candidates(x, np.sin(x), b, loss="mean")
    per_neuron = np.bincount(np.argmax(B != b, axis=1), minlength=5)
    assert per_neuron.tolist() == [2, 1, 1, 2, 1]
    moves = {(int(np.argmax(r != b)), float(r[r != b][0])) for r in B}
    assert moves == {(0, 0.5), (0, 2.5), (1, 2.5), (2, 4.5), (3, 5.5), (3, 7.5), (4, 7.5)}


def test_rule_6_iii_and_neighbour_midpoint():
    x = np.array([0.0, 1.0, 2.0])
    B, _ = fl.anls_candidates(x, x ** 2, [0.5], loss="mean")
    assert sorted(B[:, 0].tolist()) == [-1e-8, 1.5]
    # the left neighbour lies between the crossed point and the next data value
    B, _ = fl.anls_candidates(x, x ** 2, [0.6, 1.5], loss="mean")
    assert 0.5 * (0.6 + 1.0) in B[:, 1].tolist()
    # a neighbour in [u_1 - delta, u_1): midpoint instead of u_1 - delta
    B, _ = fl.anls_candidates(x, x ** 2, [-0.5e-8, 0.5], loss="mean")
    assert 0.5 * (-0.5e-8 + 0.0) in B[:, 1].tolist()


def test_midpoint_of_adjacent_doubles_still_crosses_one_point():
    """linspace(-1, 1, 21)[13] is 0.30000000000000004: moving the knot at 0.4 left
    between it and the knot at 0.3 rounds the midpoint onto the data point; the knot
    then goes to the neighbour's position (a tie), which still crosses exactly one point."""
    x = np.linspace(-1, 1, 21)
    b = np.array([0.3, 0.4])
    B, L = fl.anls_candidates(x, np.sin(x), b, loss="mean")
    for row in B:
        j = int(np.argmax(row != b))
        lo, hi = sorted((b[j], row[j]))
        assert np.sum((x > lo) & (x <= hi)) == 1
    assert [0.3, 0.3] in B.tolist()


def test_anls_history_moves_and_stop():
    x = np.linspace(-1, 1, 60)
    y = np.sin(np.pi * x)
    b0 = fl.init.he(8, seed=3).b
    res = fl.anls(x, y, b0, max_iter=500, loss="mean")
    assert res.method == "anls" and res.loss_kind == "mean"
    assert res.status == "steady_state" and res.success
    assert np.all(np.diff(res.loss) < 0)
    assert len(res.info["moves"]) == res.loss.size - 1 == res.iterations[-1]
    # each accepted move is the best candidate of its iterate
    for k, mv in enumerate(res.info["moves"]):
        bk = res.params[k, :8]
        B, L = fl.anls_candidates(x, y, bk, loss="mean")
        i = int(np.argmin(L))
        assert B[i, mv["neuron"]] == mv["to"] and L[i] == pytest.approx(mv["loss"], rel=1e-12)
        assert res.loss[k + 1] == pytest.approx(L[i], rel=1e-9)
    # at the end no candidate is better, and the network is the LSQ fit of its knots
    _, L = fl.anls_candidates(x, y, res.net.b, loss="mean")
    assert L.min() >= res.loss[-1] * (1 - 1e-10)
    assert res.net.loss(x, y, "mean") == pytest.approx(lsq_loss(x, y, res.net.b), rel=1e-9)
    assert res.loss[-1] == pytest.approx(res.net.loss(x, y, "mean"), rel=1e-9)
    assert np.all(np.diff(res.net.b) >= 0)


def test_anls_reaches_seed_level_on_f1():
    """Ainsworth & Shin 2021, Fig. 9: within 100 iterations ANLS reaches 1e-4 (here He seed 1)."""
    x = np.linspace(-1, 1, 100)
    res = fl.anls(x, np.sin(np.pi * x), fl.init.he(10, seed=1).b, max_iter=100, loss="mean")
    assert res.loss[-1] <= 1e-4 and res.iterations[-1] <= 100


def test_anls_callback_max_iter_and_sum_loss(tmp_path):
    x = np.linspace(-1, 1, 40)
    y = x ** 2
    seen = []
    b0 = fl.init.he(6, seed=0).b
    res = fl.anls(x, y, b0, callback=lambda k, net, L: seen.append(L) or k == 2, loss="mean")
    assert res.iterations[-1] == 2 and res.status == "interrupted"
    assert seen == res.loss.tolist()
    res = fl.anls(x, y, fl.init.he(6, seed=0).b, max_iter=3, loss="sum")
    assert res.iterations[-1] == 3 and res.status == "max_steps"
    np.testing.assert_allclose(res.loss[-1], res.net.loss(x, y, "sum"), rtol=1e-9)
    res.save(tmp_path / "a.npz")
    back = fl.train.TrainResult.load(tmp_path / "a.npz")
    assert back.info["moves"] == res.info["moves"] and back.net == res.net
    assert back.status == res.status and back.stop_reason == res.stop_reason


def test_dead_network_and_bad_input():
    x = np.linspace(0, 1, 5)
    res = fl.anls(x, x, [2.0, 3.0], loss="mean")
    assert res.status == "degenerate" and np.all(res.net.c == 0)
    B, L = fl.anls_candidates(x, x, [2.0, 3.0], loss="mean")
    assert B.shape == (0, 2) and L.shape == (0,)
    with pytest.raises(ValueError, match="`y`"):
        fl.anls(x, x[:3], [0.1], loss="mean")
    with pytest.raises(TypeError, match="net.b"):
        fl.anls(x, x, fl.init.he(3, seed=0), loss="mean")
    with pytest.raises(ValueError, match="`loss`"):
        fl.anls_candidates(x, x, [0.1], loss="l2")
    with pytest.raises(ValueError, match="`max_iter`"):
        fl.anls(x, x, [0.1], max_iter=-1, loss="mean")
    with pytest.raises(ValueError, match="`delta`"):
        fl.anls(x, x, [0.1], delta=0.0, loss="mean")
    with pytest.raises(TypeError, match="`callback`"):
        fl.anls(x, x, [0.1], callback=3, loss="mean")


def test_moves_helper_matches_public_candidates():
    x = np.linspace(-1, 1, 15)
    b = np.sort(fl.init.he(7, seed=5).b)
    k, new_b, direction = A_._moves(np.unique(x), b, 1e-8)
    B, _ = fl.anls_candidates(x, np.cos(x), b, loss="mean")
    assert B.shape[0] == k.size
    np.testing.assert_array_equal(B[np.arange(k.size), k], new_b)
    assert set(direction.tolist()) <= {-1, 1}
