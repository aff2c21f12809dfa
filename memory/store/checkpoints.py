"""Checkpoints of a store: consistent copies taken with SQLite's backup API, and restores.

A checkpoint is `<store dir>/checkpoints/<id>.db` plus `<id>.json` (description, time,
counts). The backup API copies a consistent snapshot while the store stays open and writing
(a plain file copy of a WAL database can tear). Restoring goes the other way, into the store's
file, after a safety checkpoint of what is there now; the caller closes its Store first and
gets a fresh one back. The memory vector file is derived data and is removed on restore, so
the next MemoryIndex rebuilds it from the restored items.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import sqlite3
import time
from pathlib import Path
from typing import Any

from memory.store.database import APPLICATION_ID, Store, StoreError, vector_path
from memory.store.migrations import latest_version

CHECKPOINT_DIR = "checkpoints"


def checkpoints_dir(store_path: Path) -> Path:
    return store_path.parent / CHECKPOINT_DIR


def _new_id(now: float) -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime(now)) + "-" + secrets.token_hex(2)


def _counts(conn: sqlite3.Connection) -> dict[str, int]:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    out = {}
    for table in ("episodes", "memory_items", "memory_links", "skills"):
        if table in tables:
            out[table] = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return out


def _backup(src_path: Path, dst_path: Path) -> dict[str, int]:
    """Copy a database with the backup API into a new self-contained file; its counts."""
    tmp = dst_path.with_name(dst_path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    src = sqlite3.connect(src_path, timeout=10)
    try:
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it
            counts = _counts(dst)
        finally:
            dst.close()
    finally:
        src.close()
    tmp.replace(dst_path)
    return counts


def checkpoint(store: Store, description: str = "") -> str:
    """Copy the store (every queued write included) into its checkpoints folder; the id."""
    store.flush()
    now = time.time()
    folder = checkpoints_dir(store.path)
    folder.mkdir(parents=True, exist_ok=True)
    cid = _new_id(now)
    counts = _backup(store.path, folder / f"{cid}.db")
    meta = {
        "id": cid,
        "description": description,
        "createdAt": now,
        "schema": store.query("PRAGMA user_version")[0][0],
        "counts": counts,
        "bytes": (folder / f"{cid}.db").stat().st_size,
    }
    (folder / f"{cid}.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False))
    return cid


def list_checkpoints(store_path: Path) -> list[dict[str, Any]]:
    """Every checkpoint of a store, newest first (a checkpoint without its .db is skipped)."""
    folder = checkpoints_dir(store_path)
    out = []
    for meta_path in folder.glob("*.json") if folder.is_dir() else []:
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(meta, dict) and (folder / f"{meta.get('id')}.db").is_file():
            out.append(meta)
    out.sort(key=lambda m: (m.get("createdAt", 0), m.get("id", "")), reverse=True)
    return out


def _check_checkpoint(path: Path) -> None:
    if not path.is_file():
        raise StoreError(f"no checkpoint at {path}")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"checkpoint {path} is not a usable database ({exc})") from exc
    if app_id != APPLICATION_ID:
        raise StoreError(f"checkpoint {path} is not a kenetic store")
    if version > latest_version():
        raise StoreError(f"checkpoint {path} was written by a newer kenetic (schema {version})")
    if ok != "ok":
        raise StoreError(f"checkpoint {path} is damaged: {ok}")


def restore(store_path: Path, checkpoint_id: str) -> Store:
    """Put a checkpoint back into the store file and reopen it; the caller closed its Store.

    What the store held before is kept as a checkpoint itself ("before restore of <id>").
    """
    if not checkpoint_id or "/" in checkpoint_id or checkpoint_id.startswith("."):
        raise StoreError(f"bad checkpoint id {checkpoint_id!r}")
    folder = checkpoints_dir(store_path)
    source = folder / f"{checkpoint_id}.db"
    _check_checkpoint(source)
    if store_path.exists() and store_path.stat().st_size > 0:
        safety = Store(store_path, create=False)  # refuses a foreign file before we touch it
        try:
            checkpoint(safety, f"before restore of {checkpoint_id}")
        finally:
            safety.close()
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(store_path, timeout=10)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()
    with contextlib.suppress(FileNotFoundError):
        vector_path(store_path).unlink()
    return Store(store_path)
