"""The documentation site: a gallery page for every reproduction; the Sphinx build.

The page generation is checked by default (fast, without Sphinx); the full build with
warnings as errors needs the docs extra and takes about half a minute, so it runs with
--runslow: ``sphinx-build -W -b html docs docs/_build/html``.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from flowlab.experiments import describe

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
sys.path.insert(0, str(DOCS / "_ext"))


def test_every_reproduction_has_a_gallery_page(tmp_path):
    import flowlab_gallery
    names = flowlab_gallery.write_pages(tmp_path)
    assert sorted(names) == sorted(n for n, _, _ in describe())
    index = (tmp_path / "gallery" / "index.md").read_text()
    for name, _, papers in describe():
        text = (tmp_path / "gallery" / f"{name}.md").read_text()
        assert f"flowlab reproduce {name} --quick" in text and f"({name}.md)" in index
        assert "No quick run is stored" in text               # none in the tmp folder
        assert all(p.split()[0] in text for p in papers)


def test_gallery_page_shows_a_quick_run(tmp_path):
    import flowlab_gallery
    from flowlab.experiments import Report
    data = tmp_path / "run"
    r = Report(name="plateau-sine", out=data, quick=True)
    data.mkdir()
    r.check("a claim", 2.5, 3.0, "<=", paper=2.0)
    r.check("Theorem 3.1 as printed (test)", 0.28, 1e-8, "<=",
            finding="theorem31-printed-lower-bound")
    import json
    (data / "summary.json").write_text(json.dumps(dict(r.summary(), figures=["f.png"],
                                                       wall_time_s=1.0)))
    text = flowlab_gallery.page("plateau-sine", "title", ("Ainsworth & Shin 2021",), data, "img")
    assert "1 of 1 checks hold, 1 finding(s)" in text
    assert "| a claim | 2 | 2.5 | <= 3 | yes |" in text
    assert "### Findings" in text and "![f.png](img/f.png)" in text


def test_index_links_every_page():
    index = (DOCS / "index.md").read_text()
    pages = {p.stem for p in DOCS.glob("*.md")} - {"index"}
    for page in pages:
        assert f"\n{page}\n" in index, f"docs/{page}.md is not in the index's toctrees"
    assert "gallery/index" in index and "api/index" in index


@pytest.mark.slow
def test_site_builds_with_warnings_as_errors(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("myst_parser")
    pytest.importorskip("furo")
    out = subprocess.run([sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", str(DOCS),
                          str(tmp_path / "html")], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    for name, _, _ in describe():
        assert (tmp_path / "html" / "gallery" / f"{name}.html").exists()
    for page in ("index", "getting_started", "findings", "references", "design", "studies",
                 "api/index", "compile_times", "choosing_a_method"):
        assert (tmp_path / "html" / f"{page}.html").exists(), page
