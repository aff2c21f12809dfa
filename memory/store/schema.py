"""Small helpers every memory module writes and reads through.

The memory tables (migration 4 in memory/store/migrations.py, created when a store opens):
`memory_items` (one recallable thing: an episode, a skill, a pattern or a note, with its text;
its vector lives in the VectorIndex under the item id; AUTOINCREMENT so an id is never reused and
a vector file can never pair an old vector with a new item), `memory_links` (typed, directed
links between nodes named 'episode:12', 'skill:<id>', 'pattern:<id>', 'note:<ref>' or
'item:<id>'), `memory_state` (small JSON documents: 'als', 'notes.imported', 'memory.counters')
and `memory_moments` (the last n memory events with their perspective).

Here: writes through the store's writer queue (with a callback, or a wait for the committed
rowid) and the `memory_state` key-value table that holds ALS, notes bookkeeping and counters.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from memory.store.database import Store


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
