"""Unit tests of the TRM features: sizes, determinism, robustness to partial or odd dicts."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from trm.features import (
    CANDIDATE_DIM,
    CANDIDATE_FEATURES,
    CONTEXT_DIM,
    CONTEXT_FEATURES,
    candidate_features,
    context_features,
    featurize,
)

ROOT = Path(__file__).resolve().parents[3]

CONTEXT: dict[str, Any] = {
    "kind": "nextEdits",
    "now": 1_000_000.0,
    "language": "python",
    "cursorNodeTypes": ["call", "expression_statement", "block", "function_definition"],
    "recentEditShapes": ["print(x) => log.info(x)", "print(y) => log.info(y)"],
    "recentCommands": [{"command": "pytest -x", "exitCode": 1}],
}
CANDIDATES: list[dict[str, Any]] = [
    {
        "skillId": "sk_a",
        "name": "print(…) → log.info(…)",
        "templateText": "print($a) => log.info($a)",
        "root": "call",
        "matchText": "print(z) => log.info(z)",
        "support": 3,
        "specificity": 0.8,
        "lastUsed": 999_990.0,
        "accepted": 2,
        "rejected": 1,
        "undone": 0,
        "shown": 4,
        "distance": 4,
        "lineDelta": 4,
        "sameFile": True,
        "justApplied": True,
    },
    {"skillId": "sk_b", "support": 7, "specificity": 0.2, "lastUsed": 0, "distance": 1},
    {"skillId": "sk_c"},
]


def test_sizes_match_the_model_defaults() -> None:
    from dataclasses import fields

    defaults = {f.name: f.default for f in fields(__import__("trm.model").model.TRMConfig)}
    assert (defaults["context_dim"], defaults["candidate_dim"]) == (CONTEXT_DIM, CANDIDATE_DIM)


def test_shapes_and_dtype() -> None:
    ctx, cands = featurize(CONTEXT, CANDIDATES)
    assert ctx.shape == (CONTEXT_DIM,) and ctx.dtype == np.float32
    assert cands.shape == (3, CANDIDATE_DIM) and cands.dtype == np.float32
    assert np.isfinite(ctx).all() and np.isfinite(cands).all()
    assert candidate_features(CONTEXT, []).shape == (0, CANDIDATE_DIM)


def test_feature_tables_cover_every_dimension_once() -> None:
    for table, dim in ((CONTEXT_FEATURES, CONTEXT_DIM), (CANDIDATE_FEATURES, CANDIDATE_DIM)):
        covered = [i for _, start, width in table for i in range(start, start + width)]
        assert covered == list(range(dim))


def test_deterministic_within_and_across_processes() -> None:
    a = featurize(CONTEXT, CANDIDATES)
    b = featurize(json.loads(json.dumps(CONTEXT)), json.loads(json.dumps(CANDIDATES)))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    # hashing must not depend on Python's per-process hash seed
    code = (
        "import json, sys; from trm.features import featurize; "
        "c, k = featurize(*json.loads(sys.argv[1])); "
        "print(json.dumps([c.tolist(), k.tolist()]))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps([CONTEXT, CANDIDATES])],
        capture_output=True, text=True, check=True, cwd=ROOT, env=env,
    )  # fmt: skip
    ctx, cands = json.loads(out.stdout)
    assert np.array_equal(np.asarray(ctx, dtype=np.float32), a[0])
    assert np.array_equal(np.asarray(cands, dtype=np.float32), a[1])


def test_missing_and_odd_values_read_as_unknown() -> None:
    odd: list[dict[str, Any]] = [
        {},
        {"support": "many", "specificity": math.nan, "distance": None, "lastUsed": "x"},
        {"support": -3, "accepted": math.inf, "lineDelta": -5, "sameFile": False},
    ]
    for context in ({}, {"recentCommands": ["not a dict", {"exitCode": "?"}]}, CONTEXT):
        ctx, cands = featurize(context, odd)
        assert np.isfinite(ctx).all() and np.isfinite(cands).all()


def test_rule_ranker_dicts_are_enough() -> None:
    # what server.suggest.service builds today: trm.ranker's keys only
    context = {"kind": "codeAction", "now": 100.0, "uri": "file:///a.py", "language": "python"}
    candidates = [
        {"skillId": "sk_1", "support": 2, "specificity": 0.5, "lastUsed": 90.0, "accepted": 1,
         "rejected": 0, "undone": 0, "shown": 1, "distance": 3},
        {"skillId": "sk_2", "support": 9, "specificity": 0.9, "lastUsed": 0, "accepted": 0,
         "rejected": 2, "undone": 1, "shown": 3, "distance": 0},
    ]  # fmt: skip
    ctx, cands = featurize(context, candidates)
    assert ctx[4] == 1.0  # kind codeAction
    assert cands.shape == (2, CANDIDATE_DIM) and np.isfinite(cands).all()


def test_features_say_what_they_mean() -> None:
    ctx = context_features(CONTEXT)
    assert ctx[4 + 2] == 1.0  # kind nextEdits
    assert ctx[52] == 1.0  # the last command failed
    cands = candidate_features(CONTEXT, CANDIDATES)
    assert cands[0, 45] == 1.0 and cands[1, 45] == 0.0  # just applied by hand
    assert cands[0, 27] == 1.0  # the skill's root is at the cursor
    assert cands[0, 48] == 1.0  # the nearest site below the cursor
    assert cands[0, 24] > 0.5  # its template looks like the recent edits
    assert cands[1, 34] == 1.0 and cands[0, 34] == 0.0  # never used vs used 10 s ago
    assert cands[2, 41] == 1.0  # distance unknown


def test_importing_features_does_not_import_torch() -> None:
    code = "import sys, trm.features; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_site_order_wraps_round_and_skips_sites_passed_over() -> None:
    # cursor on line 50; recent edits went 10 -> 30 -> 50 (down), skipping line 20
    context = {"cursorLine": 50, "recentEditLines": [10, 30, 50]}

    def site(skill: str, line: int, same: bool = True) -> dict[str, Any]:
        if not same:
            return {"skillId": skill, "sameFile": False, "siteLine": line}
        return {"skillId": skill, "sameFile": True, "siteLine": line, "lineDelta": line - 50,
                "distance": abs(line - 50)}  # fmt: skip

    cands = candidate_features(
        context,
        [site("a", 5), site("a", 20), site("a", 60), site("a", 90), site("b", 70),
         site("a", 7, same=False), site("a", 3, same=False), site("b", 9, same=False)],
    )  # fmt: skip
    # skill a from the cursor down, then from the top: 60, 90, 5, 20
    assert [round(float(x), 3) for x in cands[:4, 54]] == [0.333, 0.25, 1.0, 0.5]
    assert cands[4, 54] == 1.0  # skill b's only site in the file
    assert cands[1, 57] == 1.0 and cands[[0, 2, 3, 4], 57].sum() == 0  # line 20 was passed over
    # the first site not passed over, per skill
    assert cands[:5, 55].tolist() == [0.0, 0.0, 1.0, 0.0, 1.0]
    # the first site in the other files, per skill: a's line 3 and b's line 9
    assert cands[5:, 56].tolist() == [0.0, 1.0, 1.0] and cands[:5, 56].sum() == 0
    # with documents: the next one after the cursor's in path order first, wrapping round
    uris = ["c.py", "a.py", "d.py", "a.py"]
    others = [{"skillId": "a", "sameFile": False, "uri": u, "siteLine": n, "shownInSession": s}
              for u, n, s in zip(uris, (30, 1, 2, 3), (2, 2, 0, 7), strict=True)]  # fmt: skip
    cands = candidate_features({"uri": "b.py"}, others)
    assert cands[:, 56].tolist() == [1.0, 0.0, 0.0, 0.0]  # c.py comes after b.py
    assert [round(float(x), 3) for x in cands[:, 60]] == [1.0, 0.333, 0.5, 0.333]
    cands = candidate_features({"uri": "e.py"}, others)
    assert cands[:, 56].tolist() == [0.0, 1.0, 0.0, 0.0]  # from e.py round to a.py
    assert [round(float(x), 3) for x in cands[:, 60]] == [0.5, 1.0, 0.333, 1.0]
    # shown less than the skill's most shown site: log(1 + n) - log(1 + 7)
    assert np.allclose(cands[:, 61], [math.log(3 / 8), math.log(3 / 8), -math.log(8), 0.0])
    # without the session's edits nothing counts as passed over; without lines, no order
    plain = candidate_features({}, [site("a", 20), {"skillId": "a"}])
    assert plain[0, 57] == 0.0 and plain[0, 55] == 1.0 and plain[1, 54:58].sum() == 0.0


def test_direction_of_recent_edits_and_shown_in_session() -> None:
    down = context_features({"recentEditLines": [3, 8, 20, 12]})
    assert (round(float(down[54]), 3), round(float(down[55]), 3)) == (0.667, 0.333)
    assert context_features({"recentEditLines": [4]})[54:56].tolist() == [0.0, 0.0]
    cands = candidate_features({}, [{"shownInSession": 3}, {"shownInSession": 0}, {}])
    assert cands[0, 58] == np.float32(math.log1p(3) / 3.0) and cands[0, 59] == 1.0
    assert cands[1:, 58:60].sum() == 0.0


def test_preselect_breaks_rule_ties_by_distance() -> None:
    from trm.features import preselect

    same = {"skillId": "a", "support": 3, "specificity": 0.5, "sameFile": True}
    cands = [{**same, "distance": d, "lineDelta": d} for d in (40, 30, 2, 1, 20)]
    cands.append({"skillId": "b", "support": 9, "specificity": 0.9, "distance": 50})
    feats = candidate_features({"now": 10.0}, cands)
    assert preselect(feats, 3).tolist() == [2, 3, 5]  # b scores best, then the nearest two
    assert preselect(feats, 3, keep=0).tolist() == [0, 3, 5]  # the accepted one is kept
    assert preselect(feats, 10).tolist() == list(range(6))
