"""Applying a skill's rewrite to a document, and checking that the result still parses.

The parse check runs on every site a lookup finds, so it must not cost a whole-file parse: on a
five-thousand-line file even tree-sitter's incremental reparse takes 15-25 ms (Python's
indentation scanner keeps little of the old tree). A rewrite inside one top-level item (a
definition, a statement at column 0) can only break that item, so only the item's new text is
parsed on its own; rewrites across items, or in documents that had errors already, fall back to
reparsing the whole document.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from memory.syntax import parser_for

if TYPE_CHECKING:
    from tree_sitter import Tree

MAX_REGION = 256 * 1024  # a larger top-level item is reparsed incrementally with the file


def _offset(text: str, line: int, char: int) -> int:
    pos = 0
    for _ in range(line):
        nl = text.find("\n", pos)
        if nl == -1:
            return len(text)
        pos = nl + 1
    return pos + char


def apply_match(text: str, match: Any) -> str:
    """The document with one rewrite (a memory.matching.Match) applied."""
    s = _offset(text, match.start_line, match.start_char)
    e = _offset(text, match.end_line, match.end_char)
    return text[:s] + match.new_text + text[e:]


def byte_offset(data: bytes, line: int, char: int, hint: tuple[int, int] = (0, 0)) -> int:
    """Byte offset of (line, code-point column), scanning from a known (line, line start)."""
    at_line, pos = hint
    while at_line > line:
        pos = data.rfind(b"\n", 0, max(0, pos - 1)) + 1
        at_line -= 1
    while at_line < line:
        nl = data.find(b"\n", pos)
        if nl == -1:
            return len(data)
        pos, at_line = nl + 1, at_line + 1
    nl = data.find(b"\n", pos)
    row = data[pos : len(data) if nl == -1 else nl].decode("utf-8", "surrogatepass")
    return pos + len(row[:char].encode("utf-8", "surrogatepass"))


def rewrite_parses(language: str, text: str, match: Any, *, tree: Tree | None = None) -> bool:
    """False when the rewrite leaves a syntax error where the original text had none."""
    data = text.encode("utf-8", "surrogatepass")
    start = byte_offset(data, match.start_line, match.start_char)
    end = start + len(match.old_text.encode("utf-8", "surrogatepass"))
    return parses(language, data, start, end, match.new_text.encode("utf-8", "surrogatepass"), tree)


def parses(
    language: str, old: bytes, start: int, end: int, piece: bytes, tree: Tree | None
) -> bool:
    """Whether old with [start, end) replaced by piece parses as well as old did."""
    parser = parser_for(language)
    if parser is None:
        return True
    if tree is None:
        tree = parser.parse(old)
    root = tree.root_node
    if not root.has_error:
        item = root.descendant_for_byte_range(start, max(start, end - 1))
        while item is not None and item.parent is not None and item.parent.id != root.id:
            item = item.parent
        if (
            item is not None
            and item.id != root.id
            and item.start_point[1] == 0
            and item.start_byte <= start
            and end <= item.end_byte
            and item.end_byte - item.start_byte <= MAX_REGION
        ):
            region = old[item.start_byte : start] + piece + old[end : item.end_byte]
            return not parser.parse(region).root_node.has_error
    return _parses_whole(parser, old, start, end, piece, tree)


def _parses_whole(parser: Any, old: bytes, start: int, end: int, piece: bytes, tree: Tree) -> bool:
    new = old[:start] + piece + old[end:]
    base = None
    if tree.root_node.has_error:
        base = tree.root_node.descendant_for_byte_range(start, max(start, end - 1))
    edited = tree.copy()  # never edit the caller's tree: it is cached per document version
    new_end = start + len(piece)
    edited.edit(
        start_byte=start,
        old_end_byte=end,
        new_end_byte=new_end,
        start_point=_point(old, start),
        old_end_point=_point(old, end),
        new_end_point=_point(new, new_end),
    )
    fresh = parser.parse(new, edited)
    if not fresh.root_node.has_error:
        return True
    if base is None:
        return False
    # the document had errors already: judge only the neighbourhood of the rewrite
    near = fresh.root_node.descendant_for_byte_range(start, max(start, new_end - 1))
    return near is None or not near.has_error or base.has_error


def _point(data: bytes, pos: int) -> tuple[int, int]:
    line = data.count(b"\n", 0, pos)
    return line, pos - (data.rfind(b"\n", 0, pos) + 1)
