"""Loosening: the words two examples happened to share need not be words the rule needs.

Anti-unification keeps every token two examples share, so when a developer's first two edits
both touch `req` (`def f(self, req):  # type: (InstallRequirement) -> None` in two methods),
the skill learned is about `req: InstallRequirement` and fires nowhere else, though the commit
goes on to `candidate: Candidate`. A word the edit carries across unchanged (an identifier or a
literal in the before-text that is also in the after-text: `assertEquals(r.status_code, 200)` ->
`assertEqual(r.status_code, 200)` is not about 200), or moves out of a comment or string into the
code, is the site's own text, not the change: loosening makes it a hole in both templates (the moved
word then a derived hole, see memory.skills.transforms). When the change is a call's callee, the
call's arguments are inside it (memory.skills.mining.focus_spans). The miner keeps the loosened
skill only when it is still trustworthy on two examples (memory.skills.validity.evidence_needed),
else the specific one.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from memory.skills import transforms
from memory.skills.templates import Template, holes

# leaves whose text is prose or data around code: a word inside one may move into the code
_TEXT_LEAVES = ("comment", "string_content", "string_fragment")

# literal data (a string's text, a number) carried across is the site's data, not the rule
_LITERALS = {
    "string_content",  # Python, Rust
    "string_fragment",  # JavaScript, TypeScript
    "interpreted_string_literal_content",  # Go
    "integer",
    "float",
    "number",
    "int_literal",
    "float_literal",
    "integer_literal",
}


def _literal(t: Template) -> bool:
    return t[0] == "c" and t[1] in _LITERALS


def _ident(t: Template) -> bool:
    # field_identifier, property_identifier: member names, which pick what code does
    return t[0] == "c" and t[1] in ("identifier", "type_identifier")


# a name that picks what code does (a called function, an attribute, a keyword argument) is
# part of the rule even when carried: `os.path.join(a, b)` -> `join(a, b)` is about join
_NAMERS = {
    "attribute": 1,
    "member_expression": 1,
    "selector_expression": 1,
    "field_expression": 1,
    "scoped_identifier": 1,
    "keyword_argument": 0,
    "call": 0,
    "call_expression": 0,
}


# the nodes whose first child is an object and whose last is the member read from it
MEMBER_READS = {t for t, at in _NAMERS.items() if at == 1}


def object_holes(t: Template, out: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """The spans of holes that are the object of a member read whose member is a word."""
    if t[0] == "n":
        cs = t[2]
        if t[1] in MEMBER_READS and cs[0][0] == "h" and cs[-1][0] == "c":
            out.add((cs[0][3], cs[0][4]))
        for c in cs:
            object_holes(c, out)
    return out


def _role(parent: str, k: int) -> str:
    """'name' for the child of parent at k when it names an operation, else ''."""
    at = _NAMERS.get(parent)
    return "name" if at is not None and (k == 0 if at == 0 else k >= at) else ""


# a definition's own name says which definition: two edits of `get_base_rev_args` in two
# classes are about that method's overrides, not every classmethod
_DEFINITIONS = {
    "function_definition",
    "class_definition",
    "function_declaration",
    "class_declaration",
    "method_definition",
    "function_item",
    "struct_item",
}


def _leaves(t: Template, out: list[tuple[Template, str]], role: str = "") -> list[Any]:
    """Constant leaves with their role ('name' when they name an operation or a definition)."""
    if t[0] == "c":
        out.append((t, role))
    elif t[0] == "n":
        named = t[1] in _DEFINITIONS
        for k, c in enumerate(t[2]):
            if named and (c[0] == "h" or _ident(c)):
                _leaves(c, out, "name")  # the first word child is the name (a hole stays one)
                named = False
            elif k == 0 and t[1] in MEMBER_READS and t[2][-1][0] == "c":
                _leaves(c, out, "object")  # whose member is read, when the member is a word
            else:
                _leaves(c, out, _role(t[1], k))
    return out


def _words(text: str) -> set[str]:
    return {text[a:b] for a, b in transforms.tokens(text)}


def _own_objects(
    b_all: list[tuple[Template, str]], a_all: list[tuple[Template, str]], deletion: bool
) -> set[str]:
    """Words used only as the object a named member is read from, as often after the edit as
    before it or deleted with their line: the site's own variables, anywhere in the templates
    (`self.assert_equal(rv.data, '')` -> `b''` converts `response.data` too, and deleting
    `use_pep517=options.use_pep517,` deletes `use_pep517=ireq.use_pep517,`). b_all and a_all
    are the templates' leaves with their roles (_leaves)."""
    b_ids = Counter(x[2] for x, _ in b_all if _ident(x))
    a_ids = Counter(x[2] for x, _ in a_all if _ident(x))
    b_obj = Counter(x[2] for x, role in b_all if role == "object" and _ident(x))
    a_obj = Counter(x[2] for x, role in a_all if role == "object" and _ident(x))
    named = {x[2] for x, role in [*b_all, *a_all] if role == "name"}
    return {
        w
        for w, n in b_obj.items()
        if b_ids[w] == n and w not in named and (deletion or a_obj[w] == a_ids[w] == n)
    }


def loosen(
    before: list[Template],
    after: list[Template],
    focus: tuple[tuple[int, int], tuple[int, int]],
) -> tuple[list[Template], list[Template]] | None:
    """The templates with carried and moved words inside the change (focus: its spans in the
    before and after skeletons) and the site's own objects as holes, or None when there are
    none. Other words around the change stay: they are where the developer chose to make it
    (`ensure_ascii: bool = True`)."""
    (b0, b1), (a0, a1) = focus
    b_all = [x for t in before for x in _leaves(t, [])]
    a_all = [x for t in after for x in _leaves(t, [])]
    b_leaves = [x for x in b_all if b0 <= x[0][3] and x[0][4] <= b1]
    a_leaves = [x for x in a_all if a0 <= x[0][3] and x[0][4] <= a1]
    b_ids = Counter(x[2] for x, _ in b_leaves if _ident(x))
    a_ids = Counter(x[2] for x, _ in a_leaves if _ident(x))
    named = {x[2] for x, role in [*b_leaves, *a_leaves] if role == "name"}
    # carried: every occurrence survives (a word also removed or added is the change), and
    # none of them names an operation
    carried = {w for w, n in b_ids.items() if a_ids.get(w) == n and w not in named}
    b_lits = Counter(x[2] for x, _ in b_leaves if _literal(x))
    a_lits = Counter(x[2] for x, _ in a_leaves if _literal(x))
    data = {w for w, n in b_lits.items() if a_lits.get(w) == n}
    # moved: a new identifier that was a token of one comment or string the edit removed
    kept = {x[2] for x, _ in a_leaves}
    texts = [x[2] for x, _ in b_leaves if x[1] in _TEXT_LEAVES and x[2] not in kept]
    moved: dict[str, str] = {}
    for w in a_ids:
        if w in b_ids or w in named:
            continue
        found = [x for x in texts if w in _words(x)]
        if len(found) == 1:
            moved[w] = found[0]
    # a comment deleted with its code went because the code did: `f(x)  # E: Any` and
    # `f(y)  # E: int` are the same deletion
    remarks = not after and any(x[1] == "comment" for x, _ in b_leaves)
    own = _own_objects(b_all, a_all, not after)
    if not carried and not moved and not data and not remarks and not own:
        return None
    used: set[str] = set()
    for t in [*before, *after]:
        used.update(holes(t))
    names: dict[str, str] = {}

    def name(key: str) -> str:
        if key not in names:
            i = len(used)
            while f"h{i}" in used:
                i += 1
            names[key] = f"h{i}"
            used.add(names[key])
        return names[key]

    homes = set(moved.values())

    def swap(t: Template, side: str) -> Template:
        if t[0] == "n":
            return ["n", t[1], [swap(c, side) for c in t[2]], t[3], t[4]]
        lo, hi = (b0, b1) if side == "b" else (a0, a1)
        if t[0] == "c" and _ident(t) and t[2] in own:
            return ["h", name("w" + t[2]), t[1], t[3], t[4]]
        if t[0] != "c" or not (lo <= t[3] and t[4] <= hi):
            return t
        if _ident(t) and t[2] in carried:
            return ["h", name("w" + t[2]), t[1], t[3], t[4]]
        if _literal(t) and t[2] in data:
            return ["h", name("l" + t[2]), t[1], t[3], t[4]]
        if side == "b" and remarks and t[1] == "comment":
            return ["h", name("r" + t[2]), t[1], t[3], t[4]]
        if side == "b" and t[1] in _TEXT_LEAVES and t[2] in homes:
            return ["h", name("t" + t[2]), t[1], t[3], t[4]]
        if side == "a" and _ident(t) and t[2] in moved:
            return ["h", name("m" + t[2]), t[1], t[3], t[4]]
        return t

    return [swap(t, "b") for t in before], [swap(t, "a") for t in after]
