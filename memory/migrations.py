"""Numbered schema migrations for the kenetic store.

Each entry moves the schema from version N-1 to N and runs inside one transaction on open. The
version lives in SQLite's `user_version`; a file written by a newer kenetic is refused, never
downgraded.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: episodes, the append-only record of what the developer did
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE episodes (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('edit', 'command', 'agent')),
        session_id TEXT NOT NULL,
        uri TEXT,
        language TEXT,
        started_at REAL NOT NULL,
        ended_at REAL NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX episodes_by_kind ON episodes (kind, id);
    CREATE INDEX episodes_by_uri ON episodes (uri, id);
    """,
    # 2: skills mined from edit episodes, the suggestions made from them and their outcomes
    # (no semicolons inside comments here: the migration is split on them)
    """
    CREATE TABLE skills (
        id TEXT PRIMARY KEY,
        language TEXT NOT NULL,
        name TEXT NOT NULL,
        renamed INTEGER NOT NULL DEFAULT 0,
        support INTEGER NOT NULL,
        specificity REAL NOT NULL,
        examples TEXT NOT NULL,
        data TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        deleted INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX skills_by_language ON skills (language, deleted);
    CREATE TABLE suggestions (
        id TEXT PRIMARY KEY,
        skill_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        uri TEXT,
        created_at REAL NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX suggestions_by_skill ON suggestions (skill_id);
    CREATE TABLE outcomes (
        id INTEGER PRIMARY KEY,
        suggestion_id TEXT NOT NULL,
        skill_id TEXT NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('shown', 'accepted', 'rejected', 'undone')),
        at REAL NOT NULL
    );
    CREATE INDEX outcomes_by_skill ON outcomes (skill_id, outcome);
    """,
]


def latest_version() -> int:
    return len(MIGRATIONS)
