"""One workspace's memory as JSON-shaped operations: what the LSP methods and the CLI call.

`WorkspaceMemory` bundles the pieces of memory for one store — recall index, active learning
state, moments, notes — and answers with plain dicts in the shapes docs/memory.md documents, so
the server's `kenetic/memory/*` handlers and `kenetic memory ...` print the same thing. Every
method may touch disk or embed text: call them off the event loop (`asyncio.to_thread`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from memory.recall import graph, notes
from memory.recall.als import Als, AlsSettings
from memory.recall.embedders import Embedder
from memory.recall.index import MemoryIndex
from memory.recall.items import ITEM_KINDS, MemoryItem, MemorySettings
from memory.recall.moments import Moments
from memory.store import checkpoints
from memory.store.database import Episode, Store

log = logging.getLogger(__name__)
METADATA_KEYS = ("ref", "language", "uri", "source", "importance", "pinned", "protected", "data")


class WorkspaceMemory:
    """Memory of one workspace folder's store; the store stays the caller's to close."""

    def __init__(
        self,
        store: Store,
        workspace: Path | None,
        settings: MemorySettings | None = None,
        als_settings: AlsSettings | None = None,
        *,
        embedder: Embedder | None = None,
        moments_limit: int = 200,
        read_notes: bool = True,
    ) -> None:
        self.store = store
        self.workspace = workspace
        self.index = MemoryIndex(store, settings, embedder)
        self.als = Als(store, als_settings)
        self.moments = Moments(store, moments_limit)
        if read_notes:
            self.refresh_notes()

    def refresh_notes(self) -> dict[str, Any]:
        """Re-read KENETIC.md and user.md; import nanobot memory once (on open, on change)."""
        out: dict[str, Any] = dict(notes.sync_notes(self.index, self.workspace))
        if self.workspace is not None:
            out["imported"] = notes.import_nanobot(self.index, self.workspace)
        return out

    # -- kenetic/memory/* -------------------------------------------------------------------

    def recall(
        self,
        query: str,
        k: int = 10,
        kinds: list[str] | None = None,
        *,
        language: str | None = None,
        uri: str | None = None,
        since: float | None = None,
        until: float | None = None,
        trigger: str | None = "kenetic/memory/recall",
    ) -> dict[str, Any]:
        hits = self.index.recall(
            query,
            k,
            kinds=tuple(kinds) if kinds else None,
            language=language,
            uri=uri,
            since=since,
            until=until,
            reinforce=True,
        )
        nodes = [h.item.node for h in hits]
        self.moments.record("recalled", None, trigger, nodes, {"query": query[:200], "k": k})
        return {"items": [h.to_json() for h in hits]}

    def store_item(
        self, text: str, kind: str = "note", metadata: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        meta = dict(metadata or {})
        unknown = set(meta) - set(METADATA_KEYS)
        if unknown:
            raise ValueError(f"unknown metadata {sorted(unknown)}: expected {METADATA_KEYS}")
        if kind not in ITEM_KINDS:
            raise ValueError(f"unknown memory kind {kind!r}: expected {', '.join(ITEM_KINDS)}")
        item = MemoryItem(
            kind=kind,
            text=text,
            ref_id=str(meta["ref"]) if meta.get("ref") is not None else None,
            language=meta.get("language"),
            uri=meta.get("uri"),
            source=meta.get("source", "user"),
            importance=float(meta.get("importance", 0.5)),
            pinned=bool(meta.get("pinned", False)),
            protected=bool(meta.get("protected", False)),
            data=dict(meta.get("data") or {}),
        )
        item_id, stored = self.index.add(item)
        if item_id is None:
            raise RuntimeError("the store could not write the memory item")
        node = item.node if stored else (self.index.get(item_id) or item).node
        self.moments.record(
            "stored", node, "kenetic/memory/store", (), {"item": item_id, "duplicate": not stored}
        )
        return {"id": item_id, "node": node, "stored": stored}

    def link(
        self, src: str, dst: str, link_type: str = "related", weight: float = 1.0
    ) -> dict[str, Any]:
        link = graph.add_link(self.store, src, dst, link_type, weight)
        self.moments.record("linked", src, "kenetic/memory/link", [dst], {"type": link_type})
        return {"link": link.to_json()}

    def path(
        self,
        src: str,
        dst: str,
        types: list[str] | None = None,
        *,
        directed: bool = False,
        max_depth: int = 6,
    ) -> dict[str, Any]:
        self.store.flush()  # a link made a moment ago counts
        found = graph.shortest_path(
            self.store,
            src,
            dst,
            tuple(types) if types else None,
            directed=directed,
            max_depth=max_depth,
        )
        if found is None:
            return {"found": False, "nodes": [], "links": []}
        return {
            "found": True,
            "nodes": graph.path_nodes(src, found),
            "links": [lk.to_json() for lk in found],
        }

    def stats(self) -> dict[str, Any]:
        out = self.index.stats()
        out["episodes"] = dict(self.store.stats.episodes)
        out["moments"] = self.store.query("SELECT count(*) FROM memory_moments")[0][0]
        return out

    # -- kenetic/als, kenetic/moments -------------------------------------------------------

    def als_state(self) -> dict[str, Any]:
        return self.als.to_json()

    def record_outcome(
        self,
        outcome: str,
        suggestion: str | None = None,
        *,
        skill: str | None = None,
        trigger: str = "kenetic.recordOutcome",
    ) -> dict[str, Any]:
        """A suggestion's outcome moves the ALS knobs and is a moment (linked to the skill that
        was suggested); returns the new ALS."""
        was_quiet = self.als.quiet()
        state = self.als.record_outcome(outcome)
        if not was_quiet and self.als.quiet():
            s = self.als.settings
            self.als.reflect(
                f"{s.quiet_after} suggestions in a row turned down: no unasked-for suggestions"
                f" for {s.quiet_s:g} s",
                source="outcomes",
            )
        linked = [graph.node_key("skill", skill)] if skill else []
        data: dict[str, Any] = {"outcome": outcome}
        if suggestion:
            data["suggestion"] = suggestion
        self.moments.record("outcome", linked[0] if linked else None, trigger, linked, data)
        return state.to_json()

    def observe_episode(self, episode: Episode) -> None:
        """The ALS focus follows the developer: the document and syntax node of the last edit,
        the task of the last agent run; an agent run's end is also a reflection."""
        if episode.kind == "edit" and episode.uri:
            node = (episode.data.get("node") or {}).get("after") or {}
            lines = str(node.get("text") or "").strip().splitlines()
            symbol = lines[0].strip()[:80] if lines else None
            self.als.set_focus(uri=episode.uri, symbol=symbol, now=episode.ended_at)
        elif episode.kind == "agent":
            task = str(episode.data.get("task") or "").strip()[:200]
            self.als.set_focus(uri=episode.uri, task=task or None, now=episode.ended_at)
            outcome = episode.data.get("outcome")
            if task and outcome:
                self.als.reflect(f"agent task {task!r}: {outcome}", "agent", episode.ended_at)

    def learned_skill(self, name: str, support: int, language: str | None) -> None:
        """A new skill is a reflection: what kenetic has just learned to offer."""
        where = f" ({language})" if language else ""
        self.als.reflect(f"learned skill {name}{where} from {support} examples", "mining")

    def recent_moments(self, n: int = 20) -> dict[str, Any]:
        self.store.flush()
        return {"moments": [m.to_json() for m in self.moments.last(n)]}

    # -- commands: kenetic.remember, kenetic.checkpoint, kenetic/checkpoints ----------------

    def remember(
        self, text: str, heading: str | None = None, scope: str = "project"
    ) -> dict[str, Any]:
        path = notes.remember(text, heading, scope, self.workspace)  # type: ignore[arg-type]
        self.refresh_notes()
        return {"path": str(path), "scope": scope, "heading": heading or notes.DEFAULT_HEADING}

    def checkpoint(self, description: str = "") -> dict[str, Any]:
        self.index.save()  # not needed to restore, but keeps the vectors current
        cid = checkpoints.checkpoint(self.store, description)
        meta = next(m for m in checkpoints.list_checkpoints(self.store.path) if m["id"] == cid)
        return meta

    def list_checkpoints(self) -> dict[str, Any]:
        return {"checkpoints": checkpoints.list_checkpoints(self.store.path)}

    def close(self) -> None:
        """Persist vectors; the store stays open (close it after, or restore into it)."""
        self.index.close()
