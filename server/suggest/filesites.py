"""Every site of one skill in one document version: the count of "Apply skill in file (N places)".

A small document is counted within the code action request itself, under a few milliseconds'
deadline, so the first request at a site already offers the in-file action (a client such as
Neovim asks once and never again). A larger document, or one the deadline cuts short, is counted
on a background thread that waits for a quiet moment (no edit, no request), so it never slows
the requests it serves; the action is then offered from the next request on.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from urllib.parse import unquote

from memory.skills.matching import Match
from server.features.capture import CaptureService
from server.suggest.documents import Snapshot
from server.suggest.library import Library, copy_skill
from server.suggest.mining import MiningWorker
from server.suggest.service import SuggestService
from server.suggest.sites import in_text

# documents up to this many characters are counted within the request ...
INLINE_CHARS = 100_000
# ... within this much of it, for all its actions together (the budget is 20 ms at p95),
# counted in the request thread's CPU time, so a busy machine does not push the count out
INLINE_BUDGET_S = 0.006
CLOCK = time.thread_time


class FileSites:
    """Every site of one skill in one document version, cached per version."""

    def __init__(self, service: SuggestService, size: int = 64) -> None:
        self.size = size
        self.service = service
        self.last_request = 0.0
        self.worker = MiningWorker(
            lambda: max(self.last_request, service.server.service(CaptureService).last_change)
        )
        self._cache: OrderedDict[tuple[str, int | None, str], list[Match]] = OrderedDict()
        self._running: set[tuple[str, int | None, str]] = set()

    def get(
        self,
        uri: str,
        snap: Snapshot,
        lib: Library,
        skill_id: str,
        *,
        wait: bool = False,
        deadline: float | None = None,
    ) -> list[Match] | None:
        """The sites, or None while they are still being counted in the background. With a
        deadline (on CLOCK), a small document is counted here unless that passes first."""
        self.last_request = time.monotonic()
        key = (uri, snap.version, skill_id)
        if key in self._cache:
            return self._cache[key]
        stored = lib.get(skill_id)
        if stored is None:
            return None
        with lib.lock:
            skill = copy_skill(stored.skill)
        inline = len(snap.text) <= INLINE_CHARS and key not in self._running
        if wait or (inline and deadline is not None and CLOCK() < deadline):
            deadline = None if wait else deadline
            found, complete = in_text(
                [skill], snap.language, snap.text, tree=snap.tree, lines=snap.lines,
                deadline=deadline, clock=CLOCK,
            )  # fmt: skip
            if complete:
                self._put(key, found)
                return found
        if key in self._running:
            return None
        self._running.add(key)
        docs = self.service.server.workspace.text_documents

        def count() -> None:
            try:
                doc = docs.get(unquote(uri))
                if doc is None or doc.version != snap.version:
                    return  # the document moved on: the next request asks for its version
                found, _ = in_text(
                    [skill], snap.language, snap.text, tree=snap.tree, lines=snap.lines
                )
                self._put(key, found)
            finally:
                self._running.discard(key)

        self.worker.submit(count)
        return None

    def forget(self, uri: str) -> None:
        """The document closed: its counted sites go (each Match keeps its parse tree alive)."""
        for key in self.held(uri):
            del self._cache[key]

    def held(self, uri: str) -> list[tuple[str, int | None, str]]:
        return [k for k in self._cache if unquote(k[0]) == unquote(uri)]

    def _put(self, key: tuple[str, int | None, str], found: list[Match]) -> None:
        self._cache[key] = found
        while len(self._cache) > self.size:
            self._cache.popitem(last=False)
