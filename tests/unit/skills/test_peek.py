"""SkillMiner.peek: what add() would make of an edit, without changing the miner (the edit still
being made is mined that way; server.suggest.provisional)."""

from __future__ import annotations

import json

from memory.skills.edits import structural_edit
from memory.skills.miner import SkillMiner

DOC = "def f(a, b, c):\n    print(a)\n    x = 1\n    print(b)\n    y = 2\n    print(c)\n"


def _edit(doc: str, old: str, new: str):
    after = doc.replace(old, new, 1)
    edit = structural_edit("python", doc, after)
    assert edit is not None
    return edit, after


def _state(miner: SkillMiner) -> str:
    skills = sorted(json.dumps(s.to_json(), sort_keys=True) for s in miner.skills())
    pending = {str(k): [e for e, _ in v] for k, v in miner._pending.items() if v}
    return json.dumps([skills, pending], sort_keys=True)


def test_peek_makes_what_add_would_and_leaves_the_miner_as_it_was() -> None:
    miner = SkillMiner()
    first, doc = _edit(DOC, "print(a)", "logger.info(a)")
    assert miner.add("e1", first) == []
    second, doc = _edit(doc, "print(b)", "logger.info(b)")
    before = _state(miner)

    peeked = miner.peek("open", second)

    assert _state(miner) == before  # no skill kept, e1 still waits for a partner
    assert peeked and all("open" in s.examples and "e1" in s.examples for s in peeked)
    added = miner.add("e2", second)
    assert sorted(s.id for s in peeked) == sorted(s.id for s in added)


def test_peek_supports_a_known_skill_on_a_copy() -> None:
    miner = SkillMiner()
    doc = DOC
    for n, arg in enumerate("ab"):
        edit, doc = _edit(doc, f"print({arg})", f"logger.info({arg})")
        miner.add(f"e{n}", edit)
    third, _ = _edit(doc, "print(c)", "logger.info(c)")
    supports = {s.id: s.support for s in miner.skills()}

    peeked = miner.peek("open", third)

    assert peeked and all(s.support == supports[s.id] + 1 for s in peeked)
    assert {s.id: s.support for s in miner.skills()} == supports  # the miner's own unchanged


def test_peek_of_an_unrelated_edit_makes_nothing() -> None:
    miner = SkillMiner()
    first, doc = _edit(DOC, "print(a)", "logger.info(a)")
    miner.add("e1", first)
    other, _ = _edit(doc, "x = 1", "x = 10")
    before = _state(miner)
    assert miner.peek("open", other) == []
    assert _state(miner) == before
