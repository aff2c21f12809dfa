"""The vector index of memory: top-k cosine search over episode, skill and pattern vectors.

Sets up to `exact_threshold` live vectors are searched exactly (recall 1.0; memory's default
stops where a query still takes about 2 ms at p95). Past it an approximate index is built
in the background (coarse IVF centroids, a beam over the `nprobe` nearest lists, then an
exact re-rank of a `max(rerank_min, rerank_factor * k)` candidate set from the full-precision
vectors, so the cap never truncates below what the lists returned). Without a configured
`nprobe` the beam is calibrated at each build for vector_ann.TARGET_RECALL. The default lists
hold 4-bit PQ fast-scan codes (48 bytes a vector at d=384); `tests/bench/recall.py` compares
that with IVF-Flat, IVF-SQ8 and HNSW at equal recall.

Growth is amortised: the approximate index is retrained when the live count doubles; vectors
added since are searched exactly in a side buffer and appended to the trained lists in batches
of `flush_size`. Deletion is a tombstone (filtered during the re-rank) until the next
retrain compacts. A single worker thread does the heavy work; searches hold the lock only
while they read, and the new index is swapped in under it.

Persistence: one file beside the store (memory.recall.vector_file has its format). A missing,
corrupt, foreign or stale file is never trusted: `load` starts empty (or refills from `source`).
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from memory.recall import vector_ann, vector_file
from memory.recall.vector_ann import ANN_KINDS
from memory.recall.vector_file import ids_digest
from memory.recall.vector_rows import Hit, VectorRows, unit_rows

log = logging.getLogger(__name__)


class VectorIndex(VectorRows):
    """Top-k inner-product search over int64 ids; vectors are L2-normalised on the way in.

    Thread-safe: `search` may run in one thread while `add`/`remove` run in another and a
    rebuild runs in the worker thread. Storage of the rows is memory.recall.vector_rows; building
    the approximate index, memory.recall.vector_ann; the file format, memory.recall.vector_file.
    """

    _ann: Any
    _ann_n: int
    _ann_trained_live: int
    _nlist: int

    def __init__(
        self,
        dim: int,
        *,
        exact_threshold: int = 25_000,
        path: str | os.PathLike[str] | None = None,
        embedder_name: str = "",
        ann: str = "ivfpqfs",
        nprobe: int | None = None,
        rerank_factor: int = 10,
        rerank_min: int = 100,
        flush_size: int = 4096,
        background: bool = True,
    ) -> None:
        if ann not in ANN_KINDS:
            raise ValueError(f"ann must be one of {ANN_KINDS}")
        self.exact_threshold = exact_threshold
        self.path = Path(path) if path is not None else None
        self.embedder_name = embedder_name
        self.ann_kind = ann
        self.nprobe = nprobe  # None: chosen from nlist at build time
        self.rerank_factor = rerank_factor
        self.rerank_min = rerank_min
        self.flush_size = flush_size
        self.background = background
        self.load_status = "new"

        super().__init__(dim)
        self._idle = threading.Condition(self._lock)
        self._reset()
        self._pending: set[str] = set()
        self._running = False
        self._worker: threading.Thread | None = None
        self._closed = False
        self._builds = 0
        self._last_build_s = 0.0
        self._last_error = ""

    # --- writing ------------------------------------------------------------------------

    def add(self, ids: np.ndarray | Iterable[int], vecs: np.ndarray) -> None:
        """Add vectors under caller-chosen int64 ids; an id already present is replaced."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        vecs = np.asarray(vecs, dtype=np.float32).reshape(-1, self.dim)
        if len(ids) != len(vecs):
            raise ValueError(f"{len(ids)} ids for {len(vecs)} vectors")
        if len(np.unique(ids)) != len(ids):
            raise ValueError("duplicate ids in one add")
        if not len(ids):
            return
        vecs = unit_rows(vecs)
        with self._lock:
            self._append(ids, vecs)
            self._schedule_maintenance()

    def remove(self, ids: np.ndarray | Iterable[int]) -> int:
        """Remove ids (absent ones are ignored); returns how many were removed."""
        ids = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, np.int64)
        with self._lock:
            rows = self._rows_of(ids.reshape(-1))
            removed = self._remove_rows(rows)
            self._schedule_maintenance()
            return removed

    # --- searching ----------------------------------------------------------------------

    def search(
        self, query: np.ndarray, k: int = 10, *, allowed: set[int] | None = None
    ) -> list[Hit] | list[list[Hit]]:
        """Top-k (id, cosine) pairs, best first. A (q, d) query gives one list per row.

        `allowed` restricts hits to those ids: small sets are scored exactly, large ones
        filter the approximate candidates and fall back to exact scoring when too few pass.
        """
        q = np.asarray(query, dtype=np.float32)
        single = q.ndim == 1
        qs = q.reshape(-1, self.dim)
        qs = unit_rows(qs)
        with self._lock:
            allowed_rows = None
            if allowed is not None:
                rows = self._rows_of(np.fromiter(allowed, np.int64, len(allowed)))
                allowed_rows = rows[rows >= 0]
            out = [self._search_one(qv, k, allowed_rows) for qv in qs]
        return out[0] if single else out

    def _search_one(self, q: np.ndarray, k: int, allowed_rows: np.ndarray | None) -> list[Hit]:
        n = self._n
        if k <= 0 or n == self._dead:
            return []
        if allowed_rows is not None and (
            self._ann is None or len(allowed_rows) <= max(self.exact_threshold, 4 * k)
        ):
            return self._exact_rows(q, allowed_rows, k)
        rows_parts: list[np.ndarray] = []
        score_parts: list[np.ndarray] = []
        lo = 0
        if self._ann is not None:
            lo = self._ann_n
            kc = vector_ann.candidates(self.ann_kind, k, self.rerank_min, self.rerank_factor)
            kc += min(self._dead, kc)  # tombstones take slots: over-fetch by their count
            _, cand = self._ann.search(q[None], kc)
            cand = cand[0]
            cand = cand[cand >= 0]
            cand = cand[self._alive[cand]]
            if allowed_rows is not None:
                cand = cand[np.isin(cand, allowed_rows)]
            # exact re-rank of the whole candidate set from the full-precision vectors
            rows_parts.append(cand)
            score_parts.append(self._vecs[cand] @ q)
        if n > lo:
            side = self._vecs[lo:n]
            dead_side = int(n - lo - np.count_nonzero(self._alive[lo:n]))
            kk = min(n - lo, k + dead_side)
            d, i = faiss.knn(q[None], side, kk, metric=faiss.METRIC_INNER_PRODUCT)
            rows = i[0] + lo
            keep = (i[0] >= 0) & self._alive[np.maximum(rows, 0)]
            if allowed_rows is not None:
                keep &= np.isin(rows, allowed_rows)
            rows_parts.append(rows[keep])
            score_parts.append(d[0][keep])
        rows = np.concatenate(rows_parts)
        scores = np.concatenate(score_parts)
        if allowed_rows is not None and len(rows) < min(k, len(allowed_rows)):
            return self._exact_rows(q, allowed_rows, k)
        return self._top(rows, scores, k)

    # --- background maintenance ---------------------------------------------------------

    def _schedule_maintenance(self) -> None:
        live = self._n - self._dead
        if live >= self.exact_threshold and (
            self._ann is None
            or live >= 2 * self._ann_trained_live
            or self._dead > 0.1 * self._n  # tombstones cost re-rank slots: compact
        ):
            self._submit("train")
        elif self._ann is not None and self._n - self._ann_n >= self.flush_size:
            self._submit("flush")
        elif self._ann is None and not self._running and self._dead > max(1024, self._n // 2):
            # exact mode never retrains, so tombstones would pile up: compact in place (cheap,
            # fewer than exact_threshold live rows)
            self._compact()

    def rebuild_async(self) -> None:
        """Retrain and rebuild the approximate index from the live vectors, in the background."""
        with self._lock:
            self._submit("train")

    def _submit(self, job: str) -> None:
        if job in self._pending or self._closed:
            return
        self._pending.add(job)
        if not self.background:
            if not self._running:
                self._drain()
            return
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._drain, name="kenetic-vectors", daemon=True)
            self._worker.start()

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._pending or self._closed:
                    self._running = False
                    self._pending.clear()
                    self._idle.notify_all()
                    return
                job = "train" if "train" in self._pending else "flush"
                self._pending.discard(job)
                self._running = True
            try:
                self._train() if job == "train" else self._flush()
            except Exception as exc:  # the exact path still answers; log and keep going
                log.exception("vector index %s failed", job)
                self._last_error = f"{job}: {exc}"

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no rebuild or flush is pending or running; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._pending and not self._running, timeout)

    def close(self) -> None:
        """Stop scheduling work; a running job finishes (its result is discarded)."""
        with self._lock:
            self._closed = True
            self._pending.clear()

    def _train(self) -> None:
        t0 = time.perf_counter()
        with self._lock:
            n0 = self._n
            vecs, ids = self._vecs, self._ids
            alive0 = self._alive[:n0].copy()
        live_rows = np.flatnonzero(alive0)
        compact = len(live_rows) < n0
        base = vecs[live_rows] if compact else vecs[:n0]
        # the slow part: no lock held
        # a beam calibrated to find the true top 10 among the candidates a search takes
        kc = vector_ann.candidates(self.ann_kind, 10, self.rerank_min, self.rerank_factor)
        index, nlist = vector_ann.build(base, self.dim, self.ann_kind, self.nprobe, kc)
        with self._lock:
            if self._closed:
                return
            if compact:
                # renumber: surviving rows first, then whatever was added during the build
                n0 = self._renumber(live_rows, base, ids, n0)
            self._ann, self._ann_n, self._nlist = index, n0, nlist
            self._ann_trained_live = int(np.count_nonzero(self._alive[:n0]))
            self._builds += 1
            self._last_build_s = time.perf_counter() - t0
            if self._n - self._ann_n >= self.flush_size:
                self._pending.add("flush")

    def _flush(self) -> None:
        with self._lock:
            index, lo, hi = self._ann, self._ann_n, self._n
            if index is None or hi <= lo:
                return
            # appending to the lists must not race a search of them: done under the lock, in
            # batches of `flush_size`, so a search waits at most one batch's encoding
            index.add(np.ascontiguousarray(self._vecs[lo:hi]))
            self._ann_n = hi

    # --- persistence --------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write the index atomically (temp file + rename) to `path` or the constructor's."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ValueError("no path: pass one here or to the constructor")
        with self._lock:
            n = self._n
            ids = self._ids[:n].copy()
            alive = self._alive[:n].copy()
            vecs = self._vecs[:n]  # rows below n are never rewritten: safe to read unlocked
            ann_bytes = faiss.serialize_index(self._ann) if self._ann is not None else None
            ann_n = self._ann_n if self._ann is not None else 0
        vector_file.write(
            target,
            dim=self.dim,
            embedder=self.embedder_name,
            ids=ids,
            alive=alive,
            vecs=vecs,
            ann_bytes=ann_bytes,
            ann_kind=self.ann_kind,
            ann_rows=ann_n,
            nlist=self._nlist,
        )
        return target

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        dim: int,
        *,
        embedder_name: str = "",
        expected_ids: Iterable[int] | np.ndarray | None = None,
        source: Callable[[], tuple[np.ndarray, np.ndarray]] | None = None,
        **options: Any,
    ) -> VectorIndex:
        """Open a saved index, or start over when the file cannot be trusted.

        The file is used only if its magic, format, dim, embedder name and body CRC match and
        (when `expected_ids` is given) its live ids are exactly those ids. Otherwise the index
        starts empty, `load_status` says why, and `source()` — returning (ids, vectors) for the
        store's current contents — refills it (the approximate index is rebuilt from them).
        """
        index = cls(dim, path=path, embedder_name=embedder_name, **options)
        try:
            index._read(Path(path), expected_ids)
            index.load_status = "loaded"
        except FileNotFoundError:
            index.load_status = "missing"
        except (OSError, ValueError, RuntimeError, KeyError, struct.error) as exc:
            index.load_status = f"rebuilt: {exc}"
            log.warning("vector index %s not trusted, rebuilding: %s", path, exc)
        if index.load_status != "loaded":
            index._reset()
            if source is not None:
                ids, vecs = source()
                index.add(ids, vecs)
        return index

    def _reset(self) -> None:
        """Empty storage and no approximate index."""
        with self._lock:
            self._reset_rows()
            self._ann = None  # faiss index over rows [0, _ann_n); labels are row numbers
            self._ann_n = 0
            self._ann_trained_live = 0
            self._nlist = 0

    def _read(self, path: Path, expected_ids: Iterable[int] | np.ndarray | None) -> None:
        saved = vector_file.read(path, dim=self.dim, embedder=self.embedder_name)
        header, ids, alive, vecs, ann = saved
        if expected_ids is not None and ids_digest(expected_ids) != header["ids_digest"]:
            raise ValueError("stale: ids differ from the store's")
        n = int(header["rows"])
        with self._lock:
            self._reset()
            self._reserve(n)
            self._vecs[:n], self._ids[:n], self._alive[:n] = vecs, ids, alive
            self._n = n
            self._dead = int(n - np.count_nonzero(alive))
            self._merge_lookup()
            if ann is not None:
                self._ann, self._ann_n = ann, int(header["ann_rows"])
                self._ann_trained_live = int(np.count_nonzero(alive[: self._ann_n]))
                self._nlist = int(header["nlist"])
                self.ann_kind = header["ann_kind"]
            self._schedule_maintenance()

    # --- introspection ------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        with self._lock:
            ann = self._ann
            ann_rows = self._ann_n if ann is not None else 0
            return {
                "count": self._n - self._dead, "rows": self._n, "dead": self._dead,
                "dim": self.dim, "embedder": self.embedder_name,
                "mode": "exact" if ann is None else self.ann_kind,
                "ann_rows": ann_rows, "side_rows": self._n - ann_rows,
                "nlist": self._nlist,
                "nprobe": vector_ann.beam(ann, self.ann_kind),
                "rebuilding": self._running or bool(self._pending),
                "builds": self._builds,
                "last_build_s": round(self._last_build_s, 3),
                "last_error": self._last_error,
                "load_status": self.load_status,
            }  # fmt: skip

    def set_nprobe(self, nprobe: int) -> None:
        """Change the beam width (IVF lists probed, or HNSW efSearch) of the current index."""
        if nprobe < 1:
            raise ValueError("nprobe must be at least 1")
        with self._lock:
            self.nprobe = nprobe
            if self._ann is not None:
                vector_ann.set_beam(self._ann, self.ann_kind, nprobe)
