"""The results of a sweep: one xarray Dataset in a zarr store, written point by point.

Layout of ``DIR/results.zarr`` (``xarray.open_zarr`` reads it):

- one dimension per swept key, named as in the sweep file, with its values as
  coordinate (lists as JSON text); extra dimensions of array outputs (``t`` for
  the flow task's loss on the common time grid);
- bookkeeping variables over the grid: ``status`` ("" while a point is pending,
  the task's status when done, "error" when it failed after its retries),
  ``error`` (the exception's type and message), ``traceback`` (where it was
  raised, on the worker), ``attempts``, ``wall_s``
  (seconds on the worker), ``worker`` (host:pid) and ``point_hash`` (the point's
  identity, see :meth:`flowlab.sweep.SweepSpec.point_hash`);
- one variable per task output, created when a task first returns it: floats
  (NaN where missing), integers (-1 where missing), booleans, strings, arrays;
- attributes: the study text, the task, the swept keys and the package versions.

A point is written with its values first and its ``status`` last, each chunk
atomically (zarr writes a temporary file and renames it), so a process killed
at any moment leaves every point either done or pending.  Chunks hold one row
of the last swept key.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import warnings
from pathlib import Path

import numpy as np

__all__ = ["ResultStore", "open_results", "STORE_NAME"]

STORE_NAME = "results.zarr"
_FORMAT = 1
_BOOK = {"status": "", "error": "", "traceback": "", "attempts": 0, "wall_s": np.nan,
         "worker": "", "point_hash": ""}


class _Quiet(warnings.catch_warnings):
    """Silence zarr's note that consolidated metadata is not in the v3 specification."""

    def __enter__(self):
        out = super().__enter__()
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        return out


def open_results(out):
    """The results of the sweep written to ``out`` as an ``xarray.Dataset``.

    ``out`` is the sweep's output folder (or the ``results.zarr`` store itself).
    """
    import xarray as xr
    path = Path(out)
    if path.name != STORE_NAME:
        path = path / STORE_NAME
    if not path.exists():
        raise FileNotFoundError(f"no sweep results at {path}; run `flowlab sweep STUDY.toml "
                                f"--out {path.parent}` first.")
    with _Quiet():
        return xr.open_zarr(path)


class ResultStore:
    """Writer of one sweep's ``results.zarr`` (used by :func:`flowlab.sweep.run`)."""

    def __init__(self, path: Path, spec, group, hashes: np.ndarray):
        self.path, self.spec, self.group, self.hashes = path, spec, group, hashes
        self.dims = tuple(spec.keys)
        self.chunks = tuple([1] * (len(self.dims) - 1) + [spec.shape[-1]])
        self.moved = None
        self.carried = 0

    # -- opening -----------------------------------------------------------------------
    @classmethod
    def open(cls, out: Path, spec, versions: dict) -> "ResultStore":
        """Open ``out/results.zarr`` for ``spec``: create it, reuse it, or carry its finished
        points over to a new grid (the old store is moved to ``out/previous/``)."""
        import zarr
        path = Path(out) / STORE_NAME
        hashes = np.empty(spec.shape, dtype=object)
        for index in spec.indices():
            hashes[index] = spec.point_hash(spec.point(index))
        old = None
        if path.exists():
            try:
                with _Quiet():
                    group = zarr.open_group(path, mode="r+")
                fmt = group.attrs.get("flowlab_sweep")
            except Exception as exc:      # noqa: BLE001 - any unreadable store is reported
                raise ValueError(f"{path} exists but is not readable as a zarr store ({exc}); "
                                 "move it away or choose another --out.") from None
            if fmt != _FORMAT:
                raise ValueError(f"{path} is not a flowlab sweep store; choose another --out.")
            store = cls(path, spec, group, hashes)
            if store._same_grid():
                return store
            old = store
        store = cls._create(path, spec, hashes, versions)
        if old is not None:               # the old store now lies in out/previous/
            with _Quiet():
                old.group = zarr.open_group(store.moved, mode="r")
            store._carry_over(old)
        return store

    def _same_grid(self) -> bool:
        g = self.group
        keys = json.loads(g.attrs.get("sweep_keys", "[]"))
        if keys != list(self.spec.keys) or g.attrs.get("task") != self.spec.task.ident:
            return False
        if tuple(g["point_hash"].shape) != self.spec.shape:
            return False
        return bool(np.all(np.asarray(g["point_hash"][...], dtype=object) == self.hashes))

    @classmethod
    def _create(cls, path: Path, spec, hashes, versions) -> "ResultStore":
        import xarray as xr
        import zarr
        dims = tuple(spec.keys)
        coords = {key: spec.coordinate(k) for k, key in enumerate(dims)}
        if spec.task.coords is not None:
            coords.update({d: np.asarray(v) for d, v in spec.task.coords(spec).items()})
        shape = spec.shape
        data = {}
        for name, fill in _BOOK.items():
            if isinstance(fill, str):
                arr = np.full(shape, fill, dtype=object)
            else:
                arr = np.full(shape, fill)
            data[name] = (dims, arr)
        data["point_hash"] = (dims, hashes.copy())
        ds = xr.Dataset(data, coords=coords)
        ds.attrs.update({"flowlab_sweep": _FORMAT, "study": spec.text, "task": spec.task.ident,
                         "sweep_keys": json.dumps(list(dims)),
                         "source": str(spec.source) if spec.source else "",
                         "versions": json.dumps(versions),
                         "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        chunks = tuple([1] * (len(dims) - 1) + [shape[-1]])
        enc = {name: {"chunks": chunks} for name in data}
        tmp = path.with_name(path.name + ".partial")
        if tmp.exists():
            shutil.rmtree(tmp)
        previous = None
        with _Quiet():
            ds.to_zarr(tmp, mode="w", encoding=enc, consolidated=True)
            if path.exists():
                stamp = time.strftime("%Y%m%d-%H%M%S")
                previous = path.parent / "previous" / f"results-{stamp}.zarr"
                previous.parent.mkdir(exist_ok=True)
                os.replace(path, previous)
            os.replace(tmp, path)
            group = zarr.open_group(path, mode="r+")
        store = cls(path, spec, group, hashes)
        store.moved = previous
        return store

    def _carry_over(self, old: "ResultStore") -> None:
        """Copy the finished points of ``old`` whose hash is in this grid."""
        where = {h: index for index, h in np.ndenumerate(self.hashes)}
        old_dims = tuple(json.loads(old.group.attrs.get("sweep_keys", "[]")))
        status = np.asarray(old.group["status"][...], dtype=object)
        hashes = np.asarray(old.group["point_hash"][...], dtype=object)
        names = _output_names(old.group, old_dims)
        self.carried = 0
        for index, st in np.ndenumerate(status):
            if st in ("", "error") or hashes[index] not in where:
                continue
            values = {n: _scalar(old.group[n][index]) for n in names}
            self.write(where[hashes[index]], dict(values, status=str(st)),
                       attempts=int(old.group["attempts"][index]),
                       wall_s=float(old.group["wall_s"][index]),
                       worker=str(old.group["worker"][index]))
            self.carried += 1

    # -- reading -------------------------------------------------------------------------
    def done_mask(self) -> np.ndarray:
        """True at the points finished (not pending, not failed)."""
        status = np.asarray(self.group["status"][...], dtype=object)
        return (status != "") & (status != "error")

    def status(self) -> np.ndarray:
        return np.asarray(self.group["status"][...], dtype=object)

    # -- writing -------------------------------------------------------------------------
    def write(self, index, values: dict, *, attempts: int, wall_s: float, worker: str) -> None:
        """Write one finished point: its outputs, then its bookkeeping, ``status`` last."""
        values = dict(values)
        status = values.pop("status", "ok")
        self._ensure(values)
        for name, value in values.items():
            self.group[name][index] = self._coerce(name, value)
        self.group["attempts"][index] = int(attempts)
        self.group["wall_s"][index] = float(wall_s)
        self.group["worker"][index] = worker
        self.group["error"][index] = ""
        self.group["traceback"][index] = ""
        self.group["status"][index] = str(status) or "ok"

    def write_error(self, index, message: str, *, attempts: int, wall_s: float = np.nan,
                    worker: str = "", trace: str = "") -> None:
        """Record a point whose task failed after its retries."""
        self.group["traceback"][index] = trace
        self.group["attempts"][index] = int(attempts)
        self.group["wall_s"][index] = float(wall_s)
        self.group["worker"][index] = worker
        self.group["error"][index] = message
        self.group["status"][index] = "error"

    def check(self, values: dict) -> None:
        """Raise TypeError/ValueError if ``values`` do not fit the variables already stored."""
        for name, value in values.items():
            if name == "status" or name not in self.group.array_keys():
                continue
            self._coerce(name, value)

    def _coerce(self, name, value):
        arr = self.group[name]
        kind = arr.dtype.kind if hasattr(arr.dtype, "kind") else "T"
        extra = tuple(arr.shape[len(self.dims):])
        if extra:
            v = np.asarray(value)
            if v.shape != extra:
                raise ValueError(f"task output {name!r} has shape {v.shape} at this point but "
                                 f"{extra} at the points before; a task's arrays keep one shape.")
            return v
        if kind in ("T", "O", "U"):
            if not isinstance(value, str):
                raise TypeError(f"task output {name!r} was a string at earlier points, got "
                                f"{value!r}.")
            return value
        if isinstance(value, str) or isinstance(value, np.ndarray):
            raise TypeError(f"task output {name!r} was a number at earlier points, got "
                            f"{value!r}.")
        if kind == "b":
            return bool(value)
        if kind in "iu":
            if isinstance(value, float):
                if np.isnan(value):
                    return -1
                if not value.is_integer():
                    raise TypeError(f"task output {name!r} was an integer at earlier points, "
                                    f"got {value!r}.")
            return int(value)
        return float(value)

    def _ensure(self, values: dict) -> None:
        """Create the variables of outputs this store does not hold yet."""
        new = {n: v for n, v in values.items() if n not in self.group.array_keys()}
        if not new:
            return
        import xarray as xr
        import zarr
        shape = self.spec.shape
        data, enc = {}, {}
        dims_named = self.spec.task.dims
        for name, value in new.items():
            if isinstance(value, np.ndarray):
                extra = dims_named.get(name) or tuple(f"{name}_dim{k}" for k in range(value.ndim))
                if len(extra) != value.ndim:
                    raise ValueError(f"task output {name!r} has {value.ndim} dimensions but the "
                                     f"task names {len(extra)}: {extra}.")
                for d, n in zip(extra, value.shape):
                    if d in self.group.array_keys() and self.group[d].shape != (n,):
                        raise ValueError(f"task output {name!r} has {n} entries along {d!r}, "
                                         f"whose coordinate has {self.group[d].shape[0]}.")
                fill = np.nan if value.dtype.kind == "f" else -1
                arr = np.full(shape + value.shape, fill, dtype=value.dtype)
                data[name] = (self.dims + tuple(extra), arr)
                enc[name] = {"chunks": self.chunks + value.shape}
                continue
            if isinstance(value, bool):
                arr = np.zeros(shape, dtype=bool)
            elif isinstance(value, int):
                arr = np.full(shape, -1, dtype=np.int64)
            elif isinstance(value, float):
                arr = np.full(shape, np.nan)
            else:
                arr = np.full(shape, "", dtype=object)
            data[name] = (self.dims, arr)
            enc[name] = {"chunks": self.chunks}
        attrs = dict(self.group.attrs)     # appending a Dataset rewrites the root attributes
        with _Quiet():
            xr.Dataset(data, attrs=attrs).to_zarr(self.path, mode="a", encoding=enc,
                                                  consolidated=True)
            self.group = zarr.open_group(self.path, mode="r+")
        if dict(self.group.attrs) != attrs:
            raise RuntimeError(f"{self.path}: the store's attributes were lost while adding "
                               f"{', '.join(new)}.")


def _scalar(value):
    """numpy scalars and 0-d arrays as Python values; arrays unchanged."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    return value.item() if isinstance(value, np.generic) else value


def _output_names(group, dims) -> list:
    """Task outputs stored in ``group``: every gridded variable except the bookkeeping."""
    out = []
    for name in group.array_keys():
        if name in _BOOK or name in dims:
            continue
        arr_dims = group[name].metadata.dimension_names or ()
        if tuple(arr_dims[:len(dims)]) == tuple(dims):
            out.append(name)
    return out
