"""Queries that return data: kenetic/stats and kenetic/episodes."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Any

from server.features.capture import CaptureService
from server.features.memory import MemoryService
from server.protocol import EpisodesParams, StatsParams, validate
from server.suggest.service import SuggestService

if TYPE_CHECKING:
    from server.server import KeneticServer

# episode fields kenetic/episodes leaves out unless asked for `full`: an edit's `structural`
# (the syntax windows the skill miner reads) is many times the size of the rest
BULKY = ("structural",)


def _slim(episode: dict[str, Any], full: bool) -> dict[str, Any]:
    if full:
        return episode
    return {k: v for k, v in episode.items() if k not in BULKY}


def stats(ls: KeneticServer) -> dict[str, Any]:
    folders = ls.workspaces.all()
    episodes = {"edit": 0, "command": 0, "agent": 0}
    pending = ls.service(CaptureService).pending + ls.service(MemoryService).pending
    for folder in folders:
        if folder.store is not None:
            for kind, count in folder.store.stats.episodes.items():
                episodes[kind] += count
            pending += folder.store.pending
    suggest = ls.find(SuggestService)
    # each folder's own ranker state beside its store (the top-level `trm` is the first's)
    stores = [
        {**f.describe(), **({"trm": suggest.ranking.store_stats(f)} if suggest else {})}
        for f in folders
    ]
    skills = suggest.stats() if suggest is not None else {}
    if suggest is not None:
        pending += suggest.pending
    return {
        "episodes": episodes,
        "skills": skills.get("skills", 0),
        "outcomes": skills.get("outcomes", {"accepted": 0, "rejected": 0, "undone": 0, "shown": 0}),
        "pending": pending,
        "store": stores[0] if stores else None,
        "stores": stores,
        "ranker": skills.get("ranker", "rules"),
        # the TRM's state: training, outcome sets, model version (server.suggest.ranking)
        "trm": skills.get("trm"),
        "sessionId": ls.session_id,
        "skipped": len(ls.service(CaptureService).skipped),
        # the TRM ranker imports torch lazily: clients show whether it has been loaded
        "torchLoaded": "torch" in sys.modules,
    }


def setup(server: KeneticServer) -> None:
    @server.feature("kenetic/stats")
    def kenetic_stats(ls: KeneticServer, params: Any) -> dict[str, Any]:
        """Counts of what is stored, and how much work is still pending."""
        validate(StatsParams, params)
        return stats(ls)

    @server.feature("kenetic/episodes")
    async def kenetic_episodes(ls: KeneticServer, params: Any) -> dict[str, Any]:
        """Stored episodes, newest first, read off the event loop."""
        p = validate(EpisodesParams, params)
        folders = ls.workspaces.all()
        if p.uri:
            owner = ls.workspaces.folder_for(p.uri)
            folders = [owner] if owner else []

        def read() -> list[dict[str, Any]]:
            found = []
            for folder in folders:
                if folder.store is not None:
                    found += [
                        _slim(e.to_json(), p.full)
                        for e in folder.store.episodes(limit=p.limit, kind=p.kind, uri=p.uri)
                    ]
            found.sort(key=lambda e: (e["endedAt"], e["id"]), reverse=True)
            return found[: p.limit]

        return {"episodes": await asyncio.to_thread(read)}
