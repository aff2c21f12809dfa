"""From episodes, skills and patterns to memory items and the links between them.

The server calls these on the medium clock (after an episode commits, after mining): each
makes one memory item with a text worth embedding and writes the links that tie it to what is
already known — an episode to the previous episode of the same file and of the same task, a
skill to the episodes it was mined from and to similar skills, a pattern to its episodes.
Each records a memory moment when given a `Moments` log.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from memory.recall import graph
from memory.recall.index import MemoryIndex, search_one
from memory.recall.items import MemoryItem
from memory.recall.moments import Moments
from memory.skills.skill import Skill
from memory.store.database import Episode

MAX_TEXT = 4000  # characters of an item's text kept for embedding and display


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def episode_text(episode: Episode) -> str:
    """What an episode is about, in words and code, for embedding and display."""
    d = episode.data
    if episode.kind == "command":
        code = d.get("exitCode")
        status = "" if code is None else (" (ok)" if code == 0 else f" (exit {code})")
        return _clip(f"ran {d.get('command', '')}{status}")
    if episode.kind == "agent":
        parts = [str(d.get(k, "")) for k in ("task", "summary", "outcome") if d.get(k)]
        return _clip("agent: " + "\n".join(parts))
    region = d.get("region") or {}
    where = (episode.uri or "").rsplit("/", 1)[-1]
    before, after = region.get("before") or "", region.get("after") or ""
    return _clip(f"edit {where}\n{before.strip()}\n->\n{after.strip()}")


def _task_of(episode: Episode) -> str | None:
    task = episode.data.get("taskId") or episode.data.get("task")
    return str(task) if task else None


def index_episode(
    index: MemoryIndex,
    episode: Episode,
    *,
    importance: float = 0.4,
    moments: Moments | None = None,
    trigger: str | None = None,
) -> int | None:
    """Index a committed episode (it needs its id) and link it; returns the item id.

    Near-duplicate episodes (the same edit again) are gated and only reinforce the first;
    their links go to that first one, so a chain of edits stays connected through it.
    """
    if episode.id is None:
        raise ValueError("index_episode needs a committed episode (with an id)")
    node = graph.node_key("episode", episode.id)
    item = MemoryItem(
        kind="episode",
        ref_id=str(episode.id),
        text=episode_text(episode),
        language=episode.language,
        uri=episode.uri,
        source=episode.kind,
        created_at=episode.ended_at,
        importance=importance,
        data={"episodeKind": episode.kind, "sessionId": episode.session_id},
    )
    item_id, stored = index.add(item)
    store = index.store
    if not stored and item_id is not None:
        # gated: this episode has no item of its own, so its links go to the surviving
        # duplicate, or they would point at a node recall can never return
        survivor = index.get(item_id)
        if survivor is not None:
            node = survivor.node
    linked: list[str] = []
    if episode.uri:
        # the previous episode of the file that memory holds (one gated or pruned has no node
        # worth linking to: the chain goes on from the one before it)
        prev = store.query(
            "SELECT e.id FROM episodes e JOIN memory_items m ON m.kind = 'episode'"
            " AND m.ref_id = CAST(e.id AS TEXT) WHERE e.uri = ? AND e.id < ?"
            " ORDER BY e.id DESC LIMIT 1",
            (episode.uri, episode.id),
        )
        other = graph.node_key("episode", prev[0][0]) if prev else None
        if other is not None and other != node:
            graph.add_link(store, other, node, "same_file", 0.5)
            linked.append(other)
    task = _task_of(episode)
    if task:
        for (other_id,) in store.query(
            "SELECT e.id FROM episodes e JOIN memory_items m ON m.kind = 'episode'"
            " AND m.ref_id = CAST(e.id AS TEXT) WHERE e.id < ?"
            " AND (json_extract(e.data, '$.taskId') = ? OR json_extract(e.data, '$.task') = ?)"
            " ORDER BY e.id DESC LIMIT 1",
            (episode.id, task, task),
        ):
            other = graph.node_key("episode", other_id)
            if other != node:
                graph.add_link(store, other, node, "same_task", 0.9)
                linked.append(other)
    if moments is not None:
        moments.record("captured", node, trigger, linked, {"item": item_id})
    return item_id


def skill_text(skill: Any) -> str:
    """Name and before -> after of a memory.skills.skill.Skill (duck-typed): the templates with
    their holes as `${}`, or the first example's skeletons when a template does not render."""
    sides = []
    for side in ("before", "after"):
        try:
            sides.append(skill.pattern_text(side))
        except Exception:
            template = getattr(skill, f"{side}_template", None) or {}
            sides.append(str(template.get("skeleton", "")))
    return _clip(f"skill {skill.name}\n{sides[0]}\n->\n{sides[1]}")


def index_skill(
    index: MemoryIndex,
    skill_id: str,
    text: str,
    *,
    language: str | None = None,
    examples: Iterable[int | str] = (),
    importance: float = 0.6,
    moments: Moments | None = None,
    trigger: str | None = None,
) -> int | None:
    """Index a mined skill: `produced` links from its example episodes, `similar` links to
    skills at least `similar_skill_threshold` alike. Re-indexing a skill updates its item."""
    store = index.store
    node = graph.node_key("skill", skill_id)
    item_id, _ = index.add(
        MemoryItem(
            kind="skill", ref_id=skill_id, text=text, language=language, importance=importance
        ),
        gate=False,  # two skills may read alike and still be different rules
    )
    linked: list[str] = []
    for ep in examples:
        other = graph.node_key("episode", ep)
        graph.add_link(store, other, node, "produced", 1.0)
        linked.append(other)
    if item_id is not None:
        vec = index.embedder.embed_one(text)
        skills = {
            r[0]
            for r in store.query(
                "SELECT id FROM memory_items WHERE kind = 'skill' AND id != ?", (item_id,)
            )
        }
        if skills:
            for other_id, sim in search_one(index.vectors, vec, 5, skills):
                if sim < index.settings.similar_skill_threshold:
                    break
                other_item = index.get(int(other_id))
                if other_item is not None:
                    graph.add_link(store, node, other_item.node, "similar", round(float(sim), 4))
                    linked.append(other_item.node)
    if moments is not None:
        moments.record("mined", node, trigger, linked, {"item": item_id})
    return item_id


def forget_skill(index: MemoryIndex, skill_id: str) -> bool:
    """Drop a deleted skill's item (its links stay: they record where it came from)."""
    item = index.find(graph.node_key("skill", skill_id))
    if item is None or item.id is None:
        return False
    return index.delete([item.id]) > 0


def index_missing_skills(
    index: MemoryIndex, moments: Moments | None = None, limit: int = 5000
) -> int:
    """Index the store's live skills that memory does not hold yet (skills mined before the
    server indexed them, or by a process without memory); returns how many."""
    rows = index.store.query(
        "SELECT id, name, language, examples, data FROM skills WHERE deleted = 0 AND id NOT IN"
        " (SELECT ref_id FROM memory_items WHERE kind = 'skill' AND ref_id IS NOT NULL)"
        " ORDER BY created_at LIMIT ?",
        (limit,),
    )
    done = 0
    for row in rows:
        try:
            skill = Skill.from_json(json.loads(row["data"]))
            skill.name = row["name"]
            examples = [e for e in json.loads(row["examples"]) if str(e).isdigit()]
        except (ValueError, TypeError, KeyError):
            continue  # a skill format this kenetic does not read
        index_skill(
            index,
            row["id"],
            skill_text(skill),
            language=row["language"],
            examples=examples,
            moments=moments,
            trigger="backfill",
        )
        done += 1
    return done


def index_pattern(
    index: MemoryIndex,
    pattern_id: str,
    text: str,
    *,
    episodes: Iterable[int | str] = (),
    importance: float = 0.6,
    moments: Moments | None = None,
    trigger: str | None = None,
) -> int | None:
    """Index a reasoning pattern with `abstracts` links to the episodes it was mined from."""
    node = graph.node_key("pattern", pattern_id)
    item_id, _ = index.add(
        MemoryItem(kind="pattern", ref_id=pattern_id, text=text, importance=importance),
        gate=False,
    )
    linked = []
    for ep in episodes:
        other = graph.node_key("episode", ep)
        graph.add_link(index.store, node, other, "abstracts", 1.0)
        linked.append(other)
    if moments is not None:
        moments.record("mined", node, trigger, linked, {"item": item_id})
    return item_id
