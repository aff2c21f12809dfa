"""Unopened files nextEdits searches are read and parsed once while unchanged
(server.suggest.disktrees): a second search reuses the text and the tree, a changed file is read
again, and a file that is not UTF-8 is skipped."""

from __future__ import annotations

import os
from pathlib import Path

from server.suggest.disktrees import DiskTrees
from server.suggest.scan import scan
from tests.unit.skills.mined import mine

SOURCE = "def f(a, b, c):\n    print(a)\n    print(b)\n    print(c)\n"


def test_an_unchanged_file_is_read_and_parsed_once(tmp_path: Path) -> None:
    path = tmp_path / "lib.py"
    path.write_text(SOURCE)
    disk = DiskTrees(size=2)
    first = disk.read(path)
    assert first is not None and first.tree is None and first.lines[1] == "    print(a)\n"
    miner, _, _ = mine("python", SOURCE, ("print(a)", "log(a)"), ("print(b)", "log(b)"))
    skills = [s for s in miner.skills() if s.support >= s.needed_support()]
    found = scan(skills, "python", [], _Folder(tmp_path), max_files=10, max_bytes=10**6,
                 deadline=float("inf"), disk=disk)  # fmt: skip
    assert [f.match.start_line for f in found] == [1, 2, 3]
    again = disk.read(path)
    assert again is first and again.tree is not None  # the search's parse was kept

    path.write_text(SOURCE.replace("print(c)", "print(c, d)"))
    os.utime(path, ns=(1, 1))  # a changed file, even within the clock's resolution
    changed = disk.read(path)
    assert changed is not first and changed is not None and changed.tree is None
    assert "print(c, d)" in changed.text


def test_unreadable_files_and_the_size_bound(tmp_path: Path) -> None:
    disk = DiskTrees(size=2)
    (tmp_path / "bad.py").write_bytes(b"x = '\xff'\n")
    assert disk.read(tmp_path / "bad.py") is None
    assert disk.read(tmp_path / "missing.py") is None
    for n in range(4):
        (tmp_path / f"m{n}.py").write_text(f"x = {n}\n")
        assert disk.read(tmp_path / f"m{n}.py") is not None
    assert len(disk) == 2  # the least recently used went first


class _Folder:
    """What scan reads of a workspace folder: its path, and no ignore file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.ignore = None
