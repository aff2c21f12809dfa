"""Small text transforms that derive a new word from a word the site already has.

Anti-unification can only carry text across unchanged: an after-hole must be bound by the
before-template. Many real edits instead make a new word from an old one: `setUp -> setup`,
`walk_modules -> walk_modules_iter`, `'x' -> b'x'`, or `# type: (X) -> None -> : X`, where the
new text is one token cut out of a comment. A derived hole is an after-hole whose text is a
transform of a before-hole's text; mining keeps one only when every example agrees on the same
transform with the same arguments, so two examples are needed and a one-off rename is not learned.

Transforms are JSON lists so they serialise with the skill:
  ["case", "lower" | "upper" | "capitalize" | "uncapitalize", joined?]
                                         joined (when the examples agree): whether the word
                                         must be one run of letters (`setUp`) or have
                                         underscores (`test_2D`), as theirs had
  ["affix", prefix, suffix]              prefix + x + suffix
  ["replace", old, new]                  x with its one occurrence of old replaced by new
  ["tokens", i, j]                       source text from word/punctuation token i to token j
                                         (a negative index counts from the end)
  ["slot", head, tail]                   the word between head and tail, when the source text
                                         is exactly head + word + tail: the example's comment
                                         with one word left open, so the rest is still checked;
                                         or a name with an affix taken off (`_rows` -> `rows`)
  ["rename", old, new]                   x with every use of the name old made new: a parameter
                                         renamed with its uses in the body (any length of code)
  ["line", old, new]                     x with its one line that reads old (indentation aside)
                                         made to read new: the same line of a docstring or a
                                         comment block changed in each (`nan` -> `np.float64(nan)`)
  ["words", old, new]                    x with every whole-word occurrence of the words old made
                                         new: the same words changed in two strings or comments
                                         (`can be ran against` -> `run`), old holding as much of
                                         the words around the change as every example shared
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tree_sitter import Node, Tree

Transform = list[Any]

# identifiers, numbers and runs of other non-space characters: sub-token units inside a
# comment or string, so one word of a type comment can become a hole of its own
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z_0-9]*|[0-9][0-9A-Za-z_.]*|->|[^\sA-Za-z_0-9]")
_CASES: dict[str, Callable[[str], str]] = {
    "lower": str.lower,
    "upper": str.upper,
    "capitalize": lambda x: x[:1].upper() + x[1:],
    "uncapitalize": lambda x: x[:1].lower() + x[1:],
}
_WORD = re.compile(r"[A-Za-z_][A-Za-z_0-9.]*")
MAX_TEXT = 200  # longer hole texts are code, not words: never transformed

# a name, or a one-line string, which no rename reaches (but an f-string's braces hold code);
# comments are renamed with the code: they talk about the name
_NAME = re.compile(
    r"""(?<![fF])("(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')|([A-Za-z_][A-Za-z_0-9]*)"""
)


def code_names(x: str) -> set[str]:
    """The names x's code uses: a word inside a string is data (`"user:pass@httpbin.org"` is
    no use of a parameter `httpbin`)."""
    return {m.group(2) for m in _NAME.finditer(x) if m.group(2) is not None}


def used_outside(
    text: str, name: str, first: int = -1, last: int = -1, tree: Tree | None = None
) -> bool:
    """Does the code of text (a whole file) use name on a line outside first..last? Only the
    lines that spell it are read, and the first use found answers, so a long file is cheap.
    With text's parse tree, a spelling inside a comment or a string (a docstring's "log to
    ``sys.stderr``") is no use, as a linter counts an import unused; without one, a line's
    one-line strings are data and the rest is code."""
    line, at = 0, 0
    for m in re.finditer(r"(?<![\w])" + re.escape(name) + r"(?![\w])", text):
        line += text.count("\n", at, m.start())  # counted on from the last one: one pass
        at = m.start()
        if first <= line <= last:
            continue
        if tree is not None:
            if _in_code(tree, text, m.start(), m.end()):
                return True
            continue
        start = text.rfind("\n", 0, m.start()) + 1
        end = text.find("\n", m.end())
        if name in code_names(text[start : len(text) if end == -1 else end]):
            return True
    return False


def _in_code(tree: Tree, text: str, start: int, end: int) -> bool:
    """The characters start..end of text are code in its tree: not in a comment or a string."""
    b = len(text[:start].encode("utf-8", "surrogatepass"))
    e = b + len(text[start:end].encode("utf-8", "surrogatepass"))
    node: Node | None = tree.root_node.descendant_for_byte_range(b, e)
    # an interpolation inside an f-string or template string is code again
    while node is not None and not node.type.startswith(("interpolation", "template_subst")):
        if "comment" in node.type or "string" in node.type:
            return False
        node = node.parent
    return True


def uses_name(x: str, name: str) -> bool:
    """Does x's code use name (see code_names)? Cheap when x does not spell it at all."""
    return name in x and name in code_names(x)


def _names(x: str) -> list[str]:
    """x cut into [code, name, code, name, ..., code]; strings stay in the code."""
    out, at = [], 0
    for m in _NAME.finditer(x):
        if m.group(2) is not None:
            out += [x[at : m.start()], m.group(2)]
            at = m.end()
    return [*out, x[at:]]


# transforms that check more of the source than the word they take: the rest of a comment
# (`slot`), the line of a docstring (`line`)
CHECKING = ("slot", "line", "words")


def required_text(t: Transform) -> str | None:
    """Text the source must hold for t to apply at all (a docstring's line), or None."""
    return t[1] if t[0] in ("line", "words") else None


def tokens(text: str) -> list[tuple[int, int]]:
    """(start, end) of every sub-token of text."""
    return [m.span() for m in _TOKEN.finditer(text)]


def apply(t: Transform, x: str) -> str | None:
    """The transformed text, or None when the transform does not apply to x."""
    op = t[0]
    if op == "case":
        f = _CASES.get(t[1])
        if len(t) > 2 and ("_" not in x) != t[2]:
            return None  # `setUp` -> `setup` says nothing about `test_2D`
        return None if f is None else f(x)
    if op == "affix":
        if x.startswith(t[1]) and x.endswith(t[2]):
            return None  # already has the affix: rewriting `b'x'` again to `bb'x'` is no rule
        return f"{t[1]}{x}{t[2]}"
    if op == "replace":
        if x.count(t[1]) != 1:
            return None  # ambiguous or absent: the examples each had exactly one
        return x.replace(t[1], t[2])
    if op == "slot":
        head, tail = t[1], t[2]
        if len(x) <= len(head) + len(tail) or not (x.startswith(head) and x.endswith(tail)):
            return None
        word = x[len(head) : len(x) - len(tail)]
        return word if _WORD.fullmatch(word) else None
    if op == "rename":
        parts = _names(x)
        return "".join(t[2] if k % 2 and p == t[1] else p for k, p in enumerate(parts))
    if op == "line":
        lines = x.split("\n")
        hits = [k for k, line in enumerate(lines) if line.strip() == t[1]]
        if len(hits) != 1:
            return None  # absent, or ambiguous: each example had exactly one
        line = lines[hits[0]]
        lines[hits[0]] = line[: len(line) - len(line.lstrip())] + t[2]
        return "\n".join(lines)
    if op == "words":
        found = _occurrences(t[1]).split(x)
        if len(found) < 2:
            return None
        return t[2].join(found)
    if op == "tokens":
        toks = tokens(x)
        n = len(toks)
        i, j = t[1] + (n if t[1] < 0 else 0), t[2] + (n if t[2] < 0 else 0)
        if not 0 <= i <= j < n:
            return None
        return x[toks[i][0] : toks[j][1]]
    return None


def common_ends(x: str, y: str) -> tuple[int, int]:
    """Lengths of the common prefix and the common suffix of x and y (never overlapping)."""
    p = 0
    while p < len(x) and p < len(y) and x[p] == y[p]:
        p += 1
    s = 0
    while s < len(x) - p and s < len(y) - p and x[-1 - s] == y[-1 - s]:
        s += 1
    return p, s


def _candidates(x: str, y: str) -> Iterator[Transform]:
    """Transforms that turn x into y, simplest first."""
    for name, f in _CASES.items():
        if f(x) == y:
            yield ["case", name]
    if x:
        at = y.find(x)
        while at != -1:
            yield ["affix", y[:at], y[at + len(x) :]]
            at = y.find(x, at + 1)
    # one changed span inside the word: common prefix and suffix of x and y
    p, s = common_ends(x, y)
    old, new = x[p : len(x) - s], y[p : len(y) - s]
    # one word for another, never a phrase: a phrase swap is a different shape, not a rename
    # (and inside it: swapping the whole word is a constant, not a transform of the site's word)
    if old and old != x and not any(c.isspace() for c in old + new):
        yield ["replace", old, new]
    # the name with an affix taken off, the inverse of "affix" (`_ordered_rows` ->
    # `ordered_rows`, `get_items_list` -> `get_items`): "replace" cannot say it when the affix
    # also occurs inside the name
    if y and y != x and _WORD.fullmatch(y) and _WORD.fullmatch(x):
        at = x.find(y)
        while at != -1:
            yield ["slot", x[:at], x[at + len(y) :]]
            at = x.find(y, at + 1)
    toks = tokens(x)
    n = len(toks)
    for a, b in toks:
        if x[a:b] == y and _WORD.fullmatch(y):
            yield ["slot", x[:a], x[b:]]
    if n > 1:
        for i, (a, _) in enumerate(toks):
            for j in range(i, n):
                if x[a : toks[j][1]] == y:
                    # both ends from the start and from the end: the examples pick one
                    for ii in (i, i - n):
                        for jj in (j, j - n):
                            yield ["tokens", ii, jj]


def _renamed(x: str, y: str) -> Transform | None:
    """["rename", old, new] when y is x with every use of one name changed, else None."""
    xs, ys = _names(x), _names(y)
    if len(xs) != len(ys):
        return None
    found: set[tuple[str, str]] = set()
    for k, (a, b) in enumerate(zip(xs, ys, strict=True)):
        if a != b:
            if k % 2 == 0:
                return None  # the code between names differs: not a rename
            found.add((a, b))
    if len(found) != 1:
        return None
    ((old, new),) = found
    if new in xs[1::2]:
        return None  # the new name was there already: the examples merged two names
    return ["rename", old, new]


def _occurrences(old: str) -> re.Pattern[str]:
    """old as whole words: not inside a longer word at either end."""
    head = r"(?<![\w])" if _word_char(old[:1]) else ""
    tail = r"(?![\w])" if _word_char(old[-1:]) else ""
    return re.compile(head + re.escape(old) + tail)


WORDS_CONTEXT = 40  # characters of shared words kept each side of the change, at most


def _word_change(x: str, y: str) -> tuple[str, str, str, str] | None:
    """(text before, old words, new words, text after) when y is x with one run of whole words
    changed on one line, else None."""
    p, s = common_ends(x, y)
    while p > 0 and (x[p - 1].isalnum() or x[p - 1] == "_"):
        p -= 1  # the changed span grows to whole words
    while s > 0 and (x[len(x) - s].isalnum() or x[len(x) - s] == "_"):
        s -= 1
    old, new = x[p : len(x) - s], y[p : len(y) - s]
    if not old.strip() or "\n" in old + new or not any(c.isalnum() for c in old + new):
        return None
    return x[:p], old, new, x[len(x) - s :]


def _word_char(c: str) -> bool:
    return bool(c) and (c.isalnum() or c == "_")


def _words_changed(pairs: list[tuple[str, str]]) -> Transform | None:
    """["words", old, new] when every pair changes the same words, old taking in the words
    around the change that every example shares (on the change's line)."""
    changes = [_word_change(x, y) for x, y in pairs]
    if any(c is None for c in changes):
        return None
    found = [c for c in changes if c is not None]
    if len({(c[1], c[2]) for c in found}) != 1:
        return None
    left = min((c[0].split("\n")[-1][-WORDS_CONTEXT:] for c in found), key=len)
    while left and not all(c[0].endswith(left) for c in found):
        left = left[1:]
    right = min((c[3].split("\n")[0][:WORDS_CONTEXT] for c in found), key=len)
    while right and not all(c[3].startswith(right) for c in found):
        right = right[:-1]

    # shared context starts and ends on a word's edge: `be ran against`, not `e ran agai`
    def cut(c: tuple[str, str, str, str]) -> bool:
        before = c[0][: len(c[0]) - len(left)]
        return bool(left) and _word_char(left[0]) and _word_char(before[-1:])

    while any(cut(c) for c in found):
        left = left[1:]

    def cut_right(c: tuple[str, str, str, str]) -> bool:
        after = c[3][len(right) :]
        return bool(right) and _word_char(right[-1]) and _word_char(after[:1])

    while any(cut_right(c) for c in found):
        right = right[:-1]
    _, old, new, _ = found[0]
    return ["words", left + old + right, left + new + right]


def _line_changed(x: str, y: str) -> Transform | None:
    """["line", old, new] when y is x with one line changed in place, else None."""
    xs, ys = x.split("\n"), y.split("\n")
    if len(xs) != len(ys):
        return None
    changed = [k for k, (a, b) in enumerate(zip(xs, ys, strict=True)) if a != b]
    if len(changed) != 1:
        return None
    a, b = xs[changed[0]], ys[changed[0]]
    if not a.strip() or a[: len(a) - len(a.lstrip())] != b[: len(b) - len(b.lstrip())]:
        return None
    return ["line", a.strip(), b.strip()]


# node types whose text is prose, where words may change inside it (strings, comments)
PROSE = ("string_content", "string_fragment", "comment", "line_comment", "block_comment")


def is_prose(node_type: str | None) -> bool:
    return node_type is not None and node_type.endswith(PROSE)


def find(pairs: list[tuple[str, str]], *, prose: bool = False) -> Transform | None:
    """One transform taking every x to its y, found from the first pair and checked on the rest;
    None when they disagree. Identity is not a transform: the caller binds such holes directly.
    prose: the texts are strings or comments, where the same words may change in each."""
    if len(pairs) < 2 or any(x == y for x, y in pairs):
        return None
    if any(len(x) > MAX_TEXT or "\n" in x or "\n" in y for x, y in pairs):
        # code or prose, not a word: only a rename (a parameter and its uses) or one changed line
        # (of a docstring) carries across it
        words = _words_changed(pairs) if prose else None
        for t in (_renamed(*pairs[0]), _line_changed(*pairs[0]), words):
            if t is not None and all(apply(t, x) == y for x, y in pairs):
                return t
        return None
    x0, y0 = pairs[0]
    for t in _candidates(x0, y0):
        if all(apply(t, x) == y for x, y in pairs[1:]):
            joined = {"_" not in x for x, _ in pairs}
            return [*t, joined.pop()] if t[0] == "case" and len(joined) == 1 else t
    words = _words_changed(pairs) if prose else None
    if words is not None and all(apply(words, x) == y for x, y in pairs):
        return words  # prose (a string, a comment): the same words changed in each
    return None


def describe(t: Transform, name: str) -> str:
    """Readable form for skill cards: `lower($h0)`, `$h0 + "_iter"`."""
    op = t[0]
    if op == "case":
        return f"{t[1]}({name})"
    if op == "affix":
        return "".join([f"{t[1]!r} + " if t[1] else "", name, f" + {t[2]!r}" if t[2] else ""])
    if op == "replace":
        return f"{name}.replace({t[1]!r}, {t[2]!r})"
    if op == "slot":
        return f"word of {name} at {t[1] + '…' + t[2]!r}"
    if op == "rename":
        return f"{name} with {t[1]} renamed {t[2]}"
    if op == "line":
        return f"{name} with its line {t[1]!r} made {t[2]!r}"
    if op == "words":
        return f"{name} with {t[1]!r} made {t[2]!r}"
    return f"{name}[{t[1]}:{t[2]}]"
