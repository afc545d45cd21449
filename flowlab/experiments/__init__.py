"""Named reproductions of the papers' figures and tables (``flowlab reproduce NAME``).

Each module here registers one or more reproductions with
:func:`flowlab.experiments.register`; they are discovered automatically.
"""

from ._registry import Report, describe, names, register, run

__all__ = ["Report", "register", "run", "names", "describe"]
