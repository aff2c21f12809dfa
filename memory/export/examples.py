"""A skill's own rewrite of a text, and the test cases of an exported rule.

An exported rule is checked against the skill it came from: its `invalid` cases are the examples'
code before the edit (the rule must fire there), its `valid` ones code the skill leaves alone (the
examples' code after the edit, sites the developer rejected). A case goes in only where kenetic's
own matcher agrees: an example's lines alone can lack what the skill checks around its site (the
`def` of a parameter list), and such a case would test the cut, not the rule; a note says so.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

from memory.skills.matching import Match, SkillIndex, apply_match
from memory.skills.skill import Skill
from memory.skills.syntax import grammar_for, parse


@dataclass
class Cases:
    invalid: list[str] = field(default_factory=list)
    valid: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def site_lines(skill: Skill, text: str) -> list[int]:
    """The lines (0-based) where the skill's sites in text begin, as rewrite_all takes them."""
    return [m.start_line for m in _sites(skill, text)]


def rewrite_all(skill: Skill, text: str) -> tuple[str, int]:
    """text with every site of the skill rewritten, as `ast-grep scan --update-all` applies a
    rule: in document order, a site overlapping one already taken left alone; and the sites."""
    taken = _sites(skill, text)
    for m in reversed(taken):
        text = apply_match(text, m)
    return text, len(taken)


def _sites(skill: Skill, text: str) -> list[Match]:
    key = grammar_for(skill.language) or skill.language
    held_back = skill.support < skill.needed_support()
    index = SkillIndex([skill], held_back=held_back)
    tree = parse(key, text)
    if tree is None:
        return []
    found = index.matches_in(skill.id, skill.language, text, tree)
    taken = []
    last = (-1, -1)
    for m in sorted(found, key=lambda m: (m.start_line, m.start_char)):
        if (m.start_line, m.start_char) < last:
            continue  # inside a site already rewritten
        taken.append(m)
        last = (m.end_line, m.end_char)
    return taken


def cases(skill: Skill, before: list[str], after: list[str], rejected: list[str]) -> Cases:
    """Test cases from the examples' code before and after the edit and rejected sites' code."""
    out = Cases()
    for k, text in enumerate(before, 1):
        code = textwrap.dedent(text).strip("\n") + "\n"
        if rewrite_all(skill, code)[1]:
            if code not in out.invalid:
                out.invalid.append(code)
        else:
            out.notes.append(
                f"example {k}: its lines alone hold no site of the skill (it checks code "
                "around them), so they are not a test case"
            )
    for text in after:
        code = textwrap.dedent(text).strip("\n") + "\n"
        if code.strip() and not rewrite_all(skill, code)[1] and code not in out.valid:
            out.valid.append(code)
    for k, text in enumerate(rejected, 1):
        code = textwrap.dedent(text).strip("\n") + "\n"
        if not code.strip():
            continue
        if rewrite_all(skill, code)[1]:
            out.notes.append(
                f"rejected site {k}: the skill still matches it, so the rule must too; not a "
                "valid case (kenetic only stops offering it there in that session)"
            )
        elif code not in out.valid:
            out.valid.append(code)
    return out
