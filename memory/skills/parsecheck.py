"""Checking that a rewrite leaves code that parses, at every site a lookup finds.

It must not cost a whole-file parse: on a five-thousand-line file even tree-sitter's incremental
reparse takes 15-25 ms (Python's indentation scanner keeps little of the old tree). The smallest
statement around the change that begins its own line is taken out of the file (its indentation
removed) and parsed with and without the change; failing that, a rewrite inside one top-level
item (a definition, a statement at column 0) can only break that item, so only the item's new
text is parsed; rewrites across items, or in documents that had errors already, fall back to
reparsing the whole document.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from memory.skills.rewrites import byte_offset
from memory.skills.syntax import parser_for
from memory.skills.templates import is_block

if TYPE_CHECKING:
    from tree_sitter import Node, Tree


# a larger top-level item (a test class that is the whole file) is reparsed incrementally with the
# file instead: that reuses every untouched subtree (0.6 ms for a 40 KB file) where parsing the
# item anew costs 5 ms, once per site found
MAX_REGION = 8 * 1024


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
        alone = _statement_alone(language, old, item, start, end, piece)
        if alone is not None:
            return alone
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


def _statement_alone(
    language: str, old: bytes, node: Node | None, start: int, end: int, piece: bytes
) -> bool | None:
    """Whether the smallest statement around the change, one that begins its own line in a body,
    parses with the change as it did without, each taken out of the file with its indentation
    removed; None when there is no such statement, or it does not parse alone. A statement in a
    long class or function is a few hundred bytes, where the top-level item is all of them."""
    while node is not None and node.parent is not None:
        parent = node.parent
        if (
            (is_block(parent.type) or parent.parent is None)
            and node.start_byte <= start
            and (end <= node.end_byte)
        ):
            head = old[old.rfind(b"\n", 0, node.start_byte) + 1 : node.start_byte]
            if head.strip() or node.end_byte - node.start_byte > MAX_REGION:
                return None
            before = _dedent(old[node.start_byte : node.end_byte], head)
            if not _stands_alone(language, before):
                return None  # not a statement that stands alone (an `else:` part)
            after = old[node.start_byte : start] + piece + old[end : node.end_byte]
            return _stands_alone(language, _dedent(after, head))
        node = parent
    return None


@lru_cache(maxsize=2048)
def _stands_alone(language: str, statement: bytes) -> bool:
    """Whether a statement's text parses with no error, remembered: the sites of one skill are
    often the same statement (`print(a)` at twenty places), and nextEdits asks again after every
    edit of the developer's."""
    parser = parser_for(language)
    return parser is None or not parser.parse(statement).root_node.has_error


def _dedent(text: bytes, indent: bytes) -> bytes:
    """text (its first line already at column 0) with indent taken off the lines that have it."""
    if not indent:
        return text
    lines = text.split(b"\n")
    return b"\n".join(
        [
            lines[0],
            *(line[len(indent) :] if line.startswith(indent) else line for line in lines[1:]),
        ]
    )


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
