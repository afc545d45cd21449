"""Sphinx extension: one gallery page per registered reproduction.

At ``builder-inited`` it writes ``gallery/<name>.md`` for every reproduction of
:func:`flowlab.experiments.describe` (and ``gallery/index.md``): the title, the papers
(full citations from :mod:`flowlab.references`), the command that makes it, what it
computes (the module's docstring), and, when ``docs/_gallery/<name>/summary.json``
exists (``python docs/run_gallery.py``), the checks of that quick run as a table,
findings apart, and its figures.  Without a quick run the page says how to make one.
The pages are generated, not kept in the repository.
"""

from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _measured(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, dict)):
        text = json.dumps(value)
        return text if len(text) <= 120 else text[:117] + "..."
    return str(value)


def _criterion(check: dict) -> str:
    """``<= 1e-08``, ``in [0.5, 2]``, ``increasing``; "–" for summaries without one."""
    op = check.get("op")
    if op is None:
        return "–"
    return op if op == "increasing" else f"{op} {_measured(check['threshold'])}"


def _module_doc(name: str) -> str:
    from flowlab.experiments import _registry
    entry = _registry._REGISTRY[name]
    func = getattr(entry.func, "__wrapped__", entry.func)
    mod = importlib.import_module(func.__module__)
    doc = (mod.__doc__ or "").strip().split("\n", 1)
    return doc[1].strip() if len(doc) > 1 else ""


def page(name: str, title: str, papers, data_dir: Path, image_dir: str) -> str:
    """The markdown of one reproduction's gallery page."""
    from flowlab.references import cite
    out = [f"# `{name}`", "", f"**{title}**", "", "Papers:", ""]
    out += [f"- {cite(k)}" for k in papers]
    out += ["", "```bash", f"flowlab reproduce {name} --quick     # minutes, the run shown below",
            f"flowlab reproduce {name}             # full size", "```", ""]
    doc = _module_doc(name)
    if doc:
        out += ["## What it computes", "", "```text", doc, "```", ""]
    summary = data_dir / "summary.json"
    if not summary.exists():
        out += ["## Quick run", "",
                f"No quick run is stored with this build: `python docs/run_gallery.py {name}` "
                "makes one (figures and checks), and the page shows it on the next build.", ""]
        return "\n".join(out)
    s = json.loads(summary.read_text())
    checks = [c for c in s.get("checks", []) if "finding" not in c]
    findings = [c for c in s.get("checks", []) if "finding" in c]
    ok = sum(c["holds"] for c in checks)
    out += ["## Quick run", "",
            f"`flowlab reproduce {name} --quick`, flowlab {s.get('flowlab', '?')}, "
            f"{s.get('wall_time_s', float('nan')):.0f} s: {ok} of {len(checks)} checks hold"
            + (f", {len(findings)} finding(s) about the paper" if findings else "") + ".", "",
            "| claim | paper | flowlab | criterion | holds |",
            "| --- | --- | --- | --- | --- |"]
    for c in checks:
        paper = "–" if c["paper"] is None else _measured(c["paper"])
        out.append(f"| {_cell(c['what'])} | {_cell(paper)} | {_cell(_measured(c['measured']))} "
                   f"| {_cell(_criterion(c))} | {'yes' if c['holds'] else '**no**'} |")
    out.append("")
    if findings:
        out += ["### Findings", "", "Claims of the paper that flowlab's computation "
                "contradicts ([all findings](../findings.md)):", ""]
        for c in findings:
            out += [f"- **{_cell(c['what'])}**: {_measured(c['measured'])}.", "",
                    f"  {c['finding']}", ""]
    if s.get("error"):
        out += ["```text", s["error"], "```", ""]
    for fig in s.get("figures", []):
        out += [f"![{fig}]({image_dir}/{fig})", ""]
    return "\n".join(out)


def write_pages(srcdir: Path) -> list[str]:
    """Write gallery/<name>.md for every reproduction; returns the names."""
    from flowlab.experiments import describe
    gallery = srcdir / "gallery"
    if gallery.exists():
        shutil.rmtree(gallery)
    gallery.mkdir()
    rows = describe()
    index = ["# Gallery of reproductions", "",
             "Every reproduction of a paper's figure or table, with the command that makes "
             "it and, where the build has one, its quick run: checks, findings and figures. "
             "`flowlab reproduce --list` lists them too.", "",
             "```{toctree}", ":hidden:", ""]
    index += [name for name, _, _ in rows]
    index += ["```", "", "| reproduction | what | papers |", "| --- | --- | --- |"]
    for name, title, papers in rows:
        index.append(f"| [{name}]({name}.md) | {_cell(title)} | {'; '.join(papers)} |")
        (gallery / f"{name}.md").write_text(
            page(name, title, papers, srcdir / "_gallery" / name, f"../_gallery/{name}"))
    (gallery / "index.md").write_text("\n".join(index) + "\n")
    return [name for name, _, _ in rows]


def _generate(app):
    write_pages(Path(app.srcdir))


def setup(app):
    app.connect("builder-inited", _generate)
    return {"parallel_read_safe": True, "version": "1"}
