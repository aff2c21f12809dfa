"""The team database's schema: numbered migrations, run by the first client that finds it behind.

Everything lives in the schema `kenetic` (owned by the team's role, docs/team.md). Each
migration runs in its own transaction under an advisory lock, so two developers' servers
starting at once migrate once. A database whose schema is newer than this kenetic knows is
refused, never downgraded.

Rows carry the id of the transaction that last wrote them (`xid`, pg_current_xact_id()): a pull
reads the rows written since the oldest transaction still running at its previous pull
(pg_snapshot_xmin), so a card committed late by a slow writer is never skipped.
"""

from __future__ import annotations

from typing import Any

SCHEMA = "kenetic"
# an arbitrary constant: the advisory lock that serialises migrations
MIGRATION_LOCK = 0x6B656E65

MIGRATIONS: list[str] = [
    # 1: one card per skill and developer (the team skill is their merge), the outcome deltas
    # (a retried push inserts nothing twice: delta_id is unique) and their running totals.
    # Templates are kept as text: the client checks them (memory.team.card) on the way back.
    """
    CREATE TABLE kenetic.skill_cards (
        key text NOT NULL,
        developer text NOT NULL,
        name text NOT NULL,
        language text NOT NULL,
        before_template text NOT NULL,
        after_template text NOT NULL,
        guards text NOT NULL,
        support integer NOT NULL,
        specificity double precision NOT NULL,
        created_at double precision NOT NULL,
        updated_at double precision NOT NULL,
        xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
        PRIMARY KEY (key, developer)
    );
    CREATE INDEX skill_cards_by_xid ON kenetic.skill_cards (xid);
    CREATE TABLE kenetic.outcome_deltas (
        delta_id text PRIMARY KEY,
        key text NOT NULL,
        developer text NOT NULL,
        outcome text NOT NULL CHECK (outcome IN ('accepted', 'rejected', 'undone')),
        at double precision NOT NULL
    );
    CREATE INDEX outcome_deltas_by_key ON kenetic.outcome_deltas (key);
    CREATE TABLE kenetic.skill_totals (
        key text PRIMARY KEY,
        accepted bigint NOT NULL DEFAULT 0,
        rejected bigint NOT NULL DEFAULT 0,
        undone bigint NOT NULL DEFAULT 0,
        xid xid8 NOT NULL DEFAULT pg_current_xact_id()
    );
    CREATE INDEX skill_totals_by_xid ON kenetic.skill_totals (xid);
    """,
]


class SchemaError(RuntimeError):
    """The team database cannot be used by this kenetic (newer schema, no schema, no rights)."""


def latest_version() -> int:
    return len(MIGRATIONS)


def migrate(conn: Any) -> int:
    """Bring the team schema up to date on a psycopg connection (autocommit off); its version."""
    with conn.transaction():
        # looked up before creating: a role that may only read and write the tables (no CREATE)
        # must still get through when the schema is current
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        found = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (SCHEMA,))
        if found.fetchone() is None:
            conn.execute(f"CREATE SCHEMA {SCHEMA}")
        table = conn.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.schema_migrations",))
        if table.fetchone()[0] is None:
            conn.execute(
                f"CREATE TABLE {SCHEMA}.schema_migrations"
                " (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
    version = _version(conn)
    if version > latest_version():
        raise SchemaError(
            f"the team database has schema {version}, newer than this kenetic knows"
            f" ({latest_version()}): upgrade kenetic"
        )
    while version < latest_version():
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            version = _version(conn)  # another client may have migrated while we waited
            if version >= latest_version():
                break
            for statement in MIGRATIONS[version].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(
                f"INSERT INTO {SCHEMA}.schema_migrations (version) VALUES (%s)", (version + 1,)
            )
        version = _version(conn)
    return version


def _version(conn: Any) -> int:
    with conn.transaction():
        row = conn.execute(f"SELECT coalesce(max(version), 0) FROM {SCHEMA}.schema_migrations")
        return int(row.fetchone()[0])
