"""Inputs that used to give a silently wrong answer: complex arrays, overflowing ANLS data."""

import warnings

import numpy as np
import pytest

import flowlab as fl


@pytest.mark.parametrize("call, name", [
    (lambda z: fl.eps_rank(np.eye(3) * z), "M"),
    (lambda z: fl.ReLU1D(np.zeros(2) * z, np.ones(2)), "b"),
    (lambda z: fl.ReLU1D(np.zeros(2), np.ones(2), w=np.ones(2) * z), "w"),
    (lambda z: fl.TwoLayer(np.ones((2, 2)) * z, np.ones(2)), "W"),
    (lambda z: fl.TwoLayer(np.ones((2, 2)), np.ones(2) * z), "a"),
    (lambda z: fl.flow(fl.ReLU1D([0.0], [1.0]), np.linspace(0, 1, 3) * z, np.zeros(3), 1.0),
     "x"),
    (lambda z: fl.flow(fl.ReLU1D([0.0], [1.0]), np.linspace(0, 1, 3), np.zeros(3) * z, 1.0),
     "y"),
    (lambda z: fl.anls(np.linspace(0, 1, 5) * z, np.zeros(5), [0.5], loss="mean"), "x"),
])
def test_complex_arrays_are_rejected(call, name):
    """Issue case: complex ndarrays lost their imaginary part with only numpy's
    ComplexWarning; now they are refused like complex lists, even with zero imaginary
    part (the caller passes the real part explicitly)."""
    for z in (1 + 1j, np.complex128(1.0)):
        with warnings.catch_warnings():
            warnings.simplefilter("error")            # no ComplexWarning on the way
            with pytest.raises(TypeError, match=f"`{name}` must be an array of real numbers, "
                                                "got complex values.*np.real"):
                call(z)


def test_anls_refuses_data_whose_squares_overflow():
    """Issue case: inputs x 1e200 made no move and reported "converged"; y = 1e300
    reported "converged" with loss inf."""
    x = np.linspace(-1, 1, 30)
    y = np.sin(np.pi * x)
    b = fl.init.he(5, seed=1).b
    with pytest.raises(ValueError, match=r"`x` and `b0` reach 1.82e\+200.*overflow.*rescale x"):
        fl.anls(x * 1e200, y, b * 1e200, max_iter=10, loss="mean")
    with pytest.raises(ValueError, match=r"`y` reaches 9.99e\+299.*overflows.*rescale y"):
        fl.anls(x, y * 1e300, b, max_iter=10, loss="mean")
    with pytest.raises(ValueError, match="`x` and `b`"):
        fl.anls_candidates(x * 1e200, y, b, loss="mean")
    # scales that fit in float64 give the same moves as the unscaled data
    ref = fl.anls(x, y, b, max_iter=30, loss="mean")
    big = fl.anls(x * 1e100, y * 1e50, b * 1e100, max_iter=30, delta=1e-8 * 1e100, loss="mean")
    assert big.stop_reason == ref.stop_reason and len(big.loss) == len(ref.loss)
    np.testing.assert_allclose(big.net.b / 1e100, ref.net.b, rtol=1e-12)
    np.testing.assert_allclose(big.loss / 1e100, ref.loss, rtol=1e-9)
