"""The local side of the team store, kept in the workspace's SQLite store.

Nothing waits in memory to be pushed: what is pending is read from the store itself. A card is
pending while the digest of the developer's skill differs from the one last pushed
(team_cards.pushed); an outcome is pending while its row id is past the outcome cursor (meta
`team.<db>.outcomes`). Both move only after the team database committed, so a crash, a restart or
a stopped database loses nothing, and a push repeated after a crash counts nothing twice (a delta's
id is the developer id and the outcome's row id).

The developer id is a random UUID made once per store (meta `team.developer`), never derived
from the user name or host. A pulled skill the developer deleted stays deleted: the sync only
ever hides or shows again the team skills it hid itself (team_cards.hidden).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from memory.skills.skill import Skill
from memory.skills.skill_store import SkillStore, StoredSkill
from memory.store.database import Store
from memory.store.schema import write_wait
from memory.team.card import OUTCOME_KINDS, TEAM_EXAMPLE, SkillCard, card_from_skill

log = logging.getLogger(__name__)

# hidden: why the sync hid a pulled skill (never set when the developer deleted it)
HIDDEN_REJECTED = "rejected"  # the team rejects it (SkillCard.team_rejected)
HIDDEN_OWN = "own"  # the developer learned the same rewrite: their own skill serves it

Redactor = Callable[[Any], tuple[Any, int]]


@dataclass
class Outgoing:
    cards: list[tuple[SkillCard, str]]  # (card, local skill id)
    withheld: int  # cards redaction would have changed: kept local


def _learned_here(skill: Skill) -> bool:
    """Has the developer's own miner added an example (an episode of this store)?"""
    return any(not str(e).startswith(TEAM_EXAMPLE) for e in skill.examples)


def db_tag(url: str) -> str:
    """A short tag of the team database (cursors are per database); the URL never holds a
    password (server.settings refuses one)."""
    return hashlib.sha256(url.encode("utf-8", "replace")).hexdigest()[:12]


class LocalTeam:
    """One store's team bookkeeping; used from that store's sync thread only."""

    def __init__(self, store: Store, url: str) -> None:
        self.store = store
        self.skills = SkillStore(store)
        self.tag = db_tag(url)

    # -- meta -----------------------------------------------------------------------------

    def _meta(self, key: str) -> str | None:
        rows = self.store.query("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def _set_meta(self, key: str, value: str) -> None:
        write_wait(
            self.store,
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def developer(self) -> str:
        found = self._meta("team.developer")
        if found:
            return found
        write_wait(
            self.store,
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('team.developer', ?)",
            (uuid.uuid4().hex,),
        )
        return self._meta("team.developer") or ""

    def outcome_cursor(self) -> int:
        return int(self._meta(f"team.{self.tag}.outcomes") or 0)

    def set_outcome_cursor(self, value: int) -> None:
        self._set_meta(f"team.{self.tag}.outcomes", str(value))

    def pull_cursor(self) -> str:
        return self._meta(f"team.{self.tag}.pulled") or "0"

    def set_pull_cursor(self, value: str) -> None:
        self._set_meta(f"team.{self.tag}.pulled", value)

    def _rows(self) -> dict[str, dict[str, Any]]:
        return {
            r["key"]: dict(r)
            for r in self.store.query(
                "SELECT key, skill_id, origin, pushed, hidden, totals FROM team_cards"
            )
        }

    # -- push -----------------------------------------------------------------------------

    def outgoing(self, developer: str, redact: Redactor, since: float = 0.0) -> Outgoing:
        """The developer's own offered skills whose card changed since it was last pushed."""
        known = self._rows()
        team_ids = {r["skill_id"] for r in known.values() if r["origin"] == "team"}
        cards: list[tuple[SkillCard, str]] = []
        withheld = 0
        for stored in self._own(since):
            skill = stored.skill
            if skill.id in team_ids and not _learned_here(skill):
                continue  # pulled from the team, and not (yet) learned here too
            if skill.support < skill.needed_support():
                continue  # not offered yet
            card = card_from_skill(skill, developer, stored.created_at, stored.updated_at)
            row = known.get(card.key)
            if row is not None and row["pushed"] == f"{self.tag}:{card.digest()}":
                continue
            # redaction again, on exactly what would leave the machine: a card it would change
            # is not sent at all (cutting a template's text would break its spans)
            sent = {"name": card.name, "before": card.before, "after": card.after,
                    "guards": card.guards}  # fmt: skip
            if redact(sent)[1]:
                withheld += 1
                continue
            cards.append((card, skill.id))
        return Outgoing(cards, withheld)

    def _own(self, since: float) -> list[StoredSkill]:
        ids = [
            r["id"]
            for r in self.store.query(
                "SELECT id FROM skills WHERE deleted = 0 AND updated_at >= ?", (since,)
            )
        ]
        return [s for s in self.skills.load_some(ids) if not s.deleted]

    def pushed(self, cards: list[tuple[SkillCard, str]]) -> None:
        """Record cards the team database committed; a pulled copy of the same rewrite the
        developer now has their own skill for is hidden (their own serves it)."""
        known = self._rows()
        now = time.time()
        for card, skill_id in cards:
            row = known.get(card.key)
            if row is not None and row["origin"] == "team" and row["skill_id"] != skill_id:
                self._show(row["skill_id"], hidden=True)
            self.store.execute_later(
                "INSERT INTO team_cards (key, skill_id, origin, pushed, hidden, updated_at)"
                " VALUES (?, ?, 'own', ?, NULL, ?) ON CONFLICT (key) DO UPDATE SET"
                " skill_id = excluded.skill_id, origin = 'own', pushed = excluded.pushed,"
                " hidden = NULL, updated_at = excluded.updated_at",
                (card.key, skill_id, f"{self.tag}:{card.digest()}", now),
            )

    def outgoing_deltas(self, limit: int) -> tuple[list[tuple[str, str, str, float]], int]:
        """Outcome deltas past the cursor, as (delta id, key, outcome, at), and the outcome row
        id to move the cursor to once they are committed. Outcomes of skills the team does not
        hold (never shared, withheld) are passed over."""
        cursor = self.outcome_cursor()
        rows = self.store.query(
            "SELECT id, skill_id, outcome, at FROM outcomes WHERE id > ? ORDER BY id LIMIT ?",
            (cursor, limit),
        )
        if not rows:
            return [], cursor
        keys = {r["skill_id"]: k for k, r in self._rows().items()}
        developer = self.developer()
        deltas = [
            (f"{developer}:{r['id']}", keys[r["skill_id"]], r["outcome"], float(r["at"]))
            for r in rows
            if r["outcome"] in OUTCOME_KINDS and r["skill_id"] in keys
        ]
        return deltas, int(rows[-1]["id"])

    def pending_deltas(self) -> int:
        """Outcome deltas of shared skills not yet in the team database."""
        ids = list({r["skill_id"] for r in self._rows().values()})
        total = 0
        for lo in range(0, len(ids), 400):  # bounded IN lists (SQLite's variable limit)
            chunk = ids[lo : lo + 400]
            total += self.store.query(
                f"SELECT count(*) FROM outcomes WHERE id > ? AND skill_id IN"
                f" ({','.join('?' * len(chunk))})"
                " AND outcome IN ('accepted', 'rejected', 'undone')",
                (self.outcome_cursor(), *chunk),
            )[0][0]
        return total

    # -- pull -----------------------------------------------------------------------------

    def apply(self, cards: list[SkillCard], totals: dict[str, dict[str, int]]) -> int:
        """Make pulled cards skills of the local library; returns how many changed. The team's
        verdict hides (or shows again) a pulled skill; a skill the developer deleted, and the
        developer's own skills, are never touched."""
        known = self._rows()
        changed = 0
        now = time.time()
        for card in cards:
            row = known.get(card.key)
            if row is not None and row["origin"] == "own":
                continue
            skill = card.to_skill()
            local = self.skills.load_some([skill.id])
            mine = bool(local) and not local[0].deleted and _learned_here(local[0].skill)
            if local and (row is None or mine or (local[0].deleted and row["hidden"] is None)):
                # the developer's own skill with this id (learned here, perhaps after it was
                # pulled: it is theirs too now), or a pulled one they deleted
                if row is None:
                    self._map(card.key, skill.id, "own", None, card.totals, now)
                continue
            hidden = HIDDEN_REJECTED if card.team_rejected() else None
            if row is not None and row["hidden"] == HIDDEN_OWN:
                hidden = HIDDEN_OWN
            stored = StoredSkill(skill, deleted=hidden is not None)
            if local:
                stored.created_at = local[0].created_at
            self.skills.save(stored)
            self._map(card.key, skill.id, "team", hidden, card.totals, now)
            changed += 1
        pulled = {c.key for c in cards}
        for key, counts in totals.items():
            row = known.get(key)
            if key in pulled or row is None:
                continue
            self._totals(row, counts, now)
            changed += self._verdict(row, counts)
        return changed

    def _map(
        self, key: str, skill_id: str, origin: str, hidden: str | None, totals: Any, now: float
    ) -> None:
        self.store.execute_later(
            "INSERT INTO team_cards (key, skill_id, origin, pushed, hidden, totals, updated_at)"
            " VALUES (?, ?, ?, NULL, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET"
            " skill_id = excluded.skill_id, origin = excluded.origin, hidden = excluded.hidden,"
            " totals = excluded.totals, updated_at = excluded.updated_at",
            (key, skill_id, origin, hidden, json.dumps(totals), now),
        )

    def _totals(self, row: dict[str, Any], counts: dict[str, int], now: float) -> None:
        self.store.execute_later(
            "UPDATE team_cards SET totals = ?, updated_at = ? WHERE key = ?",
            (json.dumps(counts), now, row["key"]),
        )

    def _verdict(self, row: dict[str, Any], counts: dict[str, int]) -> int:
        """Hide a pulled skill the team now rejects, show again one it no longer does."""
        if row["origin"] != "team" or row["hidden"] == HIDDEN_OWN:
            return 0
        probe = SkillCard("", "", "", "", {}, {}, {}, 0, 0.0, 0.0, 0.0, totals=counts)
        rejected = probe.team_rejected()
        if rejected == (row["hidden"] == HIDDEN_REJECTED):
            return 0
        local = self.skills.load_some([row["skill_id"]])
        if not local or (local[0].deleted and row["hidden"] is None):
            return 0  # gone, or deleted by the developer: theirs to keep deleted
        self._show(row["skill_id"], hidden=rejected)
        self.store.execute_later(
            "UPDATE team_cards SET hidden = ? WHERE key = ?",
            (HIDDEN_REJECTED if rejected else None, row["key"]),
        )
        return 1

    def _show(self, skill_id: str, *, hidden: bool) -> None:
        for stored in self.skills.load_some([skill_id]):
            stored.deleted = hidden
            self.skills.save(stored)

    def team_skills(self) -> list[Skill]:
        """The pulled skills now offered here (tests, the bench)."""
        ids = [
            r["skill_id"]
            for r in self._rows().values()
            if r["origin"] == "team" and not r["hidden"]
        ]
        return [s.skill for s in self.skills.load_some(ids) if not s.deleted]
