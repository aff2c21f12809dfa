"""Typed links between what memory knows: episodes, skills, patterns and notes.

A node is named by a key `<kind>:<ref>`: `episode:12`, `skill:3f9a…`, `pattern:p1`,
`note:project:Build/Tests`, or `item:<id>` for a memory item stored without a ref. Links are
directed and typed (`produced`: episode -> skill it was mined from, `similar`: skill ~ skill,
`same_task` / `same_file`: episode -> episode, `abstracts`: pattern -> episode, `related`:
anything a user links by hand). Traversal follows links both ways unless asked otherwise: "how
is this episode related to that skill" does not care which end was written first.

Writes go through the store's writer; reads see committed links only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from memory.store.database import Store
from memory.store.schema import write

NODE_KINDS = ("episode", "skill", "pattern", "note", "item")
LINK_TYPES = ("produced", "similar", "same_task", "same_file", "abstracts", "related")
# links that mean the same read from either end; written once, traversed both ways regardless
SYMMETRIC = frozenset({"similar", "same_task", "same_file", "related"})
Direction = Literal["out", "in", "both"]


@dataclass(frozen=True)
class Link:
    src: str
    dst: str
    type: str
    weight: float = 1.0
    created_at: float = 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "from": self.src,
            "to": self.dst,
            "type": self.type,
            "weight": self.weight,
            "createdAt": self.created_at,
        }


def node_key(kind: str, ref: object) -> str:
    """The key of a node; raises ValueError on an unknown kind or an empty ref."""
    if kind not in NODE_KINDS:
        raise ValueError(f"unknown node kind {kind!r}: expected one of {', '.join(NODE_KINDS)}")
    text = str(ref)
    if not text:
        raise ValueError("a node needs a ref")
    return f"{kind}:{text}"


def parse_node(key: str) -> tuple[str, str]:
    """`'skill:ab:c'` -> `('skill', 'ab:c')`; ValueError for anything else."""
    kind, sep, ref = key.partition(":")
    if not sep or not ref or kind not in NODE_KINDS:
        raise ValueError(
            f"bad node {key!r}: expected <kind>:<ref> with kind one of {', '.join(NODE_KINDS)}"
        )
    return kind, ref


def _check_type(link_type: str) -> None:
    # free-form types are allowed (clients may invent their own) but must look like a name
    if not link_type or not link_type.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"bad link type {link_type!r}: letters, digits, '_' and '-' only")


def add_link(
    store: Store,
    src: str,
    dst: str,
    link_type: str = "related",
    weight: float = 1.0,
    at: float | None = None,
) -> Link:
    """Queue a link (an existing one of the same type gets the new weight); returns it."""
    parse_node(src)
    parse_node(dst)
    _check_type(link_type)
    if src == dst:
        raise ValueError("a node cannot link to itself")
    if not 0.0 <= weight <= 1.0:
        raise ValueError("link weight must be within [0, 1]")
    link = Link(src, dst, link_type, float(weight), time.time() if at is None else at)
    write(
        store,
        "INSERT INTO memory_links (src, dst, type, weight, created_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (src, dst, type) DO UPDATE SET weight = excluded.weight",
        (link.src, link.dst, link.type, link.weight, link.created_at),
    )
    return link


def remove_links(store: Store, node: str) -> None:
    """Queue the removal of every link touching `node`."""
    write(store, "DELETE FROM memory_links WHERE src = ? OR dst = ?", (node, node))


def _type_clause(types: tuple[str, ...] | None) -> tuple[str, tuple[str, ...]]:
    if not types:
        return "", ()
    return f" AND type IN ({','.join('?' * len(types))})", tuple(types)


def links_of(
    store: Store,
    nodes: list[str],
    types: tuple[str, ...] | None = None,
    direction: Direction = "both",
) -> list[Link]:
    """Every committed link leaving (`out`), entering (`in`) or touching (`both`) `nodes`."""
    out: list[Link] = []
    type_sql, type_args = _type_clause(types)
    for lo in range(0, len(nodes), 400):  # bounded IN lists (SQLite's variable limit)
        chunk = tuple(nodes[lo : lo + 400])
        marks = ",".join("?" * len(chunk))
        wheres = []
        if direction in ("out", "both"):
            wheres.append(f"src IN ({marks})")
        if direction in ("in", "both"):
            wheres.append(f"dst IN ({marks})")
        args: tuple[object, ...] = ()
        for _ in wheres:
            args += chunk
        rows = store.query(
            "SELECT src, dst, type, weight, created_at FROM memory_links"
            f" WHERE ({' OR '.join(wheres)}){type_sql}",
            (*args, *type_args),
        )
        out.extend(Link(r[0], r[1], r[2], r[3], r[4]) for r in rows)
    return out


def neighbours(
    store: Store,
    node: str,
    types: tuple[str, ...] | None = None,
    direction: Direction = "both",
) -> list[tuple[str, Link]]:
    """(neighbour, link) pairs of one node, strongest link first.

    With direction `out` or `in`, symmetric links still count from both ends.
    """
    parse_node(node)
    found: dict[str, Link] = {}
    for link in links_of(store, [node], types, "both"):
        forward = link.src == node
        if direction == "out" and not forward and link.type not in SYMMETRIC:
            continue
        if direction == "in" and forward and link.type not in SYMMETRIC:
            continue
        other = link.dst if forward else link.src
        if other not in found or link.weight > found[other].weight:
            found[other] = link
    return sorted(found.items(), key=lambda kv: (-kv[1].weight, kv[0]))


def shortest_path(
    store: Store,
    src: str,
    dst: str,
    types: tuple[str, ...] | None = None,
    *,
    directed: bool = False,
    max_depth: int = 6,
) -> list[Link] | None:
    """The fewest links from `src` to `dst` (BFS, one query per level), or None.

    `types` restricts the links followed; `directed` follows non-symmetric links only from src
    to dst. An empty list means src == dst.
    """
    parse_node(src)
    parse_node(dst)
    if src == dst:
        return []
    parent: dict[str, tuple[str, Link]] = {}
    seen = {src}
    frontier = [src]
    for _ in range(max_depth):
        nxt: list[str] = []
        direction: Direction = "out" if directed else "both"
        links = links_of(store, frontier, types, "both")
        # deterministic: explore in a stable order so equal-length paths are reproducible
        links.sort(key=lambda lk: (lk.src, lk.dst, lk.type))
        in_frontier = set(frontier)
        for link in links:
            for here, there in ((link.src, link.dst), (link.dst, link.src)):
                if here not in in_frontier or there in seen:
                    continue
                if direction == "out" and here == link.dst and link.type not in SYMMETRIC:
                    continue
                seen.add(there)
                parent[there] = (here, link)
                if there == dst:
                    return _walk_back(parent, src, dst)
                nxt.append(there)
        if not nxt:
            return None
        frontier = nxt
    return None


def _walk_back(parent: dict[str, tuple[str, Link]], src: str, dst: str) -> list[Link]:
    path: list[Link] = []
    node = dst
    while node != src:
        prev, link = parent[node]
        path.append(link)
        node = prev
    path.reverse()
    return path


def path_nodes(src: str, path: list[Link]) -> list[str]:
    """The nodes a path visits, src first (links may point either way along it)."""
    nodes = [src]
    for link in path:
        nodes.append(link.dst if link.src == nodes[-1] else link.src)
    return nodes


def expand(
    store: Store,
    seeds: dict[str, float],
    types: tuple[str, ...] | None = None,
    hops: int = 1,
    decay: float = 0.5,
) -> dict[str, tuple[float, str]]:
    """Spread scores from seed nodes over links: each hop multiplies by link weight x decay.

    Returns, for every node reached from some other seed, its best score and that seed (graph
    expansion of a recall: what the vector search found pulls in, and lifts, what it links to).
    """
    best: dict[str, tuple[float, str]] = {}
    frontier = {node: (score, node) for node, score in seeds.items()}
    for _ in range(hops):
        if not frontier:
            break
        nxt: dict[str, tuple[float, str]] = {}
        for link in links_of(store, list(frontier), types, "both"):
            for here, there in ((link.src, link.dst), (link.dst, link.src)):
                if here not in frontier:
                    continue
                score, origin = frontier[here]
                if there == origin:
                    continue
                score *= link.weight * decay
                if score > best.get(there, (0.0, ""))[0]:
                    best[there] = nxt[there] = (score, origin)
        frontier = nxt
    return best
