"""Parsing open documents before the requests that need their trees.

A nextEdits scan matches every open document of the language; one it finds unparsed it parsed in
the request (20-45 ms for a 100 KB file), and a code action reparsed the document just edited.
The Warmer does that work while the developer pauses instead, on its own thread, into the same
per-version cache (server.suggest.documents.Trees), so requests find the trees made.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Warmer:
    """Parses open documents before the requests that need their trees. `touch` after didOpen
    and didChange; once nothing was touched for `delay_s`, one thread runs `work` (which parses
    into Trees) for each touched document, oldest first. Without it a nextEdits scan parsed every
    open document it had not parsed before, in the request: 20-45 ms for a 100 KB file."""

    def __init__(self, work: Callable[[str], object], delay_s: float = 0.25) -> None:
        self._work = work
        self.delay_s = delay_s
        self._due: dict[str, None] = {}  # insertion-ordered set
        self._last = 0.0
        self._busy = False
        self._stopped = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def touch(self, uri: str) -> None:
        with self._cond:
            if self._stopped:
                return
            self._due.pop(uri, None)
            self._due[uri] = None
            self._last = time.monotonic()  # typing goes on: wait for the pause
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="kenetic-parse", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def forget(self, uri: str) -> None:
        with self._cond:
            self._due.pop(uri, None)

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._due) + self._busy

    def wait(self, timeout: float) -> bool:
        """Until every touched document was parsed (tests, shutdown); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._due and not self._busy, timeout)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._due.clear()
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped:
                    left = self._last + self.delay_s - time.monotonic()
                    if self._due and left <= 0:
                        break
                    self._cond.wait(left if self._due else None)
                if self._stopped:
                    return
                uri = next(iter(self._due))
                del self._due[uri]
                self._busy = True
            try:
                self._work(uri)
            except Exception:  # a parse ahead is an optimisation: the request parses instead
                log.exception("parsing %s ahead of requests failed", uri)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
