"""Thread control: small networks run fastest on one PyTorch thread.

PyTorch parallelises every elementwise op and matrix product over its
intra-op threads; for the small tensors of the papers' networks (a few
thousand entries) the synchronisation costs more than it saves, badly so on
a shared machine.  The reproductions run inside :func:`torch_threads`.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch

from flowlab import _validate as v

__all__ = ["torch_threads"]


@contextmanager
def torch_threads(n: int = 1):
    """Run the block with ``n`` intra-op PyTorch threads, then restore the old number.

    Examples
    --------
    >>> import torch
    >>> from flowlab.torch.threads import torch_threads
    >>> before = torch.get_num_threads()
    >>> with torch_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    n = v.check_int(n, "n", minimum=1)
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)
