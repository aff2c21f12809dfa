"""The project store: one SQLite file per workspace folder, written by one thread.

LSP handlers must never wait on disk, so every write goes through a queue that a single writer
thread drains in small transactions. An episode counts as stored only after its transaction
commits; with WAL and `synchronous=NORMAL` a committed transaction survives the server process
being killed. A file that is not ours (corrupt, foreign, from a newer kenetic, read-only) is
refused with a clear error and never written to.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memory.store.opening import APPLICATION_ID, StoreError, open_connection
from memory.store.text import storable, storable_value
from memory.store.writer import (
    EPISODE_KINDS,
    RETRY_FIRST_S,
    RETRY_MAX_S,
    StoreStats,
    Write,
    is_transient,
    run_batch,
)

log = logging.getLogger(__name__)

__all__ = [
    "APPLICATION_ID",
    "EPISODE_KINDS",
    "Episode",
    "Store",
    "StoreError",
    "StoreStats",
    "open_connection",
]


def kenetic_home() -> Path | None:
    home = os.environ.get("KENETIC_HOME")
    return Path(home) if home else None


def project_store_path(folder: Path, configured: str | None = None) -> Path:
    """Where a workspace folder's store lives: setting > KENETIC_HOME > <folder>/.kenetic."""
    if configured:
        p = Path(os.path.expanduser(configured))
        return p if p.is_absolute() else folder / p
    home = kenetic_home()
    if home is not None:
        # one sub-directory per folder so multi-root workspaces keep separate stores
        slug = "".join(c if c.isalnum() else "_" for c in str(folder.resolve()))[-80:]
        return home / "projects" / slug / "kenetic.db"
    return folder / ".kenetic" / "kenetic.db"


def user_store_path() -> Path:
    home = kenetic_home()
    if home is not None:
        return home / "user" / "kenetic.db"
    data = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return Path(data) / "kenetic" / "kenetic.db"


def vector_path(store_path: Path) -> Path:
    """Where the memory vectors of a store live: beside it, derived from memory_items."""
    return store_path.with_name(store_path.stem + ".memory.vec")


@dataclass
class Episode:
    kind: str
    session_id: str
    started_at: float
    ended_at: float
    data: dict[str, Any]
    uri: str | None = None
    language: str | None = None
    id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "sessionId": self.session_id,
            "uri": self.uri,
            "language": self.language,
            "startedAt": self.started_at,
            "endedAt": self.ended_at,
            **self.data,
        }


class Store:
    """A project or user store: reads on a shared connection, writes through one thread."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = path
        self._read = open_connection(path, create=create)
        self._read_lock = threading.Lock()
        self._queue: queue.Queue[Write | None] = queue.Queue()
        self._inflight = 0
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._stats = StoreStats()
        # episodes are counted from the table itself (another process may write this store
        # too): the ids up to _counted_to are counted, recounted on when data_version moves
        self._counted_to = 0
        self._seen_version: int | None = None
        # called on the writer thread with each episode once it committed (its id set);
        # listeners must only hand work to their own threads
        self.episode_listeners: list[Callable[[Episode], None]] = []
        # called with each memory.skills.skill_store.StoredSkill saved (created, widened, renamed or
        # deleted), on the thread that saved it, before the write commits; same rule
        self.skill_listeners: list[Callable[[Any], None]] = []
        # called on the writer thread with a message when writes start failing (disk full...)
        # and are held for retry, and with None once they commit again: once per outage
        self.write_listeners: list[Callable[[str | None], None]] = []
        self._count_episodes()
        self._writer = threading.Thread(target=self._drain, name=f"kenetic-writer:{path}")
        self._writer.daemon = True
        self._writer.start()

    @property
    def stats(self) -> StoreStats:
        """Counts of what the store holds (whoever wrote it) and of failed writes."""
        self._count_episodes()
        return self._stats

    def data_version(self) -> int:
        """SQLite's data_version of the read connection: it moves whenever another connection
        (this store's writer, or another process) commits. One cheap PRAGMA."""
        with self._read_lock:
            return int(self._read.execute("PRAGMA data_version").fetchone()[0])

    def _count_episodes(self) -> None:
        with self._read_lock:
            try:
                version = self._read.execute("PRAGMA data_version").fetchone()[0]
            except sqlite3.ProgrammingError:  # closed (a restore replaced it): the last counts
                return
            if version == self._seen_version:
                return
            self._seen_version = version
            # episodes are append-only and commits are serialised, so counting the ids past
            # the last one counted is exact, for this process's writes and any other's
            for kind, count, top in self._read.execute(
                "SELECT kind, count(*), max(id) FROM episodes WHERE id > ? GROUP BY kind",
                (self._counted_to,),
            ):
                self._stats.episodes[kind] = self._stats.episodes.get(kind, 0) + count
                self._counted_to = max(self._counted_to, top)

    # -- writes -------------------------------------------------------------------------------

    def add_episode(
        self, episode: Episode, done: Callable[[int | None], None] | None = None
    ) -> None:
        """Queue an episode; `done` gets its id from the writer thread after it commits."""
        if episode.kind not in EPISODE_KINDS:
            raise ValueError(f"unknown episode kind {episode.kind!r}")
        # made storable here, so the listeners (mining, memory) see what the store holds
        episode.session_id = storable(episode.session_id)
        episode.uri = storable(episode.uri) if episode.uri is not None else None
        episode.language = storable(episode.language) if episode.language is not None else None
        data = json.dumps(episode.data, ensure_ascii=False)
        if storable(data) is not data:  # rare: rebuild the data only when a string needs it
            episode.data = storable_value(episode.data)
            data = json.dumps(episode.data, ensure_ascii=False)
        self._put(
            Write(
                "INSERT INTO episodes (kind, session_id, uri, language, started_at, ended_at,"
                " data) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    episode.kind,
                    episode.session_id,
                    episode.uri,
                    episode.language,
                    episode.started_at,
                    episode.ended_at,
                    data,
                ),
                episode=episode,
                done=done,
            )
        )

    def execute_later(
        self,
        sql: str,
        args: tuple[Any, ...] = (),
        done: Callable[[int | None], None] | None = None,
    ) -> None:
        """Queue a write; `done` gets the row id (None if it failed) after it commits."""
        self._put(Write(sql, args, done=done))

    def _put(self, item: Write) -> None:
        with self._lock:
            self._inflight += 1
        self._queue.put(item)

    @property
    def pending(self) -> int:
        """Writes queued, held for retry, or in a transaction that has not committed yet."""
        return self._inflight

    def _drain(self) -> None:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA synchronous=NORMAL")
        while True:
            item = self._queue.get()
            if item is None:
                break
            batch = [item]
            # small transactions: whatever queued up meanwhile, up to a bound
            while len(batch) < 256:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                batch.append(nxt)
            try:
                self._commit(conn, batch)
            except BaseException:  # the writer must never die: later writes still commit
                log.exception("store writer: a batch of %d writes failed", len(batch))
                with self._lock:
                    self._inflight -= len(batch)
        conn.close()

    def _attempt(self, conn: sqlite3.Connection, batch: list[Write]) -> list[int | None]:
        """Commit a batch: transient failures are retried until they pass (or the store
        closes); any other failure is narrowed down to the writes that cause it."""
        delay = RETRY_FIRST_S
        while True:
            try:
                ids = run_batch(conn, batch)
            except Exception as exc:
                self._stats.write_errors += 1
                if is_transient(exc) and not self._closing.is_set():
                    self._held(exc)
                    self._closing.wait(delay)
                    delay = min(2 * delay, RETRY_MAX_S)
                    continue
                if len(batch) > 1:
                    return [i for w in batch for i in self._attempt(conn, [w])]
                log.error("store write failed and was dropped (%s: %s)", type(exc).__name__, exc)
                self._stats.failed_writes += 1
                return [None]
            if self._stats.write_error is not None:
                self._stats.write_error = None
                log.warning("store %s: writes commit again", self.path)
                self._tell(None)
            return ids

    def _held(self, exc: Exception) -> None:
        first = self._stats.write_error is None
        self._stats.write_error = f"{exc} ({getattr(exc, 'sqlite_errorname', type(exc).__name__)})"
        if first:
            message = (
                f"kenetic: cannot write to the store {self.path}: {exc}. Nothing is lost yet:"
                " writes are held and retried until it can be written again."
            )
            log.error(message)
            self._tell(message)

    def _tell(self, message: str | None) -> None:
        for listener in list(self.write_listeners):
            try:
                listener(message)
            except Exception:
                log.exception("write listener failed")

    def _commit(self, conn: sqlite3.Connection, batch: list[Write]) -> None:
        ids = self._attempt(conn, batch)
        for w, rowid in zip(batch, ids, strict=True):
            if w.episode is not None and rowid is not None:
                w.episode.id = rowid
                for listener in self.episode_listeners:
                    try:
                        listener(w.episode)
                    except Exception:
                        log.exception("episode listener failed")
            if w.done is not None:
                try:
                    w.done(rowid)
                except Exception:
                    log.exception("store callback failed")
        with self._lock:
            self._inflight -= len(batch)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued write has committed (tests and shutdown)."""
        deadline = time.monotonic() + timeout
        while self._inflight and time.monotonic() < deadline:
            time.sleep(0.005)
        return self._inflight == 0

    def close(self) -> None:
        self.flush()
        self._closing.set()  # a batch still held for retry is given up (and counted) now
        self._queue.put(None)
        self._writer.join(timeout=10)
        with self._read_lock:
            self._read.close()

    # -- reads --------------------------------------------------------------------------------

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        # the same text the writer stored: a key with a surrogate finds its row
        args = tuple(storable(a) if isinstance(a, str) else a for a in args)
        with self._read_lock:
            cur = self._read.execute(sql, args)
            cur.row_factory = sqlite3.Row
            return cur.fetchall()

    def episodes(
        self, *, limit: int = 50, kind: str | None = None, uri: str | None = None
    ) -> list[Episode]:
        """Newest first."""
        where, args = [], []
        if kind:
            where.append("kind = ?")
            args.append(kind)
        if uri:
            where.append("uri = ?")
            args.append(uri)
        sql = "SELECT * FROM episodes"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        rows = self.query(sql, (*args, limit))
        return [_episode_from_row(r) for r in rows]

    def episode(self, episode_id: int) -> Episode | None:
        rows = self.query("SELECT * FROM episodes WHERE id = ?", (episode_id,))
        return _episode_from_row(rows[0]) if rows else None

    def health(self) -> dict[str, Any]:
        ok = self.query("PRAGMA quick_check")[0][0]
        version = self.query("PRAGMA user_version")[0][0]
        return {"path": str(self.path), "schema": version, "integrity": ok}


def _episode_from_row(row: sqlite3.Row) -> Episode:
    return Episode(
        id=row["id"],
        kind=row["kind"],
        session_id=row["session_id"],
        uri=row["uri"],
        language=row["language"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        data=json.loads(row["data"]),
    )
