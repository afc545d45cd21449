"""The optional packages a sweep runs on, imported only when a sweep runs."""

from __future__ import annotations

import importlib

#: module -> package name on PyPI, for the message
_NEEDED = {"dask": "dask", "distributed": "distributed", "xarray": "xarray", "zarr": "zarr"}

EXTRA_HINT = 'pip install "flowlab[sweep]"'


class MissingExtraError(ImportError):
    """The ``sweep`` extra (dask[distributed], xarray, zarr) is not installed."""


def require() -> None:
    """Import dask.distributed, xarray and zarr, or raise :class:`MissingExtraError`.

    The message names the missing packages and the extra that installs them.
    """
    missing = []
    for module, package in _NEEDED.items():
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(package)
    if missing:
        raise MissingExtraError(
            f"sweeps need the optional packages {', '.join(missing)}, which are not installed; "
            f"install the sweep extra: {EXTRA_HINT} (dask[distributed], xarray, zarr).")


def versions() -> dict:
    """Versions of the packages a sweep's results depend on."""
    import platform
    out = {"python": platform.python_version()}
    for module in ("flowlab", "numpy", "scipy", "numba", "dask", "distributed", "xarray",
                   "zarr"):
        try:
            out[module] = str(importlib.import_module(module).__version__)
        except (ImportError, AttributeError):
            out[module] = None
    return out
