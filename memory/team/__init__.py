"""The team store: skill cards shared through a PostgreSQL database (docs/team.md).

Local-first: the SQLite store stays the source the editor reads; this package only builds,
checks and moves skill cards (card.py), keeps the PostgreSQL schema (schema.py), talks to the
team database (client.py) and keeps the local side of the sync in the workspace store (local.py).
psycopg is imported lazily, so nothing here loads without the `team` extra until it is used.
"""
