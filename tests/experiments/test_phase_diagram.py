"""``phase-diagram`` (Luo et al. 2021): the quick mode's checks on the shared
two-worker cluster, and the resumed sweep."""

import numpy as np
import pytest

pytest.importorskip("distributed")
pytest.importorskip("xarray")
pytest.importorskip("zarr")

import dask  # noqa: E402

from flowlab import experiments  # noqa: E402


def test_quick(tmp_path, dask_client):
    with dask.config.set({"scheduler-address": dask_client.scheduler.address}):
        s = experiments.run("phase-diagram", out=tmp_path, quick=True)
        again = experiments.run("phase-diagram", out=tmp_path, quick=True)
    failed = [c for c in s["checks"] if not c["holds"]]
    assert not failed, failed
    whats = " | ".join(c["what"] for c in s["checks"])
    for claim in ("NTK scaling", "mean-field scaling", "gamma = 1.75", "sign of S_w changes",
                  "gradient descent"):
        assert claim in whats
    d = s["data"]
    assert d["sweep"]["relu"]["points"] == 27 and d["sweep"]["finite"]["points"] == 18
    assert d["failed"] == {"relu": 0, "tanh": 0, "xtanh": 0}
    assert set(d["slopes"]) == {"relu", "tanh", "xtanh"}
    relu = np.array(d["slopes"]["relu"]["S_w"], dtype=float)
    # gamma' = -0.5, gamma = 1: widths 316 and 1000 stop "degenerate" (a neuron collapses
    # on the data point x = 1/2, docs/sweeps.md), so that one slope is undefined
    assert relu.shape == (3, 3)
    assert np.argwhere(~np.isfinite(relu)).tolist() == [[0, 1]]
    assert d["not_reached"]["relu"] == 2
    assert np.array(d["slopes"]["tanh"]["S_w"], dtype=float).shape == (1, 3)
    assert (tmp_path / "phase_diagram.png").stat().st_size > 0
    assert (tmp_path / "rd_vs_width.png").stat().st_size > 0
    # the second run resumes the stored sweep: nothing recomputed, the same verdicts
    for part, n in (("relu", 27), ("finite", 18)):
        assert again["data"]["sweep"][part]["already_done"] == n
        assert again["data"]["sweep"][part]["computed"] == 0
    assert [c["measured"] for c in again["checks"]] == [c["measured"] for c in s["checks"]]


@pytest.mark.slow
def test_full(tmp_path):
    s = experiments.run("phase-diagram", out=tmp_path, quick=False)
    assert s["data"]["failed"] == {"relu": 0, "tanh": 0, "xtanh": 0}
    assert len(s["checks"]) == 5
