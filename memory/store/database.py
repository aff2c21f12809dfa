"""The project store: one SQLite file per workspace folder, written by one thread.

LSP handlers must never wait on disk, so every write goes through a queue that a single writer
thread drains in small transactions. An episode counts as stored only after its transaction
commits; with WAL and `synchronous=NORMAL` a committed transaction survives the server process
being killed. A file that is not ours (corrupt, foreign, from a newer kenetic, read-only) is
refused with a clear error and never written to.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memory.store.migrations import MIGRATIONS, latest_version

log = logging.getLogger(__name__)

APPLICATION_ID = 0x4B4E5443  # "KNTC": marks a SQLite file as a kenetic store
SQLITE_MAGIC = b"SQLite format 3\x00"
EPISODE_KINDS = ("edit", "command", "agent")


class StoreError(Exception):
    """A store that cannot be used; the message is meant for the user."""


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


def _check_file(path: Path) -> None:
    """Refuse, before SQLite touches it, any existing file that is not a kenetic store."""
    if not path.exists():
        parent = path.parent
        while not parent.exists():
            parent = parent.parent
        if not os.access(parent, os.W_OK):
            raise StoreError(f"kenetic store {path}: directory {parent} is not writable")
        return
    if path.is_dir():
        raise StoreError(f"kenetic store {path} is a directory, not a database file")
    if not os.access(path, os.R_OK | os.W_OK) or not os.access(path.parent, os.W_OK):
        raise StoreError(f"kenetic store {path} is read-only; capture is off until it is writable")
    size = path.stat().st_size
    if size == 0:
        return
    with path.open("rb") as f:
        head = f.read(16)
    if head != SQLITE_MAGIC:
        raise StoreError(
            f"kenetic store {path} is not a SQLite database (corrupt or foreign file); "
            "it was left untouched: move it away to start a new store"
        )


def open_connection(path: Path, *, create: bool) -> sqlite3.Connection:
    """Open (and on first use create and migrate) a store; raises StoreError for the user."""
    _check_file(path)
    existed = path.exists() and path.stat().st_size > 0
    if not existed and not create:
        raise StoreError(f"no kenetic store at {path}")
    if not existed:
        path.parent.mkdir(parents=True, exist_ok=True)
        gitignore = path.parent / ".gitignore"
        if path.parent.name == ".kenetic" and not gitignore.exists():
            gitignore.write_text("*\n")
    try:
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"kenetic store {path} is corrupt ({exc}); it was left untouched") from exc
    if app_id != APPLICATION_ID and (app_id != 0 or tables > 0):
        conn.close()
        raise StoreError(
            f"{path} is a SQLite database that kenetic did not create; it was left untouched"
        )
    if version > latest_version():
        conn.close()
        raise StoreError(
            f"kenetic store {path} was written by a newer kenetic (schema {version}); "
            "upgrade kenetic to use it"
        )
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    if version < latest_version():
        _migrate(conn, version)
    return conn


def _migrate(conn: sqlite3.Connection, version: int) -> None:
    for number in range(version + 1, latest_version() + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[number - 1].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version={number}")
            conn.execute("COMMIT")
        except Exception:
            conn.execute("ROLLBACK")
            raise
        log.info("store migrated to schema %d", number)


@dataclass
class _Write:
    sql: str
    args: tuple[Any, ...]
    episode: Episode | None = None
    done: Callable[[int | None], None] | None = None


@dataclass
class StoreStats:
    episodes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(EPISODE_KINDS, 0))
    failed_writes: int = 0


class Store:
    """A project or user store: reads on a shared connection, writes through one thread."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = path
        self._read = open_connection(path, create=create)
        self._read_lock = threading.Lock()
        self._queue: queue.Queue[_Write | None] = queue.Queue()
        self._inflight = 0
        self._lock = threading.Lock()
        self.stats = StoreStats()
        # called on the writer thread with each episode once it committed (its id set);
        # listeners must only hand work to their own threads
        self.episode_listeners: list[Callable[[Episode], None]] = []
        # called with each memory.skills.skill_store.StoredSkill saved (created, widened, renamed or
        # deleted), on the thread that saved it, before the write commits; same rule
        self.skill_listeners: list[Callable[[Any], None]] = []
        for kind, count in self._read.execute("SELECT kind, count(*) FROM episodes GROUP BY kind"):
            self.stats.episodes[kind] = count
        self._writer = threading.Thread(target=self._drain, name=f"kenetic-writer:{path}")
        self._writer.daemon = True
        self._writer.start()

    # -- writes -------------------------------------------------------------------------------

    def add_episode(
        self, episode: Episode, done: Callable[[int | None], None] | None = None
    ) -> None:
        """Queue an episode; `done` gets its id from the writer thread after it commits."""
        if episode.kind not in EPISODE_KINDS:
            raise ValueError(f"unknown episode kind {episode.kind!r}")
        self._put(
            _Write(
                "INSERT INTO episodes (kind, session_id, uri, language, started_at, ended_at,"
                " data) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    episode.kind,
                    episode.session_id,
                    episode.uri,
                    episode.language,
                    episode.started_at,
                    episode.ended_at,
                    json.dumps(episode.data, ensure_ascii=False),
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
        self._put(_Write(sql, args, done=done))

    def _put(self, item: _Write) -> None:
        with self._lock:
            self._inflight += 1
        self._queue.put(item)

    @property
    def pending(self) -> int:
        """Writes queued or in a transaction that has not committed yet."""
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
            self._commit(conn, batch)
        conn.close()

    def _commit(self, conn: sqlite3.Connection, batch: list[_Write]) -> None:
        ids: list[int | None] = []
        try:
            conn.execute("BEGIN")
            for w in batch:
                cur = conn.execute(w.sql, w.args)
                ids.append(cur.lastrowid)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            log.error("store write failed (%s); %d writes lost", exc, len(batch))
            with contextlib.suppress(sqlite3.Error):  # nothing to roll back
                conn.execute("ROLLBACK")
            self.stats.failed_writes += len(batch)
            ids = [None] * len(batch)
        for w, rowid in zip(batch, ids, strict=True):
            if w.episode is not None and rowid is not None:
                self.stats.episodes[w.episode.kind] += 1
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
        self._queue.put(None)
        self._writer.join(timeout=10)
        with self._read_lock:
            self._read.close()

    # -- reads --------------------------------------------------------------------------------

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
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
