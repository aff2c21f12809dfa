"""The team database client: push cards and outcome deltas, pull the others' cards.

Every call is one short transaction on one connection, with a connect timeout and a statement
timeout, so a slow or stopped server costs the sync thread a bounded wait and nothing more. The
password never passes through kenetic: libpq reads it from PGPASSWORD or ~/.pgpass (PGPASSFILE).

Writers never lose each other's work: cards are upserts keyed by (key, developer); an outcome
delta is inserted once by its unique id (a retried push inserts nothing) and the team's totals
move by exactly the deltas that were inserted, in one statement, keys locked in order.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from memory.team.card import CardError, SkillCard, card_from_row
from memory.team.schema import SCHEMA, migrate

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5
STATEMENT_TIMEOUT_MS = 15_000
DELTA_BATCH = 2000
CARD_BATCH = 500
DEADLOCK_RETRIES = 5


class TeamOffline(Exception):
    """The team database cannot be reached now (down, slow, network): retried later."""


class TeamError(Exception):
    """The team database refused the work (rights, schema): retried later, shown in stats."""


class TeamMissingDriver(TeamError):
    """psycopg is not installed (the `team` extra)."""


@dataclass
class Pulled:
    cards: list[SkillCard] = field(default_factory=list)  # checked, newest per key first
    totals: dict[str, dict[str, int]] = field(default_factory=dict)  # key -> outcome counts
    refused: list[str] = field(default_factory=list)  # why each refused row was refused
    cursor: str = "0"  # pass back to the next pull


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:
        raise TeamMissingDriver("team sync needs psycopg: pip install 'kenetic[team]'") from exc
    return psycopg


class TeamClient:
    """One developer's connection to the team database (not thread-safe: one per sync thread)."""

    def __init__(self, url: str, developer: str) -> None:
        self.url = url
        self.developer = developer
        self._conn: Any = None

    # -- connection ---------------------------------------------------------------------------

    def _connect(self) -> Any:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        psycopg = _psycopg()
        try:
            conn = psycopg.connect(
                self.url,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_S,
                options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
                application_name="kenetic",
            )
        except psycopg.OperationalError as exc:
            raise TeamOffline(_first_line(exc)) from exc
        except psycopg.Error as exc:
            raise TeamError(_first_line(exc)) from exc
        try:
            migrate(conn)
        except Exception:
            conn.close()
            raise
        self._conn = conn
        return conn

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # closing a dead connection: nothing left to do
                log.debug("closing the team connection failed", exc_info=True)
            self._conn = None

    @contextmanager
    def _work(self) -> Iterator[Any]:
        """A connection for one unit of work; connection trouble becomes TeamOffline (and the
        connection is dropped, to be made again), refusals TeamError."""
        psycopg = _psycopg()
        try:
            yield self._connect()
        except (TeamOffline, TeamError):
            raise
        except (psycopg.OperationalError, psycopg.errors.QueryCanceled) as exc:
            self.close()
            raise TeamOffline(_first_line(exc)) from exc
        except psycopg.Error as exc:
            self.close()
            raise TeamError(_first_line(exc)) from exc
        except RuntimeError as exc:  # schema.SchemaError
            self.close()
            raise TeamError(str(exc)) from exc

    def ping(self) -> None:
        with self._work() as conn:
            conn.execute("SELECT 1")

    # -- push ---------------------------------------------------------------------------------

    def push_cards(self, cards: list[SkillCard]) -> None:
        """Upsert this developer's cards (one row per key and developer)."""
        rows = [
            (c.key, self.developer, c.name, c.language, json.dumps(c.before, ensure_ascii=False),
             json.dumps(c.after, ensure_ascii=False), json.dumps(c.guards, ensure_ascii=False),
             c.support, c.specificity, c.created_at, c.updated_at)
            for c in sorted(cards, key=lambda c: c.key)
        ]  # fmt: skip
        for lo in range(0, len(rows), CARD_BATCH):
            self._retrying(self._upsert_cards, rows[lo : lo + CARD_BATCH])

    def _upsert_cards(self, conn: Any, rows: list[tuple[Any, ...]]) -> None:
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {SCHEMA}.skill_cards (key, developer, name, language,"
                " before_template, after_template, guards, support, specificity, created_at,"
                " updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (key, developer) DO UPDATE SET name = excluded.name,"
                " language = excluded.language, before_template = excluded.before_template,"
                " after_template = excluded.after_template, guards = excluded.guards,"
                " support = excluded.support, specificity = excluded.specificity,"
                " updated_at = excluded.updated_at, xid = pg_current_xact_id()",
                rows,
            )

    def push_deltas(self, deltas: list[tuple[str, str, str, float]]) -> int:
        """Insert outcome deltas (delta id, key, outcome, at); those already there are skipped,
        so pushing the same deltas again never counts them twice. Returns how many were new."""
        added = 0
        for lo in range(0, len(deltas), DELTA_BATCH):
            added += self._retrying(self._insert_deltas, deltas[lo : lo + DELTA_BATCH])
        return added

    def _insert_deltas(self, conn: Any, batch: list[tuple[str, str, str, float]]) -> int:
        ids, keys, outcomes, ats = (list(x) for x in zip(*batch, strict=True))
        with conn.transaction():
            row = conn.execute(
                f"WITH ins AS (INSERT INTO {SCHEMA}.outcome_deltas"
                " (delta_id, key, developer, outcome, at)"
                " SELECT d, k, %s, o, a FROM unnest(%s::text[], %s::text[], %s::text[],"
                " %s::float8[]) AS u(d, k, o, a)"
                " ON CONFLICT (delta_id) DO NOTHING RETURNING key, outcome),"
                " agg AS (SELECT key, count(*) FILTER (WHERE outcome = 'accepted') AS a,"
                " count(*) FILTER (WHERE outcome = 'rejected') AS r,"
                " count(*) FILTER (WHERE outcome = 'undone') AS u, count(*) AS n"
                " FROM ins GROUP BY key),"
                f" up AS (INSERT INTO {SCHEMA}.skill_totals AS t (key, accepted, rejected, undone)"
                " SELECT key, a, r, u FROM agg ORDER BY key"
                " ON CONFLICT (key) DO UPDATE SET accepted = t.accepted + excluded.accepted,"
                " rejected = t.rejected + excluded.rejected, undone = t.undone + excluded.undone,"
                " xid = pg_current_xact_id() RETURNING 1)"
                " SELECT coalesce(sum(n), 0) FROM agg",
                (self.developer, ids, keys, outcomes, ats),
            ).fetchone()
        return int(row[0])

    def _retrying(self, work: Any, arg: Any) -> Any:
        """Deadlocks and serialisation failures between writers pass: the transaction is
        simply run again (it is idempotent)."""
        psycopg = _psycopg()
        for attempt in range(DEADLOCK_RETRIES):
            with self._work() as conn:
                try:
                    return work(conn, arg)
                except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure):
                    if attempt == DEADLOCK_RETRIES - 1:
                        raise
                    time.sleep(0.01 * (attempt + 1))
        return None

    # -- pull ---------------------------------------------------------------------------------

    def pull(self, cursor: str = "0") -> Pulled:
        """The other developers' cards and the totals written since `cursor` (checked: a row
        that is not a well-formed card is refused and reported, never returned)."""
        out = Pulled()
        with self._work() as conn, conn.transaction():
            # the oldest transaction still running: rows it writes later carry an xid at least
            # this, so the next pull (from here) cannot miss them
            out.cursor = str(conn.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())")
                             .fetchone()[0])  # fmt: skip
            cur = conn.cursor()
            cur.execute(
                "SELECT key, developer, name, language, before_template AS before,"
                " after_template AS after, guards, support, specificity, created_at, updated_at"
                f" FROM {SCHEMA}.skill_cards WHERE xid >= %s::xid8 AND developer <> %s",
                (cursor, self.developer),
            )
            names = [d.name for d in cur.description or []]
            rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
            for key, a, r, u in conn.execute(
                f"SELECT key, accepted, rejected, undone FROM {SCHEMA}.skill_totals"
                " WHERE xid >= %s::xid8",
                (cursor,),
            ):
                out.totals[key] = {"accepted": int(a), "rejected": int(r), "undone": int(u)}
        best: dict[str, SkillCard] = {}
        for row in rows:
            try:
                card = card_from_row(row)
            except CardError as exc:
                out.refused.append(f"{str(row.get('key'))[:40]}: {exc}")
                continue
            # the team skill is the merge of its developers' cards: the best supported wins
            have = best.get(card.key)
            if have is None or (card.support, card.updated_at) > (have.support, have.updated_at):
                best[card.key] = card
        for card in best.values():
            card.totals = out.totals.get(card.key, card.totals)
        out.cards = list(best.values())
        return out

    def totals(self, keys: list[str]) -> dict[str, dict[str, int]]:
        """The team's outcome totals of these skills (tests and the load bench)."""
        with self._work() as conn:
            rows = conn.execute(
                f"SELECT key, accepted, rejected, undone FROM {SCHEMA}.skill_totals"
                " WHERE key = ANY(%s)",
                (keys,),
            ).fetchall()
        return {k: {"accepted": a, "rejected": r, "undone": u} for k, a, r, u in rows}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]
