"""Memory moments: the last n things memory did, each with its perspective (FAKR's MPM).

A moment is one memory event — an episode `captured`, a skill or pattern `mined`, items
`recalled`, a suggestion's `outcome`, an item `stored`, a `link` made — together with what
triggered it (a request, a save, a command) and the nodes it touched. Moments explain memory
to the user (`kenetic/moments`) and give the agent a short-term picture of what just happened.
Bounded: only the newest `limit` are kept, in the store, so they survive a restart.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from memory.store.database import Store
from memory.store.schema import write

MOMENT_EVENTS = ("captured", "mined", "recalled", "outcome", "stored", "linked", "pruned")


@dataclass
class Moment:
    event: str
    subject: str | None = None  # the node the event is about, e.g. "episode:12"
    trigger: str | None = None  # what caused it, e.g. "textDocument/didSave file:///a.py"
    linked: list[str] = field(default_factory=list)  # nodes it linked to or recalled
    data: dict[str, Any] = field(default_factory=dict)
    at: float = 0.0
    id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at,
            "event": self.event,
            "subject": self.subject,
            "trigger": self.trigger,
            "linked": self.linked,
            "data": self.data,
        }


class Moments:
    """The bounded moment log of one store."""

    def __init__(self, store: Store, limit: int = 200) -> None:
        if limit < 1:
            raise ValueError("moments limit must be at least 1")
        self.store = store
        self.limit = limit

    def record(
        self,
        event: str,
        subject: str | None = None,
        trigger: str | None = None,
        linked: Iterable[str] = (),
        data: dict[str, Any] | None = None,
        at: float | None = None,
    ) -> Moment:
        """Queue a moment and trim the log to `limit`; never waits on disk."""
        if event not in MOMENT_EVENTS:
            raise ValueError(f"unknown moment {event!r}: expected one of {MOMENT_EVENTS}")
        moment = Moment(
            event,
            subject,
            trigger,
            list(linked),
            dict(data or {}),
            time.time() if at is None else at,
        )
        write(
            self.store,
            "INSERT INTO memory_moments (at, event, subject, trigger, linked, data)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                moment.at,
                moment.event,
                moment.subject,
                moment.trigger,
                json.dumps(moment.linked, ensure_ascii=False),
                json.dumps(moment.data, ensure_ascii=False, sort_keys=True),
            ),
        )
        write(
            self.store,
            "DELETE FROM memory_moments WHERE id NOT IN"
            " (SELECT id FROM memory_moments ORDER BY id DESC LIMIT ?)",
            (self.limit,),
        )
        return moment

    def last(self, n: int = 20, event: str | None = None) -> list[Moment]:
        """The newest n committed moments, newest first."""
        sql = "SELECT id, at, event, subject, trigger, linked, data FROM memory_moments"
        args: tuple[Any, ...] = ()
        if event:
            sql += " WHERE event = ?"
            args = (event,)
        rows = self.store.query(sql + " ORDER BY id DESC LIMIT ?", (*args, max(0, n)))
        return [
            Moment(
                id=r["id"],
                at=r["at"],
                event=r["event"],
                subject=r["subject"],
                trigger=r["trigger"],
                linked=json.loads(r["linked"]),
                data=json.loads(r["data"]),
            )
            for r in rows
        ]
