"""One more example for a known skill: whether a skill already covers an edit, and widening a
skill's templates so that it does (memory.skills.miner decides which). Also the derived holes
every example of a skill agrees on, which making and widening a skill both check.
"""

from __future__ import annotations

from typing import Any

from memory.skills import mining, validity
from memory.skills.antiunify import AntiUnifier
from memory.skills.edits import StructuralEdit
from memory.skills.literals import literal_guards
from memory.skills.mining import NODE, Level
from memory.skills.skill import Skill, skill_name
from memory.skills.templates import Template, has_optional, match_syn


def derive_all(
    before: list[Template], after: list[Template], first: Level, *more: Level
) -> dict[str, list[Any]] | None:
    """Derived holes (see memory.skills.transforms) that every example agrees on; first is the
    example whose skeleton the templates' spans index."""
    texts = [(mining.span_texts(before, first.skel_b), mining.span_texts(after, first.skel_a))]
    for lvl in more:
        bt = mining.syn_texts(before, lvl.before, lvl.skel_b)
        at = mining.syn_texts(after, lvl.after, lvl.skel_a)
        if bt is None or at is None:
            return None
        texts.append((bt, at))
    return mining.derive(before, after, texts)


def _aligned(
    skill: Skill, edit: StructuralEdit
) -> tuple[Level, list[Template], list[Template]] | None:
    """The edit seen at the skill's context level, with the skill's before and after parts,
    when the two line up part for part."""
    level = mining.level(edit, skill.mode, skill.height, skill.anchors)
    if level is None or level.root != skill.root:
        return None
    tb, ta = skill.before_template["parts"], skill.after_template["parts"]
    if len(tb) != len(level.before) or len(ta) != len(level.after):
        return None
    return level, tb, ta


def covers(skill: Skill, edit: StructuralEdit) -> bool:
    aligned = _aligned(skill, edit)
    if aligned is None:
        return False
    level, tb, ta = aligned
    env: dict[str, str] = {}
    if not all(match_syn(t, s, env) for t, s in zip(tb, level.before, strict=True)) or not all(
        match_syn(t, s, env) for t, s in zip(ta, level.after, strict=True)
    ):
        return False
    # a deletion of unused names covers one more only where that one's names were unused too
    if any(env.get(h) not in edit.unused for h in skill.unused_holes):
        return False
    derived = skill.after_template.get("derive")
    if not derived:
        return True
    bt = mining.syn_texts(tb, level.before, level.skel_b)
    at = mining.syn_texts(ta, level.after, level.skel_a)
    return bt is not None and at is not None and mining.derivations_hold(derived, bt, at)


def widen(skill: Skill, edit: StructuralEdit) -> bool:
    """Generalise a skill to cover one more example, if the result stays valid."""
    aligned = _aligned(skill, edit)
    if aligned is None:
        return False
    level, tb, ta = aligned
    # with optional holes where this example has an element the skill's lack (or the other
    # way round), else without, as when the skill was made
    done = _widened(skill, level, tb, ta, True)
    return _widened(skill, level, tb, ta, False) is True if done is None else done


def _widened(
    skill: Skill, level: Level, tb: list[Template], ta: list[Template], opt: bool
) -> bool | None:
    """Widen with optional holes or without; None: with them it made none (nothing to retry)."""
    au = AntiUnifier(set())
    node = skill.mode == NODE
    au.texts = (skill.before_template["skeleton"], level.skel_b) if opt else None
    before = mining.gen_parts(au, tb, level.before, level.focus_b, level.carried_b, node=node)
    au.texts = (skill.after_template["skeleton"], level.skel_a) if opt else None
    after = mining.gen_parts(au, ta, level.after, level.focus_a, level.carried_a, node=node)
    retry = opt and (has_optional(before) or has_optional(after))
    # the first example's texts come from the skeleton the spans index; examples in between
    # are not stored, so a derivation is checked on the first and the newest
    first = Level(skill.root, [], [], skill.before_template["skeleton"], "", "", -1)
    first.skel_a = skill.after_template["skeleton"]
    # a widened template renames holes; its constraints (usage, unused names) are kept where
    # this example agrees with them
    names = mining.renamed_holes(tb, before)
    was = {names[h] for h in skill.unused_holes if h in names}
    unused = [h for h in mining.unused_holes(before, [level]) if h in was]
    derived = derive_all(before, after, first, level)
    if derived is None or not validity.valid(before, after, derived, unused):
        return None if retry else False
    old = [[names[h], w, p] for h, w, p in skill.uses if h in names]
    skill.uses = [u for u in mining.uses(before, after, [level.before]) if u in old]
    kept = {names[h]: k for h, k in skill.literals if h in names}
    texts = mining.syn_texts(before, level.before, level.skel_b) or {}
    skill.literals = [[h, k] for h, k in literal_guards(before, after, [texts]) if kept.get(h) == k]
    skill.before_template.pop("unused", None)
    if unused:
        skill.before_template["unused"] = unused
    skill.before_template["parts"] = before
    skill.after_template["parts"] = after
    if derived:
        skill.after_template["derive"] = derived
    else:
        skill.after_template.pop("derive", None)
    skill.specificity = validity.specificity(before)
    skill.name = skill_name(skill)
    return True
