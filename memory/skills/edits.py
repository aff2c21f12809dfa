"""Structural edits: what changed between two versions of a document, as syntax trees.

Capture stores one StructuralEdit per edit episode; skill mining generalises several of them. An
edit is cut at three levels:
  * the minimal changed span (common prefix and suffix of the two texts);
  * the change root R, the smallest node with the same type, start and distance to the end in both
    trees that covers the span, and the window of R's children that differs (empty before for an
    insertion, empty after for a deletion);
  * the context root X, the smallest ancestor of R that occupies whole lines (a statement, a
    definition header with its body, an argument on its own line), which mining may use to keep
    skills specific.
Inside the window a GumTree-style diff (memory.skills.treediff) tells which subtrees were carried
over unchanged, so mining can turn them into single holes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from memory.skills import transforms
from memory.skills.syn import Syn, char_map, is_atomic, to_syn
from memory.skills.syntax import has_error, parse
from memory.skills.treediff import Path, at, at_forest, diff_trees

if TYPE_CHECKING:
    from tree_sitter import Node


# statements that bring names into a file: deleting one is about whether the file uses them
IMPORTS = {
    "import_statement",  # Python, JavaScript, TypeScript
    "import_from_statement",
    "future_import_statement",
    "import_declaration",  # Go
    "import_spec",
    "use_declaration",  # Rust
}


@dataclass
class StructuralEdit:
    """One change between two documents, with the trees mining needs (JSON-serialisable)."""

    language: str
    before: str  # text of the changed child window of R in the before document
    after: str  # text of the same window in the after document
    before_type: str  # type of the single before node, else of R
    after_type: str
    start_line: int  # 0-based line of the context root X in the before document
    indent: str  # indentation of the line X starts on
    context_before: str = ""  # text of X before
    context_after: str = ""  # text of X after
    tree_before: list[Any] = field(default_factory=list)  # Syn JSON of X before
    tree_after: list[Any] = field(default_factory=list)
    path: Path = field(default_factory=list)  # child indices from X down to R
    window: list[int] = field(default_factory=lambda: [0, 0, 0])  # [i, j_before, j_after]
    carried: list[list[Path]] = field(default_factory=list)  # [before path, after path] from R
    whole_lines: bool = False  # the window occupies whole lines in both documents
    clipped: bool = False  # R is the document or a long block: only the window's siblings kept
    # an import's deletion: the names it deleted that nothing left in the file uses
    unused: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> StructuralEdit:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in d.items() if k in names})

    def syn_before(self) -> Syn:
        return Syn.from_json(self.tree_before)

    def syn_after(self) -> Syn:
        return Syn.from_json(self.tree_after)


def _span(a: bytes, b: bytes) -> tuple[int, int]:
    """Common prefix and suffix lengths of a and b (never overlapping)."""
    n = min(len(a), len(b))
    p = 0
    # compare in chunks first: long documents share long prefixes
    step = 4096
    while p + step <= n and a[p : p + step] == b[p : p + step]:
        p += step
    while p < n and a[p] == b[p]:
        p += 1
    s = 0
    m = n - p
    while s + step <= m and a[len(a) - s - step : len(a) - s] == b[len(b) - s - step : len(b) - s]:
        s += step
    while s < m and a[len(a) - 1 - s] == b[len(b) - 1 - s]:
        s += 1
    return p, s


def _cover(root: Node, start: int, end: int, data: bytes) -> Node:
    """Smallest named node covering [start, end), an empty range included. An empty range just
    after a token (`return data|` where `, data` was deleted) belongs to that token: otherwise
    the node found depends on what follows (an `if` or an `elif`), and two alike edits would not
    meet. For the same reason whitespace at either end of a range belongs to nothing: a deleted
    last line of a block ends in a newline outside the block, the line above it does not."""
    if start == end:
        if start > 0 and not data[start - 1 : start].isspace():
            return _climb(root, start - 1, start - 1, start, end)
        here = _climb(root, start, start, start, end)
        token = len(data[:start].rstrip())
        if token == 0 or token == start:
            return here
        before = _climb(root, token - 1, token - 1, token, token)
        return min(here, before, key=lambda n: n.end_byte - n.start_byte)
    lo = start + len(data[start:end]) - len(data[start:end].lstrip())
    hi = end - (len(data[start:end]) - len(data[start:end].rstrip()))
    if lo < hi:
        start, end = lo, hi
    return _climb(root, start, max(start, end - 1), start, end)


def _climb(root: Node, lo: int, hi: int, start: int, end: int) -> Node:
    node = root.named_descendant_for_byte_range(lo, hi) or root
    while node.parent is not None and not (node.start_byte <= start and node.end_byte >= end):
        node = node.parent
    return node


def _same_text(a: Node, b: Node) -> bool:
    return a.type == b.type and a.text == b.text


def _align(nb: Node, na: Node, lb: int, la: int) -> tuple[Node, Node] | None:
    """Climb both nodes until they sit at the same place with the same type."""
    while True:
        tb, ta = lb - nb.end_byte, la - na.end_byte
        if nb.start_byte == na.start_byte and tb == ta and nb.type == na.type:
            # a changed leaf has no children to window over: its parent is the root
            if nb.child_count or na.child_count:
                return nb, na
            if nb.parent is None or na.parent is None:
                return None
            nb, na = nb.parent, na.parent
            continue
        grow_b = nb.start_byte > na.start_byte or tb > ta
        grow_a = na.start_byte > nb.start_byte or ta > tb
        if not grow_b and not grow_a:
            # the same place, different types: climb the side whose parent is still that place
            # (a block whose first statement was deleted starts where its new first one does)
            grow_a = _same_place(na.parent, nb, la, lb)
            grow_b = not grow_a and _same_place(nb.parent, na, lb, la)
            if not grow_a and not grow_b:
                grow_b = grow_a = True
        if grow_b:
            if nb.parent is None:
                return None
            nb = nb.parent
        if grow_a:
            if na.parent is None:
                return None
            na = na.parent


def _same_place(parent: Node | None, other: Node, lp: int, lo: int) -> bool:
    return (
        parent is not None
        and parent.start_byte == other.start_byte
        and lp - parent.end_byte == lo - other.end_byte
    )


def _window(rb: Node, ra: Node) -> tuple[int, int, int]:
    kb, ka = rb.children, ra.children
    i = 0
    while i < len(kb) and i < len(ka) and _same_text(kb[i], ka[i]):
        i += 1
    t = 0
    while t < len(kb) - i and t < len(ka) - i and _same_text(kb[-1 - t], ka[-1 - t]):
        t += 1
    if i > 0 and (_trails(kb, i, len(kb) - t) or _trails(ka, i, len(ka) - t)):
        i -= 1
    return i, len(kb) - t, len(ka) - t


def _trails(kids: list[Node], i: int, j: int) -> bool:
    """The window kids[i:j] opens with a comment on the line the child before it ends on: that
    comment belongs to that statement (`x = f()` -> `x = f()  # type: ignore`), and a change of
    it is a change of the statement, not an insertion of a comment after any statement."""
    return (
        i < j
        and kids[i].type.endswith("comment")
        and (kids[i].start_point[0] == kids[i - 1].end_point[0])
    )


def _line_start(data: bytes, pos: int) -> int:
    return data.rfind(b"\n", 0, pos) + 1


def _whole_lines(data: bytes, start: int, end: int, *, item: bool = False) -> bool:
    """[start, end) begins at its line's indentation and ends at a line end; with item, a
    separating comma may follow it there (one item of a list laid out one per line)."""
    if data[_line_start(data, start) : start].strip():
        return False
    nl = data.find(b"\n", end)
    rest = data[end : len(data) if nl == -1 else nl].strip()
    return not rest or (item and rest == b",")


def _context(node: Node, data: bytes, max_bytes: int) -> Node:
    """Smallest ancestor-or-self occupying whole lines, unless that grows past max_bytes."""
    x = node
    # an item on its own line in a bracketed list is context enough: climbing further would
    # take in the whole call or signature, and its other items would pin the skill to it
    while not _whole_lines(data, x.start_byte, x.end_byte, item=True):
        if x.parent is None or x.parent.parent is None:
            break  # the root is never a useful context
        if x.parent.end_byte - x.parent.start_byte > max_bytes:
            break
        x = x.parent
    return x


def _atom_depth(node: Node, data: bytes) -> int:
    """How many steps above node the topmost ancestor-or-self whose text to_syn keeps whole (a
    string with its contents) has its parent; 0 when there is none. A syntax tree made from it
    has no children there to hold the edit's window."""
    depth, steps, x = 0, 0, node
    while x.parent is not None:
        steps += 1
        if is_atomic(x, data):
            depth = steps
        x = x.parent
    return depth


def _up(node: Node, steps: int) -> Node | None:
    for _ in range(steps):
        if node.parent is None:
            return None
        node = node.parent
    return node


def _path(x: Node, r: Node) -> Path:
    out: Path = []
    while r.id != x.id:
        parent = r.parent
        assert parent is not None
        out.append(next(i for i, c in enumerate(parent.children) if c.id == r.id))
        r = parent
    return out[::-1]


def structural_edit(
    language: str,
    before_doc: str,
    after_doc: str,
    *,
    max_lines: int = 200,
    max_bytes: int | None = None,
) -> StructuralEdit | None:
    """The structural edit that turns before_doc into after_doc, or None when there is none worth
    learning from (no change, no grammar, a half-typed after tree, a change over max_lines, or
    a context over max_bytes in all: a sibling that is one line of minified code would make
    trees of megabytes, so the size is checked before any tree is made)."""
    if before_doc == after_doc:
        return None
    db = before_doc.encode("utf-8", "surrogatepass")
    da = after_doc.encode("utf-8", "surrogatepass")
    p, s = _span(db, da)
    changed = max(db.count(b"\n", p, len(db) - s), da.count(b"\n", p, len(da) - s))
    if changed > max_lines:
        return None
    tb, ta = parse(language, before_doc), parse(language, after_doc)
    if tb is None or ta is None:
        return None
    if has_error(ta) and not has_error(tb):
        return None
    nb = _cover(tb.root_node, p, len(db) - s, db)
    na = _cover(ta.root_node, p, len(da) - s, da)
    aligned = _align(nb, na, len(db), len(da))
    if aligned is None:
        return None
    rb, ra = aligned
    lift = max(_atom_depth(rb, db), _atom_depth(ra, da))
    if lift:
        # the change is inside a string (`"x"` -> `f"x"`): the string is the window
        ub, ua = _up(rb, lift), _up(ra, lift)
        if ub is None or ua is None or ub.type != ua.type or ub.start_byte != ua.start_byte:
            return None
        rb, ra = ub, ua
    i, jb, ja = _window(rb, ra)
    kb, ka = rb.children, ra.children
    if i == jb and i == ja:
        return None
    max_bytes = max(4096, 80 * max_lines)
    xb = _context(rb, db, max_bytes)
    path = _path(xb, rb)
    xa = ra
    for _ in path:
        assert xa.parent is not None
        xa = xa.parent
    if xa.start_byte != xb.start_byte or xa.type != xb.type:
        xb, xa, path = rb, ra, []
    if max(xb.end_point[0] - xb.start_point[0], xa.end_point[0] - xa.start_point[0]) > max_lines:
        xb, xa, path = rb, ra, []
    wb, wa = kb[i:jb], ka[i:ja]
    clipped = False
    first = xb
    if not path and (rb.parent is None or rb.end_point[0] - rb.start_point[0] > max_lines):
        # a module or a long block: keep the window and two siblings each side, not the file
        lo = max(0, i - 2)
        hb, ha = min(len(kb), jb + 2), min(len(ka), ja + 2)
        if lo > 0 or hb < len(kb):
            clipped = True
            first = kb[lo]
            size = _clip_bytes(kb[lo:hb], db) + _clip_bytes(ka[lo:ha], da)
            if max_bytes is not None and size > max_bytes:
                return None
            syn_b, raw_b = _clip(rb, kb[lo:hb], db)
            syn_a, raw_a = _clip(ra, ka[lo:ha], da)
            i, jb, ja = i - lo, jb - lo, ja - lo
    if not clipped:
        raw_b, raw_a = db[xb.start_byte : xb.end_byte], da[xa.start_byte : xa.end_byte]
        if max_bytes is not None and len(raw_b) + len(raw_a) > max_bytes:
            return None
        syn_b = to_syn(xb, db, xb.start_byte, char_map(raw_b))
        syn_a = to_syn(xa, da, xa.start_byte, char_map(raw_a))
    lines = _window_lines(db, kb, i, jb) and _window_lines(da, ka, i, ja)
    line_start = _line_start(db, first.start_byte)
    indent_raw = db[line_start : first.start_byte]
    indent = indent_raw[: len(indent_raw) - len(indent_raw.lstrip())].decode("utf-8", "replace")
    r_b, r_a = at(syn_b, path), at(syn_a, path)
    win_b, win_a = r_b.children[i:jb], r_a.children[i:ja]
    carried = [
        [[i + pb[0], *pb[1:]], [i + pa[0], *pa[1:]]]
        for pb, pa in diff_trees(win_b, win_a)
        if at_forest(win_b, pb).key == at_forest(win_a, pa).key
    ]
    before = _text(db, wb)
    unused: list[str] = []
    if not wa and (rb.type in IMPORTS or all(n.type in IMPORTS for n in wb)):
        gone = transforms.code_names(before)
        unused = sorted(w for w in gone if not transforms.used_outside(after_doc, w, tree=ta))
    return StructuralEdit(
        unused=unused,
        language=language,
        before=before,
        after=_text(da, wa),
        before_type=wb[0].type if len(wb) == 1 else rb.type,
        after_type=wa[0].type if len(wa) == 1 else ra.type,
        start_line=first.start_point[0],
        indent=indent,
        context_before=raw_b.decode("utf-8", "replace"),
        context_after=raw_a.decode("utf-8", "replace"),
        tree_before=syn_b.to_json(),
        tree_after=syn_a.to_json(),
        path=path,
        window=[i, jb, ja],
        carried=carried,
        whole_lines=lines,
        clipped=clipped or rb.parent is None,
    )


def _clip_bytes(kids: list[Node], data: bytes) -> int:
    """How long _clip's text of kids is."""
    return kids[-1].end_byte - _line_start(data, kids[0].start_byte)


def _clip(r: Node, kids: list[Node], data: bytes) -> tuple[Syn, bytes]:
    start = _line_start(data, kids[0].start_byte)
    raw = data[start : kids[-1].end_byte]
    chars = char_map(raw)
    syn = Syn(r.type, 0, len(raw) if chars is None else chars[-1])
    syn.children = [to_syn(k, data, start, chars) for k in kids]
    syn.key = " ".join(c.key for c in syn.children)
    return syn, raw


def _text(data: bytes, nodes: list[Node]) -> str:
    if not nodes:
        return ""
    return data[nodes[0].start_byte : nodes[-1].end_byte].decode("utf-8", "replace")


def _window_lines(data: bytes, kids: list[Node], i: int, j: int) -> bool:
    if i == j:
        return True
    return _whole_lines(data, kids[i].start_byte, kids[j - 1].end_byte)
