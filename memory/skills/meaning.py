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

from typing import TYPE_CHECKING

from memory.skills.syn import Syn
from memory.skills.syntax import nodes_of_types

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


def _value(typ: str, key: str) -> bool:
    """A child of a return statement that is a value: named (an anonymous token's type is its
    text) and not `None`, `null`, `undefined`, `nil` or a comment."""
    return typ != key and typ not in _NO_VALUE


def syn_returns_value(s: Syn) -> bool:
    """Does the function this stored tree is return a value (or yield)?"""
    stack = list(s.children)
    while stack:
        c = stack.pop()
        if c.type in FUNCTIONS:
            continue  # a nested function's returns are its own
        if c.type in _YIELDS:
            return True
        # `return x`, not a bare `return` (its only child is the keyword: type and key alike)
        if c.type in _RETURNS and any(
            k.type != k.key and k.type not in _NO_VALUE for k in c.children
        ):
            return True
        stack.extend(c.children)
    return False


def node_returns_value(node: Node, language: str) -> bool:
    """Does the function this live node is return a value (or yield)? The returns and yields are
    found by one tree-sitter query (in C), not a walk in Python, which cost milliseconds on a
    long function at every site of a skill."""
    for found in nodes_of_types(language, node, _RETURNS | _YIELDS):
        up = found.parent
        while up is not None and up.type not in FUNCTIONS:
            up = up.parent
        if up is None or up.id != node.id:
            continue  # a nested function's
        if found.type in _YIELDS:
            return True
        if any(_value(c.type, c.type if not c.is_named else "") for c in found.children):
            return True
    return False


def returns_guard(first: Syn, second: Syn) -> bool | None:
    """Whether both examples' sites, functions, return a value; None when they are not
    functions or do not agree."""
    if first.type not in FUNCTIONS or second.type != first.type:
        return None
    a, b = syn_returns_value(first), syn_returns_value(second)
    return a if a == b else None
