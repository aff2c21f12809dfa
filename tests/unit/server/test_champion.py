"""Which ranker serves (server/suggest/champion.py): the interval, the switching rule, judging
real sets, and the evidence surviving a restart in a real store."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import pytest

from memory.store.database import Store
from server.suggest.champion import (
    HISTORY_MAX,
    MIN_SETS,
    Champion,
    Judged,
    decide,
    evidence,
    interval,
    reciprocal_rank,
)
from trm.linear import LinearRanker
from trm.trm_ranker import ModelHolder

SINCE = {"rules": 0.0, "lr": 0.0, "trm": math.inf}


def sets(n: int, rules: float, lr: float, at: float = 10.0, trm: float | None = None,
         version: int = 0) -> list[Judged]:  # fmt: skip
    rr = {"rules": rules, "lr": lr, **({"trm": trm} if trm is not None else {})}
    return [Judged(at + k, dict(rr), version) for k in range(n)]


def test_interval_is_the_normal_approximation() -> None:
    mean, lo, hi = interval([1.0, 2.0, 3.0])
    assert mean == 2.0
    assert lo == pytest.approx(2.0 - 1.959964 / math.sqrt(3))
    assert hi == pytest.approx(2.0 + 1.959964 / math.sqrt(3))
    assert interval([0.5] * 40) == (0.5, 0.5, 0.5)
    assert interval([0.2])[1:] == (-math.inf, math.inf)  # one difference says nothing
    assert all(math.isnan(v) for v in interval([]))


def test_no_switch_on_a_tie() -> None:
    assert decide("lr", ["rules", "lr"], sets(200, 1.0, 1.0), SINCE, 0) is None
    # the same mean either way, but noisy: the interval straddles zero
    mixed = sets(100, 1.0, 0.5) + sets(100, 0.5, 1.0, at=500.0)
    ev = evidence(mixed, "rules", "lr", SINCE, 0)
    assert ev["sets"] == 200 and ev["meanDiff"] == 0.0 and ev["lo"] < 0 < ev["interval"][1]
    assert decide("lr", ["rules", "lr"], mixed, SINCE, 0) is None


def test_no_switch_on_too_few_sets() -> None:
    clearly = sets(MIN_SETS - 1, 1.0, 0.25)
    assert evidence(clearly, "rules", "lr", SINCE, 0)["lo"] > 0
    assert decide("lr", ["rules", "lr"], clearly, SINCE, 0) is None


def test_a_clearly_better_challenger_takes_over() -> None:
    history = sets(MIN_SETS, 1.0, 0.25)
    won = decide("lr", ["rules", "lr"], history, SINCE, 0)
    assert won is not None and won[0] == "rules"
    assert won[1]["sets"] == MIN_SETS and won[1]["meanDiff"] == 0.75
    # and the one that lost does not take it back on the same evidence
    assert decide("rules", ["rules", "lr"], history, SINCE, 0) is None
    # a challenger that cannot rank now does not take over
    assert decide("lr", ["lr"], history, SINCE, 0) is None


def test_the_trm_is_judged_only_on_later_sets_of_its_version() -> None:
    before = sets(50, 0.5, 0.5, at=10.0, trm=1.0, version=2)  # shown before it was written
    other = sets(50, 0.5, 0.5, at=200.0, trm=1.0, version=1)  # an older version's
    since = {**SINCE, "trm": 100.0}
    assert evidence(before + other, "trm", "lr", since, 2)["sets"] == 0
    assert decide("lr", ["rules", "lr", "trm"], before + other, since, 2) is None
    later = sets(MIN_SETS, 0.5, 0.5, at=300.0, trm=1.0, version=2)
    won = decide("lr", ["rules", "lr", "trm"], before + other + later, since, 2)
    assert won is not None and won[0] == "trm" and won[1]["sets"] == MIN_SETS
    assert won[1]["since"] == 100.0


def test_reciprocal_rank_breaks_ties_as_the_server() -> None:
    cs = [{"sameFile": False, "distance": 1}, {"sameFile": True, "distance": 9},
          {"sameFile": True, "distance": 2}]  # fmt: skip
    assert reciprocal_rank([0.0, 0.0, 0.0], cs, 2) == 1.0
    assert reciprocal_rank([0.0, 0.0, 0.0], cs, 0) == pytest.approx(1 / 3)
    assert reciprocal_rank([0.0, 5.0, 0.0], cs, 2) == 0.5


@pytest.fixture
def store(tmp_path: Path) -> Any:
    s = Store(tmp_path / ".kenetic" / "kenetic.db")
    yield s
    s.close()


CTX = {"kind": "codeAction", "now": 1.0e9, "language": "python"}
# the rules put the well-supported, often-accepted skill first; the linear ranker below puts
# the nearer site first (its one weight is on the distance)
CANDS = [
    {"skillId": "far", "support": 9, "specificity": 1.0, "accepted": 9, "lastUsed": 1.0e9,
     "distance": 30, "lineDelta": 30, "sameFile": True},
    {"skillId": "near", "support": 1, "specificity": 0.1, "distance": 1, "lineDelta": 1,
     "sameFile": True},
]  # fmt: skip


def nearest_first() -> LinearRanker:
    import numpy as np

    w = np.zeros(128)
    w[40] = -1.0  # trm.features' log distance from the cursor: nearer scores higher
    return LinearRanker(np.zeros(128), np.ones(128), w, 0.0)


def champion(store: Store, tmp_path: Path, pin: str = "auto") -> Champion:
    c = Champion(store, lambda: pin, ModelHolder(), tmp_path / "trm", tmp_path / "missing.json")
    assert c.lr is None and c.serving()[0] == "rules"  # nothing shipped: the rules serve
    c.lr = c.fallback = nearest_first()  # a shipped ranker that disagrees with the rules
    c.champion = "lr"
    return c


def test_judging_switches_to_the_rules_when_they_keep_winning_and_survives_a_restart(
    store: Store, tmp_path: Path
) -> None:
    c = champion(store, tmp_path)
    assert c.serving()[0] == "lr" and c.describe()["challengers"]["rules"]["sets"] == 0
    start = time.time()
    for k in range(MIN_SETS - 1):  # the developer keeps taking the well-known skill
        j = c.judge(CTX, CANDS, 0, start + k)
        assert j.rr == {"rules": 1.0, "lr": 0.5} and j.trm == 0
    d = c.describe()
    assert d["serving"] == "lr" and d["challengers"]["rules"]["sets"] == MIN_SETS - 1
    assert d["challengers"]["rules"]["meanDiff"] == 0.5 and d["challengers"]["trm"]["sets"] == 0
    assert d["challengers"]["trm"]["available"] is False and d["shippedError"] is not None
    c.judge(CTX, CANDS, 0, start + MIN_SETS)  # the 30th set: rules win, interval [0.5, 0.5]
    d = c.describe()
    assert d["serving"] == "rules" and d["champion"] == "rules"
    assert d["switches"][-1]["from"] == "lr" and d["switches"][-1]["to"] == "rules"
    assert d["challengers"]["lr"]["meanDiff"] == -0.5  # the evidence, now against the rules
    assert store.flush()

    again = champion(store, tmp_path)
    again.load()
    assert again.champion == "rules" and again.serving()[0] == "rules"
    assert len(again.history) == MIN_SETS and again.history[0].rr == {"rules": 1.0, "lr": 0.5}
    assert again.describe()["switches"][-1]["to"] == "rules"


def test_history_is_capped_and_a_pin_serves_regardless(store: Store, tmp_path: Path) -> None:
    c = champion(store, tmp_path, pin="rules")
    assert c.serving()[0] == "rules"  # pinned, though the champion is the linear ranker
    c.history = sets(HISTORY_MAX, 0.5, 0.5)
    c.judge(CTX, CANDS, 1, 1.0e6)  # the developer took the near site: lr right, rules not
    assert len(c.history) == HISTORY_MAX and c.history[-1].rr == {"rules": 0.5, "lr": 1.0}
    assert c.describe()["pinned"] == "rules"


def test_an_unreadable_row_starts_afresh(store: Store, tmp_path: Path) -> None:
    store.execute_later("INSERT INTO meta (key, value) VALUES ('trm.champion', '{oops')")
    assert store.flush()
    c = champion(store, tmp_path)
    c.load()
    assert c.champion == "lr" and c.history == []


def test_the_first_acceptance_of_a_shown_set_judges_it_once(store: Store) -> None:
    from types import SimpleNamespace

    from server.settings import Settings
    from server.suggest.ranking import RankingService
    from server.suggest.shown import ShownSet

    folder = SimpleNamespace(store=store, settings=Settings.model_validate({}))
    service = RankingService(lambda uri: folder)  # type: ignore[arg-type,return-value]
    state = service.attach(folder)  # type: ignore[arg-type]
    assert state is not None
    service.wait_loaded()
    matches = [object(), object()]

    def show(batch: str, ids: list[str]) -> None:
        shown = ShownSet(batch, "codeAction", "file:///a.py", "s", CTX, list(CANDS), [0, 1],
                         {id(m): k for k, m in enumerate(matches)}, at=time.time())  # fmt: skip
        service.begin(shown, state)
        for m, sid in zip(matches, ids, strict=True):
            service.offered(batch, id(m), sid)
        service.end(batch)

    def judged(n: int) -> list[Judged]:
        deadline = time.monotonic() + 10
        while len(state.champion.history) < n:
            assert time.monotonic() < deadline, "the set was not judged"
            time.sleep(0.01)
        return state.champion.history

    show("b1", ["far-1", "near-1"])
    service.outcome("far-1", "rejected")  # a dismissal judges nothing
    service.outcome("near-1", "accepted")  # the developer took the second
    history = judged(1)
    assert history[0].rr["rules"] == 0.5 and set(history[0].rr) == {"rules", "lr"}
    show("b2", ["far-2", "near-2"])
    service.outcome("far-2", "accepted")
    service.outcome("near-2", "accepted")  # a second acceptance of the set: judged once
    history = judged(2)
    time.sleep(0.1)
    assert len(history) == 2 and history[1].rr["rules"] == 1.0
    assert state.describe()["champion"]["challengers"]["rules"]["sets"] == 2
