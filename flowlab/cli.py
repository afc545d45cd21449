"""Command line: ``flowlab --version | flow | sweep | reproduce [--list] NAME |
bench [--list] PROBLEM | warmup``.

Bad input (a wrong argument, an invalid study file, an unknown reproduction)
prints one line ``flowlab: error: ...`` and exits with status 2.  A flow that
stops early (failed, zeno, degenerate, stiff, max_steps) or a reproduction that
raises exits with status 1, an interrupted one (Ctrl-C) with 130, after
saving what was computed (the flow's solution, a summary marked
``"interrupted": true``).
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
import time
from pathlib import Path

from ._version import __version__


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="flowlab", description="Exact continuous-time studies of "
                                "neural-network training.")
    p.add_argument("--version", action="version", version=f"flowlab {__version__}")
    sub = p.add_subparsers(dest="command")
    from .study import EXAMPLE
    f = sub.add_parser("flow", help="run a study described in a TOML file",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Run the gradient flow that a study file describes and "
                       "write solution.npz,\nloss.png and summary.json to the output folder.",
                       epilog="example STUDY.toml (every key and its default: "
                       "docs/studies.md):\n\n" + textwrap.indent(EXAMPLE, "  "))
    f.add_argument("study", help="path to STUDY.toml")
    f.add_argument("--out", help="output folder (default: [output] dir or results/<study>)")
    f.add_argument("--no-progress", action="store_true", help="no progress bar or progress lines")
    f.add_argument("--force", action="store_true",
                   help="overwrite the results of an earlier run in the output folder")
    w = sub.add_parser("warmup", help="compile flowlab's numba kernels ahead (once per install)",
                       description="Compile every numba kernel of flowlab ahead, by running "
                       "each public path on a tiny problem; later runs load them from numba's "
                       "cache.")
    w.add_argument("--task", action="append", help="only this task (repeatable; see --list)")
    w.add_argument("--list", action="store_true", help="list the tasks")
    w.add_argument("--table", metavar="FILE",
                   help="write the measured compile times (per task, per kernel) as markdown; "
                   "meaningful from an empty cache (NUMBA_CACHE_DIR=empty folder); the "
                   "second compiling process of cold runs is off for it")
    w.add_argument("--record-plans", nargs="?", const="", metavar="FILE",
                   help="record every task's compile plan, each in a fresh process on an "
                   "empty cache, into FILE (default: the package's plan file, which cold "
                   "first runs follow in a second process); after changing the kernels")
    s = sub.add_parser("sweep", help="run a study over a grid ([sweep] table) on dask; "
                       "needs the sweep extra: pip install \"flowlab[sweep]\"")
    s.add_argument("study", help="path to STUDY.toml with a [sweep] table")
    s.add_argument("--out", help="output folder; results in OUT/results.zarr (default: "
                   "[output] dir or results/<study>); the same folder resumes")
    s.add_argument("--workers", type=int, help="worker processes of the local cluster "
                   "(default: one per core)")
    s.add_argument("--scheduler", help="address of a running dask scheduler "
                   "(tcp://host:8786) instead of a local cluster")
    s.add_argument("--retries", type=int, default=1, help="extra attempts for a point whose "
                   "task raises, before it is recorded as failed (default 1)")
    s.add_argument("--keep-solutions", action="store_true",
                   help="also save each point's Solution as OUT/solutions/<hash>.npz")
    s.add_argument("--no-progress", action="store_true", help="hide the progress bar/lines")
    r = sub.add_parser("reproduce", help="run a named reproduction of a paper's figure or table")
    r.add_argument("name", nargs="?", help="reproduction name (see --list)")
    r.add_argument("--list", action="store_true", help="list the reproductions")
    r.add_argument("--quick", action="store_true", help="reduced size (minutes, used by CI)")
    r.add_argument("--out", help="output folder (default: results/NAME)")
    r.add_argument("--no-progress", action="store_true", help="no progress bars or progress lines")
    b = sub.add_parser("bench", help="work-precision benchmark of the integrators on a problem",
                       description="Run every setup (integrator at a ladder of tolerances, "
                       "GD and Adam at a ladder of learning rates) on a problem, measure its "
                       "errors against a cached reference, and write work_precision.json and "
                       "the work-precision diagrams.")
    b.add_argument("problem", nargs="?", help="problem name (see --list)")
    b.add_argument("--list", action="store_true", help="list the problems and the setups")
    b.add_argument("--quick", action="store_true", help="reduced size (short time span, four "
                   "tolerances; about a minute)")
    b.add_argument("--out", help="output folder (default: results/bench/PROBLEM)")
    b.add_argument("--setups", nargs="+", metavar="SETUP", help="run only these setups "
                   "(names from --list; commas also separate)")
    b.add_argument("--time-limit", type=float, help="seconds one run may take (default: the "
                   "problem's)")
    b.add_argument("--cache", help="reference cache folder (default: $FLOWLAB_BENCH_CACHE or "
                   "~/.cache/flowlab/bench)")
    b.add_argument("--no-cache", action="store_true", help="recompute the reference, do not "
                   "store it")
    b.add_argument("--quiet", action="store_true", help="print only the summary")
    return p


def _bench(args) -> int:
    from . import bench
    if args.list:
        print("problems:")
        for p in bench.problems():
            need = f"  [needs {', '.join(p.requires)}: pip install \"flowlab[torch]\"]" \
                if p.requires else ""
            print(f"  {p.name:18s} {p.title}{need}")
        print("setups:")
        for s in bench.SETUPS.values():
            print(f"  {s.name:18s} [{s.family}, sweeps {s.sweep}] {s.note}")
        return 0
    if not args.problem:
        raise ValueError("give a bench PROBLEM or --list.")
    setups = None
    if args.setups:
        setups = [x for item in args.setups for x in item.split(",") if x]
    if args.time_limit is not None and not args.time_limit > 0:
        raise ValueError(f"--time-limit must be > 0 seconds, got {args.time_limit}.")
    out = args.out or f"results/bench/{args.problem}"
    res = bench.run_bench(args.problem, quick=args.quick, out=out, setups=setups,
                          cache_dir=args.cache, use_cache=not args.no_cache,
                          time_limit=args.time_limit, log=None if args.quiet else print)
    ref = res["reference"]
    print(f"{args.problem}: reference {ref['method']} at rtol {ref['tol']:g} "
          f"({ref['seconds']:.3g} s, {ref['cache']}); results in {out}/work_precision.json")
    for name, o in res["orders"].items():
        print(f"  {name:20s} best error {o['best_error']:.3g}")
    for c in res["checks"]:
        print(f"  [{'ok' if c['holds'] else 'FAIL'}] {c['what']}")
    return 0


#: Exit statuses: 0 success, 1 a run that stopped early (failed, zeno, degenerate, stiff,
#: max_steps, or a reproduction that raised), 2 bad input, 130 interrupted (Ctrl-C).
EXIT_OK, EXIT_STOPPED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def main(argv=None) -> int:
    """Run the command line; returns the exit status (see ``EXIT_*``)."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "flow":
            return _flow(args)
        if args.command == "warmup":
            return _warmup(args)
        if args.command == "sweep":
            return _sweep(args)
        if args.command == "reproduce":
            return _reproduce(args)
        if args.command == "bench":
            return _bench(args)
        parser.print_help()
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("flowlab: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ValueError, TypeError, OSError, ImportError) as exc:
        print(f"flowlab: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _flow(args) -> int:
    from .study import run_study
    s = run_study(args.study, out=args.out, progress=False if args.no_progress else None,
                  force=args.force)
    print(f"{s['status']}: loss {s['initial_loss']:.6g} -> {s['final_loss']:.6g} at "
          f"t = {s['t_final']:.6g}; results in {s['out']}")
    if s["status"] == "interrupted":
        print(f"flowlab: interrupted; the solution so far is in {s['out']}/solution.npz "
              "(continue it with flowlab.resume)", file=sys.stderr)
        return EXIT_INTERRUPTED
    if s["status"] not in ("finished", "steady_state"):
        print(f"flowlab: the flow stopped early ({s['status']}): {s['message']}",
              file=sys.stderr)
        return EXIT_STOPPED
    return EXIT_OK


def _reproduce(args) -> int:
    from . import experiments
    if args.list:
        for name, title, papers in experiments.describe():
            print(f"{name:24s} {title}  [{'; '.join(papers)}]")
        return EXIT_OK
    if not args.name:
        raise ValueError("give a reproduction NAME or --list.")
    names = experiments.names()
    if args.name not in names:
        raise ValueError(f"unknown reproduction {args.name!r}; `flowlab reproduce --list` shows "
                         f"the {len(names)} available: {', '.join(names)}.")
    out = Path(args.out or Path("results") / args.name)
    if out.exists() and not out.is_dir():
        raise ValueError(f"the output folder {str(out)!r} is a file; choose a folder (--out).")
    where = out / "summary.json"
    try:
        summary = experiments.run(args.name, out=args.out, quick=args.quick,
                                  progress=False if args.no_progress else None)
    except KeyboardInterrupt:
        print(f"flowlab: {args.name} interrupted; the partial summary (marked interrupted) is "
              f"in {where}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        print(f"flowlab: {args.name} stopped with an error ({type(exc).__name__}: {exc}); "
              f"the partial summary is in {where}", file=sys.stderr)
        return EXIT_STOPPED
    _print_summary(summary, str(out))
    return EXIT_OK


def _sweep(args) -> int:
    from .sweep import MissingExtraError, run
    if args.workers is not None and args.scheduler is not None:
        raise ValueError("--workers sizes a local cluster; with --scheduler the cluster is "
                         "sized by its own `dask worker` processes: give one of the two.")
    try:
        res = run(args.study, out=args.out, workers=args.workers, scheduler=args.scheduler,
                  retries=args.retries, keep_solutions=args.keep_solutions,
                  progress=False if args.no_progress else None)
    except MissingExtraError as exc:
        print(f"flowlab: error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:          # another sweep is writing the folder
        print(f"flowlab: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 1 if res.n_failed else 0


def _warmup(args) -> int:
    from . import _compile, _warmup
    if args.list:
        for name, what, _ in _warmup.TASKS:
            print(f"{name:14s} {what}")
        return 0
    if args.record_plans is not None:
        _warmup.record_plans(args.record_plans or None, sys.stdout)
        return 0
    if args.table:                     # each kernel's compile time in this process alone
        os.environ["FLOWLAB_PREFETCH"] = "0"
    timer = _compile.CompileTimer()
    clock = time.perf_counter()
    rows = _warmup.warmup(sys.stdout, tasks=args.task, timer=timer)
    total = time.perf_counter() - clock
    compiled = sum(r["compiled"] for r in rows)
    print(f"warmup: {total:.1f} s, {compiled} kernel signatures compiled"
          f"{'' if compiled else ' (all were in the cache)'}")
    if args.table:
        Path(args.table).write_text(_warmup.table_markdown(rows, timer))
        print(f"compile times written to {args.table}")
    return 0


def _print_summary(summary: dict, out: str) -> None:
    """Checks, then the findings about the papers apart from them."""
    checks = [c for c in summary["checks"] if "finding" not in c]
    findings = [c for c in summary["checks"] if "finding" in c]
    ok = sum(c["holds"] for c in checks)
    head = f"{summary['name']}: {ok}/{len(checks)} checks hold"
    if findings:
        head += (f"; {len(findings)} finding{'s' if len(findings) > 1 else ''} about the "
                 f"paper{'s' if len(summary.get('papers', ())) > 1 else ''}")
    print(f"{head}; summary in {out}/summary.json")
    for c in checks:
        print(f"  [{'ok' if c['holds'] else 'FAIL'}] {c['what']}: {_short(c['measured'])}"
              f"{_criterion(c)}")
    if findings:
        print("findings (claims of the paper that flowlab's computation contradicts; "
              "docs/findings.md):")
        for c in findings:
            print(f"  [finding] {c['what']}: {_short(c['measured'])}{_criterion(c)}")
            print(textwrap.fill(c["finding"], width=96, initial_indent="      ",
                                subsequent_indent="      "))


def _criterion(check: dict) -> str:
    """" (needs <= 1e-08)" for a check with a criterion (older summaries have none)."""
    if check.get("op") is None:
        return ""
    if check["op"] == "increasing":
        return " (needs: increasing)"
    return f" (needs {check['op']} {_short(check['threshold'])})"


def _short(value) -> str:
    """A measured value for one line of output (floats to 4 significant digits)."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_short(v)}" for k, v in value.items()) + "}"
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
