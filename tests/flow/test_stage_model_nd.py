"""The stage model of the exact flow in d > 1 (flowlab._kernels.relund.StageND): named
state, read by name.

Guards: the kernels and ExactND never read the model, its scratch arrays or its event
and slide-row tables by position (a slot moved by one would be a silent wrong answer);
the model ExactND builds has the documented fields and shapes, and its slide rows and
event fields hold what their names say.
"""

import ast
import warnings
from pathlib import Path

import numba
import numpy as np

import flowlab as fl
from flowlab._flow.exact_nd import ExactND
from flowlab._kernels import hooks
from flowlab._kernels import relund as k
from flowlab._kernels import relund_stage as kst
from flowlab._problem import Problem

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ["flowlab/_kernels/relund.py", "flowlab/_kernels/relund_scan.py",
           "flowlab/_kernels/relund_stage.py", "flowlab/_kernels/relund_contact.py",
           "flowlab/_flow/exact_nd.py"]
#: names of the parameter arrays and of the residual rows the model held by position
OLD_NAMES = {"ipar", "fpar", "RR"}
OPTS = dict(rtol=1e-10, atol=1e-12, t0=0.0, gtol=None, max_steps=None, progress=False)


def _is_model(node):
    """``model`` or ``model.work``: the named tuples (their array fields are indexed)."""
    if isinstance(node, ast.Attribute) and node.attr == "work":
        node = node.value
    return isinstance(node, ast.Name) and node.id == "model"


def _is_table(node):
    """``model.event``, ``model.slide_rows`` or ``ev``, ``rows``: read at named entries."""
    if isinstance(node, ast.Attribute) and node.attr in ("event", "slide_rows"):
        return True
    return isinstance(node, ast.Name) and node.id in ("ev", "rows", "row")


def _has_literal(index):
    parts = index.elts if isinstance(index, ast.Tuple) else [index]
    return any(isinstance(p, ast.Constant) and isinstance(p.value, int) for p in parts)


def _positional_reads(tree):
    """Subscripts of the model or of its work tuple, integer entries of the event and of
    the slide rows, and uses of the old names."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and (
                _is_model(node.value) or (_is_table(node.value) and _has_literal(node.slice))):
            found.append(ast.unparse(node))
        elif isinstance(node, ast.Name) and node.id in OLD_NAMES:
            found.append(node.id)
    return sorted(found)


def test_positional_reads_are_caught():
    src = ("a = model[8][4]\nb = model.work[0]\nc = ipar[2]\nd = model.n_slide_rows[0]\n"
           "e = model.work.theta[3]\nf = model.pins[j, 0]\ng = model.event[EVENT_ROW]\n"
           "h = ev[1]\ni = model.slide_rows[r, 2]\nj = rows[r, ROW_KIND]\n")
    assert _positional_reads(ast.parse(src)) == ["ev[1]", "ipar", "model.slide_rows[r, 2]",
                                                 "model.work[0]", "model[8]"]


def test_stage_model_is_read_by_name_everywhere():
    found = {}
    for rel in SOURCES:
        bad = _positional_reads(ast.parse((ROOT / rel).read_text()))
        if bad:
            found[rel] = bad
    assert not found, f"read the stage model by field name (relund.StageND): {found}"


def test_exact_nd_builds_the_documented_model():
    rng = np.random.default_rng(4)
    n, d, m = 3, 2, 10
    net = fl.TwoLayer(rng.normal(size=(n, d + 1)), rng.normal(size=n), "relu")
    X, y = rng.uniform(-1, 1, (m, d)), rng.normal(size=m)
    e = ExactND(Problem(net, X, y, "sum"), 1.0, **OPTS)
    D, M, P = d + 1, e.X.shape[0], e.theta.size
    j, q = 1, 3                                   # neuron 1 held on point 3's surface
    Wj, XQ = e.theta[j * D:(j + 1) * D], e.X[[q]]
    Wj -= XQ.T @ np.linalg.solve(XQ @ XQ.T, XQ @ Wj)
    e.mask[j, q] = 0
    e.pins[j] = [q]
    e._pins_version += 1
    model = e._model()
    assert type(model) is k.StageND and type(model.work) is k.WorkND
    assert hooks._hooks(numba.typeof(model))[0] is k.rhs
    assert (model.n_neurons, model.n_coords, model.scale) == (n, D, e.scale)
    assert model.train_w and model.train_a and model.has_bias
    assert model.inputs.shape == (M, D) and np.array_equal(model.inputs_t, model.inputs.T)
    np.testing.assert_allclose(model.sq_norms, (model.inputs ** 2).sum(axis=1), rtol=1e-15)
    shapes = {"preacts": (n, M), "resid": (M,), "resid_mag": (M,), "theta_nodes": (4, P),
              "theta": (P,), "field": (P,), "masked": (n, D)}
    assert {f: getattr(model.work, f).shape for f in k.WorkND._fields} == shapes
    assert model.n_slide_rows.shape == (1,) and model.event.shape == (4,)
    cap = 2 * n * D + n
    assert model.slide_rows.shape == (cap, 3) and model.slide_sign.shape == (cap,)
    # one pinned point and a trained output weight: three slide rows of neuron 1
    assert model.n_slide_rows[0] == 3
    rows = model.slide_rows[:3]
    assert rows[:, k.ROW_NEURON].tolist() == [j] * 3
    assert rows[:, k.ROW_SLOT].tolist() == [0, 0, 0]
    assert rows[:, k.ROW_KIND].tolist() == [k.SLIDE_TO_INACTIVE, k.SLIDE_TO_ACTIVE,
                                            k.SLIDE_A_ZERO]
    R = model.work.resid
    assert model.slide_sign[0] == model.slide_sign[1] == np.sign(R[q])
    assert model.slide_sign[2] == np.sign(e.theta[n * D + j])
    assert model.pins[j].tolist() == [q] + [-1] * (D - 1)
    # the work arrays hold the forward pass at theta: Z, and R = cnt (f - ybar)
    Z = e.X @ e.theta[:n * D].reshape(n, D).T
    np.testing.assert_allclose(model.work.preacts, Z.T, rtol=1e-13, atol=1e-15)
    f = (model.mask * Z.T * e.theta[n * D:, None]).sum(axis=0)
    np.testing.assert_allclose(R, model.counts * (f - model.mean_y), rtol=1e-12, atol=1e-14)
    kst.build_slide_rows(model, e.theta)              # rebuilding gives the same rows
    assert model.n_slide_rows[0] == 3


def test_event_fields_name_the_event_python_handles(monkeypatch):
    """A flow stopped at every event (gtol: each step is checked in Python) reads the
    event from the model's event fields: the crossings it records are the pairs named."""
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, (30, 2))
    y = rng.normal(size=30)
    net = fl.TwoLayer(rng.normal(size=(6, 3)), rng.normal(size=6), "relu")
    seen = []
    handle = ExactND._handle

    def spy(self, model, t):
        seen.append(tuple(int(model.event[i]) for i in (k.EVENT_KIND, k.EVENT_NEURON,
                                                        k.EVENT_POINT, k.EVENT_ROW)))
        return handle(self, model, t)
    monkeypatch.setattr(ExactND, "_handle", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sol = fl.flow(net, X, y, 0.5, method="exact", loss="sum", gtol=1e-12, progress=False)
    assert sol.success and seen
    for kind, j, p, r in seen:
        assert kind in (k.EV_CROSS, k.EV_SLIDE) and 0 <= j < 6 and 0 <= p < 30
        assert (r == -1) == (kind == k.EV_CROSS)
    crossings = {(j, p) for kind, j, p, _ in seen if kind == k.EV_CROSS}
    inv = np.unique(X, axis=0, return_inverse=True)[1].ravel()   # data -> unique point
    recorded = {(int(ev.neuron), int(inv[ev.point])) for ev in sol.events}
    assert crossings <= recorded
