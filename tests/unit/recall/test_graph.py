"""Typed links: neighbours, shortest paths (optionally by type or direction), node keys."""

from __future__ import annotations

import pytest

from memory.recall import graph
from memory.store.database import Store


def test_node_keys_parse_and_refuse_garbage() -> None:
    assert graph.node_key("skill", "ab:c") == "skill:ab:c"
    assert graph.parse_node("skill:ab:c") == ("skill", "ab:c")
    for bad in ("skill", "skill:", "thing:1", ":1"):
        with pytest.raises(ValueError):
            graph.parse_node(bad)


def test_neighbours_follow_links_both_ways_strongest_first(store: Store) -> None:
    graph.add_link(store, "episode:1", "skill:s", "produced", 1.0)
    graph.add_link(store, "episode:2", "skill:s", "produced", 0.5)
    graph.add_link(store, "skill:s", "skill:t", "similar", 0.9)
    store.flush()
    got = [(n, lk.type) for n, lk in graph.neighbours(store, "skill:s")]
    assert got == [("episode:1", "produced"), ("skill:t", "similar"), ("episode:2", "produced")]
    # out: produced links point into the skill, so only the symmetric `similar` one leaves it
    assert [n for n, _ in graph.neighbours(store, "skill:s", direction="out")] == ["skill:t"]
    assert [n for n, _ in graph.neighbours(store, "skill:s", ("produced",))] == [
        "episode:1",
        "episode:2",
    ]


def test_relinking_updates_the_weight_and_bad_links_are_refused(store: Store) -> None:
    graph.add_link(store, "episode:1", "episode:2", "same_file", 0.2)
    graph.add_link(store, "episode:1", "episode:2", "same_file", 0.7)
    store.flush()
    [(_, link)] = graph.neighbours(store, "episode:1")
    assert link.weight == 0.7
    with pytest.raises(ValueError):
        graph.add_link(store, "episode:1", "episode:1")
    with pytest.raises(ValueError):
        graph.add_link(store, "episode:1", "episode:3", "bad type!")
    with pytest.raises(ValueError):
        graph.add_link(store, "episode:1", "episode:3", weight=2.0)


def test_shortest_path_takes_the_fewest_links(store: Store) -> None:
    # a long way round (4 links) and a short way (2 links) from episode:1 to skill:z
    chain = ["episode:1", "episode:2", "episode:3", "episode:4", "skill:z"]
    for a, b in zip(chain, chain[1:], strict=False):
        graph.add_link(store, a, b, "same_task")
    graph.add_link(store, "pattern:p", "episode:1", "abstracts")
    graph.add_link(store, "pattern:p", "skill:z", "related")
    store.flush()
    path = graph.shortest_path(store, "episode:1", "skill:z")
    assert path is not None
    assert graph.path_nodes("episode:1", path) == ["episode:1", "pattern:p", "skill:z"]
    # restricted to same_task links, only the long way remains
    typed = graph.shortest_path(store, "episode:1", "skill:z", ("same_task",))
    assert typed is not None and graph.path_nodes("episode:1", typed) == chain
    assert graph.shortest_path(store, "episode:1", "skill:z", ("same_task",), max_depth=3) is None
    assert graph.shortest_path(store, "episode:1", "episode:1") == []
    assert graph.shortest_path(store, "episode:1", "skill:nowhere") is None


def test_directed_path_does_not_walk_a_link_backwards(store: Store) -> None:
    graph.add_link(store, "episode:1", "skill:s", "produced")
    graph.add_link(store, "episode:2", "skill:s", "produced")
    store.flush()
    undirected = graph.shortest_path(store, "episode:1", "episode:2")
    assert undirected is not None and len(undirected) == 2
    assert graph.shortest_path(store, "episode:1", "episode:2", directed=True) is None


def test_expand_spreads_seed_scores_over_links(store: Store) -> None:
    graph.add_link(store, "episode:1", "skill:s", "produced", 1.0)
    graph.add_link(store, "skill:s", "skill:t", "similar", 0.5)
    store.flush()
    one = graph.expand(store, {"episode:1": 0.8}, hops=1, decay=0.5)
    assert one == {"skill:s": (0.4, "episode:1")}
    two = graph.expand(store, {"episode:1": 0.8}, hops=2, decay=0.5)
    assert two["skill:t"] == (pytest.approx(0.1), "episode:1")
