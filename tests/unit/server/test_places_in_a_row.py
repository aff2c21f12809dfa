"""The places in a row with the one at the cursor (server.suggest.sites.run_around)."""

from memory.skills.matching import Match
from server.suggest.sites import run_around


def _at(line: int, start: int = 0, end: int = 9, end_line: int | None = None) -> Match:
    last = line if end_line is None else end_line
    return Match("sk", line, start, last, end, "var", "let")


def test_neighbours_on_the_next_lines_and_the_same_line_are_one_run() -> None:
    sites = [_at(9), _at(3), _at(4), _at(4, 12, 20), _at(5), _at(7)]
    assert run_around(sites, _at(4)) == [_at(3), _at(4), _at(4, 12, 20), _at(5)]
    assert run_around(sites, _at(5)) == [_at(3), _at(4), _at(4, 12, 20), _at(5)]


def test_a_gap_of_a_line_ends_the_run() -> None:
    sites = [_at(3), _at(5), _at(6)]
    assert run_around(sites, _at(3)) == [_at(3)]
    assert run_around(sites, _at(6)) == [_at(5), _at(6)]


def test_a_site_over_several_lines_reaches_the_line_after_its_last() -> None:
    # a match that ends at column 0 ends on the line before
    sites = [_at(2, 0, 0, end_line=5), _at(5), _at(6, 0, 4, end_line=8), _at(9)]
    assert run_around(sites, _at(5)) == sites


def test_overlapping_sites_and_a_site_not_found_are_no_run() -> None:
    sites = [_at(3, 0, 9), _at(3, 4, 12)]
    assert run_around(sites, _at(3, 0, 9)) == [_at(3, 0, 9)]
    assert run_around(sites, _at(8)) == []
