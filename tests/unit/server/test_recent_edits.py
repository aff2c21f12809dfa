"""server.suggest.recent: the developer's recent edits, followed through later changes, and the
rewrites that would undo one of them."""

from __future__ import annotations

from memory.skills.matching import Match
from server.suggest.documents import line_offsets, split_lines
from server.suggest.recent import RecentEdits

URI = "file:///ws/a.py"


class Typist:
    """A document changed one keystroke (or one paste) at a time, as didChange reports it."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.recent = RecentEdits()

    def replace(self, old: str, new: str, nth: int = 0) -> None:
        at = -1
        for _ in range(nth + 1):
            at = self.text.index(old, at + 1)
        before = self.text
        self.text = before[:at] + new + before[at + len(old) :]
        self.recent.on_change(URI, before, self.text)

    def type_over(self, old: str, new: str) -> None:
        """Delete `old` one character at a time, then type `new`."""
        at = self.text.index(old)
        for _ in old:
            before = self.text
            self.text = before[:at] + before[at + 1 :]
            self.recent.on_change(URI, before, self.text)
        for k, ch in enumerate(new):
            before = self.text
            self.text = before[: at + k] + ch + before[at + k :]
            self.recent.on_change(URI, before, self.text)

    def reverts(self, line: int, old: str, new: str) -> bool:
        lines = split_lines(self.text)
        col = lines[line].index(old)
        m = Match("s", line, col, line, col + len(old), old, new)  # within one line
        return self.recent.reverts(URI, m, lines, line_offsets(lines))


def test_a_rewrite_back_to_the_old_text_reverts() -> None:
    t = Typist("a = x + 1\nb = x + 2\n")
    t.replace("x", "y")
    assert t.reverts(0, "a = y + 1", "a = x + 1")
    assert not t.reverts(0, "a = y + 1", "a = z + 1")  # another change of the same place
    assert not t.reverts(1, "b = x + 2", "b = y + 2")  # a place the developer left alone


def test_keystrokes_of_one_edit_make_one_region() -> None:
    t = Typist("value = old_name(1)\n")
    t.type_over("old_name", "new_name")
    assert len(t.recent.regions(URI)) == 1
    assert t.reverts(0, "new_name(1)", "old_name(1)")
    assert not t.reverts(0, "new_name(1)", "new_name(2)")


def test_regions_follow_lines_inserted_above() -> None:
    t = Typist("import os\nprint(x)\n")
    t.replace("print(x)", "log(x)")
    t.replace("import os\n", "import os\nimport sys\nimport re\n")
    assert t.text.splitlines()[3] == "log(x)"
    assert t.reverts(3, "log(x)", "print(x)")


def test_a_deleted_line_put_back_reverts() -> None:
    t = Typist("a = 1\nreveal_type(a)\nb = 2\n")
    t.replace("reveal_type(a)\n", "")
    lines = split_lines(t.text)
    insert = Match("s", 1, 0, 1, 0, "", "reveal_type(a)\n")
    assert t.recent.reverts(URI, insert, lines, line_offsets(lines))
    other = Match("s", 1, 0, 1, 0, "", "print(a)\n")
    assert not t.recent.reverts(URI, other, lines, line_offsets(lines))


def test_an_undone_edit_is_forgotten() -> None:
    t = Typist("a = x\n")
    t.replace("x", "y")
    t.replace("y", "x")  # the developer undid it themselves
    assert t.recent.regions(URI) == []


def test_two_sites_are_two_regions() -> None:
    t = Typist("f(x)\ng = 1\nf(x)\n")
    t.replace("f(x)", "f(y)")
    t.replace("f(x)", "f(y)")
    assert len(t.recent.regions(URI)) == 2
    assert t.reverts(0, "f(y)", "f(x)")
    assert t.reverts(2, "f(y)", "f(x)")
    t.recent.forget(URI)
    assert not t.reverts(0, "f(y)", "f(x)")
