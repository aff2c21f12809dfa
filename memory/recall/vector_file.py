"""The on-disk format of a vector index, and the checks that decide whether to trust it.

One file beside the store: a magic line, a JSON header (format, dim, embedder name, row and
live counts, a digest of the live ids, the CRC-32 of the body), then the ids, a live mask, the
vectors and the serialised approximate index. Anything that does not check out raises
ValueError; the index then starts over instead of trusting a stale or corrupt file.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import faiss
import numpy as np

MAGIC = b"KNVECv1\n"
FORMAT = 1


def ids_digest(ids: Iterable[int] | np.ndarray) -> str:
    """Order-independent digest of a set of int64 ids (compare with the store's rowids)."""
    arr = np.unique(np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, np.int64))
    return hashlib.blake2b(arr.tobytes(), digest_size=16).hexdigest()


def write(
    target: Path,
    *,
    dim: int,
    embedder: str,
    ids: np.ndarray,
    alive: np.ndarray,
    vecs: np.ndarray,
    ann_bytes: np.ndarray | None,
    ann_kind: str,
    ann_rows: int,
    nlist: int,
) -> None:
    """Write atomically (temp file, fsync, rename) so a crash never leaves half a file."""
    ann_arr = ann_bytes if ann_bytes is not None else np.zeros(0, np.uint8)
    sections = [ids.tobytes(), alive.tobytes(), vecs.tobytes(), ann_arr.tobytes()]
    crc = 0
    for section in sections:
        crc = zlib.crc32(section, crc)
    header = {
        "format": FORMAT,
        "dim": dim,
        "embedder": embedder,
        "rows": len(ids),
        "count": int(np.count_nonzero(alive)),
        "ids_digest": ids_digest(ids[alive]),
        "ann_kind": ann_kind if ann_bytes is not None else "",
        "ann_rows": ann_rows,
        "ann_bytes": len(ann_arr),
        "nlist": nlist,
        "body_crc32": crc,
    }
    raw = json.dumps(header, sort_keys=True).encode()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(MAGIC + struct.pack("<I", len(raw)) + raw)
        for section in sections:
            f.write(section)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target)


def read(
    path: Path, *, dim: int, embedder: str
) -> tuple[dict[str, Any], np.ndarray, np.ndarray, np.ndarray, Any]:
    """(header, ids, alive, vectors, approximate index or None); ValueError if untrustworthy."""
    with open(path, "rb") as f:
        if f.read(len(MAGIC)) != MAGIC:
            raise ValueError("not a kenetic vector index")
        (hlen,) = struct.unpack("<I", f.read(4))
        if hlen > 1 << 20:
            raise ValueError("header too large")
        header = json.loads(f.read(hlen))
        body = f.read()
    if header["format"] != FORMAT:
        raise ValueError(f"format {header['format']}, expected {FORMAT}")
    if header["dim"] != dim:
        raise ValueError(f"dim {header['dim']}, expected {dim}")
    if header["embedder"] != embedder:
        raise ValueError(f"embedder {header['embedder']!r}, expected {embedder!r}")
    n, ann_len = int(header["rows"]), int(header["ann_bytes"])
    sizes = [8 * n, n, 4 * n * dim, ann_len]
    if len(body) != sum(sizes):
        raise ValueError(f"body is {len(body)} bytes, header says {sum(sizes)}")
    if zlib.crc32(body) != header["body_crc32"]:
        raise ValueError("checksum mismatch (corrupt file)")
    offs = np.cumsum([0, *sizes])
    ids = np.frombuffer(body, np.int64, n, offs[0])
    alive = np.frombuffer(body, np.bool_, n, offs[1])
    vecs = np.frombuffer(body, np.float32, n * dim, offs[2]).reshape(n, dim)
    if ids_digest(ids[alive]) != header["ids_digest"]:
        raise ValueError("ids digest mismatch (corrupt file)")
    ann = None
    if ann_len:
        ann_raw = np.frombuffer(body, np.uint8, ann_len, offs[3])
        ann = faiss.deserialize_index(np.array(ann_raw))
        if ann.ntotal != header["ann_rows"] or ann.d != dim:
            raise ValueError("approximate index does not match the vectors")
    return header, ids, alive, vecs, ann
