"""The active learning state: knobs move with outcomes, clamp, cool down and persist."""

from __future__ import annotations

import pytest

from memory.recall.als import Als, AlsSettings
from memory.store.database import Store


def test_rejections_make_kenetic_quieter_and_acceptances_bolder(store: Store) -> None:
    als = Als(store)
    start = als.state.to_json()
    assert start["stage"] == "cold" and start["debounce_ms"] == 300.0
    als.record_outcome("rejected", now=0)
    assert als.state.debounce_ms == pytest.approx(450.0)  # x1.5
    assert als.state.acceptance < start["acceptance"]
    assert als.state.min_score > start["min_score"]
    quiet = als.state.to_json()
    for _ in range(4):
        als.record_outcome("accepted", now=1)
    assert als.state.debounce_ms == pytest.approx(450.0 * 0.8**4)
    assert als.state.min_score < quiet["min_score"]
    assert als.state.max_suggestions >= quiet["max_suggestions"]
    assert als.state.eagerness > quiet["eagerness"]
    assert als.state.stage == "learning"
    assert als.state.outcomes == {"shown": 0, "accepted": 4, "rejected": 1, "undone": 0}


def test_knobs_are_clamped_and_undo_counts_double(store: Store) -> None:
    s = AlsSettings()
    als = Als(store, s)
    for _ in range(30):
        als.record_outcome("rejected", now=0)
    assert als.state.debounce_ms == s.debounce_max_ms
    assert als.state.max_suggestions == 1
    assert s.min_score_low <= als.state.min_score <= s.min_score_high
    for _ in range(60):
        als.record_outcome("accepted", now=0)
    assert als.state.debounce_ms == s.debounce_min_ms
    assert als.state.max_suggestions == s.max_suggestions_cap
    assert als.state.stage == "tuned"
    store.flush()  # both load the same saved state, not one of them a half-written one
    a, b = Als(store, s), Als(store, s)
    a.state.acceptance = b.state.acceptance = 0.5
    a.record_outcome("rejected", now=0)
    b.record_outcome("undone", now=0)
    assert b.state.acceptance < a.state.acceptance
    assert b.state.debounce_ms > a.state.debounce_ms


def test_shown_alone_teaches_nothing(store: Store) -> None:
    als = Als(store)
    before = als.state.acceptance, als.state.debounce_ms, als.state.min_score
    als.record_outcome("shown", now=0)
    assert (als.state.acceptance, als.state.debounce_ms, als.state.min_score) == before
    with pytest.raises(ValueError):
        als.record_outcome("maybe")


def test_a_rejection_streak_starts_a_cool_down(store: Store) -> None:
    als = Als(store, AlsSettings(quiet_after=3, quiet_s=60))
    assert als.allows(0.9, now=100)
    for _ in range(3):
        als.record_outcome("rejected", now=100)
    assert not als.allows(0.99, now=120)
    assert als.allows(0.99, now=161)
    assert not als.allows(als.state.min_score - 0.01, now=161)  # below the bar


def test_quiet_ends_with_time_or_an_acceptance_and_can_be_switched_off(store: Store) -> None:
    als = Als(store, AlsSettings(quiet_after=2, quiet_s=30))
    assert not als.quiet(now=0)
    als.record_outcome("rejected", now=0)
    assert not als.quiet(now=0)
    als.record_outcome("undone", now=0)  # an undo is a rejection in the streak
    assert als.quiet(now=10) and not als.quiet(now=31)
    als.record_outcome("rejected", now=40)
    als.record_outcome("rejected", now=40)
    assert als.quiet(now=41)
    als.record_outcome("accepted", now=42)  # taking a suggestion ends the cool-down
    assert not als.quiet(now=42)

    never = Als(store, AlsSettings(quiet_after=0))
    for _ in range(10):
        never.record_outcome("rejected", now=0)
    assert not never.quiet(now=1)
    assert never.state.debounce_ms == never.settings.debounce_max_ms  # the knobs still move


def test_state_focus_and_bounded_reflections_persist(store: Store) -> None:
    als = Als(store, AlsSettings(max_reflections=3))
    for _ in range(3):
        als.record_outcome("rejected", now=5)
    als.set_focus(uri="file:///a.py", symbol="parse", now=6)
    for i in range(5):
        als.reflect(f"reflection {i}", source="agent", now=7 + i)
    store.flush()
    again = Als(store)
    assert again.to_json() == als.to_json()
    assert [r.text for r in again.state.reflections] == [f"reflection {i}" for i in (2, 3, 4)]
    assert again.state.focus == {"uri": "file:///a.py", "symbol": "parse", "since": 6}
    assert again.state.debounce_ms == pytest.approx(300 * 1.5**3)


def test_cool_down_settings_reach_the_als() -> None:
    from server.settings import MemorySection

    s = MemorySection.model_validate({"quietAfter": 0, "quietSeconds": 5}).als_settings()
    assert (s.quiet_after, s.quiet_s) == (0, 5.0)
    assert MemorySection.model_validate({}).als_settings().quiet_after == 3
    with pytest.raises(ValueError):
        MemorySection.model_validate({"quietAfter": -1})
