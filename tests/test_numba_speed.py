"""The two shortcuts in numba's compiler (flowlab._numba_speed): the same answers as numba's
own code, and the same machine code."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from numba.core import inline_closurecall, ir, targetconfig
from numba.core.compiler import Flags

import flowlab  # noqa: F401  (installs the shortcuts)
from flowlab import _numba_speed

ROOT = Path(__file__).resolve().parents[1]


def _reference_values(flags):
    """numba's TargetConfig.values: every option through its property."""
    return {k: getattr(flags, k) for k in flags.options}


def _some_flags():
    a = Flags()
    b = Flags()
    b.nrt = True
    b.no_cpython_wrapper = True
    c = Flags()
    c.nrt = Flags.options["nrt"].default         # set explicitly to its default
    d = Flags(copy_from=b)
    e = Flags()
    e.fastmath = {"contract"}
    return [a, b, c, d, e]


def test_flags_compare_and_hash_as_numba_defines_them():
    assert _numba_speed.install()
    assert getattr(targetconfig.TargetConfig.__eq__, "_flowlab", False)
    flags = _some_flags()
    for x in flags:
        assert x.values() == _reference_values(x)
        assert list(x.values()) == list(_reference_values(x))      # same order
        assert hash(x) == hash(tuple(sorted(_reference_values(x))))
        for y in flags:
            assert (x == y) == (_reference_values(x) == _reference_values(y))
    a, b, c, d, e = flags
    assert a == c and b == d and a != b and a != e       # both paths of __eq__ taken


def test_inline_copy_shares_one_scope_copy_only_while_inlining():
    """Outside numba's inlining a deep copy of a block copies its scope as before; the
    shortcut is active inside InlineWorker.inline_ir only."""
    import copy
    assert getattr(inline_closurecall.InlineWorker.inline_ir, "_flowlab", False)
    loc = ir.Loc("f", 1)
    scope = ir.Scope(None, loc)
    v = scope.define("v", loc)
    blocks = [ir.Block(scope, loc) for _ in range(2)]
    for blk in blocks:
        blk.append(ir.Assign(ir.Const(1.0, loc), v, loc))
    c0, c1 = (copy.deepcopy(blk) for blk in blocks)
    assert c0.scope is not scope and c0.scope is not c1.scope
    assert c0.scope.localvars.get("v").name == "v"
    assert c0.body[0].target.scope is c0.scope


_SAME_CODE = """
import hashlib, numpy as np, numba as nb, flowlab
from numba.core import ir
from flowlab import _numba_speed
import flowlab._kernels.activations as A
shared = [0]
scope_copy = getattr(ir.Scope, "__deepcopy__", None)
def counting(self, memo):
    active = getattr(_numba_speed._LOCAL, "scopes", None)
    shared[0] += active is not None and id(self) in active
    return scope_copy(self, memo)
if scope_copy is not None:         # the shortcut is installed
    ir.Scope.__deepcopy__ = counting

@nb.njit(inline="always")
def inner(a):                      # several blocks: a loop and a branch
    s = 0.0
    for i in range(a.size):
        if a[i] > 0.0:
            s += a[i]
        else:
            s -= 2.0 * a[i]
    return s

@nb.njit
def outer(a):
    return inner(a) + inner(a[::2])

outer(np.linspace(-1.0, 1.0, 5))
z = np.linspace(-2, 2, 7); v = np.empty(7); d = np.empty(7); w = np.empty(7)
for code in range(len(A.NAMES)):
    A.act_block(code, z, 7, v, d, w)
digest = []
for disp in (outer, A.act_block):
    sig = disp.signatures[0]
    digest += [hashlib.md5(disp.inspect_llvm(sig).encode()).hexdigest(),
               hashlib.md5(disp.inspect_asm(sig).encode()).hexdigest()]
print(_numba_speed.install(), shared[0], *digest)
"""


def test_same_machine_code_with_and_without_the_shortcuts():
    """A kernel that inlines a function of several blocks, and the activations' block
    kernel, compile to the same LLVM IR and assembly with the shortcuts as without them
    (and with them, block copies did share a scope copy)."""
    outs = {}
    for on in ("0", "1"):
        env = dict(os.environ, FLOWLAB_NUMBA_SHORTCUTS=on, FLOWLAB_NUMBA_CACHE="0",
                   FLOWLAB_PREFETCH="0",
                   PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get(
                       "PYTHONPATH")) if p))
        out = subprocess.run([sys.executable, "-c", _SAME_CODE], env=env, capture_output=True,
                             text=True, timeout=600)
        assert out.returncode == 0, out.stderr
        outs[on] = out.stdout.split()
    assert outs["0"][:2] == ["False", "0"]
    assert outs["1"][0] == "True" and int(outs["1"][1]) > 0
    assert outs["0"][2:] == outs["1"][2:] and len(outs["1"]) == 6
    assert hashlib.md5(b"").hexdigest() not in outs["1"]
