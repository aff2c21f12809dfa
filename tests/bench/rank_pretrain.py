"""Fit the shipped linear ranker (trm/linear.py, trm/ranker_lr.json) on the replayed corpora.

    .venv/bin/python tests/bench/rank_pretrain.py --corpus /work/corpora \
        --max-cases 20 --max-edits 30 --out trm/ranker_lr.json

The outcome logs are tests/bench/rank_data.py's replay of the commit corpora (cached under
$KENETIC_BENCH_CACHE), split as tests/bench/rank_quality.py splits them: the repositories of
`py/commits_py_train.jsonl` into training and validation (by repository), those of
`py/commits_py_val.jsonl` are the test repositories, which no choice is made on. A new user's
order of work is unknown, so the training rows are the union of every simulated developer's
logs (tests.bench.rank_eval.SIMULATORS). C, and whether the rows carry trm.linear.DIRECTION's
products (position features times the recent edits' direction), are chosen by the mean
validation MRR over the developers of a fit on the training repositories; the shipped model is
then fitted with that choice on training and validation together, and read once on the test
repositories (MRR per developer, with 95% intervals over test commits, beside the rules). Only
weights are written: no corpus text goes into the file. Prints the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.bench.rank_data import outcome_logs, reciprocal_ranks  # noqa: E402
from tests.bench.rank_eval import SIMULATORS, bootstrap_commits, rank_of  # noqa: E402
from tests.bench.rank_quality import LR_C, TRAIN_CAP, _cases, _Features  # noqa: E402
from trm.features import preselect  # noqa: E402
from trm.linear import DIRECTION, LinearRanker, design, from_json  # noqa: E402
from trm.ranker import RuleRanker  # noqa: E402

Logs = dict[str, list[dict[str, Any]]]


def _rows(feats: _Features, outcomes: list[dict[str, Any]], inter: Any) -> tuple[Any, Any]:
    """One row per candidate (trm.linear.design), each set cut to TRAIN_CAP as the bench's
    baselines and the TRM train (the accepted one kept); unaccepted sets give negatives only."""
    xs, ys = [], []
    for o in outcomes:
        ctx, f = feats.of(o)
        acc = o["accepted_index"]
        keep = preselect(f, TRAIN_CAP, keep=-1 if acc is None else acc)
        xs.append(design(ctx, f[keep], inter))
        ys.append((keep == acc).astype(np.int64) if acc is not None else np.zeros(len(keep)))
    return np.vstack(xs), np.concatenate(ys).astype(np.int64)


def _fit(xy: tuple[Any, Any], c: float, inter: Any, meta: dict[str, Any]) -> LinearRanker:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    x, y = xy
    scaler = StandardScaler().fit(x)
    model = LogisticRegression(C=c, max_iter=3000).fit(scaler.transform(x), y)
    return LinearRanker(scaler.mean_, scaler.scale_, model.coef_[0], float(model.intercept_[0]),
                        interactions=inter, meta=meta)  # fmt: skip


def _rr(feats: _Features, ranker: LinearRanker, outcomes: list[dict[str, Any]]) -> list[float]:
    return [
        1.0 / rank_of(ranker.score_features(*feats.of(o)), o["candidates"], acc)
        for o in outcomes
        if (acc := o["accepted_index"]) is not None
    ]


def _mrr(values: list[float]) -> float:
    return round(statistics.fmean(values), 4) if values else 0.0


def main() -> None:
    from threadpoolctl import threadpool_limits

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path("/work/corpora"))
    parser.add_argument("--max-cases", type=int, default=20)
    parser.add_argument("--max-edits", type=int, default=30)
    parser.add_argument("--every", type=int, default=1)
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--simulators", default="all")
    parser.add_argument("--out", type=Path, help="write the ranker file here")
    parser.add_argument("--trm-out", type=Path, help="also pretrain the TRM (token views) here")
    parser.add_argument("--trm-budget", type=float, default=240.0, help="its training, seconds")
    parser.add_argument("--trm-steps", type=int, default=1500, help="its most steps")
    args = parser.parse_args()
    args.train_data = args.test_data = None
    args.data = None
    t0 = time.perf_counter()
    cases, split = _cases(args)
    sims = list(SIMULATORS) if args.simulators == "all" else args.simulators.split(",")
    logs = {sim: outcome_logs(cases, sim) for sim in sims}

    def part(sim: str, side: str) -> list[dict[str, Any]]:
        return [o for r in split[side] for o in logs[sim].get(r, [])]

    feats = _Features()
    train = [o for s in sims for o in part(s, "train")]
    val_by_c: dict[str, dict[str, float]] = {}
    grid = {(c, d): f"C={c}, direction={d}" for d in (False, True) for c in LR_C}
    with threadpool_limits(1):
        for d in (False, True):
            xy = _rows(feats, train, DIRECTION if d else None)
            for c in LR_C:
                ranker = _fit(xy, c, DIRECTION if d else None, {})
                v = {s: _mrr(_rr(feats, ranker, part(s, "val"))) for s in sims}
                v["mean"] = round(statistics.fmean(v.values()), 4)
                val_by_c[grid[c, d]] = v
                print(f"{grid[c, d]}: validation {v}", file=sys.stderr)
        best_c, best_d = max(grid, key=lambda k: val_by_c[grid[k]]["mean"])
        inter = DIRECTION if best_d else None
        fit_on = [o for s in sims for side in ("train", "val") for o in part(s, side)]
        meta = {
            "by": "tests/bench/rank_pretrain.py",
            "data": "replayed Python commits, " + ", ".join(sorted(split["train"] + split["val"])),
            "developers": sims,
            "C": best_c,
            "direction": best_d,
            "sets": len(fit_on),
            "validation_mrr": val_by_c[grid[best_c, best_d]],
        }
        final = _fit(_rows(feats, fit_on, inter), best_c, inter, meta)
    # what is shipped is what is measured: the test figures come from the file's own round trip
    shipped = from_json(json.loads(json.dumps(final.to_json())))
    test: dict[str, Any] = {}
    for s in sims:
        sets = [o for o in part(s, "test") if o["accepted_index"] is not None]
        rr = {"lr": _rr(feats, shipped, sets), "rules": reciprocal_ranks(RuleRanker(), sets)}
        groups = [(o["repo"], o["commit"]) for o in sets]
        test[s] = {"sets": len(sets), **bootstrap_commits(groups, rr, [("lr", "rules")])}
    meta["test_mrr"] = {s: test[s]["lr"]["mean"] for s in sims}
    trm_report = _pretrain_trm(args, fit_on, sims, part, feats, shipped) if args.trm_out else None
    shipped.meta = meta
    if args.out is not None:
        args.out.write_text(json.dumps(shipped.to_json(), indent=1) + "\n")
    out = {
        "split": split,
        "validation_mrr": val_by_c,
        "C": best_c,
        "direction": best_d,
        "training_sets": len(fit_on),
        "test": test,
        "written": str(args.out) if args.out else None,
        "trm": trm_report,
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(out, indent=1))


def _pretrain_trm(
    args: argparse.Namespace, fit_on: list[dict[str, Any]], sims: list[str], part: Any,
    feats: _Features, lr: LinearRanker,
) -> dict[str, Any]:  # fmt: skip
    """The shipped TRM (trm/ranker_trm.pt): the server's token-view model trained on the same
    sets as the linear ranker (every developer, training and validation repositories), then
    read once on the test repositories beside the shipped linear ranker."""
    from dataclasses import replace

    from trm.checkpoint import load, save
    from trm.train import Trainer, default_config
    from trm.train_config import TrainConfig
    from trm.trm_ranker import TRMRanker

    tc = TrainConfig(seed=0, time_budget_s=args.trm_budget, min_outcomes=1, threads=1)
    tc = replace(tc, max_steps=args.trm_steps, min_steps=min(tc.min_steps, args.trm_steps))
    res = Trainer(config=default_config(tokens=True), train=tc).train(fit_on)
    assert res is not None
    save(res.model, args.trm_out)
    model = load(args.trm_out)  # what is shipped is what is measured
    ranker = TRMRanker(model, fallback=RuleRanker())
    test: dict[str, Any] = {}
    for s in sims:
        sets = [o for o in part(s, "test") if o["accepted_index"] is not None]
        rr = {"trm": reciprocal_ranks(ranker, sets), "lr": _rr(feats, lr, sets)}
        groups = [(o["repo"], o["commit"]) for o in sets]
        test[s] = {"sets": len(sets), **bootstrap_commits(groups, rr, [("trm", "lr")])}
        assert ranker.last_used == "trm"
    return {
        "written": str(args.trm_out), "steps": res.steps, "train_s": round(res.seconds, 1),
        "sets": len(fit_on), "bytes": args.trm_out.stat().st_size, "test": test,
    }  # fmt: skip


if __name__ == "__main__":
    main()
