"""Training with the epsilon-rank of every layer recorded, and the staircase read off it.

Yang, Zhao & Zhu 2024, Sec. 2.2, the staircase phenomenon: "the
loss function often decreases rapidly along with a significant growth of
epsilon-rank of neurons, and the evolution of the epsilon-rank over time
resembles a staircase-like pattern".  :func:`rank_training` trains a network
while recording the mass-matrix spectrum of every hidden layer
(:class:`~flowlab.torch.probes.LayerSpectra`, eq. (11)), and returns the
epsilon-rank histories (:class:`flowlab.analysis.RankHistory`, eps = 1e-6 by
default) with their steps found by flowlab's detector
(:func:`flowlab.analysis.staircase`).  :func:`step_alignment` measures, for
each rising step of a history, how fast the loss falls while the rank climbs,
against how fast it falls on the plateaus between steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from flowlab import _validate as v
from flowlab.analysis.rank import RankHistory, Staircase, drop_rates
from flowlab.torch.layers import layer_rank_histories
from flowlab.torch.probes import LayerSpectra
from flowlab.torch._train import TorchTrainResult, train

__all__ = ["RankRun", "rank_training", "record_schedule", "step_alignment", "StepAlignment"]


@dataclass
class RankRun:
    """A training run with the epsilon-rank of every hidden layer.

    Attributes
    ----------
    result : TorchTrainResult
    histories : list of RankHistory
        One per hidden layer (first to last); ``t`` is the iteration number.
    staircases : list of Staircase
        ``histories[k].staircase(min_persist=..., min_height=...)``.
    """

    result: TorchTrainResult
    histories: list
    staircases: list = field(default_factory=list)

    @property
    def last(self) -> RankHistory:
        """The last hidden layer's history (Yang, Zhao & Zhu's (2024) neuron functions)."""
        return self.histories[-1]

    def summary(self) -> dict:
        """JSON-ready numbers: ranks at start/end, final loss, steps of the last layer."""
        h, st = self.histories[-1], self.staircases[-1]
        return {"iterations": int(self.result.iterations[-1]),
                "loss_start": float(h.loss[0]), "loss_end": float(h.loss[-1]),
                "loss_min": float(np.min(h.loss)),
                "rank_start": [int(x.rank[0]) for x in self.histories],
                "rank_end": [int(x.rank[-1]) for x in self.histories],
                "steps_last_layer": [{"from": s.rank_before, "to": s.rank_after,
                                      "it_start": s.t_start, "it_end": s.t_end,
                                      "loss_start": s.loss_start, "loss_end": s.loss_end}
                                     for s in st.steps]}


def record_schedule(steps: int, count: int = 200) -> np.ndarray:
    """Iterations to record: ``count`` evenly spaced in [0, steps] plus a log-spaced start."""
    steps = v.check_int(steps, "steps", minimum=1)
    lin = np.linspace(0, steps, count).astype(np.int64)
    log = np.geomspace(1, max(steps // 20, 1), 20).astype(np.int64)
    return np.unique(np.concatenate([[0], log, lin]))


def rank_training(net, loss_fn, quad, *, steps: int, lr: float = 1e-3, optimizer: str = "adam",
                  eps: float = 1e-6, records: int = 200, min_persist: int = 3,
                  min_height: int = 1, progress=None, **train_options) -> RankRun:
    """Train ``net`` and record the epsilon-rank of every hidden layer.

    Parameters
    ----------
    net : torch.nn.Module
        A :class:`~flowlab.torch.DeepNet` (or a module with ``hidden_outputs``).
    loss_fn : callable
    quad : Quadrature
        Points and weights of the mass matrices (Yang, Zhao & Zhu 2024, (11)).
    steps, lr, optimizer : as in :func:`flowlab.torch.train`.
    eps : float
        epsilon of the rank (Yang, Zhao & Zhu 2024: 1e-6).
    records : int
        Evenly spaced recording points (see :func:`record_schedule`).
    min_persist, min_height : int
        Options of :func:`flowlab.analysis.staircase`.
    """
    res = train(net, loss_fn, optimizer=optimizer, lr=lr, steps=steps,
                record_at=record_schedule(steps, records), probes=[LayerSpectra(quad)],
                progress=progress, **train_options)
    rec = res.probes["spectra"]
    rec.t = res.iterations.astype(np.float64)
    hists = layer_rank_histories(rec, res.loss, eps, loss_kind=res.loss_kind)
    stairs = [h.staircase(min_persist=min_persist, min_height=min_height) for h in hists]
    return RankRun(res, hists, stairs)


@dataclass
class StepAlignment:
    """How the loss moves during each rising step of a rank staircase.

    Attributes
    ----------
    rates : ndarray, shape (k,)
        -d log L / dt over each rising step (from its last sample before to its
        first sample after the riser).
    drops : ndarray, shape (k,)
        L(before) / L(after) across each rising step.
    plateau_rate : float
        Median of -d log L / dt over the treads: the sample intervals between
        the start of the first and the end of the last rising step that lie in
        no riser (with a single step: every interval after its start outside
        it), so that neither the initial transient nor the final convergence
        counts as a tread.
    aligned : ndarray of bool, shape (k,)
        rate > ``factor`` x plateau_rate and drop > 1.
    """

    rates: np.ndarray
    drops: np.ndarray
    plateau_rate: float
    aligned: np.ndarray
    factor: float

    def as_dict(self) -> dict:
        return {"rates": self.rates.tolist(), "drops": self.drops.tolist(),
                "plateau_rate": self.plateau_rate, "aligned": self.aligned.tolist(),
                "factor": self.factor}


def step_alignment(hist: RankHistory, stairs: Staircase, factor: float = 2.0) -> StepAlignment:
    """Loss-drop rate on each rising step of ``stairs`` against the plateaus' median rate
    (:func:`flowlab.analysis.drop_rates` per iteration)."""
    d = drop_rates(hist.t, hist.loss, stairs)
    plateau = float(np.median(d.rate[d.treads])) if d.treads.any() else float("nan")
    aligned = (d.step_rates > factor * max(plateau, 0.0)) & (d.step_drops > 1.0)
    return StepAlignment(d.step_rates, d.step_drops, plateau, aligned, float(factor))
