"""``staircase-init`` (Yang, Zhao & Zhu 2024, Ex. 4.1, Fig. 6): quick and full runs."""

import pytest

pytest.importorskip("torch")

from tests.torch.repro_helpers import run_checked  # noqa: E402


def test_quick(tmp_path):
    run_checked("staircase-init", tmp_path, True,
                ["starts at a higher eps-rank", "at least 10x lower"])


@pytest.mark.slow
def test_full(tmp_path):
    run_checked("staircase-init", tmp_path, False,
                ["starts at a higher eps-rank", "at least 10x lower"])
