"""While the editor waits on kenetic, kenetic's background processes wait on the editor.

A training child runs at the lowest CPU priority (SCHED_IDLE), yet on a small machine it still
slows the request it shares a core's caches and memory bus with: code action p95 was 1.5-2x
idle during a training, as under any busy process (tests/bench/train_serve.py). So the child is
stopped (SIGSTOP) from the moment a message arrives until the latency-sensitive requests it
started have been answered, and continued (SIGCONT) then: it loses a few milliseconds per
request and the editor loses none.

The gate counts holds by key: the message loop holds while it handles what it read, and each
request in FOREGROUND_METHODS holds until its response is sent. The child is stopped for at
most MAX_SHARE of each WINDOW_S, and a hold that is never released (a handler that never
answers) is given up after MAX_HOLD_S, so training is slowed, never stopped for good; a client
that keeps a request in flight most of the time still leaves it little (docs/trm.md: 1 step
of a 12 s budget with requests back to back). A stopped child still dies with the server
(trm.train_worker: PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Hashable

from lsprotocol import types

log = logging.getLogger(__name__)

# the requests an editor waits on while the developer types or moves the cursor; a command
# such as kenetic.train waits on the training itself and must never stop it
FOREGROUND_METHODS = frozenset(
    {
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CODE_ACTION_RESOLVE,
        types.TEXT_DOCUMENT_INLINE_COMPLETION,
        types.TEXT_DOCUMENT_COMPLETION,
        types.TEXT_DOCUMENT_HOVER,
        "kenetic/nextEdits",
        "kenetic/rank",
    }
)
MAX_HOLD_S = 2.0
WINDOW_S = 1.0
MAX_SHARE = 0.8  # of each window at most, the child is stopped


class Gate:
    """pause() when the first hold begins, resume() when the last one ends (or expires)."""

    def __init__(
        self, pause: Callable[[], None], resume: Callable[[], None], max_hold_s: float = MAX_HOLD_S,
        window_s: float = WINDOW_S, max_share: float = MAX_SHARE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self._pause, self._resume, self.max_hold_s = pause, resume, max_hold_s
        self.window_s, self.max_share, self.clock = window_s, max_share, clock
        self._holds: dict[Hashable, float] = {}
        self._lock = threading.Lock()
        self._watchdog: threading.Thread | None = None
        self._wake = threading.Event()
        self._paused_at: float | None = None  # when the current pause began
        self._window_at = 0.0  # the current window's start
        self._stopped = 0.0  # seconds stopped in the current window, the current pause excluded

    @property
    def held(self) -> bool:
        return bool(self._holds)

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    def begin(self, key: Hashable) -> None:
        now = self.clock()
        with self._lock:
            self._holds[key] = now
            if self._paused_at is None:
                if self._spent(now) < self.max_share * self.window_s:
                    self._paused_at = now
                    self._call(self._pause)
                    self._watch()
            elif self._spent(now) >= self.max_share * self.window_s:
                self._unpause(now)  # this window's share is used up: the child runs

    def end(self, key: Hashable) -> None:
        with self._lock:
            if self._holds.pop(key, None) is not None and not self._holds:
                self._unpause(self.clock())

    def _spent(self, now: float) -> float:
        """Seconds stopped in the current window (a new one starts once it has run out)."""
        if now - self._window_at >= self.window_s:
            self._window_at, self._stopped = now, 0.0
            if self._paused_at is not None:
                self._paused_at = now  # a pause that spans windows counts in each from its start
        return self._stopped + (now - self._paused_at if self._paused_at is not None else 0.0)

    def _unpause(self, now: float) -> None:
        if self._paused_at is not None:
            self._stopped = self._spent(now)
            self._paused_at = None
            self._call(self._resume)

    def _call(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:  # a background process that cannot be signalled is not the editor's
            log.exception("foreground gate: pausing or resuming background work failed")

    def _watch(self) -> None:
        if self._watchdog is None or not self._watchdog.is_alive():
            self._watchdog = threading.Thread(
                target=self._expire, name="kenetic-foreground", daemon=True
            )
            self._watchdog.start()

    def _expire(self) -> None:
        while True:
            self._wake.wait(min(self.max_hold_s, self.window_s) / 4)
            with self._lock:
                if not self._holds:
                    self._watchdog = None
                    return
                cutoff = self.clock() - self.max_hold_s
                stale = [k for k, t in self._holds.items() if t < cutoff]
                for key in stale:
                    log.debug("foreground gate: gave up hold %r", key)
                    del self._holds[key]
                now = self.clock()
                if (stale and not self._holds) or (
                    self.paused and self._spent(now) >= self.max_share * self.window_s
                ):
                    self._unpause(now)


def _pause() -> None:
    worker = sys.modules.get("trm.train_worker")  # not imported: no training child was started
    if worker is not None:
        worker.pause_children()


def _resume() -> None:
    worker = sys.modules.get("trm.train_worker")
    if worker is not None:
        worker.resume_children()


def _noop() -> None:
    pass


# KENETIC_PAUSE_TRAINING=0 leaves the child running through requests: for
# tests/bench/train_serve.py to compare with, not for use
_ON = os.environ.get("KENETIC_PAUSE_TRAINING", "1").strip() != "0"
GATE = Gate(_pause, _resume) if _ON else Gate(_noop, _noop)
