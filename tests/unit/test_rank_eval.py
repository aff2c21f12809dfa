"""The pure pieces of the ranking bench (tests/bench/rank_eval.py): the split by repository,
the simulated developers' orders, the position heuristic, the bootstrap over commits and the
baselines' preselection."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.bench.rank_eval import (
    SIMULATORS,
    ModelRanker,
    PositionHeuristic,
    bootstrap_commits,
    bottom_up,
    nearest_first,
    random_across_files,
    random_in_file,
    rank_of,
    split_repos,
    top_down,
)

REPOS = [f"owner{i}/repo{i}" for i in range(22)]


# -- split by repository ---------------------------------------------------------------------


def test_split_by_repository_is_disjoint_and_complete() -> None:
    split = split_repos(REPOS, seed=3)
    train, val, test = (set(split[k]) for k in ("train", "val", "test"))
    assert not (train & val) and not (train & test) and not (val & test)
    assert train | val | test == set(REPOS)
    assert len(test) == round(0.3 * 22) and len(val) == round(0.2 * 22)


def test_split_does_not_depend_on_the_order_given_but_on_the_seed() -> None:
    assert split_repos(REPOS, seed=1) == split_repos(list(reversed(REPOS)), seed=1)
    assert split_repos(REPOS, seed=1) != split_repos(REPOS, seed=2)


def test_split_without_a_test_share_and_with_few_repositories() -> None:
    two_way = split_repos(REPOS[:8], (0.75, 0.25, 0.0))
    assert two_way["test"] == [] and len(two_way["val"]) == 2 and len(two_way["train"]) == 6
    three = split_repos(REPOS[:3])
    assert [len(three[k]) for k in ("train", "val", "test")] == [1, 1, 1]
    with pytest.raises(ValueError, match="at least 3 repositories"):
        split_repos(REPOS[:2])


# -- simulated developers --------------------------------------------------------------------

# two files; the indices are the edits' order in the case, deliberately not the file order
SITES = [("b.py", 10), ("a.py", 30), ("a.py", 5), ("b.py", 2), ("a.py", 12)]


def test_top_down_and_bottom_up() -> None:
    assert top_down(SITES) == [2, 4, 1, 3, 0]  # a.py 5, 12, 30; b.py 2, 10
    assert bottom_up(SITES) == [1, 4, 2, 0, 3]  # a.py 30, 12, 5; b.py 10, 2


def test_nearest_first_walks_to_the_nearest_remaining_site() -> None:
    order = nearest_first(SITES, "case-1")
    assert sorted(order) == list(range(len(SITES)))
    # whatever the random start, each next site in the same file is the nearest remaining one
    # (a tie goes down), and a file is finished before the walk moves on
    for k in range(1, len(order)):
        prev, cur = SITES[order[k - 1]], SITES[order[k]]
        left = [SITES[i] for i in order[k:]]
        same = [s for s in left if s[0] == prev[0]]
        if same:
            assert cur in same
            assert abs(cur[1] - prev[1]) == min(abs(s[1] - prev[1]) for s in same)
    # from a.py line 12 the nearest are 5 (7 away) and 30 (18 away)
    walk = [nearest_first(SITES, f"k{i}") for i in range(40)]
    from_12 = [o[o.index(4) + 1] for o in walk if o[0] == 4]
    assert from_12 and all(nxt == 2 for nxt in from_12)


def test_nearest_first_tie_goes_down_and_files_hand_over_in_path_order() -> None:
    sites = [("a.py", 10), ("a.py", 5), ("a.py", 15), ("c.py", 1), ("b.py", 7)]
    starts = {nearest_first(sites, f"k{i}")[0]: nearest_first(sites, f"k{i}") for i in range(60)}
    assert starts[0] == [0, 2, 1, 4, 3]  # 10 -> 15 (tie with 5, down wins) -> 5; then b, c
    assert starts[3] == [3, 1, 0, 2, 4]  # c.py done -> wraps round to a.py's first site


def test_random_orders_are_seeded_permutations() -> None:
    for sim in (random_in_file, random_across_files, nearest_first):
        assert sim(SITES, "x") == sim(SITES, "x")
        assert sorted(sim(SITES, "x")) == list(range(len(SITES)))
    many = [("a.py", i) for i in range(12)] + [("b.py", i) for i in range(12)]
    in_file = random_in_file(many, "x")
    assert [many[i][0] for i in in_file] == ["a.py"] * 12 + ["b.py"] * 12  # files stay in order
    assert in_file[:12] != sorted(in_file[:12])  # but not top-down within them
    across = random_across_files(many, "x")
    assert [many[i][0] for i in across] != ["a.py"] * 12 + ["b.py"] * 12
    assert random_across_files(many, "x") != random_across_files(many, "y")


def test_every_simulator_is_registered() -> None:
    assert set(SIMULATORS) == {
        "top_down", "bottom_up", "nearest_first", "random_in_file", "random_across_files",
    }  # fmt: skip
    for sim in SIMULATORS.values():
        assert sim([], "") == []


# -- the position heuristic and ranks --------------------------------------------------------


def _cand(delta: int | None, *, just: bool = False, same: bool = True) -> dict[str, object]:
    return {
        "lineDelta": delta,
        "distance": abs(delta) if delta is not None else None,
        "sameFile": same,
        "justApplied": just,
    }


def test_heuristic_puts_the_just_applied_skill_then_the_next_site_down_first() -> None:
    cands = [
        _cand(-1),  # just above the cursor
        _cand(8),  # below, farther
        _cand(3),  # the next site down
        _cand(40, just=True),  # the skill just applied, far below
        _cand(None, same=False),  # another file
    ]
    scores = PositionHeuristic().score({}, cands)
    order = sorted(range(len(cands)), key=lambda k: -scores[k])
    assert order[:3] == [3, 2, 1]
    # the rest tie and go to the server's tie-break: same file and nearest first
    assert rank_of(scores, cands, 0) == 4 and rank_of(scores, cands, 4) == 5


def test_rank_of_uses_the_server_tie_break() -> None:
    cands = [_cand(None, same=False), _cand(9), _cand(-2)]
    assert rank_of([1.0, 1.0, 1.0], cands, 2) == 1
    assert rank_of([1.0, 1.0, 1.0], cands, 0) == 3
    assert rank_of([0.0, 0.5, 0.2], cands, 1) == 1


# -- the bootstrap over commits --------------------------------------------------------------


def test_bootstrap_resamples_commits_not_sets() -> None:
    # commit A: 9 sets all right; commit B: 1 set wrong. Resampling the sets would almost never
    # give a mean under 0.5; resampling the commits gives 0.0 whenever B is drawn twice.
    groups = ["A"] * 9 + ["B"]
    values = {"r": [1.0] * 9 + [0.0]}
    out = bootstrap_commits(groups, values, samples=4000, seed=0)["r"]
    assert out["mean"] == pytest.approx(0.9)
    assert out["lo"] == 0.0 and out["hi"] == 1.0


def test_bootstrap_interval_and_paired_difference() -> None:
    rng = np.random.default_rng(0)
    groups = [g for g in range(60) for _ in range(3)]
    a = rng.uniform(0.5, 1.0, len(groups))
    b = a - 0.01  # b is a, everywhere 0.01 worse: the paired difference has no spread
    out = bootstrap_commits(groups, {"a": list(a), "b": list(b)}, [("a", "b")], seed=1)
    assert out["a"]["lo"] < out["a"]["mean"] < out["a"]["hi"]
    assert out["a-b"]["mean"] == pytest.approx(0.01, abs=1e-4)
    assert out["a-b"]["hi"] - out["a-b"]["lo"] < 1e-3
    # the unpaired intervals overlap: only the paired one says a is better
    assert out["b"]["hi"] > out["a"]["lo"]


# -- a per-candidate model behind the ranker protocol ----------------------------------------


def test_model_ranker_scores_the_preselected_and_puts_the_rest_below_in_rule_order() -> None:
    feats = np.zeros((5, 64), dtype=np.float32)
    feats[:, 46] = [0.9, 0.1, 0.8, 0.3, 0.2]  # rule score
    feats[:, 41] = 1.0  # distance unknown: rule order alone decides the preselection
    ranker = ModelRanker("toy", lambda rows: -rows[:, 46], cap=2)  # prefers the lower rule score
    scores = ranker.score_features(np.zeros(64, dtype=np.float32), feats)
    order = sorted(range(5), key=lambda k: -scores[k])
    assert order == [2, 0, 3, 4, 1]  # model: 2 above 0; then the rest by rule score


# -- the replay's case selection (tests/bench/rank_data.py) ----------------------------------


def _case(repo: str, n: int, edits: int) -> str:
    edit = {"path": "a.py", "start": [0, 0], "end": [1, 0], "old": "x\n", "new": "y\n"}
    return json.dumps({"id": f"{repo}#{n}", "repo": repo, "edits": [edit] * edits})


def test_load_cases_subsamples_each_repository_the_same_way(tmp_path: Path) -> None:
    from tests.bench.rank_data import load_cases

    data = tmp_path / "cases.jsonl"
    lines = [_case("o/a", n, 3 + n % 3) for n in range(9)] + [_case("o/b", n, 40) for n in range(3)]
    data.write_text("\n".join(reversed(lines)) + "\n")
    cases = load_cases(data, every=2, max_per_repo=3, max_edits=4)
    assert list(cases) == ["o/a"]  # every case of o/b has too many edits
    # o/a's cases with <= 4 edits, in id order: 0, 1, 3, 4, 6, 7; every 2nd: 0, 3, 6
    assert [c["id"] for c in cases["o/a"]] == ["o/a#0", "o/a#3", "o/a#6"]
    assert load_cases(data, every=2, max_per_repo=3, max_edits=4) == cases


def test_load_cases_says_which_line_is_bad(tmp_path: Path) -> None:
    from tests.bench.rank_data import load_cases

    data = tmp_path / "cases.jsonl"
    data.write_text(_case("o/a", 0, 3) + "\n{not json\n")
    with pytest.raises(SystemExit, match=r"cases.jsonl:2: not a replay case"):
        load_cases(data)
    with pytest.raises(SystemExit, match="no replay data"):
        load_cases(tmp_path / "missing.jsonl")
