"""Studies described in TOML: ``flowlab flow STUDY.toml``.

A study names a model, its initialisation, the data and the flow; running it
writes ``solution.npz`` (reloadable with :func:`flowlab.load`), a loss plot and
``summary.json`` to the output folder.  ``docs/studies.md`` lists every key with
its default; :data:`EXAMPLE` is a complete study (``flowlab flow --help`` shows it).

Every key is checked: a missing or misspelled key is an error that names it
and suggests the closest valid one, and a key that the chosen model, scheme or
data source does not use is an error too (never silently ignored).
"""

from __future__ import annotations

import ast
import difflib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import init as _init
from .io import write_json
from .models import TwoLayer

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

__all__ = ["StudyError", "load_study", "run_study", "eval_target", "EXAMPLE", "validate_config",
           "read_toml", "prepare", "schema", "check_value"]

#: a complete study file (shown by ``flowlab flow --help`` and in docs/studies.md)
EXAMPLE = """\
[model]
kind = "TwoLayer"            # or "ReLU1D" (ReLU, 1-d inputs)
width = 20
activation = "tanh"          # TwoLayer only

[init]
scheme = "xavier"            # he | small | xavier | deterministic | uniform_density
seed = 0

[data]
target = "sin(3*x) + 0.5*sin(6*x)"   # numpy expression in x; np.sin(...) works too
interval = [-1.0, 1.5]
points = 40

[flow]
t_end = 100.0
method = "auto"              # default: "exact" for ReLU networks, "auto" otherwise
loss = "mean"

[output]
dir = "results/my-study"
"""


class StudyError(ValueError):
    """A study file is invalid; the message names the key and the fix."""


# section -> {key: (required, type or tuple of types)}
_SCHEMA = {
    "model": {"kind": (True, str), "width": (True, int), "activation": (False, str),
              "input_dim": (False, int), "train_w": (False, bool)},
    "init": {"scheme": (True, str), "seed": (False, int), "var": (False, (int, float)),
             "bound": (False, (int, float)), "radius": (False, (int, float)),
             "gamma": (False, (int, float))},
    "data": {"target": (False, str), "file": (False, str), "interval": (False, list),
             "points": (False, int), "sampling": (False, str), "seed": (False, int),
             "dim": (False, int)},
    "flow": {"t_end": (True, (int, float)), "method": (False, str), "loss": (False, str),
             "rtol": (False, (int, float)), "atol": (False, (int, float)),
             "trainable": (False, list), "gtol": (False, (int, float)),
             "max_steps": (False, int)},
    "output": {"dir": (False, str)},
}
_REQUIRED_SECTIONS = ("model", "init", "data", "flow")
_SCHEMES = ("he", "small", "xavier", "deterministic", "uniform_density")


def _suggest(word, options) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


@dataclass
class Study:
    """A validated study: the raw tables and where it was read from."""

    config: dict
    source: Path


def load_study(path) -> Study:
    """Read and validate a study file."""
    path = Path(path)
    return Study(validate_config(read_toml(path), path), path)


def read_toml(path) -> dict:
    """The tables of a TOML file; a missing or invalid file is a :class:`StudyError`."""
    path = Path(path)
    if not path.exists():
        raise StudyError(f"study file {str(path)!r} does not exist.")
    if not path.is_file():
        raise StudyError(f"{str(path)!r} is a folder, not a study file; give the path of a "
                         "STUDY.toml file.")
    raw = path.read_bytes()
    if len(raw) > _MAX_STUDY_BYTES:
        raise StudyError(f"{path}: {len(raw)} bytes is too large for a study file (at most "
                         f"{_MAX_STUDY_BYTES}); put data in a [data] file.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise StudyError(f"{path}: not a text file (it is not UTF-8 text); a study file is "
                         "TOML text.") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise StudyError(f"{path}: not valid TOML ({exc}).") from None


def validate_config(cfg: dict, path="<study>") -> dict:
    """Check the tables of a study (sections, keys, types, choices, keys the chosen model,
    scheme or data source would ignore) and return them.

    ``path`` names the study in the messages.
    """
    for section in cfg:
        if section not in _SCHEMA:
            raise StudyError(f"{path}: unknown section [{section}]; valid sections are "
                             f"{', '.join(_SCHEMA)}.{_suggest(section, _SCHEMA)}")
    for section in _REQUIRED_SECTIONS:
        if section not in cfg:
            raise StudyError(f"{path}: missing section [{section}].")
    for section, table in cfg.items():
        if not isinstance(table, dict):
            raise StudyError(f"{path}: [{section}] must be a table.")
        schema = _SCHEMA[section]
        for key, value in table.items():
            if key not in schema:
                raise StudyError(f"{path}: unknown key {key!r} in [{section}]; valid keys are "
                                 f"{', '.join(schema)}.{_suggest(key, schema)}")
            check_value(section, key, value, path)
        for key, (required, _) in schema.items():
            if required and key not in table:
                raise StudyError(f"{path}: missing key {key!r} in [{section}].")
    data = cfg["data"]
    if ("target" in data) == ("file" in data):
        raise StudyError(f"{path}: [data] needs exactly one of 'target' (an expression in x) "
                         "or 'file' (an .npz with arrays x, y, or a .csv with columns x..., y).")
    if cfg["init"]["scheme"] not in _SCHEMES:
        raise StudyError(f"{path}: [init] scheme must be one of {', '.join(_SCHEMES)}, got "
                         f"{cfg['init']['scheme']!r}.{_suggest(cfg['init']['scheme'], _SCHEMES)}")
    if cfg["model"]["kind"] not in ("TwoLayer", "ReLU1D"):
        raise StudyError(f"{path}: [model] kind must be 'TwoLayer' or 'ReLU1D', got "
                         f"{cfg['model']['kind']!r}.")
    _check_unused(cfg, path)
    _check_sizes(cfg, path)
    return cfg


def schema() -> dict:
    """``{section: {key: (required, type)}}`` of the study format (a copy)."""
    return {s: dict(keys) for s, keys in _SCHEMA.items()}


def check_value(section: str, key: str, value, path="<study>") -> None:
    """Check the type of ``[section] key = value`` against the study format."""
    typ = _SCHEMA[section][key][1]
    if isinstance(value, bool) and typ is not bool:
        raise StudyError(f"{path}: [{section}] {key} must be {_tname(typ)}, got a boolean.")
    if not isinstance(value, typ):
        raise StudyError(f"{path}: [{section}] {key} must be {_tname(typ)}, got {value!r}.")


#: [init] keys each scheme uses (besides ``scheme``)
_SCHEME_KEYS = {"he": ("seed",), "small": ("seed", "var"), "xavier": ("seed", "bound"),
                "deterministic": ("seed",), "uniform_density": ("seed", "radius", "gamma")}


def _check_unused(cfg: dict, path) -> None:
    """A key that the chosen model, scheme or data source would ignore is an error."""
    model, ini, data = cfg["model"], cfg["init"], cfg["data"]
    if model["kind"] == "ReLU1D":
        for key, why in (("activation", "a ReLU1D network is relu by definition"),
                         ("input_dim", "a ReLU1D network has 1-d inputs")):
            if key in model:
                raise StudyError(f"{path}: [model] {key} is not used by kind = 'ReLU1D' ({why}); "
                                 "remove it, or use kind = 'TwoLayer' (activation = 'relu' for "
                                 "a ReLU network on d-dimensional data).")
    elif "train_w" in model:
        raise StudyError(f"{path}: [model] train_w is for kind = 'ReLU1D' (whose input weights "
                         "are fixed to 1 unless train_w = true); a TwoLayer network always "
                         "trains its input weights W: remove it (or freeze W with "
                         "[flow] trainable = [\"a\"]).")
    used = _SCHEME_KEYS[ini["scheme"]]
    for key in ini:
        if key != "scheme" and key not in used:
            raise StudyError(f"{path}: [init] {key} is not used by scheme = {ini['scheme']!r}, "
                             f"which takes: {', '.join(used)}; remove it or change the scheme.")
    if "file" in data:
        extra = [k for k in data if k != "file"]
        if extra:
            raise StudyError(f"{path}: [data] {', '.join(extra)} not used with 'file' (the file "
                             "gives the points); remove them, or use 'target' instead of "
                             "'file'.")
    elif data.get("sampling", "grid") == "grid" and "seed" in data:
        raise StudyError(f"{path}: [data] seed draws random points, but sampling is 'grid' "
                         "(evenly spaced); set sampling = 'uniform' or remove the seed.")


#: Largest study file, network width, data set and input dimension a study may ask for.
_MAX_STUDY_BYTES = 1_000_000
_MAX_WIDTH = 100_000
_MAX_POINTS = 10_000_000
_MAX_DIM = 10_000
#: Largest number of trained parameters (an implicit method keeps a P x P Jacobian).
_MAX_PARAMS = 1_000_000


def _check_sizes(cfg: dict, path) -> None:
    """Ranges of the sizes and the interval, checked before anything is allocated."""
    model, data = cfg["model"], cfg["data"]
    for section, key, value, top in (("model", "width", model["width"], _MAX_WIDTH),
                                     ("model", "input_dim", model.get("input_dim", 1), _MAX_DIM),
                                     ("data", "points", data.get("points", 100), _MAX_POINTS),
                                     ("data", "dim", data.get("dim", 1), _MAX_DIM)):
        if not 1 <= value <= top:
            raise StudyError(f"{path}: [{section}] {key} must be between 1 and {top}, got "
                             f"{value}.")
    if "interval" in data:
        iv = data["interval"]
        if len(iv) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                   for v in iv):
            raise StudyError(f"{path}: [data] interval must be two numbers [lo, hi], got "
                             f"{iv!r}.")
        lo, hi = float(iv[0]), float(iv[1])
        if not (np.isfinite(lo) and np.isfinite(hi)) or not lo < hi:
            raise StudyError(f"{path}: [data] interval must have finite lo < hi, got {iv!r}"
                             + ("; all points would be identical" if lo == hi else "") + ".")
    d = data.get("dim", model.get("input_dim", 1))
    P = model["width"] * (d + 2)
    if P > _MAX_PARAMS:
        raise StudyError(f"{path}: the network would have about {P:.3g} parameters "
                         f"(width {model['width']}, input dimension {d}); at most {_MAX_PARAMS} "
                         "(lower [model] width).")


def _tname(typ) -> str:
    names = {int: "an integer", float: "a number", str: "a string", list: "a list",
             bool: "true or false"}
    if isinstance(typ, tuple):
        return "a number" if float in typ else " or ".join(names[t] for t in typ)
    return names[typ]


_ALLOWED = {n: getattr(np, n) for n in ("sin", "cos", "tan", "exp", "log", "sqrt", "tanh",
                                        "sinh", "cosh", "arctan", "abs", "sign", "where",
                                        "maximum", "minimum", "floor", "heaviside")}
_ALLOWED.update(pi=np.pi, e=np.e)
_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Call, ast.Name, ast.Constant, ast.Load,
          ast.Subscript, ast.Slice, ast.Tuple, ast.Compare, ast.operator, ast.unaryop,
          ast.cmpop, ast.IfExp)

#: Longest target expression (characters).
_MAX_TARGET = 2000


class _Floats(ast.NodeTransformer):
    """Numbers become floats (outside the indices of x), so that ``9**9**9**9`` or
    ``10**400`` overflow at once instead of building huge Python integers."""

    def visit_Subscript(self, node):
        node.value = self.visit(node.value)       # the index stays as written (checked)
        return node

    def visit_Constant(self, node):
        if isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            try:
                value = float(node.value)
            except OverflowError:
                value = float("inf")
            return ast.copy_location(ast.Constant(value=value), node)
        return node


def _check_index(node, expr: str) -> None:
    """Indices of x: integer constants, slices of them, tuples of those."""
    ok = (ast.Slice, ast.Tuple, ast.Load, ast.UnaryOp, ast.USub, ast.Constant)
    for sub in ast.walk(node):
        if not isinstance(sub, ok) or (isinstance(sub, ast.Constant) and not (
                sub.value is None or sub.value is Ellipsis
                or (isinstance(sub.value, int) and not isinstance(sub.value, bool)
                    and abs(sub.value) < 2 ** 31))):
            raise StudyError(f"[data] target {expr!r}: indices of x must be integer constants "
                             "such as x[:, 0].")


class _NumpyNames(ast.NodeTransformer):
    """``np.sin`` / ``numpy.sin`` -> ``sin`` for the allowed names."""

    def visit_Attribute(self, node):
        if isinstance(node.value, ast.Name) and node.value.id in ("np", "numpy"):
            if node.attr not in _ALLOWED:
                raise StudyError(f"[data] target uses {node.value.id}.{node.attr}, which is not "
                                 f"allowed; the names are x and {', '.join(_ALLOWED)} (with or "
                                 f"without 'np.').{_suggest(node.attr, _ALLOWED)}")
            return ast.copy_location(ast.Name(id=node.attr, ctx=ast.Load()), node)
        return self.generic_visit(node)


def eval_target(expr: str, x: np.ndarray) -> np.ndarray:
    """Evaluate a target expression such as ``"sin(3*x) + 0.5*sin(6*x)"`` at ``x``.

    Only arithmetic, comparisons, indexing of ``x`` and the numpy functions
    sin, cos, tan, exp, log, sqrt, tanh, sinh, cosh, arctan, abs, sign, where,
    maximum, minimum, floor, heaviside (and pi, e) are allowed, with or without
    the prefix ``np.`` (``"np.sin(np.pi*x)"`` is ``"sin(pi*x)"``); ``x`` may be
    indexed by integer constants only.  Numbers are evaluated as float64, so every
    operation costs O(m) and an overflow is reported at once, never a hang.
    """
    if len(expr) > _MAX_TARGET:
        raise StudyError(f"[data] target is {len(expr)} characters long; at most {_MAX_TARGET}.")
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError as exc:
        raise StudyError(f"[data] target {expr!r} is not a valid expression ({exc.msg}).") from None
    except (RecursionError, MemoryError, ValueError):
        raise StudyError(f"[data] target {expr[:60]!r}... is nested too deeply.") from None
    tree = ast.fix_missing_locations(_NumpyNames().visit(tree))
    for node in ast.walk(tree):
        if not isinstance(node, _NODES):
            raise StudyError(f"[data] target may not contain {type(node).__name__} "
                             f"(in {expr!r}); use arithmetic and numpy functions of x.")
        if isinstance(node, ast.Name) and node.id != "x" and node.id not in _ALLOWED:
            raise StudyError(f"[data] target uses unknown name {node.id!r}; allowed: x, "
                             f"{', '.join(_ALLOWED)} (with or without 'np.')."
                             f"{_suggest(node.id, _ALLOWED)}")
        if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float)):
            raise StudyError(f"[data] target may contain numbers only, got {node.value!r} "
                             f"(in {expr!r}).")
        if isinstance(node, ast.Subscript):
            _check_index(node.slice, expr)
    tree = ast.fix_missing_locations(_Floats().visit(tree))
    d = 1 if x.ndim == 1 else x.shape[1]
    try:
        with np.errstate(all="ignore"):
            y = eval(compile(tree, "<target>", "eval"), {"__builtins__": {}},
                     dict(_ALLOWED, x=x))
            y = np.broadcast_to(np.asarray(y, dtype=float), (x.shape[0],)).copy()
    except IndexError as exc:
        raise StudyError(f"[data] target {expr!r} indexes x out of range ({exc}); the data "
                         f"have d = {d} input column(s): x[:, 0] ... x[:, {d - 1}]"
                         + (" (with d = 1, x is one-dimensional: use x)" if d == 1 else "")
                         + ".") from None
    except OverflowError:
        raise StudyError(f"[data] target {expr!r} overflows float64 (a value beyond "
                         "1.8e308, e.g. a large power).") from None
    except (TypeError, ValueError, ArithmeticError, RecursionError, MemoryError) as exc:
        raise StudyError(f"[data] target {expr!r} cannot be evaluated on x of shape "
                         f"{x.shape}: {type(exc).__name__}: {exc}.") from None
    if not np.all(np.isfinite(y)):
        raise StudyError(f"[data] target {expr!r} is not finite at every data point (it "
                         "overflows or divides by zero).")
    return y


def _data(cfg: dict, base: Path, d_model: int | None):
    data = cfg["data"]
    if "file" in data:
        f = (base / data["file"]) if not Path(data["file"]).is_absolute() else Path(data["file"])
        if not f.exists():
            raise StudyError(f"[data] file {str(f)!r} does not exist.")
        try:
            if f.suffix == ".npz":
                with np.load(f, allow_pickle=False) as z:
                    if "x" not in z.files or "y" not in z.files:
                        raise StudyError(f"[data] file {f} must hold arrays named 'x' and 'y'.")
                    return np.asarray(z["x"], float), np.asarray(z["y"], float)
            arr = np.loadtxt(f, delimiter=",", ndmin=2)
        except StudyError:
            raise
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
            kind = "an .npz with arrays x, y" if f.suffix == ".npz" else "a CSV of numbers"
            raise StudyError(f"[data] file {f} cannot be read as {kind} "
                             f"({type(exc).__name__}: {exc}).") from None
        if arr.shape[1] < 2:
            raise StudyError(f"[data] file {f} needs at least two columns (x..., y).")
        x = arr[:, :-1]
        return (x[:, 0] if x.shape[1] == 1 else x), arr[:, -1]
    dim = data.get("dim", d_model or 1)
    lo, hi = (float(v) for v in data.get("interval", [-1.0, 1.0]))
    m = data.get("points", 100)
    if m < 1:
        raise StudyError("[data] points must be >= 1.")
    sampling = data.get("sampling", "grid")
    rng = np.random.default_rng(data.get("seed", 0))
    if sampling == "grid" and dim == 1:
        x = np.linspace(lo, hi, m)
    elif sampling in ("uniform", "grid"):
        if sampling == "grid":
            raise StudyError("[data] sampling = 'grid' is for dim = 1; use 'uniform' in higher "
                             "dimension.")
        x = rng.uniform(lo, hi, (m, dim)) if dim > 1 else np.sort(rng.uniform(lo, hi, m))
    else:
        raise StudyError(f"[data] sampling must be 'grid' or 'uniform', got {sampling!r}.")
    return x, eval_target(data["target"], x)


def _network(cfg: dict, d: int):
    model, ini = cfg["model"], cfg["init"]
    n, scheme, seed = model["width"], ini["scheme"], ini.get("seed", 0)
    if model["kind"] == "ReLU1D":
        if d != 1:
            raise StudyError("[model] kind = 'ReLU1D' needs 1-d data.")
        if scheme != "he":
            raise StudyError("[init] scheme for ReLU1D must be 'he' (Ainsworth & Shin 2021, Sec. "
                             "5).")
        return _init.he(n, seed=seed, train_w=model.get("train_w", False))
    act = model.get("activation", "tanh")
    if scheme == "he":
        if act != "relu":
            raise StudyError("[init] scheme 'he' builds ReLU networks; set activation = 'relu' "
                             "or choose another scheme.")
        if d != 1:
            raise StudyError("[init] scheme 'he' (Ainsworth & Shin 2021) is for 1-d data.")
        return _init.he(n, seed=seed, model="twolayer")
    if scheme == "small":
        if "var" not in ini:
            raise StudyError("[init] scheme 'small' needs var (the variance of N(0, var)).")
        return _init.small_gaussian(n, d, ini["var"], activation=act, seed=seed)
    if scheme == "xavier":
        return _init.xavier(n, d, activation=act, seed=seed, bound=ini.get("bound"))
    if scheme == "deterministic":
        if d != 1:
            raise StudyError("[init] scheme 'deterministic' (Yang, Zhao & Zhu 2024, (12)) is for "
                             "1-d data.")
        lo, hi = cfg["data"].get("interval", [-1.0, 1.0])
        return _init.deterministic_1d(n, activation=act, interval=(lo, hi), seed=seed)
    return _init.uniform_density(n, d, activation=act, seed=seed,
                                 radius=ini.get("radius", 1.0), gamma=ini.get("gamma", 1.0))


def prepare(cfg: dict, base) -> tuple:
    """``(net, x, y, t_end, kwargs)`` of a validated study: the arguments of its flow.

    ``base`` is the folder that relative data-file paths start from.  ``flowlab
    flow`` and the flow task of :mod:`flowlab.sweep` both run
    ``flow(net, x, y, t_end, **kwargs)`` with these, so a sweep's point equals a
    single study run of the same values.
    """
    x, y = _data(cfg, Path(base), cfg["model"].get("input_dim"))
    d = 1 if np.ndim(x) == 1 else x.shape[1]
    net = _network(cfg, d)
    if isinstance(net, TwoLayer) and d == 1:
        x = np.asarray(x).reshape(-1, 1) if np.ndim(x) == 2 else np.asarray(x)
    fcfg = cfg["flow"]
    kwargs = {k: fcfg[k] for k in ("method", "loss", "rtol", "atol", "gtol", "max_steps")
              if k in fcfg}
    if "trainable" in fcfg:
        kwargs["trainable"] = tuple(fcfg["trainable"])
    return net, x, y, fcfg["t_end"], kwargs


#: The files a study writes in its output folder.
OUTPUTS = ("solution.npz", "loss.png", "summary.json")


def check_output(out, force: bool = False) -> Path:
    """The output folder of a study, checked before anything runs.

    Raises StudyError when ``out`` is a file, or holds the results of an earlier
    run (``solution.npz`` or ``summary.json``, or the checkpoint journal of an
    unfinished one) and ``force`` is false.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise StudyError(f"the output folder {str(out)!r} is a file; choose a folder (--out).")
    found = [f for f in OUTPUTS + ("solution.npz.journal",) if (out / f).exists()]
    if found and not force:
        raise StudyError(f"the output folder {str(out)!r} already holds {', '.join(found)} of "
                         "an earlier run; choose another folder with --out, or pass --force to "
                         "overwrite them.")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StudyError(f"cannot create the output folder {str(out)!r} "
                         f"({exc.strerror or exc}).") from None
    return out


def run_study(path, out=None, progress: bool | None = None, force: bool = False) -> dict:
    """Run a study file and write ``solution.npz``, ``loss.png`` and ``summary.json``.

    An output folder that holds an earlier run's results is refused unless
    ``force``.  The summary's ``status`` is that of the flow ("interrupted"
    after Ctrl-C: the solution so far is saved and can be resumed).
    """
    from ._flow import flow
    from ._flow.solution import SAVE_LIMIT_BYTES
    from .plotting import figure, loss_axes, positive
    study = load_study(path)
    cfg = study.config
    out = Path(out or cfg.get("output", {}).get("dir") or Path("results") / study.source.stem)
    check_output(out, force)
    net, x, y, t_end, kwargs = prepare(cfg, study.source.parent)
    sol = flow(net, x, y, t_end, progress=progress, save=out / "solution.npz", **kwargs)
    fig, ax = figure(1)
    t = sol.t
    ax[0].loglog(t[t > 0], positive(sol.loss[t > 0]))
    loss_axes(ax[0], loss_kind=sol.loss_kind)
    ax[0].set_title(f"{study.source.name}: {sol.method}")
    fig.savefig(out / "loss.png", dpi=120, bbox_inches="tight")
    import matplotlib.pyplot as plt
    plt.close(fig)
    drop = sol.loss[0] - sol.loss[-1]
    saved = sol.within(SAVE_LIMIT_BYTES).info.get("saved")
    summary = {"study": str(study.source), "config": cfg, "status": sol.status,
               "message": sol.message, "t_final": sol.t_final, "initial_loss": sol.loss[0],
               "final_loss": sol.loss[-1], "steps": sol.nsteps, "nfev": sol.nfev,
               "njev": sol.njev, "events": len(sol.events),
               "energy_balance_rel_error": (abs(drop - sol.dissipation()) / drop
                                            if drop > 0 and sol.dense is not None else None),
               "model": repr(net), "out": str(out),
               "solution_file": saved or {"complete": True},
               "files": list(OUTPUTS)}
    write_json(out / "summary.json", summary)
    return summary
