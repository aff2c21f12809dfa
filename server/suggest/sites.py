"""Finding skill sites in a document: at the cursor, and everywhere in a file.

At the cursor, the matcher runs on a focused cut of the document (see server.suggest.documents),
so its cost follows the size of the definition under the cursor, not of the file. Everywhere in
a file (next edits, apply in file), skills whose constant words the text lacks are dropped
first, and the rest are tried only at the nodes of their root types, which one tree-sitter
query finds in the whole tree (memory.skills.matching.SkillIndex.matches_everywhere).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from memory.skills.entry import skill_words
from memory.skills.linewrap import wrap_long_lines
from memory.skills.matching import Match, SkillIndex, unused_in
from memory.skills.skill import Skill
from memory.skills.syntax import parse
from server.suggest.documents import MAX_CHUNK_LINES, Snapshot, focus, split_lines

if TYPE_CHECKING:
    from tree_sitter import Tree


def at_lines(index: SkillIndex, snap: Snapshot, lo: int, hi: int) -> list[Match]:
    """Sites whose change meets lines lo..hi (inclusive), matched in a focused cut of the
    document (see documents.focus) so that no ancestor larger than a definition is tried."""
    return at_lines_each([index], snap, lo, hi)[0]


def at_lines_each(indexes: list[SkillIndex], snap: Snapshot, lo: int, hi: int) -> list[list[Match]]:
    """at_lines for several indexes, cutting and parsing once (none at all when all are empty)."""
    out: list[list[Match]] = [[] for _ in indexes]
    if not any(len(ix) for ix in indexes):
        return out
    cut = focus(snap, lo, hi, MAX_CHUNK_LINES)
    if cut is None:
        out = [ix.matches_at(snap.language, snap.text, snap.tree, lo, hi) for ix in indexes]
    else:
        text, origin, heads = cut
        tree = parse(snap.language, text)
        local = [k for k, n in enumerate(origin) if lo <= n <= hi and k >= heads]
        if tree is None or not local:
            return out
        out = [
            [
                replace(m, start_line=origin[m.start_line], end_line=origin[m.end_line])
                for m in ix.matches_at(snap.language, text, tree, local[0], local[-1])
                if heads <= m.start_line and m.end_line < len(origin)
            ]
            if len(ix)
            else []
            for ix in indexes
        ]
    # the line a rewrite makes too long is split as the file's formatter would: that needs the whole
    # document, not the cut the matcher saw; so is whether a name a deletion needs unused is used
    # elsewhere (memory.skills.matching.unused_in; a view's borrowed tree is not this text's)
    tree = snap.tree if snap.stale is None else None
    return [
        wrap_long_lines(
            unused_in(ms, snap.text, tree), snap.language, snap.lines, lambda: snap.line_limit
        )
        for ms in out
    ]


def at_cursor_each(
    indexes: list[SkillIndex], snap: Snapshot, lo: int, hi: int
) -> list[list[Match]]:
    """at_lines_each for a cursor or selection on lines lo..hi. On blank lines, where no node
    starts, the sites around them that cover them count too: a deleted statement takes the
    blank line after it along, and the cursor on that blank is on the deletion."""
    out = at_lines_each(indexes, snap, lo, hi)
    lines = snap.lines
    if not lines or any(lines[n].strip() for n in range(lo, min(hi + 1, len(lines)))):
        return out
    above, below = min(lo, len(lines) - 1), min(hi, len(lines) - 1)
    while above > 0 and not lines[above].strip():
        above -= 1
    while below < len(lines) - 1 and not lines[below].strip():
        below += 1
    around = at_lines_each(indexes, snap, above, below)
    for found, more in zip(out, around, strict=True):
        have = {(m.skill_id, m.start_line, m.start_char) for m in found}
        found += [
            m
            for m in more
            if (m.skill_id, m.start_line, m.start_char) not in have
            and m.start_line <= hi
            and _last_line(m) >= lo
        ]
    return out


def run_around(sites: list[Match], m: Match) -> list[Match]:
    """The sites in a row with m: one after another on the same or the next line, none between
    (`var a = 1` / `var b = 2` / `var c = 3` made `let` at once is one change of three lines, as
    a formatter or a linter's fix makes it). m alone when it has no neighbour, [] when it is
    not among the sites."""
    ordered = sorted(sites, key=lambda s: (s.start_line, s.start_char))
    at = next(
        (
            k
            for k, s in enumerate(ordered)
            if (s.start_line, s.start_char) == (m.start_line, m.start_char)
        ),
        None,
    )
    if at is None:
        return []

    def next_to(a: Match, b: Match) -> bool:
        after = (b.start_line, b.start_char) >= (a.end_line, a.end_char)
        return after and b.start_line <= _last_line(a) + 1

    lo = hi = at
    while lo > 0 and next_to(ordered[lo - 1], ordered[lo]):
        lo -= 1
    while hi + 1 < len(ordered) and next_to(ordered[hi], ordered[hi + 1]):
        hi += 1
    return ordered[lo : hi + 1]


def _last_line(m: Match) -> int:
    """The last line a match covers: one that ends at column 0 ends on the line before."""
    return m.end_line - 1 if m.end_char == 0 and m.end_line > m.start_line else m.end_line


def in_text(
    skills: list[Skill],
    language: str,
    text: str,
    *,
    tree: Tree | None = None,
    lines: list[str] | None = None,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    parsed: Callable[[Tree], None] | None = None,
    waiting: bool = False,
) -> tuple[list[Match], bool]:
    """Every site of the given skills in one text; (matches, complete). A deadline (on `clock`,
    monotonic by default) stops the search between nodes and reports it incomplete. `parsed` is
    given the tree when the search had to parse the text (server.suggest.disktrees keeps it).
    waiting: the sites of the skills still waiting for examples (held back), not the others."""
    data = text.encode("utf-8", "surrogatepass")
    wanted = [(s, skill_words(s)) for s in skills]
    wanted = [(s, ws) for s, ws in wanted if all(w in data for w in ws)]
    if not wanted:
        return [], True
    if tree is None:
        tree = parse(language, text)
        if tree is None:
            return [], True
        if parsed is not None:
            parsed(tree)
    lines = split_lines(text) if lines is None else lines
    # the file's line limit (for rewrites that make a line too long) is read from it once
    snap = Snapshot(None, text, data, tree, language, lines)
    stop = None if deadline is None else (lambda: clock() > deadline)
    out, complete = SkillIndex([s for s, _ in wanted], held_back=waiting).matches_everywhere(
        language, data, tree, stop
    )
    out = unused_in(out, text, tree)
    return wrap_long_lines(out, language, lines, lambda: snap.line_limit), complete
