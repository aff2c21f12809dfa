"""The approximate indexes behind memory.recall.vectors: building one, and its beam width.

`ivfpqfs` (the default) holds 4-bit PQ fast-scan codes in IVF lists; `ivfflat` and `ivfsq8`
hold full or 8-bit vectors in the same lists; `hnsw` is a graph over full vectors. Labels are
the row numbers of the vectors given to `build`. The IVF kinds are re-ranked exactly by the
caller from the full-precision rows.
"""

from __future__ import annotations

import math
from typing import Any

import faiss
import numpy as np

ANN_KINDS = ("ivfpqfs", "ivfflat", "ivfsq8", "hnsw")
# recall@10 the beam width is chosen for when none is configured (calibrate)
TARGET_RECALL = 0.95
CALIBRATION_QUERIES = 64


def default_nlist(n: int) -> int:
    # ~2*sqrt(n) lists, a power of two: 2048 at 1M keeps training to seconds on one core
    return int(min(65536, max(64, 2 ** round(math.log2(2 * math.sqrt(max(n, 1)))))))


def candidates(kind: str, k: int, rerank_min: int, rerank_factor: int) -> int:
    """How many candidates a top-k search takes from an index: compressed codes need a wide
    set for the exact re-rank; flat lists and HNSW already score exactly."""
    return k if kind in ("ivfflat", "hnsw") else max(rerank_min, rerank_factor * k)


def build(
    x: np.ndarray, dim: int, kind: str, nprobe: int | None, candidates: int = 10
) -> tuple[Any, int]:
    """Train and fill an approximate index over the rows of x; returns it and its list count
    (0 for HNSW). The slow part of a rebuild: callers hold no lock while it runs. Without a
    configured `nprobe` the beam is calibrated for TARGET_RECALL of the `candidates` the
    caller takes from it (see calibrate)."""
    m = len(x)
    index: Any
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = nprobe or 32
        index.add(x)
        if nprobe is None:
            calibrate(index, kind, x, candidates, limit=1024)
        return index, 0
    nlist = min(default_nlist(m), max(1, m // 39))  # faiss wants >= 39 points a list
    sub = 4 if dim >= 256 else 2
    codes = {
        "ivfflat": "Flat",
        "ivfsq8": "SQ8",
        # 4-bit PQ over sub-vectors of 4 dims (2 below d=256, where 4 loses too much for
        # the re-rank to recover); SQ8 when the dimension does not split
        "ivfpqfs": f"PQ{dim // sub}x4fs" if dim % sub == 0 else "SQ8",
    }[kind]
    index = faiss.index_factory(dim, f"IVF{nlist},{codes}", faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(0)
    sample_n = min(m, max(nlist * 40, 50_000))
    sample = x if sample_n == m else x[np.sort(rng.choice(m, sample_n, replace=False))]
    index.train(np.ascontiguousarray(sample))
    for lo in range(0, m, 65536):  # chunked: bounded temporary memory during encoding
        index.add(np.ascontiguousarray(x[lo : lo + 65536]))
    index.nprobe = nprobe or max(8, min(256, nlist // 32))
    if nprobe is None:
        calibrate(index, kind, x, candidates, limit=nlist)
    return index, nlist


def calibrate(
    index: Any, kind: str, x: np.ndarray, candidates: int, *, limit: int, k: int = 10
) -> float:
    """Widen the beam (doubling from its default) until the `candidates` an index returns hold
    TARGET_RECALL of the true top-k, measured on a sample of the indexed rows as queries
    (their own row left out), since a fixed beam's recall falls as the data grows and its
    clusters blur. The caller re-ranks the candidates exactly, so this is the recall@k of the
    search. Returns the recall reached (with the beam left set)."""
    m = len(x)
    n_q = min(CALIBRATION_QUERIES, m - 1)
    if n_q < 1 or m <= k:
        return 1.0
    rows = np.sort(np.random.default_rng(1).choice(m, n_q, replace=False))
    q = np.ascontiguousarray(x[rows])
    _, truth = faiss.knn(q, x, k + 1, metric=faiss.METRIC_INNER_PRODUCT)
    want = [set(t.tolist()) - {int(r)} for t, r in zip(truth, rows, strict=True)]
    width = beam(index, kind)
    while True:
        _, found = index.search(q, candidates + 1)
        got = [len(w & set(f.tolist())) / max(1, len(w)) for w, f in zip(want, found, strict=True)]
        recall = float(np.mean(got))
        if recall >= TARGET_RECALL or width >= limit:
            return recall
        width = min(limit, 2 * width)
        set_beam(index, kind, width)


def beam(index: Any, kind: str) -> int:
    """The beam width of an index: IVF lists probed, or HNSW efSearch; 0 for none."""
    if index is None:
        return 0
    if kind == "hnsw":
        return int(index.hnsw.efSearch)
    return int(index.nprobe)


def set_beam(index: Any, kind: str, width: int) -> None:
    if kind == "hnsw":
        index.hnsw.efSearch = width
    else:
        index.nprobe = width
