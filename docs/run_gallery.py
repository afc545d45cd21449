"""Run every reproduction in quick mode into docs/_gallery/<name>/ for the gallery pages.

    python docs/run_gallery.py [NAME ...]

Each reproduction writes its figures and summary.json there (a few minutes for all
of them from a warm numba cache); the gallery pages of the documentation embed them.
"""

import sys
import time
from pathlib import Path

from flowlab import experiments

OUT = Path(__file__).resolve().parent / "_gallery"


def main(names):
    for name in names or experiments.names():
        clock = time.perf_counter()
        try:
            s = experiments.run(name, out=OUT / name, quick=True, progress=False)
            print(f"{name}: {len(s['checks'])} checks, {len(s['figures'])} figures, "
                  f"{time.perf_counter() - clock:.0f} s")
        except Exception as exc:                  # recorded in its summary.json
            print(f"{name}: failed ({exc})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
