"""A skill as the matcher holds it: its templates unpacked, its guards and its key words.

Both the matcher (memory.skills.matching) and the rewriter (memory.skills.rewrites) read it,
so it lives below them both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from memory.skills import transforms
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

    def allows(self, env: dict[str, str]) -> bool:
        return all(
            transforms.uses_name(env.get(hole, ""), word) == present
            for hole, word, present in self.uses
        )

    def rewritten(self, node: Node, data: bytes) -> bool:
        """The site already looks like the after-template. A derived hole counts only when its
        source hole is bound there too and the transform agrees; otherwise an unbound derived
        hole would match anything and hide every site."""
        env: dict[str, str] = {}
        if not match(self.after[0], node, data, env):
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
    return SkillEntry(skill, keys[:4], before, after, uses, derive, skill.unused_holes)
