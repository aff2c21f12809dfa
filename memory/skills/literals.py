"""Guard for a hole that moves text between a string literal and code.

`Decimal('1')` -> `Decimal(1)` and `Decimal('2')` -> `Decimal(2)` take a string's contents out
as a number; at `Decimal('1.25')` the same rewrite gives `Decimal(1.25)`, a float, and changes
the value. The rewrite keeps a program's meaning only where the moved text is of the kind the
examples moved: when every example's text of such a hole was an integer (or a float, or a name),
a site's must be too. Holes that stay in code, or stay in a string, are not constrained here.
"""

from __future__ import annotations

import re
from typing import Any

from memory.skills.templates import Template

_CLASSES = (
    ("int", re.compile(r"[+-]?(?:0[xob][0-9a-f_]+|\d[\d_]*)", re.IGNORECASE)),
    ("float", re.compile(r"[+-]?(?:\d[\d_]*)?\.\d[\d_]*(?:e[+-]?\d+)?|\d+e[+-]?\d+", re.I)),
    ("name", re.compile(r"[A-Za-z_][A-Za-z0-9_]*")),
)


def lexical_class(text: str) -> str:
    """What kind of token text is read as once it is code: int, float, name or other."""
    text = text.strip()
    for name, pattern in _CLASSES:
        if pattern.fullmatch(text):
            return name
    return "other"


def _in_strings(t: Template, inside: bool, out: set[str], seen: set[str]) -> None:
    if t[0] == "h":
        seen.add(t[1])
        kind = t[2] or ""
        if inside or "string_content" in kind or "string_fragment" in kind:
            out.add(t[1])
    elif t[0] == "n":
        here = inside or "string" in t[1]
        for c in t[2]:
            _in_strings(c, here, out, seen)


def crossing_holes(before: list[Template], after: list[Template]) -> list[str]:
    """Holes inside a string literal on one side of the rewrite and in code on the other."""
    in_b: set[str] = set()
    in_a: set[str] = set()
    seen_b: set[str] = set()
    seen_a: set[str] = set()
    for t in before:
        _in_strings(t, False, in_b, seen_b)
    for t in after:
        _in_strings(t, False, in_a, seen_a)
    both = seen_b & seen_a
    return sorted(h for h in both if (h in in_b) != (h in in_a))


def literal_guards(
    before: list[Template], after: list[Template], texts: list[dict[str, str]]
) -> list[list[Any]]:
    """[hole, class] for each crossing hole whose text had one class in every example (texts
    holds each example's before-hole texts)."""
    out: list[list[Any]] = []
    for hole in crossing_holes(before, after):
        classes = {lexical_class(t[hole]) for t in texts if hole in t}
        if len(classes) == 1:
            out.append([hole, classes.pop()])
    return out
