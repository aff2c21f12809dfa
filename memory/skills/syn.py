"""Syntax trees as plain data (`Syn`), cut from live tree-sitter trees.

Skills are mined from stored episodes long after the documents they came from have changed, so
edits keep their trees as plain nested lists rather than tree-sitter objects. A node's key is its
whitespace-insensitive token text: equal keys mean equal code, for stored trees (Syn.key) and
live ones (node_key) alike. Templates over these trees are memory.skills.templates.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tree_sitter import Node


@dataclass(slots=True)
class Syn:
    """A syntax node as plain data; offsets are characters into the text it was cut from."""

    type: str
    start: int
    end: int
    children: list[Syn] = field(default_factory=list)
    key: str = ""  # whitespace-insensitive token text: equal keys mean equal code

    def to_json(self) -> list[Any]:
        return [self.type, self.start, self.end, [c.to_json() for c in self.children], self.key]

    @classmethod
    def from_json(cls, d: list[Any]) -> Syn:
        return cls(d[0], d[1], d[2], [cls.from_json(c) for c in d[3]], d[4])


def is_atomic(node: Node, data: bytes) -> bool:
    """Leaves, and nodes whose children leave real text between them (string contents)."""
    if node.child_count == 0:
        return True
    pos = node.start_byte
    for child in node.children:
        if data[pos : child.start_byte].strip():
            return True
        pos = child.end_byte
    return bool(data[pos : node.end_byte].strip())


def leaf_key(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


# node keys already computed in the current search of one text (see keys_remembered): a search
# binds the same subtrees again and again (each skill tried at a node, the after-template
# checked where the before-template matched, a parent's key made of its children's)
_known_keys: ContextVar[dict[tuple[int, int, int], str] | None] = ContextVar(
    "known_keys", default=None
)


@contextmanager
def keys_remembered() -> Iterator[None]:
    """Within the block, node_key remembers what it computed (per thread: a ContextVar). Use it
    around a search of one text only: keys are by position, not by text."""
    token = _known_keys.set({})
    try:
        yield
    finally:
        _known_keys.reset(token)


def node_key(node: Node, data: bytes) -> str:
    """Token text of a live node, comparable with Syn.key."""
    known = _known_keys.get()
    if known is not None:
        at = (node.start_byte, node.end_byte, node.kind_id)
        key = known.get(at)
        if key is None:
            key = known[at] = _node_key(node, data)
        return key
    return _node_key(node, data)


def _node_key(node: Node, data: bytes) -> str:
    if is_atomic(node, data):
        return leaf_key(data[node.start_byte : node.end_byte])
    return " ".join(node_key(c, data) for c in node.children)


def to_syn(node: Node, data: bytes, base: int, chars: list[int] | None) -> Syn:
    """Convert a tree-sitter node; offsets become characters relative to byte offset `base`."""

    def off(b: int) -> int:
        return b - base if chars is None else chars[b - base]

    if is_atomic(node, data):
        raw = data[node.start_byte : node.end_byte]
        return Syn(node.type, off(node.start_byte), off(node.end_byte), [], leaf_key(raw))
    kids = [to_syn(c, data, base, chars) for c in node.children]
    key = " ".join(k.key for k in kids)
    return Syn(node.type, off(node.start_byte), off(node.end_byte), kids, key)


def char_map(raw: bytes) -> list[int] | None:
    """Byte offset -> character offset for raw, or None when the text is ASCII."""
    if raw.isascii():
        return None
    out = [0] * (len(raw) + 1)
    n = 0
    for i, b in enumerate(raw):
        out[i] = n
        if b & 0xC0 != 0x80:
            n += 1
    # a continuation byte belongs to the character that started before it
    for i, b in enumerate(raw):
        if b & 0xC0 == 0x80:
            out[i] = out[i - 1]
    out[len(raw)] = n
    return out
