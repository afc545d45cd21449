"""No option is silently ignored: each is honoured by every method that takes it, or an
error names it."""

import ast
from pathlib import Path

import numpy as np
import pytest

import flowlab as fl

ROOT = Path(fl.__file__).resolve().parent


def _relu1d():
    x = np.linspace(-1, 1, 30)
    return fl.init.he(6, seed=1), x, np.sin(3 * x)


def _relu2d():
    rng = np.random.default_rng(3)
    X = rng.uniform(-1, 1, (25, 2))
    return fl.TwoLayer(rng.normal(size=(5, 3)), rng.normal(size=5), "relu"), X, np.sin(X.sum(1))


@pytest.mark.parametrize("stepper", ["explicit", "radau", "auto"])
@pytest.mark.parametrize("problem", [_relu1d, _relu2d])
def test_exact_flow_honours_max_step(problem, stepper):
    net, x, y = problem()
    T = 2.0
    free = fl.flow(net, x, y, T, stepper=stepper, progress=False)
    h_max = np.diff(free.t).max() / 5                     # the cap binds
    capped = fl.flow(net, x, y, T, stepper=stepper, max_step=h_max, progress=False)
    assert np.diff(capped.t).max() <= h_max * (1 + 1e-12)
    assert capped.status == free.status == "finished"
    np.testing.assert_allclose(capped.theta_final, free.theta_final, rtol=1e-6, atol=1e-8)
    assert capped.loss[-1] == pytest.approx(free.loss[-1], rel=1e-6)
    assert len(capped.events) == len(free.events)


@pytest.mark.parametrize("stepper", ["explicit", "radau"])
def test_exact_flow_honours_first_step(stepper):
    net, x, y = _relu1d()
    sol = fl.flow(net, x, y, 1.0, stepper=stepper, first_step=1e-4, progress=False)
    assert sol.t[1] - sol.t[0] == pytest.approx(1e-4, rel=1e-12)
    free = fl.flow(net, x, y, 1.0, stepper=stepper, progress=False)
    assert free.t[1] - free.t[0] != pytest.approx(1e-4, rel=1e-3)
    np.testing.assert_allclose(sol.theta_final, free.theta_final, rtol=1e-6, atol=1e-8)


def test_checkpoint_every_without_save_is_an_error():
    net, x, y = _relu1d()
    smooth = fl.init.xavier(4, 1, activation="tanh", seed=0)
    for net, method in ((net, "exact"), (smooth, "RK45"), (smooth, "ERK853"), (smooth, "auto")):
        with pytest.raises(ValueError, match="`checkpoint_every`.*save=PATH"):
            fl.flow(net, x, y, 0.1, method=method, checkpoint_every=5.0, progress=False)
    teacher = fl.TwoLayer(np.eye(2), [1.0, 1.0], "erf", bias=False)
    with pytest.raises(ValueError, match="`checkpoint_every`"):
        fl.population.flow(teacher, teacher, 1.0, checkpoint_every=5.0)


def test_first_step_and_max_step_are_checked_for_population_flows():
    teacher = fl.TwoLayer(np.eye(2), [1.0, 1.0], "erf", bias=False)
    with pytest.raises(ValueError, match="`max_step` must be > 0"):
        fl.population.flow(teacher, teacher, 1.0, max_step=-1.0)
    with pytest.raises(ValueError, match="`first_step` must be > 0"):
        fl.population.flow(teacher, teacher, 1.0, first_step=0.0)


def test_no_function_swallows_keywords():
    """Every ``**kwargs`` of flowlab is used (passed on or read), never a ``**_`` that
    drops what it is given."""
    dropped = []
    for path in sorted(ROOT.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or \
                    node.args.kwarg is None:
                continue
            name = node.args.kwarg.arg
            used = any(isinstance(n, ast.Name) and n.id == name
                       for stmt in node.body for n in ast.walk(stmt))
            if name == "_" or not used:
                dropped.append(f"{path.relative_to(ROOT.parent)}:{node.lineno} "
                               f"{node.name}(**{name})")
    assert not dropped, "keywords accepted and dropped:\n" + "\n".join(dropped)
