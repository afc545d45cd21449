"""The default stepper of smooth flows (``method="auto"``) against the methods it chooses
between, side by side in one run.

Problems (40 evenly spaced points of sin(3x) + sin(6x)/2 on [-1, 1.5], mean loss, rtol
1e-10, atol 1e-12, no dense output):

- ``condense-x2tanh``: condense-1d's x^2 tanh network (Zhou et al. 2022; width 100,
  every parameter N(0, 0.005^2), P = 300) to the end of its initial stage (70% of the
  initial loss, t = 1.35e4): non-stiff for most of the way, stiff by Hairer's test
  near the end.  The target: auto within 2x of scipy's DOP853 (Radau, the previous
  default, took 72-128 s here).
- ``tanh-20-long``: a width-20 tanh network (Xavier, bound 1; P = 60) to t = 2e4:
  stiff from t = 790 on.
- ``tanh-100``: the same at width 100 (P = 300) to t = 2000.

Every method runs on every problem (Radau on condense-x2tanh only with
``--radau-everywhere``: it takes minutes), in interleaved rounds; the best CPU time of
each is reported with the spread, with the steps, the stepper switches of auto and each
method's largest parameter difference to a DOP853 run at rtol 1e-13.

    python bench/smooth_auto.py [--rounds 3] [--radau-everywhere] [--quick]

``--quick`` (the test suite's smoke run): tanh width 20 to t = 2000 only, one round.
Prints one JSON line per problem.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import flowlab as fl  # noqa: E402
from flowlab.analysis import flow_initial_stage  # noqa: E402

X = np.linspace(-1.0, 1.5, 40)
Y = np.sin(3 * X) + 0.5 * np.sin(6 * X)
METHODS = ("auto", "ERK853", "DOP853", "Radau")


def problems(quick=False):
    if quick:
        return {"tanh-20": (fl.init.xavier(20, 1, activation="tanh", seed=0, bound=1.0), 2e3)}
    small = fl.init.small_gaussian(100, 1, 0.005 ** 2, activation="x2tanh", seed=0)
    _, stage = flow_initial_stage(small, X, Y)
    return {"condense-x2tanh": (small, stage.t_end),
            "tanh-20-long": (fl.init.xavier(20, 1, activation="tanh", seed=0, bound=1.0), 2e4),
            "tanh-100": (fl.init.xavier(100, 1, activation="tanh", seed=0, bound=1.0), 2e3)}


def run(rounds=3, radau_everywhere=False, quick=False):
    out = {}
    for name, (net, T) in problems(quick).items():
        ref = fl.flow(net, X, Y, T, loss="mean", method="DOP853", rtol=1e-13, atol=1e-15,
                      dense=False, progress=False)
        methods = [m for m in METHODS
                   if m != "Radau" or radau_everywhere or name != "condense-x2tanh"]
        for m in methods:                                   # warm (compile) every path
            fl.flow(net, X, Y, T * 1e-4, loss="mean", method=m, progress=False)
        times = {m: [] for m in methods}
        sols = {}
        for r in range(rounds):
            for m in methods:
                if m == "Radau" and name == "condense-x2tanh" and r:
                    continue                                 # one round of the minutes
                c = time.process_time()
                sols[m] = fl.flow(net, X, Y, T, loss="mean", method=m, dense=False,
                                  progress=False)
                times[m].append(time.process_time() - c)
        row = {"P": net.n_params, "t_end": T}
        for m in methods:
            s = sols[m]
            row[m] = {"cpu_s": min(times[m]), "spread_s": [min(times[m]), max(times[m])],
                      "steps": s.nsteps, "nfev": s.nfev, "njev": s.njev,
                      "error": float(np.abs(s.theta_final - ref.theta_final).max())}
        row["auto"]["switches"] = [(float(t), to, float(hl))
                                   for t, to, hl in sols["auto"].info["stepper_switches"]]
        row["auto_over_DOP853"] = row["auto"]["cpu_s"] / row["DOP853"]["cpu_s"]
        best = min(row[m]["cpu_s"] for m in methods if m != "auto")
        row["auto_over_best_forced"] = row["auto"]["cpu_s"] / best
        out[name] = row
        print(json.dumps({name: row}), flush=True)
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--radau-everywhere", action="store_true")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    run(1 if a.quick else a.rounds, a.radau_everywhere, a.quick)
