"""Probes: what to measure on a network along a flow or a training run.

A probe is a callable ``probe(module) -> value`` with a ``name``; flows and
training runs evaluate their probes at recorded times and keep the values in
a :class:`ProbeRecord`.

- :class:`HiddenFeatures`: the neurons of every hidden layer on given points,
  shape (m, n_l) per layer (the neuron functions of Yang, Zhao & Zhu 2024,
  Definition 2.3, for the last layer; Fig. 3/10 for
  every layer);
- :class:`LayerSpectra`: the eigenvalues of every hidden layer's mass matrix
  (Yang, Zhao & Zhu 2024, (11), by quadrature through :func:`flowlab.analysis.mass_matrix`),
  from which the epsilon-rank of each layer follows
  (:func:`flowlab.torch.layers.layer_rank_histories`) -- compact enough to record
  at every step;
- :class:`InputWeights`: every hidden layer's rows (W_l | b_l), the input
  weights of Zhou et al. 2022 (Sec. 3) whose condensation
  Fig. 4 shows per layer;
- :class:`Output`: the network's output on given points.

Networks of :mod:`flowlab.torch.nets` expose their hidden layers directly; for
any other module name the submodules whose outputs are the hidden layers
(``layers=["act1", "act2"]``) and forward hooks capture them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from flowlab.analysis import Quadrature
from flowlab.analysis.rank import mass_matrix
from flowlab.torch.losses import as_points

__all__ = ["Probe", "HiddenFeatures", "LayerSpectra", "InputWeights", "Output", "ProbeRecord",
           "hidden_features", "input_weights", "check_probes", "evaluate_probes"]


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float64)


def hidden_features(module: torch.nn.Module, x, layers=None) -> list[np.ndarray]:
    """Outputs of the hidden layers of ``module`` on ``x``: a list of arrays (m, n_l).

    Parameters
    ----------
    module : torch.nn.Module
        A :class:`flowlab.torch.DeepNet` (its ``hidden_outputs``), or any module
        when ``layers`` is given.
    x : array_like or tensor, shape (m, d) or (m,)
    layers : sequence of str, optional
        Names of submodules (``dict(module.named_modules())``) whose outputs,
        flattened to (m, -1), are the hidden layers, in order.
    """
    pts = as_points(x, "x", dtype=next(module.parameters()).dtype)
    if layers is None:
        if not hasattr(module, "hidden_outputs"):
            raise TypeError(f"{type(module).__name__} has no `hidden_outputs`; name the hidden "
                            "layers' submodules with `layers=[...]`.")
        with torch.no_grad():
            return [_numpy(h) for h in module.hidden_outputs(pts)]
    subs = dict(module.named_modules())
    missing = [n for n in layers if n not in subs]
    if missing:
        raise ValueError(f"`layers` names unknown submodules {missing}; the module has "
                         f"{[n for n in subs if n]}.")
    seen: dict = {}
    handles = [subs[n].register_forward_hook(
        lambda mod, inp, out, key=n: seen.__setitem__(key, out)) for n in layers]
    try:
        with torch.no_grad():
            module(pts)
    finally:
        for h in handles:
            h.remove()
    return [_numpy(seen[n].reshape(pts.shape[0], -1)) for n in layers]


def input_weights(module: torch.nn.Module) -> list[np.ndarray]:
    """(W_l | b_l) of every hidden layer, arrays (n_l, n_in + 1).

    A :class:`flowlab.torch.DeepNet` gives its hidden layers; any other module
    all its ``torch.nn.Linear`` layers but the last (the output layer), in
    registration order (a layer without bias gets a zero bias column).
    """
    if hasattr(module, "input_weights"):
        return module.input_weights()
    lins = [m for m in module.modules() if isinstance(m, torch.nn.Linear)][:-1]
    if not lins:
        raise TypeError(f"{type(module).__name__} has no hidden torch.nn.Linear layer.")
    out = []
    for lin in lins:
        b = (_numpy(lin.bias) if lin.bias is not None else np.zeros(lin.out_features))
        out.append(np.column_stack([_numpy(lin.weight), b]))
    return out


class Probe:
    """Base class: ``name`` and ``__call__(module) -> value``."""

    name = "probe"

    def __call__(self, module):  # pragma: no cover - interface
        raise NotImplementedError


class HiddenFeatures(Probe):
    """Every hidden layer's neurons on ``points``: a list of arrays (m, n_l)."""

    name = "features"

    def __init__(self, points, layers=None):
        self.points = as_points(points, "points")
        self.layers = None if layers is None else tuple(layers)

    def __call__(self, module):
        return hidden_features(module, self.points, self.layers)


class LayerSpectra(Probe):
    """Eigenvalues (descending) of every hidden layer's mass matrix M = D^T W D (Yang, Zhao & Zhu
    2024, (11)).

    Parameters
    ----------
    quad : Quadrature
        Points and weights on the domain (e.g. :func:`flowlab.analysis.gauss_legendre`).
    layers : sequence of str, optional
        As in :func:`hidden_features`.
    """

    name = "spectra"

    def __init__(self, quad: Quadrature, layers=None):
        if not isinstance(quad, Quadrature):
            raise TypeError("`quad` must be a flowlab Quadrature (e.g. "
                            "flowlab.analysis.gauss_legendre(20, (-1, 1), cells=50)), got "
                            f"{type(quad).__name__}.")
        self.quad = quad
        self.features = HiddenFeatures(quad.points, layers)

    def __call__(self, module):
        return [np.linalg.eigvalsh(mass_matrix(D, self.quad.weights))[::-1].copy()
                for D in self.features(module)]


class InputWeights(Probe):
    """Every hidden layer's rows (W_l | b_l): a list of arrays (n_l, n_in + 1)."""

    name = "weights"

    def __call__(self, module):
        return input_weights(module)


class Output(Probe):
    """The network's output on ``points``, shape (m, out)."""

    name = "output"

    def __init__(self, points):
        self.points = as_points(points, "points")

    def __call__(self, module):
        with torch.no_grad():
            return _numpy(module(self.points.to(next(module.parameters()).dtype)))


@dataclass
class ProbeRecord:
    """Values of one probe along a run.

    Attributes
    ----------
    name : str
    t : ndarray, shape (K,)
        Flow time, or learning rate x iterations for a training run.
    values : list
        One value per time (for the layer probes, a list over layers).
    iterations : ndarray of int, shape (K,), optional
        Iteration numbers (training runs).
    """

    name: str
    t: np.ndarray = field(repr=False)
    values: list = field(default_factory=list, repr=False)
    iterations: np.ndarray | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        span = f", t in [{self.t[0]:.6g}, {self.t[-1]:.6g}]" if len(self.t) else ""
        return f"ProbeRecord({self.name!r}, {len(self.values)} records{span})"

    def layer(self, k: int) -> np.ndarray:
        """Layer ``k``'s values stacked over time, shape (K, ...)."""
        return np.stack([val[k] for val in self.values])

    @property
    def n_layers(self) -> int:
        return len(self.values[0]) if self.values else 0

    def __len__(self) -> int:
        return len(self.values)


def check_probes(probes) -> dict:
    """Normalise ``probes`` (None, a probe, a sequence of probes or a dict name -> callable)."""
    if probes is None:
        return {}
    if isinstance(probes, dict):
        items = list(probes.items())
    else:
        seq = [probes] if callable(probes) else list(probes)
        items = [(getattr(p, "name", None), p) for p in seq]
    out = {}
    for name, p in items:
        if not callable(p) or not isinstance(name, str):
            raise TypeError("`probes` must be probes with a `name` (e.g. HiddenFeatures(x)) or a "
                            "dict {name: callable(module)}; got "
                            f"{type(p).__name__} named {name!r}.")
        if name in out:
            raise ValueError(f"two probes are named {name!r}; pass a dict to name them apart.")
        out[name] = p
    return out


def evaluate_probes(probes: dict, module, records: dict, t: float, iteration=None) -> None:
    """Append each probe's value on ``module`` at time ``t`` to ``records`` (name -> lists)."""
    for name, p in probes.items():
        rec = records.setdefault(name, {"t": [], "values": [], "iterations": []})
        rec["t"].append(float(t))
        rec["values"].append(p(module))
        rec["iterations"].append(iteration)


def finish_records(records: dict) -> dict:
    """Lists collected by :func:`evaluate_probes` as :class:`ProbeRecord` objects."""
    out = {}
    for name, rec in records.items():
        its = rec["iterations"]
        out[name] = ProbeRecord(name, np.asarray(rec["t"]), rec["values"],
                                None if its and its[0] is None else np.asarray(its, dtype=np.int64))
    return out
