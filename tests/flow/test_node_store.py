"""The store of the exact engines' dense-output nodes: rows appended in order, read back
exactly, with or without growing in place."""

import numpy as np
import pytest

from flowlab._flow import _events


@pytest.mark.parametrize("in_place", [True, False])
def test_rows_come_back_in_order_across_growth(monkeypatch, in_place):
    monkeypatch.setattr(_events, "_GROWS_IN_PLACE", in_place)
    store, pieces, rng = _events.NodeStore(), [], np.random.default_rng(0)
    for i in range(400):                       # grows many times past its first size
        k, q = int(rng.integers(1, 5)), int(rng.integers(2, 6))
        block = rng.normal(size=(k, 6, 700))[:, :q]          # strided, like the buffers
        store.append(block)
        pieces.append(block.reshape(-1, 700))
        if i == 200:
            early = store.since(0)
    rows = store.take(700)
    expected = np.concatenate(pieces)
    assert np.array_equal(rows, expected) and np.array_equal(early, expected[:len(early)])
    assert store.used == 0 and store.take(700).shape == (0, 700)
    rows[0, 0] = 1.5                            # the Solution owns a writable array
    assert rows[0, 0] == 1.5
