"""$/progress for background work (skill mining, TRM training), started from any thread.

A Run asks the client for a token (window/workDoneProgress/create) only once the work has taken
`delay_s`, so quick runs stay silent; then begin, reports, and end when the work is done. All
LSP traffic goes through the server's event loop (call_soon_threadsafe); a client without
`window.workDoneProgress` gets nothing, and the work never waits on the client.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from concurrent.futures import Future
from typing import Any

from lsprotocol import types

log = logging.getLogger(__name__)

_TOKENS = itertools.count(1)


class Reporter:
    """Knows the server and its event loop (bound from a handler on the loop)."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.loop: asyncio.AbstractEventLoop | None = None

    def bind(self) -> None:
        self.loop = asyncio.get_running_loop()

    def supported(self) -> bool:
        caps = getattr(getattr(self.server, "client_capabilities", None), "window", None)
        return bool(getattr(caps, "work_done_progress", False)) and self.loop is not None

    def start(self, title: str, delay_s: float = 0.0) -> Run:
        """A run that shows itself after delay_s (call done() when the work ends)."""
        return Run(self, title, delay_s)


class Run:
    def __init__(self, reporter: Reporter, title: str, delay_s: float) -> None:
        self.reporter = reporter
        self.title = title
        self.token = f"kenetic-{title.split(': ')[-1].replace(' ', '-')}-{next(_TOKENS)}"
        self.ended: Future[None] = Future()  # set once the end went out (or nothing will)
        self._lock = threading.Lock()
        self._started = False
        self._begun = False
        self._message: str | None = None
        self._waiter: asyncio.Future[str] | None = None
        self._timer: threading.Timer | None = None
        if not reporter.supported():
            self.ended.set_result(None)
        elif delay_s <= 0:
            self._start()
        else:
            self._timer = threading.Timer(delay_s, self._start)
            self._timer.daemon = True
            self._timer.start()

    def _start(self) -> None:
        with self._lock:
            if self._started or self.ended.done():
                return
            self._started = True
        loop = self.reporter.loop
        assert loop is not None
        asyncio.run_coroutine_threadsafe(self._show(), loop)

    async def _show(self) -> None:
        ls = self.reporter.server
        self._waiter = asyncio.get_running_loop().create_future()
        if self._message is not None:
            self._waiter.set_result(self._message)
        try:
            try:
                await asyncio.wait_for(ls.work_done_progress.create_async(self.token), 10)
            except Exception as exc:  # a client that refuses progress still gets the work done
                log.info("work done progress refused: %s", exc)
                return
            ls.work_done_progress.begin(self.token, types.WorkDoneProgressBegin(title=self.title))
            self._begun = True
            message = await self._waiter
            ls.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message))
            ls.work_done_progress.tokens.pop(self.token, None)
        finally:
            if not self.ended.done():
                self.ended.set_result(None)

    def report(self, message: str, percentage: int | None = None) -> None:
        """From any thread; dropped until the begin went out."""
        loop = self.reporter.loop
        if self._started and loop is not None:
            value = types.WorkDoneProgressReport(message=message, percentage=percentage)
            loop.call_soon_threadsafe(self._send, value)

    def _send(self, value: types.WorkDoneProgressReport) -> None:
        if self._begun and self._waiter is not None and not self._waiter.done():
            self.reporter.server.work_done_progress.report(self.token, value)

    def done(self, message: str) -> None:
        """The work ended (from any thread): end the progress, or never show it."""
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            started = self._started
            if not started and not self.ended.done():
                self.ended.set_result(None)
        loop = self.reporter.loop
        if started and loop is not None:
            loop.call_soon_threadsafe(self._finish, message)

    def _finish(self, message: str) -> None:
        self._message = message
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(message)
