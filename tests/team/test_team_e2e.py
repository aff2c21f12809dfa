"""Two real kenetic servers, each with its own store, sharing one team database: a skill
learned in one is offered in the other; malformed rows are refused; the database stopped while
outcomes wait, and both it and the server restarted, loses nothing and counts nothing twice."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from memory.store.database import Store
from memory.team.client import TeamClient
from memory.team.schema import SCHEMA
from tests.e2e.conftest import lsp_session, request
from tests.e2e.test_skills_e2e import SOURCE, Doc, code_actions, execute, learn, site
from tests.team.pg import TEAM_PASSWORD, Postgres

MALFORMED = [
    ("bad-lang", "cobol", "{}", "{}", "{}", 2),
    ("bad-json", "python", "{oops", "{}", "{}", 2),
    ("bad-support", "python", "{}", "{}", "{}", -4),
]


def _options(url: str) -> dict[str, Any]:
    return {"capture": {"idleGapMs": 100},
            "team": {"url": url, "share": "skills", "syncIntervalMs": 150}}  # fmt: skip


def _workspace(root: Path, name: str) -> tuple[Path, Path]:
    ws, home = root / name, root / f"{name}-home"
    ws.mkdir()
    home.mkdir()
    (ws / "app.py").write_text(SOURCE)
    return ws, home


async def _team(client: Any, until: Any, timeout: float = 30) -> dict[str, Any]:
    """Poll kenetic/stats until its `team` satisfies `until`."""
    deadline = time.monotonic() + timeout
    while True:
        team = (await request(client, "kenetic/stats", {}))["team"]
        if until(team):
            return team
        assert time.monotonic() < deadline, team
        await asyncio.sleep(0.1)


async def _offered(client: Any, uri: str, line: int, timeout: float = 30) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        actions = [a for a in await code_actions(client, uri, line)
                   if a["title"].startswith("Apply skill: print")]  # fmt: skip
        if actions:
            return actions
        assert time.monotonic() < deadline, "the team's skill was never offered"
        await asyncio.sleep(0.2)


async def _pushed(url: str, timeout: float = 30) -> None:
    """Wait until the team database holds one good card."""
    deadline = time.monotonic() + timeout
    while not TeamClient(url, "reader").pull().cards:
        assert time.monotonic() < deadline, "the skill was never pushed"
        await asyncio.sleep(0.1)


def _db(url: str) -> str:
    return url.rsplit("/", 1)[1]


async def test_a_skill_learned_in_one_server_is_offered_in_the_other(
    tmp_path: Path, team_url: str, postgres: Postgres
) -> None:
    env = {"PGPASSWORD": TEAM_PASSWORD}
    wa, ha = _workspace(tmp_path, "a")
    wb, hb = _workspace(tmp_path, "b")
    with postgres.admin(_db(team_url)) as conn:  # another developer's rows, malformed
        TeamClient(team_url, "setup").ping()  # the schema, made by the team role
        for key, lang, before, after, guards, support in MALFORMED:
            conn.execute(
                f"INSERT INTO {SCHEMA}.skill_cards (key, developer, name, language,"
                " before_template, after_template, guards, support, specificity, created_at,"
                " updated_at) VALUES (%s, 'mallory', 'x', %s, %s, %s, %s, %s, 0.5, 1, 2)",
                (key, lang, before, after, guards, support),
            )
    async with lsp_session([wa], ha, init_options=_options(team_url), env=env) as a:
        stats = await learn(a, Doc(a, (wa / "app.py").as_uri(), SOURCE))
        assert stats["skills"] == 1
        await _team(a, lambda t: t["state"] == "idle" and t["refused"] == len(MALFORMED))
        await _pushed(team_url)

    async with lsp_session([wb], hb, init_options=_options(team_url), env=env) as b:
        uri = (wb / "app.py").as_uri()
        doc = Doc(b, uri, SOURCE)
        actions = await _offered(b, uri, site(2))
        team = await _team(b, lambda t: t["state"] == "idle")
        assert team["refused"] == len(MALFORMED) and team["lastSync"]
        doc.apply(actions[0]["edit"])
        await execute(b, "kenetic.recordOutcome", actions[0]["command"]["arguments"][0])
        assert "    logger.info(v2)\n" in doc.text
        skills = (await request(b, "kenetic/skills", {}))["skills"]
        assert [s["before"] for s in skills] == ["print($t0)"]
        await _team(b, lambda t: t["pending"] == 0 and t["state"] == "idle")
    key = next(iter(TeamClient(team_url, "reader").pull().totals))
    assert TeamClient(team_url, "reader").totals([key])[key]["accepted"] == 1


def _local_counts(ws: Path) -> dict[str, int]:
    store = Store(ws / ".kenetic" / "kenetic.db")
    try:
        rows = store.query("SELECT outcome, count(*) FROM outcomes WHERE outcome != 'shown'"
                           " GROUP BY outcome")  # fmt: skip
    finally:
        store.close()
    counts = {"accepted": 0, "rejected": 0, "undone": 0}
    counts.update({r[0]: r[1] for r in rows})
    return counts


async def test_database_stopped_mid_sync_loses_nothing_across_restarts(
    tmp_path: Path, team_url: str, postgres: Postgres
) -> None:
    env = {"PGPASSWORD": TEAM_PASSWORD}
    wa, ha = _workspace(tmp_path, "a")
    uri = (wa / "app.py").as_uri()
    options = _options(team_url)
    try:
        async with lsp_session([wa], ha, init_options=options, env=env) as a:
            doc = Doc(a, uri, SOURCE)
            await learn(a, doc)
            await _pushed(team_url)
            postgres.stop()
            for line in (site(2), site(3)):
                actions = await _offered(a, uri, line)
                doc.apply(actions[0]["edit"])
                await execute(a, "kenetic.recordOutcome", actions[0]["command"]["arguments"][0])
            actions = await _offered(a, uri, site(4))
            await execute(
                a,
                "kenetic.recordOutcome",
                {**actions[0]["command"]["arguments"][0], "outcome": "rejected"},
            )
            team = await _team(a, lambda t: t["state"] == "offline" and t["pending"] >= 3)
            assert team["error"] and "unreachable" in team["error"]
        # the server restarts while the database is still away: the deltas wait in the store
        async with lsp_session([wa], ha, init_options=options, env=env) as a:
            await _team(a, lambda t: t["state"] == "offline" and t["pending"] >= 3)
            postgres.start()
            await _team(a, lambda t: t["state"] == "idle" and t["pending"] == 0)
    finally:
        if not (postgres.data / "postmaster.pid").exists():
            postgres.start()
    local = _local_counts(wa)
    assert local["accepted"] == 2 and local["rejected"] >= 1
    key = next(iter(TeamClient(team_url, "reader").pull().totals))
    assert TeamClient(team_url, "reader").totals([key])[key] == local
