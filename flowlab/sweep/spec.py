"""Sweep files: a study plus a ``[sweep]`` table whose lists span a grid.

A sweep file is a ``flowlab flow`` study (:mod:`flowlab.study`) with one more
table.  Each key of ``[sweep]`` is a dotted study key, each value a list; the
grid is the product of the lists, in the order the keys are written::

    [sweep]
    "model.width" = [20, 40]
    "init.seed" = [0, 1, 2]

(``model.width = [20, 40]`` without quotes is the same in TOML.)  Instead of
the flow sections a sweep may name a task function in a ``[task]`` table, whose
other keys are the task's parameters; its ``[sweep]`` keys are then
``"task.<parameter>"``::

    [task]
    name = "phase-diagram"
    activation = "relu"

    [sweep]
    "task.gamma" = [0.5, 1.0, 1.75]
    "task.width" = [25, 50, 100]

Every point is validated before anything runs: a malformed ``[sweep]`` table
(unknown key, empty list, a value that is not a list, a repeated value) or a
point the study format rejects is a :class:`SweepError` naming the key.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import study as _study
from .tasks import Task, get_task

__all__ = ["SweepError", "SweepSpec", "load_sweep", "LOSS_DECADES", "LOSS_PER_DECADE"]

#: the common time grid of a flow sweep spans this many decades below the largest t_end
LOSS_DECADES = 5
#: and has this many points per decade (plus the last)
LOSS_PER_DECADE = 10

_FLOW_SECTIONS = ("model", "init", "data", "flow")


class SweepError(ValueError):
    """A sweep file is invalid; the message names the key and the fix."""


@dataclass
class SweepSpec:
    """A validated sweep: the study, the swept keys and their values, the task.

    Attributes
    ----------
    config : dict
        The study's tables without ``[sweep]`` (paths of data files made absolute).
    keys : tuple of str
        The swept dotted keys, in the order of the file; they name the result's
        dimensions.
    values : tuple of tuple
        The values of each key.
    task : Task
        What runs at each point: the built-in ``flow`` task or a named task.
    text : str
        The study text (stored in the results).
    source : Path or None
        The file it was read from.
    """

    config: dict
    keys: tuple
    values: tuple
    task: Task
    text: str
    source: Path | None = None
    files: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple:
        """Number of values of each key."""
        return tuple(len(v) for v in self.values)

    @property
    def size(self) -> int:
        """Number of points of the grid."""
        return int(np.prod(self.shape))

    @property
    def default_out(self) -> Path:
        """``[output] dir``, else ``results/<study name>``."""
        out = self.config.get("output", {}).get("dir")
        stem = self.source.stem if self.source is not None else "sweep"
        return Path(out) if out else Path("results") / stem

    def coordinate(self, k: int) -> np.ndarray:
        """Coordinate values of key ``k``: numbers, strings or booleans; lists as JSON text."""
        vals = self.values[k]
        if any(isinstance(v, (list, dict)) for v in vals):
            return np.array([json.dumps(v) for v in vals], dtype=object)
        if all(isinstance(v, str) for v in vals):
            return np.array(vals, dtype=object)
        return np.array(vals)

    def indices(self):
        """Grid indices in C order."""
        return itertools.product(*(range(n) for n in self.shape))

    def point(self, index) -> dict:
        """The full specification of the point at grid ``index`` (what the task receives)."""
        assign = {key: self.values[k][i] for k, (key, i) in enumerate(zip(self.keys, index))}
        if self.task.name == "flow":
            pt = {s: copy.deepcopy(self.config[s]) for s in _FLOW_SECTIONS}
            for key, value in assign.items():
                section, name = key.split(".", 1)
                pt[section][name] = copy.deepcopy(value)
            if "loss_grid" in self.config:
                pt["loss_grid"] = dict(self.config["loss_grid"])
            return pt
        pt = copy.deepcopy(self.config["task"])
        pt.pop("name", None)
        for key, value in assign.items():
            pt[key.split(".", 1)[1]] = copy.deepcopy(value)
        return pt

    def label(self, index) -> str:
        """``key=value, ...`` of a point, for messages."""
        return ", ".join(f"{key}={self.values[k][i]!r}"
                         for k, (key, i) in enumerate(zip(self.keys, index)))

    def point_hash(self, point: dict) -> str:
        """The identity of a point: SHA-256 of its canonical JSON, the task's name and
        the contents of the data files it reads."""
        ident = {"task": self.task.ident, "point": point, "files": self.files}
        text = json.dumps(ident, sort_keys=True, separators=(",", ":"), default=_plain)
        return hashlib.sha256(text.encode()).hexdigest()

    def loss_times(self) -> np.ndarray | None:
        """The common log-spaced time grid of a flow sweep (None for other tasks)."""
        grid = self.config.get("loss_grid")
        return None if grid is None else loss_times(grid)


def loss_times(grid: dict) -> np.ndarray:
    """Times ``logspace(log10(t_max) - decades, log10(t_max), num)`` of a loss grid."""
    hi = np.log10(grid["t_max"])
    return np.logspace(hi - grid["decades"], hi, grid["num"])


def _plain(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"cannot hash a value of type {type(o).__name__}")


def _suggest(word, options) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def load_sweep(study, *, task=None) -> SweepSpec:
    """Read and validate a sweep.

    Parameters
    ----------
    study : path or dict
        A sweep file (TOML), or its tables as a dict.
    task : callable, optional
        Run this function ``f(point) -> dict`` at each point instead of the task
        the file names (the ``[task]`` table then holds only its parameters).

    Returns
    -------
    SweepSpec

    Raises
    ------
    SweepError
        Naming the key and the rule when the file is malformed.
    """
    if isinstance(study, dict):
        cfg, source, text = copy.deepcopy(study), None, _toml_text(study)
    else:
        source = Path(study)
        try:
            cfg = _study.read_toml(source)
        except _study.StudyError as exc:
            raise SweepError(str(exc)) from None
        text = source.read_text()
    where = str(source) if source is not None else "<sweep>"
    base = source.parent if source is not None else Path(".")
    if "sweep" not in cfg:
        raise SweepError(f"{where}: no [sweep] table; add one whose keys are dotted study keys "
                         'and whose values are lists, e.g. "model.width" = [20, 40].')
    table = _flatten(cfg.pop("sweep"), where)
    if not table:
        raise SweepError(f"{where}: [sweep] is empty; give at least one key with a list of values.")
    if "task" in cfg or task is not None:
        return _task_sweep(cfg, table, where, base, text, source, task)
    return _flow_sweep(cfg, table, where, base, text, source)


def _toml_text(cfg: dict) -> str:
    """A readable TOML rendering of a sweep given as a dict (for the results' attributes)."""
    lines = []
    for section, tab in cfg.items():
        lines.append(f"[{section}]")
        if isinstance(tab, dict):
            for key, value in tab.items():
                lines.append(f"{json.dumps(key)} = {json.dumps(value, default=str)}")
        lines.append("")
    return "\n".join(lines)


def _flatten(table, where) -> dict:
    if not isinstance(table, dict):
        raise SweepError(f"{where}: [sweep] must be a table of dotted keys.")
    flat = {}
    for key, value in table.items():
        if isinstance(value, dict):       # model.width = [...] written without quotes
            for sub, v in value.items():
                if isinstance(v, dict):
                    raise SweepError(f"{where}: [sweep] key '{key}.{sub}' goes deeper than "
                                     "'section.key'.")
                flat[f"{key}.{sub}"] = v
        else:
            flat[key] = value
    return flat


def _check_list(key, values, where) -> list:
    if not isinstance(values, list):
        raise SweepError(f"{where}: [sweep] '{key}' must be a list of values, got {values!r}; "
                         f"write '{key}' = [{json.dumps(values, default=str)}] for one value.")
    if not values:
        raise SweepError(f"{where}: [sweep] '{key}' is an empty list; give at least one value.")
    seen = []
    for v in values:
        if v in seen:
            raise SweepError(f"{where}: [sweep] '{key}' lists {v!r} twice; each value once.")
        seen.append(v)
    return values


def _flow_sweep(cfg, table, where, base, text, source) -> SweepSpec:
    schema = _study.schema()
    valid = [f"{s}.{k}" for s in _FLOW_SECTIONS for k in schema[s]]
    keys, values = [], []
    for key, vals in table.items():
        if key not in valid:
            hint = (" [output] is not swept: each sweep writes one results folder."
                    if key.startswith("output.") else _suggest(key, valid))
            raise SweepError(f"{where}: unknown key '{key}' in [sweep]; sweep keys are dotted "
                             f"study keys such as 'model.width' or 'init.seed'.{hint}")
        vals = _check_list(key, vals, where)
        section, name = key.split(".", 1)
        typ = schema[section][name][1]
        clean = []
        for v in vals:
            try:
                _study.check_value(section, name, v, f"{where}: [sweep] '{key}'")
            except _study.StudyError as exc:
                raise SweepError(str(exc)) from None
            if isinstance(typ, tuple) and float in typ and not isinstance(v, bool):
                v = float(v)              # 1 and 1.0 are one value (and one coordinate type)
            clean.append(v)
        _check_list(key, clean, where)
        keys.append(key)
        values.append(tuple(clean))
    for section in _FLOW_SECTIONS:
        cfg.setdefault(section, {})
    data_file = cfg["data"].get("file")
    if data_file is not None and not Path(data_file).is_absolute():
        cfg["data"]["file"] = str((base / data_file).resolve())
    if "data.file" in keys:
        k = keys.index("data.file")
        values[k] = tuple(v if Path(v).is_absolute() else str((base / v).resolve())
                          for v in values[k])
    files = {}
    spec = SweepSpec(cfg, tuple(keys), tuple(values), get_task("flow"), text, source, files)
    t_max = 0.0
    for index in spec.indices():
        pt = spec.point(index)
        try:
            _study.validate_config(pt, f"{where} (point {spec.label(index)})")
        except _study.StudyError as exc:
            raise SweepError(str(exc)) from None
        t_max = max(t_max, float(pt["flow"]["t_end"]))
        _hash_data_file(pt["data"], files)
    if t_max <= 0:
        raise SweepError(f"{where}: [flow] t_end must be > 0 at every point.")
    cfg["loss_grid"] = {"t_max": t_max, "decades": LOSS_DECADES,
                        "num": LOSS_DECADES * LOSS_PER_DECADE + 1}
    return spec


def _hash_data_file(data: dict, files: dict) -> None:
    if "file" not in data:
        return
    f = Path(data["file"])
    if not f.exists():
        raise SweepError(f"[data] file {str(f)!r} does not exist.")
    if str(f) not in files:
        files[str(f)] = hashlib.sha256(f.read_bytes()).hexdigest()


def _task_sweep(cfg, table, where, base, text, source, func) -> SweepSpec:
    extra = [s for s in cfg if s not in ("task", "output")]
    if extra:
        raise SweepError(f"{where}: a sweep of a task takes its parameters from [task]; remove "
                         f"[{extra[0]}] (the flow sections [model], [init], [data], [flow] "
                         "belong to flow sweeps, which have no [task] table).")
    tcfg = cfg.setdefault("task", {})
    if not isinstance(tcfg, dict):
        raise SweepError(f"{where}: [task] must be a table.")
    if func is None:
        if "name" not in tcfg:
            raise SweepError(f"{where}: [task] needs name = \"...\": a registered task "
                             "(flowlab.sweep.task_names()), \"module:function\" or "
                             "\"file.py:function\".")
        try:
            task = get_task(tcfg["name"], base=base)
        except (ValueError, TypeError, ImportError) as exc:
            raise SweepError(f"{where}: [task] name: {exc}") from None
    else:
        task = get_task(func)
        tcfg["name"] = task.ident
    if task.name == "flow":
        raise SweepError(f"{where}: the flow task is described by the study sections "
                         "[model], [init], [data], [flow]; remove [task].")
    params = task.params
    for key, value in tcfg.items():
        if key == "name":
            continue
        if params is not None and key not in params:
            raise SweepError(f"{where}: unknown parameter {key!r} in [task] for task "
                             f"{task.name!r}; its parameters are {', '.join(params)}."
                             f"{_suggest(key, params)}")
        tcfg[key] = _check_param(task, key, value, f"{where}: [task] {key}")
    keys, values = [], []
    valid = [f"task.{p}" for p in (params or ())]
    for key, vals in table.items():
        section, _, name = key.partition(".")
        if section != "task" or not name or (params is not None and name not in params):
            raise SweepError(f"{where}: unknown key '{key}' in [sweep]; a task sweep's keys are "
                             f"'task.<parameter>'"
                             + (f" ({', '.join(valid)})" if params is not None else "")
                             + f".{_suggest(key, valid)}")
        vals = _check_list(key, vals, where)
        clean = tuple(_check_param(task, name, v, f"{where}: [sweep] '{key}'") for v in vals)
        _check_list(key, list(clean), where)
        keys.append(key)
        values.append(clean)
    if params is not None:
        for name, default in params.items():
            tcfg.setdefault(name, default)
    return SweepSpec(cfg, tuple(keys), tuple(values), task, text, source, {})


def _check_param(task: Task, name: str, value, where: str):
    """Type check of a task parameter against its default (ints pass for floats)."""
    if isinstance(value, dict):
        raise SweepError(f"{where} must be a number, string, boolean or list, not a table.")
    default = None if task.params is None else task.params.get(name)
    if default is None:
        return value
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise SweepError(f"{where} must be of the type of its default {default!r} "
                         f"({type(default).__name__}), got {value!r}.")
    return value
