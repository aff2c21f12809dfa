"""The SQLite store: migrations, durability through the writer, refusal of foreign files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from memory.store.database import APPLICATION_ID, Episode, Store, StoreError
from memory.store.migrations import latest_version


def _episode(n: int, kind: str = "edit") -> Episode:
    return Episode(kind, "s1", float(n), float(n) + 1, {"n": n}, uri=f"file:///f{n}.py")


def test_new_store_is_migrated_and_marked(tmp_path: Path) -> None:
    path = tmp_path / ".kenetic" / "kenetic.db"
    store = Store(path)
    store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == latest_version()
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert (tmp_path / ".kenetic" / ".gitignore").read_text() == "*\n"


def test_writes_commit_in_order_and_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    store = Store(path)
    ids: list[int | None] = []
    for n in range(300):
        store.add_episode(_episode(n, "command" if n % 3 == 0 else "edit"), ids.append)
    assert store.flush()
    assert ids == sorted(ids) and len(ids) == 300 and None not in ids
    assert store.stats.episodes == {"edit": 200, "command": 100, "agent": 0}
    store.close()
    again = Store(path)
    assert again.stats.episodes["edit"] == 200
    newest = again.episodes(limit=2)
    assert [e.data["n"] for e in newest] == [299, 298]
    assert [e.kind for e in again.episodes(kind="command", limit=1)] == ["command"]
    assert again.episodes(uri="file:///f5.py")[0].data == {"n": 5}
    again.close()


def test_migration_from_an_older_schema_keeps_data(tmp_path: Path, monkeypatch) -> None:
    from memory.store import migrations

    path = tmp_path / "k.db"
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:1])
    monkeypatch.setattr("memory.store.opening.MIGRATIONS", migrations.MIGRATIONS)
    store = Store(path)
    store.add_episode(_episode(1))
    store.close()
    monkeypatch.undo()
    migrated = Store(path)
    assert migrated.query("PRAGMA user_version")[0][0] == latest_version()
    assert migrated.stats.episodes["edit"] == 1
    migrated.close()


@pytest.mark.parametrize(
    "content, message",
    [
        (b"this is not a database at all" * 10, "not a SQLite database"),
        (b"SQLite format 3\x00" + b"\xff" * 500, "corrupt"),
    ],
)
def test_corrupt_files_are_refused_untouched(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "k.db"
    path.write_bytes(content)
    with pytest.raises(StoreError, match=message):
        Store(path)
    assert path.read_bytes() == content


def test_foreign_and_newer_databases_are_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "other.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE users (id INTEGER)")
    conn.commit()
    conn.close()
    before = foreign.read_bytes()
    with pytest.raises(StoreError, match="did not create"):
        Store(foreign)
    assert foreign.read_bytes() == before

    newer = tmp_path / "newer.db"
    Store(newer).close()
    conn = sqlite3.connect(newer)
    conn.execute(f"PRAGMA user_version={latest_version() + 5}")
    conn.close()
    with pytest.raises(StoreError, match="newer kenetic"):
        Store(newer)


def test_read_only_store_is_refused(tmp_path: Path) -> None:
    import os
    import shutil
    import subprocess
    import sys
    import tempfile

    if os.geteuid() != 0:
        path = tmp_path / "k.db"
        Store(path).close()
        path.chmod(0o444)
        with pytest.raises(StoreError, match="read-only"):
            Store(path)
        return
    # root ignores permissions: open the store as an unprivileged user instead
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("needs setpriv to drop root")
    shared = Path(tempfile.mkdtemp(prefix="kenetic-ro-"))
    try:
        shared.chmod(0o755)
        path = shared / "k.db"
        Store(path).close()
        path.chmod(0o444)
        before = path.read_bytes()
        repo = Path(__file__).resolve().parents[3]
        code = (
            "import sys; from memory.store.database import Store, StoreError\n"
            "try:\n    Store(__import__('pathlib').Path(sys.argv[1]))\n"
            "except StoreError as e:\n    print(e); sys.exit(3)\n"
        )
        result = subprocess.run(
            [
                setpriv,
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                sys.executable,
                "-c",
                code,
                str(path),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PYTHONPATH": str(repo), "HOME": str(shared)},
            cwd=shared,
        )
        assert result.returncode == 3, result.stderr
        assert "read-only" in result.stdout
        assert path.read_bytes() == before
    finally:
        shutil.rmtree(shared, ignore_errors=True)
