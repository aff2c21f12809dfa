"""Syntax trees for the languages kenetic understands.

Capture records the smallest named node around each edit, and skill mining works over trees, so
both need one place that maps an LSP language id to a tree-sitter grammar. Grammars come from the
per-language PyPI packages (compiled wheels); a missing or broken grammar makes that language
text-only instead of failing the caller.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tree_sitter import Node, Parser, Tree

log = logging.getLogger(__name__)

# grammar key -> (python module, function returning the language pointer)
_GRAMMARS: dict[str, tuple[str, str]] = {
    "python": ("tree_sitter_python", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "go": ("tree_sitter_go", "language"),
    "rust": ("tree_sitter_rust", "language"),
    "java": ("tree_sitter_java", "language"),
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
    "lua": ("tree_sitter_lua", "language"),
    "ruby": ("tree_sitter_ruby", "language"),
}

# LSP language identifiers (and common editor filetypes) -> grammar key
_LANGUAGE_IDS: dict[str, str] = {
    "python": "python",
    "javascript": "javascript",
    "javascriptreact": "javascript",
    "jsx": "javascript",
    "typescript": "typescript",
    "typescriptreact": "tsx",
    "tsx": "tsx",
    "go": "go",
    "rust": "rust",
    "java": "java",
    "c": "c",
    "cpp": "cpp",
    "cuda-cpp": "cpp",
    "lua": "lua",
    "ruby": "ruby",
}

_EXTENSIONS: dict[str, str] = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".cxx": "cpp",
    ".hpp": "cpp",
    ".hh": "cpp",
    ".lua": "lua",
    ".rb": "ruby",
}


def grammar_for(language_id: str | None, path: str | None = None) -> str | None:
    """The grammar key for an LSP language id, falling back to the file extension."""
    if language_id:
        key = _LANGUAGE_IDS.get(language_id.lower())
        if key:
            return key
    if path:
        dot = path.rfind(".")
        if dot != -1:
            return _EXTENSIONS.get(path[dot:].lower())
    return None


def grammars() -> list[str]:
    """Every grammar key kenetic knows (whether or not it loads)."""
    return list(_GRAMMARS)


@cache
def _language(key: str):  # -> tree_sitter.Language | None
    spec = _GRAMMARS.get(key)
    if spec is None:
        return None
    try:
        from tree_sitter import Language

        module = importlib.import_module(spec[0])
        return Language(getattr(module, spec[1])())
    except Exception as exc:  # a broken wheel must not take capture down
        log.warning("grammar %s unavailable: %s", key, exc)
        return None


@cache
def _types_query(key: str, types: tuple[str, ...]):  # -> tree_sitter.Query | None
    language = _language(key)
    if language is None:
        return None
    from tree_sitter import Query

    # a type this grammar does not have (a skill stored by another grammar version) is skipped
    known = [t for t in types if language.id_for_node_kind(t, True) is not None]
    if not known:
        return None
    return Query(language, "[" + " ".join(f"({t})" for t in known) + "] @n")


def nodes_of_types(key: str, node: Node, types: Iterable[str]) -> list[Node]:
    """Every node of the given named types under node, found by a tree-sitter query (in C, so a
    whole file costs about a millisecond), in no particular order (sorting thousands of nodes
    by position costs more than the query: callers order what they keep)."""
    query = _types_query(key, tuple(sorted(set(types))))
    if query is None:
        return []
    from tree_sitter import QueryCursor

    return list(QueryCursor(query).captures(node).get("n", []))


def parser_for(key: str) -> Parser | None:
    """A new parser for a grammar key, or None when the grammar is missing."""
    language = _language(key)
    if language is None:
        return None
    from tree_sitter import Parser

    return Parser(language)


def grammar_versions() -> dict[str, str | None]:
    """Installed grammar package versions; None where a grammar does not load."""
    out: dict[str, str | None] = {}
    for key, (module, _) in _GRAMMARS.items():
        if _language(key) is None:
            out[key] = None
            continue
        try:
            out[key] = version(module.replace("_", "-"))
        except PackageNotFoundError:
            out[key] = "unknown"
    return out


def parse(key: str, text: str, old_tree: Tree | None = None) -> Tree | None:
    """Parse text with a grammar; an edited old_tree makes the reparse incremental."""
    parser = parser_for(key)
    if parser is None:
        return None
    data = text.encode("utf-8", "surrogatepass")
    return parser.parse(data, old_tree) if old_tree is not None else parser.parse(data)


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """A syntax node described without tree-sitter objects, ready to store."""

    type: str
    start_line: int
    start_col: int  # in bytes of the line, as tree-sitter counts
    end_line: int
    end_col: int
    text: str


def byte_offset(text: str, line: int, col_chars: int = 0) -> int:
    """Byte offset (UTF-8) of a line and a character column in text."""
    pos = 0
    for _ in range(line):
        nl = text.find("\n", pos)
        if nl == -1:
            pos = len(text)
            break
        pos = nl + 1
    end = min(pos + col_chars, len(text))
    return len(text[:end].encode("utf-8", "surrogatepass"))


def enclosing_named_node(tree: Tree, start_byte: int, end_byte: int) -> Node | None:
    """The smallest named node that covers the byte range [start_byte, end_byte)."""
    root = tree.root_node
    if end_byte < start_byte:
        start_byte, end_byte = end_byte, start_byte
    if end_byte == start_byte and start_byte > 0:
        # an insertion point belongs to the token it extends, not to whatever follows it
        start_byte -= 1
    # tree-sitter's lookup treats the end as inclusive of the last byte
    node = root.named_descendant_for_byte_range(start_byte, max(start_byte, end_byte - 1))
    if node is None:
        return root
    # a range that only touches a node's edge should climb to what really contains it
    while node.parent is not None and not (
        node.start_byte <= start_byte and node.end_byte >= end_byte
    ):
        node = node.parent
    return node


def node_info(node: Node) -> NodeInfo:
    text = node.text.decode("utf-8", "replace") if node.text is not None else ""
    return NodeInfo(
        type=node.type,
        start_line=node.start_point[0],
        start_col=node.start_point[1],
        end_line=node.end_point[0],
        end_col=node.end_point[1],
        text=text,
    )


def has_error(tree: Tree | None) -> bool:
    return tree is not None and tree.root_node.has_error
