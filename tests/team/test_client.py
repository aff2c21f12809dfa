"""The team database client against a real PostgreSQL: migrations, idempotent and concurrent
pushes, merging, refusing malformed rows, and the least-privilege role."""

from __future__ import annotations

import json
import threading
from typing import Any

import psycopg
import pytest

from memory.team.card import card_from_skill
from memory.team.client import TeamClient, TeamError, TeamOffline
from memory.team.schema import SCHEMA, latest_version
from tests.team.pg import TEAM_ROLE, Postgres
from tests.team.test_cards import DOC, _renamed, _skill
from tests.unit.skills.mined import mine


def _db(url: str) -> str:
    return url.rsplit("/", 1)[1]


def test_concurrent_clients_migrate_once(team_url: str, postgres: Postgres) -> None:
    clients = [TeamClient(team_url, f"dev{k}") for k in range(6)]
    threads = [threading.Thread(target=c.ping) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with postgres.admin(_db(team_url)) as conn:
        rows = conn.execute(f"SELECT version FROM {SCHEMA}.schema_migrations").fetchall()
        assert [r[0] for r in rows] == list(range(1, latest_version() + 1))
        conn.execute(f"INSERT INTO {SCHEMA}.schema_migrations (version) VALUES (99)")
    with pytest.raises(TeamError, match="newer than this kenetic"):
        TeamClient(team_url, "late").ping()


def test_retried_and_concurrent_pushes_count_each_delta_once(team_url: str) -> None:
    # 8 writers; each delta is pushed by two of them, and every writer pushes twice
    deltas = [(f"d{k}", f"key{k % 7}", ("accepted", "rejected", "undone")[k % 3], 1.0)
              for k in range(4000)]  # fmt: skip
    shares = [deltas[k * 500 : (k + 2) * 500] for k in range(8)]
    added: list[int] = []

    def push(part: list[Any], dev: str) -> None:
        client = TeamClient(team_url, dev)
        added.append(client.push_deltas(part) + client.push_deltas(part))
        client.close()

    threads = [threading.Thread(target=push, args=(p, f"w{k}")) for k, p in enumerate(shares)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(added) == 4000
    totals = TeamClient(team_url, "reader").totals([f"key{k}" for k in range(7)])
    for k in range(7):
        mine_ = [d for d in deltas if d[1] == f"key{k}"]
        want = {o: sum(1 for d in mine_ if d[2] == o) for o in ("accepted", "rejected", "undone")}
        assert totals[f"key{k}"] == want


def test_one_rewrite_learned_by_two_developers_is_one_team_skill(team_url: str) -> None:
    skill = _skill()
    other = _renamed(skill, "h0", "h7") if '"h0"' in json.dumps(skill.to_json()) else skill
    a, b, c = (TeamClient(team_url, d) for d in ("dev-a", "dev-b", "dev-c"))
    card_a = card_from_skill(skill, "dev-a", 1.0, 2.0)
    card_b = card_from_skill(other, "dev-b", 1.0, 3.0)
    card_b.support = 5
    a.push_cards([card_a])
    b.push_cards([card_b])
    assert card_a.key == card_b.key
    a.push_deltas([("a:1", card_a.key, "accepted", 1.0), ("a:2", card_a.key, "rejected", 1.0)])
    b.push_deltas([("b:1", card_b.key, "accepted", 1.0)])
    pulled = c.pull()
    assert [p.key for p in pulled.cards] == [card_a.key]
    assert pulled.cards[0].support == 5  # the best supported developer's card
    assert pulled.cards[0].totals == {"accepted": 2, "rejected": 1, "undone": 0}
    again = c.pull(pulled.cursor)
    assert again.cards == [] and again.refused == []
    assert [p.key for p in a.pull().cards] == [card_a.key]  # b's card, not its own


def test_malformed_rows_are_refused_and_good_ones_still_pulled(
    team_url: str, postgres: Postgres
) -> None:
    good = card_from_skill(_skill(), "dev-a", 1.0, 2.0)
    TeamClient(team_url, "dev-a").push_cards([good])
    bad_rows = [
        ("k-lang", "cobol", "{}", "{}", "{}", 2),
        ("k-json", "python", "{oops", "{}", "{}", 2),
        ("k-neg", "python", json.dumps(good.before), json.dumps(good.after), "{}", -1),
        ("k-guard", "python", json.dumps(good.before), json.dumps(good.after), "[1]", 2),
        ("k-huge", "python", json.dumps({"parts": [], "skeleton": "x" * 70_000}), "{}", "{}", 2),
    ]
    with postgres.admin(_db(team_url)) as conn:
        for key, lang, before, after, guards, support in bad_rows:
            conn.execute(
                f"INSERT INTO {SCHEMA}.skill_cards (key, developer, name, language,"
                " before_template, after_template, guards, support, specificity, created_at,"
                " updated_at) VALUES (%s, 'mallory', 'x', %s, %s, %s, %s, %s, 0.5, 1, 2)",
                (key, lang, before, after, guards, support),
            )
    pulled = TeamClient(team_url, "dev-b").pull()
    assert [c.key for c in pulled.cards] == [good.key]
    assert sorted(r.split(":")[0] for r in pulled.refused) == sorted(r[0] for r in bad_rows)


def test_the_team_role_has_least_privilege(team_url: str) -> None:
    with psycopg.connect(team_url, autocommit=True) as conn:
        role = conn.execute(
            "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = %s",
            (TEAM_ROLE,),
        ).fetchone()
        assert role == (False, False, False)
        for sql in ("CREATE DATABASE other", "CREATE TABLE public.t (x int)",
                    "CREATE ROLE someone"):  # fmt: skip
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)


def test_a_stopped_server_is_offline_not_an_error(postgres: Postgres, team_url: str) -> None:
    client = TeamClient(team_url, "dev-a")
    client.ping()
    postgres.stop()
    try:
        with pytest.raises(TeamOffline):
            client.push_deltas([("x:1", "k", "accepted", 1.0)])
        with pytest.raises(TeamOffline):
            TeamClient(team_url, "dev-b").ping()
    finally:
        postgres.start()
    assert client.push_deltas([("x:1", "k", "accepted", 1.0)]) == 1  # reconnects


def test_other_rewrites_of_the_doc_make_other_cards() -> None:
    _, made, _ = mine("python", DOC, ("print(x)", "log(x)"), ("print(y)", "log(y)"))
    assert card_from_skill(made[0], "a", 1, 2).key != card_from_skill(_skill(), "a", 1, 2).key
