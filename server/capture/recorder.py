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
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from memory.skills import syntax
from memory.skills.edits import structural_edit
from memory.store.database import Episode, Store
from server.capture.bursts import ClosedBurst, changed_region
from server.capture.privacy import redact, secrets
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


def _structural_edit(
    grammar: str, before: str, after: str, max_lines: int, max_chars: int
) -> dict[str, Any] | None:
    try:
        edit = structural_edit(
            grammar,
            clean_text(before),
            clean_text(after),
            max_lines=max_lines,
            # no context past the region's bound is built (in UTF-8 bytes: a little stricter)
            max_bytes=max_chars,
        )
    except Exception:  # a mining-side bug must not cost the episode
        log.exception("structural edit failed; the episode is kept without it")
        return None
    return edit.to_json() if edit is not None else None


# texts of a structural edit that hold the developer's code; its trees are cut from them
_EDIT_TEXTS = ("context_before", "context_after", "before", "after")
# lines redacted beyond a structural edit's context, so a private key block that the context
# cuts through is seen whole; bounded in bytes too (a minified file's lines are long)
_MARGIN_LINES = 50
_MARGIN_BYTES = 16_384


def _secret_free(edit: dict[str, Any], filename: str, known: Collection[str]) -> bool:
    texts = [str(edit.get(k, "")) for k in _EDIT_TEXTS] + [str(n) for n in edit.get("unused", [])]
    return not any(redact(text, filename, known)[1] for text in texts)


def _redact_lines(text: str, start: int, count: int, filename: str, known: Collection[str]) -> str:
    """text with lines [start, start + count) and a margin each side redacted."""
    lines = text.split("\n")
    lo, hi = max(0, start), min(len(lines), start + count)
    budget = _MARGIN_BYTES
    while lo > 0 and start - lo < _MARGIN_LINES and budget >= len(lines[lo - 1]):
        lo -= 1
        budget -= len(lines[lo])
    budget = _MARGIN_BYTES
    while hi < len(lines) and hi - start - count < _MARGIN_LINES and budget >= len(lines[hi]):
        budget -= len(lines[hi])
        hi += 1
    middle, _ = redact("\n".join(lines[lo:hi]), filename, known)
    return "\n".join([*lines[:lo], middle, *lines[hi:]])


def _structural(
    grammar: str,
    before: str,
    after: str,
    max_lines: int,
    max_chars: int,
    filename: str,
    known: Collection[str],
) -> dict[str, Any] | None:
    """The structural edit, with nothing secret-looking in anything it keeps.

    Its context (the enclosing statement or definition, or the window's siblings) reaches lines
    the change never touched: a token on the line above a changed `timeout=3` is in it. So every
    text it keeps goes through redact(); when that finds something, the edit is made again from
    the documents with those lines redacted (the secret becomes a `«redacted»` leaf, which
    mining makes a hole), and dropped if anything secret-looking still remains. A context past
    max_chars (a sibling that is one line of minified code) is dropped unread, like a region."""
    edit = _structural_edit(grammar, before, after, max_lines, max_chars)
    if edit is None or len(edit["context_before"]) + len(edit["context_after"]) > max_chars:
        return None
    if _secret_free(edit, filename, known):
        return edit
    start = int(edit["start_line"])
    lines_b = edit["context_before"].count("\n") + 1
    lines_a = edit["context_after"].count("\n") + 1
    before = _redact_lines(before, start, lines_b, filename, known)
    after = _redact_lines(after, start, lines_a, filename, known)
    edit = _structural_edit(grammar, before, after, max_lines, max_chars)
    if edit is None or not _secret_free(edit, filename, known):
        return None
    return edit


# secrets remembered per document, at most (each is looked for in every line redacted)
_MAX_KNOWN = 256


def provisional_edit(
    before: str, after: str, doc: DocumentInfo, max_region_lines: int, known: Collection[str]
) -> dict[str, Any] | None:
    """The structural edit an open burst would make if it closed now, or None: what
    kenetic/nextEdits mines provisionally (server.suggest.provisional) so a skill the edit just
    made is offered before the idle gap closes it. Bounded and redacted like an episode's; it is
    never stored."""
    if doc.grammar is None or before == after:
        return None
    _, old_lines, new_lines = changed_region(before, after)
    region_bytes = max(sum(map(len, old_lines)), sum(map(len, new_lines)))
    if (
        max(len(old_lines), len(new_lines)) > max_region_lines
        or region_bytes > doc.capture.max_region_bytes
    ):
        return None
    return _structural(
        doc.grammar,
        before,
        after,
        max_region_lines,
        doc.capture.max_region_bytes,
        doc.filename,
        known,
    )


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
        # secrets found in each open document's earlier episodes (in memory only): a later
        # edit may break the form that gave one away, and a later context may take its line
        self._known: dict[str, set[str]] = {}
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
        self._known.pop(uri, None)

    def known_secrets(self, uri: str) -> frozenset[str]:
        """The secrets this document's earlier episodes found (a copy; the worker adds more)."""
        for _ in range(3):
            try:
                return frozenset(self._known.get(uri, ()))
            except RuntimeError:  # the recorder thread grew the set while it was copied
                continue
        return frozenset()

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
        # the work per episode is bounded: a region past max_region_lines or max_region_bytes
        # (one line of a minified file is the whole file) is recorded without its text, its
        # nodes or its structural edit; redacting and diffing it would hold the GIL for seconds
        region_bytes = max(sum(map(len, old_lines)), sum(map(len, new_lines)))
        oversized = (
            max(len(old_lines), len(new_lines)) > job.max_region_lines
            or region_bytes > doc.capture.max_region_bytes
        )
        redactions = 0
        # secrets found in the changed lines (and this document's earlier episodes), cut from
        # every text the episode keeps
        known = self._known.setdefault(burst.uri, set())
        region: dict[str, Any] = {
            "startLine": start_line,
            "beforeLines": len(old_lines),
            "afterLines": len(new_lines),
            "truncated": oversized,
        }
        if oversized:
            region["before"] = region["after"] = None
        else:
            old_text, new_text = clean_text("".join(old_lines)), clean_text("".join(new_lines))
            # a secret on either side is cut from both, and from every other text kept: an
            # edit that breaks the form that gave it away (`KEY=x` -> `KEYx`) must not free it
            found = secrets(old_text, doc.filename) | secrets(new_text, doc.filename)
            if len(known) + len(found) <= _MAX_KNOWN:
                known |= found
            else:
                known = known | found  # this episode's own, past the cap: not kept for later
            region["before"], n1 = redact(old_text, doc.filename, known)
            region["after"], n2 = redact(new_text, doc.filename, known)
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
                    if len(node["text"]) > doc.capture.max_region_bytes:
                        node["text"] = None  # bounded like the region
                        continue
                    node["text"], n = redact(clean_text(node["text"]), doc.filename, known)
                    redactions += n
        else:
            # the document moved on without a parse; drop the stale tree
            self._trees.pop(burst.uri, None)
        # what skill mining learns from: every text it keeps redacted (see _structural)
        structural = None
        if doc.grammar is not None and not oversized:
            structural = _structural(
                doc.grammar,
                before,
                after,
                job.max_region_lines,
                doc.capture.max_region_bytes,
                doc.filename,
                known,
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
