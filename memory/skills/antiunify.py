"""Anti-unification: the least general template of a template and one more example's tree.

memory.skills.templates says what templates are; this module generalises them. Where the two
differ only in one element one of them has (`yield` and `yield request.param`), the node keeps its
shape with an optional hole there, and the spacing around the element is read from the examples'
texts (AntiUnifier.texts), so that rendering leaves `return` and `return x` alike well spaced.
"""

from __future__ import annotations

from memory.skills.syn import Syn
from memory.skills.templates import (
    REDACTED,
    SEGMENT,
    Template,
    const_key,
    is_block,
    optional_at,
    segment_at,
    segment_split,
    shape,
)


def _type_of(t: Template) -> str | None:
    """The node type a template child stands for (None: any)."""
    return t[2] if t[0] in ("h", "o") else t[1]


def _element(typ: str | None, text: str) -> bool:
    """Whether a child some examples lack is an element of the code: an anonymous token (`;`,
    `,`) is punctuation, and a comment is a remark on the code, not part of it (learned from
    commits: `with ...:  # noqa` beside `with ...:` is no rule about comments)."""
    return typ is not None and typ != text and not typ.endswith("comment")


def _varies(typ: str) -> bool:
    """Nodes whose children differing by one is no optional element: a block one statement
    longer is other code, and an empty string and a filled one differ in value (`parse("")` and
    `parse("http://x")` are any argument, not a string literal, the commits show)."""
    return is_block(typ) or "string" in typ


def _extra_at(short: list[str | None], long: list[str]) -> int | None:
    """Where long has the one child short lacks, the others aligning by type (last first: a
    trailing element is the usual one, `return` / `return x`)."""
    for p in range(len(long) - 1, -1, -1):
        rest = long[:p] + long[p + 1 :]
        if all(a is None or a == b for a, b in zip(short, rest, strict=True)):
            return p
    return None


def _same_const(t: Template, s: Syn) -> bool:
    """A template child that is constant and the same code as the example's child."""
    key = const_key(t)
    return key is not None and key == s.key


class AntiUnifier:
    """Generalises templates against one more example; one instance per (before, after) pair so
    that the same differing pair of subtrees gets the same hole in both templates."""

    def __init__(self, names: set[str]) -> None:
        self._vars: dict[tuple[str, str], str] = {}
        self._used = set(names)
        # (text the template's spans index, text the example's offsets index): set, a node whose
        # examples differ by one child gets an optional hole there (its spacing read from them)
        self.texts: tuple[str, str] | None = None

    def _var(self, key: tuple[str, str]) -> str:
        name = self._vars.get(key)
        if name is None:
            i = len(self._vars)
            while f"h{i}" in self._used:
                i += 1
            name = f"h{i}"
            self._used.add(name)
            self._vars[key] = name
        return name

    def generalise(self, t: Template, s: Syn) -> Template:
        kind = t[0]
        if kind == "h":
            typ = t[2] if t[2] == s.type else None
            return ["h", self._var((f"${t[1]}", s.key)), typ, t[3], t[4]]
        if kind == "o":
            typ = t[2] if t[2] == s.type else None
            return ["o", self._var((f"\x00?{t[1]}", s.key)), typ, *t[3:]]
        if kind == "c" and not s.children and t[1] == s.type and t[2] == s.key:
            # a redacted secret is the site's own value, whatever the examples held
            return self.hole(t, s) if REDACTED in t[2] else t
        if kind == "n" and t[1] == s.type and segment_at(t[2]) >= 0:
            made = self.segmented(t, s)  # the node's children already hold a run
            return made if made is not None else self.hole(t, s)
        if kind == "n" and t[1] == s.type and len(t[2]) == len(s.children):
            kids = [self.generalise(tc, sc) for tc, sc in zip(t[2], s.children, strict=True)]
            return ["n", t[1], kids, t[3], t[4]]
        if kind == "n" and t[1] == s.type:
            made = self._optional(t, s)
            if made is None and self.texts is not None:
                made = self.segmented(t, s)
            if made is not None:
                return made
        return self.hole(t, s)

    def segmented(self, t: Template, s: Syn) -> Template | None:
        """t and s of one type with different numbers of children (argument lists of two and
        of three): the children equal in both at each end kept, generalised one by one, the run
        between them one segment hole. The same pair of runs gets the same hole on both sides
        of the edit, so `zip(a, b)` -> `zip(a, b, strict=False)` and `zip(x, y, z)` -> `zip(x,
        y, z, strict=False)` make `zip($s)` -> `zip($s, strict=False)`. None for blocks and
        strings (see _varies), where no end is shared, or where a run would be empty."""
        kids, syns = t[2], s.children
        if _varies(t[1]):
            return None
        p = segment_at(kids)
        if p >= 0:
            split = segment_split(kids, len(syns))
            if split is None:
                return None
            _, e = split
            head, run, tail = kids[:p], [kids[p]], kids[p + 1 :]
            theirs, rest = syns[p:e], syns[e:]
        else:
            m = min(len(kids), len(syns))
            a = 0
            while a < m and _same_const(kids[a], syns[a]):
                a += 1
            b = 0
            while b < m - 1 and _same_const(kids[-1 - b], syns[-1 - b]):
                b += 1
            # a run binds one child at least: where one list begins as the other does
            # (`f(a, b)` / `f(a, b, c)`), the shared beginning gives way to the shared end
            a = min(a, m - b - 1)
            if a + b == 0:
                return None  # no shared end: a hole over the whole node does as well
            head, run, tail = kids[:a], kids[a : len(kids) - b], kids[len(kids) - b :]
            theirs, rest = syns[a : len(syns) - b], syns[len(syns) - b :]
            if not any(c.key == "," for c in theirs) and all(const_key(c) != "," for c in run):
                return None  # not items of a list: an extra comment or decorator is no run
        key = ("\x00*" + " ".join(shape(c) for c in run), " ".join(c.key for c in theirs))
        segment = ["h", self._var(key), SEGMENT, run[0][3], run[-1][4]]
        made = [self.generalise(tc, sc) for tc, sc in zip(head, syns, strict=False)]
        made.append(segment)
        made += [self.generalise(tc, sc) for tc, sc in zip(tail, rest, strict=True)]
        return ["n", t[1], made, t[3], t[4]]

    def _optional(self, t: Template, s: Syn) -> Template | None:
        """t and s of one type whose children differ by one element (`yield` / `yield x`): the
        others generalised one by one, that one an optional hole. None when they differ more."""
        kids, syns = t[2], s.children
        p = optional_at(kids)
        if p >= 0:
            if len(syns) != len(kids) - 1:
                return None
            o = kids[p]
            rest = [
                self.generalise(tc, sc)
                for tc, sc in zip(kids[:p] + kids[p + 1 :], syns, strict=True)
            ]
            rest.insert(p, ["o", self._var((f"\x00?{o[1]}", "\x00")), o[2], *o[3:]])
            return ["n", t[1], rest, t[3], t[4]]
        if self.texts is None or not kids or not syns or _varies(t[1]):
            return None
        mine, theirs = self.texts
        if len(syns) == len(kids) + 1:
            q = _extra_at([_type_of(c) for c in kids], [c.type for c in syns])
            if q is None or not _element(syns[q].type, syns[q].key):
                return None
            sc = syns[q]
            if q > 0:
                pos, pre, post = kids[q - 1][4], theirs[syns[q - 1].end : sc.start], ""
            else:
                pos, pre, post = kids[0][3], "", theirs[sc.end : syns[1].start]
            rest = [
                self.generalise(tc, x) for tc, x in zip(kids, syns[:q] + syns[q + 1 :], strict=True)
            ]
            rest.insert(q, ["o", self._var(("\x00?", sc.key)), None, pos, pos, pre, post])
            return ["n", t[1], rest, t[3], t[4]]
        if len(kids) == len(syns) + 1:
            q = _extra_at([c.type for c in syns], [str(_type_of(c)) for c in kids])
            if q is None:
                return None
            tc = kids[q]
            # a hole is an element whatever its type, unless it stands for comments
            if not (_element(tc[1], str(tc[2])) if tc[0] != "h" else _element(tc[2] or "?", "")):
                return None
            if q > 0:
                start, end, pre, post = kids[q - 1][4], tc[4], mine[kids[q - 1][4] : tc[3]], ""
            else:
                start, end, pre, post = tc[3], kids[1][3], "", mine[tc[4] : kids[1][3]]
            rest = [
                self.generalise(c, x) for c, x in zip(kids[:q] + kids[q + 1 :], syns, strict=True)
            ]
            key = ("\x00?" + shape(tc), "\x00")
            rest.insert(q, ["o", self._var(key), None, start, end, pre, post])
            return ["n", t[1], rest, t[3], t[4]]
        return None

    def hole(self, t: Template, s: Syn) -> Template:
        typ = t[1] if t[1] == s.type else None
        return ["h", self._var((shape(t), s.key)), typ, t[3], t[4]]

    def shallow(self, t: Template, s: Syn, *, whole: bool = False) -> Template:
        """Generalise context around the change. Inside a statement this is the least general
        generalisation (every token both examples share stays constant, only what differs
        becomes a hole): a skill should be only as general as its examples force, so `rv = c.get(
        '/', ...)` keeps `'/'` and does not fire at every `c.get`. A statement block is kept
        when equal, else one hole: bodies are unrelated code, and a deep pattern over two bodies
        would demand that every site's body share their accidental shape; so is a statement
        beside the changed one in a block (whole=True)."""
        if t[0] in ("h", "o") or not (whole or is_block(t[1])):
            return self.generalise(t, s)
        if t[1] == s.type and const_key(t) == s.key:
            return t
        return self.hole(t, s)

    def context(self, t: Template, s: Syn, *, whole: bool = False, deep: bool = False) -> Template:
        """Generalise context around the change (shallow, or generalise when deep) without
        optional holes: an `else` one statement has and the other lacks says the statements
        differ, not that the rewrite takes an optional element."""
        texts, self.texts = self.texts, None
        try:
            return self.generalise(t, s) if deep else self.shallow(t, s, whole=whole)
        finally:
            self.texts = texts
