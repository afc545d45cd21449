"""``staircase-fit`` (Yang, Zhao & Zhu 2024, Ex. 2.1): quick by default, full with --runslow."""

import pytest

pytest.importorskip("torch")

from tests.torch.repro_helpers import run_checked  # noqa: E402


def test_quick(tmp_path):
    s = run_checked("staircase-fit", tmp_path, True,
                    ["rises in distinct steps", "aligned with a fast drop"])
    d = s["data"]["case_d"]
    assert d["rank_end"][-1] > d["rank_start"][-1]


@pytest.mark.slow
def test_full(tmp_path):
    s = run_checked("staircase-fit", tmp_path, False,
                    ["Fig. 2(d) L = 4, n = 25: the last layer", "Fig. 2(b): the shallow",
                     "once the neurons become (nearly) fully independent"])
    rows = s["data"]["case_a_initialisations"]
    assert [r["init_seed"] for r in rows] == [0, 1, 2, 3]
    assert all(len(r["steps"]) == len(r["rate_over_tread"]) for r in rows)
