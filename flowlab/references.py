"""The papers flowlab reproduces, cited by short keys.

Every mention of a paper in flowlab (docstrings, messages, figure titles, the
``summary.json`` of a reproduction) uses its short key, e.g. "Ainsworth & Shin
2021", with the paper's own equation, figure or section numbers.  This module
holds the one table of full citations behind those keys: ``docs/references.md``
and the ``"papers"`` list of every reproduction's summary are written from it.

Examples
--------
>>> from flowlab.references import cite
>>> cite("Ainsworth & Shin 2021").startswith("M. Ainsworth, Y. Shin (2021)")
True
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Paper", "PAPERS", "cite", "paper", "keys", "markdown"]


@dataclass(frozen=True)
class Paper:
    """One cited paper.

    Attributes
    ----------
    key : str
        Short key used throughout flowlab, e.g. ``"Zhou et al. 2022"``.
    authors : str
        Authors as initials and surnames.
    year : int
        Year of the cited version.
    title : str
        Title.
    venue : str
        Journal, proceedings or preprint server (with its identifier).
    url : str
        Where to read it.
    """

    key: str
    authors: str
    year: int
    title: str
    venue: str
    url: str

    def citation(self) -> str:
        """``Authors (year). "Title". Venue.``"""
        return f'{self.authors} ({self.year}). "{self.title}". {self.venue}.'


_LIST = (
    Paper("Saad & Solla 1995", "D. Saad, S. A. Solla", 1995,
          "On-line learning in soft committee machines",
          "Physical Review E 52(4), 4225-4243",
          "https://doi.org/10.1103/PhysRevE.52.4225"),
    Paper("Ainsworth & Shin 2021", "M. Ainsworth, Y. Shin", 2021,
          "Plateau phenomenon in gradient descent training of ReLU networks: explanation, "
          "quantification and avoidance",
          "SIAM Journal on Scientific Computing; preprint arXiv:2007.07213",
          "https://arxiv.org/abs/2007.07213"),
    Paper("Luo et al. 2021", "T. Luo, Z.-Q. J. Xu, Z. Ma, Y. Zhang", 2021,
          "Phase diagram for two-layer ReLU neural networks at infinite-width limit",
          "Journal of Machine Learning Research 22(71), 1-47",
          "https://jmlr.org/papers/v22/20-1123.html"),
    Paper("Xu et al. 2021", "Z.-Q. J. Xu, H. Zhou, T. Luo, Y. Zhang", 2021,
          "Towards understanding the condensation of two-layer neural networks at initial "
          "training", "Preprint arXiv:2105.11686, first version (its later versions became "
          "Zhou et al. 2022)",
          "https://arxiv.org/abs/2105.11686"),
    Paper("Zhou et al. 2022", "H. Zhou, Q. Zhou, T. Luo, Y. Zhang, Z.-Q. J. Xu", 2022,
          "Towards understanding the condensation of neural networks at initial training",
          "Advances in Neural Information Processing Systems 35 (NeurIPS 2022)",
          "https://papers.neurips.cc/paper_files/paper/2022/hash/"
          "0f4d1fc085b7504c140e66bb26ed8842-Abstract-Conference.html"),
    Paper("Zhao 2023", "H. Zhao, with S. Zhang, H. Zhou, Y. Zhong", 2023,
          "Numerical understanding of neural networks: from representation to learning "
          "dynamics", "Lecture slides; the paper is arXiv:2306.17301",
          "https://arxiv.org/abs/2306.17301"),
    Paper("Yang, Zhao & Zhu 2024", "J. Yang, Y. Zhao, Q. Zhu", 2024,
          "Effective rank and the staircase phenomenon: new insights into neural network "
          "training dynamics", "Preprint arXiv:2412.05144",
          "https://arxiv.org/abs/2412.05144"),
)

#: the cited papers by key, in order of year
PAPERS: dict[str, Paper] = {p.key: p for p in _LIST}


def keys() -> list[str]:
    """The keys of :data:`PAPERS`, in order of year."""
    return list(PAPERS)


def paper(key: str) -> Paper:
    """The :class:`Paper` of ``key``; a ValueError lists the known keys."""
    if key not in PAPERS:
        raise ValueError(f"unknown paper key {key!r}; the keys are: {', '.join(PAPERS)} "
                         "(flowlab.references.PAPERS).")
    return PAPERS[key]


def cite(key: str) -> str:
    """Full citation of the paper ``key`` (authors, year, title, venue)."""
    return paper(key).citation()


def markdown() -> str:
    """The text of ``docs/references.md`` (``python -m flowlab.references`` prints it)."""
    lines = ["# References", "",
             "flowlab cites papers by the short keys below, with the paper's own equation,",
             "figure, table or section numbers (e.g. \"Ainsworth & Shin 2021, (3.1)\").",
             "This page is generated from `flowlab/references.py`, the table that the",
             "`\"papers\"` list of every reproduction's `summary.json` also comes from.", "",
             "| key | citation |", "| --- | --- |"]
    for p in PAPERS.values():
        lines.append(f"| {p.key} | {p.authors} ({p.year}). *{p.title}*. {p.venue}. <{p.url}> |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":      # pragma: no cover
    print(markdown(), end="")
