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
]


def latest_version() -> int:
    return len(MIGRATIONS)
