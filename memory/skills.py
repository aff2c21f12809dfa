"""Skills: rewrite rules mined from repeated structural edits.

Two edits that are alike (same change root type, same kinds of nodes replaced) are anti-unified
into a before-template and an after-template: parts the examples share stay constant, parts that
differ become holes, and a hole bound in the before-template and reused in the after-template
carries its text across (`print($x)` -> `logger.info($x)`).

Mining tries the most specific context first, so that a skill fires only where the developer's
edits did: the whole-lines context root X (a statement, a definition with its body), then the nodes
between X and the change root R, then the window of R's children that changed (with one sibling
each side as an anchor for insertions). The first level at which the generalisation is valid wins.
A generalisation is valid when every after-hole is bound before, it still changes something, and
the before-template keeps a named constant (an identifier or literal), which keeps a skill from
firing at every call or every statement.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from memory.edits import StructuralEdit
from memory.templates import (
    AntiUnifier,
    Syn,
    Template,
    from_syn,
    holes,
    leaves,
    match_syn,
    render,
    shape,
)

NODE, WINDOW = "node", "window"


@dataclass
class Skill:
    """A learned rewrite; templates are JSON (see memory.templates for the node format)."""

    id: str
    name: str
    language: str
    # {"root": type, "mode": "node"|"window", "parts": [template], "skeleton": str, "indent": str}
    before_template: dict[str, Any]
    after_template: dict[str, Any]  # {"parts": [template], "skeleton": str}
    examples: list[str] = field(default_factory=list)
    support: int = 0
    specificity: float = 0.0
    height: int = 0  # node mode: levels above the change root R
    anchors: list[int] = field(default_factory=lambda: [0, 0])  # window mode: siblings kept
    blank: int = -1  # line deletions: blank lines the example left behind; -1 when not one
    line_insert: bool = False  # the inserted nodes are whole lines: insert lines, not text
    # [hole, word, present]: in every example the hole's text did (not) use an identifier the
    # edit added or removed (a parameter dropped where the body never uses it)
    uses: list[list[Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Skill:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in d.items() if k in names})

    @property
    def mode(self) -> str:
        return str(self.before_template["mode"])

    @property
    def root(self) -> str:
        return str(self.before_template["root"])

    def pattern_text(self, side: str, hole: str = "${}") -> str:
        """A template as source text with its holes written as `hole` (formatted with names)."""
        t = self.before_template if side == "before" else self.after_template
        parts: list[Template] = t["parts"]
        if not parts:
            return ""
        env = {"\x00" + n: hole.format(n) for p in parts for n in holes(p)}
        return render(t["skeleton"], parts[0][3], parts[-1][4], parts, env, ("", ""))

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "language": self.language,
            "before": self.pattern_text("before"),
            "after": self.pattern_text("after"),
            "support": self.support,
            "specificity": round(self.specificity, 3),
            "examples": list(self.examples),
        }


# -- one edit at one level ---------------------------------------------------------------------


@dataclass
class _Level:
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


def _at(s: Syn, path: list[int]) -> Syn:
    for k in path:
        s = s.children[k]
    return s


def _named(s: Syn) -> bool:
    # anonymous tokens are typed by their own text (",", "def", "(")
    return s.type != s.key


def _line_indent(skel: str, pos: int, base: str) -> str:
    ls = skel.rfind("\n", 0, pos) + 1
    head = skel[ls:pos] if ls else base + skel[:pos]
    return head[: len(head) - len(head.lstrip())]


def _anchors(edit: StructuralEdit) -> list[int]:
    """Siblings to keep around an insertion: up to the nearest named one on each side."""
    i, jb, _ = edit.window
    if i != jb:
        return [0, 0]
    kids = _at(edit.syn_before(), edit.path).children
    left = right = 0
    for k in range(i - 1, -1, -1):
        left += 1
        if _named(kids[k]):
            break
    for k in range(jb, len(kids)):
        right += 1
        if _named(kids[k]):
            break
    return [left, right]


def _level(edit: StructuralEdit, mode: str, height: int, anchors: list[int]) -> _Level | None:
    tb, ta = edit.syn_before(), edit.syn_after()
    base = "" if edit.clipped else edit.indent
    if mode == NODE:
        if edit.clipped or height > len(edit.path):
            return None
        p = edit.path[: len(edit.path) - height]
        nb, na = _at(tb, p), _at(ta, p)
        ind = _line_indent(edit.context_before, nb.start, base)
        rel = edit.path[len(edit.path) - height :]
        i, jb, ja = edit.window
        lvl = _Level(nb.type, [nb], [na], edit.context_before, edit.context_after, ind, -1)
        lvl.focus_b, lvl.focus_a = (rel, i, jb), (rel, i, ja)
        lvl.carried_b = frozenset(tuple(c[0]) for c in edit.carried)
        lvl.carried_a = frozenset(tuple(c[1]) for c in edit.carried)
        return lvl
    rb, ra = _at(tb, edit.path), _at(ta, edit.path)
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
    lvl = _Level(rb.type, before, after, edit.context_before, edit.context_after, ind, blank)
    lvl.focus_b, lvl.focus_a = (
        ([], anchors[0], anchors[0] + jb - i),
        ([], anchors[0], anchors[0] + ja - i),
    )
    # carried paths count from R's first child; here parts start at child lo
    lvl.carried_b = frozenset((c[0][0] - lo, *c[0][1:]) for c in edit.carried)
    lvl.carried_a = frozenset((c[1][0] - lo, *c[1][1:]) for c in edit.carried)
    return lvl


def _gen_parts(
    au: AntiUnifier,
    parts: list[Template],
    syns: list[Syn],
    focus: tuple[list[int], int, int] | None,
    carried: frozenset[tuple[int, ...]],
) -> list[Template]:
    """Generalise parts deeply along the change and shallowly in the context around it."""
    if focus is None:
        return [au.generalise(t, s) for t, s in zip(parts, syns, strict=True)]
    path, lo, hi = focus
    if path:  # node mode: one part, the change is below it
        return [_gen_path(au, parts[0], syns[0], path, lo, hi, carried)]
    return [
        _gen_window(au, t, s, (k,), carried) if lo <= k < hi else au.generalise(t, s)
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
    if t[0] != "n" or t[1] != s.type or len(t[2]) != len(s.children):
        return au.generalise(t, s)
    kids: list[Template] = []
    for k, (tc, sc) in enumerate(zip(t[2], s.children, strict=True)):
        if path and k == path[0]:
            kids.append(_gen_path(au, tc, sc, path[1:], lo, hi, carried))
        elif not path and lo <= k < hi:
            kids.append(_gen_window(au, tc, sc, (k,), carried))
        else:
            kids.append(au.shallow(tc, sc))
    return ["n", t[1], kids, t[3], t[4]]


def _gen_window(
    au: AntiUnifier, t: Template, s: Syn, here: tuple[int, ...], carried: frozenset[tuple[int, ...]]
) -> Template:
    if here in carried:
        return au.shallow(t, s)
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


def _key(edit: StructuralEdit) -> tuple[str, ...]:
    """Edits can only merge within one bucket: same change root and same kinds of nodes."""
    tb, ta = edit.syn_before(), edit.syn_after()
    rb, ra = _at(tb, edit.path), _at(ta, edit.path)
    i, jb, ja = edit.window
    wb = ",".join(c.type for c in rb.children[i:jb])
    wa = ",".join(c.type for c in ra.children[i:ja])
    return (edit.language, rb.type, wb, wa)


# -- validity and naming -----------------------------------------------------------------------


def _named_constants(t: Template) -> int:
    if t[0] == "c":
        return int(any(ch.isalnum() for ch in t[2]))
    if t[0] == "n":
        return sum(_named_constants(c) for c in t[2])
    return 0


def _valid(before: list[Template], after: list[Template]) -> bool:
    bound: dict[str, str | None] = {}
    for t in before:
        holes(t, bound)
    free: dict[str, str | None] = {}
    for t in after:
        holes(t, free)
    if not free.keys() <= bound.keys():
        return False  # the after-text would need words the site does not have
    if [shape(t) for t in before] == [shape(t) for t in after]:
        return False
    if all(t[0] == "h" for t in before):
        return False
    if not after and bound and not _repeated_hole(before):
        return False  # deleting "any call like this" is a guess; a repeated hole is a real rule
    return sum(_named_constants(t) for t in before) >= 1


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


_IDENT = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


def _idents(t: Template, out: set[str]) -> set[str]:
    if t[0] == "c" and "identifier" in t[1]:
        out.add(t[2])
    elif t[0] == "n":
        for c in t[2]:
            _idents(c, out)
    return out


def _uses(
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
            tokens = set(_IDENT.findall(key))
            for w in changed:
                seen.setdefault((name, w), set()).add(w in tokens)
    return [[h, w, next(iter(v))] for (h, w), v in sorted(seen.items()) if len(v) == 1]


def _specificity(before: list[Template]) -> float:
    const = hole = 0
    for t in before:
        c, h = leaves(t)
        const += c
        hole += h
    return const / max(1, const + hole)


_WS = re.compile(r"\s+")


def _short(text: str, limit: int = 48) -> str:
    text = _WS.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _name(skill: Skill) -> str:
    before = _short(skill.pattern_text("before", "…"))
    after = _short(skill.pattern_text("after", "…"))
    if skill.mode == WINDOW and skill.anchors != [0, 0]:
        return f"insert {_short(_inserted(skill), 60)}"
    if not after:
        return f"delete {before}"
    return f"{before} → {after}"


def _inserted(skill: Skill) -> str:
    parts = skill.after_template["parts"]
    left, right = skill.anchors
    inner = parts[left : len(parts) - right]
    if not inner:
        return ""
    env = {"\x00" + n: "…" for p in inner for n in holes(p)}
    return render(skill.after_template["skeleton"], inner[0][3], inner[-1][4], inner, env, ("", ""))


def _skill_id(language: str, mode: str, before: list[Template], after: list[Template]) -> str:
    raw = "\x01".join([language, mode, *map(shape, before), "=>", *map(shape, after)])
    return "sk_" + hashlib.sha1(raw.encode("utf-8", "replace")).hexdigest()[:12]


# -- the miner ---------------------------------------------------------------------------------


def _make(
    edit: StructuralEdit,
    mode: str,
    height: int,
    anchors: list[int],
    level: _Level,
    before: list[Template],
    after: list[Template],
    examples: list[str],
) -> Skill:
    skill = Skill(
        id=_skill_id(edit.language, mode, before, after),
        name="",
        language=edit.language,
        before_template={
            "root": level.root,
            "mode": mode,
            "parts": before,
            "skeleton": level.skel_b,
            "indent": level.indent,
        },
        after_template={"parts": after, "skeleton": level.skel_a},
        examples=examples,
        support=len(examples),
        specificity=_specificity(before),
        height=height,
        anchors=anchors,
        blank=level.blank,
        line_insert=mode == WINDOW and anchors != [0, 0] and edit.whole_lines,
    )
    skill.name = _name(skill)
    return skill


def _levels(edit: StructuralEdit) -> list[tuple[str, int, list[int]]]:
    """Contexts to try, most specific first."""
    out: list[tuple[str, int, list[int]]] = []
    if not edit.clipped:
        out.extend((NODE, h, [0, 0]) for h in range(len(edit.path), -1, -1))
    out.append((WINDOW, 0, _anchors(edit)))
    return out


def generalise(first: StructuralEdit, second: StructuralEdit, examples: list[str]) -> Skill | None:
    """The most specific valid skill covering two edits, or None when they are not alike."""
    if _key(first) != _key(second):
        return None
    for mode, height, anchors in _levels(first):
        a = _level(first, mode, height, anchors)
        b = _level(second, mode, height, anchors)
        if a is None or b is None or len(a.before) != len(b.before):
            continue
        if len(a.after) != len(b.after) or a.root != b.root:
            continue
        au = AntiUnifier(set())
        before = _gen_parts(
            au, [from_syn(x) for x in a.before], b.before, b.focus_b, a.carried_b & b.carried_b
        )
        after = _gen_parts(
            au, [from_syn(x) for x in a.after], b.after, b.focus_a, a.carried_a & b.carried_a
        )
        if _valid(before, after):
            skill = _make(first, mode, height, anchors, a, before, after, examples)
            skill.uses = _uses(before, after, [a.before, b.before])
            return skill
    return None


def single(edit: StructuralEdit, episode_id: str) -> Skill | None:
    """A skill from one example: no holes, so it matches only the same text, with as much
    context as fits on one line (the whole statement when it is one line), else the window."""
    choice: tuple[str, int, list[int]] | None = None
    if not edit.clipped:
        for h in range(len(edit.path), -1, -1):
            lvl = _level(edit, NODE, h, [0, 0])
            if lvl is not None:
                node = lvl.before[0]
                if "\n" not in edit.context_before[node.start : node.end]:
                    choice = (NODE, h, [0, 0])
                    break
    if choice is None:
        choice = (WINDOW, 0, _anchors(edit))
    mode, height, anchors = choice
    a = _level(edit, mode, height, anchors)
    if a is None:
        return None
    before, after = [from_syn(x) for x in a.before], [from_syn(x) for x in a.after]
    if [shape(t) for t in before] == [shape(t) for t in after]:
        return None
    return _make(edit, mode, height, anchors, a, before, after, [episode_id])


def _covers(skill: Skill, edit: StructuralEdit) -> bool:
    level = _level(edit, skill.mode, skill.height, skill.anchors)
    if level is None or level.root != skill.root:
        return False
    tb, ta = skill.before_template["parts"], skill.after_template["parts"]
    if len(tb) != len(level.before) or len(ta) != len(level.after):
        return False
    env: dict[str, str] = {}
    return all(match_syn(t, s, env) for t, s in zip(tb, level.before, strict=True)) and all(
        match_syn(t, s, env) for t, s in zip(ta, level.after, strict=True)
    )


def _widen(skill: Skill, edit: StructuralEdit) -> bool:
    """Generalise a skill to cover one more example, if the result stays valid."""
    level = _level(edit, skill.mode, skill.height, skill.anchors)
    if level is None or level.root != skill.root:
        return False
    tb, ta = skill.before_template["parts"], skill.after_template["parts"]
    if len(tb) != len(level.before) or len(ta) != len(level.after):
        return False
    au = AntiUnifier(set())
    before = _gen_parts(au, tb, level.before, level.focus_b, level.carried_b)
    after = _gen_parts(au, ta, level.after, level.focus_a, level.carried_a)
    if not _valid(before, after):
        return False
    # a widened template renames holes, so usage constraints restart from this example
    skill.uses = [u for u in _uses(before, after, [level.before]) if u in _remap(skill, before)]
    skill.before_template["parts"] = before
    skill.after_template["parts"] = after
    skill.specificity = _specificity(before)
    skill.name = _name(skill)
    return True


def _remap(skill: Skill, before: list[Template]) -> list[list[Any]]:
    """Old usage constraints in the hole names of a widened before-template."""
    old = skill.before_template["parts"]
    names: dict[str, str] = {}

    def walk(o: Template, n: Template) -> None:
        if o[0] == "h" and n[0] == "h":
            names.setdefault(o[1], n[1])
        elif o[0] == "n" and n[0] == "n" and len(o[2]) == len(n[2]):
            for a, b in zip(o[2], n[2], strict=True):
                walk(a, b)

    for o, n in zip(old, before, strict=True):
        walk(o, n)
    return [[names[h], w, p] for h, w, p in skill.uses if h in names]


class SkillMiner:
    """Incremental miner: each new edit joins a skill, widens one, or pairs with a pending edit."""

    max_pending = 64  # per bucket; older unpaired edits are forgotten first

    def __init__(self, min_examples: int = 2, skills: list[Skill] | None = None) -> None:
        self.min_examples = min_examples
        self._skills: dict[str, Skill] = {}
        self._buckets: dict[tuple[str, ...], list[str]] = {}
        self._pending: dict[tuple[str, ...], list[tuple[str, StructuralEdit]]] = {}
        # skills loaded from a store have no bucket key: they are checked for every edit
        self._loaded: list[str] = []
        for s in skills or []:
            self._skills[s.id] = s
            self._loaded.append(s.id)

    def skills(self) -> list[Skill]:
        return list(self._skills.values())

    def add(self, episode_id: str, edit: StructuralEdit) -> list[Skill]:
        """Mine one edit episode; returns the skills it created or updated."""
        key = _key(edit)
        bucket = self._buckets.setdefault(key, [])
        candidates = [*bucket, *(s for s in self._loaded if self._skills[s].language == key[0])]
        for sid in candidates:
            skill = self._skills.get(sid)
            if skill is not None and _covers(skill, edit):
                return [self._support(skill, episode_id)]
        for sid in bucket:
            skill = self._skills.get(sid)
            if skill is not None and _widen(skill, edit):
                return [self._support(skill, episode_id)]
        if self.min_examples <= 1:
            made = single(edit, episode_id)
            return [self._keep(key, made)] if made is not None else []
        pending = self._pending.setdefault(key, [])
        for k in range(len(pending) - 1, -1, -1):
            other_id, other = pending[k]
            made = generalise(other, edit, [other_id, episode_id])
            if made is not None:
                del pending[k]
                return [self._keep(key, made)]
        pending.append((episode_id, edit))
        del pending[: -self.max_pending]
        return []

    def _support(self, skill: Skill, episode_id: str) -> Skill:
        if episode_id not in skill.examples:
            skill.examples.append(episode_id)
        skill.support = len(skill.examples)
        return skill

    def _keep(self, key: tuple[str, ...], skill: Skill) -> Skill:
        known = self._skills.get(skill.id)
        if known is not None:
            for e in skill.examples:
                self._support(known, e)
            return known
        self._skills[skill.id] = skill
        self._buckets[key].append(skill.id)
        return skill
