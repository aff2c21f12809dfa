"""Skills, suggestions and their outcomes, persisted in a kenetic store.

Skills are mined in memory (memory.skills.miner.SkillMiner) on a background thread; this module
writes them through the store's writer queue, so neither the miner nor a request handler ever waits
on SQLite, and reads them back once when a workspace folder opens. Suggestions and outcomes are
append-only events: per-skill counts live in memory (OutcomeCounts) and are rebuilt from the
outcomes table at load, which is what the rule ranker's acceptance rate reads.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from memory.skills.skill import Skill
from memory.store.database import Store

log = logging.getLogger(__name__)

OUTCOMES = ("shown", "accepted", "rejected", "undone")


@dataclass
class OutcomeCounts:
    """How a skill's suggestions fared; last_used is the latest acceptance or mined example."""

    shown: int = 0
    accepted: int = 0
    rejected: int = 0
    undone: int = 0
    last_used: float = 0.0

    def add(self, outcome: str, at: float, n: int = 1) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        setattr(self, outcome, getattr(self, outcome) + n)
        if outcome == "accepted":
            self.last_used = max(self.last_used, at)

    def to_json(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in OUTCOMES}


@dataclass
class StoredSkill:
    skill: Skill
    deleted: bool = False
    renamed: bool = False
    created_at: float = 0.0
    updated_at: float = 0.0
    outcomes: OutcomeCounts = field(default_factory=OutcomeCounts)


class SkillStore:
    """The skill tables of one store (project or user)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- reads (a folder opening, a skill card) ---------------------------------------------

    def load(self) -> list[StoredSkill]:
        """Every skill with its outcome counts, deleted ones included (mining still needs them
        so a deleted rewrite is not learned again from the next example)."""
        found = self._skills(
            self.store.query(
                "SELECT id, name, renamed, data, created_at, updated_at, deleted FROM skills"
            )
        )
        for row in self.store.query(
            "SELECT skill_id, outcome, count(*) AS n, max(at) AS last FROM outcomes"
            " GROUP BY skill_id, outcome"
        ):
            stored = found.get(row["skill_id"])
            if stored is not None and row["outcome"] in OUTCOMES:
                stored.outcomes.add(row["outcome"], row["last"], row["n"])
        for stored in found.values():
            stored.outcomes.last_used = max(stored.outcomes.last_used, stored.updated_at)
        return list(found.values())

    def load_some(self, ids: list[str]) -> list[StoredSkill]:
        """These skills as stored now, without outcome counts (a library picking up what
        another process saved keeps its own counts)."""
        found: dict[str, StoredSkill] = {}
        for lo in range(0, len(ids), 400):  # bounded IN lists (SQLite's variable limit)
            chunk = tuple(ids[lo : lo + 400])
            found.update(
                self._skills(
                    self.store.query(
                        "SELECT id, name, renamed, data, created_at, updated_at, deleted"
                        f" FROM skills WHERE id IN ({','.join('?' * len(chunk))})",
                        chunk,
                    )
                )
            )
        return list(found.values())

    @staticmethod
    def _skills(rows: list[Any]) -> dict[str, StoredSkill]:
        found: dict[str, StoredSkill] = {}
        for row in rows:
            try:
                skill = Skill.from_json(json.loads(row["data"]))
            except (ValueError, TypeError, KeyError):
                continue  # written by a kenetic whose skill format we do not know: skip it
            skill.name = row["name"]
            found[row["id"]] = StoredSkill(
                skill,
                deleted=bool(row["deleted"]),
                renamed=bool(row["renamed"]),
                created_at=row["created_at"],
                updated_at=row["updated_at"],
            )
        return found

    def totals(self) -> dict[str, int]:
        out = dict.fromkeys(OUTCOMES, 0)
        for row in self.store.query("SELECT outcome, count(*) AS n FROM outcomes GROUP BY outcome"):
            if row["outcome"] in out:
                out[row["outcome"]] = row["n"]
        return out

    def history(self, skill_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """The latest outcomes of one skill, newest first."""
        rows = self.store.query(
            "SELECT o.suggestion_id, o.outcome, o.at, s.kind, s.uri FROM outcomes o"
            " LEFT JOIN suggestions s ON s.id = o.suggestion_id"
            " WHERE o.skill_id = ? ORDER BY o.id DESC LIMIT ?",
            (skill_id, limit),
        )
        return [
            {
                "suggestionId": r["suggestion_id"],
                "outcome": r["outcome"],
                "at": r["at"],
                "kind": r["kind"],
                "uri": r["uri"],
            }
            for r in rows
        ]

    def recent_edits(self, limit: int) -> list[tuple[int, dict[str, Any]]]:
        """The newest edit episodes that carry a structural edit, oldest first: mining replays
        them at load so unpaired examples from before a restart can still pair up."""
        rows = self.store.query(
            "SELECT id, data FROM episodes WHERE kind = 'edit' ORDER BY id DESC LIMIT ?", (limit,)
        )
        out: list[tuple[int, dict[str, Any]]] = []
        for row in reversed(rows):
            try:
                structural = json.loads(row["data"]).get("structural")
            except ValueError:
                continue
            if isinstance(structural, dict):
                out.append((row["id"], structural))
        return out

    # -- writes (through the writer queue) --------------------------------------------------

    def save(self, stored: StoredSkill) -> None:
        """Insert or update a skill; created_at is kept from the first save. The store's
        skill_listeners hear of it (the server indexes skills into memory that way)."""
        skill = stored.skill
        now = time.time()
        stored.updated_at = now
        if not stored.created_at:
            stored.created_at = now
        self.store.execute_later(
            "INSERT INTO skills (id, language, name, renamed, support, specificity, examples,"
            " data, created_at, updated_at, deleted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(id) DO UPDATE SET name = excluded.name, renamed = excluded.renamed,"
            " support = excluded.support, specificity = excluded.specificity,"
            " examples = excluded.examples, data = excluded.data,"
            " updated_at = excluded.updated_at, deleted = excluded.deleted",
            (
                skill.id,
                skill.language,
                skill.name,
                int(stored.renamed),
                skill.support,
                skill.specificity,
                json.dumps(skill.examples),
                json.dumps(skill.to_json(), ensure_ascii=False),
                stored.created_at,
                stored.updated_at,
                int(stored.deleted),
            ),
        )
        for listener in list(self.store.skill_listeners):
            try:
                listener(stored)
            except Exception:  # a listener (memory indexing) must never stop mining
                log.exception("skill listener failed for %s", skill.id)

    def record_suggestion(
        self, suggestion_id: str, skill_id: str, kind: str, uri: str | None, data: Any
    ) -> None:
        """data: a dict kept as JSON, or an object sqlite3 adapts to its JSON itself (the server
        passes one that redacts the site's text on the writer thread)."""
        if isinstance(data, dict):
            data = json.dumps(data, ensure_ascii=False)
        self.store.execute_later(
            "INSERT OR IGNORE INTO suggestions (id, skill_id, kind, uri, created_at, data)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (suggestion_id, skill_id, kind, uri, time.time(), data),
        )

    def record_outcome(
        self, suggestion_id: str, skill_id: str, outcome: str, at: float | None = None
    ) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        self.store.execute_later(
            "INSERT INTO outcomes (suggestion_id, skill_id, outcome, at) VALUES (?, ?, ?, ?)",
            (suggestion_id, skill_id, outcome, time.time() if at is None else at),
        )
