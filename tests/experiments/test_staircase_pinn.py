"""``staircase-pinn`` (Yang, Zhao & Zhu 2024, Ex. 4.2, Fig. 7): quick and full runs."""

import pytest

pytest.importorskip("torch")

from tests.torch.repro_helpers import run_checked  # noqa: E402


def test_quick(tmp_path):
    s = run_checked("staircase-pinn", tmp_path, True, ["starts at a higher eps-rank"])
    assert 0 < s["data"]["udi"]["relative_l2_error"] < 1


@pytest.mark.slow
def test_full(tmp_path):
    run_checked("staircase-pinn", tmp_path, False, ["starts at a higher eps-rank"])
