"""``condense-deep`` (Zhou et al. 2022, Fig. 4): per-layer line counts against 3, 2, 1, 1, 1."""

import pytest

pytest.importorskip("torch")
pytest.importorskip("flowlab.analysis.condensation")

from tests.torch.repro_helpers import run_checked  # noqa: E402


def test_quick(tmp_path):
    s = run_checked("condense-deep", tmp_path, True,
                    ["hidden layer 3 (sigmoid", "hidden layer 4 (tanh", "initial stage"])
    rows = s["data"]["init_seed_0"]
    assert [r["layer"] for r in rows] == [1, 2, 3, 4, 5]
    # every layer's count is reported against the paper's, whether it matches or not
    counts = [c for c in s["checks"] if "the paper's number of lines" in c["what"]]
    assert [c["paper"] for c in counts] == [3, 2, 1, 1, 1]


@pytest.mark.slow
def test_full(tmp_path):
    run_checked("condense-deep", tmp_path, False, ["hidden layer 3 (sigmoid", "initial stage"])
