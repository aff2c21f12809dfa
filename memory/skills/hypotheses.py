"""The skills two edits make: generalised at each context level the miner tries, most specific
first, kept when memory.skills.validity finds them valid, with the words the examples merely
shared loosened (memory.skills.loosen) when the result is still trusted on two; beside the most
specific, the less specific hypotheses (the change root alone, the changed subtree wherever it
sits: memory.skills.subtree), which wait for a third example. A skill from one example (no
holes) is made here too. memory.skills.miner decides which edits meet.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from memory.skills import mining, validity
from memory.skills.antiunify import AntiUnifier
from memory.skills.edits import StructuralEdit
from memory.skills.literals import literal_guards
from memory.skills.loosen import loosen
from memory.skills.meaning import returns_guard
from memory.skills.mining import NODE, WINDOW, Level
from memory.skills.skill import Skill, skill_name
from memory.skills.subtree import SUBTREE, guard_parents, subtree_key
from memory.skills.syn import Syn
from memory.skills.templates import Template, from_syn, has_optional, is_block, shape
from memory.skills.treediff import at
from memory.skills.widening import derive_all


def _skill_id(
    language: str, mode: str, before: list[Template], after: list[Template], derived: Any = None
) -> str:
    raw = "\x01".join([language, mode, *map(shape, before), "=>", *map(shape, after)])
    if derived:
        raw += "\x01" + json.dumps(derived, sort_keys=True)
    return "sk_" + hashlib.sha1(raw.encode("utf-8", "replace")).hexdigest()[:12]


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


def hypotheses(first: StructuralEdit, second: StructuralEdit, examples: list[str]) -> list[Skill]:
    """The valid skills covering two edits, most specific first: in their statements' context
    when the change sits alike in both; then at the change root R alone, when that is less than
    the statement (`if v not in (4, 6):` and `if v not in (None, x):` say `$x not in ($a, $b)`
    as much as they say it of `if v`); then at the changed subtree, wherever it sits. Only the
    first is offered everywhere on two examples; the others wait for a third (Skill.wait) and
    are offered meanwhile at the cursor, where the developer asks."""
    out: list[Skill] = []
    if mining.bucket_key(first) == mining.bucket_key(second):
        made = _generalised(first, second, examples, _levels(first))
        if made is not None:
            out.append(made)
            if made.mode == NODE and made.height > 0:
                root = _generalised(first, second, examples, [(NODE, 0, [0, 0])], waits=True)
                out += [root] if root is not None else []
    key = subtree_key(first)
    if key is not None and key == subtree_key(second):
        made = _generalised(first, second, examples, [(NODE, SUBTREE, [0, 0])], waits=True)
        if made is not None:
            guard_parents(made.before_template, first, second)
            if "parents" not in made.before_template:
                # two kinds of places say little of which others: `len($x)` -> `$x` in a
                # condition and after `not` is no rule for `n = len(x)`; a third example first
                made.wait = 1
            out.append(made)
    unique: list[Skill] = []
    for s in out:
        if all(u.id != s.id for u in unique):
            unique.append(s)
    for s in unique[1:]:
        s.wait = 1
    return unique


def _generalised(
    first: StructuralEdit,
    second: StructuralEdit,
    examples: list[str],
    levels: list[tuple[str, int, list[int]]],
    waits: bool = False,
) -> Skill | None:
    """The first level's valid skill; waits: it will wait for a third example anyway, so the
    words its two examples merely shared are loosened however general that makes it."""
    for mode, height, anchors in levels:
        a = mining.level(first, mode, height, anchors)
        b = mining.level(second, mode, height, anchors)
        if a is None or b is None or len(a.before) != len(b.before):
            continue
        if len(a.after) != len(b.after) or a.root != b.root:
            continue
        if not _same_place(a, b):
            continue  # parts align by position: the changes must sit at the same place
        # first with optional holes where the examples differ by one element (`yield` and
        # `yield x`), then without: a hole over the whole node may still make a skill
        for optional in (True, False):
            au = AntiUnifier(set())
            au.texts = (a.skel_b, b.skel_b) if optional else None
            before = _gen_side(au, a.before, b.before, b.focus_b, a.carried_b & b.carried_b, mode)
            au.texts = (a.skel_a, b.skel_a) if optional else None
            after = _gen_side(au, a.after, b.after, b.focus_a, a.carried_a & b.carried_a, mode)
            skill = _built(first, mode, height, anchors, a, b, before, after, examples)
            if skill is not None:
                return _loosened(skill, first, mode, height, anchors, a, b, waits) or skill
            if not has_optional(before) and not has_optional(after):
                break
    return None


def _same_place(a: Level, b: Level) -> bool:
    """The changes sit at the same place in both levels: at the same child indices, or, in
    lists of different lengths (which become segment holes), at the same distance from the
    list's end (`, strict=False` appended to argument lists of two and of three)."""
    if a.focus_b == b.focus_b and a.focus_a == b.focus_a:
        return True
    sides = ((a.focus_b, b.focus_b, a.before, b.before), (a.focus_a, b.focus_a, a.after, b.after))
    for fa, fb, pa, pb in sides:
        if fa is None or fb is None or fa[0] != fb[0] or len(pa) != 1 or len(pb) != 1:
            return False
        na, nb = len(at(pa[0], fa[0]).children), len(at(pb[0], fb[0]).children)
        if na == nb or (na - fa[1], na - fa[2]) != (nb - fb[1], nb - fb[2]):
            return False
    return True


def _gen_side(
    au: AntiUnifier,
    mine: list[Syn],
    theirs: list[Syn],
    focus: tuple[list[int], int, int] | None,
    carried: frozenset[tuple[int, ...]],
    mode: str,
) -> list[Template]:
    return mining.gen_parts(
        au, [from_syn(x) for x in mine], theirs, focus, carried, node=mode == NODE
    )


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
    derived = derive_all(before, after, a, b)
    unused = [] if after else mining.unused_holes(before, [a, b])
    if derived is None or not validity.valid(before, after, derived, unused):
        return None
    skill = _make(first, mode, height, anchors, a, before, after, examples, derived)
    skill.uses = mining.uses(before, after, [a.before, b.before])
    if mode == NODE and len(a.before) == 1 and len(b.before) == 1:
        returns = returns_guard(a.before[0], b.before[0])
        if returns is not None:
            skill.before_template["returns"] = returns
    texts = [mining.span_texts(before, a.skel_b), mining.syn_texts(before, b.before, b.skel_b)]
    skill.literals = literal_guards(before, after, [t for t in texts if t is not None])
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
    waits: bool = False,
) -> Skill | None:
    """The skill with the words its examples merely shared as holes (memory.skills.loosen), when
    that is still valid and trusted on two examples (on three, for one that waits)."""
    focus = mining.focus_spans(a, mode == NODE)
    loose = loosen(skill.before_template["parts"], skill.after_template["parts"], focus)
    if loose is None:
        return None
    made = _built(first, mode, height, anchors, a, b, *loose, skill.examples)
    # a skill already waiting for a third example may wait as the looser one
    trusted = max(3 if waits else 2, skill.needed_support())
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
