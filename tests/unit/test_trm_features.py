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

ROOT = Path(__file__).resolve().parents[2]

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
