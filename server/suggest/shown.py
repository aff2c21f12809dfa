"""Shown sets: what the ranker ranked and the developer was shown, kept as the TRM's training data.

Every code action, inline completion and kenetic/nextEdits answer ranks candidates with the
context and candidate dicts trm.features reads (server.suggest.service builds them). The ones
that were offered are one shown set: the dicts, in rank order, and the suggestion ids each
candidate was offered under (a code action's site and "in file" actions are one candidate).
A set is written to the workspace store (table shown_sets, migration 3) when the request ends.
When a suggestion's outcome arrives (kenetic.recordOutcome, an alternative rejected by it, the
undo watch) it is written against the newest set that showed it (table shown_outcomes).

`outcome_log` turns the two tables back into trm.train's outcome log; sets nobody acted on are
left out (clients ask for code actions on every cursor move: most sets are never looked at).
The tables are bounded: the newest `max_shown_sets` sets are kept.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from memory.store.database import Store
from server.capture.privacy import RedactedJSON
from server.suggest.session import SiteKey

__all__ = ["ShownLog", "ShownSet", "count_outcome_sets", "outcome_log", "read_outcome_log", "short"]

# a candidate's matchText is the site's own text: redacted before the store keeps it
MATCH_TEXTS = frozenset({"matchText"})
PRUNE_EVERY = 256  # sets written between two prunes of one store


def short(text: str, limit: int = 200) -> str:
    """Whitespace-collapsed and cut: edit shapes and match texts (the replay of
    tests/bench/rank_data.py writes them with this too)."""
    return " ".join(text.split())[:limit]


@dataclass
class ShownSet:
    """One ranking in progress: the dicts of every ranked candidate, and the ids offered."""

    batch: str
    kind: str
    uri: str
    session: str
    context: dict[str, Any]
    candidates: list[dict[str, Any]]  # in the order ranked (found order), not rank order
    order: list[int]  # candidate indices best first
    index: dict[int, int]  # id(Match) ranked -> candidate index (valid while the request runs)
    ids: dict[int, list[str]] = field(default_factory=dict)  # candidate index -> suggestion ids
    at: float = field(default_factory=time.time)
    keys: list[SiteKey] = field(default_factory=list)  # candidate index -> site (if known)

    def offered(self, match_key: int, suggestion_id: str) -> bool:
        i = self.index.get(match_key)
        if i is None:
            return False
        ids = self.ids.setdefault(i, [])
        if suggestion_id not in ids:
            ids.append(suggestion_id)
        return True

    def offered_keys(self) -> list[tuple[SiteKey | None, list[str]]]:
        """(site key, suggestion ids) of each candidate offered, best first."""
        return [
            (self.keys[i] if i < len(self.keys) else None, self.ids[i])
            for i in self.order
            if i in self.ids
        ]

    def row(self) -> dict[str, Any] | None:
        """The JSON kept in the store: only the candidates offered, best first; None if none."""
        shown = [i for i in self.order if i in self.ids]
        if not shown:
            return None
        return {
            "context": self.context,
            "candidates": [self.candidates[i] for i in shown],
            "suggestionIds": [self.ids[i] for i in shown],
        }


class ShownLog:
    """The shown_sets / shown_outcomes tables of one store; writes go through its writer."""

    def __init__(self, store: Store, max_sets: int = 20_000) -> None:
        self.store = store
        self.max_sets = max_sets
        self._written = 0

    def write_set(self, shown: ShownSet, row: dict[str, Any]) -> None:
        self.store.execute_later(
            "INSERT INTO shown_sets (batch, kind, uri, session_id, at, data)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (shown.batch, shown.kind, shown.uri, shown.session, shown.at,
             RedactedJSON(row, MATCH_TEXTS)),
        )  # fmt: skip
        self._written += 1
        if self._written % PRUNE_EVERY == 0:
            self.prune()

    def write_outcome(self, batch: str, suggestion_id: str, outcome: str) -> None:
        self.store.execute_later(
            "INSERT INTO shown_outcomes (batch, suggestion_id, outcome, at) VALUES (?, ?, ?, ?)",
            (batch, suggestion_id, outcome, time.time()),
        )

    def prune(self) -> None:
        """Keep the newest max_sets sets, and the outcomes of the sets kept."""
        self.store.execute_later(
            "DELETE FROM shown_sets WHERE id <= (SELECT max(id) FROM shown_sets) - ?",
            (self.max_sets,),
        )
        self.store.execute_later(
            "DELETE FROM shown_outcomes WHERE at < (SELECT coalesce(min(at), 0) FROM shown_sets)"
        )


def count_outcome_sets(store: Store) -> int:
    """Shown sets with at least one outcome: what trm.minOutcomes counts (reads the store)."""
    rows = store.query(
        "SELECT count(DISTINCT o.batch) FROM shown_outcomes o"
        " WHERE o.batch IN (SELECT batch FROM shown_sets)"
    )
    return int(rows[0][0]) if rows else 0


def read_outcome_log(store: Store, limit: int = 20_000) -> list[dict[str, Any]]:
    """trm.train's outcome log from a store, oldest first (reads the store: not on the loop)."""
    outcomes = [
        (r["batch"], r["suggestion_id"], r["outcome"], r["at"])
        for r in store.query("SELECT batch, suggestion_id, outcome, at FROM shown_outcomes")
    ]
    acted = {o[0] for o in outcomes}
    sets = []
    for r in store.query(
        "SELECT batch, session_id, at, data FROM shown_sets ORDER BY id DESC LIMIT ?", (limit,)
    ):
        if r["batch"] in acted:
            sets.append((r["batch"], r["session_id"], r["at"], r["data"]))
    sets.reverse()
    return outcome_log(sets, outcomes)


def outcome_log(
    sets: Iterable[tuple[str, str, float, str | dict[str, Any]]],
    outcomes: Iterable[tuple[str, str, str, float]],
) -> list[dict[str, Any]]:
    """Shown sets (batch, session, at, data) and outcomes (batch, suggestion id, outcome, at)
    as trm.train's outcome log: one entry per set with an outcome, in the order given.

    accepted_index is the candidate accepted first (by time), None when the set only has
    rejections or undos; undone says that acceptance was undone later. A set whose data does
    not parse is skipped."""
    by_batch: dict[str, list[tuple[float, str, str]]] = {}
    for batch, sid, outcome, at in outcomes:
        by_batch.setdefault(batch, []).append((float(at), sid, outcome))
    log: list[dict[str, Any]] = []
    for batch, session, at, data in sets:
        events = by_batch.get(batch)
        if not events:
            continue
        try:
            row = json.loads(data) if isinstance(data, str) else data
            candidates, ids = row["candidates"], row["suggestionIds"]
            context = row.get("context") or {}
        except (ValueError, TypeError, KeyError):
            continue
        if not isinstance(candidates, list) or not isinstance(ids, list) or not candidates:
            continue
        owner = {sid: i for i, group in enumerate(ids) for sid in _ids(group)}
        events.sort(key=lambda e: e[0])
        accepted: int | None = None
        accepted_sid = ""
        undone = False
        for _, sid, outcome in events:
            i = owner.get(sid)
            if i is None or i >= len(candidates):
                continue
            if outcome == "accepted" and accepted is None:
                accepted, accepted_sid = i, sid
            elif outcome == "undone" and sid == accepted_sid:
                undone = True
        log.append(
            {
                "context": context,
                "candidates": candidates,
                "accepted_index": accepted,
                "undone": undone,
                "session": session,
                "t": float(at),
            }
        )
    return log


def _ids(group: Any) -> Sequence[str]:
    if isinstance(group, str):
        return [group]
    return [str(x) for x in group] if isinstance(group, list) else []
