"""Mining skills from hand-written edits, for the unit tests."""

from memory.skills.edits import structural_edit
from memory.skills.matching import SkillIndex
from memory.skills.miner import SkillMiner
from memory.skills.rewrites import apply_match
from memory.skills.skill import Skill


def mine(
    language: str, doc: str, *changes: tuple[str, str], min_examples: int = 2
) -> tuple[SkillMiner, list[Skill], str]:
    """Each change (old text -> new, first occurrence) made in turn and mined: the miner, the
    skills the last change made or joined that do not wait for more examples than their own
    templates ask (the less specific hypotheses beside them, which do, are in miner.skills()),
    and the document after them all."""
    miner = SkillMiner(min_examples=min_examples)
    made: list[Skill] = []
    for n, (old, new) in enumerate(changes):
        after = doc.replace(old, new, 1)
        edit = structural_edit(language, doc, after)
        assert edit is not None
        made = [s for s in miner.add(f"e{n}", edit) if not s.wait]
        doc = after
    return miner, made, doc


def offered(
    language: str, doc: str, *changes: tuple[str, str], offerable: bool = False
) -> tuple[list[Skill], list[tuple[str, str]]]:
    """The skills the last change made, and each site offered in the document after the
    changes as (its line, the line once the rewrite is applied), stripped. offerable: only
    skills with the support their generality asks (Skill.needed_support), else every
    hypothesis the miner keeps."""
    miner, made, after = mine(language, doc, *changes)
    lines = after.splitlines()
    skills = miner.skills()
    if offerable:
        skills = [s for s in skills if s.support >= s.needed_support()]
    found = SkillIndex(skills).matches_at(language, after, None, 0, len(lines) + 1)
    sites = {
        (lines[m.start_line].strip(), apply_match(after, m).splitlines()[m.start_line].strip())
        for m in found
    }
    return made, sorted(sites)
