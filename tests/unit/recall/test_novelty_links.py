"""The novelty gate keeps the graph connected (issue 16, item 19): a gated near-duplicate's
links go to the surviving duplicate, so a chain of edits is recalled through it."""

from __future__ import annotations

from memory.recall import graph, ingest
from memory.recall.index import MemoryIndex
from memory.store.database import Episode, Store

NOW = 1_700_000_000.0


def _committed(store: Store, episode: Episode) -> Episode:
    ids: list[int | None] = []
    store.add_episode(episode, done=ids.append)
    assert store.flush(10) and ids[0] is not None
    return episode


def _edit(store: Store, n: int, before: str, after: str, **data: object) -> Episode:
    return _committed(
        store,
        Episode(
            "edit",
            "s1",
            NOW + n,
            NOW + n + 1,
            {"region": {"before": before, "after": after}, **data},
            uri="file:///ws/billing.py",
            language="python",
        ),
    )


def _dangling(store: Store, index: MemoryIndex) -> list[str]:
    store.flush(10)
    nodes = {n for row in store.query("SELECT src, dst FROM memory_links") for n in row}
    return sorted(n for n in nodes if index.find(n) is None)


def test_a_gated_edit_links_through_its_surviving_duplicate(store: Store) -> None:
    index = MemoryIndex(store)
    first = _edit(store, 0, "total = price * qty", "total = round(price * qty, 2)")
    again = _edit(store, 1, "total = price * qty", "total = round(price * qty, 2)")
    third = _edit(store, 2, "send_invoice(customer)", "send_invoice(customer, currency)")
    kept = ingest.index_episode(index, first)
    gated = ingest.index_episode(index, again)
    assert gated == kept  # the near-duplicate was gated onto the first edit
    ingest.index_episode(index, third)

    assert _dangling(store, index) == []  # every link ends at a node memory holds
    assert [n for n, _ in graph.neighbours(store, f"episode:{first.id}")] == [f"episode:{third.id}"]
    hits = index.recall("total = price * qty round", k=10, now=NOW)
    found = {h.item.ref_id: h for h in hits}
    assert str(first.id) in found and str(third.id) in found, "the chain stops at the first edit"
    assert found[str(third.id)].via == f"episode:{first.id}"


def test_a_gated_task_step_links_its_task_to_the_survivor(store: Store) -> None:
    index = MemoryIndex(store)
    one = _edit(store, 0, "a = load()", "a = load(strict=True)", taskId="t1")
    two = _edit(store, 1, "a = load()", "a = load(strict=True)", taskId="t1")
    three = _edit(store, 2, "save(a)", "save(a, atomic=True)", taskId="t1")
    for episode in (one, two, three):
        ingest.index_episode(index, episode)
    assert _dangling(store, index) == []
    linked = {n for n, _ in graph.neighbours(store, f"episode:{three.id}", ("same_task",))}
    assert linked == {f"episode:{one.id}"}
