"""Saving and loading networks and results.

Files are numpy ``.npz`` archives: every array is stored bit for bit and a
JSON string ``__meta__`` records everything else, so a round trip is exact.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .models import Network, ReLU1D, TwoLayer

__all__ = ["net_to_dict", "net_from_dict", "save_npz", "load_npz", "write_json", "npz_path",
           "check_save_path", "find_file", "check_format", "json_default"]

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


def npz_path(path) -> Path:
    """The file :func:`save_npz` writes for ``path``: ``.npz`` is appended unless present."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    return path


def check_save_path(path, name: str = "path") -> Path:
    """The ``.npz`` file that saving to ``path`` writes, checked before anything is computed.

    Raises ``ValueError`` naming ``name`` when ``path`` is a folder or its folder
    cannot be created.
    """
    if isinstance(path, bool) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"`{name}` must be a file path (str or pathlib.Path), got "
                        f"{type(path).__name__}.")
    given = Path(path)
    if str(path) == "" or given.is_dir():
        raise ValueError(f"`{name}` = {str(path)!r} is a folder; give a file name inside it, "
                         f"e.g. {str(given / 'solution.npz')!r}.")
    out = npz_path(given)
    if out.is_dir():
        raise ValueError(f"`{name}` = {str(path)!r} would write {str(out)!r}, which is a "
                         "folder; choose another file name.")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"`{name}` = {str(path)!r}: cannot create its folder "
                         f"{str(out.parent)!r} ({exc.strerror or exc}); choose a folder you can "
                         "write to.") from None
    if not os.access(out.parent, os.W_OK):
        raise ValueError(f"`{name}` = {str(path)!r}: the folder {str(out.parent)!r} is not "
                         "writable; choose a folder you can write to.")
    return out


def save_npz(path, arrays: dict, meta: dict) -> Path:
    """Write ``arrays`` and the JSON ``meta`` to one ``.npz`` file, atomically.

    ``.npz`` is appended to ``path`` unless it ends with it; a folder is refused.
    """
    path = check_save_path(path)
    tmp = path.with_name(path.name + ".tmp.npz")
    payload = dict(arrays)
    payload["__meta__"] = np.array(json.dumps(meta, default=json_default))
    with open(tmp, "wb") as fh:
        np.savez_compressed(fh, **payload)
    os.replace(tmp, path)
    return path


def find_file(path) -> Path:
    """The file to read for ``path``: as given, or with ``.npz`` appended as saving does."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{str(path)!r} is a folder, not a flowlab file; give the .npz file "
                         "inside it.")
    if path.exists():
        return path
    alt = npz_path(path)
    if alt.exists():
        return alt
    raise FileNotFoundError(f"no such file: {path}")


def load_npz(path) -> tuple[dict, dict]:
    """Read a file written by :func:`save_npz`: ``(arrays, meta)``.

    A file that is not a readable flowlab archive (truncated, corrupted,
    another format, metadata that is not JSON) raises ``ValueError`` naming
    the file and what is wrong with it.
    """
    path = find_file(path)
    what = f"{str(path)!r} is not a readable flowlab file"
    try:
        with np.load(path, allow_pickle=False) as data:
            if not hasattr(data, "files"):
                raise ValueError(f"{what}: it holds a single array, not a flowlab archive.")
            if "__meta__" not in data.files:
                raise ValueError(f"{what}: it has no __meta__ entry (not written by flowlab).")
            arrays = {k: data[k] for k in data.files if k != "__meta__"}
            raw = data["__meta__"]
    except ValueError as exc:
        if str(exc).startswith(what):
            raise
        raise ValueError(f"{what}: not a numpy .npz archive ({exc}); it may be corrupted.") \
            from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError) as exc:
        raise ValueError(f"{what}: the archive is truncated or corrupted ({type(exc).__name__}: "
                         f"{exc}).") from None
    if raw.dtype.kind != "U" or raw.ndim != 0:
        raise ValueError(f"{what}: its __meta__ entry is not a JSON string.")
    try:
        meta = json.loads(str(raw))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what}: its metadata is not valid JSON ({exc}).") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{what}: its metadata is not a JSON object.")
    return arrays, meta


def check_format(meta: dict, fmt: str, version: int, path) -> None:
    """Raise ``ValueError`` unless ``meta`` is format ``fmt`` at a version this flowlab reads."""
    if meta.get("format") != fmt:
        raise ValueError(f"{str(path)!r} does not hold a {fmt} (its format is "
                         f"{meta.get('format')!r}).")
    got = meta.get("version", 1)
    if isinstance(got, bool) or not isinstance(got, int) or got < 1:
        raise ValueError(f"{str(path)!r}: unknown format version {got!r}.")
    if got > version:
        raise ValueError(f"{str(path)!r} was written by a newer flowlab (format version {got}); "
                         f"this flowlab reads versions up to {version}: upgrade flowlab to "
                         "read it.")


def write_json(path, obj) -> Path:
    """Write ``obj`` as indented JSON (numpy scalars and arrays converted)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, default=json_default) + "\n")
    return path


def to_plain(obj, nonfinite=None):
    """A JSON-ready copy of ``obj``: dicts (with string keys), lists (from tuples and
    arrays), Python numbers (from numpy scalars); a float that is not finite becomes
    ``nonfinite(value)`` (None: null)."""
    if isinstance(obj, dict):
        return {str(k): to_plain(v, nonfinite) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v, nonfinite) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_plain(obj.tolist(), nonfinite)
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None if nonfinite is None else nonfinite(obj)
    return obj


def json_default(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"cannot write {type(o).__name__} to JSON")
