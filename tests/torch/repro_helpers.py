"""Shared helper of the tests of the PyTorch reproductions (not a test module)."""

import json

CHECK_KEYS = {"what", "paper", "measured", "threshold", "op", "holds"}


def run_checked(name, tmp_path, quick, must_hold):
    """Run reproduction ``name`` and assert the checks whose text contains one of ``must_hold``.

    Every check of the summary is returned; the ones not listed are reported by
    the reproduction (``holds`` true or false) and not asserted here.
    """
    from flowlab.experiments import run
    summary = run(name, out=tmp_path, quick=quick)
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk["name"] == name and on_disk["quick"] is quick
    assert summary["figures"] and all((tmp_path / f).stat().st_size > 0
                                      for f in summary["figures"])
    checks = summary["checks"]
    assert checks and all(CHECK_KEYS <= set(c) <= CHECK_KEYS | {"finding", "detail"}
                          for c in checks)
    for key in must_hold:
        hits = [c for c in checks if key in c["what"]]
        assert hits, f"no check mentions {key!r}"
        failing = [c for c in hits if not c["holds"]]
        assert not failing, failing
    return summary
