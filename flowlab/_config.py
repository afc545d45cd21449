"""Settings read once at import: how numba compiles flowlab's kernels.

``FLOWLAB_NUMBA_CACHE=0`` turns numba's on-disk cache off (useful when the
package directory is read-only).  Of numba's fastmath flags only ``contract``
(fusing a*b + c into one FMA, which rounds once instead of twice) is on: the
kernels must keep IEEE semantics (NaN checks, exact zeros of the ReLU, the
Cody-Waite range reduction of :mod:`flowlab._kernels.vecmath`), which
reassociation or "no NaNs" assumptions would break.
``error_model="numpy"`` makes a float division by zero give inf/nan instead of
raising, which lets LLVM vectorise loops that divide; the kernels never rely
on the exception.

numba's cache tracks each source file on its own: a compiled caller in one file
keeps the callee it was compiled with from another.  After editing a kernel,
delete the ``*.nbi``/``*.nbc`` files under ``flowlab/_kernels/__pycache__``
(an installed copy has fresh file times and recompiles by itself).
"""

import os

NUMBA_CACHE = os.environ.get("FLOWLAB_NUMBA_CACHE", "1") != "0"
NUMBA_OPTIONS = {"cache": NUMBA_CACHE, "fastmath": {"contract"}, "nogil": True,
                 "error_model": "numpy"}
#: options for small helpers that must inline into the kernel loops (so that
#: they vectorise)
INLINE_OPTIONS = dict(NUMBA_OPTIONS, inline="always")
