"""``condense-1d``: condensation of 1-d networks at initial training (Zhou et al. 2022).

Setup (Zhou et al. 2022, Sec. 4.4): 40 evenly spaced points of sin(3x) + sin(6x)/2 on
[-1, 1.5], width 100, every parameter N(0, 0.005^2), mean loss
L = 1/(2m) sum r_i^2; activations tanh (p = 1), x tanh x (p = 2), x^2 tanh x
(p = 3) and relu.  Each network is trained twice from the same start:

- by gradient flow (compiled ERK853 for the smooth activations, the exact
  event-driven flow for relu) up to the end of its initial stage, when the
  loss first reaches 70% of its initial value (Zhou et al. 2022, Sec. 3);
- by full-batch Adam, lr 5e-4, 1000 epochs, as the papers did.

Checks: the lines of the numerically computed direction field of a test neuron
(Zhou et al. 2022, Sec. 4.4) against the leading-order roots of Zhou et al.'s (2022) Case 2
equation, at the initial state and at the end of the initial stage; the number
of lines among the neurons that carry the output (Adam at epoch 200, the
epoch of Zhou et al. 2022, Fig. 6; gradient flow at the end of the initial stage);
polynomial fits of degree p of the output (Zhou et al. 2022, Fig. 5, epoch 1000).
"""

from __future__ import annotations

import numpy as np

from .. import init
from ..activations import get_activation
from ..analysis.condensation_theory import (direction_field, field_lines, neuron_velocity,
                                            predicted_lines)
from ..analysis.condensation import nearest_line_angles
from ..analysis.condensation_stage import initial_stage, polyfit_output
from ..plotting import figure
from ._condense import (ANGLE_TOL, AMPLITUDE_THRESHOLD, adam_run, along_sentence,
                        counts_along, gradient_flow, lines_record, net_at_iteration,
                        plain_comparison, _skipped)
from ._registry import register

ACTIVATIONS = ("tanh", "xtanh", "x2tanh", "relu")
WIDTH, STD, LR, EPOCHS, FIELD_EPOCH, RECORD = 100, 0.005, 5e-4, 1000, 200, 10
FIELD_RADIUS = 0.01


def target(x):
    return np.sin(3 * x) + 0.5 * np.sin(6 * x)


def theory_vs_field(net, x, y, act):
    """Leading-order lines and numerically located field lines for the residual of ``net``."""
    e = net(x) - y
    pred = predicted_lines(x, e, act)
    fld = field_lines(x, e, act, radius=FIELD_RADIUS)
    ang = nearest_line_angles(pred.lines, fld.lines) if pred.n_lines else np.zeros(0)
    back = nearest_line_angles(fld.lines, pred.lines) if fld.n_lines else np.zeros(0)
    worst = float(max(ang.max(initial=0.0), back.max(initial=0.0)))
    return pred, fld, {"predicted_deg": pred.angles, "field_deg": fld.angles,
                       "n_predicted": pred.n_lines, "n_field": fld.n_lines,
                       "complex_root_pairs": pred.n_complex_pairs, "max_angle_deg": worst}


@register("condense-1d",
          "Zhou et al. 2022, Figs. 5-6, and Xu et al. 2021, Figs. 3-4: condensation of 1-d "
          "networks of multiplicity p = 1, 2, 3 and relu, gradient flow and Adam",
          papers=("Zhou et al. 2022", "Xu et al. 2021"))
def run(report):
    x = np.linspace(-1.0, 1.5, 40)
    y = target(x)
    xt = np.linspace(-1.0, 1.5, 200)
    rows, findings, states = {}, [], {}
    report.data.update(width=WIDTH, std=STD, adam_lr=LR, adam_epochs=EPOCHS,
                       field_epoch=FIELD_EPOCH, field_radius=FIELD_RADIUS,
                       amplitude_threshold=AMPLITUDE_THRESHOLD, angle_tol_deg=ANGLE_TOL,
                       data="40 evenly spaced points on [-1, 1.5]")
    for act in ACTIVATIONS:
        p = get_activation(act).p
        row, st = _train_pair(act, x, y, xt, report)
        rows[act], states[act] = row, st
        _check_output(report, act, p, row["adam_polyfit_r2"])
        gf = row["gradient_flow"]["lines"] if isinstance(row["gradient_flow"], dict) else None
        if gf is not None:
            findings.append(along_sentence(act, row["gradient_flow"]["counts_along"]))
        if p is not None:
            _check_theory(report, act, p, x, y, st, row, findings)
            _check_counts(report, act, p, row, findings)
        findings.append(plain_comparison(act, p, gf, row["adam_field_epoch"],
                                         "at the end of its initial stage",
                                         f"at epoch {FIELD_EPOCH}"))
    report.data["activations"] = rows
    report.data["observations"] = findings
    _figures(report, x, y, xt, states)


def _train_pair(act, x, y, xt, report):
    """Gradient flow to the end of the initial stage and Adam from the same start."""
    p = get_activation(act).p
    deg = 1 if p is None else p
    net = init.small_gaussian(WIDTH, 1, STD ** 2, activation=act, seed=0)
    if act == "relu" and report.quick:
        sol, stage = None, "skipped with --quick (the exact ReLU flow takes minutes here)"
    else:
        sol, stage = gradient_flow(net, x, y, progress=report.progress)
    res = adam_run(net, x, y, LR, EPOCHS, RECORD, progress=report.progress)
    net_f = net_at_iteration(res, net, FIELD_EPOCH)
    row = {"p": p, "adam_loss_ratio_at_field_epoch":
           float(res.loss[res.iterations == FIELD_EPOCH][0] / res.loss[0]),
           "adam_loss_ratio_at_end": float(res.loss[-1] / res.loss[0]),
           "adam_initial_stage_end_epoch": initial_stage(res).t_end,
           "adam_field_epoch": lines_record(net_f, x, p)[1],
           "adam_end": lines_record(res.net, x, p)[1],
           "adam_polyfit_r2": polyfit_output(res.net, xt, deg).r2}
    st_adam = initial_stage(res)
    if st_adam.reached:
        own = net_at_iteration(res, net, int(st_adam.t_end))
        row["adam_polyfit_r2_at_own_stage_end"] = polyfit_output(own, xt, deg).r2
    n70 = None
    if sol is None:
        row["gradient_flow"] = stage
    else:
        n70 = sol.net_at(stage.t_end)
        row["gradient_flow"] = {"t_initial_stage": stage.t_end, "method": sol.method,
                                "steps": sol.nsteps, "wall_time_s": sol.info["wall_time"],
                                "lines": lines_record(n70, x, p)[1],
                                "polyfit_r2": polyfit_output(n70, xt, deg).r2,
                                "counts_along": counts_along(sol, x, p)}
    return row, {"net0": net, "gf": n70, "adam_field": net_f, "adam_end": res.net, "sol": sol,
                 "res": res}


def _check_output(report, act, p, r2):
    if p is None:
        report.check(f"{act}: the output of the Adam run at epoch {EPOCHS} deviates from a "
                     f"linear function: R^2 of the linear fit (Xu et al. 2021, Fig. 3(d): "
                     f"sharp turning points)", r2, 0.99, "<")
    else:
        report.check(f"{act}: the output of the Adam run at epoch {EPOCHS} is close to a "
                     f"degree-{p} polynomial: R^2 of the fit (Zhou et al. 2022, Fig. 5, Xu et "
                     f"al. 2021, Fig. 3)", r2, 0.99, ">=")


def _check_theory(report, act, p, x, y, st, row, findings):
    """Field lines vs leading-order roots at the start and at the end of the stage."""
    cases = [("initial state", "t0", st["net0"])]
    if st["gf"] is not None:
        cases.append(("end of the initial stage (gradient flow)", "t70", st["gf"]))
    for label, key, state in cases:
        pred, _, cmp = theory_vs_field(state, x, y, act)
        row[f"field_vs_theory_{key}"] = cmp
        if key == "t70":
            row["gradient_flow"]["lines"]["angle_predicted_to_nearest_observed_deg"] = \
                nearest_line_angles(pred.lines, lines_record(state, x, p)[0].lines)
        report.check(f"{act}: at the {label}, the stable lines of the numerically computed "
                     f"direction field match the leading-order roots of Zhou et al.'s (2022) Case "
                     f"2 equation (Zhou et al. 2022, Fig. 6, Prop. 1): largest angle in deg",
                     cmp["max_angle_deg"], 1.0, "<=", detail=cmp)
        report.check(f"{act}: at the {label}, the field has as many stable lines as there are "
                     f"real roots, and they number p (fewer only where roots are complex) "
                     f"(Zhou et al. 2022, Prop. 1): lines missing from the field, and missing "
                     f"from p", [cmp["n_predicted"] - cmp["n_field"],
                                 p - cmp["n_predicted"] - 2 * cmp["complex_root_pairs"]],
                     0, "==", paper=p)
        if cmp["complex_root_pairs"]:
            findings.append(f"{act} at the {label}: {cmp['complex_root_pairs']} pair(s) of "
                            f"complex roots, so {cmp['n_predicted']} line(s) instead of {p}.")
    pred_f, _, cmp_adam = theory_vs_field(st["adam_field"], x, y, act)
    row["field_vs_theory_adam_field_epoch"] = cmp_adam
    row["adam_field_epoch"]["angle_predicted_to_nearest_observed_deg"] = \
        nearest_line_angles(pred_f.lines, lines_record(st["adam_field"], x, p)[0].lines)


def _check_counts(report, act, p, row, findings):
    obs = row["adam_field_epoch"]
    report.check(f"{act}: trained with Adam, the neurons carrying the output lie on p lines "
                 f"at epoch {FIELD_EPOCH} (Zhou et al. 2022, Fig. 6: one, two, three stable lines)",
                 obs["n_lines"], p, "==", paper=p)
    gfr = row["gradient_flow"]
    if not isinstance(gfr, dict):
        return
    report.check(f"{act}: under gradient flow, at most p lines among the neurons carrying the "
                 f"output at the end of the initial stage (Zhou et al. 2022, Prop. 1)",
                 gfr["lines"]["n_lines"], p, "<=", paper=p)
    findings.append(f"{act}: degree-{p} polynomial fit of the output, R^2 = "
                    f"{gfr['polyfit_r2']:.4f} for gradient flow at the end of its initial "
                    f"stage, {row['adam_polyfit_r2']:.6f} for Adam at epoch {EPOCHS}.")


def _figures(report, x, y, xt, states):
    """Outputs with fits, direction fields with neurons and predicted lines, losses."""
    acts = list(states)
    fig, ax = figure(len(acts), 2, width=3.6, height=3.0)
    for c, act in enumerate(acts):
        st = states[act]
        p = get_activation(act).p or 1
        for r, (label, net) in enumerate((("gradient flow, end of initial stage", st["gf"]),
                                          (f"Adam, epoch {EPOCHS}", st["adam_end"]))):
            a = ax[r * len(acts) + c]
            a.plot(x, y, ".", color="tab:green", label="data")
            a.set_xlabel("x")
            a.set_ylabel("f(x)")
            if net is None:
                a.set_title(f"{act}: {label}\n({_skipped(report)})", fontsize=8)
                continue
            fit = polyfit_output(net, xt, p)
            a.plot(xt, fit.output, "-", color="tab:blue", label="network")
            a.plot(xt, fit.fitted, "--", color="tab:red", label=f"degree {p} fit")
            a.set_title(f"{act}: {label}\nR^2 = {fit.r2:.4f}", fontsize=8)
            a.legend(fontsize=6)
    report.figure(fig, "outputs.png")

    smooth = [a for a in acts if get_activation(a).p is not None]
    fig, ax = figure(len(acts), 3, width=3.6, height=3.4)
    for c, act in enumerate(acts):
        st = states[act]
        for r, (label, net) in enumerate((("initial state", st["net0"]),
                                          ("gradient flow, end of stage", st["gf"]),
                                          (f"Adam, epoch {FIELD_EPOCH}", st["adam_field"]))):
            a = ax[r * len(acts) + c]
            if net is None:
                a.set_title(f"{act}: {label} ({_skipped(report)})", fontsize=8)
                a.axis("off")
                continue
            e = net(x) - y
            norms = np.linalg.norm(net.W, axis=1)
            extent = 1.3 * float(np.quantile(norms, 0.9))
            fld = direction_field(x, e, act, extent=extent, points=17)
            lines = predicted_lines(x, e, act).lines if act in smooth else None
            vel = neuron_velocity(net.W, x, e, act) * np.sign(net.a)[:, None]
            fld.plot(a, features=net.W, velocities=vel, lines=lines,
                     title=f"{act}: {label}")
            a.title.set_fontsize(8)
    report.figure(fig, "fields.png")

    fig, ax = figure(2, 1, width=4.6, height=3.4)
    for act in acts:
        st = states[act]
        if st["sol"] is not None:
            t = st["sol"].t
            ax[0].semilogx(t[1:], st["sol"].loss[1:] / st["sol"].loss[0], label=act)
        res = st["res"]
        ax[1].semilogx(np.maximum(res.iterations, 1), res.loss / res.loss[0], label=act)
    for a, lab in ((ax[0], "t (gradient-flow time, mean loss)"),
                   (ax[1], "epoch (full-batch Adam)")):
        a.axhline(0.7, color="k", ls=":", lw=1)
        a.set_xlabel(lab)
        a.set_ylabel("L / L(0)  (0.7: end of the initial stage)")
        a.legend(fontsize=7)
    ax[0].set_title("gradient flow to the end of the initial stage")
    ax[1].set_title("full-batch Adam, lr 5e-4")
    report.figure(fig, "losses.png")
