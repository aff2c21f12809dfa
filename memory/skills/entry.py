"""A skill as the matcher holds it: its templates unpacked, its guards and its key words.

Both the matcher (memory.skills.matching) and the rewriter (memory.skills.rewrites) read it,
so it lives below them both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from memory.skills import transforms
from memory.skills.literals import lexical_class
from memory.skills.skill import Skill
from memory.skills.templates import Template, match, words

if TYPE_CHECKING:
    from tree_sitter import Node


@dataclass
class SkillEntry:
    skill: Skill
    words: list[bytes]
    before: list[Template]
    after: list[Template]
    uses: list[tuple[str, str, bool]]
    derive: dict[str, list[Any]]
    unused: list[str]
    literals: list[tuple[str, str]] = field(default_factory=list)
    # a subtree skill's site sits under one of these node types (memory.skills.subtree)
    parents: frozenset[str] = frozenset()
    # a function's site returns a value (or not), as the examples' did (memory.skills.meaning)
    returns: bool | None = None
    # holes whose token text (not only their text) matching must bind (templates.match), in the
    # before- and the after-template
    keyed: frozenset[str] | None = None
    keyed_after: frozenset[str] | None = None

    def allows(self, env: dict[str, str]) -> bool:
        return all(
            transforms.uses_name(env.get(hole, ""), word) == present
            for hole, word, present in self.uses
        ) and all(lexical_class(env.get("\x00" + hole, "")) == kind for hole, kind in self.literals)

    def rewritten(self, node: Node, data: bytes) -> bool:
        """The site already looks like the after-template. A derived hole counts only when its
        source hole is bound there too and the transform agrees; otherwise an unbound derived
        hole would match anything and hide every site."""
        env: dict[str, str] = {}
        if self.after[0][0] == "h":
            return False  # an unwrapping (`len($x)` -> `$x`): any node matches a bare hole
        if not match(self.after[0], node, data, env, self.keyed_after):
            return False
        for hole, (source, t) in self.derive.items():
            text = env.get("\x00" + source)
            if text is None or transforms.apply(t, text) != env.get("\x00" + hole):
                return False
        return True

    def derived(self, env: dict[str, str]) -> bool:
        """Bind derived after-holes from the site's text; False when a transform does not apply
        (a site without the token a type comment had)."""
        for hole, (source, t) in self.derive.items():
            text = env.get("\x00" + source)
            new = None if text is None else transforms.apply(t, text)
            if new is None:
                return False
            env["\x00" + hole] = env[hole] = new
        return True


def skill_words(skill: Skill) -> list[bytes]:
    """Words a text must hold to hold a site, longest first (they rule a site out soonest): the
    before-template's constant words, and the line a derived hole must find (`nan`)."""
    found: set[str] = set()
    for t in skill.before_template["parts"]:
        words(t, found)
    for _, t in (skill.after_template.get("derive") or {}).values():
        if (text := transforms.required_text(t)) is not None:
            found.add(text)
    return sorted((w.encode("utf-8", "replace") for w in found), key=len, reverse=True)


def entry_of(skill: Skill) -> SkillEntry:
    before = skill.before_template["parts"]
    keys = skill_words(skill)
    uses = [(h, w, bool(p)) for h, w, p in skill.uses]
    derive = skill.after_template.get("derive") or {}
    after = skill.after_template["parts"]
    literals = [(h, k) for h, k in skill.literals]
    parents = frozenset(skill.before_template.get("parents") or ())
    entry = SkillEntry(
        skill, keys[:4], before, after, uses, derive, skill.unused_holes, literals, parents
    )
    entry.returns = skill.before_template.get("returns")
    entry.keyed = _keyed_holes(before) | {h for h, _, _ in uses}
    entry.keyed_after = _keyed_holes(after)
    return entry


def _keyed_holes(parts: list[Template]) -> frozenset[str]:
    """Holes that occur more than once: each later binding must have the first one's key."""
    seen: set[str] = set()
    twice: set[str] = set()
    stack = list(parts)
    while stack:
        t = stack.pop()
        if t[0] == "h":
            (twice if t[1] in seen else seen).add(t[1])
        elif t[0] == "n":
            stack.extend(t[2])
    return frozenset(twice)
