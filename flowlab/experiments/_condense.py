"""Shared pieces of the condensation reproductions ``condense-1d`` and ``condense-5d``.

Both train the same network twice from one small initialisation: by gradient
flow up to the end of its initial stage (Zhou et al. 2022, Sec. 3: the loss at 70% of
its initial value) and by full-batch Adam as the papers did, then count the
lines the features of the carrying neurons condense on.  Lines are judged by
the output they carry: the fewest lines, largest first, that hold 90% of the
carriers' amplitude are counted (``LINE_SHARE``); the lines of stray neurons
holding the rest are reported beside them (``n_lines_all_carriers``).
"""

from __future__ import annotations

import warnings

import numpy as np

from ..analysis.condensation import count_orientations, line_angle
from ..analysis.condensation_stage import flow_initial_stage, initial_stage
from .._resume import resume
from .._flow import flow
from ..train import adam

#: defaults of :func:`flowlab.analysis.count_orientations` used by both reproductions
AMPLITUDE_THRESHOLD = 0.1
ANGLE_TOL = 20.0
#: lines are counted, largest first, until they hold this share of the carriers' amplitude
LINE_SHARE = 0.9
#: other tolerances and shares whose counts are reported (sensitivity)
ANGLE_TOLS = (10.0, 20.0, 30.0)
LINE_SHARES = (0.8, 0.9, 0.95, 1.0)


def _skipped(report) -> str:
    """Why a panel has no gradient-flow result: the quick mode, or see the summary."""
    return "not run with --quick" if report.quick else "not computed: see summary.json"


def gradient_flow(net, x, y, *, progress=False):
    """Flow to the end of the initial stage: (Solution, InitialStage) or (None, reason).

    Smooth activations: compiled ERK853 stopping at 70% of the initial loss.
    ReLU (any d): the exact event-driven flow from the horizon t = 2, extended
    by half its horizon until the level is passed (scipy's methods stall where a
    knot slides along a data point).
    """
    if net.activation != "relu":
        sol, stage = flow_initial_stage(net, x, y, loss="mean", rtol=1e-10, atol=1e-12,
                                        progress=progress)
        if not stage.reached:
            return None, f"the flow did not reach 70% of the initial loss ({sol.message})"
        return sol, stage
    horizon = 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sol = flow(net, x, y, horizon, loss="mean", method="exact", progress=progress)
        while not initial_stage(sol).reached and sol.success and horizon < 1e5:
            horizon *= 1.5
            sol = resume(sol, horizon, progress=progress)
    stage = initial_stage(sol)
    if not stage.reached:
        return None, f"the exact ReLU flow did not reach 70% of the initial loss ({sol.message})"
    return sol, stage


def adam_run(net, x, y, lr, steps, record_every, progress=False):
    """Full-batch Adam on the mean loss with parameters recorded every ``record_every``."""
    return adam(net, x, y, lr=lr, steps=steps, loss="mean", record_params=True,
                record_every=record_every, progress=progress)


def net_at_iteration(res, net0, k):
    """The network of an Adam run after ``k`` iterations (must be a recorded one)."""
    idx = np.flatnonzero(res.iterations == k)
    if idx.size == 0:
        raise ValueError(f"iteration {k} was not recorded")
    return net0.with_params(res.params[idx[0]])


def lines_record(net, x, p):
    """Counts, orientations and the amplitude distribution behind them, JSON-ready."""
    res = count_orientations(net, x, amplitude_threshold=AMPLITUDE_THRESHOLD,
                             angle_tol=ANGLE_TOL, share=LINE_SHARE)
    amp = res.amplitude / res.amplitude.max() if res.amplitude.max() > 0 else res.amplitude
    sens = {f"{t:g}deg": count_orientations(net, x, amplitude_threshold=AMPLITUDE_THRESHOLD,
                                            angle_tol=t, share=LINE_SHARE).n_lines
            for t in ANGLE_TOLS}
    shares = {f"{s:g}": int(np.searchsorted(np.cumsum(res.weight), s * (1 - 1e-12)) + 1)
              for s in LINE_SHARES}
    rec = {"n_lines": res.n_lines, "n_orientations": res.n_orientations,
           "n_lines_all_carriers": res.n_lines_all, "line_share": LINE_SHARE,
           "n_carriers": int(res.carriers.sum()), "n_neurons": int(res.carriers.size),
           "max_lines_seed": p,
           "line_weights": res.weight, "line_spread_deg": res.spread,
           "orientations_per_line": res.orientations,
           "n_lines_by_angle_tol": sens, "n_lines_by_share": shares,
           "amplitude_relative_sorted": np.sort(amp)[::-1],
           "amplitude_quantiles_relative": dict(zip(("min", "q10", "q50", "q90", "max"),
                                                    np.quantile(amp, [0, .1, .5, .9, 1]))),
           "lines": res.lines}
    if net.input_dim == 1:
        rec["line_angles_deg"] = np.degrees(np.arctan2(res.lines[:, 1], res.lines[:, 0])) % 180
    return res, rec


def counts_along(sol, x, p, fractions=(0.99, 0.95, 0.9, 0.8, 0.7)):
    """Lines among carriers when the loss first reaches each fraction of its initial value."""
    out = []
    for fr in fractions:
        st = initial_stage(sol, fraction=fr)
        if not st.reached:
            continue
        res, _ = lines_record(sol.net_at(st.t_end), x, p)
        out.append({"loss_fraction": fr, "t": st.t_end, "n_lines": res.n_lines,
                    "n_lines_all_carriers": res.n_lines_all,
                    "n_carriers": int(res.carriers.sum())})
    return out


def angle_to(pred_lines, observed_line) -> float:
    """Angle (degrees) between an observed line and the nearest predicted one."""
    return min(line_angle(u, observed_line) for u in pred_lines)


def plain_comparison(act, p, gf, ad, when_gf, when_adam):
    """A sentence comparing the two trainings' counts (a finding, stated plainly)."""
    if gf is None:
        return f"{act}: gradient flow not computed; Adam has {ad['n_lines']} line(s)."
    same = gf["n_lines"] == ad["n_lines"]
    verb = "agree" if same else "DIFFER"
    label = f"p = {p}" if p is not None else "no multiplicity"
    return (f"{act} ({label}): gradient flow and Adam {verb}: gradient flow {when_gf} has "
            f"{gf['n_lines']} line(s) holding {LINE_SHARE:.0%} of the output of "
            f"{gf['n_carriers']} carrying neuron(s) of {gf['n_neurons']} "
            f"({gf['n_lines_all_carriers']} with the rest), Adam {when_adam} has "
            f"{ad['n_lines']} line(s) among {ad['n_carriers']} ({ad['n_lines_all_carriers']} "
            f"with the rest).")


def along_sentence(act, along):
    """The gradient-flow counts along the stage, in words."""
    parts = [f"{c['n_lines']} line(s) among {c['n_carriers']} at {c['loss_fraction']:.3g} L(0)"
             for c in along]
    return f"{act}: gradient flow along its initial stage: " + ", ".join(parts) + "."
