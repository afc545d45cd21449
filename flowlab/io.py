"""Saving and loading networks and results.

Files are numpy ``.npz`` archives: every array is stored bit for bit and a
JSON string ``__meta__`` records everything else, so a round trip is exact.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .models import Network, ReLU1D, TwoLayer

__all__ = ["net_to_dict", "net_from_dict", "save_npz", "load_npz", "write_json"]

_KINDS = {"ReLU1D": ReLU1D, "TwoLayer": TwoLayer}


def net_to_dict(net: Network, prefix: str = "net") -> tuple[dict, dict]:
    """``(arrays, meta)`` describing ``net``; inverse of :func:`net_from_dict`."""
    arrays = {f"{prefix}.{g}": getattr(net, g) for g in net.group_names}
    meta = {"kind": type(net).__name__, "groups": list(net.group_names), **net._meta()}
    return arrays, meta


def net_from_dict(arrays, meta: dict, prefix: str = "net") -> Network:
    """Rebuild a network saved by :func:`net_to_dict`."""
    kind = meta.get("kind")
    if kind not in _KINDS:
        raise ValueError(f"unknown network kind {kind!r} in file; expected one of {list(_KINDS)}.")
    parts = {g: np.asarray(arrays[f"{prefix}.{g}"]) for g in meta["groups"]}
    if kind == "ReLU1D":
        return ReLU1D(parts["b"], parts["c"], parts.get("w"))
    return TwoLayer(parts["W"], parts["a"], meta["activation"], bias=meta.get("bias", True))


def save_npz(path, arrays: dict, meta: dict) -> Path:
    """Write ``arrays`` and the JSON ``meta`` to one ``.npz`` file, atomically."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(path.suffix + ".npz") if path.suffix else path.with_suffix(".npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    payload = dict(arrays)
    payload["__meta__"] = np.array(json.dumps(meta, default=_json_default))
    with open(tmp, "wb") as fh:
        np.savez_compressed(fh, **payload)
    os.replace(tmp, path)
    return path


def load_npz(path) -> tuple[dict, dict]:
    """Read a file written by :func:`save_npz`: ``(arrays, meta)``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files if k != "__meta__"}
        if "__meta__" not in data.files:
            raise ValueError(f"{path} is not a flowlab file (no __meta__ entry).")
        meta = json.loads(str(data["__meta__"]))
    return arrays, meta


def write_json(path, obj) -> Path:
    """Write ``obj`` as indented JSON (numpy scalars and arrays converted)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, default=_json_default) + "\n")
    return path


def _json_default(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"cannot write {type(o).__name__} to JSON")
