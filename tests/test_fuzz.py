"""Fuzz: bad arrays (NaN, inf, huge, tiny, complex, integer, ragged, wrong shapes, wrong
types) into flow, anls, eps_rank, TwoLayer, ReLU1D and load.

Every call runs under a time bound (tests/timebound.py).  It must raise a clear
ValueError/TypeError, or return a result that says what happened: a Solution whose
status is not "finished" carries a message; a "finished" one is finite throughout.
"""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import flowlab as fl
from flowlab._flow.solution import STATUSES

from .timebound import within

BOUND = 20.0          # seconds per call (numba kernels are warm: see _warm)
SPECIAL = [np.nan, np.inf, -np.inf, 1e300, -1e300, 1.7e308, 1e-300, 5e-324, 0.0, -0.0]
ELEMENTS = st.one_of(st.floats(-3, 3), st.sampled_from(SPECIAL))
#: words a helpful message uses: a `name`, the quantity, the file
HELPFUL = ("`", "loss", "gradient", "method", "file", "folder", "flowlab")


#: finite but extreme values: these pass validation and reach the integrators
FINITE = st.one_of(st.floats(-3, 3), st.sampled_from([1e300, -1e300, 1e150, 1e-300, 0.0]))


def _shaped(shape, elements=ELEMENTS):
    return hnp.arrays(np.float64, shape, elements=elements)


def bad_arrays(shape=None):
    """Arrays of any shape (or ``shape``) with special values, and other bad inputs."""
    shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5)
    real = _shaped(shape if shape is not None else shapes)
    return st.one_of(
        real, real,
        real.map(lambda a: a + 0.5j),                                   # complex
        real.map(lambda a: np.clip(np.nan_to_num(a), -9, 9).astype(np.int64)),  # integers
        st.sampled_from([None, "abc", [1.0, "a"], [[1.0, 2.0], [3.0]], {"a": 1}, True, 3.0,
                         [1 + 2j, 3.0], np.array(["x", "y"]), np.zeros(3, dtype=object)]),
    )


def _helpful(exc) -> bool:
    text = str(exc)
    return len(text) >= 20 and any(w in text for w in HELPFUL)


def _outcome(fn, *args, **kwargs):
    """Run ``fn`` under the time bound; return its result, or None after a clear error."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return within(BOUND, fn, *args, **kwargs)
        except (ValueError, TypeError) as exc:
            assert _helpful(exc), f"unhelpful {type(exc).__name__}: {exc}"
            return None


@pytest.fixture(scope="module", autouse=True)
def _warm():
    """Compile (or load) the kernels outside the time bounds."""
    x = np.linspace(-1, 1, 5)
    for method in ("exact", "RK45", "Radau", "ERK45"):
        fl.flow(fl.ReLU1D([0.1, -0.2], [1.0, 0.5]), x, np.sin(x), 0.05, method=method,
                progress=False)
    fl.flow(fl.TwoLayer(np.ones((2, 3)), np.ones(2), "relu"), np.c_[x, x], x, 0.05,
            progress=False)
    fl.anls(x, np.sin(x), [0.0, 0.5], max_iter=2, loss="mean")


def _check_solution(sol):
    assert sol.status in STATUSES and sol.message
    assert np.all(np.isfinite(sol.theta)) and np.all(np.isfinite(sol.theta_final))
    if sol.status in ("finished", "steady_state"):
        assert np.all(np.isfinite(sol.loss))
        if sol.method != "exact":
            assert sol.info["monotone"]["holds"], sol.info["monotone"]


def _flow(kind, p1, p2, x, y, method):
    net = fl.ReLU1D(p1, p2) if kind == "ReLU1D" else fl.TwoLayer(p1, p2, kind)
    return fl.flow(net, x, y, 0.05, method=method, progress=False, max_steps=3000)


FUZZ = settings(max_examples=100, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(kind=st.sampled_from(["ReLU1D", "relu", "tanh", "cos"]), p1=bad_arrays(),
       p2=bad_arrays(), x=bad_arrays(), y=bad_arrays(),
       method=st.sampled_from(["exact", "RK45", "Radau", "ERK45", "LSODA"]))
def test_flow_with_bad_arrays(kind, p1, p2, x, y, method):
    sol = _outcome(_flow, kind, p1, p2, x, y, method)
    if sol is not None:
        _check_solution(sol)


@FUZZ
@given(data=st.data(), n=st.integers(1, 3), m=st.integers(1, 6),
       kind=st.sampled_from(["ReLU1D", "relu", "tanh", "cos"]),
       method=st.sampled_from(["exact", "RK45", "Radau", "ERK45", "LSODA"]))
def test_flow_with_bad_values_in_the_right_shapes(data, n, m, kind, method):
    """Shapes that fit, values that do not: overflow, NaN, tiny, huge, complex."""
    values = data.draw(st.sampled_from([ELEMENTS, FINITE, FINITE]))
    if kind == "ReLU1D":
        shapes = (n,), (n,), (m,)
    else:
        shapes = (n, 3), (n,), (m, 2)
    p1, p2, x = (data.draw(_shaped(sh, values)) for sh in shapes)
    y = data.draw(st.one_of(_shaped(m, values), _shaped(m, values),
                            _shaped(m).map(lambda a: a + 1j)))
    sol = _outcome(_flow, kind, p1, p2, x, y, method)
    if sol is not None:
        _check_solution(sol)


@FUZZ
@given(x=st.one_of(bad_arrays(), _shaped(8)), y=st.one_of(bad_arrays(), _shaped(8)),
       b=st.one_of(bad_arrays(), _shaped(3)))
def test_anls_with_bad_arrays(x, y, b):
    res = _outcome(fl.anls, x, y, b, max_iter=5, loss="mean")
    if res is not None:
        assert np.all(np.isfinite(res.loss)) and res.stop_reason
        assert res.status in STATUSES and res.status != "running"
        assert np.all(np.isfinite(res.net.params()))


@FUZZ
@given(M=st.one_of(bad_arrays(), _shaped((4, 4)).map(lambda a: np.triu(a) + np.triu(a, 1).T)),
       eps=st.one_of(st.sampled_from([1e-6, 0.0, -1.0, np.nan, np.inf, "a", None, 1 + 1j]),
                     st.floats(0, 1)))
def test_eps_rank_with_bad_arrays(M, eps):
    r = _outcome(fl.eps_rank, M, eps)
    if r is not None:
        assert isinstance(r, int) and 0 <= r <= np.shape(M)[0]


@FUZZ
@given(W=bad_arrays(), a=bad_arrays(), act=st.sampled_from(["relu", "tanh", "nope", 3, None]))
def test_twolayer_with_bad_arrays(W, a, act):
    net = _outcome(fl.TwoLayer, W, a, act)
    if net is not None:
        assert np.all(np.isfinite(net.params())) and net.W.dtype == np.float64


@FUZZ
@given(b=bad_arrays(), c=bad_arrays(), w=st.one_of(st.none(), bad_arrays()))
def test_relu1d_with_bad_arrays(b, c, w):
    net = _outcome(fl.ReLU1D, b, c, w)
    if net is not None:
        assert np.all(np.isfinite(net.params())) and net.b.dtype == np.float64


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    x = np.linspace(-1, 1, 5)
    sol = fl.flow(fl.ReLU1D([0.1, -0.2], [1.0, 0.5]), x, np.sin(x), 0.05, progress=False)
    return sol.save(tmp_path_factory.mktemp("fuzz") / "good.npz").read_bytes()


@FUZZ
@given(data=st.data(), mode=st.sampled_from(["random", "truncate", "flip", "splice"]))
def test_load_of_damaged_files(saved, tmp_path_factory, data, mode):
    if mode == "random":
        raw = data.draw(st.binary(max_size=3000))
    elif mode == "truncate":
        raw = saved[:data.draw(st.integers(0, len(saved) - 1))]
    elif mode == "flip":
        raw = bytearray(saved)
        for k in data.draw(st.lists(st.integers(0, len(saved) - 1), min_size=1, max_size=8)):
            raw[k] ^= data.draw(st.integers(1, 255))
        raw = bytes(raw)
    else:
        k = data.draw(st.integers(0, len(saved)))
        raw = saved[:k] + data.draw(st.binary(max_size=200)) + saved[k:]
    path = tmp_path_factory.mktemp("load") / "f.npz"
    path.write_bytes(raw)
    sol = _outcome(fl.load, path)
    if sol is not None:                       # a harmless change: a valid solution
        _check_solution(sol)
