"""The problem library of the work-precision suite: gradient flows to integrate.

A problem is registered under a name with :func:`register_problem`; its
builder returns a :class:`Instance` for the full or the quick (``--quick``)
size: the initial network, the data, the loss convention, the time span,
the tolerance and learning-rate ladders, and which setups give its
reference.  Every instance is deterministic (fixed seeds).

Conventions.  ``loss="sum"`` is L = 1/2 sum_i r_i^2, ``loss="mean"`` is
L = 1/(2m) sum_i r_i^2; flow time t equals learning rate x iterations of
gradient descent on the same loss.  Parameters are the flat vector of
``net.params()`` (flowlab networks) or of the module's parameters in
``named_parameters`` order (PyTorch problems).
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .. import init
from .._version import __version__
from ..activations import get_activation
from ..models import Network, TwoLayer

__all__ = ["Instance", "BenchProblem", "register_problem", "problems", "get_problem",
           "problem_names", "closed_form_linear"]

#: tolerance ladders (rtol; atol = rtol x ``atol_ratio``)
FULL_TOLS = tuple(10.0 ** -k for k in range(3, 13))
QUICK_TOLS = (1e-4, 1e-6, 1e-8, 1e-10)
#: the tolerance of every reference
REFERENCE_RTOL = 1e-13
#: number of log-spaced measurement times
N_TIMES = 100


@dataclass
class Instance:
    """One problem at one size: everything a setup needs to run it.

    Attributes
    ----------
    name : str
    quick : bool
    t_end : float
        Final time of the flow (a multiple of ``lrs[0]``).
    loss : {"sum", "mean"}
    net, x, y, trainable
        flowlab problems: initial network, data ((m,) or (m, d)), targets (m,)
        and trainable groups (None: all).
    module, loss_fn
        PyTorch problems: the float64 module and ``loss_fn(model)``.
    tols : tuple of float
        rtol ladder of the adaptive setups (loosest first).
    atol_ratio : float
        atol = rtol x atol_ratio.
    lrs : tuple of float
        Learning rates of gradient descent and Adam (largest first; each the
        previous one halved, so all hit the measurement times exactly).
    t_first : float
        Smallest measurement time (raised if needed so that the 100 times are
        distinct multiples of ``lrs[0]``).
    reference : tuple of str
        Setups that compute the reference, in order of preference: the
        first that applies is the reference, the next one (if any) the
        second method, used for the rows of the first method's own setup.
    relu : bool
        The flow is piecewise smooth (ReLU activations).
    exact : callable, optional
        ``exact(times) -> theta`` of shape (len(times), P): the flow in closed form.
    time_limit : float
        Seconds one run of a setup may take before it is stopped ("timeout").
    description : dict
        What the problem is, for ``work_precision.json``.
    """

    name: str
    quick: bool
    t_end: float
    loss: str
    net: Network | None = None
    x: np.ndarray | None = None
    y: np.ndarray | None = None
    trainable: tuple | None = None
    module: object = None
    loss_fn: object = None
    tols: tuple = QUICK_TOLS
    atol_ratio: float = 1e-2
    lrs: tuple = ()
    t_first: float | None = None
    reference: tuple = ("Radau", "DOP853")
    relu: bool = False
    exact: Callable | None = None
    time_limit: float = 30.0
    description: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.lrs:
            k = self.t_end / self.lrs[0]
            if abs(k - round(k)) > 1e-9 * k:
                raise ValueError(f"problem {self.name!r}: `t_end` = {self.t_end} must be a "
                                 f"multiple of the largest learning rate {self.lrs[0]}.")
        self._flat = None

    # -- what kind of problem ------------------------------------------------------------
    @property
    def kind(self) -> str:
        """"torch" for a module through the PyTorch bridge, "native" for a flowlab network."""
        return "torch" if self.module is not None else "native"

    def flat(self):
        """The bridge's :class:`flowlab.torch.FlatModule` of a PyTorch problem."""
        if self._flat is None:
            from ..torch.flat import FlatModule
            self._flat = FlatModule(self.module, self.loss_fn)
        return self._flat

    @property
    def theta0(self) -> np.ndarray:
        """Initial flat parameters, shape (P,)."""
        return self.flat().theta0.copy() if self.kind == "torch" else self.net.params()

    @property
    def size(self) -> int:
        return self.theta0.size

    def loss_of(self, theta) -> float:
        """The loss at the flat parameters ``theta`` (in the problem's convention)."""
        if self.kind == "torch":
            fm = self.flat()
            return float(fm.loss(np.asarray(theta)[fm.user_index]))
        return float(self.net.with_params(theta).loss(self.x, self.y, self.loss))

    # -- measurement times ---------------------------------------------------------------
    def times(self) -> np.ndarray:
        """The 100 log-spaced measurement times in [t_first, t_end], shape (100,).

        They are multiples of the largest learning rate, so every rung of the
        gradient-descent ladder has an iterate exactly there.
        """
        grid = self.lrs[0] if self.lrs else None
        t1 = self.t_first if self.t_first is not None else self.t_end * 1e-4
        for _ in range(200):
            t = np.logspace(np.log10(t1), np.log10(self.t_end), N_TIMES)
            if grid is not None:
                t = np.unique(np.maximum(np.round(t / grid), 1.0)) * grid
            t[-1] = self.t_end
            if t.size == N_TIMES and np.all(np.diff(t) > 0):
                return t
            t1 *= 1.15
        raise ValueError(f"problem {self.name!r}: cannot place {N_TIMES} distinct times on the "
                         f"learning-rate grid; lower lrs[0] or raise t_end.")

    # -- cache key -----------------------------------------------------------------------
    def fingerprint(self) -> str:
        """A hash of everything that defines the flow and the measurement times (these
        follow from t_end, t_first and the learning rates)."""
        h = hashlib.sha256()
        parts = [self.name, self.quick, self.t_end, self.loss, self.trainable, self.kind,
                 REFERENCE_RTOL, self.atol_ratio, self.reference, self.lrs, self.t_first,
                 N_TIMES, __version__]
        h.update(repr(parts).encode())
        arrays = [self.theta0]
        if self.kind == "native":
            arrays += [np.asarray(self.x, dtype=float), np.asarray(self.y, dtype=float)]
            h.update(repr((type(self.net).__name__, getattr(self.net, "activation", None),
                           getattr(self.net, "w", 0) is None)).encode())
        else:
            h.update(repr(self.module).encode())
            for name in ("x", "y"):
                val = getattr(self.loss_fn, name, None)
                if val is not None:
                    arrays.append(np.asarray(val.detach().cpu().numpy(), dtype=float))
            h.update(repr(getattr(self.loss_fn, "loss_kind", "")).encode())
        for a in arrays:
            a = np.ascontiguousarray(a, dtype=np.float64)
            h.update(repr(a.shape).encode())
            h.update(a.tobytes())
        return h.hexdigest()[:16]


@dataclass(frozen=True)
class BenchProblem:
    """A registered problem: ``build(quick)`` returns its :class:`Instance`."""

    name: str
    title: str
    build: Callable[[bool], Instance]
    requires: tuple = ()
    tags: tuple = ()

    def missing(self) -> list[str]:
        """The optional packages this problem needs that are not installed."""
        return [r for r in self.requires if importlib.util.find_spec(r) is None]

    def instance(self, quick: bool = False) -> Instance:
        """Build the problem (raises ImportError naming the extra when one is missing)."""
        miss = self.missing()
        if miss:
            raise ImportError(f"problem {self.name!r} needs {', '.join(miss)}: install the "
                              f'PyTorch extra with `pip install "flowlab[torch]"`.')
        return self.build(bool(quick))


_PROBLEMS: dict[str, BenchProblem] = {}


def register_problem(name: str, title: str, requires=(), tags=()):
    """Decorator registering ``build(quick) -> Instance`` as the problem ``name``."""
    def deco(build):
        if name in _PROBLEMS:
            raise ValueError(f"bench problem {name!r} is registered twice.")
        _PROBLEMS[name] = BenchProblem(name, title, build, tuple(requires), tuple(tags))
        return build
    return deco


def problems() -> list[BenchProblem]:
    """Every registered problem, sorted by name."""
    return [_PROBLEMS[k] for k in sorted(_PROBLEMS)]


def problem_names() -> list[str]:
    return sorted(_PROBLEMS)


def get_problem(name: str) -> BenchProblem:
    """The problem registered as ``name`` (ValueError listing the names otherwise)."""
    if not isinstance(name, str) or name not in _PROBLEMS:
        raise ValueError(f"unknown bench problem {name!r}; `flowlab bench --list` shows the "
                         f"{len(_PROBLEMS)} available: {', '.join(problem_names())}.")
    return _PROBLEMS[name]


def _ladder(lr0: float, rungs: int) -> tuple:
    return tuple(lr0 / 2 ** k for k in range(rungs))


def _sine_data(points=40):
    x = np.linspace(-1.0, 1.5, points)
    return x, np.sin(3 * x) + 0.5 * np.sin(6 * x)


# -- the problems ------------------------------------------------------------------------

@register_problem("plateau-sine", "ReLU, 1-d: width-10 network (w = 1 fixed) fitting sin(pi x) "
                  "on 100 points, sum loss, He initialisation; events and slides over 1e5 time "
                  "units (Ainsworth & Shin 2021, Figs. 7-8)", tags=("relu",))
def _plateau_sine(quick: bool) -> Instance:
    x = np.linspace(-1.0, 1.0, 100)
    T = 1.0 if quick else 1e5
    return Instance(
        name="plateau-sine", quick=quick, t_end=T, loss="sum", net=init.he(10, seed=0), x=x,
        y=np.sin(np.pi * x), tols=QUICK_TOLS if quick else FULL_TOLS,
        # lr lambda_max(H) is about 1.9 at lr 1e-3 on the sum loss: start below stability
        lrs=_ladder(5e-4, 5), t_first=T * 1e-3 if quick else 1e-1, reference=("exact",),
        relu=True, time_limit=1.5 if quick else 60.0,
        description={"model": "ReLU1D, f(x) = sum_j c_j relu(x - b_j), width 10, w fixed",
                     "init": "He: c ~ N(0, 2/n), b ~ N(0, 2), seed 0",
                     "data": "100 equidistant points of [-1, 1], y = sin(pi x)",
                     "quick": "t_end = 1 (77 events, 6 slides) instead of 1e5 (145 events, "
                              "16 slides)"})


@register_problem("plateau-sine-w", "ReLU, 1-d, trained input weights: plateau-sine's data and "
                  "initialisation as a TwoLayer network (W_j = (1, -b_j)); two exact engines "
                  "apply", tags=("relu",))
def _plateau_sine_w(quick: bool) -> Instance:
    x = np.linspace(-1.0, 1.0, 100)
    T = 1.0 if quick else 20.0
    return Instance(
        name="plateau-sine-w", quick=quick, t_end=T, loss="sum",
        net=init.he(10, seed=0, model="twolayer"), x=x, y=np.sin(np.pi * x),
        tols=QUICK_TOLS if quick else FULL_TOLS, lrs=_ladder(2.5e-4, 5), t_first=T * 1e-3,
        reference=("exact", "exact-nd"), relu=True, time_limit=5.0 if quick else 60.0,
        description={"model": "TwoLayer relu, d = 1, width 10, W and a trained",
                     "init": "He (seed 0) with w_j = 1", "data": "as plateau-sine"})


@register_problem("relu-teacher-10d", "ReLU, d = 10: width-6 student learning a width-3 ReLU "
                  "teacher on 60 Gaussian points, mean loss", tags=("relu",))
def _teacher(quick: bool) -> Instance:
    rng = np.random.default_rng(0)
    d, m = 10, 60
    X = rng.standard_normal((m, d))
    teacher = TwoLayer(rng.standard_normal((3, d + 1)) / np.sqrt(d), np.array([1.0, -0.8, 0.6]),
                       "relu")
    net = TwoLayer(rng.standard_normal((6, d + 1)) / np.sqrt(d),
                   rng.standard_normal(6) / np.sqrt(6), "relu")
    T = 2.0 if quick else 20.0
    return Instance(
        name="relu-teacher-10d", quick=quick, t_end=T, loss="mean", net=net, x=X, y=teacher(X),
        tols=QUICK_TOLS if quick else FULL_TOLS, lrs=_ladder(0.005, 5), t_first=T * 1e-3,
        reference=("exact",), relu=True, time_limit=5.0 if quick else 60.0,
        description={"teacher": "TwoLayer relu, width 3, W ~ N(0, 1/d), a = (1, -0.8, 0.6)",
                     "student": "TwoLayer relu, width 6, W ~ N(0, 1/d), a ~ N(0, 1/6)",
                     "data": "60 points x ~ N(0, I_10), y = teacher(x); seed 0"})


@register_problem("condense-x2tanh", "x^2 tanh x at small initialisation (condense-1d's network): "
                  "a long slow initial stage, then fast fitting (Zhou et al. 2022)",
                  tags=("smooth", "multiscale"))
def _condense(quick: bool) -> Instance:
    x, y = _sine_data()
    if quick:
        net, T, desc = init.small_gaussian(20, 1, 0.05 ** 2, activation="x2tanh", seed=0), 750.0, \
            "width 20, N(0, 0.05^2): initial stage ends (loss at 70%) at t = 497"
    else:
        net, T, desc = init.small_gaussian(100, 1, 0.005 ** 2, activation="x2tanh", seed=0), \
            16000.0, "width 100, N(0, 0.005^2) as condense-1d: initial stage ends at t = 13514"
    return Instance(
        name="condense-x2tanh", quick=quick, t_end=T, loss="mean", net=net, x=x, y=y,
        tols=QUICK_TOLS if quick else FULL_TOLS, lrs=_ladder(0.0625, 6), t_first=T * 1e-3,
        reference=("Radau", "DOP853"), time_limit=5.0 if quick else 120.0,
        description={"model": "TwoLayer x2tanh, every parameter N(0, std^2), seed 0",
                     "data": "40 points of sin(3x) + sin(6x)/2 on [-1, 1.5]", "size": desc})


@register_problem("tanh-sine", "tanh network (width 20) fitting sin(3x) + sin(6x)/2: smooth, "
                  "moderately stiff", tags=("smooth",))
def _tanh_sine(quick: bool) -> Instance:
    x, y = _sine_data()
    T = 20.0 if quick else 200.0
    return Instance(
        name="tanh-sine", quick=quick, t_end=T, loss="mean",
        net=init.xavier(20, 1, activation="tanh", seed=0, bound=1.0), x=x, y=y,
        tols=QUICK_TOLS if quick else FULL_TOLS, lrs=_ladder(0.04, 5), t_first=T * 1e-3,
        reference=("Radau", "DOP853"), time_limit=5.0 if quick else 60.0,
        description={"model": "TwoLayer tanh, width 20, U(-1, 1) weights, seed 0",
                     "data": "40 points of sin(3x) + sin(6x)/2 on [-1, 1.5]"})


def closed_form_linear(net: TwoLayer, x, y, loss: str) -> Callable:
    """``exact(times) -> theta`` for the flow of the output weights with W frozen.

    With features Phi_ij = sigma(W_j . (x_i, 1)) the flow of a is linear,
    a' = -s Phi^T (Phi a - y) = -G a + g, G = s Phi^T Phi (s the loss scale), so
    a(t) = a0 - V diag((1 - exp(-lambda t)) / lambda) V^T (G a0 - g) with
    G = V diag(lambda) V^T (the factor is t where lambda = 0).
    """
    from .._validate import loss_scale
    X = net._inputs(x)                                 # (d + 1, m)
    Phi = get_activation(net.activation)(net.W @ X).T  # (m, n)
    s = loss_scale(loss, Phi.shape[0])
    G = s * Phi.T @ Phi
    g = s * Phi.T @ np.asarray(y, dtype=float)
    lam, V = np.linalg.eigh(G)
    lam = np.maximum(lam, 0.0)
    c = V.T @ (G @ net.a - g)
    theta0 = net.params()
    na = net.a.size

    def exact(times):
        t = np.atleast_1d(np.asarray(times, dtype=float))[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            fac = np.where(lam > 0, -np.expm1(-lam * t) / np.where(lam > 0, lam, 1.0), t)
        out = np.repeat(theta0[None, :], t.shape[0], axis=0)
        out[:, -na:] = net.a - (fac * c) @ V.T
        return out
    return exact


@register_problem("linear-features", "closed form: output weights of a tanh random-feature "
                  "model (hidden layer frozen), a linear flow solved exactly by eigen-"
                  "decomposition; anchors the error measure", tags=("smooth", "closed_form"))
def _linear_features(quick: bool) -> Instance:
    rng = np.random.default_rng(1)
    n = 12
    x = np.linspace(-1.0, 1.0, 30)
    y = np.sin(np.pi * x) + 0.3 * np.cos(5 * x)
    W = np.column_stack([rng.normal(0.0, 2.0, n), rng.normal(0.0, 1.0, n)])
    net = TwoLayer(W, rng.normal(0.0, 0.3, n), "tanh")
    T = 10.0 if quick else 100.0
    return Instance(
        name="linear-features", quick=quick, t_end=T, loss="sum", net=net, x=x, y=y,
        trainable=("a",), tols=QUICK_TOLS if quick else FULL_TOLS, lrs=_ladder(0.005, 5),
        t_first=T * 1e-3, reference=("Radau", "DOP853"), exact=closed_form_linear(net, x, y,
                                                                                  "sum"),
        time_limit=5.0 if quick else 60.0,
        description={"model": "TwoLayer tanh, width 12, W ~ (N(0, 4), N(0, 1)) frozen, "
                              "a ~ N(0, 0.09) trained; seed 1",
                     "data": "30 points of sin(pi x) + 0.3 cos(5x) on [-1, 1]",
                     "closed_form": "eigen-decomposition of G = Phi^T Phi"})


@register_problem("deep-mlp", "deep tanh MLP (3 hidden layers of 8) through the PyTorch bridge, "
                  "fitting sin(3x) + sin(6x)/2 (needs the extra flowlab[torch])",
                  requires=("torch",), tags=("smooth", "torch"))
def _deep_mlp(quick: bool) -> Instance:
    from ..torch import MSELoss, init_default, mlp
    x, y = _sine_data()
    module = init_default(mlp(1, 8, 3, "tanh"), seed=0)
    T = 5.0 if quick else 50.0
    return Instance(
        name="deep-mlp", quick=quick, t_end=T, loss="mean", module=module,
        loss_fn=MSELoss(x, y, loss="mean"), tols=QUICK_TOLS if quick else FULL_TOLS,
        lrs=_ladder(0.01, 5), t_first=T * 1e-3, reference=("Radau", "DOP853"),
        time_limit=10.0 if quick else 120.0,
        description={"model": "flowlab.torch.mlp(1, 8, 3, 'tanh'), PyTorch's default "
                              "initialisation (seed 0), float64",
                     "data": "40 points of sin(3x) + sin(6x)/2 on [-1, 1.5]"})
