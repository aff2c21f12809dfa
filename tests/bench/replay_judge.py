"""How the replay bench judges a suggestion: plain functions on texts, no server, no LSP client.

The protocol is in /work/shared/data/README.md ("The replay protocol"). Texts are split into lines
at "\\n"; lines are compared with trailing whitespace ignored. A hunk is `(start, end, lines)`:
lines `start..end` (end exclusive, empty for a pure insertion) of a document replaced by `lines`.
The last part sums the per-case rows into the report's figures.
"""

from __future__ import annotations

from difflib import SequenceMatcher
from typing import Any

Hunk = tuple[int, int, list[str]]

SAME, DIFFERENT, UNCHANGED = "same", "different", "unchanged"


def norm(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.rstrip().split("\n"))


def apply_lines(text: str, start: int, end: int, new: str) -> str:
    """Replace whole lines start..end (end exclusive) of text by new."""
    lines = text.split("\n")
    head = "\n".join(lines[:start]) + ("\n" if start else "")
    tail = "\n".join(lines[end:])
    return head + new + tail


def utf16_len(text: str) -> int:
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)


def _index(line: str, character: int) -> int:
    """Index in line of an LSP (UTF-16) column; past the end gives the end."""
    units = 0
    for i, ch in enumerate(line):
        if units >= character:
            return i
        units += 2 if ord(ch) > 0xFFFF else 1
    return len(line)


def offset(text: str, line: int, character: int) -> int:
    """Offset of an LSP (UTF-16) position in text."""
    pos = 0
    for _ in range(line):
        nl = text.find("\n", pos)
        if nl == -1:
            return len(text)
        pos = nl + 1
    end = text.find("\n", pos)
    return pos + _index(text[pos : len(text) if end == -1 else end], character)


def apply_text_edits(text: str, edits: list[dict[str, Any]]) -> str:
    spans = []
    for e in edits:
        r = e["range"]
        a = offset(text, r["start"]["line"], r["start"]["character"])
        b = offset(text, r["end"]["line"], r["end"]["character"])
        spans.append((a, b, e.get("newText", e.get("new_text", ""))))
    for a, b, new in sorted(spans, reverse=True):
        text = text[:a] + new + text[b:]
    return text


def cursor_position(old: str, new: str, start_line: int) -> tuple[int, int]:
    """Where a developer puts the cursor for a whole-line edit at start_line: on the first
    character the edit changes, as an LSP (line, UTF-16 column). A pure insertion (or an edit
    that only appends lines) gives the start of the line it goes before."""
    n = 0
    for a, b in zip(old, new, strict=False):
        if a != b:
            break
        n += 1
    head = old[:n]
    line = start_line + head.count("\n")
    return line, utf16_len(head[head.rfind("\n") + 1 :])


def _same(a: list[str], b: list[str]) -> bool:
    return len(a) == len(b) and all(x.rstrip() == y.rstrip() for x, y in zip(a, b, strict=True))


def _block(new: str) -> list[str]:
    """The lines a whole-line edit writes ("a\\nb\\n" -> ["a", "b"])."""
    if not new:
        return []
    lines = new.split("\n")
    return lines[:-1] if new.endswith("\n") else lines


def line_hunk(lines: list[str], edit: dict[str, Any]) -> Hunk:
    """The smallest run of whole lines an LSP text edit changes in the document `lines`."""
    r = edit["range"]
    sl, el = r["start"]["line"], r["end"]["line"]
    sl = min(sl, len(lines) - 1)
    el = min(max(el, sl), len(lines) - 1)
    prefix = lines[sl][: _index(lines[sl], r["start"]["character"])]
    suffix = lines[el][_index(lines[el], r["end"]["character"]) :]
    text = edit.get("newText", edit.get("new_text", ""))
    new = (prefix + text + suffix).split("\n")
    old = lines[sl : el + 1]
    p = 0
    while p < min(len(old), len(new)) and old[p].rstrip() == new[p].rstrip():
        p += 1
    s = 0
    while (
        s < min(len(old), len(new)) - p and old[-1 - s].rstrip() == new[-1 - s].rstrip()
    ):  # fmt: skip
        s += 1
    return sl + p, el + 1 - s, new[p : len(new) - s]


def slides(lines: list[str], hunk: Hunk, limit: int = 50) -> list[Hunk]:
    """The hunk and the hunks that change the text alike among repeated lines: deleting lines
    1..2 of ["", "x", ""] is deleting lines 0..1; inserting ["", "y"] before "" is inserting
    ["y", ""] after it. A rewrite (lines out and lines in) has no other place."""
    a, b, new = hunk
    if a != b and new:
        return [hunk]
    out = [hunk]
    for step in (1, -1):
        a, b, new = hunk
        for _ in range(limit):
            if a == b:  # an insertion: rotate its lines past an equal neighbour
                if step > 0 and a < len(lines) and new and lines[a].rstrip() == new[0].rstrip():
                    a, b, new = a + 1, b + 1, new[1:] + new[:1]
                elif step < 0 and a > 0 and new and lines[a - 1].rstrip() == new[-1].rstrip():
                    a, b, new = a - 1, b - 1, new[-1:] + new[:-1]
                else:
                    break
            elif step > 0 and b < len(lines) and lines[a].rstrip() == lines[b].rstrip():
                a, b = a + 1, b + 1
            elif step < 0 and a > 0 and lines[a - 1].rstrip() == lines[b - 1].rstrip():
                a, b = a - 1, b - 1
            else:
                break
            out.append((a, b, new))
    return out


def commit_text(parent: str, commit_edits: list[dict[str, Any]]) -> str:
    """The file at the commit: all of its commit_edits applied to the parent's text."""
    for e in sorted(commit_edits, key=lambda e: e["start"][0], reverse=True):
        parent = apply_lines(parent, e["start"][0], e["end"][0], e["new"])
    return parent


def _key(e: dict[str, Any]) -> tuple[Any, ...]:
    return e["start"][0], e["end"][0], e["old"], e["new"]


def pending_hunks(
    current: str, commit_edits: list[dict[str, Any]], applied: list[dict[str, Any]], parent: str
) -> list[Hunk]:
    """What the commit still does to the current document (the parent with the `applied` example
    edits), as hunks in the current document's lines, adjacent ones merged.

    The example edits are hunks of the commit, so the commit's other hunks are only shifted by
    the examples above them. A corpus whose examples are not among its commit_edits is aligned
    with difflib instead (which may place a hunk differently among repeated lines)."""
    done = {_key(e) for e in applied}
    if not done <= {_key(e) for e in commit_edits}:
        return diff_hunks(current, commit_text(parent, commit_edits))
    hunks: list[Hunk] = []
    shift = 0
    for e in sorted(commit_edits, key=lambda e: e["start"][0]):
        if _key(e) in done:
            shift += e["new"].count("\n") - e["old"].count("\n")
            continue
        a, b, new = e["start"][0] + shift, e["end"][0] + shift, _block(e["new"])
        if hunks and hunks[-1][1] == a:
            pa, _, pnew = hunks.pop()
            a, new = pa, pnew + new
        hunks.append((a, b, new))
    return hunks


def diff_hunks(current: str, commit: str) -> list[Hunk]:
    """The commit's changes to current by a line diff (trailing whitespace ignored)."""
    cur, com = current.split("\n"), commit.split("\n")
    sm = SequenceMatcher(None, [x.rstrip() for x in cur], [x.rstrip() for x in com], False)
    return [(i1, i2, com[j1:j2]) for op, i1, i2, j1, j2 in sm.get_opcodes() if op != "equal"]


def _matched(a: list[str], b: list[str]) -> set[int]:
    """The lines of a that the alignment of a with b pairs with a line of b."""
    sm = SequenceMatcher(None, [x.rstrip() for x in a], [x.rstrip() for x in b], False)
    return {m.a + i for m in sm.get_matching_blocks() for i in range(m.size)}


def judge_against_commit(lines: list[str], hunk: Hunk, pending: list[Hunk]) -> str:
    """same / different / unchanged, as the protocol defines them, for a suggestion that changes
    `hunk` of the current document `lines`, when the commit still makes the `pending` hunks.

    same: it rewrites only lines the commit changed (an insertion: where the commit changed the
    document), every line it writes is aligned with the commit's text there, and that text gets
    closer to the commit's (fewer characters apart). unchanged: it touches no line the commit
    changed. different: the rest (it touches changed lines, not as the commit did, or changed
    and unchanged lines at once)."""
    verdicts = {_judge_at(lines, h, pending) for h in slides(lines, hunk)}
    # the same text change placed among repeated lines: judged where it agrees best
    return next(v for v in (SAME, UNCHANGED, DIFFERENT) if v in verdicts)


def _judge_at(lines: list[str], hunk: Hunk, pending: list[Hunk]) -> str:
    a, b, new = hunk
    if a == b:  # an insertion touches the commit's change when it falls inside or beside it
        touching = [h for h in pending if h[0] <= a <= h[1]]
        alone = False
    else:
        touching = [h for h in pending if (h[0] < b and a < h[1]) or a < h[0] == h[1] < b]
        covered = {i for h in touching for i in range(h[0], h[1])}
        alone = any(i not in covered for i in range(a, b))
    if not touching:
        return UNCHANGED
    if alone or len(touching) > 1:
        return DIFFERENT
    ha, hb, goal = touching[0]
    before = lines[ha:hb]
    after = lines[ha:a] + new + lines[b:hb]
    idx = _matched(after, goal)
    written = range(a - ha, a - ha + len(new))
    # closer, and on the way there: each character it deletes or inserts, the commit does too
    # (deleting lines the commit rewrote to something shorter is closer, but not the commit's)
    left = _distance(after, goal)
    on_way = left < _distance(before, goal) == left + _distance(before, after)
    return SAME if on_way and all(i in idx for i in written) else DIFFERENT


def _distance(a: list[str], b: list[str]) -> int:
    """Characters to delete and insert to turn lines a into lines b."""
    return indel_distance(
        "".join(line.rstrip() + "\n" for line in a), "".join(line.rstrip() + "\n" for line in b)
    )


def indel_distance(x: str, y: str, limit: int = 1000) -> int:
    """The fewest characters to delete and insert to turn x into y (Myers' O(ND) diff).

    Exact, so a part of an edit is on a shortest way to the whole of it; difflib's heuristic
    alignment is not (it splits repeated lines oddly). Past `limit`, difflib's count is used."""
    p = 0
    while p < min(len(x), len(y)) and x[p] == y[p]:
        p += 1
    s = 0
    while s < min(len(x), len(y)) - p and x[-1 - s] == y[-1 - s]:
        s += 1
    x, y = x[p : len(x) - s], y[p : len(y) - s]
    n, m = len(x), len(y)
    if not n or not m:
        return n + m
    off = min(n + m, limit) + 1
    v = [0] * (2 * off + 1)
    for d in range(min(n + m, limit) + 1):
        for k in range(-d, d + 1, 2):
            if k == -d or (k != d and v[off + k - 1] < v[off + k + 1]):
                i = v[off + k + 1]
            else:
                i = v[off + k - 1] + 1
            j = i - k
            while i < n and j < m and x[i] == y[j]:
                i, j = i + 1, j + 1
            v[off + k] = i
            if i >= n and j >= m:
                return d
    kept = sum(b.size for b in SequenceMatcher(None, x, y, False).get_matching_blocks())
    return n + m - 2 * kept


def is_reversal(lines: list[str], hunk: Hunk, regions: list[Hunk]) -> bool:
    """Whether a suggestion changing `hunk` of `lines` puts back the old text of an example edit.

    Each region is `(start, end, old_lines)`: the lines an example edit wrote in the current
    document and the lines it replaced. It is undone when the suggestion makes the text there
    the old text again, leaving the lines around it as they are."""
    return any(_reverts(lines, h, regions) for h in slides(lines, hunk))


def _reverts(lines: list[str], hunk: Hunk, regions: list[Hunk]) -> bool:
    a, b, new = hunk
    for rs, re, old in regions:
        if not (a <= re and rs <= b):
            continue
        lo, hi = min(a, rs), max(b, re)
        if _same(lines[lo:a] + new + lines[b:hi], lines[lo:rs] + old + lines[re:hi]):
            return True
    return False


def example_region(start: int, old: str, new: str) -> Hunk:
    """The region an example whole-line edit at `start` leaves in the current document."""
    return start, start + len(_block(new)), _block(old)


# The report: one summary per group of case rows (the rows replay.py writes with --rows)


def ratio(a: int, b: int) -> float | None:
    return round(a / b, 3) if b else None


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def total(key: str) -> int:
        return sum(r.get(key, 0) for r in rows)

    sugg, corr, same, sites = (total(x) for x in ("suggestions", "correct", "same", "sites"))
    out: dict[str, Any] = {
        "cases": len(rows),
        "suggestions": sugg,
        # the protocol's precision: a suggestion the commit made too, in a hunk the case does
        # not label, is right
        "precision": ratio(corr + same, sugg),
        "labelled_only_precision": ratio(corr, sugg),
        "correct": corr,
        "same": same,
        "different": total("different"),
        "unchanged": total("unchanged"),
        "recall": ratio(total("sites_hit"), sites),
        "hit": ratio(sum(1 for r in rows if r["sites_hit"] or r["correct"]), len(rows)),
        "codeAction_site_hits": total("action_hits"),
        "reversals": total("reversals_nextEdits") + total("reversals_codeAction"),
        "reversals_by": {
            "nextEdits": total("reversals_nextEdits"),
            "codeAction": total("reversals_codeAction"),
        },
    }
    if total("unjudged"):
        out["unjudged"] = total("unjudged")
    no_commit = sum(1 for r in rows if not r.get("has_commit_edits"))
    if no_commit:  # their wrong suggestions are not judged: precision is labelled-only there
        out["cases_without_commit_edits"] = no_commit
    if any("sites_hit_line" in r for r in rows):
        out["recall_line_range"] = ratio(total("sites_hit_line"), sites)
        out["codeAction_site_hits_line_range"] = total("action_hits_line")
        out["sites_hidden_from_cursor"] = total("hidden_from_cursor")
    return out


def by_group(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return {v: summarise([r for r in rows if r[key] == v]) for v in sorted({r[key] for r in rows})}


def percentile(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return round(1000 * xs[min(len(xs) - 1, int(q * len(xs)))], 2)
