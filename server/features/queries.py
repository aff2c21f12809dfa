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
    failed, write_error = 0, None
    for folder in folders:
        if folder.store is not None:
            # counted from the store itself: episodes another window's server wrote count too
            store_stats = folder.store.stats
            for kind, count in store_stats.episodes.items():
                episodes[kind] = episodes.get(kind, 0) + count
            pending += folder.store.pending
            failed += store_stats.failed_writes
            write_error = write_error or store_stats.write_error
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
        "failedWrites": failed,
        "writeError": write_error,
        "store": stores[0] if stores else None,
        "stores": stores,
        "ranker": skills.get("ranker", "rules"),
        # the TRM's state: training, outcome sets, model version (server.suggest.trm_state)
        "trm": skills.get("trm"),
        # the site model: whether one shipped, and how many outcomes it learned from
        "siteModel": skills.get("siteModel", {"shipped": False, "updates": 0}),
        "sessionId": ls.session_id,
        "skipped": len(ls.service(CaptureService).skipped),
        # the TRM ranker imports torch lazily: clients show whether it has been loaded
        "torchLoaded": "torch" in sys.modules,
        # the team store's sync (server.team_sync): state, what waits to be pushed, last sync
        "team": ls.workspaces.team.stats(),
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
