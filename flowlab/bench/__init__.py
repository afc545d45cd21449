"""Work-precision benchmarks of gradient-flow integrators (``flowlab bench``).

A problem library (:func:`problems`: ReLU flows with events and slides,
multi-scale and smooth flows, a deep network through the PyTorch bridge, a
flow known in closed form) and a table of setups (:data:`SETUPS`: every
method of :func:`flowlab.flow`, the exact engines, the bridge's RKC, gradient
descent and Adam on a ladder of learning rates, optional external peers)
are swept against a reference computed by another method at rtol 1e-13 and
cached on disk.  :func:`run_bench` writes ``work_precision.json`` and the
work-precision diagrams; docs/choosing_a_method.md reads them.

This is the public module; the ``bench/`` folder of the repository holds the
developers' side-by-side speed scripts, a different thing.

Examples
--------
>>> import flowlab.bench as flb
>>> len(flb.problem_names()) >= 5
True
>>> res = flb.run_bench("plateau-sine", quick=True, setups=["exact", "gd"],
...                     out="results/bench/doc", plots=False)  # doctest: +SKIP
"""

from .measures import (best_time, error_measures, errors_fall, loglog_slope, loss_error,
                       relative_errors)
from ._problems import (BenchProblem, Instance, closed_form_linear, get_problem, problem_names,
                        problems, register_problem)
from .reference import Reference, default_cache_dir, get_reference
from .report import load_result, markdown_table
from .setups import SETUPS, Outcome, Setup, add_setup, get_setup, setup_names
from .suite import run_bench, run_setup

__all__ = ["run_bench", "run_setup", "problems", "problem_names", "get_problem",
           "register_problem", "BenchProblem", "Instance", "closed_form_linear", "SETUPS",
           "Setup", "Outcome", "add_setup", "get_setup", "setup_names", "Reference",
           "get_reference", "default_cache_dir", "relative_errors", "error_measures",
           "loss_error", "loglog_slope", "errors_fall", "best_time", "markdown_table",
           "load_result"]
