"""The result type shared by every discrete trainer (GD, Adam, ANLS, baselines)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import io as _io
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
        Why the run stopped, in words.
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

    def __repr__(self) -> str:
        return (f"TrainResult(method={self.method!r}, iterations={int(self.iterations[-1])}, "
                f"loss {self.loss[0]:.6g} -> {self.loss[-1]:.6g}, stop={self.stop_reason!r})")

    def save(self, path):
        """Write to one ``.npz`` file (exact round trip with :meth:`load`)."""
        arrays, net_meta = _io.net_to_dict(self.net, "net")
        arrays.update({"loss": self.loss, "iterations": self.iterations})
        if self.params is not None:
            arrays["params"] = self.params
        meta = {"format": "flowlab.TrainResult", "net": net_meta, "method": self.method,
                "loss_kind": self.loss_kind, "stop_reason": self.stop_reason, "info": self.info}
        return _io.save_npz(path, arrays, meta)

    @classmethod
    def load(cls, path) -> "TrainResult":
        arrays, meta = _io.load_npz(path)
        if meta.get("format") != "flowlab.TrainResult":
            raise ValueError(f"{path} does not hold a flowlab TrainResult.")
        return cls(net=_io.net_from_dict(arrays, meta["net"], "net"), loss=arrays["loss"],
                   iterations=arrays["iterations"], method=meta["method"],
                   loss_kind=meta["loss_kind"], stop_reason=meta["stop_reason"],
                   params=arrays.get("params"), info=meta["info"])
