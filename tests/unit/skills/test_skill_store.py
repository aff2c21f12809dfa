"""Skills, suggestions and outcomes persist in the store and load back with their counts."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from memory.skills.edits import structural_edit
from memory.skills.miner import SkillMiner
from memory.skills.skill import Skill
from memory.skills.skill_store import OutcomeCounts, SkillStore, StoredSkill
from memory.store.database import Episode, Store
from memory.store.migrations import latest_version

DOC = "def f(a, b):\n    print(a)\n    x = 1\n    print(b + 1)\n"


def _skill() -> Skill:
    miner = SkillMiner(min_examples=2)
    doc = DOC
    for n, (old, new) in enumerate(
        [("print(a)", "logger.info(a)"), ("print(b + 1)", "logger.info(b + 1)")]
    ):
        after = doc.replace(old, new, 1)
        edit = structural_edit("python", doc, after)
        assert edit is not None
        made = miner.add(str(n + 1), edit)
        doc = after
    return made[0]


def test_migration_two_adds_skill_tables(tmp_path: Path) -> None:
    Store(tmp_path / "k.db").close()
    conn = sqlite3.connect(tmp_path / "k.db")
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"skills", "suggestions", "outcomes"} <= tables
    assert latest_version() >= 2


def test_skill_round_trip_with_outcomes(tmp_path: Path) -> None:
    store = Store(tmp_path / "k.db")
    skills = SkillStore(store)
    skill = _skill()
    stored = StoredSkill(skill)
    skills.save(stored)
    skills.record_suggestion("sg1", skill.id, "codeAction", "file:///a.py", {"start": 3})
    for outcome in ("shown", "accepted", "shown", "rejected", "undone"):
        skills.record_outcome("sg1", skill.id, outcome)
    assert store.flush()
    store.close()

    again = SkillStore(Store(tmp_path / "k.db"))
    [loaded] = again.load()
    assert loaded.skill.to_json() == skill.to_json()
    assert loaded.skill.examples == ["1", "2"] and loaded.skill.support == 2
    assert loaded.outcomes.to_json() == {"shown": 2, "accepted": 1, "rejected": 1, "undone": 1}
    assert loaded.outcomes.last_used > 0 and not loaded.deleted
    assert again.totals() == {"shown": 2, "accepted": 1, "rejected": 1, "undone": 1}
    history = again.history(skill.id)
    assert [h["outcome"] for h in history] == ["undone", "rejected", "shown", "accepted", "shown"]
    assert history[0]["kind"] == "codeAction" and history[0]["uri"] == "file:///a.py"
    again.store.close()


def test_update_keeps_created_at_and_marks_renamed_and_deleted(tmp_path: Path) -> None:
    store = Store(tmp_path / "k.db")
    skills = SkillStore(store)
    stored = StoredSkill(_skill())
    skills.save(stored)
    created = stored.created_at
    stored.skill.name = "use the logger"
    stored.renamed = stored.deleted = True
    skills.save(stored)
    assert store.flush()
    [loaded] = skills.load()
    assert loaded.skill.name == "use the logger" and loaded.renamed and loaded.deleted
    assert loaded.created_at == created and loaded.updated_at >= created
    store.close()


def test_unknown_skill_format_is_skipped_not_fatal(tmp_path: Path) -> None:
    store = Store(tmp_path / "k.db")
    store.execute_later(
        "INSERT INTO skills (id, language, name, support, specificity, examples, data,"
        " created_at, updated_at) VALUES ('x', 'python', 'x', 1, 0, '[]', '{\"nope\": 1}', 0, 0)"
    )
    assert store.flush()
    assert SkillStore(store).load() == []
    store.close()


def test_recent_edits_replay_only_structural_episodes(tmp_path: Path) -> None:
    store = Store(tmp_path / "k.db")
    for n in range(5):
        data = {"structural": {"n": n}} if n % 2 == 0 else {"structural": None}
        store.add_episode(Episode("edit", "s", n, n + 1, data))
    store.add_episode(Episode("command", "s", 9, 10, {"command": "ls"}))
    assert store.flush()
    recent = SkillStore(store).recent_edits(10)
    assert [s["n"] for _, s in recent] == [0, 2, 4]
    assert [i for i, _ in recent] == sorted(i for i, _ in recent)
    store.close()


def test_outcome_counts_reject_unknown_outcomes(tmp_path: Path) -> None:
    counts = OutcomeCounts()
    counts.add("accepted", 5.0)
    assert counts.accepted == 1 and counts.last_used == 5.0
    with pytest.raises(ValueError):
        counts.add("loved", 1.0)
    store = Store(tmp_path / "k.db")
    with pytest.raises(ValueError):
        SkillStore(store).record_outcome("s", "k", "loved")
    store.close()
    assert json.dumps(counts.to_json())
