"""Capture: edit episodes from the document lifecycle.

didOpen decides once whether a document may be captured (inside a folder, not ignored, not a
secret, not binary, not huge); didChange feeds the burst tracker (a few comparisons per change,
via the protocol hook in server.server); a sweeper closes idle bursts; save and close close the
document's burst. Closed bursts go to the recorder thread, which builds and stores the episode.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import unquote

from lsprotocol import types

from memory.store.database import Episode, Store
from server.capture.bursts import BurstTracker, ClosedBurst
from server.capture.recorder import DocumentInfo, Recorder
from server.workspaces import uri_to_path

if TYPE_CHECKING:
    from server.server import KeneticServer

log = logging.getLogger(__name__)


def looks_binary(text: str) -> bool:
    """NUL bytes or mostly control characters in the first 8 KB: not source text."""
    head = text[:8192]
    if "\x00" in head:
        return True
    if not head:
        return False
    control = sum(1 for c in head if ord(c) < 32 and c not in "\t\n\r\f\v\x1b")
    return control / len(head) > 0.1


class CaptureService:
    def __init__(self, server: KeneticServer) -> None:
        self.server = server
        self.last_change = 0.0  # monotonic time of the latest didChange
        self.recorder = Recorder(last_activity=lambda: self.last_change)
        self.tracker = BurstTracker(idle_gap_s=1.5, jump_lines=3)
        self.documents: dict[str, DocumentInfo] = {}
        self.skipped: dict[str, str] = {}  # uri -> why it is not captured
        self.unknown_changes = 0
        self._sweeper: asyncio.Task[None] | None = None

    # -- settings -------------------------------------------------------------------------

    def configure(self) -> None:
        """Apply settings: new defaults for bursts, and each open document's folder settings."""
        capture = self.server.workspaces.settings.capture
        self.tracker.idle_gap_s = capture.idle_gap_ms / 1000
        self.tracker.jump_lines = capture.jump_lines
        for uri, info in list(self.documents.items()):
            folder = self.server.workspaces.folder_for(info.uri)
            if folder is None or not folder.settings.capture.enabled:
                self.documents.pop(uri)
                self.skipped[uri] = "capture disabled by settings"
            else:
                info.capture = folder.settings.capture

    @property
    def pending(self) -> int:
        return len(self.tracker) + self.recorder.pending

    # -- lifecycle ------------------------------------------------------------------------

    def on_open(self, item: types.TextDocumentItem) -> None:
        uri = unquote(item.uri)  # pygls keys documents by the unquoted URI
        info, why = self._admit(item.uri, item.language_id, item.text)
        if info is None:
            self.skipped[uri] = why
            self.documents.pop(uri, None)
            log.info("not capturing %s: %s", uri, why)
            return
        self.skipped.pop(uri, None)
        self.documents[uri] = info

    def _admit(self, uri: str, language_id: str, text: str) -> tuple[DocumentInfo | None, str]:
        from memory.skills.syntax import grammar_for

        folder = self.server.workspaces.folder_for(uri)
        if folder is None:
            return None, "outside every workspace folder" if uri_to_path(uri) else "not a file"
        if not folder.settings.capture.enabled:
            return None, "capture disabled by settings"
        if folder.store is None:
            return None, f"store unavailable: {folder.store_error}"
        path = uri_to_path(uri)
        assert path is not None  # folder_for only answers for file: URIs
        if folder.ignore is not None and folder.ignore.ignored(path):
            return None, "ignored"
        if folder.path is None:
            from server.capture.privacy import IgnoreRules

            if IgnoreRules(path.parent, folder.settings.capture.ignore).ignored(path):
                return None, "ignored"
        if len(text) > folder.settings.capture.max_document_bytes:
            return None, "document too large"
        if looks_binary(text):
            return None, "binary"
        grammar = grammar_for(language_id, path.name)
        info = DocumentInfo(
            uri, language_id, grammar, folder.store, path.name, folder.settings.capture
        )
        return info, ""

    def on_change(
        self,
        uri: str,
        version: int,
        before: str,
        after: str,
        change: types.TextDocumentContentChangeEvent,
    ) -> None:
        if uri not in self.documents:
            return
        start: int | None
        end: int | None
        if isinstance(change, types.TextDocumentContentChangePartial):
            start, end = change.range.start.line, change.range.end.line
            new_lines = change.text.count("\n")
        else:
            start = end = None
            new_lines = 0
        gap = self.documents[uri].capture.idle_gap_ms / 1000
        now = self.last_change = time.monotonic()
        closed = self.tracker.change(uri, version, before, after, start, end, new_lines, now, gap)
        self._submit(closed)
        self._ensure_sweeper()

    def open_edit(self, uri: str) -> tuple[str, str, int, DocumentInfo] | None:
        """The edit still being made on a captured document: the text before its burst, the
        text now, the burst's last version and the document; None when no burst is open."""
        uri = unquote(uri)
        info = self.documents.get(uri)
        burst = self.tracker.open_burst(uri)
        if info is None or burst is None:
            return None
        return burst.baseline, burst.current, burst.last_version, info

    def note_unknown_change(self, uri: str) -> None:
        self.unknown_changes += 1

    def on_save(self, uri: str) -> None:
        self._close(uri, "save")

    def on_close(self, uri: str) -> None:
        self._close(uri, "close")
        uri = unquote(uri)
        self.documents.pop(uri, None)
        self.skipped.pop(uri, None)
        self.recorder.forget(uri)

    def _close(self, uri: str, reason: str) -> None:
        self._submit(self.tracker.close(unquote(uri), time.monotonic(), reason))

    def store_replaced(self, old: Store, new: Store) -> None:
        """Documents that wrote to a store that was reopened write to the new one."""
        for info in self.documents.values():
            if info.store is old:
                info.store = new

    def flush(self) -> None:
        """Close every open burst now (shutdown, new session)."""
        self._submit(self.tracker.close_all(time.monotonic()))

    def _submit(self, closed: list[ClosedBurst]) -> None:
        for burst in closed:
            info = self.documents.get(burst.uri)
            if info is None:
                continue
            max_lines = info.capture.max_region_lines
            self.recorder.submit(
                burst, info, self.server.session_id, max_lines, self._forget_if_closed(burst.uri)
            )

    def _forget_if_closed(self, uri: str) -> Callable[[Episode], None]:
        """Run once the burst's episode is stored (writer thread): the recorder parsed the
        burst after didClose may have forgotten the document, and a closed document keeps no
        parse there."""

        def done(_: Episode) -> None:
            if uri not in self.documents:
                self.recorder.forget(uri)

        return done

    # -- idle sweeper ---------------------------------------------------------------------

    def _ensure_sweeper(self) -> None:
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    async def _sweep(self) -> None:
        """Close idle bursts; runs only while some burst is open."""
        while len(self.tracker):
            await asyncio.sleep(min(0.25, self.tracker.shortest_gap() / 4))
            self._submit(self.tracker.expire(time.monotonic()))

    def stop(self) -> None:
        self.flush()
        if self._sweeper is not None:
            self._sweeper.cancel()


def setup(server: KeneticServer) -> None:
    server.change_listener = server.attach(CaptureService(server))

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: KeneticServer, params: types.DidOpenTextDocumentParams) -> None:
        """Decide whether the document is captured."""
        ls.service(CaptureService).on_open(params.text_document)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: KeneticServer, params: types.DidSaveTextDocumentParams) -> None:
        """A save closes the document's burst."""
        ls.service(CaptureService).on_save(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: KeneticServer, params: types.DidCloseTextDocumentParams) -> None:
        """Closing closes the burst (pygls already dropped the text: use the last seen)."""
        ls.service(CaptureService).on_close(params.text_document.uri)
