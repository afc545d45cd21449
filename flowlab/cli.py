"""Command line: ``flowlab --version | flow STUDY.toml | sweep STUDY.toml | reproduce NAME``.

Bad input (a wrong argument, an invalid study file, an unknown reproduction)
prints one line ``flowlab: error: ...`` and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys

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
    r = sub.add_parser("reproduce", help="run a named reproduction of a seed's figure/table")
    r.add_argument("name", nargs="?", help="reproduction name (see --list)")
    r.add_argument("--list", action="store_true", help="list the reproductions")
    r.add_argument("--quick", action="store_true", help="reduced size (minutes, used by CI)")
    r.add_argument("--out", help="output folder (default: results/NAME)")
    r.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return p


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "flow":
            from .study import run_study
            s = run_study(args.study, out=args.out,
                          progress=False if args.no_progress else None)
            print(f"{s['status']}: loss {s['initial_loss']:.6g} -> {s['final_loss']:.6g} at "
                  f"t = {s['t_final']:.6g}; results in {s['out']}")
            return 0
        if args.command == "sweep":
            return _sweep(args)
        if args.command == "reproduce":
            from . import experiments
            if args.list:
                for name, title, seeds in experiments.describe():
                    print(f"{name:24s} {title}  [{', '.join(seeds)}]")
                return 0
            if not args.name:
                raise ValueError("give a reproduction NAME or --list.")
            summary = experiments.run(args.name, out=args.out, quick=args.quick,
                                      progress=not args.no_progress and sys.stderr.isatty())
            ok = sum(c["holds"] for c in summary["checks"])
            print(f"{args.name}: {ok}/{len(summary['checks'])} checks hold; summary in "
                  f"{args.out or 'results/' + args.name}/summary.json")
            for c in summary["checks"]:
                print(f"  [{'ok' if c['holds'] else 'FAIL'}] {c['what']}: {c['measured']}")
            return 0
        parser.print_help()
        return 2
    except (ValueError, TypeError, FileNotFoundError, ImportError) as exc:
        print(f"flowlab: error: {exc}", file=sys.stderr)
        return 2


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


if __name__ == "__main__":
    sys.exit(main())
