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
    # 3: the TRM's training data (server.suggest.shown) - each set of suggestions shown at once
    # (the ranker's context and candidate dicts, JSON) and what became of them, keyed by batch
    """
    CREATE TABLE shown_sets (
        id INTEGER PRIMARY KEY,
        batch TEXT NOT NULL,
        kind TEXT NOT NULL,
        uri TEXT,
        session_id TEXT NOT NULL,
        at REAL NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX shown_sets_by_batch ON shown_sets (batch);
    CREATE TABLE shown_outcomes (
        id INTEGER PRIMARY KEY,
        batch TEXT NOT NULL,
        suggestion_id TEXT NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'rejected', 'undone')),
        at REAL NOT NULL
    );
    CREATE INDEX shown_outcomes_by_batch ON shown_outcomes (batch);
    """,
    # 4: memory proper (memory.recall.index, memory.recall.graph, memory.recall.als,
    # memory.recall.moments). Stores written before this migration may already hold these tables (an
    # older kenetic created them on first use), hence IF NOT EXISTS.
    """
    CREATE TABLE IF NOT EXISTS memory_items (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL CHECK (kind IN ('episode', 'skill', 'pattern', 'note')),
        ref_id TEXT,
        text TEXT NOT NULL,
        language TEXT,
        uri TEXT,
        source TEXT,
        created_at REAL NOT NULL,
        used_at REAL NOT NULL,
        use_count INTEGER NOT NULL DEFAULT 0,
        importance REAL NOT NULL DEFAULT 0.5,
        pinned INTEGER NOT NULL DEFAULT 0,
        protected INTEGER NOT NULL DEFAULT 0,
        data TEXT NOT NULL DEFAULT '{}'
    );
    CREATE UNIQUE INDEX IF NOT EXISTS memory_items_by_ref ON memory_items (kind, ref_id);
    CREATE INDEX IF NOT EXISTS memory_items_by_created ON memory_items (created_at);
    CREATE INDEX IF NOT EXISTS memory_items_by_uri ON memory_items (uri);
    CREATE TABLE IF NOT EXISTS memory_links (
        src TEXT NOT NULL,
        dst TEXT NOT NULL,
        type TEXT NOT NULL,
        weight REAL NOT NULL DEFAULT 1.0,
        created_at REAL NOT NULL,
        PRIMARY KEY (src, dst, type)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS memory_links_by_dst ON memory_links (dst, type);
    CREATE TABLE IF NOT EXISTS memory_state (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE IF NOT EXISTS memory_moments (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        event TEXT NOT NULL,
        subject TEXT,
        trigger TEXT,
        linked TEXT NOT NULL DEFAULT '[]',
        data TEXT NOT NULL DEFAULT '{}'
    );
    """,
    # 5: the local side of the team store (memory.team.local) - which skill each team key is
    # here, whether it is the developer's own or pulled from the team, the digest of the card
    # last pushed, why the sync hid a pulled skill, and the team's outcome totals. What is still
    # to push is derived from the skills and outcomes tables and the cursors kept in meta, so
    # it survives restarts with them
    """
    CREATE TABLE team_cards (
        key TEXT PRIMARY KEY,
        skill_id TEXT NOT NULL,
        origin TEXT NOT NULL CHECK (origin IN ('own', 'team')),
        pushed TEXT,
        hidden TEXT,
        totals TEXT NOT NULL DEFAULT '{}',
        updated_at REAL NOT NULL
    );
    CREATE INDEX team_cards_by_skill ON team_cards (skill_id);
    """,
]


def latest_version() -> int:
    return len(MIGRATIONS)
