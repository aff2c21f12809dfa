"""The site model learns from the developer's own outcomes, per store.

The shipped site model (memory.skills.site_model) was trained on other people's repositories.
Each store starts from its weights and moves them one small step per outcome of a next edit
the developer decided on: accepted pulls the features of that site towards "offer", rejected
(dismissed) or undone towards "leave". A pull back towards the shipped weights (L2) keeps a
few outcomes from undoing what the corpus taught. The weights live in the store's meta table,
written on the store's writer thread, and are read back when the store opens; a store written
by another feature set starts again from the shipped weights.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections import OrderedDict
from typing import Any

from memory.skills.site_model import FEATURES, SiteModel, load_model
from memory.store.database import Store

log = logging.getLogger(__name__)

META_KEY = "site_model"
# a step moves the logit of the very site it learns from by at most RATE (the step is divided
# by the size of its features, as in normalised LMS): one dismissal of a site must not hide
# every other site of its skill, twenty alike ones should
RATE = 0.1
PULL = 0.01  # per step, the share of the way back to the shipped weights
REMEMBERED = 2000  # feature vectors of offered next edits kept for their outcomes
LABELS = {"accepted": 1.0, "rejected": 0.0, "undone": 0.0}


class SiteLearner:
    """Per-store site models, updated from outcomes of next edits."""

    def __init__(self, shipped: SiteModel | None = None) -> None:
        self.shipped = shipped if shipped is not None else load_model()
        self._models: dict[int, tuple[Store, SiteModel, int]] = {}  # id(store) -> (.., updates)
        self._offered: OrderedDict[str, tuple[Store, list[float]]] = OrderedDict()
        self._lock = threading.Lock()

    def model_for(self, store: Store) -> SiteModel | None:
        """The store's model (its own weights once it has outcomes), or None with no model."""
        if self.shipped is None:
            return None
        with self._lock:
            known = self._models.get(id(store))
            if known is not None and known[0] is store:
                return known[1]
        model, updates = self._load(store)
        with self._lock:
            self._models[id(store)] = (store, model, updates)
        return model

    def _load(self, store: Store) -> tuple[SiteModel, int]:
        assert self.shipped is not None
        try:
            rows = store.query("SELECT value FROM meta WHERE key = ?", (META_KEY,))
            raw = json.loads(rows[0]["value"]) if rows else None
        except Exception:  # an unreadable row: start again from the shipped weights
            log.warning("the store's site model could not be read; using the shipped one")
            raw = None
        if isinstance(raw, dict) and raw.get("features") == list(FEATURES):
            weights = [float(w) for w in raw.get("weights", [])]
            if len(weights) == len(FEATURES) and all(math.isfinite(w) for w in weights):
                model = SiteModel(weights, self.shipped.threshold, self.shipped.meta)
                return model, int(raw.get("updates", 0))
        return SiteModel(list(self.shipped.weights), self.shipped.threshold, self.shipped.meta), 0

    def offered(self, suggestion_id: str, store: Store, x: list[float]) -> None:
        """A next edit was offered at a site with these features."""
        with self._lock:
            self._offered[suggestion_id] = (store, x)
            while len(self._offered) > REMEMBERED:
                self._offered.popitem(last=False)

    def outcome(self, suggestion_id: str, outcome: str) -> bool:
        """Learn from the developer's decision on a next edit; False when there is nothing to
        learn (not a next edit this learner saw, or not a decision)."""
        label = LABELS.get(outcome)
        if label is None or self.shipped is None:
            return False
        with self._lock:
            seen = self._offered.pop(suggestion_id, None)
        if seen is None:
            return False
        store, x = seen
        model = self.model_for(store)
        if model is None:
            return False
        error = label - model.probability(x)
        step = RATE * error / sum(v * v for v in x)
        with self._lock:
            weights = [
                w + step * v - PULL * (w - w0)
                for w, v, w0 in zip(model.weights, x, self.shipped.weights, strict=True)
            ]
            model.weights[:] = weights
            _, _, updates = self._models[id(store)]
            self._models[id(store)] = (store, model, updates + 1)
        row = json.dumps({"features": list(FEATURES), "weights": weights, "updates": updates + 1})
        store.execute_later(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (META_KEY, row),
        )
        return True

    def stats(self) -> dict[str, Any]:
        with self._lock:
            updates = sum(u for _, _, u in self._models.values())
        return {"shipped": self.shipped is not None, "updates": updates}
