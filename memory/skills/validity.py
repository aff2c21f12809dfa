"""When a generalisation is a skill, and when a skill has enough examples to be suggested.

A generalisation of two edits is valid when its after-text needs no words the site lacks (every
after-hole is bound or derived), it still changes something, and its before-template keeps a
named constant. Validity says a rule is consistent with its examples; evidence says whether two
examples are enough to trust it at sites the developer has not touched.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from memory.skills.loosen import object_holes
from memory.skills.mining import WINDOW
from memory.skills.templates import REDACTED, Template, hole_spans, holes, leaves, optionals, shape
from memory.skills.transforms import CHECKING, required_text

# -- evidence ----------------------------------------------------------------------------------

# Two examples pin down a rule only when the rule looks at enough of a site. Learned from
# replaying real commits: a skill whose holes cover nearly all of its before-text (`def $f(self):
# $body`), that checks no identifier or literal at all (`from $m import $n`), or that inserts
# between anchors which are themselves holes, fires at many places the developer chose to leave
# alone, because what chose the sites was not in the syntax. Such skills wait for a third example.
MAX_HOLE_MASS = 0.9


def evidence_needed(
    before_template: dict[str, Any], after_template: dict[str, Any], mode: str, anchors: list[int]
) -> int:
    """1 for a skill without holes (it matches only the text it was mined from, so the miner's
    min_examples decides), else 2, or 3 for a skill too general to trust on two examples."""
    parts: list[Template] = before_template["parts"]
    if not parts:
        return 2
    skel: str = before_template["skeleton"]
    spans: list[tuple[int, int, str]] = []
    for t in parts:
        hole_spans(t, spans)
    if not spans:
        return 1
    text = skel[parts[0][3] : parts[-1][4]]
    total = sum(1 for c in text if not c.isspace())
    covered = sum(sum(1 for c in skel[a:b] if not c.isspace()) for a, b, _ in spans)
    # a derived hole and a hole that must repeat are constraints as good as a word
    named = sum(_named_words(t) for t in parts) + len(after_template.get("derive") or {})
    repeats = len(spans) - len({name for _, _, name in spans})
    unused = set(before_template.get("unused") or [])
    named += repeats + len(unused)
    # an insertion whose anchor siblings contain holes: where to insert is then a guess, unless
    # one side is a firm anchor (no hole, a named word: insert after `cookies=None,`)
    anchored = mode == WINDOW and anchors != [0, 0] and bool(spans) and not _firm(parts, anchors)
    # a rule that takes a word away (`while 1:` -> `while True:`) checks that word at every
    # site it changes, one whose hole must repeat (`f: $t) -> $t`) checks that the two agree,
    # and one that takes a word out of a comment checks the rest of the comment (`# type: ($t)
    # -> None`), like one that changes a line of a docstring (`nan` -> `np.float64(nan)`): their
    # holes are then the untouched context around what they check (the loop's body, the rest of
    # the docstring), and however much text they cover, they do not make the rule guess where
    slot = any(tr[0] in CHECKING for _, tr in (after_template.get("derive") or {}).values())
    massive = (
        bool(total)
        and covered / total > MAX_HOLE_MASS
        and not repeats
        and not slot
        and not _removes_a_word(parts, after_template["parts"])
    )
    # deleting "any line like this" is a guess (which ones the developer deleted was not in the
    # syntax); a hole that must repeat makes it a real rule, and a hole where a secret was
    # redacted is no guess: the examples' text there was hidden, not seen to differ, and nor is
    # the object a deleted member read reads (`use_pep517=$o.use_pep517,`): the keyword and the
    # member still name what goes
    objects: set[tuple[int, int]] = set()
    for t in parts:
        object_holes(t, objects)
    # nor is a name the file no longer used (`from __future__ import $h0` where nothing uses
    # it): the site must leave its name unused too, so what chose the lines is in the code
    seen = [
        sp
        for sp in spans
        if REDACTED not in skel[sp[0] : sp[1]]
        and (sp[0], sp[1]) not in objects
        and sp[2] not in unused
    ]
    guessed_deletion = not after_template["parts"] and bool(seen) and not repeats
    # a rule that names nothing at all (`'$s'` -> `"$s"`) is valid (see valid) but only a hole
    # that must repeat (`$a = $a + $b` -> `$a += $b`) or a line it must find makes it more than
    # a guess at which of the many places like it the developer meant; a derived hole does not
    derive = after_template.get("derive") or {}
    nameless = (
        not repeats
        and not sum(_named_constants(t) for t in parts)
        and all(required_text(t) is None for _, t in derive.values())
    )
    general = massive or named == 0 or anchored or guessed_deletion or nameless
    return 3 if general else 2


def _firm(parts: list[Template], anchors: list[int]) -> bool:
    left, right = anchors
    sides = [parts[:left], parts[len(parts) - right :] if right else []]
    return any(
        side and not any(hole_spans(t, []) for t in side) and sum(_named_words(t) for t in side) > 0
        for side in sides
    )


def _removes_a_word(before: list[Template], after: list[Template]) -> bool:
    """Does the before-template check an identifier or literal the after-template drops?"""
    gone = Counter(w for t in before for w in _words(t))
    gone.subtract(w for t in after for w in _words(t))
    return any(n > 0 for n in gone.values())


def _is_word(t: Template) -> bool:
    """A constant leaf that is an identifier or literal (typed by more than its own text)."""
    return t[1] != t[2] and any(ch.isalnum() for ch in t[2])


def _words(t: Template) -> list[str]:
    if t[0] == "c":
        return [t[2]] if _is_word(t) else []
    if t[0] == "n":
        return [w for c in t[2] for w in _words(c)]
    return []


def _named_words(t: Template) -> int:
    """Identifiers and literals the template checks; keywords and punctuation are typed by
    their own text and say little about where a rule applies, unless one is all a named node
    holds (`any` in a TypeScript predefined_type)."""
    if t[0] == "c":
        return int(_is_word(t))
    if t[0] == "n":
        # an optional hole is judged as absent: `yield $?x` checks what `yield` does
        kids = [c for c in t[2] if c[0] != "o"]
        if len(kids) == 1 and kids[0][0] == "c" and any(ch.isalnum() for ch in kids[0][2]):
            return 1
        return sum(_named_words(c) for c in kids)
    return 0


# -- validity ------------------------------------------------------------------------


def _named_constants(t: Template) -> int:
    if t[0] == "c":
        return int(any(ch.isalnum() for ch in t[2]))
    if t[0] == "n":
        return sum(_named_constants(c) for c in t[2])
    return 0


def valid(
    before: list[Template],
    after: list[Template],
    derived: dict[str, list[Any]] | None = None,
    unused: list[str] | None = None,
) -> bool:
    """unused: holes whose names the site's file must not use elsewhere (mining.unused_holes),
    a check as good as a named word: deleting an unused import is a rule, any import a guess."""
    bound: dict[str, str | None] = {}
    for t in before:
        holes(t, bound)
    free: dict[str, str | None] = {}
    for t in after:
        holes(t, free)
    if not free.keys() <= bound.keys() | (derived or {}).keys():
        return False  # the after-text would need words the site does not have
    if optionals(before) != optionals(after):
        return False  # an element sometimes there must carry across as it is, or not at all
    if [shape(t) for t in before] == [shape(t) for t in after]:
        return False
    if all(t[0] == "h" for t in before):
        return False
    if unused:
        return True
    if not after and bound and not _repeated_hole(before) and not sum(map(_named_words, before)):
        return False  # deleting "any import" is a guess that no number of examples makes a rule
    # a line a derived hole must find in the site's text (`nan` in a docstring) checks as much
    # as a named word would
    checked = any(required_text(t) is not None for _, t in (derived or {}).values())
    if checked or sum(_named_constants(t) for t in before) >= 1:
        return True
    # a rewrite of punctuation and keywords around holes only (`'$s'` -> `"$s"`, `($x)` -> `$x`)
    # is a rule too, but one that names nothing: evidence_needed makes it wait for a third
    # example, offered meanwhile at the cursor only
    return True


def _repeated_hole(parts: list[Template]) -> bool:
    seen: set[str] = set()
    stack = list(parts)
    while stack:
        t = stack.pop()
        if t[0] == "h":
            if t[1] in seen:
                return True
            seen.add(t[1])
        elif t[0] == "n":
            stack.extend(t[2])
    return False


def specificity(before: list[Template]) -> float:
    const = hole = 0
    for t in before:
        c, h = leaves(t)
        const += c
        hole += h
    return const / max(1, const + hole)
