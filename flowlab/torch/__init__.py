"""PyTorch bridge: gradient flows and training of deep networks, with per-layer probes.

An optional part of flowlab (``pip install "flowlab[torch]"``, which pins
torch==2.13.0).  It brings flowlab's float64 gradient flows to any
``torch.nn.Module`` and the deep experiments of Yang, Zhao & Zhu 2024 and Zhou et al. 2022:

- :func:`flow`: d theta/dt = -grad L(theta) for a module's flat parameters on
  scipy's solvers (exact Hessian from torch.func for the implicit ones),
  returning a :class:`TorchSolution` (flowlab's ``Solution``, with
  ``sol.net_at(t)`` rebuilding the module at any time);
- :func:`train`: gradient descent, SGD or Adam with recording and probes,
  returning a :class:`TorchTrainResult` (flowlab's ``TrainResult``);
- probes (:class:`HiddenFeatures`, :class:`LayerSpectra`, :class:`InputWeights`,
  :class:`Output`) and per-layer analyses (:func:`layer_rank_histories`,
  :func:`layer_orientations`, :func:`layer_cosine_maps`);
- the papers' networks (:func:`mlp`, :func:`resnet`, :func:`residual_net`,
  :class:`DeepNet`), losses (:class:`MSELoss`, :class:`CrossEntropyLoss`,
  :class:`PoissonLoss`) and initialisations (:func:`init_default`,
  :func:`init_xavier`, :func:`init_deterministic`, :func:`init_uniform_density`,
  :func:`init_gaussian`).

Conventions: float64; ``MSELoss(loss="sum")`` is L = 1/2 sum r^2 and
``loss="mean"`` is L = 1/(2m) sum r^2; flow time t = learning rate x
iterations of gradient descent on the same loss.

Examples
--------
>>> import numpy as np
>>> import flowlab.torch as flt
>>> x = np.linspace(-1, 1, 50)
>>> net = flt.init_default(flt.mlp(1, 10, 2, "tanh"), seed=0)
>>> sol = flt.flow(net, flt.MSELoss(x, np.cos(3 * x)), 2.0, rtol=1e-8, atol=1e-10)
>>> bool(sol.loss[-1] < sol.loss[0])
True
"""

try:
    import torch as _torch  # noqa: F401  (PyTorch: absolute import, not this package)
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "flowlab.torch needs PyTorch, an optional extra of flowlab: install it with "
        '`pip install "flowlab[torch]"` (or `pip install torch==2.13.0`).') from exc

from flowlab.torch.activations import torch_activation
from flowlab.torch.flat import FlatModule, flatten, load_flat
from flowlab.torch._flow import METHODS, TorchSolution, flow
from flowlab.torch.init import (init_default, init_deterministic, init_gaussian,
                                init_uniform_density, init_xavier)
from flowlab.torch.layers import (layer_cosine_maps, layer_networks, layer_orientations,
                                  layer_rank_histories)
from flowlab.torch.losses import CrossEntropyLoss, MSELoss
from flowlab.torch.nets import DeepNet, from_twolayer, mlp, residual_net, resnet, twolayer_order
from flowlab.torch.pinn import PoissonLoss, laplacian
from flowlab.torch.probes import (HiddenFeatures, InputWeights, LayerSpectra, Output, Probe,
                                  ProbeRecord, hidden_features, input_weights)
from flowlab.torch.threads import torch_threads
from flowlab.torch._train import OPTIMIZERS, TorchTrainResult, train

__all__ = ["flow", "TorchSolution", "METHODS", "train", "TorchTrainResult", "OPTIMIZERS",
           "FlatModule", "flatten", "load_flat", "DeepNet", "mlp", "resnet", "residual_net",
           "from_twolayer", "twolayer_order", "torch_activation", "MSELoss",
           "CrossEntropyLoss", "PoissonLoss", "laplacian", "init_default", "init_deterministic",
           "init_uniform_density", "init_gaussian", "init_xavier", "Probe", "HiddenFeatures",
           "LayerSpectra",
           "InputWeights", "Output", "ProbeRecord", "hidden_features", "input_weights",
           "layer_rank_histories", "layer_networks", "layer_orientations", "layer_cosine_maps",
           "torch_threads"]
