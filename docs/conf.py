"""Sphinx configuration of flowlab's documentation.

Build:  sphinx-build -W -b html docs docs/_build/html
(pip install ".[docs]"; the gallery pages embed figures and check tables from
``python docs/run_gallery.py``, which runs every reproduction in quick mode).
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))
os.environ.setdefault("MPLBACKEND", "Agg")

import flowlab  # noqa: E402

project = "flowlab"
author = "the flowlab developers"
copyright = "the flowlab developers"
release = version = flowlab.__version__

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.autosummary",
              "sphinx.ext.napoleon", "sphinx.ext.mathjax", "sphinx.ext.viewcode",
              "flowlab_gallery", "flowlab_docstrings"]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "_gallery", "Thumbs.db", ".DS_Store"]
myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath"]

# numpydoc-style docstrings through napoleon
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": False}
autosummary_generate = False

try:                                     # the PyTorch bridge is an optional extra
    import torch  # noqa: F401
    HAS_TORCH = True
except ImportError:
    HAS_TORCH = False
    autodoc_mock_imports = ["torch"]

html_theme = "furo"
html_title = f"flowlab {release}"
html_static_path = ["_static"]
html_css_files = ["flowlab.css"]
suppress_warnings = ["myst.header", "ref.python"]
