"""The complete orthogonal decomposition and Theorem 4.2 of Ainsworth & Shin 2021 against plain
least squares.

Problems are ReLU feature matrices A_ij = relu(x_i - b_j) drawn by hypothesis
with knots on a grid, so that they contain what makes A rank deficient: equal
knots (duplicate columns), dead neurons (zero columns), several knots left of
the data (columns in span{1, x}).  Every problem also contains one column that
is independent of the others, so both cases of Theorem 4.2 occur in each.
"""

import importlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..reference import min_norm_lstsq

C = importlib.import_module("flowlab.train.cod")

GRID = np.linspace(-1.5, 1.5, 13)     # knots: some left of the data, some dead (>= 1)
RTOL = 1e-9
#: when the new matrix (nearly) interpolates y the loss is ~0 and only an absolute
#: comparison against ||y||^2 is meaningful: rounding leaves ~eps * cond * ||y||^2
FLOOR = 1e-12


@st.composite
def relu_problems(draw):
    """(x, y, b, new_b): data on [-1, 1], knots with forced duplicates, a dead
    neuron and one isolated knot, and replacement knots for every column."""
    m = draw(st.integers(8, 40))
    x = np.linspace(-1.0, 1.0, m)
    inner = draw(st.lists(st.sampled_from(GRID[GRID >= x[1]].tolist()), min_size=1,
                          max_size=8))
    b = inner + [inner[0], 1.5, x[0] - 0.25]          # equal pair, dead, isolated (first)
    order = draw(st.permutations(range(len(b))))
    b = np.array(b)[list(order)]
    n = b.size
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    y = rng.normal(size=m) + np.sin(3 * x)
    new_b = rng.choice(GRID, size=(2, n))
    return x, y, b, new_b


def relu_matrix(x, b):
    return np.maximum(x[:, None] - np.asarray(b)[None, :], 0.0)


def rss_ref(A, y):
    c = min_norm_lstsq(A, y)
    r = A @ c - y
    return c, float(r @ r)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(relu_problems())
def test_cod_factorises_and_solves(problem):
    x, y, b, _ = problem
    A = relu_matrix(x, b)
    f = C.cod(A)
    r = f.rank
    assert r == np.linalg.matrix_rank(A)
    np.testing.assert_allclose(f.Q1.T @ A @ f.Zh, f.T, atol=1e-12 * f.scale)
    np.testing.assert_allclose(A @ f.Zt, 0.0, atol=1e-12 * f.scale)
    np.testing.assert_allclose(f.Z.T @ f.Z, np.eye(b.size), atol=1e-13)
    np.testing.assert_allclose(f.Q1.T @ f.Q1, np.eye(r), atol=1e-13)
    assert np.all(np.tril(f.T, -1) == 0) and np.all(np.abs(np.diag(f.T)) > 0)
    c, rss = f.solve(y)
    c_ref, rss_r = rss_ref(A, y)
    np.testing.assert_allclose(rss, rss_r, rtol=RTOL, atol=FLOOR * (y @ y))
    np.testing.assert_allclose(c, c_ref, rtol=0, atol=1e-9 * np.abs(c_ref).max())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(relu_problems())
def test_theorem_4_2_matches_lstsq_in_both_branches(problem):
    x, y, b, new_b = problem
    A = relu_matrix(x, b)
    f = C.cod(A)
    n = b.size
    cols = np.concatenate([np.arange(n), np.arange(n)])
    V = relu_matrix(x, new_b.ravel()) - A[:, cols]
    rss, branch = C.replace_columns_rss(f, y, cols, V)
    rank = np.linalg.matrix_rank(A)
    for i, l in enumerate(cols):
        At = A.copy()
        At[:, l] += V[:, i]
        c_ref, rss_r = rss_ref(At, y)
        # branch 2 exactly when column l is independent of the others
        independent = np.linalg.matrix_rank(np.delete(A, l, axis=1)) < rank
        assert branch[i] == (2 if independent else 1)
        np.testing.assert_allclose(rss[i], rss_r, rtol=RTOL, atol=FLOOR * (y @ y))
        one = C.replace_column(f, y, l, V[:, i])
        assert one.branch == branch[i]
        np.testing.assert_allclose(one.rss, rss_r, rtol=RTOL, atol=FLOOR * (y @ y))
        np.testing.assert_allclose(one.c, c_ref, rtol=0, atol=1e-8 * np.abs(c_ref).max())
    # by construction (equal pair, dead neuron, isolated knot) both cases occur
    assert set(branch.tolist()) == {1, 2}


def test_first_branch_with_replacement_inside_the_column_space_is_minimum_norm():
    """q2 = 0 in the first case: every c_l fits equally well; the minimum-norm c is
    returned (the paper's proof picks d* = Zh[l] x1, a least-squares solution only)."""
    x = np.linspace(-1, 1, 12)
    A = relu_matrix(x, [-0.3, -0.3, 0.2, 0.5])          # columns 0 and 1 equal
    y = np.cos(2 * x)
    f = C.cod(A)
    v = 0.5 * (A[:, 2] - A[:, 0])                        # new column 0 inside col(A)
    up = C.replace_column(f, y, 0, v)
    At = A.copy()
    At[:, 0] += v
    c_ref, rss_r = rss_ref(At, y)
    assert up.branch == 1
    np.testing.assert_allclose(up.rss, rss_r, rtol=RTOL)
    np.testing.assert_allclose(up.c, c_ref, atol=1e-12)
    # the paper's choice d* = Zh[l] x1 (x2 = 0) gives a larger norm here
    p1 = f.Q1.T @ y
    q1 = f.Q1.T @ v
    zh = f.Zh[0]
    a, g = f.solve_t(p1), f.solve_t(q1)
    d_seed = zh @ a / (1 + zh @ g)
    c_seed = f.Zh @ (a - d_seed * g)
    np.testing.assert_allclose(np.sum((At @ c_seed - y) ** 2), rss_r, rtol=1e-9)
    assert np.linalg.norm(c_seed) > np.linalg.norm(up.c) * (1 + 1e-6)


def test_rank_zero_and_full_rank():
    x = np.linspace(-1, 1, 6)
    y = x ** 2
    f = C.cod(np.zeros((6, 3)))
    assert f.rank == 0
    c, rss = f.solve(y)
    assert np.all(c == 0) and rss == pytest.approx(y @ y)
    V = relu_matrix(x, [0.0, 0.5]) - 0.0
    rss_c, br = C.replace_columns_rss(f, y, [0, 2], V)
    for i in range(2):
        np.testing.assert_allclose(rss_c[i], rss_ref(V[:, [i]], y)[1], rtol=RTOL)
    assert np.all(br == 1)
    A = relu_matrix(x, [-2.0, -0.5, 0.3])
    f = C.cod(A)
    assert f.rank == 3 and f.Zt.shape == (3, 0)
    V = relu_matrix(x, [0.1, -1.0]) - A[:, [2, 0]]
    rss_c, br = C.replace_columns_rss(f, y, [2, 0], V)
    assert np.all(br == 2)
    for i, l in enumerate([2, 0]):
        At = A.copy()
        At[:, l] += V[:, i]
        np.testing.assert_allclose(rss_c[i], rss_ref(At, y)[1], rtol=RTOL)


def test_rank_tolerance_is_documented_and_adjustable():
    A = np.array([[1.0, 1.0], [1.0, 1.0 + 1e-10], [1.0, 1.0]])
    assert C.cod(A).rank == 2
    assert C.cod(A, rcond=1e-6).rank == 1
    assert C.cod(A).rcond == pytest.approx(3 * np.finfo(float).eps)


def test_bad_input():
    with pytest.raises(ValueError, match="`A`"):
        C.cod(np.ones(3))
    with pytest.raises(ValueError, match="`rcond`"):
        C.cod(np.ones((3, 2)), rcond=2.0)
    f = C.cod(np.ones((3, 2)))
    with pytest.raises(ValueError, match="`V`"):
        C.replace_columns_rss(f, np.ones(3), [0], np.ones((3, 2)))
    with pytest.raises(ValueError, match="`cols`"):
        C.replace_columns_rss(f, np.ones(3), [5], np.ones((3, 1)))
    with pytest.raises(ValueError, match="`l`"):
        C.replace_column(f, np.ones(3), 2, np.ones(3))
    with pytest.raises(ValueError, match="`v`"):
        C.replace_column(f, np.ones(3), 0, np.ones(4))
