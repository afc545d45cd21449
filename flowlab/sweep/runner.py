"""Running a sweep on dask.distributed: submit, retry, record, resume."""

from __future__ import annotations

import contextlib
import logging
import os
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import _deps
from .progress import Progress
from .spec import SweepSpec, load_sweep
from .store import STORE_NAME, ResultStore, open_results
from .tasks import run_point

__all__ = ["run", "SweepResult"]


@dataclass
class SweepResult:
    """What a call of :func:`run` did.

    Attributes
    ----------
    out : Path
        The output folder; the results are ``out / "results.zarr"``.
    n_points : int
        Points of the grid.
    n_already : int
        Points found finished when the run started (skipped).
    n_computed : int
        Points finished by this run.
    n_failed : int
        Points recorded as failed (after their retries) by this run.
    interrupted : bool
        The run was stopped (Ctrl-C) before every point was done.
    """

    out: Path
    n_points: int
    n_already: int
    n_computed: int = 0
    n_failed: int = 0
    interrupted: bool = False

    @property
    def store(self) -> Path:
        return self.out / STORE_NAME

    def dataset(self):
        """The results as an ``xarray.Dataset`` (read from the zarr store)."""
        return open_results(self.out)


def run(study, out=None, *, workers: int | None = None, scheduler: str | None = None,
        client=None, retries: int = 1, keep_solutions: bool = False,
        progress: bool | None = None, task=None, echo=print) -> SweepResult:
    """Run every point of a sweep on dask.distributed and store the results.

    Parameters
    ----------
    study : path, dict or SweepSpec
        The sweep file (a ``flowlab flow`` study plus a ``[sweep]`` table, see
        :mod:`flowlab.sweep.spec`), its tables as a dict, or a loaded spec.
    out : path, optional
        Output folder (default: ``[output] dir`` or ``results/<study name>``).
        Results go to ``out/results.zarr``; running again with the same study
        and folder skips the finished points (identified by hash).
    workers : int, optional
        Worker processes of the local cluster (default: one per core).
    scheduler : str, optional
        Address of a running dask scheduler (``tcp://host:8786``) to use instead
        of a local cluster.  Without it, a ``scheduler-address`` set in dask's
        configuration (``DASK_SCHEDULER_ADDRESS``) is used when present.
    client : dask.distributed.Client, optional
        An existing client (it is left open).
    retries : int
        Extra attempts for a point whose task raises; after them the point is
        recorded with status "error" and the exception's message.  A point whose
        worker dies is moved to another worker by dask itself.
    keep_solutions : bool
        Flow tasks: also save each point's Solution as ``out/solutions/<hash>.npz``
        (the folder must be shared with the workers of a remote cluster).
    progress : bool, optional
        A progress bar with ETA on a terminal, a plain line every ten seconds
        otherwise (default); False for none.
    task : callable, optional
        Run ``task(point) -> dict`` instead of the task the file names.
    echo : callable or None
        Where the summary lines go ("k of N points already done"); None for silence.

    Returns
    -------
    SweepResult

    Raises
    ------
    flowlab.sweep.MissingExtraError
        The sweep extra (dask[distributed], xarray, zarr) is not installed.
    flowlab.sweep.SweepError
        The sweep file is malformed (before anything runs).
    KeyboardInterrupt
        Re-raised after the finished points are saved and the cluster is closed.

    Examples
    --------
    >>> import flowlab.sweep as sw                                  # doctest: +SKIP
    >>> res = sw.run("study.toml", out="results/study", workers=2)  # doctest: +SKIP
    >>> res.dataset()["final_loss"]                                 # doctest: +SKIP
    """
    _deps.require()
    spec = study if isinstance(study, SweepSpec) else load_sweep(study, task=task)
    retries = _check_count(retries, "retries")
    if workers is not None:
        workers = _check_count(workers, "workers", minimum=1)
        if scheduler is not None or client is not None:
            raise ValueError("`workers` sizes a local cluster; it cannot be combined with "
                             "`scheduler` or `client` (size that cluster itself).")
    if scheduler is not None and client is not None:
        raise ValueError("give `scheduler` or `client`, not both.")
    if keep_solutions and not spec.task.solution:
        raise ValueError(f"`keep_solutions` saves Solution files of flow tasks; task "
                         f"{spec.task.name!r} has none.")
    say = echo if echo is not None else (lambda *_: None)
    out = Path(out) if out is not None else spec.default_out
    out.mkdir(parents=True, exist_ok=True)
    with _lock(out):
        store = ResultStore.open(out, spec, _deps.versions())
        if store.moved is not None:
            say(f"the study changed: the previous results are kept in {store.moved}; "
                f"{store.carried} finished points carried over")
        done = store.done_mask()
        failed_before = int(np.sum(store.status() == "error"))
        result = SweepResult(out, spec.size, int(done.sum()))
        say(f"{result.n_already} of {spec.size} points already done"
            + (f"; {failed_before} failed points run again" if failed_before else ""))
        todo = [index for index in spec.indices() if not done[index]]
        if spec.task.cost is not None:      # costliest first: a shorter tail
            todo.sort(key=lambda index: -spec.task.cost(spec.point(index)))
        if not todo:
            return result
        save_dir = None
        if keep_solutions:
            save_dir = out / "solutions"
            save_dir.mkdir(exist_ok=True)
        bar = None
        try:
            with _client(client, scheduler, workers) as cl:
                bar = Progress.auto(spec.size, result.n_already, progress)
                _drive(cl, spec, store, todo, retries, save_dir, bar, result)
        except KeyboardInterrupt:
            result.interrupted = True
            if bar is not None:
                bar.close()
            say(f"interrupted: {result.n_already + result.n_computed} of {spec.size} points "
                f"done and saved in {store.path}; run the same command again to resume")
            raise
        bar.close()
    say(f"{result.n_computed} points computed, {result.n_failed} failed; results in "
        f"{store.path}")
    return result


def _check_count(value, name, minimum=0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def _drive(client, spec, store, todo, retries, save_dir, bar, result) -> None:
    """Submit every pending point, then record each as it completes (retrying failures)."""
    from dask.distributed import as_completed
    run_id = uuid.uuid4().hex[:8]
    func = spec.task.func
    pending = {}

    def submit(index, attempt):
        point = spec.point(index)
        h = store.hashes[index]
        save = None if save_dir is None else str(save_dir / f"{h}.npz")
        fut = client.submit(run_point, func, point, save,
                            key=f"flowlab-sweep-{run_id}-{h[:20]}-{attempt}")
        pending[fut.key] = (index, attempt, fut)
        return fut

    futures = [submit(index, 1) for index in todo]
    queue = as_completed(futures)
    try:
        for fut in queue:
            index, attempt, _ = pending.pop(fut.key)
            try:
                # a result lost with its worker after it finished is computed again by
                # dask: result() waits for it
                out = fut.result()
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:        # noqa: BLE001 - the task's own error
                if attempt <= retries:
                    fut.release()
                    queue.add(submit(index, attempt + 1))
                    continue
                store.write_error(index, _message(exc), attempts=attempt, trace=_trace(fut))
                result.n_failed += 1
                bar.update(failed=True)
            else:
                _record(store, index, attempt, out, result, bar)
            fut.release()
    except BaseException:
        with contextlib.suppress(Exception):
            client.cancel([f for _, _, f in pending.values()])
        raise


def _record(store, index, attempt, out, result, bar) -> None:
    """Write a finished task's values (or an error if they do not fit the store)."""
    try:
        store.check(out["values"])
    except (TypeError, ValueError) as exc:
        store.write_error(index, _message(exc), attempts=attempt, wall_s=out["wall_s"],
                          worker=out["worker"])
        result.n_failed += 1
        bar.update(failed=True)
        return
    store.write(index, out["values"], attempts=attempt, wall_s=out["wall_s"],
                worker=out["worker"])
    result.n_computed += 1
    bar.update()


def _trace(fut) -> str:
    try:
        tb = fut.traceback()
    except BaseException:              # noqa: BLE001
        return ""
    return "".join(traceback.format_tb(tb)) if tb is not None else ""


def _message(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


@contextlib.contextmanager
def _client(client, scheduler, workers):
    """The client to run on: the one given, one connected to ``scheduler`` (or to dask's
    configured ``scheduler-address``), or a new local cluster of worker processes."""
    if client is not None:
        yield client
        return
    import dask
    from dask.distributed import Client, LocalCluster
    address = scheduler
    if address is None and workers is None:
        address = dask.config.get("scheduler-address", None)
    if address:
        with Client(address) as c:
            yield c
        return
    n = workers or _cores()
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                      dashboard_address=":0", silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as c:
        yield c


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def _lock(out: Path):
    """One sweep writes a folder at a time (a stale lock of a dead process is taken over)."""
    path = out / ".sweep.lock"
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                pid = int(path.read_text().strip() or 0)
            except (OSError, ValueError):
                pid = 0
            if pid and pid != os.getpid() and _alive(pid):
                raise RuntimeError(f"another sweep (process {pid}) is writing {out}; wait for "
                                   f"it or choose another --out.") from None
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(str(os.getpid()))
        break
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
