"""Opening a store file: refuse what is not ours before SQLite touches it, then migrate.

A file that is not a SQLite database, a SQLite database kenetic did not create, one written by
a newer kenetic, or one that is read-only (mode bits included, for root) is refused with a
StoreError meant for the user, and left untouched.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from pathlib import Path

from memory.store.migrations import MIGRATIONS, latest_version

log = logging.getLogger(__name__)

APPLICATION_ID = 0x4B4E5443  # "KNTC": marks a SQLite file as a kenetic store
SQLITE_MAGIC = b"SQLite format 3\x00"


class StoreError(Exception):
    """A store that cannot be used; the message is meant for the user."""


def writable(path: Path) -> bool:
    """May kenetic write here? `os.access` answers yes to root whatever the mode (containers
    often run as root), so a file or directory with no write bit at all counts as read-only
    for everyone: its owner made it so on purpose."""
    if not os.access(path, os.W_OK):
        return False
    return bool(path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _check_file(path: Path) -> None:
    """Refuse, before SQLite touches it, any existing file that is not a kenetic store."""
    if not path.exists():
        parent = path.parent
        while not parent.exists():
            parent = parent.parent
        if not writable(parent):
            raise StoreError(f"kenetic store {path}: directory {parent} is not writable")
        return
    if path.is_dir():
        raise StoreError(f"kenetic store {path} is a directory, not a database file")
    if not os.access(path, os.R_OK) or not writable(path) or not writable(path.parent):
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
