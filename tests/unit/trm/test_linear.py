"""The shipped linear ranker (trm/linear.py): the file loads and ranks; a file that is missing or
does not fit is refused with a one-line reason, and then the rules serve."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from trm.features import FEATURES_VERSION, featurize
from trm.linear import SHIPPED_PATH, LinearModelError, LinearRanker, from_json, load, shipped

CTX = {"kind": "codeAction", "now": 1.0e9, "language": "python", "uri": "a.py", "cursorLine": 10,
       "recentEditLines": [4, 8]}  # fmt: skip


def cands(n: int) -> list[dict[str, Any]]:
    return [
        {"skillId": f"s{i % 3}", "support": 1 + i % 4, "specificity": 0.5, "lineDelta": i - 5,
         "distance": abs(i - 5), "sameFile": True, "uri": "a.py", "siteLine": 5 + i,
         "justApplied": i % 3 == 0}
        for i in range(n)
    ]  # fmt: skip


def test_shipped_file_loads_and_ranks() -> None:
    ranker = load(SHIPPED_PATH)
    assert ranker.name == "lr" and ranker.meta["C"] > 0
    assert all(k in ranker.meta["test_mrr"] for k in ("top_down", "random_across_files"))
    scores = ranker.score(CTX, cands(32))
    assert len(scores) == 32 and all(math.isfinite(s) for s in scores)
    assert len(set(scores)) > 1  # the features move the score
    assert ranker.score(CTX, []) == []
    # the file's standardisation and weights give what the formula gives on the raw rows
    raw = json.loads(SHIPPED_PATH.read_text())
    ctx, feats = featurize(CTX, cands(5))
    parts = [feats, np.broadcast_to(ctx, (5, len(ctx)))]
    if raw["interactions"]:  # candidate columns times each context column
        cols = raw["interactions"]["candidate"]
        parts += [feats[:, cols] * ctx[j] for j in raw["interactions"]["context"]]
    x = np.hstack(parts).astype(np.float64)
    assert x.shape[1] == len(raw["weights"])
    expected = ((x - raw["mean"]) / raw["scale"]) @ np.array(raw["weights"]) + raw["bias"]
    assert np.allclose(ranker.score(CTX, cands(5)), expected)


def test_round_trip_and_standardisation_folded() -> None:
    rng = np.random.default_rng(0)
    inter = {"candidate": [40, 42, 48], "context": [54, 55]}
    n = 128 + 6
    mean, scale, w = rng.normal(size=n), rng.uniform(0.5, 2, n), rng.normal(size=n)
    a = LinearRanker(mean, scale, w, 0.3, interactions=inter, meta={"C": 1.0})
    b = from_json(json.loads(json.dumps(a.to_json())))
    assert np.allclose(a.score(CTX, cands(7)), b.score(CTX, cands(7)))
    assert b.meta == {"C": 1.0} and b.interactions == inter


def test_the_direction_products_let_the_recent_edits_turn_the_order() -> None:
    # one weight: "below the cursor" times "the recent edits moved down", and its mirror
    inter = {"candidate": [42], "context": [54, 55]}
    w = np.zeros(130)
    w[128], w[129] = 1.0, -1.0
    ranker = LinearRanker(np.zeros(130), np.ones(130), w, 0.0, interactions=inter)
    pair = [{"lineDelta": 3, "distance": 3, "sameFile": True},
            {"lineDelta": -3, "distance": 3, "sameFile": True}]  # fmt: skip
    down = ranker.score({**CTX, "cursorLine": 10, "recentEditLines": [2, 6]}, pair)
    up = ranker.score({**CTX, "cursorLine": 10, "recentEditLines": [18, 14]}, pair)
    assert down[0] > down[1] and up[1] > up[0]


def test_more_candidates_than_the_model_takes_follow_in_rule_order() -> None:
    ranker = LinearRanker(np.zeros(128), np.ones(128), np.ones(128), 0.0, max_candidates=4)
    cs = cands(9)
    scores = ranker.score(CTX, cs)
    ranked = sorted(range(9), key=lambda k: -scores[k])
    _, feats = featurize(CTX, cs)
    rest = ranked[4:]  # below the model-ranked four, by descending rule score
    assert min(scores[k] for k in ranked[:4]) > max(scores[k] for k in rest)
    assert [feats[k, 46] for k in rest] == sorted((feats[k, 46] for k in rest), reverse=True)


def _write(tmp_path: Path, raw: Any) -> Path:
    path = tmp_path / "lr.json"
    path.write_text(raw if isinstance(raw, str) else json.dumps(raw))
    return path


def good() -> dict[str, Any]:
    return LinearRanker(np.zeros(128), np.ones(128), np.ones(128), 0.0).to_json()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"format": "x"}, "not a kenetic-linear-ranker file"),
        ({"features_version": FEATURES_VERSION + 1}, "fitted on features v"),
        ({"candidate_dim": 32}, "fitted on features 32/64"),
        ({"weights": [1.0] * 127}, "'weights' must be a list of 128 numbers"),
        ({"mean": ["a"] * 128}, "'mean' must be a list of 128 numbers"),
        ({"scale": [0.0] * 128}, "'scale' must be positive"),
        ({"bias": "1"}, "'bias' must be a finite number"),
        ({"max_candidates": 0}, "'max_candidates' must be a positive integer"),
        ({"interactions": {"candidate": [64], "context": [0]}}, "'interactions.candidate' must"),
        ({"interactions": [1]}, "'interactions' must be"),
        ({"interactions": {"candidate": [1], "context": [2]}}, "'mean' must be a list of 129"),
    ],
)
def test_a_file_that_does_not_fit_is_refused(tmp_path: Path, change: Any, reason: str) -> None:
    path = _write(tmp_path, {**good(), **change})
    with pytest.raises(LinearModelError, match="^" + str(path).replace(".", r"\.")) as e:
        load(path)
    assert reason in str(e.value) and "\n" not in str(e.value)


def test_non_finite_weights_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, json.dumps(good()).replace("1.0", "NaN", 1))
    with pytest.raises(LinearModelError, match="non-finite"):
        load(path)


def test_missing_or_corrupt_file_leaves_the_rules_with_a_logged_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "trm.linear")
    ranker, why = shipped(tmp_path / "nothing.json")
    assert ranker is None and why is not None and "no such file" in why
    corrupt = _write(tmp_path, '{"format": "kenetic-linear-ranker", "weights": [1, 2')
    ranker, why = shipped(corrupt)
    assert ranker is None and why is not None and "not readable JSON" in why
    assert shipped(corrupt) == (None, why)  # read once: no second warning
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 2 and all("the rules serve" in m for m in warned)
