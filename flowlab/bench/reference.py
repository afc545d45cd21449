"""The reference solution of a bench problem, computed once and cached on disk.

The reference is the first setup of ``Instance.reference`` that applies,
run at rtol 1e-13 (atol = 1e-13 x ``atol_ratio``) to the measurement times.
When a second setup of that list applies, it is run at the same tolerance
too: the distance between the two is recorded (the reference checked
against a second method), and the rows of the first setup are measured
against the second one, so that no setup is judged against its own method.

The cache holds one ``.npz`` file per problem and size
(``<name>[-quick].npz``) in ``cache_dir``; it stores the problem's
fingerprint (a hash of data, initial parameters, time span, measurement
times, loss, reference settings and flowlab's version) and is recomputed when
the fingerprint differs.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import io as _io
from ._limits import Limits, call_with_limit
from .measures import relative_errors
from ._problems import REFERENCE_RTOL, Instance
from .setups import get_setup

__all__ = ["Reference", "get_reference", "default_cache_dir"]


def default_cache_dir() -> Path:
    """``$FLOWLAB_BENCH_CACHE`` or ``~/.cache/flowlab/bench``."""
    env = os.environ.get("FLOWLAB_BENCH_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "flowlab" / "bench"


@dataclass
class Reference:
    """Reference parameters at the measurement times, and how they were obtained.

    Attributes
    ----------
    method : str
        The setup that computed it.
    tol, atol : float
    seconds : float
        Wall time of its computation (the run that filled the cache).
    times : ndarray, shape (K,)
    theta : ndarray, shape (K, P)
    second : dict or None
        The second method: ``{"method", "seconds", "theta"}``, or None.
    cached : bool
        Read from the cache (True) or computed now.
    note : str
        What happened with the cache.
    """

    method: str
    tol: float
    atol: float
    seconds: float
    times: np.ndarray
    theta: np.ndarray
    fingerprint: str
    second: dict | None = None
    second_note: str = ""
    cached: bool = False
    note: str = ""
    cache_file: str | None = None
    extra: dict = field(default_factory=dict)

    def for_setup(self, name: str) -> tuple[np.ndarray, str]:
        """``(theta, label)`` to measure the setup ``name`` against: the second method for
        the reference's own setup (when there is one), else the reference."""
        if name == self.method and self.second is not None:
            return self.second["theta"], self.second["method"]
        return self.theta, self.method

    def agreement(self) -> dict | None:
        """Relative distances between the reference and the second method (final, max)."""
        if self.second is None:
            return None
        e = relative_errors(self.second["theta"], self.theta)
        return {"final": float(e[-1]), "dense_max": float(e.max())}

    def summary(self) -> dict:
        """The JSON record of the reference."""
        out = {"method": self.method, "tol": self.tol, "atol": self.atol,
               "seconds": self.seconds, "cached": self.cached, "cache": self.note,
               "cache_file": self.cache_file, "fingerprint": self.fingerprint}
        if self.second is not None:
            out["second_method"] = {"method": self.second["method"], "tol": self.tol,
                                    "seconds": self.second["seconds"],
                                    "agreement": self.agreement()}
        else:
            out["second_method"] = {"method": None, "note": self.second_note}
        return out


def _compute(setup_name: str, inst: Instance, times, rtol: float, time_limit: float):
    setup = get_setup(setup_name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out, fired, seconds = call_with_limit(
            lambda: setup.run(inst, rtol, times, Limits(time_limit)), time_limit)
    if out is None or fired or out.status != "finished" or out.theta.shape[0] != times.size:
        why = "it hit the time limit" if fired or out is None else out.message
        raise RuntimeError(f"the reference ({setup_name} at rtol {rtol:g}) of problem "
                           f"{inst.name!r} did not finish: {why}.")
    return out.theta, seconds


def get_reference(inst: Instance, cache_dir=None, *, use_cache: bool = True,
                  time_limit: float = 3600.0, log=None) -> Reference:
    """The reference of ``inst``, from the cache when its fingerprint matches.

    Parameters
    ----------
    inst : Instance
    cache_dir : path, optional
        Folder of the cache (default :func:`default_cache_dir`).
    use_cache : bool
        False computes it afresh and does not write the cache.
    time_limit : float
        Seconds each reference run may take.
    log : callable, optional
        Called with progress messages.
    """
    times = inst.times()
    fp = inst.fingerprint()
    usable = []
    for name in inst.reference:
        try:
            setup = get_setup(name)
        except ValueError:
            continue
        if setup.unavailable(inst) is None:
            usable.append(name)
    if not usable:
        raise RuntimeError(f"no reference method of {inst.reference} applies to problem "
                           f"{inst.name!r}.")
    path = None
    note = "cache not used"
    if use_cache:
        folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        path = folder / f"{inst.name}{'-quick' if inst.quick else ''}.npz"
        if path.exists():
            try:
                arrays, meta = _io.load_npz(path)
            except Exception as exc:                       # unreadable: recompute
                note = f"cache file unreadable ({exc}); recomputed"
            else:
                if meta.get("fingerprint") == fp and meta.get("method") == usable[0]:
                    second = None
                    if "second_theta" in arrays:
                        second = {"method": meta["second_method"],
                                  "seconds": meta["second_seconds"],
                                  "theta": arrays["second_theta"]}
                    return Reference(meta["method"], meta["tol"], meta["atol"],
                                     meta["seconds"], arrays["times"], arrays["theta"], fp,
                                     second, meta.get("second_note", ""), True,
                                     "reused (fingerprint matches)", str(path))
                note = (f"invalidated: the problem changed (fingerprint "
                        f"{meta.get('fingerprint')} -> {fp}); recomputed")
        else:
            note = "computed and stored"
    rtol = REFERENCE_RTOL
    if log:
        log(f"reference: {usable[0]} at rtol {rtol:g}")
    theta, seconds = _compute(usable[0], inst, times, rtol, time_limit)
    second, second_note = None, ""
    if len(usable) > 1:
        if log:
            log(f"second method: {usable[1]} at rtol {rtol:g}")
        th2, s2 = _compute(usable[1], inst, times, rtol, time_limit)
        second = {"method": usable[1], "seconds": s2, "theta": th2}
    else:
        others = [n for n in inst.reference[1:]]
        second_note = (f"none applies ({', '.join(others)} do not)" if others else
                       "no second method at this accuracy exists for this problem; rows of "
                       f"{usable[0]} are measured against its own reference")
    ref = Reference(usable[0], rtol, rtol * inst.atol_ratio, seconds, times, theta, fp, second,
                    second_note, False, note, str(path) if path else None)
    if path is not None:
        arrays = {"times": times, "theta": theta}
        meta = {"fingerprint": fp, "method": usable[0], "tol": rtol, "atol": ref.atol,
                "seconds": seconds, "second_note": second_note, "problem": inst.name,
                "quick": inst.quick}
        if second is not None:
            arrays["second_theta"] = second["theta"]
            meta.update(second_method=second["method"], second_seconds=second["seconds"])
        _io.save_npz(path, arrays, meta)
    return ref
