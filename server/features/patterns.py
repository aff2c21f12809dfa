"""Reasoning patterns as LSP features: mined at kenetic.freeze, listed, offered as code actions.

A pattern is a step sequence that solved a class of tasks here (docs/agent.md). `kenetic.freeze`
turns the frozen session's agent and command episodes into patterns twice over: the
deterministic miner (frequent step sequences across the recent history, no LLM) and, when a
provider is configured, the summarisation model (strict JSON, repaired when malformed).

Patterns are stored as memory items of kind "pattern" (ref = the pattern id, the full pattern in
`data`), not in a table of their own: memory already has the kind, recall finds patterns by
meaning for the agent's context, `pattern:<id> -> episode:<n>` links record where each came
from, and re-mining the same steps upserts by ref instead of duplicating. No migration needed,
so nothing races the other features' schema numbers.

The code action handler is synchronous, so each folder's patterns are cached here and refreshed
when a freeze stores new ones or a store is reopened.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import sqlite3
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from memory.recall.items import MemoryItem
from server.features.memory import MemoryService
from server.protocol import PatternParams, PatternsParams, validate

if TYPE_CHECKING:
    from memory.recall.api import WorkspaceMemory
    from server.server import KeneticServer
    from server.workspaces import Folder

log = logging.getLogger(__name__)

KIND = "refactor.rewrite.kenetic"  # the kind skills advertise; patterns share it
RUN_PATTERN = "kenetic.runPattern"
MAX_ACTIONS = 3
HISTORY = 500  # recent episodes the miner looks at: a pattern must recur across sessions
LLM_TIMEOUT_S = 60.0


def pattern_id(steps: list[str]) -> str:
    """Stable across freezes: the same steps are the same pattern, whoever found them."""
    return hashlib.sha1(json.dumps(steps).encode()).hexdigest()[:12]


def minable(episode: dict[str, Any]) -> bool:
    """Agent tasks and the developer's own commands; kenetic's own commands are not steps."""
    if episode.get("kind") == "agent":
        return True
    return episode.get("kind") == "command" and episode.get("source") != "editor"


def read_patterns(store: Any, limit: int = 10_000) -> list[dict[str, Any]]:
    """A folder's patterns, most supported first (none when the store cannot be read)."""
    try:
        rows = store.query(
            "SELECT ref_id, data, created_at FROM memory_items WHERE kind = 'pattern'"
        )
    except sqlite3.OperationalError:
        return []
    out = []
    for row in rows:
        try:
            data = json.loads(row["data"] or "{}")
        except ValueError:
            continue
        if isinstance(data, dict) and data.get("steps"):
            out.append({**data, "id": row["ref_id"], "createdAt": row["created_at"]})
    out.sort(key=lambda p: (-int(p.get("support", 1)), -p["createdAt"], p.get("name", "")))
    return out[:limit]


def persist(mem: WorkspaceMemory, patterns: list[dict[str, Any]], session: str) -> list[dict]:
    """Store patterns as memory items (upsert by id) linked to their episodes; off the loop."""
    stored = []
    for p in patterns:
        pid = pattern_id(p["steps"])
        record = {**p, "id": pid, "sessionId": session}
        item = MemoryItem(
            kind="pattern",
            text=f"{p['name']}: {' -> '.join(p['steps'])}",
            ref_id=pid,
            source=str(p.get("source", "miner")),
            importance=0.7,
            protected=True,  # learned from several episodes: not pruned like one episode
            data=record,
        )
        item_id, _ = mem.index.add(item, gate=False)
        if item_id is None:
            continue
        for episode_id in p.get("episodeIds") or []:
            try:
                mem.link(f"pattern:{pid}", f"episode:{episode_id}", "derivedFrom")
            except ValueError as exc:
                log.debug("pattern link skipped: %s", exc)
        stored.append(record)
    mem.store.flush()
    return stored


class PatternService:
    """Each folder's patterns, cached for the synchronous code action handler."""

    def __init__(self, server: KeneticServer) -> None:
        self.server = server
        self._cache: dict[str, list[dict[str, Any]]] = {}

    def forget(self, folder: Folder) -> None:
        self._cache.pop(folder.uri, None)

    def cached(self, folder: Folder) -> list[dict[str, Any]]:
        if folder.uri not in self._cache and folder.store is not None:
            self._cache[folder.uri] = read_patterns(folder.store)
        return self._cache.get(folder.uri, [])

    def find(self, pattern: str) -> tuple[Folder, dict[str, Any]] | None:
        for folder in self.server.workspaces.all():
            for p in self.cached(folder):
                if p["id"] == pattern:
                    return folder, p
        return None

    def code_actions(self, params: types.CodeActionParams) -> list[types.CodeAction]:
        """`Run pattern: <name>` for the folder's best patterns; each starts an agent task."""
        only = params.context.only
        if only and not any(KIND.startswith(k) for k in only):
            return []
        uri = params.text_document.uri
        folder = self.server.workspaces.folder_for(uri)
        if folder is None:
            return []
        out = []
        for p in self.cached(folder)[:MAX_ACTIONS]:
            title = f"Run pattern: {p['name']}"
            out.append(
                types.CodeAction(
                    title=title,
                    kind=KIND,
                    command=types.Command(
                        title=title,
                        command=RUN_PATTERN,
                        arguments=[
                            {
                                "id": p["id"],
                                "uri": uri,
                                "range": {
                                    "start": {
                                        "line": params.range.start.line,
                                        "character": params.range.start.character,
                                    },
                                    "end": {
                                        "line": params.range.end.line,
                                        "character": params.range.end.character,
                                    },
                                },
                            }
                        ],
                    ),
                )
            )
        return out

    async def freeze(self, session: str) -> list[dict[str, Any]]:
        """Mine the frozen session (and the history it repeats) into stored patterns."""
        found: list[dict[str, Any]] = []
        for folder in self.server.workspaces.all():
            if folder.store is None:
                continue
            try:
                found += await self._freeze_folder(folder, session)
            except JsonRpcInvalidParams as exc:  # memory could not open: no patterns there
                log.warning("no patterns for %s: %s", folder.uri, exc)
        return found

    async def _freeze_folder(self, folder: Folder, session: str) -> list[dict[str, Any]]:
        from server.agent.patterns import mine_patterns

        store = folder.store
        assert store is not None

        def history() -> list[dict[str, Any]]:
            store.flush()  # the session's last episodes count
            return [e.to_json() for e in store.episodes(limit=HISTORY)]

        episodes = [e for e in await asyncio.to_thread(history) if minable(e)]
        ours = {e["id"] for e in episodes if e["sessionId"] == session}
        if not ours:
            return []
        episodes.reverse()  # oldest first: commands of a session in the order they ran
        mined = [p for p in mine_patterns(episodes) if ours & set(p["episodeIds"])]
        session_episodes = [e for e in episodes if e["id"] in ours]
        named = await self._from_llm(folder, session_episodes)
        merged = {pattern_id(p["steps"]): p for p in [*mined, *named]}
        if not merged:
            return []
        stored = await self.server.service(MemoryService).call(
            folder.uri, lambda m: persist(m, list(merged.values()), session)
        )
        self.forget(folder)
        return stored

    async def _from_llm(self, folder: Folder, episodes: list[dict[str, Any]]) -> list[dict]:
        """The summarisation model's patterns; none when no provider is configured or it fails."""
        from server.agent import (
            AgentConfigError,
            JsonRepairError,
            LLMError,
            LLMGateway,
            patterns_from_llm,
        )

        if not folder.settings.agent.enabled:
            return []
        try:
            llm = LLMGateway.from_settings(folder.settings.agent)
        except AgentConfigError:
            return []  # the miner needs no LLM
        try:
            patterns, _usage = await asyncio.wait_for(
                patterns_from_llm(episodes, llm), LLM_TIMEOUT_S
            )
        except (LLMError, JsonRepairError, TimeoutError) as exc:
            log.warning("patterns from the LLM failed (%s); the miner's stand", exc)
            return []
        return patterns


def setup(server: KeneticServer) -> None:
    service = PatternService(server)
    server.attach(service)
    server.workspaces.store_opened.append(service.forget)

    @server.feature("kenetic/patterns")
    async def patterns(ls: KeneticServer, params: Any) -> dict[str, Any]:
        """Reasoning patterns of every folder, most supported first."""
        p = validate(PatternsParams, params)

        def read() -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = []
            for folder in ls.workspaces.all():
                if folder.store is not None:
                    found += read_patterns(folder.store, p.limit)
            found.sort(key=lambda x: (-int(x.get("support", 1)), -x["createdAt"]))
            return found[: p.limit]

        return {"patterns": await asyncio.to_thread(read)}

    @server.feature("kenetic/pattern")
    async def pattern(ls: KeneticServer, params: Any) -> dict[str, Any]:
        """One pattern: its steps, template, support and the episodes it came from."""
        p = validate(PatternParams, params)
        found = await asyncio.to_thread(ls.service(PatternService).find, p.id)
        if found is None:
            raise JsonRpcInvalidParams(f"no pattern {p.id!r}")
        return found[1]


def pattern_actions(ls: KeneticServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    """The `Run pattern: <name>` code actions (the skills feature's codeAction handler asks)."""
    service = ls.find(PatternService)
    if service is None:
        return []
    try:
        return service.code_actions(params)
    except Exception:  # a broken pattern must never take the skill actions down with it
        log.exception("pattern code actions failed")
        return []
