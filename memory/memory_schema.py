"""The tables of memory proper: items for recall, typed links, key-value state, moments.

These statements become migration 3 when they are folded into memory/migrations.py; until then
`ensure_memory_schema` creates them on first use. Every statement is `IF NOT EXISTS`, so the
migration can run over a store where this module already created them. No semicolons inside
the statements or their comments: the migration runner splits on them.

Also here: the two small helpers every memory module writes through (the store's writer queue,
with a callback or a wait for the committed rowid) and the `memory_state` key-value table that
holds ALS, notes bookkeeping and counters as JSON.
"""

from __future__ import annotations

import json
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from memory.store import Store

MEMORY_SCHEMA: list[str] = [
    # one recallable thing: an episode, a skill, a pattern or a note, with its text and vector
    # (the vector lives in the VectorIndex under the item id). AUTOINCREMENT: an id is never
    # reused, so a vector file can never pair an old vector with a new item.
    """CREATE TABLE IF NOT EXISTS memory_items (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL CHECK (kind IN ('episode', 'skill', 'pattern', 'note')),
        ref_id TEXT,
        text TEXT NOT NULL,
        language TEXT,
        uri TEXT,
        source TEXT,
        created_at REAL NOT NULL,
        used_at REAL NOT NULL,
        use_count INTEGER NOT NULL DEFAULT 0,
        importance REAL NOT NULL DEFAULT 0.5,
        pinned INTEGER NOT NULL DEFAULT 0,
        protected INTEGER NOT NULL DEFAULT 0,
        data TEXT NOT NULL DEFAULT '{}'
    )""",
    "CREATE UNIQUE INDEX IF NOT EXISTS memory_items_by_ref ON memory_items (kind, ref_id)",
    "CREATE INDEX IF NOT EXISTS memory_items_by_created ON memory_items (created_at)",
    "CREATE INDEX IF NOT EXISTS memory_items_by_uri ON memory_items (uri)",
    # typed, directed links between nodes named 'episode:12', 'skill:<id>', 'pattern:<id>',
    # 'note:<ref>' or 'item:<id>' (an item with no ref)
    """CREATE TABLE IF NOT EXISTS memory_links (
        src TEXT NOT NULL,
        dst TEXT NOT NULL,
        type TEXT NOT NULL,
        weight REAL NOT NULL DEFAULT 1.0,
        created_at REAL NOT NULL,
        PRIMARY KEY (src, dst, type)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS memory_links_by_dst ON memory_links (dst, type)",
    # small JSON documents: 'als', 'notes.imported', 'memory.counters'
    """CREATE TABLE IF NOT EXISTS memory_state (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at REAL NOT NULL
    )""",
    # the last n memory events with their perspective (FAKR's memory moments)
    """CREATE TABLE IF NOT EXISTS memory_moments (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        event TEXT NOT NULL,
        subject TEXT,
        trigger TEXT,
        linked TEXT NOT NULL DEFAULT '[]',
        data TEXT NOT NULL DEFAULT '{}'
    )""",
]

_ensured: weakref.WeakSet[Store] = weakref.WeakSet()
_ensure_lock = threading.Lock()


def ensure_memory_schema(store: Store) -> None:
    """Create the memory tables in `store` if missing (once per Store object; waits a commit)."""
    with _ensure_lock:
        if store in _ensured:
            return
        for statement in MEMORY_SCHEMA:
            store.execute_later(statement)
        if not store.flush():
            raise RuntimeError(f"kenetic store {store.path}: memory schema was not committed")
        missing = {"memory_items", "memory_links", "memory_state", "memory_moments"} - {
            r[0] for r in store.query("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        if missing:
            raise RuntimeError(f"kenetic store {store.path}: could not create {sorted(missing)}")
        _ensured.add(store)


def write(
    store: Store,
    sql: str,
    args: tuple[Any, ...] = (),
    done: Callable[[int | None], None] | None = None,
) -> None:
    """Queue one statement on the store's writer; `done` gets the rowid after it commits."""
    store.execute_later(sql, args, done)


def write_wait(
    store: Store, sql: str, args: tuple[Any, ...] = (), timeout: float = 10.0
) -> int | None:
    """Queue one statement and wait for its commit; the rowid (None if the write failed).

    Never call this from the writer thread (a store `done` callback): it would wait on itself.
    """
    if threading.current_thread() is getattr(store, "_writer", None):
        raise RuntimeError("write_wait called on the store's writer thread: use write(done=...)")
    event = threading.Event()
    box: list[int | None] = [None]

    def done(rowid: int | None) -> None:
        box[0] = rowid
        event.set()

    write(store, sql, args, done)
    if not event.wait(timeout):
        raise TimeoutError(f"kenetic store {store.path}: write not committed in {timeout} s")
    return box[0]


def get_state(store: Store, key: str, default: Any = None) -> Any:
    """A JSON value from memory_state (committed writes only)."""
    rows = store.query("SELECT value FROM memory_state WHERE key = ?", (key,))
    if not rows:
        return default
    try:
        return json.loads(rows[0][0])
    except ValueError:
        return default


def put_state(store: Store, key: str, value: Any) -> None:
    """Queue an upsert of a JSON value into memory_state."""
    write(
        store,
        "INSERT INTO memory_state (key, value, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        (key, json.dumps(value, ensure_ascii=False, sort_keys=True), time.time()),
    )
