"""The store's writer never dies and loses nothing it can keep (issue 16, items 1-3).

Real SQLite files throughout: a string no encoding accepts, a write SQLite refuses, a file-size
limit reached mid-burst (the process's own RLIMIT_FSIZE, raised again afterwards) and read-only
stores refused even to root.
"""

from __future__ import annotations

import io
import json
import os
import resource
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from memory.store import portable
from memory.store.database import Episode, Store, StoreError
from memory.store.schema import get_state, put_state
from memory.store.text import storable, storable_value


def _command(text: str, **data: object) -> Episode:
    return Episode("command", "s1", 1.0, 2.0, {"command": text, **data})


def _rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


# -- item 1: text SQLite cannot encode ----------------------------------------------------------


def test_storable_replaces_lone_surrogates_and_joins_pairs() -> None:
    assert storable("/ws/\udcff") == "/ws/\ufffd"
    assert storable("a\ud83d\ude00b") == "a\U0001f600b"  # a pair as two code points
    assert storable("plain é") == "plain é"
    assert storable_value({"k\udcff": ["\udcff", 3, {"x": "\ud800"}]}) == {
        "k\ufffd": ["\ufffd", 3, {"x": "\ufffd"}]
    }


def test_a_lone_surrogate_anywhere_is_stored_and_saving_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    store = Store(path)
    seen: list[Episode] = []
    store.episode_listeners.append(seen.append)
    bad = Episode(
        "command",
        "s\udcff",
        1.0,
        2.0,
        {"command": "ls", "cwd": "/ws/\udcff", "args": ["\ud800"], "k\udcff": 1},
        uri="file:///ws/\udcff.py",
        language="py\udcff",
    )
    store.add_episode(bad)
    put_state(store, "state\udcff", {"note": "\udcff"})
    store.execute_later(
        "INSERT INTO memory_state (key, value, updated_at) VALUES (?, ?, ?)",
        ("raw\udcff", "\udcff", 0.0),
    )
    store.add_episode(_command("echo after"))
    assert store.flush(10), "the writer stopped draining its queue"
    assert store.stats.episodes["command"] == 2
    assert store.stats.failed_writes == 0
    stored = store.episodes(uri="file:///ws/\udcff.py")  # the same key finds the row
    assert len(stored) == 1
    assert stored[0].data["cwd"] == "/ws/\ufffd"
    assert stored[0].language == "py\ufffd"
    assert seen[0].data["cwd"] == "/ws/\ufffd"  # listeners see what the store holds
    assert get_state(store, "state\udcff") == {"note": "\ufffd"}
    store.close()
    raw = _rows(path, "SELECT data FROM episodes ORDER BY id")
    assert json.loads(str(raw[0][0]))["args"] == ["\ufffd"]


class _Weird:
    """An object sqlite3 adapts to text itself (as the server's redacting wrapper does)."""

    def __conform__(self, protocol: object) -> str:
        return "adapted \udcff"


def test_an_adapted_value_is_made_storable_too(tmp_path: Path) -> None:
    store = Store(tmp_path / "k.db")
    store.execute_later(
        "INSERT INTO memory_state (key, value, updated_at) VALUES (?, ?, ?)",
        ("adapted", _Weird(), 0.0),
    )
    assert store.flush(10)
    assert store.query("SELECT value FROM memory_state WHERE key = 'adapted'")[0][0] == (
        "adapted \ufffd"
    )
    store.close()


def test_a_write_that_can_never_commit_is_dropped_alone(tmp_path: Path) -> None:
    store = Store(tmp_path / "k.db")
    results: list[int | None] = []
    # queued back to back so they share the writer's batch: the bad ones must not take the
    # others down with them
    for n in range(5):
        store.add_episode(_command(f"good {n}"), done=results.append)
        store.execute_later("INSERT INTO no_such_table VALUES (?)", (n,), done=results.append)
        store.execute_later(
            "INSERT INTO memory_state (key, value, updated_at) VALUES (?, ?, ?)",
            (f"k{n}", object(), 0.0),  # a value Python cannot bind
            done=results.append,
        )
    store.add_episode(_command("last"))
    assert store.flush(10)
    assert store.stats.episodes["command"] == 6
    assert store.stats.failed_writes == 10
    assert results.count(None) == 10 and len(results) == 15
    store.close()


# -- item 2: a full disk ------------------------------------------------------------------------


@pytest.fixture
def file_size_limit() -> Iterator[None]:
    """Lets a test cap this process's file size (as `ulimit -f` does) and restores it."""
    old_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write, not the process
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old_limit)
        signal.signal(signal.SIGXFSZ, old_handler)


def test_writes_past_a_full_disk_are_held_reported_once_and_retried(
    tmp_path: Path, file_size_limit: None
) -> None:
    store = Store(tmp_path / "k.db")
    told: list[str | None] = []
    store.write_listeners.append(told.append)
    store.add_episode(_command("before"))
    assert store.flush(10)
    full = max(f.stat().st_size for f in tmp_path.iterdir())
    resource.setrlimit(resource.RLIMIT_FSIZE, (full, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    for n in range(40):
        store.add_episode(_command(f"burst {n} " + "x" * 20_000))
    deadline = time.monotonic() + 10
    while store.stats.write_error is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert store.stats.write_error is not None, "the failing writes were not reported"
    time.sleep(0.5)  # several retries fail meanwhile
    assert store.pending == 40, "writes were dropped instead of held"
    assert store.stats.episodes["command"] == 1
    assert len(told) == 1 and told[0] is not None and str(store.path) in told[0]
    assert store.stats.write_errors >= 2

    resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)
    assert store.flush(20), "held writes were not retried once space returned"
    assert store.stats.episodes["command"] == 41
    assert store.stats.failed_writes == 0
    assert store.stats.write_error is None
    assert told[1:] == [None]  # told once that it failed, once that it passed
    store.close()


# -- item 3: read-only stores, root included ----------------------------------------------------


def test_a_read_only_store_file_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    Store(path).close()
    before = path.read_bytes()
    mtime = path.stat().st_mtime_ns
    os.chmod(path, 0o444)
    try:
        with pytest.raises(StoreError, match="read-only"):
            Store(path)
    finally:
        os.chmod(path, 0o644)
    assert path.read_bytes() == before and path.stat().st_mtime_ns == mtime


def test_a_store_in_a_read_only_directory_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    os.chmod(folder, 0o555)
    try:
        with pytest.raises(StoreError, match="not writable"):
            Store(folder / ".kenetic" / "kenetic.db")
        assert not (folder / ".kenetic").exists()
    finally:
        os.chmod(folder, 0o755)


def test_a_store_owned_by_someone_else_with_write_bits_still_opens(tmp_path: Path) -> None:
    """The mode check refuses no write bit at all, not a file merely not ours (as root)."""
    path = tmp_path / "k.db"
    Store(path).close()
    os.chmod(path, 0o664)
    store = Store(path)
    store.add_episode(_command("ok"))
    assert store.flush(10)
    store.close()


def test_an_import_with_a_lone_surrogate_is_stored(tmp_path: Path) -> None:
    """An export file is text entering the store too (a `\\udcff` escape in its JSON)."""
    src = Store(tmp_path / "a.db")
    src.add_episode(_command("make"))
    assert src.flush(10)
    buf = io.StringIO()
    portable.export_jsonl(src, buf)
    src.close()
    text = buf.getvalue().replace('"session_id": "s1"', '"session_id": "s1\\udcff"')
    assert "\\udcff" in text
    dst = Store(tmp_path / "b.db")
    portable.import_jsonl(dst, io.StringIO(text))
    assert dst.stats.episodes["command"] == 1
    assert dst.episodes()[0].session_id == "s1\ufffd"
    dst.close()
