"""Next edits keep the sites the site model finds likely (server.suggest.site_filter)."""

from dataclasses import dataclass

from memory.skills.rewrites import Match
from memory.skills.site_model import FEATURES, SiteModel
from server.suggest.documents import split_lines
from server.suggest.site_filter import likely_sites
from server.suggest.sites import in_text
from tests.unit.skills.mined import mine


@dataclass
class Site:
    uri: str
    match: Match
    lines: list[str]


def _sites() -> tuple[dict, list[Site]]:
    here = "print(a)\nprint(b)\nprint(c)\n"
    there = "print(d)\n"
    miner, [skill], after = mine(
        "python", here, ("print(a)", "logger.info(a)"), ("print(b)", "logger.info(b)")
    )
    found = []
    for uri, text in (("file:///w/here.py", after), ("file:///w/there.py", there)):
        matches, _ = in_text([skill], "python", text)
        found += [Site(uri, m, split_lines(text)) for m in matches]
    return {skill.id: skill}, found


def _model(**weights: float) -> SiteModel:
    return SiteModel([weights.get(f, 0.0) for f in FEATURES], 0.5, {})


def test_the_model_keeps_what_it_finds_likely() -> None:
    skills, found = _sites()
    assert [s.uri for s in found] == ["file:///w/here.py", "file:///w/there.py"]
    # a model that trusts only the document just edited
    near = _model(bias=-1.0, same_file=2.0)
    kept = likely_sites(skills, found, "file:///w/here.py", 0, near)
    assert [(s.uri, s.match.start_line) for s in kept] == [("file:///w/here.py", 2)]
    # and one that trusts every place: nothing is dropped
    assert likely_sites(skills, found, "file:///w/here.py", 0, _model(bias=1.0)) == found


def test_sites_of_a_skill_the_request_did_not_choose_pass() -> None:
    _, found = _sites()
    assert likely_sites({}, found, "file:///w/here.py", 0, _model(bias=-5.0)) == found
