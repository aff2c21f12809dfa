"""Templates: syntax trees as plain data (memory.skills.syn) with holes.

A template is a stored tree's shape with some subtrees replaced by holes (metavariables such as
`$x`). This module
holds two of the three operations every skill needs: matching a template against a live
tree-sitter node, and rendering text from a template; the third, anti-unification (the least
general template of two trees), is memory.skills.antiunify.

Template nodes are lists so they serialise to JSON as they are:
  ["h", name, type | None, start, end]   hole; type set when every example had the same type
  ["c", type, text, start, end]          constant leaf (text compared whitespace-insensitively)
  ["n", type, [children], start, end]    inner node whose children are matched one by one
  ["o", name, type | None, start, end, pre, post]
                                         optional hole: one child some examples had and others
                                         lacked (`yield` / `yield $x`); matches that child or
                                         nothing, and renders as pre + its text + post, or as
                                         nothing (pre/post are the spacing around it)
  ["h", name, "*", start, end]           segment hole (type SEGMENT): a run of one or more
                                         children between the children both examples share at
                                         each end, in lists whose examples differ in length
                                         (`zip(a, b)` / `zip(x, y, z)`: `zip($s)`)
start/end are character offsets into the skeleton text of the first example, used to render (an
optional hole's span takes in its spacing; it is empty where the first example lacked it). A node
holds at most one optional hole; it binds "" when absent; and at most one segment hole.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from memory.skills.syn import Syn, node_key

if TYPE_CHECKING:
    from tree_sitter import Node

Template = list[Any]

# what capture puts in place of a secret-looking token (server.capture.privacy): an edit whose
# text had one is mined from the redacted text, and the marker is always a hole
REDACTED = "«redacted»"


# -- templates ---------------------------------------------------------------------------------


def from_syn(s: Syn) -> Template:
    """The template that matches exactly this tree (one example, no holes)."""
    if not s.children:
        return ["c", s.type, s.key, s.start, s.end]
    return ["n", s.type, [from_syn(c) for c in s.children], s.start, s.end]


def shape(t: Template) -> str:
    """Spans-free canonical form: equal shapes mean the same pattern."""
    if t[0] == "h":
        return f"${t[1]}"
    if t[0] == "o":
        return f"$?{t[1]}"
    if t[0] == "c":
        return t[2]
    return "(" + " ".join(shape(c) for c in t[2]) + ")"


# the type of a hole that stands for a run of children, not one node
SEGMENT = "*"


def segment_at(kids: list[Template]) -> int:
    """Index of the segment hole among a node's template children, or -1."""
    for k, c in enumerate(kids):
        if c[0] == "h" and c[2] == SEGMENT:
            return k
    return -1


def segment_split(kids: list[Template], count: int) -> tuple[int, int] | None:
    """For template children with a segment hole at p: the node children [p, e) it binds, the
    children before it and after it matching one by one; None when the node has too few (a
    segment binds at least one child)."""
    p = segment_at(kids)
    e = count - (len(kids) - p - 1)
    return (p, e) if p >= 0 and e > p else None


def around_segment(
    kids: list[Template], split: tuple[int, int], children: list[Any]
) -> list[tuple[Template, Any]]:
    """The template children before and after the segment hole, each with its node child."""
    p, e = split
    head = zip(kids[:p], children[:p], strict=True)
    return [*head, *zip(kids[p + 1 :], children[e:], strict=True)]


def optional_at(kids: list[Template]) -> int:
    """Index of the optional hole among a node's template children, or -1."""
    for k, c in enumerate(kids):
        if c[0] == "o":
            return k
    return -1


def aligned(kids: list[Template], count: int) -> list[int | None] | None:
    """For each template child, the index of the node child it matches (None: an optional hole
    matching nothing), given the node's child count; None when the counts cannot align."""
    if count == len(kids):
        return list(range(count))
    p = optional_at(kids) if count == len(kids) - 1 else -1
    if p < 0:
        return None
    return [*range(p), None, *range(p, count)]


# statement lists across grammars (python block, js statement_block, c compound_statement, ...)
_BLOCKS = {"compound_statement", "declaration_list", "field_declaration_list", "body_statement"}


def is_block(typ: str) -> bool:
    return typ.endswith(("block", "body")) or typ in _BLOCKS


def const_key(t: Template) -> str | None:
    """The Syn.key a hole-free template matches, or None when it has holes."""
    if t[0] in ("h", "o"):
        return None
    if t[0] == "c":
        return str(t[2])
    keys = [const_key(c) for c in t[2]]
    return None if any(k is None for k in keys) else " ".join(keys)  # type: ignore[arg-type]


def has_optional(parts: list[Template]) -> bool:
    return bool(optionals(parts))


def optionals(parts: list[Template], out: set[str] | None = None) -> set[str]:
    """Names of the optional holes in parts."""
    out = set() if out is None else out
    for t in parts:
        if t[0] == "o":
            out.add(t[1])
        elif t[0] == "n":
            optionals(t[2], out)
    return out


def holes(t: Template, out: dict[str, str | None] | None = None) -> dict[str, str | None]:
    out = {} if out is None else out
    if t[0] in ("h", "o"):
        out[t[1]] = t[2]
    elif t[0] == "n":
        for c in t[2]:
            holes(c, out)
    return out


def leaves(t: Template) -> tuple[int, int]:
    """(constant leaves, holes) of a template."""
    if t[0] in ("h", "o"):
        return 0, 1
    if t[0] == "c":
        return 1, 0
    const = hole = 0
    for c in t[2]:
        a, b = leaves(c)
        const += a
        hole += b
    return const, hole


def words(t: Template, out: set[str] | None = None) -> set[str]:
    """Constant leaf texts that carry meaning (identifiers, literals, keywords), for indexing."""
    out = set() if out is None else out
    if t[0] == "c":
        if any(ch.isalnum() for ch in t[2]):
            out.add(t[2])
    elif t[0] == "n":
        for c in t[2]:
            words(c, out)
    return out


def match(
    t: Template,
    node: Node,
    data: bytes,
    env: dict[str, str],
    keyed: frozenset[str] | None = None,
) -> bool:
    """Match a template against a live node, binding holes into env (consistently): env[name] is
    the bound code's token text (its key), env["\x00" + name] its text. keyed: the holes whose
    key anything reads (a hole that repeats, a usage guard); the others bind their text as the
    key too, since making the key of a function body a hole binds costs as much as the body."""
    kind = t[0]
    if kind == "h" or kind == "o":
        if t[2] is not None and t[2] != node.type:
            return False
        bound = env.get(t[1])
        if bound is None:
            text = data[node.start_byte : node.end_byte].decode("utf-8", "replace")
            env[t[1]] = node_key(node, data) if keyed is None or t[1] in keyed else text
            env["\x00" + t[1]] = text
            return True
        return bound == node_key(node, data)
    if node.type != t[1]:
        return False
    if kind == "c":
        return node_key(node, data) == t[2]
    kids = t[2]
    split = segment_split(kids, node.child_count)
    if split is not None:
        return _match_segment(kids, split, node, data, env, keyed)
    if node.child_count != len(kids):
        return _match_short(kids, node, data, env, keyed)
    return all(match(tc, nc, data, env, keyed) for tc, nc in zip(kids, node.children, strict=True))


def _match_segment(
    kids: list[Template],
    split: tuple[int, int],
    node: Node,
    data: bytes,
    env: dict[str, str],
    keyed: frozenset[str] | None,
) -> bool:
    """The children before and after the segment hole one by one, the run between bound to it."""
    p, e = split
    children = node.children
    if not all(match(tc, nc, data, env, keyed) for tc, nc in around_segment(kids, split, children)):
        return False
    name, run = kids[p][1], children[p:e]
    key = " ".join(node_key(c, data) for c in run)
    bound = env.get(name)
    if bound is None:
        text = data[run[0].start_byte : run[-1].end_byte].decode("utf-8", "replace")
        env[name] = key if keyed is None or name in keyed else text
        env["\x00" + name] = text
        return True
    return bound == key


def _absent(name: str, env: dict[str, str]) -> bool:
    """Bind an optional hole to nothing (consistently)."""
    env["\x00" + name] = env.setdefault("\x00" + name, "")
    return env.setdefault(name, "") == ""


def _match_short(
    kids: list[Template], node: Node, data: bytes, env: dict[str, str], keyed: frozenset[str] | None
) -> bool:
    """A node one child short of the template: its optional hole matches nothing."""
    p = optional_at(kids) if node.child_count == len(kids) - 1 else -1
    if p < 0 or not _absent(kids[p][1], env):
        return False
    rest = kids[:p] + kids[p + 1 :]
    return all(match(tc, nc, data, env, keyed) for tc, nc in zip(rest, node.children, strict=True))


def match_syn(t: Template, s: Syn, env: dict[str, str]) -> bool:
    """Match a template against a stored tree (used to check coverage of a new example)."""
    kind = t[0]
    if kind == "h" or kind == "o":
        if t[2] is not None and t[2] != s.type:
            return False
        bound = env.setdefault(t[1], s.key)
        return bound == s.key
    if s.type != t[1]:
        return False
    if kind == "c":
        return s.key == t[2]
    split = segment_split(t[2], len(s.children))
    if split is not None:
        p, e = split
        kids, ch = t[2], s.children
        if not all(match_syn(tc, sc, env) for tc, sc in around_segment(kids, split, ch)):
            return False
        key = " ".join(c.key for c in ch[p:e])
        return env.setdefault(kids[p][1], key) == key
    order = aligned(t[2], len(s.children))
    if order is None:
        return False
    return all(
        _absent(tc[1], env) if k is None else match_syn(tc, s.children[k], env)
        for tc, k in zip(t[2], order, strict=True)
    )


def hole_spans(t: Template, out: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    if t[0] in ("h", "o"):
        out.append((t[3], t[4], t[1]))
    elif t[0] == "n":
        for c in t[2]:
            hole_spans(c, out)
    return out


def render(
    skeleton: str,
    start: int,
    end: int,
    parts: list[Template],
    env: dict[str, str],
    indent: tuple[str, str],
) -> str:
    """Text of skeleton[start:end] with every hole of parts replaced by its bound source text.

    indent is (skeleton indentation, site indentation): constant lines move to the site's, while
    hole text is the site's own and already sits where it belongs."""
    spans: list[tuple[int, int, str]] = []
    for p in parts:
        hole_spans(p, spans)
    spans.sort()
    spacing = _spacing(parts, {})
    out: list[str] = []
    pos = start
    for s, e, name in spans:
        out.append(_shift(skeleton[pos:s], indent))
        text = env["\x00" + name]
        if name in spacing:
            # an optional hole: its element with the spacing around it, or nothing at all
            pre, post = spacing[name]
            text = pre + text + post if text else ""
        out.append(text)
        pos = e
    out.append(_shift(skeleton[pos:end], indent))
    return "".join(out)


def _spacing(parts: list[Template], out: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    for t in parts:
        if t[0] == "o":
            out[t[1]] = (t[5], t[6])
        elif t[0] == "n":
            _spacing(t[2], out)
    return out


def render_parts(
    template: dict[str, Any],
    parts: list[Template],
    env: dict[str, str],
    indent: tuple[str, str] = ("", ""),
) -> str:
    """Text of parts (non-empty, from template: a skill's before- or after-template) with their
    holes bound from env, as render does."""
    return render(template["skeleton"], parts[0][3], parts[-1][4], parts, env, indent)


def _shift(segment: str, indent: tuple[str, str]) -> str:
    old, new = indent
    if "\n" not in segment:
        return segment
    head, *rest = segment.split("\n")
    moved = []
    for line in rest:
        if line.startswith(old):
            moved.append(new + line[len(old) :])
        else:
            moved.append(line)
    return "\n".join([head, *moved])
