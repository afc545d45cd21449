"""``resnet-vs-mlp`` (Yang, Zhao & Zhu 2024, Ex. 4.4, Figs. 9-10): quick and full runs."""

import pytest

pytest.importorskip("torch")

from tests.torch.repro_helpers import run_checked  # noqa: E402


def test_quick(tmp_path):
    s = run_checked("resnet-vs-mlp", tmp_path, True, ["starts at a higher eps-rank"])
    assert len(s["data"]["resnet"]["rank_end"]) == 4


@pytest.mark.slow
def test_full(tmp_path):
    run_checked("resnet-vs-mlp", tmp_path, False, ["starts at a higher eps-rank"])
