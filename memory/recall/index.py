"""Hybrid recall over memory items: vector similarity + graph expansion + recency + importance.

A memory item is one recallable thing (an episode, a skill, a pattern or a note) with its text;
its vector lives in a VectorIndex under the item id, persisted beside the store. A recall embeds
the query, takes the `seeds` nearest items that pass the filters, spreads their similarity over
typed links to pull in linked items, and ranks by

    score = w_sim * similarity + w_graph * graph + w_recency * 0.5 ** (age / half_life)
            + w_importance * importance

over items whose relevance (max of similarity and graph score) reaches `min_relevance`, so that
recency and importance order relevant memories and never drag in irrelevant ones.

Writes are gated: an item whose nearest neighbour of the same kind is at least
`novelty_threshold` similar is not stored (the neighbour is reinforced instead and the skip is
counted). Past `max_items` the least retained items are pruned (memory.recall.retention); protected
items (pinned notes, skills with accepted outcomes, anything marked protected) never are.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable
from typing import Any, cast

import numpy as np

from memory.recall import graph, retention
from memory.recall.embedders import Embedder, make_embedder
from memory.recall.items import (
    _COLUMNS,
    DAY,
    ITEM_KINDS,
    MemoryItem,
    MemorySettings,
    Recalled,
    _item,
    where_clause,
)
from memory.recall.vectors import VectorIndex
from memory.store.database import Store, vector_path
from memory.store.schema import get_state, put_state, write, write_wait

log = logging.getLogger(__name__)


def search_one(
    vectors: VectorIndex, query: np.ndarray, k: int, allowed: set[int] | None = None
) -> list[tuple[int, float]]:
    """Top-k (id, cosine) of one query vector (VectorIndex.search typed for the 1-D case)."""
    return cast(list[tuple[int, float]], vectors.search(query, k, allowed=allowed))


class MemoryIndex:
    """The memory items of one store with their vectors; thread-safe."""

    def __init__(
        self,
        store: Store,
        settings: MemorySettings | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.store = store
        self.settings = settings or MemorySettings()
        self.embedder = embedder or make_embedder(self.settings.embedder)
        self._lock = threading.RLock()  # novelty gate + insert are one step
        self.counters: dict[str, int] = {"stored": 0, "duplicates": 0, "pruned": 0}
        saved = get_state(store, "memory.counters", {})
        if isinstance(saved, dict):
            self.counters.update({k: int(v) for k, v in saved.items() if k in self.counters})
        ids = np.array([r[0] for r in store.query("SELECT id FROM memory_items")], np.int64)
        self.vectors = VectorIndex.load(
            vector_path(store.path),
            self.embedder.dim,
            embedder_name=self.embedder.name,
            expected_ids=ids,
            source=self._all_vectors,
            exact_threshold=self.settings.exact_threshold,
        )

    def _all_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        rows = self.store.query("SELECT id, text FROM memory_items ORDER BY id")
        ids = np.array([r[0] for r in rows], np.int64)
        vecs = self.embedder.embed([r[1] for r in rows]) if rows else np.zeros((0, 1))
        return ids, vecs

    # -- writing ----------------------------------------------------------------------------

    def add(self, item: MemoryItem, *, gate: bool = True) -> tuple[int | None, bool]:
        """Store an item and wait for its commit: (id, stored).

        A near-duplicate (the gate) returns (the existing item's id, False) and reinforces it.
        An item with the (kind, ref_id) of an existing one replaces its text and vector.
        """
        if item.kind not in ITEM_KINDS:
            raise ValueError(f"unknown memory kind {item.kind!r}: expected {', '.join(ITEM_KINDS)}")
        if not item.text.strip():
            raise ValueError("a memory item needs text")
        now = time.time()
        item.created_at = item.created_at or now
        item.used_at = item.used_at or item.created_at
        vec = self.embedder.embed_one(item.text)
        with self._lock:
            existing = self._by_ref(item.kind, item.ref_id) if item.ref_id else None
            if existing is None and gate:
                dup = self._duplicate_of(item.kind, vec)
                if dup is not None:
                    self.counters["duplicates"] += 1
                    self.reinforce([dup], at=now)
                    self._save_counters()
                    return dup, False
            args = (
                item.kind,
                item.ref_id,
                item.text,
                item.language,
                item.uri,
                item.source,
                item.created_at,
                item.used_at,
                item.use_count,
                float(item.importance),
                int(item.pinned),
                int(item.protected),
                json.dumps(item.data, ensure_ascii=False, sort_keys=True),
            )
            if existing is not None:
                write_wait(
                    self.store,
                    "UPDATE memory_items SET text = ?, language = ?, uri = ?, source = ?,"
                    " importance = ?, pinned = ?, protected = ?, data = ? WHERE id = ?",
                    (*args[2:6], *args[9:], existing),
                )
                item.id = existing
            else:
                item.id = write_wait(
                    self.store,
                    f"INSERT INTO memory_items ({_COLUMNS.partition(', ')[2]})"
                    f" VALUES ({','.join('?' * 13)})",
                    args,
                )
                if item.id is None:
                    return None, False
                self.counters["stored"] += 1
                self._save_counters()
            self.vectors.add([item.id], vec[None])
        if existing is None and self.count() > self.settings.max_items:
            self.prune()
        return item.id, existing is None

    def _by_ref(self, kind: str, ref_id: str) -> int | None:
        rows = self.store.query(
            "SELECT id FROM memory_items WHERE kind = ? AND ref_id = ?", (kind, ref_id)
        )
        return rows[0][0] if rows else None

    def _duplicate_of(self, kind: str, vec: np.ndarray) -> int | None:
        hits = search_one(self.vectors, vec, 8)
        if not hits:
            return None
        ids = [i for i, s in hits if s >= self.settings.novelty_threshold]
        if not ids:
            return None
        kinds = dict(self._rows(ids, "id, kind"))
        for i in ids:
            if kinds.get(i) == kind:
                return int(i)
        return None

    def _rows(self, ids: Iterable[int], columns: str = _COLUMNS) -> list[Any]:
        ids = list(ids)
        out: list[Any] = []
        for lo in range(0, len(ids), 400):
            chunk = ids[lo : lo + 400]
            out += self.store.query(
                f"SELECT {columns} FROM memory_items WHERE id IN ({','.join('?' * len(chunk))})",
                tuple(chunk),
            )
        return out

    def reinforce(self, ids: Iterable[int], at: float | None = None) -> None:
        """Mark items as used now (recency restarts, use count grows); queued, not awaited."""
        at = time.time() if at is None else at
        for i in ids:
            write(
                self.store,
                "UPDATE memory_items SET used_at = max(used_at, ?), use_count = use_count + 1"
                " WHERE id = ?",
                (at, int(i)),
            )

    def update(self, item_id: int, **fields: Any) -> None:
        """Set importance / pinned / protected of an item (queued)."""
        allowed = {"importance", "pinned", "protected"}
        bad = set(fields) - allowed
        if bad:
            raise ValueError(f"cannot update {sorted(bad)}: only {sorted(allowed)}")
        for name, value in fields.items():
            value = float(value) if name == "importance" else int(bool(value))
            write(self.store, f"UPDATE memory_items SET {name} = ? WHERE id = ?", (value, item_id))

    def delete(self, ids: Iterable[int]) -> int:
        """Remove items, their vectors and the links of ref-less items; waits for the commit."""
        rows = self._rows(ids, "id, kind, ref_id")
        for r in rows:
            if not r["ref_id"]:
                graph.remove_links(self.store, graph.node_key("item", r["id"]))
            write(self.store, "DELETE FROM memory_items WHERE id = ?", (r["id"],))
        self.store.flush()
        self.vectors.remove([r["id"] for r in rows])
        return len(rows)

    def _save_counters(self) -> None:
        put_state(self.store, "memory.counters", self.counters)

    # -- reading ----------------------------------------------------------------------------

    def get(self, item_id: int) -> MemoryItem | None:
        rows = self._rows([item_id])
        return _item(rows[0]) if rows else None

    def find(self, node: str) -> MemoryItem | None:
        """The item a node key names (`item:<id>` or `<kind>:<ref>`), if it is indexed."""
        kind, ref = graph.parse_node(node)
        if kind == "item":
            return self.get(int(ref)) if ref.isdigit() else None
        rows = self.store.query(
            f"SELECT {_COLUMNS} FROM memory_items WHERE kind = ? AND ref_id = ?", (kind, ref)
        )
        return _item(rows[0]) if rows else None

    def count(self) -> int:
        return int(self.store.query("SELECT count(*) FROM memory_items")[0][0])

    def _filtered_ids(
        self,
        kinds: tuple[str, ...] | None,
        language: str | None,
        uri: str | None,
        since: float | None,
        until: float | None,
    ) -> set[int] | None:
        where, args = where_clause(kinds, language, uri, since, until)
        if not where:
            return None
        rows = self.store.query(f"SELECT id FROM memory_items WHERE {where}", args)
        return {r[0] for r in rows}

    def recall(
        self,
        query: str,
        k: int = 10,
        *,
        kinds: tuple[str, ...] | None = None,
        language: str | None = None,
        uri: str | None = None,
        since: float | None = None,
        until: float | None = None,
        now: float | None = None,
        reinforce: bool = False,
    ) -> list[Recalled]:
        """The k best items for a query, best first (see the module docstring for the score)."""
        s = self.settings
        now = time.time() if now is None else now
        for kind in kinds or ():
            if kind not in ITEM_KINDS:
                raise ValueError(f"unknown memory kind {kind!r}")
        allowed = self._filtered_ids(kinds, language, uri, since, until)
        if k <= 0 or allowed is not None and not allowed:
            return []
        qv = self.embedder.embed_one(query)
        hits = search_one(self.vectors, qv, max(s.seeds, k), allowed)
        sims: dict[int, float] = {int(i): float(sc) for i, sc in hits}
        seed_items = {r["id"]: _item(r) for r in self._rows(sims)}
        # graph expansion: linked nodes inherit the similarity of the seeds they hang off
        seeds = {it.node: sims[i] for i, it in seed_items.items() if sims[i] >= s.min_relevance}
        spread = graph.expand(self.store, seeds, hops=s.graph_hops, decay=s.graph_decay)
        by_node = {it.node: it for it in seed_items.values()}
        for item in self._items_for_nodes([n for n in spread if n not in by_node]):
            if allowed is None or item.id in allowed:
                by_node[item.node] = item
        if spread:
            # similarity of expanded items that the seed search did not reach
            missing = {it.id for it in by_node.values() if it.id is not None and it.id not in sims}
            if missing:
                sims.update(search_one(self.vectors, qv, len(missing), missing))
        out: list[Recalled] = []
        half_life = max(s.half_life_days, 1e-6) * DAY
        for node, item in by_node.items():
            sim = max(0.0, sims.get(item.id or -1, 0.0))
            g, origin = spread.get(node, (0.0, None))
            if max(sim, g) < s.min_relevance:
                continue
            age = max(0.0, now - max(item.created_at, item.used_at))
            recency = 0.5 ** (age / half_life)
            score = (
                s.w_similarity * sim
                + s.w_graph * g
                + s.w_recency * recency
                + s.w_importance * item.importance
            )
            out.append(Recalled(item, score, sim, g, recency, origin))
        out.sort(key=lambda r: (-r.score, -(r.item.id or 0)))
        out = out[:k]
        if reinforce:
            self.reinforce([r.item.id for r in out if r.item.id is not None], at=now)
        return out

    def _items_for_nodes(self, nodes: list[str]) -> list[MemoryItem]:
        out: list[MemoryItem] = []
        item_ids: list[int] = []
        for node in nodes:
            kind, ref = graph.parse_node(node)
            if kind == "item":
                if ref.isdigit():
                    item_ids.append(int(ref))
            else:
                rows = self.store.query(
                    f"SELECT {_COLUMNS} FROM memory_items WHERE kind = ? AND ref_id = ?",
                    (kind, ref),
                )
                out += [_item(r) for r in rows]
        out += [_item(r) for r in self._rows(item_ids)]
        return out

    # -- retention (memory.recall.retention) ---------------------------------------------------

    def prune(self, now: float | None = None) -> int:
        """Drop the least retained unprotected items down to prune_to x max_items."""
        now = time.time() if now is None else now
        retention.protect_accepted_skills(self.store)
        with self._lock:
            victims = retention.victims(self.store, self.settings, now)
            if not victims:
                return 0
            removed = self.delete(victims)
            self.counters["pruned"] += removed
            self._save_counters()
            return removed

    # -- upkeep -----------------------------------------------------------------------------

    def sync(self) -> dict[str, int]:
        """Make the vectors match the table (after an import or another process's writes)."""
        self.store.flush()
        rows = self.store.query("SELECT id, text FROM memory_items")
        have = set(self.vectors_ids())
        want = {r[0]: r[1] for r in rows}
        gone = have - set(want)
        new = [i for i in want if i not in have]
        if gone:
            self.vectors.remove(list(gone))
        if new:
            self.vectors.add(new, self.embedder.embed([want[i] for i in new]))
        return {"added": len(new), "removed": len(gone)}

    def vectors_ids(self) -> list[int]:
        v = self.vectors
        with v._lock:  # no public listing of ids: read the live rows under its lock
            return v._ids[: v._n][v._alive[: v._n]].tolist()

    def stats(self) -> dict[str, Any]:
        by_kind = {k: 0 for k in ITEM_KINDS}
        for r in self.store.query("SELECT kind, count(*) FROM memory_items GROUP BY kind"):
            by_kind[r[0]] = r[1]
        links = self.store.query("SELECT type, count(*) FROM memory_links GROUP BY type")
        protected = self.store.query(
            "SELECT count(*) FROM memory_items WHERE pinned = 1 OR protected = 1"
        )[0][0]
        return {
            "items": sum(by_kind.values()),
            "byKind": by_kind,
            "protected": protected,
            "links": {r[0]: r[1] for r in links},
            "maxItems": self.settings.max_items,
            **self.counters,
            "vectors": self.vectors.stats(),
        }

    def save(self) -> None:
        self.vectors.save(vector_path(self.store.path))

    def close(self) -> None:
        """Persist the vectors (the store stays open: it belongs to the caller)."""
        self.store.flush()
        self.vectors.wait_idle(10)
        self.save()
        self.vectors.close()
