"""The developer's recent edits per document, so that no suggestion undoes one of them.

A suggestion that would put back the text a recent edit replaced (the developer just turned `x`
into `y`; a skill turns `y` into `x`) contradicts what the developer just did: server.suggest.gate
blocks it everywhere a suggestion is offered (next edits, code actions, inline completions).

Each change in didChange is one changed span (server.suggest.documents.span: a few chunked
compares, no line splitting); spans that touch or overlap merge, so the keystrokes of one edit
make one region, whose `old` is the text from before its first keystroke. Regions follow later
changes by their offsets; one whose text is back to `old` (the developer undid it) is dropped.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_right
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote

from server.suggest.documents import offset_of, span

if TYPE_CHECKING:
    from memory.skills.matching import Match

MAX_REGIONS = 32  # per document, newest kept: enough for a round of edits at many sites
MAX_AGE_S = 30 * 60.0  # older edits are no longer "just did"
MAX_OLD_CHARS = 20_000  # a whole-file replace is not an edit a skill could undo


@dataclass
class Region:
    start: int  # code-point offsets of the edited text in the document now
    end: int
    old: str  # what [start, end) read before the edit
    at: float  # monotonic time of its latest change


class RecentEdits:
    def __init__(self) -> None:
        self._by_uri: dict[str, list[Region]] = {}
        self._lock = threading.Lock()  # nextEdits reads from a worker thread

    def on_change(self, uri: str, before: str, after: str, now: float | None = None) -> None:
        """Follow one content change: shift the regions after it, merge the ones it touches."""
        p, end_b, end_a = span(before, after)
        if p == end_b == end_a:
            return  # no change
        now = time.monotonic() if now is None else now
        delta = end_a - end_b
        key = unquote(uri)
        with self._lock:
            kept: list[Region] = []
            touched: list[Region] = []
            # a change that only touches a region continues its edit when it stays within the
            # line (typing on after deleting); whole lines put next to it are an edit of their own
            reach = 0 if "\n" in before[p:end_b] or "\n" in after[p:end_a] else 1
            for r in self._by_uri.get(key, []):
                if now - r.at > MAX_AGE_S:
                    continue
                if r.end + reach <= p:
                    kept.append(r)
                elif r.start >= end_b + reach:
                    kept.append(Region(r.start + delta, r.end + delta, r.old, r.at))
                else:
                    touched.append(r)  # the change continues this edit: they become one
            region = _merged(before, p, end_b, touched, now)
            region.end += delta
            if len(region.old) <= MAX_OLD_CHARS and after[region.start : region.end] != region.old:
                kept.append(region)
            kept = sorted(kept, key=lambda r: r.at)[-MAX_REGIONS:]
            if kept:
                self._by_uri[key] = sorted(kept, key=lambda r: r.start)
            else:
                self._by_uri.pop(key, None)

    def forget(self, uri: str) -> None:
        with self._lock:
            self._by_uri.pop(unquote(uri), None)

    def regions(self, uri: str) -> list[Region]:
        with self._lock:
            return list(self._by_uri.get(unquote(uri), []))

    def reverts(self, uri: str, m: Match, lines: list[str], offsets: list[int]) -> bool:
        """Would applying m (positions in `lines`, the document now) make the text of a recent
        edit read again as it did before that edit?"""
        regions = self._by_uri.get(unquote(uri))
        if not regions:
            return False
        ms = offset_of(offsets, m.start_line, m.start_char)
        me = ms + len(m.old_text)
        for r in regions:
            if ms > r.end or me < r.start:
                continue
            lo, hi = min(ms, r.start), max(me, r.end)
            now = _text(lines, offsets, lo, hi)
            rewritten = now[: ms - lo] + m.new_text + now[me - lo :]
            undone = now[: r.start - lo] + r.old + now[r.end - lo :]
            if rewritten == undone:
                return True
        return False


def _merged(before: str, p: int, end: int, touched: list[Region], now: float) -> Region:
    """One region for the change of before[p:end] and the regions it touches (disjoint, in
    `before`'s offsets): its span in `before`, and what that span read before all of them."""
    lo = min([p, *(r.start for r in touched)])
    hi = max([end, *(r.end for r in touched)])
    pieces, pos = [], lo
    for r in sorted(touched, key=lambda r: r.start):
        pieces += [before[pos : r.start], r.old]
        pos = r.end
    pieces.append(before[pos:hi])
    return Region(lo, hi, "".join(pieces), now)


def _text(lines: list[str], offsets: list[int], lo: int, hi: int) -> str:
    """The document's text [lo, hi) from its lines, without joining them all."""
    first = max(0, bisect_right(offsets, lo) - 1)
    last = max(first, bisect_right(offsets, hi) - 1)
    chunk = "".join(lines[first : last + 1])
    base = offsets[first] if first < len(offsets) else 0
    return chunk[lo - base : hi - base]
