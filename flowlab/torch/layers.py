"""Per-layer analyses of deep networks with flowlab's two-layer tools.

- epsilon-rank of every hidden layer (Yang, Zhao & Zhu 2024, Fig. 3
  and Fig. 10): :func:`layer_rank_histories` turns a :class:`LayerSpectra`
  record into one :class:`flowlab.analysis.RankHistory` per layer, whose
  ``staircase()`` is flowlab's staircase detector;
- condensation per layer (Zhou et al. 2022, Fig. 4): layer l
  of a deep network, seen from its input h_{l-1}, is a two-layer network
  sum_j a_j sigma_l((W_l | b_l)_j . (h_{l-1}, 1)).  :func:`layer_networks` builds
  these ``TwoLayer`` networks, with a_j the norm of neuron j's outgoing weights
  (column j of W_{l+1}, or of the output layer), so that
  :func:`flowlab.analysis.condensation.count_orientations` and ``cosine_map``
  apply per layer unchanged (:func:`layer_orientations`, :func:`layer_cosine_maps`).
"""

from __future__ import annotations

import numpy as np
import torch

from flowlab import _validate as v
from flowlab.analysis.rank import RankHistory
from flowlab.models import TwoLayer
from flowlab.torch.probes import ProbeRecord, hidden_features, input_weights

__all__ = ["layer_rank_histories", "layer_networks", "layer_orientations", "layer_cosine_maps"]


def layer_rank_histories(record: ProbeRecord, loss, eps: float = 1e-6,
                         loss_kind: str = "mean") -> list[RankHistory]:
    """epsilon-rank of every hidden layer along a run, from a ``LayerSpectra`` record.

    Parameters
    ----------
    record : ProbeRecord
        Values are lists (one per layer) of descending eigenvalues.
    loss : array_like, shape (K,)
        The loss at ``record.t``.
    eps : float
        Threshold (Yang, Zhao & Zhu 2024: 1e-6).
    loss_kind : str
        Convention of ``loss`` (stored in the histories).

    Returns
    -------
    list of RankHistory
        One per hidden layer, first to last; ``hist.staircase()`` finds the steps.
    """
    eps = v.check_real(eps, "eps", nonnegative=True)
    L = v.as_array(loss, "loss", ndim=1)
    if L.size != record.t.size:
        raise ValueError(f"`loss` must have one value per recorded time ({record.t.size}), got "
                         f"{L.size}.")
    out = []
    for k in range(record.n_layers):
        eig = record.layer(k)
        out.append(RankHistory(record.t.copy(), np.count_nonzero(eig > eps, axis=1), L.copy(),
                               eig, eps, loss_kind))
    return out


def _outgoing(module, k: int, n_layers: int) -> np.ndarray:
    if k + 1 < n_layers:
        W = input_weights(module)[k + 1][:, :-1]
    elif hasattr(module, "output"):
        W = module.output.weight.detach().cpu().numpy().astype(np.float64)
    else:
        W = [m for m in module.modules() if isinstance(m, torch.nn.Linear)][-1].weight
        W = W.detach().cpu().numpy().astype(np.float64)
    return np.linalg.norm(W, axis=0)


def layer_networks(module: torch.nn.Module, x,
                   activations=None) -> list[tuple[TwoLayer, np.ndarray]]:
    """Every hidden layer as a flowlab ``TwoLayer`` network on its own inputs.

    Parameters
    ----------
    module : torch.nn.Module
        A :class:`flowlab.torch.DeepNet` (or a module whose hidden layers
        :func:`~flowlab.torch.probes.input_weights` finds; then give ``activations``).
    x : array_like, shape (m, d) or (m,)
        Data points.
    activations : sequence of str, optional
        flowlab activation per hidden layer (default ``module.activations``).

    Returns
    -------
    list of (TwoLayer, ndarray)
        For layer l: the network with W = (W_l | b_l), a_j = |column j of
        W_{l+1}| and activation sigma_l, and its inputs h_{l-1}(x), shape
        (m, n_{l-1}) (x itself for the first layer).
    """
    acts = getattr(module, "activations", None) if activations is None else tuple(activations)
    Ws = input_weights(module)
    if acts is None or len(acts) != len(Ws):
        raise ValueError(f"`activations` must name one activation per hidden layer ({len(Ws)}).")
    if hasattr(module, "hidden_outputs"):
        feats = hidden_features(module, x)
    else:
        raise TypeError(f"{type(module).__name__} has no `hidden_outputs`; use a DeepNet.")
    pts = np.asarray(x, dtype=np.float64)
    inputs = [pts[:, None] if pts.ndim == 1 else pts] + feats[:-1]
    return [(TwoLayer(W, _outgoing(module, k, len(Ws)), acts[k]), inputs[k])
            for k, W in enumerate(Ws)]


def _condensation():
    try:
        from flowlab.analysis import condensation
    except ImportError as exc:        # pragma: no cover - depends on the installed flowlab
        raise ImportError("per-layer condensation needs flowlab.analysis.condensation "
                          f"(Zhou et al. 2022), which this flowlab lacks: {exc}") from exc
    return condensation


def layer_orientations(module: torch.nn.Module, x, *, amplitude_threshold: float = 0.1,
                       angle_tol: float = 10.0, share: float = 1.0, activations=None) -> list:
    """Lines and orientations of every hidden layer's input weights (Zhou et al. 2022, Fig. 4).

    :func:`flowlab.analysis.condensation.count_orientations` (with
    ``amplitude_threshold``, ``angle_tol`` and ``share``) on each network of
    :func:`layer_networks` with its own inputs; returns one ``Orientations`` per layer.
    """
    cond = _condensation()
    return [cond.count_orientations(net, h, amplitude_threshold=amplitude_threshold,
                                    angle_tol=angle_tol, share=share)
            for net, h in layer_networks(module, x, activations)]


def layer_cosine_maps(module: torch.nn.Module, *, angle_tol: float = 10.0) -> list:
    """Cosine-similarity maps D(u, v) (Zhou et al. 2022, (5)) of every hidden layer's input
    weights."""
    cond = _condensation()
    return [cond.cosine_map(W, angle_tol=angle_tol) for W in input_weights(module)]
