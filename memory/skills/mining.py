"""Mining internals: one edit seen at one context level, and generalising two of them.

memory.skills.miner decides which levels to try and what makes a skill; this module does the work at
one level: cutting an edit down to the parts a skill would hold (`level`), anti-unifying parts
deeply along the change and as whole subtrees in the context around it (`gen_parts`), the usage
constraints every example agrees on (`uses`), and the derived holes whose after-text is a small
transform of a before-hole's text (`derive`, see memory.skills.transforms).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from memory.skills import transforms
from memory.skills.antiunify import AntiUnifier
from memory.skills.edits import IMPORTS, StructuralEdit
from memory.skills.subtree import SUBTREE, rerooted
from memory.skills.syn import Syn
from memory.skills.templates import (
    Template,
    aligned,
    around_segment,
    holes,
    is_block,
    match_syn,
    segment_split,
)
from memory.skills.treediff import at

NODE, WINDOW = "node", "window"


# -- one edit at one level ---------------------------------------------------------------------


@dataclass
class Level:
    """One edit seen at one context level. focus_* say where the change is inside the parts:
    (path from a part down to R, window of R's children); carried_* are unchanged subtrees."""

    root: str
    before: list[Syn]
    after: list[Syn]
    skel_b: str
    skel_a: str
    indent: str
    blank: int
    focus_b: tuple[list[int], int, int] | None = None
    focus_a: tuple[list[int], int, int] | None = None
    carried_b: frozenset[tuple[int, ...]] = frozenset()
    carried_a: frozenset[tuple[int, ...]] = frozenset()
    unused: tuple[str, ...] = ()  # the edit's StructuralEdit.unused


def _named(s: Syn) -> bool:
    # anonymous tokens are typed by their own text (",", "def", "(")
    return s.type != s.key


def _line_indent(skel: str, pos: int, base: str) -> str:
    ls = skel.rfind("\n", 0, pos) + 1
    head = skel[ls:pos] if ls else base + skel[:pos]
    return head[: len(head) - len(head.lstrip())]


_CALLS = ("call", "call_expression")


def focus_spans(lvl: Level, node: bool) -> tuple[tuple[int, int], tuple[int, int]]:
    """Where the change is in the level's before and after skeletons (empty for none)."""

    def span(parts: list[Syn], focus: tuple[list[int], int, int] | None) -> tuple[int, int]:
        if focus is None:
            return (parts[0].start, parts[-1].end) if parts else (0, 0)
        path, lo, hi = focus
        parent = at(parts[0], path) if path or node else None
        kids = parent.children if parent is not None else parts
        if parent is not None and parent.type in _CALLS and (lo, hi) == (0, 1):
            # a call's callee changed: its arguments are the site's data, not where the
            # developer chose to make the change (`np.testing.f(actual, desired)` -> `f(...)`)
            hi = len(kids)
        seg = kids[lo:hi]
        return (seg[0].start, seg[-1].end) if seg else (0, 0)

    return span(lvl.before, lvl.focus_b), span(lvl.after, lvl.focus_a)


def anchors_of(edit: StructuralEdit) -> list[int]:
    """Siblings to keep around an insertion: up to the nearest named one on each side."""
    i, jb, _ = edit.window
    if i != jb:
        return [0, 0]
    kids = at(edit.syn_before(), edit.path).children
    left, named_left = _reach(kids[:i][::-1])
    right, named_right = _reach(kids[jb:])
    # a side with only brackets and commas to the end of the list says nothing about where to
    # insert when the other side has a neighbour: `max_string: int = None,` goes after
    # `max_length: int = None,` whether that was the last parameter or not
    if named_left and not named_right:
        right = 0
    elif named_right and not named_left:
        left = 0
    return [left, right]


def _reach(siblings: list[Syn]) -> tuple[int, bool]:
    """How many siblings up to and including the nearest named one, and whether there is one."""
    for k, sib in enumerate(siblings):
        if _named(sib):
            return k + 1, True
    return len(siblings), False


def level(edit: StructuralEdit, mode: str, height: int, anchors: list[int]) -> Level | None:
    if mode == NODE and height == SUBTREE:
        sub = rerooted(edit)
        lvl = None if sub is None else level(sub, NODE, 0, anchors)
        if lvl is not None and lvl.before[0].type != lvl.after[0].type:
            # the subtree became another kind of node: it changed as a whole, and two examples
            # align node for node, not by where inside it their windows fell
            lvl.focus_b = lvl.focus_a = None
        return lvl
    tb, ta = edit.syn_before(), edit.syn_after()
    base = "" if edit.clipped else edit.indent
    if mode == NODE:
        if edit.clipped or height > len(edit.path):
            return None
        p = edit.path[: len(edit.path) - height]
        nb, na = at(tb, p), at(ta, p)
        ind = _line_indent(edit.context_before, nb.start, base)
        rel = edit.path[len(edit.path) - height :]
        i, jb, ja = edit.window
        lvl = Level(nb.type, [nb], [na], edit.context_before, edit.context_after, ind, -1)
        lvl.focus_b, lvl.focus_a = (rel, i, jb), (rel, i, ja)
        lvl.carried_b = frozenset(tuple(c[0]) for c in edit.carried)
        lvl.carried_a = frozenset(tuple(c[1]) for c in edit.carried)
        lvl.unused = tuple(edit.unused)
        return lvl
    rb, ra = at(tb, edit.path), at(ta, edit.path)
    i, jb, ja = edit.window
    lo, rt = i - anchors[0], anchors[1]
    if lo < 0 or jb + rt > len(rb.children) or ja + rt > len(ra.children):
        return None
    before, after = rb.children[lo : jb + rt], ra.children[lo : ja + rt]
    if not before:
        return None
    ind = _line_indent(edit.context_before, before[0].start, base)
    blank = -1
    if edit.whole_lines and i == ja and i < jb:
        blank = _blank_left(edit, rb, ra)
    lvl = Level(rb.type, before, after, edit.context_before, edit.context_after, ind, blank)
    lvl.unused = tuple(edit.unused)
    lvl.focus_b, lvl.focus_a = (
        ([], anchors[0], anchors[0] + jb - i),
        ([], anchors[0], anchors[0] + ja - i),
    )
    # carried paths count from R's first child; here parts start at child lo
    lvl.carried_b = frozenset((c[0][0] - lo, *c[0][1:]) for c in edit.carried)
    lvl.carried_a = frozenset((c[1][0] - lo, *c[1][1:]) for c in edit.carried)
    return lvl


def gen_parts(
    au: AntiUnifier,
    parts: list[Template],
    syns: list[Syn],
    focus: tuple[list[int], int, int] | None,
    carried: frozenset[tuple[int, ...]],
    *,
    node: bool = False,
) -> list[Template]:
    """Generalise parts deeply along the change and shallowly in the context around it."""
    if focus is None:
        return [au.generalise(t, s) for t, s in zip(parts, syns, strict=True)]
    path, lo, hi = focus
    # node mode: one part, the change is below it (at its own children when path is empty, so
    # the window indexes those children, not the parts)
    if path or node:
        return [_gen_path(au, parts[0], syns[0], path, lo, hi, carried)]
    return [
        _gen_window(au, t, s, (k,), carried) if lo <= k < hi else au.context(t, s, deep=True)
        for k, (t, s) in enumerate(zip(parts, syns, strict=True))
    ]


def _gen_path(
    au: AntiUnifier,
    t: Template,
    s: Syn,
    path: list[int],
    lo: int,
    hi: int,
    carried: frozenset[tuple[int, ...]],
) -> Template:
    if t[0] == "n" and t[1] == s.type and not path and len(t[2]) != len(s.children):
        # R itself, a list one example has more of (`zip(a, b)` / `zip(x, y, z)`): the
        # children both share at each end stay, the run between is a segment hole
        made = au.segmented(t, s)
        if made is not None:
            return made
    if t[0] != "n" or t[1] != s.type or len(t[2]) != len(s.children):
        return au.context(t, s, deep=True)
    kids: list[Template] = []
    for k, (tc, sc) in enumerate(zip(t[2], s.children, strict=True)):
        if path and k == path[0]:
            kids.append(_gen_path(au, tc, sc, path[1:], lo, hi, carried))
        elif not path and lo <= k < hi:
            kids.append(_gen_window(au, tc, sc, (k,), carried))
        else:
            kids.append(au.context(tc, sc, whole=is_block(t[1])))
    return ["n", t[1], kids, t[3], t[4]]


def _gen_window(
    au: AntiUnifier, t: Template, s: Syn, here: tuple[int, ...], carried: frozenset[tuple[int, ...]]
) -> Template:
    if here in carried:
        # carried over unchanged: the site's own code, where an element one example lacks is
        # its data (`def f()` and `def g(x)` under a new decorator), not the rewrite's
        return au.context(t, s)
    if t[0] != "n" or t[1] != s.type or len(t[2]) != len(s.children):
        return au.generalise(t, s)
    kids = [
        _gen_window(au, tc, sc, (*here, k), carried)
        for k, (tc, sc) in enumerate(zip(t[2], s.children, strict=True))
    ]
    return ["n", t[1], kids, t[3], t[4]]


def _blank_left(edit: StructuralEdit, rb: Syn, ra: Syn) -> int:
    """How many blank lines the example's line deletion left behind (0 or 1 in practice)."""
    i, jb, ja = edit.window

    def gap(r: Syn, skel: str, j: int) -> str:
        start = r.children[i - 1].end if i > 0 else r.start
        end = r.children[j].start if j < len(r.children) else r.end
        return skel[start:end]

    removed = edit.context_before[rb.children[i].start : rb.children[jb - 1].end].count("\n") + 1
    before_nl = gap(rb, edit.context_before, jb).count("\n")
    after_nl = gap(ra, edit.context_after, ja).count("\n")
    return max(0, min(1, after_nl - (before_nl - removed)))


def bucket_key(edit: StructuralEdit) -> tuple[str, ...]:
    """Edits can only merge within one bucket: same change root and same kinds of nodes."""
    tb, ta = edit.syn_before(), edit.syn_after()
    rb, ra = at(tb, edit.path), at(ta, edit.path)
    i, jb, ja = edit.window
    wb = ",".join(c.type for c in rb.children[i:jb])
    wa = ",".join(c.type for c in ra.children[i:ja])
    return (edit.language, rb.type, wb, wa)


def _idents(t: Template, out: set[str]) -> set[str]:
    if t[0] == "c" and "identifier" in t[1]:
        out.add(t[2])
    elif t[0] == "n":
        for c in t[2]:
            _idents(c, out)
    return out


def uses(
    before: list[Template], after: list[Template], examples: list[list[Syn]]
) -> list[list[Any]]:
    """Usage constraints every example agrees on (see Skill.uses)."""
    b_ids: set[str] = set()
    a_ids: set[str] = set()
    for t in before:
        _idents(t, b_ids)
    for t in after:
        _idents(t, a_ids)
    changed = sorted(b_ids ^ a_ids)
    if not changed:
        return []
    seen: dict[tuple[str, str], set[bool]] = {}
    for syns in examples:
        env: dict[str, str] = {}
        if not all(match_syn(t, x, env) for t, x in zip(before, syns, strict=True)):
            return []
        for name, key in env.items():
            tokens = transforms.code_names(key)
            for w in changed:
                seen.setdefault((name, w), set()).add(w in tokens)
    return [[h, w, next(iter(v))] for (h, w), v in sorted(seen.items()) if len(v) == 1]


def unused_holes(before: list[Template], examples: list[Level]) -> list[str]:
    """Holes of an import's deletion bound, in every example, to a name nothing else in that
    example's file used (`from __future__ import $h0`, an import left unused): the names chose
    the lines deleted, so a site is one only where its name is unused too."""
    if not examples or not (examples[0].root in IMPORTS or all(t[1] in IMPORTS for t in before)):
        return []
    seen: dict[str, bool] = {}
    for lvl in examples:
        env: dict[str, str] = {}
        if not all(match_syn(t, x, env) for t, x in zip(before, lvl.before, strict=True)):
            return []
        for name, text in env.items():
            seen[name] = seen.get(name, True) and text in lvl.unused
    return sorted(h for h, ok in seen.items() if ok)


def renamed_holes(old: list[Template], before: list[Template]) -> dict[str, str]:
    """Each hole of old by its name in before, a widened copy of it."""
    names: dict[str, str] = {}

    def walk(o: Template, n: Template) -> None:
        if o[0] in ("h", "o") and n[0] == o[0]:
            names.setdefault(o[1], n[1])
        elif o[0] == "n" and n[0] == "n" and len(o[2]) == len(n[2]):
            for a, b in zip(o[2], n[2], strict=True):
                walk(a, b)

    for o, n in zip(old, before, strict=True):
        walk(o, n)
    return names


# -- derived holes -----------------------------------------------------------------------------


def span_texts(parts: list[Template], skel: str) -> dict[str, str]:
    """Text each hole covers in the first example: template spans index its skeleton."""
    out: dict[str, str] = {}
    stack = list(reversed(parts))
    while stack:
        t = stack.pop()
        if t[0] == "h":
            out.setdefault(t[1], skel[t[3] : t[4]])
        elif t[0] == "o":  # its span takes in the spacing around the element
            out.setdefault(t[1], skel[t[3] + len(t[5]) : t[4] - len(t[6])])
        elif t[0] == "n":
            stack.extend(reversed(t[2]))
    return out


def syn_texts(parts: list[Template], syns: list[Syn], skel: str) -> dict[str, str] | None:
    """Text each hole covers in an example the parts match; None when they do not match."""
    env: dict[str, str] = {}
    if not all(match_syn(t, s, env) for t, s in zip(parts, syns, strict=True)):
        return None
    out: dict[str, str] = {}

    def walk(t: Template, s: Syn) -> None:
        if t[0] in ("h", "o"):
            out.setdefault(t[1], skel[s.start : s.end])
        elif t[0] == "n" and (split := segment_split(t[2], len(s.children))) is not None:
            p, e = split
            out.setdefault(t[2][p][1], skel[s.children[p].start : s.children[e - 1].end])
            for tc, sc in around_segment(t[2], split, s.children):
                walk(tc, sc)
        elif t[0] == "n":
            for tc, k in zip(t[2], aligned(t[2], len(s.children)) or [], strict=True):
                if k is None:
                    out.setdefault(tc[1], "")  # an optional hole the example lacks
                else:
                    walk(tc, s.children[k])

    for t, s in zip(parts, syns, strict=True):
        walk(t, s)
    return out


# simplest first: preferred when several fit
_OPS = ("case", "affix", "replace", "slot", "tokens", "rename", "line", "words")


def derive(
    before: list[Template],
    after: list[Template],
    texts: list[tuple[dict[str, str], dict[str, str]]],
) -> dict[str, list[Any]] | None:
    """For every after-hole the before-template does not bind, the before-hole and transform that
    give its text in every example: {after hole: [before hole, transform]}. None when one has
    no such transform (the after-text needs words the site does not have).

    texts holds per example (before-hole texts, after-hole texts)."""
    bound: dict[str, str | None] = {}
    for t in before:
        holes(t, bound)
    free: dict[str, str | None] = {}
    for t in after:
        holes(t, free)
    out: dict[str, list[Any]] = {}
    for h in sorted(free.keys() - bound.keys()):
        best: tuple[int, str, transforms.Transform] | None = None
        for g in bound:
            pairs = [(bt[g], at[h]) for bt, at in texts if g in bt and h in at]
            if len(pairs) != len(texts):
                return None
            found = transforms.find(pairs, prose=transforms.is_prose(bound[g]))
            if found is not None and (best is None or _OPS.index(found[0]) < best[0]):
                best = (_OPS.index(found[0]), g, found)
        if best is None:
            return None
        out[h] = [best[1], best[2]]
    return out


def derivations_hold(
    derived: dict[str, list[Any]], before_texts: dict[str, str], after_texts: dict[str, str]
) -> bool:
    """Every derived hole's text in one more example is its transform of the source hole."""
    for h, (g, t) in derived.items():
        x, y = before_texts.get(g), after_texts.get(h)
        if x is None or y is None or transforms.apply(t, x) != y:
            return False
    return True
