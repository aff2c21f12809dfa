"""The quality part of tests/bench/rank.py: every ranker under every simulated developer, on
test repositories that no choice was made on.

Repositories are split three ways (tests.bench.rank_eval.split_repos): the rankers train on the
training repositories' outcomes, the validation repositories choose the hyperparameters
(logistic regression's C, the boosted trees' learning rate and leaves), the test repositories
are read once per reported figure. Each simulated developer (rank_eval.SIMULATORS) replays the
same cases in its own order (tests/bench/rank_data.py) and trains its own models, as the server
trains on its own developer's outcomes; `transfer_from_top_down` scores the models trained on
the top-down developer under the others, which shows how much a model learned the simulator.
Figures are MRR and top-1 over test sets with an accepted suggestion, with 95% intervals from
resampling the test commits (rank_eval.bootstrap_commits).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.bench import rank_trm  # noqa: E402
from tests.bench.rank_data import (  # noqa: E402
    DATA,
    DEV_SPLIT,
    load_cases,
    outcome_logs,
    reciprocal_ranks,
)
from tests.bench.rank_eval import (  # noqa: E402
    SIMULATORS,
    ModelRanker,
    PositionHeuristic,
    bootstrap_commits,
    rows,
    split_repos,
)
from tests.bench.rank_trm import VARIANTS  # noqa: E402

LR_C = (0.01, 0.1, 1.0, 10.0)
GBT_GRID = (
    {"learning_rate": 0.1, "max_leaf_nodes": 15},
    {"learning_rate": 0.05, "max_leaf_nodes": 31},
)
CURVE_SIZES = (50, 100, 200, 500, 1000, 2000, 5000)
TRAIN_CAP = 16  # candidates per training set, as trm.train_config.TrainConfig.max_candidates


Cases = dict[str, list[dict[str, Any]]]


def _cases(args: argparse.Namespace) -> tuple[Cases, dict[str, list[str]]]:
    """The cases by repository and the split by repository, from the paths given."""
    sub = {"every": args.every, "max_per_repo": args.max_cases, "max_edits": args.max_edits}
    train_data, test_data = args.train_data, args.test_data
    if args.corpus is not None:
        train_data = train_data or args.corpus / "py" / "commits_py_train.jsonl"
        test_data = test_data or args.corpus / "py" / "commits_py_val.jsonl"
    if train_data is not None and test_data is not None:
        # validation repositories come out of the training file; the test file is all test
        train, test = load_cases(train_data, **sub), load_cases(test_data, **sub)
        if overlap := set(train) & set(test):
            raise SystemExit(f"repositories in both the training and test data: {sorted(overlap)}")
        inner = split_repos(list(train), (0.75, 0.25, 0.0), seed=args.split_seed)
        return train | test, {"train": inner["train"], "val": inner["val"], "test": sorted(test)}
    data = train_data or test_data or args.data
    cases = load_cases(data, **sub)
    if data == DATA:
        return cases, {k: [r for r in v if r in cases] for k, v in DEV_SPLIT.items()}
    return cases, split_repos(list(cases), seed=args.split_seed)


def _sizes(outcomes: list[dict[str, Any]], repos: list[str]) -> dict[str, Any]:
    return {
        "repositories": len(repos),
        "commits": len({(o["repo"], o["commit"]) for o in outcomes}),
        "sets": len(outcomes),
        "sets_with_accepted": sum(o["accepted_index"] is not None for o in outcomes),
        "candidates_mean": round(statistics.fmean(len(o["candidates"]) for o in outcomes), 1)
        if outcomes
        else 0,
    }


class _Features:
    """trm.features for each set, computed once per run (the baselines read them many times)."""

    def __init__(self) -> None:
        self.cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def of(self, o: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        from trm.features import featurize

        key = id(o)
        if key not in self.cache:
            self.cache[key] = featurize(o["context"], o["candidates"])
        return self.cache[key]

    def training_rows(self, outcomes: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        """One row per candidate, each set cut to TRAIN_CAP as the TRM trains (the accepted one
        kept, the best others by rule score); sets nobody took from give negatives only."""
        from trm.features import preselect

        xs, ys = [], []
        for o in outcomes:
            ctx, feats = self.of(o)
            acc = o["accepted_index"]
            keep = preselect(feats, TRAIN_CAP, keep=-1 if acc is None else acc)
            xs.append(rows(ctx, feats[keep]))
            ys.append((keep == acc).astype(np.int64) if acc is not None else np.zeros(len(keep)))
        return np.vstack(xs), np.concatenate(ys).astype(np.int64)

    def rr(self, ranker: ModelRanker, outcomes: list[dict[str, Any]]) -> list[float]:
        from tests.bench.rank_eval import rank_of

        out = []
        for o in outcomes:
            if (acc := o["accepted_index"]) is not None:
                scores = ranker.score_features(*self.of(o))
                out.append(1.0 / rank_of(scores, o["candidates"], acc))
        return out


def _fit_lr(x: np.ndarray, y: np.ndarray, c: float) -> ModelRanker:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
    model.fit(x, y)
    return ModelRanker("logistic", lambda r: model.decision_function(r))


def _fit_gbt(x: np.ndarray, y: np.ndarray, params: dict[str, Any]) -> ModelRanker:
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(
        max_iter=150, early_stopping=False, random_state=0, **params
    )
    model.fit(x, y)
    return ModelRanker("gbt", lambda r: model.predict_proba(r)[:, 1])


def _choose(fit: Any, grid: Any, x: np.ndarray, y: np.ndarray, val: list[dict[str, Any]],
            feats: _Features) -> tuple[ModelRanker, Any, dict[str, float]]:  # fmt: skip
    """Fit each setting on the training rows; keep the best by MRR on the validation sets."""
    scores, best = {}, None
    for setting in grid:
        ranker = fit(x, y, setting)
        rr = feats.rr(ranker, val)
        mrr = statistics.fmean(rr) if rr else 0.0
        scores[str(setting)] = round(mrr, 4)
        if best is None or mrr > best[2]:
            best = (ranker, setting, mrr)
    assert best is not None
    return best[0], best[1], scores


def _figures(
    groups: list[Any], rr: dict[str, list[float]], seed: int,
    diffs: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """MRR and top-1 per ranker with bootstrap intervals over commits, and each difference
    a - b in `diffs` (default: each TRM variant minus logistic regression) as a_minus_b."""
    top1 = {k: [float(v == 1.0) for v in vals] for k, vals in rr.items()}
    if diffs is None:
        diffs = [(v, "logistic") for v in VARIANTS if v in rr and "logistic" in rr]
    m = bootstrap_commits(groups, rr, diffs, seed=seed)
    t = bootstrap_commits(groups, top1, diffs, seed=seed)
    out: dict[str, Any] = {k: {"mrr": m[k], "top1": t[k]} for k in rr}
    for a, b in diffs:
        out[f"{a}_minus_{b}"] = {"mrr": m[f"{a}-{b}"], "top1": t[f"{a}-{b}"]}
    return out


def quality(args: argparse.Namespace) -> dict[str, Any]:
    from threadpoolctl import threadpool_limits

    from trm.ranker import RuleRanker

    t_start = time.perf_counter()
    cases, split = _cases(args)
    sims = list(SIMULATORS) if args.simulators == "all" else args.simulators.split(",")
    seeds = [args.seed + i for i in range(max(1, args.seeds))]
    variants = [v for v in args.trm_variants.split(",") if v]
    if unknown := set(variants) - set(VARIANTS):
        raise SystemExit(f"unknown TRM variants {sorted(unknown)}; known: {', '.join(VARIANTS)}")
    result: dict[str, Any] = {
        "data": {
            "train": str(args.train_data or args.corpus or args.data),
            "test": str(args.test_data or args.corpus or args.data),
        },
        "subsample": {
            "every": args.every,
            "max_cases_per_repo": args.max_cases,
            "max_edits": args.max_edits,
        },
        "split": split,
        "seeds": seeds,
        "trm_variants": variants,
        "bootstrap": "95% percentile intervals, 2000 resamples of the test commits",
        "simulators": {},
    }
    top_down: dict[str, Any] = {}
    for sim in sims:
        t_sim = time.perf_counter()
        logs = outcome_logs(cases, sim, args.no_cache)
        part = {k: [o for r in repos for o in logs.get(r, [])] for k, repos in split.items()}
        test = [o for o in part["test"] if o["accepted_index"] is not None]
        feats = _Features()
        rr: dict[str, list[float]] = {
            "rules": reciprocal_ranks(RuleRanker(), test),
            "heuristic": reciprocal_ranks(PositionHeuristic(), test),
        }
        x, y = feats.training_rows(part["train"])
        with threadpool_limits(1):
            lr, c, lr_val = _choose(_fit_lr, LR_C, x, y, part["val"], feats)
            gbt, g, gbt_val = _choose(_fit_gbt, GBT_GRID, x, y, part["val"], feats)
        rr["logistic"] = feats.rr(lr, test)
        rr["gbt"] = feats.rr(gbt, test)
        models: dict[str, list[Any]] = {}
        trained: dict[str, Any] = {}
        for variant in variants:
            t_trm = time.perf_counter()
            models[variant] = [rank_trm.train(part["train"], s, args.budget, variant)
                               for s in seeds]  # fmt: skip
            per_seed = rank_trm.rr(models[variant], test)
            rr[variant] = rank_trm.seed_mean(per_seed)
            trained[variant] = {
                "mrr_per_seed": [round(statistics.fmean(v), 4) for v in per_seed],
                "top1_per_seed": [
                    round(statistics.fmean(float(r == 1.0) for r in v), 4) for v in per_seed
                ],
                "train_s_mean": round((time.perf_counter() - t_trm) / len(seeds), 1),
                "steps": models[variant][0].steps,
            }
        groups = [(o["repo"], o["commit"]) for o in test]
        block: dict[str, Any] = {
            "sizes": {k: _sizes(part[k], split[k]) for k in ("train", "val", "test")},
            **_figures(groups, rr, args.seed),
            "trm_trainings": trained,
            "validation": {
                "logistic_C": c,
                "logistic_mrr_by_C": lr_val,
                "gbt": g,
                "gbt_mrr_by_setting": gbt_val,
            },
        }

        def figures(g: Any, series: Any, diffs: Any) -> dict[str, Any]:
            return _figures(g, series, args.seed, diffs)

        if "trm_tokens" in models and sim in args.ablation_simulators.split(","):
            block["ablations"] = rank_trm.ablations(
                part["train"], test, seeds, args.budget, rr["trm_tokens"], figures
            )
        if "trm_tokens" in models and sim in args.own_simulators.split(","):

            def lr_fit(
                own: list[dict[str, Any]], pretrained: bool = False,
                feats: _Features = feats, x: np.ndarray = x, y: np.ndarray = y, c: float = c,
            ) -> ModelRanker:  # fmt: skip
                ox, oy = feats.training_rows(own)
                if pretrained:
                    ox, oy = np.vstack([x, ox]), np.concatenate([y, oy])
                with threadpool_limits(1):
                    return _fit_lr(ox, oy, c)

            block["own_outcomes"] = rank_trm.own_outcomes(
                part["test"], models["trm_tokens"], lr_fit, lr, feats, seeds, args.budget,
                figures, val_all=part["val"],
            )  # fmt: skip
        if sim == "top_down":
            top_down = {"logistic": lr, "models": models, "x": x, "y": y, "c": c,
                        "train": part["train"], "test": test, "feats": feats}  # fmt: skip
        elif top_down:
            moved = {"logistic": feats.rr(top_down["logistic"], test)}
            for variant in variants:
                moved[variant] = rank_trm.seed_mean(rank_trm.rr(top_down["models"][variant], test))
            block["transfer_from_top_down"] = _figures(groups, moved, args.seed)
        block["wall_s"] = round(time.perf_counter() - t_sim, 1)
        result["simulators"][sim] = block
        print(f"{sim}: " + ", ".join(f"{k} {block[k]['mrr']['mean']}" for k in rr),
              file=sys.stderr)  # fmt: skip
    if args.curve is not None and top_down:
        result["learning_curve"] = _curve(top_down, args, seeds[: max(1, args.curve_seeds)])
        rules_mrr = result["simulators"]["top_down"]["rules"]["mrr"]["mean"]
        if _plot(result["learning_curve"], rules_mrr, args.curve):
            result["learning_curve_png"] = str(args.curve)
    result["wall_s"] = round(time.perf_counter() - t_start, 1)
    return result


def _curve(td: dict[str, Any], args: argparse.Namespace, seeds: list[int]) -> list[dict[str, Any]]:
    """MRR on the top-down test sets against the number of training outcomes (a seeded random
    subset of the training sets), for logistic regression (C as chosen on validation) and the
    TRM; the largest point is the full training set, whose models are the ones reported."""
    from threadpoolctl import threadpool_limits

    train, test, feats = td["train"], td["test"], td["feats"]
    order = np.random.default_rng(args.seed).permutation(len(train))
    sizes = [n for n in CURVE_SIZES if n < len(train)] + [len(train)]
    points = []
    for n in sizes:
        sub = [train[i] for i in order[:n]]
        if n == len(train):
            lr = td["logistic"]
        else:
            rx, ry = feats.training_rows(sub)
            with threadpool_limits(1):
                lr = _fit_lr(rx, ry, td["c"])
        point: dict[str, Any] = {
            "outcomes": n, "logistic_mrr": round(statistics.fmean(feats.rr(lr, test)), 4)
        }  # fmt: skip
        for variant, trained in td["models"].items():
            if n == len(train):
                models = trained[: len(seeds)]
            else:
                models = [rank_trm.train(sub, s, args.budget, variant) for s in seeds]
            per = [round(statistics.fmean(v), 4) for v in rank_trm.rr(models, test)]
            point[f"{variant}_mrr"] = round(statistics.fmean(per), 4)
            point[f"{variant}_mrr_per_seed"] = per
        points.append(point)
        print(f"curve {point}", file=sys.stderr)
    return points


def _plot(curve: list[dict[str, Any]], rules_mrr: float, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no learning-curve image", file=sys.stderr)
        return False
    xs = [p["outcomes"] for p in curve]
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=120)
    ax.plot(xs, [p["logistic_mrr"] for p in curve], "s-", color="C1", label="logistic regression")
    names = {"trm": "TRM, hand features", "trm_tokens": "TRM, hand features + token views"}
    for color, variant in (("C0", "trm"), ("C2", "trm_tokens")):
        if f"{variant}_mrr" not in curve[0]:
            continue
        seeds = len(curve[0][f"{variant}_mrr_per_seed"])
        label = f"{names[variant]} ({f'mean of {seeds} seeds' if seeds > 1 else 'one seed'})"
        ax.plot(xs, [p[f"{variant}_mrr"] for p in curve], "o-", color=color, label=label)
        for p in curve:
            per = p[f"{variant}_mrr_per_seed"]
            ax.plot([p["outcomes"]] * len(per), per, ".", color=color, alpha=0.35)
    ax.axhline(rules_mrr, color="gray", linestyle="--", label="rule ranker")
    ax.set_xscale("log")
    ax.set_xlabel("training outcomes (shown sets, training repositories)")
    ax.set_ylabel("MRR, test repositories")
    ax.set_title("Ranker learning curves (edit replay, top-down developer)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    q = parser.add_argument_group("quality (--quality)")
    q.add_argument("--data", type=Path, default=DATA, help="one replay file, split by repository")
    q.add_argument("--train-data", type=Path, help="replay file for training and validation")
    q.add_argument("--test-data", type=Path, help="replay file of the test repositories")
    q.add_argument("--corpus", type=Path, help="a corpus dir: py/commits_py_{train,val}.jsonl")
    q.add_argument("--every", type=int, default=1, help="every N-th case of each repository")
    q.add_argument("--max-cases", type=int, default=0, help="cases per repository (0: all)")
    q.add_argument("--max-edits", type=int, default=0, help="skip cases with more edits (0: no)")
    q.add_argument("--simulators", default="all", help=f"comma list of {','.join(SIMULATORS)}")
    q.add_argument("--split-seed", type=int, default=0)
    q.add_argument("--budget", type=float, default=60.0, help="TRM training budget, seconds")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--seeds", type=int, default=3, help="TRM trainings, averaged")
    q.add_argument("--no-cache", action="store_true", help="replay again, ignore the cache")
    q.add_argument("--curve", type=Path, help="draw the learning curves into this PNG")
    q.add_argument("--curve-seeds", type=int, default=1, help="TRM trainings per curve point")
    q.add_argument("--trm-variants", default=",".join(VARIANTS),
                   help=f"comma list of {','.join(VARIANTS)}")  # fmt: skip
    q.add_argument(
        "--ablation-simulators",
        default="top_down",
        help="developers under which trm_tokens' ablations run ('' for none)",
    )
    q.add_argument(
        "--own-simulators",
        default="top_down",
        help="developers under which pretrain + fine-tune runs ('' for none)",
    )
