"""Order estimates and the claims each work-precision run checks about itself.

Each check is ``{"what", "measured", "holds"}`` as in the reproductions'
summaries: a check that does not hold stays in the output with
``"holds": false``.
"""

from __future__ import annotations

import numpy as np

from .measures import errors_fall, loglog_slope
from .setups import CLASSICAL_FAMILIES

__all__ = ["setup_orders", "checks_for", "error_floor", "EXACT_TARGET"]

#: the accuracy the exact engine must reach on a ReLU problem (and classical setups cannot)
EXACT_TARGET = 1e-8
#: GD is first order when its log-log slope against lr lies in this interval
FIRST_ORDER = (0.8, 1.25)


def error_floor(result: dict) -> float:
    """Errors at or below this are at the reference's own accuracy (excluded from fits)."""
    agree = (result["reference"].get("second_method") or {}).get("agreement") or {}
    return max(1e-12, 10.0 * float(agree.get("final") or 0.0))


def _finished(result, name):
    rows = [r for r in result["rows"] if r["setup"] == name]
    return rows, [r for r in rows if r["status"] == "finished" and np.isfinite(r["error"])]


def setup_orders(result: dict) -> dict:
    """Per setup: log-log slopes of its finished rows above the error floor.

    ``order_lr`` (GD, Adam): slope of log error against log lr (1 = first order).
    ``order_nfev`` (adaptive): minus the slope of log error against log nfev,
    the order the setup shows per unit of work; ``tolerance_slope``: slope of
    log error against log rtol (1 = error proportional to the tolerance).
    """
    floor = error_floor(result)
    out = {}
    for name in dict.fromkeys(r["setup"] for r in result["rows"]):
        _, fin = _finished(result, name)
        if not fin:
            continue
        err = [r["error"] for r in fin]
        if fin[0]["sweep"] == "lr":
            lrs = [r["lr"] for r in fin]
            out[name] = {"order_lr": loglog_slope(lrs, err, floor),
                         "order_lr_two_smallest": loglog_slope(lrs[-2:], err[-2:], floor),
                         "order_lr_dense_max": loglog_slope(
                             [r["lr"] for r in fin], [r["error_dense_max"] for r in fin], floor)}
        else:
            s = loglog_slope([r["nfev"] for r in fin], err, floor)
            out[name] = {"order_nfev": -s if np.isfinite(s) else s,
                         "tolerance_slope": loglog_slope([r["tol"] for r in fin], err, floor)}
        out[name]["points"] = len(fin)
        out[name]["best_error"] = float(min(err))
    return out


def checks_for(result: dict, inst) -> list:
    """The checks of one run (see the module docstring)."""
    checks = []
    floor = error_floor(result)
    sec = result["reference"].get("second_method") or {}
    if sec.get("method"):
        agree = sec["agreement"]
        checks.append({"what": f"the reference ({result['reference']['method']}, rtol 1e-13) "
                               f"agrees with a second method ({sec['method']}, rtol 1e-13) to "
                               "1e-9 relative at t_end and at every measurement time",
                       "measured": agree, "holds": max(agree.values()) <= 1e-9})
    # errors fall as tolerances tighten
    falls, seqs = {}, {}
    for name in dict.fromkeys(r["setup"] for r in result["rows"]):
        rows, fin = _finished(result, name)
        if rows[0]["sweep"] != "tol" or len(fin) < 2:
            continue
        seqs[name] = [r["error"] for r in fin]
        falls[name] = errors_fall(seqs[name], floor)
    if falls:
        bad = [k for k, v in falls.items() if not v]
        checks.append({"what": "errors fall as tolerances tighten, for every adaptive setup "
                               f"that finishes at two or more tolerances (each error at most "
                               f"1.1 x the previous one, or both below {floor:.1g}, the "
                               "reference's accuracy)",
                       "measured": {"errors_by_setup": seqs, "not_falling": bad},
                       "holds": not bad})
    # gradient descent is first order in lr
    gd = result["orders"].get("gd", {})
    if gd.get("order_lr") is not None:
        kind = "ReLU flow with kinks: reported" if inst.relu else "smooth flow"
        fine = gd["order_lr_two_smallest"]
        checks.append({"what": f"gradient descent's final-time error is first order in the "
                               f"learning rate: log-log slope between the two smallest learning "
                               f"rates in [{FIRST_ORDER[0]}, {FIRST_ORDER[1]}] ({kind})",
                       "measured": {"slope_two_smallest": fine, "slope_all_rungs":
                                    gd["order_lr"]},
                       "holds": bool(np.isfinite(fine) and
                                     FIRST_ORDER[0] <= fine <= FIRST_ORDER[1])})
    if inst.relu:
        checks += _relu_checks(result)
    ex = result["reference"].get("error_vs_closed_form")
    if ex is not None:
        checks += _closed_form_checks(result, ex)
    return checks


def _best(result, name):
    rows, fin = _finished(result, name)
    if fin:
        return float(min(r["error"] for r in fin))
    return None


def _relu_checks(result):
    orders = result["rows"]
    exact = {r["setup"] for r in orders if r["family"] == "exact"}
    classical = {r["setup"] for r in orders if r["family"] in CLASSICAL_FAMILIES}
    best_exact = {k: _best(result, k) for k in sorted(exact)}
    reached = [v for v in best_exact.values() if v is not None]
    out = [{"what": f"the exact engine reaches an error <= {EXACT_TARGET:g} (best error over "
                    "its tolerances)", "measured": best_exact,
            "holds": bool(reached) and min(reached) <= EXACT_TARGET}]
    best_cl = {}
    for k in sorted(classical):
        b = _best(result, k)
        if b is None:
            statuses = sorted({r["status"] for r in orders if r["setup"] == k})
            best_cl[k] = f"never finished ({', '.join(statuses)})"
        else:
            best_cl[k] = b
    if not best_cl:
        return out
    out.append({"what": f"no classical setup (scipy, compiled explicit, bridge, peers) reaches "
                        f"an error <= {EXACT_TARGET:g} at any tolerance: best error of each",
                "measured": best_cl,
                "holds": all(isinstance(v, str) or v > EXACT_TARGET for v in best_cl.values())})
    return out


def _closed_form_checks(result, ref_err):
    out = [{"what": "the reference agrees with the closed-form flow to 1e-10 relative at "
                    "every measurement time (the second method's distances are listed too)",
            "measured": ref_err,
            "holds": max(ref_err["final"], ref_err["dense_max"]) <= 1e-10}]
    diffs, excess, rel = [], [], []
    for r in result["rows"]:
        ec, er = r.get("error_closed_form"), r.get("error")
        if ec is None or er is None or not np.isfinite(er) or not np.isfinite(ec):
            continue
        own = r.get("reference") == result["reference"]["method"]
        delta = ref_err["final"] if own or "final_second" not in ref_err \
            else ref_err["final_second"]
        # triangle inequality: |e_ref - e_closed| <= the reference's own error (to rounding)
        diffs.append(abs(er - ec))
        excess.append(abs(er - ec) - (1.5 * delta + 1e-6 * ec))
        if ec >= 1e-8:
            rel.append(abs(er - ec) / ec)
    out.append({"what": "errors against the reference equal the errors against the closed form "
                        "up to the reference's own error (|e_ref - e_closed| <= 1.5 x the "
                        "reference's error + 1e-6 e_closed, every finished row)",
                "measured": {"rows_compared": len(diffs),
                             "max_abs_difference": max(diffs, default=None),
                             "max_relative_difference_where_error_ge_1e-8": max(rel,
                                                                                default=None)},
                "holds": bool(diffs) and max(excess) <= 0.0})
    return out
