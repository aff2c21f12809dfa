"""Notes: KENETIC.md and user.md read as sections, `remember` appends, nanobot imported once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from memory.recall import notes
from memory.recall.index import MemoryIndex
from memory.recall.items import MemoryItem
from memory.store.database import Store
from memory.store.schema import get_state

PROJECT = """Preamble line.

# Build

Run `make test`.

## Tests

Use tmp_path, never /tmp.

```sh
# not a heading: inside a fence
```

# Style
Prefer pathlib.
"""


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


@pytest.fixture
def index(workspace: Path) -> Iterator[MemoryIndex]:
    store = Store(workspace / ".kenetic" / "kenetic.db")
    yield MemoryIndex(store)
    store.close()


def test_sections_split_at_headings_outside_fences(workspace: Path) -> None:
    sections = notes.split_sections(PROJECT, workspace / "KENETIC.md", "project")
    assert [(s.heading_path, s.level) for s in sections] == [
        ("", 0),
        ("Build", 1),
        ("Build / Tests", 2),
        ("Style", 1),
    ]
    assert "# not a heading" in sections[2].text
    assert sections[2].ref == "project:Build / Tests"


def test_project_and_user_notes_are_indexed_pinned_and_resynced(
    workspace: Path, index: MemoryIndex
) -> None:
    (workspace / "KENETIC.md").write_text(PROJECT)
    user = notes.user_notes_path()
    user.parent.mkdir(parents=True)
    user.write_text("# Me\n\nI like short functions.\n")
    assert notes.sync_notes(index, workspace) == {"added": 5, "changed": 0, "removed": 0}
    assert notes.sync_notes(index, workspace) == {"added": 0, "changed": 0, "removed": 0}
    hit = index.recall("which temporary directory do tests use", k=1)[0].item
    assert hit.ref_id == "project:Build / Tests" and hit.pinned and hit.kind == "note"
    (workspace / "KENETIC.md").write_text(PROJECT.replace("Prefer pathlib.", "Prefer attrs."))
    user.write_text("")
    assert notes.sync_notes(index, workspace) == {"added": 0, "changed": 1, "removed": 1}


def test_remember_appends_under_a_heading_and_keeps_everything_else(workspace: Path) -> None:
    path = workspace / "KENETIC.md"
    path.write_text(PROJECT)
    notes.remember("Tests may use the network fixture", "tests", workspace=workspace)
    text = path.read_text()
    # under the existing "## Tests" (matched case-insensitively), before the next heading
    assert "```\n- Tests may use the network fixture\n\n# Style" in text
    assert text.replace("- Tests may use the network fixture\n", "") == PROJECT
    notes.remember("Deploy with `make ship`", "Deploy", workspace=workspace)
    text = path.read_text()
    assert text.endswith("Prefer pathlib.\n\n## Deploy\n\n- Deploy with `make ship`\n")
    notes.remember("second", "Deploy", workspace=workspace)
    assert path.read_text() == text + "- second\n"


def test_remember_creates_files_keeps_crlf_and_user_scope(workspace: Path) -> None:
    user = notes.remember("tabs are evil", scope="user")
    assert user == notes.user_notes_path()
    assert user.read_text() == "## Notes\n\n- tabs are evil\n"
    path = workspace / "KENETIC.md"
    path.write_bytes(b"# A\r\nx\r\n")
    notes.remember("y", "A", workspace=workspace)
    assert path.read_bytes() == b"# A\r\nx\r\n- y\r\n"
    with pytest.raises(ValueError):
        notes.remember("   ", workspace=workspace)
    with pytest.raises(ValueError):
        notes.remember("x", scope="project")  # no workspace


def test_nanobot_memory_is_imported_once(workspace: Path, index: MemoryIndex) -> None:
    (workspace / "memory").mkdir()
    (workspace / "memory" / "MEMORY.md").write_text(
        "# User\n\nPrefers uv over pip.\n\n# Project\n\nThe API lives in api/.\n"
    )
    (workspace / "memory" / "HISTORY.md").write_text(
        "[2025-01-02 10:00] Fixed the login redirect loop.\n\n"
        "[2025-01-03 09:00] Upgraded pydantic to v2.\n"
    )
    got = notes.import_nanobot(index, workspace)
    assert got == {"memory/MEMORY.md": 2, "memory/HISTORY.md": 2}
    index.store.flush()
    assert set(get_state(index.store, "notes.imported")) == {
        "memory/MEMORY.md",
        "memory/HISTORY.md",
    }
    (workspace / "memory" / "MEMORY.md").write_text("# New\n\nChanged after the import.\n")
    assert notes.import_nanobot(index, workspace) == {}
    assert notes.import_nanobot(MemoryIndex(index.store), workspace) == {}  # across reopen
    assert index.recall("pydantic upgrade", k=1)[0].item.source == "nanobot"


def test_a_stored_note_without_a_ref_survives_the_notes_sync(
    workspace: Path, index: MemoryIndex
) -> None:
    # kenetic/memory/store keeps a note with source "user" and no ref; the notes files' sync
    # must neither crash on it nor remove it
    stored, _ = index.add(MemoryItem(kind="note", text="deploys go through staging", source="user"))
    user = notes.user_notes_path()
    user.parent.mkdir(parents=True)
    user.write_text("# Me\n\nI like short functions.\n")
    assert notes.sync_notes(index, workspace) == {"added": 1, "changed": 0, "removed": 0}
    user.write_text("")
    assert notes.sync_notes(index, workspace) == {"added": 0, "changed": 0, "removed": 1}
    assert stored is not None
    assert [h.item.id for h in index.recall("deploys staging", k=1)] == [stored]
