"""Skills reach memory: every save tells the store's skill listeners, and a memory index can
take the skills it is missing (mined before it indexed them) or forget a deleted one."""

from __future__ import annotations

from memory.recall import graph, ingest
from memory.recall.index import MemoryIndex
from memory.recall.moments import Moments
from memory.skills.edits import structural_edit
from memory.skills.miner import SkillMiner
from memory.skills.skill import Skill
from memory.skills.skill_store import SkillStore, StoredSkill
from memory.store.database import Store

DOC = "def f(a, b):\n    print(a)\n    x = 1\n    print(b + 1)\n"


def _skill() -> Skill:
    miner = SkillMiner(min_examples=2)
    doc = DOC
    made: list[Skill] = []
    for n, (old, new) in enumerate(
        [("print(a)", "logger.info(a)"), ("print(b + 1)", "logger.info(b + 1)")]
    ):
        after = doc.replace(old, new, 1)
        edit = structural_edit("python", doc, after)
        assert edit is not None
        made = miner.add(str(n + 1), edit)
        doc = after
    return made[0]


def test_saving_a_skill_tells_the_store_listeners_and_survives_a_failing_one(
    store: Store,
) -> None:
    heard: list[tuple[str, bool]] = []

    def broken(stored: StoredSkill) -> None:
        raise RuntimeError("listener bug")

    store.skill_listeners += [broken, lambda s: heard.append((s.skill.id, s.deleted))]
    skills = SkillStore(store)
    stored = StoredSkill(_skill())
    skills.save(stored)
    stored.deleted = True
    skills.save(stored)
    store.flush()
    assert heard == [(stored.skill.id, False), (stored.skill.id, True)]
    assert store.query("SELECT deleted FROM skills")[0][0] == 1  # the write went through


def test_skill_text_reads_like_the_rewrite(store: Store) -> None:
    text = ingest.skill_text(_skill())
    assert text.startswith("skill ") and "print" in text and "logger.info" in text
    assert "->" in text


def test_missing_skills_are_indexed_once_and_recalled_by_kind(store: Store) -> None:
    skill = _skill()
    SkillStore(store).save(StoredSkill(skill))
    gone = StoredSkill(Skill.from_json({**skill.to_json(), "id": "deleted-one"}), deleted=True)
    SkillStore(store).save(gone)
    store.flush()
    index = MemoryIndex(store)
    moments = Moments(store)
    assert ingest.index_missing_skills(index, moments) == 1  # the live one only
    assert ingest.index_missing_skills(index, moments) == 0  # already there
    hits = index.recall("replace print with logger.info", 5, kinds=("skill",))
    assert [h.item.ref_id for h in hits] == [skill.id]
    store.flush()
    links = graph.links_of(store, [f"skill:{skill.id}"])
    assert {(lk.src, lk.type) for lk in links} >= {("episode:1", "produced")}
    assert moments.last(1)[0].trigger == "backfill"

    assert ingest.forget_skill(index, skill.id) is True
    assert ingest.forget_skill(index, skill.id) is False
    assert index.recall("replace print with logger.info", 5, kinds=("skill",)) == []
