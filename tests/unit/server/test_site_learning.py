"""The site model learns from the developer's outcomes, per store (server.suggest.site_learning):
an accepted next edit raises what the model gives such sites, a dismissed one lowers it, the
weights survive a restart in the store's SQLite file, and another store is left alone."""

from __future__ import annotations

import json
from pathlib import Path

from memory.skills.site_model import FEATURES, SiteModel, load_model
from memory.store.database import Store
from server.suggest.site_learning import META_KEY, SiteLearner


def _x(value: float = 0.5) -> list[float]:
    return [1.0] + [value] * (len(FEATURES) - 1)


def _store(path: Path) -> Store:
    return Store(path / ".kenetic" / "kenetic.db")


def test_outcomes_move_the_stores_model_and_only_its_own(tmp_path: Path) -> None:
    shipped = load_model()
    assert shipped is not None
    mine, other = _store(tmp_path / "a"), _store(tmp_path / "b")
    learner = SiteLearner()
    start = learner.model_for(mine).probability(_x())  # type: ignore[union-attr]
    for n in range(20):
        learner.offered(f"s{n}", mine, _x())
        assert learner.outcome(f"s{n}", "rejected")
    lower = learner.model_for(mine).probability(_x())  # type: ignore[union-attr]
    assert lower < start - 0.05
    assert learner.model_for(other).probability(_x()) == start  # type: ignore[union-attr]
    assert shipped.probability(_x()) == start  # the shipped weights are never changed
    for n in range(40):
        learner.offered(f"t{n}", mine, _x())
        learner.outcome(f"t{n}", "accepted")
    assert learner.model_for(mine).probability(_x()) > lower  # type: ignore[union-attr]
    assert learner.stats() == {"shipped": True, "updates": 60}
    mine.close()
    other.close()


def test_what_is_not_a_decision_on_a_next_edit_teaches_nothing(tmp_path: Path) -> None:
    store = _store(tmp_path)
    learner = SiteLearner()
    assert not learner.outcome("never-offered", "accepted")
    learner.offered("s1", store, _x())
    assert not learner.outcome("s1", "shown")
    assert learner.outcome("s1", "undone")
    assert not learner.outcome("s1", "accepted")  # one decision per suggestion
    store.close()


def test_the_weights_survive_a_restart_and_a_bad_row_is_refused(tmp_path: Path) -> None:
    store = _store(tmp_path)
    learner = SiteLearner()
    for n in range(10):
        learner.offered(f"s{n}", store, _x(0.9))
        learner.outcome(f"s{n}", "rejected")
    learned = learner.model_for(store).probability(_x(0.9))  # type: ignore[union-attr]
    assert store.flush()
    store.close()

    again = _store(tmp_path)
    restarted = SiteLearner().model_for(again)
    assert restarted is not None and abs(restarted.probability(_x(0.9)) - learned) < 1e-9
    row = again.query("SELECT value FROM meta WHERE key = ?", (META_KEY,))[0]["value"]
    assert json.loads(row)["updates"] == 10

    # weights written for other features (an older release) or not numbers: the shipped ones
    again.execute_later(
        "UPDATE meta SET value = ? WHERE key = ?",
        (json.dumps({"features": ["bias"], "weights": [9.0]}), META_KEY),
    )
    assert again.flush()
    fresh = SiteLearner().model_for(again)
    shipped = load_model()
    assert isinstance(fresh, SiteModel) and shipped is not None
    assert fresh.weights == shipped.weights
    again.execute_later("UPDATE meta SET value = ? WHERE key = ?", ("{not json", META_KEY))
    assert again.flush()
    assert SiteLearner().model_for(again).weights == shipped.weights  # type: ignore[union-attr]
    again.close()
