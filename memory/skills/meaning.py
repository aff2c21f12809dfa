"""Guards about meaning: what a rewrite of a whole function may depend on beyond its text.

Two examples that add `-> None` to `def f(self):` say it of functions that return nothing; the
template alone (`def $h0($h1): $h2`) would offer it at a method that returns a value, where it is
wrong. So when a skill's site is a function and both examples agree on whether it returns a
value (a `return` with a value, or a `yield`, outside nested functions), the skill keeps that
(before_template["returns"]), each match of it says whether its function does
(Match.returns), and the site model weighs a site that differs (feature `returns_differs`)
against everything else it knows, as it was trained to; a code action at the cursor still
offers it. A hard rule would be wrong where the edit is not about returning: type comments
moved into annotations at two functions that return are right at an abstract one that raises.
The same question is asked of stored trees (mining) and of live nodes (matching), in every
language with a grammar: a value is any named child of a return statement.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from memory.skills.syntax import nodes_of_types
from memory.skills.templates import Syn

if TYPE_CHECKING:
    from tree_sitter import Node

# definitions of functions and methods across the grammars (Python, JS/TS, Go, Rust, Java)
FUNCTIONS = frozenset(
    {
        "function_definition",
        "function_declaration",
        "function_expression",
        "generator_function_declaration",
        "method_definition",
        "method_declaration",
        "arrow_function",
        "function_item",
        "func_literal",
        "constructor_declaration",
    }
)
_RETURNS = frozenset({"return_statement", "return_expression"})
_YIELDS = frozenset({"yield", "yield_expression"})
# what a return may carry that is no value (`return None` returns what a bare `return` does),
# and what sits in a return statement beside the value
_NO_VALUE = frozenset({"none", "null", "undefined", "nil", "comment"})


def _value_in(kids: Iterable[tuple[str, str, Iterable]]) -> bool:
    """Depth first over (type, key, children) triples, below one function."""
    stack = list(kids)
    while stack:
        typ, key, children = stack.pop()
        if typ in FUNCTIONS:
            continue  # a nested function's returns are its own
        if typ in _YIELDS:
            return True
        kids_here = list(children)
        if typ in _RETURNS and any(t != k and t not in _NO_VALUE for t, k, _ in kids_here):
            return True  # `return x`, not a bare `return` (its only child is the keyword)
        stack.extend(kids_here)
    return False


def _syn_triples(s: Syn) -> Iterable[tuple[str, str, Iterable]]:
    return ((c.type, c.key, _syn_triples(c)) for c in s.children)


def _node_triples(node: Node) -> Iterable[tuple[str, str, Iterable]]:
    # an anonymous token's type is its text, as a stored tree's key is (`return`, `;`)
    return ((c.type, c.type if not c.is_named else "", _node_triples(c)) for c in node.children)


def syn_returns_value(s: Syn) -> bool:
    """Does the function this stored tree is return a value (or yield)?"""
    return _value_in(_syn_triples(s))


def node_returns_value(node: Node, language: str | None = None) -> bool:
    """Does the function this live node is return a value (or yield)? With the grammar key, the
    returns and yields are found by one tree-sitter query (in C) instead of a walk in Python,
    which cost milliseconds on a long function at every site of a skill."""
    if language is None:
        return _value_in(_node_triples(node))
    for found in nodes_of_types(language, node, _RETURNS | _YIELDS):
        up = found.parent
        while up is not None and up.type not in FUNCTIONS:
            up = up.parent
        if up is None or up.id != node.id:
            continue  # a nested function's
        if found.type in _YIELDS:
            return True
        if any(c.is_named and c.type not in _NO_VALUE for c in found.children):
            return True
    return False


def returns_guard(first: Syn, second: Syn) -> bool | None:
    """Whether both examples' sites, functions, return a value; None when they are not
    functions or do not agree."""
    if first.type not in FUNCTIONS or second.type != first.type:
        return None
    a, b = syn_returns_value(first), syn_returns_value(second)
    return a if a == b else None
