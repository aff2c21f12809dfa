"""The TRM against the shipped site model for the site gate: which matched sites to offer.

The gate (memory.skills.site_model) is logistic regression on one site's features at a time
(tests/bench/site_train.py fits it). The TRM competes on the same rows and features, but sees
a skill's sites in a case jointly — the set the gate decides over — and outputs one logit per
site (the outcome objective: binary cross-entropy per site, deep supervision, its recursion).
Both pick the lowest threshold at which the training rows reach --precision; the validation
rows (other repositories) then give each one's precision and the share of right sites kept.
The TRM is also trained with its recursion off (n = T = N_sup = 1).

    .venv/bin/python tests/bench/site_gate_trm.py --train TRAIN_ROWS.jsonl [...] \
        --validate VALID_ROWS.jsonl [...] [--precision 0.85] [--budget 60] [--seeds 3]

Rows come from tests/bench/sites.py (see docs/skills.md); prints JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.site_train import RIGHT, figures, fit, load, probabilities, threshold_for  # noqa: E402

MAX_SET = 64  # a skill's sites in one case, per set (bigger ones are cut into several)


def sets_of(rows: list[dict[str, Any]]) -> list[list[int]]:
    """Row indices grouped by case and skill, in file order, cut at MAX_SET."""
    groups: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        groups[(r["corpus"], r["id"], str(r.get("skill")))].append(i)
    out = []
    for idx in groups.values():
        out += [idx[k : k + MAX_SET] for k in range(0, len(idx), MAX_SET)]
    return out


class Scaler:
    def __init__(self, x: np.ndarray) -> None:
        self.mu, sd = x.mean(axis=0), x.std(axis=0)
        self.sd = np.where(sd < 1e-6, 1.0, sd)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mu) / self.sd).astype(np.float32)


def _batch(x: np.ndarray, y: np.ndarray, sets: list[list[int]]) -> tuple[Any, ...]:
    import torch

    K = max(len(s) for s in sets)
    cand = np.zeros((len(sets), K, x.shape[1]), dtype=np.float32)
    lab = np.zeros((len(sets), K), dtype=np.float32)
    mask = np.zeros((len(sets), K), dtype=bool)
    for b, s in enumerate(sets):
        cand[b, : len(s)], lab[b, : len(s)], mask[b, : len(s)] = x[s], y[s], True
    ctx = torch.zeros(len(sets), 1)
    return ctx, torch.from_numpy(cand), torch.from_numpy(mask), torch.from_numpy(lab)


def train_trm(
    x: np.ndarray, y: np.ndarray, sets: list[list[int]], seed: int, budget_s: float,
    recursion: bool = True, steps: int = 1500, lr: float = 3e-3,
) -> tuple[Any, int]:  # fmt: skip
    """A TRM (trm.model, the ranker's shape) trained with per-site BCE on each deep-supervision
    step; rare right sites weigh as much as the others in all, as in site_train.fit."""
    import torch
    import torch.nn.functional as F

    from trm.layers import EMA
    from trm.model import TRM, TRMConfig

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    cfg = TRMConfig(context_dim=1, candidate_dim=x.shape[1], max_candidates=MAX_SET, N_sup=2)
    if not recursion:
        cfg = TRMConfig(context_dim=1, candidate_dim=x.shape[1], max_candidates=MAX_SET,
                        n=1, T=1, N_sup=1, N_sup_infer=1)  # fmt: skip
    model = TRM(cfg)
    opt = model.configure_optimizer(lr=lr, weight_decay=0.05)
    ema = EMA(model, decay=0.99)
    pos = max(1.0, float(y.sum()))
    w_pos, w_neg = len(y) / (2 * pos), len(y) / (2 * max(1.0, len(y) - pos))
    deadline = time.perf_counter() + budget_s
    model.train()
    step = 0
    while step < steps and time.perf_counter() < deadline:
        pick = rng.choice(len(sets), size=min(32, len(sets)), replace=False)
        ctx, cand, mask, lab = _batch(x, y, [sets[i] for i in pick])
        xx, token_mask = model._embed(ctx, cand, mask)
        yy, zz = model.y_init.expand_as(xx), model.z_init.expand_as(xx)
        loss = xx.new_zeros(())
        weight = (lab * w_pos + (1 - lab) * w_neg) * mask.float()
        for _ in range(cfg.N_sup):
            yy, zz, scores, _q = model.step(xx, yy, zz, token_mask, mask)
            bce = F.binary_cross_entropy_with_logits(
                scores.masked_fill(~mask, 0.0), lab, reduction="none"
            )
            loss = loss + (bce * weight).sum() / weight.sum() / cfg.N_sup
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        ema.update(model)
        step += 1
    ema.copy_to(model)
    model.eval()
    return model, step


def trm_probabilities(model: Any, x: np.ndarray, sets: list[list[int]]) -> np.ndarray:
    import torch

    p = np.zeros(len(x))
    with torch.inference_mode():
        for k in range(0, len(sets), 256):
            chunk = sets[k : k + 256]
            ctx, cand, mask, _ = _batch(x, np.zeros(len(x)), chunk)
            scores = model(ctx, cand, mask)[0]
            probs = torch.sigmoid(scores).numpy()
            for b, s in enumerate(chunk):
                p[s] = probs[b, : len(s)]
    return p


def spread(p: np.ndarray, sets: list[list[int]]) -> float:
    """The mean range of the probabilities within a set of more than one site: how much a
    model tells apart the sites of one skill in one case (a skill-level model: 0)."""
    ranges = [float(np.ptp(p[s])) for s in sets if len(s) > 1]
    return round(float(np.mean(ranges)), 4) if ranges else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=Path, nargs="+", required=True)
    ap.add_argument("--validate", type=Path, nargs="*", default=[])
    ap.add_argument("--precision", type=float, default=0.85)
    ap.add_argument("--budget", type=float, default=60.0, help="TRM training budget, seconds")
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    x, y, rows = load(args.train)
    scale = Scaler(x[:, 1:])  # the bias column is the LR's, not a feature
    sets = sets_of(rows)
    w = fit(x, y)
    p_lr = probabilities(w, x)
    t_lr = threshold_for(p_lr, y, args.precision)
    report: dict[str, Any] = {
        "precision_target": args.precision,
        "train_rows": len(rows),
        "train_sets": len(sets),
        "right_share_train": round(float(y.mean()), 3),
        "site_model": {"threshold": round(t_lr, 4), "within_set_spread": spread(p_lr, sets)},
    }
    vals = [(path, *load([path])) for path in args.validate]
    variants: dict[str, dict[str, Any]] = {}
    for name, recursion in (("trm", True), ("trm_no_recursion", False)):
        per_seed = []
        for seed in range(args.seeds):
            t0 = time.perf_counter()
            model, steps = train_trm(scale(x[:, 1:]), y, sets, seed, args.budget, recursion)
            p = trm_probabilities(model, scale(x[:, 1:]), sets)
            t = threshold_for(p, y, args.precision)
            seed_report: dict[str, Any] = {
                "steps": steps,
                "train_s": round(time.perf_counter() - t0, 1),
                "threshold": round(t, 4),
                "within_set_spread": spread(p, sets),
            }
            for path, vx, _vy, vrows in vals:
                vp = trm_probabilities(model, scale(vx[:, 1:]), sets_of(vrows))
                seed_report[f"validate:{path.name}"] = figures(vrows, vp >= t)
            per_seed.append(seed_report)
        variants[name] = {"per_seed": per_seed}
    for path, vx, _vy, vrows in vals:
        key = f"validate:{path.name}"
        report["site_model"][key] = figures(vrows, probabilities(w, vx) >= t_lr)
        for v in variants.values():
            # the seeds' mean of each corpus's precision and right-kept share
            mean: dict[str, Any] = {}
            for corpus in v["per_seed"][0][key]:
                got = [s[key][corpus] for s in v["per_seed"]]
                mean[corpus] = {
                    m: round(statistics.fmean(g[m] for g in got if g[m] is not None), 3)
                    if any(g[m] is not None for g in got) else None
                    for m in ("precision_model", "right_kept_share")
                }  # fmt: skip
            v.setdefault("mean", {})[key] = mean
    report.update(variants)
    report["right_labels"] = sorted(RIGHT)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
