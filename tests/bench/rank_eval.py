"""The pure pieces of tests/bench/rank.py's quality bench: the split by repository, the
simulated developers, the position heuristic, the bootstrap over commits, and the baselines'
adapter to the ranker protocol.

No torch and no replay here: tests/unit/test_rank_eval.py checks each piece on hand-made cases.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

# -- split by repository ---------------------------------------------------------------------


def _repo_hash(repo: str, seed: int) -> int:
    return int(hashlib.sha1(f"{seed}:{repo}".encode()).hexdigest()[:8], 16)


def split_repos(
    repos: Sequence[str], fractions: tuple[float, float, float] = (0.5, 0.2, 0.3), seed: int = 0
) -> dict[str, list[str]]:
    """Repositories into train / validation / test, disjoint, in a seeded order that does not
    depend on the order given; training keeps at least one."""
    ordered = sorted(set(repos), key=lambda r: (_repo_hash(r, seed), r))
    n = len(ordered)
    if n < 3:
        raise ValueError(f"a split by repository needs at least 3 repositories, got {n}")
    # a split with a share gets at least one repository; one without gets none
    n_test = max(1, round(fractions[2] * n)) if fractions[2] > 0 else 0
    n_val = max(1, round(fractions[1] * n)) if fractions[1] > 0 else 0
    while n_test + n_val > n - 1:  # training keeps at least one repository
        if n_test >= n_val:
            n_test -= 1
        else:
            n_val -= 1
    test = ordered[:n_test]
    val = ordered[n_test : n_test + n_val]
    train = ordered[n_test + n_val :]
    return {"train": sorted(train), "val": sorted(val), "test": sorted(test)}


# -- simulated developers: which remaining site the developer takes next ---------------------
# A case's sites are its edits: (path, line) each. A simulator returns the order in which the
# developer makes them; the replay (tests/bench/rank_data.py) shows the suggestions before each
# step and the next site in this order is the accepted one.

Site = tuple[str, int]


def _rng(key: str) -> random.Random:
    return random.Random(int(hashlib.sha1(key.encode()).hexdigest()[:12], 16))


def top_down(sites: Sequence[Site], key: str = "") -> list[int]:
    """Files in path order, each from its first line to its last."""
    return sorted(range(len(sites)), key=lambda i: (sites[i][0], sites[i][1], i))


def bottom_up(sites: Sequence[Site], key: str = "") -> list[int]:
    """Files in path order, each from its last line up to its first."""
    return sorted(range(len(sites)), key=lambda i: (sites[i][0], -sites[i][1], -i))


def nearest_first(sites: Sequence[Site], key: str = "") -> list[int]:
    """Starts at a random site, then always the nearest remaining site in the same file (a tie
    goes down); a finished file hands over to the next file in path order (wrapping round),
    at its first site."""
    if not sites:
        return []
    left = set(range(len(sites)))
    cur = _rng(f"nearest:{key}").randrange(len(sites))
    out = [cur]
    left.discard(cur)
    files = sorted({p for p, _ in sites})
    while left:
        path, line = sites[cur]
        same = [i for i in left if sites[i][0] == path]
        if same:
            cur = min(same, key=lambda i: (abs(sites[i][1] - line), sites[i][1] < line, i))
        else:
            remaining = {sites[i][0] for i in left}
            at = files.index(path)
            ring = [files[(at + k) % len(files)] for k in range(1, len(files) + 1)]
            nxt = next(f for f in ring if f in remaining)
            cur = min((i for i in left if sites[i][0] == nxt), key=lambda i: (sites[i][1], i))
        out.append(cur)
        left.discard(cur)
    return out


def random_in_file(sites: Sequence[Site], key: str = "") -> list[int]:
    """Files in path order, the sites of each in a random order."""
    rng = _rng(f"in-file:{key}")
    out: list[int] = []
    for path in sorted({p for p, _ in sites}):
        group = [i for i in top_down(sites) if sites[i][0] == path]
        rng.shuffle(group)
        out += group
    return out


def random_across_files(sites: Sequence[Site], key: str = "") -> list[int]:
    """Any remaining site of any file next: a random order of all the sites."""
    out = list(range(len(sites)))
    _rng(f"across:{key}").shuffle(out)
    return out


SIMULATORS: dict[str, Callable[[Sequence[Site], str], list[int]]] = {
    "top_down": top_down,
    "bottom_up": bottom_up,
    "nearest_first": nearest_first,
    "random_in_file": random_in_file,
    "random_across_files": random_across_files,
}


# -- the position heuristic ------------------------------------------------------------------


class PositionHeuristic:
    """No training: the skill just applied by hand first, then the next site down from the
    cursor in its file; the rest tie, for the server's tie-break (same file, nearest)."""

    name = "heuristic"

    def score(self, context: dict[str, Any], candidates: list[dict[str, Any]]) -> list[float]:
        return [_position(c) for c in candidates]


def _position(c: dict[str, Any]) -> float:
    below = c.get("lineDelta")
    down = 1.0 / (1.0 + below) if c.get("sameFile") and below is not None and below > 0 else 0.0
    return (2.0 if c.get("justApplied") else 0.0) + down


# -- ranks and the bootstrap over commits ----------------------------------------------------


def tiebreak(c: dict[str, Any]) -> tuple[int, float]:
    # The server's tie-break (server.suggest.service.rank): same file, then the nearest site.
    d = c.get("distance")
    return (0 if c.get("sameFile") else 1, float(d) if d is not None else math.inf)


def rank_of(scores: Sequence[float], candidates: Sequence[dict[str, Any]], accepted: int) -> int:
    order = sorted(range(len(candidates)), key=lambda k: (-scores[k], *tiebreak(candidates[k]), k))
    return order.index(accepted) + 1


def bootstrap_commits(
    groups: Sequence[Any],
    values: Mapping[str, Sequence[float]],
    diffs: Sequence[tuple[str, str]] = (),
    samples: int = 2000,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """Mean per ranking set of each series in `values` (one value per set; `groups[k]` is set
    k's commit) with a 95% percentile interval from resampling the COMMITS with replacement:
    a commit's sets come and go together, since one commit yields many sets. `diffs` (a, b)
    adds a - b, resampled pairwise (the same commits for both)."""
    keys = sorted(set(groups), key=str)
    index = {g: i for i, g in enumerate(keys)}
    gid = np.array([index[g] for g in groups], dtype=np.int64)
    n = len(keys)
    counts = np.bincount(gid, minlength=n).astype(float)
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(n, np.full(n, 1.0 / n), size=samples).astype(float) if n else None
    series = dict(values)
    for a, b in diffs:
        series[f"{a}-{b}"] = np.asarray(values[a], float) - np.asarray(values[b], float)
    out: dict[str, dict[str, float]] = {}
    for name, v in series.items():
        sums = np.bincount(gid, weights=np.asarray(v, float), minlength=n)
        point = float(sums.sum() / counts.sum()) if n else math.nan
        if weights is None:
            out[name] = {"mean": point, "lo": math.nan, "hi": math.nan}
            continue
        boot = (weights @ sums) / np.maximum(weights @ counts, 1e-12)
        lo, hi = np.percentile(boot, [2.5, 97.5])
        out[name] = {"mean": round(point, 4), "lo": round(float(lo), 4), "hi": round(float(hi), 4)}
    return out


# -- a per-candidate model as a ranker -------------------------------------------------------


class ModelRanker:
    """A per-candidate model (logistic regression, boosted trees) behind the ranker protocol,
    with the TRM ranker's preselection: the best `cap` by rule score (ties to the nearest site)
    are scored by the model, the rest follow below them in rule order."""

    def __init__(self, name: str, predict: Callable[[np.ndarray], np.ndarray], cap: int = 64):
        self.name = name
        self.predict = predict
        self.cap = cap

    def score(self, context: dict[str, Any], candidates: list[dict[str, Any]]) -> list[float]:
        from trm.features import featurize

        ctx, feats = featurize(context, candidates)
        return self.score_features(ctx, feats)

    def score_features(self, ctx: np.ndarray, feats: np.ndarray) -> list[float]:
        from trm.features import preselect

        keep = preselect(feats, self.cap)
        values = self.predict(rows(ctx, feats[keep]))
        if len(keep) == len(feats):
            return [float(v) for v in values]
        out = np.empty(len(feats))
        out[keep] = values
        rest = np.setdiff1d(np.arange(len(feats)), keep)
        by_rule = rest[np.argsort(-feats[rest, 46], kind="stable")]
        out[by_rule] = float(np.min(values)) - 1.0 - np.arange(len(by_rule)) / max(1, len(by_rule))
        return [float(v) for v in out]


def rows(ctx: np.ndarray, feats: np.ndarray) -> np.ndarray:
    """One row per candidate: its features, then the context's (the same for the whole set;
    they matter to trees, which can cross them with the candidate's)."""
    return np.hstack([feats, np.broadcast_to(ctx, (len(feats), len(ctx)))])
