"""The TRM's shown-set log: shown sets and outcomes in the store -> trm.train's outcome log."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from memory.store.database import Store
from server.settings import Settings
from server.suggest.ranking import RankingService
from server.suggest.shown import (
    ShownLog,
    ShownSet,
    count_outcome_sets,
    outcome_log,
    read_outcome_log,
)
from server.suggest.trm_state import TrmState

CTX = {"kind": "codeAction", "now": 100.0, "language": "python", "cursorNodeTypes": ["call"]}


def cand(skill: str, delta: int) -> dict[str, Any]:
    return {"skillId": skill, "support": 2, "lineDelta": delta, "sameFile": True}


def row(ids: list[list[str]], n: int | None = None) -> dict[str, Any]:
    n = len(ids) if n is None else n
    candidates = [cand(f"s{i}", i) for i in range(n)]
    return {"context": CTX, "candidates": candidates, "suggestionIds": ids}


def test_outcome_log_from_sets_and_outcomes() -> None:
    sets = [
        ("b1", "sess", 10.0, json.dumps(row([["a"], ["b", "b-file"]]))),  # accepted (file action)
        ("b2", "sess", 11.0, row([["c"], ["d"]])),  # rejected only
        ("b3", "sess", 12.0, row([["e"]])),  # accepted then undone
        ("b4", "sess", 13.0, row([["f"]])),  # shown, never acted on: left out
        ("b5", "sess", 14.0, "{not json"),  # unreadable: skipped
        ("b6", "other", 15.0, row([["g"], ["h"]])),  # two accepted: the first in time wins
    ]
    outcomes = [
        ("b1", "b-file", "accepted", 20.0),
        ("b1", "a", "rejected", 20.0),
        ("b2", "d", "rejected", 21.0),
        ("b3", "e", "accepted", 22.0),
        ("b3", "e", "undone", 23.0),
        ("b5", "x", "accepted", 24.0),
        ("b6", "h", "accepted", 26.0),
        ("b6", "g", "accepted", 25.0),
        ("zz", "q", "accepted", 1.0),  # a set pruned away
    ]
    log = outcome_log(sets, outcomes)
    assert [e["accepted_index"] for e in log] == [1, None, 0, 0]
    assert [e["undone"] for e in log] == [False, False, True, False]
    assert [e["session"] for e in log] == ["sess", "sess", "sess", "other"]
    assert [e["t"] for e in log] == [10.0, 11.0, 12.0, 15.0]
    first = log[0]
    assert first["context"] == CTX and [c["skillId"] for c in first["candidates"]] == ["s0", "s1"]
    assert set(first) == {"context", "candidates", "accepted_index", "undone", "session", "t"}


def test_shown_set_row_keeps_offered_candidates_best_first() -> None:
    shown = ShownSet("b", "codeAction", "file:///a.py", "s", CTX,
                     [cand("x", 0), cand("y", 1), cand("z", 2)], order=[2, 0, 1],
                     index={101: 0, 102: 1, 103: 2})  # fmt: skip
    assert shown.row() is None
    assert shown.offered(103, "sg_z") and shown.offered(101, "sg_x")
    assert shown.offered(103, "sg_z_file") and shown.offered(103, "sg_z")
    assert not shown.offered(999, "sg_other")
    data = shown.row()
    assert data is not None
    assert [c["skillId"] for c in data["candidates"]] == ["z", "x"]
    assert data["suggestionIds"] == [["sg_z", "sg_z_file"], ["sg_x"]]


@pytest.fixture
def store(tmp_path: Path) -> Any:
    s = Store(tmp_path / ".kenetic" / "kenetic.db")
    yield s
    s.close()


def _service(store: Store, **trm: Any) -> tuple[RankingService, TrmState]:
    """A ranking service over one folder's store, its start-up load done."""
    settings = Settings.model_validate({"trm": {"minOutcomes": 1000, **trm}})
    folder = SimpleNamespace(store=store, settings=settings)
    service = RankingService(lambda uri: folder)  # type: ignore[arg-type,return-value]
    state = service.attach(folder)  # type: ignore[arg-type]
    assert state is not None
    service.wait_loaded()
    return service, state


def test_store_round_trip_and_bound(store: Store) -> None:
    log = ShownLog(store, max_sets=100)
    for k in range(130):
        shown = ShownSet(f"b{k}", "codeAction", "file:///a.py", "s", CTX, [cand("x", 0)], [0],
                         {1: 0}, at=1000.0 + k)  # fmt: skip
        shown.offered(1, f"sg{k}")
        data = shown.row()
        assert data is not None
        log.write_set(shown, data)
        if k % 2 == 0:
            log.write_outcome(f"b{k}", f"sg{k}", "accepted" if k % 4 == 0 else "rejected")
    log.prune()
    assert store.flush()
    assert store.query("SELECT count(*) FROM shown_sets")[0][0] == 100
    assert count_outcome_sets(store) == 50  # sets 30..129 kept, every other one acted on
    entries = read_outcome_log(store)
    assert len(entries) == 50 and entries[0]["t"] == 1030.0
    assert [e["accepted_index"] for e in entries[:2]] == [None, 0]  # b30 rejected, b32 accepted
    assert read_outcome_log(store, limit=10)[-1]["t"] == 1128.0


def test_ranking_service_logs_each_set_once_and_counts_outcomes(store: Store) -> None:
    service, state = _service(store)
    matches = [object(), object()]

    def show(batch: str, ids: list[str]) -> None:
        service.begin(
            ShownSet(batch, "codeAction", "file:///a.py", "s", CTX, [cand("x", 0), cand("y", 3)],
                     [1, 0], {id(m): k for k, m in enumerate(matches)}),
            state,
        )  # fmt: skip
        for m, sid in zip(matches, ids, strict=True):
            service.offered(batch, id(m), sid)
        service.end(batch)

    show("b1", ["s1", "s2"])
    show("b2", ["s1", "s2"])  # the cursor moved within the site: the same set, not logged again
    show("b3", ["s3", "s2"])
    service.outcome("s2", "accepted")  # s2 now belongs to b3, the newest set that showed it
    service.outcome("s3", "rejected")
    service.outcome("s1", "rejected")
    service.outcome("unknown", "accepted")
    assert state.outcome_sets == 2 and state.new_outcomes == 2
    assert store.flush()
    assert [r[0] for r in store.query("SELECT batch FROM shown_sets ORDER BY id")] == ["b1", "b3"]
    entries = read_outcome_log(store)
    assert [e["accepted_index"] for e in entries] == [None, 0]  # b3 ranks s2 (y) first
    assert entries[1]["candidates"][0]["skillId"] == "y"
    # the shipped linear ranker serves from the first suggestion (docs/trm.md)
    assert service.stats()["outcomes"] == 2 and service.stats()["ranker"] == "lr"


def test_log_feeds_trm_training_data() -> None:
    pytest.importorskip("torch")
    from trm.train import prepare

    sets = [(f"b{k}", "s", float(k), row([["a"], ["b"], ["c"]])) for k in range(4)]
    outcomes = [("b0", "b", "accepted", 1.0), ("b1", "c", "accepted", 2.0),
                ("b2", "a", "accepted", 3.0), ("b2", "a", "undone", 4.0),
                ("b3", "a", "rejected", 5.0)]  # fmt: skip
    data = prepare(outcome_log(sets, outcomes))
    assert data.target.tolist() == [1, 2, -1, -1]  # undone and none accepted: no target
    assert data.prev.tolist() == [-1, 0, -1, -1]


def test_ranking_service_counts_sites_shown_and_not_accepted(store: Store) -> None:
    service, state = _service(store)
    matches = [object(), object(), object()]
    keys = [("file:///a.py", "x", f"{n} => m") for n in "abc"]

    def show(batch: str, ids: list[str]) -> None:
        service.begin(
            ShownSet(batch, "codeAction", "file:///a.py", "s", CTX, [cand("x", 0)] * 3, [0, 1, 2],
                     {id(m): k for k, m in enumerate(matches)}, keys=keys),
            state,
        )  # fmt: skip
        for m, sid in zip(matches, ids, strict=False):  # the third site is ranked, not offered
            service.offered(batch, id(m), sid)
        service.end(batch)

    show("b1", ["s1", "s2"])
    show("b2", ["s1", "s2"])  # the same set again: not logged, not counted
    show("b3", ["s3", "s4"])
    assert [state.sites.get(k) for k in keys] == [2, 2, 0]
    service.outcome("s3", "accepted")  # taken from b3: only b1 showed it without taking it
    service.outcome("s4", "rejected")
    assert [state.sites.get(k) for k in keys] == [1, 2, 0]


def test_a_checkpoint_another_process_wrote_is_adopted_without_a_restart(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("torch")
    import time

    from server.suggest import trm_state
    from trm.checkpoint import save
    from trm.model import TRM, TRMConfig

    monkeypatch.setattr(trm_state, "CHECK_NEWER_S", 0.0)
    # the TRM pinned: serving it as soon as it loads (unpinned, it first has to beat the
    # shipped linear ranker on later outcomes, server.suggest.champion)
    service, state = _service(store, champion="trm")
    candidates = [cand("x", 0), cand("y", 3)]
    assert service.score(state, CTX, candidates)[1] == "lr"  # no TRM yet: the shipped one

    def settle(version: int) -> str:
        deadline = time.monotonic() + 30
        while state.holder.version != version or state.loading:
            assert time.monotonic() < deadline, "the checkpoint was not loaded"
            service.score(state, CTX, candidates)
            time.sleep(0.05)
        return service.score(state, CTX, candidates)[1]

    state.directory.mkdir(parents=True, exist_ok=True)
    save(TRM(TRMConfig()), state.directory / "trm-v1.pt")  # as `kenetic train` would
    assert settle(1) == "trm v1"
    # a broken newer one is refused once, logged once, and v1 keeps serving
    (state.directory / "trm-v2.pt").write_bytes(b"not a checkpoint" * 64)
    with caplog.at_level("WARNING", logger="server.suggest.trm_state"):
        for _ in range(5):
            service.score(state, CTX, candidates)
            time.sleep(0.05)
        deadline = time.monotonic() + 30
        while state.loading and time.monotonic() < deadline:
            time.sleep(0.05)
        assert service.score(state, CTX, candidates)[1] == "trm v1"
    refused = [r for r in caplog.records if "not loaded" in r.getMessage()]
    assert len(refused) == 1 and "trm" in refused[0].getMessage()


def test_secret_looking_match_texts_are_redacted_before_they_are_kept(store: Store) -> None:
    # a match text is the site's own text: a skill deleting `app.secret_key = ...` lines shows
    # the key, which must not reach the store
    log = ShownLog(store)
    site = {**cand("x", 0), "matchText": "app.secret_key = 'hunter2-prod-key' => "}
    plain = {**cand("y", 1), "matchText": "print => logger.info"}
    shown = ShownSet("b1", "codeAction", "file:///a.py", "s", CTX, [site, plain], [0, 1],
                     {1: 0, 2: 1})  # fmt: skip
    shown.offered(1, "sg1")
    shown.offered(2, "sg2")
    data = shown.row()
    assert data is not None
    log.write_set(shown, data)
    assert store.flush()
    (kept,) = store.query("SELECT data FROM shown_sets")[0]
    assert "hunter2" not in kept
    texts = [c["matchText"] for c in json.loads(kept)["candidates"]]
    assert texts == ["app.secret_key = '«redacted»' => ", "print => logger.info"]
    assert data["candidates"][0]["matchText"].startswith("app.secret_key = 'hunter2")  # not mutated
