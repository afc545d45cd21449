"""``staircase-digits`` (Yang, Zhao & Zhu 2024, Ex. 2.2, 8x8 digits for MNIST): quick and full."""

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

from tests.torch.repro_helpers import run_checked  # noqa: E402


def test_quick(tmp_path):
    s = run_checked("staircase-digits", tmp_path, True,
                    ["the loss falls while the rank grows", "learns the digits"])
    assert "MNIST" in s["data"]["settings"]["data"]


@pytest.mark.slow
def test_full(tmp_path):
    run_checked("staircase-digits", tmp_path, False,
                ["the loss falls while the rank grows", "learns the digits"])
