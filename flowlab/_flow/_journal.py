"""Checkpoints of a running flow: an append-only journal beside the result file.

``flow(..., save="run.npz")`` writes ``run.npz.journal`` while it runs and
``run.npz`` (compressed, written once, atomically) when it ends; the journal
is then removed.  The journal holds

- a *head* record: the solution at the start time (network, data, options:
  everything but the trajectory), and, for a resumed run, a *prefix* record
  with the whole solution it continues;
- one *chunk* record per checkpoint: only the output rows, dense-output steps
  and events since the previous checkpoint, with the latest final state,
  counters and stage table.

So a checkpoint costs in proportion to what was computed since the last one,
not to the whole history.  Each record is framed as ``TAG, length, CRC-32,
payload`` (the payload an uncompressed ``.npz`` with a JSON ``__meta__``):
a process killed while appending leaves at most one incomplete record at the
end, which :func:`read` recognises and drops.  A journal is replaced, never
truncated in place: a new run writes its head to a temporary file and
renames it over the old journal.

:func:`flowlab.load` reads the journal when the run did not finish (no
result file, or a result file of another run: the run id differs) and
returns the solution up to the last checkpoint with status "interrupted";
:func:`flowlab.resume` continues it.
"""

from __future__ import annotations

import io as _stdio
import json
import os
import struct
import time
import uuid
import zlib
from pathlib import Path

import numpy as np

from .. import io as _io

__all__ = ["Journal", "journal_path", "read", "new_run_id"]

_MAGIC = b"FLOWLAB-JOURNAL1\n"
_FRAME = struct.Struct("<4sQI")          # tag, payload length, CRC-32 of the payload
_TAG = b"REC1"


def new_run_id() -> str:
    """A fresh identifier of one run (kept in ``sol.info["run_id"]``)."""
    return uuid.uuid4().hex


def journal_path(final) -> Path:
    """The journal that belongs to the result file ``final`` (``.npz`` added as by save)."""
    final = _io.npz_path(final)
    return final.with_name(final.name + ".journal")


def _encode(arrays: dict, meta: dict) -> bytes:
    buf = _stdio.BytesIO()
    payload = dict(arrays)
    payload["__meta__"] = np.array(json.dumps(meta, default=_io.json_default))
    np.savez(buf, **payload)
    data = buf.getvalue()
    return _FRAME.pack(_TAG, len(data), zlib.crc32(data)) + data


def _decode(data: bytes) -> tuple[dict, dict]:
    with np.load(_stdio.BytesIO(data), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if k != "__meta__"}
        meta = json.loads(str(z["__meta__"]))
    return arrays, meta


class Journal:
    """The checkpoint journal of one run (see the module docstring).

    Parameters
    ----------
    save : path
        The result file the run will write (``.npz`` is added if missing).
    head : (arrays, meta)
        The payload of the solution at the start time.
    every : float
        Seconds between checkpoints.
    prefix : (arrays, meta), optional
        The payload of the solution this run continues (:func:`flowlab.resume`).

    Creating the journal writes its head: an unwritable ``save`` path raises
    ``ValueError`` here, before any computation.
    """

    def __init__(self, save, head: tuple, every: float, prefix: tuple | None = None):
        self.final = _io.check_save_path(save, "save")
        self.path = journal_path(self.final)
        self.every = float(every)
        self.run_id = head[1].get("info", {}).get("run_id") or new_run_id()
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            with open(tmp, "wb") as fh:
                fh.write(_MAGIC)
                if prefix is not None:
                    fh.write(_encode(prefix[0], dict(prefix[1], record="prefix")))
                fh.write(_encode(head[0], dict(head[1], record="head", run_id=self.run_id)))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            raise ValueError(f"`save` = {str(save)!r} is not writable ({exc.strerror or exc}); "
                             "choose a folder you can write to.") from None
        self._fh = open(self.path, "ab")
        self.last = time.perf_counter()
        self.records = 0

    def due(self) -> bool:
        """True when ``every`` seconds have passed since the last checkpoint."""
        return time.perf_counter() - self.last >= self.every

    def append(self, arrays: dict, meta: dict) -> None:
        """Append one chunk (the rows since the last chunk, the latest state)."""
        self._fh.write(_encode(arrays, dict(meta, record="chunk")))
        self._fh.flush()
        self.records += 1
        self.last = time.perf_counter()

    def finish(self, sol, max_bytes: int | None = None) -> Path:
        """Write the solution ``sol`` to the result file (within ``max_bytes``, see
        ``Solution.save``), then drop the journal."""
        self.close()
        out = (sol.save(self.final) if max_bytes is None
               else sol.save(self.final, max_bytes=max_bytes))
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        return out

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()


def _records(path: Path):
    """The records of a journal as (meta, arrays), and whether a torn tail was dropped."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read the checkpoint journal {path} ({exc}).") from None
    if not data.startswith(_MAGIC):
        raise ValueError(f"{path} is not a flowlab checkpoint journal (bad header); it may be "
                         "corrupted.")
    pos, out, torn = len(_MAGIC), [], False
    while pos < len(data):
        if pos + _FRAME.size > len(data):
            torn = True
            break
        tag, size, crc = _FRAME.unpack_from(data, pos)
        body = data[pos + _FRAME.size:pos + _FRAME.size + size]
        if tag != _TAG or len(body) != size or zlib.crc32(body) != crc:
            torn = True
            break
        try:
            arrays, meta = _decode(body)
        except Exception:                       # a CRC-clean record that does not parse
            torn = True
            break
        out.append((meta, arrays))
        pos += _FRAME.size + size
    return out, torn


def run_id(path) -> str | None:
    """The run id in a journal's head record (None if it cannot be read)."""
    try:
        recs, _ = _records(Path(path))
    except ValueError:
        return None
    for meta, _ in recs:
        if meta.get("record") == "head":
            return meta.get("run_id")
    return None


def read(path) -> tuple[dict, dict, tuple | None]:
    """The solution recorded in a journal: ``(arrays, meta, prefix)``.

    ``arrays`` and ``meta`` have the layout of ``Solution.save`` (the run up to
    its last complete checkpoint, status "interrupted"); ``prefix`` is the
    ``(arrays, meta)`` of the solution a resumed run continues, or None.
    """
    path = Path(path)
    recs, torn = _records(path)
    prefix = None
    head = None
    chunks = []
    for meta, arrays in recs:
        kind = meta.get("record")
        if kind == "prefix":
            prefix = (arrays, meta)
        elif kind == "head":
            head = (arrays, meta)
        elif kind == "chunk" and head is not None:
            chunks.append((arrays, meta))
    if head is None:
        raise ValueError(f"the checkpoint journal {path} has no readable head record: it is "
                         "truncated or corrupted, and holds no usable result.")
    arrays, meta = dict(head[0]), dict(head[1])
    for key in ("t", "theta", "loss", "events"):
        parts = ([arrays[key]] if key in arrays else []) + [c[0][key] for c in chunks
                                                            if key in c[0]]
        if parts:
            arrays[key] = np.concatenate(parts)
    dense = [c[0] for c in chunks if "dense.breaks" in c[0]]
    if dense:
        breaks = [dense[0]["dense.breaks"][:1]] + [d["dense.breaks"][1:] for d in dense]
        degree = np.concatenate([d["dense.degree"] for d in dense]).astype(np.int64)
        offsets = np.zeros(degree.size + 1, dtype=np.int64)
        np.cumsum(degree + 1, out=offsets[1:])
        arrays.update({"dense.breaks": np.concatenate(breaks), "dense.degree": degree,
                       "dense.offsets": offsets,
                       "dense.values": np.concatenate([d["dense.values"] for d in dense])})
    if chunks:
        last_arrays, last_meta = chunks[-1]
        for key in ("theta_final", "stages"):
            if key in last_arrays:
                arrays[key] = last_arrays[key]
        for key in ("t_final", "nfev", "njev", "nlu", "nsteps", "info", "stages_dtype"):
            if key in last_meta:
                meta[key] = last_meta[key]
    info = dict(meta.get("info") or {})
    info["checkpoints"] = len(chunks)
    if torn:
        info["journal_torn_tail"] = True
    meta["info"] = info
    meta["status"] = "interrupted"
    final = path.name[:-len(".journal")] if path.name.endswith(".journal") else path.name
    meta["message"] = (f"the run stopped at t = {meta.get('t_final', float('nan')):.6g} before "
                       f"t_end = {meta.get('t_end', float('nan')):.6g}: read from its last "
                       f"checkpoint ({len(chunks)} written; the process ended without finishing, "
                       f"or is still running); continue with flowlab.resume({final!r})")
    meta.pop("record", None)
    return arrays, meta, prefix
