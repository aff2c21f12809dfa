"""A rewritten Python line longer than the file allows is split as the formatter would split it.

Projects formatted by black or ruff never keep a line past their limit: a rewrite that lengthens
`def test_x(script, data, tmpdir):` past it is wrapped by the developer's formatter on save, and
a suggestion already laid out that way is the text they would have ended with. The limit is not
written in the file, so the file's own lines stand for it: a line is split only when the rewrite
made it longer than every line of the file the formatter could have split (a comment or a lone
long string it could not), than PEP 8's 79 columns and than a line the file's formatter did
split, and only in a file that shows the formatter's hand: two or more lines already split
that way.

The split is black's first choice, its right-hand split: the head up to the last bracket pair's
opening bracket, the contents one level deeper on one line, then the closing bracket and what
follows at the line's own indentation. Lines black would split otherwise (contents too long for
one line, a magic trailing comma, a comment, something after the bracket) are left as they are.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from memory.skills.rewrites import Match

PEP8 = 79
INDENT = "    "
_PAIRS = {")": "(", "]": "[", "}": "{"}
# what may follow the last closing bracket: a return annotation, a colon or a comma
_TAIL = re.compile(r"[)\]}](\s*->\s*[\w.]+)?\s*[:,]?")
# a closing bracket alone on its line, after the contents one level deeper: `):`, `) -> X:`
_CLOSER = re.compile(rb"^([ \t]*)[)\]}](\s*->\s*[\w.]+)?\s*[:,]?\s*$", re.M)


def wrap_long_lines(
    matches: list[Match], language: str, lines: list[str], limit_of_file: Callable[[], int | None]
) -> list[Match]:
    """matches (in the coordinates of lines, the document's lines with their newlines), each
    whose rewrite made a line too long for the file turned into the rewrite of its whole lines
    with that line split; the rest as they were. limit_of_file gives the file's limit
    (limit_of), asked only when a line grows past PEP 8's."""
    if language != "python":
        return matches
    limit: int | None = -1
    out = []
    for m in matches:
        was = [] if "\n" in m.new_text else lines[m.start_line : m.end_line + 1]
        if len(m.new_text) <= len(m.old_text) or not was or m.end_line >= len(lines):
            out.append(m)
            continue
        was = [line.rstrip("\n") for line in was]
        new = was[0][: m.start_char] + m.new_text + was[-1][m.end_char :]
        if len(new) <= max(PEP8, *map(len, was)) or "\r" in new:
            out.append(m)
            continue
        if limit == -1:
            limit = limit_of_file()
        split = split_long_line(new, limit) if limit is not None else None
        if split is None:
            out.append(m)
            continue
        out.append(
            replace(m, start_char=0, end_char=len(was[-1]), old_text="\n".join(was), new_text=split)
        )
    return out


def limit_of(data: bytes) -> int | None:
    """The length past which the file's formatter splits a line, as far as the file shows it:
    None unless the file has two or more right-hand splits (`head(` / contents / `)`). A line
    is over the limit when it is at least as long as one of those splits would be joined (the
    formatter found that one too long) and longer than every line of the file the formatter
    could have split."""
    joined: list[int] = []
    for m in _CLOSER.finditer(data):
        a = data.rfind(b"\n", 0, m.start() - 1)  # the contents line starts after a
        b = data.rfind(b"\n", 0, max(0, a))  # the head line starts after b
        if a <= 0:
            continue
        body, head = data[a + 1 : m.start() - 1], data[b + 1 : a].rstrip()
        deeper = len(body) - len(body.lstrip()) > len(m.group(1))
        if deeper and head.endswith((b"(", b"[", b"{")) and not body.rstrip().endswith(b","):
            joined.append(len(head) + len(body.strip()) + len(m.group(0).strip()))
    if len(joined) < 2:
        return None
    limit = max(PEP8, min(joined) - 1)
    # longer lines say the limit is higher, unless the formatter could not have split them:
    # comments, docstring text, a string alone (brackets inside strings are not the code's)
    for raw in data.split(b"\n"):
        if len(raw) > limit:
            line = raw.decode("utf-8", "replace")
            if _brackets(line):
                limit = max(limit, len(line))
    return limit


def split_long_line(line: str, limit: int) -> str | None:
    """line (one line, no newline) split at its last bracket pair, or None when it fits within
    limit or black would not split it that way."""
    if len(line) <= limit:
        return None
    pairs = _brackets(line)
    if not pairs:
        return None
    opened, closed = pairs[-1]
    if not _TAIL.fullmatch(line[closed:].rstrip()):
        return None
    indent = line[: len(line) - len(line.lstrip())]
    head, body, tail = line[: opened + 1], line[opened + 1 : closed].strip(), line[closed:].rstrip()
    inner = indent + INDENT + body
    if not body or body.endswith(",") or len(inner) > limit or len(head) > limit:
        return None
    return f"{head}\n{inner}\n{indent}{tail}"


def _brackets(line: str) -> list[tuple[int, int]] | None:
    """(opening, closing) offsets of the line's bracket pairs in order of closing, strings
    skipped; None when the line has a comment or its brackets do not pair."""
    pairs: list[tuple[int, int]] = []
    stack: list[tuple[str, int]] = []
    quote = ""
    i = 0
    while i < len(line):
        c = line[i]
        if quote:
            if c == "\\":
                i += 1
            elif line.startswith(quote, i):
                i += len(quote) - 1
                quote = ""
        elif c in "'\"":
            quote = c * 3 if line.startswith(c * 3, i) else c
            i += len(quote) - 1
        elif c == "#":
            return None
        elif c in "([{":
            stack.append((c, i))
        elif c in _PAIRS:
            if not stack or stack[-1][0] != _PAIRS[c]:
                return None
            pairs.append((stack.pop()[1], i))
        i += 1
    return pairs if not stack and not quote else None
