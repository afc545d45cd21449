"""One calling convention (docs/conventions.md, "Signatures"): data positional, options
keyword-only, lr and steps required, one loss default; an old call is an error that
names the new form, never a silent change of result."""

import inspect

import numpy as np
import pytest

import flowlab as fl
from flowlab.train import baselines as bl

X = np.linspace(-1, 1, 12)
Y = np.sin(np.pi * X)
RUNNERS = [fl.flow, fl.train.gd, fl.train.adam, fl.anls, fl.anls_candidates, bl.lsq, bl.ls_gd,
           bl.ls_adam]


@pytest.mark.parametrize("func", RUNNERS, ids=lambda f: f.__name__)
def test_options_are_keyword_only(func):
    params = inspect.signature(func).parameters.values()
    positional = [p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert positional in (["net", "x", "y", "t_end"], ["net", "x", "y"], ["x", "y", "b0"],
                          ["x", "y", "b"])
    loss = inspect.signature(func).parameters["loss"]
    assert loss.kind is loss.KEYWORD_ONLY
    if func in (fl.flow, fl.train.gd, fl.train.adam):
        assert loss.default == "sum"
    else:                                   # formerly "mean": required, see the docs
        with pytest.raises(TypeError, match="needs `loss`.*loss='mean'"):
            if func is fl.anls or func is fl.anls_candidates:
                func(X, Y, [0.1, 0.5])
            elif func is bl.lsq:
                func(fl.init.he(3, seed=0), X, Y)
            else:
                func(fl.init.he(3, seed=0), X, Y, lr=1e-3, steps=1)


@pytest.mark.parametrize("func", [fl.train.gd, fl.train.adam, bl.ls_gd, bl.ls_adam],
                         ids=lambda f: f.__name__)
def test_lr_and_steps_are_required_and_old_positional_calls_name_the_new_form(func):
    net = fl.init.he(3, seed=0)
    for name in ("lr", "steps"):
        assert inspect.signature(func).parameters[name].default is inspect.Parameter.empty
    with pytest.raises(TypeError, match="lr.*steps|steps.*lr"):
        func(net, X, Y, loss="mean")
    with pytest.raises(TypeError, match=rf"write {func.__name__}\(net, x, y, lr=0.01, "
                                        r"steps=5, \.\.\.\)"):
        func(net, X, Y, 0.01, 5)


def test_anls_old_positional_call_and_b0_name():
    b0 = [0.1, 0.5]
    with pytest.raises(TypeError, match=r"write anls\(x, y, b0, max_iter=5, loss='mean'"):
        fl.anls(X, Y, b0, 5, "mean")
    with pytest.raises(ValueError, match="`b0`"):
        fl.anls(X, Y, [[0.1, 0.5]], loss="mean")
    with pytest.raises(TypeError, match="`b0`"):
        fl.anls(X, Y, fl.init.he(3, seed=0), loss="mean")
    with pytest.raises(ValueError, match="`b`"):
        fl.anls_candidates(X, Y, [[0.1, 0.5]], loss="mean")


def test_keyword_calls_give_the_former_results():
    """The migration changes calls, not results: ANLS with loss="mean" is the former
    default, its knots do not depend on the loss, and Adam with lr 1e-3 is the former
    default step."""
    b0 = fl.init.he(6, seed=2).b
    mean = fl.anls(X, Y, b0, max_iter=20, loss="mean")
    total = fl.anls(X, Y, b0, max_iter=20, loss="sum")
    np.testing.assert_array_equal(mean.net.b, total.net.b)
    np.testing.assert_allclose(total.loss, X.size * mean.loss, rtol=1e-12)
    net = fl.TwoLayer(np.ones((2, 2)), np.ones(2), "tanh")
    res = fl.train.adam(net, X, Y, lr=1e-3, steps=10)
    assert res.loss_kind == "sum" and res.info["lr"] == 1e-3
