"""Export and import of memory as JSON Lines that round-trip losslessly.

One header line, then one line per row: `{"type": "<table>", "row": {column: value}}` for
episodes, memory items, links, memory state (ALS, notes bookkeeping, counters), moments, and —
when the store has them — skills, suggestions and outcomes. Column values are exported as SQLite
holds them (JSON columns stay JSON text), so importing into an empty store gives back the same
rows, byte for byte; vectors are derived and rebuilt (`MemoryIndex.sync`).

Importing into a store that already holds memory merges: a row identical to one present is
skipped (importing twice changes nothing); an episode or item whose id is taken by a different
row gets a new id, and the items and links that named it are rewritten to the new id; an item
whose (kind, ref) exists keeps the target's; state keys take the newer value. The import is one
transaction on its own connection after the writer drained, so it lands whole or not at all.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from memory.store.database import Store
from memory.store.text import storable_value

FORMAT = "kenetic-memory"
VERSION = 1
# order matters on import: episodes before the items and links that refer to them
TABLES = (
    "episodes",
    "memory_items",
    "memory_links",
    "memory_state",
    "memory_moments",
    "skills",
    "suggestions",
    "outcomes",
)


class ExportFormatError(ValueError):
    """A file that is not a kenetic memory export; the message is meant for the user."""


def _tables(conn: sqlite3.Connection | Store) -> set[str]:
    sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    rows = conn.query(sql) if isinstance(conn, Store) else conn.execute(sql).fetchall()
    return {r[0] for r in rows}


def export_lines(store: Store) -> Iterator[str]:
    """The export, one JSON line at a time (committed rows; queued writes are flushed first)."""
    store.flush()
    present = _tables(store)
    yield json.dumps(
        {
            "type": "header",
            "format": FORMAT,
            "version": VERSION,
            "exportedAt": time.time(),
            "schema": store.query("PRAGMA user_version")[0][0],
        }
    )
    for table in TABLES:
        if table not in present:
            continue
        order = "rowid" if table != "memory_links" else "src, dst, type"
        for row in store.query(f"SELECT * FROM {table} ORDER BY {order}"):
            yield json.dumps({"type": table, "row": dict(row)}, ensure_ascii=False)


def export_jsonl(store: Store, out: Path | IO[str]) -> dict[str, int]:
    """Write the export to a path or an open text stream; rows written per table."""
    counts: dict[str, int] = {}
    f = out.open("w", encoding="utf-8") if isinstance(out, Path) else out
    try:
        for line in export_lines(store):
            kind = line[10 : line.index('"', 10)]  # '{"type": "<kind>"'
            counts[kind] = counts.get(kind, 0) + 1
            f.write(line + "\n")
    finally:
        if isinstance(out, Path):
            f.close()
    counts.pop("header", None)
    return counts


def _read(source: Path | IO[str]) -> Iterator[dict[str, Any]]:
    f = source.open(encoding="utf-8") if isinstance(source, Path) else source
    try:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise ExportFormatError(f"line {n}: not JSON ({exc})") from exc
            if not isinstance(record, dict) or "type" not in record:
                raise ExportFormatError(f"line {n}: expected an object with a type")
            if n == 1 and (record.get("type") != "header" or record.get("format") != FORMAT):
                raise ExportFormatError("not a kenetic memory export (no header line)")
            if record["type"] == "header" and record.get("version", 0) > VERSION:
                raise ExportFormatError(f"export version {record['version']} is too new")
            yield record
    finally:
        if isinstance(source, Path):
            f.close()


class _Merger:
    """Insert rows into one connection, remapping ids that are taken by different rows."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.columns = {t: self._columns(t) for t in _tables(conn)}
        self.episode_ids: dict[int, int] = {}
        self.item_ids: dict[int, int] = {}
        self.counts: dict[str, int] = {}
        self.skipped = 0

    def _columns(self, table: str) -> list[str]:
        return [r[1] for r in self.conn.execute(f"PRAGMA table_info({table})")]

    def _insert(self, table: str, row: dict[str, Any], keep_id: bool = True) -> int:
        cols = [c for c in self.columns[table] if c in row and (keep_id or c != "id")]
        marks = ",".join("?" * len(cols))
        cur = self.conn.execute(
            f"INSERT INTO {table} ({','.join(cols)}) VALUES ({marks})", [row[c] for c in cols]
        )
        self.counts[table] = self.counts.get(table, 0) + 1
        return int(cur.lastrowid or 0)

    def _same(self, table: str, key: str, value: Any, row: dict[str, Any]) -> bool | None:
        """None: no row with that key; True: an identical one; False: a different one."""
        cur = self.conn.execute(f"SELECT * FROM {table} WHERE {key} = ?", (value,))
        found = cur.fetchone()
        if found is None:
            return None
        names = [d[0] for d in cur.description]
        return all(row.get(n) == v for n, v in zip(names, found, strict=True) if n in row)

    def _node(self, node: str) -> str:
        kind, _, ref = node.partition(":")
        if kind == "episode" and ref.isdigit():
            return f"episode:{self.episode_ids.get(int(ref), int(ref))}"
        if kind == "item" and ref.isdigit():
            return f"item:{self.item_ids.get(int(ref), int(ref))}"
        return node

    def add(self, table: str, row: dict[str, Any]) -> None:
        if table not in self.columns:
            self.skipped += 1  # e.g. skills exported from a store newer than this one
            return
        if table == "episodes":
            same = self._same(table, "id", row["id"], row)
            if same:
                self.skipped += 1
            elif same is None:
                self._insert(table, row)
            else:
                self.episode_ids[row["id"]] = self._insert(table, row, keep_id=False)
        elif table == "memory_items":
            row = dict(row)
            if row["kind"] == "episode" and str(row.get("ref_id") or "").isdigit():
                row["ref_id"] = str(self.episode_ids.get(int(row["ref_id"]), int(row["ref_id"])))
            if row.get("ref_id"):
                taken = self.conn.execute(
                    "SELECT id FROM memory_items WHERE kind = ? AND ref_id = ?",
                    (row["kind"], row["ref_id"]),
                ).fetchone()
                if taken is not None:
                    self.item_ids[row["id"]] = taken[0]
                    self.skipped += 1
                    return
            same = self._same(table, "id", row["id"], row)
            if same:
                self.skipped += 1
            elif same is None:
                self._insert(table, row)
            else:
                self.item_ids[row["id"]] = self._insert(table, row, keep_id=False)
        elif table == "memory_links":
            row = {**row, "src": self._node(row["src"]), "dst": self._node(row["dst"])}
            if self._exists("memory_links", "src = ? AND dst = ? AND type = ?", row):
                self.skipped += 1
            else:
                self._insert(table, row)
        elif table == "memory_state":
            old = self.conn.execute(
                "SELECT updated_at FROM memory_state WHERE key = ?", (row["key"],)
            ).fetchone()
            if old is None:
                self._insert(table, row)
            elif old[0] < row["updated_at"]:
                self.conn.execute(
                    "UPDATE memory_state SET value = ?, updated_at = ? WHERE key = ?",
                    (row["value"], row["updated_at"], row["key"]),
                )
                self.counts[table] = self.counts.get(table, 0) + 1
            else:
                self.skipped += 1
        else:
            # moments, skills, suggestions, outcomes: keyed by their first column
            key = self.columns[table][0]
            same = self._same(table, key, row.get(key), row)
            if same:
                self.skipped += 1
            elif same is None:
                self._insert(table, row)
            elif table in ("memory_moments", "outcomes"):
                self._insert(table, row, keep_id=False)
            else:
                self.skipped += 1  # a skill or suggestion the target already has its own of

    def _exists(self, table: str, where: str, row: dict[str, Any]) -> bool:
        args = [row[c.split()[0]] for c in where.split(" AND ")]
        found = self.conn.execute(f"SELECT 1 FROM {table} WHERE {where}", args).fetchone()
        return found is not None


def import_jsonl(store: Store, source: Path | IO[str]) -> dict[str, Any]:
    """Merge an export into a store in one transaction; rows added per table and skipped."""
    store.flush()
    # validate the whole file before writing anything; its text made storable as every write's
    records = [storable_value(r) for r in _read(source)]
    conn = sqlite3.connect(store.path, timeout=10, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        merger = _Merger(conn)
        try:
            for record in records:
                kind = record["type"]
                if kind == "header":
                    continue
                if kind not in TABLES or not isinstance(record.get("row"), dict):
                    raise ExportFormatError(f"unknown record type {kind!r}")
                merger.add(kind, record["row"])
            conn.execute("COMMIT")
        except Exception:
            conn.execute("ROLLBACK")
            raise
    except sqlite3.IntegrityError as exc:
        raise ExportFormatError(f"import rejected ({exc}); nothing was imported") from exc
    finally:
        conn.close()
    return {
        "added": merger.counts,
        "skipped": merger.skipped,
        "remapped": {"episodes": len(merger.episode_ids), "items": len(merger.item_ids)},
    }
