"""Team sync: one background thread per workspace folder that shares skills (team.share).

Local-first: the editor reads the folder's SQLite store only; this thread pushes the
developer's new and changed skill cards and outcome deltas to the team database and pulls the
others' cards into the store, where the folder's library picks them up (Library.refresh). It
never runs on the event loop, so a slow or stopped database never holds a request. A failed
cycle is retried with backoff (doubling, capped); what is pending is read from the store
(memory.team.local), so nothing is lost while the database is away, nor across restarts.
`kenetic/stats` shows `team: {state, pending, lastSync}`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from memory.store.database import Store
from server.settings import Settings

if TYPE_CHECKING:
    from memory.team.client import TeamClient

log = logging.getLogger(__name__)

BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 300.0
DELTAS_PER_PUSH = 5000
# skills saved within this long before a cycle's start are looked at again on the next cycle:
# the writer may commit a skill stamped a while before (its queue behind, its disk full)
RESCAN_SLACK_S = 600.0
# worst first: the folders' states folded into the one `team.state` of kenetic/stats
STATES = ("error", "offline", "syncing", "idle", "off")


class Folder(Protocol):
    """What the sync reads of a server.workspaces.Folder (which imports this module)."""

    uri: str
    settings: Settings
    store: Store | None


def _redact(value: Any) -> tuple[Any, int]:
    from server.capture.privacy import redact_strings  # detect-secrets loads on first use

    return redact_strings(value)


class FolderSync:
    """The sync thread of one folder's store and team database."""

    def __init__(
        self, folder: Folder, store: Store, url: str, notify: Callable[[str], None]
    ) -> None:
        self.folder = folder
        self.store = store
        self.url = url
        self._notify = notify
        self.state = "syncing"
        self.pending = 0
        self.last_sync: float | None = None
        self.error: str | None = None
        self.refused = 0  # rows of the team database refused as malformed (since start)
        self.withheld = 0  # own cards not sent: redaction would have changed them
        self._since = 0.0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._client: TeamClient | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"kenetic-team:{folder.uri}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def wake(self) -> None:
        self._wake.set()

    def _interval(self) -> float:
        return self.folder.settings.team.sync_interval_ms / 1000.0

    def _run(self) -> None:
        backoff = BACKOFF_FIRST_S
        while not self._stop.is_set():
            from memory.team.client import TeamError, TeamOffline

            try:
                self._cycle()
                backoff = BACKOFF_FIRST_S
                wait = self._interval()
            except TeamOffline as exc:
                why = f"kenetic: the team database is unreachable ({exc});"
                self._failed("offline", why + " skills and outcomes wait and are pushed later")
                wait, backoff = backoff, min(2 * backoff, BACKOFF_MAX_S)
            except TeamError as exc:
                self._failed("error", f"kenetic: team sync failed: {exc}")
                wait, backoff = backoff, min(2 * backoff, BACKOFF_MAX_S)
            except Exception as exc:  # the sync thread must never die
                log.exception("team sync of %s failed", self.folder.uri)
                self._failed("error", f"kenetic: team sync failed: {type(exc).__name__}: {exc}")
                wait, backoff = backoff, min(2 * backoff, BACKOFF_MAX_S)
            self._wake.wait(wait)
            self._wake.clear()
        if self._client is not None:
            self._client.close()

    def _failed(self, state: str, message: str) -> None:
        first = self.state != state or self.error != message
        self.state, self.error = state, message
        if first:
            log.warning("%s (workspace folder %s)", message, self.folder.uri)
            self._notify(f"{message} (workspace folder {self.folder.uri})")

    def _cycle(self) -> None:
        from memory.team.client import TeamClient
        from memory.team.local import LocalTeam

        started = time.time()
        if self.state not in ("offline", "error"):
            self.state = "syncing"
        local = LocalTeam(self.store, self.url)
        developer = local.developer()
        if self._client is None:
            self._client = TeamClient(self.url, developer)
        client = self._client
        out = local.outgoing(developer, _redact, self._since)
        self.withheld += out.withheld
        self.pending = local.pending_deltas() + len(out.cards)
        if out.cards:
            client.push_cards([card for card, _ in out.cards])
            local.pushed(out.cards)
        while not self._stop.is_set():
            cursor = local.outcome_cursor()
            deltas, upto = local.outgoing_deltas(DELTAS_PER_PUSH)
            if upto == cursor:
                break
            if deltas:
                client.push_deltas(deltas)
            local.set_outcome_cursor(upto)  # after the commit: a crash here pushes again
        pulled = client.pull(local.pull_cursor())
        for why in pulled.refused:
            log.warning("team card refused: %s", why)
        self.refused += len(pulled.refused)
        local.apply(pulled.cards, pulled.totals)
        local.set_pull_cursor(pulled.cursor)  # waits for the commit of what apply wrote
        self.pending = local.pending_deltas()
        self._since = started - RESCAN_SLACK_S
        self.last_sync = time.time()
        self.state, self.error = "idle", None

    def stats(self) -> dict[str, Any]:
        return {
            "folder": self.folder.uri,
            "state": self.state,
            "pending": self.pending,
            "lastSync": _iso(self.last_sync),
            "error": self.error,
            "refused": self.refused,
            "withheld": self.withheld,
        }


def _iso(at: float | None) -> str | None:
    return None if at is None else datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


class TeamSync:
    """The folders' sync threads, started and stopped with their stores and settings."""

    def __init__(self, notify: Callable[[str], None]) -> None:
        self._notify = notify
        self._lock = threading.Lock()
        self._syncs: dict[int, FolderSync] = {}  # id(folder) -> its sync

    @staticmethod
    def _wanted(folder: Folder) -> str | None:
        team = folder.settings.team
        if team.share != "skills" or not team.url or folder.store is None:
            return None
        return team.url

    def update(self, folder: Folder) -> None:
        """Start, restart or stop the folder's sync to match its store and settings."""
        url = self._wanted(folder)
        with self._lock:
            sync = self._syncs.get(id(folder))
            if sync is not None and (sync.url != url or sync.store is not folder.store):
                del self._syncs[id(folder)]
                sync.stop()
                sync = None
            if sync is None and url is not None and folder.store is not None:
                sync = self._syncs[id(folder)] = FolderSync(folder, folder.store, url,
                                                            self._notify)  # fmt: skip
                sync.start()

    def closed(self, folder: Folder) -> None:
        with self._lock:
            sync = self._syncs.pop(id(folder), None)
        if sync is not None:
            sync.stop()

    def close(self) -> None:
        with self._lock:
            syncs = list(self._syncs.values())
            self._syncs.clear()
        for sync in syncs:
            sync._stop.set()
            sync._wake.set()
        for sync in syncs:
            sync.stop()

    def stats(self) -> dict[str, Any]:
        """`team` of kenetic/stats: the worst state, pending summed, the oldest last sync."""
        with self._lock:
            folders = [s.stats() for s in self._syncs.values()]
        if not folders:
            return {"state": "off", "pending": 0, "lastSync": None}
        state = min((f["state"] for f in folders), key=STATES.index)
        synced = [f["lastSync"] for f in folders]
        return {
            "state": state,
            "pending": sum(f["pending"] for f in folders),
            "lastSync": None if None in synced else min(synced),
            "error": next((f["error"] for f in folders if f["error"]), None),
            "refused": sum(f["refused"] for f in folders),
            "withheld": sum(f["withheld"] for f in folders),
            "folders": folders,
        }
