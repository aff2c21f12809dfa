"""Memory items: what recall returns, the knobs of recall and retention, and their SQL rows.

A memory item is one recallable thing (an episode, a skill, a pattern or a note) with its text,
where it came from (language, uri, source), when it was made and last used, and how much it
matters (importance, pinned, protected). Its vector lives in the VectorIndex under its id.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from memory.recall import graph

ITEM_KINDS = ("episode", "skill", "pattern", "note")
DAY = 86_400.0


@dataclass
class MemorySettings:
    """Every knob of memory recall and retention (the server maps its settings onto these)."""

    embedder: str = "hashed"  # make_embedder kind: hashed | minilm | ollama
    max_items: int = 50_000  # prune past this many items
    prune_to: float = 0.9  # ...down to this fraction of max_items, so pruning is not per write
    novelty_threshold: float = 0.97  # cosine at/above which a new item is a near-duplicate
    half_life_days: float = 14.0  # recency halves every this many days since last use
    w_similarity: float = 1.0
    w_graph: float = 0.6
    w_recency: float = 0.25
    w_importance: float = 0.25
    min_relevance: float = 0.15  # similarity or graph score an item needs to be recalled at all
    seeds: int = 40  # vector candidates taken before graph expansion and re-scoring
    graph_hops: int = 1
    graph_decay: float = 0.8  # a linked item scores seed similarity x link weight x this
    similar_skill_threshold: float = 0.8  # skills this similar get a `similar` link
    # exact search (recall 1.0) up to here, where one query on one core at d=384 still meets
    # the recall budget (p95 about 2 ms); past it IVF-PQ with a beam calibrated at each build
    # for recall@10 >= 0.95 (memory.recall.vector_ann.calibrate), ~0.2 ms at the 50k cap
    exact_threshold: int = 25_000


@dataclass
class MemoryItem:
    kind: str
    text: str
    ref_id: str | None = None
    language: str | None = None
    uri: str | None = None
    source: str | None = None
    created_at: float = 0.0
    used_at: float = 0.0
    use_count: int = 0
    importance: float = 0.5
    pinned: bool = False
    protected: bool = False
    data: dict[str, Any] = field(default_factory=dict)
    id: int | None = None

    @property
    def node(self) -> str:
        if self.ref_id:
            return graph.node_key(self.kind, self.ref_id)
        return graph.node_key("item", self.id)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["node"] = self.node
        return out


@dataclass
class Recalled:
    item: MemoryItem
    score: float
    similarity: float
    graph: float
    recency: float
    via: str | None = None  # the seed node a graph-expanded item was reached from

    def to_json(self) -> dict[str, Any]:
        return {
            "item": self.item.to_json(),
            "score": round(self.score, 6),
            "similarity": round(self.similarity, 6),
            "graph": round(self.graph, 6),
            "recency": round(self.recency, 6),
            "via": self.via,
        }


_COLUMNS = (
    "id, kind, ref_id, text, language, uri, source, created_at, used_at, use_count,"
    " importance, pinned, protected, data"
)


def _item(row: Any) -> MemoryItem:
    return MemoryItem(
        id=row["id"],
        kind=row["kind"],
        ref_id=row["ref_id"],
        text=row["text"],
        language=row["language"],
        uri=row["uri"],
        source=row["source"],
        created_at=row["created_at"],
        used_at=row["used_at"],
        use_count=row["use_count"],
        importance=row["importance"],
        pinned=bool(row["pinned"]),
        protected=bool(row["protected"]),
        data=json.loads(row["data"] or "{}"),
    )


def where_clause(
    kinds: tuple[str, ...] | None,
    language: str | None,
    uri: str | None,
    since: float | None,
    until: float | None,
) -> tuple[str, tuple[Any, ...]]:
    where: list[str] = []
    args: list[Any] = []
    if kinds:
        where.append(f"kind IN ({','.join('?' * len(kinds))})")
        args += kinds
    if language:
        where.append("language = ?")
        args.append(language)
    if uri:
        # a folder uri (ending in /) matches everything under it
        if uri.endswith("/"):
            where.append("substr(uri, 1, ?) = ?")
            args += [len(uri), uri]
        else:
            where.append("uri = ?")
            args.append(uri)
    if since is not None:
        where.append("created_at >= ?")
        args.append(since)
    if until is not None:
        where.append("created_at <= ?")
        args.append(until)
    return " AND ".join(where), tuple(args)
