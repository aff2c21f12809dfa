"""The medium clock: one thread that loads libraries and mines new edit episodes into skills.

Jobs queue up as episodes commit (from the store's writer thread) and as folders open. A mining
job waits until the developer has stopped typing for a moment (capture's last change), so the
GIL-heavy tree work never competes with didChange; it never waits longer than `max_delay_s`.
Everything queued or running counts in `pending`, which kenetic/stats reports.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class MiningWorker:
    quiet_s = 0.2
    max_delay_s = 5.0

    def __init__(self, last_activity: Callable[[], float]) -> None:
        self._last_activity = last_activity
        self._queue: queue.Queue[tuple[Callable[[], object], bool] | None] = queue.Queue()
        self._pending = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="kenetic-mining", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        return self._pending

    def submit(self, job: Callable[[], object], *, wait_idle: bool = True) -> None:
        with self._lock:
            self._pending += 1
        self._queue.put((job, wait_idle))

    def stop(self, timeout: float = 10.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout=timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            job, wait_idle = item
            try:
                if wait_idle:
                    self._wait_for_quiet()
                job()
            except Exception:
                log.exception("background skill job failed")
            finally:
                with self._lock:
                    self._pending -= 1

    def _wait_for_quiet(self) -> None:
        deadline = time.monotonic() + self.max_delay_s
        while True:
            now = time.monotonic()
            if now - self._last_activity() >= self.quiet_s or now >= deadline:
                return
            time.sleep(0.02)
