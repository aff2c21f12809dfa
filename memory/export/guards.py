"""A skill's site checks as guards a rule can carry (memory.export.common has the shape).

kenetic checks more at a site than its template: that a hole does (not) use a name, that a number
moved out of a string stays the kind of number it was, the node the site sits under, and the
transforms that derive a new word. Each becomes neutral data here (Guards) that the format
modules write their own way, or a reason in the verdict where it cannot be said.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from memory.export.common import METAVARIABLE, SEGMENT, Shape, Verdict, metavariable
from memory.skills.skill import Skill
from memory.skills.syntax import grammar_for
from memory.skills.templates import Template
from memory.skills.transforms import code_names


def rust_escape(text: str) -> str:
    """text as a literal in a regex both Rust's and Python's engines read alike."""
    return re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", text)


@dataclass
class Guards:
    """Per-metavariable checks, as neutral data each format writes its own way."""

    kinds: dict[str, str] = field(default_factory=dict)  # hole -> node type
    regex: dict[str, list[str]] = field(default_factory=dict)  # hole -> regexes it must match
    not_regex: dict[str, list[str]] = field(default_factory=dict)  # ... must not match
    names: dict[str, list[tuple[str, bool]]] = field(default_factory=dict)  # (word, present)
    parents: list[str] = field(default_factory=list)  # the site's parent is one of these
    # (word, present) checked over the whole site: a run of nodes takes no constraint
    site_names: list[tuple[str, bool]] = field(default_factory=list)
    # (node type, word, present): a block hole that is the site's only child of its type
    child_names: list[tuple[str, str, bool]] = field(default_factory=list)
    # comment node types the site must not have as children (kenetic matches children one by
    # one, so a comment where the examples had none is no site; the rule tools skip comments)
    no_comments: list[str] = field(default_factory=list)
    # the rewrite wraps the site (`$s` -> `if app:\n    $s`): no site inside its own result
    wraps: bool = False


# a literal guard's classes (memory.skills.literals._CLASSES) as whole-text regexes
_LITERAL_REGEX = {
    "int": r"^\s*(?i:[+-]?(?:0[xob][0-9a-f_]+|\d[\d_]*))\s*$",
    "float": r"^\s*(?i:[+-]?(?:\d[\d_]*)?\.\d[\d_]*(?:e[+-]?\d+)?|\d+e[+-]?\d+)\s*$",
    "name": r"^\s*[A-Za-z_][A-Za-z0-9_]*\s*$",
}


def guards_of(skill: Skill, shape: Shape, verdict: Verdict, derived: Guards) -> Guards | None:
    """The skill's site checks as guards, with those of its derived holes (`derived`, from
    derived_texts) and the notes on what a rule leaves out of the layout; None (refused) when
    one cannot be said at all."""
    g = _site_guards(skill, shape, verdict)
    if g is not None:
        _merge(g, derived)
        _layout_notes(skill, shape, verdict)
    return g


def _site_guards(skill: Skill, shape: Shape, verdict: Verdict) -> Guards | None:
    g = Guards(kinds=dict(shape.kinds))
    if skill.unused_holes:
        verdict.refuse(
            "the rule deletes an import only where the file uses its name nowhere else; a "
            "pattern cannot look at the rest of the file, and without that check it would "
            "delete imports still in use"
        )
        return None
    constant = code_names(METAVARIABLE.sub(" ", shape.before))
    root = shape.root
    for hole, word, present in skill.uses:
        child = _only_child_hole(root, hole)
        if hole in shape.multi and child is not None:
            g.child_names.append((child, str(word), bool(present)))
            continue
        if hole in shape.multi:
            if word in constant:
                verdict.refuse(
                    f"hole {hole} (a run of nodes) must {'' if present else 'not '}use {word!r}, "
                    "which the rest of the site spells too; a run of nodes takes no constraint"
                )
                return None
            g.site_names.append((str(word), bool(present)))
            verdict.approximate(
                f"hole {hole} (a run of nodes) must {'' if present else 'not '}use {word!r}: "
                "checked over the whole site, other holes included"
            )
            continue
        g.names.setdefault(hole, []).append((str(word), bool(present)))
    for hole, cls in skill.literals:
        regex = _LITERAL_REGEX.get(str(cls))
        if regex is None:
            continue  # "other": the examples agreed on no class, nothing is checked
        if hole in shape.multi:
            verdict.refuse(f"hole {hole} must read as a {cls}; a run of nodes takes no constraint")
            return None
        g.regex.setdefault(hole, []).append(regex)
    g.parents = sorted(skill.before_template.get("parents") or [])
    key = grammar_for(skill.language) or skill.language
    comments = COMMENTS.get(key, ["comment"])
    if root[0] == "n" and not any(c[1] in comments for c in root[2] if c[0] in ("n", "c")):
        g.no_comments = comments
    g.wraps = bool(shape.after) and shape.before in shape.after and shape.before != shape.after
    return g


COMMENTS = {
    "rust": ["line_comment", "block_comment"],
    "java": ["line_comment", "block_comment"],
}


def _only_child_hole(root: Template, hole: str) -> str | None:
    """The node type of hole when it is a direct child of the site's node and the only child
    of that type there (a function's body), else None."""
    if root[0] != "n":
        return None
    for c in root[2]:
        if c[0] == "h" and c[1] == hole and c[2] not in (None, SEGMENT):
            same = [
                k for k in root[2] if k[0] in ("n", "c", "h") and k[1 if k[0] != "h" else 2] == c[2]
            ]
            return str(c[2]) if len(same) == 1 else None
    return None


_CHANGES_CASE = {"lower": "[A-Z]", "upper": "[a-z]", "capitalize": "^[a-z]"}


def derived_texts(
    skill: Skill, verdict: Verdict
) -> tuple[dict[str, str], dict[str, dict[str, Any]], Guards] | None:
    """For each derived after-hole: the replacement text standing for it, and the engine-neutral
    transform ({"case": ..} or {"replace": (old, new)}) when it needs one; plus the guards on
    its source hole. None (refused) when a transform has no counterpart."""
    derive = skill.after_template.get("derive") or {}
    texts: dict[str, str] = {}
    transforms: dict[str, dict[str, Any]] = {}
    g = Guards()
    cases = {"lower": "lowerCase", "upper": "upperCase", "capitalize": "capitalize"}
    for hole, (source, t) in derive.items():
        src = metavariable(source)
        op = t[0]
        if op == "affix":
            texts[hole] = f"{t[1]}${src}{t[2]}"
            # the skill does not add the affix again to a word that already has it
            g.not_regex.setdefault(source, []).append(
                f"^{rust_escape(t[1])}(?s:.*){rust_escape(t[2])}$"
            )
        elif op == "case" and t[1] in cases:
            texts[hole] = "$" + metavariable(hole)
            transforms[hole] = {"case": cases[t[1]], "source": src}
            # a word already in that case is no site (kenetic: the site reads as the result)
            g.regex.setdefault(source, []).append(_CHANGES_CASE[t[1]])
            if len(t) > 2:  # the examples' words were one run of letters, or had underscores
                g.regex.setdefault(source, []).append(r"^[^_]*$" if t[2] else "_")
        elif op == "replace":
            texts[hole] = "$" + metavariable(hole)
            transforms[hole] = {"replace": (t[1], t[2]), "source": src}
            g.regex.setdefault(source, []).append(rust_escape(t[1]))
            verdict.approximate(
                f"{source}: kenetic replaces {t[1]!r} only in a word holding it once; the rule "
                "replaces every occurrence"
            )
        else:
            verdict.refuse(
                f"hole {hole} is derived from {source} by a text transform ({op}) the rule "
                "language has no counterpart for"
            )
            return None
    return texts, transforms, g


def _merge(into: Guards, more: Guards) -> None:
    for hole, xs in more.regex.items():
        into.regex.setdefault(hole, []).extend(xs)
    for hole, xs in more.not_regex.items():
        into.not_regex.setdefault(hole, []).extend(xs)


def _layout_notes(skill: Skill, shape: Shape, verdict: Verdict) -> None:
    """Checks kenetic makes at each site that a rule never does; said once per rule."""
    if skill.mode == "window" and not skill.after_template["parts"] and skill.blank >= 0:
        verdict.approximate(
            "kenetic deletes the whole line (and a blank line it would leave); the rule deletes "
            "the statement's text and leaves its line"
        )
    if "\n" in shape.before or "\n" in shape.after:
        verdict.approximate(
            "kenetic writes the replacement in the site's own layout; the rule writes the "
            "examples' layout"
        )
