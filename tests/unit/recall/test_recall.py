"""Hybrid recall: similarity, recency decay, graph expansion, filters, novelty gate, pruning."""

from __future__ import annotations

import time

import pytest

from memory.recall import graph, ingest
from memory.recall.index import MemoryIndex
from memory.recall.items import DAY, MemoryItem, MemorySettings
from memory.recall.moments import Moments
from memory.store.database import Episode, Store, vector_path

NOW = 1_700_000_000.0


def _note(text: str, at: float = NOW, **kw: object) -> MemoryItem:
    return MemoryItem(kind="note", text=text, created_at=at, **kw)  # type: ignore[arg-type]


def test_recency_decay_orders_equally_similar_items(store: Store) -> None:
    index = MemoryIndex(store, MemorySettings(half_life_days=7))
    old, _ = index.add(
        _note("retry the flaky http client with backoff", NOW - 30 * DAY), gate=False
    )
    new, _ = index.add(_note("retry the flaky http client with backoff", NOW - 1 * DAY), gate=False)
    index.add(_note("colour palette of the settings page"))
    hits = index.recall("flaky http retry backoff", k=3, now=NOW)
    assert [h.item.id for h in hits[:2]] == [new, old]
    assert hits[0].similarity == pytest.approx(hits[1].similarity)
    assert hits[0].recency == pytest.approx(0.5 ** (1 / 7))
    # the unrelated note is below min_relevance: recency alone never recalls it
    assert len(hits) == 2


def test_importance_and_similarity_both_count(store: Store) -> None:
    index = MemoryIndex(store)
    low, _ = index.add(_note("parse the config file with tomllib", importance=0.1))
    high, _ = index.add(_note("parse the config file with tomllib loader", importance=1.0))
    hits = index.recall("parse config with tomllib", k=2, now=NOW)
    assert hits[0].item.id == high and hits[1].item.id == low


def test_graph_expansion_pulls_in_linked_items(store: Store) -> None:
    index = MemoryIndex(store)
    seed, _ = index.add(_note("database migration failed on the users table"))
    linked, _ = index.add(_note("ran alembic upgrade head", ref_id="fix-1"))
    index.add(_note("ran the linter on the frontend"))
    graph.add_link(store, f"item:{seed}", "note:fix-1", "related", 1.0)
    store.flush()
    hits = index.recall("users table migration failure", k=5, now=NOW)
    by_id = {h.item.id: h for h in hits}
    assert seed in by_id and linked in by_id
    assert by_id[linked].graph > 0 and by_id[linked].via == f"item:{seed}"
    # it shares no words with the query: only the link brought it in; the unlinked note stays out
    assert by_id[linked].similarity < index.settings.min_relevance
    assert len(hits) == 2


def test_filters_by_kind_language_uri_and_time(store: Store) -> None:
    index = MemoryIndex(store)
    a, _ = index.add(
        MemoryItem("skill", "wrap open() in a with block", "s1", "python", created_at=NOW)
    )
    b, _ = index.add(
        MemoryItem(
            "note",
            "wrap open() in a with block always",
            language="python",
            uri="file:///w/src/io.py",
            created_at=NOW - 10 * DAY,
        )
    )
    c, _ = index.add(
        MemoryItem(
            "note", "wrap fopen in a guard", language="c", uri="file:///w/lib/io.c", created_at=NOW
        )
    )
    q = "wrap open in a with block"
    assert {h.item.id for h in index.recall(q, kinds=("skill",), now=NOW)} == {a}
    assert {h.item.id for h in index.recall(q, language="c", now=NOW)} == {c}
    assert {h.item.id for h in index.recall(q, uri="file:///w/src/", now=NOW)} == {b}
    assert {h.item.id for h in index.recall(q, since=NOW - DAY, now=NOW)} == {a, c}
    assert index.recall(q, kinds=("pattern",)) == []
    with pytest.raises(ValueError):
        index.recall(q, kinds=("bogus",))


def test_novelty_gate_skips_near_duplicates_and_counts_them(store: Store) -> None:
    index = MemoryIndex(store, MemorySettings(novelty_threshold=0.95))
    first, stored = index.add(_note("always run ruff before committing"))
    assert stored
    again, stored = index.add(_note("always run ruff before committing"))
    assert (again, stored) == (first, False)
    other, stored = index.add(_note("the staging server is at staging.internal"))
    assert stored and other != first
    # a different kind with the same text is not a duplicate of the note
    _, stored = index.add(MemoryItem("pattern", "always run ruff before committing", "p1"))
    assert stored
    store.flush()
    assert index.counters["duplicates"] == 1 and index.count() == 3
    assert index.get(first).use_count == 1  # the duplicate reinforced the original
    assert MemoryIndex(store).counters["duplicates"] == 1  # persisted


def test_pruning_keeps_protected_items(store: Store) -> None:
    index = MemoryIndex(store, MemorySettings(max_items=7, prune_to=0.86))
    old = time.time() - 100 * DAY  # protected items are the oldest: age alone would prune them
    pinned = [index.add(_note(f"pinned note number {w}", old, pinned=True))[0] for w in "abc"]
    skill, _ = index.add(
        MemoryItem("skill", "replace print with logging", "s-accepted", created_at=old)
    )
    # a skill with an accepted suggestion is protected (memory.recall.retention marks it)
    store.execute_later(
        "INSERT INTO outcomes (suggestion_id, skill_id, outcome, at) VALUES (?, ?, ?, ?)",
        ("sg1", "s-accepted", "accepted", NOW),
    )
    topics = ["kafka consumer lag", "css grid layout", "jwt expiry", "docker layer cache"]
    now = time.time()
    plain = [index.add(_note(t, now - i * DAY))[0] for i, t in enumerate(topics)]
    # the 8th item passes the cap of 7: pruned down to 6, the two least retained plain notes
    # (the oldest) go and the 4 protected items stay
    store.flush()
    ids = {r[0] for r in store.query("SELECT id FROM memory_items")}
    assert ids == set(pinned) | {skill} | set(plain[:2])
    assert index.counters["pruned"] == 2
    assert index.get(skill).protected  # type: ignore[arg-type, union-attr]
    # below the cap nothing more goes, however old
    assert index.prune(now=now + 1000 * DAY) == 0
    assert set(index.vectors_ids()) == ids


def test_vectors_persist_and_a_stale_file_is_rebuilt(store: Store) -> None:
    index = MemoryIndex(store)
    item, _ = index.add(_note("cache the tree-sitter parser per language"))
    index.close()
    again = MemoryIndex(store)
    assert again.vectors.load_status == "loaded"
    assert again.recall("tree-sitter parser cache")[0].item.id == item
    store.execute_later("DELETE FROM memory_items")
    store.flush()
    stale = MemoryIndex(store)
    assert stale.vectors.load_status.startswith("rebuilt") and len(stale.vectors) == 0
    assert vector_path(store.path).exists()


def test_ingest_links_episodes_skills_and_records_moments(store: Store) -> None:
    index = MemoryIndex(store)
    moments = Moments(store, limit=3)
    ids: list[int | None] = []
    t = time.time()
    for i in range(3):
        data = {"region": {"before": f"print(v{i})", "after": f"log.info(v{i})"}, "taskId": "T"}
        store.add_episode(Episode("edit", "s", t, t + 1, data, uri="file:///a.py"), ids.append)
    store.flush()
    for i in ids:
        ep = store.episode(i)  # type: ignore[arg-type]
        assert ep is not None
        ingest.index_episode(index, ep, moments=moments, trigger="didSave")
    ingest.index_skill(index, "sk", "print($x) -> log.info($x)", examples=ids[:2], moments=moments)
    store.flush()
    links = {(lk.src, lk.dst, lk.type) for lk in graph.links_of(store, [f"episode:{ids[0]}"])}
    assert (f"episode:{ids[0]}", f"episode:{ids[1]}", "same_file") in links
    assert (f"episode:{ids[0]}", f"episode:{ids[1]}", "same_task") in links
    assert (f"episode:{ids[0]}", "skill:sk", "produced") in links
    last = moments.last(10)
    assert len(last) == 3  # bounded
    assert last[0].event == "mined" and last[0].subject == "skill:sk"
    assert last[1].event == "captured" and last[1].trigger == "didSave"
