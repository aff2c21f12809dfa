"""Every site of one skill in one document version: the count of "Apply skill in file (N places)".

A small document is counted within the code action request itself, under a few milliseconds'
deadline, so the first request at a site already offers the in-file action (a client such as
Neovim asks once and never again). A larger document, or one the deadline cuts short, is counted
on a background thread that waits for a quiet moment (no edit, no request), so it never slows
the requests it serves; the action is then offered from the next request on.
"""

from __future__ import annotations

import threading
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

# (document uri, unquoted; its version; skill id; Library.stamp of the skill counted)
Key = tuple[str, int | None, str, int]


class FileSites:
    """Every site of one skill in one document version, cached per version of both."""

    def __init__(self, service: SuggestService, size: int = 64) -> None:
        self.size = size
        self.service = service
        self.last_request = 0.0
        self.worker = MiningWorker(
            lambda: max(self.last_request, service.server.service(CaptureService).last_change)
        )
        self._cache: OrderedDict[Key, list[Match]] = OrderedDict()
        self._running: set[Key] = set()
        # the request thread, the counting thread and a nextEdits scan's thread all put here
        self._lock = threading.RLock()

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
        found = self.cached(uri, snap.version, lib, skill_id)
        if found is not None:
            return found
        stored = lib.get(skill_id)
        if stored is None:
            return None
        with lib.lock:
            skill = copy_skill(stored.skill)
            key = (unquote(uri), snap.version, skill_id, lib.stamp(skill_id))
        # a skill still waiting for examples is asked for the places in a row at the cursor
        waiting = skill.support < skill.needed_support()
        inline = len(snap.text) <= INLINE_CHARS and key not in self._running
        if wait or (inline and deadline is not None and CLOCK() < deadline):
            deadline = None if wait else deadline
            found, complete = in_text(
                [skill], snap.language, snap.text, tree=snap.tree, lines=snap.lines,
                deadline=deadline, clock=CLOCK, waiting=waiting,
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
                    [skill], snap.language, snap.text, tree=snap.tree, lines=snap.lines,
                    waiting=waiting,
                )  # fmt: skip
                self._put(key, found)
            finally:
                self._running.discard(key)

        self.worker.submit(count)
        return None

    def cached(
        self, uri: str, version: int | None, lib: Library, skill_id: str
    ) -> list[Match] | None:
        """The sites counted for this version of the document and of the skill, if they were."""
        with self._lock:
            return self._cache.get((unquote(uri), version, skill_id, lib.stamp(skill_id)))

    def put(
        self, uri: str, version: int | None, skill_id: str, stamp: int, found: list[Match]
    ) -> None:
        """Sites of one skill (at `stamp`, Library.stamp) counted elsewhere: a nextEdits scan of
        the open documents counts them all, and the code actions that follow need them."""
        self._put((unquote(uri), version, skill_id, stamp), found)

    def forget(self, uri: str) -> None:
        """The document closed: its counted sites go (each Match keeps its parse tree alive)."""
        with self._lock:
            for key in self.held(uri):
                del self._cache[key]

    def held(self, uri: str) -> list[Key]:
        with self._lock:
            return [k for k in self._cache if k[0] == unquote(uri)]

    def _put(self, key: Key, found: list[Match]) -> None:
        with self._lock:
            self._cache[key] = found
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
