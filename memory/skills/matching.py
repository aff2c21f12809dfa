"""Finding where skills apply in a document (memory.skills.rewrites makes the text of each rewrite).

The server asks on every code action and inline completion, so lookups must stay in the low
milliseconds with a thousand skills and a five-thousand-line file: skills are indexed by language
and the type of node their before-template starts at, a skill is tried only at nodes overlapping
the cursor lines, and a cheap test for the template's constant words rules most skills out before
any tree matching. Trees come from the caller (cached per document version) and are not reparsed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from memory.skills import transforms
from memory.skills.entry import SkillEntry, entry_of
from memory.skills.meaning import node_returns_value
from memory.skills.mining import NODE
from memory.skills.parsecheck import parses, rewrite_parses
from memory.skills.rewrites import Match, apply_match, byte_offset, rewrite
from memory.skills.skill import Skill
from memory.skills.syn import keys_remembered
from memory.skills.syntax import nodes_of_types, parse
from memory.skills.templates import Template, match

if TYPE_CHECKING:
    from tree_sitter import Node, Tree

__all__ = ["Match", "SkillIndex", "apply_match", "rewrite_parses", "unused_in"]


def at_cursor(skill: Skill) -> Skill:
    """How a skill still waiting for examples is matched: a hypothesis offered at the cursor
    only, where the developer says where, so it is not held to the kind of node its examples
    sat under, and each hole that was a name in every example is open to any code there: two
    `Optional[XSS]` -> `XSS | None` say the rule of `Optional[tuple[str, int]]` too, though not
    that it is one (a hole that was a string or a number keeps its kind:
    `Decimal('1')` -> `Decimal(1)` is not a rule of `Decimal('1.25')`)."""
    opened = False

    def loose(t: Template) -> Template:
        nonlocal opened
        if t[0] in ("h", "o") and isinstance(t[2], str) and t[2].endswith("identifier"):
            opened = True
            return [t[0], t[1], None, *t[3:]]
        if t[0] == "n":
            return [t[0], t[1], [loose(c) for c in t[2]], *t[3:]]
        return t

    parts = [loose(t) for t in skill.before_template["parts"]]
    if not opened and "parents" not in skill.before_template:
        return skill
    out = Skill.from_json(skill.to_json())
    out.before_template["parts"] = parts
    out.before_template.pop("parents", None)
    return out


class SkillIndex:
    """Skills by (language, root node type), ready to match against live trees."""

    def __init__(self, skills: list[Skill], *, held_back: bool = False) -> None:
        # held_back: index only the skills still waiting for examples (offered at the cursor)
        self.held_back = held_back
        self._by_root: dict[tuple[str, str], dict[str, SkillEntry]] = {}
        self._by_id: dict[str, SkillEntry] = {}
        for s in skills:
            self.add(s)

    def __len__(self) -> int:
        return len(self._by_id)

    def add(self, skill: Skill) -> None:
        """Index a skill; one without enough examples for how general it is (see
        Skill.needed_support) is not suggested until it is added again with more support."""
        self.remove(skill.id)
        if (skill.support < skill.needed_support()) != self.held_back:
            return
        entry = entry_of(at_cursor(skill) if self.held_back else skill)
        self._by_id[skill.id] = entry
        self._by_root.setdefault((skill.language, skill.root), {})[skill.id] = entry

    def remove(self, skill_id: str) -> None:
        entry = self._by_id.pop(skill_id, None)
        if entry is not None:
            self._by_root[(entry.skill.language, entry.skill.root)].pop(skill_id, None)

    def matches_at(
        self, language: str, text: str, tree: Tree | None, start_line: int, end_line: int
    ) -> list[Match]:
        """Rewrites of skills whose site overlaps lines start_line..end_line (inclusive)."""
        if tree is None:
            tree = parse(language, text)
            if tree is None:
                return []
        data = text.encode("utf-8", "surrogatepass")
        lo, hi = _line_bytes(data, start_line, end_line)
        out: list[Match] = []
        seen: set[tuple[str, int, int]] = set()
        for node in _overlapping(tree.root_node, lo, hi):
            entries = self._by_root.get((language, node.type))
            if not entries:
                continue
            for entry in entries.values():
                for m in _site_matches(entry, node, data, (lo, hi)):
                    key = (m.skill_id, m.start_line, m.start_char)
                    if key not in seen and _parses(language, data, m, tree, (start_line, lo)):
                        seen.add(key)
                        out.append(m)
        return out

    def matches_everywhere(
        self,
        language: str,
        data: bytes,
        tree: Tree,
        stop: Callable[[], bool] | None = None,
    ) -> tuple[list[Match], bool]:
        """Every site of every skill in a whole parsed text, found from an index of the tree's
        nodes by the skills' root types (one query) rather than by walking the tree; (matches,
        complete): stop() is asked between nodes and ends the search early."""
        types = {root for (lang, root), got in self._by_root.items() if lang == language and got}
        out: list[Match] = []
        seen: set[tuple[str, int, int]] = set()
        with keys_remembered():
            for n, node in enumerate(nodes_of_types(language, tree.root_node, types)):
                if stop is not None and n % 64 == 63 and stop():
                    return _in_order(out), False
                for entry in self._by_root[(language, node.type)].values():
                    for m in _site_matches(entry, node, data, None):
                        key = (m.skill_id, m.start_line, m.start_char)
                        if key not in seen and _parses(language, data, m, tree, (0, 0)):
                            seen.add(key)
                            out.append(m)
        return _in_order(out), True

    def matches_in(self, skill_id: str, language: str, text: str, tree: Tree | None) -> list[Match]:
        """Every site of one skill in a document."""
        entry = self._by_id.get(skill_id)
        if entry is None or entry.skill.language != language:
            return []
        data = text.encode("utf-8", "surrogatepass")
        if any(w not in data for w in entry.words):
            return []
        if tree is None:
            tree = parse(language, text)
            if tree is None:
                return []
        out: list[Match] = []
        for node in _nodes_of_type(tree.root_node, entry.skill.root):
            for m in _site_matches(entry, node, data, None):
                if _parses(language, data, m, tree, (0, 0)):
                    out.append(m)
        return unused_in(out, text, tree)


def _in_order(matches: list[Match]) -> list[Match]:
    """Document order, a larger site before a smaller one that starts with it."""
    return sorted(matches, key=lambda m: (m.start_line, m.start_char, -m.end_line, -m.end_char))


def _parses(language: str, data: bytes, m: Match, tree: Tree, hint: tuple[int, int]) -> bool:
    start = byte_offset(data, m.start_line, m.start_char, hint)
    end = start + len(m.old_text.encode("utf-8", "surrogatepass"))
    return parses(language, data, start, end, m.new_text.encode("utf-8", "surrogatepass"), tree)


# -- walking the tree --------------------------------------------------------------------------


def _line_bytes(data: bytes, start_line: int, end_line: int) -> tuple[int, int]:
    pos, line = 0, 0
    lo = hi = len(data)
    while True:
        if line == start_line:
            lo = pos
        nl = data.find(b"\n", pos)
        if line == end_line:
            hi = len(data) if nl == -1 else nl
            break
        if nl == -1:
            break
        pos, line = nl + 1, line + 1
    return min(lo, hi), hi


def _overlapping(root: Node, lo: int, hi: int) -> list[Node]:
    """Nodes whose byte range meets [lo, hi]; children found by bisection, not by listing."""
    out: list[Node] = []
    stack = [root]
    while stack:
        node = stack.pop()
        out.append(node)
        child = _first_child_ending_after(node, lo)
        while child is not None and child.start_byte <= hi:
            if child.end_byte >= lo:
                stack.append(child)
            child = child.next_sibling
    return out


def _first_child_ending_after(node: Node, byte: int) -> Node | None:
    """The first child whose end is past `byte`, or None. tree-sitter's first_child_for_byte
    answers this by bisection but crashes the process (a segfault, not an exception) when no
    child ends past the byte: trailing blank lines, a line past the end, a node that ends
    where its last child does. The last child, which ends furthest, tells beforehand."""
    count = node.child_count
    if not count:
        return None
    last = node.child(count - 1)
    if last is None or last.end_byte <= byte:
        return None
    return node.first_child_for_byte(byte)


def _nodes_of_type(root: Node, typ: str) -> list[Node]:
    out: list[Node] = []
    cursor = root.walk()
    while True:
        node = cursor.node
        if node is not None and node.type == typ:
            out.append(node)
        if cursor.goto_first_child():
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return out


# -- one site ----------------------------------------------------------------------------------


def _site_matches(
    entry: SkillEntry, node: Node, data: bytes, lines: tuple[int, int] | None
) -> list[Match]:
    if entry.words:
        raw = data[node.start_byte : node.end_byte]
        if any(w not in raw for w in entry.words):
            return []
    skill = entry.skill
    if skill.mode == NODE:
        if entry.parents and (node.parent is None or node.parent.type not in entry.parents):
            return []
        env: dict[str, str] = {}
        if not match(entry.before[0], node, data, env, entry.keyed) or not entry.allows(env):
            return []
        if entry.rewritten(node, data):
            return []
        m = rewrite(entry, data, node.start_byte, node.end_byte, env)
        if m is not None and entry.returns is not None:
            m.returns = node_returns_value(node, entry.skill.language)
        return [] if m is None else [_with_unused(entry, m)]
    return _window_matches(entry, node, data, lines)


def _window_matches(
    entry: SkillEntry, node: Node, data: bytes, lines: tuple[int, int] | None
) -> list[Match]:
    n = len(entry.before)
    kids = node.children
    if len(kids) < n:
        return []
    first, last = 0, len(kids) - n
    if lines is not None:
        lo, hi = lines
        # a line insertion lands on the line after its anchors: a cursor there is at the site
        reach = _line_end if entry.skill.line_insert else _at
        touching = [
            k for k, c in enumerate(kids) if c.start_byte <= hi and reach(data, c.end_byte) >= lo
        ]
        if not touching:
            return []
        first, last = max(0, touching[0] - n + 1), min(last, touching[-1])
    out: list[Match] = []
    for k in range(first, last + 1):
        env: dict[str, str] = {}
        window = kids[k : k + n]
        if all(
            match(t, c, data, env, entry.keyed) for t, c in zip(entry.before, window, strict=True)
        ) and entry.allows(env):
            if len(entry.after) > n and _inserted(entry, kids[k : k + len(entry.after)], data):
                continue
            m = rewrite(entry, data, window[0].start_byte, window[-1].end_byte, env, window)
            if m is not None:
                out.append(_with_unused(entry, m))
    return out


def _with_unused(entry: SkillEntry, m: Match) -> Match:
    if not entry.unused:
        return m
    return replace(m, unused=tuple(m.bindings.get(h, "") for h in entry.unused))


def unused_in(matches: list[Match], text: str, tree: Tree | None = None) -> list[Match]:
    """The matches whose names (Match.unused) text, the whole file (parsed as tree), uses
    nowhere else."""
    out = []
    for m in matches:
        # a deleted line's match ends at the start of the next line, which is not its own
        last = m.end_line - 1 if m.end_char == 0 and m.end_line > m.start_line else m.end_line
        if not any(transforms.used_outside(text, w, m.start_line, last, tree) for w in m.unused):
            out.append(m)
    return out


def _inserted(entry: SkillEntry, kids: list[Node], data: bytes) -> bool:
    """What an insertion adds is already there: an anchor on one side only would otherwise
    match its own result (`x,` followed by the `y,` it inserts) and insert again."""
    env: dict[str, str] = {}
    return len(kids) == len(entry.after) and all(
        match(t, c, data, env) for t, c in zip(entry.after, kids, strict=True)
    )


def _at(data: bytes, pos: int) -> int:
    return pos


def _line_end(data: bytes, pos: int) -> int:
    """The start of the line after the one pos is on."""
    nl = data.find(b"\n", pos)
    return len(data) if nl == -1 else nl + 1
