"""The shipped linear ranker: logistic regression on trm.features' vectors, no torch.

A new store has no outcomes of its own, so the TRM cannot rank for it yet; the rules rank far
worse than a model fitted on real developers' outcomes (docs/trm.md, "How well it ranks"). This
ranker is such a model, fitted once on the replayed commit corpora (tests/bench/rank_pretrain.py)
and shipped as `trm/ranker_lr.json`: standardisation, one weight per feature and a bias. It
serves from a store's first suggestion; the store's own TRM has to beat it on the developer's
later outcomes to take over (server.suggest.champion).

    ranker = shipped()                      # None when the file is missing or does not fit
    scores = ranker.score(context, candidates)

One row per candidate is its CANDIDATE_DIM features, the context's CONTEXT_DIM (as
tests/bench/rank_eval.rows builds them), then optional products of candidate columns with
context columns (`interactions`): a context feature alone moves every candidate of a set alike,
so a linear model can only use, say, "the developer is working upwards" through such a product
(DIRECTION: the position features times the recent edits' share of steps down and up). More
than `max_candidates` candidates: the
best by rule score (trm.features.preselect, as the TRM does) are scored by the model, the rest
follow below them in rule order. Ties are left to the server's tie-break (same file, nearest).
"""

from __future__ import annotations

import json
import logging
import math
import threading
from pathlib import Path
from typing import Any

import numpy as np

from trm.features import CANDIDATE_DIM, CONTEXT_DIM, FEATURES_VERSION, featurize, preselect

__all__ = [
    "DIRECTION",
    "FORMAT",
    "SHIPPED_PATH",
    "LinearModelError",
    "LinearRanker",
    "design",
    "load",
    "shipped",
]

log = logging.getLogger(__name__)

FORMAT = "kenetic-linear-ranker"
SHIPPED_PATH = Path(__file__).with_name("ranker_lr.json")
RULE_SCORE = 46  # trm.features' candidate column holding the rule ranker's score
# the candidate's position and session features (distance .. shown-in-session, columns 40-61)
# times the context's recent edits moving down / up (columns 54, 55)
DIRECTION: dict[str, list[int]] = {"candidate": list(range(40, 62)), "context": [54, 55]}


def design(ctx: np.ndarray, feats: np.ndarray, interactions: dict[str, list[int]] | None):
    """The model's rows for one set: [candidate, context, products], float64."""
    parts = [feats.astype(np.float64), np.broadcast_to(ctx, (len(feats), len(ctx)))]
    if interactions:
        cand = feats[:, interactions["candidate"]].astype(np.float64)
        parts += [cand * float(ctx[j]) for j in interactions["context"]]
    return np.hstack(parts)


def width(interactions: dict[str, list[int]] | None) -> int:
    n = CANDIDATE_DIM + CONTEXT_DIM
    if interactions:
        n += len(interactions["candidate"]) * len(interactions["context"])
    return n


class LinearModelError(ValueError):
    """A linear ranker file that cannot be used; the message says why, in one line."""


class LinearRanker:
    """score = ((x - mean) / scale) . weights + bias, per candidate (trm.ranker's protocol)."""

    name = "lr"

    def __init__(
        self,
        mean: np.ndarray,
        scale: np.ndarray,
        weights: np.ndarray,
        bias: float,
        *,
        max_candidates: int = 64,
        interactions: dict[str, list[int]] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        # standardisation folded into the weights once: scoring is one matrix-vector product
        self.weights = np.asarray(weights, np.float64) / np.asarray(scale, np.float64)
        self.bias = float(bias) - float(np.asarray(mean, np.float64) @ self.weights)
        self.max_candidates = max_candidates
        self.interactions = interactions
        self.meta = meta or {}

    def score(self, context: dict[str, Any], candidates: list[dict[str, Any]]) -> list[float]:
        if not candidates:
            return []
        ctx, feats = featurize(context, candidates)
        return self.score_features(ctx, feats)

    def score_features(self, ctx: np.ndarray, feats: np.ndarray) -> list[float]:
        keep = preselect(feats, self.max_candidates)
        values = design(ctx, feats[keep], self.interactions) @ self.weights + self.bias
        if not np.all(np.isfinite(values)):
            raise ValueError("the linear ranker produced a non-finite score")
        if len(keep) == len(feats):
            return [float(v) for v in values]
        out = np.empty(len(feats))
        out[keep] = values
        rest = np.setdiff1d(np.arange(len(feats)), keep)
        by_rule = rest[np.argsort(-feats[rest, RULE_SCORE], kind="stable")]
        out[by_rule] = float(values.min()) - 1.0 - np.arange(len(by_rule)) / max(1, len(by_rule))
        return [float(v) for v in out]

    def to_json(self) -> dict[str, Any]:
        """The file format (mean 0 and scale 1: the standardisation is already folded in)."""
        dim = len(self.weights)
        return {
            "format": FORMAT,
            "features_version": FEATURES_VERSION,
            "candidate_dim": CANDIDATE_DIM,
            "context_dim": CONTEXT_DIM,
            "max_candidates": self.max_candidates,
            "interactions": self.interactions,
            "mean": [0.0] * dim,
            "scale": [1.0] * dim,
            "weights": [float(w) for w in self.weights],
            "bias": self.bias,
            **({"trained": self.meta} if self.meta else {}),
        }


def _vector(raw: dict[str, Any], key: str, dim: int) -> np.ndarray:
    value = raw.get(key)
    if not isinstance(value, list) or len(value) != dim:
        raise LinearModelError(f"'{key}' must be a list of {dim} numbers")
    try:
        out = np.array([float(v) for v in value], np.float64)
    except (TypeError, ValueError):
        raise LinearModelError(f"'{key}' must be a list of {dim} numbers") from None
    if not np.all(np.isfinite(out)):
        raise LinearModelError(f"'{key}' holds a non-finite number")
    return out


def from_json(raw: Any) -> LinearRanker:
    """A ranker from the parsed file; LinearModelError says what does not fit."""
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise LinearModelError(f"not a {FORMAT} file")
    if raw.get("features_version") != FEATURES_VERSION:
        raise LinearModelError(
            f"fitted on features v{raw.get('features_version')}, this build makes "
            f"v{FEATURES_VERSION}"
        )
    if (raw.get("candidate_dim"), raw.get("context_dim")) != (CANDIDATE_DIM, CONTEXT_DIM):
        raise LinearModelError(
            f"fitted on features {raw.get('candidate_dim')}/{raw.get('context_dim')}, "
            f"trm.features makes {CANDIDATE_DIM}/{CONTEXT_DIM}"
        )
    interactions = _interactions(raw.get("interactions"))
    dim = width(interactions)
    mean, scale = _vector(raw, "mean", dim), _vector(raw, "scale", dim)
    weights = _vector(raw, "weights", dim)
    if np.any(scale <= 0):
        raise LinearModelError("'scale' must be positive")
    bias, cap = raw.get("bias"), raw.get("max_candidates", 64)
    if isinstance(bias, bool) or not isinstance(bias, (int, float)) or not math.isfinite(bias):
        raise LinearModelError("'bias' must be a finite number")
    if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
        raise LinearModelError("'max_candidates' must be a positive integer")
    meta = raw.get("trained")
    return LinearRanker(mean, scale, weights, float(bias), max_candidates=cap,
                        interactions=interactions,
                        meta=meta if isinstance(meta, dict) else None)  # fmt: skip


def _interactions(raw: Any) -> dict[str, list[int]] | None:
    if raw is None:
        return None
    limits = {"candidate": CANDIDATE_DIM, "context": CONTEXT_DIM}
    if not isinstance(raw, dict) or set(raw) != set(limits):
        raise LinearModelError('\'interactions\' must be {"candidate": [...], "context": [...]}')
    for key, limit in limits.items():
        cols = raw[key]
        if not isinstance(cols, list) or not all(
            isinstance(c, int) and not isinstance(c, bool) and 0 <= c < limit for c in cols
        ):
            raise LinearModelError(f"'interactions.{key}' must list columns 0..{limit - 1}")
    return {"candidate": list(raw["candidate"]), "context": list(raw["context"])}


def load(path: str | Path) -> LinearRanker:
    """Read a linear ranker file; LinearModelError (one line: the file and why) if unusable."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LinearModelError(f"{path}: no such file") from None
    except (OSError, ValueError) as e:
        raise LinearModelError(f"{path}: not readable JSON ({e})") from None
    try:
        return from_json(raw)
    except LinearModelError as e:
        raise LinearModelError(f"{path}: {e}") from None


_lock = threading.Lock()
_shipped: dict[str, tuple[LinearRanker | None, str | None]] = {}


def shipped(path: str | Path = SHIPPED_PATH) -> tuple[LinearRanker | None, str | None]:
    """(the shipped ranker, None), or (None, why it did not load): read once per path, the
    reason logged once; without it the rules serve until the store's TRM earns its place."""
    key = str(path)
    with _lock:
        if key not in _shipped:
            try:
                _shipped[key] = (load(path), None)
            except LinearModelError as e:
                log.warning("shipped linear ranker not loaded (%s); the rules serve", e)
                _shipped[key] = (None, str(e))
        return _shipped[key]
