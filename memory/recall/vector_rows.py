"""The rows under memory.recall.vectors: unit vectors stored by caller id, with exact top-k.

Rows are appended and never rewritten in place until a compaction, so a reader holding the
arrays (the index's worker mid-build) keeps a valid snapshot. A removed id leaves a tombstone
(its row marked dead). Lookups by id go through sorted arrays for older rows plus a dict for
recent ones, so a million ids cost 16 MB rather than a 100 MB dict. Callers hold `_lock`
around every method here.
"""

from __future__ import annotations

import threading

import numpy as np

Hit = tuple[int, float]


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1; zero rows stay zero."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


class VectorRows:
    """Storage of (id, unit vector) rows with tombstones; the base of memory.recall.vectors."""

    _vecs: np.ndarray  # (capacity, dim) float32, unit rows
    _ids: np.ndarray  # (capacity,) int64 caller ids
    _alive: np.ndarray  # (capacity,) bool; False marks a tombstone
    _n: int
    _dead: int
    _sorted_ids: np.ndarray
    _sorted_rows: np.ndarray
    _recent: dict[int, int]

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._lock = threading.RLock()
        self._reset_rows()

    def __len__(self) -> int:
        with self._lock:
            return self._n - self._dead

    def _reset_rows(self) -> None:
        cap = 1024
        self._vecs = np.zeros((cap, self.dim), dtype=np.float32)
        self._ids = np.zeros(cap, dtype=np.int64)
        self._alive = np.zeros(cap, dtype=bool)
        self._n = 0  # rows used; rows below _n are never rewritten until a compaction
        self._dead = 0
        self._sorted_ids = np.zeros(0, dtype=np.int64)
        self._sorted_rows = np.zeros(0, dtype=np.int64)
        self._recent = {}

    def _append(self, ids: np.ndarray, vecs: np.ndarray) -> None:
        """Store unit vectors under ids, replacing rows those ids already have."""
        self._remove_rows(self._rows_of(ids))
        self._reserve(self._n + len(ids))
        lo, hi = self._n, self._n + len(ids)
        self._vecs[lo:hi] = vecs
        self._ids[lo:hi] = ids
        self._alive[lo:hi] = True
        self._n = hi
        self._recent.update(zip(ids.tolist(), range(lo, hi), strict=True))
        if len(self._recent) > 8192:
            self._merge_lookup()

    def _remove_rows(self, rows: np.ndarray) -> int:
        rows = rows[rows >= 0]
        if not len(rows):
            return 0
        for i in self._ids[rows].tolist():
            self._recent.pop(i, None)
        self._alive[rows] = False
        self._dead += len(rows)
        return len(rows)

    def _reserve(self, n: int) -> None:
        cap = len(self._ids)
        if n <= cap:
            return
        # doubling growth: appends are amortised O(1); a reader holding the old arrays (the
        # worker mid-build) keeps a valid snapshot because rows are never rewritten in place
        new_cap = max(n, 2 * cap)
        vecs = np.zeros((new_cap, self.dim), dtype=np.float32)
        vecs[: self._n] = self._vecs[: self._n]
        ids = np.zeros(new_cap, dtype=np.int64)
        ids[: self._n] = self._ids[: self._n]
        alive = np.zeros(new_cap, dtype=bool)
        alive[: self._n] = self._alive[: self._n]
        self._vecs, self._ids, self._alive = vecs, ids, alive

    def _rows_of(self, ids: np.ndarray) -> np.ndarray:
        """Live row of each id, -1 where absent."""
        rows = np.full(len(ids), -1, dtype=np.int64)
        if len(self._sorted_ids):
            pos = np.searchsorted(self._sorted_ids, ids)
            pos = np.minimum(pos, len(self._sorted_ids) - 1)
            found = self._sorted_ids[pos] == ids
            rows[found] = self._sorted_rows[pos[found]]
        for j, i in enumerate(ids.tolist()):
            r = self._recent.get(i)
            if r is not None:
                rows[j] = r
        ok = rows >= 0
        ok[ok] = self._alive[rows[ok]]
        rows[~ok] = -1
        return rows

    def _merge_lookup(self) -> None:
        live = np.flatnonzero(self._alive[: self._n])
        order = np.argsort(self._ids[live], kind="stable")
        self._sorted_ids = self._ids[live][order]
        self._sorted_rows = live[order]
        self._recent = {}

    def _compact(self) -> None:
        """Drop tombstones in place, renumbering the live rows."""
        keep = np.flatnonzero(self._alive[: self._n])
        vecs, ids = self._vecs[keep], self._ids[keep]
        self._reset_rows()
        self._reserve(len(keep))
        self._vecs[: len(keep)], self._ids[: len(keep)] = vecs, ids
        self._alive[: len(keep)] = True
        self._n = len(keep)
        self._merge_lookup()

    def _renumber(self, live_rows: np.ndarray, base: np.ndarray, ids: np.ndarray, n0: int) -> int:
        """After a build over the live rows of a snapshot of the first n0 rows (`base`, their
        vectors; `ids`, the snapshot's id array): those rows first, then whatever was added
        since. Rows removed meanwhile stay tombstones. Returns how many rows the build covers."""
        tail = self._n - n0
        m = len(live_rows)
        new_vecs = np.zeros((max(1024, 2 * (m + tail)), self.dim), dtype=np.float32)
        new_vecs[:m] = base
        new_vecs[m : m + tail] = self._vecs[n0 : self._n]
        new_ids = np.zeros(len(new_vecs), dtype=np.int64)
        new_ids[:m] = ids[live_rows]
        new_ids[m : m + tail] = self._ids[n0 : self._n]
        new_alive = np.zeros(len(new_vecs), dtype=bool)
        new_alive[:m] = self._alive[live_rows]
        new_alive[m : m + tail] = self._alive[n0 : self._n]
        self._vecs, self._ids, self._alive = new_vecs, new_ids, new_alive
        self._n = m + tail
        self._dead = int(self._n - np.count_nonzero(new_alive[: self._n]))
        self._merge_lookup()
        return m

    def _exact_rows(self, q: np.ndarray, rows: np.ndarray, k: int) -> list[Hit]:
        if not len(rows):
            return []
        if len(rows) > self._n // 4:
            # a filter keeping many rows: one pass over the matrix beats gathering a copy
            return self._top(rows, (self._vecs[: self._n] @ q)[rows], k)
        return self._top(rows, self._vecs[rows] @ q, k)

    def _top(self, rows: np.ndarray, scores: np.ndarray, k: int) -> list[Hit]:
        if len(rows) > k:
            part = np.argpartition(-scores, k - 1)[:k]
            rows, scores = rows[part], scores[part]
        order = np.argsort(-scores, kind="stable")
        ids = self._ids[rows[order]].tolist()
        return list(zip(ids, scores[order].astype(float).tolist(), strict=True))
