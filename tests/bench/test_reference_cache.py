"""The reference is cached on disk, reused, and recomputed when the problem changes."""

import dataclasses

import numpy as np
import pytest

import flowlab as fl
import flowlab.bench as flb
from flowlab.bench import setups as _setups


def _small(**change):
    x = np.linspace(-1.0, 1.0, 12)
    net = fl.init.xavier(3, 1, activation="tanh", seed=2)
    inst = flb.Instance(name="tiny", quick=True, t_end=1.0, loss="sum", net=net, x=x,
                        y=np.cos(2 * x), lrs=(0.001,), t_first=0.05,
                        reference=("Radau", "DOP853"))
    return dataclasses.replace(inst, **change) if change else inst


def test_cached_reference_reused_and_invalidated(tmp_path, monkeypatch):
    first = flb.get_reference(_small(), tmp_path)
    assert not first.cached and first.note == "computed and stored"
    assert first.method == "Radau" and first.second["method"] == "DOP853"
    assert first.agreement()["final"] < 1e-10
    calls = []
    real = _setups.SETUPS["Radau"].run

    def counting(*args):
        calls.append(1)
        return real(*args)
    monkeypatch.setitem(_setups.SETUPS, "Radau", dataclasses.replace(_setups.SETUPS["Radau"],
                                                                     run=counting))
    again = flb.get_reference(_small(), tmp_path)
    assert again.cached and "reused" in again.note and not calls
    np.testing.assert_array_equal(again.theta, first.theta)
    assert again.second is not None
    np.testing.assert_array_equal(again.second["theta"], first.second["theta"])
    # the problem changes (other targets, another span): recomputed, cache rewritten
    changed = _small(y=np.cos(2 * np.linspace(-1.0, 1.0, 12)) + 1e-3)
    fresh = flb.get_reference(changed, tmp_path)
    assert not fresh.cached and "invalidated" in fresh.note and calls
    assert np.abs(fresh.theta - first.theta).max() > 1e-6
    n = len(calls)
    assert flb.get_reference(changed, tmp_path).cached and len(calls) == n
    longer = flb.get_reference(_small(t_end=1.5), tmp_path)
    assert not longer.cached and "invalidated" in longer.note
    # use_cache=False neither reads nor writes
    assert not flb.get_reference(_small(t_end=1.5), tmp_path, use_cache=False).cached


def test_reference_that_cannot_finish_is_an_error(tmp_path):
    inst = _small(reference=("exact",))
    with pytest.raises(RuntimeError, match="no reference method"):
        flb.get_reference(inst, tmp_path)
