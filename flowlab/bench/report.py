"""A work-precision result as a Markdown table (for docs and reports)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = ["markdown_table", "load_result"]


def load_result(path) -> dict:
    """Read a ``work_precision.json`` (a folder holding one, or the file)."""
    path = Path(path)
    if path.is_dir():
        path = path / "work_precision.json"
    return json.loads(path.read_text())


def _fmt(v, spec=".2g"):
    return "-" if v is None or (isinstance(v, float) and not np.isfinite(v)) else format(v, spec)


def markdown_table(result: dict) -> str:
    """One line per setup: its best finished error (and at which tolerance or learning
    rate), the seconds and right-hand-side evaluations there, the fewest seconds in
    which it reached an error of 1e-6 and of 1e-9, how many rungs finished, and what
    happened to the others."""
    lines = ["| setup | best error | at | seconds | nfev | s to 1e-6 | s to 1e-9 | finished | "
             "others |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name in dict.fromkeys(r["setup"] for r in result["rows"]):
        rows = [r for r in result["rows"] if r["setup"] == name]
        fin = [r for r in rows if r["status"] == "finished" and r.get("error") is not None]
        key = "lr" if rows[0]["sweep"] == "lr" else "tol"
        others = {}
        for r in rows:
            if r["status"] != "finished":
                others.setdefault(r["status"], []).append(_fmt(r[key], ".0e"))
        other = "; ".join(f"{k} at {', '.join(v)}" for k, v in others.items()) or "-"
        reach = [_fmt(min((r["seconds"] for r in fin if r["error"] <= level), default=None),
                      ".2g") for level in (1e-6, 1e-9)]
        if fin:
            best = min(fin, key=lambda r: r["error"])
            lines.append(f"| {name} | {_fmt(best['error'])} | {key} {_fmt(best[key], '.0e')} | "
                         f"{_fmt(best['seconds'], '.3g')} | {best['nfev']} | {reach[0]} | "
                         f"{reach[1]} | {len(fin)}/{len(rows)} | {other} |")
        else:
            lines.append(f"| {name} | - | - | - | - | - | - | 0/{len(rows)} | {other} |")
    return "\n".join(lines)
