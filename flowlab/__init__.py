"""flowlab: exact, continuous-time studies of neural-network training.

The gradient flow d theta/dt = -grad L(theta) of two-layer networks as an
explicit ODE, integrated with scipy's solvers or, for ReLU networks, with an
event-driven Filippov integrator; analyses of plateaus, condensation,
effective rank and Gram spectra; training baselines.

>>> import flowlab as fl
>>> net = fl.ReLU1D(b=[0.0], c=[1.0])
"""

from . import (_compile, _numba_speed, _prefetch, activations, analysis, init, population,
               sweep, train)
from ._version import __version__
from .analysis import eps_rank
from ._flow import METHODS, LossRiseWarning, Solution, default_method, flow, load
from ._resume import resume
from .models import ReLU1D, TwoLayer
from .fixed_points import RefineResult, refine
from .train import anls, anls_candidates

__all__ = ["__version__", "ReLU1D", "TwoLayer", "flow", "resume", "load", "Solution",
           "METHODS", "eps_rank", "anls", "anls_candidates", "activations", "analysis", "init",
           "train", "population", "refine", "RefineResult", "sweep", "default_method",
           "LossRiseWarning"]

_compile.install_notice()       # one line when the first kernel of a process is compiled
_compile.tolerate_stale_cache()  # an index written by another flowlab version: compile again
_prefetch.lock_cache_writes()    # a second process may write the cache (cold first runs)
_numba_speed.install()           # two shortcuts in numba's compiler (same machine code)
