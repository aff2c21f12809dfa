"""Two hypotheses that make one change at a site are one code action (actions._effect)."""

from memory.skills.matching import Match
from server.suggest.actions import _effect


def test_the_same_change_over_different_spans_is_one_effect() -> None:
    statement = Match("sk_a", 4, 5, 4, 20, "v not in (1, 2)", "v not in {1, 2}")
    subtree = Match("sk_b", 4, 14, 4, 20, "(1, 2)", "{1, 2}")
    assert _effect(statement) == _effect(subtree) == (4, 14, "(1, 2)", "{1, 2}")


def test_a_change_after_a_line_break_is_placed_on_its_line() -> None:
    block = Match("sk_a", 2, 4, 3, 12, "x = 1\n    y = 2", "x = 1\n    y = 3")
    line = Match("sk_b", 3, 4, 3, 9, "y = 2", "y = 3")
    assert _effect(block) == _effect(line) == (3, 8, "2", "3")


def test_different_changes_stay_apart() -> None:
    a = Match("sk_a", 1, 0, 1, 6, "(1, 2)", "{1, 2}")
    b = Match("sk_b", 1, 0, 1, 6, "(1, 2)", "[1, 2]")
    assert _effect(a) != _effect(b)
