"""Rankers: order suggestion candidates for one context.

Every ranker implements the same small protocol, so the server can swap the cold-start rule
ranker for the TRM (trm/model.py) once enough outcomes exist, and fall back to rules whenever the
model fails. A context and its candidates are plain dicts (JSON-ready), the shape the TRM's
training data is recorded in:

    context    {"kind": "codeAction" | "inline" | "nextEdits" | "apply", "now": epoch seconds,
                "language": str, "uri": str}
    candidate  {"skillId": str, "support": int, "specificity": float (0..1),
                "lastUsed": epoch seconds (0: never), "accepted": int, "rejected": int,
                "undone": int, "shown": int, "distance": lines from the cursor or None}

This module imports no torch: it sits on the request path.
"""

from __future__ import annotations

import math
import time
from typing import Any, Protocol


class Ranker(Protocol):
    name: str

    def score(self, context: dict[str, Any], candidates: list[dict[str, Any]]) -> list[float]:
        """One score per candidate, higher is better; same order as the candidates."""
        ...


class RuleRanker:
    """support x recency x specificity x smoothed acceptance rate (DESIGN §6 cold start)."""

    name = "rules"

    def __init__(
        self,
        *,
        half_life_s: float = 7 * 24 * 3600.0,  # a skill unused for a week counts half as recent
        recency_floor: float = 0.2,  # an old skill is demoted, never silenced
        undo_weight: float = 2.0,  # an undo says more than a dismissal
        prior: tuple[float, float] = (1.0, 1.0),  # Beta(accepted, not accepted) pseudo-counts
    ) -> None:
        self.half_life_s = half_life_s
        self.recency_floor = recency_floor
        self.undo_weight = undo_weight
        self.prior = prior

    def score(self, context: dict[str, Any], candidates: list[dict[str, Any]]) -> list[float]:
        now = float(context.get("now") or time.time())
        return [self._one(now, c) for c in candidates]

    def _one(self, now: float, c: dict[str, Any]) -> float:
        support = max(0, int(c.get("support") or 0))
        # diminishing returns: the tenth example adds less than the second
        support_term = support / (support + 1.0)
        last = float(c.get("lastUsed") or 0.0)
        age = max(0.0, now - last) if last else math.inf
        decay = 0.5 ** (age / self.half_life_s) if math.isfinite(age) else 0.0
        recency = self.recency_floor + (1.0 - self.recency_floor) * decay
        # specificity 0 (all holes) still counts a little: the support carries it
        specificity = 0.25 + 0.75 * min(1.0, max(0.0, float(c.get("specificity") or 0.0)))
        a, b = self.prior
        accepted = max(0, int(c.get("accepted") or 0))
        negative = max(0, int(c.get("rejected") or 0)) + self.undo_weight * max(
            0, int(c.get("undone") or 0)
        )
        acceptance = (accepted + a) / (accepted + negative + a + b)
        return support_term * recency * specificity * acceptance
