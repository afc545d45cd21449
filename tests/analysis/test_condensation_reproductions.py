"""The ``condense-1d`` and ``condense-5d`` reproductions (quick in the default suite, full
sizes with --runslow).

Their summaries report every check, including the ones that do not hold (for
instance where Adam and gradient flow condense differently); these tests
require the theory checks to hold, every count to come with the amplitude
distribution behind it, and the comparison of the two trainings to be stated.
"""

import json

import pytest

from flowlab.experiments import run

CHECK_KEYS = {"what", "paper", "measured", "threshold", "op", "holds"}


def _common(tmp_path, name, quick):
    summary = run(name, out=tmp_path, quick=quick)
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk["name"] == name and on_disk["quick"] is quick
    assert on_disk["checks"] == summary["checks"] and summary["checks"]
    assert summary["figures"] and all((tmp_path / f).stat().st_size > 0
                                      for f in summary["figures"])
    for c in summary["checks"]:
        assert CHECK_KEYS <= set(c) <= CHECK_KEYS | {"finding", "detail"}
        assert isinstance(c["holds"], bool)
    assert summary["all_hold"] == all(c["holds"] for c in summary["checks"] if "finding" not in c)
    return summary


def _has_amplitudes(rec, width, threshold):
    """A count comes with the distribution behind it: carriers = amplitudes above threshold."""
    amp = rec["amplitude_relative_sorted"]
    assert len(amp) == width and amp[0] == 1.0 and amp == sorted(amp, reverse=True)
    assert rec["n_carriers"] == sum(a >= threshold for a in amp)
    assert 1 <= rec["n_lines"] <= rec["n_carriers"]


def _check_1d(tmp_path, quick):
    s = _common(tmp_path, "condense-1d", quick)
    theory = [c for c in s["checks"] if "leading-order roots" in c["what"]]
    assert len(theory) == 6                      # 3 activations x (initial state, stage end)
    failing = [c["what"] for c in theory if not c["holds"]]
    assert not failing, failing
    acts, thr = s["data"]["activations"], s["data"]["amplitude_threshold"]
    for act in ("tanh", "xtanh", "x2tanh"):
        row = acts[act]
        _has_amplitudes(row["adam_field_epoch"], 100, thr)
        _has_amplitudes(row["gradient_flow"]["lines"], 100, thr)
        assert row["gradient_flow"]["t_initial_stage"] > 0
        assert any(f.startswith(f"{act} (p = ") and ("agree" in f or "DIFFER" in f)
                   for f in s["data"]["observations"])
    assert "skipped" in acts["relu"]["gradient_flow"] if quick else \
        "lines" in acts["relu"]["gradient_flow"]


def _check_5d(tmp_path, quick):
    s = _common(tmp_path, "condense-5d", quick)
    limit = [c for c in s["checks"] if "as the initialisation shrinks" in c["what"]]
    assert len(limit) == 3
    failing = [c["what"] for c in limit if not c["holds"]]
    assert not failing, failing
    acts, thr = s["data"]["activations"], s["data"]["amplitude_threshold"]
    assert set(acts) == {"tanh", "xtanh", "x2tanh", "sigmoid", "softplus", "relu"}
    for act, row in acts.items():
        _has_amplitudes(row["adam"], 50, thr)
        if isinstance(row["gradient_flow"], dict):
            _has_amplitudes(row["gradient_flow"]["lines"], 50, thr)
    for act in acts:
        assert any(f.startswith(act) and ("agree" in f or "DIFFER" in f or "not computed" in f)
                   for f in s["data"]["observations"])
    computed = [a for a, row in acts.items() if isinstance(row["gradient_flow"], dict)]
    assert set(computed) == (set(acts) if not quick else {"tanh", "xtanh", "sigmoid",
                                                          "softplus", "relu"})
    relu = acts["relu"]["gradient_flow"]           # the general exact engine, d = 5
    for act, row in acts.items():
        runs = row.get("adam_other_runs")
        assert (runs is None) if quick else (len(runs["n_lines"]) == 8 and
                                             0 <= runs["at_most_limit"] <= 8)
    for act in ("tanh", "sigmoid", "softplus"):
        draws = acts[act].get("other_data_draws")
        assert (draws is None) if quick else (len(draws["deg"]) == draws["draws"] == 8)
    assert relu["lines"]["n_carriers"] > 0 and relu["t_initial_stage"] > 0


def test_condense_1d_quick(tmp_path):
    _check_1d(tmp_path, quick=True)


def test_condense_5d_quick(tmp_path):
    _check_5d(tmp_path, quick=True)


@pytest.mark.slow
def test_condense_1d_full(tmp_path):
    _check_1d(tmp_path, quick=False)


@pytest.mark.slow
def test_condense_5d_full(tmp_path):
    _check_5d(tmp_path, quick=False)
