"""Work-precision diagrams: error against wall time and against right-hand-side evaluations."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..plotting import figure

__all__ = ["work_precision_figures"]

_STYLE = {"exact": ("-", "o"), "scipy": ("-", "s"), "flowlab-compiled": ("-", "^"),
          "bridge": ("-.", "D"), "descent": ("--", "x"), "peer": (":", "v")}
_XLABEL = {"seconds": "wall time (s; min over repeats, compile time excluded)",
           "nfev": "right-hand-side evaluations (gradients; GD/Adam: iterations)"}
_FILES = {"seconds": "work_precision_time.png", "nfev": "work_precision_nfev.png"}


def _ylabel(error_key):
    return {"error": "relative parameter error at t_end",
            "error_dense_max": "max relative error over 100 log-spaced times"}[error_key]


def work_precision_figures(result: dict, out: Path, error_key: str = "error") -> list[str]:
    """Write one log-log diagram per work measure (time, nfev); return the file names.

    One line per setup through its finished rows (GD and Adam: one point per
    learning rate); the reference's tolerance and the 1e-8 line are marked.
    """
    import matplotlib.pyplot as plt
    names = list(dict.fromkeys(r["setup"] for r in result["rows"]))
    files = []
    cmap = plt.get_cmap("tab20")
    for work, fname in _FILES.items():
        fig, ax = figure(1, 1, width=7.6, height=5.0)
        ax = ax[0]
        drawn = 0
        for i, name in enumerate(names):
            fin = [r for r in result["rows"] if r["setup"] == name and r["status"] == "finished"
                   and _pos(r.get(error_key)) and _pos(r.get(work))]
            if not fin:
                continue
            ls, mk = _STYLE.get(fin[0]["family"], ("-", "."))
            x = np.array([r[work] for r in fin], dtype=float)
            y = np.array([r[error_key] for r in fin], dtype=float)
            ax.loglog(x, y, ls=ls, marker=mk, ms=4, color=cmap(i % 20), label=name)
            drawn += 1
        none = [n for n in names if not any(r["setup"] == n and r["status"] == "finished"
                                            for r in result["rows"])]
        if none:
            ax.text(0.0, -0.16, "no finished run: " + ", ".join(none), fontsize=7,
                    transform=ax.transAxes, va="top")
        ax.axhline(1e-8, color="k", lw=0.6, ls=":")
        ax.set_xlabel(_XLABEL[work])
        ax.set_ylabel(_ylabel(error_key))
        ax.grid(True, which="both", alpha=0.25)
        ref = result["reference"]
        ax.set_title(f"{result['problem']}{' (quick)' if result['quick'] else ''}: reference "
                     f"{ref['method']} at rtol {ref['tol']:g}", fontsize=9)
        if drawn:
            ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
        else:
            ax.text(0.5, 0.5, "no setup finished", ha="center", transform=ax.transAxes)
        fig.savefig(Path(out) / fname, dpi=110, bbox_inches="tight")
        plt.close(fig)
        files.append(fname)
    return files


def _pos(v) -> bool:
    return v is not None and np.isfinite(v) and v > 0
