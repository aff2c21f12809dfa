"""Skill cards as plain functions: the merge key, canonical holes, and the checks on rows."""

from __future__ import annotations

import json
from typing import Any

import pytest

from memory.skills.edits import structural_edit
from memory.skills.miner import SkillMiner
from memory.team.card import (
    MAX_CARD_BYTES,
    CardError,
    card_from_row,
    card_from_skill,
    skill_key,
)
from tests.unit.skills.mined import mine

DOC = "def a(x):\n    print(x)\n\n\ndef b(y):\n    print(y)\n\n\ndef c(z):\n    print(z)\n"
CHANGES = (("print(x)", "logger.info(x)"), ("print(y)", "logger.info(y)"))


def _skill() -> Any:
    _, made, _ = mine("python", DOC, *CHANGES)
    assert made
    return made[0]


def _row(card: Any) -> dict[str, Any]:
    return {
        "key": card.key, "developer": "dev-b", "name": card.name, "language": card.language,
        "before": json.dumps(card.before), "after": json.dumps(card.after),
        "guards": json.dumps(card.guards), "support": card.support,
        "specificity": card.specificity, "created_at": 1.0, "updated_at": 2.0,
    }  # fmt: skip


def _renamed(skill: Any, old: str, new: str) -> Any:
    """The same skill with one hole called something else (another developer's miner)."""
    text = json.dumps(skill.to_json()).replace(f'"{old}"', f'"{new}"')
    return type(skill).from_json(json.loads(text))


def test_same_rewrite_with_other_hole_names_has_one_key() -> None:
    skill = _skill()
    names = [h for h in json.dumps(skill.before_template["parts"]).split('"') if h.startswith("h")]
    hole = next(n for n in names if n[1:].isdigit())
    other = _renamed(skill, hole, "zz9")
    assert json.dumps(other.to_json()) != json.dumps(skill.to_json())
    assert skill_key(other) == skill_key(skill)
    a, b = card_from_skill(skill, "a", 1, 2), card_from_skill(other, "b", 3, 4)
    assert a.before == b.before and a.after == b.after and a.digest() == b.digest()


def test_another_rewrite_has_another_key() -> None:
    _, made, _ = mine("python", DOC, ("print(x)", "log.debug(x)"), ("print(y)", "log.debug(y)"))
    assert skill_key(made[0]) != skill_key(_skill())


def test_card_holds_the_rule_and_no_examples() -> None:
    skill = _skill()
    assert skill.examples  # episode ids stay local
    card = card_from_skill(skill, "dev-a", 1.0, 2.0)
    text = json.dumps(_row(card))
    assert "examples" not in text and "e0" not in json.dumps(card.guards)
    back = card_from_row(_row(card))
    pulled = back.to_skill()
    assert pulled.support == skill.support
    assert pulled.examples == [f"team:{k}" for k in range(skill.support)]  # stand-ins
    assert pulled.pattern_text("before") == "print($t0)"
    assert pulled.pattern_text("after") == "logger.info($t0)"


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("language", "cobol", "unknown language"),
        ("language", 7, "language"),
        ("before", "{not json", "not JSON"),
        ("after", json.dumps({"parts": [["x", 1]], "skeleton": ""}), "unknown template node"),
        ("support", -3, "support"),
        ("support", "2", "support"),
        ("specificity", float("nan"), "specificity"),
        ("name", "x" * (MAX_CARD_BYTES + 1), "bytes"),
        ("key", "0" * 32, "key does not match"),
        ("guards", json.dumps({"anchors": "left"}), "anchors"),
        ("guards", json.dumps({"evil": 1}), "known fields"),
    ],
)
def test_malformed_rows_are_refused(field: str, value: Any, why: str) -> None:
    row = _row(card_from_skill(_skill(), "dev-a", 1.0, 2.0))
    row[field] = value
    with pytest.raises(CardError, match=why):
        card_from_row(row)


def test_missing_fields_and_broken_spans_are_refused() -> None:
    row = _row(card_from_skill(_skill(), "dev-a", 1.0, 2.0))
    del row["guards"]
    with pytest.raises(CardError, match="missing fields"):
        card_from_row(row)
    row = _row(card_from_skill(_skill(), "dev-a", 1.0, 2.0))
    before = json.loads(row["before"])
    before["skeleton"] = ""  # the spans point past the end of the text they render from
    row["before"] = json.dumps(before)
    with pytest.raises(CardError):
        card_from_row(row)


def test_an_edit_made_here_adds_to_a_pulled_skills_support() -> None:
    skill = _skill()
    skill.support = 4
    pulled = card_from_row(_row(card_from_skill(skill, "dev-a", 1.0, 2.0))).to_skill()
    miner = SkillMiner(2, [pulled])
    after = DOC.replace("print(z)", "logger.info(z)")
    edit = structural_edit("python", DOC, after)
    assert edit is not None
    (joined,) = [s for s in miner.add("17", edit) if s.id == pulled.id]
    assert joined.support == 5 and "17" in joined.examples
