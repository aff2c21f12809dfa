"""One folder's sync (server.team_sync.FolderSync) between real SQLite stores and a real team
database: push and pull, outcome totals, the developer's deletes, the team's verdict, redaction,
and nothing lost while the database is stopped, across a restart."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from memory.skills.skill_store import SkillStore, StoredSkill
from memory.store.database import Store
from memory.team.card import skill_key
from memory.team.client import TeamClient, TeamError, TeamOffline
from memory.team.local import LocalTeam
from server.settings import resolve
from server.team_sync import FolderSync
from server.workspaces import Folder
from tests.team.pg import Postgres
from tests.team.test_cards import _skill


class Dev:
    """One developer: a store of their own, synced by hand (one cycle per call)."""

    def __init__(self, root: Path, url: str) -> None:
        self.root, self.url = root, url
        self.open()

    def open(self) -> None:
        self.store = Store(self.root / "kenetic.db")
        settings, errors = resolve([{"team": {"url": self.url, "share": "skills"}}])
        assert not errors
        self.folder = Folder(uri=self.root.as_uri(), path=self.root, settings=settings,
                             store=self.store)  # fmt: skip
        self.sync = FolderSync(self.folder, self.store, self.url, lambda m: None)
        self.skills = SkillStore(self.store)

    def cycle(self) -> None:
        self.sync._cycle()
        self.store.flush()

    def close(self) -> None:
        if self.sync._client is not None:
            self.sync._client.close()
        self.store.close()

    def live(self) -> dict[str, StoredSkill]:
        return {s.skill.id: s for s in self.skills.load() if not s.deleted}

    def outcome(self, skill_id: str, outcome: str, n: int = 1) -> None:
        for k in range(n):
            self.skills.record_outcome(f"s-{outcome}-{k}", skill_id, outcome)
        self.store.flush()


@pytest.fixture
def devs(tmp_path: Path, team_url: str) -> Any:
    made: list[Dev] = []

    def dev(name: str) -> Dev:
        (tmp_path / name).mkdir()
        made.append(Dev(tmp_path / name, team_url))
        return made[-1]

    yield dev
    for d in made:
        d.close()


def test_a_skill_learned_by_one_is_offered_to_the_other(devs: Any, team_url: str) -> None:
    a, b = devs("a"), devs("b")
    skill = _skill()
    a.skills.save(StoredSkill(skill))
    a.store.flush()
    a.cycle()
    assert a.sync.state == "idle" and a.sync.last_sync is not None
    b.cycle()
    pulled = list(b.live().values())
    assert len(pulled) == 1 and skill_key(pulled[0].skill) == skill_key(skill)
    assert pulled[0].skill.support == skill.support
    assert all(e.startswith("team:") for e in pulled[0].skill.examples)
    team_id = pulled[0].skill.id

    a.outcome(skill.id, "accepted", 3)
    b.outcome(team_id, "rejected", 1)
    b.outcome(team_id, "shown", 2)  # shown is local: the ranker's, never a team outcome
    assert LocalTeam(a.store, team_url).pending_deltas() == 3
    a.cycle()
    b.cycle()
    assert a.sync.pending == 0 and b.sync.pending == 0
    totals = TeamClient(team_url, "t").totals([skill_key(skill)])
    assert totals[skill_key(skill)] == {"accepted": 3, "rejected": 1, "undone": 0}
    a.cycle()  # nothing new: nothing pushed twice, nothing pulled back as a new card
    b.cycle()
    assert TeamClient(team_url, "t").totals([skill_key(skill)])[skill_key(skill)]["accepted"] == 3
    assert len(a.live()) == 1  # a's own skill; the team copy is not made beside it


def _three_sharing(devs: Any) -> tuple[Any, Any, Any, Any]:
    """Developers a, b and c, after a's skill has gone through the team store to b and c."""
    a, b, c = devs("a"), devs("b"), devs("c")
    skill = _skill()
    a.skills.save(StoredSkill(skill))
    a.store.flush()
    for dev in (a, b, c):
        dev.cycle()
    return a, b, c, skill


def test_a_deleted_team_skill_stays_deleted_for_that_developer_only(devs: Any) -> None:
    a, b, c, skill = _three_sharing(devs)
    (pulled,) = b.live().values()
    pulled.deleted = True  # as kenetic.deleteSkill does
    b.skills.save(pulled)
    b.store.flush()
    skill.support += 3  # a learns more: the card changes and is pushed again
    a.skills.save(StoredSkill(skill))
    a.store.flush()
    a.cycle()
    b.cycle()
    c.cycle()
    assert b.live() == {}
    assert [s.skill.support for s in c.live().values()] == [skill.support]


def test_a_skill_the_team_rejects_is_no_longer_offered(devs: Any) -> None:
    a, b, c, skill = _three_sharing(devs)
    (team_id,) = b.live()
    b.outcome(team_id, "rejected", 4)
    c.outcome(team_id, "rejected", 2)
    b.cycle()
    c.cycle()
    a.cycle()
    b.cycle()  # sees c's rejections too: 6 rejected, 0 accepted
    assert b.live() == {} and c.live() == {}  # muted by the team, not by the developer
    assert skill.id in a.live()  # its author keeps it, ranked by their own outcomes
    a.outcome(skill.id, "accepted", 4)  # 6 rejected <= 2 x 4 accepted: offered again
    a.cycle()
    b.cycle()
    assert list(b.live()) == [team_id]


def test_a_card_redaction_would_change_is_not_sent(devs: Any, team_url: str) -> None:
    a, b = devs("a"), devs("b")
    skill = _skill()
    skill.name = "use token ghp_abcdefghijklmnopqrstuvwxyz0123456789"
    a.skills.save(StoredSkill(skill, renamed=True))
    a.store.flush()
    a.cycle()
    assert a.sync.withheld == 1
    b.cycle()
    assert b.live() == {}


def test_nothing_is_lost_while_the_database_is_stopped(
    devs: Any, postgres: Postgres, team_url: str
) -> None:
    a = devs("a")
    skill = _skill()
    a.skills.save(StoredSkill(skill))
    a.store.flush()
    a.cycle()
    a.outcome(skill.id, "accepted", 2)
    postgres.stop()
    try:
        a.outcome(skill.id, "rejected", 3)
        with pytest.raises(TeamOffline):
            a.cycle()
        assert a.sync.pending == 5
        a.close()  # the server restarts while the database is away
        a.open()
        with pytest.raises(TeamOffline):
            a.cycle()
        a.outcome(skill.id, "undone", 1)
    finally:
        postgres.start()
    a.cycle()
    assert a.sync.pending == 0
    key = skill_key(skill)
    assert TeamClient(team_url, "t").totals([key])[key] == {
        "accepted": 2, "rejected": 3, "undone": 1}  # fmt: skip
    # a crash after the database committed but before the cursor moved pushes again: no double
    LocalTeam(a.store, team_url).set_outcome_cursor(0)
    a.cycle()
    assert TeamClient(team_url, "t").totals([key])[key]["accepted"] == 2
    rows = a.store.query("SELECT value FROM meta WHERE key = 'team.developer'")
    assert len(json.dumps(rows[0][0])) > 10  # a random id, made once


def test_without_the_driver_sync_is_an_error_not_a_crash(
    devs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = devs("a")
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if the team extra were not installed
    with pytest.raises(TeamError, match=r"pip install 'kenetic\[team\]'"):
        a.cycle()
    messages: list[str] = []
    sync = FolderSync(a.folder, a.store, a.url, messages.append)
    sync.start()
    try:
        deadline = time.monotonic() + 10
        while sync.state != "error":
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        sync.stop()
    assert sync.stats()["state"] == "error" and len(messages) == 1
    assert "kenetic[team]" in messages[0]
