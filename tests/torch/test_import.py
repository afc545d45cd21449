"""flowlab without PyTorch: the package imports and the bridge says how to install it.

Runs with and without PyTorch installed: where it is, an import hook hides it.
"""

import subprocess
import sys

_SCRIPT = """
import sys


class NoTorch:                       # as if PyTorch were not installed (a no-op where it is not)
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r}")


sys.meta_path.insert(0, NoTorch())
import flowlab
from flowlab.experiments import names
assert "staircase-fit" in names()    # the reproductions register without torch
try:
    import flowlab.torch
except ImportError as exc:
    print(exc)
else:
    raise SystemExit("flowlab.torch imported without torch")
"""


def test_flowlab_imports_without_torch_and_the_bridge_explains():
    out = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert 'pip install "flowlab[torch]"' in out.stdout
    assert "torch==2.13.0" in out.stdout
