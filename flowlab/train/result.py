"""The result type shared by every discrete trainer (GD, Adam, ANLS, baselines)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import io as _io
from .._status import check_status
from ..models import Network

__all__ = ["TrainResult"]


@dataclass(eq=False)
class TrainResult:
    """A discrete training run.

    Attributes
    ----------
    net : Network
        The trained network.
    loss : ndarray, shape (k,)
        Loss history (in the ``loss_kind`` convention) at ``iterations``.
    iterations : ndarray of int, shape (k,)
        Iteration counts of the history; the last entry is the final iteration.
    method : str
        "gd", "adam", "anls", "lsgd", "lsadam", "lsq", ...
    loss_kind : {"sum", "mean"}
    stop_reason : str
        Why the run stopped, in words for the user (numbers, what to change).
    status : str
        How the run ended, a word of the vocabulary that flows share
        (``flowlab._flow.solution.STATUSES``): "finished" (the requested iterations),
        "steady_state" (ANLS: no candidate lowers the loss), "max_steps" (ANLS:
        ``max_iter`` spent), "interrupted" (Ctrl-C, an ANLS callback), "diverged"
        (non-finite loss: lower ``lr``), "degenerate" (no ANLS move left), "failed"
        (overflow).  Branch on it, not on the words of ``stop_reason``.  Keyword-only.
    params : ndarray, shape (k, P), optional
        Flat parameters at ``iterations`` (when recorded).
    info : dict
        Method-specific extras (learning rate, accepted moves, timings...).
    """

    net: Network
    loss: np.ndarray
    iterations: np.ndarray
    method: str
    loss_kind: str
    stop_reason: str = ""
    params: np.ndarray | None = None
    info: dict = field(default_factory=dict)
    status: str = field(kw_only=True)

    def __post_init__(self):
        check_status(self.status)

    @property
    def success(self) -> bool:
        """True when the run ended as asked: status "finished" or "steady_state"."""
        return self.status in ("finished", "steady_state")

    def __repr__(self) -> str:
        return (f"TrainResult(method={self.method!r}, iterations={int(self.iterations[-1])}, "
                f"loss {self.loss[0]:.6g} -> {self.loss[-1]:.6g}, status={self.status!r})")

    def save(self, path):
        """Write to one ``.npz`` file (exact round trip with :meth:`load`)."""
        arrays, net_meta = _io.net_to_dict(self.net, "net")
        arrays.update({"loss": self.loss, "iterations": self.iterations})
        if self.params is not None:
            arrays["params"] = self.params
        meta = {"format": "flowlab.TrainResult", "net": net_meta, "method": self.method,
                "loss_kind": self.loss_kind, "stop_reason": self.stop_reason,
                "status": self.status, "info": self.info}
        return _io.save_npz(path, arrays, meta)

    @classmethod
    def load(cls, path) -> "TrainResult":
        arrays, meta = _io.load_npz(path)
        if meta.get("format") != "flowlab.TrainResult":
            raise ValueError(f"{path} does not hold a flowlab TrainResult.")
        return cls(net=_io.net_from_dict(arrays, meta["net"], "net"), loss=arrays["loss"],
                   iterations=arrays["iterations"], method=meta["method"],
                   loss_kind=meta["loss_kind"], stop_reason=meta["stop_reason"],
                   status=meta.get("status") or _legacy_status(meta["stop_reason"]),
                   params=arrays.get("params"), info=meta["info"])


#: The first words of the messages of files written before ``TrainResult`` had a status
_LEGACY = (("diverged", "diverged"), ("interrupted", "interrupted"),
           ("converged", "steady_state"), ("reached max_iter", "max_steps"),
           ("callback", "interrupted"), ("no candidate", "degenerate"), ("overflow", "failed"))


def _legacy_status(stop_reason: str) -> str:
    """The status of a file saved before ``TrainResult`` had one, from its message."""
    for start, status in _LEGACY:
        if stop_reason.startswith(start):
            return status
    return "finished"
