"""The vector layer of memory: exact and approximate search, persistence, embedders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from memory.recall.embedders import HashedEmbedder, MiniLMEmbedder, OllamaEmbedder, make_embedder
from memory.recall.vector_file import ids_digest
from memory.recall.vectors import VectorIndex

DIM = 32


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def clustered(n: int, n_clusters: int = 40, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = unit(rng.standard_normal((n_clusters, DIM)))
    lab = rng.integers(0, n_clusters, n)
    return unit(centers[lab] + 0.45 * rng.standard_normal((n, DIM)) / np.sqrt(DIM))


def brute(vecs: np.ndarray, ids: np.ndarray, q: np.ndarray, k: int) -> list[int]:
    s = unit(vecs) @ unit(q)
    return ids[np.argsort(-s, kind="stable")[:k]].tolist()


def test_exact_under_threshold_equals_brute_force() -> None:
    x = clustered(3000)
    ids = np.arange(3000, dtype=np.int64) * 7 + 100  # ids are the caller's, not positions
    index = VectorIndex(DIM, exact_threshold=10_000, background=False)
    index.add(ids, x)
    assert index.stats()["mode"] == "exact"
    for q in clustered(20, seed=1):
        hits = index.search(q, k=10)
        assert [i for i, _ in hits] == brute(x, ids, q, 10)
        scores = [s for _, s in hits]
        assert scores == sorted(scores, reverse=True)
        assert scores[0] == pytest.approx(float(unit(x[(hits[0][0] - 100) // 7]) @ unit(q)), 1e-5)


def test_batch_query_gives_one_list_per_row() -> None:
    x = clustered(500)
    index = VectorIndex(DIM, background=False)
    index.add(np.arange(500), x)
    qs = clustered(3, seed=2)
    batch = index.search(qs, k=5)
    assert len(batch) == 3
    assert batch[1] == index.search(qs[1], k=5)


@pytest.mark.parametrize(
    ("ann", "options"),
    [
        # at d=32 the 4-bit codes are coarse: a wider candidate set for the exact re-rank
        ("ivfpqfs", {"nprobe": 64, "rerank_min": 400}),
        ("ivfflat", {"nprobe": 64}),
        ("hnsw", {"nprobe": 200}),  # efSearch
    ],
)
def test_approximate_recall_against_exact(ann: str, options: dict[str, int]) -> None:
    x = clustered(20_000, n_clusters=100)
    ids = np.arange(20_000, dtype=np.int64)
    index = VectorIndex(DIM, exact_threshold=2000, ann=ann, background=False, **options)
    index.add(ids, x)
    assert index.stats()["mode"] == ann
    assert index.stats()["side_rows"] == 0
    qs = clustered(100, n_clusters=100, seed=3)
    recall = np.mean(
        [len({i for i, _ in index.search(q, k=10)} & set(brute(x, ids, q, 10))) / 10 for q in qs]
    )
    assert recall >= 0.9, recall


def test_allowed_restricts_hits() -> None:
    x = clustered(5000)
    ids = np.arange(5000, dtype=np.int64)
    index = VectorIndex(DIM, exact_threshold=1000, background=False)
    index.add(ids, x)
    allowed = set(range(0, 5000, 97))
    q = clustered(1, seed=4)[0]
    hits = index.search(q, k=5, allowed=allowed)
    sub = np.array(sorted(allowed))
    assert [i for i, _ in hits] == brute(x[sub], sub, q, 5)


def test_remove_and_replace() -> None:
    x = clustered(2000)
    ids = np.arange(2000, dtype=np.int64)
    index = VectorIndex(DIM, background=False)
    index.add(ids, x)
    q = x[10]
    assert index.search(q, k=1)[0][0] == 10
    assert index.remove([10, 11, 99999]) == 2
    assert len(index) == 1998
    assert 10 not in {i for i, _ in index.search(q, k=50)}
    index.add([10], -x[10:11])  # re-adding an id replaces its vector
    assert len(index) == 1999
    assert index.search(q, k=1999)[-1][0] == 10


def test_exact_mode_compacts_tombstones() -> None:
    x = clustered(4000)
    index = VectorIndex(DIM, background=False)
    index.add(np.arange(4000), x)
    index.remove(np.arange(3000))
    assert index.stats()["rows"] == 1000 and index.stats()["dead"] == 0
    assert index.search(x[3500], k=1)[0][0] == 3500
    index.remove([3500])
    assert 3500 not in {i for i, _ in index.search(x[3500], k=5)}


def test_remove_with_approximate_index_and_compaction() -> None:
    x = clustered(6000)
    ids = np.arange(6000, dtype=np.int64)
    index = VectorIndex(DIM, exact_threshold=1000, background=False)
    index.add(ids, x)
    gone = np.arange(0, 6000, 2)  # half: enough tombstones to force a compacting rebuild
    index.remove(gone)
    assert index.stats()["dead"] == 0 and index.stats()["rows"] == 3000
    for q in x[:20]:
        assert all(i % 2 == 1 for i, _ in index.search(q, k=10))


def test_side_buffer_is_searched_exactly_and_flushed() -> None:
    x = clustered(6000)
    index = VectorIndex(DIM, exact_threshold=4000, flush_size=1500, background=False)
    index.add(np.arange(4000), x[:4000])
    index.add(np.arange(4000, 5000), x[4000:5000])
    assert index.stats()["side_rows"] == 1000
    assert index.search(x[4500], k=1)[0][0] == 4500  # found in the side buffer
    index.add(np.arange(5000, 6000), x[5000:])
    assert index.stats()["side_rows"] == 0  # flushed into the trained lists
    assert index.search(x[5500], k=1)[0][0] == 5500


def test_growth_retrains_when_the_set_doubles() -> None:
    index = VectorIndex(DIM, exact_threshold=1000, background=False)
    x = clustered(8000)
    for lo in range(0, 8000, 500):
        index.add(np.arange(lo, lo + 500), x[lo : lo + 500])
    builds = index.stats()["builds"]
    assert 3 <= builds <= 4  # at 1000, 2000, 4000, 8000 live vectors: doubling, not per add


def test_save_load_round_trip(tmp_path: Path) -> None:
    x = clustered(5000)
    ids = np.arange(5000, dtype=np.int64) + 1
    path = tmp_path / "vectors.knv"
    index = VectorIndex(DIM, exact_threshold=1000, path=path, embedder_name="e1", background=False)
    index.add(ids, x)
    index.remove([3])
    index.save()
    loaded = VectorIndex.load(
        path, DIM, embedder_name="e1", expected_ids=ids[ids != 3], background=False
    )
    assert loaded.load_status == "loaded"
    assert loaded.stats()["mode"] == "ivfpqfs" and loaded.stats()["builds"] == 0
    assert len(loaded) == 4999
    for q in clustered(10, seed=5):
        assert loaded.search(q, k=10) == index.search(q, k=10)


def _saved(tmp_path: Path, n: int = 300) -> tuple[np.ndarray, np.ndarray, Path]:
    x = clustered(n)
    ids = np.arange(n, dtype=np.int64)
    path = tmp_path / "v.knv"
    index = VectorIndex(DIM, path=path, embedder_name="e1", background=False)
    index.add(ids, x)
    index.save()
    return ids, x, path


def test_corrupt_file_is_rebuilt_not_trusted(tmp_path: Path) -> None:
    ids, x, path = _saved(tmp_path)
    raw = bytearray(path.read_bytes())
    raw[-100] ^= 0xFF  # flip bits inside the vectors
    path.write_bytes(bytes(raw))
    loaded = VectorIndex.load(path, DIM, embedder_name="e1", source=lambda: (ids, x))
    assert loaded.load_status.startswith("rebuilt") and "checksum" in loaded.load_status
    q = clustered(1, seed=6)[0]
    assert [i for i, _ in loaded.search(q, k=5)] == brute(x, ids, q, 5)

    path.write_bytes(b"garbage")
    assert VectorIndex.load(path, DIM, embedder_name="e1").load_status.startswith("rebuilt")
    path.write_bytes(raw[: len(raw) // 2])  # truncated
    assert len(VectorIndex.load(path, DIM, embedder_name="e1")) == 0


def test_stale_or_foreign_file_is_rebuilt(tmp_path: Path) -> None:
    ids, x, path = _saved(tmp_path)
    # the store gained a row the file has never seen: stale
    stale = VectorIndex.load(path, DIM, embedder_name="e1", expected_ids=np.append(ids, 999))
    assert "stale" in stale.load_status and len(stale) == 0
    other = VectorIndex.load(path, DIM, embedder_name="e2")  # vectors of another embedder
    assert "embedder" in other.load_status and len(other) == 0
    assert "dim" in VectorIndex.load(path, DIM * 2, embedder_name="e1").load_status
    assert VectorIndex.load(tmp_path / "none.knv", DIM).load_status == "missing"
    assert ids_digest([3, 1, 2]) == ids_digest(np.array([1, 2, 3]))


def test_background_rebuild_while_searching_is_consistent() -> None:
    x = clustered(30_000, n_clusters=100)
    ids = np.arange(30_000, dtype=np.int64)
    index = VectorIndex(DIM, exact_threshold=5000)
    index.add(ids[:5000], x[:5000])
    index.wait_idle()
    probes = [int(i) for i in range(0, 30_000, 1500)]
    errors: list[str] = []
    stop = threading.Event()

    def searcher() -> None:
        while not stop.is_set():
            n = len(index)
            for p in probes:
                if p < n - 100:  # present before this round: must be found, exactly once
                    hits = index.search(x[p], k=10)
                    got = [i for i, _ in hits]
                    if got[0] != p or len(set(got)) != len(got):
                        errors.append(f"probe {p}: {got[:3]}")

    t = threading.Thread(target=searcher)
    t.start()
    for lo in range(5000, 30_000, 2500):
        index.add(ids[lo : lo + 2500], x[lo : lo + 2500])
    index.rebuild_async()
    assert index.wait_idle(timeout=60)
    stop.set()
    t.join()
    assert not errors, errors[:5]
    stats = index.stats()
    assert stats["builds"] >= 2 and stats["count"] == 30_000 and not stats["rebuilding"]


# --- embedders ---------------------------------------------------------------------------------

A = "def get_user_name(self, user_id):\n    return self.users[user_id].display_name\n"
B = "def getUserEmail(self, userId):\n    return self.users[userId].email_address\n"
C = "for row in table.rows:\n    total += float(row['price']) * 1.2\nprint(total)\n"


def test_hashed_embedder_deterministic_normalised_and_similar() -> None:
    e = HashedEmbedder()
    v = e.embed([A, B, C, ""])
    assert v.shape == (4, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v[:3], axis=1), 1.0, rtol=1e-5)
    assert not v[3].any()  # empty text: a zero vector, not NaN
    np.testing.assert_array_equal(HashedEmbedder().embed_one(A), v[0])  # fresh instance
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2  # camelCase and snake_case spellings meet
    assert v[1] @ v[0] > v[1] @ v[2] + 0.2
    assert e.name == "hashed-v3-384" and e.dim == 384
    assert make_embedder("hashed", dim=128).dim == 128


def test_hashed_embedder_is_stable_across_processes() -> None:
    # str hashes are salted per process; stored vectors must match tomorrow's queries
    text = "def parse_args(argv): return argv[1:]"
    v = HashedEmbedder(dim=64).embed_one(text)
    code = (
        "import json; from memory.recall.embedders import HashedEmbedder;"
        f"print(json.dumps(HashedEmbedder(dim=64).embed_one({text!r}).tolist()))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "random"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    np.testing.assert_allclose(np.array(json.loads(out.stdout)), v, rtol=1e-6)


def test_minilm_embedder() -> None:
    ok, why = MiniLMEmbedder.available()
    if not ok:
        pytest.skip(why)
    e = MiniLMEmbedder()
    v = e.embed([A, B, C])
    assert v.shape == (3, e.dim)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2]


def test_ollama_embedder_without_host() -> None:
    pytest.importorskip("ollama")
    e = OllamaEmbedder(model="nomic-embed-text", host="http://127.0.0.1:9", dim=768)
    assert e.name == "ollama:nomic-embed-text" and e.dim == 768
    with pytest.raises(Exception):  # noqa: B017 - nothing listens there: a clear failure
        e.embed(["x"])
