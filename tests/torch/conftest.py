"""Shared set-up of the bridge's tests; collects (and skips them) without PyTorch too."""

import pytest

try:
    import torch
except ImportError:                  # the tests of this folder skip themselves
    torch = None


@pytest.fixture(autouse=True)
def _one_thread():
    """One intra-op thread: the tests' tensors are small and the machines shared."""
    if torch is None:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
