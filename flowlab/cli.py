"""Command line: ``flowlab --version | flow STUDY.toml | reproduce [--list] NAME``.

Bad input (a wrong argument, an invalid study file, an unknown reproduction)
prints one line ``flowlab: error: ...`` and exits with status 2.  A flow that
stops early (failed, zeno, degenerate, max_steps) or a reproduction that
raises exits with status 1, an interrupted one (Ctrl-C) with 130, after
saving what was computed (the flow's solution, a summary marked
``"interrupted": true``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._version import __version__


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="flowlab", description="Exact continuous-time studies of "
                                "neural-network training.")
    p.add_argument("--version", action="version", version=f"flowlab {__version__}")
    sub = p.add_subparsers(dest="command")
    f = sub.add_parser("flow", help="run a study described in a TOML file")
    f.add_argument("study", help="path to STUDY.toml")
    f.add_argument("--out", help="output folder (default: [output] dir or results/<study>)")
    f.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    f.add_argument("--force", action="store_true",
                   help="overwrite the results of an earlier run in the output folder")
    r = sub.add_parser("reproduce", help="run a named reproduction of a seed's figure/table")
    r.add_argument("name", nargs="?", help="reproduction name (see --list)")
    r.add_argument("--list", action="store_true", help="list the reproductions")
    r.add_argument("--quick", action="store_true", help="reduced size (minutes, used by CI)")
    r.add_argument("--out", help="output folder (default: results/NAME)")
    r.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return p


#: Exit statuses: 0 success, 1 a run that stopped early (failed, zeno, degenerate,
#: max_steps, or a reproduction that raised), 2 bad input, 130 interrupted (Ctrl-C).
EXIT_OK, EXIT_STOPPED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def main(argv=None) -> int:
    """Run the command line; returns the exit status (see ``EXIT_*``)."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "flow":
            return _flow(args)
        if args.command == "reproduce":
            return _reproduce(args)
        parser.print_help()
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("flowlab: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ValueError, TypeError, OSError) as exc:
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
        for name, title, seeds in experiments.describe():
            print(f"{name:24s} {title}  [{', '.join(seeds)}]")
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
                                  progress=not args.no_progress and sys.stderr.isatty())
    except KeyboardInterrupt:
        print(f"flowlab: {args.name} interrupted; the partial summary (marked interrupted) is "
              f"in {where}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        print(f"flowlab: {args.name} stopped with an error ({type(exc).__name__}: {exc}); "
              f"the partial summary is in {where}", file=sys.stderr)
        return EXIT_STOPPED
    ok = sum(c["holds"] for c in summary["checks"])
    print(f"{args.name}: {ok}/{len(summary['checks'])} checks hold; summary in {where}")
    for c in summary["checks"]:
        print(f"  [{'ok' if c['holds'] else 'FAIL'}] {c['what']}: {c['measured']}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
