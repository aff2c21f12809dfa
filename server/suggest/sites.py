"""Finding skill sites in a document: at the cursor, and everywhere in a file.

Both cut the document into top-level chunks (see server.suggest.documents) and run the matcher
on a chunk at a time, so the cost follows the size of the chunks that can match, not the size
of the file: a chunk is parsed only when it contains every constant word of some skill.
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
from server.suggest.documents import MAX_CHUNK_LINES, Snapshot, chunk_spans, focus, split_lines

if TYPE_CHECKING:
    from tree_sitter import Tree


def _shift(matches: list[Match], lines: int) -> list[Match]:
    if not lines:
        return matches
    return [
        replace(m, start_line=m.start_line + lines, end_line=m.end_line + lines) for m in matches
    ]


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
    # elsewhere (memory.skills.matching.unused_in)
    return [
        wrap_long_lines(
            unused_in(ms, snap.text), snap.language, snap.lines, lambda: snap.line_limit
        )
        for ms in out
    ]


def _whole(index: SkillIndex, language: str, text: str) -> list[Match]:
    """Every site in a small text."""
    tree = parse(language, text)
    if tree is None or not tree.root_node.child_count:
        return []
    return index.matches_at(language, text, tree, 0, max(0, text.count("\n")))


def in_text(
    skills: list[Skill],
    language: str,
    text: str,
    *,
    tree: Tree | None = None,
    lines: list[str] | None = None,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[list[Match], bool]:
    """Every site of the given skills in one text; (matches, complete). A deadline (on `clock`,
    monotonic by default) stops the scan between chunks and reports it incomplete."""
    data = text.encode("utf-8", "surrogatepass")
    wanted = [(s, skill_words(s)) for s in skills]
    wanted = [(s, ws) for s, ws in wanted if all(w in data for w in ws)]
    if not wanted:
        return [], True
    if tree is None:
        tree = parse(language, text)
        if tree is None:
            return [], True
    lines = split_lines(text) if lines is None else lines
    # one snapshot for the whole text: windows of a long definition match in it, and the file's
    # line limit (for rewrites that make a line too long) is read from it once
    snap = Snapshot(None, text, data, tree, language, lines)
    out, complete = _scan(wanted, snap, deadline, clock)
    out = unused_in(out, text)
    return wrap_long_lines(out, language, lines, lambda: snap.line_limit), complete


def _scan(
    wanted: list[tuple[Skill, list[bytes]]],
    snap: Snapshot,
    deadline: float | None,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[list[Match], bool]:
    """in_text's matching, top-level chunk by chunk; (matches, complete)."""
    data, lines, language = snap.data, snap.lines, snap.language
    spans = chunk_spans(snap.tree)
    starts = _line_starts(data, len(lines))
    out: list[Match] = []
    seen: set[tuple[str, int, int]] = set()
    indexes: dict[tuple[str, ...], SkillIndex] = {}
    for k, (a, b) in enumerate(spans):
        if deadline is not None and clock() > deadline:
            return out, False
        # one neighbour each side: window skills anchor on siblings, so their words may lie
        # partly in a neighbour (`import b` then `from m import c`)
        ca, cb = spans[max(0, k - 1)][0], spans[min(len(spans) - 1, k + 1)][1]
        raw = data[starts[ca] : starts[min(cb, len(lines))]]
        here = [s for s, ws in wanted if all(w in raw for w in ws)]
        if not here:
            continue
        key = tuple(s.id for s in here)
        index = indexes.get(key) or indexes.setdefault(key, SkillIndex(here))
        if cb - ca > MAX_SCAN_LINES:
            # a long definition: in windows, each cut down to the statements it holds
            found = []
            for lo in range(a, b, SCAN_WINDOW):
                if deadline is not None and clock() > deadline:
                    return out, False
                found += at_lines(index, snap, lo, min(b, lo + SCAN_WINDOW) - 1)
        else:
            found = _shift(_whole(index, language, "".join(lines[ca:cb])), ca)
        for m in found:
            at = (m.skill_id, m.start_line, m.start_char)
            if a <= m.start_line < b and at not in seen:
                seen.add(at)
                out.append(m)
    return out, True


# a top-level statement longer than this is scanned in windows of SCAN_WINDOW lines
MAX_SCAN_LINES = 300
SCAN_WINDOW = 40


def _line_starts(data: bytes, n_lines: int) -> list[int]:
    """Byte offset of each line start, plus the end of the data."""
    starts = [0]
    pos = data.find(b"\n")
    while pos != -1:
        starts.append(pos + 1)
        pos = data.find(b"\n", pos + 1)
    while len(starts) <= n_lines:
        starts.append(len(data))
    return starts
