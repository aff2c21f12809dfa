"""What the ranker reads of the session: sites shown and not accepted, recent edit lines."""

from __future__ import annotations

from server.suggest.session import EditLines, SiteCounts, site_key


def test_site_counts_count_sets_and_forget_an_accepted_showing() -> None:
    counts = SiteCounts(max_sites=3)
    a = site_key("file:///a%20b.py", {"skillId": "s", "matchText": "x => y"})
    assert a == ("file:///a b.py", "s", "x => y")
    b, c, d = (("u", "s", t) for t in "bcd")
    counts.shown([a, b, a])  # a site is counted once per set
    counts.shown([a])
    assert (counts.get(a), counts.get(b), counts.get(c)) == (2, 1, 0)
    counts.accepted(a)
    assert counts.get(a) == 1
    counts.accepted(b)
    assert counts.get(b) == 0
    counts.shown([c, d])
    counts.shown([b])
    assert counts.get(a) == 0 and counts.get(d) == 1  # a was the oldest: dropped at 3 sites


def test_edit_lines_follow_line_shifts() -> None:
    lines = EditLines(keep=3)
    lines.edit("file:///a.py", 10, 1, 1)
    lines.edit("file:///a.py", 30, 1, 3)  # two lines more below 30: 10 stays
    lines.edit("file:///a.py", 5, 2, 1)  # one line fewer from line 7 on: 10 -> 9, 30 -> 29
    assert lines.of("file:///a.py") == [9, 29, 5]
    lines.region("file:///a.py", {"startLine": 40, "beforeLines": 1, "afterLines": 1})
    lines.region("file:///a.py", {"startLine": None})
    lines.region("file:///a.py", None)
    assert lines.of("file:///a.py") == [29, 5, 40]  # the last three
    assert lines.of("file:///b.py") == []
