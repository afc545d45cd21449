import os

# many small dense solves: BLAS threads only contend for the cores (set before numpy loads)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
# every figure a reproduction saves must label its axes (flowlab.plotting.figure_problems):
# in the test suite a problem is an error, so each quick run the suite makes checks them
os.environ["FLOWLAB_STRICT_FIGURES"] = "1"

import matplotlib  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")

# Deterministic property tests: every run (a developer's, `.ci/run`'s) draws the same
# examples (derandomize), remembers nothing between runs (no example database) and has no
# per-example deadline (timings are not assertions; numba compiles on first use).  "ci" is
# the profile Hypothesis loads by itself when it detects a CI service; "explore" draws
# fresh examples: `pytest --hypothesis-profile=explore --hypothesis-seed=N`.
settings.register_profile("flowlab", derandomize=True, database=None, deadline=None)
settings.register_profile("ci", parent=settings.get_profile("flowlab"))
settings.register_profile("explore", derandomize=False, database=None, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "flowlab"))


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False,
                     help="also run the full-size reproductions marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="full-size run: use --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def dask_client():
    """One local dask cluster of two worker processes, shared by the sweep tests."""
    import logging
    pytest.importorskip("distributed")
    pytest.importorskip("xarray")
    pytest.importorskip("zarr")
    from distributed import Client, LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0", silence_logs=logging.CRITICAL) as cluster, \
            Client(cluster) as client:
        yield client
