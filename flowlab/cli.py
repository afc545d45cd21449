"""Command line: ``flowlab --version | flow STUDY.toml | reproduce [--list] NAME |
bench [--list] PROBLEM``.

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
    r = sub.add_parser("reproduce", help="run a named reproduction of a seed's figure/table")
    r.add_argument("name", nargs="?", help="reproduction name (see --list)")
    r.add_argument("--list", action="store_true", help="list the reproductions")
    r.add_argument("--quick", action="store_true", help="reduced size (minutes, used by CI)")
    r.add_argument("--out", help="output folder (default: results/NAME)")
    r.add_argument("--no-progress", action="store_true", help="hide progress bars")
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
        if args.command == "bench":
            return _bench(args)
        parser.print_help()
        return 2
    except (ValueError, TypeError, FileNotFoundError, ImportError) as exc:
        print(f"flowlab: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
