"""The TRM's side of tests/bench/rank_quality.py: its variants, their ablations, and a model
pretrained on the corpus then fine-tuned on one developer's own outcomes.

Variants: `trm` reads the 64 hand features only (the model that shipped before token views);
`trm_tokens` also reads the token views of trm.tokens — each candidate's rewrite and skill, and
the session's last edits as tokens of their own — jointly over the candidate set. Ablations of
`trm_tokens` take out the recursion (n = T = N_sup = 1: one pass of the network) or one
objective at a time (trm.train_config's weights), or keep the contrastive objective alone.

Own outcomes: each test repository is one developer. The first half of its sets (in replay
order) is the developer's own history, the second half is scored. A model pretrained on the
training repositories (the shipped start), that model fine-tuned on the history, a model trained
on the history alone, and logistic regression the same three ways are compared on the second
halves, with the same bootstrap over commits.
"""

from __future__ import annotations

import statistics
from dataclasses import replace
from typing import Any

VARIANTS = ("trm", "trm_tokens")
ABLATIONS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # name: (TRMConfig changes, TrainConfig changes), both applied to trm_tokens
    "no_recursion": ({"n": 1, "T": 1, "N_sup": 1, "N_sup_infer": 1}, {}),
    "contrastive_only": (
        {},
        {"next_action_weight": 0.0, "outcome_weight": 0.0, "masked_action_weight": 0.0},
    ),
    "no_contrastive": ({}, {"contrastive_weight": 0.0}),
    "no_next_action": ({}, {"next_action_weight": 0.0}),
    "no_outcome": ({}, {"outcome_weight": 0.0}),
    "no_masked_action": ({}, {"masked_action_weight": 0.0}),
}
FINE_TUNE_BUDGET_S = 15.0  # the steps are TrainConfig's fine_tune_min_steps..max_steps
FINE_TUNE_LRS = (3e-4, 1e-3, 3e-3)  # the grid for TrainConfig.fine_tune_lr, on validation


def train(
    outcomes: list[dict[str, Any]], seed: int, budget_s: float, variant: str = "trm",
    ablation: str | None = None, init: Any = None, fine_tune_lr: float | None = None,
) -> Any:  # fmt: skip
    """A TRM trained as the server trains (trm.train.Trainer and its defaults), in a variant."""
    from trm.train import Trainer, default_config
    from trm.train_config import TrainConfig

    config = default_config(tokens=variant == "trm_tokens")
    # min_outcomes lowered for the curve's first points and one developer's history
    tc = TrainConfig(seed=seed, time_budget_s=budget_s, min_outcomes=1)
    if fine_tune_lr is not None:
        tc = replace(tc, fine_tune_lr=fine_tune_lr)
    if ablation is not None:
        model_changes, train_changes = ABLATIONS[ablation]
        config, tc = replace(config, **model_changes), replace(tc, **train_changes)
    res = Trainer(config=None if init is not None else config, train=tc, init=init).train(outcomes)
    assert res is not None, "the TRM did not train"
    return res


def rr(models: list[Any], outcomes: list[dict[str, Any]]) -> list[list[float]]:
    """Per model, the reciprocal ranks of the sets (as the server ranks: trm.trm_ranker)."""
    from tests.bench.rank_data import reciprocal_ranks
    from trm.ranker import RuleRanker
    from trm.trm_ranker import TRMRanker

    out = []
    for res in models:
        ranker = TRMRanker(res.model, fallback=RuleRanker())
        out.append(reciprocal_ranks(ranker, outcomes))
        assert ranker.last_used == "trm", "the TRM fell back to rules during evaluation"
    return out


def seed_mean(per_seed: list[list[float]]) -> list[float]:
    """Per set, the mean over the seeds' models (the figure is that of an average seed)."""
    return [statistics.fmean(v) for v in zip(*per_seed, strict=True)]


def ablations(
    train_sets: list[dict[str, Any]], test: list[dict[str, Any]], seeds: list[int],
    budget_s: float, full: list[float], figures: Any,
) -> dict[str, Any]:  # fmt: skip
    """Each ablation of trm_tokens (seed-averaged), against the full model (`full`, its
    reciprocal ranks), with intervals over commits."""
    series: dict[str, list[float]] = {"trm_tokens": full}
    steps: dict[str, int] = {}
    for name in ABLATIONS:
        models = [train(train_sets, s, budget_s, "trm_tokens", name) for s in seeds]
        series[name] = seed_mean(rr(models, test))
        steps[name] = models[0].steps
    groups = [(o["repo"], o["commit"]) for o in test]
    out = figures(groups, series, [(name, "trm_tokens") for name in ABLATIONS])
    out["steps"] = steps
    return out


def _halves(sets: list[dict[str, Any]]) -> list[tuple[str, list[Any], list[Any]]]:
    """Per repository: its history (the first half of its sets, in replay order) and the later
    sets with an accepted suggestion; repositories with nothing accepted on a side are left."""
    by_repo: dict[str, list[dict[str, Any]]] = {}
    for o in sets:
        by_repo.setdefault(o["repo"], []).append(o)
    out = []
    for repo, group in sorted(by_repo.items()):
        half = len(group) // 2
        own, later = group[:half], [o for o in group[half:] if o["accepted_index"] is not None]
        if later and any(o["accepted_index"] is not None for o in own):
            out.append((repo, own, later))
    return out


def choose_fine_tune_lr(
    val_all: list[dict[str, Any]], pretrained: list[Any], seeds: list[int]
) -> tuple[float, dict[str, float]]:
    """The fine-tuning learning rate, chosen on the validation repositories' halves (mean MRR
    of the later sets), never on the test repositories."""
    scores: dict[str, float] = {}
    for lr in FINE_TUNE_LRS:
        rr_all: list[float] = []
        for _repo, own, later in _halves(val_all):
            tuned = [train(own, s, FINE_TUNE_BUDGET_S, init=m.model, fine_tune_lr=lr)
                     for s, m in zip(seeds, pretrained, strict=False)]  # fmt: skip
            rr_all += seed_mean(rr(tuned, later))
        scores[str(lr)] = round(statistics.fmean(rr_all), 4) if rr_all else 0.0
    best = max(FINE_TUNE_LRS, key=lambda lr: scores[str(lr)])
    return best, scores


def own_outcomes(
    test_all: list[dict[str, Any]], pretrained: list[Any], lr_fit: Any, lr_pretrained: Any,
    feats: Any, seeds: list[int], budget_s: float, figures: Any,
    val_all: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Pretrained, fine-tuned and own-only models per test repository (one developer each):
    trained on the first half of its sets, scored on the second half. The fine-tuning learning
    rate is chosen on the validation repositories' halves (`val_all`) when given."""
    fine_lr, by_lr = choose_fine_tune_lr(val_all, pretrained, seeds) if val_all else (None, {})
    series: dict[str, list[float]] = {k: [] for k in (
        "logistic_pretrained", "logistic_own", "logistic_pretrained_and_own",
        "trm_tokens_pretrained", "trm_tokens_fine_tuned", "trm_tokens_own")}  # fmt: skip
    groups: list[Any] = []
    history: dict[str, int] = {}
    skipped: dict[str, str] = {}
    for repo, own, later in _halves(test_all):
        try:
            lr_own, lr_both = lr_fit(own), lr_fit(own, pretrained=True)
        except ValueError as e:  # e.g. a history whose sets all have one candidate
            skipped[repo] = str(e)[:120]
            continue
        history[repo] = len(own)
        groups += [(o["repo"], o["commit"]) for o in later]
        series["logistic_pretrained"] += feats.rr(lr_pretrained, later)
        series["logistic_own"] += feats.rr(lr_own, later)
        series["logistic_pretrained_and_own"] += feats.rr(lr_both, later)
        series["trm_tokens_pretrained"] += seed_mean(rr(pretrained, later))
        tuned = [
            train(own, s, FINE_TUNE_BUDGET_S, init=m.model, fine_tune_lr=fine_lr)
            for s, m in zip(seeds, pretrained, strict=False)
        ]
        series["trm_tokens_fine_tuned"] += seed_mean(rr(tuned, later))
        scratch = [train(own, s, FINE_TUNE_BUDGET_S, "trm_tokens") for s in seeds]
        series["trm_tokens_own"] += seed_mean(rr(scratch, later))
    diffs = [
        ("trm_tokens_fine_tuned", "trm_tokens_pretrained"),
        ("trm_tokens_fine_tuned", "logistic_pretrained"),
        ("trm_tokens_fine_tuned", "logistic_pretrained_and_own"),
    ]
    out = figures(groups, series, diffs)
    out["history_sets"] = history
    out["fine_tune_lr"] = {"chosen": fine_lr, "validation_mrr_by_lr": by_lr}
    out["skipped"] = skipped
    return out
