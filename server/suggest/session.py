"""What this server session did that the ranker reads (docs/trm.md): sites shown, edit lines.

- SiteCounts: how many shown sets (server.suggest.shown) of this session showed a site without
  it being accepted, the candidate key `shownInSession`. A site is its document, skill and
  rewrite text (`matchText`), so it keeps its count when edits above it move its line.
- EditLines: the lines of the last few edits of each document, moved as later edits add or
  remove lines above them, the context key `recentEditLines`.

The replay of tests/bench/rank_data.py fills the same keys the same way. Both are bounded and
thread-safe (edits arrive on the store's writer thread, rankings on the request threads).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any
from urllib.parse import unquote

__all__ = ["EditLines", "SiteCounts", "SiteKey", "site_key"]

SiteKey = tuple[str, str, str]  # (document uri, skill id, "old => new")


def site_key(uri: str, candidate: dict[str, Any]) -> SiteKey:
    skill, text = candidate.get("skillId"), candidate.get("matchText")
    return (unquote(uri), str(skill or ""), str(text or ""))


class SiteCounts:
    """Shown-and-not-accepted counts per site, for the sites shown most recently."""

    def __init__(self, max_sites: int = 20_000) -> None:
        self.max_sites = max_sites
        self._counts: OrderedDict[SiteKey, int] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: SiteKey) -> int:
        return self._counts.get(key, 0)

    def shown(self, keys: list[SiteKey]) -> None:
        """One shown set was written: each of its sites (counted once) was shown once more."""
        with self._lock:
            for key in dict.fromkeys(keys):
                self._counts[key] = self._counts.get(key, 0) + 1
                self._counts.move_to_end(key)
            while len(self._counts) > self.max_sites:
                self._counts.popitem(last=False)

    def accepted(self, key: SiteKey) -> None:
        """The site was accepted from the newest set that showed it: that showing is no miss."""
        with self._lock:
            n = self._counts.get(key, 0)
            if n > 1:
                self._counts[key] = n - 1
            else:
                self._counts.pop(key, None)


class EditLines:
    """The start lines of each document's last `keep` edits, oldest first, where they are now."""

    def __init__(self, keep: int = 5, max_documents: int = 256) -> None:
        self.keep = keep
        self.max_documents = max_documents
        self._lines: OrderedDict[str, list[int]] = OrderedDict()
        self._lock = threading.Lock()

    def edit(self, uri: str, start: int, before_lines: int, after_lines: int) -> None:
        """An edit replaced `before_lines` lines from `start` with `after_lines` lines."""
        uri = unquote(uri)
        shift = after_lines - before_lines
        with self._lock:
            lines = self._lines.pop(uri, [])
            end = start + max(before_lines, 1)
            lines = [x + shift if x >= end else x for x in lines] if shift else lines
            self._lines[uri] = [*lines, start][-self.keep :]
            while len(self._lines) > self.max_documents:
                self._lines.popitem(last=False)

    def region(self, uri: str, region: Any) -> None:
        """An edit episode's region (server.capture.recorder: startLine, beforeLines, ...)."""
        if isinstance(region, dict):
            start, old, new = (region.get(k) for k in ("startLine", "beforeLines", "afterLines"))
            if isinstance(start, int) and isinstance(old, int) and isinstance(new, int):
                self.edit(uri, start, old, new)

    def of(self, uri: str) -> list[int]:
        return list(self._lines.get(unquote(uri), ()))
