"""Turning closed bursts into edit episodes, off the event loop.

didChange only notes where a burst is; everything that costs time — diffing the texts, parsing
with tree-sitter, redacting secrets — happens here, on one worker thread, before the episode is
handed to the store's writer.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from memory.skills import syntax
from memory.skills.edits import structural_edit
from memory.store.database import Episode, Store
from server.capture.bursts import ClosedBurst, changed_region
from server.capture.privacy import redact
from server.settings import CaptureSettings

log = logging.getLogger(__name__)


_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Text safe to store as UTF-8: each lone surrogate from a client becomes one U+FFFD."""
    if text.isascii():
        return text
    return _SURROGATE.sub("\ufffd", text)


@dataclass
class DocumentInfo:
    uri: str
    language_id: str
    grammar: str | None
    store: Store
    filename: str
    capture: CaptureSettings  # the folder's settings, replaced when they change


@dataclass
class _Job:
    burst: ClosedBurst
    doc: DocumentInfo
    session_id: str
    max_region_lines: int
    done: Callable[[Episode], None] | None


def _span(before: str, after: str) -> tuple[int, int, int]:
    """Common prefix length and the end of the changed span in before and after (chars)."""
    limit = min(len(before), len(after))
    p = 0
    # compare in blocks first: documents are long and changes are small
    step = 4096
    while p + step <= limit and before[p : p + step] == after[p : p + step]:
        p += step
    while p < limit and before[p] == after[p]:
        p += 1
    s = 0
    limit_s = limit - p
    while (
        s + step <= limit_s
        and before[len(before) - s - step : len(before) - s]
        == after[len(after) - s - step : len(after) - s]
    ):
        s += step
    while s < limit_s and before[len(before) - s - 1] == after[len(after) - s - 1]:
        s += 1
    return p, len(before) - s, len(after) - s


def _node(tree: Any, text: str, start: int, end: int, max_lines: int) -> dict[str, Any] | None:
    if tree is None:
        return None
    b0 = len(text[:start].encode("utf-8", "surrogatepass"))
    b1 = b0 + len(text[start:end].encode("utf-8", "surrogatepass"))
    node = syntax.enclosing_named_node(tree, b0, b1)
    if node is None:
        return None
    info = syntax.node_info(node)
    lines = info.end_line - info.start_line + 1
    return {
        "type": info.type,
        "range": {
            "start": {"line": info.start_line, "byte": info.start_col},
            "end": {"line": info.end_line, "byte": info.end_col},
        },
        "text": info.text if lines <= max_lines else None,
        "hasError": bool(node.has_error),
    }


def _structural(grammar: str, before: str, after: str, max_lines: int) -> dict[str, Any] | None:
    try:
        edit = structural_edit(grammar, clean_text(before), clean_text(after), max_lines=max_lines)
    except Exception:  # a mining-side bug must not cost the episode
        log.exception("structural edit failed; the episode is kept without it")
        return None
    return edit.to_json() if edit is not None else None


def _redacted_structural(
    grammar: str, before: str, after: str, start_line: int, job: _Job, filename: str
) -> dict[str, Any] | None:
    """The structural edit of the redacted text around the change. Only lines near it are
    redacted (a structural edit's context is at most max_region_lines of enclosing code), and
    the context it kept is checked once more: nothing secret-looking may remain."""
    reach = job.max_region_lines + 50

    def near(text: str) -> str:
        lines = text.split("\n")
        lo, hi = max(0, start_line - reach), min(len(lines), start_line + 2 * reach)
        middle, _ = redact("\n".join(lines[lo:hi]), filename)
        return "\n".join([*lines[:lo], middle, *lines[hi:]])

    edit = _structural(grammar, near(before), near(after), job.max_region_lines)
    if edit is None:
        return None
    for side in ("context_before", "context_after"):
        if redact(str(edit.get(side, "")), filename)[1]:
            return None
    return edit


class Recorder:
    """One worker thread that builds edit episodes and queues them for the store.

    Building an episode parses whole documents, which holds the GIL for milliseconds; doing
    that while the developer types would make didChange answers stutter. So the worker waits
    for a quiet moment (no change for `quiet_s`), but never longer than `max_delay_s`.
    """

    quiet_s = 0.3
    max_delay_s = 5.0

    def __init__(self, last_activity: Callable[[], float] | None = None) -> None:
        self._last_activity = last_activity or (lambda: 0.0)
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._pending = 0
        self._lock = threading.Lock()
        # last parsed text and tree per document, so the next burst's "before" needs no parse
        self._trees: dict[str, tuple[str, Any]] = {}
        # called with (episode, document) after each episode commits; skill mining sets it
        self.on_stored: Callable[[Episode, DocumentInfo], None] | None = None
        self._thread = threading.Thread(target=self._run, name="kenetic-recorder", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        return self._pending

    def submit(
        self,
        burst: ClosedBurst,
        doc: DocumentInfo,
        session_id: str,
        max_region_lines: int,
        done: Callable[[Episode], None] | None = None,
    ) -> None:
        with self._lock:
            self._pending += 1
        self._queue.put(_Job(burst, doc, session_id, max_region_lines, done))

    def forget(self, uri: str) -> None:
        self._trees.pop(uri, None)

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            self._wait_for_quiet()
            try:
                episode = self.build(job)
                if episode is not None:
                    job.doc.store.add_episode(episode, done=self._stored(episode, job))
            except Exception:
                log.exception("capture failed for %s; the burst was dropped", job.burst.uri)
            finally:
                with self._lock:
                    self._pending -= 1

    def _stored(self, episode: Episode, job: _Job) -> Callable[[int | None], None]:
        """Hooks that run on the writer thread once the episode has committed and has its id
        (skill mining needs the id to cite its examples)."""

        def done(rowid: int | None) -> None:
            if rowid is None:
                return  # the write failed: there is no episode to point at
            episode.id = rowid
            if job.done is not None:
                job.done(episode)
            if self.on_stored is not None:
                self.on_stored(episode, job.doc)

        return done

    def _wait_for_quiet(self) -> None:
        deadline = time.monotonic() + self.max_delay_s
        while True:
            now = time.monotonic()
            if now - self._last_activity() >= self.quiet_s or now >= deadline:
                return
            time.sleep(0.05)

    def _tree(self, uri: str, grammar: str | None, text: str) -> Any:
        if grammar is None:
            return None
        cached = self._trees.get(uri)
        if cached is not None and (cached[0] is text or cached[0] == text):
            return cached[1]
        tree = syntax.parse(grammar, text)
        self._trees[uri] = (text, tree)
        return tree

    def build(self, job: _Job) -> Episode | None:
        """The episode for a burst, or None when the burst changed nothing."""
        burst, doc = job.burst, job.doc
        before, after = burst.before, burst.after
        if before == after:
            return None
        start_line, old_lines, new_lines = changed_region(before, after)
        oversized = max(len(old_lines), len(new_lines)) > job.max_region_lines
        redactions = 0
        region: dict[str, Any] = {
            "startLine": start_line,
            "beforeLines": len(old_lines),
            "afterLines": len(new_lines),
            "truncated": oversized,
        }
        if oversized:
            region["before"] = region["after"] = None
        else:
            region["before"], n1 = redact(clean_text("".join(old_lines)), doc.filename)
            region["after"], n2 = redact(clean_text("".join(new_lines)), doc.filename)
            redactions = n1 + n2
        node_before = node_after = None
        if doc.grammar is not None and not oversized:
            p, end_b, end_a = _span(before, after)
            tree_b = self._tree(burst.uri, doc.grammar, before)
            node_before = _node(tree_b, before, p, end_b, job.max_region_lines)
            tree_a = self._tree(burst.uri, doc.grammar, after)
            node_after = _node(tree_a, after, p, end_a, job.max_region_lines)
            for node in (node_before, node_after):
                if node is not None and node["text"] is not None:
                    node["text"], n = redact(clean_text(node["text"]), doc.filename)
                    redactions += n
        else:
            # the document moved on without a parse; drop the stale tree
            self._trees.pop(burst.uri, None)
        # what skill mining learns from: for an edit with secrets in it, mined from the
        # redacted text (the secret a hole), and never kept if any secret got through
        structural = None
        if doc.grammar is not None and not oversized:
            structural = (
                _structural(doc.grammar, before, after, job.max_region_lines)
                if redactions == 0
                else _redacted_structural(doc.grammar, before, after, start_line, job, doc.filename)
            )
        data = {
            "firstVersion": burst.first_version,
            "lastVersion": burst.last_version,
            "changes": burst.changes,
            "closedBy": burst.reason,
            "region": region,
            "node": {"before": node_before, "after": node_after} if doc.grammar else None,
            "redactions": redactions,
            "structural": structural,
        }
        return Episode(
            kind="edit",
            session_id=job.session_id,
            # bursts are timed on the monotonic clock; episodes carry wall-clock times
            started_at=burst.started_at + (time.time() - time.monotonic()),
            ended_at=burst.ended_at + (time.time() - time.monotonic()),
            uri=doc.uri,
            language=doc.language_id,
            data=data,
        )
