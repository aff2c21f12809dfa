"""Per-document state that suggestions need: a syntax tree per version, and where an edit began.

Trees are parsed never in didChange but ahead of requests once the developer pauses (on the
thread of server.suggest.warmer), or else when a request comes; they are cached by document
version, and a new version is reparsed incrementally from the previous tree (a changed span found by
comparing the two texts), which on a 5,000-line file costs a third of a full parse.

Matching works on a small cut of the document rather than the whole tree (`focus`): the few
statements around the cursor under the header lines of the definitions enclosing them. The
matcher tries every ancestor of the cursor and checks that each rewrite still parses, so on the
whole tree its cost grows with the file (a 1,000-line class is an ancestor); on the cut it stays
in the low milliseconds. While the developer types, inline completion borrows the last parse
(`Trees.view`) and maps the cut over the change instead of reparsing per keystroke.

A Baseline is the document text from before the edit the developer is making now (the run of
changes near one place); inline completion matches skills against it to finish that edit.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from itertools import accumulate
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from memory.skills.linewrap import limit_of
from memory.skills.syntax import parse, parser_for

if TYPE_CHECKING:
    from tree_sitter import Tree

# a chunk longer than this is not worth cutting out: match against the whole tree instead
MAX_CHUNK_LINES = 120


def split_lines(text: str) -> list[str]:
    """Lines with their "\\n", split the way tree-sitter and LSP count them (not str.splitlines,
    which also splits on \\r, \\f and U+2028)."""
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def line_offsets(lines: list[str]) -> list[int]:
    return list(accumulate(map(len, lines), initial=0))


def offset_of(offsets: list[int], line: int, char: int) -> int:
    """Code-point offset of (line, char), clamped to the text."""
    if line >= len(offsets) - 1:
        return offsets[-1]
    return min(offsets[line] + char, offsets[line + 1])


def span(a: Any, b: Any) -> tuple[int, int, int]:
    """Common prefix length and the ends of the changed span in a and b (str or bytes)."""
    n = min(len(a), len(b))
    p, step = 0, 4096
    while p + step <= n and a[p : p + step] == b[p : p + step]:
        p += step
    while p < n and a[p] == b[p]:
        p += 1
    s, m = 0, n - p
    while s + step <= m and a[len(a) - s - step : len(a) - s] == b[len(b) - s - step : len(b) - s]:
        s += step
    while s < m and a[len(a) - 1 - s] == b[len(b) - 1 - s]:
        s += 1
    return p, len(a) - s, len(b) - s


def _point(data: bytes, pos: int) -> tuple[int, int]:
    return data.count(b"\n", 0, pos), pos - (data.rfind(b"\n", 0, pos) + 1)


@dataclass
class Snapshot:
    """One version of one document, parsed."""

    version: int | None
    text: str
    data: bytes
    tree: Tree
    language: str
    _lines: list[str] | None = None
    _chunks: list[tuple[int, int]] | None = None
    _offsets: list[int] | None = None
    _limit: tuple[int | None] | None = None
    # a view of a newer text that borrows an older version's tree (see Trees.view)
    stale: Snapshot | None = None

    def cut(self, lo: int, hi: int, max_lines: int) -> tuple[str, list[int], int] | None:
        """focus() on this text; a view maps the cut over from its older parse."""
        if self.stale is None:
            return focus(self, lo, hi, max_lines)
        return _shifted_focus(self.stale, self, lo, hi, max_lines)

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = split_lines(self.text)
        return self._lines

    @property
    def offsets(self) -> list[int]:
        """Code-point offset of each line start (and of the end)."""
        if self._offsets is None:
            self._offsets = line_offsets(self.lines)
        return self._offsets

    @property
    def line_limit(self) -> int | None:
        """The length past which the file's formatter splits a line
        (memory.skills.linewrap.limit_of), read once per version: every code action on it may need
        it."""
        if self._limit is None:
            self._limit = (limit_of(self.data),)
        return self._limit[0]

    @property
    def chunks(self) -> list[tuple[int, int]]:
        """Line spans [start, end) of the top-level statements; statements sharing a line merge."""
        if self._chunks is None:
            self._chunks = chunk_spans(self.tree)
        return self._chunks


def chunk_spans(tree: Tree) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for child in tree.root_node.children:
        start, end = child.start_point[0], child.end_point[0] + 1
        if spans and start < spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        else:
            spans.append((start, end))
    return spans


HEADER_LINES = 8  # at most this many header lines of one enclosing definition are kept


def focus(snap: Snapshot, lo: int, hi: int, max_lines: int) -> tuple[str, list[int], int] | None:
    """A small text to match lines lo..hi in: the statements around them, one neighbour each
    side, under the header lines of every definition that encloses them (so `class C:` then the
    method, which parses as it does in the file). Returns the text, for each of its lines the
    document line it came from, and how many header lines lead it; None when no cut exists."""
    node = snap.tree.root_node
    header: list[int] = []
    while True:
        kids = node.children
        over = [k for k, c in enumerate(kids) if c.end_point[0] >= lo and c.start_point[0] <= hi]
        if not over:  # between statements (a blank line): the ones either side
            after = next((k for k, c in enumerate(kids) if c.start_point[0] > hi), len(kids))
            over = [k for k in (after - 1, after) if 0 <= k < len(kids)]
            if not over:
                return None
        first, last = max(0, over[0] - 1), min(len(kids) - 1, over[-1] + 1)
        a, b = kids[first].start_point[0], kids[last].end_point[0] + 1
        if b - a <= max_lines or len(over) != 1:
            if b - a > 4 * max_lines:
                return None
            heads = [n for n in header if n < a]
            taken = [*heads, *range(a, min(b, len(snap.lines)))]
            return "".join(snap.lines[n] for n in taken), taken, len(heads)
        child = kids[over[0]]
        start = node.start_point[0]
        if node.parent is not None and child.start_point[0] > start and not kids[0].is_named:
            # a definition's header (`class C(B):`, `function f() {`): keep its lines
            later = next(c.start_point[0] for c in kids if c.start_point[0] > start)
            header += range(start, min(later, start + HEADER_LINES))
        if not child.child_count:
            return None
        node = child


def _shifted_focus(
    old: Snapshot, new: Snapshot, lo: int, hi: int, max_lines: int
) -> tuple[str, list[int], int] | None:
    """focus() for new's text from old's tree: exact when the change between the two versions
    lies inside the cut (typing within a statement); None otherwise."""
    p, end_old, end_new = span(old.text, new.text)
    first = old.text.count("\n", 0, p)
    last_old, last_new = old.text.count("\n", 0, end_old), new.text.count("\n", 0, end_new)
    delta = last_new - last_old

    def to_old(n: int) -> int:
        return n if n <= first else n - delta if n > last_new else min(n, last_old)

    cut = focus(old, min(to_old(lo), first), max(to_old(hi), last_old), max_lines)
    if cut is None:
        return None
    _, origin, heads = cut
    body = origin[heads:]
    if not body or body[0] > first or body[-1] < last_old:
        return None
    rows = [*origin[:heads], *range(body[0], body[-1] + 1 + delta)]
    if not rows or rows[-1] >= len(new.lines):
        return None
    return "".join(new.lines[n] for n in rows), rows, heads


class Trees:
    """The latest parsed version of each open document."""

    def __init__(self) -> None:
        self._cache: dict[str, Snapshot] = {}

    def get(self, uri: str, version: int | None, text: str, language: str) -> Snapshot | None:
        cached = self._cache.get(uri)
        if (
            cached is not None
            and cached.language == language
            and (cached.text is text or (cached.version == version and cached.text == text))
        ):
            return cached
        data = text.encode("utf-8", "surrogatepass")
        tree = None
        if cached is not None and cached.language == language:
            tree = reparse(language, cached.tree, cached.data, data)
        if tree is None:
            tree = parse(language, text)
        if tree is None:
            return None
        snap = Snapshot(version, text, data, tree, language)
        self._cache[uri] = snap
        return snap

    def view(self, uri: str, version: int | None, text: str, language: str) -> Snapshot | None:
        """The document now, without parsing it: the latest parse when it is of this text,
        else a view borrowing that parse's tree (Snapshot.cut maps over the change)."""
        cached = self._cache.get(uri)
        if cached is None or cached.language != language:
            return None
        if cached.text is text or (cached.version == version and cached.text == text):
            return cached
        return Snapshot(version, text, b"", cached.tree, language, stale=cached)

    def __len__(self) -> int:
        return len(self._cache)

    def cached(self, uri: str) -> Snapshot | None:
        return self._cache.get(uri)

    def drop(self, uri: str) -> None:
        self._cache.pop(uri, None)

    def keep_only(self, uris: set[str]) -> None:
        # list() copies the keys at once: server.suggest.warmer's thread may add one meanwhile
        for uri in [u for u in list(self._cache) if u not in uris]:
            self._cache.pop(uri, None)


def reparse(language: str, old_tree: Tree, old: bytes, new: bytes) -> Tree | None:
    """new's tree, reusing old_tree for everything outside the changed span."""
    parser = parser_for(language)
    if parser is None:
        return None
    p, end_old, end_new = span(old, new)
    edited = copy.copy(old_tree)  # edit() mutates: the cached tree may still be in use
    edited.edit(
        start_byte=p,
        old_end_byte=end_old,
        new_end_byte=end_new,
        start_point=_point(old, p),
        old_end_point=_point(old, end_old),
        new_end_point=_point(new, end_new),
    )
    return parser.parse(new, edited)


@dataclass
class Baseline:
    text: str  # the document before the edit in progress (a reference, never a copy)
    lo: int  # lines the edit touched, in current coordinates
    hi: int
    at: float  # monotonic time of its latest change
    _lines: list[str] | None = field(default=None, repr=False)

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = split_lines(self.text)
        return self._lines


class Baselines:
    """Per document, the text from before the edit being made, for inline completion."""

    def __init__(self, window_s: float = 30.0, near_lines: int = 3) -> None:
        self.window_s = window_s
        self.near_lines = near_lines
        self._by_uri: dict[str, Baseline] = {}

    def on_change(self, uri: str, before: str, change: Any, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if not isinstance(change, types.TextDocumentContentChangePartial):
            self._by_uri[uri] = Baseline(before, 0, 1 << 30, now)
            return
        sl, el = change.range.start.line, change.range.end.line
        nl = change.text.count("\n")
        base = self._by_uri.get(uri)
        near = (
            base is not None
            and now - base.at < self.window_s
            and base.lo - self.near_lines <= sl <= base.hi + self.near_lines
        )
        if base is None or not near:
            self._by_uri[uri] = Baseline(before, sl, sl + nl, now)
            return
        if sl <= base.hi:
            base.hi = max(base.hi + nl - (el - sl), sl + nl)
        else:
            base.hi = sl + nl
        base.lo = min(base.lo, sl)
        base.at = now

    def get(self, uri: str) -> Baseline | None:
        base = self._by_uri.get(uri)
        if base is not None and time.monotonic() - base.at >= self.window_s:
            del self._by_uri[uri]
            return None
        return base

    def reset(self, uri: str) -> None:
        """The edit is finished (a suggestion was accepted there): start afresh."""
        self._by_uri.pop(uri, None)


def cursor_nodes(snap: Snapshot, line: int) -> list[str]:
    """Named node types at the first non-blank of the cursor's line, innermost first (as the
    replay in tests/bench/rank.py); none for a view that borrows an older parse."""
    if snap.stale is not None or not 0 <= line < len(snap.lines):
        return []
    text = snap.lines[line]
    col = len(text[: len(text) - len(text.lstrip())].encode("utf-8", "surrogatepass"))
    try:
        node = snap.tree.root_node.named_descendant_for_point_range((line, col), (line, col))
    except Exception:
        return []
    out: list[str] = []
    while node is not None and len(out) < 8:
        out.append(node.type)
        node = node.parent
    return out
