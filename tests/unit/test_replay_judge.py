"""The replay bench's judge (tests/bench/replay_judge.py) on small hand-written cases."""

from __future__ import annotations

from typing import Any

from tests.bench import replay_judge as J


def _edit(sl: int, sc: int, el: int, ec: int, text: str) -> dict[str, Any]:
    return {
        "range": {"start": {"line": sl, "character": sc}, "end": {"line": el, "character": ec}},
        "newText": text,
    }


def _whole(path: str, start: int, old: str, new: str) -> dict[str, Any]:
    """A case edit over whole lines, as in the data."""
    end = start + old.count("\n")
    return {"path": path, "start": [start, 0], "end": [end, 0], "old": old, "new": new}


# -- the cursor: the first character the site's edit changes --------------------------------


def test_cursor_on_the_first_changed_character() -> None:
    old = "        space = Style()\n"
    new = "        space = Style.empty()\n"
    assert J.cursor_position(old, new, 41) == (41, len("        space = Style"))


def test_cursor_of_a_pure_insertion_is_the_start_of_the_line_it_goes_before() -> None:
    assert J.cursor_position("", "    reveal_type(x)\n", 12) == (12, 0)


def test_cursor_of_appended_lines_is_the_line_after_the_kept_ones() -> None:
    # old lines kept, new lines added after them: the change begins at the next line's start
    assert J.cursor_position("    a = 1\n", "    a = 1\n    b = 2\n", 3) == (4, 0)


def test_cursor_of_a_deletion_is_on_the_first_deleted_line() -> None:
    old = "    'a': 1,\n    'b': 2,\n"
    assert J.cursor_position(old, "    'a': 1,\n", 7) == (8, 0)


def test_cursor_on_a_later_line_of_the_site() -> None:
    old = "def f(\n    x,\n):\n"
    new = "def f(\n    x: int,\n):\n"
    assert J.cursor_position(old, new, 10) == (11, 5)


def test_cursor_column_counts_utf16_units() -> None:
    # 😀 is two UTF-16 units, é one: the column is in the units an LSP client counts
    old = "s = '😀é' + f(x)\n"
    new = "s = '😀é' + g(x)\n"
    line, col = J.cursor_position(old, new, 0)
    assert (line, col) == (0, 12)
    assert old[J.offset(old, line, col)] == "f"


# -- hunks: what a text edit changes, in whole lines ------------------------------------------


def test_line_hunk_of_an_in_line_edit_and_an_insertion() -> None:
    lines = ["a = 1", "b = 'é😀'.x()", "c = 3", ""]
    # replace ".x" after the emoji: columns are UTF-16
    assert J.line_hunk(lines, _edit(1, 9, 1, 11, ".y")) == (1, 2, ["b = 'é😀'.y()"])
    assert J.line_hunk(lines, _edit(2, 0, 2, 0, "z = 0\n")) == (2, 2, ["z = 0"])
    assert J.line_hunk(lines, _edit(0, 0, 1, 0, "")) == (0, 1, [])


# -- judged against the commit: same / different / unchanged ----------------------------------

PARENT = (
    "import os\n"  # 0
    "\n"  # 1
    "def a():\n"  # 2
    "    return list(x)[0]\n"  # 3
    "\n"  # 4
    "def b():\n"  # 5
    "    return list(y)[0]\n"  # 6
    "\n"  # 7
    "def c():\n"  # 8
    "    print(1)\n"  # 9
    "    print(1)\n"  # 10
)
EXAMPLE = _whole("m.py", 3, "    return list(x)[0]\n", "    return next(iter(x))\n")
COMMIT_EDITS = [
    _whole("m.py", 1, "", "import sys\n"),  # an insertion before line 1
    EXAMPLE,
    _whole("m.py", 6, "    return list(y)[0]\n", "    return next(iter(y))\n"),
    _whole("m.py", 9, "    print(1)\n    print(1)\n", "    print(2)\n    print(3)\n"),
]


def _current() -> tuple[list[str], list[J.Hunk]]:
    current = J.apply_lines(PARENT, 3, 4, EXAMPLE["new"])
    return current.split("\n"), J.pending_hunks(current, COMMIT_EDITS, [EXAMPLE], PARENT)


def _judge(edit: dict[str, Any]) -> str:
    lines, pending = _current()
    return J.judge_against_commit(lines, J.line_hunk(lines, edit), pending)


def test_pending_hunks_leave_out_the_examples_and_agree_with_a_line_diff() -> None:
    lines, pending = _current()
    assert pending == [
        (1, 1, ["import sys"]),
        (6, 7, ["    return next(iter(y))"]),
        (9, 11, ["    print(2)", "    print(3)"]),
    ]
    commit = J.commit_text(PARENT, COMMIT_EDITS)
    assert J.diff_hunks("\n".join(lines), commit) == pending


def test_pending_hunks_shift_past_an_example_that_adds_lines() -> None:
    example = _whole("m.py", 3, "    return list(x)[0]\n", "    y = 1\n    return next(iter(x))\n")
    current = J.apply_lines(PARENT, 3, 4, example["new"])
    edits = [example, COMMIT_EDITS[2]]
    assert J.pending_hunks(current, edits, [example], PARENT) == [
        (7, 8, ["    return next(iter(y))"])
    ]


def test_the_commit_s_own_rewrite_elsewhere_is_same() -> None:
    assert _judge(_edit(9, 0, 11, 0, "    print(2)\n    print(3)\n")) == J.SAME
    # a part of that hunk, as the commit wrote it, is same too
    assert _judge(_edit(9, 10, 9, 11, "2")) == J.SAME
    assert _judge(_edit(1, 0, 1, 0, "import sys\n")) == J.SAME


def test_a_rewrite_the_commit_made_otherwise_is_different() -> None:
    assert _judge(_edit(9, 10, 9, 11, "7")) == J.DIFFERENT
    assert _judge(_edit(1, 0, 1, 0, "import re\n")) == J.DIFFERENT
    # deleting lines the commit rewrote brings the text no nearer by the commit's way
    assert _judge(_edit(9, 0, 11, 0, "")) == J.DIFFERENT
    # spanning a line the commit left alone and one it changed
    assert _judge(_edit(8, 0, 10, 0, "def c(z):\n    print(2)\n")) == J.DIFFERENT


def test_a_rewrite_of_lines_the_commit_left_alone_is_unchanged() -> None:
    assert _judge(_edit(0, 0, 0, 9, "import os.path")) == J.UNCHANGED
    assert _judge(_edit(5, 0, 5, 0, "@cache\n")) == J.UNCHANGED


def test_a_deletion_placed_differently_among_repeated_lines_is_still_same() -> None:
    parent = "a = 1\n\ndef f():\n    pass\n\nb = 2\n"
    commit = [_whole("m.py", 1, "\ndef f():\n    pass\n", "")]
    lines = parent.split("\n")
    pending = J.pending_hunks(parent, commit, [], parent)
    # lines 2..4 ("def f():", "    pass", "") out is the same text as the commit's 1..3
    hunk = J.line_hunk(lines, _edit(2, 0, 5, 0, ""))
    assert hunk == (2, 5, [])
    assert J.judge_against_commit(lines, hunk, pending) == J.SAME


def test_indel_distance_is_exact() -> None:
    assert J.indel_distance("kitten", "sitting") == 5  # k->s, e->i: 2+2, +g: 1
    assert J.indel_distance("", "abc") == 3
    assert J.indel_distance("abc", "abc") == 0


# -- reversals: a suggestion that puts an example's old text back ------------------------------


def test_undoing_an_example_edit_is_a_reversal() -> None:
    lines, _ = _current()
    regions = [J.example_region(3, EXAMPLE["old"], EXAMPLE["new"])]
    back = J.line_hunk(lines, _edit(3, 11, 3, 24, "list(x)[0]"))
    assert J.is_reversal(lines, back, regions)
    elsewhere = J.line_hunk(lines, _edit(6, 11, 6, 21, "next(iter(y))"))
    assert not J.is_reversal(lines, elsewhere, regions)
    other = J.line_hunk(lines, _edit(3, 11, 3, 24, "first(x)"))
    assert not J.is_reversal(lines, other, regions)


def test_putting_back_a_deleted_line_or_deleting_an_inserted_one_is_a_reversal() -> None:
    # an example deleted line 2 ("reveal_type(x)"); the current document no longer has it
    lines = ["x = 1", "y = 2", "z = 3", ""]
    deleted = [J.example_region(2, "reveal_type(x)\n", "")]
    assert J.is_reversal(lines, J.line_hunk(lines, _edit(2, 0, 2, 0, "reveal_type(x)\n")), deleted)
    assert not J.is_reversal(
        lines, J.line_hunk(lines, _edit(1, 0, 1, 0, "reveal_type(x)\n")), deleted
    )
    # an example inserted line 1 ("y = 2"): deleting it again undoes it
    inserted = [J.example_region(1, "", "y = 2\n")]
    assert J.is_reversal(lines, J.line_hunk(lines, _edit(1, 0, 2, 0, "")), inserted)
    assert not J.is_reversal(lines, J.line_hunk(lines, _edit(2, 0, 3, 0, "")), inserted)


# -- the report --------------------------------------------------------------------------------


def test_summary_precision_counts_same_and_labelled_only_does_not() -> None:
    rows = [
        {"kind": "identical", "language": "python", "has_commit_edits": True, "suggestions": 4,
         "correct": 2, "same": 1, "different": 1, "unchanged": 0, "sites": 3, "sites_hit": 2,
         "action_hits": 1, "reversals_nextEdits": 1, "reversals_codeAction": 0},
        {"kind": "same-shape", "language": "javascript", "has_commit_edits": False,
         "suggestions": 1, "correct": 0, "unjudged": 1, "sites": 2, "sites_hit": 0,
         "action_hits": 0},
    ]  # fmt: skip
    s = J.summarise(rows)
    assert (s["precision"], s["labelled_only_precision"]) == (0.6, 0.4)
    assert (s["recall"], s["hit"], s["reversals"]) == (0.4, 0.5, 1)
    assert s["cases_without_commit_edits"] == 1 and s["unjudged"] == 1
    assert set(J.by_group(rows, "language")) == {"python", "javascript"}
