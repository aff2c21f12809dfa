"""The skill miner: each new structural edit joins a skill, widens one, or pairs with a pending
edit into a new one (memory.skills.skill says what a skill is).

Generalising two edits tries the most specific context level first (memory.skills.mining does the
work at one level), keeps a generalisation only when memory.skills.validity finds it valid, and
loosens the words two examples merely shared (memory.skills.loosen) when the result is still trusted
on two.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from memory.skills import mining, validity
from memory.skills.edits import StructuralEdit
from memory.skills.loosen import loosen
from memory.skills.mining import NODE, WINDOW, Level
from memory.skills.skill import Skill, skill_name
from memory.skills.templates import AntiUnifier, Template, from_syn, is_block, match_syn, shape
from memory.skills.treediff import at


def _skill_id(
    language: str, mode: str, before: list[Template], after: list[Template], derived: Any = None
) -> str:
    raw = "\x01".join([language, mode, *map(shape, before), "=>", *map(shape, after)])
    if derived:
        raw += "\x01" + json.dumps(derived, sort_keys=True)
    return "sk_" + hashlib.sha1(raw.encode("utf-8", "replace")).hexdigest()[:12]


# -- the miner ---------------------------------------------------------------------------------


def _make(
    edit: StructuralEdit,
    mode: str,
    height: int,
    anchors: list[int],
    level: Level,
    before: list[Template],
    after: list[Template],
    examples: list[str],
    derived: dict[str, list[Any]] | None = None,
) -> Skill:
    after_template: dict[str, Any] = {"parts": after, "skeleton": level.skel_a}
    if derived:
        after_template["derive"] = derived
    skill = Skill(
        id=_skill_id(edit.language, mode, before, after, derived),
        name="",
        language=edit.language,
        before_template={
            "root": level.root,
            "mode": mode,
            "parts": before,
            "skeleton": level.skel_b,
            "indent": level.indent,
        },
        after_template=after_template,
        examples=examples,
        support=len(examples),
        specificity=validity.specificity(before),
        height=height,
        anchors=anchors,
        blank=level.blank,
        line_insert=mode == WINDOW and anchors != [0, 0] and edit.whole_lines,
    )
    skill.name = skill_name(skill)
    return skill


def _levels(edit: StructuralEdit) -> list[tuple[str, int, list[int]]]:
    """Contexts to try, most specific first."""
    out: list[tuple[str, int, list[int]]] = []
    if not edit.clipped:
        out.extend((NODE, h, [0, 0]) for h in range(len(edit.path), -1, -1))
        body = at(edit.syn_before(), edit.path).type
        i, jb, ja = edit.window
        if is_block(body) or body in ("module", "program", "source_file"):
            out.pop()  # the statements changed, not the body they happen to make up
        elif edit.whole_lines and i in (jb, ja):
            # whole lines in or out of a list laid out one item per line (`req_tracker=...,`
            # after `build_isolation=...,`): where they go is beside their neighbours, not in
            # a call whose other arguments happen to be alike
            out.clear()
    out.append((WINDOW, 0, mining.anchors_of(edit)))
    return out


def _derive(
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


def generalise(first: StructuralEdit, second: StructuralEdit, examples: list[str]) -> Skill | None:
    """The most specific valid skill covering two edits, or None when they are not alike."""
    if mining.bucket_key(first) != mining.bucket_key(second):
        return None
    for mode, height, anchors in _levels(first):
        a = mining.level(first, mode, height, anchors)
        b = mining.level(second, mode, height, anchors)
        if a is None or b is None or len(a.before) != len(b.before):
            continue
        if len(a.after) != len(b.after) or a.root != b.root:
            continue
        if a.focus_b != b.focus_b or a.focus_a != b.focus_a:
            continue  # parts align by position: the changes must sit at the same place
        au = AntiUnifier(set())
        before, after = (
            mining.gen_parts(
                au, [from_syn(x) for x in mine], theirs, focus, carried, node=mode == NODE
            )
            for mine, theirs, focus, carried in (
                (a.before, b.before, b.focus_b, a.carried_b & b.carried_b),
                (a.after, b.after, b.focus_a, a.carried_a & b.carried_a),
            )
        )
        skill = _built(first, mode, height, anchors, a, b, before, after, examples)
        if skill is not None:
            return _loosened(skill, first, mode, height, anchors, a, b) or skill
    return None


def _built(
    first: StructuralEdit,
    mode: str,
    height: int,
    anchors: list[int],
    a: Level,
    b: Level,
    before: list[Template],
    after: list[Template],
    examples: list[str],
) -> Skill | None:
    """The skill these templates make from examples a and b, or None when they are not valid."""
    derived = _derive(before, after, a, b)
    unused = [] if after else mining.unused_holes(before, [a, b])
    if derived is None or not validity.valid(before, after, derived, unused):
        return None
    skill = _make(first, mode, height, anchors, a, before, after, examples, derived)
    skill.uses = mining.uses(before, after, [a.before, b.before])
    if unused:
        skill.before_template["unused"] = unused
    return skill


def _loosened(
    skill: Skill,
    first: StructuralEdit,
    mode: str,
    height: int,
    anchors: list[int],
    a: Level,
    b: Level,
) -> Skill | None:
    """The skill with the words its examples merely shared as holes (memory.skills.loosen), when
    that is still valid and trusted on two examples."""
    focus = mining.focus_spans(a, mode == NODE)
    loose = loosen(skill.before_template["parts"], skill.after_template["parts"], focus)
    if loose is None:
        return None
    made = _built(first, mode, height, anchors, a, b, *loose, skill.examples)
    # a skill already waiting for a third example may wait as the looser one
    trusted = max(2, skill.needed_support())
    return made if made is not None and made.needed_support() <= trusted else None


def single(edit: StructuralEdit, episode_id: str) -> Skill | None:
    """A skill from one example: no holes, so it matches only the same text, with as much
    context as fits on one line (the whole statement when it is one line), else the window."""
    choice: tuple[str, int, list[int]] | None = None
    if not edit.clipped:
        for h in range(len(edit.path), -1, -1):
            lvl = mining.level(edit, NODE, h, [0, 0])
            if lvl is not None:
                node = lvl.before[0]
                if "\n" not in edit.context_before[node.start : node.end]:
                    choice = (NODE, h, [0, 0])
                    break
    if choice is None:
        choice = (WINDOW, 0, mining.anchors_of(edit))
    mode, height, anchors = choice
    a = mining.level(edit, mode, height, anchors)
    if a is None:
        return None
    before, after = [from_syn(x) for x in a.before], [from_syn(x) for x in a.after]
    if [shape(t) for t in before] == [shape(t) for t in after]:
        return None
    return _make(edit, mode, height, anchors, a, before, after, [episode_id])


def _covers(skill: Skill, edit: StructuralEdit) -> bool:
    level = mining.level(edit, skill.mode, skill.height, skill.anchors)
    if level is None or level.root != skill.root:
        return False
    tb, ta = skill.before_template["parts"], skill.after_template["parts"]
    if len(tb) != len(level.before) or len(ta) != len(level.after):
        return False
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


def _widen(skill: Skill, edit: StructuralEdit) -> bool:
    """Generalise a skill to cover one more example, if the result stays valid."""
    level = mining.level(edit, skill.mode, skill.height, skill.anchors)
    if level is None or level.root != skill.root:
        return False
    tb, ta = skill.before_template["parts"], skill.after_template["parts"]
    if len(tb) != len(level.before) or len(ta) != len(level.after):
        return False
    au = AntiUnifier(set())
    node = skill.mode == NODE
    before = mining.gen_parts(au, tb, level.before, level.focus_b, level.carried_b, node=node)
    after = mining.gen_parts(au, ta, level.after, level.focus_a, level.carried_a, node=node)
    # the first example's texts come from the skeleton the spans index; examples in between
    # are not stored, so a derivation is checked on the first and the newest
    first = Level(skill.root, [], [], skill.before_template["skeleton"], "", "", -1)
    first.skel_a = skill.after_template["skeleton"]
    # a widened template renames holes; its constraints (usage, unused names) are kept where
    # this example agrees with them
    names = mining.renamed_holes(tb, before)
    was = {names[h] for h in skill.unused_holes if h in names}
    unused = [h for h in mining.unused_holes(before, [level]) if h in was]
    derived = _derive(before, after, first, level)
    if derived is None or not validity.valid(before, after, derived, unused):
        return False
    old = [[names[h], w, p] for h, w, p in skill.uses if h in names]
    skill.uses = [u for u in mining.uses(before, after, [level.before]) if u in old]
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


class SkillMiner:
    """Incremental miner: each new edit joins a skill, widens one, or pairs with a pending edit."""

    max_pending = 64  # per bucket; older unpaired edits are forgotten first

    def __init__(self, min_examples: int = 2, skills: list[Skill] | None = None) -> None:
        self.min_examples = min_examples
        self._skills: dict[str, Skill] = {}
        self._buckets: dict[tuple[str, ...], list[str]] = {}
        self._pending: dict[tuple[str, ...], list[tuple[str, StructuralEdit]]] = {}
        # skills loaded from a store have no bucket key: they are checked for every edit
        self._loaded: list[str] = []
        for s in skills or []:
            self._skills[s.id] = s
            self._loaded.append(s.id)

    def skills(self) -> list[Skill]:
        return list(self._skills.values())

    def add(self, episode_id: str, edit: StructuralEdit) -> list[Skill]:
        """Mine one edit episode; returns the skills it created or updated."""
        key = mining.bucket_key(edit)
        bucket = self._buckets.setdefault(key, [])
        candidates = [*bucket, *(s for s in self._loaded if self._skills[s].language == key[0])]
        for sid in candidates:
            skill = self._skills.get(sid)
            if skill is not None and _covers(skill, edit):
                return [self._support(skill, episode_id)]
        for sid in bucket:
            skill = self._skills.get(sid)
            if skill is not None and _widen(skill, edit):
                return [self._support(skill, episode_id)]
        if self.min_examples <= 1:
            made = single(edit, episode_id)
            return [self._keep(key, made)] if made is not None else []
        pending = self._pending.setdefault(key, [])
        for k in range(len(pending) - 1, -1, -1):
            other_id, other = pending[k]
            made = generalise(other, edit, [other_id, episode_id])
            if made is not None:
                del pending[k]
                return [self._keep(key, made)]
        pending.append((episode_id, edit))
        del pending[: -self.max_pending]
        return []

    def _support(self, skill: Skill, episode_id: str) -> Skill:
        if episode_id not in skill.examples:
            skill.examples.append(episode_id)
        skill.support = len(skill.examples)
        return skill

    def _keep(self, key: tuple[str, ...], skill: Skill) -> Skill:
        known = self._skills.get(skill.id)
        if known is not None:
            for e in skill.examples:
                self._support(known, e)
            return known
        self._skills[skill.id] = skill
        self._buckets[key].append(skill.id)
        return skill
