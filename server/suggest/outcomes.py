"""Suggestions handed to clients, and what became of them.

Every suggestion has an id that travels with it (in the kenetic.recordOutcome command of a code
action or inline item, and as suggestionId in kenetic/nextEdits). Outcomes:
  shown     recorded once when first returned; the same rewrite at the same place offered again
            keeps its id, since clients ask for code actions on every cursor move;
  accepted  kenetic.recordOutcome (or kenetic.applySkill);
  rejected  returned as an alternative at the same place as one that was accepted;
  undone    accepted, then its text reverted within the undo window (seen in didChange).
"""

from __future__ import annotations

import itertools
import logging
import random
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from server.capture.privacy import RedactedJSON
from server.suggest.documents import span

if TYPE_CHECKING:
    from server.suggest.library import Library

log = logging.getLogger(__name__)

# (start, old text, new text): code-point offsets in the text the suggestion was made for
Edit = tuple[int, str, str]


# a suggestion's old and new text are the site's own text (see RedactedJSON)
SITE_TEXTS = frozenset({"old", "new"})


@dataclass
class Suggestion:
    id: str
    skill_id: str
    library: Library
    kind: str  # codeAction | codeActionFile | inline | nextEdits | apply
    uri: str
    version: int | None
    edits: list[Edit]
    score: float
    batch: str
    exclusive: bool  # alternatives at one place: accepting one rejects the others
    state: str = "shown"
    created: float = field(default_factory=time.monotonic)
    # the text of each edit's first line when offered: with the skill and rewrite, its site
    # (server.suggest.gate keeps the sites the developer dismissed)
    site_lines: list[str] = field(default_factory=list)


@dataclass
class _Watch:
    suggestion: Suggestion
    start: int
    end: int
    applied: bool
    before_doc: str | None
    deadline: float


# ids: a random prefix per process and a counter (uuid4 reads os.urandom, which can block for
# milliseconds on a starved machine: too slow for a request handler)
_PREFIX = f"{random.getrandbits(40):010x}"
_COUNTER = itertools.count(1)


def new_id(kind: str) -> str:
    return f"{kind}_{_PREFIX}{next(_COUNTER):06x}"


class Suggestions:
    max_live = 5000  # suggestions remembered for recordOutcome; the oldest are forgotten

    def __init__(self, undo_window_s: float = 30.0) -> None:
        self.undo_window_s = undo_window_s
        self._by_id: OrderedDict[str, Suggestion] = OrderedDict()
        self._by_key: dict[tuple[object, ...], str] = {}
        self._batches: dict[str, list[str]] = {}
        self._watches: dict[str, list[_Watch]] = {}
        # told of every accepted, rejected and undone suggestion (the TRM's shown-set log)
        self.on_outcome: Callable[[Suggestion, str], None] | None = None
        # told of the developer's own decisions only: an accept, a reject, an undo (not the
        # alternatives an accept rejects); the memory's ALS listens here (server.features.memory)
        self.decision_hooks: list[Callable[[Suggestion, str], None]] = []

    def _record(self, sug: Suggestion, outcome: str, *, decided: bool = True) -> None:
        sug.state = outcome
        sug.library.record(sug.id, sug.skill_id, outcome)
        hooks = [self.on_outcome] if self.on_outcome is not None else []
        for hook in hooks + (self.decision_hooks if decided else []):
            try:
                hook(sug, outcome)
            except Exception:
                log.exception("outcome listener failed")

    def new_batch(self) -> str:
        return new_id("b")

    def offer(
        self,
        library: Library,
        skill_id: str,
        kind: str,
        uri: str,
        version: int | None,
        edits: list[Edit],
        score: float,
        batch: str,
        *,
        exclusive: bool = True,
    ) -> Suggestion:
        key = (uri, skill_id, kind, tuple(edits))
        known = self._by_id.get(self._by_key.get(key, ""))
        if known is not None and known.state == "shown":
            known.batch, known.score, known.version = batch, score, version
            self._batches.setdefault(batch, []).append(known.id)
            return known
        sid = new_id("sg")
        sug = Suggestion(sid, skill_id, library, kind, uri, version, edits, score, batch, exclusive)
        self._by_id[sid] = sug
        self._by_key[key] = sid
        self._batches.setdefault(batch, []).append(sid)
        first = edits[0] if edits else (0, "", "")
        library.skill_store.record_suggestion(
            sid,
            skill_id,
            kind,
            uri,
            # old and new are the site's own text: secret-looking tokens are redacted
            RedactedJSON(
                {
                    "start": first[0],
                    "old": first[1],
                    "new": first[2],
                    "sites": len(edits),
                    "score": score,
                },
                SITE_TEXTS,
            ),
        )
        library.record(sid, skill_id, "shown")
        self._forget_oldest()
        return sug

    def get(self, suggestion_id: str) -> Suggestion | None:
        return self._by_id.get(suggestion_id)

    def _forget_oldest(self) -> None:
        while len(self._by_id) > self.max_live:
            sid, old = self._by_id.popitem(last=False)
            self._by_key.pop((old.uri, old.skill_id, old.kind, tuple(old.edits)), None)
            batch = self._batches.get(old.batch)
            if batch is not None and sid in batch:
                batch.remove(sid)
                if not batch:
                    del self._batches[old.batch]

    # -- outcomes -------------------------------------------------------------------------

    def accept(self, sug: Suggestion, text_now: str | None) -> bool:
        """Record an acceptance (once) and start watching for an undo; False if already."""
        if sug.state not in ("shown", "rejected"):
            return False
        self._record(sug, "accepted")
        if sug.exclusive:
            for other_id in self._batches.get(sug.batch, []):
                other = self._by_id.get(other_id)
                if other is not None and other is not sug and other.state == "shown":
                    self._record(other, "rejected", decided=False)
        if text_now is not None and sug.edits and self.undo_window_s > 0:
            self._watch(sug, text_now)
        return True

    def reject(self, sug: Suggestion) -> bool:
        if sug.state != "shown":
            return False
        self._record(sug, "rejected")
        return True

    def _watch(self, sug: Suggestion, text: str) -> None:
        deadline = time.monotonic() + self.undo_window_s
        edits = sorted(sug.edits)
        shift, pieces, pos, applied = 0, [], 0, True
        for start, old, new in edits:
            at = start + shift
            if text[at : at + len(new)] != new:
                applied = False
                break
            pieces += [text[pos:at], old]
            pos = at + len(new)
            shift += len(new) - len(old)
        if applied:
            before_doc = "".join(pieces) + text[pos:]
            start, old, new = edits[0]
            w = _Watch(sug, start, start + len(new), True, before_doc, deadline)
        else:
            # the client has not sent the edit yet (recordOutcome came first): wait for it
            start, old, new = edits[0]
            w = _Watch(sug, start, start + len(old), False, None, deadline)
        self._watches.setdefault(sug.uri, []).append(w)

    def forget(self, uri: str) -> None:
        """The document closed: its undo watches (each holding a copy of the document) go; an
        undo can no longer be seen in a document that is not open."""
        self._watches.pop(uri, None)

    def watching(self, uri: str) -> bool:
        return bool(self._watches.get(uri))

    def on_change(self, uri: str, before: str, after: str) -> list[Suggestion]:
        """Follow watched regions through one change; returns the suggestions now undone."""
        watches = self._watches.get(uri)
        if not watches:
            return []
        now = time.monotonic()
        undone: list[Suggestion] = []
        keep: list[_Watch] = []
        for w in watches:
            if now > w.deadline or w.suggestion.state != "accepted":
                continue
            if self._undone(w, before, after):
                self._record(w.suggestion, "undone")
                undone.append(w.suggestion)
            else:
                keep.append(w)
        if keep:
            self._watches[uri] = keep
        else:
            self._watches.pop(uri, None)
        return undone

    @staticmethod
    def _undone(w: _Watch, before: str, after: str) -> bool:
        _, old, new = w.suggestion.edits[0]
        if not w.applied:
            if after[w.start : w.start + len(new)] == new:
                w.applied, w.end = True, w.start + len(new)
                w.before_doc = after[: w.start] + old + after[w.end :]
            return False
        if w.before_doc is not None and len(after) == len(w.before_doc) and after == w.before_doc:
            return True
        if len(w.suggestion.edits) != 1:
            return False  # a file-wide rewrite counts as undone only when all of it is
        p, end_b, end_a = span(before, after)
        delta = end_a - end_b
        if end_b < w.start:
            w.start, w.end = w.start + delta, w.end + delta
            return False
        if p > w.end:
            return False
        w.start, w.end = min(w.start, p), max(w.end, end_b) + delta
        return after[w.start : w.end] == old
