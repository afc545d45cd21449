"""Sweeps: many flows (or task functions) over a grid, run on dask.distributed.

``flowlab sweep STUDY.toml --out DIR`` (or :func:`run`) expands the
``[sweep]`` table of a study into a grid, runs each point as a task on a dask
cluster (a local one sized to the machine, or an existing one by scheduler
address), and writes the results incrementally to one xarray Dataset in
``DIR/results.zarr``.  Running the same command again skips the finished
points; failed tasks are retried, then recorded with their error.

The optional packages (dask[distributed], xarray, zarr) come with
``pip install "flowlab[sweep]"``; they are imported only when a sweep runs, so
``import flowlab`` works without them.

>>> import flowlab.sweep as sw
>>> "flow" in sw.task_names()
True

See ``docs/sweeps.md``.
"""

from ._deps import MissingExtraError
from .runner import SweepResult, run
from .spec import SweepError, SweepSpec, load_sweep
from .store import open_results
from .tasks import Task, get_task, register_task, task_names

__all__ = ["run", "load_sweep", "open_results", "register_task", "get_task", "task_names",
           "Task", "SweepSpec", "SweepResult", "SweepError", "MissingExtraError"]
