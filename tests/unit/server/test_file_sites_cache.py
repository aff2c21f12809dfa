"""Sites counted for "Apply skill in file (N places)" are kept per document version and per
version of the skill (server.suggest.filesites, Library.stamp): a nextEdits scan's count serves
the code action that follows, and a skill indexed again (widened, renamed, deleted) is counted
again rather than served its old sites."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from memory.skills.edits import structural_edit
from memory.skills.rewrites import Match
from memory.store.database import Store
from server.suggest.filesites import FileSites
from server.suggest.library import Library

DOC = "def f(a, b, c):\n    print(a)\n    x = 1\n    print(b)\n    y = 2\n    print(c)\n"


def _library(tmp_path: Path) -> tuple[Library, str]:
    lib = Library("file:///ws", Store(tmp_path / "kenetic.db"), 2)
    doc = DOC
    made: list[Any] = []
    for n, arg in enumerate("ab"):
        after = doc.replace(f"print({arg})", f"logger.info({arg})", 1)
        edit = structural_edit("python", doc, after)
        assert edit is not None
        made = lib.mine(n + 1, edit.to_json())
        doc = after
    assert made
    return lib, made[0].id


def test_a_count_is_served_for_its_document_and_skill_versions_only(tmp_path: Path) -> None:
    lib, sid = _library(tmp_path)
    files = FileSites(cast(Any, None))  # its background counter is never asked here
    site = Match(sid, 5, 4, 5, 9, "print", "logger.info")
    files.put("file:///ws/app.py", 3, sid, lib.stamp(sid), [site])

    assert files.cached("file:///ws/app.py", 3, lib, sid) == [site]
    assert files.cached("file:///ws/app.py", 4, lib, sid) is None  # another document version
    assert files.cached("file:///ws/other.py", 3, lib, sid) is None

    assert lib.rename(sid, "log instead of print")  # the skill is indexed again
    assert files.cached("file:///ws/app.py", 3, lib, sid) is None  # counted again, not stale
    lib.store.close()
