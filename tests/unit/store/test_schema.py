"""The memory tables are a numbered migration (4): fresh stores get them, older ones upgrade."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from memory.recall.api import WorkspaceMemory
from memory.store import migrations
from memory.store.database import Store
from memory.store.migrations import latest_version

MEMORY_TABLES = {"memory_items", "memory_links", "memory_state", "memory_moments"}

# what kenetic 0.x created on first use of memory, beside migration 2 (memory/store/schema.py's
# ensure_memory_schema, now gone): a store written then holds these tables at user_version 2
OLD_SIDE_PATH = [
    """CREATE TABLE IF NOT EXISTS memory_items (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL CHECK (kind IN ('episode', 'skill', 'pattern', 'note')),
        ref_id TEXT, text TEXT NOT NULL, language TEXT, uri TEXT, source TEXT,
        created_at REAL NOT NULL, used_at REAL NOT NULL,
        use_count INTEGER NOT NULL DEFAULT 0, importance REAL NOT NULL DEFAULT 0.5,
        pinned INTEGER NOT NULL DEFAULT 0, protected INTEGER NOT NULL DEFAULT 0,
        data TEXT NOT NULL DEFAULT '{}')""",
    "CREATE UNIQUE INDEX IF NOT EXISTS memory_items_by_ref ON memory_items (kind, ref_id)",
    "CREATE INDEX IF NOT EXISTS memory_items_by_created ON memory_items (created_at)",
    "CREATE INDEX IF NOT EXISTS memory_items_by_uri ON memory_items (uri)",
    """CREATE TABLE IF NOT EXISTS memory_links (src TEXT NOT NULL, dst TEXT NOT NULL,
        type TEXT NOT NULL, weight REAL NOT NULL DEFAULT 1.0, created_at REAL NOT NULL,
        PRIMARY KEY (src, dst, type)) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS memory_links_by_dst ON memory_links (dst, type)",
    """CREATE TABLE IF NOT EXISTS memory_state (key TEXT PRIMARY KEY, value TEXT NOT NULL,
        updated_at REAL NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS memory_moments (id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL, event TEXT NOT NULL, subject TEXT, trigger TEXT,
        linked TEXT NOT NULL DEFAULT '[]', data TEXT NOT NULL DEFAULT '{}')""",
]


def _tables(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()


def _store_at_version_2(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:2])
    monkeypatch.setattr("memory.store.opening.MIGRATIONS", migrations.MIGRATIONS)
    Store(path).close()
    monkeypatch.undo()


def test_a_fresh_store_has_the_memory_tables_from_its_migrations(tmp_path: Path) -> None:
    Store(tmp_path / "k.db").close()
    assert _tables(tmp_path / "k.db") >= MEMORY_TABLES
    # a numbered migration, not a side path that runs on first use
    assert sum("CREATE TABLE IF NOT EXISTS memory_items" in m for m in migrations.MIGRATIONS) == 1


def test_a_version_2_store_with_side_path_tables_upgrades_and_keeps_its_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "k.db"
    _store_at_version_2(path, monkeypatch)
    conn = sqlite3.connect(path)
    for statement in OLD_SIDE_PATH:
        conn.execute(statement)
    conn.execute(
        "INSERT INTO memory_items (kind, ref_id, text, created_at, used_at)"
        " VALUES ('note', 'n1', 'deploys need the VPN', 1.0, 1.0)"
    )
    conn.execute("INSERT INTO memory_state VALUES ('als', '{\"debounce_ms\": 675.0}', 1.0)")
    conn.commit()
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    conn.close()

    store = Store(path)
    try:
        assert store.query("PRAGMA user_version")[0][0] == latest_version()
        mem = WorkspaceMemory(store, None, read_notes=False)
        assert mem.als.state.debounce_ms == 675.0  # the saved ALS survived
        hits = mem.recall("VPN deploys", 3)["items"]  # vectors rebuilt from the kept table
        assert hits and hits[0]["item"]["text"] == "deploys need the VPN"
        mem.store_item("a second note after the upgrade", "note")
        assert store.query("SELECT count(*) FROM memory_items")[0][0] == 2
        mem.close()
    finally:
        store.close()


def test_a_version_2_store_without_memory_tables_gets_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "k.db"
    _store_at_version_2(path, monkeypatch)
    assert not MEMORY_TABLES & _tables(path)
    store = Store(path)
    try:
        assert store.query("PRAGMA user_version")[0][0] == latest_version()
        assert _tables(path) >= MEMORY_TABLES
        mem = WorkspaceMemory(store, None, read_notes=False)
        assert mem.store_item("first memory", "note")["stored"] is True
        mem.close()
    finally:
        store.close()
