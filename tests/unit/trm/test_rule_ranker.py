"""The rule ranker: support x recency x specificity x smoothed acceptance."""

from __future__ import annotations

from trm.ranker import Ranker, RuleRanker

NOW = 1_000_000_000.0
DAY = 24 * 3600.0


def _cand(**kw: float) -> dict[str, float]:
    base = {
        "support": 2,
        "specificity": 0.5,
        "lastUsed": NOW,
        "accepted": 0,
        "rejected": 0,
        "undone": 0,
        "shown": 0,
    }
    return {**base, **kw}


def _scores(*cands: dict[str, float]) -> list[float]:
    return RuleRanker().score({"now": NOW, "kind": "codeAction"}, list(cands))


def test_is_a_ranker_with_a_name() -> None:
    ranker: Ranker = RuleRanker()
    assert ranker.name == "rules"
    assert ranker.score({"now": NOW}, []) == []


def test_each_factor_orders_candidates() -> None:
    more, less = _scores(_cand(support=5), _cand(support=2))
    assert more > less
    recent, old = _scores(_cand(lastUsed=NOW - DAY), _cand(lastUsed=NOW - 60 * DAY))
    assert recent > old
    specific, vague = _scores(_cand(specificity=1.0), _cand(specificity=0.1))
    assert specific > vague
    liked, disliked = _scores(_cand(accepted=5), _cand(rejected=5))
    assert liked > disliked


def test_undo_weighs_more_than_rejection_and_smoothing_keeps_new_skills_alive() -> None:
    rejected, undone = _scores(_cand(rejected=1), _cand(undone=1))
    assert rejected > undone
    [fresh] = _scores(_cand())
    assert 0 < fresh < 1


def test_never_used_and_missing_fields_score_low_but_positive() -> None:
    never, empty = _scores(_cand(lastUsed=0), {"support": 1})
    assert 0 < never < _scores(_cand())[0]
    assert empty > 0


def test_support_has_diminishing_returns() -> None:
    s1, s2, s10, s11 = _scores(*(_cand(support=n) for n in (1, 2, 10, 11)))
    assert s2 - s1 > s11 - s10 > 0
