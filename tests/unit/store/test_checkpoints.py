"""Checkpoints (backup API, safe restore) and the lossless JSONL export/import."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

import pytest

from memory.recall import graph
from memory.recall.als import Als
from memory.recall.index import MemoryIndex
from memory.recall.items import MemoryItem
from memory.recall.moments import Moments
from memory.store import portable
from memory.store.checkpoints import checkpoint, list_checkpoints, restore
from memory.store.database import Episode, Store, StoreError, vector_path
from memory.store.schema import put_state


def _fill(store: Store, n: int = 3, tag: str = "a") -> list[int]:
    ids: list[int] = []
    for i in range(n):
        data = {"command": f"pytest -k {tag}{i}", "exitCode": i % 2, "ünïcode": "✓"}
        store.add_episode(Episode("command", "s", 1.5 + i, 2.25 + i, data), ids.append)  # type: ignore[arg-type]
    store.flush()
    return ids


def _rows(path: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(path)
    out = {}
    for table in ("episodes", "memory_items", "memory_links", "memory_state", "memory_moments"):
        out[table] = conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
    conn.close()
    return out


def test_checkpoint_and_restore_round_trip(tmp_path: Path) -> None:
    path = tmp_path / ".kenetic" / "kenetic.db"
    store = Store(path)
    index = MemoryIndex(store)
    _fill(store, 2)
    index.add(MemoryItem("note", "before the checkpoint"))
    index.close()
    cid = checkpoint(store, "two episodes")
    _fill(store, 3, "b")
    index.add(MemoryItem("note", "after the checkpoint, about kafka"))
    index.close()
    assert [c["id"] for c in list_checkpoints(path)] == [cid]
    meta = list_checkpoints(path)[0]
    assert meta["description"] == "two episodes"
    assert meta["counts"]["episodes"] == 2 and meta["counts"]["memory_items"] == 1
    store.close()

    restored = restore(path, cid)
    try:
        assert restored.stats.episodes["command"] == 2
        assert restored.health()["integrity"] == "ok"
        assert not vector_path(path).exists()  # derived: rebuilt by the next index
        index = MemoryIndex(restored)
        assert [h.item.text for h in index.recall("checkpoint")] == ["before the checkpoint"]
        # what was there before the restore is itself a checkpoint
        listed = list_checkpoints(path)
        assert len(listed) == 2 and listed[0]["description"] == f"before restore of {cid}"
        assert listed[0]["counts"]["episodes"] == 5
    finally:
        restored.close()


def test_restore_refuses_unknown_and_foreign_checkpoints(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    Store(path).close()
    with pytest.raises(StoreError):
        restore(path, "nope")
    with pytest.raises(StoreError):
        restore(path, "../k")
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    sqlite3.connect(folder / "foreign.db").execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(StoreError, match="not a kenetic store"):
        restore(path, "foreign")


def _populate(store: Store) -> None:
    eps = _fill(store, 3)
    index = MemoryIndex(store)
    a, _ = index.add(MemoryItem("episode", "ran pytest", str(eps[0]), importance=0.3))
    index.add(MemoryItem("skill", "print -> logging", "sk1", "python", pinned=True))
    index.add(MemoryItem("note", "a free note with ünïcode ✓", data={"k": [1, 2.5]}))
    graph.add_link(store, f"episode:{eps[0]}", "skill:sk1", "produced", 0.75)
    graph.add_link(store, f"item:{a}", f"episode:{eps[1]}", "same_task")
    Als(store).record_outcome("accepted", now=123.0)
    put_state(store, "notes.imported", {"memory/MEMORY.md": {"at": 1.0, "items": 2}})
    Moments(store).record("captured", f"episode:{eps[0]}", "didSave", ["skill:sk1"], at=9.0)
    index.close()
    store.flush()


def test_export_import_round_trip_is_lossless(tmp_path: Path) -> None:
    src = Store(tmp_path / "a.db")
    _populate(src)
    buf = io.StringIO()
    counts = portable.export_jsonl(src, buf)
    assert counts["episodes"] == 3 and counts["memory_items"] == 3
    dst = Store(tmp_path / "b.db")
    result = portable.import_jsonl(dst, io.StringIO(buf.getvalue()))
    assert result["skipped"] == 0 and result["remapped"] == {"episodes": 0, "items": 0}
    src.close()
    dst.close()
    assert _rows(tmp_path / "a.db") == _rows(tmp_path / "b.db")
    # and again from the copy: the same file, line for line (bar the header's time)
    again = Store(tmp_path / "b.db")
    lines = list(portable.export_lines(again))
    assert lines[1:] == buf.getvalue().splitlines()[1:]
    assert again.stats.episodes["command"] == 3
    # importing twice changes nothing
    second = portable.import_jsonl(again, io.StringIO(buf.getvalue()))
    assert second["added"] == {} and second["skipped"] > 0
    again.close()
    assert _rows(tmp_path / "a.db") == _rows(tmp_path / "b.db")


def test_import_into_a_used_store_remaps_taken_ids(tmp_path: Path) -> None:
    src = Store(tmp_path / "a.db")
    _populate(src)
    buf = io.StringIO()
    portable.export_jsonl(src, buf)
    src.close()
    dst = Store(tmp_path / "b.db")
    _fill(dst, 2, "other")  # episodes 1 and 2 are taken by different commands
    MemoryIndex(dst).add(MemoryItem("note", "the target's own note"))  # item 1 taken
    result = portable.import_jsonl(dst, io.StringIO(buf.getvalue()))
    # 1 and 2 are taken; 1 then moves to 3, so 3 moves too
    assert result["remapped"]["episodes"] == 3 and result["remapped"]["items"] >= 1
    assert dst.stats.episodes["command"] == 5
    # the imported episode item and links follow the new episode ids
    first = dst.query("SELECT id FROM episodes WHERE data LIKE '%pytest -k a0%'")[0][0]
    item = dst.query("SELECT id, ref_id FROM memory_items WHERE text = 'ran pytest'")[0]
    assert item["ref_id"] == str(first)
    assert graph.shortest_path(dst, f"episode:{first}", "skill:sk1") is not None
    assert graph.neighbours(dst, f"item:{item['id']}")
    index = MemoryIndex(dst)
    assert index.sync()["added"] == 0  # loaded from the table at open
    assert index.recall("ran pytest", k=1)[0].item.id == item["id"]
    dst.close()


def test_import_refuses_a_foreign_file_and_writes_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path / "k.db")
    with pytest.raises(portable.ExportFormatError):
        portable.import_jsonl(store, io.StringIO('{"type": "episodes", "row": {}}\n'))
    header = json.dumps({"type": "header", "format": "kenetic-memory", "version": 1})
    bad = header + '\n{"type": "episodes", "row": {"id": 1}}\n'  # missing NOT NULL columns
    with pytest.raises(portable.ExportFormatError):
        portable.import_jsonl(store, io.StringIO(bad))
    assert store.query("SELECT count(*) FROM episodes")[0][0] == 0
    store.close()
