"""The store's one writer: batches of queued writes committed in small transactions.

The writer thread must never die, and no write may be lost to a condition that passes. Each
batch runs in one transaction; when it fails the transaction is rolled back and

- a *transient* failure (the disk or a file-size limit is full, an I/O error, another process
  holding the lock too long) keeps the batch: it is retried with backoff until it commits, and
  the outage is reported once (Store.write_listeners) and shown in the store's stats;
- any other failure (a statement SQLite refuses, a value Python cannot bind) is isolated: the
  batch's writes are retried one by one, so only the bad write is lost; it is logged and
  counted in `failed_writes`.

Every text argument goes through memory.store.text.storable first, so a string no encoding
accepts never reaches SQLite.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from memory.store.text import storable

EPISODE_KINDS = ("edit", "command", "agent")

# SQLite's primary result codes that say "not now" rather than "never": the write is kept
SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR, SQLITE_FULL, SQLITE_PROTOCOL = 5, 6, 10, 13, 15
TRANSIENT = frozenset({SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR, SQLITE_FULL, SQLITE_PROTOCOL})
RETRY_FIRST_S = 0.1  # first wait before retrying a held batch; doubles up to RETRY_MAX_S
RETRY_MAX_S = 2.0


@dataclass
class Write:
    sql: str
    args: tuple[Any, ...]
    episode: Any = None  # a memory.store.database.Episode (typed loosely: no import circle)
    done: Callable[[int | None], None] | None = None


@dataclass
class StoreStats:
    episodes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(EPISODE_KINDS, 0))
    failed_writes: int = 0  # writes lost for good: a statement that can never commit
    write_errors: int = 0  # transactions that failed, those retried until they committed too
    write_error: str | None = None  # why writes are held right now; None while they commit


def is_transient(exc: BaseException) -> bool:
    """Will the same write succeed later (disk full, I/O error, busy)?"""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.Error) and code is not None and code & 0xFF in TRANSIENT


def _bindable(arg: Any) -> Any:
    if isinstance(arg, str):
        return storable(arg)
    conform = getattr(arg, "__conform__", None)
    if conform is not None:  # adapted here, on the writer thread, so its text is checked too
        adapted = conform(sqlite3.PrepareProtocol)
        return storable(adapted) if isinstance(adapted, str) else adapted
    return arg


def run_batch(conn: sqlite3.Connection, batch: list[Write]) -> list[int | None]:
    """Run a batch in one transaction; row ids, or the exception after a rollback."""
    ids: list[int | None] = []
    try:
        conn.execute("BEGIN")
        for w in batch:
            cur = conn.execute(w.sql, tuple(_bindable(a) for a in w.args))
            ids.append(cur.lastrowid)
        conn.execute("COMMIT")
    except BaseException:
        # no transaction open (BEGIN failed, or a failed COMMIT rolled back): nothing to undo
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    return ids
