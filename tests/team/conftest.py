"""The team tests' PostgreSQL: one server for the session (tests/team/pg.py), a fresh team
database for each test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# workspace and home (an empty folder, and the developer's home: the servers get
# XDG_CONFIG_HOME=<home>/config), as the e2e tests have them
from tests.e2e.conftest import home, workspace  # noqa: F401
from tests.team.pg import TEAM_PASSWORD, Postgres


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    pg = Postgres()
    pg.start()
    try:
        yield pg
    finally:
        pg.destroy()


@pytest.fixture
def team_url(postgres: Postgres, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new team database's URL; the role's password is in PGPASSWORD, as documented."""
    monkeypatch.setenv("PGPASSWORD", TEAM_PASSWORD)
    if not postgres_running(postgres):
        postgres.start()  # a test that stopped it and failed before starting it again
    return postgres.team_database()


def postgres_running(pg: Postgres) -> bool:
    return os.path.exists(pg.data / "postmaster.pid")
