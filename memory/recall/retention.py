"""Retention: which memory items stay when the store passes its cap.

Past `max_items` (memory.recall.items.MemorySettings) MemoryIndex.prune drops the least retained
items down to `prune_to` x `max_items`. An item's retention is its importance, plus the recency of
its last use (halving every `half_life_days`), plus a little for each use. Protected items never go:
pinned notes, anything stored as protected, and skills with an accepted outcome (marked here from
the outcomes table before each prune).
"""

from __future__ import annotations

import math

from memory.recall.items import _COLUMNS, DAY, MemoryItem, MemorySettings, _item
from memory.store.database import Store
from memory.store.schema import write


def protect_accepted_skills(store: Store) -> None:
    """Mark as protected the skill items whose skill has an accepted outcome; waits the commit."""
    write(
        store,
        "UPDATE memory_items SET protected = 1 WHERE kind = 'skill' AND protected = 0"
        " AND ref_id IN (SELECT skill_id FROM outcomes WHERE outcome = 'accepted')",
    )
    store.flush()


def retention(item: MemoryItem, settings: MemorySettings, now: float) -> float:
    """How much an item deserves to stay: importance, recency of use, and use count."""
    half_life = max(settings.half_life_days, 1e-6) * DAY
    recency = 0.5 ** (max(0.0, now - max(item.created_at, item.used_at)) / half_life)
    return item.importance + recency + 0.1 * math.log1p(item.use_count)


def victims(store: Store, settings: MemorySettings, now: float) -> list[int]:
    """The ids to prune now, least retained first (none while the store is under its cap)."""
    total = int(store.query("SELECT count(*) FROM memory_items")[0][0])
    if total <= settings.max_items:
        return []
    target = int(settings.max_items * settings.prune_to)
    rows = store.query(f"SELECT {_COLUMNS} FROM memory_items WHERE pinned = 0 AND protected = 0")
    candidates = sorted((_item(r) for r in rows), key=lambda it: retention(it, settings, now))
    return [it.id for it in candidates[: max(0, total - target)] if it.id is not None]
