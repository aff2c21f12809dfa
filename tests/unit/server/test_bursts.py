"""Burst grouping as plain logic: idle gaps, jumps elsewhere, save and close."""

from __future__ import annotations

from server.capture.bursts import BurstTracker, changed_region

DOC = "".join(f"line {i}\n" for i in range(20))


def edit(text: str, line: int, old: str, new: str) -> str:
    lines = text.splitlines(keepends=True)
    lines[line] = lines[line].replace(old, new, 1)
    return "".join(lines)


def test_changes_close_together_form_one_burst() -> None:
    t = BurstTracker(idle_gap_s=1.0, jump_lines=3)
    a = edit(DOC, 5, "line", "LINE")
    b = edit(a, 6, "line", "LINE")
    assert t.change("u", 2, DOC, a, 5, 5, 0, now=0.0) == []
    assert t.change("u", 3, a, b, 6, 6, 0, now=0.5) == []
    closed = t.expire(now=2.0)
    assert len(closed) == 1
    burst = closed[0]
    assert (burst.before, burst.after) == (DOC, b)
    assert (burst.first_version, burst.last_version, burst.changes) == (2, 3, 2)
    assert burst.reason == "idle" and burst.ended_at == 0.5


def test_idle_gap_splits_bursts() -> None:
    t = BurstTracker(idle_gap_s=1.0, jump_lines=3)
    a = edit(DOC, 5, "line", "LINE")
    b = edit(a, 5, "5", "five")
    t.change("u", 2, DOC, a, 5, 5, 0, now=0.0)
    closed = t.change("u", 3, a, b, 5, 5, 0, now=1.5)
    assert [c.after for c in closed] == [a]
    assert t.expire(now=1.6) == []  # the second burst is still fresh
    assert [c.before for c in t.expire(now=3.0)] == [a]


def test_jump_elsewhere_closes_with_text_before_the_jump() -> None:
    t = BurstTracker(idle_gap_s=60.0, jump_lines=3)
    a = edit(DOC, 2, "line", "LINE")
    b = edit(a, 15, "line", "LINE")
    t.change("u", 2, DOC, a, 2, 2, 0, now=0.0)
    closed = t.change("u", 3, a, b, 15, 15, 0, now=0.1)
    assert len(closed) == 1 and closed[0].reason == "jump"
    assert (closed[0].before, closed[0].after) == (DOC, a)
    rest = t.close("u", now=0.2, reason="save")
    assert (rest[0].before, rest[0].after, rest[0].reason) == (a, b, "save")


def test_burst_follows_inserted_lines() -> None:
    t = BurstTracker(idle_gap_s=60.0, jump_lines=1)
    # typing three new lines below line 4 keeps the burst growing downwards
    text = DOC
    for i in range(3):
        new = text.replace(f"line {4 + i}\n", f"line {4 + i}\nnew\n", 1)
        assert t.change("u", 2 + i, text, new, 5 + i, 5 + i, 1, now=i * 0.1) == []
        text = new
    assert len(t) == 1


def test_documents_have_separate_bursts() -> None:
    t = BurstTracker(idle_gap_s=60.0, jump_lines=3)
    t.change("a", 2, "x\n", "y\n", 0, 0, 0, now=0.0)
    t.change("b", 2, "x\n", "z\n", 0, 0, 0, now=0.0)
    assert len(t) == 2
    assert {c.uri for c in t.close_all(now=1.0)} == {"a", "b"}
    assert len(t) == 0


def test_changed_region_is_minimal_whole_lines() -> None:
    before = "a\nb\nc\nd\n"
    after = "a\nB\nC\nd\n"
    assert changed_region(before, after) == (1, ["b\n", "c\n"], ["B\n", "C\n"])
    assert changed_region("a\n", "a\nb\n") == (1, [], ["b\n"])
    assert changed_region("same", "same") == (0, [], [])
