"""Papers are cited by authors and year everywhere a user can see them.

Guards: no "seed 00N" (the numbering of the papers' text files in the project's
working notes) and no such file name in the package, the docs, the README, the
benchmarks, the tests or the CLI's output; docs/references.md is the table of
flowlab.references; every reproduction names its papers by valid keys; the design
notes the code cites exist in the repository.
"""

import re
from pathlib import Path

import pytest

from flowlab import references
from flowlab.cli import main
from flowlab.experiments import describe

ROOT = Path(__file__).resolve().parents[1]
# built from pieces so that this file does not match itself
_NUM = "00" + "[0-4]"
SEED_NUMBER = re.compile(r"\b[Ss]eeds?\b[\s\"'f+,/]*" + _NUM + r"\b")
FILE_NAME = re.compile(_NUM + r"_[0-9a-f]{16}(\.txt)?")


def _texts():
    for folder in ("flowlab", "docs", "bench", "tests"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix in {".py", ".md", ".rst", ".txt", ".toml", ".cfg"} and path.is_file():
                if "_build" in path.parts:
                    continue
                yield path
    yield ROOT / "README.md"
    yield ROOT / "setup.cfg"


def _offences(text):
    return [m.group(0) for pat in (SEED_NUMBER, FILE_NAME) for m in pat.finditer(text)]


def test_patterns_catch_what_they_guard():
    n3, n1 = "00" + "3", "00" + "1"
    assert _offences(f"as in seed {n3}'s Fig. 4") and _offences(f"seeds {n1}/004")
    assert _offences(f'(seed "\n    "{n1}, Fig. 3)') and _offences(n3 + "_ecbe85779267783b.txt")
    assert not _offences("fl.init.he(10, seed=1)") and not _offences("numpy seed 0")
    assert not _offences("He seeds 0..19") and not _offences("Ainsworth & Shin 2021")


def test_no_seed_numbers_or_file_names_in_sources_and_docs():
    found = {}
    for path in _texts():
        bad = _offences(path.read_text(encoding="utf-8", errors="replace"))
        if bad:
            found[str(path.relative_to(ROOT))] = bad
    assert not found, f"cite papers by authors and year (flowlab.references): {found}"


@pytest.mark.parametrize("argv", [["reproduce", "--list"], ["--help"], ["reproduce", "--help"],
                                  ["flow", "--help"]])
def test_cli_output_cites_papers_by_name(argv, capsys):
    try:
        main(argv)
    except SystemExit:
        pass
    out = capsys.readouterr().out
    assert out and not _offences(out)


def test_reproduce_list_shows_paper_keys(capsys):
    assert main(["reproduce", "--list"]) == 0
    out = capsys.readouterr().out
    for name, _, papers in describe():
        line = next(line for line in out.splitlines() if line.startswith(name + " "))
        assert all(key in line for key in papers)


def test_every_reproduction_cites_known_papers():
    for name, _, papers in describe():
        assert papers, f"{name} cites no paper"
        for key in papers:
            assert key in references.PAPERS


def test_references_page_is_the_table():
    page = (ROOT / "docs" / "references.md").read_text(encoding="utf-8")
    assert page == references.markdown(), "regenerate: python -m flowlab.references > " \
                                          "docs/references.md"
    for p in references.PAPERS.values():
        assert p.title in page and str(p.year) in page and p.venue in page


def test_citations_and_bad_keys():
    c = references.cite("Ainsworth & Shin 2021")
    assert "Ainsworth" in c and "2021" in c and "Plateau phenomenon" in c and "SIAM" in c
    with pytest.raises(ValueError, match="unknown paper key 'Ainsworth 2021'.*Ainsworth & Shin"):
        references.cite("Ainsworth 2021")
    from flowlab.experiments import register
    with pytest.raises(ValueError, match="unknown paper key"):
        register("never-registered", "title", papers=("seed 3",))


def test_design_notes_that_the_code_cites_exist():
    assert (ROOT / "docs" / "design.md").is_file()
    for path in _texts():
        if path.name != "test_references.py":
            assert "DESIGN.md" not in path.read_text(encoding="utf-8", errors="replace"), path
